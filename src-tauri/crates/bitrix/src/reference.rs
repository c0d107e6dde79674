//! Reference data and links: the webhook's profile, users, status lists, pipelines, deal contacts.

use crate::client::{Client, MAX_BATCH_COMMANDS};
use crate::error::BitrixError;
use crate::parse::{
    parse_category, parse_deal_contact, parse_profile, parse_stage, parse_user, DealContact,
    Profile,
};
use crate::wire::{php_list, BatchCommand};
use kartoteka_domain::{Category, EntityType, Stage, User};
use serde_json::{json, Value};

/// The offset page size of `user.get`, `crm.status.list` and `crm.category.list`.
const OFFSET_PAGE: u64 = 50;

impl Client {
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
        for group in starts.chunks(MAX_BATCH_COMMANDS) {
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
