//! Spawning `kabao serve` on port 0 with a fresh data directory, and chromedriver for the browser tests.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A fresh, uniquely named directory removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let dir =
            std::env::temp_dir().join(format!("kabao-e2e-{tag}-{}-{:016x}", std::process::id(), rand::random::<u64>()));
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("creating {}: {e}", dir.display()));
        TempDir(dir)
    }
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub fn kabao_bin() -> &'static str {
    env!("CARGO_BIN_EXE_kabao")
}

/// A running `kabao serve`; killed on drop.
pub struct Server {
    child: Child,
    pub url: String,
    /// Everything the server printed to stdout before it was ready (admin password, demo credentials).
    pub banner: Vec<String>,
    pub data: TempDir,
}

impl Server {
    pub fn start(extra_args: &[&str]) -> Server {
        Self::start_with_env(extra_args, &[])
    }

    pub fn start_with_env(extra_args: &[&str], env: &[(&str, &str)]) -> Server {
        let data = TempDir::new("server");
        let log = std::fs::File::create(data.path().join("server.log")).unwrap_or_else(|e| panic!("log file: {e}"));
        let mut child = Command::new(kabao_bin())
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data.path())
            .args(extra_args)
            .env_remove("KABAO_DATABASE_URL")
            .env_remove("KABAO_MASTER_KEY")
            // Debug logging on purpose: the tests scan the log for card keys, which must never appear.
            .env("KABAO_LOG", "debug,hyper=info,h2=info")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .spawn()
            .unwrap_or_else(|e| panic!("starting kabao: {e}"));
        let stdout = child.stdout.take().unwrap_or_else(|| panic!("no stdout"));
        let mut lines = BufReader::new(stdout).lines();
        let mut banner = Vec::new();
        let url = loop {
            match lines.next() {
                Some(Ok(line)) => {
                    if let Some(rest) = line.strip_prefix("Kabao listening on ") {
                        break rest.trim().to_string();
                    }
                    banner.push(line);
                }
                _ => panic!("kabao exited before listening; it printed: {banner:?}"),
            }
        };
        // Keep draining stdout so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines.by_ref() {});
        Server { child, url, banner, data }
    }
}

impl Server {
    /// Kills the server at once (SIGKILL on Unix): no shutdown, no flushing.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// What the server logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.data.path().join("server.log")).unwrap_or_default()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whether a test that needs `what` must fail instead of skipping when it is missing.
pub fn required(var: &str) -> bool {
    std::env::var(var).is_ok_and(|v| v == "1")
}

/// Finds a program on PATH or at the given absolute fallback.
pub fn find_program(name: &str, fallbacks: &[&str]) -> Option<PathBuf> {
    let from_path = std::env::var_os("PATH")
        .and_then(|paths| std::env::split_paths(&paths).map(|p| p.join(name)).find(|p| p.is_file()));
    from_path.or_else(|| fallbacks.iter().map(PathBuf::from).find(|p| p.is_file()))
}

/// A running chromedriver; killed on drop.
pub struct ChromeDriver {
    child: Child,
    pub url: String,
    pub chromium: PathBuf,
}

impl ChromeDriver {
    /// Starts chromedriver, or returns `None` (after saying so) when chromium or chromedriver is missing.
    pub fn start() -> Option<ChromeDriver> {
        let driver = find_program("chromedriver", &["/usr/bin/chromedriver"]);
        let chromium = find_program("chromium", &["/usr/bin/chromium"]);
        let (Some(driver), Some(chromium)) = (driver, chromium) else {
            if required("KABAO_REQUIRE_BROWSER") {
                panic!("KABAO_REQUIRE_BROWSER=1 but chromium/chromedriver are not installed (apt-get install chromium chromium-driver)");
            }
            eprintln!("skipped: chromium or chromedriver not installed (apt-get install chromium chromium-driver)");
            return None;
        };
        let port = free_port();
        let child = Command::new(driver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("starting chromedriver: {e}"));
        let url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not start listening on {port}");
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(ChromeDriver { child, url, chromium })
    }
}

impl Drop for ChromeDriver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("binding a free port: {e}"));
    l.local_addr().map(|a| a.port()).unwrap_or_else(|e| panic!("local addr: {e}"))
}

/// A fresh PostgreSQL database for one test, or `None` (after saying so) when no server is configured.
/// CI sets `KABAO_REQUIRE_POSTGRES=1`, which turns the skip into a failure.
pub struct PgDatabase {
    admin: sqlx::PgPool,
    name: String,
    pub url: String,
}

impl PgDatabase {
    pub async fn create() -> Option<PgDatabase> {
        let Some(admin_url) = std::env::var("KABAO_TEST_DATABASE_URL").ok().filter(|u| !u.is_empty()) else {
            assert!(
                !required("KABAO_REQUIRE_POSTGRES"),
                "KABAO_REQUIRE_POSTGRES=1 but KABAO_TEST_DATABASE_URL is not set"
            );
            eprintln!("skipped: KABAO_TEST_DATABASE_URL not set");
            return None;
        };
        let name = format!("kabao_e2e_{:016x}", rand::random::<u64>());
        let admin =
            sqlx::PgPool::connect(&admin_url).await.unwrap_or_else(|e| panic!("connecting to {admin_url}: {e}"));
        sqlx::query(&format!("CREATE DATABASE {name}")).execute(&admin).await.unwrap_or_else(|e| panic!("{e}"));
        let (base, _) = admin_url.rsplit_once('/').unwrap_or_else(|| panic!("URL without database: {admin_url}"));
        let url = format!("{base}/{name}");
        Some(PgDatabase { admin, name, url })
    }

    /// Takes the database away from its clients (`refuse`: no new connections, every open one terminated, as
    /// when the server restarts or an operator kills sessions) or gives it back.
    pub async fn refuse_connections(&self, refuse: bool) {
        let allow = if refuse { "false" } else { "true" };
        sqlx::query(&format!("ALTER DATABASE {} WITH ALLOW_CONNECTIONS {allow}", self.name))
            .execute(&self.admin)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        if refuse {
            sqlx::query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1")
                .bind(&self.name)
                .execute(&self.admin)
                .await
                .unwrap_or_else(|e| panic!("{e}"));
        }
    }

    /// Drops the database (best effort; .ci/run also sweeps leftovers).
    pub async fn drop_database(self) {
        let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name)).execute(&self.admin).await;
    }
}
