//! The engineer's orders: the list, search, one order's screen and the steps of its
//! lifecycle. Every write is on disk before the method returns, and sent by the sync
//! engine when it can.

use chrono::{DateTime, Utc};
use onsite_domain::Status;
use onsite_domain::authority;
use onsite_domain::checklist::{self, Answer, ChecklistItem, ItemState};
use onsite_domain::protocol::Entity;
use onsite_domain::records::{self, Attachment};
use onsite_domain::work_order::{self, Role};
use onsite_store::{Page, WorkOrderDetail, WorkOrderSummary};
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
    /// Whether the engineer may still answer the checklist (until completion: the
    /// authority table); otherwise the answers are shown read-only.
    pub can_answer_checklist: bool,
}

/// One checklist item as the screen shows it.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
pub struct ChecklistRow {
    pub item: ChecklistItem,
    pub state: ItemState,
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

fn record_id(id: &str, what: &str) -> Result<Uuid, AppError> {
    id.parse()
        .map_err(|_| AppError::new(ErrorCode::Invalid, format!("{id:?} is not a {what} id")))
}

fn screen(detail: WorkOrderDetail) -> OrderScreen {
    let next_statuses = work_order::next_statuses(detail.order.status, Role::Engineer);
    let photos = records::standing(detail.attachments.iter().cloned());
    let mut items = detail.checklist.clone();
    checklist::in_working_order(&mut items);
    let checklist = items
        .into_iter()
        .map(|item| ChecklistRow {
            state: item.state(),
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
    OrderScreen {
        detail,
        next_statuses,
        photos,
        checklist,
        can_answer_checklist,
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
        let detail = self.with_store(move |s| Ok(s.work_order(id)?)).await?;
        Ok(screen(detail))
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
        let detail = self
            .with_store(move |s| {
                s.transition(id, to, fields, Utc::now())?;
                Ok(s.work_order(id)?)
            })
            .await?;
        self.local_write().await;
        Ok(screen(detail))
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
        let note = input
            .note
            .map(|n| n.trim().to_owned())
            .filter(|n| !n.is_empty());
        fields.insert("note".into(), serde_json::json!(note));
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
        let detail = self
            .with_store(move |s| {
                if !s.work_order(order)?.checklist.iter().any(|i| i.id == item) {
                    return Err(AppError::new(
                        ErrorCode::NotFound,
                        format!("order {order} has no checklist item {item}"),
                    ));
                }
                s.update(Entity::ChecklistItem, item, fields, now)?;
                Ok(s.work_order(order)?)
            })
            .await?;
        self.local_write().await;
        Ok(screen(detail))
    }
}
