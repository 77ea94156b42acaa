//! The embedded SQLite storage (the default): one file, zero setup.
//!
//! One connection behind a mutex: SQLite serialises writers anyway, and the change-log
//! counter is taken inside each write transaction, so positions follow commit order.

use std::path::Path;
use std::sync::Mutex;

use chrono::{DateTime, NaiveDate, Utc};
use onsite_domain::hlc::{Hlc, HlcClock};
use onsite_domain::numbering::{Department, Period, next_block};
use onsite_domain::protocol::{
    CLOCKS_KEY, DEFAULT_CLOCK_KEY, Entity, Op, OpResult, OpStatus, Transition,
};
use onsite_domain::records::User;
use onsite_domain::rows::validate_row;
use onsite_domain::work_order::check_transition;
use onsite_domain::{DomainError, Role, Status};
use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::push::{Context, Current, Outcome, decide, order_of};
use crate::storage::{
    AccountChange, KeptOp, NewUser, PieceOutcome, PullPage, Result, Session, Storage, StorageError,
    UploadState,
};

const MIGRATIONS: &[&str] = &[
    include_str!("../migrations/0001_init.sql"),
    include_str!("../migrations/0002_blobs.sql"),
    include_str!("../migrations/0003_scope_indexes.sql"),
    include_str!("../migrations/0004_blob_uploads.sql"),
    include_str!("../migrations/0005_snapshot_order.sql"),
    include_str!("../migrations/0006_pull_by_order.sql"),
    include_str!("../migrations/0007_authority.sql"),
    include_str!("../migrations/0008_accounts.sql"),
    include_str!("../migrations/0009_epoch.sql"),
    include_str!("../migrations/0010_generation.sql"),
];

/// How long an upload in pieces may stay unfinished and untouched before it is dropped.
pub const UPLOAD_EXPIRY: chrono::TimeDelta = chrono::TimeDelta::days(14);

/// The reference data every engineer pulls.
macro_rules! reference {
    () => {
        "('part', 'checklist_template', 'fault_levels', 'fee_schedule', 'company')"
    };
}
const REFERENCE: &str = reference!();

#[derive(Debug)]
pub struct SqliteStorage {
    /// The one writer: SQLite runs one write transaction at a time anyway. A fair lock:
    /// under load the writers queue in arrival order instead of the last comer often
    /// barging ahead, which left some engineers waiting several times longer than most.
    conn: parking_lot::FairMutex<Connection>,
    /// Readers (pulls, sessions, blobs), each on a connection of its own: with WAL they
    /// read the last commit while the writer writes, instead of queueing behind it.
    readers: Mutex<Vec<Connection>>,
    path: std::path::PathBuf,
    clock: Mutex<HlcClock>,
    /// The identity of this database's history (`server_identity`), read at open.
    epoch: String,
    /// The newest write count (`server_identity.generation`) written to the high-water file.
    high_water: std::sync::atomic::AtomicI64,
    /// Digits of a record number's monthly sequence (`serve --number-width`).
    number_width: std::sync::atomic::AtomicU8,
}

/// `<db>.high-water`: this database's epoch and the newest change-log position it
/// reached, beside the database. A database found behind its high-water mark at open was
/// restored from a backup.
fn high_water_path(db: &Path) -> std::path::PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push(".high-water");
    std::path::PathBuf::from(name)
}

/// Overwritten in place, at a fixed length: a full disk still lets a write that fits in
/// room SQLite already holds commit, and the mark of that write must not need a new
/// block (a file written beside and renamed would: the mark would stay behind and a later
/// restore go unseen). The parse reads words, so the padding does not matter.
fn write_high_water(db: &Path, epoch: &str, generation: i64) {
    use std::io::{Seek, Write};
    let mut mark = format!("{HIGH_WATER_FORMAT} {epoch} {generation}");
    while mark.len() < HIGH_WATER_LEN - 1 {
        mark.push(' ');
    }
    mark.push('\n');
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(high_water_path(db))
        .and_then(|mut f| {
            f.seek(std::io::SeekFrom::Start(0))?;
            f.write_all(mark.as_bytes())?;
            // A mark of an earlier version may have been longer.
            f.set_len(mark.len() as u64)
        });
    if let Err(e) = written {
        tracing::warn!(error = %e, "could not write the high-water file beside the database");
    }
}

/// The length of the high-water file: room for the format word, an epoch and any count.
const HIGH_WATER_LEN: usize = 64;

/// The first word of the high-water file: the marks of earlier versions (a change-log
/// position, not a write count) are not compared, only replaced.
const HIGH_WATER_FORMAT: &str = "generation";

/// The write transactions committed so far (`server_identity.generation`).
fn generation(conn: &Connection) -> Result<i64> {
    Ok(conn.query_row(
        "SELECT generation FROM server_identity WHERE id = 1",
        [],
        |r| r.get(0),
    )?)
}

/// Gives the database a new epoch: every laptop syncs again from scratch and sends again
/// what it had sent since the backup was taken. Every session ends too: the backup holds
/// tokens that were ended after it was taken (a lost laptop's, a person who left), and
/// nothing tells them apart, so everyone signs in again (the laptops keep their work).
pub fn new_epoch(conn: &Connection) -> Result<String> {
    let epoch: String = conn.query_row(
        "UPDATE server_identity SET epoch = lower(hex(randomblob(8))) WHERE id = 1 RETURNING epoch",
        [],
        |r| r.get(0),
    )?;
    let ended = conn.execute("DELETE FROM tokens", [])?;
    tracing::warn!(
        ended,
        "restored from a backup: every session ended, everyone signs in again; account changes made since the backup (disabled users, new passwords) are undone: make them again"
    );
    Ok(epoch)
}

/// The epoch of the database, new if it was found behind its high-water mark (restored
/// from an older copy), and the high-water mark written again.
fn epoch_at_open(conn: &Connection, db: &Path) -> Result<(String, i64)> {
    let mut epoch: String =
        conn.query_row("SELECT epoch FROM server_identity WHERE id = 1", [], |r| {
            r.get(0)
        })?;
    let written = generation(conn)?;
    let mark = std::fs::read_to_string(high_water_path(db)).ok();
    let reached = mark.as_deref().and_then(|m| {
        let mut words = m.split_whitespace();
        if words.next()? != HIGH_WATER_FORMAT {
            return None;
        }
        Some((words.next()?.to_owned(), words.next()?.parse::<i64>().ok()?))
    });
    if let Some((e, g)) = reached
        && e == epoch
        && written < g
    {
        epoch = new_epoch(conn)?;
        tracing::warn!(
            written,
            reached = g,
            epoch,
            "the database is behind what this server had written: it was restored from a backup; laptops will sync again and send again what it lacks"
        );
    }
    write_high_water(db, &epoch, written);
    Ok((epoch, written))
}

/// Idle reader connections kept open: one per storage call that may run at once, plus a
/// few for snapshots (which stream outside that limit). Opening one costs a schema read
/// and a fresh memory map, and closing it an unmap: under load, reopening per query took
/// a fifth of the server's time.
const IDLE_READERS: usize = crate::storage::CONCURRENT_CALLS + 4;

/// Prepared statements kept per connection. The default of 16 is fewer than the
/// statements a reader runs (session, pull by either road, revocations, snapshot, blobs,
/// order screens), so under load they pushed each other out and were parsed again.
const STATEMENTS_KEPT: usize = 64;

/// A reader connection lent from the pool, returned when dropped.
struct Reader<'a> {
    conn: Option<Connection>,
    pool: &'a Mutex<Vec<Connection>>,
}

impl std::ops::Deref for Reader<'_> {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        // Taken out only by `drop`.
        self.conn
            .as_ref()
            .expect("a lent reader holds its connection")
    }
}

impl Drop for Reader<'_> {
    fn drop(&mut self) {
        if let (Some(conn), Ok(mut pool)) = (self.conn.take(), self.pool.lock())
            && pool.len() < IDLE_READERS
        {
            pool.push(conn);
        }
    }
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
    #[cfg(feature = "test-hooks")]
    if let Some(seq) = hooks::skewed_seq(tx)? {
        return Ok(seq);
    }
    Ok(tx
        .prepare_cached("UPDATE change_counter SET value = value + 1 WHERE id = 1 RETURNING value")?
        .query_row([], |r| r.get(0))?)
}

/// Faults a test can switch on, compiled only with the `test-hooks` feature (never in the
/// server binary's release build).
#[cfg(feature = "test-hooks")]
mod hooks {
    use std::sync::atomic::{AtomicBool, Ordering};

    use rusqlite::{OptionalExtension, Transaction};

    use super::Result;

    /// Set once any database of this process has the skew switched on: until then the
    /// hook costs nothing.
    pub(super) static SKEW_ANYWHERE: AtomicBool = AtomicBool::new(false);
    /// Set once any database of this process was made to look full.
    pub(super) static DISK_ANYWHERE: AtomicBool = AtomicBool::new(false);

    /// A full disk, as `SqliteStorage::disk_full` asked: the writer may not grow the file.
    pub(super) fn limit_growth(conn: &rusqlite::Connection) -> Result<()> {
        if !DISK_ANYWHERE.load(Ordering::SeqCst) {
            return Ok(());
        }
        let full: bool = conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'test_hook_disk_full')",
            [],
            |r| r.get(0),
        )?;
        let pages: i64 = if full {
            conn.query_row("PRAGMA page_count", [], |r| r.get(0))?
        } else {
            1_073_741_823
        };
        conn.query_row(&format!("PRAGMA max_page_count = {pages}"), [], |_| Ok(()))?;
        Ok(())
    }

    /// The PostgreSQL pitfall of PROTOCOL.md, made to happen on SQLite: change-log
    /// positions not taken in commit order. A writer takes two positions, uses the higher
    /// and leaves the lower for the next writer, which commits after it: a puller in
    /// between moves its cursor past a position that is still to come.
    pub(super) fn skewed_seq(tx: &Transaction<'_>) -> Result<Option<i64>> {
        if !SKEW_ANYWHERE.load(Ordering::SeqCst) {
            return Ok(None);
        }
        let on: bool = tx.query_row(
            "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'test_hook_skew')",
            [],
            |r| r.get(0),
        )?;
        if !on {
            return Ok(None);
        }
        if let Some(held) = tx
            .query_row("DELETE FROM test_hook_skew RETURNING held", [], |r| {
                r.get(0)
            })
            .optional()?
        {
            return Ok(Some(held));
        }
        let top: i64 = tx.query_row(
            "UPDATE change_counter SET value = value + 2 WHERE id = 1 RETURNING value",
            [],
            |r| r.get(0),
        )?;
        tx.execute("INSERT INTO test_hook_skew (held) VALUES (?1)", [top - 1])?;
        Ok(Some(top))
    }
}

#[cfg(feature = "test-hooks")]
impl SqliteStorage {
    /// Test hook: the disk is full (`true`) or has room again (`false`) for this
    /// database's pushes: the writer may not grow the file past its size now, so SQLite
    /// itself answers "database or disk is full".
    pub fn disk_full(&self, full: bool) -> Result<()> {
        let conn = self.conn()?;
        if full {
            conn.execute_batch("CREATE TABLE IF NOT EXISTS test_hook_disk_full (x INTEGER)")?;
        } else {
            conn.execute_batch("DROP TABLE IF EXISTS test_hook_disk_full")?;
        }
        hooks::DISK_ANYWHERE.store(true, std::sync::atomic::Ordering::SeqCst);
        Ok(())
    }

    /// Test hook: from now on this database numbers changes out of commit order (see
    /// `hooks::skewed_seq`), so that a test can show its check would catch that.
    pub fn number_changes_out_of_commit_order(&self) -> Result<()> {
        self.conn()?
            .execute_batch("CREATE TABLE IF NOT EXISTS test_hook_skew (held INTEGER NOT NULL)")?;
        hooks::SKEW_ANYWHERE.store(true, std::sync::atomic::Ordering::SeqCst);
        Ok(())
    }
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
    // Only records under an order carry its id: a pull relies on it (`pull_by_orders`).
    let work_order_id = if entity == Entity::WorkOrder {
        Some(id.to_owned())
    } else if entity.is_under_work_order() {
        c.work_order_id.clone()
    } else {
        None
    };
    tx.prepare_cached(
        "INSERT INTO records (entity, id, work_order_id, customer_ref, equipment_ref, owner_ref, row, clocks, deleted, seq)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
         ON CONFLICT (entity, id) DO UPDATE SET work_order_id = excluded.work_order_id, customer_ref = excluded.customer_ref,
           equipment_ref = excluded.equipment_ref, owner_ref = excluded.owner_ref, row = excluded.row, clocks = excluded.clocks,
           deleted = excluded.deleted, seq = excluded.seq",
    )?
    .execute(params![entity.as_str(), id, work_order_id, customer_ref, equipment_ref, owner_ref, to_json(&c.row), to_json(&c.clocks), c.deleted, seq])?;
    for sha in blobs_of(entity, &c.row) {
        tx.prepare_cached("INSERT INTO blob_refs (sha256, entity, id, work_order_id) VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING")?
            .execute(params![sha, entity.as_str(), id, work_order_id])?;
    }
    Ok(seq)
}

/// A part used from the van comes off the engineer's van stock here, in the push that
/// brings it (a correction gives back what the usage it voids took:
/// `PartUsage::van_stock_changes`, the rule the laptop counts by until then), so the
/// count the laptop pulls next already has it off. A part with no line in the van changes
/// no count.
fn take_from_van(
    tx: &Transaction<'_>,
    engineer: Uuid,
    usage: &Map<String, Value>,
    stamp: &str,
) -> Result<()> {
    use onsite_domain::records::PartUsage;
    let read = |row: Map<String, Value>| -> Result<PartUsage> {
        serde_json::from_value(Value::Object(row))
            .map_err(|e| StorageError::Database(format!("a stored part usage: {e}")))
    };
    let usage = read(usage.clone())?;
    let voided = match usage.voids {
        Some(v) => load(tx, Entity::PartUsage, &v.to_string())?
            .map(|c| read(c.row))
            .transpose()?,
        None => None,
    };
    for (part, change) in usage.van_stock_changes(voided.as_ref()) {
        let line: Option<String> = tx
            .prepare_cached(
                "SELECT id FROM records WHERE entity = 'van_stock' AND owner_ref = ?1 AND deleted = 0
                   AND json_extract(row, '$.part_id') = ?2 LIMIT 1",
            )?
            .query_row(params![engineer.to_string(), part.to_string()], |r| {
                r.get(0)
            })
            .optional()?;
        let Some(line) = line else { continue };
        let Some(mut stock) = load(tx, Entity::VanStock, &line)? else {
            continue;
        };
        let counted = stock
            .row
            .get("quantity")
            .and_then(Value::as_i64)
            .unwrap_or(0);
        stock
            .row
            .insert("quantity".into(), Value::from(counted + change));
        stock.clocks.insert(
            DEFAULT_CLOCK_KEY.to_owned(),
            Value::String(stamp.to_owned()),
        );
        write(tx, Entity::VanStock, &line, &stock)?;
    }
    Ok(())
}

/// A live record as its type, `None` when it is not here (or does not read back).
fn load_typed<T: serde::de::DeserializeOwned>(
    tx: &Transaction<'_>,
    entity: Entity,
    id: Uuid,
) -> Result<Option<T>> {
    Ok(load(tx, entity, &id.to_string())?
        .filter(|c| !c.deleted)
        .and_then(|c| serde_json::from_value::<T>(Value::Object(c.row)).ok()))
}

/// The newest fee schedule the office published.
fn fee_schedule(tx: &Transaction<'_>) -> Result<Option<onsite_domain::fees::FeeSchedule>> {
    let rows: Vec<String> = tx
        .prepare_cached("SELECT row FROM records WHERE entity = 'fee_schedule' AND deleted = 0")?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(rows
        .iter()
        .filter_map(|r| serde_json::from_str::<onsite_domain::fees::FeeSchedule>(r).ok())
        .max_by_key(|s| s.version))
}

/// What the server checks of a record an engineer appends beyond the authority table,
/// against what it holds (the domain decides; this only loads):
/// - a warehouse receipt names an old part of the same order that goes to the warehouse
///   and books nothing (`WarehouseReceipt::check_engineers`);
/// - a quote is priced by the schedule and catalogue, and an approval is the customer's
///   signature of exactly that quote (`Quote::check_engineers`): refused otherwise;
/// - a settlement settles the order's latest quote, approved, line for line
///   (`Settlement::check_against`): a conflict otherwise, for the engineer to settle
///   again.
fn engineers_record(
    tx: &Transaction<'_>,
    role: Role,
    entity: Entity,
    row: &Map<String, Value>,
    now: DateTime<Utc>,
) -> Result<std::result::Result<(), (OpStatus, String)>> {
    use onsite_domain::fees::{Approval, Quote, QuoteState, Settlement};
    use onsite_domain::records::{Part, PartUsage, WarehouseReceipt};
    use onsite_domain::signature::Signature;
    if role != Role::Engineer {
        return Ok(Ok(()));
    }
    let read = |what: &str| {
        let what = what.to_owned();
        move |e: serde_json::Error| StorageError::Database(format!("{what}: {e}"))
    };
    let refused = |e: DomainError| (OpStatus::Rejected, format!("invalid: {e}"));
    match entity {
        Entity::WarehouseReceipt => {
            let receipt: WarehouseReceipt = serde_json::from_value(Value::Object(row.clone()))
                .map_err(read("a warehouse receipt"))?;
            let usage = load_typed::<PartUsage>(tx, Entity::PartUsage, receipt.part_usage_id)?;
            Ok(receipt
                .check_engineers(usage.as_ref(), now)
                .map_err(refused))
        }
        Entity::Quote => {
            let quote: Quote =
                serde_json::from_value(Value::Object(row.clone())).map_err(read("a quote"))?;
            let superseded = match quote.supersedes {
                Some(id) => load_typed::<Quote>(tx, Entity::Quote, id)?,
                None => None,
            };
            let signature = match &quote.state {
                QuoteState::Approved {
                    approval: Approval::Signature { signature_id },
                } => load_typed::<Signature>(tx, Entity::Signature, *signature_id)?,
                _ => None,
            };
            let mut catalogue = Vec::new();
            for id in quote.items.iter().filter_map(|i| i.part_id) {
                if let Some(part) = load_typed::<Part>(tx, Entity::Part, id)? {
                    catalogue.push(part);
                }
            }
            let schedule = fee_schedule(tx)?;
            Ok(quote
                .check_engineers(
                    superseded.as_ref(),
                    signature.as_ref(),
                    schedule.as_ref(),
                    &catalogue,
                )
                .map_err(refused))
        }
        Entity::Settlement => {
            let settlement: Settlement =
                serde_json::from_value(Value::Object(row.clone())).map_err(read("a settlement"))?;
            let quotes: Vec<Quote> = records_under(tx, &settlement.work_order_id.to_string())?
                .into_iter()
                .filter(|(e, _)| *e == Entity::Quote)
                .filter_map(|(_, r)| serde_json::from_value(Value::Object(r)).ok())
                .collect();
            Ok(settlement.check_against(&quotes).map_err(|e| {
                (
                    OpStatus::Conflict,
                    format!("conflict: {e} (the quote on the server is not the one this settlement settles): settle again from the approved quote"),
                )
            }))
        }
        _ => Ok(Ok(())),
    }
}

/// 首问负责: a new request pushed from a laptop becomes a new work order for the office, in
/// the same transaction (`ServiceRequest::new_order`, numbered in its department's
/// sequence); the request is stored with the order's id and number.
fn register_request(
    tx: &Transaction<'_>,
    user: &User,
    mut request: Current,
    note: Option<String>,
    now: DateTime<Utc>,
    stamp: &str,
    width: u8,
) -> Result<Outcome> {
    use onsite_domain::records::{Equipment, ServiceRequest};
    use onsite_domain::work_order::WorkOrder;
    let refuse =
        |e: DomainError| Outcome::Answer(OpStatus::Rejected, Some(format!("invalid: {e}")));
    let asked: ServiceRequest = serde_json::from_value(Value::Object(request.row.clone()))
        .map_err(|e| StorageError::Database(format!("a service request: {e}")))?;
    if user.role == Role::Engineer
        && let Err(e) = asked.check_engineers()
    {
        return Ok(refuse(e));
    }
    let Some(parent) =
        load(tx, Entity::WorkOrder, &asked.work_order_id.to_string())?.filter(|o| !o.deleted)
    else {
        return Ok(Outcome::Answer(
            OpStatus::Rejected,
            Some(format!(
                "not allowed: no work order {}",
                asked.work_order_id
            )),
        ));
    };
    let parent: WorkOrder = serde_json::from_value(Value::Object(parent.row))
        .map_err(|e| StorageError::Database(format!("a stored work order: {e}")))?;
    let equipment = match asked.equipment_id {
        Some(id) => load(tx, Entity::Equipment, &id.to_string())?
            .filter(|c| !c.deleted)
            .and_then(|c| serde_json::from_value::<Equipment>(Value::Object(c.row)).ok()),
        None => None,
    };
    let department: Department = parent.department.parse()?;
    let number = lease_in(
        tx,
        &department,
        onsite_domain::numbering::numbering_date(now),
        1,
        width,
    )?
    .into_iter()
    .next()
    .unwrap_or_default();
    let order = match asked.new_order(
        Uuid::now_v7(),
        &parent,
        equipment.as_ref(),
        number,
        &user.name,
        now,
    ) {
        Ok(o) => o,
        Err(e) => return Ok(refuse(e)),
    };
    let Value::Object(row) = serde_json::to_value(&order)
        .map_err(|e| StorageError::Database(format!("a new work order: {e}")))?
    else {
        return Err(StorageError::Database(
            "a work order is not an object".into(),
        ));
    };
    admin_put_in(tx, Entity::WorkOrder, row, stamp)?;
    request.row.insert(
        "created_order_id".into(),
        Value::String(order.id.to_string()),
    );
    request
        .row
        .insert("created_order_number".into(), Value::String(order.number));
    Ok(Outcome::Write(request, note))
}

/// The next `count` numbers of `department`'s sequence for the month of `local_date`,
/// inside `tx`.
fn lease_in(
    tx: &Transaction<'_>,
    department: &Department,
    local_date: NaiveDate,
    count: u32,
    width: u8,
) -> Result<Vec<String>> {
    lease_series(
        tx,
        onsite_domain::numbering::Series::Order,
        department,
        local_date,
        count,
        width,
    )
}

/// The next `count` numbers of `department`'s `series` for the month of `local_date`.
fn lease_series(
    tx: &Transaction<'_>,
    series: onsite_domain::numbering::Series,
    department: &Department,
    local_date: NaiveDate,
    count: u32,
    width: u8,
) -> Result<Vec<String>> {
    let period = Period::of(local_date);
    let key = series.key(period);
    let last: i64 = tx
        .prepare_cached("SELECT last FROM number_sequences WHERE department = ?1 AND period = ?2")?
        .query_row(params![department.as_str(), key], |r| r.get(0))
        .optional()?
        .unwrap_or(0);
    let numbers = next_block(
        department,
        period,
        u32::try_from(last).unwrap_or(u32::MAX),
        count,
        width,
    )?;
    tx.prepare_cached(
        "INSERT INTO number_sequences (department, period, last) VALUES (?1, ?2, ?3)
         ON CONFLICT (department, period) DO UPDATE SET last = excluded.last",
    )?
    .execute(params![department.as_str(), key, last + i64::from(count)])?;
    Ok(numbers)
}

/// The callbacks 回访 an order gets when it moves to `to` (completed, resolved remotely,
/// closed): `records::callbacks_due` for its terms and equipment, written under it in the
/// same transaction as the move, so that the office sees them with the order's new status.
fn schedule_callbacks(
    tx: &Transaction<'_>,
    order_id: &str,
    to: Status,
    now: DateTime<Utc>,
    stamp: &str,
) -> Result<()> {
    use onsite_domain::records::{CallbackFrom, Equipment, FollowUp, callbacks_due};
    let Some(at) = CallbackFrom::of_move(to) else {
        return Ok(());
    };
    let order: onsite_domain::WorkOrder =
        serde_json::from_value(Value::Object(live_order(tx, order_id)?.row))
            .map_err(|e| StorageError::Database(format!("a stored work order: {e}")))?;
    let equipment = match order.equipment_id {
        Some(e) => load(tx, Entity::Equipment, &e.to_string())?
            .filter(|c| !c.deleted)
            .and_then(|c| serde_json::from_value::<Equipment>(Value::Object(c.row)).ok()),
        None => None,
    };
    let existing: Vec<FollowUp> = records_under(tx, order_id)?
        .into_iter()
        .filter(|(e, _)| *e == Entity::FollowUp)
        .filter_map(|(_, row)| serde_json::from_value(Value::Object(row)).ok())
        .collect();
    for callback in callbacks_due(&order, equipment.as_ref(), at, now, &existing, Uuid::now_v7) {
        let Value::Object(row) = serde_json::to_value(&callback)
            .map_err(|e| StorageError::Database(format!("a callback: {e}")))?
        else {
            continue;
        };
        admin_put_in(tx, Entity::FollowUp, row, stamp)?;
    }
    Ok(())
}

/// The 外出服务记录表 number of an order the engineer completed or resolved remotely: the
/// next of the service department's series (the engineer's department, else the
/// order's), written on the order in the same transaction as the move, once. A month whose
/// sequence is full leaves the order without one (its form stays provisional) and says so
/// in the log: the move is applied all the same, the sync goes on.
fn number_service_record(
    tx: &Transaction<'_>,
    order_id: &str,
    to: Status,
    user: &User,
    width: u8,
    now: DateTime<Utc>,
    stamp: &str,
) -> Result<()> {
    if !matches!(to, Status::Completed | Status::Remote) {
        return Ok(());
    }
    let mut order = live_order(tx, order_id)?;
    if order
        .row
        .get("service_record_number")
        .is_some_and(|n| !n.is_null())
    {
        return Ok(());
    }
    let department = user
        .department
        .clone()
        .or_else(|| {
            order
                .row
                .get("department")
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
        .unwrap_or_default();
    let Ok(department) = department.parse::<Department>() else {
        tracing::warn!(
            order = order_id,
            "no service department to number the field service record with"
        );
        return Ok(());
    };
    give_service_number(
        tx,
        order_id,
        &mut order,
        &department,
        onsite_domain::numbering::numbering_date(now),
        width,
        stamp,
    )?;
    Ok(())
}

/// Takes the next number of `department`'s field service series for the month of
/// `made_on` and writes it on `order`; a full month writes instead that the order waits
/// for a wider sequence (`WorkOrder::service_record_waiting`). True when numbered.
fn give_service_number(
    tx: &Transaction<'_>,
    order_id: &str,
    order: &mut Current,
    department: &Department,
    made_on: NaiveDate,
    width: u8,
    stamp: &str,
) -> Result<bool> {
    let (field, value) = match lease_series(
        tx,
        onsite_domain::numbering::Series::FieldService,
        department,
        made_on,
        1,
        width,
    ) {
        Ok(n) => (
            "service_record_number",
            n.into_iter().next().map_or(Value::Null, Value::String),
        ),
        Err(StorageError::Rule(DomainError::NumbersExhausted { max, .. })) => {
            tracing::warn!(order = order_id, %department, max, "the month's field service records are numbered up to {max}: the order waits for a wider sequence (serve --number-width)");
            let waiting = onsite_domain::numbering::Waiting {
                department: department.clone(),
                made_on,
                max,
            };
            (
                "service_record_waiting",
                serde_json::to_value(&waiting)
                    .map_err(|e| StorageError::Database(e.to_string()))?,
            )
        }
        Err(e) => return Err(e),
    };
    let numbered = field == "service_record_number" && !value.is_null();
    order.row.insert(field.into(), value);
    order
        .clocks
        .insert(field.into(), Value::String(stamp.to_owned()));
    if numbered {
        order
            .row
            .insert("service_record_waiting".into(), Value::Null);
        order.clocks.insert(
            "service_record_waiting".into(),
            Value::String(stamp.to_owned()),
        );
    }
    write(tx, Entity::WorkOrder, order_id, order)?;
    Ok(numbered)
}

/// A work order that exists and is not deleted, or `NotFound`.
fn live_order(tx: &Transaction<'_>, order_id: &str) -> Result<Current> {
    load(tx, Entity::WorkOrder, order_id)?
        .filter(|o| !o.deleted)
        .ok_or_else(|| StorageError::NotFound(format!("no work order {order_id}")))
}

/// Gives an order with no checklist yet the items of its template
/// (`ChecklistTemplate::pick` by service type and equipment model, then
/// `ChecklistItem::from_template`), when it is created or assigned. An order that has
/// items keeps them: a newer template version applies to orders that start later.
fn instantiate_checklist(tx: &Transaction<'_>, order_id: &str, stamp: &str) -> Result<()> {
    use onsite_domain::checklist::{ChecklistItem, ChecklistTemplate};
    let has_items: bool = tx
        .prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM records WHERE work_order_id = ?1 AND entity = 'checklist_item')",
        )?
        .query_row(params![order_id], |r| r.get(0))?;
    if has_items {
        return Ok(());
    }
    let order = live_order(tx, order_id)?;
    let Some(service) = order
        .row
        .get("service_type")
        .cloned()
        .and_then(|v| serde_json::from_value(v).ok())
    else {
        return Ok(());
    };
    let model = match order.row.get("equipment_id").and_then(Value::as_str) {
        Some(e) => load(tx, Entity::Equipment, e)?
            .filter(|e| !e.deleted)
            .and_then(|e| {
                e.row
                    .get("model")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            }),
        None => None,
    };
    let rows: Vec<String> = tx
        .prepare_cached(
            "SELECT row FROM records WHERE entity = 'checklist_template' AND deleted = 0",
        )?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    let templates = rows
        .iter()
        .map(|r| serde_json::from_str::<ChecklistTemplate>(r))
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| StorageError::Database(format!("a stored checklist template: {e}")))?;
    let Some(template) = ChecklistTemplate::pick(&templates, service, model.as_deref()) else {
        return Ok(());
    };
    let order_uuid: Uuid = order_id
        .parse()
        .map_err(|_| StorageError::Database(format!("work order id {order_id:?}")))?;
    for item in ChecklistItem::from_template(template, order_uuid, Uuid::now_v7) {
        let row = match serde_json::to_value(&item) {
            Ok(Value::Object(row)) => row,
            _ => return Err(StorageError::Database("a checklist item as JSON".into())),
        };
        admin_put_in(tx, Entity::ChecklistItem, row, stamp)?;
    }
    Ok(())
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

/// The domain's rules of a move (`completion::check_move`) against what the server holds
/// under the order; `order_row` is the order as it will be after the move.
fn check_move_on(
    tx: &Transaction<'_>,
    order_row: &Map<String, Value>,
    to: Status,
    order_id: &str,
) -> Result<std::result::Result<(), onsite_domain::DomainError>> {
    use onsite_domain::completion::{UnderOrder, check_move, move_reads_records};
    let order = match <onsite_domain::WorkOrder as serde::Deserialize>::deserialize(order_row) {
        Ok(o) => o,
        Err(e) => {
            return Ok(Err(onsite_domain::DomainError::Invalid {
                field: "record",
                message: e.to_string(),
            }));
        }
    };
    let under = if move_reads_records(to) {
        let rows = records_under(tx, order_id)?;
        match UnderOrder::from_rows(rows.iter().map(|(e, r)| (*e, r))) {
            Ok(u) => u,
            Err(e) => return Ok(Err(e)),
        }
    } else {
        UnderOrder::default()
    };
    Ok(check_move(&order, to, &under))
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

/// The status of the work order an operation's record belongs to (`None` for customers,
/// equipment, and records whose order is not here).
fn order_status(
    tx: &Transaction<'_>,
    op: &Op,
    current: Option<&Current>,
) -> Result<Option<Status>> {
    if matches!(op.entity, Entity::Customer | Entity::Equipment) {
        return Ok(None);
    }
    let Some(order) = order_of(op, current) else {
        return Ok(None);
    };
    Ok(load(tx, Entity::WorkOrder, &order)?.and_then(|o| {
        o.row
            .get("status")
            .and_then(Value::as_str)
            .and_then(|s| s.parse().ok())
    }))
}

/// The files (SHA-256) a record refers to: its `sha256`, a milestone's photos.
fn blobs_of(entity: Entity, row: &Map<String, Value>) -> Vec<&str> {
    let mut blobs: Vec<&str> = row
        .get("sha256")
        .and_then(Value::as_str)
        .into_iter()
        .collect();
    if entity == Entity::Milestone {
        blobs.extend(
            row.get("photos")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str),
        );
    }
    blobs
}

/// A file a record of an engineer's refers to that they may not refer to: one the server
/// holds that they neither sent nor already see on one of their orders. (A file the server
/// does not hold yet may be named: its record can arrive before its bytes, and whoever
/// sends the bytes proves they have them.)
fn foreign_blob(
    tx: &Transaction<'_>,
    user: &User,
    entity: Entity,
    row: &Map<String, Value>,
) -> Result<Option<String>> {
    if user.role != Role::Engineer {
        return Ok(None);
    }
    let me = user.id.to_string();
    for sha in blobs_of(entity, row) {
        let allowed: bool = tx
            .prepare_cached(
                "SELECT NOT EXISTS (SELECT 1 FROM blobs WHERE sha256 = ?1)
                     OR EXISTS (SELECT 1 FROM blob_owners WHERE sha256 = ?1 AND user_id = ?2)
                     OR EXISTS (SELECT 1 FROM blob_refs r JOIN assignments a ON a.work_order_id = r.work_order_id
                                WHERE r.sha256 = ?1 AND a.engineer_id = ?2)",
            )?
            .query_row(params![sha, me], |r| r.get(0))?;
        if !allowed {
            return Ok(Some(sha.to_owned()));
        }
    }
    Ok(None)
}

/// Notes that `user` sent the bytes of `sha256`.
fn own_blob(tx: &Transaction<'_>, sha256: &str, user: Uuid) -> Result<()> {
    tx.prepare_cached(
        "INSERT INTO blob_owners (sha256, user_id) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
    )?
    .execute(params![sha256, user.to_string()])?;
    Ok(())
}

/// The customer and the equipment an order points to: (entity, column, id).
fn owners_of(
    tx: &Transaction<'_>,
    order_id: &str,
) -> Result<Vec<(&'static str, &'static str, String)>> {
    let mut owners = Vec::new();
    for (entity, column) in [("customer", "customer_ref"), ("equipment", "equipment_ref")] {
        let owner: Option<String> = tx
            .prepare_cached(&format!(
                "SELECT {column} FROM records WHERE entity = 'work_order' AND id = ?1"
            ))?
            .query_row(params![order_id], |r| r.get(0))
            .optional()?
            .flatten();
        if let Some(owner) = owner {
            owners.push((entity, column, owner));
        }
    }
    Ok(owners)
}

/// Whether `engineer` has the customer or equipment `owner` through an order other than
/// `order_id` assigned to them.
fn has_through_another(
    tx: &Transaction<'_>,
    column: &str,
    owner: &str,
    order_id: &str,
    engineer: &str,
) -> Result<bool> {
    Ok(tx
        .prepare_cached(&format!(
            "SELECT EXISTS (SELECT 1 FROM records w JOIN assignments a ON a.work_order_id = w.id
             WHERE w.{column} = ?1 AND w.entity = 'work_order' AND w.id <> ?2 AND a.engineer_id = ?3)"
        ))?
        .query_row(params![owner, order_id, engineer], |r| r.get(0))?)
}

/// Where an upload in pieces of `sha256` stands (complete when the blob is stored).
fn upload_state(conn: &Connection, sha256: &str) -> Result<UploadState> {
    let size: Option<i64> = conn
        .prepare_cached("SELECT size FROM blobs WHERE sha256 = ?1")?
        .query_row(params![sha256], |r| r.get(0))
        .optional()?;
    if let Some(size) = size {
        let size = u64::try_from(size).unwrap_or(0);
        return Ok(UploadState {
            received: size,
            total: Some(size),
            complete: true,
        });
    }
    let partial: Option<(i64, i64)> = conn
        .prepare_cached("SELECT received, total FROM blob_uploads WHERE sha256 = ?1")?
        .query_row(params![sha256], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    Ok(match partial {
        Some((received, total)) => UploadState {
            received: u64::try_from(received).unwrap_or(0),
            total: u64::try_from(total).ok(),
            complete: false,
        },
        None => UploadState {
            received: 0,
            total: None,
            complete: false,
        },
    })
}

/// A change as the pull sends it, put together as text: `row` is an object this server
/// wrote (never empty: it has an `id`), `clocks` one too, entity names and ids need no
/// escaping. Parsing each row to add `_clocks` cost twice as much.
fn change_json_sql() -> String {
    format!(
        "CASE WHEN r.deleted THEN json_object('seq', r.seq, 'entity', r.entity, 'id', r.id, 'op', 'delete')
              ELSE '{{\"seq\":' || r.seq || ',\"entity\":\"' || r.entity || '\",\"id\":\"' || r.id
                   || '\",\"op\":\"put\",\"row\":' || substr(r.row, 1, length(r.row) - 1)
                   || ',\"{CLOCKS_KEY}\":' || r.clocks || '}}}}' END"
    )
}

/// The pull's statements, put together once (a pull runs them on every sync cycle).
struct PullSql {
    along_the_log: String,
    positions_by_orders: String,
    change_at: String,
}

static PULL_SQL: std::sync::LazyLock<PullSql> = std::sync::LazyLock::new(|| PullSql {
    along_the_log: format!(
        "SELECT r.seq, {} FROM records r WHERE r.seq > ?1 AND (?3
           OR (r.work_order_id IS NULL AND {OUTSIDE_ORDERS_SCOPE})
           OR (r.work_order_id IS NOT NULL AND EXISTS (SELECT 1 FROM assignments a
                   WHERE a.work_order_id = r.work_order_id AND a.engineer_id = ?2)))
         ORDER BY r.seq LIMIT ?4",
        change_json_sql()
    ),
    positions_by_orders: format!(
        "SELECT r.seq FROM assignments a JOIN records r ON r.work_order_id = a.work_order_id
           WHERE a.engineer_id = ?2 AND r.seq > ?1
         UNION ALL
         SELECT r.seq FROM records r INDEXED BY records_outside_orders
           WHERE r.work_order_id IS NULL AND r.seq > ?1 AND {OUTSIDE_ORDERS_SCOPE}
         LIMIT ?3"
    ),
    change_at: format!(
        "SELECT r.seq, {} FROM records r WHERE r.seq = ?1",
        change_json_sql()
    ),
});

/// Which records outside any order (`work_order_id IS NULL`) an engineer `?2` has:
/// reference data, their van stock, and the customers and equipment of their orders.
const OUTSIDE_ORDERS_SCOPE: &str = concat!(
    "(r.entity IN ",
    reference!(),
    "
       OR (r.entity = 'van_stock' AND r.owner_ref = ?2)
       OR (r.entity = 'customer' AND EXISTS (SELECT 1 FROM records w JOIN assignments a ON a.work_order_id = w.id
               WHERE w.customer_ref = r.id AND w.entity = 'work_order' AND a.engineer_id = ?2))
       OR (r.entity = 'equipment' AND EXISTS (SELECT 1 FROM records w JOIN assignments a ON a.work_order_id = w.id
               WHERE w.equipment_ref = r.id AND w.entity = 'work_order' AND a.engineer_id = ?2)))"
);

/// A pull page walking the change log from the cursor in `seq` order, each change
/// checked against the caller's scope with index lookups (correlated EXISTS): a page costs
/// the changes walked, everyone's. Right for a first sync by pages and for dispatchers,
/// whose scope is most of the log.
fn pull_along_the_log(
    tx: &Transaction<'_>,
    user: &User,
    cursor: i64,
    limit: usize,
) -> Result<Vec<(i64, String)>> {
    let limit_sql = i64::try_from(limit).unwrap_or(1000) + 1;
    let everything = user.role != Role::Engineer;
    let rows = tx
        .prepare_cached(&PULL_SQL.along_the_log)?
        .query_map(
            params![cursor, user.id.to_string(), everything, limit_sql],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?
        .collect::<rusqlite::Result<_>>()?;
    Ok(rows)
}

/// Below this many changes since the cursor, walking the log is as cheap as anything.
const SHORT_GAP: i64 = 64;

/// The same page as `pull_along_the_log`, found from the engineer's side when the log
/// since the cursor is long and their orders are few (an engineer syncing while 200
/// others push): the positions of their orders' changes since the cursor
/// (`records_work_order`, by order then position) and of the changes outside orders that
/// are theirs (`records_outside_orders`, in log order); then those rows by position. It
/// gives up (`None`) when the caller is not an engineer, when walking would be cheaper,
/// or when more than a page is waiting (finding the first page among them would mean
/// sorting them all, page after page); the walk then does it.
fn pull_by_orders(
    tx: &Transaction<'_>,
    user: &User,
    cursor: i64,
    newest: i64,
    limit: usize,
) -> Result<Option<Vec<(i64, String)>>> {
    if user.role != Role::Engineer {
        return Ok(None);
    }
    let gap = newest.saturating_sub(cursor);
    if gap < SHORT_GAP {
        return Ok(None);
    }
    let me = user.id.to_string();
    // An order costs about as much as walking four changes (a seek, and customer and
    // equipment lookups); counting stops as soon as walking is known to be cheaper.
    let enough = gap / 4;
    let orders: i64 = tx
        .prepare_cached(
            "SELECT count(*) FROM (SELECT 1 FROM assignments WHERE engineer_id = ?1 LIMIT ?2)",
        )?
        .query_row(params![me, enough], |r| r.get(0))?;
    if orders >= enough {
        return Ok(None);
    }
    page_by_orders(tx, &me, cursor, limit)
}

/// `pull_by_orders` once it has chosen to: the page, or `None` when more than a page is
/// waiting.
fn page_by_orders(
    tx: &Transaction<'_>,
    me: &str,
    cursor: i64,
    limit: usize,
) -> Result<Option<Vec<(i64, String)>>> {
    let cap = i64::try_from(limit).unwrap_or(1000) + 1;
    let mut seqs: Vec<i64> = tx
        .prepare_cached(&PULL_SQL.positions_by_orders)?
        .query_map(params![cursor, me, cap + 1], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    if seqs.len() > usize::try_from(cap).unwrap_or(usize::MAX) {
        return Ok(None);
    }
    seqs.sort_unstable();
    let mut stmt = tx.prepare_cached(&PULL_SQL.change_at)?;
    let mut rows = Vec::with_capacity(seqs.len());
    for seq in seqs {
        rows.push(stmt.query_row(params![seq], |r| Ok((r.get(0)?, r.get(1)?)))?);
    }
    Ok(Some(rows))
}

/// A connection for reading only.
fn open_reader(path: &Path) -> Result<Connection> {
    let c = Connection::open(path)?;
    c.busy_timeout(std::time::Duration::from_secs(10))?;
    c.pragma_update(None, "cache_size", -16_384)?;
    c.pragma_update(None, "mmap_size", 1_073_741_824)?;
    c.pragma_update(None, "query_only", "ON")?;
    c.set_prepared_statement_cache_capacity(STATEMENTS_KEPT);
    Ok(c)
}

impl SqliteStorage {
    /// Opens (creating if needed) the database file at `path`, migrated.
    /// Numbers the field service records that waited for a wider sequence, in their own
    /// month's series, oldest first; stops at a month still full. Run at start, after the
    /// width is set. Returns how many were numbered.
    pub fn number_waiting_service_records(&self, now: DateTime<Utc>) -> Result<usize> {
        // Read first: a start with nothing waiting writes nothing (a server whose disk is
        // full still starts).
        let waiting: i64 = self.conn()?.query_row(
            "SELECT count(*) FROM records WHERE entity = 'work_order' AND deleted = 0
               AND json_extract(row, '$.service_record_waiting') IS NOT NULL
               AND json_extract(row, '$.service_record_number') IS NULL",
            [],
            |r| r.get(0),
        )?;
        if waiting == 0 {
            return Ok(0);
        }
        let stamp = self.stamp(now)?;
        let width = self.number_width.load(std::sync::atomic::Ordering::Relaxed);
        let mut conn = self.conn()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let ids: Vec<String> = tx
            .prepare(
                "SELECT id FROM records WHERE entity = 'work_order' AND deleted = 0
                   AND json_extract(row, '$.service_record_waiting') IS NOT NULL
                   AND json_extract(row, '$.service_record_number') IS NULL
                 ORDER BY json_extract(row, '$.service_record_waiting.made_on'), id",
            )?
            .query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        let mut numbered = 0;
        for id in ids {
            let mut order = live_order(&tx, &id)?;
            let Some(waiting) = order.row.get("service_record_waiting").and_then(|w| {
                serde_json::from_value::<onsite_domain::numbering::Waiting>(w.clone()).ok()
            }) else {
                continue;
            };
            // Still as narrow as when it was full: nothing to take, nothing to write.
            if 10u64.pow(u32::from(width)) - 1 <= u64::from(waiting.max) {
                continue;
            }
            if !give_service_number(
                &tx,
                &id,
                &mut order,
                &waiting.department,
                waiting.made_on,
                width,
                &stamp,
            )? {
                break;
            }
            numbered += 1;
        }
        self.commit(tx)?;
        Ok(numbered)
    }

    /// The digits of a record number's monthly sequence from now on (checked by the
    /// caller: `numbering::check_width`).
    pub fn set_number_width(&self, width: u8) {
        self.number_width
            .store(width, std::sync::atomic::Ordering::Relaxed);
    }

    pub fn open(path: &Path) -> Result<SqliteStorage> {
        let mut conn = Connection::open(path)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.pragma_update(None, "cache_size", -65_536)?;
        conn.pragma_update(None, "mmap_size", 1_073_741_824)?;
        conn.set_prepared_statement_cache_capacity(STATEMENTS_KEPT);
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
        let (epoch, position) = epoch_at_open(&conn, path)?;
        // The readers that storage calls running at once will use, opened now rather than
        // by the first burst of requests.
        let readers = (0..crate::storage::CONCURRENT_CALLS)
            .map(|_| open_reader(path))
            .collect::<Result<Vec<_>>>()?;
        Ok(SqliteStorage {
            conn: parking_lot::FairMutex::new(conn),
            readers: Mutex::new(readers),
            path: path.to_owned(),
            clock: Mutex::new(clock),
            epoch,
            high_water: std::sync::atomic::AtomicI64::new(position),
            number_width: std::sync::atomic::AtomicU8::new(onsite_domain::numbering::DEFAULT_WIDTH),
        })
    }

    /// A connection for reading only.
    fn reader(&self) -> Result<Reader<'_>> {
        let idle = self
            .readers
            .lock()
            .map_err(|_| StorageError::Database("the reader pool lock was poisoned".into()))?
            .pop();
        let conn = match idle {
            Some(c) => c,
            None => open_reader(&self.path)?,
        };
        Ok(Reader {
            conn: Some(conn),
            pool: &self.readers,
        })
    }

    fn conn(&self) -> Result<parking_lot::FairMutexGuard<'_, Connection>> {
        Ok(self.conn.lock())
    }

    fn stamp(&self, now: DateTime<Utc>) -> Result<String> {
        let mut clock = self
            .clock
            .lock()
            .map_err(|_| StorageError::Database("clock lock poisoned".into()))?;
        Ok(clock.tick(now).to_string())
    }

    /// Starts a new epoch (after the operator restored the database from a backup):
    /// every laptop syncs again and sends again what it had sent since.
    pub fn start_new_epoch(&self) -> Result<String> {
        let conn = self.conn()?;
        let epoch = new_epoch(&conn)?;
        write_high_water(&self.path, &epoch, generation(&conn)?);
        Ok(epoch)
    }

    /// Commits a write transaction, counted (`server_identity.generation`), and notes the
    /// count in the high-water file once committed: whatever a call acknowledged (a
    /// change, a blob, numbers, an answer to an operation), a restore of an older copy is
    /// found at the next open.
    fn commit(&self, tx: Transaction<'_>) -> Result<()> {
        let generation: i64 = tx.query_row(
            "UPDATE server_identity SET generation = generation + 1 WHERE id = 1 RETURNING generation",
            [],
            |r| r.get(0),
        )?;
        tx.commit()?;
        self.reached(generation);
        Ok(())
    }

    /// Notes in the high-water file that `generation` write transactions have committed.
    fn reached(&self, generation: i64) {
        use std::sync::atomic::Ordering;
        if self.high_water.fetch_max(generation, Ordering::SeqCst) < generation {
            write_high_water(&self.path, &self.epoch, generation);
        }
    }

    fn observe(&self, stamp: &Hlc, now: DateTime<Utc>) {
        if let Ok(mut clock) = self.clock.lock() {
            clock.observe(stamp, now);
        }
    }

    /// The stamp a pushed write is kept with: its own, or the server's when the device's
    /// clock runs more than `hlc::MAX_DRIFT_MS` ahead (observed only once applied).
    fn stamp_for(&self, remote: &Hlc, now: DateTime<Utc>) -> Result<Hlc> {
        let mut clock = self
            .clock
            .lock()
            .map_err(|_| StorageError::Database("clock lock poisoned".into()))?;
        Ok(if clock.is_ahead(remote, now) {
            clock.tick(now)
        } else {
            remote.clone()
        })
    }

    /// Re-positions an order's whole graph after `seq`, so that an engineer who just got it
    /// pulls all of it even though their cursor is past those records.
    fn resend_graph(tx: &Transaction<'_>, order_id: &str, added: &[String]) -> Result<()> {
        if added.is_empty() {
            return Ok(());
        }
        let mut keys: Vec<(String, String)> = tx
            .prepare_cached("SELECT entity, id FROM records WHERE work_order_id = ?1")?
            .query_map(params![order_id], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
        // The customer and the equipment go again only to an engineer who did not have
        // them through another order: re-positioning them for every order moved each
        // customer behind all its orders, and a first sync indexed those orders twice.
        for (entity, column, owner) in owners_of(tx, order_id)? {
            let mut new_to_someone = false;
            for engineer in added {
                new_to_someone |= !has_through_another(tx, column, &owner, order_id, engineer)?;
            }
            if new_to_someone {
                // Before the order, so that it arrives with its customer's name.
                keys.insert(0, (entity.to_owned(), owner));
            }
        }
        for (entity, id) in keys {
            let seq = next_seq(tx)?;
            tx.prepare_cached("UPDATE records SET seq = ?3 WHERE entity = ?1 AND id = ?2")?
                .execute(params![entity, id, seq])?;
        }
        Ok(())
    }
}

impl Storage for SqliteStorage {
    fn epoch(&self) -> String {
        self.epoch.clone()
    }

    fn create_user(&self, user: NewUser, now: DateTime<Utc>) -> Result<User> {
        let mut conn = self.conn()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let id = Uuid::now_v7();
        let inserted = tx.execute(
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
        self.commit(tx)?;
        Ok(User {
            id,
            username: user.username,
            name: user.name,
            role: user.role,
            department: user.department,
        })
    }

    fn user_by_username(&self, username: &str) -> Result<Option<(User, String)>> {
        let conn = self.reader()?;
        let found = conn
            .query_row("SELECT id, username, name, role, department, password_hash FROM users WHERE username = ?1 AND disabled_at IS NULL", params![username], |r| {
                Ok((user_from_row(r)?, r.get::<_, String>(5)?))
            })
            .optional()?;
        found.map(|(u, hash)| Ok((to_user(u)?, hash))).transpose()
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
        // Counted like every write: a sign-in or sign-out after a backup makes a restore of
        // it found (and every session ended), so that an ended token does not come back.
        let mut conn = self.conn()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute(
            "INSERT INTO tokens (hash, user_id, device_id, device_name, created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![token_hash, user_id.to_string(), device_id, device_name, now.timestamp_millis(), expires_at.timestamp_millis()],
        )?;
        self.commit(tx)
    }

    fn session(&self, token_hash: &str, now: DateTime<Utc>) -> Result<Option<Session>> {
        let conn = self.reader()?;
        let found = conn
            .prepare_cached(
                "SELECT u.id, u.username, u.name, u.role, u.department, t.device_id FROM tokens t JOIN users u ON u.id = t.user_id
                 WHERE t.hash = ?1 AND t.expires_at > ?2 AND u.disabled_at IS NULL",
            )?
            .query_row(
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

    fn manage_account(
        &self,
        username: &str,
        change: &AccountChange,
        now: DateTime<Utc>,
    ) -> Result<(User, usize)> {
        let mut conn = self.conn()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let found = tx
            .query_row(
                "SELECT id, username, name, role, department FROM users WHERE username = ?1",
                params![username],
                user_from_row,
            )
            .optional()?;
        let Some(user) = found else {
            return Err(StorageError::NotFound(format!("no user {username:?}")));
        };
        let user = to_user(user)?;
        let id = user.id.to_string();
        match change {
            AccountChange::Disable => {
                tx.execute(
                    "UPDATE users SET disabled_at = ?2 WHERE id = ?1 AND disabled_at IS NULL",
                    params![id, now.timestamp_millis()],
                )?;
            }
            AccountChange::Enable => {
                tx.execute(
                    "UPDATE users SET disabled_at = NULL WHERE id = ?1",
                    params![id],
                )?;
            }
            AccountChange::SetPassword(hash) => {
                tx.execute(
                    "UPDATE users SET password_hash = ?2 WHERE id = ?1",
                    params![id, hash],
                )?;
            }
            AccountChange::EndSessions => {}
        }
        let ended = if matches!(change, AccountChange::Enable) {
            0
        } else {
            tx.execute("DELETE FROM tokens WHERE user_id = ?1", params![id])?
        };
        self.commit(tx)?;
        Ok((user, ended))
    }

    fn end_session(&self, token_hash: &str) -> Result<()> {
        let mut conn = self.conn()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute("DELETE FROM tokens WHERE hash = ?1", params![token_hash])?;
        self.commit(tx)
    }

    fn push(&self, session: &Session, ops: &[Op], now: DateTime<Utc>) -> Result<Vec<OpResult>> {
        let mut conn = self.conn()?;
        #[cfg(feature = "test-hooks")]
        hooks::limit_growth(&conn)?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut results = Vec::with_capacity(ops.len());
        let me = session.user.id.to_string();
        for op in ops {
            let op_id = op.op_id.to_string();
            // The op_id decides before any rule: a replay gets its first answer, unchanged.
            let first: Option<(String, Option<String>)> = tx
                .prepare_cached("SELECT status, reason FROM ops WHERE user_id = ?1 AND op_id = ?2")?
                .query_row(params![me, op_id], |r| Ok((r.get(0)?, r.get(1)?)))
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
            // A stamp from a clock that runs ahead is not believed: the write is kept with
            // the server's stamp, and only an applied write's stamp is observed.
            let stamp = self.stamp_for(&op.hlc, now)?;
            let outcome = if in_scope(&tx, &session.user, op, current.as_ref())? {
                let order_status = order_status(&tx, op, current.as_ref())?;
                let outcome = decide(
                    op,
                    Context {
                        current: current.as_ref(),
                        order_status,
                        role: session.user.role,
                        user_id: session.user.id,
                        stamp: &stamp,
                    },
                );
                match outcome {
                    Outcome::Write(next, note) => {
                        match foreign_blob(&tx, &session.user, op.entity, &next.row)? {
                            Some(sha) => Outcome::Answer(
                                OpStatus::Rejected,
                                Some(format!(
                                    "not allowed: the file {sha} was neither sent by you nor is it on one of your orders; send the file first"
                                )),
                            ),
                            None => match engineers_record(
                                &tx,
                                session.user.role,
                                op.entity,
                                &next.row,
                                now,
                            )? {
                                Err((status, reason)) => Outcome::Answer(status, Some(reason)),
                                Ok(())
                                    if op.entity == Entity::ServiceRequest && current.is_none() =>
                                {
                                    register_request(
                                        &tx,
                                        &session.user,
                                        next,
                                        note,
                                        now,
                                        &stamp.to_string(),
                                        self.number_width(),
                                    )?
                                }
                                Ok(()) => Outcome::Write(next, note),
                            },
                        }
                    }
                    other => other,
                }
            } else {
                Outcome::Answer(OpStatus::Quarantined, Some("not in your scope: the order is not assigned to you (kept for the dispatcher)".into()))
            };
            let outcome = match (outcome, op.transition) {
                (Outcome::Write(next, note), Some(t)) => {
                    match check_move_on(&tx, &next.row, t.to, &id)? {
                        Ok(()) => Outcome::Write(next, note),
                        Err(e) => {
                            Outcome::Answer(OpStatus::Rejected, Some(format!("not allowed: {e}")))
                        }
                    }
                }
                (outcome, _) => outcome,
            };
            let (status, reason) = match outcome {
                Outcome::Write(next, note) => {
                    if op.entity == Entity::PartUsage && current.is_none() {
                        take_from_van(&tx, session.user.id, &next.row, &stamp.to_string())?;
                    }
                    write(&tx, op.entity, &id, &next)?;
                    if let Some(t) = op.transition {
                        schedule_callbacks(&tx, &id, t.to, now, &stamp.to_string())?;
                        number_service_record(
                            &tx,
                            &id,
                            t.to,
                            &session.user,
                            self.number_width(),
                            now,
                            &stamp.to_string(),
                        )?;
                    }
                    self.observe(&stamp, now);
                    (OpStatus::Applied, note)
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
            results.push(OpResult {
                op_id: op.op_id,
                status,
                reason,
            });
        }
        self.commit(tx)?;
        Ok(results)
    }

    fn pull(&self, user: &User, cursor: i64, limit: usize) -> Result<PullPage> {
        let conn = self.reader()?;
        // One read transaction: the changes and the revocations are of the same moment.
        // Read apart, a revocation committed between the two would have moved the cursor
        // past changes the first read had not seen.
        let tx = conn.unchecked_transaction()?;
        let me = user.id.to_string();
        // The last change-log position handed out as of this read: with one writer at a
        // time, every change up to it has committed and is visible here.
        let newest: i64 = tx
            .prepare_cached("SELECT value FROM change_counter WHERE id = 1")?
            .query_row([], |r| r.get(0))?;
        if cursor > newest {
            return Err(StorageError::Resync(format!(
                "the cursor {cursor} is ahead of this server's history ({newest}): it was restored from a backup"
            )));
        }
        let mut changes = match pull_by_orders(&tx, user, cursor, newest, limit)? {
            Some(changes) => changes,
            None => pull_along_the_log(&tx, user, cursor, limit)?,
        };
        let limit_sql = i64::try_from(limit).unwrap_or(1000) + 1;
        let revokes: Vec<(i64, String)> = tx
            .prepare_cached(
                "SELECT seq, json_object('seq', seq, 'entity', 'work_order', 'id', work_order_id, 'op', 'revoke')
                 FROM revocations WHERE engineer_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3",
            )?
            .query_map(params![me, cursor, limit_sql], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
        tx.finish()?;
        if !revokes.is_empty() {
            changes.extend(revokes);
            changes.sort_by_key(|(seq, _)| *seq);
        }
        let has_more = changes.len() > limit;
        changes.truncate(limit);
        // The last page of a pull has every change of the caller's up to `newest`: the
        // cursor goes there, past everyone else's changes, so that the next pull neither
        // walks nor checks them again (an engineer with nothing new kept a cursor at their
        // own last change, and each of their pulls re-read all changes since).
        let cursor = if has_more {
            changes.last().map_or(cursor, |(seq, _)| *seq)
        } else {
            cursor.max(newest)
        };
        let changes = changes.into_iter().map(|(_, json)| json).collect();
        Ok(PullPage {
            changes,
            cursor,
            has_more,
        })
    }

    fn snapshot(&self, user: &User, out: &mut dyn FnMut(&[u8]) -> Result<()>) -> Result<u64> {
        let reader = self.reader()?;
        // One read transaction: the counter and the rows are of the same moment, and every
        // change numbered up to the counter has committed (SQLite has one writer at a
        // time), so pulling from it afterwards misses nothing.
        let tx = reader.unchecked_transaction()?;
        let cursor: i64 =
            tx.query_row("SELECT value FROM change_counter WHERE id = 1", [], |r| {
                r.get(0)
            })?;
        let me = user.id.to_string();
        let everything = user.role != Role::Engineer;
        let columns = "r.entity, r.id, r.work_order_id, r.row, r.clocks";
        // The same scope as `pull`, walked from the engineer's assignments rather than
        // checked row by row along the log: reference data and van stock, the customers
        // and equipment of the assigned orders, then each order with everything under it,
        // in order id order (the laptop's index of records by order is then appended to).
        let statements: Vec<String> = if everything {
            vec![format!(
                "SELECT {columns} FROM records r WHERE NOT r.deleted"
            )]
        } else {
            vec![
                format!(
                    "SELECT {columns} FROM records r WHERE NOT r.deleted
                       AND (r.entity IN {REFERENCE} OR (r.entity = 'van_stock' AND r.owner_ref = ?1))"
                ),
                format!(
                    "SELECT {columns} FROM records r WHERE r.entity = 'customer' AND NOT r.deleted AND r.id IN
                       (SELECT w.customer_ref FROM assignments a JOIN records w ON w.entity = 'work_order' AND w.id = a.work_order_id
                        WHERE a.engineer_id = ?1)"
                ),
                format!(
                    "SELECT {columns} FROM records r WHERE r.entity = 'equipment' AND NOT r.deleted AND r.id IN
                       (SELECT w.equipment_ref FROM assignments a JOIN records w ON w.entity = 'work_order' AND w.id = a.work_order_id
                        WHERE a.engineer_id = ?1)"
                ),
                format!(
                    "SELECT {columns} FROM assignments a JOIN records r ON r.work_order_id = a.work_order_id
                     WHERE a.engineer_id = ?1 AND NOT r.deleted ORDER BY a.work_order_id"
                ),
            ]
        };
        const PIECE: usize = 256 * 1024;
        let mut buf: Vec<u8> = Vec::with_capacity(PIECE + 64 * 1024);
        buf.extend_from_slice(
            format!(
                "{}\t{cursor}\t{}\t{}\n",
                onsite_domain::protocol::SNAPSHOT_MAGIC,
                Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                self.epoch
            )
            .as_bytes(),
        );
        let mut count: u64 = 0;
        for sql in &statements {
            let mut stmt = tx.prepare(sql)?;
            let mut rows = if everything {
                stmt.query([])?
            } else {
                stmt.query(params![me])?
            };
            while let Some(r) = rows.next()? {
                // Stored rows are compact JSON written by this server: no raw tab or newline
                // (JSON escapes them inside strings), so a tab-separated line holds them.
                for (i, sep) in [(0, b'\t'), (1, b'\t'), (2, b'\t'), (3, b'\t'), (4, b'\n')] {
                    match r.get_ref(i)? {
                        rusqlite::types::ValueRef::Text(t) => buf.extend_from_slice(t),
                        rusqlite::types::ValueRef::Null => {}
                        other => {
                            return Err(StorageError::Database(format!(
                                "a stored record has a {:?} where text belongs",
                                other.data_type()
                            )));
                        }
                    }
                    buf.push(sep);
                }
                count += 1;
                if buf.len() >= PIECE {
                    out(&buf)?;
                    buf.clear();
                }
            }
        }
        buf.extend_from_slice(format!("end\t{count}\n").as_bytes());
        out(&buf)?;
        Ok(count)
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
        self.commit(tx)?;
        Ok(id)
    }

    fn admin_create(
        &self,
        entity: Entity,
        row: Map<String, Value>,
        now: DateTime<Utc>,
    ) -> Result<Uuid> {
        let stamp = self.stamp(now)?;
        let mut conn = self.conn()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        if let Some(id) = row.get("id").and_then(Value::as_str)
            && load(&tx, entity, id)?.is_some()
        {
            return Err(StorageError::Conflict(format!(
                "a {entity} with id {id} exists already: change it with its own call, or leave the id out to create a new one"
            )));
        }
        let id = admin_put_in(&tx, entity, row, &stamp)?;
        if entity == Entity::WorkOrder {
            instantiate_checklist(&tx, &id.to_string(), &stamp)?;
        }
        self.commit(tx)?;
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
        self.commit(tx)?;
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
        let mut names = Vec::with_capacity(engineers.len());
        for e in engineers {
            let user: Option<(String, String)> = tx
                .query_row(
                    "SELECT role, name FROM users WHERE id = ?1",
                    params![e.to_string()],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?;
            let (role, name) = user.unzip();
            names.push(name);
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
            // The laptop drops the order's customer and equipment with it unless an order
            // it holds still points to them; one it does not hold yet (its row positioned
            // after this revocation) may. Still in this engineer's scope: send them again,
            // after the revocation.
            for (entity, column, owner) in owners_of(&tx, &order_id)? {
                if has_through_another(&tx, column, &owner, &order_id, gone)? {
                    let seq = next_seq(&tx)?;
                    tx.prepare_cached("UPDATE records SET seq = ?3 WHERE entity = ?1 AND id = ?2")?
                        .execute(params![entity, owner, seq])?;
                }
            }
        }
        let assignees: Vec<Value> = engineers.iter().zip(&names).map(|(e, name)| serde_json::json!({"engineer_id": e, "manager": manager == Some(*e) && engineers.len() > 1, "name": name})).collect();
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
        if !engineers.is_empty() {
            instantiate_checklist(&tx, &order_id, &stamp)?;
        }
        let added: Vec<String> = engineers
            .iter()
            .map(Uuid::to_string)
            .filter(|e| !before.contains(e))
            .collect();
        Self::resend_graph(&tx, &order_id, &added)?;
        self.commit(tx)?;
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
        let from: Status = onsite_domain::protocol::row_status(&order.row).ok_or_else(|| {
            StorageError::Database(format!("work order {order_id} has no status"))
        })?;
        check_transition(from, to, role).map_err(|e| match e {
            onsite_domain::DomainError::TransitionNotAllowed { .. } => {
                StorageError::Conflict(e.to_string())
            }
            other => StorageError::Rule(other),
        })?;
        Transition { from, to }
            .apply(&mut order.row, &mut order.clocks, &stamp)
            .map_err(|_| {
                StorageError::Database(format!("work order {order_id} moved meanwhile"))
            })?;
        write(&tx, Entity::WorkOrder, &order_id, &order)?;
        schedule_callbacks(&tx, &order_id, to, now, &stamp)?;
        self.commit(tx)?;
        Ok(())
    }

    fn work_orders(&self, status: Option<Status>) -> Result<Vec<Map<String, Value>>> {
        let conn = self.reader()?;
        let rows: Vec<String> = conn
            .prepare("SELECT row FROM records WHERE entity = 'work_order' AND deleted = 0 AND (?1 IS NULL OR json_extract(row, '$.status') = ?1) ORDER BY seq DESC LIMIT 1000")?
            .query_map(params![status.map(Status::as_str)], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        rows.iter().map(|r| parse_object(r)).collect()
    }

    fn reference(&self, entity: Entity) -> Result<Vec<Map<String, Value>>> {
        let conn = self.reader()?;
        let rows: Vec<String> = conn
            .prepare(concat!(
                "SELECT row FROM records WHERE entity = ?1 AND deleted = 0 AND entity IN ",
                reference!(),
                " ORDER BY seq"
            ))?
            .query_map(params![entity.as_str()], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        rows.iter().map(|r| parse_object(r)).collect()
    }

    fn kept_ops(&self, status: &str) -> Result<Vec<KeptOp>> {
        let conn = self.reader()?;
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

    fn put_blob(
        &self,
        sha256: &str,
        bytes: &[u8],
        sender: Uuid,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        let mut conn = self.conn()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let inserted = tx.execute(
            "INSERT INTO blobs (sha256, bytes, size, created_at) VALUES (?1, ?2, ?3, ?4) ON CONFLICT (sha256) DO NOTHING",
            params![sha256, bytes, i64::try_from(bytes.len()).unwrap_or(i64::MAX), now.timestamp_millis()],
        )?;
        // An upload in pieces of the same bytes is finished by this one.
        tx.execute("DELETE FROM blob_pieces WHERE sha256 = ?1", params![sha256])?;
        tx.execute(
            "DELETE FROM blob_uploads WHERE sha256 = ?1",
            params![sha256],
        )?;
        own_blob(&tx, sha256, sender)?;
        self.commit(tx)?;
        Ok(inserted == 1)
    }

    fn blob_upload(&self, sha256: &str) -> Result<UploadState> {
        let conn = self.reader()?;
        upload_state(&conn, sha256)
    }

    fn put_blob_piece(
        &self,
        sha256: &str,
        offset: u64,
        total: u64,
        bytes: &[u8],
        sender: Uuid,
        now: DateTime<Utc>,
    ) -> Result<PieceOutcome> {
        let mut conn = self.conn()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let state = upload_state(&tx, sha256)?;
        if state.complete {
            return Ok(PieceOutcome::Accepted(state));
        }
        let end = offset.saturating_add(bytes.len() as u64);
        if offset != state.received || state.total.is_some_and(|t| t != total) || end > total {
            return Ok(PieceOutcome::OutOfPlace(state));
        }
        let sql_int = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        if offset == 0 {
            // Uploads abandoned half-way (a laptop replaced, a photo deleted) are dropped
            // when untouched for UPLOAD_EXPIRY: their pieces would otherwise stay forever.
            // A laptop that comes back later starts that photo again from its first byte.
            let stale = (now - UPLOAD_EXPIRY).timestamp_millis();
            tx.execute(
                "DELETE FROM blob_pieces WHERE sha256 IN (SELECT sha256 FROM blob_uploads WHERE updated_at < ?1)",
                params![stale],
            )?;
            tx.execute(
                "DELETE FROM blob_uploads WHERE updated_at < ?1",
                params![stale],
            )?;
        }
        tx.execute(
            "INSERT INTO blob_pieces (sha256, offset, bytes) VALUES (?1, ?2, ?3)",
            params![sha256, sql_int(offset), bytes],
        )?;
        tx.execute(
            "INSERT INTO blob_uploads (sha256, total, received, updated_at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (sha256) DO UPDATE SET received = excluded.received, updated_at = excluded.updated_at",
            params![sha256, sql_int(total), sql_int(end), now.timestamp_millis()],
        )?;
        if end < total {
            self.commit(tx)?;
            return Ok(PieceOutcome::Accepted(UploadState {
                received: end,
                total: Some(total),
                complete: false,
            }));
        }
        let mut whole = Vec::with_capacity(usize::try_from(total).unwrap_or(0));
        {
            let mut stmt =
                tx.prepare("SELECT bytes FROM blob_pieces WHERE sha256 = ?1 ORDER BY offset")?;
            let mut rows = stmt.query(params![sha256])?;
            while let Some(row) = rows.next()? {
                let piece: Vec<u8> = row.get(0)?;
                whole.extend_from_slice(&piece);
            }
        }
        tx.execute("DELETE FROM blob_pieces WHERE sha256 = ?1", params![sha256])?;
        tx.execute(
            "DELETE FROM blob_uploads WHERE sha256 = ?1",
            params![sha256],
        )?;
        let actual = onsite_domain::signature::sha256_hex(&whole);
        if actual != sha256 {
            self.commit(tx)?;
            return Ok(PieceOutcome::HashMismatch { actual });
        }
        tx.execute(
            "INSERT INTO blobs (sha256, bytes, size, created_at) VALUES (?1, ?2, ?3, ?4) ON CONFLICT (sha256) DO NOTHING",
            params![sha256, whole, sql_int(total), now.timestamp_millis()],
        )?;
        own_blob(&tx, sha256, sender)?;
        self.commit(tx)?;
        Ok(PieceOutcome::Accepted(UploadState {
            received: total,
            total: Some(total),
            complete: true,
        }))
    }

    fn blob(&self, sha256: &str, user: &User, with_bytes: bool) -> Result<Option<Vec<u8>>> {
        let conn = self.reader()?;
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

    fn publish_template(&self, mut row: Map<String, Value>, now: DateTime<Utc>) -> Result<u32> {
        let id = row
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let stamp = self.stamp(now)?;
        let mut conn = self.conn()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let last = load(&tx, Entity::ChecklistTemplate, &id)?
            .and_then(|t| t.row.get("version").and_then(Value::as_u64))
            .unwrap_or(0);
        let version = u32::try_from(last + 1).map_err(|_| onsite_domain::DomainError::Invalid {
            field: "version",
            message: "too many versions".into(),
        })?;
        row.insert("version".into(), Value::from(version));
        admin_put_in(&tx, Entity::ChecklistTemplate, row, &stamp)?;
        self.commit(tx)?;
        Ok(version)
    }

    fn equipment_reports(&self, user: &User, id: Uuid) -> Result<Option<Vec<Value>>> {
        let conn = self.reader()?;
        let key = id.to_string();
        let visible: bool = if user.role == Role::Engineer {
            conn.query_row(
                "SELECT EXISTS (SELECT 1 FROM records w JOIN assignments a ON a.work_order_id = w.id
                   WHERE w.entity = 'work_order' AND w.equipment_ref = ?1 AND a.engineer_id = ?2)",
                params![key, user.id.to_string()],
                |r| r.get(0),
            )?
        } else {
            conn.query_row(
                "SELECT EXISTS (SELECT 1 FROM records WHERE entity = 'equipment' AND id = ?1 AND deleted = 0)",
                params![key],
                |r| r.get(0),
            )?
        };
        if !visible {
            return Ok(None);
        }
        let rows = conn
            .prepare_cached(
                "SELECT row FROM records WHERE entity = 'work_order' AND equipment_ref = ?1 AND deleted = 0
                   AND json_extract(row, '$.status') IN ('completed', 'closed')
                 ORDER BY json_extract(row, '$.reported_at') DESC LIMIT 200",
            )?
            .query_map(params![key], |r| r.get::<_, String>(0))?
            .collect::<rusqlite::Result<Vec<String>>>()?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            out.push(
                serde_json::from_str(&row)
                    .map_err(|e| StorageError::Database(format!("a stored work order: {e}")))?,
            );
        }
        Ok(Some(out))
    }

    fn order_rows(&self, user: &User, id: Uuid) -> Result<Option<Vec<(Entity, String)>>> {
        let conn = self.reader()?;
        let key = id.to_string();
        let visible: bool = if user.role == Role::Engineer {
            // Their orders, and the finished orders on the equipment of their orders (its
            // earlier reports).
            conn.query_row(
                "SELECT EXISTS (SELECT 1 FROM assignments WHERE work_order_id = ?1 AND engineer_id = ?2)
                     OR EXISTS (SELECT 1 FROM records o
                                  JOIN records w ON w.entity = 'work_order' AND w.equipment_ref = o.equipment_ref
                                  JOIN assignments a ON a.work_order_id = w.id AND a.engineer_id = ?2
                                 WHERE o.entity = 'work_order' AND o.id = ?1 AND o.deleted = 0
                                   AND json_extract(o.row, '$.status') IN ('completed', 'closed'))",
                params![key, user.id.to_string()],
                |r| r.get(0),
            )?
        } else {
            conn.query_row(
                "SELECT EXISTS (SELECT 1 FROM records WHERE entity = 'work_order' AND id = ?1 AND deleted = 0)",
                params![key],
                |r| r.get(0),
            )?
        };
        if !visible {
            return Ok(None);
        }
        let mut stmt = conn.prepare_cached(
            "WITH o AS (SELECT row FROM records WHERE entity = 'work_order' AND id = ?1)
             SELECT entity, row FROM records WHERE deleted = 0 AND (
                 (entity = 'work_order' AND id = ?1) OR work_order_id = ?1
                 OR entity IN ('part', 'fee_schedule', 'company')
                 OR (entity = 'customer' AND id = (SELECT json_extract(row, '$.customer_id') FROM o))
                 OR (entity = 'equipment' AND id = (SELECT json_extract(row, '$.equipment_id') FROM o)))",
        )?;
        let rows = stmt
            .query_map(params![key], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        let mut out = Vec::with_capacity(rows.len());
        for (entity, row) in rows {
            if let Ok(e) = entity.parse::<Entity>() {
                out.push((e, row));
            }
        }
        Ok(Some(out))
    }

    fn number_width(&self) -> u8 {
        self.number_width.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn lease_numbers(
        &self,
        department: &Department,
        local_date: NaiveDate,
        count: u32,
        width: u8,
    ) -> Result<Vec<String>> {
        let mut conn = self.conn()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let numbers = lease_in(&tx, department, local_date, count, width)?;
        self.commit(tx)?;
        Ok(numbers)
    }
}

#[cfg(test)]
mod pull_plans {
    //! The two ways of finding a pull page must find the same page: `page_by_orders` is
    //! only ever a faster road to what `pull_along_the_log` defines.

    use super::*;
    use crate::storage::NewUser;
    use onsite_domain::demo::{DemoSize, generate};
    use onsite_domain::records::VanStock;

    /// A small deterministic generator (the test must be reproducible).
    struct Lcg(u64);
    impl Lcg {
        fn below(&mut self, n: usize) -> usize {
            self.0 = self
                .0
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            usize::try_from(self.0 >> 33).unwrap_or(0) % n.max(1)
        }
    }

    fn object<T: serde::Serialize>(v: &T) -> Map<String, Value> {
        match serde_json::to_value(v) {
            Ok(Value::Object(m)) => m,
            _ => panic!("records serialise to objects"),
        }
    }

    #[test]
    fn finding_a_page_by_the_engineers_orders_gives_the_page_the_log_walk_gives() {
        let dir = tempfile::tempdir().expect("temp dir");
        let storage = SqliteStorage::open(&dir.path().join("s.db")).expect("opens");
        let now = Utc::now();
        let engineers: Vec<User> = (0..4)
            .map(|k| {
                storage
                    .create_user(
                        NewUser {
                            username: format!("e{k}"),
                            name: format!("工程师{k}"),
                            role: Role::Engineer,
                            department: None,
                            password_hash: "x".into(),
                        },
                        now,
                    )
                    .expect("user")
            })
            .collect();
        let mut rng = Lcg(7);
        let mut orders = Vec::new();
        let mut items = Vec::new();
        let mut customers = Vec::new();
        for (k, e) in engineers.iter().enumerate() {
            let data = generate(
                40 + k as u64,
                DemoSize {
                    customers: 3,
                    equipment: 4,
                    orders: 6,
                    checklist_items_per_order: 3,
                    part_usages_per_order: 1,
                },
                e.id,
                now,
            );
            for (entity, rows) in [
                (
                    Entity::Customer,
                    data.customers.iter().map(object).collect(),
                ),
                (
                    Entity::Equipment,
                    data.equipment.iter().map(object).collect(),
                ),
                (
                    Entity::Part,
                    data.parts.iter().take(5).map(object).collect::<Vec<_>>(),
                ),
                (
                    Entity::WorkOrder,
                    data.orders
                        .iter()
                        .map(|o| {
                            let mut o = o.clone();
                            o.status = onsite_domain::Status::Assigned;
                            o.assignees = Vec::new();
                            object(&o)
                        })
                        .collect(),
                ),
                (
                    Entity::ChecklistItem,
                    data.checklist_items.iter().map(object).collect(),
                ),
                (
                    Entity::PartUsage,
                    data.part_usages.iter().map(object).collect(),
                ),
            ] {
                storage.admin_put_many(entity, rows, now).expect("puts");
            }
            storage
                .admin_put(
                    Entity::VanStock,
                    object(&VanStock {
                        id: Uuid::now_v7(),
                        engineer_id: e.id,
                        part_id: data.parts[0].id,
                        quantity: 3,
                    }),
                    now,
                )
                .expect("van stock");
            orders.extend(data.orders.iter().map(|o| o.id));
            items.extend(data.checklist_items.iter().map(object));
            customers.extend(data.customers.iter().map(object));
        }
        // Assignments, reassignments (revocations, graphs re-sent), edits of records under
        // orders and of customers, interleaved; one order left with nobody.
        for round in 0..40 {
            match rng.below(3) {
                0 => {
                    let order = orders[rng.below(orders.len() - 1)];
                    let who: Vec<Uuid> = engineers
                        .iter()
                        .filter(|_| rng.below(3) == 0)
                        .map(|e| e.id)
                        .collect();
                    storage.assign(order, &who, None, now).expect("assigns");
                }
                1 => {
                    let mut item = items[rng.below(items.len())].clone();
                    item.insert("note".into(), Value::String(format!("第{round}次")));
                    storage
                        .admin_put(Entity::ChecklistItem, item, now)
                        .expect("edits");
                }
                _ => {
                    let mut c = customers[rng.below(customers.len())].clone();
                    c.insert("name".into(), Value::String(format!("客户{round}")));
                    storage.admin_put(Entity::Customer, c, now).expect("edits");
                }
            }
        }
        storage
            .conn()
            .expect("writer")
            .execute(
                "UPDATE records SET deleted = 1 WHERE rowid IN (SELECT rowid FROM records ORDER BY seq DESC LIMIT 5)",
                [],
            )
            .expect("tombstones");
        let newest: i64 = storage
            .conn()
            .expect("writer")
            .query_row("SELECT value FROM change_counter", [], |r| r.get(0))
            .expect("counter");
        let reader = storage.reader().expect("reader");
        let tx = reader.unchecked_transaction().expect("reads");
        let (mut compared, mut nonempty) = (0, 0);
        for e in &engineers {
            for cursor in 0..=newest {
                for limit in [1, 7, 10_000] {
                    let walked = pull_along_the_log(&tx, e, cursor, limit).expect("walks");
                    let found =
                        page_by_orders(&tx, &e.id.to_string(), cursor, limit).expect("finds");
                    match found {
                        Some(found) => {
                            let seqs =
                                |p: &[(i64, String)]| p.iter().map(|c| c.0).collect::<Vec<_>>();
                            assert_eq!(
                                seqs(&found),
                                seqs(&walked),
                                "{} from {cursor}, limit {limit}",
                                e.username
                            );
                            assert_eq!(
                                found, walked,
                                "{} from {cursor}, limit {limit}",
                                e.username
                            );
                            compared += 1;
                            nonempty += usize::from(!found.is_empty());
                        }
                        None => assert!(
                            walked.len() > limit,
                            "by orders gives up only when more than a page waits ({} from {cursor})",
                            e.username
                        ),
                    }
                }
            }
        }
        assert!(
            compared > 400 && nonempty > 300,
            "{compared} pages compared, {nonempty} not empty"
        );
    }
}
