//! Browser test of two-step verification on a 375 px phone: a buyer enrols (reading the key from the page and
//! computing the code as an authenticator would), signs out, signs in with a wrong code (the error is shown),
//! then with the right one, and once more with a recovery code.

use crate::browser::{browser, enrol, fill, log_in, next_code, path, submit, text, wait_for};
use crate::harness::{ChromeDriver, Server};

#[tokio::test]
async fn a_buyer_enrols_then_signs_in_with_a_code_and_with_a_recovery_code_on_a_phone() {
    let _guard = crate::browser::BROWSER_LOCK.lock().await;
    let Some(driver) = ChromeDriver::start() else { return };
    let server = Server::start(&["--demo"]);
    let base = server.url.clone();
    let c = browser(&driver, 375, 812).await;

    log_in(&c, &base, "demo_buyer").await;
    c.goto(&format!("{base}/account/security")).await.unwrap_or_else(|e| panic!("{e}"));
    crate::browser::click(&c, "#two-factor-link").await;
    wait_for(&c, "#totp-qr svg").await;
    crate::browser::assert_no_horizontal_scroll(&c, "/account/2fa").await;
    let codes = enrol(&c, &base, "demo_buyer").await;
    assert_eq!(codes.len(), 10);
    crate::browser::assert_no_horizontal_scroll(&c, "recovery codes").await;

    // Signing in again asks for the code; a wrong one is refused with the reason.
    let sign_in = async || {
        submit(&c, "#logout-form").await;
        wait_for(&c, "a[href='/login']").await;
        c.goto(&format!("{base}/login")).await.unwrap_or_else(|e| panic!("{e}"));
        fill(&c, "#login-form [name=username]", "demo_buyer").await;
        fill(&c, "#login-form [name=password]", "kabao-demo-2026").await;
        submit(&c, "#login-form").await;
        wait_for(&c, "#login-2fa-form").await;
    };
    sign_in().await;
    crate::browser::assert_no_horizontal_scroll(&c, "/login/2fa").await;
    fill(&c, "#login-2fa-form [name=code]", "000000").await;
    submit(&c, "#login-2fa-form").await;
    let error = text(&c, "#login-2fa-error").await;
    assert!(error.contains("验证码不正确"), "{error}");
    let code = next_code(&base, "demo_buyer").await.unwrap_or_default();
    fill(&c, "#login-2fa-form [name=code]", &code).await;
    submit(&c, "#login-2fa-form").await;
    wait_for(&c, "#logout-form").await;
    assert_eq!(path(&c).await, "/");

    // A recovery code works in place of the code, once; the page says how many are left.
    sign_in().await;
    fill(&c, "#login-2fa-form [name=code]", &codes[0]).await;
    submit(&c, "#login-2fa-form").await;
    let left = text(&c, "#recovery-left").await;
    assert!(left.contains('9'), "{left}");
    assert!(text(&c, "#totp-notice").await.contains("恢复码"));
    c.close().await.unwrap_or_else(|e| panic!("{e}"));
}
