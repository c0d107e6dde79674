//! The real OS keyring. Runs only with `KARTOTEKA_TEST_REAL_KEYRING=1`; otherwise each test
//! prints "skipped" and passes. Set-ups checked on Debian 12 (packages dbus, gnome-keyring, keyutils):
//!
//! Secret Service (what desktops have):
//! ```sh
//! dbus-run-session -- sh -c 'echo pw | gnome-keyring-daemon --unlock --components=secrets >/dev/null; \
//!   KARTOTEKA_TEST_REAL_KEYRING=1 KARTOTEKA_TEST_KEYRING_BACKEND=secret-service \
//!   cargo test -p kartoteka-bitrix --test keyring'
//! ```
//! Kernel keyring (the fallback when no Secret Service answers):
//! ```sh
//! env -u DBUS_SESSION_BUS_ADDRESS keyctl session - sh -c 'KARTOTEKA_TEST_REAL_KEYRING=1 \
//!   KARTOTEKA_TEST_KEYRING_BACKEND=kernel cargo test -p kartoteka-bitrix --test keyring'
//! ```
//! Neither (the clear error; `.ci/dev test` runs this too): no D-Bus and a revoked session keyring,
//! ```sh
//! env -u DBUS_SESSION_BUS_ADDRESS KARTOTEKA_TEST_NO_KEYRING=1 keyctl session - sh -c \
//!   'keyctl revoke @s && cargo test -p kartoteka-bitrix --test keyring'
//! ```
//! `KARTOTEKA_TEST_KEYRING_BACKEND` makes the test assert which store answered.

use kartoteka_bitrix::{KeyringSecretStore, SecretBackend, SecretError, SecretStore, WebhookUrl};

fn enabled(var: &str) -> bool {
    let on = std::env::var(var).as_deref() == Ok("1");
    if !on {
        eprintln!("skipped: set {var}=1 to run");
    }
    on
}

fn webhook(code: &str) -> WebhookUrl {
    WebhookUrl::parse(&format!("https://portal.example/rest/9/{code}/"))
        .unwrap_or_else(|e| panic!("{e}"))
}

fn account(name: &str) -> String {
    format!("{name}-{}", std::process::id())
}

#[test]
fn keyring_keeps_the_webhook_across_store_values_and_forgets_it_on_delete() {
    if !enabled("KARTOTEKA_TEST_REAL_KEYRING") {
        return;
    }
    let account = account("roundtrip");
    let store = KeyringSecretStore::new("kartoteka-test");
    let backend = store.backend().expect("a secret store is available");
    eprintln!("keyring backend: {backend:?}");
    // KARTOTEKA_TEST_KEYRING_BACKEND=secret-service|kernel pins which set-up CI meant to test.
    match std::env::var("KARTOTEKA_TEST_KEYRING_BACKEND").as_deref() {
        Ok("secret-service") => assert_eq!(backend, SecretBackend::SecretService),
        Ok("kernel") => assert_eq!(backend, SecretBackend::KernelKeyring),
        _ => {}
    }
    store
        .delete(&account)
        .expect("delete of a missing entry is fine");
    assert_eq!(
        store.load(&account),
        Ok(None),
        "a fresh account has no secret"
    );

    store
        .save(&account, &webhook("firstcode111"))
        .expect("save");
    let other_handle = KeyringSecretStore::new("kartoteka-test");
    assert_eq!(
        other_handle.load(&account),
        Ok(Some(webhook("firstcode111"))),
        "read back through a new handle"
    );

    store
        .save(&account, &webhook("secondcode22"))
        .expect("overwrite");
    assert_eq!(
        store.load(&account),
        Ok(Some(webhook("secondcode22"))),
        "the newer secret replaces the old"
    );

    store.delete(&account).expect("delete");
    assert_eq!(store.load(&account), Ok(None), "deleted secrets are gone");
}

#[tokio::test]
async fn keyring_works_when_called_from_inside_a_tokio_runtime() {
    if !enabled("KARTOTEKA_TEST_REAL_KEYRING") {
        return;
    }
    let account = account("in-runtime");
    let store = KeyringSecretStore::new("kartoteka-test");
    store
        .save(&account, &webhook("runtimecode3"))
        .expect("save inside a runtime");
    assert_eq!(store.load(&account), Ok(Some(webhook("runtimecode3"))));
    store.delete(&account).expect("delete");
}

#[test]
fn without_any_secret_store_saving_fails_with_a_clear_message() {
    if !enabled("KARTOTEKA_TEST_NO_KEYRING") {
        return;
    }
    let store = KeyringSecretStore::new("kartoteka-test");
    assert!(matches!(store.backend(), Err(SecretError::Unavailable(_))));
    match store.save(&account("nostore"), &webhook("nostorecode4")) {
        Err(SecretError::Unavailable(msg)) => assert!(msg.contains("Secret Service"), "{msg}"),
        other => panic!("expected Unavailable, got {other:?}"),
    }
}
