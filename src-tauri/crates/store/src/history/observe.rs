//! Changes observed at sync, turned into events: a `created` event for a record new here, and
//! for a changed record one event per changed field, multi-field entry and link, grouped and
//! attributed to `updatedBy` at `updatedTime` — or, where that would name this user for a change
//! Kartoteka did not write, to nobody known (see `attribute.rs`). Values are also kept as
//! displayed at the time: stage names by entity type and pipeline, list items, user names,
//! linked records' titles.

use super::attribute::{change_author, ChangeAuthor, ObservedChange, OwnWrite};
use super::write::HistoryWriter;
use super::NewEvent;
use crate::diff::pair_fields;
use crate::promote::{declared_links, rid_of, unix_time};
use crate::StoreError;
use kartoteka_domain::{
    AuthorKind, EntityType, FieldMeta, FieldType, HistoryEventCode, HistorySource,
    HistorySyncState, MultiField, MultiFieldKind, Record, RecordKey,
};
use rusqlite::{CachedStatement, Connection, OptionalExtension};
use serde_json::Value;
use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};

/// Fields that change on every save and say nothing a person did: never history events.
/// (Kept in one place; `bookkeeping_fields_are_not_changes` checks it.)
pub const BOOKKEEPING_FIELDS: &[&str] = &[
    "updatedTime",
    "updatedBy",
    "movedTime",
    "movedBy",
    "lastActivityTime",
    "lastActivityBy",
    "lastCommunicationTime",
    "lastCommunicationCallTime",
    "lastCommunicationEmailTime",
    "lastCommunicationImolTime",
    "lastCommunicationWebformTime",
    "dateModify",
    "modifyById",
];

pub fn is_bookkeeping_field(name: &str) -> bool {
    BOOKKEEPING_FIELDS.contains(&name)
}

/// Reference data read once per batch, to display values as a person reads them.
struct Names {
    metas: HashMap<String, FieldMeta>,
    /// (list id, status id) → name.
    stages: HashMap<(String, String), String>,
    /// status id → name, for a stage whose list is unknown.
    any_stage: HashMap<String, String>,
    categories: HashMap<i64, String>,
}

fn load_names(conn: &Connection, entity_type: EntityType) -> Result<Names, StoreError> {
    let mut metas = HashMap::new();
    {
        let mut stmt = conn.prepare_cached(
            "SELECT name, field_type, label, is_multiple, is_custom, status_type, options \
             FROM field_meta WHERE entity_type = ?1",
        )?;
        let mut rows = stmt.query([entity_type.type_id()])?;
        while let Some(r) = rows.next()? {
            let name: String = r.get("name")?;
            let options: String = r.get("options")?;
            metas.insert(
                name.clone(),
                FieldMeta {
                    name,
                    field_type: FieldType::parse(&r.get::<_, String>("field_type")?),
                    label: r.get("label")?,
                    is_required: false,
                    is_read_only: false,
                    is_immutable: false,
                    is_multiple: r.get("is_multiple")?,
                    is_custom: r.get("is_custom")?,
                    status_type: r.get("status_type")?,
                    options: serde_json::from_str(&options).unwrap_or_default(),
                },
            );
        }
    }
    let mut stages = HashMap::new();
    let mut any_stage = HashMap::new();
    {
        let mut stmt = conn.prepare_cached("SELECT list_id, status_id, name FROM stages")?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            let list: String = r.get(0)?;
            let status: String = r.get(1)?;
            let name: String = r.get(2)?;
            any_stage
                .entry(status.clone())
                .or_insert_with(|| name.clone());
            stages.insert((list, status), name);
        }
    }
    let mut categories = HashMap::new();
    {
        let mut stmt =
            conn.prepare_cached("SELECT id, name FROM categories WHERE entity_type = ?1")?;
        let mut rows = stmt.query([entity_type.type_id()])?;
        while let Some(r) = rows.next()? {
            categories.insert(r.get(0)?, r.get(1)?);
        }
    }
    Ok(Names {
        metas,
        stages,
        any_stage,
        categories,
    })
}

/// The status list a stage id belongs to, by entity type and pipeline: a deal in `NEW` of the
/// default pipeline is "DEAL_STAGE/NEW" (Новая), not the lead status "STATUS/NEW".
pub(crate) fn stage_list_id(entity_type: EntityType, category_id: Option<i64>) -> String {
    match entity_type {
        EntityType::Lead => "STATUS".to_string(),
        EntityType::Deal => match category_id {
            Some(c) if c > 0 => format!("DEAL_STAGE_{c}"),
            _ => "DEAL_STAGE".to_string(),
        },
        EntityType::Contact => "CONTACT_TYPE".to_string(),
        EntityType::Company => "COMPANY_TYPE".to_string(),
    }
}

fn as_id(v: &Value) -> Option<i64> {
    v.as_i64()
        .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
}

/// Decimal text with spaces between thousands and a decimal comma: `1 350 000,50`.
fn money_text(v: &Value) -> Option<String> {
    let text = match v {
        Value::Number(n) => n.to_string(),
        Value::String(s) if !s.trim().is_empty() => s.trim().to_string(),
        _ => return None,
    };
    let (neg, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.as_str()),
    };
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    if int.is_empty() || !int.bytes().all(|b| b.is_ascii_digit()) {
        return Some(text);
    }
    let mut grouped = String::new();
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            grouped.push(' ');
        }
        grouped.push(c);
    }
    let frac = frac.trim_end_matches('0');
    let frac = match frac.len() {
        0 => String::new(),
        1 => format!(",{frac}0"),
        _ => format!(",{frac}"),
    };
    Some(format!("{}{grouped}{frac}", if neg { "-" } else { "" }))
}

fn currency_sign(code: &str) -> &str {
    match code {
        "RUB" => "₽",
        "USD" => "$",
        "EUR" => "€",
        other => other,
    }
}

/// Whether two values of a date-only field (one date, or a list of them) name the same dates.
fn same_dates(old: &Value, new: &Value) -> bool {
    use kartoteka_domain::calendar_date;
    match (old, new) {
        (Value::Array(a), Value::Array(b)) => {
            a.len() == b.len()
                && a.iter().zip(b).all(|(x, y)| {
                    calendar_date(x).is_some() && calendar_date(x) == calendar_date(y)
                })
        }
        _ => calendar_date(old).is_some() && calendar_date(old) == calendar_date(new),
    }
}

fn datetime_text(s: &str) -> String {
    match chrono::DateTime::parse_from_rfc3339(s) {
        Ok(t) => t.format("%d.%m.%Y %H:%M").to_string(),
        Err(_) => match chrono::NaiveDate::parse_from_str(s.get(..10).unwrap_or(s), "%Y-%m-%d") {
            Ok(d) => d.format("%d.%m.%Y").to_string(),
            Err(_) => s.to_string(),
        },
    }
}

fn kind_label(kind: MultiFieldKind) -> &'static str {
    match kind {
        MultiFieldKind::Phone => "Телефон",
        MultiFieldKind::Email => "E-mail",
        MultiFieldKind::Web => "Сайт",
        MultiFieldKind::Im => "Мессенджер",
        MultiFieldKind::Link => "Ссылка",
    }
}

fn value_type_label(value_type: &str) -> Option<&'static str> {
    Some(match value_type.to_ascii_uppercase().as_str() {
        "WORK" => "рабочий",
        "MOBILE" => "мобильный",
        "HOME" => "домашний",
        "FAX" => "факс",
        "PAGER" => "пейджер",
        "MAILING" => "для рассылок",
        "OTHER" => "другой",
        "TELEGRAM" => "Telegram",
        "WHATSAPP" => "WhatsApp",
        "VK" => "ВКонтакте",
        _ => return None,
    })
}

fn link_field(t: EntityType) -> (&'static str, &'static str) {
    match t {
        EntityType::Contact => ("link.contact", "Контакт"),
        EntityType::Company => ("link.company", "Компания"),
        EntityType::Lead => ("link.lead", "Лид"),
        EntityType::Deal => ("link.deal", "Сделка"),
    }
}

fn json_text(v: &Value) -> Option<String> {
    if kartoteka_domain::record::is_empty_value(v) {
        None
    } else {
        Some(v.to_string())
    }
}

/// Records events for one batch of pulled records of one type.
pub(crate) struct Observer<'c> {
    entity_type: EntityType,
    names: Names,
    title_of: RefCell<CachedStatement<'c>>,
    /// Users are looked up as met (a portal may have thousands; a save names one or two).
    user_of: RefCell<CachedStatement<'c>>,
    /// id → (name, technical), or `None` for an id the replica does not know.
    users: RefCell<HashMap<i64, Option<(String, bool)>>>,
    pub(crate) writer: HistoryWriter<'c>,
    /// Events of `created` and `changed` not yet appended, with their group ids, when writes
    /// are deferred (see [`Observer::defer_writes`]).
    deferred: Option<Vec<(NewEvent, i64)>>,
}

impl<'c> Observer<'c> {
    pub(crate) fn new(conn: &'c Connection, entity_type: EntityType) -> Result<Self, StoreError> {
        Ok(Observer {
            entity_type,
            names: load_names(conn, entity_type)?,
            title_of: RefCell::new(
                conn.prepare_cached("SELECT title FROM records WHERE rid = ?1")?,
            ),
            user_of: RefCell::new(
                conn.prepare_cached("SELECT name, last_name, kind FROM users WHERE id = ?1")?,
            ),
            users: RefCell::new(HashMap::new()),
            writer: HistoryWriter::new(conn)?,
            deferred: None,
        })
    }

    /// From now on, `created` and `changed` compute their events at once (values displayed as
    /// of that moment, group ids in call order) and append them, in the same order, at
    /// [`Observer::finish`]. A pull writes a whole batch's records first and then its history:
    /// each set of tables is written in one go instead of alternating between them for every
    /// record. The events and their order are the same.
    pub(crate) fn defer_writes(&mut self) {
        self.deferred.get_or_insert_with(Vec::new);
    }

    fn emit(&mut self, e: NewEvent, group_id: i64) -> Result<(), StoreError> {
        match &mut self.deferred {
            Some(events) => events.push((e, group_id)),
            None => {
                self.writer.append(&e, group_id)?;
            }
        }
        Ok(())
    }

    /// Appends the deferred events, then writes the chain tails and counters.
    pub(crate) fn finish(mut self, conn: &Connection) -> Result<(), StoreError> {
        for (e, g) in self.deferred.take().unwrap_or_default() {
            self.writer.append(&e, g)?;
        }
        self.writer.finish(conn)
    }

    fn user(&self, id: i64) -> Option<(String, bool)> {
        if let Some(known) = self.users.borrow().get(&id) {
            return known.clone();
        }
        let found = self
            .user_of
            .borrow_mut()
            .query_row([id], |r| {
                let name: String = r.get(0)?;
                let last: String = r.get(1)?;
                let kind: String = r.get(2)?;
                Ok((
                    format!("{name} {last}").trim().to_string(),
                    kind == "technical",
                ))
            })
            .optional()
            .ok()
            .flatten();
        self.users.borrow_mut().insert(id, found.clone());
        found
    }

    fn author(&self, id: Option<i64>) -> (String, AuthorKind) {
        match id.and_then(|id| self.user(id)).as_ref() {
            Some((name, true)) => (name.clone(), AuthorKind::Robot),
            Some((name, false)) => (name.clone(), AuthorKind::Person),
            None => match id {
                Some(id) => (format!("#{id}"), AuthorKind::Person),
                None => (String::new(), AuthorKind::Unknown),
            },
        }
    }

    fn base(
        &self,
        record: &Record,
        event: HistoryEventCode,
        at_ms: i64,
        by: Option<i64>,
    ) -> NewEvent {
        let mut e = NewEvent::new(Some(record.key), event, at_ms, HistorySource::Observed);
        let (name, kind) = self.author(by);
        e.author_id = by;
        e.author_name = name;
        e.author_kind = kind;
        e.record_title = record.display_title();
        e.sync_state = HistorySyncState::Synced;
        e
    }

    fn label(&self, field: &str) -> String {
        self.names
            .metas
            .get(field)
            .map(|m| m.label.clone())
            .filter(|l| !l.is_empty())
            .unwrap_or_else(|| field.to_string())
    }

    /// A value as a person reads it, with today's reference data.
    pub(crate) fn display_value(&self, field: &str, v: &Value, record: &Record) -> Option<String> {
        self.display(field, v, record)
    }

    /// A value as a person reads it, resolved with today's reference data (kept with the event).
    fn display(&self, field: &str, v: &Value, record: &Record) -> Option<String> {
        if kartoteka_domain::record::is_empty_value(v) {
            return None;
        }
        if let Value::Array(items) = v {
            let parts: Vec<String> = items
                .iter()
                .filter_map(|i| self.display(field, i, record))
                .collect();
            return (!parts.is_empty()).then(|| parts.join(", "));
        }
        let meta = self.names.metas.get(field);
        match field {
            "stageId" => {
                let s = v.as_str()?;
                let list = stage_list_id(self.entity_type, record.id_field("categoryId"));
                return Some(
                    self.names
                        .stages
                        .get(&(list, s.to_string()))
                        .or_else(|| self.names.any_stage.get(s))
                        .cloned()
                        .unwrap_or_else(|| s.to_string()),
                );
            }
            "categoryId" => {
                let id = as_id(v)?;
                return Some(
                    self.names
                        .categories
                        .get(&id)
                        .cloned()
                        .unwrap_or_else(|| format!("#{id}")),
                );
            }
            "opportunity" => {
                let amount = money_text(v)?;
                return Some(match record.text("currencyId") {
                    Some(c) => format!("{amount} {}", currency_sign(c)),
                    None => amount,
                });
            }
            "assignedById" | "createdBy" | "updatedBy" | "movedBy" | "observers" => {
                let id = as_id(v)?;
                return Some(self.author(Some(id)).0);
            }
            _ => {}
        }
        let text = || match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let Some(meta) = meta else {
            return Some(text());
        };
        Some(match &meta.field_type {
            FieldType::Enumeration => {
                let id = as_id(v);
                meta.options
                    .iter()
                    .find(|o| Some(o.id) == id)
                    .map(|o| o.value.clone())
                    .unwrap_or_else(text)
            }
            FieldType::User | FieldType::Employee => self.author(as_id(v)).0,
            FieldType::Boolean => match v {
                Value::Bool(true) => "Да".into(),
                Value::Bool(false) => "Нет".into(),
                Value::String(s) if s == "Y" || s == "1" => "Да".into(),
                Value::String(s) if s == "N" || s == "0" => "Нет".into(),
                Value::Number(n) if n.as_i64() == Some(1) => "Да".into(),
                Value::Number(n) if n.as_i64() == Some(0) => "Нет".into(),
                _ => text(),
            },
            FieldType::CrmStatus => {
                let s = text();
                meta.status_type
                    .as_ref()
                    .and_then(|list| self.names.stages.get(&(list.clone(), s.clone())))
                    .cloned()
                    .unwrap_or(s)
            }
            FieldType::CrmCategory => {
                let id = as_id(v);
                id.and_then(|id| self.names.categories.get(&id).cloned())
                    .unwrap_or_else(text)
            }
            FieldType::Money => {
                // Custom money fields: `1500.50|RUB`.
                let s = text();
                match s.split_once('|') {
                    Some((amount, cur)) => format!(
                        "{} {}",
                        money_text(&Value::String(amount.to_string())).unwrap_or_default(),
                        currency_sign(cur)
                    ),
                    None => money_text(v).unwrap_or(s),
                }
            }
            FieldType::Date => kartoteka_domain::calendar_date(v)
                .map(|d| d.format("%d.%m.%Y").to_string())
                .unwrap_or_else(text),
            FieldType::Datetime => datetime_text(&text()),
            FieldType::CrmContact => self.linked_title(EntityType::Contact, as_id(v), text),
            FieldType::CrmCompany => self.linked_title(EntityType::Company, as_id(v), text),
            FieldType::CrmLead => self.linked_title(EntityType::Lead, as_id(v), text),
            FieldType::CrmDeal => self.linked_title(EntityType::Deal, as_id(v), text),
            _ => text(),
        })
    }

    fn linked_title(
        &self,
        t: EntityType,
        id: Option<i64>,
        fallback: impl FnOnce() -> String,
    ) -> String {
        id.and_then(|id| self.title(RecordKey { entity_type: t, id }).ok().flatten())
            .unwrap_or_else(fallback)
    }

    fn title(&self, key: RecordKey) -> Result<Option<String>, StoreError> {
        Ok(self
            .title_of
            .borrow_mut()
            .query_row([rid_of(key)?], |r| r.get::<_, String>(0))
            .optional()?)
    }

    /// A record new here: one `created` event at its `createdTime` by `createdBy`.
    pub(crate) fn created(&mut self, record: &Record) -> Result<(), StoreError> {
        let at = unix_time(record.field("createdTime"))
            .or_else(|| record.updated_time.map(|t| t.timestamp()))
            .unwrap_or(0)
            * 1000;
        let mut e = self.base(
            record,
            HistoryEventCode::Created,
            at,
            record.id_field("createdBy"),
        );
        e.new_display = Some(record.display_title());
        let g = self.writer.new_group();
        self.emit(e, g)
    }

    /// A record that changed since the last version this device saw: one group of events per
    /// author (see [`change_author`]). `prev` is the previous version (its key and update time
    /// are not read); `own` this user's write that may be the record's last update. Returns how
    /// many events were put under an unknown author because that write names us.
    pub(crate) fn changed(
        &mut self,
        prev: &Record,
        record: &Record,
        restored_after: Option<i64>,
        own: Option<&OwnWrite<'_>>,
    ) -> Result<usize, StoreError> {
        let at = record
            .updated_time
            .map(|t| t.timestamp())
            .or_else(|| unix_time(record.field("updatedTime")))
            .unwrap_or(0)
            * 1000;
        let by = record.id_field("updatedBy");
        // A move made since the previous version, with its mover (`movedTime` is new): read only
        // where the record names us after our own write (the pull's hot path skips it).
        let mover = match own {
            Some(o) if by == Some(o.me) => {
                let moved_at = unix_time(record.field("movedTime"));
                record
                    .id_field("movedBy")
                    .zip(moved_at)
                    .filter(|_| moved_at != unix_time(prev.field("movedTime")))
            }
            _ => None,
        };
        // In a final stage: a move here set the close date (`crm/lib/Field/CloseDate.php`).
        let closes = matches!(
            record.field("stageSemanticId").and_then(Value::as_str),
            Some("S" | "F")
        ) || matches!(record.field("closed"), Some(Value::Bool(true)))
            || record.field("closed").and_then(Value::as_str) == Some("Y");
        let mut unknown = 0;
        let events =
            self.stamped_events(
                prev,
                record,
                restored_after,
                &mut |change| match change_author(change, by, own, mover.is_some(), closes) {
                    ChangeAuthor::LastUpdater => (by, at),
                    ChangeAuthor::Mover => mover.map_or((None, at), |(id, t)| (Some(id), t * 1000)),
                    ChangeAuthor::Unknown => {
                        if change != ObservedChange::Restored {
                            unknown += 1;
                        }
                        (None, at)
                    }
                },
            )?;
        // One save is one author at one time: a change by someone else is a group of its own.
        // (author, time) → group id.
        let mut groups: Vec<(Option<i64>, i64, i64)> = Vec::new();
        for e in events {
            let g = match groups
                .iter()
                .find(|(by, at, _)| *by == e.author_id && *at == e.happened_ms)
            {
                Some((_, _, g)) => *g,
                None => {
                    let g = self.writer.new_group();
                    groups.push((e.author_id, e.happened_ms, g));
                    g
                }
            };
            self.emit(e, g)?;
        }
        Ok(unknown)
    }

    /// The events that turn `prev` into `record`, attributed to `by` at `at` (not yet written):
    /// one per field, multi-field entry and link. Only `prev`'s fields and multi-fields are
    /// read (a caller's previous version is used as it is, not copied).
    pub(crate) fn change_events(
        &mut self,
        prev_record: &Record,
        record: &Record,
        restored_after: Option<i64>,
        at: i64,
        by: Option<i64>,
    ) -> Result<Vec<NewEvent>, StoreError> {
        self.stamped_events(prev_record, record, restored_after, &mut |_| (by, at))
    }

    /// [`Observer::change_events`], each change attributed by `stamp`: its author and time.
    fn stamped_events(
        &mut self,
        prev_record: &Record,
        record: &Record,
        restored_after: Option<i64>,
        stamp: &mut dyn FnMut(ObservedChange<'_>) -> (Option<i64>, i64),
    ) -> Result<Vec<NewEvent>, StoreError> {
        let prev_fields = &prev_record.fields;
        let prev_multi = &prev_record.multi_fields;
        let mut events = Vec::new();
        if let Some(gone_at) = restored_after {
            // A record restored from the recycle bin keeps its old updatedTime (CONTRACT, the
            // sandbox issue §7): it came back after it was found gone, whatever its fields say.
            let (by, at) = stamp(ObservedChange::Restored);
            let back_at = at.max(gone_at * 1000);
            events.push(self.base(record, HistoryEventCode::Restored, back_at, by));
        }
        // Fields, standard and custom.
        let null = Value::Null;
        let mut changed: Vec<(&String, &Value, &Value)> = Vec::new();
        pair_fields(prev_fields, &record.fields, |name, old, new| {
            let old = old.unwrap_or(&null);
            let new = new.unwrap_or(&null);
            let empty = kartoteka_domain::record::is_empty_value;
            if old == new || (empty(old) && empty(new)) {
                return;
            }
            // Link fields are recorded as link events (`link_added` / `link_removed`).
            if is_bookkeeping_field(name)
                || kartoteka_domain::record::LINK_FIELDS.contains(&name.as_str())
            {
                return;
            }
            changed.push((name, old, new));
        });
        // A date-only value written another way (a replica from before dates were kept as
        // `YYYY-MM-DD`, or the portal's rendering moved by summer time) is the same date.
        changed.retain(|(name, old, new)| {
            let is_date = self
                .names
                .metas
                .get(name.as_str())
                .is_some_and(|m| m.field_type == FieldType::Date);
            !(is_date && same_dates(old, new))
        });
        for (name, old, new) in changed {
            let code = if name == "stageId" {
                HistoryEventCode::StageChanged
            } else {
                HistoryEventCode::FieldChanged
            };
            let (by, at) = stamp(ObservedChange::Field(name));
            let mut e = self.base(record, code, at, by);
            e.field = Some(name.clone());
            e.field_label = Some(self.label(name));
            e.old_value = json_text(old);
            e.new_value = json_text(new);
            e.old_display = self.display(name, old, prev_record);
            e.new_display = self.display(name, new, record);
            events.push(e);
        }
        // Multi-field entries, by entry id.
        let old_by_id: BTreeMap<i64, &MultiField> = prev_multi.iter().map(|m| (m.id, m)).collect();
        let new_by_id: BTreeMap<i64, &MultiField> =
            record.multi_fields.iter().map(|m| (m.id, m)).collect();
        for (id, m) in &new_by_id {
            match old_by_id.get(id) {
                None => {
                    let (by, at) = stamp(ObservedChange::MultiField(*id));
                    events.push(self.multi(record, at, by, None, Some(m)))
                }
                Some(old) if old != m => {
                    let (by, at) = stamp(ObservedChange::MultiField(*id));
                    events.push(self.multi(record, at, by, Some(old), Some(m)))
                }
                Some(_) => {}
            }
        }
        for (id, m) in &old_by_id {
            if !new_by_id.contains_key(id) {
                let (by, at) = stamp(ObservedChange::MultiField(*id));
                events.push(self.multi(record, at, by, Some(m), None));
            }
        }
        // Links.
        let old_links = declared_links(prev_record);
        let new_links = declared_links(record);
        for l in &new_links {
            if !old_links.iter().any(|o| o.to == l.to) {
                let (by, at) = stamp(ObservedChange::Link(l.to.entity_type));
                events.push(self.link(record, at, by, l.to, true)?);
            }
        }
        for l in &old_links {
            if !new_links.iter().any(|n| n.to == l.to) {
                let (by, at) = stamp(ObservedChange::Link(l.to.entity_type));
                events.push(self.link(record, at, by, l.to, false)?);
            }
        }
        Ok(events)
    }

    fn multi(
        &self,
        record: &Record,
        at: i64,
        by: Option<i64>,
        old: Option<&MultiField>,
        new: Option<&MultiField>,
    ) -> NewEvent {
        let code = match (old, new) {
            (None, _) => HistoryEventCode::MultifieldAdded,
            (Some(_), Some(_)) => HistoryEventCode::MultifieldChanged,
            (Some(_), None) => HistoryEventCode::MultifieldRemoved,
        };
        let shown = new.or(old).map(|m| (m.kind, m.value_type.clone()));
        let mut e = self.base(record, code, at, by);
        if let Some((kind, value_type)) = shown {
            e.field = Some(format!("fm.{}", kind.as_str()));
            e.field_label = Some(match value_type_label(&value_type) {
                Some(vt) => format!("{} ({vt})", kind_label(kind)),
                None => kind_label(kind).to_string(),
            });
        }
        e.old_value = old.and_then(|m| serde_json::to_string(m).ok());
        e.new_value = new.and_then(|m| serde_json::to_string(m).ok());
        e.old_display = old.map(|m| m.value.clone());
        e.new_display = new.map(|m| m.value.clone());
        e
    }

    fn link(
        &mut self,
        record: &Record,
        at: i64,
        by: Option<i64>,
        to: RecordKey,
        added: bool,
    ) -> Result<NewEvent, StoreError> {
        let code = if added {
            HistoryEventCode::LinkAdded
        } else {
            HistoryEventCode::LinkRemoved
        };
        let mut e = self.base(record, code, at, by);
        let (field, label) = link_field(to.entity_type);
        let title = self
            .title(to)?
            .unwrap_or_else(|| format!("{label} #{}", to.id));
        let value = serde_json::json!({"entityType": to.entity_type, "id": to.id}).to_string();
        e.field = Some(field.to_string());
        e.field_label = Some(label.to_string());
        if added {
            e.new_value = Some(value);
            e.new_display = Some(title);
        } else {
            e.old_value = Some(value);
            e.old_display = Some(title);
        }
        Ok(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bookkeeping_fields_are_not_changes() {
        for f in [
            "updatedTime",
            "updatedBy",
            "movedTime",
            "movedBy",
            "lastActivityTime",
        ] {
            assert!(is_bookkeeping_field(f), "{f} changes on every save");
        }
        for f in [
            "title",
            "stageId",
            "opportunity",
            "assignedById",
            "UF_CRM_1",
        ] {
            assert!(!is_bookkeeping_field(f), "{f} is a change a person made");
        }
    }

    #[test]
    fn amounts_read_with_groups_and_a_decimal_comma() {
        assert_eq!(
            money_text(&Value::from(1350000.5)).as_deref(),
            Some("1 350 000,50")
        );
        assert_eq!(money_text(&Value::from("1000")).as_deref(), Some("1 000"));
        assert_eq!(
            money_text(&Value::from("-12.345")).as_deref(),
            Some("-12,345")
        );
    }

    #[test]
    fn deal_stages_are_looked_up_in_their_pipeline_not_in_lead_statuses() {
        assert_eq!(stage_list_id(EntityType::Deal, Some(0)), "DEAL_STAGE");
        assert_eq!(stage_list_id(EntityType::Deal, None), "DEAL_STAGE");
        assert_eq!(stage_list_id(EntityType::Deal, Some(3)), "DEAL_STAGE_3");
        assert_eq!(stage_list_id(EntityType::Lead, None), "STATUS");
    }
}
