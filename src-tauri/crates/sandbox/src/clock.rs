//! The virtual clock and the portal's datetime rendering.

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, Offset, TimeZone, Utc};
use std::time::Instant;

/// The dataset epoch of a frozen clock: 2026-03-02T09:00:00+03:00.
pub const FROZEN_EPOCH_MS: i64 = 1_772_431_200_000;

/// Virtual clock: frozen at a value, or running from a base at real-time speed.
#[derive(Debug, Clone)]
pub struct Clock {
    running: bool,
    base_ms: i64,
    base_instant: Instant,
}

impl Clock {
    pub fn new(start_ms: i64, running: bool) -> Self {
        Clock {
            running,
            base_ms: start_ms,
            base_instant: Instant::now(),
        }
    }

    pub fn now_ms(&self) -> i64 {
        if self.running {
            self.base_ms + self.base_instant.elapsed().as_millis() as i64
        } else {
            self.base_ms
        }
    }

    pub fn now(&self) -> i64 {
        self.now_ms().div_euclid(1000)
    }

    pub fn is_running(&self) -> bool {
        self.running
    }

    pub fn set_ms(&mut self, ms: i64) {
        self.base_ms = ms;
        self.base_instant = Instant::now();
    }

    pub fn advance_ms(&mut self, ms: i64) {
        let now = self.now_ms();
        self.set_ms(now + ms);
    }

    pub fn set_running(&mut self, running: bool) {
        let now = self.now_ms();
        self.running = running;
        self.set_ms(now);
    }
}

/// The real wall clock in unix milliseconds (used only to start a running clock).
pub fn wall_clock_ms() -> i64 {
    Utc::now().timestamp_millis()
}

pub fn offset_of(seconds: i32) -> FixedOffset {
    FixedOffset::east_opt(seconds).unwrap_or(Utc.fix())
}

/// `YYYY-MM-DDThh:mm:ss±hh:mm` in the portal offset.
pub fn fmt_datetime(unix: i64, offset_secs: i32) -> String {
    let off = offset_of(offset_secs);
    match DateTime::from_timestamp(unix, 0) {
        Some(dt) => dt
            .with_timezone(&off)
            .format("%Y-%m-%dT%H:%M:%S%:z")
            .to_string(),
        None => String::new(),
    }
}

/// `24.08.2023 13:19:39` (portal locale; user `TIMESTAMP_X`).
pub fn fmt_locale(unix: i64, offset_secs: i32) -> String {
    let off = offset_of(offset_secs);
    DateTime::from_timestamp(unix, 0)
        .map(|dt| {
            dt.with_timezone(&off)
                .format("%d.%m.%Y %H:%M:%S")
                .to_string()
        })
        .unwrap_or_default()
}

/// `2024-07-23 08:08:50` (no `T`, no offset; user `LAST_ACTIVITY_DATE`).
pub fn fmt_plain(unix: i64, offset_secs: i32) -> String {
    let off = offset_of(offset_secs);
    DateTime::from_timestamp(unix, 0)
        .map(|dt| {
            dt.with_timezone(&off)
                .format("%Y-%m-%d %H:%M:%S")
                .to_string()
        })
        .unwrap_or_default()
}

/// A date-only value as the portal renders it (§9.1): `{date}T{hh}:00:00{offset}`.
pub fn fmt_date(date: NaiveDate, offset_secs: i32) -> String {
    let off = offset_of(offset_secs);
    let hh = if offset_secs >= 0 {
        offset_secs / 3600
    } else {
        0
    };
    format!("{}T{:02}:00:00{}", date.format("%Y-%m-%d"), hh, off)
}

/// The calendar date of a unix time in the portal offset.
pub fn date_of(unix: i64, offset_secs: i32) -> NaiveDate {
    let off = offset_of(offset_secs);
    DateTime::from_timestamp(unix, 0)
        .map(|d| d.with_timezone(&off).date_naive())
        .unwrap_or_default()
}

/// Parses a datetime filter or field value (§10 #2): ISO 8601 with an offset, or `YYYY-MM-DD`
/// / `YYYY-MM-DD hh:mm:ss` / `YYYY-MM-DDThh:mm:ss` read in the portal offset.
pub fn parse_datetime(s: &str, offset_secs: i32) -> Option<i64> {
    let s = s.trim();
    if let Ok(dt) = DateTime::parse_from_rfc3339(s) {
        return Some(dt.timestamp());
    }
    if let Ok(dt) = DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%z") {
        return Some(dt.timestamp());
    }
    let off = offset_of(offset_secs);
    for fmt in [
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%dT%H:%M:%S",
        "%d.%m.%Y %H:%M:%S",
    ] {
        if let Ok(n) = NaiveDateTime::parse_from_str(s, fmt) {
            return off.from_local_datetime(&n).single().map(|d| d.timestamp());
        }
    }
    for fmt in ["%Y-%m-%d", "%d.%m.%Y"] {
        if let Ok(d) = NaiveDate::parse_from_str(s, fmt) {
            let n = d.and_hms_opt(0, 0, 0)?;
            return off.from_local_datetime(&n).single().map(|d| d.timestamp());
        }
    }
    None
}

/// Parses a date field value: the first 10 characters as `YYYY-MM-DD` (or `DD.MM.YYYY`).
pub fn parse_date(s: &str) -> Option<NaiveDate> {
    let head = s.trim().get(..10)?;
    NaiveDate::parse_from_str(head, "%Y-%m-%d")
        .or_else(|_| NaiveDate::parse_from_str(head, "%d.%m.%Y"))
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn date_only_values_use_the_offset_hour() {
        let d = NaiveDate::from_ymd_opt(2024, 8, 30).unwrap();
        assert_eq!(fmt_date(d, 7200), "2024-08-30T02:00:00+02:00");
        assert_eq!(fmt_date(d, -18000), "2024-08-30T00:00:00-05:00");
    }

    #[test]
    fn datetimes_render_in_portal_offset_and_parse_back() {
        let s = fmt_datetime(FROZEN_EPOCH_MS / 1000, 10800);
        assert_eq!(s, "2026-03-02T09:00:00+03:00");
        assert_eq!(parse_datetime(&s, 0), Some(FROZEN_EPOCH_MS / 1000));
        assert_eq!(
            parse_datetime("2026-03-02 09:00:00", 10800),
            Some(FROZEN_EPOCH_MS / 1000)
        );
        assert_eq!(parse_datetime("yesterday", 10800), None);
        assert_eq!(
            parse_date("привет, мир"),
            None,
            "non-ASCII text never panics"
        );
    }
}
