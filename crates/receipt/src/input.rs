//! What a document is printed from: one work order and everything under it, read from
//! the stored rows the same way on the laptop and on the server, so that both print the
//! same document.

use std::collections::BTreeMap;

use onsite_domain::checklist::ChecklistItem;
use onsite_domain::fees::{FeeSchedule, Quote, Settlement};
use onsite_domain::protocol::Entity;
use onsite_domain::records::{
    Company, Correctable, Customer, Equipment, FollowUp, LogEntry, Part, PartUsage, Satisfaction,
};
use onsite_domain::signature::Signature;
use onsite_domain::work_order::WorkOrder;
use serde::de::DeserializeOwned;
use uuid::Uuid;

use crate::ReceiptError;

/// One work order with what its documents print. Built by [`OrderFile::from_rows`];
/// every list is in id order and holds only what stands (a record that a correction
/// voids is left out; the correction stands, unless it is a part usage of 0, which only
/// cancels).
#[derive(Debug, Clone, PartialEq)]
pub struct OrderFile {
    pub order: WorkOrder,
    pub company: Option<Company>,
    pub customer: Option<Customer>,
    pub equipment: Option<Equipment>,
    /// The parts catalogue (names and numbers of the parts used).
    pub parts: Vec<Part>,
    pub part_usages: Vec<PartUsage>,
    pub quotes: Vec<Quote>,
    pub settlements: Vec<Settlement>,
    pub signatures: Vec<Signature>,
    pub satisfaction: Vec<Satisfaction>,
    pub log_entries: Vec<LogEntry>,
    pub follow_ups: Vec<FollowUp>,
    /// The checklist, safety first (`checklist::in_working_order`).
    pub checklist: Vec<ChecklistItem>,
    pub fee_schedules: Vec<FeeSchedule>,
    /// Signature images (PNG) by SHA-256; a signature whose image is missing is printed
    /// as a box that says so.
    pub images: BTreeMap<String, Vec<u8>>,
}

fn decode<T: DeserializeOwned>(entity: Entity, body: &str) -> Result<T, ReceiptError> {
    serde_json::from_str(body).map_err(|e| ReceiptError::Record {
        entity: entity.as_str(),
        message: e.to_string(),
    })
}

impl OrderFile {
    /// Builds the file of order `id` from stored rows `(entity, JSON body)`: the order,
    /// the rows under it, its customer and equipment, the parts catalogue, fee schedules
    /// and the company. Rows of other orders, customers or equipment are ignored, so a
    /// caller may pass more than needed.
    pub fn from_rows<'a>(
        id: Uuid,
        rows: impl IntoIterator<Item = (Entity, &'a str)>,
    ) -> Result<OrderFile, ReceiptError> {
        let mut order: Option<WorkOrder> = None;
        let mut customers: Vec<Customer> = Vec::new();
        let mut equipment: Vec<Equipment> = Vec::new();
        let mut companies: Vec<Company> = Vec::new();
        let mut f = Collected::default();
        for (entity, body) in rows {
            match entity {
                Entity::WorkOrder => {
                    let o: WorkOrder = decode(entity, body)?;
                    if o.id == id {
                        order = Some(o);
                    }
                }
                Entity::Customer => customers.push(decode(entity, body)?),
                Entity::Equipment => equipment.push(decode(entity, body)?),
                Entity::Company => companies.push(decode(entity, body)?),
                Entity::Part => f.parts.push(decode(entity, body)?),
                Entity::FeeSchedule => f.fee_schedules.push(decode(entity, body)?),
                Entity::PartUsage => keep(
                    &mut f.part_usages,
                    decode(entity, body)?,
                    id,
                    |p: &PartUsage| p.work_order_id,
                ),
                Entity::Quote => keep(&mut f.quotes, decode(entity, body)?, id, |q: &Quote| {
                    q.work_order_id
                }),
                Entity::Settlement => keep(
                    &mut f.settlements,
                    decode(entity, body)?,
                    id,
                    |s: &Settlement| s.work_order_id,
                ),
                Entity::Signature => keep(
                    &mut f.signatures,
                    decode(entity, body)?,
                    id,
                    |s: &Signature| s.work_order_id,
                ),
                Entity::Satisfaction => keep(
                    &mut f.satisfaction,
                    decode(entity, body)?,
                    id,
                    |s: &Satisfaction| s.work_order_id,
                ),
                Entity::LogEntry => keep(
                    &mut f.log_entries,
                    decode(entity, body)?,
                    id,
                    |l: &LogEntry| l.work_order_id,
                ),
                Entity::FollowUp => keep(
                    &mut f.follow_ups,
                    decode(entity, body)?,
                    id,
                    |l: &FollowUp| l.work_order_id,
                ),
                Entity::ChecklistItem => keep(
                    &mut f.checklist,
                    decode(entity, body)?,
                    id,
                    |i: &ChecklistItem| i.work_order_id,
                ),
                _ => {}
            }
        }
        let order = order.ok_or(ReceiptError::NoOrder(id))?;
        let customer = customers.into_iter().find(|c| c.id == order.customer_id);
        let equipment = equipment
            .into_iter()
            .find(|e| Some(e.id) == order.equipment_id);
        companies.sort_by_key(|c| c.id);
        f.parts.sort_by_key(|p| p.id);
        f.fee_schedules.sort_by_key(|s| s.version);
        let part_usages = standing(f.part_usages);
        let mut checklist = f.checklist;
        onsite_domain::checklist::in_working_order(&mut checklist);
        let part_usages = part_usages.into_iter().filter(|p| p.quantity > 0).collect();
        Ok(OrderFile {
            order,
            company: companies.into_iter().next(),
            customer,
            equipment,
            parts: f.parts,
            part_usages,
            quotes: sorted(f.quotes, |q| q.id),
            settlements: standing(f.settlements),
            signatures: sorted(f.signatures, |s| s.id),
            satisfaction: standing(f.satisfaction),
            log_entries: standing(f.log_entries),
            follow_ups: standing(f.follow_ups),
            checklist,
            fee_schedules: f.fee_schedules,
            images: BTreeMap::new(),
        })
    }

    /// The SHA-256 of every signature image the documents draw.
    pub fn signature_images(&self) -> Vec<String> {
        let mut v: Vec<String> = self.signatures.iter().map(|s| s.sha256.clone()).collect();
        v.sort();
        v.dedup();
        v
    }

    pub(crate) fn part(&self, id: Uuid) -> Option<&Part> {
        self.parts.iter().find(|p| p.id == id)
    }

    /// The fee schedule a quote was priced with; the default table when it is not here.
    pub(crate) fn schedule(&self, version: u32) -> FeeSchedule {
        self.fee_schedules
            .iter()
            .find(|s| s.version == version)
            .cloned()
            .unwrap_or_default()
    }
}

#[derive(Default)]
struct Collected {
    parts: Vec<Part>,
    fee_schedules: Vec<FeeSchedule>,
    part_usages: Vec<PartUsage>,
    quotes: Vec<Quote>,
    settlements: Vec<Settlement>,
    signatures: Vec<Signature>,
    satisfaction: Vec<Satisfaction>,
    log_entries: Vec<LogEntry>,
    follow_ups: Vec<FollowUp>,
    checklist: Vec<ChecklistItem>,
}

fn keep<T>(into: &mut Vec<T>, item: T, order: Uuid, of: impl Fn(&T) -> Uuid) {
    if of(&item) == order {
        into.push(item);
    }
}

fn sorted<T>(mut items: Vec<T>, id: impl Fn(&T) -> Uuid) -> Vec<T> {
    items.sort_by_key(|i| id(i));
    items
}

/// Append-only records that still stand (`records::standing`), in id order.
fn standing<T: Correctable>(items: Vec<T>) -> Vec<T> {
    sorted(onsite_domain::records::standing(items), |i| i.record_id())
}
