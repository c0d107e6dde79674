//! The SQLite replica ([`kartoteka_store::Store`]) as sync's [`Replica`].

use crate::model::{ApplyCounts, PullCheckpoint, ReferenceData, Watermark};
use crate::ports::Replica;
use chrono::{DateTime, FixedOffset, TimeZone, Utc};
use kartoteka_domain::{EntityType, Record, RecordKey};
use kartoteka_store::{Profile, StageHistoryEntry, Store, StoreError, SyncCheckpoint};

fn from_unix(seconds: i64) -> Option<DateTime<FixedOffset>> {
    Utc.timestamp_opt(seconds, 0)
        .single()
        .map(|t| t.fixed_offset())
}

/// The store keeps times as UTC unix seconds; sync works with offset-aware times.
pub fn checkpoint_from_store(cp: &SyncCheckpoint) -> PullCheckpoint {
    let watermark = match (
        cp.updated_since_time.and_then(from_unix),
        cp.updated_since_id,
    ) {
        (Some(time), id) => Some(Watermark::new(time, id.unwrap_or(0))),
        (None, _) => None,
    };
    PullCheckpoint {
        initial_after_id: cp.last_id,
        initial_done: cp.initial_done,
        watermark,
        reconciled_at: cp.last_full_reconcile.and_then(from_unix),
        synced_at: cp.last_sync_at.and_then(from_unix),
    }
}

pub fn checkpoint_to_store(cp: &PullCheckpoint) -> SyncCheckpoint {
    SyncCheckpoint {
        last_id: cp.initial_after_id,
        initial_done: cp.initial_done,
        updated_since_time: cp.watermark.map(|w| w.time.timestamp()),
        updated_since_id: cp.watermark.map(|w| w.id),
        last_full_reconcile: cp.reconciled_at.map(|t| t.timestamp()),
        last_sync_at: cp.synced_at.map(|t| t.timestamp()),
    }
}

fn keys(t: EntityType, ids: &[i64]) -> Vec<RecordKey> {
    ids.iter()
        .map(|&id| RecordKey { entity_type: t, id })
        .collect()
}

impl Replica for Store {
    type Error = StoreError;

    fn checkpoint(&self, t: EntityType) -> Result<PullCheckpoint, StoreError> {
        Ok(checkpoint_from_store(&self.sync_checkpoint(t)?))
    }

    fn save_checkpoint(
        &mut self,
        t: EntityType,
        checkpoint: &PullCheckpoint,
    ) -> Result<(), StoreError> {
        Store::save_checkpoint(self, t, &checkpoint_to_store(checkpoint))
    }

    fn apply_pulled(
        &mut self,
        t: EntityType,
        records: &[Record],
        checkpoint: &PullCheckpoint,
    ) -> Result<ApplyCounts, StoreError> {
        let stats = Store::apply_pulled(self, t, records, &checkpoint_to_store(checkpoint))?;
        Ok(ApplyCounts {
            inserted: stats.inserted,
            updated: stats.updated,
            unchanged: stats.unchanged,
        })
    }

    fn visible_ids(&self, t: EntityType) -> Result<Vec<i64>, StoreError> {
        self.all_ids(t)
    }

    fn visible_count(&self, t: EntityType) -> Result<u64, StoreError> {
        Ok(self
            .counts()?
            .into_iter()
            .find(|c| c.entity_type == t)
            .map_or(0, |c| c.active))
    }

    fn mark_deleted(
        &mut self,
        t: EntityType,
        ids: &[i64],
        at: DateTime<FixedOffset>,
    ) -> Result<u64, StoreError> {
        if ids.is_empty() {
            return Ok(0);
        }
        Store::mark_deleted(self, &keys(t, ids), at.timestamp())
    }

    fn mark_hidden(
        &mut self,
        t: EntityType,
        ids: &[i64],
        at: DateTime<FixedOffset>,
    ) -> Result<u64, StoreError> {
        if ids.is_empty() {
            return Ok(0);
        }
        Store::mark_hidden(self, &keys(t, ids), at.timestamp())
    }

    fn records_linking_to(&self, t: EntityType, id: i64) -> Result<Vec<RecordKey>, StoreError> {
        // Every declaration, not the card's view of the links (cut at its limit, and where a
        // link declared from both ends shows as the record's own).
        Store::records_linking_to(self, RecordKey { entity_type: t, id })
    }

    fn replace_reference(&mut self, reference: &ReferenceData) -> Result<(), StoreError> {
        let missing = reference
            .signed_in
            .as_ref()
            .and_then(|who| who.missing_scopes.clone());
        // A webhook that may not read users gets none: the names (and the user's time zone)
        // known before are kept.
        if !reference.users_refused {
            self.replace_users(&reference.users)?;
        }
        if let Some(missing) = &missing {
            self.set_missing_scopes(missing)?;
        }
        self.replace_stages(&reference.stages)?;
        for (&t, fields) in &reference.fields {
            self.replace_field_meta(t, fields)?;
        }
        for t in EntityType::ALL {
            let categories: Vec<_> = reference
                .categories
                .iter()
                .filter(|c| c.entity_type_id == t.type_id())
                .cloned()
                .collect();
            if !categories.is_empty() {
                self.replace_categories(t, &categories)?;
            }
        }
        if let Some(who) = &reference.signed_in {
            self.set_profile(&Profile {
                user_id: Some(who.user_id),
                is_supervisor: who.is_supervisor,
            })?;
            self.set_admin(who.is_admin)?;
            if !reference.users_refused {
                self.set_user_time_zone(who.time_zone.as_deref())?;
            }
            self.set_portal_host(&who.portal_host)?;
        }
        if let Some(t) = reference.server_time {
            self.note_portal_time(t)?;
        }
        Ok(())
    }

    fn note_portal_time(&mut self, t: DateTime<FixedOffset>) -> Result<(), StoreError> {
        Store::note_portal_time(self, t)
    }

    fn stage_history_checkpoint(&self, t: EntityType) -> Result<i64, StoreError> {
        Store::stage_history_checkpoint(self, t)
    }

    fn apply_stage_history(
        &mut self,
        t: EntityType,
        entries: &[StageHistoryEntry],
    ) -> Result<u64, StoreError> {
        Store::apply_stage_history(self, t, entries)
    }
}
