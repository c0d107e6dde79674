//! What the portal offers towards history (CONTRACT §6): the stage history of deals and leads,
//! and whether the webhook's user is a supervisor (who may hide history entries).

use crate::client::{Client, MAX_BATCH_COMMANDS};
use crate::error::BitrixError;
use crate::items::{chain_pages, reference, PAGE_SIZE};
use crate::parse::list_items;
use crate::values::datetime_with_offset;
use crate::wire::{lenient_i64, php_list, BatchCommand};
use chrono::{DateTime, FixedOffset};
use kartoteka_domain::EntityType;
use serde_json::{json, Map, Value};

/// One row of `crm.stagehistory.list` (no user id: the portal does not keep one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StageHistoryRow {
    pub id: i64,
    /// 1 created, 2 intermediate stage, 3 final stage, 5 pipeline changed.
    pub type_id: i64,
    pub owner_id: i64,
    pub created: DateTime<FixedOffset>,
    /// `STAGE_ID` (deals) or `STATUS_ID` (leads).
    pub stage_id: String,
    pub category_id: Option<i64>,
}

fn parse_row(item: &Map<String, Value>) -> Option<StageHistoryRow> {
    let get = |k: &str| item.get(k).or_else(|| item.get(&k.to_ascii_lowercase()));
    let stage = get("STAGE_ID").or_else(|| get("STATUS_ID"))?;
    Some(StageHistoryRow {
        id: get("ID").and_then(lenient_i64)?,
        type_id: get("TYPE_ID").and_then(lenient_i64).unwrap_or(2),
        owner_id: get("OWNER_ID").and_then(lenient_i64)?,
        created: get("CREATED_TIME").and_then(datetime_with_offset)?,
        stage_id: stage.as_str()?.to_string(),
        category_id: get("CATEGORY_ID").and_then(lenient_i64),
    })
}

/// A key-set page: `>ID` the last row read, ascending, and `start: -1` so the portal does not
/// count the whole history for every command (CONTRACT §3, key-set paging).
fn params(t: EntityType, after: Value) -> Value {
    json!({
        "entityTypeId": t.type_id(),
        "filter": {">ID": after},
        "order": {"ID": "ASC"},
        "start": -1,
    })
}

/// The first page of a stage-history scan as a batch command (`key`), for a probe batch that
/// carries other commands too.
pub(crate) fn probe_command(
    key: String,
    t: EntityType,
    after_id: i64,
) -> crate::wire::BatchCommand {
    crate::wire::BatchCommand::new(key, "crm.stagehistory.list", params(t, json!(after_id)))
}

/// A probe page's rows after `after_id` and whether the page was the last (short).
pub(crate) fn probe_rows(result: &Value, after_id: i64) -> (Vec<StageHistoryRow>, bool) {
    let page = list_items(result);
    let full = page.len() == PAGE_SIZE;
    let mut last = after_id;
    let mut rows = Vec::new();
    for item in page {
        if let Some(row) = parse_row(item).filter(|row| row.id > last) {
            last = row.id;
            rows.push(row);
        }
    }
    (rows, !full)
}

impl Client {
    /// Stage-history rows of deals or leads with `ID` above `after_id`, ascending: the first page
    /// alone (a routine poll costs one command), and when it is full, a 50-command key-set chain
    /// from its last row in the same call (up to 2,550 rows). With `more_expected` (the caller's
    /// previous call stopped short of the end) the chain comes at once, without the single page:
    /// a long scan costs one request per 2,500 rows. Returns the rows and whether the scan
    /// reached the end.
    pub async fn stage_history_after(
        &self,
        t: EntityType,
        after_id: i64,
        more_expected: bool,
    ) -> Result<(Vec<StageHistoryRow>, bool), BitrixError> {
        let mut rows = Vec::new();
        let mut last = after_id;
        if !more_expected {
            let r = self
                .call("crm.stagehistory.list", params(t, json!(after_id)))
                .await?;
            let page = list_items(&r.result);
            let full = page.len() == PAGE_SIZE;
            for item in page {
                if let Some(row) = parse_row(item).filter(|row| row.id > last) {
                    last = row.id;
                    rows.push(row);
                }
            }
            if !full {
                return Ok((rows, true));
            }
        }
        let chain = |n: usize| -> Vec<BatchCommand> {
            (0..n)
                .map(|k| {
                    let after = if k == 0 {
                        json!(last)
                    } else {
                        reference(k - 1, "ID")
                    };
                    BatchCommand::new(format!("c{k}"), "crm.stagehistory.list", params(t, after))
                })
                .collect()
        };
        let (sent, result) = self
            .read_chain_sized(MAX_BATCH_COMMANDS, true, chain)
            .await?;
        let pages = chain_pages(&result, sent)?;
        let mut exhausted = false;
        for page in &pages {
            let page_full = page.len() == PAGE_SIZE;
            for item in page {
                match parse_row(item) {
                    Some(row) if row.id > last => {
                        last = row.id;
                        rows.push(row);
                    }
                    // Out of order (an unresolved reference read as a fresh scan): stop here;
                    // the next call continues from the last row taken.
                    _ => return Ok((rows, false)),
                }
            }
            if !page_full {
                exhausted = true;
                break;
            }
        }
        Ok((rows, exhausted))
    }

    /// Whether the user `user_id` (the webhook's) is a portal administrator (`user.admin`) or
    /// the head of a department (`department.get`, `UF_HEAD`). A method the webhook may not call
    /// (no `department` scope, an old portal) counts as "no"; only a transient failure is an error.
    pub async fn is_supervisor(&self, user_id: i64) -> Result<bool, BitrixError> {
        match self.call("user.admin", json!({})).await {
            Ok(r) if r.result.as_bool() == Some(true) => return Ok(true),
            Ok(_) => {}
            Err(e) if e.class() != crate::ErrorClass::RetryLater => {
                tracing::info!(code = ?e.api_code(), "user.admin not available; not an administrator");
            }
            Err(e) => return Err(e),
        }
        match self
            .call("department.get", json!({"UF_HEAD": user_id}))
            .await
        {
            Ok(r) => Ok(php_list(Some(&r.result))
                .into_iter()
                .any(|d| d.get("UF_HEAD").and_then(lenient_i64) == Some(user_id))),
            Err(e) if e.class() != crate::ErrorClass::RetryLater => {
                tracing::info!(code = ?e.api_code(), "department.get not available; not a head");
                Ok(false)
            }
            Err(e) => Err(e),
        }
    }
}
