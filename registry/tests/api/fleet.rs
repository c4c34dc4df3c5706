//! The fleet list (filters, sort, keyset paging), the summary, the audit trail, OpenAPI.

use crate::harness::TestApp;
use fleet_protocol::RuntimeStatus;
use fleet_registry::demo;
use fleet_registry::store::NewAgent;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::collections::HashSet;

fn urlencode(q: &str) -> String {
    url::form_urlencoded::byte_serialize(q.as_bytes()).collect()
}

fn ids(page: &Value) -> Vec<String> {
    page["agents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["sekuire_id"].as_str().unwrap().to_owned())
        .collect()
}

/// Asserts `-reputation_score` order with ties broken by descending Sekuire ID.
fn assert_by_reputation_descending(agents: &[Value]) {
    for pair in agents.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        let (ra, rb) = (
            a["reputation_score"].as_u64(),
            b["reputation_score"].as_u64(),
        );
        assert!(ra > rb || (ra == rb && a["sekuire_id"].as_str() > b["sekuire_id"].as_str()));
    }
}

/// Walks every page of `query`, calling `between` after each page.
async fn walk(app: &TestApp, query: &str, mut between: impl AsyncFnMut(usize)) -> Vec<Value> {
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    for page_no in 0.. {
        let path = match &cursor {
            Some(c) => format!("/api/v1/agents?{query}&cursor={c}"),
            None => format!("/api/v1/agents?{query}"),
        };
        let (status, page) = app.get(&app.viewer, &path).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        seen.extend(page["agents"].as_array().unwrap().iter().cloned());
        between(page_no).await;
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    seen
}

#[tokio::test]
async fn walking_a_filtered_sorted_list_returns_each_match_once_despite_inserts() {
    let app = TestApp::spawn().await;
    demo::seed_fleet(&app.store, 300, 9).await.unwrap();
    for sort in [
        "name",
        "-reputation_score",
        "last_heartbeat_at",
        "-updated_at",
        "runtime_status",
    ] {
        let query = format!("runtime_status=active,paused&min_reputation=30&sort={sort}&limit=17");
        let (_, first) = app
            .get(&app.viewer, &format!("/api/v1/agents?{query}"))
            .await;
        let total = first["total"].as_u64().unwrap() as usize;
        let seen = walk(&app, &query, async |page_no| {
            // New agents arrive while the user pages; keyset paging must not repeat or skip.
            app.add_agent(&format!("zz-late-arrival-{sort}-{page_no}"))
                .await;
        })
        .await;
        let unique: HashSet<_> = seen.iter().map(|a| a["sekuire_id"].clone()).collect();
        assert_eq!(unique.len(), seen.len(), "no agent twice ({sort})");
        assert!(
            seen.len() >= total,
            "every match of the first page's total is seen ({sort})"
        );
        for agent in &seen {
            assert_ne!(agent["runtime_status"], "terminated");
            assert!(agent["reputation_score"].as_u64().unwrap() >= 30);
        }
        let arrived_meanwhile = format!("zz-late-arrival-{sort}-");
        let originals = seen
            .iter()
            .filter(|a| !a["name"].as_str().unwrap().starts_with(&arrived_meanwhile))
            .count();
        assert_eq!(originals, total, "exactly the seeded matches ({sort})");
    }
}

#[tokio::test]
async fn sort_orders_are_honoured_with_ties_broken_by_id() {
    let app = TestApp::spawn().await;
    demo::seed_fleet(&app.store, 120, 3).await.unwrap();
    let seen = walk(&app, "sort=-reputation_score&limit=25", async |_| {}).await;
    assert_eq!(seen.len(), 120);
    assert_by_reputation_descending(&seen);
}

#[tokio::test]
async fn search_matches_name_substrings_and_id_prefixes_case_insensitively() {
    let app = TestApp::spawn().await;
    let target = app.add_agent("Invoice-Triage-Agent").await;
    app.add_agent("unrelated").await;
    let (_, page) = app.get(&app.viewer, "/api/v1/agents?q=triage").await;
    assert_eq!(ids(&page), vec![target.clone()]);
    assert_eq!(page["total"], 1);
    let (_, page) = app
        .get(
            &app.viewer,
            &format!("/api/v1/agents?q={}", target.to_uppercase()),
        )
        .await;
    assert_eq!(ids(&page), vec![target]);
    let (_, page) = app.get(&app.viewer, "/api/v1/agents?q=%25").await;
    assert_eq!(
        page["total"], 0,
        "% is matched literally, not as a wildcard"
    );
}

/// Searches go through the trigram index (three characters or more as a phrase, one or
/// two as the trigrams they start); the answers are those of the plain LIKE: ASCII-only
/// case folding, literal quotes and wildcards, short searches at the end of a name or
/// making a whole name. (A renamed agent: `onboarding.rs`, as only a push renames.)
#[tokio::test]
async fn indexed_search_keeps_the_meaning_of_a_substring_search() {
    let app = TestApp::spawn().await;
    let quoted = app.add_agent("say \"hi\" bot").await;
    let accented = app.add_agent("Ärger-Bot").await;
    let hyphenated = app.add_agent("old-name-agent").await;
    let tilde = app.add_agent("~").await;
    let ends_in_tilde = app.add_agent("tilde~").await;
    let search = |q: &str| {
        let path = format!("/api/v1/agents?q={}", urlencode(q));
        let app = &app;
        async move {
            let (_, page) = app.get(&app.viewer, &path).await;
            ids(&page)
        }
    };
    assert_eq!(search("\"hi\"").await, vec![quoted.clone()]);
    assert_eq!(search("AY \"H").await, vec![quoted.clone()]);
    assert_eq!(search("hi").await, vec![quoted.clone()], "two characters");
    let mut tildes = vec![tilde.clone(), ends_in_tilde.clone()];
    tildes.sort();
    let mut found = search("~").await;
    found.sort();
    assert_eq!(
        found, tildes,
        "one character: a whole name, and the end of one"
    );
    assert_eq!(search("E~").await, vec![ends_in_tilde.clone()]);
    assert_eq!(search("rger-b").await, vec![accented.clone()]);
    assert!(
        search("ärger").await.is_empty(),
        "only ASCII letters fold, as in SQLite's LIKE and the dashboard's live matching"
    );
    assert!(search("i_n").await.is_empty(), "_ is literal");

    assert_eq!(search("d-n").await, vec![hyphenated.clone()]);
    assert_eq!(
        search(&hyphenated[..6]).await.len(),
        5,
        "ID prefixes match: the five agents added here share one"
    );
}

/// A search with over 5,000 candidates is dense: it is not collected through the trigram
/// index. By name, SQLite reads the index in name order; by another key, it walks the sort
/// index with LIKE, as PostgreSQL does for both. Complete, ordered pages, each match once.
#[tokio::test]
async fn a_dense_search_pages_through_the_sort_index_exactly_once() {
    let app = TestApp::spawn().await;
    let agents: Vec<NewAgent> = (0..5_500)
        .map(|i| NewAgent {
            reputation_score: (i % 101) as u8,
            ..NewAgent::active(
                format!("{:012x}", 0xb000_0000_0000_u64 + i),
                format!("ledger-agent-{i:05}"),
                0,
            )
        })
        .collect();
    app.store.insert_agents(&agents).await.unwrap();
    app.add_agent("unrelated").await;
    let query = "q=GER-agent&sort=-name&limit=500";
    let (_, first) = app
        .get(&app.viewer, &format!("/api/v1/agents?{query}"))
        .await;
    assert_eq!(
        (first["total"].clone(), first["total_exact"].clone()),
        (json!(1_000), json!(false)),
        "a search is counted to 1,000"
    );
    let seen = walk(&app, query, async |_| {}).await;
    let names: Vec<&str> = seen.iter().filter_map(|a| a["name"].as_str()).collect();
    let mut expected: Vec<String> = agents.iter().map(|a| a.name.clone()).collect();
    expected.sort_unstable_by(|a, b| b.cmp(a));
    assert_eq!(names, expected);

    // Every agent here was created at 0: ties, broken by the Sekuire ID.
    let seen = walk(&app, "q=GER-agent&sort=updated_at&limit=500", async |_| {}).await;
    let seen: Vec<&str> = seen
        .iter()
        .filter_map(|a| a["sekuire_id"].as_str())
        .collect();
    let expected: Vec<&str> = agents.iter().map(|a| a.sekuire_id.as_str()).collect();
    assert_eq!(seen, expected);
}

/// Past 10,000 matches a broad filter is not counted to the end: `total` is 10,000 and
/// `total_exact` false; a text search stops at 1,000. Filters the kept counts answer stay
/// exact at any size.
#[tokio::test]
async fn broad_filters_count_up_to_the_cap_and_kept_counts_stay_exact() {
    let app = TestApp::spawn().await;
    let now = fleet_registry::clock::now_ms();
    let agents: Vec<NewAgent> = (0..10_050)
        .map(|i| NewAgent {
            runtime_status: if i < 60 {
                RuntimeStatus::Paused
            } else {
                RuntimeStatus::Active
            },
            reputation_score: 60,
            last_heartbeat_at: Some(now),
            ..NewAgent::active(format!("ca{i:010x}"), format!("capped-{i:05}"), now)
        })
        .collect();
    app.store.insert_agents(&agents).await.unwrap();
    let total = |query: &'static str| {
        let app = &app;
        async move {
            let (status, page) = app
                .get(&app.viewer, &format!("/api/v1/agents?{query}"))
                .await;
            assert_eq!(status, StatusCode::OK, "{page}");
            (page["total"].clone(), page.get("total_exact").cloned())
        }
    };
    assert_eq!(total("q=capped").await, (json!(1_000), Some(json!(false))));
    assert_eq!(total("q=ca").await, (json!(1_000), Some(json!(false))));
    assert_eq!(total("q=d").await, (json!(1_000), Some(json!(false))));
    assert_eq!(
        total("q=-1").await,
        (json!(50), None),
        "a search with few matches is counted exactly"
    );
    assert_eq!(
        total("min_reputation=50").await,
        (json!(10_000), Some(json!(false)))
    );
    assert_eq!(total("").await, (json!(10_050), None), "kept: exact");
    assert_eq!(total("runtime_status=active").await, (json!(9_990), None));
    assert_eq!(
        total("runtime_status=paused,active").await,
        (json!(10_050), None)
    );
    assert_eq!(
        total("runtime_status=paused,paused").await,
        (json!(60), None),
        "a state named twice counts once"
    );
    assert_eq!(
        total("verification_status=verified").await,
        (json!(10_050), None)
    );
    assert_eq!(
        total("q=capped-0004").await,
        (json!(10), None),
        "few: counted"
    );
}

#[tokio::test]
async fn health_and_state_filters_and_the_summary_agree() {
    let app = TestApp::spawn().await;
    demo::seed_fleet(&app.store, 200, 5).await.unwrap();
    let (_, summary) = app.get(&app.viewer, "/api/v1/fleet/summary").await;
    assert_eq!(summary["total"], 200);
    let histogram: u64 = summary["reputation_histogram"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(histogram, 200);
    for health in ["healthy", "stale", "unhealthy", "never"] {
        let (_, page) = app
            .get(
                &app.viewer,
                &format!("/api/v1/agents?health={health}&limit=500"),
            )
            .await;
        let expected = summary["health"][health].as_u64().unwrap_or(0);
        assert_eq!(page["total"], expected, "{health}");
        assert!(page["agents"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["health"] == health));
    }
    assert_counts_match_lists(&app, &summary).await;

    // The kept counts follow changes: a pause and a terminate through the API.
    let (_, page) = app
        .get(&app.viewer, "/api/v1/agents?runtime_status=active&limit=2")
        .await;
    for (agent, action) in page["agents"]
        .as_array()
        .unwrap()
        .iter()
        .zip(["pause", "terminate"])
    {
        let id = agent["sekuire_id"].as_str().unwrap();
        let (status, _) = app.act(&app.admin, id, action, json!({})).await;
        assert_eq!(status, StatusCode::OK);
    }
    let (_, after) = app.get(&app.viewer, "/api/v1/fleet/summary").await;
    assert_eq!(after["total"], 200);
    assert_eq!(
        after["runtime_status"]["active"].as_u64().unwrap() + 2,
        summary["runtime_status"]["active"].as_u64().unwrap()
    );
    assert_counts_match_lists(&app, &after).await;
}

/// Each kept count of the summary equals the `total` of the list filtered the same way.
async fn assert_counts_match_lists(app: &TestApp, summary: &Value) {
    let facets = [
        ("runtime_status", vec!["active", "paused", "terminated"]),
        (
            "verification_status",
            vec!["unverified", "pending", "verified", "suspended"],
        ),
    ];
    for (facet, values) in facets {
        for value in values {
            let (_, page) = app
                .get(&app.viewer, &format!("/api/v1/agents?{facet}={value}"))
                .await;
            assert_eq!(page["total"], summary[facet][value], "{facet}={value}");
        }
    }
    for bucket in 0..10 {
        let (low, high) = (bucket * 10, if bucket == 9 { 100 } else { bucket * 10 + 9 });
        let (_, page) = app
            .get(
                &app.viewer,
                &format!("/api/v1/agents?min_reputation={low}&max_reputation={high}"),
            )
            .await;
        assert_eq!(
            page["total"], summary["reputation_histogram"][bucket],
            "reputation {low}–{high}"
        );
    }
}

#[tokio::test]
async fn audit_filters_page_newest_first_and_export_csv() {
    let app = TestApp::spawn().await;
    let a = app.add_agent("audited-a").await;
    let b = app.add_agent("audited-b").await;
    app.act(
        &app.operator,
        &a,
        "pause",
        json!({"reason": "first, with comma"}),
    )
    .await;
    app.act(
        &app.admin,
        &b,
        "terminate",
        json!({"reason": "=HYPERLINK(\"x\")"}),
    )
    .await;
    app.act(&app.operator, &a, "resume", json!({})).await;

    let (_, all) = app.get(&app.viewer, "/api/v1/audit?limit=2").await;
    let entries = all["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[0]["action"], "resume", "newest first");
    let (_, rest) = app
        .get(
            &app.viewer,
            &format!(
                "/api/v1/audit?limit=2&cursor={}",
                all["next_cursor"].as_str().unwrap()
            ),
        )
        .await;
    assert_eq!(rest["entries"][0]["action"], "pause");
    assert!(rest.get("next_cursor").is_none());

    let (_, by_actor) = app
        .get(&app.viewer, "/api/v1/audit?actor=admin-alice")
        .await;
    assert_eq!(by_actor["entries"].as_array().unwrap().len(), 1);
    let (_, by_action) = app
        .get(&app.viewer, "/api/v1/audit?action=pause,resume")
        .await;
    assert_eq!(by_action["entries"].as_array().unwrap().len(), 2);
    let (_, future) = app
        .get(&app.viewer, "/api/v1/audit?since=2999-01-01T00:00:00Z")
        .await;
    assert!(future["entries"].as_array().unwrap().is_empty());

    let csv = app
        .client
        .get(app.url("/api/v1/audit?format=csv"))
        .header("X-API-Key", &app.viewer)
        .send()
        .await
        .unwrap();
    assert!(csv.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    let text = csv.text().await.unwrap();
    let lines: Vec<_> = text.lines().collect();
    assert_eq!(lines.len(), 4, "{text}");
    assert!(lines[0].starts_with("id,at,actor,action"));
    assert!(text.contains("\"first, with comma\""));
    assert!(
        text.contains("\"'=HYPERLINK(\"\"x\"\")\""),
        "formulas are defused: {text}"
    );
    let accept = app
        .client
        .get(app.url("/api/v1/audit"))
        .header("X-API-Key", &app.viewer)
        .header("accept", "text/csv")
        .send()
        .await
        .unwrap();
    assert!(accept.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
}

#[tokio::test]
async fn the_audit_trail_cannot_be_edited_even_by_sql() {
    let app = TestApp::spawn().await;
    let id = app.add_agent("immutable").await;
    app.act(&app.operator, &id, "pause", json!({})).await;
    assert!(app.execute("DELETE FROM audit_entries").await.is_err());
    assert!(app
        .execute("UPDATE audit_entries SET reason = 'x'")
        .await
        .is_err());
    assert_eq!(app.audit_count(&id).await, 1);
}

#[tokio::test]
async fn openapi_describes_every_endpoint() {
    let app = TestApp::spawn().await;
    let doc: Value = app
        .client
        .get(app.url("/api/v1/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let paths = doc["paths"].as_object().unwrap();
    for path in [
        "/api/v1/agents",
        "/api/v1/agents/{id}",
        "/api/v1/agents/{id}/pause",
        "/api/v1/agents/{id}/resume",
        "/api/v1/agents/{id}/terminate",
        "/api/v1/agents/bulk/{action}",
        "/api/v1/agents/{id}/audit",
        "/api/v1/audit",
        "/api/v1/agents/{id}/logs",
        "/api/v1/agents/{id}/logs/batch",
        "/api/v1/workspaces/{ws}/install-tokens",
        "/api/v1/installations/bootstrap",
        "/api/v1/installations/{installation_id}/lease",
        "/api/v1/installations/{installation_id}/heartbeat",
        "/api/v1/installations/{installation_id}/revoke",
        "/api/v1/installations/{installation_id}/refresh",
        "/api/v1/api-keys/verify",
        "/api/v1/publish",
        "/api/v1/agents/{id}/reputation",
        "/api/v1/agents/{id}/verification",
        "/api/v1/events",
        "/api/v1/events/ticket",
        "/api/v1/me",
        "/api/v1/fleet/summary",
    ] {
        assert!(paths.contains_key(path), "openapi lacks {path}");
    }
}

#[tokio::test]
async fn large_filtered_lists_page_through_the_sort_index_exactly_once() {
    // Over 5,000 matches the registry walks the sort key's index instead of sorting the
    // matches; both plans must give the same, complete, ordered pages.
    let app = TestApp::spawn().await;
    demo::seed_fleet(&app.store, 6_000, 11).await.unwrap();
    let query = "runtime_status=active,paused&sort=-reputation_score&limit=500";
    let (_, first) = app
        .get(&app.viewer, &format!("/api/v1/agents?{query}"))
        .await;
    let total = first["total"].as_u64().unwrap() as usize;
    assert!(total >= 5_000, "the large-list plan is exercised ({total})");
    let seen = walk(&app, query, async |_| {}).await;
    assert_eq!(seen.len(), total);
    let unique: HashSet<_> = seen.iter().map(|a| a["sekuire_id"].clone()).collect();
    assert_eq!(unique.len(), total);
    assert_by_reputation_descending(&seen);
    assert!(seen.iter().all(|a| a["runtime_status"] != "terminated"));
}
