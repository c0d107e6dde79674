//! `kartoteka-cli bench responsive`: performance.md P3/P9 and issue 10 §1 — a list page read
//! while a large pull writes the replica. A pull of N records from an in-process sandbox runs
//! while one thread asks for list pages the way the app's screens do (a read-only connection of
//! a [`ReadPool`], the page with its total, the names of stages, users and companies) and,
//! for comparison, another thread asks through the writer's lock (how screens read before).
//! The bound, measured in the same run: the same page on the idle replica after the pull.
//! Prints p50/p95/max; asserts nothing.

use anyhow::anyhow;
use clap::Args;
use kartoteka_domain::EntityType;
use kartoteka_store::{Cursor, Page, ReadPool, RecordFilter, Store, StoreError};
use kartoteka_sync::CancellationToken;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// P3: click to rows in the real app.
const PAGE_BUDGET_MS: f64 = 30.0;
/// P9: app start to the first list on screen; no single page may take longer than this.
const FIRST_LIST_BUDGET_MS: f64 = 1_500.0;
/// Reads of the idle replica for the bound.
const IDLE_READS: usize = 200;

#[derive(Args)]
pub struct ResponsiveArgs {
    /// Records on the portal, across the four types in demo proportions.
    #[arg(long, default_value_t = 1_000_000)]
    records: usize,
    /// Pause between two list requests of one screen thread, in milliseconds.
    #[arg(long, default_value_t = 20)]
    interval_ms: u64,
    /// Directory for the replica (default: a fresh one under the temp dir).
    #[arg(long)]
    dir: Option<PathBuf>,
}

/// Latencies of one way of reading, in milliseconds.
#[derive(Default)]
struct Latencies(Vec<f64>);

impl Latencies {
    fn quantile(&self, q: f64) -> f64 {
        if self.0.is_empty() {
            return f64::NAN;
        }
        let mut sorted = self.0.clone();
        sorted.sort_by(f64::total_cmp);
        let i = ((sorted.len() as f64 - 1.0) * q).round() as usize;
        sorted[i]
    }

    fn line(&self, what: &str) -> String {
        format!(
            "  {what:<44} {:>6} pages  p50 {:>8.2} ms  p95 {:>8.2} ms  max {:>8.2} ms",
            self.0.len(),
            self.quantile(0.5),
            self.quantile(0.95),
            self.quantile(1.0)
        )
    }
}

/// What a screen asks for, in turn: the first page of each type, then the next page of it.
struct Screen {
    step: usize,
    cursors: [Option<Cursor>; 4],
}

impl Screen {
    fn new() -> Self {
        Screen {
            step: 0,
            cursors: Default::default(),
        }
    }

    /// One list page as the app's `records_list` reads it: rows and total, then the names of
    /// stages, pipelines and users, then the companies' titles.
    fn read(&mut self, store: &Store) -> Result<usize, StoreError> {
        let k = self.step % EntityType::ALL.len();
        let next_page = (self.step / EntityType::ALL.len()) % 2 == 1;
        self.step += 1;
        let entity_type = EntityType::ALL[k];
        let page = Page {
            sort: Default::default(),
            after: if next_page {
                self.cursors[k].clone()
            } else {
                None
            },
            limit: 50,
        };
        let found = store.list_records(&RecordFilter::new(entity_type), &page)?;
        if !next_page {
            self.cursors[k] = found.next.clone();
        }
        let _stages = store.stages()?;
        let _users = store.users()?;
        let _categories = store.categories()?;
        let companies: Vec<i64> = found.rows.iter().filter_map(|r| r.company_id).collect();
        let _titles = store.record_titles(EntityType::Company, &companies)?;
        Ok(found.rows.len())
    }
}

pub async fn run(args: ResponsiveArgs) -> anyhow::Result<()> {
    let dir = crate::bench_cmd::work_dir(args.dir.clone())?;
    let sandbox = crate::bench_cmd::bench_sandbox(args.records).await?;
    let replica_path = dir.join("responsive.db");
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", replica_path.display()));
    }
    let writer = Arc::new(Mutex::new(Store::open(&replica_path)?));
    // The app's read path: two read-only connections beside the writer.
    let readers = Arc::new(ReadPool::open(&replica_path, 2)?);
    let engine = crate::bench_cmd::bench_engine(&sandbox.admin_webhook_url(), Arc::clone(&writer))?;

    let pulling = Arc::new(AtomicBool::new(true));
    let interval = Duration::from_millis(args.interval_ms);
    let through_readers = std::thread::spawn({
        let (readers, pulling) = (Arc::clone(&readers), Arc::clone(&pulling));
        move || {
            let mut screen = Screen::new();
            let mut times = Latencies::default();
            while pulling.load(Ordering::Relaxed) {
                let t = Instant::now();
                readers.read(|s| screen.read(s))?;
                times.0.push(t.elapsed().as_secs_f64() * 1e3);
                std::thread::sleep(interval);
            }
            Ok::<_, StoreError>(times)
        }
    });
    let through_writer = std::thread::spawn({
        let (writer, pulling) = (Arc::clone(&writer), Arc::clone(&pulling));
        move || {
            let mut screen = Screen::new();
            let mut times = Latencies::default();
            while pulling.load(Ordering::Relaxed) {
                let t = Instant::now();
                {
                    let store = writer.lock().unwrap_or_else(|p| p.into_inner());
                    screen.read(&store)?;
                }
                times.0.push(t.elapsed().as_secs_f64() * 1e3);
                std::thread::sleep(interval);
            }
            Ok::<_, StoreError>(times)
        }
    });

    let cancel = CancellationToken::new();
    let summary = engine.run(&cancel).await;
    pulling.store(false, Ordering::Relaxed);
    let during = through_readers
        .join()
        .map_err(|_| anyhow!("the reading thread panicked"))??;
    let locked = through_writer
        .join()
        .map_err(|_| anyhow!("the writer-lock thread panicked"))??;
    let summary = summary?;
    sandbox.shutdown().await;

    let mut idle = Latencies::default();
    let mut screen = Screen::new();
    for _ in 0..IDLE_READS {
        let t = Instant::now();
        readers.read(|s| screen.read(s))?;
        idle.0.push(t.elapsed().as_secs_f64() * 1e3);
    }

    println!(
        "\npull: {} records in {:.1} s ({:.0} records/s), {} requests",
        summary.total_pulled(),
        summary.seconds,
        summary.total_pulled() as f64 / summary.seconds.max(1e-9),
        summary.requests
    );
    println!("\nlist page of 50 with its total and names (first and next pages of the four types)");
    println!(
        "{}",
        during.line("during the pull, read-only connection (app)")
    );
    println!(
        "{}",
        locked.line("during the pull, through the writer's lock")
    );
    println!("{}", idle.line("bound: idle replica after the pull"));
    println!("\nagainst the budgets");
    println!(
        "  p95 during the pull {:.2} ms  (P3: ≤ {PAGE_BUDGET_MS} ms click to rows; {:.1}× the idle p95)",
        during.quantile(0.95),
        during.quantile(0.95) / idle.quantile(0.95)
    );
    println!(
        "  max during the pull {:.2} ms  (P9: ≤ {FIRST_LIST_BUDGET_MS} ms to the first list; writer's lock max {:.2} ms)",
        during.quantile(1.0),
        locked.quantile(1.0)
    );
    Ok(())
}
