//! Parts on site, offline: the van stock (the server's count less what was used here and
//! not sent yet), a part used on an order (from the van or not, 三包 or bought by the
//! customer, what happens to the old part), a part taken back, and the 入库单 of the old
//! parts brought back to HQ.

use chrono::Utc;
use onsite_domain::protocol::Entity;
use onsite_domain::records::{self, OldPartDisposition, PartUsage, WarehouseReceipt};
use onsite_store::VanStockLine;
use serde::Deserialize;
use ts_rs::TS;
use uuid::Uuid;

use crate::orders::{OrderScreen, order_id, record_id};
use crate::{App, AppError, ErrorCode};

/// The longest search of the van stock, in characters.
pub const MAX_QUERY_CHARS: usize = 100;

/// A part used on an order.
#[derive(Debug, Clone, PartialEq, Deserialize, TS)]
pub struct PartInput {
    pub order_id: String,
    pub part_id: String,
    pub quantity: u32,
    /// 三包件 (free to the customer) when true; 客户购买件 (at the catalogue price) when
    /// false.
    pub warranty: bool,
    /// Taken from the van: the van stock goes down at once.
    pub from_van_stock: bool,
    pub old_part: Option<OldPartDisposition>,
}

/// A part usage taken back (entered by mistake): what it took from the van goes back.
#[derive(Debug, Clone, PartialEq, Deserialize, TS)]
pub struct PartCancel {
    pub order_id: String,
    pub usage_id: String,
}

/// The engineer is back at HQ with the order's old parts for the warehouse.
#[derive(Debug, Clone, PartialEq, Deserialize, TS)]
pub struct BackAtHqInput {
    pub order_id: String,
}

impl App {
    /// The van stock, parts whose code or name holds `query` (every part when empty),
    /// by part code.
    pub async fn van_stock(&self, query: String) -> Result<Vec<VanStockLine>, AppError> {
        self.signed_in()?;
        if query.chars().count() > MAX_QUERY_CHARS {
            return Err(AppError::new(
                ErrorCode::Invalid,
                format!("search for at most {MAX_QUERY_CHARS} characters"),
            ));
        }
        let needle = query.trim().to_lowercase();
        let lines = self.with_store(|s| Ok(s.van_stock()?)).await?;
        Ok(lines
            .into_iter()
            .filter(|l| {
                needle.is_empty()
                    || l.part.as_ref().is_some_and(|p| {
                        p.part_number.to_lowercase().contains(&needle)
                            || p.name.to_lowercase().contains(&needle)
                    })
            })
            .collect())
    }

    /// Records a part used on the order, now, on disk before this returns; the price is
    /// the catalogue's at this moment. From the van, more than the van holds is refused
    /// (`PartUsage::van_stock_changes`, in the store).
    pub async fn add_part(&self, input: PartInput) -> Result<OrderScreen, AppError> {
        self.signed_in()?;
        let order = order_id(&input.order_id)?;
        let part_id = record_id(&input.part_id, "part")?;
        if input.quantity == 0 {
            return Err(AppError::new(
                ErrorCode::Invalid,
                "use at least one part: to take a part back, cancel its line",
            ));
        }
        self.write_and_show(order, move |s| {
            let part = s.parts(&[part_id])?.into_iter().next().ok_or_else(|| {
                AppError::new(
                    ErrorCode::NotFound,
                    format!(
                        "part {part_id} is not in this laptop's catalogue: sync, then try again"
                    ),
                )
            })?;
            let usage = PartUsage {
                id: Uuid::now_v7(),
                work_order_id: order,
                part_id,
                quantity: input.quantity,
                warranty: input.warranty,
                unit_price: Some(part.unit_price),
                old_part: input.old_part,
                from_van_stock: input.from_van_stock,
                voids: None,
            };
            s.append(Entity::PartUsage, &usage, Utc::now())?;
            Ok(())
        })
        .await
    }

    /// Takes a part usage back (a correction of quantity 0 that voids it): what it took
    /// from the van goes back at once. On disk before this returns.
    pub async fn cancel_part(&self, input: PartCancel) -> Result<OrderScreen, AppError> {
        self.signed_in()?;
        let order = order_id(&input.order_id)?;
        let usage_id = record_id(&input.usage_id, "part usage")?;
        self.write_and_show(order, move |s| {
            let detail = s.work_order(order)?;
            let Some(old) = detail.part_usages.iter().find(|u| u.id == usage_id) else {
                return Err(AppError::new(
                    ErrorCode::NotFound,
                    format!("order {order} has no part usage {usage_id}"),
                ));
            };
            if detail.part_usages.iter().any(|u| u.voids == Some(usage_id)) {
                return Err(AppError::new(
                    ErrorCode::Invalid,
                    "this part was taken back already",
                ));
            }
            let cancel = PartUsage {
                id: Uuid::now_v7(),
                quantity: 0,
                voids: Some(usage_id),
                ..old.clone()
            };
            s.append(Entity::PartUsage, &cancel, Utc::now())?;
            Ok(())
        })
        .await
    }

    /// Back at HQ: opens the 入库单 of each old part of the order that goes to the
    /// warehouse and has none yet, returned now; each must be booked in within 16 h
    /// (`records::WAREHOUSE_BOOKING_HOURS`). On disk before this returns.
    pub async fn back_at_hq(&self, input: BackAtHqInput) -> Result<OrderScreen, AppError> {
        self.signed_in()?;
        let order = order_id(&input.order_id)?;
        self.write_and_show(order, move |s| {
            let detail = s.work_order(order)?;
            let now = Utc::now();
            let waiting: Vec<_> =
                records::warehouse_lines(&detail.part_usages, &detail.warehouse_receipts, now)
                    .into_iter()
                    .filter(|l| l.receipt.is_none())
                    .collect();
            if waiting.is_empty() {
                return Err(AppError::new(
                    ErrorCode::Invalid,
                    "no old part of this order waits to be booked into the warehouse",
                ));
            }
            for line in waiting {
                let receipt = WarehouseReceipt {
                    id: Uuid::now_v7(),
                    work_order_id: order,
                    part_usage_id: line.part_usage_id,
                    returned_at: now,
                    booked_at: None,
                    nonconformance: None,
                    voids: None,
                };
                let usage = detail
                    .part_usages
                    .iter()
                    .find(|u| u.id == line.part_usage_id);
                receipt.check_engineers(usage, now)?;
                s.append(Entity::WarehouseReceipt, &receipt, now)?;
            }
            Ok(())
        })
        .await
    }
}
