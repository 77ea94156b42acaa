//! Sign-in throttling: failed attempts slow down further attempts of the same user name
//! from the same address a lot, of the same address (many names) and of the same name
//! (many addresses) somewhat, and lock nobody out: once the delay has passed, the right
//! password works. An attempt is counted when it *starts*, under one lock, so parallel
//! guesses cannot all slip in before the first failure is written down; a success clears
//! its pair. Kept in memory, bounded, forgotten after the window.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// How long failures are remembered.
pub const WINDOW: Duration = Duration::from_secs(15 * 60);
/// Entries kept at most; expired ones are dropped first, then the table is emptied.
const MAX_ENTRIES: usize = 100_000;

/// One kind of key: failures allowed without delay, and the longest delay.
#[derive(Debug, Clone, Copy)]
struct Limit {
    free: u32,
    max_delay: Duration,
}

/// The same user name from the same address: a password being guessed.
const PAIR: Limit = Limit {
    free: 5,
    max_delay: Duration::from_secs(300),
};
/// One address trying many names.
const ADDRESS: Limit = Limit {
    free: 30,
    max_delay: Duration::from_secs(300),
};
/// One name tried from many addresses: a short delay only, so that the real user, from
/// their own address, is slowed down a little and never shut out.
const NAME: Limit = Limit {
    free: 20,
    max_delay: Duration::from_secs(15),
};

impl Limit {
    /// The wait after `failures` failures: none for the first `free`, then 1 s doubling.
    fn delay(self, failures: u32) -> Duration {
        if failures < self.free {
            return Duration::ZERO;
        }
        let secs = 1u64.checked_shl(failures - self.free).unwrap_or(u64::MAX);
        Duration::from_secs(secs).min(self.max_delay)
    }
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    failures: u32,
    last: Instant,
}

/// The throttle of one server process.
#[derive(Debug, Default)]
pub struct LoginThrottle {
    entries: parking_lot::Mutex<HashMap<String, Entry>>,
}

/// An attempt that was let through; report how it ended with [`LoginThrottle::succeeded`].
#[derive(Debug)]
pub struct Attempt {
    pair: String,
    address: String,
    name: String,
}

impl LoginThrottle {
    /// Lets an attempt of `username` from `address` through, counting it as a failure until
    /// it succeeds, or says how long to wait.
    pub fn begin(&self, username: &str, address: Option<IpAddr>) -> Result<Attempt, Duration> {
        self.begin_at(username, address, Instant::now())
    }

    fn begin_at(
        &self,
        username: &str,
        address: Option<IpAddr>,
        now: Instant,
    ) -> Result<Attempt, Duration> {
        let name = username.to_lowercase();
        let address = address.map_or_else(|| "-".to_owned(), |a| a.to_string());
        let keys = [
            (format!("p\u{1f}{name}\u{1f}{address}"), PAIR),
            (format!("a\u{1f}{address}"), ADDRESS),
            (format!("n\u{1f}{name}"), NAME),
        ];
        let mut entries = self.entries.lock();
        if entries.len() >= MAX_ENTRIES {
            entries.retain(|_, e| now.duration_since(e.last) < WINDOW);
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
        }
        let mut wait = Duration::ZERO;
        for (key, limit) in &keys {
            if let Some(e) = entries.get(key)
                && now.duration_since(e.last) < WINDOW
            {
                let ready = e.last + limit.delay(e.failures);
                wait = wait.max(ready.saturating_duration_since(now));
            }
        }
        if !wait.is_zero() {
            return Err(wait);
        }
        for (key, _) in &keys {
            let e = entries.entry(key.clone()).or_insert(Entry {
                failures: 0,
                last: now,
            });
            if now.duration_since(e.last) >= WINDOW {
                e.failures = 0;
            }
            e.failures = e.failures.saturating_add(1);
            e.last = now;
        }
        let [(pair, _), (address, _), (name, _)] = keys;
        Ok(Attempt {
            pair,
            address,
            name,
        })
    }

    /// The attempt was the right password: its name and pair start afresh, and the
    /// address's count forgets this one attempt only (a depot's engineers all sign in
    /// from one address each morning, yet one good account does not clear a scan of
    /// others).
    pub fn succeeded(&self, attempt: Attempt) {
        let mut entries = self.entries.lock();
        entries.remove(&attempt.pair);
        entries.remove(&attempt.name);
        if let Some(e) = entries.get_mut(&attempt.address) {
            e.failures = e.failures.saturating_sub(1);
        }
    }

    /// How many keys are remembered (for tests of the bound).
    pub fn len(&self) -> usize {
        self.entries.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(last: u8) -> Option<IpAddr> {
        Some(IpAddr::from([10, 0, 0, last]))
    }

    #[test]
    fn guesses_are_slowed_down_and_the_right_password_works_once_the_delay_passed() {
        let t = LoginThrottle::default();
        let t0 = Instant::now();
        for _ in 0..5 {
            assert!(t.begin_at("wang", ip(1), t0).is_ok());
        }
        let wait = t.begin_at("wang", ip(1), t0).expect_err("the sixth waits");
        assert_eq!(wait, Duration::from_secs(1));
        // The real user on another address is not held up by the guesser's pair.
        let attempt = t.begin_at("wang", ip(2), t0).expect("another address");
        t.succeeded(attempt);
        // After the delay the guesser's address may try again, and each failure doubles it.
        assert!(
            t.begin_at("wang", ip(1), t0 + Duration::from_secs(1))
                .is_ok()
        );
        assert_eq!(
            t.begin_at("wang", ip(1), t0 + Duration::from_secs(1))
                .expect_err("waits again"),
            Duration::from_secs(2)
        );
    }

    #[test]
    fn a_depots_engineers_all_sign_in_from_one_address_and_a_scan_is_still_slowed() {
        let t = LoginThrottle::default();
        let t0 = Instant::now();
        for i in 0..200 {
            let attempt = t
                .begin_at(&format!("engineer{i}"), ip(4), t0)
                .unwrap_or_else(|w| panic!("engineer {i} waits {w:?}"));
            t.succeeded(attempt);
        }
        // Successes in between do not hide a scan's failures.
        let mut failed = 0;
        for i in 0..100 {
            if t.begin_at(&format!("guess{i}"), ip(4), t0).is_ok() {
                failed += 1;
            }
            if i % 10 == 0 && i < 25 {
                let attempt = t.begin_at("wang", ip(4), t0).expect("the real user");
                t.succeeded(attempt);
            }
        }
        assert_eq!(failed, 30);
    }

    #[test]
    fn parallel_attempts_are_counted_as_they_start() {
        let t = std::sync::Arc::new(LoginThrottle::default());
        let through: usize = std::thread::scope(|s| {
            let handles: Vec<_> = (0..40)
                .map(|_| {
                    let t = &t;
                    s.spawn(move || t.begin("wang", ip(9)).is_ok())
                })
                .collect();
            handles
                .into_iter()
                .map(|h| usize::from(h.join().unwrap_or(false)))
                .sum()
        });
        assert!(through <= 6, "{through} of 40 parallel guesses got through");
    }

    #[test]
    fn many_names_from_one_address_are_slowed_down_and_the_table_stays_bounded() {
        let t = LoginThrottle::default();
        let t0 = Instant::now();
        let through = (0..100)
            .filter(|i| t.begin_at(&format!("user{i}"), ip(3), t0).is_ok())
            .count();
        assert_eq!(through, 30);
        for i in 0..(MAX_ENTRIES as u32) {
            let _ = t.begin_at(
                &format!("n{i}"),
                Some(IpAddr::from(i.to_be_bytes())),
                t0 + WINDOW * 2,
            );
        }
        assert!(t.len() <= MAX_ENTRIES);
    }
}
