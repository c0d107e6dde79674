//! SQLite persistence of the portal.

use crate::state::Portal;

#[derive(Debug)]
pub struct Persist {}

impl Persist {
    pub fn open(
        _path: &std::path::Path,
        _engine: &mut crate::engine::Engine,
    ) -> Result<bool, crate::SandboxError> {
        Ok(false)
    }
    pub fn record(&self, _portal: &Portal, _touched: &[(i64, i64)], _dirty: bool) {}
    pub fn flush(&self) {}
}
