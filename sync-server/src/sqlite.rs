//! The embedded SQLite storage (the default): one file, zero setup.
//!
//! One connection behind a mutex: SQLite serialises writers anyway, and the change-log
//! counter is taken inside each write transaction, so positions follow commit order.

use std::path::Path;
use std::sync::Mutex;

use chrono::{DateTime, NaiveDate, Utc};
use onsite_domain::hlc::HlcClock;
use onsite_domain::numbering::{Department, Period, next_block};
use onsite_domain::protocol::{
    CLOCKS_KEY, Change, ChangeOp, DEFAULT_CLOCK_KEY, Entity, Op, OpResult, OpStatus,
};
use onsite_domain::records::User;
use onsite_domain::rows::validate_row;
use onsite_domain::work_order::check_transition;
use onsite_domain::{Role, Status};
use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::push::{Current, Outcome, check_move, decide, order_of};
use crate::storage::{KeptOp, NewUser, PullPage, Result, Session, Storage, StorageError};

const MIGRATIONS: &[&str] = &[
    include_str!("../migrations/0001_init.sql"),
    include_str!("../migrations/0002_blobs.sql"),
];

/// The reference data every engineer pulls.
const REFERENCE: &str = "('part', 'checklist_template', 'fault_levels', 'fee_schedule')";

#[derive(Debug)]
pub struct SqliteStorage {
    conn: Mutex<Connection>,
    clock: Mutex<HlcClock>,
}

fn role_name(role: Role) -> &'static str {
    match role {
        Role::Engineer => "engineer",
        Role::Dispatcher => "dispatcher",
        Role::Admin => "admin",
    }
}

fn parse_role(s: &str) -> Result<Role> {
    serde_json::from_value(Value::String(s.to_owned()))
        .map_err(|e| StorageError::Database(format!("role {s:?}: {e}")))
}

fn parse_object(text: &str) -> Result<Map<String, Value>> {
    match serde_json::from_str(text) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err(StorageError::Database(
            "a stored row is not a JSON object".into(),
        )),
    }
}

fn to_json(m: &Map<String, Value>) -> String {
    serde_json::to_string(m).unwrap_or_else(|_| "{}".into())
}

fn user_from_row(
    r: &rusqlite::Row<'_>,
) -> rusqlite::Result<(String, String, String, String, Option<String>)> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
}

fn to_user(
    (id, username, name, role, department): (String, String, String, String, Option<String>),
) -> Result<User> {
    Ok(User {
        id: id
            .parse()
            .map_err(|e: uuid::Error| StorageError::Database(e.to_string()))?,
        username,
        name,
        role: parse_role(&role)?,
        department,
    })
}

/// One record put by the dispatcher, inside `tx`, every field stamped `stamp`.
fn admin_put_in(
    tx: &Transaction<'_>,
    entity: Entity,
    mut row: Map<String, Value>,
    stamp: &str,
) -> Result<Uuid> {
    let id = match row.get("id").and_then(Value::as_str) {
        Some(s) => s
            .parse::<Uuid>()
            .map_err(|_| onsite_domain::DomainError::Invalid {
                field: "id",
                message: format!("{s:?} is not a UUID"),
            })?,
        None => {
            let id = Uuid::now_v7();
            row.insert("id".into(), Value::String(id.to_string()));
            id
        }
    };
    validate_row(entity, &row)?;
    if entity.is_under_work_order() {
        let order = row
            .get("work_order_id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        if load(tx, Entity::WorkOrder, &order)?.is_none() {
            return Err(StorageError::NotFound(format!("no work order {order}")));
        }
    }
    let work_order_id = if entity == Entity::WorkOrder {
        Some(id.to_string())
    } else {
        row.get("work_order_id")
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    let clocks = Map::from_iter([(
        DEFAULT_CLOCK_KEY.to_owned(),
        Value::String(stamp.to_owned()),
    )]);
    write(
        tx,
        entity,
        &id.to_string(),
        &Current {
            row,
            clocks,
            deleted: false,
            work_order_id,
        },
    )?;
    Ok(id)
}

fn next_seq(tx: &Transaction<'_>) -> Result<i64> {
    Ok(tx
        .prepare_cached("UPDATE change_counter SET value = value + 1 WHERE id = 1 RETURNING value")?
        .query_row([], |r| r.get(0))?)
}

fn load(tx: &Transaction<'_>, entity: Entity, id: &str) -> Result<Option<Current>> {
    let row: Option<(String, String, bool, Option<String>)> = tx
        .prepare_cached(
            "SELECT row, clocks, deleted, work_order_id FROM records WHERE entity = ?1 AND id = ?2",
        )?
        .query_row(params![entity.as_str(), id], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })
        .optional()?;
    row.map(|(row, clocks, deleted, work_order_id)| {
        Ok(Current {
            row: parse_object(&row)?,
            clocks: parse_object(&clocks)?,
            deleted,
            work_order_id,
        })
    })
    .transpose()
}

/// Writes a record at a new change-log position.
fn write(tx: &Transaction<'_>, entity: Entity, id: &str, c: &Current) -> Result<i64> {
    let seq = next_seq(tx)?;
    let text = |k: &str| c.row.get(k).and_then(Value::as_str).map(str::to_owned);
    let (customer_ref, equipment_ref) = if entity == Entity::WorkOrder {
        (text("customer_id"), text("equipment_id"))
    } else {
        (None, None)
    };
    let owner_ref = if entity == Entity::VanStock {
        text("engineer_id")
    } else {
        None
    };
    let work_order_id = if entity == Entity::WorkOrder {
        Some(id.to_owned())
    } else {
        c.work_order_id.clone()
    };
    tx.prepare_cached(
        "INSERT INTO records (entity, id, work_order_id, customer_ref, equipment_ref, owner_ref, row, clocks, deleted, seq)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
         ON CONFLICT (entity, id) DO UPDATE SET work_order_id = excluded.work_order_id, customer_ref = excluded.customer_ref,
           equipment_ref = excluded.equipment_ref, owner_ref = excluded.owner_ref, row = excluded.row, clocks = excluded.clocks,
           deleted = excluded.deleted, seq = excluded.seq",
    )?
    .execute(params![entity.as_str(), id, work_order_id, customer_ref, equipment_ref, owner_ref, to_json(&c.row), to_json(&c.clocks), c.deleted, seq])?;
    let mut blobs: Vec<&str> = c
        .row
        .get("sha256")
        .and_then(Value::as_str)
        .into_iter()
        .collect();
    if entity == Entity::Milestone {
        blobs.extend(
            c.row
                .get("photos")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str),
        );
    }
    for sha in blobs {
        tx.prepare_cached("INSERT INTO blob_refs (sha256, entity, id, work_order_id) VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING")?
            .execute(params![sha, entity.as_str(), id, work_order_id])?;
    }
    Ok(seq)
}

/// A work order that exists and is not deleted, or `NotFound`.
fn live_order(tx: &Transaction<'_>, order_id: &str) -> Result<Current> {
    load(tx, Entity::WorkOrder, order_id)?
        .filter(|o| !o.deleted)
        .ok_or_else(|| StorageError::NotFound(format!("no work order {order_id}")))
}

/// The live records under an order (not the order itself).
fn records_under(
    tx: &Transaction<'_>,
    order_id: &str,
) -> Result<Vec<(Entity, Map<String, Value>)>> {
    let rows: Vec<(String, String)> = tx
        .prepare_cached("SELECT entity, row FROM records WHERE work_order_id = ?1 AND entity <> 'work_order' AND deleted = 0")?
        .query_map(params![order_id], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    rows.into_iter()
        .map(|(e, r)| Ok((e.parse::<Entity>()?, parse_object(&r)?)))
        .collect()
}

/// Whether an engineer's scope holds the operation's record.
fn in_scope(tx: &Transaction<'_>, user: &User, op: &Op, current: Option<&Current>) -> Result<bool> {
    if user.role != Role::Engineer {
        return Ok(true);
    }
    let me = user.id.to_string();
    match op.entity {
        Entity::Customer | Entity::Equipment => {
            let column = if op.entity == Entity::Customer { "customer_ref" } else { "equipment_ref" };
            let sql = format!(
                "SELECT EXISTS (SELECT 1 FROM records w JOIN assignments a ON a.work_order_id = w.id
                 WHERE w.entity = 'work_order' AND a.engineer_id = ?1 AND w.{column} = ?2)"
            );
            Ok(tx.prepare_cached(&sql)?.query_row(params![me, op.id.to_string()], |r| r.get(0))?)
        }
        _ => match order_of(op, current) {
            Some(order) => Ok(tx
                .prepare_cached("SELECT EXISTS (SELECT 1 FROM assignments WHERE work_order_id = ?1 AND engineer_id = ?2)")?
                .query_row(params![order, me], |r| r.get(0))?),
            None => Ok(false),
        },
    }
}

impl SqliteStorage {
    /// Opens (creating if needed) the database file at `path`, migrated.
    pub fn open(path: &Path) -> Result<SqliteStorage> {
        let mut conn = Connection::open(path)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        let known = i64::try_from(MIGRATIONS.len()).unwrap_or(i64::MAX);
        if version > known {
            return Err(StorageError::Database(format!(
                "{} was written by a newer server (schema {version}, this one knows {known})",
                path.display()
            )));
        }
        for (i, sql) in MIGRATIONS
            .iter()
            .enumerate()
            .skip(usize::try_from(version).unwrap_or(0))
        {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            tx.execute_batch(sql)?;
            tx.pragma_update(None, "user_version", i64::try_from(i).unwrap_or(0) + 1)?;
            tx.commit()?;
        }
        let clock = HlcClock::new("server").map_err(StorageError::Rule)?;
        Ok(SqliteStorage {
            conn: Mutex::new(conn),
            clock: Mutex::new(clock),
        })
    }

    fn conn(&self) -> Result<std::sync::MutexGuard<'_, Connection>> {
        self.conn.lock().map_err(|_| {
            StorageError::Database("the database lock was poisoned by a crashed request".into())
        })
    }

    fn stamp(&self, now: DateTime<Utc>) -> Result<String> {
        let mut clock = self
            .clock
            .lock()
            .map_err(|_| StorageError::Database("clock lock poisoned".into()))?;
        Ok(clock.tick(now).to_string())
    }

    fn observe(&self, op: &Op, now: DateTime<Utc>) {
        if let Ok(mut clock) = self.clock.lock() {
            clock.observe(&op.hlc, now);
        }
    }

    /// Re-positions an order's whole graph after `seq`, so that an engineer who just got it
    /// pulls all of it even though their cursor is past those records.
    fn resend_graph(tx: &Transaction<'_>, order_id: &str) -> Result<()> {
        let keys: Vec<(String, String)> = tx
            .prepare(
                "SELECT entity, id FROM records WHERE work_order_id = ?1
                 UNION SELECT 'customer', customer_ref FROM records WHERE entity = 'work_order' AND id = ?1 AND customer_ref IS NOT NULL
                 UNION SELECT 'equipment', equipment_ref FROM records WHERE entity = 'work_order' AND id = ?1 AND equipment_ref IS NOT NULL",
            )?
            .query_map(params![order_id], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
        for (entity, id) in keys {
            let seq = next_seq(tx)?;
            tx.prepare_cached("UPDATE records SET seq = ?3 WHERE entity = ?1 AND id = ?2")?
                .execute(params![entity, id, seq])?;
        }
        Ok(())
    }
}

impl Storage for SqliteStorage {
    fn create_user(&self, user: NewUser, now: DateTime<Utc>) -> Result<User> {
        let conn = self.conn()?;
        let id = Uuid::now_v7();
        let inserted = conn.execute(
            "INSERT INTO users (id, username, name, role, department, password_hash, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT (username) DO NOTHING",
            params![id.to_string(), user.username, user.name, role_name(user.role), user.department, user.password_hash, now.timestamp_millis()],
        )?;
        if inserted == 0 {
            return Err(StorageError::Conflict(format!(
                "the username {:?} is taken: choose another",
                user.username
            )));
        }
        Ok(User {
            id,
            username: user.username,
            name: user.name,
            role: user.role,
            department: user.department,
        })
    }

    fn user_by_username(&self, username: &str) -> Result<Option<(User, String)>> {
        let conn = self.conn()?;
        let found = conn
            .query_row("SELECT id, username, name, role, department, password_hash FROM users WHERE username = ?1", params![username], |r| {
                Ok((user_from_row(r)?, r.get::<_, String>(5)?))
            })
            .optional()?;
        found.map(|(u, hash)| Ok((to_user(u)?, hash))).transpose()
    }

    fn login_failures(&self, username: &str, now: DateTime<Utc>, window_secs: i64) -> Result<u32> {
        let conn = self.conn()?;
        let since = now.timestamp_millis() - window_secs * 1000;
        let n: Option<i64> = conn
            .query_row(
                "SELECT count FROM login_failures WHERE username = ?1 AND last_at > ?2",
                params![username, since],
                |r| r.get(0),
            )
            .optional()?;
        Ok(u32::try_from(n.unwrap_or(0)).unwrap_or(u32::MAX))
    }

    fn note_login_failure(&self, username: &str, now: DateTime<Utc>) -> Result<()> {
        self.conn()?.execute(
            "INSERT INTO login_failures (username, count, last_at) VALUES (?1, 1, ?2)
             ON CONFLICT (username) DO UPDATE SET count = count + 1, last_at = excluded.last_at",
            params![username, now.timestamp_millis()],
        )?;
        Ok(())
    }

    fn clear_login_failures(&self, username: &str) -> Result<()> {
        self.conn()?.execute(
            "DELETE FROM login_failures WHERE username = ?1",
            params![username],
        )?;
        Ok(())
    }

    fn create_session(
        &self,
        token_hash: &str,
        user_id: Uuid,
        device_id: &str,
        device_name: &str,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<()> {
        self.conn()?.execute(
            "INSERT INTO tokens (hash, user_id, device_id, device_name, created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![token_hash, user_id.to_string(), device_id, device_name, now.timestamp_millis(), expires_at.timestamp_millis()],
        )?;
        Ok(())
    }

    fn session(&self, token_hash: &str, now: DateTime<Utc>) -> Result<Option<Session>> {
        let conn = self.conn()?;
        let found = conn
            .query_row(
                "SELECT u.id, u.username, u.name, u.role, u.department, t.device_id FROM tokens t JOIN users u ON u.id = t.user_id
                 WHERE t.hash = ?1 AND t.expires_at > ?2",
                params![token_hash, now.timestamp_millis()],
                |r| Ok((user_from_row(r)?, r.get::<_, String>(5)?)),
            )
            .optional()?;
        found
            .map(|(u, device_id)| {
                Ok(Session {
                    user: to_user(u)?,
                    device_id,
                })
            })
            .transpose()
    }

    fn end_session(&self, token_hash: &str) -> Result<()> {
        self.conn()?
            .execute("DELETE FROM tokens WHERE hash = ?1", params![token_hash])?;
        Ok(())
    }

    fn push(&self, session: &Session, ops: &[Op], now: DateTime<Utc>) -> Result<Vec<OpResult>> {
        let mut conn = self.conn()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut results = Vec::with_capacity(ops.len());
        for op in ops {
            let op_id = op.op_id.to_string();
            // The op_id decides before any rule: a replay gets its first answer, unchanged.
            let first: Option<(String, Option<String>)> = tx
                .prepare_cached("SELECT status, reason FROM ops WHERE op_id = ?1")?
                .query_row(params![op_id], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?;
            if let Some((status, reason)) = first {
                let status = serde_json::from_value(Value::String(status))
                    .map_err(|e| StorageError::Database(e.to_string()))?;
                results.push(OpResult {
                    op_id: op.op_id,
                    status,
                    reason,
                });
                continue;
            }
            let id = op.id.to_string();
            let current = load(&tx, op.entity, &id)?;
            let outcome = if in_scope(&tx, &session.user, op, current.as_ref())? {
                decide(
                    op,
                    current.as_ref(),
                    session.user.role,
                    session.user.id,
                    now,
                )
            } else {
                Outcome::Answer(OpStatus::Quarantined, Some("not in your scope: the order is not assigned to you (kept for the dispatcher)".into()))
            };
            let outcome = match (outcome, op.transition) {
                (Outcome::Write(next), Some(t)) => {
                    match check_move(&next.row, t.to, &records_under(&tx, &id)?) {
                        Ok(()) => Outcome::Write(next),
                        Err(e) => {
                            Outcome::Answer(OpStatus::Rejected, Some(format!("not allowed: {e}")))
                        }
                    }
                }
                (outcome, _) => outcome,
            };
            let (status, reason) = match outcome {
                Outcome::Write(next) => {
                    write(&tx, op.entity, &id, &next)?;
                    (OpStatus::Applied, None)
                }
                Outcome::Answer(status, reason) => (status, reason),
            };
            let op_json =
                serde_json::to_string(op).map_err(|e| StorageError::Database(e.to_string()))?;
            tx.prepare_cached("INSERT INTO ops (op_id, user_id, device_id, op, status, reason, at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)")?.execute(params![
                op_id,
                session.user.id.to_string(),
                session.device_id,
                op_json,
                status.as_str(),
                reason,
                now.timestamp_millis()
            ])?;
            self.observe(op, now);
            results.push(OpResult {
                op_id: op.op_id,
                status,
                reason,
            });
        }
        tx.commit()?;
        Ok(results)
    }

    fn pull(&self, user: &User, cursor: i64, limit: usize) -> Result<PullPage> {
        let conn = self.conn()?;
        let limit_sql = i64::try_from(limit).unwrap_or(1000) + 1;
        let me = user.id.to_string();
        let everything = user.role != Role::Engineer;
        let sql = format!(
            "SELECT seq, entity, id, row, clocks, deleted FROM records WHERE seq > ?1 AND (?3 OR entity IN {REFERENCE}
               OR (entity = 'van_stock' AND owner_ref = ?2)
               OR work_order_id IN (SELECT work_order_id FROM assignments WHERE engineer_id = ?2)
               OR (entity = 'customer' AND id IN (SELECT w.customer_ref FROM records w JOIN assignments a ON a.work_order_id = w.id
                                                  WHERE w.entity = 'work_order' AND a.engineer_id = ?2))
               OR (entity = 'equipment' AND id IN (SELECT w.equipment_ref FROM records w JOIN assignments a ON a.work_order_id = w.id
                                                   WHERE w.entity = 'work_order' AND a.engineer_id = ?2)))
             ORDER BY seq LIMIT ?4"
        );
        let rows: Vec<(i64, String, String, String, String, bool)> = conn
            .prepare_cached(&sql)?
            .query_map(params![cursor, me, everything, limit_sql], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                ))
            })?
            .collect::<rusqlite::Result<_>>()?;
        let revokes: Vec<(i64, String)> = conn
            .prepare_cached("SELECT seq, work_order_id FROM revocations WHERE engineer_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3")?
            .query_map(params![me, cursor, limit_sql], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
        let mut changes = Vec::with_capacity(rows.len() + revokes.len());
        for (seq, entity, id, row, clocks, deleted) in rows {
            let entity: Entity = entity.parse()?;
            let id: Uuid = id
                .parse()
                .map_err(|e: uuid::Error| StorageError::Database(e.to_string()))?;
            if deleted {
                changes.push(Change {
                    seq,
                    entity,
                    id,
                    op: ChangeOp::Delete,
                    row: None,
                });
            } else {
                let mut row = parse_object(&row)?;
                row.insert(CLOCKS_KEY.into(), Value::Object(parse_object(&clocks)?));
                changes.push(Change {
                    seq,
                    entity,
                    id,
                    op: ChangeOp::Put,
                    row: Some(row),
                });
            }
        }
        for (seq, order) in revokes {
            let id: Uuid = order
                .parse()
                .map_err(|e: uuid::Error| StorageError::Database(e.to_string()))?;
            changes.push(Change {
                seq,
                entity: Entity::WorkOrder,
                id,
                op: ChangeOp::Revoke,
                row: None,
            });
        }
        changes.sort_by_key(|c| c.seq);
        let has_more = changes.len() > limit;
        changes.truncate(limit);
        let cursor = changes.last().map_or(cursor, |c| c.seq);
        Ok(PullPage {
            changes,
            cursor,
            has_more,
        })
    }

    fn admin_put(
        &self,
        entity: Entity,
        row: Map<String, Value>,
        now: DateTime<Utc>,
    ) -> Result<Uuid> {
        let stamp = self.stamp(now)?;
        let mut conn = self.conn()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let id = admin_put_in(&tx, entity, row, &stamp)?;
        tx.commit()?;
        Ok(id)
    }

    fn admin_put_many(
        &self,
        entity: Entity,
        rows: Vec<Map<String, Value>>,
        now: DateTime<Utc>,
    ) -> Result<usize> {
        let stamp = self.stamp(now)?;
        let mut conn = self.conn()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let n = rows.len();
        for row in rows {
            admin_put_in(&tx, entity, row, &stamp)?;
        }
        tx.commit()?;
        Ok(n)
    }

    fn assign(
        &self,
        work_order_id: Uuid,
        engineers: &[Uuid],
        manager: Option<Uuid>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let stamp = self.stamp(now)?;
        let mut conn = self.conn()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let order_id = work_order_id.to_string();
        let mut order = live_order(&tx, &order_id)?;
        for e in engineers {
            let role: Option<String> = tx
                .query_row(
                    "SELECT role FROM users WHERE id = ?1",
                    params![e.to_string()],
                    |r| r.get(0),
                )
                .optional()?;
            if role.as_deref() != Some("engineer") {
                return Err(onsite_domain::DomainError::Invalid {
                    field: "engineer_ids",
                    message: format!("{e} is not an engineer"),
                }
                .into());
            }
        }
        let before: Vec<String> = tx
            .prepare("SELECT engineer_id FROM assignments WHERE work_order_id = ?1")?
            .query_map(params![order_id], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        tx.execute(
            "DELETE FROM assignments WHERE work_order_id = ?1",
            params![order_id],
        )?;
        for e in engineers {
            tx.execute(
                "INSERT INTO assignments (work_order_id, engineer_id, manager) VALUES (?1, ?2, ?3)",
                params![order_id, e.to_string(), manager == Some(*e)],
            )?;
        }
        for gone in before
            .iter()
            .filter(|b| !engineers.iter().any(|e| e.to_string() == **b))
        {
            let seq = next_seq(&tx)?;
            tx.execute(
                "INSERT INTO revocations (seq, engineer_id, work_order_id) VALUES (?1, ?2, ?3)",
                params![seq, gone, order_id],
            )?;
        }
        let assignees: Vec<Value> = engineers.iter().map(|e| serde_json::json!({"engineer_id": e, "manager": manager == Some(*e) && engineers.len() > 1})).collect();
        let status = order
            .row
            .get("status")
            .and_then(Value::as_str)
            .and_then(|s| s.parse::<Status>().ok());
        let mut fields = Map::from_iter([("assignees".to_owned(), Value::Array(assignees))]);
        if status == Some(Status::New) && !engineers.is_empty() {
            fields.insert(
                "status".into(),
                Value::String(Status::Assigned.as_str().into()),
            );
        } else if status == Some(Status::Assigned) && engineers.is_empty() {
            fields.insert("status".into(), Value::String(Status::New.as_str().into()));
        }
        for (k, v) in fields {
            order.row.insert(k.clone(), v);
            order.clocks.insert(k, Value::String(stamp.clone()));
        }
        validate_row(Entity::WorkOrder, &order.row)?;
        write(&tx, Entity::WorkOrder, &order_id, &order)?;
        Self::resend_graph(&tx, &order_id)?;
        tx.commit()?;
        Ok(())
    }

    fn admin_transition(
        &self,
        work_order_id: Uuid,
        to: Status,
        role: Role,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let stamp = self.stamp(now)?;
        let mut conn = self.conn()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let order_id = work_order_id.to_string();
        let mut order = live_order(&tx, &order_id)?;
        let from: Status = order
            .row
            .get("status")
            .and_then(Value::as_str)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| {
                StorageError::Database(format!("work order {order_id} has no status"))
            })?;
        check_transition(from, to, role).map_err(|e| match e {
            onsite_domain::DomainError::TransitionNotAllowed { .. } => {
                StorageError::Conflict(e.to_string())
            }
            other => StorageError::Rule(other),
        })?;
        order
            .row
            .insert("status".into(), Value::String(to.as_str().into()));
        order.clocks.insert("status".into(), Value::String(stamp));
        write(&tx, Entity::WorkOrder, &order_id, &order)?;
        tx.commit()?;
        Ok(())
    }

    fn work_orders(&self, status: Option<Status>) -> Result<Vec<Map<String, Value>>> {
        let conn = self.conn()?;
        let rows: Vec<String> = conn
            .prepare("SELECT row FROM records WHERE entity = 'work_order' AND deleted = 0 AND (?1 IS NULL OR json_extract(row, '$.status') = ?1) ORDER BY seq DESC LIMIT 1000")?
            .query_map(params![status.map(Status::as_str)], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        rows.iter().map(|r| parse_object(r)).collect()
    }

    fn kept_ops(&self, status: &str) -> Result<Vec<KeptOp>> {
        let conn = self.conn()?;
        let rows: Vec<(String, String, String, String, Option<String>, i64)> = conn
            .prepare("SELECT op, user_id, device_id, status, reason, at FROM ops WHERE status = ?1 ORDER BY at DESC LIMIT 1000")?
            .query_map(params![status], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)))?
            .collect::<rusqlite::Result<_>>()?;
        rows.into_iter()
            .map(|(op, user_id, device_id, status, reason, at)| {
                Ok(KeptOp {
                    op: serde_json::from_str(&op)
                        .map_err(|e| StorageError::Database(e.to_string()))?,
                    user_id,
                    device_id,
                    status,
                    reason,
                    at: DateTime::from_timestamp_millis(at).unwrap_or_default(),
                })
            })
            .collect()
    }

    fn put_blob(&self, sha256: &str, bytes: &[u8], now: DateTime<Utc>) -> Result<bool> {
        let inserted = self.conn()?.execute(
            "INSERT INTO blobs (sha256, bytes, size, created_at) VALUES (?1, ?2, ?3, ?4) ON CONFLICT (sha256) DO NOTHING",
            params![sha256, bytes, i64::try_from(bytes.len()).unwrap_or(i64::MAX), now.timestamp_millis()],
        )?;
        Ok(inserted == 1)
    }

    fn blob(&self, sha256: &str, user: &User, with_bytes: bool) -> Result<Option<Vec<u8>>> {
        let conn = self.conn()?;
        let visible: bool = if user.role == Role::Engineer {
            conn.query_row(
                "SELECT EXISTS (SELECT 1 FROM blob_refs r JOIN assignments a ON a.work_order_id = r.work_order_id
                 WHERE r.sha256 = ?1 AND a.engineer_id = ?2)",
                params![sha256, user.id.to_string()],
                |r| r.get(0),
            )?
        } else {
            true
        };
        if !visible {
            return Ok(None);
        }
        let sql = if with_bytes {
            "SELECT bytes FROM blobs WHERE sha256 = ?1"
        } else {
            "SELECT x'' FROM blobs WHERE sha256 = ?1"
        };
        Ok(conn
            .query_row(sql, params![sha256], |r| r.get::<_, Vec<u8>>(0))
            .optional()?)
    }

    fn lease_numbers(
        &self,
        department: &Department,
        local_date: NaiveDate,
        count: u32,
        width: u8,
    ) -> Result<Vec<String>> {
        let period = Period::of(local_date);
        let key = format!("{:04}-{:02}", period.year, period.month);
        let mut conn = self.conn()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let last: i64 = tx
            .query_row(
                "SELECT last FROM number_sequences WHERE department = ?1 AND period = ?2",
                params![department.as_str(), key],
                |r| r.get(0),
            )
            .optional()?
            .unwrap_or(0);
        let numbers = next_block(
            department,
            period,
            u32::try_from(last).unwrap_or(u32::MAX),
            count,
            width,
        )?;
        tx.execute(
            "INSERT INTO number_sequences (department, period, last) VALUES (?1, ?2, ?3)
             ON CONFLICT (department, period) DO UPDATE SET last = excluded.last",
            params![department.as_str(), key, last + i64::from(count)],
        )?;
        tx.commit()?;
        Ok(numbers)
    }
}
