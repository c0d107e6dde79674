//! End-to-end story: a new user starts Kartoteka in demo mode and sees how many leads, deals,
//! contacts and companies the demo portal holds. Drives the real app binary through tauri-driver
//! (see `kartoteka_tests::e2e`); run with `./.ci/dev e2e`.

use std::collections::BTreeMap;
use std::time::Duration;

use kartoteka_sandbox::{Sandbox, SandboxOptions};
use kartoteka_tests::e2e::AppUnderTest;
use serde_json::{json, Value};

/// The entity types in the order the overview shows them, with their Bitrix24 `entityTypeId`.
const TYPES: [(&str, u64); 4] = [("lead", 1), ("deal", 2), ("contact", 3), ("company", 4)];

/// Reads the overview tiles (`[data-testid=count-<type>]`, the number in `.tile-count`) and the
/// total (`[data-testid=count-total]`) as `{"lead": n, ..., "total": n}`; a tile that shows no
/// number yet (the "…" placeholder) is left out.
const READ_COUNTS: &str = r#"
const number = (el) => {
  if (!el) return undefined;
  const digits = (el.textContent || "").replace(/\D/g, "");
  return digits === "" ? undefined : Number(digits);
};
const out = {};
for (const type of ["lead", "deal", "contact", "company"]) {
  const n = number(document.querySelector(`[data-testid="count-${type}"] .tile-count`));
  if (n !== undefined) out[type] = n;
}
const total = number(document.querySelector('[data-testid="count-total"]'));
if (total !== undefined) out.total = total;
return out;
"#;

/// Starting the app, its demo portal and rendering may take a while on a cold 2-core machine.
const COUNTS_TIMEOUT: Duration = Duration::from_secs(120);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the built app, tauri-driver and Xvfb; run by ./.ci/dev e2e"]
async fn demo_mode_shows_how_many_records_of_each_type_the_demo_portal_holds() {
    let expected = demo_portal_counts().await;
    println!("demo portal holds: {expected:?}");

    let app = AppUnderTest::launch("demo_counts", &["--demo"])
        .await
        .expect("the app starts under tauri-driver");

    let want = expected.clone();
    let shown = app
        .wait_for_script(
            "the overview to show the demo portal's counts",
            COUNTS_TIMEOUT,
            READ_COUNTS,
            move |shown| {
                TYPES
                    .iter()
                    .all(|(t, _)| shown.get(*t).and_then(Value::as_u64) == want.get(*t).copied())
            },
        )
        .await;
    let shown = match shown {
        Ok(shown) => shown,
        Err(e) => {
            app.save_failure_artifacts().await;
            panic!("the overview never showed the demo portal's counts {expected:?}: {e}");
        }
    };
    println!("overview shows: {shown}");

    // The story's point: a first-time user sees at a glance how much the portal holds, per type.
    // The tiles matched the portal exactly (above); the total must add them up.
    let sum: u64 = expected.values().sum();
    assert_eq!(
        shown.get("total").and_then(Value::as_u64),
        Some(sum),
        "the total on the overview is the sum of the four types"
    );

    let screenshot = app
        .save_screenshot("demo_counts")
        .await
        .expect("the screenshot is saved");
    println!("screenshot: {}", screenshot.display());
    app.close().await.expect("the session ends cleanly");
}

/// How many records of each type the standard demo portal holds, read from a sandbox started with
/// the app's demo options, through `crm.item.list` totals — independently of the app's own client.
async fn demo_portal_counts() -> BTreeMap<&'static str, u64> {
    let sandbox = Sandbox::start(SandboxOptions::default())
        .await
        .expect("the sandbox starts");
    let webhook = sandbox.admin_webhook_url();
    let http = reqwest::Client::new();
    let mut counts = BTreeMap::new();
    for (name, entity_type_id) in TYPES {
        let body: Value = http
            .post(format!("{webhook}crm.item.list"))
            .json(&json!({ "entityTypeId": entity_type_id, "select": ["id"] }))
            .send()
            .await
            .expect("crm.item.list answers")
            .json()
            .await
            .expect("crm.item.list returns JSON");
        let total = body["total"]
            .as_u64()
            .unwrap_or_else(|| panic!("crm.item.list has a total: {body}"));
        assert!(total > 0, "the demo portal has {name} records");
        counts.insert(name, total);
    }
    sandbox.shutdown().await;
    counts
}
