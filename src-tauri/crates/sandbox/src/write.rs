//! `crm.item.add`, `crm.item.update`, `crm.item.delete`.

use crate::api::{ApiError, Call, MethodResult};
use serde_json::Value;

pub fn add(_call: &mut Call<'_>, _p: &Value) -> MethodResult {
    Err(ApiError::bad("NOT_IMPLEMENTED", "not yet"))
}
pub fn update(_call: &mut Call<'_>, _p: &Value) -> MethodResult {
    Err(ApiError::bad("NOT_IMPLEMENTED", "not yet"))
}
pub fn delete(_call: &mut Call<'_>, _p: &Value) -> MethodResult {
    Err(ApiError::bad("NOT_IMPLEMENTED", "not yet"))
}
