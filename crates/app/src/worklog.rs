//! The daily work log 工作日志 (installation manual §20): each day on site, what was done,
//! how far the work is, the problems still open and tomorrow's plan — offline, sent home
//! with the next sync.

use chrono::Local;
use onsite_domain::protocol::Entity;
use onsite_domain::records::LogEntry;
use serde::Deserialize;
use ts_rs::TS;
use uuid::Uuid;

use crate::orders::{OrderScreen, order_id, trimmed};
use crate::{App, AppError, ErrorCode};

/// One day's log entry, for today (the laptop's own date).
#[derive(Debug, Clone, PartialEq, Deserialize, TS)]
pub struct LogInput {
    pub order_id: String,
    /// Work done today.
    pub text: String,
    pub progress: Option<String>,
    pub open_problems: Option<String>,
    pub next_plan: Option<String>,
}

impl App {
    /// Writes today's log entry, on disk before this returns. A second entry the same day
    /// is kept too (the office reads them in order).
    pub async fn write_log(&self, input: LogInput) -> Result<OrderScreen, AppError> {
        let session = self.signed_in()?;
        let order = order_id(&input.order_id)?;
        let Some(text) = trimmed(Some(input.text)) else {
            return Err(AppError::new(
                ErrorCode::Invalid,
                "write what was done today",
            ));
        };
        let entry = LogEntry {
            id: Uuid::now_v7(),
            work_order_id: order,
            day: Local::now().date_naive(),
            text,
            progress: trimmed(input.progress),
            open_problems: trimmed(input.open_problems),
            next_plan: trimmed(input.next_plan),
            author_id: Some(session.user.id),
            voids: None,
        };
        self.append_under(order, Entity::LogEntry, entry).await
    }
}
