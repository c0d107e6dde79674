//! Datetimes as REST shows them to a user with a personal time zone, back to the instants they
//! stand for.
//!
//! `CRestUtil::ConvertDateTime` (rest/classes/general/rest_util.php) is
//! `date('c', MakeTimeStamp($dt) - CTimeZone::GetOffset())`, where `$dt` as text is already in
//! the user's time (`Bitrix\Main\Type\DateTime::toString` adds `CTimeZone::GetOffset` **at that
//! date**) and the subtracted offset is the one in force **now**. `GetOffset` is the user's
//! personal zone minus the portal's, so the printed instant is off by
//! `δ = [U(t) − P(t)] − [U(now) − P(now)]`: nothing while the two zones keep the same summer-time
//! rules, an hour for a summer date read in winter (or the other way) by, say, a user in Berlin
//! on a Moscow portal. [`UserTime::true_time`] takes `δ` back off.

use crate::Record;
use chrono::{DateTime, Duration, FixedOffset, Offset, TimeZone, Utc};
use serde_json::Value;

/// What undoing the shift needs: the user's personal zone and the portal's offset now.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct UserTime {
    zone: chrono_tz::Tz,
    portal_now: DateTime<FixedOffset>,
}

impl UserTime {
    /// `zone` is the user's `TIME_ZONE` (an IANA name; empty or unknown gives `None`: no shift
    /// can be told), `portal_now` the portal's clock as it printed it lately (`server.time`).
    pub fn new(zone: &str, portal_now: DateTime<FixedOffset>) -> Option<UserTime> {
        let zone = zone.trim().parse::<chrono_tz::Tz>().ok()?;
        Some(UserTime { zone, portal_now })
    }

    fn user_offset(&self, unix: i64) -> i64 {
        Utc.timestamp_opt(unix, 0)
            .single()
            .map(|t| i64::from(t.with_timezone(&self.zone).offset().fix().local_minus_utc()))
            .unwrap_or(0)
    }

    /// The instant a printed datetime stands for (shown in the offset it was printed in). The
    /// offsets at the true instant are taken at the printed one: they differ only within the
    /// shift of a summer-time change.
    pub fn true_time(&self, printed: DateTime<FixedOffset>) -> DateTime<FixedOffset> {
        let s = printed.timestamp();
        let then = self.user_offset(s) - i64::from(printed.offset().local_minus_utc());
        let now_unix = self.portal_now.timestamp();
        let now =
            self.user_offset(now_unix) - i64::from(self.portal_now.offset().local_minus_utc());
        printed - Duration::seconds(then - now)
    }

    /// [`UserTime::true_time`] of a datetime value (`…T…±hh:mm`, or a list of them: a multiple
    /// field, each value converted alike); `None` when it is none or needs no change.
    pub fn fixed(&self, v: &Value) -> Option<Value> {
        if let Value::Array(items) = v {
            let fixed: Vec<Option<Value>> = items.iter().map(|x| self.fixed(x)).collect();
            if fixed.iter().all(Option::is_none) {
                return None;
            }
            return Some(Value::Array(
                items
                    .iter()
                    .zip(fixed)
                    .map(|(x, f)| f.unwrap_or_else(|| x.clone()))
                    .collect(),
            ));
        }
        let s = v.as_str()?;
        let printed = DateTime::parse_from_rfc3339(s.trim()).ok()?;
        let t = self.true_time(printed);
        (t.timestamp() != printed.timestamp())
            .then(|| Value::String(t.format("%Y-%m-%dT%H:%M:%S%:z").to_string()))
    }

    /// Whether any of `fields` of the record would change.
    pub fn needs(&self, record: &Record, fields: &[String]) -> bool {
        fields.iter().any(|f| {
            record
                .fields
                .get(f)
                .is_some_and(|v| self.fixed(v).is_some())
        })
    }

    /// Puts the record's datetime `fields` (and its `updated_time`) at their true instants.
    pub fn fix(&self, record: &mut Record, fields: &[String]) {
        for f in fields {
            if let Some(v) = record.fields.get_mut(f) {
                if let Some(t) = self.fixed(v) {
                    *v = t;
                }
            }
        }
        if let Some(u) = record.updated_time {
            record.updated_time = Some(self.true_time(u));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<FixedOffset> {
        DateTime::parse_from_rfc3339(s).expect("time")
    }

    #[test]
    fn a_summer_datetime_read_in_winter_by_a_berlin_user_on_a_moscow_portal_is_an_hour_off() {
        let winter = UserTime::new("Europe/Berlin", at("2026-03-02T09:00:00+03:00")).expect("zone");
        // 09:00 UTC on 10 July, printed an hour late.
        assert_eq!(
            winter.true_time(at("2026-07-10T13:00:00+03:00")),
            at("2026-07-10T12:00:00+03:00")
        );
        // A winter datetime is printed right.
        assert_eq!(
            winter.true_time(at("2026-02-10T13:00:00+03:00")),
            at("2026-02-10T13:00:00+03:00")
        );
        let summer = UserTime::new("Europe/Berlin", at("2026-08-01T09:00:00+03:00")).expect("zone");
        assert_eq!(
            summer.true_time(at("2026-01-10T11:00:00+03:00")),
            at("2026-01-10T12:00:00+03:00")
        );
        // Same rules on both sides: no shift.
        let kyiv_portal =
            UserTime::new("Europe/Berlin", at("2026-03-02T08:00:00+02:00")).expect("zone");
        assert_eq!(
            kyiv_portal.true_time(at("2026-07-10T12:00:00+03:00")),
            at("2026-07-10T12:00:00+03:00")
        );
        assert!(UserTime::new("", at("2026-03-02T09:00:00+03:00")).is_none());
        assert!(UserTime::new("Mars/Olympus", at("2026-03-02T09:00:00+03:00")).is_none());
        // Text that is no datetime is left alone.
        assert_eq!(winter.fixed(&serde_json::json!("завтра в 10")), None);
        assert_eq!(winter.fixed(&serde_json::json!(42)), None);
        let list = serde_json::json!(["2026-07-10T13:00:00+03:00", "2026-02-10T13:00:00+03:00"]);
        assert_eq!(
            winter.fixed(&list),
            Some(serde_json::json!([
                "2026-07-10T12:00:00+03:00",
                "2026-02-10T13:00:00+03:00"
            ]))
        );
    }
}
