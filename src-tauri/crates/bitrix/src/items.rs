//! Reading CRM items: counts, field metadata, single items, and the batched key-set scans of
//! CONTRACT §3 (full pull, incremental pull, id reconciliation).

use crate::client::{Client, MAX_BATCH_COMMANDS};
use crate::error::BitrixError;
use crate::parse::{list_items, parse_fields, parse_record, parse_record_owned};
use crate::retry::{RequestKind, RetryDecision};
use crate::wire::{lenient_i64, BatchCommand, BatchResult};
use chrono::{DateTime, FixedOffset, SecondsFormat};
use kartoteka_domain::{EntityType, FieldMeta, Record};
use serde_json::{json, Map, Value};

/// The fixed page size of `crm.item.list` (§3).
pub const PAGE_SIZE: usize = 50;

/// Records from one batched key-set scan.
#[derive(Debug, Clone, PartialEq)]
pub struct ItemsChunk {
    pub records: Vec<Record>,
    /// The id to continue after; `None` when the chunk is empty.
    pub last_id: Option<i64>,
    /// True when the scan reached the end (a page came back short).
    pub exhausted: bool,
}

/// Records from one batched incremental scan, ordered by (`updatedTime`, `id`).
#[derive(Debug, Clone, PartialEq)]
pub struct UpdatedChunk {
    pub records: Vec<Record>,
    /// (`updatedTime`, `id`) of the last record, to pass as `after` next time.
    pub cursor: Option<(DateTime<FixedOffset>, i64)>,
    pub exhausted: bool,
}

/// A datetime as filters want it: ISO 8601 with an explicit offset, whole seconds.
fn filter_time(t: &DateTime<FixedOffset>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, false)
}

pub(crate) fn reference(prev: usize, field: &str) -> Value {
    Value::String(format!(
        "$result[c{prev}][items][{}][{field}]",
        PAGE_SIZE - 1
    ))
}

/// `crm.item.list` parameters. Original UF names (`UF_CRM_…`) are asked for only with a select
/// of whole items (`*`): the portal filters an item's keys by the select upper-cased when
/// `useOriginalUfNames` is `Y`, so a narrow select such as `["id"]` would come back as items with
/// no keys at all (`[]`), system keys being camelCase. (A narrow select naming user fields would
/// get them in camelCase, `ufCrm…`.)
fn list_params(t: EntityType, select: &[&str], filter: Value, order: Value) -> Value {
    let select: Vec<&str> = if select.is_empty() {
        vec!["*"]
    } else {
        select.to_vec()
    };
    let original = select.contains(&"*");
    json!({
        "entityTypeId": t.type_id(),
        "useOriginalUfNames": if original { "Y" } else { "N" },
        "select": select,
        "filter": filter,
        "order": order,
        "start": -1,
    })
}

impl Client {
    /// The number of items of a type the webhook's user can see (`total` of a counted list).
    pub async fn count(&self, t: EntityType) -> Result<u64, BitrixError> {
        let r = self
            .call(
                "crm.item.list",
                json!({"entityTypeId": t.type_id(), "select": ["id"], "order": {"id": "ASC"}, "start": 0}),
            )
            .await?;
        Ok(r.total.unwrap_or(list_items(&r.result).len() as u64))
    }

    /// Field metadata of a type, with original UF names.
    pub async fn item_fields(&self, t: EntityType) -> Result<Vec<FieldMeta>, BitrixError> {
        let r = self
            .call(
                "crm.item.fields",
                json!({"entityTypeId": t.type_id(), "useOriginalUfNames": "Y"}),
            )
            .await?;
        Ok(parse_fields(&r.result))
    }

    /// One item with every field (fm and UF included).
    pub async fn get_item(&self, t: EntityType, id: i64) -> Result<Record, BitrixError> {
        let r = self
            .call(
                "crm.item.get",
                json!({"entityTypeId": t.type_id(), "id": id, "useOriginalUfNames": "Y"}),
            )
            .await?;
        let item = r
            .result
            .get("item")
            .and_then(Value::as_object)
            .ok_or_else(|| BitrixError::MalformedResponse {
                http_status: 200,
                reason: "crm.item.get returned no item".into(),
            })?;
        parse_record(t, item)
    }

    /// Items by id, `crm.item.get` each in `batch` requests of [`Client::batch_size`] commands
    /// (one request for up to 50 until a batch was cut), no halt: each id with its record or
    /// its own error (`NOT_FOUND` for a deleted one, `ACCESS_DENIED` for one the user may no
    /// longer read). An error of a request itself is the `Err`.
    pub async fn get_items_batch(
        &self,
        t: EntityType,
        ids: &[i64],
    ) -> Result<Vec<(i64, Result<Record, BitrixError>)>, BitrixError> {
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(self.batch_size()) {
            out.extend(self.get_items_one_batch(t, chunk).await?);
        }
        Ok(out)
    }

    async fn get_items_one_batch(
        &self,
        t: EntityType,
        ids: &[i64],
    ) -> Result<Vec<(i64, Result<Record, BitrixError>)>, BitrixError> {
        let commands: Vec<BatchCommand> = ids
            .iter()
            .map(|id| {
                BatchCommand::new(
                    format!("g{id}"),
                    "crm.item.get",
                    json!({"entityTypeId": t.type_id(), "id": id, "useOriginalUfNames": "Y"}),
                )
            })
            .collect();
        let result = self.batch(&commands, false).await?;
        Ok(ids
            .iter()
            .zip(&commands)
            .map(|(id, c)| {
                let one = match result.outcome(&c.key) {
                    Some(Ok(v)) => v
                        .get("item")
                        .and_then(Value::as_object)
                        .ok_or_else(|| BitrixError::MalformedResponse {
                            http_status: 200,
                            reason: "crm.item.get returned no item".into(),
                        })
                        .and_then(|item| parse_record(t, item)),
                    Some(Err(e)) => Err(e.clone().into_error(200)),
                    None => Err(BitrixError::MalformedResponse {
                        http_status: 200,
                        reason: "the batch has no answer for a crm.item.get".into(),
                    }),
                };
                (*id, one)
            })
            .collect())
    }

    /// One key-set page (`>id` after `after_id`, id order, `start=-1`). An empty `select` means `*`.
    pub async fn list_items_after(
        &self,
        t: EntityType,
        after_id: i64,
        select: &[&str],
    ) -> Result<Vec<Record>, BitrixError> {
        let params = list_params(t, select, json!({">id": after_id}), json!({"id": "ASC"}));
        let r = self.call("crm.item.list", params).await?;
        list_items(&r.result)
            .into_iter()
            .map(|i| parse_record(t, i))
            .collect()
    }

    /// Several types' initial pulls in one request: each segment `(type, after_id, pages)` is
    /// its own key-set chain (its first command a literal `>id`, the rest chained on the page
    /// before), and the segments together fill one `batch` of up to 50 commands (fewer after a
    /// batch was cut: [`Client::batch_size`]; the first segments then, the last shortened). A
    /// type whose pull ends within the batch (its remaining count known) thus leaves the rest of
    /// the batch to the next type instead of to empty pages. Each segment gets its chunk, or
    /// `None` when its first command failed or it did not fit (that type is simply pulled again
    /// later); a failure of the
    /// first segment's first command is retried as [`Client::pull_items_batch`]'s is.
    pub async fn pull_items_spanning(
        &self,
        segments: &[(EntityType, i64, usize)],
    ) -> Result<Vec<Option<ItemsChunk>>, BitrixError> {
        let chains = self.key_set_chains(segments, &["*"]).await?;
        let mut out = Vec::with_capacity(segments.len());
        for (&(t, after_id, pages), chain) in segments.iter().zip(chains) {
            let Some((items, exhausted)) = chain else {
                out.push(None);
                continue;
            };
            let records = items
                .into_iter()
                .map(|i| parse_record_owned(t, i))
                .collect::<Result<Vec<_>, _>>()?;
            let last_id = records.last().map(|r| r.key.id);
            tracing::debug!(entity = %t, after_id, pages, count = records.len(), exhausted, "pulled items");
            out.push(Some(ItemsChunk {
                records,
                last_id,
                exhausted,
            }));
        }
        Ok(out)
    }

    /// Up to 2,500 items after `after_id` in one request (fewer after a batch was cut): 50 chained
    /// key-set pages, each filtering
    /// `>id` on the last id of the page before (`$result[c{k-1}][items][49][id]`).
    pub async fn pull_items_batch(
        &self,
        t: EntityType,
        after_id: i64,
    ) -> Result<ItemsChunk, BitrixError> {
        self.pull_items_spanning(&[(t, after_id, MAX_BATCH_COMMANDS)])
            .await?
            .pop()
            .flatten()
            .ok_or_else(|| BitrixError::MalformedResponse {
                http_status: 200,
                reason: "the batch returned nothing for its first command".into(),
            })
    }

    /// Ids only, for deletion detection (§3): up to 2,500 ids after `after_id` in one request.
    /// Returns the ids and whether the scan reached the end.
    pub async fn list_ids_batch(
        &self,
        t: EntityType,
        after_id: i64,
    ) -> Result<(Vec<i64>, bool), BitrixError> {
        let (items, exhausted) = self.id_chain(t, after_id, &["id"]).await?;
        let ids = items
            .iter()
            .map(|i| i.get("id").and_then(lenient_i64))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| BitrixError::MalformedResponse {
                http_status: 200,
                reason: "an item has no id".into(),
            })?;
        Ok((ids, exhausted))
    }

    /// Items changed since `since`, in (`updatedTime`, `id`) order (the incremental recipe of §3).
    /// Pass the previous chunk's `cursor` as `after` to continue; `since` applies to the first page.
    ///
    /// The first call of a pass (`after` = `None`) probes with the first page alone (one plain
    /// `crm.item.list`): a routine poll that finds little costs one command, and a chain is sent
    /// only when that page came back full — so a chain never runs past the data, where a real
    /// portal might not fail an unresolved `$result[…]` reference (§10 #7) and re-scan instead.
    /// A full probe is followed in the same call by the 50-command chain from its last row; calls
    /// with a cursor send the chain directly. A pull of N changed rows therefore takes
    /// ⌈N/2,500⌉ + 1 requests at most (the probe once per pass).
    pub async fn pull_updated_batch(
        &self,
        t: EntityType,
        since: DateTime<FixedOffset>,
        after: Option<(DateTime<FixedOffset>, i64)>,
    ) -> Result<UpdatedChunk, BitrixError> {
        let mut records: Vec<Record> = Vec::new();
        let from = match after {
            Some(cursor) => cursor,
            None => {
                let filter = json!({">=updatedTime": filter_time(&since)});
                let r = self
                    .call(
                        "crm.item.list",
                        list_params(t, &["*"], filter, updated_order()),
                    )
                    .await?;
                let page = crate::parse::into_list_items(r.result);
                let full = page.len() == PAGE_SIZE;
                if !append_updated(t, page, &mut records, None)? {
                    return Ok(updated_chunk(records, false));
                }
                match records
                    .last()
                    .and_then(|r| r.updated_time.map(|u| (u, r.key.id)))
                {
                    Some(cursor) if full => cursor,
                    _ => return Ok(updated_chunk(records, true)),
                }
            }
        };
        let or_filter = |time: Value, id: Value| json!({"0": {"logic": "OR", "0": {">updatedTime": time.clone()}, "1": {"=updatedTime": time, ">id": id}}});
        let chain = |n: usize| -> Vec<BatchCommand> {
            (0..n)
                .map(|k| {
                    let filter = if k == 0 {
                        or_filter(json!(filter_time(&from.0)), json!(from.1))
                    } else {
                        or_filter(reference(k - 1, "updatedTime"), reference(k - 1, "id"))
                    };
                    BatchCommand::new(
                        format!("c{k}"),
                        "crm.item.list",
                        list_params(t, &["*"], filter, updated_order()),
                    )
                })
                .collect()
        };
        let (sent, mut result) = self
            .read_chain_sized(MAX_BATCH_COMMANDS, true, chain)
            .await?;
        let pages = chain_pages(&result, sent)?.len();
        let mut exhausted = false;
        for k in 0..pages {
            let page = result
                .results
                .remove(&format!("c{k}"))
                .map(crate::parse::into_list_items)
                .unwrap_or_default();
            let full = page.len() == PAGE_SIZE;
            if !append_updated(t, page, &mut records, Some(from))? {
                return Ok(updated_chunk(records, false));
            }
            if !full {
                exhausted = true;
                break;
            }
        }
        Ok(updated_chunk(records, exhausted))
    }

    /// The first page of several types' incremental passes in one request, one command a type
    /// (the probe of [`Client::pull_updated_batch`], for all types at once): a routine poll that
    /// finds little costs one request, not one per type. Each type gets its own answer: its page
    /// (exhausted when short; a full one is continued with `pull_updated_batch` from its
    /// cursor) or that command's own error, which the caller retries per type.
    ///
    /// `stage_probes` add the first page of stage-history scans (type, after id) to the same
    /// request; each comes back as its rows after the id and whether the page was the last.
    #[allow(clippy::type_complexity)]
    pub async fn probe_updated_batch(
        &self,
        probes: &[(EntityType, DateTime<FixedOffset>)],
        stage_probes: &[(EntityType, i64)],
    ) -> Result<
        (
            Vec<Result<UpdatedChunk, BitrixError>>,
            Vec<Result<(Vec<crate::StageHistoryRow>, bool), BitrixError>>,
        ),
        BitrixError,
    > {
        let mut commands: Vec<BatchCommand> = probes
            .iter()
            .enumerate()
            .map(|(i, (t, since))| {
                let filter = json!({">=updatedTime": filter_time(since)});
                BatchCommand::new(
                    format!("p{i}"),
                    "crm.item.list",
                    list_params(*t, &["*"], filter, updated_order()),
                )
            })
            .collect();
        commands.extend(
            stage_probes
                .iter()
                .enumerate()
                .map(|(i, (t, after))| crate::history::probe_command(format!("s{i}"), *t, *after)),
        );
        let mut result = self.batch(&commands, false).await?;
        let stages = stage_probes
            .iter()
            .enumerate()
            .map(|(i, (_, after))| match result.outcome(&format!("s{i}")) {
                Some(Ok(v)) => Ok(crate::history::probe_rows(v, *after)),
                Some(Err(e)) => Err(e.clone().into_error(200)),
                None => Err(BitrixError::MalformedResponse {
                    http_status: 200,
                    reason: format!("the batch gave no answer to s{i}"),
                }),
            })
            .collect();
        let items = commands
            .iter()
            .take(probes.len())
            .zip(probes)
            .map(|(c, (t, _))| match result.errors.get(&c.key) {
                None if result.results.contains_key(&c.key) => {
                    let page = result
                        .results
                        .remove(&c.key)
                        .map(crate::parse::into_list_items)
                        .unwrap_or_default();
                    let full = page.len() == PAGE_SIZE;
                    let mut records = Vec::with_capacity(page.len());
                    let in_order = append_updated(*t, page, &mut records, None)?;
                    Ok(updated_chunk(records, in_order && !full))
                }
                Some(e) => Err(e.clone().into_error(200)),
                None => Err(BitrixError::MalformedResponse {
                    http_status: 200,
                    reason: format!("the batch gave no answer to {}", c.key),
                }),
            })
            .collect();
        Ok((items, stages))
    }

    /// Runs the 50-command `>id` chain and returns the raw items in order, plus whether the end
    /// was reached.
    async fn id_chain(
        &self,
        t: EntityType,
        after_id: i64,
        select: &[&str],
    ) -> Result<(Vec<Map<String, Value>>, bool), BitrixError> {
        self.key_set_chains(&[(t, after_id, MAX_BATCH_COMMANDS)], select)
            .await?
            .pop()
            .flatten()
            .ok_or_else(|| BitrixError::MalformedResponse {
                http_status: 200,
                reason: "the batch returned nothing for its first command".into(),
            })
    }

    /// One `batch` of key-set chains: each segment `(type, after_id, pages)` its own chain (its
    /// first command a literal `>id`, the rest chained on the page before), up to 50 commands in
    /// all. Per segment: its raw items in order and whether a short page ended it, or `None`
    /// when its first command failed or it did not fit in the current [`Client::batch_size`].
    /// The first segment's failure is retried, then returned.
    async fn key_set_chains(
        &self,
        segments: &[(EntityType, i64, usize)],
        select: &[&str],
    ) -> Result<Vec<Option<(Vec<Map<String, Value>>, bool)>>, BitrixError> {
        let total: usize = segments.iter().map(|s| s.2).sum();
        if segments.is_empty() || segments.iter().any(|s| s.2 == 0) || total > MAX_BATCH_COMMANDS {
            return Err(BitrixError::InvalidRequest(format!(
                "key-set chains need segments of 1 page or more, {MAX_BATCH_COMMANDS} pages at most in all"
            )));
        }
        // A batch that was cut comes back with fewer pages: the first segments, the last of
        // them shortened (a key-set chain simply continues from its last id next time).
        let build = |n: usize| chain_commands(&fit_segments(segments, n), select);
        // One chain halts at its first failure; with several, a failure in one type's chain
        // must not cut the next type's off.
        let (sent, mut result) = self
            .read_chain_sized(total, segments.len() == 1, build)
            .await?;
        let fitted = fit_segments(segments, sent);
        let mut out = Vec::with_capacity(segments.len());
        let mut from = 0;
        for &(t, after_id, pages) in &fitted {
            let start = from;
            from += pages;
            // First, on the borrowed pages: how many items of each page to take.
            let (takes, exhausted) = match chain_pages_from(&result, start, pages) {
                Ok(p) => take_counts(&p, after_id)?,
                Err(e) if start == 0 => return Err(e),
                Err(e) => {
                    tracing::info!(entity = %t, error = %e, "a later segment failed; that type is read again");
                    out.push(None);
                    continue;
                }
            };
            // Then the items themselves, moved out of the answer (no copy of each value).
            let mut items = Vec::with_capacity(takes.iter().sum());
            for (k, n) in takes.into_iter().enumerate() {
                let page = result
                    .results
                    .remove(&format!("c{}", start + k))
                    .map(crate::parse::into_list_items)
                    .unwrap_or_default();
                items.extend(page.into_iter().take(n));
            }
            out.push(Some((items, exhausted)));
        }
        // Segments that did not fit in this (smaller) batch are read next time.
        out.resize_with(segments.len(), || None);
        Ok(out)
    }

    /// Sends a chained batch of up to `wanted` commands, `build(n)` making the first `n` of the
    /// chain for the current [`Client::batch_size`] (fewer after a batch was cut). The first
    /// command has a literal filter, so its failure is real: it is retried per policy (e.g.
    /// `OPERATION_TIME_LIMIT` inside the batch) or returned. Returns how many commands the
    /// answered batch carried, and its results.
    pub(crate) async fn read_chain_sized(
        &self,
        wanted: usize,
        halt: bool,
        build: impl Fn(usize) -> Vec<BatchCommand> + Send + Sync,
    ) -> Result<(usize, BatchResult), BitrixError> {
        let mut attempt = 0;
        loop {
            let (sent, result) = self.batch_sized(wanted, halt, &build).await?;
            let Some(Err(e)) = result.outcome("c0") else {
                return Ok((sent.len(), result));
            };
            let err = e.clone().into_error(200);
            let wait = self.operating_wait("crm.item.list");
            match self.retry_decision(&err, attempt, RequestKind::Read, wait) {
                RetryDecision::GiveUp => return Err(err),
                RetryDecision::RetryAfter(d) => tokio::time::sleep(d).await,
            }
            attempt += 1;
        }
    }
}

/// The segments `(type, after_id, pages)` that fit in `n` commands: the first ones in order,
/// the last of them shortened.
fn fit_segments(segments: &[(EntityType, i64, usize)], n: usize) -> Vec<(EntityType, i64, usize)> {
    let mut left = n;
    segments
        .iter()
        .map_while(|&(t, after_id, pages)| {
            (left > 0).then(|| {
                let pages = pages.min(left);
                left -= pages;
                (t, after_id, pages)
            })
        })
        .collect()
}

/// The commands of consecutive key-set chains: each segment's first command a literal `>id`,
/// the rest chained on the page before; keys `c0`, `c1`, … across all segments.
fn chain_commands(segments: &[(EntityType, i64, usize)], select: &[&str]) -> Vec<BatchCommand> {
    let mut commands = Vec::new();
    for &(t, after_id, pages) in segments {
        let from = commands.len();
        for k in 0..pages {
            let after = if k == 0 {
                json!(after_id)
            } else {
                reference(from + k - 1, "id")
            };
            let params = list_params(t, select, json!({">id": after}), json!({"id": "ASC"}));
            commands.push(BatchCommand::new(
                format!("c{}", from + k),
                "crm.item.list",
                params,
            ));
        }
    }
    commands
}

fn updated_order() -> Value {
    json!({"updatedTime": "ASC", "id": "ASC"})
}

/// Appends one page of an incremental scan. Returns `false` when the page went backwards (at or
/// before the last row taken, or `after`): the chunk stops there and the caller continues.
fn append_updated(
    t: EntityType,
    page: Vec<Map<String, Value>>,
    records: &mut Vec<Record>,
    after: Option<(DateTime<FixedOffset>, i64)>,
) -> Result<bool, BitrixError> {
    for item in page {
        let record = parse_record_owned(t, item)?;
        let key = record
            .updated_time
            .map(|u| (u, record.key.id))
            .ok_or_else(|| BitrixError::MalformedResponse {
                http_status: 200,
                reason: "an item has no readable updatedTime".into(),
            })?;
        let prev = records
            .last()
            .and_then(|r| r.updated_time.map(|u| (u, r.key.id)))
            .or(after);
        if prev.is_some_and(|p| key <= p) {
            no_progress_guard(records.len())?;
            return Ok(false);
        }
        records.push(record);
    }
    Ok(true)
}

/// A chunk that stops early must still move forward, or the caller would ask the same again
/// forever: a portal that ignores the key-set filter is an error.
/// How many items of each page of a key-set chain to take: ids must rise past `after_id` and
/// each other; the first that does not (an unresolved reference read as a fresh scan) ends the
/// chunk there. Returns the counts and whether a short page ended the scan.
fn take_counts(
    pages: &[Vec<&Map<String, Value>>],
    after_id: i64,
) -> Result<(Vec<usize>, bool), BitrixError> {
    let mut takes = Vec::with_capacity(pages.len());
    let mut taken = 0usize;
    let mut last = after_id;
    for page in pages {
        let full = page.len() == PAGE_SIZE;
        let mut n = 0;
        for item in page {
            let id = item.get("id").and_then(lenient_i64).unwrap_or(0);
            if id <= last {
                no_progress_guard(taken + n)?;
                takes.push(n);
                return Ok((takes, false));
            }
            last = id;
            n += 1;
        }
        takes.push(n);
        taken += n;
        if !full {
            return Ok((takes, true));
        }
    }
    Ok((takes, false))
}

fn no_progress_guard(taken: usize) -> Result<(), BitrixError> {
    if taken == 0 {
        return Err(BitrixError::MalformedResponse {
            http_status: 200,
            reason: "the portal returned rows before the key-set cursor".into(),
        });
    }
    Ok(())
}

fn updated_chunk(records: Vec<Record>, exhausted: bool) -> UpdatedChunk {
    let cursor = records
        .last()
        .and_then(|r| r.updated_time.map(|u| (u, r.key.id)));
    UpdatedChunk {
        records,
        cursor,
        exhausted,
    }
}

/// The pages of a chain, in order, up to the first one that is short, failed or missing.
/// A short page ends the scan, so what later commands returned (an error on the unresolved
/// reference, or an empty or bogus page) is never read. A failure after a full page stops the
/// chunk early (the caller continues from the last id).
pub(crate) fn chain_pages(
    result: &BatchResult,
    n: usize,
) -> Result<Vec<Vec<&Map<String, Value>>>, BitrixError> {
    chain_pages_from(result, 0, n)
}

/// [`chain_pages`] of the chain whose commands are `c{from}` … `c{from + n - 1}`.
pub(crate) fn chain_pages_from(
    result: &BatchResult,
    from: usize,
    n: usize,
) -> Result<Vec<Vec<&Map<String, Value>>>, BitrixError> {
    let mut pages = Vec::new();
    for k in from..from + n {
        let key = format!("c{k}");
        match result.outcome(&key) {
            Some(Ok(v)) => {
                let page = list_items(v);
                let full = page.len() == PAGE_SIZE;
                pages.push(page);
                if !full {
                    break;
                }
            }
            Some(Err(e)) if k == from => return Err(e.clone().into_error(200)),
            None if k == from => {
                return Err(BitrixError::MalformedResponse {
                    http_status: 200,
                    reason: "the batch returned nothing for its first command".into(),
                })
            }
            _ => {
                tracing::debug!(command = k, "chain stopped after a full page");
                break;
            }
        }
    }
    Ok(pages)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ApiError;

    fn page(ids: std::ops::Range<i64>) -> Value {
        json!({"items": ids.map(|id| json!({"id": id})).collect::<Vec<_>>()})
    }

    fn result(pages: Vec<(&str, Result<Value, &str>)>) -> BatchResult {
        let mut r = BatchResult::default();
        for (k, p) in pages {
            match p {
                Ok(v) => {
                    r.results.insert(k.into(), v);
                }
                Err(code) => {
                    r.errors.insert(
                        k.into(),
                        ApiError {
                            code: code.into(),
                            description: String::new(),
                        },
                    );
                }
            }
        }
        r
    }

    fn sizes(r: &BatchResult) -> Result<Vec<usize>, BitrixError> {
        chain_pages(r, MAX_BATCH_COMMANDS).map(|p| p.iter().map(Vec::len).collect())
    }

    #[test]
    fn a_short_page_ends_the_chain_whatever_later_commands_returned() {
        // A portal that reads an unresolved reference as empty would answer with rows from the start.
        let r = result(vec![("c0", Ok(page(1..4))), ("c1", Ok(page(1..51)))]);
        assert_eq!(sizes(&r).ok(), Some(vec![3]));
        let r = result(vec![
            ("c0", Ok(page(1..4))),
            ("c1", Err("INVALID_ARG_VALUE")),
        ]);
        assert_eq!(sizes(&r).ok(), Some(vec![3]));
        let r = result(vec![
            ("c0", Ok(page(1..51))),
            ("c1", Ok(page(0..0))),
            ("c2", Err("INVALID_ARG_VALUE")),
        ]);
        assert_eq!(sizes(&r).ok(), Some(vec![50, 0]));
    }

    #[test]
    fn a_failure_after_a_full_page_stops_early_but_a_failing_first_command_is_an_error() {
        let r = result(vec![
            ("c0", Ok(page(1..51))),
            ("c1", Err("OPERATION_TIME_LIMIT")),
        ]);
        assert_eq!(sizes(&r).ok(), Some(vec![50]));
        let r = result(vec![("c0", Err("ACCESS_DENIED"))]);
        assert!(sizes(&r).is_err_and(|e| e.is_access_denied()));
        assert!(sizes(&BatchResult::default()).is_err());
    }

    #[test]
    fn a_chunk_that_cannot_move_forward_is_an_error() {
        assert!(no_progress_guard(0).is_err());
        assert!(no_progress_guard(1).is_ok());
    }

    #[test]
    fn filter_times_carry_an_explicit_offset_and_whole_seconds() {
        let t = DateTime::parse_from_rfc3339("2026-03-02T09:00:00.250+03:00")
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(filter_time(&t), "2026-03-02T09:00:00+03:00");
        let utc =
            DateTime::parse_from_rfc3339("2026-03-02T06:00:00Z").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(filter_time(&utc), "2026-03-02T06:00:00+00:00");
    }
}
