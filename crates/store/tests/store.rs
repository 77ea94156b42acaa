//! The local store as an engineer and the sync engine use it.

mod support;

use chrono::Duration;
use onsite_domain::checklist::Answer;
use onsite_domain::protocol::{OpResult, Transition};
use onsite_domain::records::{LogEntry, PartUsage};
use onsite_domain::signature::{DocumentKind, Signature, SignerRole, sha256_hex};
use onsite_domain::sla::Milestone;
use onsite_domain::{Change, ChangeOp, Entity, OpKind, OpStatus, Status};
use onsite_store::{OpenOptions, Page, Store, StoreError};
use serde_json::{Map, Value, json};
use support::{DEVICE, now, open, server_hlc, world};
use uuid::Uuid;

fn fields(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => panic!("fields must be an object"),
    }
}

/// Today's log entry on `order`, as an engineer writes it.
fn log_entry(order: Uuid, text: &str) -> LogEntry {
    LogEntry {
        id: Uuid::now_v7(),
        work_order_id: order,
        day: now().date_naive(),
        text: text.into(),
        progress: None,
        open_problems: None,
        next_plan: None,
        author_id: None,
        voids: None,
    }
}

/// The server's answer to one pushed operation, recorded as the sync engine would.
fn answer(w: &mut support::World, op: &onsite_domain::Op, status: OpStatus, reason: &str) {
    let result = OpResult {
        op_id: op.op_id,
        status,
        reason: Some(reason.into()),
    };
    w.store
        .record_push_results(&[result], now(), now())
        .expect("records");
}

fn order_in(w: &support::World, status: Status) -> Uuid {
    w.data
        .orders
        .iter()
        .find(|o| o.status == status)
        .map(|o| o.id)
        .expect("the demo data has an order in that status")
}

#[test]
fn a_new_store_is_migrated_and_reopens_with_a_quick_check_after_a_clean_close() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = open(&dir);
    assert_eq!(store.device_id(), DEVICE);
    assert_eq!(store.cursor().expect("reads"), None);
    store.close().expect("closes");
    let store = open(&dir);
    assert_eq!(store.opened_with, "quick_check");
    drop(store); // no close: as if the laptop lost power
    let store = open(&dir);
    assert_eq!(
        store.opened_with, "integrity_check",
        "an unclean shutdown gets the full check"
    );
}

#[test]
fn a_second_window_on_the_same_data_is_refused_until_the_first_closes() {
    let dir = tempfile::tempdir().expect("temp dir");
    let first = open(&dir);
    let options = OpenOptions {
        device_id: DEVICE.into(),
        key: None,
    };
    let err = Store::open(dir.path().join("onsite.db"), &options).expect_err("refused");
    assert!(matches!(err, StoreError::InUse { .. }), "{err}");
    assert!(err.to_string().contains("another Onsite window"), "{err}");
    first.close().expect("closes");
    Store::open(dir.path().join("onsite.db"), &options).expect("opens once the first closed");
}

#[test]
fn a_start_while_the_last_window_is_still_closing_waits_for_it_and_opens() {
    let dir = tempfile::tempdir().expect("temp dir");
    let first = open(&dir);
    let closing = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(300));
        first.close().expect("closes");
    });
    let options = OpenOptions {
        device_id: DEVICE.into(),
        key: None,
    };
    let second = Store::open(dir.path().join("onsite.db"), &options);
    closing.join().expect("the first window closed");
    second.expect("opens once the window that was closing let go");
}

#[test]
fn the_device_id_of_the_first_open_is_kept() {
    let dir = tempfile::tempdir().expect("temp dir");
    drop(open(&dir));
    let store = Store::open(
        dir.path().join("onsite.db"),
        &OpenOptions {
            device_id: "another".into(),
            key: None,
        },
    )
    .expect("opens");
    assert_eq!(store.device_id(), DEVICE);
}

#[test]
fn a_damaged_database_is_refused_with_a_way_out_and_can_be_moved_aside() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("onsite.db");
    let w = world(50);
    let src = w.path();
    w.store.close().expect("closes");
    let mut bytes = std::fs::read(&src).expect("reads");
    // Overwrite the middle of the file (table pages) with garbage, keep the header.
    let mid = bytes.len() / 2;
    for b in &mut bytes[mid..mid + 8192] {
        *b = 0x5A;
    }
    std::fs::write(&path, &bytes).expect("writes");
    let err = Store::open(
        &path,
        &OpenOptions {
            device_id: DEVICE.into(),
            key: None,
        },
    )
    .expect_err("damaged file is refused");
    assert!(matches!(err, StoreError::Corrupt { .. }), "{err}");
    let message = err.to_string();
    assert!(
        message.contains("damaged") && message.contains("move it aside"),
        "{message}"
    );
    let aside = Store::move_aside(&path, now()).expect("moves aside");
    assert!(aside.exists() && !path.exists());
    let fresh = Store::open(
        &path,
        &OpenOptions {
            device_id: DEVICE.into(),
            key: None,
        },
    )
    .expect("a fresh store opens");
    assert_eq!(fresh.pending_count().expect("counts"), 0);
}

#[test]
fn engineer_edits_a_field_offline_and_the_edit_is_queued_with_it() {
    let mut w = world(30);
    let id = order_in(&w, Status::Assigned);
    let before = w.store.pending_count().expect("counts");
    let op = w
        .store
        .update(
            Entity::WorkOrder,
            id,
            fields(json!({"diagnosis": "轴承磨损，需更换"})),
            now(),
        )
        .expect("saves");
    assert_eq!(op.kind, OpKind::Upsert);
    assert_eq!(w.store.pending_count().expect("counts"), before + 1);
    let detail = w.store.work_order(id).expect("loads");
    assert_eq!(detail.order.diagnosis.as_deref(), Some("轴承磨损，需更换"));
    assert_eq!(detail.pending_ops, 1);
    assert_eq!(w.store.pending_batch(10).expect("reads")[0], op);
}

#[test]
fn a_bad_edit_is_refused_and_changes_nothing() {
    let mut w = world(30);
    let id = order_in(&w, Status::Assigned);
    let before = w.store.record_json(Entity::WorkOrder, id).expect("reads");
    for bad in [
        json!({"fault_level": "high"}),
        json!({"status": "completed"}),
        json!({"repair_started_at": "yesterday"}),
        json!({}),
    ] {
        let err = w
            .store
            .update(Entity::WorkOrder, id, fields(bad.clone()), now())
            .expect_err("refused");
        assert!(!err.to_string().is_empty(), "{bad}");
    }
    assert_eq!(
        w.store.record_json(Entity::WorkOrder, id).expect("reads"),
        before
    );
    assert_eq!(w.store.pending_count().expect("counts"), 0);
}

#[test]
fn the_offices_fields_and_a_finished_order_are_refused_on_the_laptop_before_queuing() {
    let mut w = world(30);
    let id = order_in(&w, Status::Assigned);
    let before = w.store.record_json(Entity::WorkOrder, id).expect("reads");
    for field in ["paid", "number", "reported_at", "assignees", "customer_id"] {
        let err = w
            .store
            .update(Entity::WorkOrder, id, fields(json!({ field: null })), now())
            .expect_err("the office's");
        assert!(
            matches!(
                err,
                onsite_store::StoreError::Rule(onsite_domain::DomainError::NotYours { .. })
            ),
            "{field}: {err}"
        );
        assert!(err.to_string().contains(field), "{err}");
    }
    let err = w
        .store
        .delete(Entity::WorkOrder, id, now())
        .expect_err("never deleted from a laptop");
    assert!(err.to_string().contains("not allowed"), "{err}");
    assert_eq!(
        w.store.record_json(Entity::WorkOrder, id).expect("reads"),
        before
    );
    assert_eq!(w.store.pending_count().expect("counts"), 0);
    let done = order_in(&w, Status::Completed);
    let err = w
        .store
        .update(
            Entity::WorkOrder,
            done,
            fields(json!({"diagnosis": "签字后再改"})),
            now(),
        )
        .expect_err("signed and final");
    assert!(
        matches!(
            err,
            onsite_store::StoreError::Rule(onsite_domain::DomainError::NotNow { .. })
        ),
        "{err}"
    );
    assert_eq!(w.store.pending_count().expect("counts"), 0);
}

#[test]
fn engineer_accepts_and_sets_off_offline_and_forbidden_moves_change_nothing() {
    let mut w = world(30);
    let id = order_in(&w, Status::Assigned);
    w.store
        .transition(id, Status::Accepted, Map::new(), now())
        .expect("accepts");
    w.store
        .transition(id, Status::EnRoute, Map::new(), now())
        .expect("sets off");
    let err = w
        .store
        .transition(id, Status::Completed, Map::new(), now())
        .expect_err("cannot jump to completed");
    assert!(err.to_string().contains("en_route"), "{err}");
    let err = w
        .store
        .transition(id, Status::Cancelled, Map::new(), now())
        .expect_err("cancel is the dispatcher's");
    assert!(err.to_string().contains("Dispatcher"), "{err}");
    assert_eq!(
        w.store.work_order(id).expect("loads").order.status,
        Status::EnRoute
    );
    let ops = w.store.pending_batch(10).expect("reads");
    assert_eq!(
        ops.iter().map(|o| o.transition).collect::<Vec<_>>(),
        vec![
            Some(Transition {
                from: Status::Assigned,
                to: Status::Accepted
            }),
            Some(Transition {
                from: Status::Accepted,
                to: Status::EnRoute
            }),
        ]
    );
    assert!(ops[0].hlc < ops[1].hlc);
}

#[test]
fn postponing_records_the_new_date_with_the_transition() {
    let mut w = world(30);
    let id = order_in(&w, Status::EnRoute);
    let new_date = now() + Duration::days(3);
    let ops = w
        .store
        .transition(
            id,
            Status::Postponed,
            fields(json!({"scheduled_at": new_date, "postpone_reason": "现场未具备施工条件"})),
            now(),
        )
        .expect("postpones");
    assert_eq!(ops.len(), 2);
    let o = w.store.work_order(id).expect("loads").order;
    assert_eq!(
        (o.status, o.scheduled_at),
        (Status::Postponed, Some(new_date))
    );
    // The list counts down to the agreed visit, not to the on-site deadline it missed.
    let due = |store: &Store| {
        let row = store
            .open_work_orders(
                Some(&[Status::Postponed]),
                Page {
                    offset: 0,
                    limit: 500,
                },
            )
            .expect("lists")
            .into_iter()
            .find(|r| r.id == id)
            .expect("listed");
        (row.due_kind, row.due_at)
    };
    let agreed = (Some(Milestone::AgreedVisit), Some(new_date));
    assert_eq!(due(&w.store), agreed);

    // A list made by an older Onsite (which showed the original SLA) is made again when
    // the store opens.
    let path = w.path();
    let dir = std::mem::replace(&mut w.dir, tempfile::tempdir().expect("dir"));
    drop(w);
    {
        let raw = rusqlite::Connection::open(&path).expect("opens the file");
        raw.execute_batch(
            "UPDATE work_order_index SET due_at = 0, due_kind = 'on_site';
             UPDATE meta SET value = '1' WHERE key = 'list_version';",
        )
        .expect("an older list");
    }
    let store = open(&dir);
    assert_eq!(due(&store), agreed);
}

#[test]
fn postponing_without_a_new_future_date_is_refused_and_changes_nothing() {
    let mut w = world(30);
    let id = order_in(&w, Status::OnSite);
    let pending = w.store.pending_count().expect("counts");
    let past = now() - Duration::hours(1);
    for f in [
        json!({"postpone_reason": "现场未具备施工条件"}),
        json!({"scheduled_at": past}),
    ] {
        let err = w
            .store
            .transition(id, Status::Postponed, fields(f), now())
            .expect_err("refused");
        assert!(err.to_string().contains("scheduled_at"), "{err}");
    }
    assert_eq!(
        w.store.work_order(id).expect("loads").order.status,
        Status::OnSite
    );
    assert_eq!(w.store.pending_count().expect("counts"), pending);
}

fn customer_signature(order: Uuid, hash: &str) -> Signature {
    Signature {
        id: Uuid::now_v7(),
        work_order_id: order,
        document: DocumentKind::RepairRecord,
        document_id: None,
        document_hash: hash.into(),
        signer_name: "张伟".into(),
        signer_role: SignerRole::Customer,
        signed_at: now(),
        sha256: sha256_hex(b"signature png"),
        strokes: json!([[{"x": 1, "y": 2}]]),
    }
}

#[test]
fn engineer_completes_a_free_repair_after_the_checklist_and_the_customers_signature() {
    let mut w = world(200);
    let order = w
        .data
        .orders
        .iter()
        .find(|o| !o.paid && o.status == Status::Testing)
        .expect("a free order in testing")
        .clone();
    w.store
        .update(
            Entity::WorkOrder,
            order.id,
            fields(json!({"repair_result": "更换轴承，试运行 30 分钟正常"})),
            now(),
        )
        .expect("saves");
    w.store
        .transition(order.id, Status::AwaitingSignature, Map::new(), now())
        .expect("to signature");
    let items: Vec<_> = w
        .data
        .checklist_items
        .iter()
        .filter(|i| i.work_order_id == order.id)
        .cloned()
        .collect();
    let required = items
        .iter()
        .find(|i| i.required)
        .expect("a required item")
        .clone();
    w.store
        .update(
            Entity::ChecklistItem,
            required.id,
            fields(json!({"answer": null})),
            now(),
        )
        .expect("reopens");
    let hash = w.store.repair_record_hash(order.id).expect("hashes");
    w.store
        .append(
            Entity::Signature,
            &customer_signature(order.id, &hash),
            now(),
        )
        .expect("signs");
    let err = w
        .store
        .transition(order.id, Status::Completed, Map::new(), now())
        .expect_err("an item is open");
    assert!(err.to_string().contains("RequiredItemOpen"), "{err}");
    for item in &items {
        let answer = match item.kind {
            onsite_domain::checklist::ItemKind::Measured { .. } => {
                json!({"type": "value", "value": 1.0})
            }
            onsite_domain::checklist::ItemKind::Text => json!({"type": "text", "value": "V2.3"}),
            onsite_domain::checklist::ItemKind::PhotoRequired => {
                json!({"type": "photo", "value": sha256_hex(b"photo")})
            }
            onsite_domain::checklist::ItemKind::PassFail => json!({"type": "pass"}),
        };
        w.store
            .update(
                Entity::ChecklistItem,
                item.id,
                fields(json!({"answer": answer})),
                now(),
            )
            .expect("answers");
    }
    // The repair record changed after the customer signed: the signature no longer counts.
    w.store
        .update(
            Entity::WorkOrder,
            order.id,
            fields(json!({"repair_result": "更换轴承及密封圈"})),
            now(),
        )
        .expect("saves");
    let err = w
        .store
        .transition(order.id, Status::Completed, Map::new(), now())
        .expect_err("signature is stale");
    assert!(err.to_string().contains("SignatureInvalidated"), "{err}");
    let hash = w.store.repair_record_hash(order.id).expect("hashes");
    w.store
        .append(
            Entity::Signature,
            &customer_signature(order.id, &hash),
            now(),
        )
        .expect("signs again");
    w.store
        .transition(order.id, Status::Completed, Map::new(), now())
        .expect("completes");
    assert_eq!(
        w.store.work_order(order.id).expect("loads").order.status,
        Status::Completed
    );
    assert!(
        w.store
            .open_work_orders(
                None,
                Page {
                    offset: 0,
                    limit: 1000
                }
            )
            .expect("lists")
            .iter()
            .all(|s| s.id != order.id)
    );
    w.store
        .verify()
        .expect("tables, indexes and the search index agree");
}

#[test]
fn a_paid_repair_cannot_start_without_an_approved_quote() {
    let mut w = world(200);
    let id = w
        .data
        .orders
        .iter()
        .find(|o| o.paid && o.status == Status::Diagnosing)
        .map(|o| o.id)
        .expect("a paid order in diagnosis");
    let err = w
        .store
        .transition(id, Status::InRepair, Map::new(), now())
        .expect_err("needs a quote");
    assert!(err.to_string().contains("NoApprovedQuote"), "{err}");
}

#[test]
fn checklist_answers_are_saved_per_item() {
    let mut w = world(30);
    let item = w.data.checklist_items[0].clone();
    w.store
        .update(
            Entity::ChecklistItem,
            item.id,
            fields(
                json!({"answer": Answer::Pass, "answered_at": now(), "answered_by": w.engineer}),
            ),
            now(),
        )
        .expect("answers");
    let d = w.store.work_order(item.work_order_id).expect("loads");
    let got = d
        .checklist
        .iter()
        .find(|i| i.id == item.id)
        .expect("item is there");
    assert_eq!(got.answer, Some(Answer::Pass));
    assert_eq!(d.checklist.len(), 20);
}

#[test]
fn the_list_is_sorted_by_the_deadline_that_matters_and_leaves_finished_orders_out() {
    let w = world(300);
    let page = w
        .store
        .open_work_orders(
            None,
            Page {
                offset: 0,
                limit: 50,
            },
        )
        .expect("lists");
    assert_eq!(page.len(), 50);
    assert!(page.iter().all(|s| !s.status.is_finished()));
    let dues: Vec<_> = page
        .iter()
        .map(|s| {
            s.due_at
                .expect("open orders of levels 1–3 have deadlines in the first page")
        })
        .collect();
    assert!(dues.windows(2).all(|p| p[0] <= p[1]), "sorted by deadline");
    let next = w
        .store
        .open_work_orders(
            None,
            Page {
                offset: 50,
                limit: 50,
            },
        )
        .expect("lists");
    assert!(next[0].due_at >= page[49].due_at);
    let only = w
        .store
        .open_work_orders(Some(&[Status::EnRoute]), Page::default())
        .expect("filters");
    assert!(!only.is_empty() && only.iter().all(|s| s.status == Status::EnRoute));
    assert!(page[0].customer_name.is_some() && page[0].equipment_model.is_some());
    let completed = w
        .data
        .orders
        .iter()
        .filter(|o| o.status.is_finished())
        .count();
    let all_open = w
        .store
        .open_work_orders(
            None,
            Page {
                offset: 0,
                limit: 1000,
            },
        )
        .expect("lists");
    assert_eq!(all_open.len(), 300 - completed);
}

#[test]
fn search_finds_chinese_substrings_numbers_and_serials() {
    let w = world(300);
    // Three characters from the middle of a fault description.
    let hits = w.store.search("过流故", 50).expect("searches");
    assert!(!hits.is_empty());
    assert!(hits.iter().all(|h| h.fault_description.contains("过流故")));
    let expected = w
        .data
        .orders
        .iter()
        .filter(|o| o.fault_description.contains("过流故"))
        .count();
    assert_eq!(hits.len(), expected.min(50));
    // Two characters: shorter than a trigram, still found.
    let two = w.store.search("异响", 500).expect("searches");
    assert_eq!(
        two.len(),
        w.data
            .orders
            .iter()
            .filter(|o| o.fault_description.contains("异响"))
            .count()
    );
    // A customer name, an equipment serial, an order number.
    let customer = &w.data.customers[0].name;
    assert!(
        !w.store
            .search(&customer[3..customer.len() - 3], 50)
            .expect("searches")
            .is_empty()
    );
    let serial = &w
        .data
        .equipment
        .iter()
        .find(|e| w.data.orders.iter().any(|o| o.equipment_id == Some(e.id)))
        .expect("used")
        .serial;
    assert!(!w.store.search(serial, 50).expect("searches").is_empty());
    let number = &w.data.orders[17].number;
    let by_number = w.store.search(number, 50).expect("searches");
    assert_eq!(by_number[0].number, *number);
    // Words narrow the result; odd characters are not syntax.
    assert!(
        w.store
            .search("过流故 不存在的词", 50)
            .expect("searches")
            .is_empty()
    );
    for odd in ["\"", "%", "_", "a\"b OR c", "*", "NEAR(", "'"] {
        w.store
            .search(odd, 50)
            .expect("odd input is searched for, not parsed");
    }
    assert!(w.store.search("   ", 50).expect("searches").is_empty());
}

#[test]
fn search_follows_a_customer_renamed_by_sync() {
    let mut w = world(30);
    let order = w.data.orders[0].clone();
    let mut customer = w
        .data
        .customers
        .iter()
        .find(|c| c.id == order.customer_id)
        .expect("customer")
        .clone();
    customer.name = "龘山精工有限公司".into();
    let change = Change::put_record(99_999, Entity::Customer, &customer, &server_hlc(0))
        .expect("serialises");
    w.store
        .apply_pull(vec![change], "c-next", now(), now())
        .expect("applies");
    let hits = w.store.search("龘山精", 10).expect("searches");
    assert!(hits.iter().any(|h| h.id == order.id));
    let old_name = &w
        .data
        .customers
        .iter()
        .find(|c| c.id == order.customer_id)
        .expect("customer")
        .name;
    let old_hits = w.store.search(old_name, 500).expect("searches");
    assert!(
        old_hits.iter().all(|h| h.id != order.id),
        "the old name no longer finds the order"
    );
    w.store
        .verify()
        .expect("tables, indexes and the search index agree");
}

#[test]
fn changes_applied_as_text_give_the_same_laptop_as_changes_parsed() {
    // The sync engine hands pulled changes over as JSON text and rows under an order with
    // nothing pending are stored as they came; the store must end up exactly as if every
    // change had been parsed and merged.
    let engineer = Uuid::from_u128(0xE1);
    let data = onsite_domain::demo::generate(7, support::size(40), engineer, now());
    let all = support::changes(&data, engineer);
    let (dir_a, dir_b) = (
        tempfile::tempdir().expect("dir"),
        tempfile::tempdir().expect("dir"),
    );
    let (mut parsed, mut text) = (open(&dir_a), open(&dir_b));
    for (i, page) in all.chunks(300).enumerate() {
        let cursor = format!("c{i}");
        parsed
            .apply_pull(page.to_vec(), &cursor, now(), now())
            .expect("applies");
        text.apply_pull_raw(&support::raw(page), &cursor, now(), now())
            .expect("applies");
    }
    // Local work on both laptops, then a page that brings newer server rows for the very
    // records being edited, a null field, and a row under an order with a clock per field.
    let item = data.checklist_items[3].clone();
    let usage = data.part_usages[0].clone();
    for store in [&mut parsed, &mut text] {
        store
            .update(
                Entity::ChecklistItem,
                item.id,
                fields(json!({"note": "本地备注"})),
                now(),
            )
            .expect("edits offline");
    }
    let mut newer = item.clone();
    newer.label = "服务器改了标签".into();
    newer.note = None;
    let mut page = vec![
        Change::put_record(900_001, Entity::ChecklistItem, &newer, &server_hlc(5))
            .expect("serialises"),
        Change::put_record(900_002, Entity::PartUsage, &usage, &server_hlc(6)).expect("serialises"),
    ];
    let mut entry = serde_json::to_value(log_entry(item.work_order_id, "带\"引号\"的\n日志"))
        .expect("serialises");
    // Stamped a minute ahead of this laptop's clock.
    entry["_clocks"] =
        json!({"text": server_hlc(-60_000).to_string(), "day": server_hlc(-59_000).to_string()});
    page.push(Change {
        seq: 900_003,
        entity: Entity::LogEntry,
        id: entry["id"]
            .as_str()
            .and_then(|s| s.parse().ok())
            .expect("an id"),
        op: ChangeOp::Put,
        row: entry.as_object().cloned(),
    });
    parsed
        .apply_pull(page.clone(), "c-last", now(), now())
        .expect("applies");
    text.apply_pull_raw(&support::raw(&page), "c-last", now(), now())
        .expect("applies");

    let a = parsed.visible_records().expect("reads");
    let b = text.visible_records().expect("reads");
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(x, y, "the same record on both laptops");
    }
    let kept = text
        .record_json(Entity::ChecklistItem, item.id)
        .expect("reads")
        .expect("there");
    assert_eq!(kept["note"], "本地备注", "the pending local note survives");
    assert_eq!(
        kept["label"], "服务器改了标签",
        "the server's newer label arrives"
    );
    assert_eq!(
        parsed
            .open_work_orders(
                None,
                onsite_store::Page {
                    offset: 0,
                    limit: 500
                }
            )
            .expect("lists"),
        text.open_work_orders(
            None,
            onsite_store::Page {
                offset: 0,
                limit: 500
            }
        )
        .expect("lists")
    );
    assert_eq!(
        parsed.van_stock().expect("reads"),
        text.van_stock().expect("reads")
    );
    assert_eq!(
        parsed.cursor().expect("reads"),
        text.cursor().expect("reads")
    );
    // Local edits after the pull are stamped after the newest server stamp on both.
    let stamp = |s: &mut Store| {
        s.update(
            Entity::ChecklistItem,
            data.checklist_items[5].id,
            fields(json!({"note": "后来写的"})),
            now(),
        )
        .expect("edits")
        .hlc
        .to_string()
    };
    let (sa, sb) = (stamp(&mut parsed), stamp(&mut text));
    let ahead = server_hlc(-60_000).to_string();
    assert!(sa > ahead && sb > ahead, "{sa} {sb} after {ahead}");
    assert_eq!(sa[..21], sb[..21], "the same physical time and counter");
    text.verify()
        .expect("tables, indexes and the search index agree");
}

#[test]
fn a_page_of_new_rows_that_also_replaces_rows_already_here_keeps_both() {
    // After 20 inserts a page's saves try INSERT first; the replacements that follow must
    // still replace (and the order's search row follow them).
    let mut w = world(30);
    let order = w.data.orders[0].clone();
    let mut page = Vec::new();
    for i in 0..25 {
        let entry = log_entry(order.id, &format!("第{i}条日志"));
        page.push(
            Change::put_record(90_000 + i, Entity::LogEntry, &entry, &server_hlc(0))
                .expect("serialises"),
        );
    }
    let mut changed = order.clone();
    changed.fault_description = "主轴编码器报警龘".into();
    page.push(
        Change::put_record(90_100, Entity::WorkOrder, &changed, &server_hlc(5))
            .expect("serialises"),
    );
    w.store
        .apply_pull(page, "c-mixed", now(), now())
        .expect("applies");
    let detail = w.store.work_order(order.id).expect("loads");
    assert_eq!(detail.log_entries.len(), 25);
    assert_eq!(detail.order.fault_description, "主轴编码器报警龘");
    let hits = w.store.search("编码器报警", 10).expect("searches");
    assert!(hits.iter().any(|h| h.id == order.id));
    w.store
        .verify()
        .expect("tables, indexes and the search index agree");
}

#[test]
fn one_order_loads_with_everything_under_it_and_its_equipment_history() {
    let w = world(300);
    let order = w
        .data
        .orders
        .iter()
        .find(|o| {
            w.data
                .orders
                .iter()
                .filter(|x| x.equipment_id == o.equipment_id)
                .count()
                > 1
        })
        .expect("shared equipment")
        .clone();
    let d = w.store.work_order(order.id).expect("loads");
    assert_eq!(d.order, order);
    assert_eq!(d.checklist.len(), 20);
    assert_eq!(d.part_usages.len(), 5);
    assert_eq!(d.customer.as_ref().map(|c| c.id), Some(order.customer_id));
    assert_eq!(d.equipment.as_ref().map(|e| e.id), order.equipment_id);
    assert!(d.deadlines.is_some());
    let others = w
        .data
        .orders
        .iter()
        .filter(|o| o.equipment_id == order.equipment_id && o.id != order.id)
        .count();
    assert_eq!(d.history.len(), others);
    assert!(
        d.history
            .windows(2)
            .all(|p| p[0].reported_at >= p[1].reported_at)
    );
    let missing = w.store.work_order(Uuid::now_v7()).expect_err("not here");
    assert!(missing.to_string().contains("not on this laptop"));
}

#[test]
fn van_stock_goes_down_offline_and_cannot_go_below_zero() {
    let mut w = world(30);
    let order = order_in(&w, Status::InRepair);
    let part = w.data.parts[0].id;
    let usage = |qty: u32| PartUsage {
        id: Uuid::now_v7(),
        work_order_id: order,
        part_id: part,
        quantity: qty,
        warranty: false,
        unit_price: None,
        old_part: None,
        from_van_stock: true,
        voids: None,
    };
    w.store
        .append(Entity::PartUsage, &usage(3), now())
        .expect("uses 3");
    let line = w
        .store
        .van_stock()
        .expect("reads")
        .into_iter()
        .find(|l| l.part_id == part)
        .expect("in the van");
    assert_eq!(
        (line.counted, line.used_pending, line.available),
        (10, 3, 7)
    );
    let err = w
        .store
        .append(Entity::PartUsage, &usage(8), now())
        .expect_err("only 7 left");
    assert!(err.to_string().contains("only 7"), "{err}");
    assert_eq!(w.store.pending_count().expect("counts"), 1);
}

#[test]
fn append_only_records_cannot_be_appended_twice_or_under_an_unknown_order() {
    let mut w = world(30);
    let order = order_in(&w, Status::OnSite);
    let entry = log_entry(order, "更换轴承，试运行正常");
    w.store
        .append(Entity::LogEntry, &entry, now())
        .expect("appends");
    assert!(matches!(
        w.store.append(Entity::LogEntry, &entry, now()),
        Err(StoreError::AlreadyExists { .. })
    ));
    let stray = LogEntry {
        id: Uuid::now_v7(),
        work_order_id: Uuid::now_v7(),
        ..entry.clone()
    };
    assert!(matches!(
        w.store.append(Entity::LogEntry, &stray, now()),
        Err(StoreError::NotFound { .. })
    ));
    let blank = LogEntry {
        id: Uuid::now_v7(),
        text: "  ".into(),
        ..entry
    };
    assert!(w.store.append(Entity::LogEntry, &blank, now()).is_err());
    assert_eq!(w.store.pending_count().expect("counts"), 1);
}

#[test]
fn a_pulled_row_keeps_the_engineers_pending_field_on_top_and_takes_the_rest() {
    let mut w = world(30);
    let mut order = w
        .data
        .orders
        .iter()
        .find(|o| o.status == Status::Assigned)
        .expect("assigned")
        .clone();
    w.store
        .update(
            Entity::WorkOrder,
            order.id,
            fields(json!({"diagnosis": "本地诊断"})),
            now(),
        )
        .expect("saves");
    w.store
        .transition(order.id, Status::Accepted, Map::new(), now())
        .expect("accepts");
    // Meanwhile the dispatcher edited other fields on the server (older clocks than ours).
    order.fault_description = "客户补充：夜间报警更频繁".into();
    order.diagnosis = Some("服务器上的旧诊断".into());
    let change =
        Change::put_record(500, Entity::WorkOrder, &order, &server_hlc(1_000)).expect("serialises");
    let stats = w
        .store
        .apply_pull(vec![change], "c500", now(), now())
        .expect("applies");
    assert_eq!(stats.rebased, 1);
    let got = w.store.work_order(order.id).expect("loads").order;
    assert_eq!(got.fault_description, "客户补充：夜间报警更频繁");
    assert_eq!(got.diagnosis.as_deref(), Some("本地诊断"));
    assert_eq!(
        got.status,
        Status::Accepted,
        "the pending transition is replayed on top"
    );
    assert_eq!(w.store.cursor().expect("reads").as_deref(), Some("c500"));
}

#[test]
fn a_newer_server_field_wins_over_an_older_pending_one() {
    let mut w = world(30);
    let mut order = w.data.orders[0].clone();
    w.store
        .update(
            Entity::WorkOrder,
            order.id,
            fields(json!({"diagnosis": "本地"})),
            now(),
        )
        .expect("saves");
    order.diagnosis = Some("更晚的服务器值".into());
    let later = onsite_domain::Hlc::new(
        u64::try_from((now() + Duration::minutes(5)).timestamp_millis()).expect("positive"),
        0,
        "server",
    )
    .expect("valid");
    let change = Change::put_record(501, Entity::WorkOrder, &order, &later).expect("serialises");
    w.store
        .apply_pull(vec![change], "c501", now(), now())
        .expect("applies");
    assert_eq!(
        w.store
            .work_order(order.id)
            .expect("loads")
            .order
            .diagnosis
            .as_deref(),
        Some("更晚的服务器值")
    );
}

#[test]
fn push_results_settle_the_outbox_and_a_conflict_shows_the_servers_status() {
    let mut w = world(30);
    let mut order = w
        .data
        .orders
        .iter()
        .find(|o| o.status == Status::Assigned)
        .expect("assigned")
        .clone();
    let ops = w
        .store
        .transition(order.id, Status::Accepted, Map::new(), now())
        .expect("accepts");
    let note = w
        .store
        .update(
            Entity::WorkOrder,
            order.id,
            fields(json!({"diagnosis": "d"})),
            now(),
        )
        .expect("saves");
    // The dispatcher cancelled meanwhile; the pull brings it before the push answer.
    order.status = Status::Cancelled;
    w.store
        .apply_pull(
            vec![
                Change::put_record(600, Entity::WorkOrder, &order, &server_hlc(10))
                    .expect("serialises"),
            ],
            "c600",
            now(),
            now(),
        )
        .expect("applies");
    assert_eq!(
        w.store.work_order(order.id).expect("loads").order.status,
        Status::Cancelled,
        "the transition no longer applies on top"
    );
    let results = vec![
        OpResult {
            op_id: ops[0].op_id,
            status: OpStatus::Conflict,
            reason: Some("cancelled by the dispatcher".into()),
        },
        OpResult {
            op_id: note.op_id,
            status: OpStatus::Applied,
            reason: None,
        },
        OpResult {
            op_id: Uuid::now_v7(),
            status: OpStatus::Applied,
            reason: None,
        },
    ];
    assert_eq!(
        w.store
            .record_push_results(&results, now(), now())
            .expect("records"),
        2
    );
    assert_eq!(w.store.pending_count().expect("counts"), 0);
    let outcomes = w.store.outcomes().expect("reads");
    assert_eq!(outcomes.len(), 1);
    assert_eq!(outcomes[0].status, OpStatus::Conflict);
    assert_eq!(outcomes[0].op.op_id, ops[0].op_id);
    let d = w.store.work_order(order.id).expect("loads");
    assert_eq!(d.outcomes.len(), 1, "the conflict is shown on the order");
    assert_eq!(
        d.order.diagnosis.as_deref(),
        Some("d"),
        "the applied edit stays"
    );
}

#[test]
fn a_rejected_local_record_disappears_but_its_content_is_kept_as_an_outcome() {
    let mut w = world(30);
    let order = order_in(&w, Status::OnSite);
    let entry = log_entry(order, "日志");
    let op = w
        .store
        .append(Entity::LogEntry, &entry, now())
        .expect("appends");
    answer(&mut w, &op, OpStatus::Rejected, "invalid");
    assert!(
        w.store
            .record_json(Entity::LogEntry, entry.id)
            .expect("reads")
            .is_none()
    );
    let kept = &w.store.outcomes().expect("reads")[0];
    assert_eq!(
        kept.op.fields.as_ref().and_then(|f| f.get("text")),
        Some(&json!("日志"))
    );
}

#[test]
fn a_quarantined_record_stays_visible() {
    let mut w = world(30);
    let order = order_in(&w, Status::OnSite);
    let entry = log_entry(order, "隔离");
    let op = w
        .store
        .append(Entity::LogEntry, &entry, now())
        .expect("appends");
    answer(&mut w, &op, OpStatus::Quarantined, "reassigned");
    assert!(
        w.store
            .record_json(Entity::LogEntry, entry.id)
            .expect("reads")
            .is_some()
    );
    assert_eq!(
        w.store.outcomes().expect("reads")[0].status,
        OpStatus::Quarantined
    );
}

#[test]
fn a_revoked_orders_customer_and_equipment_leave_with_it_unless_another_order_needs_them() {
    let mut w = world(30);
    // An order whose equipment no other order has, so that something must go.
    let mut orders = w.data.orders.clone();
    let alone = orders
        .iter()
        .position(|o| {
            o.equipment_id.is_some()
                && w.data
                    .orders
                    .iter()
                    .filter(|p| p.equipment_id == o.equipment_id)
                    .count()
                    == 1
        })
        .expect("an order alone on its equipment");
    orders.swap(0, alone);
    let gone = &orders[0];
    let others_use = |field: &dyn Fn(&onsite_domain::WorkOrder) -> Option<Uuid>| {
        orders[1..].iter().any(|o| field(o) == field(gone))
    };
    let equipment_shared = others_use(&|o| o.equipment_id);
    let customer_shared = others_use(&|o| Some(o.customer_id));
    let revoke = Change {
        seq: 700,
        entity: Entity::WorkOrder,
        id: gone.id,
        op: ChangeOp::Revoke,
        row: None,
    };
    w.store
        .apply_pull(vec![revoke], "c700", now(), now())
        .expect("applies");
    let equipment = gone.equipment_id.expect("demo orders have equipment");
    assert!(
        w.store
            .record_json(Entity::Equipment, equipment)
            .expect("reads")
            .is_none(),
        "the equipment of no other order leaves"
    );
    assert!(!equipment_shared);
    assert_eq!(
        w.store
            .record_json(Entity::Customer, gone.customer_id)
            .expect("reads")
            .is_some(),
        customer_shared,
        "customer shared with another order: {customer_shared}"
    );
    // Every order still here keeps its customer and equipment.
    for o in &orders[1..] {
        let d = w.store.work_order(o.id).expect("still here");
        assert!(d.customer.is_some(), "{} lost its customer", o.number);
        assert_eq!(d.equipment.is_some(), o.equipment_id.is_some());
    }
}

#[test]
fn a_revoked_order_goes_away_except_work_still_being_sent() {
    let mut w = world(30);
    let gone = w.data.orders[0].id;
    let kept = order_in(&w, Status::OnSite);
    let entry = log_entry(kept, "未发送");
    w.store
        .append(Entity::LogEntry, &entry, now())
        .expect("appends");
    let revoke = |id| Change {
        seq: 700,
        entity: Entity::WorkOrder,
        id,
        op: ChangeOp::Revoke,
        row: None,
    };
    let stats = w
        .store
        .apply_pull(vec![revoke(gone), revoke(kept)], "c700", now(), now())
        .expect("applies");
    assert_eq!((stats.revoked, stats.kept_pending), (2, 1));
    assert!(w.store.work_order(gone).is_err());
    assert!(
        w.store
            .search(&w.data.orders[0].number, 10)
            .expect("searches")
            .is_empty()
    );
    let d = w
        .store
        .work_order(kept)
        .expect("kept while its log entry is pending");
    assert_eq!(d.log_entries.len(), 1);
    assert!(
        d.checklist.is_empty(),
        "what has nothing pending is dropped"
    );
    let listed = w
        .store
        .open_work_orders(
            None,
            Page {
                offset: 0,
                limit: 1000,
            },
        )
        .expect("lists");
    assert!(listed.iter().any(|s| s.id == kept && s.revoked));
    w.store
        .verify()
        .expect("tables, indexes and the search index agree");
}

#[test]
fn a_pulled_delete_removes_a_record() {
    let mut w = world(30);
    let usage = w.data.part_usages[0].clone();
    let del = Change {
        seq: 800,
        entity: Entity::PartUsage,
        id: usage.id,
        op: ChangeOp::Delete,
        row: None,
    };
    w.store
        .apply_pull(vec![del], "c800", now(), now())
        .expect("applies");
    assert!(
        w.store
            .record_json(Entity::PartUsage, usage.id)
            .expect("reads")
            .is_none()
    );
}

#[test]
fn a_page_with_a_broken_row_changes_nothing_not_even_the_cursor() {
    let mut w = world(30);
    let before = w.store.cursor().expect("reads");
    let order = w.data.orders[1].clone();
    let good =
        Change::put_record(900, Entity::WorkOrder, &order, &server_hlc(0)).expect("serialises");
    let broken = Change {
        seq: 901,
        entity: Entity::WorkOrder,
        id: Uuid::now_v7(),
        op: ChangeOp::Put,
        row: None,
    };
    assert!(
        w.store
            .apply_pull(vec![good, broken], "c901", now(), now())
            .is_err()
    );
    assert_eq!(w.store.cursor().expect("reads"), before);
}

#[test]
fn the_clock_follows_the_server_offset_orders_after_pulled_stamps_and_survives_a_restart() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut store = open(&dir);
    // The server is two days behind this laptop's wall clock.
    let server = now() - Duration::days(2);
    let server_stamp = onsite_domain::Hlc::new(
        u64::try_from(server.timestamp_millis()).expect("positive"),
        3,
        "server",
    )
    .expect("valid");
    let order =
        onsite_domain::demo::generate(1, support::size(5), Uuid::nil(), server).orders[0].clone();
    store
        .apply_pull(
            vec![
                Change::put_record(1, Entity::WorkOrder, &order, &server_stamp)
                    .expect("serialises"),
            ],
            "c1",
            server,
            now(),
        )
        .expect("applies");
    let op = store
        .update(
            Entity::WorkOrder,
            order.id,
            fields(json!({"diagnosis": "x"})),
            now(),
        )
        .expect("saves");
    assert!(
        op.hlc > server_stamp,
        "an edit made after a pull orders after what it saw"
    );
    assert!(
        op.hlc.physical_ms()
            < u64::try_from((now() - Duration::days(1)).timestamp_millis()).expect("positive"),
        "stamped with server-corrected time, not the laptop's"
    );
    drop(store);
    let mut store = open(&dir);
    let op2 = store
        .update(
            Entity::WorkOrder,
            order.id,
            fields(json!({"diagnosis": "y"})),
            now() - Duration::days(30),
        )
        .expect("saves");
    assert!(
        op2.hlc > op.hlc,
        "monotonic across restarts even when the wall clock jumps back"
    );
}

#[test]
fn the_journal_of_acknowledged_work_is_aged_by_the_servers_clock_not_the_laptops() {
    let mut w = world(3);
    let order = w.data.orders[0].id;
    let first = w
        .store
        .append(Entity::LogEntry, &log_entry(order, "到场检查"), now())
        .expect("appends");
    let result = |op: &onsite_domain::Op| OpResult {
        op_id: op.op_id,
        status: OpStatus::Applied,
        reason: None,
    };
    w.store
        .record_push_results(&[result(&first)], now(), now())
        .expect("records");
    // The laptop's clock jumps a year ahead; the server's has not moved.
    let ahead = now() + Duration::days(400);
    let second = w
        .store
        .append(Entity::LogEntry, &log_entry(order, "更换轴承"), ahead)
        .expect("appends");
    w.store
        .record_push_results(&[result(&second)], now(), ahead)
        .expect("records");
    // The server is restored: both go out again.
    assert_eq!(w.store.begin_resync().expect("resyncs"), 2);
    let again: Vec<Uuid> = w
        .store
        .pending_batch(10)
        .expect("reads")
        .iter()
        .map(|o| o.op_id)
        .collect();
    assert_eq!(again, vec![first.op_id, second.op_id]);
}
