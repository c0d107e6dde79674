//! End-to-end story: a user connects to the demo portal, opens a deal's card, sees its custom
//! field and its contact's phone, and follows the link to that contact's card. Drives the real
//! app binary through tauri-driver (see `kartoteka_tests::e2e`); run with `./.ci/dev e2e`.

use std::collections::HashMap;
use std::time::Duration;

use kartoteka_sandbox::{Sandbox, SandboxOptions};
use kartoteka_tests::e2e::{keys, AppUnderTest, E2eError};
use serde_json::{json, Value};

/// Starting the app, its demo portal and the first sync may take a while on a cold 2-core machine.
const SYNC_TIMEOUT: Duration = Duration::from_secs(180);
const STEP_TIMEOUT: Duration = Duration::from_secs(30);

/// The demo portal's deal custom field the story looks for (`UF_CRM_NOTE`, a string) and its label.
const NOTE_FIELD: &str = "ufCrmNote";
const NOTE_LABEL: &str = "Заметка";
/// The label of the card's stage field.
const STAGE_LABEL: &str = "Стадия";
/// The list's search box.
const SEARCH: &str = r#".records input[type="search"]"#;

/// A deal the story opens, as the portal itself describes it.
#[derive(Debug)]
struct DealWithContact {
    id: i64,
    title: String,
    note: String,
    contact_id: i64,
    contact_phone: String,
    stage_id: String,
    /// The stage's name in the deal stage list of the deal's pipeline.
    stage_name: String,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the built app, tauri-driver and Xvfb; run by ./.ci/dev e2e"]
async fn deal_card_shows_custom_field_and_contact_phone_and_links_to_the_contact() {
    let deal = demo_deal_with_note_and_contact_phone().await;
    println!("the story opens: {deal:?}");

    let app = AppUnderTest::launch("deal_card", &["--demo"])
        .await
        .expect("the app starts under tauri-driver");
    let result = story(&app, &deal).await;
    if let Err(e) = result {
        app.save_failure_artifacts().await;
        panic!("{e}");
    }
    app.close().await.expect("the session ends cleanly");
}

async fn story(app: &AppUnderTest, deal: &DealWithContact) -> Result<(), E2eError> {
    let session = app.session()?;

    // 1. The first sync of the demo portal finishes: the header says when it synced.
    app.wait_for_script(
        "the first sync to finish",
        SYNC_TIMEOUT,
        r#"const s = document.querySelector('[data-testid="sync-state"]');
           return s ? s.getAttribute("data-sync") : null;"#,
        |v| v == "done",
    )
    .await?;

    // 2. Deals, from the sidebar.
    click_nav(app, "deal").await?;
    let search = app
        .wait_for_element("the deal list's search", STEP_TIMEOUT, SEARCH)
        .await?;

    // 3. Search for the deal by its title (typed), select its row with a click and open it with
    //    Enter, as a person does.
    session.click(&search).await?;
    session.send_keys(&search, &deal.title).await?;
    let typed = session
        .execute(
            "return document.querySelector(arguments[0]).value;",
            vec![json!(SEARCH)],
        )
        .await?;
    assert_eq!(
        typed,
        json!(deal.title),
        "the title typed through WebDriver is in the search box"
    );
    let row_index = app
        .wait_for_script(
            "the deal's row in the search results",
            STEP_TIMEOUT,
            &format!(
                r#"const rows = [...document.querySelectorAll('[data-testid="vtable-body"] [role="row"]')];
                   const row = rows.find((r) => r.querySelector('[role="gridcell"]')?.textContent.trim() === {title});
                   const found = Number((document.querySelector(".records .found")?.textContent || "").replace(/\D/g, ""));
                   return row && found > 0 && found <= 10 ? row.getAttribute("aria-rowindex") : null;"#,
                title = json!(deal.title)
            ),
            |v| v.is_string(),
        )
        .await?;
    let row_index = row_index.as_str().unwrap_or("1");
    app.click(
        "the deal's row",
        STEP_TIMEOUT,
        &format!(r#"[data-testid="vtable-body"] [aria-rowindex="{row_index}"] [role="gridcell"]"#),
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
    app.wait_for_script(
        "the deal's card to open",
        STEP_TIMEOUT,
        r#"const card = document.querySelector('[data-testid="record-card"][data-entity-type="deal"]');
           return card ? card.getAttribute("data-record-id") : null;"#,
        |v| v == &json!(deal.id.to_string()),
    )
    .await?;

    // 4. The deal card shows the custom field with its label, and the contact with its phone.
    let deal_card = app
        .wait_for_script(
            "the deal card with its custom field and its contact's phone",
            STEP_TIMEOUT,
            &card_reader("deal", deal.id, deal.contact_id),
            |v| {
                v["fields"][NOTE_LABEL] == json!(deal.note)
                    && v["linkPhone"] == json!(deal.contact_phone)
            },
        )
        .await?;
    println!("deal card: {deal_card}");
    assert_eq!(
        deal_card["title"],
        json!(deal.title),
        "the card is the deal's"
    );
    assert!(
        deal_card["linkTitle"]
            .as_str()
            .is_some_and(|t| !t.is_empty() && !t.starts_with('#')),
        "the deal's contact is linked by name: {deal_card}"
    );
    assert_no_raw_values(&deal_card);
    // The stage is the deal's stage, named from the deal stage list of its pipeline (the lead
    // status with the same code has another name), in the chip and in the field alike.
    assert_eq!(
        deal_card["stageChip"],
        json!(deal.stage_name),
        "the card's stage chip names the deal stage {:?}",
        deal.stage_id
    );
    assert_eq!(
        deal_card["fields"][STAGE_LABEL],
        json!(deal.stage_name),
        "the card's stage field names the deal stage {:?}",
        deal.stage_id
    );
    let shot = app.save_screenshot("deal_card").await?;
    println!("screenshot: {}", shot.display());
    // The custom fields come after the standard ones: a second picture shows the note.
    app.session()?
        .execute(
            "const label = arguments[0];\n\
             const row = [...document.querySelectorAll('[data-testid=\"record-card\"] .field-row')]\n\
               .find((r) => r.querySelector('dt')?.textContent.trim() === label);\n\
             if (row) row.scrollIntoView({ block: 'center' });\n\
             return !!row;",
            vec![json!(NOTE_LABEL)],
        )
        .await?;
    let shot = app.save_screenshot("deal_card_custom_fields").await?;
    println!("screenshot: {}", shot.display());

    // 5. Follow the link: the contact's card opens, with the same phone.
    app.click(
        "the link to the deal's contact",
        STEP_TIMEOUT,
        &format!(
            r#"[data-testid="link-contact-{}"] .link-button"#,
            deal.contact_id
        ),
    )
    .await?;
    let contact_card = app
        .wait_for_script(
            "the contact card with its phone",
            STEP_TIMEOUT,
            &card_reader("contact", deal.contact_id, 0),
            |v| {
                v["phones"]
                    .as_array()
                    .is_some_and(|p| p.contains(&json!(deal.contact_phone)))
            },
        )
        .await?;
    println!("contact card: {contact_card}");
    assert_eq!(
        contact_card["title"], deal_card["linkTitle"],
        "the link opened the contact it names"
    );
    assert_no_raw_values(&contact_card);
    let shot = app.save_screenshot("contact_card").await?;
    println!("screenshot: {}", shot.display());

    // 6. A click on the phone number hands it to the system; the app stays where it was.
    let url_before = session.current_url().await?;
    app.click(
        "the contact's phone number",
        STEP_TIMEOUT,
        r#"[data-testid="record-card"] [data-testid="mf-phone"] a"#,
    )
    .await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        session.current_url().await?,
        url_before,
        "a tel: link must never navigate the app's window away"
    );
    app.wait_for_element(
        "the contact card, still there after the phone click",
        STEP_TIMEOUT,
        &format!(
            r#"[data-testid="record-card"][data-record-id="{}"] [data-testid="card-title"]"#,
            deal.contact_id
        ),
    )
    .await?;

    // 7. Escape (pressed on the card's close button, where the card puts the focus) closes the
    //    card and gives the keyboard back to the list.
    let close = app
        .wait_for_element(
            "the card's close button",
            STEP_TIMEOUT,
            r#"[data-testid="record-card"] .card-head button"#,
        )
        .await?;
    session.send_keys(&close, keys::ESCAPE).await?;
    app.wait_for_script(
        "the card to close and the list to have the focus",
        STEP_TIMEOUT,
        r#"return !document.querySelector('[data-testid="record-card"]')
             && document.activeElement?.getAttribute("data-testid") === "vtable-body";"#,
        |v| v == true,
    )
    .await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the built app, tauri-driver and Xvfb; run by ./.ci/dev e2e"]
async fn header_shows_sync_progress_per_type_while_a_large_demo_portal_syncs() {
    // 20 000 records take the first sync long enough to be seen running.
    let app = AppUnderTest::launch("sync_progress", &["--demo", "--demo-records", "20000"])
        .await
        .expect("the app starts under tauri-driver");
    let seen = app
        .wait_for_script(
            "the header to show a running sync with a known total",
            SYNC_TIMEOUT,
            r#"const state = document.querySelector('[data-testid="sync-state"]');
               const bar = document.querySelector('[data-testid="sync-progress"]');
               if (!state || !bar) return null;
               return {
                 state: state.getAttribute("data-sync"),
                 text: state.textContent.trim(),
                 percent: bar.getAttribute("aria-valuenow"),
               };"#,
            |v| {
                v["state"] == "running"
                    && v["percent"]
                        .as_str()
                        .and_then(|p| p.parse::<u32>().ok())
                        .is_some_and(|p| p > 0 && p < 100)
            },
        )
        .await;
    let seen = match seen {
        Ok(seen) => seen,
        Err(e) => {
            app.save_failure_artifacts().await;
            panic!("{e}");
        }
    };
    println!("header while syncing: {seen}");
    let text = seen["text"].as_str().unwrap_or_default();
    // "Синхронизация — Лиды: 1 200 из 6 100": which type, how many of how many.
    assert!(
        text.contains(" из ") && text.chars().any(|c| c.is_ascii_digit()),
        "the header says how many records of how many: {text:?}"
    );
    let shot = app
        .save_screenshot("sync_progress")
        .await
        .expect("the screenshot is saved");
    println!("screenshot: {}", shot.display());
    // In English, at 1024×700, the longer progress text must not push the language switch or the
    // sync button out of the window.
    if let Err(e) = english_header_fits_while_syncing(&app).await {
        app.save_failure_artifacts().await;
        panic!("{e}");
    }
    app.close().await.expect("the session ends cleanly");
}

async fn english_header_fits_while_syncing(app: &AppUnderTest) -> Result<(), E2eError> {
    app.choose_language("en").await?;
    app.session()?.set_window_size(1024, 700).await?;
    let header = app
        .wait_for_script(
            "the English header at 1024×700 during the sync",
            STEP_TIMEOUT,
            r#"const inside = (css) => {
                 const el = document.querySelector(css);
                 if (!el) return null;
                 const r = el.getBoundingClientRect();
                 return r.width > 0 && r.left >= 0 && r.right <= window.innerWidth + 1;
               };
               const state = document.querySelector('[data-testid="sync-state"]');
               return {
                 width: window.innerWidth,
                 running: state ? state.getAttribute("data-sync") === "running" : false,
                 text: state ? state.textContent.trim() : null,
                 language: inside(".lang-switch select"),
                 syncButton: inside(".header .icon-button"),
               };"#,
            |v| v["width"].as_u64().is_some_and(|w| w <= 1024),
        )
        .await?;
    println!("English header at 1024×700: {header}");
    let shot = app.save_screenshot("sync_progress_en_1024x700").await?;
    println!("screenshot: {}", shot.display());
    assert_eq!(
        header["language"],
        json!(true),
        "the language switch stays in the window: {header}"
    );
    assert_eq!(
        header["syncButton"],
        json!(true),
        "the sync button stays in the window: {header}"
    );
    Ok(())
}

/// Clicks the sidebar entry of `section` (`deal`, `contact`, `overview`, …) through WebDriver.
async fn click_nav(app: &AppUnderTest, section: &str) -> Result<(), E2eError> {
    app.click(
        &format!("the sidebar entry {section}"),
        STEP_TIMEOUT,
        &format!(r#".sidebar [data-testid="nav-{section}"]"#),
    )
    .await
}

/// A script that reads the open card of `entity_type` #`id` as
/// `{title, fields: {label: value}, phones: [..], linkTitle, linkPhone}` (link: the contact
/// `link_id`), or `null` while that card is not open.
fn card_reader(entity_type: &str, id: i64, link_id: i64) -> String {
    format!(
        r#"const card = document.querySelector('[data-testid="record-card"][data-entity-type="{entity_type}"][data-record-id="{id}"]');
           if (!card) return null;
           const text = (el) => (el ? el.textContent.trim() : null);
           const fields = {{}};
           const zeroReferences = [];
           for (const row of card.querySelectorAll('.field-row:not(.empty)')) {{
             const value = text(row.querySelector("dd"));
             fields[text(row.querySelector("dt"))] = value;
             const name = (row.getAttribute("data-testid") || "").replace(/^field-/, "");
             const type = row.getAttribute("data-field-type") || "";
             const reference = /Ids?$/.test(name) || type.startsWith("crm") || type === "user";
             if (reference && type !== "crm_category" && value === "0") zeroReferences.push(name);
           }}
           const phones = [...card.querySelectorAll('[data-testid="mf-phone"] a')].map(text);
           const link = card.querySelector('[data-testid="link-contact-{link_id}"]');
           return {{
             title: text(card.querySelector('[data-testid="card-title"]')),
             stageChip: text(card.querySelector(".card-meta .stage-chip")),
             fields,
             zeroReferences,
             phones,
             linkTitle: link ? text(link.querySelector(".link-button")) : null,
             linkPhone: link ? text(link.querySelector('[data-testid="link-phone"]')) : null,
           }};"#
    )
}

/// No field of a card shows a bare "0" reference, a raw user id or a raw ISO date-time.
fn assert_no_raw_values(card: &Value) {
    assert_eq!(
        card["zeroReferences"],
        json!([]),
        "a reference to nothing (id 0) must show as empty, not \"0\""
    );
    let fields = card["fields"].as_object().cloned().unwrap_or_default();
    for (label, value) in &fields {
        let value = value.as_str().unwrap_or_default();
        assert!(
            !(value.starts_with('#') && value[1..].bytes().all(|b| b.is_ascii_digit())),
            "{label}: a raw id {value:?} on the card"
        );
        let iso = value.len() >= 19
            && value.as_bytes()[4] == b'-'
            && value.as_bytes()[10] == b'T'
            && value.as_bytes()[..4].iter().all(u8::is_ascii_digit);
        assert!(!iso, "{label}: raw ISO date-time {value:?} on the card");
    }
}

/// Picks, from a sandbox started with the app's demo options (same seed, same data), the first
/// deal by id whose title is unique, whose custom note is set and whose contact has a phone —
/// read through the REST API, independently of the app's own client.
async fn demo_deal_with_note_and_contact_phone() -> DealWithContact {
    let sandbox = Sandbox::start(SandboxOptions::default())
        .await
        .expect("the sandbox starts");
    let webhook = sandbox.admin_webhook_url();
    let http = reqwest::Client::new();
    let call = |method: &str, params: Value| {
        let request = http.post(format!("{webhook}{method}")).json(&params);
        async move {
            let body: Value = request
                .send()
                .await
                .expect("the sandbox answers")
                .json()
                .await
                .expect("the sandbox returns JSON");
            body
        }
    };

    let mut deals = Vec::new();
    let mut start = 0;
    loop {
        let page = call(
            "crm.item.list",
            json!({
                "entityTypeId": 2,
                "select": ["id", "title", "contactId", "stageId", "categoryId", NOTE_FIELD],
                "order": { "id": "ASC" },
                "start": start,
            }),
        )
        .await;
        let items = page["result"]["items"]
            .as_array()
            .cloned()
            .unwrap_or_else(|| panic!("crm.item.list returns items: {page}"));
        deals.extend(items);
        match page["next"].as_u64() {
            Some(next) => start = next,
            None => break,
        }
    }
    let mut titles: HashMap<String, usize> = HashMap::new();
    for d in &deals {
        *titles
            .entry(d["title"].as_str().unwrap_or_default().to_owned())
            .or_default() += 1;
    }

    // Stage names by (list, code): the name a deal's stage must show is the one in the deal stage
    // list of its pipeline, never the lead status of the same code.
    let statuses = call("crm.status.list", json!({})).await;
    let stage_names: HashMap<(String, String), String> = statuses["result"]
        .as_array()
        .cloned()
        .unwrap_or_else(|| panic!("crm.status.list returns a list: {statuses}"))
        .iter()
        .map(|s| {
            let text = |k: &str| s[k].as_str().unwrap_or_default().to_owned();
            ((text("ENTITY_ID"), text("STATUS_ID")), text("NAME"))
        })
        .collect();
    // Deals in the stage NEW first: that code is also a lead status with another name.
    deals.sort_by_key(|d| d["stageId"] != "NEW");

    for d in &deals {
        let title = d["title"].as_str().unwrap_or_default();
        let note = d[NOTE_FIELD].as_str().unwrap_or_default();
        let contact_id = d["contactId"].as_i64().unwrap_or(0);
        if title.is_empty() || titles.get(title) != Some(&1) || note.is_empty() || contact_id <= 0 {
            continue;
        }
        let contact = call(
            "crm.item.get",
            json!({ "entityTypeId": 3, "id": contact_id }),
        )
        .await;
        let item = &contact["result"]["item"];
        let phone = item["fm"].as_array().and_then(|fm| {
            fm.iter()
                .filter(|m| m["typeId"] == "PHONE")
                .filter_map(|m| m["value"].as_str())
                .find(|v| !v.trim().is_empty())
                .map(str::to_owned)
        });
        let Some(contact_phone) = phone else { continue };
        let stage_id = d["stageId"].as_str().unwrap_or_default().to_owned();
        let list = match d["categoryId"].as_i64().unwrap_or(0) {
            0 => "DEAL_STAGE".to_owned(),
            n => format!("DEAL_STAGE_{n}"),
        };
        let stage_name = stage_names
            .get(&(list.clone(), stage_id.clone()))
            .cloned()
            .unwrap_or_else(|| panic!("the portal names the stage {list}/{stage_id}"));
        sandbox.shutdown().await;
        return DealWithContact {
            id: d["id"].as_i64().unwrap_or_default(),
            title: title.to_owned(),
            note: note.to_owned(),
            contact_id,
            contact_phone,
            stage_id,
            stage_name,
        };
    }
    panic!(
        "the demo portal has no deal with a unique title, a note and a contact with a phone ({} deals)",
        deals.len()
    );
}
