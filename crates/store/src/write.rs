//! Local writes. Each one checks the domain rules, changes the visible row, and appends
//! its outbox operation in the same transaction: when the call returns, both are on disk.

use chrono::{DateTime, Utc};
use onsite_domain::authority;
use onsite_domain::completion::{self, UnderOrder};
use onsite_domain::protocol::{MergeRule, Transition};
use onsite_domain::records::PartUsage;
use onsite_domain::work_order::{self, Role};
use onsite_domain::{DomainError, Entity, Op, OpKind, Status, WorkOrder};
use rusqlite::{Connection, params};
use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

use crate::merge::apply_op;
use crate::row::{self, Base, Fields, StoredRecord, typed};
use crate::{Result, Store, StoreError, index};

impl Store {
    /// Changes fields of a mutable record (customer, equipment, work order other than its
    /// status, checklist item). Creates the record if it is not here yet.
    pub fn update(
        &mut self,
        entity: Entity,
        id: Uuid,
        fields: Fields,
        now: DateTime<Utc>,
    ) -> Result<Op> {
        self.write_one(entity, id, OpKind::Upsert, Some(fields), now)
    }

    /// One operation, stamped, checked, applied and queued in its own transaction.
    fn write_one(
        &mut self,
        entity: Entity,
        id: Uuid,
        kind: OpKind,
        fields: Option<Fields>,
        now: DateTime<Utc>,
    ) -> Result<Op> {
        let tx = self.conn.transaction()?;
        let hlc = Store::stamp(&mut self.clock, &tx, now)?;
        let op = Op {
            op_id: Uuid::now_v7(),
            hlc,
            entity,
            id,
            kind,
            fields,
            transition: None,
        };
        op.validate()?;
        write_op(&tx, &self.sla, &op, now)?;
        tx.commit()?;
        Ok(op)
    }

    /// Adds an append-only record (part usage, log entry, photo, signature, …). The record
    /// must carry its `id` and `work_order_id`, and the order must be on this laptop.
    pub fn append<T: Serialize>(
        &mut self,
        entity: Entity,
        record: &T,
        now: DateTime<Utc>,
    ) -> Result<Op> {
        let record = serde_json::to_value(record).map_err(|e| DomainError::Invalid {
            field: "record",
            message: e.to_string(),
        })?;
        self.append_all(&[(entity, record)], now)?
            .pop()
            .ok_or_else(|| StoreError::BadData {
                what: "an append".into(),
                detail: "no operation was written".into(),
            })
    }

    /// Appends several records in one transaction: all of them are on disk, or none (a
    /// signature and the quote it approves).
    pub fn append_all(
        &mut self,
        records: &[(Entity, Value)],
        now: DateTime<Utc>,
    ) -> Result<Vec<Op>> {
        let tx = self.conn.transaction()?;
        let mut ops = Vec::with_capacity(records.len());
        for (entity, record) in records {
            let Value::Object(fields) = record else {
                return Err(DomainError::Invalid {
                    field: "record",
                    message: "a record must be a JSON object".into(),
                }
                .into());
            };
            let id = fields
                .get("id")
                .and_then(Value::as_str)
                .and_then(|s| s.parse::<Uuid>().ok())
                .ok_or(DomainError::Invalid {
                    field: "id",
                    message: "the record needs a UUID id".into(),
                })?;
            let hlc = Store::stamp(&mut self.clock, &tx, now)?;
            let op = Op {
                op_id: Uuid::now_v7(),
                hlc,
                entity: *entity,
                id,
                kind: OpKind::Append,
                fields: Some(fields.clone()),
                transition: None,
            };
            op.validate()?;
            write_op(&tx, &self.sla, &op, now)?;
            ops.push(op);
        }
        tx.commit()?;
        Ok(ops)
    }

    /// Moves a work order to `to` as its engineer, with the fields that go with it (a new
    /// date when postponing, the repair start time…), checking the transition table and
    /// the repair-start and completion rules.
    pub fn transition(
        &mut self,
        order_id: Uuid,
        to: Status,
        fields: Fields,
        now: DateTime<Utc>,
    ) -> Result<Vec<Op>> {
        let tx = self.conn.transaction()?;
        let id = order_id.to_string();
        let record = row::load(&tx, Entity::WorkOrder, &id)?
            .filter(|r| !r.deleted)
            .ok_or_else(|| not_found(Entity::WorkOrder, &id))?;
        let mut order: WorkOrder = typed(&record.body, "work order")?;
        work_order::check_transition(order.status, to, Role::Engineer)?;
        let from = order.status;
        let before = order.clone();
        let mut ops = Vec::new();
        if !fields.is_empty() {
            let hlc = Store::stamp(&mut self.clock, &tx, now)?;
            let op = Op {
                op_id: Uuid::now_v7(),
                hlc,
                entity: Entity::WorkOrder,
                id: order_id,
                kind: OpKind::Upsert,
                fields: Some(fields.clone()),
                transition: None,
            };
            op.validate()?;
            ops.push(op);
            let mut body = record.body.clone();
            body.extend(fields);
            order = typed(&body, "work order")?;
        }
        order.status = to;
        if to == Status::Postponed {
            work_order::check_postpone(&before, &order, now)?;
        }
        check_transition_rules(&tx, &order, to)?;
        let hlc = Store::stamp(&mut self.clock, &tx, now)?;
        ops.push(Op {
            op_id: Uuid::now_v7(),
            hlc,
            entity: Entity::WorkOrder,
            id: order_id,
            kind: OpKind::Transition,
            fields: None,
            transition: Some(Transition { from, to }),
        });
        for op in &ops {
            write_op(&tx, &self.sla, op, now)?;
        }
        tx.commit()?;
        Ok(ops)
    }

    /// Deletes a mutable record (a tombstone the server applies by its clock).
    pub fn delete(&mut self, entity: Entity, id: Uuid, now: DateTime<Utc>) -> Result<Op> {
        if entity.merge_rule() != MergeRule::Mutable {
            return Err(DomainError::Invalid {
                field: "entity",
                message: format!(
                    "{entity} records are never deleted: append a correction that voids them"
                ),
            }
            .into());
        }
        self.write_one(entity, id, OpKind::Delete, None, now)
    }
}

fn not_found(entity: Entity, id: &str) -> StoreError {
    StoreError::NotFound {
        entity: entity.to_string(),
        id: id.to_owned(),
    }
}

/// Applies `op` to its record, checks the result, and queues the op in the outbox.
fn write_op(
    tx: &Connection,
    sla: &onsite_domain::sla::SlaConfig,
    op: &Op,
    now: DateTime<Utc>,
) -> Result<()> {
    let id = op.id.to_string();
    let existing = row::load(tx, op.entity, &id)?;
    check_authority(tx, op, existing.as_ref())?;
    let mut record = match (existing, op.kind) {
        (Some(r), OpKind::Append) => {
            return Err(StoreError::AlreadyExists {
                entity: r.entity.to_string(),
                id: r.id,
            });
        }
        (Some(r), _) if r.deleted => return Err(not_found(op.entity, &id)),
        (Some(r), _) => r,
        (None, OpKind::Upsert | OpKind::Append) => StoredRecord {
            entity: op.entity,
            id: id.clone(),
            work_order_id: None,
            body: Fields::new(),
            clocks: Fields::new(),
            base: Base::Absent,
            deleted: false,
        },
        (None, _) => return Err(not_found(op.entity, &id)),
    };
    if record.base == Base::Same {
        record.base = Base::Row(record.body.clone(), record.clocks.clone());
    }
    if op.kind == OpKind::Upsert && !record.body.contains_key("id") {
        record.body.insert("id".into(), Value::String(id.clone()));
    }
    apply_op(&mut record, op);
    record.work_order_id = row::owner_of(op.entity, &id, &record.body);
    if !record.deleted {
        validate_body(tx, op.entity, &record.body)?;
    }
    if op.entity.is_under_work_order() || op.entity == Entity::WorkOrder {
        let order = record.work_order_id.clone().unwrap_or_default();
        let present: bool = tx.prepare_cached("SELECT EXISTS (SELECT 1 FROM record WHERE entity = 'work_order' AND id = ?1 AND deleted = 0)")?.query_row(params![order], |r| r.get(0))?;
        if !present && op.entity != Entity::WorkOrder {
            return Err(not_found(Entity::WorkOrder, &order));
        }
    }
    row::save(tx, &record)?;
    match op.entity {
        Entity::WorkOrder if record.deleted => index::unindex_work_order(tx, &id)?,
        Entity::WorkOrder => index::index_work_order(tx, sla, &id, &record.body, false, false)?,
        Entity::Customer => index::reindex_orders_of(tx, sla, "customer_id", &id)?,
        Entity::Equipment => index::reindex_orders_of(tx, sla, "equipment_id", &id)?,
        _ => {}
    }
    let json = serde_json::to_string(op).map_err(|e| StoreError::BadData {
        what: "operation".into(),
        detail: e.to_string(),
    })?;
    tx.prepare_cached(
        "INSERT INTO outbox (op_id, entity, record_id, op, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![
        op.op_id.to_string(),
        op.entity.as_str(),
        id,
        json,
        now.timestamp_millis()
    ])?;
    Ok(())
}

/// The server's table of who writes what, checked before the op is queued: what the
/// server would refuse is refused here, where the engineer can still see why.
fn check_authority(tx: &Connection, op: &Op, existing: Option<&StoredRecord>) -> Result<()> {
    let exists = existing.is_some_and(|r| !r.deleted);
    let order_id = match (op.entity, existing) {
        (Entity::Customer | Entity::Equipment, _) => None,
        (Entity::WorkOrder, _) => Some(op.id.to_string()),
        (_, Some(r)) => r.work_order_id.clone(),
        (_, None) => op
            .fields
            .as_ref()
            .and_then(|f| f.get("work_order_id"))
            .and_then(Value::as_str)
            .map(str::to_owned),
    };
    let order_status = match order_id {
        Some(order) => row::load(tx, Entity::WorkOrder, &order)?.and_then(|o| {
            o.body
                .get("status")
                .and_then(Value::as_str)
                .and_then(|s| s.parse::<Status>().ok())
        }),
        None => None,
    };
    authority::check_write(Role::Engineer, op, exists, order_status)?;
    Ok(())
}

/// Refuses a body the app could not read back, or that breaks a rule of its entity.
fn validate_body(tx: &Connection, entity: Entity, body: &Fields) -> Result<()> {
    if entity.merge_rule() == onsite_domain::protocol::MergeRule::ServerOwned {
        return Err(DomainError::Invalid {
            field: "entity",
            message: format!("{entity} is the server's reference data"),
        }
        .into());
    }
    onsite_domain::rows::validate_row(entity, body)?;
    if entity == Entity::PartUsage {
        let usage = typed::<PartUsage>(body, "part usage")?;
        let voided = match usage.voids {
            Some(v) => crate::query::part_usage(tx, v)?,
            None => None,
        };
        for (_, available, change) in crate::query::van_left_before(tx, &usage, voided.as_ref())? {
            if available + change < 0 {
                return Err(DomainError::Invalid {
                    field: "quantity",
                    message: format!("only {available} of this part left in your van stock: lower the quantity or record it as not from the van"),
                }
                .into());
            }
        }
    }
    Ok(())
}

/// The domain's rules of a move (`completion::check_move`, the server's too) against what
/// this laptop holds under the order; `order` is the order as it will be after the move.
fn check_transition_rules(tx: &Connection, order: &WorkOrder, to: Status) -> Result<()> {
    if !completion::move_reads_records(to) {
        return Ok(completion::check_move(order, to, &UnderOrder::default())?);
    }
    let id = order.id.to_string();
    let under = UnderOrder {
        quotes: crate::query::records_under(tx, &id, Entity::Quote)?,
        signatures: crate::query::records_under(tx, &id, Entity::Signature)?,
        checklist: crate::query::records_under(tx, &id, Entity::ChecklistItem)?,
        part_usages: crate::query::records_under(tx, &id, Entity::PartUsage)?,
        settlements: crate::query::records_under(tx, &id, Entity::Settlement)?,
    };
    Ok(completion::check_move(order, to, &under)?)
}
