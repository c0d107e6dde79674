//! Turning a record's stored fields into what its card shows: labels and display text.

use kartoteka_domain::ipc::{CardField, CardLink};
use kartoteka_domain::{FieldMeta, FieldType, Stage, User};
use kartoteka_store::{RecordDetail, Store, StoreError};
use serde_json::Value;
use std::collections::HashMap;

/// Fields the card header or the multi-field list already shows, or that are internal.
const HIDDEN_FIELDS: &[&str] = &[
    "id",
    "fm",
    "phone",
    "email",
    "web",
    "im",
    "link",
    "entityTypeId",
];

/// Names for ids: stages and statuses by their status id, users by id.
pub struct Names {
    stages: HashMap<String, Stage>,
    users: HashMap<i64, User>,
}

impl Names {
    pub fn load(store: &Store) -> Result<Names, StoreError> {
        let stages = store
            .stages()?
            .into_iter()
            .map(|s| (s.status_id.clone(), s))
            .collect();
        let users = store.users()?.into_iter().map(|u| (u.id, u)).collect();
        Ok(Names { stages, users })
    }

    pub fn stage(&self, status_id: &str) -> Option<&Stage> {
        self.stages.get(status_id)
    }

    pub fn user(&self, id: i64) -> Option<String> {
        self.users
            .get(&id)
            .map(User::display_name)
            .or_else(|| (id > 0).then(|| format!("#{id}")))
    }
}

fn as_id(v: &Value) -> Option<i64> {
    v.as_i64()
        .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
}

/// One value as text, using the field's type to resolve ids to names.
fn display(meta: Option<&FieldMeta>, v: &Value, names: &Names) -> Option<String> {
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
        (Some(FieldType::CrmStatus), Value::String(s)) => names
            .stage(s)
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

fn values(meta: Option<&FieldMeta>, v: &Value, names: &Names) -> Vec<String> {
    match v {
        Value::Array(items) => items
            .iter()
            .filter_map(|i| display(meta, i, names))
            .collect(),
        other => display(meta, other, names).into_iter().collect(),
    }
}

/// Every field with a value: the portal's order for standard fields, then custom fields, then
/// any stored field the metadata does not describe (shown under its own name).
pub fn card_fields(detail: &RecordDetail, names: &Names) -> Vec<CardField> {
    let mut out: Vec<CardField> = Vec::new();
    let mut seen: Vec<&str> = Vec::new();
    for meta in &detail.field_meta {
        seen.push(meta.name.as_str());
        if HIDDEN_FIELDS.contains(&meta.name.as_str()) {
            continue;
        }
        let Some(v) = detail.fields.get(&meta.name) else {
            continue;
        };
        let vals = values(Some(meta), v, names);
        if vals.is_empty() {
            continue;
        }
        out.push(CardField {
            name: meta.name.clone(),
            label: meta.label.clone(),
            field_type: meta.field_type.clone(),
            is_custom: meta.is_custom,
            values: vals,
        });
    }
    for (name, v) in &detail.fields {
        if seen.contains(&name.as_str()) || HIDDEN_FIELDS.contains(&name.as_str()) {
            continue;
        }
        let vals = values(None, v, names);
        if vals.is_empty() {
            continue;
        }
        out.push(CardField {
            name: name.clone(),
            label: name.clone(),
            field_type: FieldType::Other("unknown".into()),
            is_custom: name.starts_with("UF_") || name.starts_with("uf"),
            values: vals,
        });
    }
    // Standard before custom, each group in the order found (a stable sort keeps it).
    out.sort_by_key(|f| f.is_custom);
    out
}

pub fn card_links(detail: &RecordDetail) -> Vec<CardLink> {
    detail
        .links
        .iter()
        .map(|l| CardLink {
            key: l.key,
            title: l.title.clone().unwrap_or_else(|| format!("#{}", l.key.id)),
            is_primary: l.is_primary,
        })
        .collect()
}
