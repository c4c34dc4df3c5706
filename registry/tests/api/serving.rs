//! The dashboard as the registry serves it: the app shell for every page path, hashed
//! assets cached for good, the shell revalidated, and hardening headers on all of it.

use crate::harness::TestApp;
use fleet_registry::Config;
use reqwest::StatusCode;

#[tokio::test]
async fn the_dashboard_is_served_with_caching_that_follows_the_file_names() {
    let dist = tempfile::tempdir().expect("temp dir");
    let asset = "fleet-dashboard-0123456789abcdef_bg.wasm";
    std::fs::write(
        dist.path().join("index.html"),
        "<!doctype html><title>shell</title>",
    )
    .expect("write index");
    std::fs::write(dist.path().join(asset), b"\0asm").expect("write asset");
    let app = TestApp::spawn_with(Config {
        dist: Some(dist.path().to_path_buf()),
        ..Config::default()
    })
    .await;

    for page in ["/", "/agents", "/agents/abc?q=x"] {
        let response = app.client.get(app.url(page)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{page}");
        let headers = response.headers().clone();
        assert_eq!(headers["cache-control"], "no-cache", "{page}");
        assert_eq!(headers["x-content-type-options"], "nosniff");
        assert_eq!(headers["x-frame-options"], "DENY");
        assert!(response.text().await.unwrap().contains("shell"), "{page}");
    }
    let response = app
        .client
        .get(app.url(&format!("/{asset}")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
    // An API path never falls back to the dashboard.
    let response = app
        .client
        .get(app.url("/api/nowhere"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert!(response.headers().get("cache-control").is_none());
}

#[tokio::test]
async fn the_dashboard_may_call_only_the_registries_named_at_start() {
    let dist = tempfile::tempdir().expect("temp dir");
    std::fs::write(dist.path().join("index.html"), "<!doctype html>").expect("write index");
    let csp_of = |config: Config| async {
        let app = TestApp::spawn_with(config).await;
        let response = app.client.get(app.url("/agents")).send().await.unwrap();
        response.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .to_owned()
    };
    let alone = csp_of(Config {
        dist: Some(dist.path().to_path_buf()),
        ..Config::default()
    })
    .await;
    assert!(alone.contains("connect-src 'self';"), "{alone}");
    let with_two = csp_of(Config {
        dist: Some(dist.path().to_path_buf()),
        registry_origins: vec![
            "https://staging.example.com".into(),
            "http://127.0.0.1:9400".into(),
        ],
        ..Config::default()
    })
    .await;
    assert!(
        with_two.contains("connect-src 'self' https://staging.example.com http://127.0.0.1:9400;"),
        "{with_two}"
    );
    assert!(with_two.contains("script-src 'self' 'wasm-unsafe-eval';"));
}
