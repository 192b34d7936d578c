//! Browser tests: a merchant registers, opens a shop, creates a product, imports keys from a file with a
//! malformed line and reads the per-line report; a buyer then sees the stock. On a desktop and a phone window.

use crate::harness::{ChromeDriver, Server, TempDir};
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;
use std::time::Duration;

/// One browser at a time: the machine has two cores and chromium is heavy.
pub static BROWSER_LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

pub async fn browser(driver: &ChromeDriver, width: u32, height: u32) -> Client {
    let profile = TempDir::new("chrome-profile");
    let caps = json!({
        "browserName": "chrome",
        "goog:chromeOptions": {
            "binary": driver.chromium,
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-dev-shm-usage", "--disable-component-update", "--disable-sync", "--no-first-run",
                format!("--window-size={width},{height}"),
                format!("--user-data-dir={}", profile.path().display()),
                "--lang=zh-CN",
            ],
            // A Chinese phone browser: pages must default to zh-CN for it.
            "prefs": { "intl.accept_languages": "zh-CN,zh" },
        }
    });
    let serde_json::Value::Object(caps) = caps else { unreachable!("json! object") };
    // The profile directory must outlive the browser; leak the guard, the OS temp dir is cleaned elsewhere.
    std::mem::forget(profile);
    // Plain HTTP to the local chromedriver: no TLS stack needed.
    let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&driver.url)
        .await
        .unwrap_or_else(|e| panic!("connecting to chromedriver: {e}"));
    client.set_window_size(width, height).await.unwrap_or_else(|e| panic!("window size: {e}"));
    client
}

/// Waits (up to 10 s) until an element matching `css` is on the page.
pub async fn wait_for(c: &Client, css: &str) {
    c.wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("waiting for {css}: {e}"));
}

/// Waits for an element, then clicks it.
pub async fn click(c: &Client, css: &str) {
    c.wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .click()
        .await
        .unwrap_or_else(|e| panic!("click {css}: {e}"));
}

/// Logs in as a demo account (logging out whoever is logged in first) and waits for the logged-in page.
pub async fn log_in(c: &Client, base: &str, username: &str) {
    if c.find(Locator::Css("#logout-form")).await.is_ok() {
        submit(c, "#logout-form").await;
        wait_for(c, "a[href='/login']").await;
    }
    c.goto(&format!("{base}/login")).await.unwrap_or_else(|e| panic!("{e}"));
    fill(c, "#login-form [name=username]", username).await;
    fill(c, "#login-form [name=password]", "kabao-demo-2026").await;
    submit(c, "#login-form").await;
    second_step(c, base, username).await;
}

/// The second factors the tests set up, by server and user name: the secret and the last time step a code
/// was typed for (a code is accepted once).
static SECRETS: std::sync::Mutex<Vec<(String, String, kabao_core::totp::TotpSecret, i64)>> =
    std::sync::Mutex::new(Vec::new());

fn unix_now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

/// The code a person would type now for `username` on `base`: the next step not used yet (waiting for the
/// authenticator's next code when the window's steps are used up), or `None` if the test never enrolled them.
pub async fn next_code(base: &str, username: &str) -> Option<String> {
    loop {
        let wait = {
            let mut all = SECRETS.lock().unwrap_or_else(|e| e.into_inner());
            let e = all.iter_mut().find(|e| e.0 == base && e.1 == username)?;
            let now = kabao_core::totp::step_of(unix_now());
            let next = (e.3 + 1).max(now - kabao_core::totp::SKEW_STEPS);
            if next <= now + kabao_core::totp::SKEW_STEPS {
                e.3 = next;
                return Some(e.2.code_for_step(next));
            }
            kabao_core::totp::STEP_SECONDS - unix_now().rem_euclid(kabao_core::totp::STEP_SECONDS)
        };
        tokio::time::sleep(Duration::from_secs(wait as u64)).await;
    }
}

/// Reads the key from the enrolment page (`/account/2fa`), types the current code and waits for the recovery
/// codes, which are returned. The secret is remembered for later logins.
pub async fn enrol(c: &Client, base: &str, username: &str) -> Vec<String> {
    let key = text(c, "#totp-secret").await;
    let secret = kabao_core::totp::TotpSecret::from_base32(&key).unwrap_or_else(|| panic!("no base32 key: {key}"));
    let step = kabao_core::totp::step_of(unix_now());
    let code = secret.code_for_step(step);
    SECRETS.lock().unwrap_or_else(|e| e.into_inner()).push((base.to_string(), username.to_string(), secret, step));
    fill(c, "#totp-confirm-form [name=code]", &code).await;
    submit(c, "#totp-confirm-form").await;
    wait_for(c, "#recovery-codes").await;
    let items = c.find_all(Locator::Css("#recovery-codes li")).await.unwrap_or_else(|e| panic!("{e}"));
    let mut codes = Vec::new();
    for li in items {
        codes.push(li.text().await.unwrap_or_else(|e| panic!("{e}")));
    }
    codes
}

/// After the password: the code page for an enrolled account (the remembered secret's next code), or the forced
/// enrolment of an admin or arbiter signing in for the first time; ends signed in.
pub async fn second_step(c: &Client, base: &str, username: &str) {
    c.wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css("#logout-form, #login-2fa-form, #login-form .form-error"))
        .await
        .unwrap_or_else(|e| panic!("after the password: {e}"));
    if c.find(Locator::Css("#login-2fa-form")).await.is_ok() {
        let code = next_code(base, username).await.unwrap_or_else(|| panic!("{username} has no known secret"));
        fill(c, "#login-2fa-form [name=code]", &code).await;
        submit(c, "#login-2fa-form").await;
    }
    wait_for(c, "#logout-form").await;
    if c.find(Locator::Css("#totp-confirm-form")).await.is_ok() && c.find(Locator::Css("#totp-required")).await.is_ok()
    {
        enrol(c, base, username).await;
    }
}

pub async fn text(c: &Client, css: &str) -> String {
    c.wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("element {css}: {e}"))
        .text()
        .await
        .unwrap_or_else(|e| panic!("text of {css}: {e}"))
}

pub async fn fill(c: &Client, css: &str, value: &str) {
    let el = c.find(Locator::Css(css)).await.unwrap_or_else(|e| panic!("field {css}: {e}"));
    el.clear().await.unwrap_or_else(|e| panic!("clear {css}: {e}"));
    el.send_keys(value).await.unwrap_or_else(|e| panic!("type into {css}: {e}"));
}

async fn select(c: &Client, css: &str, value: &str) {
    let el = c.find(Locator::Css(css)).await.unwrap_or_else(|e| panic!("select {css}: {e}"));
    el.select_by_value(value).await.unwrap_or_else(|e| panic!("select {value} in {css}: {e}"));
}

pub async fn submit(c: &Client, form: &str) {
    // The page may still be replacing itself (a redirect landing) between finding the button and clicking it:
    // a stale or not yet present element is looked for again, a few times, before it counts as a failure (CI
    // saw the header's logout button missing once, on a loaded machine, right after a payment's redirect).
    for attempt in 1..=5 {
        let button = match c.find(Locator::Css(&format!("{form} button[type=submit]"))).await {
            Ok(button) => button,
            Err(e) if attempt < 5 && e.to_string().contains("no such element") => {
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
            Err(e) => panic!("submit of {form}: {e}"),
        };
        match button.click().await {
            Ok(_) => return,
            Err(e) if attempt < 5 && e.to_string().contains("stale element") => {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => panic!("clicking submit of {form}: {e}"),
        }
    }
}

pub async fn path(c: &Client) -> String {
    c.current_url().await.map(|u| u.path().to_string()).unwrap_or_default()
}

/// Fails if the page scrolls sideways: the layout must fit a 375 px phone.
pub async fn assert_no_horizontal_scroll(c: &Client, page: &str) {
    let v = c
        .execute("return document.documentElement.scrollWidth - window.innerWidth;", vec![])
        .await
        .unwrap_or_else(|e| panic!("script: {e}"));
    let overflow = v.as_i64().unwrap_or(i64::MAX);
    assert!(overflow <= 0, "{page} overflows the window by {overflow} px");
}

async fn merchant_imports_keys_and_buyer_sees_stock(width: u32, height: u32, tag: &str) {
    let _guard = BROWSER_LOCK.lock().await;
    let Some(driver) = ChromeDriver::start() else { return };
    let server = Server::start(&[]);
    let c = browser(&driver, width, height).await;
    let base = &server.url;
    let phone = width < 500;

    // Register a merchant.
    c.goto(&format!("{base}/register")).await.unwrap_or_else(|e| panic!("goto: {e}"));
    if phone {
        assert_no_horizontal_scroll(&c, "/register").await;
    }
    fill(&c, "#register-form [name=username]", &format!("merchant_{tag}")).await;
    fill(&c, "#register-form [name=password]", "correct horse battery").await;
    select(&c, "#register-form [name=role]", "merchant").await;
    submit(&c, "#register-form").await;
    c.wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css("#shop-form"))
        .await
        .unwrap_or_else(|e| panic!("console with shop form: {e}"));
    assert_eq!(path(&c).await, "/console");

    // Open a shop.
    fill(&c, "#shop-form [name=name]", &format!("浏览器测试小店 {tag}")).await;
    fill(&c, "#shop-form [name=description]", "自动化测试开设的店铺").await;
    submit(&c, "#shop-form").await;
    c.wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css("#new-product"))
        .await
        .unwrap_or_else(|e| panic!("new product link: {e}"));
    if phone {
        assert_no_horizontal_scroll(&c, "/console").await;
    }

    // Create a product.
    c.find(Locator::Css("#new-product"))
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .click()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    c.wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css("#product-form"))
        .await
        .unwrap_or_else(|e| panic!("product form: {e}"));
    fill(&c, "#product-form [name=title]", "王者荣耀 60 点券").await;
    fill(&c, "#product-form [name=description]", "官方点券卡密").await;
    select(&c, "#product-form [name=category]", "game_card").await;
    select(&c, "#product-form [name=kind]", "standard").await;
    fill(&c, "#product-form [name=price]", "6.00").await;
    fill(&c, "#product-form [name=max_per_order]", "5").await;
    submit(&c, "#product-form").await;
    c.wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css("#import-form"))
        .await
        .unwrap_or_else(|e| panic!("import form: {e}"));
    let product_path = path(&c).await;
    let product_id = product_path.trim_start_matches("/console/products/").to_string();
    assert!(product_id.parse::<i64>().is_ok(), "product console path {product_path}");
    assert_eq!(text(&c, "#stock-available").await.trim(), "0");

    // Import keys from a file with one malformed line (line 3: nothing after ----).
    let dir = TempDir::new("keyfile");
    let file = dir.path().join("keys.txt");
    std::fs::write(&file, "KEY-AAAA-0001\n1000200030004000----pass01\n1000200030004001----\n\nKEY-AAAA-0002\n")
        .unwrap_or_else(|e| panic!("{e}"));
    let input =
        c.find(Locator::Css("#import-form input[name=file]")).await.unwrap_or_else(|e| panic!("file input: {e}"));
    input.send_keys(&file.to_string_lossy()).await.unwrap_or_else(|e| panic!("choose file: {e}"));
    submit(&c, "#import-form").await;
    assert_eq!(text(&c, "#import-report .report-accepted-count").await.trim(), "3");
    let malformed = text(&c, "#import-report li.report-malformed").await;
    assert!(malformed.contains("第 3 行") && malformed.contains("缺少密码"), "malformed line report: {malformed}");
    assert_eq!(text(&c, "#stock-available").await.trim(), "3");
    if phone {
        assert_no_horizontal_scroll(&c, "product console with import report").await;
    }
    let page = c.source().await.unwrap_or_default();
    assert!(!page.contains("1000200030004001"), "the malformed line's content is not echoed back");
    // The merchant dashboard, its SVG charts at the window's width.
    c.goto(&format!("{base}/console/dashboard?days=90")).await.unwrap_or_else(|e| panic!("goto dashboard: {e}"));
    c.wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css("#chart-orders"))
        .await
        .unwrap_or_else(|e| panic!("dashboard charts: {e}"));
    if phone {
        assert_no_horizontal_scroll(&c, "/console/dashboard").await;
        // The other pages this batch added fit the phone too: coupons, variants and tiers, security, sessions.
        for path in [
            "/console/coupons".to_string(),
            format!("/console/products/{product_id}/pricing"),
            "/account/security".to_string(),
            "/account/sessions".to_string(),
            "/account/2fa".to_string(),
        ] {
            c.goto(&format!("{base}{path}")).await.unwrap_or_else(|e| panic!("goto {path}: {e}"));
            c.wait()
                .at_most(Duration::from_secs(10))
                .for_element(Locator::Css("main"))
                .await
                .unwrap_or_else(|e| panic!("{path}: {e}"));
            let page = c.source().await.unwrap_or_default();
            assert!(!page.contains("出错了"), "{path} rendered an error page");
            assert_no_horizontal_scroll(&c, &path).await;
        }
    }

    // Log out and look at the product as a buyer.
    submit(&c, "#logout-form").await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    c.goto(&format!("{base}/p/{product_id}")).await.unwrap_or_else(|e| panic!("goto product: {e}"));
    assert_eq!(text(&c, "#stock-count").await.trim(), "3");
    let page = c.source().await.unwrap_or_default();
    assert!(page.contains("王者荣耀 60 点券"));
    assert!(!page.contains("KEY-AAAA-0001"), "keys are never shown to buyers before purchase");
    if phone {
        assert_no_horizontal_scroll(&c, "/p/{id}").await;
        // The catalog searched by two characters of the name, with its filters and sorts.
        c.goto(&format!("{base}/?q=%E7%8E%8B%E8%80%85&sort=price_asc"))
            .await
            .unwrap_or_else(|e| panic!("goto search: {e}"));
        let results = c.source().await.unwrap_or_default();
        assert!(results.contains("王者荣耀 60 点券"), "two characters of the name find the product");
        assert_no_horizontal_scroll(&c, "/?q=王者").await;
        c.goto(&format!("{base}/p/{product_id}")).await.unwrap_or_else(|e| panic!("goto product: {e}"));
    }
    assert!(page.contains("无质保"), "a product without warranty says so before buying");
    // The English switch keeps the visitor on the same page.
    c.find(Locator::Css("#lang-switch"))
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .click()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    c.wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::XPath("//*[contains(text(), 'No warranty')]"))
        .await
        .unwrap_or_else(|e| panic!("English page: {e}"));
    assert_eq!(path(&c).await, format!("/p/{product_id}"));
    // And it is listed on the home page.
    c.goto(base).await.unwrap_or_else(|e| panic!("goto home: {e}"));
    let link = c.find(Locator::Css(&format!("a.product-link[href='/p/{product_id}']"))).await;
    assert!(link.is_ok(), "home lists the new product");

    c.close().await.unwrap_or_else(|e| panic!("closing browser: {e}"));

    let log = server.log();
    assert!(log.contains("card keys imported"), "the import is logged (without keys)");
    for secret in ["KEY-AAAA-0001", "KEY-AAAA-0002", "1000200030004000", "pass01"] {
        assert!(!log.contains(secret), "the server log contains a card key ({secret})");
    }
}

#[tokio::test]
async fn merchant_imports_keys_and_buyer_sees_stock_on_desktop() {
    merchant_imports_keys_and_buyer_sees_stock(1280, 900, "desk").await;
}

#[tokio::test]
async fn merchant_imports_keys_and_buyer_sees_stock_on_phone() {
    merchant_imports_keys_and_buyer_sees_stock(375, 812, "phone").await;
}
