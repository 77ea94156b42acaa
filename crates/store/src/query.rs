//! What the screens read: my open orders by SLA urgency, search, one order with
//! everything under it, an equipment's service history, van stock.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use onsite_domain::checklist::ChecklistItem;
use onsite_domain::fees::Quote;
use onsite_domain::records::{
    ArrivalCall, Attachment, CheckIn, Customer, Equipment, Expense, FollowUp, LogEntry, Milestone,
    Part, PartUsage, Satisfaction, TimeEntry, Training, VanStock,
};
use onsite_domain::signature::Signature;
use onsite_domain::sla::{Deadlines, Milestone as SlaMilestone};
use onsite_domain::work_order::ServiceType;
use onsite_domain::{Entity, Status, WorkOrder};
use rusqlite::{Connection, OptionalExtension, Row, params};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::index::NO_DEADLINE;
use crate::merge::OpOutcome;
use crate::row::parse_object;
use crate::{Result, Store, StoreError};

/// One record as the laptop shows it: entity, id, fields.
pub type VisibleRecord = (String, String, serde_json::Map<String, Value>);

/// A page of a list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Page {
    pub offset: u32,
    pub limit: u32,
}

impl Default for Page {
    fn default() -> Self {
        Page {
            offset: 0,
            limit: 50,
        }
    }
}

/// One line of the work-order list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct WorkOrderSummary {
    pub id: Uuid,
    pub number: String,
    pub status: Status,
    pub fault_level: u8,
    pub service_type: Option<ServiceType>,
    pub reported_at: DateTime<Utc>,
    /// The deadline that matters in this status, and which one it is.
    pub due_at: Option<DateTime<Utc>>,
    pub due_kind: Option<SlaMilestone>,
    pub customer_name: Option<String>,
    pub equipment_model: Option<String>,
    pub fault_description: String,
    /// Changes made here are waiting to be sent.
    pub pending: bool,
    /// No longer assigned to this engineer; kept while its pending work is settled.
    pub revoked: bool,
}

const SUMMARY_SELECT: &str = "SELECT i.id, i.number, i.status, i.fault_level, i.reported_at, i.due_at, i.due_kind, i.revoked,
    i.service_type, i.fault, NULLIF(i.customer, ''), i.equipment_model,
    EXISTS (SELECT 1 FROM outbox o WHERE o.entity = 'work_order' AND o.record_id = i.id)
  FROM work_order_index i";

/// One list line as read from SQL, before its text is parsed.
struct RawSummary {
    id: String,
    number: String,
    status: String,
    fault_level: i64,
    reported_at: i64,
    due_at: i64,
    due_kind: Option<String>,
    revoked: bool,
    service_type: Option<String>,
    fault: Option<String>,
    customer: Option<String>,
    model: Option<String>,
    pending: bool,
}

fn summary(r: &Row<'_>) -> rusqlite::Result<RawSummary> {
    Ok(RawSummary {
        id: r.get(0)?,
        number: r.get(1)?,
        status: r.get(2)?,
        fault_level: r.get(3)?,
        reported_at: r.get(4)?,
        due_at: r.get(5)?,
        due_kind: r.get(6)?,
        revoked: r.get(7)?,
        service_type: r.get(8)?,
        fault: r.get(9)?,
        customer: r.get(10)?,
        model: r.get(11)?,
        pending: r.get(12)?,
    })
}

fn to_summary(raw: RawSummary) -> Result<WorkOrderSummary> {
    let bad = |detail: String| StoreError::BadData {
        what: format!("work order {}", raw.id),
        detail,
    };
    Ok(WorkOrderSummary {
        id: raw
            .id
            .parse()
            .map_err(|e: uuid::Error| bad(e.to_string()))?,
        status: raw
            .status
            .parse()
            .map_err(|e: onsite_domain::DomainError| bad(e.to_string()))?,
        number: raw.number,
        fault_level: u8::try_from(raw.fault_level).unwrap_or(0),
        service_type: raw
            .service_type
            .and_then(|s| serde_json::from_value(Value::String(s)).ok()),
        reported_at: DateTime::from_timestamp_millis(raw.reported_at).unwrap_or_default(),
        due_at: (raw.due_at != NO_DEADLINE)
            .then(|| DateTime::from_timestamp_millis(raw.due_at))
            .flatten(),
        due_kind: raw
            .due_kind
            .and_then(|s| serde_json::from_value(Value::String(s)).ok()),
        customer_name: raw.customer,
        equipment_model: raw.model,
        fault_description: raw.fault.unwrap_or_default(),
        pending: raw.pending,
        revoked: raw.revoked,
    })
}

/// Everything the order screen shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct WorkOrderDetail {
    pub order: WorkOrder,
    pub customer: Option<Customer>,
    pub equipment: Option<Equipment>,
    pub deadlines: Option<Deadlines>,
    pub checklist: Vec<ChecklistItem>,
    pub part_usages: Vec<PartUsage>,
    pub quotes: Vec<Quote>,
    pub signatures: Vec<Signature>,
    pub attachments: Vec<Attachment>,
    pub log_entries: Vec<LogEntry>,
    pub check_ins: Vec<CheckIn>,
    pub arrival_calls: Vec<ArrivalCall>,
    pub time_entries: Vec<TimeEntry>,
    pub expenses: Vec<Expense>,
    pub milestones: Vec<Milestone>,
    pub satisfaction: Vec<Satisfaction>,
    pub follow_ups: Vec<FollowUp>,
    pub trainings: Vec<Training>,
    pub settlements: Vec<onsite_domain::fees::Settlement>,
    pub warehouse_receipts: Vec<onsite_domain::records::WarehouseReceipt>,
    /// New requests registered on site for the same customer (首问负责).
    pub service_requests: Vec<onsite_domain::records::ServiceRequest>,
    /// The other orders on the same equipment, newest first.
    pub history: Vec<WorkOrderSummary>,
    /// Operations on this order waiting to be sent.
    pub pending_ops: i64,
    /// Operations on this order the server did not apply.
    pub outcomes: Vec<OpOutcome>,
}

/// A part in the van: the server's count less what was used here and not yet sent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct VanStockLine {
    pub part_id: Uuid,
    pub part: Option<Part>,
    pub counted: i64,
    pub used_pending: i64,
    pub available: i64,
}

fn decode<T: DeserializeOwned>(entity: &str, body: &str) -> Result<T> {
    serde_json::from_str(body).map_err(|e| StoreError::BadData {
        what: entity.to_owned(),
        detail: e.to_string(),
    })
}

/// One visible work order, or a `NotFound` that says to sync.
fn load_order(conn: &Connection, id: &str) -> Result<WorkOrder> {
    let body: Option<String> = conn
        .prepare_cached(
            "SELECT body FROM record WHERE entity = 'work_order' AND id = ?1 AND deleted = 0",
        )?
        .query_row(params![id], |r| r.get(0))
        .optional()?;
    let body = body.ok_or_else(|| StoreError::NotFound {
        entity: "work_order".into(),
        id: id.to_owned(),
    })?;
    decode("work order", &body)
}

/// The visible records of one entity under an order.
pub(crate) fn records_under<T: DeserializeOwned>(
    conn: &Connection,
    order_id: &str,
    entity: Entity,
) -> Result<Vec<T>> {
    let mut stmt = conn.prepare_cached("SELECT body FROM record WHERE work_order_id = ?1 AND entity = ?2 AND deleted = 0 ORDER BY id")?;
    let rows = stmt.query_map(params![order_id, entity.as_str()], |r| {
        r.get::<_, String>(0)
    })?;
    let mut out = Vec::new();
    for body in rows {
        out.push(decode(entity.as_str(), &body?)?);
    }
    Ok(out)
}

/// A part usage stored here, by id.
pub(crate) fn part_usage(conn: &Connection, id: Uuid) -> Result<Option<PartUsage>> {
    let body: Option<String> = conn
        .prepare_cached("SELECT body FROM record WHERE entity = 'part_usage' AND id = ?1")?
        .query_row(params![id.to_string()], |r| r.get(0))
        .optional()?;
    body.map(|b| decode("part usage", &b)).transpose()
}

/// How the usages made here and not yet acknowledged by the server change the van stock,
/// part by part (`PartUsage::van_stock_changes`: the server applies the same changes to
/// its count when it takes the usage).
fn van_pending_changes(conn: &Connection) -> Result<HashMap<Uuid, i64>> {
    let bodies: Vec<String> = conn
        .prepare_cached(
            "SELECT r.body FROM record r WHERE r.entity = 'part_usage'
               AND r.id IN (SELECT record_id FROM outbox WHERE entity = 'part_usage')",
        )?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    let mut out: HashMap<Uuid, i64> = HashMap::new();
    for body in bodies {
        let usage: PartUsage = decode("part usage", &body)?;
        let voided = match usage.voids {
            Some(v) => part_usage(conn, v)?,
            None => None,
        };
        for (part, change) in usage.van_stock_changes(voided.as_ref()) {
            *out.entry(part).or_default() += change;
        }
    }
    Ok(out)
}

/// The server's count of `part` in the van.
fn van_counted(conn: &Connection, part: Uuid) -> Result<i64> {
    Ok(conn
        .prepare_cached("SELECT COALESCE(SUM(json_extract(body, '$.quantity')), 0) FROM record WHERE entity = 'van_stock' AND deleted = 0 AND json_extract(body, '$.part_id') = ?1")?
        .query_row(params![part.to_string()], |r| r.get(0))?)
}

/// What is left in the van of each part `usage` changes, before it: the server's count
/// changed by what is not sent yet (the pending usages read once).
pub(crate) fn van_left_before(
    conn: &Connection,
    usage: &PartUsage,
    voided: Option<&PartUsage>,
) -> Result<Vec<(Uuid, i64, i64)>> {
    let changes = usage.van_stock_changes(voided);
    if changes.is_empty() {
        return Ok(Vec::new());
    }
    let pending = van_pending_changes(conn)?;
    changes
        .into_iter()
        .map(|(part, change)| {
            let left = van_counted(conn, part)? + pending.get(&part).copied().unwrap_or(0);
            Ok((part, left, change))
        })
        .collect()
}

impl Store {
    /// My open orders, most urgent first (the nearest deadline of the current status;
    /// orders with no deadline last), optionally only some statuses.
    pub fn open_work_orders(
        &self,
        statuses: Option<&[Status]>,
        page: Page,
    ) -> Result<Vec<WorkOrderSummary>> {
        let filter = statuses.map(|s| {
            Value::Array(
                s.iter()
                    .map(|st| Value::String(st.as_str().into()))
                    .collect(),
            )
            .to_string()
        });
        let sql = format!(
            "{SUMMARY_SELECT} WHERE i.is_open = 1 AND (?1 IS NULL OR i.status IN (SELECT value FROM json_each(?1)))
             ORDER BY i.due_at, i.reported_at, i.seq LIMIT ?2 OFFSET ?3"
        );
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let rows = stmt.query_map(params![filter, page.limit, page.offset], summary)?;
        rows.map(|r| to_summary(r?)).collect()
    }

    /// Searches number, customer, equipment model and serial, and fault description.
    /// Words of three characters or more use the trigram index; shorter words (a
    /// two-character Chinese word, say) are matched as substrings. Open orders first.
    pub fn search(&self, query: &str, limit: u32) -> Result<Vec<WorkOrderSummary>> {
        let words: Vec<&str> = query.split_whitespace().take(8).collect();
        if words.is_empty() {
            return Ok(Vec::new());
        }
        let (long, short): (Vec<&str>, Vec<&str>) =
            words.into_iter().partition(|w| w.chars().count() >= 3);
        let mut conds = Vec::new();
        let mut args: Vec<String> = Vec::new();
        // A long word may be in the names or in the fault text: each has its own index.
        for w in long {
            let n = args.len() + 1;
            conds.push(format!(
                "i.seq IN (SELECT rowid FROM work_order_fts WHERE work_order_fts MATCH ?{n}
                           UNION ALL SELECT rowid FROM work_order_fault_fts WHERE work_order_fault_fts MATCH ?{n})"
            ));
            args.push(format!("\"{}\"", w.replace('"', "\"\"")));
        }
        for w in short {
            let n = args.len() + 1;
            conds.push(format!("(i.number LIKE ?{n} ESCAPE '\\' OR i.customer LIKE ?{n} ESCAPE '\\' OR i.equipment LIKE ?{n} ESCAPE '\\' OR i.fault LIKE ?{n} ESCAPE '\\')"));
            let escaped = w
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_");
            args.push(format!("%{escaped}%"));
        }
        let sql = format!(
            "{SUMMARY_SELECT} WHERE {} ORDER BY i.is_open DESC, i.due_at, i.reported_at LIMIT {limit}",
            conds.join(" AND ")
        );
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let rows = stmt.query_map(rusqlite::params_from_iter(args.iter()), summary)?;
        rows.map(|r| to_summary(r?)).collect()
    }

    /// A customer's equipment on this laptop, by model and serial.
    pub fn customer_equipment(
        &self,
        customer_id: Uuid,
    ) -> Result<Vec<onsite_domain::records::Equipment>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT body FROM record WHERE entity = 'equipment' AND deleted = 0
               AND json_extract(body, '$.customer_id') = ?1",
        )?;
        let bodies = stmt
            .query_map(params![customer_id.to_string()], |r| r.get::<_, String>(0))?
            .collect::<rusqlite::Result<Vec<String>>>()?;
        let mut out: Vec<onsite_domain::records::Equipment> = bodies
            .iter()
            .map(|b| decode("equipment", b))
            .collect::<Result<_>>()?;
        out.sort_by(|a, b| (&a.model, &a.serial).cmp(&(&b.model, &b.serial)));
        Ok(out)
    }

    /// The orders on one piece of equipment, newest first: its service history.
    pub fn equipment_history(&self, equipment_id: Uuid) -> Result<Vec<WorkOrderSummary>> {
        let sql = format!(
            "{SUMMARY_SELECT} WHERE i.equipment_id = ?1 ORDER BY i.reported_at DESC LIMIT 200"
        );
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let rows = stmt.query_map(params![equipment_id.to_string()], summary)?;
        rows.map(|r| to_summary(r?)).collect()
    }

    /// One order with everything under it.
    pub fn work_order(&self, id: Uuid) -> Result<WorkOrderDetail> {
        let key = id.to_string();
        let order = load_order(&self.conn, &key)?;
        let one = |entity: &str, id: Option<Uuid>| -> Result<Option<String>> {
            let Some(id) = id else { return Ok(None) };
            Ok(self
                .conn
                .prepare_cached("SELECT body FROM record WHERE entity = ?1 AND id = ?2")?
                .query_row(params![entity, id.to_string()], |r| r.get(0))
                .optional()?)
        };
        let customer = one("customer", Some(order.customer_id))?
            .map(|b| decode("customer", &b))
            .transpose()?;
        let equipment = one("equipment", order.equipment_id)?
            .map(|b| decode("equipment", &b))
            .transpose()?;
        let mut d = WorkOrderDetail {
            deadlines: self
                .sla
                .deadlines(onsite_domain::sla::SlaTerms::of(&order))
                .ok(),
            order,
            customer,
            equipment,
            checklist: Vec::new(),
            part_usages: Vec::new(),
            quotes: Vec::new(),
            signatures: Vec::new(),
            attachments: Vec::new(),
            log_entries: Vec::new(),
            check_ins: Vec::new(),
            arrival_calls: Vec::new(),
            time_entries: Vec::new(),
            expenses: Vec::new(),
            milestones: Vec::new(),
            satisfaction: Vec::new(),
            follow_ups: Vec::new(),
            trainings: Vec::new(),
            settlements: Vec::new(),
            warehouse_receipts: Vec::new(),
            service_requests: Vec::new(),
            history: Vec::new(),
            pending_ops: 0,
            outcomes: Vec::new(),
        };
        let mut stmt = self.conn.prepare_cached("SELECT entity, body FROM record WHERE work_order_id = ?1 AND entity <> 'work_order' AND deleted = 0 ORDER BY id")?;
        let rows = stmt.query_map(params![key], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
        })?;
        for row in rows {
            let (entity, body) = row?;
            let e = entity.as_str();
            match entity.parse::<Entity>()? {
                Entity::ChecklistItem => d.checklist.push(decode(e, &body)?),
                Entity::PartUsage => d.part_usages.push(decode(e, &body)?),
                Entity::Quote => d.quotes.push(decode(e, &body)?),
                Entity::Signature => d.signatures.push(decode(e, &body)?),
                Entity::Attachment => d.attachments.push(decode(e, &body)?),
                Entity::LogEntry => d.log_entries.push(decode(e, &body)?),
                Entity::CheckIn => d.check_ins.push(decode(e, &body)?),
                Entity::ArrivalCall => d.arrival_calls.push(decode(e, &body)?),
                Entity::TimeEntry => d.time_entries.push(decode(e, &body)?),
                Entity::Expense => d.expenses.push(decode(e, &body)?),
                Entity::Milestone => d.milestones.push(decode(e, &body)?),
                Entity::Satisfaction => d.satisfaction.push(decode(e, &body)?),
                Entity::FollowUp => d.follow_ups.push(decode(e, &body)?),
                Entity::Training => d.trainings.push(decode(e, &body)?),
                Entity::Settlement => d.settlements.push(decode(e, &body)?),
                Entity::WarehouseReceipt => d.warehouse_receipts.push(decode(e, &body)?),
                Entity::ServiceRequest => d.service_requests.push(decode(e, &body)?),
                _ => {}
            }
        }
        d.checklist.sort_by_key(|i| i.position);
        if let Some(eq) = d.order.equipment_id {
            d.history = self
                .equipment_history(eq)?
                .into_iter()
                .filter(|s| s.id != id)
                .collect();
        }
        d.pending_ops = self
            .conn
            .prepare_cached("SELECT COUNT(*) FROM outbox o JOIN record r ON r.entity = o.entity AND r.id = o.record_id WHERE r.work_order_id = ?1")?
            .query_row(params![key], |r| r.get(0))?;
        d.outcomes = self
            .outcomes()?
            .into_iter()
            .filter(|o| {
                o.op.id == id
                    || o.op
                        .fields
                        .as_ref()
                        .and_then(|f| f.get("work_order_id"))
                        .and_then(Value::as_str)
                        == Some(key.as_str())
            })
            .collect();
        Ok(d)
    }

    /// The newest fee schedule this laptop has synced; `None` before the first sync.
    pub fn fee_schedule(&self) -> Result<Option<onsite_domain::fees::FeeSchedule>> {
        let bodies: Vec<String> = self
            .conn
            .prepare_cached(
                "SELECT body FROM record WHERE entity = 'fee_schedule' AND deleted = 0",
            )?
            .query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        let mut newest: Option<onsite_domain::fees::FeeSchedule> = None;
        for body in bodies {
            let s: onsite_domain::fees::FeeSchedule = decode("fee schedule", &body)?;
            if newest.as_ref().is_none_or(|n| s.version > n.version) {
                newest = Some(s);
            }
        }
        Ok(newest)
    }

    /// The catalogue entries of `ids` (those this laptop has), in the order of `ids`.
    pub fn parts(&self, ids: &[Uuid]) -> Result<Vec<Part>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT body FROM record WHERE entity = 'part' AND id = ?1 AND deleted = 0",
        )?;
        let mut out = Vec::new();
        for id in ids {
            let body: Option<String> = stmt
                .query_row(params![id.to_string()], |r| r.get(0))
                .optional()?;
            if let Some(body) = body {
                out.push(decode("part", &body)?);
            }
        }
        Ok(out)
    }

    /// The engineer's van stock, with what was used here and not yet sent taken off.
    pub fn van_stock(&self) -> Result<Vec<VanStockLine>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT v.body, p.body FROM record v LEFT JOIN record p ON p.entity = 'part' AND p.id = json_extract(v.body, '$.part_id')
             WHERE v.entity = 'van_stock' AND v.deleted = 0 ORDER BY json_extract(p.body, '$.part_number')",
        )?;
        let rows: Vec<(String, Option<String>)> = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
        let pending = van_pending_changes(&self.conn)?;
        let mut out = Vec::new();
        for (stock, part) in rows {
            let stock: VanStock = decode("van stock", &stock)?;
            let part: Option<Part> = part.map(|p| decode("part", &p)).transpose()?;
            let change = pending.get(&stock.part_id).copied().unwrap_or(0);
            out.push(VanStockLine {
                part_id: stock.part_id,
                part,
                counted: stock.quantity,
                used_pending: -change,
                available: stock.quantity + change,
            });
        }
        Ok(out)
    }

    /// The content hash of the order's repair record as it stands: what a customer
    /// signature must carry to count.
    pub fn repair_record_hash(&self, id: Uuid) -> Result<String> {
        let key = id.to_string();
        let order = load_order(&self.conn, &key)?;
        let parts: Vec<PartUsage> = records_under(&self.conn, &key, Entity::PartUsage)?;
        Ok(onsite_domain::completion::repair_record_hash(
            &order, &parts,
        )?)
    }

    /// The stored rows a printed document of order `id` is made from — the order, what
    /// hangs under it, its customer and equipment, the parts catalogue, fee schedules and
    /// the company — as `(entity, JSON)`, for `onsite_receipt::render_rows`.
    pub fn order_rows(&self, id: Uuid) -> Result<Vec<(Entity, String)>> {
        let key = id.to_string();
        load_order(&self.conn, &key)?;
        let mut stmt = self.conn.prepare_cached(
            "WITH o AS (SELECT body FROM record WHERE entity = 'work_order' AND id = ?1)
             SELECT entity, body FROM record WHERE deleted = 0 AND (
                 (entity = 'work_order' AND id = ?1) OR work_order_id = ?1
                 OR entity IN ('part', 'fee_schedule', 'company')
                 OR (entity = 'customer' AND id = (SELECT json_extract(body, '$.customer_id') FROM o))
                 OR (entity = 'equipment' AND id = (SELECT json_extract(body, '$.equipment_id') FROM o)))",
        )?;
        let rows = stmt
            .query_map(params![key], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        let mut out = Vec::with_capacity(rows.len());
        for (entity, body) in rows {
            out.push((entity.parse::<Entity>()?, body));
        }
        Ok(out)
    }

    /// A record's visible fields as JSON (for tests and diagnostics).
    pub fn record_json(
        &self,
        entity: Entity,
        id: Uuid,
    ) -> Result<Option<serde_json::Map<String, Value>>> {
        let body: Option<String> = self
            .conn
            .prepare_cached(
                "SELECT body FROM record WHERE entity = ?1 AND id = ?2 AND deleted = 0",
            )?
            .query_row(params![entity.as_str(), id.to_string()], |r| r.get(0))
            .optional()?;
        body.map(|b| parse_object(&b, entity.as_str())).transpose()
    }

    /// Every visible record as `(entity, id, fields)`, ordered: what this laptop shows,
    /// for comparing it with the server's view (tests, support).
    pub fn visible_records(&self) -> Result<Vec<VisibleRecord>> {
        let mut stmt = self
            .conn
            .prepare("SELECT entity, id, body FROM record WHERE deleted = 0 ORDER BY entity, id")?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (entity, id, body) = row?;
            let fields = parse_object(&body, &entity)?;
            out.push((entity, id, fields));
        }
        Ok(out)
    }
}
