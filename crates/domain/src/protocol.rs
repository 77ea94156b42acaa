//! The messages of the sync protocol (PROTOCOL.md), shared by client and server, and the
//! entity names with the merge rule each one follows.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::DomainError;
use crate::hlc::Hlc;
use crate::work_order::Status;

/// The most operations one push may carry.
pub const MAX_OPS_PER_PUSH: usize = 1000;
/// The largest push body, in bytes.
pub const MAX_PUSH_BYTES: usize = 8 * 1024 * 1024;
/// The largest blob, in bytes.
pub const MAX_BLOB_BYTES: usize = 25 * 1024 * 1024;
/// The largest piece of a blob uploaded in pieces (`PUT /v1/blobs/{sha256}/upload`).
pub const MAX_BLOB_PIECE_BYTES: usize = 8 * 1024 * 1024;

/// Where an upload in pieces stands (`GET /v1/blobs/{sha256}/upload`): `complete` once
/// the blob is stored; `total` once a first piece said it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UploadState {
    pub received: u64,
    pub total: Option<u64>,
    pub complete: bool,
}
/// The key of a pulled row that carries its per-field clocks.
pub const CLOCKS_KEY: &str = "_clocks";

/// The first field of a snapshot's header line (`GET /v1/sync/snapshot`): the format and
/// its version. A snapshot is text, one line per record:
/// `onsite-snapshot/1 TAB cursor TAB server_time TAB epoch` (the epoch the cursor is of,
/// as `epoch` of a pull answer; readers ignore what follows), then
/// `entity TAB id TAB work_order_id (empty when none) TAB row JSON TAB clocks JSON` per
/// record, then `end TAB count`. Rows are compact JSON, which never holds a raw tab or
/// newline. A snapshot without its trailer was cut off and must not be used.
pub const SNAPSHOT_MAGIC: &str = "onsite-snapshot/1";
/// In a clock map, the clock of every field not listed by name. A row written at once has
/// just this one entry, which keeps rows small on the wire and on disk.
pub const DEFAULT_CLOCK_KEY: &str = "*";

/// The clock of `field` in a clock map (HLC strings; string order is clock order).
pub fn field_clock<'a>(clocks: &'a Map<String, Value>, field: &str) -> Option<&'a str> {
    clocks
        .get(field)
        .or_else(|| clocks.get(DEFAULT_CLOCK_KEY))
        .and_then(Value::as_str)
}

/// How records of an entity merge (PROTOCOL.md, principle 5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum MergeRule {
    /// Field-level last-writer-wins by HLC; `status` of a work order moves only by
    /// transitions.
    Mutable,
    /// Inserted once by id, never edited; corrected by a new record with `voids`.
    AppendOnly,
    /// Owned by the server (reference data, van stock counts): the client never writes it.
    ServerOwned,
}

/// The synced entities, named as in PROTOCOL.md.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Entity {
    Customer,
    Equipment,
    WorkOrder,
    ChecklistItem,
    CheckIn,
    ArrivalCall,
    PartUsage,
    VanStock,
    Quote,
    TimeEntry,
    Expense,
    LogEntry,
    Milestone,
    Signature,
    Attachment,
    Satisfaction,
    FollowUp,
    Training,
    Settlement,
    WarehouseReceipt,
    /// 首问负责: a new request registered on site.
    ServiceRequest,
    /// Reference data.
    Part,
    ChecklistTemplate,
    FaultLevels,
    FeeSchedule,
    /// The service company's letterhead printed on every document.
    Company,
}

impl Entity {
    pub const ALL: [Entity; 26] = [
        Entity::Customer,
        Entity::Equipment,
        Entity::WorkOrder,
        Entity::ChecklistItem,
        Entity::CheckIn,
        Entity::ArrivalCall,
        Entity::PartUsage,
        Entity::VanStock,
        Entity::Quote,
        Entity::TimeEntry,
        Entity::Expense,
        Entity::LogEntry,
        Entity::Milestone,
        Entity::Signature,
        Entity::Attachment,
        Entity::Satisfaction,
        Entity::FollowUp,
        Entity::Training,
        Entity::Settlement,
        Entity::WarehouseReceipt,
        Entity::ServiceRequest,
        Entity::Part,
        Entity::ChecklistTemplate,
        Entity::FaultLevels,
        Entity::FeeSchedule,
        Entity::Company,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Entity::Customer => "customer",
            Entity::Equipment => "equipment",
            Entity::WorkOrder => "work_order",
            Entity::ChecklistItem => "checklist_item",
            Entity::CheckIn => "check_in",
            Entity::ArrivalCall => "arrival_call",
            Entity::PartUsage => "part_usage",
            Entity::VanStock => "van_stock",
            Entity::Quote => "quote",
            Entity::TimeEntry => "time_entry",
            Entity::Expense => "expense",
            Entity::LogEntry => "log_entry",
            Entity::Milestone => "milestone",
            Entity::Signature => "signature",
            Entity::Attachment => "attachment",
            Entity::Satisfaction => "satisfaction",
            Entity::FollowUp => "follow_up",
            Entity::Training => "training",
            Entity::Settlement => "settlement",
            Entity::WarehouseReceipt => "warehouse_receipt",
            Entity::ServiceRequest => "service_request",
            Entity::Part => "part",
            Entity::ChecklistTemplate => "checklist_template",
            Entity::FaultLevels => "fault_levels",
            Entity::FeeSchedule => "fee_schedule",
            Entity::Company => "company",
        }
    }

    pub fn merge_rule(self) -> MergeRule {
        match self {
            Entity::Customer | Entity::Equipment | Entity::WorkOrder | Entity::ChecklistItem => {
                MergeRule::Mutable
            }
            Entity::VanStock
            | Entity::Part
            | Entity::ChecklistTemplate
            | Entity::FaultLevels
            | Entity::FeeSchedule
            | Entity::Company => MergeRule::ServerOwned,
            _ => MergeRule::AppendOnly,
        }
    }

    /// Whether records of this entity hang under a work order (carry `work_order_id`).
    pub fn is_under_work_order(self) -> bool {
        !matches!(
            self,
            Entity::Customer | Entity::Equipment | Entity::WorkOrder | Entity::VanStock
        ) && self.merge_rule() != MergeRule::ServerOwned
    }
}

impl fmt::Display for Entity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Entity {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, DomainError> {
        Entity::ALL
            .into_iter()
            .find(|e| e.as_str() == s)
            .ok_or_else(|| DomainError::Invalid {
                field: "entity",
                message: format!("unknown entity {s:?}"),
            })
    }
}

/// Field-level last-writer-wins: each field of `fields` replaces the row's value when
/// `hlc` is newer than that field's clock. The one merge rule for mutable records, applied
/// by the client (replaying pending operations) and the server (applying a push) alike.
/// Returns the fields that lost (kept their newer value): none when everything was taken,
/// all of them when nothing changed.
pub fn merge_fields<'a>(
    row: &mut Map<String, Value>,
    clocks: &mut Map<String, Value>,
    fields: &'a Map<String, Value>,
    hlc: &Hlc,
) -> Vec<&'a str> {
    let stamp = hlc.to_string();
    let mut lost = Vec::new();
    for (k, v) in fields {
        if field_clock(clocks, k).is_none_or(|c| c < stamp.as_str()) {
            row.insert(k.clone(), v.clone());
            clocks.insert(k.clone(), Value::String(stamp.clone()));
        } else {
            lost.push(k.as_str());
        }
    }
    lost
}

/// What an operation does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum OpKind {
    /// The fields that changed.
    Upsert,
    /// The whole append-only record.
    Append,
    /// A status transition `{from, to}`.
    Transition,
    /// A tombstone.
    Delete,
}

/// A status transition carried by an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Transition {
    pub from: Status,
    pub to: Status,
}

impl Transition {
    /// Moves an order's stored row (its JSON and its per-field clocks) from `from` to
    /// `to`, stamped `hlc`: the one way a move changes a row, on the laptop (its own moves
    /// and pulled ones) and on the server (pushed and office moves). Whether the move is
    /// allowed is the caller's check (`work_order::check_transition`,
    /// `completion::check_move`); here only that the order is still where the move
    /// starts. Otherwise nothing changes and the answer is where it is now.
    pub fn apply(
        self,
        row: &mut Map<String, Value>,
        clocks: &mut Map<String, Value>,
        hlc: &str,
    ) -> Result<(), Option<Status>> {
        let now = row_status(row);
        if now != Some(self.from) {
            return Err(now);
        }
        row.insert("status".into(), Value::String(self.to.as_str().into()));
        clocks.insert("status".into(), Value::String(hlc.into()));
        Ok(())
    }
}

/// The status of an order's stored row, if it has a known one.
pub fn row_status(row: &Map<String, Value>) -> Option<Status> {
    row.get("status")
        .and_then(Value::as_str)
        .and_then(|s| s.parse().ok())
}

/// One operation of the outbox, as pushed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Op {
    pub op_id: Uuid,
    #[cfg_attr(feature = "ts", ts(type = "string"))]
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "001795350000000-00000-laptop-1"))]
    pub hlc: Hlc,
    pub entity: Entity,
    pub id: Uuid,
    pub kind: OpKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fields: Option<Map<String, Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transition: Option<Transition>,
}

impl Op {
    /// Checks that the operation has what its kind needs.
    pub fn validate(&self) -> Result<(), DomainError> {
        let invalid = |message: &str| {
            Err(DomainError::Invalid {
                field: "op",
                message: format!("{} {}: {message}", self.entity, self.id),
            })
        };
        if self.entity.merge_rule() == MergeRule::ServerOwned {
            return invalid("this entity is the server's; the client cannot change it");
        }
        match self.kind {
            OpKind::Upsert if self.entity.merge_rule() != MergeRule::Mutable => {
                invalid("append-only records cannot be edited: append a new one that voids it")
            }
            OpKind::Upsert => match &self.fields {
                Some(f) if f.is_empty() => invalid("an upsert needs at least one field"),
                Some(f) if f.contains_key("status") && self.entity == Entity::WorkOrder => {
                    invalid("status changes only by a transition")
                }
                Some(f) if f.contains_key("id") || f.contains_key(CLOCKS_KEY) => {
                    invalid("id and clocks cannot be set")
                }
                Some(_) => Ok(()),
                None => invalid("an upsert needs fields"),
            },
            OpKind::Append if self.entity.merge_rule() != MergeRule::AppendOnly => {
                invalid("only append-only records are appended")
            }
            OpKind::Append => match &self.fields {
                Some(f) if f.get("work_order_id").and_then(Value::as_str).is_some() => Ok(()),
                _ => invalid("an appended record needs its fields with work_order_id"),
            },
            OpKind::Transition if self.entity != Entity::WorkOrder => {
                invalid("only work orders have transitions")
            }
            OpKind::Transition if self.transition.is_none() => {
                invalid("a transition needs {from, to}")
            }
            OpKind::Transition | OpKind::Delete => Ok(()),
        }
    }
}

/// `POST /v1/sync/push` body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PushRequest {
    pub device_id: String,
    #[cfg_attr(feature = "openapi", schema(max_items = 1000))]
    pub ops: Vec<Op>,
}

/// The server's verdict on one operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum OpStatus {
    Applied,
    Duplicate,
    Rejected,
    Conflict,
    Quarantined,
}

impl OpStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            OpStatus::Applied => "applied",
            OpStatus::Duplicate => "duplicate",
            OpStatus::Rejected => "rejected",
            OpStatus::Conflict => "conflict",
            OpStatus::Quarantined => "quarantined",
        }
    }

    /// The server has taken the operation in: it is done from the client's side.
    pub fn is_accepted(self) -> bool {
        matches!(self, OpStatus::Applied | OpStatus::Duplicate)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OpResult {
    pub op_id: Uuid,
    pub status: OpStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PushResponse {
    pub results: Vec<OpResult>,
    pub server_time: DateTime<Utc>,
    /// The history (`epoch`) that gave these answers: a laptop that later pulls from
    /// another one knows the server was restored since, and sends its journal again, even
    /// with no cursor to compare (a sync from the start was under way).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epoch: Option<String>,
}

/// What a change does to the client's copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum ChangeOp {
    /// The whole current row, its per-field clocks under `_clocks`.
    Put,
    Delete,
    /// The order left this engineer's scope: drop it and everything under it, except
    /// what still has pending operations.
    Revoke,
}

/// One entry of the server's change log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Change {
    pub seq: i64,
    pub entity: Entity,
    pub id: Uuid,
    pub op: ChangeOp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub row: Option<Map<String, Value>>,
}

impl Change {
    /// A `put` of a whole record, every field stamped with `hlc` (a record the server
    /// created or last wrote at once): `_clocks` is `{"*": hlc}`.
    pub fn put_record<T: Serialize>(
        seq: i64,
        entity: Entity,
        record: &T,
        hlc: &Hlc,
    ) -> Result<Change, DomainError> {
        let mut row = match serde_json::to_value(record) {
            Ok(Value::Object(m)) => m,
            _ => {
                return Err(DomainError::Invalid {
                    field: "row",
                    message: format!("a {entity} must serialise to a JSON object"),
                });
            }
        };
        let id = row
            .get("id")
            .and_then(Value::as_str)
            .and_then(|s| s.parse::<Uuid>().ok())
            .ok_or_else(|| DomainError::Invalid {
                field: "id",
                message: format!("a {entity} row needs a UUID id"),
            })?;
        let clocks =
            Map::from_iter([(DEFAULT_CLOCK_KEY.to_owned(), Value::String(hlc.to_string()))]);
        row.insert(CLOCKS_KEY.to_owned(), Value::Object(clocks));
        Ok(Change {
            seq,
            entity,
            id,
            op: ChangeOp::Put,
            row: Some(row),
        })
    }
}

/// `GET /v1/sync/pull` answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PullResponse {
    pub changes: Vec<Change>,
    pub cursor: String,
    pub has_more: bool,
    pub server_time: DateTime<Utc>,
    /// The identity of the server database's history the cursor belongs to: sent back
    /// with the next pull (`?epoch=`).
    #[serde(default)]
    pub epoch: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_move_changes_the_status_and_its_clock_only_from_where_it_starts() {
        let mut row = Map::new();
        row.insert("status".into(), Value::String("on_site".into()));
        row.insert("fault_description".into(), Value::String("过流".into()));
        let mut clocks = Map::new();
        let t = Transition {
            from: Status::OnSite,
            to: Status::Diagnosing,
        };
        assert_eq!(t.apply(&mut row, &mut clocks, "hlc-1"), Ok(()));
        assert_eq!(row_status(&row), Some(Status::Diagnosing));
        assert_eq!(clocks["status"], "hlc-1");
        assert_eq!(row["fault_description"], "过流");
        let before = (row.clone(), clocks.clone());
        assert_eq!(
            t.apply(&mut row, &mut clocks, "hlc-2"),
            Err(Some(Status::Diagnosing)),
            "already moved on: nothing changes"
        );
        assert_eq!((row, clocks), before);
    }

    #[test]
    fn a_field_takes_the_newer_write_whatever_order_they_arrive_in() {
        let older: Hlc = "001795350000000-00000-a".parse().expect("valid");
        let newer: Hlc = "001795350000001-00000-b".parse().expect("valid");
        let set = |v: &str| Map::from_iter([("diagnosis".to_owned(), Value::from(v))]);
        for order in [
            [(&older, "old"), (&newer, "new")],
            [(&newer, "new"), (&older, "old")],
        ] {
            let mut row = Map::new();
            let mut clocks = Map::from_iter([(
                DEFAULT_CLOCK_KEY.to_owned(),
                Value::from("000000000000001-00000-s"),
            )]);
            for (hlc, v) in order {
                merge_fields(&mut row, &mut clocks, &set(v), hlc);
            }
            assert_eq!(row["diagnosis"], "new");
            assert_eq!(
                field_clock(&clocks, "diagnosis"),
                Some(newer.to_string().as_str())
            );
            assert_eq!(
                field_clock(&clocks, "other"),
                Some("000000000000001-00000-s"),
                "untouched fields keep the row clock"
            );
        }
    }

    #[test]
    fn entity_names_are_those_of_the_protocol() {
        for e in Entity::ALL {
            assert_eq!(
                serde_json::to_value(e).expect("serialises"),
                Value::String(e.as_str().into())
            );
            assert_eq!(e.as_str().parse::<Entity>().expect("parses"), e);
        }
    }

    #[test]
    fn an_op_round_trips_in_the_wire_shape() {
        let json = serde_json::json!({
            "op_id": "0192f0c4-7a1b-7000-8000-000000000001",
            "hlc": "001795350000000-00000-dev1",
            "entity": "work_order",
            "id": "0192f0c4-7a1b-7000-8000-000000000002",
            "kind": "transition",
            "transition": {"from": "assigned", "to": "accepted"}
        });
        let op: Op = serde_json::from_value(json.clone()).expect("parses");
        assert!(op.validate().is_ok());
        assert_eq!(serde_json::to_value(&op).expect("serialises"), json);
    }

    #[test]
    fn ops_that_break_the_merge_rules_are_invalid() {
        let base = Op {
            op_id: Uuid::nil(),
            hlc: "001795350000000-00000-dev1".parse().expect("valid"),
            entity: Entity::LogEntry,
            id: Uuid::nil(),
            kind: OpKind::Upsert,
            fields: Some(Map::from_iter([("text".to_owned(), Value::from("x"))])),
            transition: None,
        };
        assert!(base.validate().is_err(), "append-only cannot be upserted");
        let status = Op {
            entity: Entity::WorkOrder,
            fields: Some(Map::from_iter([(
                "status".to_owned(),
                Value::from("completed"),
            )])),
            ..base.clone()
        };
        assert!(status.validate().is_err(), "status only by transition");
        let server_owned = Op {
            entity: Entity::VanStock,
            ..base.clone()
        };
        assert!(server_owned.validate().is_err());
        let append = Op {
            kind: OpKind::Append,
            fields: Some(Map::from_iter([(
                "work_order_id".to_owned(),
                Value::from("x"),
            )])),
            ..base
        };
        assert!(append.validate().is_ok());
    }
}
