//! Keeps `work_order_index` and `work_order_fts` in step with the work-order records:
//! the urgency key (the deadline that matters in the current status) and the searchable
//! text (number, customer, equipment model and serial, fault description).

use chrono::{DateTime, Utc};
use onsite_domain::Status;
use onsite_domain::sla::SlaConfig;
use rusqlite::{Connection, OptionalExtension, params};
use serde_json::Value;

use crate::Result;
use crate::row::Fields;

/// `due_at` of orders with no deadline now: after every real deadline.
pub(crate) const NO_DEADLINE: i64 = 9_000_000_000_000_000_000;

fn text<'a>(body: &'a Fields, key: &str) -> &'a str {
    body.get(key).and_then(Value::as_str).unwrap_or("")
}

fn json_field(conn: &Connection, entity: &str, id: &str, fields: &str) -> Result<String> {
    if id.is_empty() {
        return Ok(String::new());
    }
    let sql = format!("SELECT {fields} FROM record WHERE entity = ?1 AND id = ?2");
    Ok(conn.prepare_cached(&sql)?.query_row(params![entity, id], |r| r.get::<_, Option<String>>(0)).optional()?.flatten().unwrap_or_default())
}

/// Writes the index and search rows of one order from its visible body.
pub(crate) fn index_work_order(conn: &Connection, sla: &SlaConfig, id: &str, body: &Fields, revoked: bool) -> Result<()> {
    let status: Option<Status> = body.get("status").and_then(|s| serde_json::from_value(s.clone()).ok());
    let fault_level = body.get("fault_level").and_then(Value::as_u64).and_then(|l| u8::try_from(l).ok()).unwrap_or(0);
    let reported_at = text(body, "reported_at").parse::<DateTime<Utc>>().ok();
    let complex = body.get("complex").and_then(Value::as_bool).unwrap_or(false);
    let due = match (status, reported_at) {
        (Some(st), Some(at)) => sla.deadlines(fault_level, at, complex).ok().and_then(|d| d.current(st)),
        _ => None,
    };
    let (due_at, due_kind) = match due {
        Some((kind, at)) => (at.timestamp_millis(), serde_json::to_value(kind).ok().and_then(|v| v.as_str().map(str::to_owned))),
        None => (NO_DEADLINE, None),
    };
    let customer_id = text(body, "customer_id");
    let equipment_id = text(body, "equipment_id");
    let number = text(body, "number");
    let rowid: i64 = conn
        .prepare_cached(
            "INSERT INTO work_order_index (id, number, status, is_open, fault_level, reported_at, due_at, due_kind, customer_id, equipment_id, revoked)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
             ON CONFLICT (id) DO UPDATE SET number = excluded.number, status = excluded.status, is_open = excluded.is_open,
               fault_level = excluded.fault_level, reported_at = excluded.reported_at, due_at = excluded.due_at,
               due_kind = excluded.due_kind, customer_id = excluded.customer_id, equipment_id = excluded.equipment_id,
               revoked = excluded.revoked
             RETURNING rowid",
        )?
        .query_row(
            params![
                id,
                number,
                status.map_or("", Status::as_str),
                status.is_some_and(|s| !s.is_finished()),
                fault_level,
                reported_at.map_or(0, |t| t.timestamp_millis()),
                due_at,
                due_kind,
                customer_id,
                equipment_id,
                revoked
            ],
            |r| r.get(0),
        )?;
    let customer = json_field(conn, "customer", customer_id, "json_extract(body, '$.name')")?;
    let equipment = json_field(conn, "equipment", equipment_id, "json_extract(body, '$.model') || ' ' || json_extract(body, '$.serial')")?;
    write_fts(conn, rowid, number, &customer, &equipment, text(body, "fault_description"))
}

fn write_fts(conn: &Connection, rowid: i64, number: &str, customer: &str, equipment: &str, fault: &str) -> Result<()> {
    let current: Option<(String, String, String, String)> = conn
        .prepare_cached("SELECT number, customer, equipment, fault FROM work_order_fts WHERE rowid = ?1")?
        .query_row(params![rowid], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .optional()?;
    if let Some((n, c, e, f)) = &current {
        if n == number && c == customer && e == equipment && f == fault {
            return Ok(());
        }
        conn.prepare_cached("DELETE FROM work_order_fts WHERE rowid = ?1")?.execute(params![rowid])?;
    }
    conn.prepare_cached("INSERT INTO work_order_fts (rowid, number, customer, equipment, fault) VALUES (?1, ?2, ?3, ?4, ?5)")?
        .execute(params![rowid, number, customer, equipment, fault])?;
    Ok(())
}

/// Drops an order from the index and the search.
pub(crate) fn unindex_work_order(conn: &Connection, id: &str) -> Result<()> {
    let rowid: Option<i64> = conn.prepare_cached("DELETE FROM work_order_index WHERE id = ?1 RETURNING rowid")?.query_row(params![id], |r| r.get(0)).optional()?;
    if let Some(rowid) = rowid {
        conn.prepare_cached("DELETE FROM work_order_fts WHERE rowid = ?1")?.execute(params![rowid])?;
    }
    Ok(())
}

/// Re-indexes the orders of a customer or a piece of equipment whose searchable name
/// changed.
pub(crate) fn reindex_orders_of(conn: &Connection, sla: &SlaConfig, column: &str, owner_id: &str) -> Result<()> {
    let sql = format!("SELECT r.id, r.body, i.revoked FROM work_order_index i JOIN record r ON r.entity = 'work_order' AND r.id = i.id WHERE i.{column} = ?1");
    let rows: Vec<(String, String, bool)> = conn.prepare_cached(&sql)?.query_map(params![owner_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?.collect::<rusqlite::Result<_>>()?;
    for (id, body, revoked) in rows {
        let body = crate::row::parse_object(&body, "work order")?;
        index_work_order(conn, sla, &id, &body, revoked)?;
    }
    Ok(())
}

/// Recomputes every order's deadline (after the fault-level table changed).
pub(crate) fn reindex_all(conn: &Connection, sla: &SlaConfig) -> Result<()> {
    let rows: Vec<(String, String, bool)> = conn
        .prepare("SELECT r.id, r.body, COALESCE(i.revoked, 0) FROM record r LEFT JOIN work_order_index i ON i.id = r.id WHERE r.entity = 'work_order' AND r.deleted = 0")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<rusqlite::Result<_>>()?;
    for (id, body, revoked) in rows {
        let body = crate::row::parse_object(&body, "work order")?;
        index_work_order(conn, sla, &id, &body, revoked)?;
    }
    Ok(())
}
