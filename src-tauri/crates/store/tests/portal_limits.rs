//! Values a portal cannot store as written are refused at save time, in words, and nothing is
//! queued: amounts beyond `decimal(18,2)` or with more than two decimals, a probability outside
//! 0–100, integer user fields beyond MySQL `INT`, non-finite doubles, and dates that do not
//! exist (a bad date never clears a field).

mod common;

use common::{checkpoint, deal, key, open};
use kartoteka_domain::edit::{FieldProblem, OutboxListRequest};
use kartoteka_domain::{EntityType, FieldMeta, FieldType, RecordEdit};
use kartoteka_store::{LocalActor, Store, StoreError};
use serde_json::{json, Map, Value};

fn actor() -> LocalActor {
    LocalActor {
        user_id: Some(3),
        name: "Мария Менеджерова".into(),
        device_id: "dev-7".into(),
        online: false,
    }
}

fn meta(name: &str, ty: &str, label: &str, custom: bool) -> FieldMeta {
    FieldMeta {
        name: name.into(),
        field_type: FieldType::parse(ty),
        label: label.into(),
        is_required: false,
        is_read_only: false,
        is_immutable: false,
        is_multiple: false,
        is_custom: custom,
        status_type: None,
        options: vec![],
    }
}

/// Deal 7 with the fields a portal describes for deals (as `crm.item.fields` types them).
fn seeded() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().expect("dir");
    let mut store = open(dir.path());
    let mut d = deal(7, "Поставка", "NEW", 3, "2026-03-01T09:00:00+03:00");
    d.fields.insert("begindate".into(), json!("2026-03-01"));
    d.fields.insert(
        "UF_CRM_NEXT_CALL".into(),
        json!("2026-03-02T10:00:00+03:00"),
    );
    store
        .apply_pulled(EntityType::Deal, &[d], &checkpoint(7))
        .expect("deal");
    let mut visits_list = meta("UF_CRM_VISITS_LIST", "integer", "Визиты по месяцам", true);
    visits_list.is_multiple = true;
    store
        .replace_field_meta(
            EntityType::Deal,
            &[
                meta("title", "string", "Название", false),
                meta("opportunity", "double", "Сумма", false),
                meta("taxValue", "double", "Сумма налога", false),
                meta("probability", "integer", "Вероятность", false),
                meta("begindate", "date", "Дата начала", false),
                meta("closedate", "date", "Дата завершения", false),
                meta("UF_CRM_VISITS", "integer", "Число визитов", true),
                visits_list,
                meta("UF_CRM_RATING", "double", "Рейтинг", true),
                meta("UF_CRM_BUDGET", "money", "Бюджет", true),
                meta("UF_CRM_NEXT_CALL", "datetime", "Следующий звонок", true),
            ],
        )
        .expect("meta");
    (dir, store)
}

fn edit(fields: Value) -> RecordEdit {
    RecordEdit {
        fields: fields.as_object().cloned().unwrap_or_else(Map::new),
        multi_fields: vec![],
    }
}

fn save(store: &mut Store, fields: Value) -> Result<u32, Vec<FieldProblem>> {
    match store.edit_record(&actor(), key(EntityType::Deal, 7), &edit(fields), 1) {
        Ok(saved) => Ok(saved.queued),
        Err(StoreError::Invalid(problems)) => Err(problems),
        Err(other) => panic!("a save is taken or refused, not {other}"),
    }
}

/// The save is refused with one problem on `field`, in Russian and English, each containing
/// the given words.
fn refused(store: &mut Store, fields: Value, field: &str, ru: &str, en: &str) {
    let problems = save(store, fields.clone()).expect_err(&format!("{fields} is refused"));
    assert_eq!(problems.len(), 1, "{fields}: {problems:?}");
    let p = &problems[0];
    assert_eq!(p.field, field, "{fields}: {p:?}");
    assert!(p.message_ru.contains(ru), "{fields}: {}", p.message_ru);
    assert!(p.message_en.contains(en), "{fields}: {}", p.message_en);
}

fn taken(store: &mut Store, fields: Value) {
    if let Err(problems) = save(store, fields.clone()) {
        panic!("{fields} is taken, not refused: {problems:?}");
    }
}

fn open_entries(store: &Store) -> u32 {
    store
        .outbox_list(&OutboxListRequest::default())
        .expect("outbox")
        .open
}

fn local(store: &Store, field: &str) -> Value {
    store
        .get_record(key(EntityType::Deal, 7))
        .expect("read")
        .expect("deal")
        .fields
        .get(field)
        .cloned()
        .unwrap_or(Value::Null)
}

#[test]
fn amounts_beyond_decimal_18_2_or_with_more_than_two_decimals_are_refused_in_words() {
    let (_dir, mut store) = seeded();
    for too_large in [
        json!(1_000_000_000_000_000_000u64),
        json!(1e18),
        json!("1000000000000000000"),
        json!("10000000000000000"),
        json!("-10000000000000000.00"),
        json!("1e17"),
    ] {
        refused(
            &mut store,
            json!({ "opportunity": too_large }),
            "opportunity",
            "9 999 999 999 999 999,99",
            "9,999,999,999,999,999.99",
        );
    }
    refused(
        &mut store,
        json!({"taxValue": "12345678901234567"}),
        "taxValue",
        "«Сумма налога»",
        "\"Сумма налога\"",
    );
    // The portal rounds a third decimal away (FloatField::cast): refused, not changed quietly.
    for fine in [
        json!("0.001"),
        json!(0.001),
        json!("1500.505"),
        json!(1500.125),
    ] {
        refused(
            &mut store,
            json!({ "opportunity": fine }),
            "opportunity",
            "двух знаков после запятой",
            "two decimal places",
        );
    }
    assert_eq!(open_entries(&store), 0, "nothing refused is queued");
    assert_eq!(local(&store, "opportunity"), json!(1007), "the amount kept");

    // The largest amounts the column holds, either sign, as text or as a JSON number.
    for fits in [
        json!("9999999999999999.99"),
        json!("-9999999999999999.99"),
        json!(9999999999999999.99),
        json!("200000000000000"),
        json!("1500.10"),
        json!(1500.5),
        json!("0.01"),
        json!("1.5e3"),
    ] {
        taken(&mut store, json!({ "opportunity": fits }));
    }
    taken(&mut store, json!({"taxValue": "9999999999999999.99"}));
}

#[test]
fn a_probability_is_a_whole_number_from_0_to_100() {
    let (_dir, mut store) = seeded();
    for outside in [json!(101), json!(-1), json!("150"), json!(1e18)] {
        refused(
            &mut store,
            json!({ "probability": outside }),
            "probability",
            "от 0 до 100",
            "from 0 to 100",
        );
    }
    assert_eq!(open_entries(&store), 0);
    for inside in [json!(0), json!(100), json!("55")] {
        taken(&mut store, json!({ "probability": inside }));
    }
}

#[test]
fn integer_user_fields_hold_what_mysql_int_holds_and_doubles_are_finite() {
    let (_dir, mut store) = seeded();
    for outside in [
        json!(2_147_483_648i64),
        json!(-2_147_483_649i64),
        json!("1000000000000000000"),
        json!(1e18),
    ] {
        refused(
            &mut store,
            json!({ "UF_CRM_VISITS": outside }),
            "UF_CRM_VISITS",
            "2 147 483 647",
            "2,147,483,647",
        );
    }
    refused(
        &mut store,
        json!({"UF_CRM_VISITS_LIST": [5, 3_000_000_000i64]}),
        "UF_CRM_VISITS_LIST",
        "2 147 483 647",
        "2,147,483,647",
    );
    for not_finite in [json!("1e400"), json!("NaN"), json!("inf")] {
        refused(
            &mut store,
            json!({ "UF_CRM_RATING": not_finite }),
            "UF_CRM_RATING",
            "«Рейтинг»",
            "\"Рейтинг\"",
        );
    }
    refused(
        &mut store,
        json!({"UF_CRM_BUDGET": "inf|RUB"}),
        "UF_CRM_BUDGET",
        "«Бюджет»",
        "\"Бюджет\"",
    );
    assert_eq!(open_entries(&store), 0);
    for inside in [
        json!({"UF_CRM_VISITS": 2_147_483_647}),
        json!({"UF_CRM_VISITS": -2_147_483_648i64}),
        json!({"UF_CRM_VISITS_LIST": [1, 2_147_483_647]}),
        json!({"UF_CRM_RATING": 1.5e300}),
        json!({"UF_CRM_RATING": "3.14159"}),
    ] {
        taken(&mut store, inside);
    }
}

#[test]
fn a_date_that_does_not_exist_is_refused_and_never_clears_the_field() {
    let (_dir, mut store) = seeded();
    for (field, bad) in [
        ("begindate", "2026-02-31"),
        ("begindate", "31.02.2026"),
        ("begindate", "2026-13-01"),
        ("begindate", "завтра"),
        ("UF_CRM_NEXT_CALL", "2026-02-31T10:00:00+03:00"),
        ("UF_CRM_NEXT_CALL", "2026-02-30T10:00"),
    ] {
        let mut fields = Map::new();
        fields.insert(field.into(), json!(bad));
        let problems =
            save(&mut store, Value::Object(fields)).expect_err(&format!("{field} = {bad}"));
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].field, field);
        assert!(
            problems[0].message_ru.contains("такой даты нет")
                && problems[0].message_en.contains("no such day"),
            "{problems:?}"
        );
    }
    assert_eq!(open_entries(&store), 0, "nothing queued");
    assert_eq!(local(&store, "begindate"), json!("2026-03-01"), "kept");
    assert_eq!(
        local(&store, "UF_CRM_NEXT_CALL"),
        json!("2026-03-02T10:00:00+03:00"),
        "kept"
    );
    // A date written as a person types it is the day meant.
    taken(&mut store, json!({"begindate": "28.02.2026"}));
    assert_eq!(local(&store, "begindate"), json!("2026-02-28"));
}
