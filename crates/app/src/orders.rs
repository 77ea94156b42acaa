//! The engineer's orders: the list, search, one order's screen and the steps of its
//! lifecycle. Every write is on disk before the method returns, and sent by the sync
//! engine when it can.

use chrono::{DateTime, Utc};
use onsite_domain::Status;
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
    id.parse()
        .map_err(|_| AppError::new(ErrorCode::Invalid, format!("{id:?} is not a work order id")))
}

fn screen(detail: WorkOrderDetail) -> OrderScreen {
    let next_statuses = work_order::next_statuses(detail.order.status, Role::Engineer);
    let photos = records::standing(detail.attachments.iter().cloned());
    OrderScreen {
        detail,
        next_statuses,
        photos,
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
}
