//! Property-based fuzzing (proptest, stable Rust) of what the server decodes from a push:
//! whatever the bytes or operations, it answers without a server fault, and a push in
//! which nothing was applied changes nothing.

use std::sync::OnceLock;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use proptest::prelude::*;
use serde_json::{Value, json};
use tower::ServiceExt;
use uuid::Uuid;

mod support;
use support::*;

struct Fixture {
    runtime: tokio::runtime::Runtime,
    server: Server,
    token: String,
    order: Uuid,
}

/// One server for every case: an engineer with an order of his own.
fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let server = Server::new();
        let (token, order) = runtime.block_on(async {
            let dispatch = server.login("dispatch", "desk").await;
            let order = server.order(&dispatch, Some("wang")).await;
            (server.login("wang", "fuzz").await, order)
        });
        Fixture {
            runtime,
            server,
            token,
            order,
        }
    })
}

fn change_counter(f: &Fixture) -> i64 {
    rusqlite::Connection::open(f.server.dir.path().join("server.db"))
        .expect("opens")
        .query_row("SELECT value FROM change_counter", [], |r| r.get(0))
        .expect("reads")
}

/// Pushes `body`; the status and the answer.
fn push(f: &Fixture, body: Vec<u8>) -> (StatusCode, Value) {
    f.runtime.block_on(async {
        let req = Request::builder()
            .method("POST")
            .uri("/v1/sync/push")
            .header(header::AUTHORIZATION, format!("Bearer {}", f.token))
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body))
            .expect("request");
        let res = f.server.router.clone().oneshot(req).await.expect("answers");
        let status = res.status();
        let bytes = res.into_body().collect().await.expect("body").to_bytes();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    })
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        "[ -~\\u{4e00}-\\u{4e20}]{0,20}".prop_map(Value::from),
        Just(json!("2026-12-04T10:00:00Z")),
        Just(json!(Uuid::nil())),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            proptest::collection::btree_map("[a-z_]{1,12}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn op(order: Uuid) -> impl Strategy<Value = Value> {
    let entity = prop_oneof![
        Just("work_order"),
        Just("customer"),
        Just("log_entry"),
        Just("attachment"),
        Just("checklist_item"),
        Just("part_usage"),
        Just("fault_levels"),
        Just("nothing"),
    ];
    let kind = prop_oneof![
        Just("upsert"),
        Just("append"),
        Just("transition"),
        Just("delete"),
        Just("explode"),
    ];
    let field = prop_oneof![
        Just("diagnosis".to_owned()),
        Just("paid".to_owned()),
        Just("status".to_owned()),
        Just("work_order_id".to_owned()),
        Just("text".to_owned()),
        Just("sha256".to_owned()),
        "[a-z_]{1,10}",
    ];
    let hlc = prop_oneof![
        Just(stamp("fuzz")),
        Just("999999999999999-99999-x".to_owned()),
        "[0-9-]{0,30}",
    ];
    (
        entity,
        kind,
        proptest::collection::btree_map(field, json_value(), 0..5),
        hlc,
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(move |(entity, kind, fields, hlc, own, with_order)| {
            let id = if own { order } else { Uuid::now_v7() };
            let mut fields: serde_json::Map<String, Value> = fields.into_iter().collect();
            if with_order {
                fields.insert("work_order_id".into(), json!(order));
            }
            json!({"op_id": Uuid::now_v7(), "hlc": hlc, "entity": entity, "id": id, "kind": kind,
                   "fields": fields, "transition": {"from": "assigned", "to": "completed"}})
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn any_bytes_pushed_get_a_clear_answer_and_change_nothing_when_refused(
        body in proptest::collection::vec(any::<u8>(), 0..512),
    ) {
        let f = fixture();
        let before = change_counter(f);
        let (status, answer) = push(f, body);
        prop_assert!(!status.is_server_error(), "{status} {answer}");
        if status != StatusCode::OK {
            prop_assert!(answer["error"]["code"].is_string(), "{answer}");
            prop_assert_eq!(change_counter(f), before);
        }
    }

    #[test]
    fn any_operations_pushed_are_answered_one_by_one_and_refused_ones_change_nothing(
        ops in proptest::collection::vec(op(fixture().order), 1..6),
    ) {
        let f = fixture();
        let before = change_counter(f);
        let n = ops.len();
        let body = json!({"device_id": "fuzz", "ops": ops}).to_string().into_bytes();
        let (status, answer) = push(f, body);
        prop_assert!(!status.is_server_error(), "{status} {answer}");
        if status == StatusCode::OK {
            let results = answer["results"].as_array().cloned().unwrap_or_default();
            prop_assert_eq!(results.len(), n);
            if results.iter().all(|r| r["status"] != "applied") {
                prop_assert_eq!(change_counter(f), before, "{}", answer);
            }
        } else {
            prop_assert_eq!(change_counter(f), before);
        }
    }
}
