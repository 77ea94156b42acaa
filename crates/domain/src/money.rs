//! Money in integer fen (分) and quantities in hundredths, with the one rounding rule
//! every price uses: half away from zero, to the fen.
//!
//! Money is never a float. A percentage is held in basis points (1 % = 100 bp), so
//! 15 % tax is `Rate::from_bp(1500)`.

use std::fmt;
use std::iter::Sum;
use std::ops::{Add, AddAssign, Sub};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::DomainError;

/// An amount of money in fen (1 元 = 100 分). Serialised as a bare integer.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(transparent)]
pub struct Fen(pub i64);

impl Fen {
    pub const ZERO: Fen = Fen(0);

    /// `yuan` whole 元.
    pub const fn yuan(yuan: i64) -> Fen {
        Fen(yuan * 100)
    }

    pub const fn fen(self) -> i64 {
        self.0
    }

    /// This amount times `rate`, rounded half away from zero to the fen.
    pub fn percent(self, rate: Rate) -> Fen {
        Fen(div_round_half_away(
            i128::from(self.0) * i128::from(rate.0),
            10_000,
        ))
    }

    /// This unit price times `quantity`, rounded half away from zero to the fen.
    pub fn times(self, quantity: Quantity) -> Fen {
        Fen(div_round_half_away(
            i128::from(self.0) * i128::from(quantity.0),
            100,
        ))
    }

    pub fn checked_add(self, other: Fen) -> Option<Fen> {
        self.0.checked_add(other.0).map(Fen)
    }

    /// Reads an amount typed in 元 (`86.5`, `1,234.50`, `¥30`): at most two decimals, not
    /// negative, below a hundred million 元; anything else is refused with what to type.
    pub fn parse_yuan(text: &str) -> Result<Fen, DomainError> {
        let bad = || DomainError::Invalid {
            field: "amount",
            message: format!(
                "{text:?} is not an amount: type 元 with at most two decimals, e.g. 86.50"
            ),
        };
        let t: String = text
            .trim()
            .trim_start_matches(['¥', '￥'])
            .chars()
            .filter(|c| *c != ',' && *c != '，')
            .collect();
        let (whole, cents) = t.split_once('.').unwrap_or((t.as_str(), ""));
        if whole.is_empty()
            || whole.len() > 8
            || cents.len() > 2
            || !whole.chars().all(|c| c.is_ascii_digit())
            || !cents.chars().all(|c| c.is_ascii_digit())
        {
            return Err(bad());
        }
        let whole: i64 = whole.parse().map_err(|_| bad())?;
        let cents: i64 = format!("{cents:0<2}").parse().map_err(|_| bad())?;
        Ok(Fen(whole * 100 + cents))
    }

    /// `1234.50`: 元 with exactly two decimals, no currency sign (documents add their own).
    pub fn to_yuan_string(self) -> String {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        format!("{sign}{}.{:02}", abs / 100, abs % 100)
    }
}

impl fmt::Display for Fen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} 元", self.to_yuan_string())
    }
}

impl Add for Fen {
    type Output = Fen;
    fn add(self, rhs: Fen) -> Fen {
        Fen(self.0 + rhs.0)
    }
}

impl AddAssign for Fen {
    fn add_assign(&mut self, rhs: Fen) {
        self.0 += rhs.0;
    }
}

impl Sub for Fen {
    type Output = Fen;
    fn sub(self, rhs: Fen) -> Fen {
        Fen(self.0 - rhs.0)
    }
}

impl Sum for Fen {
    fn sum<I: Iterator<Item = Fen>>(iter: I) -> Fen {
        iter.fold(Fen::ZERO, Add::add)
    }
}

/// A rate in basis points: 1500 = 15 %.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(transparent)]
pub struct Rate(pub u32);

impl Rate {
    pub const fn from_bp(bp: u32) -> Rate {
        Rate(bp)
    }
    pub const fn percent(p: u32) -> Rate {
        Rate(p * 100)
    }
    pub const fn bp(self) -> u32 {
        self.0
    }
}

/// A non-negative quantity with two decimals (1.5 days, 3 pieces), held in hundredths.
/// Serialised as a JSON number (`1.5`); more than two decimals or a negative value is
/// refused rather than rounded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Quantity(u64);

impl Quantity {
    pub const ZERO: Quantity = Quantity(0);

    pub const fn whole(n: u64) -> Quantity {
        Quantity(n * 100)
    }

    pub const fn from_hundredths(h: u64) -> Quantity {
        Quantity(h)
    }

    pub const fn hundredths(self) -> u64 {
        self.0
    }

    /// The quantity as a whole number, if it is one.
    pub fn as_whole(self) -> Option<u64> {
        self.0.is_multiple_of(100).then_some(self.0 / 100)
    }

    /// Parses `f`, refusing negatives, non-finite values and more than two decimals.
    pub fn from_f64(f: f64) -> Result<Quantity, DomainError> {
        if !f.is_finite() || !(0.0..=1e12).contains(&f) {
            return Err(DomainError::InvalidQuantity(format!(
                "{f} is not a quantity: use a number from 0 upwards"
            )));
        }
        let scaled = (f * 100.0).round();
        if (scaled - f * 100.0).abs() > 1e-6 {
            return Err(DomainError::InvalidQuantity(format!(
                "{f} has more than two decimals"
            )));
        }
        // In range: checked above, and the value is a non-negative integer.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        Ok(Quantity(scaled as u64))
    }

    pub fn to_f64(self) -> f64 {
        // Quantities stay far below 2^53 hundredths.
        #[allow(clippy::cast_precision_loss)]
        let v = self.0 as f64 / 100.0;
        v
    }
}

impl fmt::Display for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.0 / 100, self.0 % 100) {
            (w, 0) => write!(f, "{w}"),
            (w, h) if h % 10 == 0 => write!(f, "{w}.{}", h / 10),
            (w, h) => write!(f, "{w}.{h:02}"),
        }
    }
}

impl Serialize for Quantity {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.as_whole() {
            Some(w) => s.serialize_u64(w),
            None => s.serialize_f64(self.to_f64()),
        }
    }
}

impl<'de> Deserialize<'de> for Quantity {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let f = f64::deserialize(d)?;
        Quantity::from_f64(f).map_err(serde::de::Error::custom)
    }
}

/// `n / d` rounded half away from zero (d > 0). The rounding rule of every fee.
fn div_round_half_away(n: i128, d: i128) -> i64 {
    let q = n / d;
    let r = n % d;
    let q = if 2 * r.abs() >= d { q + n.signum() } else { q };
    i64::try_from(q).unwrap_or(if q < 0 { i64::MIN } else { i64::MAX })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_rounds_half_away_from_zero_to_the_fen() {
        // 0.5 fen and more rounds up: 10 fen * 15 % = 1.5 fen -> 2 fen.
        assert_eq!(Fen(10).percent(Rate::percent(15)), Fen(2));
        // 9 fen * 15 % = 1.35 fen -> 1 fen.
        assert_eq!(Fen(9).percent(Rate::percent(15)), Fen(1));
        // Negative (a credit) rounds away from zero too: -10 * 15 % = -1.5 -> -2.
        assert_eq!(Fen(-10).percent(Rate::percent(15)), Fen(-2));
    }

    #[test]
    fn unit_price_times_fractional_quantity() {
        // 200 元/day * 1.5 days = 300 元.
        assert_eq!(
            Fen::yuan(200).times(Quantity::from_hundredths(150)),
            Fen::yuan(300)
        );
        // 0.33 * 1 fen = 0.33 fen -> 0.
        assert_eq!(Fen(1).times(Quantity::from_hundredths(33)), Fen(0));
        // 0.5 * 1 fen = 0.5 fen -> 1.
        assert_eq!(Fen(1).times(Quantity::from_hundredths(50)), Fen(1));
    }

    #[test]
    fn yuan_string_has_two_decimals() {
        assert_eq!(Fen(123_450).to_yuan_string(), "1234.50");
        assert_eq!(Fen(5).to_yuan_string(), "0.05");
        assert_eq!(Fen(-5).to_yuan_string(), "-0.05");
        assert_eq!(Fen(100).to_string(), "1.00 元");
    }

    #[test]
    fn quantity_json_round_trip_and_refusals() {
        let q: Quantity = serde_json::from_str("1.5").expect("1.5 is a quantity");
        assert_eq!(q, Quantity::from_hundredths(150));
        assert_eq!(serde_json::to_string(&q).expect("serialises"), "1.5");
        assert_eq!(
            serde_json::to_string(&Quantity::whole(3)).expect("serialises"),
            "3"
        );
        assert!(serde_json::from_str::<Quantity>("-1").is_err());
        assert!(serde_json::from_str::<Quantity>("1.234").is_err());
        assert_eq!(Quantity::from_hundredths(125).to_string(), "1.25");
    }
}
