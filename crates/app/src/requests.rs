//! 首问负责: the customer asks the engineer on site about other equipment, and the engineer
//! registers the request there and then, offline. It is appended under the order being
//! worked on; the server makes it a new work order for the office (`ServiceRequest`), and
//! the engineer sees its number after the next sync.

use chrono::{DateTime, Utc};
use onsite_domain::protocol::Entity;
use onsite_domain::records::{Equipment, ServiceRequest};
use onsite_domain::work_order::ServiceType;
use serde::Deserialize;
use ts_rs::TS;
use uuid::Uuid;

use crate::orders::{OrderScreen, order_id, record_id, trimmed};
use crate::{App, AppError};

/// A new request for the customer of `order_id`.
#[derive(Debug, Clone, PartialEq, Deserialize, TS)]
pub struct RequestInput {
    pub order_id: String,
    /// One of the customer's equipment on this laptop (`customer_equipment`), or none.
    pub equipment_id: Option<String>,
    /// What the nameplate says, when the equipment is not in the list.
    pub equipment_text: Option<String>,
    pub service_type: ServiceType,
    /// 1–4, as the engineer judges it; the office confirms.
    pub fault_level: u8,
    pub fault_description: String,
    pub requested_service_at: Option<DateTime<Utc>>,
}

impl App {
    /// The equipment of the order's customer that this laptop has, by model and serial.
    pub async fn customer_equipment(&self, order: String) -> Result<Vec<Equipment>, AppError> {
        self.signed_in()?;
        let order = order_id(&order)?;
        self.with_store(move |s| {
            let customer = s.work_order(order)?.order.customer_id;
            Ok(s.customer_equipment(customer)?)
        })
        .await
    }

    /// Registers a new request for the order's customer, on disk before this returns,
    /// checked as the server will check it (`ServiceRequest::new_order`).
    pub async fn register_request(&self, input: RequestInput) -> Result<OrderScreen, AppError> {
        let session = self.signed_in()?;
        let order = order_id(&input.order_id)?;
        let equipment_id = input
            .equipment_id
            .as_deref()
            .filter(|e| !e.is_empty())
            .map(|e| record_id(e, "equipment"))
            .transpose()?;
        let now = Utc::now();
        let request = ServiceRequest {
            id: Uuid::now_v7(),
            work_order_id: order,
            equipment_id,
            equipment_text: trimmed(input.equipment_text),
            service_type: input.service_type,
            fault_level: input.fault_level,
            fault_description: input.fault_description.trim().to_owned(),
            requested_service_at: input.requested_service_at,
            reported_at: now,
            created_order_id: None,
            created_order_number: None,
            voids: None,
        };
        request.validate()?;
        self.write_and_show(order, move |s| {
            let parent = s.work_order(order)?.order;
            let equipment = match equipment_id {
                Some(id) => s
                    .customer_equipment(parent.customer_id)?
                    .into_iter()
                    .find(|e| e.id == id),
                None => None,
            };
            // The number is the server's; the rest is checked here as it will be there.
            request.new_order(
                Uuid::now_v7(),
                &parent,
                equipment.as_ref(),
                "new".into(),
                &session.user.name,
                now,
            )?;
            s.append(Entity::ServiceRequest, &request, now)?;
            Ok(())
        })
        .await
    }
}
