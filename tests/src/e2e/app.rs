//! One run of the real app under test: its own empty home directory (so it starts with no portal
//! configured), a tauri-driver, and a WebDriver session whose window is the app.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tempfile::TempDir;

use super::driver::TauriDriver;
use super::webdriver::{Element, Session, WebDriver};
use super::{app_binary, artifacts_dir, tauri_driver_binary, E2eError};

/// How often a waited-for condition is checked.
const POLL_INTERVAL: Duration = Duration::from_millis(250);

/// The app, running, with a WebDriver session attached.
pub struct AppUnderTest {
    story: String,
    /// The app's command line, for [`AppUnderTest::restart`].
    args: Vec<String>,
    session: Option<Session>,
    // Field order matters for Drop: the driver (and with it the app) stops before the home
    // directory it writes into is removed.
    driver: TauriDriver,
    home: TempDir,
}

impl AppUnderTest {
    /// Starts the app with `args` for the story named `story` (used for artifact file names).
    /// Tries again when the first WebDriver request finds no WebKitWebDriver behind tauri-driver
    /// yet (the harness waits for tauri-driver's port only; on a loaded machine the native
    /// driver can still be starting).
    pub async fn launch(story: &str, args: &[&str]) -> Result<Self, E2eError> {
        let mut attempt = 1;
        loop {
            match Self::launch_once(story, args).await {
                Err(E2eError::WebDriver(message))
                    if attempt < 3 && message.contains("error sending request") =>
                {
                    eprintln!(
                        "attempt {attempt}: the WebDriver session did not start ({message}); again"
                    );
                    attempt += 1;
                    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
                }
                other => return other,
            }
        }
    }

    async fn launch_once(story: &str, args: &[&str]) -> Result<Self, E2eError> {
        if std::env::var_os("DISPLAY").is_none() {
            return Err(E2eError::Setup(
                "no DISPLAY: run the end-to-end stories under `xvfb-run -a` (see .ci/dev e2e)"
                    .into(),
            ));
        }
        let app = app_binary()?;
        let tauri_driver = tauri_driver_binary()?;
        let artifacts = artifacts_dir();
        std::fs::create_dir_all(&artifacts).map_err(|e| E2eError::io(&artifacts, e))?;

        let home = tempfile::Builder::new()
            .prefix("kartoteka-e2e-home-")
            .tempdir()
            .map_err(|e| E2eError::io(&std::env::temp_dir(), e))?;
        let env = isolated_env(&home)?;
        let driver = TauriDriver::start(
            &tauri_driver,
            &env,
            &artifacts.join(format!("{story}.driver.log")),
        )?;
        let webdriver = WebDriver::on_port(driver.port())?;
        let args: Vec<&str> = args.to_vec();
        let session = webdriver
            .new_session(json!({
                "browserName": "wry",
                "tauri:options": { "application": app, "args": args },
            }))
            .await?;
        Ok(Self {
            story: story.to_owned(),
            args: args.iter().map(|a| a.to_string()).collect(),
            session: Some(session),
            driver,
            home,
        })
    }

    /// The WebDriver session driving the app's window.
    pub fn session(&self) -> Result<&Session, E2eError> {
        self.session
            .as_ref()
            .ok_or_else(|| E2eError::Setup("the session has ended".into()))
    }

    /// The app's private home directory (config, data, cache).
    pub fn home(&self) -> &std::path::Path {
        self.home.path()
    }

    /// Runs `script` in the page until what it returns is accepted by `accept`, and returns that.
    /// The timeout error names the last value seen and the last script error, if any.
    pub async fn wait_for_script(
        &self,
        what: &str,
        timeout: Duration,
        script: &str,
        accept: impl Fn(&Value) -> bool,
    ) -> Result<Value, E2eError> {
        let session = self.session()?;
        let deadline = Instant::now() + timeout;
        let mut last_seen = Value::Null;
        let mut last_error = String::from("none");
        loop {
            match session.execute(script, vec![]).await {
                Ok(value) if accept(&value) => return Ok(value),
                Ok(value) => last_seen = value,
                Err(e) => last_error = e.to_string(),
            }
            if Instant::now() > deadline {
                return Err(E2eError::Timeout(format!(
                    "{what} within {timeout:?}; last seen: {last_seen}; last script error: {last_error}"
                )));
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }

    /// Waits until an element matching `css` is in the page (found through WebDriver) and returns it.
    pub async fn wait_for_element(
        &self,
        what: &str,
        timeout: Duration,
        css: &str,
    ) -> Result<Element, E2eError> {
        let session = self.session()?;
        let deadline = Instant::now() + timeout;
        let mut last_error = String::from("none");
        loop {
            match session.find(css).await {
                Ok(Some(element)) => return Ok(element),
                Ok(None) => {}
                Err(e) => last_error = e.to_string(),
            }
            if Instant::now() > deadline {
                return Err(E2eError::Timeout(format!(
                    "{what} ({css}) within {timeout:?}; last error: {last_error}"
                )));
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }

    /// Clicks the element matching `css` as a person does (a WebDriver click, which fails on a
    /// hidden or covered element), waiting up to `timeout` for it to appear.
    pub async fn click(&self, what: &str, timeout: Duration, css: &str) -> Result<(), E2eError> {
        let element = self.wait_for_element(what, timeout, css).await?;
        self.session()?.click(&element).await
    }

    /// Picks a language (`ru`, `en`) in the header's switch with a WebDriver click on its option,
    /// and waits until the page speaks it. (Falls back to setting the select by script, with a
    /// note, where the native driver does not select options on click.)
    pub async fn choose_language(&self, lang: &str) -> Result<(), E2eError> {
        let option = format!(r#".lang-switch select option[value="{lang}"]"#);
        self.click(
            "the language switch's option",
            Duration::from_secs(30),
            &option,
        )
        .await?;
        let script = "return document.documentElement.lang;";
        let accept = |v: &Value| v == lang;
        if self
            .wait_for_script(
                "the page in the chosen language",
                Duration::from_secs(5),
                script,
                accept,
            )
            .await
            .is_ok()
        {
            return Ok(());
        }
        eprintln!("the option click did not switch the language; choosing it by script");
        self.session()?
            .execute(
                r#"const s = document.querySelector(".lang-switch select");
                   const set = Object.getOwnPropertyDescriptor(HTMLSelectElement.prototype, "value").set;
                   set.call(s, arguments[0]);
                   s.dispatchEvent(new Event("change", { bubbles: true }));
                   return true;"#,
                vec![json!(lang)],
            )
            .await?;
        self.wait_for_script(
            "the page in the chosen language",
            Duration::from_secs(10),
            script,
            accept,
        )
        .await
        .map(drop)
    }

    /// Saves a screenshot of the window as `<artifacts>/<name>.png` and returns its path.
    pub async fn save_screenshot(&self, name: &str) -> Result<PathBuf, E2eError> {
        let session = self.session()?;
        // The webview paints after the DOM changes: let two frames pass so the picture shows
        // what the story just checked.
        session
            .execute_async(
                "const done = arguments[arguments.length - 1];\n\
                 requestAnimationFrame(() => requestAnimationFrame(() => done(true)));",
                vec![],
            )
            .await?;
        let png = session.screenshot_png().await?;
        let path = artifacts_dir().join(format!("{name}.png"));
        std::fs::write(&path, png).map_err(|e| E2eError::io(&path, e))?;
        Ok(path)
    }

    /// Saves what helps to understand a failed story: a screenshot and the page's HTML, named after
    /// the story with a `-failure` suffix. Errors here are reported, not raised: the story's own
    /// failure is the one that matters.
    pub async fn save_failure_artifacts(&self) {
        let name = format!("{}-failure", self.story);
        match self.save_screenshot(&name).await {
            Ok(path) => eprintln!("failure screenshot: {}", path.display()),
            Err(e) => eprintln!("no failure screenshot: {e}"),
        }
        if let Ok(session) = self.session() {
            if let Ok(html) = session.page_source().await {
                let path = artifacts_dir().join(format!("{name}.html"));
                if std::fs::write(&path, html).is_ok() {
                    eprintln!("failure page source: {}", path.display());
                }
            }
        }
        eprintln!(
            "driver and app output: {}",
            self.driver.log_path().display()
        );
    }

    /// Closes the app and starts it again with the same command line and the same home
    /// directory (its settings, database and keyring entries stay), as a person restarting it.
    pub async fn restart(&mut self) -> Result<(), E2eError> {
        self.quit().await?;
        self.start_again().await
    }

    /// Closes the app (its home directory stays) until [`AppUnderTest::start_again`].
    pub async fn quit(&mut self) -> Result<(), E2eError> {
        if let Some(session) = self.session.take() {
            session.delete().await?;
        }
        Ok(())
    }

    /// Starts the app again after [`AppUnderTest::quit`], with the same command line and home.
    pub async fn start_again(&mut self) -> Result<(), E2eError> {
        let webdriver = WebDriver::on_port(self.driver.port())?;
        let session = webdriver
            .new_session(json!({
                "browserName": "wry",
                "tauri:options": { "application": app_binary()?, "args": self.args },
            }))
            .await?;
        self.session = Some(session);
        Ok(())
    }

    /// Ends the session (closing the app) and stops tauri-driver.
    pub async fn close(mut self) -> Result<(), E2eError> {
        let ended = match self.session.take() {
            Some(session) => session.delete().await,
            None => Ok(()),
        };
        self.driver.stop();
        ended
    }
}

/// Environment that points every per-user directory into `home`, so the app finds no saved portal,
/// database or settings from the developer's own runs.
fn isolated_env(home: &TempDir) -> Result<Vec<(String, String)>, E2eError> {
    let mut env = Vec::new();
    let root = home.path();
    env.push(("HOME".to_owned(), root.display().to_string()));
    for (var, dir) in [
        ("XDG_CONFIG_HOME", ".config"),
        ("XDG_DATA_HOME", ".local/share"),
        ("XDG_CACHE_HOME", ".cache"),
        ("XDG_STATE_HOME", ".local/state"),
    ] {
        let path = root.join(dir);
        std::fs::create_dir_all(&path).map_err(|e| E2eError::io(&path, e))?;
        env.push((var.to_owned(), path.display().to_string()));
    }
    Ok(env)
}
