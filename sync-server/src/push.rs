//! What the server does with one pushed operation, whatever the storage: the merge rules
//! of PROTOCOL.md on top of the rules in `onsite_domain`. Storage implementations load the
//! record, check the scope, call [`decide`], and write what it says.

use chrono::{DateTime, Utc};
use onsite_domain::protocol::{Entity, MergeRule, Op, OpKind, OpStatus, merge_fields};
use onsite_domain::rows::validate_row;
use onsite_domain::work_order::{Role, check_transition};
use onsite_domain::{DomainError, Status};
use serde_json::{Map, Value};
use uuid::Uuid;

/// A stamp more than this far ahead of the server's clock is refused: the client corrects
/// its clock by the offset it measured, so only a broken clock gets there.
pub const MAX_CLOCK_AHEAD_MS: i64 = 24 * 3600 * 1000;

/// A record as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Current {
    pub row: Map<String, Value>,
    pub clocks: Map<String, Value>,
    pub deleted: bool,
    pub work_order_id: Option<String>,
}

/// What to do with an operation.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Store this record state; the operation is `applied`.
    Write(Current),
    /// Store nothing; answer with this status and reason.
    Answer(OpStatus, Option<String>),
}

/// The work order an operation belongs to, for the scope check.
pub fn order_of(op: &Op, current: Option<&Current>) -> Option<String> {
    if op.entity == Entity::WorkOrder {
        return Some(op.id.to_string());
    }
    if let Some(c) = current {
        return c.work_order_id.clone();
    }
    op.fields
        .as_ref()
        .and_then(|f| f.get("work_order_id"))
        .and_then(Value::as_str)
        .map(str::to_owned)
}

fn rejected(reason: impl Into<String>) -> Outcome {
    Outcome::Answer(OpStatus::Rejected, Some(reason.into()))
}

fn invalid(e: &DomainError) -> Outcome {
    rejected(format!("invalid: {e}"))
}

/// Decides an operation pushed by a user with `role` (`user_id` fills in authors) against
/// the record as stored (`None`: not there). Scope is checked before, by the caller.
pub fn decide(
    op: &Op,
    current: Option<&Current>,
    role: Role,
    user_id: Uuid,
    now: DateTime<Utc>,
) -> Outcome {
    if let Err(e) = op.validate() {
        return invalid(&e);
    }
    let ahead = i64::try_from(op.hlc.physical_ms())
        .unwrap_or(i64::MAX)
        .saturating_sub(now.timestamp_millis());
    if ahead > MAX_CLOCK_AHEAD_MS {
        return rejected(
            "invalid: the device clock is more than a day ahead of the server; sync again to correct it",
        );
    }
    let hlc = op.hlc.to_string();
    match op.kind {
        OpKind::Append => {
            if current.is_some() {
                return Outcome::Answer(
                    OpStatus::Duplicate,
                    Some("a record with this id exists already".into()),
                );
            }
            let mut row = op.fields.clone().unwrap_or_default();
            row.insert("id".into(), Value::String(op.id.to_string()));
            if op.entity == Entity::LogEntry && row.get("author_id").is_none_or(|a| a.is_null()) {
                row.insert("author_id".into(), Value::String(user_id.to_string()));
            }
            if let Err(e) = validate_row(op.entity, &row) {
                return invalid(&e);
            }
            let work_order_id = row
                .get("work_order_id")
                .and_then(Value::as_str)
                .map(str::to_owned);
            let clocks = Map::from_iter([(
                onsite_domain::protocol::DEFAULT_CLOCK_KEY.to_owned(),
                Value::String(hlc),
            )]);
            Outcome::Write(Current {
                row,
                clocks,
                deleted: false,
                work_order_id,
            })
        }
        OpKind::Upsert => {
            let fields = op.fields.clone().unwrap_or_default();
            let mut next = match current {
                Some(c) if c.deleted => {
                    return Outcome::Answer(
                        OpStatus::Rejected,
                        Some("not allowed: the record was deleted".into()),
                    );
                }
                Some(c) => c.clone(),
                // Only items under an order may be created by an upsert (a checklist item).
                None if op.entity.is_under_work_order() => Current {
                    row: Map::from_iter([("id".to_owned(), Value::String(op.id.to_string()))]),
                    clocks: Map::new(),
                    deleted: false,
                    work_order_id: fields
                        .get("work_order_id")
                        .and_then(Value::as_str)
                        .map(str::to_owned),
                },
                None => {
                    return rejected(format!(
                        "not allowed: no {} {} on the server",
                        op.entity, op.id
                    ));
                }
            };
            if !merge_fields(&mut next.row, &mut next.clocks, &fields, &op.hlc) {
                // Older than what the server has: nothing changes, and that is the verdict.
                return Outcome::Answer(OpStatus::Applied, None);
            }
            if let Err(e) = validate_row(op.entity, &next.row) {
                return invalid(&e);
            }
            Outcome::Write(next)
        }
        OpKind::Transition => {
            let (Some(c), Some(t)) = (current, op.transition) else {
                return rejected(format!("not allowed: no work order {}", op.id));
            };
            if c.deleted {
                return rejected("not allowed: the work order was deleted");
            }
            let status: Option<Status> = c
                .row
                .get("status")
                .and_then(Value::as_str)
                .and_then(|s| s.parse().ok());
            if status != Some(t.from) {
                let now_is = status.map_or("unknown", Status::as_str);
                return Outcome::Answer(
                    OpStatus::Conflict,
                    Some(format!("the work order is {now_is} now, not {}", t.from)),
                );
            }
            if let Err(e) = check_transition(t.from, t.to, role) {
                return rejected(format!("not allowed: {e}"));
            }
            let mut next = c.clone();
            next.row
                .insert("status".into(), Value::String(t.to.as_str().into()));
            next.clocks.insert("status".into(), Value::String(hlc));
            Outcome::Write(next)
        }
        OpKind::Delete => match current {
            Some(c) if op.entity.merge_rule() == MergeRule::Mutable => Outcome::Write(Current {
                deleted: true,
                ..c.clone()
            }),
            Some(_) => rejected("not allowed: append-only records are voided, not deleted"),
            None => Outcome::Answer(OpStatus::Applied, None),
        },
    }
}

/// The rules of a move beyond the table, checked against what the server holds under the
/// order (the same functions the laptop calls before it allows the move): paid work
/// starts its repair only with the latest quote approved; completion needs a clean
/// checklist and the customer's valid signature on the repair record.
pub fn check_move(
    order_row: &Map<String, Value>,
    to: Status,
    under: &[(Entity, Map<String, Value>)],
) -> Result<(), DomainError> {
    use onsite_domain::completion::{
        CompletionInput, check_completion, check_repair_start, repair_record_hash,
    };
    if to != Status::InRepair && to != Status::Completed {
        return Ok(());
    }
    fn typed<T: serde::de::DeserializeOwned>(row: &Map<String, Value>) -> Result<T, DomainError> {
        T::deserialize(Value::Object(row.clone())).map_err(|e| DomainError::Invalid {
            field: "record",
            message: e.to_string(),
        })
    }
    fn all<T: serde::de::DeserializeOwned>(
        under: &[(Entity, Map<String, Value>)],
        entity: Entity,
    ) -> Result<Vec<T>, DomainError> {
        under
            .iter()
            .filter(|(e, _)| *e == entity)
            .map(|(_, r)| typed(r))
            .collect()
    }
    let order: onsite_domain::WorkOrder = typed(order_row)?;
    let quotes = all(under, Entity::Quote)?;
    let signatures = all(under, Entity::Signature)?;
    if to == Status::InRepair {
        return check_repair_start(&order, &quotes, &signatures);
    }
    let checklist = all(under, Entity::ChecklistItem)?;
    let parts = all(under, Entity::PartUsage)?;
    let hash = repair_record_hash(&order, &parts)?;
    check_completion(CompletionInput {
        order: &order,
        checklist: &checklist,
        quotes: &quotes,
        signatures: &signatures,
        repair_record_hash: &hash,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use onsite_domain::protocol::Transition;
    use serde_json::json;

    fn at(ms: u64) -> onsite_domain::Hlc {
        onsite_domain::Hlc::new(ms, 0, "dev").expect("valid")
    }

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp_millis(1_795_350_000_000).expect("valid")
    }

    fn order(status: &str) -> Current {
        let Value::Object(row) = json!({"id": Uuid::from_u128(1).to_string(), "status": status})
        else {
            unreachable!("object")
        };
        Current {
            row,
            clocks: Map::from_iter([("*".to_owned(), json!("001795340000000-00000-server"))]),
            deleted: false,
            work_order_id: Some(Uuid::from_u128(1).to_string()),
        }
    }

    fn transition(from: Status, to: Status) -> Op {
        Op {
            op_id: Uuid::from_u128(9),
            hlc: at(1_795_350_000_000),
            entity: Entity::WorkOrder,
            id: Uuid::from_u128(1),
            kind: OpKind::Transition,
            fields: None,
            transition: Some(Transition { from, to }),
        }
    }

    #[test]
    fn a_transition_from_a_status_that_moved_on_is_a_conflict() {
        let got = decide(
            &transition(Status::Completed, Status::Closed),
            Some(&order("cancelled")),
            Role::Dispatcher,
            Uuid::nil(),
            now(),
        );
        assert!(
            matches!(got, Outcome::Answer(OpStatus::Conflict, Some(ref r)) if r.contains("cancelled")),
            "{got:?}"
        );
        let got = decide(
            &transition(Status::AwaitingSignature, Status::Completed),
            Some(&order("cancelled")),
            Role::Engineer,
            Uuid::nil(),
            now(),
        );
        assert!(matches!(got, Outcome::Answer(OpStatus::Conflict, _)));
    }

    #[test]
    fn an_engineer_cannot_cancel_and_an_allowed_move_is_written() {
        let got = decide(
            &transition(Status::Accepted, Status::Cancelled),
            Some(&order("accepted")),
            Role::Engineer,
            Uuid::nil(),
            now(),
        );
        assert!(matches!(got, Outcome::Answer(OpStatus::Rejected, _)));
        let Outcome::Write(next) = decide(
            &transition(Status::Assigned, Status::Accepted),
            Some(&order("assigned")),
            Role::Engineer,
            Uuid::nil(),
            now(),
        ) else {
            panic!("accepting is the engineer's")
        };
        assert_eq!(next.row["status"], "accepted");
    }

    #[test]
    fn a_clock_days_ahead_is_refused() {
        let mut op = transition(Status::Assigned, Status::Accepted);
        op.hlc = at(1_795_350_000_000 + 3 * 24 * 3600 * 1000);
        assert!(matches!(
            decide(
                &op,
                Some(&order("assigned")),
                Role::Engineer,
                Uuid::nil(),
                now()
            ),
            Outcome::Answer(OpStatus::Rejected, _)
        ));
    }
}
