//! Where the webhook URL lives: the OS keyring in the app, memory in unit tests (CONTRACT §1.4).
//!
//! On Linux, [`KeyringSecretStore`] prefers the Secret Service (GNOME Keyring, KWallet; D-Bus in
//! pure Rust) and falls back to the kernel keyring (keyutils, session keyring; kept until reboot)
//! when no Secret Service answers. When neither works it returns [`SecretError::Unavailable`]
//! with a message saying what to start; it never writes the secret to a file.

use crate::error::SecretError;
use crate::webhook::WebhookUrl;
use std::collections::HashMap;
use std::sync::Mutex;

/// A place to keep webhook URLs, one per account (e.g. the portal host).
///
/// The methods block (the OS keyring talks D-Bus); from async code call them through
/// `tokio::task::spawn_blocking`. [`KeyringSecretStore`] is safe to call from any thread,
/// including inside a Tokio runtime.
pub trait SecretStore: Send + Sync {
    fn load(&self, account: &str) -> Result<Option<WebhookUrl>, SecretError>;
    fn save(&self, account: &str, url: &WebhookUrl) -> Result<(), SecretError>;
    /// Deleting an account that has no secret is not an error.
    fn delete(&self, account: &str) -> Result<(), SecretError>;
}

/// An in-memory store for tests and the demo mode.
#[derive(Debug, Default)]
pub struct MemorySecretStore {
    urls: Mutex<HashMap<String, WebhookUrl>>,
}

impl MemorySecretStore {
    pub fn new() -> Self {
        Self::default()
    }

    fn map(&self) -> Result<std::sync::MutexGuard<'_, HashMap<String, WebhookUrl>>, SecretError> {
        self.urls
            .lock()
            .map_err(|_| SecretError::Platform("the in-memory store was poisoned".into()))
    }
}

impl SecretStore for MemorySecretStore {
    fn load(&self, account: &str) -> Result<Option<WebhookUrl>, SecretError> {
        Ok(self.map()?.get(account).cloned())
    }

    fn save(&self, account: &str, url: &WebhookUrl) -> Result<(), SecretError> {
        self.map()?.insert(account.to_string(), url.clone());
        Ok(())
    }

    fn delete(&self, account: &str) -> Result<(), SecretError> {
        self.map()?.remove(account);
        Ok(())
    }
}

/// Which OS store holds the secrets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretBackend {
    /// The desktop's Secret Service (GNOME Keyring, KWallet), or the platform keychain elsewhere.
    SecretService,
    /// The Linux kernel keyring (keyutils): kept only until reboot.
    KernelKeyring,
}

/// The OS keyring (keyring crate 3.x).
#[derive(Debug, Clone)]
pub struct KeyringSecretStore {
    service: String,
}

/// One keyring call at a time: the Secret Service client drives a shared runtime.
static KEYRING_LOCK: Mutex<()> = Mutex::new(());

impl KeyringSecretStore {
    /// `service` names the application in the keyring (e.g. `kartoteka`).
    pub fn new(service: impl Into<String>) -> Self {
        KeyringSecretStore {
            service: service.into(),
        }
    }

    pub fn service(&self) -> &str {
        &self.service
    }

    /// Finds out which store [`SecretStore`] calls will use, or why none is available. Probing the
    /// kernel keyring writes and deletes a dummy entry.
    pub fn backend(&self) -> Result<SecretBackend, SecretError> {
        let service = self.service.clone();
        std::thread::spawn(move || {
            let _one_at_a_time = KEYRING_LOCK.lock().unwrap_or_else(|p| p.into_inner());
            backend::probe(&service)
        })
        .join()
        .map_err(|_| SecretError::Platform("the keyring thread panicked".into()))?
    }

    /// Runs `op` on a keyring entry, on a thread of its own: the Secret Service client blocks on
    /// its own Tokio runtime, which must not happen on a thread that already runs one.
    fn with_entry<T: Send + 'static>(
        &self,
        account: &str,
        op: fn(&keyring::Entry) -> keyring::Result<T>,
    ) -> Result<T, SecretError> {
        let service = self.service.clone();
        let account = account.to_string();
        let worker = std::thread::spawn(move || {
            let _one_at_a_time = KEYRING_LOCK.lock().unwrap_or_else(|p| p.into_inner());
            backend::run(&service, &account, op)
        });
        worker
            .join()
            .map_err(|_| SecretError::Platform("the keyring thread panicked".into()))?
    }
}

impl SecretStore for KeyringSecretStore {
    fn load(&self, account: &str) -> Result<Option<WebhookUrl>, SecretError> {
        let text = self.with_entry(account, |e| match e.get_password() {
            Ok(p) => Ok(Some(p)),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(other) => Err(other),
        })?;
        match text {
            None => Ok(None),
            Some(t) => WebhookUrl::parse(&t)
                .map(Some)
                .map_err(|_| SecretError::Corrupt("re-enter the webhook URL".into())),
        }
    }

    fn save(&self, account: &str, url: &WebhookUrl) -> Result<(), SecretError> {
        let secret = url.expose().to_string();
        let service = self.service.clone();
        let account_owned = account.to_string();
        let worker = std::thread::spawn(move || {
            let _one_at_a_time = KEYRING_LOCK.lock().unwrap_or_else(|p| p.into_inner());
            backend::set(&service, &account_owned, &secret)
        });
        let saved = worker
            .join()
            .map_err(|_| SecretError::Platform("the keyring thread panicked".into()))?;
        if saved.is_ok() {
            tracing::info!(account, "webhook saved to the keyring");
        }
        saved
    }

    fn delete(&self, account: &str) -> Result<(), SecretError> {
        self.with_entry(account, |e| match e.delete_credential() {
            Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
            Err(other) => Err(other),
        })
    }
}

/// Maps a keyring error; its text never contains the secret (keyring does not echo passwords).
fn map_error(e: keyring::Error) -> SecretError {
    match e {
        keyring::Error::NoStorageAccess(inner) => SecretError::AccessDenied(format!(
            "the keyring is locked or refused access ({inner}); unlock it and try again"
        )),
        keyring::Error::PlatformFailure(inner) => SecretError::Platform(inner.to_string()),
        other => SecretError::Platform(other.to_string()),
    }
}

#[cfg(target_os = "linux")]
mod backend {
    use super::{map_error, SecretBackend, SecretError};
    use keyring::keyutils::KeyutilsCredential;
    use keyring::secret_service::SsCredential;
    use keyring::{Entry, Error};

    const NO_STORE: &str = "no Secret Service (GNOME Keyring or KWallet) is running and the kernel \
        keyring has no session keyring; start your desktop's keyring (or run under `keyctl session -`)";

    /// True when the error means "nobody answers on D-Bus", as opposed to "locked" or "no entry".
    fn secret_service_absent(e: &Error) -> bool {
        matches!(e, Error::PlatformFailure(_))
    }

    fn keyutils_entry(service: &str, account: &str) -> Result<Entry, SecretError> {
        KeyutilsCredential::new_with_target(None, service, account)
            .map(|c| Entry::new_with_credential(Box::new(c)))
            .map_err(|_| SecretError::Unavailable(NO_STORE.into()))
    }

    fn secret_service_entry(service: &str, account: &str) -> Result<Entry, Error> {
        SsCredential::new_with_target(None, service, account)
            .map(|c| Entry::new_with_credential(Box::new(c)))
    }

    pub(super) fn run<T>(
        service: &str,
        account: &str,
        op: fn(&Entry) -> keyring::Result<T>,
    ) -> Result<T, SecretError> {
        let ss = secret_service_entry(service, account).and_then(|e| op(&e));
        match ss {
            Ok(v) => Ok(v),
            Err(e) if secret_service_absent(&e) => {
                tracing::debug!("Secret Service unavailable; using the kernel keyring");
                op(&keyutils_entry(service, account)?).map_err(map_error)
            }
            Err(e) => Err(map_error(e)),
        }
    }

    pub(super) fn probe(service: &str) -> Result<SecretBackend, SecretError> {
        const PROBE: &str = "__kartoteka_probe__";
        match secret_service_entry(service, PROBE).and_then(|e| e.get_password()) {
            Err(e) if secret_service_absent(&e) => {}
            _ => return Ok(SecretBackend::SecretService),
        }
        let entry = keyutils_entry(service, PROBE)?;
        entry
            .set_password("probe")
            .map_err(|_| SecretError::Unavailable(NO_STORE.into()))?;
        let _ = entry.delete_credential();
        Ok(SecretBackend::KernelKeyring)
    }

    pub(super) fn set(service: &str, account: &str, secret: &str) -> Result<(), SecretError> {
        let ss = secret_service_entry(service, account).and_then(|e| e.set_password(secret));
        match ss {
            Ok(()) => Ok(()),
            Err(e) if secret_service_absent(&e) => {
                tracing::debug!("Secret Service unavailable; using the kernel keyring");
                keyutils_entry(service, account)?
                    .set_password(secret)
                    .map_err(|e| match e {
                        Error::NoEntry => SecretError::Unavailable(NO_STORE.into()),
                        other => map_error(other),
                    })
            }
            Err(e) => Err(map_error(e)),
        }
    }
}

#[cfg(not(target_os = "linux"))]
mod backend {
    use super::{map_error, SecretBackend, SecretError};
    use keyring::Entry;

    pub(super) fn probe(_service: &str) -> Result<SecretBackend, SecretError> {
        Ok(SecretBackend::SecretService)
    }

    pub(super) fn run<T>(
        service: &str,
        account: &str,
        op: fn(&Entry) -> keyring::Result<T>,
    ) -> Result<T, SecretError> {
        let entry = Entry::new(service, account).map_err(map_error)?;
        op(&entry).map_err(map_error)
    }

    pub(super) fn set(service: &str, account: &str, secret: &str) -> Result<(), SecretError> {
        let entry = Entry::new(service, account).map_err(map_error)?;
        entry.set_password(secret).map_err(map_error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url() -> WebhookUrl {
        WebhookUrl::parse("https://portal.bitrix24.ru/rest/3/memsecret123/")
            .unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn memory_store_saves_loads_and_deletes_per_account() {
        let store = MemorySecretStore::new();
        assert_eq!(store.load("portal.bitrix24.ru"), Ok(None));
        store.save("portal.bitrix24.ru", &url()).expect("save");
        assert_eq!(store.load("portal.bitrix24.ru"), Ok(Some(url())));
        assert_eq!(store.load("other"), Ok(None));
        store.delete("portal.bitrix24.ru").expect("delete");
        store
            .delete("portal.bitrix24.ru")
            .expect("deleting twice is fine");
        assert_eq!(store.load("portal.bitrix24.ru"), Ok(None));
    }

    #[test]
    fn secret_errors_do_not_carry_the_secret() {
        let e = SecretError::Corrupt("re-enter the webhook URL".into());
        assert!(!e.to_string().contains("memsecret123"));
    }
}
