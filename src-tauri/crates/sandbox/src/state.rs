//! The portal's in-memory state: items with their indexes, users, credentials, rights,
//! links, reference lists, stage history and timeline.

use crate::schema::{self, Field, UserField};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

/// One stored CRM item: the indexed core plus the full rendered JSON (`select: ["*"]`).
#[derive(Debug, Clone)]
pub struct Item {
    pub id: i64,
    pub created: i64,
    pub updated: i64,
    pub assigned: i64,
    pub opened: bool,
    pub company_id: i64,
    /// `contactIds` of a lead/deal/company, `companyIds` of a contact.
    pub links: Box<[i64]>,
    pub json: Arc<str>,
}

impl Item {
    /// Builds the core and the rendered JSON from the full field map.
    pub fn from_map(map: &Map<String, Value>) -> Item {
        let int = |k: &str| map.get(k).and_then(as_i64).unwrap_or(0);
        let links_key = if map.contains_key("companyIds") {
            "companyIds"
        } else {
            "contactIds"
        };
        let links = map
            .get(links_key)
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(as_i64).collect::<Vec<_>>())
            .unwrap_or_default();
        let time = |k: &str| {
            map.get(k)
                .and_then(Value::as_str)
                .and_then(|s| crate::clock::parse_datetime(s, 0))
                .unwrap_or(0)
        };
        Item {
            id: int("id"),
            created: time("createdTime"),
            updated: time("updatedTime"),
            assigned: int("assignedById"),
            opened: map.get("opened").and_then(Value::as_str) == Some("Y"),
            company_id: int("companyId"),
            links: links.into_boxed_slice(),
            json: Arc::from(serde_json::to_string(map).unwrap_or_default()),
        }
    }

    /// The full field map (parsed from the rendered JSON).
    pub fn map(&self) -> Map<String, Value> {
        serde_json::from_str(&self.json).unwrap_or_default()
    }
}

/// Reads an integer from a JSON number or a numeric string.
pub fn as_i64(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
        Value::String(s) => s.trim().parse().ok(),
        Value::Bool(b) => Some(*b as i64),
        _ => None,
    }
}

/// Items of one type with their ordered indexes.
#[derive(Debug, Default)]
pub struct TypeStore {
    pub items: BTreeMap<i64, Item>,
    /// (updatedTime, id): serves `order: {updatedTime: ASC, id: ASC}` with `>=updatedTime`.
    pub by_updated: BTreeSet<(i64, i64)>,
    /// Deleted ids with their deletion time (for `/_emu/state`).
    pub deleted: BTreeMap<i64, i64>,
    pub next_id: i64,
}

impl TypeStore {
    pub fn put(&mut self, item: Item) {
        if let Some(old) = self.items.get(&item.id) {
            self.by_updated.remove(&(old.updated, old.id));
        }
        self.by_updated.insert((item.updated, item.id));
        if item.id >= self.next_id {
            self.next_id = item.id + 1;
        }
        self.items.insert(item.id, item);
    }

    pub fn remove(&mut self, id: i64, now: i64) -> Option<Item> {
        let old = self.items.remove(&id)?;
        self.by_updated.remove(&(old.updated, old.id));
        self.deleted.insert(id, now);
        Some(old)
    }

    pub fn alloc_id(&mut self) -> i64 {
        let id = self.next_id.max(1);
        self.next_id = id + 1;
        id
    }
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct User {
    pub id: i64,
    pub active: bool,
    pub name: String,
    pub last_name: String,
    pub second_name: String,
    pub email: String,
    /// `employee`, `extranet`, `email` or `bot` (bots are never returned by `user.get`).
    pub user_type: String,
    pub admin: bool,
    pub gender: String,
    pub position: String,
    pub departments: Vec<i64>,
    pub registered: i64,
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Credential {
    pub user_id: i64,
    pub scopes: Vec<String>,
    pub expires_at: Option<i64>,
    pub revoked: bool,
    /// `webhook` or `oauth`.
    pub kind: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Level {
    None,
    Own,
    Open,
    All,
}

impl Level {
    pub fn parse(s: &str) -> Option<Level> {
        match s.to_ascii_lowercase().as_str() {
            "none" => Some(Level::None),
            "own" => Some(Level::Own),
            "open" => Some(Level::Open),
            "all" => Some(Level::All),
            _ => None,
        }
    }
    pub fn allows(self, user: i64, item: &Item) -> bool {
        match self {
            Level::None => false,
            Level::Own => item.assigned == user,
            Level::Open => item.assigned == user || item.opened,
            Level::All => true,
        }
    }
}

#[derive(Debug, Clone, Copy, serde::Serialize, serde::Deserialize)]
pub struct Rights {
    pub read: Level,
    pub write: Level,
    pub delete: Level,
}

impl Rights {
    pub const ALL: Rights = Rights {
        read: Level::All,
        write: Level::All,
        delete: Level::All,
    };
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Binding {
    pub contact_id: i64,
    pub sort: i64,
    pub primary: bool,
}

#[derive(Debug, Clone)]
pub struct StageRow {
    pub id: i64,
    pub entity_type: i64,
    pub type_id: i64,
    pub owner_id: i64,
    pub created: i64,
    pub category_id: i64,
    pub stage_id: Arc<str>,
    pub semantic: &'static str,
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct LogMessage {
    pub id: i64,
    pub entity_type: i64,
    pub entity_id: i64,
    pub created: i64,
    pub author_id: i64,
    pub title: String,
    pub text: String,
    pub icon: String,
    /// The credential that created it (only it may delete it, §10 #17).
    pub credential: Option<String>,
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Comment {
    pub id: i64,
    pub entity_type: i64,
    pub entity_id: i64,
    pub created: i64,
    pub author_id: i64,
    pub comment: String,
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Status {
    pub id: i64,
    pub entity_id: String,
    pub status_id: String,
    pub name: String,
    pub sort: i64,
    pub system: bool,
    pub category_id: Option<i64>,
    pub color: String,
    /// `process`, `success`, `failure` or `apology`.
    pub semantics: String,
}

impl Status {
    /// The stage semantic letter of an item: P, S or F.
    pub fn letter(&self) -> &'static str {
        match self.semantics.as_str() {
            "success" => "S",
            "failure" | "apology" => "F",
            _ => "P",
        }
    }
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Category {
    pub id: i64,
    pub name: String,
    pub sort: i64,
    pub entity_type: i64,
}

/// Everything the portal knows.
#[derive(Debug, Default)]
pub struct Portal {
    pub types: [TypeStore; 4],
    pub users: BTreeMap<i64, User>,
    pub credentials: HashMap<String, Credential>,
    pub rights: HashMap<(i64, i64), Rights>,
    pub bindings: HashMap<i64, Vec<Binding>>,
    pub statuses: Vec<Status>,
    pub categories: Vec<Category>,
    pub userfields: Vec<UserField>,
    pub stage_history: Vec<StageRow>,
    pub log_messages: BTreeMap<i64, LogMessage>,
    pub comments: BTreeMap<i64, Comment>,
    pub timeline_index: HashMap<(i64, i64), Vec<i64>>,
    pub comment_index: HashMap<(i64, i64), Vec<i64>>,
    pub next_stage_row: i64,
    pub next_log: i64,
    pub next_comment: i64,
    pub next_fm: i64,
    pub next_status: i64,
    /// The portal offset items are rendered in (seconds east of UTC).
    pub offset: i32,
    /// The named zone the stored dates and datetimes were rendered in (`None`: `offset`).
    pub zone: Option<chrono_tz::Tz>,
    /// Cached field lists per type (system + UF), rebuilt when UFs change.
    pub fields: [Vec<Field>; 4],
    /// Items deleted while the recycle bin is on, by `(entityTypeId, id)` (kept in memory only).
    pub recycle_bin: BTreeMap<(i64, i64), Recycled>,
}

/// A deleted item in the recycle bin with what its deletion removed elsewhere.
#[derive(Debug, Clone)]
pub struct Recycled {
    pub item: Item,
    pub bindings: Option<Vec<Binding>>,
    pub log_messages: Vec<LogMessage>,
    pub comments: Vec<Comment>,
    pub stage_rows: Vec<StageRow>,
}

impl Portal {
    pub fn store(&self, t: i64) -> &TypeStore {
        &self.types[type_index(t)]
    }
    pub fn store_mut(&mut self, t: i64) -> &mut TypeStore {
        &mut self.types[type_index(t)]
    }

    pub fn rebuild_fields(&mut self) {
        for t in schema::TYPES {
            let mut v = schema::system_fields(t);
            v.extend(
                self.userfields
                    .iter()
                    .filter(|u| u.entity_type == t)
                    .map(UserField::to_field),
            );
            self.fields[type_index(t)] = v;
        }
    }

    pub fn fields(&self, t: i64) -> &[Field] {
        &self.fields[type_index(t)]
    }

    pub fn field(&self, t: i64, name: &str) -> Option<&Field> {
        self.fields(t).iter().find(|f| f.name == name)
    }

    pub fn rights(&self, user: i64, t: i64) -> Rights {
        if self.users.get(&user).is_some_and(|u| u.admin) {
            return Rights::ALL;
        }
        self.rights.get(&(user, t)).copied().unwrap_or(Rights::ALL)
    }

    /// Stages of a pipeline (lead: `STATUS`; deal: `DEAL_STAGE` / `DEAL_STAGE_{n}`), by sort.
    pub fn stages(&self, t: i64, category: i64) -> Vec<&Status> {
        let eid = stage_entity_id(t, category);
        let mut v: Vec<&Status> = self
            .statuses
            .iter()
            .filter(|s| s.entity_id == eid)
            .collect();
        v.sort_by_key(|s| s.sort);
        v
    }

    pub fn index_log(&mut self, m: &LogMessage) {
        self.timeline_index
            .entry((m.entity_type, m.entity_id))
            .or_default()
            .push(m.id);
    }

    pub fn index_comment(&mut self, c: &Comment) {
        self.comment_index
            .entry((c.entity_type, c.entity_id))
            .or_default()
            .push(c.id);
    }
}

pub fn stage_entity_id(t: i64, category: i64) -> String {
    if t == 1 {
        "STATUS".into()
    } else if category == 0 {
        "DEAL_STAGE".into()
    } else {
        format!("DEAL_STAGE_{category}")
    }
}

pub fn type_index(t: i64) -> usize {
    (t.clamp(1, 4) - 1) as usize
}
