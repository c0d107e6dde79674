//! Builders shared by the store's integration tests.
#![allow(dead_code)]

use chrono::DateTime;
use kartoteka_domain::{EntityType, MultiField, MultiFieldKind, Record, RecordKey};
use kartoteka_store::{Store, SyncCheckpoint};
use serde_json::{json, Value};
use std::path::Path;

pub fn key(entity_type: EntityType, id: i64) -> RecordKey {
    RecordKey { entity_type, id }
}

/// A record with the given fields; `updatedTime` (if any) also fills `updated_time`.
pub fn record(entity_type: EntityType, id: i64, fields: Value) -> Record {
    let mut fields = fields.as_object().cloned().unwrap_or_default();
    fields.insert("id".into(), json!(id));
    let updated_time = fields
        .get("updatedTime")
        .and_then(Value::as_str)
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok());
    Record {
        key: key(entity_type, id),
        updated_time,
        fields,
        multi_fields: vec![],
    }
}

pub fn deal(id: i64, title: &str, stage: &str, assigned: i64, updated: &str) -> Record {
    record(
        EntityType::Deal,
        id,
        json!({"title": title, "stageId": stage, "categoryId": 0, "assignedById": assigned,
               "opportunity": 1000 + id, "currencyId": "RUB", "updatedTime": updated,
               "createdTime": "2024-01-01T10:00:00+03:00", "updatedBy": assigned}),
    )
}

pub fn contact(id: i64, name: &str, last_name: &str, phone: &str, email: &str) -> Record {
    let mut r = record(
        EntityType::Contact,
        id,
        json!({"name": name, "lastName": last_name, "assignedById": 1,
               "updatedTime": "2024-05-01T12:00:00+03:00"}),
    );
    r.multi_fields = vec![
        MultiField {
            id: id * 10,
            kind: MultiFieldKind::Phone,
            value_type: "WORK".into(),
            value: phone.into(),
        },
        MultiField {
            id: id * 10 + 1,
            kind: MultiFieldKind::Email,
            value_type: "WORK".into(),
            value: email.into(),
        },
    ];
    r
}

pub fn checkpoint(last_id: i64) -> SyncCheckpoint {
    SyncCheckpoint {
        last_id,
        ..SyncCheckpoint::default()
    }
}

pub fn open(dir: &Path) -> Store {
    Store::open(&dir.join("replica.db")).expect("open store")
}
