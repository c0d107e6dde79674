//! Local edits (product.md §5, issue 8): saving a record's changes, creating, deleting and
//! restoring records and reverting history entries, each one local transaction in the store
//! (replica row + outbox entries + history events). After the commit the UI is told (lists,
//! cards, the outbox badge) and the scheduler is asked to upload soon.

use crate::api::history::{from_history_store, local_actor};
use crate::api::Core;
use chrono::Utc;
use kartoteka_domain::edit::{
    EditSaved, FieldProblem, HistoryRevertRequest, RecordCreateRequest, RecordDeleteRequest,
    RecordRestoreRequest, RecordUpdateRequest,
};
use kartoteka_domain::ipc::{AppEvent, ErrorCode, IpcError};
use kartoteka_domain::EntityType;
use kartoteka_store::{LocalActor, Store, StoreError};

/// The refusal of an edit that failed validation: `InvalidInput`, with the problems as JSON in
/// the `problems` parameter so the form shows each next to its field.
pub fn invalid_edit(problems: &[FieldProblem]) -> IpcError {
    let fields: Vec<&str> = problems.iter().map(|p| p.field.as_str()).collect();
    let error = IpcError::new(
        ErrorCode::InvalidInput,
        format!("the edit was not saved: check {}", fields.join(", ")),
    );
    match serde_json::to_string(problems) {
        Ok(json) => error.with_param("problems", json),
        Err(_) => error,
    }
}

/// A store error of an edit for the UI.
pub fn from_edit_store(error: &StoreError) -> IpcError {
    match error {
        StoreError::Invalid(problems) => invalid_edit(problems),
        StoreError::InvalidKey { .. } => IpcError::new(ErrorCode::NotFound, error.to_string()),
        // The record or entry is not in a state for this (deleted, already closed).
        StoreError::NotAllowed(why) => IpcError::new(ErrorCode::InvalidInput, *why),
        StoreError::NotFound => IpcError::new(ErrorCode::NotFound, "no such record or entry"),
        StoreError::ForeignEdits {
            file_portal,
            file_user,
            here_portal,
            here_user,
        } => IpcError::new(ErrorCode::EditsFromElsewhere, error.to_string())
            .with_param("filePortal", file_portal)
            .with_param("fileUser", file_user)
            .with_param("herePortal", here_portal)
            .with_param("hereUser", here_user),
        StoreError::EditsOriginUnknown {
            here_portal,
            here_user,
        } => IpcError::new(ErrorCode::EditsOriginUnknown, error.to_string())
            .with_param("herePortal", here_portal.as_deref().unwrap_or_default())
            .with_param("hereUser", here_user),
        other => from_history_store(other),
    }
}

impl Core {
    /// Whether edits made now are made online (the portal answers and the user has not chosen
    /// to work offline): history records the source.
    pub(crate) fn edits_online(&self) -> bool {
        self.is_online() && !self.works_offline()
    }

    /// Runs one save as this device's user, then tells the UI and asks for an upload.
    pub(crate) fn save_edit(
        &self,
        save: impl FnOnce(&mut Store, &LocalActor, i64) -> Result<EditSaved, StoreError>,
    ) -> Result<EditSaved, IpcError> {
        let online = self.edits_online();
        let now_ms = Utc::now().timestamp_millis();
        let saved = self.with_replica_mut(|store| {
            let actor = local_actor(store, online).map_err(|e| from_history_store(&e))?;
            save(store, &actor, now_ms).map_err(|e| from_edit_store(&e))
        })?;
        tracing::info!(
            entity_type = %saved.key.entity_type,
            id = saved.key.id,
            queued = saved.queued,
            events = saved.history_seqs.len(),
            "local edit saved"
        );
        self.after_outbox_change(Some(saved.key.entity_type), saved.queued > 0);
        Ok(saved)
    }

    /// After a committed change of records or the outbox: the UI reloads what it shows, and
    /// when something waits for upload the scheduler is asked to run (unless working offline).
    pub(crate) fn after_outbox_change(&self, changed: Option<EntityType>, upload: bool) {
        if let Some(t) = changed {
            self.events.send(AppEvent::RecordsChanged {
                entity_types: vec![t],
            });
        }
        self.events.send(AppEvent::OutboxChanged {});
        if upload {
            self.upload_soon();
        }
    }

    /// Asks the scheduler for a run now (it uploads, then pulls), unless working offline.
    pub(crate) fn upload_soon(&self) {
        if self.works_offline() {
            return;
        }
        if let Err(error) = self.with_scheduler(|s| s.sync_now()) {
            tracing::debug!(code = ?error.code, "no scheduler to upload the edit");
        }
    }

    pub async fn record_update(&self, request: RecordUpdateRequest) -> Result<EditSaved, IpcError> {
        let RecordUpdateRequest { key, edit } = request;
        self.save_edit(|store, actor, now| store.edit_record(actor, key, &edit, now))
    }

    pub async fn record_create(&self, request: RecordCreateRequest) -> Result<EditSaved, IpcError> {
        let RecordCreateRequest { entity_type, edit } = request;
        self.save_edit(|store, actor, now| store.create_record(actor, entity_type, &edit, now))
    }

    pub async fn record_delete(&self, request: RecordDeleteRequest) -> Result<EditSaved, IpcError> {
        let key = request.key;
        self.save_edit(|store, actor, now| store.delete_record(actor, key, now))
    }

    pub async fn record_restore(
        &self,
        request: RecordRestoreRequest,
    ) -> Result<EditSaved, IpcError> {
        let key = request.key;
        self.save_edit(|store, actor, now| store.restore_record(actor, key, now))
    }

    pub async fn history_revert(
        &self,
        request: HistoryRevertRequest,
    ) -> Result<EditSaved, IpcError> {
        let seq = request.seq;
        self.save_edit(|store, actor, now| store.revert_history_event(actor, seq, now))
    }
}

#[cfg(test)]
#[path = "edits_tests.rs"]
mod tests;
