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
    pair_fields(old, new, |name, old_value, new_value| match new_value {
        Some(new_value) => {
            let old_value = old_value.unwrap_or(&Value::Null);
            if old_value != new_value {
                out.push(FieldChange {
                    field: name.clone(),
                    old: old_value.clone(),
                    new: new_value.clone(),
                });
            }
        }
        None => {
            if let Some(old_value) = old_value.filter(|v| !v.is_null()) {
                out.push(FieldChange {
                    field: name.clone(),
                    old: old_value.clone(),
                    new: Value::Null,
                });
            }
        }
    });
}

/// Calls `f` with each field of `new` and the same field of `old` (`None` when absent), in
/// `new`'s order, then with each field only `old` has. Two versions of a record almost always
/// list their fields in the same order, so fields are paired by position while the names agree
/// and looked up by name (hashing it) only when they do not.
pub(crate) fn pair_fields<'a>(
    old: &'a Map<String, Value>,
    new: &'a Map<String, Value>,
    mut f: impl FnMut(&'a String, Option<&'a Value>, Option<&'a Value>),
) {
    let mut old_in_order = old.iter();
    let mut aligned = true;
    for (name, new_value) in new {
        let old_value = match old_in_order.next() {
            Some((old_name, old_value)) if aligned && old_name == name => Some(old_value),
            _ => {
                aligned = false;
                old.get(name)
            }
        };
        f(name, old_value, Some(new_value));
    }
    if aligned && old.len() == new.len() {
        // Every field of `old` was paired with the field of `new` of the same name.
        return;
    }
    for (name, old_value) in old {
        if !new.contains_key(name) {
            f(name, Some(old_value), None);
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
    fn fields_in_another_order_pair_by_name() {
        let old = map(json!({"a": 1, "b": 2, "c": 3, "gone": 4}));
        let new = map(json!({"a": 1, "c": 30, "b": 2, "added": 5}));
        let mut seen = Vec::new();
        pair_fields(&old, &new, |name, o, n| {
            seen.push((name.clone(), o.cloned(), n.cloned()))
        });
        assert_eq!(
            seen,
            vec![
                ("a".into(), Some(json!(1)), Some(json!(1))),
                ("c".into(), Some(json!(3)), Some(json!(30))),
                ("b".into(), Some(json!(2)), Some(json!(2))),
                ("added".into(), None, Some(json!(5))),
                ("gone".into(), Some(json!(4)), None),
            ]
        );
        let mut out = Vec::new();
        diff_fields(&old, &new, &mut out);
        let fields: Vec<&str> = out.iter().map(|c| c.field.as_str()).collect();
        assert_eq!(fields, ["c", "added", "gone"]);
    }

    #[test]
    fn a_field_only_the_old_version_has_after_the_same_fields_is_paired() {
        let old = map(json!({"a": 1, "b": 2, "gone": 3}));
        let new = map(json!({"a": 1, "b": 2}));
        let mut out = Vec::new();
        diff_fields(&old, &new, &mut out);
        assert_eq!(
            out,
            vec![FieldChange {
                field: "gone".into(),
                old: json!(3),
                new: json!(null)
            }]
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
