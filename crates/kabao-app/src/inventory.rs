//! Card-key inventory: importing a merchant's key file, voiding unsold batches, and showing keys to their owner.
//! One path for the console upload, the API and `kabao keys import`, so all three refuse the same lines.

use crate::verification::{Asked, Handle, Verifiers, IMPORT_CONCURRENCY};
use kabao_core::catalog::GoodsKind;
use kabao_core::custom::CustomSpec;
use kabao_core::inventory::{numbered_lines, ImportError, ImportPlan, ImportReport, KeySecret, RefusedLine};
use kabao_core::vault::{CardKeyAad, Fingerprint, Keyring, VaultError, NONCE_LEN};
use kabao_core::verification::{refused_at_import, Status};
use kabao_core::{BatchId, CardKeyId, Lang, Localized, ProductId, Timestamp, UserId};
use kabao_store::{Batch, KeyState, NewBatch, NewCardKey, Product, Store, StoreError, Tx, TxMode};
use rand::RngCore;
use std::collections::HashSet;
use std::sync::Arc;
use zeroize::Zeroizing;

/// Largest key file accepted through HTTP (console or API). `kabao keys import` has no limit.
pub const MAX_UPLOAD_BYTES: usize = 16 * 1024 * 1024;

/// Batches per page of the key page and of the API's batch list.
pub const BATCHES_PAGE: i64 = 20;

/// How many fingerprints are checked against the store per query.
const FINGERPRINT_CHUNK: usize = 10_000;

/// What an import did.
#[derive(Debug)]
pub struct ImportOutcome {
    /// The new batch, or `None` when no line was accepted (nothing was written).
    pub batch_id: Option<BatchId>,
    pub report: ImportReport,
}

/// A key shown to the merchant who owns it.
pub struct OwnedKey {
    pub id: CardKeyId,
    pub batch_id: BatchId,
    pub state: KeyState,
    pub secret: Zeroizing<String>,
    pub created_at: Timestamp,
}

/// Why an inventory operation was refused.
#[derive(Debug, thiserror::Error)]
pub enum InventoryError {
    /// The product does not exist or belongs to another shop; the two are indistinguishable on purpose.
    #[error("product not found")]
    ProductNotFound,
    #[error("batch not found")]
    BatchNotFound,
    #[error("custom goods have no card keys")]
    CustomGoods,
    #[error("shared-secret goods have one secret, not imported keys")]
    SharedGoods,
    #[error("not a shared-secret product")]
    NotShared,
    #[error("shared secret or stock out of range")]
    SharedInput,
    #[error("not a custom-goods product")]
    NotCustom,
    #[error(transparent)]
    Custom(#[from] kabao_core::custom::CustomError),
    #[error("stock out of range")]
    StockRange,
    #[error(transparent)]
    Import(#[from] ImportError),
    #[error("batch has {sold} sold keys")]
    BatchHasSoldKeys { sold: i64 },
    #[error("batch already voided")]
    BatchAlreadyVoided,
    #[error("malformed page cursor")]
    BadCursor,
    #[error("the same key was imported concurrently")]
    ConcurrentDuplicate,
    #[error("vault: {0}")]
    Vault(#[from] VaultError),
    #[error("store: {0}")]
    Store(StoreError),
}

impl From<StoreError> for InventoryError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict("card_keys.fingerprint") => InventoryError::ConcurrentDuplicate,
            e => InventoryError::Store(e),
        }
    }
}

impl Localized for InventoryError {
    fn code(&self) -> &'static str {
        match self {
            InventoryError::ProductNotFound => "product.not_found",
            InventoryError::BatchNotFound => "batch.not_found",
            InventoryError::CustomGoods => "import.custom_goods",
            InventoryError::SharedGoods => "import.shared_goods",
            InventoryError::NotShared => "product.not_shared",
            InventoryError::SharedInput => "product.shared_secret_invalid",
            InventoryError::NotCustom => "product.not_custom",
            InventoryError::Custom(e) => e.code(),
            InventoryError::StockRange => "product.stock_invalid",
            InventoryError::Import(e) => e.code(),
            InventoryError::BatchHasSoldKeys { .. } => "batch.has_sold_keys",
            InventoryError::BatchAlreadyVoided => "batch.already_voided",
            InventoryError::BadCursor => "batch.cursor_invalid",
            InventoryError::ConcurrentDuplicate => "import.concurrent_duplicate",
            InventoryError::Vault(_) => "internal.vault",
            InventoryError::Store(_) => "internal.store",
        }
    }
    fn field(&self) -> Option<&'static str> {
        match self {
            InventoryError::Import(e) => e.field(),
            InventoryError::Custom(e) => e.field(),
            InventoryError::StockRange => Some("stock"),
            InventoryError::BadCursor => Some("cursor"),
            _ => None,
        }
    }
    fn message(&self, lang: Lang) -> String {
        match self {
            InventoryError::ProductNotFound => lang.pick("商品不存在", "Product not found").into(),
            InventoryError::BatchNotFound => lang.pick("批次不存在", "Batch not found").into(),
            InventoryError::CustomGoods => lang
                .pick(
                    "人工交付商品没有卡密库存，无需导入",
                    "Custom goods are delivered by hand and have no card keys to import",
                )
                .into(),
            InventoryError::Import(e) => e.message(lang),
            InventoryError::SharedGoods => lang
                .pick(
                    "循环卡密商品无需导入卡密：请在商品页设置共享卡密和库存",
                    "Shared-secret goods need no key import: set the shared secret and stock on the product page",
                )
                .into(),
            InventoryError::NotShared => {
                lang.pick("该商品不是循环卡密商品", "This product is not a shared-secret product").into()
            }
            InventoryError::SharedInput => lang
                .pick(
                    "共享卡密需为 1–2000 个字符，库存需在 0 到 1000000 之间",
                    "The shared secret must be 1–2000 characters and the stock 0–1,000,000",
                )
                .into(),
            InventoryError::NotCustom => {
                lang.pick("该商品不是人工交付商品", "This product is not a manual-delivery product").into()
            }
            InventoryError::Custom(e) => e.message(lang),
            InventoryError::StockRange => {
                lang.pick("库存需在 0 到 1000000 之间", "The stock must be between 0 and 1,000,000").into()
            }
            InventoryError::BatchHasSoldKeys { sold } => match lang {
                Lang::Zh => format!("该批次已售出 {sold} 张卡密，不能作废"),
                Lang::En => format!("This batch has {sold} sold keys and cannot be voided"),
            },
            InventoryError::BatchAlreadyVoided => lang.pick("该批次已作废", "This batch is already voided").into(),
            InventoryError::BadCursor => lang
                .pick("批次翻页参数无效，请从第一页开始", "Invalid batch page cursor; start from the first page")
                .into(),
            InventoryError::ConcurrentDuplicate => lang
                .pick(
                    "有相同卡密正在同时导入，本次未导入任何卡密，请重试",
                    "The same keys were being imported at the same time; nothing was imported, please retry",
                )
                .into(),
            InventoryError::Vault(_) | InventoryError::Store(_) => crate::error::internal_words(lang).into(),
        }
    }
}

/// Loads a product if `merchant` owns its shop.
async fn owned_product(tx: &mut dyn Tx, merchant: UserId, product: ProductId) -> Result<Product, InventoryError> {
    let p = tx.product_by_id(product).await?.ok_or(InventoryError::ProductNotFound)?;
    let shop = tx.shop_by_id(p.shop_id).await?.ok_or(InventoryError::ProductNotFound)?;
    if shop.owner_id != merchant {
        return Err(InventoryError::ProductNotFound);
    }
    Ok(p)
}

/// A key ready to store: sealed, with the line it came from.
struct SealedKey {
    line: u32,
    fingerprint: Fingerprint,
    key_version: i32,
    ciphertext: Vec<u8>,
}

/// Imports a key file into a product without asking a verifier (the demo, the benchmark, tests).
pub async fn import_keys(
    store: &dyn Store,
    keyring: &Arc<Keyring>,
    merchant: UserId,
    product: ProductId,
    bytes: &[u8],
    source: &str,
    now: Timestamp,
) -> Result<ImportOutcome, InventoryError> {
    import_keys_checked(store, keyring, &Verifiers::default(), merchant, product, bytes, source, now).await
}

/// Imports a key file into a product. All accepted lines are stored in one transaction, or none are;
/// malformed and duplicate lines are skipped and named in the report, and so are keys the product category's
/// verifier says are already redeemed or invalid (验货). A verifier that is down refuses nothing.
#[allow(clippy::too_many_arguments)]
pub async fn import_keys_checked(
    store: &dyn Store,
    keyring: &Arc<Keyring>,
    verifiers: &Verifiers,
    merchant: UserId,
    product: ProductId,
    bytes: &[u8],
    source: &str,
    now: Timestamp,
) -> Result<ImportOutcome, InventoryError> {
    let p = {
        let mut tx = store.begin(TxMode::Read).await?;
        owned_product(&mut *tx, merchant, product).await?
    };
    match p.kind {
        GoodsKind::Standard => {}
        GoodsKind::Custom => return Err(InventoryError::CustomGoods),
        GoodsKind::Shared => return Err(InventoryError::SharedGoods),
    }
    let shop = p.shop_id;
    let started = std::time::Instant::now();
    // Parsing, fingerprinting and sealing are CPU work (seconds for a large file): they run on a blocking
    // thread, not on the async worker serving other requests, and before taking the writer lock.
    let (owned, kr, pid) = (bytes.to_vec(), keyring.clone(), p.id);
    let (mut plan, sealed, planned_ms) = tokio::task::spawn_blocking(move || -> Result<_, InventoryError> {
        let plan = ImportPlan::from_lines(numbered_lines(&owned), |secret: &KeySecret| {
            kr.fingerprint(shop, &secret.canonical())
        });
        if plan.accepted.is_empty() && plan.malformed.is_empty() && plan.duplicates.is_empty() {
            return Err(ImportError::Empty.into());
        }
        let planned_ms = started.elapsed().as_millis();
        let sealed = seal_all(&kr, &plan, shop, pid)?;
        Ok((plan, sealed, planned_ms))
    })
    .await
    .map_err(|_| InventoryError::Vault(VaultError::OpenFailed))??;
    let sealed_ms = started.elapsed().as_millis();
    // Asked before the write transaction: the verifier is a network call.
    if let Some(handle) = verifiers.handle(p.category) {
        let (refused, unverified_count) = verify_planned(&handle, p.id, &plan).await;
        plan.unverified_count = unverified_count;
        plan.refuse(refused);
    }
    let verified_ms = started.elapsed().as_millis();

    let mut tx = store.begin(TxMode::Write).await?;
    // Ownership is checked again under the write lock: the read above may be stale.
    owned_product(&mut *tx, merchant, product).await?;
    let mut existing = HashSet::new();
    let fingerprints: Vec<Fingerprint> = plan.accepted.iter().map(|k| k.fingerprint).collect();
    for chunk in fingerprints.chunks(FINGERPRINT_CHUNK) {
        existing.extend(tx.existing_fingerprints(shop, chunk).await?);
    }
    plan.drop_existing(&existing);
    let checked_ms = started.elapsed().as_millis();
    let report = plan.report();
    if plan.accepted.is_empty() {
        return Ok(ImportOutcome { batch_id: None, report });
    }
    let batch_id = tx
        .insert_batch(&NewBatch {
            shop_id: shop,
            product_id: p.id,
            created_by: merchant,
            created_at: now,
            source: source.to_string(),
        })
        .await?;
    let keep: HashSet<u32> = plan.accepted.iter().map(|k| k.line).collect();
    let rows: Vec<NewCardKey> = sealed
        .into_iter()
        .filter(|k| keep.contains(&k.line))
        .map(|k| NewCardKey {
            shop_id: shop,
            product_id: p.id,
            batch_id,
            fingerprint: k.fingerprint,
            ciphertext: k.ciphertext,
            key_version: k.key_version,
            created_at: now,
        })
        .collect();
    debug_assert_eq!(rows.len(), plan.accepted.len());
    tx.insert_card_keys(&rows).await?;
    let inserted_ms = started.elapsed().as_millis();
    tx.commit().await?;
    tracing::info!(
        product = %p.id,
        batch = %batch_id,
        accepted = report.accepted_count,
        duplicates = report.duplicates.len(),
        malformed = report.malformed.len(),
        planned_ms,
        sealed_ms,
        verified_ms,
        refused = report.refused.len(),
        checked_ms,
        inserted_ms,
        committed_ms = started.elapsed().as_millis(),
        "card keys imported"
    );
    Ok(ImportOutcome { batch_id: Some(batch_id), report })
}

/// Asks the verifier about every accepted key, [`crate::verification::IMPORT_CONCURRENCY`] at a time: the
/// lines it refuses (redeemed or invalid), and how many it could not answer on.
async fn verify_planned(handle: &Handle, product: ProductId, plan: &ImportPlan) -> (Vec<RefusedLine>, u64) {
    let mut refused = Vec::new();
    let mut unverified = 0u64;
    let mut running = tokio::task::JoinSet::new();
    let mut keys = plan.accepted.iter().map(|k| (k.line, k.secret.canonical()));
    loop {
        while running.len() < IMPORT_CONCURRENCY {
            let Some((line, secret)) = keys.next() else { break };
            let handle = handle.clone();
            running.spawn(async move { (line, handle.ask(product, &secret).await) });
        }
        let Some(done) = running.join_next().await else { break };
        match done {
            Ok((line, Asked::Answered(a))) if refused_at_import(Some(&a)) => refused.push(RefusedLine::new(line, &a)),
            Ok((_, Asked::Answered(a))) if a.status != Status::Unknown => {}
            // Down, "unknown", or a task that failed: the key is kept unchecked.
            Ok(_) | Err(_) => unverified += 1,
        }
    }
    (refused, unverified)
}

/// Seals every accepted key, spreading the work over the available cores (a million keys is a normal file).
fn seal_all(
    keyring: &Keyring,
    plan: &ImportPlan,
    shop: kabao_core::ShopId,
    product: ProductId,
) -> Result<Vec<SealedKey>, InventoryError> {
    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1).clamp(1, 8);
    let chunk = plan.accepted.len().div_ceil(threads).max(1);
    let results: Vec<Result<Vec<SealedKey>, VaultError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = plan
            .accepted
            .chunks(chunk)
            .map(|keys| {
                scope.spawn(move || {
                    // thread_rng is a CSPRNG seeded from the OS; random 192-bit nonces never repeat in practice.
                    let mut rng = rand::thread_rng();
                    keys.iter()
                        .map(|k| {
                            let mut nonce = [0u8; NONCE_LEN];
                            rng.fill_bytes(&mut nonce);
                            let (key_version, ciphertext) =
                                keyring.seal(shop, product, &k.fingerprint, &k.secret.canonical(), nonce)?;
                            Ok(SealedKey { line: k.line, fingerprint: k.fingerprint, key_version, ciphertext })
                        })
                        .collect()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap_or(Err(VaultError::OpenFailed))).collect()
    });
    let mut out = Vec::with_capacity(plan.accepted.len());
    for r in results {
        out.extend(r?);
    }
    debug_assert!(out.windows(2).all(|w| w.first().map(|a| a.line) < w.get(1).map(|b| b.line)));
    Ok(out)
}

/// The associated-data fingerprint that binds a shared secret's ciphertext to its product.
pub fn shared_secret_binding(keyring: &Keyring, shop: kabao_core::ShopId, product: ProductId) -> Fingerprint {
    keyring.fingerprint(shop, &format!("kabao.shared_secret.{}", product.0))
}

/// Sets a shared-secret product's secret (sealed like a card key) and how many units may be sold. The secret is
/// the product's delivery text, scanned with its title and description under `scan` (see [`crate::listing`]): a
/// risky one holds the product for review. Returns the rules that held it (empty when it is clean).
#[allow(clippy::too_many_arguments)]
pub async fn set_shared_secret(
    store: &dyn Store,
    keyring: &Keyring,
    scan: &kabao_core::risk::ScanConfig,
    merchant: UserId,
    product: ProductId,
    secret: &str,
    stock: i64,
    now: kabao_core::Timestamp,
) -> Result<Vec<&'static str>, InventoryError> {
    let secret = secret.trim();
    let n = secret.chars().count();
    if n == 0 || n > 2000 || !(0..=1_000_000).contains(&stock) {
        return Err(InventoryError::SharedInput);
    }
    let mut tx = store.begin(TxMode::Write).await?;
    let p = owned_product(&mut *tx, merchant, product).await?;
    if p.kind != GoodsKind::Shared {
        return Err(InventoryError::NotShared);
    }
    let binding = shared_secret_binding(keyring, p.shop_id, p.id);
    let mut nonce = [0u8; NONCE_LEN];
    rand::thread_rng().fill_bytes(&mut nonce);
    let (version, sealed) = keyring.seal(p.shop_id, p.id, &binding, secret, nonce)?;
    tx.set_shared_secret(p.id, &sealed, version, stock).await?;
    let mut held = crate::listing::rules_with(scan, &[p.title.as_str(), p.description.as_str()]);
    for rule in crate::listing::delivery_rules(scan, secret) {
        if !held.contains(&rule) {
            held.push(rule);
        }
    }
    if !held.is_empty() {
        tx.insert_risk_event(&crate::listing::event(crate::listing::PRODUCT, p.shop_id, merchant, &held, now)).await?;
        // Held (and listed again on dismissal) only if it is listed, or was waiting to be.
        let wanted = p.listed || !p.held_rules.is_empty();
        tx.set_product_hold(p.id, crate::listing::held_json(&held).filter(|_| wanted).as_deref(), false).await?;
        tracing::warn!(product = %p.id, rules = ?held, "product listing held for review (delivery text)");
    } else if !p.held_rules.is_empty() {
        // Every text of the product passes now: what held it is gone, so it is listed as its merchant asked.
        tx.set_product_hold(p.id, None, true).await?;
    }
    tx.commit().await?;
    tracing::info!(product = %p.id, stock, "shared secret set");
    Ok(held)
}

/// Opens a product's shared secret (for its owner's console, or a buyer's reveal).
pub async fn open_shared_secret(
    tx: &mut dyn Tx,
    keyring: &Keyring,
    p: &Product,
) -> Result<Option<Zeroizing<String>>, InventoryError> {
    let Some((sealed, version)) = tx.shared_secret(p.id).await? else { return Ok(None) };
    let binding = shared_secret_binding(keyring, p.shop_id, p.id);
    let aad = CardKeyAad { shop: p.shop_id, product: p.id, fingerprint: &binding, key_version: version };
    Ok(Some(keyring.open(aad, &sealed)?))
}

/// Sets what a custom product asks of its buyers (one field label per line), how many hours its merchant has to
/// deliver after payment, and how many units may be sold.
pub async fn set_custom_spec(
    store: &dyn Store,
    merchant: UserId,
    product: ProductId,
    field_lines: &str,
    delivery_hours: i64,
    stock: i64,
) -> Result<CustomSpec, InventoryError> {
    let spec = CustomSpec::from_lines(field_lines, delivery_hours)?;
    if !(0..=1_000_000).contains(&stock) {
        return Err(InventoryError::StockRange);
    }
    let mut tx = store.begin(TxMode::Write).await?;
    let p = owned_product(&mut *tx, merchant, product).await?;
    if p.kind != GoodsKind::Custom {
        return Err(InventoryError::NotCustom);
    }
    tx.set_custom_spec(p.id, &spec.fields_json(), spec.delivery_hours, stock).await?;
    tx.commit().await?;
    tracing::info!(product = %p.id, stock, fields = spec.fields.len(), "custom goods fields set");
    Ok(spec)
}

/// A custom product's fields and deadline, if its merchant has set them.
pub async fn custom_spec(tx: &mut dyn Tx, product: ProductId) -> Result<Option<CustomSpec>, StoreError> {
    Ok(tx.custom_spec(product).await?.and_then(|(fields, hours)| CustomSpec::from_stored(&fields, hours)))
}

/// [`custom_spec`] in a read transaction of its own.
pub async fn custom_spec_of(store: &dyn Store, product: ProductId) -> Result<Option<CustomSpec>, StoreError> {
    let mut tx = store.begin(TxMode::Read).await?;
    custom_spec(&mut *tx, product).await
}

/// [`open_shared_secret`] in a read transaction of its own (the caller checked who may see it).
pub async fn shared_secret_of(
    store: &dyn Store,
    keyring: &Keyring,
    p: &Product,
) -> Result<Option<Zeroizing<String>>, InventoryError> {
    let mut tx = store.begin(TxMode::Read).await?;
    open_shared_secret(&mut *tx, keyring, p).await
}

/// The product a batch belongs to, if the batch exists.
pub async fn batch_product(store: &dyn Store, batch: BatchId) -> Result<Option<ProductId>, StoreError> {
    let mut tx = store.begin(TxMode::Read).await?;
    Ok(tx.batch_by_id(batch).await?.map(|b| b.product_id))
}

/// Voids every key of a batch, if none of them was sold.
pub async fn void_batch(
    store: &dyn Store,
    merchant: UserId,
    batch: BatchId,
    now: Timestamp,
) -> Result<u64, InventoryError> {
    let mut tx = store.begin(TxMode::Write).await?;
    let b = tx.batch_by_id(batch).await?.ok_or(InventoryError::BatchNotFound)?;
    match owned_product(&mut *tx, merchant, b.product_id).await {
        Err(InventoryError::ProductNotFound) => return Err(InventoryError::BatchNotFound),
        other => other?,
    };
    if b.voided_at.is_some() {
        return Err(InventoryError::BatchAlreadyVoided);
    }
    if b.sold > 0 {
        return Err(InventoryError::BatchHasSoldKeys { sold: b.sold });
    }
    let n = tx.void_batch(batch, now).await?;
    tx.commit().await?;
    tracing::info!(batch = %batch, voided = n, "batch voided");
    Ok(n)
}

/// A product's keys, decrypted, for the merchant who owns them.
pub async fn list_keys_for_owner(
    store: &dyn Store,
    keyring: &Keyring,
    merchant: UserId,
    product: ProductId,
    state: Option<KeyState>,
    limit: i64,
    offset: i64,
) -> Result<Vec<OwnedKey>, InventoryError> {
    let mut tx = store.begin(TxMode::Read).await?;
    owned_product(&mut *tx, merchant, product).await?;
    let keys = tx.list_card_keys(product, state, limit.clamp(1, 1000), offset.max(0)).await?;
    keys.into_iter()
        .map(|k| {
            let aad = CardKeyAad {
                shop: k.shop_id,
                product: k.product_id,
                fingerprint: &k.fingerprint,
                key_version: k.key_version,
            };
            let secret = keyring.open(aad, &k.ciphertext)?;
            Ok(OwnedKey { id: k.id, batch_id: k.batch_id, state: k.state, secret, created_at: k.created_at })
        })
        .collect()
}

/// One page of a product's batches, newest first, and the cursor of the next (older) page if there is one.
pub struct BatchesPage {
    pub batches: Vec<Batch>,
    pub next: Option<String>,
}

/// A product's batches from a cursor (a batch id; absent or empty: the newest) on, `BATCHES_PAGE` a page, for
/// the merchant who owns them. A page costs the same however many batches and keys the product has.
pub async fn list_batches_for_owner(
    store: &dyn Store,
    merchant: UserId,
    product: ProductId,
    cursor: Option<&str>,
) -> Result<BatchesPage, InventoryError> {
    let before = match cursor.map(str::trim).filter(|c| !c.is_empty()) {
        None => None,
        Some(c) => Some(BatchId(crate::history::id_cursor(c).ok_or(InventoryError::BadCursor)?)),
    };
    let mut tx = store.begin(TxMode::Read).await?;
    owned_product(&mut *tx, merchant, product).await?;
    let rows = tx.list_batches(product, before, BATCHES_PAGE + 1).await?;
    let (batches, next) = crate::history::keyset_page(rows, BATCHES_PAGE, |b| b.id.0.to_string());
    Ok(BatchesPage { batches, next })
}

#[cfg(test)]
mod tests {
    use super::*;
    use kabao_core::catalog::{Category, ProductDraft};
    use kabao_core::user::Role;
    use kabao_core::vault::MasterKey;
    use kabao_core::Money;
    use kabao_store::{NewShop, NewUser};

    const NOW: Timestamp = Timestamp::from_millis(1_790_000_000_000);

    struct Fixture {
        store: Arc<dyn Store>,
        keyring: Arc<Keyring>,
        merchant: UserId,
        other: UserId,
        product: ProductId,
        custom: ProductId,
    }

    async fn merchant_with_shop(tx: &mut dyn Tx, name: &str) -> (UserId, kabao_core::ShopId) {
        let user = tx
            .insert_user(&NewUser {
                username: name.into(),
                email: None,
                password_hash: "x".into(),
                role: Role::Merchant,
                created_at: NOW,
            })
            .await
            .unwrap();
        let shop = tx
            .insert_shop(&NewShop {
                owner_id: user,
                name: format!("{name} 的店"),
                description: String::new(),
                opened_at: NOW,
            })
            .await
            .unwrap();
        (user, shop)
    }

    fn draft(kind: GoodsKind) -> ProductDraft {
        ProductDraft {
            title: "测试卡".into(),
            description: String::new(),
            category: Category::GameCard,
            kind,
            price: Money::from_fen(100),
            max_per_order: 5,
            trial: false,
            listed: true,
        }
    }

    async fn fixture() -> Fixture {
        let store: Arc<dyn Store> = Arc::new(kabao_store::sqlite::SqliteStore::open_in_memory().await.unwrap());
        store.migrate().await.unwrap();
        let keyring =
            Arc::new(crate::keyring::load_or_create(&*store, &MasterKey::from_bytes([3; 32]), NOW).await.unwrap());
        let mut tx = store.begin(TxMode::Write).await.unwrap();
        let (merchant, shop) = merchant_with_shop(&mut *tx, "merchant_a").await;
        let (other, _) = merchant_with_shop(&mut *tx, "merchant_b").await;
        let product = tx.insert_product(shop, &draft(GoodsKind::Standard), NOW).await.unwrap();
        let custom = tx.insert_product(shop, &draft(GoodsKind::Custom), NOW).await.unwrap();
        tx.commit().await.unwrap();
        Fixture { store, keyring, merchant, other, product, custom }
    }

    async fn stock(f: &Fixture) -> (i64, i64) {
        let mut tx = f.store.begin(TxMode::Read).await.unwrap();
        let counter = tx.product_by_id(f.product).await.unwrap().unwrap().stock_available;
        (counter, tx.count_card_keys(f.product, KeyState::Available).await.unwrap())
    }

    #[tokio::test]
    async fn import_reports_every_line_and_keys_open_for_their_owner() {
        let f = fixture().await;
        let file = "AAA-1\n\n123----pw\n----x\nAAA-1\nBBB-2\n";
        let out =
            import_keys(&*f.store, &f.keyring, f.merchant, f.product, file.as_bytes(), "test", NOW).await.unwrap();
        assert!(out.batch_id.is_some());
        assert_eq!(out.report.accepted_count, 3);
        assert_eq!(out.report.accepted_lines, vec![[1, 1], [3, 3], [6, 6]]);
        assert_eq!(out.report.malformed.len(), 1);
        assert_eq!(out.report.duplicates.first().map(|d| (d.line, d.same_as_line)), Some((5, Some(1))));
        assert_eq!(stock(&f).await, (3, 3));
        let keys = list_keys_for_owner(&*f.store, &f.keyring, f.merchant, f.product, None, 100, 0).await.unwrap();
        let secrets: Vec<String> = keys.iter().map(|k| k.secret.to_string()).collect();
        assert_eq!(secrets, vec!["AAA-1", "123----pw", "BBB-2"]);
    }

    #[tokio::test]
    async fn reimport_finds_existing_keys_and_writes_nothing() {
        let f = fixture().await;
        import_keys(&*f.store, &f.keyring, f.merchant, f.product, b"K1\nK2\n", "test", NOW).await.unwrap();
        let again = import_keys(&*f.store, &f.keyring, f.merchant, f.product, b"K2\nK1\n", "test", NOW).await.unwrap();
        assert_eq!(again.batch_id, None);
        assert_eq!(again.report.accepted_count, 0);
        assert!(again.report.duplicates.iter().all(|d| d.same_as_line.is_none()));
        assert_eq!(stock(&f).await, (2, 2));
        let mut tx = f.store.begin(TxMode::Read).await.unwrap();
        assert_eq!(tx.list_batches(f.product, None, 100).await.unwrap().len(), 1);
    }

    #[tokio::test]
    async fn another_merchant_cannot_import_read_or_void() {
        let f = fixture().await;
        let out = import_keys(&*f.store, &f.keyring, f.merchant, f.product, b"K1\n", "test", NOW).await.unwrap();
        let err = import_keys(&*f.store, &f.keyring, f.other, f.product, b"K9\n", "test", NOW).await.unwrap_err();
        assert!(matches!(err, InventoryError::ProductNotFound));
        assert!(matches!(
            list_keys_for_owner(&*f.store, &f.keyring, f.other, f.product, None, 10, 0).await,
            Err(InventoryError::ProductNotFound)
        ));
        assert!(matches!(
            list_batches_for_owner(&*f.store, f.other, f.product, None).await,
            Err(InventoryError::ProductNotFound)
        ));
        let batch = out.batch_id.unwrap();
        assert!(matches!(void_batch(&*f.store, f.other, batch, NOW).await, Err(InventoryError::BatchNotFound)));
        assert_eq!(stock(&f).await, (1, 1));
    }

    #[tokio::test]
    async fn batches_come_newest_first_a_page_at_a_time() {
        let f = fixture().await;
        let mut imported = Vec::new();
        for i in 0..BATCHES_PAGE + 2 {
            let file = format!("PAGE-{i}\n");
            let out = import_keys(&*f.store, &f.keyring, f.merchant, f.product, file.as_bytes(), "test", NOW).await;
            imported.push(out.unwrap().batch_id.unwrap());
        }
        imported.reverse();
        let first = list_batches_for_owner(&*f.store, f.merchant, f.product, None).await.unwrap();
        assert_eq!(first.batches.len() as i64, BATCHES_PAGE);
        let cursor = first.next.clone().unwrap();
        assert_eq!(cursor, first.batches.last().unwrap().id.0.to_string(), "the cursor is the last batch shown");
        let second = list_batches_for_owner(&*f.store, f.merchant, f.product, Some(&cursor)).await.unwrap();
        assert_eq!(second.next, None, "the last page has no older one");
        let seen: Vec<BatchId> = first.batches.iter().chain(&second.batches).map(|b| b.id).collect();
        assert_eq!(seen, imported, "every batch once, newest first");
        assert_eq!((second.batches[0].available, second.batches[0].sold), (1, 0));
        let blank = list_batches_for_owner(&*f.store, f.merchant, f.product, Some(" ")).await.unwrap();
        assert_eq!(blank.batches.len() as i64, BATCHES_PAGE, "an empty cursor is the first page");
        for bad in ["x", "-3", "0", "1.5"] {
            let err = list_batches_for_owner(&*f.store, f.merchant, f.product, Some(bad)).await.err();
            assert!(matches!(err, Some(InventoryError::BadCursor)), "{bad}: {err:?}");
        }
        assert_eq!(InventoryError::BadCursor.field(), Some("cursor"));
    }

    #[tokio::test]
    async fn custom_goods_and_empty_files_are_refused() {
        let f = fixture().await;
        let err = import_keys(&*f.store, &f.keyring, f.merchant, f.custom, b"K1\n", "test", NOW).await.unwrap_err();
        assert!(matches!(err, InventoryError::CustomGoods));
        let err =
            import_keys(&*f.store, &f.keyring, f.merchant, f.product, b"\n  \n\n", "test", NOW).await.unwrap_err();
        assert!(matches!(err, InventoryError::Import(ImportError::Empty)));
        assert_eq!(err.code(), "import.empty");
        assert_eq!(stock(&f).await, (0, 0));
    }

    #[tokio::test]
    async fn an_unsold_batch_is_voided_once() {
        let f = fixture().await;
        let a = import_keys(&*f.store, &f.keyring, f.merchant, f.product, b"K1\nK2\n", "test", NOW).await.unwrap();
        import_keys(&*f.store, &f.keyring, f.merchant, f.product, b"K3\n", "test", NOW).await.unwrap();
        assert_eq!(void_batch(&*f.store, f.merchant, a.batch_id.unwrap(), NOW).await.unwrap(), 2);
        assert_eq!(stock(&f).await, (1, 1));
        assert!(matches!(
            void_batch(&*f.store, f.merchant, a.batch_id.unwrap(), NOW).await,
            Err(InventoryError::BatchAlreadyVoided)
        ));
        // A voided key is still a duplicate: it cannot come back by re-import.
        let again = import_keys(&*f.store, &f.keyring, f.merchant, f.product, b"K1\n", "test", NOW).await.unwrap();
        assert_eq!(again.report.accepted_count, 0);
    }

    #[tokio::test]
    async fn errors_never_contain_the_keys() {
        let f = fixture().await;
        let err =
            import_keys(&*f.store, &f.keyring, f.other, f.product, b"SECRET-KEY-1\n", "test", NOW).await.unwrap_err();
        for lang in [Lang::Zh, Lang::En] {
            assert!(!err.message(lang).contains("SECRET"));
        }
        assert!(!format!("{err:?} {err}").contains("SECRET"));
    }

    #[tokio::test]
    async fn keyring_is_stable_and_needs_the_right_master_key() {
        let f = fixture().await;
        let again = crate::keyring::load_or_create(&*f.store, &MasterKey::from_bytes([3; 32]), NOW).await.unwrap();
        let shop = kabao_core::ShopId(1);
        assert_eq!(f.keyring.fingerprint(shop, "X"), again.fingerprint(shop, "X"));
        assert!(crate::keyring::load_or_create(&*f.store, &MasterKey::from_bytes([4; 32]), NOW).await.is_err());
    }
}
