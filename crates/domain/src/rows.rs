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

/// The longest text of any one field, in characters (a fault description, a day's log).
pub const MAX_TEXT_CHARS: usize = 8000;

/// The largest row of `entity`, as compact JSON. A signature carries its pen strokes;
/// quotes, settlements and reference tables carry lists; everything else is a few
/// fields of text.
pub fn max_row_bytes(entity: Entity) -> usize {
    match entity {
        Entity::Signature => 1024 * 1024,
        Entity::ChecklistTemplate | Entity::FeeSchedule | Entity::FaultLevels | Entity::Part => {
            256 * 1024
        }
        Entity::Quote | Entity::Settlement | Entity::WorkOrder | Entity::Training => 128 * 1024,
        _ => 64 * 1024,
    }
}

/// Refuses a row larger than its entity allows or with a text longer than
/// [`MAX_TEXT_CHARS`]: every stored row is sent to laptops, printed and indexed.
pub fn check_size(entity: Entity, row: &Map<String, Value>) -> Result<(), DomainError> {
    fn longest(v: &Value) -> usize {
        match v {
            Value::String(s) => s.chars().count(),
            Value::Array(a) => a.iter().map(longest).max().unwrap_or(0),
            Value::Object(o) => o
                .iter()
                .map(|(k, v)| longest(v).max(k.chars().count()))
                .max()
                .unwrap_or(0),
            _ => 0,
        }
    }
    let max = max_row_bytes(entity);
    let bytes = serde_json::to_vec(row).map_or(usize::MAX, |v| v.len());
    if bytes > max {
        return Err(DomainError::Invalid {
            field: "record",
            message: format!("a {entity} is at most {max} bytes; this one is {bytes}: shorten it"),
        });
    }
    if row
        .iter()
        .any(|(k, v)| k.chars().count() > MAX_TEXT_CHARS || longest(v) > MAX_TEXT_CHARS)
    {
        return Err(DomainError::Invalid {
            field: "record",
            message: format!("a text is at most {MAX_TEXT_CHARS} characters: shorten it"),
        });
    }
    Ok(())
}

/// Checks a row of `entity` as it would be stored (reference data included).
pub fn validate_row(entity: Entity, row: &Map<String, Value>) -> Result<(), DomainError> {
    use crate::{checklist, fees, records as r, signature, sla, work_order};
    check_size(entity, row)?;
    match entity {
        Entity::WorkOrder => typed::<work_order::WorkOrder>(row, "work order")?.validate(),
        Entity::Customer => readable::<r::Customer>(row, "customer"),
        Entity::Equipment => readable::<r::Equipment>(row, "equipment"),
        Entity::ChecklistItem => {
            typed::<checklist::ChecklistItem>(row, "checklist item")?.validate()
        }
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
        Entity::Milestone => typed::<r::Milestone>(row, "milestone")?.validate(),
        Entity::Signature => typed::<signature::Signature>(row, "signature")?.validate(),
        Entity::Attachment => typed::<r::Attachment>(row, "attachment")?.validate(),
        Entity::Satisfaction => readable::<r::Satisfaction>(row, "satisfaction"),
        Entity::FollowUp => readable::<r::FollowUp>(row, "follow-up"),
        Entity::Training => typed::<r::Training>(row, "training")?.validate(),
        Entity::Settlement => readable::<fees::Settlement>(row, "settlement"),
        Entity::WarehouseReceipt => readable::<r::WarehouseReceipt>(row, "warehouse receipt"),
        Entity::ServiceRequest => typed::<r::ServiceRequest>(row, "service request")?.validate(),
        Entity::VanStock => readable::<r::VanStock>(row, "van stock"),
        Entity::Part => readable::<r::Part>(row, "part"),
        Entity::ChecklistTemplate => {
            typed::<checklist::ChecklistTemplate>(row, "checklist template")?.validate()
        }
        Entity::FaultLevels => typed::<sla::SlaConfig>(row, "fault levels")?.check(),
        Entity::FeeSchedule => readable::<fees::FeeSchedule>(row, "fee schedule"),
        Entity::Company => readable::<r::Company>(row, "company"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_oversized_row_or_text_is_refused_with_its_limit() {
        let Value::Object(log) = json!({"id": "0192f0c4-7a1b-7000-8000-000000000001", "work_order_id": "0192f0c4-7a1b-7000-8000-000000000002", "day": "2026-11-22", "text": "换".repeat(MAX_TEXT_CHARS + 1)})
        else {
            unreachable!("an object")
        };
        let err = validate_row(Entity::LogEntry, &log).expect_err("too long");
        assert!(err.to_string().contains("8000"), "{err}");
        let Value::Object(mut big) = json!({"id": "x", "notes": []}) else {
            unreachable!("an object")
        };
        big.insert("notes".into(), json!(vec!["短句"; 20_000]));
        let err = check_size(Entity::Expense, &big).expect_err("too big");
        assert!(err.to_string().contains("65536"), "{err}");
        assert!(
            check_size(Entity::Signature, &big).is_ok(),
            "strokes may be large"
        );
    }

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
