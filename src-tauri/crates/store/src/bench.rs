//! The replica's benchmark (performance.md P1/P2): `apply_pulled` against the raw SQLite bound
//! measured in the same run on the same machine. Figures are printed by the CLI, never asserted.

use crate::{Page, RecordFilter, SortField, SortKey, Store, StoreError, SyncCheckpoint};
use chrono::{DateTime, FixedOffset};
use kartoteka_domain::{EntityType, MultiField, MultiFieldKind, Record, RecordKey};
use rusqlite::{params, Connection};
use serde_json::{json, Map, Value};
use std::fmt;
use std::path::Path;
use std::time::Instant;

/// Records per `apply_pulled` call: one `batch` request's worth (50 × 50).
pub const PULL_BATCH: usize = 2_500;

/// Rows (or records) per second of each measured operation.
#[derive(Debug, Clone, PartialEq)]
pub struct BenchReport {
    pub records: usize,
    /// Bound: upsert of rows with the same payload, integer key only, one transaction.
    pub raw_key_only: f64,
    /// Bound: the same with 3 secondary indexes.
    pub raw_three_indexes: f64,
    /// Bound for P2: records/s of an upsert that reads the old row, writes the new one and ~3
    /// history rows (with their time, record and field indexes and a full-text row each),
    /// one transaction per [`PULL_BATCH`] records.
    pub raw_upsert_with_history: f64,
    /// `apply_pulled` of new records (initial pull).
    pub initial_pull: f64,
    /// `apply_pulled` of the same records again (nothing changed).
    pub unchanged_pull: f64,
    /// `apply_pulled` of every record changed (incremental pull with field diffs).
    pub changed_pull: f64,
    /// Field changes the changed pull reported (for the history).
    pub field_changes: u64,
    /// First page of 50 (with its exact total) for typical lists: (what, median microseconds).
    pub list_pages: Vec<(String, f64)>,
}

impl BenchReport {
    pub fn initial_vs_key_only(&self) -> f64 {
        self.initial_pull / self.raw_key_only
    }

    pub fn initial_vs_three_indexes(&self) -> f64 {
        self.initial_pull / self.raw_three_indexes
    }
}

impl fmt::Display for BenchReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "records: {}", self.records)?;
        writeln!(
            f,
            "raw upsert, key only:        {:>10.0} rows/s",
            self.raw_key_only
        )?;
        writeln!(
            f,
            "raw upsert, 3 indexes:       {:>10.0} rows/s",
            self.raw_three_indexes
        )?;
        writeln!(
            f,
            "raw upsert with history:     {:>10.0} records/s  (3 history rows each)",
            self.raw_upsert_with_history
        )?;
        writeln!(
            f,
            "apply_pulled, new records:   {:>10.0} records/s  ({:.0}% of key-only, {:.0}% of 3-index bound)",
            self.initial_pull,
            100.0 * self.initial_vs_key_only(),
            100.0 * self.initial_vs_three_indexes()
        )?;
        writeln!(
            f,
            "apply_pulled, unchanged:     {:>10.0} records/s",
            self.unchanged_pull
        )?;
        write!(
            f,
            "apply_pulled, all changed:   {:>10.0} records/s  ({} field changes)",
            self.changed_pull, self.field_changes
        )?;
        for (what, us) in &self.list_pages {
            write!(f, "\nfirst page of 50 + total, {what}: {us:.0} µs (median)")?;
        }
        Ok(())
    }
}

/// Runs every measurement on `n` records in fresh database files under `dir`.
pub fn run(dir: &Path, n: usize) -> Result<BenchReport, StoreError> {
    let deals = n / 2;
    let contacts = n - deals;
    let batches = |version: u32| -> Vec<(EntityType, Vec<Record>)> {
        let mut out = Vec::new();
        for (t, count) in [(EntityType::Deal, deals), (EntityType::Contact, contacts)] {
            let all: Vec<Record> = (1..=count as i64)
                .map(|id| synthetic_record(t, id, version))
                .collect();
            for chunk in all.chunks(PULL_BATCH) {
                out.push((t, chunk.to_vec()));
            }
        }
        out
    };
    let first = batches(0);
    let payloads: Vec<String> = first
        .iter()
        .flat_map(|(_, rs)| rs.iter())
        .map(|r| serde_json::to_string(&r.fields).unwrap_or_default())
        .collect();
    let raw_key_only = raw_upsert(&dir.join("bench-raw-1.db"), &payloads, false)?;
    let raw_three_indexes = raw_upsert(&dir.join("bench-raw-2.db"), &payloads, true)?;
    let raw_upsert_with_history = raw_upsert_history(&dir.join("bench-raw-3.db"), &payloads)?;

    let mut store = Store::open(&dir.join("bench-store.db"))?;
    let initial_pull = timed_apply(&mut store, &first)?.0;
    let unchanged_pull = timed_apply(&mut store, &first)?.0;
    drop(first);
    let (changed_pull, field_changes) = timed_apply(&mut store, &batches(1))?;
    let list_pages = time_lists(&store)?;
    Ok(BenchReport {
        records: n,
        raw_key_only,
        raw_three_indexes,
        raw_upsert_with_history,
        initial_pull,
        unchanged_pull,
        changed_pull,
        field_changes,
        list_pages,
    })
}

/// One search timed on a replica: the first page of 50 and the exact total.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchFigure {
    pub what: String,
    pub entity_type: EntityType,
    pub query: String,
    pub total: u64,
    pub p50_ms: f64,
    pub p95_ms: f64,
}

impl fmt::Display for SearchFigure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:<28} {:<9} {:<16} {:>8} found  p50 {:>6.1} ms  p95 {:>6.1} ms",
            self.what,
            self.entity_type.slug(),
            format!("\"{}\"", self.query),
            self.total,
            self.p50_ms,
            self.p95_ms
        )
    }
}

/// Issue 10 §2: record search on a pulled replica (first page + total, target ≤ 50 ms p95 at
/// 1M records): two characters, a name, a substring inside words, a phone in domestic form (one
/// of the replica's own numbers), a partial domestic prefix, an e-mail part and a deal title
/// word; then the amount and creation-time sorts. 20 runs each, after one warm-up.
pub fn time_searches(store: &Store) -> Result<Vec<SearchFigure>, StoreError> {
    let phone: Option<String> = store
        .conn
        .query_row(
            "SELECT phone FROM records WHERE entity_type = 3 AND state = 0 AND phone IS NOT NULL \
             ORDER BY rid LIMIT 1 OFFSET 500",
            [],
            |r| r.get(0),
        )
        .ok();
    let domestic = phone
        .map(|p| {
            let d: String = p.chars().filter(char::is_ascii_digit).collect();
            match d.strip_prefix('7') {
                Some(rest) => format!("8{rest}"),
                None => d,
            }
        })
        .unwrap_or_else(|| "89032180888".into());
    let prefix: String = domestic.chars().take(4).collect();
    // The same number's start in international form (+7 and three digits).
    let international = format!("+7{}", &prefix[1..]);
    let cases: Vec<(&str, EntityType, String)> = vec![
        ("2 letters", EntityType::Contact, "ан".into()),
        ("2 letters", EntityType::Deal, "по".into()),
        ("first name", EntityType::Contact, "Иван".into()),
        ("last name", EntityType::Contact, "Смирнова".into()),
        (
            "substring inside a word",
            EntityType::Contact,
            "расимов".into(),
        ),
        ("phone, domestic form", EntityType::Contact, domestic),
        (
            "phone, domestic prefix",
            EntityType::Contact,
            format!("{} {}", &prefix[..1], &prefix[1..]),
        ),
        ("phone, + and one digit", EntityType::Contact, "+7".into()),
        ("phone, + and two digits", EntityType::Contact, "+79".into()),
        (
            "phone, international prefix",
            EntityType::Contact,
            international,
        ),
        ("2 digits", EntityType::Contact, "99".into()),
        ("e-mail part", EntityType::Contact, "mail.ru".into()),
        ("name and company", EntityType::Deal, "ООО".into()),
        ("3 letters", EntityType::Company, "тех".into()),
    ];
    let mut out = Vec::new();
    for (what, t, query) in cases {
        let mut filter = RecordFilter::new(t);
        filter.search = Some(query.clone());
        let page = Page {
            sort: SortKey::default(),
            after: None,
            limit: 50,
        };
        let total = store.list_records(&filter, &page)?.total.unwrap_or(0);
        let mut times = Vec::with_capacity(20);
        for _ in 0..20 {
            let start = Instant::now();
            store.list_records(&filter, &page)?;
            times.push(start.elapsed().as_secs_f64() * 1e3);
        }
        times.sort_by(f64::total_cmp);
        out.push(SearchFigure {
            what: what.to_string(),
            entity_type: t,
            query,
            total,
            p50_ms: times[times.len() / 2],
            p95_ms: times[(times.len() * 95).div_ceil(100) - 1],
        });
    }
    Ok(out)
}

/// Median time of the first page (50 rows and the exact total) of the lists a user opens most.
fn time_lists(store: &Store) -> Result<Vec<(String, f64)>, StoreError> {
    let mut by_stage = RecordFilter::new(EntityType::Deal);
    by_stage.stage_ids = vec!["WON".into()];
    let mut mine = RecordFilter::new(EntityType::Deal);
    mine.assigned_by_ids = vec![3];
    let mut search = RecordFilter::new(EntityType::Contact);
    search.search = Some("иван".into());
    let mut phone = RecordFilter::new(EntityType::Contact);
    phone.search = Some("+7999".into());
    let by_title = SortKey {
        field: SortField::Title,
        descending: false,
    };
    let cases = [
        (
            "deals, newest first",
            RecordFilter::new(EntityType::Deal),
            SortKey::default(),
        ),
        (
            "deals by title",
            RecordFilter::new(EntityType::Deal),
            by_title,
        ),
        ("deals in one stage", by_stage, SortKey::default()),
        ("deals of one responsible", mine, SortKey::default()),
        (
            "deals by amount",
            RecordFilter::new(EntityType::Deal),
            SortKey {
                field: SortField::Opportunity,
                descending: true,
            },
        ),
        (
            "deals by created time",
            RecordFilter::new(EntityType::Deal),
            SortKey {
                field: SortField::CreatedTime,
                descending: true,
            },
        ),
        ("contacts, search \"иван\"", search, SortKey::default()),
        ("contacts, search \"+7999\"", phone, SortKey::default()),
    ];
    let mut out = Vec::new();
    for (what, filter, sort) in cases {
        let mut times = Vec::with_capacity(9);
        for _ in 0..9 {
            let start = Instant::now();
            store.list_records(
                &filter,
                &Page {
                    sort,
                    after: None,
                    limit: 50,
                },
            )?;
            times.push(start.elapsed().as_secs_f64() * 1e6);
        }
        times.sort_by(f64::total_cmp);
        out.push((what.to_string(), times[times.len() / 2]));
    }
    Ok(out)
}

fn timed_apply(
    store: &mut Store,
    batches: &[(EntityType, Vec<Record>)],
) -> Result<(f64, u64), StoreError> {
    let start = Instant::now();
    let mut count = 0usize;
    let mut changes = 0u64;
    for (t, records) in batches {
        let last_id = records.last().map_or(0, |r| r.key.id);
        let cp = SyncCheckpoint {
            last_id,
            ..SyncCheckpoint::default()
        };
        let stats = store.apply_pulled(*t, records, &cp)?;
        changes += stats
            .changes
            .iter()
            .map(|c| c.changes.len() as u64)
            .sum::<u64>();
        count += records.len();
    }
    Ok((count as f64 / start.elapsed().as_secs_f64(), changes))
}

/// The bound: rows with an integer key and the records' JSON as payload, upserted in one
/// transaction through one cached statement, WAL, synchronous=NORMAL, the same page cache.
fn raw_upsert(path: &Path, payloads: &[String], indexed: bool) -> Result<f64, StoreError> {
    let mut conn = Connection::open(path)?;
    conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get::<_, String>(0))?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "cache_size", -262_144)?;
    conn.execute_batch(
        "CREATE TABLE raw (id INTEGER PRIMARY KEY, title TEXT, stage TEXT, updated INTEGER, body TEXT)",
    )?;
    if indexed {
        conn.execute_batch(
            "CREATE INDEX raw_title ON raw (title); CREATE INDEX raw_stage ON raw (stage, updated); \
             CREATE INDEX raw_updated ON raw (updated);",
        )?;
    }
    let start = Instant::now();
    let tx = conn.transaction()?;
    {
        let mut stmt = tx.prepare_cached(
            "INSERT INTO raw (id, title, stage, updated, body) VALUES (?1, ?2, ?3, ?4, ?5) \
             ON CONFLICT (id) DO UPDATE SET title = excluded.title, stage = excluded.stage, \
             updated = excluded.updated, body = excluded.body",
        )?;
        for (i, body) in payloads.iter().enumerate() {
            let id = i as i64 + 1;
            stmt.execute(params![
                id,
                format!("title {}", mix(id as u64) % 100_000),
                "NEW",
                id,
                body
            ])?;
        }
    }
    tx.commit()?;
    Ok(payloads.len() as f64 / start.elapsed().as_secs_f64())
}

/// The P2 bound: a table holding every record (3 secondary indexes) is updated record by record:
/// read the old row, write the new one, write 3 history rows with indexes on time, record and
/// field and a full-text row each. One transaction per [`PULL_BATCH`] records, like a pull.
fn raw_upsert_history(path: &Path, payloads: &[String]) -> Result<f64, StoreError> {
    raw_upsert(path, payloads, true)?;
    let mut conn = Connection::open(path)?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "cache_size", -262_144)?;
    conn.execute_batch(
        "CREATE TABLE raw_history (seq INTEGER PRIMARY KEY, rid INTEGER, happened_ms INTEGER, \
         field TEXT, old_value TEXT, new_value TEXT); \
         CREATE INDEX raw_history_time ON raw_history (happened_ms); \
         CREATE INDEX raw_history_rid ON raw_history (rid, happened_ms); \
         CREATE INDEX raw_history_field ON raw_history (field, happened_ms); \
         CREATE VIRTUAL TABLE raw_history_search USING fts5(body, tokenize = 'unicode61');",
    )?;
    let start = Instant::now();
    for (b, chunk) in payloads.chunks(PULL_BATCH).enumerate() {
        let tx = conn.transaction()?;
        {
            let mut old = tx.prepare_cached("SELECT stage, body FROM raw WHERE id = ?1")?;
            let mut put = tx.prepare_cached(
                "INSERT INTO raw (id, title, stage, updated, body) VALUES (?1, ?2, ?3, ?4, ?5) \
                 ON CONFLICT (id) DO UPDATE SET title = excluded.title, stage = excluded.stage, \
                 updated = excluded.updated, body = excluded.body",
            )?;
            let mut event = tx.prepare_cached(
                "INSERT INTO raw_history (rid, happened_ms, field, old_value, new_value) \
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?;
            let mut index =
                tx.prepare_cached("INSERT INTO raw_history_search (rowid, body) VALUES (?1, ?2)")?;
            for (i, body) in chunk.iter().enumerate() {
                let id = (b * PULL_BATCH + i) as i64 + 1;
                let (stage, _old_body): (String, String) =
                    old.query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))?;
                put.execute(params![
                    id,
                    format!("title {}", mix(id as u64) % 100_000),
                    "WON",
                    id + 1,
                    body
                ])?;
                for (field, old_value, new_value) in [
                    ("stageId", stage.as_str(), "WON"),
                    ("opportunity", "100.00", "200.00"),
                    ("comments", "старый комментарий", "новый комментарий"),
                ] {
                    let seq = event.insert(params![id, id * 1000, field, old_value, new_value])?;
                    index.execute(params![seq, format!("{old_value}\n{new_value}")])?;
                }
            }
        }
        tx.commit()?;
    }
    Ok(payloads.len() as f64 / start.elapsed().as_secs_f64())
}

fn mix(mut x: u64) -> u64 {
    // splitmix64: deterministic, well spread.
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

const FIRST_NAMES: &[&str] = &[
    "Иван",
    "Мария",
    "Алексей",
    "Ольга",
    "Сергей",
    "Анна",
    "Дмитрий",
    "Елена",
    "John",
    "Семён",
];
const LAST_NAMES: &[&str] = &[
    "Петров",
    "Иванова",
    "Смирнов",
    "Кузнецова",
    "Попов",
    "Соколова",
    "Лебедев",
    "Новикова",
    "Smith",
    "Фёдоров",
];
const STAGES: &[&str] = &[
    "NEW",
    "PREPARATION",
    "PREPAYMENT_INVOICE",
    "EXECUTING",
    "FINAL_INVOICE",
    "WON",
    "LOSE",
];

fn pick<'a>(list: &[&'a str], seed: u64) -> &'a str {
    list[(seed % list.len() as u64) as usize]
}

fn portal_time(unix: i64) -> (String, Option<DateTime<FixedOffset>>) {
    let offset = FixedOffset::east_opt(3 * 3600);
    let t = DateTime::from_timestamp(unix, 0).and_then(|t| offset.map(|o| t.with_timezone(&o)));
    (t.map(|t| t.to_rfc3339()).unwrap_or_default(), t)
}

/// A deterministic, realistic record (about 1–1.5 KB of JSON): deals with contacts, a company
/// and custom fields; contacts with Cyrillic names, phones and e-mails. `version` > 0 changes
/// the stage, amount, responsible and updatedTime, as an incremental pull would see.
pub fn synthetic_record(entity_type: EntityType, id: i64, version: u32) -> Record {
    let seed = mix(id as u64 ^ (entity_type.type_id() as u64) << 56);
    let v = u64::from(version);
    let created = 1_700_000_000 + (id * 37) % 30_000_000;
    let (created_text, _) = portal_time(created);
    let (updated_text, updated) = portal_time(created + 3_600 + v as i64 * 86_400);
    let assigned = 1 + ((seed >> 8) + v) % 20;
    let mut f = Map::new();
    f.insert("id".into(), json!(id));
    f.insert("createdTime".into(), json!(created_text));
    f.insert("updatedTime".into(), json!(updated_text));
    f.insert("createdBy".into(), json!(1 + (seed >> 12) % 20));
    f.insert("updatedBy".into(), json!(assigned));
    f.insert("assignedById".into(), json!(assigned));
    f.insert("opened".into(), json!("Y"));
    f.insert("lastActivityTime".into(), json!(updated_text));
    f.insert("lastActivityBy".into(), json!(assigned));
    f.insert("observers".into(), json!([]));
    f.insert("originatorId".into(), Value::Null);
    f.insert("originId".into(), Value::Null);
    f.insert("utmSource".into(), json!("yandex"));
    f.insert(
        "comments".into(),
        json!(format!(
            "[B]Клиент[/B] просил перезвонить после {} числа. Обсудить условия поставки и скидку.",
            1 + seed % 28
        )),
    );
    f.insert("sourceId".into(), json!("CALL"));
    f.insert("sourceDescription".into(), Value::Null);
    let first = pick(FIRST_NAMES, seed >> 16);
    let last = pick(LAST_NAMES, seed >> 24);
    let mut multi_fields = Vec::new();
    match entity_type {
        EntityType::Deal | EntityType::Lead => {
            let company = pick(LAST_NAMES, seed >> 32);
            f.insert(
                "title".into(),
                json!(format!("Поставка оборудования №{id} — ООО «{company}»")),
            );
            f.insert("typeId".into(), json!("SALE"));
            f.insert("categoryId".into(), json!((seed >> 40) % 3));
            f.insert("stageId".into(), json!(pick(STAGES, (seed >> 20) + v)));
            f.insert("stageSemanticId".into(), json!("P"));
            f.insert("isNew".into(), json!("N"));
            f.insert("closed".into(), json!("N"));
            f.insert("probability".into(), json!((seed >> 4) % 100));
            f.insert(
                "opportunity".into(),
                json!(((seed >> 6) % 10_000_000) as f64 / 100.0 + v as f64),
            );
            f.insert("currencyId".into(), json!("RUB"));
            f.insert("isManualOpportunity".into(), json!("Y"));
            f.insert("taxValue".into(), json!(0));
            f.insert("companyId".into(), json!(1 + (seed >> 28) % 5_000));
            let c1 = 1 + (seed >> 30) as i64 % 10_000;
            f.insert("contactIds".into(), json!([c1, c1 + 1]));
            f.insert("contactId".into(), json!(c1));
            f.insert("leadId".into(), Value::Null);
            f.insert("begindate".into(), json!("2024-08-30T02:00:00+03:00"));
            f.insert("closedate".into(), json!("2024-09-06T02:00:00+03:00"));
            f.insert("additionalInfo".into(), Value::Null);
            f.insert("movedBy".into(), json!(assigned));
            f.insert("movedTime".into(), json!(updated_text));
            f.insert(
                "UF_CRM_DELIVERY_ADDRESS".into(),
                json!(format!("г. Москва, ул. Ленина, д. {}", seed % 200)),
            );
            f.insert("UF_CRM_PRIORITY".into(), json!(45 + seed % 3));
            f.insert("UF_CRM_REGIONS".into(), json!([80, 81]));
            f.insert(
                "UF_CRM_CONTRACT_DATE".into(),
                json!("2024-08-01T03:00:00+03:00"),
            );
            f.insert(
                "UF_CRM_BUDGET".into(),
                json!(format!("{}|RUB", seed % 100_000)),
            );
            f.insert(
                "UF_CRM_VIP".into(),
                json!(if seed.is_multiple_of(7) { "Y" } else { "N" }),
            );
            f.insert(
                "UF_CRM_MANAGER_NOTE".into(),
                json!("Повторный клиент, работает по предоплате"),
            );
            f.insert("UF_CRM_LINKED".into(), json!([format!("C_{c1}")]));
        }
        EntityType::Contact | EntityType::Company => {
            f.insert("honorific".into(), Value::Null);
            f.insert("name".into(), json!(first));
            f.insert("secondName".into(), json!("Петрович"));
            f.insert("lastName".into(), json!(last));
            f.insert("birthdate".into(), json!("1985-03-13T03:00:00+03:00"));
            f.insert(
                "post".into(),
                json!(if v == 0 {
                    "Менеджер по закупкам"
                } else {
                    "Директор"
                }),
            );
            f.insert("typeId".into(), json!("CLIENT"));
            let company = 1 + (seed >> 28) as i64 % 5_000;
            f.insert("companyId".into(), json!(company));
            f.insert("companyIds".into(), json!([company]));
            f.insert("leadId".into(), Value::Null);
            f.insert("export".into(), json!("Y"));
            f.insert("hasPhone".into(), json!("Y"));
            f.insert("hasEmail".into(), json!("Y"));
            f.insert("UF_CRM_SOURCE_NOTE".into(), json!("Выставка «Связь-2024»"));
            f.insert("UF_CRM_SEGMENT".into(), json!(60 + seed % 4));
            let phone = format!(
                "+7 (9{:02}) {:03}-{:02}-{:02}",
                seed % 100,
                (seed >> 8) % 1000,
                (seed >> 20) % 100,
                id % 100
            );
            multi_fields.push(MultiField {
                id: id * 10 + 1,
                kind: MultiFieldKind::Phone,
                value_type: "WORK".into(),
                value: phone,
            });
            multi_fields.push(MultiField {
                id: id * 10 + 2,
                kind: MultiFieldKind::Phone,
                value_type: "MOBILE".into(),
                value: format!("+7999{:07}", id % 10_000_000),
            });
            multi_fields.push(MultiField {
                id: id * 10 + 3,
                kind: MultiFieldKind::Email,
                value_type: "WORK".into(),
                value: format!("client{id}@example.ru"),
            });
        }
    }
    Record {
        key: RecordKey { entity_type, id },
        updated_time: updated,
        fields: f,
        multi_fields,
    }
}

/// The bound of performance.md P6: one small durable commit (three rows; WAL,
/// synchronous=FULL) in a fresh file in `dir`, `n` times. Returns each commit's seconds.
pub fn durable_commit_bound(dir: &std::path::Path, n: usize) -> Result<Vec<f64>, StoreError> {
    let path = dir.join("bound-durable.db");
    let _ = std::fs::remove_file(&path);
    let conn = rusqlite::Connection::open(&path)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.execute_batch("CREATE TABLE t (id INTEGER PRIMARY KEY, a TEXT, b TEXT, c TEXT)")?;
    let mut times = Vec::with_capacity(n);
    for i in 0..n {
        let t = std::time::Instant::now();
        let tx = conn.unchecked_transaction()?;
        for col in 0..3 {
            tx.execute(
                "INSERT INTO t (a, b, c) VALUES (?1, ?2, ?3)",
                rusqlite::params![format!("row {i} {col}"), "значение", "{\"x\":1}"],
            )?;
        }
        tx.commit()?;
        times.push(t.elapsed().as_secs_f64());
    }
    Ok(times)
}
