//! Operations: `kabao backup` while `kabao bench checkout` loads a running server, `kabao restore` into an empty
//! directory (and refused into a non-empty one), the restored copy's ledger and audit verified; JSON logs that
//! carry the request id; `kabao healthcheck`; `/metrics` on its own listener.

use crate::harness::{kabao_bin, Server, TempDir};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn kabao(args: &[&str]) -> (bool, String) {
    let out = Command::new(kabao_bin())
        .args(args)
        .env_remove("KABAO_DATABASE_URL")
        .env_remove("KABAO_MASTER_KEY")
        .env_remove("KABAO_LOG_FORMAT")
        .output()
        .unwrap_or_else(|e| panic!("running kabao: {e}"));
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

fn paid_orders(db: &Path) -> i64 {
    let Ok(conn) = rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY) else {
        return 0;
    };
    let _ = conn.busy_timeout(Duration::from_secs(5));
    conn.query_row("SELECT count(*) FROM orders WHERE state = 'delivered'", [], |r| r.get(0)).unwrap_or(0)
}

fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{e}"))
        .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect();
    names.sort();
    names
}

#[test]
fn a_backup_taken_under_checkout_load_restores_to_books_and_audit_that_verify() {
    let server = Server::start(&[]);
    let data = server.data.path().to_path_buf();
    let data_arg = data.to_string_lossy().into_owned();
    let mut bench = Command::new(kabao_bin())
        .args(["bench", "checkout", "--clients", "8", "--seconds", "15", "--url", &server.url, "--data-dir", &data_arg])
        .env_remove("KABAO_DATABASE_URL")
        .env_remove("KABAO_MASTER_KEY")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("starting the bench: {e}"));

    // Back up once the load is selling.
    let deadline = Instant::now() + Duration::from_secs(180);
    while paid_orders(&data.join("kabao.db")) < 20 {
        assert!(Instant::now() < deadline, "the bench sold nothing in 180 s");
        assert!(bench.try_wait().ok().flatten().is_none(), "the bench ended before selling 20 orders");
        std::thread::sleep(Duration::from_millis(100));
    }
    let out_dir = TempDir::new("backup");
    let file = out_dir.path().join("kabao-backup.db");
    let file_arg = file.to_string_lossy().into_owned();
    let (ok, out) = kabao(&["backup", "--to", &file_arg, "--data-dir", &data_arg]);
    assert!(ok && out.contains("integrity ok"), "{out}");
    assert!(bench.try_wait().ok().flatten().is_none(), "the backup was taken while the bench was still running");
    let sold_at_backup = paid_orders(&file);
    assert!(sold_at_backup >= 20, "the copy holds the orders sold before it ({sold_at_backup})");

    // A second backup to the same name is refused and leaves the first alone.
    let before = std::fs::read(&file).unwrap_or_else(|e| panic!("{e}"));
    let (ok, out) = kabao(&["backup", "--to", &file_arg, "--data-dir", &data_arg]);
    assert!(!ok && out.contains("already exists"), "{out}");
    assert_eq!(std::fs::read(&file).unwrap_or_else(|e| panic!("{e}")), before);
    assert_eq!(listing(out_dir.path()), vec!["kabao-backup.db".to_string()], "no partial file is left behind");

    let bench_out = bench.wait_with_output().unwrap_or_else(|e| panic!("{e}"));
    let bench_text =
        format!("{}{}", String::from_utf8_lossy(&bench_out.stdout), String::from_utf8_lossy(&bench_out.stderr));
    assert!(bench_out.status.success(), "the bench passed its own checks: {bench_text}");
    assert!(paid_orders(&data.join("kabao.db")) > sold_at_backup, "the load went on after the backup");

    // Restore into a non-empty directory: refused, nothing changed.
    let files_before = listing(&data);
    let (ok, out) = kabao(&["restore", &file_arg, "--data-dir", &data_arg]);
    assert!(!ok && out.contains("not empty"), "{out}");
    assert_eq!(listing(&data), files_before);

    // Restore into an empty directory: the books balance and every order's chain verifies.
    let restored = TempDir::new("restored");
    let restored_arg = restored.path().to_string_lossy().into_owned();
    let (ok, out) = kabao(&["restore", &file_arg, "--data-dir", &restored_arg]);
    assert!(ok && out.contains("integrity ok"), "{out}");
    let (ok, out) = kabao(&["ledger", "verify", "--data-dir", &restored_arg]);
    assert!(ok && out.contains("ledger: ok"), "{out}");
    let (ok, out) = kabao(&["audit", "verify", "--data-dir", &restored_arg]);
    assert!(ok && out.contains("audit: ok"), "{out}");
    let chains: i64 = out
        .split_whitespace()
        .skip_while(|w| *w != "audit:")
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{out}"));
    assert!(chains >= sold_at_backup, "{out}");
    assert_eq!(paid_orders(&restored.path().join("kabao.db")), sold_at_backup);
}

#[test]
fn backup_and_restore_refuse_what_they_cannot_do() {
    let dir = TempDir::new("ops-refusals");
    let dir_arg = dir.path().to_string_lossy().into_owned();
    let (ok, out) = kabao(&[
        "backup",
        "--to",
        "/tmp/never.db",
        "--database-url",
        "postgres://kabao@127.0.0.1/kabao",
        "--data-dir",
        &dir_arg,
    ]);
    assert!(!ok && out.contains("pg_dump -Fc"), "{out}");
    let (ok, out) = kabao(&["backup", "--to", "/tmp/never.db", "--data-dir", &dir_arg]);
    assert!(!ok && out.contains("no SQLite database"), "{out}");
    let junk = dir.path().join("junk.db");
    std::fs::write(&junk, "not a database").unwrap_or_else(|e| panic!("{e}"));
    let target = dir.path().join("target");
    let (ok, out) = kabao(&["restore", &junk.to_string_lossy(), "--data-dir", &target.to_string_lossy()]);
    assert!(!ok, "{out}");
    assert!(!target.exists(), "a bad backup creates nothing");
}

#[test]
fn json_logs_carry_each_requests_id_and_healthcheck_asks_healthz() {
    let server = Server::start(&["--log-format", "json"]);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap_or_else(|e| panic!("{e}"));
    let res = rt
        .block_on(
            reqwest::Client::new()
                .get(format!("{}/no/such/page", server.url))
                .header("x-request-id", "e2e-log-7f3a")
                .send(),
        )
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(res.headers()["x-request-id"], "e2e-log-7f3a");
    let body = rt.block_on(res.text()).unwrap_or_default();
    assert!(body.contains("e2e-log-7f3a"), "the error page quotes the id");

    let (ok, out) = kabao(&["healthcheck", "--url", &format!("{}/healthz", server.url)]);
    assert!(ok, "{out}");

    // The request's log lines are JSON and carry its id.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let log = server.log();
        let lines: Vec<serde_json::Value> = log
            .lines()
            // The master-key banner (printed to stderr on the first start, not a log line) aside.
            .filter(|l| !l.trim().is_empty() && !l.starts_with("!!!"))
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON log line ({e}): {l}")))
            .collect();
        let tagged = lines.iter().filter(|v| v["span"]["request_id"] == "e2e-log-7f3a").count();
        if tagged > 0 {
            assert!(lines.iter().any(|v| v["fields"]["message"].is_string()), "log lines have a message");
            break;
        }
        assert!(Instant::now() < deadline, "no JSON log line carries the request id:\n{log}");
        std::thread::sleep(Duration::from_millis(100));
    }
    drop(server);
    let (ok, out) = kabao(&["healthcheck", "--url", "http://127.0.0.1:9/healthz", "--timeout", "2"]);
    assert!(!ok, "nothing listens there: {out}");
}

#[test]
fn metrics_are_served_on_their_own_listener_and_not_on_the_main_one() {
    let server = Server::start_with_env(&[], &[("KABAO_METRICS_LISTEN", "127.0.0.1:0")]);
    let metrics_url = server
        .banner
        .iter()
        .find_map(|l| l.strip_prefix("Kabao metrics on "))
        .unwrap_or_else(|| panic!("no metrics address in {:?}", server.banner))
        .trim()
        .to_string();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap_or_else(|e| panic!("{e}"));
    let (main_status, metrics_status, text) = rt.block_on(async {
        let main = reqwest::get(format!("{}/metrics", server.url)).await.unwrap_or_else(|e| panic!("{e}"));
        let m = reqwest::get(&metrics_url).await.unwrap_or_else(|e| panic!("{e}"));
        let status = m.status();
        (main.status(), status, m.text().await.unwrap_or_default())
    });
    assert_eq!(main_status, 404, "no token configured: the main listener has no /metrics");
    assert_eq!(metrics_status, 200);
    assert!(text.contains("kabao_http_requests_total"), "{text}");
}

fn repo_file(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The image cannot be built here (no registry to pull from), so its shape is checked: a build stage and a slim
/// runtime stage, the binary copied across, a non-root user, a health check that needs no curl, the volume
/// and the port.
#[test]
fn the_dockerfile_is_multi_stage_non_root_and_checks_its_health() {
    let text = repo_file("Dockerfile");
    let instructions: Vec<&str> =
        text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')).collect();
    let froms: Vec<&&str> = instructions.iter().filter(|l| l.starts_with("FROM ")).collect();
    assert_eq!(froms.len(), 2, "two stages: {froms:?}");
    assert!(froms[0].starts_with("FROM rust:") && froms[0].ends_with(" AS builder"), "{froms:?}");
    assert!(froms[1].starts_with("FROM debian:") && froms[1].contains("-slim"), "{froms:?}");
    let runtime = text.split("AS runtime").nth(1).unwrap_or_else(|| panic!("a runtime stage"));
    assert!(runtime.contains("COPY --from=builder /src/target/release/kabao /usr/local/bin/kabao"));
    let user = runtime.lines().find(|l| l.starts_with("USER ")).unwrap_or_else(|| panic!("a USER line"));
    assert!(!user.contains("root") && !user.contains(" 0"), "{user}");
    let hc = runtime.find("HEALTHCHECK").unwrap_or_else(|| panic!("a HEALTHCHECK"));
    assert!(runtime[hc..].contains("\"kabao\", \"healthcheck\""), "the health check uses the binary, not curl");
    let commands: String = runtime.lines().filter(|l| !l.trim_start().starts_with('#')).collect();
    assert!(!commands.contains("curl") && !commands.contains("wget"));
    assert!(runtime.contains("VOLUME [\"/data\"]") && runtime.contains("EXPOSE 8080"));
    let (apt, user_at) = (runtime.find("apt-get").unwrap_or(0), runtime.find("\nUSER ").unwrap_or(0));
    assert!(user_at > apt, "packages are installed as root, then the user switches");
    let ignore = repo_file(".dockerignore");
    for must in ["target", ".git", ".env", "master.key", "*.db"] {
        assert!(ignore.lines().any(|l| l.trim() == must), ".dockerignore keeps {must} out");
    }
}

/// compose.yaml: Kabao and PostgreSQL 15 with named volumes and health checks, Kabao waiting for a healthy
/// database, secrets only from the environment. With `docker-compose` (or `docker compose`) installed, the file
/// must also parse and interpolate.
#[test]
fn compose_runs_kabao_on_a_healthy_postgres_with_secrets_from_the_environment() {
    let text = repo_file("compose.yaml");
    assert!(text.contains("image: postgres:15"));
    assert!(text.contains("condition: service_healthy"));
    assert!(text.contains("pgdata:/var/lib/postgresql/data") && text.contains("kabao-data:/data"));
    assert!(text.contains("${POSTGRES_PASSWORD:?") && text.contains("${KABAO_MASTER_KEY:?"));
    assert_eq!(text.matches("healthcheck:").count(), 2);
    assert!(!text.to_lowercase().contains("password: kabao") && !text.contains("MASTER_KEY: 0"), "no secret inline");
    let compose = if crate::harness::find_program("docker-compose", &[]).is_some() {
        Some(vec!["docker-compose"])
    } else {
        let plugin = Command::new("docker").args(["compose", "version"]).output();
        plugin.ok().filter(|o| o.status.success()).map(|_| vec!["docker", "compose"])
    };
    let Some(compose) = compose else {
        eprintln!("skipped: neither docker-compose nor the docker compose plugin is installed (file shape checked)");
        return;
    };
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    // An empty env file: a developer's own .env must not fill in what the test leaves out.
    let scratch = TempDir::new("compose");
    let env_file = scratch.path().join("empty.env");
    std::fs::write(&env_file, "").unwrap_or_else(|e| panic!("{e}"));
    let env_arg = env_file.to_string_lossy().into_owned();
    let out = Command::new(compose[0])
        .args(&compose[1..])
        .args(["--env-file", &env_arg, "-f", "compose.yaml", "config"])
        .current_dir(&dir)
        .env("POSTGRES_PASSWORD", "p0stgres")
        .env("KABAO_MASTER_KEY", "ab".repeat(32))
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "compose config: {text}");
    assert!(text.contains("postgres://kabao:p0stgres@postgres:5432/kabao"), "{text}");
    let missing = Command::new(compose[0])
        .args(&compose[1..])
        .args(["--env-file", &env_arg, "-f", "compose.yaml", "config"])
        .current_dir(&dir)
        .env_remove("POSTGRES_PASSWORD")
        .env_remove("KABAO_MASTER_KEY")
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(!missing.status.success(), "the secrets are required");
}

/// `kabao bench growth` on a small history (SQLite): every page is timed on day one and grown, with numbers, and
/// `ledger verify` over the grown books (balanced transactions the store wrote) reports no problem. The figures
/// themselves are not asserted: at 2,000 orders they say little, and the machine is shared.
#[test]
fn bench_growth_times_every_page_on_day_one_and_grown_and_the_grown_ledger_verifies() {
    let out = Command::new(kabao_bin())
        .args(["bench", "growth", "--orders", "2000", "--requests", "3"])
        .env_remove("KABAO_DATABASE_URL")
        .env_remove("KABAO_MASTER_KEY")
        .env_remove("KABAO_LOG_FORMAT")
        .output()
        .unwrap_or_else(|e| panic!("running kabao: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let all = format!("{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{all}");
    let pages = [
        "GET /",
        "GET /api/v1/products",
        "product page, signed-in new buyer",
        "shop page",
        "shop trust API",
        "checkout, first-order check (409)",
        "merchant key page, big product",
        "merchant claim queue",
    ];
    // The table: one line per page, its name then five numbers (empty and grown median and p99, the ratio).
    for page in pages {
        let line = stdout
            .lines()
            .find(|l| l.starts_with(page) && l[page.len()..].starts_with("  "))
            .unwrap_or_else(|| panic!("no line for {page}: {all}"));
        let numbers = line[page.len()..].split_whitespace().filter(|w| w.parse::<f64>().is_ok()).count();
        assert_eq!(numbers, 5, "{line}");
        assert!(line.ends_with("yes") || line.ends_with("no"), "{line}");
    }
    assert!(stdout.lines().any(|l| l.starts_with("ledger verify: ok in ")), "{all}");
    let json: serde_json::Value = stdout
        .lines()
        .last()
        .and_then(|l| serde_json::from_str(l).ok())
        .unwrap_or_else(|| panic!("the last line is JSON: {all}"));
    assert_eq!(json["orders"], 2000);
    assert_eq!(json["ledger_verify"]["ok"], true, "{json}");
    assert_eq!(json["pages"].as_array().map(Vec::len), Some(pages.len()), "{json}");
    for page in json["pages"].as_array().into_iter().flatten() {
        for figure in ["day_one_median_ms", "day_one_p99_ms", "grown_median_ms", "grown_p99_ms"] {
            assert!(page[figure].as_f64().is_some_and(|v| v > 0.0), "{page}");
        }
    }
}
