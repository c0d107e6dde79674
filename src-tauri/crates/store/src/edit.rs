//! Local edits (product.md §5): one save = one transaction that writes the replica row, the
//! outbox entries (only the changed fields, each with the server value it was changed from) and
//! the history events (source "this device", sync state "pending"). The commit is made with
//! `synchronous=FULL`, so a save the UI reports is on disk (P6).

use crate::history::{LocalActor, NewEvent, Observer};
use crate::lifecycle::CountDeltas;
use crate::promote::{hash64, promote, rid_of};
use crate::pull::Statements;
use crate::search::{company_dependents, reindex, search_body, Names};
use crate::{RecordState, Store, StoreError};
use kartoteka_domain::edit::FieldProblem;
use kartoteka_domain::{
    same_value, EditSaved, EntityType, FieldMeta, FieldType, HistoryEventCode, HistorySource,
    HistorySyncState, MultiField, MultiFieldEdit, OutboxOp, OutboxState, Record, RecordEdit,
    RecordKey, LOCAL_ID_BASE,
};
use rusqlite::{params, Connection, OptionalExtension, Transaction};
use serde_json::{json, Map, Value};

/// Multi-field outbox entries are named `fm:<entry id>`; new entries have negative ids here.
pub(crate) const FM_PREFIX: &str = "fm:";
const META_NEXT_LOCAL_ID: &str = "local_id.next";
/// The `originatorId` of every record this app creates (CONTRACT §6.4).
pub const ORIGINATOR_ID: &str = "kartoteka";

/// Fields a person never sets: the portal keeps them.
const SYSTEM_FIELDS: &[&str] = &[
    "id",
    "createdTime",
    "updatedTime",
    "createdBy",
    "updatedBy",
    "movedTime",
    "movedBy",
    "lastActivityTime",
    "lastActivityBy",
    "originatorId",
    "originId",
    "entityTypeId",
];

/// One outbox row about to be written.
pub(crate) struct QueuedChange {
    pub op: OutboxOp,
    pub field: String,
    pub base: Value,
    pub new: Value,
    pub origin_id: Option<String>,
}

pub(crate) fn source_of(actor: &LocalActor) -> HistorySource {
    if actor.online {
        HistorySource::DeviceOnline
    } else {
        HistorySource::DeviceOffline
    }
}

/// A record's local version (what the user sees) and its state.
pub(crate) fn load_local(
    conn: &Connection,
    key: RecordKey,
) -> Result<Option<(Record, RecordState)>, StoreError> {
    let rid = rid_of(key)?;
    let row = conn
        .prepare_cached(
            "SELECT r.state, f.fields, f.multi_fields FROM records r \
             JOIN record_fields f ON f.rid = r.rid WHERE r.rid = ?1",
        )?
        .query_row([rid], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
            ))
        })
        .optional()?;
    let Some((state, fields, multi)) = row else {
        return Ok(None);
    };
    Ok(Some((
        Record {
            key,
            updated_time: None,
            fields: serde_json::from_str(&fields)?,
            multi_fields: serde_json::from_str(&multi)?,
        },
        RecordState::from_code(state)?,
    )))
}

/// The last server version of a record (the mirror when it has unsent edits).
pub(crate) fn load_server(conn: &Connection, key: RecordKey) -> Result<Option<Record>, StoreError> {
    let rid = rid_of(key)?;
    let row = conn
        .prepare_cached(
            "SELECT COALESCE(s.fields, f.fields), COALESCE(s.multi_fields, f.multi_fields) \
             FROM record_fields f LEFT JOIN server_records s ON s.rid = f.rid WHERE f.rid = ?1",
        )?
        .query_row([rid], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
        })
        .optional()?;
    Ok(match row {
        Some((f, m)) => Some(Record {
            key,
            updated_time: None,
            fields: serde_json::from_str(&f)?,
            multi_fields: serde_json::from_str(&m)?,
        }),
        None => None,
    })
}

/// Writes a record's local version: promoted columns, the field map, search and links.
pub(crate) fn write_local(
    tx: &Connection,
    record: &Record,
    insert: bool,
) -> Result<(), StoreError> {
    let rid = rid_of(record.key)?;
    let mut st = Statements::new(tx)?;
    let promoted = promote(record);
    let mut names = Names::new(tx)?;
    let body = search_body(record, &promoted, &mut names)?;
    let search_hash = hash64(&[body.as_bytes()]);
    let server_hash: i64 = if insert {
        0
    } else {
        tx.prepare_cached("SELECT server_hash FROM records WHERE rid = ?1")?
            .query_row([rid], |r| r.get(0))?
    };
    st.write_row(
        !insert,
        rid,
        record.key,
        &promoted,
        server_hash,
        search_hash,
    )?;
    st.put_fields.execute(params![
        rid,
        serde_json::to_string(&record.fields)?,
        serde_json::to_string(&record.multi_fields)?
    ])?;
    st.unindex.execute([rid])?;
    st.index.execute(params![rid, body])?;
    st.write_links(rid, record, true)?;
    if record.key.entity_type == EntityType::Company && !insert {
        // A renamed company: the rows that show its name search by the new one.
        let dependents = company_dependents(tx, record.key.id)?;
        reindex(tx, &mut names, &dependents)?;
    }
    Ok(())
}

/// Keeps the server version beside the local row from the first unsent edit on.
fn keep_mirror(tx: &Connection, rid: i64) -> Result<(), StoreError> {
    tx.prepare_cached(
        "INSERT OR IGNORE INTO server_records (rid, fields, multi_fields, updated_time) \
         SELECT f.rid, f.fields, f.multi_fields, r.updated_time \
         FROM record_fields f JOIN records r ON r.rid = f.rid WHERE f.rid = ?1",
    )?
    .execute([rid])?;
    Ok(())
}

pub(crate) fn field_metas(conn: &Connection, t: EntityType) -> Result<Vec<FieldMeta>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT name, field_type, label, is_required, is_read_only, is_immutable, is_multiple, \
         is_custom, status_type, options FROM field_meta WHERE entity_type = ?1",
    )?;
    let mut rows = stmt.query([t.type_id()])?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        let options: String = r.get("options")?;
        out.push(FieldMeta {
            name: r.get("name")?,
            field_type: FieldType::parse(&r.get::<_, String>("field_type")?),
            label: r.get("label")?,
            is_required: r.get("is_required")?,
            is_read_only: r.get("is_read_only")?,
            is_immutable: r.get("is_immutable")?,
            is_multiple: r.get("is_multiple")?,
            is_custom: r.get("is_custom")?,
            status_type: r.get("status_type")?,
            options: serde_json::from_str(&options).unwrap_or_default(),
        });
    }
    Ok(out)
}

/// The edit with every date-only value as `YYYY-MM-DD`, the form a portal reads the same in every
/// zone (`CRestUtil::unConvertDate` reads a string on the portal's clock: `…T00:00:00+03:00` is
/// the day before west of Moscow), read as [`kartoteka_domain::calendar_date`] reads it; anything
/// that is no date is left for [`validate`] to name.
fn dates_as_written(
    conn: &Connection,
    t: EntityType,
    edit: &RecordEdit,
) -> Result<RecordEdit, StoreError> {
    let mut out = edit.clone();
    let dates: Vec<String> = field_metas(conn, t)?
        .into_iter()
        .filter(|m| m.field_type == FieldType::Date)
        .map(|m| m.name)
        .collect();
    kartoteka_domain::dates_as_days(&mut out.fields, &dates);
    Ok(out)
}

fn problem(field: &str, label: &str, ru: String, en: String) -> FieldProblem {
    FieldProblem {
        field: field.to_string(),
        label: label.to_string(),
        message_ru: ru,
        message_en: en,
    }
}

/// Checks one save against the portal's field metadata: known fields only, no read-only or
/// (after creation) immutable fields, required fields not emptied, values of the right shape.
pub(crate) fn validate(
    conn: &Connection,
    t: EntityType,
    creating: bool,
    edit: &RecordEdit,
    result: &Record,
) -> Result<Vec<FieldProblem>, StoreError> {
    let metas = field_metas(conn, t)?;
    let mut problems = Vec::new();
    for (name, value) in &edit.fields {
        let Some(meta) = metas.iter().find(|m| &m.name == name) else {
            if SYSTEM_FIELDS.contains(&name.as_str()) || !metas.is_empty() {
                problems.push(problem(
                    name,
                    name,
                    format!("Поле «{name}» нельзя изменить"),
                    format!("The field \"{name}\" cannot be changed"),
                ));
            }
            continue;
        };
        let label = if meta.label.is_empty() {
            name
        } else {
            &meta.label
        };
        if SYSTEM_FIELDS.contains(&name.as_str())
            || meta.is_read_only
            || (meta.is_immutable && !creating)
        {
            problems.push(problem(
                name,
                label,
                format!("Поле «{label}» только для чтения"),
                format!("The field \"{label}\" is read-only"),
            ));
            continue;
        }
        if let Some((ru, en)) = shape_problem(meta, value) {
            problems.push(problem(name, label, ru, en));
        }
    }
    // Required fields must have a value after the save (contacts: a name or a last name).
    for meta in metas.iter().filter(|m| m.is_required && !m.is_read_only) {
        let touched = edit.fields.contains_key(&meta.name);
        if !(creating || touched) {
            continue;
        }
        if result.field(&meta.name).is_none() {
            let label = if meta.label.is_empty() {
                &meta.name
            } else {
                &meta.label
            };
            problems.push(problem(
                &meta.name,
                label,
                format!("Заполните поле «{label}»"),
                format!("\"{label}\" is required"),
            ));
        }
    }
    // Contacts: clearing both names fails on the portal (CONTRACT §2.6); on add it names them.
    if t == EntityType::Contact
        && !creating
        && (edit.fields.contains_key("name") || edit.fields.contains_key("lastName"))
        && result.field("name").is_none()
        && result.field("lastName").is_none()
    {
        problems.push(problem(
            "name",
            "Имя",
            "Укажите имя или фамилию контакта".into(),
            "A contact needs a first or last name".into(),
        ));
    }
    for m in &edit.multi_fields {
        let value = match m {
            MultiFieldEdit::Add { value, .. } | MultiFieldEdit::Change { value, .. } => value,
            MultiFieldEdit::Remove { .. } => continue,
        };
        if value.trim().is_empty() {
            problems.push(problem(
                "fm",
                "Телефоны и e-mail",
                "Пустое значение: удалите запись вместо этого".into(),
                "Empty value: remove the entry instead".into(),
            ));
        }
    }
    Ok(problems)
}

pub(crate) fn shape_problem(meta: &FieldMeta, v: &Value) -> Option<(String, String)> {
    if kartoteka_domain::record::is_empty_value(v) {
        return None;
    }
    let label = &meta.label;
    let items: Vec<&Value> = match v {
        Value::Array(a)
            if meta.is_multiple || meta.name == "contactIds" || meta.name == "companyIds" =>
        {
            a.iter().collect()
        }
        Value::Array(_) => {
            return Some((
                format!("Поле «{label}» принимает одно значение"),
                format!("\"{label}\" takes a single value"),
            ))
        }
        other => vec![other],
    };
    for item in items {
        let ok = match meta.field_type {
            FieldType::Integer
            | FieldType::User
            | FieldType::Employee
            | FieldType::CrmCategory
            | FieldType::CrmCompany
            | FieldType::CrmContact
            | FieldType::CrmLead
            | FieldType::CrmDeal => as_number(item).is_some_and(|n| n.fract() == 0.0),
            FieldType::Double => as_number(item).is_some(),
            FieldType::Money => {
                let s = value_text(item);
                // "300|RUB" (custom money) or an amount.
                let amount = s.split('|').next().unwrap_or_default();
                amount.trim().parse::<f64>().is_ok_and(f64::is_finite)
            }
            FieldType::Date => chrono::NaiveDate::parse_from_str(
                value_text(item).get(..10).unwrap_or_default(),
                "%Y-%m-%d",
            )
            .is_ok(),
            FieldType::Datetime => {
                let s = value_text(item);
                chrono::DateTime::parse_from_rfc3339(&s).is_ok()
                    || chrono::NaiveDateTime::parse_from_str(&s, "%Y-%m-%dT%H:%M:%S").is_ok()
                    || chrono::NaiveDateTime::parse_from_str(&s, "%Y-%m-%dT%H:%M").is_ok()
            }
            FieldType::Boolean => {
                matches!(item, Value::Bool(_))
                    || matches!(value_text(item).as_str(), "Y" | "N" | "0" | "1")
            }
            FieldType::Enumeration => {
                let id = as_number(item);
                meta.options.is_empty() || meta.options.iter().any(|o| Some(o.id as f64) == id)
            }
            FieldType::Url => {
                let s = value_text(item);
                s.starts_with("http://") || s.starts_with("https://")
            }
            _ => true,
        };
        if !ok && matches!(meta.field_type, FieldType::Date | FieldType::Datetime) {
            return Some((
                format!("«{label}»: это не дата или такой даты нет (ГГГГ-ММ-ДД)"),
                format!("\"{label}\": not a date, or no such day (YYYY-MM-DD)"),
            ));
        }
        if !ok {
            return Some((
                format!("Неверное значение поля «{label}»"),
                format!("Invalid value for \"{label}\""),
            ));
        }
        if let Some(words) = crate::limits::number_problem(meta, item) {
            return Some(words);
        }
    }
    None
}

fn as_number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Applies one save to a record's local version.
pub(crate) fn apply_edit(record: &Record, edit: &RecordEdit) -> Record {
    let mut out = record.clone();
    for (k, v) in &edit.fields {
        out.fields.insert(k.clone(), v.clone());
    }
    let mut next_new = out
        .multi_fields
        .iter()
        .map(|m| m.id)
        .min()
        .unwrap_or(0)
        .min(0)
        - 1;
    for m in &edit.multi_fields {
        match m {
            MultiFieldEdit::Add {
                kind,
                value_type,
                value,
            } => {
                out.multi_fields.push(MultiField {
                    id: next_new,
                    kind: *kind,
                    value_type: value_type.clone(),
                    value: value.trim().to_string(),
                });
                next_new -= 1;
            }
            MultiFieldEdit::Change {
                id,
                value_type,
                value,
            } => {
                if let Some(e) = out.multi_fields.iter_mut().find(|e| e.id == *id) {
                    e.value_type = value_type.clone();
                    e.value = value.trim().to_string();
                }
            }
            MultiFieldEdit::Remove { id } => out.multi_fields.retain(|e| e.id != *id),
        }
    }
    out
}

/// The outbox rows of a save: each changed field, each changed multi-field entry.
pub(crate) fn field_changes(before: &Record, after: &Record, server: &Record) -> Vec<QueuedChange> {
    let mut out = Vec::new();
    let null = Value::Null;
    for (name, new) in &after.fields {
        let old = before.fields.get(name).unwrap_or(&null);
        if same_value(old, new) {
            continue;
        }
        out.push(QueuedChange {
            op: OutboxOp::Update,
            field: name.clone(),
            base: server.fields.get(name).cloned().unwrap_or(Value::Null),
            new: new.clone(),
            origin_id: None,
        });
    }
    for m in &after.multi_fields {
        let old = before.multi_fields.iter().find(|o| o.id == m.id);
        if old == Some(m) {
            continue;
        }
        let base = server
            .multi_fields
            .iter()
            .find(|o| o.id == m.id)
            .map(|o| serde_json::to_value(o).unwrap_or(Value::Null))
            .unwrap_or(Value::Null);
        out.push(QueuedChange {
            op: OutboxOp::Update,
            field: format!("{FM_PREFIX}{}", m.id),
            base,
            new: serde_json::to_value(m).unwrap_or(Value::Null),
            origin_id: None,
        });
    }
    for o in &before.multi_fields {
        if !after.multi_fields.iter().any(|m| m.id == o.id) {
            let base = server
                .multi_fields
                .iter()
                .find(|s| s.id == o.id)
                .map(|s| serde_json::to_value(s).unwrap_or(Value::Null))
                .unwrap_or(Value::Null);
            out.push(QueuedChange {
                op: OutboxOp::Update,
                field: format!("{FM_PREFIX}{}", o.id),
                base,
                new: Value::Null,
                origin_id: None,
            });
        }
    }
    out
}

/// Which outbox field an event belongs to (so its delivery follows the row's).
fn outbox_field_of(e: &NewEvent) -> Option<String> {
    let field = e.field.as_deref()?;
    if field.starts_with("fm.") {
        let v = e.new_value.as_deref().or(e.old_value.as_deref())?;
        let m: MultiField = serde_json::from_str(v).ok()?;
        return Some(format!("{FM_PREFIX}{}", m.id));
    }
    Some(field.to_string())
}

impl Store {
    /// Runs `f` in one transaction committed with `synchronous=FULL` (a save the UI reports is
    /// on disk), then returns to the pull's `NORMAL`.
    pub(crate) fn durable<T>(
        &mut self,
        f: impl FnOnce(&Transaction<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.conn.pragma_update(None, "synchronous", "FULL")?;
        let result = (|| {
            let tx = self.conn.transaction()?;
            let out = f(&tx)?;
            tx.commit()?;
            Ok(out)
        })();
        self.conn.pragma_update(None, "synchronous", "NORMAL")?;
        result
    }

    /// Checks a save without writing anything: the problems the form shows next to fields.
    pub fn validate_edit(
        &self,
        t: EntityType,
        key: Option<RecordKey>,
        edit: &RecordEdit,
    ) -> Result<Vec<FieldProblem>, StoreError> {
        let before = match key {
            Some(key) => load_local(&self.conn, key)?
                .map(|(r, _)| r)
                .ok_or(StoreError::NotFound)?,
            None => Record {
                key: RecordKey {
                    entity_type: t,
                    id: LOCAL_ID_BASE,
                },
                updated_time: None,
                fields: Map::new(),
                multi_fields: Vec::new(),
            },
        };
        let after = apply_edit(&before, edit);
        validate(&self.conn, t, key.is_none(), edit, &after)
    }

    /// Saves changes of an existing record (one transaction; see the module docs).
    pub fn edit_record(
        &mut self,
        actor: &LocalActor,
        key: RecordKey,
        edit: &RecordEdit,
        now_ms: i64,
    ) -> Result<EditSaved, StoreError> {
        self.save_edit(actor, key, edit, now_ms, None, None)
    }

    /// A save; `reverting` names the history entry it reverts, and `base` (an edit read back
    /// from a file) the value the change was made against, which the upload compares with the
    /// portal instead of this replica's.
    pub(crate) fn save_edit(
        &mut self,
        actor: &LocalActor,
        key: RecordKey,
        edit: &RecordEdit,
        now_ms: i64,
        reverting: Option<i64>,
        base: Option<&Value>,
    ) -> Result<EditSaved, StoreError> {
        let _span =
            tracing::info_span!("store_edit_record", entity_type = %key.entity_type, id = key.id)
                .entered();
        let actor = actor.clone();
        self.durable(|tx| {
            let (before, state) = load_local(tx, key)?.ok_or(StoreError::NotFound)?;
            if state != RecordState::Active {
                return Err(StoreError::NotAllowed("the record is not active"));
            }
            let edit = &dates_as_written(tx, key.entity_type, edit)?;
            let after = apply_edit(&before, edit);
            let problems = validate(tx, key.entity_type, false, edit, &after)?;
            if !problems.is_empty() {
                return Err(StoreError::Invalid(problems));
            }
            let server = load_server(tx, key)?.unwrap_or_else(|| before.clone());
            let mut changes = field_changes(&before, &after, &server);
            if let Some(base) = base {
                for c in &mut changes {
                    c.base = base.clone();
                }
            }
            if changes.is_empty() {
                return Ok(EditSaved {
                    key,
                    queued: 0,
                    history_seqs: Vec::new(),
                });
            }
            keep_mirror(tx, rid_of(key)?)?;
            let mut observer = Observer::new(tx, key.entity_type)?;
            let mut events = observer.change_events(&before, &after, None, now_ms, None)?;
            if let Some(seq) = reverting {
                let mut e = NewEvent::new(
                    Some(key),
                    HistoryEventCode::Reverted,
                    now_ms,
                    source_of(&actor),
                );
                e.record_title = after.display_title();
                e.ref_seq = Some(seq);
                events.insert(0, e);
            }
            let seqs = write_events(&mut observer, &actor, events, now_ms, &changes)?;
            observer.finish(tx)?;
            let queued = insert_outbox(tx, key, &changes, &seqs, &actor, now_ms)?;
            write_local(tx, &after, false)?;
            Ok(EditSaved {
                key,
                queued,
                history_seqs: seqs.into_iter().map(|(s, _)| s).collect(),
            })
        })
    }

    /// A new record, saved here first with a local id; uploaded (once) as `crm.item.add`.
    pub fn create_record(
        &mut self,
        actor: &LocalActor,
        t: EntityType,
        edit: &RecordEdit,
        now_ms: i64,
    ) -> Result<EditSaved, StoreError> {
        let actor = actor.clone();
        self.durable(|tx| {
            let next: i64 = tx
                .prepare_cached("SELECT value FROM replica_meta WHERE key = ?1")?
                .query_row([META_NEXT_LOCAL_ID], |r| r.get::<_, String>(0))
                .optional()?
                .and_then(|v| v.parse().ok())
                .unwrap_or(LOCAL_ID_BASE + 1);
            tx.prepare_cached(
                "INSERT INTO replica_meta (key, value) VALUES (?1, ?2) \
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            )?
            .execute(params![META_NEXT_LOCAL_ID, (next + 1).to_string()])?;
            let key = RecordKey {
                entity_type: t,
                id: next,
            };
            let empty = Record {
                key,
                updated_time: None,
                fields: Map::new(),
                multi_fields: Vec::new(),
            };
            let edit = &dates_as_written(tx, t, edit)?;
            let mut record = apply_edit(&empty, edit);
            let problems = validate(tx, t, true, edit, &record)?;
            if !problems.is_empty() {
                return Err(StoreError::Invalid(problems));
            }
            let created = chrono::DateTime::from_timestamp_millis(now_ms)
                .unwrap_or_default()
                .fixed_offset()
                .to_rfc3339();
            record.fields.insert("id".into(), json!(next));
            record.fields.insert("createdTime".into(), json!(created));
            record.fields.insert("updatedTime".into(), json!(created));
            if let Some(user) = actor.user_id {
                record.fields.insert("createdBy".into(), json!(user));
                record.fields.insert("updatedBy".into(), json!(user));
                record.fields.entry("assignedById").or_insert(json!(user));
            }
            write_local(tx, &record, true)?;
            let mut deltas = CountDeltas::default();
            deltas.add(t, RecordState::Active, 1);
            deltas.write(tx)?;
            let mut observer = Observer::new(tx, t)?;
            let mut e = NewEvent::new(
                Some(key),
                HistoryEventCode::Created,
                now_ms,
                source_of(&actor),
            );
            e.record_title = record.display_title();
            e.new_display = Some(record.display_title());
            let device = actor.device_id.clone();
            let change = QueuedChange {
                op: OutboxOp::Create,
                field: "*".into(),
                base: Value::Null,
                new: json!({"fields": edit.fields, "fm": record.multi_fields}),
                origin_id: Some(format!("{device}-{next}")),
            };
            let seqs = write_events(
                &mut observer,
                &actor,
                vec![e],
                now_ms,
                std::slice::from_ref(&change),
            )?;
            observer.finish(tx)?;
            let queued = insert_outbox(tx, key, &[change], &seqs, &actor, now_ms)?;
            Ok(EditSaved {
                key,
                queued,
                history_seqs: seqs.into_iter().map(|(s, _)| s).collect(),
            })
        })
    }

    /// Moves a record to the recycle bin here and queues its deletion on the portal. A record
    /// whose create never went out just leaves (its queued create is discarded). One whose
    /// create may have landed unseen (sent without an answer, imported from a file, or waiting
    /// for the user's word) may be on the portal: its deletion is queued and waits for the
    /// create to be settled (the portal's id is not known before), rather than forget a record
    /// the portal may hold.
    pub fn delete_record(
        &mut self,
        actor: &LocalActor,
        key: RecordKey,
        now_ms: i64,
    ) -> Result<EditSaved, StoreError> {
        let actor = actor.clone();
        self.durable(|tx| {
            let (record, state) = load_local(tx, key)?.ok_or(StoreError::NotFound)?;
            if state != RecordState::Active {
                return Err(StoreError::NotAllowed("the record is not active"));
            }
            let rid = rid_of(key)?;
            tx.prepare_cached(
                "UPDATE records SET state = 1, state_changed_at = ?2 WHERE rid = ?1",
            )?
            .execute(params![rid, now_ms / 1000])?;
            let mut deltas = CountDeltas::default();
            deltas.add(key.entity_type, RecordState::Active, -1);
            deltas.add(key.entity_type, RecordState::Deleted, 1);
            deltas.write(tx)?;
            let mut observer = Observer::new(tx, key.entity_type)?;
            let mut e = NewEvent::new(Some(key), HistoryEventCode::Deleted, now_ms, source_of(&actor));
            e.record_title = record.display_title();
            e.old_display = Some(record.display_title());
            let never_uploaded: bool = key.is_local()
                && tx
                    .prepare_cached(
                        "SELECT EXISTS (SELECT 1 FROM outbox WHERE entity_type = ?1 AND record_id = ?2 \
                         AND op = 'create' AND state = 'pending' AND unanswered_ms IS NULL)",
                    )?
                    .query_row(params![key.entity_type.type_id(), key.id], |r| r.get(0))?;
            if never_uploaded {
                tx.prepare_cached(
                    "UPDATE outbox SET state = 'discarded' WHERE entity_type = ?1 AND record_id = ?2 \
                     AND state NOT IN ('done', 'discarded')",
                )?
                .execute(params![key.entity_type.type_id(), key.id])?;
                e.note = Some("Удалена до отправки на портал".into());
                let seqs = write_events(&mut observer, &actor, vec![e], now_ms, &[])?;
                observer.finish(tx)?;
                return Ok(EditSaved { key, queued: 0, history_seqs: seqs.into_iter().map(|(s, _)| s).collect() });
            }
            let change = QueuedChange {
                op: OutboxOp::Delete,
                field: "*".into(),
                base: Value::Null,
                new: Value::Null,
                origin_id: None,
            };
            let seqs = write_events(&mut observer, &actor, vec![e], now_ms, std::slice::from_ref(&change))?;
            observer.finish(tx)?;
            let queued = insert_outbox(tx, key, &[change], &seqs, &actor, now_ms)?;
            Ok(EditSaved { key, queued, history_seqs: seqs.into_iter().map(|(s, _)| s).collect() })
        })
    }

    /// Brings a deleted record back.
    /// - A deletion still waiting in the outbox is undone here: nothing is sent, the record
    ///   keeps its id and its edits.
    /// - A record created here whose create was dropped with the deletion is queued to be
    ///   created again, under the same local id.
    /// - A deletion the portal took: the portal has no REST restore, so the record is created
    ///   again with its last fields, phones, e-mails and links, under a new id. Both records say
    ///   so in their history, each naming the other.
    pub fn restore_record(
        &mut self,
        actor: &LocalActor,
        key: RecordKey,
        now_ms: i64,
    ) -> Result<EditSaved, StoreError> {
        let (record, state) = load_local(&self.conn, key)?.ok_or(StoreError::NotFound)?;
        if state == RecordState::Deleted {
            if let Some(undone) = self.undo_unsent_delete(actor, key, now_ms)? {
                return Ok(undone);
            }
        }
        // A record deleted on the portal while this user's edits waited ("gone" entries) is
        // re-created with those edits in it.
        let gone: bool = self
            .conn
            .prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM outbox WHERE entity_type = ?1 AND record_id = ?2 \
                 AND state = 'gone')",
            )?
            .query_row(params![key.entity_type.type_id(), key.id], |r| r.get(0))?;
        if state != RecordState::Deleted && !gone {
            return Err(StoreError::NotAllowed(
                "only a deleted record can be restored",
            ));
        }
        if gone {
            self.conn.execute(
                "UPDATE outbox SET state = 'discarded', last_error = NULL WHERE entity_type = ?1 \
                 AND record_id = ?2 AND state NOT IN ('done', 'discarded')",
                params![key.entity_type.type_id(), key.id],
            )?;
            if state == RecordState::Active {
                self.conn.execute(
                    "UPDATE records SET state = 1, state_changed_at = ?2 WHERE rid = ?1",
                    params![rid_of(key)?, now_ms / 1000],
                )?;
                let mut deltas = CountDeltas::default();
                deltas.add(key.entity_type, RecordState::Active, -1);
                deltas.add(key.entity_type, RecordState::Deleted, 1);
                deltas.write(&self.conn)?;
            }
        }
        let metas = field_metas(&self.conn, key.entity_type)?;
        let edit = restorable(&record, &metas);
        let saved = self.create_record(actor, key.entity_type, &edit, now_ms)?;
        let title = record.display_title();
        let mut on_old = NewEvent::new(
            Some(key),
            HistoryEventCode::Restored,
            now_ms,
            source_of(actor),
        );
        on_old.record_title = title.clone();
        on_old.note = Some("Восстановлена как новая запись".into());
        on_old.new_value =
            Some(json!({"entityType": saved.key.entity_type, "id": saved.key.id}).to_string());
        on_old.new_display = Some(record_ref_text(&title, saved.key));
        let mut on_new = NewEvent::new(
            Some(saved.key),
            HistoryEventCode::Restored,
            now_ms,
            source_of(actor),
        );
        on_new.record_title = title.clone();
        on_new.note = Some("Восстановлена из удалённой записи".into());
        on_new.old_value = Some(json!({"entityType": key.entity_type, "id": key.id}).to_string());
        on_new.old_display = Some(record_ref_text(&title, key));
        // The old record's event stays on this device; the new one's travels with its create.
        let on_old = actor.stamp_pub(on_old);
        let mut on_new = actor.stamp_pub(on_new);
        on_new.sync_state = HistorySyncState::Pending;
        let seqs = self.append_history(&[vec![on_old, on_new]])?;
        if let Some(seq) = seqs.last() {
            self.conn
                .prepare_cached(
                    "UPDATE outbox SET history_seqs = json_insert(COALESCE(history_seqs, '[]'), \
                     '$[#]', ?3) WHERE entity_type = ?1 AND record_id = ?2 AND op = 'create' \
                     AND state NOT IN ('done', 'discarded')",
                )?
                .execute(params![saved.key.entity_type.type_id(), saved.key.id, seq])?;
        }
        Ok(saved)
    }

    /// Undoes a deletion that has not reached the portal (or a create dropped with it). `None`
    /// when the portal already took the deletion.
    fn undo_unsent_delete(
        &mut self,
        actor: &LocalActor,
        key: RecordKey,
        now_ms: i64,
    ) -> Result<Option<EditSaved>, StoreError> {
        let actor = actor.clone();
        self.durable(|tx| {
            let t = key.entity_type.type_id();
            let delete: Option<(i64, String, i64)> = tx
                .prepare_cached(
                    "SELECT id, state, attempts FROM outbox WHERE entity_type = ?1 \
                     AND record_id = ?2 AND op = 'delete' \
                     AND state NOT IN ('done', 'discarded', 'gone') ORDER BY id DESC LIMIT 1",
                )?
                .query_row(params![t, key.id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                .optional()?;
            let dropped_create: Option<i64> = if key.is_local() && delete.is_none() {
                tx.prepare_cached(
                    "SELECT id FROM outbox WHERE entity_type = ?1 AND record_id = ?2 \
                     AND op = 'create' AND state = 'discarded' ORDER BY id DESC LIMIT 1",
                )?
                .query_row(params![t, key.id], |r| r.get(0))
                .optional()?
            } else {
                None
            };
            let note = match (&delete, dropped_create) {
                (Some((_, state, attempts)), _)
                    if state == OutboxState::Sending.as_str()
                        || (state == OutboxState::Pending.as_str() && *attempts > 0) =>
                {
                    return Err(StoreError::NotAllowed(
                        "the deletion is being sent to the portal, or may have reached it: \
                         restore the record once the next sync has finished",
                    ))
                }
                (Some(_), _) => "Удаление отменено до отправки на портал",
                (None, Some(_)) => "Восстановлена до отправки на портал",
                (None, None) => return Ok(None),
            };
            let (record, _) = load_local(tx, key)?.ok_or(StoreError::NotFound)?;
            tx.prepare_cached("UPDATE records SET state = 0, state_changed_at = ?2 WHERE rid = ?1")?
                .execute(params![rid_of(key)?, now_ms / 1000])?;
            let mut deltas = CountDeltas::default();
            deltas.add(key.entity_type, RecordState::Deleted, -1);
            deltas.add(key.entity_type, RecordState::Active, 1);
            deltas.write(tx)?;
            let mut observer = Observer::new(tx, key.entity_type)?;
            let mut e = NewEvent::new(Some(key), HistoryEventCode::Restored, now_ms, source_of(&actor));
            e.record_title = record.display_title();
            e.note = Some(note.into());
            let mut e = actor.stamp_pub(e);
            let queued = match (delete, dropped_create) {
                (Some((id, _, _)), _) => {
                    // The deletion never left this device: its events stay local, like this one.
                    let seqs = tx
                        .prepare_cached(
                            "UPDATE outbox SET state = 'discarded', last_error = NULL WHERE id = ?1 \
                             RETURNING history_seqs",
                        )?
                        .query_row([id], |r| r.get::<_, Option<String>>(0))?;
                    let seqs: Vec<i64> = seqs
                        .map(|t| serde_json::from_str(&t))
                        .transpose()?
                        .unwrap_or_default();
                    crate::upload::set_delivery(tx, &seqs, HistorySyncState::Local, None)?;
                    let g = observer.writer.new_group();
                    observer.writer.append(&e, g)?;
                    0
                }
                (None, Some(id)) => {
                    let metas = field_metas(tx, key.entity_type)?;
                    let edit = restorable(&record, &metas);
                    let value = json!({"fields": edit.fields, "fm": record.multi_fields});
                    e.sync_state = HistorySyncState::Pending;
                    let g = observer.writer.new_group();
                    let seq = observer.writer.append(&e, g)?;
                    // The create keeps its attempts (an uncertain earlier one is looked up by
                    // its tag before it is sent again) and carries the record's events since.
                    let mut seqs: Vec<i64> = tx
                        .prepare_cached(
                            "SELECT history_seqs FROM outbox WHERE entity_type = ?1 \
                             AND record_id = ?2 AND state = 'discarded' AND id >= ?3",
                        )?
                        .query_map(params![t, key.id, id], |r| r.get::<_, Option<String>>(0))?
                        .collect::<Result<Vec<_>, _>>()?
                        .into_iter()
                        .flatten()
                        .map(|text| serde_json::from_str::<Vec<i64>>(&text))
                        .collect::<Result<Vec<_>, _>>()?
                        .concat();
                    crate::upload::set_delivery(tx, &seqs, HistorySyncState::Pending, None)?;
                    seqs.push(seq);
                    tx.prepare_cached(
                        "UPDATE outbox SET state = 'pending', new_value = ?2, last_error = NULL, \
                         history_seqs = ?3, happened_ms = ?4 WHERE id = ?1",
                    )?
                    .execute(params![id, value.to_string(), json!(seqs).to_string(), now_ms])?;
                    1
                }
                (None, None) => 0,
            };
            observer.finish(tx)?;
            Ok(Some(EditSaved {
                key,
                queued,
                history_seqs: Vec::new(),
            }))
        })
    }
}

/// A record's last values as a create: every writable, non-empty field, phones and e-mails.
fn restorable(record: &Record, metas: &[FieldMeta]) -> RecordEdit {
    let mut edit = RecordEdit::default();
    for (name, value) in &record.fields {
        // Without field metadata (not synced yet) every non-system field is taken.
        let writable = metas.is_empty()
            || metas
                .iter()
                .find(|m| &m.name == name)
                .is_some_and(|m| !m.is_read_only);
        if writable
            && !SYSTEM_FIELDS.contains(&name.as_str())
            && !kartoteka_domain::record::is_empty_value(value)
        {
            edit.fields.insert(name.clone(), value.clone());
        }
    }
    edit.multi_fields = record
        .multi_fields
        .iter()
        .map(|m| MultiFieldEdit::Add {
            kind: m.kind,
            value_type: m.value_type.clone(),
            value: m.value.clone(),
        })
        .collect();
    edit
}

/// How a history event names another record: its title and, once the portal gave it one, its
/// id (a record created here has none to show yet).
pub(crate) fn record_ref_text(title: &str, key: RecordKey) -> String {
    if key.is_local() {
        format!("«{title}» (ещё не на портале)")
    } else {
        format!("«{title}» #{}", key.id)
    }
}

/// Writes a save's events as one group, stamped with this device's user, pending; returns each
/// event's seq with the outbox field it belongs to.
pub(crate) fn write_events(
    observer: &mut Observer<'_>,
    actor: &LocalActor,
    events: Vec<NewEvent>,
    now_ms: i64,
    changes: &[QueuedChange],
) -> Result<Vec<(i64, Option<String>)>, StoreError> {
    let g = observer.writer.new_group();
    let mut out = Vec::with_capacity(events.len());
    for e in events {
        let mut e = actor.stamp_pub(e);
        e.happened_ms = now_ms;
        e.source = source_of(actor);
        e.sync_state = if changes.is_empty() {
            HistorySyncState::Local
        } else {
            HistorySyncState::Pending
        };
        let field = match e.event {
            HistoryEventCode::Created | HistoryEventCode::Deleted => Some("*".to_string()),
            _ => outbox_field_of(&e),
        };
        let seq = observer.writer.append(&e, g)?;
        out.push((seq, field));
    }
    Ok(out)
}

/// Writes the outbox rows of a save (or joins a field's open change); each row names the events
/// it carries. Returns how many changes the save queued.
pub(crate) fn insert_outbox(
    tx: &Connection,
    key: RecordKey,
    changes: &[QueuedChange],
    seqs: &[(i64, Option<String>)],
    actor: &LocalActor,
    now_ms: i64,
) -> Result<u32, StoreError> {
    let group = seqs.first().map(|(s, _)| *s);
    let mut insert = tx.prepare_cached(
        "INSERT INTO outbox (entity_type, record_id, field, base_value, new_value, created_at, \
         state, op, group_id, history_seqs, happened_ms, source, origin_id) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'pending', ?7, ?8, ?9, ?10, ?11, ?12)",
    )?;
    // Events that belong to no one field (a "reverted" marker) travel with the save's first row.
    let belongs = |f: &Option<String>, c: &QueuedChange| {
        f.as_deref()
            .is_some_and(|f| f == c.field || is_link_field_for(f, &c.field))
    };
    let loose: Vec<i64> = seqs
        .iter()
        .filter(|(_, f)| !changes.iter().any(|c| belongs(f, c)))
        .map(|(s, _)| *s)
        .collect();
    for (i, c) in changes.iter().enumerate() {
        let mut mine: Vec<i64> = seqs
            .iter()
            .filter(|(_, f)| belongs(f, c))
            .map(|(s, _)| *s)
            .collect();
        if i == 0 {
            mine.extend(&loose);
        }
        let mut base = c.base.clone();
        if c.op == OutboxOp::Update {
            match open_change(tx, key, &c.field)? {
                // One user's edits to one field are one change against one base: a later edit
                // joins the change still waiting (or in conflict, or refused), keeping its base.
                Some(open) if !open.maybe_sent() => {
                    join_change(tx, &open, c, &mine, now_ms)?;
                    continue;
                }
                // A change in flight, or sent before without a known outcome, keeps the value
                // it sent (the upload recognises it on the portal); this one follows it, made
                // against the same base, and when that change lands, against the portal's value.
                Some(open) => base = open.base,
                None => {}
            }
        }
        insert.execute(params![
            key.entity_type.type_id(),
            key.id,
            c.field,
            serde_json::to_string(&base)?,
            serde_json::to_string(&c.new)?,
            now_ms / 1000,
            c.op.as_str(),
            group,
            serde_json::to_string(&mine)?,
            now_ms,
            source_of(actor).as_str(),
            c.origin_id,
        ])?;
    }
    Ok(changes.len() as u32)
}

/// The open update of one field of a record, if any (there is at most one besides one in flight).
struct OpenChange {
    id: i64,
    state: OutboxState,
    attempts: i64,
    base: Value,
    seqs: Vec<i64>,
}

impl OpenChange {
    /// Being sent, or sent before without a known outcome: the portal may hold its value.
    fn maybe_sent(&self) -> bool {
        self.state == OutboxState::Sending
            || (self.state == OutboxState::Pending && self.attempts > 0)
    }
}

fn open_change(
    tx: &Connection,
    key: RecordKey,
    field: &str,
) -> Result<Option<OpenChange>, StoreError> {
    let row = tx
        .prepare_cached(
            "SELECT id, state, base_value, history_seqs, attempts FROM outbox WHERE entity_type = ?1 \
             AND record_id = ?2 AND field = ?3 AND op = 'update' \
             AND state NOT IN ('done', 'discarded') ORDER BY id DESC LIMIT 1",
        )?
        .query_row(params![key.entity_type.type_id(), key.id, field], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, Option<String>>(2)?,
                r.get::<_, Option<String>>(3)?,
                r.get::<_, i64>(4)?,
            ))
        })
        .optional()?;
    let Some((id, state, base, seqs, attempts)) = row else {
        return Ok(None);
    };
    Ok(Some(OpenChange {
        id,
        state: OutboxState::parse(&state)
            .ok_or_else(|| StoreError::corrupt("outbox.state", state.clone()))?,
        attempts,
        base: base
            .map(|t| serde_json::from_str(&t))
            .transpose()?
            .unwrap_or(Value::Null),
        seqs: seqs
            .map(|t| serde_json::from_str(&t))
            .transpose()?
            .unwrap_or_default(),
    }))
}

/// A later edit of a field joins its open change: the new value, the edit's events, its time.
/// A refused change the user edited again is tried again; a conflict stays one, now with the
/// new value as "mine".
fn join_change(
    tx: &Connection,
    open: &OpenChange,
    c: &QueuedChange,
    seqs: &[i64],
    now_ms: i64,
) -> Result<(), StoreError> {
    let mut all = open.seqs.clone();
    all.extend(seqs);
    let state = match open.state {
        OutboxState::Rejected => OutboxState::Pending,
        s => s,
    };
    tx.prepare_cached(
        "UPDATE outbox SET new_value = ?2, history_seqs = ?3, happened_ms = ?4, state = ?5, \
         attempts = CASE WHEN state = 'rejected' THEN 0 ELSE attempts END, \
         last_error = CASE WHEN state = 'rejected' THEN NULL ELSE last_error END WHERE id = ?1",
    )?
    .execute(params![
        open.id,
        serde_json::to_string(&c.new)?,
        serde_json::to_string(&all)?,
        now_ms,
        state.as_str()
    ])?;
    let delivery = match state {
        OutboxState::Conflict => HistorySyncState::Conflict,
        _ => HistorySyncState::Pending,
    };
    crate::upload::set_delivery(tx, seqs, delivery, None)?;
    Ok(())
}

/// Link events are named by the linked type (`link.contact`, …); the outbox row is the
/// record's field that declares the link (`contactIds`, `companyId`, …).
fn is_link_field_for(event_field: &str, outbox_field: &str) -> bool {
    matches!(
        (event_field, outbox_field),
        ("link.contact", "contactIds" | "contactId")
            | ("link.company", "companyId" | "companyIds")
            | ("link.lead", "leadId")
    )
}
