//! 报价单 and 结算单: the quote the customer approves before a paid repair starts, and the
//! settlement that must match it line for line (DOMAIN.md: a customer-facing document
//! shows only what was agreed). Both print the lines and every step of the price.

use onsite_domain::completion::{latest_quote, quote_content_hash};
use onsite_domain::fees::{Approval, FeeSchedule, QuoteItem, QuoteState, check_settlement};
use onsite_domain::money::{Fen, Rate};
use onsite_domain::signature::{DocumentKind, SignerRole};

use super::{BODY, quad, signature_boxes, wide};
use crate::page::{CONTENT_W, Canvas, Cell};
use crate::words::yuan_in_words;
use crate::{Ctx, Lang, ReceiptError};

pub(crate) fn draw_quote(ctx: &Ctx<'_>, c: &mut Canvas) -> Result<(), ReceiptError> {
    let (w, f, file) = (ctx.w, ctx.f, ctx.file);
    let quote = latest_quote(&file.quotes).ok_or(ReceiptError::NoQuote)?;
    c.start(ctx.head(w.quote_title, None));
    let mut rows = head_rows(ctx);
    let state = match &quote.state {
        QuoteState::Draft => w.awaiting_approval.to_owned(),
        QuoteState::Approved {
            approval: Approval::Signature { .. },
        } => w.approved_signed.to_owned(),
        QuoteState::Approved {
            approval: Approval::Verbal { name, at },
        } => (w.approved_verbal)(name, &f.time(*at)),
        QuoteState::Declined { reason } => (w.declined)(reason),
    };
    rows.push(quad(
        ctx,
        w.quoted_at,
        f.time(quote.created_at),
        w.quote_state,
        state,
    ));
    if let Some(old) = quote
        .supersedes
        .and_then(|id| file.quotes.iter().find(|q| q.id == id))
    {
        rows.push(wide(
            ctx,
            w.description,
            (w.supersedes)(&f.time(old.created_at)),
        ));
    }
    c.grid(&rows, BODY);
    let schedule = file.schedule(quote.schedule_version);
    priced_lines(ctx, c, &quote.items, &schedule)?;
    let hash = quote_content_hash(quote).ok();
    signature_boxes(
        ctx,
        c,
        DocumentKind::Quote,
        Some(quote.id),
        &[
            (w.customer_signature, SignerRole::Customer),
            (w.engineer_signature, SignerRole::Engineer),
        ],
        hash.as_deref(),
    )
}

pub(crate) fn draw_settlement(ctx: &Ctx<'_>, c: &mut Canvas) -> Result<(), ReceiptError> {
    let (w, f, file) = (ctx.w, ctx.f, ctx.file);
    let s = onsite_domain::completion::current_settlement(&file.settlements)
        .ok_or(ReceiptError::NoSettlement)?;
    let quote = file
        .quotes
        .iter()
        .find(|q| q.id == s.quote_id)
        .ok_or_else(|| {
            ReceiptError::SettlementDiffers("its quote is not on this work order".into())
        })?;
    check_settlement(quote, &s.items)
        .map_err(|e| ReceiptError::SettlementDiffers(e.to_string()))?;
    c.start(ctx.head(w.settlement_title, None));
    let mut rows = head_rows(ctx);
    rows.push(quad(
        ctx,
        w.settles,
        format!("{} {}", w.quote_title, f.time(quote.created_at)),
        w.settled_at,
        f.time(s.settled_at),
    ));
    rows.push(quad(
        ctx,
        w.payment,
        f.payment(s.payment).to_owned(),
        w.invoice_ref,
        s.invoice_ref.clone().unwrap_or_default(),
    ));
    c.grid(&rows, BODY);
    let schedule = file.schedule(quote.schedule_version);
    priced_lines(ctx, c, &s.items, &schedule)?;
    signature_boxes(
        ctx,
        c,
        DocumentKind::Settlement,
        None,
        &[
            (w.customer_signature, SignerRole::Customer),
            (w.engineer_signature, SignerRole::Engineer),
        ],
        onsite_domain::completion::settlement_hash(&s)
            .ok()
            .as_deref(),
    )
}

/// Customer, equipment and order, as the quote and the settlement head their body.
fn head_rows(ctx: &Ctx<'_>) -> Vec<(Vec<f32>, Vec<Cell>)> {
    let (w, f, file) = (ctx.w, ctx.f, ctx.file);
    let mut rows = super::parties(ctx);
    rows.push(quad(
        ctx,
        w.service_type,
        f.service_type(file.order.service_type).to_owned(),
        w.warranty,
        f.warranty(file.order.warranty).to_owned(),
    ));
    rows
}

fn rate(r: Rate) -> String {
    if r.bp().is_multiple_of(100) {
        format!("{}%", r.bp() / 100)
    } else {
        format!("{}.{:02}%", r.bp() / 100, r.bp() % 100)
    }
}

/// The lines, then every step of the price as `FeeSchedule::price` computes it.
fn priced_lines(
    ctx: &Ctx<'_>,
    c: &mut Canvas,
    items: &[QuoteItem],
    schedule: &FeeSchedule,
) -> Result<(), ReceiptError> {
    let (w, f) = (ctx.w, ctx.f);
    let widths = [
        10.0,
        18.0,
        CONTENT_W - 10.0 - 18.0 - 16.0 - 28.0 - 30.0,
        16.0,
        28.0,
        30.0,
    ];
    let header = [
        Cell::label(w.seq),
        Cell::label(w.item),
        Cell::label(w.description),
        Cell::label(w.qty),
        Cell::label(w.unit_price),
        Cell::label(w.amount),
    ];
    let rows: Vec<Vec<Cell>> = items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let (desc, amount) = if item.warranty {
                let tag = match f.lang {
                    Lang::Zh => "（三包，不收费）",
                    Lang::En => " (warranty, free)",
                };
                (format!("{}{tag}", item.description), Fen::ZERO)
            } else {
                (item.description.clone(), item.total())
            };
            vec![
                Cell::center((i + 1).to_string()),
                Cell::new(f.item_kind(item.kind)),
                Cell::new(desc),
                Cell::right(f.qty(item.quantity)),
                Cell::right(f.money(item.unit_price)),
                Cell::right(f.money(amount)),
            ]
        })
        .collect();
    c.table(&widths, &header, &rows, super::TABLE);

    let p = schedule
        .price(items)
        .map_err(|e| ReceiptError::SettlementDiffers(e.to_string()))?;
    let mut lines: Vec<(String, Fen, bool)> = vec![
        (w.materials.to_owned(), p.materials, false),
        (w.labour.to_owned(), p.labour, false),
        (w.travel.to_owned(), p.travel, false),
        (w.other.to_owned(), p.other, false),
    ];
    if p.warranty_parts_value != Fen::ZERO {
        lines.push((w.warranty_value.to_owned(), p.warranty_parts_value, false));
    }
    lines.extend([
        (w.subtotal.to_owned(), p.subtotal, false),
        (format!("{} {}", w.tax, rate(schedule.tax)), p.tax, false),
        (w.cost.to_owned(), p.cost, false),
        (
            format!("{} {}", w.management, rate(schedule.management)),
            p.management,
            false,
        ),
        (w.grand_total.to_owned(), p.total, true),
    ]);
    c.gap(2.0);
    let (label_w, value_w) = (58.0, 30.0);
    let block: Vec<(Vec<f32>, Vec<Cell>)> = lines
        .into_iter()
        .map(|(label, amount, strong)| {
            let (mut l, mut v) = (Cell::label(label), Cell::right(f.money(amount)));
            if strong {
                (l, v) = (l.bold(), v.bold());
            }
            (vec![label_w, value_w], vec![l, v])
        })
        .collect();
    // The price steps sit at the right, under the amounts they add up.
    c.grid_at(CONTENT_W - label_w - value_w, &block, BODY);
    let note = match f.lang {
        Lang::Zh => format!(
            "人民币{}（¥{}），{}",
            yuan_in_words(p.total),
            f.money(p.total),
            (w.schedule)(p.schedule_version)
        ),
        Lang::En => format!(
            "CNY {}, {}",
            f.money(p.total),
            (w.schedule)(p.schedule_version)
        ),
    };
    c.grid(&[wide(ctx, w.in_words, note)], BODY);
    Ok(())
}
