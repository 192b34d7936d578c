//! Throttling of guesses, decided from the attempts recorded for one key (an account, an IP, an order): at most
//! so many in a sliding window, or a lockout that doubles with every failure past a threshold. The attempts live
//! in the store, so every instance on one database sees the same counts; this module only decides. Time is
//! passed in, so tests are deterministic.

use crate::time::Timestamp;

/// How attempts of one key are limited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// At most `max` attempts within any `window_seconds`.
    Window { max: usize, window_seconds: i64 },
    /// After `threshold` failures the key waits `base_seconds`; every further failure doubles the wait, capped
    /// at `max_seconds`. A key with no failure for `forget_after_seconds` starts afresh (a success clears it).
    Backoff { threshold: u32, base_seconds: i64, max_seconds: i64, forget_after_seconds: i64 },
}

impl Rule {
    /// How many of a key's newest attempts decide it: more never change the answer (a window holds `max`; a
    /// backoff's wait reaches its cap after a bounded number of doublings).
    pub fn attempts_needed(&self) -> usize {
        match *self {
            Rule::Window { max, .. } => max.max(1),
            Rule::Backoff { threshold, base_seconds, max_seconds, .. } => {
                let mut doublings = 0usize;
                let mut wait = base_seconds.max(1);
                while wait < max_seconds && doublings < 40 {
                    wait = wait.saturating_mul(2);
                    doublings += 1;
                }
                threshold.max(1) as usize + doublings + 1
            }
        }
    }

    /// How long a recorded attempt can matter: older ones may be deleted.
    pub fn memory_seconds(&self) -> i64 {
        match *self {
            Rule::Window { window_seconds, .. } => window_seconds,
            Rule::Backoff { forget_after_seconds, .. } => forget_after_seconds,
        }
    }

    /// The wait a backoff imposes after `failures` failures: none below the threshold, then base, 2×base, 4×base…
    /// up to the cap (zero for a window rule).
    pub fn lockout_ms(&self, failures: u32) -> i64 {
        match *self {
            Rule::Window { .. } => 0,
            Rule::Backoff { threshold, base_seconds, max_seconds, .. } => {
                let threshold = threshold.max(1);
                if failures < threshold {
                    return 0;
                }
                let base_ms = base_seconds.max(1) * 1000;
                let max_ms = max_seconds.max(base_seconds.max(1)) * 1000;
                let doublings = (failures - threshold).min(40);
                base_ms.saturating_mul(1i64 << doublings).min(max_ms)
            }
        }
    }

    /// If the key must wait at `now`, the instant it may try again. `attempts` are its newest recorded attempts
    /// (at least [`Rule::attempts_needed`] of them when it has that many), in any order.
    pub fn blocked_until(&self, attempts: &[Timestamp], now: Timestamp) -> Option<Timestamp> {
        let mut sorted: Vec<i64> = attempts.iter().map(|t| t.0).filter(|t| *t <= now.0).collect();
        sorted.sort_unstable();
        match *self {
            Rule::Window { max, window_seconds } => {
                let window = window_seconds * 1000;
                let live: Vec<i64> = sorted.into_iter().filter(|t| now.0 - t < window).collect();
                let max = max.max(1);
                if live.len() < max {
                    return None;
                }
                // The oldest of the newest `max` attempts leaves the window first.
                live.get(live.len() - max).map(|oldest| Timestamp(oldest + window))
            }
            Rule::Backoff { forget_after_seconds, .. } => {
                let forget = forget_after_seconds * 1000;
                let mut failures = 0u32;
                let mut last: Option<i64> = None;
                for t in sorted {
                    if last.is_some_and(|l| t - l >= forget) {
                        failures = 0;
                    }
                    failures = failures.saturating_add(1);
                    last = Some(t);
                }
                let last = last?;
                if now.0 - last >= forget {
                    return None;
                }
                let until = last + self.lockout_ms(failures);
                (until > now.0).then_some(Timestamp(until))
            }
        }
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

    /// Records attempts as the store would and asks the rule, like the app does.
    struct Key {
        rule: Rule,
        attempts: Vec<Timestamp>,
    }

    impl Key {
        fn new(rule: Rule) -> Key {
            Key { rule, attempts: Vec::new() }
        }
        fn blocked_until(&self, now: i64) -> Option<Timestamp> {
            // Only the newest `attempts_needed` are read, as from the store.
            let mut newest = self.attempts.clone();
            newest.sort_unstable_by(|a, b| b.cmp(a));
            newest.truncate(self.rule.attempts_needed());
            self.rule.blocked_until(&newest, Timestamp(now))
        }
        fn fail(&mut self, at: i64) {
            self.attempts.push(Timestamp(at));
        }
    }

    fn backoff() -> Rule {
        Rule::Backoff { threshold: 3, base_seconds: 60, max_seconds: 3600, forget_after_seconds: 86_400 }
    }

    #[test]
    fn backoff_locks_at_the_threshold_and_doubles_with_each_further_failure() {
        let mut k = Key::new(backoff());
        for s in 0..3 {
            assert_eq!(k.blocked_until(s * 1000), None);
            k.fail(s * 1000);
        }
        // Third failure at 2 s: locked 60 s.
        assert_eq!(k.blocked_until(2_000), Some(Timestamp(62_000)));
        assert_eq!(k.blocked_until(62_000), None);
        k.fail(62_000);
        assert_eq!(k.blocked_until(62_000), Some(Timestamp(62_000 + 120_000)));
        k.fail(182_000);
        assert_eq!(k.blocked_until(182_000), Some(Timestamp(182_000 + 240_000)));
        for _ in 0..20 {
            k.fail(500_000);
        }
        assert_eq!(k.blocked_until(500_000), Some(Timestamp(500_000 + 3_600_000)), "capped");
        // A day without failures: afresh.
        assert_eq!(k.blocked_until(500_000 + 86_400_000), None);
        k.fail(500_000 + 86_400_000);
        assert_eq!(k.blocked_until(500_000 + 86_400_000), None);
        k.attempts.clear();
        assert_eq!(k.blocked_until(500_000 + 86_400_000), None, "a success clears");
    }

    #[test]
    fn the_newest_attempts_needed_decide_as_all_of_them_would() {
        let rule = backoff();
        let attempts: Vec<Timestamp> = (0..200).map(|i| Timestamp(i * 1000)).collect();
        let mut newest = attempts.clone();
        newest.reverse();
        newest.truncate(rule.attempts_needed());
        for now in [199_000, 250_000, 4_000_000] {
            assert_eq!(rule.blocked_until(&attempts, Timestamp(now)), rule.blocked_until(&newest, Timestamp(now)));
        }
        assert_eq!(rule.lockout_ms(200), 3_600_000);
    }

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        assert_eq!(retry_after_seconds(Timestamp(0), Timestamp(1)), 1);
        assert_eq!(retry_after_seconds(Timestamp(0), Timestamp(60_000)), 60);
        assert_eq!(retry_after_seconds(Timestamp(0), Timestamp(60_001)), 61);
        assert_eq!(retry_after_seconds(Timestamp(5), Timestamp(0)), 1);
    }

    #[test]
    fn a_window_blocks_after_max_attempts_then_releases() {
        let mut k = Key::new(Rule::Window { max: 3, window_seconds: 60 });
        for s in 0..3 {
            assert_eq!(k.blocked_until(s * 1000), None);
            k.fail(s * 1000);
        }
        assert_eq!(k.blocked_until(3000), Some(Timestamp(60_000)));
        assert_eq!(k.blocked_until(60_000), None);
        // Attempts keep sliding: the oldest of the newest three decides.
        k.fail(60_000);
        assert_eq!(k.blocked_until(60_000), Some(Timestamp(61_000)));
    }

    #[test]
    fn attempts_from_the_future_do_not_count() {
        let rule = Rule::Window { max: 1, window_seconds: 60 };
        assert_eq!(rule.blocked_until(&[Timestamp(10_000)], Timestamp(5_000)), None);
    }
}
