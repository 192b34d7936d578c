//! The pay page offers exactly the gateways configured: a plain demo offers the sandbox only; with Alipay and
//! WeChat Pay configured (pointed at the fake gateways built on their SDKs, tests/interop/) it offers both, and
//! WeChat Native pay on a desktop shows its QR code, rendered by us as SVG. Needs chromium and
//! `KABAO_INTEROP_PYTHON`; each says "skipped" without, unless required.

use crate::browser::{browser, submit, wait_for, BROWSER_LOCK};
use crate::harness::{required, ChromeDriver, Server};
use fantoccini::{Client, Locator};
use serde_json::Value;
use std::io::BufRead;
use std::process::{Child, Command, Stdio};

/// A fake gateway process (killed on drop) and the settings it printed.
struct Fake {
    child: Child,
    hello: Value,
}

impl Drop for Fake {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn fake(script: &str) -> Option<Fake> {
    let Some(python) = std::env::var("KABAO_INTEROP_PYTHON").ok().filter(|p| !p.is_empty()) else {
        assert!(!required("KABAO_REQUIRE_INTEROP"), "KABAO_REQUIRE_INTEROP=1 but KABAO_INTEROP_PYTHON is unset");
        eprintln!("skipped: KABAO_INTEROP_PYTHON not set");
        return None;
    };
    let path = format!("{}/../../tests/interop/{script}", env!("CARGO_MANIFEST_DIR"));
    let mut child = Command::new(python)
        .arg(&path)
        .args(["--port", "0"])
        // The WeChat fake stops when its stdin closes: keep it open for the fake's life.
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("starting {script}: {e}"));
    let stdout = child.stdout.take().unwrap_or_else(|| panic!("{script}: no stdout"));
    let mut line = String::new();
    std::io::BufReader::new(stdout).read_line(&mut line).unwrap_or_else(|e| panic!("{script}: {e}"));
    let hello: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{script} printed {line:?}: {e}"));
    Some(Fake { child, hello })
}

fn s(v: &Value, key: &str) -> String {
    v[key].as_str().unwrap_or_else(|| panic!("{key} in {v}")).to_string()
}

/// A guest order of the demo's first product, left at the pay page.
async fn order_page(c: &Client, base: &str) {
    c.goto(&format!("{base}/p/1")).await.unwrap_or_else(|e| panic!("{e}"));
    crate::browser::fill(c, "#buy-form [name=quantity]", "1").await;
    crate::browser::fill(c, "#buy-form [name=guest_email]", "guest@example.com").await;
    crate::browser::fill(c, "#buy-form [name=query_password]", "chaxun-2026").await;
    crate::browser::click(c, "#buy-form [name=warranty_ack]").await;
    submit(c, "#buy-form").await;
    wait_for(c, "#pay-sandbox-form").await;
}

/// The ids of the pay forms on the page, in order.
async fn pay_forms(c: &Client) -> Vec<String> {
    let mut ids = Vec::new();
    for form in c.find_all(Locator::Css(".pay-box form")).await.unwrap_or_else(|e| panic!("{e}")) {
        ids.push(form.attr("id").await.unwrap_or_else(|e| panic!("{e}")).unwrap_or_default());
    }
    ids
}

#[tokio::test(flavor = "multi_thread")]
async fn the_pay_page_offers_exactly_the_configured_gateways_and_wechat_native_shows_a_qr_code() {
    let _guard = BROWSER_LOCK.lock().await;
    let Some(driver) = ChromeDriver::start() else { return };
    let (Some(alipay), Some(wechat)) = (fake("alipay_gateway.py"), fake("wechatpay_gateway.py")) else { return };
    let c = browser(&driver, 1280, 900).await;

    // A plain demo: the sandbox only (no wallet for a guest, nothing unconfigured).
    let plain = Server::start(&["--demo"]);
    order_page(&c, &plain.url).await;
    assert_eq!(pay_forms(&c).await, ["pay-sandbox-form"]);
    drop(plain);

    // Alipay and WeChat Pay configured: both offered, beside the sandbox.
    let (a, w) = (&alipay.hello, &wechat.hello);
    let alipay_gateway = format!("http://127.0.0.1:{}/gateway.do", a["port"]);
    let wechat_api = format!("http://127.0.0.1:{}", w["port"]);
    let env = [
        ("KABAO_PUBLIC_URL", "http://127.0.0.1:1".to_string()),
        ("KABAO_ALIPAY_APP_ID", s(a, "app_id")),
        ("KABAO_ALIPAY_PRIVATE_KEY", s(a, "app_private_key")),
        ("KABAO_ALIPAY_PUBLIC_KEY", s(a, "alipay_public_key")),
        ("KABAO_ALIPAY_GATEWAY_URL", alipay_gateway.clone()),
        ("KABAO_WECHATPAY_MCH_ID", s(w, "mch_id")),
        ("KABAO_WECHATPAY_APP_ID", s(w, "app_id")),
        ("KABAO_WECHATPAY_SERIAL_NO", s(w, "merchant_serial")),
        ("KABAO_WECHATPAY_PRIVATE_KEY", s(w, "merchant_private_key")),
        ("KABAO_WECHATPAY_API_V3_KEY", s(w, "api_v3_key")),
        ("KABAO_WECHATPAY_PLATFORM_KEY", s(w, "platform_public_key")),
        ("KABAO_WECHATPAY_PLATFORM_SERIAL", s(w, "platform_key_id")),
        ("KABAO_WECHATPAY_API_URL", wechat_api),
    ];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let server = Server::start_with_env(&["--demo"], &env);
    order_page(&c, &server.url).await;
    assert_eq!(pay_forms(&c).await, ["pay-sandbox-form", "pay-alipay-form", "pay-wechatpay-form"]);
    let label = |css: &'static str| {
        let c = c.clone();
        async move { crate::browser::text(&c, css).await }
    };
    assert_eq!(label("#pay-alipay-form button").await.trim(), "支付宝");
    assert_eq!(label("#pay-wechatpay-form button").await.trim(), "微信支付");

    // WeChat Native on a desktop: our page with the QR code as inline SVG, and the amount.
    let order = crate::browser::path(&c).await;
    submit(&c, "#pay-wechatpay-form").await;
    wait_for(&c, "#pay-qr-code svg").await;
    let svg = c
        .find(Locator::Css("#pay-qr-code svg"))
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .html(false)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(svg.contains("<path") || svg.contains("<rect"), "a drawn QR code: {svg:.200}");
    assert_eq!(label("#pay-qr-amount").await.trim(), "¥6.00");
    let done = c.find(Locator::Css("#pay-qr-done")).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(done.attr("href").await.unwrap_or_else(|e| panic!("{e}")).as_deref(), Some(order.as_str()));

    // Alipay on a desktop: the browser is sent to the gateway's page pay with the signed request.
    c.goto(&format!("{}{order}", server.url)).await.unwrap_or_else(|e| panic!("{e}"));
    wait_for(&c, "#pay-alipay-form").await;
    submit(&c, "#pay-alipay-form").await;
    let mut at = c.current_url().await.unwrap_or_else(|e| panic!("{e}"));
    for _ in 0..100 {
        if at.as_str().starts_with(&alipay_gateway) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        at = c.current_url().await.unwrap_or_else(|e| panic!("{e}"));
    }
    assert!(at.as_str().starts_with(&alipay_gateway), "sent to Alipay: {at}");
    assert!(at.as_str().contains("method=alipay.trade.page.pay"), "{at}");
    let _ = c.close().await;
}
