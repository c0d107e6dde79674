//! `POST /_emu/seed`: explicit records.

use crate::engine::Engine;
use serde_json::{json, Value};

pub fn seed(_engine: &mut Engine, _body: &Value) -> (u16, Value) {
    (501, json!({"error": "not yet"}))
}
