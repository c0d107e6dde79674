//! The window never navigates away from the app: a click on a `tel:` or `mailto:` link goes to the
//! system's phone or mail handler, any other navigation outside the app is refused.

use tauri::plugin::{Builder, TauriPlugin};
use tauri::{Runtime, Url};

/// What to do with a navigation the webview is about to make.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Navigation {
    /// The app's own pages (the bundled UI, or the dev server).
    Allow,
    /// A phone number or an e-mail address: hand it to the system, keep the app where it is.
    OpenInSystem,
    /// Anything else: stay.
    Refuse,
}

/// Decides a navigation by its URL alone.
pub fn decide(url: &Url) -> Navigation {
    match url.scheme() {
        "tauri" => Navigation::Allow,
        "http" | "https"
            if matches!(
                url.host_str(),
                Some("tauri.localhost" | "localhost" | "127.0.0.1")
            ) =>
        {
            Navigation::Allow
        }
        "tel" | "mailto" => Navigation::OpenInSystem,
        _ => Navigation::Refuse,
    }
}

/// Starts the system's handler for a `tel:`/`mailto:` URL; a system without one does nothing.
fn open_in_system(url: &Url) {
    #[cfg(target_os = "macos")]
    let mut command = std::process::Command::new("open");
    #[cfg(target_os = "windows")]
    let mut command = {
        let mut c = std::process::Command::new("rundll32");
        c.arg("url.dll,FileProtocolHandler");
        c
    };
    #[cfg(not(any(target_os = "macos", target_os = "windows")))]
    let mut command = std::process::Command::new("xdg-open");
    match command.arg(url.as_str()).spawn() {
        Ok(_) => tracing::info!(scheme = url.scheme(), "handed a link to the system"),
        Err(error) => tracing::warn!(scheme = url.scheme(), %error, "no system handler for a link"),
    }
}

/// The plugin that applies [`decide`] to every navigation of every webview.
pub fn guard<R: Runtime>() -> TauriPlugin<R> {
    Builder::new("navigation-guard")
        .on_navigation(|_webview, url| match decide(url) {
            Navigation::Allow => true,
            Navigation::OpenInSystem => {
                open_in_system(url);
                false
            }
            Navigation::Refuse => {
                tracing::warn!(
                    scheme = url.scheme(),
                    "refused to navigate away from the app"
                );
                false
            }
        })
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_apps_own_pages_are_navigated_to_and_tel_and_mailto_go_to_the_system() {
        let cases = [
            ("tauri://localhost/index.html", Navigation::Allow),
            ("http://tauri.localhost/", Navigation::Allow),
            ("http://localhost:5173/", Navigation::Allow),
            ("tel:+79032180888", Navigation::OpenInSystem),
            ("mailto:a@example.com", Navigation::OpenInSystem),
            ("about:blank", Navigation::Refuse),
            ("https://example.com/", Navigation::Refuse),
            ("file:///etc/passwd", Navigation::Refuse),
            ("javascript:alert(1)", Navigation::Refuse),
        ];
        for (url, want) in cases {
            let parsed = Url::parse(url).expect("a valid URL");
            assert_eq!(decide(&parsed), want, "{url}");
        }
    }
}
