//! Other Kartoteka users' change logs, read back from records' timelines (product.md §4.2): each
//! change becomes an exact event (author, device time, old and new value) from the source
//! "another Kartoteka user's uploaded log", and the "observed at sync" event it explains is
//! replaced — one entry per change, never both.

use super::{HistoryWriter, NewEvent};
use crate::promote::{key_of, rid_of};
use crate::upload::LOG_MARKER;
use crate::{Store, StoreError};
use kartoteka_domain::{
    same_value, AuthorKind, HistoryEventCode, HistorySource, HistorySyncState, RecordKey,
};
use rusqlite::{params, OptionalExtension};
use serde_json::Value;

/// One timeline entry as the portal lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimelineLog {
    /// `logmessage:<id>` or `comment:<id>`.
    pub external_id: String,
    /// When the portal created it, UTC unix ms.
    pub created_ms: i64,
    pub text: String,
}

fn parse_ms(v: &Value) -> Option<i64> {
    v.as_str()
        .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.timestamp_millis())
}

impl Store {
    /// Records changed on the portal whose timelines are still to be read, oldest first.
    pub fn peer_logs_due(&self, limit: usize) -> Result<Vec<RecordKey>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT rid FROM peer_log_due ORDER BY rid LIMIT ?1")?;
        let rows = stmt.query_map([limit as i64], |r| r.get::<_, i64>(0))?;
        let mut out = Vec::new();
        for rid in rows {
            out.push(key_of(rid?)?);
        }
        Ok(out)
    }

    /// Records the Kartoteka change logs among a record's timeline entries (skipping this
    /// device's own and those already recorded) and marks the record read. Returns how many
    /// events were recorded.
    pub fn apply_peer_logs(
        &mut self,
        key: RecordKey,
        logs: &[TimelineLog],
        this_device: &str,
    ) -> Result<u64, StoreError> {
        let rid = rid_of(key)?;
        let tx = self.conn.transaction()?;
        let mut recorded = 0u64;
        {
            let title: Option<String> = tx
                .prepare_cached("SELECT title FROM records WHERE rid = ?1")?
                .query_row([rid], |r| r.get(0))
                .optional()?;
            let mut w = HistoryWriter::new(&tx)?;
            let mut seen =
                tx.prepare_cached("SELECT 1 FROM history_events WHERE external_id = ?1")?;
            let mut observed = tx.prepare_cached(
                "SELECT e.seq, e.new_value FROM history_events e WHERE e.rid = ?1 \
                 AND e.source = 'observed' AND e.field = ?2 \
                 AND NOT EXISTS (SELECT 1 FROM history_masked m WHERE m.seq = e.seq) \
                 ORDER BY e.seq DESC LIMIT 5",
            )?;
            for log in logs {
                let Some((_, block)) = log.text.split_once(LOG_MARKER) else {
                    continue;
                };
                let Ok(block) = serde_json::from_str::<Value>(block.trim()) else {
                    continue;
                };
                if block["device"].as_str() == Some(this_device) {
                    continue;
                }
                let happened = parse_ms(&block["happenedAt"]).unwrap_or(log.created_ms);
                let author = block["author"].as_str().unwrap_or_default().to_string();
                let author_id = block["authorId"].as_i64();
                let offline = block["source"].as_str() == Some("deviceOffline");
                let changes = block["changes"].as_array().cloned().unwrap_or_default();
                let g = w.new_group();
                for (i, c) in changes.iter().enumerate() {
                    let external = format!("{}:{i}", log.external_id);
                    if seen.exists([&external])? {
                        continue;
                    }
                    let field = c["field"].as_str().unwrap_or_default().to_string();
                    let event = match (c["op"].as_str(), field.as_str()) {
                        (Some("create"), _) => HistoryEventCode::Created,
                        (Some("delete"), _) => HistoryEventCode::Deleted,
                        (_, "stageId") => HistoryEventCode::StageChanged,
                        _ => HistoryEventCode::FieldChanged,
                    };
                    let text = |v: &Value| match v {
                        Value::Null => None,
                        Value::String(s) => Some(s.clone()),
                        other => Some(other.to_string()),
                    };
                    let mut e = NewEvent::new(Some(key), event, happened, HistorySource::PeerLog);
                    e.received_ms = Some(log.created_ms);
                    e.author_id = author_id;
                    e.author_name = author.clone();
                    e.author_kind = AuthorKind::Person;
                    e.sync_state = HistorySyncState::Synced;
                    e.device_id = block["device"].as_str().map(str::to_string);
                    e.record_title = title.clone().unwrap_or_default();
                    e.field = (field != "*").then(|| field.clone());
                    e.field_label = c["label"].as_str().map(str::to_string);
                    e.old_value = text(&c["old"]).map(|_| c["old"].to_string());
                    e.new_value = text(&c["new"]).map(|_| c["new"].to_string());
                    e.old_display = text(&c["old"]);
                    e.new_display = text(&c["new"]);
                    e.note = offline.then(|| "Изменено офлайн".to_string());
                    e.external_id = Some(external);
                    let seq = w.append(&e, g)?;
                    recorded += 1;
                    // The observed change this entry explains leaves the normal view.
                    let rows: Vec<(i64, Option<String>)> = observed
                        .query_map(params![rid, field], |r| Ok((r.get(0)?, r.get(1)?)))?
                        .collect::<Result<_, _>>()?;
                    for (obs, new_value) in rows {
                        let v: Value = new_value
                            .as_deref()
                            .and_then(|t| serde_json::from_str(t).ok())
                            .unwrap_or(Value::Null);
                        if same_value(&v, &c["new"]) {
                            w.mask(obs, "replaced", seq)?;
                            break;
                        }
                    }
                }
            }
            w.finish(&tx)?;
        }
        tx.prepare_cached("DELETE FROM peer_log_due WHERE rid = ?1")?
            .execute([rid])?;
        tx.commit()?;
        Ok(recorded)
    }
}
