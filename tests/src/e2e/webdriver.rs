//! A minimal W3C WebDriver client over plain HTTP: just the commands our stories use.
//!
//! tauri-driver speaks the W3C protocol and forwards to WebKitWebDriver, which drives the app's
//! webview. Every request has a timeout, so a stuck driver fails the story instead of hanging CI.

use std::time::Duration;

use base64::Engine as _;
use serde_json::{json, Value};

use super::E2eError;

/// How long one WebDriver command may take. Creating a session starts the app, which is the slowest.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);

/// The W3C key under which an element reference is returned (WebDriver §12.1, "web element
/// identifier"). A wrong key makes every lookup find nothing.
pub const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A WebDriver remote end (here: tauri-driver on a loopback port).
#[derive(Clone)]
pub struct WebDriver {
    http: reqwest::Client,
    base: String,
}

/// One browsing session: one running instance of the app.
pub struct Session {
    driver: WebDriver,
    id: String,
}

/// A reference to an element of the page, valid within its session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Element(String);

impl WebDriver {
    /// A client for the remote end listening on `127.0.0.1:port`.
    pub fn on_port(port: u16) -> Result<Self, E2eError> {
        let http = reqwest::Client::builder()
            .timeout(COMMAND_TIMEOUT)
            .build()
            .map_err(|e| E2eError::WebDriver(format!("cannot build the HTTP client: {e}")))?;
        Ok(Self {
            http,
            base: format!("http://127.0.0.1:{port}"),
        })
    }

    /// Starts a session with the given W3C capabilities (`alwaysMatch`).
    pub async fn new_session(&self, always_match: Value) -> Result<Session, E2eError> {
        let body = json!({ "capabilities": { "alwaysMatch": always_match } });
        let value = self
            .send(reqwest::Method::POST, "/session", Some(body))
            .await?;
        let id = value
            .get("sessionId")
            .and_then(Value::as_str)
            .ok_or_else(|| E2eError::WebDriver(format!("no sessionId in {value}")))?
            .to_owned();
        Ok(Session {
            driver: self.clone(),
            id,
        })
    }

    /// Sends one command and returns its `value`, or the remote end's error.
    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, E2eError> {
        let url = format!("{}{path}", self.base);
        let mut request = self.http.request(method.clone(), &url);
        // W3C requires a JSON body on every POST, even an empty one.
        if method == reqwest::Method::POST {
            request = request.json(&body.unwrap_or_else(|| json!({})));
        }
        let response = request
            .send()
            .await
            .map_err(|e| E2eError::WebDriver(format!("{method} {path}: {e}")))?;
        let status = response.status();
        let text = response
            .text()
            .await
            .map_err(|e| E2eError::WebDriver(format!("{method} {path}: reading body: {e}")))?;
        let parsed: Value = serde_json::from_str(&text).map_err(|e| {
            E2eError::WebDriver(format!(
                "{method} {path}: HTTP {status}, not JSON ({e}): {text}"
            ))
        })?;
        let value = parsed.get("value").cloned().unwrap_or(Value::Null);
        if !status.is_success() {
            let error = value.get("error").and_then(Value::as_str).unwrap_or("?");
            let message = value.get("message").and_then(Value::as_str).unwrap_or("");
            return Err(E2eError::WebDriver(format!(
                "{method} {path}: HTTP {status} {error}: {message}"
            )));
        }
        Ok(value)
    }
}

/// The element references in a WebDriver answer (an array of `{ELEMENT_KEY: id}`).
fn elements_of(value: &Value) -> Vec<Element> {
    value
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|item| item.get(ELEMENT_KEY).and_then(Value::as_str))
                .map(|id| Element(id.to_owned()))
                .collect()
        })
        .unwrap_or_default()
}

/// Special keys for [`Session::send_keys`] (W3C WebDriver key codes).
pub mod keys {
    pub const ENTER: &str = "\u{E007}";
    pub const ESCAPE: &str = "\u{E00C}";
    pub const ARROW_DOWN: &str = "\u{E015}";
}

impl Session {
    fn path(&self, rest: &str) -> String {
        format!("/session/{}{rest}", self.id)
    }

    /// Runs a synchronous script in the page and returns what it returns.
    pub async fn execute(&self, script: &str, args: Vec<Value>) -> Result<Value, E2eError> {
        let body = json!({ "script": script, "args": args });
        self.driver
            .send(
                reqwest::Method::POST,
                &self.path("/execute/sync"),
                Some(body),
            )
            .await
    }

    /// Runs an asynchronous script: it gets a callback as its last argument and its result is
    /// what it passes to that callback.
    pub async fn execute_async(&self, script: &str, args: Vec<Value>) -> Result<Value, E2eError> {
        let body = json!({ "script": script, "args": args });
        self.driver
            .send(
                reqwest::Method::POST,
                &self.path("/execute/async"),
                Some(body),
            )
            .await
    }

    /// All elements matching a CSS selector (possibly none).
    pub async fn find_all(&self, css: &str) -> Result<Vec<Element>, E2eError> {
        let body = json!({ "using": "css selector", "value": css });
        let value = self
            .driver
            .send(reqwest::Method::POST, &self.path("/elements"), Some(body))
            .await?;
        Ok(elements_of(&value))
    }

    /// The first element matching a CSS selector, if any.
    pub async fn find(&self, css: &str) -> Result<Option<Element>, E2eError> {
        Ok(self.find_all(css).await?.into_iter().next())
    }

    /// All elements matching a CSS selector inside `parent`.
    pub async fn find_all_in(&self, parent: &Element, css: &str) -> Result<Vec<Element>, E2eError> {
        let body = json!({ "using": "css selector", "value": css });
        let value = self
            .driver
            .send(
                reqwest::Method::POST,
                &self.path(&format!("/element/{}/elements", parent.0)),
                Some(body),
            )
            .await?;
        Ok(elements_of(&value))
    }

    /// Types `text` into an element, as keystrokes (WebDriver "Element Send Keys"). Special keys
    /// are Unicode private-use characters, e.g. [`keys::ENTER`].
    pub async fn send_keys(&self, element: &Element, text: &str) -> Result<(), E2eError> {
        self.driver
            .send(
                reqwest::Method::POST,
                &self.path(&format!("/element/{}/value", element.0)),
                Some(json!({ "text": text })),
            )
            .await
            .map(drop)
    }

    /// Empties an editable element.
    pub async fn clear(&self, element: &Element) -> Result<(), E2eError> {
        self.driver
            .send(
                reqwest::Method::POST,
                &self.path(&format!("/element/{}/clear", element.0)),
                None,
            )
            .await
            .map(drop)
    }

    /// An attribute of an element (`None` when it has none).
    pub async fn attribute(
        &self,
        element: &Element,
        name: &str,
    ) -> Result<Option<String>, E2eError> {
        let value = self
            .driver
            .send(
                reqwest::Method::GET,
                &self.path(&format!("/element/{}/attribute/{name}", element.0)),
                None,
            )
            .await?;
        Ok(value.as_str().map(str::to_owned))
    }

    /// The element that has the keyboard focus.
    pub async fn active_element(&self) -> Result<Option<Element>, E2eError> {
        let value = self
            .driver
            .send(reqwest::Method::GET, &self.path("/element/active"), None)
            .await?;
        Ok(value
            .get(ELEMENT_KEY)
            .and_then(Value::as_str)
            .map(|id| Element(id.to_owned())))
    }

    /// The address of the page the window shows.
    pub async fn current_url(&self) -> Result<String, E2eError> {
        let value = self
            .driver
            .send(reqwest::Method::GET, &self.path("/url"), None)
            .await?;
        Ok(value.as_str().unwrap_or_default().to_owned())
    }

    /// Resizes the window to `width`×`height` CSS pixels (outer size).
    pub async fn set_window_size(&self, width: u32, height: u32) -> Result<(), E2eError> {
        self.driver
            .send(
                reqwest::Method::POST,
                &self.path("/window/rect"),
                Some(json!({ "width": width, "height": height })),
            )
            .await
            .map(drop)
    }

    /// The rendered text of an element.
    pub async fn text(&self, element: &Element) -> Result<String, E2eError> {
        let value = self
            .driver
            .send(
                reqwest::Method::GET,
                &self.path(&format!("/element/{}/text", element.0)),
                None,
            )
            .await?;
        Ok(value.as_str().unwrap_or_default().to_owned())
    }

    /// Clicks an element, as the pointer does: WebDriver scrolls it into view and refuses when it
    /// is hidden or covered by another element (a script click would not notice).
    pub async fn click(&self, element: &Element) -> Result<(), E2eError> {
        self.driver
            .send(
                reqwest::Method::POST,
                &self.path(&format!("/element/{}/click", element.0)),
                None,
            )
            .await
            .map(drop)
    }

    /// The page's current title.
    pub async fn title(&self) -> Result<String, E2eError> {
        let value = self
            .driver
            .send(reqwest::Method::GET, &self.path("/title"), None)
            .await?;
        Ok(value.as_str().unwrap_or_default().to_owned())
    }

    /// The page's current HTML, for diagnosing a failed story.
    pub async fn page_source(&self) -> Result<String, E2eError> {
        let value = self
            .driver
            .send(reqwest::Method::GET, &self.path("/source"), None)
            .await?;
        Ok(value.as_str().unwrap_or_default().to_owned())
    }

    /// A PNG screenshot of the webview.
    pub async fn screenshot_png(&self) -> Result<Vec<u8>, E2eError> {
        let value = self
            .driver
            .send(reqwest::Method::GET, &self.path("/screenshot"), None)
            .await?;
        let encoded = value
            .as_str()
            .ok_or_else(|| E2eError::WebDriver("screenshot is not a string".into()))?;
        base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .map_err(|e| E2eError::WebDriver(format!("screenshot is not base64: {e}")))
    }

    /// Ends the session, which closes the app.
    pub async fn delete(self) -> Result<(), E2eError> {
        self.driver
            .send(reqwest::Method::DELETE, &self.path(""), None)
            .await
            .map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn element_references_are_read_under_the_w3c_key() {
        // The exact answer WebKitWebDriver gives to "Find Elements".
        let answer = json!([
            { "element-6066-11e4-a52e-4f735466cecf": "node-1" },
            { "element-6066-11e4-a52e-4f735466cecf": "node-2" },
        ]);
        assert_eq!(
            elements_of(&answer),
            vec![Element("node-1".into()), Element("node-2".into())],
            "stories find elements through WebDriver, not by falling back to scripts"
        );
    }
}
