//! Contract rules the reviewer checked: determinism with `zeroTimings`, boolean UF filters,
//! legacy multi-fields, `/_emu/act` buckets, `/_emu/credentials` URLs, the operating limit.

mod common;

use common::Portal;
use kartoteka_sandbox::LimitsPreset;
use serde_json::{json, Value};

/// POSTs to a REST method and returns the raw body bytes.
async fn raw(p: &Portal, method: &str, params: Value) -> String {
    p.http
        .post(format!("{}{method}.json", p.hook))
        .json(&params)
        .send()
        .await
        .expect("request")
        .text()
        .await
        .expect("body")
}

#[tokio::test]
async fn zero_timings_make_frozen_runs_byte_identical_including_operating() {
    let mut bodies = Vec::new();
    for _ in 0..2 {
        let p = Portal::start(None, LimitsPreset::Standard).await;
        p.emu_post("config", json!({"zeroTimings": true})).await;
        let mut run = Vec::new();
        for _ in 0..3 {
            run.push(
                raw(
                    &p,
                    "crm.item.list",
                    json!({"entityTypeId": 2, "order": {"id": "ASC"}, "select": ["*"]}),
                )
                .await,
            );
            run.push(raw(&p, "crm.item.get", json!({"entityTypeId": 3, "id": 5})).await);
            run.push(
                raw(
                    &p,
                    "batch",
                    json!({"halt": 0, "cmd": {
                    "a": "crm.item.list?entityTypeId=1&order[id]=ASC",
                    "b": "crm.item.list?entityTypeId=4&order[id]=ASC"}}),
                )
                .await,
            );
        }
        assert!(
            run[0].contains("\"operating\""),
            "the operating limit is on, so time.operating is present: {}",
            &run[0][run[0].len().saturating_sub(300)..]
        );
        bodies.push(run);
        p.sb.shutdown().await;
    }
    for (i, (a, b)) in bodies[0].iter().zip(&bodies[1]).enumerate() {
        assert_eq!(a, b, "response {i} differs between two runs");
    }
}
