//! The deterministic demo dataset (CONTRACT §9.3): same seed, same data and ids.

use crate::clock::{date_of, fmt_date, fmt_datetime};
use crate::names::*;
use crate::reference::{self, ASSIGNEES, BOT};
use crate::schema::{self, type_abbr};
use crate::state::{Binding, Comment, Credential, Item, LogMessage, Portal, StageRow};
use crate::values::{blank_item, num};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Map, Value};
use std::sync::Arc;

const YEAR: i64 = 365 * 86_400;
/// Demo proportions: leads, deals, contacts, companies (~425 in all).
pub const PROPORTIONS: [usize; 4] = [130, 90, 160, 45];

/// The webhook code of a demo user, derived from the seed.
pub fn webhook_code(seed: u64, user_id: i64) -> String {
    let mut rng =
        ChaCha8Rng::seed_from_u64(seed ^ (user_id as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    const ALPHA: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    (0..16)
        .map(|_| ALPHA[rng.random_range(0..ALPHA.len())] as char)
        .collect()
}

/// Per-type record counts for a total of `n`.
pub fn counts(n: Option<usize>) -> [usize; 4] {
    let Some(n) = n else {
        return PROPORTIONS;
    };
    let total: usize = PROPORTIONS.iter().sum();
    let mut c = [0; 4];
    for (i, p) in PROPORTIONS.iter().enumerate() {
        c[i] = n * p / total;
    }
    let used: usize = c.iter().sum();
    c[2] += n - used;
    c
}

/// Users, credentials, reference lists and UFs (the part of the dataset that is not records).
pub fn skeleton(p: &mut Portal, seed: u64, epoch: i64) {
    for u in reference::demo_users(epoch) {
        if u.active {
            p.credentials.insert(
                webhook_code(seed, u.id),
                Credential {
                    user_id: u.id,
                    scopes: vec![
                        "crm".into(),
                        "user_brief".into(),
                        "user_basic".into(),
                        "department".into(),
                        "basic".into(),
                    ],
                    expires_at: None,
                    revoked: false,
                    kind: "webhook".into(),
                },
            );
        }
        p.users.insert(u.id, u);
    }
    for t in schema::TYPES {
        p.rights.insert(
            (reference::RESTRICTED, t),
            crate::state::Rights {
                read: crate::state::Level::Own,
                write: crate::state::Level::Own,
                delete: crate::state::Level::Own,
            },
        );
    }
    reference::demo_reference(p);
    for t in schema::TYPES {
        p.userfields.extend(schema::demo_userfields(t));
    }
    p.rebuild_fields();
}

struct Gen<'a> {
    p: &'a mut Portal,
    rng: ChaCha8Rng,
    epoch: i64,
    offset: i32,
    counts: [usize; 4],
}

/// Generates the whole demo dataset into an empty portal.
pub fn generate(p: &mut Portal, seed: u64, records: Option<usize>, epoch: i64, offset: i32) {
    skeleton(p, seed, epoch);
    let counts = counts(records);
    let mut g = Gen {
        p,
        rng: ChaCha8Rng::seed_from_u64(seed),
        epoch,
        offset,
        counts,
    };
    for _ in 0..counts[3] {
        g.company();
    }
    for _ in 0..counts[2] {
        g.contact();
    }
    for _ in 0..counts[0] {
        g.lead();
    }
    for _ in 0..counts[1] {
        g.deal();
    }
    tracing::info!(
        leads = counts[0],
        deals = counts[1],
        contacts = counts[2],
        companies = counts[3],
        "demo dataset generated"
    );
}

impl Gen<'_> {
    fn pick<'s>(&mut self, list: &[&'s str]) -> &'s str {
        list[self.rng.random_range(0..list.len())]
    }

    fn chance(&mut self, p: f64) -> bool {
        self.rng.random_bool(p)
    }

    fn assignee(&mut self) -> i64 {
        ASSIGNEES[self.rng.random_range(0..ASSIGNEES.len())]
    }

    /// createdTime, updatedTime: spread over the two years before the epoch.
    fn times(&mut self) -> (i64, i64) {
        let created = self.epoch - self.rng.random_range(3_600..2 * YEAR);
        let span = self.epoch - 60 - created;
        let updated = if self.chance(0.3) {
            created
        } else {
            created + self.rng.random_range(0..span.max(1))
        };
        (created, updated)
    }

    fn dt(&self, t: i64) -> Value {
        Value::String(fmt_datetime(t, self.offset))
    }

    fn person(&mut self, m: &mut Map<String, Value>) -> (String, String) {
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

    fn fm(&mut self, m: &mut Map<String, Value>, who: &str) {
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

    fn ufs(&mut self, t: i64, m: &mut Map<String, Value>) {
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

    fn common(&mut self, t: i64, id: i64, created: i64, updated: i64) -> Map<String, Value> {
        let mut m = blank_item(self.p.fields(t));
        let assigned = self.assignee();
        let creator = if self.chance(0.05) { BOT } else { assigned };
        let updater = if self.chance(0.1) {
            BOT
        } else {
            self.assignee()
        };
        m.insert("id".into(), json!(id));
        m.insert("assignedById".into(), json!(assigned));
        m.insert("createdBy".into(), json!(creator));
        m.insert(
            "updatedBy".into(),
            json!(if updated == created { creator } else { updater }),
        );
        m.insert("createdTime".into(), self.dt(created));
        m.insert("updatedTime".into(), self.dt(updated));
        m.insert(
            "opened".into(),
            json!(if self.chance(0.8) { "Y" } else { "N" }),
        );
        m.insert("lastActivityTime".into(), self.dt(updated));
        m.insert("lastActivityBy".into(), json!(assigned));
        if self.chance(0.3) {
            let src = self.pick(&["yandex", "google", "vk"]);
            m.insert("utmSource".into(), json!(src));
            m.insert("utmMedium".into(), json!("cpc"));
        }
        if t != 2 && t != 4 && self.chance(0.2) {
            m.insert("comments".into(), json!(self.pick(COMMENTS)));
        }
        self.ufs(t, &mut m);
        m
    }

    fn save(&mut self, t: i64, m: &Map<String, Value>) -> i64 {
        let item = Item::from_map(m);
        let id = item.id;
        self.p.store_mut(t).put(item);
        id
    }

    fn company(&mut self) {
        let id = self.p.store_mut(4).alloc_id();
        let (c, u) = self.times();
        let mut m = self.common(4, id, c, u);
        let brand = self.pick(COMPANY_BRAND);
        let title = if self.chance(0.5) {
            format!("{} «{}»", self.pick(COMPANY_FORM), brand)
        } else {
            format!(
                "{} «{} {}»",
                self.pick(COMPANY_FORM),
                self.pick(COMPANY_WORD_A),
                self.pick(COMPANY_WORD_B)
            )
        };
        m.insert("title".into(), json!(title));
        m.insert(
            "typeId".into(),
            json!(self.pick(&[
                "CUSTOMER",
                "CUSTOMER",
                "SUPPLIER",
                "PARTNER",
                "COMPETITOR",
                "OTHER"
            ])),
        );
        m.insert(
            "industry".into(),
            json!(self.pick(&[
                "IT",
                "TELECOM",
                "MANUFACTURING",
                "BANKING",
                "CONSULTING",
                "DELIVERY",
                "OTHER"
            ])),
        );
        m.insert(
            "revenue".into(),
            num((self.rng.random_range(1..2000) * 100_000) as f64),
        );
        m.insert("currencyId".into(), json!("RUB"));
        m.insert(
            "employees".into(),
            json!(self.pick(&["EMPLOYEES_1", "EMPLOYEES_2", "EMPLOYEES_3", "EMPLOYEES_4"])),
        );
        m.insert("isMyCompany".into(), json!("N"));
        if self.chance(0.2) {
            m.insert("comments".into(), json!(self.pick(COMMENTS)));
        }
        let who = translit(brand);
        self.fm(&mut m, &who);
        self.save(4, &m);
        self.timeline(4, id, c);
    }

    fn contact(&mut self) {
        let id = self.p.store_mut(3).alloc_id();
        let (c, u) = self.times();
        let mut m = self.common(3, id, c, u);
        let (name, last) = self.person(&mut m);
        if id == 3 {
            // a hostile value the UI must show as text
            m.insert("name".into(), json!("<img src=x onerror=alert(1)>"));
        }
        m.insert(
            "typeId".into(),
            json!(self.pick(&["CLIENT", "CLIENT", "SUPPLIER", "PARTNER", "OTHER"])),
        );
        m.insert(
            "sourceId".into(),
            json!(self.pick(&["CALL", "EMAIL", "WEB", "ADVERTISING", "RECOMMENDATION"])),
        );
        m.insert("export".into(), json!("Y"));
        if self.counts[3] > 0 && self.chance(0.7) {
            let co = self.rng.random_range(1..=self.counts[3] as i64);
            m.insert("companyId".into(), json!(co));
            m.insert("companyIds".into(), json!([co]));
        }
        let who = format!("{}.{}", translit(&name), translit(&last));
        self.fm(&mut m, &who);
        self.save(3, &m);
        self.timeline(3, id, c);
    }

    /// Writes stage history ending at `final_stage`, returns movedTime.
    fn history(
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

    fn lead(&mut self) {
        let id = self.p.store_mut(1).alloc_id();
        let (c, u) = self.times();
        let mut m = self.common(1, id, c, u);
        self.person(&mut m);
        let topic = self.pick(LEAD_TOPICS);
        m.insert("title".into(), json!(format!("{topic} #{id}")));
        let final_idx = [0, 0, 1, 1, 2, 3, 3, 4][self.rng.random_range(0..8)];
        let stages: Vec<(String, &'static str)> = self
            .p
            .stages(1, 0)
            .iter()
            .map(|s| (s.status_id.clone(), s.letter()))
            .collect();
        m.insert("stageId".into(), json!(stages[final_idx].0));
        m.insert("stageSemanticId".into(), json!(stages[final_idx].1));
        m.insert(
            "sourceId".into(),
            json!(self.pick(&[
                "CALL",
                "EMAIL",
                "WEB",
                "ADVERTISING",
                "PARTNER",
                "TRADE_SHOW"
            ])),
        );
        m.insert(
            "opportunity".into(),
            num((self.rng.random_range(0..300) * 1000) as f64),
        );
        m.insert("currencyId".into(), json!("RUB"));
        m.insert("isManualOpportunity".into(), json!("Y"));
        m.insert("isReturnCustomer".into(), json!("N"));
        if self.counts[3] > 0 && self.chance(0.2) {
            m.insert(
                "companyTitle".into(),
                json!(format!("ООО «{}»", self.pick(COMPANY_BRAND))),
            );
        }
        if id == 2 {
            m.insert(
                "comments".into(),
                json!("[B]Жирный[/B] текст и <script>alert('x')</script> как текст"),
            );
        }
        let email = format!("lead{id}");
        self.fm(&mut m, &email);
        let moved = self.history(1, id, 0, c, u, final_idx);
        m.insert("movedBy".into(), m["assignedById"].clone());
        m.insert("movedTime".into(), self.dt(moved));
        if stages[final_idx].1 != "P" {
            m.insert("dateClosed".into(), self.dt(moved));
        }
        self.save(1, &m);
        self.timeline(1, id, c);
    }

    fn deal(&mut self) {
        let id = self.p.store_mut(2).alloc_id();
        let (c, u) = self.times();
        let mut m = self.common(2, id, c, u);
        let cat = if self.chance(0.25) { 1 } else { 0 };
        let stages: Vec<(String, &'static str)> = self
            .p
            .stages(2, cat)
            .iter()
            .map(|s| (s.status_id.clone(), s.letter()))
            .collect();
        let final_idx = self.rng.random_range(0..stages.len());
        let topic = self.pick(DEAL_TOPICS);
        m.insert("title".into(), json!(format!("{topic} #{id}")));
        m.insert(
            "typeId".into(),
            json!(self.pick(&["SALE", "COMPLEX", "GOODS", "SERVICES", "SERVICE"])),
        );
        m.insert("categoryId".into(), json!(cat));
        m.insert("stageId".into(), json!(stages[final_idx].0));
        let sem = stages[final_idx].1;
        m.insert("stageSemanticId".into(), json!(sem));
        m.insert(
            "isNew".into(),
            json!(if final_idx == 0 { "Y" } else { "N" }),
        );
        m.insert("isRecurring".into(), json!("N"));
        m.insert("isReturnCustomer".into(), json!("N"));
        m.insert("isRepeatedApproach".into(), json!("N"));
        m.insert("closed".into(), json!(if sem == "P" { "N" } else { "Y" }));
        m.insert(
            "probability".into(),
            json!(self.rng.random_range(0..11) * 10),
        );
        m.insert(
            "opportunity".into(),
            num(self.rng.random_range(5..2000) as f64 * 1000.0
                + if self.chance(0.1) { 0.5 } else { 0.0 }),
        );
        m.insert("currencyId".into(), json!("RUB"));
        m.insert("isManualOpportunity".into(), json!("Y"));
        m.insert("taxValue".into(), json!(0));
        m.insert(
            "begindate".into(),
            json!(fmt_date(date_of(c, self.offset), self.offset)),
        );
        m.insert(
            "closedate".into(),
            json!(fmt_date(date_of(c + 7 * 86_400, self.offset), self.offset)),
        );
        m.insert(
            "sourceId".into(),
            json!(self.pick(&["CALL", "EMAIL", "WEB", "PARTNER", "RECOMMENDATION"])),
        );
        if self.counts[3] > 0 && self.chance(0.8) {
            m.insert(
                "companyId".into(),
                json!(self.rng.random_range(1..=self.counts[3] as i64)),
            );
        }
        if self.counts[0] > 0 && self.chance(0.3) {
            m.insert(
                "leadId".into(),
                json!(self.rng.random_range(1..=self.counts[0] as i64)),
            );
        }
        if id == 1 {
            let long: String = "Очень длинный комментарий к сделке. ".repeat(400);
            m.insert("comments".into(), json!(long));
        } else if self.chance(0.2) {
            m.insert("comments".into(), json!(self.pick(COMMENTS)));
        }
        // contacts: 0-3, the first primary
        let n_contacts = if self.counts[2] == 0 {
            0
        } else {
            [0, 1, 1, 1, 2, 3][self.rng.random_range(0..6)]
        };
        let mut ids: Vec<i64> = Vec::new();
        while ids.len() < n_contacts.min(self.counts[2]) {
            let cid = self.rng.random_range(1..=self.counts[2] as i64);
            if !ids.contains(&cid) {
                ids.push(cid);
            }
        }
        if !ids.is_empty() {
            m.insert("contactId".into(), json!(ids[0]));
            m.insert("contactIds".into(), json!(ids));
            let b = ids
                .iter()
                .enumerate()
                .map(|(i, c)| Binding {
                    contact_id: *c,
                    sort: (i as i64 + 1) * 10,
                    primary: i == 0,
                })
                .collect();
            self.p.bindings.insert(id, b);
        }
        let final_idx_u = final_idx;
        let moved = self.history(2, id, cat, c, u, final_idx_u);
        m.insert("movedBy".into(), m["assignedById"].clone());
        m.insert("movedTime".into(), self.dt(moved));
        self.save(2, &m);
        self.timeline(2, id, c);
        if id <= 3 {
            for k in 0..(11 + id) {
                self.log_message(2, id, c + 3_600 * (k + 1));
            }
        }
    }

    fn log_message(&mut self, t: i64, id: i64, when: i64) {
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

    fn timeline(&mut self, t: i64, id: i64, created: i64) {
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
