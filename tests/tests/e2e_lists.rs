//! End-to-end story: a user opens the deal list in the first second after start, waits for the
//! first sync, sorts by a column, opens a card, and reads the list at 1280×800 and 1024×700 in
//! Russian and English. Drives the real app binary through tauri-driver, finding and clicking
//! elements through WebDriver; run with `./.ci/dev e2e`.

use std::time::{Duration, Instant};

use kartoteka_tests::e2e::{keys, AppUnderTest, E2eError};
use serde_json::{json, Value};

const SYNC_TIMEOUT: Duration = Duration::from_secs(180);
const STEP_TIMEOUT: Duration = Duration::from_secs(30);

/// What the page shows of the list: rows, error banners, filters, the sort of the title column.
const READ_LIST: &str = r#"
const rows = [...document.querySelectorAll('[data-testid="vtable-body"] [role="row"]')];
const titles = rows
  .filter((r) => !r.querySelector(".skeleton"))
  .map((r) => r.querySelector('[role="gridcell"]')?.textContent.trim() ?? "");
const sync = document.querySelector('[data-testid="sync-state"]');
return {
  alerts: [...document.querySelectorAll('[role="alert"]')].map((a) => a.textContent.trim()),
  titles,
  filters: document.querySelectorAll(".records .filters select").length,
  sync: sync ? sync.getAttribute("data-sync") : null,
  titleSort: document.querySelector('[data-testid="th-title"]')?.getAttribute("aria-sort") ?? null,
};
"#;

/// Whether the page fits the window: no sideways scroll, and the count of found records, the
/// language switch and the sync button are inside it; cells that are cut have a tooltip.
const READ_LAYOUT: &str = r#"
const inside = (css) => {
  const el = document.querySelector(css);
  if (!el) return null;
  const r = el.getBoundingClientRect();
  return r.left >= 0 && r.right <= window.innerWidth + 1 && r.width > 0;
};
const cut = [...document.querySelectorAll('[data-testid="vtable-body"] .cell-text')]
  .filter((el) => el.scrollWidth > el.clientWidth + 1);
return {
  width: window.innerWidth,
  height: window.innerHeight,
  sideways: [document.documentElement, document.querySelector(".main"), document.querySelector(".content"),
    document.querySelector(".records")]
    .some((el) => el && el.scrollWidth > el.clientWidth + 1),
  found: inside(".records .found"),
  language: inside(".lang-switch select"),
  filters: [...document.querySelectorAll(".records .filters select")].map((s) => {
    const r = s.getBoundingClientRect();
    return r.right <= window.innerWidth + 1;
  }),
  cutWithoutTooltip: cut.filter((el) => !el.getAttribute("title")).map((el) => el.textContent),
  lang: document.documentElement.lang,
};
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the built app, tauri-driver and Xvfb; run by ./.ci/dev e2e"]
async fn a_list_opened_at_start_waits_for_the_replica_then_sorts_and_reads_well_at_1024_and_1280() {
    let app = AppUnderTest::launch("lists", &["--demo"])
        .await
        .expect("the app starts under tauri-driver");
    if let Err(e) = story(&app).await {
        app.save_failure_artifacts().await;
        panic!("{e}");
    }
    app.close().await.expect("the session ends cleanly");
}

async fn story(app: &AppUnderTest) -> Result<(), E2eError> {
    let session = app.session()?;

    // 1. Deals, as early as the sidebar can be clicked: before the demo portal and its replica
    //    are ready. The list must never say the local database failed; when the first sync is
    //    done it shows rows and the stage and responsible filters.
    app.click(
        "the sidebar's deals",
        STEP_TIMEOUT,
        r#".sidebar [data-testid="nav-deal"]"#,
    )
    .await?;
    let deadline = Instant::now() + SYNC_TIMEOUT;
    let list = loop {
        let seen = session.execute(READ_LIST, vec![]).await?;
        let alerts = seen["alerts"].as_array().cloned().unwrap_or_default();
        assert!(
            alerts.is_empty(),
            "a list opened while the app starts waits for the replica instead of an error: {alerts:?}"
        );
        let rows = seen["titles"].as_array().map_or(0, Vec::len);
        if seen["sync"] == "done" && rows > 0 && seen["filters"].as_u64() >= Some(2) {
            break seen;
        }
        if Instant::now() > deadline {
            return Err(E2eError::Timeout(format!(
                "the deal list with rows and filters after the first sync; last seen: {seen}"
            )));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    println!("deal list after the first sync: {list}");
    assert_eq!(
        list["titleSort"],
        json!("none"),
        "the title column is sortable, and not sorted before a click"
    );

    // 2. A click on the title header sorts by title (aria-sort says so); a second click reverses.
    app.click(
        "the title column's header",
        STEP_TIMEOUT,
        r#"[data-testid="th-title"] button"#,
    )
    .await?;
    let ascending = app
        .wait_for_script("the list sorted by title", STEP_TIMEOUT, READ_LIST, |v| {
            v["titleSort"] == "ascending"
                && first_titles(v).len() >= 5
                && is_sorted(&first_titles(v))
        })
        .await?;
    println!("by title: {:?}", first_titles(&ascending));
    app.click(
        "the title column's header again",
        STEP_TIMEOUT,
        r#"[data-testid="th-title"] button"#,
    )
    .await?;
    let descending = app
        .wait_for_script(
            "the list sorted by title, reversed",
            STEP_TIMEOUT,
            READ_LIST,
            |v| {
                let titles = first_titles(v);
                v["titleSort"] == "descending"
                    && titles.len() >= 5
                    && titles.first() != first_titles(&ascending).first()
                    && titles
                        .windows(2)
                        .all(|w| w[0].to_lowercase() >= w[1].to_lowercase())
            },
        )
        .await?;
    println!("by title, reversed: {:?}", first_titles(&descending));

    // The whole list, before a card takes part of the window.
    let layout = session.execute(READ_LAYOUT, vec![]).await?;
    let shot = app.save_screenshot("lists_ru_list_only").await?;
    println!("list only: {layout}; screenshot: {}", shot.display());
    assert_eq!(
        layout["cutWithoutTooltip"],
        json!([]),
        "a value cut to fit shows in full in its tooltip"
    );

    // 3. Open the first deal (click its row, Enter), then look at the list at the two sizes
    //    people use, with the card open.
    app.click(
        "the first deal",
        STEP_TIMEOUT,
        r#"[data-testid="vtable-body"] [aria-rowindex="1"] [role="gridcell"]"#,
    )
    .await?;
    let body = app
        .wait_for_element(
            "the list body",
            STEP_TIMEOUT,
            r#"[data-testid="vtable-body"]"#,
        )
        .await?;
    session.send_keys(&body, keys::ENTER).await?;
    app.wait_for_element(
        "the deal card",
        STEP_TIMEOUT,
        r#"[data-testid="record-card"] [data-testid="card-title"]"#,
    )
    .await?;
    for (width, height, lang) in [
        (1280, 800, "ru"),
        (1024, 700, "ru"),
        (1024, 700, "en"),
        (1280, 800, "en"),
    ] {
        if lang == "en" {
            app.choose_language("en").await?;
        }
        session.set_window_size(width, height).await?;
        let layout = app
            .wait_for_script(
                "the window at its new size",
                STEP_TIMEOUT,
                READ_LAYOUT,
                |v| v["lang"] == lang && v["width"].as_u64().is_some_and(|w| w <= u64::from(width)),
            )
            .await?;
        let shot = app
            .save_screenshot(&format!("lists_{lang}_{width}x{height}"))
            .await?;
        println!(
            "{width}×{height} {lang}: {layout}; screenshot: {}",
            shot.display()
        );
        assert_eq!(
            layout["sideways"],
            json!(false),
            "no sideways scroll at {width}×{height}: {layout}"
        );
        assert_eq!(
            layout["found"],
            json!(true),
            "the count stays in view at {width}×{height}: {layout}"
        );
        assert_eq!(
            layout["language"],
            json!(true),
            "the language switch stays in view at {width}×{height}: {layout}"
        );
        assert!(
            layout["filters"]
                .as_array()
                .is_some_and(|f| f.iter().all(|v| v == true)),
            "every filter stays in view at {width}×{height}: {layout}"
        );
        assert_eq!(
            layout["cutWithoutTooltip"],
            json!([]),
            "a value cut to fit shows in full in its tooltip at {width}×{height}"
        );
    }
    Ok(())
}

fn first_titles(list: &Value) -> Vec<String> {
    list["titles"]
        .as_array()
        .map(|t| {
            t.iter()
                .take(8)
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

/// Titles in order, compared as the replica sorts them (case-insensitively).
fn is_sorted(titles: &[String]) -> bool {
    titles
        .windows(2)
        .all(|w| w[0].to_lowercase() <= w[1].to_lowercase())
}
