//! `crm.timeline.logmessage.*` and `crm.timeline.comment.*`.

use crate::api::{ApiError, Call, MethodResult};
use serde_json::Value;

pub fn dispatch(_call: &mut Call<'_>, _m: &str, _p: &Value) -> MethodResult {
    Err(ApiError::bad("NOT_IMPLEMENTED", "not yet"))
}
