//! The deterministic demo dataset (CONTRACT §9.3): same seed, same data and ids.

use crate::clock::{date_of, fmt_date, fmt_datetime};
use crate::names::*;
use crate::reference::{self, ASSIGNEES, BOT};
use crate::schema;
use crate::state::{Binding, Credential, Item, Portal};
use crate::values::{blank_item, num};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Map, Value};

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
                    scopes: crate::api::WEBHOOK_SCOPES
                        .iter()
                        .map(|s| s.to_string())
                        .collect(),
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

pub(crate) struct Gen<'a> {
    pub(crate) p: &'a mut Portal,
    pub(crate) rng: ChaCha8Rng,
    pub(crate) epoch: i64,
    pub(crate) offset: i32,
    pub(crate) counts: [usize; 4],
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
    // contacts name their companies; the companies list them back (one set of links)
    crate::company_links::reconcile(g.p);
    tracing::info!(
        leads = counts[0],
        deals = counts[1],
        contacts = counts[2],
        companies = counts[3],
        "demo dataset generated"
    );
}

impl Gen<'_> {
    pub(crate) fn pick<'s>(&mut self, list: &[&'s str]) -> &'s str {
        list[self.rng.random_range(0..list.len())]
    }

    pub(crate) fn chance(&mut self, p: f64) -> bool {
        self.rng.random_bool(p)
    }

    pub(crate) fn assignee(&mut self) -> i64 {
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

    pub(crate) fn dt(&self, t: i64) -> Value {
        Value::String(fmt_datetime(t, self.offset))
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
        let mut m = m.clone();
        crate::values::set_contact_flags(&mut m);
        let item = Item::from_map(&m);
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
}
