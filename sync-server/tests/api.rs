//! The sync server's calls, as the desktop client and a dispatcher use them, through the
//! real router (no socket) over a real SQLite file.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use onsite_sync_server::sqlite::SqliteStorage;
use onsite_sync_server::storage::Storage;
use serde_json::{Value, json};
use tower::ServiceExt;
use uuid::Uuid;

mod support;
use support::*;

#[tokio::test]
async fn health_and_unknown_calls_answer_in_json() {
    let s = Server::new();
    assert_eq!(
        s.call("GET", "/healthz", None, None).await,
        (StatusCode::OK, json!({"status": "ok"}))
    );
    let (status, body) = s.call("GET", "/v1/nothing", None, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"]["code"], "not_found");
}

#[tokio::test]
async fn login_gives_a_token_bad_credentials_are_401_and_repeated_failures_are_throttled() {
    let s = Server::new();
    let (status, body) = s.json("POST", "/v1/auth/login", None, json!({"username": "wang", "password": PASSWORD, "device": {"id": "d1", "name": "ThinkPad"}})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["token"].as_str().map(str::len), Some(64));
    assert_eq!(body["user"]["role"], "engineer");
    assert!(body["server_time"].is_string() && body["expires_at"].is_string());
    for _ in 0..5 {
        let (status, body) = s.json("POST", "/v1/auth/login", None, json!({"username": "wang", "password": "wrong", "device": {"id": "d1", "name": "x"}})).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
        assert_eq!(body["error"]["code"], "bad_credentials");
    }
    let (status, body) = s
        .json(
            "POST",
            "/v1/auth/login",
            None,
            json!({"username": "wang", "password": PASSWORD, "device": {"id": "d1", "name": "x"}}),
        )
        .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    let (status, _) = s
        .json(
            "POST",
            "/v1/auth/login",
            None,
            json!({"username": "nobody", "password": "x", "device": {"id": "d1", "name": "x"}}),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn malformed_requests_get_clear_4xx_and_change_nothing() {
    let s = Server::new();
    let (status, body) = s
        .call("POST", "/v1/auth/login", None, Some("{not json".into()))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty())
    );
    let (status, _) = s
        .json("POST", "/v1/auth/login", None, json!({"username": 7}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let token = s.login("wang", "dev-1").await;
    let (status, _) = s
        .call(
            "POST",
            "/v1/sync/push",
            Some(&token),
            Some("garbage".into()),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = s
        .call("GET", "/v1/sync/pull?cursor=abc", Some(&token), None)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let too_many: Vec<Value> = (0..1001)
        .map(|_| transition(Uuid::now_v7(), "assigned", "accepted"))
        .collect();
    let (status, body) = s
        .json(
            "POST",
            "/v1/sync/push",
            Some(&token),
            json!({"device_id": "dev-1", "ops": too_many}),
        )
        .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    let huge = format!(
        "{{\"device_id\":\"dev-1\",\"ops\":[],\"pad\":\"{}\"}}",
        "x".repeat(9 * 1024 * 1024)
    );
    let (status, _) = s
        .call("POST", "/v1/sync/push", Some(&token), Some(huge))
        .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(
        s.call("GET", "/healthz", None, None).await.0,
        StatusCode::OK,
        "the server stays up"
    );
}

#[tokio::test]
async fn calls_need_a_valid_token_and_admin_calls_a_dispatcher() {
    let s = Server::new();
    assert_eq!(
        s.call("GET", "/v1/sync/pull", None, None).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        s.call("GET", "/v1/sync/pull", Some("not-a-token"), None)
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
    let token = s.login("wang", "dev-1").await;
    let (status, body) = s
        .call("GET", "/v1/admin/work-orders", Some(&token), None)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(
        s.call("POST", "/v1/auth/logout", Some(&token), None)
            .await
            .0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        s.call("GET", "/v1/sync/pull", Some(&token), None).await.0,
        StatusCode::UNAUTHORIZED,
        "the token stops working"
    );
}

#[tokio::test]
async fn an_assigned_order_reaches_its_engineer_only() {
    let s = Server::new();
    let dispatch = s.login("dispatch", "console").await;
    let wang = s.login("wang", "dev-1").await;
    let li = s.login("li", "dev-2").await;
    let (_, cursor) = s.pull_all(&wang, "").await;
    let order = s.order(&dispatch, Some("wang")).await;
    let (changes, _) = s.pull_all(&wang, &cursor).await;
    let order_row = changes
        .iter()
        .find(|c| c["entity"] == "work_order" && c["id"] == json!(order))
        .expect("the order reaches its engineer");
    assert_eq!(order_row["row"]["status"], "assigned");
    assert!(order_row["row"]["_clocks"].is_object());
    assert!(
        changes.iter().any(|c| c["entity"] == "customer"),
        "with its customer"
    );
    let (li_changes, _) = s.pull_all(&li, "").await;
    assert!(
        li_changes.iter().all(|c| c["id"] != json!(order)),
        "another engineer never sees it"
    );
}

#[tokio::test]
async fn a_pull_with_nothing_new_moves_the_cursor_past_other_engineers_changes() {
    let s = Server::new();
    let dispatch = s.login("dispatch", "console").await;
    let wang = s.login("wang", "dev-1").await;
    let (_, before) = s.pull_all(&wang, "").await;
    // Work for li only: nothing of it is wang's.
    let li_order = s.order(&dispatch, Some("li")).await;
    let (changes, after) = s.pull_all(&wang, &before).await;
    assert!(changes.is_empty(), "{changes:?}");
    let (before, after): (i64, i64) = (
        before.parse().expect("a number"),
        after.parse().expect("a number"),
    );
    assert!(
        after > before,
        "the cursor moves past li's order ({before} -> {after}), so the next pull does not read it again"
    );
    // And misses nothing of wang's that comes later.
    let order = s.order(&dispatch, Some("wang")).await;
    let (changes, _) = s.pull_all(&wang, &after.to_string()).await;
    assert!(
        changes
            .iter()
            .any(|c| c["entity"] == "work_order" && c["id"] == json!(order))
    );
    assert!(changes.iter().all(|c| c["id"] != json!(li_order)));
}

#[tokio::test]
async fn a_push_is_applied_once_and_a_replay_returns_the_first_answer() {
    let s = Server::new();
    let dispatch = s.login("dispatch", "console").await;
    let wang = s.login("wang", "dev-1").await;
    let order = s.order(&dispatch, Some("wang")).await;
    let op = transition(order, "assigned", "accepted");
    let push = json!({"device_id": "dev-1", "ops": [op]});
    let (status, first) = s
        .json("POST", "/v1/sync/push", Some(&wang), push.clone())
        .await;
    assert_eq!(status, StatusCode::OK, "{first}");
    assert_eq!(first["results"][0]["status"], "applied");
    let (_, replay) = s.json("POST", "/v1/sync/push", Some(&wang), push).await;
    assert_eq!(
        replay["results"], first["results"],
        "a replay gets the first answer"
    );
    let (_, list) = s
        .call(
            "GET",
            "/v1/admin/work-orders?status=accepted",
            Some(&dispatch),
            None,
        )
        .await;
    assert_eq!(list["work_orders"].as_array().map(Vec::len), Some(1));
    // The same move again under a new op_id no longer applies: the order moved on.
    let again = s
        .push(
            &wang,
            "dev-1",
            vec![transition(order, "assigned", "accepted")],
        )
        .await;
    assert_eq!(again["results"][0]["status"], "conflict");
}

#[tokio::test]
async fn another_engineers_order_is_quarantined_not_applied() {
    let s = Server::new();
    let dispatch = s.login("dispatch", "console").await;
    let li = s.login("li", "dev-2").await;
    let order = s.order(&dispatch, Some("wang")).await;
    let log = json!({"op_id": Uuid::now_v7(), "hlc": stamp("dev-2"), "entity": "log_entry", "id": Uuid::now_v7(), "kind": "append",
                     "fields": {"work_order_id": order, "day": "2026-11-22", "text": "不是我的单"}});
    let body = s
        .push(
            &li,
            "dev-2",
            vec![log, transition(order, "assigned", "accepted")],
        )
        .await;
    assert_eq!(body["results"][0]["status"], "quarantined", "{body}");
    assert_eq!(body["results"][1]["status"], "quarantined");
    let (_, kept) = s
        .call("GET", "/v1/admin/quarantine", Some(&dispatch), None)
        .await;
    assert_eq!(
        kept["operations"].as_array().map(Vec::len),
        Some(2),
        "kept for the dispatcher"
    );
    let (_, list) = s
        .call(
            "GET",
            "/v1/admin/work-orders?status=assigned",
            Some(&dispatch),
            None,
        )
        .await;
    assert_eq!(
        list["work_orders"].as_array().map(Vec::len),
        Some(1),
        "nothing changed"
    );
}

#[tokio::test]
async fn dispatcher_cancel_beats_offline_completion_as_a_visible_conflict() {
    let s = Server::new();
    let dispatch = s.login("dispatch", "console").await;
    let wang = s.login("wang", "dev-1").await;
    let order = s.order(&dispatch, Some("wang")).await;
    assert_eq!(
        s.call(
            "POST",
            &format!("/v1/admin/work-orders/{order}/cancel"),
            Some(&dispatch),
            None
        )
        .await
        .0,
        StatusCode::NO_CONTENT
    );
    let body = s
        .push(
            &wang,
            "dev-1",
            vec![transition(order, "assigned", "accepted")],
        )
        .await;
    assert_eq!(body["results"][0]["status"], "conflict");
    assert!(
        body["results"][0]["reason"]
            .as_str()
            .is_some_and(|r| r.contains("cancelled"))
    );
    let (_, conflicts) = s
        .call("GET", "/v1/admin/conflicts", Some(&dispatch), None)
        .await;
    assert_eq!(conflicts["operations"].as_array().map(Vec::len), Some(1));
    // Closing a cancelled order is not a transition the table allows.
    assert_eq!(
        s.call(
            "POST",
            &format!("/v1/admin/work-orders/{order}/close"),
            Some(&dispatch),
            None
        )
        .await
        .0,
        StatusCode::CONFLICT
    );
}

#[tokio::test]
async fn reassigning_an_order_revokes_it_from_the_first_engineer() {
    let s = Server::new();
    let dispatch = s.login("dispatch", "console").await;
    let wang = s.login("wang", "dev-1").await;
    let li = s.login("li", "dev-2").await;
    let order = s.order(&dispatch, Some("wang")).await;
    let (_, cursor) = s.pull_all(&wang, "").await;
    let (_, li_cursor) = s.pull_all(&li, "").await;
    let (status, _) = s
        .json(
            "POST",
            &format!("/v1/admin/work-orders/{order}/assign"),
            Some(&dispatch),
            json!({"engineer_ids": [s.user_id("li")]}),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (changes, _) = s.pull_all(&wang, &cursor).await;
    assert!(
        changes
            .iter()
            .any(|c| c["op"] == "revoke" && c["id"] == json!(order)),
        "{changes:?}"
    );
    let (li_changes, _) = s.pull_all(&li, &li_cursor).await;
    assert!(
        li_changes
            .iter()
            .any(|c| c["entity"] == "work_order" && c["op"] == "put" && c["id"] == json!(order)),
        "the new engineer gets the whole order"
    );
}

#[tokio::test]
async fn leased_numbers_are_never_issued_twice() {
    let s = Server::new();
    let wang = s.login("wang", "dev-1").await;
    let li = s.login("li", "dev-2").await;
    let mut seen = std::collections::HashSet::new();
    for token in [&wang, &li, &wang] {
        let (status, body) = s
            .json(
                "POST",
                "/v1/numbers/lease",
                Some(token),
                json!({"department": "SC", "count": 5}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        for n in body["numbers"].as_array().expect("numbers") {
            assert!(
                seen.insert(n.as_str().expect("text").to_owned()),
                "{n} issued twice"
            );
        }
    }
    assert_eq!(seen.len(), 15);
    let (status, _) = s
        .json(
            "POST",
            "/v1/numbers/lease",
            Some(&wang),
            json!({"department": "sc", "count": 5}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
}

impl Server {
    async fn bytes(
        &self,
        method: &str,
        uri: &str,
        token: &str,
        body: Vec<u8>,
    ) -> (StatusCode, Vec<u8>) {
        let req = Request::builder()
            .method(method)
            .uri(uri)
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .body(Body::from(body))
            .expect("request");
        let res = self.router.clone().oneshot(req).await.expect("answers");
        let status = res.status();
        (
            status,
            res.into_body()
                .collect()
                .await
                .expect("body")
                .to_bytes()
                .to_vec(),
        )
    }
}

#[tokio::test]
async fn blobs_are_checked_by_hash_and_read_only_within_scope() {
    let s = Server::new();
    let dispatch = s.login("dispatch", "console").await;
    let wang = s.login("wang", "dev-1").await;
    let li = s.login("li", "dev-2").await;
    let order = s.order(&dispatch, Some("wang")).await;
    let photo: Vec<u8> = (0..20 * 1024 * 1024).map(|i| (i % 251) as u8).collect();
    let sha = onsite_domain::signature::sha256_hex(&photo);
    let wrong = onsite_domain::signature::sha256_hex(b"something else");
    assert_eq!(
        s.bytes("PUT", &format!("/v1/blobs/{wrong}"), &wang, photo.clone())
            .await
            .0,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(
        s.bytes("PUT", "/v1/blobs/not-a-hash", &wang, photo.clone())
            .await
            .0,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        s.bytes("PUT", &format!("/v1/blobs/{sha}"), &wang, photo.clone())
            .await
            .0,
        StatusCode::CREATED,
        "a 20 MB photo fits"
    );
    assert_eq!(
        s.bytes("PUT", &format!("/v1/blobs/{sha}"), &wang, photo.clone())
            .await
            .0,
        StatusCode::OK,
        "already there"
    );
    assert_eq!(
        s.bytes("GET", &format!("/v1/blobs/{sha}"), &wang, vec![])
            .await
            .0,
        StatusCode::NOT_FOUND,
        "no record in scope references it yet"
    );
    let attachment = json!({"op_id": Uuid::now_v7(), "hlc": stamp("dev-1"), "entity": "attachment", "id": Uuid::now_v7(), "kind": "append",
                            "fields": {"work_order_id": order, "sha256": sha}});
    let pushed = s.push(&wang, "dev-1", vec![attachment]).await;
    assert_eq!(pushed["results"][0]["status"], "applied", "{pushed}");
    let (status, got) = s
        .bytes("GET", &format!("/v1/blobs/{sha}"), &wang, vec![])
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(got == photo, "the same bytes come back");
    assert_eq!(
        s.bytes("HEAD", &format!("/v1/blobs/{sha}"), &wang, vec![])
            .await
            .0,
        StatusCode::OK
    );
    assert_eq!(
        s.bytes("GET", &format!("/v1/blobs/{sha}"), &li, vec![])
            .await
            .0,
        StatusCode::NOT_FOUND,
        "another engineer's photo is never served"
    );
    let too_big = vec![0u8; 25 * 1024 * 1024 + 1];
    let big_sha = onsite_domain::signature::sha256_hex(&too_big);
    assert_eq!(
        s.bytes("PUT", &format!("/v1/blobs/{big_sha}"), &wang, too_big)
            .await
            .0,
        StatusCode::PAYLOAD_TOO_LARGE
    );
}

async fn upload_state(s: &Server, token: &str, sha: &str) -> Value {
    let (status, body) = s
        .bytes("GET", &format!("/v1/blobs/{sha}/upload"), token, vec![])
        .await;
    assert_eq!(status, StatusCode::OK);
    serde_json::from_slice::<Value>(&body).expect("json")
}

#[tokio::test]
async fn a_blob_uploaded_in_pieces_resumes_where_the_server_stands_and_is_checked_whole() {
    let s = Server::new();
    let wang = s.login("wang", "dev-1").await;
    let photo: Vec<u8> = (0..3_000_000u32).map(|i| (i % 253) as u8).collect();
    let sha = onsite_domain::signature::sha256_hex(&photo);
    let piece = |offset: usize, len: usize| photo[offset..offset + len].to_vec();
    let put = |offset: usize, total: usize| {
        format!("/v1/blobs/{sha}/upload?offset={offset}&total={total}")
    };
    assert_eq!(
        upload_state(&s, &wang, &sha).await,
        json!({"received": 0, "total": null, "complete": false})
    );
    assert_eq!(
        s.bytes("PUT", &put(0, 3_000_000), &wang, piece(0, 1_000_000))
            .await
            .0,
        StatusCode::OK
    );
    assert_eq!(
        upload_state(&s, &wang, &sha).await,
        json!({"received": 1_000_000, "total": 3_000_000, "complete": false})
    );
    // A piece that does not start where the server stands changes nothing.
    let (status, body) = s
        .bytes(
            "PUT",
            &put(2_000_000, 3_000_000),
            &wang,
            piece(2_000_000, 1_000_000),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(
        String::from_utf8_lossy(&body).contains("1000000"),
        "says where it stands"
    );
    // A different total for the same upload, or a piece past the end: the same.
    assert_eq!(
        s.bytes(
            "PUT",
            &put(1_000_000, 4_000_000),
            &wang,
            piece(1_000_000, 1_000_000)
        )
        .await
        .0,
        StatusCode::CONFLICT
    );
    assert_eq!(
        upload_state(&s, &wang, &sha).await["received"],
        1_000_000,
        "nothing changed"
    );
    assert_eq!(
        s.bytes(
            "PUT",
            &put(1_000_000, 3_000_000),
            &wang,
            piece(1_000_000, 1_000_000)
        )
        .await
        .0,
        StatusCode::OK
    );
    assert_eq!(
        s.bytes(
            "PUT",
            &put(2_000_000, 3_000_000),
            &wang,
            piece(2_000_000, 1_000_000)
        )
        .await
        .0,
        StatusCode::CREATED,
        "the last piece completes it"
    );
    assert_eq!(
        upload_state(&s, &wang, &sha).await,
        json!({"received": 3_000_000, "total": 3_000_000, "complete": true})
    );
    assert_eq!(
        s.bytes("PUT", &format!("/v1/blobs/{sha}"), &wang, photo.clone())
            .await
            .0,
        StatusCode::OK,
        "the whole-blob call sees it stored"
    );

    // Pieces whose whole does not hash to the name: refused, and the upload starts over.
    let wrong = onsite_domain::signature::sha256_hex(b"another photo");
    let put_wrong =
        |offset: usize| format!("/v1/blobs/{wrong}/upload?offset={offset}&total=2000000");
    assert_eq!(
        s.bytes("PUT", &put_wrong(0), &wang, piece(0, 1_000_000))
            .await
            .0,
        StatusCode::OK
    );
    assert_eq!(
        s.bytes(
            "PUT",
            &put_wrong(1_000_000),
            &wang,
            piece(1_000_000, 1_000_000)
        )
        .await
        .0,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(
        upload_state(&s, &wang, &wrong).await,
        json!({"received": 0, "total": null, "complete": false})
    );
    // Bad requests.
    assert_eq!(
        s.bytes(
            "PUT",
            &format!("/v1/blobs/{wrong}/upload"),
            &wang,
            piece(0, 10)
        )
        .await
        .0,
        StatusCode::BAD_REQUEST,
        "offset and total are required"
    );
    assert_eq!(
        s.bytes(
            "PUT",
            &format!("/v1/blobs/{wrong}/upload?offset=0&total=26214401"),
            &wang,
            piece(0, 10)
        )
        .await
        .0,
        StatusCode::PAYLOAD_TOO_LARGE
    );
    assert_eq!(
        s.bytes(
            "PUT",
            &format!("/v1/blobs/{wrong}/upload?offset=0&total=9000000"),
            &wang,
            vec![0u8; 8 * 1024 * 1024 + 1]
        )
        .await
        .0,
        StatusCode::PAYLOAD_TOO_LARGE,
        "a piece is at most 8 MiB"
    );
}

#[tokio::test]
async fn the_openapi_document_describes_every_call_and_every_described_call_exists() {
    let s = Server::new();
    let (status, doc) = s.call("GET", "/openapi.json", None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")),
        "{doc}"
    );
    let paths = doc["paths"].as_object().expect("paths");
    // PROTOCOL.md's calls, written out again here.
    for (method, path) in [
        ("get", "/healthz"),
        ("get", "/openapi.json"),
        ("post", "/v1/auth/login"),
        ("post", "/v1/auth/logout"),
        ("post", "/v1/sync/push"),
        ("get", "/v1/sync/pull"),
        ("put", "/v1/blobs/{sha256}"),
        ("head", "/v1/blobs/{sha256}"),
        ("get", "/v1/blobs/{sha256}"),
        ("get", "/v1/blobs/{sha256}/upload"),
        ("put", "/v1/blobs/{sha256}/upload"),
        ("post", "/v1/numbers/lease"),
        ("post", "/v1/admin/users"),
        ("post", "/v1/admin/customers"),
        ("post", "/v1/admin/equipment"),
        ("post", "/v1/admin/work-orders"),
        ("post", "/v1/admin/work-orders/{id}/assign"),
        ("post", "/v1/admin/work-orders/{id}/cancel"),
        ("post", "/v1/admin/work-orders/{id}/close"),
        ("get", "/v1/admin/work-orders"),
        ("get", "/v1/admin/quarantine"),
        ("get", "/v1/admin/conflicts"),
    ] {
        assert!(
            paths.get(path).and_then(|p| p.get(method)).is_some(),
            "{method} {path} is not described"
        );
    }
    for call in onsite_sync_server::openapi::CALLS {
        let uri = call
            .path
            .replace("{sha256}", &"a".repeat(64))
            .replace("{id}", &Uuid::nil().to_string());
        let method = call.method.as_str();
        let (status, body) = s.call(method, &uri, None, None).await;
        let fallback = body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("no such call"));
        assert!(
            !fallback && status != StatusCode::METHOD_NOT_ALLOWED,
            "{method} {uri} is described but not served ({status})"
        );
    }
}

#[tokio::test]
async fn the_openapi_document_gives_every_body_answer_and_parameter_its_schema() {
    let s = Server::new();
    let (_, doc) = s.call("GET", "/openapi.json", None, None).await;
    let schemas = doc["components"]["schemas"].as_object().expect("schemas");
    let resolves = |content: &Value, at: &str| {
        for (media, c) in content.as_object().into_iter().flatten() {
            let schema = &c["schema"];
            match schema["$ref"].as_str() {
                Some(r) => {
                    let name = r.trim_start_matches("#/components/schemas/");
                    assert!(schemas.contains_key(name), "{at} {media}: no schema {name}");
                }
                None => assert!(
                    schema["type"].is_string(),
                    "{at} {media}: an answer or body without a schema: {c}"
                ),
            }
        }
    };
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("operations") {
            let at = format!("{method} {path}");
            // Path parameters are typed.
            for name in path.split('{').skip(1).filter_map(|p| p.split('}').next()) {
                let param = op["parameters"]
                    .as_array()
                    .and_then(|ps| ps.iter().find(|p| p["name"] == name && p["in"] == "path"));
                assert!(
                    param.is_some_and(|p| p["schema"]["type"] == "string"),
                    "{at}: path parameter {name} untyped"
                );
            }
            if method == "post" || method == "put" {
                let body = &op["requestBody"]["content"];
                let takes_nothing = path.ends_with("/logout")
                    || path.ends_with("/disable")
                    || path.ends_with("/enable")
                    || path.ends_with("/sign-out")
                    || path.ends_with("/cancel")
                    || path.ends_with("/close");
                assert!(
                    takes_nothing || body.is_object(),
                    "{at}: a body without a schema"
                );
                resolves(body, &at);
            }
            let responses = op["responses"].as_object().expect("responses");
            assert!(
                responses.keys().any(|c| c.starts_with('2')),
                "{at}: no success answer"
            );
            if method != "head" {
                assert!(
                    responses.contains_key("4XX") && responses.contains_key("503"),
                    "{at}: refusals undescribed"
                );
            }
            for (code, r) in responses {
                resolves(&r["content"], &format!("{at} {code}"));
            }
        }
    }
    // The limits the document states are the domain's.
    assert_eq!(
        schemas["LeaseRequest"]["properties"]["count"]["maximum"],
        json!(onsite_domain::numbering::MAX_LEASE)
    );
    assert_eq!(
        schemas["AssignRequest"]["properties"]["engineer_ids"]["maxItems"],
        json!(onsite_domain::work_order::MAX_ASSIGNEES)
    );
    assert_eq!(
        schemas["PushRequest"]["properties"]["ops"]["maxItems"],
        json!(onsite_domain::protocol::MAX_OPS_PER_PUSH)
    );
    assert_eq!(
        schemas["LoginRequest"]["properties"]["password"]["maxLength"],
        json!(onsite_domain::records::MAX_PASSWORD_BYTES)
    );
    assert_eq!(
        schemas["CreateUser"]["properties"]["password"]["minLength"],
        json!(onsite_domain::records::MIN_PASSWORD_CHARS)
    );
    assert_eq!(
        schemas["CreateUser"]["properties"]["username"]["maxLength"],
        json!(onsite_domain::records::MAX_USERNAME_CHARS)
    );
}

#[tokio::test]
async fn the_server_holds_paid_work_to_an_approved_quote_as_the_laptop_does() {
    let s = Server::new();
    let dispatch = s.login("dispatch", "console").await;
    let wang = s.login("wang", "dev-1").await;
    let order = s.order(&dispatch, Some("wang")).await;
    let mut ops: Vec<Value> = [
        ("assigned", "accepted"),
        ("accepted", "en_route"),
        ("en_route", "on_site"),
        ("on_site", "diagnosing"),
    ]
    .iter()
    .map(|(f, t)| transition(order, f, t))
    .collect();
    ops.push(transition(order, "diagnosing", "in_repair"));
    let body = s.push(&wang, "dev-1", ops).await;
    let statuses: Vec<&str> = body["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| r["status"].as_str().expect("status"))
        .collect();
    assert_eq!(
        statuses,
        ["applied", "applied", "applied", "applied", "rejected"],
        "{body}"
    );
    assert!(
        body["results"][4]["reason"]
            .as_str()
            .is_some_and(|r| r.contains("NoApprovedQuote")),
        "{body}"
    );
    // A verbal approval is the office's to record (on site the customer signs the quote):
    // the engineer's is refused, the dispatcher's is taken, and the repair may start.
    let quote = || {
        json!({"op_id": Uuid::now_v7(), "hlc": stamp("dev-1"), "entity": "quote", "id": Uuid::now_v7(), "kind": "append",
                       "fields": {"work_order_id": order, "items": [{"kind": "labour", "description": "人工费", "unit_price": 20000, "quantity": 1}], "schedule_version": 1,
                                  "state": {"state": "approved", "approval": {"by": "verbal", "name": "李明", "at": chrono::Utc::now()}}, "created_at": chrono::Utc::now()}})
    };
    let body = s
        .push(
            &wang,
            "dev-1",
            vec![quote(), transition(order, "diagnosing", "in_repair")],
        )
        .await;
    assert_eq!(body["results"][0]["status"], "rejected", "{body}");
    assert_eq!(body["results"][1]["status"], "rejected", "{body}");
    let body = s.push(&dispatch, "console", vec![quote()]).await;
    assert_eq!(body["results"][0]["status"], "applied", "{body}");
    let body = s
        .push(
            &wang,
            "dev-1",
            vec![transition(order, "diagnosing", "in_repair")],
        )
        .await;
    assert_eq!(body["results"][0]["status"], "applied", "{body}");
}

#[tokio::test]
async fn a_snapshot_holds_exactly_what_a_first_pull_brings_and_its_cursor_misses_nothing() {
    let s = Server::new();
    let dispatch = s.login("dispatch", "console").await;
    let wang = s.login("wang", "dev-1").await;
    let mine = s.order(&dispatch, Some("wang")).await;
    let _theirs = s.order(&dispatch, Some("li")).await;
    let moved = s.order(&dispatch, Some("wang")).await;
    let (status, _) = s
        .json(
            "POST",
            &format!("/v1/admin/work-orders/{moved}/assign"),
            Some(&dispatch),
            json!({"engineer_ids": [s.user_id("li")]}),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let log = Uuid::now_v7();
    let answer = s
        .push(
            &wang,
            "dev-1",
            vec![json!({"op_id": Uuid::now_v7(), "hlc": stamp("dev-1"), "entity": "log_entry", "id": log, "kind": "append",
                        "fields": {"id": log, "work_order_id": mine, "day": "2026-11-22", "text": "到达现场，\t设备已停机"}})],
        )
        .await;
    assert_eq!(answer["results"][0]["status"], "applied", "{answer}");

    let (status, body) = s.call("GET", "/v1/sync/snapshot", Some(&wang), None).await;
    assert_eq!(status, StatusCode::OK);
    let text = body.as_str().expect("text").to_owned();
    let mut lines: Vec<&str> = text.lines().collect();
    let header: Vec<&str> = lines.remove(0).split('\t').collect();
    assert_eq!(header[0], onsite_domain::protocol::SNAPSHOT_MAGIC);
    let cursor = header[1].to_owned();
    assert!(
        header[2].parse::<chrono::DateTime<chrono::Utc>>().is_ok(),
        "{header:?}"
    );
    let trailer = lines.pop().expect("a trailer");
    assert_eq!(trailer, format!("end\t{}", lines.len()));

    let mut snapshot: Vec<(String, String, Value)> = lines
        .iter()
        .map(|line| {
            let f: Vec<&str> = line.split('\t').collect();
            assert_eq!(f.len(), 5, "{line}");
            let mut row: Value = serde_json::from_str(f[3]).expect("row JSON");
            row["_clocks"] = serde_json::from_str(f[4]).expect("clocks JSON");
            if f[0] != "work_order" && !f[2].is_empty() {
                assert_eq!(row["work_order_id"], json!(f[2]), "{line}");
            }
            (f[0].to_owned(), f[1].to_owned(), row)
        })
        .collect();
    let (changes, _) = s.pull_all(&wang, "").await;
    let mut pulled: Vec<(String, String, Value)> = changes
        .iter()
        .filter(|c| c["op"] == "put")
        .map(|c| {
            (
                c["entity"].as_str().expect("entity").to_owned(),
                c["id"].as_str().expect("id").to_owned(),
                c["row"].clone(),
            )
        })
        .collect();
    snapshot.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
    pulled.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
    assert_eq!(snapshot, pulled, "the same records, the same rows");
    assert!(
        snapshot
            .iter()
            .any(|(e, id, _)| e == "log_entry" && *id == log.to_string())
    );
    assert!(
        snapshot.iter().all(|(_, id, _)| *id != moved.to_string()),
        "a revoked order is not in it"
    );

    // Pulling from its cursor brings nothing already in it, and everything after it.
    let (after, _) = s.pull_all(&wang, &cursor).await;
    assert!(after.is_empty(), "{after:?}");
    let later = s.order(&dispatch, Some("wang")).await;
    let (after, _) = s.pull_all(&wang, &cursor).await;
    assert!(
        after
            .iter()
            .any(|c| c["id"] == json!(later) && c["op"] == "put")
    );

    let (status, _) = s.call("GET", "/v1/sync/snapshot", None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[test]
fn an_upload_abandoned_half_way_is_dropped_after_two_weeks_and_a_recent_one_is_kept() {
    let dir = tempfile::tempdir().expect("temp dir");
    let storage = SqliteStorage::open(&dir.path().join("server.db")).expect("opens");
    let t0 = chrono::Utc::now();
    let photo = |seed: u8| -> Vec<u8> { (0..200_000u32).map(|i| (i as u8) ^ seed).collect() };
    let (old, recent, next) = (photo(1), photo(2), photo(3));
    let sha = |b: &[u8]| onsite_domain::signature::sha256_hex(b);
    let half = |b: &[u8], at| {
        storage
            .put_blob_piece(
                &sha(b),
                0,
                b.len() as u64,
                &b[..100_000],
                uuid::Uuid::nil(),
                at,
            )
            .expect("a piece")
    };
    half(&old, t0);
    half(&recent, t0 + chrono::TimeDelta::days(10));
    // A new upload starting 15 days after the first piece of `old`.
    half(&next, t0 + chrono::TimeDelta::days(15));
    let received = |b: &[u8]| storage.blob_upload(&sha(b)).expect("reads").received;
    assert_eq!(
        received(&old),
        0,
        "untouched for 15 days: dropped, it starts again"
    );
    assert_eq!(received(&recent), 100_000, "touched 5 days ago: kept");
    assert_eq!(received(&next), 100_000);
    // The dropped one starts again from its first byte and completes.
    let outcome = storage
        .put_blob_piece(
            &sha(&old),
            0,
            old.len() as u64,
            &old,
            uuid::Uuid::nil(),
            t0 + chrono::TimeDelta::days(15),
        )
        .expect("the whole photo");
    assert!(
        matches!(outcome, onsite_sync_server::storage::PieceOutcome::Accepted(s) if s.complete),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn a_published_checklist_template_becomes_the_checklist_of_the_next_repair_order() {
    let s = Server::new();
    let dispatch = s.login("dispatch", "console").await;
    let wang = s.login("wang", "dev-1").await;
    let template = json!({
        "name": "故障维修点检表", "service_type": "repair", "equipment_model": null,
        "items": [
            {"key": "insulation", "label": "绝缘电阻测试", "kind": "measured", "unit": "MΩ", "min": 0.5, "max": null, "required": true},
            {"key": "ppe", "label": "佩戴安全帽", "kind": "pass_fail", "required": false, "safety": true},
            {"key": "alarm", "label": "报警记录", "kind": "text", "required": false}
        ]
    });
    // An engineer may not publish one; a broken one is refused with what is wrong.
    let (status, _) = s
        .json(
            "POST",
            "/v1/admin/checklist-templates",
            Some(&wang),
            template.clone(),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let mut broken = template.clone();
    broken["items"][1]["key"] = json!("insulation");
    let (status, body) = s
        .json(
            "POST",
            "/v1/admin/checklist-templates",
            Some(&dispatch),
            broken,
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("appears twice")),
        "{body}"
    );
    let (status, body) = s
        .json(
            "POST",
            "/v1/admin/checklist-templates",
            Some(&dispatch),
            template.clone(),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["version"], 1);
    let id = body["id"].clone();

    // The next repair order assigned to 王工 arrives with the items, safety first and
    // required, under the template's version.
    let order = s.order(&dispatch, Some("wang")).await;
    let (changes, _) = s.pull_all(&wang, "").await;
    let mut items: Vec<&Value> = changes
        .iter()
        .filter(|c| c["entity"] == "checklist_item" && c["row"]["work_order_id"] == json!(order))
        .map(|c| &c["row"])
        .collect();
    items.sort_by_key(|i| i["position"].as_u64());
    let keys: Vec<&str> = items.iter().filter_map(|i| i["key"].as_str()).collect();
    assert_eq!(keys, ["ppe", "insulation", "alarm"]);
    assert_eq!(items[0]["required"], true, "a safety item is required");
    assert!(
        items
            .iter()
            .all(|i| i["template_id"] == id && i["template_version"] == 1)
    );
    assert!(
        changes
            .iter()
            .any(|c| c["entity"] == "checklist_template" && c["id"] == id),
        "the template itself is reference data every engineer pulls"
    );

    // A new version: the list shows it; the order that has its checklist keeps it, and
    // assigning it again adds nothing.
    let mut v2 = template.clone();
    v2["id"] = id.clone();
    v2["items"][2]["required"] = json!(true);
    let (status, body) = s
        .json("POST", "/v1/admin/checklist-templates", Some(&dispatch), v2)
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["version"], 2);
    let (status, list) = s
        .call(
            "GET",
            "/v1/admin/checklist-templates",
            Some(&dispatch),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let listed = list["templates"].as_array().expect("templates");
    assert_eq!(listed.len(), 1, "{list}");
    assert_eq!(listed[0]["version"], 2);
    let (status, _) = s
        .json(
            "POST",
            &format!("/v1/admin/work-orders/{order}/assign"),
            Some(&dispatch),
            json!({"engineer_ids": [s.user_id("wang")]}),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (changes, _) = s.pull_all(&wang, "").await;
    let items = changes
        .iter()
        .filter(|c| c["entity"] == "checklist_item" && c["row"]["work_order_id"] == json!(order))
        .count();
    assert_eq!(items, 3, "no second checklist");
}

#[tokio::test]
async fn a_cross_check_is_signed_by_its_maker_and_never_by_who_answered() {
    let s = Server::new();
    let dispatch = s.login("dispatch", "console").await;
    let wang = s.login("wang", "dev-1").await;
    let template = json!({"name": "维修", "service_type": "repair", "equipment_model": null,
        "items": [{"key": "ppe", "label": "佩戴安全帽", "kind": "pass_fail", "required": true, "safety": true}]});
    let (status, _) = s
        .json(
            "POST",
            "/v1/admin/checklist-templates",
            Some(&dispatch),
            template,
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let order = s.order(&dispatch, Some("wang")).await;
    let (changes, _) = s.pull_all(&wang, "").await;
    let item = changes
        .iter()
        .find(|c| c["entity"] == "checklist_item" && c["row"]["work_order_id"] == json!(order))
        .map(|c| c["id"].clone())
        .expect("the item");
    let upsert = |fields: Value| json!({"op_id": Uuid::now_v7(), "hlc": stamp("dev-1"), "entity": "checklist_item", "id": item, "kind": "upsert", "fields": fields});
    let me = s.user_id("wang");
    let answer = s
        .push(
            &wang,
            "dev-1",
            vec![upsert(
                json!({"answer": {"type": "pass"}, "answered_by": me}),
            )],
        )
        .await;
    assert_eq!(answer["results"][0]["status"], "applied", "{answer}");
    // His own answer, confirmed by himself; or a confirmation in someone else's name.
    for by in [me, Uuid::now_v7()] {
        let answer = s
            .push(
                &wang,
                "dev-1",
                vec![upsert(json!({"cross_checked_by": by}))],
            )
            .await;
        assert_eq!(answer["results"][0]["status"], "rejected", "{answer}");
    }
}

#[tokio::test]
async fn an_engineer_opens_the_warehouse_receipt_of_a_returned_part_and_books_nothing() {
    let s = Server::new();
    let dispatch = s.login("dispatch", "console").await;
    let wang = s.login("wang", "dev-1").await;
    let order = s.order(&dispatch, Some("wang")).await;
    let other = s.order(&dispatch, Some("wang")).await;
    let part = Uuid::now_v7();
    let append = |entity: &str, fields: Value| json!({"op_id": Uuid::now_v7(), "hlc": stamp("dev-1"), "entity": entity, "id": Uuid::now_v7(), "kind": "append", "fields": fields});
    let usage = |disposition: &str| {
        append(
            "part_usage",
            json!({"work_order_id": order, "part_id": part, "quantity": 1, "warranty": true,
                "old_part": disposition, "from_van_stock": false}),
        )
    };
    let returned = usage("return_for_repair");
    let kept = usage("customer_keeps");
    let answer = s
        .push(&wang, "dev-1", vec![returned.clone(), kept.clone()])
        .await;
    assert_eq!(answer["results"][0]["status"], "applied", "{answer}");
    assert_eq!(answer["results"][1]["status"], "applied", "{answer}");
    let now = chrono::Utc::now();
    let receipt = |on: &Value, usage: &Value, extra: Value| {
        let mut fields = json!({"work_order_id": on, "part_usage_id": usage["id"],
            "returned_at": now, "booked_at": null, "nonconformance": null});
        if let (Some(f), Value::Object(extra)) = (fields.as_object_mut(), extra) {
            f.extend(extra);
        }
        append("warehouse_receipt", fields)
    };
    for (refused, why) in [
        (
            receipt(&json!(order), &kept, json!({})),
            "kept by the customer",
        ),
        (
            receipt(&json!(other), &returned, json!({})),
            "another order's part",
        ),
        (
            receipt(&json!(order), &returned, json!({"booked_at": now})),
            "booked by the engineer",
        ),
        (
            receipt(
                &json!(order),
                &returned,
                json!({"returned_at": now + chrono::Duration::days(1)}),
            ),
            "back tomorrow",
        ),
    ] {
        let answer = s.push(&wang, "dev-1", vec![refused]).await;
        assert_eq!(
            answer["results"][0]["status"], "rejected",
            "{why}: {answer}"
        );
    }
    let answer = s
        .push(
            &wang,
            "dev-1",
            vec![receipt(&json!(order), &returned, json!({}))],
        )
        .await;
    assert_eq!(answer["results"][0]["status"], "applied", "{answer}");
}

#[tokio::test]
async fn a_request_from_site_becomes_an_order_only_for_the_orders_customer() {
    let s = Server::new();
    let dispatch = s.login("dispatch", "console").await;
    let wang = s.login("wang", "dev-1").await;
    let order = s.order(&dispatch, Some("wang")).await;
    // Equipment of another customer (the second order's).
    let c = s.create(&dispatch, "/v1/admin/customers", json!({"name": "无锡另一家公司", "contact": "张", "phone": "13900000000", "address": "无锡"})).await;
    let e = s
        .create(
            &dispatch,
            "/v1/admin/equipment",
            json!({"customer_id": c["id"], "model": "SCB10-500/10", "serial": "X-1"}),
        )
        .await;
    let request = |extra: Value| {
        let mut fields = json!({"work_order_id": order, "equipment_id": null, "equipment_text": "二号变压器",
            "service_type": "repair", "fault_level": 2, "fault_description": "温控器报警",
            "requested_service_at": null, "reported_at": chrono::Utc::now()});
        if let (Some(f), Value::Object(extra)) = (fields.as_object_mut(), extra) {
            f.extend(extra);
        }
        json!({"op_id": Uuid::now_v7(), "hlc": stamp("dev-1"), "entity": "service_request", "id": Uuid::now_v7(), "kind": "append", "fields": fields})
    };
    let new_orders = || async {
        let (status, v) = s
            .call(
                "GET",
                "/v1/admin/work-orders?status=new",
                Some(&dispatch),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{v}");
        v
    };
    let before = new_orders().await;
    let count = |v: &Value| v["work_orders"].as_array().map_or(0, Vec::len);
    for (bad, why) in [
        (
            json!({"equipment_id": e["id"]}),
            "another customer's equipment",
        ),
        (
            json!({"created_order_id": Uuid::now_v7()}),
            "a number of its own",
        ),
        (json!({"fault_description": " "}), "nothing said"),
    ] {
        let answer = s.push(&wang, "dev-1", vec![request(bad)]).await;
        assert_eq!(
            answer["results"][0]["status"], "rejected",
            "{why}: {answer}"
        );
    }
    let after = new_orders().await;
    assert_eq!(count(&after), count(&before), "no order was made");
    let answer = s.push(&wang, "dev-1", vec![request(json!({}))]).await;
    assert_eq!(answer["results"][0]["status"], "applied", "{answer}");
    let after = new_orders().await;
    assert_eq!(count(&after), count(&before) + 1, "{after}");
}

#[tokio::test]
async fn an_engineer_reads_the_earlier_reports_of_the_equipment_he_is_sent_to_and_no_others() {
    use onsite_domain::protocol::Entity;
    let s = Server::new();
    let dispatch = s.login("dispatch", "console").await;
    let wang = s.login("wang", "dev-1").await;
    let earlier = s.order(&dispatch, Some("li")).await;
    let open_elsewhere = s.order(&dispatch, Some("li")).await;
    // The earlier order is on a transformer and finished; wang is now sent to the same one.
    let e = s
        .create(
            &dispatch,
            "/v1/admin/equipment",
            json!({"customer_id": Uuid::now_v7(), "model": "SCB11-1000/10", "serial": "2311-08"}),
        )
        .await;
    let transformer = e["id"].as_str().expect("id").to_owned();
    let orders = s.storage.work_orders(None).expect("lists");
    let now = chrono::Utc::now();
    {
        let (id, status) = (earlier, "closed");
        let mut row = orders
            .iter()
            .find(|o| o["id"] == json!(id))
            .cloned()
            .expect("the order");
        row.insert("equipment_id".into(), json!(transformer));
        row.insert("status".into(), json!(status));
        row.insert("diagnosis".into(), json!("温控器探头损坏"));
        s.storage
            .admin_put(Entity::WorkOrder, row, now)
            .expect("finished");
    }
    let reports = format!("/v1/equipment/{transformer}/reports");
    let (status, _) = s.call("GET", &reports, Some(&wang), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "not sent there yet");
    let (status, _) = s
        .call(
            "GET",
            &format!("/v1/work-orders/{earlier}/receipt.pdf"),
            Some(&wang),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let mine = s.order(&dispatch, Some("wang")).await;
    let mut row = s
        .storage
        .work_orders(None)
        .expect("lists")
        .into_iter()
        .find(|o| o["id"] == json!(mine))
        .expect("mine");
    row.insert("equipment_id".into(), json!(transformer));
    s.storage
        .admin_put(Entity::WorkOrder, row, now)
        .expect("on the transformer");
    let (status, body) = s.call("GET", &reports, Some(&wang), None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let list = body["reports"].as_array().expect("a list");
    assert_eq!(list.len(), 1, "only the finished one: {body}");
    assert_eq!(list[0]["id"], json!(earlier));
    assert_eq!(list[0]["diagnosis"], "温控器探头损坏");
    let (status, _) = s
        .call(
            "GET",
            &format!("/v1/work-orders/{earlier}/receipt.pdf"),
            Some(&wang),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "its report prints for him");
    let (status, _) = s
        .call(
            "GET",
            &format!("/v1/work-orders/{open_elsewhere}/receipt.pdf"),
            Some(&wang),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "li's open order stays li's");
}

#[tokio::test]
async fn two_admins_publishing_the_same_checklist_at_once_get_different_versions() {
    let s = Server::new();
    let id = Uuid::now_v7();
    let template = |n: usize| match json!({"id": id, "name": format!("维修 {n}"), "service_type": "repair", "equipment_model": null,
        "items": [{"key": "ppe", "label": "佩戴安全帽", "kind": "pass_fail", "required": true, "safety": true}]})
    {
        Value::Object(m) => m,
        _ => unreachable!("an object"),
    };
    let versions: Vec<u32> = std::thread::scope(|scope| {
        let publishers: Vec<_> = (0..2)
            .map(|p| {
                let storage = std::sync::Arc::clone(&s.storage);
                scope.spawn(move || {
                    (0..20)
                        .map(|n| {
                            storage
                                .publish_template(template(p * 100 + n), chrono::Utc::now())
                                .expect("published")
                        })
                        .collect::<Vec<u32>>()
                })
            })
            .collect();
        publishers
            .into_iter()
            .flat_map(|p| p.join().expect("a publisher"))
            .collect()
    });
    let mut sorted = versions.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, (1..=40).collect::<Vec<u32>>(), "{versions:?}");
}

#[tokio::test]
async fn callbacks_are_scheduled_when_an_order_is_resolved_remotely_and_when_it_closes() {
    use onsite_domain::protocol::Entity;
    let s = Server::new();
    let dispatch = s.login("dispatch", "console").await;
    let wang = s.login("wang", "dev-1").await;
    let c = s.create(&dispatch, "/v1/admin/customers", json!({"name": "杭州文印中心", "contact": "周", "phone": "13700000000", "address": "杭州"})).await;
    let printer = s.create(&dispatch, "/v1/admin/equipment", json!({"customer_id": c["id"], "model": "HP M404", "serial": "P-1", "kind": "打印机", "small_device": true})).await;
    let o = s.create(&dispatch, "/v1/admin/work-orders", json!({"department": "SC", "customer_id": c["id"], "equipment_id": printer["id"], "service_type": "consultation", "fault_level": 4, "channel": "hotline",
                   "fault_description": "打印发灰", "warranty": "in_warranty", "paid": false, "charge_cause": null,
                   "expected_completion": null, "requested_service_at": null, "scheduled_at": null, "recorded_by": "客服", "diagnosis": null,
                   "repair_result": null, "repair_started_at": null, "repair_ended_at": null, "outcome": null, "postpone_reason": null})).await;
    let order: Uuid = o["id"].as_str().expect("id").parse().expect("uuid");
    let (status, _) = s
        .json(
            "POST",
            &format!("/v1/admin/work-orders/{order}/assign"),
            Some(&dispatch),
            json!({"engineer_ids": [s.user_id("wang")]}),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let callbacks = || {
        let (office, _) = s
            .storage
            .user_by_username("dispatch")
            .expect("reads")
            .expect("the dispatcher");
        let mut found: Vec<(String, chrono::DateTime<chrono::Utc>)> = s
            .storage
            .order_rows(&office, order)
            .expect("reads")
            .expect("the order")
            .into_iter()
            .filter(|(e, _)| *e == Entity::FollowUp)
            .map(|(_, row)| {
                let f: onsite_domain::records::FollowUp =
                    serde_json::from_str(&row).expect("a follow-up");
                (
                    serde_json::to_value(f.kind)
                        .expect("kind")
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                    f.due_at,
                )
            })
            .collect();
        found.sort();
        found
    };
    // Talked through on the phone: resolved remotely; the office checks the result in 48 h.
    let before = chrono::Utc::now();
    let answer = s
        .push(
            &wang,
            "dev-1",
            vec![
                transition(order, "assigned", "accepted"),
                transition(order, "accepted", "remote"),
            ],
        )
        .await;
    assert_eq!(answer["results"][1]["status"], "applied", "{answer}");
    let after_remote = callbacks();
    assert_eq!(after_remote.len(), 1, "{after_remote:?}");
    assert_eq!(after_remote[0].0, "remote_check");
    let due = after_remote[0].1 - before;
    assert!(
        due >= chrono::Duration::hours(48)
            && due < chrono::Duration::hours(48) + chrono::Duration::minutes(1),
        "{due}"
    );
    // Closed: the survey in 16 h and, a small device, the 1 week / 1 month / 3 months calls.
    let (status, body) = s
        .call(
            "POST",
            &format!("/v1/admin/work-orders/{order}/close"),
            Some(&dispatch),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let kinds: Vec<String> = callbacks().into_iter().map(|(k, _)| k).collect();
    assert_eq!(
        kinds,
        [
            "one_month",
            "one_week",
            "remote_check",
            "survey",
            "three_months"
        ]
    );
}

#[tokio::test]
async fn a_quote_is_taken_at_the_schedules_prices_approved_only_by_its_signature_and_settled_as_approved()
 {
    use onsite_domain::completion::quote_content_hash;
    use onsite_domain::fees::{
        Approval, FeeSchedule, PaymentMethod, Quote, QuoteState, Settlement,
    };
    use onsite_domain::money::Quantity;
    use onsite_domain::protocol::Entity;
    use onsite_domain::signature::{DocumentKind, Signature, SignerRole, sha256_hex};
    let s = Server::new();
    let dispatch = s.login("dispatch", "console").await;
    let wang = s.login("wang", "dev-1").await;
    let order = s.order(&dispatch, Some("wang")).await;
    let now = chrono::Utc::now();
    let schedule = FeeSchedule::default();
    let mut row = serde_json::to_value(&schedule).expect("json");
    row["id"] = json!(Uuid::now_v7());
    let Value::Object(row) = row else {
        unreachable!("an object")
    };
    s.storage
        .admin_put(Entity::FeeSchedule, row, now)
        .expect("the schedule");
    let append = |entity: &str, record: &dyn erased::Json| {
        json!({"op_id": Uuid::now_v7(), "hlc": stamp("dev-1"), "entity": entity,
            "id": record.id(), "kind": "append", "fields": record.json()})
    };
    let one_day = vec![schedule.labour(Quantity::whole(1))];
    let mut cheap = one_day.clone();
    cheap[0].unit_price = onsite_domain::money::Fen::yuan(100);
    let forged = Quote::present(Uuid::now_v7(), order, cheap, &schedule, None, now).expect("q");
    let answer = s.push(&wang, "dev-1", vec![append("quote", &forged)]).await;
    assert_eq!(
        answer["results"][0]["status"], "rejected",
        "labour at 100 元: {answer}"
    );

    let presented =
        Quote::present(Uuid::now_v7(), order, one_day, &schedule, None, now).expect("q");
    let signature_id = Uuid::now_v7();
    let approved = presented
        .decide(
            Uuid::now_v7(),
            QuoteState::Approved {
                approval: Approval::Signature { signature_id },
            },
            now,
        )
        .expect("decided");
    let png = b"\x89PNG\r\n\x1a\n a signature".to_vec();
    let sha = sha256_hex(&png);
    let (status, _) = s
        .bytes("PUT", &format!("/v1/blobs/{sha}"), &wang, png)
        .await;
    assert!(status.is_success(), "{status}");
    let signature = |of: &Quote| Signature {
        id: signature_id,
        work_order_id: order,
        document: DocumentKind::Quote,
        document_id: Some(of.id),
        document_hash: quote_content_hash(of).expect("hash"),
        signer_name: "王经理".into(),
        signer_role: SignerRole::Customer,
        signed_at: now,
        sha256: sha.clone(),
        strokes: json!([[{"x": 1, "y": 1}]]),
    };
    // The approval before its signature, or with a signature of another quote.
    let answer = s
        .push(
            &wang,
            "dev-1",
            vec![append("quote", &presented), append("quote", &approved)],
        )
        .await;
    assert_eq!(answer["results"][0]["status"], "applied", "{answer}");
    assert_eq!(
        answer["results"][1]["status"], "rejected",
        "unsigned: {answer}"
    );
    let mut other = approved.clone();
    other.id = Uuid::now_v7();
    let answer = s
        .push(
            &wang,
            "dev-1",
            vec![
                append("signature", &signature(&presented)),
                append("quote", &other),
            ],
        )
        .await;
    assert_eq!(
        answer["results"][1]["status"], "rejected",
        "another quote's signature: {answer}"
    );
    let mut signed = signature(&approved);
    signed.id = Uuid::now_v7();
    let mut approved = approved;
    approved.state = QuoteState::Approved {
        approval: Approval::Signature {
            signature_id: signed.id,
        },
    };
    let answer = s
        .push(
            &wang,
            "dev-1",
            vec![append("signature", &signed), append("quote", &approved)],
        )
        .await;
    assert_eq!(answer["results"][1]["status"], "applied", "{answer}");

    // A settlement of other lines than the approved quote's is a conflict; the same
    // lines are applied.
    let mut settlement =
        Settlement::of(Uuid::now_v7(), &approved, PaymentMethod::Cash, None, now).expect("s");
    settlement.items[0].quantity = Quantity::whole(2);
    let answer = s
        .push(&wang, "dev-1", vec![append("settlement", &settlement)])
        .await;
    assert_eq!(answer["results"][0]["status"], "conflict", "{answer}");
    let settlement =
        Settlement::of(Uuid::now_v7(), &approved, PaymentMethod::Cash, None, now).expect("s");
    let answer = s
        .push(&wang, "dev-1", vec![append("settlement", &settlement)])
        .await;
    assert_eq!(answer["results"][0]["status"], "applied", "{answer}");
}

/// Records as the JSON of an append, whatever their type.
mod erased {
    pub trait Json {
        fn json(&self) -> serde_json::Value;
        fn id(&self) -> serde_json::Value {
            self.json()["id"].clone()
        }
    }
    impl<T: serde::Serialize> Json for T {
        fn json(&self) -> serde_json::Value {
            serde_json::to_value(self).unwrap_or_default()
        }
    }
}
