//! A record as it was at a chosen moment, rebuilt from its current version and the field events
//! recorded after that moment (each undone, newest first).

use super::observe::{is_bookkeeping_field, Observer};
use crate::promote::rid_of;
use crate::{Store, StoreError};
use chrono::{DateTime, Utc};
use kartoteka_domain::history::{AsOfField, RecordAsOf};
use kartoteka_domain::{Record, RecordKey};
use serde_json::{Map, Value};
use std::collections::HashMap;

impl Store {
    /// The record's fields as they were at `at`: `None` when the replica does not hold it.
    pub fn record_as_of(
        &self,
        key: RecordKey,
        at: DateTime<Utc>,
    ) -> Result<Option<RecordAsOf>, StoreError> {
        let rid = rid_of(key)?;
        let Some(detail) = self.get_record(key)? else {
            return Ok(None);
        };
        let mut fields: Map<String, Value> = detail.fields.clone();
        // Oldest change after `at` per field: its old value is the value at `at`.
        let mut then: HashMap<String, (Option<String>, Option<String>)> = HashMap::new();
        {
            let mut stmt = self.conn.prepare_cached(
                "SELECT field, old_value, old_display FROM history_events e WHERE rid = ?1 \
                 AND happened_ms > ?2 AND event IN ('field_changed', 'stage_changed', 'reverted') \
                 AND field IS NOT NULL \
                 AND NOT EXISTS (SELECT 1 FROM history_masked m WHERE m.seq = e.seq \
                 AND m.reason = 'replaced') ORDER BY happened_ms DESC, seq DESC",
            )?;
            let mut rows = stmt.query(rusqlite::params![rid, at.timestamp_millis()])?;
            while let Some(r) = rows.next()? {
                let field: String = r.get(0)?;
                let old: Option<String> = r.get(1)?;
                let shown: Option<String> = r.get(2)?;
                let value = match &old {
                    Some(json) => serde_json::from_str(json).unwrap_or(Value::Null),
                    None => Value::Null,
                };
                fields.insert(field.clone(), value);
                then.insert(field, (old, shown));
            }
        }
        let record = Record {
            key,
            updated_time: None,
            fields,
            multi_fields: Vec::new(),
        };
        let observer = Observer::new(&self.conn, key.entity_type)?;
        let mut out = Vec::new();
        for meta in self.field_meta(key.entity_type)? {
            if is_bookkeeping_field(&meta.name) {
                continue;
            }
            let changed = then.get(&meta.name);
            let value = match changed {
                Some((_, Some(shown))) => Some(shown.clone()),
                _ => record
                    .fields
                    .get(&meta.name)
                    .and_then(|v| observer.display_value(&meta.name, v, &record)),
            };
            out.push(AsOfField {
                label: meta.label.clone(),
                field: meta.name.clone(),
                value,
                changed_since: changed.is_some(),
            });
        }
        Ok(Some(RecordAsOf {
            key,
            at,
            fields: out,
        }))
    }
}
