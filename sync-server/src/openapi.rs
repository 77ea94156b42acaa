//! `GET /openapi.json`: the OpenAPI 3.1 document of every call, built with utoipa from one
//! table, so that a call added to the router without a line here fails its test. Bodies
//! and answers name the schemas utoipa derives from the very types the handlers read and
//! write (`onsite_domain::protocol`, the request and answer types of `api`), so that the
//! document cannot drift from the wire; schemathesis checks the answers against it.

use utoipa::ToSchema;
use utoipa::openapi::path::{
    HttpMethod, OperationBuilder, ParameterBuilder, ParameterIn, PathItemBuilder,
};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{
    ComponentsBuilder, ContentBuilder, InfoBuilder, OpenApi, OpenApiBuilder, PathsBuilder, Ref,
    RefOr, Required, ResponseBuilder, Schema,
};

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

/// What a request or an answer carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Body {
    /// Nothing.
    Empty,
    /// JSON of the named schema (a key of [`schemas`]).
    Json(&'static str),
    /// Bytes of this media type.
    Bytes(&'static str),
    /// Text of this media type.
    Text(&'static str),
}

/// The type of a query or path parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Text,
    /// A whole number from this minimum up.
    Count(u64),
    OneOf(&'static [&'static str]),
    /// A value of the named schema.
    Named(&'static str),
}

/// A query parameter.
#[derive(Debug, Clone, Copy)]
pub struct Param {
    pub name: &'static str,
    pub kind: Kind,
    pub required: bool,
    pub description: &'static str,
}

/// One call: method, path, summary, whether it needs a token, its query, its body and its
/// answers (`4XX` and `503` answers with the error body are added to every call but
/// `HEAD`).
#[derive(Debug)]
pub struct Call {
    pub method: Method,
    pub path: &'static str,
    pub summary: &'static str,
    pub auth: bool,
    pub query: &'static [Param],
    pub body: Body,
    pub responses: &'static [(&'static str, &'static str, Body)],
}

const ACCOUNT: &[(&str, &str, Body)] = &[
    ("200", "{user, sessions_ended}", Body::Json("AccountAnswer")),
    ("404", "no such user", Body::Json("ErrorBody")),
];
const CREATED: &[(&str, &str, Body)] = &[("201", "{id}", Body::Json("Created"))];

/// Every call of the API (PROTOCOL.md), in the order of the router.
pub const CALLS: &[Call] = &[
    Call {
        method: Method::Get,
        path: "/healthz",
        summary: "Liveness: {\"status\":\"ok\"}",
        auth: false,
        query: &[],
        body: Body::Empty,
        responses: &[("200", "ok", Body::Json("Health"))],
    },
    Call {
        method: Method::Get,
        path: "/openapi.json",
        summary: "This document",
        auth: false,
        query: &[],
        body: Body::Empty,
        responses: &[("200", "OpenAPI 3 document", Body::Json("Document"))],
    },
    Call {
        method: Method::Post,
        path: "/v1/auth/login",
        summary: "Sign in (≤ 16 KiB); a delay (429 with Retry-After) after repeated failures of one name from one address",
        auth: false,
        query: &[],
        body: Body::Json("LoginRequest"),
        responses: &[
            ("200", "signed in", Body::Json("LoginResponse")),
            ("401", "wrong username or password", Body::Json("ErrorBody")),
            (
                "429",
                "too many failures: Retry-After",
                Body::Json("ErrorBody"),
            ),
        ],
    },
    Call {
        method: Method::Post,
        path: "/v1/auth/logout",
        summary: "End this session",
        auth: true,
        query: &[],
        body: Body::Empty,
        responses: &[("204", "the token stops working", Body::Empty)],
    },
    Call {
        method: Method::Post,
        path: "/v1/sync/push",
        summary: "Push operations: {device_id, ops[≤1000]} (≤ 8 MiB), one transaction",
        auth: true,
        query: &[],
        body: Body::Json("PushRequest"),
        responses: &[
            (
                "200",
                "one result per operation",
                Body::Json("PushResponse"),
            ),
            (
                "413",
                "too many operations or too large",
                Body::Json("ErrorBody"),
            ),
        ],
    },
    Call {
        method: Method::Get,
        path: "/v1/sync/pull",
        summary: "Changes after ?cursor (omit for a first sync) of ?epoch (from the login or the last pull), at most ?limit; 409 resync_required when the cursor is of another epoch or ahead of the server (restored from a backup)",
        auth: true,
        query: &[
            Param {
                name: "cursor",
                kind: Kind::Text,
                required: false,
                description: "the cursor of the last pull; omit it for a first sync",
            },
            Param {
                name: "epoch",
                kind: Kind::Text,
                required: false,
                description: "the epoch of the login or pull that gave the cursor",
            },
            Param {
                name: "limit",
                kind: Kind::Count(0),
                required: false,
                description: "changes at most (taken as 1–5000; 1000 when omitted)",
            },
        ],
        body: Body::Empty,
        responses: &[
            ("200", "the next changes", Body::Json("PullResponse")),
            ("409", "resync_required", Body::Json("ErrorBody")),
        ],
    },
    Call {
        method: Method::Get,
        path: "/v1/sync/snapshot",
        summary: "The caller's whole scope at one moment, for a first sync: tab-separated lines (header with the cursor to pull from, one record per line, trailer with the count)",
        auth: true,
        query: &[],
        body: Body::Empty,
        responses: &[("200", "the scope", Body::Text("text/tab-separated-values"))],
    },
    Call {
        method: Method::Post,
        path: "/v1/numbers/lease",
        summary: "Lease record numbers of your department: {department, count 1–20} → {numbers}",
        auth: true,
        query: &[],
        body: Body::Json("LeaseRequest"),
        responses: &[("200", "numbers, never issued twice", Body::Json("Numbers"))],
    },
    Call {
        method: Method::Put,
        path: "/v1/blobs/{sha256}",
        summary: "Upload a blob (≤ 25 MiB); the bytes must hash to the path",
        auth: true,
        query: &[],
        body: Body::Bytes("application/octet-stream"),
        responses: &[
            ("201", "stored", Body::Empty),
            ("200", "already there", Body::Empty),
            ("422", "hash mismatch", Body::Json("ErrorBody")),
            ("413", "too large", Body::Json("ErrorBody")),
        ],
    },
    Call {
        method: Method::Get,
        path: "/v1/blobs/{sha256}",
        summary: "Download a blob referenced in your scope",
        auth: true,
        query: &[],
        body: Body::Empty,
        responses: &[
            ("200", "the bytes", Body::Bytes("application/octet-stream")),
            ("404", "not in your scope", Body::Json("ErrorBody")),
        ],
    },
    Call {
        method: Method::Head,
        path: "/v1/blobs/{sha256}",
        summary: "Whether a blob in your scope is stored",
        auth: true,
        query: &[],
        body: Body::Empty,
        responses: &[
            ("200", "stored", Body::Empty),
            ("404", "not in your scope", Body::Empty),
            ("4XX", "refused", Body::Empty),
            ("503", "busy: Retry-After", Body::Empty),
        ],
    },
    Call {
        method: Method::Get,
        path: "/v1/equipment/{id}/reports",
        summary: "The earlier reports of equipment in your scope: its completed and closed work orders, newest first (each prints with receipt.pdf)",
        auth: true,
        query: &[],
        body: Body::Empty,
        responses: &[
            ("200", "the finished orders", Body::Json("Reports")),
            ("400", "not a UUID", Body::Json("ErrorBody")),
            (
                "404",
                "no such equipment in your scope",
                Body::Json("ErrorBody"),
            ),
        ],
    },
    Call {
        method: Method::Get,
        path: "/v1/work-orders/{id}/receipt.pdf",
        summary: "A printed document of a work order in your scope, the same bytes the app makes (apart from the creation date)",
        auth: true,
        query: &[
            Param {
                name: "doc",
                kind: Kind::OneOf(&[
                    "repair_record",
                    "field_service_record",
                    "quote",
                    "settlement",
                    "service_receipt",
                    "checklist",
                ]),
                required: false,
                description: "which document (repair_record when omitted)",
            },
            Param {
                name: "lang",
                kind: Kind::OneOf(&["zh-CN", "en"]),
                required: false,
                description: "the language (zh-CN when omitted)",
            },
        ],
        body: Body::Empty,
        responses: &[
            ("200", "the document", Body::Bytes("application/pdf")),
            ("400", "unknown doc or lang", Body::Json("ErrorBody")),
            (
                "404",
                "no such order in your scope, or no quote / settlement to print",
                Body::Json("ErrorBody"),
            ),
            (
                "409",
                "the settlement differs from the approved quote",
                Body::Json("ErrorBody"),
            ),
        ],
    },
    Call {
        method: Method::Get,
        path: "/v1/blobs/{sha256}/upload",
        summary: "How far an upload in pieces has come",
        auth: true,
        query: &[],
        body: Body::Empty,
        responses: &[("200", "where it stands", Body::Json("UploadState"))],
    },
    Call {
        method: Method::Put,
        path: "/v1/blobs/{sha256}/upload",
        summary: "Upload one piece (≤ 8 MiB) of a blob; the piece that completes it is checked against the hash",
        auth: true,
        query: &[
            Param {
                name: "offset",
                kind: Kind::Count(0),
                required: true,
                description: "the bytes before this piece",
            },
            Param {
                name: "total",
                kind: Kind::Count(0),
                required: true,
                description: "the bytes of the whole blob",
            },
        ],
        body: Body::Bytes("application/octet-stream"),
        responses: &[
            ("200", "taken, not complete yet", Body::Json("UploadState")),
            (
                "201",
                "the blob is complete and stored",
                Body::Json("UploadState"),
            ),
            (
                "409",
                "the piece does not start where the upload stands: ask again",
                Body::Json("ErrorBody"),
            ),
            (
                "422",
                "the whole does not hash to the path: the upload starts over",
                Body::Json("ErrorBody"),
            ),
            ("413", "too large", Body::Json("ErrorBody")),
        ],
    },
    Call {
        method: Method::Post,
        path: "/v1/admin/users",
        summary: "Create a user (admin)",
        auth: true,
        query: &[],
        body: Body::Json("CreateUser"),
        responses: &[
            ("201", "the user", Body::Json("User")),
            ("409", "username taken", Body::Json("ErrorBody")),
        ],
    },
    Call {
        method: Method::Post,
        path: "/v1/admin/users/{username}/disable",
        summary: "Disable a user (admin): no more sign-ins, every session ends",
        auth: true,
        query: &[],
        body: Body::Empty,
        responses: ACCOUNT,
    },
    Call {
        method: Method::Post,
        path: "/v1/admin/users/{username}/enable",
        summary: "Let a disabled user sign in again (admin)",
        auth: true,
        query: &[],
        body: Body::Empty,
        responses: ACCOUNT,
    },
    Call {
        method: Method::Post,
        path: "/v1/admin/users/{username}/sign-out",
        summary: "End every session of a user (admin)",
        auth: true,
        query: &[],
        body: Body::Empty,
        responses: ACCOUNT,
    },
    Call {
        method: Method::Post,
        path: "/v1/admin/users/{username}/password",
        summary: "Set a user's password (admin); every session ends; 422 for a weak password",
        auth: true,
        query: &[],
        body: Body::Json("NewPassword"),
        responses: ACCOUNT,
    },
    Call {
        method: Method::Post,
        path: "/v1/admin/customers",
        summary: "Create a customer",
        auth: true,
        query: &[],
        body: Body::Json("Record"),
        responses: CREATED,
    },
    Call {
        method: Method::Post,
        path: "/v1/admin/equipment",
        summary: "Create a piece of equipment",
        auth: true,
        query: &[],
        body: Body::Json("Record"),
        responses: CREATED,
    },
    Call {
        method: Method::Post,
        path: "/v1/admin/work-orders",
        summary: "Create a work order (status new; number leased when absent); 409 for an id that exists",
        auth: true,
        query: &[],
        body: Body::Json("Record"),
        responses: CREATED,
    },
    Call {
        method: Method::Get,
        path: "/v1/admin/work-orders",
        summary: "List work orders (the newest 1000)",
        auth: true,
        query: &[Param {
            name: "status",
            kind: Kind::Named("Status"),
            required: false,
            description: "only orders in this status",
        }],
        body: Body::Empty,
        responses: &[("200", "the orders", Body::Json("WorkOrders"))],
    },
    Call {
        method: Method::Post,
        path: "/v1/admin/work-orders/{id}/assign",
        summary: "Assign engineers (each once) and a manager when two or more go",
        auth: true,
        query: &[],
        body: Body::Json("AssignRequest"),
        responses: &[("204", "assigned", Body::Empty)],
    },
    Call {
        method: Method::Post,
        path: "/v1/admin/work-orders/{id}/cancel",
        summary: "Cancel a work order",
        auth: true,
        query: &[],
        body: Body::Empty,
        responses: &[
            ("204", "cancelled", Body::Empty),
            ("409", "not from its status", Body::Json("ErrorBody")),
        ],
    },
    Call {
        method: Method::Post,
        path: "/v1/admin/work-orders/{id}/close",
        summary: "Close a work order",
        auth: true,
        query: &[],
        body: Body::Empty,
        responses: &[
            ("204", "closed", Body::Empty),
            ("409", "not from its status", Body::Json("ErrorBody")),
        ],
    },
    Call {
        method: Method::Post,
        path: "/v1/admin/checklist-templates",
        summary: "Publish a checklist template 点检表 (ChecklistTemplate of DOMAIN.md, version set by the server: 1 for a new id, the next for an existing one); orders created or assigned afterwards get its items, safety first",
        auth: true,
        query: &[],
        body: Body::Json("Record"),
        responses: &[("201", "{id, version}", Body::Json("Published"))],
    },
    Call {
        method: Method::Get,
        path: "/v1/admin/checklist-templates",
        summary: "The checklist templates, each at its newest version",
        auth: true,
        query: &[],
        body: Body::Empty,
        responses: &[("200", "the templates", Body::Json("Templates"))],
    },
    Call {
        method: Method::Get,
        path: "/v1/admin/quarantine",
        summary: "Operations kept out of scope",
        auth: true,
        query: &[],
        body: Body::Empty,
        responses: &[("200", "the operations", Body::Json("Operations"))],
    },
    Call {
        method: Method::Get,
        path: "/v1/admin/conflicts",
        summary: "Transitions that no longer applied",
        auth: true,
        query: &[],
        body: Body::Empty,
        responses: &[("200", "the operations", Body::Json("Operations"))],
    },
];

/// The schema of one path parameter, by its name.
pub fn path_parameter(name: &str) -> Option<(&'static str, Schema)> {
    let text = ObjectBuilder::new().schema_type(Type::String);
    match name {
        "sha256" => Some((
            "the SHA-256 of the bytes, 64 lowercase hex digits",
            text.pattern(Some("^[0-9a-f]{64}$")).build().into(),
        )),
        "id" => Some((
            "the work order's id",
            text.format(Some(SchemaFormat::KnownFormat(KnownFormat::Uuid)))
                .build()
                .into(),
        )),
        "username" => Some((
            "the user's name",
            text.min_length(Some(1))
                .max_length(Some(onsite_domain::records::MAX_USERNAME_CHARS))
                .build()
                .into(),
        )),
        _ => None,
    }
}

fn add<T: ToSchema>(all: &mut Vec<(String, RefOr<Schema>)>) {
    all.push((T::name().into_owned(), T::schema()));
    T::schemas(all);
}

/// Every named schema the table refers to.
pub fn schemas() -> Vec<(String, RefOr<Schema>)> {
    use crate::api::doc;
    let mut all = Vec::new();
    add::<crate::error::ErrorBody>(&mut all);
    add::<doc::Health>(&mut all);
    add::<doc::Document>(&mut all);
    add::<doc::LoginRequest>(&mut all);
    add::<doc::LoginResponse>(&mut all);
    add::<onsite_domain::protocol::PushRequest>(&mut all);
    add::<onsite_domain::protocol::PushResponse>(&mut all);
    add::<onsite_domain::protocol::PullResponse>(&mut all);
    add::<onsite_domain::protocol::UploadState>(&mut all);
    add::<doc::LeaseRequest>(&mut all);
    add::<doc::Numbers>(&mut all);
    add::<doc::CreateUser>(&mut all);
    add::<onsite_domain::records::User>(&mut all);
    add::<doc::AccountAnswer>(&mut all);
    add::<doc::NewPassword>(&mut all);
    add::<doc::Record>(&mut all);
    add::<doc::Created>(&mut all);
    add::<doc::WorkOrders>(&mut all);
    add::<doc::Reports>(&mut all);
    add::<doc::AssignRequest>(&mut all);
    add::<doc::Published>(&mut all);
    add::<doc::Templates>(&mut all);
    add::<doc::Operations>(&mut all);
    let mut seen = std::collections::HashSet::new();
    all.retain(|(name, _)| seen.insert(name.clone()));
    all
}

fn content(body: Body) -> Option<(&'static str, utoipa::openapi::Content)> {
    match body {
        Body::Empty => None,
        Body::Json(name) => Some((
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name(name)))
                .build(),
        )),
        Body::Bytes(media) => Some((
            media,
            ContentBuilder::new()
                .schema(Some(
                    ObjectBuilder::new()
                        .schema_type(Type::String)
                        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Binary))),
                ))
                .build(),
        )),
        Body::Text(media) => Some((
            media,
            ContentBuilder::new()
                .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
                .build(),
        )),
    }
}

fn query_schema(kind: Kind) -> RefOr<Schema> {
    let object = match kind {
        Kind::Text => ObjectBuilder::new()
            .schema_type(Type::String)
            .max_length(Some(200)),
        Kind::Count(min) => ObjectBuilder::new()
            .schema_type(Type::Integer)
            .minimum(Some(min as f64)),
        Kind::OneOf(values) => ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(values.iter().copied())),
        Kind::Named(name) => return Ref::from_schema_name(name).into(),
    };
    RefOr::T(Schema::Object(object.build()))
}

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
            let mut op = OperationBuilder::new()
                .summary(Some(call.summary))
                .operation_id(Some(format!("{} {}", call.method.as_str(), call.path)));
            let mut codes: Vec<&str> = Vec::new();
            for (code, description, body) in call.responses {
                let mut answer = ResponseBuilder::new().description(*description);
                if call.method != Method::Head
                    && let Some((media, c)) = content(*body)
                {
                    answer = answer.content(media, c);
                }
                op = op.response(*code, answer);
                codes.push(code);
            }
            if call.method != Method::Head {
                for (code, description) in [
                    ("4XX", "refused: {error: {code, message}}"),
                    (
                        "503",
                        "busy or out of room: try again after Retry-After seconds",
                    ),
                ] {
                    if !codes.contains(&code) {
                        op = op.response(
                            code,
                            ResponseBuilder::new().description(description).content(
                                "application/json",
                                ContentBuilder::new()
                                    .schema(Some(Ref::from_schema_name("ErrorBody")))
                                    .build(),
                            ),
                        );
                    }
                }
            }
            if let Some((media, c)) = content(call.body) {
                op = op.request_body(Some(
                    RequestBodyBuilder::new()
                        .content(media, c)
                        .required(Some(Required::True))
                        .build(),
                ));
            }
            for name in ["sha256", "id", "username"] {
                if path.contains(&format!("{{{name}}}"))
                    && let Some((description, schema)) = path_parameter(name)
                {
                    op = op.parameter(
                        ParameterBuilder::new()
                            .name(name)
                            .parameter_in(ParameterIn::Path)
                            .description(Some(description))
                            .required(Required::True)
                            .schema(Some(schema)),
                    );
                }
            }
            for q in call.query {
                op = op.parameter(
                    ParameterBuilder::new()
                        .name(q.name)
                        .parameter_in(ParameterIn::Query)
                        .description(Some(q.description))
                        .required(if q.required {
                            Required::True
                        } else {
                            Required::False
                        })
                        .schema(Some(query_schema(q.kind))),
                );
            }
            if call.auth {
                op = op.security(SecurityRequirement::new("bearer", Vec::<String>::new()));
            }
            item = item.operation(call.method.openapi(), op.build());
        }
        paths = paths.path(path, item.build());
    }
    let components = ComponentsBuilder::new()
        .schemas_from_iter(schemas())
        .security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        )
        .build();
    OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("Onsite sync API")
                .version("1")
                .description(Some(
                    "The contract of PROTOCOL.md. Errors: HTTP status + {\"error\":{\"code\",\"message\"}}; 429 and 503 carry Retry-After.",
                ))
                .build(),
        )
        .paths(paths.build())
        .components(Some(components))
        .build()
}
