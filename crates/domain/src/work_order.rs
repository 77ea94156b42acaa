//! The work order 服务工单 and its lifecycle: one transition table, enforced by the client
//! before a write and by the server again when the operation arrives.

use std::fmt;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::DomainError;

/// The lifecycle of DOMAIN.md; serialised as the snake_case names of PROTOCOL.md.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Status {
    New,
    Assigned,
    Accepted,
    EnRoute,
    OnSite,
    Diagnosing,
    Quoted,
    Approved,
    Declined,
    InRepair,
    Testing,
    AwaitingSignature,
    Completed,
    Closed,
    Postponed,
    Cancelled,
    Remote,
}

impl Status {
    pub const ALL: [Status; 17] = [
        Status::New,
        Status::Assigned,
        Status::Accepted,
        Status::EnRoute,
        Status::OnSite,
        Status::Diagnosing,
        Status::Quoted,
        Status::Approved,
        Status::Declined,
        Status::InRepair,
        Status::Testing,
        Status::AwaitingSignature,
        Status::Completed,
        Status::Closed,
        Status::Postponed,
        Status::Cancelled,
        Status::Remote,
    ];

    /// The protocol name (`en_route`).
    pub fn as_str(self) -> &'static str {
        match self {
            Status::New => "new",
            Status::Assigned => "assigned",
            Status::Accepted => "accepted",
            Status::EnRoute => "en_route",
            Status::OnSite => "on_site",
            Status::Diagnosing => "diagnosing",
            Status::Quoted => "quoted",
            Status::Approved => "approved",
            Status::Declined => "declined",
            Status::InRepair => "in_repair",
            Status::Testing => "testing",
            Status::AwaitingSignature => "awaiting_signature",
            Status::Completed => "completed",
            Status::Closed => "closed",
            Status::Postponed => "postponed",
            Status::Cancelled => "cancelled",
            Status::Remote => "remote",
        }
    }

    /// The zh-CN label shown in the app and on documents.
    pub fn label_zh(self) -> &'static str {
        match self {
            Status::New => "新建",
            Status::Assigned => "已派工",
            Status::Accepted => "已接单",
            Status::EnRoute => "在途",
            Status::OnSite => "已到场",
            Status::Diagnosing => "诊断中",
            Status::Quoted => "已报价",
            Status::Approved => "报价已确认",
            Status::Declined => "报价被拒",
            Status::InRepair => "维修中",
            Status::Testing => "测试中",
            Status::AwaitingSignature => "待签字",
            Status::Completed => "已完成",
            Status::Closed => "已关闭",
            Status::Postponed => "已延期",
            Status::Cancelled => "已取消",
            Status::Remote => "远程解决",
        }
    }

    /// Work is over for the engineer: nothing more is due on site.
    pub fn is_finished(self) -> bool {
        matches!(
            self,
            Status::Completed | Status::Closed | Status::Cancelled | Status::Remote
        )
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Status {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Status::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| DomainError::Invalid {
                field: "status",
                message: format!("unknown status {s:?}"),
            })
    }
}

/// Who performs a transition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Role {
    Engineer,
    Dispatcher,
    /// Has every right of a dispatcher, and manages users.
    Admin,
}

impl Role {
    /// Whether this role acts for `by` (an admin acts for the office).
    pub fn may_act_as(self, by: By) -> bool {
        match by {
            By::Engineer => self == Role::Engineer,
            By::Dispatcher => matches!(self, Role::Dispatcher | Role::Admin),
        }
    }
}

/// The side of the business a transition belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum By {
    /// The assigned engineer, on the laptop, offline or not.
    Engineer,
    /// Customer service / dispatch (and admins), on the server.
    Dispatcher,
}

use Status as S;

/// The one transition table: (from, to, who). Everything not listed is forbidden.
///
/// Why each group exists:
/// - dispatch: assigned/cancelled/closed are the dispatcher's (DOMAIN.md);
///   `assigned → new` is an unassignment;
/// - the engineer drives accepted … completed, offline;
/// - a scope change found during repair (变更) goes back to `quoted` for a new approval;
/// - a failed test goes back to repair; a declined quote may be revised or the visit closed
///   out with the customer's signature (result: not completed);
/// - `postponed` (site not ready) from any on-the-way or on-site step, resumed by accepting
///   again or setting off again;
/// - `remote`: solved by phone or remote access (L4, consultations) before or after the
///   engineer looked at it.
pub const TRANSITIONS: &[(Status, Status, By)] = &[
    (S::New, S::Assigned, By::Dispatcher),
    (S::Assigned, S::New, By::Dispatcher),
    (S::Assigned, S::Accepted, By::Engineer),
    (S::Accepted, S::EnRoute, By::Engineer),
    (S::EnRoute, S::OnSite, By::Engineer),
    (S::OnSite, S::Diagnosing, By::Engineer),
    (S::Diagnosing, S::Quoted, By::Engineer),
    (S::Diagnosing, S::InRepair, By::Engineer),
    (S::Quoted, S::Approved, By::Engineer),
    (S::Quoted, S::Declined, By::Engineer),
    (S::Declined, S::Quoted, By::Engineer),
    (S::Declined, S::AwaitingSignature, By::Engineer),
    (S::Approved, S::InRepair, By::Engineer),
    (S::InRepair, S::Testing, By::Engineer),
    (S::InRepair, S::Quoted, By::Engineer),
    (S::Testing, S::InRepair, By::Engineer),
    (S::Testing, S::AwaitingSignature, By::Engineer),
    (S::AwaitingSignature, S::Completed, By::Engineer),
    (S::Accepted, S::Postponed, By::Engineer),
    (S::EnRoute, S::Postponed, By::Engineer),
    (S::OnSite, S::Postponed, By::Engineer),
    (S::Diagnosing, S::Postponed, By::Engineer),
    (S::Quoted, S::Postponed, By::Engineer),
    (S::Approved, S::Postponed, By::Engineer),
    (S::InRepair, S::Postponed, By::Engineer),
    (S::Testing, S::Postponed, By::Engineer),
    (S::Postponed, S::Accepted, By::Engineer),
    (S::Postponed, S::EnRoute, By::Engineer),
    (S::Accepted, S::Remote, By::Engineer),
    (S::EnRoute, S::Remote, By::Engineer),
    (S::Diagnosing, S::Remote, By::Engineer),
    (S::Completed, S::Closed, By::Dispatcher),
    (S::Remote, S::Closed, By::Dispatcher),
    (S::New, S::Cancelled, By::Dispatcher),
    (S::Assigned, S::Cancelled, By::Dispatcher),
    (S::Accepted, S::Cancelled, By::Dispatcher),
    (S::EnRoute, S::Cancelled, By::Dispatcher),
    (S::OnSite, S::Cancelled, By::Dispatcher),
    (S::Diagnosing, S::Cancelled, By::Dispatcher),
    (S::Quoted, S::Cancelled, By::Dispatcher),
    (S::Approved, S::Cancelled, By::Dispatcher),
    (S::Declined, S::Cancelled, By::Dispatcher),
    (S::InRepair, S::Cancelled, By::Dispatcher),
    (S::Testing, S::Cancelled, By::Dispatcher),
    (S::AwaitingSignature, S::Cancelled, By::Dispatcher),
    (S::Postponed, S::Cancelled, By::Dispatcher),
];

/// Whether `role` may move an order from `from` to `to`; the error says why not.
pub fn check_transition(from: Status, to: Status, role: Role) -> Result<(), DomainError> {
    match TRANSITIONS.iter().find(|(f, t, _)| *f == from && *t == to) {
        Some((_, _, by)) if role.may_act_as(*by) => Ok(()),
        Some((_, _, by)) => Err(DomainError::TransitionNotYours { from, to, by: *by }),
        None => Err(DomainError::TransitionNotAllowed { from, to }),
    }
}

/// The statuses `role` may move an order to from `from`, in table order (for the UI's
/// action buttons; the rule itself stays in [`check_transition`]).
pub fn next_statuses(from: Status, role: Role) -> Vec<Status> {
    TRANSITIONS
        .iter()
        .filter(|(f, _, by)| *f == from && role.may_act_as(*by))
        .map(|(_, t, _)| *t)
        .collect()
}

/// The times a step sets: arriving (the first time) starts the repair's SLA clock; the
/// repair times (维修起止时间): going into repair starts the clock the
/// first time, and clears an end set by a test that failed (测试中 → 维修中); going to
/// test ends it. Returns the fields to write with the move.
pub fn repair_times_of_step(
    order: &WorkOrder,
    to: Status,
    now: DateTime<Utc>,
) -> Vec<(&'static str, Option<DateTime<Utc>>)> {
    match to {
        Status::OnSite if order.arrived_at.is_none() => vec![("arrived_at", Some(now))],
        Status::InRepair => {
            let mut fields = Vec::new();
            if order.repair_started_at.is_none() {
                fields.push(("repair_started_at", Some(now)));
            }
            if order.repair_ended_at.is_some() {
                fields.push(("repair_ended_at", None));
            }
            fields
        }
        Status::Testing => vec![("repair_ended_at", Some(now))],
        _ => Vec::new(),
    }
}

/// Remote resolution (远程解决) is for level-4 faults (user error or minor, not a system
/// fault: the SLA table's "remote" row) and for consultations; everything else is seen on
/// site.
pub fn check_remote(order: &WorkOrder) -> Result<(), DomainError> {
    if order.fault_level == 4 || order.service_type == ServiceType::Consultation {
        return Ok(());
    }
    Err(DomainError::Invalid {
        field: "status",
        message: format!(
            "remote resolution (远程解决) is for level-4 faults and consultations; this order is level {}: go on site",
            order.fault_level
        ),
    })
}

/// The steps `role` may offer on `order` now: the lifecycle table's moves from its status,
/// without those the order itself rules out (remote resolution of a serious fault).
pub fn next_steps(order: &WorkOrder, role: Role) -> Vec<Status> {
    next_statuses(order.status, role)
        .into_iter()
        .filter(|to| *to != Status::Remote || check_remote(order).is_ok())
        .collect()
}

/// Whether a charge cause (user damage, force majeure) means anything for `order`: only
/// in-warranty work is free, so only there must a charge be explained.
pub fn charge_cause_applies(order: &WorkOrder) -> bool {
    order.warranty == WarrantyStatus::InWarranty
}

/// The most engineers one order is assigned to.
pub const MAX_ASSIGNEES: usize = 20;

/// Checks a dispatcher's assignment: each engineer once, a sensible team size, the
/// project manager (项目经理) one of the team.
pub fn check_assignment(engineers: &[Uuid], manager: Option<Uuid>) -> Result<(), DomainError> {
    let invalid = |message: String| {
        Err(DomainError::Invalid {
            field: "engineer_ids",
            message,
        })
    };
    if engineers.len() > MAX_ASSIGNEES {
        return invalid(format!("at most {MAX_ASSIGNEES} engineers on one order"));
    }
    if let Some((_, e)) = engineers
        .iter()
        .enumerate()
        .find(|(i, e)| engineers[..*i].contains(e))
    {
        return invalid(format!(
            "engineer {e} is listed twice: list each engineer once"
        ));
    }
    if manager.is_some_and(|m| !engineers.contains(&m)) {
        return Err(DomainError::Invalid {
            field: "manager_id",
            message: "the project manager must be one of engineer_ids".into(),
        });
    }
    Ok(())
}

/// Postponing (the site is not ready, the customer asks for another day) needs the new
/// visit time: set in this change, and later than `now`. `before` is the order as it was,
/// `after` with the change's fields.
pub fn check_postpone(
    before: &WorkOrder,
    after: &WorkOrder,
    now: DateTime<Utc>,
) -> Result<(), DomainError> {
    match after.scheduled_at {
        None => Err(DomainError::Invalid {
            field: "scheduled_at",
            message: "postponing needs the new visit date and time".into(),
        }),
        Some(at) if at <= now => Err(DomainError::Invalid {
            field: "scheduled_at",
            message: "the new visit time must be in the future".into(),
        }),
        Some(at) if before.scheduled_at == Some(at) => Err(DomainError::Invalid {
            field: "scheduled_at",
            message: "the new visit time is the one already agreed: choose another".into(),
        }),
        Some(_) => Ok(()),
    }
}

/// 服务类型.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum ServiceType {
    /// 故障维修
    Repair,
    /// 定期保养
    Maintenance,
    /// 技术咨询
    Consultation,
    /// 备件更换
    PartsReplacement,
    /// 安装调试
    Installation,
    /// 培训
    Training,
    /// 巡检
    Inspection,
}

impl ServiceType {
    pub const ALL: [ServiceType; 7] = [
        ServiceType::Repair,
        ServiceType::Maintenance,
        ServiceType::Consultation,
        ServiceType::PartsReplacement,
        ServiceType::Installation,
        ServiceType::Training,
        ServiceType::Inspection,
    ];

    pub fn label_zh(self) -> &'static str {
        match self {
            ServiceType::Repair => "故障维修",
            ServiceType::Maintenance => "定期保养",
            ServiceType::Consultation => "技术咨询",
            ServiceType::PartsReplacement => "备件更换",
            ServiceType::Installation => "安装调试",
            ServiceType::Training => "培训",
            ServiceType::Inspection => "巡检",
        }
    }
}

/// How the request reached us.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// 服务热线
    Hotline,
    Website,
    Email,
    SalesRep,
    System,
    /// 现场首问: asked of the engineer on site (`records::ServiceRequest`).
    OnSite,
}

/// 保修期内 / 保修期外 / 维保合同.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum WarrantyStatus {
    InWarranty,
    OutOfWarranty,
    MaintenanceContract,
}

/// Why in-warranty work is charged after all (DOMAIN.md: user damage or force majeure).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case", tag = "cause", content = "reason")]
pub enum ChargeCause {
    UserDamage(String),
    ForceMajeure(String),
}

impl ChargeCause {
    /// What the engineer wrote: what the user did, or which event.
    pub fn reason(&self) -> &str {
        match self {
            ChargeCause::UserDamage(r) | ChargeCause::ForceMajeure(r) => r,
        }
    }
}

/// Whether the visit achieved its goal (完成/未完成).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case", tag = "result", content = "reason")]
pub enum Outcome {
    Completed,
    NotCompleted(String),
}

/// An engineer on the order; one is project manager (项目经理) when two or more go.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Assignment {
    pub engineer_id: Uuid,
    #[serde(default)]
    pub manager: bool,
    /// The engineer's name as the dispatcher's server knows it, for documents and screens
    /// (a laptop only knows its own user).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// The work order. Mutable record: each field merges last-writer-wins by HLC.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct WorkOrder {
    pub id: Uuid,
    /// Record number (`SC2611-07`, or provisional until sync replaces it).
    pub number: String,
    pub department: String,
    pub customer_id: Uuid,
    pub equipment_id: Option<Uuid>,
    pub service_type: ServiceType,
    /// Fault level 1–4 (故障等级), looked up in the synced SLA configuration.
    pub fault_level: u8,
    pub channel: Channel,
    pub status: Status,
    /// 报修日期
    pub reported_at: DateTime<Utc>,
    /// 故障现象
    pub fault_description: String,
    pub expected_completion: Option<NaiveDate>,
    /// 要求服务时间
    pub requested_service_at: Option<DateTime<Utc>>,
    /// The agreed visit time (set again when postponed).
    pub scheduled_at: Option<DateTime<Utc>>,
    pub warranty: WarrantyStatus,
    /// 有偿: the customer pays.
    pub paid: bool,
    /// Recorded when in-warranty work is charged.
    pub charge_cause: Option<ChargeCause>,
    /// Complex repairs get the longer on-site repair window (48 h instead of 24 h).
    #[serde(default)]
    pub complex: bool,
    #[serde(default)]
    pub assignees: Vec<Assignment>,
    /// 记录人
    pub recorded_by: Option<String>,
    /// The number of the 外出服务记录表 (electrical seed 4.5.2.2: numbered by the service
    /// department, its own series): given by the server, in the transaction that applies the
    /// completion or the remote resolution, so the series has no gap and no laptop holds
    /// numbers it may never use. Until then the printed form says it is provisional.
    #[serde(default)]
    pub service_record_number: Option<String>,
    /// The 外出服务记录表 could not be numbered: its department's sequence for that month
    /// was full. It is numbered in that month's series once the width is widened (the
    /// server's next start with a wider `--number-width`); the window says so meanwhile.
    #[serde(default)]
    pub service_record_waiting: Option<crate::numbering::Waiting>,
    /// The site is outside the main city area (主城区): level 1's two-hour arrival is the
    /// main city's (the office's to set, from where the customer is).
    #[serde(default)]
    pub outside_main_city: bool,
    /// When the engineer arrived (the first step to 已到场): the repair's deadline counts
    /// from here.
    #[serde(default)]
    pub arrived_at: Option<DateTime<Utc>>,
    /// 故障原因
    pub diagnosis: Option<String>,
    /// 维修结果
    pub repair_result: Option<String>,
    /// 修理时间 from–to
    pub repair_started_at: Option<DateTime<Utc>>,
    pub repair_ended_at: Option<DateTime<Utc>>,
    pub outcome: Option<Outcome>,
    /// Reason for a postponement (site not ready…).
    pub postpone_reason: Option<String>,
}

impl WorkOrder {
    /// The engineers assigned to the order.
    pub fn engineer_ids(&self) -> Vec<Uuid> {
        self.assignees.iter().map(|a| a.engineer_id).collect()
    }

    /// Checks what a record must hold before it is stored or sent.
    pub fn validate(&self) -> Result<(), DomainError> {
        if self.number.trim().is_empty() {
            return Err(DomainError::Invalid {
                field: "number",
                message: "a work order needs a number".into(),
            });
        }
        if !(1..=9).contains(&self.fault_level) {
            return Err(DomainError::Invalid {
                field: "fault_level",
                message: format!("fault level {} is not 1–9", self.fault_level),
            });
        }
        if let (Some(a), Some(b)) = (self.repair_started_at, self.repair_ended_at)
            && b < a
        {
            return Err(DomainError::Invalid {
                field: "repair_ended_at",
                message: "repair cannot end before it starts".into(),
            });
        }
        if self.paid && self.warranty == WarrantyStatus::InWarranty && self.charge_cause.is_none() {
            return Err(DomainError::Invalid {
                field: "charge_cause",
                message: "in-warranty work is free unless the user or force majeure caused the damage: record the cause".into(),
            });
        }
        if self
            .charge_cause
            .as_ref()
            .is_some_and(|c| c.reason().trim().is_empty())
        {
            return Err(DomainError::Invalid {
                field: "charge_cause",
                message: "say what the user did, or which force majeure event caused the damage"
                    .into(),
            });
        }
        if self.assignees.iter().filter(|a| a.manager).count() > 1 {
            return Err(DomainError::Invalid {
                field: "assignees",
                message: "only one engineer can be project manager".into(),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    /// The lifecycle written out again by hand, independently of `TRANSITIONS`, so that an
    /// accidental edit of the table fails here. `E` = engineer, `D` = dispatcher.
    const EXPECTED: &str = "
        new>assigned:D assigned>new:D assigned>accepted:E accepted>en_route:E en_route>on_site:E
        on_site>diagnosing:E diagnosing>quoted:E diagnosing>in_repair:E quoted>approved:E
        quoted>declined:E declined>quoted:E declined>awaiting_signature:E approved>in_repair:E
        in_repair>testing:E in_repair>quoted:E testing>in_repair:E testing>awaiting_signature:E
        awaiting_signature>completed:E
        accepted>postponed:E en_route>postponed:E on_site>postponed:E diagnosing>postponed:E
        quoted>postponed:E approved>postponed:E in_repair>postponed:E testing>postponed:E
        postponed>accepted:E postponed>en_route:E
        accepted>remote:E en_route>remote:E diagnosing>remote:E
        completed>closed:D remote>closed:D
        new>cancelled:D assigned>cancelled:D accepted>cancelled:D en_route>cancelled:D
        on_site>cancelled:D diagnosing>cancelled:D quoted>cancelled:D approved>cancelled:D
        declined>cancelled:D in_repair>cancelled:D testing>cancelled:D
        awaiting_signature>cancelled:D postponed>cancelled:D";

    fn expected() -> HashSet<(Status, Status, char)> {
        EXPECTED
            .split_whitespace()
            .map(|t| {
                let (pair, who) = t.split_once(':').expect("pair:who");
                let (from, to) = pair.split_once('>').expect("from>to");
                (
                    from.parse().expect("status"),
                    to.parse().expect("status"),
                    who.chars().next().expect("who"),
                )
            })
            .collect()
    }

    #[test]
    fn every_pair_of_statuses_for_every_role_matches_the_lifecycle() {
        let expected = expected();
        let mut checked = 0;
        for from in Status::ALL {
            for to in Status::ALL {
                for role in [Role::Engineer, Role::Dispatcher, Role::Admin] {
                    let who = if role == Role::Engineer { 'E' } else { 'D' };
                    let allowed = expected.contains(&(from, to, who));
                    let listed_for_other =
                        expected.contains(&(from, to, if who == 'E' { 'D' } else { 'E' }));
                    let got = check_transition(from, to, role);
                    match (allowed, &got) {
                        (true, Ok(())) => {}
                        (false, Err(DomainError::TransitionNotYours { .. }))
                            if listed_for_other => {}
                        (false, Err(DomainError::TransitionNotAllowed { .. }))
                            if !listed_for_other => {}
                        _ => panic!(
                            "{from} -> {to} as {role:?}: expected allowed={allowed}, got {got:?}"
                        ),
                    }
                    checked += 1;
                }
            }
        }
        assert_eq!(checked, 17 * 17 * 3);
        assert_eq!(
            expected.len(),
            TRANSITIONS.len(),
            "the table has a transition the lifecycle lacks"
        );
    }

    #[test]
    fn an_engineer_cannot_cancel_or_close_and_a_dispatcher_cannot_accept() {
        assert!(matches!(
            check_transition(S::Accepted, S::Cancelled, Role::Engineer),
            Err(DomainError::TransitionNotYours { .. })
        ));
        assert!(matches!(
            check_transition(S::Completed, S::Closed, Role::Engineer),
            Err(DomainError::TransitionNotYours { .. })
        ));
        assert!(matches!(
            check_transition(S::Assigned, S::Accepted, Role::Dispatcher),
            Err(DomainError::TransitionNotYours { .. })
        ));
        assert!(check_transition(S::Completed, S::Closed, Role::Admin).is_ok());
    }

    #[test]
    fn finished_orders_go_nowhere_but_closed() {
        for from in [S::Closed, S::Cancelled] {
            assert!(next_statuses(from, Role::Engineer).is_empty());
            assert!(next_statuses(from, Role::Dispatcher).is_empty());
        }
        assert_eq!(
            next_statuses(S::Completed, Role::Dispatcher),
            vec![S::Closed]
        );
    }

    #[test]
    fn status_names_round_trip_through_json() {
        for s in Status::ALL {
            let json = serde_json::to_string(&s).expect("serialises");
            assert_eq!(json, format!("\"{}\"", s.as_str()));
            assert_eq!(serde_json::from_str::<Status>(&json).expect("parses"), s);
        }
    }
}
