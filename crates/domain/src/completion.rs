//! When an order may start its repair and when it may be completed.
//!
//! - Paid work (有偿) starts its repair only with the latest quote approved, and completes
//!   only then too.
//! - No completion while a required checklist item is open, or any item failed without
//!   a note saying why.
//! - A signed document changed after signing is no longer signed; completion needs the
//!   customer's valid signature on the repair record.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::DomainError;
use crate::checklist::{ChecklistItem, ItemState};
use crate::fees::Settlement;
use crate::fees::{Approval, Quote, QuoteState};
use crate::protocol::Entity;
use crate::records::{PartUsage, Satisfaction};
use crate::signature::{DocumentKind, Signature, SignatureState, SignerRole};
use crate::work_order::{Status, WorkOrder};
use serde_json::{Map, Value};

/// One reason an order cannot complete yet, for the engineer to fix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case", tag = "blocker")]
pub enum Blocker {
    RequiredItemOpen {
        item_id: Uuid,
        label: String,
    },
    FailedItemWithoutNote {
        item_id: Uuid,
        label: String,
    },
    NoApprovedQuote,
    /// The quote was signed, then changed.
    QuoteSignatureInvalidated {
        quote_id: Uuid,
    },
    NoCustomerSignature,
    /// Paid work: the approved quote is not settled (结算单), or the settlement no longer
    /// matches it.
    NotSettled,
    /// The repair record was signed, then changed: sign again.
    SignatureInvalidated {
        signature_id: Uuid,
    },
}

/// The latest quote: the one no other quote supersedes (a 变更 supersedes the old one).
pub fn latest_quote(quotes: &[Quote]) -> Option<&Quote> {
    quotes
        .iter()
        .filter(|q| !quotes.iter().any(|o| o.supersedes == Some(q.id)))
        .max_by_key(|q| (q.created_at, q.id))
}

/// Whether the latest quote is approved, and its signature (if signed) still matches it.
fn quote_blocker(quotes: &[Quote], signatures: &[Signature]) -> Option<Blocker> {
    let Some(quote) = latest_quote(quotes) else {
        return Some(Blocker::NoApprovedQuote);
    };
    match &quote.state {
        QuoteState::Approved {
            approval: Approval::Signature { signature_id },
        } => {
            let Ok(hash) = quote_content_hash(quote) else {
                return Some(Blocker::NoApprovedQuote);
            };
            match signatures.iter().find(|s| s.id == *signature_id) {
                Some(s) if s.state_for(&hash) == SignatureState::Valid => None,
                Some(_) => Some(Blocker::QuoteSignatureInvalidated { quote_id: quote.id }),
                None => Some(Blocker::NoApprovedQuote),
            }
        }
        QuoteState::Approved {
            approval: Approval::Verbal { .. },
        } => None,
        QuoteState::Draft | QuoteState::Declined { .. } => Some(Blocker::NoApprovedQuote),
    }
}

/// The content a customer signs on a quote: its lines and its schedule version.
pub fn quote_content_hash(quote: &Quote) -> Result<String, DomainError> {
    crate::signature::content_hash(&(
        &quote.id,
        &quote.work_order_id,
        &quote.items,
        quote.schedule_version,
    ))
}

/// The parts a signed document lists: the usages that stand (corrections applied, a
/// cancellation's 0 left out), in a fixed order.
fn signed_parts(part_usages: &[PartUsage]) -> Vec<&PartUsage> {
    let mut parts: Vec<&PartUsage> = crate::records::standing(part_usages)
        .into_iter()
        .filter(|p| p.quantity > 0)
        .collect();
    parts.sort_by_key(|p| p.id);
    parts
}

/// The content a customer signs on the repair record 维修记录单: what was reported, found
/// and done, and the parts used (voided usages left out). Any later change to one of
/// these makes the signature void.
pub fn repair_record_hash(
    order: &WorkOrder,
    part_usages: &[PartUsage],
) -> Result<String, DomainError> {
    let parts: Vec<_> = signed_parts(part_usages)
        .iter()
        .map(|p| (p.id, p.part_id, p.quantity, p.warranty, p.unit_price))
        .collect();
    crate::signature::content_hash(&(
        (
            order.id,
            &order.number,
            order.customer_id,
            order.equipment_id,
            &order.fault_description,
        ),
        (
            &order.diagnosis,
            &order.repair_result,
            order.repair_started_at,
            order.repair_ended_at,
            &order.outcome,
        ),
        (order.paid, order.warranty, &order.charge_cause),
        parts,
    ))
}

/// The customer's entry that stands on the 外出服务记录表: the latest satisfaction no
/// correction voids.
pub fn current_satisfaction(entries: &[Satisfaction]) -> Option<Satisfaction> {
    crate::records::standing(entries.iter().cloned())
        .into_iter()
        .max_by_key(|e| (e.collected_at, e.id))
}

/// The content a customer signs on the 外出服务记录表: the visit (order, fault, what was
/// done and its outcome) and their own satisfaction entry as it stands. A new entry, or a
/// change to what was done, voids the signature.
pub fn field_service_record_hash(
    order: &WorkOrder,
    satisfaction: &[Satisfaction],
) -> Result<String, DomainError> {
    let entry = current_satisfaction(satisfaction);
    crate::signature::content_hash(&(
        (
            order.id,
            &order.number,
            order.customer_id,
            order.equipment_id,
        ),
        (
            &order.fault_description,
            &order.repair_result,
            &order.outcome,
        ),
        entry.map(|e| {
            (
                e.id,
                e.attitude,
                e.damage,
                e.hygiene_good,
                e.overall,
                e.suggestions,
                e.commitment,
            )
        }),
    ))
}

/// The content a customer stamps or signs on the 服务回执单 (handover): the work done,
/// what is left and by when, and the parts with what became of the old ones.
pub fn service_receipt_hash(
    order: &WorkOrder,
    part_usages: &[PartUsage],
) -> Result<String, DomainError> {
    let parts: Vec<_> = signed_parts(part_usages)
        .iter()
        .map(|p| (p.id, p.part_id, p.quantity, p.old_part))
        .collect();
    crate::signature::content_hash(&(
        (order.id, &order.number),
        (&order.repair_result, &order.outcome),
        parts,
    ))
}

/// The settlement that stands: the latest no correction voids.
pub fn current_settlement(settlements: &[Settlement]) -> Option<Settlement> {
    crate::records::standing(settlements.iter().cloned())
        .into_iter()
        .max_by_key(|s| (s.settled_at, s.id))
}

/// The content a customer signs on the 结算单: the settlement as it stands — its quote,
/// lines, payment and invoice reference.
pub fn settlement_hash(settlement: &Settlement) -> Result<String, DomainError> {
    crate::signature::content_hash(&(
        settlement.id,
        settlement.work_order_id,
        settlement.quote_id,
        &settlement.items,
        settlement.payment,
        &settlement.invoice_ref,
    ))
}

/// What the order's customer-signed documents are made of, as the order stands.
#[derive(Debug, Clone, Copy)]
pub struct SignedContent<'a> {
    pub order: &'a WorkOrder,
    pub part_usages: &'a [PartUsage],
    pub satisfaction: &'a [Satisfaction],
    pub settlements: &'a [Settlement],
}

/// The content hash of `document` as it stands now, or why there is nothing to sign yet.
/// Defined for every document the customer signs on site; a quote is signed by its own
/// record (`quote_content_hash`).
pub fn document_hash(
    document: DocumentKind,
    content: SignedContent<'_>,
) -> Result<String, DomainError> {
    let nothing = |message: &str| DomainError::Invalid {
        field: "document",
        message: message.into(),
    };
    match document {
        DocumentKind::RepairRecord => repair_record_hash(content.order, content.part_usages),
        DocumentKind::FieldServiceRecord => {
            if current_satisfaction(content.satisfaction).is_none() {
                return Err(nothing(
                    "the customer fills in the satisfaction form (外出服务记录表) before signing it",
                ));
            }
            field_service_record_hash(content.order, content.satisfaction)
        }
        DocumentKind::Settlement => match current_settlement(content.settlements) {
            Some(s) => settlement_hash(&s),
            None => Err(nothing(
                "settle the approved quote (结算单) before it is signed",
            )),
        },
        DocumentKind::ServiceReceipt => service_receipt_hash(content.order, content.part_usages),
        DocumentKind::Quote | DocumentKind::Milestone => Err(nothing(
            "this document is signed with its own record, not at close-out",
        )),
    }
}

/// Where the customer's signature of one document stands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum Signing {
    /// Nothing to sign yet (the form is not filled in, nothing settled).
    NotReady {
        reason: String,
    },
    Unsigned,
    Signed {
        signature: Signature,
    },
    /// Signed, then the content changed: void until signed again (shown red).
    Changed {
        signature: Signature,
    },
}

/// The customer's latest signature of `document` against its content now.
pub fn signing(
    document: DocumentKind,
    content: SignedContent<'_>,
    signatures: &[Signature],
) -> Signing {
    let hash = match document_hash(document, content) {
        Ok(h) => h,
        Err(e) => {
            return Signing::NotReady {
                reason: e.to_string(),
            };
        }
    };
    let latest = signatures
        .iter()
        .filter(|s| {
            s.document == document
                && s.signer_role == SignerRole::Customer
                && s.work_order_id == content.order.id
        })
        .max_by_key(|s| (s.signed_at, s.id));
    match latest {
        None => Signing::Unsigned,
        Some(s) if s.state_for(&hash) == SignatureState::Valid => Signing::Signed {
            signature: s.clone(),
        },
        Some(s) => Signing::Changed {
            signature: s.clone(),
        },
    }
}

/// Paid work needs the latest quote approved before the repair starts.
pub fn check_repair_start(
    order: &WorkOrder,
    quotes: &[Quote],
    signatures: &[Signature],
) -> Result<(), DomainError> {
    if !order.paid {
        return Ok(());
    }
    match quote_blocker(quotes, signatures) {
        None => Ok(()),
        Some(b) => Err(DomainError::CannotComplete(vec![b])),
    }
}

/// Everything an order's completion depends on.
#[derive(Debug, Clone, Copy)]
pub struct CompletionInput<'a> {
    pub order: &'a WorkOrder,
    pub checklist: &'a [ChecklistItem],
    pub quotes: &'a [Quote],
    pub signatures: &'a [Signature],
    /// The content hash of the repair record as it stands now.
    pub repair_record_hash: &'a str,
    pub settlements: &'a [Settlement],
}

/// What the checklist still lacks before completion, in the checklist's order: required
/// items left open, failed items without a note saying why.
pub fn checklist_blockers(checklist: &[ChecklistItem]) -> Vec<Blocker> {
    let mut items: Vec<&ChecklistItem> = checklist.iter().collect();
    items.sort_by_key(|i| i.position);
    items
        .into_iter()
        .filter_map(|item| match item.state() {
            ItemState::Open if item.required => Some(Blocker::RequiredItemOpen {
                item_id: item.id,
                label: item.label.clone(),
            }),
            ItemState::Failed if !item.has_note() => Some(Blocker::FailedItemWithoutNote {
                item_id: item.id,
                label: item.label.clone(),
            }),
            _ => None,
        })
        .collect()
}

/// Every reason the order cannot complete; empty when it can.
pub fn completion_blockers(input: CompletionInput<'_>) -> Vec<Blocker> {
    let mut blockers = checklist_blockers(input.checklist);
    if input.order.paid {
        match quote_blocker(input.quotes, input.signatures) {
            Some(b) => blockers.push(b),
            None => {
                let settled = current_settlement(input.settlements)
                    .is_some_and(|s| s.check_against(input.quotes).is_ok());
                if !settled {
                    blockers.push(Blocker::NotSettled);
                }
            }
        }
    }
    let customer_sigs: Vec<&Signature> = input
        .signatures
        .iter()
        .filter(|s| {
            s.document == DocumentKind::RepairRecord
                && s.signer_role == SignerRole::Customer
                && s.work_order_id == input.order.id
        })
        .collect();
    if !customer_sigs
        .iter()
        .any(|s| s.state_for(input.repair_record_hash) == SignatureState::Valid)
    {
        match customer_sigs.iter().max_by_key(|s| s.signed_at) {
            Some(s) => blockers.push(Blocker::SignatureInvalidated { signature_id: s.id }),
            None => blockers.push(Blocker::NoCustomerSignature),
        }
    }
    blockers
}

/// [`completion_blockers`] as a result.
pub fn check_completion(input: CompletionInput<'_>) -> Result<(), DomainError> {
    let blockers = completion_blockers(input);
    if blockers.is_empty() {
        Ok(())
    } else {
        Err(DomainError::CannotComplete(blockers))
    }
}

/// What the rules of a move read under the order: its quotes, signatures, checklist and
/// part usages.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UnderOrder {
    pub quotes: Vec<Quote>,
    pub signatures: Vec<Signature>,
    pub checklist: Vec<ChecklistItem>,
    pub part_usages: Vec<PartUsage>,
    pub settlements: Vec<Settlement>,
}

impl UnderOrder {
    /// From the rows stored under an order, as the server and the laptop hold them; the
    /// rows of other entities are not read.
    pub fn from_rows<'a>(
        rows: impl IntoIterator<Item = (Entity, &'a Map<String, Value>)>,
    ) -> Result<UnderOrder, DomainError> {
        fn typed<T: serde::de::DeserializeOwned>(
            entity: Entity,
            row: &Map<String, Value>,
        ) -> Result<T, DomainError> {
            T::deserialize(row).map_err(|e| DomainError::Invalid {
                field: "record",
                message: format!("a stored {entity} does not read back: {e}"),
            })
        }
        let mut under = UnderOrder::default();
        for (entity, row) in rows {
            match entity {
                Entity::Quote => under.quotes.push(typed(entity, row)?),
                Entity::Signature => under.signatures.push(typed(entity, row)?),
                Entity::ChecklistItem => under.checklist.push(typed(entity, row)?),
                Entity::PartUsage => under.part_usages.push(typed(entity, row)?),
                Entity::Settlement => under.settlements.push(typed(entity, row)?),
                _ => {}
            }
        }
        Ok(under)
    }
}

/// Whether the rules of a move to `to` read the records under the order (a caller may
/// spare reading them otherwise).
pub fn move_reads_records(to: Status) -> bool {
    matches!(
        to,
        Status::Quoted | Status::Approved | Status::Declined | Status::InRepair | Status::Completed
    )
}

/// The quote steps follow the quote records: 已报价 once a quote is presented, 已批准 once
/// the customer approved it (signed, and the signature still matches), 已拒绝 once they
/// declined it.
fn check_quote_step(to: Status, under: &UnderOrder) -> Result<(), DomainError> {
    let latest = latest_quote(&under.quotes);
    let holds = match to {
        Status::Quoted => latest.is_some_and(|q| q.state == QuoteState::Draft),
        Status::Approved => {
            latest.is_some() && quote_blocker(&under.quotes, &under.signatures).is_none()
        }
        _ => latest.is_some_and(|q| matches!(q.state, QuoteState::Declined { .. })),
    };
    if holds {
        return Ok(());
    }
    Err(DomainError::Invalid {
        field: "status",
        message: match to {
            Status::Quoted => "present a quote (报价单) first",
            Status::Approved => "the customer approves the quote by signing it first",
            _ => "record the customer's decline of the quote first",
        }
        .into(),
    })
}

/// The rules of a move beyond the lifecycle table (`work_order::check_transition`), the
/// one function the laptop calls before it queues the move and the server calls before it
/// applies one: the quote steps follow the quote records (`check_quote_step`); paid work
/// starts its repair only with the latest quote approved;
/// completion needs a clean checklist and the customer's valid signature on the repair
/// record; remote resolution is for level-4 faults and consultations. `order` is the
/// order as it will be after the move.
pub fn check_move(order: &WorkOrder, to: Status, under: &UnderOrder) -> Result<(), DomainError> {
    match to {
        Status::Quoted | Status::Approved | Status::Declined => check_quote_step(to, under),
        Status::InRepair => check_repair_start(order, &under.quotes, &under.signatures),
        Status::Remote => crate::work_order::check_remote(order),
        Status::Completed => {
            let hash = repair_record_hash(order, &under.part_usages)?;
            check_completion(CompletionInput {
                order,
                checklist: &under.checklist,
                quotes: &under.quotes,
                signatures: &under.signatures,
                repair_record_hash: &hash,
                settlements: &under.settlements,
            })
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checklist::{Answer, ItemKind};
    use crate::fees::FeeSchedule;
    use crate::money::Quantity;
    use crate::signature::{content_hash, sha256_hex};
    use crate::work_order::{Channel, ChargeCause, Role, ServiceType, WarrantyStatus};
    use chrono::{DateTime, Duration, Utc};

    fn order(paid: bool) -> WorkOrder {
        WorkOrder {
            id: Uuid::from_u128(1),
            number: "SC2611-07".into(),
            department: "SC".into(),
            customer_id: Uuid::from_u128(2),
            equipment_id: None,
            service_type: ServiceType::Repair,
            fault_level: 2,
            channel: Channel::Hotline,
            status: Status::AwaitingSignature,
            reported_at: DateTime::<Utc>::UNIX_EPOCH,
            fault_description: "电机异响".into(),
            expected_completion: None,
            requested_service_at: None,
            scheduled_at: None,
            warranty: if paid {
                WarrantyStatus::OutOfWarranty
            } else {
                WarrantyStatus::InWarranty
            },
            paid,
            charge_cause: None,
            complex: false,
            assignees: vec![],
            recorded_by: None,
            service_record_number: None,
            service_record_waiting: None,
            outside_main_city: false,
            arrived_at: None,
            diagnosis: None,
            repair_result: Some("更换轴承".into()),
            repair_started_at: None,
            repair_ended_at: None,
            outcome: None,
            postpone_reason: None,
        }
    }

    fn item(id: u128, required: bool, answer: Option<Answer>, note: Option<&str>) -> ChecklistItem {
        ChecklistItem {
            id: Uuid::from_u128(id),
            work_order_id: Uuid::from_u128(1),
            template_id: None,
            template_version: None,
            position: u32::try_from(id).expect("small"),
            key: format!("k{id}"),
            label: format!("项目{id}"),
            kind: ItemKind::PassFail,
            required,
            safety: false,
            answer,
            note: note.map(Into::into),
            answered_by: None,
            answered_at: None,
            cross_checked_by: None,
            cross_checked_at: None,
        }
    }

    fn customer_signature(hash: &str, at_secs: i64) -> Signature {
        Signature {
            id: Uuid::from_u128(900 + u128::try_from(at_secs).expect("small")),
            work_order_id: Uuid::from_u128(1),
            document: DocumentKind::RepairRecord,
            document_id: None,
            document_hash: hash.into(),
            signer_name: "张伟".into(),
            signer_role: SignerRole::Customer,
            signed_at: DateTime::<Utc>::UNIX_EPOCH + Duration::seconds(at_secs),
            sha256: sha256_hex(b"png"),
            strokes: serde_json::Value::Null,
        }
    }

    fn record_hash(o: &WorkOrder) -> String {
        content_hash(&(&o.number, &o.repair_result)).expect("hashes")
    }

    #[test]
    fn only_level_four_faults_and_consultations_are_resolved_remotely() {
        let mut o = order(false);
        o.status = Status::Diagnosing;
        let none = UnderOrder::default();
        let refused = check_move(&o, Status::Remote, &none).expect_err("level 2 goes on site");
        assert!(refused.to_string().contains("level 2"), "{refused}");
        assert!(!crate::work_order::next_steps(&o, Role::Engineer).contains(&Status::Remote));
        o.fault_level = 4;
        assert!(check_move(&o, Status::Remote, &none).is_ok());
        assert!(crate::work_order::next_steps(&o, Role::Engineer).contains(&Status::Remote));
        o.fault_level = 1;
        o.service_type = ServiceType::Consultation;
        assert!(check_move(&o, Status::Remote, &none).is_ok());
    }

    #[test]
    fn charged_warranty_work_says_why_in_words() {
        let mut o = order(false);
        assert!(crate::work_order::charge_cause_applies(&o));
        o.charge_cause = Some(ChargeCause::UserDamage("  ".into()));
        assert!(o.validate().is_err(), "a blank reason explains nothing");
        o.charge_cause = Some(ChargeCause::UserDamage("用户私自拆机".into()));
        assert!(o.validate().is_ok());
        assert!(!crate::work_order::charge_cause_applies(&order(true)));
    }

    #[test]
    fn a_free_repair_with_a_clean_checklist_and_a_valid_signature_completes() {
        let o = order(false);
        let h = record_hash(&o);
        let checklist = [
            item(1, true, Some(Answer::Pass), None),
            item(2, false, None, None),
        ];
        let sigs = [customer_signature(&h, 1)];
        let input = CompletionInput {
            order: &o,
            checklist: &checklist,
            quotes: &[],
            signatures: &sigs,
            repair_record_hash: &h,
            settlements: &[],
        };
        assert_eq!(check_completion(input), Ok(()));
    }

    #[test]
    fn open_required_items_and_unexplained_failures_block_completion() {
        let o = order(false);
        let h = record_hash(&o);
        let checklist = [
            item(1, true, None, None),
            item(2, false, Some(Answer::Fail), None),
            item(
                3,
                true,
                Some(Answer::Fail),
                Some("客户拒绝停机，下次保养处理"),
            ),
        ];
        let sigs = [customer_signature(&h, 1)];
        let blockers = completion_blockers(CompletionInput {
            order: &o,
            checklist: &checklist,
            quotes: &[],
            signatures: &sigs,
            repair_record_hash: &h,
            settlements: &[],
        });
        assert_eq!(
            blockers,
            vec![
                Blocker::RequiredItemOpen {
                    item_id: Uuid::from_u128(1),
                    label: "项目1".into()
                },
                Blocker::FailedItemWithoutNote {
                    item_id: Uuid::from_u128(2),
                    label: "项目2".into()
                },
            ]
        );
    }

    #[test]
    fn paid_work_needs_the_latest_quote_approved() {
        let o = order(true);
        let h = record_hash(&o);
        let sigs = [customer_signature(&h, 1)];
        let s = FeeSchedule::default();
        let mut first = Quote {
            id: Uuid::from_u128(10),
            work_order_id: o.id,
            items: vec![s.labour(Quantity::whole(1))],
            schedule_version: 1,
            state: QuoteState::Approved {
                approval: Approval::Verbal {
                    name: "王经理".into(),
                    at: DateTime::<Utc>::UNIX_EPOCH,
                },
            },
            supersedes: None,
            created_at: DateTime::<Utc>::UNIX_EPOCH,
        };
        let input = |quotes: &[Quote]| {
            completion_blockers(CompletionInput {
                order: &o,
                checklist: &[],
                quotes,
                signatures: &sigs,
                repair_record_hash: &h,
                settlements: &[],
            })
        };
        assert_eq!(input(&[]), vec![Blocker::NoApprovedQuote]);
        assert_eq!(
            input(std::slice::from_ref(&first)),
            vec![Blocker::NotSettled],
            "approved, not settled"
        );
        let settled = |settlements: &[Settlement]| {
            completion_blockers(CompletionInput {
                order: &o,
                checklist: &[],
                quotes: std::slice::from_ref(&first),
                signatures: &sigs,
                repair_record_hash: &h,
                settlements,
            })
        };
        let settlement = Settlement::of(
            Uuid::from_u128(20),
            &first,
            crate::fees::PaymentMethod::Cash,
            None,
            DateTime::<Utc>::UNIX_EPOCH,
        )
        .expect("settles");
        assert!(settled(std::slice::from_ref(&settlement)).is_empty());
        let mut other = settlement.clone();
        other.items[0].quantity = Quantity::whole(2);
        assert_eq!(settled(&[other]), vec![Blocker::NotSettled]);
        assert!(check_repair_start(&o, std::slice::from_ref(&first), &sigs).is_ok());
        // A scope change (变更) supersedes it with a draft: not approved any more.
        let change = Quote {
            id: Uuid::from_u128(11),
            supersedes: Some(first.id),
            state: QuoteState::Draft,
            created_at: first.created_at + Duration::hours(1),
            ..first.clone()
        };
        assert_eq!(
            input(&[first.clone(), change.clone()]),
            vec![Blocker::NoApprovedQuote]
        );
        assert!(check_repair_start(&o, &[first.clone(), change], &sigs).is_err());
        first.state = QuoteState::Declined {
            reason: "价格太高".into(),
        };
        assert_eq!(input(&[first]), vec![Blocker::NoApprovedQuote]);
    }

    #[test]
    fn a_quote_changed_after_the_customer_signed_it_is_not_approved() {
        let o = order(true);
        let h = record_hash(&o);
        let s = FeeSchedule::default();
        let mut quote = Quote {
            id: Uuid::from_u128(10),
            work_order_id: o.id,
            items: vec![s.labour(Quantity::whole(1))],
            schedule_version: 1,
            state: QuoteState::Draft,
            supersedes: None,
            created_at: DateTime::<Utc>::UNIX_EPOCH,
        };
        let mut quote_sig = customer_signature(&quote_content_hash(&quote).expect("hashes"), 2);
        quote_sig.document = DocumentKind::Quote;
        quote.state = QuoteState::Approved {
            approval: Approval::Signature {
                signature_id: quote_sig.id,
            },
        };
        let sigs = [customer_signature(&h, 1), quote_sig];
        assert!(check_repair_start(&o, std::slice::from_ref(&quote), &sigs).is_ok());
        quote.items.push(s.labour(Quantity::whole(1)));
        let blockers = completion_blockers(CompletionInput {
            order: &o,
            checklist: &[],
            quotes: std::slice::from_ref(&quote),
            signatures: &sigs,
            repair_record_hash: &h,
            settlements: &[],
        });
        assert_eq!(
            blockers,
            vec![Blocker::QuoteSignatureInvalidated { quote_id: quote.id }]
        );
    }

    #[test]
    fn a_repair_record_edited_after_signing_must_be_signed_again() {
        let mut o = order(false);
        let sig = customer_signature(&record_hash(&o), 1);
        o.repair_result = Some("更换轴承及密封圈".into());
        let h = record_hash(&o);
        let sigs = [sig.clone()];
        let input = CompletionInput {
            order: &o,
            checklist: &[],
            quotes: &[],
            signatures: &sigs,
            repair_record_hash: &h,
            settlements: &[],
        };
        assert_eq!(
            completion_blockers(input),
            vec![Blocker::SignatureInvalidated {
                signature_id: sig.id
            }]
        );
        let none = CompletionInput {
            signatures: &[],
            ..input
        };
        assert_eq!(
            completion_blockers(none),
            vec![Blocker::NoCustomerSignature]
        );
    }

    fn satisfaction(
        id: u128,
        overall: crate::records::Overall,
        voids: Option<u128>,
    ) -> Satisfaction {
        Satisfaction {
            id: Uuid::from_u128(id),
            work_order_id: Uuid::from_u128(1),
            attitude: crate::records::Attitude::VeryGood,
            damage: crate::records::Damage::None,
            hygiene_good: true,
            overall,
            suggestions: None,
            commitment: None,
            collected_at: DateTime::<Utc>::UNIX_EPOCH
                + Duration::seconds(i64::try_from(id).expect("small")),
            voids: voids.map(Uuid::from_u128),
        }
    }

    #[test]
    fn each_document_the_customer_signs_is_void_once_its_content_changes() {
        use crate::records::Overall;
        let mut o = order(false);
        let entries = vec![satisfaction(40, Overall::Satisfied, None)];
        let content = |o: &WorkOrder, entries: &[Satisfaction]| {
            document_hash(
                DocumentKind::FieldServiceRecord,
                SignedContent {
                    order: o,
                    part_usages: &[],
                    satisfaction: entries,
                    settlements: &[],
                },
            )
        };
        assert!(
            matches!(
                signing(
                    DocumentKind::FieldServiceRecord,
                    SignedContent {
                        order: &o,
                        part_usages: &[],
                        satisfaction: &[],
                        settlements: &[]
                    },
                    &[]
                ),
                Signing::NotReady { .. }
            ),
            "no form filled in, nothing to sign"
        );
        let mut sig = customer_signature(&content(&o, &entries).expect("hash"), 1);
        sig.document = DocumentKind::FieldServiceRecord;
        let state = |o: &WorkOrder, entries: &[Satisfaction]| {
            signing(
                DocumentKind::FieldServiceRecord,
                SignedContent {
                    order: o,
                    part_usages: &[],
                    satisfaction: entries,
                    settlements: &[],
                },
                std::slice::from_ref(&sig),
            )
        };
        assert!(matches!(state(&o, &entries), Signing::Signed { .. }));
        // The customer changes their rating: a correction voids the first entry.
        let changed = vec![
            entries[0].clone(),
            satisfaction(41, Overall::Dissatisfied, Some(40)),
        ];
        assert!(matches!(state(&o, &changed), Signing::Changed { .. }));
        // The engineer edits the repair result after signing.
        o.repair_result = Some("更换轴承，试机正常".into());
        assert!(matches!(state(&o, &entries), Signing::Changed { .. }));
        // The handover (服务回执单) is signed for the work done and what is left.
        let receipt = |o: &WorkOrder| {
            document_hash(
                DocumentKind::ServiceReceipt,
                SignedContent {
                    order: o,
                    part_usages: &[],
                    satisfaction: &[],
                    settlements: &[],
                },
            )
            .expect("defined")
        };
        let before = receipt(&o);
        o.outcome = Some(crate::work_order::Outcome::NotCompleted(
            "待备件，12月10日前更换".into(),
        ));
        assert_ne!(before, receipt(&o), "what is left is part of the handover");
        // A settlement is signed for what it settles and how it is paid.
        let s = FeeSchedule::default();
        let settlement = crate::fees::Settlement {
            id: Uuid::from_u128(60),
            work_order_id: o.id,
            quote_id: Uuid::from_u128(61),
            items: vec![s.labour(Quantity::whole(1))],
            payment: crate::fees::PaymentMethod::Cash,
            invoice_ref: None,
            settled_at: DateTime::<Utc>::UNIX_EPOCH,
            voids: None,
        };
        let mut paid_otherwise = settlement.clone();
        paid_otherwise.payment = crate::fees::PaymentMethod::Electronic;
        assert_ne!(
            settlement_hash(&settlement).expect("hash"),
            settlement_hash(&paid_otherwise).expect("hash")
        );
    }
}
