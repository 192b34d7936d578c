//! Login throttling: failed attempts counted per key (an IP or an account) in a sliding window.
//! Time is passed in, so tests are deterministic; the map is bounded so a flood cannot exhaust memory.

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

#[cfg(test)]
mod tests {
    use super::*;

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
