//! Fault levels and SLA deadlines 故障等级. The levels and their times are data (synced
//! configuration); [`SlaConfig::default`] is the table of DOMAIN.md.
//!
//! Every deadline counts from `reported_at`, except the repair's:
//! - respond by = reported + respond window;
//! - on site by = reported + on-site window (none for levels solved remotely). Level 1's
//!   two hours hold in the main city area (主城区最快到场时间为2小时); outside it the
//!   engineer takes the fastest local transport, and the window is the level's
//!   `on_site_outside_main_city_minutes` (none by default: no fixed time). Level 2's
//!   window is configured within the seed's 12–48 h (`SlaConfig::check`);
//! - repair by = arrival + repair window (24 h simple, 48 h complex: "现场维修需在24
//!   小时内完成"); before the engineer has arrived, on site by + repair window, the latest
//!   the repair can be due; none when there is no on-site deadline and no arrival.
//!
//! A deadline is met when the event happens at or before it: exactly on the deadline is
//! on time, one minute later is overdue.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::DomainError;
use crate::work_order::Status;

/// One row of the fault-level table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct FaultLevel {
    pub level: u8,
    pub name_zh: String,
    pub name_en: String,
    pub meaning_zh: String,
    pub meaning_en: String,
    pub respond_within_minutes: i64,
    /// `None`: solved remotely, nobody is due on site.
    pub on_site_within_minutes: Option<i64>,
    /// The on-site window of a site outside the main city area, when it differs (level 1:
    /// the two hours are the main city's); `None` there: no fixed time.
    #[serde(default)]
    pub on_site_outside_main_city_minutes: Option<i64>,
    /// Whether the main-city distinction applies to this level (level 1 in the seed).
    #[serde(default)]
    pub main_city_only: bool,
}

/// What an order's deadlines depend on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlaTerms {
    pub level: u8,
    pub reported_at: DateTime<Utc>,
    pub complex: bool,
    /// The site is outside the main city area (主城区).
    pub outside_main_city: bool,
    /// When the engineer arrived on site (the step to 已到场), once they have.
    pub arrived_at: Option<DateTime<Utc>>,
}

impl SlaTerms {
    /// The terms of `order`.
    pub fn of(order: &crate::work_order::WorkOrder) -> SlaTerms {
        SlaTerms {
            level: order.fault_level,
            reported_at: order.reported_at,
            complex: order.complex,
            outside_main_city: order.outside_main_city,
            arrived_at: order.arrived_at,
        }
    }
}

/// The SLA configuration, versioned and synced from the server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct SlaConfig {
    pub version: u32,
    pub levels: Vec<FaultLevel>,
    pub repair_simple_minutes: i64,
    pub repair_complex_minutes: i64,
    /// Customer service registers a request within this time (2 h).
    pub register_within_minutes: i64,
}

impl Default for SlaConfig {
    /// DOMAIN.md's table (one seed's table 2). Level 2's on-site window is given there as
    /// "12–48 h if on-site needed": the deadline is the outer bound, 48 h.
    fn default() -> Self {
        let level =
            |level, zh: &str, en: &str, mzh: &str, men: &str, respond, on_site| FaultLevel {
                level,
                name_zh: zh.into(),
                name_en: en.into(),
                meaning_zh: mzh.into(),
                meaning_en: men.into(),
                respond_within_minutes: respond,
                on_site_within_minutes: on_site,
                on_site_outside_main_city_minutes: None,
                main_city_only: level == 1,
            };
        SlaConfig {
            version: 1,
            levels: vec![
                level(
                    1,
                    "一级",
                    "Level 1",
                    "系统瘫痪或业务中断",
                    "system down or service interrupted",
                    10,
                    Some(2 * 60),
                ),
                level(
                    2,
                    "二级",
                    "Level 2",
                    "主要部件或功能丧失、性能下降",
                    "major part or function lost, degraded",
                    60,
                    Some(48 * 60),
                ),
                level(
                    3,
                    "三级",
                    "Level 3",
                    "部件损坏，可能影响系统",
                    "component damaged, may affect the system",
                    2 * 60,
                    Some(72 * 60),
                ),
                level(
                    4,
                    "四级",
                    "Level 4",
                    "用户操作问题或轻微故障",
                    "user error or minor, not a system fault",
                    2 * 60,
                    None,
                ),
            ],
            repair_simple_minutes: 24 * 60,
            repair_complex_minutes: 48 * 60,
            register_within_minutes: 2 * 60,
        }
    }
}

/// The deadlines of one order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Deadlines {
    pub respond_by: DateTime<Utc>,
    pub on_site_by: Option<DateTime<Utc>>,
    pub repair_by: Option<DateTime<Utc>>,
}

/// Which deadline an order is working against now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(rename = "SlaMilestone"))]
#[serde(rename_all = "snake_case")]
pub enum Milestone {
    Respond,
    OnSite,
    Repair,
    /// The visit time agreed when the order was postponed (the customer's site was not
    /// ready): what a postponed order works against, not its original SLA.
    AgreedVisit,
}

/// Time left before a deadline, or how late it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case", tag = "state", content = "seconds")]
pub enum Countdown {
    /// Seconds left; 0 means due exactly now, still on time.
    Remaining(i64),
    /// Seconds past the deadline (> 0).
    Overdue(i64),
}

impl Countdown {
    pub fn is_overdue(self) -> bool {
        matches!(self, Countdown::Overdue(_))
    }
}

impl SlaConfig {
    pub fn level(&self, level: u8) -> Result<&FaultLevel, DomainError> {
        self.levels
            .iter()
            .find(|l| l.level == level)
            .ok_or(DomainError::UnknownFaultLevel(level))
    }

    /// Deadlines of an order on `terms` (the rules at the top of this file).
    pub fn deadlines(&self, terms: SlaTerms) -> Result<Deadlines, DomainError> {
        let l = self.level(terms.level)?;
        let reported_at = terms.reported_at;
        let respond_by = reported_at + Duration::minutes(l.respond_within_minutes);
        let on_site_window = if l.main_city_only && terms.outside_main_city {
            l.on_site_outside_main_city_minutes
        } else {
            l.on_site_within_minutes
        };
        let on_site_by = on_site_window.map(|m| reported_at + Duration::minutes(m));
        let repair = Duration::minutes(if terms.complex {
            self.repair_complex_minutes
        } else {
            self.repair_simple_minutes
        });
        let repair_by = terms.arrived_at.or(on_site_by).map(|t| t + repair);
        Ok(Deadlines {
            respond_by,
            on_site_by,
            repair_by,
        })
    }

    /// A configuration the seed allows: every level's windows positive, level 2's on-site
    /// window within 12–48 h (如需现场解决，12-48小时内抵达现场), repairs positive.
    pub fn check(&self) -> Result<(), DomainError> {
        let invalid = |message: String| DomainError::Invalid {
            field: "fault_levels",
            message,
        };
        for l in &self.levels {
            let windows = [
                Some(l.respond_within_minutes),
                l.on_site_within_minutes,
                l.on_site_outside_main_city_minutes,
            ];
            if windows.into_iter().flatten().any(|m| m <= 0) {
                return Err(invalid(format!(
                    "level {}: every time window is above 0 minutes",
                    l.level
                )));
            }
            if l.level == 2
                && let Some(m) = l.on_site_within_minutes
                && !(12 * 60..=48 * 60).contains(&m)
            {
                return Err(invalid(format!(
                    "level 2 is on site within 12–48 h (the seed's table 2); {} h was given",
                    m / 60
                )));
            }
        }
        if self.repair_simple_minutes <= 0
            || self.repair_complex_minutes < self.repair_simple_minutes
        {
            return Err(invalid(
                "a simple repair takes above 0 minutes and a complex one at least as long".into(),
            ));
        }
        Ok(())
    }
}

impl Deadlines {
    /// The deadline that matters in `status`, if any: respond until accepted, be on site
    /// until arrived, finish the repair until it waits for a signature.
    pub fn current(&self, status: Status) -> Option<(Milestone, DateTime<Utc>)> {
        match status {
            Status::New | Status::Assigned => Some((Milestone::Respond, self.respond_by)),
            Status::Accepted | Status::EnRoute | Status::Postponed => {
                self.on_site_by.map(|t| (Milestone::OnSite, t))
            }
            Status::OnSite
            | Status::Diagnosing
            | Status::Quoted
            | Status::Approved
            | Status::Declined
            | Status::InRepair
            | Status::Testing => self.repair_by.map(|t| (Milestone::Repair, t)),
            Status::AwaitingSignature
            | Status::Completed
            | Status::Closed
            | Status::Cancelled
            | Status::Remote => None,
        }
    }

    /// The deadline an order shows and is sorted by: [`Deadlines::current`], except that a
    /// postponed order with an agreed visit time works against that time.
    pub fn due(
        &self,
        status: Status,
        agreed_visit: Option<DateTime<Utc>>,
    ) -> Option<(Milestone, DateTime<Utc>)> {
        match (status, agreed_visit) {
            (Status::Postponed, Some(at)) => Some((Milestone::AgreedVisit, at)),
            _ => self.current(status),
        }
    }
}

/// How far `now` is from `deadline`.
pub fn countdown(deadline: DateTime<Utc>, now: DateTime<Utc>) -> Countdown {
    let left = (deadline - now).num_seconds();
    if now > deadline {
        Countdown::Overdue((now - deadline).num_seconds().max(1))
    } else {
        Countdown::Remaining(left)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn terms(level: u8, reported_at: DateTime<Utc>, complex: bool) -> SlaTerms {
        SlaTerms {
            level,
            reported_at,
            complex,
            outside_main_city: false,
            arrived_at: None,
        }
    }

    fn t(h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 2, h, m, 0)
            .single()
            .expect("valid")
    }

    #[test]
    fn level_one_must_respond_in_ten_minutes_and_be_on_site_in_two_hours() {
        let d = SlaConfig::default()
            .deadlines(terms(1, t(8, 0), false))
            .expect("level 1 exists");
        assert_eq!(d.respond_by, t(8, 10));
        assert_eq!(d.on_site_by, Some(t(10, 0)));
        // Simple repair: 24 h after the on-site deadline.
        assert_eq!(d.repair_by, Some(t(10, 0) + Duration::hours(24)));
    }

    #[test]
    fn exactly_on_the_deadline_is_on_time_and_one_minute_late_is_overdue() {
        let d = SlaConfig::default()
            .deadlines(terms(1, t(8, 0), false))
            .expect("level 1 exists");
        assert_eq!(countdown(d.respond_by, t(8, 10)), Countdown::Remaining(0));
        assert!(!countdown(d.respond_by, t(8, 10)).is_overdue());
        assert_eq!(countdown(d.respond_by, t(8, 11)), Countdown::Overdue(60));
        assert_eq!(countdown(d.respond_by, t(8, 9)), Countdown::Remaining(60));
    }

    #[test]
    fn level_two_and_three_on_site_windows_and_complex_repairs() {
        let cfg = SlaConfig::default();
        let d2 = cfg.deadlines(terms(2, t(8, 0), true)).expect("level 2");
        assert_eq!(d2.respond_by, t(9, 0));
        assert_eq!(d2.on_site_by, Some(t(8, 0) + Duration::hours(48)));
        assert_eq!(d2.repair_by, Some(t(8, 0) + Duration::hours(96)));
        let d3 = cfg.deadlines(terms(3, t(8, 0), false)).expect("level 3");
        assert_eq!(d3.respond_by, t(10, 0));
        assert_eq!(d3.on_site_by, Some(t(8, 0) + Duration::hours(72)));
    }

    #[test]
    fn level_four_is_remote_with_no_on_site_deadline() {
        let d = SlaConfig::default()
            .deadlines(terms(4, t(8, 0), false))
            .expect("level 4");
        assert_eq!(d.respond_by, t(10, 0));
        assert_eq!(d.on_site_by, None);
        assert_eq!(d.repair_by, None);
        assert_eq!(d.current(Status::EnRoute), None);
    }

    #[test]
    fn the_current_deadline_follows_the_status() {
        let d = SlaConfig::default()
            .deadlines(terms(1, t(8, 0), false))
            .expect("level 1");
        assert_eq!(
            d.current(Status::Assigned),
            Some((Milestone::Respond, t(8, 10)))
        );
        assert_eq!(
            d.current(Status::EnRoute),
            Some((Milestone::OnSite, t(10, 0)))
        );
        assert_eq!(
            d.current(Status::InRepair).map(|x| x.0),
            Some(Milestone::Repair)
        );
        assert_eq!(d.current(Status::Completed), None);
    }

    #[test]
    fn a_postponed_order_works_against_the_visit_time_agreed_not_the_sla() {
        let d = SlaConfig::default()
            .deadlines(terms(1, t(8, 0), false))
            .expect("level 1");
        let agreed = t(8, 0) + Duration::days(3);
        assert_eq!(
            d.due(Status::Postponed, Some(agreed)),
            Some((Milestone::AgreedVisit, agreed))
        );
        // Without an agreed time (an older record), the on-site deadline as before.
        assert_eq!(
            d.due(Status::Postponed, None),
            Some((Milestone::OnSite, t(10, 0)))
        );
        // A visit time on an order that is not postponed is a plan, not a deadline.
        assert_eq!(
            d.due(Status::EnRoute, Some(agreed)),
            Some((Milestone::OnSite, t(10, 0)))
        );
    }

    #[test]
    fn levels_are_data_an_unknown_level_is_an_error() {
        let mut cfg = SlaConfig::default();
        assert!(matches!(
            cfg.deadlines(terms(7, t(8, 0), false)),
            Err(DomainError::UnknownFaultLevel(7))
        ));
        cfg.levels[0].respond_within_minutes = 5;
        assert_eq!(
            cfg.deadlines(terms(1, t(8, 0), false))
                .expect("level 1")
                .respond_by,
            t(8, 5)
        );
    }

    #[test]
    fn level_one_two_hours_hold_in_the_main_city_outside_it_the_configured_window() {
        let mut cfg = SlaConfig::default();
        let outside = SlaTerms {
            outside_main_city: true,
            ..terms(1, t(8, 0), false)
        };
        let d = cfg.deadlines(outside).expect("level 1");
        assert_eq!(
            d.respond_by,
            t(8, 10),
            "the response is the same everywhere"
        );
        assert_eq!(
            d.on_site_by, None,
            "the fastest transport: no fixed time by default"
        );
        assert_eq!(d.repair_by, None);
        cfg.levels[0].on_site_outside_main_city_minutes = Some(6 * 60);
        assert_eq!(
            cfg.deadlines(outside).expect("level 1").on_site_by,
            Some(t(14, 0))
        );
        // Level 2 has no main-city distinction.
        let l2 = SlaTerms {
            outside_main_city: true,
            ..terms(2, t(8, 0), false)
        };
        assert_eq!(
            cfg.deadlines(l2).expect("level 2").on_site_by,
            Some(t(8, 0) + Duration::hours(48))
        );
    }

    #[test]
    fn the_repair_is_due_24_or_48_hours_after_arrival_not_after_the_on_site_deadline() {
        let cfg = SlaConfig::default();
        let arrived = SlaTerms {
            arrived_at: Some(t(9, 30)),
            ..terms(1, t(8, 0), false)
        };
        assert_eq!(
            cfg.deadlines(arrived).expect("level 1").repair_by,
            Some(t(9, 30) + Duration::hours(24))
        );
        let complex = SlaTerms {
            complex: true,
            ..arrived
        };
        assert_eq!(
            cfg.deadlines(complex).expect("level 1").repair_by,
            Some(t(9, 30) + Duration::hours(48))
        );
        // Arrived late: still 24 h from the arrival.
        let late = SlaTerms {
            arrived_at: Some(t(13, 0)),
            ..terms(1, t(8, 0), false)
        };
        assert_eq!(
            cfg.deadlines(late).expect("level 1").repair_by,
            Some(t(13, 0) + Duration::hours(24))
        );
    }

    #[test]
    fn level_two_is_configured_within_twelve_to_forty_eight_hours() {
        let mut cfg = SlaConfig::default();
        assert_eq!(cfg.check(), Ok(()));
        cfg.levels[1].on_site_within_minutes = Some(12 * 60);
        assert_eq!(cfg.check(), Ok(()));
        assert_eq!(
            cfg.deadlines(terms(2, t(8, 0), false))
                .expect("level 2")
                .on_site_by,
            Some(t(20, 0))
        );
        for bad in [10 * 60, 50 * 60] {
            cfg.levels[1].on_site_within_minutes = Some(bad);
            assert!(cfg.check().is_err(), "{bad} minutes");
        }
    }
}
