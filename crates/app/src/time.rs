//! Time and expenses on site, offline: the labour days of a day, and travel expenses —
//! lodging and meals at the synced fee schedule's daily rate, transport and other at what
//! was paid (`FeeSchedule::expense_amount`).

use chrono::{Local, Utc};
use onsite_domain::money::{Fen, Quantity};
use onsite_domain::protocol::Entity;
use onsite_domain::records::{Expense, ExpenseKind, TimeEntry};
use serde::Deserialize;
use ts_rs::TS;
use uuid::Uuid;

use crate::orders::{OrderScreen, order_id, trimmed};
use crate::{App, AppError, ErrorCode};

/// Labour today, in days (0.5 = half a day).
#[derive(Debug, Clone, PartialEq, Deserialize, TS)]
pub struct TimeInput {
    pub order_id: String,
    pub days: f64,
}

/// An expense today.
#[derive(Debug, Clone, PartialEq, Deserialize, TS)]
pub struct ExpenseInput {
    pub order_id: String,
    pub kind: ExpenseKind,
    /// Lodging and meals: how many days.
    pub days: Option<f64>,
    /// Transport and other: the amount paid, as typed in 元 (`86.50`).
    pub amount: Option<String>,
    pub note: Option<String>,
}

/// The most labour one engineer books on one order in one entry.
const MAX_DAYS: f64 = 31.0;

fn days_of(days: f64) -> Result<Quantity, AppError> {
    if !(days > 0.0 && days <= MAX_DAYS) {
        return Err(AppError::new(
            ErrorCode::Invalid,
            format!("give the days as a number above 0 and at most {MAX_DAYS} (0.5 is half a day)"),
        ));
    }
    Ok(Quantity::from_f64(days)?)
}

impl App {
    /// Books today's labour on the order, on disk before this returns.
    pub async fn record_time(&self, input: TimeInput) -> Result<OrderScreen, AppError> {
        let session = self.signed_in()?;
        let order = order_id(&input.order_id)?;
        let entry = TimeEntry {
            id: Uuid::now_v7(),
            work_order_id: order,
            engineer_id: Some(session.user.id),
            day: Local::now().date_naive(),
            days: days_of(input.days)?,
            voids: None,
        };
        self.append_under(order, Entity::TimeEntry, entry).await
    }

    /// Records an expense of today, priced by the synced fee schedule where it has a
    /// rate; on disk before this returns.
    pub async fn record_expense(&self, input: ExpenseInput) -> Result<OrderScreen, AppError> {
        self.signed_in()?;
        let order = order_id(&input.order_id)?;
        let days = input.days.map(days_of).transpose()?;
        let paid = input
            .amount
            .as_deref()
            .filter(|a| !a.trim().is_empty())
            .map(Fen::parse_yuan)
            .transpose()?;
        let kind = input.kind;
        let note = trimmed(input.note);
        self.write_and_show(order, move |s| {
            let schedule = s.fee_schedule()?.ok_or_else(|| {
                AppError::new(
                    ErrorCode::NotFound,
                    "this laptop has no fee schedule yet: sync once, then try again",
                )
            })?;
            let (amount, days) = schedule.expense_amount(kind, days, paid)?;
            let expense = Expense {
                id: Uuid::now_v7(),
                work_order_id: order,
                kind,
                day: Local::now().date_naive(),
                amount,
                days,
                note,
                voids: None,
            };
            s.append(Entity::Expense, &expense, Utc::now())?;
            Ok(())
        })
        .await
    }
}
