//! Parts of the demo generator: people, multi-fields, custom fields, stage history, timeline.

use crate::clock::{date_of, fmt_date};
use crate::demo::Gen;
use crate::names::*;
use crate::reference::BOT;
use crate::schema::type_abbr;
use crate::state::{Comment, LogMessage, StageRow};
use crate::values::num;
use rand::Rng;
use serde_json::{json, Map, Value};
use std::sync::Arc;

const YEAR: i64 = 365 * 86_400;

impl Gen<'_> {
    pub(crate) fn person(&mut self, m: &mut Map<String, Value>) -> (String, String) {
        let female = self.chance(0.5);
        let (name, last, second) = if self.chance(0.08) {
            (
                self.pick(LATIN_FIRST).to_string(),
                self.pick(LATIN_LAST).to_string(),
                None,
            )
        } else if female {
            let last = female_last(self.pick(LAST));
            (
                self.pick(FEMALE_FIRST).to_string(),
                last,
                Some(self.pick(FEMALE_PATRONYMIC)),
            )
        } else {
            (
                self.pick(MALE_FIRST).to_string(),
                self.pick(LAST).to_string(),
                Some(self.pick(MALE_PATRONYMIC)),
            )
        };
        m.insert(
            "honorific".into(),
            json!(if female { "HNR_RU_2" } else { "HNR_RU_1" }),
        );
        m.insert("name".into(), json!(name));
        m.insert("lastName".into(), json!(last));
        if let Some(s) = second {
            if self.chance(0.6) {
                m.insert("secondName".into(), json!(s));
            }
        }
        if self.chance(0.4) {
            let age_days = self.rng.random_range(20 * 365..65 * 365);
            let d = date_of(self.epoch - age_days * 86_400, self.offset);
            m.insert("birthdate".into(), json!(fmt_date(d, self.offset)));
        }
        if self.chance(0.6) {
            m.insert("post".into(), json!(self.pick(POSTS)));
        }
        (name, last)
    }

    pub(crate) fn fm(&mut self, m: &mut Map<String, Value>, who: &str) {
        let mut out = Vec::new();
        let phones = [0, 1, 1, 1, 2, 3][self.rng.random_range(0..6)];
        for i in 0..phones {
            self.p.next_fm += 1;
            let code = self.pick(&["495", "499", "812", "903", "916", "926", "985", "343"]);
            let number = format!(
                "+7 {code} {:03}-{:02}-{:02}",
                self.rng.random_range(100..1000),
                self.rng.random_range(0..100),
                self.rng.random_range(0..100)
            );
            let vt = if i == 0 { "WORK" } else { "MOBILE" };
            out.push(
                json!({"id": self.p.next_fm, "typeId": "PHONE", "valueType": vt, "value": number}),
            );
        }
        let emails = [0, 1, 1, 2][self.rng.random_range(0..4)];
        let domain = self.pick(&["mail.ru", "yandex.ru", "gmail.com", "bk.ru", "company.ru"]);
        for i in 0..emails {
            self.p.next_fm += 1;
            let vt = if i == 0 { "WORK" } else { "HOME" };
            let n = self.rng.random_range(1..99);
            let local = if who.is_empty() {
                format!("info{n}")
            } else {
                format!("{who}{n}")
            };
            out.push(json!({"id": self.p.next_fm, "typeId": "EMAIL", "valueType": vt, "value": format!("{local}@{domain}")}));
        }
        if self.chance(0.1) {
            self.p.next_fm += 1;
            out.push(json!({"id": self.p.next_fm, "typeId": "WEB", "valueType": "WORK", "value": "https://example.ru"}));
        }
        if self.chance(0.05) {
            self.p.next_fm += 1;
            out.push(json!({"id": self.p.next_fm, "typeId": "IM", "valueType": "TELEGRAM", "value": format!("@{who}")}));
        }
        m.insert("fm".into(), Value::Array(out));
    }

    pub(crate) fn ufs(&mut self, t: i64, m: &mut Map<String, Value>) {
        if !self.chance(0.5) {
            return;
        }
        let base = 100 * t;
        m.insert(
            "UF_CRM_NOTE".into(),
            json!(format!("Город: {}", self.pick(CITIES))),
        );
        if self.chance(0.5) {
            let a = self.pick(TAGS);
            let b = self.pick(TAGS);
            m.insert("UF_CRM_TAGS".into(), json!([a, b]));
        }
        m.insert("UF_CRM_VISITS".into(), json!(self.rng.random_range(0..40)));
        m.insert(
            "UF_CRM_RATING".into(),
            num((self.rng.random_range(10..50) as f64) / 10.0),
        );
        m.insert(
            "UF_CRM_VIP".into(),
            json!(if self.chance(0.2) { "Y" } else { "N" }),
        );
        let d = date_of(self.epoch - self.rng.random_range(0..YEAR), self.offset);
        m.insert(
            "UF_CRM_CONTRACT_DATE".into(),
            json!(fmt_date(d, self.offset)),
        );
        let call = self.epoch + self.rng.random_range(0..30) * 86_400 + 3_600 * 2;
        m.insert("UF_CRM_NEXT_CALL".into(), self.dt(call));
        m.insert(
            "UF_CRM_SEGMENT".into(),
            json!(base + self.rng.random_range(1..5)),
        );
        let c1 = base + self.rng.random_range(11..16);
        let chans = if self.chance(0.5) {
            json!([c1])
        } else {
            json!([
                c1,
                if c1 == base + 11 {
                    base + 12
                } else {
                    base + 11
                }
            ])
        };
        m.insert("UF_CRM_CHANNELS".into(), chans);
        m.insert(
            "UF_CRM_BUDGET".into(),
            json!(format!("{}|RUB", self.rng.random_range(1..500) * 1000)),
        );
        if self.counts[3] > 0 && self.chance(0.5) {
            let co = self.rng.random_range(1..=self.counts[3] as i64);
            m.insert(
                "UF_CRM_1747309879".into(),
                json!(format!("{}_{co}", type_abbr(4))),
            );
        }
        m.insert("UF_CRM_CURATOR".into(), json!(self.assignee()));
    }

    /// Writes stage history ending at `final_stage`, returns movedTime.
    pub(crate) fn history(
        &mut self,
        t: i64,
        id: i64,
        cat: i64,
        created: i64,
        updated: i64,
        final_idx: usize,
    ) -> i64 {
        let stages: Vec<(Arc<str>, &'static str)> = self
            .p
            .stages(t, cat)
            .iter()
            .map(|s| (Arc::from(s.status_id.as_str()), s.letter()))
            .collect();
        let mut path = vec![0usize];
        let mut cur = 0;
        while cur < final_idx {
            let in_process = stages.iter().take_while(|s| s.1 == "P").count();
            if final_idx >= in_process {
                // jump from some process stage to the final one
                if cur + 1 >= in_process || self.chance(0.5) {
                    cur = final_idx;
                } else {
                    cur += 1;
                }
            } else {
                cur += 1;
            }
            path.push(cur);
        }
        let n = path.len() as i64;
        let span = (updated - created).max(n);
        let mut moved = created;
        for (k, idx) in path.iter().enumerate() {
            let when = created + span * k as i64 / n;
            let (sid, sem) = stages[*idx].clone();
            let type_id = if k == 0 {
                1
            } else if sem == "P" {
                2
            } else {
                3
            };
            self.p.next_stage_row += 1;
            self.p.stage_history.push(StageRow {
                id: self.p.next_stage_row,
                entity_type: t,
                type_id,
                owner_id: id,
                created: when,
                category_id: cat,
                stage_id: sid,
                semantic: sem,
            });
            moved = when;
        }
        moved
    }

    pub(crate) fn log_message(&mut self, t: i64, id: i64, when: i64) {
        self.p.next_log += 1;
        let author = if self.chance(0.3) {
            BOT
        } else {
            self.assignee()
        };
        let m = LogMessage {
            id: self.p.next_log,
            entity_type: t,
            entity_id: id,
            created: when.min(self.epoch),
            author_id: author,
            title: self
                .pick(&["Звонок", "Изменение", "Синхронизация с 1С", "Письмо"])
                .into(),
            text: self
                .pick(&[
                    "Клиент подтвердил заказ",
                    "Обновлены реквизиты",
                    "Отправлено КП",
                    "Выгружено в 1С",
                ])
                .into(),
            icon: self.pick(&["info", "call", "arrow-down"]).into(),
            credential: None,
        };
        self.p.index_log(&m);
        self.p.log_messages.insert(m.id, m);
    }

    pub(crate) fn timeline(&mut self, t: i64, id: i64, created: i64) {
        if !self.chance(0.1) {
            return;
        }
        let span = (self.epoch - created).max(2);
        for _ in 0..self.rng.random_range(1..4) {
            let when = created + self.rng.random_range(1..span);
            self.log_message(t, id, when);
        }
        for k in 0..self.rng.random_range(1..3) {
            self.p.next_comment += 1;
            let when = created + self.rng.random_range(1..span);
            let text = if id == 5 && k == 0 {
                "Длинный комментарий. ".repeat(300)
            } else {
                self.pick(COMMENTS).to_string()
            };
            let c = Comment {
                id: self.p.next_comment,
                entity_type: t,
                entity_id: id,
                created: when,
                author_id: self.assignee(),
                comment: text,
            };
            self.p.index_comment(&c);
            self.p.comments.insert(c.id, c);
        }
    }
}
