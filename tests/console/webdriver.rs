//! A small W3C WebDriver client over reqwest, for chromedriver driving
//! Debian's headless Chromium. Screenshots are saved under
//! `target/console-screenshots/`; the browser's console log is read after
//! every step and any error fails the test.

use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// Where chromium and chromedriver are, or why the browser tests skip.
pub fn browser() -> Result<(PathBuf, PathBuf), String> {
    let find = |names: &[&str]| names.iter().map(PathBuf::from).find(|p| p.exists());
    let chromium = std::env::var_os("CHROMIUM")
        .map(PathBuf::from)
        .or_else(|| find(&["/usr/bin/chromium", "/usr/bin/chromium-browser"]));
    let driver = std::env::var_os("CHROMEDRIVER")
        .map(PathBuf::from)
        .or_else(|| find(&["/usr/bin/chromedriver"]));
    match (chromium, driver) {
        (Some(c), Some(d)) => Ok((c, d)),
        _ => Err(
            "chromium and chromedriver are not installed (apt-get install chromium chromium-driver; .ci/run does)"
                .into(),
        ),
    }
}

pub fn screenshot_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/console-screenshots");
    let _ = std::fs::create_dir_all(&dir);
    dir
}

/// A chromedriver process and one browser session.
pub struct Browser {
    driver: Child,
    base: String,
    session: String,
    client: reqwest::Client,
    _profile: tempfile::TempDir,
    /// Console errors seen so far (checked by [`Browser::assert_no_errors`]).
    pub errors: Vec<String>,
    pub name: String,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let url = format!("{}/session/{}", self.base, self.session);
        let _ = std::thread::spawn(move || {
            let _ = blocking_delete(&url);
        })
        .join();
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// Best effort, without a runtime (in Drop).
fn blocking_delete(url: &str) -> std::io::Result<()> {
    use std::io::{Read, Write};
    let rest = url.strip_prefix("http://").unwrap_or(url);
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    let mut s = std::net::TcpStream::connect(host)?;
    s.set_read_timeout(Some(std::time::Duration::from_secs(5)))?;
    write!(
        s,
        "DELETE /{path} HTTP/1.1\r\nHost: {host}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )?;
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    Ok(())
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

impl Browser {
    pub async fn start(name: &str) -> Browser {
        let (chromium, driver_path) = browser().expect("browser");
        let port = free_port();
        let driver = Command::new(driver_path)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let base = format!("http://127.0.0.1:{port}");
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(120))
            .build()
            .unwrap();
        for _ in 0..100 {
            if client.get(format!("{base}/status")).send().await.is_ok() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let profile = tempfile::tempdir().unwrap();
        let caps = json!({
            "capabilities": {"alwaysMatch": {
                "browserName": "chrome",
                "goog:loggingPrefs": {"browser": "ALL"},
                "goog:chromeOptions": {
                    "binary": chromium,
                    "args": [
                        "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                        "--no-first-run", "--disable-background-networking",
                        "--disable-component-update", "--disable-sync",
                        "--disable-dev-shm-usage", "--window-size=1280,800",
                        "--lang=zh-CN",
                        format!("--user-data-dir={}", profile.path().display()),
                    ]
                }
            }}
        });
        let r: Value = client
            .post(format!("{base}/session"))
            .json(&caps)
            .send()
            .await
            .expect("new session")
            .json()
            .await
            .expect("session json");
        let session = r["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {r}"))
            .to_string();
        Browser {
            driver,
            base,
            session,
            client,
            _profile: profile,
            errors: Vec::new(),
            name: name.into(),
        }
    }

    async fn cmd(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}/session/{}{path}", self.base, self.session);
        let req = match method {
            "GET" => self.client.get(url),
            _ => self.client.post(url).json(&body.unwrap_or(json!({}))),
        };
        let v: Value = req
            .send()
            .await
            .expect("webdriver")
            .json()
            .await
            .expect("webdriver json");
        if let Some(e) = v["value"].get("error") {
            panic!(
                "[{}] webdriver {path}: {e}: {}",
                self.name, v["value"]["message"]
            );
        }
        v["value"].clone()
    }

    pub async fn goto(&mut self, url: &str) {
        self.cmd("POST", "/url", Some(json!({ "url": url }))).await;
        self.collect_logs().await;
    }

    pub async fn find(&self, css: &str) -> String {
        for _ in 0..50 {
            let url = format!("{}/session/{}/element", self.base, self.session);
            let v: Value = self
                .client
                .post(url)
                .json(&json!({"using": "css selector", "value": css}))
                .send()
                .await
                .expect("webdriver")
                .json()
                .await
                .expect("json");
            if let Some(id) = v["value"][ELEMENT].as_str() {
                return id.to_string();
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let src = self.text("body").await;
        panic!("[{}] no element {css:?} on the page:\n{src}", self.name);
    }

    pub async fn exists(&self, css: &str) -> bool {
        let v = self
            .cmd(
                "POST",
                "/elements",
                Some(json!({"using": "css selector", "value": css})),
            )
            .await;
        v.as_array().is_some_and(|a| !a.is_empty())
    }

    pub async fn type_in(&self, css: &str, text: &str) {
        let id = self.find(css).await;
        self.cmd("POST", &format!("/element/{id}/clear"), None)
            .await;
        self.cmd(
            "POST",
            &format!("/element/{id}/value"),
            Some(json!({ "text": text })),
        )
        .await;
    }

    /// Choose a file for an `<input type=file>`.
    pub async fn upload(&self, css: &str, file: &Path) {
        let id = self.find(css).await;
        self.cmd(
            "POST",
            &format!("/element/{id}/value"),
            Some(json!({ "text": file.display().to_string() })),
        )
        .await;
    }

    pub async fn select(&self, css: &str, value: &str) {
        self.script(
            "const s = document.querySelector(arguments[0]); s.value = arguments[1]; s.dispatchEvent(new Event('change'));",
            json!([css, value]),
        )
        .await;
    }

    pub async fn click(&mut self, css: &str) {
        let id = self.find(css).await;
        self.cmd("POST", &format!("/element/{id}/click"), None)
            .await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        self.wait_ready().await;
        self.collect_logs().await;
    }

    /// Submit a form by its button, accepting any confirm() dialog.
    pub async fn click_confirming(&mut self, css: &str) {
        self.script("window.confirm = () => true;", json!([])).await;
        self.click(css).await;
    }

    pub async fn wait_ready(&self) {
        for _ in 0..100 {
            let v = self.script("return document.readyState", json!([])).await;
            if v == "complete" {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub async fn script(&self, js: &str, args: Value) -> Value {
        self.cmd(
            "POST",
            "/execute/sync",
            Some(json!({"script": js, "args": args})),
        )
        .await
    }

    pub async fn text(&self, css: &str) -> String {
        self.script(
            "const e = document.querySelector(arguments[0]); return e ? e.innerText : '';",
            json!([css]),
        )
        .await
        .as_str()
        .unwrap_or("")
        .to_string()
    }

    pub async fn url(&self) -> String {
        self.cmd("GET", "/url", None)
            .await
            .as_str()
            .unwrap_or("")
            .to_string()
    }

    /// Wait until the page's text contains `what`.
    pub async fn wait_text(&self, what: &str) {
        for _ in 0..100 {
            if self.text("body").await.contains(what) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!(
            "[{}] the page never said {what:?}:\n{}",
            self.name,
            self.text("body").await
        );
    }

    /// Render as for printing (CSS `@media print`), or back to the screen.
    pub async fn print_media(&self, on: bool) {
        self.cmd(
            "POST",
            "/goog/cdp/execute",
            Some(json!({
                "cmd": "Emulation.setEmulatedMedia",
                "params": {"media": if on { "print" } else { "" }}
            })),
        )
        .await;
    }

    /// Save a screenshot as `target/console-screenshots/NAME-STEP.png`.
    pub async fn screenshot(&mut self, step: &str) -> PathBuf {
        use base64::Engine;
        let v = self.cmd("GET", "/screenshot", None).await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(v.as_str().unwrap_or(""))
            .expect("png");
        let path = screenshot_dir().join(format!("{}-{step}.png", self.name));
        std::fs::write(&path, png).expect("write screenshot");
        self.collect_logs().await;
        path
    }

    /// Read the browser's console log; keep the errors.
    pub async fn collect_logs(&mut self) {
        let url = format!("{}/session/{}/se/log", self.base, self.session);
        let v: Value = match self
            .client
            .post(url)
            .json(&json!({"type": "browser"}))
            .send()
            .await
        {
            Ok(r) => r.json().await.unwrap_or(Value::Null),
            Err(_) => Value::Null,
        };
        if let Some(entries) = v["value"].as_array() {
            for e in entries {
                if e["level"] == "SEVERE" {
                    self.errors
                        .push(e["message"].as_str().unwrap_or("").to_string());
                }
            }
        }
    }

    pub async fn assert_no_errors(&mut self) {
        self.collect_logs().await;
        assert!(
            self.errors.is_empty(),
            "[{}] console errors: {:#?}",
            self.name,
            self.errors
        );
    }
}
