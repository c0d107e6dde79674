//! End-to-end story of the history (issue 6): on the demo portal a manager (user 2, acting
//! through the sandbox's `/_emu/act`) removes a contact from a deal; after a sync the deal's
//! History tab shows the removed link with the contact's name; the supervisor (the demo webhook's
//! user 1, an administrator) finds the entry on the global History page with the "today" preset
//! and exports it to .xlsx, which the test reads back with a real reader (calamine). A hostile
//! value (`<img src=x onerror=alert(1)>`, a demo contact's name) shows as those characters on both
//! pages. Drives the real app binary through tauri-driver; run with `./.ci/dev e2e`.

use std::time::Duration;

use calamine::{open_workbook_auto, Data, Reader};
use kartoteka_tests::e2e::{AppUnderTest, E2eError, Session};
use serde_json::{json, Value};

const SYNC_TIMEOUT: Duration = Duration::from_secs(180);
const STEP_TIMEOUT: Duration = Duration::from_secs(30);
/// The demo contact whose name is markup (sandbox demo data, contact #3).
const HOSTILE: &str = "<img src=x onerror=alert(1)>";
const HOSTILE_CONTACT: i64 = 3;
/// The event's label the page and the export show (Russian, the default language).
const LINK_REMOVED: &str = "Удалена связь";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the built app, tauri-driver and Xvfb; run by ./.ci/dev e2e"]
async fn a_removed_contact_shows_in_the_deals_history_and_in_the_supervisors_xlsx_export() {
    let app = AppUnderTest::launch("history", &["--demo"])
        .await
        .expect("the app starts under tauri-driver");
    let result = story(&app).await;
    if let Err(e) = result {
        app.save_failure_artifacts().await;
        panic!("{e}");
    }
    app.close().await.expect("the session ends cleanly");
}

/// A deal with a linked contact, as the portal has it before the manager's edit.
#[derive(Debug)]
struct DealLink {
    deal_id: i64,
    deal_title: String,
    contact_id: i64,
}

async fn story(app: &AppUnderTest) -> Result<(), E2eError> {
    let session = app.session()?;
    // Any alert() the page ran would be markup executed: count them instead of blocking.
    session
        .execute(
            "window.__alerts = 0; window.alert = () => { window.__alerts += 1; }; return true;",
            vec![],
        )
        .await?;

    // 1. The first sync of the demo portal finishes.
    wait_sync_done(app, "the first sync to finish").await?;
    let portal = app
        .wait_for_script(
            "the demo portal's address in the header",
            STEP_TIMEOUT,
            // The header names the demo portal in words; its loopback address is the badge's
            // tooltip.
            r#"const el = document.querySelector('[data-testid="portal-badge"]');
               return el ? el.getAttribute("title") : null;"#,
            |v| v.as_str().is_some_and(|s| s.starts_with("127.0.0.1:")),
        )
        .await?;
    let portal = portal.as_str().unwrap_or_default().to_owned();
    let emu = Emu::new(&portal);

    // 2. A deal with a contact the manager may edit.
    let link = emu.deal_with_contact().await?;
    println!("the story uses: {link:?}");

    // 3. Open the deal's card (Deals, search its title) and read the contact's name there.
    click_css(session, r#".sidebar [data-testid="nav-deal"]"#).await?;
    open_record_from_list(app, "deal", link.deal_id, &link.deal_title).await?;
    let contact_title = app
        .wait_for_script(
            "the deal card's link to its contact",
            STEP_TIMEOUT,
            &format!(
                r#"const l = document.querySelector('[data-testid="record-card"] [data-testid="link-contact-{}"] .link-button');
                   return l ? l.textContent.trim() : null;"#,
                link.contact_id
            ),
            |v| v.as_str().is_some_and(|s| !s.is_empty()),
        )
        .await?;
    let contact_title = contact_title.as_str().unwrap_or_default().to_owned();

    // 4. The manager (user 2) removes the contact on the portal; the app syncs.
    emu.act(
        2,
        "crm.deal.contact.delete",
        json!({"id": link.deal_id, "fields": {"CONTACT_ID": link.contact_id}}),
    )
    .await?;
    click_css(session, r#".header button[aria-label="Синхронизировать"]"#).await?;

    // 5. The deal's History tab shows the removed link with the contact's name.
    click_css(session, r#"[data-testid="card-tab-history"]"#).await?;
    let removed = app
        .wait_for_script(
            "the removed link in the deal's History tab",
            SYNC_TIMEOUT,
            r#"const tab = document.querySelector('[data-testid="history-tab"]');
               if (!tab) return null;
               const line = [...tab.querySelectorAll('[data-testid="history-event"][data-event="link_removed"]')][0];
               if (!line) return null;
               const save = line.closest('[data-testid="history-save"]');
               return {
                 label: line.querySelector(".event-label").textContent.trim(),
                 old: line.querySelector('[data-testid="old-value"]')?.textContent.trim() ?? null,
                 author: save?.querySelector('[data-testid="save-author"]')?.textContent.trim() ?? null,
               };"#,
            |v| v.is_object(),
        )
        .await?;
    println!("History tab: {removed}");
    assert_eq!(
        removed["old"],
        json!(contact_title),
        "the removed link names the contact as it was titled"
    );
    assert!(
        removed["label"]
            .as_str()
            .is_some_and(|l| l.contains(LINK_REMOVED)),
        "the entry says a link was removed: {removed}"
    );
    let manager = removed["author"].as_str().unwrap_or_default().to_owned();
    assert!(
        !manager.is_empty() && !manager.starts_with('#'),
        "the change is attributed to the manager by name: {removed}"
    );
    shot(app, "history_card_link_removed").await?;

    // 6. The supervisor's global History page, "today" preset: the entry is there.
    click_css(session, r#".sidebar [data-testid="nav-history"]"#).await?;
    click_css(session, r#"[data-testid="preset-today"]"#).await?;
    let row = app
        .wait_for_script(
            "the removed link on the global History page with the today preset",
            STEP_TIMEOUT,
            &find_row_script(LINK_REMOVED, &link.deal_title),
            |v| v.is_object(),
        )
        .await?;
    println!("History page row: {row}");
    assert_eq!(row["old"], json!(contact_title));
    assert_eq!(row["author"], json!(manager));
    let total = app
        .wait_for_script(
            "the exact total in words",
            STEP_TIMEOUT,
            r#"return document.querySelector('[data-testid="history-total"]')?.textContent.trim() ?? null;"#,
            |v| v.as_str().is_some_and(|s| s.contains("запис")),
        )
        .await?;
    println!("total: {total}");
    shot(app, "history_page_today").await?;

    // 7. Export what the filter shows to .xlsx and read it back.
    click_css(session, r#"[data-testid="export-xlsx"]"#).await?;
    let done = app
        .wait_for_script(
            "the export to finish",
            STEP_TIMEOUT,
            r#"const r = document.querySelector('[data-testid="export-result"]');
               return r ? { path: r.getAttribute("data-path"), rows: r.getAttribute("data-rows"),
                            cancelled: r.getAttribute("data-cancelled"), text: r.textContent } : null;"#,
            |v| v.is_object(),
        )
        .await?;
    println!("export: {done}");
    assert_eq!(done["cancelled"], json!("false"));
    let path = done["path"].as_str().unwrap_or_default().to_owned();
    assert!(path.ends_with(".xlsx"), "an .xlsx file: {path}");
    let sheet = read_xlsx(&path)?;
    let header = sheet.first().cloned().unwrap_or_default();
    let col = |name: &str| {
        header
            .iter()
            .position(|h| h.starts_with(name))
            .unwrap_or_else(|| panic!("no column {name:?} in {header:?}"))
    };
    let (title, event, old, author) = (
        col("Название"),
        col("Тип события"),
        col("Старое значение"),
        col("Автор"),
    );
    let found = sheet.iter().skip(1).find(|r| {
        r.get(event).map(String::as_str) == Some(LINK_REMOVED)
            && r.get(title) == Some(&link.deal_title)
    });
    let found = found.unwrap_or_else(|| panic!("the removed link is not in the export: {sheet:?}"));
    assert_eq!(
        found.get(old),
        Some(&contact_title),
        "the old value names the contact"
    );
    assert_eq!(found.get(author), Some(&manager));
    assert_eq!(
        done["rows"].as_str().and_then(|r| r.parse::<usize>().ok()),
        Some(sheet.len() - 1),
        "the file holds exactly the rows the filter shows"
    );
    shot(app, "history_export_done").await?;

    // 8. Markup in a value is text on the global page …
    click_css(session, r#".history-filters .link-button.muted"#).await?;
    // The reset clicked through WebDriver may re-render after the text is typed: the text is
    // typed again (React's own setter) until it holds, then the row is looked for.
    let hostile_row = app
        .wait_for_script(
            "the hostile contact's row, found by text",
            STEP_TIMEOUT,
            &format!(
                r#"const input = document.querySelector('[data-testid="history-text"]');
                   if (input && input.value !== "onerror") {{
                     Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, "value").set.call(input, "onerror");
                     input.dispatchEvent(new Event("input", {{ bubbles: true }}));
                     return null;
                   }}
                   const rows = [...document.querySelectorAll('[data-testid="history-table"] [role="row"][aria-rowindex]')];
                   const row = rows.find((r) => r.querySelector('[data-col="title"]')?.textContent.includes({hostile}));
                   if (!row) return null;
                   return {{ title: row.querySelector('[data-col="title"]').textContent,
                            images: document.querySelectorAll('[data-testid="history-page"] img').length }};"#,
                hostile = json!(HOSTILE)
            ),
            |v| v.is_object(),
        )
        .await?;
    println!("hostile row: {hostile_row}");
    assert_eq!(
        hostile_row["images"],
        json!(0),
        "no markup became an element"
    );
    shot(app, "history_page_markup_as_text").await?;

    // … and on the contact's card History tab (the title opens the card).
    let opened = session
        .execute(
            r#"const rows = [...document.querySelectorAll('[data-testid="history-table"] [role="row"][aria-rowindex]')];
               const button = rows.map((r) => r.querySelector('button[data-col="title"]'))
                 .find((b) => b && b.textContent.includes(arguments[0]));
               if (!button) return false;
               document.querySelectorAll('[data-e2e-target]').forEach((e) => e.removeAttribute('data-e2e-target'));
               button.setAttribute('data-e2e-target', 'title');
               return true;"#,
            vec![json!(HOSTILE)],
        )
        .await?;
    assert_eq!(
        opened,
        json!(true),
        "the hostile contact's row is in the list"
    );
    // Found by its text by script; clicked through WebDriver, as a person clicks.
    click_css(session, r#"[data-e2e-target="title"]"#).await?;
    // The card's tabs show once the card has loaded: click History then.
    app.wait_for_script(
        "the hostile contact's card, on its History tab",
        STEP_TIMEOUT,
        &format!(
            r#"const card = document.querySelector('[data-testid="record-card"][data-entity-type="contact"][data-record-id="{HOSTILE_CONTACT}"]');
               return !!card?.querySelector('[data-testid="card-tab-history"]');"#
        ),
        |v| v == true,
    )
    .await?;
    click_css(
        session,
        &format!(
            r#"[data-testid="record-card"][data-entity-type="contact"][data-record-id="{HOSTILE_CONTACT}"] [data-testid="card-tab-history"]"#
        ),
    )
    .await?;
    let card = app
        .wait_for_script(
            "the created entry with the contact's name in its History tab",
            STEP_TIMEOUT,
            r#"const tab = document.querySelector('[data-testid="history-tab"]');
               if (!tab) return null;
               const values = [...tab.querySelectorAll('[data-testid="new-value"]')].map((n) => n.textContent);
               return { values, images: document.querySelectorAll('[data-testid="record-card"] img').length,
                        alerts: window.__alerts };"#,
            |v| {
                v["values"]
                    .as_array()
                    .is_some_and(|a| a.iter().any(|x| x.as_str().is_some_and(|s| s.contains(HOSTILE))))
            },
        )
        .await?;
    println!("hostile card: {card}");
    assert_eq!(card["images"], json!(0), "no markup became an element");
    assert_eq!(card["alerts"], json!(0), "no script ran");
    shot(app, "history_card_markup_as_text").await?;
    Ok(())
}

/// The sandbox's control API of the app's demo portal.
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

    /// Calls a REST method as a portal user; returns the `result`.
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

    /// The first deal (by id) with a unique title and a contact other than the hostile one.
    async fn deal_with_contact(&self) -> Result<DealLink, E2eError> {
        let page = self
            .act(
                1,
                "crm.item.list",
                json!({"entityTypeId": 2, "select": ["id", "title", "contactId"], "order": {"id": "ASC"}}),
            )
            .await?;
        let items = page["items"].as_array().cloned().unwrap_or_default();
        let title_of = |d: &Value| d["title"].as_str().unwrap_or_default().to_owned();
        for d in &items {
            let title = title_of(d);
            let contact_id = d["contactId"].as_i64().unwrap_or(0);
            let unique = items.iter().filter(|o| title_of(o) == title).count() == 1;
            if contact_id > 0 && contact_id != HOSTILE_CONTACT && unique && !title.is_empty() {
                return Ok(DealLink {
                    deal_id: d["id"].as_i64().unwrap_or_default(),
                    deal_title: title,
                    contact_id,
                });
            }
        }
        Err(E2eError::Setup(format!(
            "no demo deal with a contact among {} deals",
            items.len()
        )))
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

async fn shot(app: &AppUnderTest, name: &str) -> Result<(), E2eError> {
    let path = app.save_screenshot(name).await?;
    println!("screenshot: {}", path.display());
    Ok(())
}

/// Clicks the first element matching `css`, as a person's click does (a DOM click event).
async fn click_css(session: &Session, css: &str) -> Result<(), E2eError> {
    // A WebDriver click, as a person clicks: it fails on a hidden or covered element.
    let element = session
        .find(css)
        .await?
        .ok_or_else(|| E2eError::WebDriver(format!("nothing to click at {css}")))?;
    session.click(&element).await
}

/// Searches a record list for `title` and opens the record's card.
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
           // Typed again when the list cleared its search (it does when it first shows a type).
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

/// A script returning the first History page row with this event label and record title as
/// `{title, event, old, author}`, or `null`.
fn find_row_script(event: &str, title: &str) -> String {
    format!(
        r#"const rows = [...document.querySelectorAll('[data-testid="history-table"] [role="row"][aria-rowindex]')];
           const text = (r, c) => r.querySelector(`[data-col="${{c}}"]`)?.textContent.trim() ?? null;
           const row = rows.find((r) => text(r, "event") === {event} && text(r, "title") === {title});
           if (!row) return null;
           return {{ title: text(row, "title"), event: text(row, "event"), old: text(row, "old"), author: text(row, "author") }};"#,
        event = json!(event),
        title = json!(title),
    )
}

/// The first sheet of an .xlsx file as rows of text.
fn read_xlsx(path: &str) -> Result<Vec<Vec<String>>, E2eError> {
    let mut book = open_workbook_auto(path)
        .map_err(|e| E2eError::Setup(format!("{path} does not open as a workbook: {e}")))?;
    let name = book
        .sheet_names()
        .first()
        .cloned()
        .ok_or_else(|| E2eError::Setup(format!("{path} has no sheet")))?;
    let range = book
        .worksheet_range(&name)
        .map_err(|e| E2eError::Setup(format!("{path}: sheet {name}: {e}")))?;
    Ok(range
        .rows()
        .map(|r| {
            r.iter()
                .map(|c| match c {
                    Data::Empty => String::new(),
                    other => other.to_string(),
                })
                .collect()
        })
        .collect())
}
