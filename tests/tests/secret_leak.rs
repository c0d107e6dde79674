//! The webhook secret appears nowhere but the keyring: `kartoteka-cli` runs a sync, reads records
//! back (what an export prints) and fails to connect with a wrong webhook, all with logging at
//! `trace`; neither code is in anything it printed, nor in the replica file.

mod sync_support;

use std::path::Path;
use std::process::{Command, Output};
use sync_support::*;

/// The code part of a webhook URL (`…/rest/<user>/<code>/`).
fn code_of(webhook: &str) -> String {
    webhook
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_string()
}

fn run(bin: &Path, args: &[&str], webhook: Option<&str>) -> Output {
    let mut c = Command::new(bin);
    c.args(args)
        .env("RUST_LOG", "trace")
        .env_remove("KARTOTEKA_WEBHOOK");
    if let Some(w) = webhook {
        c.env("KARTOTEKA_WEBHOOK", w);
    }
    c.output().expect("kartoteka-cli runs")
}

fn printed(out: &Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Every file beside the replica (`.db`, `-wal`, `-shm`), as bytes.
fn replica_bytes(db: &Path) -> Vec<u8> {
    let mut all = Vec::new();
    for suffix in ["", "-wal", "-shm"] {
        if let Ok(bytes) = std::fs::read(format!("{}{suffix}", db.display())) {
            all.extend(bytes);
        }
    }
    all
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_webhook_code_is_in_no_output_log_or_replica_file_even_at_trace() {
    let bin = cli_binary();
    let sb = sandbox(Some(200)).await;
    let webhook = sb.admin_webhook_url();
    let code = code_of(&webhook);
    assert!(code.len() >= 8, "a real code to look for: {code}");
    let wrong = format!("{}/rest/1/wrongcodeleak7391/", sb.base_url());
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("replica.db");
    let db_arg = db.to_str().expect("utf-8 path");

    let sync = run(
        &bin,
        &["sync", "--no-rate-limit", "--progress", "--db", db_arg],
        Some(&webhook),
    );
    assert!(sync.status.success(), "sync works: {}", printed(&sync));
    let count = run(&bin, &["records", "count", "--json", "--db", db_arg], None);
    assert!(count.status.success(), "{}", printed(&count));
    let show = run(
        &bin,
        &[
            "records", "show", "--type", "deal", "--id", "1", "--db", db_arg,
        ],
        None,
    );
    assert!(show.status.success(), "{}", printed(&show));
    let refused = run(
        &bin,
        &["sync", "--no-rate-limit", "--db", db_arg],
        Some(&wrong),
    );
    assert!(!refused.status.success(), "a wrong webhook cannot sync");

    let logs = [&sync, &count, &show, &refused].map(printed).join("\n");
    assert!(
        logs.contains("TRACE") || logs.contains("trace"),
        "logging really ran at trace"
    );
    for secret in [code.as_str(), "wrongcodeleak7391"] {
        let at = logs
            .find(secret)
            .map(|i| &logs[i.saturating_sub(200)..i + secret.len()]);
        assert_eq!(
            at, None,
            "the webhook code {secret} leaked into the CLI's output"
        );
        assert!(
            !contains(&replica_bytes(&db), secret),
            "the webhook code {secret} is in the replica file"
        );
    }
    sb.shutdown().await;
}
