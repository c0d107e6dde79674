//! Stand-in for the store's local-edit API (issue 8) until `kartoteka-store` provides it: the
//! same signatures, each refusing with "not available yet". Inherent methods win over trait
//! methods, so once the store has them this trait is no longer called and is deleted.

use kartoteka_domain::edit::{
    ConflictChoice, EditSaved, FieldProblem, OutboxList, OutboxListRequest, RecordEdit,
};
use kartoteka_domain::{EntityType, RecordKey};
use kartoteka_store::{LocalActor, Store, StoreError};

const NOT_YET: StoreError = StoreError::NotAllowed("local edits are not available in this build");

#[allow(dead_code)]
pub(crate) trait LocalEdits {
    fn edit_record(
        &mut self,
        actor: &LocalActor,
        key: RecordKey,
        edit: &RecordEdit,
        now_ms: i64,
    ) -> Result<EditSaved, StoreError>;
    fn create_record(
        &mut self,
        actor: &LocalActor,
        t: EntityType,
        edit: &RecordEdit,
        now_ms: i64,
    ) -> Result<EditSaved, StoreError>;
    fn delete_record(
        &mut self,
        actor: &LocalActor,
        key: RecordKey,
        now_ms: i64,
    ) -> Result<EditSaved, StoreError>;
    fn restore_record(
        &mut self,
        actor: &LocalActor,
        key: RecordKey,
        now_ms: i64,
    ) -> Result<EditSaved, StoreError>;
    fn revert_history_event(
        &mut self,
        actor: &LocalActor,
        seq: i64,
        now_ms: i64,
    ) -> Result<EditSaved, StoreError>;
    fn outbox_list(&self, req: &OutboxListRequest) -> Result<OutboxList, StoreError>;
    fn resolve_conflict(
        &mut self,
        actor: &LocalActor,
        id: i64,
        choice: &ConflictChoice,
        now_ms: i64,
    ) -> Result<EditSaved, StoreError>;
    fn discard_outbox_entry(
        &mut self,
        actor: &LocalActor,
        id: i64,
        now_ms: i64,
    ) -> Result<(), StoreError>;
    fn retry_outbox(&mut self, id: Option<i64>) -> Result<u32, StoreError>;
    fn validate_edit(
        &self,
        t: EntityType,
        key: Option<RecordKey>,
        edit: &RecordEdit,
    ) -> Result<Vec<FieldProblem>, StoreError>;
}

impl LocalEdits for Store {
    fn edit_record(
        &mut self,
        _: &LocalActor,
        _: RecordKey,
        _: &RecordEdit,
        _: i64,
    ) -> Result<EditSaved, StoreError> {
        Err(NOT_YET)
    }
    fn create_record(
        &mut self,
        _: &LocalActor,
        _: EntityType,
        _: &RecordEdit,
        _: i64,
    ) -> Result<EditSaved, StoreError> {
        Err(NOT_YET)
    }
    fn delete_record(
        &mut self,
        _: &LocalActor,
        _: RecordKey,
        _: i64,
    ) -> Result<EditSaved, StoreError> {
        Err(NOT_YET)
    }
    fn restore_record(
        &mut self,
        _: &LocalActor,
        _: RecordKey,
        _: i64,
    ) -> Result<EditSaved, StoreError> {
        Err(NOT_YET)
    }
    fn revert_history_event(
        &mut self,
        _: &LocalActor,
        _: i64,
        _: i64,
    ) -> Result<EditSaved, StoreError> {
        Err(NOT_YET)
    }
    fn outbox_list(&self, _: &OutboxListRequest) -> Result<OutboxList, StoreError> {
        Ok(OutboxList {
            entries: Vec::new(),
            open: 0,
            conflicts: 0,
        })
    }
    fn resolve_conflict(
        &mut self,
        _: &LocalActor,
        _: i64,
        _: &ConflictChoice,
        _: i64,
    ) -> Result<EditSaved, StoreError> {
        Err(NOT_YET)
    }
    fn discard_outbox_entry(&mut self, _: &LocalActor, _: i64, _: i64) -> Result<(), StoreError> {
        Err(NOT_YET)
    }
    fn retry_outbox(&mut self, _: Option<i64>) -> Result<u32, StoreError> {
        Err(NOT_YET)
    }
    fn validate_edit(
        &self,
        _: EntityType,
        _: Option<RecordKey>,
        _: &RecordEdit,
    ) -> Result<Vec<FieldProblem>, StoreError> {
        Ok(Vec::new())
    }
}
