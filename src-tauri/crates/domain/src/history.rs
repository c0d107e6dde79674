//! History: the events of product.md §4.1, their provenance (§4.2), the filter the global page and
//! the command line offer, and the IPC types of the history commands.
//!
//! Events are append-only. Values are kept twice: as stored (JSON text, exactly what the portal
//! or the edit had) and as displayed at the time (stage names, list items, user names resolved
//! when the event was recorded), so renaming a stage or a custom field later changes nothing
//! that an old event says.

use crate::{EntityType, RecordKey};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// What an event records (product.md §4.1). The code is what the command line and exports use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum HistoryEventCode {
    View,
    Created,
    FieldChanged,
    StageChanged,
    MultifieldAdded,
    MultifieldChanged,
    MultifieldRemoved,
    LinkAdded,
    LinkRemoved,
    Deleted,
    Restored,
    ActivityCreated,
    ProductChanged,
    Conflict,
    Resolved,
    Reverted,
    Exported,
    /// A supervisor hid an entry (the entry stays, marked, for supervisors).
    Hidden,
}

impl HistoryEventCode {
    pub const ALL: [HistoryEventCode; 18] = [
        HistoryEventCode::View,
        HistoryEventCode::Created,
        HistoryEventCode::FieldChanged,
        HistoryEventCode::StageChanged,
        HistoryEventCode::MultifieldAdded,
        HistoryEventCode::MultifieldChanged,
        HistoryEventCode::MultifieldRemoved,
        HistoryEventCode::LinkAdded,
        HistoryEventCode::LinkRemoved,
        HistoryEventCode::Deleted,
        HistoryEventCode::Restored,
        HistoryEventCode::ActivityCreated,
        HistoryEventCode::ProductChanged,
        HistoryEventCode::Conflict,
        HistoryEventCode::Resolved,
        HistoryEventCode::Reverted,
        HistoryEventCode::Exported,
        HistoryEventCode::Hidden,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            HistoryEventCode::View => "view",
            HistoryEventCode::Created => "created",
            HistoryEventCode::FieldChanged => "field_changed",
            HistoryEventCode::StageChanged => "stage_changed",
            HistoryEventCode::MultifieldAdded => "multifield_added",
            HistoryEventCode::MultifieldChanged => "multifield_changed",
            HistoryEventCode::MultifieldRemoved => "multifield_removed",
            HistoryEventCode::LinkAdded => "link_added",
            HistoryEventCode::LinkRemoved => "link_removed",
            HistoryEventCode::Deleted => "deleted",
            HistoryEventCode::Restored => "restored",
            HistoryEventCode::ActivityCreated => "activity_created",
            HistoryEventCode::ProductChanged => "product_changed",
            HistoryEventCode::Conflict => "conflict",
            HistoryEventCode::Resolved => "resolved",
            HistoryEventCode::Reverted => "reverted",
            HistoryEventCode::Exported => "exported",
            HistoryEventCode::Hidden => "hidden",
        }
    }

    /// The Russian label users know from Bitrix24 (exports and the command line; the UI has its
    /// own dictionary in both languages).
    pub const fn label_ru(self) -> &'static str {
        match self {
            HistoryEventCode::View => "Просмотр",
            HistoryEventCode::Created => "Создан",
            HistoryEventCode::FieldChanged => "Изменено поле",
            HistoryEventCode::StageChanged => "Стадия изменена",
            HistoryEventCode::MultifieldAdded => "Добавлено поле",
            HistoryEventCode::MultifieldChanged => "Изменено поле",
            HistoryEventCode::MultifieldRemoved => "Удалено поле",
            HistoryEventCode::LinkAdded => "Добавлена связь",
            HistoryEventCode::LinkRemoved => "Удалена связь",
            HistoryEventCode::Deleted => "Удалён",
            HistoryEventCode::Restored => "Восстановлен",
            HistoryEventCode::ActivityCreated => "Создано действие",
            HistoryEventCode::ProductChanged => "Изменён товар",
            HistoryEventCode::Conflict => "Конфликт",
            HistoryEventCode::Resolved => "Конфликт разрешён",
            HistoryEventCode::Reverted => "Изменение отменено",
            HistoryEventCode::Exported => "Выгрузка",
            HistoryEventCode::Hidden => "Запись скрыта",
        }
    }
}

impl fmt::Display for HistoryEventCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A code that names no event, source, author kind or sync state.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown history code `{0}`")]
pub struct UnknownCode(pub String);

/// `FromStr` for a coded enum: the variant in `ALL` whose `as_str()` is the text.
macro_rules! parse_by_code {
    ($t:ty) => {
        impl FromStr for $t {
            type Err = UnknownCode;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                <$t>::ALL
                    .into_iter()
                    .find(|c| c.as_str() == s)
                    .ok_or_else(|| UnknownCode(s.to_string()))
            }
        }
    };
}

parse_by_code!(HistoryEventCode);

/// Who made a change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub enum AuthorKind {
    /// A portal user, seen through sync.
    Person,
    /// A robot, a business process or an integration (a technical user).
    Robot,
    /// The user of this device (edits, views and exports made here).
    DeviceUser,
    /// Nobody the portal names: a change found in a record whose last update was this user's
    /// own upload (the portal then names us as `updatedBy`, not whoever changed the other
    /// fields), a restore from the recycle bin (it keeps the old `updatedBy`), a deletion.
    Unknown,
}

impl AuthorKind {
    pub const ALL: [AuthorKind; 4] = [
        AuthorKind::Person,
        AuthorKind::Robot,
        AuthorKind::DeviceUser,
        AuthorKind::Unknown,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            AuthorKind::Person => "person",
            AuthorKind::Robot => "robot",
            AuthorKind::DeviceUser => "deviceUser",
            AuthorKind::Unknown => "unknown",
        }
    }
}

parse_by_code!(AuthorKind);

/// Where an event comes from (product.md §4.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub enum HistorySource {
    /// Made on this device while online.
    DeviceOnline,
    /// Made on this device while offline.
    DeviceOffline,
    /// Another Kartoteka user's uploaded change log (exact entries).
    PeerLog,
    /// A difference found by comparing the replica with what sync brought.
    Observed,
    /// The portal's own stage history (`crm.stagehistory.list`, exact time and author).
    StageHistory,
}

impl HistorySource {
    pub const ALL: [HistorySource; 5] = [
        HistorySource::DeviceOnline,
        HistorySource::DeviceOffline,
        HistorySource::PeerLog,
        HistorySource::Observed,
        HistorySource::StageHistory,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            HistorySource::DeviceOnline => "deviceOnline",
            HistorySource::DeviceOffline => "deviceOffline",
            HistorySource::PeerLog => "peerLog",
            HistorySource::Observed => "observed",
            HistorySource::StageHistory => "stageHistory",
        }
    }

    pub const fn label_ru(self) -> &'static str {
        match self {
            HistorySource::DeviceOnline => "Это устройство (онлайн)",
            HistorySource::DeviceOffline => "Это устройство (офлайн)",
            HistorySource::PeerLog => "Журнал другого пользователя Картотеки",
            HistorySource::Observed => "Замечено при синхронизации",
            HistorySource::StageHistory => "История стадий портала",
        }
    }
}

parse_by_code!(HistorySource);

/// Where an event stands with the portal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub enum HistorySyncState {
    /// The portal has it (everything sync observed; local edits once uploaded).
    Synced,
    /// A local edit not yet uploaded.
    Pending,
    /// A local edit that met a newer server value.
    Conflict,
    /// A local edit the portal refused.
    Rejected,
    /// Local only by nature (views, exports, hidings).
    Local,
}

impl HistorySyncState {
    pub const ALL: [HistorySyncState; 5] = [
        HistorySyncState::Synced,
        HistorySyncState::Pending,
        HistorySyncState::Conflict,
        HistorySyncState::Rejected,
        HistorySyncState::Local,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            HistorySyncState::Synced => "synced",
            HistorySyncState::Pending => "pending",
            HistorySyncState::Conflict => "conflict",
            HistorySyncState::Rejected => "rejected",
            HistorySyncState::Local => "local",
        }
    }
}

parse_by_code!(HistorySyncState);

/// One history event as lists, cards, exports and the command line show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct HistoryEvent {
    /// Append order; unique. Also the handle to hide an entry.
    #[ts(type = "number")]
    pub seq: i64,
    /// The record; `None` for events about no one record (an export).
    pub record: Option<RecordKey>,
    /// The record's title when the event was recorded.
    pub record_title: String,
    pub happened_at: DateTime<Utc>,
    /// When the portal received the change (or when this device learnt of it).
    pub received_at: Option<DateTime<Utc>>,
    #[ts(type = "number | null")]
    pub author_id: Option<i64>,
    /// The author's name when the event was recorded.
    pub author_name: String,
    pub author_kind: AuthorKind,
    pub source: HistorySource,
    pub sync_state: HistorySyncState,
    pub device_id: Option<String>,
    /// One save of several fields is one group.
    #[ts(type = "number")]
    pub group_id: i64,
    pub event: HistoryEventCode,
    /// The field's name (`opportunity`, `UF_CRM_…`, `fm.PHONE`, `link.contact`), when the event
    /// is about one field.
    pub field: Option<String>,
    /// The field's label as it was then.
    pub field_label: Option<String>,
    /// Old and new values as stored (JSON text).
    pub old_value: Option<String>,
    pub new_value: Option<String>,
    /// Old and new values as displayed then (names, labels, formatted amounts).
    pub old_display: Option<String>,
    pub new_display: Option<String>,
    pub note: Option<String>,
    /// Hidden by a supervisor (only supervisors see such entries at all).
    pub hidden: bool,
}

/// Which events to show. Every part is optional; all given parts must match.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct HistoryFilter {
    pub entity_type: Option<EntityType>,
    pub record: Option<RecordKey>,
    /// From this moment on (inclusive).
    pub from: Option<DateTime<Utc>>,
    /// Before this moment (exclusive).
    pub to: Option<DateTime<Utc>>,
    #[ts(type = "number | null")]
    pub author_id: Option<i64>,
    /// Any of these events; empty means any.
    pub events: Vec<HistoryEventCode>,
    pub field: Option<String>,
    pub source: Option<HistorySource>,
    /// Words matched against values, titles, labels and notes.
    pub text: Option<String>,
}

/// Where a page of events starts (newest first): after this event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct HistoryCursor {
    #[ts(type = "number")]
    pub happened_at_ms: i64,
    #[ts(type = "number")]
    pub seq: i64,
}

// ---------------------------------------------------------------------------------------------
// IPC
// ---------------------------------------------------------------------------------------------

/// One page of the global History page or a card's History tab (a filter with `record`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct HistoryListRequest {
    pub filter: HistoryFilter,
    pub cursor: Option<HistoryCursor>,
    pub limit: u32,
    /// Also return the exact total of the filter (the first page asks; later pages need not).
    pub with_total: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct HistoryPage {
    pub events: Vec<HistoryEvent>,
    /// Where the next page starts; `None` on the last page.
    pub next_cursor: Option<HistoryCursor>,
    #[ts(type = "number | null")]
    pub total: Option<u64>,
}

/// What the filters of the History page offer: fields that occur in events, with their labels.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct HistoryFacetsRequest {}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct HistoryFieldOption {
    pub field: String,
    pub label: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct HistoryAuthorOption {
    #[ts(type = "number")]
    pub id: i64,
    pub name: String,
    pub kind: AuthorKind,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct HistoryFacets {
    pub fields: Vec<HistoryFieldOption>,
    pub authors: Vec<HistoryAuthorOption>,
    /// The signed-in user (for the "by me" preset), when known.
    #[ts(type = "number | null")]
    pub me: Option<i64>,
    /// The signed-in user may hide entries (a portal administrator or a department head).
    pub is_supervisor: bool,
}

/// The record as it was at a moment, rebuilt from its events.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct RecordAsOfRequest {
    pub key: RecordKey,
    pub at: DateTime<Utc>,
}

/// One field's value at the chosen moment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct AsOfField {
    pub field: String,
    pub label: String,
    /// As displayed (when known), else the stored value.
    pub value: Option<String>,
    /// The value changed after that moment (the card shows what was different).
    pub changed_since: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct RecordAsOf {
    pub key: RecordKey,
    pub at: DateTime<Utc>,
    pub fields: Vec<AsOfField>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub enum ExportFormat {
    Xlsx,
    Csv,
}

impl ExportFormat {
    pub const fn extension(self) -> &'static str {
        match self {
            ExportFormat::Xlsx => "xlsx",
            ExportFormat::Csv => "csv",
        }
    }
}

/// Export exactly what the filter shows to a file. Progress arrives as events; cancel with
/// `history_export_cancel`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct HistoryExportRequest {
    pub filter: HistoryFilter,
    pub format: ExportFormat,
    /// Where to write; `None`: the user's Downloads folder with a dated name.
    pub path: Option<String>,
    /// The columns, in order (the page's column settings); empty means all.
    pub columns: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct HistoryExportResult {
    pub path: String,
    #[ts(type = "number")]
    pub rows: u64,
    pub cancelled: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct HistoryExportCancelRequest {}

/// Hide an entry (supervisors only), with a reason. The hiding is itself an event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct HistoryHideRequest {
    #[ts(type = "number")]
    pub seq: i64,
    pub reason: String,
}

/// The hiding event recorded by `history_hide`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct HistoryHidden {
    #[ts(type = "number")]
    pub seq: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_round_trips_through_its_text_form() {
        for code in HistoryEventCode::ALL {
            assert_eq!(code.as_str().parse::<HistoryEventCode>(), Ok(code));
            assert_eq!(
                serde_json::to_value(code).ok(),
                Some(serde_json::Value::String(code.as_str().to_string())),
                "the JSON form and the command-line form must be one spelling"
            );
        }
        for s in HistorySource::ALL {
            assert_eq!(s.as_str().parse::<HistorySource>(), Ok(s));
            assert_eq!(
                serde_json::to_value(s).ok(),
                Some(serde_json::Value::String(s.as_str().to_string()))
            );
        }
        for s in HistorySyncState::ALL {
            assert_eq!(s.as_str().parse::<HistorySyncState>(), Ok(s));
        }
        for k in AuthorKind::ALL {
            assert_eq!(k.as_str().parse::<AuthorKind>(), Ok(k));
        }
        assert!("nonsense".parse::<HistoryEventCode>().is_err());
    }
}
