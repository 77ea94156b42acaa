//! Schemathesis (PyPI) against `/openapi.json`: every call of the document, as an admin,
//! with generated bodies, paths and queries, a bounded number of examples each. No answer
//! may be a 5xx, and every answer must be one the document lists, of the media type and the
//! schema it gives. `cargo xtask setup` installs schemathesis in a virtual environment and
//! `cargo xtask test` says where (`ONSITE_SCHEMATHESIS`); without it this test fails and
//! says how to get it (it never passes without having run).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use onsite_domain::Role;
use onsite_sync_server::auth::{hash_password, new_token};
use onsite_sync_server::sqlite::SqliteStorage;
use onsite_sync_server::storage::{NewUser, Storage};

/// Examples per call and phase: enough to reach every answer a call has, small enough
/// for the test command (two cores).
const EXAMPLES: &str = "25";

/// The answers checked: no server error, a documented status, media type, headers and
/// schema; and a call made without the token is refused.
const CHECKS: &str = "not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance,ignored_auth";

fn schemathesis() -> PathBuf {
    if let Some(p) = std::env::var_os("ONSITE_SCHEMATHESIS") {
        return PathBuf::from(p);
    }
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join("schemathesis"))
            .find(|p| p.is_file())
    });
    on_path.unwrap_or_else(|| {
        panic!(
            "schemathesis is not installed: run `cargo xtask setup` (it installs it in a virtual environment) and test with `cargo xtask test`, or set ONSITE_SCHEMATHESIS to its path"
        )
    })
}

async fn run(
    tool: &PathBuf,
    config: &std::path::Path,
    base: &str,
    token: &str,
    paths: &[&str],
    exclude: bool,
) {
    // The document from a file (the one the server serves): loaded from its URL,
    // schemathesis would leave `/openapi.json` itself out.
    let document = config.with_file_name("openapi.json");
    let json = serde_json::to_vec(&onsite_sync_server::openapi::document()).expect("document");
    std::fs::write(&document, json).expect("writes the document");
    let mut cmd = std::process::Command::new(tool);
    cmd.arg("--config-file")
        .arg(config)
        .arg("run")
        .arg(&document)
        .args(["--url", base])
        .args(["-H", &format!("Authorization: Bearer {token}")])
        .args(["--max-examples", EXAMPLES])
        .args(["--checks", CHECKS])
        // One worker: with two, hypothesis' cache of lambda sources (not thread-safe)
        // once failed the run with a KeyError inside the tool, not a finding of ours.
        .args(["--workers", "1"])
        .args(["--seed", "1"])
        .args(["--phases", "examples,coverage,fuzzing"])
        .args(["--generation-deterministic"])
        .args(["--no-color"])
        .env_remove("SCHEMATHESIS_HOOKS")
        // Its cache of failures goes to the working directory: a temporary one.
        .current_dir(config.parent().unwrap_or(config));
    for p in paths {
        cmd.args([
            if exclude {
                "--exclude-path"
            } else {
                "--include-path"
            },
            p,
        ]);
    }
    let out = tokio::task::spawn_blocking(move || cmd.output())
        .await
        .expect("joins")
        .expect("schemathesis starts");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}\n{stderr}");
    assert!(
        out.status.success(),
        "schemathesis found answers outside the document or server errors ({}): see above",
        out.status
    );
    // Every call of the document was read, and every one selected was tested:
    // "Operations: 26 selected / 28 total", "Selected: 26/28", "Tested: 26".
    let field = |prefix: &str| {
        stdout
            .lines()
            .find_map(|l| l.trim_start().strip_prefix(prefix))
            .map(str::trim)
            .unwrap_or_default()
    };
    let numbers = |text: &str| -> Vec<usize> {
        text.split(|c: char| !c.is_ascii_digit())
            .filter_map(|n| n.parse().ok())
            .collect()
    };
    let operations = numbers(field("Operations:"));
    assert_eq!(
        operations.get(1),
        Some(&onsite_sync_server::openapi::CALLS.len()),
        "schemathesis did not read every call of the document: {operations:?}"
    );
    assert_eq!(
        numbers(field("Tested:")).first(),
        operations.first(),
        "schemathesis did not test every call it selected"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_call_answers_within_its_schema_and_never_with_a_server_error() {
    let tool = schemathesis();
    let dir = tempfile::tempdir().expect("temp dir");
    let storage: Arc<dyn Storage> =
        Arc::new(SqliteStorage::open(&dir.path().join("server.db")).expect("opens"));
    let now = chrono::Utc::now();
    onsite_sync_server::demo::seed(storage.as_ref(), now).expect("demo data");
    // An admin whose name no generated path will hit by chance (disable, sign-out and
    // password calls take any name).
    let admin = storage
        .create_user(
            NewUser {
                username: "schemathesis-admin-7f3a".into(),
                name: "Schemathesis".into(),
                role: Role::Admin,
                department: Some("SC".into()),
                password_hash: hash_password("a long enough password").expect("hashes"),
            },
            now,
        )
        .expect("admin");
    let (token, hash) = new_token();
    storage
        .create_session(
            &hash,
            admin.id,
            "schemathesis",
            "schemathesis",
            now,
            now + chrono::Duration::days(1),
        )
        .expect("session");

    // Real records for the calls that act on one, so that they reach more than "not found":
    // an order to print, assign, cancel and close, a stored blob to read.
    let order = storage
        .work_orders(None)
        .expect("orders")
        .first()
        .and_then(|o| o.get("id").and_then(|v| v.as_str()).map(str::to_owned))
        .expect("the demo has orders");
    let bytes = b"a photo of the nameplate".to_vec();
    let sha = onsite_domain::signature::sha256_hex(&bytes);
    storage
        .put_blob(&sha, &bytes, admin.id, now)
        .expect("a blob");
    let config = dir.path().join("schemathesis.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[[operations]]
include-path-regex = "^/v1/(work-orders|admin/work-orders)/[{{]id[}}]/(receipt.pdf|assign)$"
parameters = {{ "path.id" = "{order}" }}

[[operations]]
include-path = "/v1/blobs/{{sha256}}"
parameters = {{ "path.sha256" = "{sha}" }}
"#
        ),
    )
    .expect("config");

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("binds");
    let addr = listener.local_addr().expect("address");
    let router = onsite_sync_server::router(Arc::clone(&storage));
    let server = tokio::spawn(async move {
        axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
    });
    let base = format!("http://{addr}");

    // Every call but the one that ends the session the others use …
    run(&tool, &config, &base, &token, &["/v1/auth/logout"], true).await;
    // … then that one.
    run(&tool, &config, &base, &token, &["/v1/auth/logout"], false).await;
    server.abort();
}
