//! `crm.item.fields`, `crm.item.list`, `crm.item.get` and item rendering.

use crate::api::{param, param_flag, param_i64, ApiError, Call, MethodResult, Out, Res};
use crate::filter::{self, cmp_val, Cond, Kind, View};
use crate::schema::{uf_camel_name, Field};
use crate::state::{Item, Level, Portal};
use serde_json::{Map, Value};
use std::cmp::Ordering;
use std::sync::Arc;

pub const PAGE: usize = 50;

/// Reads `entityTypeId`: one of the four served types, else 400 `NOT_FOUND`.
pub fn entity_type(p: &Value) -> Result<i64, ApiError> {
    match param_i64(p, "entityTypeId") {
        Some(t @ 1..=4) => Ok(t),
        Some(_) => Err(ApiError::bad("NOT_FOUND", "Smart process not found")),
        None => Err(ApiError::bad(
            "NOT_FOUND",
            "Could not find value for parameter {entityTypeId}",
        )),
    }
}

/// `useOriginalUfNames` (default `N`).
pub fn original_names(p: &Value) -> bool {
    param_flag(p, "useOriginalUfNames").unwrap_or(false)
}

/// Resolves a client field name (camelCase, or a UF in either naming) to a field.
pub fn resolve<'a>(portal: &'a Portal, t: i64, name: &str) -> Option<&'a Field> {
    let fields = portal.fields(t);
    fields
        .iter()
        .find(|f| f.name == name)
        .or_else(|| {
            if name.starts_with("uf") || name.starts_with("UF") {
                fields.iter().find(|f| {
                    f.dynamic
                        && (uf_camel_name(&f.name) == name || f.name.eq_ignore_ascii_case(name))
                })
            } else {
                None
            }
        })
        .or_else(|| {
            // a real portal converts keys camelCase → UPPER_SNAKE before use (CONTRACT §11 #1)
            let upper = upper_snake(name);
            fields
                .iter()
                .find(|f| !f.dynamic && upper_snake(&f.name) == upper)
        })
}

/// camelCase → UPPER_SNAKE as the portal's key converter does; a name without lowercase letters
/// (`ID`, `STAGE_ID`) is already in that form.
pub fn upper_snake(name: &str) -> String {
    if !name.chars().any(|c| c.is_ascii_lowercase()) {
        return name.to_string();
    }
    let mut out = String::with_capacity(name.len() + 4);
    for (i, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 && !out.ends_with('_') {
            out.push('_');
        }
        out.push(c.to_ascii_uppercase());
    }
    out
}

fn output_name(f: &Field, original: bool) -> String {
    if f.dynamic && !original {
        uf_camel_name(&f.name)
    } else {
        f.name.clone()
    }
}

pub fn fields(call: &mut Call<'_>, p: &Value) -> MethodResult {
    let t = entity_type(p)?;
    let original = original_names(p);
    let mut m = Map::new();
    for f in call.portal.fields(t) {
        let name = output_name(f, original);
        m.insert(name.clone(), f.describe(&name));
    }
    let mut out = Map::new();
    out.insert("fields".into(), Value::Object(m));
    Ok(Out::json(Value::Object(out)))
}

/// Which fields to render.
pub enum Select {
    All,
    Some(Vec<String>),
}

/// Which fields of `crm.item.list` to render, from its `select`.
///
/// As the server applies it (`crm/lib/controller/item.php`): `listAction` upper-cases the names
/// (`convertFieldNamesToUpper`: `id` → `ID`), `prepareSelect` keeps the fields that exist (`UF_*`
/// adds every user field), and `getJsonForItems` keeps the item's keys found in that select, with
/// the select turned back to camelCase (`convertKeysToCamelCase`) only when `useOriginalUfNames`
/// is `N`. With `Y` the select stays upper-case while system keys are camelCase (`id`,
/// `title`): only the selected `UF_*` keys survive, and an item of none is `[]`. Nothing is
/// added to the select (no implicit `id`). `lenient` keeps the named system keys with `Y` too,
/// and `id` always (the sandbox's older answer).
pub fn parse_select(
    portal: &Portal,
    t: i64,
    v: Option<&Value>,
    original: bool,
    lenient: bool,
) -> Select {
    let names: Vec<String> = match v {
        None | Some(Value::Null) => return Select::All,
        Some(Value::Array(a)) => a.iter().map(crate::values::scalar_text).collect(),
        Some(Value::Object(o)) => o.values().map(crate::values::scalar_text).collect(),
        Some(Value::String(s)) if s.is_empty() => return Select::All,
        Some(other) => vec![crate::values::scalar_text(other)],
    };
    if names.is_empty() || names.iter().any(|n| n == "*") {
        return Select::All;
    }
    let mut out: Vec<String> = if lenient {
        vec!["id".to_string()]
    } else {
        Vec::new()
    };
    let keep = |f: &Field, out: &mut Vec<String>| {
        let survives = lenient || !original || f.dynamic;
        if survives && f.name != "fm" && !out.contains(&f.name) {
            out.push(f.name.clone());
        }
    };
    for n in names {
        if n == "UF_*" || n == "uf_*" {
            for f in portal.fields(t).iter().filter(|f| f.dynamic) {
                keep(f, &mut out);
            }
            continue;
        }
        if let Some(f) = resolve(portal, t, &n) {
            keep(f, &mut out);
        }
    }
    Select::Some(out)
}

/// Renders one item for output. `select: *` is the cached JSON (UF keys renamed by text
/// replacement when camelCase names are asked for); a select of core fields only is rendered
/// from the index without parsing.
pub fn render(portal: &Portal, t: i64, item: &Item, select: &Select, original: bool) -> Arc<str> {
    match select {
        Select::All if original => return item.json.clone(),
        Select::All => return Arc::from(rename_ufs(portal, t, &item.json)),
        // PHP encodes an empty array as `[]`.
        Select::Some(names) if names.is_empty() => return Arc::from("[]"),
        Select::Some(names) if names.iter().all(|n| CORE.contains(&n.as_str())) => {
            return Arc::from(render_core(item, names, portal.offset));
        }
        Select::Some(_) => {}
    }
    let map = item.map();
    let mut out = Map::new();
    if let Select::Some(names) = select {
        for n in names {
            if let Some(v) = map.get(n) {
                let key = match portal.field(t, n) {
                    Some(f) => output_name(f, original),
                    None => n.to_string(),
                };
                out.insert(key, v.clone());
            }
        }
    }
    Arc::from(serde_json::to_string(&out).unwrap_or_default())
}

const CORE: [&str; 4] = ["id", "updatedTime", "createdTime", "assignedById"];

fn render_core(item: &Item, names: &[String], offset: i32) -> String {
    let mut s = String::with_capacity(64);
    s.push('{');
    for (i, n) in names.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        let v = match n.as_str() {
            "id" => item.id.to_string(),
            "assignedById" => item.assigned.to_string(),
            "updatedTime" => format!("\"{}\"", crate::clock::fmt_datetime(item.updated, offset)),
            _ => format!("\"{}\"", crate::clock::fmt_datetime(item.created, offset)),
        };
        s.push('"');
        s.push_str(n);
        s.push_str("\":");
        s.push_str(&v);
    }
    s.push('}');
    s
}

/// Renames top-level `"UF_…":` keys to their camelCase form. A key pattern cannot occur inside
/// a string value, where quotes are escaped.
fn rename_ufs(portal: &Portal, t: i64, json: &str) -> String {
    let mut out = json.to_string();
    for f in portal.fields(t).iter().filter(|f| f.dynamic) {
        let from = format!("\"{}\":", f.name);
        if out.contains(&from) {
            out = out.replacen(&from, &format!("\"{}\":", uf_camel_name(&f.name)), 1);
        }
    }
    out
}

fn start_of(p: &Value) -> i64 {
    param_i64(p, "start").unwrap_or(0)
}

struct Collector<'p, 'c> {
    page: Vec<&'p Item>,
    total: i64,
    skip: usize,
    keyset: bool,
    user: i64,
    rights: Level,
    cond: &'c Cond,
    offset: i32,
}

impl<'p> Collector<'p, '_> {
    /// Visits one candidate; false once a key-set page is full.
    fn visit(&mut self, item: &'p Item) -> bool {
        if !self.rights.allows(self.user, item) {
            return true;
        }
        let mut view = View::new(item, self.offset);
        if !self.cond.matches(&mut view) {
            return true;
        }
        self.total += 1;
        if self.total as usize > self.skip && self.page.len() < PAGE {
            self.page.push(item);
        }
        !(self.keyset && self.page.len() >= PAGE)
    }
}

/// What a list scan needs besides the portal.
pub struct Scan<'c> {
    pub t: i64,
    pub user: i64,
    pub cond: &'c Cond,
    pub order: &'c [(String, Kind, bool)],
    pub start: i64,
    pub offset: i32,
    pub rights: Level,
    /// Without an `order`: a seeded shuffle instead of id order (§10 #9).
    pub shuffle: Option<u64>,
}

/// splitmix64: a stable pseudo-random key per (seed, id).
fn mix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Runs a filtered, ordered, paged scan over one type. Returns (page, total; None for `start=-1`).
/// Id order is a range scan over the id index and `updatedTime, id` order a range scan over the
/// (updatedTime, id) index, both stopping early for key-set pages.
pub fn scan<'p>(portal: &'p Portal, s: &Scan<'_>) -> (Vec<&'p Item>, Option<i64>) {
    let store = portal.store(s.t);
    let keyset = s.start < 0;
    let mut c = Collector {
        page: Vec::with_capacity(PAGE),
        total: 0,
        skip: s.start.max(0) as usize,
        keyset,
        user: s.user,
        rights: s.rights,
        cond: s.cond,
        offset: s.offset,
    };
    let order = s.order;
    let by_id =
        (order.is_empty() && s.shuffle.is_none()) || (order.len() == 1 && order[0].0 == "id");
    let by_updated = !order.is_empty()
        && order[0].0 == "updatedTime"
        && order[0].2
        && (order.len() == 1 || (order.len() == 2 && order[1].0 == "id" && order[1].2));
    if by_id {
        let (lo, hi) = s.cond.id_bounds();
        if lo > hi {
            return (c.page, (!keyset).then_some(0));
        }
        let range = store.items.range(lo..=hi);
        if order.first().is_some_and(|o| !o.2) {
            for (_, it) in range.rev() {
                if !c.visit(it) {
                    break;
                }
            }
        } else {
            for (_, it) in range {
                if !c.visit(it) {
                    break;
                }
            }
        }
    } else if by_updated {
        let lb = s.cond.updated_lower_bound();
        for (_, id) in store.by_updated.range((lb, i64::MIN)..) {
            if let Some(it) = store.items.get(id) {
                if !c.visit(it) {
                    break;
                }
            }
        }
    } else {
        let mut all: Vec<(Vec<filter::Val>, &Item)> = Vec::new();
        for it in store.items.values() {
            if !s.rights.allows(s.user, it) {
                continue;
            }
            let mut view = View::new(it, s.offset);
            if s.cond.matches(&mut view) {
                let key = order
                    .iter()
                    .map(|(f, k, _)| {
                        view.values(f, *k)
                            .into_iter()
                            .next()
                            .unwrap_or(filter::Val::Null)
                    })
                    .collect();
                all.push((key, it));
            }
        }
        if let Some(seed) = s.shuffle {
            all.sort_by_key(|(_, it)| mix(seed ^ it.id as u64));
        }
        all.sort_by(|a, b| {
            if s.shuffle.is_some() {
                return Ordering::Equal;
            }
            for (i, (_, _, asc)) in order.iter().enumerate() {
                let o = cmp_val(&a.0[i], &b.0[i]);
                let o = if *asc { o } else { o.reverse() };
                if o != Ordering::Equal {
                    return o;
                }
            }
            a.1.id.cmp(&b.1.id)
        });
        c.total = all.len() as i64;
        c.page = all
            .into_iter()
            .skip(c.skip)
            .take(PAGE)
            .map(|x| x.1)
            .collect();
    }
    (c.page, (!keyset).then_some(c.total))
}

pub fn list(call: &mut Call<'_>, p: &Value) -> MethodResult {
    let t = entity_type(p)?;
    let original = original_names(p);
    let portal: &Portal = call.portal;
    let offset = call.cfg.portal_offset;
    let resolver = |n: &str| resolve(portal, t, n);
    let cond = match param(p, "filter") {
        Some(f) => filter::parse(f, &resolver, offset)
            .map_err(|e| ApiError::bad("INVALID_ARG_VALUE", e))?,
        None => Cond::All(vec![]),
    };
    let order = match param(p, "order") {
        Some(o) => {
            filter::parse_order(o, &resolver).map_err(|e| ApiError::bad("INVALID_ARG_VALUE", e))?
        }
        None => vec![],
    };
    let select = parse_select(
        portal,
        t,
        param(p, "select"),
        original,
        call.cfg.narrow_select_keeps_system_keys,
    );
    let start = start_of(p);
    let rights = portal.rights(call.user, t).read;
    let (page, total) = scan(
        portal,
        &Scan {
            t,
            user: call.user,
            cond: &cond,
            order: &order,
            start,
            offset,
            rights,
            shuffle: (order.is_empty() && call.cfg.unordered_lists_when_no_order).then_some(0x5EED),
        },
    );
    let items: Vec<Arc<str>> = page
        .iter()
        .map(|it| for_caller(call, t, render(portal, t, it, &select, original), original))
        .collect();
    match total {
        None => Ok(Out::paged(Res::Items(items), 0, None)),
        Some(total) => {
            let end = start.max(0) + PAGE as i64;
            let next = (total > end).then_some(end);
            Ok(Out::paged(Res::Items(items), total, next))
        }
    }
}

/// Finds a readable item or answers `NOT_FOUND` / `ACCESS_DENIED`.
pub fn readable<'p>(call: &'p Call<'_>, t: i64, id: i64) -> Result<&'p Item, ApiError> {
    let item = call
        .portal
        .store(t)
        .items
        .get(&id)
        .ok_or_else(|| ApiError::bad("NOT_FOUND", "Element not found"))?;
    if !call
        .portal
        .rights(call.user, t)
        .read
        .allows(call.user, item)
    {
        return Err(ApiError::bad("ACCESS_DENIED", "Access denied"));
    }
    Ok(item)
}

pub fn item_id(p: &Value) -> Result<i64, ApiError> {
    param_i64(p, "id")
        .filter(|id| *id > 0)
        .ok_or_else(|| ApiError::bad("NOT_FOUND", "Element not found"))
}

pub fn get(call: &mut Call<'_>, p: &Value) -> MethodResult {
    let t = entity_type(p)?;
    let id = item_id(p)?;
    let original = original_names(p);
    let item = readable(call, t, id)?;
    let rendered = render(call.portal, t, item, &Select::All, original);
    let rendered = for_caller(call, t, rendered, original);
    Ok(Out::json(item_envelope(&rendered)))
}

/// A rendered item as the caller reads it. `CRestUtil::ConvertDateTime` (rest/classes/general/
/// rest_util.php) is `date('c', MakeTimeStamp($dt) - CTimeZone::GetOffset())`: `$dt` as text is
/// in the user's time by the offset **at that date** (`DateTime::toString` → `toUserTime`), the
/// offset taken off is the one **now**, and `GetOffset` is the user's personal zone minus the
/// portal's. So a caller with a personal zone reads every datetime shifted by
/// `[U(t) − P(t)] − [U(now) − P(now)]`: nothing while both zones keep the same summer-time rules.
pub fn for_caller(call: &Call<'_>, t: i64, rendered: Arc<str>, original: bool) -> Arc<str> {
    let Some(user) = call.user_zone() else {
        return rendered;
    };
    let portal = call.cfg.zone();
    let user_offset = |unix: i64| {
        chrono::DateTime::from_timestamp(unix, 0)
            .map(|d| {
                use chrono::Offset;
                i64::from(d.with_timezone(&user).offset().fix().local_minus_utc())
            })
            .unwrap_or(0)
    };
    let get_offset = |unix: i64| user_offset(unix) - i64::from(portal.offset_at(unix));
    let now_shift = get_offset(call.now);
    let Ok(Value::Object(mut m)) = serde_json::from_str::<Value>(&rendered) else {
        return rendered;
    };
    let mut changed = false;
    for f in call.portal.fields(t).iter().filter(|f| f.ty == "datetime") {
        let key = output_name(f, original);
        let shifted = |text: &str| {
            let at = crate::clock::parse_datetime(text, call.offset())?;
            let shift = get_offset(at) - now_shift;
            (shift != 0).then(|| Value::String(portal.fmt(at + shift)))
        };
        // Each value of a multiple field alike.
        match m.get_mut(&key) {
            Some(Value::String(text)) => {
                if let Some(v) = shifted(text) {
                    m.insert(key, v);
                    changed = true;
                }
            }
            Some(Value::Array(items)) => {
                for x in items.iter_mut() {
                    if let Some(v) = x.as_str().and_then(shifted) {
                        *x = v;
                        changed = true;
                    }
                }
            }
            _ => {}
        }
    }
    if !changed {
        return rendered;
    }
    Arc::from(serde_json::to_string(&m).unwrap_or_default())
}

/// `{"item": {...}}` from a rendered item.
pub fn item_envelope(rendered: &str) -> Value {
    let v: Value = serde_json::from_str(rendered).unwrap_or(Value::Null);
    let mut m = Map::new();
    m.insert("item".into(), v);
    Value::Object(m)
}
