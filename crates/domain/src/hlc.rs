//! Hybrid logical clock (HLC) as PROTOCOL.md defines it: (physical ms, counter, device id),
//! written `PPPPPPPPPPPPPPP-CCCCC-device` so that string order is clock order.
//!
//! The clock never reads the system time itself (the domain does no I/O): callers pass
//! their wall time in, and the clock corrects it by the offset to the server measured at
//! the last sync, so a laptop whose clock is days off cannot win every conflict.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::DomainError;

/// Largest physical time the 15-digit field can hold.
pub const MAX_PHYSICAL_MS: u64 = 999_999_999_999_999;
/// Largest counter the 5-digit field can hold; one more tick moves the physical time on.
pub const MAX_COUNTER: u32 = 99_999;
/// How far ahead of a clock's own (corrected) time a stamp from elsewhere is believed.
/// Beyond it the stamp comes from a clock that is wrong: observing it would carry that
/// error into every later stamp of the observer, and from there to everyone it syncs with
/// (one laptop five years ahead stopped the fleet), so it is observed as if it were only
/// this far ahead, and a server stores such a write with a stamp of its own.
pub const MAX_DRIFT_MS: u64 = 5 * 60 * 1000;
/// A laptop whose clock is this far from the server's is told so (its records are kept in
/// server time all the same, by the offset): reports, check-ins and the customer's copy
/// show the laptop's own clock.
pub const CLOCK_WARNING_MS: i64 = 2 * 60 * 1000;

/// How far the laptop's clock runs ahead of the server's (negative: behind), when that is
/// worth telling the engineer; `offset_ms` is server time minus laptop time.
pub fn clock_warning(offset_ms: i64) -> Option<i64> {
    (offset_ms.saturating_abs() >= CLOCK_WARNING_MS).then(|| offset_ms.saturating_neg())
}

/// One timestamp of the hybrid logical clock.
///
/// Ordering is (physical, counter, device), which is also the byte order of its string
/// form: both numeric parts are fixed width.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Hlc {
    physical_ms: u64,
    counter: u32,
    device: String,
}

impl Hlc {
    /// Builds a timestamp, checking the field limits and that the device id cannot
    /// break the string form (no whitespace, not empty).
    pub fn new(
        physical_ms: u64,
        counter: u32,
        device: impl Into<String>,
    ) -> Result<Self, DomainError> {
        let device = device.into();
        if physical_ms > MAX_PHYSICAL_MS {
            return Err(DomainError::InvalidHlc(format!(
                "physical time {physical_ms} exceeds 15 digits"
            )));
        }
        if counter > MAX_COUNTER {
            return Err(DomainError::InvalidHlc(format!(
                "counter {counter} exceeds 5 digits"
            )));
        }
        if device.is_empty() || device.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(DomainError::InvalidHlc(format!(
                "device id {device:?} is empty or has whitespace"
            )));
        }
        Ok(Self {
            physical_ms,
            counter,
            device,
        })
    }

    /// The smallest clock value of a device; every real stamp is after it.
    pub fn zero(device: impl Into<String>) -> Result<Self, DomainError> {
        Self::new(0, 0, device)
    }

    pub fn physical_ms(&self) -> u64 {
        self.physical_ms
    }

    pub fn counter(&self) -> u32 {
        self.counter
    }

    pub fn device(&self) -> &str {
        &self.device
    }

    /// The next value after `(physical, counter)` on the same device, carrying a counter
    /// overflow into the physical part rather than failing.
    fn successor(physical_ms: u64, counter: u32, device: &str) -> Self {
        if counter >= MAX_COUNTER {
            Self {
                physical_ms: physical_ms.saturating_add(1).min(MAX_PHYSICAL_MS),
                counter: 0,
                device: device.to_owned(),
            }
        } else {
            Self {
                physical_ms,
                counter: counter + 1,
                device: device.to_owned(),
            }
        }
    }
}

impl fmt::Display for Hlc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:015}-{:05}-{}",
            self.physical_ms, self.counter, self.device
        )
    }
}

impl FromStr for Hlc {
    type Err = DomainError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || DomainError::InvalidHlc(format!("{s:?} is not PPPPPPPPPPPPPPP-CCCCC-device"));
        let bytes = s.as_bytes();
        if bytes.len() < 23 || bytes[15] != b'-' || bytes[21] != b'-' {
            return Err(bad());
        }
        let physical = &s[..15];
        let counter = &s[16..21];
        if !physical.bytes().all(|b| b.is_ascii_digit())
            || !counter.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(bad());
        }
        let physical_ms = physical.parse().map_err(|_| bad())?;
        let counter = counter.parse().map_err(|_| bad())?;
        Hlc::new(physical_ms, counter, &s[22..])
    }
}

impl Serialize for Hlc {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Hlc {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// The clock of one device: hands out strictly increasing stamps and merges the stamps
/// it receives, so that causality is kept across devices.
#[derive(Debug, Clone)]
pub struct HlcClock {
    last: Hlc,
    /// Server time minus local wall time, in ms, measured at the last sync.
    offset_ms: i64,
}

impl HlcClock {
    /// A clock for `device` that has issued nothing yet.
    pub fn new(device: impl Into<String>) -> Result<Self, DomainError> {
        Ok(Self {
            last: Hlc::zero(device)?,
            offset_ms: 0,
        })
    }

    /// A clock that resumes after `last` (read back from disk), with the stored offset.
    pub fn resume(last: Hlc, offset_ms: i64) -> Self {
        Self { last, offset_ms }
    }

    pub fn last(&self) -> &Hlc {
        &self.last
    }

    pub fn device(&self) -> &str {
        &self.last.device
    }

    pub fn offset_ms(&self) -> i64 {
        self.offset_ms
    }

    /// Records the offset between the server's clock and ours, measured when a response
    /// carrying `server_time` arrived at local wall time `local_now`.
    pub fn set_server_offset(&mut self, server_time: DateTime<Utc>, local_now: DateTime<Utc>) {
        self.offset_ms = server_time.timestamp_millis() - local_now.timestamp_millis();
    }

    /// Our wall time corrected by the measured server offset, as ms since the epoch.
    pub fn corrected_ms(&self, wall: DateTime<Utc>) -> u64 {
        let ms = wall.timestamp_millis().saturating_add(self.offset_ms);
        u64::try_from(ms).unwrap_or(0).min(MAX_PHYSICAL_MS)
    }

    /// A new stamp for a local event: later than every stamp issued or seen before.
    pub fn tick(&mut self, wall: DateTime<Utc>) -> Hlc {
        let now = self.corrected_ms(wall);
        let next = if now > self.last.physical_ms {
            Hlc {
                physical_ms: now,
                counter: 0,
                device: self.last.device.clone(),
            }
        } else {
            Hlc::successor(self.last.physical_ms, self.last.counter, &self.last.device)
        };
        self.last = next.clone();
        next
    }

    /// Merges a stamp received from elsewhere, so that the next local stamp orders after
    /// it (receive rule of the HLC). Returns the stamp of the receive event.
    pub fn observe(&mut self, remote: &Hlc, wall: DateTime<Utc>) -> Hlc {
        let now = self.corrected_ms(wall);
        let remote = &self.believable(remote, now);
        let device = self.last.device.clone();
        let max_physical = now.max(self.last.physical_ms).max(remote.physical_ms);
        let next = if max_physical == now && now > self.last.physical_ms && now > remote.physical_ms
        {
            Hlc {
                physical_ms: now,
                counter: 0,
                device,
            }
        } else {
            let counter = match (
                max_physical == self.last.physical_ms,
                max_physical == remote.physical_ms,
            ) {
                (true, true) => self.last.counter.max(remote.counter),
                (true, false) => self.last.counter,
                (false, true) => remote.counter,
                (false, false) => {
                    // `now` is the maximum but equal to neither: handled by the first branch.
                    0
                }
            };
            Hlc::successor(max_physical, counter, &device)
        };
        self.last = next.clone();
        next
    }

    /// `remote` if it is at most [`MAX_DRIFT_MS`] ahead of `now`, else that limit.
    fn believable(&self, remote: &Hlc, now: u64) -> Hlc {
        let limit = now.saturating_add(MAX_DRIFT_MS).min(MAX_PHYSICAL_MS);
        if remote.physical_ms <= limit {
            remote.clone()
        } else {
            Hlc {
                physical_ms: limit,
                counter: 0,
                device: remote.device.clone(),
            }
        }
    }

    /// Whether `remote` is further ahead of this clock's time than [`MAX_DRIFT_MS`]: it
    /// was stamped by a clock that runs ahead.
    pub fn is_ahead(&self, remote: &Hlc, wall: DateTime<Utc>) -> bool {
        remote.physical_ms > self.corrected_ms(wall).saturating_add(MAX_DRIFT_MS)
    }

    /// The stamp a write made elsewhere and stamped `remote` is kept with: its own when
    /// believable, else a new stamp of this clock (as far as anyone can tell, the write
    /// happened when it arrived). Either way the clock has observed it.
    pub fn accept(&mut self, remote: &Hlc, wall: DateTime<Utc>) -> Hlc {
        if self.is_ahead(remote, wall) {
            self.tick(wall)
        } else {
            self.observe(remote, wall);
            remote.clone()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use proptest::prelude::*;
    use std::cmp::Ordering;

    fn at(ms: i64) -> DateTime<Utc> {
        Utc.timestamp_millis_opt(ms)
            .single()
            .expect("valid test time")
    }

    #[test]
    fn string_form_is_the_protocol_example() {
        let h = Hlc::new(1_795_350_000_000, 0, "0192f0c4-aaaa").expect("valid");
        assert_eq!(h.to_string(), "001795350000000-00000-0192f0c4-aaaa");
        assert_eq!(
            "001795350000000-00000-0192f0c4-aaaa"
                .parse::<Hlc>()
                .expect("parses"),
            h
        );
    }

    #[test]
    fn malformed_strings_are_rejected_with_the_expected_shape() {
        for bad in [
            "",
            "1-2-3",
            "00179535000000-00000-dev",
            "001795350000000-0000a-dev",
            "001795350000000-00000-",
            "001795350000000_00000-dev",
        ] {
            let err = bad.parse::<Hlc>().expect_err(bad);
            assert!(err.to_string().contains("HLC"), "{err}");
        }
    }

    #[test]
    fn counter_overflow_moves_physical_time_on() {
        let mut clock = HlcClock::resume(Hlc::new(1000, MAX_COUNTER, "d").expect("valid"), 0);
        let next = clock.tick(at(500));
        assert_eq!((next.physical_ms(), next.counter()), (1001, 0));
    }

    #[test]
    fn a_laptop_days_ahead_is_corrected_by_the_server_offset() {
        let mut clock = HlcClock::new("laptop").expect("valid");
        let server = at(1_000_000_000);
        let laptop = at(1_000_000_000 + 3 * 24 * 3600 * 1000);
        clock.set_server_offset(server, laptop);
        let stamp = clock.tick(laptop);
        assert_eq!(stamp.physical_ms(), 1_000_000_000);
    }

    #[test]
    fn observing_a_remote_stamp_orders_the_next_local_stamp_after_it() {
        let mut clock = HlcClock::new("a").expect("valid");
        let remote = Hlc::new(5_000, 7, "b").expect("valid");
        let received = clock.observe(&remote, at(1_000));
        assert!(received > remote);
        let next = clock.tick(at(1_000));
        assert!(next > received);
        assert_eq!(next.physical_ms(), 5_000);
    }

    #[test]
    fn a_stamp_years_ahead_does_not_drag_the_observer_with_it() {
        let now = 1_795_350_000_000;
        let mut server = HlcClock::new("server").expect("valid");
        let five_years = 5 * 365 * 24 * 3600 * 1000;
        let poisoned = Hlc::new(now as u64 + five_years, 0, "broken").expect("valid");
        assert!(server.is_ahead(&poisoned, at(now)));
        server.observe(&poisoned, at(now));
        let next = server.tick(at(now));
        assert!(
            next.physical_ms() <= now as u64 + MAX_DRIFT_MS + 1,
            "the server's own stamps stay within the drift: {next}"
        );
        // A write stamped so far ahead is kept with the server's stamp instead.
        let kept = server.accept(&poisoned, at(now + 1));
        assert_eq!(kept.device(), "server");
        assert!(kept > next && kept.physical_ms() < now as u64 + MAX_DRIFT_MS + 10);
        // A believable stamp is kept as it is, and observed.
        let fine = Hlc::new(now as u64 + 60_000, 3, "laptop").expect("valid");
        assert_eq!(server.accept(&fine, at(now + 2)), fine);
        assert!(server.tick(at(now + 3)) > fine);
    }

    proptest! {
        #[test]
        fn ticks_are_strictly_monotonic_whatever_the_wall_clock_does(
            walls in proptest::collection::vec(0i64..2_000_000_000_000, 1..200),
            offset in -10_000_000i64..10_000_000,
        ) {
            let mut clock = HlcClock::new("dev-1").expect("valid");
            clock.offset_ms = offset;
            let mut previous = clock.last().clone();
            for w in walls {
                let next = clock.tick(at(w));
                prop_assert!(next > previous);
                previous = next;
            }
        }

        #[test]
        fn receive_keeps_monotonicity_and_causality(
            events in proptest::collection::vec((0i64..2_000_000_000_000, 0u64..2_000_000_000_000, 0u32..=MAX_COUNTER, any::<bool>()), 1..200),
        ) {
            let mut clock = HlcClock::new("dev-1").expect("valid");
            let mut previous = clock.last().clone();
            for (wall, rp, rc, is_receive) in events {
                let next = if is_receive {
                    let remote = Hlc::new(rp, rc, "dev-2").expect("valid");
                    let believable = !clock.is_ahead(&remote, at(wall));
                    let ceiling = clock.last().physical_ms().max(u64::try_from(wall).unwrap_or(0) + MAX_DRIFT_MS) + 1;
                    let n = clock.observe(&remote, at(wall));
                    // Causality for every stamp within the drift; one from a clock further
                    // ahead drags the observer no further than the drift.
                    if believable {
                        prop_assert!(n > remote);
                    } else {
                        prop_assert!(n.physical_ms() <= ceiling);
                    }
                    n
                } else {
                    clock.tick(at(wall))
                };
                prop_assert!(next > previous);
                previous = next;
            }
        }

        #[test]
        fn string_order_equals_clock_order(
            a in (0u64..=MAX_PHYSICAL_MS, 0u32..=MAX_COUNTER, "[a-z0-9-]{1,12}"),
            b in (0u64..=MAX_PHYSICAL_MS, 0u32..=MAX_COUNTER, "[a-z0-9-]{1,12}"),
        ) {
            let ha = Hlc::new(a.0, a.1, a.2).expect("valid");
            let hb = Hlc::new(b.0, b.1, b.2).expect("valid");
            prop_assert_eq!(ha.cmp(&hb), ha.to_string().cmp(&hb.to_string()));
            prop_assert_eq!(ha.to_string().parse::<Hlc>().expect("round trip"), ha);
        }

        #[test]
        fn order_is_total_and_antisymmetric(
            a in (0u64..1000, 0u32..10, "[ab]"),
            b in (0u64..1000, 0u32..10, "[ab]"),
        ) {
            let ha = Hlc::new(a.0, a.1, a.2).expect("valid");
            let hb = Hlc::new(b.0, b.1, b.2).expect("valid");
            prop_assert_eq!(ha.cmp(&hb), hb.cmp(&ha).reverse());
            prop_assert_eq!(ha == hb, ha.cmp(&hb) == Ordering::Equal);
        }
    }
}
