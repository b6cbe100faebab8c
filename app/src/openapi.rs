//! The OpenAPI 3.1 document: the operations the routers collected from the handlers'
//! `#[utoipa::path]` annotations (`routes::all`), plus what every operation shares: the error
//! shape and the errors any route can answer with, the `X-Request-ID` header, and the bearer
//! scheme. Served at `/api/v1/openapi.json`; `app/openapi.json` is a committed copy that a
//! test keeps identical, so a change to the API shows up in review.

use utoipa::OpenApi as _;
use utoipa::openapi::path::Operation;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{Content, Header, OpenApi, Ref, RefOr, Response, ResponseBuilder, Type};

use crate::error::ErrorBody;
use crate::routes::{self, API_PREFIX};

/// The request id header, as the document spells it (`crate::request_id`).
const REQUEST_ID: &str = "X-Request-ID";

/// Where the committed copy lives, relative to the workspace root.
pub const COMMITTED_COPY: &str = "app/openapi.json";

#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "ClickNBack API",
        description = "Users, login and merchants of the ClickNBack cashback service. Errors (4xx and 5xx) \
                       share one shape, `Error`; clients branch on its `code`."
    ),
    tags(
        (name = "health", description = "Probes for the orchestrator (outside the versioned API)"),
        (name = "users", description = "Registration"),
        (name = "auth", description = "Bearer tokens"),
        (name = "merchants", description = "Merchants and their cashback rates"),
        (name = "meta", description = "This document"),
    ),
    components(schemas(ErrorBody, crate::error::FieldError))
)]
struct Base;

/// The document, built from the same route table the service serves.
pub fn document() -> OpenApi {
    complete(routes::all().into_openapi())
}

/// The collected operations with the shared parts added.
pub fn complete(collected: OpenApi) -> OpenApi {
    let mut doc = Base::openapi().merge_from(collected);
    let components = doc.components.get_or_insert_with(Default::default);
    components.add_security_scheme("bearer", SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)));
    components.headers.insert(REQUEST_ID.to_owned(), RefOr::T(request_id_header()));
    for (name, mut response) in shared_responses() {
        response.headers.insert(REQUEST_ID.to_owned(), request_id_ref());
        components.responses.insert(name.to_owned(), RefOr::T(response));
    }
    for (path, item) in doc.paths.paths.iter_mut() {
        let in_api = path.starts_with(API_PREFIX);
        for operation in [&mut item.get, &mut item.post].into_iter().flatten() {
            add_shared(operation, in_api);
        }
    }
    doc
}

/// The JSON text, as served and as committed (pretty, with a final newline).
pub fn to_json(doc: &OpenApi) -> String {
    let mut json = doc.to_pretty_json().expect("an OpenAPI document serializes");
    json.push('\n');
    json
}

/// Which shared responses an operation gets: every one can time out or fail; the API's are
/// rate-limited; those with a body can send one that is not JSON, too large, or invalid.
fn add_shared(operation: &mut Operation, in_api: bool) {
    let mut shared = vec![("408", "Timeout"), ("500", "InternalError")];
    if in_api {
        shared.push(("429", "RateLimited"));
    }
    if operation.request_body.is_some() {
        shared.extend([("400", "BadRequest"), ("413", "PayloadTooLarge"), ("415", "UnsupportedMediaType")]);
        shared.push(("422", "ValidationError"));
    }
    for (status, name) in shared {
        operation.responses.responses.entry(status.to_owned()).or_insert_with(|| Ref::from_response_name(name).into());
    }
    for response in operation.responses.responses.values_mut() {
        if let RefOr::T(response) = response {
            response.headers.entry(REQUEST_ID.to_owned()).or_insert_with(request_id_ref);
        }
    }
}

fn request_id_ref() -> RefOr<Header> {
    RefOr::Ref(Ref::new(format!("#/components/headers/{REQUEST_ID}")))
}

fn request_id_header() -> Header {
    let mut header = Header::new(utoipa::openapi::ObjectBuilder::new().schema_type(Type::String));
    header.description = Some("The request's id (the client's, when usable), to find its log lines".to_owned());
    header
}

/// The errors every operation may answer with, in the `Error` shape.
fn shared_responses() -> Vec<(&'static str, Response)> {
    let error = |description: &str| {
        ResponseBuilder::new()
            .description(description)
            .content("application/json", Content::new(Some(Ref::from_schema_name(error_schema_name()))))
    };
    let mut retry_after = Header::new(utoipa::openapi::ObjectBuilder::new().schema_type(Type::Integer));
    retry_after.description = Some("Seconds until a request will be accepted again".to_owned());
    vec![
        ("BadRequest", error("The body is not JSON, or not a JSON object (`bad_request`)").build()),
        ("PayloadTooLarge", error("The body is larger than `MAX_BODY_BYTES` (`payload_too_large`)").build()),
        ("UnsupportedMediaType", error("The body is not `application/json` (`unsupported_media_type`)").build()),
        (
            "ValidationError",
            error("Fields are missing or invalid, all listed in `details` (`validation_error`)").build(),
        ),
        ("RateLimited", error("Over a rate limit (`rate_limited`)").header("Retry-After", retry_after).build()),
        ("Timeout", error("The request took longer than `REQUEST_TIMEOUT_MS` (`timeout`)").build()),
        ("InternalError", error("An unexpected failure, logged with the request id (`internal_error`)").build()),
    ]
}

/// `ErrorBody` is named `Error` in the document.
fn error_schema_name() -> String {
    <ErrorBody as utoipa::ToSchema>::name().into_owned()
}
