//! `GET /openapi.json`: the OpenAPI 3 document of every call, built with utoipa from one
//! table, so that a call added to the router without a line here fails its test.

use utoipa::openapi::path::{
    HttpMethod, OperationBuilder, ParameterBuilder, ParameterIn, PathItemBuilder,
};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{
    ComponentsBuilder, ContentBuilder, InfoBuilder, OpenApi, OpenApiBuilder, PathsBuilder,
    Required, ResponseBuilder,
};

/// One call: method, path, summary, whether it needs a token, its body (media type), and
/// its answers.
/// The HTTP methods the API uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
    Put,
    Head,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Head => "HEAD",
        }
    }

    fn openapi(self) -> HttpMethod {
        match self {
            Method::Get => HttpMethod::Get,
            Method::Post => HttpMethod::Post,
            Method::Put => HttpMethod::Put,
            Method::Head => HttpMethod::Head,
        }
    }
}

#[derive(Debug)]
pub struct Call {
    pub method: Method,
    pub path: &'static str,
    pub summary: &'static str,
    pub auth: bool,
    pub body: Option<&'static str>,
    pub responses: &'static [(&'static str, &'static str)],
}

const JSON: Option<&str> = Some("application/json");
const ERRORS: (&str, &str) = ("4XX", r#"{"error":{"code","message"}}"#);

/// Every call of the API (PROTOCOL.md), in the order of the router.
pub const CALLS: &[Call] = &[
    Call {
        method: Method::Get,
        path: "/healthz",
        summary: "Liveness: {\"status\":\"ok\"}",
        auth: false,
        body: None,
        responses: &[("200", "ok")],
    },
    Call {
        method: Method::Get,
        path: "/openapi.json",
        summary: "This document",
        auth: false,
        body: None,
        responses: &[("200", "OpenAPI 3 document")],
    },
    Call {
        method: Method::Post,
        path: "/v1/auth/login",
        summary: "Sign in: {username, password, device{id,name}} → {token, expires_at, user, server_time}",
        auth: false,
        body: JSON,
        responses: &[
            ("200", "signed in"),
            ("401", "wrong username or password"),
            ("429", "too many failures: Retry-After"),
            ERRORS,
        ],
    },
    Call {
        method: Method::Post,
        path: "/v1/auth/logout",
        summary: "End this session",
        auth: true,
        body: None,
        responses: &[("204", "the token stops working"), ERRORS],
    },
    Call {
        method: Method::Post,
        path: "/v1/sync/push",
        summary: "Push operations: {device_id, ops[≤1000]} (≤ 8 MiB), one transaction",
        auth: true,
        body: JSON,
        responses: &[
            ("200", "{results[{op_id,status,reason?}], server_time}"),
            ("413", "too many operations or too large"),
            ERRORS,
        ],
    },
    Call {
        method: Method::Get,
        path: "/v1/sync/pull",
        summary: "Changes after ?cursor (omit for a first sync) of ?epoch (from the login or the last pull), at most ?limit; 409 resync_required when the cursor is of another epoch or ahead of the server (restored from a backup)",
        auth: true,
        body: None,
        responses: &[
            ("200", "{changes, cursor, has_more, server_time, epoch}"),
            ("409", "resync_required"),
            ERRORS,
        ],
    },
    Call {
        method: Method::Get,
        path: "/v1/sync/snapshot",
        summary: "The caller's whole scope at one moment, for a first sync: tab-separated lines (header with the cursor to pull from, one record per line, trailer with the count)",
        auth: true,
        body: None,
        responses: &[("200", "text/tab-separated-values"), ERRORS],
    },
    Call {
        method: Method::Post,
        path: "/v1/numbers/lease",
        summary: "Lease record numbers: {department, count} → {numbers}",
        auth: true,
        body: JSON,
        responses: &[("200", "numbers, never issued twice"), ERRORS],
    },
    Call {
        method: Method::Put,
        path: "/v1/blobs/{sha256}",
        summary: "Upload a blob (≤ 25 MiB); the bytes must hash to the path",
        auth: true,
        body: Some("application/octet-stream"),
        responses: &[
            ("201", "stored"),
            ("200", "already there"),
            ("422", "hash mismatch"),
            ("413", "too large"),
            ERRORS,
        ],
    },
    Call {
        method: Method::Get,
        path: "/v1/blobs/{sha256}",
        summary: "Download a blob referenced in your scope",
        auth: true,
        body: None,
        responses: &[("200", "the bytes"), ("404", "not in your scope"), ERRORS],
    },
    Call {
        method: Method::Head,
        path: "/v1/blobs/{sha256}",
        summary: "Whether a blob in your scope is stored",
        auth: true,
        body: None,
        responses: &[("200", "stored"), ("404", "not in your scope")],
    },
    Call {
        method: Method::Get,
        path: "/v1/work-orders/{id}/receipt.pdf",
        summary: "A printed document of a work order in your scope, the same bytes the app makes \
                  (apart from the creation date): ?doc=repair_record|field_service_record|quote|settlement|service_receipt \
                  (default repair_record) &lang=zh-CN|en (default zh-CN)",
        auth: true,
        body: None,
        responses: &[
            ("200", "application/pdf"),
            ("400", "unknown doc or lang"),
            (
                "404",
                "no such order in your scope, or no quote / settlement to print",
            ),
            ("409", "the settlement differs from the approved quote"),
        ],
    },
    Call {
        method: Method::Get,
        path: "/v1/blobs/{sha256}/upload",
        summary: "How far an upload in pieces has come: {received, total, complete}",
        auth: true,
        body: None,
        responses: &[("200", "{received, total, complete}"), ERRORS],
    },
    Call {
        method: Method::Put,
        path: "/v1/blobs/{sha256}/upload",
        summary: "Upload one piece (≤ 8 MiB) of a blob: ?offset=<bytes before it>&total=<bytes of the whole>; \
                  the piece that completes it is checked against the hash",
        auth: true,
        body: Some("application/octet-stream"),
        responses: &[
            ("200", "taken: {received, total, complete: false}"),
            ("201", "the blob is complete and stored"),
            (
                "409",
                "the piece does not start where the upload stands: ask again",
            ),
            (
                "422",
                "the whole does not hash to the path: the upload starts over",
            ),
            ("413", "too large"),
            ERRORS,
        ],
    },
    Call {
        method: Method::Post,
        path: "/v1/admin/users",
        summary: "Create a user (admin)",
        auth: true,
        body: JSON,
        responses: &[("201", "the user"), ("409", "username taken"), ERRORS],
    },
    Call {
        method: Method::Post,
        path: "/v1/admin/users/{username}/disable",
        summary: "Disable a user (admin): no more sign-ins, every session ends → {user, sessions_ended}",
        auth: true,
        body: None,
        responses: &[
            ("200", "{user, sessions_ended}"),
            ("404", "no such user"),
            ERRORS,
        ],
    },
    Call {
        method: Method::Post,
        path: "/v1/admin/users/{username}/enable",
        summary: "Let a disabled user sign in again (admin) → {user, sessions_ended}",
        auth: true,
        body: None,
        responses: &[
            ("200", "{user, sessions_ended}"),
            ("404", "no such user"),
            ERRORS,
        ],
    },
    Call {
        method: Method::Post,
        path: "/v1/admin/users/{username}/sign-out",
        summary: "End every session of a user (admin) → {user, sessions_ended}",
        auth: true,
        body: None,
        responses: &[
            ("200", "{user, sessions_ended}"),
            ("404", "no such user"),
            ERRORS,
        ],
    },
    Call {
        method: Method::Post,
        path: "/v1/admin/users/{username}/password",
        summary: "Set a user's password (admin): {password}; every session ends → {user, sessions_ended}",
        auth: true,
        body: JSON,
        responses: &[
            ("200", "{user, sessions_ended}"),
            ("404", "no such user"),
            ("422", "a weak password"),
            ERRORS,
        ],
    },
    Call {
        method: Method::Post,
        path: "/v1/admin/customers",
        summary: "Create a customer",
        auth: true,
        body: JSON,
        responses: &[("201", "{id}"), ERRORS],
    },
    Call {
        method: Method::Post,
        path: "/v1/admin/equipment",
        summary: "Create a piece of equipment",
        auth: true,
        body: JSON,
        responses: &[("201", "{id}"), ERRORS],
    },
    Call {
        method: Method::Post,
        path: "/v1/admin/work-orders",
        summary: "Create a work order (number leased when absent)",
        auth: true,
        body: JSON,
        responses: &[("201", "{id}"), ERRORS],
    },
    Call {
        method: Method::Get,
        path: "/v1/admin/work-orders",
        summary: "List work orders, ?status=",
        auth: true,
        body: None,
        responses: &[("200", "{work_orders}"), ERRORS],
    },
    Call {
        method: Method::Post,
        path: "/v1/admin/work-orders/{id}/assign",
        summary: "Assign: {engineer_ids, manager_id?}",
        auth: true,
        body: JSON,
        responses: &[("204", "assigned"), ERRORS],
    },
    Call {
        method: Method::Post,
        path: "/v1/admin/work-orders/{id}/cancel",
        summary: "Cancel a work order",
        auth: true,
        body: None,
        responses: &[("204", "cancelled"), ("409", "not from its status"), ERRORS],
    },
    Call {
        method: Method::Post,
        path: "/v1/admin/work-orders/{id}/close",
        summary: "Close a work order",
        auth: true,
        body: None,
        responses: &[("204", "closed"), ("409", "not from its status"), ERRORS],
    },
    Call {
        method: Method::Get,
        path: "/v1/admin/quarantine",
        summary: "Operations kept out of scope",
        auth: true,
        body: None,
        responses: &[("200", "{operations}"), ERRORS],
    },
    Call {
        method: Method::Get,
        path: "/v1/admin/conflicts",
        summary: "Transitions that no longer applied",
        auth: true,
        body: None,
        responses: &[("200", "{operations}"), ERRORS],
    },
];

/// The document.
pub fn document() -> OpenApi {
    let mut paths = PathsBuilder::new();
    let mut seen: Vec<&str> = Vec::new();
    for path in CALLS.iter().map(|c| c.path) {
        if seen.contains(&path) {
            continue;
        }
        seen.push(path);
        let mut item = PathItemBuilder::new();
        for call in CALLS.iter().filter(|c| c.path == path) {
            let mut op = OperationBuilder::new().summary(Some(call.summary));
            for (code, description) in call.responses {
                op = op.response(*code, ResponseBuilder::new().description(*description));
            }
            if let Some(media) = call.body {
                op = op.request_body(Some(
                    RequestBodyBuilder::new()
                        .content(media, ContentBuilder::new().build())
                        .required(Some(Required::True))
                        .build(),
                ));
            }
            for name in ["sha256", "id"] {
                if path.contains(&format!("{{{name}}}")) {
                    op = op.parameter(
                        ParameterBuilder::new()
                            .name(name)
                            .parameter_in(ParameterIn::Path)
                            .required(Required::True),
                    );
                }
            }
            if call.auth {
                op = op.security(SecurityRequirement::new("bearer", Vec::<String>::new()));
            }
            item = item.operation(call.method.openapi(), op.build());
        }
        paths = paths.path(path, item.build());
    }
    let components = ComponentsBuilder::new()
        .security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        )
        .build();
    OpenApiBuilder::new()
        .info(InfoBuilder::new().title("Onsite sync API").version("1").description(Some("The contract of PROTOCOL.md. Errors: HTTP status + {\"error\":{\"code\",\"message\"}}.")).build())
        .paths(paths.build())
        .components(Some(components))
        .build()
}
