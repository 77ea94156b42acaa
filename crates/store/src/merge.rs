//! Merging the server's verdicts into the local copy.
//!
//! A record keeps the server's row (`base`) while local operations on it are pending; the
//! visible row is always `base` with the pending operations replayed on top, in the order
//! they were made:
//! - upsert: a field takes the op's value when the op's HLC is newer than the field's
//!   clock (field-level last-writer-wins, the rule the server applies too);
//! - transition: applies when the status is still the op's `from`;
//! - append: the server's row wins once it has one; delete: hides the record.
//!
//! A pulled page, the rebase of pending operations on top of it, and the new cursor are
//! written in one transaction; so are push results and the outbox entries they settle.

use chrono::{DateTime, Utc};
use std::collections::HashSet;

use onsite_domain::protocol::{MergeRule, OpResult, merge_fields};
use onsite_domain::sla::SlaConfig;
use onsite_domain::{Change, ChangeOp, Entity, Op, OpKind, OpStatus};
use rusqlite::{Connection, params};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use serde_json::value::RawValue;

use crate::raw::{Incoming, RawChange, RawRow, bad_change, written_as_is};
use crate::row::{self, Base, Fields, StoredRecord};
use crate::{Result, Store, StoreError, index, meta_get, meta_set};

/// How long acknowledged operations are kept for sending again, and how many at most.
const JOURNAL_DAYS: chrono::TimeDelta = chrono::TimeDelta::days(30);
const JOURNAL_MAX: i64 = 50_000;
/// Set while the laptop syncs again from scratch (`Store::begin_resync`).
const RESYNC_KEY: &str = "resync";

/// Applies one operation to a visible row. Returns whether it changed anything.
pub(crate) fn apply_op(record: &mut StoredRecord, op: &Op) -> bool {
    let hlc = op.hlc.to_string();
    match op.kind {
        OpKind::Upsert => match &op.fields {
            Some(fields) => {
                merge_fields(&mut record.body, &mut record.clocks, fields, &op.hlc).len()
                    < fields.len()
            }
            None => false,
        },
        OpKind::Transition => op
            .transition
            .is_some_and(|t| t.apply(&mut record.body, &mut record.clocks, &hlc).is_ok()),
        OpKind::Append => {
            if record.body.is_empty() || record.base == Base::Absent {
                record.body = op.fields.clone().unwrap_or_default();
                true
            } else {
                false
            }
        }
        OpKind::Delete => {
            record.deleted = true;
            true
        }
    }
}

fn pending_ops(conn: &Connection, entity: Entity, id: &str) -> Result<Vec<Op>> {
    let mut stmt = conn.prepare_cached(
        "SELECT op FROM outbox WHERE entity = ?1 AND record_id = ?2 ORDER BY seq",
    )?;
    let rows = stmt.query_map(params![entity.as_str(), id], |r| r.get::<_, String>(0))?;
    let mut ops = Vec::new();
    for json in rows {
        let json = json?;
        ops.push(
            serde_json::from_str(&json).map_err(|e| StoreError::BadData {
                what: "outbox operation".into(),
                detail: e.to_string(),
            })?,
        );
    }
    Ok(ops)
}

/// Rebuilds the visible row from `base` and the pending operations.
fn rebase(record: &mut StoredRecord, pending: &[Op]) {
    match &record.base {
        Base::Same => return,
        Base::Absent => {
            record.body = Fields::new();
            record.clocks = Fields::new();
            record.deleted = false;
        }
        Base::Row(b, c) => {
            record.body = b.clone();
            record.clocks = c.clone();
            record.deleted = false;
        }
    }
    if pending.is_empty() {
        record.deleted = record.base == Base::Absent;
        if record.base != Base::Absent {
            record.base = Base::Same;
        }
        return;
    }
    for op in pending {
        apply_op(record, op);
    }
}

/// The work orders whose list and search rows must be rewritten when a transaction ends:
/// each once, however many of its rows (and its customer's and equipment's) the
/// transaction brought.
#[derive(Default)]
struct Reindex {
    /// Orders written, with their visible body, and the order they first came in (the
    /// index rows are written in that order, as they were before this was deferred).
    orders: std::collections::HashMap<String, Fields>,
    arrival: Vec<String>,
    /// Customers and equipment whose name, model or serial changed: ("customer_id", id).
    owners: Vec<(&'static str, String)>,
    /// Whether this transaction's saves have mostly been inserts.
    saves: row::SaveHint,
}

impl Reindex {
    /// The order was written: index it with this visible body.
    fn order(&mut self, id: String, body: Fields) {
        if self.orders.insert(id.clone(), body).is_none() {
            self.arrival.push(id);
        }
    }

    /// The order left (deleted or revoked): nothing to index for it.
    fn forget(&mut self, id: &str) {
        self.orders.remove(id);
    }

    fn finish(self, conn: &Connection, sla: &SlaConfig) -> Result<()> {
        let mut refresh: HashSet<String> = HashSet::new();
        for (column, owner) in &self.owners {
            refresh.extend(index::orders_of(conn, column, owner)?);
        }
        // The search rows of all these orders are written together at the end.
        let mut search = index::SearchBatch::default();
        for id in &self.arrival {
            if let Some(body) = self.orders.get(id) {
                let names = refresh.remove(id);
                index::index_work_order_into(conn, sla, id, body, false, names, &mut search)?;
            }
        }
        search.write(conn)?;
        // Orders of a renamed customer or equipment that this transaction did not write.
        for id in refresh {
            index::reindex_order(conn, sla, &id)?;
        }
        Ok(())
    }
}

/// Writes a record; its work order's list and search rows are rewritten by `reindex` at
/// the end of the transaction. A deleted record with nothing pending is removed outright.
fn store_record(conn: &Connection, record: StoredRecord, reindex: &mut Reindex) -> Result<()> {
    // The orders of a customer or a piece of equipment are re-indexed only when what they
    // show of it changed: a first sync brings each customer again after its orders.
    let owner_before = match record.entity {
        Entity::Customer | Entity::Equipment => {
            index::stored_owner_text(conn, record.entity.as_str(), &record.id)?
        }
        _ => None,
    };
    if record.deleted && matches!(record.base, Base::Same | Base::Absent) {
        row::remove(conn, record.entity, &record.id)?;
    } else {
        row::save_as(conn, &record, &mut reindex.saves)?;
    }
    let owner_changed = || {
        record.deleted
            || owner_before.as_ref()
                != Some(&index::owner_text(record.entity.as_str(), &record.body))
    };
    match record.entity {
        Entity::WorkOrder if record.deleted => {
            reindex.forget(&record.id);
            index::unindex_work_order(conn, &record.id)?;
        }
        Entity::WorkOrder => reindex.order(record.id, record.body),
        Entity::Customer if owner_changed() => {
            reindex.owners.push(("customer_id", record.id.clone()));
        }
        Entity::Equipment if owner_changed() => {
            reindex.owners.push(("equipment_id", record.id.clone()));
        }
        _ => {}
    }
    Ok(())
}

/// What one pulled page has done so far.
#[derive(Default)]
struct Page {
    stats: ApplyStats,
    reindex: Reindex,
    sla_changed: Option<SlaConfig>,
    /// The newest stamp seen: local edits made after this pull must order after it.
    newest: Option<String>,
}

impl Page {
    fn observe_clocks<'a>(&mut self, stamps: impl Iterator<Item = &'a str>) {
        for c in stamps {
            if self.newest.as_deref().is_none_or(|n| n < c) {
                self.newest = Some(c.to_owned());
            }
        }
    }
}

/// What applying a pulled page did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ApplyStats {
    pub put: usize,
    pub deleted: usize,
    pub revoked: usize,
    /// Records whose pending local operations were replayed on top of the server's row.
    pub rebased: usize,
    /// Records kept after a revoke because they still have pending operations.
    pub kept_pending: usize,
}

/// An operation the server did not apply, kept and shown to the engineer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct OpOutcome {
    pub op: Op,
    pub status: OpStatus,
    pub reason: Option<String>,
    pub decided_at: DateTime<Utc>,
}

impl Store {
    /// Applies one pulled page and records `cursor`, in one transaction.
    pub fn apply_pull(
        &mut self,
        changes: Vec<Change>,
        cursor: &str,
        server_time: DateTime<Utc>,
        local_now: DateTime<Utc>,
    ) -> Result<ApplyStats> {
        self.apply_page(
            changes.into_iter().map(Incoming::Parsed),
            cursor,
            server_time,
            local_now,
        )
    }

    /// [`Store::apply_pull`] for changes as the JSON text they came in (`Change` objects):
    /// the rows under an order with nothing pending here (checklist answers, part
    /// usages, …: most of a first sync) are written as they came, without being parsed
    /// into values and written out again.
    pub fn apply_pull_raw(
        &mut self,
        changes: &[Box<RawValue>],
        cursor: &str,
        server_time: DateTime<Utc>,
        local_now: DateTime<Utc>,
    ) -> Result<ApplyStats> {
        self.apply_page(
            changes.iter().map(|c| Incoming::Raw(c)),
            cursor,
            server_time,
            local_now,
        )
    }

    fn apply_page<'a>(
        &mut self,
        changes: impl Iterator<Item = Incoming<'a>>,
        cursor: &str,
        server_time: DateTime<Utc>,
        local_now: DateTime<Utc>,
    ) -> Result<ApplyStats> {
        let tx = self.conn.transaction()?;
        // The records with pending operations, read once: usually few or none.
        let pending_records: HashSet<(String, String)> = tx
            .prepare_cached("SELECT DISTINCT entity, record_id FROM outbox")?
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
        let pending_ids: HashSet<&str> =
            pending_records.iter().map(|(_, id)| id.as_str()).collect();
        // Ids are unique across entities (UUIDv7), so the id alone answers almost always.
        let has_pending = |entity: Entity, id: &str| {
            pending_ids.contains(id)
                && pending_records.contains(&(entity.as_str().to_owned(), id.to_owned()))
        };
        let mut page = Page::default();
        let resyncing = meta_get(&tx, RESYNC_KEY)?.is_some();
        let mut seen: Vec<(Entity, String)> = Vec::new();
        for incoming in changes {
            let change = match incoming {
                Incoming::Parsed(change) => {
                    if resyncing {
                        seen.push((change.entity, change.id.to_string()));
                    }
                    change
                }
                Incoming::Raw(raw) => {
                    let head: RawChange<'_> = serde_json::from_str(raw.get())
                        .map_err(|e| bad_change(raw, &e.to_string()))?;
                    let id = head.id.to_string();
                    if resyncing {
                        seen.push((head.entity, id.clone()));
                    }
                    match head.row {
                        Some(row)
                            if head.op == ChangeOp::Put
                                && written_as_is(head.entity)
                                && !has_pending(head.entity, &id) =>
                        {
                            let row = RawRow::split(head.entity, &id, row)?;
                            page.observe_clocks(row.clock_values());
                            row::save_text(
                                &tx,
                                &row::TextRecord::server_row(
                                    head.entity,
                                    &id,
                                    row.work_order_id.as_deref(),
                                    &row.body,
                                    row.clocks,
                                ),
                                &mut page.reindex.saves,
                            )?;
                            page.stats.put += 1;
                            continue;
                        }
                        _ => serde_json::from_str::<Change>(raw.get())
                            .map_err(|e| bad_change(raw, &e.to_string()))?,
                    }
                }
            };
            Self::apply_change(&tx, &self.sla, change, &has_pending, &mut page)?;
        }
        let Page {
            stats,
            reindex,
            sla_changed,
            newest,
        } = page;
        reindex.finish(&tx, &self.sla)?;
        if let Some(sla) = &sla_changed {
            index::reindex_all(&tx, sla)?;
        }
        for (entity, id) in &seen {
            tx.prepare_cached("DELETE FROM resync_unseen WHERE entity = ?1 AND id = ?2")?
                .execute(params![entity.as_str(), id])?;
        }
        meta_set(&tx, "cursor", cursor)?;
        let mut clock = self.clock.clone();
        clock.set_server_offset(server_time, local_now);
        if let Some(stamp) = newest.and_then(|s| s.parse::<onsite_domain::Hlc>().ok()) {
            clock.observe(&stamp, local_now);
        }
        meta_set(&tx, "hlc_offset_ms", &clock.offset_ms().to_string())?;
        meta_set(&tx, "hlc_last", &clock.last().to_string())?;
        tx.commit()?;
        self.clock = clock;
        if let Some(sla) = sla_changed {
            self.sla = sla;
        }
        Ok(stats)
    }

    /// One parsed change of a page: the general path, with the merge of pending work.
    fn apply_change(
        tx: &Connection,
        sla: &SlaConfig,
        change: Change,
        has_pending: &dyn Fn(Entity, &str) -> bool,
        page: &mut Page,
    ) -> Result<()> {
        let id = change.id.to_string();
        match change.op {
            ChangeOp::Put => {
                let Some(row) = change.row else {
                    return Err(StoreError::BadData {
                        what: format!("pulled {} {id}", change.entity),
                        detail: "a put without a row".into(),
                    });
                };
                let (body, clocks) = row::split_clocks(row);
                page.observe_clocks(clocks.values().filter_map(Value::as_str));
                if change.entity == Entity::FaultLevels {
                    page.sla_changed = Some(
                        serde_json::from_value::<SlaConfig>(Value::Object(body.clone())).map_err(
                            |e| StoreError::BadData {
                                what: "fault level table".into(),
                                detail: e.to_string(),
                            },
                        )?,
                    );
                }
                let pending = if change.entity.merge_rule() == MergeRule::ServerOwned
                    || !has_pending(change.entity, &id)
                {
                    Vec::new()
                } else {
                    pending_ops(tx, change.entity, &id)?
                };
                let mut record = StoredRecord {
                    entity: change.entity,
                    work_order_id: row::owner_of(change.entity, &id, &body),
                    id,
                    body,
                    clocks,
                    base: Base::Same,
                    deleted: false,
                };
                if !pending.is_empty() {
                    record.base = Base::Row(record.body.clone(), record.clocks.clone());
                    rebase(&mut record, &pending);
                    page.stats.rebased += 1;
                }
                store_record(tx, record, &mut page.reindex)?;
                page.stats.put += 1;
            }
            ChangeOp::Delete => {
                if change.entity == Entity::WorkOrder {
                    page.reindex.forget(&id);
                }
                if !has_pending(change.entity, &id) {
                    row::remove(tx, change.entity, &id)?;
                    if change.entity == Entity::WorkOrder {
                        index::unindex_work_order(tx, &id)?;
                    }
                } else if let Some(mut record) = row::load(tx, change.entity, &id)? {
                    // Keep what the engineer is still sending; the server will judge it.
                    record.deleted = true;
                    row::save(tx, &record)?;
                    if change.entity == Entity::WorkOrder {
                        index::unindex_work_order(tx, &id)?;
                    }
                }
                page.stats.deleted += 1;
            }
            ChangeOp::Revoke => {
                page.reindex.forget(&id);
                page.stats.kept_pending += revoke(tx, sla, &id)?;
                page.stats.revoked += 1;
            }
        }
        Ok(())
    }

    /// Records the server's answers to a push: accepted operations leave the outbox; the
    /// others are kept as outcomes for the engineer to see, and the records they touched
    /// are rebuilt from the server's row (quarantined ones stay visible as entered).
    pub fn record_push_results(
        &mut self,
        results: &[OpResult],
        server_time: DateTime<Utc>,
        local_now: DateTime<Utc>,
    ) -> Result<usize> {
        let tx = self.conn.transaction()?;
        let mut settled = 0;
        let mut reindex = Reindex::default();
        for result in results {
            let op_id = result.op_id.to_string();
            let found: Option<(String, String, String, i64, i64)> = {
                let mut stmt = tx.prepare_cached(
                    "DELETE FROM outbox WHERE op_id = ?1 RETURNING entity, record_id, op, seq, created_at",
                )?;
                let mut rows = stmt.query(params![op_id])?;
                match rows.next()? {
                    Some(r) => Some((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
                    None => None,
                }
            };
            let Some((entity, record_id, op_json, seq, created_at)) = found else {
                continue;
            };
            settled += 1;
            // Kept, whatever the answer, in case the server is restored from a backup that
            // lacks it: sent again then, it is answered again (an operation the dispatcher
            // kept in quarantine is kept again; one the restored server can apply is).
            tx.prepare_cached(
                "INSERT INTO acked_op (seq, op_id, entity, record_id, op, created_at, acked_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                 ON CONFLICT DO NOTHING",
            )?
            .execute(params![seq, op_id, entity, record_id, op_json, created_at, server_time.timestamp_millis()])?;
            if result.status.is_accepted() {
                // Answered otherwise before a restore, accepted now: nothing to show.
                tx.prepare_cached("DELETE FROM op_outcome WHERE op_id = ?1")?
                    .execute(params![op_id])?;
                continue;
            }
            tx.prepare_cached(
                "INSERT INTO op_outcome (op_id, entity, record_id, op, status, reason, decided_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                 ON CONFLICT (op_id) DO UPDATE SET status = excluded.status, reason = excluded.reason, decided_at = excluded.decided_at",
            )?
            .execute(params![op_id, entity, record_id, op_json, result.status.as_str(), result.reason, server_time.timestamp_millis()])?;
            if result.status == OpStatus::Quarantined {
                continue;
            }
            let entity: Entity = entity.parse()?;
            if let Some(mut record) = row::load(&tx, entity, &record_id)? {
                let pending = pending_ops(&tx, entity, &record_id)?;
                rebase(&mut record, &pending);
                store_record(&tx, record, &mut reindex)?;
            }
        }
        reindex.finish(&tx, &self.sla)?;
        // Aged by the server's clock, which the laptop's jumps (a year ahead, 90 days
        // behind) cannot move: judged by a clock a year ahead, the whole journal would go.
        let kept_since = (server_time - JOURNAL_DAYS).timestamp_millis();
        tx.prepare_cached("DELETE FROM acked_op WHERE acked_at < ?1")?
            .execute(params![kept_since])?;
        tx.prepare_cached(
            "DELETE FROM acked_op WHERE seq <= (SELECT seq FROM acked_op ORDER BY seq DESC LIMIT 1 OFFSET ?1)",
        )?
        .execute(params![JOURNAL_MAX])?;
        // Records with nothing pending any more show the server's row from now on.
        tx.execute(
            "UPDATE record SET base_body = NULL, base_clocks = NULL
             WHERE base_body IS NOT NULL
               AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.entity = record.entity AND o.record_id = record.id)",
            [],
        )?;
        let mut clock = self.clock.clone();
        clock.set_server_offset(server_time, local_now);
        meta_set(&tx, "hlc_offset_ms", &clock.offset_ms().to_string())?;
        tx.commit()?;
        self.clock = clock;
        Ok(settled)
    }

    /// Notes the history (`epoch`) that answered the last push: the journal's.
    pub fn note_acked_epoch(&self, epoch: &str) -> Result<()> {
        meta_set(&self.conn, "acked_epoch", epoch)
    }

    /// Whether the server answers from another history than the one that acknowledged the
    /// journal, which still holds work: restored from a backup since, it may lack that
    /// work, and a pull from the start (no cursor, so no epoch to refuse) would not say so.
    pub fn restored_since_acked(&self, epoch: &str) -> Result<bool> {
        let Some(acked) = meta_get(&self.conn, "acked_epoch")? else {
            return Ok(false);
        };
        if acked == epoch {
            return Ok(false);
        }
        let journal: bool =
            self.conn
                .query_row("SELECT EXISTS (SELECT 1 FROM acked_op)", [], |r| r.get(0))?;
        Ok(journal)
    }

    /// The oldest pending operations, in the order they were made (a push batch).
    /// The server's database was restored from an older backup (its history is not the one
    /// this laptop's cursor is of): sync again from the start. In one transaction, the
    /// operations the server answered in the last 30 days go back into the outbox ahead
    /// of those waiting (the server applies again what the backup lacks and answers the
    /// rest as duplicates), the cursor goes, and every record is marked unseen until the
    /// new pull brings it ([`Store::finish_resync`]). Returns how many go out again.
    pub fn begin_resync(&mut self) -> Result<usize> {
        let tx = self.conn.transaction()?;
        let journal: Vec<(String, String, String, String, i64)> = tx
            .prepare(
                "SELECT op_id, entity, record_id, op, created_at FROM acked_op
                 WHERE op_id NOT IN (SELECT op_id FROM outbox) ORDER BY seq",
            )?
            .query_map([], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
            })?
            .collect::<rusqlite::Result<_>>()?;
        let first: i64 =
            tx.query_row("SELECT coalesce(min(seq), 1) FROM outbox", [], |r| r.get(0))?;
        let n = i64::try_from(journal.len()).unwrap_or(i64::MAX);
        for (i, (op_id, entity, record_id, op, created_at)) in journal.iter().enumerate() {
            let seq = first - n + i64::try_from(i).unwrap_or(0);
            tx.prepare_cached(
                "INSERT INTO outbox (seq, op_id, entity, record_id, op, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![seq, op_id, entity, record_id, op, created_at])?;
            // Pending again: what the laptop holds is its base, or for a record it added,
            // none (the restored server may not have it).
            let appended = entity.parse::<Entity>()?.merge_rule() == MergeRule::AppendOnly;
            tx.prepare_cached(
                "UPDATE record SET base_body = CASE WHEN ?3 THEN 'null' ELSE body END,
                                   base_clocks = CASE WHEN ?3 THEN NULL ELSE clocks END
                 WHERE entity = ?1 AND id = ?2 AND base_body IS NULL",
            )?
            .execute(params![entity, record_id, appended])?;
        }
        tx.execute("DELETE FROM acked_op", [])?;
        // The restored server may have lost the photos sent since its backup: every one a
        // re-sent record shows is uploaded again (the server answers at once for those it
        // has).
        tx.execute(
            "DELETE FROM meta WHERE key LIKE 'blob\\_sent.%' ESCAPE '\\'",
            [],
        )?;
        tx.execute("DELETE FROM resync_unseen", [])?;
        tx.execute(
            "INSERT INTO resync_unseen (entity, id) SELECT entity, id FROM record",
            [],
        )?;
        tx.execute("DELETE FROM meta WHERE key = 'cursor'", [])?;
        meta_set(&tx, RESYNC_KEY, "1")?;
        tx.commit()?;
        Ok(journal.len())
    }

    /// Ends a sync from the start once its pull is complete: the records it did not bring
    /// are no longer in the server's history (or this engineer's scope) and are dropped,
    /// except those with work waiting to be sent. Returns how many were dropped.
    pub fn finish_resync(&mut self) -> Result<usize> {
        if meta_get(&self.conn, RESYNC_KEY)?.is_none() {
            return Ok(0);
        }
        let tx = self.conn.transaction()?;
        let gone: Vec<(String, String)> = tx
            .prepare(
                "SELECT u.entity, u.id FROM resync_unseen u
                 WHERE NOT EXISTS (SELECT 1 FROM outbox o WHERE o.entity = u.entity AND o.record_id = u.id)",
            )?
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
        for (entity, id) in &gone {
            if entity == Entity::WorkOrder.as_str() {
                index::unindex_work_order(&tx, id)?;
            }
            tx.prepare_cached("DELETE FROM record WHERE entity = ?1 AND id = ?2")?
                .execute(params![entity, id])?;
        }
        tx.execute("DELETE FROM resync_unseen", [])?;
        tx.execute("DELETE FROM meta WHERE key = ?1", params![RESYNC_KEY])?;
        tx.commit()?;
        Ok(gone.len())
    }

    pub fn pending_batch(&self, limit: usize) -> Result<Vec<Op>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT op FROM outbox ORDER BY seq LIMIT ?1")?;
        let rows = stmt.query_map(params![i64::try_from(limit).unwrap_or(i64::MAX)], |r| {
            r.get::<_, String>(0)
        })?;
        let mut ops = Vec::new();
        for json in rows {
            ops.push(
                serde_json::from_str(&json?).map_err(|e| StoreError::BadData {
                    what: "outbox operation".into(),
                    detail: e.to_string(),
                })?,
            );
        }
        Ok(ops)
    }

    /// How many operations wait to be sent.
    pub fn pending_count(&self) -> Result<i64> {
        Ok(self
            .conn
            .query_row("SELECT COUNT(*) FROM outbox", [], |r| r.get(0))?)
    }

    /// Operations the server did not apply, newest first.
    pub fn outcomes(&self) -> Result<Vec<OpOutcome>> {
        Ok(self
            .outcomes_where("1 = 1", &[])?
            .into_iter()
            .map(|(o, _)| o)
            .collect())
    }

    /// The operations on `order` or on a record under it that the server did not apply,
    /// newest first, with whether the engineer has seen them.
    pub fn outcomes_of_order(&self, order: uuid::Uuid) -> Result<Vec<(OpOutcome, bool)>> {
        self.outcomes_where(OF_ORDER, &[&order.to_string()])
    }

    /// How many of the operations the server did not apply the engineer has not seen yet.
    pub fn unseen_outcomes(&self) -> Result<i64> {
        Ok(self
            .conn
            .query_row("SELECT COUNT(*) FROM op_outcome WHERE seen = 0", [], |r| {
                r.get(0)
            })?)
    }

    /// The engineer has read what happened to `order`'s operations.
    pub fn mark_outcomes_seen(&mut self, order: uuid::Uuid) -> Result<()> {
        self.conn
            .prepare_cached(&format!("UPDATE op_outcome SET seen = 1 WHERE {OF_ORDER}"))?
            .execute(params![order.to_string()])?;
        Ok(())
    }

    fn outcomes_where(
        &self,
        filter: &str,
        args: &[&dyn rusqlite::ToSql],
    ) -> Result<Vec<(OpOutcome, bool)>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT op, status, reason, decided_at, seen FROM op_outcome WHERE {filter} ORDER BY decided_at DESC, op_id"
        ))?;
        let rows = stmt.query_map(args, |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, Option<String>>(2)?,
                r.get::<_, i64>(3)?,
                r.get::<_, bool>(4)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (op, status, reason, at, seen) = row?;
            let bad = |detail: String| StoreError::BadData {
                what: "operation outcome".into(),
                detail,
            };
            let outcome = OpOutcome {
                op: serde_json::from_str(&op).map_err(|e| bad(e.to_string()))?,
                status: serde_json::from_value(Value::String(status))
                    .map_err(|e| bad(e.to_string()))?,
                reason,
                decided_at: DateTime::from_timestamp_millis(at).unwrap_or_default(),
            };
            out.push((outcome, seen));
        }
        Ok(out)
    }
}

/// The outcomes of one order (`?1`): of the order itself, of a record appended under it
/// (its `work_order_id` in the operation), or of a record under it here.
const OF_ORDER: &str = "record_id = ?1 OR json_extract(op, '$.fields.work_order_id') = ?1 OR record_id IN (SELECT id FROM record WHERE work_order_id = ?1)";

/// Drops an order that left this engineer's scope, and everything under it, except the
/// records that still have pending operations (and the order itself when any does).
/// Returns how many records were kept.
fn revoke(conn: &Connection, sla: &SlaConfig, order_id: &str) -> Result<usize> {
    let kept: usize = conn
        .prepare_cached("SELECT COUNT(*) FROM record r WHERE r.work_order_id = ?1 AND EXISTS (SELECT 1 FROM outbox o WHERE o.entity = r.entity AND o.record_id = r.id)")?
        .query_row(params![order_id], |r| r.get::<_, i64>(0))
        .map(|n| usize::try_from(n).unwrap_or(0))?;
    conn.prepare_cached("DELETE FROM record WHERE work_order_id = ?1 AND entity <> 'work_order' AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.entity = record.entity AND o.record_id = record.id)")?
        .execute(params![order_id])?;
    if kept == 0 {
        let order = row::load(conn, Entity::WorkOrder, order_id)?;
        row::remove(conn, Entity::WorkOrder, order_id)?;
        index::unindex_work_order(conn, order_id)?;
        // Its customer and equipment came with it: they go too, unless another order
        // here still refers to them or they have unsent changes.
        if let Some(order) = order {
            for (entity, field) in [
                (Entity::Equipment, "equipment_id"),
                (Entity::Customer, "customer_id"),
            ] {
                let Some(id) = order.body.get(field).and_then(Value::as_str) else {
                    continue;
                };
                conn.prepare_cached(
                    "DELETE FROM record WHERE entity = ?1 AND id = ?2
                       AND NOT EXISTS (SELECT 1 FROM record w WHERE w.entity = 'work_order'
                                       AND json_extract(w.body, '$.' || ?3) = ?2)
                       AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.entity = ?1 AND o.record_id = ?2)",
                )?
                .execute(params![entity.as_str(), id, field])?;
            }
        }
    } else if let Some(order) = row::load(conn, Entity::WorkOrder, order_id)? {
        // Still shown, marked as no longer assigned, until its pending work is settled.
        index::index_work_order(conn, sla, order_id, &order.body, true, false)?;
    }
    Ok(kept)
}
