//! Turning core-crate errors into the `{code, message}` the UI acts on.

use kartoteka_bitrix::BitrixError;
use kartoteka_domain::ipc::IpcError;

/// A client error for the UI, classified by the client's one classification
/// ([`BitrixError::user_code`], shared with sync). The message is the client's own text, which
/// never contains the webhook secret (the client scrubs it).
pub fn from_bitrix(error: &BitrixError) -> IpcError {
    IpcError::new(error.user_code(), error.to_string())
}
