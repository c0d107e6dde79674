//! Field descriptions of the four CRM types (`crm.item.fields`), custom fields, and the
//! camelCase ↔ UPPER_CASE ↔ original-UF name mappings.

use serde_json::{json, Map, Value};

/// Entity type ids served: 1 lead, 2 deal, 3 contact, 4 company.
pub const TYPES: [i64; 4] = [1, 2, 3, 4];

pub fn type_name(t: i64) -> &'static str {
    match t {
        1 => "LEAD",
        2 => "DEAL",
        3 => "CONTACT",
        _ => "COMPANY",
    }
}

pub fn type_title(t: i64) -> &'static str {
    match t {
        1 => "Лид",
        2 => "Сделка",
        3 => "Контакт",
        _ => "Компания",
    }
}

pub fn type_abbr(t: i64) -> &'static str {
    match t {
        1 => "L",
        2 => "D",
        3 => "C",
        _ => "CO",
    }
}

/// The user-field entity id (`CRM_DEAL`, …).
pub fn uf_entity_id(t: i64) -> &'static str {
    match t {
        1 => "CRM_LEAD",
        2 => "CRM_DEAL",
        3 => "CRM_CONTACT",
        _ => "CRM_COMPANY",
    }
}

pub fn type_slug(t: i64) -> &'static str {
    match t {
        1 => "lead",
        2 => "deal",
        3 => "contact",
        _ => "company",
    }
}

pub fn type_by_slug(s: &str) -> Option<i64> {
    match s.to_ascii_lowercase().as_str() {
        "lead" => Some(1),
        "deal" => Some(2),
        "contact" => Some(3),
        "company" => Some(4),
        _ => None,
    }
}

/// One field of a type.
#[derive(Debug, Clone)]
pub struct Field {
    pub name: String,
    pub ty: String,
    pub required: bool,
    pub read_only: bool,
    pub immutable: bool,
    pub multiple: bool,
    pub dynamic: bool,
    pub deprecated: bool,
    pub title: String,
    pub upper: String,
    pub status_type: Option<String>,
    /// Enumeration options `(id, value)` for UF enumerations.
    pub items: Vec<(i64, String)>,
}

impl Field {
    pub fn describe(&self, name_for_output: &str) -> Value {
        let mut m = Map::new();
        m.insert("type".into(), json!(self.ty));
        m.insert("isRequired".into(), json!(self.required));
        m.insert("isReadOnly".into(), json!(self.read_only));
        m.insert("isImmutable".into(), json!(self.immutable));
        m.insert("isMultiple".into(), json!(self.multiple));
        m.insert("isDynamic".into(), json!(self.dynamic));
        m.insert("title".into(), json!(self.title));
        m.insert("upperName".into(), json!(self.upper));
        if self.deprecated {
            m.insert("isDeprecated".into(), json!(true));
        }
        if let Some(st) = &self.status_type {
            m.insert("statusType".into(), json!(st));
        }
        if self.dynamic {
            m.insert("listLabel".into(), json!(self.title));
            m.insert("formLabel".into(), json!(self.title));
            m.insert("filterLabel".into(), json!(self.title));
            m.insert("settings".into(), json!({}));
            if self.ty == "enumeration" {
                let items: Vec<Value> = self
                    .items
                    .iter()
                    .map(|(id, v)| json!({"ID": id.to_string(), "VALUE": v}))
                    .collect();
                m.insert("items".into(), Value::Array(items));
            }
        }
        let _ = name_for_output;
        Value::Object(m)
    }
}

const RO: u8 = 1;
const MULT: u8 = 2;
const REQ: u8 = 4;
const IMM: u8 = 8;
const DEPR: u8 = 16;

fn f(name: &str, ty: &str, flags: u8, title: &str) -> Field {
    Field {
        name: name.to_string(),
        ty: ty.to_string(),
        required: flags & REQ != 0,
        read_only: flags & RO != 0,
        immutable: flags & IMM != 0,
        multiple: flags & MULT != 0,
        dynamic: false,
        deprecated: flags & DEPR != 0,
        title: title.to_string(),
        upper: upper_name(name),
        status_type: None,
        items: Vec::new(),
    }
}

fn st(mut field: Field, status_type: &str) -> Field {
    field.status_type = Some(status_type.to_string());
    field
}

/// UPPER_CASE (legacy) name of a crm.item system field.
pub fn upper_name(camel: &str) -> String {
    match camel {
        "createdTime" => return "DATE_CREATE".into(),
        "updatedTime" => return "DATE_MODIFY".into(),
        "createdBy" => return "CREATED_BY_ID".into(),
        "updatedBy" => return "MODIFY_BY_ID".into(),
        "movedBy" => return "MOVED_BY_ID".into(),
        "observers" => return "OBSERVER_IDS".into(),
        "fm" => return "FM".into(),
        _ => {}
    }
    let mut out = String::new();
    for (i, c) in camel.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_uppercase());
    }
    out
}

fn common(fields: &mut Vec<Field>) {
    fields.extend([
        f("assignedById", "user", 0, "Ответственный"),
        f("createdBy", "user", RO, "Кем создан"),
        f("updatedBy", "user", RO, "Кем изменён"),
        f("createdTime", "datetime", RO, "Дата создания"),
        f("updatedTime", "datetime", RO, "Дата изменения"),
        f("opened", "boolean", 0, "Доступен для всех"),
        f("lastActivityTime", "datetime", RO, "Последняя активность"),
        f("lastActivityBy", "user", RO, "Автор последней активности"),
        f("observers", "user", MULT, "Наблюдатели"),
        f("originatorId", "string", 0, "Внешний источник"),
        f(
            "originId",
            "string",
            0,
            "Идентификатор элемента в источнике данных",
        ),
        f("utmSource", "string", 0, "Рекламная система"),
        f("utmMedium", "string", 0, "Тип трафика"),
        f("utmCampaign", "string", 0, "Обозначение рекламной кампании"),
        f("utmContent", "string", 0, "Содержание кампании"),
        f("utmTerm", "string", 0, "Условие поиска кампании"),
    ]);
}

fn person(fields: &mut Vec<Field>) {
    fields.extend([
        st(f("honorific", "crm_status", 0, "Обращение"), "HONORIFIC"),
        f("name", "string", 0, "Имя"),
        f("secondName", "string", 0, "Отчество"),
        f("lastName", "string", 0, "Фамилия"),
        f("birthdate", "date", 0, "Дата рождения"),
        f("post", "string", 0, "Должность"),
    ]);
}

/// System fields of a type, in the order `crm.item.get` renders them.
pub fn system_fields(t: i64) -> Vec<Field> {
    let mut v = vec![f("id", "integer", RO, "ID")];
    match t {
        1 => {
            v.push(f("title", "string", 0, "Название лида"));
            person(&mut v);
            v.extend([
                f("companyTitle", "string", 0, "Название компании"),
                st(f("stageId", "crm_status", 0, "Стадия"), "STATUS"),
                f("stageSemanticId", "string", RO, "Группа стадии"),
                f("statusDescription", "text", 0, "Дополнительно о стадии"),
                st(f("sourceId", "crm_status", 0, "Источник"), "SOURCE"),
                f("sourceDescription", "text", 0, "Дополнительно об источнике"),
                f("opportunity", "double", 0, "Сумма"),
                f("currencyId", "crm_currency", 0, "Валюта"),
                f("isManualOpportunity", "boolean", 0, "Ручной ввод суммы"),
                f("companyId", "crm_company", 0, "Компания"),
                f("contactId", "crm_contact", DEPR, "Контакт"),
                f("contactIds", "crm_contact", MULT, "Контакты"),
                f("isReturnCustomer", "boolean", RO, "Повторный лид"),
                f("comments", "text", 0, "Комментарий"),
                f("movedBy", "user", RO, "Кем изменена стадия"),
                f("movedTime", "datetime", RO, "Дата изменения стадии"),
                f("dateClosed", "datetime", RO, "Дата закрытия"),
            ]);
            v[2].upper = "HONORIFIC".into();
            for x in v.iter_mut() {
                if x.name == "stageId" {
                    x.upper = "STATUS_ID".into();
                }
                if x.name == "stageSemanticId" {
                    x.upper = "STATUS_SEMANTIC_ID".into();
                }
            }
        }
        2 => v.extend([
            f("title", "string", 0, "Название"),
            st(f("typeId", "crm_status", 0, "Тип"), "DEAL_TYPE"),
            f("categoryId", "crm_category", 0, "Воронка"),
            st(f("stageId", "crm_status", 0, "Стадия"), "DEAL_STAGE"),
            f("stageSemanticId", "string", RO, "Группа стадии"),
            f("isNew", "boolean", RO, "Новая сделка"),
            f("isRecurring", "boolean", RO, "Регулярная сделка"),
            f("isReturnCustomer", "boolean", RO, "Повторная сделка"),
            f("isRepeatedApproach", "boolean", RO, "Повторное обращение"),
            f("closed", "boolean", 0, "Закрыта"),
            f("probability", "integer", 0, "Вероятность"),
            f("opportunity", "double", 0, "Сумма"),
            f("currencyId", "crm_currency", 0, "Валюта"),
            f("isManualOpportunity", "boolean", 0, "Ручной ввод суммы"),
            f("taxValue", "double", 0, "Ставка налога"),
            f("companyId", "crm_company", 0, "Компания"),
            f("contactId", "crm_contact", DEPR, "Контакт"),
            f("contactIds", "crm_contact", MULT, "Контакты"),
            f("quoteId", "crm_quote", 0, "Предложение"),
            f("leadId", "crm_lead", RO, "Лид"),
            f("begindate", "date", 0, "Дата начала"),
            f("closedate", "date", 0, "Дата завершения"),
            st(f("sourceId", "crm_status", 0, "Источник"), "SOURCE"),
            f("sourceDescription", "text", 0, "Дополнительно об источнике"),
            f("comments", "text", 0, "Комментарий"),
            f("additionalInfo", "text", 0, "Дополнительная информация"),
            f("locationId", "location", 0, "Местоположение"),
            f("movedBy", "user", RO, "Кем изменена стадия"),
            f("movedTime", "datetime", RO, "Дата изменения стадии"),
        ]),
        3 => {
            person(&mut v);
            v.extend([
                st(f("typeId", "crm_status", 0, "Тип контакта"), "CONTACT_TYPE"),
                st(f("sourceId", "crm_status", 0, "Источник"), "SOURCE"),
                f("sourceDescription", "text", 0, "Дополнительно об источнике"),
                f("companyId", "crm_company", DEPR, "Компания"),
                f("companyIds", "crm_company", MULT, "Компании"),
                f("leadId", "crm_lead", RO, "Лид"),
                f("comments", "text", 0, "Комментарий"),
                f("export", "boolean", 0, "Участвует в экспорте контактов"),
            ]);
        }
        _ => v.extend([
            f("title", "string", REQ, "Название компании"),
            st(f("typeId", "crm_status", 0, "Тип компании"), "COMPANY_TYPE"),
            st(
                f("industry", "crm_status", 0, "Сфера деятельности"),
                "INDUSTRY",
            ),
            f("revenue", "double", 0, "Годовой оборот"),
            f("currencyId", "crm_currency", 0, "Валюта"),
            st(
                f("employees", "crm_status", 0, "Кол-во сотрудников"),
                "EMPLOYEES",
            ),
            f("bankingDetails", "text", 0, "Банковские реквизиты"),
            f("comments", "text", 0, "Комментарий"),
            f("isMyCompany", "boolean", 0, "Моя компания"),
            f("contactIds", "crm_contact", MULT, "Контакты"),
            f("leadId", "crm_lead", RO, "Лид"),
        ]),
    }
    if t == 3 {
        for x in v.iter_mut() {
            if x.name == "typeId" {
                x.upper = "TYPE_ID".into();
            }
        }
    }
    if t == 4 {
        for x in v.iter_mut() {
            if x.name == "typeId" {
                x.upper = "COMPANY_TYPE".into();
            }
        }
    }
    common(&mut v);
    if t == 3 || t == 4 {
        // contacts and companies have pipelines too (issue 7 §8); only the default 0 exists here
        v.push(f("categoryId", "crm_category", 0, "Направление"));
    }
    if t != 2 {
        v.push(f("hasPhone", "boolean", RO, "Есть телефон"));
        v.push(f("hasEmail", "boolean", RO, "Есть e-mail"));
        v.push(f("fm", "crm_multifield", MULT, "Мультиполя"));
    }
    v
}

/// A custom (UF) field definition.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct UserField {
    pub entity_type: i64,
    pub name: String,
    pub ty: String,
    pub multiple: bool,
    pub label: String,
    pub items: Vec<(i64, String)>,
}

impl UserField {
    pub fn to_field(&self) -> Field {
        Field {
            name: self.name.clone(),
            ty: self.ty.clone(),
            required: false,
            read_only: false,
            immutable: false,
            multiple: self.multiple,
            dynamic: true,
            deprecated: false,
            title: self.label.clone(),
            upper: self.name.clone(),
            status_type: None,
            items: self.items.clone(),
        }
    }
}

/// The demo portal's custom fields on one type (the same names on every type).
pub fn demo_userfields(t: i64) -> Vec<UserField> {
    let base = 100 * t;
    let uf =
        |name: &str, ty: &str, multiple: bool, label: &str, items: Vec<(i64, String)>| UserField {
            entity_type: t,
            name: name.into(),
            ty: ty.into(),
            multiple,
            label: label.into(),
            items,
        };
    let seg = [
        "Малый бизнес",
        "Средний бизнес",
        "Крупный бизнес",
        "Госсектор",
    ];
    let chans = ["Телефон", "E-mail", "Telegram", "WhatsApp", "Встреча"];
    vec![
        uf("UF_CRM_NOTE", "string", false, "Заметка", vec![]),
        uf("UF_CRM_TAGS", "string", true, "Метки", vec![]),
        uf("UF_CRM_VISITS", "integer", false, "Число визитов", vec![]),
        uf("UF_CRM_RATING", "double", false, "Рейтинг", vec![]),
        uf("UF_CRM_VIP", "boolean", false, "VIP-клиент", vec![]),
        uf(
            "UF_CRM_CONTRACT_DATE",
            "date",
            false,
            "Дата договора",
            vec![],
        ),
        uf(
            "UF_CRM_NEXT_CALL",
            "datetime",
            false,
            "Следующий звонок",
            vec![],
        ),
        uf(
            "UF_CRM_SEGMENT",
            "enumeration",
            false,
            "Сегмент",
            seg.iter()
                .enumerate()
                .map(|(i, s)| (base + 1 + i as i64, s.to_string()))
                .collect(),
        ),
        uf(
            "UF_CRM_CHANNELS",
            "enumeration",
            true,
            "Каналы связи",
            chans
                .iter()
                .enumerate()
                .map(|(i, s)| (base + 11 + i as i64, s.to_string()))
                .collect(),
        ),
        uf("UF_CRM_BUDGET", "money", false, "Бюджет", vec![]),
        uf(
            "UF_CRM_1747309879",
            "crm",
            false,
            "Связанная запись",
            vec![],
        ),
        uf("UF_CRM_CURATOR", "employee", false, "Куратор", vec![]),
    ]
}

/// camelCase form of an original UF name (`useOriginalUfNames=N`), per CONTRACT §0.
pub fn uf_camel_name(orig: &str) -> String {
    let Some(rest) = orig.strip_prefix("UF_CRM_") else {
        return orig.to_string();
    };
    let words_alpha = |s: &str| {
        !s.is_empty()
            && s.split('_')
                .all(|w| !w.is_empty() && w.chars().all(|c| c.is_ascii_alphabetic()))
    };
    let camel = |s: &str| {
        s.split('_')
            .map(|w| {
                let lw = w.to_ascii_lowercase();
                let mut c = lw.chars();
                match c.next() {
                    Some(first) => first.to_ascii_uppercase().to_string() + c.as_str(),
                    None => String::new(),
                }
            })
            .collect::<String>()
    };
    if let Some((d, tail)) = rest.split_once('_') {
        if !d.is_empty() && d.chars().all(|c| c.is_ascii_digit()) {
            if words_alpha(tail) {
                return format!("ufCrm{d}{}", camel(tail));
            }
            if tail.chars().all(|c| c.is_ascii_digit()) {
                return format!("ufCrm{d}_{tail}");
            }
            return format!("ufCrm_{rest}");
        }
    }
    if words_alpha(rest) {
        format!("ufCrm{}", camel(rest))
    } else {
        format!("ufCrm_{rest}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uf_names_camelcase_like_the_portal() {
        assert_eq!(uf_camel_name("UF_CRM_3_DIGIT"), "ufCrm3Digit");
        assert_eq!(uf_camel_name("UF_CRM_3_1747309727"), "ufCrm3_1747309727");
        assert_eq!(uf_camel_name("UF_CRM_3_DIGIT10"), "ufCrm_3_DIGIT10");
        assert_eq!(uf_camel_name("UF_CRM_1747309879"), "ufCrm_1747309879");
        assert_eq!(uf_camel_name("UF_CRM_CONTRACT_DATE"), "ufCrmContractDate");
    }

    #[test]
    fn upper_names_follow_legacy_keys() {
        assert_eq!(upper_name("assignedById"), "ASSIGNED_BY_ID");
        assert_eq!(upper_name("updatedTime"), "DATE_MODIFY");
        assert_eq!(upper_name("isManualOpportunity"), "IS_MANUAL_OPPORTUNITY");
    }
}
