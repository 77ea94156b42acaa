//! The other entities of DOMAIN.md: customers, equipment, parts and van stock, and the
//! append-only records an engineer makes on site (check-ins, arrival calls, part usages,
//! time and expenses, logs, milestones, attachments, satisfaction, follow-ups, training).
//!
//! Append-only records are inserted once by id and never edited; a correction is a new
//! record whose `voids` names the old one.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::DomainError;
use crate::money::{Fen, Quantity};

/// 客户. Mutable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Customer {
    pub id: Uuid,
    /// 单位名称
    pub name: String,
    /// 联系人
    pub contact: String,
    /// 联系电话
    pub phone: String,
    /// 地址
    pub address: String,
    /// 重要客户: priority handling.
    #[serde(default)]
    pub key_customer: bool,
    /// IANA time zone for documents (`Asia/Shanghai` when unset).
    #[serde(default)]
    pub time_zone: Option<String>,
}

/// 设备. Mutable; belongs to a customer. Its service history is every order on it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Equipment {
    pub id: Uuid,
    pub customer_id: Uuid,
    /// 型号
    pub model: String,
    /// 出厂编号 (机号)
    pub serial: String,
    /// AB号
    pub project_number: Option<String>,
    pub kind: Option<String>,
    /// 小型设备 (printers, small tools…): the small-devices manual's callbacks apply.
    #[serde(default)]
    pub small_device: bool,
    pub size: Option<String>,
    /// 安装地点
    pub location: Option<String>,
    /// 投运日期
    pub commissioned_on: Option<NaiveDate>,
    /// 购机日期
    pub purchased_on: Option<NaiveDate>,
    /// 发票号
    pub invoice_number: Option<String>,
    /// 保修期至
    pub warranty_until: Option<NaiveDate>,
}

impl Equipment {
    /// In warranty on `day` (the warranty end day itself included).
    pub fn in_warranty(&self, day: NaiveDate) -> bool {
        self.warranty_until.is_some_and(|end| day <= end)
    }
}

/// 备件: the catalogue (备品备件库定价). Reference data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Part {
    pub id: Uuid,
    pub part_number: String,
    pub name: String,
    pub unit: String,
    pub unit_price: Fen,
}

/// 随车库存: one part in one engineer's van, as the server last counted it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct VanStock {
    pub id: Uuid,
    pub engineer_id: Uuid,
    pub part_id: Uuid,
    pub quantity: i64,
}

/// What happens to a replaced part (旧件处理).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum OldPartDisposition {
    /// 客户留存
    CustomerKeeps,
    /// 返修: returned to HQ; booked into the warehouse within 16 h of return (入库单).
    ReturnForRepair,
    /// 报废
    Scrap,
}

impl OldPartDisposition {
    /// The old part goes back to HQ with the engineer and is booked into the warehouse
    /// there (入库单): a part for repair or scrap (seed 001 §4.5.3.1, 报修/报废).
    pub fn goes_to_warehouse(self) -> bool {
        matches!(self, Self::ReturnForRepair | Self::Scrap)
    }
}

/// A part used on an order. Append-only: a correction is a new usage whose `voids` names
/// the old one (quantity 0 cancels it outright).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct PartUsage {
    pub id: Uuid,
    pub work_order_id: Uuid,
    pub part_id: Uuid,
    pub quantity: u32,
    /// 三包件 (free) when true, 客户购买件 (charged at unit price) when false.
    pub warranty: bool,
    /// The unit price at the time of use (the catalogue may change later).
    #[serde(default)]
    pub unit_price: Option<Fen>,
    #[serde(default)]
    pub old_part: Option<OldPartDisposition>,
    /// Taken from the engineer's van stock (decremented offline).
    #[serde(default)]
    pub from_van_stock: bool,
    #[serde(default)]
    pub voids: Option<Uuid>,
}

impl PartUsage {
    pub fn validate(&self) -> Result<(), DomainError> {
        if self.quantity == 0 && self.voids.is_none() {
            return Err(DomainError::Invalid { field: "quantity", message: "use at least one part (a quantity of 0 only cancels an earlier usage named in voids)".into() });
        }
        Ok(())
    }

    /// How this usage changes the engineer's van stock, part by part (negative: taken
    /// out). A usage from the van takes its quantity; a correction gives back what the
    /// usage it voids took (`voided`, when known), so a correction to quantity 0 returns
    /// the parts and a correction to another part moves the count to that part.
    pub fn van_stock_changes(&self, voided: Option<&PartUsage>) -> Vec<(Uuid, i64)> {
        let mut changes: Vec<(Uuid, i64)> = Vec::new();
        let mut add = |part: Uuid, n: i64| match changes.iter_mut().find(|(p, _)| *p == part) {
            Some((_, d)) => *d += n,
            None => changes.push((part, n)),
        };
        if self.from_van_stock {
            add(self.part_id, -i64::from(self.quantity));
        }
        // Only a usage of the same order is given back: a correction naming another
        // order's usage (someone else's, perhaps) moves no count.
        if let Some(old) = voided.filter(|o| {
            o.from_van_stock && self.voids == Some(o.id) && o.work_order_id == self.work_order_id
        }) {
            add(old.part_id, i64::from(old.quantity));
        }
        changes.retain(|(_, d)| *d != 0);
        changes
    }
}

/// Returned faulty parts are booked into the warehouse within 16 h of the engineer's
/// return (入库单).
pub const WAREHOUSE_BOOKING_HOURS: i64 = 16;

/// 入库单: a returned part booked into the warehouse. Append-only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct WarehouseReceipt {
    pub id: Uuid,
    pub work_order_id: Uuid,
    pub part_usage_id: Uuid,
    /// When the engineer got back to HQ with the part.
    pub returned_at: DateTime<Utc>,
    pub booked_at: Option<DateTime<Utc>>,
    /// 不合格品报告处理单, when the part raised one.
    pub nonconformance: Option<Nonconformance>,
    #[serde(default)]
    pub voids: Option<Uuid>,
}

/// 不合格品报告处理单: a nonconformance found when booking a returned part.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Nonconformance {
    pub description: String,
    /// Who caused the damage decides whether the service is paid (质量部's verdict).
    pub responsible: Option<String>,
}

impl WarehouseReceipt {
    /// The latest time the part may be booked in.
    pub fn due_by(&self) -> DateTime<Utc> {
        self.returned_at + chrono::Duration::hours(WAREHOUSE_BOOKING_HOURS)
    }

    /// Booked late, or not booked and already late at `now`.
    pub fn is_late(&self, now: DateTime<Utc>) -> bool {
        self.booked_at.unwrap_or(now) > self.due_by()
    }

    /// A receipt opened by the engineer back at HQ: for an old part of `usage` (the part
    /// usage it names, as the writer has it) that goes to the warehouse, on the same
    /// order, returned not in the future (`now`, with the clock skew the sync allows);
    /// booking it and any nonconformance are the warehouse's and 质量部's to write.
    pub fn check_engineers(
        &self,
        usage: Option<&PartUsage>,
        now: DateTime<Utc>,
    ) -> Result<(), DomainError> {
        let invalid = |field, message: &str| {
            Err(DomainError::Invalid {
                field,
                message: message.into(),
            })
        };
        let Some(usage) = usage.filter(|u| u.work_order_id == self.work_order_id) else {
            return invalid("part_usage_id", "name a part used on this order");
        };
        if !usage
            .old_part
            .is_some_and(OldPartDisposition::goes_to_warehouse)
        {
            return invalid(
                "part_usage_id",
                "only an old part returned for repair or scrap is booked into the warehouse",
            );
        }
        if self.booked_at.is_some() || self.nonconformance.is_some() {
            return invalid(
                "booked_at",
                "the warehouse books the part in and 质量部 writes a nonconformance, not the engineer",
            );
        }
        if self.returned_at > now + chrono::Duration::minutes(10) {
            return invalid("returned_at", "the time back at HQ is in the future");
        }
        Ok(())
    }
}

/// Where an old part that goes to the warehouse stands: no receipt yet (the engineer is
/// not back at HQ), or its standing receipt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct WarehouseLine {
    pub part_usage_id: Uuid,
    pub receipt: Option<WarehouseReceipt>,
    /// When it must be booked in by (`WarehouseReceipt::due_by`), once back at HQ.
    pub due_by: Option<DateTime<Utc>>,
    /// Booked late, or not booked and late now.
    pub late: bool,
}

/// The order's old parts that go to the warehouse, in the order they were used, each with
/// its standing receipt if any (corrections applied on both sides).
pub fn warehouse_lines(
    usages: &[PartUsage],
    receipts: &[WarehouseReceipt],
    now: DateTime<Utc>,
) -> Vec<WarehouseLine> {
    let receipts = standing(receipts.iter());
    standing(usages.iter())
        .into_iter()
        .filter(|u| {
            u.quantity > 0
                && u.old_part
                    .is_some_and(OldPartDisposition::goes_to_warehouse)
        })
        .map(|u| {
            let receipt = receipts
                .iter()
                .rev()
                .find(|r| r.part_usage_id == u.id)
                .map(|r| (*r).clone());
            WarehouseLine {
                part_usage_id: u.id,
                due_by: receipt.as_ref().map(WarehouseReceipt::due_by),
                late: receipt.as_ref().is_some_and(|r| r.is_late(now)),
                receipt,
            }
        })
        .collect()
}

/// The longest description of the equipment a new request is for, when it is not on the
/// laptop (what the nameplate says), in characters.
pub const MAX_EQUIPMENT_TEXT_CHARS: usize = 200;
/// The longest fault description of a new request, in characters.
pub const MAX_REQUEST_TEXT_CHARS: usize = 2000;

/// 首问负责: a new request the engineer registers on site for other equipment of the same
/// customer (the customer asks whoever is there; the engineer owns the request until the
/// office has it). Appended under the order being worked on; when it reaches the server,
/// the server registers a new work order (status 新建, for the dispatcher to classify and
/// assign) and notes its id and number here, so the engineer sees what became of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ServiceRequest {
    pub id: Uuid,
    /// The order the engineer was on when the customer asked; the new order is for its
    /// customer.
    pub work_order_id: Uuid,
    /// The customer's equipment, when it is on the laptop.
    pub equipment_id: Option<Uuid>,
    /// What the nameplate says (model, serial) when the equipment is not on the laptop.
    pub equipment_text: Option<String>,
    pub service_type: crate::work_order::ServiceType,
    /// The level the engineer judges; the office confirms or changes it.
    pub fault_level: u8,
    /// 故障现象, as the customer tells it.
    pub fault_description: String,
    /// 要求服务时间
    pub requested_service_at: Option<DateTime<Utc>>,
    /// When the customer asked (the 2-hour registration clock of the new order starts
    /// here; the server never takes a time later than its own).
    pub reported_at: DateTime<Utc>,
    /// Set by the server: the work order registered for this request, and its number.
    #[serde(default)]
    pub created_order_id: Option<Uuid>,
    #[serde(default)]
    pub created_order_number: Option<String>,
    #[serde(default)]
    pub voids: Option<Uuid>,
}

impl ServiceRequest {
    /// What a request must hold, on the laptop and on the server.
    pub fn validate(&self) -> Result<(), DomainError> {
        let invalid = |field, message: String| Err(DomainError::Invalid { field, message });
        let fault = self.fault_description.trim().chars().count();
        if fault == 0 {
            return invalid("fault_description", "say what the customer reports".into());
        }
        if fault > MAX_REQUEST_TEXT_CHARS {
            return invalid(
                "fault_description",
                format!("at most {MAX_REQUEST_TEXT_CHARS} characters"),
            );
        }
        if self
            .equipment_text
            .as_ref()
            .is_some_and(|t| t.chars().count() > MAX_EQUIPMENT_TEXT_CHARS)
        {
            return invalid(
                "equipment_text",
                format!("at most {MAX_EQUIPMENT_TEXT_CHARS} characters"),
            );
        }
        if !(1..=4).contains(&self.fault_level) {
            return invalid(
                "fault_level",
                format!("fault level {} is not 1–4", self.fault_level),
            );
        }
        Ok(())
    }

    /// The work order `id` registered for this request: for the customer of `parent` (the
    /// order it was asked on), its department, `equipment` when named (which must be that
    /// customer's), new and unassigned, reported when the customer asked but never later
    /// than `now`, in warranty when the equipment is on `now`'s day (China time). The
    /// warranty, the price terms and the level are the office's to confirm.
    pub fn new_order(
        &self,
        id: Uuid,
        parent: &crate::work_order::WorkOrder,
        equipment: Option<&Equipment>,
        number: String,
        recorded_by: &str,
        now: DateTime<Utc>,
    ) -> Result<crate::work_order::WorkOrder, DomainError> {
        use crate::work_order::{Channel, Status, WarrantyStatus, WorkOrder};
        if parent.id != self.work_order_id {
            return Err(DomainError::Invalid {
                field: "work_order_id",
                message: "the request is not under this order".into(),
            });
        }
        let equipment = match (self.equipment_id, equipment) {
            (None, _) => None,
            (Some(id), Some(e)) if e.id == id && e.customer_id == parent.customer_id => Some(e),
            (Some(_), _) => {
                return Err(DomainError::Invalid {
                    field: "equipment_id",
                    message: "name equipment of this order's customer, or describe it".into(),
                });
            }
        };
        let today = crate::numbering::numbering_date(now);
        let mut fault_description = self.fault_description.trim().to_owned();
        if let Some(text) = self
            .equipment_text
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty())
        {
            fault_description = format!("{fault_description}\n设备：{text}");
        }
        let order = WorkOrder {
            id,
            number,
            department: parent.department.clone(),
            customer_id: parent.customer_id,
            equipment_id: equipment.map(|e| e.id),
            service_type: self.service_type,
            fault_level: self.fault_level,
            channel: Channel::OnSite,
            status: Status::New,
            reported_at: self.reported_at.min(now),
            fault_description,
            expected_completion: None,
            requested_service_at: self.requested_service_at,
            scheduled_at: None,
            warranty: if equipment.is_some_and(|e| e.in_warranty(today)) {
                WarrantyStatus::InWarranty
            } else {
                WarrantyStatus::OutOfWarranty
            },
            paid: false,
            charge_cause: None,
            complex: false,
            assignees: Vec::new(),
            recorded_by: Some(recorded_by.to_owned()),
            service_record_number: None,
            service_record_waiting: None,
            outside_main_city: false,
            arrived_at: None,
            diagnosis: None,
            repair_result: None,
            repair_started_at: None,
            repair_ended_at: None,
            outcome: None,
            postpone_reason: None,
        };
        order.validate()?;
        Ok(order)
    }

    /// A request as the engineer sends it: what became of it is the server's to write.
    pub fn check_engineers(&self) -> Result<(), DomainError> {
        if self.created_order_id.is_some() || self.created_order_number.is_some() {
            return Err(DomainError::Invalid {
                field: "created_order_id",
                message: "the server registers the new order; leave it out".into(),
            });
        }
        Ok(())
    }
}

/// 签到/签退.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum CheckKind {
    CheckIn,
    CheckOut,
}

/// Check-in or check-out at the start and end of an on-site day. Append-only.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct CheckIn {
    pub id: Uuid,
    pub work_order_id: Uuid,
    pub kind: CheckKind,
    pub at: DateTime<Utc>,
    pub location_text: Option<String>,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    #[serde(default)]
    pub voids: Option<Uuid>,
}

/// Who the arrival protocol (三个电话) calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum ArrivalCallee {
    CustomerManager,
    CustomerContact,
    SiteInterface,
    /// 技术交底: the technical briefing, recorded with the calls.
    TechnicalBriefing,
}

impl ArrivalCallee {
    /// The three calls of the arrival protocol, in the order the installation manual
    /// (§8) makes them: the customer manager, then the customer's contact, last the site
    /// interface person.
    pub const CALLS: [ArrivalCallee; 3] = [
        ArrivalCallee::CustomerManager,
        ArrivalCallee::CustomerContact,
        ArrivalCallee::SiteInterface,
    ];
}

/// Where an order's arrival stands: each of the three calls with its latest standing
/// tick, the technical briefing (§9), and whether the engineer is checked in now (§10).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Arrival {
    pub calls: Vec<ArrivalStep>,
    pub briefing: Option<ArrivalCall>,
    /// The next call to make, in the manual's order; `None` once all three are made.
    pub next_call: Option<ArrivalCallee>,
    /// What the check button does next: check in, unless checked in (then check out).
    pub next_check: CheckKind,
    /// The check-ins and check-outs that stand, oldest first.
    pub checks: Vec<CheckIn>,
}

/// One of the three calls and its tick, if made.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ArrivalStep {
    pub callee: ArrivalCallee,
    pub call: Option<ArrivalCall>,
}

impl Arrival {
    /// From an order's records (corrections applied: `standing`).
    pub fn of(calls: &[ArrivalCall], checks: &[CheckIn]) -> Arrival {
        let calls = standing(calls);
        let latest = |callee: ArrivalCallee| {
            calls
                .iter()
                .filter(|c| c.callee == callee)
                .max_by_key(|c| (c.at, c.id))
                .map(|c| (*c).clone())
        };
        let steps: Vec<ArrivalStep> = ArrivalCallee::CALLS
            .iter()
            .map(|&callee| ArrivalStep {
                callee,
                call: latest(callee),
            })
            .collect();
        let next_call = steps.iter().find(|s| s.call.is_none()).map(|s| s.callee);
        let mut checks: Vec<CheckIn> = standing(checks).into_iter().cloned().collect();
        checks.sort_by_key(|c| (c.at, c.id));
        let next_check = match checks.last() {
            Some(c) if c.kind == CheckKind::CheckIn => CheckKind::CheckOut,
            _ => CheckKind::CheckIn,
        };
        Arrival {
            calls: steps,
            briefing: latest(ArrivalCallee::TechnicalBriefing),
            next_call,
            next_check,
            checks,
        }
    }
}

/// One tick of the arrival protocol. Append-only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ArrivalCall {
    pub id: Uuid,
    pub work_order_id: Uuid,
    pub callee: ArrivalCallee,
    pub at: DateTime<Utc>,
    pub note: Option<String>,
    #[serde(default)]
    pub voids: Option<Uuid>,
}

/// Labour time. Append-only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct TimeEntry {
    pub id: Uuid,
    pub work_order_id: Uuid,
    pub engineer_id: Option<Uuid>,
    pub day: NaiveDate,
    /// Labour in days (0.5 = half a day).
    pub days: Quantity,
    #[serde(default)]
    pub voids: Option<Uuid>,
}

/// Expense categories of the fee schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum ExpenseKind {
    Transport,
    Lodging,
    Meals,
    Other,
}

/// A travel or other expense. Append-only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Expense {
    pub id: Uuid,
    pub work_order_id: Uuid,
    pub kind: ExpenseKind,
    pub day: NaiveDate,
    /// Actual amount (transport, other) or days × the schedule's rate (lodging, meals).
    pub amount: Fen,
    #[serde(default)]
    pub days: Option<Quantity>,
    pub note: Option<String>,
    #[serde(default)]
    pub voids: Option<Uuid>,
}

/// 工作日志: one on-site day. Append-only; the server fills in author and device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct LogEntry {
    pub id: Uuid,
    pub work_order_id: Uuid,
    pub day: NaiveDate,
    /// Work done.
    pub text: String,
    #[serde(default)]
    pub progress: Option<String>,
    #[serde(default)]
    pub open_problems: Option<String>,
    #[serde(default)]
    pub next_plan: Option<String>,
    #[serde(default)]
    pub author_id: Option<Uuid>,
    #[serde(default)]
    pub voids: Option<Uuid>,
}

/// 里程碑 with its witness 见证 and evidence photos. Append-only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Milestone {
    pub id: Uuid,
    pub work_order_id: Uuid,
    pub title: String,
    pub reached_at: DateTime<Utc>,
    pub witness_name: Option<String>,
    /// SHA-256 of the evidence photos.
    #[serde(default)]
    pub photos: Vec<String>,
    #[serde(default)]
    pub voids: Option<Uuid>,
}

impl Milestone {
    /// A milestone 里程碑 names what was reached; its witness and photos are optional (a
    /// witness's name at most 100 characters, at most 20 photos, each a SHA-256).
    pub fn validate(&self) -> Result<(), DomainError> {
        if self.title.trim().is_empty() {
            return Err(DomainError::Invalid {
                field: "title",
                message: "say which milestone was reached".into(),
            });
        }
        if self
            .witness_name
            .as_deref()
            .is_some_and(|w| w.chars().count() > 100)
        {
            return Err(DomainError::Invalid {
                field: "witness_name",
                message: "a witness's name has at most 100 characters".into(),
            });
        }
        if self.photos.len() > 20 {
            return Err(DomainError::Invalid {
                field: "photos",
                message: "at most 20 photos prove a milestone".into(),
            });
        }
        self.photos
            .iter()
            .try_for_each(|p| crate::signature::check_sha256(p))
    }
}

/// What an attachment shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum AttachmentKind {
    /// 现场
    Site,
    /// 铭牌
    Nameplate,
    Before,
    After,
    Evidence,
    /// 图纸修改
    Drawing,
    Other,
}

/// 照片/附件: content-addressed and immutable. Append-only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Attachment {
    pub id: Uuid,
    pub work_order_id: Uuid,
    pub sha256: String,
    #[serde(default)]
    pub kind: Option<AttachmentKind>,
    #[serde(default)]
    pub mime: Option<String>,
    #[serde(default)]
    pub size: Option<u64>,
    #[serde(default)]
    pub caption: Option<String>,
    #[serde(default)]
    pub voids: Option<Uuid>,
    /// The picture's size in pixels, as sent.
    #[serde(default)]
    pub width: Option<u32>,
    #[serde(default)]
    pub height: Option<u32>,
    /// A photo too large to send is sent resized (`photo_send_size`); its original stays
    /// on the laptop that took it, under this hash.
    #[serde(default)]
    pub original_sha256: Option<String>,
}

/// The largest photo file an engineer can import (a 12 MP JPEG is 3–8 MB; a 50 MP RAW-like
/// PNG is not a site photo).
pub const MAX_PHOTO_BYTES: usize = 40 * 1024 * 1024;
/// Photos are sent home at most this many pixels on their long edge…
pub const SEND_EDGE: u32 = 2560;
/// …and at most this many bytes; a larger one is sent resized, its original kept.
pub const SEND_BYTES: usize = 4 * 1024 * 1024;
/// The longest photo caption, in characters.
pub const MAX_CAPTION_CHARS: usize = 200;

/// The size a photo of `width`×`height` pixels in `bytes` is sent at: `None` to send the
/// file as it is, or the width and height to resize it to (long edge [`SEND_EDGE`],
/// proportions kept).
pub fn photo_send_size(width: u32, height: u32, bytes: usize) -> Option<(u32, u32)> {
    let long = width.max(height);
    if long <= SEND_EDGE && bytes <= SEND_BYTES {
        return None;
    }
    let edge = long.min(SEND_EDGE);
    let scale = |side: u32| {
        let scaled = u64::from(side) * u64::from(edge) / u64::from(long.max(1));
        u32::try_from(scaled).unwrap_or(edge).max(1)
    };
    Some((scale(width), scale(height)))
}

impl Attachment {
    /// A photo record as stored: hashes that are hashes, a caption of at most
    /// [`MAX_CAPTION_CHARS`].
    pub fn validate(&self) -> Result<(), DomainError> {
        crate::signature::check_sha256(&self.sha256)?;
        if let Some(original) = &self.original_sha256 {
            crate::signature::check_sha256(original)?;
        }
        if self
            .caption
            .as_deref()
            .is_some_and(|c| c.chars().count() > MAX_CAPTION_CHARS)
        {
            return Err(DomainError::Invalid {
                field: "caption",
                message: format!("a caption has at most {MAX_CAPTION_CHARS} characters"),
            });
        }
        Ok(())
    }
}

/// 工作态度.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum Attitude {
    /// 差
    Poor,
    /// 一般
    Fair,
    /// 满意
    Satisfied,
    /// 好
    Good,
    /// 很好
    VeryGood,
}

/// 产品损坏.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum Damage {
    /// 无
    None,
    /// 有
    Some,
    /// 严重
    Severe,
}

/// 顾客满意.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum Overall {
    /// 满意
    Satisfied,
    /// 不满意
    Dissatisfied,
    /// 非常不满意
    VeryDissatisfied,
}

/// 满意度, collected on site or by callback. Append-only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Satisfaction {
    pub id: Uuid,
    pub work_order_id: Uuid,
    pub attitude: Attitude,
    pub damage: Damage,
    /// 卫生状况: good (true) / not good.
    pub hygiene_good: bool,
    pub overall: Overall,
    pub suggestions: Option<String>,
    /// 公司承诺
    pub commitment: Option<String>,
    pub collected_at: DateTime<Utc>,
    #[serde(default)]
    pub voids: Option<Uuid>,
}

/// 回访 kinds, each with the moment it counts from and how long after it is due.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum FollowUpKind {
    /// 满意度调查 within 16 h of closing (electrical seed 4.5.1).
    Survey,
    /// 3–7 days after a paid repair is done (paid-repair seed §3).
    PaidRepair,
    /// Small devices: 1 week, 1 month, 3 months after the service (small-devices seed,
    /// 售后服务跟踪).
    OneWeek,
    OneMonth,
    ThreeMonths,
    /// Small devices: the customer called within 24 h of the repair (small-devices seed,
    /// 维修反馈与确认).
    SmallDeviceCheck,
    /// After remote handling 远程解决: the result checked with the customer within 48 h
    /// (electrical seed 4.4.1).
    RemoteCheck,
}

/// The moment a callback counts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallbackFrom {
    /// The work is done on site (完成).
    Completion,
    /// The order was resolved remotely (远程解决).
    RemoteHandling,
    /// The office closed the order (关闭).
    Closing,
}

/// What an order's callbacks depend on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CallbackCase {
    /// 有偿: the customer paid for the repair.
    pub paid: bool,
    /// A small device (小型设备: printers, small tools…), which gets the small-devices
    /// seed's calls.
    pub small_device: bool,
}

impl FollowUpKind {
    pub const ALL: [FollowUpKind; 7] = [
        FollowUpKind::Survey,
        FollowUpKind::PaidRepair,
        FollowUpKind::OneWeek,
        FollowUpKind::OneMonth,
        FollowUpKind::ThreeMonths,
        FollowUpKind::SmallDeviceCheck,
        FollowUpKind::RemoteCheck,
    ];

    /// The moment this callback counts from.
    pub fn counts_from(self) -> CallbackFrom {
        match self {
            FollowUpKind::Survey
            | FollowUpKind::OneWeek
            | FollowUpKind::OneMonth
            | FollowUpKind::ThreeMonths => CallbackFrom::Closing,
            FollowUpKind::PaidRepair | FollowUpKind::SmallDeviceCheck => CallbackFrom::Completion,
            FollowUpKind::RemoteCheck => CallbackFrom::RemoteHandling,
        }
    }

    /// When this callback is due, counted from `from` (its `counts_from` moment): the
    /// survey within 16 h, the small-device call within 24 h, the remote check within
    /// 48 h, the paid-repair call by the end of its 3–7 day window, one week later, and
    /// one and three calendar months later (the same day of the month in China, the last
    /// day of a shorter month).
    pub fn due_after(self, from: DateTime<Utc>) -> DateTime<Utc> {
        let months = |n: u32| {
            let china = chrono::FixedOffset::east_opt(crate::numbering::NUMBERING_UTC_OFFSET_SECS)
                .unwrap_or_else(|| chrono::Offset::fix(&Utc));
            from.with_timezone(&china)
                .checked_add_months(chrono::Months::new(n))
                .map_or(from + chrono::Duration::days(30 * i64::from(n)), |t| {
                    t.with_timezone(&Utc)
                })
        };
        match self {
            FollowUpKind::Survey => from + chrono::Duration::hours(16),
            FollowUpKind::SmallDeviceCheck => from + chrono::Duration::hours(24),
            FollowUpKind::RemoteCheck => from + chrono::Duration::hours(48),
            FollowUpKind::PaidRepair | FollowUpKind::OneWeek => from + chrono::Duration::days(7),
            FollowUpKind::OneMonth => months(1),
            FollowUpKind::ThreeMonths => months(3),
        }
    }

    /// The callbacks an order gets at moment `at`: at completion, a paid repair's call
    /// and a small device's 24 h call; after remote handling, the 48 h check; at closing,
    /// every order's survey and a small device's one-week, one-month and three-month
    /// calls.
    pub fn schedule(case: CallbackCase, at: CallbackFrom) -> Vec<FollowUpKind> {
        let wanted = |k: FollowUpKind| match k {
            FollowUpKind::Survey | FollowUpKind::RemoteCheck => true,
            FollowUpKind::PaidRepair => case.paid,
            FollowUpKind::SmallDeviceCheck
            | FollowUpKind::OneWeek
            | FollowUpKind::OneMonth
            | FollowUpKind::ThreeMonths => case.small_device,
        };
        FollowUpKind::ALL
            .into_iter()
            .filter(|k| k.counts_from() == at && wanted(*k))
            .collect()
    }
}

/// The callbacks to add to an order at `at` (`happened_at`): those `FollowUpKind::schedule`
/// gives for its price terms and equipment, less the kinds it has already (so a move made
/// twice schedules nothing new), each due `due_after` that moment.
pub fn callbacks_due(
    order: &crate::work_order::WorkOrder,
    equipment: Option<&Equipment>,
    at: CallbackFrom,
    happened_at: DateTime<Utc>,
    existing: &[FollowUp],
    mut new_id: impl FnMut() -> Uuid,
) -> Vec<FollowUp> {
    let case = CallbackCase {
        paid: order.paid,
        small_device: equipment.is_some_and(|e| e.small_device),
    };
    let have: Vec<FollowUpKind> = standing(existing.iter()).iter().map(|f| f.kind).collect();
    FollowUpKind::schedule(case, at)
        .into_iter()
        .filter(|k| !have.contains(k))
        .map(|kind| FollowUp {
            id: new_id(),
            work_order_id: order.id,
            kind,
            due_at: kind.due_after(happened_at),
            done_at: None,
            note: None,
            voids: None,
        })
        .collect()
}

impl CallbackFrom {
    /// The moment a move of an order to `to` is, for its callbacks.
    pub fn of_move(to: crate::work_order::Status) -> Option<CallbackFrom> {
        use crate::work_order::Status;
        match to {
            Status::Completed => Some(CallbackFrom::Completion),
            Status::Remote => Some(CallbackFrom::RemoteHandling),
            Status::Closed => Some(CallbackFrom::Closing),
            _ => None,
        }
    }
}

/// A scheduled or done callback. Append-only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct FollowUp {
    pub id: Uuid,
    pub work_order_id: Uuid,
    pub kind: FollowUpKind,
    pub due_at: DateTime<Utc>,
    pub done_at: Option<DateTime<Utc>>,
    pub note: Option<String>,
    #[serde(default)]
    pub voids: Option<Uuid>,
}

/// 培训 delivered on site. Append-only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Training {
    pub id: Uuid,
    pub work_order_id: Uuid,
    pub material: String,
    pub attendees: Vec<String>,
    pub evaluation: Option<String>,
    pub held_on: NaiveDate,
    #[serde(default)]
    pub voids: Option<Uuid>,
}

impl Training {
    /// Training 培训 given on site: what was taught, to whom (1–50 attendees, each named),
    /// and how it went.
    pub fn validate(&self) -> Result<(), DomainError> {
        if self.material.trim().is_empty() {
            return Err(DomainError::Invalid {
                field: "material",
                message: "say what the training covered".into(),
            });
        }
        if self.attendees.is_empty() || self.attendees.len() > 50 {
            return Err(DomainError::Invalid {
                field: "attendees",
                message: "name the 1 to 50 people trained".into(),
            });
        }
        if self
            .attendees
            .iter()
            .any(|a| a.trim().is_empty() || a.chars().count() > 100)
        {
            return Err(DomainError::Invalid {
                field: "attendees",
                message: "each attendee needs a name of at most 100 characters".into(),
            });
        }
        Ok(())
    }
}

/// The service company (服务单位) as printed at the top of every document: reference data
/// the server sends to every laptop (entity `company`, one record).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Company {
    pub id: Uuid,
    /// 单位名称 in Chinese.
    pub name: String,
    /// The name on English documents; the Chinese name when absent.
    #[serde(default)]
    pub name_en: Option<String>,
    #[serde(default)]
    pub address: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
    /// 服务热线
    #[serde(default)]
    pub hotline: Option<String>,
}

/// A person who signs in: an engineer, a dispatcher or an admin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct User {
    pub id: Uuid,
    pub username: String,
    pub name: String,
    pub role: crate::work_order::Role,
    /// Department code (SC, SJ, …) whose numbers this user issues.
    pub department: Option<String>,
}

/// The longest user name and display name, in characters.
pub const MAX_USERNAME_CHARS: usize = 64;
/// Passwords: at least this many characters that are not spaces …
pub const MIN_PASSWORD_CHARS: usize = 10;
/// … and at most this many bytes (hashing is paid per byte, by the server).
pub const MAX_PASSWORD_BYTES: usize = 256;

/// Characters that change how text is shown without being seen (zero-width, bidi
/// overrides and isolates, soft hyphen, byte-order mark, tags): in a name they let one
/// account pass for another.
pub fn is_invisible(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{034F}' | '\u{061C}' | '\u{115F}' | '\u{1160}' | '\u{17B4}' | '\u{17B5}'
        | '\u{180B}'..='\u{180F}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{206F}' | '\u{3164}' | '\u{FE00}'..='\u{FE0F}' | '\u{FEFF}' | '\u{FFA0}'
        | '\u{FFF0}'..='\u{FFFB}' | '\u{E0000}'..='\u{E0FFF}')
}

/// A sign-in name: 1–64 letters (any script) or digits, and `.`, `_`, `-`, `@`.
pub fn check_username(username: &str) -> Result<(), DomainError> {
    let n = username.chars().count();
    let ok = (1..=MAX_USERNAME_CHARS).contains(&n)
        && username.chars().all(|c| {
            (c.is_alphanumeric() && !is_invisible(c)) || matches!(c, '.' | '_' | '-' | '@')
        });
    if ok {
        Ok(())
    } else {
        Err(DomainError::Invalid {
            field: "username",
            message: format!(
                "1–{MAX_USERNAME_CHARS} letters or digits, and . _ - @; no spaces, no invisible characters"
            ),
        })
    }
}

/// A person's name as shown and printed: 1–64 characters, no control or invisible ones.
pub fn check_person_name(name: &str) -> Result<(), DomainError> {
    let n = name.chars().count();
    if name.trim().is_empty()
        || n > MAX_USERNAME_CHARS
        || name.chars().any(|c| c.is_control() || is_invisible(c))
    {
        return Err(DomainError::Invalid {
            field: "name",
            message: format!(
                "write the person's name: 1–{MAX_USERNAME_CHARS} characters, no control or invisible characters"
            ),
        });
    }
    Ok(())
}

/// A password that is not trivially guessed: 10 or more characters that are not spaces,
/// at least 5 different ones, not the user name, not one of the most common passwords.
pub fn check_password(password: &str, username: &str) -> Result<(), DomainError> {
    const COMMON: &[&str] = &[
        "password",
        "passw0rd",
        "123456789",
        "1234567890",
        "qwertyuiop",
        "1q2w3e4r5t",
        "iloveyou",
        "administrator",
        "abcdefghij",
        "0123456789",
        "111111111",
        "a123456789",
    ];
    let weak = |message: String| {
        Err(DomainError::Invalid {
            field: "password",
            message,
        })
    };
    if password.len() > MAX_PASSWORD_BYTES {
        return weak(format!("at most {MAX_PASSWORD_BYTES} bytes"));
    }
    let visible = password.chars().filter(|c| !c.is_whitespace()).count();
    if visible < MIN_PASSWORD_CHARS {
        return weak(format!(
            "at least {MIN_PASSWORD_CHARS} characters that are not spaces"
        ));
    }
    let mut distinct: Vec<char> = password.chars().collect();
    distinct.sort_unstable();
    distinct.dedup();
    let lower = password.to_lowercase();
    if distinct.len() < 5
        || lower.contains(&username.to_lowercase())
        || COMMON.iter().any(|c| lower.starts_with(c))
    {
        return weak("too easy to guess: use a phrase of several words".into());
    }
    Ok(())
}

/// An append-only record that a later record may correct: `voids` names the one it
/// replaces. Nothing is edited or deleted; what stands is what no correction voids.
pub trait Correctable {
    fn record_id(&self) -> Uuid;
    fn voids(&self) -> Option<Uuid>;
}

impl<T: Correctable> Correctable for &T {
    fn record_id(&self) -> Uuid {
        (*self).record_id()
    }
    fn voids(&self) -> Option<Uuid> {
        (*self).voids()
    }
}

macro_rules! correctable {
    ($($t:ty),* $(,)?) => {$(
        impl Correctable for $t {
            fn record_id(&self) -> Uuid {
                self.id
            }
            fn voids(&self) -> Option<Uuid> {
                self.voids
            }
        }
    )*};
}

correctable!(
    PartUsage,
    WarehouseReceipt,
    ServiceRequest,
    CheckIn,
    ArrivalCall,
    TimeEntry,
    Expense,
    LogEntry,
    Milestone,
    Attachment,
    Satisfaction,
    FollowUp,
    Training,
    crate::fees::Settlement,
);

/// The records that stand, in their order: those no record of `items` voids. The one
/// rule of corrections, for the screen, the printed documents and the signed content
/// alike. (A correction stands itself; a part usage of 0 that only cancels one is left
/// out by the callers that count parts.)
pub fn standing<T: Correctable>(items: impl IntoIterator<Item = T>) -> Vec<T> {
    let items: Vec<T> = items.into_iter().collect();
    let voided: std::collections::HashSet<Uuid> = items.iter().filter_map(T::voids).collect();
    items
        .into_iter()
        .filter(|i| !voided.contains(&i.record_id()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn names_that_pass_for_another_and_weak_passwords_are_refused() {
        assert!(check_username("wanggong").is_ok());
        assert!(check_username("王工.sc-2").is_ok());
        for bad in [
            "",
            "wang gong",
            "wang\u{200B}gong",
            "admin\u{202E}",
            "a\tb",
            &"x".repeat(65),
        ] {
            assert!(check_username(bad).is_err(), "{bad:?}");
        }
        assert!(check_person_name("王工").is_ok());
        assert!(check_person_name("王\u{202E}工").is_err());
        assert!(check_person_name("   ").is_err());
        assert!(check_password("onsite-demo-2026", "wanggong").is_ok());
        for bad in [
            "        ",
            "short",
            "aaaaaaaaaaaa",
            "password123",
            "wanggong-1234",
            "1234567890",
        ] {
            assert!(check_password(bad, "wanggong").is_err(), "{bad:?}");
        }
        assert!(check_password(&"ab1 ".repeat(100), "x").is_err());
    }

    #[test]
    fn a_part_from_the_van_takes_it_and_a_correction_gives_it_back() {
        let (a, b) = (Uuid::from_u128(1), Uuid::from_u128(2));
        let usage = |id: u128, part, quantity, from_van_stock, voids: Option<u128>| PartUsage {
            id: Uuid::from_u128(id),
            work_order_id: Uuid::from_u128(9),
            part_id: part,
            quantity,
            warranty: true,
            unit_price: None,
            old_part: None,
            from_van_stock,
            voids: voids.map(Uuid::from_u128),
        };
        let first = usage(10, a, 2, true, None);
        assert_eq!(first.van_stock_changes(None), vec![(a, -2)]);
        assert!(
            usage(11, a, 2, false, None)
                .van_stock_changes(None)
                .is_empty()
        );
        let fewer = usage(12, a, 1, true, Some(10));
        assert_eq!(fewer.van_stock_changes(Some(&first)), vec![(a, 1)]);
        let cancelled = usage(13, a, 0, true, Some(10));
        assert_eq!(cancelled.van_stock_changes(Some(&first)), vec![(a, 2)]);
        let other_part = usage(14, b, 1, true, Some(10));
        assert_eq!(
            other_part.van_stock_changes(Some(&first)),
            vec![(b, -1), (a, 2)]
        );
        let unrelated = usage(15, b, 1, false, None);
        assert!(
            unrelated.van_stock_changes(Some(&first)).is_empty(),
            "only the usage it voids gives back"
        );
        let elsewhere = PartUsage {
            work_order_id: Uuid::from_u128(8),
            ..usage(16, a, 0, true, Some(10))
        };
        assert!(
            elsewhere.van_stock_changes(Some(&first)).is_empty(),
            "voiding another order's usage gives nothing back to this van"
        );
    }

    #[test]
    fn the_three_calls_come_in_the_manuals_order_and_checking_in_leads_to_checking_out() {
        let order = Uuid::from_u128(99);
        let at = |h: u32| {
            Utc.with_ymd_and_hms(2026, 3, 2, h, 0, 0)
                .single()
                .expect("a time")
        };
        let call = |n: u128, callee, h| ArrivalCall {
            id: Uuid::from_u128(n),
            work_order_id: order,
            callee,
            at: at(h),
            note: None,
            voids: None,
        };
        let check = |n: u128, kind, h| CheckIn {
            id: Uuid::from_u128(n),
            work_order_id: order,
            kind,
            at: at(h),
            location_text: None,
            latitude: None,
            longitude: None,
            voids: None,
        };
        let none = Arrival::of(&[], &[]);
        assert_eq!(none.next_call, Some(ArrivalCallee::CustomerManager));
        assert_eq!(none.next_check, CheckKind::CheckIn);
        let calls = [
            call(1, ArrivalCallee::CustomerManager, 8),
            call(2, ArrivalCallee::SiteInterface, 9),
        ];
        let some = Arrival::of(&calls, &[check(5, CheckKind::CheckIn, 8)]);
        assert_eq!(some.next_call, Some(ArrivalCallee::CustomerContact));
        assert_eq!(some.next_check, CheckKind::CheckOut);
        assert!(some.briefing.is_none());
        let all = [
            calls[0].clone(),
            calls[1].clone(),
            call(3, ArrivalCallee::CustomerContact, 9),
            call(4, ArrivalCallee::TechnicalBriefing, 10),
        ];
        let done = Arrival::of(
            &all,
            &[
                check(5, CheckKind::CheckIn, 8),
                check(6, CheckKind::CheckOut, 17),
            ],
        );
        assert_eq!(done.next_call, None);
        assert_eq!(done.next_check, CheckKind::CheckIn, "a new day");
        assert_eq!(done.briefing.map(|b| b.id), Some(Uuid::from_u128(4)));
        assert_eq!(done.checks.len(), 2);
    }

    #[test]
    fn a_photo_is_sent_as_it_is_unless_it_is_too_large_then_resized_in_proportion() {
        assert_eq!(photo_send_size(1920, 1080, 600_000), None);
        assert_eq!(photo_send_size(4000, 3000, 5_000_000), Some((2560, 1920)));
        assert_eq!(photo_send_size(3000, 4000, 5_000_000), Some((1920, 2560)));
        // Small in pixels but a huge file (an uncompressed PNG): sent recompressed.
        assert_eq!(photo_send_size(2000, 1000, 9_000_000), Some((2000, 1000)));
        assert_eq!(photo_send_size(100_000, 1, 5_000_000), Some((2560, 1)));
    }

    #[test]
    fn a_corrected_record_no_longer_stands_and_its_correction_does() {
        let photo = |n: u128, voids: Option<u128>| Attachment {
            id: Uuid::from_u128(n),
            work_order_id: Uuid::from_u128(99),
            sha256: "0".repeat(64),
            kind: None,
            mime: None,
            size: None,
            caption: None,
            voids: voids.map(Uuid::from_u128),
            width: None,
            height: None,
            original_sha256: None,
        };
        let all = [
            photo(1, None),
            photo(2, None),
            photo(3, Some(1)),
            photo(4, Some(3)),
        ];
        let ids: Vec<u128> = standing(&all).iter().map(|a| a.id.as_u128()).collect();
        assert_eq!(ids, [2, 4], "1 voided by 3, 3 voided by 4");
        assert!(standing(Vec::<Attachment>::new()).is_empty());
    }

    fn t(d: u32, h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, d, h, 0, 0)
            .single()
            .expect("valid")
    }

    #[test]
    fn a_returned_part_is_late_after_sixteen_hours() {
        let mut r = WarehouseReceipt {
            id: Uuid::nil(),
            work_order_id: Uuid::nil(),
            part_usage_id: Uuid::nil(),
            returned_at: t(2, 8),
            booked_at: None,
            nonconformance: None,
            voids: None,
        };
        assert_eq!(r.due_by(), t(3, 0));
        assert!(!r.is_late(t(3, 0)), "exactly on time");
        assert!(r.is_late(t(3, 1)));
        r.booked_at = Some(t(2, 20));
        assert!(!r.is_late(t(9, 0)), "booked in time stays on time");
    }

    fn usage(id: u128, order: u128, old_part: Option<OldPartDisposition>) -> PartUsage {
        PartUsage {
            id: Uuid::from_u128(id),
            work_order_id: Uuid::from_u128(order),
            part_id: Uuid::from_u128(99),
            quantity: 1,
            warranty: true,
            unit_price: None,
            old_part,
            from_van_stock: true,
            voids: None,
        }
    }

    fn receipt(id: u128, usage: u128, returned_at: DateTime<Utc>) -> WarehouseReceipt {
        WarehouseReceipt {
            id: Uuid::from_u128(id),
            work_order_id: Uuid::from_u128(1),
            part_usage_id: Uuid::from_u128(usage),
            returned_at,
            booked_at: None,
            nonconformance: None,
            voids: None,
        }
    }

    #[test]
    fn the_engineer_opens_a_receipt_for_an_old_part_going_to_the_warehouse_only() {
        use OldPartDisposition::*;
        let now = t(2, 12);
        let r = receipt(10, 5, t(2, 8));
        assert!(
            r.check_engineers(Some(&usage(5, 1, Some(ReturnForRepair))), now)
                .is_ok()
        );
        assert!(
            r.check_engineers(Some(&usage(5, 1, Some(Scrap))), now)
                .is_ok()
        );
        for refused in [
            None,
            Some(usage(5, 2, Some(ReturnForRepair))),
            Some(usage(5, 1, Some(CustomerKeeps))),
            Some(usage(5, 1, None)),
        ] {
            assert!(
                matches!(
                    r.check_engineers(refused.as_ref(), now),
                    Err(DomainError::Invalid {
                        field: "part_usage_id",
                        ..
                    })
                ),
                "{refused:?}"
            );
        }
        let ok = usage(5, 1, Some(ReturnForRepair));
        let booked = WarehouseReceipt {
            booked_at: Some(t(2, 9)),
            ..r.clone()
        };
        assert!(
            booked.check_engineers(Some(&ok), now).is_err(),
            "booking is the warehouse's"
        );
        let flagged = WarehouseReceipt {
            nonconformance: Some(Nonconformance {
                description: "外壳破损".into(),
                responsible: None,
            }),
            ..r.clone()
        };
        assert!(flagged.check_engineers(Some(&ok), now).is_err());
        let ahead = receipt(10, 5, t(3, 8));
        assert!(
            ahead.check_engineers(Some(&ok), now).is_err(),
            "not back yet"
        );
    }

    #[test]
    fn each_old_part_for_the_warehouse_shows_its_receipt_and_deadline() {
        use OldPartDisposition::*;
        let usages = [
            usage(1, 1, Some(ReturnForRepair)),
            usage(2, 1, Some(CustomerKeeps)),
            usage(3, 1, Some(Scrap)),
            usage(4, 1, Some(ReturnForRepair)),
            // 4 taken back: no receipt is due for it.
            PartUsage {
                id: Uuid::from_u128(6),
                quantity: 0,
                voids: Some(Uuid::from_u128(4)),
                ..usage(6, 1, Some(ReturnForRepair))
            },
        ];
        let receipts = [receipt(10, 1, t(2, 8))];
        let lines = warehouse_lines(&usages, &receipts, t(3, 1));
        let ids: Vec<u128> = lines.iter().map(|l| l.part_usage_id.as_u128()).collect();
        assert_eq!(ids, [1, 3]);
        assert_eq!(lines[0].due_by, Some(t(3, 0)));
        assert!(lines[0].late, "16 h passed, not booked");
        assert_eq!((lines[1].receipt.clone(), lines[1].due_by), (None, None));
        assert!(!lines[1].late, "not back at HQ yet: no clock runs");
    }

    #[test]
    fn callbacks_follow_the_manuals() {
        use CallbackFrom::*;
        use FollowUpKind::*;
        let plain = CallbackCase::default();
        let paid = CallbackCase {
            paid: true,
            small_device: false,
        };
        let small = CallbackCase {
            paid: false,
            small_device: true,
        };
        // Every order: the survey at closing, nothing at completion.
        assert_eq!(FollowUpKind::schedule(plain, Closing), vec![Survey]);
        assert!(FollowUpKind::schedule(plain, Completion).is_empty());
        // A paid repair: its call counts from completion.
        assert_eq!(FollowUpKind::schedule(paid, Completion), vec![PaidRepair]);
        // A small device: 24 h after the repair, then 1 week / 1 month / 3 months.
        assert_eq!(
            FollowUpKind::schedule(small, Completion),
            vec![SmallDeviceCheck]
        );
        assert_eq!(
            FollowUpKind::schedule(small, Closing),
            vec![Survey, OneWeek, OneMonth, ThreeMonths]
        );
        // Remote handling: the 48 h check, paid or not.
        assert_eq!(
            FollowUpKind::schedule(paid, RemoteHandling),
            vec![RemoteCheck]
        );

        // Each interval as the seeds give it.
        let closed = t(2, 8);
        assert_eq!(Survey.due_after(closed), t(3, 0), "16 h (electrical 4.5.1)");
        assert_eq!(SmallDeviceCheck.due_after(closed), t(3, 8), "24 h");
        assert_eq!(
            RemoteCheck.due_after(closed),
            t(4, 8),
            "48 h (electrical 4.4.1)"
        );
        assert_eq!(PaidRepair.due_after(closed), t(9, 8), "by day 7 of 3–7");
        assert_eq!(OneWeek.due_after(closed), t(9, 8));
        // Calendar months, not 30 or 90 days: 2 Nov → 2 Dec, 2 Feb.
        let utc = |y, m, d, h| {
            Utc.with_ymd_and_hms(y, m, d, h, 0, 0)
                .single()
                .expect("valid")
        };
        assert_eq!(OneMonth.due_after(closed), utc(2026, 12, 2, 8));
        assert_eq!(ThreeMonths.due_after(closed), utc(2027, 2, 2, 8));
        // The last day of a shorter month, by the date in China: closed 31 Jan 20:00
        // Beijing time is due 28 Feb 20:00 Beijing time.
        let end_of_january = utc(2027, 1, 31, 12);
        assert_eq!(OneMonth.due_after(end_of_january), utc(2027, 2, 28, 12));
        // Late on 31 Jan in UTC is already 1 Feb 04:00 in China: due 1 March 04:00 there
        // (28 Feb 20:00 UTC), not at the end of February.
        let first_of_february_in_china = utc(2027, 1, 31, 20);
        assert_eq!(
            OneMonth.due_after(first_of_february_in_china),
            utc(2027, 2, 28, 20)
        );
    }

    #[test]
    fn an_orders_callbacks_are_scheduled_once_for_its_terms_and_equipment() {
        use crate::work_order::{Channel, ServiceType, Status, WarrantyStatus, WorkOrder};
        let order = WorkOrder {
            id: Uuid::from_u128(1),
            number: "SC2611-07".into(),
            department: "SC".into(),
            customer_id: Uuid::from_u128(2),
            equipment_id: Some(Uuid::from_u128(7)),
            service_type: ServiceType::Repair,
            fault_level: 2,
            channel: Channel::Hotline,
            status: Status::Completed,
            reported_at: t(1, 8),
            fault_description: "卡纸".into(),
            expected_completion: None,
            requested_service_at: None,
            scheduled_at: None,
            warranty: WarrantyStatus::OutOfWarranty,
            paid: true,
            charge_cause: None,
            complex: false,
            assignees: vec![],
            recorded_by: None,
            service_record_number: None,
            service_record_waiting: None,
            outside_main_city: false,
            arrived_at: None,
            diagnosis: None,
            repair_result: None,
            repair_started_at: None,
            repair_ended_at: None,
            outcome: None,
            postpone_reason: None,
        };
        let mut printer: Equipment = serde_json::from_value(serde_json::json!({
            "id": Uuid::from_u128(7), "customer_id": order.customer_id, "model": "HP M404",
            "serial": "S1", "project_number": null, "kind": "打印机", "size": null,
            "location": null, "commissioned_on": null, "purchased_on": null,
            "invoice_number": null, "warranty_until": null
        }))
        .expect("an equipment row without the flag reads as not small");
        assert!(!printer.small_device);
        printer.small_device = true;
        let mut n = 0u128;
        let mut ids = || {
            n += 1;
            Uuid::from_u128(100 + n)
        };
        let done = t(2, 8);
        let at_completion = callbacks_due(
            &order,
            Some(&printer),
            CallbackFrom::Completion,
            done,
            &[],
            &mut ids,
        );
        let kinds: Vec<FollowUpKind> = at_completion.iter().map(|f| f.kind).collect();
        assert_eq!(
            kinds,
            [FollowUpKind::PaidRepair, FollowUpKind::SmallDeviceCheck]
        );
        assert_eq!(at_completion[1].due_at, t(3, 8));
        assert!(at_completion.iter().all(|f| f.work_order_id == order.id));
        // Completed again (after a reopening): nothing new.
        assert!(
            callbacks_due(
                &order,
                Some(&printer),
                CallbackFrom::Completion,
                t(3, 8),
                &at_completion,
                &mut ids
            )
            .is_empty()
        );
        let at_closing = callbacks_due(
            &order,
            Some(&printer),
            CallbackFrom::Closing,
            t(4, 0),
            &at_completion,
            &mut ids,
        );
        assert_eq!(at_closing.len(), 4, "survey, 1 week, 1 month, 3 months");
        assert_eq!(at_closing[0].due_at, t(4, 16));
        let no_equipment =
            callbacks_due(&order, None, CallbackFrom::Closing, t(4, 0), &[], &mut ids);
        assert_eq!(no_equipment.len(), 1, "the survey only");
    }

    #[test]
    fn warranty_includes_its_last_day() {
        let e = Equipment {
            id: Uuid::nil(),
            customer_id: Uuid::nil(),
            model: "M".into(),
            serial: "S".into(),
            project_number: None,
            kind: None,
            size: None,
            small_device: false,
            location: None,
            commissioned_on: None,
            purchased_on: None,
            invoice_number: None,
            warranty_until: NaiveDate::from_ymd_opt(2026, 11, 22),
        };
        assert!(e.in_warranty(NaiveDate::from_ymd_opt(2026, 11, 22).expect("valid")));
        assert!(!e.in_warranty(NaiveDate::from_ymd_opt(2026, 11, 23).expect("valid")));
    }

    #[test]
    fn a_minimal_log_entry_from_the_protocol_parses() {
        let json = r#"{"id":"0192f0c4-7a1b-7000-8000-000000000001","work_order_id":"0192f0c4-7a1b-7000-8000-000000000002","day":"2026-11-22","text":"更换滤芯"}"#;
        let e: LogEntry = serde_json::from_str(json).expect("minimal log entry is valid");
        assert_eq!(e.text, "更换滤芯");
    }
}
