//! The replica is the user's alone on unix: the database file, its `-wal` and `-shm`, and the
//! copy kept before an upgrade are 0600 whoever opens the store and whatever the umask let
//! through before; the app's own data folder is 0700, while a folder the user chose keeps its own
//! mode. Run with the usual umask (022), under which SQLite on its own creates 0644 files.
#![cfg(unix)]

mod common;

use common::{checkpoint, deal};
use kartoteka_domain::EntityType;
use kartoteka_store::migrations::STEPS;
use kartoteka_store::Store;
use rusqlite::Connection;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

const T1: &str = "2024-06-01T10:00:00+03:00";

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

fn set_mode(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

/// The replica file and the two SQLite keeps beside it in WAL mode.
fn replica_files(db: &Path) -> [PathBuf; 3] {
    ["", "-wal", "-shm"].map(|suffix| PathBuf::from(format!("{}{suffix}", db.display())))
}

/// Each replica file with its mode in octal.
fn modes(db: &Path) -> Vec<(String, String)> {
    replica_files(db)
        .iter()
        .map(|f| (f.display().to_string(), format!("{:o}", mode(f))))
        .collect()
}

fn private(db: &Path) -> Vec<(String, String)> {
    replica_files(db)
        .iter()
        .map(|f| (f.display().to_string(), "600".to_string()))
        .collect()
}

#[test]
fn a_new_replica_and_its_wal_and_shm_are_the_users_alone_and_its_folder_keeps_its_mode() {
    let dir = tempfile::tempdir().expect("temp dir");
    // A folder the user chose (`kartoteka-cli sync --db ~/crm/replica.db`): not the store's.
    let chosen = dir.path().join("crm");
    std::fs::create_dir(&chosen).expect("folder");
    set_mode(&chosen, 0o755);
    let db = chosen.join("replica.db");

    let mut store = Store::open(&db).expect("a new replica");
    store
        .apply_pulled(
            EntityType::Deal,
            &[deal(1, "Поставка", "NEW", 1, T1)],
            &checkpoint(1),
        )
        .expect("a write, so the WAL holds customers' data");
    assert_eq!(modes(&db), private(&db), "while the store is open");
    drop(store);
    assert_eq!(mode(&db), 0o600, "after it closed");
    assert_eq!(mode(&chosen), 0o755, "the user's folder keeps its mode");
}

#[test]
fn a_replica_an_earlier_version_left_readable_by_others_is_tightened_when_opened() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    std::fs::create_dir(&data).expect("folder");
    set_mode(&data, 0o755);
    let db = data.join("replica.db");
    // As versions before this one left it: SQLite's own default mode (0644 under umask 022),
    // the -wal and -shm beside it held open by another connection (the app still running, or
    // a crash left them).
    let earlier = Connection::open(&db).expect("raw open");
    earlier
        .pragma_update(None, "journal_mode", "WAL")
        .expect("WAL");
    earlier
        .execute_batch("CREATE TABLE left_behind (x); INSERT INTO left_behind VALUES (1);")
        .expect("a write into the WAL");
    for file in replica_files(&db) {
        set_mode(&file, 0o644);
    }
    assert_eq!(
        mode(&db.with_extension("db-wal")),
        0o644,
        "the WAL is there"
    );

    // As the app opens its data folder and the replica in it.
    kartoteka_store::private_dir(&data).expect("the app's data folder");
    let store = Store::open(&db).expect("opens");
    assert_eq!(modes(&db), private(&db), "tightened on open");
    assert_eq!(format!("{:o}", mode(&data)), "700", "the app's own folder");
    drop(store);
    drop(earlier);
    assert_eq!(mode(&db), 0o600);
}

#[test]
fn the_copy_kept_before_an_upgrade_is_the_users_alone() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("replica.db");
    {
        let conn = Connection::open(&db).expect("create a schema-4 file");
        for step in &STEPS[..4] {
            conn.execute_batch(step.sql).expect("v1..v4");
        }
        conn.execute_batch("PRAGMA user_version = 4;")
            .expect("version");
    }
    drop(Store::open(&db).expect("upgrades"));
    let copy = kartoteka_store::upgrade_copy_path(&db, 4);
    assert!(copy.exists(), "the copy is kept");
    assert_eq!(format!("{:o}", mode(&copy)), "600", "{}", copy.display());
    assert_eq!(mode(&db), 0o600);
}
