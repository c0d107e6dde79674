//! The store's pull benchmark alone (no sandbox, no network), for measuring and profiling
//! `apply_pulled`.
//!
//! - `bench_apply all [records]`: every figure of `kartoteka_store::bench::run` (the bounds and
//!   `apply_pulled` of new, unchanged and changed records), as `kartoteka-cli bench pull` prints.
//! - `bench_apply new <records> <dir>`: a fresh replica in `dir` gets the records (initial pull).
//! - `bench_apply changed <records> <dir>`: the replica in `dir` gets every record changed
//!   (incremental pull); copy the file made by `new` first to repeat it.
//!
//! `cargo run --release -p kartoteka-store --example bench_apply -- all 100000`

use kartoteka_domain::{EntityType, Record};
use kartoteka_store::bench::{synthetic_record, PULL_BATCH};
use kartoteka_store::{Store, SyncCheckpoint};
use std::path::PathBuf;
use std::time::Instant;

/// The allocator of the CLI and the app, so that the figures are theirs.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn batches(n: usize, version: u32) -> Vec<(EntityType, Vec<Record>)> {
    let deals = n / 2;
    let mut out = Vec::new();
    for (t, count) in [(EntityType::Deal, deals), (EntityType::Contact, n - deals)] {
        let all: Vec<Record> = (1..=count as i64)
            .map(|id| synthetic_record(t, id, version))
            .collect();
        for chunk in all.chunks(PULL_BATCH) {
            out.push((t, chunk.to_vec()));
        }
    }
    out
}

fn apply(
    store: &mut Store,
    batches: &[(EntityType, Vec<Record>)],
) -> Result<(), Box<dyn std::error::Error>> {
    let start = Instant::now();
    let cpu_start = cpu_seconds();
    let (mut count, mut changes) = (0usize, 0usize);
    for (t, records) in batches {
        let cp = SyncCheckpoint {
            last_id: records.last().map_or(0, |r| r.key.id),
            ..SyncCheckpoint::default()
        };
        let stats = store.apply_pulled(*t, records, &cp)?;
        changes += stats.changes.iter().map(|c| c.changes.len()).sum::<usize>();
        count += records.len();
    }
    let secs = start.elapsed().as_secs_f64();
    let cpu = cpu_seconds().zip(cpu_start).map(|(end, start)| end - start);
    println!(
        "{count} records in {secs:.2} s: {:.0} records/s ({changes} field changes){}",
        count as f64 / secs,
        cpu.map(|c| format!(
            "; on the CPU {c:.2} s: {:.0} records per CPU second",
            count as f64 / c
        ))
        .unwrap_or_default()
    );
    Ok(())
}

/// This thread's time on a CPU so far (Linux), a steadier figure than wall time on a shared
/// machine.
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: f64 = stat.split_whitespace().next()?.parse().ok()?;
    Some(ns / 1e9)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let mode = args.next().unwrap_or_else(|| "all".into());
    let n: usize = args
        .next()
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(100_000);
    let dir = args.next().map(PathBuf::from);
    match mode.as_str() {
        "all" => {
            let dir = dir.unwrap_or_else(|| {
                std::env::temp_dir().join(format!("kt-bench-apply-{}", std::process::id()))
            });
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir)?;
            println!("{}", kartoteka_store::bench::run(&dir, n)?);
            std::fs::remove_dir_all(&dir)?;
        }
        "new" | "changed" => {
            let dir = dir.ok_or("a directory is needed")?;
            std::fs::create_dir_all(&dir)?;
            let path = dir.join("bench-store.db");
            if mode == "new" {
                for suffix in ["", "-wal", "-shm"] {
                    let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
                }
            }
            let records = batches(n, u32::from(mode == "changed"));
            let mut store = Store::open(&path)?;
            apply(&mut store, &records)?;
        }
        other => return Err(format!("unknown mode {other}").into()),
    }
    Ok(())
}
