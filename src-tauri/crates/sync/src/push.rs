//! The upload driver (product.md §5): carries the outbox to the portal in rounds. Each round
//! reads the current version of up to 2,500 records in one `batch`, decides field by field
//! ([`crate::upload::plan_update`]), writes 50 records per `batch`, and records every outcome in
//! the store before going on. Creates are tagged (`originatorId`/`originId`) and looked up
//! after any uncertain outcome, never sent twice: one the look-up cannot settle waits for the
//! user ([`crate::uncertain`]). Change logs are published on the records' timelines afterwards
//! (see [`crate::timeline`]).

use crate::driver::Clock;
use crate::error::{PortalError, PortalFailure, SyncError};
use crate::uncertain::{create_step, visibility, CreateStep, Reader, TagLookup};
use crate::upload::{check_answer, create_fields, for_the_wire, local_records_named, plan_update};
use crate::{portal_error, SharedReplica};
use kartoteka_bitrix::{parse_record, ApiError, BatchCommand, BatchResult, Client};
use kartoteka_domain::{EntityType, FieldType, OutboxOp, OutboxState, Record, RecordKey};
use kartoteka_store::{QueuedEntry, QueuedRecord, Store, StoreError, ORIGINATOR_ID};
use serde::Serialize;
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// Records read per round (50 `crm.item.list` commands of 50 ids in one request).
const ROUND_RECORDS: usize = 2_500;

/// What one upload run did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UploadSummary {
    /// Entries the portal took (or already had).
    pub uploaded: u64,
    pub created: u64,
    pub deleted: u64,
    pub conflicts: u64,
    pub rejected: u64,
    /// Change logs published on timelines.
    pub logs: u64,
    /// HTTP requests: reads, writes, log publishing.
    pub read_requests: u64,
    pub write_requests: u64,
    pub log_requests: u64,
    /// Records whose changes were written (the protocol minimum is computed from these).
    pub records_written: u64,
    /// Creates that may be on the portal unseen: not sent, they wait for the user's word.
    pub uncertain: u64,
}

impl UploadSummary {
    pub fn requests(&self) -> u64 {
        self.read_requests + self.write_requests + self.log_requests
    }
}

/// Uploads one replica's outbox to one portal.
pub struct Uploader {
    client: Client,
    replica: SharedReplica<Store>,
    clock: Clock,
}

/// How the portal answered one command of a write batch.
enum Outcome<'a> {
    Ok(&'a Value),
    Refused(&'a ApiError),
    /// The batch never ran it (halted) or the answer is missing.
    Unknown,
}

fn outcome<'a>(r: &'a BatchResult, key: &str) -> Outcome<'a> {
    match r.outcome(key) {
        Some(Ok(v)) => Outcome::Ok(v),
        Some(Err(e)) => Outcome::Refused(e),
        None => Outcome::Unknown,
    }
}

/// What an entry becomes when the portal refused its command.
fn refusal_state(e: &ApiError, op: OutboxOp) -> (OutboxState, String) {
    let words = if e.description.is_empty() {
        e.code.clone()
    } else {
        e.description.clone()
    };
    if e.is_not_found() {
        let state = if op == OutboxOp::Delete {
            OutboxState::Done
        } else {
            OutboxState::Gone
        };
        return (state, format!("Запись удалена на портале: {words}"));
    }
    match e.code.as_str() {
        "QUERY_LIMIT_EXCEEDED" | "OPERATION_TIME_LIMIT" | "OVERLOAD_LIMIT" => (
            OutboxState::Pending,
            format!("Портал просит подождать: {words}"),
        ),
        _ => (
            OutboxState::Rejected,
            format!("Портал отклонил изменение: {words}"),
        ),
    }
}

fn items_of(v: &Value) -> Vec<&serde_json::Map<String, Value>> {
    let list = v.get("items").unwrap_or(v);
    list.as_array()
        .map(|a| a.iter().filter_map(Value::as_object).collect())
        .unwrap_or_default()
}

fn item_of(t: EntityType, v: &Value) -> Option<Record> {
    let item = v.get("item").and_then(Value::as_object)?;
    parse_record(t, item).ok()
}

impl Uploader {
    pub fn new(client: Client, replica: SharedReplica<Store>, clock: Clock) -> Self {
        Self {
            client,
            replica,
            clock,
        }
    }

    fn now_ms(&self) -> i64 {
        (self.clock)().timestamp_millis()
    }

    /// What a round reads once from the replica: the yes/no fields of every type (written as
    /// `Y`/`N`, see [`for_the_wire`]) and what reading back datetimes needs ([`Times`]).
    async fn round_fields(
        &self,
    ) -> Result<(HashMap<EntityType, HashSet<String>>, Times), SyncError> {
        self.store(|s| {
            let mut booleans = HashMap::new();
            let mut datetimes = HashMap::new();
            for t in EntityType::ALL {
                let metas = s.field_meta(t)?;
                let named = |ty: FieldType| {
                    metas
                        .iter()
                        .filter(move |f| f.field_type == ty)
                        .map(|f| f.name.clone())
                };
                booleans.insert(t, named(FieldType::Boolean).collect());
                datetimes.insert(t, named(FieldType::Datetime).collect());
            }
            let times = Times {
                user: s.user_time()?,
                fields: datetimes,
            };
            Ok((booleans, times))
        })
        .await
    }

    pub(crate) fn client(&self) -> &Client {
        &self.client
    }

    pub(crate) async fn store<T, F>(&self, f: F) -> Result<T, SyncError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Store) -> Result<T, StoreError> + Send + 'static,
    {
        let replica = Arc::clone(&self.replica);
        tokio::task::spawn_blocking(move || {
            let mut guard = replica.lock().map_err(|_| SyncError::TaskFailed)?;
            f(&mut guard).map_err(SyncError::replica)
        })
        .await
        .map_err(|_| SyncError::TaskFailed)?
    }

    /// Uploads everything due, round by round, then publishes the change logs. Stops at the
    /// first failure that retrying now cannot fix (no network, rate limit, revoked webhook): what
    /// was committed stays; the queue keeps the rest for the next run.
    #[tracing::instrument(skip_all)]
    pub async fn run(&self, cancel: &CancellationToken) -> Result<UploadSummary, SyncError> {
        let mut summary = UploadSummary::default();
        // Values a portal would not keep as written are never sent: rejected, in words.
        summary.rejected += self.store(|s| s.refuse_unstorable()).await?;
        let mut last_round: Vec<i64> = Vec::new();
        loop {
            if cancel.is_cancelled() {
                return Err(SyncError::Cancelled);
            }
            let queue = self.store(|s| s.upload_queue(ROUND_RECORDS)).await?;
            let round: Vec<i64> = queue
                .iter()
                .flat_map(|r| r.entries.iter().map(|e| e.id))
                .collect();
            if queue.is_empty() || round == last_round {
                // Nothing left, or nothing moved (entries waiting for a record not yet created).
                break;
            }
            self.round(queue, &mut summary).await?;
            last_round = round;
        }
        self.publish_logs(cancel, &mut summary).await?;
        tracing::info!(
            uploaded = summary.uploaded,
            created = summary.created,
            conflicts = summary.conflicts,
            rejected = summary.rejected,
            uncertain = summary.uncertain,
            requests = summary.requests(),
            "upload finished"
        );
        Ok(summary)
    }

    async fn round(
        &self,
        queue: Vec<QueuedRecord>,
        summary: &mut UploadSummary,
    ) -> Result<(), SyncError> {
        let mut creates = Vec::new();
        let mut others = Vec::new();
        // Entries that wait for records created here, with the local ids they wait for.
        let mut waiting: Vec<(Vec<i64>, Vec<i64>)> = Vec::new();
        for record in queue {
            match record.entries.iter().find(|e| e.op == OutboxOp::Create) {
                Some(create) => {
                    // A new record linked to another new one goes once that one has its id.
                    let named = local_records_named(create);
                    if named.is_empty() {
                        creates.push((record.key, create.clone()));
                    } else {
                        waiting.push((vec![create.id], named));
                    }
                }
                // Its create is not due (rejected, …): its edits wait for it.
                None if record.key.is_local() => waiting.push((
                    record.entries.iter().map(|e| e.id).collect(),
                    vec![record.key.id],
                )),
                None => others.push(record),
            }
        }
        let (booleans, times) = self.round_fields().await?;
        self.creates(creates, &booleans, summary).await?;
        self.updates(others, &booleans, &times, &mut waiting, summary)
            .await?;
        // Every entry left waiting says why (after this round's creates, which may be what it
        // waited for: those go in the next round).
        if !waiting.is_empty() {
            summary.rejected += self.store(move |s| s.note_waiting(&waiting)).await?;
        }
        Ok(())
    }

    // ---- creates ------------------------------------------------------------------------

    async fn creates(
        &self,
        creates: Vec<(RecordKey, QueuedEntry)>,
        booleans: &HashMap<EntityType, HashSet<String>>,
        summary: &mut UploadSummary,
    ) -> Result<(), SyncError> {
        if creates.is_empty() {
            return Ok(());
        }
        let reader = self
            .store(|s| {
                Ok(Reader {
                    user_id: s.profile()?.user_id,
                    is_admin: s.is_admin()?,
                })
            })
            .await?;
        // Any create that may have reached the portal is looked up by its tag first.
        let landed: Vec<&(RecordKey, QueuedEntry)> = creates
            .iter()
            .filter(|(_, e)| e.may_have_landed())
            .collect();
        let mut lookups: HashMap<i64, TagLookup> = HashMap::new();
        let mut found: HashMap<i64, Record> = HashMap::new();
        for chunk in landed.chunks(self.client.batch_size()) {
            let commands: Vec<BatchCommand> = chunk
                .iter()
                .map(|(key, e)| {
                    BatchCommand::new(
                        format!("o{}", e.id),
                        "crm.item.list",
                        json!({
                            "entityTypeId": key.entity_type.type_id(),
                            "useOriginalUfNames": "Y",
                            "select": ["*"],
                            "filter": {"=originatorId": ORIGINATOR_ID, "=originId": e.origin_id},
                            "order": {"id": "ASC"},
                        }),
                    )
                })
                .collect();
            let r = self
                .client
                .batch(&commands, false)
                .await
                .map_err(portal_error)?;
            summary.read_requests += 1;
            for (key, e) in chunk {
                let lookup = match outcome(&r, &format!("o{}", e.id)) {
                    Outcome::Ok(v) => match items_of(v).first() {
                        None => TagLookup::Nothing,
                        Some(item) => match parse_record(key.entity_type, item) {
                            Ok(rec) => {
                                found.insert(e.id, rec);
                                TagLookup::Found
                            }
                            Err(_) => {
                                // It is there, whatever it holds: never sent again.
                                tracing::warn!(
                                    entry = e.id,
                                    "a create's tag found an unreadable item"
                                );
                                TagLookup::NoAnswer
                            }
                        },
                    },
                    Outcome::Refused(err) if err.is_access_denied() => TagLookup::Denied,
                    Outcome::Refused(_) | Outcome::Unknown => TagLookup::NoAnswer,
                };
                lookups.insert(e.id, lookup);
            }
        }
        let mut to_send = Vec::new();
        let mut ask = Vec::new();
        for (key, e) in creates {
            let lookup = lookups.remove(&e.id).unwrap_or(TagLookup::NotNeeded);
            let fields = e
                .new
                .get("fields")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default();
            match create_step(lookup, visibility(&fields, reader)) {
                CreateStep::Send => to_send.push((key, e)),
                CreateStep::TakeFound => {
                    if let Some(item) = found.remove(&e.id) {
                        tracing::info!(
                            portal_id = item.key.id,
                            "create found by its tag, not sent again"
                        );
                        self.created(key, &e, item, summary).await?;
                    }
                }
                CreateStep::AskUser => ask.push(e.id),
                CreateStep::LookAgain => {
                    tracing::info!(entry = e.id, "a create's look-up got no answer; not sent")
                }
            }
        }
        if !ask.is_empty() {
            tracing::warn!(
                count = ask.len(),
                "creates that may be on the portal, unseen by this user, wait for the user's word"
            );
            summary.uncertain += ask.len() as u64;
            self.store(move |s| s.creates_uncertain(&ask)).await?;
        }
        for chunk in to_send.chunks(self.client.batch_size()) {
            let (ids, now) = (
                chunk.iter().map(|(_, e)| e.id).collect::<Vec<_>>(),
                self.now_ms(),
            );
            let marked = self
                .store(move |s| s.mark_creates_sending(&ids, now))
                .await?;
            // A create discarded or settled since the queue was read is not sent.
            let chunk: Vec<&(RecordKey, QueuedEntry)> = chunk
                .iter()
                .filter(|(_, e)| marked.contains(&e.id))
                .collect();
            if chunk.is_empty() {
                continue;
            }
            let commands: Vec<BatchCommand> = chunk
                .iter()
                .map(|(key, e)| {
                    let mut fields = create_fields(e, ORIGINATOR_ID);
                    for_the_wire(&mut fields, &booleans[&key.entity_type]);
                    // On a create an empty field is one not set: the portal's default applies.
                    fields.retain(|_, v| v.as_str() != Some(""));
                    BatchCommand::new(
                        format!("a{}", e.id),
                        "crm.item.add",
                        json!({
                            "entityTypeId": key.entity_type.type_id(),
                            "useOriginalUfNames": "Y",
                            "fields": fields,
                        }),
                    )
                })
                .collect();
            // An uncertain outcome leaves the entries "sending": the next run looks them up.
            let r = self
                .client
                .batch_write(&commands, false)
                .await
                .map_err(portal_error)?;
            summary.write_requests += 1;
            for (key, e) in chunk {
                match outcome(&r, &format!("a{}", e.id)) {
                    Outcome::Ok(v) => {
                        // Without an item it stays "sending": looked up next time.
                        if let Some(item) = item_of(key.entity_type, v) {
                            self.created(*key, e, item, summary).await?
                        }
                    }
                    Outcome::Refused(err) => {
                        // A definite answer: nothing was made.
                        let (state, words) = refusal_state(err, OutboxOp::Create);
                        if state == OutboxState::Rejected {
                            summary.rejected += 1;
                        }
                        let id = e.id;
                        self.store(move |s| s.creates_refused(&[id], state, &words))
                            .await?;
                    }
                    Outcome::Unknown => {}
                }
            }
        }
        Ok(())
    }

    async fn created(
        &self,
        local: RecordKey,
        e: &QueuedEntry,
        item: Record,
        summary: &mut UploadSummary,
    ) -> Result<(), SyncError> {
        let (id, now) = (e.id, self.now_ms());
        self.store(move |s| s.assign_portal_id(local, item.key.id, id, &item, now, true))
            .await?;
        summary.created += 1;
        summary.uploaded += 1;
        summary.records_written += 1;
        Ok(())
    }

    async fn failed(
        &self,
        ids: Vec<i64>,
        state: OutboxState,
        words: String,
        summary: &mut UploadSummary,
    ) -> Result<(), SyncError> {
        if state == OutboxState::Rejected {
            summary.rejected += ids.len() as u64;
        }
        self.store(move |s| s.upload_failed(&ids, state, &words))
            .await
    }

    // ---- updates and deletes ------------------------------------------------------------

    async fn updates(
        &self,
        records: Vec<QueuedRecord>,
        booleans: &HashMap<EntityType, HashSet<String>>,
        times: &Times,
        waiting: &mut Vec<(Vec<i64>, Vec<i64>)>,
        summary: &mut UploadSummary,
    ) -> Result<(), SyncError> {
        // Entries that link to a record not yet created wait for it.
        let records: Vec<QueuedRecord> = records
            .into_iter()
            .filter_map(|mut r| {
                r.entries.retain(|e| {
                    let named = local_records_named(e);
                    if named.is_empty() {
                        return true;
                    }
                    waiting.push((vec![e.id], named));
                    false
                });
                (!r.entries.is_empty()).then_some(r)
            })
            .collect();
        if records.is_empty() {
            return Ok(());
        }
        let current = self.read_current(&records, summary).await?;
        let mut writes: Vec<Write> = Vec::new();
        for record in records {
            let key = record.key;
            let deleting = record.entries.iter().any(|e| e.op == OutboxOp::Delete);
            let now = self.now_ms();
            match current.get(&key) {
                Some(Err(failure)) => {
                    let ids: Vec<i64> = record.entries.iter().map(|e| e.id).collect();
                    let (state, words) = match failure {
                        PortalFailure::NotFound if deleting => {
                            summary.deleted += 1;
                            summary.uploaded += ids.len() as u64;
                            self.store(move |s| s.upload_succeeded(key, &ids, None, now, false))
                                .await?;
                            continue;
                        }
                        PortalFailure::NotFound => (
                            OutboxState::Gone,
                            "Запись удалена на портале: восстановите её или отмените изменения"
                                .to_string(),
                        ),
                        _ => (
                            OutboxState::Blocked,
                            "Нет доступа к записи на портале".to_string(),
                        ),
                    };
                    self.failed(ids, state, words, summary).await?;
                }
                None => {
                    // Neither the record nor a refusal came back: tried again next time, and
                    // the entries say so meanwhile.
                    let ids: Vec<i64> = record.entries.iter().map(|e| e.id).collect();
                    self.store(move |s| {
                        s.upload_failed(
                            &ids,
                            OutboxState::Pending,
                            "Портал не вернул запись: попробуем при следующей синхронизации \
                             / The portal did not return the record: tried again at the next sync",
                        )
                    })
                    .await?;
                }
                Some(Ok(portal)) => {
                    if deleting {
                        let ids: Vec<i64> = record.entries.iter().map(|e| e.id).collect();
                        let cmd = BatchCommand::new(
                            format!(
                                "d{}",
                                key.entity_type.type_id() * 1_000_000_000_000 + key.id
                            ),
                            "crm.item.delete",
                            json!({"entityTypeId": key.entity_type.type_id(), "id": key.id}),
                        );
                        let _ = ids;
                        writes.push(Write {
                            record,
                            bindings: Vec::new(),
                            cmd,
                            written: Vec::new(),
                        });
                        continue;
                    }
                    // Compared at their true instants; stored as the portal sent them (the
                    // replica puts them right itself).
                    let mut plan = plan_update(&record.entries, &times.fixed(portal));
                    plan.for_the_wire(&booleans[&key.entity_type]);
                    if !plan.conflicts.is_empty() {
                        summary.conflicts += plan.conflicts.len() as u64;
                        let c = plan.conflicts.clone();
                        self.store(move |s| s.upload_conflicts(&c)).await?;
                    }
                    if !plan.already.is_empty() {
                        summary.uploaded += plan.already.len() as u64;
                        let ids = plan.already.clone();
                        let item = portal.clone();
                        let publish = plan.fields.is_empty();
                        self.store(move |s| {
                            s.upload_succeeded(key, &ids, Some(&item), now, publish)
                        })
                        .await?;
                    }
                    if !plan.fields.is_empty() {
                        let tag = key.entity_type.type_id() * 1_000_000_000_000 + key.id;
                        // The binding calls go first: the update that follows keeps the
                        // primary they set, moves `updatedTime` and answers the whole item.
                        let bindings = plan
                            .bindings
                            .iter()
                            .map(|b| {
                                let cmd = BatchCommand::new(
                                    format!("b{tag}_{}", b.field),
                                    b.method,
                                    b.params(key.id),
                                );
                                (cmd, b.field.clone())
                            })
                            .collect();
                        let cmd = BatchCommand::new(
                            format!("u{tag}"),
                            "crm.item.update",
                            json!({
                                "entityTypeId": key.entity_type.type_id(),
                                "id": key.id,
                                "useOriginalUfNames": "Y",
                                "fields": plan.fields,
                            }),
                        );
                        writes.push(Write {
                            record,
                            bindings,
                            cmd,
                            written: plan.written,
                        });
                    }
                }
            }
        }
        for chunk in batches_of(&writes, self.client.batch_size()) {
            // Only entries still as they were read go out: one saved again, discarded or
            // undone meanwhile holds its record's write back to the next round.
            let read: Vec<(i64, Value)> = chunk
                .iter()
                .flat_map(|w| {
                    let ids = w.entry_ids();
                    w.record
                        .entries
                        .iter()
                        .filter(move |e| ids.contains(&e.id))
                        .map(|e| (e.id, e.new.clone()))
                })
                .collect();
            let marked = self.store(move |s| s.mark_sending_as_read(&read)).await?;
            let (chunk, held): (Vec<&Write>, Vec<&Write>) = chunk
                .iter()
                .partition(|w| w.entry_ids().iter().all(|id| marked.contains(id)));
            if !held.is_empty() {
                let back: Vec<i64> = held
                    .iter()
                    .flat_map(|w| w.entry_ids())
                    .filter(|id| marked.contains(id))
                    .collect();
                tracing::info!(records = held.len(), "changed while read: sent next round");
                self.store(move |s| s.unmark_sending(&back)).await?;
            }
            if chunk.is_empty() {
                continue;
            }
            let ids: Vec<i64> = chunk.iter().flat_map(|w| w.entry_ids()).collect();
            let commands: Vec<BatchCommand> = chunk
                .iter()
                .flat_map(|w| {
                    w.bindings
                        .iter()
                        .map(|(c, _)| c.clone())
                        .chain([w.cmd.clone()])
                })
                .collect();
            let r = match self.client.batch_write(&commands, false).await {
                Ok(r) => r,
                Err(e) => {
                    // Uncertain: the next round compares with the portal again (an update
                    // that landed is then "already there").
                    let words = e.to_string();
                    let back = ids.clone();
                    self.store(move |s| s.upload_failed(&back, OutboxState::Pending, &words))
                        .await?;
                    return Err(SyncError::Portal(portal_error(e)));
                }
            };
            summary.write_requests += 1;
            for w in chunk {
                let Write {
                    record,
                    bindings,
                    cmd,
                    written,
                } = w;
                let key = record.key;
                // A binding call the portal refused: that list was not written as meant, in the
                // portal's own words.
                let refused_bindings: Vec<(String, String)> = bindings
                    .iter()
                    .filter_map(|(c, field)| match outcome(&r, &c.key) {
                        Outcome::Refused(e) => {
                            Some((field.clone(), refusal_state(e, OutboxOp::Update).1))
                        }
                        _ => None,
                    })
                    .collect();
                let now = self.now_ms();
                let op = if written.is_empty() {
                    OutboxOp::Delete
                } else {
                    OutboxOp::Update
                };
                let entry_ids = w.entry_ids();
                match outcome(&r, &cmd.key) {
                    Outcome::Ok(v) if op == OutboxOp::Delete => {
                        let _ = v;
                        summary.deleted += 1;
                        summary.uploaded += entry_ids.len() as u64;
                        summary.records_written += 1;
                        self.store(move |s| s.upload_succeeded(key, &entry_ids, None, now, false))
                            .await?;
                    }
                    Outcome::Ok(v) => {
                        let Some(item) = item_of(key.entity_type, v) else {
                            let back = entry_ids.clone();
                            self.store(move |s| {
                                s.upload_failed(&back, OutboxState::Pending, "пустой ответ портала")
                            })
                            .await?;
                            continue;
                        };
                        summary.records_written += 1;
                        let missing = check_answer(written, &times.fixed(&item));
                        let (bad, good): (Vec<_>, Vec<_>) =
                            written.iter().partition(|w| missing.contains(&w.field));
                        let good_ids: Vec<i64> = good.iter().flat_map(|w| w.ids.clone()).collect();
                        summary.uploaded += good_ids.len() as u64;
                        self.store(move |s| {
                            s.upload_succeeded(key, &good_ids, Some(&item), now, true)
                        })
                        .await?;
                        for w in bad {
                            let words = match refused_bindings.iter().find(|(f, _)| *f == w.field) {
                                Some((_, words)) => words.clone(),
                                None => format!(
                                    "Портал не принял значение поля «{}»: проверьте формат",
                                    w.field
                                ),
                            };
                            self.failed(w.ids.clone(), OutboxState::Rejected, words, summary)
                                .await?;
                        }
                    }
                    Outcome::Refused(err) => {
                        let (state, words) = refusal_state(err, op);
                        if state == OutboxState::Done {
                            summary.deleted += 1;
                            summary.uploaded += entry_ids.len() as u64;
                            self.store(move |s| {
                                s.upload_succeeded(key, &entry_ids, None, now, false)
                            })
                            .await?;
                        } else {
                            self.failed(entry_ids, state, words, summary).await?;
                        }
                    }
                    Outcome::Unknown => {
                        self.store(move |s| {
                            s.upload_failed(&entry_ids, OutboxState::Pending, "нет ответа портала")
                        })
                        .await?;
                    }
                }
            }
        }
        Ok(())
    }

    /// The portal's current version of each record (50 ids per `crm.item.list`, 50 lists per
    /// request); records missing from the lists are probed with `crm.item.get` to tell deleted
    /// from forbidden.
    async fn read_current(
        &self,
        records: &[QueuedRecord],
        summary: &mut UploadSummary,
    ) -> Result<HashMap<RecordKey, Result<Record, PortalFailure>>, SyncError> {
        let mut by_type: BTreeMap<EntityType, Vec<i64>> = BTreeMap::new();
        for r in records {
            by_type.entry(r.key.entity_type).or_default().push(r.key.id);
        }
        let mut commands = Vec::new();
        for (t, ids) in &by_type {
            for (i, chunk) in ids.chunks(50).enumerate() {
                commands.push((
                    *t,
                    BatchCommand::new(
                        format!("r{}_{i}", t.type_id()),
                        "crm.item.list",
                        json!({
                            "entityTypeId": t.type_id(),
                            "useOriginalUfNames": "Y",
                            "select": ["*"],
                            "filter": {"@id": chunk},
                            "order": {"id": "ASC"},
                        }),
                    ),
                ));
            }
        }
        let mut out: HashMap<RecordKey, Result<Record, PortalFailure>> = HashMap::new();
        for chunk in commands.chunks(self.client.batch_size()) {
            let cmds: Vec<BatchCommand> = chunk.iter().map(|(_, c)| c.clone()).collect();
            let r = self
                .client
                .batch(&cmds, false)
                .await
                .map_err(portal_error)?;
            summary.read_requests += 1;
            for (t, c) in chunk {
                match outcome(&r, &c.key) {
                    Outcome::Ok(v) => {
                        for item in items_of(v) {
                            if let Ok(rec) = parse_record(*t, item) {
                                out.insert(rec.key, Ok(rec));
                            }
                        }
                    }
                    Outcome::Refused(e) => {
                        return Err(SyncError::Portal(PortalError::new(
                            PortalFailure::RetryLater,
                            format!("reading current values failed: {}", e.code),
                        )))
                    }
                    Outcome::Unknown => {}
                }
            }
        }
        let missing: Vec<RecordKey> = records
            .iter()
            .map(|r| r.key)
            .filter(|k| !out.contains_key(k))
            .collect();
        for chunk in missing.chunks(self.client.batch_size()) {
            let cmds: Vec<BatchCommand> = chunk
                .iter()
                .map(|k| {
                    BatchCommand::new(
                        format!("g{}_{}", k.entity_type.type_id(), k.id),
                        "crm.item.get",
                        json!({"entityTypeId": k.entity_type.type_id(), "id": k.id, "useOriginalUfNames": "Y"}),
                    )
                })
                .collect();
            let r = self
                .client
                .batch(&cmds, false)
                .await
                .map_err(portal_error)?;
            summary.read_requests += 1;
            for (k, c) in chunk.iter().zip(&cmds) {
                let entry = match outcome(&r, &c.key) {
                    Outcome::Ok(v) => match item_of(k.entity_type, v) {
                        Some(rec) => Ok(rec),
                        None => continue,
                    },
                    Outcome::Refused(e) if e.is_not_found() => Err(PortalFailure::NotFound),
                    Outcome::Refused(e) if e.is_access_denied() => Err(PortalFailure::AccessDenied),
                    _ => continue,
                };
                out.insert(*k, entry);
            }
        }
        Ok(out)
    }
}

impl std::fmt::Debug for Uploader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Uploader").finish_non_exhaustive()
    }
}

/// One record's write: the binding calls that must come first, then its update or delete.
struct Write {
    record: QueuedRecord,
    bindings: Vec<(BatchCommand, String)>,
    cmd: BatchCommand,
    written: Vec<crate::upload::FieldChange>,
}

impl Write {
    /// The entries the write carries: the written changes, or every entry of a deletion.
    fn entry_ids(&self) -> Vec<i64> {
        if self.written.is_empty() {
            self.record.entries.iter().map(|e| e.id).collect()
        } else {
            self.written.iter().flat_map(|c| c.ids.clone()).collect()
        }
    }
}

/// Groups writes into batches of at most `limit` commands, a record's calls never split.
fn batches_of(writes: &[Write], limit: usize) -> Vec<&[Write]> {
    let mut out = Vec::new();
    let (mut start, mut count) = (0, 0);
    for (i, w) in writes.iter().enumerate() {
        let n = w.bindings.len() + 1;
        if count + n > limit && i > start {
            out.push(&writes[start..i]);
            start = i;
            count = 0;
        }
        count += n;
    }
    if start < writes.len() {
        out.push(&writes[start..]);
    }
    out
}

/// What reading back the portal's datetimes needs: the signed-in user's personal-zone shift, if
/// any (`CRestUtil::ConvertDateTime`, see [`kartoteka_domain::usertime`]), and the datetime
/// fields of each type.
struct Times {
    user: Option<kartoteka_domain::usertime::UserTime>,
    fields: HashMap<EntityType, Vec<String>>,
}

impl Times {
    /// A record read from the portal at its true instants, as the replica keeps it (for
    /// comparing; the replica is given the portal's own answer and puts it right once).
    fn fixed(&self, record: &Record) -> Record {
        let mut out = record.clone();
        if let (Some(u), Some(fields)) = (&self.user, self.fields.get(&record.key.entity_type)) {
            u.fix(&mut out, fields);
        }
        out
    }
}
