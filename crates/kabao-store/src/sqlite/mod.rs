//! The SQLite backend: the embedded default, one file in WAL mode, as durable as `synchronous=FULL`.
//! This file holds the connections, transactions and group commit; the queries are in one file per aggregate
//! beside it (`users.rs`, `claims.rs`, ...), each implementing that aggregate's trait for [`SqliteTx`].
//!
//! Statements run directly on the calling task through [`crate::lite`] (rusqlite): no thread hand-off per
//! statement. SQLite allows one writer, so write transactions take the one writer connection in turn (a fair
//! async mutex) and start with `BEGIN IMMEDIATE`. Reads use their own `query_only` connections.
//!
//! **Group commit.** A payment is acknowledged only after its transaction is durable, and the fsync is the
//! cost of each write transaction. When other write transactions are queued for the connection, a finished
//! transaction does not COMMIT: it releases its SAVEPOINT, leaves the physical transaction open for the next
//! one, and waits. A batch COMMITs once and every transaction in it hears the outcome together. So each caller
//! returns only after its own data is durable, and a failed COMMIT fails every transaction of the batch (none
//! of them was acknowledged). A transaction that fails or is dropped rolls back to its SAVEPOINT without
//! touching the others. Transactions of one batch run one after another on one connection, so each sees the
//! ones before it exactly as if they had committed.
//!
//! **Pipelined sync.** The fsync does not hold the writer: the writer connection runs with
//! `synchronous=NORMAL`, so its COMMIT only appends the batch's frames to the WAL, and the [`Syncer`] thread
//! then fdatasyncs the WAL file and only after that reports the outcome to the batch's transactions. While one
//! batch's sync runs, the next batch executes; a batch is committed before it is full when the syncer is idle
//! and the batch is big enough to be worth a COMMIT. Why this loses nothing that `synchronous=FULL` keeps:
//! - No write transaction is acknowledged before an fsync of the WAL that started after its COMMIT, which is
//!   exactly what FULL does inside COMMIT. WAL frames are checksummed in a chain from the file's header, so
//!   recovery keeps a prefix of the commits: a later batch never survives a crash without the earlier ones it
//!   read from.
//! - Keys reach a buyer only from write transactions (reveal, re-issue), whose acknowledgment waits for a sync
//!   that covers everything they read. A reader connection may see a batch a few milliseconds before it is
//!   durable, but no read-only page shows a buyer a key; so a crash can lose an allocation together with
//!   everything after it, never a key someone was shown.
//! - Checkpoints run on their own connection with FULL: the WAL is synced before pages are copied into the
//!   database file, and the database file before the WAL is reused (which SQLite also syncs under NORMAL).
//! - A failed fsync is not retried (Linux may drop the dirty pages and report success next time): the store
//!   stops, refusing every later transaction, and a restart recovers from what is on disk.

mod catalog;
mod claims;
mod email;
mod finance;
mod history;
mod idempotency;
mod insurance;
mod jobs;
mod keyring;
mod keys;
mod orders;
mod promotions;
mod reconcile;
mod refunds;
mod shops;
mod throttles;
mod trust;
mod users;
mod webhooks;

use crate::errors::{map_migrate, map_sqlx};
use crate::lite::{self, Conn, Error as LiteError};
use crate::{Backend, Store, StoreError, StoreResult, Tx, TxMode};
use async_trait::async_trait;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Mutex, OwnedMutexGuard};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

const READERS: usize = 4;
/// The writer's page cache, in KiB. Small on purpose: SQLite scans the whole page cache at the end of a
/// transaction whenever a B-tree page split renumbered pages (it parks a page at the lock-byte page number,
/// far beyond the end of the file), and inserts spread over the ledger and order indexes make such splits
/// frequent. With 64 MiB that scan was 5 % of all CPU in the checkout benchmark, all of it while holding
/// the writer (`perf`, `pcache1TruncateUnsafe`, and gdb on the cache's hash table: 16,384 buckets).
const WRITER_CACHE_KIB: i64 = 4_096;
/// The writer's page cache during a bulk key import, which checks and inserts fingerprints in random order
/// across the (shop, fingerprint) index (measured, 300,000 keys: 85-122k keys/s at 64 MiB, 91-93k at 2 MiB).
/// The next transaction shrinks it back.
const BULK_CACHE_KIB: i64 = 65_536;
/// Rows from which an import counts as bulk.
const BULK_ROWS: usize = 1_024;
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// At most how often committed WAL frames are copied back into the database file (measured: 20 ms gave a
/// steadier p99 than 100 ms or 1 s).
const CHECKPOINT_EVERY: Duration = Duration::from_millis(20);
/// A WAL file grown past this (by a burst) is truncated back after the next checkpoint that empties it.
const WAL_SIZE_LIMIT: i64 = 64 * 1024 * 1024;
/// Transactions that may share one COMMIT.
const MAX_BATCH: usize = 48;
/// With others queued, a batch is COMMITted before it is full only once it has this many transactions and
/// the syncer is idle. Each COMMIT has a fixed cost on the writer: the pages every transaction touches (the
/// ends of the order, event and ledger tables and their indexes, page 1) are written once per COMMIT, about
/// 25 of a batch's 46 frames. Measured (checkout bench, 64 clients, runs alternated on a host with an fsync
/// of 0.4 ms; MIN/MAX): 16/32 → 3,680–4,450/s, 24/48 → 4,030–4,640/s and better in each of four pairs,
/// 32/64 → 3,820–4,490/s, 8/32 → 3,650–3,750/s.
const MIN_BATCH: usize = 24;
/// A transaction waiting for its batch's COMMIT checks this often that somebody is still going to do it.
const BATCH_WAIT: Duration = Duration::from_millis(20);
/// Once the WAL holds this many frames (16 MiB at 4 KiB pages), the checkpointer makes the writer start it
/// over from the beginning of the file ([`Checkpointer`]).
const RESTART_FRAMES: i64 = 4096;
/// How long a WAL restart waits for readers of the WAL to finish before it gives up until next time.
const RESTART_PATIENCE: Duration = Duration::from_millis(10);

/// Where a committed transaction hears whether its batch became durable.
type Outcome = tokio::sync::oneshot::Sender<Result<(), String>>;

/// The writer connection and the batch of finished transactions waiting for its COMMIT.
struct Writer {
    conn: Conn,
    pending: Vec<Outcome>,
    /// Physical COMMITs so far: with group commit, fewer than committed transactions.
    commits: u64,
    /// The checkpoint thread, woken after each COMMIT.
    checkpointer: Option<std::thread::Thread>,
    /// Makes each COMMIT durable before its transactions hear of it.
    syncer: Arc<SyncQueue>,
    /// The page cache is at [`BULK_CACHE_KIB`] for an import.
    bulk_cache: bool,
}

impl Writer {
    /// Sets the page cache for a bulk import (`true`) or back to the everyday size.
    fn bulk_cache(&mut self, bulk: bool) -> StoreResult<()> {
        if self.bulk_cache != bulk {
            let kib = if bulk { BULK_CACHE_KIB } else { WRITER_CACHE_KIB };
            self.conn.batch(&format!("PRAGMA cache_size = -{kib}")).map_err(map_sqlx)?;
            self.bulk_cache = bulk;
        }
        Ok(())
    }
}

pub struct SqliteStore {
    path: PathBuf,
    writer: Arc<Mutex<Writer>>,
    /// Write transactions queued for the writer connection.
    waiting: Arc<AtomicUsize>,
    readers: Vec<Arc<Mutex<Conn>>>,
    next_reader: AtomicUsize,
    syncer: Syncer,
    /// Held for its Drop, which stops the checkpoint thread.
    _checkpointer: Checkpointer,
    /// Set for [`SqliteStore::open_in_memory`]: the scratch file to delete when the store is dropped.
    scratch: Option<PathBuf>,
}

/// What a connection is for.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    Writer,
    Reader,
    Checkpointer,
}

fn connect(path: &Path, role: Role) -> StoreResult<Conn> {
    use rusqlite::OpenFlags;
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = rusqlite::Connection::open_with_flags(path, flags).map_err(|e| map_sqlx(LiteError(e)))?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(|e| map_sqlx(LiteError(e)))?;
    conn.set_prepared_statement_cache_capacity(256);
    // FULL, except for the writer's COMMIT, whose sync the Syncer does before anyone is told (module docs):
    // with NORMAL alone a power loss can drop the last commits, and these are payments and keys already shown
    // to their buyers.
    let mut pragmas = String::from("PRAGMA journal_mode = WAL; PRAGMA foreign_keys = ON;");
    match role {
        // The writer's page cache is sized for checkouts and grown for imports ([`WRITER_CACHE_KIB`]). Statement and
        // savepoint journals in memory: every transaction of a batch runs in a SAVEPOINT, whose journal would
        // otherwise spill to a temporary file (measured: +20% checkouts/s). No automatic
        // checkpoints: copying the WAL into the database inside a COMMIT stalled every transaction of that batch
        // (the checkout benchmark's p99); the checkpointer thread does it instead.
        Role::Writer => pragmas.push_str(&format!(
            " PRAGMA synchronous = NORMAL; PRAGMA temp_store = MEMORY; PRAGMA cache_size = -{WRITER_CACHE_KIB}; \
             PRAGMA wal_autocheckpoint = 0; PRAGMA journal_size_limit = {WAL_SIZE_LIMIT};"
        )),
        // query_only makes an accidental write through a read transaction fail instead of racing the writer.
        Role::Reader => pragmas.push_str(" PRAGMA synchronous = FULL; PRAGMA query_only = ON;"),
        Role::Checkpointer => pragmas.push_str(" PRAGMA synchronous = FULL;"),
    }
    conn.execute_batch(&pragmas).map_err(|e| map_sqlx(LiteError(e)))?;
    if role == Role::Checkpointer {
        // A WAL restart waits for readers while the writer is held: briefly, and in short naps (SQLite's own
        // busy handler sleeps at least 1 ms at a time).
        conn.busy_handler(Some(restart_busy)).map_err(|e| map_sqlx(LiteError(e)))?;
    }
    Ok(Conn::new(conn))
}

impl SqliteStore {
    /// Opens (creating if needed) the database file at `path` and its parent directory.
    pub async fn open(path: &Path) -> StoreResult<SqliteStore> {
        SqliteStore::open_with(path, Box::new(WalFile::new(path)), RESTART_FRAMES).await
    }

    /// Opens the store with `sync` as the way each COMMIT is made durable (tests replace the fsync) and a WAL
    /// restart once it holds `restart_frames` frames.
    async fn open_with(path: &Path, sync: Box<dyn SyncWal>, restart_frames: i64) -> StoreResult<SqliteStore> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| StoreError::Database(format!("cannot create database directory: {e}")))?;
        }
        // The writer first: it creates the file and switches it to WAL before readers open it.
        let writer = connect(path, Role::Writer)?;
        let readers = (0..READERS)
            .map(|_| connect(path, Role::Reader).map(|c| Arc::new(Mutex::new(c))))
            .collect::<StoreResult<_>>()?;
        let syncer = Syncer::spawn(sync)?;
        let writer = Arc::new(Mutex::new(Writer {
            conn: writer,
            pending: Vec::new(),
            commits: 0,
            checkpointer: None,
            syncer: syncer.queue.clone(),
            bulk_cache: false,
        }));
        let db = std::fs::File::open(path)
            .map_err(|e| StoreError::Database(format!("cannot open the database file for syncing: {e}")))?;
        let checkpointer = Checkpointer::spawn(
            connect(path, Role::Checkpointer)?,
            db,
            writer.clone(),
            syncer.queue.clone(),
            restart_frames,
        )?;
        // Nothing else holds the writer yet (the checkpointer first waits for a COMMIT or a second).
        writer.try_lock().map_err(|_| StoreError::Database("writer busy while opening".into()))?.checkpointer =
            checkpointer.thread.as_ref().map(|t| t.thread().clone());
        Ok(SqliteStore {
            path: path.to_path_buf(),
            writer,
            waiting: Arc::new(AtomicUsize::new(0)),
            readers,
            next_reader: AtomicUsize::new(0),
            syncer,
            _checkpointer: checkpointer,
            scratch: None,
        })
    }

    /// A private, empty database for tests. It is a scratch file in the temp directory rather than a
    /// `:memory:` database, because only a file in WAL mode lets readers run beside the writer as in production.
    pub async fn open_in_memory() -> StoreResult<SqliteStore> {
        let path = scratch_path();
        SqliteStore::open_scratch(path.clone(), Box::new(WalFile::new(&path)), RESTART_FRAMES).await
    }

    /// A store on the scratch file `path`, deleted when the store is dropped.
    async fn open_scratch(path: PathBuf, sync: Box<dyn SyncWal>, restart_frames: i64) -> StoreResult<SqliteStore> {
        let mut store = SqliteStore::open_with(&path, sync, restart_frames).await?;
        store.scratch = Some(path);
        Ok(store)
    }

    async fn begin_read(&self) -> StoreResult<SqliteTx> {
        self.syncer.queue.check()?;
        let n = self.readers.len();
        let start = self.next_reader.fetch_add(1, Ordering::Relaxed);
        let idle = (0..n).find_map(|i| self.readers.get((start + i) % n).and_then(|r| r.clone().try_lock_owned().ok()));
        let mut conn = match idle {
            Some(c) => c,
            None => match self.readers.get(start % n) {
                Some(r) => r.clone().lock_owned().await,
                None => return Err(StoreError::Database("no reader connections".into())),
            },
        };
        conn.exec("BEGIN").map_err(map_sqlx)?;
        Ok(SqliteTx { tx: TxConn::Read(ReadTx { conn }) })
    }

    async fn begin_write(&self) -> StoreResult<SqliteTx> {
        self.syncer.queue.check()?;
        let mut w = {
            let _queued = Queued::enter(&self.waiting);
            self.writer.clone().lock_owned().await
        };
        // An open physical transaction means finished transactions are waiting for a COMMIT: join their batch.
        let savepoint = !w.conn.get().is_autocommit();
        w.bulk_cache(false)?;
        let begin = if savepoint { "SAVEPOINT kabao_tx" } else { "BEGIN IMMEDIATE" };
        w.conn.exec(begin).map_err(map_sqlx)?;
        Ok(SqliteTx {
            tx: TxConn::Write(WriteTx {
                guard: Some(w),
                savepoint,
                writer: self.writer.clone(),
                waiting: self.waiting.clone(),
            }),
        })
    }
}

/// Copies committed WAL frames back into the database file, off the commit path: a thread with its own
/// connection running a PASSIVE checkpoint (which never blocks the writer or readers) every
/// [`CHECKPOINT_EVERY`]. Stops when the store is dropped.
///
/// **WAL restart.** Checkpoints alone never shrink the WAL: SQLite starts writing it from the beginning again
/// only when a write transaction begins with every frame copied and no reader inside the WAL. Under steady
/// load that moment never comes (measured: the WAL grew to 2 GB in a 12 s checkout benchmark, and appending
/// to an ever-growing file took a fifth of the CPU in the filesystem). So once the WAL holds
/// `restart_frames` frames, the checkpointer takes the writer between transactions (COMMITting a batch that
/// waits for its COMMIT), and runs a RESTART checkpoint: it copies the last frames and waits briefly for the
/// readers still in the WAL (new ones read the database file). The writer's next transaction then writes the
/// WAL from its start, over blocks the file already has.
struct Checkpointer {
    stop: Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// The checkpointer's busy handler: up to [`RESTART_PATIENCE`] in 100 µs naps.
fn restart_busy(attempt: i32) -> bool {
    const NAP: Duration = Duration::from_micros(100);
    if NAP * u32::try_from(attempt).unwrap_or(u32::MAX) >= RESTART_PATIENCE {
        return false;
    }
    std::thread::sleep(NAP);
    true
}

/// Runs a checkpoint and returns the frames in the WAL. A checkpoint cut short by readers is not an error
/// (the next round goes on).
fn checkpoint(conn: &mut Conn, mode: &str) -> rusqlite::Result<i64> {
    conn.get().query_row(&format!("PRAGMA wal_checkpoint({mode})"), [], |r| r.get::<_, i64>(1))
}

impl Checkpointer {
    /// `db` is the database file, to sync before a restart; a failed sync stops the store through `syncer`.
    fn spawn(
        mut conn: Conn,
        db: std::fs::File,
        writer: Arc<Mutex<Writer>>,
        syncer: Arc<SyncQueue>,
        restart_frames: i64,
    ) -> StoreResult<Checkpointer> {
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stopped = stop.clone();
        let thread = std::thread::Builder::new()
            .name("kabao-checkpoint".into())
            .spawn(move || {
                // Woken by each COMMIT (or every second when idle), at most once per CHECKPOINT_EVERY: small,
                // steady checkpoints disturb commits less than big ones.
                while !stopped.load(Ordering::Relaxed) {
                    std::thread::park_timeout(Duration::from_secs(1));
                    match checkpoint(&mut conn, "PASSIVE") {
                        Ok(frames) if frames >= restart_frames => {
                            // SQLite syncs the database file only after a checkpoint that reached the end of the
                            // WAL, so the pages of every PASSIVE round since the last restart are still to be
                            // written. Writing them out now, before taking the writer, leaves the RESTART's own
                            // sync (with the writer held) only the last few (measured: the hold went from 3.0 to
                            // 2.3 ms at the median and from 5.5 to 3.4 ms at p90).
                            if let Err(e) = db.sync_data() {
                                // Linux may have dropped the unwritten pages: a later sync could succeed without
                                // them, and the restart would then discard their only copy in the WAL.
                                syncer.fail(format!("syncing the SQLite database file failed: {e}"));
                                return;
                            }
                            if let Err(e) = restart_wal(&mut conn, &writer) {
                                tracing::warn!(error = %e, "sqlite WAL restart failed; retrying");
                            }
                        }
                        Ok(_) => {}
                        Err(e) => tracing::warn!(error = %e, "sqlite checkpoint failed; retrying"),
                    }
                    std::thread::sleep(CHECKPOINT_EVERY);
                }
            })
            .map_err(|e| StoreError::Database(format!("cannot start the checkpoint thread: {e}")))?;
        Ok(Checkpointer { stop, thread: Some(thread) })
    }
}

/// Holds the writer between transactions and checkpoints so that its next transaction restarts the WAL.
fn restart_wal(conn: &mut Conn, writer: &Arc<Mutex<Writer>>) -> rusqlite::Result<()> {
    let mut w = writer.clone().blocking_lock_owned();
    finish_batch(&mut w);
    checkpoint(conn, "RESTART").map(|_| ())
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            t.thread().unpark();
            let _ = t.join();
        }
    }
}

/// A fresh scratch database path in the temp directory.
fn scratch_path() -> PathBuf {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    let name = format!("kabao-test-{}-{}-{}.db", std::process::id(), nanos, COUNTER.fetch_add(1, Ordering::Relaxed));
    std::env::temp_dir().join(name)
}

/// How the [`Syncer`] makes committed WAL frames durable: an fdatasync of the WAL file (tests substitute it).
trait SyncWal: Send {
    fn sync(&mut self) -> std::io::Result<()>;
}

/// The database's WAL file. SQLite keeps it (truncating, never deleting it) while any connection is open, and
/// takes no locks on it, so one handle opened at the first sync serves the store's life. That first sync also
/// syncs the directory, so the file's name survives a power loss as SQLite's own FULL sync would ensure.
struct WalFile {
    path: PathBuf,
    file: Option<std::fs::File>,
}

impl WalFile {
    fn new(database: &Path) -> WalFile {
        let mut path = database.as_os_str().to_owned();
        path.push("-wal");
        WalFile { path: PathBuf::from(path), file: None }
    }
}

impl SyncWal for WalFile {
    fn sync(&mut self) -> std::io::Result<()> {
        if let Some(f) = &self.file {
            return f.sync_data();
        }
        let f = match std::fs::OpenOptions::new().read(true).write(true).open(&self.path) {
            Ok(f) => f,
            // No WAL file yet: no frame was appended, so there is nothing to make durable.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e),
        };
        f.sync_data()?;
        #[cfg(unix)]
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::File::open(dir)?.sync_all()?;
        }
        self.file = Some(f);
        Ok(())
    }
}

/// COMMITted batches waiting for the WAL sync, shared by the writer and the [`Syncer`] thread.
struct SyncQueue {
    state: std::sync::Mutex<SyncState>,
    wake: std::sync::Condvar,
}

#[derive(Default)]
struct SyncState {
    /// Transactions whose COMMIT is done and whose sync has not started.
    waiting: Vec<Outcome>,
    /// Transactions whose sync is running (0: no sync is running).
    syncing: usize,
    /// Set by a failed sync, for good: nothing is acknowledged or begun after it.
    failed: Option<String>,
    stop: bool,
    /// Syncs done so far.
    syncs: u64,
}

impl SyncState {
    /// Marks the store failed for good and returns the transactions still waiting for a sync.
    fn fail(&mut self, e: &str) -> Vec<Outcome> {
        tracing::error!(error = %e, "the store stops: committed data may not be on disk");
        self.failed.get_or_insert_with(|| e.to_string());
        std::mem::take(&mut self.waiting)
    }
}

impl SyncQueue {
    fn lock(&self) -> std::sync::MutexGuard<'_, SyncState> {
        // Nothing panics while holding it; a poisoned lock still holds consistent state.
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Hands over a COMMITted batch: each of its transactions hears once a sync started after now is done.
    fn submit(&self, batch: Vec<Outcome>) {
        let mut s = self.lock();
        if let Some(e) = &s.failed {
            let e = e.clone();
            drop(s);
            for o in batch {
                let _ = o.send(Err(e.clone()));
            }
            return;
        }
        s.waiting.extend(batch);
        drop(s);
        self.wake.notify_one();
    }

    /// No sync is running or waiting to run: a COMMIT now would be synced at once.
    fn idle(&self) -> bool {
        let s = self.lock();
        s.syncing == 0 && s.waiting.is_empty()
    }

    /// Stops the store after a failed sync outside the syncer; whoever waits for a sync hears of it.
    fn fail(&self, e: String) {
        let late = self.lock().fail(&e);
        for o in late {
            let _ = o.send(Err(e.clone()));
        }
    }

    /// Refuses new transactions once a sync has failed.
    fn check(&self) -> StoreResult<()> {
        match &self.lock().failed {
            Some(e) => Err(StoreError::Database(format!("{e}; the database is stopped until kabao restarts"))),
            None => Ok(()),
        }
    }
}

/// The thread that fdatasyncs the WAL after COMMITs and then tells their transactions, while the writer goes
/// on with the next batch (module docs). Each sync covers every COMMIT handed over before it started.
struct Syncer {
    queue: Arc<SyncQueue>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Syncer {
    fn spawn(mut wal: Box<dyn SyncWal>) -> StoreResult<Syncer> {
        let queue =
            Arc::new(SyncQueue { state: std::sync::Mutex::new(SyncState::default()), wake: Default::default() });
        let q = queue.clone();
        let thread = std::thread::Builder::new()
            .name("kabao-wal-sync".into())
            .spawn(move || loop {
                let batch = {
                    let mut s = q.lock();
                    while s.waiting.is_empty() && !s.stop {
                        s = q.wake.wait(s).unwrap_or_else(std::sync::PoisonError::into_inner);
                    }
                    if s.waiting.is_empty() {
                        return; // stopped, and nobody is waiting
                    }
                    s.syncing = s.waiting.len();
                    std::mem::take(&mut s.waiting)
                };
                let outcome = wal.sync().map_err(|e| format!("syncing the SQLite WAL to disk failed: {e}"));
                let late = {
                    let mut s = q.lock();
                    s.syncing = 0;
                    s.syncs += 1;
                    match &outcome {
                        // Committed during the failed sync: not durable either.
                        Err(e) => s.fail(e),
                        Ok(()) => Vec::new(),
                    }
                };
                for o in batch.into_iter().chain(late) {
                    let _ = o.send(outcome.clone());
                }
            })
            .map_err(|e| StoreError::Database(format!("cannot start the WAL sync thread: {e}")))?;
        Ok(Syncer { queue, thread: Some(thread) })
    }
}

impl Drop for Syncer {
    fn drop(&mut self) {
        self.queue.lock().stop = true;
        self.queue.wake.notify_one();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Counts a task queued for the writer for as long as it waits (also when the wait is cancelled).
struct Queued(Arc<AtomicUsize>);

impl Queued {
    fn enter(n: &Arc<AtomicUsize>) -> Queued {
        n.fetch_add(1, Ordering::SeqCst);
        Queued(n.clone())
    }
}

impl Drop for Queued {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Drop for SqliteStore {
    fn drop(&mut self) {
        if let Some(path) = &self.scratch {
            for suffix in ["", "-wal", "-shm"] {
                let mut p = path.clone().into_os_string();
                p.push(suffix);
                // Best effort: a leftover scratch file in /tmp is harmless.
                let _ = std::fs::remove_file(p);
            }
        }
    }
}

#[async_trait]
impl Store for SqliteStore {
    fn backend(&self) -> Backend {
        Backend::Sqlite
    }

    /// Migrations run through sqlx's migrator (its bookkeeping table, checksums and locking) on a connection of
    /// their own; the store's connections see the new schema at their next statement.
    async fn migrate(&self) -> StoreResult<()> {
        let options = SqliteConnectOptions::new()
            .filename(&self.path)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(BUSY_TIMEOUT)
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new().max_connections(1).connect_with(options).await.map_err(map_sqlx)?;
        let result = MIGRATOR.run(&pool).await.map_err(map_migrate);
        pool.close().await;
        result
    }

    async fn begin(&self, mode: TxMode) -> StoreResult<Box<dyn Tx>> {
        Ok(Box::new(match mode {
            TxMode::Write => self.begin_write().await?,
            TxMode::Read | TxMode::Lookup => self.begin_read().await?,
        }))
    }

    async fn ping(&self) -> StoreResult<()> {
        let mut tx = self.begin_read().await?;
        lite::query_scalar::<i64>("SELECT 1").fetch_one(&mut tx.tx).await.map_err(map_sqlx)?;
        Ok(())
    }

    async fn analyze(&self) -> StoreResult<()> {
        Ok(())
    }

    async fn close(&self) {
        // Wait for a batch in progress to commit; connections close when the store is dropped.
        let w = self.writer.lock().await;
        drop(w);
    }
}

/// A read transaction on one of the reader connections.
struct ReadTx {
    conn: OwnedMutexGuard<Conn>,
}

impl Drop for ReadTx {
    fn drop(&mut self) {
        // Ends the snapshot; a read transaction has nothing to keep.
        let _ = self.conn.exec("ROLLBACK");
    }
}

/// A write transaction: the writer connection, inside a physical transaction (first of a batch) or a SAVEPOINT.
struct WriteTx {
    /// `None` once committed or rolled back.
    guard: Option<OwnedMutexGuard<Writer>>,
    savepoint: bool,
    writer: Arc<Mutex<Writer>>,
    waiting: Arc<AtomicUsize>,
}

/// Tells every transaction waiting for this batch's COMMIT how it went.
fn report(w: &mut Writer, outcome: &Result<(), String>) {
    for p in w.pending.drain(..) {
        let _ = p.send(outcome.clone());
    }
}

/// COMMITs the open batch and hands it to the syncer, or reports a failed COMMIT to everyone in it. It runs
/// on the calling task: with the writer at `synchronous=NORMAL` a COMMIT only appends the batch's frames to
/// the WAL, and a blocking-pool hand-off here kept the writer locked while a thread got scheduled (measured:
/// 1.5 ms at a time on 2 busy cores). It has no await point, so a cancelled caller cannot leave the batch
/// committed but unreported.
fn commit_batch(w: &mut Writer) {
    w.commits += 1;
    match w.conn.exec("COMMIT") {
        Ok(()) => {
            let batch = std::mem::take(&mut w.pending);
            w.syncer.submit(batch);
            if let Some(t) = &w.checkpointer {
                t.unpark();
            }
        }
        Err(e) => {
            let _ = w.conn.batch("ROLLBACK");
            report(w, &Err(e.to_string()));
        }
    }
}

/// With the writer held between transactions: COMMITs the batch waiting for its COMMIT, if there is one.
fn finish_batch(w: &mut Writer) {
    if w.pending.is_empty() {
        return;
    }
    if w.conn.get().is_autocommit() {
        // No transaction is open, yet commits wait: SQLite rolled the batch back on its own.
        report(w, &Err("the batch was rolled back".to_string()));
    } else {
        commit_batch(w);
    }
}

impl WriteTx {
    async fn commit(&mut self) -> StoreResult<()> {
        let Some(mut w) = self.guard.take() else {
            return Err(StoreError::Database("transaction already finished".into()));
        };
        if self.savepoint {
            if let Err(e) = w.conn.exec("RELEASE kabao_tx") {
                self.guard = Some(w); // Drop rolls the savepoint back
                return Err(map_sqlx(e));
            }
            if w.conn.get().is_autocommit() {
                // Cannot happen while a batch is open, but if SQLite ended the transaction, nothing is durable.
                let outcome = Err("the batch's transaction ended before COMMIT".to_string());
                report(&mut w, &outcome);
                return Err(StoreError::Database("group commit lost its transaction".into()));
            }
        }
        let (tx, mut rx) = tokio::sync::oneshot::channel();
        w.pending.push(tx);
        // COMMIT now when nobody else is queued, when the batch is full, or when the disk is idle and the batch
        // big enough to be worth a COMMIT; otherwise leave it to a later transaction of the batch.
        let worth = w.pending.len() >= MIN_BATCH && w.syncer.idle();
        if self.waiting.load(Ordering::SeqCst) == 0 || w.pending.len() >= MAX_BATCH || worth {
            commit_batch(&mut w);
        }
        drop(w);
        let heard = |outcome: Result<Result<(), String>, _>| match outcome {
            Ok(outcome) => outcome.map_err(StoreError::Database),
            Err(_) => Err(StoreError::Database("group commit abandoned".into())),
        };
        loop {
            if let Ok(outcome) = tokio::time::timeout(BATCH_WAIT, &mut rx).await {
                return heard(outcome);
            }
            // Whoever was queued may have given up (a cancelled request): commit the batch ourselves, unless
            // the outcome arrives first (a slow sync, with the batch long committed).
            tokio::select! {
                outcome = &mut rx => return heard(outcome),
                mut w = self.writer.clone().lock_owned() => finish_batch(&mut w),
            }
        }
    }
}

impl Drop for WriteTx {
    fn drop(&mut self) {
        let Some(mut w) = self.guard.take() else { return };
        if !self.savepoint {
            // The batch's first transaction: nothing else is in it yet.
            let _ = w.conn.batch("ROLLBACK");
            return;
        }
        if w.conn.batch("ROLLBACK TO kabao_tx; RELEASE kabao_tx").is_err() {
            // SQLite ended the whole transaction (e.g. a full disk): the batch is lost, and none of it was
            // acknowledged. Everyone waiting hears so.
            let _ = w.conn.batch("ROLLBACK");
            report(&mut w, &Err("the batch was rolled back".to_string()));
        }
    }
}

enum TxConn {
    Read(ReadTx),
    Write(WriteTx),
}

impl std::ops::Deref for TxConn {
    type Target = Conn;
    fn deref(&self) -> &Conn {
        match self {
            TxConn::Read(r) => &r.conn,
            TxConn::Write(WriteTx { guard: Some(g), .. }) => &g.conn,
            // Only `commit` and `drop` take the guard, and nothing runs a statement after either.
            TxConn::Write(WriteTx { guard: None, .. }) => unreachable!("statement on a finished transaction"),
        }
    }
}

impl std::ops::DerefMut for TxConn {
    fn deref_mut(&mut self) -> &mut Conn {
        match self {
            TxConn::Read(r) => &mut r.conn,
            TxConn::Write(WriteTx { guard: Some(g), .. }) => &mut g.conn,
            TxConn::Write(WriteTx { guard: None, .. }) => unreachable!("statement on a finished transaction"),
        }
    }
}

pub struct SqliteTx {
    tx: TxConn,
}

impl SqliteTx {
    /// A bulk import reads and writes the (shop, fingerprint) index at random: give it the big page cache.
    fn bulk(&mut self, rows: usize) -> StoreResult<()> {
        match &mut self.tx {
            TxConn::Write(WriteTx { guard: Some(w), .. }) if rows >= BULK_ROWS => w.bulk_cache(true),
            _ => Ok(()),
        }
    }
}

#[async_trait]
impl Tx for SqliteTx {
    async fn commit(mut self: Box<Self>) -> StoreResult<()> {
        match &mut self.tx {
            TxConn::Read(_) => Ok(()),
            TxConn::Write(w) => w.commit().await,
        }
    }
}

impl SqliteStore {
    /// Physical COMMITs so far, for tests.
    pub async fn commits(&self) -> u64 {
        self.writer.lock().await.commits
    }

    /// WAL syncs so far, for tests.
    pub fn syncs(&self) -> u64 {
        self.syncer.queue.lock().syncs
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::KeysTx;

    fn user(name: &str) -> crate::NewUser {
        crate::NewUser {
            username: name.into(),
            email: None,
            password_hash: "h".into(),
            role: kabao_core::user::Role::Buyer,
            created_at: kabao_core::Timestamp(0),
        }
    }

    /// A WAL sync that waits until the test opens the gate (each sync checks it anew).
    #[derive(Clone, Default)]
    struct Gate(Arc<(std::sync::Mutex<bool>, std::sync::Condvar)>);

    impl Gate {
        fn open(&self) {
            *self.0 .0.lock().unwrap() = true;
            self.0 .1.notify_all();
        }
    }

    impl SyncWal for Gate {
        fn sync(&mut self) -> std::io::Result<()> {
            let mut open = self.0 .0.lock().unwrap();
            while !*open {
                open = self.0 .1.wait(open).unwrap();
            }
            Ok(())
        }
    }

    async fn scratch_store(sync: Box<dyn SyncWal>) -> Arc<SqliteStore> {
        scratch_store_restarting_at(sync, RESTART_FRAMES).await
    }

    async fn scratch_store_restarting_at(sync: Box<dyn SyncWal>, restart_frames: i64) -> Arc<SqliteStore> {
        let store = SqliteStore::open_scratch(scratch_path(), sync, restart_frames).await.unwrap();
        store.migrate().await.unwrap();
        Arc::new(store)
    }

    /// A bulk import runs with the big page cache and the next transaction with the everyday one again: with a
    /// big cache, every COMMIT after a page split scans it all ([`WRITER_CACHE_KIB`]). A small import stays small.
    #[tokio::test]
    async fn only_a_bulk_import_gets_the_big_page_cache() {
        let store = Arc::new(SqliteStore::open_in_memory().await.unwrap());
        store.migrate().await.unwrap();
        let f = crate::conformance::merchant_with_product(&*store, "bulk").await;
        let cache_kib = |tx: &mut SqliteTx| -> i64 {
            -tx.tx.get().query_row("PRAGMA cache_size", [], |r| r.get::<_, i64>(0)).unwrap()
        };
        let mut seed = 0;
        let mut import = |n: u64| {
            seed += 1;
            let store = store.clone();
            async move {
                let mut tx = store.begin_write().await.unwrap();
                let batch = tx
                    .insert_batch(&crate::NewBatch {
                        shop_id: f.shop,
                        product_id: f.product,
                        created_by: f.owner,
                        created_at: kabao_core::Timestamp(0),
                        source: "upload".into(),
                    })
                    .await
                    .unwrap();
                let keys = crate::conformance::fake_keys(f.shop, f.product, batch, seed, n);
                tx.existing_fingerprints(f.shop, &keys.iter().map(|k| k.fingerprint).collect::<Vec<_>>())
                    .await
                    .unwrap();
                tx.insert_card_keys(&keys).await.unwrap();
                tx
            }
        };

        let mut tx = import(10).await;
        assert_eq!(cache_kib(&mut tx), WRITER_CACHE_KIB, "a handful of keys is no bulk import");
        Box::new(tx).commit().await.unwrap();

        let mut tx = import(BULK_ROWS as u64).await;
        assert_eq!(cache_kib(&mut tx), BULK_CACHE_KIB);
        Box::new(tx).commit().await.unwrap();
        let mut tx = store.begin_write().await.unwrap();
        assert_eq!(cache_kib(&mut tx), WRITER_CACHE_KIB, "the next transaction shrinks it back");
        drop(tx);

        // Also after an import that failed and rolled back.
        let tx = import(BULK_ROWS as u64).await;
        drop(tx);
        let mut tx = store.begin_write().await.unwrap();
        assert_eq!(cache_kib(&mut tx), WRITER_CACHE_KIB);
    }

    /// Transactions queued behind an open one share a COMMIT and a WAL sync; none returns before the sync that
    /// covers it is done (while the first sync hangs, the next batch is COMMITted but nobody hears of it); one
    /// that is dropped midway takes only its own work with it; every commit returns after the data is visible.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn queued_transactions_share_one_commit_and_wait_for_the_sync() {
        let gate = Gate::default();
        let store = scratch_store(Box::new(gate.clone())).await;
        let (commits, syncs) = (store.commits().await, store.syncs());
        // The migrations ran on their own connection: the writer's first batch is this test's.
        let mut first = store.begin(TxMode::Write).await.unwrap();
        first.insert_user(&user("first")).await.unwrap();
        let mut tasks = Vec::new();
        for i in 0..20 {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                let mut tx = store.begin(TxMode::Write).await.unwrap();
                tx.insert_user(&user(&format!("u{i}"))).await.unwrap();
                if i % 5 == 0 {
                    drop(tx); // rolled back: only this one's user disappears
                    return false;
                }
                tx.commit().await.unwrap();
                let mut read = store.begin(TxMode::Read).await.unwrap();
                assert!(read.user_by_username(&format!("u{i}")).await.unwrap().is_some(), "committed means visible");
                true
            }));
        }
        while store.waiting.load(Ordering::SeqCst) < 20 {
            tokio::task::yield_now().await;
        }
        let first = tokio::spawn(async move { first.commit().await });
        // The first sync hangs at the gate; all 17 transactions COMMIT and wait for a sync.
        while {
            let q = store.syncer.queue.lock();
            q.waiting.len() + q.syncing < 17
        } {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        assert!(!first.is_finished(), "a commit returned before its sync");
        for (i, t) in tasks.iter().enumerate() {
            assert!(i % 5 == 0 || !t.is_finished(), "u{i} returned before its sync");
        }
        gate.open();
        first.await.unwrap().unwrap();
        for t in tasks {
            t.await.unwrap();
        }
        let mut read = store.begin(TxMode::Read).await.unwrap();
        for i in 0..20 {
            let found = read.user_by_username(&format!("u{i}")).await.unwrap().is_some();
            assert_eq!(found, i % 5 != 0, "u{i}");
        }
        assert!(read.user_by_username("first").await.unwrap().is_some());
        drop(read);
        let (commits, syncs) = (store.commits().await - commits, store.syncs() - syncs);
        assert!(commits < 5 && syncs <= commits, "17 transactions: {commits} COMMITs, {syncs} syncs");
    }

    /// A failed WAL sync fails the transactions it covered and stops the store: data that may not be on disk
    /// is never acknowledged, read or built upon.
    #[tokio::test]
    async fn a_failed_sync_fails_its_commits_and_stops_the_store() {
        struct Broken;
        impl SyncWal for Broken {
            fn sync(&mut self) -> std::io::Result<()> {
                Err(std::io::Error::other("injected EIO"))
            }
        }
        let store = scratch_store(Box::new(Broken)).await;
        let mut tx = store.begin(TxMode::Write).await.unwrap();
        tx.insert_user(&user("lost")).await.unwrap();
        let err = tx.commit().await.unwrap_err();
        assert!(matches!(&err, StoreError::Database(m) if m.contains("injected EIO")), "{err:?}");
        for mode in [TxMode::Write, TxMode::Read] {
            let err = store.begin(mode).await.err().expect("a stopped store begins nothing");
            assert!(matches!(&err, StoreError::Database(m) if m.contains("restart")), "{err:?}");
        }
    }

    /// A failed statement inside a batch is that transaction's error only.
    #[tokio::test]
    async fn a_conflict_in_a_batch_fails_only_its_transaction() {
        let store = SqliteStore::open_in_memory().await.unwrap();
        store.migrate().await.unwrap();
        let mut tx = store.begin(TxMode::Write).await.unwrap();
        tx.insert_user(&user("dup")).await.unwrap();
        assert!(matches!(tx.insert_user(&user("dup")).await, Err(StoreError::Conflict("users.username"))));
        tx.insert_user(&user("other")).await.unwrap();
        tx.commit().await.unwrap();
        let mut read = store.begin(TxMode::Read).await.unwrap();
        assert!(read.user_by_username("other").await.unwrap().is_some());
    }
    use kabao_core::UserId;

    /// Text the domain does not know is reported as corruption, never a panic.
    #[tokio::test]
    async fn unknown_enum_text_reads_as_corrupt() {
        let store = SqliteStore::open_in_memory().await.unwrap();
        store.migrate().await.unwrap();
        let mut w = store.writer.lock().await;
        w.conn
            .batch("INSERT INTO users (username, password_hash, role, created_at) VALUES ('x', 'h', 'wizard', 0)")
            .unwrap();
        drop(w);
        let mut tx = store.begin(TxMode::Read).await.unwrap();
        let err = tx.user_by_id(UserId(1)).await.unwrap_err();
        assert!(matches!(&err, StoreError::Database(m) if m.contains("corrupt users.role")), "{err:?}");
    }

    /// Under back-to-back commits, with readers always inside the WAL, the WAL still starts over from the
    /// beginning of its file instead of growing with every commit (it did: to 2 GB in a 12 s benchmark).
    /// SQLite counts restarts in the WAL header's checkpoint sequence number, so the test reads it there rather
    /// than timing anything.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_wal_starts_over_under_steady_load() {
        struct NoSync;
        impl SyncWal for NoSync {
            fn sync(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let store = scratch_store_restarting_at(Box::new(NoSync), 64).await;
        let mut wal = store.path.clone().into_os_string();
        wal.push("-wal");
        let restarts = || {
            use std::io::Read;
            let mut header = [0u8; 16];
            match std::fs::File::open(&wal).and_then(|mut f| f.read_exact(&mut header)) {
                Ok(()) => u32::from_be_bytes([header[12], header[13], header[14], header[15]]),
                Err(_) => 0, // no WAL header written yet
            }
        };
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let mut readers = Vec::new();
        for _ in 0..2 {
            let (store, stop) = (store.clone(), stop.clone());
            readers.push(tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    let mut read = store.begin(TxMode::Read).await.unwrap();
                    read.user_by_username("w0").await.unwrap();
                    tokio::time::sleep(Duration::from_micros(500)).await;
                }
            }));
        }
        // Four writers keep a batch always open: the writer never begins on a fully checkpointed WAL by itself.
        let commits = Arc::new(AtomicUsize::new(0));
        let mut writers = Vec::new();
        for w in 0..4 {
            let (store, stop, commits) = (store.clone(), stop.clone(), commits.clone());
            writers.push(tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    let n = commits.fetch_add(1, Ordering::Relaxed);
                    let mut tx = store.begin(TxMode::Write).await.unwrap();
                    tx.insert_user(&user(&format!("w{w}-{n}"))).await.unwrap();
                    tx.commit().await.unwrap();
                }
            }));
        }
        let before = restarts();
        // Without restarts, 40,000 commits would leave a WAL of over 100 MB.
        while restarts() < before + 3 && commits.load(Ordering::Relaxed) < 40_000 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let restarted = restarts() - before;
        stop.store(true, Ordering::Relaxed);
        for t in readers.into_iter().chain(writers) {
            t.await.unwrap();
        }
        let commits = commits.load(Ordering::Relaxed);
        assert!(restarted >= 3, "{commits} commits and the WAL started over {restarted} times");
    }

    /// Without a WAL file nothing was appended, so there is nothing to sync (and no reason to stop the store).
    #[test]
    fn no_wal_file_is_nothing_to_sync() {
        assert!(WalFile::new(&scratch_path()).sync().is_ok());
    }

    /// The jobs' due-order queries (same shape as in `jobs.rs`) read the partial indexes, not every order.
    #[tokio::test]
    async fn due_order_queries_use_the_partial_indexes() {
        let store = SqliteStore::open_in_memory().await.unwrap();
        store.migrate().await.unwrap();
        let mut w = store.writer.lock().await;
        for (due, index) in [
            ("state = 'delivered' AND settle_after <= 1 ORDER BY settle_after, id", "orders_settle_due_idx"),
            ("state = 'pending_payment' AND expires_at <= 1 ORDER BY expires_at, id", "orders_expiry_due_idx"),
            ("state = 'paid' AND delivery_deadline <= 1 ORDER BY delivery_deadline, id", "orders_delivery_due_idx"),
        ] {
            let sql = format!("EXPLAIN QUERY PLAN SELECT id FROM orders WHERE {due} LIMIT 100");
            let mut stmt = w.conn.get().prepare(&sql).unwrap();
            let plan: Vec<String> =
                stmt.query_map([], |r| r.get::<_, String>(3)).unwrap().collect::<Result<_, _>>().unwrap();
            assert!(plan.iter().any(|d| d.contains(index)), "{due}: {plan:?}");
        }
    }

    /// Lists and checks that once sorted or walked a shop's whole history (same shapes as in orders.rs, claims.rs
    /// and keys.rs, with the key page's batches) read their own index in the order they return, without sorting
    /// every row.
    #[tokio::test]
    async fn history_lists_walk_their_index_instead_of_sorting_the_shops_record() {
        let store = SqliteStore::open_in_memory().await.unwrap();
        store.migrate().await.unwrap();
        let mut w = store.writer.lock().await;
        for (sql, index) in [
            (
                "SELECT id FROM orders WHERE buyer_id = 1 AND shop_id = 2 ORDER BY id DESC LIMIT 1",
                "orders_buyer_shop_idx",
            ),
            ("SELECT id FROM claims WHERE shop_id = 1 ORDER BY id DESC LIMIT 50", "claims_shop_id_idx"),
            (
                "SELECT id FROM card_keys k WHERE k.product_id = 1 ORDER BY k.id ASC LIMIT 50",
                "card_keys_product_id_idx",
            ),
            (
                "SELECT id FROM card_keys k WHERE k.product_id = 1 AND k.state = 'sold' ORDER BY k.id ASC LIMIT 50",
                "card_keys_product_state_idx",
            ),
            (
                "SELECT b.id, b.keys_available FROM key_batches b WHERE b.product_id = 1 AND b.id < 99 \
                 ORDER BY b.id DESC LIMIT 21",
                "key_batches_product_id_idx",
            ),
        ] {
            let mut stmt = w.conn.get().prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
            let plan: Vec<String> =
                stmt.query_map([], |r| r.get::<_, String>(3)).unwrap().collect::<Result<_, _>>().unwrap();
            assert!(plan.iter().any(|d| d.contains(index)), "{sql}: {plan:?}");
            assert!(!plan.iter().any(|d| d.contains("TEMP B-TREE")), "sorts every row: {sql}: {plan:?}");
        }
    }

    /// Catalog pages whose cost must not grow with the catalog walk an index in the page's own order: no plan
    /// sorts every listing or every match (a temporary b-tree for ORDER BY), none scans the products table.
    /// (Relevance's window and a rare search's few matches are sorted, at most a bounded number of rows.)
    #[tokio::test]
    async fn catalog_listing_plans_walk_an_index_instead_of_sorting_every_match() {
        use crate::catalog_sql::{listing_sql, Dialect, CANDIDATES};
        use kabao_core::search::{Cursor, ListingSort, SearchTerms};
        let store = SqliteStore::open_in_memory().await.unwrap();
        store.migrate().await.unwrap();
        let mut w = store.writer.lock().await;
        for sort in ListingSort::ALL {
            for q in ["", "点卡", "一卡通 月卡"] {
                let terms = SearchTerms::parse(q).unwrap();
                // Past relevance's window, a search walks the matches newest first.
                let key = if sort == ListingSort::Relevance && terms.is_some() { -1 } else { 40 };
                for after in [None, Some(Cursor { key, id: 90 })] {
                    if sort == ListingSort::Relevance && terms.is_some() && after.is_none() {
                        continue;
                    }
                    let query = crate::ListingQuery { terms: terms.clone(), category: None, sort, after, limit: 25 };
                    let (sql, _) = listing_sql(&query, Dialect::Sqlite, Some(CANDIDATES));
                    let mut stmt = w.conn.get().prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
                    // Plans do not depend on the values: every parameter is NULL.
                    let nulls = vec![rusqlite::types::Null; stmt.parameter_count()];
                    let plan: Vec<String> = stmt
                        .query_map(rusqlite::params_from_iter(nulls), |r| r.get::<_, String>(3))
                        .unwrap()
                        .collect::<Result<_, _>>()
                        .unwrap();
                    let shape = format!("{sort:?} {q:?} {after:?}: {plan:?}");
                    assert!(!plan.iter().any(|d| d.contains("TEMP B-TREE")), "sorts every row: {shape}");
                    assert!(
                        !plan.iter().any(|d| d == "SCAN p" || d == "SCAN products"),
                        "reads every product: {shape}"
                    );
                }
            }
        }
    }

    #[tokio::test]
    async fn read_transactions_cannot_write() {
        let store = SqliteStore::open_in_memory().await.unwrap();
        store.migrate().await.unwrap();
        let mut tx = store.begin(TxMode::Read).await.unwrap();
        let user = crate::NewUser {
            username: "x".into(),
            email: None,
            password_hash: "h".into(),
            role: kabao_core::user::Role::Buyer,
            created_at: kabao_core::Timestamp(0),
        };
        assert!(matches!(tx.insert_user(&user).await, Err(StoreError::Database(_))));
    }

    #[tokio::test]
    async fn open_creates_parent_directory_and_file() {
        let dir = std::env::temp_dir().join(format!("kabao-open-{}", std::process::id()));
        let path = dir.join("nested").join("kabao.db");
        let store = SqliteStore::open(&path).await.unwrap();
        store.migrate().await.unwrap();
        let mut w = store.writer.lock().await;
        let mode: String = lite::query_scalar("PRAGMA journal_mode").fetch_one(&mut w.conn).await.unwrap();
        let sync: i64 = lite::query_scalar("PRAGMA synchronous").fetch_one(&mut w.conn).await.unwrap();
        let fk: i64 = lite::query_scalar("PRAGMA foreign_keys").fetch_one(&mut w.conn).await.unwrap();
        drop(w);
        // NORMAL on the writer: its COMMITs are synced by the Syncer before anyone hears of them.
        assert_eq!((mode.as_str(), sync, fk), ("wal", 1, 1));
        let mut tx = store.begin(TxMode::Write).await.unwrap();
        tx.insert_user(&user("synced")).await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(store.syncs(), 1, "the COMMIT went through the WAL file's sync");
        store.close().await;
        assert!(path.exists());
        let _ = std::fs::remove_dir_all(dir);
    }
}
