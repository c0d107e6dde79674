//! Sync errors, and the small closed set of codes the UI acts on.

use kartoteka_domain::ipc::ErrorCode;
use serde::Serialize;

/// What kind of portal failure a call met; decides whether sync retries, stops or asks the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum PortalFailure {
    /// The webhook or token was refused: ask for a new one, retrying does not help.
    Auth,
    /// Rate limit, server overload, 5xx, HTML page, timeout, dropped connection: retry later.
    RetryLater,
    /// The record does not exist (deleted on the portal).
    NotFound,
    /// The record exists but the signed-in user may not read it.
    AccessDenied,
    /// Anything else that retrying will not fix.
    Permanent,
}

/// A failed portal call. The message never carries the webhook secret (the client redacts it).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind:?}: {message}")]
pub struct PortalError {
    pub kind: PortalFailure,
    /// What the user is told: the client's classification ([`kartoteka_bitrix::BitrixError::user_code`]),
    /// the same one connect and counts use.
    pub user_code: ErrorCode,
    pub message: String,
}

impl PortalError {
    /// A failure met without a client error to classify; the user is told the plain meaning of
    /// `kind`.
    pub fn new(kind: PortalFailure, message: impl Into<String>) -> Self {
        let user_code = match kind {
            PortalFailure::Auth => ErrorCode::Auth,
            PortalFailure::RetryLater => ErrorCode::Offline,
            PortalFailure::NotFound => ErrorCode::NotFound,
            PortalFailure::AccessDenied => ErrorCode::NoAccess,
            PortalFailure::Permanent => ErrorCode::Internal,
        };
        Self {
            kind,
            user_code,
            message: message.into(),
        }
    }

    /// Replaces the user's code with the client's classification of the failure.
    pub fn with_user_code(mut self, user_code: ErrorCode) -> Self {
        self.user_code = user_code;
        self
    }

    pub fn is_retryable(&self) -> bool {
        self.kind == PortalFailure::RetryLater
    }
}

/// The codes a failed sync reports to the UI; each one is something the UI acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum SyncErrorCode {
    /// Ask the user for a new webhook; the replica and outbox are kept.
    Auth,
    /// The portal cannot be reached right now; the scheduler retries by itself.
    Offline,
    /// The user (or shutdown) cancelled; the next run resumes where this one stopped.
    Cancelled,
    /// The portal refused the request in a way retrying does not fix.
    Portal,
    /// The local database failed.
    Storage,
}

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("portal call failed: {0}")]
    Portal(#[from] PortalError),
    #[error("replica failed: {0}")]
    Replica(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error("sync cancelled")]
    Cancelled,
    #[error("replica task stopped unexpectedly")]
    TaskFailed,
}

impl SyncError {
    pub fn replica(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Replica(Box::new(e))
    }

    pub fn code(&self) -> SyncErrorCode {
        match self {
            SyncError::Portal(e) => match e.kind {
                PortalFailure::Auth => SyncErrorCode::Auth,
                PortalFailure::RetryLater => SyncErrorCode::Offline,
                PortalFailure::NotFound
                | PortalFailure::AccessDenied
                | PortalFailure::Permanent => SyncErrorCode::Portal,
            },
            SyncError::Replica(_) | SyncError::TaskFailed => SyncErrorCode::Storage,
            SyncError::Cancelled => SyncErrorCode::Cancelled,
        }
    }

    /// What the user is told about this failure (one UI message per code).
    pub fn user_code(&self) -> ErrorCode {
        match self {
            SyncError::Portal(e) => e.user_code,
            SyncError::Replica(_) | SyncError::TaskFailed => ErrorCode::Storage,
            SyncError::Cancelled => ErrorCode::Internal,
        }
    }

    /// Whether running the sync again later can succeed without the user doing anything.
    pub fn is_retryable(&self) -> bool {
        matches!(self, SyncError::Portal(e) if e.is_retryable())
    }
}
