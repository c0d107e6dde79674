//! End-to-end story: a new user starts Kartoteka for the first time (no portal connected, no
//! `--demo`) and meets the connect screen; what they type is checked by the app, which answers in
//! words, and an unreachable portal shows progress and then says plainly that it did not answer.
//! Drives the real app binary through tauri-driver; run with `./.ci/dev e2e`.

use std::time::Duration;

use kartoteka_tests::e2e::{keys, AppUnderTest, E2eError};
use serde_json::Value;

const START_TIMEOUT: Duration = Duration::from_secs(60);
const STEP_TIMEOUT: Duration = Duration::from_secs(30);
/// The client retries an unreachable host for a while before it gives up.
const UNREACHABLE_TIMEOUT: Duration = Duration::from_secs(90);

const URL_INPUT: &str = r#"[data-testid="connect-url"]"#;
const READ_ANSWER: &str = r#"
const problem = document.querySelector('[data-testid="connect-problem"]');
const progress = document.querySelector('[data-testid="connect-progress"]');
return {
  problem: problem ? problem.textContent.trim() : null,
  progress: progress ? progress.textContent.trim() : null,
};
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the built app, tauri-driver and Xvfb; run by ./.ci/dev e2e"]
async fn a_first_start_shows_the_connect_screen_which_answers_every_input_in_words() {
    let app = AppUnderTest::launch("connect", &[])
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
    // 1. No portal connected and no --demo: the connect screen, not the demo portal.
    let input = app
        .wait_for_element(
            "the connect screen's address field",
            START_TIMEOUT,
            URL_INPUT,
        )
        .await?;

    // 2. Text that is not an address, then Enter: the app says what is wrong.
    session.click(&input).await?;
    session.send_keys(&input, "hello world").await?;
    session.send_keys(&input, keys::ENTER).await?;
    let answer = app
        .wait_for_script(
            "an answer to \"hello world\"",
            STEP_TIMEOUT,
            READ_ANSWER,
            |v| v["problem"].is_string(),
        )
        .await?;
    println!("hello world: {answer}");
    assert!(
        text(&answer["problem"]).contains("https://"),
        "the answer shows what a webhook address looks like: {answer}"
    );
    let shot = app.save_screenshot("connect_not_a_url").await?;
    println!("screenshot: {}", shot.display());

    // 3. A webhook without https://: the app asks for https.
    session.clear(&input).await?;
    session
        .send_keys(&input, "acme.bitrix24.ru/rest/1/abcdef/")
        .await?;
    session.send_keys(&input, keys::ENTER).await?;
    let answer = app
        .wait_for_script(
            "an answer to an address without https",
            STEP_TIMEOUT,
            READ_ANSWER,
            |v| v["problem"].is_string(),
        )
        .await?;
    println!("without https: {answer}");
    assert!(
        text(&answer["problem"]).contains("https://"),
        "the answer asks for https: {answer}"
    );

    // 4. A portal that does not answer (nothing listens on port 9): progress with the host and a
    //    way to stop waiting, then the truth: it did not answer (no promise to try again).
    session.clear(&input).await?;
    session
        .send_keys(&input, "https://127.0.0.1:9/rest/1/abcdef/")
        .await?;
    session.send_keys(&input, keys::ENTER).await?;
    let waiting = app
        .wait_for_script(
            "progress while the portal is asked",
            STEP_TIMEOUT,
            READ_ANSWER,
            |v| v["progress"].is_string(),
        )
        .await?;
    println!("while waiting: {waiting}");
    assert!(
        text(&waiting["progress"]).contains("127.0.0.1:9"),
        "the progress names the portal being asked: {waiting}"
    );
    let shot = app.save_screenshot("connect_waiting").await?;
    println!("screenshot: {}", shot.display());
    let answer = app
        .wait_for_script(
            "the answer for an unreachable portal",
            UNREACHABLE_TIMEOUT,
            READ_ANSWER,
            |v| v["progress"].is_null() && v["problem"].is_string(),
        )
        .await?;
    println!("unreachable: {answer}");
    let said = text(&answer["problem"]);
    assert!(
        said.contains("127.0.0.1:9") && said.contains("не ответил"),
        "the user is told the portal did not answer: {answer}"
    );
    assert!(
        !said.contains("повторим"),
        "no promise of a retry the app does not make: {answer}"
    );
    let shot = app.save_screenshot("connect_unreachable").await?;
    println!("screenshot: {}", shot.display());
    Ok(())
}

fn text(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_owned()
}
