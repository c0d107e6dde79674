//! Creates that may have reached the portal unseen (no record is ever made twice). A create's send is recorded before it goes out (`unanswered_ms`) and cleared by a
//! definite answer (the item, or a refusal: nothing was made); while it is set, the upload looks
//! the create up by its tag before sending it again. When that look-up cannot settle it (the user
//! may not read what the create made), the entry waits in the `uncertain` state for the user's
//! word ([`UncertainChoice`]).

use crate::edit::source_of;
use crate::history::{LocalActor, NewEvent, Observer};
use crate::outbox::listing::entry;
use crate::upload::{seqs_of, set_delivery};
use crate::{Store, StoreError};
use kartoteka_domain::{
    HistoryEventCode, HistorySyncState, OutboxEntry, OutboxOp, OutboxState, RecordKey,
    UncertainChoice, UncertainCreate,
};
use rusqlite::{params, Connection, OptionalExtension};
use serde_json::Value;

impl Store {
    /// Marks creates as being sent at `now_ms` (committed before the request goes out: if no
    /// answer comes, the next run knows the create may have landed, and when it went out), and
    /// returns the ids it marked: only those may go out. A create discarded, settled or made
    /// uncertain since the upload read it is left as it is and not sent.
    pub fn mark_creates_sending(
        &mut self,
        ids: &[i64],
        now_ms: i64,
    ) -> Result<Vec<i64>, StoreError> {
        let tx = self.conn.transaction()?;
        let mut marked = Vec::with_capacity(ids.len());
        {
            let mut stmt = tx.prepare_cached(
                "UPDATE outbox SET state = 'sending', attempts = attempts + 1, \
                 unanswered_ms = ?2 WHERE id = ?1 AND op = 'create' \
                 AND state IN ('pending', 'sending') RETURNING id",
            )?;
            for id in ids {
                if let Some(id) = stmt
                    .query_row(params![id, now_ms], |r| r.get::<_, i64>(0))
                    .optional()?
                {
                    marked.push(id);
                }
            }
        }
        tx.commit()?;
        Ok(marked)
    }

    /// The portal refused these creates: a definite answer, nothing was made, so a later attempt
    /// needs no look-up and no question. `state` and `error` as in [`Store::upload_failed`].
    pub fn creates_refused(
        &mut self,
        ids: &[i64],
        state: OutboxState,
        error: &str,
    ) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        {
            let mut stmt = tx.prepare_cached(
                "UPDATE outbox SET state = ?2, last_error = ?3, unanswered_ms = NULL \
                 WHERE id = ?1 AND op = 'create' AND state NOT IN ('done', 'discarded')",
            )?;
            for id in ids {
                stmt.execute(params![id, state.as_str(), error])?;
            }
            if state == OutboxState::Rejected {
                let seqs = seqs_of(&tx, ids)?;
                set_delivery(&tx, &seqs, HistorySyncState::Rejected, None)?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Creates whose tag the portal did not show, though they may be there: not sent again,
    /// they wait for the user ([`Store::settle_uncertain`]).
    pub fn creates_uncertain(&mut self, ids: &[i64]) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        {
            let mut stmt = tx.prepare_cached(
                "UPDATE outbox SET state = 'uncertain', last_error = NULL WHERE id = ?1 \
                 AND op = 'create' AND state IN ('pending', 'sending')",
            )?;
            for id in ids {
                stmt.execute([id])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// The user's answer about an uncertain create, in one transaction:
    /// - [`UncertainChoice::SendAgain`]: back in the queue as a create no send of which landed
    ///   (the user checked); recorded in the record's history as resolved.
    /// - [`UncertainChoice::Arrived`]: the create is done. The record the portal made is one
    ///   this user may not read and this device never learns its id: the local copy leaves the
    ///   replica as a record whose access was lost does (its data and history
    ///   leave, its key stays), rather than stay as a copy no pull updates and no edit of which
    ///   could ever be sent. The entries queued after the create are discarded for that reason.
    ///
    /// Returns the record it was about.
    pub fn settle_uncertain(
        &mut self,
        actor: &LocalActor,
        id: i64,
        choice: UncertainChoice,
        now_ms: i64,
    ) -> Result<RecordKey, StoreError> {
        let actor = actor.clone();
        self.durable(|tx| {
            let e = entry(tx, id)?;
            if e.state != OutboxState::Uncertain || e.op != OutboxOp::Create {
                return Err(StoreError::NotAllowed(
                    "the entry is not a create waiting for the user's word",
                ));
            }
            match choice {
                UncertainChoice::SendAgain => {
                    tx.prepare_cached(
                        "UPDATE outbox SET state = 'pending', unanswered_ms = NULL, \
                         last_error = NULL WHERE id = ?1",
                    )?
                    .execute([id])?;
                    let mut observer = Observer::new(tx, e.key.entity_type)?;
                    let mut ev = NewEvent::new(
                        Some(e.key),
                        HistoryEventCode::Resolved,
                        now_ms,
                        source_of(&actor),
                    );
                    ev.record_title = e.record_title.clone();
                    ev.field = Some(e.field.clone());
                    ev.field_label = Some(e.field_label.clone());
                    ev.note = Some("Записи нет на портале: отправить снова".into());
                    let ev = actor.stamp_pub(ev);
                    let g = observer.writer.new_group();
                    observer.writer.append(&ev, g)?;
                    observer.finish(tx)?;
                }
                UncertainChoice::Arrived => {
                    let t = e.key.entity_type.type_id();
                    let later: Vec<i64> = {
                        let mut stmt = tx.prepare_cached(
                            "SELECT id FROM outbox WHERE entity_type = ?1 AND record_id = ?2 \
                             AND id <> ?3 AND state NOT IN ('done', 'discarded')",
                        )?;
                        let rows = stmt.query_map(params![t, e.key.id, id], |r| r.get(0))?;
                        rows.collect::<Result<_, _>>()?
                    };
                    tx.prepare_cached(
                        "UPDATE outbox SET state = 'discarded' WHERE entity_type = ?1 \
                         AND record_id = ?2 AND id <> ?3 AND state NOT IN ('done', 'discarded')",
                    )?
                    .execute(params![t, e.key.id, id])?;
                    set_delivery(tx, &seqs_of(tx, &later)?, HistorySyncState::Rejected, None)?;
                    tx.prepare_cached(
                        "UPDATE outbox SET state = 'done', done_ms = ?2, unanswered_ms = NULL, \
                         last_error = NULL WHERE id = ?1",
                    )?
                    .execute(params![id, now_ms])?;
                    set_delivery(tx, &seqs_of(tx, &[id])?, HistorySyncState::Synced, None)?;
                    crate::lifecycle::hide_unreadable(tx, e.key, now_ms / 1000)?;
                }
            }
            Ok(e.key)
        })
    }
}

/// Fills [`OutboxEntry::uncertain`] of uncertain creates: when the send went out, who the record
/// would be assigned to, and how many later entries depend on it.
pub(crate) fn add_uncertain(
    conn: &Connection,
    entries: &mut [OutboxEntry],
) -> Result<(), StoreError> {
    for e in entries
        .iter_mut()
        .filter(|e| e.state == OutboxState::Uncertain)
    {
        let sent: Option<i64> = conn
            .prepare_cached("SELECT unanswered_ms FROM outbox WHERE id = ?1")?
            .query_row([e.id], |r| r.get(0))
            .optional()?
            .flatten();
        let assignee_id = e
            .mine
            .get("fields")
            .and_then(|f| f.get("assignedById"))
            .and_then(|v| match v {
                Value::Number(n) => n.as_i64(),
                Value::String(s) => s.trim().parse().ok(),
                _ => None,
            });
        let assignee_name = match assignee_id {
            Some(uid) => conn
                .prepare_cached("SELECT name, last_name FROM users WHERE id = ?1")?
                .query_row([uid], |r| {
                    Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
                })
                .optional()?
                .map(|(n, l)| format!("{} {}", n.trim(), l.trim()).trim().to_string())
                .filter(|n| !n.is_empty())
                .unwrap_or_else(|| format!("#{uid}")),
            None => String::new(),
        };
        let later_entries: i64 = conn
            .prepare_cached(
                "SELECT COUNT(*) FROM outbox WHERE entity_type = ?1 AND record_id = ?2 \
                 AND id <> ?3 AND state NOT IN ('done', 'discarded')",
            )?
            .query_row(params![e.key.entity_type.type_id(), e.key.id, e.id], |r| {
                r.get(0)
            })?;
        e.uncertain = Some(UncertainCreate {
            sent_ms: sent.filter(|&t| t > 0),
            assignee_id,
            assignee_name,
            later_entries: later_entries as u32,
        });
    }
    Ok(())
}
