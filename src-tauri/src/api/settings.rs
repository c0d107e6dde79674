//! Which portal the app uses between runs. The file in the data directory names the portal
//! (its host); the webhook URL itself — a secret — lives only in the secret store (OS keyring).

use crate::api::Core;
use kartoteka_bitrix::WebhookUrl;
use kartoteka_domain::ipc::{ErrorCode, IpcError};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

const SETTINGS_FILE: &str = "portal.json";

/// What the settings file holds: no secret, only the keyring account to look the webhook up by.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PortalSettings {
    pub account: String,
}

fn settings_path(dir: &Path) -> PathBuf {
    dir.join(SETTINGS_FILE)
}

pub fn read_settings(dir: &Path) -> Option<PortalSettings> {
    let text = std::fs::read_to_string(settings_path(dir)).ok()?;
    match serde_json::from_str(&text) {
        Ok(settings) => Some(settings),
        Err(error) => {
            tracing::warn!(%error, "the portal settings file is unreadable; starting on the demo portal");
            None
        }
    }
}

fn write_settings(dir: &Path, settings: &PortalSettings) -> Result<(), IpcError> {
    let storage = |e: std::io::Error| {
        IpcError::new(
            ErrorCode::Storage,
            format!("cannot save the portal settings: {e}"),
        )
    };
    kartoteka_store::private_dir(dir).map_err(storage)?;
    let text = serde_json::to_string_pretty(settings)
        .map_err(|e| IpcError::new(ErrorCode::Internal, e.to_string()))?;
    // The user's alone, written whole through a temporary file and a rename.
    kartoteka_store::write_private_file(&settings_path(dir), text.as_bytes()).map_err(storage)
}

/// The keyring account of a webhook: the user it acts as and the portal's host (`1@portal.bitrix24.ru`),
/// so two people's webhooks for one portal are kept apart.
pub(crate) fn account_of(webhook: &WebhookUrl) -> String {
    format!("{}@{}", webhook.user_id(), webhook.portal_host())
}

impl Core {
    /// Upgrades what versions keyed by host only left behind: the replica file (with its `-wal`
    /// and `-shm`) is moved to the per-user name, unless one is there already, and the webhook
    /// moves to the per-user keyring account. Only the configured person's files are moved: they
    /// were the one using the host-only file. A failed step is logged and retried at next start.
    async fn upgrade_to_per_user(&self, old_account: &str, webhook: &WebhookUrl) {
        let host = webhook.portal_host();
        let old = crate::api::portal::legacy_replica_path(&self.data_dir, &host);
        let new = crate::api::portal::replica_path(
            &self.data_dir,
            kartoteka_domain::ipc::PortalMode::Webhook,
            &host,
            webhook.user_id(),
        );
        if old.exists() && !new.exists() {
            for suffix in ["", "-wal", "-shm"] {
                let from = PathBuf::from(format!("{}{suffix}", old.display()));
                if from.exists() {
                    let to = PathBuf::from(format!("{}{suffix}", new.display()));
                    if let Err(error) = std::fs::rename(&from, &to) {
                        tracing::error!(%error, "the replica could not be moved to its per-user name");
                        return;
                    }
                }
            }
            tracing::info!(
                user = webhook.user_id(),
                "replica moved to its per-user name"
            );
        }
        let secrets = self.secrets.clone();
        let (old_key, new_key, url) = (
            old_account.to_string(),
            account_of(webhook),
            webhook.clone(),
        );
        let moved = tokio::task::spawn_blocking(move || {
            secrets.save(&new_key, &url)?;
            secrets.delete(&old_key)
        })
        .await;
        match moved {
            Ok(Ok(())) => {
                let settings = PortalSettings {
                    account: account_of(webhook),
                };
                if let Err(error) = write_settings(&self.data_dir, &settings) {
                    tracing::error!(%error, "the per-user account could not be saved");
                }
            }
            Ok(Err(error)) => {
                tracing::warn!(%error, "the webhook stays under its host-only account")
            }
            Err(error) => tracing::warn!(%error, "the secret store task failed"),
        }
    }

    /// The webhook of the configured portal: `None` when no portal is configured, an error
    /// ([`ErrorCode::SecretStoreUnavailable`]) when one is but its webhook cannot be read.
    pub(crate) async fn configured_webhook(&self) -> Result<Option<WebhookUrl>, IpcError> {
        let Some(settings) = read_settings(&self.data_dir) else {
            return Ok(None);
        };
        let secrets = self.secrets.clone();
        let account = settings.account.clone();
        let loaded = tokio::task::spawn_blocking(move || secrets.load(&account)).await;
        let unavailable = |why: String| {
            Err(IpcError::new(ErrorCode::SecretStoreUnavailable, why)
                .with_param("portal", &settings.account))
        };
        match loaded {
            Ok(Ok(Some(webhook))) => {
                if settings.account != account_of(&webhook) {
                    self.upgrade_to_per_user(&settings.account, &webhook).await;
                }
                Ok(Some(webhook))
            }
            Ok(Ok(None)) => {
                tracing::warn!(account = %settings.account, "no webhook in the secret store for the configured portal");
                unavailable(format!(
                    "the webhook of {} is not in the system keyring",
                    settings.account
                ))
            }
            Ok(Err(error)) => {
                tracing::warn!(%error, "the secret store is not available");
                unavailable(format!("the system keyring is not available: {error}"))
            }
            Err(error) => {
                tracing::warn!(%error, "the secret store task failed");
                unavailable(format!("the system keyring could not be read: {error}"))
            }
        }
    }

    /// Keeps a working webhook for the next start: the secret in the secret store, the account
    /// name in the settings file.
    pub(crate) async fn remember(&self, webhook: &WebhookUrl) -> Result<(), IpcError> {
        let account = account_of(webhook);
        let secrets = self.secrets.clone();
        let (key, url) = (account.clone(), webhook.clone());
        tokio::task::spawn_blocking(move || secrets.save(&key, &url))
            .await
            .map_err(|e| IpcError::new(ErrorCode::Internal, e.to_string()))?
            .map_err(|e| {
                IpcError::new(
                    ErrorCode::SecretStoreUnavailable,
                    format!("the webhook could not be kept in the system keyring: {e}"),
                )
            })?;
        write_settings(&self.data_dir, &PortalSettings { account })
    }
}
