//! Change logs on records' timelines: this replica's are published after its
//! uploads, other Kartoteka users' are read back into history as exact entries.
//!
//! What the portal does, version 26.250:
//! - `crm.timeline.logmessage.add` needs edit permission on the record
//!   (`crm/lib/controller/timeline/logmessage.php` `addAction`: `canUpdate`); older portals kept
//!   it to administrators. Refused (`ACCESS_DENIED`), the same log goes in as a comment
//!   (`crm.timeline.comment.add`, which also needs edit permission); when the comment is taken
//!   where the log message was not, the portal keeps log messages to administrators, and this
//!   replica publishes comments from then on.
//! - `crm.timeline.logmessage.list` gives 10 a page, newest first, paged by the action's own
//!   `offset` argument: the REST `start` moves no row (`rest/lib/engine/restmanager.php`
//!   `getNavigationData`). `crm.timeline.comment.list` gives 50 a page by `start`
//!   (`CCrmTimelineCommentRestProxy::innerGetList`), newest first with `order: {ID: DESC}`.
//!
//! A record's timeline is read back to where the last read of it ended ([`TimelineMarks`]), so
//! any number of logs between two reads is read; the first pages of 25 records go in one
//! `batch`, further pages only for the records that need them.

use crate::error::SyncError;
use crate::portal_error;
use crate::push::{UploadSummary, Uploader};
use kartoteka_bitrix::{ApiError, BatchCommand, BatchResult};
use kartoteka_domain::RecordKey;
use kartoteka_store::{PeerLogDue, PendingLog, TimelineLog, TimelineMarks};
use serde_json::{json, Value};
use std::collections::HashSet;
use tokio_util::sync::CancellationToken;

/// Timelines read per run for other users' change logs (the first pages: 2 commands each, 25
/// records a request).
const PEER_LOG_RECORDS_PER_RUN: usize = 1_000;

/// Where a change log goes on a timeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Channel {
    LogMessage,
    Comment,
}

/// How the portal answered one change log's command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LogAnswer {
    Taken,
    AccessDenied,
    /// Refused for another reason (the record is gone, a bad value, …).
    Refused,
    /// No answer for the command.
    None,
}

/// What becomes of one change log after its answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LogStep {
    Published,
    /// Sent again now as a comment.
    AsComment,
    /// Counted as a failed attempt, with the portal's words; tried again in a later run.
    Failed,
    /// Left as it is for a later run.
    Wait,
}

/// The decision for one change log sent through `channel`.
pub(crate) fn log_step(channel: Channel, answer: LogAnswer) -> LogStep {
    match (channel, answer) {
        (_, LogAnswer::Taken) => LogStep::Published,
        (Channel::LogMessage, LogAnswer::AccessDenied) => LogStep::AsComment,
        (_, LogAnswer::AccessDenied | LogAnswer::Refused) => LogStep::Failed,
        (_, LogAnswer::None) => LogStep::Wait,
    }
}

/// What one page of a timeline list (newest first) means for the read of that list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ListStep {
    /// Everything newer than the last read is in, or the list ended.
    Complete,
    /// Read the page at this position next.
    Next(usize),
    /// The page held nothing not seen already in this read: the portal did not move on. The
    /// read stops short; the record stays due.
    Stuck,
}

/// One page as read: its entries' ids (newest first), how many were not seen earlier in this
/// read, and the list's total when the portal gave it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PageRead {
    pub ids: Vec<i64>,
    pub fresh: usize,
    pub total: Option<u64>,
}

/// The decision after the page at `at` (of `size` rows) of a list read back to `mark`.
pub(crate) fn list_step(mark: i64, at: usize, size: usize, page: &PageRead) -> ListStep {
    if page.ids.is_empty() || page.ids.iter().any(|id| *id <= mark) {
        return ListStep::Complete;
    }
    let next = at + page.ids.len();
    // The list's total, when the portal gives it, says whether rows remain; without it a page
    // shorter than a full one is the last.
    let ended = match page.total {
        Some(total) => next as u64 >= total,
        None => page.ids.len() < size,
    };
    if ended {
        return ListStep::Complete;
    }
    if page.fresh == 0 {
        return ListStep::Stuck;
    }
    ListStep::Next(next)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum List {
    LogMessages,
    Comments,
}

impl List {
    const BOTH: [List; 2] = [List::LogMessages, List::Comments];

    fn page_size(self) -> usize {
        match self {
            List::LogMessages => 10,
            List::Comments => 50,
        }
    }

    fn command_key(self, key: RecordKey) -> String {
        let prefix = match self {
            List::LogMessages => 'm',
            List::Comments => 'c',
        };
        format!("{prefix}{}_{}", key.entity_type.type_id(), key.id)
    }

    /// The page at `at`, newest first.
    fn command(self, key: RecordKey, at: usize) -> BatchCommand {
        let (method, params) = match self {
            List::LogMessages => (
                "crm.timeline.logmessage.list",
                json!({"entityTypeId": key.entity_type.type_id(), "entityId": key.id,
                       "order": {"id": "desc"}, "offset": at}),
            ),
            List::Comments => (
                "crm.timeline.comment.list",
                json!({"filter": {"ENTITY_ID": key.id, "ENTITY_TYPE": key.entity_type.slug()},
                       "order": {"ID": "DESC"}, "start": at}),
            ),
        };
        BatchCommand::new(self.command_key(key), method, params)
    }

    fn mark(self, m: &TimelineMarks) -> i64 {
        match self {
            List::LogMessages => m.logmessage,
            List::Comments => m.comment,
        }
    }

    /// The page's entries as the store takes them, with their ids.
    fn entries(self, v: &Value) -> Vec<(i64, TimelineLog)> {
        let (list, id_key, created_key, text_key, author_key, kind) = match self {
            List::LogMessages => (
                v.get("logMessages").unwrap_or(v),
                "id",
                "created",
                "text",
                "authorId",
                "logmessage",
            ),
            List::Comments => (v, "ID", "CREATED", "COMMENT", "AUTHOR_ID", "comment"),
        };
        let int = |v: &Value| {
            v.as_i64()
                .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
        };
        list.as_array()
            .into_iter()
            .flatten()
            .filter_map(|e| {
                let id = int(&e[id_key])?;
                Some((
                    id,
                    TimelineLog {
                        external_id: format!("{kind}:{id}"),
                        created_ms: e[created_key]
                            .as_str()
                            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
                            .map(|t| t.timestamp_millis())
                            .unwrap_or(0),
                        author_id: int(&e[author_key]),
                        text: e[text_key].as_str().unwrap_or_default().to_string(),
                    },
                ))
            })
            .collect()
    }
}

/// Where the read of one list of one record stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ListRead {
    /// The page at this position is to be read.
    At(usize),
    /// Read back to the mark, or to the list's end.
    Complete,
    /// The portal refused the list for good (no access, no such method): nothing to read now.
    Refused,
    /// Cut short (no answer, an error that may pass, a portal that does not page): read again
    /// next run.
    Cut,
}

/// The read of one record's timeline.
struct RecordRead {
    due: PeerLogDue,
    lists: [ListRead; 2],
    /// The newest id seen in each list.
    newest: [i64; 2],
    logs: Vec<TimelineLog>,
    seen: HashSet<String>,
}

impl RecordRead {
    fn new(due: PeerLogDue) -> Self {
        Self {
            due,
            lists: [ListRead::At(0), ListRead::At(0)],
            newest: [0, 0],
            logs: Vec::new(),
            seen: HashSet::new(),
        }
    }

    /// The pages still to read: (list index, list, position).
    fn pending(&self) -> Vec<(usize, List, usize)> {
        List::BOTH
            .iter()
            .enumerate()
            .filter_map(|(i, l)| match self.lists[i] {
                ListRead::At(at) => Some((i, *l, at)),
                _ => None,
            })
            .collect()
    }

    /// Takes the portal's answer to the page at `at` of list `i`.
    fn take(&mut self, i: usize, list: List, at: usize, r: &BatchResult) {
        let key = list.command_key(self.due.key);
        self.lists[i] = match r.outcome(&key) {
            Some(Ok(v)) => {
                let entries = list.entries(v);
                let mut page = PageRead {
                    ids: entries.iter().map(|(id, _)| *id).collect(),
                    fresh: 0,
                    total: r.totals.get(&key).copied(),
                };
                for (id, log) in entries {
                    self.newest[i] = self.newest[i].max(id);
                    if self.seen.insert(log.external_id.clone()) {
                        page.fresh += 1;
                        self.logs.push(log);
                    }
                }
                match list_step(list.mark(&self.due.read_to), at, list.page_size(), &page) {
                    ListStep::Complete => ListRead::Complete,
                    ListStep::Next(next) => ListRead::At(next),
                    ListStep::Stuck => {
                        tracing::warn!(
                            entity_type = %self.due.key.entity_type,
                            id = self.due.key.id,
                            "the portal gave a timeline page again; this read stops short"
                        );
                        ListRead::Cut
                    }
                }
            }
            Some(Err(e)) => after_a_list_error(e),
            None => ListRead::Cut,
        };
    }

    /// How far the timeline is read once both lists are done: `None` when a list was cut short
    /// (the record stays due, its marks where they were).
    fn read_to(&self) -> Option<TimelineMarks> {
        if self.lists.contains(&ListRead::Cut) {
            return None;
        }
        let mark = |i: usize, before: i64| match self.lists[i] {
            ListRead::Complete => before.max(self.newest[i]),
            _ => before,
        };
        Some(TimelineMarks {
            logmessage: mark(0, self.due.read_to.logmessage),
            comment: mark(1, self.due.read_to.comment),
        })
    }
}

/// A list refused: for good only when the portal says the record cannot be read (no access, no
/// such record) or the method does not exist (`ERROR_METHOD_NOT_FOUND`, `insufficient_scope`);
/// anything else (a limit, an internal error, an empty code, a 5xx inside the batch) may pass,
/// so the read is cut short and the record stays due.
fn after_a_list_error(e: &ApiError) -> ListRead {
    if e.is_access_denied()
        || e.is_not_found()
        || e.is_scope_refusal()
        || e.code == "ERROR_METHOD_NOT_FOUND"
    {
        ListRead::Refused
    } else {
        ListRead::Cut
    }
}

fn answer(r: &BatchResult, key: &str) -> LogAnswer {
    match r.outcome(key) {
        Some(Ok(_)) => LogAnswer::Taken,
        Some(Err(e)) if e.is_access_denied() => LogAnswer::AccessDenied,
        Some(Err(_)) => LogAnswer::Refused,
        None => LogAnswer::None,
    }
}

fn log_command(channel: Channel, l: &PendingLog) -> BatchCommand {
    match channel {
        Channel::Comment => BatchCommand::new(
            format!("l{}", l.id),
            "crm.timeline.comment.add",
            json!({"fields": {
                "ENTITY_ID": l.key.id,
                "ENTITY_TYPE": l.key.entity_type.slug(),
                "COMMENT": format!("{}\n{}", l.title, l.body),
            }}),
        ),
        Channel::LogMessage => BatchCommand::new(
            format!("l{}", l.id),
            "crm.timeline.logmessage.add",
            json!({"fields": {
                "entityTypeId": l.key.entity_type.type_id(),
                "entityId": l.key.id,
                "title": l.title,
                "text": l.body,
                "iconCode": "info",
            }}),
        ),
    }
}

/// Where a published log is: `logmessage:<id>` or `comment:<id>`.
fn published_as(channel: Channel, v: &Value) -> String {
    match channel {
        Channel::Comment => format!("comment:{v}"),
        Channel::LogMessage => format!(
            "logmessage:{}",
            v.get("logMessage").and_then(|m| m.get("id")).unwrap_or(v)
        ),
    }
}

/// What one sending of change logs did.
#[derive(Default)]
struct Sent {
    published: usize,
    /// Refused as log messages: to try as comments.
    as_comment: Vec<i64>,
}

impl Uploader {
    /// Publishes the change logs of uploaded entries, each once per run.
    pub(crate) async fn publish_logs(
        &self,
        cancel: &CancellationToken,
        summary: &mut UploadSummary,
    ) -> Result<(), SyncError> {
        let mut channel = match self.store(|s| s.log_channel()).await?.as_deref() {
            Some("comment") => Channel::Comment,
            _ => Channel::LogMessage,
        };
        let mut after = 0;
        loop {
            if cancel.is_cancelled() {
                return Err(SyncError::Cancelled);
            }
            let batch = self.client().batch_size();
            let logs = self.store(move |s| s.pending_logs(after, batch)).await?;
            let Some(last) = logs.last() else {
                return Ok(());
            };
            after = last.id;
            let logs: Vec<PendingLog> = logs.into_iter().filter(|l| l.attempts < 20).collect();
            let sent = self.send_logs(channel, &logs, summary).await?;
            if sent.as_comment.is_empty() {
                continue;
            }
            // Refused as log messages: the same logs as comments, now.
            let refused: Vec<PendingLog> = logs
                .into_iter()
                .filter(|l| sent.as_comment.contains(&l.id))
                .collect();
            let fallback = self.send_logs(Channel::Comment, &refused, summary).await?;
            if fallback.published > 0 && channel == Channel::LogMessage {
                // Taken as a comment where the log message was refused: this portal keeps log
                // messages to administrators. Comments from now on.
                tracing::info!("log messages refused, comments taken: publishing comments");
                channel = Channel::Comment;
                self.store(|s| s.set_log_channel("comment")).await?;
            }
        }
    }

    /// Sends change logs through `channel` and records each answer.
    async fn send_logs(
        &self,
        channel: Channel,
        logs: &[PendingLog],
        summary: &mut UploadSummary,
    ) -> Result<Sent, SyncError> {
        let mut sent = Sent::default();
        if logs.is_empty() {
            return Ok(sent);
        }
        let commands: Vec<BatchCommand> = logs.iter().map(|l| log_command(channel, l)).collect();
        let r = self
            .client()
            .batch_write(&commands, false)
            .await
            .map_err(portal_error)?;
        summary.log_requests += 1;
        for l in logs {
            let (id, key) = (l.id, format!("l{}", l.id));
            match log_step(channel, answer(&r, &key)) {
                LogStep::Published => {
                    let how = published_as(channel, r.results.get(&key).unwrap_or(&Value::Null));
                    summary.logs += 1;
                    sent.published += 1;
                    self.store(move |s| s.log_published(id, &how)).await?;
                }
                LogStep::AsComment => sent.as_comment.push(id),
                LogStep::Failed => {
                    let words = r
                        .errors
                        .get(&key)
                        .map(|e| format!("{}: {}", e.code, e.description))
                        .unwrap_or_default();
                    self.store(move |s| s.log_failed(id, &words)).await?;
                }
                LogStep::Wait => {}
            }
        }
        Ok(sent)
    }

    /// Reads other Kartoteka users' change logs from the timelines of records the last pulls
    /// found changed, each back to where its last read ended, into history. Returns how many
    /// events were recorded.
    pub async fn read_peer_logs(&self, cancel: &CancellationToken) -> Result<u64, SyncError> {
        let mut recorded = 0;
        let mut read = 0;
        let mut after: Option<RecordKey> = None;
        // At most PEER_LOG_RECORDS_PER_RUN timelines per run; the rest stay due for the next
        // runs, so a large incremental pull does not turn into thousands of reads.
        while read < PEER_LOG_RECORDS_PER_RUN {
            if cancel.is_cancelled() {
                return Err(SyncError::Cancelled);
            }
            // The first pages: two commands a record.
            let records = (self.client().batch_size() / 2).max(1);
            let due = self.store(move |s| s.peer_logs_due(after, records)).await?;
            let Some(last) = due.last() else {
                break;
            };
            after = Some(last.key);
            read += due.len();
            let mut reads: Vec<RecordRead> = due.into_iter().map(RecordRead::new).collect();
            // Page by page until every list is done; later pages only for the records that
            // need them, as many to a request as a batch holds.
            loop {
                if cancel.is_cancelled() {
                    return Err(SyncError::Cancelled);
                }
                let pages: Vec<(usize, usize, List, usize)> = reads
                    .iter()
                    .enumerate()
                    .flat_map(|(r, rr)| {
                        rr.pending()
                            .into_iter()
                            .map(move |(i, l, at)| (r, i, l, at))
                    })
                    .collect();
                if pages.is_empty() {
                    break;
                }
                for chunk in pages.chunks(self.client().batch_size().max(1)) {
                    let commands: Vec<BatchCommand> = chunk
                        .iter()
                        .map(|(r, _, l, at)| l.command(reads[*r].due.key, *at))
                        .collect();
                    let result = self
                        .client()
                        .batch(&commands, false)
                        .await
                        .map_err(portal_error)?;
                    for (r, i, l, at) in chunk {
                        reads[*r].take(*i, *l, *at, &result);
                    }
                }
            }
            for rr in reads {
                let (key, read_to) = (rr.due.key, rr.read_to());
                let logs = rr.logs;
                recorded += self
                    .store(move |s| s.apply_peer_logs(key, &logs, read_to))
                    .await?;
            }
        }
        Ok(recorded)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn page(ids: &[i64], fresh: usize, total: Option<u64>) -> PageRead {
        PageRead {
            ids: ids.to_vec(),
            fresh,
            total,
        }
    }

    #[rstest]
    #[case::a_full_page_all_newer_reads_on(0, 0, page(&[30, 29, 28], 3, Some(10)), ListStep::Next(3))]
    #[case::a_page_reaching_the_last_read_is_the_last(28, 0, page(&[30, 29, 28], 3, Some(10)), ListStep::Complete)]
    #[case::an_entry_older_than_the_last_read_ends_it(28, 3, page(&[27, 26, 25], 3, None), ListStep::Complete)]
    #[case::an_empty_page_ends_the_list(0, 30, page(&[], 0, Some(30)), ListStep::Complete)]
    #[case::a_short_page_is_the_list_s_end(0, 3, page(&[7, 6], 2, None), ListStep::Complete)]
    #[case::a_short_page_with_more_in_the_total_reads_on(0, 3, page(&[7, 6], 2, Some(10)), ListStep::Next(5))]
    #[case::a_short_page_reaching_the_total_ends_the_list(0, 3, page(&[7, 6], 2, Some(5)), ListStep::Complete)]
    #[case::the_total_reached_ends_the_list(0, 3, page(&[7, 6, 5], 3, Some(6)), ListStep::Complete)]
    #[case::without_a_total_a_full_page_reads_on(0, 3, page(&[7, 6, 5], 3, None), ListStep::Next(6))]
    #[case::a_page_seen_before_means_the_portal_did_not_page(0, 3, page(&[30, 29, 28], 0, Some(10)), ListStep::Stuck)]
    #[case::a_page_partly_seen_before_still_reads_on(0, 3, page(&[29, 28, 27], 1, Some(10)), ListStep::Next(6))]
    fn after_a_timeline_page(
        #[case] mark: i64,
        #[case] at: usize,
        #[case] p: PageRead,
        #[case] want: ListStep,
    ) {
        assert_eq!(list_step(mark, at, 3, &p), want);
    }

    fn api(code: &str, description: &str) -> ApiError {
        ApiError {
            code: code.to_string(),
            description: description.to_string(),
        }
    }

    #[rstest]
    #[case::access_denied_is_for_good(api("ACCESS_DENIED", "Access denied!"), ListRead::Refused)]
    #[case::access_denied_in_words_is_for_good(api("", "Access denied."), ListRead::Refused)]
    #[case::no_such_record_is_for_good(api("NOT_FOUND", "Not found"), ListRead::Refused)]
    #[case::no_such_method_is_for_good(
        api("ERROR_METHOD_NOT_FOUND", "Method not found!"),
        ListRead::Refused
    )]
    #[case::a_scope_too_narrow_is_for_good(api("insufficient_scope", ""), ListRead::Refused)]
    #[case::a_rate_limit_cuts_the_read(
        api("QUERY_LIMIT_EXCEEDED", "Too many requests"),
        ListRead::Cut
    )]
    #[case::an_overload_cuts_the_read(api("OVERLOAD_LIMIT", ""), ListRead::Cut)]
    #[case::an_internal_error_cuts_the_read(
        api("INTERNAL_SERVER_ERROR", "Internal server error"),
        ListRead::Cut
    )]
    #[case::an_empty_code_cuts_the_read(api("", ""), ListRead::Cut)]
    #[case::an_unknown_code_cuts_the_read(api("100", "Could not find value"), ListRead::Cut)]
    fn after_a_refused_timeline_list(#[case] e: ApiError, #[case] want: ListRead) {
        assert_eq!(after_a_list_error(&e), want);
    }

    #[rstest]
    #[case::a_log_message_s_author_id(
        List::LogMessages,
        json!({"logMessages": [{"id": 5, "created": "2026-03-01T10:00:00+03:00",
                                "authorId": 2, "text": "t"}]}),
        ("logmessage:5", Some(2))
    )]
    #[case::a_comment_s_author_id_as_text(
        List::Comments,
        json!([{"ID": "9", "CREATED": "2026-03-01T10:00:00+03:00", "AUTHOR_ID": "3",
                "COMMENT": "t"}]),
        ("comment:9", Some(3))
    )]
    #[case::no_author_given(List::Comments, json!([{"ID": "9", "COMMENT": "t"}]), ("comment:9", None))]
    fn a_timeline_entry_carries_the_portal_s_author(
        #[case] list: List,
        #[case] page: Value,
        #[case] want: (&str, Option<i64>),
    ) {
        let got = list.entries(&page);
        assert_eq!(got.len(), 1);
        assert_eq!((got[0].1.external_id.as_str(), got[0].1.author_id), want);
    }

    #[rstest]
    #[case::a_taken_log_message_is_published(
        Channel::LogMessage,
        LogAnswer::Taken,
        LogStep::Published
    )]
    #[case::a_taken_comment_is_published(Channel::Comment, LogAnswer::Taken, LogStep::Published)]
    #[case::a_log_message_refused_as_access_goes_as_a_comment(
        Channel::LogMessage,
        LogAnswer::AccessDenied,
        LogStep::AsComment
    )]
    #[case::a_comment_refused_as_access_is_a_failed_attempt(
        Channel::Comment,
        LogAnswer::AccessDenied,
        LogStep::Failed
    )]
    #[case::a_log_message_refused_otherwise_is_a_failed_attempt(
        Channel::LogMessage,
        LogAnswer::Refused,
        LogStep::Failed
    )]
    #[case::a_comment_refused_otherwise_is_a_failed_attempt(
        Channel::Comment,
        LogAnswer::Refused,
        LogStep::Failed
    )]
    #[case::no_answer_waits_for_the_next_run(Channel::LogMessage, LogAnswer::None, LogStep::Wait)]
    #[case::no_answer_to_a_comment_waits_too(Channel::Comment, LogAnswer::None, LogStep::Wait)]
    fn after_a_change_log_s_answer(
        #[case] channel: Channel,
        #[case] answer: LogAnswer,
        #[case] want: LogStep,
    ) {
        assert_eq!(log_step(channel, answer), want);
    }
}
