//! Who may write what: for each entity and field, which side of the business may create,
//! change or delete it, and while its work order is in which statuses. The one table the
//! server checks on every push and the laptop checks before it queues a write; status
//! moves themselves are `work_order::TRANSITIONS`.
//!
//! What is not granted here is forbidden. Why the engineer's grants are what they are:
//! - the order's identity and dispatch (`number`, `department`, `customer_id`,
//!   `equipment_id`, `reported_at` which starts the SLA clock, `fault_level`, `channel`,
//!   `assignees`) and its price terms (`warranty`, `paid`) are the office's: changed on a
//!   laptop they would move deadlines, forge assignees or skip the quote gate;
//! - what the engineer finds and does on site (diagnosis, repair result and times, the
//!   outcome, a postponement's date and reason, why in-warranty work is charged) is theirs
//!   until the order is completed: after that the signed repair record is final;
//! - customers and equipment are the office's records; on site the engineer corrects the
//!   contact details and what the nameplate says, never who owns what;
//! - site records are appended by the engineer; quotes, parts and settlements stop at
//!   completion (they change what the customer signed), the rest (log, photos, time,
//!   check-ins) are facts and are kept whenever they arrive; follow-ups are the office's;
//!   a warehouse receipt is opened by the engineer back at HQ and booked by the office;
//! - nothing is deleted from a laptop.

use serde_json::Map;

use crate::DomainError;
use crate::protocol::{Entity, Op, OpKind};
use crate::work_order::{By, Role, Status};

/// What a write does to a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// A new record (an append, or an upsert of a record that is not there).
    Create,
    /// New values for fields of a record that is there.
    Change,
    /// A tombstone.
    Delete,
}

/// Which fields a grant covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fields {
    Any,
    Only(&'static [&'static str]),
}

/// In which statuses of its work order a grant holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    /// Whatever the status (and for records not under an order).
    Always,
    /// Until the order is completed: not once it is completed, closed or cancelled.
    BeforeCompletion,
}

impl When {
    fn holds(self, status: Option<Status>) -> bool {
        match self {
            When::Always => true,
            When::BeforeCompletion => !matches!(
                status,
                Some(Status::Completed | Status::Closed | Status::Cancelled)
            ),
        }
    }
}

/// One line of the table: `by` may do `action` to `fields` of `entity` while `when` holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Grant {
    pub entity: Entity,
    pub action: Action,
    pub fields: Fields,
    pub by: By,
    pub when: When,
}

/// The work-order fields the engineer writes on site.
pub const ENGINEER_ORDER_FIELDS: &[&str] = &[
    "fault_description",
    "diagnosis",
    "repair_result",
    "repair_started_at",
    "repair_ended_at",
    "arrived_at",
    "outcome",
    "postpone_reason",
    "scheduled_at",
    "complex",
    "charge_cause",
];
/// The customer's details an engineer may correct on site.
pub const ENGINEER_CUSTOMER_FIELDS: &[&str] = &["contact", "phone", "address"];
/// What an engineer may correct from the equipment's nameplate and site.
pub const ENGINEER_EQUIPMENT_FIELDS: &[&str] = &[
    "serial",
    "project_number",
    "kind",
    "size",
    "location",
    "commissioned_on",
    "purchased_on",
    "invoice_number",
];
/// A checklist answer: self-check and cross-check.
pub const CHECKLIST_ANSWER_FIELDS: &[&str] = &[
    "answer",
    "note",
    "answered_by",
    "answered_at",
    "cross_checked_by",
    "cross_checked_at",
];

const fn grant(entity: Entity, action: Action, fields: Fields, by: By, when: When) -> Grant {
    Grant {
        entity,
        action,
        fields,
        by,
        when,
    }
}

const fn office(entity: Entity, action: Action) -> Grant {
    grant(entity, action, Fields::Any, By::Dispatcher, When::Always)
}

const fn engineer_appends(entity: Entity, when: When) -> Grant {
    grant(entity, Action::Create, Fields::Any, By::Engineer, when)
}

use Action::{Change, Create, Delete};
use Entity as E;

/// The table. A status change is not a field write: it goes by `TRANSITIONS`.
pub const GRANTS: &[Grant] = &[
    // The office writes every record the client may write, in any status.
    office(E::WorkOrder, Create),
    office(E::WorkOrder, Change),
    office(E::WorkOrder, Delete),
    office(E::Customer, Create),
    office(E::Customer, Change),
    office(E::Customer, Delete),
    office(E::Equipment, Create),
    office(E::Equipment, Change),
    office(E::Equipment, Delete),
    office(E::ChecklistItem, Create),
    office(E::ChecklistItem, Change),
    office(E::ChecklistItem, Delete),
    office(E::CheckIn, Create),
    office(E::ArrivalCall, Create),
    office(E::PartUsage, Create),
    office(E::Quote, Create),
    office(E::TimeEntry, Create),
    office(E::Expense, Create),
    office(E::LogEntry, Create),
    office(E::Milestone, Create),
    office(E::Signature, Create),
    office(E::Attachment, Create),
    office(E::Satisfaction, Create),
    office(E::FollowUp, Create),
    office(E::Training, Create),
    office(E::Settlement, Create),
    office(E::WarehouseReceipt, Create),
    office(E::ServiceRequest, Create),
    // The engineer.
    grant(
        E::WorkOrder,
        Change,
        Fields::Only(ENGINEER_ORDER_FIELDS),
        By::Engineer,
        When::BeforeCompletion,
    ),
    grant(
        E::Customer,
        Change,
        Fields::Only(ENGINEER_CUSTOMER_FIELDS),
        By::Engineer,
        When::Always,
    ),
    grant(
        E::Equipment,
        Change,
        Fields::Only(ENGINEER_EQUIPMENT_FIELDS),
        By::Engineer,
        When::Always,
    ),
    grant(
        E::ChecklistItem,
        Change,
        Fields::Only(CHECKLIST_ANSWER_FIELDS),
        By::Engineer,
        When::BeforeCompletion,
    ),
    engineer_appends(E::Quote, When::BeforeCompletion),
    engineer_appends(E::PartUsage, When::BeforeCompletion),
    engineer_appends(E::Settlement, When::BeforeCompletion),
    engineer_appends(E::Signature, When::BeforeCompletion),
    engineer_appends(E::CheckIn, When::Always),
    engineer_appends(E::ArrivalCall, When::Always),
    engineer_appends(E::TimeEntry, When::Always),
    engineer_appends(E::Expense, When::Always),
    engineer_appends(E::LogEntry, When::Always),
    engineer_appends(E::Milestone, When::Always),
    engineer_appends(E::Attachment, When::Always),
    engineer_appends(E::Satisfaction, When::Always),
    engineer_appends(E::Training, When::Always),
    // Back at HQ with the old parts, whenever that is (`WarehouseReceipt::check_engineers`
    // keeps the booking itself the warehouse's).
    engineer_appends(E::WarehouseReceipt, When::Always),
    // 首问负责: whenever the customer asks (`ServiceRequest::check_engineers`).
    engineer_appends(E::ServiceRequest, When::Always),
];

/// The action an operation takes on a record that is there (`exists`) or not; `None` for
/// a transition, which `work_order::check_transition` decides.
pub fn action_of(op: &Op, exists: bool) -> Option<Action> {
    match op.kind {
        OpKind::Append => Some(Create),
        OpKind::Upsert if exists => Some(Change),
        OpKind::Upsert => Some(Create),
        OpKind::Delete => Some(Delete),
        OpKind::Transition => None,
    }
}

fn covers(fields: Fields, field: &str) -> bool {
    match fields {
        Fields::Any => true,
        Fields::Only(list) => list.contains(&field),
    }
}

/// Whether `role` may write `op`, on a record that is there (`exists`) or not, under an
/// order now in `order_status` (`None` for records under no order). The error says what
/// was refused: [`DomainError::NotYours`] for a field or record that is another role's,
/// [`DomainError::NotNow`] for one that was the writer's until the order moved on.
pub fn check_write(
    role: Role,
    op: &Op,
    exists: bool,
    order_status: Option<Status>,
) -> Result<(), DomainError> {
    let Some(action) = action_of(op, exists) else {
        return Ok(());
    };
    let empty = Map::new();
    let fields = op.fields.as_ref().unwrap_or(&empty);
    let grants: Vec<&Grant> = GRANTS
        .iter()
        .filter(|g| g.entity == op.entity && g.action == action && role.may_act_as(g.by))
        .collect();
    let not_yours = |field: Option<&str>| DomainError::NotYours {
        entity: op.entity,
        action: action_word(action),
        field: field.map(str::to_owned),
        role,
    };
    if grants.is_empty() {
        return Err(not_yours(None));
    }
    // Each field must be covered by a grant; the record's own id goes with its creation.
    let named: Vec<&String> = fields
        .keys()
        .filter(|k| !(action == Create && k.as_str() == "id"))
        .collect();
    let mut holding: Vec<&Grant> = Vec::new();
    for field in &named {
        let Some(g) = grants.iter().find(|g| covers(g.fields, field)) else {
            return Err(not_yours(Some(field)));
        };
        holding.push(g);
    }
    if named.is_empty() {
        holding.extend(grants.first());
    }
    if let Some(g) = holding.iter().find(|g| !g.when.holds(order_status)) {
        return Err(DomainError::NotNow {
            entity: g.entity,
            status: order_status.unwrap_or(Status::Closed),
        });
    }
    Ok(())
}

/// Whether `role` may do `action` to `field` of `entity` under an order now in
/// `order_status`: the same table, asked before a form is offered (the screen shows an
/// answer it may no longer change as read-only).
pub fn may(
    role: Role,
    entity: Entity,
    action: Action,
    field: &str,
    order_status: Option<Status>,
) -> bool {
    GRANTS.iter().any(|g| {
        g.entity == entity
            && g.action == action
            && role.may_act_as(g.by)
            && covers(g.fields, field)
            && g.when.holds(order_status)
    })
}

fn action_word(action: Action) -> &'static str {
    match action {
        Create => "create",
        Change => "change",
        Delete => "delete",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hlc::Hlc;
    use serde_json::{Value, json};
    use uuid::Uuid;

    fn op(entity: Entity, kind: OpKind, fields: Value) -> Op {
        let Value::Object(fields) = fields else {
            unreachable!("test fields are objects")
        };
        Op {
            op_id: Uuid::from_u128(1),
            hlc: Hlc::new(1, 0, "dev").expect("valid"),
            entity,
            id: Uuid::from_u128(2),
            kind,
            fields: Some(fields),
            transition: None,
        }
    }

    fn refused_as_not_yours(r: Result<(), DomainError>, field: Option<&str>) -> bool {
        matches!(r, Err(DomainError::NotYours { field: ref f, .. }) if f.as_deref() == field)
    }

    #[test]
    fn a_form_is_offered_exactly_when_its_write_would_be_accepted() {
        let answer = op(E::ChecklistItem, OpKind::Upsert, json!({"answer": null}));
        for status in Status::ALL {
            assert_eq!(
                may(
                    Role::Engineer,
                    E::ChecklistItem,
                    Change,
                    "answer",
                    Some(status)
                ),
                check_write(Role::Engineer, &answer, true, Some(status)).is_ok(),
                "{status:?}"
            );
        }
        assert!(!may(
            Role::Engineer,
            E::ChecklistItem,
            Change,
            "required",
            Some(Status::OnSite)
        ));
    }

    #[test]
    fn an_engineer_never_writes_the_offices_order_fields() {
        for field in [
            "number",
            "department",
            "reported_at",
            "assignees",
            "customer_id",
            "equipment_id",
            "paid",
            "warranty",
            "fault_level",
        ] {
            let o = op(E::WorkOrder, OpKind::Upsert, json!({ field: "x" }));
            assert!(
                refused_as_not_yours(
                    check_write(Role::Engineer, &o, true, Some(Status::OnSite)),
                    Some(field)
                ),
                "{field}"
            );
            assert_eq!(
                check_write(Role::Dispatcher, &o, true, Some(Status::OnSite)),
                Ok(())
            );
        }
        // Mixing one of the office's fields into an allowed edit refuses the whole op.
        let o = op(
            E::WorkOrder,
            OpKind::Upsert,
            json!({"diagnosis": "轴承磨损", "paid": true}),
        );
        assert!(refused_as_not_yours(
            check_write(Role::Engineer, &o, true, Some(Status::Diagnosing)),
            Some("paid")
        ));
    }

    #[test]
    fn the_engineers_findings_are_theirs_until_completion() {
        let o = op(
            E::WorkOrder,
            OpKind::Upsert,
            json!({"diagnosis": "轴承磨损"}),
        );
        assert_eq!(
            check_write(Role::Engineer, &o, true, Some(Status::Diagnosing)),
            Ok(())
        );
        for done in [Status::Completed, Status::Closed, Status::Cancelled] {
            assert!(matches!(
                check_write(Role::Engineer, &o, true, Some(done)),
                Err(DomainError::NotNow { .. })
            ));
        }
    }

    #[test]
    fn an_engineer_creates_and_deletes_no_order_customer_or_equipment() {
        for entity in [E::WorkOrder, E::Customer, E::Equipment] {
            let create = op(entity, OpKind::Upsert, json!({"name": "x"}));
            assert!(refused_as_not_yours(
                check_write(Role::Engineer, &create, false, None),
                None
            ));
            let mut delete = op(entity, OpKind::Delete, json!({}));
            delete.fields = None;
            assert!(refused_as_not_yours(
                check_write(Role::Engineer, &delete, true, Some(Status::OnSite)),
                None
            ));
            assert_eq!(
                check_write(Role::Admin, &delete, true, Some(Status::OnSite)),
                Ok(())
            );
        }
    }

    #[test]
    fn site_facts_are_kept_after_closing_but_money_stops_at_completion() {
        let log = op(E::LogEntry, OpKind::Append, json!({"id": "x", "text": "t"}));
        assert_eq!(
            check_write(Role::Engineer, &log, false, Some(Status::Closed)),
            Ok(())
        );
        let part = op(E::PartUsage, OpKind::Append, json!({"id": "x"}));
        assert_eq!(
            check_write(Role::Engineer, &part, false, Some(Status::InRepair)),
            Ok(())
        );
        assert!(matches!(
            check_write(Role::Engineer, &part, false, Some(Status::Completed)),
            Err(DomainError::NotNow { .. })
        ));
        let follow_up = op(E::FollowUp, OpKind::Append, json!({"id": "x"}));
        assert!(refused_as_not_yours(
            check_write(Role::Engineer, &follow_up, false, Some(Status::Completed)),
            None
        ));
    }

    #[test]
    fn a_checklist_answer_is_the_engineers_but_not_the_item_itself() {
        let answer = op(E::ChecklistItem, OpKind::Upsert, json!({"note": "ok"}));
        assert_eq!(
            check_write(Role::Engineer, &answer, true, Some(Status::OnSite)),
            Ok(())
        );
        let moved = op(
            E::ChecklistItem,
            OpKind::Upsert,
            json!({"work_order_id": Uuid::from_u128(7).to_string()}),
        );
        assert!(refused_as_not_yours(
            check_write(Role::Engineer, &moved, true, Some(Status::OnSite)),
            Some("work_order_id")
        ));
        let required = op(E::ChecklistItem, OpKind::Upsert, json!({"required": false}));
        assert!(refused_as_not_yours(
            check_write(Role::Engineer, &required, true, Some(Status::OnSite)),
            Some("required")
        ));
    }

    #[test]
    fn every_grant_names_an_entity_the_client_may_write() {
        use crate::protocol::MergeRule;
        for g in GRANTS {
            assert_ne!(g.entity.merge_rule(), MergeRule::ServerOwned, "{g:?}");
            if g.entity.merge_rule() == MergeRule::AppendOnly {
                assert_eq!(
                    g.action, Create,
                    "append-only records are only created: {g:?}"
                );
            }
        }
    }
}
