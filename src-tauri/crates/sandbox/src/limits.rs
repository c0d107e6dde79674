//! The leaky-bucket rate limit (§5.3) and the per-method operating-time limit (§5.4).

use std::collections::HashMap;

#[derive(Debug, Default)]
pub struct Limits {
    /// Bucket key → (level, last update in virtual ms).
    buckets: HashMap<String, (f64, i64)>,
    /// (budget, method) → one-minute baskets: (basket start ms, seconds spent); the budget is
    /// `Engine::budget_key`.
    operating: HashMap<(String, String), Vec<(i64, f64)>>,
}

const BASKET_MS: i64 = 60_000;
const BASKET_LIFE_MS: i64 = 600_000;

impl Limits {
    /// Current (drained) level of a bucket.
    pub fn level(&mut self, key: &str, now_ms: i64, drain_per_second: f64) -> f64 {
        let e = self.buckets.entry(key.to_string()).or_insert((0.0, now_ms));
        let elapsed = (now_ms - e.1).max(0) as f64 / 1000.0;
        e.0 = (e.0 - elapsed * drain_per_second).max(0.0);
        e.1 = now_ms;
        e.0
    }

    /// Counts one request; false (and nothing counted) when the bucket is full (§10 #15).
    pub fn admit(&mut self, key: &str, now_ms: i64, capacity: f64, drain: f64) -> bool {
        let level = self.level(key, now_ms, drain);
        if level >= capacity {
            return false;
        }
        if let Some(e) = self.buckets.get_mut(key) {
            e.0 += 1.0;
        }
        true
    }

    fn live(&mut self, cred: &str, method: &str, now_ms: i64) -> &mut Vec<(i64, f64)> {
        let v = self
            .operating
            .entry((cred.to_string(), method.to_string()))
            .or_default();
        v.retain(|(start, _)| start + BASKET_LIFE_MS > now_ms);
        v
    }

    /// Seconds accumulated for a method and `operating_reset_at` (unix seconds), if any.
    pub fn operating(&mut self, cred: &str, method: &str, now_ms: i64) -> (f64, Option<i64>) {
        let v = self.live(cred, method, now_ms);
        let total = v.iter().map(|(_, s)| s).sum();
        let reset = v
            .iter()
            .map(|(start, _)| (start + BASKET_LIFE_MS) / 1000)
            .min();
        (total, reset)
    }

    pub fn charge(&mut self, cred: &str, method: &str, now_ms: i64, seconds: f64) {
        let v = self.live(cred, method, now_ms);
        match v.last_mut() {
            Some((start, s)) if now_ms - *start < BASKET_MS => *s += seconds,
            _ => v.push((now_ms, seconds)),
        }
    }

    pub fn clear(&mut self) {
        self.buckets.clear();
        self.operating.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_admits_exactly_capacity_then_drains() {
        let mut l = Limits::default();
        for _ in 0..50 {
            assert!(l.admit("ip", 0, 50.0, 2.0));
        }
        assert!(!l.admit("ip", 0, 50.0, 2.0));
        assert!(l.admit("ip", 500, 50.0, 2.0));
        assert!(!l.admit("ip", 500, 50.0, 2.0));
    }

    #[test]
    fn operating_baskets_expire_after_ten_minutes() {
        let mut l = Limits::default();
        l.charge("c", "m", 0, 5.0);
        l.charge("c", "m", 70_000, 5.0);
        assert_eq!(l.operating("c", "m", 100_000), (10.0, Some(600)));
        assert_eq!(l.operating("c", "m", 600_001).0, 5.0);
    }
}
