//! 售后服务维修记录单: the repair record, printed as three copies — 第一联存根 (kept in the
//! book), 第二联售后服务 (goes to after-sales), 第三联客户 (stays with the customer) — each
//! starting on its own page and labelled in its top right corner.

use onsite_domain::completion::repair_record_hash;
use onsite_domain::signature::{DocumentKind, SignerRole};
use onsite_domain::work_order::{ChargeCause, Outcome};

use super::{BODY, parties, parts_tables, quad, signature_boxes, wide};
use crate::page::{CONTENT_W, Canvas, Cell};
use crate::{Ctx, ReceiptError};

pub(crate) fn draw(ctx: &Ctx<'_>, c: &mut Canvas) -> Result<(), ReceiptError> {
    for copy in ctx.w.copies {
        c.start(ctx.head(ctx.w.repair_title, Some(copy)));
        one_copy(ctx, c)?;
    }
    Ok(())
}

fn one_copy(ctx: &Ctx<'_>, c: &mut Canvas) -> Result<(), ReceiptError> {
    let (w, f, file) = (ctx.w, ctx.f, ctx.file);
    let o = &file.order;
    let company = c_name(ctx);
    let mut rows = vec![quad(
        ctx,
        w.service_unit,
        company,
        w.service_type,
        f.paren(f.service_type(o.service_type), f.paid(o.paid)),
    )];
    rows.extend(parties(ctx));
    rows.push(quad(
        ctx,
        w.quantity,
        "1".into(),
        w.warranty,
        f.warranty(o.warranty).into(),
    ));
    rows.push(quad(
        ctx,
        w.requested,
        f.opt_time(o.requested_service_at),
        w.reported,
        f.time(o.reported_at),
    ));
    rows.push(wide(ctx, w.problem, o.fault_description.clone()));
    rows.push(wide(
        ctx,
        w.diagnosis,
        o.diagnosis.clone().unwrap_or_default(),
    ));
    rows.push(wide(
        ctx,
        w.result,
        o.repair_result.clone().unwrap_or_default(),
    ));
    let outcome = match &o.outcome {
        Some(Outcome::Completed) => w.completed.to_owned(),
        Some(Outcome::NotCompleted(reason)) => f.labelled(w.not_completed, reason),
        None => String::new(),
    };
    let time = match (o.repair_started_at, o.repair_ended_at) {
        (None, None) => String::new(),
        (a, b) => format!("{} — {}", f.opt_time(a), f.opt_time(b)),
    };
    rows.push(quad(ctx, w.repair_time, time, w.outcome, outcome));
    rows.push(quad(
        ctx,
        w.recorder,
        o.recorded_by.clone().unwrap_or_default(),
        w.engineer,
        ctx.engineers(),
    ));
    if let Some(cause) = &o.charge_cause {
        let (ChargeCause::UserDamage(r) | ChargeCause::ForceMajeure(r)) = cause;
        rows.push(wide(ctx, w.charge_cause, r.clone()));
    }
    c.grid(&rows, BODY);

    parts_tables(ctx, c);

    c.gap(2.0);
    let opinion = file
        .satisfaction
        .last()
        .map(|s| {
            let mut t = f.overall(Some(s.overall));
            if let Some(sug) = s.suggestions.as_deref().filter(|s| !s.trim().is_empty()) {
                t.push('\n');
                t.push_str(sug);
            }
            t
        })
        .unwrap_or_else(|| "\n".to_owned());
    c.grid(&[wide(ctx, w.opinion, opinion)], BODY);

    let hash = repair_record_hash(o, &file.part_usages).ok();
    signature_boxes(
        ctx,
        c,
        DocumentKind::RepairRecord,
        None,
        &[
            (w.customer_signature, SignerRole::Customer),
            (w.engineer_signature, SignerRole::Engineer),
        ],
        hash.as_deref(),
    )?;

    c.gap(2.0);
    let third = CONTENT_W / 3.0;
    let l = super::label_w(ctx);
    let widths = vec![l, third - l, l, third - l, l, third - l];
    c.grid(
        &[(
            widths,
            vec![
                Cell::label(w.lead),
                Cell::new("\n"),
                Cell::label(w.warehouse),
                Cell::new("\n"),
                Cell::label(w.repairer),
                Cell::new("\n"),
            ],
        )],
        BODY,
    );
    Ok(())
}

/// The service unit: the company on the letterhead.
pub(crate) fn c_name(ctx: &Ctx<'_>) -> String {
    ctx.file
        .company
        .as_ref()
        .map(|c| c.name.clone())
        .unwrap_or_default()
}
