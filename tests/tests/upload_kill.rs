//! `kill -9` of a real `kartoteka-cli sync` at each step of an upload — before the write is sent,
//! after the portal applied a create, after it applied an update (before the answer is marked
//! done) — then a run to the end: nothing is lost, nothing is duplicated on the portal (checked
//! in the portal's own state), and the replica ends equal to the portal.

mod sync_support;

use kartoteka_store::Store;
use serde_json::{json, Value};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use sync_support::*;

fn cli(bin: &Path, webhook: &str, args: &[&str]) -> Command {
    let mut c = Command::new(bin);
    c.args(args)
        .env("KARTOTEKA_WEBHOOK", webhook)
        .env("RUST_LOG", "warn");
    c
}

fn run_ok(mut c: Command) -> String {
    let out = c.output().expect("cli runs");
    assert!(
        out.status.success(),
        "cli failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Which batch of the upload stalls (then the process is killed while it waits): the upload
/// sends the create (batch 1), reads current values (2), writes the update (3), publishes logs.
const STEPS: [(&str, u64); 3] = [
    ("after the portal applied the create", 1),
    ("before the update is sent (reading current values)", 2),
    (
        "after the portal applied the update, before it is marked done",
        3,
    ),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upload_killed_at_each_step_loses_nothing_and_duplicates_nothing() {
    let bin = cli_binary();
    for (step, nth) in STEPS {
        let sb = sandbox(None).await;
        let emu = Emu::new(&sb);
        let url = sb.admin_webhook_url();
        let dir = tempfile::tempdir().expect("temp dir");
        let db = dir.path().join("replica.db");
        let db_s = db.to_str().expect("utf-8 path");
        run_ok(cli(&bin, &url, &["sync", "--no-rate-limit", "--db", db_s]));
        run_ok(cli(
            &bin,
            &url,
            &[
                "edit",
                "--db",
                db_s,
                "--type",
                "deal",
                "--id",
                "3",
                "--set",
                "opportunity=777000.5",
                "--set",
                "UF_CRM_NOTE=после kill -9",
            ],
        ));
        run_ok(cli(
            &bin,
            &url,
            &[
                "create",
                "--db",
                db_s,
                "--type",
                "company",
                "--set",
                "title=ООО Убитый процесс",
                "--add-phone",
                "+7 495 100-20-30",
            ],
        ));

        emu.post(
            "faults",
            json!([{"match": {"method": "batch", "nth": nth, "times": 1}, "action": {"type": "delay", "ms": 20000}}]),
        )
        .await;
        let mut child = cli(&bin, &url, &["sync", "--no-rate-limit", "--db", db_s])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("cli starts");
        let mut stalled = false;
        for _ in 0..400 {
            tokio::time::sleep(Duration::from_millis(25)).await;
            if emu.faults_fired().await == vec![1] {
                stalled = true;
                break;
            }
        }
        assert!(stalled, "{step}: the upload reached the stalled request");
        // The stalled request has run on the portal by now (a delay holds only the answer).
        tokio::time::sleep(Duration::from_millis(100)).await;
        child.kill().expect("SIGKILL");
        child.wait().expect("reaped");
        emu.delete("faults").await;

        // After the restart the next sync finishes the job.
        run_ok(cli(&bin, &url, &["sync", "--no-rate-limit", "--db", db_s]));
        let left = run_ok(cli(&bin, &url, &["outbox", "list", "--db", db_s, "--json"]));
        assert!(
            left.trim().is_empty(),
            "{step}: nothing left unsent: {left}"
        );

        let companies = emu
            .act(
                1,
                "crm.item.list",
                json!({"entityTypeId": 4, "select": ["id", "title", "originId"],
                       "filter": {"=originatorId": "kartoteka"}}),
            )
            .await;
        let made: Vec<Value> = companies["result"]["items"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert_eq!(
            made.len(),
            1,
            "{step}: the company exists exactly once: {made:?}"
        );
        assert_eq!(made[0]["title"], json!("ООО Убитый процесс"));
        let deal = emu
            .act(
                1,
                "crm.item.get",
                json!({"entityTypeId": 2, "id": 3, "useOriginalUfNames": "Y"}),
            )
            .await;
        assert_eq!(
            deal["result"]["item"]["opportunity"].as_f64(),
            Some(777000.5),
            "{step}"
        );
        assert_eq!(
            deal["result"]["item"]["UF_CRM_NOTE"],
            json!("после kill -9"),
            "{step}"
        );

        let store = Arc::new(Mutex::new(
            Store::open(&db).expect("replica opens after kill -9"),
        ));
        assert!(
            store
                .lock()
                .expect("lock")
                .verify_history()
                .expect("verify")
                .1
                .is_none(),
            "{step}: history chain intact"
        );
        assert_replica_equals_portal(&url, &store).await;
        sb.shutdown().await;
    }
}
