//! Warranty insurance (质保险) over the API, on both backends: the quote is priced from the category's 90-day
//! claim window, the platform's and the shop's trust score, shows its reasons, and is refused for 无质保 products.

use crate::app::TestApp;
use crate::claims::{bought, file_claim, png, reveal, set_template};
use crate::orders::{buyer, top_up};
use axum::http::StatusCode;
use kabao_core::insurance::{quote, QuoteInputs, Sample};
use kabao_core::Money;

async fn quote_story(app: TestApp) {
    let (merchant, product) = app.merchant_with_product("insured_seller").await;
    let path = format!("/api/v1/products/{product}/insurance-quote");
    // 无质保: nothing to insure.
    let res = app.api("GET", &path, None, None).await;
    assert_eq!((res.status, res.json()["error"].clone()), (StatusCode::CONFLICT, "insurance.no_policy".into()));
    assert_eq!(
        app.api("GET", "/api/v1/products/999999/insurance-quote", None, None).await.status,
        StatusCode::NOT_FOUND
    );

    set_template(&app, &merchant, product, "license_key_7d").await;
    let shop = app.api("GET", "/api/v1/merchant/shop", Some(&merchant), None).await.json()["id"].as_i64().unwrap();
    let trust =
        app.api("GET", &format!("/api/v1/shops/{shop}/trust"), None, None).await.json()["score"].as_u64().unwrap();
    let trust_score = u8::try_from(trust).unwrap();

    // A new platform: no claims, no orders — the platform's default rate, and the quote says it shrank.
    let res = app.api("GET", &path, None, None).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let first = res.json();
    let empty = Sample { claims: 0, orders: 0 };
    let inputs = QuoteInputs { price: Money::from_fen(990), category: empty, platform: empty, trust_score };
    let expected = quote(&inputs).unwrap();
    assert_eq!(first["premium_fen"].as_i64(), Some(expected.premium.fen()), "{first}");
    assert_eq!(first["price_fen"], 990);
    let summary = first["summary_zh"].as_str().unwrap();
    assert!(summary.contains("样本较少") && summary.contains(&format!("店铺信用 {trust_score} 分")), "{summary}");
    assert_eq!(first["reasons"][0]["code"], "shrunk_toward_platform");
    assert!(first["summary_en"].as_str().unwrap().contains("shop trust"));

    // One order paid and claimed in the window: the category's (and platform's) rate is now 100 %, and the
    // premium is capped at 30 % of the price.
    app.import(&merchant, product, "INS-0001\nINS-0002\n").await;
    let token = buyer(&app, "insured_buyer").await;
    top_up(&app, &token, 5_000).await;
    let no = bought(&app, &token, product, 1).await;
    reveal(&app, &token, &no).await;
    let fields = [("item", "1"), ("defect", "invalid_key"), ("error_text", "错误代码 E1024：序列号无效")];
    let res = file_claim(
        &app,
        (Some(&token), None),
        &format!("/api/v1/orders/{no}/claims"),
        &fields,
        &[("s.png", &png("i"))],
        None,
    )
    .await;
    assert!(res.status.is_success(), "{}", res.body);
    let res = app.api("GET", &path, None, None).await.json();
    let trust_now =
        app.api("GET", &format!("/api/v1/shops/{shop}/trust"), None, None).await.json()["score"].as_u64().unwrap();
    let one = Sample { claims: 1, orders: 1 };
    let inputs = QuoteInputs { category: one, platform: one, trust_score: u8::try_from(trust_now).unwrap(), ..inputs };
    assert_eq!(res["premium_fen"].as_i64(), Some(quote(&inputs).unwrap().premium.fen()));
    assert_eq!(res["premium_fen"], 297, "{res}");
    assert!(res["reasons"].as_array().unwrap().iter().any(|r| r["code"] == "capped_at_maximum"), "{res}");

    // Ninety days later the claim and the order have left the window.
    app.clock.advance_seconds(91 * 86_400);
    let res = app.api("GET", &path, None, None).await.json();
    assert!(res["summary_zh"].as_str().unwrap().contains("近 90 天 0 单"), "{res}");
}

#[tokio::test]
async fn sqlite_insurance_quote_is_priced_from_the_claim_window_with_reasons() {
    quote_story(TestApp::new().await).await;
}

#[tokio::test]
async fn postgres_insurance_quote_is_priced_from_the_claim_window_with_reasons() {
    if let Some(app) = TestApp::postgres().await {
        quote_story(app).await;
    }
}
