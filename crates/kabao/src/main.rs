//! `kabao`: the marketplace binary — serve, migrate, admin tasks, key import and the chat risk scanner.
//! `anyhow` lives only here; the library crates return typed errors.

// mimalloc: a checkout allocates small, short-lived buffers on two threads; glibc malloc was ~12% of the
// checkout benchmark's CPU (perf). See docs/ARCHITECTURE.md.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod backup;
mod bench;
mod config;
mod demo;
mod master_key;

use anyhow::{bail, Context};
use clap::{Args, Parser, Subcommand};
use config::Config;
use kabao_core::{ProductId, Timestamp};
use kabao_store::{Store, TxMode};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Parser)]
#[command(name = "kabao", version, about = "Kabao (卡保): virtual goods with the warranty built in")]
struct Cli {
    /// TOML configuration file (default: ./kabao.toml if present).
    #[arg(long, global = true, env = "KABAO_CONFIG")]
    config: Option<PathBuf>,
    /// Log lines as text or json (one JSON object a line; a request's lines carry its request id)
    /// [config log_format, env KABAO_LOG_FORMAT; default text].
    #[arg(long, global = true, value_parser = ["text", "json"])]
    log_format: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Args, Clone, Default)]
struct DbArgs {
    /// Directory for the embedded SQLite database and the dev master-key file [default: ./data].
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Use PostgreSQL instead of SQLite, e.g. postgres://kabao@127.0.0.1/kabao.
    #[arg(long)]
    database_url: Option<String>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the marketplace.
    Serve {
        /// Address to listen on [default: 127.0.0.1:8080]; port 0 picks a free port.
        #[arg(long)]
        listen: Option<SocketAddr>,
        #[command(flatten)]
        db: DbArgs,
        /// Seed a small demo marketplace on an empty database.
        #[arg(long)]
        demo: bool,
    },
    /// Apply database migrations and exit.
    Migrate {
        #[command(flatten)]
        db: DbArgs,
    },
    /// Administration tasks.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// Card-key inventory tasks.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Check the books: every transaction balances, balances match their entries, escrow matches each order.
    Ledger {
        #[command(subcommand)]
        command: VerifyCommand,
    },
    /// Check the audit trail: every order's event hash chain.
    Audit {
        #[command(subcommand)]
        command: VerifyCommand,
    },
    /// Check a complaint package (维权材料包) offline: every file against its manifest, the order's event chain,
    /// the policy hash and the evidence bindings. Exits non-zero naming each altered part.
    VerifyBundle {
        /// The zip downloaded from the order page.
        file: PathBuf,
    },
    /// The order-chat risk scanner (off-platform contact, off-platform payment, fee scams).
    Risk {
        #[command(subcommand)]
        command: RiskCommand,
    },
    /// Measure hot paths on a fresh database; the last line printed is one JSON object.
    Bench {
        #[command(subcommand)]
        command: BenchCommand,
    },
    /// Compare a business day's gateway payments (UTC+8) with each gateway's records: a payment the gateway took
    /// that is pending here is applied (once); one paid here that the gateway does not know, or paid for another
    /// amount, is a finding. Prints the day's findings; exits 0 with none needing attention, 1 with some (or
    /// payments the gateway could not be asked about), 2 on a usage error. Running a day twice records nothing twice.
    Reconcile {
        /// The business day, YYYY-MM-DD (China time, UTC+8).
        #[arg(long)]
        date: String,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Copy the SQLite database, consistently, while the shop serves: one database file (claim evidence
    /// included; the master key is not: keep it apart). Refuses to overwrite. PostgreSQL: use pg_dump.
    Backup {
        /// The backup file to create (it must not exist).
        #[arg(long)]
        to: PathBuf,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Put a backup made by `kabao backup` back into an EMPTY data directory (checked with PRAGMA
    /// integrity_check). PostgreSQL: use pg_restore.
    Restore {
        /// The backup file.
        file: PathBuf,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Ask a running server's /healthz; exits 0 when it answers 200 (the container health check: no curl needed).
    Healthcheck {
        /// The health URL (plain http).
        #[arg(long, default_value = "http://127.0.0.1:8080/healthz")]
        url: String,
        /// Give up after this many seconds.
        #[arg(long, default_value_t = 5)]
        timeout: u64,
    },
    /// The reference key verifier (验货, docs/VERIFIER.md).
    Verifier {
        #[command(subcommand)]
        command: VerifierCommand,
    },
}

#[derive(Subcommand)]
enum VerifierCommand {
    /// Answer signed verification requests from a key file: one key a line,
    /// KEY<TAB>STATUS[<TAB>REDEEMED_AT unix seconds[<TAB>DETAIL]], STATUS valid|redeemed|invalid|unknown.
    Serve {
        /// The key file.
        #[arg(long)]
        keys: PathBuf,
        /// Address to listen on; port 0 picks a free port.
        #[arg(long, default_value = "127.0.0.1:8090")]
        listen: SocketAddr,
        /// The shared secret requests are signed with (the `secret` of `[verifiers.<category>]`).
        #[arg(long, env = "KABAO_VERIFIER_SECRET", hide_env_values = true)]
        secret: String,
    },
}

#[derive(Subcommand)]
enum VerifyCommand {
    /// Recompute and compare; exits non-zero naming every problem.
    Verify {
        #[command(flatten)]
        db: DbArgs,
    },
}

#[derive(Subcommand)]
enum RiskCommand {
    /// Read chat messages from stdin, one per line; print one JSON verdict per line:
    /// {"risky": bool, "hits": [{"rule", "category", "span": [start, end]}]} (spans in characters).
    Scan {
        /// A link host not to flag, with its subdomains; repeat for more [default: kabao.cn].
        #[arg(long = "allow-host")]
        allow_hosts: Vec<String>,
    },
    /// Score the scanner on a labelled corpus (JSONL: {"text", "risky", "category"}): precision, recall, per
    /// family, then every miss and false alarm. Exits non-zero below --min (default 0.95) on either figure.
    Eval {
        file: PathBuf,
        #[arg(long, default_value_t = 0.95)]
        min: f64,
    },
}

#[derive(Subcommand)]
enum BenchCommand {
    /// Drive real HTTP checkouts (order, pay from wallet, reveal) from concurrent clients: against a server
    /// started here on a fresh database, or with --url against a running one (seeded and checked through its
    /// database: give the same --data-dir/--database-url and master key as the server).
    Checkout {
        #[arg(long, default_value_t = 64)]
        clients: usize,
        #[arg(long, default_value_t = 20)]
        seconds: u64,
        /// Base URL of a running `kabao serve`, e.g. http://127.0.0.1:8080 (plain http: the clients speak
        /// HTTP/1.1 without TLS). Repeat it for several instances on one database: the clients are spread
        /// over them in turn.
        #[arg(long)]
        url: Vec<String>,
        /// Every checkout buys warranty insurance (质保险): quote, then order with the premium.
        #[arg(long)]
        insurance: bool,
        /// Without --url: run against this PostgreSQL database instead of a temporary SQLite file.
        /// With --url: the running server's database.
        #[arg(long)]
        database_url: Option<String>,
        /// With --url: the running server's data directory (SQLite database and dev master key).
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
    /// Scan every message of a labelled corpus (JSONL) repeatedly for --seconds and print messages per second.
    Risk {
        /// The corpus [default: tests/data/risk/dev.jsonl].
        #[arg(long, default_value = "tests/data/risk/dev.jsonl")]
        file: PathBuf,
        #[arg(long, default_value_t = 3)]
        seconds: u64,
    },
    /// Seed listed products and time catalog searches (1, 2, 3+ characters, two words): median and p99.
    Search {
        #[arg(long, default_value_t = 100_000)]
        products: u64,
        /// Searches timed per kind of query.
        #[arg(long, default_value_t = 200)]
        searches: usize,
        /// Run against this PostgreSQL database instead of a temporary SQLite file.
        #[arg(long)]
        database_url: Option<String>,
    },
    /// Run pgbench on the raw checkout writes (the shared bench folder's pg-checkout-writes.sql) and `bench
    /// checkout` on PostgreSQL, alternated round by round, each on a fresh database dropped afterwards; print both,
    /// their ratio, the median ratio and whether the PostgreSQL targets (Kabao at least 0.5 of pgbench's TPS, p99
    /// under 50 ms, at 64 clients) are met.
    Compare {
        /// The PostgreSQL server, as the URL of a database to connect to while creating and dropping the fresh
        /// ones (named kabao_cmp_…); its user needs CREATEDB.
        #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/postgres")]
        database_url: String,
        /// Concurrent clients, the same for pgbench and Kabao.
        #[arg(long, default_value_t = 64)]
        clients: usize,
        /// How long each pgbench run and each Kabao run lasts, in seconds.
        #[arg(long, default_value_t = 20)]
        seconds: u64,
        /// Rounds of pgbench then Kabao; the summary takes the median ratio.
        #[arg(long, default_value_t = 3)]
        rounds: usize,
        /// The pgbench program: a path, or a name looked up on PATH.
        #[arg(long, default_value = "pgbench")]
        pgbench: PathBuf,
        /// pgbench's script, kept outside the repository in the shared bench folder beside the checkout.
        #[arg(long, default_value = "../shared/bench/pg-checkout-writes.sql")]
        pgbench_script: PathBuf,
        /// Rows of pgbench's keys table, set up as the script's header says; each transaction takes one.
        #[arg(long, default_value_t = 2_000_000)]
        pgbench_keys: u64,
    },
    /// Time `kabao keys import` of a generated file into a fresh product.
    Import {
        /// Number of keys in the generated file.
        #[arg(long, default_value_t = 1_000_000)]
        keys: u64,
        /// Run against this PostgreSQL database instead of a temporary SQLite file.
        #[arg(long)]
        database_url: Option<String>,
    },
    /// Time the pages that should not cost more with a longer history (home, product list, product and shop
    /// pages, shop trust, the first-order check, the merchant's key page and claim queue) on a small marketplace,
    /// grow it to --orders orders over three shops, time them again and compare; then time `ledger verify` over
    /// the grown books and its peak memory.
    Growth {
        /// Orders in the grown history (40 % / 40 % / 20 % over three shops; the first shop's product gets as
        /// many keys as there are orders).
        #[arg(long, default_value_t = 1_000_000)]
        orders: u64,
        /// Sequential requests timed per page, empty and grown (median and p99).
        #[arg(long, default_value_t = 30)]
        requests: usize,
        /// Run against this empty PostgreSQL database instead of a temporary SQLite file.
        #[arg(long)]
        database_url: Option<String>,
    },
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Create a staff account (admin or arbiter). Without --password a random one is printed once.
    Create {
        #[arg(long)]
        username: String,
        /// admin or arbiter.
        #[arg(long, default_value = "admin")]
        role: String,
        /// The password (visible in the process list; prefer KABAO_ADMIN_PASSWORD or a random one).
        #[arg(long, env = "KABAO_ADMIN_PASSWORD", hide_env_values = true)]
        password: Option<String>,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Remove a user's second factor (TOTP and recovery codes) after they lost their device, and end their
    /// sessions. An admin or arbiter then sets it up again at their next login. Recorded as a security event.
    ResetTotp {
        /// The user name.
        username: String,
        #[command(flatten)]
        db: DbArgs,
    },
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Import a key file into a product (one key per line, or 卡号----密码). Prints the per-line report.
    Import {
        /// Product id.
        #[arg(long)]
        product: i64,
        /// The key file (UTF-8).
        file: PathBuf,
        #[command(flatten)]
        db: DbArgs,
    },
}

pub(crate) fn now() -> Timestamp {
    let ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or(0);
    Timestamp::from_millis(i64::try_from(ms).unwrap_or(i64::MAX))
}

/// `--log-format`, when given: it wins over the file and the environment.
static LOG_FORMAT_FLAG: std::sync::OnceLock<String> = std::sync::OnceLock::new();
/// Whether log lines are JSON (from the flag, the environment, then the loaded configuration).
static LOG_JSON: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

fn load_config(cli_config: Option<&std::path::Path>, db: &DbArgs) -> anyhow::Result<Config> {
    let mut config = Config::load(cli_config, |k| std::env::var(k).ok())?;
    if let Some(f) = LOG_FORMAT_FLAG.get() {
        config.log_format = f.clone();
    }
    LOG_JSON.store(config.log_format == "json", std::sync::atomic::Ordering::Relaxed);
    if let Some(dir) = &db.data_dir {
        config.data_dir = dir.clone();
    }
    if let Some(url) = &db.database_url {
        config.database_url = Some(url.clone());
    }
    Ok(config)
}

async fn open_store(config: &Config) -> anyhow::Result<Arc<dyn Store>> {
    if config.database_url.is_none() {
        std::fs::create_dir_all(&config.data_dir)
            .with_context(|| format!("creating data directory {}", config.data_dir.display()))?;
    }
    kabao_store::open(&config.store_url())
        .await
        .with_context(|| format!("opening the database ({})", config.redacted()))
}

async fn open_keyring(config: &Config, store: &dyn Store) -> anyhow::Result<kabao_core::vault::Keyring> {
    let (master, created) = master_key::load_or_create(config)?;
    if let Some(path) = created {
        eprintln!();
        eprintln!("!!! 已创建新的主密钥 / created a new master key: {}", path.display());
        eprintln!("!!! 它加密所有卡密：请备份，丢失后卡密无法解密。生产环境请用 KABAO_MASTER_KEY 提供。");
        eprintln!("!!! It encrypts every card key: back it up; without it no key can be decrypted.");
        eprintln!("!!! In production, provide it through KABAO_MASTER_KEY instead.");
        eprintln!();
    }
    Ok(kabao_app::keyring::load_or_create(store, &master, now()).await?)
}

fn init_tracing(filter: &str) {
    let filter =
        tracing_subscriber::EnvFilter::try_new(filter).unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    if LOG_JSON.load(std::sync::atomic::Ordering::Relaxed) {
        // One JSON object a line; `span` holds the request's fields (request_id, method, uri).
        let _ = builder.json().with_current_span(true).with_span_list(false).try_init();
    } else {
        let _ = builder.try_init();
    }
}

/// Runs the command; any error is printed as ONE line on stderr (the setting or file it is about, then why;
/// no backtrace, no "Caused by" block) and the process exits non-zero.
fn main() -> std::process::ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => e.exit(),
        Err(e) => {
            let rendered = e.to_string();
            let first = rendered.lines().find(|l| !l.trim().is_empty()).unwrap_or("invalid arguments");
            eprintln!("kabao: {} (see kabao --help)", first.trim().trim_start_matches("error: "));
            return std::process::ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("kabao: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kabao: {}", one_line(&e));
            if e.downcast_ref::<Usage>().is_some() {
                std::process::ExitCode::from(2)
            } else {
                std::process::ExitCode::FAILURE
            }
        }
    }
}

/// A command used wrongly (an argument clap cannot check): the process exits 2, like clap's own refusals.
#[derive(Debug)]
struct Usage(String);

impl std::fmt::Display for Usage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Usage {}

/// An error and its causes on one line ("outer: inner: root"), multi-line messages (a TOML parse error's
/// snippet) folded into it.
fn one_line(e: &anyhow::Error) -> String {
    format!("{e:#}").split('\n').map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join(" ")
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    if let Some(f) = &cli.log_format {
        let _ = LOG_FORMAT_FLAG.set(f.clone());
    }
    let json = cli.log_format.clone().or_else(|| std::env::var("KABAO_LOG_FORMAT").ok()).is_some_and(|f| f == "json");
    LOG_JSON.store(json, std::sync::atomic::Ordering::Relaxed);
    match cli.command {
        Command::Serve { listen, db, demo } => {
            let mut config = load_config(cli.config.as_deref(), &db)?;
            if let Some(l) = listen {
                config.listen = l;
            }
            serve(config, demo).await
        }
        Command::Migrate { db } => {
            let config = load_config(cli.config.as_deref(), &db)?;
            init_tracing(&config.log);
            let store = open_store(&config).await?;
            store.close().await;
            println!("migrations applied ({})", config.redacted());
            Ok(())
        }
        Command::Admin { command: AdminCommand::Create { username, role, password, db } } => {
            let config = load_config(cli.config.as_deref(), &db)?;
            init_tracing(&config.log);
            let role = match kabao_core::user::Role::parse(&role) {
                Some(r @ (kabao_core::user::Role::Admin | kabao_core::user::Role::Arbiter)) => r,
                _ => bail!("--role must be admin or arbiter"),
            };
            let store = open_store(&config).await?;
            let (password, generated) = match password {
                Some(p) => (p, false),
                None => (kabao_app::accounts::random_password(), true),
            };
            let user = kabao_app::accounts::create_user(&*store, &username, &password, role, None, now())
                .await
                .map_err(|e| anyhow::anyhow!("{}", kabao_core::Localized::message(&e, kabao_core::Lang::En)))?;
            store.close().await;
            if generated {
                println!("created {} {} (id {}) with password: {password}", role.as_str(), username, user.id);
                println!("this password is shown only once");
            } else {
                println!("created {} {} (id {})", role.as_str(), username, user.id);
            }
            Ok(())
        }
        Command::Admin { command: AdminCommand::ResetTotp { username, db } } => {
            let config = load_config(cli.config.as_deref(), &db)?;
            init_tracing(&config.log);
            let store = open_store(&config).await?;
            let reset = kabao_app::totp::reset(&*store, &username, now()).await;
            store.close().await;
            let user = match reset {
                Ok(u) => u,
                Err(kabao_app::totp::TotpError::Accounts(_)) => bail!("no user named {username}"),
                Err(e) => bail!("{e}"),
            };
            println!(
                "two-step verification of {} ({}, id {}) removed; their sessions ended",
                user.username,
                user.role.as_str(),
                user.id
            );
            if kabao_app::totp::required_for(user.role) {
                println!("they must set it up again at their next login");
            }
            // Every change to a second factor is mailed to the account, this one too: if it was not asked for,
            // the owner hears of it at once. The reset stands either way; a notice that fails is reported.
            match &user.email {
                None => println!("no email address on the account: no notice mailed"),
                Some(to) => {
                    let base = config.public_url.as_deref().map(str::trim).filter(|u| !u.is_empty());
                    let base = base.unwrap_or("http://localhost").trim_end_matches('/');
                    let when = format!("{} (UTC+8)", kabao_app::display::datetime(now()));
                    let mail = kabao_app::mailer::security_change_mail(
                        to,
                        &user.username,
                        kabao_app::mailer::SecurityChange::TotpReset,
                        &when,
                        base,
                    );
                    match config.mailer()?.send(&mail).await {
                        Ok(()) => println!("a notice was mailed to {to}"),
                        Err(e) => eprintln!("the reset stands, but the notice to {to} was not sent: {e}"),
                    }
                }
            }
            Ok(())
        }
        Command::Keys { command: KeysCommand::Import { product, file, db } } => {
            let config = load_config(cli.config.as_deref(), &db)?;
            init_tracing(&config.log);
            import_keys(&config, ProductId(product), &file).await
        }
        Command::Ledger { command: VerifyCommand::Verify { db } } => {
            let config = load_config(cli.config.as_deref(), &db)?;
            init_tracing(&config.log);
            let store = open_store(&config).await?;
            let problems = kabao_app::verify::ledger(&*store).await?;
            store.close().await;
            report("ledger", &problems)
        }
        Command::Audit { command: VerifyCommand::Verify { db } } => {
            let config = load_config(cli.config.as_deref(), &db)?;
            init_tracing(&config.log);
            let store = open_store(&config).await?;
            let (chains, problems) = kabao_app::verify::audit(&*store).await?;
            store.close().await;
            if problems.is_empty() {
                println!("audit: {chains} order event chains verified");
            }
            report("audit", &problems)
        }
        Command::VerifyBundle { file } => {
            let bytes = std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
            let verdict = kabao_app::bundle::verify(&bytes).map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
            if verdict.problems.is_empty() {
                println!(
                    "verify-bundle: intact: order {}, {} files, {} events in an unbroken chain, evidence bound to its files",
                    verdict.order_no, verdict.files, verdict.events
                );
            }
            report("verify-bundle", &verdict.problems)
        }
        Command::Risk { command: RiskCommand::Scan { allow_hosts } } => risk_scan(allow_hosts),
        Command::Risk { command: RiskCommand::Eval { file, min } } => risk_eval(&file, min),
        Command::Bench { command: BenchCommand::Risk { file, seconds } } => risk_bench(&file, seconds),
        Command::Bench {
            command: BenchCommand::Checkout { clients, seconds, url, database_url, data_dir, insurance },
        } => {
            init_tracing("warn");
            let target = if url.is_empty() {
                if data_dir.is_some() {
                    bail!("--data-dir is for --url (a running server's directory)");
                }
                bench::Target::Fresh { database_url }
            } else {
                // Refused before the data directory or its master key is touched.
                for u in &url {
                    bench::check_url(u)?;
                }
                let config = load_config(cli.config.as_deref(), &DbArgs { data_dir, database_url })?;
                let store = open_store(&config).await?;
                let keyring = Arc::new(open_keyring(&config, &*store).await?);
                bench::Target::Running { urls: url, store, keyring }
            };
            bench::checkout(bench::CheckoutBench {
                clients: clients.max(1),
                seconds: seconds.max(1),
                target,
                insurance,
            })
            .await
        }
        Command::Bench { command: BenchCommand::Search { products, searches, database_url } } => {
            init_tracing("warn");
            bench::search(products, searches.max(1), database_url, now()).await
        }
        Command::Bench {
            command:
                BenchCommand::Compare { database_url, clients, seconds, rounds, pgbench, pgbench_script, pgbench_keys },
        } => {
            init_tracing("warn");
            bench::compare::compare(bench::compare::CompareBench {
                admin_url: database_url,
                clients: clients.max(1),
                seconds: seconds.max(1),
                rounds: rounds.max(1),
                pgbench,
                script: pgbench_script,
                keys: pgbench_keys.max(1),
            })
            .await
        }
        Command::Bench { command: BenchCommand::Import { keys, database_url } } => {
            init_tracing("warn");
            bench::import(keys, database_url, now()).await
        }
        Command::Bench { command: BenchCommand::Growth { orders, requests, database_url } } => {
            init_tracing("warn");
            bench::growth::growth(bench::growth::GrowthBench { orders, requests: requests.max(1), database_url }).await
        }
        Command::Reconcile { date, db } => {
            let config = load_config(cli.config.as_deref(), &db)?;
            reconcile(config, &date).await
        }
        Command::Backup { to, db } => {
            let config = load_config(cli.config.as_deref(), &db)?;
            if config.database_url.is_some() {
                bail!(
                    "kabao backup copies the SQLite database; for PostgreSQL use pg_dump -Fc (and pg_restore), \
                     see docs/OPERATIONS.md"
                );
            }
            let db_file = config.data_dir.join("kabao.db");
            let r = tokio::task::spawn_blocking(move || backup::backup(&db_file, &to).map(|r| (r, to))).await??;
            println!(
                "backup: {} written ({} bytes, {} orders, {} evidence files; integrity ok)",
                r.1.display(),
                r.0.bytes,
                r.0.orders,
                r.0.evidence_files
            );
            println!("备份不含主密钥：请另行保管 / the master key is not in the backup: keep it separately");
            Ok(())
        }
        Command::Restore { file, db } => {
            let config = load_config(cli.config.as_deref(), &db)?;
            if config.database_url.is_some() {
                bail!("kabao restore is for SQLite backups; for PostgreSQL use pg_restore, see docs/OPERATIONS.md");
            }
            let dir = config.data_dir.clone();
            let r = tokio::task::spawn_blocking(move || backup::restore(&file, &dir)).await??;
            println!(
                "restore: {} ({} bytes, {} orders, {} evidence files; integrity ok)",
                config.data_dir.join("kabao.db").display(),
                r.bytes,
                r.orders,
                r.evidence_files
            );
            println!(
                "restore: give the server its master key (KABAO_MASTER_KEY, or {}) before kabao serve",
                config.master_key_path().display()
            );
            Ok(())
        }
        Command::Healthcheck { url, timeout } => healthcheck(&url, timeout).await,
        Command::Verifier { command: VerifierCommand::Serve { keys, listen, secret } } => {
            init_tracing("info");
            serve_verifier(&keys, listen, &secret).await
        }
    }
}

/// `kabao healthcheck`: GET the URL over plain HTTP/1.0 and succeed on 200 (a container's health check).
async fn healthcheck(url: &str, timeout: u64) -> anyhow::Result<()> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let Some(rest) = url.strip_prefix("http://") else {
        return Err(Usage(format!("--url {url:?}: only plain http:// URLs")).into());
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let ask = async {
        let mut conn = tokio::net::TcpStream::connect(authority).await?;
        conn.write_all(format!("GET {path} HTTP/1.0\r\nHost: {authority}\r\n\r\n").as_bytes()).await?;
        let mut answer = Vec::new();
        conn.take(64 * 1024).read_to_end(&mut answer).await?;
        Ok::<_, std::io::Error>(answer)
    };
    let answer = tokio::time::timeout(std::time::Duration::from_secs(timeout.max(1)), ask)
        .await
        .with_context(|| format!("{url}: no answer within {timeout} s"))?
        .with_context(|| format!("{url}: cannot connect"))?;
    let text = String::from_utf8_lossy(&answer);
    let status = text.lines().next().unwrap_or_default().split_whitespace().nth(1).unwrap_or_default().to_string();
    if status != "200" {
        bail!("{url}: unhealthy (status {})", if status.is_empty() { "none" } else { &status });
    }
    println!("healthy: {url}");
    Ok(())
}

/// Prints verification problems; any problem makes the command fail.
fn report(what: &str, problems: &[String]) -> anyhow::Result<()> {
    if problems.is_empty() {
        println!("{what}: ok");
        return Ok(());
    }
    for p in problems {
        println!("{what}: {p}");
    }
    bail!("{what} verification found {} problem(s)", problems.len())
}

/// Reads a labelled corpus file.
fn read_corpus(file: &std::path::Path) -> anyhow::Result<Vec<kabao_core::risk::eval::Labelled>> {
    let text = std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    kabao_core::risk::eval::parse_corpus(&text).map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))
}

/// `kabao risk eval FILE`: the scanner's figures on a labelled corpus, with its misses and false alarms.
fn risk_eval(file: &std::path::Path, min: f64) -> anyhow::Result<()> {
    use kabao_core::risk::eval;
    let corpus = read_corpus(file)?;
    let report = eval::evaluate(&corpus, &kabao_core::risk::ScanConfig::default());
    print!("{}", eval::render(&report));
    if report.precision() < min || report.recall() < min {
        bail!("precision {:.3} / recall {:.3} below {min}", report.precision(), report.recall());
    }
    Ok(())
}

/// `kabao bench risk`: messages scanned per second over a corpus, one thread; the last line is JSON.
fn risk_bench(file: &std::path::Path, seconds: u64) -> anyhow::Result<()> {
    let corpus = read_corpus(file)?;
    if corpus.is_empty() {
        bail!("{}: no messages", file.display());
    }
    let cfg = kabao_core::risk::ScanConfig::default();
    let (mut messages, mut chars, mut risky) = (0u64, 0u64, 0u64);
    let start = std::time::Instant::now();
    let budget = std::time::Duration::from_secs(seconds.max(1));
    while start.elapsed() < budget {
        for item in &corpus {
            let scan = kabao_core::risk::scan(&item.text, &cfg);
            risky += u64::from(scan.risky());
            messages += 1;
            chars += item.text.chars().count() as u64;
        }
    }
    let secs = start.elapsed().as_secs_f64();
    let per_sec = messages as f64 / secs;
    println!(
        "risk scan: {messages} messages ({chars} characters, {risky} flagged) in {secs:.2} s: {per_sec:.0} messages/s"
    );
    println!(
        "{}",
        serde_json::json!({"bench": "risk", "messages": messages, "seconds": secs, "messages_per_second": per_sec.round(),
            "chars_per_second": (chars as f64 / secs).round()})
    );
    Ok(())
}

/// `kabao risk scan`: stdin lines in, one JSON verdict per line out. Bytes that are not UTF-8 are replaced, so
/// one bad line in a chat export does not stop the rest.
fn risk_scan(allowed_hosts: Vec<String>) -> anyhow::Result<()> {
    use std::io::{BufRead, Write};
    let mut config = kabao_core::risk::ScanConfig::default();
    if !allowed_hosts.is_empty() {
        config.allowed_hosts = allowed_hosts;
    }
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for line in std::io::stdin().lock().split(b'\n') {
        let line = line.context("reading stdin")?;
        let text = String::from_utf8_lossy(line.strip_suffix(b"\r").unwrap_or(&line));
        serde_json::to_writer(&mut out, &kabao_core::risk::scan(&text, &config))?;
        writeln!(out)?;
    }
    out.flush()?;
    Ok(())
}

async fn import_keys(config: &Config, product: ProductId, file: &std::path::Path) -> anyhow::Result<()> {
    let store = open_store(config).await?;
    let keyring = Arc::new(open_keyring(config, &*store).await?);
    let owner = {
        let mut tx = store.begin(TxMode::Read).await?;
        let p = tx.product_by_id(product).await?.with_context(|| format!("product {product} does not exist"))?;
        let shop =
            tx.shop_by_id(p.shop_id).await?.with_context(|| format!("shop of product {product} does not exist"))?;
        shop.owner_id
    };
    let bytes = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    let started = std::time::Instant::now();
    let verifiers = kabao_app::verification::Verifiers::build(&config.verifiers()?, |c| {
        Arc::new(kabao_rails::verifier::VerifierHttp::new(c)) as Arc<dyn kabao_app::verification::Verifier>
    });
    let outcome =
        kabao_app::inventory::import_keys_checked(&*store, &keyring, &verifiers, owner, product, &bytes, "cli", now())
            .await
            .map_err(|e| anyhow::anyhow!("{}", kabao_core::Localized::message(&e, kabao_core::Lang::En)))?;
    let elapsed = started.elapsed();
    let r = &outcome.report;
    for m in &r.malformed {
        println!("malformed  {}", m.problem.message(m.line, kabao_core::Lang::En));
    }
    for d in &r.duplicates {
        match d.same_as_line {
            Some(first) => println!("duplicate  line {}: same key as line {first}", d.line),
            None => println!("duplicate  line {}: the shop already has this key", d.line),
        }
    }
    for f in &r.refused {
        println!("refused    {}", f.message(kabao_core::Lang::En, kabao_app::display::datetime));
    }
    if r.unverified_count > 0 {
        println!("unverified {} keys: the verifier could not confirm them (imported)", r.unverified_count);
    }
    println!(
        "accepted {} keys into product {product}{}; {} duplicate, {} malformed; {:.2} s",
        r.accepted_count,
        outcome.batch_id.map(|b| format!(" (batch {b})")).unwrap_or_default(),
        r.duplicates.len(),
        r.malformed.len(),
        elapsed.as_secs_f64()
    );
    store.close().await;
    Ok(())
}

/// `kabao verifier serve`: the reference verifier on `listen`, until the process is stopped.
async fn serve_verifier(keys: &std::path::Path, listen: SocketAddr, secret: &str) -> anyhow::Result<()> {
    if secret.trim().chars().count() < 16 {
        bail!("--secret (KABAO_VERIFIER_SECRET) must be at least 16 characters");
    }
    let text = std::fs::read_to_string(keys).with_context(|| format!("reading {}", keys.display()))?;
    let book = kabao_rails::verifier::KeyBook::parse(&text).with_context(|| format!("key file {}", keys.display()))?;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("--listen {listen}: cannot listen there"))?;
    println!("Kabao reference verifier listening on http://{} ({} keys)", listener.local_addr()?, book.len());
    kabao_rails::verifier::serve_reference(listener, book, secret.trim().as_bytes()).await?;
    Ok(())
}

/// The application's settings from the file and environment (and the checked gateway and verifier settings).
fn server_config(
    config: &Config,
    epay: Option<kabao_app::epay::EpayConfig>,
    alipay: Option<kabao_app::gateways::alipay::AlipayConfig>,
    wechatpay: Option<kabao_app::gateways::wechatpay::WechatPayConfig>,
    sandbox: Option<kabao_app::payments::SandboxConfig>,
    verifiers: std::collections::BTreeMap<kabao_core::catalog::Category, kabao_app::verification::VerifierConfig>,
) -> kabao_server::ServerConfig {
    kabao_server::ServerConfig {
        secure_cookies: config.secure_cookies,
        reset_link_seconds: config.reset_link_seconds,
        trust_proxy: config.trust_proxy,
        epay,
        alipay,
        wechatpay,
        sandbox,
        claim_window_seconds: config.claim_window_seconds,
        insurance_grace_seconds: config.insurance_grace_seconds,
        order_ttl_seconds: config.order_ttl_seconds,
        dispute_window_days: config.dispute_window_days,
        first_order_trust_below: config.first_order_trust_below,
        first_order_amount: kabao_core::Money::from_fen(config.first_order_amount_fen),
        trial_max_price: kabao_core::Money::from_fen(config.trial_max_price_fen),
        risk_review_threshold: config.risk_review_threshold,
        withdrawal_fee_bps: config.withdrawal_fee_bps.clamp(0, 10_000),
        withdrawal_fee_min: kabao_core::Money::from_fen(config.withdrawal_fee_min_fen.max(0)),
        verifiers,
        webhook_allow_http: config.webhook_allow_http,
        webhook_allow_private: config.webhook_allow_private,
        // Checked by `Config::load` (bounded, so the conversions cannot fail; the defaults stand in otherwise).
        signup_pow_base_bits: u8::try_from(config.signup_pow_base_bits).unwrap_or(12),
        signup_pow_step_bits: u8::try_from(config.signup_pow_step_bits).unwrap_or(1),
        signups_per_ip_per_hour: u32::try_from(config.signups_per_ip_per_hour).unwrap_or(20),
        ..kabao_server::ServerConfig::default()
    }
}

/// `kabao reconcile --date YYYY-MM-DD`: the application built as `serve` builds it (the gateways speak HTTP
/// through `kabao_rails::GatewayHttp`), asked to reconcile one business day.
async fn reconcile(config: Config, date: &str) -> anyhow::Result<()> {
    if kabao_app::reconcile::day_bounds(date).is_none() {
        return Err(Usage(format!("--date {date:?} is not a day: use YYYY-MM-DD (China time, UTC+8)")).into());
    }
    let epay = config.epay()?;
    let alipay = config.alipay()?;
    let wechatpay = config.wechatpay()?;
    let verifiers = config.verifiers()?;
    init_tracing(&config.log);
    let store = open_store(&config).await?;
    let keyring = Arc::new(open_keyring(&config, &*store).await?);
    let settings = server_config(&config, epay, alipay, wechatpay, None, verifiers);
    let state = kabao_server::AppState::new(store.clone(), keyring, settings, Arc::new(kabao_server::SystemClock));
    let report = kabao_app::reconcile::reconcile_day(&state, date).await?;
    store.close().await;
    let Some(report) = report else { return Err(Usage(format!("--date {date:?} is not a day")).into()) };
    let gateways: Vec<&str> = state.gateways.external().map(|g| g.id()).collect();
    println!(
        "reconcile {date}: {} payment(s) checked at {}, {} applied late, {} not answered",
        report.checked,
        if gateways.is_empty() { "no gateway".to_string() } else { gateways.join(", ") },
        report.applied,
        report.unanswered
    );
    if !report.findings.is_empty() {
        println!(
            "{:<6} {:<16} {:<10} {:<34} {:>12} {:>12}  detail",
            "level", "kind", "gateway", "trade_no", "ours", "gateway"
        );
    }
    for f in &report.findings {
        let level = if f.kind.is_error() { "ERROR" } else { "info" };
        let got = f.got.map(|m| m.to_string()).unwrap_or_else(|| "-".into());
        let resolved = if f.resolved_at.is_some() { " (resolved)" } else { "" };
        println!(
            "{level:<6} {:<16} {:<10} {:<34} {:>12} {:>12}  {}{resolved}",
            f.kind.as_str(),
            f.gateway,
            f.trade_no,
            f.expected.to_string(),
            got,
            f.detail
        );
    }
    let errors = report.errors();
    if errors > 0 {
        bail!("reconcile {date}: {errors} finding(s) need attention (see /admin/reconciliation)");
    }
    if report.unanswered > 0 {
        bail!("reconcile {date}: {} payment(s) could not be asked about; run again later", report.unanswered);
    }
    println!("reconcile {date}: ok");
    Ok(())
}

async fn serve(config: Config, demo: bool) -> anyhow::Result<()> {
    // Refuse a bad configuration (half or key-less 易支付, a sandbox secret without the sandbox, a malformed
    // master key) before anything starts or logs: the one line `main` prints is all the operator sees.
    let epay = config.epay()?;
    let alipay = config.alipay()?;
    let wechatpay = config.wechatpay()?;
    let sandbox = config.sandbox(demo)?;
    let verifiers = config.verifiers()?;
    let mailer = config.mailer()?;
    if let Some(hex) = &config.master_key {
        kabao_core::vault::MasterKey::from_hex(hex)
            .map_err(|e| anyhow::anyhow!("master_key (KABAO_MASTER_KEY) is not 64 hex characters: {e}"))?;
    }
    init_tracing(&config.log);
    tracing::info!(config = %config.redacted(), "starting kabao");
    if sandbox.is_some() {
        tracing::warn!(
            "sandbox gateway ON ({}): payments are simulated, any buyer can pay without money; never in production",
            if demo { "--demo" } else { "payments.sandbox.enabled" }
        );
        println!("演示环境：付款为模拟（沙箱网关已开启）/ Demo: payments are simulated (sandbox gateway on)");
    }
    let store = open_store(&config).await?;
    let keyring = Arc::new(open_keyring(&config, &*store).await?);
    // Several instances may start together on a fresh database: one creates the first admin and the demo
    // marketplace while the others wait, then find them there.
    kabao_app::jobs::one_at_a_time(&*store, &kabao_app::SystemClock, async {
        if let Some((username, password)) =
            kabao_app::accounts::ensure_admin(&*store, now()).await.map_err(|e| anyhow::anyhow!("{e}"))?
        {
            println!("created the first admin account: {username} / {password}");
            println!("首个管理员账号已创建：{username} / {password}（只显示这一次 / shown only once）");
        }
        if demo {
            demo::seed(&*store, &keyring, now()).await?;
        }
        Ok::<(), anyhow::Error>(())
    })
    .await??;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("listen {} (KABAO_LISTEN / --listen): cannot listen there", config.listen))?;
    let addr = listener.local_addr()?;
    let server_config = server_config(&config, epay, alipay, wechatpay, sandbox, verifiers);
    let state = kabao_server::AppState::new(store.clone(), keyring, server_config, Arc::new(kabao_server::SystemClock))
        .with_mailer(mailer, config.public_url.clone());
    let state = state.with_http(kabao_server::hardening::HttpSettings {
        metrics_token: config.metrics_token.as_ref().map(|t| t.0.trim().to_string()),
        public_url: config.public_url.clone(),
    });
    let state = Arc::new(state);
    if let Some(metrics_addr) = config.metrics_listen {
        let metrics_listener = tokio::net::TcpListener::bind(metrics_addr)
            .await
            .with_context(|| format!("metrics_listen {metrics_addr} (KABAO_METRICS_LISTEN): cannot listen there"))?;
        println!("Kabao metrics on http://{}/metrics", metrics_listener.local_addr()?);
        let metrics_state = state.clone();
        tokio::spawn(async move {
            if let Err(e) = kabao_server::serve_metrics(metrics_state, metrics_listener).await {
                tracing::error!(error = %e, "metrics listener stopped");
            }
        });
    }
    kabao_app::jobs::spawn(state.clone(), std::time::Duration::from_secs(config.job_interval_seconds));
    println!("Kabao listening on http://{addr}");
    kabao_server::serve(state, listener).await?;
    store.close().await;
    Ok(())
}
