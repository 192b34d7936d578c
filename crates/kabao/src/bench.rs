//! `kabao bench`: measurements of hot paths on a fresh database, printed as one JSON line at the end.
//! `bench import` times the real `kabao keys import` command (a child process) on a generated key file.

use anyhow::{bail, Context};
use kabao_core::catalog::{Category, GoodsKind, ProductDraft};
use kabao_core::user::Role;
use kabao_core::{Money, Timestamp};
use kabao_store::{KeyState, NewShop, TxMode};
use std::io::Write;
use std::time::Instant;

/// Generates `keys` unique keys, imports them with `kabao keys import` into a fresh product, and reports.
pub async fn import(keys: u64, database_url: Option<String>, now: Timestamp) -> anyhow::Result<()> {
    let dir = std::env::temp_dir().join(format!("kabao-bench-{}-{:x}", std::process::id(), rand::random::<u32>()));
    std::fs::create_dir_all(&dir)?;
    let result = run_import(&dir, keys, database_url, now).await;
    let _ = std::fs::remove_dir_all(&dir);
    result
}

async fn run_import(
    dir: &std::path::Path,
    keys: u64,
    database_url: Option<String>,
    now: Timestamp,
) -> anyhow::Result<()> {
    let url = database_url.clone().unwrap_or_else(|| format!("sqlite://{}", dir.join("kabao.db").display()));
    let store = kabao_store::open(&url).await.context("opening the bench database")?;
    let tag = format!("{:08x}", rand::random::<u32>());
    let merchant = kabao_server::accounts::create_user(
        &*store,
        &format!("bench_{tag}"),
        "bench-password-1",
        Role::Merchant,
        None,
        now,
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let mut tx = store.begin(TxMode::Write).await?;
    let shop = tx
        .insert_shop(&NewShop {
            owner_id: merchant.id,
            name: format!("bench {tag}"),
            description: String::new(),
            opened_at: now,
        })
        .await?;
    let draft = ProductDraft {
        title: "bench keys".into(),
        description: String::new(),
        category: Category::SoftwareLicense,
        kind: GoodsKind::Standard,
        price: Money::from_fen(100),
        max_per_order: 10,
        trial: false,
        listed: false,
    };
    let product = tx.insert_product(shop, &draft, now).await?;
    tx.commit().await?;
    store.close().await;

    let file = dir.join("keys.txt");
    {
        let mut w = std::io::BufWriter::new(std::fs::File::create(&file)?);
        for i in 0..keys {
            // Realistic length and shape: a 29-character license key.
            writeln!(w, "{tag}-{i:08X}-KABAO-BENCH-KEY")?;
        }
        w.flush()?;
    }
    let size = std::fs::metadata(&file)?.len();
    eprintln!(
        "bench import: {keys} keys ({:.1} MB) into product {product} on {}",
        size as f64 / 1e6,
        if database_url.is_some() { "PostgreSQL" } else { "SQLite" }
    );

    let exe = std::env::current_exe()?;
    let mut cmd = std::process::Command::new(exe);
    cmd.args(["keys", "import", "--product", &product.0.to_string()]).arg(&file).arg("--data-dir").arg(dir);
    if let Some(u) = &database_url {
        cmd.args(["--database-url", u]);
    }
    cmd.env("KABAO_LOG", "kabao_server::inventory=info,warn")
        .env_remove("KABAO_MASTER_KEY")
        .env("KABAO_MASTER_KEY_FILE", dir.join("master.key"));
    let started = Instant::now();
    let out = cmd.output()?;
    let seconds = started.elapsed().as_secs_f64();
    if !out.status.success() {
        bail!("kabao keys import failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    // The import logs its phases (parse, seal, duplicate check, insert, commit): pass them on.
    for line in String::from_utf8_lossy(&out.stderr).lines().filter(|l| l.contains("card keys imported")) {
        eprintln!("{line}");
    }

    let store = kabao_store::open(&url).await?;
    let mut tx = store.begin(TxMode::Read).await?;
    let counted = tx.count_card_keys(product, KeyState::Available).await?;
    let stock = tx.product_by_id(product).await?.map(|p| p.stock_available).unwrap_or(-1);
    drop(tx);
    store.close().await;
    let json = serde_json::json!({
        "bench": "import",
        "keys": keys,
        "seconds": (seconds * 1000.0).round() / 1000.0,
        "keys_per_s": (keys as f64 / seconds).round(),
        "stock_counter": stock,
        "stock_counted": counted,
        "complete": counted == keys as i64 && stock == counted,
    });
    println!("{json}");
    if counted != keys as i64 || stock != counted {
        bail!("imported {counted} keys (counter {stock}), expected {keys}");
    }
    Ok(())
}
