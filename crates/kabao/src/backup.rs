//! `kabao backup --to FILE` and `kabao restore FILE` for the embedded SQLite database.
//!
//! The backup is ONE SQLite database file: everything Kabao keeps lives in the database, claim evidence included
//! (table `evidence_files`), so that file is the whole shop. The master key is deliberately not in it: it
//! decrypts every card key, and is kept (and backed up) apart from the data. PostgreSQL is backed up with its
//! own tools (`pg_dump -Fc`, `pg_restore`): see docs/OPERATIONS.md.
//!
//! Consistency while the shop serves: `VACUUM INTO` runs inside one read transaction of a separate read-only
//! connection, so the copy is the database as of one instant (WAL mode: the shop's writers are not blocked
//! and no half-written transaction gets in). The copy is written to a temporary name beside FILE, checked
//! (`PRAGMA integrity_check`), synced, and then linked to FILE, which fails if FILE exists: nothing is ever
//! overwritten, and FILE never exists half-written.

use anyhow::{bail, Context};
use rusqlite::{Connection, OpenFlags};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// What a backup wrote.
pub struct BackupReport {
    pub bytes: u64,
    pub orders: i64,
    pub evidence_files: i64,
}

/// Copies the database at `db` into `to` (which must not exist).
pub fn backup(db: &Path, to: &Path) -> anyhow::Result<BackupReport> {
    if !db.is_file() {
        bail!("no SQLite database at {} (is --data-dir right?)", db.display());
    }
    if to.exists() || to.symlink_metadata().is_ok() {
        bail!("{} already exists: a backup never overwrites; choose a new name", to.display());
    }
    let dir = match to.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if !dir.is_dir() {
        bail!("{}: the directory does not exist", dir.display());
    }
    let name = to.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "backup".into());
    let tmp = dir.join(format!(".{name}.partial-{}", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    let result = write_copy(db, &tmp).and_then(|report| {
        std::fs::hard_link(&tmp, to).with_context(|| {
            format!("{}: cannot create it (it may have appeared meanwhile; a backup never overwrites)", to.display())
        })?;
        Ok(report)
    });
    let _ = std::fs::remove_file(&tmp);
    if let Ok(d) = std::fs::File::open(&dir) {
        let _ = d.sync_all();
    }
    result
}

fn write_copy(db: &Path, tmp: &Path) -> anyhow::Result<BackupReport> {
    let source = Connection::open_with_flags(db, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)
        .with_context(|| format!("opening {}", db.display()))?;
    // Under load the shop's checkpoints may hold a lock for a moment.
    source.busy_timeout(Duration::from_secs(30))?;
    let tmp_text = tmp.to_str().with_context(|| format!("{}: the path is not UTF-8", tmp.display()))?;
    source.execute("VACUUM INTO ?1", [tmp_text]).with_context(|| format!("copying {} (VACUUM INTO)", db.display()))?;
    drop(source);
    // A self-contained file: rollback-journal mode, so reading it later needs no -wal/-shm beside it.
    let copy = Connection::open(tmp).with_context(|| format!("opening {}", tmp.display()))?;
    let mode: String = copy
        .query_row("PRAGMA journal_mode=DELETE", [], |r| r.get(0))
        .with_context(|| format!("{}: setting the journal mode", tmp.display()))?;
    drop(copy);
    if mode != "delete" {
        bail!("{}: the copy stayed in journal mode {mode}", tmp.display());
    }
    let report = check(tmp)?;
    std::fs::File::open(tmp).and_then(|f| f.sync_all()).with_context(|| format!("syncing {}", tmp.display()))?;
    Ok(report)
}

/// Opens a database file read-only and checks it: `PRAGMA integrity_check` says ok, and it is Kabao's.
fn check(file: &Path) -> anyhow::Result<BackupReport> {
    let conn = Connection::open_with_flags(file, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)
        .with_context(|| format!("opening {}", file.display()))?;
    let verdict: Vec<String> = {
        let mut stmt = conn.prepare("PRAGMA integrity_check").with_context(|| format!("{}", file.display()))?;
        let rows = stmt.query_map([], |r| r.get::<_, String>(0)).with_context(|| format!("{}", file.display()))?;
        rows.collect::<Result<_, _>>().with_context(|| format!("{}: not a SQLite database", file.display()))?
    };
    if verdict != ["ok"] {
        bail!("{}: integrity check failed: {}", file.display(), verdict.join("; "));
    }
    let count = |table: &str| -> anyhow::Result<i64> {
        conn.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
            .with_context(|| format!("{}: not a Kabao database (no table {table})", file.display()))
    };
    let orders = count("orders")?;
    let evidence_files = count("evidence_files")?;
    let bytes = std::fs::metadata(file).map(|m| m.len()).unwrap_or(0);
    Ok(BackupReport { bytes, orders, evidence_files })
}

/// Puts the backup `from` back as `<data_dir>/kabao.db`; the data directory must be empty (or not exist yet).
pub fn restore(from: &Path, data_dir: &Path) -> anyhow::Result<BackupReport> {
    if !from.is_file() {
        bail!("{}: no such backup file", from.display());
    }
    if data_dir.exists() {
        let mut entries =
            std::fs::read_dir(data_dir).with_context(|| format!("reading data directory {}", data_dir.display()))?;
        if entries.next().is_some() {
            bail!(
                "data directory {} is not empty: restore only into an empty directory (nothing was changed)",
                data_dir.display()
            );
        }
    }
    // The backup itself first: a damaged file is refused before anything is created.
    check(from)?;
    std::fs::create_dir_all(data_dir).with_context(|| format!("creating data directory {}", data_dir.display()))?;
    let target = data_dir.join("kabao.db");
    let tmp = data_dir.join(".kabao.db.restoring");
    let result = install(from, &tmp, &target);
    let _ = std::fs::remove_file(&tmp);
    if let Ok(d) = std::fs::File::open(data_dir) {
        let _ = d.sync_all();
    }
    result
}

/// Copies the backup to `tmp`, syncs and checks it, then links it as `target`.
fn install(from: &Path, tmp: &Path, target: &Path) -> anyhow::Result<BackupReport> {
    std::fs::copy(from, tmp).with_context(|| format!("copying {} to {}", from.display(), tmp.display()))?;
    std::fs::File::open(tmp).and_then(|f| f.sync_all()).with_context(|| format!("syncing {}", tmp.display()))?;
    let report = check(tmp)?;
    std::fs::hard_link(tmp, target).with_context(|| format!("creating {}", target.display()))?;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(tag: &str) -> PathBuf {
        let d =
            std::env::temp_dir().join(format!("kabao-backup-{tag}-{}-{:x}", std::process::id(), rand::random::<u64>()));
        std::fs::create_dir_all(&d).unwrap_or_else(|e| panic!("{e}"));
        d
    }

    fn tiny_db(path: &Path) {
        let c = Connection::open(path).unwrap_or_else(|e| panic!("{e}"));
        c.execute_batch(
            "PRAGMA journal_mode=WAL; CREATE TABLE orders(id INTEGER); CREATE TABLE evidence_files(id INTEGER, b BLOB);
             INSERT INTO orders VALUES (1), (2); INSERT INTO evidence_files VALUES (1, x'00ff');",
        )
        .unwrap_or_else(|e| panic!("{e}"));
    }

    #[test]
    fn backup_never_overwrites_and_restore_wants_an_empty_directory() {
        let d = dir("unit");
        let db = d.join("kabao.db");
        tiny_db(&db);
        let to = d.join("copy.db");
        let r = backup(&db, &to).unwrap_or_else(|e| panic!("{e:#}"));
        assert_eq!((r.orders, r.evidence_files), (2, 1));
        let again = backup(&db, &to).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(again.contains("already exists"), "{again}");
        assert!(std::fs::read_dir(&d)
            .unwrap_or_else(|e| panic!("{e}"))
            .all(|e| e.map(|e| !e.file_name().to_string_lossy().contains("partial")).unwrap_or(true)));

        let busy = restore(&to, &d).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(busy.contains("not empty"), "{busy}");
        let fresh = d.join("restored");
        let r = restore(&to, &fresh).unwrap_or_else(|e| panic!("{e:#}"));
        assert_eq!(r.orders, 2);
        assert!(fresh.join("kabao.db").is_file());

        let junk = d.join("junk.db");
        std::fs::write(&junk, b"not a database at all, just text").unwrap_or_else(|e| panic!("{e}"));
        assert!(restore(&junk, &d.join("never")).is_err());
        assert!(!d.join("never").exists(), "a bad backup creates nothing");
        let _ = std::fs::remove_dir_all(&d);
    }
}
