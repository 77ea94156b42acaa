//! The server's tests share this: a real router over a real SQLite file with four users
//! (admin, dispatch, wang and li, engineers of SC), and the calls a laptop and a dispatcher make.
#![allow(dead_code)]

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use onsite_domain::Role;
use onsite_sync_server::auth::hash_password;
use onsite_sync_server::sqlite::SqliteStorage;
use onsite_sync_server::storage::{NewUser, Storage};
use serde_json::{Value, json};
use tower::ServiceExt;
use uuid::Uuid;

pub const PASSWORD: &str = "correct horse";

pub struct Server {
    pub dir: tempfile::TempDir,
    pub storage: Arc<dyn Storage>,
    pub router: Router,
}

impl Server {
    pub fn new() -> Server {
        let dir = tempfile::tempdir().expect("temp dir");
        let storage: Arc<dyn Storage> =
            Arc::new(SqliteStorage::open(&dir.path().join("server.db")).expect("opens"));
        let hash = hash_password(PASSWORD).expect("hashes");
        for (username, role) in [
            ("admin", Role::Admin),
            ("dispatch", Role::Dispatcher),
            ("wang", Role::Engineer),
            ("li", Role::Engineer),
        ] {
            storage
                .create_user(
                    NewUser {
                        username: username.into(),
                        name: username.into(),
                        role,
                        department: Some("SC".into()),
                        password_hash: hash.clone(),
                    },
                    chrono::Utc::now(),
                )
                .expect("user");
        }
        let router = onsite_sync_server::router(Arc::clone(&storage));
        Server {
            dir,
            storage,
            router,
        }
    }

    pub async fn call(
        &self,
        method: &str,
        uri: &str,
        token: Option<&str>,
        body: Option<String>,
    ) -> (StatusCode, Value) {
        let mut req = Request::builder().method(method).uri(uri);
        if let Some(t) = token {
            req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
        }
        let req = match body {
            Some(b) => req
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(b)),
            None => req.body(Body::empty()),
        }
        .expect("request");
        let res = self.router.clone().oneshot(req).await.expect("answers");
        let status = res.status();
        let bytes = res.into_body().collect().await.expect("body").to_bytes();
        let value = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()))
        };
        (status, value)
    }

    pub async fn json(
        &self,
        method: &str,
        uri: &str,
        token: Option<&str>,
        body: Value,
    ) -> (StatusCode, Value) {
        self.call(method, uri, token, Some(body.to_string())).await
    }

    /// `POST path` with `body` as `dispatcher`, which must answer 201; the answer's body.
    pub async fn create(&self, dispatcher: &str, path: &str, body: Value) -> Value {
        let (status, answer) = self.json("POST", path, Some(dispatcher), body).await;
        assert_eq!(status, StatusCode::CREATED, "{path}: {answer}");
        answer
    }

    /// Pushes `ops` from `device`; the answer's body.
    pub async fn push(&self, token: &str, device: &str, ops: Vec<Value>) -> Value {
        let (status, body) = self
            .json(
                "POST",
                "/v1/sync/push",
                Some(token),
                json!({"device_id": device, "ops": ops}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body
    }

    pub async fn login(&self, username: &str, device: &str) -> String {
        let (status, body) = self.json("POST", "/v1/auth/login", None, json!({"username": username, "password": PASSWORD, "device": {"id": device, "name": "笔记本"}})).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["token"].as_str().expect("token").to_owned()
    }

    pub fn user_id(&self, username: &str) -> Uuid {
        self.storage
            .user_by_username(username)
            .expect("reads")
            .expect("exists")
            .0
            .id
    }

    /// A customer, equipment and an order, assigned to `engineer` when given.
    pub async fn order(&self, dispatcher: &str, engineer: Option<&str>) -> Uuid {
        let (s, c) = self.json("POST", "/v1/admin/customers", Some(dispatcher), json!({"name": "苏州宏达电气股份有限公司", "contact": "李明", "phone": "13800000000", "address": "苏州市工业园区星湖街 1 号"})).await;
        assert_eq!(s, StatusCode::CREATED, "{c}");
        let customer = c["id"].as_str().expect("id").to_owned();
        let (s, o) = self
            .json(
                "POST",
                "/v1/admin/work-orders",
                Some(dispatcher),
                json!({"department": "SC", "customer_id": customer, "equipment_id": null, "service_type": "repair", "fault_level": 2, "channel": "hotline",
                       "fault_description": "电机异响，振动大", "warranty": "out_of_warranty", "paid": true, "charge_cause": null,
                       "expected_completion": null, "requested_service_at": null, "scheduled_at": null, "recorded_by": "客服", "diagnosis": null,
                       "repair_result": null, "repair_started_at": null, "repair_ended_at": null, "outcome": null, "postpone_reason": null}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{o}");
        let id: Uuid = o["id"].as_str().expect("id").parse().expect("uuid");
        if let Some(e) = engineer {
            let (s, b) = self
                .json(
                    "POST",
                    &format!("/v1/admin/work-orders/{id}/assign"),
                    Some(dispatcher),
                    json!({"engineer_ids": [self.user_id(e)]}),
                )
                .await;
            assert_eq!(s, StatusCode::NO_CONTENT, "{b}");
        }
        id
    }

    pub async fn pull_all(&self, token: &str, cursor: &str) -> (Vec<Value>, String) {
        let mut cursor = cursor.to_owned();
        let mut changes = Vec::new();
        loop {
            let (s, page) = self
                .call(
                    "GET",
                    &format!("/v1/sync/pull?cursor={cursor}&limit=2"),
                    Some(token),
                    None,
                )
                .await;
            assert_eq!(s, StatusCode::OK, "{page}");
            changes.extend(page["changes"].as_array().expect("changes").iter().cloned());
            cursor = page["cursor"].as_str().expect("cursor").to_owned();
            if page["has_more"] == json!(false) {
                return (changes, cursor);
            }
        }
    }
}

/// An HLC stamp of `device` at the current time.
pub fn stamp(device: &str) -> String {
    format!(
        "{:015}-00000-{device}",
        chrono::Utc::now().timestamp_millis()
    )
}

pub fn transition(order: Uuid, from: &str, to: &str) -> Value {
    json!({"op_id": Uuid::now_v7(), "hlc": stamp("dev-1"), "entity": "work_order", "id": order, "kind": "transition", "transition": {"from": from, "to": to}})
}
