//! The JSON API: tokens, the merchant's shop/products/keys, admin actions, errors, OpenAPI, health, metrics.

use crate::app::TestApp;
use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use serde_json::json;

#[tokio::test]
async fn token_lifecycle_create_list_revoke_and_revoked_is_refused() {
    let app = TestApp::new().await;
    let token = app.merchant_token("tok_merchant").await;
    assert!(token.starts_with("kb_") && token.len() > 40);
    let list = app.api("GET", "/api/v1/tokens", Some(&token), None).await;
    assert_eq!(list.status, StatusCode::OK);
    let tokens = list.json();
    assert_eq!(tokens.as_array().map(Vec::len), Some(1));
    assert!(!list.body.contains(&token), "the secret is never listed");
    let id = tokens[0]["id"].as_i64().unwrap();
    let second = app.token("tok_merchant", "merchant-pass-1").await;
    assert_eq!(
        app.api("DELETE", &format!("/api/v1/tokens/{id}"), Some(&second), None).await.status,
        StatusCode::NO_CONTENT
    );
    let refused = app.api("GET", "/api/v1/merchant/products", Some(&token), None).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    assert_eq!(refused.json()["code"], "auth.required");
    // Revoking again, or someone else's token, is a 404.
    assert_eq!(
        app.api("DELETE", &format!("/api/v1/tokens/{id}"), Some(&second), None).await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn wrong_password_is_refused_then_throttled() {
    let app = TestApp::new().await;
    app.merchant_token("throttled").await;
    let body = json!({"username": "throttled", "password": "wrong-password", "name": "x"});
    let res = app.api("POST", "/api/v1/tokens", None, Some(body.clone())).await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    assert_eq!(res.json()["code"], "auth.invalid_credentials");
    for _ in 0..9 {
        app.api("POST", "/api/v1/tokens", None, Some(body.clone())).await;
    }
    let res = app
        .api(
            "POST",
            "/api/v1/tokens",
            None,
            Some(json!({"username": "throttled", "password": "merchant-pass-1", "name": "x"})),
        )
        .await;
    assert_eq!(
        res.status,
        StatusCode::TOO_MANY_REQUESTS,
        "even the right password waits once the account is throttled"
    );
    assert_eq!(res.json()["code"], "auth.throttled");
    app.clock.advance_seconds(16 * 60);
    let res = app
        .api(
            "POST",
            "/api/v1/tokens",
            None,
            Some(json!({"username": "throttled", "password": "merchant-pass-1", "name": "x"})),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED);
}

#[tokio::test]
async fn unknown_and_invalid_fields_are_named_and_change_nothing() {
    let app = TestApp::new().await;
    let (token, _) = app.merchant_with_product("fields").await;
    let res = app
        .api("POST", "/api/v1/merchant/products", Some(&token), Some(json!({"title": "x", "category": "game_card", "kind": "standard", "price_fen": 100, "max_per_order": 1, "colour": "red"})))
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert_eq!(res.json()["code"], "request.invalid_body");
    assert_eq!(res.json()["field"], "colour");
    let res = app
        .api(
            "POST",
            "/api/v1/merchant/products",
            Some(&token),
            Some(
                json!({"title": "x", "category": "game_card", "kind": "standard", "price_fen": 0, "max_per_order": 1}),
            ),
        )
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert_eq!(res.json()["code"], "product.price_invalid");
    assert_eq!(res.json()["field"], "price");
    let list = app.api("GET", "/api/v1/merchant/products", Some(&token), None).await.json();
    assert_eq!(list.as_array().map(Vec::len), Some(1), "nothing was created");
}

#[tokio::test]
async fn errors_speak_english_when_asked() {
    let app = TestApp::new().await;
    let req = Request::get("/api/v1/products/999")
        .header(header::ACCEPT_LANGUAGE, "en-US,en;q=0.9")
        .body(Body::empty())
        .unwrap();
    let res = app.send(req).await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    // `error` is the stable code; `code` repeats it for clients written before `error` (deprecated).
    let mut body = res.json();
    let request_id = body.as_object_mut().and_then(|o| o.remove("request_id"));
    assert!(request_id.as_ref().is_some_and(|v| v.is_string()), "every error quotes its request id");
    assert_eq!(body, json!({"error": "product.not_found", "code": "product.not_found", "message": "Not found"}));
    let res = app.get("/api/v1/products/999").await;
    assert_eq!(res.json()["message"], "找不到该内容");
}

#[tokio::test]
async fn import_reports_lines_and_another_merchant_gets_404_everywhere() {
    let app = TestApp::new().await;
    let (owner, product) = app.merchant_with_product("owner_a").await;
    let (intruder, _) = app.merchant_with_product("intruder_b").await;
    let res = app.import(&owner, product, "KEY-1\n\nbad----\nKEY-2\nKEY-1\n").await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let r = res.json();
    assert_eq!(r["accepted_count"], 2);
    assert_eq!(r["accepted_lines"], json!([[1, 1], [4, 4]]));
    assert_eq!(r["malformed"][0]["line"], 3);
    assert_eq!(r["malformed"][0]["problem"], "import.line_missing_password");
    assert_eq!(
        r["duplicates"][0],
        json!({"line": 5, "same_as_line": 1, "problem": null, "message": "第 5 行：重复（与第 1 行相同）"})
    );
    let batch = r["batch_id"].as_i64().unwrap();

    for (method, path) in [
        ("GET", format!("/api/v1/merchant/products/{product}")),
        ("GET", format!("/api/v1/merchant/products/{product}/keys")),
        ("GET", format!("/api/v1/merchant/products/{product}/batches")),
        ("POST", format!("/api/v1/merchant/batches/{batch}/void")),
    ] {
        let res = app.api(method, &path, Some(&intruder), None).await;
        assert_eq!(res.status, StatusCode::NOT_FOUND, "{method} {path}: {}", res.body);
        assert!(!res.body.contains("KEY-"), "{path} leaked a key");
    }
    let res = app
        .api("PUT", &format!("/api/v1/merchant/products/{product}"), Some(&intruder), Some(json!({"title": "mine now", "category": "game_card", "kind": "standard", "price_fen": 1, "max_per_order": 1})))
        .await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    let res = app.import(&intruder, product, "EVIL-1\n").await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    assert_eq!(res.json()["code"], "product.not_found");
    assert_eq!(app.stock(product).await, 2, "nothing imported by the intruder");

    // The owner reads the keys, uncached.
    let res =
        app.api("GET", &format!("/api/v1/merchant/products/{product}/keys?state=available"), Some(&owner), None).await;
    assert_eq!(res.headers.get(header::CACHE_CONTROL).and_then(|v| v.to_str().ok()), Some("no-store"));
    let secrets: Vec<String> =
        res.json().as_array().unwrap().iter().map(|k| k["secret"].as_str().unwrap().to_string()).collect();
    assert_eq!(secrets, vec!["KEY-1", "KEY-2"]);
    // Public views show stock, never keys.
    let public = app.get(&format!("/api/v1/products/{product}")).await;
    assert_eq!(public.json()["stock_available"], 2);
    assert!(!public.body.contains("KEY-"));
    // Voiding the unsold batch empties the stock, once.
    let res = app.api("POST", &format!("/api/v1/merchant/batches/{batch}/void"), Some(&owner), None).await;
    assert_eq!(res.json()["voided"], 2);
    assert_eq!(app.stock(product).await, 0);
    let res = app.api("POST", &format!("/api/v1/merchant/batches/{batch}/void"), Some(&owner), None).await;
    assert_eq!(res.status, StatusCode::CONFLICT);
}

/// A product's batches, through the API and on the key page: 20 a page, newest first, every batch once, the
/// counts by state on each; the page links to the older batches and back to the newest.
async fn batches_page_story(app: TestApp) {
    let (owner, product) = app.merchant_with_product("batch_pager").await;
    let mut newest_first = Vec::new();
    for i in 0..22 {
        let res = app.import(&owner, product, &format!("PAGED-{i:02}\n")).await;
        newest_first.insert(0, res.json()["batch_id"].as_i64().unwrap());
    }
    let path = format!("/api/v1/merchant/products/{product}/batches");
    let first = app.api("GET", &path, Some(&owner), None).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.body);
    let first = first.json();
    let cursor = first["next_cursor"].as_str().unwrap().to_string();
    let second = app.api("GET", &format!("{path}?cursor={cursor}"), Some(&owner), None).await.json();
    assert!(second["next_cursor"].is_null(), "{second}");
    let ids = |page: &serde_json::Value| -> Vec<i64> {
        page["batches"].as_array().unwrap().iter().map(|b| b["id"].as_i64().unwrap()).collect()
    };
    let mut all = ids(&first);
    assert_eq!(all.len(), 20);
    all.extend(ids(&second));
    assert_eq!(all, newest_first);
    let newest = &first["batches"][0];
    assert_eq!(
        (newest["available"].clone(), newest["sold"].clone(), newest["voided"].clone()),
        (json!(1), json!(0), json!(0))
    );
    let bad = app.api("GET", &format!("{path}?cursor=abc"), Some(&owner), None).await;
    assert_eq!((bad.status, bad.json()["field"].clone()), (StatusCode::BAD_REQUEST, json!("cursor")));

    let mut b = app.browser();
    b.login("batch_pager", "merchant-pass-1").await;
    let page = b.get(&format!("/console/products/{product}")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains(&format!("批次 #{} ·", newest_first[0])), "the newest batch is shown");
    assert!(!page.body.contains(&format!("批次 #{} ·", newest_first[21])), "the oldest is on the next page");
    let older = format!("/console/products/{product}?batch_cursor={cursor}#batches");
    assert!(page.body.contains(&format!("id=\"batches-older\" href=\"{older}\">更早的批次")), "{}", page.body);
    assert!(!page.body.contains("id=\"batches-newest\""), "the first page links to no newer one");
    let page = b.get(&format!("/console/products/{product}?batch_cursor={cursor}")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains(&format!("批次 #{} ·", newest_first[21])));
    assert!(!page.body.contains(&format!("批次 #{} ·", newest_first[0])));
    assert!(!page.body.contains("id=\"batches-older\""), "nothing older than the last page");
    assert!(page.body.contains(&format!("id=\"batches-newest\" href=\"/console/products/{product}#batches\">")));
    assert_eq!(b.get(&format!("/console/products/{product}?batch_cursor=x")).await.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn sqlite_batches_page_newest_first_by_cursor() {
    let app = TestApp::new().await;
    // The document says what the list answers: a page with its cursor, taking the cursor of the previous one.
    let doc = app.get("/api/openapi.json").await.json();
    let list = &doc["paths"]["/api/v1/merchant/products/{id}/batches"]["get"];
    let params = list["parameters"].as_array().unwrap();
    assert!(params.iter().any(|p| p["name"] == "cursor" && p["in"] == "query"), "{list}");
    let ok = &list["responses"]["200"]["content"]["application/json"]["schema"]["$ref"];
    assert_eq!(ok, "#/components/schemas/BatchesPageView");
    assert!(doc["components"]["schemas"]["BatchesPageView"]["properties"]["next_cursor"].is_object());
    batches_page_story(app).await;
}

#[tokio::test]
async fn postgres_batches_page_newest_first_by_cursor() {
    let Some(app) = TestApp::postgres().await else { return };
    batches_page_story(app).await;
}

#[tokio::test]
async fn oversize_upload_is_413_and_imports_nothing() {
    let app = TestApp::new().await;
    let (token, product) = app.merchant_with_product("big_upload").await;
    let line = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789\n";
    let big = line.repeat(kabao_app::inventory::MAX_UPLOAD_BYTES / line.len() + 10);
    let res = app.import(&token, product, &big).await;
    assert_eq!(res.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(res.json()["code"], "import.too_large");
    assert_eq!(app.stock(product).await, 0);
}

#[tokio::test]
async fn buyers_cannot_use_merchant_or_admin_endpoints() {
    let app = TestApp::new().await;
    kabao_app::accounts::create_user(
        &*app.state.store,
        "just_a_buyer",
        "buyer-pass-1",
        kabao_core::user::Role::Buyer,
        None,
        crate::app::T0,
    )
    .await
    .unwrap();
    let token = app.token("just_a_buyer", "buyer-pass-1").await;
    assert_eq!(
        app.api("POST", "/api/v1/merchant/shop", Some(&token), Some(json!({"name": "x"}))).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(app.api("GET", "/api/v1/admin/users", Some(&token), None).await.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn admin_certifies_and_suspends_and_suspended_products_leave_the_catalog() {
    let app = TestApp::new().await;
    let (_, product) = app.merchant_with_product("to_suspend").await;
    let (_, password) = kabao_app::accounts::ensure_admin(&*app.state.store, crate::app::T0).await.unwrap().unwrap();
    let admin = app.token("admin", &password).await;
    let shops = app.api("GET", "/api/v1/admin/shops", Some(&admin), None).await.json();
    let shop = shops[0]["id"].as_i64().unwrap();
    let res = app
        .api(
            "PUT",
            &format!("/api/v1/admin/shops/{shop}/certification"),
            Some(&admin),
            Some(json!({"level": "enterprise"})),
        )
        .await;
    assert_eq!(res.json()["certification"], "enterprise");
    let res = app
        .api(
            "PUT",
            &format!("/api/v1/admin/shops/{shop}/certification"),
            Some(&admin),
            Some(json!({"level": "platinum"})),
        )
        .await;
    assert_eq!((res.status, res.json()["field"].clone()), (StatusCode::BAD_REQUEST, json!("level")));
    let res = app
        .api("PUT", &format!("/api/v1/admin/shops/{shop}/suspension"), Some(&admin), Some(json!({"suspended": true})))
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "a reason is required");
    let listed = app.get("/api/v1/products").await.json();
    assert_eq!(listed.as_array().map(Vec::len), Some(1));
    let res = app
        .api(
            "PUT",
            &format!("/api/v1/admin/shops/{shop}/suspension"),
            Some(&admin),
            Some(json!({"suspended": true, "reason": "售假"})),
        )
        .await;
    assert_eq!(res.json()["suspended"], true);
    assert_eq!(app.get("/api/v1/products").await.json().as_array().map(Vec::len), Some(0));
    assert_eq!(app.get(&format!("/api/v1/products/{product}")).await.status, StatusCode::NOT_FOUND);
    assert!(!app.get("/").await.body.contains("点卡 10 元"));
}

#[tokio::test]
async fn openapi_health_and_metrics() {
    let app = TestApp::new().await;
    let doc = app.get("/api/openapi.json").await.json();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    for path in [
        "/api/v1/tokens",
        "/api/v1/merchant/products/{id}/keys",
        "/api/v1/admin/shops/{id}/certification",
        "/api/v1/products",
        "/api/v1/orders/{order_no}/claims",
        "/api/v1/orders/{order_no}/claims/{claim_no}/evidence",
        "/api/v1/orders/{order_no}/claims/{claim_no}/escalate",
        "/api/v1/orders/{order_no}/complaint-package",
        "/api/v1/merchant/claims",
        "/api/v1/merchant/claims/{claim_no}/decision",
        "/api/v1/merchant/claims/{claim_no}/evidence",
        "/api/v1/merchant/fund/join",
        "/api/v1/arbiter/disputes/{claim_no}",
        "/api/v1/arbiter/disputes/{claim_no}/ruling",
        "/api/v1/fund",
        "/api/v1/orders/{order_no}/review",
        "/api/v1/shops/{id}/reviews",
        "/api/v1/products/{id}/reviews",
        "/api/v1/merchant/reviews/{id}/reply",
        "/api/v1/shops/{id}/trust",
        "/api/v1/merchant/certification",
        "/api/v1/admin/certifications",
        "/api/v1/admin/certifications/{id}/decision",
        "/api/v1/orders/{order_no}/messages",
        "/api/v1/merchant/orders/{order_no}/messages",
        "/api/v1/arbiter/orders/{order_no}/messages",
        "/api/v1/admin/risk",
        "/api/v1/admin/risk/shops/{id}/review",
    ] {
        assert!(doc["paths"].get(path).is_some(), "OpenAPI lacks {path}");
    }
    assert_eq!(app.get("/healthz").await.json(), json!({"status": "ok"}));
    app.get("/api/v1/products").await;
    // Without a configured token the main listener has no /metrics; the metrics listener's router serves it.
    assert_eq!(app.get("/metrics").await.status, StatusCode::NOT_FOUND);
    let metrics = {
        use tower::ServiceExt;
        let res = kabao_server::metrics_router(app.state.clone())
            .oneshot(Request::get("/metrics").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        let bytes = axum::body::to_bytes(res.into_body(), usize::MAX).await.unwrap();
        String::from_utf8(bytes.to_vec()).unwrap()
    };
    assert!(
        metrics.contains("kabao_http_requests_total{method=\"GET\",route=\"/api/v1/products\",status=\"200\"} 1"),
        "{metrics}"
    );
    assert!(metrics.contains("kabao_http_request_duration_seconds"));
}

#[tokio::test]
async fn malformed_paths_queries_methods_and_bodies_get_the_json_error_shape() {
    let app = TestApp::new().await;
    let (token, product) = app.merchant_with_product("shape_m").await;
    let cases = [
        ("GET", "/api/v1/products/abc".to_string(), StatusCode::NOT_FOUND, "request.not_found", None),
        ("GET", "/api/v1/products/99999999999999999999".into(), StatusCode::NOT_FOUND, "request.not_found", None),
        ("GET", "/api/v1/products?limit=abc".into(), StatusCode::BAD_REQUEST, "request.invalid_query", Some("limit")),
        // Out of the documented range: refused naming the parameter, never silently clamped.
        ("GET", "/api/v1/products?limit=0".into(), StatusCode::BAD_REQUEST, "request.invalid_query", Some("limit")),
        ("GET", "/api/v1/products?limit=201".into(), StatusCode::BAD_REQUEST, "request.invalid_query", Some("limit")),
        ("GET", "/api/v1/products?offset=-1".into(), StatusCode::BAD_REQUEST, "request.invalid_query", Some("offset")),
        (
            "GET",
            format!("/api/v1/merchant/products/{product}/keys?offset=x"),
            StatusCode::BAD_REQUEST,
            "request.invalid_query",
            Some("offset"),
        ),
        (
            "GET",
            format!("/api/v1/merchant/products/{product}/keys?colour=red"),
            StatusCode::BAD_REQUEST,
            "request.invalid_query",
            Some("colour"),
        ),
        ("DELETE", "/api/v1/products".into(), StatusCode::METHOD_NOT_ALLOWED, "request.method_not_allowed", None),
    ];
    for (method, path, status, code, field) in cases {
        let res = app.api(method, &path, Some(&token), None).await;
        assert_eq!(res.status, status, "{method} {path}: {}", res.body);
        let body = res.json();
        assert_eq!(body["code"], code, "{method} {path}");
        assert_eq!(body["field"].as_str(), field, "{method} {path}");
        assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()));
    }

    // A mistyped field is named; a body over the limit is 413, not a parse error.
    let res = app.api("PUT", "/api/v1/merchant/shop", Some(&token), Some(json!({"name": 5}))).await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert_eq!(res.json()["field"], "name");
    let res = app.api("PUT", "/api/v1/merchant/shop", Some(&token), Some(json!({"name": "x".repeat(3 << 20)}))).await;
    assert_eq!(res.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(res.json()["code"], "request.too_large");
    assert!(app.api("GET", "/api/v1/merchant/shop", Some(&token), None).await.json()["name"] == "shape_m 的店");
}

#[tokio::test]
async fn concurrent_guesses_cannot_outrun_the_account_throttle() {
    let app = TestApp::new().await;
    app.merchant_token("raced").await;
    let mut guesses = tokio::task::JoinSet::new();
    for i in 0..40 {
        let router = app.router.clone();
        let body = json!({"username": "raced", "password": format!("guess-{i}"), "name": "x"});
        guesses.spawn(async move {
            use tower::ServiceExt;
            let req = Request::post("/api/v1/tokens")
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(body.to_string()))
                .unwrap();
            router.oneshot(req).await.unwrap().status()
        });
    }
    let mut checked = 0;
    while let Some(status) = guesses.join_next().await {
        let status = status.unwrap();
        assert!(status == StatusCode::UNAUTHORIZED || status == StatusCode::TOO_MANY_REQUESTS, "{status}");
        checked += usize::from(status == StatusCode::UNAUTHORIZED);
    }
    // Every password actually checked counts against the limit (10 per window), however many run at once.
    assert!(checked <= 10, "{checked} guesses were checked");
}

#[tokio::test]
async fn a_whole_number_written_as_4_point_0_is_accepted_as_json_schema_says() {
    let app = TestApp::new().await;
    let token = app.merchant_token("whole_m").await;
    app.api("POST", "/api/v1/merchant/shop", Some(&token), Some(json!({"name": "整数小店"}))).await;
    let body =
        json!({"title": "点卡", "category": "game_card", "kind": "standard", "price_fen": 600.0, "max_per_order": 5.0});
    let res = app.api("POST", "/api/v1/merchant/products", Some(&token), Some(body)).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    assert_eq!((res.json()["price_fen"].clone(), res.json()["max_per_order"].clone()), (json!(600), json!(5)));
    let body =
        json!({"title": "点卡", "category": "game_card", "kind": "standard", "price_fen": 600.5, "max_per_order": 5});
    let res = app.api("POST", "/api/v1/merchant/products", Some(&token), Some(body)).await;
    assert_eq!((res.status, res.json()["error"].clone()), (StatusCode::BAD_REQUEST, json!("request.invalid_body")));
    assert_eq!(res.json()["field"], "price_fen");
    // An id written as 7.0 is the id 7: no such payee, not a malformed body.
    let body = json!({"amount_fen": 100.0, "payee_id": 7.0});
    let res = app.api("POST", "/api/v1/merchant/withdrawals", Some(&token), Some(body)).await;
    assert_eq!((res.status, res.json()["error"].clone()), (StatusCode::NOT_FOUND, json!("payee.not_found")));
}

#[tokio::test]
async fn an_operation_the_products_kind_does_not_take_is_a_409_conflict() {
    let app = TestApp::new().await;
    let (token, product) = app.merchant_with_product("kind_m").await;
    let res = app
        .api(
            "PUT",
            &format!("/api/v1/merchant/products/{product}/shared-secret"),
            Some(&token),
            Some(json!({"secret": "acc----pw", "stock": 3})),
        )
        .await;
    assert_eq!((res.status, res.json()["error"].clone()), (StatusCode::CONFLICT, json!("product.not_shared")));
    let body = json!({"fields": ["游戏账号"], "delivery_hours": 24, "stock": 3});
    let res =
        app.api("PUT", &format!("/api/v1/merchant/products/{product}/custom-fields"), Some(&token), Some(body)).await;
    assert_eq!((res.status, res.json()["error"].clone()), (StatusCode::CONFLICT, json!("product.not_custom")));
}

#[tokio::test]
async fn the_served_document_is_the_contract() {
    let app = TestApp::new().await;
    let doc = app.get("/api/openapi.json").await.json();
    let schemas = &doc["components"]["schemas"];
    for name in
        ["Error", "ClaimReason", "TrustReason", "ClaimDecisionInput", "WithdrawalDecisionInput", "EvidenceUpload"]
    {
        assert!(schemas[name].is_object(), "{name}");
    }
    let list = &doc["paths"]["/api/v1/admin/users"]["get"]["parameters"];
    assert!(list.as_array().is_some_and(|ps| ps.iter().all(|p| p["in"] == "query")), "{list}");
    let not_found = &doc["paths"]["/api/v1/orders/{order_no}"]["get"]["responses"]["404"];
    assert_eq!(not_found["content"]["application/json"]["schema"]["$ref"], "#/components/schemas/Error");
}
