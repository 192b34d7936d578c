//! Browser tests of buying: a guest buys two keys through the sandbox gateway and reveals them; a registered
//! buyer tops up the wallet and pays from it. On a phone-sized window, with the demo marketplace.

use crate::browser::{browser, fill, path, submit, text};
use crate::harness::{ChromeDriver, Server};
use fantoccini::Locator;
use std::time::Duration;

async fn click(c: &fantoccini::Client, css: &str) {
    c.wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .click()
        .await
        .unwrap_or_else(|e| panic!("click {css}: {e}"));
}

async fn wait_for(c: &fantoccini::Client, css: &str) {
    c.wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("waiting for {css}: {e}"));
}

#[tokio::test]
async fn guest_buys_two_keys_with_the_sandbox_gateway_and_reveals_them_on_a_phone() {
    let _guard = crate::browser::BROWSER_LOCK.lock().await;
    let Some(driver) = ChromeDriver::start() else { return };
    let server = Server::start(&["--demo"]);
    let c = browser(&driver, 375, 812).await;
    // The demo's first product (王者荣耀 60 点券) has keys in stock.
    c.goto(&format!("{}/p/1", server.url)).await.unwrap_or_else(|e| panic!("{e}"));
    fill(&c, "#buy-form [name=quantity]", "2").await;
    fill(&c, "#buy-form [name=guest_email]", "guest@example.com").await;
    fill(&c, "#buy-form [name=query_password]", "chaxun-2026").await;
    click(&c, "#buy-form [name=warranty_ack]").await;
    submit(&c, "#buy-form").await;
    wait_for(&c, "#pay-sandbox-form").await;
    assert!(path(&c).await.starts_with("/o/K"));
    assert_eq!(text(&c, "#order-state").await.trim(), "待付款");
    submit(&c, "#pay-sandbox-form").await;
    wait_for(&c, "#sandbox-pay-form").await;
    submit(&c, "#sandbox-pay-form").await;
    wait_for(&c, "#reveal-form").await;
    submit(&c, "#reveal-form").await;
    wait_for(&c, "#keys .key-value").await;
    let keys = c.find_all(Locator::Css("#keys .key-value")).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(keys.len(), 2, "two keys, the most prominent thing on the page");
    let mut values = Vec::new();
    for k in &keys {
        values.push(k.prop("value").await.unwrap_or_default().unwrap_or_default());
    }
    assert!(values.iter().all(|v| v.len() == 23), "demo keys look like XXXXX-XXXXX-XXXXX-XXXXX: {values:?}");
    assert_ne!(values.first(), values.get(1));
    assert!(c.find(Locator::Css("#keys button.copy")).await.is_ok(), "a copy button beside each key");
    crate::browser::assert_no_horizontal_scroll(&c, "order page with keys").await;
    c.close().await.unwrap_or_else(|e| panic!("{e}"));

    let log = server.log();
    for v in &values {
        assert!(!log.contains(v.as_str()), "a revealed key reached the log");
    }
}

#[tokio::test]
async fn registered_buyer_tops_up_and_pays_from_the_wallet_on_a_phone() {
    let _guard = crate::browser::BROWSER_LOCK.lock().await;
    let Some(driver) = ChromeDriver::start() else { return };
    let server = Server::start(&["--demo"]);
    let c = browser(&driver, 375, 812).await;
    let base = &server.url;
    c.goto(&format!("{base}/login")).await.unwrap_or_else(|e| panic!("{e}"));
    fill(&c, "#login-form [name=username]", "demo_buyer").await;
    fill(&c, "#login-form [name=password]", "kabao-demo-2026").await;
    submit(&c, "#login-form").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    c.goto(&format!("{base}/wallet")).await.unwrap_or_else(|e| panic!("{e}"));
    fill(&c, "#top-up-form [name=amount]", "50").await;
    submit(&c, "#top-up-form").await;
    wait_for(&c, "#sandbox-pay-form").await;
    submit(&c, "#sandbox-pay-form").await;
    wait_for(&c, "#wallet-balance").await;
    assert_eq!(text(&c, "#wallet-balance").await.trim(), "¥50.00");

    c.goto(&format!("{base}/p/1")).await.unwrap_or_else(|e| panic!("{e}"));
    fill(&c, "#buy-form [name=quantity]", "1").await;
    click(&c, "#buy-form [name=warranty_ack]").await;
    submit(&c, "#buy-form").await;
    wait_for(&c, "#pay-wallet-form").await;
    submit(&c, "#pay-wallet-form").await;
    wait_for(&c, "#reveal-form").await;
    assert_eq!(text(&c, "#order-state").await.trim(), "已发货");
    submit(&c, "#reveal-form").await;
    wait_for(&c, "#keys .key-value").await;
    crate::browser::assert_no_horizontal_scroll(&c, "order page").await;
    c.goto(&format!("{base}/wallet")).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(text(&c, "#wallet-balance").await.trim(), "¥44.00", "¥50 − ¥6 for one 60 点券");
    c.close().await.unwrap_or_else(|e| panic!("{e}"));
}
