//! The demo portal's users, reference lists and pipelines (CONTRACT §9.3).

use crate::state::{Category, Portal, Status, User};

/// Demo user ids (see the crate docs).
pub const ADMIN: i64 = 1;
pub const MANAGERS: [i64; 4] = [2, 3, 4, 5];
pub const RESTRICTED: i64 = 6;
pub const INACTIVE: i64 = 7;
pub const EXTRANET: i64 = 8;
pub const BOT: i64 = 9;

/// The demo portal's departments `(id, name, parent, head)`: the company (head: the
/// administrator) and its sales department (head: user 2). Supervisors = administrators or
/// department heads.
pub const DEPARTMENTS: [(i64, &str, i64, i64); 2] =
    [(1, "Картотека", 0, ADMIN), (2, "Отдел продаж", 1, 2)];

/// The department a demo user belongs to (none for the extranet user).
fn demo_department(id: i64) -> Vec<i64> {
    match id {
        2..=6 => vec![2],
        EXTRANET => vec![],
        _ => vec![1],
    }
}

/// Users that own records in the demo data (assignees).
pub const ASSIGNEES: [i64; 6] = [1, 2, 3, 4, 5, 6];

pub fn demo_users(epoch: i64) -> Vec<User> {
    let u =
        |id: i64, name: &str, last: &str, email: &str, ty: &str, gender: &str, pos: &str| User {
            id,
            active: id != INACTIVE,
            name: name.into(),
            last_name: last.into(),
            second_name: String::new(),
            email: email.into(),
            user_type: ty.into(),
            admin: id == ADMIN,
            gender: gender.into(),
            position: pos.into(),
            departments: demo_department(id),
            registered: epoch - 800 * 86_400 + id * 86_400,
        };
    vec![
        u(
            1,
            "Алексей",
            "Смирнов",
            "admin@kartoteka.test",
            "employee",
            "M",
            "Директор",
        ),
        u(
            2,
            "Ирина",
            "Волкова",
            "volkova@kartoteka.test",
            "employee",
            "F",
            "Менеджер по продажам",
        ),
        u(
            3,
            "Дмитрий",
            "Козлов",
            "kozlov@kartoteka.test",
            "employee",
            "M",
            "Менеджер по продажам",
        ),
        u(
            4,
            "Ольга",
            "Морозова",
            "morozova@kartoteka.test",
            "employee",
            "F",
            "Менеджер по продажам",
        ),
        u(
            5,
            "Сергей",
            "Новиков",
            "novikov@kartoteka.test",
            "employee",
            "M",
            "Старший менеджер",
        ),
        u(
            6,
            "Павел",
            "Соколов",
            "sokolov@kartoteka.test",
            "employee",
            "M",
            "Стажёр",
        ),
        u(
            7,
            "Анна",
            "Лебедева",
            "lebedeva@kartoteka.test",
            "employee",
            "F",
            "Бывший сотрудник",
        ),
        u(
            8,
            "Михаил",
            "Егоров",
            "egorov@partner.test",
            "extranet",
            "M",
            "Партнёр",
        ),
        u(
            9,
            "Интеграция",
            "1С",
            "bot@kartoteka.test",
            "bot",
            "",
            "Робот",
        ),
    ]
}

pub(crate) type StatusDef<'a> = (&'a str, &'a str, &'a str, &'a str);

pub(crate) fn push(p: &mut Portal, entity_id: &str, cat: Option<i64>, defs: &[StatusDef<'_>]) {
    for (i, (sid, name, sem, color)) in defs.iter().enumerate() {
        p.next_status += 1;
        p.statuses.push(Status {
            id: p.next_status,
            entity_id: entity_id.into(),
            status_id: (*sid).into(),
            name: (*name).into(),
            sort: (i as i64 + 1) * 10,
            system: matches!(*sid, "NEW" | "WON" | "LOSE" | "CONVERTED" | "JUNK")
                || sid.ends_with(":NEW")
                || sid.ends_with(":WON")
                || sid.ends_with(":LOSE"),
            category_id: cat,
            color: (*color).into(),
            semantics: (*sem).into(),
        });
    }
}

pub fn demo_reference(p: &mut Portal) {
    const P: &str = "process";
    push(
        p,
        "STATUS",
        None,
        &[
            ("NEW", "Не обработан", P, "#39A8EF"),
            ("IN_PROCESS", "В работе", P, "#2FC6F6"),
            ("PROCESSED", "Обработан", P, "#55D0E0"),
            ("CONVERTED", "Качественный лид", "success", "#7BD500"),
            ("JUNK", "Некачественный лид", "failure", "#FF5752"),
        ],
    );
    push(
        p,
        "DEAL_STAGE",
        Some(0),
        &[
            ("NEW", "Новая", P, "#39A8EF"),
            ("PREPARATION", "Подготовка документов", P, "#2FC6F6"),
            ("PREPAYMENT_INVOICE", "Счёт на предоплату", P, "#55D0E0"),
            ("EXECUTING", "В работе", P, "#47E4C2"),
            ("FINAL_INVOICE", "Финальный счёт", P, "#FFA900"),
            ("WON", "Сделка успешна", "success", "#7BD500"),
            ("LOSE", "Сделка провалена", "failure", "#FF5752"),
            ("APOLOGY", "Анализ причины провала", "apology", "#FF5752"),
        ],
    );
    push(
        p,
        "DEAL_STAGE_1",
        Some(1),
        &[
            ("C1:NEW", "Заявка партнёра", P, "#39A8EF"),
            ("C1:PREPARATION", "Согласование условий", P, "#2FC6F6"),
            ("C1:EXECUTING", "Исполнение", P, "#47E4C2"),
            ("C1:WON", "Закрыта успешно", "success", "#7BD500"),
            ("C1:LOSE", "Отказ", "failure", "#FF5752"),
        ],
    );
    let simple = |list: &[(&'static str, &'static str)]| -> Vec<StatusDef<'static>> {
        list.iter().map(|(a, b)| (*a, *b, "", "")).collect()
    };
    let lists: [(&str, Vec<StatusDef<'static>>); 7] = [
        (
            "SOURCE",
            simple(&[
                ("CALL", "Звонок"),
                ("EMAIL", "Электронная почта"),
                ("WEB", "Веб-сайт"),
                ("ADVERTISING", "Реклама"),
                ("PARTNER", "Существующий клиент"),
                ("RECOMMENDATION", "По рекомендации"),
                ("TRADE_SHOW", "Выставка"),
                ("OTHER", "Другое"),
            ]),
        ),
        (
            "DEAL_TYPE",
            simple(&[
                ("SALE", "Продажа"),
                ("COMPLEX", "Комплексная продажа"),
                ("GOODS", "Продажа товара"),
                ("SERVICES", "Продажа услуги"),
                ("SERVICE", "Сервисное обслуживание"),
            ]),
        ),
        (
            "CONTACT_TYPE",
            simple(&[
                ("CLIENT", "Клиенты"),
                ("SUPPLIER", "Поставщики"),
                ("PARTNER", "Партнёры"),
                ("OTHER", "Другое"),
            ]),
        ),
        (
            "COMPANY_TYPE",
            simple(&[
                ("CUSTOMER", "Клиент"),
                ("SUPPLIER", "Поставщик"),
                ("COMPETITOR", "Конкурент"),
                ("PARTNER", "Партнёр"),
                ("OTHER", "Другое"),
            ]),
        ),
        (
            "INDUSTRY",
            simple(&[
                ("IT", "Информационные технологии"),
                ("TELECOM", "Телекоммуникации и связь"),
                ("MANUFACTURING", "Производство"),
                ("BANKING", "Банковские услуги"),
                ("CONSULTING", "Консалтинг"),
                ("DELIVERY", "Доставка"),
                ("OTHER", "Другое"),
            ]),
        ),
        (
            // A portal's default company sizes (`crm.status.list` ENTITY_ID EMPLOYEES): the
            // company field `employees` holds these codes.
            "EMPLOYEES",
            simple(&[
                ("EMPLOYEES_1", "менее 50"),
                ("EMPLOYEES_2", "50-250"),
                ("EMPLOYEES_3", "250-500"),
                ("EMPLOYEES_4", "более 500"),
            ]),
        ),
        (
            "HONORIFIC",
            simple(&[("HNR_RU_1", "г-н"), ("HNR_RU_2", "г-жа")]),
        ),
    ];
    for (eid, defs) in lists.iter() {
        push(p, eid, None, defs);
    }
    for s in p.statuses.iter_mut() {
        if s.semantics.is_empty() {
            s.color.clear();
        }
    }
    p.categories = vec![
        Category {
            id: 0,
            name: "Общая".into(),
            sort: 300,
            entity_type: 2,
        },
        Category {
            id: 1,
            name: "Партнёрские продажи".into(),
            sort: 200,
            entity_type: 2,
        },
    ];
}

/// First entry of a reference list (add defaults).
pub fn first_status(p: &Portal, entity_id: &str) -> Option<String> {
    p.statuses
        .iter()
        .filter(|s| s.entity_id == entity_id)
        .min_by_key(|s| s.sort)
        .map(|s| s.status_id.clone())
}
