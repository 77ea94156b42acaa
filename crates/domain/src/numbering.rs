//! Record numbers 编号: department code + YY + MM + `-` + sequence, e.g. `SC2611-07`.
//!
//! Numbers are printed on site, offline, so the server leases each device a block in
//! advance ([`next_block`] on the server, [`NumberPool`] on the device). A device that runs
//! out offline issues a provisional number (`SC2611-P1A2B3C4D-001`) that sync replaces;
//! provisional numbers carry the device's id, so two devices never issue the same one.

use std::fmt;

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

use crate::DomainError;

/// The departments of the manuals, with their pinyin-initial codes.
pub const DEPARTMENTS: [(&str, &str, &str); 5] = [
    ("SC", "生产部", "Production"),
    ("SJ", "数据工程部", "Data Engineering"),
    ("HY", "行业应用部", "Industry Applications"),
    ("YF", "研发部", "R&D"),
    ("YX", "营销中心", "Marketing Center"),
];

/// Record numbers are dated in China's time zone (UTC+8), wherever the clock is.
pub const NUMBERING_UTC_OFFSET_SECS: i32 = 8 * 3600;

/// The local date a record number made at `now` is dated with.
pub fn numbering_date(now: chrono::DateTime<chrono::Utc>) -> NaiveDate {
    (now + chrono::Duration::seconds(i64::from(NUMBERING_UTC_OFFSET_SECS))).date_naive()
}

/// The default sequence width: the manuals number 01–99.
pub const DEFAULT_WIDTH: u8 = 2;

/// A department code: 2–4 upper-case ASCII letters (pinyin initials).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(try_from = "String", into = "String")]
pub struct Department(String);

impl Department {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The zh-CN name of a known department.
    pub fn name_zh(&self) -> Option<&'static str> {
        DEPARTMENTS.iter().find(|d| d.0 == self.0).map(|d| d.1)
    }
}

impl TryFrom<String> for Department {
    type Error = DomainError;
    fn try_from(code: String) -> Result<Self, DomainError> {
        if (2..=4).contains(&code.len()) && code.bytes().all(|b| b.is_ascii_uppercase()) {
            Ok(Department(code))
        } else {
            Err(DomainError::Invalid {
                field: "department",
                message: format!(
                    "{code:?} is not a department code: use 2–4 upper-case pinyin initials such as SC"
                ),
            })
        }
    }
}

impl std::str::FromStr for Department {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, DomainError> {
        Department::try_from(s.to_owned())
    }
}

impl From<Department> for String {
    fn from(d: Department) -> String {
        d.0
    }
}

impl fmt::Display for Department {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The `YYMM` period a number belongs to (local date of issue).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Period {
    pub year: i32,
    pub month: u32,
}

impl Period {
    pub fn of(date: NaiveDate) -> Period {
        Period {
            year: date.year(),
            month: date.month(),
        }
    }

    fn yymm(self) -> String {
        format!("{:02}{:02}", self.year.rem_euclid(100), self.month)
    }
}

/// The number `seq` of `dept` in `period`, zero-padded to `width` digits.
pub fn format_number(
    dept: &Department,
    period: Period,
    seq: u32,
    width: u8,
) -> Result<String, DomainError> {
    let max = max_sequence(width)?;
    if seq == 0 || seq > max {
        return Err(DomainError::NumbersExhausted {
            department: dept.to_string(),
            max,
        });
    }
    Ok(format!(
        "{dept}{}-{seq:0width$}",
        period.yymm(),
        width = usize::from(width)
    ))
}

fn max_sequence(width: u8) -> Result<u32, DomainError> {
    if !(1..=6).contains(&width) {
        return Err(DomainError::Invalid {
            field: "width",
            message: format!("sequence width {width} is not 1–6"),
        });
    }
    Ok(10u32.pow(u32::from(width)) - 1)
}

/// A parsed record number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordNumber {
    pub department: Department,
    /// Two-digit year and month, as printed.
    pub yymm: String,
    /// `None` for a provisional number.
    pub sequence: Option<u32>,
}

impl RecordNumber {
    pub fn parse(s: &str) -> Result<RecordNumber, DomainError> {
        let bad = || DomainError::Invalid {
            field: "number",
            message: format!("{s:?} is not a record number like SC2611-07"),
        };
        let (head, tail) = s.split_once('-').ok_or_else(bad)?;
        if head.len() < 6 || !head.is_ascii() {
            return Err(bad());
        }
        let (dept, yymm) = head.split_at(head.len() - 4);
        if !yymm.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let month: u32 = yymm[2..].parse().map_err(|_| bad())?;
        if !(1..=12).contains(&month) {
            return Err(bad());
        }
        let department = Department::try_from(dept.to_owned()).map_err(|_| bad())?;
        let sequence = if is_provisional(s) {
            None
        } else if !tail.is_empty() && tail.bytes().all(|b| b.is_ascii_digit()) {
            Some(tail.parse().map_err(|_| bad())?)
        } else {
            return Err(bad());
        };
        Ok(RecordNumber {
            department,
            yymm: yymm.to_owned(),
            sequence,
        })
    }
}

/// Whether `number` is a provisional number waiting to be replaced by sync.
pub fn is_provisional(number: &str) -> bool {
    number
        .split_once('-')
        .is_some_and(|(_, tail)| tail.starts_with('P'))
}

/// The most numbers one lease hands out: a laptop tops up its stock 20 at a time, and a
/// department's month holds 99 at the default width, so a bigger lease would let one
/// caller empty it.
pub const MAX_LEASE: u32 = 20;

/// Whether a user of `role` in `own` department may lease `count` numbers of `department`:
/// an engineer numbers the records of their own department only; nobody takes more than
/// [`MAX_LEASE`] at once.
pub fn check_lease(
    role: crate::Role,
    own: Option<&str>,
    department: &Department,
    count: u32,
) -> Result<(), DomainError> {
    if count == 0 || count > MAX_LEASE {
        return Err(DomainError::Invalid {
            field: "count",
            message: format!("lease 1 to {MAX_LEASE} numbers at a time"),
        });
    }
    if role == crate::Role::Engineer && own != Some(department.as_str()) {
        return Err(DomainError::NotYours {
            entity: crate::Entity::WorkOrder,
            action: "number records of",
            field: Some(format!("department {department}")),
            role,
        });
    }
    Ok(())
}

/// Server side: the next `count` numbers after `last_issued` (0 when none yet) in one
/// department and period. Fails, issuing nothing, when the block would pass the width.
pub fn next_block(
    dept: &Department,
    period: Period,
    last_issued: u32,
    count: u32,
    width: u8,
) -> Result<Vec<String>, DomainError> {
    let max = max_sequence(width)?;
    if count == 0 || count > 1000 {
        return Err(DomainError::Invalid {
            field: "count",
            message: format!("lease 1–1000 numbers, not {count}"),
        });
    }
    let last = last_issued.checked_add(count).filter(|l| *l <= max).ok_or(
        DomainError::NumbersExhausted {
            department: dept.to_string(),
            max,
        },
    )?;
    (last_issued + 1..=last)
        .map(|seq| format_number(dept, period, seq, width))
        .collect()
}

/// Eight hex digits naming a device in its provisional numbers: from a hash of the whole
/// device id, because the leading digits of UUIDv7 ids are a timestamp that two laptops
/// set up in the same minute share.
pub fn device_code(device_id: &str) -> String {
    crate::signature::sha256_hex(device_id.as_bytes())[..8].to_ascii_uppercase()
}

/// A number handed out on the device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct IssuedNumber {
    pub number: String,
    pub provisional: bool,
}

/// Device side: the numbers leased to this device, used in order, with the provisional
/// fallback when none is left for the department and month.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct NumberPool {
    /// Leased, unused numbers in the order the server issued them.
    pub leased: Vec<String>,
    /// How many provisional numbers this device has issued (never reused).
    pub provisional_issued: u32,
}

impl NumberPool {
    /// Issues the next number of `dept` for a record made on `local_date`. Leased numbers
    /// of an earlier month are dropped (their month is over; a gap is better than a number
    /// dated in the wrong month).
    pub fn issue(
        &mut self,
        dept: &Department,
        local_date: NaiveDate,
        device_id: &str,
    ) -> IssuedNumber {
        let period = Period::of(local_date);
        let prefix = format!("{dept}{}-", period.yymm());
        self.leased.retain(|n| {
            RecordNumber::parse(n)
                .is_ok_and(|r| r.yymm.as_str() >= period.yymm().as_str() || r.department != *dept)
        });
        if let Some(pos) = self.leased.iter().position(|n| n.starts_with(&prefix)) {
            return IssuedNumber {
                number: self.leased.remove(pos),
                provisional: false,
            };
        }
        self.provisional_issued += 1;
        let device = device_code(device_id);
        IssuedNumber {
            number: format!("{prefix}P{device}-{:03}", self.provisional_issued),
            provisional: true,
        }
    }

    /// How many leased numbers remain for `dept` in the month of `local_date`; the sync
    /// engine leases more when this runs low.
    pub fn remaining(&self, dept: &Department, local_date: NaiveDate) -> usize {
        let prefix = format!("{dept}{}-", Period::of(local_date).yymm());
        self.leased
            .iter()
            .filter(|n| n.starts_with(&prefix))
            .count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn sc() -> Department {
        "SC".parse().expect("valid")
    }

    fn nov() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 22).expect("valid")
    }

    #[test]
    fn numbers_look_like_the_manuals() {
        let p = Period::of(nov());
        assert_eq!(format_number(&sc(), p, 7, 2).expect("fits"), "SC2611-07");
        assert_eq!(format_number(&sc(), p, 7, 4).expect("fits"), "SC2611-0007");
        assert!(matches!(
            format_number(&sc(), p, 100, 2),
            Err(DomainError::NumbersExhausted { max: 99, .. })
        ));
        let parsed = RecordNumber::parse("SC2611-07").expect("parses");
        assert_eq!(
            (
                parsed.department.as_str(),
                parsed.yymm.as_str(),
                parsed.sequence
            ),
            ("SC", "2611", Some(7))
        );
    }

    #[test]
    fn numbers_are_dated_in_china_whatever_the_utc_date() {
        use chrono::TimeZone;
        let late_utc = chrono::Utc
            .with_ymd_and_hms(2026, 11, 30, 17, 0, 0)
            .single()
            .expect("valid");
        assert_eq!(
            numbering_date(late_utc),
            NaiveDate::from_ymd_opt(2026, 12, 1).expect("valid"),
            "01:00 on 1 December in Beijing"
        );
    }

    #[test]
    fn department_codes_are_checked() {
        assert!("sc".parse::<Department>().is_err());
        assert!("S".parse::<Department>().is_err());
        assert_eq!(
            "YX".parse::<Department>().expect("valid").name_zh(),
            Some("营销中心")
        );
    }

    #[test]
    fn blocks_continue_and_never_pass_the_width() {
        let p = Period::of(nov());
        let first = next_block(&sc(), p, 0, 3, 2).expect("fits");
        assert_eq!(first, ["SC2611-01", "SC2611-02", "SC2611-03"]);
        assert_eq!(
            next_block(&sc(), p, 3, 2, 2).expect("fits"),
            ["SC2611-04", "SC2611-05"]
        );
        assert!(next_block(&sc(), p, 98, 2, 2).is_err());
        assert_eq!(next_block(&sc(), p, 98, 1, 2).expect("fits"), ["SC2611-99"]);
    }

    #[test]
    fn a_device_uses_its_lease_then_falls_back_to_provisional_numbers() {
        let mut pool = NumberPool {
            leased: vec!["SC2611-21".into(), "SC2611-22".into()],
            provisional_issued: 0,
        };
        let dev = "0192f0c4-7a1b-7000-8000-000000000001";
        assert_eq!(
            pool.issue(&sc(), nov(), dev),
            IssuedNumber {
                number: "SC2611-21".into(),
                provisional: false
            }
        );
        assert_eq!(pool.issue(&sc(), nov(), dev).number, "SC2611-22");
        let p = pool.issue(&sc(), nov(), dev);
        assert!(p.provisional);
        let code = device_code(dev);
        assert_eq!(p.number, format!("SC2611-P{code}-001"));
        assert!(is_provisional(&p.number));
        assert_eq!(
            RecordNumber::parse(&p.number).expect("parses").sequence,
            None
        );
        assert_eq!(
            pool.issue(&sc(), nov(), dev).number,
            format!("SC2611-P{code}-002")
        );
    }

    #[test]
    fn laptops_set_up_in_the_same_minute_get_different_provisional_numbers() {
        // UUIDv7 ids made a few milliseconds apart share their first 8 hex digits.
        let a = "0192f0c4-7a1b-7000-8000-00000000000a";
        let b = "0192f0c4-7a1c-7000-8000-00000000000b";
        assert_ne!(device_code(a), device_code(b));
        let mut pa = NumberPool::default();
        let mut pb = NumberPool::default();
        assert_ne!(
            pa.issue(&sc(), nov(), a).number,
            pb.issue(&sc(), nov(), b).number
        );
    }

    #[test]
    fn leased_numbers_of_a_past_month_are_not_used() {
        let mut pool = NumberPool {
            leased: vec!["SC2610-98".into(), "SC2611-03".into()],
            provisional_issued: 0,
        };
        assert_eq!(pool.issue(&sc(), nov(), "ab").number, "SC2611-03");
        assert!(pool.leased.is_empty());
    }

    #[test]
    fn two_devices_never_issue_the_same_number() {
        let p = Period::of(nov());
        let block_a = next_block(&sc(), p, 0, 5, 2).expect("fits");
        let block_b = next_block(&sc(), p, 5, 5, 2).expect("fits");
        let mut a = NumberPool {
            leased: block_a,
            provisional_issued: 0,
        };
        let mut b = NumberPool {
            leased: block_b,
            provisional_issued: 0,
        };
        let mut seen = HashSet::new();
        for _ in 0..20 {
            assert!(seen.insert(a.issue(&sc(), nov(), "aaaaaaaa-1").number));
            assert!(seen.insert(b.issue(&sc(), nov(), "bbbbbbbb-2").number));
        }
    }
}
