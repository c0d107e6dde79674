//! The Bitrix24 client ([`kartoteka_bitrix::Client`]) as sync's [`Portal`].

use crate::error::{PortalError, PortalFailure};
use crate::model::{PulledChunk, ReferenceData, SignedIn, Watermark};
use crate::ports::{Portal, Probed};
use chrono::{DateTime, FixedOffset};
use kartoteka_bitrix::{BitrixError, Client, ErrorClass};
use kartoteka_domain::{EntityType, Record};
use kartoteka_store::StageHistoryEntry;
use serde_json::json;

/// Reads a portal through the Bitrix24 client (which rate-limits and retries on its own).
#[derive(Clone, Debug)]
pub struct BitrixPortal {
    client: Client,
}

impl BitrixPortal {
    pub fn new(client: Client) -> Self {
        Self { client }
    }

    pub fn client(&self) -> &Client {
        &self.client
    }
}

/// Sorts a client error into what sync does about it. `NOT_FOUND` and `ACCESS_DENIED` are told
/// apart (deleted vs hidden, CONTRACT §7).
pub fn portal_error(e: BitrixError) -> PortalError {
    let kind = if e.is_not_found() {
        PortalFailure::NotFound
    } else if e.is_access_denied() {
        PortalFailure::AccessDenied
    } else {
        match e.class() {
            ErrorClass::Auth => PortalFailure::Auth,
            ErrorClass::RetryLater => PortalFailure::RetryLater,
            ErrorClass::Conflict | ErrorClass::Permanent => PortalFailure::Permanent,
        }
    };
    PortalError::new(kind, e.to_string()).with_user_code(e.user_code())
}

impl Portal for BitrixPortal {
    async fn server_time(&self) -> Result<DateTime<FixedOffset>, PortalError> {
        let r = self
            .client
            .call("server.time", json!({}))
            .await
            .map_err(portal_error)?;
        r.result
            .as_str()
            .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
            .ok_or_else(|| {
                PortalError::new(
                    PortalFailure::RetryLater,
                    "server.time returned no readable time",
                )
            })
    }

    async fn count(&self, t: EntityType) -> Result<u64, PortalError> {
        self.client.count(t).await.map_err(portal_error)
    }

    async fn pull_spanning(
        &self,
        segments: &[(EntityType, i64, usize)],
    ) -> Result<Vec<Option<PulledChunk>>, PortalError> {
        Ok(self
            .client
            .pull_items_spanning(segments)
            .await
            .map_err(portal_error)?
            .into_iter()
            .map(|c| {
                c.map(|chunk| PulledChunk {
                    records: chunk.records,
                    exhausted: chunk.exhausted,
                })
            })
            .collect())
    }

    async fn pull_updated(
        &self,
        t: EntityType,
        since: DateTime<FixedOffset>,
        after: Option<Watermark>,
    ) -> Result<PulledChunk, PortalError> {
        let chunk = self
            .client
            .pull_updated_batch(t, since, after.map(|w| (w.time, w.id)))
            .await
            .map_err(portal_error)?;
        Ok(PulledChunk {
            records: chunk.records,
            exhausted: chunk.exhausted,
        })
    }

    async fn probe_updated(
        &self,
        probes: &[(EntityType, DateTime<FixedOffset>)],
        stage_probes: &[(EntityType, i64)],
    ) -> Result<
        (
            Vec<Result<PulledChunk, PortalError>>,
            Vec<Result<(Vec<StageHistoryEntry>, bool), PortalError>>,
        ),
        PortalError,
    > {
        let (items, stages) = self
            .client
            .probe_updated_batch(probes, stage_probes)
            .await
            .map_err(portal_error)?;
        let items = items
            .into_iter()
            .map(|r| {
                r.map(|chunk| PulledChunk {
                    records: chunk.records,
                    exhausted: chunk.exhausted,
                })
                .map_err(portal_error)
            })
            .collect();
        let stages = stages
            .into_iter()
            .map(|r| {
                r.map(|(rows, exhausted)| (rows.into_iter().map(stage_entry).collect(), exhausted))
                    .map_err(portal_error)
            })
            .collect();
        Ok((items, stages))
    }

    async fn list_ids(
        &self,
        t: EntityType,
        after_id: i64,
    ) -> Result<(Vec<i64>, bool), PortalError> {
        self.client
            .list_ids_batch(t, after_id)
            .await
            .map_err(portal_error)
    }

    async fn get_record(&self, t: EntityType, id: i64) -> Result<Record, PortalError> {
        self.client.get_item(t, id).await.map_err(portal_error)
    }

    async fn get_records(&self, t: EntityType, ids: &[i64]) -> Result<Vec<Probed>, PortalError> {
        Ok(self
            .client
            .get_items_batch(t, ids)
            .await
            .map_err(portal_error)?
            .into_iter()
            .map(|(id, r)| (id, r.map_err(portal_error)))
            .collect())
    }

    async fn reference(&self, types: &[EntityType]) -> Result<ReferenceData, PortalError> {
        // One `batch` for all of it: on a real portal every request is half a second.
        let user_id = self.client.webhook().user_id();
        let bundle = self
            .client
            .reference_bundle(types, user_id)
            .await
            .map_err(portal_error)?;
        Ok(ReferenceData {
            users: bundle.users,
            stages: bundle.stages,
            categories: bundle.categories,
            fields: bundle.fields,
            signed_in: Some(SignedIn {
                user_id,
                is_supervisor: bundle.is_supervisor,
                is_admin: bundle.is_admin,
                time_zone: bundle.time_zone,
                portal_host: self.client.webhook().portal_host(),
                missing_scopes: bundle
                    .scopes
                    .as_deref()
                    .map(kartoteka_domain::ipc::WebhookScope::missing_from),
            }),
            server_time: bundle.server_time,
            counts: bundle.counts,
            users_refused: bundle.users_refused,
        })
    }

    async fn stage_history(
        &self,
        t: EntityType,
        after_id: i64,
        more_expected: bool,
    ) -> Result<(Vec<StageHistoryEntry>, bool), PortalError> {
        let (rows, exhausted) = self
            .client
            .stage_history_after(t, after_id, more_expected)
            .await
            .map_err(portal_error)?;
        let entries = rows.into_iter().map(stage_entry).collect();
        Ok((entries, exhausted))
    }

    fn requests_made(&self) -> u64 {
        self.client.requests_made()
    }
}

fn stage_entry(r: kartoteka_bitrix::StageHistoryRow) -> StageHistoryEntry {
    StageHistoryEntry {
        id: r.id,
        type_id: r.type_id,
        owner_id: r.owner_id,
        created_ms: r.created.timestamp_millis(),
        stage_id: r.stage_id,
        category_id: r.category_id,
    }
}
