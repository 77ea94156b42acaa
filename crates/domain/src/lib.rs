//! The Onsite domain: the model of after-sales field service and every rule that both the
//! desktop client and the sync server apply. Pure: no I/O, no clock reads, no database.
//!
//! - [`work_order`]: the work order and its one transition table;
//! - [`authority`]: who may write which field of which record in which status;
//! - [`sla`]: fault levels and deadlines; [`fees`]: fee schedule, quotes, prices;
//! - [`numbering`]: record numbers, leases and provisional numbers;
//! - [`checklist`], [`completion`], [`signature`]: what must hold to finish a job;
//! - [`records`]: customers, equipment, parts and the append-only site records;
//! - [`hlc`], [`protocol`]: the clock and the messages of sync.

pub mod authority;
pub mod checklist;
pub mod completion;
pub mod demo;
pub mod fees;
pub mod hlc;
pub mod money;
pub mod numbering;
pub mod protocol;
pub mod records;
pub mod rows;
pub mod signature;
pub mod sla;
pub mod work_order;

pub use hlc::{Hlc, HlcClock};
pub use money::{Fen, Quantity, Rate};
pub use protocol::{Change, ChangeOp, Entity, Op, OpKind, OpStatus};
pub use work_order::{Role, Status, WorkOrder};

/// Every way a domain rule can refuse something, each saying what the user can do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    #[error("{field}: {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    #[error("invalid HLC: {0}")]
    InvalidHlc(String),
    #[error("invalid quantity: {0}")]
    InvalidQuantity(String),
    #[error("a work order cannot go from {from} to {to}")]
    TransitionNotAllowed { from: Status, to: Status },
    #[error("going from {from} to {to} is for the {by:?}, not for you")]
    TransitionNotYours {
        from: Status,
        to: Status,
        by: work_order::By,
    },
    #[error("fault level {0} is not configured: sync to get the current fault levels")]
    UnknownFaultLevel(u8),
    #[error(
        "no more numbers for department {department} this month (the sequence stops at {max}): widen the sequence"
    )]
    NumbersExhausted { department: String, max: u32 },
    #[error("an amount is too large to compute")]
    AmountTooLarge,
    #[error("the quote is not approved by the customer yet")]
    QuoteNotApproved,
    #[error("the settlement differs from the approved quote: get a signed change first")]
    SettlementDiffers,
    #[error("not allowed: {} may not {action} {}{} (it is the {}'s)", role_name(*role), entity, field.as_ref().map(|f| format!(" field {f}")).unwrap_or_default(), other_side(*role))]
    NotYours {
        entity: Entity,
        action: &'static str,
        field: Option<String>,
        role: Role,
    },
    #[error("the work order is {status} now: its {entity} records can no longer be changed")]
    NotNow { entity: Entity, status: Status },
    #[error("the work order cannot be completed yet: {0:?}")]
    CannotComplete(Vec<completion::Blocker>),
}

fn role_name(role: Role) -> &'static str {
    match role {
        Role::Engineer => "an engineer",
        Role::Dispatcher => "a dispatcher",
        Role::Admin => "an admin",
    }
}

fn other_side(role: Role) -> &'static str {
    match role {
        Role::Engineer => "office",
        Role::Dispatcher | Role::Admin => "engineer",
    }
}
