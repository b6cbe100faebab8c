//! The OpenAPI document: the committed copy is what the code generates, the service serves it,
//! and every operation it lists is routed.

use app::openapi::{self, COMMITTED_COPY};
use serde_json::Value;

use crate::helpers::spawn_app;

/// rust-analyzer's "sourcegen" way: a stale copy is rewritten (outside CI) and the test
/// fails, so the change is seen, reviewed and committed.
#[test]
fn the_committed_copy_is_what_the_code_generates() {
    let generated = openapi::to_json(&openapi::document());
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("openapi.json");
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    if committed == generated {
        return;
    }
    let mut note = "it is left as it is (CI is set)";
    if std::env::var_os("CI").is_none() {
        std::fs::write(&path, &generated).unwrap();
        note = "it has been rewritten: review the change and commit it";
    }
    panic!("{COMMITTED_COPY} is not what the code generates; {note} (`cargo run -p app -- openapi` prints it)");
}

#[test]
fn the_document_is_openapi_3_1_with_the_error_shape_and_every_route() {
    let doc: Value = serde_json::from_str(&openapi::to_json(&openapi::document())).unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    let operations: Vec<String> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| item.as_object().unwrap().keys().map(move |m| format!("{} {path}", m.to_uppercase())))
        .collect();
    assert_eq!(
        operations,
        [
            "POST /api/v1/auth/login",
            "GET /api/v1/merchants",
            "POST /api/v1/merchants",
            "GET /api/v1/openapi.json",
            "POST /api/v1/users",
            "GET /health/live",
            "GET /health/ready",
        ]
    );
    let error = &doc["components"]["schemas"]["Error"];
    assert_eq!(error["required"], serde_json::json!(["code", "message", "request_id"]));
    let register = &doc["paths"]["/api/v1/users"]["post"]["responses"];
    assert_eq!(register["422"]["$ref"], "#/components/responses/ValidationError");
    assert_eq!(register["429"]["$ref"], "#/components/responses/RateLimited");
    assert!(doc["components"]["responses"]["RateLimited"]["headers"]["Retry-After"].is_object());
    // The probes are not rate-limited.
    assert!(doc["paths"]["/health/ready"]["get"]["responses"].get("429").is_none());
}

#[tokio::test]
async fn the_service_serves_the_document_and_routes_every_operation_in_it() {
    let app = spawn_app().await;
    let response = app.get("/api/v1/openapi.json", None).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    let served = response.text().await.unwrap();
    assert_eq!(served, openapi::to_json(&openapi::document()));

    let doc: Value = serde_json::from_str(&served).unwrap();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            let request = app.client.request(method.to_uppercase().parse().unwrap(), app.url(path));
            let status = request.send().await.unwrap().status().as_u16();
            assert!(![404, 405].contains(&status), "{method} {path}: {status}");
        }
    }
}
