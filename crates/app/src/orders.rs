//! The engineer's orders: the list, search, one order's screen and the steps of its
//! lifecycle. Every write is on disk before the method returns, and sent by the sync
//! engine when it can.

use chrono::{DateTime, Utc};
use onsite_domain::Status;
use onsite_domain::authority;
use onsite_domain::checklist::{self, Answer, ChecklistItem, ItemState};
use onsite_domain::completion;
use onsite_domain::protocol::{Entity, OpKind, OpStatus};
use onsite_domain::records::{
    self, Arrival, ArrivalCall, ArrivalCallee, Attachment, CheckIn, CheckKind, Expense, LogEntry,
    Milestone, Part, PartUsage, ServiceRequest, TimeEntry, Training,
};
use onsite_domain::work_order::{self, ChargeCause, Role};
use onsite_store::{Page, Store, WorkOrderDetail, WorkOrderSummary};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use ts_rs::TS;
use uuid::Uuid;

use crate::{App, AppError, ErrorCode};

/// The most orders a list answers with.
pub const MAX_LIST: u32 = 1000;

/// The most characters a search looks for (a longer query is refused).
pub const MAX_QUERY_CHARS: usize = 200;

/// One work order on its screen, with the steps the engineer may take next.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
pub struct OrderScreen {
    pub detail: WorkOrderDetail,
    pub next_statuses: Vec<Status>,
    /// The order's photos that stand (`records::standing`: none a correction voids).
    pub photos: Vec<Attachment>,
    /// The checklist in working order (safety first), each item with its state: a
    /// measurement outside its limits is `failed` the moment it is saved.
    pub checklist: Vec<ChecklistRow>,
    /// What the checklist still lacks before the order can complete (required items
    /// open, failed items without a note), by name.
    pub checklist_blockers: Vec<completion::Blocker>,
    /// Whether the engineer may still answer the checklist (until completion: the
    /// authority table); otherwise the answers are shown read-only.
    pub can_answer_checklist: bool,
    /// The arrival protocol: the three calls, the briefing, checking in and out.
    pub arrival: Arrival,
    /// The parts used on the order that stand (corrections applied, cancellations left
    /// out), with their catalogue entries.
    pub parts: Vec<PartRow>,
    /// Labour booked on the order that stands, newest first.
    pub time_entries: Vec<TimeEntry>,
    /// Expenses that stand, newest first.
    pub expenses: Vec<Expense>,
    /// The daily work log that stands, newest day first.
    pub log: Vec<LogEntry>,
    /// Milestones reached, newest first.
    pub milestones: Vec<Milestone>,
    /// Training given, newest first.
    pub trainings: Vec<Training>,
    /// New requests registered on this order for its customer (首问负责), newest first,
    /// each with the order the server made of it once synced.
    pub requests: Vec<ServiceRequest>,
    /// Whether the engineer may still add or cancel parts (the authority table).
    pub can_use_parts: bool,
    /// Whether the engineer may still write the diagnosis (the authority table).
    pub can_diagnose: bool,
    /// Whether charging this order needs a cause (in warranty: user damage or force
    /// majeure); out of warranty the work is charged anyway.
    pub charge_cause_applies: bool,
    /// Paid work: the quote as it stands (the latest, priced), when there is one.
    pub quote: Option<QuoteView>,
    /// Paid work: whether the engineer may present a quote now (a step leads to 已报价,
    /// or one waits for the customer and may be replaced).
    pub can_quote: bool,
    /// Why the repair cannot start yet (paid work without its latest quote approved and
    /// validly signed); empty when it can.
    pub repair_start_blockers: Vec<completion::Blocker>,
    /// The settlement that stands (结算单).
    pub settlement: Option<onsite_domain::fees::Settlement>,
    /// The customer's satisfaction entry that stands (外出服务记录表).
    pub satisfaction: Option<records::Satisfaction>,
    /// Each document the customer signs at close-out, with where its signature stands.
    pub signings: Vec<DocumentSigning>,
    /// Every reason the order cannot complete now (`completion::completion_blockers`),
    /// by name; empty when it can.
    pub completion_blockers: Vec<completion::Blocker>,
    /// What the server did not apply of this order's changes (a conflict, a refusal, a
    /// change set aside), newest first: shown in words until the engineer has read them.
    pub problems: Vec<Problem>,
}

/// The order's latest quote with its price.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
pub struct QuoteView {
    pub quote: onsite_domain::fees::Quote,
    /// What each line charges, in order (`QuoteItem::total`).
    pub line_totals: Vec<onsite_domain::money::Fen>,
    pub pricing: onsite_domain::fees::Pricing,
    /// Presented and waiting for the customer's signature or decline.
    pub awaiting_decision: bool,
    /// The customer's signature that approved it, when it is approved by one.
    pub signature: Option<onsite_domain::signature::Signature>,
    /// The quotes before it, newest first (changes, declines).
    pub earlier: Vec<onsite_domain::fees::Quote>,
}

/// One document the customer signs, and where its signature stands.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
pub struct DocumentSigning {
    pub document: onsite_domain::signature::DocumentKind,
    pub signing: completion::Signing,
}

/// A change of the engineer's the server did not apply, as the screen tells it.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
pub struct Problem {
    pub op_id: Uuid,
    /// `conflict`, `rejected` or `quarantined`.
    pub status: OpStatus,
    pub entity: Entity,
    pub kind: OpKind,
    /// The step asked for, when the change was a step of the order.
    pub to: Option<Status>,
    /// The server's words.
    pub reason: Option<String>,
    pub decided_at: DateTime<Utc>,
    /// The engineer has read it (知道了).
    pub seen: bool,
}

/// The engineer's diagnosis of an order: what is wrong and why (故障原因), and, for
/// in-warranty work the customer must pay after all, the cause.
#[derive(Debug, Clone, PartialEq, Deserialize, TS)]
pub struct DiagnosisInput {
    pub order_id: String,
    pub diagnosis: Option<String>,
    pub charge_cause: Option<ChargeCause>,
}

/// One call of the arrival protocol, or the technical briefing, ticked now.
#[derive(Debug, Clone, PartialEq, Deserialize, TS)]
pub struct ArrivalCallInput {
    pub order_id: String,
    pub callee: ArrivalCallee,
    /// Who answered, or what the briefing covered.
    pub note: Option<String>,
}

/// Checking in or out now (签到/签退).
#[derive(Debug, Clone, PartialEq, Deserialize, TS)]
pub struct CheckInput {
    pub order_id: String,
    /// What the screen offered (`Arrival::next_check`): a second click of the same button
    /// is refused rather than recorded twice.
    pub kind: CheckKind,
    /// Where, in words (optional).
    pub location_text: Option<String>,
}

/// One part used on the order, as the screen shows it.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
pub struct PartRow {
    pub usage: PartUsage,
    /// The catalogue entry (name, code, unit, price), when this laptop has it.
    pub part: Option<Part>,
    /// For an old part that goes to the warehouse (返修/报废): its 入库单 once the engineer
    /// is back at HQ, and the 16 h deadline.
    pub warehouse: Option<records::WarehouseLine>,
}

/// One checklist item as the screen shows it.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
pub struct ChecklistRow {
    pub item: ChecklistItem,
    pub state: ItemState,
    /// The signed-in engineer may cross-check it now (`ChecklistItem::cross_checkable_by`).
    pub can_cross_check: bool,
}

/// A cross-check 交叉检查 of one checklist item by the signed-in engineer.
#[derive(Debug, Clone, PartialEq, Deserialize, TS)]
pub struct CrossCheckInput {
    pub order_id: String,
    pub item_id: String,
}

/// The engineer's answer to one checklist item (自检), saved offline.
#[derive(Debug, Clone, PartialEq, Deserialize, TS)]
pub struct ChecklistAnswer {
    pub order_id: String,
    pub item_id: String,
    /// `None` takes the answer back (the item is open again).
    pub answer: Option<Answer>,
    pub note: Option<String>,
}

/// A step in an order's lifecycle, as the engineer asks for it.
#[derive(Debug, Clone, PartialEq, Deserialize, TS)]
pub struct TransitionInput {
    pub id: String,
    pub to: Status,
    /// The new visit time, when postponing.
    pub scheduled_at: Option<DateTime<Utc>>,
    /// Why, when postponing.
    pub reason: Option<String>,
}

/// An order's id as the window sends it.
pub fn order_id(id: &str) -> Result<Uuid, AppError> {
    record_id(id, "work order")
}

pub(crate) fn record_id(id: &str, what: &str) -> Result<Uuid, AppError> {
    id.parse()
        .map_err(|_| AppError::new(ErrorCode::Invalid, format!("{id:?} is not a {what} id")))
}

/// One order's screen, read from the store.
pub(crate) fn load_screen(s: &Store, id: Uuid) -> Result<OrderScreen, AppError> {
    let detail = s.work_order(id)?;
    let mut ids: Vec<Uuid> = detail.part_usages.iter().map(|u| u.part_id).collect();
    ids.sort();
    ids.dedup();
    let parts = s.parts(&ids)?;
    let problems = s
        .outcomes_of_order(id)?
        .into_iter()
        .map(|(o, seen)| Problem {
            op_id: o.op.op_id,
            status: o.status,
            entity: o.op.entity,
            kind: o.op.kind,
            to: o.op.transition.map(|t| t.to),
            reason: o.reason,
            decided_at: o.decided_at,
            seen,
        })
        .collect();
    let viewer = onsite_sync_client::Session::load(s)
        .ok()
        .flatten()
        .map(|session| session.user.id);
    let schedule = s.fee_schedule()?.unwrap_or_default();
    Ok(screen(detail, parts, problems, viewer, &schedule))
}

fn screen(
    detail: WorkOrderDetail,
    catalogue: Vec<Part>,
    problems: Vec<Problem>,
    viewer: Option<Uuid>,
    schedule: &onsite_domain::fees::FeeSchedule,
) -> OrderScreen {
    let assignees = detail.order.engineer_ids();
    let next_statuses = work_order::next_steps(&detail.order, Role::Engineer);
    let photos = records::standing(detail.attachments.iter().cloned());
    let checklist_blockers = completion::checklist_blockers(&detail.checklist);
    let mut items = detail.checklist.clone();
    checklist::in_working_order(&mut items);
    let checklist = items
        .into_iter()
        .map(|item| ChecklistRow {
            state: item.state(),
            can_cross_check: viewer.is_some_and(|v| item.cross_checkable_by(v, &assignees)),
            item,
        })
        .collect();
    let can_answer_checklist = authority::may(
        Role::Engineer,
        Entity::ChecklistItem,
        authority::Action::Change,
        "answer",
        Some(detail.order.status),
    );
    let arrival = Arrival::of(&detail.arrival_calls, &detail.check_ins);
    let charge_cause_applies = work_order::charge_cause_applies(&detail.order);
    let mut warehouse =
        records::warehouse_lines(&detail.part_usages, &detail.warehouse_receipts, Utc::now());
    let parts = records::standing(detail.part_usages.iter().cloned())
        .into_iter()
        .filter(|u| u.quantity > 0)
        .map(|usage| PartRow {
            part: catalogue.iter().find(|p| p.id == usage.part_id).cloned(),
            warehouse: warehouse
                .iter()
                .position(|l| l.part_usage_id == usage.id)
                .map(|i| warehouse.swap_remove(i)),
            usage,
        })
        .collect();
    let mut time_entries = records::standing(detail.time_entries.iter().cloned());
    time_entries.sort_by_key(|e| std::cmp::Reverse((e.day, e.id)));
    let mut expenses = records::standing(detail.expenses.iter().cloned());
    expenses.sort_by_key(|e| std::cmp::Reverse((e.day, e.id)));
    let mut log = records::standing(detail.log_entries.iter().cloned());
    log.sort_by_key(|e| std::cmp::Reverse((e.day, e.id)));
    let mut milestones = records::standing(detail.milestones.iter().cloned());
    milestones.sort_by_key(|m| std::cmp::Reverse((m.reached_at, m.id)));
    let mut trainings = records::standing(detail.trainings.iter().cloned());
    trainings.sort_by_key(|t| std::cmp::Reverse((t.held_on, t.id)));
    let mut requests = records::standing(detail.service_requests.iter().cloned());
    requests.sort_by_key(|r| std::cmp::Reverse((r.reported_at, r.id)));
    let can_use_parts = authority::may(
        Role::Engineer,
        Entity::PartUsage,
        authority::Action::Create,
        "quantity",
        Some(detail.order.status),
    );
    let can_diagnose = authority::may(
        Role::Engineer,
        Entity::WorkOrder,
        authority::Action::Change,
        "diagnosis",
        Some(detail.order.status),
    );
    let quote = completion::latest_quote(&detail.quotes).map(|latest| {
        let mut earlier: Vec<_> = detail
            .quotes
            .iter()
            .filter(|q| q.id != latest.id)
            .cloned()
            .collect();
        earlier.sort_by_key(|q| std::cmp::Reverse((q.created_at, q.id)));
        QuoteView {
            pricing: schedule.price(&latest.items).unwrap_or_default(),
            line_totals: latest
                .items
                .iter()
                .map(onsite_domain::fees::QuoteItem::total)
                .collect(),
            awaiting_decision: latest.state == onsite_domain::fees::QuoteState::Draft,
            signature: match &latest.state {
                onsite_domain::fees::QuoteState::Approved {
                    approval: onsite_domain::fees::Approval::Signature { signature_id },
                } => detail
                    .signatures
                    .iter()
                    .find(|s| s.id == *signature_id)
                    .cloned(),
                _ => None,
            },
            quote: latest.clone(),
            earlier,
        }
    });
    let status = detail.order.status;
    let can_quote = detail.order.paid
        && (status == Status::Quoted
            || work_order::check_transition(status, Status::Quoted, Role::Engineer).is_ok());
    let repair_start_blockers = if matches!(
        status,
        Status::Diagnosing | Status::Quoted | Status::Declined | Status::Approved
    ) {
        match completion::check_repair_start(&detail.order, &detail.quotes, &detail.signatures) {
            Err(onsite_domain::DomainError::CannotComplete(blockers)) => blockers,
            _ => Vec::new(),
        }
    } else {
        Vec::new()
    };
    let settlement = completion::current_settlement(&detail.settlements);
    let satisfaction = completion::current_satisfaction(&detail.satisfaction);
    let signings = crate::closeout::signings(&detail)
        .into_iter()
        .map(|(document, signing)| DocumentSigning { document, signing })
        .collect();
    let completion_blockers =
        match completion::repair_record_hash(&detail.order, &detail.part_usages) {
            Ok(hash) => completion::completion_blockers(completion::CompletionInput {
                order: &detail.order,
                checklist: &detail.checklist,
                quotes: &detail.quotes,
                signatures: &detail.signatures,
                repair_record_hash: &hash,
                settlements: &detail.settlements,
            }),
            Err(_) => vec![completion::Blocker::NoCustomerSignature],
        };
    OrderScreen {
        quote,
        can_quote,
        repair_start_blockers,
        settlement,
        satisfaction,
        signings,
        completion_blockers,
        detail,
        next_statuses,
        photos,
        checklist,
        checklist_blockers,
        can_answer_checklist,
        arrival,
        parts,
        time_entries,
        expenses,
        log,
        milestones,
        trainings,
        requests,
        can_use_parts,
        can_diagnose,
        charge_cause_applies,
        problems,
    }
}

impl App {
    /// My open orders, most urgent first; `statuses` narrows the list.
    pub async fn list_orders(
        &self,
        statuses: Option<Vec<Status>>,
        limit: Option<u32>,
    ) -> Result<Vec<WorkOrderSummary>, AppError> {
        let page = Page {
            offset: 0,
            limit: limit.unwrap_or(200).min(MAX_LIST),
        };
        self.with_store(move |s| Ok(s.open_work_orders(statuses.as_deref(), page)?))
            .await
    }

    /// Orders whose number, customer, address, equipment or fault text holds `query`.
    pub async fn search_orders(&self, query: String) -> Result<Vec<WorkOrderSummary>, AppError> {
        if query.chars().count() > MAX_QUERY_CHARS {
            return Err(AppError::new(
                ErrorCode::Invalid,
                format!("search for at most {MAX_QUERY_CHARS} characters"),
            ));
        }
        self.with_store(move |s| Ok(s.search(&query, 100)?)).await
    }

    /// One order's screen.
    pub async fn order_detail(&self, id: &str) -> Result<OrderScreen, AppError> {
        let id = order_id(id)?;
        self.with_store(move |s| load_screen(s, id)).await
    }

    /// Moves an order on (accept, en route, on site, postpone…), offline: saved on disk
    /// before this returns, sent by the sync engine when it can.
    pub async fn transition_order(&self, input: TransitionInput) -> Result<OrderScreen, AppError> {
        self.signed_in()?;
        let id = order_id(&input.id)?;
        let mut fields = Map::new();
        if let Some(at) = input.scheduled_at {
            fields.insert("scheduled_at".into(), serde_json::json!(at));
        }
        if let Some(reason) = input
            .reason
            .map(|r| r.trim().to_owned())
            .filter(|r| !r.is_empty())
        {
            fields.insert("postpone_reason".into(), Value::String(reason));
        }
        let to = input.to;
        self.write_and_show(id, move |s| {
            let now = Utc::now();
            let current = s.work_order(id)?.order;
            for (field, at) in work_order::repair_times_of_step(&current, to, now) {
                fields.insert(field.into(), serde_json::json!(at));
            }
            s.transition(id, to, fields, now)?;
            Ok(())
        })
        .await
    }

    /// Answers one item of the order's checklist (or takes the answer back), as the
    /// signed-in engineer, now: on disk before this returns. The answer must fit the
    /// item (`ChecklistItem::validate`); the authority table decides whether the
    /// engineer may still write it (`authority::check_write`, before completion).
    pub async fn answer_checklist_item(
        &self,
        input: ChecklistAnswer,
    ) -> Result<OrderScreen, AppError> {
        let session = self.signed_in()?;
        let order = order_id(&input.order_id)?;
        let item = record_id(&input.item_id, "checklist item")?;
        let mut fields = Map::new();
        fields.insert(
            "answer".into(),
            serde_json::to_value(&input.answer).map_err(|e| {
                AppError::new(
                    ErrorCode::Invalid,
                    format!("the answer cannot be kept: {e}"),
                )
            })?,
        );
        fields.insert("note".into(), serde_json::json!(trimmed(input.note)));
        let now = Utc::now();
        let answered = input.answer.is_some();
        fields.insert(
            "answered_by".into(),
            serde_json::json!(answered.then_some(session.user.id)),
        );
        fields.insert(
            "answered_at".into(),
            serde_json::json!(answered.then_some(now)),
        );
        // A cross-check confirmed the earlier answer, not this one.
        fields.insert("cross_checked_by".into(), Value::Null);
        fields.insert("cross_checked_at".into(), Value::Null);
        self.write_and_show(order, move |s| {
            checklist_item(&s.work_order(order)?, item)?;
            s.update(Entity::ChecklistItem, item, fields, now)?;
            Ok(())
        })
        .await
    }

    /// Cross-checks 交叉检查 an item another engineer of the order answered, now.
    pub async fn cross_check_item(&self, input: CrossCheckInput) -> Result<OrderScreen, AppError> {
        let session = self.signed_in()?;
        let order = order_id(&input.order_id)?;
        let item = record_id(&input.item_id, "checklist item")?;
        let checker = session.user.id;
        self.write_and_show(order, move |s| {
            let detail = s.work_order(order)?;
            checklist_item(&detail, item)?
                .check_cross_check(checker, &detail.order.engineer_ids())?;
            let now = Utc::now();
            let fields = Map::from_iter([
                ("cross_checked_by".to_owned(), serde_json::json!(checker)),
                ("cross_checked_at".to_owned(), serde_json::json!(now)),
            ]);
            s.update(Entity::ChecklistItem, item, fields, now)?;
            Ok(())
        })
        .await
    }

    /// Ticks one of the three arrival calls (or records the technical briefing) now, on
    /// disk before this returns.
    pub async fn record_arrival_call(
        &self,
        input: ArrivalCallInput,
    ) -> Result<OrderScreen, AppError> {
        self.signed_in()?;
        let order = order_id(&input.order_id)?;
        let note = trimmed(input.note);
        if input.callee == ArrivalCallee::TechnicalBriefing && note.is_none() {
            return Err(AppError::new(
                ErrorCode::Invalid,
                "write what the briefing covered: scope, risks, what the customer prepares",
            ));
        }
        let call = ArrivalCall {
            id: Uuid::now_v7(),
            work_order_id: order,
            callee: input.callee,
            at: Utc::now(),
            note,
            voids: None,
        };
        self.append_under(order, Entity::ArrivalCall, call).await
    }

    /// Checks in or out now (签到/签退), on disk before this returns.
    pub async fn check_in_out(&self, input: CheckInput) -> Result<OrderScreen, AppError> {
        self.signed_in()?;
        let order = order_id(&input.order_id)?;
        let check = CheckIn {
            id: Uuid::now_v7(),
            work_order_id: order,
            kind: input.kind,
            at: Utc::now(),
            location_text: trimmed(input.location_text),
            latitude: None,
            longitude: None,
            voids: None,
        };
        let kind = input.kind;
        self.write_and_show(order, move |s| {
            let d = s.work_order(order)?;
            let next = Arrival::of(&d.arrival_calls, &d.check_ins).next_check;
            if next != kind {
                return Err(AppError::new(
                    ErrorCode::Invalid,
                    match kind {
                        CheckKind::CheckIn => {
                            "you are checked in already: check out at the end of the day"
                        }
                        CheckKind::CheckOut => "you are not checked in: check in first",
                    },
                ));
            }
            s.append(Entity::CheckIn, &check, Utc::now())?;
            Ok(())
        })
        .await
    }

    /// Saves the diagnosis (故障原因) and, for charged warranty work, its cause: on disk
    /// before this returns. Clearing the text clears the diagnosis.
    pub async fn save_diagnosis(&self, input: DiagnosisInput) -> Result<OrderScreen, AppError> {
        self.signed_in()?;
        let order = order_id(&input.order_id)?;
        let cause = input.charge_cause.map(|c| match c {
            ChargeCause::UserDamage(r) => ChargeCause::UserDamage(r.trim().to_owned()),
            ChargeCause::ForceMajeure(r) => ChargeCause::ForceMajeure(r.trim().to_owned()),
        });
        let mut fields = Map::new();
        fields.insert(
            "diagnosis".into(),
            serde_json::json!(trimmed(input.diagnosis)),
        );
        fields.insert("charge_cause".into(), serde_json::json!(cause));
        self.write_and_show(order, move |s| {
                let current = s.work_order(order)?;
                if cause.is_some() && !work_order::charge_cause_applies(&current.order) {
                    return Err(AppError::new(
                        ErrorCode::Invalid,
                        "this order is out of warranty and charged anyway: leave the charge cause empty",
                    ));
                }
                s.update(Entity::WorkOrder, order, fields, Utc::now())?;
                Ok(())
            })
        .await
    }

    /// The engineer has read what the server did not apply on this order (知道了): the
    /// sync bar stops counting it; the order keeps showing it, greyed.
    pub async fn acknowledge_problems(&self, id: &str) -> Result<OrderScreen, AppError> {
        let order = order_id(id)?;
        let shown = self
            .with_store(move |s| {
                s.mark_outcomes_seen(order)?;
                load_screen(s, order)
            })
            .await?;
        self.local_write().await;
        Ok(shown)
    }

    /// Appends `record` under `order` and answers with the order's screen.
    pub(crate) async fn append_under<T: Serialize + Send + 'static>(
        &self,
        order: Uuid,
        entity: Entity,
        record: T,
    ) -> Result<OrderScreen, AppError> {
        self.write_and_show(order, move |s| {
            s.append(entity, &record, Utc::now())?;
            Ok(())
        })
        .await
    }

    /// One write of the engineer's on the store (`write`, in one store call, on disk when
    /// it returns), then the order's screen; the sync engine hears of it before this
    /// answers, so the sync bar's count is right at once.
    pub(crate) async fn write_and_show(
        &self,
        order: Uuid,
        write: impl FnOnce(&mut Store) -> Result<(), AppError> + Send + 'static,
    ) -> Result<OrderScreen, AppError> {
        Ok(self.write_and_show_then(order, write).await?.0)
    }

    /// [`App::write_and_show`] for a write that gives something back.
    pub(crate) async fn write_and_show_then<T: Send + 'static>(
        &self,
        order: Uuid,
        write: impl FnOnce(&mut Store) -> Result<T, AppError> + Send + 'static,
    ) -> Result<(OrderScreen, T), AppError> {
        let shown = self
            .with_store(move |s| {
                let written = write(s)?;
                Ok((load_screen(s, order)?, written))
            })
            .await?;
        self.local_write().await;
        Ok(shown)
    }
}

/// The order's checklist item `item`, or why there is none.
fn checklist_item(detail: &WorkOrderDetail, item: Uuid) -> Result<&ChecklistItem, AppError> {
    detail
        .checklist
        .iter()
        .find(|i| i.id == item)
        .ok_or_else(|| {
            AppError::new(
                ErrorCode::NotFound,
                format!("order {} has no checklist item {item}", detail.order.id),
            )
        })
}

/// A typed text, trimmed; `None` when nothing is left.
pub(crate) fn trimmed(text: Option<String>) -> Option<String> {
    text.map(|t| t.trim().to_owned()).filter(|t| !t.is_empty())
}
