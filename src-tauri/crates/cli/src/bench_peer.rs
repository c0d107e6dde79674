//! `kartoteka-cli bench peer`: performance.md P10. Kartoteka and an existing Bitrix24 client
//! library — `fast_bitrix24` from PyPI, installed by this benchmark into a virtualenv under a
//! cache directory — pull the same N records from the same in-process sandbox (limits off) in
//! the same run, each writing what it pulled to a SQLite file. Prints both wall times and both
//! request counts (from the sandbox's own request log) and Kartoteka's ratio against the 2×
//! target. Asserts nothing.

use anyhow::{anyhow, bail, Context};
use clap::Args;
use kartoteka_sandbox::control::Control;
use kartoteka_store::Store;
use kartoteka_sync::CancellationToken;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// The peer library and the version measured.
const PEER_PACKAGE: &str = "fast-bitrix24==1.8.14";
/// The peer's pull: every record of the four types through the library's `get_all`.
const PEER_SCRIPT: &str = include_str!("../peer/fast_bitrix24_pull.py");

#[derive(Args)]
pub struct PeerArgs {
    /// Records on the portal, across the four types in demo proportions.
    #[arg(long, default_value_t = 100_000)]
    records: usize,
    /// The virtualenv of the peer library (created and filled with pip when missing).
    /// Default: $XDG_CACHE_HOME/kartoteka/peer-venv, else ~/.cache/kartoteka/peer-venv.
    #[arg(long)]
    venv: Option<PathBuf>,
    /// Directory for both replicas (default: a fresh one under the temp dir).
    #[arg(long)]
    dir: Option<PathBuf>,
}

fn default_venv() -> PathBuf {
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    cache.join("kartoteka").join("peer-venv")
}

fn run_ok(cmd: &mut Command, what: &str) -> anyhow::Result<()> {
    let status = cmd
        .status()
        .with_context(|| format!("{what}: not started"))?;
    if !status.success() {
        bail!("{what} failed ({status})");
    }
    Ok(())
}

/// The virtualenv's python with the peer library importable: made with `python3 -m venv` and
/// `pip install` the first time.
fn peer_python(venv: &Path) -> anyhow::Result<PathBuf> {
    let python = venv.join("bin").join("python");
    let has_library = |python: &Path| {
        Command::new(python)
            .args(["-c", "import fast_bitrix24"])
            .status()
            .is_ok_and(|s| s.success())
    };
    if python.exists() && has_library(&python) {
        return Ok(python);
    }
    println!("installing {PEER_PACKAGE} into {}", venv.display());
    if !python.exists() {
        run_ok(
            Command::new("python3").arg("-m").arg("venv").arg(venv),
            "python3 -m venv",
        )?;
    }
    run_ok(
        Command::new(&python).args(["-m", "pip", "install", "--quiet", PEER_PACKAGE]),
        "pip install",
    )?;
    if !has_library(&python) {
        bail!("{PEER_PACKAGE} installed but not importable");
    }
    Ok(python)
}

/// What the requests since `since` were for: the method, or for a `batch` the methods of its
/// commands (`batch:crm.item.list`), with counts.
async fn requests_by_method(control: &Control, since: u64) -> anyhow::Result<String> {
    let mut counts: std::collections::BTreeMap<String, u64> = Default::default();
    for r in control.requests(since).await? {
        let what = if r.method == "batch" {
            let mut inner: Vec<String> = r
                .params
                .get("cmd")
                .and_then(Value::as_object)
                .map(|cmds| {
                    cmds.values()
                        .filter_map(Value::as_str)
                        .map(|c| c.split('?').next().unwrap_or(c).to_string())
                        .collect()
                })
                .unwrap_or_default();
            inner.sort();
            inner.dedup();
            format!("batch:{}", inner.join("+"))
        } else {
            r.method.clone()
        };
        *counts.entry(what).or_default() += 1;
    }
    Ok(counts
        .iter()
        .map(|(k, n)| format!("{n} {k}"))
        .collect::<Vec<_>>()
        .join(", "))
}

/// Requests the sandbox has answered so far (its log's sequence number).
async fn requests_so_far(control: &Control) -> anyhow::Result<u64> {
    let answer = control.clear_requests().await?;
    answer
        .get("last")
        .and_then(Value::as_u64)
        .ok_or_else(|| anyhow!("the sandbox's request log has no sequence number"))
}

pub async fn run(args: PeerArgs) -> anyhow::Result<()> {
    let venv = args.venv.clone().unwrap_or_else(default_venv);
    let python = peer_python(&venv)?;
    let dir = crate::bench_cmd::work_dir(args.dir.clone())?;
    let sandbox = crate::bench_cmd::bench_sandbox(args.records).await?;
    let control = Control::of(&sandbox);
    let webhook = sandbox.admin_webhook_url();

    // Kartoteka: a sync run into a fresh replica (reference data, pulls, stage history).
    let replica_path = dir.join("peer-kartoteka.db");
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", replica_path.display()));
    }
    let before = requests_so_far(&control).await?;
    let t = Instant::now();
    let store = Arc::new(Mutex::new(Store::open(&replica_path)?));
    let engine = crate::bench_cmd::bench_engine(&webhook, store)?;
    let summary = engine.run(&CancellationToken::new()).await?;
    let ours_seconds = t.elapsed().as_secs_f64();
    let ours_breakdown = requests_by_method(&control, 0).await?;
    let ours_requests = requests_so_far(&control).await? - before;

    // The peer, on the same portal, as a child process.
    let peer_db = dir.join("peer-fast_bitrix24.db");
    let _ = std::fs::remove_file(&peer_db);
    let script = venv.join("kartoteka_peer_pull.py");
    std::fs::write(&script, PEER_SCRIPT)?;
    let before = requests_so_far(&control).await?;
    let t = Instant::now();
    let mut peer = Command::new(&python);
    peer.arg("-W")
        .arg("ignore")
        .arg(&script)
        .arg(&webhook)
        .arg(&peer_db);
    let output = tokio::task::spawn_blocking(move || peer.output()).await??;
    let peer_seconds = t.elapsed().as_secs_f64();
    let peer_breakdown = requests_by_method(&control, 0).await?;
    let peer_requests = requests_so_far(&control).await? - before;
    if !output.status.success() {
        bail!(
            "the peer failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let report: Value = serde_json::from_slice(
        output
            .stdout
            .split(|b| *b == b'\n')
            .rfind(|l| !l.is_empty())
            .unwrap_or_default(),
    )
    .context("the peer's report")?;
    sandbox.shutdown().await;
    let _ = std::fs::remove_file(&peer_db);
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", replica_path.display()));
    }

    let ours_records = summary.total_pulled();
    let peer_records = report.get("records").and_then(Value::as_u64).unwrap_or(0);
    println!("\nP10 against {PEER_PACKAGE} (same sandbox, same run, limits off)");
    println!(
        "  kartoteka       {ours_records:>8} records  {ours_seconds:>7.2} s  {ours_requests:>6} requests  (replica with history, search, links, reference data)"
    );
    println!(
        "  fast_bitrix24   {peer_records:>8} records  {peer_seconds:>7.2} s  {peer_requests:>6} requests  (crm.item.list get_all into SQLite JSON rows; process start included)"
    );
    println!("  kartoteka's requests: {ours_breakdown}");
    println!("  the peer's requests:  {peer_breakdown}");
    println!(
        "  kartoteka reading records: {} requests ({} initial pull by id, the rest the incremental pass); the peer reads records only (no stage history, no field metadata, no users)",
        summary.pull_requests, summary.initial_pull_requests
    );
    // The same work as the peer's: the records of the four types (with the reference data
    // they need), up to the moment they are in the replica and on screen. The stage history
    // that follows is work the peer does not do; it is shown apart.
    let records_seconds = ours_seconds - summary.stage_history_seconds;
    let records_requests = ours_requests.saturating_sub(summary.stage_history_requests);
    println!(
        "  kartoteka, records in the replica: {records_seconds:.2} s, {records_requests} requests; then stage history {:.2} s, {} requests ({} moves; the peer reads none)",
        summary.stage_history_seconds, summary.stage_history_requests, summary.stage_moves
    );
    println!(
        "  speed, same work (records):  kartoteka is {:.2}× the peer  (target ≥ 2×)",
        peer_seconds / records_seconds.max(1e-9)
    );
    println!(
        "  speed, whole run:            kartoteka is {:.2}× the peer",
        peer_seconds / ours_seconds.max(1e-9)
    );
    println!(
        "  requests, same work: kartoteka {records_requests} vs peer {peer_requests}  (target: no more than the peer); whole run {ours_requests}"
    );
    Ok(())
}
