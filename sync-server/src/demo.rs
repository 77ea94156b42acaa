//! `--demo`: realistic demo data in Chinese for a first look — 3 engineers, a dispatcher
//! and an admin, 30 customers, 80 pieces of equipment, 120 work orders over every service
//! type, fault level and status, checklists, a parts catalogue with van stock, the fault
//! levels and the fee schedule.

use chrono::{DateTime, Utc};
use onsite_domain::demo::{DemoSize, generate};
use onsite_domain::fees::FeeSchedule;
use onsite_domain::protocol::Entity;
use onsite_domain::records::VanStock;
use onsite_domain::sla::SlaConfig;
use onsite_domain::work_order::ServiceType;
use onsite_domain::{Role, Status};
use serde::Serialize;
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::auth::hash_password;
use crate::error::ApiError;
use crate::storage::{NewUser, Storage};

/// The password of every demo login.
pub const DEMO_PASSWORD: &str = "onsite-demo";

/// A demo login, printed when the server starts with `--demo`.
#[derive(Debug, Clone)]
pub struct DemoLogin {
    pub username: &'static str,
    pub name: &'static str,
    pub role: Role,
}

pub const DEMO_LOGINS: [DemoLogin; 5] = [
    DemoLogin {
        username: "wanggong",
        name: "王工",
        role: Role::Engineer,
    },
    DemoLogin {
        username: "ligong",
        name: "李工",
        role: Role::Engineer,
    },
    DemoLogin {
        username: "zhanggong",
        name: "张工",
        role: Role::Engineer,
    },
    DemoLogin {
        username: "dispatch",
        name: "客服 陈静",
        role: Role::Dispatcher,
    },
    DemoLogin {
        username: "admin",
        name: "系统管理员",
        role: Role::Admin,
    },
];

fn object<T: Serialize>(value: &T) -> Result<Map<String, Value>, ApiError> {
    match serde_json::to_value(value) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err(ApiError::Internal("demo record is not an object".into())),
    }
}

/// Whether the database has users already (then `--demo` leaves it alone).
pub fn is_empty(storage: &dyn Storage) -> Result<bool, ApiError> {
    Ok(DEMO_LOGINS.iter().all(|l| {
        storage
            .user_by_username(l.username)
            .is_ok_and(|u| u.is_none())
    }) && storage.work_orders(None)?.is_empty())
}

/// Seeds the demo data into an empty database.
/// The kinds of job of the demo orders not started yet, in turn.
const WAITING_KINDS: [ServiceType; 8] = [
    ServiceType::Repair,
    ServiceType::Repair,
    ServiceType::Maintenance,
    ServiceType::Installation,
    ServiceType::Repair,
    ServiceType::Inspection,
    ServiceType::PartsReplacement,
    ServiceType::Consultation,
];

pub fn seed(storage: &dyn Storage, now: DateTime<Utc>) -> Result<(), ApiError> {
    let hash = hash_password(DEMO_PASSWORD)?;
    let mut engineers = Vec::new();
    for login in &DEMO_LOGINS {
        let user = storage.create_user(
            NewUser {
                username: login.username.into(),
                name: login.name.into(),
                role: login.role,
                department: Some("SC".into()),
                password_hash: hash.clone(),
            },
            now,
        )?;
        if login.role == Role::Engineer {
            engineers.push(user.id);
        }
    }
    let size = DemoSize {
        customers: 30,
        equipment: 80,
        orders: 120,
        checklist_items_per_order: 8,
        part_usages_per_order: 2,
    };
    let data = generate(2026, size, Uuid::nil(), now);
    let mut sla = object(&SlaConfig::default())?;
    sla.insert(
        "id".into(),
        Value::String(Uuid::from_u128(0xFA17).to_string()),
    );
    storage.admin_put(Entity::FaultLevels, sla, now)?;
    let mut fees = object(&FeeSchedule::default())?;
    fees.insert(
        "id".into(),
        Value::String(Uuid::from_u128(0xFEE5).to_string()),
    );
    storage.admin_put(Entity::FeeSchedule, fees, now)?;
    for template in onsite_domain::demo::checklist_templates() {
        storage.admin_put(Entity::ChecklistTemplate, object(&template)?, now)?;
    }
    for part in &data.parts {
        storage.admin_put(Entity::Part, object(part)?, now)?;
        for (i, engineer) in engineers.iter().enumerate() {
            let stock = VanStock {
                id: Uuid::now_v7(),
                engineer_id: *engineer,
                part_id: part.id,
                quantity: 4 + i64::try_from(i).unwrap_or(0) * 3,
            };
            storage.admin_put(Entity::VanStock, object(&stock)?, now)?;
        }
    }
    for c in &data.customers {
        storage.admin_put(Entity::Customer, object(c)?, now)?;
    }
    for e in &data.equipment {
        storage.admin_put(Entity::Equipment, object(e)?, now)?;
    }
    for (i, order) in data.orders.iter().enumerate() {
        let mut order = order.clone();
        // Every status and every fault level appears; new orders wait for dispatch.
        order.status = Status::ALL[i % Status::ALL.len()];
        order.fault_level = u8::try_from(1 + i % 4).unwrap_or(1);
        order.number = format!("SC{}-{:03}", now.format("%y%m"), i + 1);
        order.assignees = Vec::new();
        // Most orders still on their way to the site came in over the last day, so the
        // list shows live countdowns beside the overdue ones.
        if matches!(
            order.status,
            Status::New | Status::Assigned | Status::Accepted | Status::EnRoute | Status::OnSite
        ) && (i / 3) % 4 != 0
        {
            let minutes = i64::try_from((i * 53) % (60 * 20)).unwrap_or(0);
            order.reported_at = now - chrono::Duration::minutes(minutes);
            order.requested_service_at = Some(order.reported_at + chrono::Duration::hours(24));
            order.scheduled_at = Some(order.reported_at + chrono::Duration::hours(6));
        }
        // An order not yet worked on gets its checklist from the office's template when
        // it is assigned (as a dispatcher's new order does); the others keep what was
        // answered on them. Repairs, the common job, come first among the kinds of the
        // orders waiting, so every engineer has one to start with.
        let unstarted = matches!(
            order.status,
            Status::New | Status::Assigned | Status::Accepted | Status::EnRoute | Status::OnSite
        );
        if unstarted {
            order.service_type = WAITING_KINDS[(i / Status::ALL.len()) % WAITING_KINDS.len()];
        }
        storage.admin_put(Entity::WorkOrder, object(&order)?, now)?;
        for item in data
            .checklist_items
            .iter()
            .filter(|c| c.work_order_id == order.id && !unstarted)
        {
            storage.admin_put(Entity::ChecklistItem, object(item)?, now)?;
        }
        for usage in data
            .part_usages
            .iter()
            .filter(|p| p.work_order_id == order.id)
        {
            storage.admin_put(Entity::PartUsage, object(usage)?, now)?;
        }
        if order.status != Status::New {
            storage.assign(order.id, &[engineers[i % engineers.len()]], None, now)?;
        }
    }
    put_printed_job(storage, &engineers, now)
}

/// The letterhead, and one finished paid repair with everything its documents print
/// (quote signed, parts in and out of warranty, settlement, ratings, signature images):
/// `onsite_receipt::sample`'s order, assigned to the first two engineers.
fn put_printed_job(
    storage: &dyn Storage,
    engineers: &[Uuid],
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    let file = onsite_receipt::sample::repair_job(12)
        .map_err(|e| ApiError::Internal(format!("the demo repair job: {e}")))?;
    let team: Vec<Uuid> = engineers.iter().take(2).copied().collect();
    put_order_file(storage, &file, &team, team.first().copied(), now)
}

/// Puts an order with everything under it on the server as the dispatcher would have it
/// (letterhead, customer, equipment, parts, the records, signature images), then assigns
/// it to `team`. Fee schedules are left to the caller: the server has its own.
pub fn put_order_file(
    storage: &dyn Storage,
    file: &onsite_receipt::OrderFile,
    team: &[Uuid],
    manager: Option<Uuid>,
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    let put = |entity: Entity, row: Map<String, Value>| -> Result<(), ApiError> {
        storage.admin_put(entity, row, now)?;
        Ok(())
    };
    if let Some(company) = &file.company {
        put(Entity::Company, object(company)?)?;
    }
    if let Some(c) = &file.customer {
        put(Entity::Customer, object(c)?)?;
    }
    if let Some(e) = &file.equipment {
        put(Entity::Equipment, object(e)?)?;
    }
    for p in &file.parts {
        put(Entity::Part, object(p)?)?;
    }
    let mut order = file.order.clone();
    order.assignees = Vec::new();
    put(Entity::WorkOrder, object(&order)?)?;
    for u in &file.part_usages {
        put(Entity::PartUsage, object(u)?)?;
    }
    for q in &file.quotes {
        put(Entity::Quote, object(q)?)?;
    }
    for x in &file.settlements {
        put(Entity::Settlement, object(x)?)?;
    }
    for x in &file.signatures {
        put(Entity::Signature, object(x)?)?;
    }
    for x in &file.satisfaction {
        put(Entity::Satisfaction, object(x)?)?;
    }
    for x in &file.log_entries {
        put(Entity::LogEntry, object(x)?)?;
    }
    for x in &file.follow_ups {
        put(Entity::FollowUp, object(x)?)?;
    }
    for x in &file.checklist {
        put(Entity::ChecklistItem, object(x)?)?;
    }
    for (sha, png) in &file.images {
        // Sent by no one: the engineers see them through the order.
        storage.put_blob(sha, png, Uuid::nil(), now)?;
    }
    storage.assign(order.id, team, manager, now)?;
    Ok(())
}
