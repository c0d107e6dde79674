//! A CRM record as the replica keeps it: the portal's own field values, untouched, plus the keys
//! the replica indexes.

use crate::EntityType;
use chrono::{DateTime, FixedOffset};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Identifies one record on the portal.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ts_rs::TS,
)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct RecordKey {
    pub entity_type: EntityType,
    #[ts(type = "number")]
    pub id: i64,
}

/// The kind of a multi-field entry (`fm[].typeId`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "UPPERCASE")]
#[ts(export)]
pub enum MultiFieldKind {
    Phone,
    Email,
    Web,
    Im,
    Link,
}

impl MultiFieldKind {
    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_uppercase().as_str() {
            "PHONE" => Some(Self::Phone),
            "EMAIL" => Some(Self::Email),
            "WEB" => Some(Self::Web),
            "IM" => Some(Self::Im),
            "LINK" => Some(Self::Link),
            _ => None,
        }
    }

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Phone => "PHONE",
            Self::Email => "EMAIL",
            Self::Web => "WEB",
            Self::Im => "IM",
            Self::Link => "LINK",
        }
    }
}

/// One phone, e-mail, site or messenger entry of a record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct MultiField {
    #[ts(type = "number")]
    pub id: i64,
    pub kind: MultiFieldKind,
    /// `WORK`, `MOBILE`, `TELEGRAM`, …
    pub value_type: String,
    pub value: String,
}

/// A record: the key, the timestamps sync orders by, the multi-fields, and every other field
/// exactly as `crm.item.get` returned it (camelCase system names, `UF_CRM_*` custom names).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Record {
    pub key: RecordKey,
    pub updated_time: Option<DateTime<FixedOffset>>,
    pub fields: Map<String, Value>,
    pub multi_fields: Vec<MultiField>,
}

impl Record {
    pub fn field(&self, name: &str) -> Option<&Value> {
        self.fields.get(name).filter(|v| !is_empty_value(v))
    }

    /// A field as text, for the values that are text on the portal (title, stageId, …).
    pub fn text(&self, name: &str) -> Option<&str> {
        self.field(name).and_then(Value::as_str)
    }

    /// A field as an integer id; accepts numbers and numeric strings, treats 0 as "no link".
    pub fn id_field(&self, name: &str) -> Option<i64> {
        let n = id_of(self.field(name)?)?;
        (n != 0).then_some(n)
    }

    /// A person-readable title: `title` for leads, deals and companies; the name parts for contacts.
    pub fn display_title(&self) -> String {
        if let Some(t) = self.text("title") {
            if !t.trim().is_empty() {
                return t.to_string();
            }
        }
        let parts: Vec<&str> = ["lastName", "name", "secondName"]
            .iter()
            .filter_map(|f| self.text(f))
            .filter(|s| !s.trim().is_empty())
            .collect();
        if parts.is_empty() {
            format!("{} #{}", self.key.entity_type.slug(), self.key.id)
        } else {
            parts.join(" ")
        }
    }
}

/// Bitrix24 spells "empty" as `null`, `""`, `"0"` (legacy links), `0` (no link) or `[]`.
/// Only `null`, `""` and `[]` are empty for every field; `0` and `"0"` only for link fields,
/// so callers that know the field's type decide those.
/// A record id as a portal writes one: a number or a numeric string.
pub fn id_of(v: &Value) -> Option<i64> {
    v.as_i64()
        .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
}

/// The fields by which a record links to others, in every type that has them: their values are
/// record ids (a record created here is named by its local id until the portal gives it one).
pub const LINK_FIELDS: [&str; 5] = [
    "contactIds",
    "contactId",
    "companyIds",
    "companyId",
    "leadId",
];

/// The ids of a link field (`contactIds`, or a single id as a list of one), in order: positive
/// ones, each once.
pub fn link_ids(v: &Value) -> Vec<i64> {
    let mut out: Vec<i64> = match v {
        Value::Array(a) => a.iter().filter_map(id_of).collect(),
        other => id_of(other).into_iter().collect(),
    };
    out.retain(|id| *id > 0);
    let mut seen = std::collections::HashSet::new();
    out.retain(|id| seen.insert(*id));
    out
}

/// Where a record's primary link stands in its list when it is not first: a deal's or lead's
/// `contactId` in `contactIds`, a contact's `companyId` in `companyIds` (the list's name and the
/// position). `None` when it is first, or there is none.
pub fn primary_out_of_place(
    t: EntityType,
    fields: &Map<String, Value>,
) -> Option<(&'static str, usize)> {
    let (list, single) = match t {
        EntityType::Deal | EntityType::Lead => ("contactIds", "contactId"),
        EntityType::Contact => ("companyIds", "companyId"),
        EntityType::Company => return None,
    };
    let primary = fields.get(single).and_then(id_of).filter(|p| *p > 0)?;
    let at = fields
        .get(list)?
        .as_array()?
        .iter()
        .position(|v| id_of(v) == Some(primary))?;
    (at > 0).then_some((list, at))
}

/// Puts the primary link first in its list ([`primary_out_of_place`]). A portal lists the links
/// in their SORT order, where the primary may stand anywhere; Kartoteka keeps "first = primary"
/// so that one field says both which records are linked and which of them is the main one.
pub fn primary_first(t: EntityType, fields: &mut Map<String, Value>) {
    if let Some((list, at)) = primary_out_of_place(t, fields) {
        if let Some(Value::Array(ids)) = fields.get_mut(list) {
            ids[..=at].rotate_right(1);
        }
    }
}

pub fn is_empty_value(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn record(fields: Value) -> Record {
        Record {
            key: RecordKey {
                entity_type: EntityType::Contact,
                id: 7,
            },
            updated_time: None,
            fields: fields.as_object().cloned().unwrap_or_default(),
            multi_fields: vec![],
        }
    }

    #[test]
    fn contact_title_is_built_from_name_parts_and_empty_values_are_skipped() {
        let r =
            record(json!({"title": null, "name": "Иван", "lastName": "Петров", "secondName": ""}));
        assert_eq!(r.display_title(), "Петров Иван");
        let r = record(json!({}));
        assert_eq!(r.display_title(), "contact #7");
    }

    #[test]
    fn id_fields_accept_numbers_and_strings_and_zero_means_no_link() {
        let r = record(json!({"companyId": 0, "contactId": "84", "leadId": 12, "x": "abc"}));
        assert_eq!(r.id_field("companyId"), None);
        assert_eq!(r.id_field("contactId"), Some(84));
        assert_eq!(r.id_field("leadId"), Some(12));
        assert_eq!(r.id_field("x"), None);
    }
}
