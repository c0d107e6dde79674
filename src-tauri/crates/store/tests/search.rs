//! Record search finds what the user sees (issue 11 §6): substrings inside words, phones in any
//! form a person types them, digit runs rather than scattered digits, the company and responsible
//! names of a row (kept current across renames), and nothing for a query with no letter or digit.

mod common;

use common::{checkpoint, contact, record};
use kartoteka_domain::{EntityType, Record, User, UserKind};
use kartoteka_store::{Page, RecordFilter, RecordView, SortKey, Store};
use serde_json::json;

fn found(store: &Store, t: EntityType, q: &str) -> Vec<i64> {
    let mut f = RecordFilter::new(t);
    f.search = Some(q.into());
    let page = store
        .list_records(
            &f,
            &Page {
                sort: SortKey::default(),
                after: None,
                limit: 1000,
            },
        )
        .expect("list");
    assert_eq!(
        page.total,
        Some(page.rows.len() as u64),
        "{q:?}: exact total"
    );
    let mut ids: Vec<i64> = page.rows.into_iter().map(|r| r.id).collect();
    ids.sort();
    ids
}

fn user(id: i64, name: &str, last: &str) -> User {
    User {
        id,
        name: name.into(),
        last_name: last.into(),
        active: true,
        kind: UserKind::Person,
    }
}

fn people() -> Vec<Record> {
    vec![
        contact(1, "Анна", "Герасимова", "+7 903 218-08-88", "anna@mail.ru"),
        contact(2, "Олег", "Расимов", "+7 812 950-28-79", "oleg@yandex.ru"),
        contact(
            3,
            "Иван",
            "Петров",
            "8 (916) 555-12-34",
            "ivan.petrov@bk.ru",
        ),
    ]
}

#[test]
fn substrings_inside_words_are_found() {
    let mut store = Store::open_in_memory().expect("store");
    store
        .apply_pulled(EntityType::Contact, &people(), &checkpoint(3))
        .expect("pull");
    let c = EntityType::Contact;
    assert_eq!(found(&store, c, "расимова"), vec![1], "inside «Герасимова»");
    assert_eq!(found(&store, c, "расимов"), vec![1, 2]);
    assert_eq!(
        found(&store, c, "ЕТРО"),
        vec![3],
        "case-insensitive, mid-word"
    );
    assert_eq!(
        found(&store, c, "ра"),
        vec![2],
        "two letters: a word's start"
    );
    assert_eq!(found(&store, c, "petrov@bk"), vec![3], "e-mail as written");
}

#[test]
fn phones_are_found_in_the_forms_people_type_them() {
    let mut store = Store::open_in_memory().expect("store");
    store
        .apply_pulled(EntityType::Contact, &people(), &checkpoint(3))
        .expect("pull");
    let c = EntityType::Contact;
    for q in [
        "89032180888",
        "8 903 218-08-88",
        "8 903",
        "8903",
        "903218",
        "+7 903 218-08-88",
        "+79032180888",
        "(903) 218",
    ] {
        assert_eq!(found(&store, c, q), vec![1], "{q:?} finds +7 903 218-08-88");
    }
    assert_eq!(
        found(&store, c, "+7 9"),
        vec![1, 3],
        "a number's start: +7 9… but not +7 812 950-28-79 (its 7 and 9 are scattered)"
    );
    assert_eq!(
        found(&store, c, "+7916"),
        vec![3],
        "a domestic 8 (916) number is stored as +7 916"
    );
    assert_eq!(found(&store, c, "2879"), vec![2], "a digit run anywhere");
}

#[test]
fn a_query_without_letters_or_digits_finds_nothing_and_one_character_filters_nothing() {
    let mut store = Store::open_in_memory().expect("store");
    store
        .apply_pulled(EntityType::Contact, &people(), &checkpoint(3))
        .expect("pull");
    let c = EntityType::Contact;
    assert!(found(&store, c, "<").is_empty(), "a lone < matches nothing");
    assert!(found(&store, c, "-- ..").is_empty());
    assert_eq!(
        found(&store, c, "и"),
        vec![1, 2, 3],
        "one letter: not yet a search"
    );
}

#[test]
fn the_company_and_responsible_names_of_a_row_are_searchable_and_follow_renames() {
    let mut store = Store::open_in_memory().expect("store");
    store
        .replace_users(&[user(7, "Пётр", "Сидоров")])
        .expect("users");
    let company = |title: &str| record(EntityType::Company, 40, json!({"title": title}));
    store
        .apply_pulled(
            EntityType::Company,
            &[company("ООО «Вектор»")],
            &checkpoint(40),
        )
        .expect("company");
    let deal = record(
        EntityType::Deal,
        9,
        json!({"title": "Поставка", "companyId": 40, "assignedById": 7}),
    );
    store
        .apply_pulled(EntityType::Deal, &[deal], &checkpoint(9))
        .expect("deal");
    let d = EntityType::Deal;
    assert_eq!(
        found(&store, d, "вектор"),
        vec![9],
        "company name in the row"
    );
    assert_eq!(
        found(&store, d, "сидоров"),
        vec![9],
        "responsible in the row"
    );
    assert_eq!(
        found(&store, d, "поставка вектор"),
        vec![9],
        "words from both"
    );

    store
        .apply_pulled(
            EntityType::Company,
            &[company("АО «Орбита»")],
            &checkpoint(40),
        )
        .expect("rename company");
    assert!(
        found(&store, d, "вектор").is_empty(),
        "the old name is gone"
    );
    assert_eq!(found(&store, d, "орбита"), vec![9], "the new company name");

    store
        .replace_users(&[user(7, "Пётр", "Кузнецов")])
        .expect("rename user");
    assert!(found(&store, d, "сидоров").is_empty());
    assert_eq!(
        found(&store, d, "кузнецов"),
        vec![9],
        "the new responsible name"
    );
}

#[test]
fn a_deal_pulled_before_its_company_finds_the_company_name_once_it_arrives() {
    let mut store = Store::open_in_memory().expect("store");
    let deal = record(
        EntityType::Deal,
        9,
        json!({"title": "Поставка", "companyId": 40}),
    );
    store
        .apply_pulled(EntityType::Deal, &[deal], &checkpoint(9))
        .expect("deal");
    store
        .apply_pulled(
            EntityType::Company,
            &[record(
                EntityType::Company,
                40,
                json!({"title": "ООО «Вектор»"}),
            )],
            &checkpoint(40),
        )
        .expect("company");
    assert_eq!(found(&store, EntityType::Deal, "вектор"), vec![9]);
}

/// Many contacts, so both ways of reading a search (few matches read from the index, many
/// matches by walking the time index) are used; totals stay exact, pages in order, deleted
/// records are counted only in the recycle bin.
#[test]
fn search_totals_and_pages_are_exact_for_rare_and_common_queries() {
    let mut store = Store::open_in_memory().expect("store");
    let names = ["Анна", "Иван", "Олег", "Мария"];
    let contacts: Vec<Record> = (1..=600)
        .map(|id: i64| {
            let mut r = contact(
                id,
                names[(id % 4) as usize],
                if id % 50 == 0 {
                    "Герасимов"
                } else {
                    "Петров"
                },
                &format!("+7 903 {:03}-00-00", id),
                "x@mail.ru",
            );
            let t = format!("2024-05-01T12:{:02}:{:02}+03:00", id / 60, id % 60);
            r.updated_time = chrono::DateTime::parse_from_rfc3339(&t).ok();
            r.fields.insert("updatedTime".into(), json!(t));
            r
        })
        .collect();
    store
        .apply_pulled(EntityType::Contact, &contacts, &checkpoint(600))
        .expect("pull");
    store
        .mark_deleted(
            &[
                common::key(EntityType::Contact, 50),
                common::key(EntityType::Contact, 4),
            ],
            1,
        )
        .expect("delete two");
    for (q, expected) in [
        (
            "герасимов",
            (1..=600).filter(|i| i % 50 == 0 && *i != 50).count(),
        ),
        (
            "петров",
            (1..=600).filter(|i| i % 50 != 0 && *i != 4).count(),
        ),
        ("анна", (1..=600).filter(|i| i % 4 == 0 && *i != 4).count()),
    ] {
        let mut f = RecordFilter::new(EntityType::Contact);
        f.search = Some(q.into());
        let mut after = None;
        let mut ids = Vec::new();
        loop {
            let p = store
                .list_records(
                    &f,
                    &Page {
                        sort: SortKey::default(),
                        after,
                        limit: 50,
                    },
                )
                .expect("page");
            assert_eq!(p.total, Some(expected as u64), "{q}: exact active total");
            ids.extend(p.rows.iter().map(|r| r.id));
            match p.next {
                Some(c) => after = Some(c),
                None => break,
            }
        }
        assert_eq!(ids.len(), expected, "{q}: every match once");
        let mut sorted = ids.clone();
        sorted.sort_by(|a, b| b.cmp(a));
        assert_eq!(ids, sorted, "{q}: newest first");
    }
    let mut bin = RecordFilter::new(EntityType::Contact);
    bin.view = RecordView::RecycleBin;
    bin.search = Some("герасимов".into());
    let p = store
        .list_records(
            &bin,
            &Page {
                sort: SortKey::default(),
                after: None,
                limit: 50,
            },
        )
        .expect("bin");
    assert_eq!(
        (p.total, p.rows.len()),
        (Some(1), 1),
        "the deleted match is in the recycle bin"
    );
}
