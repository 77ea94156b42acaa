//! Fee schedule 收费标准 and the price of paid work: quotes 报价单 and settlements 结算单.
//!
//! The rounding rules, applied in this order (all amounts integer fen):
//! 1. each line: unit price × quantity, rounded half away from zero to the fen;
//!    a warranty part (三包件) line is free: its total is 0 whatever its unit price;
//! 2. subtotal = materials + labour + travel (transport + lodging + meals) + other;
//! 3. tax = subtotal × tax rate (15 %), rounded half away from zero;
//! 4. cost = subtotal + tax — the seed's "维修成本 (材料费+人工费+差旅+税费)";
//! 5. management fee = cost × management rate (40 %), rounded half away from zero;
//! 6. total = cost + management fee.
//!
//! Rounding happens at most once per line and once per percentage, so a total can always
//! be re-computed by hand from the printed lines.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::DomainError;
use crate::money::{Fen, Quantity, Rate};

/// The versioned fee schedule, synced from the server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct FeeSchedule {
    pub version: u32,
    pub labour_per_day: Fen,
    pub lodging_per_day: Fen,
    pub meals_per_day: Fen,
    pub tax: Rate,
    pub management: Rate,
}

impl Default for FeeSchedule {
    /// Table 1 of the seed manual: labour 200 元/day, lodging 150 元/day, meals 50 元/day,
    /// travel as incurred, materials at list price, tax 15 %, management fee 40 %.
    fn default() -> Self {
        FeeSchedule {
            version: 1,
            labour_per_day: Fen::yuan(200),
            lodging_per_day: Fen::yuan(150),
            meals_per_day: Fen::yuan(50),
            tax: Rate::percent(15),
            management: Rate::percent(40),
        }
    }
}

/// The fee categories of the schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(rename = "FeeItemKind"))]
#[serde(rename_all = "snake_case")]
pub enum ItemKind {
    /// 人工费
    Labour,
    /// 材料费 (a part)
    Part,
    /// 交通费, as incurred
    Transport,
    /// 住宿费
    Lodging,
    /// 餐饮费
    Meals,
    Other,
}

/// One line of a quote or settlement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct QuoteItem {
    pub kind: ItemKind,
    pub description: String,
    #[serde(default)]
    pub part_id: Option<Uuid>,
    pub unit_price: Fen,
    pub quantity: Quantity,
    /// A warranty part (三包件): listed, not charged.
    #[serde(default)]
    pub warranty: bool,
}

impl QuoteItem {
    /// The charged amount of this line (rule 1).
    pub fn total(&self) -> Fen {
        if self.warranty {
            Fen::ZERO
        } else {
            self.unit_price.times(self.quantity)
        }
    }

    pub fn validate(&self) -> Result<(), DomainError> {
        if self.unit_price < Fen::ZERO {
            return Err(DomainError::Invalid {
                field: "unit_price",
                message: "a unit price cannot be negative".into(),
            });
        }
        if self.quantity == Quantity::ZERO {
            return Err(DomainError::Invalid {
                field: "quantity",
                message: "a line needs a quantity above 0".into(),
            });
        }
        if self.description.trim().is_empty() {
            return Err(DomainError::Invalid {
                field: "description",
                message: "describe the line".into(),
            });
        }
        if self.warranty && self.kind != ItemKind::Part {
            return Err(DomainError::Invalid {
                field: "warranty",
                message: "only parts can be warranty parts".into(),
            });
        }
        Ok(())
    }
}

impl FeeSchedule {
    /// What an expense comes to (seed table 1): lodging and meals are days × this
    /// schedule's daily rate — the days are needed, an amount is not taken; transport and
    /// other are what was paid — the amount is needed. Returns the amount and the days.
    pub fn expense_amount(
        &self,
        kind: crate::records::ExpenseKind,
        days: Option<Quantity>,
        paid: Option<Fen>,
    ) -> Result<(Fen, Option<Quantity>), DomainError> {
        use crate::records::ExpenseKind as K;
        let rate = match kind {
            K::Lodging => Some(self.lodging_per_day),
            K::Meals => Some(self.meals_per_day),
            K::Transport | K::Other => None,
        };
        match (rate, days, paid) {
            (Some(rate), Some(days), _) if days > Quantity::ZERO => {
                Ok((rate.times(days), Some(days)))
            }
            (Some(_), _, _) => Err(DomainError::Invalid {
                field: "days",
                message: "lodging and meals are counted in days at the fee schedule's rate: give the days".into(),
            }),
            (None, _, Some(paid)) if paid > Fen::ZERO => Ok((paid, None)),
            (None, _, _) => Err(DomainError::Invalid {
                field: "amount",
                message: "give the amount paid, above 0".into(),
            }),
        }
    }

    pub fn labour(&self, days: Quantity) -> QuoteItem {
        QuoteItem {
            kind: ItemKind::Labour,
            description: "人工费".into(),
            part_id: None,
            unit_price: self.labour_per_day,
            quantity: days,
            warranty: false,
        }
    }
    pub fn lodging(&self, days: Quantity) -> QuoteItem {
        QuoteItem {
            kind: ItemKind::Lodging,
            description: "住宿费".into(),
            part_id: None,
            unit_price: self.lodging_per_day,
            quantity: days,
            warranty: false,
        }
    }
    pub fn meals(&self, days: Quantity) -> QuoteItem {
        QuoteItem {
            kind: ItemKind::Meals,
            description: "餐饮费".into(),
            part_id: None,
            unit_price: self.meals_per_day,
            quantity: days,
            warranty: false,
        }
    }

    /// Prices `items` by the rules at the top of this file.
    pub fn price(&self, items: &[QuoteItem]) -> Result<Pricing, DomainError> {
        let mut p = Pricing {
            schedule_version: self.version,
            ..Pricing::default()
        };
        for item in items {
            item.validate()?;
            let total = item.total();
            let bucket = match item.kind {
                ItemKind::Part if item.warranty => &mut p.warranty_parts_value,
                ItemKind::Part => &mut p.materials,
                ItemKind::Labour => &mut p.labour,
                ItemKind::Transport | ItemKind::Lodging | ItemKind::Meals => &mut p.travel,
                ItemKind::Other => &mut p.other,
            };
            // Warranty parts are listed at their value for the record, never charged.
            let amount = if item.warranty {
                item.unit_price.times(item.quantity)
            } else {
                total
            };
            *bucket = bucket
                .checked_add(amount)
                .ok_or(DomainError::AmountTooLarge)?;
        }
        p.subtotal = p.materials + p.labour + p.travel + p.other;
        p.tax = p.subtotal.percent(self.tax);
        p.cost = p.subtotal + p.tax;
        p.management = p.cost.percent(self.management);
        p.total = p.cost + p.management;
        Ok(p)
    }
}

/// What the engineer fills in to quote (报价): days at the schedule's daily rates, the
/// transport as it will be paid, and parts picked from the catalogue at its list price.
/// A cost the customer supplies (their own lodging, meals, a car) is 0 and gets no line.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct QuoteRequest {
    pub labour_days: Quantity,
    pub transport: Fen,
    pub lodging_days: Quantity,
    pub meals_days: Quantity,
    pub parts: Vec<QuotePart>,
}

/// A part on a quote: which, how many, and whether it is a warranty part (listed, free).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct QuotePart {
    pub part_id: Uuid,
    pub quantity: Quantity,
    #[serde(default)]
    pub warranty: bool,
}

/// The most lines a quote has (a form, not a catalogue).
pub const MAX_QUOTE_LINES: usize = 60;

impl FeeSchedule {
    /// The lines of a quote from what the engineer filled in: labour, transport, lodging
    /// and meals in that order (none for a 0: supplied by the customer), then the parts
    /// at the catalogue's list price. Refused: a part not in `catalogue`, a part twice,
    /// no line at all.
    pub fn quote_lines(
        &self,
        request: &QuoteRequest,
        catalogue: &[crate::records::Part],
    ) -> Result<Vec<QuoteItem>, DomainError> {
        let mut items = Vec::new();
        if request.labour_days > Quantity::ZERO {
            items.push(self.labour(request.labour_days));
        }
        if request.transport > Fen::ZERO {
            items.push(QuoteItem {
                kind: ItemKind::Transport,
                description: "交通费".into(),
                part_id: None,
                unit_price: request.transport,
                quantity: Quantity::whole(1),
                warranty: false,
            });
        } else if request.transport < Fen::ZERO {
            return Err(DomainError::Invalid {
                field: "transport",
                message: "a transport cost cannot be negative (0: the customer provides it)".into(),
            });
        }
        if request.lodging_days > Quantity::ZERO {
            items.push(self.lodging(request.lodging_days));
        }
        if request.meals_days > Quantity::ZERO {
            items.push(self.meals(request.meals_days));
        }
        for (i, wanted) in request.parts.iter().enumerate() {
            if request.parts[..i]
                .iter()
                .any(|p| p.part_id == wanted.part_id && p.warranty == wanted.warranty)
            {
                return Err(DomainError::Invalid {
                    field: "parts",
                    message: "a part is on the quote twice: change its quantity instead".into(),
                });
            }
            let part = catalogue
                .iter()
                .find(|p| p.id == wanted.part_id)
                .ok_or_else(|| DomainError::Invalid {
                    field: "parts",
                    message: format!(
                        "part {} is not in the catalogue on this laptop: sync, then quote it",
                        wanted.part_id
                    ),
                })?;
            items.push(QuoteItem {
                kind: ItemKind::Part,
                description: format!("{} {}", part.name, part.part_number),
                part_id: Some(part.id),
                unit_price: part.unit_price,
                quantity: wanted.quantity,
                warranty: wanted.warranty,
            });
        }
        if items.is_empty() {
            return Err(DomainError::Invalid {
                field: "items",
                message: "a quote needs at least one line: labour, travel or a part".into(),
            });
        }
        self.check_lines(&items, catalogue)?;
        Ok(items)
    }

    /// What the server checks of quoted lines it did not make: at most
    /// [`MAX_QUOTE_LINES`], each valid, labour, lodging and meals at this schedule's daily
    /// rates, and a part at its catalogue price (a part line names its part). Transport
    /// and other costs are as incurred.
    pub fn check_lines(
        &self,
        items: &[QuoteItem],
        catalogue: &[crate::records::Part],
    ) -> Result<(), DomainError> {
        if items.len() > MAX_QUOTE_LINES {
            return Err(DomainError::Invalid {
                field: "items",
                message: format!("a quote has at most {MAX_QUOTE_LINES} lines"),
            });
        }
        for item in items {
            item.validate()?;
            let rate = match item.kind {
                ItemKind::Labour => Some(self.labour_per_day),
                ItemKind::Lodging => Some(self.lodging_per_day),
                ItemKind::Meals => Some(self.meals_per_day),
                ItemKind::Part => {
                    let listed = item
                        .part_id
                        .and_then(|id| catalogue.iter().find(|p| p.id == id))
                        .map(|p| p.unit_price);
                    if listed.is_none() {
                        return Err(DomainError::Invalid {
                            field: "items",
                            message: format!(
                                "the part line {:?} names no part of the catalogue",
                                item.description
                            ),
                        });
                    }
                    listed
                }
                ItemKind::Transport | ItemKind::Other => None,
            };
            if let Some(rate) = rate
                && rate != item.unit_price
            {
                return Err(DomainError::Invalid {
                    field: "items",
                    message: format!(
                        "{:?} is at {} a unit, the fee schedule (version {}) says {}: quote again",
                        item.description,
                        item.unit_price.to_yuan_string(),
                        self.version,
                        rate.to_yuan_string()
                    ),
                });
            }
        }
        self.price(items).map(|_| ())
    }
}

/// The price of a set of lines, every step kept so a document can print it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Pricing {
    pub schedule_version: u32,
    pub materials: Fen,
    pub labour: Fen,
    pub travel: Fen,
    pub other: Fen,
    /// The list value of warranty parts used: shown, not charged.
    pub warranty_parts_value: Fen,
    pub subtotal: Fen,
    pub tax: Fen,
    pub cost: Fen,
    pub management: Fen,
    pub total: Fen,
}

/// How the customer agreed to a quote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case", tag = "by")]
pub enum Approval {
    /// Signed on the engineer's screen (preferred); the signature record holds the hash.
    Signature { signature_id: Uuid },
    /// Agreed verbally; who agreed and when is recorded.
    Verbal { name: String, at: DateTime<Utc> },
}

/// Where a quote stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum QuoteState {
    Draft,
    Approved { approval: Approval },
    Declined { reason: String },
}

/// 报价单. Append-only: a change (变更) is a new quote that `supersedes` the old one
/// and needs its own approval.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Quote {
    pub id: Uuid,
    pub work_order_id: Uuid,
    pub items: Vec<QuoteItem>,
    pub schedule_version: u32,
    pub state: QuoteState,
    #[serde(default)]
    pub supersedes: Option<Uuid>,
    pub created_at: DateTime<Utc>,
}

impl Quote {
    pub fn is_approved(&self) -> bool {
        matches!(self.state, QuoteState::Approved { .. })
    }

    /// A quote to present to the customer (报价), priced by `schedule`; `supersedes` the
    /// order's latest quote when there is one (a 变更 after approval, or quoting again
    /// after a decline), so it needs its own approval.
    pub fn present(
        id: Uuid,
        work_order_id: Uuid,
        items: Vec<QuoteItem>,
        schedule: &FeeSchedule,
        supersedes: Option<Uuid>,
        now: DateTime<Utc>,
    ) -> Result<Quote, DomainError> {
        schedule.price(&items)?;
        Ok(Quote {
            id,
            work_order_id,
            items,
            schedule_version: schedule.version,
            state: QuoteState::Draft,
            supersedes,
            created_at: now,
        })
    }

    /// The customer's decision on this presented quote: a new record, the same lines, that
    /// supersedes it (quotes are append-only). A decline needs its reason.
    pub fn decide(
        &self,
        id: Uuid,
        state: QuoteState,
        now: DateTime<Utc>,
    ) -> Result<Quote, DomainError> {
        if self.state != QuoteState::Draft {
            return Err(DomainError::Invalid {
                field: "state",
                message: "the customer has decided on this quote already: quote again for a change"
                    .into(),
            });
        }
        match &state {
            QuoteState::Draft => {
                return Err(DomainError::Invalid {
                    field: "state",
                    message: "a decision approves or declines".into(),
                });
            }
            QuoteState::Declined { reason } if reason.trim().is_empty() => {
                return Err(DomainError::Invalid {
                    field: "reason",
                    message: "write why the customer declines the quote".into(),
                });
            }
            _ => {}
        }
        Ok(Quote {
            id,
            work_order_id: self.work_order_id,
            items: self.items.clone(),
            schedule_version: self.schedule_version,
            state,
            supersedes: Some(self.id),
            created_at: now.max(self.created_at),
        })
    }

    /// What the server checks of a quote an engineer appends, against what it holds:
    /// - a presented quote (draft) is priced by the current schedule (`schedule`, when it
    ///   is the quote's version; a quote made offline on an older one is kept as signed,
    ///   one on a newer version than the server's is refused), and supersedes nothing or
    ///   a quote of the same order;
    /// - a decision supersedes a presented quote of the same order with the same lines, and
    ///   an approval is the customer's signature, already here, on exactly this quote
    ///   (`quote_content_hash`); a verbal approval is the office's to record.
    pub fn check_engineers(
        &self,
        superseded: Option<&Quote>,
        signature: Option<&crate::signature::Signature>,
        schedule: Option<&FeeSchedule>,
        catalogue: &[crate::records::Part],
    ) -> Result<(), DomainError> {
        let invalid = |message: String| DomainError::Invalid {
            field: "quote",
            message,
        };
        if let Some(old) = superseded
            && old.work_order_id != self.work_order_id
        {
            return Err(invalid(
                "a quote supersedes a quote of another order".into(),
            ));
        }
        if self.supersedes.is_some() && superseded.is_none() {
            return Err(invalid(
                "the quote it supersedes is not on the server: send that one first".into(),
            ));
        }
        match &self.state {
            QuoteState::Draft => {
                let current = schedule.map_or(0, |s| s.version);
                if self.schedule_version > current {
                    return Err(invalid(format!(
                        "the quote is priced by fee schedule version {}, the server has {current}",
                        self.schedule_version
                    )));
                }
                match schedule {
                    Some(s) if s.version == self.schedule_version => {
                        s.check_lines(&self.items, catalogue)
                    }
                    _ => FeeSchedule::default().price(&self.items).map(|_| ()),
                }
            }
            decided => {
                let Some(presented) = superseded.filter(|q| q.state == QuoteState::Draft) else {
                    return Err(invalid(
                        "a decision is on a presented quote (报价单): present it first".into(),
                    ));
                };
                if presented.items != self.items
                    || presented.schedule_version != self.schedule_version
                {
                    return Err(invalid(
                        "the decision's lines differ from the quote presented: present the new lines as a quote".into(),
                    ));
                }
                match decided {
                    QuoteState::Approved {
                        approval: Approval::Signature { signature_id },
                    } => {
                        let hash = crate::completion::quote_content_hash(self)?;
                        match signature {
                            Some(sig)
                                if sig.id == *signature_id
                                    && sig.work_order_id == self.work_order_id
                                    && sig.document == crate::signature::DocumentKind::Quote
                                    && sig.document_id == Some(self.id)
                                    && sig.signer_role
                                        == crate::signature::SignerRole::Customer
                                    && sig.document_hash == hash =>
                            {
                                Ok(())
                            }
                            Some(_) => Err(invalid(
                                "the signature does not sign this quote: the customer signs again".into(),
                            )),
                            None => Err(invalid(
                                "the customer's signature of the quote is not on the server: send it first".into(),
                            )),
                        }
                    }
                    QuoteState::Approved {
                        approval: Approval::Verbal { .. },
                    } => Err(invalid(
                        "on site the customer approves a quote by signing it on the laptop".into(),
                    )),
                    QuoteState::Declined { reason } if reason.trim().is_empty() => {
                        Err(invalid("a decline says why".into()))
                    }
                    _ => Ok(()),
                }
            }
        }
    }
}

/// How the customer pays a settlement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum PaymentMethod {
    /// 现金
    Cash,
    /// 电子支付 (transfer, WeChat Pay, Alipay…)
    Electronic,
}

/// 结算单: what the customer pays, line for line the approved quote. Append-only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Settlement {
    pub id: Uuid,
    pub work_order_id: Uuid,
    /// The approved quote this settles.
    pub quote_id: Uuid,
    pub items: Vec<QuoteItem>,
    pub payment: PaymentMethod,
    /// Invoice (发票) or receipt (收据) reference.
    pub invoice_ref: Option<String>,
    pub settled_at: DateTime<Utc>,
    #[serde(default)]
    pub voids: Option<Uuid>,
}

/// The most characters of an invoice or receipt reference.
pub const MAX_INVOICE_REF_CHARS: usize = 64;

impl Settlement {
    /// The settlement of `approved`: its lines exactly, paid by `payment`.
    pub fn of(
        id: Uuid,
        approved: &Quote,
        payment: PaymentMethod,
        invoice_ref: Option<String>,
        now: DateTime<Utc>,
    ) -> Result<Settlement, DomainError> {
        let settlement = Settlement {
            id,
            work_order_id: approved.work_order_id,
            quote_id: approved.id,
            items: approved.items.clone(),
            payment,
            invoice_ref: invoice_ref
                .map(|r| r.trim().to_owned())
                .filter(|r| !r.is_empty()),
            settled_at: now,
            voids: None,
        };
        settlement.check_against(std::slice::from_ref(approved))?;
        Ok(settlement)
    }

    /// A settlement settles the order's latest quote, approved, line for line (checked when
    /// it is saved on the laptop, and by the server when it arrives: another quote since,
    /// or other lines, is a conflict to settle again).
    pub fn check_against(&self, quotes: &[Quote]) -> Result<(), DomainError> {
        if self
            .invoice_ref
            .as_ref()
            .is_some_and(|r| r.chars().count() > MAX_INVOICE_REF_CHARS)
        {
            return Err(DomainError::Invalid {
                field: "invoice_ref",
                message: format!(
                    "an invoice or receipt reference has at most {MAX_INVOICE_REF_CHARS} characters"
                ),
            });
        }
        let of_order: Vec<Quote> = quotes
            .iter()
            .filter(|q| q.work_order_id == self.work_order_id)
            .cloned()
            .collect();
        match crate::completion::latest_quote(&of_order) {
            Some(latest) if latest.id == self.quote_id => check_settlement(latest, &self.items),
            Some(_) => Err(DomainError::SettlementDiffers),
            None => Err(DomainError::QuoteNotApproved),
        }
    }
}

/// A settlement may be printed only if its lines are exactly those of the approved quote
/// (DOMAIN.md: the customer-facing document shows only what was agreed).
pub fn check_settlement(approved: &Quote, settlement: &[QuoteItem]) -> Result<(), DomainError> {
    if !approved.is_approved() {
        return Err(DomainError::QuoteNotApproved);
    }
    if approved.items != settlement {
        return Err(DomainError::SettlementDiffers);
    }
    Ok(())
}

#[cfg(test)]
mod expense_tests {
    use super::*;
    use crate::records::ExpenseKind;

    #[test]
    fn lodging_and_meals_are_days_at_the_schedules_rate_and_transport_is_what_was_paid() {
        let s = FeeSchedule::default();
        let two = Quantity::whole(2);
        assert_eq!(
            s.expense_amount(ExpenseKind::Lodging, Some(two), Some(Fen::yuan(999))),
            Ok((Fen::yuan(300), Some(two))),
            "the schedule decides, not a typed amount"
        );
        assert_eq!(
            s.expense_amount(
                ExpenseKind::Meals,
                Some(Quantity::from_hundredths(150)),
                None
            ),
            Ok((Fen::yuan(75), Some(Quantity::from_hundredths(150))))
        );
        assert!(s.expense_amount(ExpenseKind::Meals, None, None).is_err());
        assert_eq!(
            s.expense_amount(ExpenseKind::Transport, None, Some(Fen(8650))),
            Ok((Fen(8650), None))
        );
        assert!(
            s.expense_amount(ExpenseKind::Other, None, Some(Fen::ZERO))
                .is_err()
        );
    }

    #[test]
    fn an_amount_is_read_in_yuan_with_at_most_two_decimals() {
        assert_eq!(Fen::parse_yuan("86.5"), Ok(Fen(8650)));
        assert_eq!(Fen::parse_yuan(" ¥1,234.05 "), Ok(Fen(123_405)));
        assert_eq!(Fen::parse_yuan("30"), Ok(Fen(3000)));
        for bad in ["", "-3", "1.234", "abc", "1e5", ".5", "123456789"] {
            assert!(Fen::parse_yuan(bad).is_err(), "{bad:?}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part(desc: &str, yuan_fen: i64, qty: u64, warranty: bool) -> QuoteItem {
        QuoteItem {
            kind: ItemKind::Part,
            description: desc.into(),
            part_id: None,
            unit_price: Fen(yuan_fen),
            quantity: Quantity::whole(qty),
            warranty,
        }
    }

    #[test]
    fn paid_repair_worked_example() {
        // By hand:
        //   parts: 2 × 356.40 = 712.80 (customer-purchased); 1 × 980.00 warranty part = free
        //   labour: 1.5 days × 200.00 = 300.00
        //   transport 86.50; lodging 1 × 150.00; meals 2 × 50.00 = 100.00 → travel 336.50
        //   subtotal = 712.80 + 300.00 + 336.50 = 1349.30
        //   tax 15 % = 202.395 → 202.40 (half away from zero)
        //   cost = 1551.70
        //   management 40 % = 620.68
        //   total = 2172.38
        let s = FeeSchedule::default();
        let items = vec![
            part("接触器 CJX2-1810", 35_640, 2, false),
            part("主板", 98_000, 1, true),
            s.labour(Quantity::from_hundredths(150)),
            QuoteItem {
                kind: ItemKind::Transport,
                description: "交通费".into(),
                part_id: None,
                unit_price: Fen(8_650),
                quantity: Quantity::whole(1),
                warranty: false,
            },
            s.lodging(Quantity::whole(1)),
            s.meals(Quantity::whole(2)),
        ];
        let p = s.price(&items).expect("valid lines");
        assert_eq!(p.materials, Fen(71_280));
        assert_eq!(p.warranty_parts_value, Fen(98_000));
        assert_eq!(p.labour, Fen(30_000));
        assert_eq!(p.travel, Fen(33_650));
        assert_eq!(p.subtotal, Fen(134_930));
        assert_eq!(p.tax, Fen(20_240));
        assert_eq!(p.cost, Fen(155_170));
        assert_eq!(p.management, Fen(62_068));
        assert_eq!(p.total, Fen(217_238));
    }

    #[test]
    fn labour_only_example_with_exact_percentages() {
        // 1 day labour 200.00; tax 30.00; cost 230.00; management 92.00; total 322.00.
        let s = FeeSchedule::default();
        let p = s.price(&[s.labour(Quantity::whole(1))]).expect("valid");
        assert_eq!(
            (p.tax, p.cost, p.management, p.total),
            (Fen(3_000), Fen(23_000), Fen(9_200), Fen(32_200))
        );
    }

    #[test]
    fn rounding_of_a_half_fen_in_the_management_fee() {
        // One part at 0.11: subtotal 11 fen; tax 1.65 → 2 fen; cost 13 fen;
        // management 5.2 → 5 fen; total 18 fen.
        let p = FeeSchedule::default()
            .price(&[part("垫片", 11, 1, false)])
            .expect("valid");
        assert_eq!(
            (p.tax, p.cost, p.management, p.total),
            (Fen(2), Fen(13), Fen(5), Fen(18))
        );
    }

    #[test]
    fn all_warranty_parts_cost_nothing() {
        let p = FeeSchedule::default()
            .price(&[part("主板", 98_000, 1, true)])
            .expect("valid");
        assert_eq!(p.total, Fen::ZERO);
    }

    #[test]
    fn bad_lines_are_refused() {
        let s = FeeSchedule::default();
        assert!(s.price(&[part("x", -1, 1, false)]).is_err());
        assert!(s.price(&[part("x", 100, 0, false)]).is_err());
        let mut labour = s.labour(Quantity::whole(1));
        labour.warranty = true;
        assert!(s.price(&[labour]).is_err());
    }

    #[test]
    fn a_settlement_must_match_the_approved_quote() {
        let s = FeeSchedule::default();
        let items = vec![s.labour(Quantity::whole(1))];
        let mut q = Quote {
            id: Uuid::nil(),
            work_order_id: Uuid::nil(),
            items: items.clone(),
            schedule_version: 1,
            state: QuoteState::Draft,
            supersedes: None,
            created_at: DateTime::<Utc>::UNIX_EPOCH,
        };
        assert_eq!(
            check_settlement(&q, &items),
            Err(DomainError::QuoteNotApproved)
        );
        q.state = QuoteState::Approved {
            approval: Approval::Verbal {
                name: "王经理".into(),
                at: DateTime::<Utc>::UNIX_EPOCH,
            },
        };
        assert_eq!(check_settlement(&q, &items), Ok(()));
        let more = vec![s.labour(Quantity::whole(2))];
        assert_eq!(
            check_settlement(&q, &more),
            Err(DomainError::SettlementDiffers)
        );
    }

    fn catalogue() -> Vec<crate::records::Part> {
        vec![
            crate::records::Part {
                id: Uuid::from_u128(11),
                part_number: "CJX2-1810".into(),
                name: "接触器".into(),
                unit: "个".into(),
                unit_price: Fen(35_640),
            },
            crate::records::Part {
                id: Uuid::from_u128(12),
                part_number: "MB-01".into(),
                name: "主板".into(),
                unit: "块".into(),
                unit_price: Fen(98_000),
            },
        ]
    }

    fn worked_request() -> QuoteRequest {
        QuoteRequest {
            labour_days: Quantity::from_hundredths(150),
            transport: Fen(8_650),
            lodging_days: Quantity::whole(1),
            meals_days: Quantity::whole(2),
            parts: vec![
                QuotePart {
                    part_id: Uuid::from_u128(11),
                    quantity: Quantity::whole(2),
                    warranty: false,
                },
                QuotePart {
                    part_id: Uuid::from_u128(12),
                    quantity: Quantity::whole(1),
                    warranty: true,
                },
            ],
        }
    }

    fn signature_of(quote: &Quote, id: u128) -> crate::signature::Signature {
        crate::signature::Signature {
            id: Uuid::from_u128(id),
            work_order_id: quote.work_order_id,
            document: crate::signature::DocumentKind::Quote,
            document_id: Some(quote.id),
            document_hash: crate::completion::quote_content_hash(quote).expect("hashes"),
            signer_name: "王经理".into(),
            signer_role: crate::signature::SignerRole::Customer,
            signed_at: DateTime::<Utc>::UNIX_EPOCH,
            sha256: crate::signature::sha256_hex(b"png"),
            strokes: serde_json::Value::Null,
        }
    }

    #[test]
    fn the_form_makes_the_worked_example_and_a_cost_the_customer_supplies_has_no_line() {
        let s = FeeSchedule::default();
        let items = s
            .quote_lines(&worked_request(), &catalogue())
            .expect("lines");
        let p = s.price(&items).expect("priced");
        assert_eq!(p.total, Fen(217_238), "the paid-repair worked example");
        assert_eq!(items[4].description, "接触器 CJX2-1810");
        let supplied = QuoteRequest {
            lodging_days: Quantity::ZERO,
            meals_days: Quantity::ZERO,
            ..worked_request()
        };
        let items = s.quote_lines(&supplied, &catalogue()).expect("lines");
        assert!(
            !items
                .iter()
                .any(|i| matches!(i.kind, ItemKind::Lodging | ItemKind::Meals)),
            "{items:?}"
        );
        // 712.80 + 300.00 + 86.50 = 1099.30; tax 164.90 (164.895); cost 1264.20;
        // management 505.68; total 1769.88.
        assert_eq!(s.price(&items).expect("priced").total, Fen(176_988));
        let mut unknown = worked_request();
        unknown.parts[0].part_id = Uuid::from_u128(99);
        assert!(s.quote_lines(&unknown, &catalogue()).is_err());
        assert!(
            s.quote_lines(&QuoteRequest::default(), &catalogue())
                .is_err()
        );
    }

    #[test]
    fn the_server_refuses_lines_not_at_the_schedule_or_catalogue_price() {
        let s = FeeSchedule::default();
        let items = s
            .quote_lines(&worked_request(), &catalogue())
            .expect("lines");
        assert_eq!(s.check_lines(&items, &catalogue()), Ok(()));
        let mut cheap_labour = items.clone();
        cheap_labour[0].unit_price = Fen(100);
        assert!(s.check_lines(&cheap_labour, &catalogue()).is_err());
        let mut cheap_part = items.clone();
        cheap_part[4].unit_price = Fen(1);
        assert!(s.check_lines(&cheap_part, &catalogue()).is_err());
        let mut no_part = items;
        no_part[4].part_id = None;
        assert!(s.check_lines(&no_part, &catalogue()).is_err());
    }

    #[test]
    fn an_approval_is_the_customers_signature_on_exactly_the_quote_presented() {
        let s = FeeSchedule::default();
        let at = DateTime::<Utc>::UNIX_EPOCH;
        let items = s
            .quote_lines(&worked_request(), &catalogue())
            .expect("lines");
        let presented = Quote::present(Uuid::from_u128(1), Uuid::from_u128(7), items, &s, None, at)
            .expect("presented");
        assert_eq!(
            presented.check_engineers(None, None, Some(&s), &catalogue()),
            Ok(())
        );
        let approved = presented
            .decide(
                Uuid::from_u128(2),
                QuoteState::Approved {
                    approval: Approval::Signature {
                        signature_id: Uuid::from_u128(50),
                    },
                },
                at,
            )
            .expect("decided");
        assert_eq!(approved.supersedes, Some(presented.id));
        assert_eq!(approved.items, presented.items);
        let sig = signature_of(&approved, 50);
        assert_eq!(
            approved.check_engineers(Some(&presented), Some(&sig), Some(&s), &catalogue()),
            Ok(())
        );
        // Not signed yet on the server, or a signature of another quote.
        assert!(
            approved
                .check_engineers(Some(&presented), None, Some(&s), &catalogue())
                .is_err()
        );
        let other = signature_of(&presented, 50);
        assert!(
            approved
                .check_engineers(Some(&presented), Some(&other), Some(&s), &catalogue())
                .is_err()
        );
        // The lines changed between presenting and approving.
        let mut changed = approved.clone();
        changed.items.pop();
        let sig = signature_of(&changed, 50);
        assert!(
            changed
                .check_engineers(Some(&presented), Some(&sig), Some(&s), &catalogue())
                .is_err()
        );
        // A decision on a decision, a decline without a reason.
        assert!(
            approved
                .decide(Uuid::from_u128(3), QuoteState::Draft, at)
                .is_err()
        );
        assert!(
            presented
                .decide(
                    Uuid::from_u128(3),
                    QuoteState::Declined { reason: " ".into() },
                    at
                )
                .is_err()
        );
    }

    #[test]
    fn a_settlement_settles_the_latest_approved_quote_line_for_line() {
        let s = FeeSchedule::default();
        let at = DateTime::<Utc>::UNIX_EPOCH;
        let items = vec![s.labour(Quantity::whole(1))];
        let presented = Quote::present(Uuid::from_u128(1), Uuid::from_u128(7), items, &s, None, at)
            .expect("presented");
        let approval = QuoteState::Approved {
            approval: Approval::Signature {
                signature_id: Uuid::from_u128(50),
            },
        };
        let approved = presented
            .decide(Uuid::from_u128(2), approval, at)
            .expect("decided");
        assert!(
            Settlement::of(
                Uuid::from_u128(9),
                &presented,
                PaymentMethod::Cash,
                None,
                at
            )
            .is_err(),
            "a quote only presented is not settled"
        );
        let settled = Settlement::of(
            Uuid::from_u128(9),
            &approved,
            PaymentMethod::Electronic,
            Some(" 发票 No.0012 ".into()),
            at,
        )
        .expect("settles");
        assert_eq!(settled.invoice_ref.as_deref(), Some("发票 No.0012"));
        let quotes = vec![presented.clone(), approved.clone()];
        assert_eq!(settled.check_against(&quotes), Ok(()));
        // A change quoted since (变更): the settlement of the old quote is a conflict.
        let change = Quote::present(
            Uuid::from_u128(3),
            Uuid::from_u128(7),
            vec![s.labour(Quantity::whole(2))],
            &s,
            Some(approved.id),
            at,
        )
        .expect("presented");
        let quotes = vec![presented, approved, change];
        assert_eq!(
            settled.check_against(&quotes),
            Err(DomainError::SettlementDiffers)
        );
        let mut other_lines = settled;
        other_lines.items[0].quantity = Quantity::whole(3);
        assert_eq!(
            other_lines.check_against(&quotes[..2]),
            Err(DomainError::SettlementDiffers)
        );
    }
}
