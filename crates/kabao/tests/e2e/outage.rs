//! The database going away under a running server (PostgreSQL): requests fail fast with 503 and `Retry-After`,
//! in JSON for the API and as a page for a browser, nothing is half-written, and the server serves again as soon
//! as the database is back, without a restart.

use crate::harness::{Server, TempDir};
use kabao_store::TxMode;
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_database_is_a_503_with_retry_after_and_the_server_recovers_without_a_restart() {
    let Some(db) = crate::harness::PgDatabase::create().await else { return };
    let url = db.url.clone();
    let data = TempDir::new("outage");
    let (product, key_file) = crate::two_instances::product_with_keys(&url, &data, "OUT", 5).await;
    let tokens = crate::crash::funded_buyers(&url, "outage", 1).await;
    let server = Server::start_with_env(&["--database-url", &url], &[("KABAO_MASTER_KEY_FILE", key_file.as_str())]);
    let http = reqwest::Client::new();
    let auth = format!("Bearer {}", tokens[0]);
    let body = serde_json::json!({"product_id": product.0, "quantity": 1, "warranty_ack": true, "first_order_confirmed": true});
    let checkout =
        || http.post(format!("{}/api/v1/orders", server.url)).header("authorization", &auth).json(&body).send();
    assert_eq!(checkout().await.unwrap_or_else(|e| panic!("{e}")).status().as_u16(), 201);

    db.refuse_connections(true).await;
    let started = Instant::now();
    let refused = checkout().await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(refused.status().as_u16(), 503);
    assert_eq!(refused.headers().get("retry-after").and_then(|v| v.to_str().ok()), Some("5"));
    let refused: serde_json::Value = refused.json().await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(refused["code"], "unavailable", "{refused}");
    assert!(refused["message"].as_str().unwrap_or_default().contains("未生效"), "{refused}");
    // A browser gets the error page, in Chinese, with the same status and wait.
    let page = http
        .get(format!("{}/p/{}", server.url, product.0))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(page.status().as_u16(), 503);
    assert!(page.headers().contains_key("retry-after"));
    let html = page.text().await.unwrap_or_else(|e| panic!("{e}"));
    assert!(html.contains("请稍后重试"), "{html}");
    // Fast: well within the pool's five-second wait per request, not a hung request.
    assert!(started.elapsed() < Duration::from_secs(15), "{:?}", started.elapsed());

    db.refuse_connections(false).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let res = checkout().await.unwrap_or_else(|e| panic!("{e}"));
        if res.status().as_u16() == 201 {
            break;
        }
        assert_eq!(res.status().as_u16(), 503, "only 503 while it reconnects");
        assert!(Instant::now() < deadline, "the server did not recover");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    drop(server);
    // Exactly the two orders that were answered 201: the refused one left nothing behind.
    let store = kabao_store::open(&url).await.unwrap_or_else(|e| panic!("{e}"));
    let mut tx = store.begin(TxMode::Read).await.unwrap_or_else(|e| panic!("{e}"));
    let shop = tx.product_by_id(product).await.unwrap_or_else(|e| panic!("{e}")).map(|p| p.shop_id).expect("product");
    assert_eq!(tx.list_shop_orders(shop, 100, 0).await.unwrap_or_else(|e| panic!("{e}")).len(), 2);
    drop(tx);
    let problems = kabao_app::verify::ledger(&*store).await.unwrap_or_else(|e| panic!("{e}"));
    assert!(problems.is_empty(), "{problems:?}");
    store.close().await;
    db.drop_database().await;
}
