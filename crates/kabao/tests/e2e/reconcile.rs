//! `kabao reconcile --date`: a business day's 易支付 payments compared with a fake platform on 127.0.0.1 (a plain
//! thread answering the order query in the published JSON form). Exit 0 with nothing needing attention, 1 with a
//! finding of severity error, 2 on a usage error; the same day twice records nothing twice.

use crate::harness::{kabao_bin, TempDir};
use kabao_core::user::Role;
use kabao_core::{Money, Timestamp};
use kabao_store::{NewPayment, PaymentPurpose, TxMode};
use std::collections::HashMap;
use std::io::{Read, Write};
use std::process::Command;
use std::sync::{Arc, Mutex};

/// 2026-12-01 00:00 in China (UTC+8), in UTC milliseconds.
const DAY_START: i64 = 1_796_054_400_000;

/// The platform: `out_trade_no` → (its trade number, money, status); unknown ones get "no such order".
type Book = Arc<Mutex<HashMap<String, (String, String, i64)>>>;

fn fake_epay() -> (Book, String) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/api.php", listener.local_addr().unwrap());
    let book: Book = Arc::default();
    let served = book.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut buf = vec![0u8; 8192];
            let n = stream.read(&mut buf).unwrap_or(0);
            let head = String::from_utf8_lossy(&buf[..n]).to_string();
            let target = head.split_whitespace().nth(1).unwrap_or_default().to_string();
            let query = target.split_once('?').map(|(_, q)| q).unwrap_or_default();
            let params: Vec<(String, String)> = serde_urlencoded_pairs(query);
            let no = params.iter().find(|(k, _)| k == "out_trade_no").map(|(_, v)| v.clone()).unwrap_or_default();
            let answer = match served.lock().unwrap().get(&no) {
                Some((gtn, money, status)) => serde_json::json!({
                    "code": 1, "msg": "查询订单号成功！", "trade_no": gtn, "out_trade_no": no, "type": "alipay",
                    "pid": "1001", "name": "Kabao", "money": money, "status": status
                }),
                None => serde_json::json!({"code": -1, "msg": "订单号不存在"}),
            };
            let body = answer.to_string();
            let res = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.write_all(res.as_bytes());
        }
    });
    (book, url)
}

/// `a=b&c=d` decoded (percent escapes and `+`).
fn serde_urlencoded_pairs(query: &str) -> Vec<(String, String)> {
    let decode = |s: &str| {
        let bytes = s.replace('+', " ").into_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'%' && i + 2 < bytes.len() {
                if let Ok(b) = u8::from_str_radix(&String::from_utf8_lossy(&bytes[i + 1..i + 3]), 16) {
                    out.push(b);
                    i += 3;
                    continue;
                }
            }
            out.push(bytes[i]);
            i += 1;
        }
        String::from_utf8_lossy(&out).into_owned()
    };
    query.split('&').filter_map(|kv| kv.split_once('=')).map(|(k, v)| (decode(k), decode(v))).collect()
}

fn reconcile(data: &TempDir, api_url: &str, date: &str) -> (Option<i32>, String, String) {
    let out = Command::new(kabao_bin())
        .args(["reconcile", "--date", date, "--data-dir"])
        .arg(data.path())
        .env_remove("KABAO_DATABASE_URL")
        .env_remove("KABAO_MASTER_KEY")
        .env("KABAO_EPAY_PID", "1001")
        .env("KABAO_EPAY_KEY", "epay-merchant-key")
        .env("KABAO_EPAY_SUBMIT_URL", "https://pay.example/submit.php")
        .env("KABAO_EPAY_API_URL", api_url)
        .env("KABAO_PUBLIC_URL", "https://kabao.example")
        .output()
        .unwrap_or_else(|e| panic!("running kabao: {e}"));
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A buyer's 易支付 top-ups on the day: (pending, paid here) trade numbers.
async fn seed(data: &TempDir) -> (String, String) {
    let url = format!("sqlite://{}", data.path().join("kabao.db").display());
    let store = kabao_store::open(&url).await.unwrap_or_else(|e| panic!("open: {e}"));
    let at = Timestamp(DAY_START + 3_600_000);
    let buyer = kabao_app::accounts::create_user(&*store, "recon_buyer", "buyer-password", Role::Buyer, None, at)
        .await
        .unwrap_or_else(|e| panic!("create user: {e:?}"));
    let mut tx = store.begin(TxMode::Write).await.unwrap_or_else(|e| panic!("{e}"));
    let payment = |trade_no: &str| NewPayment {
        gateway: "epay".into(),
        trade_no: trade_no.into(),
        purpose: PaymentPurpose::TopUp(buyer.id),
        amount: Money::from_fen(990),
        created_at: at,
    };
    tx.insert_payment(&payment("PRECONLOST")).await.unwrap_or_else(|e| panic!("{e}"));
    let paid = tx.insert_payment(&payment("PRECONGHOST")).await.unwrap_or_else(|e| panic!("{e}"));
    assert!(tx.mark_payment_paid(paid, "2026GHOST", at).await.unwrap_or_else(|e| panic!("{e}")));
    tx.commit().await.unwrap_or_else(|e| panic!("{e}"));
    store.close().await;
    ("PRECONLOST".into(), "PRECONGHOST".into())
}

async fn findings(data: &TempDir) -> usize {
    let url = format!("sqlite://{}", data.path().join("kabao.db").display());
    let store = kabao_store::open(&url).await.unwrap_or_else(|e| panic!("open: {e}"));
    let mut tx = store.begin(TxMode::Read).await.unwrap_or_else(|e| panic!("{e}"));
    let n = tx.findings_of_date("2026-12-01", 0, 100).await.unwrap_or_else(|e| panic!("{e}")).len();
    drop(tx);
    store.close().await;
    n
}

#[tokio::test]
async fn reconcile_exits_0_1_or_2_and_records_each_finding_once() {
    let data = TempDir::new("reconcile");
    let (book, api_url) = fake_epay();
    let (lost, ghost) = seed(&data).await;

    let (code, _, err) = reconcile(&data, &api_url, "2026-13-01");
    assert_eq!(code, Some(2), "a date that is not a day is a usage error: {err}");
    assert!(err.contains("--date"), "{err}");
    let missing = Command::new(kabao_bin()).args(["reconcile"]).output().unwrap();
    assert_eq!(missing.status.code(), Some(2), "--date is required");

    // The platform took the lost payment and knows the paid one: the lost one is applied, info only: exit 0.
    book.lock().unwrap().insert(lost.clone(), ("2026LOST".into(), "9.90".into(), 1));
    book.lock().unwrap().insert(ghost.clone(), ("2026GHOST".into(), "9.90".into(), 1));
    let (code, out, err) = reconcile(&data, &api_url, "2026-12-01");
    assert_eq!(code, Some(0), "{out}\n{err}");
    assert!(out.contains("2 payment(s) checked at epay, 1 applied late") && out.contains("applied_late"), "{out}");
    assert!(out.contains(&lost) && out.contains("reconcile 2026-12-01: ok"), "{out}");

    // The platform no longer knows the paid one (paid here, not there): a finding of severity error: exit 1.
    book.lock().unwrap().remove(&ghost);
    let (code, out, err) = reconcile(&data, &api_url, "2026-12-01");
    assert_eq!(code, Some(1), "{out}\n{err}");
    assert!(out.contains("ERROR") && out.contains("unknown_trade") && out.contains(&ghost), "{out}");
    assert!(out.contains("0 applied late"), "applied once: {out}");
    assert!(err.contains("1 finding(s) need attention"), "{err}");
    assert_eq!(findings(&data).await, 2);

    // The same day again records nothing twice.
    let (code, _, _) = reconcile(&data, &api_url, "2026-12-01");
    assert_eq!(code, Some(1));
    assert_eq!(findings(&data).await, 2);

    // Another day has nothing.
    let (code, out, _) = reconcile(&data, &api_url, "2026-12-02");
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("0 payment(s) checked"), "{out}");
}
