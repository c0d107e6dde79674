//! Reference data and links: the webhook's profile, users, status lists, pipelines, deal contacts.

use crate::client::Client;
use crate::error::BitrixError;
use crate::parse::{
    list_items, parse_category, parse_deal_contact, parse_fields, parse_profile, parse_stage,
    parse_user, DealContact, Profile,
};
use crate::wire::{lenient_i64, php_list, BatchCommand, BatchResult};
use crate::ErrorClass;
use chrono::{DateTime, FixedOffset};
use kartoteka_domain::{Category, EntityType, FieldMeta, Stage, User};
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// The offset page size of `user.get`, `crm.status.list` and `crm.category.list`.
const OFFSET_PAGE: u64 = 50;

/// Everything a sync's reference step reads, from [`Client::reference_bundle`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReferenceBundle {
    pub users: Vec<User>,
    pub stages: Vec<Stage>,
    /// Deal pipelines (the only type with pipelines the app shows).
    pub categories: Vec<Category>,
    pub fields: BTreeMap<EntityType, Vec<FieldMeta>>,
    /// Whether the webhook's user administers the portal or heads a department.
    pub is_supervisor: bool,
    /// Whether the webhook's user administers the portal (`user.admin`): they read every record.
    pub is_admin: bool,
    /// The portal's clock when the batch ran (`server.time`, in the portal's offset): a sync
    /// run's start marker without a request of its own. `None` if the portal gave no time.
    pub server_time: Option<DateTime<FixedOffset>>,
    /// How many records of each type the user may read, counted in the same batch (the
    /// progress total of an initial pull, without a request of its own).
    pub counts: BTreeMap<EntityType, u64>,
    /// The webhook's scopes as the portal listed them (`scope`), if it answered.
    pub scopes: Option<Vec<String>>,
    /// `user.get` was refused for want of scope: `users` and `time_zone` are not known (not
    /// "none"), and what was known of them before stays.
    pub users_refused: bool,
    /// The webhook user's personal time zone (`TIME_ZONE` of their `user.get` row), if set:
    /// REST datetimes are shifted by it across summer time (see
    /// [`kartoteka_domain::usertime`]).
    pub time_zone: Option<String>,
}

/// An offset-paged list in the reference batch: its key, method and parameters.
struct PagedList {
    key: &'static str,
    method: &'static str,
    params: Value,
    rows: fn(&Value) -> &Value,
}

impl PagedList {
    fn at(&self, start: u64) -> Value {
        let mut p = self.params.clone();
        if let Some(o) = p.as_object_mut() {
            o.insert("start".into(), json!(start));
        }
        p
    }
}

fn categories_of(r: &Value) -> &Value {
    r.get("categories").unwrap_or(r)
}

fn same(r: &Value) -> &Value {
    r
}

impl Client {
    /// Users, status lists and stages, deal pipelines, the field metadata of `types`, and
    /// whether the webhook's user `user_id` is a supervisor — in one `batch` request (plus one
    /// more for every 50 further pages of a list longer than 50 entries: large portals only).
    /// What [`Client::users`], [`Client::statuses`], [`Client::categories`],
    /// [`Client::item_fields`] and [`Client::is_supervisor`] read in eight or more requests.
    pub async fn reference_bundle(
        &self,
        types: &[EntityType],
        user_id: i64,
    ) -> Result<ReferenceBundle, BitrixError> {
        let mut lists = vec![
            PagedList {
                key: "users",
                method: "user.get",
                params: json!({"sort": "ID", "order": "ASC"}),
                rows: same,
            },
            PagedList {
                key: "statuses",
                method: "crm.status.list",
                params: json!({"order": {"ENTITY_ID": "ASC", "SORT": "ASC"}}),
                rows: same,
            },
        ];
        if types.contains(&EntityType::Deal) {
            lists.push(PagedList {
                key: "categories",
                method: "crm.category.list",
                params: json!({"entityTypeId": EntityType::Deal.type_id()}),
                rows: categories_of,
            });
        }
        let mut commands: Vec<BatchCommand> = lists
            .iter()
            .map(|l| BatchCommand::new(l.key.to_string(), l.method, l.at(0)))
            .collect();
        for t in types {
            commands.push(BatchCommand::new(
                format!("fields_{}", t.slug()),
                "crm.item.fields",
                json!({"entityTypeId": t.type_id(), "useOriginalUfNames": "Y"}),
            ));
        }
        commands.push(BatchCommand::new(
            "admin".to_string(),
            "user.admin",
            json!({}),
        ));
        commands.push(BatchCommand::new(
            "heads".to_string(),
            "department.get",
            json!({"UF_HEAD": user_id}),
        ));
        commands.push(BatchCommand::new(
            "time".to_string(),
            "server.time",
            json!({}),
        ));
        commands.push(BatchCommand::new("scope".to_string(), "scope", json!({})));
        for t in types {
            commands.push(BatchCommand::new(
                format!("count_{}", t.slug()),
                "crm.item.list",
                json!({"entityTypeId": t.type_id(), "select": ["id"], "order": {"id": "ASC"}, "start": 0}),
            ));
        }
        let first = self.batch(&commands, false).await?;

        // Lists longer than one page: their further pages, 50 to a batch.
        let mut rows: BTreeMap<&'static str, Vec<Value>> = BTreeMap::new();
        let mut users_refused = false;
        let mut further: Vec<(usize, u64)> = Vec::new();
        for (i, list) in lists.iter().enumerate() {
            let page = match first.outcome(list.key) {
                Some(Ok(v)) => v,
                Some(Err(e))
                    if list.key == "categories" && e.code == "ENTITY_TYPE_NOT_SUPPORTED" =>
                {
                    rows.insert(list.key, Vec::new());
                    continue;
                }
                // A webhook without a user scope reads no names; the rest works.
                Some(Err(e)) if list.key == "users" && e.is_scope_refusal() => {
                    tracing::info!(code = %e.code, "user.get not allowed: people stay unnamed");
                    users_refused = true;
                    rows.insert(list.key, Vec::new());
                    continue;
                }
                Some(Err(e)) => return Err(e.clone().into_error(200)),
                None => return Err(missing(list.key)),
            };
            rows.insert(
                list.key,
                php_list(Some((list.rows)(page)))
                    .into_iter()
                    .cloned()
                    .collect(),
            );
            if let (Some(next), Some(total)) =
                (first.nexts.get(list.key), first.totals.get(list.key))
            {
                further.extend(
                    (*next..*total)
                        .step_by(OFFSET_PAGE as usize)
                        .map(|s| (i, s)),
                );
            }
        }
        for group in further.chunks(self.batch_size()) {
            let commands: Vec<BatchCommand> = group
                .iter()
                .enumerate()
                .map(|(k, (i, start))| {
                    BatchCommand::new(format!("p{k}"), lists[*i].method, lists[*i].at(*start))
                })
                .collect();
            let result = self.batch(&commands, true).await?;
            for (c, (i, _)) in commands.iter().zip(group) {
                match result.outcome(&c.key) {
                    Some(Ok(v)) => rows
                        .entry(lists[*i].key)
                        .or_default()
                        .extend(php_list(Some((lists[*i].rows)(v))).into_iter().cloned()),
                    Some(Err(e)) => return Err(e.clone().into_error(200)),
                    None => break,
                }
            }
        }

        let time_zone = rows.get("users").and_then(|r| {
            r.iter()
                .find(|u| u.get("ID").and_then(crate::wire::lenient_i64) == Some(user_id))
                .and_then(|u| u.get("TIME_ZONE"))
                .and_then(Value::as_str)
                .map(str::trim)
                .filter(|z| !z.is_empty())
                .map(str::to_string)
        });
        let mut bundle = ReferenceBundle {
            time_zone,
            users_refused,
            users: rows
                .get("users")
                .map(|r| r.iter().filter_map(parse_user).collect())
                .unwrap_or_default(),
            stages: rows
                .get("statuses")
                .map(|r| r.iter().filter_map(parse_stage).collect())
                .unwrap_or_default(),
            categories: rows
                .get("categories")
                .map(|r| {
                    r.iter()
                        .filter_map(|v| parse_category(v, EntityType::Deal))
                        .collect()
                })
                .unwrap_or_default(),
            ..ReferenceBundle::default()
        };
        for t in types {
            let key = format!("fields_{}", t.slug());
            match first.outcome(&key) {
                Some(Ok(v)) => {
                    bundle.fields.insert(*t, parse_fields(v));
                }
                Some(Err(e)) => return Err(e.clone().into_error(200)),
                None => return Err(missing("fields")),
            }
        }
        (bundle.is_admin, bundle.is_supervisor) = supervisor(&first, user_id)?;
        for t in types {
            let key = format!("count_{}", t.slug());
            // A type the user may not list simply has no count (progress then has no total).
            if let Some(Ok(v)) = first.outcome(&key) {
                let total = first
                    .totals
                    .get(&key)
                    .copied()
                    .unwrap_or(list_items(v).len() as u64);
                bundle.counts.insert(*t, total);
            }
        }
        bundle.scopes = match first.outcome("scope") {
            Some(Ok(v)) => Some(scope_names(v)),
            _ => None,
        };
        bundle.server_time = match first.outcome("time") {
            Some(Ok(v)) => v
                .as_str()
                .and_then(|t| DateTime::parse_from_rfc3339(t).ok()),
            _ => None,
        };
        Ok(bundle)
    }

    /// The webhook's scopes (`scope`; `rest/classes/general/rest_provider.php` `scopeList`).
    pub async fn scopes(&self) -> Result<Vec<String>, BitrixError> {
        let r = self.call("scope", json!({})).await?;
        Ok(scope_names(&r.result))
    }

    /// The webhook's own user: the connection check. An inactive user gets an empty result,
    /// reported as `authorization_error` (class Auth).
    pub async fn profile(&self) -> Result<Profile, BitrixError> {
        let r = self.call("profile", json!({})).await?;
        parse_profile(&r.result).ok_or_else(|| BitrixError::Api {
            code: "authorization_error".into(),
            description: "the webhook's user is inactive or has no profile".into(),
            http_status: 200,
        })
    }

    /// Every user `user.get` returns (bots and other technical users never appear there).
    pub async fn users(&self) -> Result<Vec<User>, BitrixError> {
        let rows = self
            .list_offset_paged("user.get", json!({"sort": "ID", "order": "ASC"}), |r| r)
            .await?;
        Ok(rows.iter().filter_map(parse_user).collect())
    }

    /// Every reference list (`STATUS`, `DEAL_STAGE`, `DEAL_STAGE_n`, `SOURCE`, …).
    pub async fn statuses(&self) -> Result<Vec<Stage>, BitrixError> {
        let rows = self
            .list_offset_paged(
                "crm.status.list",
                json!({"order": {"ENTITY_ID": "ASC", "SORT": "ASC"}}),
                |r| r,
            )
            .await?;
        Ok(rows.iter().filter_map(parse_stage).collect())
    }

    /// The pipelines of a type the user can read. Types without pipelines (leads) give an empty list.
    pub async fn categories(&self, t: EntityType) -> Result<Vec<Category>, BitrixError> {
        let params = json!({"entityTypeId": t.type_id()});
        let rows = match self
            .list_offset_paged("crm.category.list", params, |r| {
                r.get("categories").unwrap_or(r)
            })
            .await
        {
            Ok(rows) => rows,
            Err(e) if e.api_code() == Some("ENTITY_TYPE_NOT_SUPPORTED") => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        Ok(rows.iter().filter_map(|v| parse_category(v, t)).collect())
    }

    /// The contacts linked to a deal, with `IS_PRIMARY` and `SORT`.
    pub async fn deal_contacts(&self, deal_id: i64) -> Result<Vec<DealContact>, BitrixError> {
        let r = self
            .call("crm.deal.contact.items.get", json!({"id": deal_id}))
            .await?;
        Ok(php_list(Some(&r.result))
            .into_iter()
            .filter_map(parse_deal_contact)
            .collect())
    }

    /// Reads an offset-paged list whole: the first page by itself, then the remaining pages
    /// 50 at a time in `batch` requests. `rows` picks the list out of a page's `result`.
    async fn list_offset_paged(
        &self,
        method: &str,
        params: Value,
        rows: fn(&Value) -> &Value,
    ) -> Result<Vec<Value>, BitrixError> {
        let with_start = |start: u64| {
            let mut p = params.clone();
            if let Some(o) = p.as_object_mut() {
                o.insert("start".into(), json!(start));
            }
            p
        };
        let first = self.call(method, with_start(0)).await?;
        let mut out: Vec<Value> = php_list(Some(rows(&first.result)))
            .into_iter()
            .cloned()
            .collect();
        let Some(next) = first.next else {
            return Ok(out);
        };
        let Some(total) = first.total else {
            // No total: walk the pages one by one.
            let mut next = Some(next);
            while let Some(start) = next {
                let page = self.call(method, with_start(start)).await?;
                let items = php_list(Some(rows(&page.result)));
                if items.is_empty() {
                    break;
                }
                out.extend(items.into_iter().cloned());
                next = page.next.filter(|n| *n > start);
            }
            return Ok(out);
        };
        let starts: Vec<u64> = (next..total).step_by(OFFSET_PAGE as usize).collect();
        for group in starts.chunks(self.batch_size()) {
            let commands: Vec<BatchCommand> = group
                .iter()
                .enumerate()
                .map(|(i, s)| BatchCommand::new(format!("p{i}"), method, with_start(*s)))
                .collect();
            let result = self.batch(&commands, true).await?;
            for c in &commands {
                match result.outcome(&c.key) {
                    Some(Ok(v)) => out.extend(php_list(Some(rows(v))).into_iter().cloned()),
                    Some(Err(e)) => return Err(e.clone().into_error(200)),
                    None => break,
                }
            }
        }
        Ok(out)
    }
}

fn missing(key: &str) -> BitrixError {
    BitrixError::MalformedResponse {
        http_status: 200,
        reason: format!("the reference batch has no answer for {key}"),
    }
}

/// The scope names of a `scope` answer (a list of strings; anything else is skipped).
fn scope_names(v: &Value) -> Vec<String> {
    php_list(Some(v))
        .into_iter()
        .filter_map(|s| s.as_str().map(|s| s.trim().to_string()))
        .filter(|s| !s.is_empty())
        .collect()
}

/// Whether the user is an administrator, and [`Client::is_supervisor`], from the batch's `admin`
/// and `heads` answers: a method the webhook may not call counts as "no"; only a transient
/// failure is an error.
fn supervisor(batch: &BatchResult, user_id: i64) -> Result<(bool, bool), BitrixError> {
    let answer = |key: &str| match batch.outcome(key) {
        Some(Ok(v)) => Ok(Some(v.clone())),
        Some(Err(e)) if e.class(200) == ErrorClass::RetryLater => Err(e.clone().into_error(200)),
        Some(Err(e)) => {
            tracing::info!(code = %e.code, method = key, "not available; counts as no");
            Ok(None)
        }
        None => Ok(None),
    };
    if answer("admin")?.and_then(|v| v.as_bool()) == Some(true) {
        return Ok((true, true));
    }
    let head = answer("heads")?.is_some_and(|v| {
        php_list(Some(&v))
            .into_iter()
            .any(|d| d.get("UF_HEAD").and_then(lenient_i64) == Some(user_id))
    });
    Ok((false, head))
}
