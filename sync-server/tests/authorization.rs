//! Who may call what: every route of the router × anonymous, an engineer (on his own order
//! and on another's), a dispatcher and an admin. The routes are read from the router's
//! source, so a route added without a row here fails this test.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use onsite_sync_server::openapi::{CALLS, Method};
use serde_json::{Value, json};
use tower::ServiceExt;
use uuid::Uuid;

mod support;
use support::*;

/// Who a call is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Who {
    /// No token needed.
    Anyone,
    /// Any signed-in user; an engineer only within his scope (a path naming another
    /// engineer's order or photo is not found for him).
    Signed,
    /// Dispatchers and admins.
    Office,
    /// Admins only.
    Admin,
}

/// Every call, and who it is for.
const MATRIX: &[(Method, &str, Who)] = &[
    (Method::Get, "/healthz", Who::Anyone),
    (Method::Get, "/openapi.json", Who::Anyone),
    (Method::Post, "/v1/auth/login", Who::Anyone),
    (Method::Post, "/v1/auth/logout", Who::Signed),
    (Method::Post, "/v1/sync/push", Who::Signed),
    (Method::Get, "/v1/sync/pull", Who::Signed),
    (Method::Get, "/v1/sync/snapshot", Who::Signed),
    (Method::Post, "/v1/numbers/lease", Who::Signed),
    (Method::Get, "/v1/blobs/{sha256}", Who::Signed),
    (Method::Head, "/v1/blobs/{sha256}", Who::Signed),
    (Method::Put, "/v1/blobs/{sha256}", Who::Signed),
    (Method::Get, "/v1/blobs/{sha256}/upload", Who::Signed),
    (Method::Put, "/v1/blobs/{sha256}/upload", Who::Signed),
    (Method::Get, "/v1/work-orders/{id}/receipt.pdf", Who::Signed),
    (Method::Get, "/v1/equipment/{id}/reports", Who::Signed),
    (Method::Post, "/v1/admin/users", Who::Admin),
    (
        Method::Post,
        "/v1/admin/users/{username}/disable",
        Who::Admin,
    ),
    (
        Method::Post,
        "/v1/admin/users/{username}/enable",
        Who::Admin,
    ),
    (
        Method::Post,
        "/v1/admin/users/{username}/sign-out",
        Who::Admin,
    ),
    (
        Method::Post,
        "/v1/admin/users/{username}/password",
        Who::Admin,
    ),
    (Method::Post, "/v1/admin/customers", Who::Office),
    (Method::Post, "/v1/admin/equipment", Who::Office),
    (Method::Post, "/v1/admin/work-orders", Who::Office),
    (Method::Get, "/v1/admin/work-orders", Who::Office),
    (Method::Post, "/v1/admin/checklist-templates", Who::Office),
    (Method::Get, "/v1/admin/checklist-templates", Who::Office),
    (
        Method::Post,
        "/v1/admin/work-orders/{id}/assign",
        Who::Office,
    ),
    (
        Method::Post,
        "/v1/admin/work-orders/{id}/cancel",
        Who::Office,
    ),
    (
        Method::Post,
        "/v1/admin/work-orders/{id}/close",
        Who::Office,
    ),
    (Method::Get, "/v1/admin/quarantine", Who::Office),
    (Method::Get, "/v1/admin/conflicts", Who::Office),
];

/// The paths the router serves, read from its source.
fn routed_paths() -> Vec<String> {
    let source = include_str!("../src/api.rs");
    let router = &source[source.find("pub fn router(").expect("the router")..];
    router
        .split(".route(")
        .skip(1)
        .filter_map(|rest| {
            let start = rest.find('"')? + 1;
            let end = start + rest[start..].find('"')?;
            Some(rest[start..end].to_owned())
        })
        .collect()
}

#[test]
fn every_route_has_a_row_and_every_row_is_a_described_call() {
    let routes = routed_paths();
    assert!(routes.len() >= 20, "{routes:?}");
    for path in &routes {
        assert!(
            MATRIX.iter().any(|(_, p, _)| p == path),
            "{path} is routed but has no row in MATRIX: say who may call it"
        );
    }
    for call in CALLS {
        assert!(
            MATRIX
                .iter()
                .any(|(m, p, _)| *m == call.method && *p == call.path),
            "{} {} has no row in MATRIX",
            call.method.as_str(),
            call.path
        );
    }
    for (method, path, _) in MATRIX {
        assert!(
            CALLS.iter().any(|c| c.method == *method && c.path == *path),
            "{} {path} is in MATRIX but not described in openapi::CALLS",
            method.as_str()
        );
    }
}

async fn call(
    s: &Server,
    method: Method,
    uri: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> StatusCode {
    let mut req = Request::builder().method(method.as_str()).uri(uri);
    if let Some(t) = token {
        req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
    }
    let req = match body {
        Some(b) => req
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(b.to_string())),
        None => req.body(Body::empty()),
    }
    .expect("request");
    let res = s.router.clone().oneshot(req).await.expect("answers");
    let status = res.status();
    let _ = res.into_body().collect().await;
    status
}

/// A body good enough to get past parsing, so that only who calls decides.
fn body_for(method: Method, path: &str) -> Option<Value> {
    if method != Method::Post {
        return None;
    }
    Some(match path {
        "/v1/auth/login" => {
            json!({"username": "zhao", "password": "a long enough password", "device": {"id": "d", "name": "x"}})
        }
        "/v1/sync/push" => json!({"device_id": "matrix", "ops": []}),
        "/v1/numbers/lease" => json!({"department": "SC", "count": 1}),
        "/v1/admin/users/{username}/password" => json!({"password": "a new long passphrase"}),
        "/v1/admin/work-orders/{id}/assign" => json!({"engineer_ids": []}),
        _ => json!({}),
    })
}

#[tokio::test]
async fn each_caller_is_let_in_or_kept_out_of_every_call_as_the_matrix_says() {
    let s = Server::new();
    let admin = s.login("admin", "matrix").await;
    let dispatch = s.login("dispatch", "matrix").await;
    let wang = s.login("wang", "matrix").await;
    let li = s.login("li", "l1").await;
    let own = s.order(&dispatch, Some("wang")).await;
    let others = s.order(&dispatch, Some("li")).await;
    // A photo on each engineer's order.
    let own_photo = put_photo(&s, &wang, "matrix", own, b"wang's photo").await;
    let others_photo = put_photo(&s, &li, "l1", others, b"li's photo").await;
    // Who the user calls act on: not one of the callers, whose tokens must keep working.
    let (status, body) = s
        .json("POST", "/v1/admin/users", Some(&admin), json!({"username": "zhao", "password": "a long enough password", "name": "赵工", "role": "engineer", "department": "SC"}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");

    let s = &s;
    for (method, path, who) in MATRIX {
        let uri = |order: Uuid, sha: &str| {
            path.replace("{id}", &order.to_string())
                .replace("{sha256}", sha)
                .replace("{username}", "zhao")
        };
        let body = body_for(*method, path);
        let signing_out = *path == "/v1/auth/logout";
        // Signing out ends the caller's token: each caller signs out a session of its own.
        let fresh = |name: &'static str| async move {
            if signing_out {
                Some(s.login(name, "bye").await)
            } else {
                None
            }
        };
        let anonymous = call(s, *method, &uri(own, &own_photo), None, body.clone()).await;
        let expect_in = |status: StatusCode| {
            status != StatusCode::UNAUTHORIZED && status != StatusCode::FORBIDDEN
        };
        let label = format!("{} {path}", method.as_str());
        match who {
            Who::Anyone => assert!(expect_in(anonymous), "anonymous, {label}: {anonymous}"),
            _ => assert_eq!(anonymous, StatusCode::UNAUTHORIZED, "anonymous, {label}"),
        }
        let wang_token = fresh("wang").await.unwrap_or_else(|| wang.clone());
        let engineer = call(
            s,
            *method,
            &uri(own, &own_photo),
            Some(&wang_token),
            body.clone(),
        )
        .await;
        match who {
            Who::Anyone | Who::Signed => {
                assert!(expect_in(engineer), "engineer, {label}: {engineer}")
            }
            Who::Office | Who::Admin => {
                assert_eq!(engineer, StatusCode::FORBIDDEN, "engineer, {label}")
            }
        }
        // Another engineer's order or photo is not found for him.
        let scoped = path.contains("{id}") || path.contains("{sha256}");
        let reads = *method == Method::Get || *method == Method::Head;
        if *who == Who::Signed && scoped && reads && !path.ends_with("/upload") {
            let status = call(s, *method, &uri(others, &others_photo), Some(&wang), None).await;
            assert_eq!(
                status,
                StatusCode::NOT_FOUND,
                "engineer on another's, {label}"
            );
        }
        let dispatch_token = fresh("dispatch").await.unwrap_or_else(|| dispatch.clone());
        let office = call(
            s,
            *method,
            &uri(own, &own_photo),
            Some(&dispatch_token),
            body.clone(),
        )
        .await;
        match who {
            Who::Admin => assert_eq!(office, StatusCode::FORBIDDEN, "dispatcher, {label}"),
            _ => assert!(expect_in(office), "dispatcher, {label}: {office}"),
        }
        let admin_token = fresh("admin").await.unwrap_or_else(|| admin.clone());
        let boss = call(
            s,
            *method,
            &uri(others, &others_photo),
            Some(&admin_token),
            body,
        )
        .await;
        assert!(expect_in(boss), "admin, {label}: {boss}");
    }
}

/// Sends a photo's bytes and an attachment naming it on `order`; its SHA-256.
async fn put_photo(
    s: &Server,
    token: &str,
    device: &str,
    order: Uuid,
    bytes: &'static [u8],
) -> String {
    let sha = onsite_domain::signature::sha256_hex(bytes);
    let req = Request::builder()
        .method("PUT")
        .uri(format!("/v1/blobs/{sha}"))
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::from(bytes))
        .expect("request");
    let res = s.router.clone().oneshot(req).await.expect("answers");
    assert!(res.status().is_success(), "{}", res.status());
    let id = Uuid::now_v7();
    let op = json!({"op_id": Uuid::now_v7(), "hlc": stamp("d"), "entity": "attachment", "id": id, "kind": "append",
                    "fields": {"id": id, "work_order_id": order, "sha256": sha}});
    let answer = s.push(token, device, vec![op]).await;
    assert_eq!(answer["results"][0]["status"], "applied", "{answer}");
    sha
}
