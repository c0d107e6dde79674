//! `kartoteka-cli` run as a real process leaves customers' data readable by the user alone (unix):
//! the replica a sync writes, the unsent edits and the history it exports are 0600, and the folder
//! the user chose for them keeps its own mode. Run with the usual umask (022), under which files
//! are created 0644 unless a program asks for less.
#![cfg(unix)]

use kartoteka_sandbox::{ClockMode, LimitsPreset, Sandbox, SandboxOptions};
use serde_json::Value;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};

fn cli(args: &[&str], webhook: Option<&str>) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_kartoteka-cli"));
    c.args(args)
        .env_remove("RUST_LOG")
        .env_remove("KARTOTEKA_WEBHOOK");
    if let Some(w) = webhook {
        c.env("KARTOTEKA_WEBHOOK", w);
    }
    c.output().expect("kartoteka-cli runs")
}

fn ok(out: Output) -> String {
    let stdout = String::from_utf8(out.stdout).expect("UTF-8");
    assert!(
        out.status.success(),
        "exit {:?}\nstdout: {stdout}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// The mode of `path` in octal, as `ls -l` users read it.
fn mode(path: &Path) -> String {
    let meta = std::fs::metadata(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    format!("{:o}", meta.permissions().mode() & 0o777)
}

/// Every file in `dir` with its mode.
fn file_modes(dir: &Path) -> Vec<(String, String)> {
    let mut all: Vec<_> = std::fs::read_dir(dir)
        .expect("read the folder")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.is_file())
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, mode(&p))
        })
        .collect();
    all.sort();
    all
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_synced_replica_and_the_files_exported_from_it_are_the_users_alone() {
    let sb = Sandbox::start(SandboxOptions {
        clock: ClockMode::Frozen,
        limits: LimitsPreset::Off,
        records: Some(40),
        ..SandboxOptions::default()
    })
    .await
    .expect("sandbox starts on loopback");
    let webhook = sb.admin_webhook_url();
    let dir = tempfile::tempdir().expect("temp dir");
    // The folder the user keeps the replica and the exports in: theirs, not the app's.
    let chosen = dir.path().join("crm");
    std::fs::create_dir(&chosen).expect("folder");
    std::fs::set_permissions(&chosen, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let db = chosen.join("replica.db");
    let db_arg = db.to_str().expect("UTF-8 path");

    let sync = cli(
        &["sync", "--no-rate-limit", "--db", db_arg],
        Some(webhook.as_str()),
    );
    ok(sync);
    let left = file_modes(&chosen);
    assert!(
        left.iter().any(|(name, _)| name == "replica.db"),
        "{left:?}"
    );
    assert!(
        left.iter().all(|(_, mode)| mode == "600"),
        "every file the sync left is the user's alone: {left:?}"
    );

    // An unsent edit, exported as the outbox export writes it.
    let page: Value = serde_json::from_str(&ok(cli(
        &[
            "records", "list", "--type", "deal", "--limit", "1", "--json", "--db", db_arg,
        ],
        None,
    )))
    .expect("JSON");
    let id = page["rows"][0]["id"].as_i64().expect("a synced deal");
    ok(cli(
        &[
            "edit",
            "--db",
            db_arg,
            "--type",
            "deal",
            "--id",
            &id.to_string(),
            "--set",
            "comments=Перезвонить",
        ],
        None,
    ));
    let unsent = chosen.join("unsent.json");
    ok(cli(
        &[
            "outbox",
            "export",
            "--db",
            db_arg,
            "--out",
            unsent.to_str().expect("UTF-8"),
        ],
        None,
    ));
    let exported: Value =
        serde_json::from_slice(&std::fs::read(&unsent).expect("the export")).expect("JSON");
    assert!(
        !exported["edits"].as_array().expect("edits").is_empty(),
        "{exported}"
    );
    assert_eq!(mode(&unsent), "600", "the unsent edits");

    for (format, name) in [("csv", "history.csv"), ("xlsx", "history.xlsx")] {
        let out = chosen.join(name);
        ok(cli(
            &[
                "history",
                "export",
                "--db",
                db_arg,
                "--format",
                format,
                "--out",
                out.to_str().expect("UTF-8"),
            ],
            None,
        ));
        assert_eq!(mode(&out), "600", "the history export {name}");
    }
    assert_eq!(mode(&chosen), "755", "the user's folder keeps its mode");

    // A replica an earlier version left readable by others is narrowed by whichever command
    // opens it next.
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    ok(cli(&["records", "count", "--db", db_arg], None));
    assert_eq!(mode(&db), "600", "narrowed when opened");
    let left = file_modes(&chosen);
    assert!(left.iter().all(|(_, mode)| mode == "600"), "{left:?}");
}
