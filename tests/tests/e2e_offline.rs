//! End-to-end offline story (issue 8 §5, first bullet) on the demo portal: with "work offline"
//! on, the user edits a deal's amount and a custom field, links a contact, removes the deal's
//! contact and restores the removed link from the History tab, and creates a contact with a
//! phone; the badge and the outbox show the unsent edits. Going online uploads everything: the
//! sandbox has each change exactly once (one new contact, not two), the deal's timeline has the
//! published change log, and the History tab says the edits were made offline and are now on
//! the portal. Drives the real app binary through tauri-driver; run with `./.ci/dev e2e`.
//!
//! The restart between the offline edits and going online is its own story: the demo portal is
//! generated afresh, with its replica, at every start, so that story connects the app to a
//! sandbox started by the test (its webhook kept in a test GNOME Keyring) and restarts the app.

use std::time::Duration;

use kartoteka_tests::e2e::{AppUnderTest, E2eError, Session, TestKeyring};
use serde_json::{json, Value};

const SYNC_TIMEOUT: Duration = Duration::from_secs(180);
const STEP_TIMEOUT: Duration = Duration::from_secs(30);
/// The demo contact whose name is markup (sandbox demo data): never picked here.
const HOSTILE_CONTACT: i64 = 3;
const AMOUNT: &str = "777777.77";
const NOTE: &str = "Заметка, сделанная офлайн";
const PHONE: &str = "+7 900 123-45-67";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the built app, tauri-driver and Xvfb; run by ./.ci/dev e2e"]
async fn offline_edits_of_a_deal_and_a_new_contact_reach_the_portal_exactly_once_when_online() {
    let app = AppUnderTest::launch("offline", &["--demo"])
        .await
        .expect("the app starts under tauri-driver");
    let result = story(&app).await;
    if let Err(e) = result {
        app.save_failure_artifacts().await;
        panic!("{e}");
    }
    app.close().await.expect("the session ends cleanly");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the built app, tauri-driver and Xvfb; run by ./.ci/dev e2e"]
async fn a_field_a_colleague_changed_meanwhile_is_a_conflict_settled_in_the_dialog() {
    let app = AppUnderTest::launch("conflict", &["--demo"])
        .await
        .expect("the app starts under tauri-driver");
    let result = conflict_story(&app).await;
    if let Err(e) = result {
        app.save_failure_artifacts().await;
        panic!("{e}");
    }
    app.close().await.expect("the session ends cleanly");
}

/// Offline, we change a deal's title and amount; a colleague (user 2, through the sandbox's
/// act-as) changes its title and comment on the portal. Online again: the amount is uploaded,
/// the comment stays (merged silently), the title is a conflict with both values, settled in
/// the outbox's dialog with "mine" and then uploaded.
async fn conflict_story(app: &AppUnderTest) -> Result<(), E2eError> {
    const MINE: &str = "Наше название сделки";
    const THEIRS: &str = "Название коллеги";
    const COMMENT: &str = "Комментарий коллеги";
    let session = app.session()?;
    wait_sync_done(app, "the first sync to finish").await?;
    let portal = app
        .wait_for_script(
            "the demo portal's address",
            STEP_TIMEOUT,
            r#"return document.querySelector('[data-testid="portal-badge"]')?.getAttribute("title") ?? null;"#,
            |v| v.as_str().is_some_and(|s| s.starts_with("127.0.0.1:")),
        )
        .await?;
    let emu = Emu::new(portal.as_str().unwrap_or_default());
    let picked = emu.pick().await?;

    click_css(session, r#"[data-testid="work-offline"]"#).await?;
    click_css(session, r#".sidebar [data-testid="nav-deal"]"#).await?;
    open_record_from_list(app, "deal", picked.deal_id, &picked.deal_title).await?;
    click_when(
        app,
        "the card's Edit button",
        r#"[data-testid="card-edit"]"#,
    )
    .await?;
    wait_css(app, "the edit form", r#"[data-testid="edit-title"]"#).await?;
    set_input(session, r#"[data-testid="edit-title"]"#, MINE).await?;
    set_input(session, r#"[data-testid="edit-opportunity"]"#, "123456").await?;
    click_css(session, r#"[data-testid="form-save"]"#).await?;
    wait_css(
        app,
        "the saved deal's pending chip",
        r#"[data-testid="chip-pending"]"#,
    )
    .await?;

    emu.act(
        2,
        "crm.item.update",
        json!({"entityTypeId": 2, "id": picked.deal_id, "fields": {"title": THEIRS, "comments": COMMENT}}),
    )
    .await?;

    click_css(session, r#"[data-testid="work-offline"]"#).await?;
    app.wait_for_script(
        "the badge to show a conflict",
        SYNC_TIMEOUT,
        r#"const b = document.querySelector('[data-testid="outbox-badge"]');
           return b ? b.classList.contains("conflict") : false;"#,
        |v| v == true,
    )
    .await?;
    click_css(session, r#".sidebar [data-testid="nav-outbox"]"#).await?;
    click_when(
        app,
        "Resolve on the deal",
        r#"[data-testid="outbox-resolve"]"#,
    )
    .await?;
    let row = app
        .wait_for_script(
            "the conflict dialog's title row",
            STEP_TIMEOUT,
            r#"const row = document.querySelector('[data-testid="conflict-dialog"] [data-testid="conflict-row"]');
               if (!row) return null;
               const text = (c) => row.querySelector(`[data-testid="conflict-${c}"]`)?.textContent ?? null;
               return { field: row.querySelector("th").textContent, mine: text("mine"), theirs: text("theirs"), original: text("original") };"#,
            |v| v.is_object(),
        )
        .await?;
    println!("conflict: {row}");
    assert_eq!(row["mine"], json!(MINE), "the dialog shows my value");
    assert_eq!(row["theirs"], json!(THEIRS), "and the colleague's");
    assert_eq!(
        row["original"],
        json!(picked.deal_title),
        "and the one both started from"
    );
    let rows = session
        .execute(
            r#"return document.querySelectorAll('[data-testid="conflict-dialog"] [data-testid="conflict-row"]').length;"#,
            vec![],
        )
        .await?;
    assert_eq!(
        rows,
        json!(1),
        "only the title conflicts; the amount went up on its own"
    );
    shot(app, "conflict_dialog").await?;
    click_css(
        session,
        r#"[data-testid="conflict-dialog"] [data-testid="conflict-mine"]"#,
    )
    .await?;
    app.wait_for_script(
        "the outbox to empty after the choice",
        SYNC_TIMEOUT,
        r#"return document.querySelector('[data-testid="conflict-dialog"]') === null
             && document.querySelector('[data-testid="outbox-badge"]') === null;"#,
        |v| v == true,
    )
    .await?;
    shot(app, "conflict_settled").await?;

    let deal = emu
        .act(
            1,
            "crm.item.get",
            json!({"entityTypeId": 2, "id": picked.deal_id}),
        )
        .await?;
    let item = &deal["item"];
    assert_eq!(item["title"], json!(MINE), "my title, chosen in the dialog");
    assert_eq!(
        item["comments"],
        json!(COMMENT),
        "the colleague's comment merged silently"
    );
    let opportunity = item["opportunity"]
        .as_f64()
        .or_else(|| item["opportunity"].as_str().and_then(|s| s.parse().ok()));
    assert_eq!(
        opportunity,
        Some(123456.0),
        "the amount that did not conflict"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the built app, tauri-driver, Xvfb and a D-Bus session; run by ./.ci/dev e2e"]
async fn offline_edits_survive_a_restart_and_are_uploaded_once_when_online() {
    // A portal that outlives the app (the demo portal is made afresh at every start), and a
    // keyring for its webhook.
    let sandbox = kartoteka_sandbox::Sandbox::start(kartoteka_sandbox::SandboxOptions::default())
        .await
        .expect("the sandbox starts");
    let keyring = match TestKeyring::start() {
        Ok(k) => k,
        Err(why) => {
            eprintln!("skipped: no test keyring ({why})");
            return;
        }
    };
    let mut app = AppUnderTest::launch("restart", &[])
        .await
        .expect("the app starts under tauri-driver");
    let mut result = restart_story(&mut app, &sandbox).await;
    if result.is_ok() {
        result = upgrade_failure_story(&mut app).await;
    }
    if let Err(e) = result {
        app.save_failure_artifacts().await;
        panic!("{e}");
    }
    app.close().await.expect("the session ends cleanly");
    drop(keyring);
}

/// Connects to a sandbox portal by its webhook, works offline (an amount, a new contact with a
/// phone), restarts the app, finds the edits and the switch as they were, goes online: each edit
/// reaches the portal once.
async fn restart_story(
    app: &mut AppUnderTest,
    sandbox: &kartoteka_sandbox::Sandbox,
) -> Result<(), E2eError> {
    const RESTART_AMOUNT: &str = "424242.42";
    let last_name = format!("Перезапускова-{}", std::process::id());
    {
        let session = app.session()?;
        wait_css(app, "the connect screen", r#"[data-testid="connect-url"]"#).await?;
        set_input(
            session,
            r#"[data-testid="connect-url"]"#,
            &sandbox.admin_webhook_url(),
        )
        .await?;
        click_css(session, r#"[data-testid="connect-submit"]"#).await?;
    }
    wait_sync_done(app, "the first sync of the connected portal").await?;
    let emu = Emu::new(&sandbox.addr().to_string());
    let picked = emu.pick().await?;
    {
        let session = app.session()?;
        click_css(session, r#"[data-testid="work-offline"]"#).await?;
        click_css(session, r#".sidebar [data-testid="nav-deal"]"#).await?;
    }
    open_record_from_list(app, "deal", picked.deal_id, &picked.deal_title).await?;
    click_when(
        app,
        "the card's Edit button",
        r#"[data-testid="card-edit"]"#,
    )
    .await?;
    wait_css(app, "the edit form", r#"[data-testid="edit-opportunity"]"#).await?;
    {
        let session = app.session()?;
        set_input(
            session,
            r#"[data-testid="edit-opportunity"]"#,
            RESTART_AMOUNT,
        )
        .await?;
        click_css(session, r#"[data-testid="form-save"]"#).await?;
    }
    wait_css(
        app,
        "the saved deal's pending chip",
        r#"[data-testid="chip-pending"]"#,
    )
    .await?;
    click_css(app.session()?, r#".sidebar [data-testid="nav-contact"]"#).await?;
    click_when(
        app,
        "New on the contacts list",
        r#"[data-testid="list-new"]"#,
    )
    .await?;
    wait_css(app, "the create form", r#"[data-testid="edit-lastName"]"#).await?;
    {
        let session = app.session()?;
        set_input(session, r#"[data-testid="edit-name"]"#, "Пётр").await?;
        set_input(session, r#"[data-testid="edit-lastName"]"#, &last_name).await?;
        click_css(session, r#"[data-testid="add-phone"]"#).await?;
        set_input(
            session,
            r#"[data-testid="edit-entry-phone"] [data-testid="edit-entry-value"]"#,
            PHONE,
        )
        .await?;
        click_css(session, r#"[data-testid="form-save"]"#).await?;
    }
    wait_css(
        app,
        "the new contact's card",
        r#"[data-testid="chip-not-uploaded"]"#,
    )
    .await?;

    // Restart: the edits are still there, still unsent, and the app still works offline.
    app.restart().await?;
    let badge = app
        .wait_for_script(
            "the unsent edits after the restart",
            SYNC_TIMEOUT,
            r#"const b = document.querySelector('[data-testid="outbox-badge"]');
               const c = document.querySelector('[data-testid="connection"]');
               return b && c ? { n: b.textContent.replace(/\D/g, ""), offline: c.getAttribute("data-work-offline") } : null;"#,
            |v| v.is_object(),
        )
        .await?;
    println!("after the restart: {badge}");
    assert_eq!(
        badge["offline"],
        json!("on"),
        "the switch outlived the restart"
    );
    assert_eq!(badge["n"], json!("2"), "both edits are still waiting");
    shot(app, "restart_offline_outbox").await?;

    click_css(app.session()?, r#"[data-testid="work-offline"]"#).await?;
    app.wait_for_script(
        "the outbox to empty",
        SYNC_TIMEOUT,
        r#"return document.querySelector('[data-testid="outbox-badge"]') === null
             && document.querySelector('[data-testid="connection"]')?.getAttribute("data-work-offline") === "off";"#,
        |v| v == true,
    )
    .await?;
    wait_sync_done(app, "the sync after the upload").await?;
    shot(app, "restart_online").await?;

    let deal = emu
        .act(
            1,
            "crm.item.get",
            json!({"entityTypeId": 2, "id": picked.deal_id}),
        )
        .await?;
    let opportunity = deal["item"]["opportunity"].as_f64().or_else(|| {
        deal["item"]["opportunity"]
            .as_str()
            .and_then(|s| s.parse().ok())
    });
    assert_eq!(
        opportunity,
        Some(424242.42),
        "the amount made before the restart"
    );
    let created = emu
        .act(
            1,
            "crm.item.list",
            json!({"entityTypeId": 3, "filter": {"lastName": last_name}, "select": ["id"]}),
        )
        .await?;
    assert_eq!(
        created["items"].as_array().map(Vec::len),
        Some(1),
        "the contact made before the restart was created once: {created}"
    );
    Ok(())
}

struct Picked {
    deal_id: i64,
    deal_title: String,
    /// The contact the deal has (removed, then restored from history).
    contact_id: i64,
    /// Another contact, linked offline.
    other_id: i64,
    other_last_name: String,
}

async fn story(app: &AppUnderTest) -> Result<(), E2eError> {
    let session = app.session()?;
    session
        .execute(
            "window.__alerts = 0; window.alert = () => { window.__alerts += 1; }; return true;",
            vec![],
        )
        .await?;
    wait_sync_done(app, "the first sync to finish").await?;
    let portal = app
        .wait_for_script(
            "the demo portal's address",
            STEP_TIMEOUT,
            r#"return document.querySelector('[data-testid="portal-badge"]')?.getAttribute("title") ?? null;"#,
            |v| v.as_str().is_some_and(|s| s.starts_with("127.0.0.1:")),
        )
        .await?;
    let emu = Emu::new(portal.as_str().unwrap_or_default());
    let picked = emu.pick().await?;
    let last_name = format!("Офлайнова-{}", std::process::id());

    // 1. Work offline: no upload, no pull.
    click_css(session, r#"[data-testid="work-offline"]"#).await?;
    app.wait_for_script(
        "the header to say offline by choice",
        STEP_TIMEOUT,
        r#"return document.querySelector('[data-testid="connection"]')?.getAttribute("data-work-offline") ?? null;"#,
        |v| v == "on",
    )
    .await?;

    // 2. The deal: amount, a custom field, a new contact link, in one save.
    click_css(session, r#".sidebar [data-testid="nav-deal"]"#).await?;
    open_record_from_list(app, "deal", picked.deal_id, &picked.deal_title).await?;
    click_when(
        app,
        "the card's Edit button",
        r#"[data-testid="card-edit"]"#,
    )
    .await?;
    wait_css(app, "the edit form", r#"[data-testid="edit-opportunity"]"#).await?;
    set_input(session, r#"[data-testid="edit-opportunity"]"#, AMOUNT).await?;
    set_input(session, r#"[data-testid="edit-UF_CRM_NOTE"]"#, NOTE).await?;
    set_input(
        session,
        r#"[data-testid="picker-contact"]"#,
        &picked.other_last_name,
    )
    .await?;
    app.wait_for_script(
        "the contact found by the picker",
        STEP_TIMEOUT,
        &format!(
            r#"const row = [...document.querySelectorAll('[data-testid="picker-row"]')].find((r) => r.textContent.includes({name}));
               if (!row) return false;
               document.querySelectorAll('[data-e2e-target]').forEach((e) => e.removeAttribute('data-e2e-target'));
               row.setAttribute('data-e2e-target', 'picked');
               return true;"#,
            name = json!(picked.other_last_name)
        ),
        |v| v == true,
    )
    .await?;
    // Found by its text by script; clicked through WebDriver, as a person clicks.
    click_css(app.session()?, r#"[data-e2e-target="picked"]"#).await?;
    wait_css(
        app,
        "the picked contact in the form",
        &format!(r#"[data-testid="edit-linked-contact-{}"]"#, picked.other_id),
    )
    .await?;
    // «Сделать основным»: the new contact becomes the deal's primary contact.
    click_css(
        session,
        &format!(
            r#"[data-testid="edit-make-primary-contact-{}"]"#,
            picked.other_id
        ),
    )
    .await?;
    let first_link = json!(format!("edit-linked-contact-{}", picked.other_id));
    app.wait_for_script(
        "the picked contact first in the list, marked primary",
        STEP_TIMEOUT,
        r#"const first = document.querySelector('[data-testid="edit-link-contactIds"] .link-list li');
           return first && first.querySelector('.tag') ? first.getAttribute("data-testid") : null;"#,
        |v| *v == first_link,
    )
    .await?;
    shot(app, "offline_deal_form").await?;
    click_css(session, r#"[data-testid="form-save"]"#).await?;
    wait_css(
        app,
        "the saved deal's pending chip",
        r#"[data-testid="chip-pending"]"#,
    )
    .await?;

    // 3. Remove the deal's own contact by mistake, then restore the link from the History tab.
    click_when(
        app,
        "the card's Edit button",
        r#"[data-testid="card-edit"]"#,
    )
    .await?;
    click_when(
        app,
        "the remove button of the deal's contact",
        &format!(
            r#"[data-testid="edit-linked-contact-{}"] .icon-button"#,
            picked.contact_id
        ),
    )
    .await?;
    click_css(session, r#"[data-testid="form-save"]"#).await?;
    app.wait_for_script(
        "the form to close after the save",
        STEP_TIMEOUT,
        r#"return !document.querySelector('[data-testid="record-form"]');"#,
        |v| v == true,
    )
    .await?;
    click_css(session, r#"[data-testid="card-tab-history"]"#).await?;
    click_when(
        app,
        "Restore on the removed link",
        r#"[data-testid="history-event"][data-event="link_removed"] [data-testid="history-restore"]"#,
    )
    .await?;
    app.wait_for_script(
        "the restore to be recorded",
        STEP_TIMEOUT,
        r#"return document.querySelectorAll('[data-testid="history-tab"] [data-testid="event-pending"]').length;"#,
        |v| v.as_u64().is_some_and(|n| n >= 4),
    )
    .await?;
    shot(app, "offline_deal_history").await?;

    // 3b. Delete the deal by mistake and take it back before the upload: the same deal comes
    // back with its edits, and nothing of it is sent (step 7 finds it on the portal once).
    click_when(
        app,
        "the deal's Delete button",
        r#"[data-testid="card-delete"]"#,
    )
    .await?;
    click_when(
        app,
        "the delete confirmation",
        r#"[data-testid="confirm-dialog"] [data-testid="confirm-yes"]"#,
    )
    .await?;
    click_when(
        app,
        "Restore on the deleted deal",
        r#"[data-testid="card-restore"]"#,
    )
    .await?;
    wait_css(
        app,
        "the same deal, editable again",
        r#"[data-testid="card-edit"]"#,
    )
    .await?;
    shot(app, "offline_delete_undone").await?;

    // 4. A new contact with a phone.
    click_css(session, r#".sidebar [data-testid="nav-contact"]"#).await?;
    click_when(
        app,
        "New on the contacts list",
        r#"[data-testid="list-new"]"#,
    )
    .await?;
    wait_css(app, "the create form", r#"[data-testid="edit-name"]"#).await?;
    set_input(session, r#"[data-testid="edit-name"]"#, "Анна").await?;
    set_input(session, r#"[data-testid="edit-lastName"]"#, &last_name).await?;
    click_css(session, r#"[data-testid="add-phone"]"#).await?;
    set_input(
        session,
        r#"[data-testid="edit-entry-phone"] [data-testid="edit-entry-value"]"#,
        PHONE,
    )
    .await?;
    click_css(session, r#"[data-testid="form-save"]"#).await?;
    wait_css(
        app,
        "the new contact's card, not uploaded yet",
        r#"[data-testid="chip-not-uploaded"]"#,
    )
    .await?;
    shot(app, "offline_new_contact").await?;

    // 5. The badge and the outbox.
    let badge = app
        .wait_for_script(
            "the unsent-edits badge",
            STEP_TIMEOUT,
            r#"return document.querySelector('[data-testid="outbox-badge"]')?.textContent.replace(/\D/g, "") ?? null;"#,
            |v| v.as_str().and_then(|s| s.parse::<u32>().ok()).is_some_and(|n| n >= 4),
        )
        .await?;
    println!("unsent edits: {badge}");
    click_css(session, r#".sidebar [data-testid="nav-outbox"]"#).await?;
    wait_css(
        app,
        "the outbox's entries",
        r#"[data-testid="outbox-entry"]"#,
    )
    .await?;
    shot(app, "offline_outbox").await?;

    // 6. Online again: everything is uploaded without being asked.
    click_css(session, r#"[data-testid="work-offline"]"#).await?;
    app.wait_for_script(
        "the outbox to empty",
        SYNC_TIMEOUT,
        r#"return document.querySelector('[data-testid="outbox-badge"]') === null
             && document.querySelector('[data-testid="connection"]')?.getAttribute("data-work-offline") === "off";"#,
        |v| v == true,
    )
    .await?;
    wait_sync_done(app, "the sync after the upload").await?;
    shot(app, "online_outbox_empty").await?;

    // 7. The portal has each change exactly once.
    let deal = emu
        .act(
            1,
            "crm.item.get",
            json!({"entityTypeId": 2, "id": picked.deal_id}),
        )
        .await?;
    let item = &deal["item"];
    println!(
        "the deal on the portal: opportunity {}, contactIds {}, ufCrmNote {}",
        item["opportunity"], item["contactIds"], item["ufCrmNote"]
    );
    let opportunity = item["opportunity"]
        .as_f64()
        .or_else(|| item["opportunity"].as_str().and_then(|s| s.parse().ok()));
    assert_eq!(
        opportunity,
        Some(777777.77),
        "the amount reached the portal"
    );
    assert!(
        item.to_string().contains(NOTE),
        "the custom field reached the portal"
    );
    let contacts: Vec<i64> = item["contactIds"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_i64).collect())
        .unwrap_or_default();
    assert!(
        contacts.contains(&picked.other_id),
        "the linked contact is on the portal: {contacts:?}"
    );
    assert!(
        contacts.contains(&picked.contact_id),
        "the restored link is on the portal: {contacts:?}"
    );
    assert_eq!(
        item["contactId"].as_i64(),
        Some(picked.other_id),
        "the contact made primary offline is the deal's primary contact on the portal: {item}"
    );
    let created = emu
        .act(
            1,
            "crm.item.list",
            json!({"entityTypeId": 3, "filter": {"lastName": last_name}, "select": ["id", "lastName", "fm"]}),
        )
        .await?;
    let created = created["items"].as_array().cloned().unwrap_or_default();
    assert_eq!(
        created.len(),
        1,
        "the contact was created once: {created:?}"
    );
    let digits = |s: &str| s.chars().filter(char::is_ascii_digit).collect::<String>();
    let new_id = created[0]["id"].as_i64().unwrap_or_default();
    let contact = emu
        .act(1, "crm.item.get", json!({"entityTypeId": 3, "id": new_id}))
        .await?;
    assert!(
        digits(&contact.to_string()).contains(&digits(PHONE)),
        "the new contact's phone is on the portal: {contact}"
    );
    let logs = emu
        .act(
            1,
            "crm.timeline.logmessage.list",
            json!({"entityTypeId": 2, "entityId": picked.deal_id}),
        )
        .await?;
    println!("the deal's timeline log: {logs}");
    assert!(
        logs.to_string().contains("777"),
        "the change log is on the deal's timeline: {logs}"
    );

    // 8. The History tab: made offline, now on the portal.
    click_css(session, r#".sidebar [data-testid="nav-deal"]"#).await?;
    open_record_from_list(app, "deal", picked.deal_id, &picked.deal_title).await?;
    click_when(
        app,
        "the History tab",
        r#"[data-testid="card-tab-history"]"#,
    )
    .await?;
    let meta = app
        .wait_for_script(
            "the offline edit, uploaded, in the History tab",
            SYNC_TIMEOUT,
            // The save with the amount (the deletion undone in step 3b is a later, local one).
            r#"const saves = [...document.querySelectorAll('[data-testid="history-save"]')];
               const save = saves.find((s) => s.textContent.includes("Это устройство (офлайн)")
                 && s.textContent.replace(/\D/g, "").includes("77777777"));
               return save ? save.querySelector(".save-meta").textContent : null;"#,
            |v| v.as_str().is_some_and(|s| s.contains("На портале")),
        )
        .await?;
    println!("history: {meta}");
    let alerts = session.execute("return window.__alerts;", vec![]).await?;
    assert_eq!(alerts, json!(0), "no script ran");
    shot(app, "online_deal_history").await?;
    Ok(())
}

struct Emu {
    base: String,
    http: reqwest::Client,
}

impl Emu {
    fn new(host: &str) -> Self {
        Emu {
            base: format!("http://{host}"),
            http: reqwest::Client::new(),
        }
    }

    async fn act(&self, user: i64, method: &str, params: Value) -> Result<Value, E2eError> {
        let body: Value = self
            .http
            .post(format!("{}/_emu/act", self.base))
            .json(&json!({"userId": user, "method": method, "params": params}))
            .send()
            .await
            .map_err(|e| E2eError::WebDriver(format!("/_emu/act {method}: {e}")))?
            .json()
            .await
            .map_err(|e| E2eError::WebDriver(format!("/_emu/act {method}: {e}")))?;
        if body.get("error").is_some() {
            return Err(E2eError::WebDriver(format!(
                "/_emu/act {method} failed: {body}"
            )));
        }
        Ok(body["result"].clone())
    }

    /// A deal with exactly one contact and a unique title, and another contact with a unique
    /// last name to link to it.
    async fn pick(&self) -> Result<Picked, E2eError> {
        let deals = self
            .act(
                1,
                "crm.item.list",
                json!({"entityTypeId": 2, "select": ["id", "title", "contactIds"], "order": {"id": "ASC"}}),
            )
            .await?;
        let deals = deals["items"].as_array().cloned().unwrap_or_default();
        let title_of = |d: &Value| d["title"].as_str().unwrap_or_default().to_owned();
        let deal = deals
            .iter()
            .find(|d| {
                let ids = d["contactIds"].as_array().cloned().unwrap_or_default();
                let title = title_of(d);
                ids.len() == 1
                    && ids[0].as_i64() != Some(HOSTILE_CONTACT)
                    && !title.is_empty()
                    && deals.iter().filter(|o| title_of(o) == title).count() == 1
            })
            .ok_or_else(|| E2eError::Setup("no demo deal with one contact".into()))?;
        let contact_id = deal["contactIds"][0].as_i64().unwrap_or_default();
        let contacts = self
            .act(
                1,
                "crm.item.list",
                json!({"entityTypeId": 3, "select": ["id", "lastName"], "order": {"id": "ASC"}}),
            )
            .await?;
        let contacts = contacts["items"].as_array().cloned().unwrap_or_default();
        let last = |c: &Value| c["lastName"].as_str().unwrap_or_default().to_owned();
        let other = contacts
            .iter()
            .find(|c| {
                let id = c["id"].as_i64().unwrap_or_default();
                let name = last(c);
                id != contact_id
                    && id != HOSTILE_CONTACT
                    && name.chars().count() > 3
                    && name.chars().all(char::is_alphabetic)
                    && contacts.iter().filter(|o| last(o) == name).count() == 1
            })
            .ok_or_else(|| E2eError::Setup("no demo contact with a unique last name".into()))?;
        Ok(Picked {
            deal_id: deal["id"].as_i64().unwrap_or_default(),
            deal_title: title_of(deal),
            contact_id,
            other_id: other["id"].as_i64().unwrap_or_default(),
            other_last_name: last(other),
        })
    }
}

async fn wait_sync_done(app: &AppUnderTest, what: &str) -> Result<(), E2eError> {
    app.wait_for_script(
        what,
        SYNC_TIMEOUT,
        r#"const s = document.querySelector('[data-testid="sync-state"]');
           return s ? s.getAttribute("data-sync") : null;"#,
        |v| v == "done",
    )
    .await
    .map(|_| ())
}

async fn wait_css(app: &AppUnderTest, what: &str, css: &str) -> Result<(), E2eError> {
    app.wait_for_script(
        what,
        STEP_TIMEOUT,
        &format!("return !!document.querySelector({});", json!(css)),
        |v| v == true,
    )
    .await
    .map(|_| ())
}

/// Waits for an element and clicks it.
async fn click_when(app: &AppUnderTest, what: &str, css: &str) -> Result<(), E2eError> {
    app.wait_for_script(
        what,
        STEP_TIMEOUT,
        &format!(
            "const el = document.querySelector({});\n\
             return !!el && !el.disabled;",
            json!(css)
        ),
        |v| v == true,
    )
    .await?;
    app.click(what, STEP_TIMEOUT, css).await
}

async fn shot(app: &AppUnderTest, name: &str) -> Result<(), E2eError> {
    let path = app.save_screenshot(name).await?;
    println!("screenshot: {}", path.display());
    Ok(())
}

async fn click_css(session: &Session, css: &str) -> Result<(), E2eError> {
    // A WebDriver click, as a person clicks: it fails on a hidden or covered element.
    let element = session
        .find(css)
        .await?
        .ok_or_else(|| E2eError::WebDriver(format!("nothing to click at {css}")))?;
    session.click(&element).await
}

/// Types into a React-controlled input (the native setter, then an input event).
async fn set_input(session: &Session, css: &str, text: &str) -> Result<(), E2eError> {
    let set = session
        .execute(
            r#"const input = document.querySelector(arguments[0]);
               if (!input) return false;
               const proto = input instanceof HTMLTextAreaElement ? HTMLTextAreaElement.prototype : HTMLInputElement.prototype;
               const set = Object.getOwnPropertyDescriptor(proto, "value").set;
               set.call(input, arguments[1]);
               input.dispatchEvent(new Event("input", { bubbles: true }));
               return true;"#,
            vec![json!(css), json!(text)],
        )
        .await?;
    if set == Value::Bool(true) {
        Ok(())
    } else {
        Err(E2eError::WebDriver(format!("no input at {css}")))
    }
}

async fn open_record_from_list(
    app: &AppUnderTest,
    entity_type: &str,
    id: i64,
    title: &str,
) -> Result<(), E2eError> {
    app.wait_for_script(
        "the record list",
        STEP_TIMEOUT,
        r#"return !!document.querySelector('.records input[type="search"]');"#,
        |v| v == true,
    )
    .await?;
    let open_row = format!(
        r#"const title = {title};
           const card = document.querySelector('[data-testid="record-card"][data-entity-type="{entity_type}"]');
           if (card && card.getAttribute("data-record-id") === "{id}") return "open";
           const input = document.querySelector('.records input[type="search"]');
           if (input && input.value !== title) {{
             const set = Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, "value").set;
             set.call(input, title);
             input.dispatchEvent(new Event("input", {{ bubbles: true }}));
             return "typed";
           }}
           const rows = [...document.querySelectorAll('[data-testid="vtable-body"] [role="row"]')];
           const row = rows.find((r) => r.querySelector('[role="gridcell"]')?.textContent.trim() === title);
           if (!row) return "no row";
           row.dispatchEvent(new MouseEvent("click", {{ bubbles: true }}));
           row.dispatchEvent(new MouseEvent("dblclick", {{ bubbles: true }}));
           return "clicked";"#,
        title = json!(title),
    );
    app.wait_for_script("the record's card, opened", STEP_TIMEOUT, &open_row, |v| {
        v == "open"
    })
    .await
    .map(|_| ())
}

/// The files under `dir` whose name ends with `suffix`, at any depth.
fn find_files(dir: &std::path::Path, suffix: &str) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(find_files(&path, suffix));
        } else if path.to_string_lossy().ends_with(suffix) {
            out.push(path);
        }
    }
    out
}

/// After the restart story, with the same portal and keyring (a second test keyring in one D-Bus
/// session does not serve): a replica whose upgrade fails (here: the connected portal's replica
/// marked as schema 4, so step 5 meets the index it already made) is explained in the window with
/// the step, SQLite's words and the copy kept beside it, and nothing of the upgrade stays.
async fn upgrade_failure_story(app: &mut AppUnderTest) -> Result<(), E2eError> {
    app.quit().await?;
    let replicas = find_files(app.home(), ".kartoteka.db");
    let [replica] = replicas.as_slice() else {
        return Err(E2eError::Setup(format!(
            "one replica under the app's home: {replicas:?}"
        )));
    };
    {
        let conn = rusqlite::Connection::open(replica).expect("open the replica");
        conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE); PRAGMA user_version = 4;")
            .expect("mark it as schema 4");
    }
    let before = schema_of(replica);

    app.start_again().await?;
    // The overview's counts come from the portal when online; a list reads the replica.
    click_when(
        app,
        "the deals entry of the sidebar",
        r#".sidebar [data-testid="nav-deal"]"#,
    )
    .await?;
    let shown = app
        .wait_for_script(
            "the window to explain the failed upgrade",
            STEP_TIMEOUT,
            "return document.body.innerText",
            |text| {
                let versions = format!("4 → {}", kartoteka_store::migrations::SUPPORTED_VERSION);
                text.as_str().is_some_and(|t| t.contains(&versions))
            },
        )
        .await?;
    let text = shown.as_str().unwrap_or_default();
    let mut copy = replica.clone().into_os_string();
    copy.push(".v4.bak");
    let copy = std::path::PathBuf::from(copy);
    assert!(
        text.contains("records_by_amount") && text.contains(&copy.display().to_string()),
        "the step's reason and the copy's path are shown: {text}"
    );
    assert!(copy.exists(), "the copy is where the window says");
    let shot = app.save_screenshot("upgrade_failed").await?;
    println!("screenshot: {}", shot.display());
    app.quit().await?;
    // By content, not bytes: the first run's app may still be closing its connection when the
    // version is set, so that write can reach the main file later, from the WAL.
    assert_eq!(schema_of(replica), before, "nothing of the upgrade stayed");
    Ok(())
}

/// A replica's version, schema and record count, read with plain SQL.
fn schema_of(replica: &std::path::Path) -> (i64, Vec<String>, i64) {
    let conn = rusqlite::Connection::open(replica).expect("open the replica");
    let version = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .expect("version");
    let mut stmt = conn
        .prepare("SELECT coalesce(sql, name) FROM sqlite_master ORDER BY name")
        .expect("schema");
    let schema = stmt
        .query_map([], |r| r.get(0))
        .expect("schema")
        .collect::<Result<_, _>>()
        .expect("schema rows");
    let records = conn
        .query_row("SELECT COUNT(*) FROM records", [], |r| r.get(0))
        .expect("records");
    (version, schema, records)
}
