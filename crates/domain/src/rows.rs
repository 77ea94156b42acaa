//! What a synced row must hold to be stored, per entity: it reads back as its typed
//! entity, and that entity's own rules hold. Called by the client before a local write is
//! saved and by the server before a pushed operation is applied.

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::DomainError;
use crate::protocol::Entity;

fn typed<T: DeserializeOwned>(row: &Map<String, Value>, what: &str) -> Result<T, DomainError> {
    T::deserialize(Value::Object(row.clone())).map_err(|e| DomainError::Invalid {
        field: "record",
        message: format!("{what}: {e}"),
    })
}

fn readable<T: DeserializeOwned>(row: &Map<String, Value>, what: &str) -> Result<(), DomainError> {
    typed::<T>(row, what).map(|_| ())
}

/// Checks a row of `entity` as it would be stored (reference data included).
pub fn validate_row(entity: Entity, row: &Map<String, Value>) -> Result<(), DomainError> {
    use crate::{checklist, fees, records as r, signature, sla, work_order};
    match entity {
        Entity::WorkOrder => typed::<work_order::WorkOrder>(row, "work order")?.validate(),
        Entity::Customer => readable::<r::Customer>(row, "customer"),
        Entity::Equipment => readable::<r::Equipment>(row, "equipment"),
        Entity::ChecklistItem => readable::<checklist::ChecklistItem>(row, "checklist item"),
        Entity::PartUsage => typed::<r::PartUsage>(row, "part usage")?.validate(),
        Entity::CheckIn => readable::<r::CheckIn>(row, "check-in"),
        Entity::ArrivalCall => readable::<r::ArrivalCall>(row, "arrival call"),
        Entity::Quote => readable::<fees::Quote>(row, "quote"),
        Entity::TimeEntry => readable::<r::TimeEntry>(row, "time entry"),
        Entity::Expense => readable::<r::Expense>(row, "expense"),
        Entity::LogEntry => {
            if typed::<r::LogEntry>(row, "log entry")?
                .text
                .trim()
                .is_empty()
            {
                return Err(DomainError::Invalid {
                    field: "text",
                    message: "write what was done today".into(),
                });
            }
            Ok(())
        }
        Entity::Milestone => readable::<r::Milestone>(row, "milestone"),
        Entity::Signature => typed::<signature::Signature>(row, "signature")?.validate(),
        Entity::Attachment => {
            signature::check_sha256(&typed::<r::Attachment>(row, "attachment")?.sha256)
        }
        Entity::Satisfaction => readable::<r::Satisfaction>(row, "satisfaction"),
        Entity::FollowUp => readable::<r::FollowUp>(row, "follow-up"),
        Entity::Training => readable::<r::Training>(row, "training"),
        Entity::Settlement => readable::<fees::Settlement>(row, "settlement"),
        Entity::WarehouseReceipt => readable::<r::WarehouseReceipt>(row, "warehouse receipt"),
        Entity::VanStock => readable::<r::VanStock>(row, "van stock"),
        Entity::Part => readable::<r::Part>(row, "part"),
        Entity::ChecklistTemplate => {
            readable::<checklist::ChecklistTemplate>(row, "checklist template")
        }
        Entity::FaultLevels => readable::<sla::SlaConfig>(row, "fault levels"),
        Entity::FeeSchedule => readable::<fees::FeeSchedule>(row, "fee schedule"),
        Entity::Company => readable::<r::Company>(row, "company"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_blank_log_entry_and_a_part_usage_of_nothing_are_refused() {
        let Value::Object(log) = json!({"id": "0192f0c4-7a1b-7000-8000-000000000001", "work_order_id": "0192f0c4-7a1b-7000-8000-000000000002", "day": "2026-11-22", "text": " "})
        else {
            unreachable!("an object")
        };
        assert!(validate_row(Entity::LogEntry, &log).is_err());
        let Value::Object(usage) = json!({"id": "0192f0c4-7a1b-7000-8000-000000000001", "work_order_id": "0192f0c4-7a1b-7000-8000-000000000002", "part_id": "0192f0c4-7a1b-7000-8000-000000000003", "quantity": 0, "warranty": true})
        else {
            unreachable!("an object")
        };
        let err = validate_row(Entity::PartUsage, &usage).expect_err("quantity 0");
        assert!(err.to_string().contains("at least one part"), "{err}");
    }
}
