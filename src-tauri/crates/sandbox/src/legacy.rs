//! Legacy `crm.{lead,deal,contact,company}.*` methods with UPPER_CASE shapes.

use crate::api::{Call, MethodResult};
use serde_json::Value;

pub fn dispatch(_call: &mut Call<'_>, _m: &str, _p: &Value) -> Option<MethodResult> {
    None
}
