//! Throttling of guesses: failed attempts counted per key (an IP, an order) in a sliding window, and per account
//! with a lockout that doubles on every failure past the threshold. Time is passed in, so tests are
//! deterministic; the maps are bounded so a flood cannot exhaust memory.

use crate::time::Timestamp;
use std::collections::{HashMap, VecDeque};
use std::hash::Hash;

/// Counts failures per key and says when a key must wait.
#[derive(Debug)]
pub struct FailureThrottle<K: Hash + Eq + Clone> {
    max_failures: usize,
    window_ms: i64,
    max_keys: usize,
    failures: HashMap<K, VecDeque<Timestamp>>,
}

impl<K: Hash + Eq + Clone> FailureThrottle<K> {
    /// At most `max_failures` failures per key within `window_seconds`; at most `max_keys` keys remembered.
    pub fn new(max_failures: usize, window_seconds: i64, max_keys: usize) -> Self {
        FailureThrottle { max_failures, window_ms: window_seconds * 1000, max_keys, failures: HashMap::new() }
    }

    /// If the key is blocked now, the instant it may try again.
    pub fn blocked_until(&mut self, key: &K, now: Timestamp) -> Option<Timestamp> {
        let window = self.window_ms;
        let max = self.max_failures;
        let q = self.failures.get_mut(key)?;
        while q.front().is_some_and(|t| now.0 - t.0 >= window) {
            q.pop_front();
        }
        if q.len() >= max {
            q.front().map(|t| Timestamp(t.0 + window))
        } else {
            None
        }
    }

    /// Records a failed attempt.
    pub fn record_failure(&mut self, key: K, now: Timestamp) {
        if self.failures.len() >= self.max_keys && !self.failures.contains_key(&key) {
            let window = self.window_ms;
            self.failures.retain(|_, q| q.back().is_some_and(|t| now.0 - t.0 < window));
            if self.failures.len() >= self.max_keys {
                // Still full of live entries: forget one rather than grow without bound.
                if let Some(k) = self.failures.keys().next().cloned() {
                    self.failures.remove(&k);
                }
            }
        }
        let q = self.failures.entry(key).or_default();
        q.push_back(now);
        while q.len() > self.max_failures {
            q.pop_front();
        }
    }

    /// Forgets a key's failures (after a successful login).
    pub fn clear(&mut self, key: &K) {
        self.failures.remove(key);
    }
}

/// Failures per key with exponential backoff: after `threshold` failures the key waits `base_seconds`, and every
/// further failure doubles the wait (capped at `max_seconds`). A success clears the key; a key with no failure
/// for `forget_after_seconds` starts afresh.
#[derive(Debug)]
pub struct BackoffThrottle<K: Hash + Eq + Clone> {
    threshold: u32,
    base_ms: i64,
    max_ms: i64,
    forget_after_ms: i64,
    max_keys: usize,
    keys: HashMap<K, Backoff>,
}

#[derive(Debug, Clone, Copy)]
struct Backoff {
    failures: u32,
    last_failure: Timestamp,
}

impl<K: Hash + Eq + Clone> BackoffThrottle<K> {
    pub fn new(
        threshold: u32,
        base_seconds: i64,
        max_seconds: i64,
        forget_after_seconds: i64,
        max_keys: usize,
    ) -> Self {
        BackoffThrottle {
            threshold: threshold.max(1),
            base_ms: base_seconds.max(1) * 1000,
            max_ms: max_seconds.max(base_seconds.max(1)) * 1000,
            forget_after_ms: forget_after_seconds * 1000,
            max_keys,
            keys: HashMap::new(),
        }
    }

    /// The wait after `failures` failures: none below the threshold, then base, 2×base, 4×base… up to the cap.
    pub fn lockout_ms(&self, failures: u32) -> i64 {
        if failures < self.threshold {
            return 0;
        }
        let doublings = (failures - self.threshold).min(40);
        self.base_ms.saturating_mul(1i64 << doublings).min(self.max_ms)
    }

    /// If the key is locked out now, the instant it may try again.
    pub fn blocked_until(&mut self, key: &K, now: Timestamp) -> Option<Timestamp> {
        let b = *self.keys.get(key)?;
        if now.0 - b.last_failure.0 >= self.forget_after_ms {
            self.keys.remove(key);
            return None;
        }
        let until = b.last_failure.0 + self.lockout_ms(b.failures);
        (until > now.0).then_some(Timestamp(until))
    }

    /// Records a failed attempt.
    pub fn record_failure(&mut self, key: K, now: Timestamp) {
        if self.keys.len() >= self.max_keys && !self.keys.contains_key(&key) {
            let forget = self.forget_after_ms;
            self.keys.retain(|_, b| now.0 - b.last_failure.0 < forget);
            if self.keys.len() >= self.max_keys {
                if let Some(k) = self.keys.keys().next().cloned() {
                    self.keys.remove(&k);
                }
            }
        }
        let forget = self.forget_after_ms;
        let b = self.keys.entry(key).or_insert(Backoff { failures: 0, last_failure: now });
        if now.0 - b.last_failure.0 >= forget {
            b.failures = 0;
        }
        b.failures = b.failures.saturating_add(1);
        b.last_failure = now;
    }

    /// Forgets a key's failures (after a successful login).
    pub fn clear(&mut self, key: &K) {
        self.keys.remove(key);
    }
}

/// Whole seconds from `now` until `until`, at least 1: the value of a `Retry-After` header.
pub fn retry_after_seconds(now: Timestamp, until: Timestamp) -> u64 {
    let ms = (until.0 - now.0).max(0);
    u64::try_from((ms + 999) / 1000).unwrap_or(1).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_locks_at_the_threshold_and_doubles_with_each_further_failure() {
        let mut t = BackoffThrottle::new(3, 60, 3600, 86_400, 100);
        let k = "alice";
        for s in 0..3 {
            assert_eq!(t.blocked_until(&k, Timestamp(s * 1000)), None);
            t.record_failure(k, Timestamp(s * 1000));
        }
        // Third failure at 2 s: locked 60 s.
        assert_eq!(t.blocked_until(&k, Timestamp(2_000)), Some(Timestamp(62_000)));
        assert_eq!(t.blocked_until(&k, Timestamp(62_000)), None);
        t.record_failure(k, Timestamp(62_000));
        assert_eq!(t.blocked_until(&k, Timestamp(62_000)), Some(Timestamp(62_000 + 120_000)));
        t.record_failure(k, Timestamp(182_000));
        assert_eq!(t.blocked_until(&k, Timestamp(182_000)), Some(Timestamp(182_000 + 240_000)));
        for _ in 0..20 {
            t.record_failure(k, Timestamp(500_000));
        }
        assert_eq!(t.blocked_until(&k, Timestamp(500_000)), Some(Timestamp(500_000 + 3_600_000)), "capped");
        // A day without failures: afresh.
        assert_eq!(t.blocked_until(&k, Timestamp(500_000 + 86_400_000)), None);
        t.record_failure(k, Timestamp(500_000 + 86_400_000));
        assert_eq!(t.blocked_until(&k, Timestamp(500_000 + 86_400_000)), None);
        t.clear(&k);
        assert!(t.keys.is_empty());
    }

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        assert_eq!(retry_after_seconds(Timestamp(0), Timestamp(1)), 1);
        assert_eq!(retry_after_seconds(Timestamp(0), Timestamp(60_000)), 60);
        assert_eq!(retry_after_seconds(Timestamp(0), Timestamp(60_001)), 61);
        assert_eq!(retry_after_seconds(Timestamp(5), Timestamp(0)), 1);
    }

    #[test]
    fn backoff_memory_is_bounded() {
        let mut t = BackoffThrottle::new(5, 60, 600, 3600, 10);
        for k in 0..1000 {
            t.record_failure(k, Timestamp(0));
        }
        assert!(t.keys.len() <= 10);
    }

    #[test]
    fn blocks_after_max_failures_then_releases() {
        let mut t = FailureThrottle::new(3, 60, 100);
        let k = "alice".to_string();
        for s in 0..3 {
            assert_eq!(t.blocked_until(&k, Timestamp(s * 1000)), None);
            t.record_failure(k.clone(), Timestamp(s * 1000));
        }
        assert_eq!(t.blocked_until(&k, Timestamp(3000)), Some(Timestamp(60_000)));
        assert_eq!(t.blocked_until(&k, Timestamp(60_000)), None);
    }

    #[test]
    fn success_clears() {
        let mut t = FailureThrottle::new(1, 60, 100);
        t.record_failure(1, Timestamp(0));
        assert!(t.blocked_until(&1, Timestamp(1)).is_some());
        t.clear(&1);
        assert!(t.blocked_until(&1, Timestamp(1)).is_none());
    }

    #[test]
    fn memory_is_bounded() {
        let mut t = FailureThrottle::new(5, 60, 10);
        for k in 0..1000 {
            t.record_failure(k, Timestamp(0));
        }
        assert!(t.failures.len() <= 10);
    }
}
