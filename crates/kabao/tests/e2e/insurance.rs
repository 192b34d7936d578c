//! Browser test of the insurance book: a buyer checks out with warranty insurance, then the admin opens the book
//! from the admin page, on a phone-sized window, and sees the premium with its inline SVG chart.

use crate::browser::{browser, click, fill, log_in, submit, text, wait_for};
use crate::harness::{ChromeDriver, Server};
use fantoccini::Locator;

#[tokio::test]
async fn admin_sees_the_insurance_book_with_its_svg_chart_after_an_insured_checkout() {
    let _guard = crate::browser::BROWSER_LOCK.lock().await;
    let Some(driver) = ChromeDriver::start() else { return };
    let server = Server::start(&["--demo"]);
    let base = server.url.clone();
    let banner = server.banner.join("\n");
    let password = banner
        .split("created the first admin account: admin / ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no admin password in {banner}"))
        .to_string();
    let c = browser(&driver, 375, 812).await;

    // A buyer pays an insured order from the wallet.
    log_in(&c, &base, "demo_buyer").await;
    c.goto(&format!("{base}/wallet")).await.unwrap_or_else(|e| panic!("{e}"));
    fill(&c, "#top-up-form [name=amount]", "50").await;
    submit(&c, "#top-up-form").await;
    wait_for(&c, "#sandbox-pay-form").await;
    submit(&c, "#sandbox-pay-form").await;
    wait_for(&c, "#wallet-balance").await;
    c.goto(&format!("{base}/p/1")).await.unwrap_or_else(|e| panic!("{e}"));
    wait_for(&c, "#insurance-addon").await;
    fill(&c, "#buy-form [name=quantity]", "1").await;
    click(&c, "#insurance-check").await;
    click(&c, "#buy-form [name=warranty_ack]").await;
    submit(&c, "#buy-form").await;
    wait_for(&c, "#pay-wallet-form").await;
    submit(&c, "#pay-wallet-form").await;
    wait_for(&c, "#chat-form").await;

    // The admin opens the book from the admin page: the premium is in the pool, charted per category and shop.
    submit(&c, "#logout-form").await;
    wait_for(&c, "a[href='/login']").await;
    c.goto(&format!("{base}/login")).await.unwrap_or_else(|e| panic!("{e}"));
    fill(&c, "#login-form [name=username]", "admin").await;
    fill(&c, "#login-form [name=password]", &password).await;
    submit(&c, "#login-form").await;
    // The first admin's first login walks into two-step verification's enrolment.
    crate::browser::second_step(&c, &base, "admin").await;
    c.goto(&format!("{base}/admin")).await.unwrap_or_else(|e| panic!("{e}"));
    click(&c, "#insurance-link").await;
    wait_for(&c, "svg#category-chart").await;
    let premiums = text(&c, "#book-premiums").await;
    assert!(premiums.starts_with('¥') && premiums != "¥0.00", "{premiums}");
    assert_eq!(text(&c, "#book-pool").await, premiums, "the pool holds the one premium");
    let bars = c.find_all(Locator::Css("svg#category-chart rect.bar-premiums")).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(bars.len(), 1, "one category insured");
    let width = bars[0].attr("width").await.unwrap_or_else(|e| panic!("{e}")).unwrap_or_default();
    assert_eq!(width, "300", "the only premium is the longest bar");
    assert!(c.find(Locator::Css("svg#shop-chart rect.bar-premiums")).await.is_ok());
    let row = text(&c, "#by-category .book-row").await;
    assert!(row.contains(&premiums) && row.contains("0.0 %"), "{row}");
    crate::browser::assert_no_horizontal_scroll(&c, "insurance book").await;
    c.close().await.unwrap_or_else(|e| panic!("{e}"));
}
