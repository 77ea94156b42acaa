//! What an engineer with a valid token, an anonymous caller or a bad day must not be able
//! to do to the server: one story per hole the review of issue 14 reproduced (P1, P3…),
//! each failing on the code before it was closed.

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;
use uuid::Uuid;

mod support;
use support::*;

fn op(entity: &str, id: impl ToString, kind: &str, fields: Value) -> Value {
    json!({"op_id": Uuid::now_v7(), "hlc": stamp("dev-1"), "entity": entity, "id": id.to_string(), "kind": kind, "fields": fields})
}

fn upsert_order(order: Uuid, fields: Value) -> Value {
    op("work_order", order, "upsert", fields)
}

/// The status and reason of each result of a push.
fn verdicts(answer: &Value) -> Vec<(String, String)> {
    answer["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| {
            (
                r["status"].as_str().unwrap_or_default().to_owned(),
                r["reason"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

/// The dispatcher's view of one order.
async fn order_as_dispatcher(s: &Server, dispatcher: &str, order: Uuid) -> Option<Value> {
    let (status, body) = s
        .call("GET", "/v1/admin/work-orders", Some(dispatcher), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["work_orders"]
        .as_array()
        .expect("orders")
        .iter()
        .find(|o| o["id"] == json!(order.to_string()))
        .cloned()
}

/// Walks an order from assigned to `to` as its engineer.
async fn walk(s: &Server, token: &str, order: Uuid, path: &[&str]) {
    let ops: Vec<Value> = path
        .windows(2)
        .map(|w| transition(order, w[0], w[1]))
        .collect();
    let answer = s.push(token, "w1", ops).await;
    for (status, reason) in verdicts(&answer) {
        assert_eq!(status, "applied", "{reason}");
    }
}

const TO_DIAGNOSING: &[&str] = &["assigned", "accepted", "en_route", "on_site", "diagnosing"];

async fn put_blob(s: &Server, token: &str, bytes: &[u8]) -> String {
    let sha = onsite_domain::signature::sha256_hex(bytes);
    let req = Request::builder()
        .method("PUT")
        .uri(format!("/v1/blobs/{sha}"))
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::from(bytes.to_vec()))
        .expect("request");
    let res = s.router.clone().oneshot(req).await.expect("answers");
    assert!(res.status().is_success(), "{}", res.status());
    sha
}

fn attachment(order: Uuid, sha: &str) -> Value {
    let id = Uuid::now_v7();
    op(
        "attachment",
        id,
        "append",
        json!({"id": id, "work_order_id": order, "sha256": sha, "mime": "image/jpeg"}),
    )
}

#[tokio::test]
async fn p1_an_engineer_cannot_open_another_engineers_photo_by_naming_its_hash() {
    let s = Server::new();
    let dispatch = s.login("dispatch", "desk").await;
    let (wang, li) = (s.login("wang", "w1").await, s.login("li", "l1").await);
    let wangs = s.order(&dispatch, Some("wang")).await;
    let lis = s.order(&dispatch, Some("li")).await;
    let signature = put_blob(&s, &li, b"li's customer signed here").await;
    let answer = s.push(&li, "l1", vec![attachment(lis, &signature)]).await;
    assert_eq!(verdicts(&answer)[0].0, "applied");

    let answer = s
        .push(&wang, "w1", vec![attachment(wangs, &signature)])
        .await;
    let (status, reason) = &verdicts(&answer)[0];
    assert_eq!(status, "rejected", "{reason}");
    assert!(reason.contains(&signature), "{reason}");
    let (status, _) = s
        .call("GET", &format!("/v1/blobs/{signature}"), Some(&wang), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // His own photo, and a photo whose bytes are not on the server yet, are his to name.
    let mine = put_blob(&s, &wang, b"wang's photo of the motor").await;
    let later = onsite_domain::signature::sha256_hex(b"sent after its record");
    let answer = s
        .push(
            &wang,
            "w1",
            vec![attachment(wangs, &mine), attachment(wangs, &later)],
        )
        .await;
    assert_eq!(
        verdicts(&answer)
            .into_iter()
            .map(|v| v.0)
            .collect::<Vec<_>>(),
        ["applied", "applied"]
    );
    // Sending the bytes proves he has them: then he may name them.
    let again = put_blob(&s, &wang, b"li's customer signed here").await;
    let answer = s.push(&wang, "w1", vec![attachment(wangs, &again)]).await;
    assert_eq!(verdicts(&answer)[0].0, "applied");
}

#[tokio::test]
async fn p3_an_engineer_cannot_repoint_his_order_at_another_engineers_customer() {
    let s = Server::new();
    let dispatch = s.login("dispatch", "desk").await;
    let wang = s.login("wang", "w1").await;
    let wangs = s.order(&dispatch, Some("wang")).await;
    let lis = s.order(&dispatch, Some("li")).await;
    let their_customer = order_as_dispatcher(&s, &dispatch, lis)
        .await
        .expect("order")["customer_id"]
        .clone();
    let (_, cursor) = s.pull_all(&wang, "0").await;
    let answer = s
        .push(
            &wang,
            "w1",
            vec![upsert_order(wangs, json!({"customer_id": their_customer}))],
        )
        .await;
    let (status, reason) = &verdicts(&answer)[0];
    assert_eq!(status, "rejected");
    assert!(reason.contains("customer_id"), "{reason}");
    let (changes, _) = s.pull_all(&wang, &cursor).await;
    assert!(
        changes.iter().all(|c| c["id"] != their_customer),
        "the other customer never reaches him"
    );
    let edit = op(
        "customer",
        their_customer.as_str().expect("id"),
        "upsert",
        json!({"phone": "13900000000"}),
    );
    let answer = s.push(&wang, "w1", vec![edit]).await;
    assert_ne!(verdicts(&answer)[0].0, "applied");
}

#[tokio::test]
async fn p4_the_quote_gate_cannot_be_skipped_by_unsetting_paid_for_a_moment() {
    let s = Server::new();
    let dispatch = s.login("dispatch", "desk").await;
    let wang = s.login("wang", "w1").await;
    let order = s.order(&dispatch, Some("wang")).await;
    walk(&s, &wang, order, TO_DIAGNOSING).await;
    let answer = s
        .push(
            &wang,
            "w1",
            vec![
                upsert_order(order, json!({"paid": false})),
                transition(order, "diagnosing", "in_repair"),
                upsert_order(order, json!({"paid": true})),
            ],
        )
        .await;
    let got: Vec<String> = verdicts(&answer).into_iter().map(|v| v.0).collect();
    assert_eq!(got, ["rejected", "rejected", "rejected"]);
    let now = order_as_dispatcher(&s, &dispatch, order)
        .await
        .expect("order");
    assert_eq!(now["status"], "diagnosing");
    assert_eq!(now["paid"], true);
}

#[tokio::test]
async fn p5_an_engineer_cannot_renumber_move_the_sla_clock_or_forge_assignees() {
    let s = Server::new();
    let dispatch = s.login("dispatch", "desk").await;
    let wang = s.login("wang", "w1").await;
    let order = s.order(&dispatch, Some("wang")).await;
    let before = order_as_dispatcher(&s, &dispatch, order)
        .await
        .expect("order");
    let forged = json!([{"engineer_id": Uuid::now_v7(), "name": "假工程师", "manager": false}]);
    for fields in [
        json!({"number": "SC2612-99"}),
        json!({"department": "YF"}),
        json!({"reported_at": "2030-01-01T00:00:00Z"}),
        json!({"assignees": forged}),
        json!({"fault_level": 4}),
    ] {
        let answer = s
            .push(&wang, "w1", vec![upsert_order(order, fields.clone())])
            .await;
        let (status, reason) = &verdicts(&answer)[0];
        assert_eq!(status, "rejected", "{fields}");
        assert!(reason.starts_with("not allowed"), "{reason}");
    }
    let after = order_as_dispatcher(&s, &dispatch, order)
        .await
        .expect("order");
    assert_eq!(before, after, "nothing of the dispatcher's changed");
    // His own fields are his.
    let answer = s
        .push(
            &wang,
            "w1",
            vec![upsert_order(
                order,
                json!({"fault_description": "电机异响，轴承处发热"}),
            )],
        )
        .await;
    assert_eq!(verdicts(&answer)[0].0, "applied");
}

#[tokio::test]
async fn p6_an_engineer_cannot_delete_his_order_or_its_customer() {
    let s = Server::new();
    let dispatch = s.login("dispatch", "desk").await;
    let wang = s.login("wang", "w1").await;
    let order = s.order(&dispatch, Some("wang")).await;
    let customer = order_as_dispatcher(&s, &dispatch, order)
        .await
        .expect("order")["customer_id"]
        .as_str()
        .expect("customer")
        .to_owned();
    let delete = |entity: &str, id: &str| json!({"op_id": Uuid::now_v7(), "hlc": stamp("dev-1"), "entity": entity, "id": id, "kind": "delete"});
    let answer = s
        .push(
            &wang,
            "w1",
            vec![
                delete("work_order", &order.to_string()),
                delete("customer", &customer),
            ],
        )
        .await;
    let got: Vec<String> = verdicts(&answer).into_iter().map(|v| v.0).collect();
    assert_eq!(got, ["rejected", "rejected"]);
    assert!(order_as_dispatcher(&s, &dispatch, order).await.is_some());
    let (status, body) = s
        .json(
            "POST",
            &format!("/v1/admin/work-orders/{order}/assign"),
            Some(&dispatch),
            json!({"engineer_ids": [s.user_id("li")]}),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
}

#[tokio::test]
async fn p7_an_engineer_leases_only_his_departments_numbers_a_few_at_a_time() {
    let s = Server::new();
    let wang = s.login("wang", "w1").await;
    let lease = |department: &str, count: u32| {
        s.json(
            "POST",
            "/v1/numbers/lease",
            Some(&wang),
            json!({"department": department, "count": count}),
        )
    };
    let (status, body) = lease("YF", 5).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, body) = lease("SC", 99).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, body) = lease("SC", 20).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["numbers"].as_array().map(Vec::len), Some(20));
    // The dispatcher can still number a new order of YF.
    let dispatch = s.login("dispatch", "desk").await;
    let (status, body) = s
        .json(
            "POST",
            "/v1/numbers/lease",
            Some(&dispatch),
            json!({"department": "YF", "count": 1}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

/// A sign-in from `address`.
async fn login_from(s: &Server, address: [u8; 4], username: &str, password: &str) -> StatusCode {
    sign_in(s.router.clone(), address, username, password).await
}

async fn sign_in(
    router: axum::Router,
    address: [u8; 4],
    username: &str,
    password: &str,
) -> StatusCode {
    let body =
        json!({"username": username, "password": password, "device": {"id": "d", "name": "x"}});
    let mut req = Request::builder()
        .method("POST")
        .uri("/v1/auth/login")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .expect("request");
    req.extensions_mut()
        .insert(ConnectInfo(SocketAddr::from((address, 40000))));
    let res = router.oneshot(req).await.expect("answers");
    let status = res.status();
    if status == StatusCode::TOO_MANY_REQUESTS {
        assert!(res.headers().contains_key(header::RETRY_AFTER));
    }
    let _ = res.into_body().collect().await;
    status
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn p8_parallel_guesses_are_slowed_down_and_the_real_user_still_signs_in() {
    let s = Server::new();
    let attacker = [203, 0, 113, 9];
    let mut guesses = tokio::task::JoinSet::new();
    for i in 0..40 {
        let router = s.router.clone();
        guesses.spawn(async move {
            sign_in(router, attacker, "wang", &format!("guess number {i}")).await
        });
    }
    let statuses: Vec<StatusCode> = guesses.join_all().await;
    let tried = statuses
        .iter()
        .filter(|s| **s == StatusCode::UNAUTHORIZED)
        .count();
    let held = statuses
        .iter()
        .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert_eq!(tried + held, 40, "{statuses:?}");
    assert!(tried <= 6, "{tried} of 40 parallel guesses were checked");
    // The attacker's right guess now waits too; the real user, elsewhere, is let in.
    assert_eq!(
        login_from(&s, attacker, "wang", PASSWORD).await,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        login_from(&s, [198, 51, 100, 7], "wang", PASSWORD).await,
        StatusCode::OK
    );
}

#[tokio::test]
async fn p9_absurd_sign_in_names_are_refused_without_being_hashed_or_kept() {
    let s = Server::new();
    let huge = "x".repeat(1 << 20);
    let (status, body) = s
        .json(
            "POST",
            "/v1/auth/login",
            None,
            json!({"username": huge, "password": "x", "device": {"id": "d", "name": "x"}}),
        )
        .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    let started = std::time::Instant::now();
    let long = "y".repeat(1000);
    assert_eq!(
        login_from(&s, [192, 0, 2, 1], &long, "whatever").await,
        StatusCode::UNAUTHORIZED
    );
    assert!(
        started.elapsed() < std::time::Duration::from_millis(500),
        "no Argon2 for a name no account can have"
    );
    let conn = rusqlite::Connection::open(s.dir.path().join("server.db")).expect("opens");
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
        .expect("prepares")
        .query_map([], |r| r.get(0))
        .expect("reads")
        .collect::<Result<_, _>>()
        .expect("names");
    assert!(!tables.iter().any(|t| t == "login_failures"), "{tables:?}");
}

#[tokio::test]
async fn p10_a_database_held_by_another_process_answers_503_with_retry_after() {
    let s = Server::new();
    let dispatch = s.login("dispatch", "desk").await;
    let wang = s.login("wang", "w1").await;
    let order = s.order(&dispatch, Some("wang")).await;
    let other = rusqlite::Connection::open(s.dir.path().join("server.db")).expect("opens");
    other
        .execute_batch("BEGIN IMMEDIATE")
        .expect("takes the write lock");
    let body = json!({"device_id": "w1", "ops": [upsert_order(order, json!({"diagnosis": "x"}))]});
    let req = Request::builder()
        .method("POST")
        .uri("/v1/sync/push")
        .header(header::AUTHORIZATION, format!("Bearer {wang}"))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .expect("request");
    let res = s.router.clone().oneshot(req).await.expect("answers");
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(res.headers().contains_key(header::RETRY_AFTER));
    other.execute_batch("ROLLBACK").expect("lets go");
    let answer = s
        .push(
            &wang,
            "w1",
            vec![upsert_order(order, json!({"diagnosis": "x"}))],
        )
        .await;
    assert_eq!(verdicts(&answer)[0].0, "applied");
}

#[tokio::test]
async fn p13_one_laptop_years_ahead_does_not_stop_the_others() {
    let s = Server::new();
    let dispatch = s.login("dispatch", "desk").await;
    let (wang, li) = (s.login("wang", "w1").await, s.login("li", "l1").await);
    let wangs = s.order(&dispatch, Some("wang")).await;
    let lis = s.order(&dispatch, Some("li")).await;
    let now = chrono::Utc::now().timestamp_millis();
    let five_years = 5 * 365 * 24 * 3600 * 1000_i64;
    let mut ahead = upsert_order(wangs, json!({"fault_description": "时钟错误的笔记本"}));
    ahead["hlc"] = json!(format!("{:015}-00000-broken", now + five_years));
    let answer = s.push(&wang, "w1", vec![ahead]).await;
    assert_eq!(
        verdicts(&answer)[0].0,
        "applied",
        "kept, with the server's stamp"
    );
    // The dispatcher's next write and another engineer's edits carry today's clock.
    let (status, _) = s
        .json(
            "POST",
            &format!("/v1/admin/work-orders/{lis}/assign"),
            Some(&dispatch),
            json!({"engineer_ids": [s.user_id("li")]}),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (changes, _) = s.pull_all(&li, "0").await;
    let limit = format!("{:015}", now + 10 * 60 * 1000);
    for c in &changes {
        for (field, clock) in c["row"]["_clocks"].as_object().into_iter().flatten() {
            let clock = clock.as_str().expect("clock");
            assert!(
                clock < limit.as_str(),
                "{field} of {}: {clock}",
                c["entity"]
            );
        }
    }
    let answer = s
        .push(
            &li,
            "l1",
            vec![upsert_order(lis, json!({"fault_description": "正常时钟"}))],
        )
        .await;
    assert_eq!(verdicts(&answer)[0].0, "applied");
    let (changes, _) = s.pull_all(&wang, "0").await;
    let order = changes
        .iter()
        .find(|c| c["id"] == json!(wangs.to_string()))
        .expect("his order");
    let clock = order["row"]["_clocks"]["fault_description"]
        .as_str()
        .expect("clock");
    assert!(
        clock < limit.as_str(),
        "stored with the server's stamp: {clock}"
    );
}

#[tokio::test]
async fn p14_an_edit_that_loses_to_a_newer_one_is_answered_as_such() {
    let s = Server::new();
    let dispatch = s.login("dispatch", "desk").await;
    let (laptop_a, laptop_b) = (s.login("wang", "a").await, s.login("wang", "b").await);
    let order = s.order(&dispatch, Some("wang")).await;
    let now = chrono::Utc::now().timestamp_millis();
    let mut newer = upsert_order(order, json!({"diagnosis": "第二台笔记本：轴承磨损"}));
    newer["hlc"] = json!(format!("{:015}-00000-laptop-b", now));
    let mut older = upsert_order(order, json!({"diagnosis": "第一台笔记本：线圈烧毁"}));
    older["hlc"] = json!(format!("{:015}-00000-laptop-a", now - 60_000));
    assert_eq!(
        verdicts(&s.push(&laptop_b, "b", vec![newer]).await)[0].0,
        "applied"
    );
    let (status, reason) = verdicts(&s.push(&laptop_a, "a", vec![older]).await)[0].clone();
    assert_eq!(status, "conflict");
    assert!(
        reason.contains("superseded") && reason.contains("diagnosis"),
        "{reason}"
    );
    let now = order_as_dispatcher(&s, &dispatch, order)
        .await
        .expect("order");
    assert_eq!(now["diagnosis"], "第二台笔记本：轴承磨损");
}

#[tokio::test]
async fn p15_another_users_op_id_does_not_answer_for_mine() {
    let s = Server::new();
    let dispatch = s.login("dispatch", "desk").await;
    let (wang, li) = (s.login("wang", "w1").await, s.login("li", "l1").await);
    let wangs = s.order(&dispatch, Some("wang")).await;
    let lis = s.order(&dispatch, Some("li")).await;
    let shared = Uuid::now_v7();
    let log = |order: Uuid, text: &str| {
        let id = Uuid::now_v7();
        let mut o = op(
            "log_entry",
            id,
            "append",
            json!({"id": id, "work_order_id": order, "day": "2026-12-04", "text": text}),
        );
        o["op_id"] = json!(shared);
        (id, o)
    };
    let (_, mine) = log(wangs, "王工的日志");
    let (lis_entry, his) = log(lis, "李工的日志");
    assert_eq!(
        verdicts(&s.push(&wang, "w1", vec![mine]).await)[0].0,
        "applied"
    );
    assert_eq!(
        verdicts(&s.push(&li, "l1", vec![his.clone()]).await)[0].0,
        "applied"
    );
    let (changes, _) = s.pull_all(&li, "0").await;
    assert!(
        changes
            .iter()
            .any(|c| c["id"] == json!(lis_entry.to_string())),
        "his record is stored"
    );
    // His own replay is still a replay.
    assert_eq!(
        verdicts(&s.push(&li, "l1", vec![his]).await)[0].0,
        "applied"
    );
    let (again, _) = s.pull_all(&li, "0").await;
    assert_eq!(again.len(), changes.len());
}

#[tokio::test]
async fn p16_p19_assigning_twice_and_creating_over_an_order_are_refused() {
    let s = Server::new();
    let dispatch = s.login("dispatch", "desk").await;
    let order = s.order(&dispatch, None).await;
    let wang = s.user_id("wang");
    let (status, body) = s
        .json(
            "POST",
            &format!("/v1/admin/work-orders/{order}/assign"),
            Some(&dispatch),
            json!({"engineer_ids": [wang, wang]}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let mut existing = order_as_dispatcher(&s, &dispatch, order)
        .await
        .expect("order");
    existing["fault_description"] = json!("覆盖");
    let (status, body) = s
        .json(
            "POST",
            "/v1/admin/work-orders",
            Some(&dispatch),
            existing.clone(),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    existing["id"] = json!(Uuid::now_v7());
    existing["status"] = json!("completed");
    let (status, body) = s
        .json("POST", "/v1/admin/work-orders", Some(&dispatch), existing)
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let now = order_as_dispatcher(&s, &dispatch, order)
        .await
        .expect("order");
    assert_eq!(now["fault_description"], "电机异响，振动大");
}

#[tokio::test]
async fn p17_names_that_pass_for_another_and_weak_passwords_are_refused() {
    let s = Server::new();
    let admin = s.login("admin", "desk").await;
    for (username, password) in [
        ("wa\u{200B}ng", "a long enough password"),
        ("admin\u{202E}", "a long enough password"),
        ("zhao", "        "),
        ("zhao", "12345678"),
    ] {
        let (status, body) = s
            .json(
                "POST",
                "/v1/admin/users",
                Some(&admin),
                json!({"username": username, "password": password, "name": "赵工", "role": "engineer", "department": "SC"}),
            )
            .await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{username:?} {body}"
        );
    }
    let (status, body) = s
        .json(
            "POST",
            "/v1/admin/users",
            Some(&admin),
            json!({"username": "zhao", "password": "a long enough password", "name": "赵工", "role": "engineer", "department": "SC"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

async fn open_snapshot(s: &Server, token: &str) -> axum::response::Response {
    let req = Request::builder()
        .uri("/v1/sync/snapshot")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::empty())
        .expect("request");
    s.router.clone().oneshot(req).await.expect("answers")
}

#[tokio::test]
async fn p11_unread_snapshots_are_limited_per_user_and_freed_when_the_reader_goes() {
    let s = Server::new();
    let dispatch = s.login("dispatch", "desk").await;
    let wang = s.login("wang", "w1").await;
    let order = s.order(&dispatch, Some("wang")).await;
    // More than the pieces a snapshot sends ahead of its reader (about 2 MB).
    let entries: Vec<serde_json::Map<String, Value>> = (0..100)
        .map(|i| {
            let Value::Object(row) = json!({"id": Uuid::now_v7(), "work_order_id": order, "day": "2026-12-04",
                                            "text": format!("{i} {}", "检查接线".repeat(1900))})
            else {
                unreachable!("an object")
            };
            row
        })
        .collect();
    s.storage
        .admin_put_many(onsite_domain::Entity::LogEntry, entries, chrono::Utc::now())
        .expect("log entries");
    let first = open_snapshot(&s, &wang).await;
    assert_eq!(first.status(), StatusCode::OK);
    let second = open_snapshot(&s, &wang).await;
    assert_eq!(second.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(second.headers().contains_key(header::RETRY_AFTER));
    // The first reader goes away: its turn is given back.
    drop(first);
    let mut again = None;
    for _ in 0..50 {
        let r = open_snapshot(&s, &wang).await;
        if r.status() == StatusCode::OK {
            again = Some(r);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let again = again.expect("a new snapshot once the first reader left");
    let text = again.into_body().collect().await.expect("body").to_bytes();
    let text = String::from_utf8_lossy(&text);
    assert!(
        text.starts_with("onsite-snapshot/1") && text.contains("\nend\t"),
        "{text:.200}"
    );
}

#[tokio::test]
async fn p18_an_admin_disables_re_passwords_and_signs_out_a_user_and_it_takes_effect_at_once() {
    let s = Server::new();
    let admin = s.login("admin", "desk").await;
    let dispatch = s.login("dispatch", "desk2").await;
    let wang = s.login("wang", "w1").await;
    let s = &s;
    let pull =
        |token: String| async move { s.call("GET", "/v1/sync/pull", Some(&token), None).await.0 };
    assert_eq!(pull(wang.clone()).await, StatusCode::OK);
    let act = |token: &str, what: &str, body: Option<Value>| {
        let token = token.to_owned();
        let uri = format!("/v1/admin/users/wang/{what}");
        async move {
            match body {
                Some(b) => s.json("POST", &uri, Some(&token), b).await,
                None => s.call("POST", &uri, Some(&token), None).await,
            }
        }
    };
    let (status, _) = act(&dispatch, "disable", None).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "accounts are the admin's");

    let (status, body) = act(&admin, "disable", None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["sessions_ended"], 1);
    assert_eq!(
        pull(wang.clone()).await,
        StatusCode::UNAUTHORIZED,
        "at once"
    );
    let (status, _) = s
        .json(
            "POST",
            "/v1/auth/login",
            None,
            json!({"username": "wang", "password": PASSWORD, "device": {"id": "w1", "name": "x"}}),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = act(&admin, "enable", None).await;
    assert_eq!(status, StatusCode::OK);
    let wang = s.login("wang", "w1").await;

    let (status, body) = act(&admin, "password", Some(json!({"password": "short"}))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(
        pull(wang.clone()).await,
        StatusCode::OK,
        "a refused reset changes nothing"
    );
    let (status, body) = act(
        &admin,
        "password",
        Some(json!({"password": "a new long passphrase"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(pull(wang).await, StatusCode::UNAUTHORIZED);
    let (status, _) = s
        .json(
            "POST",
            "/v1/auth/login",
            None,
            json!({"username": "wang", "password": PASSWORD, "device": {"id": "w1", "name": "x"}}),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "the old password is gone");
    let (status, body) = s.json("POST", "/v1/auth/login", None, json!({"username": "wang", "password": "a new long passphrase", "device": {"id": "w1", "name": "x"}})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let wang = body["token"].as_str().expect("token").to_owned();

    let (status, body) = act(&admin, "sign-out", None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(pull(wang).await, StatusCode::UNAUTHORIZED);
    let (status, _) = s
        .call("POST", "/v1/admin/users/nobody/disable", Some(&admin), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn p12_a_cursor_of_another_history_or_ahead_of_the_server_is_refused_so_the_laptop_resyncs() {
    let s = Server::new();
    let dispatch = s.login("dispatch", "desk").await;
    let wang = s.login("wang", "w1").await;
    s.order(&dispatch, Some("wang")).await;
    let (_, position) = s.pull_all(&wang, "0").await;
    let s = &s;
    let (status, body) = s
        .json(
            "POST",
            "/v1/auth/login",
            None,
            json!({"username": "wang", "password": PASSWORD, "device": {"id": "w2", "name": "x"}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let epoch = body["epoch"]
        .as_str()
        .expect("login names the epoch")
        .to_owned();
    let pull = |query: String| {
        let token = wang.clone();
        async move {
            s.call("GET", &format!("/v1/sync/pull?{query}"), Some(&token), None)
                .await
        }
    };
    let (status, page) = pull(format!("cursor={position}&epoch={epoch}")).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(page["epoch"], json!(epoch), "every pull names it");
    for stale in [
        format!("cursor={position}&epoch=0123456789abcdef"),
        format!("cursor={}", position.parse::<i64>().expect("number") + 1000),
    ] {
        let (status, body) = pull(stale.clone()).await;
        assert_eq!(status, StatusCode::CONFLICT, "{stale}: {body}");
        assert_eq!(body["error"]["code"], "resync_required");
    }
}

/// Found by the harness: only pushes wrote the high-water mark, so a restore made after a
/// dispatcher's reassignment (and no push) kept its epoch, and a laptop whose cursor the
/// log had grown past again never heard of it. Then the soak: a photo uploaded after the
/// backup moves no change-log position at all, and its loss went unnoticed the same way.
/// A copy of the server's database, as an operator's backup takes it.
fn back_up(s: &Server) -> std::path::PathBuf {
    let backup = s.dir.path().join("backup.db");
    rusqlite::Connection::open(s.dir.path().join("server.db"))
        .and_then(|c| c.execute("VACUUM INTO ?1", [backup.to_string_lossy()]))
        .expect("backs up");
    backup
}

/// The server stopped, `backup` put in place of its database, and the server started
/// again on it.
fn put_back(
    dir: tempfile::TempDir,
    storage: std::sync::Arc<dyn onsite_sync_server::storage::Storage>,
    router: axum::Router,
    backup: &std::path::Path,
) -> Server {
    drop(router);
    drop(storage);
    let db = dir.path().join("server.db");
    for side in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{side}", db.display()));
    }
    std::fs::copy(backup, &db).expect("restores");
    let storage: std::sync::Arc<dyn onsite_sync_server::storage::Storage> =
        std::sync::Arc::new(onsite_sync_server::sqlite::SqliteStorage::open(&db).expect("opens"));
    Server {
        dir,
        router: onsite_sync_server::router(storage.clone()),
        storage,
    }
}

#[tokio::test]
async fn p12_a_restore_is_found_whichever_call_wrote_last_before_it() {
    for last_write in ["a reassignment", "a photo"] {
        let s = Server::new();
        let dispatch = s.login("dispatch", "desk").await;
        let order = s.order(&dispatch, Some("wang")).await;
        let li = s.user_id("li");
        let wang = s.user_id("wang");
        let backup = back_up(&s);
        let before = s.storage.epoch();
        let storage = &s.storage;
        let now = chrono::Utc::now();
        match last_write {
            "a reassignment" => storage.assign(order, &[li], None, now).map(|_| ()),
            _ => {
                let bytes = b"nameplate photo".to_vec();
                let sha = onsite_domain::signature::sha256_hex(&bytes);
                storage.put_blob(&sha, &bytes, wang, now).map(|_| ())
            }
        }
        .expect("writes after the backup");
        let restored = put_back(s.dir, s.storage, s.router, &backup);
        assert_ne!(
            restored.storage.epoch(),
            before,
            "restored after {last_write}, the database kept its epoch: laptops would not sync again"
        );
    }
}

/// A backup holds the sessions of its day. Restored, it would bring back a token ended
/// since (a lost laptop's, signed out from the office); a new epoch ends every session,
/// and the engineer signs in again.
#[tokio::test]
async fn p12_a_session_ended_after_the_backup_does_not_come_back_with_the_restore() {
    let s = Server::new();
    let wang = s.login("wang", "w1").await;
    let backup = back_up(&s);
    let (status, _) = s.call("POST", "/v1/auth/logout", Some(&wang), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "signed out");
    let s = put_back(s.dir, s.storage, s.router, &backup);
    let (status, body) = s.call("GET", "/v1/sync/pull", Some(&wang), None).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "the token signed out after the backup works again: {body}"
    );
    let again = s.login("wang", "w1").await;
    let (status, body) = s.call("GET", "/v1/sync/pull", Some(&again), None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}
