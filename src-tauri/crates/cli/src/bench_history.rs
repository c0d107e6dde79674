//! `kartoteka-cli bench history`: performance.md P3 (pages), P4 (exact totals), P5 (text search)
//! and P8 (.xlsx export of 1M events) over N events written through the engine's own write path
//! (`Store::append_history`, one transaction per pull-sized batch of saves), each printed beside
//! the raw-SQLite (or raw rust_xlsxwriter) bound measured in the same run. Asserts nothing.

use anyhow::{bail, Context};
use chrono::{DateTime, TimeZone, Utc};
use clap::Args;
use kartoteka_domain::history::ExportFormat;
use kartoteka_domain::{
    AuthorKind, EntityType, HistoryEventCode, HistoryFilter, HistorySource, HistorySyncState,
    RecordKey,
};
use kartoteka_export::{bench_raw_xlsx, export_history};
use kartoteka_store::{HistoryQuery, NewEvent, Store};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

#[derive(Args)]
pub struct HistoryBenchArgs {
    /// Events to write.
    #[arg(long, default_value_t = 10_000_000)]
    events: u64,
    /// Records the events are about (default: events / 10).
    #[arg(long)]
    records: Option<u64>,
    /// Events exported to .xlsx for P8.
    #[arg(long, default_value_t = 1_000_000)]
    export_rows: u64,
    /// Directory for the database and the exports (default: a fresh one under the temp dir).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Keep the directory afterwards.
    #[arg(long)]
    keep: bool,
}

#[derive(Args)]
pub struct ExportChildArgs {
    #[arg(long)]
    db: PathBuf,
    #[arg(long)]
    out: PathBuf,
    /// Export the events from this moment on (unix ms).
    #[arg(long)]
    from_ms: i64,
    /// Write the raw bound instead (rust_xlsxwriter alone, this many rows).
    #[arg(long)]
    raw_rows: Option<u64>,
}

/// Two years of history, starting 2023-11-14 (UTC, on an hour).
const START_MS: i64 = 1_699_920_000_000;
const SPAN_MS: i64 = 2 * 365 * 86_400_000;
const DAY_MS: i64 = 86_400_000;
const AUTHORS: i64 = 10;
/// Saves per `append_history` call: a pull batch's worth.
const GROUPS_PER_CALL: usize = 2_500;
/// Repetitions of each measured query (p95 = the 20th of 21, nearest rank).
const REPS: usize = 21;
/// Repetitions of each text search (p95 of 9 = the slowest): common words cost seconds to count
/// at 10M events, and the run must stay well under 10 minutes.
const TEXT_REPS: usize = 9;

const AUTHOR_NAMES: [&str; 10] = [
    "Иван Петров",
    "Мария Иванова",
    "Алексей Смирнов",
    "Ольга Кузнецова",
    "Сергей Попов",
    "Анна Соколова",
    "Дмитрий Лебедев",
    "Елена Новикова",
    "John Smith",
    "Робот продаж",
];

/// ~30 fields: (name, label).
const FIELDS: [(&str, &str); 30] = [
    ("title", "Название"),
    ("stageId", "Стадия"),
    ("opportunity", "Сумма"),
    ("currencyId", "Валюта"),
    ("assignedById", "Ответственный"),
    ("comments", "Комментарий"),
    ("typeId", "Тип"),
    ("sourceId", "Источник"),
    ("sourceDescription", "Дополнительно об источнике"),
    ("closedate", "Дата завершения"),
    ("begindate", "Дата начала"),
    ("probability", "Вероятность"),
    ("categoryId", "Воронка"),
    ("companyId", "Компания"),
    ("name", "Имя"),
    ("lastName", "Фамилия"),
    ("secondName", "Отчество"),
    ("post", "Должность"),
    ("birthdate", "Дата рождения"),
    ("address", "Адрес"),
    ("opened", "Доступен для всех"),
    ("UF_CRM_DELIVERY_ADDRESS", "Адрес доставки"),
    ("UF_CRM_PRIORITY", "Приоритет"),
    ("UF_CRM_REGIONS", "Регионы"),
    ("UF_CRM_CONTRACT_DATE", "Дата договора"),
    ("UF_CRM_BUDGET", "Бюджет"),
    ("UF_CRM_VIP", "VIP-клиент"),
    ("UF_CRM_MANAGER_NOTE", "Заметка менеджера"),
    ("UF_CRM_SEGMENT", "Сегмент"),
    ("UF_CRM_SOURCE_NOTE", "Откуда узнали"),
];

const WORDS: [&str; 24] = [
    "поставка",
    "оборудования",
    "скидка",
    "предоплата",
    "договор",
    "счёт",
    "отгрузка",
    "монтаж",
    "гарантия",
    "перезвонить",
    "клиент",
    "встреча",
    "презентация",
    "согласование",
    "тендер",
    "Москва",
    "Казань",
    "Новосибирск",
    "срочно",
    "повторный",
    "склад",
    "доставка",
    "логистика",
    "сервис",
];

const STAGES: [&str; 7] = [
    "Новая",
    "Подготовка документов",
    "Счёт на предоплату",
    "В работе",
    "Финальный счёт",
    "Сделка успешна",
    "Сделка провалена",
];

fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// The record a save is about: deals 40 %, leads 20 %, contacts 30 %, companies 10 %.
fn record_of(seed: u64, records: u64) -> RecordKey {
    let n = records.max(10);
    let (entity_type, share) = match seed % 10 {
        0..=3 => (EntityType::Deal, n * 4 / 10),
        4 | 5 => (EntityType::Lead, n * 2 / 10),
        6..=8 => (EntityType::Contact, n * 3 / 10),
        _ => (EntityType::Company, n / 10),
    };
    RecordKey {
        entity_type,
        id: 1 + ((seed >> 8) % share.max(1)) as i64,
    }
}

fn title_of(key: RecordKey) -> String {
    match key.entity_type {
        EntityType::Deal | EntityType::Lead => format!(
            "Поставка №{} — ООО «{}»",
            key.id,
            WORDS[(mix(key.id as u64) % WORDS.len() as u64) as usize]
        ),
        _ => {
            let a = AUTHOR_NAMES[(mix(key.id as u64) % 9) as usize];
            format!("{a} ({})", key.id)
        }
    }
}

/// One event of a save, with a realistic spread of codes, sources and values.
fn event_at(key: RecordKey, at: i64, author: i64, seed: u64, k: usize) -> NewEvent {
    let roll = seed % 100;
    let code = if k > 0 {
        HistoryEventCode::FieldChanged
    } else {
        match roll {
            0..=44 => HistoryEventCode::FieldChanged,
            45..=52 => HistoryEventCode::StageChanged,
            53..=54 => HistoryEventCode::MultifieldAdded,
            55 => HistoryEventCode::MultifieldChanged,
            56 => HistoryEventCode::MultifieldRemoved,
            57..=59 => HistoryEventCode::LinkAdded,
            60..=61 => HistoryEventCode::LinkRemoved,
            62..=66 => HistoryEventCode::Created,
            67..=79 => HistoryEventCode::View,
            80..=86 => HistoryEventCode::ActivityCreated,
            87..=89 => HistoryEventCode::ProductChanged,
            90 => HistoryEventCode::Deleted,
            91 => HistoryEventCode::Restored,
            92 => HistoryEventCode::Conflict,
            93 => HistoryEventCode::Resolved,
            94 => HistoryEventCode::Reverted,
            95 => HistoryEventCode::Exported,
            96 => HistoryEventCode::Hidden,
            _ => HistoryEventCode::FieldChanged,
        }
    };
    let source = match code {
        HistoryEventCode::View
        | HistoryEventCode::Exported
        | HistoryEventCode::Hidden
        | HistoryEventCode::Conflict
        | HistoryEventCode::Resolved
        | HistoryEventCode::Reverted => {
            if seed & 0x100 == 0 {
                HistorySource::DeviceOnline
            } else {
                HistorySource::DeviceOffline
            }
        }
        HistoryEventCode::StageChanged if seed & 0x200 == 0 => HistorySource::StageHistory,
        _ if (seed >> 12).is_multiple_of(33) => HistorySource::PeerLog,
        _ => HistorySource::Observed,
    };
    let mut e = NewEvent::new(Some(key), code, at, source);
    e.record_title = title_of(key);
    e.author_id = Some(author);
    e.author_name = AUTHOR_NAMES[(author - 1) as usize].to_string();
    e.author_kind = if author == AUTHORS {
        AuthorKind::Robot
    } else {
        AuthorKind::Person
    };
    e.received_ms = Some(at + 500);
    e.sync_state = match source {
        HistorySource::DeviceOnline | HistorySource::DeviceOffline => match code {
            HistoryEventCode::Conflict => HistorySyncState::Conflict,
            HistoryEventCode::Reverted => HistorySyncState::Pending,
            _ => HistorySyncState::Local,
        },
        _ => HistorySyncState::Synced,
    };
    let word = |s: u64| WORDS[(s % WORDS.len() as u64) as usize];
    match code {
        HistoryEventCode::FieldChanged
        | HistoryEventCode::Conflict
        | HistoryEventCode::Resolved
        | HistoryEventCode::Reverted => {
            let (name, label) = FIELDS[((seed >> 16) + k as u64) as usize % FIELDS.len()];
            e.field = Some(name.into());
            e.field_label = Some(label.into());
            if name == "opportunity" || name == "probability" {
                e.old_value = Some(((seed >> 20) % 1_000_000).to_string());
                e.new_value = Some(((seed >> 24) % 1_000_000).to_string());
            } else {
                e.old_value = Some(format!("\"{} {}\"", word(seed >> 20), word(seed >> 28)));
                e.new_value = Some(format!("\"{} {}\"", word(seed >> 32), word(seed >> 36)));
            }
        }
        HistoryEventCode::StageChanged => {
            e.field = Some("stageId".into());
            e.field_label = Some("Стадия".into());
            e.old_value = Some(format!("\"S{}\"", (seed >> 20) % 7));
            e.new_value = Some(format!("\"S{}\"", (seed >> 24) % 7));
            e.old_display = Some(STAGES[((seed >> 20) % 7) as usize].into());
            e.new_display = Some(STAGES[((seed >> 24) % 7) as usize].into());
        }
        HistoryEventCode::MultifieldAdded
        | HistoryEventCode::MultifieldChanged
        | HistoryEventCode::MultifieldRemoved => {
            e.field = Some("fm.PHONE".into());
            e.field_label = Some("Телефон (рабочий)".into());
            let phone = format!("+7 999 {:07}", (seed >> 20) % 10_000_000);
            if code != HistoryEventCode::MultifieldAdded {
                e.old_display = Some(phone.clone());
            }
            if code != HistoryEventCode::MultifieldRemoved {
                e.new_display = Some(phone);
            }
        }
        HistoryEventCode::LinkAdded | HistoryEventCode::LinkRemoved => {
            e.field = Some("link.contact".into());
            e.field_label = Some("Контакт".into());
            let other = AUTHOR_NAMES[((seed >> 20) % 9) as usize].to_string();
            if code == HistoryEventCode::LinkAdded {
                e.new_display = Some(other);
            } else {
                e.old_display = Some(other);
            }
        }
        HistoryEventCode::ActivityCreated => {
            e.new_display = Some(format!("Звонок: {} {}", word(seed >> 20), word(seed >> 28)));
        }
        HistoryEventCode::ProductChanged => {
            e.field = Some("product.quantity".into());
            e.field_label = Some("Количество товара".into());
            e.old_value = Some(((seed >> 20) % 100).to_string());
            e.new_value = Some(((seed >> 24) % 100).to_string());
        }
        HistoryEventCode::Exported | HistoryEventCode::Hidden => {
            e.note = Some(format!("{}: {}", word(seed >> 20), (seed >> 24) % 1000));
        }
        HistoryEventCode::Created => e.new_display = Some(e.record_title.clone()),
        _ => {}
    }
    e
}

/// Writes `n` events: saves of 1–5 events, in time order over two years, `GROUPS_PER_CALL`
/// saves per `append_history` call.
fn generate(store: &mut Store, n: u64, records: u64) -> anyhow::Result<()> {
    let started = Instant::now();
    let mut written = 0u64;
    let mut g = 0u64;
    let mut next_report = 1_000_000u64;
    while written < n {
        let mut groups: Vec<Vec<NewEvent>> = Vec::with_capacity(GROUPS_PER_CALL);
        while groups.len() < GROUPS_PER_CALL && written < n {
            let seed = mix(g);
            g += 1;
            let size = match seed % 20 {
                0..=9 => 1,
                10..=13 => 2,
                14..=16 => 3,
                17..=18 => 4,
                _ => 5,
            }
            .min(n - written);
            let at = START_MS + (written as i128 * SPAN_MS as i128 / n as i128) as i64;
            let key = record_of(seed >> 4, records);
            let author = 1 + ((seed >> 40) % AUTHORS as u64) as i64;
            let group: Vec<NewEvent> = (0..size as usize)
                .map(|k| event_at(key, at, author, mix(seed ^ k as u64), k))
                .collect();
            written += size;
            groups.push(group);
        }
        store.append_history(&groups).context("append_history")?;
        if written >= next_report || written == n {
            let s = started.elapsed().as_secs_f64();
            eprintln!(
                "  written {written} events in {s:.0} s ({:.0} events/s)",
                written as f64 / s
            );
            next_report += 1_000_000;
        }
    }
    Ok(())
}

fn p95_ms(mut times: Vec<f64>) -> f64 {
    times.sort_by(f64::total_cmp);
    let rank = ((times.len() as f64) * 0.95).ceil() as usize;
    times[rank.clamp(1, times.len()) - 1] * 1e3
}

fn utc(ms: i64) -> Option<DateTime<Utc>> {
    Utc.timestamp_millis_opt(ms).single()
}

/// A filter case the History page offers, varied by repetition `k` (another author, day, …).
struct Case {
    name: &'static str,
    make: Box<dyn Fn(u64) -> HistoryFilter>,
}

fn cases(records: u64) -> Vec<Case> {
    let day = |k: u64| {
        let d = (mix(k ^ 0xd) % (SPAN_MS / DAY_MS) as u64) as i64;
        (utc(START_MS + d * DAY_MS), utc(START_MS + (d + 1) * DAY_MS))
    };
    let month = |k: u64| {
        let d = (mix(k ^ 0xe) % (SPAN_MS / DAY_MS - 30) as u64) as i64;
        (
            utc(START_MS + d * DAY_MS),
            utc(START_MS + (d + 30) * DAY_MS),
        )
    };
    let author = |k: u64| Some(1 + (mix(k ^ 0xa) % AUTHORS as u64) as i64);
    let entity = |k: u64| Some(EntityType::ALL[(k % 4) as usize]);
    let event = |k: u64| vec![HistoryEventCode::ALL[(k % 18) as usize]];
    let field = |k: u64| Some(FIELDS[(k % 30) as usize].0.to_string());
    let source = |k: u64| Some(HistorySource::ALL[(k % 5) as usize]);
    let f = HistoryFilter::default;
    let mut out: Vec<Case> = Vec::new();
    let mut add =
        |name: &'static str, make: Box<dyn Fn(u64) -> HistoryFilter>| out.push(Case { name, make });
    add("no filter", Box::new(move |_| f()));
    add(
        "entity type",
        Box::new(move |k| HistoryFilter {
            entity_type: entity(k),
            ..f()
        }),
    );
    add(
        "one record",
        Box::new(move |k| HistoryFilter {
            record: Some(record_of(mix(k ^ 0x5), records)),
            ..f()
        }),
    );
    add(
        "one day",
        Box::new(move |k| {
            let (from, to) = day(k);
            HistoryFilter { from, to, ..f() }
        }),
    );
    add(
        "30-day period",
        Box::new(move |k| {
            let (from, to) = month(k);
            HistoryFilter { from, to, ..f() }
        }),
    );
    add(
        "author",
        Box::new(move |k| HistoryFilter {
            author_id: author(k),
            ..f()
        }),
    );
    add(
        "event type (each)",
        Box::new(move |k| HistoryFilter {
            events: event(k),
            ..f()
        }),
    );
    add(
        "field",
        Box::new(move |k| HistoryFilter {
            field: field(k),
            ..f()
        }),
    );
    add(
        "source",
        Box::new(move |k| HistoryFilter {
            source: source(k),
            ..f()
        }),
    );
    add(
        "author + today (by me)",
        Box::new(move |k| {
            let (from, to) = day(k);
            HistoryFilter {
                author_id: author(k),
                from,
                to,
                ..f()
            }
        }),
    );
    add(
        "entity type + author",
        Box::new(move |k| HistoryFilter {
            entity_type: entity(k),
            author_id: author(k),
            ..f()
        }),
    );
    add(
        "event + 30 days",
        Box::new(move |k| {
            let (from, to) = month(k);
            HistoryFilter {
                events: event(k),
                from,
                to,
                ..f()
            }
        }),
    );
    add(
        "entity type + field",
        Box::new(move |k| HistoryFilter {
            entity_type: entity(k),
            field: field(k),
            ..f()
        }),
    );
    add(
        "author + event + field",
        Box::new(move |k| HistoryFilter {
            author_id: author(k),
            events: vec![HistoryEventCode::FieldChanged],
            field: field(k),
            ..f()
        }),
    );
    add(
        "record + event",
        Box::new(move |k| HistoryFilter {
            record: Some(record_of(mix(k ^ 0x7), records)),
            events: vec![HistoryEventCode::FieldChanged],
            ..f()
        }),
    );
    out
}

const TEXTS: [&str; 7] = [
    "скидка",
    "Казань",
    "тендер срочно",
    "Петров",
    "Сумма",
    "пост",
    "логи",
];

pub fn run(args: HistoryBenchArgs) -> anyhow::Result<()> {
    let dir = args.dir.clone().unwrap_or_else(|| {
        std::env::temp_dir().join(format!("kartoteka-bench-history-{}", std::process::id()))
    });
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let db = dir.join("history.db");
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
    }
    let records = args.records.unwrap_or(args.events / 10).max(10);
    let mut store = Store::open(&db)?;
    println!(
        "writing {} events about {records} records through Store::append_history",
        args.events
    );
    let t = Instant::now();
    generate(&mut store, args.events, records)?;
    let write_s = t.elapsed().as_secs_f64();
    println!(
        "  {} events in {write_s:.1} s ({:.0} events/s)",
        args.events,
        args.events as f64 / write_s
    );
    drop(store);
    let store = Store::open(&db)?;

    println!("\nP3 page of 50, p95 of {REPS} (target ≤ 2 ms); P4 exact total, p95 (target ≤ 5 ms)");
    println!(
        "  {:<24} {:>9} {:>9} {:>9} {:>7} | {:>9} {:>10} {:>7}",
        "filter", "first ms", "next ms", "raw ms", "ratio", "count ms", "raw cnt ms", "ratio"
    );
    let mut worst_page: f64 = 0.0;
    let mut worst_count: f64 = 0.0;
    for case in cases(records) {
        let (mut first, mut next, mut raw, mut count, mut raw_count) =
            (vec![], vec![], vec![], vec![], vec![]);
        for k in 0..REPS as u64 {
            let filter = (case.make)(k);
            let q = HistoryQuery {
                filter: &filter,
                include_hidden: false,
            };
            let t = Instant::now();
            let (_, cursor) = store.history_page(&q, None, 50)?;
            first.push(t.elapsed().as_secs_f64());
            let t = Instant::now();
            store.history_page(&q, cursor, 50)?;
            next.push(t.elapsed().as_secs_f64());
            let t = Instant::now();
            store.bench_raw_history_page(&filter, 50)?;
            raw.push(t.elapsed().as_secs_f64());
            let t = Instant::now();
            let exact = store.history_count(&q)?;
            count.push(t.elapsed().as_secs_f64());
            let t = Instant::now();
            let rough = store.bench_raw_history_count(&filter)?;
            raw_count.push(t.elapsed().as_secs_f64());
            if rough < exact {
                bail!("{}: the count {exact} exceeds the rows {rough}", case.name);
            }
        }
        let (first, next, raw) = (p95_ms(first), p95_ms(next), p95_ms(raw));
        let (count, raw_count) = (p95_ms(count), p95_ms(raw_count));
        worst_page = worst_page.max(first).max(next);
        worst_count = worst_count.max(count);
        println!(
            "  {:<24} {first:>9.3} {next:>9.3} {raw:>9.3} {:>7.2} | {count:>9.3} {raw_count:>10.3} {:>7.2}",
            case.name,
            first.max(next) / raw,
            count / raw_count
        );
    }
    println!("  worst page p95 {worst_page:.3} ms; worst count p95 {worst_count:.3} ms (ratio = store / raw; count raw = COUNT(*) over the index)");

    println!(
        "\nP5 text search, first page of 50 newest first, p95 of {TEXT_REPS} (target ≤ 50 ms)"
    );
    println!(
        "  {:<24} {:>9} {:>9} {:>7} {:>9}",
        "words", "store ms", "raw ms", "ratio", "count ms"
    );
    for words in TEXTS {
        let (mut page, mut raw, mut count) = (vec![], vec![], vec![]);
        let filter = HistoryFilter {
            text: Some(words.to_string()),
            ..HistoryFilter::default()
        };
        let q = HistoryQuery {
            filter: &filter,
            include_hidden: false,
        };
        for _ in 0..TEXT_REPS {
            let t = Instant::now();
            store.history_page(&q, None, 50)?;
            page.push(t.elapsed().as_secs_f64());
            let t = Instant::now();
            store.bench_raw_history_search(words, 50)?;
            raw.push(t.elapsed().as_secs_f64());
        }
        for _ in 0..2 {
            let t = Instant::now();
            store.history_count(&q)?;
            count.push(t.elapsed().as_secs_f64());
        }
        let (page, raw) = (p95_ms(page), p95_ms(raw));
        println!(
            "  {:<24} {page:>9.3} {raw:>9.3} {:>7.2} {:>9.1}",
            format!("\"{words}\""),
            page / raw,
            p95_ms(count)
        );
    }
    drop(store);

    // P8: the newest `export_rows` events (a period from their first moment on), in a child
    // process so that its peak memory is the export's own.
    let export_rows = args.export_rows.min(args.events);
    let from_ms = START_MS
        + ((args.events - export_rows) as i128 * SPAN_MS as i128 / args.events.max(1) as i128)
            as i64;
    let exe = std::env::current_exe()?;
    let child = |out: &Path, raw: Option<u64>| -> anyhow::Result<(u64, f64, u64)> {
        let mut cmd = Command::new(&exe);
        cmd.args(["bench", "history-export-child", "--db"])
            .arg(&db)
            .arg("--out")
            .arg(out)
            .args(["--from-ms", &from_ms.to_string()]);
        if let Some(n) = raw {
            cmd.args(["--raw-rows", &n.to_string()]);
        }
        let o = cmd.output()?;
        anyhow::ensure!(
            o.status.success(),
            "export child failed: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let line = String::from_utf8_lossy(&o.stdout).trim().to_string();
        let mut parts = line.split_whitespace();
        let mut next = || parts.next().context("child output").map(str::to_string);
        Ok((next()?.parse()?, next()?.parse()?, next()?.parse()?))
    };
    let (rows, secs, peak_kb) = child(&dir.join("export.xlsx"), None)?;
    let (_, raw_secs, raw_peak_kb) = child(&dir.join("raw.xlsx"), Some(rows))?;
    println!("\nP8 export to .xlsx (child process; target ≤ 20 s, ≤ 300 MB)");
    println!(
        "  store → .xlsx: {rows} rows in {secs:.1} s ({:.0} rows/s), peak RSS {:.0} MB",
        rows as f64 / secs,
        peak_kb as f64 / 1024.0
    );
    println!(
        "  raw rust_xlsxwriter, same rows without the store: {raw_secs:.1} s, peak RSS {:.0} MB; ratio {:.2}",
        raw_peak_kb as f64 / 1024.0,
        secs / raw_secs
    );
    let size = std::fs::metadata(dir.join("export.xlsx")).map_or(0, |m| m.len());
    println!("  file: {:.1} MB", size as f64 / 1e6);
    if !args.keep {
        let _ = std::fs::remove_dir_all(&dir);
    }
    Ok(())
}

/// Peak resident memory of this process so far (VmHWM), in KiB.
fn peak_rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

/// Prints `rows seconds peak_kb` for one export (or the raw bound) in this process.
pub fn export_child(args: ExportChildArgs) -> anyhow::Result<()> {
    let store = Store::open(&args.db)?;
    store.limit_page_cache(kartoteka_export::EXPORT_CACHE_KIB)?;
    let filter = HistoryFilter {
        from: utc(args.from_ms),
        ..HistoryFilter::default()
    };
    let q = HistoryQuery {
        filter: &filter,
        include_hidden: false,
    };
    let t = Instant::now();
    let rows = match args.raw_rows {
        None => {
            export_history(
                &store,
                &q,
                ExportFormat::Xlsx,
                &args.out,
                &[],
                &mut |_| {},
                &AtomicBool::new(false),
            )?
            .rows
        }
        Some(n) => {
            let (sample, _) = store.history_page(&q, None, 1000)?;
            drop(store);
            let t = Instant::now();
            bench_raw_xlsx(&sample, n, &args.out)?;
            println!("{n} {} {}", t.elapsed().as_secs_f64(), peak_rss_kb());
            return Ok(());
        }
    };
    println!("{rows} {} {}", t.elapsed().as_secs_f64(), peak_rss_kb());
    Ok(())
}
