//! One readable Russian sentence per history event: the "Описание" column of exports and of the
//! global History page ("Удалена связь: Контакт Иван Петров", "Изменено поле «Сумма»: 100 → 200").

use kartoteka_domain::{AuthorKind, EntityType, HistoryEvent, HistoryEventCode, HistorySyncState};

/// The value as shown: the display form recorded then, else the stored value with JSON string
/// quotes taken off (a bare JSON `null` is no value).
pub(crate) fn shown(display: Option<&str>, stored: Option<&str>) -> Option<String> {
    if let Some(d) = display {
        return Some(d.to_string());
    }
    let stored = stored?;
    match serde_json::from_str::<serde_json::Value>(stored) {
        Ok(serde_json::Value::String(s)) => Some(s),
        Ok(serde_json::Value::Null) => None,
        _ => Some(stored.to_string()),
    }
}

/// A restore stores the other record's key for the app: only its display form is a value.
fn stored_for_people(e: &HistoryEvent, stored: Option<String>) -> Option<String> {
    (e.event != HistoryEventCode::Restored)
        .then_some(stored)
        .flatten()
}

pub(crate) fn old_text(e: &HistoryEvent) -> Option<String> {
    shown(
        e.old_display.as_deref(),
        stored_for_people(e, e.old_value.clone()).as_deref(),
    )
    .filter(|s| !s.is_empty())
}

pub(crate) fn new_text(e: &HistoryEvent) -> Option<String> {
    shown(
        e.new_display.as_deref(),
        stored_for_people(e, e.new_value.clone()).as_deref(),
    )
    .filter(|s| !s.is_empty())
}

/// The field's label as it was then, else its name.
pub(crate) fn field_text(e: &HistoryEvent) -> Option<&str> {
    e.field_label
        .as_deref()
        .filter(|s| !s.is_empty())
        .or(e.field.as_deref())
}

/// The entity type in Russian, as a column value ("Сделка").
pub(crate) fn entity_label(t: EntityType) -> &'static str {
    match t {
        EntityType::Lead => "Лид",
        EntityType::Deal => "Сделка",
        EntityType::Contact => "Контакт",
        EntityType::Company => "Компания",
    }
}

pub(crate) fn sync_state_label(s: HistorySyncState) -> &'static str {
    match s {
        HistorySyncState::Synced => "Синхронизировано",
        HistorySyncState::Pending => "Ожидает отправки",
        HistorySyncState::Conflict => "Конфликт",
        HistorySyncState::Rejected => "Отклонено порталом",
        HistorySyncState::Local => "Только на этом устройстве",
    }
}

/// Who made the change, in Russian, as the "Автор" column and the command line show it: a
/// robot is marked, and a change whose author the portal does not name says so (an empty name
/// of an older entry too) rather than showing nothing.
pub fn author(e: &HistoryEvent) -> String {
    match e.author_kind {
        AuthorKind::Unknown => UNKNOWN_AUTHOR.to_string(),
        _ if e.author_name.is_empty() => UNKNOWN_AUTHOR.to_string(),
        AuthorKind::Robot => format!("{} (робот)", e.author_name),
        _ => e.author_name.clone(),
    }
}

const UNKNOWN_AUTHOR: &str = "Автор неизвестен";

const EMPTY: &str = "пусто";

/// A readable Russian sentence about the event, built only from what the event recorded.
pub fn describe(e: &HistoryEvent) -> String {
    let field = field_text(e).unwrap_or("");
    let old = old_text(e);
    let new = new_text(e);
    let change = || {
        format!(
            "{} → {}",
            old.as_deref().unwrap_or(EMPTY),
            new.as_deref().unwrap_or(EMPTY)
        )
    };
    let with = |head: &str, tail: Option<&str>| match tail.filter(|t| !t.is_empty()) {
        Some(t) => format!("{head}: {t}"),
        None => head.to_string(),
    };
    let title = (!e.record_title.is_empty()).then_some(e.record_title.as_str());
    match e.event {
        HistoryEventCode::View => "Просмотр карточки".to_string(),
        HistoryEventCode::Created => {
            let head = match e.record.map(|k| k.entity_type) {
                Some(EntityType::Lead) => "Создан лид",
                Some(EntityType::Deal) => "Создана сделка",
                Some(EntityType::Contact) => "Создан контакт",
                Some(EntityType::Company) => "Создана компания",
                None => "Создана запись",
            };
            match new.as_deref().or(title) {
                Some(t) => format!("{head} «{t}»"),
                None => head.to_string(),
            }
        }
        HistoryEventCode::FieldChanged => format!("Изменено поле «{field}»: {}", change()),
        HistoryEventCode::StageChanged => format!("Стадия изменена: {}", change()),
        HistoryEventCode::MultifieldAdded => {
            with(&format!("Добавлено поле {field}"), new.as_deref())
        }
        HistoryEventCode::MultifieldChanged => format!("Изменено поле {field}: {}", change()),
        HistoryEventCode::MultifieldRemoved => {
            with(&format!("Удалено поле {field}"), old.as_deref())
        }
        HistoryEventCode::LinkAdded => with(
            "Добавлена связь",
            Some(format!("{field} {}", new.as_deref().unwrap_or("")).trim()),
        ),
        HistoryEventCode::LinkRemoved => with(
            "Удалена связь",
            Some(format!("{field} {}", old.as_deref().unwrap_or("")).trim()),
        ),
        HistoryEventCode::Deleted => "Удалено: запись перемещена в корзину".to_string(),
        HistoryEventCode::Restored => {
            // "… как новая запись «Поставка» #41", "… из удалённой записи «Поставка» #40".
            let mut text = "Восстановлено из корзины".to_string();
            if let Some(note) = e.note.as_deref().filter(|n| !n.is_empty()) {
                text = format!("{text}: {note}");
            }
            if let Some(other) = new_text(e).or_else(|| old_text(e)) {
                text = format!("{text} {other}");
            }
            text
        }
        HistoryEventCode::ActivityCreated => {
            with("Создано действие", new.as_deref().or(e.note.as_deref()))
        }
        HistoryEventCode::ProductChanged if field.is_empty() => {
            with("Изменён товар", new.as_deref().or(old.as_deref()))
        }
        HistoryEventCode::ProductChanged => format!("Изменён товар, «{field}»: {}", change()),
        HistoryEventCode::Conflict => format!("Конфликт в поле «{field}»: {}", change()),
        HistoryEventCode::Resolved => format!("Конфликт в поле «{field}» разрешён: {}", change()),
        HistoryEventCode::Reverted if field.is_empty() => "Изменение отменено".to_string(),
        HistoryEventCode::Reverted => format!("Изменение отменено, поле «{field}»: {}", change()),
        HistoryEventCode::Exported => with("Выгрузка", e.note.as_deref()),
        HistoryEventCode::Hidden => with("Запись истории скрыта, причина", e.note.as_deref()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};
    use kartoteka_domain::{AuthorKind, HistorySource, RecordKey};

    fn event(code: HistoryEventCode) -> HistoryEvent {
        HistoryEvent {
            seq: 1,
            record: Some(RecordKey {
                entity_type: EntityType::Deal,
                id: 7,
            }),
            record_title: "Поставка".into(),
            happened_at: Utc.timestamp_opt(1_700_000_000, 0).unwrap(),
            received_at: None,
            author_id: Some(2),
            author_name: "Иван Петров".into(),
            author_kind: AuthorKind::Person,
            source: HistorySource::Observed,
            sync_state: HistorySyncState::Synced,
            device_id: None,
            group_id: 1,
            event: code,
            field: None,
            field_label: None,
            old_value: None,
            new_value: None,
            old_display: None,
            new_display: None,
            note: None,
            hidden: false,
        }
    }

    #[test]
    fn sentences_name_the_field_and_both_values() {
        let mut e = event(HistoryEventCode::FieldChanged);
        e.field = Some("opportunity".into());
        e.field_label = Some("Сумма".into());
        e.old_value = Some("100".into());
        e.new_value = Some("200".into());
        assert_eq!(describe(&e), "Изменено поле «Сумма»: 100 → 200");

        let mut e = event(HistoryEventCode::LinkRemoved);
        e.field = Some("link.contact".into());
        e.field_label = Some("Контакт".into());
        e.old_value = Some(r#"{"entityType":"contact","id":5}"#.into());
        e.old_display = Some("Иван Петров".into());
        assert_eq!(describe(&e), "Удалена связь: Контакт Иван Петров");

        let mut e = event(HistoryEventCode::FieldChanged);
        e.field_label = Some("Комментарий".into());
        e.new_value = Some("\"текст\"".into());
        assert_eq!(
            describe(&e),
            "Изменено поле «Комментарий»: пусто → текст",
            "JSON string quotes are not part of the value; no value reads as «пусто»"
        );

        let mut e = event(HistoryEventCode::MultifieldAdded);
        e.field_label = Some("Телефон (рабочий)".into());
        e.new_display = Some("+7 999 000-00-00".into());
        assert_eq!(
            describe(&e),
            "Добавлено поле Телефон (рабочий): +7 999 000-00-00"
        );

        let e = event(HistoryEventCode::Created);
        assert_eq!(describe(&e), "Создана сделка «Поставка»");

        // A restore's stored key is for the app; people read its display form or nothing.
        let mut e = event(HistoryEventCode::Restored);
        e.new_value = Some(r#"{"entityType":"deal","id":140737488355330}"#.into());
        assert_eq!(new_text(&e), None);
        e.new_display = Some("«Поставка» #41".into());
        assert_eq!(new_text(&e).as_deref(), Some("«Поставка» #41"));
    }

    #[test]
    fn an_author_the_portal_does_not_name_reads_as_unknown_not_as_nobody() {
        let mut e = event(HistoryEventCode::FieldChanged);
        assert_eq!(author(&e), "Иван Петров");
        e.author_kind = AuthorKind::Robot;
        assert_eq!(author(&e), "Иван Петров (робот)");
        e.author_id = None;
        e.author_name = String::new();
        e.author_kind = AuthorKind::Unknown;
        assert_eq!(author(&e), "Автор неизвестен");
        e.author_kind = AuthorKind::Person;
        assert_eq!(
            author(&e),
            "Автор неизвестен",
            "an older entry without a name"
        );
    }

    #[test]
    fn every_code_has_a_sentence() {
        for code in HistoryEventCode::ALL {
            assert!(!describe(&event(code)).is_empty(), "{code}");
        }
    }
}
