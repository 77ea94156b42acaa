//! A real server and real clients (sync engine + local store) on loopback.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use onsite_domain::Status;
use onsite_domain::demo::{DemoSize, generate};
use onsite_domain::protocol::Entity;
use onsite_store::{OpenOptions, Store};
use onsite_sync_client::{
    Client, Config, SharedStore, SyncEngine, SyncError, SyncState, sync_once,
};
use onsite_sync_server::storage::Storage;
use onsite_tests::{PASSWORD, TestServer, laptop, object, seeded};
use serde_json::{Map, Value};
use uuid::Uuid;

fn status_on_server(server: &TestServer, order: Uuid) -> String {
    let orders = server.storage().work_orders(None).expect("lists");
    let row = orders
        .iter()
        .find(|o| o["id"] == Value::String(order.to_string()))
        .expect("order on the server");
    row["status"].as_str().expect("status").to_owned()
}

#[tokio::test]
async fn an_order_assigned_on_the_server_appears_on_the_laptop() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (server, engineer, orders) = seeded(&dir, 5);
    let (store, client, _) = laptop(&dir, &server, "laptop-1").await;
    let report = sync_once(&store, &client, &Config::default(), &|_| {})
        .await
        .expect("syncs");
    assert!(
        report.pulled >= 5 * 5,
        "orders with their checklists: {report:?}"
    );
    {
        let s = store.lock().expect("lock");
        let detail = s.work_order(orders[0]).expect("the order is on the laptop");
        assert_eq!(detail.checklist.len(), 4);
        assert!(detail.customer.is_some());
    }
    // A new order assigned later arrives at the next sync.
    let storage = server.storage();
    let mut extra = generate(
        9,
        DemoSize {
            customers: 1,
            equipment: 1,
            orders: 1,
            checklist_items_per_order: 0,
            part_usages_per_order: 0,
        },
        engineer,
        chrono::Utc::now(),
    );
    let now = chrono::Utc::now();
    storage
        .admin_put(Entity::Customer, object(&extra.customers[0]), now)
        .expect("customer");
    extra.orders[0].status = Status::New;
    extra.orders[0].equipment_id = None;
    extra.orders[0].assignees = Vec::new();
    storage
        .admin_put(Entity::WorkOrder, object(&extra.orders[0]), now)
        .expect("order");
    storage
        .assign(extra.orders[0].id, &[engineer], None, now)
        .expect("assign");
    sync_once(&store, &client, &Config::default(), &|_| {})
        .await
        .expect("syncs");
    let s = store.lock().expect("lock");
    assert_eq!(
        s.work_order(extra.orders[0].id)
            .expect("arrived")
            .order
            .status,
        Status::Assigned
    );
}

#[tokio::test]
async fn a_transition_made_with_the_server_stopped_is_pushed_after_it_restarts() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (mut server, _, orders) = seeded(&dir, 3);
    let (store, client, _) = laptop(&dir, &server, "laptop-1").await;
    sync_once(&store, &client, &Config::default(), &|_| {})
        .await
        .expect("syncs");
    server.stop();
    store
        .lock()
        .expect("lock")
        .transition(orders[0], Status::Accepted, Map::new(), chrono::Utc::now())
        .expect("accepts offline");
    let err = sync_once(&store, &client, &Config::default(), &|_| {})
        .await
        .expect_err("the server is down");
    assert!(matches!(err, SyncError::Offline(_)), "{err}");
    assert_eq!(
        store.lock().expect("lock").pending_count().expect("counts"),
        1,
        "kept for later"
    );
    server.restart();
    sync_once(&store, &client, &Config::default(), &|_| {})
        .await
        .expect("syncs after the restart");
    assert_eq!(
        store.lock().expect("lock").pending_count().expect("counts"),
        0
    );
    assert_eq!(status_on_server(&server, orders[0]), "accepted");
}

#[tokio::test]
async fn a_push_whose_answer_was_lost_is_replayed_without_a_duplicate() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (server, _, orders) = seeded(&dir, 2);
    let (store, client, _) = laptop(&dir, &server, "laptop-1").await;
    sync_once(&store, &client, &Config::default(), &|_| {})
        .await
        .expect("syncs");
    let entry = onsite_domain::records::LogEntry {
        id: Uuid::now_v7(),
        work_order_id: orders[0],
        day: chrono::Utc::now().date_naive(),
        text: "更换轴承".into(),
        progress: None,
        open_problems: None,
        next_plan: None,
        author_id: None,
        voids: None,
    };
    let now = chrono::Utc::now();
    {
        let mut s = store.lock().expect("lock");
        s.transition(orders[0], Status::Accepted, Map::new(), now)
            .expect("accepts");
        s.append(Entity::LogEntry, &entry, now).expect("logs");
    }
    // The request reaches the server, but its answer never comes back.
    let ops = store
        .lock()
        .expect("lock")
        .pending_batch(100)
        .expect("reads");
    client.push(ops).await.expect("the server applied it");
    // The next cycle sends the same operations again: same op_ids, first answers, nothing twice.
    sync_once(&store, &client, &Config::default(), &|_| {})
        .await
        .expect("syncs");
    let s = store.lock().expect("lock");
    assert_eq!(s.pending_count().expect("counts"), 0);
    assert!(
        s.outcomes().expect("reads").is_empty(),
        "no conflict from a replay"
    );
    let d = s.work_order(orders[0]).expect("loads");
    assert_eq!(d.order.status, Status::Accepted);
    assert_eq!(d.log_entries.len(), 1, "the log entry exists once");
    assert_eq!(status_on_server(&server, orders[0]), "accepted");
}

#[tokio::test]
async fn the_engine_goes_offline_keeps_the_work_and_catches_up_when_the_server_returns() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (mut server, _, orders) = seeded(&dir, 2);
    let (store, _, session) = laptop(&dir, &server, "laptop-1").await;
    let config = Config {
        debounce: Duration::from_millis(50),
        interval: Duration::from_secs(30),
        backoff_start: Duration::from_millis(50),
        backoff_max: Duration::from_millis(200),
        ..Config::default()
    };
    let engine = SyncEngine::start(Arc::clone(&store), &session, config);
    let mut state = engine.state();
    let wait_for = |state: &mut tokio::sync::watch::Receiver<SyncState>,
                    what: &'static str,
                    f: fn(&SyncState) -> bool| {
        let mut state = state.clone();
        async move {
            tokio::time::timeout(Duration::from_secs(20), state.wait_for(f))
                .await
                .unwrap_or_else(|_| panic!("never {what}"))
                .map(|s| s.clone())
                .expect("engine alive")
        }
    };
    wait_for(&mut state, "idle", |s| matches!(s, SyncState::Idle { .. })).await;
    server.stop();
    store
        .lock()
        .expect("lock")
        .transition(orders[1], Status::Accepted, Map::new(), chrono::Utc::now())
        .expect("accepts");
    engine.local_write().await;
    let offline = wait_for(&mut state, "offline", |s| {
        matches!(s, SyncState::Offline { .. })
    })
    .await;
    assert!(
        matches!(offline, SyncState::Offline { pending: 1, .. }),
        "{offline:?}"
    );
    server.restart();
    wait_for(&mut state, "idle with nothing pending", |s| {
        matches!(s, SyncState::Idle { pending: 0, .. })
    })
    .await;
    assert_eq!(status_on_server(&server, orders[1]), "accepted");
    engine.stop().await;
}

#[tokio::test]
async fn the_session_survives_a_restart_and_works_offline() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (mut server, _, orders) = seeded(&dir, 1);
    let (store, client, session) = laptop(&dir, &server, "laptop-1").await;
    sync_once(&store, &client, &Config::default(), &|_| {})
        .await
        .expect("syncs");
    session.save(&store.lock().expect("lock")).expect("kept");
    drop(client);
    let path = store.lock().expect("lock").path().to_path_buf();
    drop(store);
    server.stop();
    // The laptop restarts with no network: signed in, the orders are there.
    let store = Store::open(
        &path,
        &OpenOptions {
            device_id: "laptop-1".into(),
            key: Some(onsite_tests::laptop_key("laptop-1")),
        },
    )
    .expect("reopens");
    let kept = onsite_sync_client::Session::load(&store)
        .expect("reads")
        .expect("still signed in");
    assert_eq!(kept, session);
    let in_database = store.setting("session").expect("reads").expect("kept");
    assert!(
        !in_database.contains(&session.token),
        "the token is kept in the keyring, not in the database"
    );
    assert!(store.work_order(orders[0]).is_ok());
    onsite_sync_client::Session::forget(&store).expect("signs out");
    assert!(
        onsite_sync_client::Session::load(&store)
            .expect("reads")
            .is_none()
    );
}

/// Issue 16 §8: six laptops resolve 100 orders offline, then sync in turns. Each 外出服务
/// 记录表 is numbered by the server as its order's resolution arrives: 01–99 of the
/// department's month, none twice, none skipped; the hundredth finds the month full, and
/// its laptop's sync goes on (the order is resolved, its form stays provisional).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_service_records_from_six_laptops_are_numbered_without_repeat_or_gap() {
    use onsite_sync_server::storage::Storage;
    let dir = tempfile::tempdir().expect("temp dir");
    let (server, _, orders) = seeded(&dir, 100);
    let now = chrono::Utc::now();
    {
        // Level 4: each may be resolved remotely, the short path.
        let storage = server.storage();
        for row in storage.work_orders(None).expect("orders") {
            let mut order: onsite_domain::WorkOrder =
                serde_json::from_value(serde_json::Value::Object(row)).expect("an order");
            order.fault_level = 4;
            storage
                .admin_put(
                    onsite_domain::Entity::WorkOrder,
                    onsite_tests::object(&order),
                    now,
                )
                .expect("level 4");
        }
    }
    let mut laptops = Vec::new();
    for k in 0..6 {
        let (store, client, _) = laptop(&dir, &server, &format!("laptop-{k}")).await;
        sync_once(&store, &client, &Config::default(), &|_| {})
            .await
            .expect("first sync");
        laptops.push((store, client));
    }
    // Offline, each laptop resolves its share.
    for (i, order) in orders.iter().enumerate() {
        let (store, _) = &laptops[i % 6];
        let mut s = store.lock().expect("lock");
        for to in [Status::Accepted, Status::Remote] {
            s.transition(*order, to, Map::new(), now).expect("a step");
        }
    }
    // They come back online one after another, twice round.
    for _ in 0..2 {
        for (store, client) in &laptops {
            sync_once(store, client, &Config::default(), &|_| {})
                .await
                .expect("the sync goes on, even once the month is full");
        }
    }
    let rows = server.storage().work_orders(None).expect("orders");
    assert!(
        rows.iter().all(|o| o["status"] == "remote"),
        "every resolution applied"
    );
    let mut numbers: Vec<String> = rows
        .iter()
        .filter_map(|o| o["service_record_number"].as_str().map(str::to_owned))
        .collect();
    numbers.sort();
    let yymm = {
        let d = onsite_domain::numbering::numbering_date(now);
        format!(
            "{:02}{:02}",
            chrono::Datelike::year(&d) % 100,
            chrono::Datelike::month(&d)
        )
    };
    let expected: Vec<String> = (1..=99).map(|n| format!("SC{yymm}-{n:02}")).collect();
    assert_eq!(numbers, expected, "01–99, each once, no gap");
    let waiting: Vec<_> = rows
        .iter()
        .filter(|o| o["service_record_number"].is_null())
        .collect();
    assert_eq!(waiting.len(), 1, "the hundredth waits for a wider sequence");
    let waiting_id = waiting[0]["id"].as_str().expect("its id").to_owned();
    assert_eq!(
        waiting[0]["service_record_waiting"]["max"], 99,
        "and says why: {:?}",
        waiting[0]
    );
    // The administrator widens the sequence and starts the server again: the waiting
    // record is numbered in its own month, after 99.
    {
        let storage =
            onsite_sync_server::sqlite::SqliteStorage::open(&dir.path().join("server.db"))
                .expect("the server's database");
        assert_eq!(
            storage
                .number_waiting_service_records(chrono::Utc::now())
                .expect("runs"),
            0,
            "still two digits: nothing to do"
        );
        storage.set_number_width(3);
        assert_eq!(
            storage
                .number_waiting_service_records(chrono::Utc::now())
                .expect("runs"),
            1
        );
    }
    let numbered = server
        .storage()
        .work_orders(None)
        .expect("orders")
        .into_iter()
        .find(|o| o["id"] == waiting_id.as_str())
        .expect("the order");
    assert_eq!(numbered["service_record_number"], format!("SC{yymm}-100"));
    assert!(numbered["service_record_waiting"].is_null());
    // The laptops hear the numbers: each shows its orders' numbers after the sync.
    let (store, _) = &laptops[0];
    let s = store.lock().expect("lock");
    let shown = s.work_order(orders[0]).expect("the order").order;
    assert!(
        shown
            .service_record_number
            .is_some_and(|n| expected.contains(&n)),
        "the first laptop's first order has its number"
    );
}

#[tokio::test]
async fn requests_and_answers_cut_on_the_wire_lose_nothing_and_apply_nothing_twice() {
    use onsite_tests::proxy::{Fault, FaultProxy};
    let dir = tempfile::tempdir().expect("temp dir");
    let (server, _, orders) = seeded(&dir, 2);
    let proxy = FaultProxy::start(server.addr);
    let store = Store::open(
        dir.path().join("laptop.db"),
        &OpenOptions {
            device_id: "laptop-1".into(),
            key: Some(onsite_tests::laptop_key("laptop-1")),
        },
    )
    .expect("store");
    let store: SharedStore = Arc::new(Mutex::new(store));
    let session = Client::login(&proxy.url(), "wang", PASSWORD, "laptop-1", "ThinkPad")
        .await
        .expect("signs in");
    sync_once(&store, &Client::new(&session), &Config::default(), &|_| {})
        .await
        .expect("syncs");
    let now = chrono::Utc::now();
    {
        let mut s = store.lock().expect("lock");
        s.transition(orders[0], Status::Accepted, Map::new(), now)
            .expect("accepts");
        s.transition(orders[0], Status::EnRoute, Map::new(), now)
            .expect("sets off");
    }
    for fault in [
        Fault::Refuse,
        Fault::CutRequest(200),
        Fault::CutResponse(40),
        Fault::CutResponse(0),
    ] {
        proxy.set(fault);
        let err = sync_once(&store, &Client::new(&session), &Config::default(), &|_| {})
            .await
            .expect_err("the wire is cut");
        assert!(
            err.is_transient() || matches!(err, SyncError::Protocol(_)),
            "{fault:?}: {err}"
        );
        assert_eq!(
            store.lock().expect("lock").pending_count().expect("counts"),
            2,
            "{fault:?}: nothing settled without an answer"
        );
    }
    proxy.set(Fault::None);
    sync_once(&store, &Client::new(&session), &Config::default(), &|_| {})
        .await
        .expect("syncs once the wire heals");
    let s = store.lock().expect("lock");
    assert_eq!(s.pending_count().expect("counts"), 0);
    assert!(
        s.outcomes().expect("reads").is_empty(),
        "a request the server applied before the cut is answered as the first time, not as a conflict"
    );
    assert_eq!(
        s.work_order(orders[0]).expect("loads").order.status,
        Status::EnRoute
    );
    assert_eq!(status_on_server(&server, orders[0]), "en_route");
}

#[tokio::test]
async fn a_first_sync_cut_mid_snapshot_leaves_the_laptop_empty_and_the_next_gets_everything() {
    use onsite_tests::proxy::{Fault, FaultProxy};
    let dir = tempfile::tempdir().expect("temp dir");
    // About 1 MB of snapshot: the cut comes after the first half megabyte was read and
    // written into the new file.
    let (server, _, orders) = seeded(&dir, 300);
    let proxy = FaultProxy::start(server.addr);
    let path = dir.path().join("cut.db");
    let store = Store::open(
        &path,
        &OpenOptions {
            device_id: "cut".into(),
            key: Some(onsite_tests::laptop_key("cut")),
        },
    )
    .expect("store");
    let store: SharedStore = Arc::new(Mutex::new(store));
    let session = Client::login(&proxy.url(), "wang", PASSWORD, "cut", "ThinkPad")
        .await
        .expect("signs in");
    proxy.set(Fault::CutResponse(700_000));
    let err = sync_once(&store, &Client::new(&session), &Config::default(), &|_| {})
        .await
        .expect_err("the snapshot is cut");
    assert!(
        err.is_transient(),
        "a cut snapshot is a network error: {err}"
    );
    {
        let s = store.lock().expect("lock");
        assert!(
            s.visible_records().expect("reads").is_empty(),
            "nothing of a cut snapshot is kept"
        );
        assert!(s.can_bootstrap().expect("reads"), "no cursor was kept");
    }
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .expect("lists")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("cut.db.first-sync"))
        .collect();
    assert!(
        leftovers.is_empty(),
        "the half-written file is removed: {leftovers:?}"
    );

    proxy.set(Fault::None);
    let report = sync_once(&store, &Client::new(&session), &Config::default(), &|_| {})
        .await
        .expect("syncs once the wire heals");
    assert!(report.pulled > 0);
    // The same laptop as one whose snapshot arrived whole.
    let (whole, client, _) = laptop(&dir, &server, "whole").await;
    sync_once(&whole, &client, &Config::default(), &|_| {})
        .await
        .expect("syncs");
    let mut got = store
        .lock()
        .expect("lock")
        .visible_records()
        .expect("reads");
    let mut want = whole
        .lock()
        .expect("lock")
        .visible_records()
        .expect("reads");
    // Pages store bodies without their null fields, a snapshot as it came: an absent
    // field reads as null, so both are the same record.
    for (_, _, body) in got.iter_mut().chain(want.iter_mut()) {
        body.retain(|_, v| !v.is_null());
    }
    got.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
    want.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
    assert_eq!(got.len(), want.len());
    for (g, w) in got.iter().zip(&want) {
        assert_eq!(g, w, "the laptop after the cut equals the one synced whole");
    }
    let s = store.lock().expect("lock");
    assert_eq!(
        s.work_order(orders[299])
            .expect("the last order arrived")
            .order
            .id,
        orders[299]
    );
}

#[tokio::test]
async fn the_sync_bar_counts_the_records_of_a_first_sync_as_they_are_written() {
    let dir = tempfile::tempdir().expect("temp dir");
    // About 1 MB of snapshot: written in two batches.
    let (server, _, _) = seeded(&dir, 300);
    let (store, client, _) = laptop(&dir, &server, "bar").await;
    let heard = Arc::new(Mutex::new(Vec::new()));
    let h = Arc::clone(&heard);
    let config = Config {
        progress_every: Duration::from_millis(1),
        ..Config::default()
    };
    let report = sync_once(&store, &client, &config, &move |s| {
        if let SyncState::Syncing { done, .. } = s {
            h.lock().expect("lock").push(done);
        }
    })
    .await
    .expect("syncs");
    let heard = heard.lock().expect("lock").clone();
    assert!(
        heard.iter().any(|d| *d > 0 && *d < report.pulled),
        "a count between none and all ({} records) while the snapshot arrived: {heard:?}",
        report.pulled
    );
    assert!(
        heard.windows(2).all(|w| w[0] <= w[1]),
        "never counts down: {heard:?}"
    );
    assert_eq!(heard.last().copied(), Some(report.pulled));
}

/// A photo of `size` random bytes kept on the laptop, and the attachment record that shows
/// it under `order`: (the bytes, their SHA-256).
fn keep_photo(
    store: &SharedStore,
    order: Uuid,
    seed: u64,
    size: usize,
    caption: &str,
) -> (Vec<u8>, String) {
    let mut rng = onsite_domain::demo::Rng::new(seed);
    let photo: Vec<u8> = (0..size).map(|_| rng.below(256) as u8).collect();
    let mut s = store.lock().expect("lock");
    let sha = s.put_blob(&photo).expect("keeps the photo");
    let attachment = onsite_domain::records::Attachment {
        id: Uuid::now_v7(),
        work_order_id: order,
        sha256: sha.clone(),
        kind: None,
        mime: Some("image/jpeg".into()),
        size: Some(photo.len() as u64),
        caption: Some(caption.into()),
        voids: None,
        width: None,
        height: None,
        original_sha256: None,
    };
    s.append(Entity::Attachment, &attachment, chrono::Utc::now())
        .expect("records the photo");
    (photo, sha)
}

#[tokio::test]
async fn a_photo_goes_up_before_its_record_even_over_a_connection_cut_mid_upload() {
    use onsite_tests::proxy::{Fault, FaultProxy};
    let dir = tempfile::tempdir().expect("temp dir");
    let (server, _, orders) = seeded(&dir, 1);
    let proxy = FaultProxy::start(server.addr);
    // Photos live beside the database: give the laptop a folder of its own.
    std::fs::create_dir_all(dir.path().join("laptop")).expect("dir");
    let store = Store::open(
        dir.path().join("laptop").join("laptop.db"),
        &OpenOptions {
            device_id: "laptop-1".into(),
            key: Some(onsite_tests::laptop_key("laptop-1")),
        },
    )
    .expect("store");
    let session = Client::login(&proxy.url(), "wang", PASSWORD, "laptop-1", "ThinkPad")
        .await
        .expect("signs in");
    let client = Client::new(&session);
    let store: SharedStore = Arc::new(Mutex::new(store));
    let config = Config::default();
    sync_once(&store, &client, &config, &|_| {})
        .await
        .expect("first sync");

    // A 2 MB photo of the nameplate, kept on the laptop, and the record that shows it.
    let (photo, sha) = keep_photo(&store, orders[0], 9, 2_000_000, "铭牌照片");

    // The upload is cut a third of the way: the record is not pushed without its photo.
    proxy.set(Fault::CutRequest(700_000));
    // A new client: the proxy decides a connection's fate when it is opened.
    let client = Client::new(&session);
    let cut = sync_once(&store, &client, &config, &|_| {}).await;
    assert!(cut.is_err(), "the cut upload fails the cycle");
    {
        let s = store.lock().expect("lock");
        assert_eq!(s.pending_count().expect("counts"), 1, "the record waits");
        assert_eq!(s.blobs_to_upload().expect("lists"), vec![sha.clone()]);
    }

    // The wire heals: the photo, then the record.
    proxy.set(Fault::None);
    let client = Client::new(&session);
    let report = sync_once(&store, &client, &config, &|_| {})
        .await
        .expect("syncs");
    assert_eq!((report.blobs, report.pushed), (1, 1));
    let fetched = reqwest::Client::new()
        .get(format!("{}/v1/blobs/{sha}", server.url()))
        .bearer_auth(&session.token)
        .send()
        .await
        .expect("fetches");
    assert_eq!(fetched.status(), 200);
    assert!(fetched.bytes().await.expect("bytes").as_ref() == photo.as_slice());

    // Nothing is sent twice.
    let again = sync_once(&store, &client, &config, &|_| {})
        .await
        .expect("syncs");
    assert_eq!((again.blobs, again.pushed), (0, 0));
}

#[tokio::test]
async fn a_20_mb_photo_gets_through_a_link_that_drops_every_3_mb_and_another_laptop_fetches_it() {
    use onsite_tests::proxy::{Fault, FaultProxy};
    let dir = tempfile::tempdir().expect("temp dir");
    let (server, _, orders) = seeded(&dir, 1);
    let proxy = FaultProxy::start(server.addr);
    let open = |name: &str| -> SharedStore {
        std::fs::create_dir_all(dir.path().join(name)).expect("dir");
        let store = Store::open(
            dir.path().join(name).join("laptop.db"),
            &OpenOptions {
                device_id: name.into(),
                key: Some(onsite_tests::laptop_key(name)),
            },
        )
        .expect("store");
        Arc::new(Mutex::new(store))
    };
    let store = open("laptop-1");
    let session = Client::login(&proxy.url(), "wang", PASSWORD, "laptop-1", "ThinkPad")
        .await
        .expect("signs in");
    let config = Config::default();
    sync_once(&store, &Client::new(&session), &config, &|_| {})
        .await
        .expect("first sync");

    let (photo, sha) = keep_photo(&store, orders[0], 20, 20_000_000, "控制柜内部");

    // Every connection dies after 3 MB: the photo in one request never gets through.
    proxy.set(Fault::DropAfter(3_000_000));
    let whole = Client::new(&session).put_blob(&sha, photo.clone()).await;
    assert!(whole.is_err(), "a 20 MB upload in one piece is cut");

    // In pieces it does, resuming where the server stands: a few cycles at most, and
    // only the pieces in flight when the link dropped are sent again.
    let mut sent = 0u64;
    let mut cycles = 0;
    let report = loop {
        cycles += 1;
        assert!(cycles <= 5, "still not through after {cycles} cycles");
        match sync_once(&store, &Client::new(&session), &config, &|_| {}).await {
            Ok(r) => {
                sent += r.blob_bytes;
                break r;
            }
            Err(_) => continue,
        }
    };
    assert_eq!(
        (report.blobs, report.pushed),
        (1, 1),
        "the photo, then its record"
    );
    assert!(
        sent <= 20_000_000 + 4 * 1024 * 1024,
        "{sent} bytes sent for a 20 MB photo"
    );
    proxy.set(Fault::None);

    // Another laptop of the same engineer gets the record, and the photo when it is
    // looked at: from the server once, hash checked, then from its own disk.
    let other = open("laptop-2");
    let session2 = Client::login(&server.url(), "wang", PASSWORD, "laptop-2", "Surface")
        .await
        .expect("signs in");
    let client2 = Client::new(&session2);
    sync_once(&other, &client2, &config, &|_| {})
        .await
        .expect("syncs");
    let attachments = other
        .lock()
        .expect("lock")
        .work_order(orders[0])
        .expect("order")
        .attachments;
    assert_eq!(attachments.len(), 1);
    assert_eq!(attachments[0].sha256, sha);
    assert!(
        other
            .lock()
            .expect("lock")
            .blob(&sha)
            .expect("reads")
            .is_none(),
        "photos are not pulled with the records"
    );
    let fetched = onsite_sync_client::fetch_blob(&other, &client2, &sha)
        .await
        .expect("fetches")
        .expect("the server has it");
    assert!(fetched == photo, "the same bytes");
    drop(server);
    let offline = onsite_sync_client::fetch_blob(&other, &client2, &sha)
        .await
        .expect("reads from the laptop with the server gone")
        .expect("kept");
    assert!(offline == photo);
}

/// Issue 5: the app (the laptop's rows) and `GET /v1/work-orders/{id}/receipt.pdf` (the
/// server's rows) print the same bytes for the same order and language, apart from the
/// creation date; another engineer cannot print the order.
#[tokio::test]
async fn the_laptop_and_the_server_print_the_same_documents() {
    use onsite_receipt::{Document, Lang, render_rows, sample, without_dates};
    let dir = tempfile::tempdir().expect("temp dir");
    let server = TestServer::start(&dir.path().join("server.db"));
    let storage = server.storage();
    let users = onsite_tests::add_users(
        &storage,
        &[
            ("wang", onsite_domain::Role::Engineer),
            ("li", onsite_domain::Role::Engineer),
        ],
    );
    let file = sample::repair_job(20).expect("sample");
    let now = chrono::Utc::now();
    for s in &file.fee_schedules {
        storage
            .admin_put(Entity::FeeSchedule, object(s), now)
            .expect("fee schedule");
    }
    onsite_sync_server::demo::put_order_file(&storage, &file, &[users[0]], None, now)
        .expect("the order and all under it on the server");
    let order = file.order.clone();

    let (store, client, session) = laptop(&dir, &server, "laptop-1").await;
    sync_once(&store, &client, &Config::default(), &|_| {})
        .await
        .expect("syncs");
    // Signature images are fetched when a document needs them, as the app does.
    for sha in file.signature_images() {
        onsite_sync_client::fetch_blob(&store, &client, &sha)
            .await
            .expect("the signature image comes down");
    }
    let http = reqwest::Client::new();
    for (doc, lang, query) in [
        (
            Document::RepairRecord,
            Lang::Zh,
            "doc=repair_record&lang=zh-CN",
        ),
        (Document::Quote, Lang::En, "doc=quote&lang=en"),
        (Document::Settlement, Lang::Zh, "doc=settlement"),
        (
            Document::ServiceReceipt,
            Lang::En,
            "doc=service_receipt&lang=en",
        ),
        (
            Document::FieldServiceRecord,
            Lang::Zh,
            "doc=field_service_record",
        ),
        (Document::Checklist, Lang::Zh, "doc=checklist"),
    ] {
        let app = {
            let s = store.lock().expect("lock");
            let rows = s.order_rows(order.id).expect("rows on the laptop");
            render_rows(
                order.id,
                rows.iter().map(|(e, b)| (*e, b.as_str())),
                |sha| s.blob(sha).ok().flatten(),
                doc,
                lang,
                chrono::Utc::now(),
            )
            .expect("the app renders")
        };
        let resp = http
            .get(format!(
                "{}/v1/work-orders/{}/receipt.pdf?{query}",
                server.url(),
                order.id
            ))
            .bearer_auth(&session.token)
            .send()
            .await
            .expect("the server answers");
        assert_eq!(resp.status(), 200, "{query}");
        assert_eq!(
            resp.headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok()),
            Some("application/pdf")
        );
        let served = resp.bytes().await.expect("body");
        assert!(app.pages >= 1);
        assert!(
            without_dates(&app.bytes) == without_dates(&served),
            "{query}: the app made {} bytes, the server {}",
            app.bytes.len(),
            served.len()
        );
    }

    // The other engineer: not their order. Bad input: a clear 400, nothing else.
    let other = Client::login(&server.url(), "li", PASSWORD, "laptop-2", "ThinkPad")
        .await
        .expect("li signs in");
    let url = format!("{}/v1/work-orders/{}/receipt.pdf", server.url(), order.id);
    let resp = http
        .get(&url)
        .bearer_auth(&other.token)
        .send()
        .await
        .expect("answers");
    assert_eq!(
        resp.status(),
        404,
        "an engineer prints only their own orders"
    );
    let resp = http.get(&url).send().await.expect("answers");
    assert_eq!(resp.status(), 401, "signed in only");
    let resp = http
        .get(format!("{url}?doc=invoice"))
        .bearer_auth(&session.token)
        .send()
        .await
        .expect("answers");
    assert_eq!(resp.status(), 400);
    let text = resp.text().await.expect("body");
    assert!(
        text.contains("repair_record"),
        "the error names what to use: {text}"
    );
}

#[tokio::test]
async fn signing_out_ends_the_token_on_the_server_now_or_at_the_next_sync_when_offline() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (mut server, _, _) = seeded(&dir, 1);
    let (store, client, session) = laptop(&dir, &server, "laptop-1").await;
    sync_once(&store, &client, &Config::default(), &|_| {})
        .await
        .expect("syncs");
    onsite_sync_client::sign_out(&store, Some(session))
        .await
        .expect("signs out");
    assert!(
        matches!(client.pull(None, 10).await, Err(SyncError::Unauthorized)),
        "the token works no more"
    );

    // Signed in again, then out while the server is down: the laptop does not wait, and
    // the token ends at the next sync.
    let again = Client::login(&server.url(), "wang", PASSWORD, "laptop-1", "笔记本")
        .await
        .expect("signs in");
    let old = Client::new(&again);
    server.stop();
    let started = std::time::Instant::now();
    onsite_sync_client::sign_out(&store, Some(again))
        .await
        .expect("signs out offline");
    assert!(started.elapsed() < Duration::from_secs(5));
    server.restart();
    assert!(
        old.pull(None, 10).await.is_ok(),
        "not revoked while offline"
    );
    let third = Client::login(&server.url(), "wang", PASSWORD, "laptop-1", "笔记本")
        .await
        .expect("signs in");
    sync_once(&store, &Client::new(&third), &Config::default(), &|_| {})
        .await
        .expect("syncs");
    assert!(matches!(
        old.pull(None, 10).await,
        Err(SyncError::Unauthorized)
    ));
}

/// The server's database, as a backup taken now would hold it.
fn backup(server: &TestServer, to: &std::path::Path) {
    rusqlite::Connection::open(&server.db)
        .expect("opens")
        .execute("VACUUM INTO ?1", [to.to_string_lossy()])
        .expect("backs up");
}

/// Stops the server, puts `copy` in place of its database, starts it again.
fn restore(server: &mut TestServer, copy: &std::path::Path) {
    server.stop();
    for suffix in ["-wal", "-shm"] {
        let mut side = server.db.as_os_str().to_owned();
        side.push(suffix);
        let _ = std::fs::remove_file(std::path::PathBuf::from(side));
    }
    // A new file in its place, as an operator restores one: nothing open on the old one
    // sees the new.
    let mut restoring = server.db.as_os_str().to_owned();
    restoring.push(".restoring");
    std::fs::copy(copy, &restoring).expect("copies");
    std::fs::rename(&restoring, &server.db).expect("restores");
    server.restart();
}

/// A new order of demo data (`seed`), put on the server and assigned to `engineer`.
fn assign_new_order(server: &TestServer, engineer: Uuid, seed: u64) -> Uuid {
    let size = DemoSize {
        customers: 1,
        equipment: 1,
        orders: 1,
        checklist_items_per_order: 0,
        part_usages_per_order: 0,
    };
    let extra = generate(seed, size, engineer, chrono::Utc::now());
    let storage = server.storage();
    let order = onsite_tests::put_demo(&storage, &extra, Status::Assigned, chrono::Utc::now())[0];
    storage
        .assign(order, &[engineer], None, chrono::Utc::now())
        .expect("assigns");
    order
}

fn log_entry(order: Uuid, text: &str) -> onsite_domain::records::LogEntry {
    onsite_domain::records::LogEntry {
        id: Uuid::now_v7(),
        work_order_id: order,
        day: chrono::Utc::now().date_naive(),
        text: text.into(),
        progress: None,
        open_problems: None,
        next_plan: None,
        author_id: None,
        voids: None,
    }
}

/// A sync cycle just after the server restarted. Its first request may meet a connection
/// the stopped server left in the client's pool ("error sending request"): transient, and
/// the engine tries again, as here.
async fn sync_after_restart(
    store: &SharedStore,
    client: &Client,
    config: &Config,
) -> Result<onsite_sync_client::CycleReport, SyncError> {
    let mut synced = sync_once(store, client, config, &|_| {}).await;
    for _ in 0..5 {
        match &synced {
            Err(e) if e.is_transient() => {
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                synced = sync_once(store, client, config, &|_| {}).await;
            }
            _ => break,
        }
    }
    synced
}

fn on_server(server: &TestServer, entity: Entity, id: Uuid) -> bool {
    rusqlite::Connection::open(&server.db)
        .expect("opens")
        .query_row(
            "SELECT EXISTS (SELECT 1 FROM records WHERE entity = ?1 AND id = ?2 AND NOT deleted)",
            [entity.as_str(), &id.to_string()],
            |r| r.get(0),
        )
        .expect("reads")
}

#[tokio::test]
async fn a_server_restored_from_an_older_backup_gets_back_what_the_laptop_had_sent() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (mut server, engineer, orders) = seeded(&dir, 2);
    let (store, client, _) = laptop(&dir, &server, "laptop-1").await;
    let config = Config::default();
    sync_once(&store, &client, &config, &|_| {})
        .await
        .expect("first sync");
    let copy = dir.path().join("backup.db");
    backup(&server, &copy);

    // After the backup: the engineer's log entry is acknowledged, and the dispatcher
    // assigns a new order, which the laptop receives.
    let entry = log_entry(orders[0], "更换轴承，试运行正常");
    store
        .lock()
        .expect("lock")
        .append(Entity::LogEntry, &entry, chrono::Utc::now())
        .expect("saved");
    let lost_order = assign_new_order(&server, engineer, 11);
    sync_once(&store, &client, &config, &|_| {})
        .await
        .expect("syncs");
    assert!(on_server(&server, Entity::LogEntry, entry.id));
    assert!(store.lock().expect("lock").work_order(lost_order).is_ok());

    // The server is put back to the backup: the log entry and the new order are gone.
    restore(&mut server, &copy);
    assert!(!on_server(&server, Entity::LogEntry, entry.id));
    // Work done meanwhile on the laptop is not lost either.
    let later = log_entry(orders[1], "客户确认，恢复之后写的");
    store
        .lock()
        .expect("lock")
        .append(Entity::LogEntry, &later, chrono::Utc::now())
        .expect("saved");
    let synced = sync_after_restart(&store, &client, &config).await;
    // The restore ended every session (the backup's tokens cannot be trusted): the app
    // asks the engineer to sign in again, nothing entered lost.
    assert!(
        matches!(synced, Err(SyncError::Unauthorized)),
        "the token of before the restore still works: {synced:?}"
    );
    assert_eq!(
        store.lock().expect("lock").pending_count().expect("counts"),
        1
    );
    let session = Client::login(&server.url(), "wang", PASSWORD, "laptop-1", "ThinkPad")
        .await
        .expect("signs in again");
    let client = Client::new(&session);
    sync_once(&store, &client, &config, &|_| {})
        .await
        .expect("syncs again from the start");
    assert!(
        on_server(&server, Entity::LogEntry, entry.id),
        "the acknowledged entry was sent again"
    );
    assert!(on_server(&server, Entity::LogEntry, later.id));
    {
        let s = store.lock().expect("lock");
        assert_eq!(s.pending_count().expect("counts"), 0);
        assert!(
            s.work_order(lost_order).is_err(),
            "the order the restored server never had is gone from the laptop"
        );
        let detail = s.work_order(orders[0]).expect("still here");
        assert!(detail.log_entries.iter().any(|l| l.id == entry.id));
    }

    // A new order assigned after the restore arrives at the next sync, as usual.
    let new_order = assign_new_order(&server, engineer, 12);
    sync_once(&store, &client, &config, &|_| {})
        .await
        .expect("syncs");
    assert!(store.lock().expect("lock").work_order(new_order).is_ok());
}

#[tokio::test]
async fn a_full_disk_on_the_server_is_a_503_to_wait_out_and_nothing_is_lost() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (server, _, orders) = seeded(&dir, 1);
    let (store, client, session) = laptop(&dir, &server, "laptop-1").await;
    let config = Config::default();
    sync_once(&store, &client, &config, &|_| {})
        .await
        .expect("first sync");
    server.storage().disk_full(true).expect("fills the disk");
    // A day's log, long enough to need new pages on the server.
    let entry = log_entry(
        orders[0],
        &"更换轴承，清洁散热风道，复测电流正常。".repeat(200),
    );
    store
        .lock()
        .expect("lock")
        .append(Entity::LogEntry, &entry, chrono::Utc::now())
        .expect("saved on the laptop");
    let err = sync_once(&store, &client, &config, &|_| {})
        .await
        .expect_err("the server cannot write");
    assert!(err.is_transient(), "waited out, not refused: {err}");
    assert!(
        matches!(err, SyncError::Server { status: 503, .. }),
        "{err}"
    );
    // The laptop heard how long to wait (and its engine waits that long, `retry_wait`).
    assert!(
        err.retry_after()
            .is_some_and(|w| w >= std::time::Duration::from_secs(1)),
        "no Retry-After taken from the answer: {err:?}"
    );
    let raw = reqwest::Client::new()
        .post(format!("{}/v1/sync/push", server.url()))
        .bearer_auth(&session.token)
        .json(&serde_json::json!({"device_id": "laptop-1", "ops": store.lock().expect("lock").pending_batch(10).expect("reads")}))
        .send()
        .await
        .expect("answers");
    assert_eq!(raw.status(), reqwest::StatusCode::SERVICE_UNAVAILABLE);
    assert!(raw.headers().contains_key(reqwest::header::RETRY_AFTER));
    assert_eq!(
        store.lock().expect("lock").pending_count().expect("counts"),
        1
    );
    assert!(!on_server(&server, Entity::LogEntry, entry.id));

    server.storage().disk_full(false).expect("room again");
    sync_once(&store, &client, &config, &|_| {})
        .await
        .expect("syncs once there is room");
    assert_eq!(
        store.lock().expect("lock").pending_count().expect("counts"),
        0
    );
    assert!(on_server(&server, Entity::LogEntry, entry.id));
}

/// A photo taken with the laptop's disk full (a real one: a small tmpfs filled up) is
/// refused with the disk-full error the engineer is told how to deal with, leaves no piece
/// behind, and is kept once there is room again.
#[test]
fn a_photo_on_a_full_laptop_disk_is_the_disk_full_error_and_is_kept_once_there_is_room() {
    let dir = tempfile::tempdir().expect("temp dir");
    if !onsite_tests::disk::can_mount() {
        // Mounting needs root, which CI and `cargo xtask test` have.
        eprintln!("not run: no permission to mount a small disk here");
        return;
    }
    let disk = onsite_tests::disk::SmallDisk::mount(&dir.path().join("disk"), 8).expect("mounts");
    let store = Store::open(
        disk.path.join("onsite.db"),
        &OpenOptions {
            device_id: "laptop-1".into(),
            key: Some(onsite_tests::laptop_key("laptop-1")),
        },
    )
    .expect("opens");
    let photo: Vec<u8> = (0..300_000u32).map(|i| (i % 241) as u8).collect();
    disk.fill().expect("fills the disk");
    let err = store.put_blob(&photo).expect_err("no room for the photo");
    assert!(matches!(err, onsite_store::StoreError::DiskFull), "{err:?}");
    assert!(err.to_string().contains("free some space"), "{err}");
    let pieces: Vec<_> = std::fs::read_dir(disk.path.join("onsite-blobs"))
        .map(|d| d.filter_map(Result::ok).map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(pieces.is_empty(), "left behind: {pieces:?}");
    disk.free().expect("room again");
    let sha = store.put_blob(&photo).expect("kept");
    assert_eq!(store.blob(&sha).expect("reads"), Some(photo));
}

/// A laptop syncing from the start (no cursor yet: a resync under way, or a first sync)
/// sends work, the server acknowledges it, and then the server is restored from a backup
/// older than that work. The laptop's pull from the start names no epoch to compare: the
/// acknowledged work must not be lost all the same.
#[tokio::test]
async fn work_acknowledged_while_the_laptop_had_no_cursor_survives_a_restore() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (mut server, _engineer, orders) = seeded(&dir, 2);
    let (store, client, _) = laptop(&dir, &server, "laptop-1").await;
    let config = Config::default();
    sync_once(&store, &client, &config, &|_| {})
        .await
        .expect("first sync");
    let copy = dir.path().join("backup.db");
    backup(&server, &copy);

    // A sync from the start is under way (no cursor) when the engineer's entry goes up.
    store
        .lock()
        .expect("lock")
        .begin_resync()
        .expect("starts over");
    let entry = log_entry(orders[0], "更换接触器，恢复运行");
    store
        .lock()
        .expect("lock")
        .append(Entity::LogEntry, &entry, chrono::Utc::now())
        .expect("saved");
    let batch = store
        .lock()
        .expect("lock")
        .pending_batch(100)
        .expect("reads");
    // As the engine's push does (`push_outbox`), then the pull of the cycle is cut.
    let answer = client.push(batch).await.expect("pushed");
    {
        let mut s = store.lock().expect("lock");
        s.record_push_results(&answer.results, answer.server_time, chrono::Utc::now())
            .expect("recorded");
        s.note_acked_epoch(
            answer
                .epoch
                .as_deref()
                .expect("the answer names its history"),
        )
        .expect("noted");
    }
    assert!(on_server(&server, Entity::LogEntry, entry.id));

    restore(&mut server, &copy);
    assert!(!on_server(&server, Entity::LogEntry, entry.id));
    let session = Client::login(&server.url(), "wang", PASSWORD, "laptop-1", "ThinkPad")
        .await
        .expect("signs in again");
    let client = Client::new(&session);
    // One cycle: its first pull, from another history than the journal's, sends it again.
    sync_after_restart(&store, &client, &config)
        .await
        .expect("syncs");
    assert!(
        on_server(&server, Entity::LogEntry, entry.id),
        "the entry the server had acknowledged is lost"
    );
}
