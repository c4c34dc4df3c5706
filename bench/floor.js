const key = new URLSearchParams(location.hash.slice(1)).get("key");
fetch("/api/v1/agents?limit=50", { headers: { "X-API-Key": key } })
  .then((r) => r.json())
  .then((page) => {
    const body = document.getElementById("rows");
    for (const a of page.agents) {
      const tr = document.createElement("tr");
      tr.setAttribute("data-testid", "agent-row");
      for (const text of [
        a.name + " v" + a.version, a.sekuire_id.slice(0, 12), a.runtime_status,
        a.health + " " + (a.last_heartbeat_at || "never"), a.verification_status,
        String(a.reputation_score), a.pending_command || "",
      ]) {
        const td = document.createElement("td");
        td.textContent = text;
        tr.appendChild(td);
      }
      body.appendChild(tr);
    }
  });
