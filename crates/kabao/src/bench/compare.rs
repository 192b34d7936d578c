//! `kabao bench compare`: pgbench running the raw checkout writes (the shared bench folder's script) and
//! `bench checkout` on PostgreSQL, alternated round by round on fresh databases, with the ratio of the two.

use anyhow::{anyhow, bail, Context};
use sqlx::{ConnectOptions, Connection};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// The PostgreSQL targets (docs/PERFORMANCE.md): Kabao's checkouts per second at least this share of pgbench's
/// transactions per second on the same writes…
const TARGET_RATIO: f64 = 0.5;
/// …with a checkout's p99 under this…
const TARGET_P99_MS: f64 = 50.0;
/// …both at this many clients.
const TARGET_CLIENTS: usize = 64;

/// The set-up the script's header documents, before the keys are inserted.
const PGBENCH_TABLES: &str = "
    create table keys(id bigserial primary key, product int, secret bytea, state int, order_id bigint);
    create index on keys(product, state);
    create table orders(id bigserial primary key, buyer int, product int, amount bigint, created bigint);
    create table entries(id bigserial primary key, txn bigint, account int, amount bigint);";

/// Settings of `kabao bench compare`.
pub struct CompareBench {
    /// A database on the PostgreSQL server to connect to while creating and dropping the fresh ones.
    pub admin_url: String,
    pub clients: usize,
    pub seconds: u64,
    pub rounds: usize,
    /// The pgbench program: a path, or a name looked up on PATH.
    pub pgbench: PathBuf,
    pub script: PathBuf,
    /// Rows of pgbench's `keys` table.
    pub keys: u64,
}

/// What pgbench reported for one run.
struct PgbenchRun {
    tps: f64,
    transactions: u64,
    /// `number of failed transactions` (PostgreSQL 15's pgbench; 0 when an older one does not say).
    failed: u64,
    /// From pgbench's per-transaction log; `None` when the log held no latencies.
    p50_ms: Option<f64>,
    p99_ms: Option<f64>,
    /// pgbench's own `latency average`.
    average_ms: Option<f64>,
    /// Whether every key was taken before the end, after which transactions took none and cost less.
    keys_ran_out: bool,
}

/// One round's two runs.
struct Round {
    pgbench: PgbenchRun,
    kabao: super::CheckoutReport,
}

impl Round {
    fn ratio(&self) -> f64 {
        if self.pgbench.tps > 0.0 {
            self.kabao.orders_per_s / self.pgbench.tps
        } else {
            0.0
        }
    }
}

/// Runs the rounds (pgbench, then Kabao, each on its own fresh database, dropped after) and prints each round, the
/// median ratio and whether the targets are met; the last line is one JSON object.
pub async fn compare(b: CompareBench) -> anyhow::Result<()> {
    let server = PgServerUrl::parse(&b.admin_url)?;
    let script = find_script(&b.script)?;
    let version = pgbench_version(&b.pgbench).await?;
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(b.clients);
    println!(
        "bench compare: {} round(s) of pgbench then Kabao, {} clients, {} s each, on {}",
        b.rounds,
        b.clients,
        b.seconds,
        server.redacted()
    );
    println!(
        "{version}: -j {threads}, script {}, {} keys; latency from its per-transaction log (--log)",
        script.display(),
        b.keys
    );
    println!("kabao: `bench checkout` (order, wallet payment, reveal over HTTP) against a server started here");

    let mut rounds: Vec<Round> = Vec::with_capacity(b.rounds);
    for n in 1..=b.rounds {
        let pgbench = on_fresh_database(&server, |url| run_pgbench(&b, &script, threads, url)).await?;
        let pg_latency = match (pgbench.p50_ms, pgbench.p99_ms, pgbench.average_ms) {
            (Some(p50), Some(p99), _) => format!("p50 {p50:.2} ms, p99 {p99:.2} ms"),
            (_, _, Some(avg)) => format!("average {avg:.2} ms (its log held no latencies)"),
            _ => "latency unknown".to_string(),
        };
        println!(
            "round {n}: pgbench {:.1} TPS ({pg_latency}, {} transactions, {} failed)",
            pgbench.tps, pgbench.transactions, pgbench.failed
        );
        if pgbench.keys_ran_out {
            println!(
                "round {n}: warning: pgbench took all {} keys before the end; later transactions took none, so its \
                 TPS is too high: raise --pgbench-keys",
                b.keys
            );
        }

        let kabao =
            on_fresh_database(&server, |url| super::fresh_checkout(b.clients, b.seconds, false, Some(url))).await?;
        if let Err(e) = kabao.check_consistency() {
            eprintln!("{}", kabao.to_json());
            return Err(e.context(format!("round {n}: the Kabao run")));
        }
        let statements =
            kabao.statements_per_checkout.map(|n| format!(", {n:.1} statements per checkout")).unwrap_or_default();
        println!(
            "round {n}: kabao {:.1} orders/s (p50 {:.2} ms, p99 {:.2} ms, {} orders, {} failed{statements})",
            kabao.orders_per_s, kabao.p50_ms, kabao.p99_ms, kabao.orders, kabao.failed_requests
        );
        let round = Round { pgbench, kabao };
        println!("round {n}: ratio {:.3} (Kabao orders/s over pgbench TPS)", round.ratio());
        rounds.push(round);
    }

    let ratios: Vec<f64> = rounds.iter().map(Round::ratio).collect();
    let p99s: Vec<f64> = rounds.iter().map(|r| r.kabao.p99_ms).collect();
    let median_ratio = median(&ratios);
    let median_p99 = median(&p99s);
    let list = |values: &[f64], decimals: usize| {
        values.iter().map(|v| format!("{v:.decimals$}")).collect::<Vec<_>>().join(", ")
    };
    let met = |yes: bool| if yes { "met" } else { "not met" };
    let ratio_met = median_ratio >= TARGET_RATIO;
    let p99_met = median_p99 < TARGET_P99_MS;
    println!("median ratio over {} round(s): {median_ratio:.3} (rounds: {})", rounds.len(), list(&ratios, 3));
    println!("target ratio >= {TARGET_RATIO}: {} (median {median_ratio:.3})", met(ratio_met));
    println!(
        "target Kabao p99 < {TARGET_P99_MS} ms: {} (median {median_p99:.2} ms; rounds: {} ms)",
        met(p99_met),
        list(&p99s, 2)
    );
    if b.clients != TARGET_CLIENTS {
        println!("note: the targets are set at {TARGET_CLIENTS} clients; this run used {}", b.clients);
    }
    let failed: u64 = rounds.iter().map(|r| r.kabao.failed_requests).sum();
    if failed > 0 {
        println!("note: {failed} Kabao checkout(s) failed over the rounds; they are not counted in orders/s");
    }

    let per_round: Vec<serde_json::Value> = rounds
        .iter()
        .map(|r| {
            serde_json::json!({
                "pgbench_tps": round_to(r.pgbench.tps, 1),
                "pgbench_transactions": r.pgbench.transactions,
                "pgbench_failed": r.pgbench.failed,
                "pgbench_p50_ms": r.pgbench.p50_ms.map(|v| round_to(v, 2)),
                "pgbench_p99_ms": r.pgbench.p99_ms.map(|v| round_to(v, 2)),
                "pgbench_average_ms": r.pgbench.average_ms,
                "pgbench_keys_ran_out": r.pgbench.keys_ran_out,
                "kabao": r.kabao.to_json(),
                "ratio": round_to(r.ratio(), 3),
            })
        })
        .collect();
    println!(
        "{}",
        serde_json::json!({
            "bench": "compare",
            "clients": b.clients,
            "seconds": b.seconds,
            "pgbench_keys": b.keys,
            "rounds": per_round,
            "median_ratio": round_to(median_ratio, 3),
            "median_kabao_p99_ms": round_to(median_p99, 2),
            "ratio_target_met": ratio_met,
            "p99_target_met": p99_met,
        })
    );
    Ok(())
}

/// The script as an absolute path (pgbench runs in its own directory), or an error saying where it was looked for.
fn find_script(script: &Path) -> anyhow::Result<PathBuf> {
    let missing = |why: String| {
        anyhow!(
            "the pgbench script {} is missing ({why}): it is kept outside the repository, in the shared bench folder \
             beside the checkout (../shared/bench/pg-checkout-writes.sql from the checkout, the default); run from \
             the checkout or give its path with --pgbench-script",
            script.display()
        )
    };
    let found = std::fs::canonicalize(script).map_err(|e| missing(e.to_string()))?;
    if !found.is_file() {
        return Err(missing("not a file".into()));
    }
    Ok(found)
}

/// `pgbench --version`, run first so a missing program stops the command before any database is created.
async fn pgbench_version(pgbench: &Path) -> anyhow::Result<String> {
    let out = tokio::process::Command::new(pgbench)
        .arg("--version")
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .map_err(|e| {
            anyhow!(
                "cannot run pgbench ({}): {e}; install PostgreSQL's client programs (apt-get install \
                 postgresql-client) or give the program's path with --pgbench",
                pgbench.display()
            )
        })?;
    if !out.status.success() {
        bail!(
            "`{} --version` failed ({}): {}",
            pgbench.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Creates pgbench's tables and keys on the fresh database at `url`, runs the script and reads its figures.
async fn run_pgbench(b: &CompareBench, script: &Path, threads: usize, url: String) -> anyhow::Result<PgbenchRun> {
    let started = Instant::now();
    let mut conn = connect(&url).await.context("connecting to pgbench's fresh database")?;
    sqlx::raw_sql(PGBENCH_TABLES).execute(&mut conn).await.context("creating pgbench's tables")?;
    // The header's two ways to fill `secret`: 48 random bytes from pgcrypto, or md5 text where it is not installed.
    let secret = match sqlx::raw_sql("create extension if not exists pgcrypto").execute(&mut conn).await {
        Ok(_) => "gen_random_bytes(48)",
        Err(e) => {
            eprintln!("bench compare: pgcrypto unavailable ({e}); the keys' secrets are md5(random()::text)::bytea");
            "md5(random()::text)::bytea"
        }
    };
    sqlx::query(&format!(
        "insert into keys(product, secret, state) select 1, {secret}, 0 from generate_series(1, $1::bigint)"
    ))
    .bind(i64::try_from(b.keys).context("--pgbench-keys is too large")?)
    .execute(&mut conn)
    .await
    .context("inserting pgbench's keys")?;
    // Statistics as autovacuum would soon have them, so the key query's plan does not depend on its timing.
    sqlx::raw_sql("analyze").execute(&mut conn).await.context("analyzing pgbench's tables")?;
    eprintln!("bench compare: pgbench's tables and {} keys ready in {:.1} s", b.keys, started.elapsed().as_secs_f64());

    let logs = LogDir::create()?;
    let mut run = pgbench_in(b, script, threads, &url, &logs.0).await?;
    drop(logs);

    let left: bool = sqlx::query_scalar("select exists (select 1 from keys where state = 0)")
        .fetch_one(&mut conn)
        .await
        .context("counting pgbench's keys left")?;
    run.keys_ran_out = !left;
    conn.close().await?;
    Ok(run)
}

/// A temporary directory for pgbench's per-transaction logs, removed when dropped: also when the run is
/// interrupted and its future dropped.
struct LogDir(PathBuf);

impl LogDir {
    fn create() -> anyhow::Result<LogDir> {
        let dir = std::env::temp_dir().join(format!(
            "kabao-bench-compare-{}-{:x}",
            std::process::id(),
            rand::random::<u32>()
        ));
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        Ok(LogDir(dir))
    }
}

impl Drop for LogDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs pgbench with its per-transaction log in `logs` and reads its figures.
async fn pgbench_in(
    b: &CompareBench,
    script: &Path,
    threads: usize,
    url: &str,
    logs: &Path,
) -> anyhow::Result<PgbenchRun> {
    let args: Vec<String> = vec![
        "-n".into(),
        "-f".into(),
        script.display().to_string(),
        "-c".into(),
        b.clients.to_string(),
        "-j".into(),
        threads.to_string(),
        "-T".into(),
        b.seconds.to_string(),
        "--log".into(),
        format!("--log-prefix={}", logs.join("pgbench_log").display()),
        url.to_string(),
    ];
    // The command as it is shown in errors: the database URL without its password.
    let shown = std::iter::once(b.pgbench.display().to_string())
        .chain(args.iter().map(|a| if a == url { redact(url) } else { a.clone() }))
        .collect::<Vec<_>>()
        .join(" ");
    eprintln!("bench compare: {shown}");
    let out = tokio::process::Command::new(&b.pgbench)
        .args(&args)
        .current_dir(logs)
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
        .with_context(|| format!("cannot run `{shown}`"))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        // Its errors go to stderr; its summary, which says how far it got, to stdout.
        let said = if stderr.trim().is_empty() { stdout.trim() } else { stderr.trim() };
        bail!("pgbench failed ({}): `{shown}`: {said}", out.status);
    }
    let mut run = parse_pgbench_output(&stdout)
        .with_context(|| format!("reading the output of `{shown}`: {} {}", stdout.trim(), stderr.trim()))?;
    let mut latencies_us = read_pgbench_logs(logs)?;
    latencies_us.sort_unstable();
    if !latencies_us.is_empty() {
        run.p50_ms = Some(super::percentile_ms(&latencies_us, 0.50));
        run.p99_ms = Some(super::percentile_ms(&latencies_us, 0.99));
    }
    Ok(run)
}

/// Reads pgbench's summary: `tps = N (without initial connection time)` (or, from older versions, the
/// `excluding connections establishing` line), the transactions processed, the failures and the average latency.
fn parse_pgbench_output(stdout: &str) -> anyhow::Result<PgbenchRun> {
    let number = |text: &str| text.split_whitespace().next().and_then(|n| n.parse::<f64>().ok());
    let tps_lines: Vec<&str> = stdout.lines().filter_map(|l| l.trim().strip_prefix("tps = ")).collect();
    let tps_line = tps_lines
        .iter()
        .find(|l| l.contains("without initial connection time") || l.contains("excluding connections"))
        .or(tps_lines.first())
        .context("pgbench printed no `tps = ` line")?;
    let tps = number(tps_line).with_context(|| format!("pgbench's `tps = {tps_line}` holds no number"))?;
    let after = |prefix: &str| stdout.lines().find_map(|l| l.trim().strip_prefix(prefix)).and_then(number);
    let transactions = after("number of transactions actually processed:")
        .context("pgbench printed no `number of transactions actually processed` line")?;
    Ok(PgbenchRun {
        tps,
        transactions: transactions as u64,
        failed: after("number of failed transactions:").map_or(0, |f| f as u64),
        p50_ms: None,
        p99_ms: None,
        average_ms: after("latency average ="),
        keys_ran_out: false,
    })
}

/// Every transaction's latency (µs) from pgbench's `--log` files in `dir`: one line per transaction,
/// `client transaction latency_us script epoch_s epoch_us …`; failed or skipped transactions are left out.
fn read_pgbench_logs(dir: &Path) -> anyhow::Result<Vec<u64>> {
    let mut latencies_us = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        if !path.file_name().is_some_and(|n| n.to_string_lossy().starts_with("pgbench_log")) {
            continue;
        }
        let text = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
        latencies_us.extend(text.lines().filter_map(|l| l.split_whitespace().nth(2)?.parse::<u64>().ok()));
    }
    Ok(latencies_us)
}

/// Creates a uniquely named database on the server, runs `step` with its URL, and drops it (with its sessions)
/// whatever the step's outcome, also when the command is interrupted with Ctrl-C.
async fn on_fresh_database<T, F, Fut>(server: &PgServerUrl, step: F) -> anyhow::Result<T>
where
    F: FnOnce(String) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<T>>,
{
    let name = format!("kabao_cmp_{:016x}", rand::random::<u64>());
    server.admin(&format!("CREATE DATABASE {name}")).await?;
    let outcome = tokio::select! {
        outcome = step(server.database(&name)) => outcome,
        _ = tokio::signal::ctrl_c() => Err(anyhow!("interrupted")),
    };
    let dropped = server.admin(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await;
    match (outcome, dropped) {
        (Ok(value), Ok(())) => Ok(value),
        (Ok(_), Err(e)) => Err(e),
        (Err(e), Ok(())) => Err(e),
        (Err(e), Err(d)) => Err(e.context(format!("(and then {d:#})"))),
    }
}

/// A PostgreSQL server URL (`postgres://user@host:port/db?options`) whose database part can be swapped, so
/// fresh databases on the same server, with the same user and options, can be named.
struct PgServerUrl {
    /// The URL as given: its database is where the fresh ones are created and dropped from.
    admin: String,
    /// `postgres://user@host:port`
    head: String,
    /// `?options`, or empty.
    query: String,
}

impl PgServerUrl {
    fn parse(url: &str) -> anyhow::Result<PgServerUrl> {
        let Some((scheme, rest)) = url.split_once("://") else {
            bail!(
                "--database-url must be a postgres:// URL, e.g. postgres://postgres@127.0.0.1:5432/postgres (got {})",
                redact(url)
            );
        };
        if scheme != "postgres" && scheme != "postgresql" {
            bail!("bench compare runs on PostgreSQL: --database-url must be a postgres:// URL (got {})", redact(url));
        }
        let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, path) = rest.split_at(authority_end);
        let query = path.find('?').map_or("", |i| &path[i..]);
        Ok(PgServerUrl { admin: url.to_string(), head: format!("{scheme}://{authority}"), query: query.to_string() })
    }

    /// The URL of the database `name` on the same server.
    fn database(&self, name: &str) -> String {
        format!("{}/{name}{}", self.head, self.query)
    }

    /// The server's address for messages, without a password.
    fn redacted(&self) -> String {
        redact(&self.head)
    }

    /// Runs one statement on the admin database.
    async fn admin(&self, statement: &str) -> anyhow::Result<()> {
        let mut conn = connect(&self.admin)
            .await
            .with_context(|| format!("connecting to the PostgreSQL server at {}", redact(&self.admin)))?;
        sqlx::raw_sql(statement).execute(&mut conn).await.with_context(|| format!("`{statement}`"))?;
        conn.close().await?;
        Ok(())
    }
}

/// One connection to `url`, without sqlx's warnings about slow statements: filling the keys and dropping a
/// database are slow on purpose.
async fn connect(url: &str) -> anyhow::Result<sqlx::PgConnection> {
    let options: sqlx::postgres::PgConnectOptions = url.parse()?;
    Ok(options.disable_statement_logging().connect().await?)
}

/// `url` with the password of its user (`user:password@`) replaced by `***`.
fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_string() };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) if userinfo.contains(':') => {
            let user = userinfo.split(':').next().unwrap_or_default();
            format!("{scheme}://{user}:***@{host}{tail}")
        }
        _ => url.to_string(),
    }
}

/// The median of `values` (the mean of the two middle ones for an even count); 0 when empty.
fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    match n {
        0 => 0.0,
        _ if n % 2 == 1 => sorted[n / 2],
        _ => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    }
}

fn round_to(value: f64, decimals: i32) -> f64 {
    let scale = 10f64.powi(decimals);
    (value * scale).round() / scale
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fresh_databases_keep_the_servers_user_host_and_options() {
        let s = PgServerUrl::parse("postgres://postgres@127.0.0.1:5432/postgres").unwrap();
        assert_eq!(s.database("kabao_cmp_1"), "postgres://postgres@127.0.0.1:5432/kabao_cmp_1");
        let s = PgServerUrl::parse("postgresql://u:secret@db:6543/admin?sslmode=disable").unwrap();
        assert_eq!(s.database("x"), "postgresql://u:secret@db:6543/x?sslmode=disable");
        assert_eq!(s.redacted(), "postgresql://u:***@db:6543");
        let s = PgServerUrl::parse("postgres://localhost").unwrap();
        assert_eq!(s.database("x"), "postgres://localhost/x");
        assert!(PgServerUrl::parse("sqlite://kabao.db").is_err());
        assert!(PgServerUrl::parse("127.0.0.1:5432").is_err());
    }

    #[test]
    fn a_password_never_reaches_a_message() {
        assert_eq!(redact("postgres://u:pw@h:1/d?x=1"), "postgres://u:***@h:1/d?x=1");
        assert_eq!(redact("postgres://u@h/d"), "postgres://u@h/d");
        let e = PgServerUrl::parse("mysql://u:pw@h/d").err().unwrap().to_string();
        assert!(!e.contains("pw") && e.contains("postgres://"), "{e}");
    }

    #[test]
    fn pgbench_15s_summary_is_read() {
        let out = "pgbench (15.20 (Debian 15.20-0+deb12u1))\ntransaction type: x.sql\nscaling factor: 1\n\
                   number of clients: 64\nnumber of threads: 2\nmaximum number of tries: 1\nduration: 20 s\n\
                   number of transactions actually processed: 93402\n\
                   number of failed transactions: 0 (0.000%)\nlatency average = 13.701 ms\n\
                   initial connection time = 40.311 ms\ntps = 4670.123456 (without initial connection time)\n";
        let run = parse_pgbench_output(out).unwrap();
        assert_eq!((run.tps, run.transactions, run.failed, run.average_ms), (4670.123456, 93402, 0, Some(13.701)));
    }

    #[test]
    fn older_pgbench_reports_tps_excluding_connections() {
        let out = "number of transactions actually processed: 10\n\
                   tps = 90.5 (including connections establishing)\ntps = 99.5 (excluding connections establishing)\n";
        assert_eq!(parse_pgbench_output(out).unwrap().tps, 99.5);
        assert!(parse_pgbench_output("pgbench: error: connection failed").is_err());
    }

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median(&[0.3, 0.1, 0.2]), 0.2);
        assert_eq!(median(&[0.4, 0.1, 0.2, 0.3]), 0.25);
        assert_eq!(median(&[]), 0.0);
    }
}
