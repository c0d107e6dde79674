//! Local edits (product.md §5): what a person changes on this device, the outbox entries that
//! carry each change to the portal, and the requests the UI and the command line send.
//!
//! A record created here has a **local id** (at or above [`LOCAL_ID_BASE`]) until the portal
//! gives it one; links to it and later edits of it follow the new id. Local ids sit at the top
//! of the 48-bit id range the replica keys by: the portal's ids (MySQL `INT UNSIGNED`, below
//! 2^32) can never reach them, and every per-type key range of the replica stays intact.

use crate::history::HistorySource;
use crate::record::{MultiFieldKind, RecordKey};
use crate::EntityType;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The first local id (2^47).
pub const LOCAL_ID_BASE: i64 = 1 << 47;

impl RecordKey {
    /// Created on this device and not yet on the portal.
    pub fn is_local(&self) -> bool {
        self.id >= LOCAL_ID_BASE
    }
}

/// The calendar date a date-only value stands for. A portal renders a date as 00:00 UTC of it
/// shown in the portal's zone (`2026-03-13T03:00:00+03:00` in Moscow, `2026-03-12T19:00:00-05:00`
/// in New York: `CRestUtil::ConvertDate` is `date('c', MakeTimeStamp($d) + date("Z"))`), and
/// since `date("Z")` is the offset in force when the value is *read*, a zone with summer time
/// moves it an hour either side of midnight. So a value with a time and an offset is read as the
/// date of the **nearest** UTC midnight; `YYYY-MM-DD`, `DD.MM.YYYY` and a date with a time but no
/// offset (as a person types it) are the date written.
pub fn calendar_date(v: &Value) -> Option<chrono::NaiveDate> {
    let s = v.as_str()?.trim();
    let typed = |s: &str| {
        chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .or_else(|_| chrono::NaiveDate::parse_from_str(s, "%d.%m.%Y"))
            .ok()
    };
    if s.len() <= 10 {
        return typed(s);
    }
    match chrono::DateTime::parse_from_rfc3339(s)
        .or_else(|_| chrono::DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%z"))
    {
        Ok(t) => chrono::DateTime::from_timestamp(
            (t.timestamp() + 43_200).div_euclid(86_400) * 86_400,
            0,
        )
        .map(|d| d.date_naive()),
        Err(_) => typed(s.get(..10)?),
    }
}

/// A date-only value in the form Kartoteka keeps and writes, `YYYY-MM-DD` (a portal reads it on
/// its own clock, so it is the same day in every zone). `None` when `v` is no date or is in that
/// form already.
pub fn canonical_date(v: &Value) -> Option<Value> {
    let day = calendar_date(v)?.format("%Y-%m-%d").to_string();
    (v.as_str() != Some(day.as_str())).then_some(Value::String(day))
}

/// Whether [`dates_as_days`] would change any of the date-only fields `names`.
pub fn dates_need_days(fields: &Map<String, Value>, names: &[String]) -> bool {
    names.iter().any(|n| match fields.get(n) {
        Some(Value::Array(items)) => items.iter().any(|x| canonical_date(x).is_some()),
        Some(v) => canonical_date(v).is_some(),
        None => false,
    })
}

/// Puts the date-only fields `names` (single or multiple) in the form [`canonical_date`] gives.
pub fn dates_as_days(fields: &mut Map<String, Value>, names: &[String]) {
    let day = |v: &mut Value| {
        if let Some(d) = canonical_date(v) {
            *v = d;
        }
    };
    for n in names {
        match fields.get_mut(n) {
            Some(Value::Array(items)) => items.iter_mut().for_each(day),
            Some(v) => day(v),
            None => {}
        }
    }
}

/// Whether two field values mean the same, as the portal writes them back: numbers by value
/// (`"1500.00"` = `1500`), date-times by instant, a date against a date-only value by
/// [`calendar_date`], yes/no flags by meaning (`"Y"` = `true`), lists element by element, and
/// every empty form alike.
pub fn same_value(a: &Value, b: &Value) -> bool {
    use crate::record::is_empty_value;
    if is_empty_value(a) && is_empty_value(b) {
        return true;
    }
    match (a, b) {
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same_value(p, q))
        }
        (Value::Array(x), other) | (other, Value::Array(x)) if x.len() == 1 => {
            same_value(&x[0], other)
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| same_value(v, w)))
        }
        _ => {
            if let (Some(x), Some(y)) = (number(a), number(b)) {
                return (x - y).abs() < 1e-9;
            }
            if let (Some(x), Some(y)) = (flag(a), flag(b)) {
                return x == y;
            }
            let (Some(x), Some(y)) = (text(a), text(b)) else {
                return a == b;
            };
            if x == y {
                return true;
            }
            if let (Ok(p), Ok(q)) = (
                chrono::DateTime::parse_from_rfc3339(&x),
                chrono::DateTime::parse_from_rfc3339(&y),
            ) {
                return p == q;
            }
            if x.len() == 10 || y.len() == 10 {
                if let (Some(p), Some(q)) = (calendar_date(a), calendar_date(b)) {
                    return p == q;
                }
            }
            false
        }
    }
}

fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => {
            let t = s.trim();
            if t.is_empty()
                || !t
                    .bytes()
                    .all(|b| b.is_ascii_digit() || b == b'.' || b == b'-')
            {
                return None;
            }
            t.parse().ok()
        }
        _ => None,
    }
}

fn flag(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::String(s) if s == "Y" || s == "y" => Some(true),
        Value::String(s) if s == "N" || s == "n" => Some(false),
        _ => None,
    }
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// One change to a phone, e-mail, site or messenger entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "camelCase", rename_all_fields = "camelCase", tag = "op")]
#[ts(export)]
pub enum MultiFieldEdit {
    Add {
        kind: MultiFieldKind,
        value_type: String,
        value: String,
    },
    /// Change an existing entry (by its id) to this type and value.
    Change {
        #[ts(type = "number")]
        id: i64,
        value_type: String,
        value: String,
    },
    Remove {
        #[ts(type = "number")]
        id: i64,
    },
}

/// One save of a record: fields by their `crm.item` names (camelCase system fields, `UF_CRM_*`
/// custom fields) with their new values, and multi-field changes. Links are fields too
/// (`contactIds` — the first is the primary contact —, `companyId`, `companyIds`, `leadId`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct RecordEdit {
    #[ts(type = "Record<string, unknown>")]
    #[serde(default)]
    pub fields: Map<String, Value>,
    #[serde(default)]
    pub multi_fields: Vec<MultiFieldEdit>,
}

impl RecordEdit {
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty() && self.multi_fields.is_empty()
    }
}

/// `record_update`: save changes of an existing record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct RecordUpdateRequest {
    pub key: RecordKey,
    pub edit: RecordEdit,
}

/// `record_create`: a new record, saved here first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct RecordCreateRequest {
    pub entity_type: EntityType,
    pub edit: RecordEdit,
}

/// `record_delete`: move a record to the recycle bin (on the portal at upload).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct RecordDeleteRequest {
    pub key: RecordKey,
}

/// `record_restore`: bring a deleted record back (re-created on the portal at upload).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct RecordRestoreRequest {
    pub key: RecordKey,
}

/// `history_revert`: undo one history entry (a field change, a removed link or phone, an added
/// one) with a new edit recorded as "reverted".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct HistoryRevertRequest {
    #[ts(type = "number")]
    pub seq: i64,
}

/// What a save wrote, committed and durable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct EditSaved {
    /// The record (a new record's local, negative id).
    pub key: RecordKey,
    /// How many outbox entries the save queued (0: nothing changed).
    pub queued: u32,
    /// The history events it recorded.
    #[ts(type = "number[]")]
    pub history_seqs: Vec<i64>,
}

/// What an outbox entry does on the portal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub enum OutboxOp {
    /// Change one field or one multi-field entry.
    Update,
    /// Create the record (all its values in one entry).
    Create,
    /// Move the record to the recycle bin.
    Delete,
}

impl OutboxOp {
    pub const fn as_str(self) -> &'static str {
        match self {
            OutboxOp::Update => "update",
            OutboxOp::Create => "create",
            OutboxOp::Delete => "delete",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [OutboxOp::Update, OutboxOp::Create, OutboxOp::Delete]
            .into_iter()
            .find(|o| o.as_str() == s)
    }
}

/// Where an outbox entry stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub enum OutboxState {
    /// Waiting for the next upload.
    Pending,
    /// Being sent; after a crash the outcome is uncertain (creates are looked up first).
    Sending,
    /// The portal's value changed since our base: the user chooses.
    Conflict,
    /// The record is no longer readable by this user; kept until access returns.
    Blocked,
    /// The portal refused it (`lastError` says why); retry or discard.
    Rejected,
    /// The record was deleted on the portal meanwhile: re-create or discard.
    Gone,
    /// A create sent without an answer that its tag's look-up cannot settle: nothing was found,
    /// but the user could not have seen the record if it was there (it would be assigned to
    /// someone else). Not sent again until the user says whether it reached the portal
    /// ([`UncertainChoice`]); `OutboxEntry::uncertain` says what is known.
    Uncertain,
    Done,
    Discarded,
}

impl OutboxState {
    pub const ALL: [OutboxState; 9] = [
        OutboxState::Pending,
        OutboxState::Sending,
        OutboxState::Conflict,
        OutboxState::Blocked,
        OutboxState::Rejected,
        OutboxState::Gone,
        OutboxState::Uncertain,
        OutboxState::Done,
        OutboxState::Discarded,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            OutboxState::Pending => "pending",
            OutboxState::Sending => "sending",
            OutboxState::Conflict => "conflict",
            OutboxState::Blocked => "blocked",
            OutboxState::Rejected => "rejected",
            OutboxState::Gone => "gone",
            OutboxState::Uncertain => "uncertain",
            OutboxState::Done => "done",
            OutboxState::Discarded => "discarded",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|o| o.as_str() == s)
    }

    /// Still to be uploaded or decided (shown in the badge and the outbox panel).
    pub const fn is_open(self) -> bool {
        !matches!(self, OutboxState::Done | OutboxState::Discarded)
    }
}

/// One outbox entry as the outbox panel and `kartoteka-cli outbox list` show it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct OutboxEntry {
    #[ts(type = "number")]
    pub id: i64,
    pub key: RecordKey,
    pub record_title: String,
    pub op: OutboxOp,
    /// The field (`crm.item` name), `fm:<entry id>` for a phone/e-mail entry, `*` for a create
    /// or delete.
    pub field: String,
    pub field_label: String,
    /// JSON values: what the field was when we changed it, what we set, and (in a conflict)
    /// what the portal has now.
    #[ts(type = "unknown")]
    pub base: Value,
    #[ts(type = "unknown")]
    pub mine: Value,
    #[ts(type = "unknown")]
    pub theirs: Option<Value>,
    /// The three values as a person reads them (linked records by title, stages, users and
    /// list items by name), where the replica can say; `None` for nothing, or for what only the
    /// raw value describes (a create, a phone or e-mail entry).
    #[serde(default)]
    pub texts: OutboxTexts,
    pub state: OutboxState,
    pub attempts: u32,
    pub last_error: Option<String>,
    /// Device time of the edit, UTC unix milliseconds.
    #[ts(type = "number")]
    pub happened_ms: i64,
    pub source: HistorySource,
    /// For an [`OutboxState::Uncertain`] create: what the user is told before choosing.
    #[serde(default)]
    pub uncertain: Option<UncertainCreate>,
}

/// What is known about a create that may or may not be on the portal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct UncertainCreate {
    /// When the send that got no answer went out, UTC unix milliseconds; `None` when this
    /// device does not know (a create imported from a file, or sent by an older version).
    #[ts(type = "number | null")]
    pub sent_ms: Option<i64>,
    /// The responsible the record would have on the portal (the user cannot see their records).
    #[ts(type = "number | null")]
    pub assignee_id: Option<i64>,
    /// Their name as the replica knows it (`#id` when it does not).
    pub assignee_name: String,
    /// Open entries of the same record queued after the create (changes, a deletion): if it
    /// reached the portal, this device cannot send them (it never learns the record's id).
    pub later_entries: u32,
}

/// [`OutboxEntry::texts`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct OutboxTexts {
    pub base: Option<String>,
    pub mine: Option<String>,
    pub theirs: Option<String>,
}

/// `outbox_list`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct OutboxListRequest {
    /// Also entries already uploaded or discarded (newest first, up to `limit`).
    #[serde(default)]
    pub include_closed: bool,
    #[serde(default)]
    pub record: Option<RecordKey>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct OutboxList {
    pub entries: Vec<OutboxEntry>,
    /// Entries still to upload or decide (the badge).
    pub open: u32,
    pub conflicts: u32,
    /// Creates waiting for the user to say whether they reached the portal.
    #[serde(default)]
    pub uncertain: u32,
}

/// How the user settles a conflict on one field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "camelCase", tag = "choice", content = "value")]
#[ts(export)]
pub enum ConflictChoice {
    /// Keep my value: it is uploaded over theirs.
    Mine,
    /// Take the portal's value: my edit is dropped.
    Theirs,
    /// Go back to the value both started from.
    Original,
}

/// `outbox_resolve`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct OutboxResolveRequest {
    #[ts(type = "number")]
    pub id: i64,
    pub choice: ConflictChoice,
}

/// How the user settles an [`OutboxState::Uncertain`] create, after checking Bitrix24.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub enum UncertainChoice {
    /// It is not on the portal (the user checked): send it again, once, without asking again.
    SendAgain,
    /// It is on the portal. Its create is done; the record, which this user may not read, leaves
    /// the replica as a record whose access was lost does, and the entries
    /// queued after the create are discarded: without the portal's id they can never be sent.
    Arrived,
}

/// `outbox_settle`: the user's answer about an uncertain create.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct OutboxSettleRequest {
    #[ts(type = "number")]
    pub id: i64,
    pub choice: UncertainChoice,
}

/// `outbox_retry` (a rejected, gone or pending entry; `None`: every entry due) and
/// `outbox_discard` (with the user's confirmation; recorded in history).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct OutboxEntryRequest {
    #[ts(type = "number | null")]
    pub id: Option<i64>,
}

/// `sync_set_offline`: the "work offline" switch (no upload, no pull while on).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct SyncSetOfflineRequest {
    pub offline: bool,
}

/// Unsent edits exported to a file (sign-out, portal switch, reset) and imported back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct OutboxExportRequest {
    pub path: Option<String>,
}

/// `outbox_import`: the text of a file `outbox_export` wrote (read by the UI from the file the
/// user picked), queued again as this device's edits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct OutboxImportRequest {
    pub content: String,
    /// The user confirmed that the edits of a file which names no portal and no user (the
    /// first file format) were made on this portal by them.
    #[serde(default)]
    pub origin_confirmed: bool,
}

/// Why a save was refused before anything was queued (validation from field metadata).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct FieldProblem {
    pub field: String,
    pub label: String,
    pub message_ru: String,
    pub message_en: String,
}

/// What `outbox_export` wrote: the file and how many unsent entries it holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct OutboxExported {
    pub path: String,
    pub entries: u32,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn values_the_portal_writes_back_differently_are_the_same() {
        for (a, b) in [
            (json!("1500.00"), json!(1500)),
            (json!("1500.5"), json!("1500.50")),
            (
                json!("2026-03-01T09:00:00+03:00"),
                json!("2026-03-01T06:00:00+00:00"),
            ),
            (json!("2026-03-01"), json!("2026-03-01T03:00:00+03:00")),
            // A date read back west of UTC is the evening before, in its zone.
            (json!("2026-03-13"), json!("2026-03-12T19:00:00-05:00")),
            (json!("2026-03-13"), json!("2026-03-13T00:00:00+00:00")),
            (json!("2026-03-13"), json!("2026-03-13T12:00:00+12:00")),
            // Summer time between the date and now: an hour either side of midnight UTC.
            (json!("2026-07-10"), json!("2026-07-09T19:00:00-04:00")),
            (json!("2026-07-10"), json!("2026-07-10T01:00:00+01:00")),
            (json!("Y"), json!(true)),
            (json!(null), json!("")),
            (json!([]), json!(null)),
            (json!([5, 7]), json!(["5", "7"])),
            (json!(12), json!([12])),
        ] {
            assert!(same_value(&a, &b), "{a} and {b} mean the same");
        }
    }

    #[test]
    fn dates_become_days_and_what_is_no_date_is_left_alone() {
        let mut f = serde_json::Map::new();
        f.insert("closedate".into(), json!("2026-03-12T19:00:00-05:00"));
        f.insert(
            "UF_DAYS".into(),
            json!(["13.03.2026", "2026-03-14", "<b>скоро</b>"]),
        );
        f.insert("typed".into(), json!("2026-03-15T23:30:00"));
        let names: Vec<String> = ["closedate", "UF_DAYS", "typed", "missing"]
            .map(String::from)
            .to_vec();
        assert!(dates_need_days(&f, &names));
        dates_as_days(&mut f, &names);
        assert_eq!(f["closedate"], "2026-03-13");
        assert_eq!(
            f["UF_DAYS"],
            json!(["2026-03-13", "2026-03-14", "<b>скоро</b>"])
        );
        assert_eq!(
            f["typed"], "2026-03-15",
            "a time without an offset keeps the day typed"
        );
        assert!(!dates_need_days(&f, &names), "in the form already");
    }

    #[test]
    fn different_values_are_not_the_same() {
        for (a, b) in [
            (json!("1500"), json!("1501")),
            (json!("2026-03-01"), json!("2026-03-02T03:00:00+03:00")),
            (json!("2026-03-12"), json!("2026-03-12T19:00:00-05:00")),
            (json!("Y"), json!("N")),
            (json!([5, 7]), json!([7, 5])),
            (json!("Иванов"), json!("Петров")),
            (json!("x"), json!(null)),
        ] {
            assert!(!same_value(&a, &b), "{a} and {b} differ");
        }
    }

    #[test]
    fn local_ids_are_above_any_portal_id() {
        let t = EntityType::Contact;
        assert!(RecordKey {
            entity_type: t,
            id: LOCAL_ID_BASE + 1
        }
        .is_local());
        assert!(!RecordKey {
            entity_type: t,
            id: u32::MAX as i64
        }
        .is_local());
    }
}
