//! Record lists, cards and reference lists, read from the local replica (kartoteka-store).
//! Everything here works offline: no call goes to the portal.

use crate::api::card::{
    card_fields, card_link_fields, card_links, category_of, name_crm_references, Names,
};
use crate::api::Core;
use chrono::{DateTime, Utc};
use kartoteka_domain::ipc::{
    ErrorCode, IpcError, RecordCard, RecordGetRequest, RecordListRow, RecordSortField,
    RecordsListRequest, RecordsPage, ReferenceListRequest, ReferenceLists,
};
use kartoteka_domain::{EntityType, RecordKey};
use kartoteka_store::{
    Cursor, Page, RecordFilter, RecordState, SortField, SortKey, Store, StoreError,
};

/// The largest page the UI may ask for.
const MAX_PAGE: u32 = 500;

pub fn from_store(error: &StoreError) -> IpcError {
    match error {
        // The UI explains it in the user's language with the versions; the file is untouched.
        StoreError::TooNew { found, supported } => {
            IpcError::new(ErrorCode::DatabaseTooNew, error.to_string())
                .with_param("found", found)
                .with_param("supported", supported)
        }
        StoreError::UpgradeFailed {
            from,
            to,
            step: Some(step),
            reason,
            copy: Some(copy),
        } => IpcError::new(ErrorCode::DatabaseUpgradeFailed, error.to_string())
            .with_param("from", from)
            .with_param("to", to)
            .with_param("step", step)
            .with_param("reason", reason)
            .with_param("copy", copy.display()),
        _ => IpcError::new(ErrorCode::Storage, error.to_string()),
    }
}

fn sort_key(request: &RecordsListRequest) -> SortKey {
    match request.sort {
        None => SortKey::default(),
        Some(sort) => SortKey {
            field: match sort.field {
                RecordSortField::Title => SortField::Title,
                RecordSortField::UpdatedTime => SortField::UpdatedTime,
                RecordSortField::CreatedTime => SortField::CreatedTime,
                RecordSortField::Amount => SortField::Opportunity,
            },
            descending: sort.descending,
        },
    }
}

/// The store's filter and page for a list request.
pub fn store_query(request: &RecordsListRequest) -> Result<(RecordFilter, Page), IpcError> {
    let mut filter = RecordFilter::new(request.entity_type);
    filter.set_search(request.search.as_deref());
    filter.stage_ids = request.stage_ids.clone();
    filter.category_id = request.category_id;
    filter.assigned_by_ids = request.responsible_ids.clone();
    let after = match &request.cursor {
        None => None,
        Some(text) => Some(serde_json::from_str::<Cursor>(text).map_err(|_| {
            IpcError::new(ErrorCode::InvalidInput, "the list position is not valid")
        })?),
    };
    let page = Page {
        sort: sort_key(request),
        after,
        limit: request.limit.clamp(1, MAX_PAGE),
    };
    Ok((filter, page))
}

fn utc(seconds: i64) -> Option<DateTime<Utc>> {
    (seconds > 0)
        .then(|| DateTime::from_timestamp(seconds, 0))
        .flatten()
}

/// Pipelines in the portal's order: by `sort`, then by id.
pub fn sort_categories(categories: &mut [kartoteka_domain::Category]) {
    categories.sort_by_key(|c| (c.sort, c.id));
}

/// Whether search text can match anything: the search looks for words and numbers, so text with
/// neither (a lone `<`) finds nothing, instead of being dropped and finding everything.
pub fn searchable(text: &str) -> bool {
    text.chars().any(char::is_alphanumeric)
}

/// Reads one page of a list and resolves ids to names (stage, responsible, company).
pub fn list(store: &Store, request: &RecordsListRequest) -> Result<RecordsPage, IpcError> {
    let (filter, page) = store_query(request)?;
    if filter.search.as_deref().is_some_and(|s| !searchable(s)) {
        return Ok(RecordsPage {
            rows: Vec::new(),
            total: Some(0),
            next_cursor: None,
        });
    }
    let found = store
        .list_records(&filter, &page)
        .map_err(|e| from_store(&e))?;
    let names = Names::load(store).map_err(|e| from_store(&e))?;
    // Company names by title only (one indexed lookup each), not whole records.
    let company_ids: Vec<i64> = found.rows.iter().filter_map(|r| r.company_id).collect();
    let companies = store
        .record_titles(EntityType::Company, &company_ids)
        .map_err(|e| from_store(&e))?;
    let mut rows = Vec::with_capacity(found.rows.len());
    for row in found.rows {
        let company_title = row.company_id.and_then(|id| companies.get(&id).cloned());
        let stage = row
            .stage_id
            .as_deref()
            .and_then(|s| names.stage(row.entity_type, row.category_id, s));
        rows.push(RecordListRow {
            key: RecordKey {
                entity_type: row.entity_type,
                id: row.id,
            },
            title: row.title,
            stage_name: stage.map(|s| s.name.clone()),
            stage_color: stage.and_then(|s| s.color.clone()),
            stage_id: row.stage_id,
            responsible_name: row.assigned_by_id.and_then(|id| names.user(id)),
            // Decimal text as the replica keeps it: never through a float.
            amount: row.opportunity.filter(|a| !a.trim().is_empty()),
            currency: row.currency_id,
            phone: row.phone,
            email: row.email,
            company_title,
            created_time: utc(row.created_time),
            updated_time: utc(row.updated_time),
            has_pending_edits: row.has_pending_edits,
        });
    }
    let next_cursor = match found.next {
        Some(cursor) => Some(
            serde_json::to_string(&cursor)
                .map_err(|e| IpcError::new(ErrorCode::Internal, e.to_string()))?,
        ),
        None => None,
    };
    Ok(RecordsPage {
        rows,
        total: found.total,
        next_cursor,
    })
}

/// A record's card: every field with its label, multi-fields, links.
pub fn card(store: &Store, key: RecordKey) -> Result<RecordCard, IpcError> {
    let detail = store
        .get_record(key)
        .map_err(|e| from_store(&e))?
        .ok_or_else(|| {
            IpcError::new(
                ErrorCode::NotFound,
                format!("{} #{} is not in the replica", key.entity_type, key.id),
            )
        })?;
    let names = Names::load(store).map_err(|e| from_store(&e))?;
    let stage = detail
        .fields
        .get("stageId")
        .and_then(|v| v.as_str())
        .and_then(|s| names.stage(key.entity_type, category_of(&detail), s));
    let responsible = detail
        .fields
        .get("assignedById")
        .and_then(|v| {
            v.as_i64()
                .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
        })
        .and_then(|id| names.user(id));
    let mut fields = card_fields(&detail, &names);
    // Titles and phones only: a linked company's own links and fields are not read.
    name_crm_references(&mut fields, |linked| {
        store
            .record_titles(linked.entity_type, &[linked.id])
            .ok()
            .and_then(|mut titles| titles.remove(&linked.id))
    });
    Ok(RecordCard {
        key,
        title: detail.title.clone(),
        stage_name: stage.map(|s| s.name.clone()),
        stage_color: stage.and_then(|s| s.color.clone()),
        responsible_name: responsible,
        updated_time: utc(detail.updated_time),
        fields,
        multi_fields: detail.multi_fields.clone(),
        links_total: detail.links_total,
        links: card_links(&detail, |linked| {
            store.record_multi_fields(linked).ok().flatten()
        }),
        link_fields: card_link_fields(&detail),
        deleted: detail.state == RecordState::Deleted,
        pending_fields: detail.pending_fields.clone(),
    })
}

pub fn references(
    store: &Store,
    request: ReferenceListRequest,
) -> Result<ReferenceLists, IpcError> {
    let type_id = request.entity_type.type_id();
    let statuses = store.stages().map_err(|e| from_store(&e))?;
    let stages = statuses
        .iter()
        .filter(|s| match request.entity_type {
            EntityType::Lead => s.list_id == "STATUS",
            EntityType::Deal => s.list_id.starts_with("DEAL_STAGE"),
            _ => false,
        })
        .cloned()
        .collect();
    let mut categories: Vec<_> = store
        .categories()
        .map_err(|e| from_store(&e))?
        .into_iter()
        .filter(|c| c.entity_type_id == type_id)
        .collect();
    // Pipelines in the portal's own order (its `sort`), as Bitrix24 lists them.
    sort_categories(&mut categories);
    let users = store.users().map_err(|e| from_store(&e))?;
    let fields = store
        .field_meta(request.entity_type)
        .map_err(|e| from_store(&e))?;
    Ok(ReferenceLists {
        stages,
        categories,
        users,
        fields,
        statuses,
    })
}

impl Core {
    pub async fn records_list(&self, request: RecordsListRequest) -> Result<RecordsPage, IpcError> {
        tracing::debug!(entity_type = %request.entity_type, limit = request.limit, "records_list");
        // A list opened while the portal starts waits for its replica instead of failing.
        self.portal().await?;
        self.with_replica(|store| list(store, &request))
    }

    pub async fn record_get(&self, request: RecordGetRequest) -> Result<RecordCard, IpcError> {
        tracing::debug!(entity_type = %request.key.entity_type, id = request.key.id, "record_get");
        self.portal().await?;
        let card = self.with_replica(|store| card(store, request.key))?;
        self.record_card_view(request.key);
        Ok(card)
    }

    pub async fn references_list(
        &self,
        request: ReferenceListRequest,
    ) -> Result<ReferenceLists, IpcError> {
        self.portal().await?;
        self.with_replica(|store| references(store, request))
    }
}

#[cfg(test)]
mod tests {
    use super::{searchable, sort_categories};
    use kartoteka_domain::Category;

    #[test]
    fn pipelines_are_listed_in_the_portals_sort_order() {
        let pipeline = |id: i64, sort: i64| Category {
            id,
            entity_type_id: 2,
            name: format!("P{id}"),
            sort,
            is_default: id == 0,
        };
        let mut categories = vec![pipeline(3, 200), pipeline(0, 300), pipeline(1, 100)];
        sort_categories(&mut categories);
        let ids: Vec<i64> = categories.iter().map(|c| c.id).collect();
        assert_eq!(ids, vec![1, 3, 0]);
    }

    #[test]
    fn a_search_without_letters_or_digits_finds_nothing_rather_than_everything() {
        assert!(!searchable("<"));
        assert!(!searchable(" -+ "));
        assert!(searchable("Герасимова"));
        assert!(searchable("+7 9"));
    }
}
