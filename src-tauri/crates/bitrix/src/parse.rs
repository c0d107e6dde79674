//! Conversions from `crm.item`, `user.get`, `crm.status.list`, `crm.category.list`,
//! `crm.item.fields`, `crm.deal.contact.items.get` and `profile` results to domain types.

use crate::error::BitrixError;
use crate::values::{datetime_with_offset, yes_no};
use crate::wire::{lenient_i64, php_list, php_map, value_text};
use kartoteka_domain::{
    Category, EntityType, FieldMeta, FieldOption, FieldType, MultiField, MultiFieldKind, Record,
    RecordKey, Stage, StageSemantics, User, UserKind,
};
use serde::Serialize;
use serde_json::{Map, Value};

fn malformed(reason: impl Into<String>) -> BitrixError {
    BitrixError::MalformedResponse {
        http_status: 200,
        reason: reason.into(),
    }
}

/// A `crm.item` object as a [`Record`]: `fm` becomes `multi_fields`, `updatedTime` is parsed, and
/// every other key (including `id` and `updatedTime`) is kept in `fields` exactly as sent.
pub fn parse_record(t: EntityType, item: &Map<String, Value>) -> Result<Record, BitrixError> {
    parse_record_owned(t, item.clone())
}

/// [`parse_record`] of an item the caller owns: its values move into the record instead of
/// being copied (a 2,500-item chunk is about 100,000 values). Same result, same field order.
pub fn parse_record_owned(
    t: EntityType,
    mut item: Map<String, Value>,
) -> Result<Record, BitrixError> {
    let id = item
        .get("id")
        .or_else(|| item.get("ID"))
        .and_then(lenient_i64)
        .filter(|id| *id > 0)
        .ok_or_else(|| malformed("an item has no id"))?;
    let updated_time = item.get("updatedTime").and_then(datetime_with_offset);
    kartoteka_domain::record::primary_first(t, &mut item);
    let multi_fields = item
        .shift_remove("fm")
        .map(|fm| {
            php_list(Some(&fm))
                .into_iter()
                .filter_map(parse_multi_field)
                .collect()
        })
        .unwrap_or_default();
    Ok(Record {
        key: RecordKey { entity_type: t, id },
        updated_time,
        fields: item,
        multi_fields,
    })
}

/// The items of a `crm.item.list` result, taken out of it (see [`list_items`]).
pub(crate) fn into_list_items(result: Value) -> Vec<Map<String, Value>> {
    let items = match result {
        Value::Object(mut o) => o.remove("items").unwrap_or(Value::Null),
        other => other,
    };
    let values: Vec<Value> = match items {
        Value::Array(a) => a,
        Value::Object(o) => o.into_iter().map(|(_, v)| v).collect(),
        _ => Vec::new(),
    };
    values
        .into_iter()
        .filter_map(|v| match v {
            Value::Object(m) => Some(m),
            _ => None,
        })
        .collect()
}

fn parse_multi_field(v: &Value) -> Option<MultiField> {
    let o = v.as_object()?;
    let kind = MultiFieldKind::parse(o.get("typeId").or_else(|| o.get("TYPE_ID"))?.as_str()?)?;
    Some(MultiField {
        id: o.get("id").or_else(|| o.get("ID")).and_then(lenient_i64)?,
        kind,
        value_type: o
            .get("valueType")
            .or_else(|| o.get("VALUE_TYPE"))
            .map(value_text)
            .unwrap_or_default(),
        value: o
            .get("value")
            .or_else(|| o.get("VALUE"))
            .map(value_text)
            .unwrap_or_default(),
    })
}

/// The items of a `crm.item.list` page (`result.items`; a bare list is accepted too).
pub(crate) fn list_items(result: &Value) -> Vec<&Map<String, Value>> {
    let items = match result {
        Value::Object(o) => o.get("items"),
        other => Some(other),
    };
    php_list(items)
        .into_iter()
        .filter_map(Value::as_object)
        .collect()
}

/// `crm.item.fields` → field metadata, in the portal's order.
pub(crate) fn parse_fields(result: &Value) -> Vec<FieldMeta> {
    let fields = result.get("fields").or(Some(result));
    php_map(fields)
        .into_iter()
        .filter_map(|(name, d)| Some(parse_field(name, d.as_object()?)))
        .collect()
}

fn flag(o: &Map<String, Value>, key: &str) -> bool {
    o.get(key).and_then(yes_no).unwrap_or(false)
}

fn parse_field(name: String, d: &Map<String, Value>) -> FieldMeta {
    let text = |k: &str| {
        d.get(k)
            .map(value_text)
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty() && s != "{}" && s != "[]")
    };
    let is_custom = flag(d, "isDynamic") || name.starts_with("UF_") || name.starts_with("ufCrm");
    let label = if is_custom {
        text("formLabel")
            .or_else(|| text("listLabel"))
            .or_else(|| text("title"))
    } else {
        text("title").or_else(|| text("formLabel"))
    }
    .unwrap_or_else(|| name.clone());
    let options = php_list(d.get("items"))
        .into_iter()
        .filter_map(|i| {
            let o = i.as_object()?;
            Some(FieldOption {
                id: o.get("ID").or_else(|| o.get("id")).and_then(lenient_i64)?,
                value: o
                    .get("VALUE")
                    .or_else(|| o.get("value"))
                    .map(value_text)
                    .unwrap_or_default(),
            })
        })
        .collect();
    FieldMeta {
        field_type: FieldType::parse(&text("type").unwrap_or_default()),
        label,
        is_required: flag(d, "isRequired"),
        is_read_only: flag(d, "isReadOnly"),
        is_immutable: flag(d, "isImmutable"),
        is_multiple: flag(d, "isMultiple"),
        is_custom,
        status_type: text("statusType"),
        options,
        name,
    }
}

/// One `user.get` row. Users that `user.get` returns are people; technical users never appear there.
pub(crate) fn parse_user(v: &Value) -> Option<User> {
    let o = v.as_object()?;
    Some(User {
        id: o.get("ID").or_else(|| o.get("id")).and_then(lenient_i64)?,
        name: o.get("NAME").map(value_text).unwrap_or_default(),
        last_name: o.get("LAST_NAME").map(value_text).unwrap_or_default(),
        active: o.get("ACTIVE").and_then(yes_no).unwrap_or(true),
        kind: UserKind::Person,
    })
}

/// One `crm.status.list` row (`ID` and `SORT` are strings there).
pub(crate) fn parse_stage(v: &Value) -> Option<Stage> {
    let o = v.as_object()?;
    let text = |k: &str| o.get(k).map(value_text).filter(|s| !s.is_empty());
    let extra = o.get("EXTRA").and_then(Value::as_object);
    let semantics = extra
        .and_then(|e| e.get("SEMANTICS"))
        .and_then(Value::as_str)
        .or_else(|| o.get("SEMANTICS").and_then(Value::as_str));
    Some(Stage {
        list_id: text("ENTITY_ID")?,
        status_id: text("STATUS_ID")?,
        name: text("NAME").unwrap_or_default(),
        sort: o.get("SORT").and_then(lenient_i64).unwrap_or(0),
        semantics: StageSemantics::parse(semantics),
        color: text("COLOR").or_else(|| extra.and_then(|e| e.get("COLOR")).map(value_text)),
        category_id: o.get("CATEGORY_ID").and_then(lenient_i64),
    })
}

/// One `crm.category.list` row.
pub(crate) fn parse_category(v: &Value, t: EntityType) -> Option<Category> {
    let o = v.as_object()?;
    Some(Category {
        id: o.get("id").and_then(lenient_i64)?,
        entity_type_id: o
            .get("entityTypeId")
            .and_then(lenient_i64)
            .unwrap_or(t.type_id()),
        name: o.get("name").map(value_text).unwrap_or_default(),
        sort: o.get("sort").and_then(lenient_i64).unwrap_or(0),
        is_default: o.get("isDefault").and_then(yes_no).unwrap_or(false),
    })
}

/// A deal–contact link (`crm.deal.contact.items.get`, F6).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DealContact {
    pub contact_id: i64,
    pub sort: i64,
    pub role_id: i64,
    pub is_primary: bool,
}

pub(crate) fn parse_deal_contact(v: &Value) -> Option<DealContact> {
    let o = v.as_object()?;
    Some(DealContact {
        contact_id: o.get("CONTACT_ID").and_then(lenient_i64)?,
        sort: o.get("SORT").and_then(lenient_i64).unwrap_or(0),
        role_id: o.get("ROLE_ID").and_then(lenient_i64).unwrap_or(0),
        is_primary: o.get("IS_PRIMARY").and_then(yes_no).unwrap_or(false),
    })
}

/// The webhook's user, from `profile` (the connection check).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Profile {
    pub id: i64,
    pub admin: bool,
    pub name: String,
    pub last_name: String,
    pub time_zone: Option<String>,
}

pub(crate) fn parse_profile(v: &Value) -> Option<Profile> {
    let o = v.as_object()?;
    Some(Profile {
        id: o.get("ID").and_then(lenient_i64)?,
        admin: o.get("ADMIN").and_then(yes_no).unwrap_or(false),
        name: o.get("NAME").map(value_text).unwrap_or_default(),
        last_name: o.get("LAST_NAME").map(value_text).unwrap_or_default(),
        time_zone: o.get("TIME_ZONE").map(value_text).filter(|s| !s.is_empty()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_primary_link_comes_first_in_its_list() {
        let deal = json!({"id": 1, "contactId": 9, "contactIds": [4, 9, 6]});
        let contact = json!({"id": 2, "companyId": "6", "companyIds": ["4", "6"]});
        let company = json!({"id": 3, "contactIds": [8, 7]});
        let parse = |t, v: Value| {
            parse_record_owned(t, v.as_object().cloned().unwrap_or_default()).expect("parses")
        };
        assert_eq!(
            parse(EntityType::Deal, deal).fields["contactIds"],
            json!([9, 4, 6])
        );
        assert_eq!(
            parse(EntityType::Contact, contact).fields["companyIds"],
            json!(["6", "4"])
        );
        assert_eq!(
            parse(EntityType::Company, company).fields["contactIds"],
            json!([8, 7])
        );
        let unbound = json!({"id": 4, "contactId": 5, "contactIds": [4]});
        assert_eq!(
            parse(EntityType::Lead, unbound).fields["contactIds"],
            json!([4])
        );
    }

    #[test]
    fn the_owned_parse_equals_the_borrowed_one_with_phones_in_the_middle_of_the_item() {
        let page = json!({"items": [
            {"id": 7, "title": "ООО «Ромашка»", "fm": [
                {"id": 11, "typeId": "PHONE", "valueType": "WORK", "value": "+7 999 000-11-22"},
                {"id": 12, "typeId": "EMAIL", "valueType": "HOME", "value": "a@b.ru"}
            ], "updatedTime": "2026-03-01T10:00:00+03:00", "ufCrm1": ["x", 2]},
            "not an item",
            {"id": "8", "title": null}
        ]});
        let borrowed: Vec<Record> = list_items(&page)
            .into_iter()
            .map(|i| parse_record(EntityType::Company, i).expect("parses"))
            .collect();
        let owned: Vec<Record> = into_list_items(page)
            .into_iter()
            .map(|i| parse_record_owned(EntityType::Company, i).expect("parses"))
            .collect();
        assert_eq!(owned, borrowed);
        assert_eq!(owned.len(), 2, "a value that is not an object is no item");
        assert_eq!(owned[0].multi_fields.len(), 2);
        assert_eq!(
            owned[0].fields.keys().collect::<Vec<_>>(),
            vec!["id", "title", "updatedTime", "ufCrm1"],
            "the fields keep their order without fm"
        );
    }
}
