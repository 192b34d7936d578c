//! Gateway reconciliation and withdrawals paid by transfer, against a small gateway registered for the test as
//! "alipay": it answers trade queries from a table and pays transfers once per out_biz_no, counting them.
//! A lost notification is found by the job and applied once; a paid amount that differs is a finding recorded
//! once; the admin's page lists and resolves findings and nobody else's role reaches it. An approved withdrawal
//! to an Alipay payee is transferred once however often the job runs or the answer is lost; a refusal returns
//! the money.

use crate::app::{TestApp, T0};
use crate::orders::{order, verify_books};
use axum::http::StatusCode;
use kabao_app::gateways::{Checkout, Gateway, GatewayError, PayRequest, TradeState, TransferOutcome, TransferRequest};
use kabao_core::ledger::{Account, LedgerTx, TxKind};
use kabao_core::{Lang, Money, ShopId};
use kabao_store::{FindingKind, TxMode};
use serde_json::json;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

const GUEST: &str = "recon@example.com";
const ADMIN_PASSWORD: &str = "recon-admin-password";

#[derive(Debug, Clone, PartialEq, Eq)]
enum TransferMode {
    Pay,
    /// Pays, then the answer is lost (a timeout, a crash before the record): the next call answers Done.
    PayAndLoseTheAnswerOnce,
    Processing,
    Refuse(String),
}

/// The gateway's side.
struct FakeAlipay {
    answers: Mutex<HashMap<String, TradeState>>,
    queries: Mutex<Vec<String>>,
    mode: Mutex<TransferMode>,
    /// out_biz_no → (gateway order id, amount paid): a number is paid once.
    paid: Mutex<HashMap<String, (String, Money)>>,
    transfer_calls: AtomicU64,
}

impl FakeAlipay {
    fn new() -> Arc<FakeAlipay> {
        Arc::new(FakeAlipay {
            answers: Mutex::default(),
            queries: Mutex::default(),
            mode: Mutex::new(TransferMode::Pay),
            paid: Mutex::default(),
            transfer_calls: AtomicU64::new(0),
        })
    }

    fn answer(&self, trade_no: &str, state: TradeState) {
        self.answers.lock().unwrap().insert(trade_no.into(), state);
    }

    fn queries_for(&self, trade_no: &str) -> usize {
        self.queries.lock().unwrap().iter().filter(|q| *q == trade_no).count()
    }

    fn set_mode(&self, mode: TransferMode) {
        *self.mode.lock().unwrap() = mode;
    }
}

#[async_trait::async_trait]
impl Gateway for FakeAlipay {
    fn id(&self) -> &'static str {
        "alipay"
    }
    fn name(&self, lang: Lang) -> &'static str {
        lang.pick("支付宝（测试）", "Alipay (test)")
    }
    fn transfers(&self) -> bool {
        true
    }
    async fn create(&self, _request: &PayRequest<'_>) -> Result<Checkout, GatewayError> {
        Ok(Checkout::Redirect("https://openapi.alipay.example/gateway.do".into()))
    }
    async fn query(&self, trade_no: &str) -> Result<TradeState, GatewayError> {
        self.queries.lock().unwrap().push(trade_no.into());
        Ok(self.answers.lock().unwrap().get(trade_no).cloned().unwrap_or(TradeState::NotFound))
    }
    async fn transfer(&self, request: &TransferRequest<'_>) -> Result<TransferOutcome, GatewayError> {
        self.transfer_calls.fetch_add(1, Ordering::SeqCst);
        let mode = self.mode.lock().unwrap().clone();
        match mode {
            TransferMode::Processing => Ok(TransferOutcome::Processing),
            TransferMode::Refuse(reason) => Ok(TransferOutcome::Refused { reason }),
            TransferMode::Pay | TransferMode::PayAndLoseTheAnswerOnce => {
                let id = {
                    let mut paid = self.paid.lock().unwrap();
                    let entry = paid
                        .entry(request.out_biz_no.to_string())
                        .or_insert_with(|| (format!("2026ALI{}", request.out_biz_no), request.amount));
                    entry.0.clone()
                };
                if mode == TransferMode::PayAndLoseTheAnswerOnce {
                    self.set_mode(TransferMode::Pay);
                    return Err(GatewayError::Unreachable("answer lost".into()));
                }
                Ok(TransferOutcome::Done { gateway_order_id: id })
            }
        }
    }
}

struct Shop {
    app: TestApp,
    gateway: Arc<FakeAlipay>,
    product: i64,
}

impl Shop {
    async fn open(seller: &str, keys: usize) -> Shop {
        let gateway = FakeAlipay::new();
        let app = TestApp::with_gateway(kabao_server::ServerConfig::default(), gateway.clone()).await;
        Shop::stock(app, gateway, seller, keys).await
    }

    /// The same on a fresh PostgreSQL database, or `None` when no server is configured.
    async fn open_postgres(seller: &str, keys: usize) -> Option<Shop> {
        let gateway = FakeAlipay::new();
        let config = kabao_server::ServerConfig::default();
        let app = TestApp::postgres_with_gateway(config, Some(gateway.clone() as Arc<dyn Gateway>)).await?;
        Some(Shop::stock(app, gateway, seller, keys).await)
    }

    async fn stock(app: TestApp, gateway: Arc<FakeAlipay>, seller: &str, keys: usize) -> Shop {
        let (merchant, product) = app.merchant_with_product(seller).await;
        let file: String = (0..keys).map(|i| format!("{seller}-KEY-{i}\n")).collect();
        assert_eq!(app.import(&merchant, product, &file).await.status, StatusCode::OK);
        Shop { app, gateway, product }
    }

    /// A guest order whose Alipay payment has started: (order number, our trade number).
    async fn pending_order(&self) -> (String, String) {
        let body = json!({"product_id": self.product, "quantity": 1, "warranty_ack": true, "guest_email": GUEST});
        let no = order(&self.app, None, body, None).await.json()["order_no"].as_str().unwrap().to_string();
        let o = {
            let mut tx = self.app.state.store.begin(TxMode::Read).await.unwrap();
            tx.order_by_no(&no).await.unwrap().unwrap()
        };
        let device = kabao_app::gateways::Device::Desktop;
        let (payment, _) =
            kabao_app::orders::start_payment_at(&self.app.state, &o, "alipay", "Kabao", device, None, "/".into())
                .await
                .unwrap();
        (no, payment.trade_no)
    }

    async fn order_state(&self, no: &str) -> String {
        let mut tx = self.app.state.store.begin(TxMode::Read).await.unwrap();
        tx.order_by_no(no).await.unwrap().unwrap().state.as_str().to_string()
    }

    async fn pass(&self) -> kabao_app::jobs::Pass {
        kabao_app::jobs::run_once(&self.app.state, "instance-test").await.unwrap()
    }

    async fn findings(&self) -> Vec<kabao_store::Finding> {
        let mut tx = self.app.state.store.begin(TxMode::Read).await.unwrap();
        tx.list_open_findings(None, 100).await.unwrap()
    }
}

fn polled(queried: u64, applied: u64, refused: u64, unreachable: u64) -> Option<kabao_app::reconcile::Poll> {
    Some(kabao_app::reconcile::Poll { queried, applied, refused, unreachable })
}

#[tokio::test]
async fn a_lost_notification_is_found_by_the_job_and_applied_once_with_an_info_finding() {
    lost_notification(Shop::open("recon_lost", 2).await).await;
}

#[tokio::test]
async fn postgres_a_lost_notification_is_found_by_the_job_and_applied_once() {
    if let Some(shop) = Shop::open_postgres("recon_lost_pg", 2).await {
        lost_notification(shop).await;
    }
}

async fn lost_notification(shop: Shop) {
    let (no, trade_no) = shop.pending_order().await;
    shop.gateway
        .answer(&trade_no, TradeState::Paid { gateway_trade_no: "2026ALIPAY1".into(), amount: Money::from_fen(990) });

    shop.app.clock.advance_seconds(120);
    assert_eq!(shop.pass().await.reconciled, polled(0, 0, 0, 0), "too soon: the notification may be on its way");
    shop.app.clock.advance_seconds(61);
    assert_eq!(shop.pass().await.reconciled, polled(1, 1, 0, 0));
    assert_eq!(shop.order_state(&no).await, "delivered");
    assert_eq!(shop.app.stock(shop.product).await, 1);
    // Applied once: paid now, so never asked again, and a replayed apply by query changes nothing.
    assert_eq!(shop.pass().await.reconciled, polled(0, 0, 0, 0));
    assert_eq!(shop.gateway.queries_for(&trade_no), 1);
    let again = kabao_app::payments::settle_notification(
        &shop.app.state,
        "alipay",
        "query:2026ALIPAY1",
        &trade_no,
        "2026ALIPAY1",
        Money::from_fen(990),
        None,
    )
    .await
    .unwrap();
    assert_eq!(again, kabao_app::payments::NotifyOutcome::Duplicate);
    assert_eq!(shop.app.stock(shop.product).await, 1, "no second key");

    let findings = shop.findings().await;
    assert_eq!(findings.len(), 1, "{findings:?}");
    assert_eq!((findings[0].kind, findings[0].trade_no.as_str()), (FindingKind::AppliedLate, trade_no.as_str()));
    assert!(!findings[0].kind.is_error(), "information for the day's report");
    verify_books(&shop.app).await;
}

#[tokio::test]
async fn a_late_payment_of_an_expired_order_is_found_and_refunded_to_the_buyer() {
    let shop = Shop::open("recon_late", 2).await;
    let (no, trade_no) = shop.pending_order().await;
    shop.app.clock.advance_seconds(31 * 60);
    let pass = shop.pass().await;
    assert_eq!((pass.expired, pass.reconciled), (Some(1), polled(1, 0, 0, 0)), "expired; unpaid at the gateway");
    shop.gateway
        .answer(&trade_no, TradeState::Paid { gateway_trade_no: "2026ALIPAY2".into(), amount: Money::from_fen(990) });
    assert_eq!(shop.pass().await.reconciled, polled(1, 1, 0, 0));
    assert_eq!(shop.order_state(&no).await, "expired", "never delivered late");
    assert_eq!(shop.app.stock(shop.product).await, 2);
    verify_books(&shop.app).await;
}

#[tokio::test]
async fn a_paid_amount_that_differs_is_a_finding_recorded_once_and_nothing_is_applied() {
    let shop = Shop::open("recon_mismatch", 2).await;
    let (no, trade_no) = shop.pending_order().await;
    shop.gateway
        .answer(&trade_no, TradeState::Paid { gateway_trade_no: "2026ALIPAY3".into(), amount: Money::from_fen(1) });
    shop.app.clock.advance_seconds(181);
    assert_eq!(shop.pass().await.reconciled, polled(1, 0, 1, 0));
    assert_eq!(shop.pass().await.reconciled, polled(1, 0, 1, 0), "asked again next pass");
    assert_eq!(shop.order_state(&no).await, "pending_payment");
    let findings = shop.findings().await;
    assert_eq!(findings.len(), 1, "recorded once: {findings:?}");
    let f = &findings[0];
    assert_eq!(
        (f.kind, f.expected, f.got, f.gateway_trade_no.as_deref()),
        (FindingKind::AmountMismatch, Money::from_fen(990), Some(Money::from_fen(1)), Some("2026ALIPAY3"))
    );
    assert_eq!(f.business_date, kabao_app::reconcile::business_date(T0));
    verify_books(&shop.app).await;
}

#[tokio::test]
async fn the_day_report_applies_what_the_gateway_took_and_finds_payments_it_does_not_know() {
    let shop = Shop::open("recon_day", 3).await;
    let (lost_no, lost) = shop.pending_order().await;
    let (_, ghost) = shop.pending_order().await;
    let (_, unpaid) = shop.pending_order().await;
    shop.gateway
        .answer(&lost, TradeState::Paid { gateway_trade_no: "2026ALIPAY4".into(), amount: Money::from_fen(990) });
    shop.gateway.answer(&unpaid, TradeState::Unpaid);
    // Paid here by a notification the gateway has no record of (a forged or misrouted one).
    kabao_app::payments::settle_notification(
        &shop.app.state,
        "alipay",
        "N-GHOST",
        &ghost,
        "2026GHOST",
        Money::from_fen(990),
        None,
    )
    .await
    .unwrap();
    let date = kabao_app::reconcile::business_date(T0);
    let report = kabao_app::reconcile::reconcile_day(&shop.app.state, &date).await.unwrap().unwrap();
    assert_eq!((report.checked, report.applied, report.unanswered), (3, 1, 0));
    assert_eq!(shop.order_state(&lost_no).await, "delivered");
    let kinds: Vec<FindingKind> = report.findings.iter().map(|f| f.kind).collect();
    assert_eq!(kinds, vec![FindingKind::AppliedLate, FindingKind::UnknownTrade], "{:?}", report.findings);
    assert_eq!(report.errors(), 1);
    // The same day again records nothing twice and applies nothing twice.
    let again = kabao_app::reconcile::reconcile_day(&shop.app.state, &date).await.unwrap().unwrap();
    assert_eq!((again.checked, again.applied, again.findings.len()), (3, 0, 2));
    assert!(kabao_app::reconcile::reconcile_day(&shop.app.state, "2026-02-30").await.unwrap().is_none());
    verify_books(&shop.app).await;
}

#[tokio::test]
async fn the_admin_lists_and_resolves_findings_and_no_other_role_reaches_them() {
    let shop = Shop::open("recon_page", 2).await;
    let (_, trade_no) = shop.pending_order().await;
    shop.gateway
        .answer(&trade_no, TradeState::Paid { gateway_trade_no: "2026ALIPAY5".into(), amount: Money::from_fen(5) });
    shop.app.clock.advance_seconds(181);
    shop.pass().await;
    let id = shop.findings().await[0].id;

    let (_, password) = kabao_app::accounts::ensure_admin(&*shop.app.state.store, T0).await.unwrap().unwrap();
    let mut a = shop.app.browser();
    a.login("admin", &password).await;
    let page = a.get("/admin/reconciliation").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body.contains(&trade_no) && page.body.contains("金额不符") && page.body.contains("¥0.05"),
        "{}",
        page.body
    );
    let (_, admin_token) = (&a, shop.app.token("admin", &password).await);
    let api = shop.app.api("GET", "/api/v1/admin/reconciliation/findings", Some(&admin_token), None).await;
    assert_eq!(api.status, StatusCode::OK, "{}", api.body);
    assert_eq!(
        (api.json()[0]["kind"].clone(), api.json()[0]["severity"].clone(), api.json()[0]["got_fen"].clone()),
        (json!("amount_mismatch"), json!("error"), json!(5))
    );
    let csrf = a.csrf();
    let path = format!("/admin/reconciliation/{id}/resolve");
    assert_eq!(a.post(&path, &[("note", "退回")], None).await.status, StatusCode::FORBIDDEN, "CSRF checked");
    let no_note = a.post(&path, &[("note", " ")], Some(&csrf)).await;
    assert_eq!(no_note.status, StatusCode::BAD_REQUEST);
    assert!(no_note.body.contains("处理说明"), "{}", no_note.body);
    let done = a.post(&path, &[("note", "已与支付宝核对，原路退款")], Some(&csrf)).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    assert_eq!(a.post(&path, &[("note", "again")], Some(&csrf)).await.status, StatusCode::CONFLICT, "once");
    assert!(!a.get("/admin/reconciliation").await.body.contains(&trade_no), "resolved: no longer open");

    // A merchant and a buyer are refused.
    let mut m = shop.app.browser();
    m.register("recon_nosy_merchant", "merchant").await;
    assert_eq!(m.get("/admin/reconciliation").await.status, StatusCode::FORBIDDEN);
    let csrf = m.csrf();
    assert_eq!(m.post(&path, &[("note", "x")], Some(&csrf)).await.status, StatusCode::FORBIDDEN);
    let mut b = shop.app.browser();
    b.register("recon_nosy_buyer", "buyer").await;
    assert_eq!(b.get("/admin/reconciliation").await.status, StatusCode::FORBIDDEN);
    let (merchant, _) = shop.app.merchant_with_product("recon_api_merchant").await;
    let api = shop.app.api("GET", "/api/v1/admin/reconciliation/findings", Some(&merchant), None).await;
    assert_eq!(api.status, StatusCode::FORBIDDEN);
}

// ---- withdrawals paid by transfer ----

async fn merchant_with_balance(app: &TestApp, name: &str, fen: i64) -> (String, ShopId) {
    let (token, _) = app.merchant_with_product(name).await;
    let shop = ShopId(app.api("GET", "/api/v1/merchant/shop", Some(&token), None).await.json()["id"].as_i64().unwrap());
    let mut tx = app.state.store.begin(TxMode::Write).await.unwrap();
    let earned = LedgerTx::transfer(
        TxKind::Settlement,
        Account::GatewayClearing,
        Account::MerchantAvailable(shop),
        Money::from_fen(fen),
    )
    .unwrap();
    tx.post_ledger(&earned, None, T0).await.unwrap();
    tx.commit().await.unwrap();
    (token, shop)
}

async fn balance(app: &TestApp, account: Account) -> i64 {
    let mut tx = app.state.store.begin(TxMode::Read).await.unwrap();
    tx.balance(account).await.unwrap().fen()
}

/// A withdrawal of ¥50.00 to an Alipay (or bank) payee, and the admin's token: (admin, withdrawal id, shop).
async fn requested(app: &TestApp, name: &str, kind: &str) -> (String, i64, ShopId) {
    let (id, shop) = request(app, name, kind).await;
    let role = kabao_core::user::Role::Admin;
    kabao_app::accounts::create_user(&*app.state.store, "recon_admin", ADMIN_PASSWORD, role, None, T0).await.unwrap();
    (app.token("recon_admin", ADMIN_PASSWORD).await, id, shop)
}

async fn request(app: &TestApp, name: &str, kind: &str) -> (i64, ShopId) {
    let (merchant, shop) = merchant_with_balance(app, name, 8_000).await;
    let payee = match kind {
        "alipay" => json!({"kind": "alipay", "account": "13812345678", "name": "张三"}),
        _ => json!({"kind": "bank", "account": "6222021234567894", "name": "李四", "bank_name": "工商银行"}),
    };
    let payee = app.api("POST", "/api/v1/merchant/payees", Some(&merchant), Some(payee)).await;
    assert_eq!(payee.status, StatusCode::CREATED, "{}", payee.body);
    let body = json!({"amount_fen": 5_000, "payee_id": payee.json()["id"]});
    let w = app.api("POST", "/api/v1/merchant/withdrawals", Some(&merchant), Some(body)).await;
    assert_eq!(w.status, StatusCode::CREATED, "{}", w.body);
    (w.json()["id"].as_i64().unwrap(), shop)
}

async fn approve(app: &TestApp, admin: &str, id: i64) -> crate::app::Res {
    let path = format!("/api/v1/admin/withdrawals/{id}/decision");
    app.api("POST", &path, Some(admin), Some(json!({"approve": true}))).await
}

async fn withdrawal(app: &TestApp, id: i64) -> kabao_store::Withdrawal {
    let mut tx = app.state.store.begin(TxMode::Read).await.unwrap();
    tx.withdrawal_by_id(id).await.unwrap().unwrap()
}

#[tokio::test]
async fn an_approved_alipay_withdrawal_is_transferred_once_however_often_the_job_runs() {
    transferred_once(Shop::open("payout_once", 1).await).await;
}

#[tokio::test]
async fn postgres_an_approved_alipay_withdrawal_is_transferred_once() {
    if let Some(shop) = Shop::open_postgres("payout_once_pg", 1).await {
        transferred_once(shop).await;
    }
}

async fn transferred_once(shop: Shop) {
    let app = &shop.app;
    let (admin, id, shop_id) = requested(app, "payout_seller", "alipay").await;
    let mut a = app.browser();
    a.login("recon_admin", ADMIN_PASSWORD).await;
    let queue = a.get("/admin/withdrawals").await;
    assert!(queue.body.contains("批准并自动转账") && !queue.body.contains("name=\"payout_ref\""), "{}", queue.body);
    let approved = approve(app, &admin, id).await;
    assert_eq!(approved.status, StatusCode::OK, "{}", approved.body);
    assert_eq!(approved.json()["state"], "pending", "queued: paid when the gateway says so");
    assert_eq!(approve(app, &admin, id).await.status, StatusCode::CONFLICT, "approved once");
    let queue = app.api("GET", "/api/v1/admin/withdrawals", Some(&admin), None).await.json();
    assert_eq!(queue.as_array().map(Vec::len), Some(0), "no longer the admin's to pay by hand: {queue}");

    let pass = shop.pass().await;
    assert_eq!(pass.transfers.map(|t| t.paid), Some(1));
    assert_eq!(shop.pass().await.transfers.map(|t| t.paid), Some(0), "nothing left to pay");
    assert_eq!(shop.gateway.transfer_calls.load(Ordering::SeqCst), 1, "asked once");
    let paid = shop.gateway.paid.lock().unwrap().clone();
    assert_eq!(paid.get(&format!("W{id}")).map(|p| p.1), Some(Money::from_fen(5_000)), "the net amount, once");
    let w = withdrawal(app, id).await;
    assert_eq!(
        (w.state, w.payout_ref.as_deref()),
        (kabao_store::WithdrawalState::Approved, Some(format!("2026ALIW{id}").as_str()))
    );
    assert_eq!(balance(app, Account::WithdrawalPending(shop_id)).await, 0);
    assert_eq!(balance(app, Account::MerchantAvailable(shop_id)).await, 3_000);
    verify_books(app).await;
}

#[tokio::test]
async fn a_lost_transfer_answer_is_asked_again_with_the_same_number_and_pays_once() {
    let shop = Shop::open("payout_lost", 1).await;
    let app = &shop.app;
    let (admin, id, _) = requested(app, "payout_lost_seller", "alipay").await;
    assert_eq!(approve(app, &admin, id).await.status, StatusCode::OK);
    shop.gateway.set_mode(TransferMode::PayAndLoseTheAnswerOnce);
    assert_eq!(shop.pass().await.transfers.map(|t| (t.paid, t.retried)), Some((0, 1)));
    assert_eq!(withdrawal(app, id).await.state, kabao_store::WithdrawalState::Pending, "not recorded yet");
    assert_eq!(shop.pass().await.transfers.map(|t| t.retried), Some(0), "not before its backoff");
    app.clock.advance_seconds(61);
    assert_eq!(shop.pass().await.transfers.map(|t| t.paid), Some(1));
    assert_eq!(shop.gateway.transfer_calls.load(Ordering::SeqCst), 2, "asked twice, with one number");
    assert_eq!(shop.gateway.paid.lock().unwrap().len(), 1, "paid once");
    assert_eq!(withdrawal(app, id).await.state, kabao_store::WithdrawalState::Approved);

    // Processing is asked again later too.
    let (id2, _) = request(app, "payout_slow_seller", "alipay").await;
    assert_eq!(approve(app, &admin, id2).await.status, StatusCode::OK);
    shop.gateway.set_mode(TransferMode::Processing);
    assert_eq!(shop.pass().await.transfers.map(|t| t.retried), Some(1));
    shop.gateway.set_mode(TransferMode::Pay);
    app.clock.advance_seconds(61);
    assert_eq!(shop.pass().await.transfers.map(|t| t.paid), Some(1));
    verify_books(app).await;
}

#[tokio::test]
async fn a_refused_transfer_returns_the_money_to_the_shop_with_the_reason() {
    let shop = Shop::open("payout_refused", 1).await;
    let app = &shop.app;
    let (admin, id, shop_id) = requested(app, "payout_refused_seller", "alipay").await;
    assert_eq!(approve(app, &admin, id).await.status, StatusCode::OK);
    shop.gateway.set_mode(TransferMode::Refuse("PAYEE_NOT_EXIST 收款账号不存在".into()));
    assert_eq!(shop.pass().await.transfers.map(|t| t.refused), Some(1));
    let w = withdrawal(app, id).await;
    assert_eq!(w.state, kabao_store::WithdrawalState::Rejected);
    assert!(w.note.as_deref().unwrap_or_default().contains("收款账号不存在"), "{:?}", w.note);
    assert_eq!(balance(app, Account::WithdrawalPending(shop_id)).await, 0);
    assert_eq!(balance(app, Account::MerchantAvailable(shop_id)).await, 8_000, "the money is back");
    assert_eq!(shop.pass().await.transfers.map(|t| t.refused), Some(0));
    verify_books(app).await;
}

#[tokio::test]
async fn a_bank_payee_stays_manual_with_a_reference() {
    let shop = Shop::open("payout_bank", 1).await;
    let app = &shop.app;
    let (admin, id, _) = requested(app, "payout_bank_seller", "bank").await;
    let no_ref = approve(app, &admin, id).await;
    assert_eq!((no_ref.status, no_ref.json()["field"].clone()), (StatusCode::BAD_REQUEST, json!("payout_ref")));
    let path = format!("/api/v1/admin/withdrawals/{id}/decision");
    let paid = app.api("POST", &path, Some(&admin), Some(json!({"approve": true, "payout_ref": "BANK-1"}))).await;
    assert_eq!((paid.status, paid.json()["state"].clone()), (StatusCode::OK, json!("approved")));
    assert_eq!(shop.gateway.transfer_calls.load(Ordering::SeqCst), 0);
}
