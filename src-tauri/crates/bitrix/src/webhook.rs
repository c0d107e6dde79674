//! The incoming-webhook URL: a secret that can be parsed, checked and used, but never printed.
//!
//! CONTRACT §1.2, §1.4: the whole URL is secret, in particular `{userId}/{webhookCode}`. `Debug` and
//! `Display` print the redacted form (`https://portal.bitrix24.ru/rest/1/***/`); the type has no
//! `Serialize`. [`WebhookUrl::expose`] is for the keyring and the HTTP layer only.

use crate::error::BitrixError;
use std::fmt;
use std::net::Ipv6Addr;
use url::{Host, Url};

/// A checked incoming-webhook base URL, normalized to `{scheme}://{host[:port]}/rest/{userId}/{code}/`.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookUrl {
    /// The normalized full URL, ending in `/`.
    full: String,
    /// `{scheme}://{host[:port]}`.
    origin: String,
    host: String,
    user_id: i64,
    code: String,
    loopback: bool,
}

impl WebhookUrl {
    /// Parses a webhook URL as a person pastes it.
    ///
    /// Accepts `https://` anywhere and plain `http://` only for loopback hosts (127.0.0.0/8, ::1,
    /// `localhost`); requires the path `/rest/{userId}/{code}/` (trailing slash optional); tolerates
    /// and strips a pasted method suffix (`…/crm.item.list.json`), a query and a fragment.
    /// Error messages never repeat the input, since it is a secret.
    pub fn parse(s: &str) -> Result<WebhookUrl, BitrixError> {
        let invalid = |why: &str| BitrixError::InvalidWebhook(why.to_string());
        let url = Url::parse(s.trim()).map_err(|_| invalid("not a URL"))?;
        if !url.username().is_empty() || url.password().is_some() {
            return Err(invalid("the URL must not contain a user name or password"));
        }
        let host = url.host().ok_or_else(|| invalid("the URL has no host"))?;
        let loopback = match &host {
            Host::Ipv4(ip) => ip.is_loopback(),
            Host::Ipv6(ip) => *ip == Ipv6Addr::LOCALHOST,
            Host::Domain(d) => d.eq_ignore_ascii_case("localhost"),
        };
        match url.scheme() {
            "https" => {}
            "http" if loopback => {}
            "http" => {
                return Err(invalid(
                    "plain http is allowed only for a local test server; use https",
                ))
            }
            _ => return Err(invalid("the URL must start with https://")),
        }
        let segments: Vec<&str> = url
            .path_segments()
            .map(|s| s.filter(|seg| !seg.is_empty()).collect())
            .unwrap_or_default();
        let (rest, user, code) = match segments.as_slice() {
            [rest, user, code] | [rest, user, code, _] => (*rest, *user, *code),
            _ => return Err(invalid("the path must be /rest/{user id}/{code}/")),
        };
        if rest != "rest" {
            return Err(invalid("the path must start with /rest/"));
        }
        let user_id: i64 = user
            .parse()
            .ok()
            .filter(|id| *id > 0)
            .ok_or_else(|| invalid("the user id in the path must be a positive number"))?;
        let code_ok = code
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '~'));
        if !code_ok {
            return Err(invalid("the webhook code contains unexpected characters"));
        }
        let host_text = match &host {
            Host::Ipv4(ip) => ip.to_string(),
            Host::Ipv6(ip) => format!("[{ip}]"),
            Host::Domain(d) => d.to_ascii_lowercase(),
        };
        let authority = match url.port() {
            Some(port) => format!("{host_text}:{port}"),
            None => host_text.clone(),
        };
        let origin = format!("{}://{authority}", url.scheme());
        Ok(WebhookUrl {
            full: format!("{origin}/rest/{user_id}/{code}/"),
            origin,
            host: authority,
            user_id,
            code: code.to_string(),
            loopback,
        })
    }

    /// The full URL with the secret code. For the keyring and the HTTP layer only.
    pub fn expose(&self) -> &str {
        &self.full
    }

    /// The URL with the code replaced by `***`, safe for logs, errors and the UI.
    pub fn redacted(&self) -> String {
        format!("{}/rest/{}/***/", self.origin, self.user_id)
    }

    /// The id of the user the webhook acts as.
    pub fn user_id(&self) -> i64 {
        self.user_id
    }

    /// The portal's host (with the port when one was given), e.g. `portal.bitrix24.ru`.
    pub fn portal_host(&self) -> String {
        self.host.clone()
    }

    /// Whether the portal is this machine (the sandbox).
    pub fn is_loopback(&self) -> bool {
        self.loopback
    }

    /// The full URL of one REST method.
    pub(crate) fn method_url(&self, method: &str) -> String {
        format!("{}{method}.json", self.full)
    }

    /// Replaces every occurrence of the secret code in `text` with `***`.
    pub(crate) fn scrub(&self, text: &str) -> String {
        if self.code.is_empty() {
            return text.to_string();
        }
        text.replace(&self.code, "***")
    }
}

impl fmt::Debug for WebhookUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("WebhookUrl").field(&self.redacted()).finish()
    }
}

impl fmt::Display for WebhookUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    const CODE: &str = "k3x9secretcode77";

    #[rstest]
    #[case(
        "https://portal.bitrix24.ru/rest/1/k3x9secretcode77/",
        "https://portal.bitrix24.ru/rest/1/k3x9secretcode77/"
    )]
    #[case(
        "https://portal.bitrix24.ru/rest/1/k3x9secretcode77",
        "https://portal.bitrix24.ru/rest/1/k3x9secretcode77/"
    )]
    #[case(
        "  https://Portal.Bitrix24.ru/rest/1/k3x9secretcode77/crm.item.list.json ",
        "https://portal.bitrix24.ru/rest/1/k3x9secretcode77/"
    )]
    #[case(
        "https://portal.bitrix24.ru/rest/1/k3x9secretcode77/profile/?x=1#y",
        "https://portal.bitrix24.ru/rest/1/k3x9secretcode77/"
    )]
    #[case(
        "http://127.0.0.1:8080/rest/5/k3x9secretcode77/",
        "http://127.0.0.1:8080/rest/5/k3x9secretcode77/"
    )]
    #[case(
        "http://127.3.4.5/rest/5/k3x9secretcode77/",
        "http://127.3.4.5/rest/5/k3x9secretcode77/"
    )]
    #[case(
        "http://localhost:3000/rest/5/k3x9secretcode77/",
        "http://localhost:3000/rest/5/k3x9secretcode77/"
    )]
    #[case(
        "http://[::1]:3000/rest/5/k3x9secretcode77/",
        "http://[::1]:3000/rest/5/k3x9secretcode77/"
    )]
    fn accepted_webhook_urls_are_normalized(#[case] input: &str, #[case] expected: &str) {
        let url = WebhookUrl::parse(input).expect("valid webhook");
        assert_eq!(url.expose(), expected);
    }

    #[rstest]
    #[case::plain_http_to_internet("http://portal.bitrix24.ru/rest/1/k3x9secretcode77/")]
    #[case::plain_http_to_lan("http://192.168.1.10/rest/1/k3x9secretcode77/")]
    #[case::ftp("ftp://portal.bitrix24.ru/rest/1/k3x9secretcode77/")]
    #[case::no_rest("https://portal.bitrix24.ru/api/1/k3x9secretcode77/")]
    #[case::no_code("https://portal.bitrix24.ru/rest/1/")]
    #[case::user_not_number("https://portal.bitrix24.ru/rest/admin/k3x9secretcode77/")]
    #[case::user_zero("https://portal.bitrix24.ru/rest/0/k3x9secretcode77/")]
    #[case::too_deep("https://portal.bitrix24.ru/rest/1/k3x9secretcode77/crm.item.list/extra")]
    #[case::credentials("https://u:p@portal.bitrix24.ru/rest/1/k3x9secretcode77/")]
    #[case::bad_code("https://portal.bitrix24.ru/rest/1/k3x9%20code/")]
    #[case::not_url("k3x9secretcode77")]
    fn rejected_webhook_urls_say_why_without_echoing_the_secret(#[case] input: &str) {
        let err = WebhookUrl::parse(input).expect_err("must be rejected");
        assert!(matches!(err, BitrixError::InvalidWebhook(_)));
        let shown = format!("{err} {err:?}");
        assert!(!shown.contains(CODE), "secret leaked: {shown}");
    }

    #[test]
    fn debug_and_display_never_show_the_code() {
        let url = WebhookUrl::parse("https://portal.bitrix24.ru/rest/7/k3x9secretcode77/")
            .expect("valid");
        assert_eq!(url.to_string(), "https://portal.bitrix24.ru/rest/7/***/");
        assert_eq!(url.redacted(), "https://portal.bitrix24.ru/rest/7/***/");
        assert!(!format!("{url:?}").contains(CODE));
        assert!(!format!("{url:#?}").contains(CODE));
        assert_eq!(url.user_id(), 7);
        assert_eq!(url.portal_host(), "portal.bitrix24.ru");
    }

    #[test]
    fn scrub_removes_the_code_from_any_text() {
        let url = WebhookUrl::parse("https://portal.bitrix24.ru/rest/7/k3x9secretcode77/")
            .expect("valid");
        let text = format!(
            "error sending request for url ({})",
            url.method_url("profile")
        );
        assert!(!url.scrub(&text).contains(CODE));
    }
}
