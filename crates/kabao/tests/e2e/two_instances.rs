//! Two `kabao serve` instances on one PostgreSQL database: both run the background jobs, and every order is
//! still settled exactly once (job leases, plus the compare-and-set on each order's state).

use crate::harness::{kabao_bin, Server, TempDir};
use kabao_core::ledger::TxKind;
use kabao_core::order::OrderState;
use kabao_store::TxMode;
use std::process::Command;
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_on_one_postgres_settle_each_order_once() {
    let Some(db) = crate::harness::PgDatabase::create().await else { return };
    let url = db.url.clone();

    let data = TempDir::new("two");
    let product = crate::cli::seed_product(&url).await;
    let keys = data.path().join("keys.txt");
    std::fs::write(&keys, (0..40).map(|i| format!("TWO-{i:03}\n")).collect::<String>())
        .unwrap_or_else(|e| panic!("{e}"));
    let out = Command::new(kabao_bin())
        .args(["keys", "import", "--product", &product.0.to_string()])
        .arg(&keys)
        .args(["--database-url", &url, "--data-dir"])
        .arg(data.path())
        .env_remove("KABAO_MASTER_KEY")
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let tokens = crate::crash::funded_buyers(&url, "two", 10).await;

    let key_file = data.path().join("master.key").to_string_lossy().into_owned();
    let env = [
        ("KABAO_MASTER_KEY_FILE", key_file.as_str()),
        ("KABAO_CLAIM_WINDOW_SECONDS", "1"),
        ("KABAO_JOB_INTERVAL_SECONDS", "1"),
    ];
    let a = Server::start_with_env(&["--database-url", &url], &env);
    let b = Server::start_with_env(&["--database-url", &url], &env);
    let http = reqwest::Client::new();
    for (i, token) in tokens.iter().enumerate() {
        let base = if i % 2 == 0 { &a.url } else { &b.url };
        let auth = format!("Bearer {token}");
        let order: serde_json::Value = http
            .post(format!("{base}/api/v1/orders"))
            .header("authorization", &auth)
            .json(&serde_json::json!({"product_id": product.0, "quantity": 1, "warranty_ack": true, "first_order_confirmed": true}))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .json()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let no = order["order_no"].as_str().unwrap_or_default();
        let paid = http
            .post(format!("{base}/api/v1/orders/{no}/pay/wallet"))
            .header("authorization", &auth)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(paid.status().is_success());
    }

    // Both instances run their jobs every second; wait (bounded) until every order is settled.
    let store = kabao_store::open(&url).await.unwrap_or_else(|e| panic!("{e}"));
    let deadline = Instant::now() + Duration::from_secs(30);
    let orders = loop {
        let mut tx = store.begin(TxMode::Read).await.unwrap_or_else(|e| panic!("{e}"));
        let shop = tx
            .product_by_id(product)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .map(|p| p.shop_id)
            .unwrap_or_else(|| panic!("product"));
        let orders = tx.list_shop_orders(shop, 100, 0).await.unwrap_or_else(|e| panic!("{e}"));
        if orders.len() == 10 && orders.iter().all(|o| o.state == OrderState::Settled) {
            break orders;
        }
        assert!(
            Instant::now() < deadline,
            "orders not all settled: {:?}",
            orders.iter().map(|o| o.state).collect::<Vec<_>>()
        );
        drop(tx);
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    // Let both instances run a few more passes: nothing may be settled twice.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    drop(a);
    drop(b);
    let mut tx = store.begin(TxMode::Read).await.unwrap_or_else(|e| panic!("{e}"));
    for o in &orders {
        let settlements = tx
            .order_ledger_entries(o.id)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .iter()
            .filter(|e| e.kind == TxKind::Settlement)
            .map(|e| e.tx_id)
            .collect::<std::collections::BTreeSet<_>>();
        assert_eq!(settlements.len(), 1, "order {} settled {} times", o.order_no, settlements.len());
        let events = tx.order_events(o.id).await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(events.iter().filter(|e| e.kind == kabao_core::events::EventKind::OrderSettled.as_str()).count(), 1);
    }
    drop(tx);
    let problems = kabao_app::verify::ledger(&*store).await.unwrap_or_else(|e| panic!("{e}"));
    assert!(problems.is_empty(), "{problems:?}");
    store.close().await;
    db.drop_database().await;
}
