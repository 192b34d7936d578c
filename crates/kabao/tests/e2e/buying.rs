//! Browser tests of buying: a guest buys two keys through the sandbox gateway and reveals them; a registered
//! buyer tops up the wallet and pays from it. On a phone-sized window, with the demo marketplace.

use crate::browser::{browser, click, fill, log_in, path, submit, text, wait_for};
use crate::harness::{ChromeDriver, Server};
use fantoccini::Locator;
use std::time::Duration;

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
    assert!(text(&c, "#pay-deadline").await.contains("剩余约"), "the pay page shows its deadline");
    crate::browser::assert_no_horizontal_scroll(&c, "pay page with its deadline").await;
    submit(&c, "#pay-wallet-form").await;
    wait_for(&c, "#reveal-form").await;
    assert_eq!(text(&c, "#order-state").await.trim(), "已发货");
    submit(&c, "#reveal-form").await;
    wait_for(&c, "#keys .key-value").await;
    crate::browser::assert_no_horizontal_scroll(&c, "order page").await;
    c.goto(&format!("{base}/wallet")).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(text(&c, "#wallet-balance").await.trim(), "¥44.00", "¥50 − ¥6 for one 60 点券");
    let wallet = c.source().await.unwrap_or_default();
    assert!(wallet.contains("id=\"wallet-history\"") && wallet.contains("支付订单"), "the wallet history");
    crate::browser::assert_no_horizontal_scroll(&c, "/wallet with its history").await;
    c.goto(&format!("{base}/orders")).await.unwrap_or_else(|e| panic!("{e}"));
    wait_for(&c, "#my-orders").await;
    crate::browser::assert_no_horizontal_scroll(&c, "/orders").await;
    c.close().await.unwrap_or_else(|e| panic!("{e}"));
}

#[tokio::test]
async fn guest_claims_an_invalid_key_with_a_screenshot_and_gets_a_new_key_at_once_on_a_phone() {
    let _guard = crate::browser::BROWSER_LOCK.lock().await;
    let Some(driver) = ChromeDriver::start() else { return };
    let server = Server::start(&["--demo"]);
    let c = browser(&driver, 375, 812).await;
    // The demo's first product sells under "点卡: 未激活 24 小时内可补 1 次" with automatic re-issue.
    c.goto(&format!("{}/p/1", server.url)).await.unwrap_or_else(|e| panic!("{e}"));
    fill(&c, "#buy-form [name=quantity]", "1").await;
    fill(&c, "#buy-form [name=guest_email]", "claimer@example.com").await;
    click(&c, "#buy-form [name=warranty_ack]").await;
    submit(&c, "#buy-form").await;
    wait_for(&c, "#pay-sandbox-form").await;
    submit(&c, "#pay-sandbox-form").await;
    wait_for(&c, "#sandbox-pay-form").await;
    submit(&c, "#sandbox-pay-form").await;
    wait_for(&c, "#reveal-form").await;
    submit(&c, "#reveal-form").await;
    wait_for(&c, "#keys .key-value").await;
    let first = c.find(Locator::Css("#keys .key-value")).await.unwrap_or_else(|e| panic!("{e}"));
    let old_key = first.prop("value").await.unwrap_or_default().unwrap_or_default();

    // "卡密无效" with a screenshot, from the link beside the key.
    click(&c, "#claim-item-1").await;
    wait_for(&c, "#claim-form").await;
    crate::browser::assert_no_horizontal_scroll(&c, "claim form").await;
    let dir = crate::harness::TempDir::new("screenshot");
    let shot = dir.path().join("充值失败截图.png");
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png.extend_from_slice(b"a screenshot of the redeem page saying the code is invalid");
    std::fs::write(&shot, &png).unwrap_or_else(|e| panic!("{e}"));
    c.find(Locator::Css("#claim-form select[name=defect]"))
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .select_by_value("invalid_key")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    c.find(Locator::Css("#claim-form input[type=file]"))
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .send_keys(&shot.display().to_string())
        .await
        .unwrap_or_else(|e| panic!("choosing the file: {e}"));
    fill(&c, "#claim-form [name=error_text]", "兑换失败：该兑换码无效").await;
    submit(&c, "#claim-form").await;

    // The new key, at once, as the most prominent thing on the page.
    wait_for(&c, "#new-key-value").await;
    let new_key = c
        .find(Locator::Css("#new-key-value"))
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .prop("value")
        .await
        .unwrap_or_default()
        .unwrap_or_default();
    assert_eq!(new_key.len(), 23, "a demo key: {new_key}");
    assert_ne!(new_key, old_key, "a fresh key, not the reported one");
    assert_eq!(text(&c, "#claim-state").await.trim(), "已补发");
    assert!(text(&c, "#evidence-list").await.contains("充值失败截图.png"));
    crate::browser::assert_no_horizontal_scroll(&c, "claim page with the new key").await;

    // Back on the order page: the new key replaces the old one.
    c.goto(&format!("{}{}", server.url, path(&c).await.split("/claims").next().unwrap_or_default()))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    submit(&c, "#reveal-form").await;
    wait_for(&c, "#keys .key-value").await;
    let shown = c.find(Locator::Css("#keys .key-value")).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(shown.prop("value").await.unwrap_or_default().unwrap_or_default(), new_key);
    c.close().await.unwrap_or_else(|e| panic!("{e}"));
    let log = server.log();
    assert!(!log.contains(&new_key) && !log.contains(&old_key), "a key reached the log");
}

#[tokio::test]
async fn merchant_rejects_buyer_escalates_arbiter_refunds_on_a_phone() {
    let _guard = crate::browser::BROWSER_LOCK.lock().await;
    let Some(driver) = ChromeDriver::start() else { return };
    let server = Server::start(&["--demo"]);
    let c = browser(&driver, 375, 812).await;
    let base = &server.url;

    // The demo buyer tops up ¥10, buys one 60 点券 (¥6) and reveals it.
    log_in(&c, base, "demo_buyer").await;
    c.goto(&format!("{base}/wallet")).await.unwrap_or_else(|e| panic!("{e}"));
    fill(&c, "#top-up-form [name=amount]", "10").await;
    submit(&c, "#top-up-form").await;
    wait_for(&c, "#sandbox-pay-form").await;
    submit(&c, "#sandbox-pay-form").await;
    wait_for(&c, "#wallet-balance").await;
    c.goto(&format!("{base}/p/1")).await.unwrap_or_else(|e| panic!("{e}"));
    assert!(c.find(Locator::Css("#fund-badge")).await.is_ok(), "a fund member's product shows 赔付保障");
    fill(&c, "#buy-form [name=quantity]", "1").await;
    click(&c, "#buy-form [name=warranty_ack]").await;
    submit(&c, "#buy-form").await;
    wait_for(&c, "#pay-wallet-form").await;
    submit(&c, "#pay-wallet-form").await;
    wait_for(&c, "#reveal-form").await;
    submit(&c, "#reveal-form").await;
    wait_for(&c, "#keys .key-value").await;

    // A problem the rules do not cover (wrong region): no automatic re-issue; the merchant must answer.
    click(&c, "#claim-item-1").await;
    wait_for(&c, "#claim-form").await;
    c.find(Locator::Css("#claim-form select[name=defect]"))
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .select_by_value("wrong_region")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    fill(&c, "#claim-form [name=description]", "提示该点券不适用于我所在的区服").await;
    submit(&c, "#claim-form").await;
    wait_for(&c, "#claim-state").await;
    assert_eq!(text(&c, "#claim-state").await.trim(), "待商家处理");
    let claim_path = path(&c).await;
    let claim_no = claim_path.rsplit('/').next().unwrap_or_default().to_string();

    // The merchant rejects it with a reason.
    log_in(&c, base, "xingchen").await;
    c.goto(&format!("{base}/console/claims")).await.unwrap_or_else(|e| panic!("{e}"));
    click(&c, &format!("a[href='/console/claims/{claim_no}']")).await;
    wait_for(&c, "#reject-form").await;
    crate::browser::assert_no_horizontal_scroll(&c, "merchant claim page").await;
    fill(&c, "#reject-form [name=reason]", "王者荣耀点券全区通用，请检查兑换方式").await;
    submit(&c, "#reject-form").await;
    wait_for(&c, "#claim-decision-reason").await;

    // The buyer takes it to the platform.
    log_in(&c, base, "demo_buyer").await;
    c.goto(&format!("{base}{claim_path}")).await.unwrap_or_else(|e| panic!("{e}"));
    wait_for(&c, "#escalate-form").await;
    assert!(text(&c, "#escalate-until").await.contains("截止"));
    fill(&c, "#escalate-form [name=statement]", "兑换页面明确提示区服不符，截图已提交").await;
    submit(&c, "#escalate-form").await;
    wait_for(&c, "#dispute").await;
    assert_eq!(text(&c, "#claim-state").await.trim(), "平台介入中");

    // The arbiter reads the case and refunds the item in full.
    log_in(&c, base, "demo_arbiter").await;
    c.goto(&format!("{base}/arbiter")).await.unwrap_or_else(|e| panic!("{e}"));
    click(&c, &format!("a[href='/arbiter/disputes/{claim_no}']")).await;
    wait_for(&c, "#ruling-form").await;
    crate::browser::assert_no_horizontal_scroll(&c, "arbiter case page").await;
    fill(&c, "#ruling-form [name=reason]", "商家未能证明该点券适用于买家区服，全额退款").await;
    submit(&c, "#ruling-form").await;
    wait_for(&c, "#dispute-ruling").await;
    assert!(text(&c, "#dispute-ruling").await.contains("退款 ¥6.00"));

    // The buyer sees the ruling and has the money back.
    log_in(&c, base, "demo_buyer").await;
    c.goto(&format!("{base}{claim_path}")).await.unwrap_or_else(|e| panic!("{e}"));
    wait_for(&c, "#dispute-ruling").await;
    assert_eq!(text(&c, "#claim-state").await.trim(), "已退款");
    c.goto(&format!("{base}/wallet")).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(text(&c, "#wallet-balance").await.trim(), "¥10.00", "¥10 − ¥6 + ¥6 refunded");
    c.close().await.unwrap_or_else(|e| panic!("{e}"));
}

#[tokio::test]
async fn guest_sees_the_insurance_premium_and_reasons_before_paying_and_the_order_says_insured_on_a_phone() {
    let _guard = crate::browser::BROWSER_LOCK.lock().await;
    let Some(driver) = ChromeDriver::start() else { return };
    let server = Server::start(&["--demo"]);
    let c = browser(&driver, 375, 812).await;
    c.goto(&format!("{}/p/1", server.url)).await.unwrap_or_else(|e| panic!("{e}"));
    // Before paying: the add-on with its premium per item and why it costs that.
    wait_for(&c, "#insurance-addon").await;
    let offer = text(&c, "#insurance-addon label").await;
    assert!(offer.contains("加购质保险：¥") && offer.contains("/ 件"), "{offer}");
    let reasons = text(&c, "#insurance-reasons").await;
    assert!(reasons.contains("索赔率") && reasons.contains("店铺信用"), "{reasons}");
    fill(&c, "#buy-form [name=guest_email]", "insured@example.com").await;
    fill(&c, "#buy-form [name=query_password]", "chaxun-2026").await;
    click(&c, "#buy-form [name=warranty_ack]").await;
    click(&c, "#insurance-check").await;
    submit(&c, "#buy-form").await;
    wait_for(&c, "#pay-sandbox-form").await;
    let insured = text(&c, "#order-insurance").await;
    assert!(insured.contains("已投保质保险"), "{insured}");
    submit(&c, "#pay-sandbox-form").await;
    wait_for(&c, "#sandbox-pay-form").await;
    submit(&c, "#sandbox-pay-form").await;
    wait_for(&c, "#reveal-form").await;
    crate::browser::assert_no_horizontal_scroll(&c, "insured order page").await;
    c.close().await.unwrap_or_else(|e| panic!("{e}"));
}

#[tokio::test]
async fn guest_buys_the_extended_warranty_and_the_order_page_shows_both_windows_on_a_phone() {
    let _guard = crate::browser::BROWSER_LOCK.lock().await;
    let Some(driver) = ChromeDriver::start() else { return };
    let server = Server::start(&["--demo"]);
    let c = browser(&driver, 375, 812).await;
    // Product 1 (a game card, 24-hour merchant window): the extension to 30 days is offered with its price.
    c.goto(&format!("{}/p/1", server.url)).await.unwrap_or_else(|e| panic!("{e}"));
    wait_for(&c, "#extension-addon").await;
    let offer = text(&c, "#extension-addon label").await;
    assert!(offer.contains("加购平台延保：¥") && offer.contains("再保 29 天"), "{offer}");
    assert!(text(&c, "#extension-reasons").await.contains("延保 29 天"));
    fill(&c, "#buy-form [name=guest_email]", "extended@example.com").await;
    fill(&c, "#buy-form [name=query_password]", "chaxun-2026").await;
    click(&c, "#buy-form [name=warranty_ack]").await;
    click(&c, "#insurance-check").await;
    click(&c, "#extension-check").await;
    submit(&c, "#buy-form").await;
    wait_for(&c, "#pay-sandbox-form").await;
    submit(&c, "#pay-sandbox-form").await;
    wait_for(&c, "#sandbox-pay-form").await;
    submit(&c, "#sandbox-pay-form").await;
    wait_for(&c, "#reveal-form").await;
    // Delivered: who stands behind the order until when.
    let merchant = text(&c, "#order-window-merchant").await;
    assert!(merchant.starts_with("商家质保 至 20"), "{merchant}");
    let platform = text(&c, "#order-window-platform").await;
    assert!(platform.starts_with("平台延保 至 20"), "{platform}");
    assert!(text(&c, "#order-insurance").await.contains("已投保质保险（保费 ¥"));
    assert!(text(&c, "#order-insurance").await.contains("含平台延保"));
    crate::browser::assert_no_horizontal_scroll(&c, "extended order page").await;
    c.close().await.unwrap_or_else(|e| panic!("{e}"));
}
