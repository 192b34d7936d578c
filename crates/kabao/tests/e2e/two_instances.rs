//! Two `kabao serve` instances on one PostgreSQL database: both run the background jobs, and every order is
//! still settled exactly once (job leases, plus the compare-and-set on each order's state).

use crate::harness::{kabao_bin, Server, TempDir};
use kabao_core::ledger::TxKind;
use kabao_core::order::OrderState;
use kabao_store::TxMode;
use std::process::Command;
use std::time::{Duration, Instant};

/// A product with `keys` keys (`{tag}-000`…) imported by the CLI into the PostgreSQL database at `url`, the key
/// file written in `data`: (the product, the `KABAO_MASTER_KEY_FILE` the import created there, for the servers).
pub async fn product_with_keys(url: &str, data: &TempDir, tag: &str, keys: usize) -> (kabao_core::ProductId, String) {
    let product = crate::cli::seed_product(url).await;
    let file = data.path().join("keys.txt");
    std::fs::write(&file, (0..keys).map(|i| format!("{tag}-{i:03}\n")).collect::<String>())
        .unwrap_or_else(|e| panic!("{e}"));
    let out = Command::new(kabao_bin())
        .args(["keys", "import", "--product", &product.0.to_string()])
        .arg(&file)
        .args(["--database-url", url, "--data-dir"])
        .arg(data.path())
        .env_remove("KABAO_MASTER_KEY")
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    (product, data.path().join("master.key").to_string_lossy().into_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_on_one_postgres_settle_each_order_once() {
    let Some(db) = crate::harness::PgDatabase::create().await else { return };
    let url = db.url.clone();

    let data = TempDir::new("two");
    let (product, key_file) = product_with_keys(&url, &data, "TWO", 40).await;
    let tokens = crate::crash::funded_buyers(&url, "two", 10).await;

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

/// Several instances started at the same moment on a fresh database, many times over: every one starts (the
/// key ring is created once and read back by all), exactly one first admin is created and its password printed
/// once, and the demo marketplace is seeded once (its fund paid in once), with books that verify.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn instances_starting_together_on_a_fresh_database_bootstrap_once() {
    const ROUNDS: usize = 4;
    const INSTANCES: usize = 3;
    let master = "5a".repeat(32);
    for round in 0..ROUNDS {
        let Some(db) = crate::harness::PgDatabase::create().await else { return };
        let url = db.url.clone();
        let starts: Vec<_> = (0..INSTANCES)
            .map(|_| {
                let (url, master) = (url.clone(), master.clone());
                std::thread::spawn(move || {
                    Server::start_with_env(&["--demo", "--database-url", &url], &[("KABAO_MASTER_KEY", &master)])
                })
            })
            .collect();
        let servers: Vec<Server> = starts
            .into_iter()
            .map(|t| t.join().unwrap_or_else(|_| panic!("round {round}: an instance did not start (above)")))
            .collect();
        let admin_banners = servers
            .iter()
            .filter(|s| s.banner.iter().any(|l| l.starts_with("created the first admin account")))
            .count();
        assert_eq!(admin_banners, 1, "round {round}: the first admin's password is printed by one instance");
        let http = reqwest::Client::new();
        for s in &servers {
            let home = http.get(format!("{}/", s.url)).send().await.unwrap_or_else(|e| panic!("{e}"));
            assert!(home.status().is_success(), "round {round}: {} answers", s.url);
        }

        let store = kabao_store::open(&url).await.unwrap_or_else(|e| panic!("{e}"));
        let mut tx = store.begin(TxMode::Read).await.unwrap_or_else(|e| panic!("{e}"));
        let admins = tx.count_users_with_role(kabao_core::user::Role::Admin).await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(admins, 1, "round {round}: one first admin, not one per instance");
        assert!(tx.user_by_username("admin2").await.unwrap_or_else(|e| panic!("{e}")).is_none());
        let fund_payments = tx
            .all_ledger_entries()
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .iter()
            .filter(|e| e.kind == TxKind::FundContribution)
            .map(|e| e.tx_id)
            .collect::<std::collections::BTreeSet<_>>()
            .len();
        assert_eq!(fund_payments, 1, "round {round}: the demo fund is paid in once");
        let shops = tx.list_shops(100, 0).await.unwrap_or_else(|e| panic!("{e}"));
        let mut names: Vec<&str> = shops.iter().map(|s| s.name.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert!(!shops.is_empty() && names.len() == shops.len(), "round {round}: each demo shop once");
        drop(tx);
        let problems = kabao_app::verify::ledger(&*store).await.unwrap_or_else(|e| panic!("{e}"));
        assert!(problems.is_empty(), "round {round}: {problems:?}");
        drop(servers);
        store.close().await;
        db.drop_database().await;
    }
}

/// What one instance remembers, the other knows: a checkout retried on the other instance with the same
/// `Idempotency-Key` answers the first order (and the key with another body is refused there too), and failed
/// logins spread over both instances lock the account on both, as if one instance had seen them all.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_retry_and_a_lockout_hold_across_two_instances() {
    let Some(db) = crate::harness::PgDatabase::create().await else { return };
    let url = db.url.clone();
    let data = TempDir::new("two-memory");
    let (product, key_file) = product_with_keys(&url, &data, "MEM", 5).await;
    let tokens = crate::crash::funded_buyers(&url, "mem", 1).await;
    let env = [("KABAO_MASTER_KEY_FILE", key_file.as_str())];
    let a = Server::start_with_env(&["--database-url", &url], &env);
    let b = Server::start_with_env(&["--database-url", &url], &env);
    let http = reqwest::Client::new();

    let auth = format!("Bearer {}", tokens[0]);
    let body = serde_json::json!({"product_id": product.0, "quantity": 1, "warranty_ack": true, "first_order_confirmed": true});
    let checkout = |base: &str, body: &serde_json::Value| {
        http.post(format!("{base}/api/v1/orders"))
            .header("authorization", &auth)
            .header("idempotency-key", "retry-on-the-other-instance")
            .json(body)
            .send()
    };
    let first = checkout(&a.url, &body).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(first.status().as_u16(), 201);
    let first: serde_json::Value = first.json().await.unwrap_or_else(|e| panic!("{e}"));
    let retry = checkout(&b.url, &body).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(retry.status().as_u16(), 201);
    assert_eq!(retry.headers().get("idempotent-replayed").and_then(|v| v.to_str().ok()), Some("true"));
    let retry: serde_json::Value = retry.json().await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(retry["order_no"], first["order_no"], "the retry on B answers A's order");
    let mut changed = body.clone();
    changed["quantity"] = serde_json::json!(2);
    let reused = checkout(&b.url, &changed).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(reused.status().as_u16(), 409);
    let reused: serde_json::Value = reused.json().await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(reused["code"], "idempotency_key_reused", "{reused}");

    // Five wrong passwords (the per-account limit), alternating between the instances: the account is locked
    // on both, where each instance alone saw only two or three.
    let login = |base: &str| {
        http.post(format!("{base}/api/v1/tokens"))
            .json(&serde_json::json!({"username": "mem_buyer_0", "password": "not the password at all", "name": "t"}))
            .send()
    };
    for i in 0..5 {
        let base = if i % 2 == 0 { &a.url } else { &b.url };
        let res = login(base).await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(res.status().as_u16(), 401, "attempt {i}");
    }
    for base in [&a.url, &b.url] {
        let res = login(base).await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(res.status().as_u16(), 429, "{base} locks the account");
    }
    drop(a);
    drop(b);
    db.drop_database().await;
}

/// The last keys raced for by more buyers than there are keys, spread over two instances: exactly as many
/// orders are delivered as there were keys, no key goes to two orders, every other paid order is refunded in
/// full, and the books verify.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_last_keys_raced_over_two_instances_sell_exactly_once() {
    const KEYS: usize = 20;
    let Some(db) = crate::harness::PgDatabase::create().await else { return };
    let url = db.url.clone();
    let data = TempDir::new("two-race");
    let (product, key_file) = product_with_keys(&url, &data, "RACE", KEYS).await;
    let tokens = crate::crash::funded_buyers(&url, "race", 2 * KEYS).await;
    let env = [("KABAO_MASTER_KEY_FILE", key_file.as_str())];
    let a = Server::start_with_env(&["--database-url", &url], &env);
    let b = Server::start_with_env(&["--database-url", &url], &env);

    let (clients, paid) = crate::crash::checkout_load(vec![a.url.clone(), b.url.clone()], tokens, product, 1, 1);
    for c in clients {
        c.await.unwrap_or_else(|e| panic!("{e}"));
    }
    drop(a);
    drop(b);
    assert!(paid.count() >= KEYS, "{} of {} buyers were answered paid", paid.count(), 2 * KEYS);
    let left = crate::crash::assert_nothing_lost(&url, &data, product, &paid.orders()).await;
    assert_eq!(left, 0, "every key sold");
    let store = kabao_store::open(&url).await.unwrap_or_else(|e| panic!("{e}"));
    let mut tx = store.begin(TxMode::Read).await.unwrap_or_else(|e| panic!("{e}"));
    let shop = tx.product_by_id(product).await.unwrap_or_else(|e| panic!("{e}")).map(|p| p.shop_id);
    let orders = tx.list_shop_orders(shop.unwrap_or_else(|| panic!("product")), 1000, 0).await;
    let delivered =
        orders.unwrap_or_else(|e| panic!("{e}")).iter().filter(|o| o.state == OrderState::Delivered).count();
    assert_eq!(delivered, KEYS, "exactly as many orders delivered as there were keys");
    drop(tx);
    store.close().await;
    db.drop_database().await;
}

/// Two instances under checkout load, one of them killed (SIGKILL) in the middle: its clients carry on on the
/// other, which keeps selling; no order answered "paid" is lost, no key is delivered twice, and the ledger
/// and the audit chain verify.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn killing_one_of_two_instances_under_load_loses_no_paid_order() {
    const KEYS: usize = 400;
    let Some(db) = crate::harness::PgDatabase::create().await else { return };
    let url = db.url.clone();
    let data = TempDir::new("two-kill");
    let (product, key_file) = product_with_keys(&url, &data, "KILL", KEYS).await;
    let tokens = crate::crash::funded_buyers(&url, "kill", 16).await;
    let env = [("KABAO_MASTER_KEY_FILE", key_file.as_str())];
    let mut a = Server::start_with_env(&["--database-url", &url], &env);
    let b = Server::start_with_env(&["--database-url", &url], &env);

    let (clients, paid) =
        crate::crash::checkout_load(vec![a.url.clone(), b.url.clone()], tokens, product, 2, KEYS / 2 / 16 * 2);
    let deadline = Instant::now() + Duration::from_secs(60);
    while paid.count() < KEYS / 2 / 4 {
        assert!(Instant::now() < deadline, "only {} orders paid in 60 s", paid.count());
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    a.kill();
    let at_kill = paid.count();
    for c in clients {
        c.await.unwrap_or_else(|e| panic!("{e}"));
    }
    let health = reqwest::get(format!("{}/healthz", b.url)).await.unwrap_or_else(|e| panic!("{e}"));
    assert!(health.status().is_success(), "the other instance still serves");
    drop(b);
    assert!(
        paid.count() > at_kill + 10,
        "the survivor kept selling: {at_kill} paid at the kill, {} in all",
        paid.count()
    );
    crate::crash::assert_nothing_lost(&url, &data, product, &paid.orders()).await;
    db.drop_database().await;
}
