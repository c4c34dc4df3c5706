//! Browser figures in headless Chromium against the registry at full size: first fleet
//! render beside a hand-written floor page, search as you type, and the page under live
//! load. The pages measure themselves with a small probe script that the benchmark adds
//! to its own copy of `dist/` (the shipped build stays untouched).

use crate::stats::{load_paced, ms, Summary};
use anyhow::{Context, Result};
use fleet_e2e::{Browser, Driver, Registry};
use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;
use tempfile::TempDir;

/// Records when 50 rows are in the table (`__rowsAt`, ms since navigation), long tasks,
/// and the wasm memory once the app starts. Served as `/probe.js`: the registry's
/// Content-Security-Policy allows no inline script.
const PROBE: &str = r#"
window.__rowsAt = null; window.__longTasks = []; window.__wasm = null;
new MutationObserver(function () {
  if (window.__rowsAt === null && document.querySelectorAll('tr[data-testid=agent-row]').length >= 50) {
    window.__rowsAt = performance.now();
  }
}).observe(document, { childList: true, subtree: true });
try {
  new PerformanceObserver(function (list) {
    for (const e of list.getEntries()) window.__longTasks.push(e.duration);
  }).observe({ type: 'longtask', buffered: true });
} catch (e) {}
addEventListener('TrunkApplicationStarted', function (e) { window.__wasm = e.detail.wasm; });
"#;
const PROBE_TAG: &str = r#"<script src="/probe.js"></script>"#;

/// A copy of `dist/` with the probe in `index.html` and the floor page beside it.
pub fn instrumented_dist() -> Result<TempDir> {
    let dist = fleet_e2e::dist_dir()?;
    let copy = tempfile::tempdir()?;
    for entry in std::fs::read_dir(&dist)? {
        let path = entry?.path();
        if path.is_file() {
            std::fs::copy(&path, copy.path().join(path.file_name().context("name")?))?;
        }
    }
    // Drop precompressed twins so the edited HTML is what gets served.
    for twin in ["index.html.gz", "index.html.br"] {
        let _ = std::fs::remove_file(copy.path().join(twin));
    }
    // Before the app's module script. The release HTML is minified, so it has no `<head>`
    // tag to anchor on.
    let index = std::fs::read_to_string(dist.join("index.html"))?;
    let app_script = index
        .find("<script")
        .context("dist/index.html has no script tag")?;
    std::fs::write(
        copy.path().join("index.html"),
        format!(
            "{}{PROBE_TAG}{}",
            &index[..app_script],
            &index[app_script..]
        ),
    )?;
    std::fs::write(copy.path().join("probe.js"), PROBE)?;
    let bench = Path::new(env!("CARGO_MANIFEST_DIR"));
    let floor = std::fs::read_to_string(bench.join("floor.html"))?;
    std::fs::write(
        copy.path().join("floor.html"),
        floor.replacen("<head>", &format!("<head>{PROBE_TAG}"), 1),
    )?;
    for file in ["floor.js", "floor.css"] {
        std::fs::copy(bench.join(file), copy.path().join(file))?;
    }
    Ok(copy)
}

async fn rows_visible_at(browser: &Browser) -> Result<f64> {
    for _ in 0..200 {
        let at = browser
            .client
            .execute("return window.__rowsAt", vec![])
            .await?;
        if let Some(ms) = at.as_f64() {
            return Ok(ms);
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let shown = browser
        .client
        .execute(
            "return location.href + ' | ' + document.body.innerText",
            vec![],
        )
        .await?;
    anyhow::bail!("50 rows never appeared; the page shows: {shown}")
}

/// Types `query` into the search box and returns ms until the table shows the answer.
const SEARCH_PROBE: &str = r#"
const q = arguments[0];
const input = document.getElementById('fleet-search');
const state = () => (document.querySelector('[data-testid=page-info]') || {}).textContent + '|' +
  ((document.querySelector('tr[data-testid=agent-row]') || { dataset: {} }).dataset.id || 'none');
const before = state();
return new Promise((resolve) => {
  const t0 = performance.now();
  const obs = new MutationObserver(() => {
    if (state() !== before) { obs.disconnect(); resolve(performance.now() - t0); }
  });
  obs.observe(document.querySelector('main'), { childList: true, subtree: true, characterData: true });
  input.value = q;
  input.dispatchEvent(new Event('input', { bubbles: true }));
  setTimeout(() => { obs.disconnect(); resolve(-1); }, 5000);
});
"#;

fn ms_f(v: f64) -> Duration {
    Duration::from_secs_f64(v.max(0.0) / 1_000.0)
}

/// Navigation → 50 rows, dashboard and floor alternating, 10 runs each: the dashboard's
/// and the floor's summaries, and the dashboard's first (cold-cache) time.
pub async fn first_render(browser: &Browser, key: &str) -> Result<(Summary, Summary, Duration)> {
    println!("browser: first render…");
    let (mut app, mut floor) = (Vec::new(), Vec::new());
    for _ in 0..10 {
        browser.goto("/agents").await?;
        app.push(ms_f(rows_visible_at(browser).await?));
        browser.goto(&format!("/floor.html#key={key}")).await?;
        floor.push(ms_f(rows_visible_at(browser).await?));
    }
    let cold_app = app[0];
    Ok((Summary::of(app), Summary::of(floor), cold_app))
}

pub async fn section(
    out: &mut String,
    registry: &Registry,
    key: &str,
    installations: &[(String, String)],
    live_seconds: u64,
) -> Result<()> {
    let driver = Driver::start()?;
    let browser = driver.browser(&registry.base).await?;
    browser.sign_in(key, "/agents").await?;

    let (app, floor, cold_app) = first_render(&browser, key).await?;
    let _ = writeln!(
        out,
        "## Dashboard in headless Chromium, registry at full size\n"
    );
    let _ = writeln!(
        out,
        "### First fleet render: navigation → 50 rows visible, 10 runs each, alternating\n"
    );
    crate::row(out, &["page".into(), "p50 ms".into(), "p99 ms".into()]);
    crate::row(out, &["---".into(), "---:".into(), "---:".into()]);
    crate::row(out, &["dashboard (wasm)".into(), ms(app.p50), ms(app.p99)]);
    crate::row(
        out,
        &[
            "floor: hand-written HTML + JS (`bench/floor.html`)".into(),
            ms(floor.p50),
            ms(floor.p99),
        ],
    );
    let _ = writeln!(
        out,
        "\nRatio of medians: **{:.2}×** the floor (goal ≤ 1.5×). First, cold-cache dashboard load: {} ms. \
         Later runs have the wasm in the browser's cache, as a returning operator does.\n",
        app.p50.as_secs_f64() / floor.p50.as_secs_f64().max(1e-9),
        ms(cold_app)
    );

    println!("browser: search as you type…");
    browser.goto("/agents").await?;
    rows_visible_at(&browser).await?;
    let queries = [
        "b", "bi", "bil", "", "s", "su", "sup", "", "f", "fr", "fra", "", "l", "le", "led", "",
        "r", "ri", "ris", "",
    ];
    let mut samples = Vec::new();
    let mut unchanged = 0;
    for _round in 0..2 {
        for q in queries {
            let took = browser
                .client
                .execute(SEARCH_PROBE, vec![serde_json::json!(q)])
                .await?
                .as_f64()
                .unwrap_or(-1.0);
            if took < 0.0 {
                unchanged += 1;
            } else {
                samples.push(ms_f(took));
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }
    let search = Summary::of(samples);
    let _ = writeln!(out, "### Search as you type\n");
    let _ = writeln!(
        out,
        "Keystroke → table shows the registry's answer (server-side `q=` search over all agents), \
         keystrokes 300 ms apart: p50 **{} ms**, p99 {} ms over {} keystrokes ({} left the table unchanged \
         and are not counted). Goal p50 ≤ 100 ms.\n",
        ms(search.p50),
        ms(search.p99),
        search.count,
        unchanged
    );

    live_load(out, registry, key, &browser, installations, live_seconds).await?;
    browser.close().await?;
    Ok(())
}

/// Counts what the page receives over the same event stream, with its own EventSource.
const EVENT_COUNTER: &str = r#"
const done = arguments[0];
window.__events = 0;
fetch('/api/v1/events/ticket', { method: 'POST', headers: { 'X-API-Key': arguments[0] } })
  .then((r) => r.json())
  .then((t) => {
    const source = new EventSource('/api/v1/events?ticket=' + encodeURIComponent(t.ticket));
    for (const name of ['agent', 'heartbeat', 'audit']) source.addEventListener(name, () => { window.__events++; });
    window.__counterSource = source;
  });
return true;
"#;

const PAGE_STATE: &str = r#"
return {
  events: window.__events || 0,
  longTasks: window.__longTasks.length,
  longestTask: Math.max(0, ...window.__longTasks),
  jsHeap: performance.memory ? performance.memory.usedJSHeapSize : 0,
  wasm: window.__wasm ? window.__wasm.memory.buffer.byteLength : 0,
  nodes: document.getElementsByTagName('*').length,
  rows: document.querySelectorAll('tr[data-testid=agent-row]').length,
};
"#;

async fn live_load(
    out: &mut String,
    registry: &Registry,
    key: &str,
    browser: &Browser,
    installations: &[(String, String)],
    seconds: u64,
) -> Result<()> {
    println!("browser: live load for {seconds} s…");
    browser.goto("/agents").await?;
    rows_visible_at(browser).await?;
    browser
        .until_text("[data-testid=live-state]", "Live")
        .await?;
    browser
        .client
        .execute(EVENT_COUNTER, vec![serde_json::json!(key)])
        .await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let start = browser.client.execute(PAGE_STATE, vec![]).await?;

    let client = reqwest::Client::new();
    let base = registry.base.clone();
    let leasing_installations = std::sync::Arc::new(installations.to_vec());
    let leasing = tokio::spawn(load_paced(
        64,
        Duration::from_secs(seconds),
        2_000.0,
        move |worker, n| {
            let client = client.clone();
            let pool = &leasing_installations;
            let (id, token) = pool[(worker + n * 64) % pool.len()].clone();
            let url = format!("{base}/api/v1/installations/{id}/lease");
            async move {
                client
                    .post(url)
                    .bearer_auth(token)
                    .json(&serde_json::json!({"status": "running"}))
                    .send()
                    .await
                    .is_ok_and(|r| r.status().is_success())
            }
        },
    ));
    let mut memory = Vec::new();
    let minutes = (seconds / 60).max(1);
    for minute in 1..=minutes {
        tokio::time::sleep(Duration::from_secs(seconds / minutes)).await;
        let state = browser.client.execute(PAGE_STATE, vec![]).await?;
        memory.push((minute, state));
    }
    let leases = leasing.await?;
    let end = browser.client.execute(PAGE_STATE, vec![]).await?;
    let num = |v: &serde_json::Value, k: &str| v[k].as_f64().unwrap_or(0.0);
    let mib = |bytes: f64| bytes / 1_048_576.0;
    let long_tasks = num(&end, "longTasks") - num(&start, "longTasks");
    let events = num(&end, "events") - num(&start, "events");
    let _ = writeln!(
        out,
        "### Live load: {} installations leasing while the fleet page is open, live on\n",
        installations.len()
    );
    let _ = writeln!(
        out,
        "Leases sent: {:.0}/s for {seconds} s ({} errors, lease p99 {} ms). The page received {:.0} \
         events/s (heartbeats coalesced per agent per second by the registry). Main-thread long \
         tasks (> 50 ms): {:.0} in {seconds} s ({:.1} per minute; longest {:.0} ms). Rows on screen \
         stayed {}.\n",
        leases.per_second,
        leases.errors,
        ms(leases.latency.p99),
        events / seconds as f64,
        long_tasks,
        long_tasks / (seconds as f64 / 60.0),
        num(&end, "longestTask"),
        num(&end, "rows"),
    );
    crate::row(
        out,
        &[
            "minute".into(),
            "JS heap MiB".into(),
            "wasm memory MiB".into(),
            "DOM nodes".into(),
        ],
    );
    crate::row(
        out,
        &["---:".into(), "---:".into(), "---:".into(), "---:".into()],
    );
    crate::row(
        out,
        &[
            "0".into(),
            format!("{:.1}", mib(num(&start, "jsHeap"))),
            format!("{:.1}", mib(num(&start, "wasm"))),
            format!("{:.0}", num(&start, "nodes")),
        ],
    );
    for (minute, state) in memory {
        crate::row(
            out,
            &[
                minute.to_string(),
                format!("{:.1}", mib(num(&state, "jsHeap"))),
                format!("{:.1}", mib(num(&state, "wasm"))),
                format!("{:.0}", num(&state, "nodes")),
            ],
        );
    }
    let _ = writeln!(out);
    Ok(())
}
