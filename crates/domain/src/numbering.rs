//! Record numbers 编号: department code + YY + MM + `-` + sequence, e.g. `SC2611-07`.
//!
//! A number is taken from its series ([`Series`]) by the server, in the transaction that
//! makes the record it numbers: the work order when it is registered, the 外出服务记录表
//! when the order is completed or resolved remotely. So a series has no gap and no number
//! is held by a laptop that may never use it; a form printed offline before its number
//! exists says it is provisional. `POST /v1/numbers/lease` ([`next_block`]) still hands a
//! block to a caller that numbers records of its own.

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

/// The widest sequence a server may be configured with (`--number-width`).
pub const MAX_WIDTH: u8 = 6;

/// The numbered series of the electrical seed (4.5.2.1/4.5.2.2): the 处理单 (the work
/// order) numbered by the department that issues it, the 外出服务记录表 by the service
/// department. Each has its own sequence per department and month, in the same format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Series {
    Order,
    FieldService,
}

impl Series {
    /// The key a server keeps the series' last number under, for `period`.
    pub fn key(self, period: Period) -> String {
        match self {
            Series::Order => format!("{:04}-{:02}", period.year, period.month),
            Series::FieldService => format!("FS-{:04}-{:02}", period.year, period.month),
        }
    }
}

/// A record waiting for a number because its series was full that month.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Waiting {
    pub department: Department,
    /// The local date the record was made: the month whose series numbers it.
    pub made_on: NaiveDate,
    /// The highest number that month held (99 at width 2).
    pub max: u32,
}

/// Checks a configured sequence width.
pub fn check_width(width: u8) -> Result<u8, DomainError> {
    if (DEFAULT_WIDTH..=MAX_WIDTH).contains(&width) {
        Ok(width)
    } else {
        Err(DomainError::Invalid {
            field: "number_width",
            message: format!(
                "a sequence is {DEFAULT_WIDTH} to {MAX_WIDTH} digits wide (the manuals use {DEFAULT_WIDTH}: 01–99)"
            ),
        })
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

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
}
