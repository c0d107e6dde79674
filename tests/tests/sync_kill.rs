//! `kill -9` in the middle of a real `kartoteka-cli sync` process, then a resumed run: no gap,
//! no duplicate, no full refetch; the replica ends equal to the portal.

mod sync_support;

use kartoteka_domain::EntityType;
use kartoteka_store::Store;
use serde_json::{json, Value};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use sync_support::*;

fn active_records(db: &Path) -> u64 {
    Store::open(db)
        .and_then(|s| s.counts())
        .map(|c| c.iter().map(|c| c.active).sum())
        .unwrap_or(0)
}

fn sync_command(bin: &Path, webhook: &str, db: &Path) -> Command {
    let mut c = Command::new(bin);
    c.args(["sync", "--no-rate-limit", "--json", "--db"])
        .arg(db)
        .env("KARTOTEKA_WEBHOOK", webhook)
        .env("RUST_LOG", "warn");
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_killed_mid_way_resumes_without_gap_duplicate_or_full_refetch() {
    let bin = cli_binary();
    let sb = sandbox(Some(10_000)).await;
    let emu = Emu::new(&sb);
    let url = sb.admin_webhook_url();
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("replica.db");
    let total: u64 = portal_counts(&url).await.values().sum::<usize>() as u64;

    // The fourth batch request stalls, so the process is surely mid-pull when it is killed.
    emu.post("faults", json!([{"match": {"method": "batch", "nth": 4, "times": 1}, "action": {"type": "delay", "ms": 15000}}]))
        .await;
    let mut child = sync_command(&bin, &url, &db)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("cli starts");
    let mut committed = 0;
    for _ in 0..600 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        if db.exists() {
            committed = active_records(&db);
            if committed > 0 {
                break;
            }
        }
    }
    assert!(
        committed > 0,
        "the child committed some records before the stall"
    );
    child.kill().expect("SIGKILL"); // Unix: SIGKILL, no chance to clean up.
    child.wait().expect("reaped");
    emu.delete("faults").await;

    let partial = active_records(&db);
    assert!(
        partial > 0 && partial < total,
        "killed mid-way: {partial} of {total} records committed"
    );

    let out = sync_command(&bin, &url, &db)
        .output()
        .expect("cli runs again");
    assert!(
        out.status.success(),
        "resumed sync failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary: Value = serde_json::from_slice(&out.stdout).expect("--json prints the summary");
    let inserted: u64 = summary["types"]
        .as_array()
        .expect("types")
        .iter()
        .map(|t| t["inserted"].as_u64().unwrap_or(0))
        .sum();
    let pulled: u64 = summary["types"]
        .as_array()
        .expect("types")
        .iter()
        .map(|t| t["pulled"].as_u64().unwrap_or(0))
        .sum();
    assert_eq!(
        inserted,
        total - partial,
        "the resumed run inserts exactly the records the killed one had not committed"
    );
    assert!(
        pulled < total,
        "no full refetch: {pulled} records read of {total}"
    );

    let store = Arc::new(Mutex::new(
        Store::open(&db).expect("replica opens after kill -9"),
    ));
    for t in EntityType::ALL {
        assert!(!replica_view(&store, t).is_empty() || portal_view(&url, t).await.is_empty());
    }
    assert_replica_equals_portal(&url, &store).await;
    sb.shutdown().await;
}
