//! What the server does with one pushed operation, whatever the storage: the merge rules
//! of PROTOCOL.md on top of the rules in `onsite_domain`. Storage implementations load the
//! record, check the scope, call [`decide`], and write what it says.

use onsite_domain::authority::check_write;
use onsite_domain::protocol::{Entity, MergeRule, Op, OpKind, OpStatus, merge_fields};
use onsite_domain::rows::validate_row;
use onsite_domain::work_order::{Role, check_transition};
use onsite_domain::{DomainError, Hlc, Status};
use serde_json::{Map, Value};
use uuid::Uuid;

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
    /// Store this record state; the operation is `applied` (with a note when some of its
    /// fields lost to newer changes).
    Write(Current, Option<String>),
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

/// The operation and where it lands, as the caller found them.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    /// The record as stored (`None`: not there).
    pub current: Option<&'a Current>,
    /// The status of the work order the record belongs to, now (`None`: under no order).
    pub order_status: Option<Status>,
    pub role: Role,
    /// Fills in authors.
    pub user_id: Uuid,
    /// The clock the operation's changes are stored with: its own stamp, or the server's
    /// when the device's clock ran ahead (`hlc::accepted_stamp`).
    pub stamp: &'a Hlc,
}

/// A cross-check 交叉检查 pushed on a checklist item is signed by the engineer who pushes
/// it, and confirms an answer someone else gave (`ChecklistItem::check_cross_checker`).
fn check_cross_check(
    op: &Op,
    fields: &Map<String, Value>,
    row: &Map<String, Value>,
    user_id: Uuid,
) -> Result<(), String> {
    let Some(by) = fields.get("cross_checked_by").filter(|v| !v.is_null()) else {
        return Ok(());
    };
    if op.entity != Entity::ChecklistItem {
        return Ok(());
    }
    if by.as_str() != Some(user_id.to_string().as_str()) {
        return Err("not allowed: a cross-check is signed by the engineer who makes it".into());
    }
    let item: onsite_domain::checklist::ChecklistItem =
        serde_json::from_value(Value::Object(row.clone()))
            .map_err(|e| format!("invalid: checklist item: {e}"))?;
    item.check_cross_checker(user_id)
        .map_err(|e| format!("not allowed: {e}"))
}

/// Decides an operation pushed by a user: the authority table, then the merge rule of its
/// entity. Scope is checked before, by the caller.
pub fn decide(op: &Op, cx: Context<'_>) -> Outcome {
    let Context {
        current,
        order_status,
        role,
        user_id,
        stamp,
    } = cx;
    if let Err(e) = op.validate() {
        return invalid(&e);
    }
    let exists = current.is_some_and(|c| !c.deleted);
    match check_write(role, op, exists, order_status) {
        Ok(()) => {}
        // The order moved on (completed, closed, cancelled) while the edit was offline: a
        // conflict, kept and shown to both sides.
        Err(e @ DomainError::NotNow { .. }) => {
            return Outcome::Answer(OpStatus::Conflict, Some(e.to_string()));
        }
        Err(e) => return rejected(e.to_string()),
    }
    let hlc = stamp.to_string();
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
            Outcome::Write(
                Current {
                    row,
                    clocks,
                    deleted: false,
                    work_order_id,
                },
                None,
            )
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
            let lost = merge_fields(&mut next.row, &mut next.clocks, &fields, stamp);
            let note = (!lost.is_empty()).then(|| {
                format!(
                    "superseded: a newer change of {} was made before yours reached the server; yours was not kept",
                    lost.join(", ")
                )
            });
            if lost.len() == fields.len() {
                // Older than what the server has: nothing changes, and the engineer is told.
                return Outcome::Answer(OpStatus::Conflict, note);
            }
            if let Err(e) = validate_row(op.entity, &next.row) {
                return invalid(&e);
            }
            if let Err(why) = check_cross_check(op, &fields, &next.row, user_id) {
                return rejected(why);
            }
            Outcome::Write(next, note)
        }
        OpKind::Transition => {
            let (Some(c), Some(t)) = (current, op.transition) else {
                return rejected(format!("not allowed: no work order {}", op.id));
            };
            if c.deleted {
                return rejected("not allowed: the work order was deleted");
            }
            let mut next = c.clone();
            if let Err(status) = t.apply(&mut next.row, &mut next.clocks, &hlc) {
                let now_is = status.map_or("unknown", Status::as_str);
                return Outcome::Answer(
                    OpStatus::Conflict,
                    Some(format!("the work order is {now_is} now, not {}", t.from)),
                );
            }
            if let Err(e) = check_transition(t.from, t.to, role) {
                return rejected(format!("not allowed: {e}"));
            }
            Outcome::Write(next, None)
        }
        OpKind::Delete => match current {
            Some(c) if op.entity.merge_rule() == MergeRule::Mutable => Outcome::Write(
                Current {
                    deleted: true,
                    ..c.clone()
                },
                None,
            ),
            Some(_) => rejected("not allowed: append-only records are voided, not deleted"),
            None => Outcome::Answer(OpStatus::Applied, None),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use onsite_domain::protocol::Transition;
    use serde_json::json;

    fn at(ms: u64) -> Hlc {
        Hlc::new(ms, 0, "dev").expect("valid")
    }

    /// The sample paid repair, in `status`.
    fn order(status: &str) -> Current {
        let sample = onsite_receipt::sample::repair_job(1).expect("the sample");
        let Ok(Value::Object(mut row)) = serde_json::to_value(&sample.order) else {
            unreachable!("an order is an object")
        };
        row.insert("id".into(), json!(Uuid::from_u128(1).to_string()));
        row.insert("status".into(), json!(status));
        row.insert("diagnosis".into(), Value::Null);
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

    fn run(op: &Op, current: &Current, role: Role) -> Outcome {
        let status = current.row["status"].as_str().and_then(|s| s.parse().ok());
        decide(
            op,
            Context {
                current: Some(current),
                order_status: status,
                role,
                user_id: Uuid::nil(),
                stamp: &op.hlc,
            },
        )
    }

    #[test]
    fn a_transition_from_a_status_that_moved_on_is_a_conflict() {
        let got = run(
            &transition(Status::Completed, Status::Closed),
            &order("cancelled"),
            Role::Dispatcher,
        );
        assert!(
            matches!(got, Outcome::Answer(OpStatus::Conflict, Some(ref r)) if r.contains("cancelled")),
            "{got:?}"
        );
        let got = run(
            &transition(Status::AwaitingSignature, Status::Completed),
            &order("cancelled"),
            Role::Engineer,
        );
        assert!(matches!(got, Outcome::Answer(OpStatus::Conflict, _)));
    }

    #[test]
    fn an_engineer_cannot_cancel_and_an_allowed_move_is_written() {
        let got = run(
            &transition(Status::Accepted, Status::Cancelled),
            &order("accepted"),
            Role::Engineer,
        );
        assert!(matches!(got, Outcome::Answer(OpStatus::Rejected, _)));
        let Outcome::Write(next, None) = run(
            &transition(Status::Assigned, Status::Accepted),
            &order("assigned"),
            Role::Engineer,
        ) else {
            panic!("accepting is the engineer's")
        };
        assert_eq!(next.row["status"], "accepted");
    }

    fn upsert(fields: Value, ms: u64) -> Op {
        let Value::Object(fields) = fields else {
            unreachable!("object")
        };
        Op {
            op_id: Uuid::from_u128(10),
            hlc: at(ms),
            entity: Entity::WorkOrder,
            id: Uuid::from_u128(1),
            kind: OpKind::Upsert,
            fields: Some(fields),
            transition: None,
        }
    }

    #[test]
    fn an_engineers_write_to_the_offices_field_is_refused_with_the_field_named() {
        let got = run(
            &upsert(json!({"paid": false}), 1_795_350_000_000),
            &order("diagnosing"),
            Role::Engineer,
        );
        assert!(
            matches!(got, Outcome::Answer(OpStatus::Rejected, Some(ref r)) if r.contains("paid") && r.contains("not allowed")),
            "{got:?}"
        );
    }

    #[test]
    fn an_edit_that_loses_to_a_newer_one_is_answered_as_such() {
        // The server's row was written at ...340000000; an edit stamped before it loses.
        let got = run(
            &upsert(json!({"diagnosis": "old"}), 1_795_330_000_000),
            &order("diagnosing"),
            Role::Engineer,
        );
        assert!(
            matches!(got, Outcome::Answer(OpStatus::Conflict, Some(ref r)) if r.contains("superseded") && r.contains("diagnosis")),
            "{got:?}"
        );
        // Part of it lost: the rest is written, and the answer names what lost.
        let mut current = order("diagnosing");
        current
            .clocks
            .insert("diagnosis".into(), json!("001795360000000-00000-other"));
        let got = run(
            &upsert(
                json!({"diagnosis": "mine", "repair_result": "ok"}),
                1_795_350_000_000,
            ),
            &current,
            Role::Engineer,
        );
        let Outcome::Write(next, Some(note)) = got else {
            panic!("partly applied: {got:?}")
        };
        assert_eq!(next.row["repair_result"], "ok");
        assert_eq!(next.row["diagnosis"], Value::Null);
        assert!(note.contains("diagnosis") && !note.contains("repair_result"));
    }
}
