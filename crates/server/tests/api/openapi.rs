//! The OpenAPI description of the JSON API: served without a token, and it describes
//! exactly the routes the service answers under /api/v1, method by method.

use std::collections::{BTreeMap, BTreeSet};

use app::Role;

use crate::helpers::{Db, spawn_app, token};
use crate::on_both_databases;

on_both_databases!(the_openapi_document_describes_exactly_the_json_routes);

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

async fn the_openapi_document_describes_exactly_the_json_routes(db: Db) {
    let app = spawn_app(db).await;
    let response = app.http.get(app.url("/api/v1/openapi.json")).send().await.expect("served");
    assert_eq!(response.status().as_u16(), 200, "no token needed");
    assert_eq!(response.headers()["content-type"], "application/json");
    let document: serde_json::Value = response.json().await.expect("the document is JSON");
    assert!(document["openapi"].as_str().is_some_and(|v| v.starts_with("3.1.")), "{}", document["openapi"]);
    assert_refs_resolve(&document, &document);

    let paths = document["paths"].as_object().expect("paths");
    let documented: BTreeMap<&str, BTreeSet<&str>> = paths
        .iter()
        .map(|(path, item)| (path.as_str(), METHODS.into_iter().filter(|m| item.get(*m).is_some()).collect()))
        .collect();
    let routes = api::http::json_routes();
    let routed: BTreeSet<&str> = routes.iter().map(|(path, _)| *path).collect();
    let documented_paths: BTreeSet<&str> = documented.keys().copied().collect();
    assert_eq!(documented_paths, routed, "every JSON route is documented, and every documented path is routed");

    // Each documented operation is answered by its handler; every other method on the
    // path is not (405, or the gRPC fallback that answers unknown routes).
    let bearer = format!("Bearer {}", token("user-1", &[Role::User]));
    for (path, methods) in &documented {
        for method in METHODS {
            let response = app
                .http
                .request(method.to_uppercase().parse().expect("method"), app.url(path))
                .header("authorization", &bearer)
                .json(&serde_json::json!({}))
                .send()
                .await
                .expect("answered");
            let status = response.status().as_u16();
            let handled = status != 404 && status != 405 && !response.headers().contains_key("grpc-status");
            assert_eq!(handled, methods.contains(method), "{method} {path} answered {status}");
        }
    }
    app.assert_ledger_ok();
    app.stop().await;
}

/// Every `$ref` of the document points at something in it.
fn assert_refs_resolve(document: &serde_json::Value, node: &serde_json::Value) {
    match node {
        serde_json::Value::Object(map) => {
            if let Some(target) = map.get("$ref").and_then(|r| r.as_str()) {
                let pointer = target.strip_prefix('#').unwrap_or_else(|| panic!("{target} is not local"));
                assert!(document.pointer(pointer).is_some(), "{target} points at nothing");
            }
            map.values().for_each(|value| assert_refs_resolve(document, value));
        }
        serde_json::Value::Array(items) => items.iter().for_each(|value| assert_refs_resolve(document, value)),
        _ => {}
    }
}
