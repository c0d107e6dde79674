//! Lists: typed filters, instant search (Cyrillic, phones, e-mails), keyset paging that returns
//! every matching row exactly once in order, exact totals; reference data and the card.

mod common;

use common::{checkpoint, contact, deal, key, record};
use kartoteka_domain::{
    Category, EntityType, FieldMeta, FieldOption, FieldType, Record, Stage, StageSemantics, User,
    UserKind,
};
use kartoteka_store::{Page, RecordFilter, SortField, SortKey, Store, StoreError};
use serde_json::json;

fn page(limit: u32) -> Page {
    Page {
        sort: Default::default(),
        after: None,
        limit,
    }
}

fn titles(store: &Store, filter: &RecordFilter) -> Vec<String> {
    store
        .list_records(filter, &page(100))
        .expect("list")
        .rows
        .into_iter()
        .map(|r| r.title)
        .collect()
}

#[test]
fn search_finds_cyrillic_names_case_insensitively_by_prefix_phone_and_email() {
    let mut store = Store::open_in_memory().expect("store");
    let contacts = [
        contact(
            1,
            "Иван",
            "Петров",
            "+7 (495) 123-45-67",
            "ivan.petrov@mail.ru",
        ),
        contact(
            2,
            "Мария",
            "Иванова",
            "+7 (812) 555-00-11",
            "maria@example.com",
        ),
        contact(
            3,
            "Семён",
            "Фёдоров",
            "8 800 200-00-00",
            "semen@example.com",
        ),
        contact(4, "John", "Smith", "+1 212 555 0100", "john@smith.us"),
    ];
    store
        .apply_pulled(EntityType::Contact, &contacts, &checkpoint(4))
        .expect("pull");
    let search = |q: &str| {
        let mut f = RecordFilter::new(EntityType::Contact);
        f.search = Some(q.into());
        let mut t = titles(&store, &f);
        t.sort();
        t
    };
    assert_eq!(
        search("петров"),
        vec!["Петров Иван"],
        "lower-case Cyrillic finds capitalised"
    );
    assert_eq!(
        search("ИВАН"),
        vec!["Иванова Мария", "Петров Иван"],
        "prefix of a word, upper-case query"
    );
    assert_eq!(
        search("иван пет"),
        vec!["Петров Иван"],
        "every word must match"
    );
    assert_eq!(search("Семен"), vec!["Фёдоров Семён"], "ё and е match");
    assert_eq!(
        search("4951234567"),
        vec!["Петров Иван"],
        "phone digits without formatting"
    );
    assert_eq!(search("123-45"), vec!["Петров Иван"], "phone as written");
    assert_eq!(search("ivan.petrov@"), vec!["Петров Иван"], "e-mail");
    assert_eq!(search("smith"), vec!["Smith John"]);
    assert!(search("несуществующий").is_empty());
    assert_eq!(search("  ").len(), 4, "blank search is no filter");
    assert_eq!(
        search("\"*)(OR"),
        Vec::<String>::new(),
        "FTS syntax in input is only text"
    );
}

/// 240 deals with repeated stages, responsibles, times, amounts and titles (ties everywhere).
fn varied_deals() -> Vec<Record> {
    let stages = ["NEW", "PREPARATION", "WON"];
    let titles = ["Альфа", "бета", "Бета", "Гамма", "alpha", "Zeta", "ёлка"];
    (1..=240)
        .map(|id: i64| {
            let h = (id * 7919) % 101;
            record(
                EntityType::Deal,
                id,
                json!({
                    "title": format!("{} {}", titles[(h % 7) as usize], h % 3),
                    "stageId": stages[(h % 3) as usize],
                    "categoryId": h % 2,
                    "assignedById": 1 + h % 4,
                    "opportunity": format!("{}.5", (h % 6) * 100),
                    "updatedTime": format!("2024-06-{:02}T10:00:00+03:00", 1 + h % 9),
                    "createdTime": format!("2024-01-{:02}T10:00:00+03:00", 1 + h % 5),
                }),
            )
        })
        .collect()
}

fn sort_value(r: &Record, field: SortField) -> (String, i64) {
    let time = |name: &str| {
        chrono::DateTime::parse_from_rfc3339(r.fields[name].as_str().unwrap_or(""))
            .map(|t| t.timestamp())
            .unwrap_or(0)
    };
    match field {
        SortField::Title => (r.display_title().to_lowercase(), 0),
        SortField::UpdatedTime => (String::new(), time("updatedTime")),
        SortField::CreatedTime => (String::new(), time("createdTime")),
        SortField::Opportunity => {
            let s = r.fields["opportunity"].as_str().unwrap_or("0");
            (
                String::new(),
                s.replace(".5", "").parse::<i64>().unwrap_or(0) * 100 + 50,
            )
        }
        SortField::Id => (String::new(), 0),
    }
}

/// What a filter should match, computed independently of SQL.
type Matcher = Box<dyn Fn(&Record) -> bool>;

#[test]
fn keyset_paging_returns_every_matching_row_exactly_once_in_order_for_every_sort_and_filter() {
    let mut store = Store::open_in_memory().expect("store");
    let deals = varied_deals();
    store
        .apply_pulled(EntityType::Deal, &deals, &checkpoint(240))
        .expect("pull");

    let mut filters: Vec<(&str, RecordFilter, Matcher)> = Vec::new();
    filters.push((
        "all",
        RecordFilter::new(EntityType::Deal),
        Box::new(|_| true),
    ));
    let mut f = RecordFilter::new(EntityType::Deal);
    f.stage_ids = vec!["NEW".into(), "WON".into()];
    filters.push((
        "stage",
        f,
        Box::new(|r| r.fields["stageId"] != json!("PREPARATION")),
    ));
    let mut f = RecordFilter::new(EntityType::Deal);
    f.assigned_by_ids = vec![2];
    f.category_id = Some(1);
    filters.push((
        "assignee+pipeline",
        f,
        Box::new(|r| r.fields["assignedById"] == json!(2) && r.fields["categoryId"] == json!(1)),
    ));
    // A search alone: many matches, so pages come from walking each sort's index.
    let mut f = RecordFilter::new(EntityType::Deal);
    f.search = Some("бета".into());
    filters.push((
        "search",
        f,
        Box::new(|r| r.display_title().to_lowercase().contains("бета")),
    ));
    let mut f = RecordFilter::new(EntityType::Deal);
    f.search = Some("бета".into());
    f.stage_ids = vec!["WON".into()];
    filters.push((
        "search+stage",
        f,
        Box::new(|r| {
            r.display_title().to_lowercase().starts_with("бета")
                && r.fields["stageId"] == json!("WON")
        }),
    ));

    let sorts = [
        SortField::Title,
        SortField::UpdatedTime,
        SortField::Opportunity,
        SortField::Id,
        SortField::CreatedTime,
    ];
    for (name, filter, matches) in &filters {
        for field in sorts {
            for descending in [false, true] {
                let sort = SortKey { field, descending };
                let mut expected: Vec<(String, i64, i64)> = deals
                    .iter()
                    .filter(|r| matches(r))
                    .map(|r| {
                        let (t, n) = sort_value(r, field);
                        (t, n, r.key.id)
                    })
                    .collect();
                expected.sort();
                if descending {
                    expected.reverse();
                }
                let expected: Vec<i64> = expected.into_iter().map(|e| e.2).collect();

                let mut got = Vec::new();
                let mut after = None;
                let mut pages = 0;
                loop {
                    let p = store
                        .list_records(
                            filter,
                            &Page {
                                sort,
                                after: after.clone(),
                                limit: 7,
                            },
                        )
                        .expect("page");
                    if after.is_none() {
                        assert_eq!(
                            p.total,
                            Some(expected.len() as u64),
                            "{name} {sort:?}: exact total on the first page"
                        );
                    } else {
                        assert!(
                            p.total.is_none() || p.total == Some(expected.len() as u64),
                            "{name} {sort:?}: a later page's total is the same or not counted"
                        );
                    }
                    got.extend(p.rows.iter().map(|r| r.id));
                    pages += 1;
                    assert!(pages < 100, "paging must end");
                    match p.next {
                        Some(c) => after = Some(c),
                        None => break,
                    }
                }
                assert_eq!(got, expected, "{name} {sort:?}: every row once, in order");
            }
        }
    }
}

#[test]
fn cursor_made_for_another_sort_is_refused() {
    let mut store = Store::open_in_memory().expect("store");
    store
        .apply_pulled(EntityType::Deal, &varied_deals(), &checkpoint(240))
        .expect("pull");
    let filter = RecordFilter::new(EntityType::Deal);
    let first = store.list_records(&filter, &page(5)).expect("page");
    let cursor = first.next.expect("more pages");
    let title_sort = SortKey {
        field: SortField::Title,
        descending: false,
    };
    let err = store.list_records(
        &filter,
        &Page {
            sort: title_sort,
            after: Some(cursor),
            limit: 5,
        },
    );
    assert!(matches!(err, Err(StoreError::BadCursor)));
}

#[test]
fn list_rows_carry_promoted_columns_with_money_as_text() {
    let mut store = Store::open_in_memory().expect("store");
    let mut d = deal(1, "Сделка", "NEW", 3, "2024-06-01T10:00:00+03:00");
    d.fields.insert("opportunity".into(), json!(999.9));
    d.fields.insert("companyId".into(), json!(12));
    store
        .apply_pulled(EntityType::Deal, &[d], &checkpoint(1))
        .expect("pull");
    let row = &store
        .list_records(&RecordFilter::new(EntityType::Deal), &page(5))
        .expect("list")
        .rows[0];
    assert_eq!(row.opportunity.as_deref(), Some("999.9"));
    assert_eq!(row.currency_id.as_deref(), Some("RUB"));
    assert_eq!(
        (row.assigned_by_id, row.company_id, row.category_id),
        (Some(3), Some(12), Some(0))
    );
    assert_eq!(row.updated_time, 1_717_225_200, "UTC unix seconds");
    assert_eq!(row.stage_id.as_deref(), Some("NEW"));
}

#[test]
fn reference_lists_and_field_labels_round_trip_and_reach_the_card() {
    let mut store = Store::open_in_memory().expect("store");
    let person = |id, name: &str| User {
        id,
        name: name.into(),
        last_name: "Ш".into(),
        active: true,
        kind: UserKind::Person,
    };
    let robot = User {
        id: 99,
        name: "Робот".into(),
        last_name: String::new(),
        active: true,
        kind: UserKind::Technical,
    };
    store
        .replace_users(&[person(1, "Анна"), person(2, "Олег"), robot.clone()])
        .expect("users");
    store
        .replace_users(&[person(1, "Анна")])
        .expect("users again");
    let users = store.users().expect("users");
    assert_eq!(
        users.iter().map(|u| u.id).collect::<Vec<_>>(),
        vec![1, 99],
        "technical users survive a refresh"
    );
    assert_eq!(users[1], robot);

    let stage = Stage {
        list_id: "DEAL_STAGE".into(),
        status_id: "NEW".into(),
        name: "Новая".into(),
        sort: 10,
        semantics: StageSemantics::Process,
        color: Some("#39A8EF".into()),
        category_id: Some(0),
    };
    store
        .replace_stages(std::slice::from_ref(&stage))
        .expect("stages");
    assert_eq!(store.stages().expect("stages"), vec![stage]);
    let cat = Category {
        id: 0,
        entity_type_id: 2,
        name: "Общая".into(),
        sort: 100,
        is_default: true,
    };
    store
        .replace_categories(EntityType::Deal, std::slice::from_ref(&cat))
        .expect("cats");
    assert_eq!(store.categories().expect("cats"), vec![cat]);

    let meta = vec![
        FieldMeta {
            name: "title".into(),
            field_type: FieldType::String,
            label: "Название".into(),
            is_required: true,
            is_read_only: false,
            is_immutable: false,
            is_multiple: false,
            is_custom: false,
            status_type: None,
            options: vec![],
        },
        FieldMeta {
            name: "UF_CRM_REGIONS".into(),
            field_type: FieldType::Enumeration,
            label: "Регионы".into(),
            is_required: false,
            is_read_only: false,
            is_immutable: false,
            is_multiple: true,
            is_custom: true,
            status_type: None,
            options: vec![FieldOption {
                id: 80,
                value: "Москва".into(),
            }],
        },
    ];
    store
        .replace_field_meta(EntityType::Deal, &meta)
        .expect("meta");
    assert_eq!(store.field_meta(EntityType::Deal).expect("meta"), meta);
    assert!(store.field_meta(EntityType::Lead).expect("meta").is_empty());

    let mut d = deal(1, "Сделка", "NEW", 1, "2024-06-01T10:00:00+03:00");
    d.fields.insert("UF_CRM_REGIONS".into(), json!([80]));
    store
        .apply_pulled(EntityType::Deal, &[d], &checkpoint(1))
        .expect("pull");
    let card = store
        .get_record(key(EntityType::Deal, 1))
        .expect("read")
        .expect("deal");
    assert_eq!(card.field_meta[1].label, "Регионы");
    assert_eq!(card.fields["UF_CRM_REGIONS"], json!([80]));
}

#[test]
fn a_company_with_many_deals_shows_its_first_links_and_the_total() {
    let mut store = Store::open_in_memory().expect("store");
    let company = record(EntityType::Company, 7, json!({"title": "ООО Ромашка"}));
    store
        .apply_pulled(EntityType::Company, &[company], &checkpoint(7))
        .expect("company");
    let deals: Vec<Record> = (1..=450)
        .map(|id| {
            let mut d = deal(
                id,
                &format!("Deal {id}"),
                "NEW",
                1,
                "2024-06-01T10:00:00+03:00",
            );
            d.fields.insert("companyId".into(), json!(7));
            d
        })
        .collect();
    store
        .apply_pulled(EntityType::Deal, &deals, &checkpoint(450))
        .expect("deals");
    let card = store
        .get_record(key(EntityType::Company, 7))
        .expect("read")
        .expect("the company");
    assert_eq!(
        card.links.len(),
        kartoteka_store::LINKS_ON_CARD,
        "a card reads its first links, not all 450"
    );
    assert_eq!(card.links_total, 450, "and says how many there are in all");
    let ids: Vec<i64> = card.links.iter().map(|l| l.key.id).collect();
    assert_eq!(ids, (1..=200).collect::<Vec<_>>(), "in card order");

    // A deal's company name for a list row, without loading the company's 450 links.
    let titles = store
        .record_titles(EntityType::Company, &[7, 7, 8])
        .expect("titles");
    assert_eq!(titles.len(), 1, "an unknown company has no title");
    assert_eq!(titles.get(&7).map(String::as_str), Some("ООО Ромашка"));
}

#[test]
fn a_linked_records_phones_are_read_without_the_record_and_hidden_ones_have_none() {
    let mut store = Store::open_in_memory().expect("store");
    let c = contact(5, "Иван", "Петров", "+7 495 123-45-67", "ivan@mail.ru");
    store
        .apply_pulled(
            EntityType::Contact,
            std::slice::from_ref(&c),
            &checkpoint(5),
        )
        .expect("contact");
    let found = store
        .record_multi_fields(key(EntityType::Contact, 5))
        .expect("read");
    assert_eq!(found, Some(c.multi_fields));
    assert_eq!(
        store
            .record_multi_fields(key(EntityType::Contact, 6))
            .expect("read"),
        None
    );
}

#[test]
fn a_filtered_list_counts_its_matches_on_the_first_page_only() {
    let mut store = Store::open_in_memory().expect("store");
    let deals: Vec<Record> = (1..=30)
        .map(|id| {
            let stage = if id % 3 == 0 { "WON" } else { "NEW" };
            deal(
                id,
                &format!("Deal {id}"),
                stage,
                1,
                "2024-06-01T10:00:00+03:00",
            )
        })
        .collect();
    store
        .apply_pulled(EntityType::Deal, &deals, &checkpoint(30))
        .expect("pull");
    let mut filter = RecordFilter::new(EntityType::Deal);
    filter.stage_ids = vec!["NEW".into()];
    let first = store.list_records(&filter, &page(5)).expect("first page");
    assert_eq!(first.total, Some(20), "the first page counts: exact");
    let second = store
        .list_records(
            &filter,
            &Page {
                after: first.next.clone(),
                ..page(5)
            },
        )
        .expect("second page");
    assert_eq!(second.rows.len(), 5);
    assert_eq!(
        second.total, None,
        "a later page does not walk every match again to count them"
    );
    // Unfiltered lists read their counter (microseconds) on every page.
    let all = RecordFilter::new(EntityType::Deal);
    let first = store.list_records(&all, &page(5)).expect("first page");
    let second = store
        .list_records(
            &all,
            &Page {
                after: first.next.clone(),
                ..page(5)
            },
        )
        .expect("second page");
    assert_eq!((first.total, second.total), (Some(30), Some(30)));
}
