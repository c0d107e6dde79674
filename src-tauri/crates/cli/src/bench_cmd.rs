//! `kartoteka-cli bench pull`: performance.md P1 (initial pull) and P2 (incremental pull of
//! changed records) against an in-process sandbox with limits off, with the raw-SQLite bounds
//! measured in the same run. Prints figures and ratios; asserts nothing.

use anyhow::{anyhow, Context};
use clap::{Args, Subcommand};
use kartoteka_bitrix::{Client, ClientOptions, WebhookUrl};
use kartoteka_domain::EntityType;
use kartoteka_sandbox::control::Control;
use kartoteka_sandbox::{ClockMode, LimitsPreset, Sandbox, SandboxOptions};
use kartoteka_store::Store;
use kartoteka_sync::{
    BitrixPortal, CancellationToken, Policy, ReconcilePolicy, SyncEngine, SyncSummary,
};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Records one `batch` request can carry (50 commands × 50 rows).
const RECORDS_PER_REQUEST: u64 = 2_500;

#[derive(Args)]
pub struct BenchArgs {
    #[command(subcommand)]
    command: BenchCommand,
}

#[derive(Subcommand)]
enum BenchCommand {
    /// P1 and P2: initial pull of N records, then an incremental pull of changed records.
    Pull(PullArgs),
    /// P3, P4, P5, P8: N history events through the engine's write path, then pages, totals,
    /// text search and an .xlsx export, each beside its raw-SQLite bound.
    History(crate::bench_history::HistoryBenchArgs),
    /// P6 and P7: durable offline edits, then their upload (limits off, then the standard limit).
    Upload(crate::bench_upload::UploadBenchArgs),
    /// §1 of issue 10: list pages read while a pull of N records writes the replica, through
    /// the app's read-only connections and through the writer's lock; the idle replica as bound.
    Responsive(crate::bench_responsive::ResponsiveArgs),
    /// P10: Kartoteka and an existing client library (fast_bitrix24 from PyPI, installed by the
    /// benchmark) pull the same records from the same sandbox; wall times and request counts.
    Peer(crate::bench_peer::PeerArgs),
    /// Issue 10 §2: record search (first page + exact total) on an existing replica file.
    Search(SearchArgs),
    /// (Used by `bench history`.) One export in this process; prints rows, seconds, peak memory.
    #[command(hide = true)]
    HistoryExportChild(crate::bench_history::ExportChildArgs),
}

#[derive(Args)]
struct SearchArgs {
    /// The replica to search (e.g. one `bench pull --dir` left behind).
    #[arg(long)]
    replica: PathBuf,
}

#[derive(Args)]
struct PullArgs {
    /// Records on the portal, across the four types in demo proportions.
    #[arg(long, default_value_t = 1_000_000)]
    records: usize,
    /// Records changed on the portal before the incremental pull (default: min(100,000, records)).
    #[arg(long)]
    changed: Option<usize>,
    /// Directory for the replica and bound databases (default: a fresh one under the temp dir).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Skip the incremental part (P2).
    #[arg(long)]
    skip_incremental: bool,
}

pub fn run(args: BenchArgs) -> anyhow::Result<()> {
    match args.command {
        BenchCommand::Pull(a) => {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?;
            rt.block_on(pull(a))
        }
        BenchCommand::History(a) => crate::bench_history::run(a),
        BenchCommand::Upload(a) => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?
            .block_on(crate::bench_upload::run(a)),
        BenchCommand::Peer(a) => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?
            .block_on(crate::bench_peer::run(a)),
        BenchCommand::Responsive(a) => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?
            .block_on(crate::bench_responsive::run(a)),
        BenchCommand::HistoryExportChild(a) => crate::bench_history::export_child(a),
        BenchCommand::Search(a) => {
            let store = Store::open(&a.replica)?;
            let records: u64 = EntityType::ALL
                .iter()
                .map(|t| store.all_ids(*t).map(|ids| ids.len() as u64))
                .sum::<Result<u64, _>>()?;
            println!("search on {} ({records} records; first page of 50 + exact total, target p95 ≤ 50 ms)", a.replica.display());
            for f in kartoteka_store::bench::time_searches(&store)? {
                println!("  {f}");
            }
            Ok(())
        }
    }
}

pub(crate) fn work_dir(given: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    let dir = given.unwrap_or_else(|| {
        std::env::temp_dir().join(format!("kartoteka-bench-{}", std::process::id()))
    });
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    Ok(dir)
}

/// The benchmarks' portal: a frozen-clock sandbox with limits off holding `records` demo
/// records across the four types; says how long generating them took.
pub(crate) async fn bench_sandbox(records: usize) -> anyhow::Result<Sandbox> {
    let started = Instant::now();
    let sandbox = Sandbox::start(SandboxOptions {
        clock: ClockMode::Frozen,
        limits: LimitsPreset::Off,
        records: Some(records),
        ..SandboxOptions::default()
    })
    .await?;
    println!(
        "sandbox: {records} records generated in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(sandbox)
}

/// A sync engine as the app runs it (its counts come with the reference batch, so one request
/// can carry the end of one type and the start of the next), without reconcile, reading
/// `webhook` with no rate limit into `store`.
pub(crate) fn bench_engine(
    webhook: &str,
    store: Arc<Mutex<Store>>,
) -> anyhow::Result<SyncEngine<BitrixPortal, Store>> {
    let client = Client::new(
        WebhookUrl::parse(webhook)?,
        ClientOptions {
            rate_limit: None,
            ..ClientOptions::default()
        },
    )?;
    Ok(SyncEngine::new(
        Arc::new(BitrixPortal::new(client)),
        store,
        Policy {
            reconcile: ReconcilePolicy::Never,
            ..Policy::default()
        },
        kartoteka_sync::no_events(),
    ))
}

async fn pull(args: PullArgs) -> anyhow::Result<()> {
    let dir = work_dir(args.dir.clone())?;
    let sandbox = bench_sandbox(args.records).await?;
    let replica_path = dir.join("replica.db");
    let _ = std::fs::remove_file(&replica_path);
    let store = Arc::new(Mutex::new(Store::open(&replica_path)?));
    let engine = bench_engine(&sandbox.admin_webhook_url(), Arc::clone(&store))?;
    let cancel = CancellationToken::new();

    // P1: initial pull.
    let initial = engine.run(&cancel).await?;
    let pulled = initial.total_pulled();
    // The records' rate: until they are all in the replica (the stage history read after them
    // is shown apart, and in the whole-run rate).
    let initial_rate = pulled as f64 / (initial.seconds - initial.stage_history_seconds).max(1e-9);
    let whole_run_rate = pulled as f64 / initial.seconds;
    let minimum = pulled.div_ceil(RECORDS_PER_REQUEST).max(1);
    let per_type_minimum: u64 = initial
        .types
        .iter()
        .map(|s| s.pulled.div_ceil(RECORDS_PER_REQUEST).max(1))
        .sum();
    println!("\nP1 initial pull");
    print_summary(&initial);
    println!("  rate: {initial_rate:.0} records/s until the records are in; {whole_run_rate:.0} records/s with the stage history after them");
    println!(
        "  requests: {} in all ({} reading records: {} initial by id, {} incremental pass; the rest reference data)",
        initial.requests,
        initial.pull_requests,
        initial.initial_pull_requests,
        initial.pull_requests - initial.initial_pull_requests
    );
    println!(
        "  protocol minimum ⌈N/2500⌉ = {minimum} (per type {per_type_minimum}); initial pull {:.3}×, whole run {:.3}×",
        initial.initial_pull_requests as f64 / minimum as f64,
        initial.requests as f64 / minimum as f64
    );

    // P2: incremental pull of changed records.
    let mut incremental_rate = None;
    if !args.skip_incremental {
        let changed = args.changed.unwrap_or(100_000).min(args.records);
        let t = Instant::now();
        let touched = change_records(&sandbox.base_url(), &store, changed).await?;
        println!(
            "\nportal: {touched} records changed in {:.1} s",
            t.elapsed().as_secs_f64()
        );
        let incremental = engine.run(&cancel).await?;
        let rate = incremental.total_pulled() as f64 / incremental.seconds;
        let changes: u64 = incremental.types.iter().map(|s| s.updated).sum();
        println!("P2 incremental pull");
        print_summary(&incremental);
        println!("  rate: {rate:.0} records/s ({changes} records updated with field diffs)");
        incremental_rate = Some(rate);
    }
    sandbox.shutdown().await;

    // Issue 10 §2: record search and the new sorts on the replica just pulled.
    {
        let s = store.lock().map_err(|_| anyhow!("replica lock poisoned"))?;
        let figures = kartoteka_store::bench::time_searches(&s)?;
        println!("\nsearch on the replica ({pulled} records; first page of 50 + exact total, target p95 ≤ 50 ms)");
        for f in &figures {
            println!("  {f}");
        }
    }

    // The bounds, measured now on this machine.
    let bound_dir = dir.join("bounds");
    std::fs::create_dir_all(&bound_dir)?;
    let t = Instant::now();
    let bounds = tokio::task::spawn_blocking({
        let (d, n) = (bound_dir.clone(), pulled.max(1) as usize);
        move || kartoteka_store::bench::run(&d, n)
    })
    .await??;
    println!(
        "\nbounds (same run, {:.1} s)\n{bounds}",
        t.elapsed().as_secs_f64()
    );
    println!("\nratios");
    println!(
        "  P1 initial pull / raw bulk upsert (key only):   {:.2}  (target ≥ 0.50)",
        initial_rate / bounds.raw_key_only
    );
    println!(
        "  P1 initial pull / raw bulk upsert (3 indexes):  {:.2}",
        initial_rate / bounds.raw_three_indexes
    );
    println!(
        "  P1 whole run incl. stage history / key-only:   {:.2}",
        whole_run_rate / bounds.raw_key_only
    );
    println!(
        "  P1 initial-pull requests / ⌈N/2500⌉:            {:.3}  (target ≤ 1.02; whole run incl. reference data {:.3})",
        initial.initial_pull_requests as f64 / minimum as f64,
        initial.requests as f64 / minimum as f64
    );
    if let Some(rate) = incremental_rate {
        println!(
            "  P2 incremental pull / raw upsert with history:  {:.2}  (target ≥ 0.50; bound = raw SQLite upsert writing 3 history rows per record)",
            rate / bounds.raw_upsert_with_history
        );
        println!(
            "  P2 incremental pull / apply with field diffs:   {:.2}  (store apply of all-changed records, no network)",
            rate / bounds.changed_pull
        );
    }
    let _ = std::fs::remove_dir_all(&bound_dir);
    Ok(())
}

fn print_summary(s: &SyncSummary) {
    for t in &s.types {
        println!(
            "  {:<8} pulled {:>8}  inserted {:>8}  updated {:>8}  unchanged {:>8}",
            t.entity_type.slug(),
            t.pulled,
            t.inserted,
            t.updated,
            t.unchanged
        );
    }
    println!(
        "  {} records in {:.2} s, {} requests ({} pulling records)",
        s.total_pulled(),
        s.seconds,
        s.requests,
        s.pull_requests
    );
    if s.stage_history_requests > 0 {
        println!(
            "  of which stage history (after the records): {:.2} s, {} requests, {} moves",
            s.stage_history_seconds, s.stage_history_requests, s.stage_moves
        );
    }
}

/// Moves the portal clock an hour on, then changes `n` records (spread over the types) as another
/// user, 50 updates per `batch`, through the sandbox's control API.
async fn change_records(base: &str, store: &Arc<Mutex<Store>>, n: usize) -> anyhow::Result<usize> {
    let control = Control::new(base);
    control.advance_clock(3600).await?;
    let ids = {
        let s = store.lock().map_err(|_| anyhow!("replica lock poisoned"))?;
        let mut all = Vec::new();
        for t in EntityType::ALL {
            all.extend(s.all_ids(t)?.into_iter().map(|id| (t, id)));
        }
        all
    };
    let step = (ids.len() / n.max(1)).max(1);
    let chosen: Vec<(EntityType, i64)> = ids.into_iter().step_by(step).take(n).collect();
    for (k, chunk) in chosen.chunks(50).enumerate() {
        let cmd: serde_json::Map<String, Value> = chunk
            .iter()
            .enumerate()
            .map(|(i, (t, id))| {
                let query = format!(
                    "crm.item.update?entityTypeId={}&id={id}&fields[comments]=bench%20change%20{k}",
                    t.type_id()
                );
                (format!("u{i}"), Value::String(query))
            })
            .collect();
        control
            .act(2, "batch", json!({"halt": 0, "cmd": cmd}))
            .await?;
    }
    Ok(chosen.len())
}
