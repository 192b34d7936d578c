//! `kabao bench growth` (issue 22): the pages and checks that should cost the same whatever the history, timed on
//! a small marketplace, then again after growing it to `--orders` orders, and `ledger verify`'s time and memory
//! over the grown books.
//!
//! The history is written through the store's own transaction methods (the ones checkout, payment, claims,
//! reviews and settlement use), thousands of orders per write transaction: balanced ledger transactions, keys
//! allocated by the store, hash-chained order events, so `ledger verify` and the pages read what the real code
//! would have left. Only the batching is the benchmark's.

use super::{percentile_ms, seed_product, Connection, LocalServer, Server};
use anyhow::{bail, Context};
use http_body_util::Full;
use hyper::body::Bytes;
use hyper::{Method, StatusCode};
use kabao_core::catalog::{Category, GoodsKind, ProductDraft};
use kabao_core::claim::ClaimState;
use kabao_core::events::{OrderEvent, PaidFrom, Rejection};
use kabao_core::ledger::{self, OrderId};
use kabao_core::order::{OrderNo, OrderState};
use kabao_core::user::Role;
use kabao_core::warranty::Defect;
use kabao_core::{Money, ProductId, ShopId, Timestamp, UserId};
use kabao_store::{ClaimRecord, NewOrder, NewUser, ReviewRecord, Store, TxMode};
use std::time::Instant;

/// Settings of `kabao bench growth`.
pub struct GrowthBench {
    /// Orders in the grown history, over three shops.
    pub orders: u64,
    /// Sequential requests timed per page, on day one and grown.
    pub requests: usize,
    /// An empty PostgreSQL database instead of a temporary SQLite file.
    pub database_url: Option<String>,
}

/// The target of issue 22: a page of the grown marketplace within this factor of its median on day one.
const WITHIN: f64 = 2.0;
/// The target of issue 22 for `ledger verify`: its peak memory grows by less than this.
const VERIFY_RSS_BAR_MB: f64 = 200.0;
/// Orders written per write transaction while growing.
const ORDERS_PER_TX: u64 = 2_000;
/// Keys per import batch while growing (a merchant's large file, not one million-line upload).
const KEYS_PER_IMPORT: u64 = 250_000;
/// Orders of day one, the marketplace the pages are first timed on: one in twenty is an open claim in the timed
/// shop, so its queue holds a full page (20) and more (24).
const DAY_ONE_ORDERS: u64 = 480;
/// The history spans this many days before now, orders evenly spread.
const HISTORY_DAYS: i64 = 365;
/// Price of each shop's main product; the checkout timed orders ten of them, above the first-order amount (¥200),
/// so the first-order check asks for confirmation whatever the shop's trust.
const MAIN_PRICE_FEN: i64 = 2_500;
const CHECKOUT_QUANTITY: i64 = 10;

/// Runs the benchmark on a fresh database (a temporary SQLite file, or the empty PostgreSQL database given).
pub async fn growth(b: GrowthBench) -> anyhow::Result<()> {
    let dir =
        std::env::temp_dir().join(format!("kabao-bench-growth-{}-{:x}", std::process::id(), rand::random::<u32>()));
    std::fs::create_dir_all(&dir)?;
    let result = run(&dir, &b).await;
    let _ = std::fs::remove_dir_all(&dir);
    result
}

/// One of the three shops the history grows in.
struct GrownShop {
    merchant: kabao_store::User,
    shop: ShopId,
    /// The product its orders buy (one key each).
    product: ProductId,
    price: Money,
    category: Category,
}

/// The small marketplace the pages are timed on.
struct Marketplace {
    shops: Vec<GrownShop>,
    /// A buyer who never bought anywhere: the session cookie and the API token.
    buyer_session: String,
    buyer_token: String,
    /// The first shop's merchant.
    merchant_token: String,
}

async fn run(dir: &std::path::Path, b: &GrowthBench) -> anyhow::Result<()> {
    let url = b.database_url.clone().unwrap_or_else(|| format!("sqlite://{}", dir.join("kabao.db").display()));
    let backend = if b.database_url.is_some() { "PostgreSQL" } else { "SQLite" };
    let server = LocalServer::start(&url).await?;
    eprintln!(
        "bench growth: server at {} on {backend}, {} orders, {} requests per page",
        server.base, b.orders, b.requests
    );
    let result = measure_growth(&server.state, &server.base, b, backend).await;
    server.stop().await;
    result
}

async fn measure_growth(
    state: &kabao_server::AppState,
    base: &str,
    b: &GrowthBench,
    backend: &str,
) -> anyhow::Result<()> {
    let store = &*state.app.store;
    let market = seed_marketplace(state).await?;
    // Day one: a day of trade, so each page shows what it shows on a working marketplace (the claim queue a full
    // page of open claims) and the ratio compares like with like: the same page, a year of history later.
    let day_one = grow(state, &market, DAY_ONE_ORDERS, 1).await?;
    eprintln!("bench growth: day one written ({} orders, {} claims open)", day_one.orders, day_one.claims);
    kabao_app::trust::refresh_facts(&state.app).await.map_err(|e| anyhow::anyhow!("trust facts: {e}"))?;
    let pages = pages(&market);
    let server = Server::parse(base)?;
    let mut conn = Connection::open(&server).await?;
    eprintln!("bench growth: timing {} pages on the day-one marketplace", pages.len());
    let mut day_one_times = Vec::with_capacity(pages.len());
    for page in &pages {
        day_one_times.push(time_page(&mut conn, page, b.requests).await?);
    }

    let started = Instant::now();
    let grown = grow(state, &market, b.orders, HISTORY_DAYS).await?;
    let seed_s = started.elapsed().as_secs_f64();
    eprintln!("bench growth: history written in {seed_s:.1} s");
    let t = Instant::now();
    store.analyze().await?;
    let analyze_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let refreshed =
        kabao_app::trust::refresh_facts(&state.app).await.map_err(|e| anyhow::anyhow!("trust facts: {e}"))?;
    let facts_s = t.elapsed().as_secs_f64();
    eprintln!("bench growth: vacuum and analyze {analyze_s:.1} s, trust facts of {refreshed} shops refreshed in {facts_s:.1} s");

    eprintln!("bench growth: timing the same pages on the grown marketplace");
    let mut conn = Connection::open(&server).await?;
    let mut after = Vec::with_capacity(pages.len());
    for page in &pages {
        after.push(time_page(&mut conn, page, b.requests).await?);
    }

    println!(
        "bench growth on {backend}: {} orders ({} per shop), {} keys, {} order events, {} claims, {} reviews; \
         median and p99 of {} sequential requests",
        grown.orders,
        grown.orders_per_shop.iter().map(|n| n.to_string()).collect::<Vec<_>>().join(" / "),
        grown.keys,
        grown.events,
        grown.claims,
        grown.reviews,
        b.requests
    );
    println!(
        "{:<34} {:>22} {:>22} {:>7}  within {WITHIN}x",
        "page", "day-one median/p99 ms", "grown median/p99 ms", "ratio"
    );
    let mut rows = Vec::new();
    let mut all_within = true;
    for ((page, e), g) in pages.iter().zip(&day_one_times).zip(&after) {
        let ratio = if e.median_ms > 0.0 { g.median_ms / e.median_ms } else { f64::INFINITY };
        let within = ratio <= WITHIN;
        all_within &= within;
        println!(
            "{:<34} {:>10.2} / {:>9.2} {:>10.2} / {:>9.2} {:>7.2}  {}",
            page.name,
            e.median_ms,
            e.p99_ms,
            g.median_ms,
            g.p99_ms,
            ratio,
            if within { "yes" } else { "no" }
        );
        rows.push(serde_json::json!({
            "page": page.name,
            "day_one_median_ms": round3(e.median_ms), "day_one_p99_ms": round3(e.p99_ms),
            "grown_median_ms": round3(g.median_ms), "grown_p99_ms": round3(g.p99_ms),
            "ratio": (ratio * 100.0).round() / 100.0, "within_2x": within,
        }));
    }

    // `ledger verify` over the grown books, its memory from the kernel's count of this process.
    let before = MemoryStatus::read();
    // Resets the peak (VmHWM) to the current size, so the peak below is the verification's own.
    let peak_reset = std::fs::write("/proc/self/clear_refs", "5").is_ok();
    let t = Instant::now();
    let problems = kabao_app::verify::ledger(store).await?;
    let verify_s = t.elapsed().as_secs_f64();
    let end = MemoryStatus::read();
    let (rss_before, peak_after) = (before.map(|m| m.rss_kb), end.map(|m| m.hwm_kb));
    let increase_mb = match (rss_before, peak_after, peak_reset) {
        (Some(r), Some(p), true) => Some(p.saturating_sub(r) as f64 / 1024.0),
        _ => None,
    };
    let verify_ok = problems.is_empty();
    for p in problems.iter().take(10) {
        eprintln!("ledger verify problem: {p}");
    }
    let mb = |kb: Option<u64>| kb.map_or("?".to_string(), |kb| format!("{:.0}", kb as f64 / 1024.0));
    println!(
        "ledger verify: {} in {verify_s:.1} s; RSS before {} MB, peak during {} MB: increase {} (bar {VERIFY_RSS_BAR_MB:.0} MB){}",
        if verify_ok { "ok".to_string() } else { format!("{} problems", problems.len()) },
        mb(rss_before),
        mb(peak_after),
        increase_mb.map_or("unknown".to_string(), |m| format!("{m:.0} MB")),
        match increase_mb {
            Some(m) if m < VERIFY_RSS_BAR_MB => ", within",
            Some(_) => ", over",
            None => " (no /proc/self/status, or the peak could not be reset)",
        }
    );
    println!(
        "{}",
        serde_json::json!({
            "bench": "growth", "backend": backend, "orders": grown.orders, "orders_per_shop": grown.orders_per_shop,
            "keys": grown.keys, "events": grown.events, "claims": grown.claims, "reviews": grown.reviews,
            "requests_per_page": b.requests, "seed_seconds": round3(seed_s), "analyze_seconds": round3(analyze_s),
            "trust_facts_seconds": round3(facts_s), "pages": rows, "all_within_2x": all_within,
            "ledger_verify": {
                "ok": verify_ok, "problems": problems.len(), "seconds": round3(verify_s),
                "rss_increase_mb": increase_mb.map(|m| m.round()), "within_bar": increase_mb.map(|m| m < VERIFY_RSS_BAR_MB),
            },
        })
    );
    if !verify_ok {
        bail!("ledger verify found {} problems in the grown history", problems.len());
    }
    Ok(())
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// Three shops (their merchants, a ¥25 main product each with a few keys), a buyer with a session and an API
/// token who never ordered, and an API token for the first shop's merchant.
async fn seed_marketplace(state: &kabao_server::AppState) -> anyhow::Result<Marketplace> {
    let app = &state.app;
    let store = &*app.store;
    let now = crate::now();
    let tag = format!("{:06x}", rand::random::<u32>() & 0xff_ffff);
    let mut shops = Vec::new();
    for s in 0..3 {
        // The bench's merchant and shop, with its ¥1 product beside the main one.
        let (merchant, first) = seed_product(store, &format!("g{tag}_{s}"), true, now).await?;
        let mut tx = store.begin(TxMode::Write).await?;
        let shop = tx.product_by_id(first).await?.map(|p| p.shop_id).context("seeded product")?;
        let category = Category::GameCard;
        let draft = ProductDraft {
            title: format!("点卡 {s} 号店 25 元"),
            description: String::new(),
            category,
            kind: GoodsKind::Standard,
            price: Money::from_fen(MAIN_PRICE_FEN),
            max_per_order: CHECKOUT_QUANTITY,
            trial: false,
            listed: true,
        };
        let product = tx.insert_product(shop, &draft, now).await?;
        tx.commit().await?;
        // Two pages' worth of keys, so the key page shows a full page (100) on day one as grown.
        import(state, merchant.id, product, &format!("{tag}E{s}"), 0, 200).await?;
        shops.push(GrownShop { merchant, shop, product, price: Money::from_fen(MAIN_PRICE_FEN), category });
    }
    let buyer =
        kabao_app::accounts::create_user(store, &format!("g{tag}_buyer"), "bench-password-1", Role::Buyer, None, now)
            .await
            .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let buyer_session = kabao_app::sessions::start_session(app, &buyer).await.map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let buyer_token = kabao_app::sessions::create_api_token(app, &buyer, "bench growth")
        .await
        .map_err(|e| anyhow::anyhow!("{e:?}"))?
        .token;
    let first = shops.first().context("no shop seeded")?;
    let merchant_token = kabao_app::sessions::create_api_token(app, &first.merchant, "bench growth")
        .await
        .map_err(|e| anyhow::anyhow!("{e:?}"))?
        .token;
    Ok(Marketplace { shops, buyer_session, buyer_token, merchant_token })
}

/// Imports keys `{tag}-{i:08X}-GROWTH` for `i` in `from..from + n` into the product, through the real import.
async fn import(
    state: &kabao_server::AppState,
    merchant: UserId,
    product: ProductId,
    tag: &str,
    from: u64,
    n: u64,
) -> anyhow::Result<()> {
    let file: String = (from..from + n).map(|i| format!("{tag}-{i:08X}-GROWTH\n")).collect();
    let app = &state.app;
    kabao_app::inventory::import_keys(
        &*app.store,
        &app.keyring,
        merchant,
        product,
        file.as_bytes(),
        "bench",
        app.now(),
    )
    .await
    .map_err(|e| anyhow::anyhow!("importing keys: {e}"))?;
    Ok(())
}

/// How a timed request authenticates.
enum Auth {
    None,
    /// A page request with the session cookie.
    Session(String),
    /// An API request with a bearer token.
    Bearer(String),
}

/// One page or check timed on day one and grown, and the answer it must give each time.
struct Page {
    name: &'static str,
    method: Method,
    path: String,
    auth: Auth,
    body: Option<String>,
    expect: StatusCode,
    /// Text the answer must contain (the 409 must be the first-order check's, not another conflict).
    must_contain: Option<&'static str>,
}

fn pages(m: &Marketplace) -> Vec<Page> {
    let (shop, product) = m.shops.first().map(|s| (s.shop.0, s.product.0)).unwrap_or_default();
    let get = |name, path: String, auth| Page {
        name,
        method: Method::GET,
        path,
        auth,
        body: None,
        expect: StatusCode::OK,
        must_contain: None,
    };
    vec![
        get("GET /", "/".into(), Auth::None),
        get("GET /api/v1/products", "/api/v1/products".into(), Auth::None),
        get("product page, signed-in new buyer", format!("/p/{product}"), Auth::Session(m.buyer_session.clone())),
        get("shop page", format!("/s/{shop}"), Auth::None),
        get("shop trust API", format!("/api/v1/shops/{shop}/trust"), Auth::None),
        Page {
            name: "checkout, first-order check (409)",
            method: Method::POST,
            path: "/api/v1/orders".into(),
            auth: Auth::Bearer(m.buyer_token.clone()),
            body: Some(
                serde_json::json!({"product_id": product, "quantity": CHECKOUT_QUANTITY, "warranty_ack": true})
                    .to_string(),
            ),
            expect: StatusCode::CONFLICT,
            must_contain: Some("first_order_confirmed"),
        },
        get(
            "merchant key page, big product",
            format!("/api/v1/merchant/products/{product}/keys"),
            Auth::Bearer(m.merchant_token.clone()),
        ),
        get("merchant claim queue", "/api/v1/merchant/claims".into(), Auth::Bearer(m.merchant_token.clone())),
    ]
}

/// Median and p99 of one page's sequential requests.
struct Timing {
    median_ms: f64,
    p99_ms: f64,
}

/// Sends `requests` sequential requests for the page on one keep-alive connection; any other answer than the
/// expected one stops the benchmark (a page that fails fast is not a fast page).
async fn time_page(conn: &mut Connection, page: &Page, requests: usize) -> anyhow::Result<Timing> {
    let mut times_us = Vec::with_capacity(requests);
    for _ in 0..requests {
        let t = Instant::now();
        let (status, body) = exchange(conn, page).await?;
        times_us.push(t.elapsed().as_micros() as u64);
        let text = String::from_utf8_lossy(&body);
        if status != page.expect || page.must_contain.is_some_and(|s| !text.contains(s)) {
            let excerpt: String = text.chars().take(300).collect();
            bail!("{} {}: expected {}, got {status}: {excerpt}", page.method, page.path, page.expect);
        }
    }
    times_us.sort_unstable();
    Ok(Timing { median_ms: percentile_ms(&times_us, 0.5), p99_ms: percentile_ms(&times_us, 0.99) })
}

/// One request and its whole answer, whatever the status.
async fn exchange(conn: &mut Connection, page: &Page) -> anyhow::Result<(StatusCode, Bytes)> {
    let mut request = hyper::Request::builder()
        .method(page.method.clone())
        .uri(format!("{}{}", conn.server.prefix, page.path))
        .header(hyper::header::HOST, &conn.server.authority);
    request = match &page.auth {
        Auth::None => request,
        Auth::Session(s) => {
            request.header(hyper::header::COOKIE, format!("{}={s}", kabao_server::auth::SESSION_COOKIE))
        }
        Auth::Bearer(t) => request.header(hyper::header::AUTHORIZATION, format!("Bearer {t}")),
    };
    let body = match &page.body {
        Some(b) => {
            request = request.header(hyper::header::CONTENT_TYPE, "application/json");
            Bytes::from(b.clone())
        }
        None => Bytes::new(),
    };
    conn.exchange(request.body(Full::new(body))?).await
}

/// What the growth wrote.
struct Grown {
    orders: u64,
    orders_per_shop: [u64; 3],
    keys: u64,
    events: u64,
    claims: u64,
    reviews: u64,
}

/// Which shop order `i` is from: 40 % the first (the timed merchant's), 40 % the second, 20 % the third.
fn shop_of(i: u64) -> usize {
    match i % 5 {
        0 | 1 => 0,
        2 | 3 => 1,
        _ => 2,
    }
}

/// Grows the marketplace to `orders` orders over its three shops: buyers funded by top-ups, the keys imported in
/// batches (the first shop's product gets as many keys as there are orders, so 1 M at 1 M orders), then each
/// order created, paid from the wallet, delivered a key, one in eight claimed (rejected by the merchant, or
/// still open when recent), settled with the platform's fee once its claim window has closed, and one in five
/// settled orders reviewed.
async fn grow(
    state: &kabao_server::AppState,
    market: &Marketplace,
    orders: u64,
    history_days: i64,
) -> anyhow::Result<Grown> {
    let app = &state.app;
    let store: &dyn Store = &*app.store;
    let now = app.now();
    let started = Instant::now();
    let mut per_shop = [0u64; 3];
    for i in 0..orders {
        if let Some(n) = per_shop.get_mut(shop_of(i)) {
            *n += 1;
        }
    }
    // Keys: every order takes one; the first product keeps the rest of its `orders` keys in stock, the others a
    // twentieth of the orders.
    // Each call imports and names its own keys and buyers (the marketplace grows twice: day one, then the history).
    let tag = format!("{:06x}", rand::random::<u32>() & 0xff_ffff);
    let mut keys = 0;
    for (s, shop) in market.shops.iter().enumerate() {
        let sold = per_shop.get(s).copied().unwrap_or(0);
        let n = if s == 0 { orders.max(sold) } else { sold + orders / 20 };
        let mut from = 0;
        while from < n {
            let chunk = KEYS_PER_IMPORT.min(n - from);
            import(state, shop.merchant.id, shop.product, &format!("G{s}{tag}"), from, chunk).await?;
            from += chunk;
            keys += chunk;
        }
        eprintln!("bench growth: {n} keys imported into shop {s}'s product ({:.1} s)", started.elapsed().as_secs_f64());
    }

    // Buyers, each topped up with exactly what its orders will cost (the ledger refuses a negative wallet).
    let buyer_count = (orders / 20).clamp(10, 50_000);
    let mut spend = vec![0i64; buyer_count as usize];
    for i in 0..orders {
        let price = market.shops.get(shop_of(i)).map_or(0, |s| s.price.fen());
        if let Some(total) = spend.get_mut((i % buyer_count) as usize) {
            *total += price;
        }
    }
    let mut buyers = Vec::with_capacity(buyer_count as usize);
    for chunk in spend.chunks(5_000) {
        let mut tx = store.begin(TxMode::Write).await?;
        for total in chunk {
            let id = tx
                .insert_user(&NewUser {
                    username: format!("g{tag}_b{}", buyers.len()),
                    email: None,
                    password_hash: "!".into(),
                    role: Role::Buyer,
                    created_at: Timestamp::from_millis(now.millis() - (history_days + 1) * 86_400_000),
                })
                .await?;
            if *total > 0 {
                tx.post_ledger(&ledger::top_up(id, Money::from_fen(*total))?, None, now).await?;
            }
            buyers.push(id);
        }
        tx.commit().await?;
    }
    eprintln!("bench growth: {buyer_count} buyers funded ({:.1} s)", started.elapsed().as_secs_f64());

    let (warranty_snapshot, warranty_sha256) = kabao_app::warranty::snapshot_of(None);
    let window_ms = app.config.claim_window_seconds * 1000;
    let fee_bps = app.config.fee_bps;
    let step_ms = (history_days * 86_400_000) / orders.max(1) as i64;
    let first_ms = now.millis() - history_days * 86_400_000;
    let (mut events, mut claims, mut reviews) = (0u64, 0u64, 0u64);
    let mut written = 0u64;
    let mut next_report = orders / 20;
    let orders_started = Instant::now();
    while written < orders {
        let end = (written + ORDERS_PER_TX).min(orders);
        let mut tx = store.begin(TxMode::Write).await?;
        for i in written..end {
            let shop = market.shops.get(shop_of(i)).context("shop")?;
            let buyer = *buyers.get((i % buyer_count) as usize).context("buyer")?;
            let created = Timestamp::from_millis(first_ms + i as i64 * step_ms);
            let paid = created.plus_seconds(30);
            let mut random = [0u8; 10];
            rand::RngCore::fill_bytes(&mut rand::thread_rng(), &mut random);
            let new = NewOrder {
                order_no: OrderNo::new(created, random).to_string(),
                buyer_id: Some(buyer),
                guest_email: None,
                guest_query_hash: None,
                shop_id: shop.shop,
                product_id: shop.product,
                quantity: 1,
                unit_price: shop.price,
                amount: shop.price,
                warranty_snapshot: warranty_snapshot.clone(),
                warranty_sha256: warranty_sha256.to_vec(),
                warranty_ack: true,
                created_at: created,
                expires_at: created.plus_seconds(app.config.order_ttl_seconds),
                custom_answers: None,
            };
            let id: OrderId = tx.insert_order(&new).await?;
            let mut chain = Vec::with_capacity(6);
            chain.push(
                OrderEvent::OrderCreated {
                    order_no: &new.order_no,
                    product: shop.product,
                    quantity: 1,
                    amount: shop.price,
                    warranty_sha256: &new.warranty_sha256,
                    warranty_version: None,
                    buyer: Some(buyer),
                }
                .chain_after(None, created.millis()),
            );
            tx.post_ledger(&ledger::pay_from_wallet(buyer, id, shop.price)?, Some(id), paid).await?;
            chain.push(
                OrderEvent::OrderPaid { amount: shop.price, source: PaidFrom::Wallet }
                    .chain_after(chain.last(), paid.millis()),
            );
            let keys = tx.allocate_keys(shop.product, id, 1).await?;
            if keys.len() != 1 {
                bail!("order {i}: no key left in shop {}'s product", shop.shop);
            }
            let settle_after = paid.plus_seconds(window_ms / 1000);
            if !tx.deliver_order(id, OrderState::PendingPayment, paid, settle_after).await? {
                bail!("order {i}: not delivered");
            }
            chain.push(OrderEvent::KeysAssigned { card_keys: &keys }.chain_after(chain.last(), paid.millis()));
            let settled = settle_after.millis() + 60_000 <= now.millis();
            if i % 8 == 7 {
                let filed = Timestamp::from_millis((paid.millis() + 600_000).min(now.millis()));
                let claim_no = format!("CL{:08X}{:016X}", rand::random::<u32>(), rand::random::<u64>());
                let due_at = filed.plus_seconds(24 * 3600);
                let decided = filed.plus_seconds(1800);
                let reason = "已核实卡密在售出时可用";
                tx.insert_claim(&ClaimRecord {
                    id: 0,
                    claim_no: claim_no.clone(),
                    order_id: id,
                    item: 1,
                    shop_id: shop.shop,
                    defect: Defect::InvalidKey,
                    description: "卡密提示无效".into(),
                    activated: false,
                    eligible: true,
                    reasons: "[]".into(),
                    state: if settled { ClaimState::Rejected } else { ClaimState::Open },
                    due_at: if settled { None } else { Some(due_at) },
                    paused_remaining_ms: None,
                    evidence_requested: false,
                    request_note: None,
                    decision_reason: settled.then(|| reason.to_string()),
                    decided_by: settled.then_some(shop.merchant.id),
                    decided_at: settled.then_some(decided),
                    created_at: filed,
                    auto_remedied: false,
                })
                .await?;
                chain.push(
                    OrderEvent::ClaimFiled {
                        claim_no: &claim_no,
                        item: 1,
                        defect: Defect::InvalidKey,
                        activated: false,
                        eligible: true,
                        reasons: "[]",
                        evidence_sha256: &[],
                        due_at: Some(due_at),
                    }
                    .chain_after(chain.last(), filed.millis()),
                );
                if settled {
                    let why = Rejection::ByMerchant { reason, by: shop.merchant.id };
                    chain.push(
                        OrderEvent::ClaimRejected { claim_no: &claim_no, item: 1, why }
                            .chain_after(chain.last(), decided.millis()),
                    );
                }
                claims += 1;
            }
            if settled {
                let at = Timestamp::from_millis(settle_after.millis() + 60_000);
                if !tx.update_order_state(id, OrderState::Delivered, OrderState::Settled, at).await? {
                    bail!("order {i}: not settled");
                }
                let fee = ledger::fee(shop.price, fee_bps);
                tx.post_ledger(&ledger::settle(id, shop.shop, shop.price, fee)?, Some(id), at).await?;
                chain.push(
                    OrderEvent::OrderSettled { amount: shop.price, fee_bps }.chain_after(chain.last(), at.millis()),
                );
                if i % 5 == 0 {
                    tx.insert_review(&ReviewRecord {
                        id: 0,
                        order_id: id,
                        shop_id: shop.shop,
                        product_id: shop.product,
                        buyer_id: buyer,
                        category: shop.category,
                        described: if i % 35 == 0 { 3 } else { 5 },
                        service: 5,
                        delivery: 5,
                        tags_json: "[]".into(),
                        body: String::new(),
                        reissue: 0,
                        reply: None,
                        replied_at: None,
                        created_at: at,
                    })
                    .await?;
                    reviews += 1;
                }
            }
            for event in &chain {
                tx.append_event(id, event).await?;
            }
            events += chain.len() as u64;
        }
        tx.commit().await?;
        written = end;
        if written >= next_report || written == orders {
            let s = orders_started.elapsed().as_secs_f64();
            eprintln!(
                "bench growth: {written}/{orders} orders, {events} events, {claims} claims, {reviews} reviews ({s:.1} s, {:.0} orders/s)",
                written as f64 / s.max(1e-9)
            );
            next_report = written + orders / 20;
        }
    }
    Ok(Grown { orders, orders_per_shop: per_shop, keys, events, claims, reviews })
}

/// This process's resident size and its peak, from `/proc/self/status`, in kB.
#[derive(Clone, Copy)]
struct MemoryStatus {
    rss_kb: u64,
    hwm_kb: u64,
}

impl MemoryStatus {
    fn read() -> Option<MemoryStatus> {
        let status = std::fs::read_to_string("/proc/self/status").ok()?;
        let field = |name: &str| -> Option<u64> {
            let line = status.lines().find(|l| l.starts_with(name))?;
            line.trim_start_matches(name).trim().trim_end_matches("kB").trim().parse().ok()
        };
        Some(MemoryStatus { rss_kb: field("VmRSS:")?, hwm_kb: field("VmHWM:")? })
    }
}

#[cfg(test)]
mod tests {
    use super::shop_of;

    #[test]
    fn the_history_is_split_forty_forty_twenty_over_the_three_shops() {
        let mut n = [0u32; 3];
        for i in 0..1000 {
            n[shop_of(i)] += 1;
        }
        assert_eq!(n, [400, 400, 200]);
    }
}
