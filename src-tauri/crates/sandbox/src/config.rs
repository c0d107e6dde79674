//! Portal configuration switchable through `POST /_emu/config`.

use crate::LimitsPreset;
use serde_json::{json, Value};
use std::collections::BTreeMap;

#[derive(Debug, Clone)]
pub struct RateLimit {
    pub enabled: bool,
    pub capacity: f64,
    pub drain_per_second: f64,
    /// `ip` or `credential`.
    pub key: String,
}

#[derive(Debug, Clone)]
pub struct OperatingLimit {
    pub enabled: bool,
    pub limit_seconds: f64,
    /// Fixed cost charged per call; `None` charges the call's processing time (measured, or
    /// `callSeconds`), nothing when that is 0.1 s or less.
    pub cost_per_call_seconds: Option<f64>,
    /// Batch commands of webhooks share one budget per method across the whole portal (default,
    /// as the server keys them); `false` keys them by webhook like direct calls (lenient).
    pub shared_batch_budget: bool,
}

#[derive(Debug, Clone)]
pub struct Config {
    /// Portal offset in seconds east of UTC (default +03:00).
    pub portal_offset: i32,
    pub plan: String,
    pub rate: RateLimit,
    pub operating: OperatingLimit,
    pub access_token_ttl: i64,
    pub unordered_lists_when_no_order: bool,
    pub zero_timings: bool,
    /// Simulated processing time of one call (a direct call or a batch command) by lower-case
    /// method name, `*` for any other method; a method not covered takes its measured time.
    pub call_seconds: BTreeMap<String, f64>,
    /// The cloud front ends a request whose processing has reached this many seconds with a
    /// 504 page (default 60); `None` never cuts (lenient).
    pub request_cutoff_seconds: Option<f64>,
    /// Error for a bad webhook code: `INVALID_CREDENTIALS` (default, as live portals) or
    /// `NO_AUTH_FOUND` (the older answer, kept behind the switch).
    pub bad_auth_code: String,
    pub bad_auth_status: u16,
    pub insufficient_scope_status: u16,
    /// `0` (default) or `ENTITY_TYPE_NOT_SUPPORTED` for stagehistory on contacts/companies.
    pub stagehistory_unsupported_code: String,
    pub method_not_found_status: u16,
    /// Who may call `crm.timeline.logmessage.add`: `edit` (default: edit permission on the item,
    /// `canUpdate` in 26.250's `crm/lib/controller/timeline/logmessage.php`) or `admin`
    /// (administrators only, as older portals had it).
    pub logmessage_add: String,
    /// Deletes move items to the recycle bin (default on, as on cloud portals; §11 #13).
    pub recycle_bin: bool,
    /// Lenient switch: a `crm.item.list` select without `*` keeps the named system keys (and
    /// always `id`) even with `useOriginalUfNames=Y`. Off by default: a real portal keeps only
    /// the selected `UF_*` keys then (see `items::parse_select`).
    pub narrow_select_keeps_system_keys: bool,
    /// Lenient switch: a user field of type boolean also takes `1` / `"1"` as yes. Off by
    /// default: the item controller reads only `true`, `"true"`, `"y"`, `"Y"` as yes.
    pub uf_boolean_one_is_yes: bool,
    /// The portal's named time zone (`portalZone`, e.g. `America/New_York`), with its summer
    /// time; `None` keeps the fixed `portal_offset`. When set, `portal_offset` follows the
    /// zone's offset at the virtual clock's time of the setting.
    pub portal_zone: Option<chrono_tz::Tz>,
    /// Lenient switch: `contactIds` written by `crm.item.add/update` makes its first id the
    /// primary contact (what `EntityBinding::normalizeEntityBindings` does in 26.250). Off by
    /// default: the order chooses nothing, the current primary stays while bound
    /// (`Binding::selectPrimaryBoundEntity`), and only `*.contact.items.set` with `IS_PRIMARY`
    /// moves it.
    pub contact_ids_order_chooses_primary: bool,
    /// Users' personal time zones (`userTimeZones`: `{"1": "Europe/Berlin"}`), shown as their
    /// `TIME_ZONE` and applied to the datetimes they read (`CRestUtil::ConvertDateTime`).
    pub user_zones: std::collections::BTreeMap<i64, chrono_tz::Tz>,
    /// The main module's `use_time_zones` (`useTimeZones`, on by default as on cloud portals):
    /// off, personal zones change nothing (`CTimeZone::Enabled`).
    pub use_time_zones: bool,
}

impl Config {
    /// The portal's zone: the named zone when set, else the fixed offset.
    pub fn zone(&self) -> crate::clock::Zone {
        match self.portal_zone {
            Some(tz) => crate::clock::Zone::Named(tz),
            None => crate::clock::Zone::Fixed(self.portal_offset),
        }
    }

    pub fn new(limits: LimitsPreset) -> Config {
        let (enabled, cap, drain, plan) = match limits {
            LimitsPreset::Off => (false, 50.0, 2.0, "standard"),
            LimitsPreset::Standard => (true, 50.0, 2.0, "standard"),
            LimitsPreset::Enterprise => (true, 250.0, 5.0, "enterprise"),
        };
        Config {
            portal_offset: 3 * 3600,
            plan: plan.into(),
            rate: RateLimit {
                enabled,
                capacity: cap,
                drain_per_second: drain,
                key: "ip".into(),
            },
            operating: OperatingLimit {
                enabled,
                limit_seconds: 420.0,
                cost_per_call_seconds: None,
                shared_batch_budget: true,
            },
            access_token_ttl: 3600,
            unordered_lists_when_no_order: false,
            zero_timings: false,
            call_seconds: BTreeMap::new(),
            request_cutoff_seconds: Some(60.0),
            // live portals answer a wrong webhook code with INVALID_CREDENTIALS (issue 7 §9)
            bad_auth_code: "INVALID_CREDENTIALS".into(),
            bad_auth_status: 401,
            insufficient_scope_status: 403,
            stagehistory_unsupported_code: "0".into(),
            method_not_found_status: 404,
            logmessage_add: "edit".into(),
            recycle_bin: true,
            narrow_select_keeps_system_keys: false,
            uf_boolean_one_is_yes: false,
            portal_zone: None,
            contact_ids_order_chooses_primary: false,
            user_zones: std::collections::BTreeMap::new(),
            use_time_zones: true,
        }
    }

    /// Applies a `POST /_emu/config` body; unknown keys are ignored.
    pub fn apply(&mut self, v: &Value) -> Result<(), String> {
        if let Some(o) = v.get("portalOffset") {
            self.portal_offset = parse_offset(o).ok_or("portalOffset must be like +03:00")?;
        }
        if let Some(p) = v.get("plan").and_then(Value::as_str) {
            let (cap, drain) = match p {
                "enterprise" => (250.0, 5.0),
                _ => (50.0, 2.0),
            };
            self.plan = p.into();
            self.rate.capacity = cap;
            self.rate.drain_per_second = drain;
        }
        if let Some(r) = v.get("rateLimit") {
            if let Some(b) = r.get("enabled").and_then(Value::as_bool) {
                self.rate.enabled = b;
            }
            if let Some(x) = r.get("capacity").and_then(Value::as_f64) {
                self.rate.capacity = x;
            }
            if let Some(x) = r.get("drainPerSecond").and_then(Value::as_f64) {
                self.rate.drain_per_second = x;
            }
            if let Some(k) = r.get("key").and_then(Value::as_str) {
                self.rate.key = k.into();
            }
        }
        if let Some(o) = v.get("operatingLimit") {
            if let Some(b) = o.get("enabled").and_then(Value::as_bool) {
                self.operating.enabled = b;
            }
            if let Some(x) = o.get("limitSeconds").and_then(Value::as_f64) {
                self.operating.limit_seconds = x;
            }
            if let Some(x) = o.get("costPerCallSeconds") {
                self.operating.cost_per_call_seconds = x.as_f64();
            }
            if let Some(b) = o.get("sharedBatchBudget").and_then(Value::as_bool) {
                self.operating.shared_batch_budget = b;
            }
        }
        if let Some(v) = v.get("callSeconds") {
            self.call_seconds = parse_call_seconds(v)?;
        }
        if let Some(x) = v.get("requestCutoffSeconds") {
            self.request_cutoff_seconds = match x {
                Value::Null => None,
                x => Some(
                    x.as_f64()
                        .filter(|s| *s > 0.0)
                        .ok_or("requestCutoffSeconds must be a positive number or null")?,
                ),
            };
        }
        if let Some(x) = v.get("accessTokenTtlSeconds").and_then(Value::as_i64) {
            self.access_token_ttl = x;
        }
        if let Some(b) = v.get("unorderedListsWhenNoOrder").and_then(Value::as_bool) {
            self.unordered_lists_when_no_order = b;
        }
        if let Some(b) = v
            .get("narrowSelectKeepsSystemKeys")
            .and_then(Value::as_bool)
        {
            self.narrow_select_keeps_system_keys = b;
        }
        if let Some(b) = v.get("ufBooleanOneIsYes").and_then(Value::as_bool) {
            self.uf_boolean_one_is_yes = b;
        }
        if let Some(b) = v.get("zeroTimings").and_then(Value::as_bool) {
            self.zero_timings = b;
        }
        if let Some(s) = v.get("badAuthCode").and_then(Value::as_str) {
            self.bad_auth_code = s.into();
        }
        if let Some(x) = v.get("badAuthStatus").and_then(Value::as_u64) {
            self.bad_auth_status = x as u16;
        }
        if let Some(x) = v.get("insufficientScopeStatus").and_then(Value::as_u64) {
            self.insufficient_scope_status = x as u16;
        }
        if let Some(s) = v.get("stagehistoryUnsupportedCode").and_then(Value::as_str) {
            self.stagehistory_unsupported_code = s.into();
        }
        if let Some(x) = v.get("methodNotFoundStatus").and_then(Value::as_u64) {
            self.method_not_found_status = x as u16;
        }
        if let Some(s) = v.get("logmessageAdd").and_then(Value::as_str) {
            if s != "admin" && s != "edit" {
                return Err("logmessageAdd must be \"admin\" or \"edit\"".into());
            }
            self.logmessage_add = s.into();
        }
        if let Some(b) = v.get("recycleBin").and_then(Value::as_bool) {
            self.recycle_bin = b;
        }
        match v.get("portalZone") {
            Some(Value::Null) => self.portal_zone = None,
            Some(Value::String(name)) => {
                self.portal_zone = Some(
                    name.parse::<chrono_tz::Tz>()
                        .map_err(|_| format!("portalZone: unknown time zone {name:?}"))?,
                );
            }
            Some(_) => return Err("portalZone must be a zone name like Europe/Moscow".into()),
            None => {}
        }
        if let Some(b) = v
            .get("contactIdsOrderChoosesPrimary")
            .and_then(Value::as_bool)
        {
            self.contact_ids_order_chooses_primary = b;
        }
        if let Some(b) = v.get("useTimeZones").and_then(Value::as_bool) {
            self.use_time_zones = b;
        }
        if let Some(zones) = v.get("userTimeZones") {
            let Value::Object(zones) = zones else {
                return Err("userTimeZones must be an object of user id → zone name".into());
            };
            let mut out = std::collections::BTreeMap::new();
            for (id, name) in zones {
                let id: i64 = id
                    .parse()
                    .map_err(|_| format!("userTimeZones: {id:?} is no user id"))?;
                let zone = name
                    .as_str()
                    .and_then(|n| n.parse::<chrono_tz::Tz>().ok())
                    .ok_or_else(|| format!("userTimeZones: unknown time zone {name}"))?;
                out.insert(id, zone);
            }
            self.user_zones = out;
        }
        Ok(())
    }

    pub fn to_json(&self) -> Value {
        json!({
            "portalOffset": crate::clock::offset_of(self.portal_offset).to_string(),
            "plan": self.plan,
            "rateLimit": {"enabled": self.rate.enabled, "capacity": self.rate.capacity,
                "drainPerSecond": self.rate.drain_per_second, "key": self.rate.key},
            "operatingLimit": {"enabled": self.operating.enabled, "limitSeconds": self.operating.limit_seconds,
                "costPerCallSeconds": self.operating.cost_per_call_seconds,
                "sharedBatchBudget": self.operating.shared_batch_budget},
            "callSeconds": self.call_seconds,
            "requestCutoffSeconds": self.request_cutoff_seconds,
            "accessTokenTtlSeconds": self.access_token_ttl,
            "unorderedListsWhenNoOrder": self.unordered_lists_when_no_order,
            "zeroTimings": self.zero_timings,
            "badAuthCode": self.bad_auth_code,
            "badAuthStatus": self.bad_auth_status,
            "insufficientScopeStatus": self.insufficient_scope_status,
            "stagehistoryUnsupportedCode": self.stagehistory_unsupported_code,
            "methodNotFoundStatus": self.method_not_found_status,
            "logmessageAdd": self.logmessage_add,
            "recycleBin": self.recycle_bin,
            "portalZone": self.portal_zone.map(|z| z.name().to_string()),
            "contactIdsOrderChoosesPrimary": self.contact_ids_order_chooses_primary,
            "useTimeZones": self.use_time_zones,
            "userTimeZones": self.user_zones.iter().map(|(id, z)| (id.to_string(), json!(z.name()))).collect::<serde_json::Map<String, Value>>(),
        })
    }
}

/// `callSeconds`: a number (every method), an object of method → seconds (`*` for the rest),
/// or `null` (measured times again).
fn parse_call_seconds(v: &Value) -> Result<BTreeMap<String, f64>, String> {
    const BAD: &str = "callSeconds must be a number, an object of method: seconds, or null";
    let mut out = BTreeMap::new();
    match v {
        Value::Null => {}
        Value::Number(n) => {
            out.insert(
                "*".to_string(),
                n.as_f64().filter(|s| *s >= 0.0).ok_or(BAD)?,
            );
        }
        Value::Object(m) => {
            for (method, s) in m {
                let s = s.as_f64().filter(|s| *s >= 0.0).ok_or(BAD)?;
                out.insert(method.trim_end_matches(".json").to_ascii_lowercase(), s);
            }
        }
        _ => return Err(BAD.into()),
    }
    Ok(out)
}

/// `"+03:00"`, `"-05:30"` or a number of seconds.
pub fn parse_offset(v: &Value) -> Option<i32> {
    if let Some(n) = v.as_i64() {
        return i32::try_from(n).ok();
    }
    let s = v.as_str()?;
    let (sign, rest) = match s.as_bytes().first()? {
        b'+' => (1, &s[1..]),
        b'-' => (-1, &s[1..]),
        _ => (1, s),
    };
    let (h, m) = rest.split_once(':').unwrap_or((rest, "0"));
    let h: i32 = h.parse().ok()?;
    let m: i32 = m.parse().ok()?;
    Some(sign * (h * 3600 + m * 60))
}
