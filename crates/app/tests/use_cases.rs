//! The engineer's use cases without a window: the same calls the window's commands make,
//! against a real sync server on loopback, stopped when the engineer is offline.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use onsite_app::orders::TransitionInput;
use onsite_app::session::Language;
use onsite_app::{App, ErrorCode, Events, KeySource, SyncStatus};
use onsite_domain::Status;
use onsite_sync_client::SyncState;
use onsite_sync_server::storage::Storage;
use onsite_tests::{PASSWORD, TestServer, laptop_key, seeded};
use serde_json::Value;
use uuid::Uuid;

/// Every sync status the app sent, as the window would have received them.
#[derive(Debug, Default)]
struct Seen(Mutex<Vec<SyncStatus>>);

impl Events for Seen {
    fn sync_status(&self, status: SyncStatus) {
        if let Ok(mut s) = self.0.lock() {
            s.push(status);
        }
    }
}

impl Seen {
    fn last(&self) -> Option<SyncState> {
        self.0.lock().ok()?.last().map(|s| s.state.clone())
    }
}

fn open(dir: &std::path::Path, seen: &Arc<Seen>) -> App {
    App::open(
        dir,
        KeySource::Given(laptop_key("laptop")),
        Arc::clone(seen) as Arc<dyn Events>,
    )
}

fn status_on_server(server: &TestServer, order: Uuid) -> String {
    let orders = server.storage().work_orders(None).expect("lists");
    orders
        .iter()
        .find(|o| o["id"] == Value::String(order.to_string()))
        .and_then(|o| o["status"].as_str())
        .unwrap_or_default()
        .to_owned()
}

/// Waits (at most 20 s) until `done` holds.
async fn until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !done() {
        assert!(Instant::now() < deadline, "waited 20 s for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A laptop signed in as `wang`, its first sync done, then the server stopped: the
/// engineer is offline from here.
async fn synced_then_offline(dir: &tempfile::TempDir, server: &mut TestServer) -> App {
    let seen = Arc::new(Seen::default());
    let app = open(&dir.path().join("laptop"), &seen);
    app.sign_in(&server.url(), "wang", PASSWORD)
        .await
        .expect("signs in");
    until("the first sync", || {
        matches!(seen.last(), Some(SyncState::Idle { .. }))
    })
    .await;
    server.stop();
    app
}

/// The records the server holds under `order`, as the dispatcher sees them.
fn rows_on_server(
    server: &TestServer,
    order: Uuid,
) -> Option<Vec<(onsite_domain::protocol::Entity, String)>> {
    let storage = server.storage();
    let (office, _) = storage.user_by_username("dispatch").ok()??;
    storage.order_rows(&office, order).ok()?
}

fn step(id: Uuid, to: Status) -> TransitionInput {
    TransitionInput {
        id: id.to_string(),
        to,
        scheduled_at: None,
        reason: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_engineer_signs_in_gets_his_orders_and_works_on_with_the_server_stopped() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (mut server, _, orders) = seeded(&dir, 3);
    let data = dir.path().join("laptop");
    let seen = Arc::new(Seen::default());
    let app = open(&data, &seen);

    let first = app.app_info().await.expect("info");
    assert!(first.session.is_none());
    assert_eq!(first.language, Language::ZhCn, "Chinese first");
    assert!(first.open_error.is_none());

    let wrong = app
        .sign_in(&server.url(), "wang", "not the password")
        .await
        .expect_err("a wrong password");
    assert_eq!(wrong.code, ErrorCode::BadCredentials);
    let signed = app
        .sign_in(&server.url(), " wang ", PASSWORD)
        .await
        .expect("signs in");
    assert_eq!(signed.user.username, "wang");

    // The first sync brings the three assigned orders; the window is told.
    until("the first sync", || {
        matches!(seen.last(), Some(SyncState::Idle { .. }))
    })
    .await;
    let list = app.list_orders(None, None).await.expect("lists");
    assert_eq!(list.len(), 3);

    // Offline: the step is saved here, the screen shows it and what may follow, and the
    // sync bar counts it as waiting at once (not at the engine's next step, a second or
    // more later).
    server.stop();
    assert_eq!(app.sync_status().await.state.pending(), Some(0));
    let screen = app
        .transition_order(step(orders[0], Status::Accepted))
        .await
        .expect("accepts offline");
    assert_eq!(
        app.sync_status().await.state.pending(),
        Some(screen.detail.pending_ops)
    );
    assert!(screen.detail.pending_ops > 0);
    assert_eq!(screen.detail.order.status, Status::Accepted);
    assert!(
        screen.next_statuses.contains(&Status::EnRoute),
        "{:?}",
        screen.next_statuses
    );
    let refused = app
        .transition_order(step(orders[1], Status::Completed))
        .await
        .expect_err("the lifecycle forbids it");
    assert_eq!(refused.code, ErrorCode::NotAllowed);
    assert_eq!(
        app.order_detail(&orders[1].to_string())
            .await
            .expect("opens")
            .detail
            .order
            .status,
        Status::Assigned,
        "a refused step changes nothing"
    );

    // The laptop is closed and opened again, still offline: the session and the step are
    // there.
    app.shut_down().await;
    drop(app);
    let app = open(&data, &seen);
    app.resume().await;
    let again = app.app_info().await.expect("info");
    assert_eq!(
        again.session.map(|s| s.user.username),
        Some("wang".to_owned())
    );
    assert_eq!(
        app.order_detail(&orders[0].to_string())
            .await
            .expect("opens")
            .detail
            .order
            .status,
        Status::Accepted
    );

    // The server is back: the step reaches it.
    server.restart();
    app.sync_now().await.expect("syncs");
    until("the accepted order on the server", || {
        status_on_server(&server, orders[0]) == "accepted"
    })
    .await;

    app.sign_out().await.expect("signs out");
    assert!(app.app_info().await.expect("info").session.is_none());
    let after = app
        .transition_order(step(orders[0], Status::EnRoute))
        .await
        .expect_err("signed out");
    assert_eq!(after.code, ErrorCode::NotSignedIn);
    app.shut_down().await;
}

#[tokio::test]
async fn bad_input_is_refused_with_a_code_and_changes_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let seen = Arc::new(Seen::default());
    let app = open(dir.path(), &seen);
    let e = app.order_detail("order 7").await.expect_err("not an id");
    assert_eq!(e.code, ErrorCode::Invalid);
    let e = app
        .order_detail(&Uuid::now_v7().to_string())
        .await
        .expect_err("no such order");
    assert_eq!(e.code, ErrorCode::NotFound);
    let e = app
        .search_orders("故障".repeat(101))
        .await
        .expect_err("too long");
    assert_eq!(e.code, ErrorCode::Invalid);
    let e = app
        .photo("../../etc/passwd".into())
        .await
        .expect_err("no hash");
    assert_eq!(e.code, ErrorCode::Invalid);
    let e = app
        .sign_in("http://127.0.0.1:9", "", "x")
        .await
        .expect_err("no user");
    assert_eq!(e.code, ErrorCode::Invalid);
    let e = app
        .sign_in("http://127.0.0.1:9", "wang", PASSWORD)
        .await
        .expect_err("nothing listens there");
    assert_eq!(e.code, ErrorCode::Offline);
    assert!(
        app.search_orders("泵".into())
            .await
            .expect("searches")
            .is_empty()
    );
    let e = app.sync_now().await.expect_err("not signed in");
    assert_eq!(e.code, ErrorCode::NotSignedIn);
}

#[tokio::test]
async fn the_language_is_kept_for_the_next_start() {
    let dir = tempfile::tempdir().expect("temp dir");
    let seen = Arc::new(Seen::default());
    let app = open(dir.path(), &seen);
    app.set_language(Language::En).await.expect("keeps");
    app.shut_down().await;
    drop(app);
    let app = open(dir.path(), &seen);
    assert_eq!(app.app_info().await.expect("info").language, Language::En);
}

#[tokio::test]
async fn data_that_cannot_be_opened_is_told_at_start_not_a_crash() {
    let dir = tempfile::tempdir().expect("temp dir");
    let seen = Arc::new(Seen::default());
    open(dir.path(), &seen).shut_down().await;
    // The keyring lost its key (a new system account, say): another key.
    let app = App::open(
        dir.path(),
        KeySource::Given(laptop_key("another laptop")),
        Arc::clone(&seen) as Arc<dyn Events>,
    );
    let info = app.app_info().await.expect("info");
    let e = info.open_error.expect("says why");
    assert_eq!(e.code, ErrorCode::Keyring, "{e:?}");
    let e = app.list_orders(None, None).await.expect_err("no store");
    assert_eq!(e.code, ErrorCode::Keyring);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_document_is_printed_offline_into_the_documents_folder() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (mut server, _, orders) = seeded(&dir, 1);
    let app = synced_then_offline(&dir, &mut server).await;
    let (path, saved) = app
        .keep_document(
            orders[0],
            onsite_receipt::Document::ServiceReceipt,
            Language::ZhCn,
        )
        .await
        .expect("prints offline");
    assert!(path.starts_with(app.documents_dir()));
    let bytes = std::fs::read(&path).expect("on disk");
    assert!(bytes.starts_with(b"%PDF"), "a PDF");
    assert!(saved.pages >= 1);
    assert!(
        saved.missing_glyphs.is_empty(),
        "{:?}",
        saved.missing_glyphs
    );
    let e = app
        .render_document(orders[0], onsite_receipt::Document::Quote, Language::En)
        .await
        .expect_err("no quote yet");
    assert_eq!(e.code, ErrorCode::NothingToPrint);
    app.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_checklist_is_answered_offline_an_out_of_limit_value_is_failed_at_once_and_reaches_the_server()
 {
    use onsite_app::orders::ChecklistAnswer;
    use onsite_domain::checklist::{Answer, ChecklistItem, ItemKind, ItemState};
    use onsite_domain::protocol::Entity;
    let dir = tempfile::tempdir().expect("temp dir");
    let (mut server, _, orders) = seeded(&dir, 1);
    // The order's template has a measurement: insulation resistance, at least 0.5 MΩ.
    let insulation = ChecklistItem {
        id: Uuid::now_v7(),
        work_order_id: orders[0],
        template_id: None,
        template_version: None,
        position: 9,
        key: "insulation".into(),
        label: "绝缘电阻测试".into(),
        kind: ItemKind::Measured {
            unit: "MΩ".into(),
            min: Some(0.5),
            max: None,
        },
        required: true,
        safety: false,
        answer: None,
        note: None,
        answered_by: None,
        answered_at: None,
        cross_checked_by: None,
        cross_checked_at: None,
    };
    server
        .storage()
        .admin_put(
            Entity::ChecklistItem,
            onsite_tests::object(&insulation),
            chrono::Utc::now(),
        )
        .expect("the item is on the server");
    let app = synced_then_offline(&dir, &mut server).await;
    let id = orders[0].to_string();
    let first = app.order_detail(&id).await.expect("opens");
    let safety: Vec<bool> = first.checklist.iter().map(|r| r.item.safety).collect();
    let mut sorted = safety.clone();
    sorted.sort_by_key(|s| !s);
    assert_eq!(safety, sorted, "safety items first");
    assert!(
        first
            .checklist
            .iter()
            .any(|r| r.item.id == insulation.id && r.state == ItemState::Open)
    );

    let answer = |item: Uuid, answer: Option<Answer>, note: Option<&str>| ChecklistAnswer {
        order_id: id.clone(),
        item_id: item.to_string(),
        answer,
        note: note.map(str::to_owned),
    };
    let screen = app
        .answer_checklist_item(answer(
            insulation.id,
            Some(Answer::Value(0.3)),
            Some(" 受潮 "),
        ))
        .await
        .expect("saved offline");
    let row = screen
        .checklist
        .iter()
        .find(|r| r.item.id == insulation.id)
        .expect("the item");
    assert_eq!(row.state, ItemState::Failed, "0.3 MΩ is below 0.5");
    assert_eq!(row.item.note.as_deref(), Some("受潮"));
    assert!(row.item.answered_by.is_some() && row.item.answered_at.is_some());

    // An answer of the wrong kind is refused with what to do, and changes nothing.
    let e = app
        .answer_checklist_item(answer(insulation.id, Some(Answer::Pass), None))
        .await
        .expect_err("a measurement wants a number");
    assert_eq!(e.code, ErrorCode::Invalid);
    assert!(e.message.contains("measured number"), "{}", e.message);
    let e = app
        .answer_checklist_item(answer(Uuid::now_v7(), Some(Answer::Pass), None))
        .await
        .expect_err("not an item of this order");
    assert_eq!(e.code, ErrorCode::NotFound);
    let again = app.order_detail(&id).await.expect("opens");
    let row = again
        .checklist
        .iter()
        .find(|r| r.item.id == insulation.id)
        .expect("the item");
    assert_eq!(row.item.answer, Some(Answer::Value(0.3)));

    // The safety items pass; the server gets every answer once it is back.
    for r in again.checklist.iter().filter(|r| r.item.safety) {
        app.answer_checklist_item(answer(r.item.id, Some(Answer::Pass), None))
            .await
            .expect("passes");
    }
    server.restart();
    app.sync_now().await.expect("syncs");
    until("the answers on the server", || {
        let storage = server.storage();
        let Ok(Some((office, _))) = storage.user_by_username("dispatch") else {
            return false;
        };
        let rows = storage
            .order_rows(&office, orders[0])
            .ok()
            .flatten()
            .unwrap_or_default();
        rows.iter().any(|(e, r)| {
            let r: Value = serde_json::from_str(r).unwrap_or_default();
            *e == Entity::ChecklistItem
                && r["id"] == Value::String(insulation.id.to_string())
                && r["answer"] == serde_json::json!({"type": "value", "value": 0.3})
                && r["note"] == "受潮"
        })
    })
    .await;
    app.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn arrival_three_calls_briefing_and_a_day_checked_in_and_out_offline() {
    use onsite_app::orders::{ArrivalCallInput, CheckInput};
    use onsite_domain::records::{ArrivalCallee, CheckKind};
    let dir = tempfile::tempdir().expect("temp dir");
    let (mut server, _, orders) = seeded(&dir, 1);
    let app = synced_then_offline(&dir, &mut server).await;
    let id = orders[0].to_string();
    let call = |callee, note: Option<&str>| ArrivalCallInput {
        order_id: id.clone(),
        callee,
        note: note.map(str::to_owned),
    };
    let s = app
        .record_arrival_call(call(ArrivalCallee::CustomerManager, Some(" 张经理 ")))
        .await
        .expect("ticked");
    assert_eq!(s.arrival.next_call, Some(ArrivalCallee::CustomerContact));
    assert_eq!(
        s.arrival.calls[0]
            .call
            .as_ref()
            .and_then(|c| c.note.as_deref()),
        Some("张经理")
    );
    let e = app
        .record_arrival_call(call(ArrivalCallee::TechnicalBriefing, Some("  ")))
        .await
        .expect_err("a briefing says something");
    assert_eq!(e.code, ErrorCode::Invalid);
    for callee in [ArrivalCallee::CustomerContact, ArrivalCallee::SiteInterface] {
        app.record_arrival_call(call(callee, None))
            .await
            .expect("ticked");
    }
    let s = app
        .record_arrival_call(call(
            ArrivalCallee::TechnicalBriefing,
            Some("更换主板，断电作业"),
        ))
        .await
        .expect("briefed");
    assert_eq!(s.arrival.next_call, None);
    assert!(s.arrival.briefing.is_some());

    let check = |kind, place: Option<&str>| CheckInput {
        order_id: id.clone(),
        kind,
        location_text: place.map(str::to_owned),
    };
    let s = app
        .check_in_out(check(CheckKind::CheckIn, Some("2号车间")))
        .await
        .expect("checked in");
    assert_eq!(s.arrival.next_check, CheckKind::CheckOut);
    let twice = app
        .check_in_out(check(CheckKind::CheckIn, None))
        .await
        .expect_err("a second click of 签到");
    assert_eq!(twice.code, ErrorCode::Invalid);
    let s = app
        .check_in_out(check(CheckKind::CheckOut, None))
        .await
        .expect("checked out");
    assert_eq!(s.arrival.next_check, CheckKind::CheckIn);
    assert_eq!(s.arrival.checks.len(), 2, "the refused click left nothing");

    // Everything reaches the server once it is back.
    server.restart();
    app.sync_now().await.expect("syncs");
    until("the arrival on the server", || {
        let storage = server.storage();
        let Ok(Some((office, _))) = storage.user_by_username("dispatch") else {
            return false;
        };
        let rows = storage
            .order_rows(&office, orders[0])
            .ok()
            .flatten()
            .unwrap_or_default();
        let count = |entity| rows.iter().filter(|(e, _)| *e == entity).count();
        count(onsite_domain::protocol::Entity::ArrivalCall) == 4
            && count(onsite_domain::protocol::Entity::CheckIn) == 2
    })
    .await;
    app.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_diagnosis_with_its_charge_cause_is_saved_offline_and_reaches_the_server() {
    use onsite_app::orders::DiagnosisInput;
    use onsite_domain::work_order::ChargeCause;
    let dir = tempfile::tempdir().expect("temp dir");
    let (mut server, _, orders) = seeded(&dir, 8);
    let app = synced_then_offline(&dir, &mut server).await;
    let mut in_warranty = None;
    let mut charged_anyway = None;
    for id in &orders {
        let s = app.order_detail(&id.to_string()).await.expect("opens");
        let slot = if s.charge_cause_applies {
            &mut in_warranty
        } else {
            &mut charged_anyway
        };
        slot.get_or_insert(*id);
    }
    let (free, paid) = (
        in_warranty.expect("the demo has an order in warranty"),
        charged_anyway.expect("the demo has an order out of warranty"),
    );
    let input = |id: Uuid, text: &str, cause: Option<ChargeCause>| DiagnosisInput {
        order_id: id.to_string(),
        diagnosis: Some(text.to_owned()),
        charge_cause: cause,
    };

    let blank = app
        .save_diagnosis(input(
            free,
            "接线端子松脱",
            Some(ChargeCause::UserDamage("  ".into())),
        ))
        .await
        .expect_err("a charge cause says why");
    assert_eq!(blank.code, ErrorCode::Invalid);
    let s = app.order_detail(&free.to_string()).await.expect("opens");
    assert_eq!(
        s.detail.order.diagnosis, None,
        "the refused save changed nothing"
    );

    let s = app
        .save_diagnosis(input(
            free,
            " 接线端子松脱，系用户私自拆机所致 ",
            Some(ChargeCause::UserDamage(" 用户私自拆机 ".into())),
        ))
        .await
        .expect("saved");
    assert_eq!(
        s.detail.order.diagnosis.as_deref(),
        Some("接线端子松脱，系用户私自拆机所致")
    );
    assert_eq!(
        s.detail.order.charge_cause,
        Some(ChargeCause::UserDamage("用户私自拆机".into()))
    );
    let out = app
        .save_diagnosis(input(
            paid,
            "轴承磨损",
            Some(ChargeCause::ForceMajeure("雷击".into())),
        ))
        .await
        .expect_err("out of warranty is charged anyway");
    assert_eq!(out.code, ErrorCode::Invalid);
    app.save_diagnosis(input(paid, "轴承磨损", None))
        .await
        .expect("saved");

    // Remote resolution is offered only where the domain allows it.
    for to in [
        Status::Accepted,
        Status::EnRoute,
        Status::OnSite,
        Status::Diagnosing,
    ] {
        app.transition_order(step(paid, to)).await.expect("moves");
    }
    let s = app.order_detail(&paid.to_string()).await.expect("opens");
    let level_four = s.detail.order.fault_level == 4
        || s.detail.order.service_type == onsite_domain::work_order::ServiceType::Consultation;
    assert_eq!(s.next_statuses.contains(&Status::Remote), level_four);
    if !level_four {
        let e = app
            .transition_order(step(paid, Status::Remote))
            .await
            .expect_err("a serious fault is seen on site");
        assert!(e.message.contains("level"), "{}", e.message);
    }

    server.restart();
    app.sync_now().await.expect("syncs");
    until("the diagnosis on the server", || {
        let storage = server.storage();
        storage.work_orders(None).ok().is_some_and(|all| {
            all.iter().any(|o| {
                o.get("id").and_then(Value::as_str) == Some(&free.to_string())
                    && o["diagnosis"] == "接线端子松脱，系用户私自拆机所致"
                    && o["charge_cause"]["reason"] == "用户私自拆机"
            })
        })
    })
    .await;
    app.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parts_come_out_of_the_van_offline_never_below_zero_and_the_server_counts_them_off() {
    use onsite_app::parts::{BackAtHqInput, PartCancel, PartInput};
    use onsite_domain::money::Fen;
    use onsite_domain::protocol::Entity;
    use onsite_domain::records::{OldPartDisposition, Part, VanStock};
    let dir = tempfile::tempdir().expect("temp dir");
    let (mut server, engineer, orders) = seeded(&dir, 1);
    let now = chrono::Utc::now();
    let fuse = Part {
        id: Uuid::now_v7(),
        part_number: "FU-10A".into(),
        name: "熔断器 10A".into(),
        unit: "个".into(),
        unit_price: Fen(1250),
    };
    let object = |v: serde_json::Value| match v {
        Value::Object(m) => m,
        _ => unreachable!("records are objects"),
    };
    let storage = server.storage();
    storage
        .admin_put(Entity::Part, object(serde_json::json!(fuse)), now)
        .expect("part");
    storage
        .admin_put(
            Entity::VanStock,
            object(serde_json::json!(VanStock {
                id: Uuid::now_v7(),
                engineer_id: engineer,
                part_id: fuse.id,
                quantity: 3,
            })),
            now,
        )
        .expect("van stock");
    drop(storage);
    let app = synced_then_offline(&dir, &mut server).await;
    let available = |lines: &[onsite_store::VanStockLine]| {
        lines
            .iter()
            .find(|l| l.part_id == fuse.id)
            .map(|l| l.available)
    };
    let found = app.van_stock("熔断".into()).await.expect("searches");
    assert_eq!(available(&found), Some(3));
    assert!(
        app.van_stock("风扇".into())
            .await
            .expect("searches")
            .is_empty()
    );
    let order = orders[0].to_string();
    let input = |quantity, from_van_stock| PartInput {
        order_id: order.clone(),
        part_id: fuse.id.to_string(),
        quantity,
        warranty: false,
        from_van_stock,
        old_part: Some(OldPartDisposition::ReturnForRepair),
    };
    let s = app.add_part(input(2, true)).await.expect("uses two");
    let row = s
        .parts
        .iter()
        .find(|r| r.usage.part_id == fuse.id)
        .expect("listed");
    assert_eq!(row.usage.unit_price, Some(Fen(1250)), "the catalogue price");
    assert_eq!(
        row.part.as_ref().map(|p| p.name.as_str()),
        Some("熔断器 10A")
    );
    let lines = app.van_stock(String::new()).await.expect("lists");
    assert_eq!(available(&lines), Some(1), "the van goes down offline");
    let short = app
        .add_part(input(2, true))
        .await
        .expect_err("one left in the van");
    assert_eq!(short.code, ErrorCode::Invalid);
    assert!(short.message.contains("only 1"), "{}", short.message);
    app.add_part(input(2, false))
        .await
        .expect("from elsewhere: no van count");
    let s = app
        .cancel_part(PartCancel {
            order_id: order.clone(),
            usage_id: row.usage.id.to_string(),
        })
        .await
        .expect("taken back");
    assert_eq!(s.parts.len(), 1, "the taken-back part is no longer listed");
    let lines = app.van_stock(String::new()).await.expect("lists");
    assert_eq!(available(&lines), Some(3), "taken back into the van");
    let s = app.add_part(input(1, true)).await.expect("uses one");
    assert!(
        s.parts
            .iter()
            .all(|r| r.warehouse.as_ref().is_some_and(|w| w.receipt.is_none())),
        "old parts for repair wait for the engineer to be back at HQ: {:?}",
        s.parts
    );
    let kept = PartInput {
        old_part: Some(OldPartDisposition::CustomerKeeps),
        ..input(1, false)
    };
    let s = app
        .add_part(kept)
        .await
        .expect("the customer keeps the old one");
    assert_eq!(s.parts.iter().filter(|r| r.warehouse.is_none()).count(), 1);

    // Back at HQ: each old part for the warehouse gets its 入库单, due in 16 h.
    let back = BackAtHqInput {
        order_id: order.clone(),
    };
    let s = app.back_at_hq(back.clone()).await.expect("back at HQ");
    let receipts: Vec<_> = s
        .parts
        .iter()
        .filter_map(|r| r.warehouse.as_ref())
        .map(|w| {
            let r = w.receipt.clone().expect("opened");
            assert_eq!(w.due_by, Some(r.returned_at + chrono::Duration::hours(16)));
            assert!(!w.late && r.booked_at.is_none());
            r
        })
        .collect();
    assert_eq!(receipts.len(), 2);
    let again = app
        .back_at_hq(back)
        .await
        .expect_err("nothing left to open");
    assert_eq!(again.code, ErrorCode::Invalid);
    assert!(again.message.contains("no old part"), "{}", again.message);

    // At the server: its count goes down by what stands (3 - 2 + 2 - 1 = 2), and the
    // laptop's count agrees once nothing is pending; the receipts are there for the
    // warehouse.
    server.restart();
    app.sync_now().await.expect("syncs");
    until("the server's count", || {
        rows_on_server(&server, orders[0]).is_some_and(|rows| {
            rows.iter().filter(|(e, _)| *e == Entity::PartUsage).count() == 5
                && rows
                    .iter()
                    .filter(|(e, _)| *e == Entity::WarehouseReceipt)
                    .count()
                    == 2
        })
    })
    .await;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        app.sync_now().await.expect("syncs");
        let lines = app.van_stock(String::new()).await.expect("lists");
        let line = lines.iter().find(|l| l.part_id == fuse.id).cloned();
        if line
            .as_ref()
            .is_some_and(|l| l.counted == 2 && l.used_pending == 0)
        {
            assert_eq!(available(&lines), Some(2));
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the server's count did not come back: {line:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    app.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_days_work_log_is_written_offline_and_reaches_the_server() {
    use onsite_app::worklog::LogInput;
    let dir = tempfile::tempdir().expect("temp dir");
    let (mut server, engineer, orders) = seeded(&dir, 1);
    let app = synced_then_offline(&dir, &mut server).await;
    let input = |text: &str| LogInput {
        order_id: orders[0].to_string(),
        text: text.to_owned(),
        progress: Some(" 80% ".into()),
        open_problems: Some("  ".into()),
        next_plan: Some("联调".into()),
    };
    let e = app
        .write_log(input("   "))
        .await
        .expect_err("a log says what was done");
    assert_eq!(e.code, ErrorCode::Invalid);
    let s = app
        .write_log(input("更换电缆，复测绝缘"))
        .await
        .expect("written");
    let entry = s.log.first().expect("listed");
    assert_eq!(entry.text, "更换电缆，复测绝缘");
    assert_eq!(entry.progress.as_deref(), Some("80%"));
    assert_eq!(entry.open_problems, None, "blank is nothing");
    assert_eq!(entry.author_id, Some(engineer));
    assert_eq!(entry.day, chrono::Local::now().date_naive());
    let s = app.write_log(input("下午联调")).await.expect("written");
    assert_eq!(s.log.len(), 2, "a second entry the same day is kept");

    server.restart();
    app.sync_now().await.expect("syncs");
    until("the log on the server", || {
        rows_on_server(&server, orders[0]).is_some_and(|rows| {
            rows.iter()
                .filter(|(e, _)| *e == onsite_domain::protocol::Entity::LogEntry)
                .count()
                == 2
        })
    })
    .await;
    app.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn time_and_expenses_are_booked_offline_lodging_priced_by_the_synced_schedule() {
    use onsite_app::time::{ExpenseInput, TimeInput};
    use onsite_domain::fees::FeeSchedule;
    use onsite_domain::money::{Fen, Quantity};
    use onsite_domain::protocol::Entity;
    use onsite_domain::records::ExpenseKind;
    let dir = tempfile::tempdir().expect("temp dir");
    let (mut server, engineer, orders) = seeded(&dir, 1);
    let mut schedule = serde_json::to_value(FeeSchedule {
        lodging_per_day: Fen::yuan(180),
        ..FeeSchedule::default()
    })
    .expect("json");
    schedule["id"] = Value::String(Uuid::now_v7().to_string());
    let Value::Object(schedule) = schedule else {
        unreachable!("a schedule is an object")
    };
    server
        .storage()
        .admin_put(Entity::FeeSchedule, schedule, chrono::Utc::now())
        .expect("fee schedule");
    let app = synced_then_offline(&dir, &mut server).await;
    let order = orders[0].to_string();
    for bad in [0.0, -1.0, 40.0, f64::NAN, 0.333] {
        let e = app
            .record_time(TimeInput {
                order_id: order.clone(),
                days: bad,
            })
            .await
            .expect_err("not a number of days");
        assert_eq!(e.code, ErrorCode::Invalid, "{bad}");
    }
    let s = app
        .record_time(TimeInput {
            order_id: order.clone(),
            days: 0.5,
        })
        .await
        .expect("booked");
    assert_eq!(s.time_entries.len(), 1);
    assert_eq!(s.time_entries[0].days, Quantity::from_hundredths(50));
    assert_eq!(s.time_entries[0].engineer_id, Some(engineer));

    let expense = |kind, days: Option<f64>, amount: Option<&str>| ExpenseInput {
        order_id: order.clone(),
        kind,
        days,
        amount: amount.map(str::to_owned),
        note: Some(" 往返高铁 ".into()),
    };
    let s = app
        .record_expense(expense(ExpenseKind::Lodging, Some(2.0), Some("9999")))
        .await
        .expect("lodging");
    assert_eq!(
        s.expenses[0].amount,
        Fen::yuan(360),
        "2 days at the synced 180 元, not the typed amount"
    );
    let e = app
        .record_expense(expense(ExpenseKind::Transport, None, Some("八十")))
        .await
        .expect_err("not an amount");
    assert_eq!(e.code, ErrorCode::Invalid);
    let s = app
        .record_expense(expense(ExpenseKind::Transport, None, Some("86.5")))
        .await
        .expect("transport");
    assert_eq!(s.expenses.len(), 2);
    assert_eq!(s.expenses[0].amount, Fen(8650));
    assert_eq!(s.expenses[0].note.as_deref(), Some("往返高铁"));

    server.restart();
    app.sync_now().await.expect("syncs");
    until("time and expenses on the server", || {
        rows_on_server(&server, orders[0]).is_some_and(|rows| {
            let n = |e| rows.iter().filter(|(x, _)| *x == e).count();
            n(Entity::TimeEntry) == 1 && n(Entity::Expense) == 2
        })
    })
    .await;
    app.shut_down().await;
}

/// A picture of `w`×`h` pixels (a gradient with some noise) encoded as `format`.
fn picture(w: u32, h: u32, format: image::ImageFormat) -> Vec<u8> {
    let mut rng = onsite_domain::demo::Rng::new(7);
    let img = image::RgbImage::from_fn(w, h, |x, y| {
        let n = u8::try_from(rng.below(32)).unwrap_or(0);
        image::Rgb([
            u8::try_from(x % 224).unwrap_or(0) + n,
            u8::try_from(y % 224).unwrap_or(0),
            128,
        ])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    image::DynamicImage::ImageRgb8(img)
        .write_to(&mut out, format)
        .expect("encodes");
    out.into_inner()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn photos_are_imported_offline_a_large_one_sent_resized_and_the_server_gets_the_same_bytes() {
    use onsite_app::photos::PhotoInput;
    use onsite_domain::protocol::Entity;
    use onsite_domain::records::{Attachment, AttachmentKind};
    let dir = tempfile::tempdir().expect("temp dir");
    let (mut server, _, orders) = seeded(&dir, 1);
    // A checklist item that wants a photo of the drawing.
    let drawing_item = onsite_domain::checklist::ChecklistItem {
        id: Uuid::now_v7(),
        work_order_id: orders[0],
        template_id: None,
        template_version: None,
        position: 9,
        key: "drawing".into(),
        label: "配电图照片".into(),
        kind: onsite_domain::checklist::ItemKind::PhotoRequired,
        required: true,
        safety: false,
        answer: None,
        note: None,
        answered_by: None,
        answered_at: None,
        cross_checked_by: None,
        cross_checked_at: None,
    };
    server
        .storage()
        .admin_put(
            Entity::ChecklistItem,
            onsite_tests::object(&drawing_item),
            chrono::Utc::now(),
        )
        .expect("the item is on the server");
    let app = synced_then_offline(&dir, &mut server).await;
    let input = |kind, caption: &str| PhotoInput {
        order_id: orders[0].to_string(),
        kind,
        caption: Some(caption.to_owned()),
    };

    // Not a picture, nothing, a caption too long: refused, nothing written.
    for (bytes, caption, says) in [
        (b"%PDF-1.7 not a photo".to_vec(), "图纸", "JPEG or PNG"),
        (Vec::new(), "空", "empty"),
        (
            picture(8, 8, image::ImageFormat::Png),
            &"长".repeat(201),
            "200",
        ),
    ] {
        let e = app
            .import_photo(input(AttachmentKind::Drawing, caption), bytes)
            .await
            .expect_err("refused");
        assert_eq!(e.code, ErrorCode::Invalid);
        assert!(e.message.contains(says), "{}", e.message);
    }
    let screen = app
        .order_detail(&orders[0].to_string())
        .await
        .expect("screen");
    assert!(screen.photos.is_empty(), "nothing was written");

    // A phone-sized JPEG goes as it is; a 3000×2000 PNG is sent as a 2560×1707 JPEG and
    // its original stays here.
    let small = picture(640, 480, image::ImageFormat::Jpeg);
    let s = app
        .import_photo(
            input(AttachmentKind::Nameplate, " 电机铭牌 "),
            small.clone(),
        )
        .await
        .expect("imported");
    let first = s.photos.first().expect("listed").clone();
    assert_eq!(first.caption.as_deref(), Some("电机铭牌"));
    assert_eq!(first.kind, Some(AttachmentKind::Nameplate));
    assert_eq!((first.width, first.height), (Some(640), Some(480)));
    assert_eq!(first.original_sha256, None);
    assert_eq!(
        app.photo(first.sha256.clone()).await.expect("here"),
        small,
        "kept byte for byte"
    );
    let large = picture(3000, 2000, image::ImageFormat::Png);
    let s = app
        .import_photo(input(AttachmentKind::Site, "现场全景"), large.clone())
        .await
        .expect("imported");
    // Saved and shown at once, at its full size; the copy to send is made meanwhile.
    let kept = s
        .photos
        .iter()
        .find(|p| p.caption.as_deref() == Some("现场全景"))
        .expect("listed at once")
        .clone();
    assert_eq!(app.photo(kept.sha256.clone()).await.expect("here"), large);
    app.photo_copies_done().await;
    let s = app
        .order_detail(&orders[0].to_string())
        .await
        .expect("screen");
    assert_eq!(
        s.photos.len(),
        2,
        "the copy replaces the original: {:?}",
        s.photos
    );
    let second = s
        .photos
        .iter()
        .find(|p| p.caption.as_deref() == Some("现场全景"))
        .expect("listed")
        .clone();
    assert_eq!(second.voids, Some(kept.id));
    assert_eq!(second.kind, Some(AttachmentKind::Site));
    assert_eq!((second.width, second.height), (Some(2560), Some(1706)));
    assert_eq!(second.mime.as_deref(), Some("image/jpeg"));
    let sent = app.photo(second.sha256.clone()).await.expect("here");
    assert!(sent.len() < large.len() && sent.starts_with(&[0xFF, 0xD8]));
    let original = second
        .original_sha256
        .clone()
        .expect("the original is named");
    assert_eq!(original, kept.sha256);
    assert_eq!(app.photo(original.clone()).await.expect("kept here"), large);
    let thumb = app
        .photo_thumbnail(second.sha256.clone())
        .await
        .expect("thumbnail");
    let t = image::load_from_memory(&thumb).expect("a picture");
    assert_eq!((t.width(), t.height()), (320, 213));

    // Stopped after the photo was saved and before its copy was made (written here as the
    // import writes it): the next start makes the copy.
    let third = picture(2000, 3000, image::ImageFormat::Png);
    let pending_photo = Attachment {
        id: Uuid::now_v7(),
        work_order_id: orders[0],
        sha256: String::new(),
        kind: Some(AttachmentKind::Drawing),
        mime: Some("image/png".into()),
        size: None,
        caption: Some("配电图".into()),
        voids: None,
        width: Some(2000),
        height: Some(3000),
        original_sha256: None,
    };
    let third_bytes = third.clone();
    let pending_id = pending_photo.id;
    app.with_store(move |s| {
        let photo = Attachment {
            sha256: s.put_blob(&third_bytes)?,
            ..pending_photo
        };
        s.hold_blob(&photo.sha256, photo.id)?;
        s.append(Entity::Attachment, &photo, chrono::Utc::now())?;
        Ok(())
    })
    .await
    .expect("written");
    // The checklist's drawing item is answered with it while it is still the original.
    let original_drawing = app
        .order_detail(&orders[0].to_string())
        .await
        .expect("screen")
        .photos
        .iter()
        .find(|p| p.caption.as_deref() == Some("配电图"))
        .map(|p| p.sha256.clone())
        .expect("listed at full size");
    app.answer_checklist_item(onsite_app::orders::ChecklistAnswer {
        order_id: orders[0].to_string(),
        item_id: drawing_item.id.to_string(),
        answer: Some(onsite_domain::checklist::Answer::Photo(original_drawing)),
        note: None,
    })
    .await
    .expect("answered");
    app.shut_down().await;
    let seen = Arc::new(Seen::default());
    let app = open(&dir.path().join("laptop"), &seen);
    app.resume().await;
    app.photo_copies_done().await;
    let s = app
        .order_detail(&orders[0].to_string())
        .await
        .expect("screen");
    let drawing = s
        .photos
        .iter()
        .find(|p| p.caption.as_deref() == Some("配电图"))
        .expect("listed")
        .clone();
    assert_eq!(
        drawing.voids,
        Some(pending_id),
        "the copy was made at the start"
    );
    assert_eq!((drawing.width, drawing.height), (Some(1706), Some(2560)));
    assert_eq!(s.photos.len(), 3);
    assert_eq!(
        s.checklist
            .iter()
            .find(|r| r.item.id == drawing_item.id)
            .and_then(|r| r.item.answer.clone()),
        Some(onsite_domain::checklist::Answer::Photo(
            drawing.sha256.clone()
        )),
        "the answer names the copy that is sent"
    );

    // Back online: the photos that stand and the bytes sent are on the server, the same
    // bytes; the full-size originals never left the laptop.
    server.restart();
    app.sync_now().await.expect("syncs");
    until("the photos on the server", || {
        rows_on_server(&server, orders[0]).is_some_and(|rows| {
            rows.iter()
                .filter(|(e, _)| *e == Entity::Attachment)
                .count()
                == 5
        })
    })
    .await;
    let storage = server.storage();
    let (office, _) = storage
        .user_by_username("dispatch")
        .expect("reads")
        .expect("the dispatcher");
    for (sha, want) in [(&first.sha256, &small), (&second.sha256, &sent)] {
        let mut on_server = None;
        until("the photo's bytes on the server", || {
            on_server = storage.blob(sha, &office, true).ok().flatten();
            on_server.is_some()
        })
        .await;
        assert_eq!(on_server.as_ref(), Some(want), "byte-identical");
    }
    assert!(
        storage
            .blob(&drawing.sha256, &office, true)
            .ok()
            .flatten()
            .is_some(),
        "the drawing's copy was sent"
    );
    for full in [
        &kept.sha256,
        &drawing.original_sha256.clone().unwrap_or_default(),
    ] {
        assert_eq!(
            storage.blob(full, &office, true).ok().flatten(),
            None,
            "a full-size original is not sent"
        );
    }
    app.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_step_the_dispatcher_overtook_is_shown_on_the_order_and_counted_until_read() {
    use onsite_domain::protocol::OpStatus;
    let dir = tempfile::tempdir().expect("temp dir");
    let (mut server, _, orders) = seeded(&dir, 2);
    let app = synced_then_offline(&dir, &mut server).await;
    let id = orders[0];
    app.transition_order(step(id, Status::Accepted))
        .await
        .expect("accepted offline");
    // Meanwhile the office cancels the order.
    server
        .storage()
        .admin_transition(
            id,
            Status::Cancelled,
            onsite_domain::Role::Dispatcher,
            chrono::Utc::now(),
        )
        .expect("cancelled by the dispatcher");
    server.restart();
    app.sync_now().await.expect("syncs");
    let deadline = Instant::now() + Duration::from_secs(20);
    let screen = loop {
        let s = app.order_detail(&id.to_string()).await.expect("the screen");
        if !s.problems.is_empty() {
            break s;
        }
        assert!(Instant::now() < deadline, "the refused step never showed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let problem = &screen.problems[0];
    assert_eq!(problem.status, OpStatus::Conflict);
    assert_eq!(problem.to, Some(Status::Accepted));
    assert!(!problem.seen);
    assert_eq!(
        screen.detail.order.status,
        Status::Cancelled,
        "the office's step stands"
    );
    assert_eq!(
        app.sync_status().await.problems,
        1,
        "the sync bar counts it"
    );
    let other = app
        .order_detail(&orders[1].to_string())
        .await
        .expect("another order");
    assert!(
        other.problems.is_empty(),
        "only the order it belongs to shows it"
    );

    let read = app
        .acknowledge_problems(&id.to_string())
        .await
        .expect("marked read");
    assert!(read.problems.iter().all(|p| p.seen), "still shown, as read");
    assert_eq!(app.sync_status().await.problems, 0);
    app.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn milestones_with_a_witness_and_training_given_are_recorded_offline_and_reach_the_server() {
    use onsite_app::milestones::{MilestoneInput, TrainingInput};
    use onsite_domain::protocol::Entity;
    let dir = tempfile::tempdir().expect("temp dir");
    let (mut server, _, orders) = seeded(&dir, 1);
    let app = synced_then_offline(&dir, &mut server).await;
    let order = orders[0].to_string();
    let e = app
        .record_milestone(MilestoneInput {
            order_id: order.clone(),
            title: "  ".into(),
            witness_name: None,
            photos: vec![],
        })
        .await
        .expect_err("a milestone is named");
    assert_eq!(e.code, ErrorCode::Invalid);
    let e = app
        .record_milestone(MilestoneInput {
            order_id: order.clone(),
            title: "送电成功".into(),
            witness_name: None,
            photos: vec!["not a hash".into()],
        })
        .await
        .expect_err("photos are hashes");
    assert_eq!(e.code, ErrorCode::Invalid);
    let s = app
        .record_milestone(MilestoneInput {
            order_id: order.clone(),
            title: " 送电成功 ".into(),
            witness_name: Some(" 李明 ".into()),
            photos: vec![],
        })
        .await
        .expect("recorded");
    assert_eq!(s.milestones[0].title, "送电成功");
    assert_eq!(s.milestones[0].witness_name.as_deref(), Some("李明"));
    let e = app
        .record_training(TrainingInput {
            order_id: order.clone(),
            material: "变频器参数设置".into(),
            attendees: " ，、 ".into(),
            evaluation: None,
        })
        .await
        .expect_err("someone was trained");
    assert_eq!(e.code, ErrorCode::Invalid);
    let s = app
        .record_training(TrainingInput {
            order_id: order.clone(),
            material: "变频器参数设置".into(),
            attendees: "张三，李四\n王五".into(),
            evaluation: Some("能独立完成点检".into()),
        })
        .await
        .expect("recorded");
    assert_eq!(s.trainings[0].attendees, ["张三", "李四", "王五"]);

    server.restart();
    app.sync_now().await.expect("syncs");
    until("the milestone and the training on the server", || {
        rows_on_server(&server, orders[0]).is_some_and(|rows| {
            rows.iter().any(|(e, _)| *e == Entity::Milestone)
                && rows.iter().any(|(e, _)| *e == Entity::Training)
        })
    })
    .await;
    app.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_engineer_of_the_order_cross_checks_an_answer_and_the_first_cannot() {
    use onsite_app::orders::{ChecklistAnswer, CrossCheckInput};
    use onsite_domain::checklist::Answer;
    let dir = tempfile::tempdir().expect("temp dir");
    let (server, wang, orders) = seeded(&dir, 1);
    let storage = server.storage();
    let li = onsite_tests::add_users(&storage, &[("li", onsite_domain::Role::Engineer)])[0];
    storage
        .assign(orders[0], &[wang, li], Some(wang), chrono::Utc::now())
        .expect("two engineers");
    drop(storage);
    let order = orders[0].to_string();
    let laptop = |name: &str| {
        let seen = Arc::new(Seen::default());
        (open(&dir.path().join(name), &seen), seen)
    };
    let (first, first_seen) = laptop("wang");
    first
        .sign_in(&server.url(), "wang", PASSWORD)
        .await
        .expect("signs in");
    until("wang's first sync", || {
        matches!(first_seen.last(), Some(SyncState::Idle { .. }))
    })
    .await;
    let s = first.order_detail(&order).await.expect("the order");
    let item = s.checklist[0].item.id.to_string();
    let s = first
        .answer_checklist_item(ChecklistAnswer {
            order_id: order.clone(),
            item_id: item.clone(),
            answer: Some(Answer::Pass),
            note: None,
        })
        .await
        .expect("answered");
    assert!(!s.checklist[0].can_cross_check, "not by who answered it");
    let e = first
        .cross_check_item(CrossCheckInput {
            order_id: order.clone(),
            item_id: item.clone(),
        })
        .await
        .expect_err("wang cannot confirm his own answer");
    assert_eq!(e.code, ErrorCode::Invalid);
    first.sync_now().await.expect("syncs");
    until("wang's answer on the server", || {
        rows_on_server(&server, orders[0]).is_some_and(|rows| {
            rows.iter().any(|(e, r)| {
                *e == onsite_domain::protocol::Entity::ChecklistItem && r.contains("\"pass\"")
            })
        })
    })
    .await;

    let (second, second_seen) = laptop("li");
    second
        .sign_in(&server.url(), "li", PASSWORD)
        .await
        .expect("signs in");
    until("li's first sync", || {
        matches!(second_seen.last(), Some(SyncState::Idle { .. }))
    })
    .await;
    let s = second.order_detail(&order).await.expect("li's order");
    let row = s
        .checklist
        .iter()
        .find(|r| r.item.id.to_string() == item)
        .expect("the item");
    assert!(row.can_cross_check, "li may confirm wang's answer");
    let s = second
        .cross_check_item(CrossCheckInput {
            order_id: order.clone(),
            item_id: item.clone(),
        })
        .await
        .expect("cross-checked");
    let row = s
        .checklist
        .iter()
        .find(|r| r.item.id.to_string() == item)
        .expect("the item");
    assert_eq!(row.item.cross_checked_by, Some(li));
    assert!(!row.can_cross_check, "once");
    first.shut_down().await;
    second.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_request_registered_on_site_reaches_the_dispatcher_as_a_new_order() {
    use onsite_app::requests::RequestInput;
    use onsite_domain::work_order::ServiceType;
    let dir = tempfile::tempdir().expect("temp dir");
    let (mut server, _, orders) = seeded(&dir, 1);
    let app = synced_then_offline(&dir, &mut server).await;
    let order = orders[0].to_string();
    let screen = app.order_detail(&order).await.expect("screen");
    let customer = screen.detail.order.customer_id;
    let known = app
        .customer_equipment(order.clone())
        .await
        .expect("lists the customer's equipment");
    assert!(!known.is_empty() && known.iter().all(|e| e.customer_id == customer));
    let input = |equipment_id: Option<String>, text: &str| RequestInput {
        order_id: order.clone(),
        equipment_id,
        equipment_text: Some(" SCB10-500/10 机号 2309-17 ".into()),
        service_type: ServiceType::Repair,
        fault_level: 3,
        fault_description: text.into(),
        requested_service_at: None,
    };

    // Nothing said, equipment that is not this customer's, a level out of the table:
    // refused, nothing written.
    for (bad, says) in [
        (input(None, "  "), "fault_description"),
        (
            input(Some(Uuid::now_v7().to_string()), "温控器报警"),
            "equipment",
        ),
        (
            RequestInput {
                fault_level: 7,
                ..input(None, "温控器报警")
            },
            "fault level",
        ),
    ] {
        let e = app.register_request(bad).await.expect_err("refused");
        assert_eq!(e.code, ErrorCode::Invalid);
        assert!(e.message.contains(says), "{}", e.message);
    }
    assert!(
        app.order_detail(&order)
            .await
            .expect("screen")
            .requests
            .is_empty()
    );

    // The customer asks about the second transformer; the engineer registers it offline.
    let s = app
        .register_request(input(None, "二号变压器温控器报警，风机不转"))
        .await
        .expect("registered");
    assert_eq!(s.requests.len(), 1);
    assert_eq!(s.requests[0].created_order_number, None, "not sent yet");
    let on_known = app
        .register_request(input(Some(known[0].id.to_string()), "年度保养预约"))
        .await
        .expect("on equipment the laptop knows");
    assert_eq!(on_known.requests.len(), 2);

    // Synced: two new orders for the dispatcher, of this customer, unassigned; the
    // laptop shows their numbers.
    server.restart();
    app.sync_now().await.expect("syncs");
    let mut new_orders = Vec::new();
    until("the new orders on the server", || {
        new_orders = server
            .storage()
            .work_orders(Some(Status::New))
            .unwrap_or_default();
        new_orders.len() == 2
    })
    .await;
    for o in &new_orders {
        assert_eq!(o["customer_id"], Value::String(customer.to_string()));
        assert_eq!(o["channel"], "on_site");
        assert_eq!(o["assignees"], serde_json::json!([]));
        assert_eq!(o["fault_level"], 3);
        assert!(o["number"].as_str().is_some_and(|n| !n.is_empty()));
    }
    let described = new_orders
        .iter()
        .find(|o| o["equipment_id"].is_null())
        .expect("the one described");
    assert_eq!(
        described["fault_description"],
        "二号变压器温控器报警，风机不转\n设备：SCB10-500/10 机号 2309-17"
    );
    let linked = new_orders
        .iter()
        .find(|o| o["equipment_id"] == Value::String(known[0].id.to_string()))
        .expect("the one on known equipment");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        app.sync_now().await.expect("syncs");
        let s = app.order_detail(&order).await.expect("screen");
        let numbers: Vec<_> = s
            .requests
            .iter()
            .filter_map(|r| r.created_order_number.clone())
            .collect();
        if numbers.len() == 2 {
            assert!(numbers.contains(&linked["number"].as_str().unwrap_or_default().to_owned()));
            break;
        }
        assert!(Instant::now() < deadline, "the numbers did not come back");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    app.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn earlier_reports_of_the_equipment_are_fetched_while_online_and_kept_for_the_site() {
    use onsite_app::session::Language;
    use onsite_domain::protocol::Entity;
    let dir = tempfile::tempdir().expect("temp dir");
    let (mut server, _, orders) = seeded(&dir, 1);
    // Two years ago, another engineer repaired the same equipment; the order is closed.
    let storage = server.storage();
    let mut earlier = storage
        .work_orders(None)
        .expect("lists")
        .into_iter()
        .find(|o| o["id"] == Value::String(orders[0].to_string()))
        .expect("the order");
    let earlier_id = Uuid::now_v7();
    earlier.insert("id".into(), Value::String(earlier_id.to_string()));
    earlier.insert("number".into(), "SC2412-03".into());
    earlier.insert("status".into(), "closed".into());
    earlier.insert("assignees".into(), serde_json::json!([]));
    earlier.insert("diagnosis".into(), "温控器探头损坏".into());
    earlier.insert("repair_result".into(), "更换探头，试运行正常".into());
    storage
        .admin_put(Entity::WorkOrder, earlier, chrono::Utc::now())
        .expect("the earlier order");
    drop(storage);

    let seen = Arc::new(Seen::default());
    let app = open(&dir.path().join("laptop"), &seen);
    app.sign_in(&server.url(), "wang", PASSWORD)
        .await
        .expect("signs in");
    until("the first sync", || {
        matches!(seen.last(), Some(SyncState::Idle { .. }))
    })
    .await;
    let order = orders[0].to_string();
    // Preparing, online: the earlier report is listed, and opened once.
    let online = app.previous_reports(order.clone()).await.expect("fetched");
    assert!(!online.offline && online.fetched_at.is_some());
    assert_eq!(online.reports.len(), 1);
    assert_eq!(online.reports[0].number, "SC2412-03");
    assert_eq!(
        online.reports[0].repair_result.as_deref(),
        Some("更换探头，试运行正常")
    );
    let pdf = app
        .previous_report_pdf(earlier_id.to_string(), Language::ZhCn)
        .await
        .expect("printed by the server");
    assert!(pdf.starts_with(b"%PDF"));
    let theirs = app
        .previous_report_pdf(Uuid::now_v7().to_string(), Language::ZhCn)
        .await
        .expect_err("not an order of this equipment");
    assert_eq!(theirs.code, ErrorCode::NotFound);

    // On site, offline: the list and the report opened before are still there.
    server.stop();
    let offline = app.previous_reports(order).await.expect("kept");
    assert!(offline.offline);
    assert_eq!(offline.reports, online.reports);
    assert_eq!(offline.fetched_at, online.fetched_at);
    assert_eq!(
        app.previous_report_pdf(earlier_id.to_string(), Language::ZhCn)
            .await
            .expect("kept"),
        pdf
    );
    let english = app
        .previous_report_pdf(earlier_id.to_string(), Language::En)
        .await
        .expect_err("never fetched in English");
    assert_eq!(english.code, ErrorCode::Offline);
    assert!(
        english.message.contains("connect once"),
        "{}",
        english.message
    );
    app.shut_down().await;
}

/// A signature as the pad makes it: a small PNG (base64) and one stroke.
fn drawn(order: Uuid, name: &str) -> onsite_app::closeout::SignatureInput {
    use base64::Engine as _;
    onsite_app::closeout::SignatureInput {
        order_id: order.to_string(),
        signer_name: name.into(),
        png_base64: base64::engine::general_purpose::STANDARD.encode(picture(
            60,
            20,
            image::ImageFormat::Png,
        )),
        strokes: serde_json::json!([{ "points": [{ "x": 1, "y": 2, "time": 0, "pressure": 0.5 }] }]),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paid_repair_is_quoted_signed_changed_settled_signed_and_completed_offline() {
    use onsite_app::closeout::{
        DeclineInput, QuoteInput, QuotePartInput, ResultInput, SatisfactionInput, SettleInput,
        SignDocumentInput,
    };
    use onsite_app::orders::ChecklistAnswer;
    use onsite_domain::checklist::{Answer, ItemKind};
    use onsite_domain::completion::{Blocker, Signing};
    use onsite_domain::fees::{FeeSchedule, PaymentMethod, QuoteState};
    use onsite_domain::money::Fen;
    use onsite_domain::protocol::Entity;
    use onsite_domain::records::{Attitude, Damage, Overall, Part};
    use onsite_domain::signature::DocumentKind;
    use onsite_domain::work_order::{WarrantyStatus, WorkOrder};
    let dir = tempfile::tempdir().expect("temp dir");
    let (mut server, _, orders) = seeded(&dir, 1);
    let now = chrono::Utc::now();
    let storage = server.storage();
    let mut schedule = onsite_tests::object(&FeeSchedule::default());
    schedule.insert("id".into(), Value::String(Uuid::now_v7().to_string()));
    storage
        .admin_put(Entity::FeeSchedule, schedule, now)
        .expect("fee schedule");
    let contactor = Part {
        id: Uuid::now_v7(),
        part_number: "CJX2-1810".into(),
        name: "接触器".into(),
        unit: "个".into(),
        unit_price: Fen(35_640),
    };
    storage
        .admin_put(Entity::Part, onsite_tests::object(&contactor), now)
        .expect("part");
    let row = storage
        .work_orders(None)
        .expect("orders")
        .into_iter()
        .find(|o| o["id"] == Value::String(orders[0].to_string()))
        .expect("the order");
    let mut order: WorkOrder = serde_json::from_value(Value::Object(row)).expect("an order");
    order.paid = true;
    order.warranty = WarrantyStatus::OutOfWarranty;
    order.charge_cause = None;
    storage
        .admin_put(Entity::WorkOrder, onsite_tests::object(&order), now)
        .expect("paid");
    drop(storage);
    let app = synced_then_offline(&dir, &mut server).await;
    let id = orders[0];
    for to in [
        Status::Accepted,
        Status::EnRoute,
        Status::OnSite,
        Status::Diagnosing,
    ] {
        app.transition_order(step(id, to)).await.expect("a step");
    }
    // The arrival is kept: the repair is due 24 h after it (a simple repair).
    let s = app.order_detail(&id.to_string()).await.expect("screen");
    let arrived = s.detail.order.arrived_at.expect("the arrival time");
    assert_eq!(
        s.detail.deadlines.and_then(|d| d.repair_by),
        Some(arrived + chrono::Duration::hours(if s.detail.order.complex { 48 } else { 24 }))
    );
    let form = |labour: f64, parts: u32| QuoteInput {
        order_id: id.to_string(),
        labour_days: labour,
        transport: Some("86.50".into()),
        lodging_days: 1.0,
        meals_days: 2.0,
        parts: vec![QuotePartInput {
            part_id: contactor.id.to_string(),
            quantity: f64::from(parts),
            warranty: false,
        }],
    };
    // Live totals, nothing saved: the worked example less its warranty part.
    let preview = app.price_quote(form(1.5, 2)).await.expect("priced");
    assert_eq!(preview.pricing.total, Fen(217_238));
    let bad = QuoteInput {
        transport: Some("八十".into()),
        ..form(1.5, 2)
    };
    assert_eq!(
        app.price_quote(bad).await.expect_err("not an amount").code,
        ErrorCode::Invalid
    );

    // Repair cannot start before approval, and the screen says why.
    let s = app.order_detail(&id.to_string()).await.expect("screen");
    assert!(s.can_quote);
    assert_eq!(s.repair_start_blockers, vec![Blocker::NoApprovedQuote]);
    app.transition_order(step(id, Status::InRepair))
        .await
        .expect_err("not approved");

    let s = app.present_quote(form(1.5, 2)).await.expect("presented");
    assert_eq!(s.detail.order.status, Status::Quoted);
    assert!(s.quote.as_ref().is_some_and(|q| q.awaiting_decision));
    // An empty pad is not a signature.
    let mut empty = drawn(id, "王经理");
    empty.strokes = serde_json::json!([]);
    app.approve_quote(empty).await.expect_err("nothing drawn");
    let s = app
        .approve_quote(drawn(id, "王经理"))
        .await
        .expect("approved");
    assert_eq!(s.detail.order.status, Status::Approved);
    assert!(s.repair_start_blockers.is_empty());
    let s = app
        .transition_order(step(id, Status::InRepair))
        .await
        .expect("repair starts");
    assert!(s.detail.order.repair_started_at.is_some());

    // A scope change: a third part. Quoted again, the repair waits for a new signature;
    // declined first, then quoted and approved.
    let s = app.present_quote(form(1.5, 3)).await.expect("the change");
    assert_eq!(s.detail.order.status, Status::Quoted);
    let s = app
        .decline_quote(DeclineInput {
            order_id: id.to_string(),
            reason: "先问采购".into(),
        })
        .await
        .expect("declined");
    assert_eq!(s.detail.order.status, Status::Declined);
    app.present_quote(form(1.5, 3)).await.expect("quoted again");
    let s = app
        .approve_quote(drawn(id, "王经理"))
        .await
        .expect("re-approved");
    let q = s.quote.expect("a quote");
    assert!(matches!(q.quote.state, QuoteState::Approved { .. }));
    assert_eq!(
        q.earlier.len(),
        5,
        "presented, approved, change, declined, presented"
    );
    app.transition_order(step(id, Status::InRepair))
        .await
        .expect("repair");
    let s = app
        .transition_order(step(id, Status::Testing))
        .await
        .expect("test");
    assert!(s.detail.order.repair_ended_at.is_some());
    app.save_result(ResultInput {
        order_id: id.to_string(),
        repair_result: "更换接触器三个，试机正常".into(),
        completed: true,
        open_items: None,
    })
    .await
    .expect("result");
    let s = app
        .transition_order(step(id, Status::AwaitingSignature))
        .await
        .expect("awaiting signature");
    assert!(
        s.completion_blockers.contains(&Blocker::NotSettled),
        "{:?}",
        s.completion_blockers
    );
    assert!(
        s.completion_blockers
            .contains(&Blocker::NoCustomerSignature)
    );

    // The checklist, answered.
    for row in s.checklist {
        let answer = match row.item.kind {
            ItemKind::PassFail => Answer::Pass,
            ItemKind::Measured { min, max, .. } => Answer::Value(match (min, max) {
                (Some(a), Some(b)) => (a + b) / 2.0,
                (Some(a), None) => a,
                (None, Some(b)) => b,
                (None, None) => 1.0,
            }),
            ItemKind::Text => Answer::Text("正常".into()),
            ItemKind::PhotoRequired => {
                let shown = app
                    .import_photo(
                        onsite_app::photos::PhotoInput {
                            order_id: id.to_string(),
                            kind: onsite_domain::records::AttachmentKind::Site,
                            caption: None,
                        },
                        picture(16, 16, image::ImageFormat::Jpeg),
                    )
                    .await
                    .expect("photo");
                Answer::Photo(shown.photos[0].sha256.clone())
            }
        };
        app.answer_checklist_item(ChecklistAnswer {
            order_id: id.to_string(),
            item_id: row.item.id.to_string(),
            answer: Some(answer),
            note: None,
        })
        .await
        .expect("answered");
    }
    let s = app
        .settle(SettleInput {
            order_id: id.to_string(),
            payment: PaymentMethod::Electronic,
            invoice_ref: Some("发票 No.00123".into()),
        })
        .await
        .expect("settled");
    let settlement = s.settlement.expect("a settlement");
    assert_eq!(
        settlement.items, q.quote.items,
        "line for line the approved quote"
    );
    app.record_satisfaction(SatisfactionInput {
        order_id: id.to_string(),
        attitude: Attitude::VeryGood,
        damage: Damage::None,
        hygiene_good: true,
        overall: Overall::Satisfied,
        suggestions: None,
        commitment: None,
    })
    .await
    .expect("rated");
    for document in [
        DocumentKind::RepairRecord,
        DocumentKind::FieldServiceRecord,
        DocumentKind::Settlement,
    ] {
        app.sign_document(SignDocumentInput {
            document,
            signature: drawn(id, "王经理"),
        })
        .await
        .expect("signed");
    }
    // The repair result edited after signing: the repair record and the service record
    // are no longer signed, and completion says so.
    let s = app
        .save_result(ResultInput {
            order_id: id.to_string(),
            repair_result: "更换接触器三个，紧固端子，试机正常".into(),
            completed: true,
            open_items: None,
        })
        .await
        .expect("edited");
    let state = |s: &onsite_app::orders::OrderScreen, d: DocumentKind| {
        s.signings
            .iter()
            .find(|x| x.document == d)
            .map(|x| x.signing.clone())
            .expect("listed")
    };
    assert!(matches!(
        state(&s, DocumentKind::RepairRecord),
        Signing::Changed { .. }
    ));
    assert!(matches!(
        state(&s, DocumentKind::FieldServiceRecord),
        Signing::Changed { .. }
    ));
    assert!(matches!(
        state(&s, DocumentKind::Settlement),
        Signing::Signed { .. }
    ));
    assert!(matches!(
        s.completion_blockers.as_slice(),
        [Blocker::SignatureInvalidated { .. }]
    ));
    app.transition_order(step(id, Status::Completed))
        .await
        .expect_err("the signature is void");
    let s = app
        .sign_document(SignDocumentInput {
            document: DocumentKind::RepairRecord,
            signature: drawn(id, "王经理"),
        })
        .await
        .expect("signed again");
    assert!(
        s.completion_blockers.is_empty(),
        "{:?}",
        s.completion_blockers
    );
    let s = app
        .transition_order(step(id, Status::Completed))
        .await
        .expect("completed");
    assert_eq!(s.detail.order.status, Status::Completed);

    // The server back: the whole job arrives, every operation accepted.
    server.restart();
    app.sync_now().await.expect("syncs");
    until("the job on the server", || {
        status_on_server(&server, id) == "completed"
    })
    .await;
    let rows = rows_on_server(&server, id).expect("rows");
    let count = |e: Entity| rows.iter().filter(|(x, _)| *x == e).count();
    assert_eq!(count(Entity::Quote), 6);
    assert_eq!(
        count(Entity::Signature),
        6,
        "two quotes, three documents, once again"
    );
    assert_eq!(count(Entity::Settlement), 1);
    let s = app.order_detail(&id.to_string()).await.expect("screen");
    assert!(s.problems.is_empty(), "{:?}", s.problems);
    // The finished order is an earlier report of its equipment for the next visit, not
    // for itself.
    assert!(
        s.detail.order.equipment_id.is_some(),
        "an order with equipment"
    );
    let reports = app.previous_reports(id.to_string()).await.expect("fetched");
    assert!(reports.fetched_at.is_some());
    assert!(
        reports.reports.iter().all(|r| r.id != id),
        "{:?}",
        reports
            .reports
            .iter()
            .map(|r| &r.number)
            .collect::<Vec<_>>()
    );
    app.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_level_four_fault_is_resolved_remotely_offline_and_a_level_two_is_not() {
    use onsite_app::closeout::RemoteInput;
    use onsite_domain::protocol::Entity;
    use onsite_domain::work_order::WorkOrder;
    let dir = tempfile::tempdir().expect("temp dir");
    let (mut server, _, orders) = seeded(&dir, 2);
    {
        let storage = server.storage();
        for (row, level) in storage
            .work_orders(None)
            .expect("orders")
            .into_iter()
            .zip([4u8, 2])
        {
            let mut order: WorkOrder = serde_json::from_value(Value::Object(row)).expect("order");
            order.fault_level = level;
            order.service_type = onsite_domain::work_order::ServiceType::Repair;
            storage
                .admin_put(
                    Entity::WorkOrder,
                    onsite_tests::object(&order),
                    chrono::Utc::now(),
                )
                .expect("level");
        }
    }
    let levels: Vec<(Uuid, u64)> = server
        .storage()
        .work_orders(None)
        .expect("orders")
        .iter()
        .map(|o| {
            (
                o["id"].as_str().and_then(|s| s.parse().ok()).expect("id"),
                o["fault_level"].as_u64().expect("level"),
            )
        })
        .collect();
    let app = synced_then_offline(&dir, &mut server).await;
    for (id, level) in levels {
        assert!(orders.contains(&id));
        app.transition_order(step(id, Status::Accepted))
            .await
            .expect("accepts");
        let input = |result: &str| RemoteInput {
            order_id: id.to_string(),
            result: result.into(),
            confirmed_by: Some("李工".into()),
        };
        app.resolve_remotely(input(" "))
            .await
            .expect_err("nothing written: what was done?");
        let answer = app.resolve_remotely(input("指导客户复位参数")).await;
        if level == 4 {
            let s = answer.expect("resolved remotely");
            assert_eq!(s.detail.order.status, Status::Remote);
            assert_eq!(
                s.detail.order.repair_result.as_deref(),
                Some("指导客户复位参数（李工 确认）")
            );
        } else {
            assert_eq!(
                answer.expect_err("level 2 goes on site").code,
                ErrorCode::Invalid
            );
            let s = app.order_detail(&id.to_string()).await.expect("screen");
            assert_eq!(s.detail.order.status, Status::Accepted);
            assert_eq!(s.detail.order.repair_result, None, "nothing was written");
        }
    }
    server.restart();
    app.sync_now().await.expect("syncs");
    app.shut_down().await;
}
