//! The outbox of unsent local edits. This issue provides the table, the queries the pull needs
//! (which fields have unsent edits) and the minimal local edit that fills it; upload, retries and
//! conflicts arrive with the outbox issue.

use crate::migrations::UNSENT_STATES_SQL;
use crate::promote::{hash64, promote, rid_of};
use crate::pull::Statements;
use crate::search::{company_dependents, reindex, search_body, Names};
use crate::{Store, StoreError};
use kartoteka_domain::{EntityType, MultiField, Record, RecordKey};
use rusqlite::{params, OptionalExtension};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// One field a person changed on this device. `field` is the portal's field name, or `fm` for
/// the multi-fields as a whole (then `value` is the new array).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LocalEdit {
    pub field: String,
    pub value: Value,
}

impl Store {
    /// The fields of a record that have unsent edits, in edit order, without repeats.
    pub fn pending_fields(&self, key: RecordKey) -> Result<Vec<String>, StoreError> {
        let sql = format!(
            "SELECT field FROM outbox WHERE entity_type = ?1 AND record_id = ?2 \
             AND state IN {UNSENT_STATES_SQL} ORDER BY id"
        );
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let mut out: Vec<String> = Vec::new();
        let mut rows = stmt.query(params![key.entity_type.type_id(), key.id])?;
        while let Some(row) = rows.next()? {
            let field: String = row.get("field")?;
            if !out.contains(&field) {
                out.push(field);
            }
        }
        Ok(out)
    }

    /// Whether a record has any unsent edit.
    pub fn has_pending_edits(&self, key: RecordKey) -> Result<bool, StoreError> {
        let sql = format!(
            "SELECT EXISTS (SELECT 1 FROM outbox WHERE entity_type = ?1 AND record_id = ?2 \
             AND state IN {UNSENT_STATES_SQL})"
        );
        let mut stmt = self.conn.prepare_cached(&sql)?;
        Ok(stmt.query_row(params![key.entity_type.type_id(), key.id], |r| r.get(0))?)
    }

    /// Records an offline edit of an existing record in one transaction: the server version is
    /// kept in the mirror, the local row gets the new values, and each field gets an outbox entry
    /// with the server value it was changed from. Returns the outbox ids. (The history event joins
    /// this transaction in the history issue.)
    pub fn apply_local_edit(
        &mut self,
        key: RecordKey,
        edits: &[LocalEdit],
        created_at: i64,
    ) -> Result<Vec<i64>, StoreError> {
        let _span = tracing::info_span!("store_local_edit", entity_type = %key.entity_type, id = key.id, fields = edits.len()).entered();
        let rid = rid_of(key)?;
        let tx = self.conn.transaction()?;
        let mut ids = Vec::with_capacity(edits.len());
        {
            let mut st = Statements::new(&tx)?;
            let current = st
                .current
                .query_row([rid], |r| {
                    Ok((r.get::<_, i64>("server_hash")?, r.get::<_, i64>("state")?))
                })
                .optional()?;
            let Some((server_hash, 0)) = current else {
                return Err(StoreError::InvalidKey {
                    entity_type: key.entity_type,
                    id: key.id,
                    reason: "no active record with this key",
                });
            };
            // The mirror keeps the server version from the first unsent edit on.
            tx.prepare_cached(
                "INSERT OR IGNORE INTO server_records (rid, fields, multi_fields, updated_time) \
                 SELECT f.rid, f.fields, f.multi_fields, r.updated_time \
                 FROM record_fields f JOIN records r ON r.rid = f.rid WHERE f.rid = ?1",
            )?
            .execute([rid])?;
            let (server_fields, server_multi): (String, String) = tx
                .prepare_cached("SELECT fields, multi_fields FROM server_records WHERE rid = ?1")?
                .query_row([rid], |r| Ok((r.get("fields")?, r.get("multi_fields")?)))?;
            let server_fields: Map<String, Value> = serde_json::from_str(&server_fields)?;
            let (local_fields, local_multi) = st.local.query_row([rid], |r| {
                Ok((
                    r.get::<_, String>("fields")?,
                    r.get::<_, String>("multi_fields")?,
                ))
            })?;
            let mut local = Record {
                key,
                updated_time: None,
                fields: serde_json::from_str(&local_fields)?,
                multi_fields: serde_json::from_str(&local_multi)?,
            };
            let mut insert = tx.prepare_cached(
                "INSERT INTO outbox (entity_type, record_id, field, base_value, new_value, \
                 created_at, state) VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'pending')",
            )?;
            for edit in edits {
                let base = if edit.field == "fm" {
                    server_multi.clone()
                } else {
                    serde_json::to_string(server_fields.get(&edit.field).unwrap_or(&Value::Null))?
                };
                if edit.field == "fm" {
                    local.multi_fields =
                        serde_json::from_value::<Vec<MultiField>>(edit.value.clone())?;
                } else {
                    local.fields.insert(edit.field.clone(), edit.value.clone());
                }
                insert.execute(params![
                    key.entity_type.type_id(),
                    key.id,
                    edit.field,
                    base,
                    serde_json::to_string(&edit.value)?,
                    created_at
                ])?;
                ids.push(tx.last_insert_rowid());
            }
            let promoted = promote(&local);
            let mut names = Names::new(&tx)?;
            let body = search_body(&local, &promoted, &mut names)?;
            let search_hash = hash64(&[body.as_bytes()]);
            st.write_row(true, rid, key, &promoted, server_hash, search_hash)?;
            st.put_fields.execute(params![
                rid,
                serde_json::to_string(&local.fields)?,
                serde_json::to_string(&local.multi_fields)?
            ])?;
            st.unindex.execute([rid])?;
            st.index.execute(params![rid, body])?;
            st.write_links(rid, &local, true)?;
            if key.entity_type == EntityType::Company {
                // A renamed company: the rows that show its name search by the new one.
                let dependents = company_dependents(&tx, key.id)?;
                reindex(&tx, &mut names, &dependents)?;
            }
        }
        tx.commit()?;
        Ok(ids)
    }
}
