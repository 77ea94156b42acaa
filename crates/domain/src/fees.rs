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
}
