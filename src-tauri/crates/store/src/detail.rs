//! One record as its card shows it, the server version beside it, and the per-type counts.

use crate::promote::{key_of, rid_of};
use crate::{RecordState, Store, StoreError};
use kartoteka_domain::{EntityType, FieldMeta, MultiField, RecordKey};
use rusqlite::OptionalExtension;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::HashMap;

/// How many links a card loads: a company with 50,000 deals shows the first ones and the total.
pub const LINKS_ON_CARD: usize = 200;

/// A record's links in both directions, one row per other record (`n = 1`: its own declaration
/// wins over the other record's), served by the two link indexes.
const LINKS_OF: &str = "SELECT other, is_primary, sort, outgoing, \
     ROW_NUMBER() OVER (PARTITION BY other ORDER BY outgoing DESC) AS n FROM ( \
       SELECT to_rid AS other, is_primary, sort, 1 AS outgoing FROM links WHERE from_rid = ?1 \
       UNION ALL \
       SELECT from_rid AS other, is_primary, sort, 0 AS outgoing FROM links WHERE to_rid = ?1)";

/// Whether the link is declared by this record's fields or by the other record's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub enum LinkDirection {
    /// This record names the other one (a deal's contacts).
    Outgoing,
    /// The other record names this one (a contact's deals).
    Incoming,
}

/// A record linked to the one on the card.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct LinkedRecord {
    pub key: RecordKey,
    /// `None` when the linked record is not in the replica (not readable by this user).
    pub title: Option<String>,
    pub state: Option<RecordState>,
    pub is_primary: bool,
    #[ts(type = "number")]
    pub sort: i64,
    pub direction: LinkDirection,
}

/// Everything a record's card shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct RecordDetail {
    pub key: RecordKey,
    pub title: String,
    pub state: RecordState,
    /// Every field (standard and custom) of the local version, as the portal names them.
    pub fields: Map<String, Value>,
    pub multi_fields: Vec<MultiField>,
    /// The first [`LINKS_ON_CARD`] links, in card order.
    pub links: Vec<LinkedRecord>,
    /// How many links the record has in all (a company may have 50,000 deals).
    #[ts(type = "number")]
    pub links_total: u64,
    /// Labels, types and options of the type's fields, in the portal's order.
    pub field_meta: Vec<FieldMeta>,
    /// Fields whose local value has not reached the portal yet.
    pub pending_fields: Vec<String>,
    #[ts(type = "number")]
    pub created_time: i64,
    #[ts(type = "number")]
    pub updated_time: i64,
}

/// The last version of a record the portal sent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServerVersion {
    pub fields: Map<String, Value>,
    pub multi_fields: Vec<MultiField>,
}

/// How many records of a type the replica holds, by state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct EntityCounts {
    pub entity_type: EntityType,
    #[ts(type = "number")]
    pub active: u64,
    #[ts(type = "number")]
    pub deleted: u64,
    #[ts(type = "number")]
    pub hidden: u64,
}

impl Store {
    /// A record's card. `None` when the replica has no such record or it is hidden (access lost).
    pub fn get_record(&self, key: RecordKey) -> Result<Option<RecordDetail>, StoreError> {
        let rid = rid_of(key)?;
        let mut stmt = self.conn.prepare_cached(
            "SELECT r.title, r.state, r.created_time, r.updated_time, f.fields, f.multi_fields \
             FROM records r JOIN record_fields f ON f.rid = r.rid WHERE r.rid = ?1",
        )?;
        let row = stmt
            .query_row([rid], |r| {
                Ok((
                    r.get::<_, String>("title")?,
                    r.get::<_, i64>("state")?,
                    r.get::<_, i64>("created_time")?,
                    r.get::<_, i64>("updated_time")?,
                    r.get::<_, String>("fields")?,
                    r.get::<_, String>("multi_fields")?,
                ))
            })
            .optional()?;
        let Some((title, state, created_time, updated_time, fields, multi)) = row else {
            return Ok(None);
        };
        let state = RecordState::from_code(state)?;
        if state == RecordState::Hidden {
            return Ok(None);
        }
        Ok(Some(RecordDetail {
            key,
            title,
            state,
            fields: serde_json::from_str(&fields)?,
            multi_fields: serde_json::from_str(&multi)?,
            links: self.links_of(rid, LINKS_ON_CARD)?,
            links_total: self.links_total(rid)?,
            field_meta: self.field_meta(key.entity_type)?,
            pending_fields: self.pending_fields(key)?,
            created_time,
            updated_time,
        }))
    }

    /// The first `limit` links of a record in both directions, each other record once (its own
    /// declaration wins), by type, primary first, then by sort order. Hidden records are left
    /// out. Ordered and cut in SQL: a company's 50,000 deals are not all read for a card.
    fn links_of(&self, rid: i64, limit: usize) -> Result<Vec<LinkedRecord>, StoreError> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "WITH l AS ({LINKS_OF}) \
             SELECT l.other, l.is_primary, l.sort, l.outgoing, r.title, r.state FROM l \
             LEFT JOIN records r ON r.rid = l.other \
             WHERE l.n = 1 AND r.state IS NOT {hidden} \
             ORDER BY l.other >> 48, NOT l.is_primary, l.sort, l.other LIMIT ?2",
            hidden = RecordState::Hidden.code()
        ))?;
        let mut rows = stmt.query(rusqlite::params![rid, limit as i64])?;
        let mut out: Vec<LinkedRecord> = Vec::new();
        while let Some(r) = rows.next()? {
            let state = r
                .get::<_, Option<i64>>("state")?
                .map(RecordState::from_code)
                .transpose()?;
            out.push(LinkedRecord {
                key: key_of(r.get("other")?)?,
                title: r.get("title")?,
                state,
                is_primary: r.get("is_primary")?,
                sort: r.get("sort")?,
                direction: if r.get::<_, bool>("outgoing")? {
                    LinkDirection::Outgoing
                } else {
                    LinkDirection::Incoming
                },
            });
        }
        Ok(out)
    }

    /// Every record whose own fields link to this one (a deleted contact's deals and companies),
    /// whatever the other record's fields say, with no limit: sync re-reads them all.
    pub fn records_linking_to(&self, key: RecordKey) -> Result<Vec<RecordKey>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT DISTINCT from_rid FROM links WHERE to_rid = ?1 ORDER BY from_rid",
        )?;
        let rids = stmt
            .query_map([rid_of(key)?], |r| r.get::<_, i64>(0))?
            .collect::<Result<Vec<_>, _>>()?;
        rids.into_iter().map(key_of).collect()
    }

    /// How many records a record is linked to (each once, hidden ones left out).
    fn links_total(&self, rid: i64) -> Result<u64, StoreError> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "WITH l AS ({LINKS_OF}) SELECT COUNT(*) FROM l \
             LEFT JOIN records r ON r.rid = l.other \
             WHERE l.n = 1 AND r.state IS NOT {hidden}",
            hidden = RecordState::Hidden.code()
        ))?;
        let n: i64 = stmt.query_row([rid], |r| r.get(0))?;
        Ok(n.max(0) as u64)
    }

    /// A record's phones and e-mails (a card's links show the first ones), without its fields,
    /// links or field metadata. `None` when the record is not here or hidden.
    pub fn record_multi_fields(
        &self,
        key: RecordKey,
    ) -> Result<Option<Vec<MultiField>>, StoreError> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT f.multi_fields FROM records r JOIN record_fields f ON f.rid = r.rid \
             WHERE r.rid = ?1 AND r.state != {}",
            RecordState::Hidden.code()
        ))?;
        let found: Option<String> = stmt.query_row([rid_of(key)?], |r| r.get(0)).optional()?;
        Ok(found.map(|m| serde_json::from_str(&m)).transpose()?)
    }

    /// Titles of records of one type by id, for lists (a deal's company): the title column
    /// only, never the record's fields, links or field metadata. Hidden records have none.
    pub fn record_titles(
        &self,
        entity_type: EntityType,
        ids: &[i64],
    ) -> Result<HashMap<i64, String>, StoreError> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT title FROM records WHERE rid = ?1 AND state != {}",
            RecordState::Hidden.code()
        ))?;
        let mut out = HashMap::with_capacity(ids.len());
        for &id in ids {
            if out.contains_key(&id) {
                continue;
            }
            let rid = rid_of(RecordKey { entity_type, id })?;
            if let Some(title) = stmt
                .query_row([rid], |r| r.get::<_, String>(0))
                .optional()?
            {
                out.insert(id, title);
            }
        }
        Ok(out)
    }

    /// The last version of a record the portal sent (for merges): the mirror when unsent edits
    /// made the local version differ, else the local version itself.
    pub fn server_version(&self, key: RecordKey) -> Result<Option<ServerVersion>, StoreError> {
        let rid = rid_of(key)?;
        let mut stmt = self.conn.prepare_cached(
            "SELECT COALESCE(s.fields, f.fields) AS fields, \
             COALESCE(s.multi_fields, f.multi_fields) AS multi_fields \
             FROM record_fields f LEFT JOIN server_records s ON s.rid = f.rid WHERE f.rid = ?1",
        )?;
        let row = stmt
            .query_row([rid], |r| {
                Ok((
                    r.get::<_, String>("fields")?,
                    r.get::<_, String>("multi_fields")?,
                ))
            })
            .optional()?;
        match row {
            None => Ok(None),
            Some((fields, multi)) => Ok(Some(ServerVersion {
                fields: serde_json::from_str(&fields)?,
                multi_fields: serde_json::from_str(&multi)?,
            })),
        }
    }

    /// Records per type and state, exact (from the counters, microseconds at any size).
    pub fn counts(&self) -> Result<Vec<EntityCounts>, StoreError> {
        let mut out: Vec<EntityCounts> = EntityType::ALL
            .iter()
            .map(|t| EntityCounts {
                entity_type: *t,
                active: 0,
                deleted: 0,
                hidden: 0,
            })
            .collect();
        let mut stmt = self
            .conn
            .prepare_cached("SELECT entity_type, state, n FROM record_counts")?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            let type_id: i64 = r.get("entity_type")?;
            let n = r.get::<_, i64>("n")?.max(0) as u64;
            let Some(c) = out.iter_mut().find(|c| c.entity_type.type_id() == type_id) else {
                continue;
            };
            match RecordState::from_code(r.get("state")?)? {
                RecordState::Active => c.active = n,
                RecordState::Deleted => c.deleted = n,
                RecordState::Hidden => c.hidden = n,
            }
        }
        Ok(out)
    }
}
