//! Exports read back with real readers (calamine for .xlsx, csv for CSV).

use calamine::{open_workbook, Data, Reader, Xlsx};
use kartoteka_domain::history::ExportFormat;
use kartoteka_domain::{EntityType, HistoryEventCode, HistoryFilter, HistorySource, RecordKey};
use kartoteka_export::{export_history, ExportError, ExportProgress, COLUMNS};
use kartoteka_store::{HistoryQuery, LocalActor, NewEvent, Profile, Store};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

const T0: i64 = 1_732_000_000_000;
const FORMULA: &str = "=HYPERLINK(\"http://evil\",\"x\")";

fn deal(id: i64) -> Option<RecordKey> {
    Some(RecordKey {
        entity_type: EntityType::Deal,
        id,
    })
}

/// Three events (oldest first): a Cyrillic field change whose values look like formulas, a
/// removed link, and an entry a supervisor then hides.
fn story(dir: &Path) -> Store {
    let mut store = Store::open(&dir.join("replica.db")).unwrap();
    let mut changed = NewEvent::new(
        deal(7),
        HistoryEventCode::FieldChanged,
        T0,
        HistorySource::Observed,
    );
    changed.record_title = "Поставка оборудования".into();
    changed.author_id = Some(2);
    changed.author_name = "Иван Петров".into();
    changed.field = Some("comments".into());
    changed.field_label = Some("Комментарий".into());
    changed.old_value = Some(serde_json::to_string(FORMULA).unwrap());
    changed.new_value = Some("\"+7 999 123-45-67\"".into());
    let mut unlinked = NewEvent::new(
        deal(7),
        HistoryEventCode::LinkRemoved,
        T0 + 1_000,
        HistorySource::Observed,
    );
    unlinked.record_title = "Поставка оборудования".into();
    unlinked.field = Some("link.contact".into());
    unlinked.field_label = Some("Контакт".into());
    unlinked.old_display = Some("Мария Иванова".into());
    let mut secret = NewEvent::new(
        deal(8),
        HistoryEventCode::FieldChanged,
        T0 + 2_000,
        HistorySource::Observed,
    );
    secret.field_label = Some("Сумма".into());
    secret.old_value = Some("100".into());
    secret.new_value = Some("-200".into());
    let seqs = store
        .append_history(&[vec![changed, unlinked], vec![secret]])
        .unwrap();
    store
        .set_profile(&Profile {
            user_id: Some(1),
            is_supervisor: true,
        })
        .unwrap();
    let actor = LocalActor {
        user_id: Some(1),
        name: "Руководитель".into(),
        device_id: "dev".into(),
        online: true,
    };
    store
        .hide_history_event(seqs[2], "ошибка ввода", &actor, T0 + 3_000)
        .unwrap();
    store
}

fn run(
    store: &Store,
    include_hidden: bool,
    format: ExportFormat,
    path: &Path,
    columns: &[&str],
) -> (kartoteka_export::ExportOutcome, Vec<ExportProgress>) {
    let filter = HistoryFilter {
        events: vec![
            HistoryEventCode::FieldChanged,
            HistoryEventCode::LinkRemoved,
        ],
        ..HistoryFilter::default()
    };
    let q = HistoryQuery {
        filter: &filter,
        include_hidden,
    };
    let mut seen = Vec::new();
    let columns: Vec<String> = columns.iter().map(|c| c.to_string()).collect();
    let outcome = export_history(
        store,
        &q,
        format,
        path,
        &columns,
        &mut |p| seen.push(p),
        &AtomicBool::new(false),
    )
    .unwrap();
    (outcome, seen)
}

fn text(d: &Data) -> String {
    match d {
        Data::String(s) => s.clone(),
        Data::Empty => String::new(),
        other => panic!("expected a text cell, found {other:?}"),
    }
}

#[test]
fn xlsx_holds_every_row_with_russian_headers_real_dates_and_no_formulas() {
    let dir = tempfile::tempdir().unwrap();
    let store = story(dir.path());
    let path = dir.path().join("история.xlsx");
    let (outcome, progress) = run(&store, true, ExportFormat::Xlsx, &path, &[]);
    assert_eq!(
        outcome.rows, 3,
        "a supervisor's export includes the hidden entry"
    );
    assert!(!outcome.cancelled);
    assert_eq!(progress.first().map(|p| (p.done, p.total)), Some((0, 3)));
    assert_eq!(progress.last().map(|p| (p.done, p.total)), Some((3, 3)));

    let mut book: Xlsx<_> = open_workbook(&path).unwrap();
    let sheet = book.sheet_names()[0].clone();
    let range = book.worksheet_range(&sheet).unwrap();
    let rows: Vec<&[Data]> = range.rows().collect();
    assert_eq!(rows.len(), 4, "a header and three events");
    let header: Vec<String> = rows[0].iter().map(text).collect();
    assert_eq!(header[0], "Дата (UTC)", "the file says its times are UTC");
    assert_eq!(
        header[1..],
        [
            "Сущность",
            "Название",
            "Автор",
            "Тип события",
            "Описание",
            "Поле",
            "Старое значение",
            "Новое значение",
            "Примечание",
            "Источник",
            "Состояние синхронизации"
        ]
    );

    // Newest first: the hidden amount change, then the link, then the comment change.
    let hidden = rows[1];
    assert_eq!(text(&hidden[9]), "скрыто", "hidden entries are marked");
    assert_eq!(text(&hidden[8]), "-200", "a leading minus stays a string");
    let link = rows[2];
    assert_eq!(text(&link[5]), "Удалена связь: Контакт Мария Иванова");
    assert_eq!(text(&link[1]), "Сделка");
    let change = rows[3];
    match &change[0] {
        Data::DateTime(t) => {
            // Excel serial days since 1899-12-30; the Unix epoch is day 25,569.
            let ms = ((t.as_f64() - 25_569.0) * 86_400_000.0).round() as i64;
            assert!(t.is_datetime());
            assert_eq!(ms, T0, "the date is a real Excel datetime in UTC");
        }
        other => panic!("the date column holds {other:?}, not a datetime"),
    }
    assert_eq!(text(&change[2]), "Поставка оборудования");
    assert_eq!(text(&change[3]), "Иван Петров");
    assert_eq!(text(&change[4]), "Изменено поле");
    assert_eq!(text(&change[7]), FORMULA, "the value is kept as typed");
    assert_eq!(text(&change[8]), "+7 999 123-45-67");
    let formulas = book.worksheet_formula(&sheet).unwrap();
    assert!(
        formulas.used_cells().all(|(_, _, f)| f.is_empty()),
        "no cell of an export is a formula"
    );
}

#[test]
fn csv_has_a_bom_cyrillic_and_defused_formulas() {
    let dir = tempfile::tempdir().unwrap();
    let store = story(dir.path());
    let path = dir.path().join("history.csv");
    let (outcome, _) = run(&store, false, ExportFormat::Csv, &path, &[]);
    assert_eq!(
        outcome.rows, 2,
        "a non-supervisor's export leaves hidden entries out"
    );
    let bytes = std::fs::read(&path).unwrap();
    assert!(
        bytes.starts_with(&[0xEF, 0xBB, 0xBF]),
        "Excel needs the BOM to read UTF-8"
    );
    let mut reader = csv::Reader::from_reader(&bytes[3..]);
    let header: Vec<String> = reader
        .headers()
        .unwrap()
        .iter()
        .map(str::to_string)
        .collect();
    assert_eq!(header.len(), COLUMNS.len());
    assert_eq!(header[0], "Дата (UTC)");
    assert_eq!(header[5], "Описание");
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 2);
    assert_eq!(&rows[1][0], "2024-11-19 07:06:40");
    assert_eq!(&rows[1][3], "Иван Петров");
    assert_eq!(
        &rows[1][7],
        format!("'{FORMULA}"),
        "a value starting with = is defused"
    );
    assert_eq!(&rows[1][8], "'+7 999 123-45-67");
    assert_eq!(
        &rows[0][5], "Удалена связь: Контакт Мария Иванова",
        "the description is a readable sentence"
    );
}

#[test]
fn chosen_columns_come_in_the_chosen_order() {
    let dir = tempfile::tempdir().unwrap();
    let store = story(dir.path());
    let path = dir.path().join("cols.csv");
    run(
        &store,
        true,
        ExportFormat::Csv,
        &path,
        &["new", "happenedAt", "description"],
    );
    let bytes = std::fs::read(&path).unwrap();
    let mut reader = csv::Reader::from_reader(&bytes[3..]);
    assert_eq!(
        reader.headers().unwrap().iter().collect::<Vec<_>>(),
        ["Новое значение", "Дата (UTC)", "Описание"]
    );
    let first = reader.records().next().unwrap().unwrap();
    assert_eq!(
        &first[2], "Изменено поле «Сумма»: 100 → -200 (скрыто)",
        "without the note column the mark goes with the description"
    );

    let bad = export_history(
        &store,
        &HistoryQuery {
            filter: &HistoryFilter::default(),
            include_hidden: false,
        },
        ExportFormat::Csv,
        &dir.path().join("bad.csv"),
        &["nonsense".to_string()],
        &mut |_| {},
        &AtomicBool::new(false),
    );
    assert!(matches!(bad, Err(ExportError::UnknownColumn(c)) if c == "nonsense"));
    assert!(!dir.path().join("bad.csv").exists());
}

#[test]
fn cancelled_export_leaves_no_file_and_keeps_an_older_one() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("replica.db")).unwrap();
    let groups: Vec<Vec<NewEvent>> = (0..5_000)
        .map(|i| {
            let mut e = NewEvent::new(
                deal(1 + i % 50),
                HistoryEventCode::FieldChanged,
                T0 + i,
                HistorySource::Observed,
            );
            e.field_label = Some("Сумма".into());
            e.new_value = Some(i.to_string());
            vec![e]
        })
        .collect();
    store.append_history(&groups).unwrap();
    let filter = HistoryFilter::default();
    let q = HistoryQuery {
        filter: &filter,
        include_hidden: false,
    };
    for format in [ExportFormat::Xlsx, ExportFormat::Csv] {
        let fresh = dir.path().join(format!("fresh.{}", format.extension()));
        let older = dir.path().join(format!("older.{}", format.extension()));
        std::fs::write(&older, b"an older export").unwrap();
        for path in [&fresh, &older] {
            let cancel = AtomicBool::new(false);
            let outcome = export_history(
                &store,
                &q,
                format,
                path,
                &[],
                &mut |p| {
                    if p.done >= 2_000 {
                        cancel.store(true, Ordering::Relaxed);
                    }
                },
                &cancel,
            )
            .unwrap();
            assert!(outcome.cancelled);
            assert_eq!(
                outcome.rows, 2_000,
                "stops at the next row after the cancel"
            );
        }
        assert!(!fresh.exists(), "a cancelled export leaves no file");
        assert_eq!(
            std::fs::read(&older).unwrap(),
            b"an older export",
            "a cancelled export does not touch a file already there"
        );
    }
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().ends_with(".part"))
        .collect();
    assert!(leftovers.is_empty(), "no temporary files stay behind");

    let done = export_history(
        &store,
        &q,
        ExportFormat::Xlsx,
        &dir.path().join("all.xlsx"),
        &[],
        &mut |_| {},
        &AtomicBool::new(false),
    )
    .unwrap();
    assert_eq!(done.rows, 5_000);
    let mut book: Xlsx<_> = open_workbook(dir.path().join("all.xlsx")).unwrap();
    let sheet = book.sheet_names()[0].clone();
    assert_eq!(book.worksheet_range(&sheet).unwrap().height(), 5_001);
}

/// On unix an export is the user's alone (0600), also when it replaces an older file left 0644,
/// and the folder the user chose for it keeps its mode. Run with the usual umask (022).
#[cfg(unix)]
#[test]
fn exports_are_the_users_alone_and_the_chosen_folder_keeps_its_mode() {
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &Path| {
        format!(
            "{:o}",
            std::fs::metadata(p).unwrap().permissions().mode() & 0o777
        )
    };
    let dir = tempfile::tempdir().unwrap();
    let store = story(dir.path());
    let chosen = dir.path().join("reports");
    std::fs::create_dir(&chosen).unwrap();
    std::fs::set_permissions(&chosen, std::fs::Permissions::from_mode(0o755)).unwrap();
    for format in [ExportFormat::Xlsx, ExportFormat::Csv] {
        let fresh = chosen.join(format!("fresh.{}", format.extension()));
        let older = chosen.join(format!("older.{}", format.extension()));
        std::fs::write(&older, b"an older export").unwrap();
        std::fs::set_permissions(&older, std::fs::Permissions::from_mode(0o644)).unwrap();
        for path in [&fresh, &older] {
            let (outcome, _) = run(&store, false, format, path, &[]);
            assert!(!outcome.cancelled);
            assert_eq!(mode(path), "600", "{}", path.display());
        }
    }
    assert_eq!(mode(&chosen), "755", "the user's folder keeps its mode");
}
