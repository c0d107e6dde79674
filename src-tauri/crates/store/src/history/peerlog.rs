//! Other Kartoteka users' change logs, read back from records' timelines (product.md §4.2): each
//! change becomes an exact event (author, device time, old and new value) from the source
//! "another Kartoteka user's uploaded log", and the "observed at sync" event it explains is
//! replaced — one entry per change, never both. A log is recorded only when the author it names
//! is the one the portal gives for its timeline entry.

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
    /// Who the portal says wrote it (a log message's `authorId`, a comment's `AUTHOR_ID`: the
    /// user who called `add`, `crm/lib/controller/timeline/logmessage.php` `addAction`,
    /// `comment.php` `fetchFieldsToAdd`).
    pub author_id: Option<i64>,
    pub text: String,
}

/// How far a record's timeline has been read: every log message and every comment with an id
/// up to these was taken (ids grow on a portal, so a newer entry has a larger one).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TimelineMarks {
    pub logmessage: i64,
    pub comment: i64,
}

/// A record whose timeline is due to be read, with how far it was read before.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerLogDue {
    pub key: RecordKey,
    pub read_to: TimelineMarks,
}

fn parse_ms(v: &Value) -> Option<i64> {
    v.as_str()
        .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.timestamp_millis())
}

impl Store {
    /// Records changed on the portal whose timelines are still to be read, after `after` in
    /// key order (a run walks the list once, so a record left due is not read twice in it).
    pub fn peer_logs_due(
        &self,
        after: Option<RecordKey>,
        limit: usize,
    ) -> Result<Vec<PeerLogDue>, StoreError> {
        let after = after.map(rid_of).transpose()?.unwrap_or(0);
        let mut stmt = self.conn.prepare_cached(
            "SELECT d.rid, COALESCE(r.logmessage, 0), COALESCE(r.comment, 0) \
             FROM peer_log_due d LEFT JOIN peer_log_read r ON r.rid = d.rid \
             WHERE d.rid > ?1 ORDER BY d.rid LIMIT ?2",
        )?;
        let rows = stmt.query_map(params![after, limit as i64], |r| {
            Ok((r.get::<_, i64>(0)?, r.get(1)?, r.get(2)?))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (rid, logmessage, comment) = row?;
            out.push(PeerLogDue {
                key: key_of(rid)?,
                read_to: TimelineMarks {
                    logmessage,
                    comment,
                },
            });
        }
        Ok(out)
    }

    /// Records the Kartoteka change logs among a record's timeline entries (skipping this
    /// replica's own, see [`Store::is_own_log`], and those already recorded), oldest first.
    /// With `read_to` (the timeline was read back to where the last read ended) the record is
    /// marked read up to there; without it (the read was cut short) it stays due. Returns how
    /// many events were recorded.
    pub fn apply_peer_logs(
        &mut self,
        key: RecordKey,
        logs: &[TimelineLog],
        read_to: Option<TimelineMarks>,
    ) -> Result<u64, StoreError> {
        let own = self.own_identity()?;
        // Oldest first: by the portal's time, then by the entry's id (ids grow).
        let mut logs: Vec<&TimelineLog> = logs.iter().collect();
        logs.sort_by_key(|l| {
            let id = l
                .external_id
                .rsplit(':')
                .next()
                .and_then(|i| i.parse::<i64>().ok());
            (l.created_ms, id)
        });
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
                if own.owns(block["device"].as_str(), block["authorId"].as_i64()) {
                    continue;
                }
                // The author the text names must be the one who wrote the entry: anyone who may
                // edit the record may write a comment naming someone else.
                if log.author_id.is_none() || block["authorId"].as_i64() != log.author_id {
                    tracing::warn!(
                        entry = %log.external_id,
                        "a change log names another author than the portal's; not recorded"
                    );
                    continue;
                }
                let happened = parse_ms(&block["happenedAt"]).unwrap_or(log.created_ms);
                let author = block["author"].as_str().unwrap_or_default().to_string();
                let author_id = block["authorId"].as_i64();
                let offline = block["source"].as_str() == Some("deviceOffline");
                let changes = block["changes"].as_array().cloned().unwrap_or_default();
                // The log's own id when it carries one (`<device>:<outbox_logs.id>`): the same
                // log published twice (its answer lost, sent again) is recorded once. Older logs
                // are known by their timeline entry.
                let named = match block["logId"].as_str() {
                    Some(id) if !id.is_empty() => format!("peerlog:{id}"),
                    _ => log.external_id.clone(),
                };
                let g = w.new_group();
                for (i, c) in changes.iter().enumerate() {
                    let external = format!("{named}:{i}");
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
        if let Some(m) = read_to {
            tx.prepare_cached(
                "INSERT INTO peer_log_read (rid, logmessage, comment) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (rid) DO UPDATE SET \
                 logmessage = MAX(logmessage, excluded.logmessage), \
                 comment = MAX(comment, excluded.comment)",
            )?
            .execute(params![rid, m.logmessage, m.comment])?;
            tx.prepare_cached("DELETE FROM peer_log_due WHERE rid = ?1")?
                .execute([rid])?;
        }
        tx.commit()?;
        Ok(recorded)
    }
}
