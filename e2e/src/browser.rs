//! Chromium through chromedriver: the driver process, and one browser window with the
//! helpers every page object is built on (find, click, fill, wait for text).

use crate::WAIT;
use anyhow::{bail, Context, Result};
use fantoccini::elements::Element;
use fantoccini::error::CmdError;
use fantoccini::{Client, ClientBuilder, Locator};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tempfile::TempDir;

/// A chromedriver process; each [`Browser`] is a session of it.
pub struct Driver {
    child: Child,
    port: u16,
}

impl Driver {
    pub fn start() -> Result<Driver> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let path = std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "/usr/bin/chromedriver".into());
        // Its own process group, so that dropping the driver also ends the Chromium
        // processes it started (killing chromedriver alone orphans them, still running).
        let child = Command::new(&path)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .with_context(|| format!("starting {path}"))?;
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if started.elapsed() > WAIT {
                bail!("chromedriver did not listen on {port}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(Driver { child, port })
    }

    /// A new browser window with its own empty profile.
    pub async fn browser(&self, base: &str) -> Result<Browser> {
        let profile = tempfile::tempdir()?;
        let mut capabilities = serde_json::Map::new();
        // The console, for the Content-Security-Policy reports (`Browser::csp_violations`).
        capabilities.insert(
            "goog:loggingPrefs".into(),
            serde_json::json!({ "browser": "ALL" }),
        );
        capabilities.insert(
            "goog:chromeOptions".into(),
            serde_json::json!({
                "binary": std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into()),
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--disable-background-networking", "--disable-component-update",
                    "--disable-sync", "--no-first-run", "--window-size=1400,1000",
                    format!("--user-data-dir={}", profile.path().display()),
                ]
            }),
        );
        let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(capabilities)
            .connect(&format!("http://127.0.0.1:{}", self.port))
            .await
            .context("opening a Chromium session")?;
        Ok(Browser {
            client,
            base: base.to_owned(),
            _profile: profile,
        })
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One browser window, with the page-object helpers the stories use.
pub struct Browser {
    pub client: Client,
    pub base: String,
    _profile: TempDir,
}

/// chromedriver's console log of the page (`POST /session/{id}/se/log`), which the W3C
/// protocol lacks.
#[derive(Debug)]
struct ConsoleLog;

impl fantoccini::wd::WebDriverCompatibleCommand for ConsoleLog {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!(
            "session/{}/se/log",
            session_id.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _request_url: &url::Url) -> (http::Method, Option<String>) {
        (http::Method::POST, Some(r#"{"type":"browser"}"#.to_owned()))
    }
}

impl Browser {
    /// Console messages since the last call that report a Content-Security-Policy
    /// violation: anything the policy blocked.
    pub async fn csp_violations(&self) -> Result<Vec<String>> {
        let entries = self.client.issue_cmd(ConsoleLog).await?;
        Ok(entries
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|entry| entry["message"].as_str())
            .filter(|message| message.contains("Content Security Policy"))
            .map(str::to_owned)
            .collect())
    }

    pub async fn goto(&self, path: &str) -> Result<()> {
        self.client.goto(&format!("{}{path}", self.base)).await?;
        Ok(())
    }

    /// Opens the dashboard signed in with `key` through a `#key=` link.
    pub async fn sign_in(&self, key: &str, path: &str) -> Result<()> {
        self.goto(&format!("{path}#key={key}")).await?;
        self.find("[data-testid=whoami]").await?;
        Ok(())
    }

    pub async fn find(&self, css: &str) -> Result<Element> {
        self.client
            .wait()
            .at_most(WAIT)
            .for_element(Locator::Css(css))
            .await
            .with_context(|| format!("waiting for {css}"))
    }

    pub async fn find_all(&self, css: &str) -> Result<Vec<Element>> {
        Ok(self.client.find_all(Locator::Css(css)).await?)
    }

    pub async fn count(&self, css: &str) -> Result<usize> {
        Ok(self.find_all(css).await?.len())
    }

    /// Finds the element at `css` and acts on it. A list that redraws between the two
    /// (a live event, a page's results arriving) replaces the element, and WebDriver calls
    /// the old one stale; then it is found again, until [`WAIT`] has passed.
    async fn on_element<T, F, Fut>(&self, css: &str, act: F) -> Result<T>
    where
        F: Fn(Element) -> Fut,
        Fut: std::future::Future<Output = Result<T, CmdError>>,
    {
        let started = Instant::now();
        loop {
            let element = self.find(css).await?;
            match act(element).await {
                Err(error) if error.is_stale_element_reference() && started.elapsed() < WAIT => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                outcome => return outcome.with_context(|| format!("acting on {css}")),
            }
        }
    }

    /// Scrolls the element so that `block` ("center", "start") of it is in view.
    async fn scroll_to(&self, element: &Element, block: &str) -> Result<(), CmdError> {
        let argument = serde_json::to_value(element)?;
        let script = format!("arguments[0].scrollIntoView({{block: '{block}'}});");
        self.client.execute(&script, vec![argument]).await?;
        Ok(())
    }

    /// Clicks the element at `css`, first brought to the middle of the screen, as a person
    /// scrolls to a button (the sticky header would otherwise cover one near the top).
    pub async fn click(&self, css: &str) -> Result<()> {
        self.on_element(css, |element| async move {
            self.scroll_to(&element, "center").await?;
            element.click().await
        })
        .await
    }

    /// Replaces the text of an input the way a user does: select all, delete, type.
    /// (WebDriver's own clear fires no `input` event, so a page would never see it.)
    pub async fn fill(&self, css: &str, text: &str) -> Result<()> {
        const CONTROL: char = '\u{e009}';
        const BACKSPACE: char = '\u{e003}';
        const RELEASE_MODIFIERS: char = '\u{e000}';
        let keys = format!("{CONTROL}a{RELEASE_MODIFIERS}{BACKSPACE}{text}");
        let keys = keys.as_str();
        self.on_element(css, |input| async move { input.send_keys(keys).await })
            .await
    }

    pub async fn text(&self, css: &str) -> Result<String> {
        self.on_element(css, |element| async move { element.text().await })
            .await
    }

    /// The attribute `name` of an element, if it has it.
    pub async fn attr(&self, css: &str, name: &str) -> Result<Option<String>> {
        self.on_element(css, |element| async move { element.attr(name).await })
            .await
    }

    /// What an input holds now (its `value` property, not the attribute it started with).
    pub async fn value(&self, css: &str) -> Result<Option<String>> {
        self.on_element(css, |input| async move { input.prop("value").await })
            .await
    }

    /// Picks the option whose value is `value` in a `<select>`, as a user does.
    pub async fn select(&self, css: &str, value: &str) -> Result<()> {
        self.on_element(
            css,
            |select| async move { select.select_by_value(value).await },
        )
        .await
    }

    pub async fn url(&self) -> Result<String> {
        Ok(self.client.current_url().await?.to_string())
    }

    /// Waits until `check` holds, retrying for [`WAIT`]; the error names `what`.
    pub async fn until<F, Fut>(&self, what: &str, mut check: F) -> Result<()>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<bool>>,
    {
        let started = Instant::now();
        loop {
            if check().await.unwrap_or(false) {
                return Ok(());
            }
            if started.elapsed() > WAIT {
                bail!("timed out waiting until {what}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until the element at `css` has text containing `needle`.
    pub async fn until_text(&self, css: &str, needle: &str) -> Result<()> {
        let what = format!("{css} shows {needle:?}");
        self.until(&what, || async {
            Ok(self.text(css).await?.contains(needle))
        })
        .await
    }

    /// The row of the fleet table for the agent with this id.
    pub fn row(id: &str) -> String {
        format!("tr[data-testid=agent-row][data-id='{id}']")
    }

    /// A screenshot with the element at `css` scrolled to the top of the window.
    pub async fn screenshot_of(&self, css: &str, path: &Path) -> Result<()> {
        self.on_element(css, |element| async move {
            self.scroll_to(&element, "start").await
        })
        .await?;
        self.client
            .execute("window.scrollBy(0, -70);", vec![])
            .await?;
        self.screenshot(path).await
    }

    pub async fn screenshot(&self, path: &Path) -> Result<()> {
        let png = self.client.screenshot().await?;
        std::fs::write(path, png)?;
        Ok(())
    }

    /// Types `keys` as real key presses to whatever has focus (the page, if nothing).
    pub async fn press_keys(&self, keys: &str) -> Result<()> {
        use fantoccini::actions::{InputSource, KeyAction, KeyActions};
        let mut actions = KeyActions::new("keyboard".into());
        for key in keys.chars() {
            actions = actions
                .then(KeyAction::Down { value: key })
                .then(KeyAction::Up { value: key });
        }
        self.client.perform_actions(actions).await?;
        Ok(())
    }

    pub async fn press_escape(&self) -> Result<()> {
        let active = self.client.active_element().await?;
        active.send_keys("\u{e00c}").await?;
        Ok(())
    }

    pub async fn close(self) -> Result<()> {
        self.client.close().await?;
        Ok(())
    }
}
