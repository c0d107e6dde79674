//! Turning core-crate errors into the `{code, message}` the UI acts on.

use kartoteka_bitrix::{BitrixError, ErrorClass};
use kartoteka_domain::ipc::{ErrorCode, IpcError};

/// Codes the portal sends when we call too fast or for too long.
const RATE_LIMIT_CODES: &[&str] = &["QUERY_LIMIT_EXCEEDED", "OPERATION_TIME_LIMIT"];
/// Codes that mean "the webhook's scope is too narrow".
const SCOPE_CODES: &[&str] = &["insufficient_scope", "invalid_scope", "WRONG_AUTH_TYPE"];

/// Classifies a client error for the UI. The message is the client's own text, which never
/// contains the webhook secret (the client scrubs it).
pub fn from_bitrix(error: &BitrixError) -> IpcError {
    let code = match error {
        BitrixError::Network { .. } | BitrixError::Timeout => ErrorCode::Offline,
        BitrixError::InvalidWebhook(_) | BitrixError::Redirected { .. } => ErrorCode::InvalidInput,
        BitrixError::InvalidRequest(_) | BitrixError::Setup(_) => ErrorCode::Internal,
        BitrixError::MalformedResponse { .. } => ErrorCode::Offline,
        BitrixError::Api {
            code, http_status, ..
        } => match error.class() {
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
            ErrorClass::Permanent if error.is_not_found() => ErrorCode::NotFound,
            ErrorClass::Permanent if error.is_access_denied() => ErrorCode::NoAccess,
            ErrorClass::Permanent | ErrorClass::Conflict => ErrorCode::Internal,
        },
    };
    IpcError::new(code, error.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(code: &str, http_status: u16) -> BitrixError {
        BitrixError::Api {
            code: code.into(),
            description: "d".into(),
            http_status,
        }
    }

    #[test]
    fn portal_errors_map_to_what_the_user_must_do() {
        let cases = [
            (api("NO_AUTH_FOUND", 401), ErrorCode::Auth),
            (api("expired_token", 401), ErrorCode::Auth),
            (api("insufficient_scope", 403), ErrorCode::NoAccess),
            (api("ACCESS_DENIED", 403), ErrorCode::PlanRestricted),
            (api("ACCESS_DENIED", 400), ErrorCode::NoAccess),
            (api("NOT_FOUND", 400), ErrorCode::NotFound),
            (api("QUERY_LIMIT_EXCEEDED", 503), ErrorCode::RateLimited),
            (api("OPERATION_TIME_LIMIT", 429), ErrorCode::RateLimited),
            (api("OVERLOAD_LIMIT", 503), ErrorCode::PortalBlocked),
            (api("INTERNAL_SERVER_ERROR", 500), ErrorCode::Offline),
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
            assert_eq!(from_bitrix(&error).code, expected, "{error}");
        }
    }
}
