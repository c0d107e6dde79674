//! Field-level differences between two server versions of a record, for the history.

use serde::Serialize;
use serde_json::{Map, Value};

/// One field's change between two server versions. `fm` stands for the multi-fields as a whole
/// (old and new are the arrays). A field that appears or disappears has `null` on that side.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FieldChange {
    pub field: String,
    pub old: Value,
    pub new: Value,
}

/// Field-level differences between two versions; absent and `null` are the same.
pub(crate) fn diff_fields(
    old: &Map<String, Value>,
    new: &Map<String, Value>,
    out: &mut Vec<FieldChange>,
) {
    for (name, new_value) in new {
        let old_value = old.get(name).unwrap_or(&Value::Null);
        if old_value != new_value {
            out.push(FieldChange {
                field: name.clone(),
                old: old_value.clone(),
                new: new_value.clone(),
            });
        }
    }
    for (name, old_value) in old {
        if !new.contains_key(name) && !old_value.is_null() {
            out.push(FieldChange {
                field: name.clone(),
                old: old_value.clone(),
                new: Value::Null,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn diff_reports_changed_added_and_removed_fields_and_ignores_null_vs_absent() {
        let old = map(json!({"title": "A", "stageId": "NEW", "gone": 5, "nothing": null}));
        let new = map(json!({"title": "B", "stageId": "NEW", "added": [1], "also": null}));
        let mut out = Vec::new();
        diff_fields(&old, &new, &mut out);
        assert_eq!(
            out,
            vec![
                FieldChange {
                    field: "title".into(),
                    old: json!("A"),
                    new: json!("B")
                },
                FieldChange {
                    field: "added".into(),
                    old: json!(null),
                    new: json!([1])
                },
                FieldChange {
                    field: "gone".into(),
                    old: json!(5),
                    new: json!(null)
                },
            ]
        );
    }

    #[test]
    fn diff_of_identical_maps_is_empty() {
        let m = map(json!({"a": 1, "b": {"c": [1, 2]}}));
        let mut out = Vec::new();
        diff_fields(&m, &m.clone(), &mut out);
        assert!(out.is_empty());
    }
}
