//! End-to-end story: a new user starts Kartoteka in demo mode and sees how many leads, deals,
//! contacts and companies the demo portal holds. Drives the real app binary (see `kartoteka_tests::e2e`).

use std::time::Duration;

use kartoteka_tests::e2e::AppUnderTest;
use serde_json::Value;

/// Reads the four per-type counts the start page shows, as `{"lead": n, ...}`, or `null` while any
/// of them is not rendered yet.
const READ_COUNTS: &str = r#"
const out = {};
for (const type of ["lead", "deal", "contact", "company"]) {
  const el = document.querySelector(`[data-testid="entity-count-${type}"]`);
  if (!el) return null;
  const digits = (el.textContent || "").replace(/\s/g, "").match(/\d+/);
  if (!digits) return null;
  out[type] = Number(digits[0]);
}
return out;
"#;

/// Starting the app, syncing the demo portal and rendering may take a while on a cold 2-core machine.
const COUNTS_TIMEOUT: Duration = Duration::from_secs(120);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the built app, tauri-driver and Xvfb; run by .ci/dev e2e"]
async fn demo_mode_shows_counts_of_all_four_entity_types() {
    let app = AppUnderTest::launch("demo_counts", &["--demo"])
        .await
        .expect("the app starts under tauri-driver");

    let shown = app
        .wait_for_script(
            "positive counts of leads, deals, contacts and companies",
            COUNTS_TIMEOUT,
            READ_COUNTS,
            all_positive,
        )
        .await;
    let shown = match shown {
        Ok(shown) => shown,
        Err(e) => {
            app.save_failure_artifacts().await;
            panic!("the demo portal's counts never appeared: {e}");
        }
    };
    println!("counts shown: {shown}");

    let counts: Vec<u64> = ["lead", "deal", "contact", "company"]
        .iter()
        .map(|t| shown[*t].as_u64().unwrap_or(0))
        .collect();
    let mut distinct = counts.clone();
    distinct.sort_unstable();
    distinct.dedup();
    assert_eq!(
        distinct.len(),
        4,
        "the demo dataset has different volumes per type, so equal counts mean one number is shown \
         for several types: {shown}"
    );

    let screenshot = app
        .save_screenshot("demo_counts")
        .await
        .expect("the screenshot is saved");
    println!("screenshot: {}", screenshot.display());
    app.close().await.expect("the session ends cleanly");
}

fn all_positive(shown: &Value) -> bool {
    ["lead", "deal", "contact", "company"]
        .iter()
        .all(|t| shown.get(*t).and_then(Value::as_u64).is_some_and(|n| n > 0))
}
