//! What the replica derives from a record's fields: the row key, the promoted columns lists sort
//! and filter by, the text instant search finds, and the links the fields declare.

use crate::StoreError;
use chrono::DateTime;
use kartoteka_domain::{EntityType, MultiFieldKind, Record, RecordKey};
use serde_json::Value;

/// Ids above this do not fit the row key; Bitrix24 ids are far smaller.
pub(crate) const MAX_ID: i64 = (1 << 48) - 1;

/// The row key: entity type in the high bits, id in the low 48.
pub(crate) fn rid(entity_type: EntityType, id: i64) -> Result<i64, StoreError> {
    if id <= 0 || id > MAX_ID {
        return Err(StoreError::InvalidKey {
            entity_type,
            id,
            reason: "id out of range",
        });
    }
    Ok((entity_type.type_id() << 48) | id)
}

pub(crate) fn rid_of(key: RecordKey) -> Result<i64, StoreError> {
    rid(key.entity_type, key.id)
}

/// The inverse of `rid`.
pub(crate) fn key_of(rid: i64) -> Result<RecordKey, StoreError> {
    let entity_type = EntityType::from_type_id(rid >> 48)
        .ok_or_else(|| StoreError::corrupt("rid", format!("unknown entity type in {rid}")))?;
    Ok(RecordKey {
        entity_type,
        id: rid & MAX_ID,
    })
}

/// The rid range of one entity type: `[lo, hi]`.
pub(crate) fn rid_range(entity_type: EntityType) -> (i64, i64) {
    let lo = entity_type.type_id() << 48;
    (lo, lo | MAX_ID)
}

/// FNV-1a, 64 bit: stable across builds (it is stored), fast, no dependency.
pub(crate) fn hash64(parts: &[&[u8]]) -> i64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for b in *part {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        // Separator, so ("ab","c") and ("a","bc") differ.
        h ^= 0xff;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h as i64
}

/// A portal datetime (`2024-07-22T18:00:08+02:00`) as UTC unix seconds.
pub(crate) fn unix_time(v: Option<&Value>) -> Option<i64> {
    let s = v?.as_str()?;
    DateTime::parse_from_rfc3339(s).ok().map(|t| t.timestamp())
}

/// A money value (JSON number or decimal text) as normalized decimal text and minor units
/// (two decimals, rounded half away from zero). Never goes through a float.
pub(crate) fn money(v: Option<&Value>) -> (Option<String>, i64) {
    let text = match v {
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::String(s)) if !s.trim().is_empty() => s.trim().to_string(),
        _ => return (None, 0),
    };
    match minor_units(&text) {
        Some(m) => (Some(text), m),
        None => (Some(text), 0),
    }
}

fn minor_units(text: &str) -> Option<i64> {
    let (neg, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    // Exponent forms (1e21) come only from absurd amounts; treat them as unparseable.
    let (int_part, frac_part) = digits.split_once('.').unwrap_or((digits, ""));
    if int_part.is_empty() && frac_part.is_empty() {
        return None;
    }
    if !int_part.bytes().all(|b| b.is_ascii_digit())
        || !frac_part.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let whole: i64 = if int_part.is_empty() {
        0
    } else {
        int_part.parse().ok()?
    };
    let fb = frac_part.as_bytes();
    let digit = |i: usize| fb.get(i).map_or(0, |b| i64::from(b - b'0'));
    let mut cents = digit(0) * 10 + digit(1);
    if digit(2) >= 5 {
        cents += 1;
    }
    let total = whole.checked_mul(100)?.checked_add(cents)?;
    Some(if neg { -total } else { total })
}

/// The columns lists read without parsing the field map.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Promoted {
    pub title: String,
    pub title_sort: String,
    pub stage_id: Option<String>,
    pub category_id: Option<i64>,
    pub assigned_by_id: Option<i64>,
    pub opportunity: Option<String>,
    pub opportunity_minor: i64,
    pub currency_id: Option<String>,
    pub company_id: Option<i64>,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub created_time: i64,
    pub updated_time: i64,
    pub updated_by_id: Option<i64>,
}

pub(crate) fn promote(record: &Record) -> Promoted {
    let title = record.display_title();
    let title_sort = title.to_lowercase();
    let (opportunity, opportunity_minor) = money(record.field("opportunity"));
    let first = |kind: MultiFieldKind| {
        record
            .multi_fields
            .iter()
            .find(|m| m.kind == kind && !m.value.is_empty())
            .map(|m| m.value.clone())
    };
    let updated_time = record
        .updated_time
        .map(|t| t.timestamp())
        .or_else(|| unix_time(record.field("updatedTime")))
        .unwrap_or(0);
    Promoted {
        title,
        title_sort,
        stage_id: record.text("stageId").map(str::to_string),
        // Pipeline 0 is the default pipeline, not "no pipeline".
        category_id: record
            .field("categoryId")
            .and_then(kartoteka_domain::record::id_of),
        assigned_by_id: record.id_field("assignedById"),
        opportunity,
        opportunity_minor,
        currency_id: record.text("currencyId").map(str::to_string),
        company_id: record.id_field("companyId"),
        phone: first(MultiFieldKind::Phone),
        email: first(MultiFieldKind::Email),
        created_time: unix_time(record.field("createdTime")).unwrap_or(0),
        updated_time,
        updated_by_id: record.id_field("updatedBy"),
    }
}

/// `ё` is written as `е` as often as not; search treats them as one letter.
pub(crate) fn fold_yo(s: &str) -> String {
    s.replace(['ё', 'Ё'], "е")
}

/// Turns what a person typed into a query of a word index (the history's): every word a prefix,
/// all words required. Returns `None` when nothing searchable remains.
pub(crate) fn search_query(input: &str) -> Option<String> {
    let terms: Vec<String> = input
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| format!("\"{}\"*", fold_yo(&w.to_lowercase())))
        .collect();
    (!terms.is_empty()).then(|| terms.join(" "))
}

/// One link a record's fields declare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DeclaredLink {
    pub to: RecordKey,
    pub is_primary: bool,
    pub sort: i64,
}

/// Links from `contactIds`/`contactId`, `companyIds`/`companyId` and `leadId`.
pub(crate) fn declared_links(record: &Record) -> Vec<DeclaredLink> {
    let mut out: Vec<DeclaredLink> = Vec::new();
    let mut add = |to: RecordKey, is_primary: bool, sort: i64| {
        if to.id > 0 && to.id <= MAX_ID && !out.iter().any(|l| l.to == to) {
            out.push(DeclaredLink {
                to,
                is_primary,
                sort,
            });
        }
    };
    let key = |entity_type: EntityType, id: i64| RecordKey { entity_type, id };
    let mut list = |ids_field: &str, one_field: &str, target: EntityType| {
        let ids = id_list(record.field(ids_field));
        let primary = record.id_field(one_field);
        if ids.is_empty() {
            if let Some(id) = primary {
                add(key(target, id), true, 10);
            }
            return;
        }
        // The first id is the primary: the client keeps the portal's primary first
        // (`contactId`/`companyId`), and a local «make primary» moves an id to the front before
        // the portal's answer brings the single-id field along.
        let primary = ids[0];
        for (i, id) in ids.iter().enumerate() {
            add(key(target, *id), *id == primary, (i as i64 + 1) * 10);
        }
    };
    match record.key.entity_type {
        EntityType::Deal | EntityType::Lead => {
            list("contactIds", "contactId", EntityType::Contact);
        }
        EntityType::Contact => list("companyIds", "companyId", EntityType::Company),
        EntityType::Company => list("contactIds", "__none__", EntityType::Contact),
    }
    if !matches!(
        record.key.entity_type,
        EntityType::Contact | EntityType::Company
    ) {
        if let Some(id) = record.id_field("companyId") {
            add(key(EntityType::Company, id), true, 10);
        }
    }
    if record.key.entity_type != EntityType::Lead {
        if let Some(id) = record.id_field("leadId") {
            add(key(EntityType::Lead, id), true, 10);
        }
    }
    out
}

fn id_list(v: Option<&Value>) -> Vec<i64> {
    match v {
        Some(v @ Value::Array(_)) => kartoteka_domain::record::link_ids(v),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn record(entity_type: EntityType, fields: Value) -> Record {
        Record {
            key: RecordKey { entity_type, id: 5 },
            updated_time: None,
            fields: fields.as_object().cloned().unwrap_or_default(),
            multi_fields: vec![],
        }
    }

    #[test]
    fn row_key_round_trips_and_rejects_ids_out_of_range() {
        for t in EntityType::ALL {
            for id in [1, 42, MAX_ID] {
                let r = rid(t, id).expect("in range");
                assert_eq!(
                    key_of(r).expect("decodes"),
                    RecordKey { entity_type: t, id }
                );
                let (lo, hi) = rid_range(t);
                assert!(lo <= r && r <= hi);
            }
            assert!(rid(t, 0).is_err());
            assert!(rid(t, -3).is_err());
            assert!(rid(t, MAX_ID + 1).is_err());
        }
    }

    #[test]
    fn money_becomes_minor_units_without_floats() {
        let cases = [
            (json!(19000), Some("19000"), 1_900_000),
            (json!(999.9), Some("999.9"), 99_990),
            (json!("1234.565"), Some("1234.565"), 123_457),
            (json!("-5.5"), Some("-5.5"), -550),
            (json!("0.07"), Some("0.07"), 7),
            (json!(null), None, 0),
            (json!(""), None, 0),
            (json!("abc"), Some("abc"), 0),
        ];
        for (v, text, minor) in cases {
            let (t, m) = money(Some(&v));
            assert_eq!(t.as_deref(), text, "text of {v}");
            assert_eq!(m, minor, "minor units of {v}");
        }
    }

    #[test]
    fn deal_links_mark_the_first_contact_primary_and_keep_order() {
        // `contactId` 9 is what the portal said before a local edit made 7 the primary.
        let r = record(
            EntityType::Deal,
            json!({"contactIds": [7, 3, 9], "contactId": 9, "companyId": 4, "leadId": 0}),
        );
        let links = declared_links(&r);
        let contact = |id| RecordKey {
            entity_type: EntityType::Contact,
            id,
        };
        assert_eq!(
            links,
            vec![
                DeclaredLink {
                    to: contact(7),
                    is_primary: true,
                    sort: 10
                },
                DeclaredLink {
                    to: contact(3),
                    is_primary: false,
                    sort: 20
                },
                DeclaredLink {
                    to: contact(9),
                    is_primary: false,
                    sort: 30
                },
                DeclaredLink {
                    to: RecordKey {
                        entity_type: EntityType::Company,
                        id: 4
                    },
                    is_primary: true,
                    sort: 10
                },
            ]
        );
    }

    #[test]
    fn contact_links_come_from_company_ids_and_fall_back_to_company_id() {
        let r = record(
            EntityType::Contact,
            json!({"companyIds": [], "companyId": 8}),
        );
        assert_eq!(declared_links(&r).len(), 1);
        let r = record(EntityType::Contact, json!({"companyIds": ["8", 9]}));
        let links = declared_links(&r);
        assert_eq!(links.len(), 2);
        assert!(links[0].is_primary && !links[1].is_primary);
    }

    #[test]
    fn search_query_makes_every_word_a_prefix_and_lowercases_cyrillic() {
        assert_eq!(
            search_query("Иван  ПЕТ").as_deref(),
            Some("\"иван\"* \"пет\"*")
        );
        assert_eq!(search_query(" -- "), None);
    }

    #[test]
    fn hash_separates_parts() {
        assert_ne!(hash64(&[b"ab", b"c"]), hash64(&[b"a", b"bc"]));
        assert_eq!(hash64(&[b"x"]), hash64(&[b"x"]));
    }
}
