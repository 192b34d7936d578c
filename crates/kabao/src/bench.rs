//! `kabao bench`: measurements of hot paths on a fresh database, printed as one JSON line at the end.
//! `bench import` times the real `kabao keys import` command (a child process) on a generated key file;
//! `bench compare` (in `bench/compare.rs`) puts the PostgreSQL checkout beside pgbench running the same writes.

pub mod compare;
pub mod growth;

use anyhow::{bail, Context};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use kabao_core::catalog::{Category, GoodsKind, ProductDraft};
use kabao_core::user::Role;
use kabao_core::vault::Keyring;
use kabao_core::{Money, Timestamp};
use kabao_store::KeyState;
use kabao_store::{NewShop, TxMode};
use std::io::Write;
use std::time::Instant;

/// A merchant with a shop and one standard product to measure against; returns the merchant and product.
async fn seed_product(
    store: &dyn kabao_store::Store,
    tag: &str,
    listed: bool,
    now: Timestamp,
) -> anyhow::Result<(kabao_store::User, kabao_core::ProductId)> {
    let merchant = kabao_app::accounts::create_user(
        store,
        &format!("bench_m_{tag}"),
        "bench-password-1",
        Role::Merchant,
        None,
        now,
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let mut tx = store.begin(TxMode::Write).await?;
    let shop = tx
        .insert_shop(&NewShop {
            owner_id: merchant.id,
            name: format!("bench {tag}"),
            description: String::new(),
            opened_at: now,
        })
        .await?;
    let draft = ProductDraft {
        title: "bench keys".into(),
        description: String::new(),
        category: Category::SoftwareLicense,
        kind: GoodsKind::Standard,
        price: Money::from_fen(100),
        max_per_order: 10,
        trial: false,
        listed,
    };
    let product = tx.insert_product(shop, &draft, now).await?;
    tx.commit().await?;
    Ok((merchant, product))
}

/// Generates `keys` unique keys, imports them with `kabao keys import` into a fresh product, and reports.
pub async fn import(keys: u64, database_url: Option<String>, now: Timestamp) -> anyhow::Result<()> {
    let dir = std::env::temp_dir().join(format!("kabao-bench-{}-{:x}", std::process::id(), rand::random::<u32>()));
    std::fs::create_dir_all(&dir)?;
    let result = run_import(&dir, keys, database_url, now).await;
    let _ = std::fs::remove_dir_all(&dir);
    result
}

async fn run_import(
    dir: &std::path::Path,
    keys: u64,
    database_url: Option<String>,
    now: Timestamp,
) -> anyhow::Result<()> {
    let url = database_url.clone().unwrap_or_else(|| format!("sqlite://{}", dir.join("kabao.db").display()));
    let store = kabao_store::open(&url).await.context("opening the bench database")?;
    let tag = format!("{:08x}", rand::random::<u32>());
    let (_, product) = seed_product(&*store, &tag, false, now).await?;
    store.close().await;

    let file = dir.join("keys.txt");
    {
        let mut w = std::io::BufWriter::new(std::fs::File::create(&file)?);
        for i in 0..keys {
            // Realistic length and shape: a 29-character license key.
            writeln!(w, "{tag}-{i:08X}-KABAO-BENCH-KEY")?;
        }
        w.flush()?;
    }
    let size = std::fs::metadata(&file)?.len();
    eprintln!(
        "bench import: {keys} keys ({:.1} MB) into product {product} on {}",
        size as f64 / 1e6,
        if database_url.is_some() { "PostgreSQL" } else { "SQLite" }
    );

    let exe = std::env::current_exe()?;
    let mut cmd = std::process::Command::new(exe);
    cmd.args(["keys", "import", "--product", &product.0.to_string()]).arg(&file).arg("--data-dir").arg(dir);
    if let Some(u) = &database_url {
        cmd.args(["--database-url", u]);
    }
    cmd.env("KABAO_LOG", "kabao_app::inventory=info,warn")
        .env_remove("KABAO_MASTER_KEY")
        .env("KABAO_MASTER_KEY_FILE", dir.join("master.key"));
    let started = Instant::now();
    let out = cmd.output()?;
    let seconds = started.elapsed().as_secs_f64();
    if !out.status.success() {
        bail!("kabao keys import failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    // The import logs its phases (parse, seal, duplicate check, insert, commit): pass them on.
    for line in String::from_utf8_lossy(&out.stderr).lines().filter(|l| l.contains("card keys imported")) {
        eprintln!("{line}");
    }

    let store = kabao_store::open(&url).await?;
    let mut tx = store.begin(TxMode::Read).await?;
    let counted = tx.count_card_keys(product, KeyState::Available).await?;
    let stock = tx.product_by_id(product).await?.map(|p| p.stock_available).unwrap_or(-1);
    drop(tx);
    store.close().await;
    let json = serde_json::json!({
        "bench": "import",
        "keys": keys,
        "seconds": (seconds * 1000.0).round() / 1000.0,
        "keys_per_s": (keys as f64 / seconds).round(),
        "stock_counter": stock,
        "stock_counted": counted,
        "complete": counted == keys as i64 && stock == counted,
    });
    println!("{json}");
    if counted != keys as i64 || stock != counted {
        bail!("imported {counted} keys (counter {stock}), expected {keys}");
    }
    Ok(())
}

/// Settings of `kabao bench checkout`.
pub struct CheckoutBench {
    pub clients: usize,
    pub seconds: u64,
    pub target: Target,
    /// Every checkout buys warranty insurance (质保险): the product gets the first warranty template, each client
    /// asks for the quote and orders with `insurance: true` at that premium, so the premium is computed twice
    /// per order (quote and checkout), as on the product page.
    pub insurance: bool,
}

/// What `kabao bench checkout` measures.
pub enum Target {
    /// A server started in this process on a fresh database: a temporary SQLite file, or this PostgreSQL URL.
    Fresh { database_url: Option<String> },
    /// Running servers at `urls` (one, or several instances on one database, each client on one of them in
    /// turn), seeded and checked through their database (`store`, opened with the servers' configuration, and
    /// `keyring`, from their master key).
    Running { urls: Vec<String>, store: std::sync::Arc<dyn kabao_store::Store>, keyring: std::sync::Arc<Keyring> },
}

/// Seeds a product with keys and funded buyers, drives real HTTP checkouts (create order, pay from wallet,
/// reveal keys) from concurrent clients for a fixed time, then checks duplicates and the books from the database.
pub async fn checkout(b: CheckoutBench) -> anyhow::Result<()> {
    let report = match b.target {
        Target::Fresh { database_url } => fresh_checkout(b.clients, b.seconds, b.insurance, database_url).await?,
        Target::Running { urls, store, keyring } => {
            eprintln!("bench checkout: against the running server(s) at {}", urls.join(", "));
            let urls: Vec<&str> = urls.iter().map(|u| u.trim_end_matches('/')).collect();
            // The servers run elsewhere: their statements are not this process's to count.
            let result = run_checkout(&*store, &keyring, &urls, b.clients, b.seconds, b.insurance, false).await;
            store.close().await;
            result?
        }
    };
    println!("{}", report.to_json());
    report.check()
}

/// `bench checkout` against a server started here on a fresh database (a temporary SQLite file, or the empty
/// PostgreSQL database at `database_url`); returns the run's figures and checks without judging them.
async fn fresh_checkout(
    clients: usize,
    seconds: u64,
    insurance: bool,
    database_url: Option<String>,
) -> anyhow::Result<CheckoutReport> {
    let dir =
        std::env::temp_dir().join(format!("kabao-bench-checkout-{}-{:x}", std::process::id(), rand::random::<u32>()));
    std::fs::create_dir_all(&dir)?;
    let result = run_fresh(&dir, clients, seconds, insurance, database_url).await;
    let _ = std::fs::remove_dir_all(&dir);
    result
}

/// What one `bench checkout` run measured and what it found in the database afterwards.
pub struct CheckoutReport {
    pub insurance: bool,
    /// Checkouts completed (order, payment, reveal all answered 2xx).
    pub orders: usize,
    pub orders_per_s: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    /// Checkout attempts that failed (any of its requests), not counted in `orders`.
    pub failed_requests: u64,
    pub duplicate_keys: i64,
    pub keys_sold: i64,
    pub keys_delivered: i64,
    pub keys_unseen_by_clients: i64,
    pub sold_keys_without_order: i64,
    pub paid_orders_missing_keys: i64,
    pub stock_consistent: bool,
    pub insurance_pool_fen: i64,
    pub ledger_balanced: bool,
    pub audit_chains_intact: bool,
    /// PostgreSQL with the server in this process: statements (each a round trip) the server sent per
    /// checkout during the load. `None` on SQLite (no round trips) or against `--url` servers.
    pub statements_per_checkout: Option<f64>,
}

impl CheckoutReport {
    /// The one JSON line `kabao bench checkout` prints.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "insurance": self.insurance,
            "orders": self.orders,
            "orders_per_s": (self.orders_per_s * 10.0).round() / 10.0,
            "p50_ms": (self.p50_ms * 100.0).round() / 100.0,
            "p99_ms": (self.p99_ms * 100.0).round() / 100.0,
            "failed_requests": self.failed_requests,
            "duplicate_keys": self.duplicate_keys,
            "keys_sold": self.keys_sold,
            "keys_delivered": self.keys_delivered,
            "keys_unseen_by_clients": self.keys_unseen_by_clients,
            "sold_keys_without_order": self.sold_keys_without_order,
            "paid_orders_missing_keys": self.paid_orders_missing_keys,
            "stock_consistent": self.stock_consistent,
            "insurance_pool_fen": self.insurance_pool_fen,
            "ledger_balanced": self.ledger_balanced,
            "audit_chains_intact": self.audit_chains_intact,
            "statements_per_checkout": self.statements_per_checkout.map(|n| (n * 10.0).round() / 10.0),
        })
    }

    /// Refuses a run that left the data inconsistent: a key delivered twice, a sold key without its order, books
    /// that do not balance, a broken audit chain, a stock counter that disagrees with the keys.
    pub fn check_consistency(&self) -> anyhow::Result<()> {
        let undelivered = self.sold_keys_without_order + self.paid_orders_missing_keys;
        if self.duplicate_keys != 0
            || undelivered != 0
            || self.keys_delivered != self.keys_sold
            || self.keys_unseen_by_clients < 0
            || !self.ledger_balanced
            || !self.audit_chains_intact
            || !self.stock_consistent
        {
            bail!("the run left the data inconsistent (see above)");
        }
        Ok(())
    }

    /// [`Self::check_consistency`], and refuses a run in which any checkout failed.
    pub fn check(&self) -> anyhow::Result<()> {
        self.check_consistency()?;
        if self.failed_requests > 0 {
            bail!("{} checkouts failed", self.failed_requests);
        }
        Ok(())
    }
}

/// The latency at quantile `p` (0..=1) of `sorted_us` (microseconds, ascending), in milliseconds; 0 when empty.
fn percentile_ms(sorted_us: &[u64], p: f64) -> f64 {
    if sorted_us.is_empty() {
        return 0.0;
    }
    let i = ((sorted_us.len() as f64 - 1.0) * p).round() as usize;
    sorted_us.get(i).copied().unwrap_or(0) as f64 / 1000.0
}

/// A `kabao serve` running in this process on a fresh store (with a random master key), for the benchmarks.
struct LocalServer {
    state: std::sync::Arc<kabao_server::AppState>,
    /// `http://127.0.0.1:PORT`.
    base: String,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl LocalServer {
    async fn start(url: &str) -> anyhow::Result<LocalServer> {
        use std::sync::Arc;
        let store = kabao_store::open(url).await.context("opening the bench database")?;
        let mut material = [0u8; 32];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut material);
        let master = kabao_core::vault::MasterKey::from_bytes(material);
        let keyring = Arc::new(kabao_app::keyring::load_or_create(&*store, &master, crate::now()).await?);
        let state = Arc::new(kabao_server::AppState::new(
            store,
            keyring,
            kabao_server::ServerConfig::default(),
            Arc::new(kabao_server::SystemClock),
        ));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let base = format!("http://{}", listener.local_addr()?);
        let task = tokio::spawn(kabao_server::serve(state.clone(), listener));
        Ok(LocalServer { state, base, task })
    }

    async fn stop(self) {
        self.task.abort();
        self.state.app.store.close().await;
    }
}

async fn run_fresh(
    dir: &std::path::Path,
    clients: usize,
    seconds: u64,
    insurance: bool,
    database_url: Option<String>,
) -> anyhow::Result<CheckoutReport> {
    let url = database_url.clone().unwrap_or_else(|| format!("sqlite://{}", dir.join("kabao.db").display()));
    let server = LocalServer::start(&url).await?;
    eprintln!(
        "bench checkout: server at {} on {}",
        server.base,
        if database_url.is_some() {
            "PostgreSQL"
        } else {
            "SQLite (WAL, each commit synced before it is acknowledged)"
        }
    );
    let app = &server.state.app;
    let result =
        run_checkout(&*app.store, &app.keyring, &[server.base.as_str()], clients, seconds, insurance, true).await;
    server.stop().await;
    result
}

async fn run_checkout(
    store: &dyn kabao_store::Store,
    keyring: &std::sync::Arc<Keyring>,
    bases: &[&str],
    clients: usize,
    seconds: u64,
    insurance: bool,
    server_in_process: bool,
) -> anyhow::Result<CheckoutReport> {
    use kabao_core::ledger;
    let servers = bases.iter().map(|b| Server::parse(b)).collect::<anyhow::Result<Vec<_>>>()?;
    if servers.is_empty() {
        bail!("bench checkout: no server to drive");
    }
    let now = crate::now();
    // Seed: one merchant, one product with plenty of keys, one funded buyer (with a token) per client.
    let tag = format!("{:08x}", rand::random::<u32>());
    let (merchant, product) = seed_product(store, &tag, true, now).await?;
    if insurance {
        let mut tx = store.begin(TxMode::Write).await?;
        let policy = kabao_core::warranty::templates()
            .into_iter()
            .next()
            .context("bench checkout --insurance: no warranty template")?
            .policy;
        kabao_app::warranty::record(&mut *tx, product, policy, now).await.map_err(|e| anyhow::anyhow!("{e}"))?;
        tx.commit().await?;
    }
    let keys = (seconds as usize * 6000).clamp(20_000, 600_000);
    let file: String = (0..keys).map(|i| format!("{tag}-{i:08X}-BENCH\n")).collect();
    kabao_app::inventory::import_keys(store, keyring, merchant.id, product, file.as_bytes(), "bench", now)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut tokens = Vec::with_capacity(clients);
    {
        let mut tx = store.begin(TxMode::Write).await?;
        for i in 0..clients {
            let user = tx
                .insert_user(&kabao_store::NewUser {
                    username: format!("bench_b_{tag}_{i}"),
                    email: None,
                    password_hash: "!".into(),
                    role: Role::Buyer,
                    created_at: now,
                })
                .await?;
            let token = format!("kb_{}", kabao_server::auth::random_token());
            tx.insert_api_token(&kabao_store::NewApiToken {
                user_id: user,
                name: "bench".into(),
                prefix: token.chars().take(10).collect(),
                token_hash: kabao_server::auth::sha256(&token),
                created_at: now,
            })
            .await?;
            tx.post_ledger(&ledger::top_up(user, Money::from_fen(100_000_000))?, None, now).await?;
            tokens.push(token);
        }
        tx.commit().await?;
    }
    eprintln!("bench checkout: {clients} clients for {seconds} s, {keys} keys in stock");

    let statements_before = store.statements_sent().filter(|_| server_in_process);
    let deadline = Instant::now() + std::time::Duration::from_secs(seconds);
    let mut tasks = Vec::new();
    for (i, token) in tokens.into_iter().enumerate() {
        let server = servers.get(i % servers.len()).cloned().context("bench checkout: no server")?;
        tasks.push(tokio::spawn(async move {
            let mut latencies_us: Vec<u64> = Vec::new();
            let mut keys: Vec<String> = Vec::new();
            let mut failures = 0u64;
            let auth = format!("Bearer {token}");
            let mut conn: Option<Connection> = None;
            // After a failure (an instance killed, a refused connection) the client waits before trying again,
            // doubling up to a second, so a dead instance is not hammered and failures count attempts, not spins.
            let mut backoff = std::time::Duration::ZERO;
            while Instant::now() < deadline {
                if !backoff.is_zero() {
                    tokio::time::sleep(backoff).await;
                }
                let started = Instant::now();
                let done = match conn.as_mut() {
                    Some(c) => one_checkout(c, &auth, product.0, insurance).await,
                    None => match Connection::open(&server).await {
                        Ok(c) => one_checkout(conn.insert(c), &auth, product.0, insurance).await,
                        Err(e) => Err(e),
                    },
                };
                match done {
                    Ok(mut k) => {
                        latencies_us.push(started.elapsed().as_micros() as u64);
                        keys.append(&mut k);
                        backoff = std::time::Duration::ZERO;
                    }
                    Err(_) => {
                        failures += 1;
                        conn = None; // the next checkout starts on a new connection
                        backoff = (backoff * 2).clamp(std::time::Duration::from_millis(10), MAX_BACKOFF);
                    }
                }
            }
            (latencies_us, keys, failures)
        }));
    }
    let mut latencies: Vec<u64> = Vec::new();
    let mut all_keys: Vec<String> = Vec::new();
    let mut failures = 0;
    for t in tasks {
        let (l, k, f) = t.await?;
        latencies.extend(l);
        all_keys.extend(k);
        failures += f;
    }
    let elapsed = seconds as f64;
    latencies.sort_unstable();
    let orders = latencies.len();
    // Everything the server sent PostgreSQL during the load, per checkout (the bench's server runs no background jobs).
    let statements_per_checkout = statements_before
        .zip(store.statements_sent())
        .filter(|_| orders > 0)
        .map(|(before, after)| (after - before) as f64 / orders as f64);
    let revealed = all_keys.len();
    all_keys.sort_unstable();
    all_keys.dedup();
    let duplicate_in_responses = revealed - all_keys.len();

    // From the database: every sold key belongs to exactly one delivered order, and the books balance. The
    // responses only add a cross-check: keys of a response lost in a kill are in the database, not here.
    let mut tx = store.begin(TxMode::Read).await?;
    let delivery = tx.delivery_audit(product).await?;
    let sold = tx.count_card_keys(product, KeyState::Sold).await?;
    let available = tx.count_card_keys(product, KeyState::Available).await?;
    let counter = tx.product_by_id(product).await?.map(|p| p.stock_available).unwrap_or(-1);
    let pool = tx.balance(ledger::Account::InsurancePool).await?;
    drop(tx);
    let problems = kabao_app::verify::ledger(store).await?;
    let (_, chain_problems) = kabao_app::verify::audit(store).await?;
    // A key delivered twice in the database, or the same key in two responses, is a duplicate. Sold keys the
    // responses never showed (`unseen_keys`) are keys of lost responses, not duplicates.
    let duplicate_keys = delivery.duplicate_deliveries + duplicate_in_responses as i64;
    let unseen_keys = delivery.delivered - all_keys.len() as i64;
    for p in problems.iter().chain(chain_problems.iter()).take(10) {
        eprintln!("problem: {p}");
    }
    Ok(CheckoutReport {
        insurance,
        orders,
        orders_per_s: orders as f64 / elapsed,
        p50_ms: percentile_ms(&latencies, 0.50),
        p99_ms: percentile_ms(&latencies, 0.99),
        failed_requests: failures,
        duplicate_keys,
        keys_sold: sold,
        keys_delivered: delivery.delivered,
        keys_unseen_by_clients: unseen_keys,
        sold_keys_without_order: delivery.sold_without_order,
        paid_orders_missing_keys: delivery.orders_missing_keys,
        stock_consistent: counter == available,
        insurance_pool_fen: pool.fen(),
        ledger_balanced: problems.is_empty(),
        audit_chains_intact: chain_problems.is_empty(),
        statements_per_checkout,
    })
}

/// The longest a client waits before trying again after a failed checkout.
const MAX_BACKOFF: std::time::Duration = std::time::Duration::from_secs(1);

/// Refuses a `--url` the benchmark's clients cannot connect to, naming what they need.
pub fn check_url(url: &str) -> anyhow::Result<()> {
    Server::parse(url).map(drop)
}

/// Where the clients connect: the server's address, and the path its API lives under.
#[derive(Clone)]
struct Server {
    authority: String,
    prefix: String,
}

impl Server {
    fn parse(base: &str) -> anyhow::Result<Server> {
        let uri: hyper::Uri = base.parse().with_context(|| format!("bench checkout: {base} is not a URL"))?;
        if uri.scheme_str() != Some("http") {
            bail!("bench checkout speaks plain HTTP/1.1: give the server's http:// address (got {base})");
        }
        let authority = uri.authority().context("bench checkout: the URL has no host")?;
        let authority =
            if authority.port().is_some() { authority.to_string() } else { format!("{}:80", authority.host()) };
        Ok(Server { authority, prefix: uri.path().trim_end_matches('/').to_string() })
    }
}

/// One client's keep-alive HTTP/1.1 connection, driven by the client's own task.
///
/// The clients share the machine's cores with the server they measure, so what they cost is taken from the
/// server. A connection of hyper's, polled in the client's task, costs about half of what reqwest's pooled
/// client did per request (`perf`: URL parsing, the pool, the redirect policy and a hand-off to a
/// connection task for every request), and sends the same requests.
struct Connection {
    sender: hyper::client::conn::http1::SendRequest<Full<Bytes>>,
    driver: std::pin::Pin<
        Box<hyper::client::conn::http1::Connection<hyper_util::rt::TokioIo<tokio::net::TcpStream>, Full<Bytes>>>,
    >,
    server: Server,
}

impl Connection {
    async fn open(server: &Server) -> anyhow::Result<Connection> {
        let tcp = tokio::net::TcpStream::connect(&server.authority).await?;
        tcp.set_nodelay(true)?;
        let (sender, driver) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tcp)).await?;
        Ok(Connection { sender, driver: Box::pin(driver), server: server.clone() })
    }

    /// POSTs `body` to the API `path` and returns the JSON answer; anything but a 2xx is an error.
    async fn post<T: serde::de::DeserializeOwned>(&mut self, path: &str, auth: &str, body: Bytes) -> anyhow::Result<T> {
        self.send(hyper::Method::POST, path, auth, body).await
    }

    /// Sends `body` with `method` to the API `path` and returns the JSON answer; anything but a 2xx is an error.
    async fn send<T: serde::de::DeserializeOwned>(
        &mut self,
        method: hyper::Method,
        path: &str,
        auth: &str,
        body: Bytes,
    ) -> anyhow::Result<T> {
        let request = hyper::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.server.prefix))
            .header(hyper::header::HOST, &self.server.authority)
            .header(hyper::header::AUTHORIZATION, auth)
            .header(hyper::header::CONTENT_TYPE, "application/json")
            .body(Full::new(body))?;
        let (status, body) = self.exchange(request).await?;
        if !status.is_success() {
            bail!("{path}: HTTP {status}: {}", String::from_utf8_lossy(&body));
        }
        Ok(serde_json::from_slice(&body)?)
    }

    /// Sends `request` and returns its status and whole body, whatever the status.
    async fn exchange(&mut self, request: hyper::Request<Full<Bytes>>) -> anyhow::Result<(hyper::StatusCode, Bytes)> {
        let exchange = async {
            self.sender.ready().await?;
            let response = self.sender.send_request(request).await?;
            let status = response.status();
            let body = response.into_body().collect().await?.to_bytes();
            anyhow::Ok((status, body))
        };
        // The connection's I/O runs whenever the exchange waits; it ends only when the connection does.
        tokio::select! {
            biased;
            answer = exchange => answer,
            end = &mut self.driver => bail!("the connection closed: {end:?}"),
        }
    }
}

#[derive(serde::Deserialize)]
struct Quote {
    premium_fen: i64,
}

#[derive(serde::Deserialize)]
struct CreatedOrder {
    order_no: String,
}

#[derive(serde::Deserialize)]
struct PaidOrder {
    state: String,
}

#[derive(serde::Deserialize)]
struct RevealedKeys {
    keys: Vec<String>,
}

/// One buyer's checkout over HTTP: (with insurance, the quote,) order, pay from the wallet, reveal. Returns the
/// keys.
async fn one_checkout(conn: &mut Connection, auth: &str, product: i64, insurance: bool) -> anyhow::Result<Vec<String>> {
    let mut order =
        serde_json::json!({"product_id": product, "quantity": 1, "warranty_ack": true, "first_order_confirmed": true});
    if insurance {
        let quote: Quote = conn
            .send(hyper::Method::GET, &format!("/api/v1/products/{product}/insurance-quote"), auth, Bytes::new())
            .await?;
        order["insurance"] = serde_json::Value::Bool(true);
        order["insurance_premium"] = serde_json::Value::from(quote.premium_fen);
    }
    let order: CreatedOrder = conn.post("/api/v1/orders", auth, Bytes::from(serde_json::to_vec(&order)?)).await?;
    let no = order.order_no;
    let paid: PaidOrder = conn.post(&format!("/api/v1/orders/{no}/pay/wallet"), auth, Bytes::new()).await?;
    if paid.state != "delivered" {
        bail!("order {no} ended {}", paid.state);
    }
    let keys: RevealedKeys = conn.post(&format!("/api/v1/orders/{no}/keys/reveal"), auth, Bytes::new()).await?;
    Ok(keys.keys)
}

/// Words product titles are made of in `bench search`: what a card shop sells, so grams repeat as in real data.
const TITLE_WORDS: [&str; 24] = [
    "网易",
    "一卡通",
    "点卡",
    "腾讯",
    "Q币",
    "话费",
    "充值",
    "移动",
    "联通",
    "电信",
    "Steam",
    "钱包",
    "爱奇艺",
    "会员",
    "月卡",
    "年卡",
    "京东",
    "礼品卡",
    "Windows",
    "激活码",
    "Office",
    "优酷",
    "游戏",
    "账号",
];

/// Seeds `products` listed products over 100 shops, then times `searches` catalog searches of each kind (one
/// character, two characters, a longer word, two words) and prints median and p99 per kind as one JSON line.
pub async fn search(
    products: u64,
    searches: usize,
    database_url: Option<String>,
    now: Timestamp,
) -> anyhow::Result<()> {
    let dir = std::env::temp_dir().join(format!("kabao-bench-{}-{:x}", std::process::id(), rand::random::<u32>()));
    std::fs::create_dir_all(&dir)?;
    let result = run_search(&dir, products, searches, database_url, now).await;
    let _ = std::fs::remove_dir_all(&dir);
    result
}

async fn run_search(
    dir: &std::path::Path,
    products: u64,
    searches: usize,
    database_url: Option<String>,
    now: Timestamp,
) -> anyhow::Result<()> {
    use kabao_core::search::{ListingSort, SearchTerms};
    let url = database_url.clone().unwrap_or_else(|| format!("sqlite://{}", dir.join("kabao.db").display()));
    let store = kabao_store::open(&url).await.context("opening the bench database")?;
    let tag = format!("{:08x}", rand::random::<u32>());
    let backend = if database_url.is_some() { "PostgreSQL" } else { "SQLite" };
    eprintln!("bench search: seeding {products} products on {backend}");
    let started = Instant::now();
    let mut shops = Vec::new();
    for s in 0..100 {
        let (_, first) = seed_product(&*store, &format!("{tag}_{s}"), true, now).await?;
        let mut tx = store.begin(TxMode::Read).await?;
        let shop = tx.product_by_id(first).await?.map(|p| p.shop_id).context("seeded product")?;
        shops.push(shop);
    }
    let mut made: u64 = 100;
    let mut rng_state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = || {
        rng_state ^= rng_state << 13;
        rng_state ^= rng_state >> 7;
        rng_state ^= rng_state << 17;
        rng_state
    };
    while made < products {
        let mut tx = store.begin(TxMode::Write).await?;
        for _ in 0..1000.min(products - made) {
            let r = next();
            let words: Vec<&str> = (0..3).map(|i| TITLE_WORDS[((r >> (i * 8)) % 24) as usize]).collect();
            let draft = ProductDraft {
                title: format!("{} {} {}", words.join(""), (r >> 32) % 500, if r % 2 == 0 { "元" } else { "天" }),
                description: String::new(),
                category: Category::ALL[((r >> 40) % 7) as usize],
                kind: GoodsKind::Standard,
                price: Money::from_fen(100 + ((r >> 20) % 100_000) as i64),
                max_per_order: 10,
                trial: false,
                listed: true,
            };
            tx.insert_product(shops[(made % 100) as usize], &draft, now).await?;
            made += 1;
        }
        tx.commit().await?;
    }
    let seed_s = started.elapsed().as_secs_f64();
    eprintln!("bench search: seeded in {seed_s:.1} s");
    // Statistics as a running server's autovacuum would have them (the bulk seed outruns it, or it is off).
    store.analyze().await?;
    // Each kind of query by relevance (the default with a search), then the other sorts over the commonest
    // matches (one character) and over the whole catalog (no search): a page must cost the same for each.
    let kinds: [(&str, &[&str], ListingSort); 14] = [
        ("one_char", &["卡", "码", "币"], ListingSort::Relevance),
        ("two_chars", &["点卡", "话费", "会员", "礼品"], ListingSort::Relevance),
        ("three_plus", &["一卡通", "激活码", "steam"], ListingSort::Relevance),
        ("two_words", &["网易 100", "月卡 会员"], ListingSort::Relevance),
        ("one_char_newest", &["卡", "码", "币"], ListingSort::Newest),
        ("one_char_price_asc", &["卡", "码", "币"], ListingSort::PriceAsc),
        ("one_char_price_desc", &["卡", "码", "币"], ListingSort::PriceDesc),
        ("one_char_sales", &["卡", "码", "币"], ListingSort::Sales),
        ("one_char_trust", &["卡", "码", "币"], ListingSort::Trust),
        ("three_plus_price_asc", &["一卡通", "激活码", "steam"], ListingSort::PriceAsc),
        ("all_newest", &[""], ListingSort::Newest),
        ("all_price_asc", &[""], ListingSort::PriceAsc),
        ("all_sales", &[""], ListingSort::Sales),
        ("all_trust", &[""], ListingSort::Trust),
    ];
    let mut report = serde_json::Map::new();
    for (kind, queries, sort) in kinds {
        let mut times_ms = Vec::with_capacity(searches);
        let mut found = 0usize;
        for i in 0..searches {
            let q = queries[i % queries.len()];
            let query = kabao_store::ListingQuery {
                terms: SearchTerms::parse(q)?,
                category: None,
                sort,
                after: None,
                limit: 25,
            };
            let t = Instant::now();
            let mut tx = store.begin(TxMode::Read).await?;
            found += tx.search_listings(&query).await?.len();
            drop(tx);
            times_ms.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        times_ms.sort_by(f64::total_cmp);
        let at = |p: f64| times_ms[((times_ms.len() as f64 - 1.0) * p).round() as usize];
        report.insert(
            kind.into(),
            serde_json::json!({
                "queries": queries,
                "sort": sort.as_str(),
                "median_ms": (at(0.5) * 1000.0).round() / 1000.0,
                "p99_ms": (at(0.99) * 1000.0).round() / 1000.0,
                "rows_per_search": found / searches.max(1),
            }),
        );
    }
    store.close().await;
    println!(
        "{}",
        serde_json::json!({
            "bench": "search", "backend": backend, "products": products, "searches_per_kind": searches,
            "page_size": 25, "seed_seconds": (seed_s * 10.0).round() / 10.0, "results": report,
        })
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::Server;

    #[test]
    fn clients_connect_to_the_urls_host_and_port_and_post_under_its_path() {
        let s = Server::parse("http://127.0.0.1:8080").unwrap();
        assert_eq!((s.authority.as_str(), s.prefix.as_str()), ("127.0.0.1:8080", ""));
        let s = Server::parse("http://shop.example/kabao/").unwrap();
        assert_eq!((s.authority.as_str(), s.prefix.as_str()), ("shop.example:80", "/kabao"));
    }

    #[test]
    fn a_url_the_clients_cannot_speak_to_is_refused_by_name() {
        let e = Server::parse("https://shop.example").err().unwrap().to_string();
        assert!(e.contains("http://") && e.contains("https://shop.example"), "{e}");
        assert!(Server::parse("not a url").is_err());
    }
}
