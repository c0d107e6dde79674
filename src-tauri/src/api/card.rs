//! Turning a record's stored fields into what its card shows: labels and display text.

use kartoteka_domain::ipc::{CardField, CardLink};
use kartoteka_domain::{
    stage_list_id, EntityType, FieldMeta, FieldType, MultiField, MultiFieldKind, RecordKey, Stage,
    User,
};
use kartoteka_store::{RecordDetail, Store, StoreError};
use serde_json::Value;
use std::collections::HashMap;

/// Fields the card header, the multi-field list or the links already show, or that are internal.
const HIDDEN_FIELDS: &[&str] = &[
    "id",
    "fm",
    "phone",
    "email",
    "web",
    "im",
    "link",
    "entityTypeId",
    "stageSemanticId",
];

/// Standard link fields: the card shows them as links to the other records' cards.
fn is_link_field(meta: &FieldMeta) -> bool {
    !meta.is_custom
        && matches!(
            meta.field_type,
            FieldType::CrmCompany | FieldType::CrmContact | FieldType::CrmLead | FieldType::CrmDeal
        )
}

/// Names for ids: stages and statuses by their list and status id (the same code, `NEW`, is a
/// lead status and a deal stage), users by id.
pub struct Names {
    stages: HashMap<(String, String), Stage>,
    users: HashMap<i64, User>,
    categories: HashMap<(i64, i64), String>,
}

impl Names {
    pub fn load(store: &Store) -> Result<Names, StoreError> {
        let stages = store
            .stages()?
            .into_iter()
            .map(|s| ((s.list_id.clone(), s.status_id.clone()), s))
            .collect();
        let users = store.users()?.into_iter().map(|u| (u.id, u)).collect();
        let categories = store
            .categories()?
            .into_iter()
            .map(|c| ((c.entity_type_id, c.id), c.name))
            .collect();
        Ok(Names {
            stages,
            users,
            categories,
        })
    }

    /// An entry of the reference list `list_id` (`STATUS`, `DEAL_STAGE_1`, `SOURCE`, …).
    pub fn status(&self, list_id: &str, status_id: &str) -> Option<&Stage> {
        self.stages
            .get(&(list_id.to_string(), status_id.to_string()))
    }

    /// A record's stage or status, looked up in the list of its type and pipeline.
    pub fn stage(
        &self,
        entity_type: EntityType,
        category_id: Option<i64>,
        stage_id: &str,
    ) -> Option<&Stage> {
        let list = stage_list_id(entity_type, category_id, stage_id)?;
        self.status(&list, stage_id)
    }

    /// A pipeline's name; the default pipeline (id 0) of a type.
    pub fn category(&self, entity_type_id: i64, id: i64) -> Option<String> {
        self.categories.get(&(entity_type_id, id)).cloned()
    }

    pub fn user(&self, id: i64) -> Option<String> {
        self.users
            .get(&id)
            .map(User::display_name)
            .or_else(|| (id > 0).then(|| format!("#{id}")))
    }
}

/// Whether a field holds a reference to another record or a user, where the id 0 means "none"
/// (`companyId: 0`, `quoteId: 0`, `leadId: 0`). A pipeline's 0 is the default pipeline: not this.
fn is_reference(meta: Option<&FieldMeta>, name: &str) -> bool {
    match meta.map(|m| &m.field_type) {
        Some(FieldType::CrmCategory) => false,
        Some(
            FieldType::CrmCompany
            | FieldType::CrmContact
            | FieldType::CrmLead
            | FieldType::CrmDeal
            | FieldType::CrmEntity
            | FieldType::Crm
            | FieldType::User
            | FieldType::Employee,
        ) => true,
        Some(FieldType::Other(t)) if t.starts_with("crm") => true,
        _ => name.ends_with("Id") || name.ends_with("Ids"),
    }
}

fn as_id(v: &Value) -> Option<i64> {
    v.as_i64()
        .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
}

/// The record a value belongs to: its type and pipeline, for names that depend on them.
#[derive(Clone, Copy)]
struct Owner {
    entity_type: EntityType,
    category_id: Option<i64>,
}

/// The reference list a `crm_status` field's values come from: the stage list of the record's
/// type and pipeline for its stage, the field's own `statusType` otherwise (with Bitrix24's list
/// names for the standard fields that portals describe without one).
fn status_list(meta: Option<&FieldMeta>, name: &str, owner: Owner, code: &str) -> Option<String> {
    if name == "stageId" || (name == "statusId" && owner.entity_type == EntityType::Lead) {
        return stage_list_id(owner.entity_type, owner.category_id, code);
    }
    if let Some(list) = meta.and_then(|m| m.status_type.clone()) {
        return Some(list);
    }
    match name {
        "employees" => Some("EMPLOYEES".to_string()),
        "industry" => Some("INDUSTRY".to_string()),
        _ => None,
    }
}

/// One value as text, using the field's type to resolve ids to names.
fn display(
    meta: Option<&FieldMeta>,
    name: &str,
    v: &Value,
    names: &Names,
    owner: Owner,
) -> Option<String> {
    let type_id = owner.entity_type.type_id();
    if is_reference(meta, name) && as_id(v) == Some(0) {
        return None;
    }
    let text = match (meta.map(|m| &m.field_type), v) {
        (_, Value::Null) => return None,
        (_, Value::String(s)) if s.is_empty() => return None,
        (Some(FieldType::Enumeration), _) => {
            let id = as_id(v)?;
            meta.and_then(|m| m.options.iter().find(|o| o.id == id))
                .map(|o| o.value.clone())
                .unwrap_or_else(|| id.to_string())
        }
        (Some(FieldType::User | FieldType::Employee), _) => names.user(as_id(v)?)?,
        (Some(FieldType::CrmCategory), _) => {
            let id = as_id(v)?;
            names
                .category(type_id, id)
                .unwrap_or_else(|| id.to_string())
        }
        (Some(FieldType::CrmStatus), Value::String(s)) => status_list(meta, name, owner, s)
            .and_then(|list| names.status(&list, s))
            .map(|st| st.name.clone())
            .unwrap_or_else(|| s.clone()),
        (Some(FieldType::Boolean), _) => match v {
            Value::Bool(true) => "✓".to_string(),
            Value::Bool(false) => "✗".to_string(),
            Value::String(s) if s == "Y" || s == "1" => "✓".to_string(),
            Value::String(_) => "✗".to_string(),
            other => other.to_string(),
        },
        (Some(FieldType::Money), Value::String(s)) => s.replace('|', " "),
        (_, Value::String(s)) => s.clone(),
        (_, Value::Number(n)) => n.to_string(),
        (_, Value::Bool(b)) => b.to_string(),
        (_, other) => other.to_string(),
    };
    Some(text)
}

fn values(
    meta: Option<&FieldMeta>,
    name: &str,
    v: &Value,
    names: &Names,
    owner: Owner,
) -> Vec<String> {
    match v {
        Value::Array(items) => items
            .iter()
            .filter_map(|i| display(meta, name, i, names, owner))
            .collect(),
        other => display(meta, name, other, names, owner)
            .into_iter()
            .collect(),
    }
}

/// Every field the portal describes, in the portal's order (empty ones with no values, for the
/// card to fold away), custom fields after standard ones; then any stored field with a value that
/// the metadata does not describe (shown under its own name).
pub fn card_fields(detail: &RecordDetail, names: &Names) -> Vec<CardField> {
    let owner = Owner {
        entity_type: detail.key.entity_type,
        category_id: category_of(detail),
    };
    let mut out: Vec<CardField> = Vec::new();
    let mut seen: Vec<&str> = Vec::new();
    for meta in &detail.field_meta {
        seen.push(meta.name.as_str());
        if HIDDEN_FIELDS.contains(&meta.name.as_str()) || is_link_field(meta) {
            continue;
        }
        let vals = detail
            .fields
            .get(&meta.name)
            .map(|v| values(Some(meta), &meta.name, v, names, owner))
            .unwrap_or_default();
        out.push(card_field(meta, detail.fields.get(&meta.name), vals));
    }
    for (name, v) in &detail.fields {
        if seen.contains(&name.as_str()) || HIDDEN_FIELDS.contains(&name.as_str()) {
            continue;
        }
        let vals = values(None, name, v, names, owner);
        if vals.is_empty() {
            continue;
        }
        out.push(CardField {
            name: name.clone(),
            label: name.clone(),
            field_type: FieldType::Other("unknown".into()),
            is_custom: name.starts_with("UF_") || name.starts_with("uf"),
            values: vals,
            raw: v.clone(),
            // Not described by the portal: shown, never edited.
            is_required: false,
            is_read_only: true,
            is_immutable: false,
            is_multiple: v.is_array(),
            options: Vec::new(),
            status_type: None,
        });
    }
    // Standard before custom, each group in the order found (a stable sort keeps it).
    out.sort_by_key(|f| f.is_custom);
    out
}

/// A card field of a described field: display values, the stored value and what the edit form
/// needs from the metadata.
fn card_field(meta: &FieldMeta, raw: Option<&Value>, values: Vec<String>) -> CardField {
    CardField {
        name: meta.name.clone(),
        label: meta.label.clone(),
        field_type: meta.field_type.clone(),
        is_custom: meta.is_custom,
        values,
        raw: raw.cloned().unwrap_or(Value::Null),
        is_required: meta.is_required,
        is_read_only: meta.is_read_only,
        is_immutable: meta.is_immutable,
        is_multiple: meta.is_multiple,
        options: meta.options.clone(),
        status_type: meta.status_type.clone(),
    }
}

/// The record's own link fields (`contactIds`, `companyId`, `companyIds`, `leadId`) with their
/// stored ids, for the edit form; their display values are the linked records' titles.
pub fn card_link_fields(detail: &RecordDetail) -> Vec<CardField> {
    detail
        .field_meta
        .iter()
        .filter(|m| is_link_field(m))
        .map(|meta| {
            let raw = detail.fields.get(&meta.name);
            let values = match raw {
                Some(Value::Array(ids)) => ids.iter().filter_map(as_id).collect(),
                Some(v) => as_id(v).into_iter().collect(),
                None => Vec::new(),
            }
            .into_iter()
            .filter(|id| *id != 0)
            .map(|id| id.to_string())
            .collect();
            card_field(meta, raw, values)
        })
        .collect()
}

/// A record's pipeline (`categoryId`), when it has one.
pub fn category_of(detail: &RecordDetail) -> Option<i64> {
    detail.fields.get("categoryId").and_then(as_id)
}

/// The record a `crm`-type custom field points at: `CO_12` (company 12), `C_3`, `D_5`, `L_1`.
pub fn crm_reference(value: &str) -> Option<RecordKey> {
    let (prefix, id) = value.split_once('_')?;
    let entity_type = match prefix {
        "L" => EntityType::Lead,
        "D" => EntityType::Deal,
        "C" => EntityType::Contact,
        "CO" => EntityType::Company,
        _ => return None,
    };
    let id = id.parse().ok().filter(|id: &i64| *id > 0)?;
    Some(RecordKey { entity_type, id })
}

/// Replaces `CO_12`-style values of `crm` custom fields with the linked record's title, when
/// `title` finds it (a record outside the replica keeps its reference).
pub fn name_crm_references(fields: &mut [CardField], title: impl Fn(RecordKey) -> Option<String>) {
    for field in fields.iter_mut().filter(|f| f.field_type == FieldType::Crm) {
        for value in &mut field.values {
            if let Some(found) = crm_reference(value).and_then(&title) {
                *value = found;
            }
        }
    }
}

fn first_of(multi_fields: &[MultiField], kind: MultiFieldKind) -> Option<String> {
    multi_fields
        .iter()
        .find(|m| m.kind == kind && !m.value.trim().is_empty())
        .map(|m| m.value.clone())
}

/// How many links of a card get their record's phone and e-mail looked up: a company with
/// thousands of deals must not read thousands of records to open its card.
const LINKS_WITH_CONTACTS: usize = 50;

/// The card's links, the first [`LINKS_WITH_CONTACTS`] with the linked record's first phone and
/// e-mail; `linked` reads a linked record's multi-fields (from the replica), `None` when it is
/// not there.
pub fn card_links(
    detail: &RecordDetail,
    linked: impl Fn(RecordKey) -> Option<Vec<MultiField>>,
) -> Vec<CardLink> {
    detail
        .links
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let multi_fields = if i < LINKS_WITH_CONTACTS {
                linked(l.key).unwrap_or_default()
            } else {
                Vec::new()
            };
            CardLink {
                key: l.key,
                title: l.title.clone().unwrap_or_else(|| format!("#{}", l.key.id)),
                is_primary: l.is_primary,
                phone: first_of(&multi_fields, MultiFieldKind::Phone),
                email: first_of(&multi_fields, MultiFieldKind::Email),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use kartoteka_domain::{Category, FieldOption, StageSemantics, UserKind};
    use kartoteka_store::RecordState;
    use serde_json::json;

    fn meta(name: &str, field_type: FieldType, label: &str, is_custom: bool) -> FieldMeta {
        FieldMeta {
            name: name.into(),
            field_type,
            label: label.into(),
            is_required: false,
            is_read_only: false,
            is_immutable: false,
            is_multiple: false,
            is_custom,
            status_type: None,
            options: vec![FieldOption {
                id: 79,
                value: "Gold".into(),
            }],
        }
    }

    fn names() -> Names {
        Names {
            stages: [(
                ("DEAL_STAGE_1".to_string(), "C1:WON".to_string()),
                Stage {
                    list_id: "DEAL_STAGE_1".into(),
                    status_id: "C1:WON".into(),
                    name: "Won".into(),
                    sort: 10,
                    semantics: StageSemantics::Success,
                    color: None,
                    category_id: Some(1),
                },
            )]
            .into(),
            users: [(
                5,
                User {
                    id: 5,
                    name: "Ivan".into(),
                    last_name: "Petrov".into(),
                    active: true,
                    kind: UserKind::Person,
                },
            )]
            .into(),
            categories: [(
                (2, 1),
                Category {
                    id: 1,
                    entity_type_id: 2,
                    name: "Wholesale".into(),
                    sort: 1,
                    is_default: false,
                }
                .name,
            )]
            .into(),
        }
    }

    #[test]
    fn card_shows_names_for_ids_hides_links_and_puts_custom_fields_last() {
        let fields = json!({
            "UF_CRM_LEVEL": "79",
            "title": "Big deal",
            "assignedById": 5,
            "stageId": "C1:WON",
            "categoryId": 1,
            "companyId": 4,
            "comments": "<b>not html</b>",
            "opportunity": null,
        });
        let detail = RecordDetail {
            key: RecordKey {
                entity_type: EntityType::Deal,
                id: 1,
            },
            title: "Big deal".into(),
            state: RecordState::Active,
            fields: fields.as_object().cloned().unwrap_or_default(),
            multi_fields: vec![],
            links: vec![],
            links_total: 0,
            field_meta: vec![
                meta("UF_CRM_LEVEL", FieldType::Enumeration, "Level", true),
                meta("title", FieldType::String, "Name", false),
                meta("assignedById", FieldType::User, "Responsible", false),
                meta("stageId", FieldType::CrmStatus, "Stage", false),
                meta("categoryId", FieldType::CrmCategory, "Pipeline", false),
                meta("companyId", FieldType::CrmCompany, "Company", false),
                meta("comments", FieldType::Text, "Comment", false),
                meta("opportunity", FieldType::Double, "Amount", false),
            ],
            pending_fields: vec![],
            created_time: 0,
            updated_time: 0,
        };
        let shown: Vec<(String, Vec<String>)> = card_fields(&detail, &names())
            .into_iter()
            .map(|f| (f.label, f.values))
            .collect();
        let expected: Vec<(String, Vec<String>)> = [
            ("Name", Some("Big deal")),
            ("Responsible", Some("Ivan Petrov")),
            ("Stage", Some("Won")),
            ("Pipeline", Some("Wholesale")),
            ("Comment", Some("<b>not html</b>")),
            ("Amount", None),
            ("Level", Some("Gold")),
        ]
        .into_iter()
        .map(|(l, v)| (l.to_string(), v.map(str::to_string).into_iter().collect()))
        .collect();
        assert_eq!(
            shown, expected,
            "labels, resolved names, empty fields without values, no link fields, custom last"
        );
    }

    fn status(list_id: &str, status_id: &str, name: &str) -> Stage {
        Stage {
            list_id: list_id.into(),
            status_id: status_id.into(),
            name: name.into(),
            sort: 10,
            semantics: StageSemantics::Process,
            color: None,
            category_id: None,
        }
    }

    #[test]
    fn a_deal_in_stage_new_is_named_by_the_deal_stage_list_not_the_lead_status() {
        let mut names = names();
        for s in [
            status("STATUS", "NEW", "Не обработан"),
            status("DEAL_STAGE", "NEW", "Новая"),
            status("DEAL_STAGE_1", "C1:NEW", "Новая (опт)"),
            status("SOURCE", "CALL", "Звонок"),
        ] {
            names
                .stages
                .insert((s.list_id.clone(), s.status_id.clone()), s);
        }
        assert_eq!(
            names
                .stage(EntityType::Deal, Some(0), "NEW")
                .map(|s| s.name.as_str()),
            Some("Новая"),
            "the list chip and card chip of a deal read DEAL_STAGE"
        );
        assert_eq!(
            names
                .stage(EntityType::Lead, None, "NEW")
                .map(|s| s.name.as_str()),
            Some("Не обработан")
        );
        let mut source = meta("sourceId", FieldType::CrmStatus, "Source", false);
        source.status_type = Some("SOURCE".into());
        let detail = detail_with(
            json!({"stageId": "NEW", "categoryId": 0, "sourceId": "CALL"}),
            vec![
                meta("stageId", FieldType::CrmStatus, "Stage", false),
                source,
            ],
        );
        let shown: Vec<(String, Vec<String>)> = card_fields(&detail, &names)
            .into_iter()
            .map(|f| (f.label, f.values))
            .collect();
        assert_eq!(
            shown,
            vec![
                ("Stage".to_string(), vec!["Новая".to_string()]),
                ("Source".to_string(), vec!["Звонок".to_string()]),
            ],
            "the card's stage field is the deal stage; other statuses come from their own list"
        );
    }

    #[test]
    fn company_size_and_industry_read_as_their_labels_not_codes() {
        // Issue 11 §4: "Кол-во сотрудников: EMPLOYEES_4" must read "более 500".
        let mut names = names();
        for s in [
            status("EMPLOYEES", "EMPLOYEES_4", "более 500"),
            status("INDUSTRY", "IT", "Информационные технологии"),
        ] {
            names
                .stages
                .insert((s.list_id.clone(), s.status_id.clone()), s);
        }
        let mut employees = meta(
            "employees",
            FieldType::CrmStatus,
            "Кол-во сотрудников",
            false,
        );
        employees.status_type = Some("EMPLOYEES".into());
        // A portal that leaves statusType out: the standard field still names its list.
        let industry = meta(
            "industry",
            FieldType::CrmStatus,
            "Сфера деятельности",
            false,
        );
        let detail = detail_with(
            json!({"employees": "EMPLOYEES_4", "industry": "IT"}),
            vec![employees, industry],
        );
        let shown: Vec<(String, Vec<String>)> = card_fields(&detail, &names)
            .into_iter()
            .map(|f| (f.label, f.values))
            .collect();
        assert_eq!(
            shown,
            vec![
                (
                    "Кол-во сотрудников".to_string(),
                    vec!["более 500".to_string()]
                ),
                (
                    "Сфера деятельности".to_string(),
                    vec!["Информационные технологии".to_string()]
                ),
            ]
        );
    }

    fn detail_with(fields: serde_json::Value, field_meta: Vec<FieldMeta>) -> RecordDetail {
        RecordDetail {
            key: RecordKey {
                entity_type: EntityType::Deal,
                id: 1,
            },
            title: "Deal".into(),
            state: RecordState::Active,
            fields: fields.as_object().cloned().unwrap_or_default(),
            multi_fields: vec![],
            links: vec![],
            links_total: 0,
            field_meta,
            pending_fields: vec![],
            created_time: 0,
            updated_time: 0,
        }
    }

    #[test]
    fn a_reference_to_record_zero_is_an_empty_field_but_pipeline_zero_is_the_default_pipeline() {
        let detail = detail_with(
            json!({"quoteId": 0, "myCompanyId": "0", "sourceId": "CALL", "categoryId": 0, "UF_CRM_LINK": 0, "movedBy": 0}),
            vec![
                meta(
                    "quoteId",
                    FieldType::Other("crm_quote".into()),
                    "Quote",
                    false,
                ),
                meta("myCompanyId", FieldType::Integer, "My company", false),
                meta("sourceId", FieldType::CrmStatus, "Source", false),
                meta("categoryId", FieldType::CrmCategory, "Pipeline", false),
                meta("UF_CRM_LINK", FieldType::Crm, "Linked", true),
                meta("movedBy", FieldType::User, "Moved by", false),
            ],
        );
        let mut names = names();
        names.categories.insert((2, 0), "General".into());
        let shown: Vec<(String, Vec<String>)> = card_fields(&detail, &names)
            .into_iter()
            .map(|f| (f.label, f.values))
            .collect();
        let expected: Vec<(String, Vec<String>)> = vec![
            ("Quote".into(), vec![]),
            ("My company".into(), vec![]),
            ("Source".into(), vec!["CALL".into()]),
            ("Pipeline".into(), vec!["General".into()]),
            ("Moved by".into(), vec![]),
            ("Linked".into(), vec![]),
        ];
        assert_eq!(shown, expected, "id 0 means no linked record, never \"0\"");
    }

    #[test]
    fn crm_custom_field_shows_the_linked_records_title_instead_of_its_code() {
        let mut fields = vec![CardField {
            name: "UF_CRM_1747309879".into(),
            label: "Partner".into(),
            field_type: FieldType::Crm,
            is_custom: true,
            values: vec!["CO_12".into(), "D_9".into(), "X_1".into()],
            raw: json!(["CO_12", "D_9", "X_1"]),
            is_required: false,
            is_read_only: false,
            is_immutable: false,
            is_multiple: true,
            options: vec![],
            status_type: None,
        }];
        name_crm_references(&mut fields, |key| {
            (key == RecordKey {
                entity_type: EntityType::Company,
                id: 12,
            })
            .then(|| "Romashka LLC".to_string())
        });
        assert_eq!(
            fields[0].values,
            vec!["Romashka LLC", "D_9", "X_1"],
            "a found record by title; others as they came"
        );
    }

    #[test]
    fn links_carry_the_linked_records_first_phone_and_email() {
        use kartoteka_domain::MultiFieldKind;
        use kartoteka_store::{LinkDirection, LinkedRecord};
        let contact = RecordKey {
            entity_type: EntityType::Contact,
            id: 7,
        };
        let missing = RecordKey {
            entity_type: EntityType::Company,
            id: 8,
        };
        let mut detail = detail_with(json!({}), vec![]);
        detail.links = [contact, missing]
            .into_iter()
            .map(|key| LinkedRecord {
                key,
                title: None,
                state: None,
                is_primary: key == contact,
                sort: 0,
                direction: LinkDirection::Outgoing,
            })
            .collect();
        let mf = |id, kind, value: &str| MultiField {
            id,
            kind,
            value_type: "WORK".into(),
            value: value.into(),
        };
        let links = card_links(&detail, |key| {
            (key == contact).then(|| {
                vec![
                    mf(1, MultiFieldKind::Email, "a@example.com"),
                    mf(2, MultiFieldKind::Phone, " "),
                    mf(3, MultiFieldKind::Phone, "+7 900 000-00-01"),
                    mf(4, MultiFieldKind::Phone, "+7 900 000-00-02"),
                ]
            })
        });
        assert_eq!(links[0].phone.as_deref(), Some("+7 900 000-00-01"));
        assert_eq!(links[0].email.as_deref(), Some("a@example.com"));
        assert_eq!(links[0].title, "#7", "a title is never empty");
        assert_eq!(
            (links[1].phone.as_deref(), links[1].email.as_deref()),
            (None, None),
            "a linked record missing from the replica has no phone"
        );
    }
}
