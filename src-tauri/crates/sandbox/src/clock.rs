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

/// The portal's time zone: a fixed offset, or a named zone with its summer time
/// (`chrono_tz`), as PHP's default time zone of the portal is.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Zone {
    Fixed(i32),
    Named(chrono_tz::Tz),
}

impl Zone {
    /// The zone's offset from UTC (seconds east) in force at `unix`.
    pub fn offset_at(self, unix: i64) -> i32 {
        match self {
            Zone::Fixed(s) => s,
            Zone::Named(tz) => DateTime::from_timestamp(unix, 0)
                .map(|t| t.with_timezone(&tz).offset().fix().local_minus_utc())
                .unwrap_or(0),
        }
    }

    /// The instant of 00:00 of `date` on the zone's wall clock (PHP `mktime(0, 0, 0, …)`).
    pub fn midnight(self, date: NaiveDate) -> i64 {
        let local = date.and_time(chrono::NaiveTime::MIN);
        match self {
            Zone::Fixed(s) => local.and_utc().timestamp() - i64::from(s),
            Zone::Named(tz) => tz
                .from_local_datetime(&local)
                .earliest()
                .map(|t| t.timestamp())
                .unwrap_or_else(|| local.and_utc().timestamp()),
        }
    }

    /// `YYYY-MM-DDThh:mm:ss±hh:mm` of an instant, with the offset in force at that instant
    /// (PHP `date('c', …)`).
    pub fn fmt(self, unix: i64) -> String {
        fmt_datetime(unix, self.offset_at(unix))
    }

    /// The calendar date on the zone's wall clock at `unix`.
    pub fn date_at(self, unix: i64) -> NaiveDate {
        date_of(unix, self.offset_at(unix))
    }
}

/// What converting a written date or datetime needs: the portal's zone and the time of the call.
#[derive(Debug, Clone, Copy)]
pub struct Dates {
    pub zone: Zone,
    pub now: i64,
}

impl Dates {
    /// The offset in force now (datetimes are shown in it; offset-less strings are read in it).
    pub fn offset(self) -> i32 {
        self.zone.offset_at(self.now)
    }
}

/// A date-only value as REST renders it: `CRestUtil::ConvertDate` (rest/classes/general/
/// rest_util.php) is `date('c', MakeTimeStamp($d) + date("Z"))` — 00:00 of the date on the
/// portal's wall clock plus the offset in force **now**: 00:00 UTC of the date, shown in the
/// portal's zone (`2026-03-13T03:00:00+03:00` in Moscow, `2026-03-12T19:00:00-05:00` in New York),
/// and an hour either side of it in a zone whose summer time differs between the date and now.
pub fn fmt_date_in(date: NaiveDate, zone: Zone, now: i64) -> String {
    zone.fmt(zone.midnight(date) + i64::from(zone.offset_at(now)))
}

/// [`fmt_date_in`] for a fixed offset (00:00 UTC of the date, shown in the offset).
pub fn fmt_date(date: NaiveDate, offset_secs: i32) -> String {
    fmt_date_in(date, Zone::Fixed(offset_secs), 0)
}

/// The date a stored date-only value stands for. A rendered value ([`fmt_date_in`]) is within an
/// hour or two of 00:00 UTC of its date, so it is read as the date of the **nearest** UTC
/// midnight; a bare `YYYY-MM-DD` / `DD.MM.YYYY` is that date.
pub fn stored_date(s: &str) -> Option<NaiveDate> {
    let s = s.trim();
    if s.len() <= 10 {
        return parse_date(s);
    }
    let t = DateTime::parse_from_rfc3339(s)
        .or_else(|_| DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%z"))
        .ok()?
        .timestamp();
    DateTime::from_timestamp((t + 43_200).div_euclid(86_400) * 86_400, 0).map(|d| d.date_naive())
}

/// A written date-only value as the portal takes it: `CRestUtil::unConvertDate` is
/// `ConvertTimeStamp(strtotime($iso8601), 'SHORT')` — the string read on the portal's wall clock
/// (an explicit offset honoured), then the date of that instant in the portal's zone. So
/// `2026-03-13` is the 13th everywhere, and `2026-03-13T00:00:00+03:00` the 12th west of +03:00.
pub fn input_date(s: &str, zone: Zone, now: i64) -> Option<NaiveDate> {
    let s = s.trim();
    if s.len() <= 10 {
        return parse_date(s);
    }
    let t = parse_datetime(s, zone.offset_at(now))?;
    Some(zone.date_at(t))
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
    fn date_only_values_are_utc_midnight_shown_in_the_portal_offset() {
        let d = NaiveDate::from_ymd_opt(2024, 8, 30).unwrap();
        assert_eq!(fmt_date(d, 7200), "2024-08-30T02:00:00+02:00");
        assert_eq!(fmt_date(d, -18000), "2024-08-29T19:00:00-05:00");
        assert_eq!(fmt_date(d, 0), "2024-08-30T00:00:00+00:00");
        assert_eq!(fmt_date(d, 12 * 3600), "2024-08-30T12:00:00+12:00");
        for off in [-18000, 0, 10800, 43200] {
            assert_eq!(stored_date(&fmt_date(d, off)), Some(d), "offset {off}");
        }
    }

    #[test]
    fn in_a_zone_with_summer_time_the_offset_of_now_shifts_the_hour() {
        let ny = Zone::Named(chrono_tz::America::New_York);
        let july = NaiveDate::from_ymd_opt(2026, 7, 10).unwrap();
        let march_2 = FROZEN_EPOCH_MS / 1000; // winter: -05:00
                                              // mktime(July 10, 00:00 EDT) = 04:00 UTC; + date("Z") of now (-5 h) = 23:00 UTC the day
                                              // before, shown in EDT.
        assert_eq!(fmt_date_in(july, ny, march_2), "2026-07-09T19:00:00-04:00");
        assert_eq!(stored_date("2026-07-09T19:00:00-04:00"), Some(july));
        let august = NaiveDate::from_ymd_opt(2026, 8, 1)
            .unwrap()
            .and_hms_opt(12, 0, 0)
            .unwrap();
        let summer_now = august.and_utc().timestamp();
        assert_eq!(
            fmt_date_in(july, ny, summer_now),
            "2026-07-09T20:00:00-04:00"
        );
        let january = NaiveDate::from_ymd_opt(2026, 1, 15).unwrap();
        assert_eq!(
            fmt_date_in(january, ny, summer_now),
            "2026-01-14T20:00:00-05:00"
        );
        assert_eq!(stored_date("2026-01-14T20:00:00-05:00"), Some(january));
    }

    #[test]
    fn written_dates_are_read_on_the_portal_wall_clock() {
        let ny = Zone::Fixed(-18000);
        let moscow = Zone::Fixed(10800);
        let d13 = NaiveDate::from_ymd_opt(2026, 3, 13).unwrap();
        let d12 = NaiveDate::from_ymd_opt(2026, 3, 12).unwrap();
        assert_eq!(input_date("2026-03-13", ny, 0), Some(d13));
        assert_eq!(input_date("2026-03-13T00:00:00+03:00", ny, 0), Some(d12));
        assert_eq!(
            input_date("2026-03-13T00:00:00+03:00", moscow, 0),
            Some(d13)
        );
        assert_eq!(input_date("13.03.2026", moscow, 0), Some(d13));
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
