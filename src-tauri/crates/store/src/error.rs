//! The store's one error type.

use kartoteka_domain::EntityType;

/// Everything that can go wrong in the replica. None of the messages carry record contents.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database file was written by a newer Kartoteka. It is left exactly as it was; the UI
    /// explains (in Russian and English) that the app must be updated.
    #[error(
        "the database was created by a newer version of Kartoteka (schema {found}, this version \
         supports up to {supported}); update the app — the file was not changed"
    )]
    TooNew { found: i64, supported: i64 },

    /// A record's key cannot be stored (id out of range, or a record of another type in the batch).
    #[error("record key not accepted: {entity_type} #{id}: {reason}")]
    InvalidKey {
        entity_type: EntityType,
        id: i64,
        reason: &'static str,
    },

    /// A page cursor that does not belong to the requested sort order.
    #[error("the page cursor does not match the sort order")]
    BadCursor,

    /// The signed-in user may not do this (hiding history entries is for supervisors).
    #[error("not allowed: {0}")]
    NotAllowed(&'static str),

    /// A file of unsent edits made on another portal or by another user: nothing was imported.
    #[error(
        "these unsent edits were made on {file_portal} by {file_user}; this replica is \
         {here_portal} ({here_user}) — nothing was imported"
    )]
    ForeignEdits {
        file_portal: String,
        file_user: String,
        here_portal: String,
        here_user: String,
    },

    /// A file of unsent edits of the first format names no portal and no user: imported only
    /// once the user confirms they were made here.
    #[error(
        "the file does not say which portal and user its edits were made for; confirm they \
         were made on {} by {here_user} to import them", here_portal.as_deref().unwrap_or("this portal")
    )]
    EditsOriginUnknown {
        here_portal: Option<String>,
        here_user: String,
    },

    /// A save was refused before anything was queued: the field problems, in Russian and English.
    #[error("the save was refused: {}", .0.iter().map(|p| p.message_en.as_str()).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<kartoteka_domain::edit::FieldProblem>),

    /// The thing asked for does not exist (a history entry that is not there).
    #[error("not found")]
    NotFound,

    /// A value read back from the database has a shape this version does not understand.
    #[error("unexpected value in column {column}: {detail}")]
    Corrupt {
        column: &'static str,
        detail: String,
    },

    /// Bringing an older replica's schema up to date failed. Nothing of the upgrade was
    /// committed: the file is as it was, and `copy` (when one could be made) is a copy of it from
    /// just before the upgrade. `step` is the version whose step failed; `None` when the copy
    /// itself could not be made, so the upgrade was not tried.
    #[error("{}", upgrade_failed(*.from, *.to, *.step, .reason, .copy.as_deref()))]
    UpgradeFailed {
        from: i64,
        to: i64,
        step: Option<i64>,
        reason: String,
        copy: Option<std::path::PathBuf>,
    },

    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),

    #[error("JSON error: {0}")]
    Json(#[from] serde_json::Error),

    #[error("cannot open database file: {0}")]
    Io(#[from] std::io::Error),
}

fn upgrade_failed(
    from: i64,
    to: i64,
    step: Option<i64>,
    reason: &str,
    copy: Option<&std::path::Path>,
) -> String {
    let head = format!("the replica could not be upgraded from schema {from} to {to}");
    match (step, copy) {
        (None, _) => format!(
            "{head}: no copy of it could be made first ({reason}), so the upgrade was not \
             tried; the file was not changed"
        ),
        (Some(step), Some(copy)) => format!(
            "{head}: step {step} failed ({reason}); the file was not changed, and a copy of it \
             from before the upgrade is at {}",
            copy.display()
        ),
        (Some(step), None) => {
            format!("{head}: step {step} failed ({reason}); the file was not changed")
        }
    }
}

impl StoreError {
    pub(crate) fn corrupt(column: &'static str, detail: impl Into<String>) -> Self {
        StoreError::Corrupt {
            column,
            detail: detail.into(),
        }
    }
}
