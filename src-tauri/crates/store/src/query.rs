//! Lists for the UI: a typed filter turned into SQL in one function (bound parameters only),
//! sorted, with keyset paging and an exact total.

use crate::migrations::UNSENT_STATES_SQL;
use crate::promote::{rid_of, rid_range};
use crate::search::{search_query, SearchQuery};
use crate::{RecordState, Store, StoreError};
use kartoteka_domain::{EntityType, RecordKey};
use rusqlite::types::Value as SqlValue;
use rusqlite::{params, params_from_iter, OptionalExtension, Row};
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
    /// Instant search over what a row shows: title, name, company, responsible, phones (any
    /// form, domestic too), e-mails. Words of 3+ characters are found anywhere, of 2 at a word's
    /// start; one character filters nothing yet; no letter or digit at all finds nothing.
    /// Case-insensitive, Cyrillic included.
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

    /// The search box's text as the lists use it: trimmed, and no search at all when blank.
    pub fn set_search(&mut self, text: Option<&str>) {
        self.search = text
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string);
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
    plan: SearchPlan,
) -> Result<(Vec<String>, Vec<SqlValue>), StoreError> {
    let mut conds: Vec<String> = Vec::new();
    let mut params: Vec<SqlValue> = Vec::new();
    let placeholders = |n: usize| vec!["?"; n].join(", ");
    let search = searched(f);
    let driven = plan == SearchPlan::Driven && matches!(search, Some(SearchQuery::Match(_)));

    if driven {
        // The index's rowid range is the type: no condition the planner could walk instead.
    } else if sort == SortField::Id {
        let (lo, hi) = rid_range(f.entity_type);
        conds.push("rid BETWEEN ? AND ?".into());
        params.push(lo.into());
        params.push(hi.into());
    } else {
        conds.push("entity_type = ?".into());
        params.push(f.entity_type.type_id().into());
    }
    match f.view {
        RecordView::Active => conds.push(format!("state = {}", RecordState::Active.code())),
        // SQLite uses the partial index `records_not_active` only when the query repeats its
        // condition word for word.
        RecordView::RecycleBin => conds.push(format!(
            "state = {} AND state <> 0",
            RecordState::Deleted.code()
        )),
    }
    match search {
        None | Some(SearchQuery::NotYet) => {}
        Some(SearchQuery::Nothing) => conds.push("0".into()),
        Some(SearchQuery::Match(q)) => {
            let (lo, hi) = rid_range(f.entity_type);
            conds.push(
                "rid IN (SELECT rowid FROM records_search WHERE records_search MATCH ? \
                 AND rowid BETWEEN ? AND ?)"
                    .into(),
            );
            params.push(q.into());
            params.push(lo.into());
            params.push(hi.into());
        }
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

/// How a searched list finds its rows (`list_records` chooses by the number of matches).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SearchPlan {
    /// The matches as a set the planner may use as it likes (other filters decide).
    Generic,
    /// Few matches: read them from the index, sort them (no other access path offered).
    Driven,
}

/// Reading a match and sorting it costs about this many times what stepping one entry of a sort
/// index costs (measured with `bench pull`): few matches are sorted, many are met by walking the
/// sort index (limit × records / matches entries) and checking each against the match list.
const SORT_COST: u64 = 13;

/// A type's records in the recycle bin (state 1 = `RecordState::Deleted`). SQLite uses the
/// partial index `records_not_active` only when the query repeats its condition word for word.
const DELETED_OF_TYPE_SQL: &str =
    "SELECT rid FROM records WHERE entity_type = ?1 AND state = 1 AND state <> 0";

/// The columns of a list row.
fn row_columns() -> String {
    format!(
        "entity_type, id, title, title_sort, state, stage_id, category_id, \
         assigned_by_id, opportunity, opportunity_minor, currency_id, company_id, phone, email, \
         created_time, updated_time, \
         EXISTS (SELECT 1 FROM outbox o WHERE o.entity_type = records.entity_type \
           AND o.record_id = records.id AND o.state IN {UNSENT_STATES_SQL}) AS has_pending_edits"
    )
}

/// Where the next page starts if this row is the last one shown.
fn cursor_of(r: &Row<'_>, row: &RecordRow, sort: SortKey) -> Result<Cursor, StoreError> {
    Ok(Cursor {
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
    })
}

/// The keyset condition after `after` (and its parameters), and the ORDER BY, of a sort.
fn keyset_sql(
    entity_type: EntityType,
    sort: SortKey,
    after: Option<&Cursor>,
) -> Result<(Option<String>, Vec<SqlValue>, String), StoreError> {
    let dir = if sort.descending { "DESC" } else { "ASC" };
    let cmp = if sort.descending { "<" } else { ">" };
    let order = match sort.column() {
        Some(col) => format!("{col} {dir}, rid {dir}"),
        None => format!("rid {dir}"),
    };
    let Some(after) = after else {
        return Ok((None, Vec::new(), order));
    };
    if after.sort != sort {
        return Err(StoreError::BadCursor);
    }
    let after_rid = rid_of(RecordKey {
        entity_type,
        id: after.id,
    })?;
    let mut params: Vec<SqlValue> = Vec::new();
    let cond = match (sort.column(), sort.field) {
        (None, _) => format!("rid {cmp} ?"),
        (Some(col), SortField::Title) => {
            params.push(after.text.clone().ok_or(StoreError::BadCursor)?.into());
            format!("({col}, rid) {cmp} (?, ?)")
        }
        (Some(col), _) => {
            params.push(after.number.ok_or(StoreError::BadCursor)?.into());
            format!("({col}, rid) {cmp} (?, ?)")
        }
    };
    params.push(after_rid.into());
    Ok((Some(cond), params, order))
}

/// The statement that walks a type's records in a sort order, from the sort's index alone.
fn walk_sql(
    entity_type: EntityType,
    sort: SortKey,
    after: Option<&Cursor>,
) -> Result<(String, Vec<SqlValue>), StoreError> {
    let (keyset, keyset_params, order) = keyset_sql(entity_type, sort, after)?;
    let mut params: Vec<SqlValue> = Vec::new();
    let mut conds = Vec::new();
    if sort.field == SortField::Id {
        let (lo, hi) = rid_range(entity_type);
        conds.push("rid BETWEEN ? AND ?".to_string());
        params.push(lo.into());
        params.push(hi.into());
    } else {
        conds.push("entity_type = ?".to_string());
        params.push(entity_type.type_id().into());
    }
    conds.extend(keyset);
    params.extend(keyset_params);
    Ok((
        format!(
            "SELECT rid FROM records WHERE {} ORDER BY {order}",
            conds.join(" AND ")
        ),
        params,
    ))
}

/// True when only the type and view are set: the total then comes from the counters.
fn is_unfiltered(f: &RecordFilter) -> bool {
    searched(f).is_none() && only_search(f)
}

/// The trigram query when the filter searches (and `Nothing` is not a query).
fn searched(f: &RecordFilter) -> Option<SearchQuery> {
    f.search
        .as_deref()
        .map(search_query)
        .filter(|q| *q != SearchQuery::NotYet)
}

/// True when nothing but the type, the view and the search is set.
fn only_search(f: &RecordFilter) -> bool {
    f.stage_ids.is_empty()
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
        let limit = page.limit.clamp(1, MAX_LIMIT);
        // A search alone: the index lists its matches, which give the total and decide the plan.
        let mut search_total = None;
        let mut plan = SearchPlan::Generic;
        if let (Some(SearchQuery::Match(q)), true, RecordView::Active) =
            (searched(filter), only_search(filter), filter.view)
        {
            let matches = self.search_matches(filter.entity_type, &q)?;
            let deleted = self.deleted_among(filter.entity_type, &matches)?;
            let active = (matches.len() - deleted) as u64;
            let records = self.counted(filter)?;
            let m = matches.len() as u64;
            if m.saturating_mul(m).saturating_mul(SORT_COST) > u64::from(limit) * records.max(1) {
                return self.walk_matches(filter.entity_type, &matches, page, limit, active);
            }
            search_total = Some(active);
            plan = SearchPlan::Driven;
        }
        let (filter_conds, filter_params) = filter_sql(filter, page.sort.field, plan)?;
        let mut conds = filter_conds.clone();
        let mut params = filter_params.clone();
        let sort = page.sort;
        let (keyset, keyset_params, order) =
            keyset_sql(filter.entity_type, sort, page.after.as_ref())?;
        conds.extend(keyset);
        params.extend(keyset_params);
        let sql = format!(
            "SELECT {} FROM records WHERE {} ORDER BY {order} LIMIT {}",
            row_columns(),
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
            let cursor = cursor_of(r, &row, sort)?;
            out.push((row, cursor));
        }
        let total = if let Some(n) = search_total {
            Some(n)
        } else if is_unfiltered(filter) {
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

    /// The rows (active and deleted) of a type the search index matches, in rid order.
    fn search_matches(&self, entity_type: EntityType, q: &str) -> Result<Vec<i64>, StoreError> {
        let (lo, hi) = rid_range(entity_type);
        let mut stmt = self.conn.prepare_cached(
            "SELECT rowid FROM records_search WHERE records_search MATCH ?1 \
             AND rowid BETWEEN ?2 AND ?3",
        )?;
        let rows = stmt.query_map(params![q, lo, hi], |r| r.get::<_, i64>(0))?;
        let mut out: Vec<i64> = rows.collect::<Result<_, _>>()?;
        out.sort_unstable();
        Ok(out)
    }

    /// How many of `matches` are in the recycle bin (few: read from `records_not_active`).
    fn deleted_among(&self, entity_type: EntityType, matches: &[i64]) -> Result<usize, StoreError> {
        let mut stmt = self.conn.prepare_cached(DELETED_OF_TYPE_SQL)?;
        let mut rows = stmt.query(params![entity_type.type_id()])?;
        let mut n = 0;
        while let Some(r) = rows.next()? {
            if matches.binary_search(&r.get(0)?).is_ok() {
                n += 1;
            }
        }
        Ok(n)
    }

    /// A page of many matches: the sort's index is walked (index only) and each entry looked up
    /// in the sorted match list, until the page is full; only those rows are read.
    fn walk_matches(
        &self,
        entity_type: EntityType,
        matches: &[i64],
        page: &Page,
        limit: u32,
        total: u64,
    ) -> Result<RecordPage, StoreError> {
        let sort = page.sort;
        let (sql, params) = walk_sql(entity_type, sort, page.after.as_ref())?;
        let mut walk = self.conn.prepare_cached(&sql)?;
        let mut read = self.conn.prepare_cached(&format!(
            "SELECT {} FROM records WHERE rid = ?1 AND state = ?2",
            row_columns()
        ))?;
        let mut entries = walk.query(params_from_iter(params.iter()))?;
        let mut out: Vec<(RecordRow, Cursor)> = Vec::with_capacity(limit as usize);
        let mut next = None;
        while let Some(e) = entries.next()? {
            let rid: i64 = e.get(0)?;
            if matches.binary_search(&rid).is_err() {
                continue;
            }
            let mut rows = read.query(params![rid, RecordState::Active.code()])?;
            let Some(r) = rows.next()? else {
                continue; // in the recycle bin
            };
            if out.len() == limit as usize {
                next = out.last().map(|last| last.1.clone());
                break;
            }
            let row = row_from(r)?;
            let cursor = cursor_of(r, &row, sort)?;
            out.push((row, cursor));
        }
        Ok(RecordPage {
            rows: out.into_iter().map(|(r, _)| r).collect(),
            next,
            total: Some(total),
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
    explain_plan(store, filter, sort, SearchPlan::Generic)
}

#[cfg(test)]
fn explain_plan(store: &Store, filter: &RecordFilter, sort: SortKey, plan: SearchPlan) -> String {
    let (conds, params) = filter_sql(filter, sort.field, plan).expect("filter");
    let dir = if sort.descending { "DESC" } else { "ASC" };
    let order = match sort.column() {
        Some(col) => format!("{col} {dir}, rid {dir}"),
        None => format!("rid {dir}"),
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
    fn amount_and_created_sorts_walk_their_indexes_without_a_sort_step() {
        // Issue 10 §2: sorting a million deals by amount was a full sort on every page.
        let f = RecordFilter::new(EntityType::Deal);
        for (field, index) in [
            (SortField::Opportunity, "records_by_amount"),
            (SortField::CreatedTime, "records_by_created"),
        ] {
            for descending in [true, false] {
                let store = Store::open_in_memory().expect("store");
                let p = explain(&store, &f, SortKey { field, descending });
                assert!(
                    p.contains(index) && !p.contains("TEMP B-TREE"),
                    "{field:?} {descending}: {p}"
                );
            }
        }
    }

    #[test]
    fn many_search_matches_walk_a_sort_index_alone_and_few_are_read_from_the_search_index() {
        let store = Store::open_in_memory().expect("store");
        for (field, index) in [
            (SortField::UpdatedTime, "records_by_updated"),
            (SortField::Title, "records_by_title"),
            (SortField::Opportunity, "records_by_amount"),
            (SortField::CreatedTime, "records_by_created"),
        ] {
            let sort = SortKey {
                field,
                descending: true,
            };
            let (sql, params) = walk_sql(EntityType::Contact, sort, None).expect("walk");
            let mut stmt = store
                .conn
                .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
                .expect("prepare");
            let p = stmt
                .query_map(params_from_iter(params.iter()), |r| r.get::<_, String>(3))
                .expect("plan")
                .map(|r| r.expect("row"))
                .collect::<Vec<_>>()
                .join(" | ");
            assert!(
                p.contains(&format!("COVERING INDEX {index}")) && !p.contains("TEMP B-TREE"),
                "{field:?}: the walk reads only the index, in order: {p}"
            );
        }
        let mut f = RecordFilter::new(EntityType::Contact);
        f.search = Some("иван".into());
        let p = explain_plan(&store, &f, SortKey::default(), SearchPlan::Driven);
        assert!(
            !p.contains("records_by_updated") && p.contains("records_search"),
            "driven plan reads the matches first: {p}"
        );
    }

    #[test]
    fn a_search_total_reads_the_recycle_bin_from_its_partial_index() {
        // With a bound state the planner cannot use the partial index and scans the whole type.
        let store = Store::open_in_memory().expect("store");
        let p: String = store
            .conn
            .query_row(
                &format!("EXPLAIN QUERY PLAN {}", DELETED_OF_TYPE_SQL),
                [2],
                |r| r.get(3),
            )
            .expect("plan");
        assert!(p.contains("records_not_active"), "{p}");
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
