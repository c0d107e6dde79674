//! Lists for the UI: a typed filter turned into SQL in one function (bound parameters only),
//! sorted, with keyset paging and an exact total.

use crate::migrations::UNSENT_STATES_SQL;
use crate::promote::{rid_of, rid_range, search_query};
use crate::{RecordState, Store, StoreError};
use kartoteka_domain::{EntityType, RecordKey};
use rusqlite::types::Value as SqlValue;
use rusqlite::{params_from_iter, OptionalExtension, Row};
use serde::{Deserialize, Serialize};

/// Which records a list shows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub enum RecordView {
    #[default]
    Active,
    /// Records deleted on the portal, kept with their last version.
    RecycleBin,
}

/// What a list shows. Empty lists and `None` mean "no condition".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct RecordFilter {
    pub entity_type: EntityType,
    #[serde(default)]
    pub view: RecordView,
    /// Instant search: every word is a prefix of a word of the title, name, phone or e-mail;
    /// case-insensitive, Cyrillic included.
    #[serde(default)]
    pub search: Option<String>,
    #[serde(default)]
    pub stage_ids: Vec<String>,
    #[serde(default)]
    #[ts(type = "number | null")]
    pub category_id: Option<i64>,
    /// Responsible users.
    #[serde(default)]
    #[ts(type = "Array<number>")]
    pub assigned_by_ids: Vec<i64>,
    /// Records linked to this one, in either direction (a contact's deals, a deal's contacts).
    #[serde(default)]
    pub linked_to: Option<RecordKey>,
    /// Last change at or after / before (UTC unix seconds).
    #[serde(default)]
    #[ts(type = "number | null")]
    pub updated_from: Option<i64>,
    #[serde(default)]
    #[ts(type = "number | null")]
    pub updated_before: Option<i64>,
}

impl RecordFilter {
    /// Every active record of a type.
    pub fn new(entity_type: EntityType) -> Self {
        RecordFilter {
            entity_type,
            view: RecordView::Active,
            search: None,
            stage_ids: Vec::new(),
            category_id: None,
            assigned_by_ids: Vec::new(),
            linked_to: None,
            updated_from: None,
            updated_before: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub enum SortField {
    Title,
    UpdatedTime,
    Opportunity,
    Id,
    CreatedTime,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct SortKey {
    pub field: SortField,
    pub descending: bool,
}

impl Default for SortKey {
    /// Most recently changed first.
    fn default() -> Self {
        SortKey {
            field: SortField::UpdatedTime,
            descending: true,
        }
    }
}

impl SortKey {
    /// The sort column; `None` for id order (the row key itself).
    fn column(self) -> Option<&'static str> {
        match self.field {
            SortField::Title => Some("title_sort"),
            SortField::UpdatedTime => Some("updated_time"),
            SortField::Opportunity => Some("opportunity_minor"),
            SortField::CreatedTime => Some("created_time"),
            SortField::Id => None,
        }
    }
}

/// Where the next page starts: the sort value and id of the last row shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct Cursor {
    pub sort: SortKey,
    pub text: Option<String>,
    #[ts(type = "number | null")]
    pub number: Option<i64>,
    #[ts(type = "number")]
    pub id: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct Page {
    #[serde(default)]
    pub sort: SortKey,
    #[serde(default)]
    pub after: Option<Cursor>,
    pub limit: u32,
}

/// One row of a list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct RecordRow {
    pub entity_type: EntityType,
    #[ts(type = "number")]
    pub id: i64,
    pub title: String,
    pub state: RecordState,
    pub stage_id: Option<String>,
    #[ts(type = "number | null")]
    pub category_id: Option<i64>,
    #[ts(type = "number | null")]
    pub assigned_by_id: Option<i64>,
    /// Decimal text, as the portal sent it.
    pub opportunity: Option<String>,
    pub currency_id: Option<String>,
    #[ts(type = "number | null")]
    pub company_id: Option<i64>,
    pub phone: Option<String>,
    pub email: Option<String>,
    /// UTC unix seconds.
    #[ts(type = "number")]
    pub created_time: i64,
    #[ts(type = "number")]
    pub updated_time: i64,
    pub has_pending_edits: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct RecordPage {
    pub rows: Vec<RecordRow>,
    /// `None` on the last page.
    pub next: Option<Cursor>,
    /// How many records the filter matches (exact). `None` on a later page of a filtered list:
    /// counting costs a walk of every match, so only the first page counts (the UI keeps it);
    /// an unfiltered list reads its counter on every page (microseconds).
    #[ts(type = "number | null")]
    pub total: Option<u64>,
}

/// Largest page the store returns.
const MAX_LIMIT: u32 = 1000;

/// The filter as SQL conditions (ANDed) and their bound parameters. The one place where a
/// filter becomes SQL. The type is a range of the row key when the list is in id order (the
/// table's own order), else an equality that leads the type's indexes.
fn filter_sql(
    f: &RecordFilter,
    sort: SortField,
) -> Result<(Vec<String>, Vec<SqlValue>), StoreError> {
    let mut conds: Vec<String> = Vec::new();
    let mut params: Vec<SqlValue> = Vec::new();
    let placeholders = |n: usize| vec!["?"; n].join(", ");

    if sort == SortField::Id {
        let (lo, hi) = rid_range(f.entity_type);
        conds.push("rid BETWEEN ? AND ?".into());
        params.push(lo.into());
        params.push(hi.into());
    } else {
        conds.push("entity_type = ?".into());
        params.push(f.entity_type.type_id().into());
    }
    conds.push("state = ?".into());
    params.push(
        match f.view {
            RecordView::Active => RecordState::Active.code(),
            RecordView::RecycleBin => RecordState::Deleted.code(),
        }
        .into(),
    );
    if let Some(q) = f.search.as_deref().and_then(search_query) {
        conds.push("rid IN (SELECT rowid FROM records_search WHERE records_search MATCH ?)".into());
        params.push(q.into());
    }
    if !f.stage_ids.is_empty() {
        conds.push(format!("stage_id IN ({})", placeholders(f.stage_ids.len())));
        params.extend(f.stage_ids.iter().map(|s| SqlValue::from(s.clone())));
    }
    if let Some(c) = f.category_id {
        conds.push("category_id = ?".into());
        params.push(c.into());
    }
    if !f.assigned_by_ids.is_empty() {
        conds.push(format!(
            "assigned_by_id IN ({})",
            placeholders(f.assigned_by_ids.len())
        ));
        params.extend(f.assigned_by_ids.iter().map(|id| SqlValue::from(*id)));
    }
    if let Some(key) = f.linked_to {
        let target = rid_of(key)?;
        conds.push(
            "(rid IN (SELECT from_rid FROM links WHERE to_rid = ?) \
             OR rid IN (SELECT to_rid FROM links WHERE from_rid = ?))"
                .into(),
        );
        params.push(target.into());
        params.push(target.into());
    }
    if let Some(t) = f.updated_from {
        conds.push("updated_time >= ?".into());
        params.push(t.into());
    }
    if let Some(t) = f.updated_before {
        conds.push("updated_time < ?".into());
        params.push(t.into());
    }
    Ok((conds, params))
}

/// True when only the type and view are set: the total then comes from the counters.
fn is_unfiltered(f: &RecordFilter) -> bool {
    f.search.as_deref().and_then(search_query).is_none()
        && f.stage_ids.is_empty()
        && f.category_id.is_none()
        && f.assigned_by_ids.is_empty()
        && f.linked_to.is_none()
        && f.updated_from.is_none()
        && f.updated_before.is_none()
}

fn row_from(r: &Row<'_>) -> Result<RecordRow, StoreError> {
    let type_id: i64 = r.get("entity_type")?;
    let entity_type = EntityType::from_type_id(type_id)
        .ok_or_else(|| StoreError::corrupt("records.entity_type", type_id.to_string()))?;
    Ok(RecordRow {
        entity_type,
        id: r.get("id")?,
        title: r.get("title")?,
        state: RecordState::from_code(r.get("state")?)?,
        stage_id: r.get("stage_id")?,
        category_id: r.get("category_id")?,
        assigned_by_id: r.get("assigned_by_id")?,
        opportunity: r.get("opportunity")?,
        currency_id: r.get("currency_id")?,
        company_id: r.get("company_id")?,
        phone: r.get("phone")?,
        email: r.get("email")?,
        created_time: r.get("created_time")?,
        updated_time: r.get("updated_time")?,
        has_pending_edits: r.get("has_pending_edits")?,
    })
}

impl Store {
    /// One page of a list: rows matching `filter`, in `page.sort` order, after `page.after`.
    pub fn list_records(
        &self,
        filter: &RecordFilter,
        page: &Page,
    ) -> Result<RecordPage, StoreError> {
        let _span =
            tracing::debug_span!("store_list_records", entity_type = %filter.entity_type).entered();
        let (filter_conds, filter_params) = filter_sql(filter, page.sort.field)?;
        let mut conds = filter_conds.clone();
        let mut params = filter_params.clone();
        let sort = page.sort;
        let dir = if sort.descending { "DESC" } else { "ASC" };
        let cmp = if sort.descending { "<" } else { ">" };
        let order = match sort.column() {
            Some(col) => format!("{col} {dir}, rid {dir}"),
            None => format!("rid {dir}"),
        };
        if let Some(after) = &page.after {
            if after.sort != sort {
                return Err(StoreError::BadCursor);
            }
            let after_rid = rid_of(RecordKey {
                entity_type: filter.entity_type,
                id: after.id,
            })?;
            match (sort.column(), sort.field) {
                (None, _) => conds.push(format!("rid {cmp} ?")),
                (Some(col), SortField::Title) => {
                    conds.push(format!("({col}, rid) {cmp} (?, ?)"));
                    params.push(after.text.clone().ok_or(StoreError::BadCursor)?.into());
                }
                (Some(col), _) => {
                    conds.push(format!("({col}, rid) {cmp} (?, ?)"));
                    params.push(after.number.ok_or(StoreError::BadCursor)?.into());
                }
            }
            params.push(after_rid.into());
        }
        let limit = page.limit.clamp(1, MAX_LIMIT);
        let sql = format!(
            "SELECT entity_type, id, title, title_sort, state, stage_id, category_id, \
             assigned_by_id, opportunity, opportunity_minor, currency_id, company_id, phone, email, \
             created_time, updated_time, \
             EXISTS (SELECT 1 FROM outbox o WHERE o.entity_type = records.entity_type \
               AND o.record_id = records.id AND o.state IN {UNSENT_STATES_SQL}) AS has_pending_edits \
             FROM records WHERE {} ORDER BY {order} LIMIT {}",
            conds.join(" AND "),
            limit + 1
        );
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let mut rows = stmt.query(params_from_iter(params.iter()))?;
        let mut out = Vec::with_capacity(limit as usize);
        let mut next = None;
        while let Some(r) = rows.next()? {
            if out.len() == limit as usize {
                next = out.last().map(|last: &(RecordRow, Cursor)| last.1.clone());
                break;
            }
            let row = row_from(r)?;
            let cursor = Cursor {
                sort,
                text: (sort.field == SortField::Title)
                    .then(|| r.get("title_sort"))
                    .transpose()?,
                number: match sort.field {
                    SortField::UpdatedTime => Some(row.updated_time),
                    SortField::CreatedTime => Some(row.created_time),
                    SortField::Opportunity => Some(r.get("opportunity_minor")?),
                    SortField::Title | SortField::Id => None,
                },
                id: row.id,
            };
            out.push((row, cursor));
        }
        let total = if is_unfiltered(filter) {
            Some(self.counted(filter)?)
        } else if page.after.is_some() {
            None
        } else {
            let sql = format!(
                "SELECT COUNT(*) FROM records WHERE {}",
                filter_conds.join(" AND ")
            );
            let mut stmt = self.conn.prepare_cached(&sql)?;
            let n: i64 = stmt.query_row(params_from_iter(filter_params.iter()), |r| r.get(0))?;
            Some(n as u64)
        };
        Ok(RecordPage {
            rows: out.into_iter().map(|(r, _)| r).collect(),
            next,
            total,
        })
    }

    fn counted(&self, filter: &RecordFilter) -> Result<u64, StoreError> {
        let state = match filter.view {
            RecordView::Active => RecordState::Active,
            RecordView::RecycleBin => RecordState::Deleted,
        };
        let mut stmt = self
            .conn
            .prepare_cached("SELECT n FROM record_counts WHERE entity_type = ?1 AND state = ?2")?;
        let n: Option<i64> = stmt
            .query_row([filter.entity_type.type_id(), state.code()], |r| r.get(0))
            .optional()?;
        Ok(n.unwrap_or(0).max(0) as u64)
    }
}

#[cfg(test)]
pub(crate) fn explain(store: &Store, filter: &RecordFilter, sort: SortKey) -> String {
    let (conds, params) = filter_sql(filter, sort.field).expect("filter");
    let order = match sort.column() {
        Some(col) => format!("{col} DESC, rid DESC"),
        None => "rid DESC".into(),
    };
    let sql = format!(
        "EXPLAIN QUERY PLAN SELECT id FROM records WHERE {} ORDER BY {order} LIMIT 51",
        conds.join(" AND ")
    );
    let mut stmt = store.conn.prepare(&sql).expect("prepare");
    let rows = stmt
        .query_map(params_from_iter(params.iter()), |r| r.get::<_, String>(3))
        .expect("plan");
    rows.map(|r| r.expect("row"))
        .collect::<Vec<_>>()
        .join(" | ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(filter: &RecordFilter, field: SortField) -> String {
        let store = Store::open_in_memory().expect("store");
        explain(
            &store,
            filter,
            SortKey {
                field,
                descending: true,
            },
        )
    }

    #[test]
    fn default_lists_are_served_by_an_index_in_sort_order_without_a_sort_step() {
        let f = RecordFilter::new(EntityType::Deal);
        for (field, index) in [
            (SortField::UpdatedTime, "records_by_updated"),
            (SortField::Title, "records_by_title"),
        ] {
            let p = plan(&f, field);
            assert!(
                p.contains(index) && !p.contains("TEMP B-TREE"),
                "{field:?}: {p}"
            );
        }
        let p = plan(&f, SortField::Id);
        assert!(!p.contains("TEMP B-TREE"), "id order is the key order: {p}");
    }

    #[test]
    fn stage_and_responsible_filters_use_their_indexes() {
        let mut f = RecordFilter::new(EntityType::Deal);
        f.stage_ids = vec!["NEW".into()];
        let p = plan(&f, SortField::UpdatedTime);
        assert!(p.contains("records_by_stage"), "{p}");
        let mut f = RecordFilter::new(EntityType::Deal);
        f.assigned_by_ids = vec![4];
        let p = plan(&f, SortField::UpdatedTime);
        assert!(p.contains("records_by_assignee"), "{p}");
    }
}
