//! Kartoteka's domain types: entity types, records as the replica keeps them, field metadata,
//! reference lists and the error shape that crosses IPC. Types only, no I/O.

pub mod edit;
pub mod entity;
pub mod field;
pub mod history;
pub mod ipc;
pub mod record;
pub mod reference;
pub mod usertime;

pub use edit::{
    calendar_date, canonical_date, dates_as_days, dates_need_days, same_value, ConflictChoice,
    EditSaved, MultiFieldEdit, OutboxEntry, OutboxOp, OutboxState, OutboxTexts, RecordEdit,
    UncertainChoice, UncertainCreate, LOCAL_ID_BASE,
};
pub use entity::{EntityType, UnknownEntityType};
pub use field::{FieldMeta, FieldOption, FieldType};
pub use history::{
    AuthorKind, HistoryCursor, HistoryEvent, HistoryEventCode, HistoryFilter, HistorySource,
    HistorySyncState,
};
pub use record::{MultiField, MultiFieldKind, Record, RecordKey};
pub use reference::{stage_list_id, Category, Stage, StageSemantics, User, UserKind};
