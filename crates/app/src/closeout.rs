//! Money, signatures and close-out, offline: the quote (报价单) priced live from the synced
//! fee schedule, approved by the customer's signature or declined, a change quoted again;
//! the settlement (结算单) of the approved quote; the repair result; the customer's
//! satisfaction entry (外出服务记录表) and their signatures of what they sign. Every rule
//! is the domain's (`fees`, `completion`); every write is on disk before this returns.

use base64::Engine as _;
use chrono::Utc;
use onsite_domain::completion::{self, SignedContent};
use onsite_domain::fees::{
    Approval, FeeSchedule, PaymentMethod, Pricing, Quote, QuoteItem, QuotePart, QuoteRequest,
    QuoteState, Settlement,
};
use onsite_domain::money::{Fen, Quantity};
use onsite_domain::protocol::Entity;
use onsite_domain::records::{Attitude, Damage, Overall, Satisfaction};
use onsite_domain::signature::{DocumentKind, Signature, SignerRole};
use onsite_domain::work_order::Outcome;
use onsite_store::Store;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use ts_rs::TS;
use uuid::Uuid;

use crate::orders::{OrderScreen, order_id, record_id};
use crate::{App, AppError, ErrorCode};

/// The largest signature image taken (a pad's PNG is some tens of KB).
pub const MAX_SIGNATURE_PNG_BYTES: usize = 512 * 1024;
/// The most characters of the pen strokes kept with a signature, as JSON.
pub const MAX_STROKES_CHARS: usize = 256 * 1024;
/// The most characters of a signer's name, a decline's reason, the repair result.
pub const MAX_NAME_CHARS: usize = 40;
pub const MAX_REASON_CHARS: usize = 500;
pub const MAX_RESULT_CHARS: usize = 2000;

/// The quote form as the engineer fills it in: days, the transport in 元 as typed, parts.
#[derive(Debug, Clone, PartialEq, Deserialize, TS)]
pub struct QuoteInput {
    pub order_id: String,
    pub labour_days: f64,
    /// The transport as typed (`86.50`); empty or 0 when the customer provides it.
    pub transport: Option<String>,
    pub lodging_days: f64,
    pub meals_days: f64,
    pub parts: Vec<QuotePartInput>,
}

/// A part on the quote form.
#[derive(Debug, Clone, PartialEq, Deserialize, TS)]
pub struct QuotePartInput {
    pub part_id: String,
    pub quantity: f64,
    pub warranty: bool,
}

/// The lines and totals of a quote form, as `fees.rs` computes them (nothing saved).
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
pub struct QuotePreview {
    pub items: Vec<QuoteItem>,
    /// What each line charges (`QuoteItem::total`: a warranty part is 0), in order.
    pub line_totals: Vec<Fen>,
    pub pricing: Pricing,
}

/// A signature drawn on the pad: the customer's name, the PNG the pad made (base64), and
/// the pen strokes (signature_pad's point groups) kept as evidence.
#[derive(Debug, Clone, PartialEq, Deserialize, TS)]
pub struct SignatureInput {
    pub order_id: String,
    pub signer_name: String,
    pub png_base64: String,
    #[ts(type = "unknown")]
    pub strokes: Value,
}

/// The customer signs one document at close-out.
#[derive(Debug, Clone, PartialEq, Deserialize, TS)]
pub struct SignDocumentInput {
    pub document: DocumentKind,
    pub signature: SignatureInput,
}

/// The customer declines the quote presented.
#[derive(Debug, Clone, PartialEq, Deserialize, TS)]
pub struct DeclineInput {
    pub order_id: String,
    pub reason: String,
}

/// The approved quote settled (结算): how it is paid, and the invoice or receipt.
#[derive(Debug, Clone, PartialEq, Deserialize, TS)]
pub struct SettleInput {
    pub order_id: String,
    pub payment: PaymentMethod,
    pub invoice_ref: Option<String>,
}

/// What was done (维修结果) and whether the job is done (完成/未完成: what is left, and
/// when it will be done).
#[derive(Debug, Clone, PartialEq, Deserialize, TS)]
pub struct ResultInput {
    pub order_id: String,
    pub repair_result: String,
    pub completed: bool,
    /// When not completed: the open items and their dates.
    pub open_items: Option<String>,
}

/// 远程解决: what was done or advised by phone or remote access, and who at the customer
/// confirmed it works.
#[derive(Debug, Clone, PartialEq, Deserialize, TS)]
pub struct RemoteInput {
    pub order_id: String,
    pub result: String,
    pub confirmed_by: Option<String>,
}

/// The customer's own entry on the 外出服务记录表.
#[derive(Debug, Clone, PartialEq, Deserialize, TS)]
pub struct SatisfactionInput {
    pub order_id: String,
    pub attitude: Attitude,
    pub damage: Damage,
    pub hygiene_good: bool,
    pub overall: Overall,
    pub suggestions: Option<String>,
    pub commitment: Option<String>,
}

fn invalid(message: impl Into<String>) -> AppError {
    AppError::new(ErrorCode::Invalid, message)
}

fn days(value: f64, what: &str) -> Result<Quantity, AppError> {
    if !(0.0..=365.0).contains(&value) {
        return Err(invalid(format!(
            "give the {what} as days from 0 to 365 (0.5 is half a day; 0 when the customer provides it)"
        )));
    }
    Ok(Quantity::from_f64(value)?)
}

fn limited(text: Option<String>, max: usize, what: &str) -> Result<Option<String>, AppError> {
    let text = text.map(|t| t.trim().to_owned()).filter(|t| !t.is_empty());
    if text.as_ref().is_some_and(|t| t.chars().count() > max) {
        return Err(invalid(format!("{what} has at most {max} characters")));
    }
    Ok(text)
}

impl QuoteInput {
    fn request(&self) -> Result<QuoteRequest, AppError> {
        if self.parts.len() > onsite_domain::fees::MAX_QUOTE_LINES {
            return Err(invalid(format!(
                "a quote has at most {} parts",
                onsite_domain::fees::MAX_QUOTE_LINES
            )));
        }
        let transport = match self.transport.as_deref().map(str::trim) {
            None | Some("") => Fen::ZERO,
            Some(typed) => Fen::parse_yuan(typed)?,
        };
        let parts = self
            .parts
            .iter()
            .map(|p| {
                if !(p.quantity > 0.0 && p.quantity <= 10_000.0) {
                    return Err(invalid("give each part's quantity, above 0"));
                }
                Ok(QuotePart {
                    part_id: record_id(&p.part_id, "part")?,
                    quantity: Quantity::from_f64(p.quantity)?,
                    warranty: p.warranty,
                })
            })
            .collect::<Result<Vec<_>, AppError>>()?;
        Ok(QuoteRequest {
            labour_days: days(self.labour_days, "labour")?,
            transport,
            lodging_days: days(self.lodging_days, "lodging")?,
            meals_days: days(self.meals_days, "meals")?,
            parts,
        })
    }
}

/// The synced fee schedule, or what to do without one.
fn schedule(s: &Store) -> Result<FeeSchedule, AppError> {
    s.fee_schedule()?.ok_or_else(|| {
        invalid("this laptop has no fee schedule (收费标准) yet: sync once, then quote")
    })
}

/// The lines of `input` at the schedule and catalogue prices on this laptop.
fn lines(s: &Store, input: &QuoteInput) -> Result<(FeeSchedule, Vec<QuoteItem>), AppError> {
    let request = input.request()?;
    let schedule = schedule(s)?;
    let ids: Vec<Uuid> = request.parts.iter().map(|p| p.part_id).collect();
    let catalogue = s.parts(&ids)?;
    let items = schedule.quote_lines(&request, &catalogue)?;
    Ok((schedule, items))
}

impl SignatureInput {
    /// The signature record of `document` (and of `document_id`, a quote) with the hash
    /// of its content now; the image is kept in the store.
    fn record(
        &self,
        s: &Store,
        order: Uuid,
        document: DocumentKind,
        document_id: Option<Uuid>,
        document_hash: String,
    ) -> Result<Signature, AppError> {
        let name = self.signer_name.trim();
        if name.is_empty() {
            return Err(invalid("write the customer's name under the signature"));
        }
        if name.chars().count() > MAX_NAME_CHARS {
            return Err(invalid(format!(
                "a name has at most {MAX_NAME_CHARS} characters"
            )));
        }
        let strokes_empty = match &self.strokes {
            Value::Array(groups) => groups.is_empty(),
            _ => true,
        };
        if strokes_empty {
            return Err(invalid(
                "the signature pad is empty: the customer signs with the mouse, a pen or a finger",
            ));
        }
        if self.strokes.to_string().chars().count() > MAX_STROKES_CHARS {
            return Err(invalid(
                "the signature is too long: clear the pad and sign again",
            ));
        }
        if self.png_base64.len() > MAX_SIGNATURE_PNG_BYTES * 4 / 3 + 4 {
            return Err(invalid("the signature image is too large"));
        }
        let png = base64::engine::general_purpose::STANDARD
            .decode(self.png_base64.trim())
            .map_err(|_| invalid("the signature image did not arrive whole: sign again"))?;
        if image::guess_format(&png).ok() != Some(image::ImageFormat::Png) {
            return Err(invalid("the signature image is not a PNG: sign again"));
        }
        Ok(Signature {
            id: Uuid::now_v7(),
            work_order_id: order,
            document,
            document_id,
            document_hash,
            signer_name: name.to_owned(),
            signer_role: SignerRole::Customer,
            signed_at: Utc::now(),
            sha256: s.put_blob(&png)?,
            strokes: self.strokes.clone(),
        })
    }
}

fn json<T: Serialize>(record: &T) -> Result<Value, AppError> {
    serde_json::to_value(record)
        .map_err(|e| AppError::new(ErrorCode::Storage, format!("a record: {e}")))
}

impl App {
    /// The lines and totals of the quote form as it is filled in, priced by the fee
    /// schedule on this laptop (nothing is saved).
    pub async fn price_quote(&self, input: QuoteInput) -> Result<QuotePreview, AppError> {
        self.signed_in()?;
        self.with_store(move |s| {
            let (schedule, items) = lines(s, &input)?;
            let pricing = schedule.price(&items)?;
            let line_totals = items.iter().map(QuoteItem::total).collect();
            Ok(QuotePreview {
                items,
                line_totals,
                pricing,
            })
        })
        .await
    }

    /// Presents the quote (出具报价单): appended, superseding the order's latest quote,
    /// and the order moves to 已报价 (already there: the quote presented before is
    /// replaced). Paid work only.
    pub async fn present_quote(&self, input: QuoteInput) -> Result<OrderScreen, AppError> {
        self.signed_in()?;
        let order = order_id(&input.order_id)?;
        self.write_and_show(order, move |s| {
            let detail = s.work_order(order)?;
            if !detail.order.paid {
                return Err(invalid(
                    "this order is free of charge (三包): there is nothing to quote",
                ));
            }
            let (schedule, items) = lines(s, &input)?;
            let now = Utc::now();
            let latest = completion::latest_quote(&detail.quotes).map(|q| q.id);
            let quote = Quote::present(Uuid::now_v7(), order, items, &schedule, latest, now)?;
            let status = detail.order.status;
            if status != onsite_domain::Status::Quoted {
                // Checked before anything is written: a quote is presented from a step
                // that leads to 已报价.
                onsite_domain::work_order::check_transition(
                    status,
                    onsite_domain::Status::Quoted,
                    onsite_domain::work_order::Role::Engineer,
                )?;
            }
            s.append(Entity::Quote, &quote, now)?;
            if status != onsite_domain::Status::Quoted {
                s.transition(order, onsite_domain::Status::Quoted, Map::new(), now)?;
            }
            Ok(())
        })
        .await
    }

    /// The customer approves the quote presented by signing it: the signature and the
    /// approved quote in one transaction, then the order moves to 已批准.
    pub async fn approve_quote(&self, input: SignatureInput) -> Result<OrderScreen, AppError> {
        self.signed_in()?;
        let order = order_id(&input.order_id)?;
        self.write_and_show(order, move |s| {
            let detail = s.work_order(order)?;
            let presented = presented_quote(&detail.quotes)?;
            let now = Utc::now();
            let signature_id = Uuid::now_v7();
            let mut approved = presented.decide(
                Uuid::now_v7(),
                QuoteState::Approved {
                    approval: Approval::Signature { signature_id },
                },
                now,
            )?;
            let hash = completion::quote_content_hash(&approved)?;
            let mut sig = input.record(s, order, DocumentKind::Quote, Some(approved.id), hash)?;
            sig.id = signature_id;
            approved.created_at = approved.created_at.max(sig.signed_at);
            s.append_all(
                &[
                    (Entity::Signature, json(&sig)?),
                    (Entity::Quote, json(&approved)?),
                ],
                now,
            )?;
            s.transition(order, onsite_domain::Status::Approved, Map::new(), now)?;
            Ok(())
        })
        .await
    }

    /// The customer declines the quote presented, with their reason; the order moves to
    /// 已拒绝 (from there: quote again, or close out without the repair).
    pub async fn decline_quote(&self, input: DeclineInput) -> Result<OrderScreen, AppError> {
        self.signed_in()?;
        let order = order_id(&input.order_id)?;
        let reason = limited(Some(input.reason), MAX_REASON_CHARS, "the reason")?
            .ok_or_else(|| invalid("write why the customer declines the quote"))?;
        self.write_and_show(order, move |s| {
            let detail = s.work_order(order)?;
            let presented = presented_quote(&detail.quotes)?;
            let now = Utc::now();
            let declined =
                presented.decide(Uuid::now_v7(), QuoteState::Declined { reason }, now)?;
            s.append(Entity::Quote, &declined, now)?;
            s.transition(order, onsite_domain::Status::Declined, Map::new(), now)?;
            Ok(())
        })
        .await
    }

    /// Settles the approved quote (结算单): its lines exactly (`Settlement::of`), checked
    /// again against the order's quotes on this laptop; a settlement made before replaces
    /// the one it corrects.
    pub async fn settle(&self, input: SettleInput) -> Result<OrderScreen, AppError> {
        self.signed_in()?;
        let order = order_id(&input.order_id)?;
        let invoice_ref = limited(
            input.invoice_ref,
            onsite_domain::fees::MAX_INVOICE_REF_CHARS,
            "an invoice or receipt reference",
        )?;
        self.write_and_show(order, move |s| {
            let detail = s.work_order(order)?;
            let latest = completion::latest_quote(&detail.quotes)
                .filter(|q| q.is_approved())
                .ok_or_else(|| {
                    invalid("the customer has not approved a quote: settle once the latest quote is signed")
                })?;
            let now = Utc::now();
            let mut settlement =
                Settlement::of(Uuid::now_v7(), latest, input.payment, invoice_ref, now)?;
            settlement.voids = completion::current_settlement(&detail.settlements).map(|s| s.id);
            settlement.check_against(&detail.quotes)?;
            s.append(Entity::Settlement, &settlement, now)?;
            Ok(())
        })
        .await
    }

    /// Saves what was done and whether the job is done; not done needs what is left.
    pub async fn save_result(&self, input: ResultInput) -> Result<OrderScreen, AppError> {
        self.signed_in()?;
        let order = order_id(&input.order_id)?;
        let result = limited(
            Some(input.repair_result),
            MAX_RESULT_CHARS,
            "the repair result",
        )?
        .ok_or_else(|| invalid("write what was done (维修结果)"))?;
        let outcome = if input.completed {
            Outcome::Completed
        } else {
            let left =
                limited(input.open_items, MAX_REASON_CHARS, "what is left")?.ok_or_else(|| {
                    invalid("not completed: write what is left and by when it will be done")
                })?;
            Outcome::NotCompleted(left)
        };
        let mut fields = Map::new();
        fields.insert("repair_result".into(), Value::String(result));
        fields.insert("outcome".into(), json(&outcome)?);
        self.write_and_show(order, move |s| {
            s.update(Entity::WorkOrder, order, fields, Utc::now())?;
            Ok(())
        })
        .await
    }

    /// 远程解决, the short path of level-4 faults and consultations: the result (and who
    /// confirmed it) saved as the repair result, completed, and the move to 远程解决 — which
    /// the domain allows only for those orders (`work_order::check_remote`); the server
    /// schedules the 48 h check of the result.
    pub async fn resolve_remotely(&self, input: RemoteInput) -> Result<OrderScreen, AppError> {
        self.signed_in()?;
        let order = order_id(&input.order_id)?;
        let result = limited(Some(input.result), MAX_RESULT_CHARS, "the result")?
            .ok_or_else(|| invalid("write what was done or advised remotely"))?;
        let confirmed = limited(input.confirmed_by, MAX_NAME_CHARS, "who confirmed")?;
        let text = match confirmed {
            Some(who) => format!("{result}（{who} 确认）"),
            None => result,
        };
        self.write_and_show(order, move |s| {
            let current = s.work_order(order)?.order;
            let now = Utc::now();
            // Checked before anything is written: only a step that may lead there, and
            // only for the orders remote resolution is for.
            onsite_domain::work_order::check_transition(
                current.status,
                onsite_domain::Status::Remote,
                onsite_domain::work_order::Role::Engineer,
            )?;
            onsite_domain::work_order::check_remote(&current)?;
            let mut fields = Map::new();
            fields.insert("repair_result".into(), Value::String(text));
            fields.insert("outcome".into(), json(&Outcome::Completed)?);
            s.transition(order, onsite_domain::Status::Remote, fields, now)?;
            Ok(())
        })
        .await
    }

    /// Records the customer's own satisfaction entry (a new one corrects the last).
    pub async fn record_satisfaction(
        &self,
        input: SatisfactionInput,
    ) -> Result<OrderScreen, AppError> {
        self.signed_in()?;
        let order = order_id(&input.order_id)?;
        let suggestions = limited(input.suggestions, MAX_REASON_CHARS, "a suggestion")?;
        let commitment = limited(input.commitment, MAX_REASON_CHARS, "a commitment")?;
        self.write_and_show(order, move |s| {
            let detail = s.work_order(order)?;
            let now = Utc::now();
            let entry = Satisfaction {
                id: Uuid::now_v7(),
                work_order_id: order,
                attitude: input.attitude,
                damage: input.damage,
                hygiene_good: input.hygiene_good,
                overall: input.overall,
                suggestions,
                commitment,
                collected_at: now,
                voids: completion::current_satisfaction(&detail.satisfaction).map(|e| e.id),
            };
            s.append(Entity::Satisfaction, &entry, now)?;
            Ok(())
        })
        .await
    }

    /// The customer signs a document at close-out (维修记录单, 外出服务记录表, 结算单):
    /// the signature carries the hash of the document's content now, so any later change
    /// voids it.
    pub async fn sign_document(&self, input: SignDocumentInput) -> Result<OrderScreen, AppError> {
        self.signed_in()?;
        let order = order_id(&input.signature.order_id)?;
        self.write_and_show(order, move |s| {
            let detail = s.work_order(order)?;
            let hash = completion::document_hash(
                input.document,
                SignedContent {
                    order: &detail.order,
                    part_usages: &detail.part_usages,
                    satisfaction: &detail.satisfaction,
                    settlements: &detail.settlements,
                },
            )?;
            let sig = input
                .signature
                .record(s, order, input.document, None, hash)?;
            s.append(Entity::Signature, &sig, Utc::now())?;
            Ok(())
        })
        .await
    }
}

/// The quote waiting for the customer's decision: the latest, presented and undecided.
fn presented_quote(quotes: &[Quote]) -> Result<&Quote, AppError> {
    completion::latest_quote(quotes)
        .filter(|q| q.state == QuoteState::Draft)
        .ok_or_else(|| {
            invalid("no quote waits for the customer: present the quote (出具报价单) first")
        })
}

/// The signing state of each document the customer signs at close-out, for the screen.
pub(crate) fn signings(
    detail: &onsite_store::WorkOrderDetail,
) -> Vec<(DocumentKind, completion::Signing)> {
    let content = SignedContent {
        order: &detail.order,
        part_usages: &detail.part_usages,
        satisfaction: &detail.satisfaction,
        settlements: &detail.settlements,
    };
    let mut documents = vec![DocumentKind::RepairRecord, DocumentKind::FieldServiceRecord];
    if detail.order.paid {
        documents.push(DocumentKind::Settlement);
    }
    // An installation is handed over on the 服务回执单, stamped or signed by the customer.
    if detail.order.service_type == onsite_domain::work_order::ServiceType::Installation {
        documents.push(DocumentKind::ServiceReceipt);
    }
    documents
        .into_iter()
        .map(|d| (d, completion::signing(d, content, &detail.signatures)))
        .collect()
}
