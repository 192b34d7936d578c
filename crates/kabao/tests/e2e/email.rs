//! Real email: the server sends through a real SMTP server process (aiosmtpd, tests/interop/smtp_sink.py, from
//! the venv `KABAO_INTEROP_PYTHON` names) that writes each message it receives, parsed as MIME, to a JSON-lines
//! file the tests read. In a real browser: email verification, password reset, a reused link and an expired
//! link, with every link in the mails absolute from the configured public URL; STARTTLS with a certificate the
//! test makes, trusted through `KABAO_SMTP_CA_FILE`; and `serve` refusing SMTP without a public URL. Without
//! python the tests say "skipped" (fail under KABAO_REQUIRE_INTEROP=1), without chromium likewise.

use crate::browser::{assert_no_horizontal_scroll, browser, fill, submit, text, wait_for, BROWSER_LOCK};
use crate::harness::{kabao_bin, required, ChromeDriver, Server, TempDir};
use fantoccini::{Client, Locator};
use serde_json::Value;
use std::io::BufRead;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The public URL the server is told; links in mails must start with it. The browser then opens the same path
/// on the server's real address.
const PUBLIC: &str = "https://shop.kabao.test";

/// A running SMTP sink; stopped on drop.
struct Sink {
    child: Child,
    out: PathBuf,
    port: u16,
    ca: Option<PathBuf>,
    _dir: TempDir,
}

impl Drop for Sink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn openssl(dir: &std::path::Path, args: &[&str]) {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("openssl (needed for the STARTTLS test certificate): {e}"));
    assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

impl Sink {
    fn start(starttls: bool) -> Option<Sink> {
        let Some(python) = std::env::var("KABAO_INTEROP_PYTHON").ok().filter(|p| !p.is_empty()) else {
            assert!(!required("KABAO_REQUIRE_INTEROP"), "KABAO_REQUIRE_INTEROP=1 but KABAO_INTEROP_PYTHON is unset");
            eprintln!("skipped: KABAO_INTEROP_PYTHON not set");
            return None;
        };
        let dir = TempDir::new("smtp-sink");
        let out = dir.path().join("mails.jsonl");
        let script = format!("{}/../../tests/interop/smtp_sink.py", env!("CARGO_MANIFEST_DIR"));
        let mut cmd = Command::new(python);
        cmd.arg(&script).arg("--out").arg(&out);
        let ca = if starttls {
            make_certificates(dir.path());
            cmd.arg("--cert").arg(dir.path().join("leaf.pem")).arg("--key").arg(dir.path().join("leaf.key"));
            Some(dir.path().join("ca.pem"))
        } else {
            None
        };
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("starting smtp_sink.py: {e}"));
        let stdout = child.stdout.take().unwrap_or_else(|| panic!("smtp_sink.py: no stdout"));
        let mut line = String::new();
        std::io::BufReader::new(stdout).read_line(&mut line).unwrap_or_else(|e| panic!("smtp_sink.py: {e}"));
        let hello: Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("smtp_sink.py printed {line:?} (is aiosmtpd installed?): {e}"));
        let port = hello["port"].as_u64().and_then(|p| u16::try_from(p).ok()).unwrap_or_else(|| panic!("{hello}"));
        Some(Sink { child, out, port, ca, _dir: dir })
    }

    fn mails(&self) -> Vec<Value> {
        let text = std::fs::read_to_string(&self.out).unwrap_or_default();
        text.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("sink line {l:?}: {e}"))).collect()
    }

    /// Waits (up to 15 s) for the `n`-th mail (from 1) to `to` whose subject contains `subject`.
    async fn wait_mail(&self, to: &str, subject: &str, n: usize) -> Value {
        for _ in 0..150 {
            let found: Vec<Value> = self
                .mails()
                .into_iter()
                .filter(|m| m["rcpt_tos"][0] == to && m["subject"].as_str().unwrap_or("").contains(subject))
                .collect();
            if let Some(m) = found.get(n - 1) {
                return m.clone();
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("no mail #{n} to {to} about {subject:?} arrived; the sink has {:#?}", self.mails());
    }

    fn count(&self, to: &str, subject: &str) -> usize {
        self.mails()
            .iter()
            .filter(|m| m["rcpt_tos"][0] == to && m["subject"].as_str().unwrap_or("").contains(subject))
            .count()
    }

    /// The server's mail settings: plain SMTP, or STARTTLS required with the test CA trusted.
    fn env(&self) -> Vec<(&'static str, String)> {
        let mut env =
            vec![("KABAO_PUBLIC_URL", PUBLIC.to_string()), ("KABAO_SMTP_FROM", "kabao@shop.kabao.test".into())];
        match &self.ca {
            None => env.push(("KABAO_SMTP_URL", format!("smtp://127.0.0.1:{}", self.port))),
            Some(ca) => {
                env.push(("KABAO_SMTP_URL", format!("smtp://localhost:{}?tls=required", self.port)));
                env.push(("KABAO_SMTP_CA_FILE", ca.display().to_string()));
            }
        }
        env
    }
}

/// A test CA and a certificate for `localhost` / 127.0.0.1 signed by it (subjects on the command line, so that
/// openssl asks nothing).
fn make_certificates(dir: &std::path::Path) {
    let with_subject = |args: &[&str], subject: &str| {
        let mut all: Vec<&str> = args.to_vec();
        all.extend(["-subj", subject, "-days", "2"]);
        openssl(dir, &all);
    };
    with_subject(
        &["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem"],
        "/CN=Kabao test CA",
    );
    std::fs::write(
        dir.join("ext"),
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=critical,CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let csr = [
        "req",
        "-new",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "leaf.key",
        "-out",
        "leaf.csr",
        "-subj",
        "/CN=localhost",
    ];
    openssl(dir, &csr);
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "leaf.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "leaf.pem",
            "-days",
            "2",
            "-extfile",
            "ext",
        ],
    );
}

/// The one link in a mail's text that contains `path`; it must be absolute, from the public URL.
fn link_in(mail: &Value, path: &str) -> String {
    let text = mail["text"].as_str().unwrap_or_else(|| panic!("no text in {mail}"));
    let links: Vec<&str> = text
        .match_indices("http")
        .map(|(i, _)| text[i..].split(char::is_whitespace).next().unwrap_or(""))
        .filter(|l| l.contains(path))
        .collect();
    let first = links.first().unwrap_or_else(|| panic!("no link with {path} in {text}"));
    assert!(first.starts_with(&format!("{PUBLIC}{path}")), "link {first} is not absolute from {PUBLIC}");
    assert!(!text.contains(&format!(" {path}")), "a relative link in {text}");
    first.to_string()
}

/// Every link in a mail is absolute from the public URL, and the mail is bilingual UTF-8 text.
fn check_mail(mail: &Value) {
    let text = mail["text"].as_str().unwrap_or("");
    for (i, _) in text.match_indices("http") {
        let rest = &text[i..];
        if rest.starts_with("http://") || rest.starts_with("https://") {
            assert!(rest.starts_with(PUBLIC), "a link not from the public URL in {text}");
        }
    }
    assert_eq!(mail["content_type"], "text/plain", "{mail}");
    assert_eq!(mail["charset"], "utf-8", "{mail}");
    assert!(text.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)), "Chinese in {text}");
    assert!(text.contains("Hello") || text.contains("Your "), "English in {text}");
    assert_eq!(mail["mail_from"], "kabao@shop.kabao.test");
}

fn local(server: &Server, link: &str) -> String {
    link.replacen(PUBLIC, &server.url, 1)
}

async fn goto(c: &Client, url: &str) {
    c.goto(url).await.unwrap_or_else(|e| panic!("{url}: {e}"));
}

async fn register(c: &Client, base: &str, username: &str, password: &str, email: &str) {
    goto(c, &format!("{base}/register")).await;
    fill(c, "#register-form [name=username]", username).await;
    fill(c, "#register-form [name=password]", password).await;
    fill(c, "#register-form [name=email]", email).await;
    submit(c, "#register-form").await;
    wait_for(c, "#logout-form").await;
}

async fn log_out(c: &Client) {
    submit(c, "#logout-form").await;
    wait_for(c, "a[href='/login']").await;
}

async fn log_in(c: &Client, base: &str, username: &str, password: &str) -> bool {
    goto(c, &format!("{base}/login")).await;
    fill(c, "#login-form [name=username]", username).await;
    fill(c, "#login-form [name=password]", password).await;
    submit(c, "#login-form").await;
    c.wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css("#logout-form, .form-error"))
        .await
        .unwrap_or_else(|e| panic!("login answer: {e}"));
    c.find(Locator::Css("#logout-form")).await.is_ok()
}

async fn ask_reset(c: &Client, base: &str, who: &str) -> String {
    goto(c, &format!("{base}/password/forgot")).await;
    fill(c, "#forgot-form [name=who]", who).await;
    submit(c, "#forgot-form").await;
    text(c, "#forgot-sent").await
}

const PASSWORD: &str = "Lanse-Haitun-2026!";
const NEW_PASSWORD: &str = "Qingshan-Liushui-88#";

#[tokio::test(flavor = "multi_thread")]
async fn verification_reset_and_delivery_mails_arrive_at_a_real_smtp_server_with_absolute_links() {
    let _guard = BROWSER_LOCK.lock().await;
    let Some(sink) = Sink::start(false) else { return };
    let Some(driver) = ChromeDriver::start() else { return };
    let env = sink.env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let server = Server::start_with_env(&["--demo"], &env);
    let base = server.url.clone();
    let c = browser(&driver, 375, 800).await;

    // Registration with an address mails a verification link; until it is used the address is not verified and
    // a reset request sends nothing (the same answer as for no account at all).
    register(&c, &base, "lin_mail", PASSWORD, "lin@example.com").await;
    let verify_mail = sink.wait_mail("lin@example.com", "验证", 1).await;
    check_mail(&verify_mail);
    let verify_link = link_in(&verify_mail, "/account/verify-email?token=");
    goto(&c, &format!("{base}/account/email")).await;
    assert_eq!(text(&c, "#email-status").await.trim(), "未验证");
    assert_no_horizontal_scroll(&c, "/account/email").await;
    log_out(&c).await;
    let unverified_answer = ask_reset(&c, &base, "lin_mail").await;
    assert_no_horizontal_scroll(&c, "/password/forgot (sent)").await;
    let nobody_answer = ask_reset(&c, &base, "nobody@example.com").await;
    assert_eq!(unverified_answer, nobody_answer, "the answer never tells whether an account exists");

    // The link verifies the address (logged out: the link alone is the proof); used again, it is refused.
    goto(&c, &local(&server, &verify_link)).await;
    assert_eq!(text(&c, "#link-title").await.trim(), "邮箱已验证");
    assert_no_horizontal_scroll(&c, "/account/verify-email").await;
    goto(&c, &local(&server, &verify_link)).await;
    assert!(text(&c, "#link-result").await.contains("已经使用过"));
    assert!(log_in(&c, &base, "lin_mail", PASSWORD).await);
    goto(&c, &format!("{base}/account/email")).await;
    assert_eq!(text(&c, "#email-status").await.trim(), "已验证");
    log_out(&c).await;
    assert_eq!(sink.count("lin@example.com", "重置密码"), 0, "nothing was mailed while the address was unverified");

    // "Forgot password?" from the login page, by address: the same answer, and now a mail with a 30-minute link.
    goto(&c, &format!("{base}/login")).await;
    crate::browser::click(&c, "#forgot-link").await;
    wait_for(&c, "#forgot-form").await;
    assert_eq!(ask_reset(&c, &base, "lin@example.com").await, nobody_answer);
    let reset_mail = sink.wait_mail("lin@example.com", "重置密码", 1).await;
    check_mail(&reset_mail);
    assert!(reset_mail["text"].as_str().unwrap_or("").contains("30 分钟"));
    let reset_link = link_in(&reset_mail, "/password/reset?token=");

    // A weak password is refused with the reason, and the link still works; then the new password is set.
    goto(&c, &local(&server, &reset_link)).await;
    assert_eq!(text(&c, "#reset-username").await.trim(), "lin_mail");
    assert_no_horizontal_scroll(&c, "/password/reset").await;
    fill(&c, "#reset-form [name=password]", "short").await;
    submit(&c, "#reset-form").await;
    wait_for(&c, "#reset-form").await;
    assert!(!text(&c, ".form-error").await.trim().is_empty(), "the reason is shown");
    fill(&c, "#reset-form [name=password]", NEW_PASSWORD).await;
    submit(&c, "#reset-form").await;
    assert_eq!(text(&c, "#link-title").await.trim(), "密码已重置");

    // The account is told, by mail, with an absolute link.
    let notice = sink.wait_mail("lin@example.com", "安全提醒", 1).await;
    check_mail(&notice);
    link_in(&notice, "/account/security");

    // The reused link is a clear page and changes nothing: the new password still works, the old one not.
    goto(&c, &local(&server, &reset_link)).await;
    assert!(text(&c, "#link-result").await.contains("已经使用过"), "reused link");
    assert!(!log_in(&c, &base, "lin_mail", PASSWORD).await, "the old password no longer works");
    assert!(log_in(&c, &base, "lin_mail", NEW_PASSWORD).await, "the new password works");
    log_out(&c).await;

    // A guest's delivery mail goes to the address given at checkout, unverified, with an absolute order link.
    goto(&c, &format!("{base}/p/1")).await;
    fill(&c, "#buy-form [name=quantity]", "1").await;
    fill(&c, "#buy-form [name=guest_email]", "guest@example.com").await;
    fill(&c, "#buy-form [name=query_password]", "chaxun-2026").await;
    crate::browser::click(&c, "#buy-form [name=warranty_ack]").await;
    submit(&c, "#buy-form").await;
    wait_for(&c, "#pay-sandbox-form").await;
    let order_path = crate::browser::path(&c).await;
    submit(&c, "#pay-sandbox-form").await;
    wait_for(&c, "#sandbox-pay-form").await;
    submit(&c, "#sandbox-pay-form").await;
    let delivery = sink.wait_mail("guest@example.com", "已发货", 1).await;
    check_mail(&delivery);
    let order_link = link_in(&delivery, "/o/");
    assert_eq!(order_link, format!("{PUBLIC}{order_path}"), "the delivery mail links the order page");
    c.close().await.ok();
}

#[tokio::test(flavor = "multi_thread")]
async fn an_expired_reset_link_is_a_clear_page_and_mail_goes_over_starttls() {
    let _guard = BROWSER_LOCK.lock().await;
    let Some(sink) = Sink::start(true) else { return };
    let Some(driver) = ChromeDriver::start() else { return };
    let mut env = sink.env();
    env.push(("KABAO_RESET_LINK_SECONDS", "2".into()));
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let server = Server::start_with_env(&[], &env);
    let base = server.url.clone();
    let c = browser(&driver, 375, 800).await;

    register(&c, &base, "mei_mail", PASSWORD, "mei@example.com").await;
    let verify_mail = sink.wait_mail("mei@example.com", "验证", 1).await;
    assert_eq!(verify_mail["tls"], true, "delivered over STARTTLS: {verify_mail}");
    check_mail(&verify_mail);
    goto(&c, &local(&server, &link_in(&verify_mail, "/account/verify-email?token="))).await;
    assert_eq!(text(&c, "#link-title").await.trim(), "邮箱已验证");
    log_out(&c).await;

    ask_reset(&c, &base, "mei_mail").await;
    let reset_mail = sink.wait_mail("mei@example.com", "重置密码", 1).await;
    assert_eq!(reset_mail["tls"], true);
    let reset_link = link_in(&reset_mail, "/password/reset?token=");
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    goto(&c, &local(&server, &reset_link)).await;
    assert!(text(&c, "#link-result").await.contains("已过期"), "expired link");
    assert_no_horizontal_scroll(&c, "/password/reset (expired)").await;
    assert!(c.find(Locator::Css("#reset-form")).await.is_err(), "no form for an expired link");
    assert!(log_in(&c, &base, "mei_mail", PASSWORD).await, "nothing changed: the password still works");
    c.close().await.ok();
}

#[test]
fn serve_refuses_smtp_without_a_public_url() {
    let data = TempDir::new("no-public-url");
    let out = Command::new(kabao_bin())
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data.path())
        .env_remove("KABAO_DATABASE_URL")
        .env_remove("KABAO_MASTER_KEY")
        .env_remove("KABAO_PUBLIC_URL")
        .env("KABAO_SMTP_URL", "smtp://127.0.0.1:25")
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("running kabao: {e}"));
    assert!(!out.status.success(), "serve must refuse to start");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stderr.contains("public_url") && stderr.contains("KABAO_PUBLIC_URL"), "stderr: {stderr}");
    assert!(!stdout.contains("listening"), "it never listened: {stdout}");
    assert_eq!(stderr.trim().lines().count(), 1, "one clear line: {stderr}");
}
