//! The upload's decisions, as pure functions (house style: decide, then do). Given a record's
//! queued changes and the portal's current version, [`plan_update`] says, field by field, what
//! to write, what the portal already has, and what is a conflict; [`check_answer`] says which
//! written values the portal did not take.

use kartoteka_domain::record::{link_ids, LINK_FIELDS};
use kartoteka_domain::{same_value, EntityType, MultiField, OutboxOp, Record};
use kartoteka_store::QueuedEntry;
use serde_json::{json, Map, Value};
use std::collections::HashSet;

/// One field's queued changes collapsed: the base of the first, the value of the last.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldChange {
    pub field: String,
    pub ids: Vec<i64>,
    pub base: Value,
    pub mine: Value,
}

/// What to do with one record's update entries.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UpdatePlan {
    /// `fields` of `crm.item.update` (may include `fm` as an object keyed by entry id).
    pub fields: Map<String, Value>,
    /// Entries the write carries.
    pub written: Vec<FieldChange>,
    /// Entries whose value the portal already has (an earlier attempt landed, or someone made
    /// the same change): done without a write.
    pub already: Vec<i64>,
    /// Entries whose portal value changed since our base: (entry id, the portal's value).
    pub conflicts: Vec<(i64, Value)>,
    /// Link lists whose primary the write moves: set first with the binding method, which alone
    /// can name the primary (`crm.item.update` keeps the current one while it stays bound).
    pub bindings: Vec<BindingSet>,
}

/// One `*.items.set` call: every binding of one list, the first marked primary.
#[derive(Debug, Clone, PartialEq)]
pub struct BindingSet {
    /// The link-list field it writes (`contactIds`, `companyIds`).
    pub field: String,
    /// `crm.deal.contact.items.set` and the like.
    pub method: &'static str,
    /// The id key of a binding (`CONTACT_ID`, `COMPANY_ID`).
    pub key: &'static str,
    /// The linked ids, the primary first.
    pub ids: Vec<i64>,
}

impl BindingSet {
    /// The call's parameters for the record `owner`: `SORT` in list order, the first `IS_PRIMARY`.
    pub fn params(&self, owner: i64) -> Value {
        let items: Vec<Value> = self
            .ids
            .iter()
            .enumerate()
            .map(|(i, id)| {
                json!({self.key: id, "SORT": (i + 1) * 10, "IS_PRIMARY": if i == 0 { "Y" } else { "N" }})
            })
            .collect();
        json!({"id": owner, "items": items})
    }
}

/// A record's link list (`contactIds` of a deal, lead or company, `companyIds` of a contact) and,
/// where the list has a primary (all but a company's contacts), the binding method that sets it:
/// `(has a primary, method, id key)`.
pub fn link_list(t: EntityType, field: &str) -> Option<(bool, &'static str, &'static str)> {
    match (t, field) {
        (EntityType::Deal, "contactIds") => {
            Some((true, "crm.deal.contact.items.set", "CONTACT_ID"))
        }
        (EntityType::Lead, "contactIds") => {
            Some((true, "crm.lead.contact.items.set", "CONTACT_ID"))
        }
        (EntityType::Contact, "companyIds") => {
            Some((true, "crm.contact.company.items.set", "COMPANY_ID"))
        }
        (EntityType::Company, "contactIds") => {
            Some((false, "crm.company.contact.items.set", "CONTACT_ID"))
        }
        _ => None,
    }
}

/// Three-way merge of a link list (the first id is the primary where the list has one): what
/// this user added and removed since `base` applied to the portal's list, so that a link a
/// colleague added meanwhile is kept. `None` is a conflict: both changed the primary to different
/// records, or one made primary the record the other unlinked.
pub fn merge_links(
    base: &[i64],
    mine: &[i64],
    portal: &[i64],
    has_primary: bool,
) -> Option<Vec<i64>> {
    let mut out: Vec<i64> = portal
        .iter()
        .copied()
        .filter(|id| !base.contains(id) || mine.contains(id))
        .collect();
    for id in mine {
        if !base.contains(id) && !out.contains(id) {
            out.push(*id);
        }
    }
    if !has_primary {
        return Some(out);
    }
    let (b, m, p) = (base.first(), mine.first(), portal.first());
    if b.is_none() {
        // No link before, so no primary was chosen: the portal's first stays primary (a
        // colleague linked it first), else mine.
        if let Some(id) = p.or(m) {
            if let Some(at) = out.iter().position(|x| x == id) {
                out[..=at].rotate_right(1);
            }
        }
        return Some(out);
    }
    let mine_moved = m != b;
    let theirs_moved = p != b;
    if mine_moved && theirs_moved && m != p {
        return None;
    }
    let primary = if mine_moved {
        m
    } else {
        p.filter(|id| out.contains(id))
    };
    match primary {
        Some(id) if out.contains(id) => {
            let at = out.iter().position(|x| x == id).unwrap_or(0);
            out[..=at].rotate_right(1);
        }
        Some(_) => return None,
        None => {}
    }
    if theirs_moved && p.is_some_and(|id| !mine.contains(id) && base.contains(id)) {
        return None;
    }
    Some(out)
}

impl UpdatePlan {
    /// [`for_the_wire`] on the fields to write; the written changes then name the values as sent,
    /// so that the portal's answer is checked against what it was given (`"Y"`, not `1`).
    pub fn for_the_wire(&mut self, booleans: &HashSet<String>) {
        for_the_wire(&mut self.fields, booleans);
        for change in &mut self.written {
            if let Some(sent) = self.fields.get(&change.field) {
                if booleans.contains(&change.field) {
                    change.mine = sent.clone();
                }
            }
        }
    }
}

/// Collapses a record's update entries per field, in first-edit order.
pub fn collapse(entries: &[QueuedEntry]) -> Vec<FieldChange> {
    let mut out: Vec<FieldChange> = Vec::new();
    for e in entries.iter().filter(|e| e.op == OutboxOp::Update) {
        match out.iter_mut().find(|c| c.field == e.field) {
            Some(c) => {
                c.ids.push(e.id);
                c.mine = e.new.clone();
            }
            None => out.push(FieldChange {
                field: e.field.clone(),
                ids: vec![e.id],
                base: e.base.clone(),
                mine: e.new.clone(),
            }),
        }
    }
    out
}

fn entry(v: &Value) -> Option<MultiField> {
    serde_json::from_value(v.clone()).ok()
}

fn same_entry(a: &MultiField, b: &MultiField) -> bool {
    a.kind == b.kind && a.value_type == b.value_type && same_text(&a.value, &b.value)
}

/// Phones compare by their digits ("+7 903 218-08-88" = "+79032180888"), the rest as text.
fn same_text(a: &str, b: &str) -> bool {
    let digits = |s: &str| -> String { s.chars().filter(char::is_ascii_digit).collect() };
    a.trim() == b.trim()
        || (!digits(a).is_empty()
            && digits(a) == digits(b)
            && a.chars().all(|c| c.is_ascii_digit() || " +-()".contains(c))
            && b.chars().all(|c| c.is_ascii_digit() || " +-()".contains(c)))
}

fn fm_element(m: &MultiField, value: &str) -> Value {
    json!({"typeId": m.kind, "valueType": m.value_type, "value": value})
}

/// Decides a record's update entries against the portal's current version.
pub fn plan_update(entries: &[QueuedEntry], current: &Record) -> UpdatePlan {
    let mut plan = UpdatePlan::default();
    let mut fm = Map::new();
    let mut next_new = 0usize;
    for change in collapse(entries) {
        // Values sent before without a known outcome (a cut connection, a crash while
        // sending): the portal may hold one of them, and then that is the base we meet.
        let attempted: Vec<&Value> = entries
            .iter()
            .filter(|e| {
                change.ids.contains(&e.id)
                    && (e.attempts > 0 || e.state == kartoteka_domain::OutboxState::Sending)
            })
            .map(|e| &e.new)
            .collect();
        // Edits that end where they began change nothing, whatever the portal holds now —
        // unless an earlier value may have reached it.
        if attempted.is_empty() && same_value(&change.base, &change.mine) {
            plan.already.extend(&change.ids);
            continue;
        }
        if let Some(id) = change.field.strip_prefix("fm:") {
            let id: i64 = id.parse().unwrap_or(0);
            let portal = current.multi_fields.iter().find(|m| m.id == id);
            let mine = entry(&change.mine);
            let base = entry(&change.base);
            if id < 0 {
                // A new entry: the portal may have it already (an uncertain earlier attempt).
                let Some(mine) = mine else {
                    plan.already.extend(&change.ids);
                    continue;
                };
                if current
                    .multi_fields
                    .iter()
                    .any(|m| m.kind == mine.kind && same_text(&m.value, &mine.value))
                {
                    plan.already.extend(&change.ids);
                } else {
                    fm.insert(format!("n{next_new}"), fm_element(&mine, &mine.value));
                    next_new += 1;
                    plan.written.push(change);
                }
                continue;
            }
            match (portal, mine, base) {
                // Removal: gone already, or unchanged since our base → delete by value "".
                (None, None, _) => plan.already.extend(&change.ids),
                (Some(p), None, Some(b)) if same_entry(p, &b) => {
                    fm.insert(id.to_string(), fm_element(p, ""));
                    plan.written.push(change);
                }
                (Some(p), Some(m), _) if same_entry(p, &m) => plan.already.extend(&change.ids),
                (Some(p), Some(m), Some(b)) if same_entry(p, &b) => {
                    fm.insert(id.to_string(), fm_element(&m, &m.value));
                    plan.written.push(change);
                }
                (p, _, _) => {
                    let theirs = p.map(|p| serde_json::to_value(p).unwrap_or(Value::Null));
                    for id in &change.ids {
                        plan.conflicts
                            .push((*id, theirs.clone().unwrap_or(Value::Null)));
                    }
                }
            }
            continue;
        }
        let portal = current
            .fields
            .get(&change.field)
            .cloned()
            .unwrap_or(Value::Null);
        let landed = |same: &dyn Fn(&Value) -> bool| attempted.iter().any(|v| same(v));
        if let Some((has_primary, method, key)) = link_list(current.key.entity_type, &change.field)
        {
            let same_list = |v: &Value| link_ids(v) == link_ids(&portal);
            let base = if landed(&same_list) {
                link_ids(&portal)
            } else {
                link_ids(&change.base)
            };
            let (base, mine, theirs) = (base, link_ids(&change.mine), link_ids(&portal));
            let Some(merged) = merge_links(&base, &mine, &theirs, has_primary) else {
                for id in &change.ids {
                    plan.conflicts.push((*id, portal.clone()));
                }
                continue;
            };
            if merged == theirs {
                plan.already.extend(&change.ids);
                continue;
            }
            if has_primary && !merged.is_empty() && merged.first() != theirs.first() {
                plan.bindings.push(BindingSet {
                    field: change.field.clone(),
                    method,
                    key,
                    ids: merged.clone(),
                });
            }
            plan.fields.insert(change.field.clone(), json!(merged));
            plan.written.push(FieldChange {
                mine: json!(merged),
                ..change
            });
            continue;
        }
        let base = if landed(&|v: &Value| same_value(v, &portal)) {
            &portal
        } else {
            &change.base
        };
        if same_value(&portal, &change.mine) {
            plan.already.extend(&change.ids);
        } else if same_value(&portal, base) {
            plan.fields
                .insert(change.field.clone(), change.mine.clone());
            plan.written.push(change);
        } else {
            for id in &change.ids {
                plan.conflicts.push((*id, portal.clone()));
            }
        }
    }
    if !fm.is_empty() {
        plan.fields.insert("fm".into(), Value::Object(fm));
    }
    plan
}

/// The written changes the portal's answer does not show: values it silently did not take
/// (an unparseable date, a yes/no, a multi-field element it ignored). Returns the field names.
pub fn check_answer(written: &[FieldChange], answered: &Record) -> Vec<String> {
    let mut missing = Vec::new();
    for change in written {
        if let Some(id) = change.field.strip_prefix("fm:") {
            let id: i64 = id.parse().unwrap_or(0);
            let ok = match entry(&change.mine) {
                // Added or changed: an entry with that value is there.
                Some(m) => answered
                    .multi_fields
                    .iter()
                    .any(|a| a.kind == m.kind && same_text(&a.value, &m.value)),
                // Removed: the entry is gone.
                None => !answered.multi_fields.iter().any(|a| a.id == id),
            };
            if !ok {
                missing.push(change.field.clone());
            }
            continue;
        }
        let got = answered
            .fields
            .get(&change.field)
            .cloned()
            .unwrap_or(Value::Null);
        let taken = match link_list(answered.key.entity_type, &change.field) {
            // A link list: the same records, and the same one first where it has a primary
            // (the portal orders the rest by its own SORT).
            Some((has_primary, _, _)) => {
                let (a, b) = (link_ids(&got), link_ids(&change.mine));
                let mut sa = a.clone();
                let mut sb = b.clone();
                sa.sort_unstable();
                sb.sort_unstable();
                sa == sb && (!has_primary || a.first() == b.first())
            }
            None => same_value(&got, &change.mine),
        };
        if !taken {
            missing.push(change.field.clone());
        }
    }
    missing
}

/// Puts written `fields` in the form a portal reads the same in and out of `batch`, where every
/// command is a PHP query string:
/// - An empty value (`null`, `[]`) becomes `""`: a query string has no `null` and no empty
///   array (the key vanishes, so the old value stays, and a `fields` of nothing but that key is
///   missing altogether), while the item controller clears a field written as `""`
///   (`Field::isValueEmpty`). Links (`contactIds`) are cleared the same way.
/// - A yes/no field (named in `booleans`) becomes `"Y"` or `"N"`: the controller takes only
///   `true`, `"true"`, `"y"` and `"Y"` as yes (`prepareBooleanFieldValue`), and a JSON `true`
///   arrives as `"1"`, a no. What the user meant as yes (`true`, `1`, `"1"`, `"Y"`, `"true"`)
///   becomes `"Y"`.
///
/// `fm` (an object of entries) is left as it is.
pub fn for_the_wire(fields: &mut Map<String, Value>, booleans: &HashSet<String>) {
    fn yes_no(v: &Value) -> Value {
        let yes = match v {
            Value::Bool(b) => *b,
            Value::Number(n) => n.as_f64().is_some_and(|x| x != 0.0),
            Value::String(s) => matches!(s.trim(), "Y" | "y" | "1" | "true"),
            Value::Null => return json!(""),
            Value::Array(a) if a.is_empty() => return json!(""),
            Value::Array(a) => return Value::Array(a.iter().map(yes_no).collect()),
            Value::Object(_) => return v.clone(),
        };
        json!(if yes { "Y" } else { "N" })
    }
    for (name, value) in fields.iter_mut() {
        if booleans.contains(name) {
            *value = yes_no(value);
        } else if value.is_null() || value.as_array().is_some_and(Vec::is_empty) {
            *value = json!("");
        }
    }
}

/// `fields` of `crm.item.add` for a create entry: the values, `fm` as an array (CONTRACT §2.5),
/// and the tag that makes the create safe to look up after an uncertain outcome.
pub fn create_fields(entry: &QueuedEntry, originator: &str) -> Map<String, Value> {
    let mut fields = entry
        .new
        .get("fields")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let fm: Vec<Value> = entry
        .new
        .get("fm")
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .filter_map(entry_ref)
                .map(|m| fm_element(&m, &m.value))
                .collect()
        })
        .unwrap_or_default();
    if !fm.is_empty() {
        fields.insert("fm".into(), Value::Array(fm));
    }
    fields.insert("originatorId".into(), json!(originator));
    if let Some(origin) = &entry.origin_id {
        fields.insert("originId".into(), json!(origin));
    }
    fields
}

fn entry_ref(v: &Value) -> Option<MultiField> {
    entry(v)
}

/// The records created here, not yet on the portal, that an entry links to: it waits until
/// they have their portal ids (the replica then writes those into the entry). Only link fields
/// ([`LINK_FIELDS`]) name records; any other number is a value, however large (an amount of
/// 200 000 000 000 000 is no local id).
pub fn local_records_named(e: &QueuedEntry) -> Vec<i64> {
    let named = |v: &Value| -> Vec<i64> {
        link_ids(v)
            .into_iter()
            .filter(|id| *id >= kartoteka_domain::LOCAL_ID_BASE)
            .collect()
    };
    match e.op {
        OutboxOp::Update if LINK_FIELDS.contains(&e.field.as_str()) => named(&e.new),
        OutboxOp::Create => {
            let fields = e.new.get("fields").and_then(Value::as_object);
            LINK_FIELDS
                .iter()
                .filter_map(|f| fields.and_then(|m| m.get(*f)))
                .flat_map(named)
                .collect()
        }
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kartoteka_domain::{EntityType, MultiFieldKind, OutboxState, RecordKey};

    fn q(id: i64, field: &str, base: Value, new: Value) -> QueuedEntry {
        QueuedEntry {
            id,
            op: OutboxOp::Update,
            field: field.into(),
            base,
            new,
            origin_id: None,
            state: OutboxState::Pending,
            attempts: 0,
            happened_ms: 0,
            unanswered_ms: None,
        }
    }

    fn portal(fields: Value, fm: Vec<MultiField>) -> Record {
        Record {
            key: RecordKey {
                entity_type: EntityType::Contact,
                id: 5,
            },
            updated_time: None,
            fields: fields.as_object().cloned().unwrap_or_default(),
            multi_fields: fm,
        }
    }

    fn phone(id: i64, value: &str) -> MultiField {
        MultiField {
            id,
            kind: MultiFieldKind::Phone,
            value_type: "WORK".into(),
            value: value.into(),
        }
    }

    #[test]
    fn unchanged_field_is_written_changed_field_conflicts_other_fields_merge() {
        let entries = [
            q(1, "opportunity", json!("1000"), json!("1500")),
            q(2, "title", json!("Старое"), json!("Моё")),
        ];
        // Someone else changed the title meanwhile (and the comment, which we did not touch).
        let current = portal(
            json!({"opportunity": "1000.00", "title": "Их", "comments": "новый"}),
            vec![],
        );
        let plan = plan_update(&entries, &current);
        assert_eq!(
            plan.fields,
            json!({"opportunity": "1500"}).as_object().cloned().unwrap()
        );
        assert_eq!(plan.conflicts, vec![(2, json!("Их"))]);
        assert!(plan.already.is_empty());
    }

    #[test]
    fn a_value_already_on_the_portal_is_done_without_a_write() {
        let entries = [q(1, "opportunity", json!("1000"), json!("1500"))];
        let plan = plan_update(&entries, &portal(json!({"opportunity": 1500}), vec![]));
        assert!(plan.fields.is_empty());
        assert_eq!(plan.already, vec![1]);
    }

    #[test]
    fn two_edits_of_one_field_upload_once_from_the_first_base() {
        let entries = [
            q(1, "title", json!("A"), json!("B")),
            q(2, "title", json!("B"), json!("C")),
        ];
        let plan = plan_update(&entries, &portal(json!({"title": "A"}), vec![]));
        assert_eq!(plan.fields["title"], json!("C"));
        assert_eq!(plan.written[0].ids, vec![1, 2]);
    }

    #[test]
    fn edits_that_end_where_they_began_write_nothing_even_when_the_portal_moved_on() {
        let entries = [
            q(1, "title", json!("A"), json!("B")),
            q(2, "title", json!("A"), json!("A")),
        ];
        let plan = plan_update(&entries, &portal(json!({"title": "C"}), vec![]));
        assert!(
            plan.fields.is_empty() && plan.conflicts.is_empty(),
            "{plan:?}"
        );
        assert_eq!(plan.already, vec![1, 2]);
    }

    #[test]
    fn a_value_sent_without_a_known_outcome_is_the_base_when_the_portal_has_it() {
        let mut sent = q(1, "title", json!("A"), json!("B"));
        sent.attempts = 1;
        // Sent B (uncertain), then back to A: the portal took B, so A is written.
        let entries = [sent.clone(), q(2, "title", json!("A"), json!("A"))];
        let plan = plan_update(&entries, &portal(json!({"title": "B"}), vec![]));
        assert_eq!(plan.fields.get("title"), Some(&json!("A")), "{plan:?}");
        assert!(plan.conflicts.is_empty());
        // Sent B (uncertain), then C: B landed, so C is no conflict with oneself.
        let entries = [sent.clone(), q(2, "title", json!("A"), json!("C"))];
        let plan = plan_update(&entries, &portal(json!({"title": "B"}), vec![]));
        assert_eq!(plan.fields.get("title"), Some(&json!("C")), "{plan:?}");
        // Someone else's value is still a conflict.
        let plan = plan_update(&entries, &portal(json!({"title": "D"}), vec![]));
        assert_eq!(plan.conflicts.len(), 2, "{plan:?}");
    }

    #[test]
    fn phones_are_written_as_an_object_keyed_by_entry_id() {
        let p15 = phone(15, "+7 900 000-00-15");
        let p16 = phone(16, "+7 900 000-00-16");
        let entries = [
            q(
                1,
                "fm:-1",
                Value::Null,
                serde_json::to_value(phone(-1, "+7 901 1")).unwrap(),
            ),
            q(
                2,
                "fm:15",
                serde_json::to_value(&p15).unwrap(),
                serde_json::to_value(phone(15, "+7 900 999")).unwrap(),
            ),
            q(3, "fm:16", serde_json::to_value(&p16).unwrap(), Value::Null),
        ];
        let plan = plan_update(&entries, &portal(json!({}), vec![p15, p16]));
        assert_eq!(
            plan.fields["fm"],
            json!({
                "n0": {"typeId": "PHONE", "valueType": "WORK", "value": "+7 901 1"},
                "15": {"typeId": "PHONE", "valueType": "WORK", "value": "+7 900 999"},
                "16": {"typeId": "PHONE", "valueType": "WORK", "value": ""}
            })
        );
    }

    #[test]
    fn a_phone_changed_by_someone_else_is_a_conflict_and_an_added_one_is_not_added_twice() {
        let p15 = phone(15, "+7 900 000-00-15");
        let entries = [
            q(1, "fm:15", serde_json::to_value(&p15).unwrap(), Value::Null),
            q(
                2,
                "fm:-1",
                Value::Null,
                serde_json::to_value(phone(-1, "+7 (901) 111-22-33")).unwrap(),
            ),
        ];
        let current = portal(
            json!({}),
            vec![phone(15, "+7 999"), phone(40, "+79011112233")],
        );
        let plan = plan_update(&entries, &current);
        assert_eq!(plan.conflicts.len(), 1);
        assert_eq!(plan.conflicts[0].0, 1);
        assert_eq!(plan.already, vec![2]);
        assert!(plan.fields.is_empty());
    }

    #[test]
    fn values_the_portal_did_not_take_are_named() {
        let written = vec![
            FieldChange {
                field: "UF_CRM_DATE".into(),
                ids: vec![1],
                base: Value::Null,
                mine: json!("2026-13-45"),
            },
            FieldChange {
                field: "title".into(),
                ids: vec![2],
                base: Value::Null,
                mine: json!("Новое"),
            },
        ];
        let answered = portal(json!({"UF_CRM_DATE": null, "title": "Новое"}), vec![]);
        assert_eq!(
            check_answer(&written, &answered),
            vec!["UF_CRM_DATE".to_string()]
        );
    }

    #[test]
    fn only_link_fields_name_records_created_here() {
        let local = kartoteka_domain::LOCAL_ID_BASE + 3;
        let named = |field: &str, new: Value| local_records_named(&q(1, field, Value::Null, new));
        assert_eq!(named("contactIds", json!([5, local])), vec![local]);
        assert_eq!(named("companyId", json!(local.to_string())), vec![local]);
        assert!(named("contactIds", json!([5, 6])).is_empty());
        // An amount above the first local id is a value, not a record.
        assert!(named("opportunity", json!(200_000_000_000_000u64)).is_empty());
        assert!(named("opportunity", json!(1e18)).is_empty());
        assert!(named("UF_CRM_VISITS", json!([local])).is_empty());
        let mut create = q(
            2,
            "*",
            Value::Null,
            json!({"fields": {"title": "Новая", "opportunity": local, "contactIds": [local + 1]}}),
        );
        create.op = OutboxOp::Create;
        assert_eq!(local_records_named(&create), vec![local + 1]);
    }

    #[test]
    fn creates_carry_the_tag_and_fm_as_an_array() {
        let mut e = q(
            1,
            "*",
            Value::Null,
            json!({"fields": {"name": "Олег"}, "fm": [phone(-1, "+7 903")]}),
        );
        e.op = OutboxOp::Create;
        e.origin_id = Some("dev-7-140737488355329".into());
        let f = create_fields(&e, "kartoteka");
        assert_eq!(f["originatorId"], json!("kartoteka"));
        assert_eq!(f["originId"], json!("dev-7-140737488355329"));
        assert_eq!(
            f["fm"],
            json!([{"typeId": "PHONE", "valueType": "WORK", "value": "+7 903"}])
        );
    }

    #[test]
    fn link_lists_merge_what_each_side_changed_and_the_primary_is_first() {
        let m = |b: &[i64], mine: &[i64], p: &[i64]| merge_links(b, mine, p, true);
        // I made 2 primary, a colleague added 9: both kept.
        assert_eq!(m(&[1, 2], &[2, 1], &[1, 2, 9]), Some(vec![2, 1, 9]));
        // I removed 2, a colleague made 3 primary: merged.
        assert_eq!(m(&[1, 2, 3], &[1, 3], &[3, 1, 2]), Some(vec![3, 1]));
        // Same new primary on both sides: no conflict.
        assert_eq!(m(&[1, 2], &[2, 1], &[2, 1]), Some(vec![2, 1]));
        // Different new primaries: a conflict.
        assert_eq!(m(&[1, 2, 3], &[2, 1, 3], &[3, 1, 2]), None);
        // My new primary was unlinked meanwhile: a conflict.
        assert_eq!(m(&[1, 2], &[2, 1], &[1]), None);
        // Their new primary is one I unlinked: a conflict.
        assert_eq!(m(&[1, 2, 3], &[1, 2], &[3, 1, 2]), None);
        // Both linked a first contact to a record that had none: both kept, theirs primary.
        assert_eq!(m(&[], &[4], &[7]), Some(vec![7, 4]));
        // A company's contacts have no primary: order is no choice.
        assert_eq!(
            merge_links(&[1, 2], &[2, 1, 5], &[1, 2, 7], false),
            Some(vec![1, 2, 7, 5])
        );
    }

    #[test]
    fn a_moved_primary_is_set_with_the_binding_method_the_rest_with_the_update() {
        let mut deal = portal(json!({"contactIds": [1, 2], "contactId": 1}), vec![]);
        deal.key.entity_type = EntityType::Deal;
        let plan = plan_update(&[q(1, "contactIds", json!([1, 2]), json!([2, 1]))], &deal);
        assert_eq!(plan.fields["contactIds"], json!([2, 1]));
        assert_eq!(plan.bindings.len(), 1);
        assert_eq!(
            plan.bindings[0].params(7),
            json!({"id": 7, "items": [
                {"CONTACT_ID": 2, "SORT": 10, "IS_PRIMARY": "Y"},
                {"CONTACT_ID": 1, "SORT": 20, "IS_PRIMARY": "N"}]})
        );
        assert_eq!(plan.bindings[0].method, "crm.deal.contact.items.set");
        // Only a contact added: the primary stays, the update alone writes it.
        let plan = plan_update(
            &[q(2, "contactIds", json!([1, 2]), json!([1, 2, 3]))],
            &deal,
        );
        assert!(plan.bindings.is_empty());
        assert_eq!(plan.fields["contactIds"], json!([1, 2, 3]));
    }

    #[test]
    fn yes_no_fields_go_as_y_or_n_and_empty_values_as_empty_strings() {
        let booleans: HashSet<String> = ["opened", "UF_CRM_VIP", "UF_CRM_FLAGS"]
            .into_iter()
            .map(String::from)
            .collect();
        for (mine, wire) in [
            (json!(true), json!("Y")),
            (json!(false), json!("N")),
            (json!(1), json!("Y")),
            (json!(0), json!("N")),
            (json!("1"), json!("Y")),
            (json!("0"), json!("N")),
            (json!("Y"), json!("Y")),
            (json!("y"), json!("Y")),
            (json!("true"), json!("Y")),
            (json!("N"), json!("N")),
            (Value::Null, json!("")),
        ] {
            let mut fields = Map::new();
            fields.insert("opened".into(), mine.clone());
            fields.insert("title".into(), json!(true));
            for_the_wire(&mut fields, &booleans);
            assert_eq!(fields["opened"], wire, "{mine}");
            assert_eq!(fields["title"], json!(true), "not a yes/no field");
        }
        let mut fields = Map::new();
        fields.insert("UF_CRM_FLAGS".into(), json!([1, 0, true]));
        fields.insert("opportunity".into(), Value::Null);
        fields.insert("contactIds".into(), json!([]));
        fields.insert("UF_CRM_TAGS".into(), json!([]));
        fields.insert("probability".into(), json!(0));
        fields.insert("comments".into(), json!("0"));
        fields.insert("fm".into(), json!({"5": {"VALUE": ""}}));
        for_the_wire(&mut fields, &booleans);
        assert_eq!(fields["UF_CRM_FLAGS"], json!(["Y", "N", "Y"]));
        for cleared in ["opportunity", "contactIds", "UF_CRM_TAGS"] {
            assert_eq!(fields[cleared], json!(""), "{cleared} is cleared by \"\"");
        }
        assert_eq!(fields["probability"], json!(0), "0 is a value");
        assert_eq!(fields["comments"], json!("0"), "\"0\" is a value");
        assert_eq!(fields["fm"], json!({"5": {"VALUE": ""}}));
    }
}
