//! `crm.item.list` filters and orders: parsing (with the portal's operator prefixes and nested
//! `logic: OR` groups), validation and evaluation against stored items.

use crate::clock::parse_datetime;
use crate::schema::Field;
use crate::state::Item;
use serde_json::Value;
use std::cmp::Ordering;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
    In,
    NotIn,
    Contains,
    Like,
    NotContains,
    NotLike,
}

/// How a field's values compare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Num,
    Time,
    Date,
    Flag,
    Text,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Val {
    Null,
    Num(f64),
    Time(i64),
    Text(String),
}

#[derive(Debug, Clone)]
pub enum Cond {
    All(Vec<Cond>),
    Any(Vec<Cond>),
    Leaf {
        field: String,
        kind: Kind,
        op: Op,
        values: Vec<Val>,
    },
}

/// Splits an operator prefix from a filter key (`>=updatedTime` → (Ge, "updatedTime")).
pub fn split_op(key: &str) -> (Op, &str) {
    const PREFIXES: [(&str, Op); 15] = [
        ("!=%", Op::NotLike),
        ("!%=", Op::NotLike),
        ("=%", Op::Like),
        ("%=", Op::Like),
        ("!%", Op::NotContains),
        ("!@", Op::NotIn),
        ("!=", Op::Ne),
        (">=", Op::Ge),
        ("<=", Op::Le),
        ("!", Op::Ne),
        ("@", Op::In),
        ("%", Op::Contains),
        ("=", Op::Eq),
        (">", Op::Gt),
        ("<", Op::Lt),
    ];
    for (p, op) in PREFIXES {
        if let Some(rest) = key.strip_prefix(p) {
            return (op, rest);
        }
    }
    (Op::Eq, key)
}

pub fn kind_of(field: &Field) -> Kind {
    match field.ty.as_str() {
        "integer" | "double" | "user" | "employee" | "crm_company" | "crm_contact" | "crm_lead"
        | "crm_quote" | "crm_category" | "enumeration" | "location" => Kind::Num,
        "datetime" => Kind::Time,
        "date" => Kind::Date,
        "boolean" => Kind::Flag,
        _ => Kind::Text,
    }
}

/// Parses a filter object. `resolve` maps a client field name to a stored field.
pub fn parse<'a>(
    v: &Value,
    resolve: &dyn Fn(&str) -> Option<&'a Field>,
    offset: i32,
) -> Result<Cond, String> {
    let mut out = Vec::new();
    let mut any = false;
    match v {
        Value::Object(map) => {
            for (k, val) in map {
                if k.eq_ignore_ascii_case("logic") {
                    any = val.as_str().is_some_and(|s| s.eq_ignore_ascii_case("OR"));
                    continue;
                }
                if (val.is_object() || val.is_array()) && is_group_key(k) {
                    out.push(parse(val, resolve, offset)?);
                    continue;
                }
                out.push(leaf(k, val, resolve, offset)?);
            }
        }
        Value::Array(a) => {
            for val in a {
                if val.is_object() || val.is_array() {
                    out.push(parse(val, resolve, offset)?);
                }
            }
        }
        Value::Null => {}
        Value::String(s) if s.is_empty() => {}
        _ => return Err("Invalid filter".into()),
    }
    Ok(if any { Cond::Any(out) } else { Cond::All(out) })
}

fn is_group_key(k: &str) -> bool {
    k.chars().all(|c| c.is_ascii_digit()) || k.is_empty()
}

fn leaf<'a>(
    key: &str,
    val: &Value,
    resolve: &dyn Fn(&str) -> Option<&'a Field>,
    offset: i32,
) -> Result<Cond, String> {
    let (op, name) = split_op(key);
    let field = resolve(name)
        .filter(|f| f.name != "fm")
        .ok_or_else(|| format!("Invalid filter: field '{name}' is not allowed in filter"))?;
    let kind = kind_of(field);
    let invalid = || format!("Invalid filter: field '{name}' has invalid value");
    let mut values = Vec::new();
    let list: Vec<&Value> = match val {
        Value::Array(a) => a.iter().collect(),
        Value::Object(o) => o.values().collect(),
        v => vec![v],
    };
    let uf_flag = kind == Kind::Flag && field.dynamic;
    for x in list {
        values.push(if uf_flag {
            uf_flag_val(x, offset).ok_or_else(invalid)?
        } else {
            to_val(kind, x, offset).ok_or_else(invalid)?
        });
    }
    let op = match (op, val.is_array() || val.is_object()) {
        (Op::Eq, true) => Op::In,
        (Op::Ne, true) => Op::NotIn,
        (o, _) => o,
    };
    Ok(Cond::Leaf {
        field: field.name.clone(),
        kind,
        op,
        values,
    })
}

/// A boolean UF's filter value. The portal stores boolean UFs as `1`/`0` and compares the filter
/// value with that (CONTRACT §2.3: "filtered with `1`/`0`, not `Y`/`N`"), so `1`/`0` (or `true`/
/// `false`) select the `Y`/`N` records, while `Y`/`N` are accepted but equal no stored value: they
/// match nothing (and `!` of them matches everything). Chosen over `INVALID_ARG_VALUE` because the
/// contract names this as a silent trap, not as an error.
fn uf_flag_val(v: &Value, offset: i32) -> Option<Val> {
    match v {
        Value::String(s) if matches!(s.trim(), "Y" | "y" | "N" | "n") => {
            Some(Val::Text(format!("{}{}", NEVER_STORED, s.trim())))
        }
        _ => to_val(Kind::Flag, v, offset),
    }
}

/// A prefix no stored boolean value has (they are exactly `Y` or `N`).
const NEVER_STORED: char = '\u{1}';

/// Converts a filter value or an item value to a comparable value.
pub fn to_val(kind: Kind, v: &Value, offset: i32) -> Option<Val> {
    let text = match v {
        Value::Null => return Some(Val::Null),
        Value::String(s) => s.clone(),
        Value::Bool(b) => (if *b { "Y" } else { "N" }).to_string(),
        Value::Number(n) => {
            return Some(match kind {
                Kind::Num => Val::Num(n.as_f64()?),
                Kind::Flag => Val::Text(if n.as_f64()? != 0.0 { "Y" } else { "N" }.into()),
                Kind::Time => Val::Time(n.as_i64()?),
                _ => Val::Text(n.to_string()),
            })
        }
        _ => return None,
    };
    if text.is_empty() {
        return Some(Val::Null);
    }
    Some(match kind {
        Kind::Num => Val::Num(text.trim().parse().ok()?),
        Kind::Time => Val::Time(parse_datetime(&text, offset)?),
        // A stored date is rendered by `CRestUtil::ConvertDate` (00:00 UTC of the date, an hour
        // either side with summer time): its date is the nearest UTC midnight's.
        Kind::Date => {
            let d = crate::clock::stored_date(&text)?;
            Val::Text(d.format("%Y-%m-%d").to_string())
        }
        Kind::Flag => Val::Text(
            match text.as_str() {
                "1" | "Y" | "y" | "true" => "Y",
                "0" | "N" | "n" | "false" => "N",
                _ => return None,
            }
            .into(),
        ),
        Kind::Text => Val::Text(text),
    })
}

/// An item under evaluation: indexed fields from the core, others read from its JSON.
pub struct View<'i> {
    pub item: &'i Item,
    offset: i32,
}

impl<'i> View<'i> {
    pub fn new(item: &'i Item, offset: i32) -> Self {
        View { item, offset }
    }

    /// All values of a field (one for scalars, each element for multiple fields).
    pub fn values(&mut self, field: &str, kind: Kind) -> Vec<Val> {
        match field {
            "id" => return vec![Val::Num(self.item.id as f64)],
            "updatedTime" => return vec![Val::Time(self.item.updated)],
            "createdTime" => return vec![Val::Time(self.item.created)],
            "assignedById" => return vec![Val::Num(self.item.assigned as f64)],
            _ => {}
        }
        let offset = self.offset;
        let found = raw_field(&self.item.json, field);
        match found {
            None => vec![Val::Null],
            Some(Value::Array(a)) => {
                if a.is_empty() {
                    vec![Val::Null]
                } else {
                    a.iter()
                        .map(|x| to_val(kind, x, offset).unwrap_or(Val::Null))
                        .collect()
                }
            }
            Some(v) => vec![to_val(kind, &v, offset).unwrap_or(Val::Null)],
        }
    }
}

/// Reads one top-level field from an item's rendered JSON without parsing the rest. The first
/// `"name":` is the top-level key: quotes inside string values are escaped, and the only nested
/// objects (`fm` entries) come after every system field that shares their key names.
pub fn raw_field(json: &str, name: &str) -> Option<Value> {
    let pat = format!("\"{name}\":");
    let pos = json.find(&pat)? + pat.len();
    serde_json::Deserializer::from_str(&json[pos..])
        .into_iter::<Value>()
        .next()
        .and_then(Result::ok)
}

pub fn cmp_val(a: &Val, b: &Val) -> Ordering {
    match (a, b) {
        (Val::Null, Val::Null) => Ordering::Equal,
        (Val::Null, _) => Ordering::Less,
        (_, Val::Null) => Ordering::Greater,
        (Val::Num(x), Val::Num(y)) => x.partial_cmp(y).unwrap_or(Ordering::Equal),
        (Val::Time(x), Val::Time(y)) => x.cmp(y),
        (Val::Text(x), Val::Text(y)) => x.to_lowercase().cmp(&y.to_lowercase()),
        (Val::Num(x), Val::Text(y)) => x.to_string().cmp(y),
        (Val::Text(x), Val::Num(y)) => x.cmp(&y.to_string()),
        _ => Ordering::Equal,
    }
}

fn eq_val(a: &Val, b: &Val) -> bool {
    match (a, b) {
        (Val::Null, Val::Null) => true,
        (Val::Null, Val::Text(s)) | (Val::Text(s), Val::Null) => s.is_empty(),
        (Val::Text(x), Val::Text(y)) => {
            x.eq_ignore_ascii_case(y) || x.to_lowercase() == y.to_lowercase()
        }
        (Val::Null, Val::Num(n)) | (Val::Num(n), Val::Null) => *n == 0.0,
        _ => {
            cmp_val(a, b) == Ordering::Equal
                && std::mem::discriminant(a) == std::mem::discriminant(b)
        }
    }
}

fn text_of(v: &Val) -> String {
    match v {
        Val::Null => String::new(),
        Val::Num(n) => n.to_string(),
        Val::Time(t) => t.to_string(),
        Val::Text(s) => s.to_lowercase(),
    }
}

/// SQL-LIKE match with `%` (any run) and `_` (one char), case-insensitive.
fn like(text: &str, pattern: &str) -> bool {
    let t: Vec<char> = text.chars().collect();
    let p: Vec<char> = pattern.to_lowercase().chars().collect();
    fn go(t: &[char], p: &[char]) -> bool {
        match p.first() {
            None => t.is_empty(),
            Some('%') => (0..=t.len()).any(|i| go(&t[i..], &p[1..])),
            Some('_') => !t.is_empty() && go(&t[1..], &p[1..]),
            Some(c) => t.first() == Some(c) && go(&t[1..], &p[1..]),
        }
    }
    go(&t, &p)
}

impl Cond {
    pub fn matches(&self, view: &mut View<'_>) -> bool {
        match self {
            Cond::All(v) => v.iter().all(|c| c.matches(view)),
            Cond::Any(v) => v.is_empty() || v.iter().any(|c| c.matches(view)),
            Cond::Leaf {
                field,
                kind,
                op,
                values,
            } => {
                let have = view.values(field, *kind);
                let any_eq = || have.iter().any(|h| values.iter().any(|w| eq_val(h, w)));
                let ord = |pred: fn(Ordering) -> bool| {
                    have.iter().any(|h| {
                        !matches!(h, Val::Null)
                            && values
                                .iter()
                                .any(|w| !matches!(w, Val::Null) && pred(cmp_val(h, w)))
                    })
                };
                let contains = || {
                    have.iter().any(|h| {
                        let ht = text_of(h);
                        values.iter().any(|w| ht.contains(&text_of(w)))
                    })
                };
                let likes = || {
                    have.iter()
                        .any(|h| values.iter().any(|w| like(&text_of(h), &text_of(w))))
                };
                match op {
                    Op::Eq | Op::In => any_eq(),
                    Op::Ne | Op::NotIn => !any_eq(),
                    Op::Gt => ord(|o| o == Ordering::Greater),
                    Op::Ge => ord(|o| o != Ordering::Less),
                    Op::Lt => ord(|o| o == Ordering::Less),
                    Op::Le => ord(|o| o != Ordering::Greater),
                    Op::Contains => contains(),
                    Op::NotContains => !contains(),
                    Op::Like => likes(),
                    Op::NotLike => !likes(),
                }
            }
        }
    }

    /// Bounds on `id` implied by top-level AND conditions: (lower, upper), inclusive.
    pub fn id_bounds(&self) -> (i64, i64) {
        let mut lo = i64::MIN;
        let mut hi = i64::MAX;
        if let Cond::All(v) = self {
            for c in v {
                if let Cond::Leaf {
                    field, op, values, ..
                } = c
                {
                    if field != "id" || values.len() != 1 {
                        continue;
                    }
                    let Val::Num(n) = values[0] else { continue };
                    let n = n as i64;
                    match op {
                        Op::Gt => lo = lo.max(n.saturating_add(1)),
                        Op::Ge => lo = lo.max(n),
                        Op::Lt => hi = hi.min(n.saturating_sub(1)),
                        Op::Le => hi = hi.min(n),
                        Op::Eq => {
                            lo = lo.max(n);
                            hi = hi.min(n);
                        }
                        _ => {}
                    }
                }
            }
        }
        (lo, hi)
    }

    /// A lower bound on `updatedTime` of any matching item (`i64::MIN` when unbounded).
    pub fn updated_lower_bound(&self) -> i64 {
        match self {
            Cond::All(v) => v
                .iter()
                .map(Cond::updated_lower_bound)
                .max()
                .unwrap_or(i64::MIN),
            Cond::Any(v) if v.is_empty() => i64::MIN,
            Cond::Any(v) => v
                .iter()
                .map(Cond::updated_lower_bound)
                .min()
                .unwrap_or(i64::MIN),
            Cond::Leaf {
                field, op, values, ..
            } => {
                if field != "updatedTime" || values.len() != 1 {
                    return i64::MIN;
                }
                match (op, &values[0]) {
                    (Op::Gt | Op::Ge | Op::Eq, Val::Time(t)) => *t,
                    _ => i64::MIN,
                }
            }
        }
    }
}

/// Parses `order`: `{"field": "ASC"|"DESC"}`, validating names and directions.
pub fn parse_order<'a>(
    v: &Value,
    resolve: &dyn Fn(&str) -> Option<&'a Field>,
) -> Result<Vec<(String, Kind, bool)>, String> {
    let mut out = Vec::new();
    let Value::Object(map) = v else {
        return Ok(out);
    };
    for (k, dir) in map {
        let field = resolve(k)
            .filter(|f| !f.multiple)
            .ok_or_else(|| format!("Invalid order: field '{k}' is not allowed in order"))?;
        let d = crate::values::scalar_text(dir);
        let asc = match d.to_ascii_uppercase().as_str() {
            "ASC" => true,
            "DESC" => false,
            _ => {
                return Err(format!(
                    "Invalid order: allowed sort directions are ASC, DESC. But got '{d}' for field '{k}'"
                ))
            }
        };
        out.push((field.name.clone(), kind_of(field), asc));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::system_fields;
    use serde_json::json;

    fn fields() -> Vec<Field> {
        system_fields(2)
    }

    fn cond(v: Value) -> Result<Cond, String> {
        let f = fields();
        let f: &'static [Field] = Box::leak(f.into_boxed_slice());
        parse(&v, &|n| f.iter().find(|x| x.name == n), 10800)
    }

    #[test]
    fn operator_prefixes_split_longest_first() {
        assert_eq!(split_op(">=updatedTime"), (Op::Ge, "updatedTime"));
        assert_eq!(split_op("!=%title"), (Op::NotLike, "title"));
        assert_eq!(split_op("!@stageId"), (Op::NotIn, "stageId"));
        assert_eq!(split_op("%title"), (Op::Contains, "title"));
        assert_eq!(split_op("title"), (Op::Eq, "title"));
    }

    #[test]
    fn unknown_field_is_rejected_with_portal_text() {
        let e = cond(json!({"=nope": 1})).unwrap_err();
        assert_eq!(e, "Invalid filter: field 'nope' is not allowed in filter");
    }

    #[test]
    fn bad_datetime_is_invalid_value() {
        let e = cond(json!({">updatedTime": "$result[c0][items][49][updatedTime]"})).unwrap_err();
        assert!(e.contains("has invalid value"));
    }

    #[test]
    fn or_group_bounds_updated_time_by_smallest_branch() {
        let c = cond(
            json!({"0":{"logic":"OR","0":{">updatedTime":"2026-01-01T00:00:00+00:00"},
            "1":{"=updatedTime":"2025-01-01T00:00:00+00:00",">id":5}}}),
        )
        .unwrap();
        assert_eq!(c.updated_lower_bound(), 1_735_689_600);
    }

    #[test]
    fn id_bounds_come_from_top_level_conditions() {
        let c = cond(json!({">id": "10", "<=id": 20})).unwrap();
        assert_eq!(c.id_bounds(), (11, 20));
    }

    #[test]
    fn like_supports_wildcards() {
        assert!(like("сделка #5", "сдел%"));
        assert!(!like("сделка", "%x%"));
    }
}

#[cfg(test)]
mod raw_tests {
    use super::raw_field;
    use serde_json::json;

    #[test]
    fn raw_field_reads_top_level_values_only() {
        let j = r#"{"id":5,"typeId":"SALE","title":"a \"typeId\":1","fm":[{"id":9,"typeId":"PHONE"}],"UF_X":[1,2]}"#;
        assert_eq!(raw_field(j, "typeId"), Some(json!("SALE")));
        assert_eq!(raw_field(j, "UF_X"), Some(json!([1, 2])));
        assert_eq!(raw_field(j, "nope"), None);
    }
}
