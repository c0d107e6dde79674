//! Reference data: users, stages and other status lists, pipelines, field metadata.

use crate::search::{reindex, responsible_for, Names};
use crate::{Store, StoreError};
use kartoteka_domain::{
    Category, EntityType, FieldMeta, FieldOption, FieldType, Stage, StageSemantics, User, UserKind,
};
use rusqlite::{params, Row};
use std::collections::HashMap;

fn kind_text(kind: UserKind) -> &'static str {
    match kind {
        UserKind::Person => "person",
        UserKind::Technical => "technical",
    }
}

fn semantics_text(s: StageSemantics) -> &'static str {
    match s {
        StageSemantics::Process => "process",
        StageSemantics::Success => "success",
        StageSemantics::Failure => "failure",
    }
}

fn user_from_row(r: &Row<'_>) -> rusqlite::Result<User> {
    let kind: String = r.get("kind")?;
    Ok(User {
        id: r.get("id")?,
        name: r.get("name")?,
        last_name: r.get("last_name")?,
        active: r.get("active")?,
        kind: if kind == "technical" {
            UserKind::Technical
        } else {
            UserKind::Person
        },
    })
}

fn stage_from_row(r: &Row<'_>) -> rusqlite::Result<Stage> {
    let semantics: String = r.get("semantics")?;
    Ok(Stage {
        list_id: r.get("list_id")?,
        status_id: r.get("status_id")?,
        name: r.get("name")?,
        sort: r.get("sort")?,
        semantics: StageSemantics::parse(Some(semantics.as_str())),
        color: r.get("color")?,
        category_id: r.get("category_id")?,
    })
}

impl Store {
    /// Replaces the known users with `users`. Technical users (robots, integrations) that
    /// `user.get` never returns are kept unless the list names them.
    pub fn replace_users(&mut self, users: &[User]) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        let before: HashMap<i64, (String, String)> = {
            let mut stmt = tx.prepare_cached("SELECT id, name, last_name FROM users")?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, (r.get(1)?, r.get(2)?))))?;
            rows.collect::<Result<_, _>>()?
        };
        tx.execute("DELETE FROM users WHERE kind = 'person'", [])?;
        {
            let mut put = tx.prepare_cached(
                "INSERT INTO users (id, name, last_name, active, kind) VALUES (?1, ?2, ?3, ?4, ?5) \
                 ON CONFLICT (id) DO UPDATE SET name = excluded.name, \
                 last_name = excluded.last_name, active = excluded.active, kind = excluded.kind",
            )?;
            for u in users {
                put.execute(params![
                    u.id,
                    u.name,
                    u.last_name,
                    u.active,
                    kind_text(u.kind)
                ])?;
            }
        }
        // A renamed (or newly known) responsible: their records search by the name.
        let renamed: Vec<i64> = users
            .iter()
            .filter(|u| {
                before
                    .get(&u.id)
                    .is_none_or(|(n, l)| *n != u.name || *l != u.last_name)
            })
            .map(|u| u.id)
            .collect();
        if !renamed.is_empty() {
            let mut names = Names::new(&tx)?;
            for id in renamed {
                let rids = responsible_for(&tx, id)?;
                reindex(&tx, &mut names, &rids)?;
            }
        }
        tx.commit()?;
        tracing::debug!(count = users.len(), "users replaced");
        Ok(())
    }

    /// Every known user, by id.
    pub fn users(&self) -> Result<Vec<User>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT id, name, last_name, active, kind FROM users ORDER BY id")?;
        let users = stmt
            .query_map([], user_from_row)?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(users)
    }

    /// Replaces all reference lists (`crm.status.list` entries).
    pub fn replace_stages(&mut self, stages: &[Stage]) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        tx.execute("DELETE FROM stages", [])?;
        {
            let mut put = tx.prepare_cached(
                "INSERT OR REPLACE INTO stages (list_id, status_id, name, sort, semantics, color, \
                 category_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?;
            for s in stages {
                put.execute(params![
                    s.list_id,
                    s.status_id,
                    s.name,
                    s.sort,
                    semantics_text(s.semantics),
                    s.color,
                    s.category_id
                ])?;
            }
        }
        tx.commit()?;
        tracing::debug!(count = stages.len(), "stages replaced");
        Ok(())
    }

    /// Every reference list entry, by list and sort order.
    pub fn stages(&self) -> Result<Vec<Stage>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT list_id, status_id, name, sort, semantics, color, category_id FROM stages \
             ORDER BY list_id, sort, status_id",
        )?;
        let stages = stmt
            .query_map([], stage_from_row)?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(stages)
    }

    /// Replaces the pipelines of one entity type.
    pub fn replace_categories(
        &mut self,
        entity_type: EntityType,
        categories: &[Category],
    ) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        tx.execute(
            "DELETE FROM categories WHERE entity_type = ?1",
            [entity_type.type_id()],
        )?;
        {
            let mut put = tx.prepare_cached(
                "INSERT OR REPLACE INTO categories (entity_type, id, name, sort, is_default) \
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?;
            for c in categories {
                put.execute(params![
                    entity_type.type_id(),
                    c.id,
                    c.name,
                    c.sort,
                    c.is_default
                ])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Every pipeline, by type and sort order.
    pub fn categories(&self) -> Result<Vec<Category>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT entity_type, id, name, sort, is_default FROM categories \
             ORDER BY entity_type, sort, id",
        )?;
        let cats = stmt
            .query_map([], |r| {
                Ok(Category {
                    id: r.get("id")?,
                    entity_type_id: r.get("entity_type")?,
                    name: r.get("name")?,
                    sort: r.get("sort")?,
                    is_default: r.get("is_default")?,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(cats)
    }

    /// Replaces the field metadata of one entity type, keeping the given order.
    pub fn replace_field_meta(
        &mut self,
        entity_type: EntityType,
        fields: &[FieldMeta],
    ) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        tx.execute(
            "DELETE FROM field_meta WHERE entity_type = ?1",
            [entity_type.type_id()],
        )?;
        {
            let mut put = tx.prepare_cached(
                "INSERT OR REPLACE INTO field_meta (entity_type, name, position, field_type, label, \
                 is_required, is_read_only, is_immutable, is_multiple, is_custom, status_type, \
                 options) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
            )?;
            for (position, f) in fields.iter().enumerate() {
                put.execute(params![
                    entity_type.type_id(),
                    f.name,
                    position as i64,
                    f.field_type.as_str(),
                    f.label,
                    f.is_required,
                    f.is_read_only,
                    f.is_immutable,
                    f.is_multiple,
                    f.is_custom,
                    f.status_type,
                    serde_json::to_string(&f.options)?
                ])?;
            }
        }
        tx.commit()?;
        tracing::debug!(%entity_type, count = fields.len(), "field metadata replaced");
        Ok(())
    }

    /// The field metadata of one entity type, in the portal's order.
    pub fn field_meta(&self, entity_type: EntityType) -> Result<Vec<FieldMeta>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT name, field_type, label, is_required, is_read_only, is_immutable, is_multiple, \
             is_custom, status_type, options FROM field_meta WHERE entity_type = ?1 \
             ORDER BY position",
        )?;
        let mut rows = stmt.query([entity_type.type_id()])?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            let field_type: String = r.get("field_type")?;
            let options: String = r.get("options")?;
            out.push(FieldMeta {
                name: r.get("name")?,
                field_type: FieldType::parse(&field_type),
                label: r.get("label")?,
                is_required: r.get("is_required")?,
                is_read_only: r.get("is_read_only")?,
                is_immutable: r.get("is_immutable")?,
                is_multiple: r.get("is_multiple")?,
                is_custom: r.get("is_custom")?,
                status_type: r.get("status_type")?,
                options: serde_json::from_str::<Vec<FieldOption>>(&options)?,
            });
        }
        Ok(out)
    }
}
