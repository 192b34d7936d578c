//! Browser tests of trust and risk, on a phone-sized window with the demo marketplace: a buyer reads a shop's
//! trust panel with its reasons, a first order from a low-trust shop shows trial guidance, and a chat message
//! with a disguised WeChat id reaches the buyer masked, with a warning beside it.

use crate::browser::{browser, click, fill, log_in, path, submit, text, wait_for};
use crate::harness::{ChromeDriver, Server};
use fantoccini::Locator;

/// The id of the demo product with this title.
async fn product_id(base: &str, title: &str) -> i64 {
    let products: Vec<serde_json::Value> =
        reqwest::get(format!("{base}/api/v1/products")).await.unwrap().json().await.unwrap();
    products.iter().find(|p| p["title"] == title).and_then(|p| p["id"].as_i64()).unwrap_or_else(|| panic!("{title}"))
}

#[tokio::test]
async fn buyer_reads_trust_reasons_gets_trial_guidance_and_sees_a_disguised_wechat_id_masked_on_a_phone() {
    let _guard = crate::browser::BROWSER_LOCK.lock().await;
    let Some(driver) = ChromeDriver::start() else { return };
    let server = Server::start(&["--demo"]);
    let base = server.url.clone();
    let c = browser(&driver, 375, 812).await;

    // A new, uncertified shop: the trust panel lists its reasons, and a first order is steered to the trial item.
    let low = product_id(&base, "Steam 钱包 50 元（美区）").await;
    let trial = product_id(&base, "Steam 钱包 5 元体验卡（美区）").await;
    c.goto(&format!("{base}/p/{low}")).await.unwrap_or_else(|e| panic!("{e}"));
    wait_for(&c, "#trust-panel").await;
    let reasons = text(&c, "#trust-reasons").await;
    assert!(reasons.contains("开店") && reasons.contains('−'), "reasons with their points: {reasons}");
    let guidance = text(&c, "#trial-guidance").await;
    assert!(guidance.contains("第一笔订单") && guidance.contains("体验卡"), "{guidance}");
    click(&c, "#trial-link").await;
    wait_for(&c, "#buy-form").await;
    assert_eq!(path(&c).await, format!("/p/{trial}"));
    crate::browser::assert_no_horizontal_scroll(&c, "product page with trust panel").await;

    // The buyer orders from a trusted shop and pays from the wallet.
    log_in(&c, &base, "demo_buyer").await;
    c.goto(&format!("{base}/wallet")).await.unwrap_or_else(|e| panic!("{e}"));
    fill(&c, "#top-up-form [name=amount]", "50").await;
    submit(&c, "#top-up-form").await;
    wait_for(&c, "#sandbox-pay-form").await;
    submit(&c, "#sandbox-pay-form").await;
    wait_for(&c, "#wallet-balance").await;
    c.goto(&format!("{base}/p/1")).await.unwrap_or_else(|e| panic!("{e}"));
    wait_for(&c, "#trust-panel").await;
    assert!(c.find(Locator::Css("#trial-guidance")).await.is_err(), "a trusted shop needs no guidance");
    fill(&c, "#buy-form [name=quantity]", "1").await;
    click(&c, "#buy-form [name=warranty_ack]").await;
    submit(&c, "#buy-form").await;
    wait_for(&c, "#pay-wallet-form").await;
    submit(&c, "#pay-wallet-form").await;
    wait_for(&c, "#chat-form").await;
    let order_page = path(&c).await;
    let order_no = order_page.trim_start_matches("/o/").to_string();

    // The merchant writes a WeChat id dressed up against filters.
    log_in(&c, &base, "xingchen").await;
    c.goto(&format!("{base}/console/orders/{order_no}/chat")).await.unwrap_or_else(|e| panic!("{e}"));
    fill(&c, "#chat-form [name=body]", "亲，补单快的话加 威❤信：ｋａｂａｏ＿８８８").await;
    submit(&c, "#chat-form").await;
    wait_for(&c, ".chat-message.mine").await;

    // The buyer sees the message masked, with a plain warning beside it.
    log_in(&c, &base, "demo_buyer").await;
    c.goto(&format!("{base}{order_page}")).await.unwrap_or_else(|e| panic!("{e}"));
    wait_for(&c, ".chat-warning").await;
    let body = text(&c, ".chat-message[data-sender=merchant] .chat-body").await;
    assert!(body.contains('*') && !body.contains("ｋａｂａｏ") && !body.contains("kabao"), "masked: {body}");
    let warning = text(&c, ".chat-warning").await;
    assert!(warning.contains("平台外交易不受保护"), "{warning}");
    crate::browser::assert_no_horizontal_scroll(&c, "order page with chat").await;
    c.close().await.unwrap_or_else(|e| panic!("{e}"));
}
