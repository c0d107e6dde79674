//! Errors of the Bitrix24 client and their classification (CONTRACT §5).
//!
//! Every message is built from codes, statuses and the portal's `error_description`, all of which
//! pass through [`crate::WebhookUrl`]'s scrubber in the client; the webhook code never appears.

use kartoteka_domain::ipc::ErrorCode;
use serde::Serialize;

/// Codes the portal sends when we call too fast or for too long.
const RATE_LIMIT_CODES: &[&str] = &["QUERY_LIMIT_EXCEEDED", "OPERATION_TIME_LIMIT"];
/// Codes that mean "the webhook's scope is too narrow".
const SCOPE_CODES: &[&str] = &["insufficient_scope", "invalid_scope", "WRONG_AUTH_TYPE"];

/// What the caller should do about a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum ErrorClass {
    /// The credentials are wrong, expired, too narrow, or the plan has no REST: ask the user.
    Auth,
    /// The server state disagrees with the request (HTTP 409); re-read and decide again.
    /// Bitrix24 CRM has no concurrency token (§6.4), so the sync engine mostly detects conflicts
    /// itself by comparing `updatedTime`.
    Conflict,
    /// Transient: rate or time limit, overload, network, 5xx, a body that is not JSON. Try later.
    RetryLater,
    /// Retrying cannot help: not found, access denied on a record, invalid argument, a bug.
    Permanent,
}

/// An error reported by the portal: the normalized `error` code and its `error_description`.
/// Used for batch commands (`result_error`) and inside [`BitrixError::Api`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApiError {
    /// The `error` value normalized to text: `NOT_FOUND`, `""`, `"0"`, `"100"`, `"Invalid parameters."`.
    pub code: String,
    pub description: String,
}

impl ApiError {
    /// The error as a [`BitrixError`], with the HTTP status it arrived with (a batch command has
    /// none of its own: pass 200, the status of the batch).
    pub fn into_error(self, http_status: u16) -> BitrixError {
        BitrixError::Api {
            code: self.code,
            description: self.description,
            http_status,
        }
    }

    pub fn class(&self, http_status: u16) -> ErrorClass {
        classify_api(&self.code, &self.description, http_status)
    }

    pub fn is_not_found(&self) -> bool {
        code_is_not_found(&self.code, &self.description)
    }

    pub fn is_access_denied(&self) -> bool {
        code_is_access_denied(&self.code, &self.description)
    }

    /// The webhook lacks the method's scope (`insufficient_scope`).
    pub fn is_scope_refusal(&self) -> bool {
        SCOPE_CODES.contains(&self.code.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BitrixError {
    /// The portal answered with an `error` body.
    #[error("Bitrix24 error '{code}' (HTTP {http_status}): {description}")]
    Api {
        code: String,
        description: String,
        http_status: u16,
    },
    /// The request could not be completed (connection refused, reset, DNS…). The message is
    /// reqwest's, with the URL removed.
    #[error("network error: {message}")]
    Network {
        message: String,
        /// True when the request certainly never reached the server (connect failed), so even a
        /// write may be repeated.
        not_sent: bool,
    },
    #[error("the request timed out")]
    Timeout,
    /// The body was not the JSON envelope expected: an HTML error page, a truncated body, or an
    /// envelope without `result`.
    #[error("unexpected response (HTTP {http_status}): {reason}")]
    MalformedResponse { http_status: u16, reason: String },
    #[error("invalid webhook URL: {0}")]
    InvalidWebhook(String),
    /// The portal moved (HTTP 3xx). The new host is shown; the request is not re-sent there
    /// automatically, because that would hand the secret to another host.
    #[error("the portal answered with a redirect to {new_host}; check the portal address")]
    Redirected { new_host: String },
    /// The caller asked for something the client refuses to send (e.g. more than 50 batch commands).
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// The HTTP client could not be built.
    #[error("HTTP client setup failed: {0}")]
    Setup(String),
}

impl BitrixError {
    pub fn class(&self) -> ErrorClass {
        match self {
            BitrixError::Api {
                code,
                description,
                http_status,
            } => classify_api(code, description, *http_status),
            BitrixError::Network { .. }
            | BitrixError::Timeout
            | BitrixError::MalformedResponse { .. } => ErrorClass::RetryLater,
            BitrixError::InvalidWebhook(_) | BitrixError::Redirected { .. } => ErrorClass::Auth,
            BitrixError::InvalidRequest(_) | BitrixError::Setup(_) => ErrorClass::Permanent,
        }
    }

    /// The record (or method target) does not exist: `NOT_FOUND`, or an empty code with
    /// "Not found" text (legacy and `crm.deal.contact.*` methods).
    pub fn is_not_found(&self) -> bool {
        match self {
            BitrixError::Api {
                code, description, ..
            } => code_is_not_found(code, description),
            _ => false,
        }
    }

    /// The record exists but the webhook's user may not see it (§7).
    pub fn is_access_denied(&self) -> bool {
        match self {
            BitrixError::Api {
                code, description, ..
            } => code_is_access_denied(code, description),
            _ => false,
        }
    }

    /// What the person using the app must know about this failure: the one classification of
    /// portal failures, used alike by connect, counts and sync (each code has one UI message).
    pub fn user_code(&self) -> ErrorCode {
        match self {
            BitrixError::Network { .. } | BitrixError::Timeout => ErrorCode::Offline,
            BitrixError::InvalidWebhook(_) | BitrixError::Redirected { .. } => {
                ErrorCode::InvalidInput
            }
            BitrixError::InvalidRequest(_) | BitrixError::Setup(_) => ErrorCode::Internal,
            BitrixError::MalformedResponse { .. } => ErrorCode::Offline,
            BitrixError::Api {
                code, http_status, ..
            } => match self.class() {
                ErrorClass::RetryLater if RATE_LIMIT_CODES.contains(&code.as_str()) => {
                    ErrorCode::RateLimited
                }
                ErrorClass::RetryLater => ErrorCode::Offline,
                // A 401/403 ACCESS_DENIED is the free plan's answer to every REST call (CONTRACT §5.2).
                ErrorClass::Auth if code == "ACCESS_DENIED" || code == "PAYMENT_REQUIRED" => {
                    ErrorCode::PlanRestricted
                }
                ErrorClass::Auth if SCOPE_CODES.contains(&code.as_str()) => ErrorCode::NoAccess,
                ErrorClass::Auth if *http_status == 403 => ErrorCode::NoAccess,
                ErrorClass::Auth => ErrorCode::Auth,
                // REST blocked by hand by Bitrix24 support (CONTRACT §5.2): stop and tell the user.
                ErrorClass::Permanent if code == "OVERLOAD_LIMIT" => ErrorCode::PortalBlocked,
                ErrorClass::Permanent if self.is_not_found() => ErrorCode::NotFound,
                ErrorClass::Permanent if self.is_access_denied() => ErrorCode::NoAccess,
                ErrorClass::Permanent | ErrorClass::Conflict => ErrorCode::Internal,
            },
        }
    }

    /// The request was ended before the portal answered it: a gateway's 502/504 (the cloud's
    /// front cuts a request after 60 s), another HTML page instead of the JSON envelope, or our
    /// own request timeout. A batch ended so may have run some of its commands, and the same
    /// request would most likely be cut again: send fewer commands ([`crate::BatchSize`]).
    pub fn is_cut(&self) -> bool {
        match self {
            BitrixError::Timeout => true,
            BitrixError::MalformedResponse {
                http_status,
                reason,
            } => matches!(http_status, 502 | 504) || reason == HTML_PAGE,
            BitrixError::Api {
                code, http_status, ..
            } => code.is_empty() && matches!(http_status, 502 | 504),
            _ => false,
        }
    }

    /// The `error` code, when the portal sent one.
    pub fn api_code(&self) -> Option<&str> {
        match self {
            BitrixError::Api { code, .. } => Some(code),
            _ => None,
        }
    }
}

/// The reason of a [`BitrixError::MalformedResponse`] whose body was an HTML page.
pub(crate) const HTML_PAGE: &str = "an HTML page instead of JSON";

/// Codes that mean "the credential cannot do this": stop and ask the user.
const AUTH_CODES: &[&str] = &[
    "NO_AUTH_FOUND",
    "expired_token",
    "invalid_token",
    "INVALID_CREDENTIALS",
    "insufficient_scope",
    "invalid_scope",
    "invalid_grant",
    "invalid_client",
    "authorization_error",
    "user_access_error",
    "WRONG_AUTH_TYPE",
    "METHOD_CONFIRM_WAITING",
    "PAYMENT_REQUIRED",
    "allowed_only_intranet_user",
    "INVALID_REQUEST",
];

/// Codes that mean "not now": limits and server trouble.
const RETRY_LATER_CODES: &[&str] = &[
    "QUERY_LIMIT_EXCEEDED",
    "OPERATION_TIME_LIMIT",
    "INTERNAL_SERVER_ERROR",
    "ERROR_UNEXPECTED_ANSWER",
];

/// The classification table of CONTRACT §5.2. Branches on the code first; the HTTP status only
/// separates the free-plan 403 `ACCESS_DENIED` from a per-record 400 one, and decides for codes
/// the table does not know.
pub(crate) fn classify_api(code: &str, description: &str, http_status: u16) -> ErrorClass {
    if code == "ACCESS_DENIED" {
        return if matches!(http_status, 401 | 403) {
            ErrorClass::Auth
        } else {
            ErrorClass::Permanent
        };
    }
    if AUTH_CODES.contains(&code) {
        return ErrorClass::Auth;
    }
    if RETRY_LATER_CODES.contains(&code) {
        return ErrorClass::RetryLater;
    }
    // OVERLOAD_LIMIT: REST was blocked by hand by Bitrix24 support (§5.2 "stop; tell the user").
    // Permanent, not RetryLater, so the sync scheduler does not keep polling a blocked portal;
    // not Auth either, since new credentials would not help.
    if code == "PORTAL_DELETED" || code == "OVERLOAD_LIMIT" || code_is_not_found(code, description)
    {
        return ErrorClass::Permanent;
    }
    match http_status {
        401 => ErrorClass::Auth,
        409 => ErrorClass::Conflict,
        429 | 500..=599 => ErrorClass::RetryLater,
        _ => ErrorClass::Permanent,
    }
}

fn code_is_not_found(code: &str, description: &str) -> bool {
    code == "NOT_FOUND"
        || (code.is_empty() && description.to_ascii_lowercase().contains("not found"))
}

fn code_is_access_denied(code: &str, description: &str) -> bool {
    code == "ACCESS_DENIED"
        || (code.is_empty() && description.to_ascii_lowercase().contains("access denied"))
}

/// Errors of the secret stores.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    /// No secret store works on this machine. The message says what to install or start.
    #[error("no secret store is available: {0}")]
    Unavailable(String),
    /// The store exists but is locked or refused access.
    #[error("the secret store refused access: {0}")]
    AccessDenied(String),
    /// A value was found but it is not a valid webhook URL (its text is never shown).
    #[error("the stored webhook URL is invalid: {0}")]
    Corrupt(String),
    #[error("secret store failure: {0}")]
    Platform(String),
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn api(code: &str, description: &str, http_status: u16) -> BitrixError {
        BitrixError::Api {
            code: code.into(),
            description: description.into(),
            http_status,
        }
    }

    #[rstest]
    #[case(
        "QUERY_LIMIT_EXCEEDED",
        "Too many requests",
        503,
        ErrorClass::RetryLater
    )]
    #[case(
        "OPERATION_TIME_LIMIT",
        "Method is blocked due to operation time limit.",
        429,
        ErrorClass::RetryLater
    )]
    #[case("OVERLOAD_LIMIT", "", 503, ErrorClass::Permanent)]
    #[case("INTERNAL_SERVER_ERROR", "", 500, ErrorClass::RetryLater)]
    #[case("ERROR_UNEXPECTED_ANSWER", "", 500, ErrorClass::RetryLater)]
    #[case("SOMETHING_NEW", "", 502, ErrorClass::RetryLater)]
    #[case("PORTAL_DELETED", "", 500, ErrorClass::Permanent)]
    #[case("NO_AUTH_FOUND", "Wrong authorization data", 401, ErrorClass::Auth)]
    #[case("expired_token", "", 401, ErrorClass::Auth)]
    #[case("INVALID_CREDENTIALS", "", 401, ErrorClass::Auth)]
    #[case("INVALID_CREDENTIALS", "", 403, ErrorClass::Auth)]
    #[case("insufficient_scope", "", 403, ErrorClass::Auth)]
    #[case("insufficient_scope", "", 401, ErrorClass::Auth)]
    #[case("insufficient_scope", "", 200, ErrorClass::Auth)]
    #[case(
        "ACCESS_DENIED",
        "REST is available only on commercial plans",
        403,
        ErrorClass::Auth
    )]
    #[case("ACCESS_DENIED", "Access denied", 400, ErrorClass::Permanent)]
    // a write the operation refuses (e.g. reassigning outside one's rights, CONTRACT §11 #6):
    // permanent, and not "hidden" — the item stays readable
    #[case("CRM_ITEM_UPDATE_ACCESS_DENIED", "", 400, ErrorClass::Permanent)]
    #[case("CRM_ITEM_ADD_ACCESS_DENIED", "", 400, ErrorClass::Permanent)]
    #[case("CRM_ITEM_DELETE_ACCESS_DENIED", "", 400, ErrorClass::Permanent)]
    // a forbidden stage move has an empty code
    #[case("", "Stage cannot be set", 400, ErrorClass::Permanent)]
    #[case("allowed_only_intranet_user", "", 403, ErrorClass::Auth)]
    #[case("NOT_FOUND", "Element not found", 400, ErrorClass::Permanent)]
    #[case("INVALID_ARG_VALUE", "Invalid filter", 400, ErrorClass::Permanent)]
    #[case("CRM_FIELD_ERROR_VALUE_NOT_VALID", "", 400, ErrorClass::Permanent)]
    #[case("100", "Expected iterable value", 400, ErrorClass::Permanent)]
    #[case("0", "CONTACT entity is not supported", 400, ErrorClass::Permanent)]
    #[case("", "Not found.", 400, ErrorClass::Permanent)]
    #[case(
        "ERROR_METHOD_NOT_FOUND",
        "Method not found!",
        404,
        ErrorClass::Permanent
    )]
    #[case(
        "ERROR_BATCH_LENGTH_EXCEEDED",
        "Max batch length exceeded",
        400,
        ErrorClass::Permanent
    )]
    #[case("", "", 409, ErrorClass::Conflict)]
    #[case("", "", 401, ErrorClass::Auth)]
    fn api_errors_are_classified_by_code_then_status(
        #[case] code: &str,
        #[case] description: &str,
        #[case] status: u16,
        #[case] class: ErrorClass,
    ) {
        assert_eq!(api(code, description, status).class(), class);
    }

    #[test]
    fn transport_failures_are_retry_later_and_config_errors_are_not() {
        assert_eq!(BitrixError::Timeout.class(), ErrorClass::RetryLater);
        let net = BitrixError::Network {
            message: "reset".into(),
            not_sent: false,
        };
        assert_eq!(net.class(), ErrorClass::RetryLater);
        let html = BitrixError::MalformedResponse {
            http_status: 500,
            reason: "HTML page".into(),
        };
        assert_eq!(html.class(), ErrorClass::RetryLater);
        assert_eq!(
            BitrixError::InvalidWebhook("x".into()).class(),
            ErrorClass::Auth
        );
        assert_eq!(
            BitrixError::Redirected {
                new_host: "b.example".into()
            }
            .class(),
            ErrorClass::Auth
        );
        assert_eq!(
            BitrixError::InvalidRequest("x".into()).class(),
            ErrorClass::Permanent
        );
    }

    #[test]
    fn not_found_and_access_denied_are_told_apart_including_empty_codes() {
        assert!(api("NOT_FOUND", "Item not found", 400).is_not_found());
        assert!(api("", "Not found.", 400).is_not_found());
        assert!(!api("ERROR_METHOD_NOT_FOUND", "Method not found!", 404).is_not_found());
        assert!(!api("NOT_FOUND", "", 400).is_access_denied());
        assert!(api("ACCESS_DENIED", "Access denied!", 400).is_access_denied());
        assert!(api("", "Access denied.", 400).is_access_denied());
        assert!(!api("ACCESS_DENIED", "", 400).is_not_found());
        assert!(!api("CRM_ITEM_UPDATE_ACCESS_DENIED", "", 400).is_access_denied());
        assert!(!BitrixError::Timeout.is_not_found());
    }

    #[test]
    fn portal_failures_map_to_what_the_user_must_do() {
        let cases = [
            (api("NO_AUTH_FOUND", "", 401), ErrorCode::Auth),
            (api("expired_token", "", 401), ErrorCode::Auth),
            (api("insufficient_scope", "", 403), ErrorCode::NoAccess),
            (api("ACCESS_DENIED", "", 403), ErrorCode::PlanRestricted),
            (api("ACCESS_DENIED", "", 400), ErrorCode::NoAccess),
            (api("NOT_FOUND", "", 400), ErrorCode::NotFound),
            (api("QUERY_LIMIT_EXCEEDED", "", 503), ErrorCode::RateLimited),
            (api("OPERATION_TIME_LIMIT", "", 429), ErrorCode::RateLimited),
            (api("OVERLOAD_LIMIT", "", 503), ErrorCode::PortalBlocked),
            (api("INTERNAL_SERVER_ERROR", "", 500), ErrorCode::Offline),
            (BitrixError::Timeout, ErrorCode::Offline),
            (
                BitrixError::Network {
                    message: "refused".into(),
                    not_sent: true,
                },
                ErrorCode::Offline,
            ),
            (
                BitrixError::InvalidWebhook("not a URL".into()),
                ErrorCode::InvalidInput,
            ),
            (
                BitrixError::InvalidRequest("too many".into()),
                ErrorCode::Internal,
            ),
        ];
        for (error, expected) in cases {
            assert_eq!(error.user_code(), expected, "{error}");
        }
    }
}
