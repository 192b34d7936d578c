//! The CLI: `kabao migrate`, `kabao keys import` and the other commands, against a fresh SQLite data directory;
//! `kabao risk scan` on stdin.

use crate::harness::{kabao_bin, TempDir};
use kabao_core::catalog::{Category, GoodsKind, ProductDraft};
use kabao_core::user::Role;
use kabao_core::{Money, ProductId, Timestamp};
use kabao_store::{KeyState, NewShop, TxMode};
use std::process::Command;

fn run(args: &[&str], data: &TempDir) -> (bool, String, String) {
    let out = Command::new(kabao_bin())
        .args(args)
        .arg("--data-dir")
        .arg(data.path())
        .env_remove("KABAO_DATABASE_URL")
        .env_remove("KABAO_MASTER_KEY")
        .output()
        .unwrap_or_else(|e| panic!("running kabao: {e}"));
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn sqlite_url(data: &TempDir) -> String {
    format!("sqlite://{}", data.path().join("kabao.db").display())
}

/// Creates a merchant with a shop and one standard product directly in the store at `url`.
pub async fn seed_product(url: &str) -> ProductId {
    let store = kabao_store::open(url).await.unwrap_or_else(|e| panic!("open: {e}"));
    let now = Timestamp::from_millis(1_790_000_000_000);
    let merchant =
        kabao_app::accounts::create_user(&*store, "cli_merchant", "merchant-password", Role::Merchant, None, now)
            .await
            .unwrap_or_else(|e| panic!("create user: {e:?}"));
    let mut tx = store.begin(TxMode::Write).await.unwrap_or_else(|e| panic!("{e}"));
    let shop = tx
        .insert_shop(&NewShop {
            owner_id: merchant.id,
            name: "命令行小店".into(),
            description: String::new(),
            opened_at: now,
        })
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let draft = ProductDraft {
        title: "测试点卡".into(),
        description: String::new(),
        category: Category::GameCard,
        kind: GoodsKind::Standard,
        price: Money::from_fen(500),
        max_per_order: 5,
        trial: false,
        listed: true,
    };
    let product = tx.insert_product(shop, &draft, now).await.unwrap_or_else(|e| panic!("{e}"));
    tx.commit().await.unwrap_or_else(|e| panic!("{e}"));
    store.close().await;
    product
}

async fn available(data: &TempDir, product: ProductId) -> (i64, i64) {
    let url = format!("sqlite://{}", data.path().join("kabao.db").display());
    let store = kabao_store::open(&url).await.unwrap_or_else(|e| panic!("open: {e}"));
    let mut tx = store.begin(TxMode::Read).await.unwrap_or_else(|e| panic!("{e}"));
    let counted = tx.count_card_keys(product, KeyState::Available).await.unwrap_or_else(|e| panic!("{e}"));
    let counter =
        tx.product_by_id(product).await.unwrap_or_else(|e| panic!("{e}")).map(|p| p.stock_available).unwrap_or(-1);
    drop(tx);
    store.close().await;
    (counted, counter)
}

#[tokio::test]
async fn migrate_creates_the_database() {
    let data = TempDir::new("migrate");
    let (ok, out, err) = run(&["migrate"], &data);
    assert!(ok, "migrate failed: {out} {err}");
    assert!(data.path().join("kabao.db").exists());
    let (ok, _, _) = run(&["migrate"], &data);
    assert!(ok, "migrate must be idempotent");
}

#[tokio::test]
async fn keys_import_reports_each_line_and_refuses_duplicates_on_rerun() {
    let data = TempDir::new("import");
    let product = seed_product(&sqlite_url(&data)).await;
    let file = data.path().join("keys.txt");
    std::fs::write(&file, "AAAA-1111\nBBBB-2222\n\n12345----\nCCCC-3333\nAAAA-1111\n")
        .unwrap_or_else(|e| panic!("{e}"));
    let pid = product.0.to_string();
    let path = file.to_string_lossy().into_owned();

    let (ok, out, err) = run(&["keys", "import", "--product", &pid, &path], &data);
    assert!(ok, "import failed: {out} {err}");
    assert!(out.contains("accepted 3 keys"), "{out}");
    assert!(out.contains("Line 4: password missing"), "{out}");
    assert!(out.contains("line 6: same key as line 1"), "{out}");
    assert!(!out.contains("AAAA-1111") && !err.contains("AAAA-1111"), "keys must never be printed");
    assert!(err.contains("master key"), "first run announces the new master key: {err}");
    assert_eq!(available(&data, product).await, (3, 3));

    // Again: every key is now a duplicate, nothing is added, and the existing key file is reused.
    let (ok, out, err) = run(&["keys", "import", "--product", &pid, &path], &data);
    assert!(ok, "{out} {err}");
    assert!(out.contains("accepted 0 keys"), "{out}");
    assert!(out.contains("line 1: the shop already has this key"), "{out}");
    assert!(!err.contains("created a new master key"), "{err}");
    assert_eq!(available(&data, product).await, (3, 3));
}

#[tokio::test]
async fn keys_import_into_a_missing_product_fails_clearly() {
    let data = TempDir::new("import-missing");
    let file = data.path().join("keys.txt");
    std::fs::write(&file, "AAAA\n").unwrap_or_else(|e| panic!("{e}"));
    let (ok, _, err) = run(&["keys", "import", "--product", "999", &file.to_string_lossy()], &data);
    assert!(!ok);
    assert!(err.contains("product 999 does not exist"), "{err}");
}

#[tokio::test]
async fn serve_demo_seeds_a_marketplace_and_prints_credentials() {
    let server = crate::harness::Server::start(&["--demo"]);
    let banner = server.banner.join("\n");
    assert!(banner.contains("created the first admin account: admin / "), "{banner}");
    assert!(banner.contains("demo_buyer / kabao-demo-2026"), "{banner}");

    let http = reqwest::Client::new();
    let health: serde_json::Value =
        http.get(format!("{}/healthz", server.url)).send().await.unwrap().json().await.unwrap();
    assert_eq!(health["status"], "ok");
    let home = http.get(&server.url).send().await.unwrap().text().await.unwrap();
    assert!(home.contains("星辰点卡") && home.contains("Windows 11"), "home lists the demo shops' products");
    let products: Vec<serde_json::Value> =
        http.get(format!("{}/api/v1/products", server.url)).send().await.unwrap().json().await.unwrap();
    assert_eq!(products.len(), 10);
    assert!(products
        .iter()
        .filter(|p| p["kind"] == "standard")
        .all(|p| p["stock_available"].as_i64().unwrap_or(0) > 0));

    // The demo buyer's credentials work.
    let login = http
        .post(format!("{}/api/v1/tokens", server.url))
        .json(&serde_json::json!({"username": "demo_buyer", "password": "kabao-demo-2026", "name": "e2e"}))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 201);
    // Keys never reach the log, even at debug level.
    assert!(!server.log().contains("----"), "no 卡号----密码 key in the log");
}

#[tokio::test]
async fn admin_create_makes_a_staff_account_with_a_printed_password() {
    let data = TempDir::new("admin-create");
    let (ok, out, err) = run(&["admin", "create", "--username", "arbiter_li", "--role", "arbiter"], &data);
    assert!(ok, "{out} {err}");
    let password =
        out.split("with password: ").nth(1).and_then(|s| s.lines().next()).unwrap_or_default().trim().to_string();
    assert_eq!(password.len(), 20, "{out}");
    let url = format!("sqlite://{}", data.path().join("kabao.db").display());
    let store = kabao_store::open(&url).await.unwrap_or_else(|e| panic!("{e}"));
    let mut tx = store.begin(TxMode::Read).await.unwrap_or_else(|e| panic!("{e}"));
    let user = tx
        .user_by_username("arbiter_li")
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|| panic!("not created"));
    assert_eq!(user.role, Role::Arbiter);
    assert!(kabao_app::accounts::verify_password(&user.password_hash, &password).await);
    drop(tx);
    store.close().await;
    // Buyers cannot be made this way, and a taken name is a clear error.
    let (ok, _, err) = run(&["admin", "create", "--username", "x_buyer", "--role", "buyer"], &data);
    assert!(!ok && err.contains("--role must be admin or arbiter"), "{err}");
    let (ok, _, err) = run(&["admin", "create", "--username", "arbiter_li"], &data);
    assert!(!ok && err.contains("taken"), "{err}");
}

#[tokio::test]
async fn admin_reset_totp_removes_the_second_factor_and_is_recorded() {
    let data = TempDir::new("reset-totp");
    let (ok, out, err) = run(&["admin", "create", "--username", "arbiter_wu", "--role", "arbiter"], &data);
    assert!(ok, "{out} {err}");
    let (ok, _, err) = run(&["admin", "reset-totp", "nobody_here"], &data);
    assert!(!ok && err.contains("no user named nobody_here"), "{err}");
    let url = format!("sqlite://{}", data.path().join("kabao.db").display());
    let store = kabao_store::open(&url).await.unwrap_or_else(|e| panic!("{e}"));
    {
        let mut tx = store.begin(TxMode::Write).await.unwrap_or_else(|e| panic!("{e}"));
        let user = tx.user_by_username("arbiter_wu").await.unwrap_or_else(|e| panic!("{e}")).expect("created");
        tx.set_user_email(user.id, Some("wu@example.com")).await.unwrap_or_else(|e| panic!("{e}"));
        tx.commit().await.unwrap_or_else(|e| panic!("{e}"));
    }
    let (ok, out, err) = run(&["admin", "reset-totp", "arbiter_wu"], &data);
    assert!(ok, "{out} {err}");
    assert!(out.contains("two-step verification of arbiter_wu") && out.contains("set it up again"), "{out}");
    // The owner is told (without SMTP configured, mails are files under the data directory).
    assert!(out.contains("a notice was mailed to wu@example.com"), "{out}");
    let mails: Vec<String> = std::fs::read_dir(data.path().join("mail"))
        .unwrap_or_else(|e| panic!("no mail directory: {e}"))
        .filter_map(|f| std::fs::read_to_string(f.ok()?.path()).ok())
        .collect();
    assert_eq!(mails.len(), 1, "{mails:?}");
    assert!(mails[0].contains("To: wu@example.com") && mails[0].contains("移除你的两步验证"), "{}", mails[0]);
    assert!(mails[0].contains("http://localhost/account/security"), "{}", mails[0]);
    let mut tx = store.begin(TxMode::Read).await.unwrap_or_else(|e| panic!("{e}"));
    let events = tx.security_events(10, 0).await.unwrap_or_else(|e| panic!("{e}"));
    assert!(events.iter().any(|e| e.kind == "totp_reset" && e.detail_json.contains("arbiter_wu")), "{events:?}");
    let user =
        tx.user_by_username("arbiter_wu").await.unwrap_or_else(|e| panic!("{e}")).unwrap_or_else(|| panic!("gone"));
    assert!(!user.totp_enabled);
    drop(tx);
    store.close().await;
}

/// PostgreSQL mode from the command line: migrate, import keys, serve; skipped without a server.
#[tokio::test]
async fn postgres_mode_migrates_imports_and_serves() {
    let Some(db) = crate::harness::PgDatabase::create().await else { return };
    let url = db.url.clone();

    let data = TempDir::new("pg");
    let (ok, out, err) = run(&["migrate", "--database-url", &url], &data);
    assert!(ok, "{out} {err}");
    let product = seed_product(&url).await;

    let file = data.path().join("keys.txt");
    std::fs::write(&file, "PG-1\nPG-2\nPG-1\n").unwrap_or_else(|e| panic!("{e}"));
    let (ok, out, err) = run(
        &["keys", "import", "--product", &product.0.to_string(), &file.to_string_lossy(), "--database-url", &url],
        &data,
    );
    assert!(ok, "{out} {err}");
    assert!(out.contains("accepted 2 keys"), "{out}");

    // The same master key as the import, or the server could not open the keys.
    let key_file = data.path().join("master.key").to_string_lossy().into_owned();
    let server =
        crate::harness::Server::start_with_env(&["--database-url", &url], &[("KABAO_MASTER_KEY_FILE", &key_file)]);
    let p: serde_json::Value =
        reqwest::get(format!("{}/api/v1/products/{}", server.url, product.0)).await.unwrap().json().await.unwrap();
    assert_eq!(p["stock_available"], 2);
    drop(server);
    db.drop_database().await;
}

/// Runs a 1-second, 2-client `kabao bench checkout` with `extra` arguments; returns its last line, parsed.
fn bench_checkout(extra: &[&str]) -> serde_json::Value {
    let out = Command::new(kabao_bin())
        .args(["bench", "checkout", "--clients", "2", "--seconds", "1"])
        .args(extra)
        .env_remove("KABAO_DATABASE_URL")
        .env_remove("KABAO_MASTER_KEY")
        .output()
        .unwrap_or_else(|e| panic!("running kabao: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout} {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_str(stdout.lines().last().unwrap_or_default()).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

/// The checkout bench runs end to end and checks the data it leaves; its figures are not asserted here.
#[tokio::test]
async fn bench_checkout_reports_one_json_line_with_consistency_checks() {
    let last = bench_checkout(&[]);
    for field in ["orders", "orders_per_s", "p50_ms", "p99_ms"] {
        assert!(last[field].is_number(), "{field} in {last}");
    }
    assert_eq!(last["duplicate_keys"], 0);
    assert_eq!(last["ledger_balanced"], true);
    assert!(last["orders"].as_u64().unwrap_or(0) > 0);
}

/// `--insurance`: every checkout asks for the quote and buys warranty insurance at it; the premiums are in the
/// pool and the books balance.
#[tokio::test]
async fn bench_checkout_with_insurance_buys_cover_on_every_order() {
    let last = bench_checkout(&["--insurance"]);
    assert_eq!((last["insurance"].clone(), last["failed_requests"].clone()), (true.into(), 0.into()), "{last}");
    let orders = last["orders"].as_i64().unwrap_or(0);
    assert!(orders > 0, "{last}");
    // The bench product costs ¥1.00: its premium is the ¥0.10 minimum, paid once per order.
    assert_eq!(last["insurance_pool_fen"].as_i64(), Some(10 * orders), "{last}");
    assert_eq!((last["duplicate_keys"].clone(), last["ledger_balanced"].clone()), (0.into(), true.into()), "{last}");
}

/// `--url`: the bench drives a separately running `kabao serve`, seeding and checking through its data directory.
#[tokio::test]
async fn bench_checkout_drives_a_running_server() {
    let server = crate::harness::Server::start(&[]);
    let data = server.data.path().to_string_lossy().into_owned();
    let last = bench_checkout(&["--url", &server.url, "--data-dir", &data]);
    assert_eq!((last["duplicate_keys"].clone(), last["ledger_balanced"].clone()), (0.into(), true.into()), "{last}");
    let orders = last["orders"].as_u64().unwrap_or(0);
    assert!(orders > 0, "{last}");
    // The orders went through the running server: its log saw them.
    assert!(server.log().contains("order created"), "the server handled the checkouts");
}

/// The bench's clients speak plain HTTP/1.1: an https:// URL is refused by name before the data directory (and a
/// master key in it) is created or anything is seeded.
#[test]
fn bench_checkout_refuses_a_url_its_clients_cannot_reach_before_touching_data() {
    let data = TempDir::new("bench-url");
    let dir = data.path().join("d");
    let dir = dir.to_string_lossy();
    let out = Command::new(kabao_bin())
        .args([
            "bench",
            "checkout",
            "--clients",
            "1",
            "--seconds",
            "1",
            "--url",
            "https://127.0.0.1:9",
            "--data-dir",
            &dir,
        ])
        .env_remove("KABAO_DATABASE_URL")
        .env_remove("KABAO_MASTER_KEY")
        .output()
        .unwrap_or_else(|e| panic!("running kabao: {e}"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("http://") && stderr.contains("https://127.0.0.1:9"), "{stderr}");
    assert!(!data.path().join("d").exists(), "nothing was created");
}

#[tokio::test]
async fn verify_bundle_says_intact_or_names_the_altered_file() {
    use kabao_app::bundle::{zip_files, Manifest, ManifestFile, FORMAT};
    let dir = TempDir::new("bundle");
    let report = "<html>维权材料包</html>".as_bytes().to_vec();
    let snapshot = br#"{"warranty":"none"}"#.to_vec();
    let sha = kabao_app::bundle::sha256_hex;
    let manifest = Manifest {
        format: FORMAT.into(),
        order_no: "K0000000000000000000000000A".into(),
        generated_at_ms: 0,
        warranty_sha256: sha(&snapshot),
        event_chain_head: String::new(),
        files: [("report.html", &report), ("policy/snapshot.json", &snapshot)]
            .iter()
            .map(|(p, b)| ManifestFile { path: p.to_string(), sha256: sha(b), bytes: b.len() as u64 })
            .collect(),
    };
    let write = |name: &str, report: &[u8]| {
        let files = vec![
            ("report.html".to_string(), report.to_vec()),
            ("policy/snapshot.json".to_string(), snapshot.clone()),
            ("manifest.json".to_string(), serde_json::to_vec(&manifest).unwrap_or_default()),
        ];
        let path = dir.path().join(name);
        std::fs::write(&path, zip_files(&files).unwrap_or_else(|e| panic!("{e}"))).unwrap_or_else(|e| panic!("{e}"));
        path
    };
    let good = write("good.zip", &report);
    let out = Command::new(kabao_bin()).arg("verify-bundle").arg(&good).output().unwrap_or_else(|e| panic!("{e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && stdout.contains("intact"), "{stdout}");
    let bad = write("bad.zip", "<html>改过的报告</html>".as_bytes());
    let out = Command::new(kabao_bin()).arg("verify-bundle").arg(&bad).output().unwrap_or_else(|e| panic!("{e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "an altered package fails");
    assert!(stdout.contains("report.html: altered"), "{stdout}");
    let missing = dir.path().join("nope.zip");
    let out = Command::new(kabao_bin()).arg("verify-bundle").arg(&missing).output().unwrap_or_else(|e| panic!("{e}"));
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("nope.zip"), "names the file it could not read");
}

/// A complaint package downloaded from kabao 4551a15 (before order events were typed: the dispute story of the
/// HTTP tests: twelve events of twelve kinds) still verifies: stored chains are hashed as they were written.
#[test]
fn a_complaint_package_from_before_typed_events_still_verifies() {
    let package = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/e2e/data/complaint-package-4551a15.zip");
    let out = Command::new(kabao_bin()).arg("verify-bundle").arg(package).output().unwrap_or_else(|e| panic!("{e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("intact") && stdout.contains("12 events in an unbroken chain"), "{stdout}");
    // Its events are this version's kinds, in the same words as when it was made.
    let bytes = std::fs::read(package).unwrap_or_else(|e| panic!("{e}"));
    let files = kabao_app::bundle::unzip(&bytes).unwrap_or_else(|e| panic!("{e}"));
    let events = files.iter().find(|(n, _)| n == "order/events.json").map(|(_, b)| b.as_slice()).unwrap_or_default();
    let chain: Vec<kabao_core::audit::ChainedEvent> = serde_json::from_slice(events).unwrap_or_else(|e| panic!("{e}"));
    let words: Vec<&str> = chain
        .iter()
        .map(|e| kabao_core::events::label(&e.kind, &e.body, kabao_core::Lang::En).unwrap_or_else(|| panic!("{e:?}")))
        .collect();
    assert_eq!(
        words,
        [
            "Ordered (warranty terms acknowledged)",
            "Paid; the money is held in escrow",
            "Keys delivered",
            "Keys revealed",
            "Claim filed (evidence fingerprinted)",
            "The merchant rejected the claim",
            "Claim window over: paid out to the merchant",
            "The buyer asked the platform to step in",
            "The merchant gave the platform a statement",
            "Evidence added",
            "Refunded by the platform's ruling",
            "The platform ruled on the dispute",
        ]
    );
}

#[test]
fn risk_scan_prints_one_json_verdict_per_stdin_line() {
    use std::io::Write;
    use std::process::Stdio;
    let mut child = Command::new(kabao_bin())
        .args(["risk", "scan"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("running kabao: {e}"));
    let mut stdin = child.stdin.take().unwrap_or_else(|| panic!("no stdin"));
    stdin
        .write_all("加 V：abc_123\n请问卡密怎么用\r\n补单需要先交50手续费\n".as_bytes())
        .unwrap_or_else(|e| panic!("{e}"));
    drop(stdin);
    let out = child.wait_with_output().unwrap_or_else(|e| panic!("{e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout} {}", String::from_utf8_lossy(&out.stderr));
    let verdicts: Vec<serde_json::Value> =
        stdout.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"))).collect();
    assert_eq!(
        verdicts,
        vec![
            serde_json::json!({"risky": true, "hits": [
                {"rule": "contact.wechat", "category": "off_platform_contact", "span": [4, 11]}]}),
            serde_json::json!({"risky": false, "hits": []}),
            serde_json::json!({"risky": true, "hits": [
                {"rule": "fee.reissue_fee", "category": "fee_scam", "span": [0, 11]}]}),
        ],
        "{stdout}"
    );
}

/// `kabao serve` with a configuration error: (exit code, stderr lines). A backtrace is asked for on purpose, so
/// one would show if an error escaped as a panic or as anyhow's debug report.
fn serve_with_bad_config(data: &TempDir, file: Option<&str>, env: &[(&str, &str)]) -> (Option<i32>, Vec<String>) {
    let mut cmd = Command::new(kabao_bin());
    cmd.args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data.path())
        .env_remove("KABAO_DATABASE_URL")
        .env_remove("KABAO_MASTER_KEY")
        .env("RUST_BACKTRACE", "1")
        .env("RUST_LIB_BACKTRACE", "1")
        .envs(env.iter().copied());
    if let Some(text) = file {
        let path = data.path().join("bad.toml");
        std::fs::write(&path, text).unwrap_or_else(|e| panic!("{e}"));
        cmd.arg("--config").arg(path);
    }
    let out = cmd.output().unwrap_or_else(|e| panic!("running kabao: {e}"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    (out.status.code(), stderr.lines().map(str::to_string).collect())
}

/// (what, config file text, environment, the setting the error must name).
type BadConfig = (&'static str, Option<&'static str>, &'static [(&'static str, &'static str)], &'static str);

#[test]
fn configuration_errors_at_start_are_one_line_naming_the_setting_and_exit_non_zero() {
    let data = TempDir::new("badconfig");
    let cases: [BadConfig; 5] = [
        ("partial epay", Some("epay_pid = \"1001\"\n"), &[], "epay_key"),
        ("bad master key", None, &[("KABAO_MASTER_KEY", "not-hex")], "KABAO_MASTER_KEY"),
        ("bad listen address", None, &[("KABAO_LISTEN", "nonsense")], "KABAO_LISTEN"),
        ("unknown key in the file", Some("listn = \"127.0.0.1:1\"\n"), &[], "listn"),
        (
            "sandbox secret without the sandbox",
            None,
            &[("KABAO_PAYMENTS_SANDBOX_SECRET", "0123456789abcdef")],
            "payments.sandbox.enabled",
        ),
    ];
    for (what, file, env, setting) in cases {
        let (code, lines) = serve_with_bad_config(&data, file, env);
        assert!(code.is_some_and(|c| c != 0), "{what}: exit code {code:?}");
        assert_eq!(lines.len(), 1, "{what}: stderr is one line: {lines:#?}");
        assert!(lines[0].starts_with("kabao: ") && lines[0].contains(setting), "{what}: {}", lines[0]);
        assert!(!lines[0].contains("backtrace") && !lines[0].contains("panicked"), "{what}: {}", lines[0]);
    }
}

/// `kabao ledger verify` names each kind of broken book, written straight into the database, and reads a ledger
/// longer than one page (5,000 entries) without splitting an account at a page's edge.
#[tokio::test]
async fn ledger_verify_names_each_broken_book_across_pages() {
    let data = TempDir::new("verify-broken");
    let (ok, out, err) = run(&["migrate"], &data);
    assert!(ok, "{out} {err}");
    let db = rusqlite::Connection::open(data.path().join("kabao.db")).unwrap_or_else(|e| panic!("{e}"));
    let books = |sql: &str| db.execute_batch(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
    // A healthy history over two pages: wallet 8 is topped up 6,000 分, then pays 1 分 to wallet 7 6,000 times
    // (12,001 entries); split at a page's edge, wallet 8's second half would look negative.
    books("BEGIN; INSERT INTO ledger_txs (id, kind, order_id, created_at) VALUES (1, 'top_up', NULL, 0);");
    books("INSERT INTO ledger_entries (tx_id, account, amount_fen) VALUES (1, 'gateway_clearing', -6000), (1, 'wallet:8', 6000);");
    let mut insert_tx =
        db.prepare("INSERT INTO ledger_txs (id, kind, order_id, created_at) VALUES (?1, 'top_up', NULL, 0)").unwrap();
    let mut insert_entry =
        db.prepare("INSERT INTO ledger_entries (tx_id, account, amount_fen) VALUES (?1, ?2, ?3)").unwrap();
    for id in 2..6002_i64 {
        insert_tx.execute([id]).unwrap_or_else(|e| panic!("{e}"));
        insert_entry.execute(rusqlite::params![id, "wallet:8", -1]).unwrap_or_else(|e| panic!("{e}"));
        insert_entry.execute(rusqlite::params![id, "wallet:7", 1]).unwrap_or_else(|e| panic!("{e}"));
    }
    books("INSERT INTO account_balances (account, balance_fen) VALUES ('gateway_clearing', -6000), ('wallet:7', 6000), ('wallet:8', 0); COMMIT;");
    let (ok, out, err) = run(&["ledger", "verify"], &data);
    assert!(ok && out.contains("ledger: ok"), "{out} {err}");

    // Now break it four ways.
    books(
        "BEGIN;
         INSERT INTO ledger_txs (id, kind, order_id, created_at) VALUES (9001, 'payment', NULL, 0);
         INSERT INTO ledger_entries (tx_id, account, amount_fen) VALUES (9001, 'wallet:7', -100), (9001, 'platform_revenue', 50);
         INSERT INTO account_balances (account, balance_fen) VALUES ('platform_revenue', 70);
         UPDATE account_balances SET balance_fen = 5900 WHERE account = 'wallet:7';
         INSERT INTO ledger_txs (id, kind, order_id, created_at) VALUES (9002, 'withdrawal', NULL, 0);
         INSERT INTO ledger_entries (tx_id, account, amount_fen) VALUES (9002, 'escrow:5', 10), (9002, 'wallet:3', -10);
         INSERT INTO account_balances (account, balance_fen) VALUES ('escrow:5', 10), ('wallet:3', -10);
         COMMIT;",
    );
    drop(insert_tx);
    drop(insert_entry);
    drop(db);
    let (ok, out, err) = run(&["ledger", "verify"], &data);
    assert!(!ok, "{out} {err}");
    let all = format!("{out}{err}");
    for want in [
        "transaction 9001 does not balance: its entries sum to -50 分",
        "account platform_revenue: stored balance 70 分, entries say 50 分",
        "escrow of order 5 moved by a withdrawal transaction",
        "account wallet:3 is negative: -10 分",
    ] {
        assert!(all.contains(want), "missing {want:?} in {all}");
    }
    assert!(!all.contains("wallet:8"), "an account split at a page's edge: {all}");
    assert_eq!(all.matches("wallet:3 is negative").count(), 1, "{all}");
}

/// `kabao bench compare` runs pgbench on the raw checkout writes and the checkout bench, each on a fresh PostgreSQL
/// database, and prints both and their ratio; skipped without a server, pgbench, or the shared bench script (kept
/// beside the repository, not in it).
#[test]
fn bench_compare_prints_pgbench_tps_kabao_orders_per_second_and_their_ratio() {
    use crate::harness::{find_program, required};
    let Some(admin_url) = std::env::var("KABAO_TEST_DATABASE_URL").ok().filter(|u| !u.is_empty()) else {
        assert!(!required("KABAO_REQUIRE_POSTGRES"), "KABAO_REQUIRE_POSTGRES=1 but KABAO_TEST_DATABASE_URL is not set");
        eprintln!("skipped: KABAO_TEST_DATABASE_URL not set");
        return;
    };
    let Some(pgbench) = find_program("pgbench", &["/usr/bin/pgbench"]) else {
        assert!(
            !required("KABAO_REQUIRE_POSTGRES"),
            "KABAO_REQUIRE_POSTGRES=1 but pgbench is not installed (apt-get install postgresql-client)"
        );
        eprintln!("skipped: pgbench not installed (apt-get install postgresql-client)");
        return;
    };
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/bench/pg-checkout-writes.sql");
    if !std::path::Path::new(script).is_file() {
        eprintln!("skipped: the pgbench script {script} is not here (the shared bench folder beside the checkout)");
        return;
    }
    let out = Command::new(kabao_bin())
        .args(["bench", "compare", "--clients", "2", "--seconds", "1", "--rounds", "1", "--pgbench-keys", "2000"])
        .args(["--database-url", &admin_url, "--pgbench-script", script])
        .arg("--pgbench")
        .arg(&pgbench)
        .env_remove("KABAO_DATABASE_URL")
        .env_remove("KABAO_MASTER_KEY")
        .output()
        .unwrap_or_else(|e| panic!("running kabao: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let all = format!("{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{all}");
    // The number after `round 1: <what> ` on its line.
    let figure = |what: &str| -> f64 {
        let prefix = format!("round 1: {what} ");
        let line =
            stdout.lines().find_map(|l| l.strip_prefix(&prefix)).unwrap_or_else(|| panic!("no {prefix:?}: {all}"));
        line.split_whitespace().next().and_then(|n| n.parse().ok()).unwrap_or_else(|| panic!("{line}: {all}"))
    };
    assert!(figure("pgbench") > 0.0, "pgbench TPS: {all}");
    assert!(stdout.contains(" TPS "), "{all}");
    assert!(figure("kabao") > 0.0, "Kabao orders/s: {all}");
    assert!(stdout.contains(" orders/s "), "{all}");
    assert!(figure("ratio") > 0.0, "ratio: {all}");
    assert!(stdout.lines().any(|l| l.starts_with("median ratio over 1 round(s): ")), "{all}");
}

/// On PostgreSQL the checkout bench reports the statements (round trips) per checkout, and they stay at what
/// the design needs (40 when measured: order, wallet payment, reveal); one more added on the hot path shows
/// here. On SQLite, where statements cost no round trip, there is no such figure.
#[tokio::test]
async fn bench_checkout_counts_round_trips_per_checkout_on_postgres() {
    let sqlite = bench_checkout(&[]);
    assert!(sqlite["statements_per_checkout"].is_null(), "{sqlite}");
    let Some(db) = crate::harness::PgDatabase::create().await else { return };
    let last = bench_checkout(&["--database-url", &db.url]);
    let statements = last["statements_per_checkout"].as_f64().unwrap_or_else(|| panic!("{last}"));
    assert!((40.0..=42.0).contains(&statements), "{statements} statements per checkout: {last}");
    db.drop_database().await;
}
