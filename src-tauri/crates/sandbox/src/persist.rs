//! SQLite persistence (`--db FILE`): loaded at start when the file has a portal, then written
//! through on every change by a background thread, so the read path never waits on disk.

use crate::engine::Engine;
use crate::state::{Binding, Comment, Item, LogMessage, Portal, StageRow};
use crate::SandboxError;
use rusqlite::{params, Connection};
use serde_json::{json, Value};
use std::path::Path;
use std::sync::mpsc::{channel, Sender};
use std::sync::Arc;

enum Msg {
    Item {
        t: i64,
        id: i64,
        json: Option<Arc<str>>,
    },
    Bindings {
        deal: i64,
        json: Option<String>,
    },
    Timeline {
        t: i64,
        id: i64,
        json: String,
    },
    History(Vec<StageRow>),
    DropHistory {
        t: i64,
        id: i64,
    },
    Meta(String),
    Wipe,
    Flush(Sender<()>),
}

#[derive(Debug)]
pub struct Persist {
    tx: Sender<Msg>,
    /// Stage rows up to this id are on disk (rows are append-only apart from deletions).
    history_mark: std::sync::atomic::AtomicI64,
}

impl std::fmt::Debug for Msg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Msg")
    }
}

const SCHEMA: &str = "
PRAGMA journal_mode=WAL;
PRAGMA synchronous=NORMAL;
CREATE TABLE IF NOT EXISTS items (entity_type INTEGER NOT NULL, id INTEGER NOT NULL, json TEXT NOT NULL, PRIMARY KEY (entity_type, id));
CREATE TABLE IF NOT EXISTS deleted (entity_type INTEGER NOT NULL, id INTEGER NOT NULL, PRIMARY KEY (entity_type, id));
CREATE TABLE IF NOT EXISTS bindings (deal_id INTEGER PRIMARY KEY, json TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS timeline (entity_type INTEGER NOT NULL, owner_id INTEGER NOT NULL, json TEXT NOT NULL, PRIMARY KEY (entity_type, owner_id));
-- stage history by owner: serves the deletion of an item's rows
CREATE TABLE IF NOT EXISTS stage_history (id INTEGER PRIMARY KEY, entity_type INTEGER NOT NULL, type_id INTEGER NOT NULL, owner_id INTEGER NOT NULL, created INTEGER NOT NULL, category_id INTEGER NOT NULL, stage_id TEXT NOT NULL, semantic TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS stage_history_owner ON stage_history (entity_type, owner_id);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, json TEXT NOT NULL);
";

fn storage(e: impl std::fmt::Display) -> SandboxError {
    SandboxError::Storage(e.to_string())
}

fn semantic(s: &str) -> &'static str {
    match s {
        "S" => "S",
        "F" => "F",
        _ => "P",
    }
}

impl Persist {
    /// Opens (or creates) the file; loads its portal into the engine when there is one.
    pub fn open(path: &Path, engine: &mut Engine) -> Result<bool, SandboxError> {
        let conn = Connection::open(path).map_err(storage)?;
        conn.execute_batch(SCHEMA).map_err(storage)?;
        let loaded = load(&conn, engine)?;
        let (tx, rx) = channel::<Msg>();
        std::thread::Builder::new()
            .name("sandbox-sqlite".into())
            .spawn(move || writer(conn, rx))
            .map_err(storage)?;
        let mark = engine.portal.next_stage_row;
        engine.persist = Some(Persist {
            tx,
            history_mark: std::sync::atomic::AtomicI64::new(if loaded { mark } else { 0 }),
        });
        if !loaded {
            tracing::info!("sandbox database is empty; generating the demo portal");
        }
        Ok(loaded)
    }

    fn send(&self, m: Msg) {
        if self.tx.send(m).is_err() {
            tracing::warn!("sandbox database writer has stopped");
        }
    }

    /// Writes what changed: touched items (with their links and timeline) and, when `meta`,
    /// the small shared state. An empty `touched` with `meta` after a reset rewrites everything.
    pub fn record(&self, portal: &Portal, touched: &[(i64, i64)], meta: bool) {
        use std::sync::atomic::Ordering;
        let mark = self.history_mark.load(Ordering::SeqCst);
        for &(t, id) in touched {
            let json = portal.store(t).items.get(&id).map(|i| i.json.clone());
            if json.is_none() {
                self.send(Msg::DropHistory { t, id });
            }
            self.send(Msg::Item { t, id, json });
            if t == 2 {
                let b = portal.bindings.get(&id).map(|b| json!(b).to_string());
                self.send(Msg::Bindings { deal: id, json: b });
            }
            self.send(Msg::Timeline {
                t,
                id,
                json: timeline_json(portal, t, id),
            });
        }
        let new_rows: Vec<StageRow> = portal
            .stage_history
            .iter()
            .rev()
            .take_while(|r| r.id > mark)
            .cloned()
            .collect();
        if !new_rows.is_empty() {
            self.history_mark
                .store(portal.next_stage_row, Ordering::SeqCst);
            self.send(Msg::History(new_rows));
        }
        if meta || !touched.is_empty() {
            self.send(Msg::Meta(meta_json(portal).to_string()));
        }
    }

    /// Rewrites the whole portal (after a reset or a seed).
    pub fn full(&self, portal: &Portal) {
        self.send(Msg::Wipe);
        for t in crate::schema::TYPES {
            for (id, it) in &portal.store(t).items {
                self.send(Msg::Item {
                    t,
                    id: *id,
                    json: Some(it.json.clone()),
                });
            }
        }
        for (deal, b) in &portal.bindings {
            self.send(Msg::Bindings {
                deal: *deal,
                json: Some(json!(b).to_string()),
            });
        }
        let mut owners: Vec<(i64, i64)> = portal
            .timeline_index
            .keys()
            .chain(portal.comment_index.keys())
            .copied()
            .collect();
        owners.sort_unstable();
        owners.dedup();
        for (t, id) in owners {
            self.send(Msg::Timeline {
                t,
                id,
                json: timeline_json(portal, t, id),
            });
        }
        self.send(Msg::History(portal.stage_history.clone()));
        self.history_mark.store(
            portal.next_stage_row.max(1),
            std::sync::atomic::Ordering::SeqCst,
        );
        self.send(Msg::Meta(meta_json(portal).to_string()));
    }

    /// Waits until everything sent so far is on disk.
    pub fn flush(&self) {
        let (tx, rx) = channel();
        self.send(Msg::Flush(tx));
        let _ = rx.recv();
    }
}

fn timeline_json(portal: &Portal, t: i64, id: i64) -> String {
    let logs: Vec<&LogMessage> = portal
        .timeline_index
        .get(&(t, id))
        .map(|v| {
            v.iter()
                .filter_map(|i| portal.log_messages.get(i))
                .collect()
        })
        .unwrap_or_default();
    let comments: Vec<&Comment> = portal
        .comment_index
        .get(&(t, id))
        .map(|v| v.iter().filter_map(|i| portal.comments.get(i)).collect())
        .unwrap_or_default();
    json!({"logs": logs, "comments": comments}).to_string()
}

fn meta_json(p: &Portal) -> Value {
    let rights: Vec<Value> = p
        .rights
        .iter()
        .map(|((u, t), r)| json!([u, t, r]))
        .collect();
    let creds: Vec<Value> = p.credentials.iter().map(|(k, c)| json!([k, c])).collect();
    let next: Vec<i64> = crate::schema::TYPES
        .iter()
        .map(|t| p.store(*t).next_id)
        .collect();
    json!({
        "users": p.users.values().collect::<Vec<_>>(), "credentials": creds, "rights": rights,
        "statuses": p.statuses, "categories": p.categories, "userfields": p.userfields,
        "nextIds": next, "nextStageRow": p.next_stage_row, "nextLog": p.next_log, "nextComment": p.next_comment,
        "nextFm": p.next_fm, "nextStatus": p.next_status,
    })
}

fn writer(mut conn: Connection, rx: std::sync::mpsc::Receiver<Msg>) {
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        while let Ok(m) = rx.try_recv() {
            batch.push(m);
            if batch.len() >= 20_000 {
                break;
            }
        }
        let mut acks = Vec::new();
        if let Err(e) = apply(&mut conn, batch, &mut acks) {
            tracing::warn!(error = %e, "sandbox database write failed");
        }
        for a in acks {
            let _ = a.send(());
        }
    }
}

fn apply(
    conn: &mut Connection,
    batch: Vec<Msg>,
    acks: &mut Vec<Sender<()>>,
) -> rusqlite::Result<()> {
    let tx = conn.transaction()?;
    for m in batch {
        match m {
            Msg::Item {
                t,
                id,
                json: Some(j),
            } => {
                tx.prepare_cached(
                    "INSERT OR REPLACE INTO items (entity_type, id, json) VALUES (?1, ?2, ?3)",
                )?
                .execute(params![t, id, &*j])?;
            }
            Msg::Item { t, id, json: None } => {
                tx.prepare_cached("DELETE FROM items WHERE entity_type = ?1 AND id = ?2")?
                    .execute(params![t, id])?;
                tx.prepare_cached(
                    "INSERT OR IGNORE INTO deleted (entity_type, id) VALUES (?1, ?2)",
                )?
                .execute(params![t, id])?;
            }
            Msg::Bindings {
                deal,
                json: Some(j),
            } => {
                tx.prepare_cached(
                    "INSERT OR REPLACE INTO bindings (deal_id, json) VALUES (?1, ?2)",
                )?
                .execute(params![deal, j])?;
            }
            Msg::Bindings { deal, json: None } => {
                tx.prepare_cached("DELETE FROM bindings WHERE deal_id = ?1")?
                    .execute(params![deal])?;
            }
            Msg::Timeline { t, id, json } => {
                tx.prepare_cached("INSERT OR REPLACE INTO timeline (entity_type, owner_id, json) VALUES (?1, ?2, ?3)")?.execute(params![t, id, json])?;
            }
            Msg::History(rows) => {
                let mut st = tx.prepare_cached("INSERT OR REPLACE INTO stage_history (id, entity_type, type_id, owner_id, created, category_id, stage_id, semantic) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)")?;
                for r in rows {
                    st.execute(params![
                        r.id,
                        r.entity_type,
                        r.type_id,
                        r.owner_id,
                        r.created,
                        r.category_id,
                        &*r.stage_id,
                        r.semantic
                    ])?;
                }
            }
            Msg::DropHistory { t, id } => {
                tx.prepare_cached(
                    "DELETE FROM stage_history WHERE entity_type = ?1 AND owner_id = ?2",
                )?
                .execute(params![t, id])?;
            }
            Msg::Meta(j) => {
                tx.prepare_cached("INSERT OR REPLACE INTO meta (key, json) VALUES ('portal', ?1)")?
                    .execute(params![j])?;
            }
            Msg::Wipe => {
                tx.execute_batch("DELETE FROM items; DELETE FROM deleted; DELETE FROM bindings; DELETE FROM timeline; DELETE FROM stage_history; DELETE FROM meta;")?;
            }
            Msg::Flush(ack) => acks.push(ack),
        }
    }
    tx.commit()
}

fn load(conn: &Connection, engine: &mut Engine) -> Result<bool, SandboxError> {
    let meta: Option<String> = conn
        .query_row("SELECT json FROM meta WHERE key = 'portal'", [], |r| {
            r.get(0)
        })
        .ok();
    let Some(meta) = meta else { return Ok(false) };
    let m: Value = serde_json::from_str(&meta).map_err(storage)?;
    let mut p = Portal::default();
    let de = |k: &str| m.get(k).cloned().unwrap_or(Value::Null);
    for u in serde_json::from_value::<Vec<crate::state::User>>(de("users")).map_err(storage)? {
        p.users.insert(u.id, u);
    }
    for (k, c) in
        serde_json::from_value::<Vec<(String, crate::state::Credential)>>(de("credentials"))
            .map_err(storage)?
    {
        p.credentials.insert(k, c);
    }
    for (u, t, r) in serde_json::from_value::<Vec<(i64, i64, crate::state::Rights)>>(de("rights"))
        .map_err(storage)?
    {
        p.rights.insert((u, t), r);
    }
    p.statuses = serde_json::from_value(de("statuses")).map_err(storage)?;
    p.categories = serde_json::from_value(de("categories")).map_err(storage)?;
    p.userfields = serde_json::from_value(de("userfields")).map_err(storage)?;
    p.rebuild_fields();
    p.offset = engine.cfg.portal_offset;
    let num = |k: &str| m.get(k).and_then(Value::as_i64).unwrap_or(0);
    p.next_stage_row = num("nextStageRow");
    p.next_log = num("nextLog");
    p.next_comment = num("nextComment");
    p.next_fm = num("nextFm");
    p.next_status = num("nextStatus");
    let mut st = conn
        .prepare("SELECT entity_type, id, json FROM items ORDER BY entity_type, id")
        .map_err(storage)?;
    let rows = st
        .query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(2)?)))
        .map_err(storage)?;
    for row in rows {
        let (t, j) = row.map_err(storage)?;
        let map: serde_json::Map<String, Value> = serde_json::from_str(&j).map_err(storage)?;
        p.store_mut(t).put(Item::from_map(&map));
    }
    if let Some(Value::Array(next)) = m.get("nextIds") {
        for (i, t) in crate::schema::TYPES.iter().enumerate() {
            let n = next.get(i).and_then(Value::as_i64).unwrap_or(1);
            let s = p.store_mut(*t);
            s.next_id = s.next_id.max(n);
        }
    }
    let mut st = conn
        .prepare("SELECT entity_type, id FROM deleted")
        .map_err(storage)?;
    for row in st
        .query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)))
        .map_err(storage)?
    {
        let (t, id) = row.map_err(storage)?;
        p.store_mut(t).deleted.insert(id, 0);
    }
    let mut st = conn
        .prepare("SELECT deal_id, json FROM bindings")
        .map_err(storage)?;
    for row in st
        .query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))
        .map_err(storage)?
    {
        let (deal, j) = row.map_err(storage)?;
        let b: Vec<Binding> = serde_json::from_str(&j).map_err(storage)?;
        p.bindings.insert(deal, b);
    }
    let mut st = conn.prepare("SELECT json FROM timeline").map_err(storage)?;
    for row in st
        .query_map([], |r| r.get::<_, String>(0))
        .map_err(storage)?
    {
        let v: Value = serde_json::from_str(&row.map_err(storage)?).map_err(storage)?;
        for l in serde_json::from_value::<Vec<LogMessage>>(v["logs"].clone()).map_err(storage)? {
            p.index_log(&l);
            p.log_messages.insert(l.id, l);
        }
        for c in serde_json::from_value::<Vec<Comment>>(v["comments"].clone()).map_err(storage)? {
            p.index_comment(&c);
            p.comments.insert(c.id, c);
        }
    }
    let mut st = conn
        .prepare("SELECT id, entity_type, type_id, owner_id, created, category_id, stage_id, semantic FROM stage_history ORDER BY id")
        .map_err(storage)?;
    let rows = st
        .query_map([], |r| {
            Ok(StageRow {
                id: r.get(0)?,
                entity_type: r.get(1)?,
                type_id: r.get(2)?,
                owner_id: r.get(3)?,
                created: r.get(4)?,
                category_id: r.get(5)?,
                stage_id: Arc::from(r.get::<_, String>(6)?.as_str()),
                semantic: semantic(&r.get::<_, String>(7)?),
            })
        })
        .map_err(storage)?;
    for r in rows {
        p.stage_history.push(r.map_err(storage)?);
    }
    engine.portal = p;
    tracing::info!(
        items = engine
            .portal
            .types
            .iter()
            .map(|s| s.items.len())
            .sum::<usize>(),
        "sandbox portal loaded from database"
    );
    Ok(true)
}
