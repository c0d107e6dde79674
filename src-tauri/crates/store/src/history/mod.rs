//! History (product.md §4): append-only events with a hash chain per record, recorded by the pull
//! (changes observed at sync, the portal's stage history, deletions) and by this device (views,
//! exports, hidings; local edits arrive with the outbox). Read by the History tab, the global
//! History page, exports and `kartoteka-cli history`.
//!
//! Invariants:
//! - No event row is updated or deleted, except that all of a record's events leave the device
//!   when its user loses access to it (§4.4). Hiding an entry or replacing an observed stage move
//!   with the exact one from the portal's stage history is a new event plus a row in
//!   `history_masked`.
//! - Each record's events form a chain: an event's hash covers its content and the previous
//!   event's hash. [`Store::verify_history`] names the first broken link.
//! - Totals are exact: counters per hour and attribute, written in the same transaction.

mod asof;
mod attribute;
mod observe;
mod peerlog;
mod query;
mod stagehistory;
mod verify;
mod write;

pub use observe::{is_bookkeeping_field, BOOKKEEPING_FIELDS};
pub use peerlog::{PeerLogDue, TimelineLog, TimelineMarks};
pub use query::HistoryQuery;
pub use stagehistory::StageHistoryEntry;
pub use verify::BrokenLink;

pub(crate) use attribute::OwnWrite;
pub(crate) use observe::Observer;
pub(crate) use verify::rekey_chain;
pub(crate) use write::HistoryWriter;

use crate::promote::rid_of;
use crate::{Store, StoreError};
use kartoteka_domain::{
    AuthorKind, HistoryEventCode, HistoryFilter, HistorySource, HistorySyncState, RecordKey,
};
use rusqlite::{params, Connection, OptionalExtension};

/// An event about to be recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEvent {
    pub record: Option<RecordKey>,
    pub record_title: String,
    /// UTC unix milliseconds.
    pub happened_ms: i64,
    pub received_ms: Option<i64>,
    pub author_id: Option<i64>,
    pub author_name: String,
    pub author_kind: AuthorKind,
    pub source: HistorySource,
    pub sync_state: HistorySyncState,
    pub device_id: Option<String>,
    pub event: HistoryEventCode,
    pub field: Option<String>,
    pub field_label: Option<String>,
    pub old_value: Option<String>,
    pub new_value: Option<String>,
    pub old_display: Option<String>,
    pub new_display: Option<String>,
    pub note: Option<String>,
    pub ref_seq: Option<i64>,
    pub external_id: Option<String>,
}

impl NewEvent {
    /// An event with only the essentials set; the rest empty.
    pub fn new(
        record: Option<RecordKey>,
        event: HistoryEventCode,
        happened_ms: i64,
        source: HistorySource,
    ) -> Self {
        NewEvent {
            record,
            record_title: String::new(),
            happened_ms,
            received_ms: None,
            author_id: None,
            author_name: String::new(),
            author_kind: AuthorKind::Person,
            source,
            sync_state: HistorySyncState::Synced,
            device_id: None,
            event,
            field: None,
            field_label: None,
            old_value: None,
            new_value: None,
            old_display: None,
            new_display: None,
            note: None,
            ref_seq: None,
            external_id: None,
        }
    }

    pub(crate) fn rid(&self) -> Result<i64, StoreError> {
        match self.record {
            Some(key) => rid_of(key),
            None => Ok(0),
        }
    }
}

/// The user of this device, as events made here record them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalActor {
    pub user_id: Option<i64>,
    pub name: String,
    pub device_id: String,
    pub online: bool,
}

impl LocalActor {
    /// This device's user as the author of `e` (a local event).
    pub(crate) fn stamp_pub(&self, e: NewEvent) -> NewEvent {
        self.stamp(e)
    }

    fn stamp(&self, mut e: NewEvent) -> NewEvent {
        e.author_id = self.user_id;
        e.author_name = self.name.clone();
        e.author_kind = AuthorKind::DeviceUser;
        e.device_id = Some(self.device_id.clone());
        e.sync_state = HistorySyncState::Local;
        e
    }
}

/// Who is signed in, as the portal said at the last sync.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Profile {
    pub user_id: Option<i64>,
    /// A portal administrator (`user.admin`) or a department head (`department.get` UF_HEAD).
    pub is_supervisor: bool,
}

const META_USER: &str = "profile.user_id";
const META_SUPERVISOR: &str = "profile.is_supervisor";
const META_ADMIN: &str = "profile.is_admin";
const META_DEVICE: &str = "device_id";
/// The id a replica had before [`give_device_id`] replaced a shared one (`unknown-device`): its
/// own change logs published under it stay its own.
const META_DEVICE_FORMER: &str = "device_id.former";
/// The id every CLI replica stored before version 7 (the first sync asked for one with this
/// fallback before any edit made one), so not this device's alone.
const SHARED_DEVICE_ID: &str = "unknown-device";
const META_TIME_ZONE: &str = "profile.time_zone";
const META_PORTAL_TIME: &str = "portal.time";
const META_PORTAL_HOST: &str = "portal.host";
const META_MISSING_SCOPES: &str = "portal.missing_scopes";

impl Store {
    pub(crate) fn meta(&self, key: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .conn
            .prepare_cached("SELECT value FROM replica_meta WHERE key = ?1")?
            .query_row([key], |r| r.get(0))
            .optional()?)
    }

    pub(crate) fn set_meta(&self, key: &str, value: &str) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(
                "INSERT INTO replica_meta (key, value) VALUES (?1, ?2) \
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            )?
            .execute(params![key, value])?;
        Ok(())
    }

    /// The signed-in user and whether they may hide history entries.
    pub fn profile(&self) -> Result<Profile, StoreError> {
        Ok(Profile {
            user_id: self.meta(META_USER)?.and_then(|v| v.parse().ok()),
            is_supervisor: self.meta(META_SUPERVISOR)?.as_deref() == Some("1"),
        })
    }

    pub fn set_profile(&mut self, profile: &Profile) -> Result<(), StoreError> {
        if let Some(id) = profile.user_id {
            self.set_meta(META_USER, &id.to_string())?;
        }
        self.set_meta(
            META_SUPERVISOR,
            if profile.is_supervisor { "1" } else { "0" },
        )
    }

    /// Whether the signed-in user administers the portal (`user.admin`), as the last sync found:
    /// an administrator reads every record, so a look-up that finds nothing is conclusive.
    /// `false` until a sync has said.
    pub fn is_admin(&self) -> Result<bool, StoreError> {
        Ok(self.meta(META_ADMIN)?.as_deref() == Some("1"))
    }

    pub fn set_admin(&mut self, admin: bool) -> Result<(), StoreError> {
        self.set_meta(META_ADMIN, if admin { "1" } else { "0" })
    }

    /// The host of the portal this replica holds (kept at every sign-in).
    pub fn set_portal_host(&mut self, host: &str) -> Result<(), StoreError> {
        self.set_meta(META_PORTAL_HOST, host)
    }

    /// The host of the portal this replica holds, once a sync has signed in.
    pub fn portal_host(&self) -> Result<Option<String>, StoreError> {
        Ok(self.meta(META_PORTAL_HOST)?.filter(|h| !h.is_empty()))
    }

    /// Keeps the scopes the webhook lacked when the portal last listed them.
    pub fn set_missing_scopes(
        &mut self,
        missing: &[kartoteka_domain::ipc::WebhookScope],
    ) -> Result<(), StoreError> {
        self.set_meta(META_MISSING_SCOPES, &serde_json::to_string(missing)?)
    }

    /// The scopes the webhook lacked when last asked (none when never asked).
    pub fn missing_scopes(&self) -> Result<Vec<kartoteka_domain::ipc::WebhookScope>, StoreError> {
        Ok(self
            .meta(META_MISSING_SCOPES)?
            .and_then(|s| serde_json::from_str(&s).ok())
            .unwrap_or_default())
    }

    /// The signed-in user's personal time zone (`None` or empty: none set).
    pub fn set_user_time_zone(&mut self, zone: Option<&str>) -> Result<(), StoreError> {
        self.set_meta(META_TIME_ZONE, zone.unwrap_or(""))
    }

    /// The portal's clock as it printed it lately (its offset now).
    pub fn note_portal_time(
        &mut self,
        t: chrono::DateTime<chrono::FixedOffset>,
    ) -> Result<(), StoreError> {
        self.set_meta(META_PORTAL_TIME, &t.to_rfc3339())
    }

    /// What reading back REST datetimes needs, when the signed-in user has a personal time
    /// zone (see [`kartoteka_domain::usertime`]).
    pub fn user_time(&self) -> Result<Option<kartoteka_domain::usertime::UserTime>, StoreError> {
        user_time_in(&self.conn)
    }

    /// This replica's device id: a random UUID given to every replica when its schema is made
    /// (or upgraded, see [`crate::migrations`]), so no two replicas share one.
    pub fn device_id(&self) -> Result<String, StoreError> {
        device_id_in(&self.conn)
    }

    /// Whether a change log on a timeline is this replica's own: written by this device (or by
    /// it under the id it had before, see [`give_device_id`]) AND by the signed-in user. A log
    /// of the same user from another device, or of another user under the same device id, is
    /// someone else's.
    pub fn is_own_log(
        &self,
        device: Option<&str>,
        author_id: Option<i64>,
    ) -> Result<bool, StoreError> {
        Ok(self.own_identity()?.owns(device, author_id))
    }

    pub(crate) fn own_identity(&self) -> Result<OwnIdentity, StoreError> {
        Ok(OwnIdentity {
            devices: std::iter::once(self.device_id()?)
                .chain(self.meta(META_DEVICE_FORMER)?)
                .collect(),
            user_id: self.profile()?.user_id,
        })
    }

    /// This device's user as events made here record them (the signed-in portal user, by name).
    pub fn local_actor(&mut self, online: bool) -> Result<LocalActor, StoreError> {
        let profile = self.profile()?;
        let device_id = self.device_id()?;
        let name = match profile.user_id {
            Some(id) => self
                .users()?
                .into_iter()
                .find(|u| u.id == id)
                .map(|u| u.display_name())
                .unwrap_or_else(|| format!("#{id}")),
            None => String::new(),
        };
        Ok(LocalActor {
            user_id: profile.user_id,
            name,
            device_id,
            online,
        })
    }

    /// Records events in one transaction, each inner list as one group (one save). The engine's
    /// own write path: the pull, local events and the history benchmark all end here.
    pub fn append_history(&mut self, groups: &[Vec<NewEvent>]) -> Result<Vec<i64>, StoreError> {
        let tx = self.conn.transaction()?;
        let mut seqs = Vec::new();
        {
            let mut w = HistoryWriter::new(&tx)?;
            for group in groups {
                let g = w.new_group();
                for e in group {
                    seqs.push(w.append(e, g)?);
                }
            }
            w.finish(&tx)?;
        }
        tx.commit()?;
        Ok(seqs)
    }

    /// Records that this device's user opened a record's card.
    pub fn record_view(
        &mut self,
        key: RecordKey,
        actor: &LocalActor,
        at_ms: i64,
    ) -> Result<(), StoreError> {
        let title = self.record_title(key)?.unwrap_or_default();
        let mut e = actor.stamp(NewEvent::new(
            Some(key),
            HistoryEventCode::View,
            at_ms,
            source_of(actor),
        ));
        e.record_title = title;
        self.append_history(&[vec![e]])?;
        Ok(())
    }

    /// Records an export: what was exported (the filter, in words) and how many rows.
    pub fn record_export(
        &mut self,
        actor: &LocalActor,
        at_ms: i64,
        filter: &HistoryFilter,
        rows: u64,
        what: &str,
    ) -> Result<(), StoreError> {
        let mut e = actor.stamp(NewEvent::new(
            filter.record,
            HistoryEventCode::Exported,
            at_ms,
            source_of(actor),
        ));
        if let Some(key) = filter.record {
            e.record_title = self.record_title(key)?.unwrap_or_default();
        }
        e.note = Some(format!("{what}: {rows}"));
        e.new_value = serde_json::to_string(filter).ok();
        self.append_history(&[vec![e]])?;
        Ok(())
    }

    /// Hides an entry with a reason. Only supervisors may (checked here, against the profile the
    /// last sync stored). The hiding is itself an event; the entry stays, marked, for supervisors.
    pub fn hide_history_event(
        &mut self,
        seq: i64,
        reason: &str,
        actor: &LocalActor,
        at_ms: i64,
    ) -> Result<i64, StoreError> {
        if !self.profile()?.is_supervisor {
            return Err(StoreError::NotAllowed(
                "only a portal administrator or a department head may hide history entries",
            ));
        }
        let reason = reason.trim();
        if reason.is_empty() {
            return Err(StoreError::NotAllowed(
                "a reason is required to hide an entry",
            ));
        }
        let target = self.history_event(seq, true)?.ok_or(StoreError::NotFound)?;
        let tx = self.conn.transaction()?;
        let by;
        {
            let mut w = HistoryWriter::new(&tx)?;
            let g = w.new_group();
            let mut e = actor.stamp(NewEvent::new(
                target.record,
                HistoryEventCode::Hidden,
                at_ms,
                source_of(actor),
            ));
            e.record_title = target.record_title.clone();
            e.ref_seq = Some(seq);
            e.note = Some(reason.to_string());
            e.field = target.field.clone();
            e.field_label = target.field_label.clone();
            by = w.append(&e, g)?;
            w.mask(seq, "hidden", by)?;
            // The hiding itself is for supervisors' eyes only, like the entry it hides.
            w.mask(by, "hiding", by)?;
            w.finish(&tx)?;
        }
        tx.commit()?;
        Ok(by)
    }

    pub(crate) fn record_title(&self, key: RecordKey) -> Result<Option<String>, StoreError> {
        Ok(self
            .conn
            .prepare_cached("SELECT title FROM records WHERE rid = ?1")?
            .query_row([rid_of(key)?], |r| r.get(0))
            .optional()?)
    }
}

fn source_of(actor: &LocalActor) -> HistorySource {
    if actor.online {
        HistorySource::DeviceOnline
    } else {
        HistorySource::DeviceOffline
    }
}

/// Removes all of a record's events (its user lost access to it, product.md §4.4), with their
/// search rows, masks, chain tail and counts. The only deletion of events there is.
pub(crate) fn forget_history(conn: &rusqlite::Connection, rid: i64) -> Result<(), StoreError> {
    let mut hour = conn.prepare_cached(
        "UPDATE history_counts SET n = n - 1 WHERE hour = ?1 AND entity_type = ?2 AND event = ?3 \
         AND source = ?4 AND author_id = ?5 AND field = ?6",
    )?;
    let mut total = conn.prepare_cached(
        "UPDATE history_totals SET n = n - 1 WHERE entity_type = ?1 AND event = ?2 \
         AND source = ?3 AND author_id = ?4 AND field = ?5",
    )?;
    let mut unindex = conn.prepare_cached("DELETE FROM history_search WHERE rowid = ?1")?;
    let mut unmask = conn.prepare_cached("DELETE FROM history_masked WHERE seq = ?1")?;
    let mut events = conn.prepare_cached(
        "SELECT seq, happened_ms, entity_type, event, source, COALESCE(author_id, 0), \
         COALESCE(field, '') FROM history_events WHERE rid = ?1",
    )?;
    let mut rows = events.query([rid])?;
    while let Some(r) = rows.next()? {
        let seq: i64 = r.get(0)?;
        let happened: i64 = r.get(1)?;
        let t: i64 = r.get(2)?;
        let event: String = r.get(3)?;
        let source: String = r.get(4)?;
        let author: i64 = r.get(5)?;
        let field: String = r.get(6)?;
        hour.execute(params![
            happened.div_euclid(write::HOUR_MS),
            t,
            event,
            source,
            author,
            field
        ])?;
        total.execute(params![t, event, source, author, field])?;
        unindex.execute([seq])?;
        unmask.execute([seq])?;
    }
    conn.prepare_cached("DELETE FROM history_events WHERE rid = ?1")?
        .execute([rid])?;
    conn.prepare_cached("DELETE FROM history_chain WHERE rid = ?1")?
        .execute([rid])?;
    Ok(())
}

/// [`Store::user_time`] inside a caller's transaction.
pub(crate) fn user_time_in(
    conn: &Connection,
) -> Result<Option<kartoteka_domain::usertime::UserTime>, StoreError> {
    let mut stmt = conn.prepare_cached("SELECT value FROM replica_meta WHERE key = ?1")?;
    let zone: Option<String> = stmt.query_row([META_TIME_ZONE], |r| r.get(0)).optional()?;
    let time: Option<String> = stmt
        .query_row([META_PORTAL_TIME], |r| r.get(0))
        .optional()?;
    let (Some(zone), Some(time)) = (zone, time) else {
        return Ok(None);
    };
    let Ok(now) = chrono::DateTime::parse_from_rfc3339(&time) else {
        return Ok(None);
    };
    Ok(kartoteka_domain::usertime::UserTime::new(&zone, now))
}

/// Who this replica is on timelines: its device ids (now and before) and its signed-in user.
pub(crate) struct OwnIdentity {
    devices: Vec<String>,
    user_id: Option<i64>,
}

impl OwnIdentity {
    /// A change log is ours when both its device and its author are.
    pub(crate) fn owns(&self, device: Option<&str>, author_id: Option<i64>) -> bool {
        matches!((device, author_id, self.user_id), (Some(d), Some(a), Some(me))
            if a == me && self.devices.iter().any(|x| x == d))
    }
}

/// A new random device id (UUID v4).
fn new_device_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// The replica's device id; one is made if it has none (a replica of schema 7 always has one).
pub(crate) fn device_id_in(conn: &Connection) -> Result<String, StoreError> {
    let id: Option<String> = conn
        .prepare_cached("SELECT value FROM replica_meta WHERE key = ?1")?
        .query_row([META_DEVICE], |r| r.get(0))
        .optional()?;
    match id {
        Some(id) if !id.is_empty() && id != SHARED_DEVICE_ID => Ok(id),
        _ => give_device_id(conn),
    }
}

/// Gives the replica a new random device id when it has none or the shared `unknown-device`
/// (kept as its former id); returns the id it has now. Run by schema step 7 on every replica.
pub(crate) fn give_device_id(conn: &Connection) -> Result<String, StoreError> {
    let old: Option<String> = conn
        .prepare_cached("SELECT value FROM replica_meta WHERE key = ?1")?
        .query_row([META_DEVICE], |r| r.get(0))
        .optional()?;
    if let Some(id) = old
        .as_deref()
        .filter(|id| !id.is_empty() && *id != SHARED_DEVICE_ID)
    {
        return Ok(id.to_string());
    }
    let set = |key: &str, value: &str| -> Result<(), StoreError> {
        conn.prepare_cached(
            "INSERT INTO replica_meta (key, value) VALUES (?1, ?2) \
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        )?
        .execute(params![key, value])?;
        Ok(())
    };
    if let Some(former) = old.as_deref().filter(|id| !id.is_empty()) {
        set(META_DEVICE_FORMER, former)?;
    }
    let id = new_device_id();
    set(META_DEVICE, &id)?;
    tracing::info!(
        replaced = old.is_some(),
        "this replica was given a device id"
    );
    Ok(id)
}
