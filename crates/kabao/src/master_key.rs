//! Where the master key comes from: `KABAO_MASTER_KEY`, or a key file created with mode 0600 on first start.
//! Losing the key loses every card key, so creating one is announced loudly.

use crate::config::Config;
use anyhow::{bail, Context};
use kabao_core::vault::MasterKey;
use rand::RngCore;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Loads the master key; if none is configured and the key file is absent, creates it.
/// Returns the key and, when a file was just created, its path.
pub fn load_or_create(config: &Config) -> anyhow::Result<(MasterKey, Option<PathBuf>)> {
    if let Some(hex) = &config.master_key {
        let key = MasterKey::from_hex(hex).context("KABAO_MASTER_KEY")?;
        return Ok((key, None));
    }
    let path = config.master_key_path();
    if path.exists() {
        check_permissions(&path)?;
        let text =
            std::fs::read_to_string(&path).with_context(|| format!("reading master key file {}", path.display()))?;
        let key = MasterKey::from_hex(&text).with_context(|| format!("master key file {}", path.display()))?;
        return Ok((key, None));
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let hex = hex_encode(&bytes);
    write_private(&path, &format!("{hex}\n"))?;
    Ok((MasterKey::from_bytes(bytes), Some(path)))
}

fn hex_encode(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(unix)]
fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("creating master key file {}", path.display()))?;
    f.write_all(text.as_bytes())?;
    f.sync_all()?;
    Ok(())
}

#[cfg(not(unix))]
fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    let mut f = std::fs::OpenOptions::new().write(true).create_new(true).open(path)?;
    f.write_all(text.as_bytes())?;
    Ok(())
}

#[cfg(unix)]
fn check_permissions(path: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path)?.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        bail!(
            "master key file {} is readable by others (mode {:o}); run: chmod 600 {}",
            path.display(),
            mode,
            path.display()
        );
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_permissions(_: &Path) -> anyhow::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creates_a_private_key_file_once_then_reads_it() {
        let dir = std::env::temp_dir().join(format!("kabao-mk-{}-{}", std::process::id(), rand::random::<u64>()));
        let config = Config { data_dir: dir.clone(), ..Config::default() };
        let first = load_or_create(&config).map_err(|e| e.to_string());
        assert!(matches!(first, Ok((_, Some(_)))));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.join("master.key")).map(|m| m.permissions().mode() & 0o777).unwrap_or(0);
            assert_eq!(mode, 0o600);
        }
        let second = load_or_create(&config).map_err(|e| e.to_string());
        assert!(matches!(second, Ok((_, None))));
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn bad_env_key_is_refused() {
        let config = Config { master_key: Some("not hex".into()), ..Config::default() };
        assert!(load_or_create(&config).is_err());
    }
}
