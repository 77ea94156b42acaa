//! 外出安装/售后/维修服务记录表: the field service record — who went, what kind of service,
//! how it ended, what it cost, and the customer's ratings in the manuals' scales.

use onsite_domain::completion::latest_quote;
use onsite_domain::signature::{DocumentKind, SignerRole};
use onsite_domain::work_order::Outcome;

use super::{BODY, parties, quad, signature_boxes, wide};
use crate::page::Canvas;
use crate::{Ctx, Lang, ReceiptError};

pub(crate) fn draw(ctx: &Ctx<'_>, c: &mut Canvas) -> Result<(), ReceiptError> {
    let (w, f, file) = (ctx.w, ctx.f, ctx.file);
    let o = &file.order;
    c.start(ctx.field_service_head(w.field_title));
    let mut rows = parties(ctx);
    let product = file
        .equipment
        .as_ref()
        .map(|e| match &e.kind {
            Some(k) => format!("{k} {}", e.model),
            None => e.model.clone(),
        })
        .unwrap_or_default();
    rows.push(quad(
        ctx,
        w.product_type,
        product,
        w.installer,
        ctx.engineers(),
    ));
    rows.push(quad(
        ctx,
        w.delivered,
        f.day(file.equipment.as_ref().and_then(|e| e.purchased_on)),
        w.finished,
        f.opt_time(o.repair_ended_at),
    ));
    rows.push(quad(
        ctx,
        w.service_type,
        f.service_type(o.service_type).to_owned(),
        w.status,
        f.status(o.status),
    ));
    let mut result = match &o.outcome {
        Some(Outcome::Completed) => w.completed.to_owned(),
        Some(Outcome::NotCompleted(reason)) => f.labelled(w.not_completed, reason),
        None => String::new(),
    };
    if let Some(r) = &o.repair_result {
        if !result.is_empty() {
            result.push_str("  ");
        }
        result.push_str(r);
    }
    rows.push(wide(ctx, w.result, result));
    rows.push(wide(ctx, w.charges, charges(ctx)));
    c.grid(&rows, BODY);

    c.heading(w.satisfaction);
    let entry = onsite_domain::completion::current_satisfaction(&file.satisfaction);
    let s = entry.as_ref();
    let mut rows = vec![
        wide(ctx, w.attitude, f.attitude(s.map(|s| s.attitude))),
        wide(ctx, w.damage, f.damage(s.map(|s| s.damage))),
        wide(ctx, w.hygiene, f.hygiene(s.map(|s| s.hygiene_good))),
        wide(ctx, w.overall, f.overall(s.map(|s| s.overall))),
        wide(
            ctx,
            w.suggestions,
            s.and_then(|s| s.suggestions.clone())
                .unwrap_or_else(|| "\n".to_owned()),
        ),
        wide(
            ctx,
            w.commitment,
            s.and_then(|s| s.commitment.clone())
                .unwrap_or_else(|| "\n".to_owned()),
        ),
    ];
    rows.push(wide(
        ctx,
        w.collected,
        s.map(|s| f.time(s.collected_at))
            .unwrap_or_else(|| w.not_rated.to_owned()),
    ));
    c.grid(&rows, BODY);

    signature_boxes(
        ctx,
        c,
        DocumentKind::FieldServiceRecord,
        None,
        &[
            (w.customer_signature, SignerRole::Customer),
            (w.engineer_signature, SignerRole::Engineer),
        ],
        onsite_domain::completion::field_service_record_hash(o, &file.satisfaction)
            .ok()
            .as_deref(),
    )?;
    Ok(())
}

/// What the customer pays: the settlement if there is one, else the approved quote's
/// price, else free when the work is not paid.
fn charges(ctx: &Ctx<'_>) -> String {
    let (w, f, file) = (ctx.w, ctx.f, ctx.file);
    if !file.order.paid {
        return w.free.to_owned();
    }
    if let Some(s) = file.settlements.last() {
        let schedule = file
            .quotes
            .iter()
            .find(|q| q.id == s.quote_id)
            .map_or(0, |q| q.schedule_version);
        if let Ok(p) = file.schedule(schedule).price(&s.items) {
            let how = match f.lang {
                Lang::Zh => format!("{}，{}", w.settlement_title, f.payment(s.payment)),
                Lang::En => format!("{}, {}", w.settlement_title, f.payment(s.payment)),
            };
            return f.paren(&f.money_unit(p.total), &how);
        }
    }
    if let Some(q) = latest_quote(&file.quotes)
        && let Ok(p) = file.schedule(q.schedule_version).price(&q.items)
    {
        return f.paren(&f.money_unit(p.total), w.quote_title);
    }
    String::new()
}
