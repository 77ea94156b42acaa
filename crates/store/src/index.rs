//! Keeps `work_order_index` and its search index `work_order_fts` in step with the
//! work-order records: the urgency key (the deadline that matters in the current status),
//! the columns the list shows, and the searchable text (number, customer, equipment model
//! and serial, fault description).

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use onsite_domain::Status;
use onsite_domain::sla::SlaConfig;
use rusqlite::{Connection, OptionalExtension, params};
use serde_json::Value;

use crate::Result;
use crate::row::Fields;

/// How the list rows are derived from the records; a store whose list was made by another
/// version is re-indexed when it opens. 2: a postponed order is due at its agreed visit.
// 3: the repair is due from arrival, level 1 outside the main city has its own window.
pub(crate) const LIST_VERSION: &str = "3";

/// `due_at` of orders with no deadline now: after every real deadline.
pub(crate) const NO_DEADLINE: i64 = 9_000_000_000_000_000_000;

fn text<'a>(body: &'a Fields, key: &str) -> &'a str {
    body.get(key).and_then(Value::as_str).unwrap_or("")
}

/// One row of `work_order_index`, compared before writing so that an unchanged row is
/// not written again.
#[derive(Debug, Clone, PartialEq)]
struct IndexRow {
    number: String,
    status: String,
    is_open: bool,
    fault_level: i64,
    service_type: Option<String>,
    reported_at: i64,
    due_at: i64,
    due_kind: Option<String>,
    customer_id: String,
    equipment_id: String,
    customer: String,
    equipment: String,
    equipment_model: Option<String>,
    fault: String,
    revoked: bool,
}

impl IndexRow {
    /// A row with no values, to fill in the few a caller has.
    fn empty() -> IndexRow {
        IndexRow {
            number: String::new(),
            status: String::new(),
            is_open: false,
            fault_level: 0,
            service_type: None,
            reported_at: 0,
            due_at: NO_DEADLINE,
            due_kind: None,
            customer_id: String::new(),
            equipment_id: String::new(),
            customer: String::new(),
            equipment: String::new(),
            equipment_model: None,
            fault: String::new(),
            revoked: false,
        }
    }
}

/// The customer's name, and the equipment's "model serial" and model.
fn owner_names(
    conn: &Connection,
    customer_id: &str,
    equipment_id: &str,
) -> Result<(String, String, Option<String>)> {
    let customer: Option<String> = conn
        .prepare_cached(
            "SELECT json_extract(body, '$.name') FROM record WHERE entity = 'customer' AND id = ?1",
        )?
        .query_row(params![customer_id], |r| r.get(0))
        .optional()?
        .flatten();
    let equipment: Option<(Option<String>, Option<String>)> = conn
        .prepare_cached("SELECT json_extract(body, '$.model'), json_extract(body, '$.serial') FROM record WHERE entity = 'equipment' AND id = ?1")?
        .query_row(params![equipment_id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    let (model, serial) = equipment.unwrap_or_default();
    Ok(names(customer, model, serial))
}

/// The customer's name, the equipment's "model serial" (as searched) and its model.
fn names(
    customer: Option<String>,
    model: Option<String>,
    serial: Option<String>,
) -> (String, String, Option<String>) {
    let text = [model.as_deref(), serial.as_deref()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    (customer.unwrap_or_default(), text, model)
}

/// The index row of an order with this visible body (`previous`: its row now, whose
/// customer and equipment names are kept unless it points elsewhere or `refresh_names`).
fn index_row(
    conn: &Connection,
    sla: &SlaConfig,
    body: &Fields,
    revoked: bool,
    previous: Option<&IndexRow>,
    refresh_names: bool,
) -> Result<IndexRow> {
    let customer_id = text(body, "customer_id");
    let equipment_id = text(body, "equipment_id");
    let names = match previous {
        Some(p)
            if !refresh_names && p.customer_id == customer_id && p.equipment_id == equipment_id =>
        {
            (
                p.customer.clone(),
                p.equipment.clone(),
                p.equipment_model.clone(),
            )
        }
        _ => owner_names(conn, customer_id, equipment_id)?,
    };
    Ok(named_index_row(sla, body, revoked, names))
}

/// The index row of an order with this visible body, whose customer and equipment have
/// these names (see [`names`]).
fn named_index_row(
    sla: &SlaConfig,
    body: &Fields,
    revoked: bool,
    (customer, equipment, equipment_model): (String, String, Option<String>),
) -> IndexRow {
    let status: Option<Status> = body
        .get("status")
        .and_then(Value::as_str)
        .and_then(|s| s.parse().ok());
    let fault_level = body
        .get("fault_level")
        .and_then(Value::as_u64)
        .and_then(|l| u8::try_from(l).ok())
        .unwrap_or(0);
    let reported_at = text(body, "reported_at").parse::<DateTime<Utc>>().ok();
    let complex = body
        .get("complex")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let agreed_visit = text(body, "scheduled_at").parse::<DateTime<Utc>>().ok();
    let outside_main_city = body
        .get("outside_main_city")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let arrived_at = text(body, "arrived_at").parse::<DateTime<Utc>>().ok();
    let due = match (status, reported_at) {
        (Some(st), Some(at)) => sla
            .deadlines(onsite_domain::sla::SlaTerms {
                level: fault_level,
                reported_at: at,
                complex,
                outside_main_city,
                arrived_at,
            })
            .ok()
            .and_then(|d| d.due(st, agreed_visit)),
        _ => None,
    };
    let (due_at, due_kind) = match due {
        Some((kind, at)) => (
            at.timestamp_millis(),
            serde_json::to_value(kind)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned)),
        ),
        None => (NO_DEADLINE, None),
    };
    IndexRow {
        number: text(body, "number").to_owned(),
        status: status.map_or("", Status::as_str).to_owned(),
        is_open: status.is_some_and(|s| !s.is_finished()),
        fault_level: i64::from(fault_level),
        service_type: body
            .get("service_type")
            .and_then(Value::as_str)
            .map(str::to_owned),
        reported_at: reported_at.map_or(0, |t| t.timestamp_millis()),
        due_at,
        due_kind,
        customer,
        equipment,
        equipment_model,
        customer_id: text(body, "customer_id").to_owned(),
        equipment_id: text(body, "equipment_id").to_owned(),
        fault: text(body, "fault_description").to_owned(),
        revoked,
    }
}

/// Writes the index and search rows of one order from its visible body. The names of its
/// customer and equipment are looked up only when the order points elsewhere now or one
/// of them changed (`refresh_names`).
pub(crate) fn index_work_order(
    conn: &Connection,
    sla: &SlaConfig,
    id: &str,
    body: &Fields,
    revoked: bool,
    refresh_names: bool,
) -> Result<()> {
    let mut search = SearchBatch::default();
    index_work_order_into(conn, sla, id, body, revoked, refresh_names, &mut search)?;
    search.write(conn)
}

/// [`index_work_order`], with the search rows left in `search` for the caller to write
/// together with other orders' (see [`SearchBatch`]).
pub(crate) fn index_work_order_into(
    conn: &Connection,
    sla: &SlaConfig,
    id: &str,
    body: &Fields,
    revoked: bool,
    refresh_names: bool,
    search: &mut SearchBatch,
) -> Result<()> {
    let previous: Option<(i64, IndexRow)> = conn
        .prepare_cached(
            "SELECT seq, number, status, is_open, fault_level, service_type, reported_at, due_at, due_kind, customer_id, equipment_id,
                    customer, equipment, equipment_model, fault, revoked
             FROM work_order_index WHERE id = ?1",
        )?
        .query_row(params![id], |r| {
            Ok((
                r.get(0)?,
                IndexRow {
                    number: r.get(1)?,
                    status: r.get(2)?,
                    is_open: r.get(3)?,
                    fault_level: r.get(4)?,
                    service_type: r.get(5)?,
                    reported_at: r.get(6)?,
                    due_at: r.get(7)?,
                    due_kind: r.get(8)?,
                    customer_id: r.get::<_, Option<String>>(9)?.unwrap_or_default(),
                    equipment_id: r.get::<_, Option<String>>(10)?.unwrap_or_default(),
                    customer: r.get(11)?,
                    equipment: r.get(12)?,
                    equipment_model: r.get(13)?,
                    fault: r.get(14)?,
                    revoked: r.get(15)?,
                },
            ))
        })
        .optional()?;
    let wanted = index_row(
        conn,
        sla,
        body,
        revoked,
        previous.as_ref().map(|(_, p)| p),
        refresh_names,
    )?;
    if let Some((_, p)) = &previous
        && *p == wanted
    {
        return Ok(());
    }
    let seq = match &previous {
        Some((seq, p)) => {
            update_changed(conn, *seq, p, &wanted)?;
            *seq
        }
        None => insert(conn, id, &wanted)?,
    };
    let old = previous.as_ref().map(|(_, p)| p);
    search.replace(seq, old, Some(&wanted));
    Ok(())
}

fn insert(conn: &Connection, id: &str, w: &IndexRow) -> Result<i64> {
    Ok(conn
        .prepare_cached(
            "INSERT INTO work_order_index (id, number, status, is_open, fault_level, service_type, reported_at, due_at, due_kind,
                customer_id, equipment_id, customer, equipment, equipment_model, fault, revoked)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16) RETURNING seq",
        )?
        .query_row(
            params![
                id,
                w.number,
                w.status,
                w.is_open,
                w.fault_level,
                w.service_type,
                w.reported_at,
                w.due_at,
                w.due_kind,
                w.customer_id,
                w.equipment_id,
                w.customer,
                w.equipment,
                w.equipment_model,
                w.fault,
                w.revoked
            ],
            |r| r.get(0),
        )?)
}

/// Updates only the columns that changed, so that SQLite touches only the indexes on
/// them (a status change rewrites the urgency index, not the customer's).
fn update_changed(conn: &Connection, seq: i64, old: &IndexRow, new: &IndexRow) -> Result<()> {
    let mut sets: Vec<&str> = Vec::new();
    let mut values: Vec<rusqlite::types::Value> = Vec::new();
    let mut set = |column: &'static str, changed: bool, value: rusqlite::types::Value| {
        if changed {
            sets.push(column);
            values.push(value);
        }
    };
    use rusqlite::types::Value as V;
    let opt = |s: &Option<String>| s.clone().map_or(V::Null, V::Text);
    set(
        "number",
        old.number != new.number,
        V::Text(new.number.clone()),
    );
    set(
        "status",
        old.status != new.status,
        V::Text(new.status.clone()),
    );
    set(
        "is_open",
        old.is_open != new.is_open,
        V::Integer(i64::from(new.is_open)),
    );
    set(
        "fault_level",
        old.fault_level != new.fault_level,
        V::Integer(new.fault_level),
    );
    set(
        "service_type",
        old.service_type != new.service_type,
        opt(&new.service_type),
    );
    set(
        "reported_at",
        old.reported_at != new.reported_at,
        V::Integer(new.reported_at),
    );
    set("due_at", old.due_at != new.due_at, V::Integer(new.due_at));
    set("due_kind", old.due_kind != new.due_kind, opt(&new.due_kind));
    set(
        "customer_id",
        old.customer_id != new.customer_id,
        V::Text(new.customer_id.clone()),
    );
    set(
        "equipment_id",
        old.equipment_id != new.equipment_id,
        V::Text(new.equipment_id.clone()),
    );
    set(
        "customer",
        old.customer != new.customer,
        V::Text(new.customer.clone()),
    );
    set(
        "equipment",
        old.equipment != new.equipment,
        V::Text(new.equipment.clone()),
    );
    set(
        "equipment_model",
        old.equipment_model != new.equipment_model,
        opt(&new.equipment_model),
    );
    set("fault", old.fault != new.fault, V::Text(new.fault.clone()));
    set(
        "revoked",
        old.revoked != new.revoked,
        V::Integer(i64::from(new.revoked)),
    );
    if sets.is_empty() {
        return Ok(());
    }
    let assignments: Vec<String> = sets
        .iter()
        .enumerate()
        .map(|(i, c)| format!("{c} = ?{}", i + 2))
        .collect();
    let sql = format!(
        "UPDATE work_order_index SET {} WHERE seq = ?1",
        assignments.join(", ")
    );
    let mut params: Vec<V> = vec![V::Integer(seq)];
    params.extend(values);
    conn.prepare_cached(&sql)?
        .execute(rusqlite::params_from_iter(params))?;
    Ok(())
}

/// Changes to the two search indexes, written together: external-content FTS5 needs the
/// old text to delete a row, and each index is touched only when its own text changed.
/// FTS5 flushes its pending rows at the start of every statement that writes it, so one
/// statement per order and index made a segment per order (and merges of them); here each
/// kind of change is one `INSERT … SELECT` over all the orders of a transaction.
#[derive(Debug, Default)]
pub(crate) struct SearchBatch {
    names_gone: Vec<Value>,
    names_new: Vec<Value>,
    fault_gone: Vec<Value>,
    fault_new: Vec<Value>,
}

impl SearchBatch {
    /// An index row going from `old` to `new` (either may be absent).
    fn replace(&mut self, seq: i64, old: Option<&IndexRow>, new: Option<&IndexRow>) {
        let names = |r: &IndexRow| (r.number.clone(), r.customer.clone(), r.equipment.clone());
        if old.map(names) != new.map(names) {
            if let Some(o) = old {
                self.names_gone
                    .push(serde_json::json!([seq, o.number, o.customer, o.equipment]));
            }
            if let Some(n) = new {
                self.names_new
                    .push(serde_json::json!([seq, n.number, n.customer, n.equipment]));
            }
        }
        if old.map(|r| &r.fault) != new.map(|r| &r.fault) {
            if let Some(o) = old {
                self.fault_gone.push(serde_json::json!([seq, o.fault]));
            }
            if let Some(n) = new {
                self.fault_new.push(serde_json::json!([seq, n.fault]));
            }
        }
    }

    /// Writes the changes: every removal before every addition.
    pub(crate) fn write(self, conn: &Connection) -> Result<()> {
        let run = |sql: &str, rows: Vec<Value>| -> Result<()> {
            if !rows.is_empty() {
                conn.prepare_cached(sql)?
                    .execute(params![Value::Array(rows).to_string()])?;
            }
            Ok(())
        };
        run(
            "INSERT INTO work_order_fts (work_order_fts, rowid, number, customer, equipment)
             SELECT 'delete', value ->> 0, value ->> 1, value ->> 2, value ->> 3 FROM json_each(?1)",
            self.names_gone,
        )?;
        run(
            "INSERT INTO work_order_fault_fts (work_order_fault_fts, rowid, fault)
             SELECT 'delete', value ->> 0, value ->> 1 FROM json_each(?1)",
            self.fault_gone,
        )?;
        run(
            "INSERT INTO work_order_fts (rowid, number, customer, equipment)
             SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3 FROM json_each(?1)",
            self.names_new,
        )?;
        run(
            "INSERT INTO work_order_fault_fts (rowid, fault)
             SELECT value ->> 0, value ->> 1 FROM json_each(?1)",
            self.fault_new,
        )
    }
}

/// Drops an order from the index and the search.
pub(crate) fn unindex_work_order(conn: &Connection, id: &str) -> Result<()> {
    let old: Option<(i64, String, String, String, String)> = conn
        .prepare_cached("DELETE FROM work_order_index WHERE id = ?1 RETURNING seq, number, customer, equipment, fault")?
        .query_row(params![id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))
        .optional()?;
    if let Some((seq, number, customer, equipment, fault)) = old {
        let gone = IndexRow {
            number,
            customer,
            equipment,
            fault,
            ..IndexRow::empty()
        };
        let mut search = SearchBatch::default();
        search.replace(seq, Some(&gone), None);
        search.write(conn)?;
    }
    Ok(())
}

/// What of a customer or a piece of equipment its orders show and search: the name, or
/// the model and serial.
pub(crate) fn owner_text(entity: &str, body: &Fields) -> (String, String) {
    match entity {
        "customer" => (text(body, "name").to_owned(), String::new()),
        _ => (
            text(body, "model").to_owned(),
            text(body, "serial").to_owned(),
        ),
    }
}

/// `owner_text` of the stored row, if there is one.
pub(crate) fn stored_owner_text(
    conn: &Connection,
    entity: &str,
    id: &str,
) -> Result<Option<(String, String)>> {
    let row: Option<(Option<String>, Option<String>)> = conn
        .prepare_cached(
            "SELECT CASE entity WHEN 'customer' THEN json_extract(body, '$.name') ELSE json_extract(body, '$.model') END,
                    CASE entity WHEN 'customer' THEN '' ELSE json_extract(body, '$.serial') END
             FROM record WHERE entity = ?1 AND id = ?2",
        )?
        .query_row(params![entity, id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    Ok(row.map(|(a, b)| (a.unwrap_or_default(), b.unwrap_or_default())))
}

/// Re-indexes one order from its stored row, its customer's and equipment's names looked
/// up again.
pub(crate) fn reindex_order(conn: &Connection, sla: &SlaConfig, id: &str) -> Result<()> {
    let row: Option<(String, bool)> = conn
        .prepare_cached(
            "SELECT r.body, i.revoked FROM work_order_index i CROSS JOIN record r ON r.entity = 'work_order' AND r.id = i.id WHERE i.id = ?1",
        )?
        .query_row(params![id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    if let Some((body, revoked)) = row {
        let body = crate::row::parse_object(&body, "work order")?;
        index_work_order(conn, sla, id, &body, revoked, true)?;
    }
    Ok(())
}

/// Re-indexes the orders of a customer or a piece of equipment whose searchable name
/// changed (`column`: `customer_id` or `equipment_id`).
pub(crate) fn reindex_orders_of(
    conn: &Connection,
    sla: &SlaConfig,
    column: &str,
    owner_id: &str,
) -> Result<()> {
    for id in orders_of(conn, column, owner_id)? {
        reindex_order(conn, sla, &id)?;
    }
    Ok(())
}

/// The orders of a customer or a piece of equipment (`column`: `customer_id` or
/// `equipment_id`).
pub(crate) fn orders_of(conn: &Connection, column: &str, owner_id: &str) -> Result<Vec<String>> {
    let sql = format!("SELECT id FROM work_order_index WHERE {column} = ?1");
    Ok(conn
        .prepare_cached(&sql)?
        .query_map(params![owner_id], |r| r.get::<_, String>(0))?
        .collect::<rusqlite::Result<Vec<_>>>()?)
}

/// Recomputes every order's deadline (after the fault-level table changed).
/// Builds the order list and its search for every order of a freshly filled database
/// (a first sync): the list rows one by one, then each search index in one pass. Writing
/// the search rows order by order made SQLite flush the search index at nearly every
/// statement, which cost more than everything else in a first sync.
pub(crate) fn build_all(conn: &Connection, sla: &SlaConfig) -> Result<()> {
    let rows: Vec<(String, String)> = conn
        .prepare("SELECT id, body FROM record WHERE entity = 'work_order' AND deleted = 0")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    for (id, body) in rows {
        let body = crate::row::parse_object(&body, "work order")?;
        let row = index_row(conn, sla, &body, false, None, true)?;
        insert(conn, &id, &row)?;
    }
    rebuild_search(conn)
}

fn rebuild_search(conn: &Connection) -> Result<()> {
    conn.execute_batch(
        "INSERT INTO work_order_fts (work_order_fts) VALUES ('rebuild');
         INSERT INTO work_order_fault_fts (work_order_fault_fts) VALUES ('rebuild');",
    )?;
    Ok(())
}

/// The order list of a first sync, made from the snapshot's lines as they are read (on the
/// reader's thread, while the writer inserts), so that only its inserts are left for the
/// end. It relies on the server's order: fault levels, customers and equipment before the
/// orders. Any other order, an order sent twice, or a name it cannot read makes it give
/// way to [`build_all`] over the written records, which gives the same list.
#[derive(Debug, Default)]
pub(crate) struct ListBuilder {
    sla: SlaConfig,
    customers: HashMap<String, Option<String>>,
    /// Model and serial.
    equipment: HashMap<String, (Option<String>, Option<String>)>,
    rows: Vec<(String, IndexRow)>,
    ids: HashSet<String>,
    /// Something arrived out of that order: build from the records instead.
    from_records: bool,
}

#[derive(serde::Deserialize)]
struct CustomerName {
    #[serde(default)]
    name: Option<String>,
}

#[derive(serde::Deserialize)]
struct EquipmentName {
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    serial: Option<String>,
}

impl ListBuilder {
    pub(crate) fn new(sla: SlaConfig) -> ListBuilder {
        ListBuilder {
            sla,
            ..ListBuilder::default()
        }
    }

    /// The fault level table the deadlines are computed with.
    pub(crate) fn fault_levels(&mut self, sla: &SlaConfig) {
        self.from_records |= !self.rows.is_empty();
        self.sla = sla.clone();
    }

    pub(crate) fn customer(&mut self, id: &str, row: &str) {
        self.from_records |= !self.rows.is_empty();
        match serde_json::from_str::<CustomerName>(row) {
            Ok(c) => {
                self.customers.insert(id.to_owned(), c.name);
            }
            Err(_) => self.from_records = true,
        }
    }

    pub(crate) fn equipment(&mut self, id: &str, row: &str) {
        self.from_records |= !self.rows.is_empty();
        match serde_json::from_str::<EquipmentName>(row) {
            Ok(e) => {
                self.equipment.insert(id.to_owned(), (e.model, e.serial));
            }
            Err(_) => self.from_records = true,
        }
    }

    pub(crate) fn work_order(&mut self, id: &str, row: &str) {
        if self.from_records {
            return;
        }
        let Ok(body) = crate::row::parse_object(row, "work order") else {
            self.from_records = true;
            return;
        };
        let customer = match text(&body, "customer_id") {
            "" => Some(None),
            c => self.customers.get(c).cloned(),
        };
        let equipment = match text(&body, "equipment_id") {
            "" => Some((None, None)),
            e => self.equipment.get(e).cloned(),
        };
        let (Some(customer), Some((model, serial))) = (customer, equipment) else {
            // Not sent before the order (or not in the snapshot at all).
            self.from_records = true;
            return;
        };
        if !self.ids.insert(id.to_owned()) {
            self.from_records = true;
            return;
        }
        let row = named_index_row(&self.sla, &body, false, names(customer, model, serial));
        self.rows.push((id.to_owned(), row));
    }

    /// Writes the list and its search into `conn`, whose records are the snapshot's.
    pub(crate) fn write(self, conn: &Connection) -> Result<()> {
        if self.from_records {
            return build_all(conn, &self.sla);
        }
        for (id, row) in &self.rows {
            insert(conn, id, row)?;
        }
        rebuild_search(conn)
    }
}

pub(crate) fn reindex_all(conn: &Connection, sla: &SlaConfig) -> Result<()> {
    let rows: Vec<(String, String, bool)> = conn
        .prepare("SELECT r.id, r.body, COALESCE(i.revoked, 0) FROM record r LEFT JOIN work_order_index i ON i.id = r.id WHERE r.entity = 'work_order' AND r.deleted = 0")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<rusqlite::Result<_>>()?;
    for (id, body, revoked) in rows {
        let body = crate::row::parse_object(&body, "work order")?;
        index_work_order(conn, sla, &id, &body, revoked, false)?;
    }
    Ok(())
}
