//! The behaviour every backend must show, written once as scenarios over `&dyn Store` and run against
//! SQLite and PostgreSQL by `tests/conformance.rs`, so the two backends cannot drift apart.
//! Scenarios panic on failure, like tests; each expects a freshly migrated, empty database.

use crate::{
    Backend, DataKeyRecord, EmailToken, EmailTokenPurpose, KeyState, LoginChallenge, NewApiToken, NewBatch, NewCardKey,
    NewShop, NewUser, SealedTotp, SecurityEvent, Session, Store, StoreError, TotpCredential, TxMode,
};
use kabao_core::catalog::{Category, CertificationLevel, GoodsKind, ProductDraft};
use kabao_core::user::Role;
use kabao_core::vault::Fingerprint;
use kabao_core::{ApiTokenId, BatchId, Money, ProductId, ShopId, Timestamp, UserId};

/// Names of all scenarios, for a runner that wants to check it runs every one.
pub const SCENARIOS: &[&str] = &[
    "migrate_is_idempotent",
    "user_roundtrip",
    "duplicate_username_conflicts",
    "role_and_password_changes",
    "sessions_lifecycle",
    "sessions_are_listed_touched_and_ended_one_by_one",
    "api_tokens_lifecycle",
    "shops_lifecycle",
    "products_and_listing",
    "card_key_import_keeps_stock_exact",
    "duplicate_fingerprint_conflicts_and_writes_nothing",
    "existing_fingerprints_finds_only_own_shop",
    "void_batch_updates_counts_and_stock",
    "batch_counts_stay_exact_and_batches_page_by_keyset",
    "dropped_transaction_is_rolled_back",
    "data_keys_roundtrip_and_conflict",
    "concurrent_read_sees_consistent_stock",
    "orders_roundtrip_and_state_compare_and_set",
    "allocation_sells_each_key_once_and_never_short",
    "ledger_checks_balances_and_recomputes",
    "events_idempotency_payments_and_notifications",
    "idempotency_records_reserve_complete_take_over_and_purge",
    "job_leases_are_exclusive_until_released_or_expired",
    "shared_secret_stock_is_taken_only_while_it_lasts",
    "custom_goods_answers_deadlines_and_delivery",
    "warranty_policies_are_versioned",
    "products_carry_their_current_warranty_summary",
    "claims_evidence_and_reissues",
    "claim_queue_pages_by_deadline_then_id",
    "disputes_statements_and_fund_members",
    "pending_order_payments_are_found_for_reconciliation",
    "reconciliation_findings_payments_and_transfers",
    "reviews_chat_risk_and_certification",
    "payees_and_withdrawals_keep_their_snapshot_and_decide_once",
    "security_events_are_kept_newest_first",
    "trust_facts_leave_automatic_reissues_out_of_the_response_time",
    "category_days_add_up_to_the_live_figures",
    "insurance_claim_window_and_covers",
    "webhook_endpoints_deliveries_and_leases",
    "insurance_payouts_are_taken_once",
    "insurance_book_groups_by_category_and_shop",
    "extended_warranty_claims_do_not_hold_settlement",
    "insurance_receivables_are_summed_apart_from_the_ledger",
    "gateway_refunds_are_queued_attempted_once_and_decided",
    "variants_and_tiers_roundtrip",
    "coupons_codes_uses_and_order_pricing",
    "history_pages_by_keyset_and_shop_figures_by_day",
    "email_tokens_are_taken_once_and_only_before_expiry",
    "verified_emails_count_only_for_the_current_address",
    "catalog_search_finds_chinese_by_two_characters",
    "catalog_filters_sorts_and_pages_by_cursor",
    "catalog_pages_stay_exact_past_the_relevance_window_and_candidate_limit",
    "catalog_prices_a_listing_from_its_cheapest_listed_variant",
    "catalog_pictures_are_stored_once_and_ordered",
    "totp_steps_recovery_codes_and_login_challenges_are_taken_once",
    "throttle_hits_are_counted_taken_back_cleared_and_purged",
    "stored_trust_facts_are_marked_stale_by_events_and_never_saved_over_them",
    "concurrent_buyers_never_oversell",
    "concurrent_withdrawal_holds_never_overdraw",
    "concurrent_checkouts_use_a_coupon_up_exactly_at_its_limit",
    "concurrent_buyers_never_oversell_a_variant",
    "concurrent_throttle_checks_never_overshoot",
];

const T0: Timestamp = Timestamp(1_700_000_000_000);

fn at(offset_ms: i64) -> Timestamp {
    Timestamp(T0.0 + offset_ms)
}

fn new_user(name: &str, role: Role) -> NewUser {
    NewUser {
        username: name.to_string(),
        email: Some(format!("{name}@example.com")),
        password_hash: format!("$argon2id$hash-of-{name}"),
        role,
        created_at: T0,
    }
}

fn draft(title: &str, listed: bool) -> ProductDraft {
    ProductDraft {
        title: title.to_string(),
        description: format!("about {title}"),
        category: Category::GameCard,
        kind: GoodsKind::Standard,
        price: Money::from_fen(990),
        max_per_order: 5,
        trial: false,
        listed,
    }
}

/// A deterministic, distinct fingerprint per `(seed, i)`.
pub fn fake_fingerprint(seed: u64, i: u64) -> Fingerprint {
    let mut fp = [0u8; 32];
    fp[..8].copy_from_slice(&seed.to_le_bytes());
    fp[8..16].copy_from_slice(&i.to_le_bytes());
    fp[16..24].copy_from_slice(&(i.wrapping_mul(0x9e37_79b9_7f4a_7c15)).to_le_bytes());
    Fingerprint(fp)
}

/// `n` keys with fake fingerprints `seed, 0..n` and a ciphertext the size of a real sealed key.
pub fn fake_keys(shop: ShopId, product: ProductId, batch: BatchId, seed: u64, n: u64) -> Vec<NewCardKey> {
    (0..n)
        .map(|i| NewCardKey {
            shop_id: shop,
            product_id: product,
            batch_id: batch,
            fingerprint: fake_fingerprint(seed, i),
            ciphertext: vec![(i % 251) as u8; 24 + 30 + 16],
            key_version: 1,
            created_at: T0,
        })
        .collect()
}

#[derive(Clone, Copy)]
pub(crate) struct Fixture {
    pub(crate) owner: UserId,
    pub(crate) shop: ShopId,
    pub(crate) product: ProductId,
}

/// A merchant with a shop and one listed product, committed.
pub(crate) async fn merchant_with_product(store: &dyn Store, name: &str) -> Fixture {
    let mut tx = store.begin(TxMode::Write).await.unwrap();
    let owner = tx.insert_user(&new_user(name, Role::Merchant)).await.unwrap();
    let shop = tx
        .insert_shop(&NewShop {
            owner_id: owner,
            name: format!("{name}'s shop"),
            description: "d".into(),
            opened_at: T0,
        })
        .await
        .unwrap();
    let product = tx.insert_product(shop, &draft(&format!("{name} card"), true), T0).await.unwrap();
    tx.commit().await.unwrap();
    Fixture { owner, shop, product }
}

/// Creates a batch and imports `n` keys into it, committed.
async fn import(store: &dyn Store, f: &Fixture, seed: u64, n: u64) -> BatchId {
    let mut tx = store.begin(TxMode::Write).await.unwrap();
    let batch = tx
        .insert_batch(&NewBatch {
            shop_id: f.shop,
            product_id: f.product,
            created_by: f.owner,
            created_at: T0,
            source: "upload".into(),
        })
        .await
        .unwrap();
    tx.insert_card_keys(&fake_keys(f.shop, f.product, batch, seed, n)).await.unwrap();
    tx.commit().await.unwrap();
    batch
}

async fn stock(store: &dyn Store, product: ProductId) -> (i64, i64) {
    let mut tx = store.begin(TxMode::Read).await.unwrap();
    let counter = tx.product_by_id(product).await.unwrap().unwrap().stock_available;
    let counted = tx.count_card_keys(product, KeyState::Available).await.unwrap();
    (counter, counted)
}

pub async fn migrate_is_idempotent(store: &dyn Store) {
    store.migrate().await.unwrap();
    store.migrate().await.unwrap();
    store.ping().await.unwrap();
    assert!(matches!(store.backend(), Backend::Sqlite | Backend::Postgres));
}

pub async fn user_roundtrip(store: &dyn Store) {
    let mut tx = store.begin(TxMode::Write).await.unwrap();
    let alice = tx.insert_user(&new_user("alice", Role::Buyer)).await.unwrap();
    let mut bob_new = new_user("鲍勃", Role::Merchant);
    bob_new.email = None;
    let bob = tx.insert_user(&bob_new).await.unwrap();
    tx.commit().await.unwrap();

    let mut tx = store.begin(TxMode::Read).await.unwrap();
    let a = tx.user_by_id(alice).await.unwrap().unwrap();
    assert_eq!(a.username, "alice");
    assert_eq!(a.email.as_deref(), Some("alice@example.com"));
    assert_eq!(a.role, Role::Buyer);
    assert_eq!(a.created_at, T0);
    let b = tx.user_by_username("鲍勃").await.unwrap().unwrap();
    assert_eq!((b.id, b.email.clone(), b.role), (bob, None, Role::Merchant));
    assert!(tx.user_by_username("ALICE").await.unwrap().is_none(), "lookup is exact");
    assert!(tx.user_by_id(UserId(alice.0 + bob.0 + 100)).await.unwrap().is_none());
    let listed: Vec<UserId> = tx.list_users(10, 0).await.unwrap().into_iter().map(|u| u.id).collect();
    assert_eq!(listed, vec![bob, alice], "newest first");
    let page2: Vec<UserId> = tx.list_users(1, 1).await.unwrap().into_iter().map(|u| u.id).collect();
    assert_eq!(page2, vec![alice]);
    assert_eq!(tx.count_users_with_role(Role::Buyer).await.unwrap(), 1);
    assert_eq!(tx.count_users_with_role(Role::Admin).await.unwrap(), 0);
}

pub async fn duplicate_username_conflicts(store: &dyn Store) {
    let mut tx = store.begin(TxMode::Write).await.unwrap();
    tx.insert_user(&new_user("carol", Role::Buyer)).await.unwrap();
    tx.commit().await.unwrap();
    let mut tx = store.begin(TxMode::Write).await.unwrap();
    let err = tx.insert_user(&new_user("carol", Role::Merchant)).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict("users.username")), "{err:?}");
    assert!(!err.to_string().contains("carol"), "errors never carry values: {err}");
}

pub async fn role_and_password_changes(store: &dyn Store) {
    let mut tx = store.begin(TxMode::Write).await.unwrap();
    let dave = tx.insert_user(&new_user("dave", Role::Buyer)).await.unwrap();
    tx.set_user_role(dave, Role::Admin).await.unwrap();
    tx.set_password_hash(dave, "$argon2id$new").await.unwrap();
    let missing = UserId(dave.0 + 1000);
    assert!(matches!(tx.set_user_role(missing, Role::Admin).await, Err(StoreError::NotFound)));
    assert!(matches!(tx.set_password_hash(missing, "x").await, Err(StoreError::NotFound)));
    tx.commit().await.unwrap();
    let mut tx = store.begin(TxMode::Read).await.unwrap();
    let d = tx.user_by_id(dave).await.unwrap().unwrap();
    assert_eq!((d.role, d.password_hash.as_str()), (Role::Admin, "$argon2id$new"));
    assert_eq!(tx.count_users_with_role(Role::Admin).await.unwrap(), 1);
}

pub async fn sessions_lifecycle(store: &dyn Store) {
    let mut tx = store.begin(TxMode::Write).await.unwrap();
    let erin = tx.insert_user(&new_user("erin", Role::Buyer)).await.unwrap();
    let session = |b: u8, expires: i64| Session {
        token_hash: vec![b; 32],
        user_id: erin,
        created_at: T0,
        expires_at: at(expires),
        ip: Some("203.0.113.7".into()),
        user_agent: Some("Mozilla/5.0 测试".into()),
        last_seen_at: T0,
    };
    let (s1, s2, s3) = (session(1, 1_000), session(2, 5_000), session(3, 9_000));
    for s in [&s1, &s2, &s3] {
        tx.insert_session(s).await.unwrap();
    }
    tx.commit().await.unwrap();

    let mut tx = store.begin(TxMode::Write).await.unwrap();
    let (found, user) = tx.session_with_user(&s1.token_hash, at(999)).await.unwrap().unwrap();
    assert_eq!((found, user.id), (s1.clone(), erin));
    assert!(tx.session_with_user(&s1.token_hash, at(1_000)).await.unwrap().is_none(), "expired at expires_at");
    assert!(tx.session_with_user(&[9; 32], T0).await.unwrap().is_none());
    assert_eq!(tx.delete_expired_sessions(at(1_000)).await.unwrap(), 1);
    tx.delete_session(&s2.token_hash).await.unwrap();
    assert!(tx.session_with_user(&s2.token_hash, T0).await.unwrap().is_none());
    assert!(tx.session_with_user(&s3.token_hash, T0).await.unwrap().is_some());
    assert_eq!(tx.delete_user_sessions(erin).await.unwrap(), 1);
    assert!(tx.session_with_user(&s3.token_hash, T0).await.unwrap().is_none());
    tx.commit().await.unwrap();
}

pub async fn sessions_are_listed_touched_and_ended_one_by_one(store: &dyn Store) {
    let mut tx = store.begin(TxMode::Write).await.unwrap();
    let fay = tx.insert_user(&new_user("fay_sessions", Role::Buyer)).await.unwrap();
    let gus = tx.insert_user(&new_user("gus_sessions", Role::Buyer)).await.unwrap();
    let session = |b: u8, user: UserId, expires: i64| Session {
        token_hash: vec![b; 32],
        user_id: user,
        created_at: T0,
        expires_at: at(expires),
        ip: if b == 1 { None } else { Some("2001:db8::1".into()) },
        user_agent: if b == 1 { None } else { Some("curl/8".into()) },
        last_seen_at: T0,
    };
    let (f1, f2, f3, g1) =
        (session(1, fay, 9_000), session(2, fay, 9_000), session(3, fay, 100), session(4, gus, 9_000));
    for s in [&f1, &f2, &f3, &g1] {
        tx.insert_session(s).await.unwrap();
    }
    tx.commit().await.unwrap();

    let mut tx = store.begin(TxMode::Write).await.unwrap();
    assert!(tx.touch_session(&f1.token_hash, at(500), at(400)).await.unwrap(), "stale: updated");
    assert!(!tx.touch_session(&f1.token_hash, at(600), at(400)).await.unwrap(), "fresh: left alone");
    assert!(!tx.touch_session(&[9; 32], at(600), at(10_000)).await.unwrap(), "unknown");
    let live = tx.list_user_sessions(fay, at(200)).await.unwrap();
    assert_eq!(live.len(), 2, "the expired one is not listed, nor the other user's");
    assert_eq!(live[0].token_hash, f1.token_hash, "most recently seen first");
    assert_eq!(live[0].last_seen_at, at(500));
    assert_eq!((live[0].ip.as_deref(), live[0].user_agent.as_deref()), (None, None));
    assert_eq!(live[1], f2);
    assert!(!tx.delete_user_session(fay, &g1.token_hash).await.unwrap(), "not fay's session");
    assert!(tx.session_with_user(&g1.token_hash, T0).await.unwrap().is_some());
    assert!(tx.delete_user_session(fay, &f2.token_hash).await.unwrap());
    assert!(!tx.delete_user_session(fay, &f2.token_hash).await.unwrap(), "already gone");
    assert_eq!(tx.list_user_sessions(fay, at(200)).await.unwrap().len(), 1);
    tx.commit().await.unwrap();
}

pub async fn api_tokens_lifecycle(store: &dyn Store) {
    let mut tx = store.begin(TxMode::Write).await.unwrap();
    let frank = tx.insert_user(&new_user("frank", Role::Merchant)).await.unwrap();
    let grace = tx.insert_user(&new_user("grace", Role::Merchant)).await.unwrap();
    let token = |user: UserId, name: &str, hash: u8| NewApiToken {
        user_id: user,
        name: name.into(),
        prefix: format!("kb_{hash}"),
        token_hash: vec![hash; 32],
        created_at: T0,
    };
    let t1 = tx.insert_api_token(&token(frank, "ci", 1)).await.unwrap();
    let t2 = tx.insert_api_token(&token(frank, "erp", 2)).await.unwrap();
    let g1 = tx.insert_api_token(&token(grace, "mine", 3)).await.unwrap();
    tx.commit().await.unwrap();

    let mut tx = store.begin(TxMode::Write).await.unwrap();
    let err = tx.insert_api_token(&token(grace, "dup", 1)).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict("api_tokens.token_hash")), "{err:?}");
    drop(tx);

    let mut tx = store.begin(TxMode::Write).await.unwrap();
    let listed = tx.list_api_tokens(frank).await.unwrap();
    assert_eq!(listed.iter().map(|t| t.id).collect::<Vec<_>>(), vec![t2, t1], "newest first, own only");
    assert_eq!((listed[1].name.as_str(), listed[1].prefix.as_str(), listed[1].revoked_at), ("ci", "kb_1", None));
    let (found, user) = tx.api_token_with_user(&[1; 32]).await.unwrap().unwrap();
    assert_eq!((found.id, user.id), (t1, frank));

    assert!(!tx.revoke_api_token(frank, g1, at(10)).await.unwrap(), "cannot revoke another user's token");
    assert!(tx.revoke_api_token(frank, t1, at(10)).await.unwrap());
    assert!(!tx.revoke_api_token(frank, t1, at(20)).await.unwrap(), "already revoked");
    assert!(!tx.revoke_api_token(frank, ApiTokenId(g1.0 + 100), at(20)).await.unwrap());
    tx.commit().await.unwrap();

    let mut tx = store.begin(TxMode::Read).await.unwrap();
    assert!(tx.api_token_with_user(&[1; 32]).await.unwrap().is_none(), "revoked token does not authenticate");
    assert!(tx.api_token_with_user(&[3; 32]).await.unwrap().is_some(), "grace's token untouched");
    let listed = tx.list_api_tokens(frank).await.unwrap();
    assert_eq!(
        listed.iter().find(|t| t.id == t1).and_then(|t| t.revoked_at),
        Some(at(10)),
        "revoked ones still listed"
    );
}

pub async fn shops_lifecycle(store: &dyn Store) {
    let mut tx = store.begin(TxMode::Write).await.unwrap();
    let heidi = tx.insert_user(&new_user("heidi", Role::Merchant)).await.unwrap();
    let ivan = tx.insert_user(&new_user("ivan", Role::Merchant)).await.unwrap();
    let judy = tx.insert_user(&new_user("judy", Role::Merchant)).await.unwrap();
    let shop = |owner: UserId, name: &str| NewShop {
        owner_id: owner,
        name: name.into(),
        description: "desc".into(),
        opened_at: T0,
    };
    let h = tx.insert_shop(&shop(heidi, "海蒂小铺")).await.unwrap();
    let i = tx.insert_shop(&shop(ivan, "Ivan Keys")).await.unwrap();
    tx.commit().await.unwrap();

    let mut tx = store.begin(TxMode::Write).await.unwrap();
    let err = tx.insert_shop(&shop(heidi, "Second")).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict("shops.owner")), "{err:?}");
    drop(tx);
    let mut tx = store.begin(TxMode::Write).await.unwrap();
    let err = tx.insert_shop(&shop(judy, "Ivan Keys")).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict("shops.name")), "{err:?}");
    drop(tx);

    let mut tx = store.begin(TxMode::Write).await.unwrap();
    let err = tx.update_shop(h, "Ivan Keys", "x").await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict("shops.name")), "{err:?}");
    drop(tx);

    let mut tx = store.begin(TxMode::Write).await.unwrap();
    tx.update_shop(h, "Heidi's", "new description").await.unwrap();
    tx.set_shop_certification(h, CertificationLevel::Enterprise).await.unwrap();
    tx.set_shop_suspended(i, true, Some("fraud reports")).await.unwrap();
    let missing = ShopId(h.0 + i.0 + 100);
    assert!(matches!(tx.update_shop(missing, "n", "d").await, Err(StoreError::NotFound)));
    assert!(matches!(tx.set_shop_certification(missing, CertificationLevel::Gold).await, Err(StoreError::NotFound)));
    assert!(matches!(tx.set_shop_suspended(missing, true, None).await, Err(StoreError::NotFound)));
    tx.commit().await.unwrap();

    let mut tx = store.begin(TxMode::Write).await.unwrap();
    let got = tx.shop_by_id(h).await.unwrap().unwrap();
    assert_eq!(
        (got.owner_id, got.name.as_str(), got.description.as_str(), got.certification, got.suspended),
        (heidi, "Heidi's", "new description", CertificationLevel::Enterprise, false)
    );
    assert_eq!(got.opened_at, T0);
    let got = tx.shop_by_owner(ivan).await.unwrap().unwrap();
    assert_eq!(
        (got.id, got.certification, got.suspended, got.suspended_reason.as_deref()),
        (i, CertificationLevel::None, true, Some("fraud reports"))
    );
    assert!(tx.shop_by_owner(judy).await.unwrap().is_none());
    let all: Vec<ShopId> = tx.list_shops(10, 0).await.unwrap().into_iter().map(|s| s.id).collect();
    assert_eq!(all, vec![h, i], "oldest first");
    tx.set_shop_suspended(i, false, Some("ignored")).await.unwrap();
    let got = tx.shop_by_id(i).await.unwrap().unwrap();
    assert_eq!((got.suspended, got.suspended_reason), (false, None), "reason cleared on reinstatement");
    tx.commit().await.unwrap();
}

pub async fn products_and_listing(store: &dyn Store) {
    let a = merchant_with_product(store, "kate").await;
    let b = merchant_with_product(store, "leo").await;
    let mut tx = store.begin(TxMode::Write).await.unwrap();
    let hidden = tx.insert_product(a.shop, &draft("hidden", false), at(1)).await.unwrap();
    let mut changed = draft("kate card v2", true);
    changed.category = Category::SoftwareLicense;
    changed.kind = GoodsKind::Custom;
    changed.price = Money::from_fen(12_345);
    changed.max_per_order = 1;
    changed.trial = true;
    tx.update_product(a.product, &changed, at(50)).await.unwrap();
    assert!(matches!(tx.update_product(ProductId(hidden.0 + 1000), &changed, at(50)).await, Err(StoreError::NotFound)));
    tx.commit().await.unwrap();

    let mut tx = store.begin(TxMode::Read).await.unwrap();
    let p = tx.product_by_id(a.product).await.unwrap().unwrap();
    assert_eq!(
        (
            p.shop_id,
            p.title.as_str(),
            p.description.as_str(),
            p.category,
            p.kind,
            p.price,
            p.max_per_order,
            p.trial,
            p.listed
        ),
        (
            a.shop,
            "kate card v2",
            "about kate card v2",
            Category::SoftwareLicense,
            GoodsKind::Custom,
            Money::from_fen(12_345),
            1,
            true,
            true
        )
    );
    assert_eq!((p.stock_available, p.created_at, p.updated_at), (0, T0, at(50)));
    let own: Vec<ProductId> = tx.list_shop_products(a.shop).await.unwrap().into_iter().map(|p| p.id).collect();
    assert_eq!(own, vec![hidden, a.product], "newest first, unlisted included");
    let listed: Vec<ProductId> =
        tx.list_listed_products(10, 0).await.unwrap().into_iter().map(|l| l.product.id).collect();
    assert_eq!(listed, vec![b.product, a.product], "unlisted excluded, newest first");
    drop(tx);

    let mut tx = store.begin(TxMode::Write).await.unwrap();
    tx.set_shop_suspended(b.shop, true, Some("review")).await.unwrap();
    tx.set_shop_certification(a.shop, CertificationLevel::Verified).await.unwrap();
    tx.commit().await.unwrap();
    let mut tx = store.begin(TxMode::Read).await.unwrap();
    let listed = tx.list_listed_products(10, 0).await.unwrap();
    assert_eq!(listed.len(), 1, "suspended shop's products excluded");
    assert_eq!(
        (listed[0].product.id, listed[0].shop_name.as_str(), listed[0].shop_certification, listed[0].shop_opened_at),
        (a.product, "kate's shop", CertificationLevel::Verified, T0)
    );
    assert!(tx.list_listed_products(10, 1).await.unwrap().is_empty());
}

pub async fn card_key_import_keeps_stock_exact(store: &dyn Store) {
    let f = merchant_with_product(store, "mallory").await;
    let batch = import(store, &f, 1, 10_000).await;
    let second = import(store, &f, 2, 5).await;
    assert_eq!(stock(store, f.product).await, (10_005, 10_005));

    let mut tx = store.begin(TxMode::Read).await.unwrap();
    let batches = tx.list_batches(f.product, None, 100).await.unwrap();
    assert_eq!(batches.iter().map(|b| b.id).collect::<Vec<_>>(), vec![second, batch], "newest first");
    let b = tx.batch_by_id(batch).await.unwrap().unwrap();
    assert_eq!((b.shop_id, b.product_id, b.created_by, b.source.as_str()), (f.shop, f.product, f.owner, "upload"));
    assert_eq!((b.available, b.sold, b.voided, b.voided_at), (10_000, 0, 0, None));
    assert!(tx.batch_by_id(BatchId(second.0 + 100)).await.unwrap().is_none());

    let first_page = tx.list_card_keys(f.product, Some(KeyState::Available), 3, 0).await.unwrap();
    assert_eq!(first_page.len(), 3);
    let k = &first_page[0];
    assert_eq!(
        (k.shop_id, k.product_id, k.batch_id, k.key_version, k.state),
        (f.shop, f.product, batch, 1, KeyState::Available)
    );
    assert_eq!(k.fingerprint, fake_fingerprint(1, 0), "oldest first");
    assert_eq!(k.ciphertext, vec![0u8; 70]);
    assert_eq!(tx.card_key_by_id(k.id).await.unwrap().as_ref(), Some(k));
    assert!(first_page.windows(2).all(|w| w[0].id < w[1].id));
    assert_eq!(tx.list_card_keys(f.product, None, 100_000, 0).await.unwrap().len(), 10_005);
    assert!(tx.list_card_keys(f.product, Some(KeyState::Sold), 10, 0).await.unwrap().is_empty());
    assert_eq!(tx.list_card_keys(f.product, None, 10, 10_000).await.unwrap().len(), 5);
}

pub async fn duplicate_fingerprint_conflicts_and_writes_nothing(store: &dyn Store) {
    let f = merchant_with_product(store, "niaj").await;
    let other = merchant_with_product(store, "olivia").await;
    import(store, &f, 7, 10).await;

    // Fresh keys followed by one the shop already holds, in one call: the whole transaction is void.
    let mut tx = store.begin(TxMode::Write).await.unwrap();
    let batch = tx
        .insert_batch(&NewBatch {
            shop_id: f.shop,
            product_id: f.product,
            created_by: f.owner,
            created_at: T0,
            source: "api".into(),
        })
        .await
        .unwrap();
    let mut keys = fake_keys(f.shop, f.product, batch, 8, 5_000);
    keys.extend(fake_keys(f.shop, f.product, batch, 7, 1));
    let err = tx.insert_card_keys(&keys).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict("card_keys.fingerprint")), "{err:?}");
    drop(tx);
    assert_eq!(stock(store, f.product).await, (10, 10), "nothing of the failed import is visible");
    let mut tx = store.begin(TxMode::Read).await.unwrap();
    assert_eq!(tx.list_batches(f.product, None, 100).await.unwrap().len(), 1);
    drop(tx);

    // A duplicate within one call is caught the same way.
    let mut tx = store.begin(TxMode::Write).await.unwrap();
    let batch = tx
        .insert_batch(&NewBatch {
            shop_id: f.shop,
            product_id: f.product,
            created_by: f.owner,
            created_at: T0,
            source: "cli".into(),
        })
        .await
        .unwrap();
    let mut keys = fake_keys(f.shop, f.product, batch, 9, 3);
    keys.extend(fake_keys(f.shop, f.product, batch, 9, 1));
    assert!(matches!(tx.insert_card_keys(&keys).await, Err(StoreError::Conflict("card_keys.fingerprint"))));
    drop(tx);

    // The same keys in another shop are fine: fingerprints are unique per shop.
    import(store, &other, 7, 10).await;
    assert_eq!(stock(store, other.product).await, (10, 10));
    assert_eq!(stock(store, f.product).await, (10, 10));
}

pub async fn existing_fingerprints_finds_only_own_shop(store: &dyn Store) {
    let f = merchant_with_product(store, "peggy").await;
    let other = merchant_with_product(store, "quentin").await;
    import(store, &f, 11, 2_500).await;
    import(store, &other, 12, 10).await;
    let batch = import(store, &f, 13, 3).await;
    let mut tx = store.begin(TxMode::Write).await.unwrap();
    tx.void_batch(batch, at(1)).await.unwrap();
    tx.commit().await.unwrap();

    // Spans several lookup chunks: 2,500 held, 2,500 new, the other shop's 10, and 3 voided (still duplicates).
    let mut probe: Vec<Fingerprint> = (0..5_000).map(|i| fake_fingerprint(11, i)).collect();
    probe.extend((0..10).map(|i| fake_fingerprint(12, i)));
    probe.extend((0..3).map(|i| fake_fingerprint(13, i)));
    let mut tx = store.begin(TxMode::Read).await.unwrap();
    let mut found = tx.existing_fingerprints(f.shop, &probe).await.unwrap();
    found.sort();
    let mut expected: Vec<Fingerprint> =
        (0..2_500).map(|i| fake_fingerprint(11, i)).chain((0..3).map(|i| fake_fingerprint(13, i))).collect();
    expected.sort();
    assert_eq!(found, expected);
    assert!(tx.existing_fingerprints(f.shop, &[]).await.unwrap().is_empty());
}

pub async fn void_batch_updates_counts_and_stock(store: &dyn Store) {
    let f = merchant_with_product(store, "rupert").await;
    let keep = import(store, &f, 21, 30).await;
    let bad = import(store, &f, 22, 20).await;
    assert_eq!(stock(store, f.product).await, (50, 50));

    let mut tx = store.begin(TxMode::Write).await.unwrap();
    assert_eq!(tx.void_batch(bad, at(77)).await.unwrap(), 20);
    assert!(matches!(tx.void_batch(BatchId(bad.0 + 100), at(77)).await, Err(StoreError::NotFound)));
    tx.commit().await.unwrap();
    assert_eq!(stock(store, f.product).await, (30, 30));

    let mut tx = store.begin(TxMode::Write).await.unwrap();
    let b = tx.batch_by_id(bad).await.unwrap().unwrap();
    assert_eq!((b.available, b.sold, b.voided, b.voided_at), (0, 0, 20, Some(at(77))));
    let k = tx.batch_by_id(keep).await.unwrap().unwrap();
    assert_eq!((k.available, k.voided, k.voided_at), (30, 0, None));
    assert_eq!(tx.count_card_keys(f.product, KeyState::Voided).await.unwrap(), 20);
    assert_eq!(tx.void_batch(bad, at(99)).await.unwrap(), 0, "voiding twice voids nothing more");
    assert_eq!(tx.batch_by_id(bad).await.unwrap().unwrap().voided_at, Some(at(77)), "first voiding time kept");
    tx.commit().await.unwrap();
    assert_eq!(stock(store, f.product).await, (30, 30));
}

/// A product whose batches hold keys in every state (sold, voided by re-issue, voided with the batch, still
/// available), for checks of the stored batch counts such as migration 0038's backfill.
pub async fn product_with_keys_in_every_state(store: &dyn Store) -> ProductId {
    let f = merchant_with_product(store, "vesta").await;
    let [_, _, c] = [import(store, &f, 301, 3).await, import(store, &f, 302, 3).await, import(store, &f, 303, 2).await];
    let mut tx = store.begin(TxMode::Write).await.unwrap();
    let order = tx.insert_order(&new_order(&f, "KVESTA0000000000000000001", None, 4)).await.unwrap();
    assert_eq!(tx.allocate_keys(f.product, order, 4).await.unwrap().len(), 4);
    tx.reissue_key(order, 1, f.product, at(10)).await.unwrap().unwrap();
    assert_eq!(tx.void_batch(c, at(20)).await.unwrap(), 2);
    tx.commit().await.unwrap();
    f.product
}

/// Each batch's stored counts (available, sold, voided) beside the counts of its keys read from the rows.
pub async fn assert_batch_counts_are_the_keys(store: &dyn Store, product: ProductId, after: &str) {
    type Counts = std::collections::BTreeMap<i64, (i64, i64, i64)>;
    let mut tx = store.begin(TxMode::Read).await.unwrap();
    let stored: Counts = tx
        .list_batches(product, None, 1_000)
        .await
        .unwrap()
        .iter()
        .map(|b| (b.id.0, (b.available, b.sold, b.voided)))
        .collect();
    let mut real: Counts = stored.keys().map(|id| (*id, (0, 0, 0))).collect();
    for k in tx.list_card_keys(product, None, 1_000_000, 0).await.unwrap() {
        let c = real.entry(k.batch_id.0).or_default();
        match k.state {
            KeyState::Available => c.0 += 1,
            KeyState::Sold => c.1 += 1,
            KeyState::Voided => c.2 += 1,
        }
    }
    assert_eq!(stored, real, "stored batch counts differ from the keys after {after}");
}

/// The batch counts the key page shows are stored on the batch; every transition of a key (import, sale across
/// two batches, a short or rolled-back sale, re-issue within one batch and across two, voiding) keeps them equal
/// to the keys' real states, and the keyset pages of batches return every batch once, newest first.
pub async fn batch_counts_stay_exact_and_batches_page_by_keyset(store: &dyn Store) {
    let f = merchant_with_product(store, "tally").await;
    let other = merchant_with_product(store, "umber").await;
    let mut batches = Vec::new();
    for (seed, n) in [(101, 3), (102, 2), (103, 4), (104, 1), (105, 1), (106, 1), (107, 1)] {
        batches.push(import(store, &f, seed, n).await);
    }
    import(store, &other, 201, 2).await;
    import(store, &other, 202, 2).await;
    let [a, b, c, d, e, g, ..] = batches[..] else { unreachable!("seven batches") };
    let counts = |tx_batches: &[crate::Batch], id: BatchId| {
        tx_batches.iter().find(|x| x.id == id).map(|x| (x.available, x.sold, x.voided))
    };
    assert_batch_counts_are_the_keys(store, f.product, "import").await;
    let mut tx = store.begin(TxMode::Read).await.unwrap();
    let page = tx.list_batches(f.product, None, 100).await.unwrap();
    assert_eq!((counts(&page, a), counts(&page, c)), (Some((3, 0, 0)), Some((4, 0, 0))));
    drop(tx);

    // A sale of four takes a's three keys and one of b's, in one allocation.
    let mut tx = store.begin(TxMode::Write).await.unwrap();
    let first = tx.insert_order(&new_order(&f, "KBATCH00000000000000000001", None, 4)).await.unwrap();
    assert_eq!(tx.allocate_keys(f.product, first, 4).await.unwrap().len(), 4);
    let short = tx.insert_order(&new_order(&f, "KBATCH00000000000000000002", None, 5)).await.unwrap();
    assert!(tx.allocate_keys(f.product, short, 100).await.unwrap().is_empty(), "a short sale changes nothing");
    tx.commit().await.unwrap();
    assert_batch_counts_are_the_keys(store, f.product, "a sale across two batches").await;
    let mut tx = store.begin(TxMode::Read).await.unwrap();
    let page = tx.list_batches(f.product, None, 100).await.unwrap();
    assert_eq!((counts(&page, a), counts(&page, b)), (Some((0, 3, 0)), Some((1, 1, 0))));
    drop(tx);

    // Re-issue across batches (a's key voided, b's last key sold), then again (b's voided, one of c's sold).
    let mut tx = store.begin(TxMode::Write).await.unwrap();
    tx.reissue_key(first, 1, f.product, at(10)).await.unwrap().unwrap();
    tx.reissue_key(first, 1, f.product, at(20)).await.unwrap().unwrap();
    tx.commit().await.unwrap();
    assert_batch_counts_are_the_keys(store, f.product, "two re-issues across batches").await;
    // A sale and a re-issue within one batch: c's key voided, another of c's sold.
    let mut tx = store.begin(TxMode::Write).await.unwrap();
    let third = tx.insert_order(&new_order(&f, "KBATCH00000000000000000004", None, 1)).await.unwrap();
    assert_eq!(tx.allocate_keys(f.product, third, 1).await.unwrap().len(), 1);
    tx.reissue_key(third, 1, f.product, at(30)).await.unwrap().unwrap();
    tx.commit().await.unwrap();
    assert_batch_counts_are_the_keys(store, f.product, "a re-issue within one batch").await;
    let mut tx = store.begin(TxMode::Read).await.unwrap();
    let page = tx.list_batches(f.product, None, 100).await.unwrap();
    assert_eq!(
        (counts(&page, a), counts(&page, b), counts(&page, c)),
        (Some((0, 2, 1)), Some((0, 1, 1)), Some((1, 2, 1)))
    );
    drop(tx);

    // Voiding moves only the available keys, once.
    let mut tx = store.begin(TxMode::Write).await.unwrap();
    assert_eq!(tx.void_batch(d, at(40)).await.unwrap(), 1);
    assert_eq!(tx.void_batch(c, at(40)).await.unwrap(), 1);
    assert_eq!(tx.void_batch(c, at(50)).await.unwrap(), 0);
    tx.commit().await.unwrap();
    assert_batch_counts_are_the_keys(store, f.product, "voiding").await;
    assert_batch_counts_are_the_keys(store, other.product, "another shop's import").await;
    assert_eq!(stock(store, f.product).await, (3, 3));

    // A rolled-back sale changes no count. It comes after every other sale: on PostgreSQL a dropped
    // transaction's row locks last until its connection flushes the rollback, just after the drop, and a sale
    // meanwhile would skip the locked keys (SKIP LOCKED) and take others than the steps above expect.
    let mut tx = store.begin(TxMode::Write).await.unwrap();
    let dropped = tx.insert_order(&new_order(&f, "KBATCH00000000000000000003", None, 2)).await.unwrap();
    assert_eq!(tx.allocate_keys(f.product, dropped, 2).await.unwrap().len(), 2);
    drop(tx);
    assert_batch_counts_are_the_keys(store, f.product, "a rolled-back sale").await;
    let mut tx = store.begin(TxMode::Read).await.unwrap();
    let page = tx.list_batches(f.product, None, 100).await.unwrap();
    assert_eq!((counts(&page, e), counts(&page, g)), (Some((1, 0, 0)), Some((1, 0, 0))), "a rolled-back sale");
    drop(tx);
    assert_eq!(stock(store, f.product).await, (3, 3));

    // Pages of three: every batch once, newest first, the last page short, nothing after it.
    let mut tx = store.begin(TxMode::Read).await.unwrap();
    let (mut seen, mut sizes, mut before) = (Vec::new(), Vec::new(), None);
    loop {
        let page = tx.list_batches(f.product, before, 3).await.unwrap();
        let Some(last) = page.last() else { break };
        before = Some(last.id);
        sizes.push(page.len());
        assert!(page.iter().all(|x| x.product_id == f.product), "only this product's batches");
        seen.extend(page.iter().map(|x| x.id));
    }
    assert_eq!(sizes, vec![3, 3, 1]);
    let mut newest_first = batches.clone();
    newest_first.reverse();
    assert_eq!(seen, newest_first, "every batch exactly once, newest first");
    assert_eq!(tx.list_batches(f.product, None, 100).await.unwrap().len(), 7);
    assert_eq!(
        tx.list_batches(f.product, Some(c), 100).await.unwrap().iter().map(|x| x.id).collect::<Vec<_>>(),
        [b, a]
    );
    assert!(tx.list_batches(f.product, Some(a), 100).await.unwrap().is_empty());
}

pub async fn dropped_transaction_is_rolled_back(store: &dyn Store) {
    let f = merchant_with_product(store, "sybil").await;
    let mut tx = store.begin(TxMode::Write).await.unwrap();
    tx.insert_user(&new_user("trent", Role::Buyer)).await.unwrap();
    let batch = tx
        .insert_batch(&NewBatch {
            shop_id: f.shop,
            product_id: f.product,
            created_by: f.owner,
            created_at: T0,
            source: "upload".into(),
        })
        .await
        .unwrap();
    tx.insert_card_keys(&fake_keys(f.shop, f.product, batch, 31, 100)).await.unwrap();
    tx.set_shop_suspended(f.shop, true, Some("x")).await.unwrap();
    drop(tx);

    let mut tx = store.begin(TxMode::Read).await.unwrap();
    assert!(tx.user_by_username("trent").await.unwrap().is_none());
    assert!(tx.batch_by_id(batch).await.unwrap().is_none());
    assert!(!tx.shop_by_id(f.shop).await.unwrap().unwrap().suspended);
    drop(tx);
    assert_eq!(stock(store, f.product).await, (0, 0));
    // The writer is free again after the drop.
    import(store, &f, 31, 100).await;
    assert_eq!(stock(store, f.product).await, (100, 100));
}

pub async fn data_keys_roundtrip_and_conflict(store: &dyn Store) {
    let key = |purpose: &str, version: i32| DataKeyRecord {
        purpose: purpose.into(),
        version,
        wrapped: vec![version as u8; 72],
        created_at: at(version.into()),
    };
    let mut tx = store.begin(TxMode::Write).await.unwrap();
    assert!(tx.data_keys().await.unwrap().is_empty());
    tx.insert_data_key(&key("card_keys", 2)).await.unwrap();
    tx.insert_data_key(&key("card_keys", 1)).await.unwrap();
    tx.insert_data_key(&key("fingerprint", 1)).await.unwrap();
    tx.commit().await.unwrap();

    let mut tx = store.begin(TxMode::Write).await.unwrap();
    let err = tx.insert_data_key(&key("card_keys", 2)).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict("data_keys.version")), "{err:?}");
    drop(tx);
    let mut tx = store.begin(TxMode::Read).await.unwrap();
    assert_eq!(tx.data_keys().await.unwrap(), vec![key("card_keys", 1), key("card_keys", 2), key("fingerprint", 1)]);
}

pub async fn concurrent_read_sees_consistent_stock(store: &dyn Store) {
    let f = merchant_with_product(store, "uma").await;
    import(store, &f, 41, 1_000).await;

    let mut writer = store.begin(TxMode::Write).await.unwrap();
    let batch = writer
        .insert_batch(&NewBatch {
            shop_id: f.shop,
            product_id: f.product,
            created_by: f.owner,
            created_at: T0,
            source: "api".into(),
        })
        .await
        .unwrap();
    writer.insert_card_keys(&fake_keys(f.shop, f.product, batch, 42, 500)).await.unwrap();

    // While the write is open, a reader is not blocked and sees the committed state only, counter and rows alike.
    let mut reader = store.begin(TxMode::Read).await.unwrap();
    let before_counter = reader.product_by_id(f.product).await.unwrap().unwrap().stock_available;
    let before_rows = reader.count_card_keys(f.product, KeyState::Available).await.unwrap();
    assert_eq!((before_counter, before_rows), (1_000, 1_000));

    writer.commit().await.unwrap();
    drop(reader);
    assert_eq!(stock(store, f.product).await, (1_500, 1_500));

    // Readers started while another write is open: every snapshot is internally consistent.
    let mut writer = store.begin(TxMode::Write).await.unwrap();
    writer.void_batch(batch, at(5)).await.unwrap();
    let mut mid = Vec::new();
    for _ in 0..4 {
        mid.push(stock(store, f.product).await);
    }
    writer.commit().await.unwrap();
    for (counter, rows) in mid {
        assert_eq!(counter, rows);
        assert_eq!(counter, 1_500, "uncommitted void invisible");
    }
    assert_eq!(stock(store, f.product).await, (1_000, 1_000));
}

// ---- commerce ----

fn new_order(f: &Fixture, no: &str, buyer: Option<UserId>, quantity: i64) -> crate::NewOrder {
    crate::NewOrder {
        order_no: no.to_string(),
        buyer_id: buyer,
        guest_email: buyer.is_none().then(|| "guest@example.com".to_string()),
        guest_query_hash: None,
        shop_id: f.shop,
        product_id: f.product,
        quantity,
        unit_price: Money::from_fen(990),
        amount: Money::from_fen(990 * quantity),
        warranty_snapshot: r#"{"warranty":"none"}"#.into(),
        warranty_sha256: vec![7; 32],
        warranty_ack: true,
        created_at: T0,
        expires_at: at(30 * 60_000),
        custom_answers: None,
    }
}

pub async fn orders_roundtrip_and_state_compare_and_set(store: &dyn Store) {
    use kabao_core::order::OrderState as S;
    let f = merchant_with_product(store, "olga").await;
    let mut tx = store.begin(TxMode::Write).await.unwrap();
    let buyer = tx.insert_user(&new_user("bert", Role::Buyer)).await.unwrap();
    let id = tx.insert_order(&new_order(&f, "K0000000000000000000000000A", Some(buyer), 2)).await.unwrap();
    tx.commit().await.unwrap();
    // A failed statement aborts a PostgreSQL transaction, so each expected conflict gets its own.
    let mut tx = store.begin(TxMode::Write).await.unwrap();
    assert!(matches!(
        tx.insert_order(&new_order(&f, "K0000000000000000000000000A", None, 1)).await,
        Err(StoreError::Conflict("orders.order_no"))
    ));
    drop(tx);

    let mut tx = store.begin(TxMode::Write).await.unwrap();
    let o = tx.order_by_no("K0000000000000000000000000A").await.unwrap().unwrap();
    assert_eq!(
        (o.id, o.buyer_id, o.quantity, o.amount, o.state),
        (id, Some(buyer), 2, Money::from_fen(1980), S::PendingPayment)
    );
    assert_eq!(tx.order_by_id(id).await.unwrap(), Some(o.clone()));
    assert!(tx.deliver_order(id, S::PendingPayment, at(1000), at(5000)).await.unwrap());
    assert!(
        !tx.deliver_order(id, S::PendingPayment, at(2000), at(9000)).await.unwrap(),
        "a second CAS from the old state fails and changes nothing"
    );
    assert!(!tx.update_order_state(id, S::PendingPayment, S::Delivered, at(2000)).await.unwrap());
    let o = tx.order_by_id(id).await.unwrap().unwrap();
    assert_eq!(
        (o.state, o.paid_at, o.delivered_at, o.settle_after),
        (S::Delivered, Some(at(1000)), Some(at(1000)), Some(at(5000)))
    );
    assert!(tx.orders_due_for_settlement(at(4999), 10).await.unwrap().is_empty());
    assert_eq!(tx.orders_due_for_settlement(at(5000), 10).await.unwrap().len(), 1);
    assert_eq!(tx.list_buyer_orders(buyer, 10, 0).await.unwrap().len(), 1);
    assert_eq!(tx.list_shop_orders(f.shop, 10, 0).await.unwrap().len(), 1);
    let guest = tx.insert_order(&new_order(&f, "K0000000000000000000000000B", None, 1)).await.unwrap();
    assert_eq!(
        tx.orders_past_expiry(at(30 * 60_000), 10).await.unwrap().iter().map(|o| o.id).collect::<Vec<_>>(),
        vec![guest]
    );
    tx.commit().await.unwrap();
}

pub async fn allocation_sells_each_key_once_and_never_short(store: &dyn Store) {
    let f = merchant_with_product(store, "alloc").await;
    import(store, &f, 9, 5).await;
    let mut tx = store.begin(TxMode::Write).await.unwrap();
    let a = tx.insert_order(&new_order(&f, "K000000000000000000000000AA", None, 3)).await.unwrap();
    let b = tx.insert_order(&new_order(&f, "K000000000000000000000000AB", None, 3)).await.unwrap();
    let first = tx.allocate_keys(f.product, a, 3).await.unwrap();
    assert_eq!(first.len(), 3);
    let short = tx.allocate_keys(f.product, b, 3).await.unwrap();
    assert!(short.is_empty(), "fewer than asked: nothing at all");
    assert!(tx.order_keys(b).await.unwrap().is_empty(), "a short allocation links nothing");
    assert_eq!(tx.product_by_id(f.product).await.unwrap().unwrap().stock_available, 2, "nor lowers the counter");
    assert_eq!(tx.count_card_keys(f.product, KeyState::Available).await.unwrap(), 2, "nor sells a key");
    let second = tx.allocate_keys(f.product, b, 2).await.unwrap();
    assert!(second.iter().all(|k| !first.contains(k)));
    tx.commit().await.unwrap();
    assert_eq!(stock(store, f.product).await, (0, 0));
    let mut tx = store.begin(TxMode::Write).await.unwrap();
    let keys = tx.order_keys(a).await.unwrap();
    assert_eq!(keys.iter().map(|k| k.key.id).collect::<Vec<_>>(), first);
    assert!(keys.iter().all(|k| k.key.state == KeyState::Sold && k.first_revealed_at.is_none()));
    tx.record_reveal(&crate::Reveal { order_id: a, user_id: None, at: at(10) }).await.unwrap();
    tx.record_reveal(&crate::Reveal { order_id: a, user_id: None, at: at(20) }).await.unwrap();
    assert!(
        tx.order_keys(a).await.unwrap().iter().all(|k| k.first_revealed_at == Some(at(10))),
        "the first reveal is kept"
    );
    assert_eq!(tx.list_reveals(a).await.unwrap().len(), 2);
    // The delivery check reads the same from the rows: five keys delivered, none twice, none sold loose, and no
    // order short while both still await payment.
    let audit = tx.delivery_audit(f.product).await.unwrap();
    assert_eq!(audit, crate::DeliveryAudit { delivered: 5, ..Default::default() });
    // Delivered, `a` holds its three keys; `b`, delivered with two of three, is an order missing a key.
    assert!(tx.deliver_order(a, kabao_core::order::OrderState::PendingPayment, at(30), at(60)).await.unwrap());
    assert!(tx.deliver_order(b, kabao_core::order::OrderState::PendingPayment, at(30), at(60)).await.unwrap());
    let audit = tx.delivery_audit(f.product).await.unwrap();
    assert_eq!(audit, crate::DeliveryAudit { delivered: 5, orders_missing_keys: 1, ..Default::default() });
    tx.commit().await.unwrap();
}

pub async fn ledger_checks_balances_and_recomputes(store: &dyn Store) {
    use kabao_core::ledger::{self, Account};
    let f = merchant_with_product(store, "ledgy").await;
    let mut tx = store.begin(TxMode::Write).await.unwrap();
    let buyer = tx.insert_user(&new_user("payer", Role::Buyer)).await.unwrap();
    let order = tx.insert_order(&new_order(&f, "K000000000000000000000000LG", Some(buyer), 1)).await.unwrap();
    let over = ledger::pay_from_wallet(buyer, order, Money::from_fen(990)).unwrap();
    assert!(
        matches!(tx.post_ledger(&over, Some(order), T0).await, Err(StoreError::Ledger(_))),
        "an empty wallet cannot pay"
    );
    assert!(tx.all_ledger_entries().await.unwrap().is_empty(), "a refused transaction writes no entry");
    assert!(tx.all_balances().await.unwrap().iter().all(|(_, m)| *m == Money::ZERO), "nor moves a balance");
    tx.post_ledger(&ledger::top_up(buyer, Money::from_fen(1000)).unwrap(), None, T0).await.unwrap();
    tx.post_ledger(&over, Some(order), T0).await.unwrap();
    tx.post_ledger(&ledger::settle(order, f.shop, Money::from_fen(990), Money::from_fen(29)).unwrap(), Some(order), T0)
        .await
        .unwrap();
    tx.commit().await.unwrap();

    let mut tx = store.begin(TxMode::Read).await.unwrap();
    assert_eq!(tx.balance(Account::BuyerWallet(buyer)).await.unwrap(), Money::from_fen(10));
    assert_eq!(tx.balance(Account::Escrow(order)).await.unwrap(), Money::ZERO);
    assert_eq!(tx.balance(Account::MerchantAvailable(f.shop)).await.unwrap(), Money::from_fen(961));
    let entries = tx.all_ledger_entries().await.unwrap();
    let mut sums = std::collections::BTreeMap::new();
    for e in &entries {
        *sums.entry(e.account).or_insert(0) += e.amount.fen();
    }
    for (account, kept) in tx.all_balances().await.unwrap() {
        assert_eq!(sums.get(&account).copied().unwrap_or(0), kept.fen(), "{account:?}");
    }
    assert_eq!(tx.order_ledger_entries(order).await.unwrap().len(), 5, "payment 2 + settlement 3");
    assert_eq!(tx.account_entries(Account::BuyerWallet(buyer), 10, 0).await.unwrap().len(), 2);

    // The streaming reads `ledger verify` uses: pages of two in (account, id) order give back every entry, each
    // account's together; the database's sums find nothing wrong in balanced books.
    let mut streamed = Vec::new();
    let mut after = (String::new(), 0_i64);
    loop {
        let page = tx.ledger_entries_by_account((&after.0, after.1), 2).await.unwrap();
        streamed.extend(page.iter().cloned());
        match page.last() {
            Some((id, e)) if page.len() == 2 => after = (e.account.key(), *id),
            _ => break,
        }
    }
    assert_eq!(streamed.len(), entries.len());
    let keys: Vec<String> = streamed.iter().map(|(_, e)| e.account.key()).collect();
    let mut runs = keys.clone();
    runs.dedup();
    let distinct: std::collections::BTreeSet<&String> = keys.iter().collect();
    assert_eq!(runs.len(), distinct.len(), "each account's entries come together: {keys:?}");
    let mut by_id: Vec<i64> = streamed.iter().map(|(id, _)| *id).collect();
    by_id.sort_unstable();
    by_id.dedup();
    assert_eq!(by_id.len(), entries.len(), "no entry twice");
    assert_eq!(tx.unbalanced_ledger_txs(10).await.unwrap(), vec![]);
    assert_eq!(tx.balance_mismatches(10).await.unwrap(), vec![]);
    // The gateway's clearing account is below zero after a top-up (the money is at the gateway).
    assert_eq!(tx.negative_balances(10).await.unwrap(), vec![(Account::GatewayClearing, Money::from_fen(-1000))]);
}

pub async fn events_idempotency_payments_and_notifications(store: &dyn Store) {
    use kabao_core::audit::{next_event, verify_chain};
    use kabao_core::events::EventKind;
    let f = merchant_with_product(store, "evt").await;
    let mut tx = store.begin(TxMode::Write).await.unwrap();
    let order = tx.insert_order(&new_order(&f, "K000000000000000000000000EV", None, 1)).await.unwrap();
    let (created, paid) = (EventKind::OrderCreated.as_str(), EventKind::OrderPaid.as_str());
    let e1 = next_event(None, created, 1, &serde_json::json!({"a": 1}));
    let e2 = next_event(Some(&e1), paid, 2, &serde_json::json!({"b": 2}));
    tx.append_event(order, &e1).await.unwrap();
    tx.append_event(order, &e2).await.unwrap();
    tx.commit().await.unwrap();
    let mut tx = store.begin(TxMode::Write).await.unwrap();
    assert!(matches!(tx.append_event(order, &e2).await, Err(StoreError::Conflict("order_events.seq"))));
    drop(tx);

    let mut tx = store.begin(TxMode::Write).await.unwrap();
    assert_eq!(tx.last_event(order).await.unwrap(), Some(e2.clone()));
    let events = tx.order_events(order).await.unwrap();
    assert_eq!(events, vec![e1, e2]);
    assert_eq!(verify_chain(&events), Ok(()));
    assert_eq!(tx.orders_with_events().await.unwrap(), vec![order]);

    let p = crate::NewPayment {
        gateway: "sandbox".into(),
        trade_no: "P1".into(),
        purpose: crate::PaymentPurpose::Order(order),
        amount: Money::from_fen(990),
        created_at: T0,
    };
    let id = tx.insert_payment(&p).await.unwrap();
    let stored = tx.payment_by_trade_no("P1").await.unwrap().unwrap();
    assert_eq!(
        (stored.id, stored.purpose, stored.state),
        (id, crate::PaymentPurpose::Order(order), crate::PaymentState::Pending)
    );
    assert!(tx.mark_payment_paid(id, "GW1", at(5)).await.unwrap());
    assert!(!tx.mark_payment_paid(id, "GW2", at(6)).await.unwrap(), "paid once");
    let stored = tx.payment_by_trade_no("P1").await.unwrap().unwrap();
    assert_eq!(
        (stored.state, stored.gateway_trade_no.as_deref(), stored.paid_at),
        (crate::PaymentState::Paid, Some("GW1"), Some(at(5)))
    );
    tx.insert_notification("sandbox", "N1", T0).await.unwrap();
    tx.insert_notification("epay", "N1", T0).await.unwrap();
    tx.commit().await.unwrap();

    // Each expected conflict in its own transaction: on PostgreSQL a failed statement aborts the transaction.
    let mut tx = store.begin(TxMode::Write).await.unwrap();
    assert!(matches!(tx.insert_payment(&p).await, Err(StoreError::Conflict("payments.trade_no"))));
    drop(tx);
    let mut tx = store.begin(TxMode::Write).await.unwrap();
    assert!(matches!(tx.insert_notification("sandbox", "N1", T0).await, Err(StoreError::Conflict("notifications.id"))));
    drop(tx);
}

fn new_payment(
    trade_no: &str,
    gateway: &str,
    purpose: crate::PaymentPurpose,
    created_at: Timestamp,
) -> crate::NewPayment {
    crate::NewPayment {
        gateway: gateway.into(),
        trade_no: trade_no.into(),
        purpose,
        amount: Money::from_fen(990),
        created_at,
    }
}

async fn pending_epay_ids(
    store: &dyn Store,
    started_by: Timestamp,
    now: Timestamp,
    after: i64,
    limit: i64,
) -> Vec<i64> {
    let mut tx = store.begin(TxMode::Read).await.unwrap();
    let found = tx.pending_order_payments("epay", started_by, now, after, limit).await.unwrap();
    found.iter().map(|p| p.id).collect()
}

/// What the 易支付 reconciliation job polls: a gateway's pending payments, old enough, whose order still
/// awaits payment and has not expired — paged by id. The job has its own lease.
pub async fn pending_order_payments_are_found_for_reconciliation(store: &dyn Store) {
    use crate::PaymentPurpose::{Order, TopUp};
    use kabao_core::order::OrderState as S;
    let f = merchant_with_product(store, "polly").await;
    let mut tx = store.begin(TxMode::Write).await.unwrap();
    let buyer = tx.insert_user(&new_user("pete", Role::Buyer)).await.unwrap();
    let open = tx.insert_order(&new_order(&f, "K00000000000000000000000PA", Some(buyer), 1)).await.unwrap();
    let later = tx.insert_order(&new_order(&f, "K00000000000000000000000PB", Some(buyer), 1)).await.unwrap();
    let expired = tx.insert_order(&new_order(&f, "K00000000000000000000000PC", Some(buyer), 1)).await.unwrap();
    assert!(tx.update_order_state(expired, S::PendingPayment, S::Expired, at(1)).await.unwrap());
    let first = tx.insert_payment(&new_payment("PO1", "epay", Order(open), T0)).await.unwrap();
    tx.insert_payment(&new_payment("PO2", "sandbox", Order(open), T0)).await.unwrap();
    let paid = tx.insert_payment(&new_payment("PO3", "epay", Order(open), T0)).await.unwrap();
    assert!(tx.mark_payment_paid(paid, "GW3", at(2)).await.unwrap());
    tx.insert_payment(&new_payment("PO4", "epay", Order(expired), T0)).await.unwrap();
    tx.insert_payment(&new_payment("PO5", "epay", TopUp(buyer), T0)).await.unwrap();
    let recent = tx.insert_payment(&new_payment("PO6", "epay", Order(later), at(50_000))).await.unwrap();
    assert!(tx.acquire_job_lease("epay_poll", "a", at(0), at(60_000)).await.unwrap(), "the job has a lease row");
    tx.commit().await.unwrap();

    assert_eq!(pending_epay_ids(store, at(10_000), at(20_000), 0, 10).await, vec![first], "only old enough");
    assert_eq!(pending_epay_ids(store, at(60_000), at(70_000), 0, 10).await, vec![first, recent]);
    assert_eq!(pending_epay_ids(store, at(60_000), at(70_000), first, 10).await, vec![recent], "after an id");
    assert_eq!(pending_epay_ids(store, at(60_000), at(70_000), 0, 1).await, vec![first], "at most limit");
    let past = pending_epay_ids(store, at(60_000), at(30 * 60_000), 0, 10).await;
    assert!(past.is_empty(), "orders past their time are not polled: {past:?}");
}

/// An idempotency key is reserved once per scope; its response is stored only by the request running it, and a
/// request that died is taken over only after its lease; a release frees the key; old records are purged.
pub async fn idempotency_records_reserve_complete_take_over_and_purge(store: &dyn Store) {
    use crate::{NewIdempotency, StoredResponse};
    let new = |scope: &'static str, key: &'static str, runner: &'static [u8], at_ms: i64| NewIdempotency {
        scope,
        key,
        fingerprint: b"fp-1",
        runner,
        lease_until: at(at_ms + 60_000),
        created_at: at(at_ms),
    };
    let mut tx = store.begin(TxMode::Write).await.unwrap();
    tx.idempotency_reserve(&new("user:1", "k1", b"r1", 0)).await.unwrap();
    tx.idempotency_reserve(&new("user:2", "k1", b"r9", 0)).await.unwrap();
    tx.commit().await.unwrap();

    let mut tx = store.begin(TxMode::Write).await.unwrap();
    let dup = tx.idempotency_reserve(&new("user:1", "k1", b"r2", 1)).await;
    assert!(matches!(dup, Err(StoreError::Conflict("idempotency.key"))), "{dup:?}");
    drop(tx);

    let mut tx = store.begin(TxMode::Write).await.unwrap();
    let running = tx.idempotency_record("user:1", "k1").await.unwrap().unwrap();
    assert_eq!(
        (running.fingerprint.as_slice(), running.runner.as_slice(), running.lease_until, running.response.as_ref()),
        (b"fp-1".as_slice(), b"r1".as_slice(), at(60_000), None)
    );
    assert!(tx.idempotency_record("user:3", "k1").await.unwrap().is_none(), "keys are scoped");
    assert!(!tx.idempotency_take_over("user:1", "k1", b"r2", at(59_999), at(120_000)).await.unwrap(), "still leased");
    let response = StoredResponse { status: 201, body: b"sealed body".to_vec(), key_version: 1 };
    assert!(!tx.idempotency_complete("user:1", "k1", b"r2", &response, at(10)).await.unwrap(), "not r2's");
    assert!(tx.idempotency_complete("user:1", "k1", b"r1", &response, at(10)).await.unwrap());
    assert!(!tx.idempotency_complete("user:1", "k1", b"r1", &response, at(11)).await.unwrap(), "done once");
    assert!(!tx.idempotency_release("user:1", "k1", b"r1").await.unwrap(), "a done record stays");
    assert!(!tx.idempotency_take_over("user:1", "k1", b"r2", at(999_999), at(1_000_000)).await.unwrap(), "done");
    let done = tx.idempotency_record("user:1", "k1").await.unwrap().unwrap();
    assert_eq!((done.response, done.completed_at, done.created_at), (Some(response), Some(at(10)), at(0)));

    // user:2's runner died: after its lease another request takes the key over, and only the new runner completes.
    assert!(tx.idempotency_take_over("user:2", "k1", b"r3", at(60_001), at(120_001)).await.unwrap());
    let late = StoredResponse { status: 200, body: vec![1, 2, 3], key_version: 2 };
    assert!(!tx.idempotency_complete("user:2", "k1", b"r9", &late, at(60_002)).await.unwrap(), "taken over");
    assert!(!tx.idempotency_release("user:2", "k1", b"r9").await.unwrap(), "taken over");
    assert!(tx.idempotency_release("user:2", "k1", b"r3").await.unwrap());
    assert!(tx.idempotency_record("user:2", "k1").await.unwrap().is_none(), "released: the key is free again");
    tx.idempotency_reserve(&new("user:2", "k1", b"r4", 70_000)).await.unwrap();
    tx.idempotency_reserve(&new("user:2", "k2", b"r5", 80_000)).await.unwrap();
    tx.commit().await.unwrap();

    let mut tx = store.begin(TxMode::Write).await.unwrap();
    assert_eq!(tx.idempotency_purge(at(75_000), 10).await.unwrap(), 2, "created before the retention edge");
    assert!(tx.idempotency_record("user:1", "k1").await.unwrap().is_none());
    assert!(tx.idempotency_record("user:2", "k1").await.unwrap().is_none());
    assert!(tx.idempotency_record("user:2", "k2").await.unwrap().is_some());
    tx.idempotency_reserve(&new("user:3", "a", b"r", 1)).await.unwrap();
    tx.idempotency_reserve(&new("user:3", "b", b"r", 2)).await.unwrap();
    assert_eq!(tx.idempotency_purge(at(1_000_000), 2).await.unwrap(), 2, "bounded: the oldest first");
    assert!(tx.idempotency_record("user:2", "k2").await.unwrap().is_some());
    tx.commit().await.unwrap();
}

pub async fn job_leases_are_exclusive_until_released_or_expired(store: &dyn Store) {
    let mut tx = store.begin(TxMode::Write).await.unwrap();
    assert!(tx.acquire_job_lease("settle", "a", at(0), at(60_000)).await.unwrap());
    assert!(!tx.acquire_job_lease("settle", "b", at(1_000), at(61_000)).await.unwrap(), "held by a");
    assert!(tx.acquire_job_lease("settle", "a", at(2_000), at(62_000)).await.unwrap(), "a renews");
    assert!(tx.acquire_job_lease("expire", "b", at(2_000), at(62_000)).await.unwrap(), "jobs are independent");
    assert!(
        tx.acquire_job_lease("settle", "b", at(62_001), at(122_001)).await.unwrap(),
        "an expired lease is taken over"
    );
    tx.release_job_lease("settle", "a", at(62_002)).await.unwrap();
    assert!(
        !tx.acquire_job_lease("settle", "a", at(62_003), at(122_003)).await.unwrap(),
        "a's late release did not free b's lease"
    );
    tx.release_job_lease("settle", "b", at(62_004)).await.unwrap();
    assert!(tx.acquire_job_lease("settle", "a", at(62_005), at(122_005)).await.unwrap());
    assert!(!tx.acquire_job_lease("no_such_job", "a", at(0), at(1)).await.unwrap());
    tx.commit().await.unwrap();
}

/// 200 buyers, each in its own task and write transaction, race for 50 keys: exactly 50 get one, no key is sold
/// twice, and the counters (the product's, each batch's) end exact. SQLite queues them on the writer; PostgreSQL
/// races them for row locks.
pub async fn concurrent_buyers_never_oversell(store: &std::sync::Arc<dyn Store>) {
    const KEYS: i64 = 50;
    const BUYERS: usize = 200;
    let f = merchant_with_product(store.as_ref(), "rush").await;
    // In five batches, so the race also moves keys in several batches' stored counts.
    for seed in 50..55 {
        import(store.as_ref(), &f, seed, KEYS as u64 / 5).await;
    }
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..BUYERS {
        let store = store.clone();
        tasks.spawn(async move {
            let mut tx = store.begin(TxMode::Write).await?;
            let order = tx.insert_order(&new_order(&f, &format!("K{i:026}"), None, 1)).await?;
            let keys = tx.allocate_keys(f.product, order, 1).await?;
            if keys.is_empty() {
                return Ok(None); // sold out: dropping the transaction rolls the order back
            }
            tx.commit().await?;
            Ok::<_, StoreError>(Some((order, keys)))
        });
    }
    let mut winners = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        if let Some((order, keys)) = joined.expect("task panicked").expect("no buyer fails") {
            assert_eq!(keys.len(), 1);
            winners.push(order);
        }
    }
    assert_eq!(winners.len(), KEYS as usize, "exactly as many buyers as keys get one");

    let mut tx = store.begin(TxMode::Read).await.unwrap();
    let orders = tx.list_shop_orders(f.shop, 1_000, 0).await.unwrap();
    assert_eq!(orders.len(), KEYS as usize, "the losers' orders were rolled back");
    let mut delivered = Vec::new();
    for o in &orders {
        delivered.extend(tx.order_keys(o.id).await.unwrap().into_iter().map(|k| k.key.id));
    }
    let distinct: std::collections::BTreeSet<_> = delivered.iter().copied().collect();
    assert_eq!((delivered.len(), distinct.len()), (KEYS as usize, KEYS as usize), "every key sold exactly once");
    assert_eq!(tx.count_card_keys(f.product, KeyState::Sold).await.unwrap(), KEYS);
    drop(tx);
    assert_eq!(stock(store.as_ref(), f.product).await, (0, 0));
    assert_batch_counts_are_the_keys(store.as_ref(), f.product, "the race").await;
}

pub async fn custom_goods_answers_deadlines_and_delivery(store: &dyn Store) {
    use kabao_core::order::OrderState as S;
    let f = merchant_with_product(store, "tailor").await;
    let mut tx = store.begin(TxMode::Write).await.unwrap();
    assert_eq!(tx.custom_spec(f.product).await.unwrap(), None);
    assert!(!tx.take_counted_stock(f.product, 1).await.unwrap(), "no fields set, nothing to take");
    tx.set_custom_spec(f.product, r#"["游戏账号","区服"]"#, 24, 5).await.unwrap();
    assert!(matches!(tx.set_custom_spec(ProductId(f.product.0 + 99), "[]", 1, 1).await, Err(StoreError::NotFound)));
    let mut new = new_order(&f, "KCUSTOM1", None, 2);
    new.custom_answers = Some(r#"[["游戏账号","12345"],["区服","一区"]]"#.into());
    let late = tx.insert_order(&new).await.unwrap();
    let on_time = tx.insert_order(&new_order(&f, "KCUSTOM2", None, 1)).await.unwrap();
    tx.commit().await.unwrap();

    let mut tx = store.begin(TxMode::Write).await.unwrap();
    assert_eq!(tx.custom_spec(f.product).await.unwrap(), Some((r#"["游戏账号","区服"]"#.to_string(), 24)));
    assert!(tx.take_counted_stock(f.product, 2).await.unwrap());
    assert!(tx.take_counted_stock(f.product, 1).await.unwrap());
    for (id, deadline) in [(late, at(1_000)), (on_time, at(5_000))] {
        assert!(tx.update_order_state(id, S::PendingPayment, S::Paid, at(10)).await.unwrap());
        tx.set_delivery_deadline(id, deadline).await.unwrap();
    }
    tx.commit().await.unwrap();

    let mut tx = store.begin(TxMode::Write).await.unwrap();
    let o = tx.order_by_id(late).await.unwrap().unwrap();
    assert_eq!(o.custom_answers.as_deref(), new.custom_answers.as_deref());
    assert_eq!((o.state, o.paid_at, o.delivery_deadline), (S::Paid, Some(at(10)), Some(at(1_000))));
    let queue: Vec<_> = tx.shop_orders_awaiting_delivery(f.shop, 10).await.unwrap().iter().map(|o| o.id).collect();
    assert_eq!(queue, vec![late, on_time], "nearest deadline first");
    let due: Vec<_> = tx.orders_past_delivery_deadline(at(1_000), 10).await.unwrap().iter().map(|o| o.id).collect();
    assert_eq!(due, vec![late]);
    assert!(tx.orders_past_delivery_deadline(at(999), 10).await.unwrap().is_empty());

    assert_eq!(tx.manual_delivery(on_time).await.unwrap(), None);
    tx.set_manual_delivery(on_time, b"sealed text", 3).await.unwrap();
    assert!(tx.update_order_state(on_time, S::Paid, S::Delivered, at(20)).await.unwrap());
    assert_eq!(tx.manual_delivery(on_time).await.unwrap(), Some((b"sealed text".to_vec(), 3)));
    // The late one is refunded and its unit goes back on sale.
    assert!(tx.update_order_state(late, S::Paid, S::Refunded, at(1_001)).await.unwrap());
    tx.return_counted_stock(f.product, 2).await.unwrap();
    tx.commit().await.unwrap();

    let mut tx = store.begin(TxMode::Read).await.unwrap();
    assert!(tx.shop_orders_awaiting_delivery(f.shop, 10).await.unwrap().is_empty());
    assert!(tx.orders_past_delivery_deadline(at(10_000), 10).await.unwrap().is_empty());
    assert_eq!(tx.product_by_id(f.product).await.unwrap().unwrap().stock_available, 4);
}

pub async fn warranty_policies_are_versioned(store: &dyn Store) {
    let f = merchant_with_product(store, "warrantor").await;
    let mut tx = store.begin(TxMode::Write).await.unwrap();
    assert_eq!(tx.current_policy(f.product).await.unwrap(), None, "无质保 until one is set");
    let v1 = tx.insert_policy_version(f.product, r#"{"a":1}"#, &[1; 32], at(1)).await.unwrap();
    let v2 = tx.insert_policy_version(f.product, r#"{"a":2}"#, &[2; 32], at(2)).await.unwrap();
    assert_eq!((v1.version, v2.version), (1, 2));
    tx.commit().await.unwrap();
    // Its own transaction: a failed statement ends a PostgreSQL transaction.
    let mut tx = store.begin(TxMode::Write).await.unwrap();
    assert!(tx.insert_policy_version(ProductId(f.product.0 + 99), "{}", &[0; 32], at(3)).await.is_err());
    drop(tx);
    let mut tx = store.begin(TxMode::Write).await.unwrap();
    assert_eq!(tx.current_policy(f.product).await.unwrap(), Some(v2.clone()));
    tx.clear_policy(f.product).await.unwrap();
    assert_eq!(tx.current_policy(f.product).await.unwrap(), None);
    assert_eq!(tx.policy_versions(f.product).await.unwrap(), vec![v1, v2], "old versions stay for their orders");
    tx.commit().await.unwrap();
}

/// Every read of a product (by id, a shop's list, the public listing) carries the summary of its current
/// policy, from the same query, and none once the policy is cleared.
pub async fn products_carry_their_current_warranty_summary(store: &dyn Store) {
    use kabao_core::warranty::templates;
    let f = merchant_with_product(store, "summarised").await;
    let policy = templates().into_iter().next().map(|t| t.policy).unwrap();
    let card = |tx_product: Option<crate::Product>| tx_product.and_then(|p| p.warranty);
    let mut tx = store.begin(TxMode::Write).await.unwrap();
    assert_eq!(card(tx.product_by_id(f.product).await.unwrap()), None, "无质保 until one is set");
    let json = serde_json::to_string(&policy).unwrap();
    tx.insert_policy_version(f.product, &json, &[1; 32], at(1)).await.unwrap();
    tx.commit().await.unwrap();

    let mut tx = store.begin(TxMode::Read).await.unwrap();
    let want = Some(policy.summary());
    assert_eq!(card(tx.product_by_id(f.product).await.unwrap()), want);
    let own = tx.list_shop_products(f.shop).await.unwrap();
    assert_eq!(own.iter().map(|p| p.warranty).collect::<Vec<_>>(), vec![want]);
    let listed = tx.list_listed_products(100, 0).await.unwrap();
    let mine = listed.iter().find(|l| l.product.id == f.product).map(|l| l.product.warranty);
    assert_eq!(mine, Some(want));
    let other = listed.iter().find(|l| l.product.id != f.product).map(|l| l.product.warranty);
    assert!(other.is_none() || other == Some(None), "another product keeps its own (none)");
    drop(tx);

    let mut tx = store.begin(TxMode::Write).await.unwrap();
    tx.clear_policy(f.product).await.unwrap();
    assert_eq!(card(tx.product_by_id(f.product).await.unwrap()), None);
    tx.commit().await.unwrap();
}

pub async fn shared_secret_stock_is_taken_only_while_it_lasts(store: &dyn Store) {
    let f = merchant_with_product(store, "sharer").await;
    let mut tx = store.begin(TxMode::Write).await.unwrap();
    assert!(tx.shared_secret(f.product).await.unwrap().is_none());
    assert!(!tx.take_counted_stock(f.product, 1).await.unwrap(), "no secret, nothing to take");
    tx.set_shared_secret(f.product, b"sealed", 1, 3).await.unwrap();
    assert!(matches!(tx.set_shared_secret(ProductId(f.product.0 + 99), b"x", 1, 1).await, Err(StoreError::NotFound)));
    tx.commit().await.unwrap();
    let mut tx = store.begin(TxMode::Write).await.unwrap();
    assert_eq!(tx.shared_secret(f.product).await.unwrap(), Some((b"sealed".to_vec(), 1)));
    assert!(tx.take_counted_stock(f.product, 2).await.unwrap());
    assert!(!tx.take_counted_stock(f.product, 2).await.unwrap(), "only 1 left");
    assert!(tx.take_counted_stock(f.product, 1).await.unwrap());
    assert_eq!(tx.product_by_id(f.product).await.unwrap().unwrap().stock_available, 0);
    tx.commit().await.unwrap();
}

fn claim(
    order: kabao_core::ledger::OrderId,
    shop: ShopId,
    no: &str,
    item: i32,
    due: Option<Timestamp>,
) -> crate::ClaimRecord {
    crate::ClaimRecord {
        id: 0,
        claim_no: no.to_string(),
        order_id: order,
        item,
        shop_id: shop,
        defect: kabao_core::warranty::Defect::InvalidKey,
        description: "提示卡密无效".into(),
        activated: false,
        eligible: true,
        reasons: "[]".into(),
        state: kabao_core::claim::ClaimState::Open,
        due_at: due,
        paused_remaining_ms: None,
        evidence_requested: false,
        request_note: None,
        decision_reason: None,
        decided_by: None,
        decided_at: None,
        created_at: at(100),
        auto_remedied: false,
    }
}

pub async fn claims_evidence_and_reissues(store: &dyn Store) {
    use kabao_core::claim::ClaimState as C;
    use kabao_core::order::OrderState as S;
    let f = merchant_with_product(store, "claimy").await;
    import(store, &f, 31, 4).await;
    let mut tx = store.begin(TxMode::Write).await.unwrap();
    let order = tx.insert_order(&new_order(&f, "K000000000000000000000000CL", None, 2)).await.unwrap();
    let sold = tx.allocate_keys(f.product, order, 2).await.unwrap();
    assert!(tx.deliver_order(order, S::PendingPayment, at(50), at(60)).await.unwrap());
    let keys = tx.order_keys(order).await.unwrap();
    assert_eq!(keys.iter().map(|k| (k.item, k.voided_at)).collect::<Vec<_>>(), vec![(1, None), (2, None)]);

    // Evidence: stored once per content, cited by each claim.
    let id = tx.insert_claim(&claim(order, f.shop, "C1", 2, Some(at(1_000)))).await.unwrap();
    let sha = vec![0xAB; 32];
    tx.put_evidence_file(&sha, "image/png", b"png bytes", at(100)).await.unwrap();
    tx.put_evidence_file(&sha, "image/png", b"png bytes", at(200)).await.unwrap();
    let evidence = crate::EvidenceRecord {
        id: 0,
        claim_id: id,
        sha256: sha.clone(),
        kind: kabao_core::warranty::EvidenceKind::Screenshot,
        file_name: "截图.png".into(),
        mime: String::new(),
        size_bytes: 0,
        added_by: crate::EvidenceParty::Buyer,
        binding: "{}".into(),
        binding_sha256: vec![1; 32],
        created_at: at(100),
    };
    tx.insert_claim_evidence(&evidence).await.unwrap();
    tx.commit().await.unwrap();

    let mut tx = store.begin(TxMode::Write).await.unwrap();
    assert_eq!(tx.evidence_file(&sha).await.unwrap(), Some(("image/png".to_string(), b"png bytes".to_vec())));
    let listed = tx.claim_evidence(id).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(
        (listed[0].mime.as_str(), listed[0].size_bytes, listed[0].file_name.as_str()),
        ("image/png", 9, "截图.png")
    );
    let got = tx.claim_by_no("C1").await.unwrap().unwrap();
    assert_eq!(got, crate::ClaimRecord { id, ..claim(order, f.shop, "C1", 2, Some(at(1_000))) });
    assert!(tx.orders_due_for_settlement(at(70), 10).await.unwrap().is_empty(), "an open claim holds the escrow");

    // Queue and deadline: the open claim is due; the paused one waits last.
    let other = tx.insert_claim(&claim(order, f.shop, "C2", 1, None)).await.unwrap();
    let paused = crate::ClaimRecord {
        id: other,
        state: C::AwaitingEvidence,
        paused_remaining_ms: Some(500),
        evidence_requested: true,
        request_note: Some("请补充截图".into()),
        ..claim(order, f.shop, "C2", 1, None)
    };
    assert!(tx.update_claim(&paused, C::Open).await.unwrap());
    assert!(!tx.update_claim(&paused, C::Open).await.unwrap(), "compare-and-set on the state");
    // Evidence added later re-evaluates the claim: its eligibility and reasons are written with the state.
    let reevaluated = crate::ClaimRecord {
        state: C::Open,
        eligible: !paused.eligible,
        reasons: r#"[{"code":"evidence_missing"}]"#.into(),
        ..paused.clone()
    };
    assert!(tx.update_claim(&reevaluated, C::AwaitingEvidence).await.unwrap());
    let c2 = tx.claim_by_no("C2").await.unwrap().unwrap();
    assert_eq!((c2.eligible, c2.reasons.as_str()), (reevaluated.eligible, reevaluated.reasons.as_str()));
    assert!(tx.update_claim(&paused, C::Open).await.unwrap());
    let queue: Vec<String> = tx
        .shop_pending_claims(f.shop, crate::QueueKey::START, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.claim_no)
        .collect();
    assert_eq!(queue, vec!["C1", "C2"]);
    assert_eq!(tx.claims_past_deadline(at(999), 10).await.unwrap().len(), 0);
    assert_eq!(tx.claims_past_deadline(at(1_000), 10).await.unwrap()[0].id, id);
    tx.commit().await.unwrap();
    let mut tx = store.begin(TxMode::Write).await.unwrap();
    let err = tx.insert_claim(&claim(order, f.shop, "C1", 1, None)).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    drop(tx);

    // Re-issue: the reported key is voided, a fresh one delivered for the same item.
    let mut tx = store.begin(TxMode::Write).await.unwrap();
    let fresh = tx.reissue_key(order, 2, f.product, at(300)).await.unwrap().unwrap();
    assert!(!sold.contains(&fresh));
    let keys = tx.order_keys(order).await.unwrap();
    let shape: Vec<_> = keys.iter().map(|k| (k.item, k.key.id, k.key.state, k.voided_at)).collect();
    assert_eq!(
        shape,
        vec![
            (1, sold[0], KeyState::Sold, None),
            (2, sold[1], KeyState::Voided, Some(at(300))),
            (2, fresh, KeyState::Sold, None)
        ]
    );
    assert!(matches!(tx.reissue_key(order, 3, f.product, at(300)).await, Err(StoreError::NotFound)));
    drop(tx);
    let mut tx = store.begin(TxMode::Write).await.unwrap();
    assert!(tx.reissue_key(order, 2, f.product, at(300)).await.unwrap().is_some());
    assert!(tx.reissue_key(order, 2, f.product, at(350)).await.unwrap().is_some());
    assert_eq!(tx.reissue_key(order, 2, f.product, at(400)).await.unwrap(), None, "no stock: nothing changes");
    let keys = tx.order_keys(order).await.unwrap();
    assert_eq!(keys.iter().filter(|k| k.voided_at.is_none()).map(|k| k.item).collect::<Vec<_>>(), vec![1, 2]);
    assert_eq!(keys.len(), 4);
    let mut done = got.clone();
    done.state = C::Reissued;
    done.due_at = None;
    done.decided_at = Some(at(300));
    assert!(tx.update_claim(&done, C::Open).await.unwrap());
    let mut done2 = paused.clone();
    done2.state = C::Rejected;
    done2.decision_reason = Some("已激活".into());
    assert!(tx.update_claim(&done2, C::AwaitingEvidence).await.unwrap());
    tx.commit().await.unwrap();
    assert_eq!(stock(store, f.product).await, (0, 0));
    let mut tx = store.begin(TxMode::Read).await.unwrap();
    assert_eq!(tx.orders_due_for_settlement(at(70), 10).await.unwrap().len(), 1, "closed claims release it");
    assert_eq!(tx.order_claims(order).await.unwrap().len(), 2);
    assert_eq!(tx.shop_claims(f.shop, 10).await.unwrap()[0].claim_no, "C2", "newest first");
    assert!(tx.shop_pending_claims(f.shop, crate::QueueKey::START, 10).await.unwrap().is_empty());
}

/// The merchant's claim queue read page by page: every waiting claim once, by deadline (ties by id), paused ones
/// last; decided claims and other shops' claims stay out; a claim decided between two pages does not shift the
/// next page, and a cursor past the end gives nothing.
pub async fn claim_queue_pages_by_deadline_then_id(store: &dyn Store) {
    use crate::QueueKey;
    use kabao_core::claim::ClaimState as C;
    let f = merchant_with_product(store, "queuey").await;
    let g = merchant_with_product(store, "otherq").await;
    let mut tx = store.begin(TxMode::Write).await.unwrap();
    let order = tx.insert_order(&new_order(&f, "K000000000000000000000000QP", None, 1)).await.unwrap();
    let theirs = tx.insert_order(&new_order(&g, "K000000000000000000000000QQ", None, 1)).await.unwrap();
    // (claim number, deadline, state): two deadline ties, two paused claims, one decided.
    let made = [
        ("Q-late", Some(900), C::Open),
        ("Q-paused-a", None, C::AwaitingEvidence),
        ("Q-tie-a", Some(500), C::Open),
        ("Q-early", Some(100), C::Open),
        ("Q-done", Some(50), C::Rejected),
        ("Q-tie-b", Some(500), C::AwaitingEvidence),
        ("Q-paused-b", None, C::AwaitingEvidence),
        ("Q-mid", Some(700), C::Open),
    ];
    for (no, due, state) in made {
        let c = crate::ClaimRecord { state, ..claim(order, f.shop, no, 1, due.map(at)) };
        tx.insert_claim(&c).await.unwrap();
    }
    tx.insert_claim(&claim(theirs, g.shop, "Q-theirs", 1, Some(at(10)))).await.unwrap();
    tx.commit().await.unwrap();

    let want = ["Q-early", "Q-tie-a", "Q-tie-b", "Q-mid", "Q-late", "Q-paused-a", "Q-paused-b"];
    let mut tx = store.begin(TxMode::Read).await.unwrap();
    let all = tx.shop_pending_claims(f.shop, QueueKey::START, 100).await.unwrap();
    assert_eq!(all.iter().map(|c| c.claim_no.as_str()).collect::<Vec<_>>(), want);
    let mut walked = Vec::new();
    let mut after = QueueKey::START;
    loop {
        let page = tx.shop_pending_claims(f.shop, after, 2).await.unwrap();
        assert!(page.len() <= 2);
        let Some(last) = page.last() else { break };
        after = QueueKey::of(last);
        walked.extend(page.iter().map(|c| c.claim_no.clone()));
    }
    assert_eq!(walked, want, "pages of two read the queue once, in order");
    let keys: Vec<QueueKey> = all.iter().map(QueueKey::of).collect();
    assert!(keys.windows(2).all(|w| w[0] < w[1]), "the key orders the queue: {keys:?}");
    assert_eq!(keys[5].due, i64::MAX, "a paused claim sorts last");
    // Starting right after a tie's first claim gives its second.
    let next = tx.shop_pending_claims(f.shop, keys[1], 1).await.unwrap();
    assert_eq!(next[0].claim_no, "Q-tie-b");
    assert!(tx.shop_pending_claims(f.shop, keys[6], 10).await.unwrap().is_empty(), "past the end: nothing");
    drop(tx);

    // The page's last claim is decided before the next page is read: the next page still starts after it.
    let mut tx = store.begin(TxMode::Write).await.unwrap();
    let mid = tx.claim_by_no("Q-mid").await.unwrap().unwrap();
    let decided = crate::ClaimRecord { state: C::Reissued, due_at: None, decided_at: Some(at(600)), ..mid.clone() };
    assert!(tx.update_claim(&decided, C::Open).await.unwrap());
    tx.commit().await.unwrap();
    let mut tx = store.begin(TxMode::Read).await.unwrap();
    let rest = tx.shop_pending_claims(f.shop, QueueKey::of(&mid), 10).await.unwrap();
    assert_eq!(rest.iter().map(|c| c.claim_no.as_str()).collect::<Vec<_>>(), ["Q-late", "Q-paused-a", "Q-paused-b"]);
}

/// PostgreSQL only (SQLite has one writer at a time, so its transactions never overlap): two payments of one
/// product, both open at once, do not wait for each other. Each locks only the keys it takes until it commits;
/// the product's stock counter and the batch's counts move at commit, so the second commits while the first is
/// still open (before, the first held the product row from its allocation to its end and the second queued
/// behind it). Each transaction sees its own sales, and the counts are exact once both commit.
pub async fn open_payments_of_one_product_do_not_wait_for_each_other(store: &dyn Store) {
    use kabao_core::order::OrderState as S;
    let f = merchant_with_product(store, "hotrow").await;
    let batch = import(store, &f, 97, 10).await;
    let mut first = store.begin(TxMode::Write).await.unwrap();
    let a = first.insert_order(&new_order(&f, "K000000000000000000000000HA", None, 2)).await.unwrap();
    assert_eq!(first.allocate_keys(f.product, a, 2).await.unwrap().len(), 2);
    assert!(first.deliver_order(a, S::PendingPayment, at(50), at(60)).await.unwrap());

    let second = async {
        let mut tx = store.begin(TxMode::Write).await.unwrap();
        let b = tx.insert_order(&new_order(&f, "K000000000000000000000000HB", None, 2)).await.unwrap();
        assert_eq!(tx.allocate_keys(f.product, b, 2).await.unwrap().len(), 2, "other keys than the first's");
        assert!(tx.deliver_order(b, S::PendingPayment, at(50), at(60)).await.unwrap());
        tx.commit().await.unwrap();
    };
    tokio::time::timeout(std::time::Duration::from_secs(10), second)
        .await
        .expect("the second payment commits while the first is open");

    // The first sees its own sale and the second's; nobody else sees the first's until it commits.
    let p = first.product_by_id(f.product).await.unwrap().unwrap();
    assert_eq!(p.stock_available, 6);
    assert_eq!(first.batch_by_id(batch).await.unwrap().map(|b| (b.available, b.sold)), Some((6, 4)));
    assert_eq!(stock(store, f.product).await, (8, 8));
    first.commit().await.unwrap();
    assert_eq!(stock(store, f.product).await, (6, 6));
    let mut tx = store.begin(TxMode::Read).await.unwrap();
    assert_eq!(tx.batch_by_id(batch).await.unwrap().map(|b| (b.available, b.sold, b.voided)), Some((6, 4, 0)));
}

pub async fn disputes_statements_and_fund_members(store: &dyn Store) {
    use kabao_core::claim::ClaimState as C;
    let f = merchant_with_product(store, "disputy").await;
    let mut tx = store.begin(TxMode::Write).await.unwrap();
    let arbiter = tx.insert_user(&new_user("arbiter_ann", Role::Arbiter)).await.unwrap();
    let order = tx.insert_order(&new_order(&f, "K000000000000000000000000DS", None, 1)).await.unwrap();
    let mut c = claim(order, f.shop, "D1", 1, None);
    c.id = tx.insert_claim(&c).await.unwrap();
    let rejected = crate::ClaimRecord { state: C::Rejected, decided_at: Some(at(1_000)), ..c.clone() };
    assert!(tx.update_claim(&rejected, C::Open).await.unwrap());
    assert_eq!(tx.claims_to_remind(at(999), 10).await.unwrap().len(), 0, "not yet due");
    assert_eq!(tx.claims_to_remind(at(1_000), 10).await.unwrap()[0].id, c.id);
    tx.mark_escalation_reminded(c.id, at(1_500)).await.unwrap();
    assert!(tx.claims_to_remind(at(9_000), 10).await.unwrap().is_empty(), "reminded once");
    let d = tx.insert_dispute(&c, at(2_000)).await.unwrap();
    let st = |party, body: &str, t| crate::Statement { party, body: body.into(), created_at: at(t) };
    tx.insert_statement(d, &st(crate::EvidenceParty::Buyer, "卡密一开始就无效", 2_000)).await.unwrap();
    tx.insert_statement(d, &st(crate::EvidenceParty::Merchant, "已售出前测试过", 2_100)).await.unwrap();
    tx.commit().await.unwrap();

    let mut tx = store.begin(TxMode::Write).await.unwrap();
    let err = tx.insert_dispute(&c, at(3_000)).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict("disputes.claim")), "{err:?}");
    drop(tx);

    let mut tx = store.begin(TxMode::Write).await.unwrap();
    let open = tx.open_disputes(10).await.unwrap();
    assert_eq!((open.len(), open[0].claim_id, open[0].decided), (1, c.id, false));
    let said = tx.dispute_statements(d).await.unwrap();
    assert_eq!(
        said.iter().map(|s| s.party).collect::<Vec<_>>(),
        vec![crate::EvidenceParty::Buyer, crate::EvidenceParty::Merchant]
    );
    assert!(tx.decide_dispute(d, "refund", Some(Money::from_fen(500)), "部分退款", arbiter, at(4_000)).await.unwrap());
    assert!(
        !tx.decide_dispute(d, "reject", None, "again", arbiter, at(5_000)).await.unwrap(),
        "a ruling is written once"
    );
    let got = tx.dispute_of_claim(c.id).await.unwrap().unwrap();
    assert_eq!(
        (got.decided, got.ruling.as_deref(), got.refund, got.reason.as_deref(), got.decided_by, got.decided_at),
        (true, Some("refund"), Some(Money::from_fen(500)), Some("部分退款"), Some(arbiter), Some(at(4_000)))
    );
    assert!(tx.open_disputes(10).await.unwrap().is_empty());
    assert_eq!(tx.decided_disputes(10).await.unwrap().len(), 1);

    assert_eq!(tx.fund_member_since(f.shop).await.unwrap(), None);
    tx.insert_fund_member(f.shop, at(100)).await.unwrap();
    assert_eq!(tx.fund_member_since(f.shop).await.unwrap(), Some(at(100)));
    assert_eq!(tx.count_fund_members().await.unwrap(), 1);

    // The fund's receivables and advances, found by key range among other accounts.
    use kabao_core::ledger::{Account, LedgerTx, TxKind};
    assert!(tx.fund_receivables().await.unwrap().is_empty());
    let seed = LedgerTx::transfer(
        TxKind::FundContribution,
        Account::GatewayClearing,
        Account::CompensationFund,
        Money::from_fen(900),
    );
    tx.post_ledger(&seed.unwrap(), None, at(6_000)).await.unwrap();
    let buyer = tx.insert_user(&new_user("fund_buyer", Role::Buyer)).await.unwrap();
    let advance = LedgerTx::transfer(
        TxKind::Refund,
        Account::FundReceivable(f.shop),
        Account::BuyerWallet(buyer),
        Money::from_fen(300),
    );
    tx.post_ledger(&advance.unwrap(), Some(order), at(7_000)).await.unwrap();
    let repay = LedgerTx::transfer(
        TxKind::FundRepayment,
        Account::GatewayClearing,
        Account::FundReceivable(f.shop),
        Money::from_fen(100),
    );
    tx.post_ledger(&repay.unwrap(), None, at(8_000)).await.unwrap();
    assert_eq!(tx.fund_receivables().await.unwrap(), vec![(f.shop, Money::from_fen(-200))]);
    let advances = tx.fund_advances(10).await.unwrap();
    assert_eq!(
        advances.iter().map(|e| (e.account, e.amount)).collect::<Vec<_>>(),
        vec![(Account::FundReceivable(f.shop), Money::from_fen(-300))]
    );
    tx.commit().await.unwrap();
    let mut tx = store.begin(TxMode::Write).await.unwrap();
    let err = tx.insert_fund_member(f.shop, at(200)).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict("fund_members.shop")), "{err:?}");
}

pub async fn reviews_chat_risk_and_certification(store: &dyn Store) {
    use kabao_core::catalog::{Category, CertificationLevel};
    use kabao_core::order::OrderState as S;
    let f = merchant_with_product(store, "trusty").await;
    let other = merchant_with_product(store, "twinshop").await;
    let mut tx = store.begin(TxMode::Write).await.unwrap();
    let buyer = tx.insert_user(&new_user("reviewer_rae", Role::Buyer)).await.unwrap();
    let admin = tx.insert_user(&new_user("admin_ada", Role::Admin)).await.unwrap();
    let order = tx.insert_order(&new_order(&f, "K000000000000000000000000RV", Some(buyer), 2)).await.unwrap();
    assert!(tx.update_order_state(order, S::PendingPayment, S::Delivered, at(1_000)).await.unwrap());
    let review = crate::ReviewRecord {
        id: 0,
        order_id: order,
        shop_id: f.shop,
        product_id: f.product,
        buyer_id: buyer,
        category: Category::GameCard,
        described: 5,
        service: 4,
        delivery: 3,
        tags_json: r#"["reissue_fast"]"#.into(),
        body: "很快就补单了".into(),
        reissue: 1,
        reply: None,
        replied_at: None,
        created_at: at(2_000),
    };
    let id = tx.insert_review(&review).await.unwrap();
    tx.commit().await.unwrap();

    let mut tx = store.begin(TxMode::Write).await.unwrap();
    let err = tx.insert_review(&review).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict("reviews.order")), "{err:?}");
    drop(tx);

    let mut tx = store.begin(TxMode::Write).await.unwrap();
    assert!(tx.set_review_reply(id, "谢谢支持", at(3_000)).await.unwrap());
    assert!(!tx.set_review_reply(id, "again", at(4_000)).await.unwrap(), "a merchant replies once");
    let got = tx.review_of_order(order).await.unwrap().unwrap();
    assert_eq!((got.id, got.reply.as_deref(), got.replied_at), (id, Some("谢谢支持"), Some(at(3_000))));
    assert_eq!(
        got,
        crate::ReviewRecord { id, reply: Some("谢谢支持".into()), replied_at: Some(at(3_000)), ..review.clone() }
    );
    assert_eq!(tx.shop_reviews(f.shop, 10).await.unwrap().len(), 1);
    assert_eq!(tx.review_by_id(id).await.unwrap().map(|r| r.order_id), Some(order));
    assert_eq!(tx.product_reviews(f.product, 10).await.unwrap().len(), 1);

    // Chat and risk events.
    let msg = crate::ChatMessage {
        id: 0,
        order_id: order,
        sender: crate::ChatParty::Merchant,
        sender_id: Some(f.owner),
        body: "加V: scam88".into(),
        hits_json: r#"[{"rule":"contact.wechat"}]"#.into(),
        created_at: at(5_000),
    };
    let m = tx.insert_chat_message(&msg).await.unwrap();
    tx.insert_chat_message(&crate::ChatMessage {
        sender: crate::ChatParty::Buyer,
        sender_id: Some(buyer),
        ..msg.clone()
    })
    .await
    .unwrap();
    let chat = tx.order_chat(order, 50).await.unwrap();
    assert_eq!(
        chat.iter().map(|c| c.sender).collect::<Vec<_>>(),
        vec![crate::ChatParty::Merchant, crate::ChatParty::Buyer]
    );
    assert_eq!(chat[0], crate::ChatMessage { id: m, ..msg.clone() });
    assert_eq!(tx.chat_message(m).await.unwrap(), Some(crate::ChatMessage { id: m, ..msg.clone() }));
    assert_eq!(tx.chat_message(m + 1_000).await.unwrap(), None);
    assert_eq!(tx.count_chat_messages_since(order, crate::ChatParty::Merchant, at(5_000)).await.unwrap(), 1);
    assert_eq!(tx.count_chat_messages_since(order, crate::ChatParty::Merchant, at(5_001)).await.unwrap(), 0);
    let event = crate::RiskEvent {
        id: 0,
        kind: "chat".into(),
        shop_id: Some(f.shop),
        user_id: Some(f.owner),
        order_id: Some(order),
        message_id: Some(m),
        rules_json: r#"["contact.wechat"]"#.into(),
        state: "open".into(),
        review_note: None,
        reviewed_by: None,
        reviewed_at: None,
        created_at: at(5_000),
    };
    tx.insert_risk_event(&event).await.unwrap();
    tx.insert_risk_event(&event).await.unwrap();
    assert_eq!(tx.risk_review_queue(3, 10).await.unwrap(), vec![]);
    assert_eq!(tx.risk_review_queue(2, 10).await.unwrap(), vec![(f.shop, 2)]);

    // Trust facts count what happened in the window.
    let facts = tx.shop_trust_facts(f.shop, T0, T0).await.unwrap();
    assert_eq!(facts.ratings.len(), 1);
    assert_eq!(
        (
            facts.ratings[0].category.as_str(),
            facts.ratings[0].described,
            facts.ratings[0].service,
            facts.ratings[0].count
        ),
        ("game_card", 5, 4, 1)
    );
    assert_eq!(facts.category_ratings[0].delivery, 3);
    assert_eq!((facts.reissue_positive, facts.reissue_negative), (1, 0));
    assert_eq!((facts.risk_open, facts.risk_confirmed, facts.delivered_orders), (2, 0, 1));
    let later = tx.shop_trust_facts(f.shop, at(10_000), at(10_000)).await.unwrap();
    assert!(later.ratings.is_empty() && later.delivered_orders == 0, "outside the window");
    assert_eq!(later.risk_open, 2, "open events count whatever their age");

    assert_eq!(tx.review_risk_events(f.shop, "dismissed", "误报", admin, at(6_000)).await.unwrap(), 2);
    assert!(tx.risk_review_queue(1, 10).await.unwrap().is_empty());
    let events = tx.shop_risk_events(f.shop, 10).await.unwrap();
    assert_eq!((events[0].state.as_str(), events[0].review_note.as_deref()), ("dismissed", Some("误报")));
    let facts = tx.shop_trust_facts(f.shop, T0, T0).await.unwrap();
    assert_eq!((facts.risk_open, facts.risk_confirmed), (0, 0), "dismissed events do not count");
    // A confirmed violation counts from its confirmation, for the window; dismissed ones still do not.
    tx.insert_risk_event(&event).await.unwrap();
    assert_eq!(tx.review_risk_events(f.shop, "confirmed", "确有引导私下交易", admin, at(6_500)).await.unwrap(), 1);
    let facts = tx.shop_trust_facts(f.shop, T0, T0).await.unwrap();
    assert_eq!((facts.risk_open, facts.risk_confirmed), (0, 1));
    let facts = tx.shop_trust_facts(f.shop, at(6_500), T0).await.unwrap();
    assert_eq!(facts.risk_confirmed, 1, "confirmed within the window, though raised before it");
    let facts = tx.shop_trust_facts(f.shop, at(6_501), T0).await.unwrap();
    assert_eq!(facts.risk_confirmed, 0, "confirmed before the window");

    // Certification applications: one pending per shop, decided once.
    let app = crate::CertificationApplication {
        id: 0,
        shop_id: f.shop,
        level: CertificationLevel::Verified,
        details_json: r#"{"name":"张三"}"#.into(),
        id_masked: "110***********0011".into(),
        id_fingerprint: vec![9; 32],
        state: "pending".into(),
        reason: None,
        decided_by: None,
        decided_at: None,
        created_at: at(7_000),
    };
    let a = tx.insert_certification_application(&app).await.unwrap();
    tx.commit().await.unwrap();
    let mut tx = store.begin(TxMode::Write).await.unwrap();
    let err = tx.insert_certification_application(&app).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict("certification_applications.pending")), "{err:?}");
    drop(tx);
    let mut tx = store.begin(TxMode::Write).await.unwrap();
    assert_eq!(
        tx.pending_certification_applications(10).await.unwrap(),
        vec![crate::CertificationApplication { id: a, ..app.clone() }]
    );
    assert!(tx.decide_certification_application(a, "rejected", "证件不清晰", admin, at(8_000)).await.unwrap());
    assert!(!tx.decide_certification_application(a, "approved", "x", admin, at(9_000)).await.unwrap());
    assert!(tx.pending_certification_applications(10).await.unwrap().is_empty());
    tx.insert_certification_application(&app).await.unwrap();
    tx.insert_certification_application(&crate::CertificationApplication { shop_id: other.shop, ..app.clone() })
        .await
        .unwrap();
    assert_eq!(tx.shops_with_id_fingerprint(&[9; 32], f.shop).await.unwrap(), vec![other.shop]);
    let mine = tx.shop_certification_applications(f.shop).await.unwrap();
    assert_eq!(mine.iter().map(|a| a.state.as_str()).collect::<Vec<_>>(), vec!["pending", "rejected"]);
    assert_eq!(mine[1].reason.as_deref(), Some("证件不清晰"));

    // Trial orders: one live trial order per buyer per shop.
    assert!(!tx.has_trial_order(f.shop, Some(buyer), None).await.unwrap(), "the product is not a trial");
    let trial = tx.insert_product(f.shop, &ProductDraft { trial: true, ..draft("体验卡", true) }, T0).await.unwrap();
    let trial_fixture = Fixture { product: trial, ..f };
    tx.insert_order(&new_order(&trial_fixture, "K000000000000000000000000TR", Some(buyer), 1)).await.unwrap();
    tx.insert_order(&new_order(&trial_fixture, "K000000000000000000000000TG", None, 1)).await.unwrap();
    assert!(tx.has_trial_order(f.shop, Some(buyer), None).await.unwrap());
    assert!(tx.has_trial_order(f.shop, None, Some("guest@example.com")).await.unwrap());
    assert!(!tx.has_trial_order(f.shop, None, Some("other@example.com")).await.unwrap());
    assert!(!tx.has_trial_order(other.shop, Some(buyer), None).await.unwrap(), "per shop");
    // Racing requests are stopped by the store: one live trial order per key.
    let first = tx.order_by_no("K000000000000000000000000TR").await.unwrap().unwrap().id;
    tx.set_order_trial_key(first, "trial-key").await.unwrap();
    tx.commit().await.unwrap();
    let mut tx = store.begin(TxMode::Write).await.unwrap();
    let second =
        tx.insert_order(&new_order(&trial_fixture, "K000000000000000000000000T2", Some(buyer), 1)).await.unwrap();
    let err = tx.set_order_trial_key(second, "trial-key").await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict("orders.trial")), "{err:?}");
    drop(tx);
    let mut tx = store.begin(TxMode::Write).await.unwrap();
    assert!(tx.update_order_state(first, S::PendingPayment, S::Expired, at(9_000)).await.unwrap());
    let second =
        tx.insert_order(&new_order(&trial_fixture, "K000000000000000000000000T2", Some(buyer), 1)).await.unwrap();
    tx.set_order_trial_key(second, "trial-key").await.unwrap();
    assert_eq!(tx.buyer_orders_at_shop(buyer, f.shop, 10).await.unwrap().len(), 3);
    tx.commit().await.unwrap();
}

fn alipay_payee(account: &str) -> crate::PayeeSnapshot {
    crate::PayeeSnapshot {
        kind: kabao_core::payee::PayeeKind::Alipay,
        account: account.to_string(),
        holder_name: "张三".into(),
        bank_name: None,
    }
}

/// Gives a shop `fen` of available balance (paid through the gateway, settled without a fee), committed.
async fn fund_shop(store: &dyn Store, f: &Fixture, no: &str, fen: i64) {
    use kabao_core::ledger;
    let mut tx = store.begin(TxMode::Write).await.unwrap();
    let order = tx.insert_order(&new_order(f, no, None, 1)).await.unwrap();
    tx.post_ledger(&ledger::pay_direct(order, Money::from_fen(fen)).unwrap(), Some(order), T0).await.unwrap();
    tx.post_ledger(&ledger::settle(order, f.shop, Money::from_fen(fen), Money::ZERO).unwrap(), Some(order), T0)
        .await
        .unwrap();
    tx.commit().await.unwrap();
}

pub async fn payees_and_withdrawals_keep_their_snapshot_and_decide_once(store: &dyn Store) {
    use crate::{NewWithdrawal, WithdrawalState};
    use kabao_core::ledger::{self, Account};
    let f = merchant_with_product(store, "payer_shop").await;
    let other = merchant_with_product(store, "other_shop").await;
    fund_shop(store, &f, "K00000000000000000000000PW1", 5_000).await;

    let mut tx = store.begin(TxMode::Write).await.unwrap();
    let bank = crate::PayeeSnapshot {
        kind: kabao_core::payee::PayeeKind::Bank,
        account: "6222021234567894".into(),
        holder_name: "李四".into(),
        bank_name: Some("工商银行".into()),
    };
    let p1 = tx.insert_payee(f.shop, &alipay_payee("13812345678"), at(1)).await.unwrap();
    let p2 = tx.insert_payee(f.shop, &bank, at(2)).await.unwrap();
    let theirs = tx.insert_payee(other.shop, &alipay_payee("x@example.com"), at(3)).await.unwrap();
    let listed: Vec<i64> = tx.list_shop_payees(f.shop, 10).await.unwrap().iter().map(|p| p.id).collect();
    assert_eq!(listed, vec![p2, p1], "a shop's own payees, newest first");
    let got = tx.payee_by_id(p2).await.unwrap().unwrap();
    assert_eq!((got.shop_id, &got.details, got.created_at, got.disabled_at), (f.shop, &bank, at(2), None));
    assert!(!tx.disable_payee(f.shop, theirs, at(4)).await.unwrap(), "another shop's payee is not disabled");

    let hold = ledger::request_withdrawal(f.shop, Money::from_fen(3_000)).unwrap();
    let hold = tx.post_ledger(&hold, None, at(5)).await.unwrap();
    let id = tx
        .insert_withdrawal(&NewWithdrawal {
            shop_id: f.shop,
            amount: Money::from_fen(3_000),
            fee: Money::from_fen(30),
            payee_id: p2,
            payee: bank.clone(),
            hold_tx_id: hold,
            requested_at: at(5),
        })
        .await
        .unwrap();
    assert!(tx.disable_payee(f.shop, p2, at(6)).await.unwrap());
    assert!(!tx.disable_payee(f.shop, p2, at(7)).await.unwrap(), "disabled once");
    assert_eq!(tx.list_shop_payees(f.shop, 10).await.unwrap().len(), 1, "a disabled payee is not listed");
    assert_eq!(tx.payee_by_id(p2).await.unwrap().unwrap().disabled_at, Some(at(6)));
    tx.commit().await.unwrap();

    let mut tx = store.begin(TxMode::Write).await.unwrap();
    let w = tx.withdrawal_by_id(id).await.unwrap().unwrap();
    assert_eq!((w.amount, w.fee, w.net()), (Money::from_fen(3_000), Money::from_fen(30), Money::from_fen(2_970)));
    assert_eq!((w.payee_id, w.payee.as_ref(), w.hold_tx_id), (Some(p2), Some(&bank), Some(hold)));
    assert_eq!((w.state, w.payout_ref.as_deref()), (WithdrawalState::Pending, None));
    assert_eq!(tx.list_shop_withdrawals(f.shop, 10).await.unwrap(), vec![w.clone()]);
    assert_eq!(tx.list_pending_withdrawals(10).await.unwrap(), vec![w.clone()]);
    assert_eq!(tx.unheld_pending_withdrawals(f.shop).await.unwrap(), Money::ZERO, "this request holds its money");
    assert_eq!(tx.balance(Account::MerchantAvailable(f.shop)).await.unwrap(), Money::from_fen(2_000));
    assert_eq!(tx.balance(Account::WithdrawalPending(f.shop)).await.unwrap(), Money::from_fen(3_000));

    assert!(tx
        .decide_withdrawal(id, WithdrawalState::Approved, f.owner, None, Some("ALI-2024-1"), at(8))
        .await
        .unwrap());
    assert!(
        !tx.decide_withdrawal(id, WithdrawalState::Rejected, f.owner, Some("no"), None, at(9)).await.unwrap(),
        "decided once"
    );
    let w = tx.withdrawal_by_id(id).await.unwrap().unwrap();
    assert_eq!(
        (w.state, w.payout_ref.as_deref(), w.decided_at),
        (WithdrawalState::Approved, Some("ALI-2024-1"), Some(at(8)))
    );
    assert!(tx.list_pending_withdrawals(10).await.unwrap().is_empty());

    // One transfer pays one request: its reference cannot be recorded on a second one.
    let hold = ledger::request_withdrawal(f.shop, Money::from_fen(1_000)).unwrap();
    let hold = tx.post_ledger(&hold, None, at(10)).await.unwrap();
    let second = tx
        .insert_withdrawal(&NewWithdrawal {
            shop_id: f.shop,
            amount: Money::from_fen(1_000),
            fee: Money::ZERO,
            payee_id: p1,
            payee: alipay_payee("13812345678"),
            hold_tx_id: hold,
            requested_at: at(10),
        })
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let mut tx = store.begin(TxMode::Write).await.unwrap();
    let reused =
        tx.decide_withdrawal(second, WithdrawalState::Approved, f.owner, None, Some("ALI-2024-1"), at(11)).await;
    assert!(matches!(reused, Err(StoreError::Conflict("withdrawals.payout_ref"))), "{reused:?}");
}

/// 40 tasks, each in its own write transaction, ask to withdraw 300 of a 5 000 balance: exactly 16 holds pass,
/// the available balance ends at 200, never below zero. SQLite queues the writers; PostgreSQL locks the
/// balance row, so a request that waited re-reads the balance the winner left.
pub async fn concurrent_withdrawal_holds_never_overdraw(store: &std::sync::Arc<dyn Store>) {
    use kabao_core::ledger::{self, Account};
    const TASKS: usize = 40;
    let f = merchant_with_product(store.as_ref(), "rush_withdraw").await;
    fund_shop(store.as_ref(), &f, "K00000000000000000000000CW1", 5_000).await;
    let mut tx = store.begin(TxMode::Write).await.unwrap();
    let payee = tx.insert_payee(f.shop, &alipay_payee("13812345678"), T0).await.unwrap();
    tx.commit().await.unwrap();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..TASKS {
        let store = store.clone();
        tasks.spawn(async move {
            let mut tx = store.begin(TxMode::Write).await?;
            let hold = ledger::request_withdrawal(f.shop, Money::from_fen(300)).unwrap();
            let hold_tx_id = match tx.post_ledger(&hold, None, at(i as i64)).await {
                Ok(id) => id,
                Err(StoreError::Ledger(_)) => return Ok(false),
                Err(e) => return Err(e),
            };
            tx.insert_withdrawal(&crate::NewWithdrawal {
                shop_id: f.shop,
                amount: Money::from_fen(300),
                fee: Money::ZERO,
                payee_id: payee,
                payee: alipay_payee("13812345678"),
                hold_tx_id,
                requested_at: at(i as i64),
            })
            .await?;
            tx.commit().await?;
            Ok::<_, StoreError>(true)
        });
    }
    let mut passed = 0;
    while let Some(joined) = tasks.join_next().await {
        if joined.expect("task panicked").expect("no request fails but by the balance") {
            passed += 1;
        }
    }
    assert_eq!(passed, 5_000 / 300, "exactly as many requests as the balance covers");
    let mut tx = store.begin(TxMode::Read).await.unwrap();
    assert_eq!(tx.balance(Account::MerchantAvailable(f.shop)).await.unwrap(), Money::from_fen(5_000 - 16 * 300));
    assert_eq!(tx.balance(Account::WithdrawalPending(f.shop)).await.unwrap(), Money::from_fen(16 * 300));
    assert_eq!(tx.list_shop_withdrawals(f.shop, 100).await.unwrap().len(), 16);
}

pub async fn security_events_are_kept_newest_first(store: &dyn Store) {
    let mut tx = store.begin(TxMode::Write).await.unwrap();
    assert!(tx.security_events(10, 0).await.unwrap().is_empty());
    let first = SecurityEvent {
        id: 0,
        kind: "gateway.trade_no_reused".into(),
        order_id: None,
        detail_json: r#"{"gateway":"epay","gateway_trade_no":"T1"}"#.into(),
        created_at: at(1_000),
    };
    let a = tx.insert_security_event(&first).await.unwrap();
    let b = tx
        .insert_security_event(&SecurityEvent { kind: "other".into(), created_at: at(2_000), ..first.clone() })
        .await
        .unwrap();
    assert!(b > a);
    tx.commit().await.unwrap();
    let mut tx = store.begin(TxMode::Read).await.unwrap();
    let all = tx.security_events(10, 0).await.unwrap();
    assert_eq!(all.iter().map(|e| e.id).collect::<Vec<_>>(), vec![b, a]);
    assert_eq!(all[1], SecurityEvent { id: a, ..first });
    assert_eq!(tx.security_events(1, 1).await.unwrap().iter().map(|e| e.id).collect::<Vec<_>>(), vec![a]);
}

/// Automatic re-issues are the platform's, not the merchant's answer: they count as decided and remedied claims
/// but not in the shop's response times, nor in its category's average (the mean over every shop's
/// merchant-handled claims in the categories the shop sells in).
pub async fn trust_facts_leave_automatic_reissues_out_of_the_response_time(store: &dyn Store) {
    use kabao_core::claim::ClaimState as C;
    use kabao_core::order::OrderState as S;
    const HOUR: i64 = 3_600_000;
    let auto = merchant_with_product(store, "autoshop").await;
    let handy = merchant_with_product(store, "handyshop").await;
    let mut tx = store.begin(TxMode::Write).await.unwrap();
    // A shop selling only software licenses, a category without merchant-handled claims.
    let owner = tx.insert_user(&new_user("licenseshop", Role::Merchant)).await.unwrap();
    let licenses = NewShop { owner_id: owner, name: "licenses".into(), description: "d".into(), opened_at: T0 };
    let licenses = tx.insert_shop(&licenses).await.unwrap();
    let license = ProductDraft { category: Category::SoftwareLicense, ..draft("license", true) };
    tx.insert_product(licenses, &license, T0).await.unwrap();
    let mut orders = Vec::new();
    for (f, no) in [(&auto, "K00000000000000000000000AU1"), (&handy, "K00000000000000000000000HA1")] {
        let order = tx.insert_order(&new_order(f, no, None, 1)).await.unwrap();
        assert!(tx.update_order_state(order, S::PendingPayment, S::Delivered, at(50)).await.unwrap());
        orders.push(order);
    }
    let (a, h) = (orders[0], orders[1]);
    let decided = |order, f: &Fixture, no: &str, state, filed: i64, took: i64, auto_remedied| crate::ClaimRecord {
        state,
        due_at: None,
        decided_at: Some(at(filed + took)),
        created_at: at(filed),
        auto_remedied,
        ..claim(order, f.shop, no, 1, None)
    };
    // The automatic re-issue, decided the moment it was filed, and one claim the merchant refunded after 1 h.
    let reissued = decided(a, &auto, "AUTO1", C::Reissued, 1_000, 0, true);
    let id = tx.insert_claim(&reissued).await.unwrap();
    assert_eq!(tx.claim_by_no("AUTO1").await.unwrap(), Some(crate::ClaimRecord { id, ..reissued }));
    tx.insert_claim(&decided(a, &auto, "AUTO2", C::Refunded, 2_000, HOUR, false)).await.unwrap();
    // Another shop of the category answered in 2 h; an open claim is not decided yet.
    tx.insert_claim(&decided(h, &handy, "HAND1", C::Rejected, 3_000, 2 * HOUR, false)).await.unwrap();
    let open = claim(h, handy.shop, "HAND2", 1, Some(at(9 * HOUR)));
    let open_id = tx.insert_claim(&open).await.unwrap();
    tx.commit().await.unwrap();

    let mut tx = store.begin(TxMode::Write).await.unwrap();
    let facts = tx.shop_trust_facts(auto.shop, T0, T0).await.unwrap();
    assert_eq!((facts.claims_decided, facts.claims_remedied), (2, 2), "the automatic re-issue is decided and remedied");
    assert_eq!((facts.median_response_ms, facts.response_samples), (Some(HOUR), 1), "but not the merchant's response");
    assert_eq!(facts.category_response_ms, Some(3 * HOUR / 2), "mean of 1 h and 2 h, the automatic one left out");
    let facts = tx.shop_trust_facts(handy.shop, T0, T0).await.unwrap();
    assert_eq!((facts.claims_decided, facts.median_response_ms, facts.response_samples), (1, Some(2 * HOUR), 1));
    assert_eq!(facts.category_response_ms, Some(3 * HOUR / 2));
    // A shop whose own categories have no merchant-handled claim has no category average.
    let facts = tx.shop_trust_facts(licenses, T0, T0).await.unwrap();
    assert_eq!((facts.response_samples, facts.median_response_ms, facts.category_response_ms), (0, None, None));
    // Outside the window nothing counts.
    let facts = tx.shop_trust_facts(auto.shop, at(3 * HOUR), T0).await.unwrap();
    assert_eq!((facts.claims_decided, facts.category_response_ms), (0, None));

    // The mark is written with the decision: the open claim re-issued automatically leaves the response times.
    let auto_decided = crate::ClaimRecord {
        id: open_id,
        state: C::Reissued,
        due_at: None,
        decided_at: Some(at(4 * HOUR)),
        auto_remedied: true,
        ..open
    };
    assert!(tx.update_claim(&auto_decided, C::Open).await.unwrap());
    assert_eq!(tx.claim_by_no("HAND2").await.unwrap().map(|c| c.auto_remedied), Some(true));
    let facts = tx.shop_trust_facts(handy.shop, T0, T0).await.unwrap();
    assert_eq!((facts.claims_decided, facts.median_response_ms, facts.response_samples), (2, Some(2 * HOUR), 1));
    assert_eq!(facts.category_response_ms, Some(3 * HOUR / 2));

    // The median is the middle of the merchant's times, the upper one of an even count: 30 min, 2 h, 5 h give 2 h;
    // with 3 h as well, 3 h.
    for (no, filed, took) in [("HAND3", 5_000, HOUR / 2), ("HAND4", 6_000, 5 * HOUR)] {
        tx.insert_claim(&decided(h, &handy, no, C::Refunded, filed, took, false)).await.unwrap();
    }
    let facts = tx.shop_trust_facts(handy.shop, T0, T0).await.unwrap();
    assert_eq!((facts.claims_decided, facts.median_response_ms, facts.response_samples), (4, Some(2 * HOUR), 3));
    tx.insert_claim(&decided(h, &handy, "HAND5", C::Rejected, 7_000, 3 * HOUR, false)).await.unwrap();
    let facts = tx.shop_trust_facts(handy.shop, T0, T0).await.unwrap();
    assert_eq!((facts.claims_decided, facts.median_response_ms, facts.response_samples), (5, Some(3 * HOUR), 4));
    tx.commit().await.unwrap();
}

/// The claim signals' category norm (claims and delivered items of the claim's category since `since`) is the
/// same whichever closed days are stored in `category_days`: none, some with a gap, all, or days before the
/// window. A day is stored once, and only its own category's rows count.
pub async fn category_days_add_up_to_the_live_figures(store: &dyn Store) {
    use kabao_core::order::OrderState as S;
    const DAY: i64 = 86_400_000;
    const HOUR: i64 = 3_600_000;
    let f = merchant_with_product(store, "catdays").await;
    let day0 = T0.millis().div_euclid(DAY);
    let stamp = |day: i64, hour: i64| Timestamp((day0 + day) * DAY + hour * HOUR);
    let mut tx = store.begin(TxMode::Write).await.unwrap();
    let license = ProductDraft { category: Category::SoftwareLicense, ..draft("license", true) };
    let other = tx.insert_product(f.shop, &license, T0).await.unwrap();
    // (day delivered, hour, quantity, claimed that many hours later, other category)
    let history = [
        (-1, 20, 1, Some(1), false),
        (0, 2, 2, None, false),
        (0, 15, 1, Some(2), false),
        (1, 0, 3, Some(30), false),
        (1, 12, 1, Some(1), true),
        (2, 23, 1, Some(0), false),
        (3, 9, 4, None, false),
        (4, 1, 1, Some(3), false),
    ];
    let mut claims = Vec::new();
    for (i, (day, hour, quantity, claimed, in_other)) in history.into_iter().enumerate() {
        let mut new = new_order(&f, &format!("K0000000000000000000000CD{i:02}"), None, quantity);
        if in_other {
            new.product_id = other;
        }
        let order = tx.insert_order(&new).await.unwrap();
        let delivered = stamp(day, hour);
        assert!(tx.deliver_order(order, S::PendingPayment, delivered, delivered).await.unwrap());
        if let Some(later) = claimed {
            let filed = Timestamp(delivered.millis() + later * HOUR);
            let c = crate::ClaimRecord { created_at: filed, ..claim(order, f.shop, &format!("CD{i:02}"), 1, None) };
            let id = tx.insert_claim(&c).await.unwrap();
            claims.push(crate::ClaimRecord { id, ..c });
        }
    }
    tx.commit().await.unwrap();
    let claim = claims.last().unwrap().clone();
    // The window starts at 10:00 on day 0: the claim at 17:00 and the items at 15:00 on day 0 are in it, the rest
    // of day 0 and day -1 are not.
    let since = stamp(0, 10);
    let figures = |facts: kabao_core::signals::Facts| (facts.category_claims, facts.category_items);
    let mut tx = store.begin(TxMode::Read).await.unwrap();
    let facts = tx.buyer_facts(&claim, since).await.unwrap();
    // The buyer (a guest, matched by email): every claim and every delivered item, whatever the window.
    assert_eq!((facts.buyer_claims, facts.buyer_items), (6, 14));
    let live = figures(facts);
    assert_eq!(tx.category_days_filled(day0 - 5, day0 + 10).await.unwrap(), Vec::<i64>::new());
    drop(tx);
    // Claims in the window and the game-card category: day 0 17:00, day 2 06:00 (from day 1 00:00 + 30 h), day 2
    // 23:00, day 4 04:00. Items: 1 + 3 + 1 + 4 + 1.
    assert_eq!(live, (4, 10));
    for fill in [vec![day0 + 2], vec![day0 + 1, day0 + 3], vec![day0 - 1, day0], vec![day0 + 4]] {
        let mut tx = store.begin(TxMode::Write).await.unwrap();
        for day in &fill {
            assert!(tx.fill_category_day(*day, stamp(9, 0)).await.unwrap(), "day {day} stored once");
            assert!(!tx.fill_category_day(*day, stamp(9, 0)).await.unwrap(), "day {day} not stored twice");
        }
        tx.commit().await.unwrap();
        let mut tx = store.begin(TxMode::Read).await.unwrap();
        assert_eq!(figures(tx.buyer_facts(&claim, since).await.unwrap()), live, "after storing {fill:?}");
        assert_eq!(figures(tx.buyer_facts(&claim, stamp(0, 0)).await.unwrap()), (4, 12), "whole day 0");
        assert_eq!(figures(tx.buyer_facts(&claim, stamp(3, 0)).await.unwrap()), (1, 5), "from day 3");
    }
    let mut tx = store.begin(TxMode::Read).await.unwrap();
    let stored = tx.category_days_filled(day0 - 5, day0 + 10).await.unwrap();
    assert_eq!(stored, (day0 - 1..=day0 + 4).collect::<Vec<_>>());
    // A queue's claims at once (each category's figures read once) give what each gives alone.
    let together = tx.buyer_facts_of(&claims, since).await.unwrap();
    let mut alone = Vec::new();
    for c in &claims {
        alone.push(tx.buyer_facts(c, since).await.unwrap());
    }
    assert_eq!(together, alone);
    assert_eq!(together.iter().filter(|f| f.category_claims == 1).count(), 1, "the other category's own figures");
    assert_eq!(tx.category_days_filled(day0 + 1, day0 + 2).await.unwrap(), vec![day0 + 1, day0 + 2]);
}

// ---- insurance ----

pub async fn insurance_claim_window_and_covers(store: &dyn Store) {
    use kabao_core::insurance::Sample;
    use kabao_core::order::OrderState as S;
    let f = merchant_with_product(store, "insurer").await;
    let mut tx = store.begin(TxMode::Write).await.unwrap();
    let software = Category::SoftwareLicense;
    let other =
        tx.insert_product(f.shop, &ProductDraft { category: software, ..draft("key", true) }, T0).await.unwrap();
    let old = tx.insert_order(&new_order(&f, "K000000000000000000000000I1", None, 1)).await.unwrap();
    let recent = tx.insert_order(&new_order(&f, "K000000000000000000000000I2", None, 1)).await.unwrap();
    tx.insert_order(&new_order(&f, "K000000000000000000000000I3", None, 1)).await.unwrap();
    let key_order = crate::NewOrder { product_id: other, ..new_order(&f, "K000000000000000000000000I4", None, 1) };
    let key_order = tx.insert_order(&key_order).await.unwrap();
    assert!(tx.deliver_order(old, S::PendingPayment, at(50), at(60)).await.unwrap());
    assert!(tx.deliver_order(recent, S::PendingPayment, at(10_000), at(20_000)).await.unwrap());
    assert!(tx.deliver_order(key_order, S::PendingPayment, at(10_000), at(20_000)).await.unwrap());
    tx.insert_claim(&claim(old, f.shop, "IC1", 1, None)).await.unwrap();
    tx.insert_claim(&crate::ClaimRecord { created_at: at(20_000), ..claim(recent, f.shop, "IC2", 1, None) })
        .await
        .unwrap();
    tx.insert_claim(&crate::ClaimRecord { created_at: at(15_000), ..claim(key_order, f.shop, "IC3", 1, None) })
        .await
        .unwrap();
    tx.commit().await.unwrap();

    let mut tx = store.begin(TxMode::Read).await.unwrap();
    // The unpaid order and what happened before the window are not counted.
    let end = at(100_000);
    let cards = tx.claim_window(Some(Category::GameCard), at(1_000), end).await.unwrap();
    assert_eq!(cards, Sample { claims: 1, orders: 1 });
    assert_eq!(tx.claim_window(Some(Category::GameCard), T0, end).await.unwrap(), Sample { claims: 2, orders: 2 });
    assert_eq!(tx.claim_window(Some(software), at(1_000), end).await.unwrap(), Sample { claims: 1, orders: 1 });
    assert_eq!(tx.claim_window(Some(Category::TopUp), T0, end).await.unwrap(), Sample { claims: 0, orders: 0 });
    assert_eq!(tx.claim_window(None, at(1_000), end).await.unwrap(), Sample { claims: 2, orders: 2 });
    assert_eq!(tx.claim_window(None, at(30_000), end).await.unwrap(), Sample { claims: 0, orders: 0 });
    // The window's end is excluded: what happens at or after it is not counted.
    let (card, from) = (Some(Category::GameCard), at(1_000));
    assert_eq!(tx.claim_window(card, from, at(20_000)).await.unwrap(), Sample { claims: 0, orders: 1 });
    assert_eq!(tx.claim_window(card, from, at(10_000)).await.unwrap(), Sample { claims: 0, orders: 0 });
    drop(tx);

    // One cover per order, read back as written.
    let cover = crate::Cover {
        order_id: recent,
        kind: crate::CoverKind::Cover,
        premium: Money::from_fen(75),
        extended_until: None,
        created_at: at(9_000),
    };
    let mut tx = store.begin(TxMode::Write).await.unwrap();
    tx.insert_cover(&cover).await.unwrap();
    tx.commit().await.unwrap();
    let mut tx = store.begin(TxMode::Write).await.unwrap();
    assert!(matches!(tx.insert_cover(&cover).await, Err(StoreError::Conflict("insurance_covers.order"))));
    drop(tx);
    let mut tx = store.begin(TxMode::Read).await.unwrap();
    assert_eq!(tx.cover_of(recent).await.unwrap(), Some(cover));
    assert_eq!(tx.cover_of(old).await.unwrap(), None);
}

// ---- webhooks ----

/// Webhooks: endpoints are the shop's own and found by the events they chose; a delivery is written once per
/// endpoint and event, leased to one sender at a time, recorded only under its lease, re-sent only by its shop,
/// and cancelled with its endpoint. Claims near their deadline are offered once per deadline.
pub async fn webhook_endpoints_deliveries_and_leases(store: &dyn Store) {
    use crate::{DeliveryState, NewWebhookDelivery, WebhookAttempt};
    use kabao_core::webhook::EventKind as K;
    let f = merchant_with_product(store, "hooked").await;
    let other = merchant_with_product(store, "unhooked").await;
    let mut tx = store.begin(TxMode::Write).await.unwrap();
    let e1 = tx
        .insert_webhook_endpoint(f.shop, "https://a.example/h", &[K::ClaimOpened, K::OrderPaid], b"sealed", 1, at(1))
        .await
        .unwrap();
    let e2 = tx.insert_webhook_endpoint(f.shop, "https://b.example/h", &[K::StockLow], b"s2", 1, at(2)).await.unwrap();
    let theirs = tx.insert_webhook_endpoint(other.shop, "https://c.example/", &[K::OrderPaid], b"s3", 1, at(3)).await;
    let theirs = theirs.unwrap();
    let got = tx.webhook_endpoint(e1).await.unwrap().unwrap();
    assert_eq!(
        (got.shop_id, got.url.as_str(), got.events.clone()),
        (f.shop, "https://a.example/h", vec![K::ClaimOpened, K::OrderPaid])
    );
    assert_eq!((got.secret_sealed.as_slice(), got.secret_version, got.created_at), (&b"sealed"[..], 1, at(1)));
    let ids = |v: Vec<crate::WebhookEndpointRecord>| v.into_iter().map(|e| e.id).collect::<Vec<_>>();
    assert_eq!(ids(tx.shop_webhook_endpoints(f.shop, 10).await.unwrap()), vec![e1, e2]);
    assert_eq!(ids(tx.webhook_endpoints_for(f.shop, K::OrderPaid).await.unwrap()), vec![e1]);
    assert_eq!(ids(tx.webhook_endpoints_for(f.shop, K::StockLow).await.unwrap()), vec![e2]);
    assert!(tx.webhook_endpoints_for(f.shop, K::DisputeOpened).await.unwrap().is_empty());
    assert!(!tx.disable_webhook_endpoint(f.shop, theirs, at(4)).await.unwrap(), "not another shop's endpoint");

    let new = |endpoint, event_id| NewWebhookDelivery {
        endpoint_id: endpoint,
        shop_id: f.shop,
        event_id,
        kind: K::OrderPaid,
        subject: None,
        body: r#"{"id":"evt_1"}"#,
        at: at(10),
    };
    tx.insert_webhook_delivery(&new(e1, "evt_1")).await.unwrap();
    tx.insert_webhook_delivery(&new(e1, "evt_1")).await.unwrap(); // the same event again: ignored
    tx.insert_webhook_delivery(&new(e2, "evt_2")).await.unwrap();
    tx.commit().await.unwrap();

    let mut tx = store.begin(TxMode::Write).await.unwrap();
    assert!(tx.due_webhook_deliveries(at(9), 10).await.unwrap().is_empty(), "not due yet");
    let due = tx.due_webhook_deliveries(at(10), 10).await.unwrap();
    assert_eq!(due.len(), 2);
    let d = due[0].clone();
    assert_eq!((d.endpoint_id, d.event_id.as_str(), d.state, d.attempts), (e1, "evt_1", DeliveryState::Pending, 0));
    assert_eq!(tx.endpoint_webhook_deliveries(e1, 0, 10).await.unwrap(), vec![d.clone()]);
    assert!(tx.lease_webhook_delivery(d.id, "one", at(10), at(100)).await.unwrap());
    assert!(!tx.lease_webhook_delivery(d.id, "two", at(20), at(200)).await.unwrap(), "leased to one sender");
    assert_eq!(tx.due_webhook_deliveries(at(20), 10).await.unwrap().len(), 1, "a leased delivery is not due");
    let failed = WebhookAttempt {
        state: DeliveryState::Pending,
        attempts: 1,
        next_attempt_at: at(500),
        at: at(30),
        status: Some(503),
        response: Some("busy"),
        error: None,
    };
    assert!(!tx.record_webhook_attempt(d.id, "two", &failed).await.unwrap(), "only the lease holder records");
    assert!(tx.record_webhook_attempt(d.id, "one", &failed).await.unwrap());
    let d = tx.webhook_delivery(d.id).await.unwrap().unwrap();
    assert_eq!(
        (d.attempts, d.next_attempt_at, d.last_status, d.last_response.as_deref()),
        (1, at(500), Some(503), Some("busy"))
    );
    assert_eq!(d.last_attempt_at, Some(at(30)));
    assert!(tx.lease_webhook_delivery(d.id, "two", at(500), at(600)).await.unwrap(), "the lease was freed");
    let gave_up = WebhookAttempt { state: DeliveryState::Failed, error: Some("timed out"), status: None, ..failed };
    assert!(tx.record_webhook_attempt(d.id, "two", &gave_up).await.unwrap());
    assert!(!tx.lease_webhook_delivery(d.id, "three", at(900), at(990)).await.unwrap(), "failed is final");

    assert!(!tx.resend_webhook_delivery(other.shop, d.id, at(1_000)).await.unwrap(), "only its shop re-sends");
    assert!(tx.resend_webhook_delivery(f.shop, d.id, at(1_000)).await.unwrap());
    let d = tx.webhook_delivery(d.id).await.unwrap().unwrap();
    assert_eq!(
        (d.state, d.attempts, d.next_attempt_at, d.event_id.as_str()),
        (DeliveryState::Pending, 0, at(1_000), "evt_1")
    );

    assert!(tx.disable_webhook_endpoint(f.shop, e1, at(1_001)).await.unwrap());
    assert!(!tx.disable_webhook_endpoint(f.shop, e1, at(1_002)).await.unwrap(), "removed once");
    assert_eq!(tx.webhook_delivery(d.id).await.unwrap().unwrap().state, DeliveryState::Cancelled);
    assert!(!tx.resend_webhook_delivery(f.shop, d.id, at(1_003)).await.unwrap(), "not to a removed endpoint");
    assert_eq!(ids(tx.shop_webhook_endpoints(f.shop, 10).await.unwrap()), vec![e2]);

    assert_eq!(tx.stock_alert_threshold(f.product).await.unwrap(), None);
    tx.set_stock_alert_threshold(f.product, 7).await.unwrap();
    tx.set_stock_alert_threshold(f.product, 3).await.unwrap();
    assert_eq!(tx.stock_alert_threshold(f.product).await.unwrap(), Some(3));

    // Low-stock mails: written with their sale, taken once each, oldest first.
    assert!(tx.pending_stock_alert_mails(10).await.unwrap().is_empty());
    tx.insert_stock_alert_mail(f.shop, f.product, 2, 3, at(1_100)).await.unwrap();
    tx.insert_stock_alert_mail(f.shop, f.product, 1, 3, at(1_200)).await.unwrap();
    let owed = tx.pending_stock_alert_mails(10).await.unwrap();
    assert_eq!(
        owed.iter().map(|m| (m.shop_id, m.product_id, m.stock, m.threshold, m.created_at)).collect::<Vec<_>>(),
        vec![(f.shop, f.product, 2, 3, at(1_100)), (f.shop, f.product, 1, 3, at(1_200))]
    );
    assert_eq!(tx.pending_stock_alert_mails(1).await.unwrap().len(), 1, "bounded");
    assert!(tx.take_stock_alert_mail(owed[0].id, at(1_300)).await.unwrap());
    assert!(!tx.take_stock_alert_mail(owed[0].id, at(1_301)).await.unwrap(), "taken once");
    assert_eq!(tx.pending_stock_alert_mails(10).await.unwrap(), vec![owed[1].clone()]);
    assert!(tx.take_stock_alert_mail(owed[1].id, at(1_302)).await.unwrap());

    tx.commit().await.unwrap();

    // Claims near their deadline, once per deadline.
    import(store, &f, 77, 2).await;
    let mut tx = store.begin(TxMode::Write).await.unwrap();
    let order = tx.insert_order(&new_order(&f, "K000000000000000000000000WH", None, 1)).await.unwrap();
    let claim_id = tx.insert_claim(&claim(order, f.shop, "WH1", 1, Some(at(5_000)))).await.unwrap();
    assert!(tx.claims_due_soon(at(0), at(4_999), 10).await.unwrap().is_empty(), "not within the window");
    let soon = tx.claims_due_soon(at(0), at(5_000), 10).await.unwrap();
    assert_eq!(soon.iter().map(|c| c.id).collect::<Vec<_>>(), vec![claim_id]);
    assert!(tx.mark_deadline_notice(claim_id, at(5_000)).await.unwrap());
    assert!(!tx.mark_deadline_notice(claim_id, at(5_000)).await.unwrap());
    assert!(tx.claims_due_soon(at(0), at(5_000), 10).await.unwrap().is_empty(), "once per deadline");
    tx.commit().await.unwrap();
}

// ---- insurance payouts ----

pub async fn insurance_payouts_are_taken_once(store: &dyn Store) {
    use crate::{Payout, PayoutState};
    let f = merchant_with_product(store, "payout_insurer").await;
    let mut tx = store.begin(TxMode::Write).await.unwrap();
    let insured = tx.insert_order(&new_order(&f, "K000000000000000000000000P1", None, 1)).await.unwrap();
    let bare = tx.insert_order(&new_order(&f, "K000000000000000000000000P2", None, 1)).await.unwrap();
    let cover = |order| crate::Cover {
        order_id: order,
        kind: crate::CoverKind::Cover,
        premium: Money::from_fen(30),
        extended_until: None,
        created_at: T0,
    };
    tx.insert_cover(&cover(insured)).await.unwrap();
    let due = tx.insert_claim(&claim(insured, f.shop, "PC1", 1, Some(at(1_000)))).await.unwrap();
    tx.insert_claim(&claim(bare, f.shop, "PC2", 1, Some(at(1_000)))).await.unwrap();
    let ineligible = crate::ClaimRecord { eligible: false, ..claim(insured, f.shop, "PC3", 1, Some(at(1_000))) };
    tx.insert_claim(&ineligible).await.unwrap();
    let later = tx.insert_claim(&claim(insured, f.shop, "PC4", 1, Some(at(5_000)))).await.unwrap();
    tx.commit().await.unwrap();

    // Only the insured, eligible claim whose deadline (plus grace) passed; uninsured and ineligible ones never.
    let mut tx = store.begin(TxMode::Write).await.unwrap();
    let ids = |v: Vec<crate::ClaimRecord>| v.into_iter().map(|c| c.id).collect::<Vec<_>>();
    assert_eq!(ids(tx.insurable_claims(at(999), 10).await.unwrap()), Vec::<i64>::new());
    assert_eq!(ids(tx.insurable_claims(at(1_000), 10).await.unwrap()), vec![due]);
    // A suspended shop's open claims are insurable whatever their deadline.
    tx.set_shop_suspended(f.shop, true, Some("违规")).await.unwrap();
    assert_eq!(ids(tx.insurable_claims(at(1_000), 10).await.unwrap()), vec![due, later]);
    tx.set_shop_suspended(f.shop, false, None).await.unwrap();
    let p = Payout {
        id: 0,
        claim_id: due,
        order_id: insured,
        shop_id: f.shop,
        amount: Money::from_fen(990),
        state: PayoutState::Pending,
        created_at: at(2_000),
        decided_at: None,
    };
    let id = tx.insert_payout(&p).await.unwrap();
    tx.commit().await.unwrap();
    let mut tx = store.begin(TxMode::Write).await.unwrap();
    let err = tx.insert_payout(&p).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict("insurance_payouts.claim")), "{err:?}");
    drop(tx);

    let mut tx = store.begin(TxMode::Write).await.unwrap();
    assert!(tx.insurable_claims(at(1_000), 10).await.unwrap().is_empty(), "a claim with a payout is taken");
    assert_eq!(tx.pending_payouts(10).await.unwrap(), vec![Payout { id, ..p.clone() }]);
    assert!(tx.decide_payout(id, PayoutState::Paid, at(3_000)).await.unwrap());
    assert!(!tx.decide_payout(id, PayoutState::Paid, at(3_001)).await.unwrap(), "compare-and-set: paid once");
    assert!(tx.pending_payouts(10).await.unwrap().is_empty());
    let paid = Payout { id, state: PayoutState::Paid, decided_at: Some(at(3_000)), ..p };
    assert_eq!(tx.order_payouts(insured).await.unwrap(), vec![paid]);
    assert!(tx.order_payouts(bare).await.unwrap().is_empty());
    tx.commit().await.unwrap();
}

// ---- the insurance book ----

pub async fn insurance_book_groups_by_category_and_shop(store: &dyn Store) {
    use crate::BookLine;
    use kabao_core::ledger::{Account, LedgerTx, TxKind};
    let a = merchant_with_product(store, "book_a").await;
    let b = merchant_with_product(store, "book_b").await;
    let c = merchant_with_product(store, "book_c").await;
    let mut tx = store.begin(TxMode::Write).await.unwrap();
    let top_up_draft = ProductDraft { category: Category::TopUp, ..draft("b", true) };
    let top_up = tx.insert_product(b.shop, &top_up_draft, T0).await.unwrap();
    let a1 = tx.insert_order(&new_order(&a, "K000000000000000000000000B1", None, 1)).await.unwrap();
    let a2 = tx.insert_order(&new_order(&a, "K000000000000000000000000B2", None, 1)).await.unwrap();
    let b1 = crate::NewOrder { product_id: top_up, ..new_order(&b, "K000000000000000000000000B3", None, 1) };
    let b1 = tx.insert_order(&b1).await.unwrap();
    let c1 = tx.insert_order(&new_order(&c, "K000000000000000000000000B4", None, 1)).await.unwrap();
    let t = |kind, from, to, fen| LedgerTx::transfer(kind, from, to, Money::from_fen(fen)).unwrap();
    let (edge, pool) = (Account::GatewayClearing, Account::InsurancePool);
    for (order, fen) in [(a1, 300), (a2, 200), (b1, 500), (c1, 50)] {
        tx.post_ledger(&t(TxKind::InsurancePremium, edge, pool, fen), Some(order), T0).await.unwrap();
    }
    // a2's premium is refunded; a1's claim is paid and recovered from the shop; b1's payout waits.
    tx.post_ledger(&t(TxKind::InsuranceRefund, pool, edge, 200), Some(a2), T0).await.unwrap();
    tx.post_ledger(&t(TxKind::InsurancePayout, pool, edge, 400), Some(a1), T0).await.unwrap();
    let receivable = Account::InsuranceReceivable(a.shop);
    tx.post_ledger(&t(TxKind::InsuranceRecovery, receivable, pool, 400), Some(a1), T0).await.unwrap();
    // Money moved with no order (a wallet top-up) and other accounts do not count.
    tx.post_ledger(&t(TxKind::TopUp, edge, Account::CompensationFund, 7), None, T0).await.unwrap();
    let claim_b = tx.insert_claim(&claim(b1, b.shop, "BC1", 1, None)).await.unwrap();
    let pending = crate::Payout {
        id: 0,
        claim_id: claim_b,
        order_id: b1,
        shop_id: b.shop,
        amount: Money::from_fen(990),
        state: crate::PayoutState::Pending,
        created_at: T0,
        decided_at: None,
    };
    tx.insert_payout(&pending).await.unwrap();
    tx.commit().await.unwrap();

    let mut tx = store.begin(TxMode::Read).await.unwrap();
    let line = |premiums, payouts, recoveries, pending_count, pending| BookLine {
        premiums: Money::from_fen(premiums),
        payouts: Money::from_fen(payouts),
        recoveries: Money::from_fen(recoveries),
        pending_count,
        pending_amount: Money::from_fen(pending),
    };
    let book = tx.insurance_book(2).await.unwrap();
    assert_eq!(
        book.by_category,
        vec![(Category::GameCard, line(350, 400, 400, 0, 0)), (Category::TopUp, line(500, 0, 0, 1, 990))]
    );
    // Most premium first, bounded: shop c (50) is left out of the top two.
    assert_eq!(
        book.by_shop,
        vec![
            (b.shop, "book_b's shop".to_string(), line(500, 0, 0, 1, 990)),
            (a.shop, "book_a's shop".to_string(), line(300, 400, 400, 0, 0)),
        ]
    );
    assert_eq!(tx.insurance_book(10).await.unwrap().by_shop.len(), 3);
    assert!(tx.insurance_book(0).await.unwrap().by_shop.is_empty());
}

/// An open claim without a deadline (an extended-warranty claim, answered by the insurance pool) does not hold
/// the order's settlement; an open claim with one still does.
pub async fn extended_warranty_claims_do_not_hold_settlement(store: &dyn Store) {
    let f = merchant_with_product(store, "extension_settler").await;
    import(store, &f, 41, 2).await;
    let mut tx = store.begin(TxMode::Write).await.unwrap();
    let order = tx.insert_order(&new_order(&f, "K000000000000000000000000X1", None, 2)).await.unwrap();
    tx.allocate_keys(f.product, order, 2).await.unwrap();
    assert!(tx.deliver_order(order, kabao_core::order::OrderState::PendingPayment, at(50), at(60)).await.unwrap());
    tx.insert_claim(&claim(order, f.shop, "X1", 1, None)).await.unwrap();
    assert_eq!(tx.orders_due_for_settlement(at(70), 10).await.unwrap().len(), 1, "the pool's claim holds nothing");
    tx.insert_claim(&claim(order, f.shop, "X2", 2, Some(at(1_000)))).await.unwrap();
    assert!(tx.orders_due_for_settlement(at(70), 10).await.unwrap().is_empty(), "the merchant's claim holds it");
    tx.commit().await.unwrap();
}

/// What shops owe the insurance pool is summed from their receivable accounts alone: other accounts (wallets,
/// escrow, the pool) never count, and a repaid receivable counts zero.
pub async fn insurance_receivables_are_summed_apart_from_the_ledger(store: &dyn Store) {
    use kabao_core::ledger::{self, Account, LedgerTx, TxKind};
    let (a, b) = (merchant_with_product(store, "owes_a").await, merchant_with_product(store, "owes_b").await);
    let mut tx = store.begin(TxMode::Write).await.unwrap();
    assert_eq!(tx.insurance_receivables().await.unwrap(), Money::ZERO);
    let buyer = tx.insert_user(&new_user("pool_noise", Role::Buyer)).await.unwrap();
    tx.post_ledger(&ledger::top_up(buyer, Money::from_fen(5_000)).unwrap(), None, T0).await.unwrap();
    let owe = |shop, fen| {
        LedgerTx::transfer(
            TxKind::InsuranceRecovery,
            Account::InsuranceReceivable(shop),
            Account::InsurancePool,
            Money::from_fen(fen),
        )
        .unwrap()
    };
    tx.post_ledger(&owe(a.shop, 300), None, T0).await.unwrap();
    tx.post_ledger(&owe(b.shop, 45), None, T0).await.unwrap();
    assert_eq!(tx.insurance_receivables().await.unwrap(), Money::from_fen(-345));
    let repaid = LedgerTx::transfer(
        TxKind::InsuranceRecovery,
        Account::InsurancePool,
        Account::InsuranceReceivable(b.shop),
        Money::from_fen(45),
    )
    .unwrap();
    tx.post_ledger(&repaid, None, T0).await.unwrap();
    assert_eq!(tx.insurance_receivables().await.unwrap(), Money::from_fen(-300));
    tx.commit().await.unwrap();
}

// ---- gateway refunds (migration 0021) ----

pub async fn gateway_refunds_are_queued_attempted_once_and_decided(store: &dyn Store) {
    use crate::{GatewayRefundState as S, NewGatewayRefund, RefundAttempt};
    let f = merchant_with_product(store, "refund_gateway").await;
    let mut tx = store.begin(TxMode::Write).await.unwrap();
    let order = tx.insert_order(&new_order(&f, "K000000000000000000000000R1", None, 1)).await.unwrap();
    let unpaid = tx.insert_order(&new_order(&f, "K000000000000000000000000R2", None, 1)).await.unwrap();
    let pay = |trade_no: &str, order| crate::NewPayment {
        gateway: "alipay".into(),
        trade_no: trade_no.into(),
        purpose: crate::PaymentPurpose::Order(order),
        amount: Money::from_fen(990),
        created_at: T0,
    };
    let first = tx.insert_payment(&pay("PR1", order)).await.unwrap();
    let second = tx.insert_payment(&pay("PR2", order)).await.unwrap();
    tx.insert_payment(&pay("PR3", unpaid)).await.unwrap();
    assert!(tx.paid_payment_of_order(order).await.unwrap().is_none(), "nothing paid yet");
    assert!(tx.mark_payment_paid(second, "G2", at(2_000)).await.unwrap());
    assert!(tx.mark_payment_paid(first, "G1", at(1_000)).await.unwrap());
    // The first payment paid is the one that paid the order (a later one is refunded as late).
    assert_eq!(tx.paid_payment_of_order(order).await.unwrap().map(|p| p.id), Some(first));
    assert!(tx.paid_payment_of_order(unpaid).await.unwrap().is_none());
    assert_eq!(tx.payment_by_id(second).await.unwrap().map(|p| p.trade_no), Some("PR2".to_string()));
    let new = |no: &str, fen| NewGatewayRefund {
        refund_no: no.into(),
        order_id: order,
        payment_id: first,
        gateway: "alipay".into(),
        amount: Money::from_fen(fen),
        reason: "refund".into(),
        created_at: at(3_000),
    };
    let a = tx.insert_gateway_refund(&new("RA", 500)).await.unwrap();
    let b = tx.insert_gateway_refund(&new("RB", 300)).await.unwrap();
    tx.commit().await.unwrap();
    let mut tx = store.begin(TxMode::Write).await.unwrap();
    let err = tx.insert_gateway_refund(&new("RA", 1)).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict("gateway_refunds.refund_no")), "{err:?}");
    drop(tx);

    let mut tx = store.begin(TxMode::Write).await.unwrap();
    assert!(tx.due_gateway_refunds(at(2_999), 10).await.unwrap().is_empty(), "not due before it was queued");
    let due = tx.due_gateway_refunds(at(3_000), 10).await.unwrap();
    assert_eq!(
        due.iter().map(|r| (r.id, r.state, r.attempts)).collect::<Vec<_>>(),
        [(a, S::Pending, 0), (b, S::Pending, 0)]
    );
    assert_eq!(tx.open_gateway_refunds().await.unwrap(), (2, Money::from_fen(800)));
    let failed = RefundAttempt {
        state: S::Pending,
        next_attempt_at: at(60_000),
        last_error: Some("gateway unreachable"),
        gateway_refund_no: None,
        outcome_note: None,
        at: at(4_000),
    };
    assert!(tx.record_refund_attempt(a, 0, &failed).await.unwrap());
    // Compare-and-set on the attempt count: a second attempt started from the same count changes nothing.
    assert!(!tx.record_refund_attempt(a, 0, &failed).await.unwrap());
    assert_eq!(tx.due_gateway_refunds(at(59_999), 10).await.unwrap().iter().map(|r| r.id).collect::<Vec<_>>(), [b]);
    let done = RefundAttempt {
        state: S::Done,
        next_attempt_at: at(61_000),
        last_error: None,
        gateway_refund_no: Some("GR1"),
        outcome_note: None,
        at: at(61_000),
    };
    assert!(tx.record_refund_attempt(a, 1, &done).await.unwrap());
    assert!(!tx.record_refund_attempt(a, 2, &done).await.unwrap(), "a decided refund is never attempted again");
    let manual = RefundAttempt {
        state: S::Manual,
        next_attempt_at: at(62_000),
        last_error: None,
        gateway_refund_no: None,
        outcome_note: Some("ACQ.TRADE_HAS_CLOSE"),
        at: at(62_000),
    };
    assert!(tx.record_refund_attempt(b, 0, &manual).await.unwrap());
    assert!(tx.due_gateway_refunds(at(1_000_000), 10).await.unwrap().is_empty());
    assert_eq!(tx.open_gateway_refunds().await.unwrap(), (1, Money::from_fen(300)), "manual ones stay open");
    let attention = tx.gateway_refunds_needing_attention(8, 10).await.unwrap();
    assert_eq!(attention.iter().map(|r| r.id).collect::<Vec<_>>(), [b]);
    let stored = tx.gateway_refund(a).await.unwrap().unwrap();
    assert_eq!((stored.state, stored.attempts, stored.gateway_refund_no.as_deref()), (S::Done, 2, Some("GR1")));
    assert_eq!(stored.last_error, None);
    assert_eq!(stored.decided_at, Some(at(61_000)));
    assert!(tx.resolve_manual_refund(b, "支付宝后台手工退款 2026120612345", at(70_000)).await.unwrap());
    assert!(!tx.resolve_manual_refund(b, "again", at(70_001)).await.unwrap(), "resolved once");
    assert!(!tx.resolve_manual_refund(a, "not manual", at(70_002)).await.unwrap());
    let all = tx.order_gateway_refunds(order).await.unwrap();
    assert_eq!(
        all.iter().map(|r| (r.refund_no.as_str(), r.state)).collect::<Vec<_>>(),
        [("RA", S::Done), ("RB", S::Done)]
    );
    assert_eq!(all[1].outcome_note.as_deref(), Some("支付宝后台手工退款 2026120612345"));
    assert_eq!(tx.open_gateway_refunds().await.unwrap(), (0, Money::ZERO));
    // The buyer's choice of the wallet: off until chosen, then as last set.
    assert!(!tx.prefers_wallet_refunds(f.owner).await.unwrap());
    tx.set_prefers_wallet_refunds(f.owner, true, at(80_000)).await.unwrap();
    assert!(tx.prefers_wallet_refunds(f.owner).await.unwrap());
    tx.set_prefers_wallet_refunds(f.owner, false, at(80_001)).await.unwrap();
    assert!(!tx.prefers_wallet_refunds(f.owner).await.unwrap());
    tx.commit().await.unwrap();
}

/// Reconciliation: a finding is recorded once per (gateway, trade, kind), listed open newest first by keyset and
/// resolved once; the job's pending payments (orders awaiting payment or expired, top-ups) and a day's payments
/// page by id and by (created_at, id); a withdrawal's transfer is queued once, postponed by compare-and-set on
/// its attempts, and finished once — and a queued one is no longer the admin's to decide.
pub async fn reconciliation_findings_payments_and_transfers(store: &dyn Store) {
    use crate::PaymentPurpose::{Order, TopUp};
    use crate::{FindingKind, NewFinding, NewWithdrawal, WithdrawalState};
    use kabao_core::order::OrderState as S;
    let f = merchant_with_product(store, "recon_shop").await;
    let finding = |trade_no: &'static str, kind: FindingKind, date: &'static str, ms: i64| NewFinding {
        gateway: "alipay",
        trade_no,
        gateway_trade_no: Some("2026GW"),
        kind,
        expected: Money::from_fen(990),
        got: (kind == FindingKind::AmountMismatch).then_some(Money::from_fen(1)),
        business_date: date,
        detail: "detail",
        created_at: at(ms),
    };
    let mut tx = store.begin(TxMode::Write).await.unwrap();
    assert!(tx.insert_finding(&finding("R1", FindingKind::AmountMismatch, "2026-12-01", 1)).await.unwrap());
    assert!(!tx.insert_finding(&finding("R1", FindingKind::AmountMismatch, "2026-12-01", 2)).await.unwrap(), "once");
    assert!(tx.insert_finding(&finding("R1", FindingKind::AppliedLate, "2026-12-01", 3)).await.unwrap());
    assert!(tx.insert_finding(&finding("R2", FindingKind::UnknownTrade, "2026-12-02", 4)).await.unwrap());
    tx.commit().await.unwrap();

    let mut tx = store.begin(TxMode::Write).await.unwrap();
    let open = tx.list_open_findings(None, 10).await.unwrap();
    let kinds: Vec<(&str, FindingKind)> = open.iter().map(|x| (x.trade_no.as_str(), x.kind)).collect();
    assert_eq!(
        kinds,
        vec![("R2", FindingKind::UnknownTrade), ("R1", FindingKind::AppliedLate), ("R1", FindingKind::AmountMismatch)],
        "newest first"
    );
    let first = &open[2];
    assert_eq!(
        (first.expected, first.got, first.business_date.as_str(), first.created_at, first.resolved_at),
        (Money::from_fen(990), Some(Money::from_fen(1)), "2026-12-01", at(1), None)
    );
    let page = tx.list_open_findings(Some(open[1].id), 10).await.unwrap();
    assert_eq!(page.iter().map(|x| x.id).collect::<Vec<_>>(), vec![first.id], "keyset: below an id");
    assert_eq!(tx.list_open_findings(None, 1).await.unwrap().len(), 1, "at most limit");
    assert!(tx.resolve_finding(first.id, f.owner, "refunded by hand", at(5)).await.unwrap());
    assert!(!tx.resolve_finding(first.id, f.owner, "again", at(6)).await.unwrap(), "resolved once");
    let resolved = tx.finding_by_id(first.id).await.unwrap().unwrap();
    assert_eq!(
        (resolved.resolved_at, resolved.resolved_by, resolved.note.as_deref()),
        (Some(at(5)), Some(f.owner), Some("refunded by hand"))
    );
    assert_eq!(tx.list_open_findings(None, 10).await.unwrap().len(), 2, "a resolved finding is not open");
    let day: Vec<i64> = tx.findings_of_date("2026-12-01", 0, 10).await.unwrap().iter().map(|x| x.id).collect();
    assert_eq!(day, vec![first.id, open[1].id], "a day's findings, resolved or not, by id");
    assert!(tx.finding_by_id(i64::MAX).await.unwrap().is_none());
    tx.commit().await.unwrap();

    // Payments: pending ones of orders awaiting payment or expired, and top-ups; not paid, not delivered orders.
    let mut tx = store.begin(TxMode::Write).await.unwrap();
    let buyer = tx.insert_user(&new_user("recon_buyer", Role::Buyer)).await.unwrap();
    let open_order = tx.insert_order(&new_order(&f, "K00000000000000000000000RA", Some(buyer), 1)).await.unwrap();
    let expired = tx.insert_order(&new_order(&f, "K00000000000000000000000RB", Some(buyer), 1)).await.unwrap();
    assert!(tx.update_order_state(expired, S::PendingPayment, S::Expired, at(1)).await.unwrap());
    let cancelled = tx.insert_order(&new_order(&f, "K00000000000000000000000RC", Some(buyer), 1)).await.unwrap();
    assert!(tx.update_order_state(cancelled, S::PendingPayment, S::Paid, at(1)).await.unwrap());
    let a = tx.insert_payment(&new_payment("RP1", "alipay", Order(open_order), at(1_000))).await.unwrap();
    let b = tx.insert_payment(&new_payment("RP2", "alipay", Order(expired), at(1_000))).await.unwrap();
    let c = tx.insert_payment(&new_payment("RP3", "alipay", TopUp(buyer), at(2_000))).await.unwrap();
    tx.insert_payment(&new_payment("RP4", "alipay", Order(cancelled), at(2_000))).await.unwrap();
    tx.insert_payment(&new_payment("RP5", "epay", Order(open_order), at(2_000))).await.unwrap();
    let paid = tx.insert_payment(&new_payment("RP6", "alipay", Order(open_order), at(2_000))).await.unwrap();
    assert!(tx.mark_payment_paid(paid, "GW6", at(3_000)).await.unwrap());
    let recent = tx.insert_payment(&new_payment("RP7", "alipay", Order(open_order), at(90_000))).await.unwrap();
    let old = tx.insert_payment(&new_payment("RP8", "alipay", Order(open_order), at(0))).await.unwrap();
    tx.commit().await.unwrap();

    let mut tx = store.begin(TxMode::Read).await.unwrap();
    let ids = |v: Vec<crate::Payment>| v.iter().map(|p| p.id).collect::<Vec<_>>();
    let due = ids(tx.payments_to_reconcile("alipay", at(1_000), at(60_000), 0, 10).await.unwrap());
    assert_eq!(due, vec![a, b, c], "pending, old enough, within the window, awaiting payment or expired, top-ups");
    let due = ids(tx.payments_to_reconcile("alipay", at(1_000), at(60_000), a, 1).await.unwrap());
    assert_eq!(due, vec![b], "after an id, at most limit");
    let due = ids(tx.payments_to_reconcile("alipay", at(0), at(100_000), 0, 10).await.unwrap());
    assert_eq!(due, vec![a, b, c, recent, old]);

    let day =
        ids(tx.gateway_payments_created("alipay", at(0), at(90_000), (Timestamp(i64::MIN), 0), 10).await.unwrap());
    assert_eq!(day[0], old, "by created_at, then id");
    assert_eq!(day.len(), 6, "every state, this gateway, within [from, to): {day:?}");
    assert!(!day.contains(&recent));
    let page1 = tx.gateway_payments_created("alipay", at(0), at(90_000), (Timestamp(i64::MIN), 0), 2).await.unwrap();
    let last = page1.last().map(|p| (p.created_at, p.id)).unwrap();
    let page2 = ids(tx.gateway_payments_created("alipay", at(0), at(90_000), last, 10).await.unwrap());
    assert_eq!([ids(page1), page2].concat(), day, "keyset pages add up to the day");
    drop(tx);

    // Withdrawal transfers.
    fund_shop(store, &f, "K00000000000000000000000RW1", 5_000).await;
    let mut tx = store.begin(TxMode::Write).await.unwrap();
    let payee = tx.insert_payee(f.shop, &alipay_payee("13800000000"), at(1)).await.unwrap();
    let hold = kabao_core::ledger::request_withdrawal(f.shop, Money::from_fen(1_000)).unwrap();
    let hold = tx.post_ledger(&hold, None, at(2)).await.unwrap();
    let w = tx
        .insert_withdrawal(&NewWithdrawal {
            shop_id: f.shop,
            amount: Money::from_fen(1_000),
            fee: Money::ZERO,
            payee_id: payee,
            payee: alipay_payee("13800000000"),
            hold_tx_id: hold,
            requested_at: at(2),
        })
        .await
        .unwrap();
    assert!(tx.queue_withdrawal_transfer(w, f.owner, at(10)).await.unwrap());
    assert!(!tx.queue_withdrawal_transfer(w, f.owner, at(11)).await.unwrap(), "queued once");
    assert!(tx.list_pending_withdrawals(10).await.unwrap().is_empty(), "a queued transfer is not the admin's");
    assert!(
        !tx.decide_withdrawal(w, WithdrawalState::Approved, f.owner, None, Some("BY-HAND"), at(12)).await.unwrap(),
        "nor decided by hand"
    );
    assert!(tx.withdrawal_transfers_due(at(9), 10).await.unwrap().is_empty(), "not due yet");
    let due = tx.withdrawal_transfers_due(at(10), 10).await.unwrap();
    assert_eq!((due.len(), due[0].withdrawal.id, due[0].attempts), (1, w, 0));
    assert!(tx.postpone_withdrawal_transfer(w, 0, at(100), "unreachable").await.unwrap());
    assert!(!tx.postpone_withdrawal_transfer(w, 0, at(200), "unreachable").await.unwrap(), "attempt counted once");
    assert!(tx.withdrawal_transfers_due(at(99), 10).await.unwrap().is_empty(), "postponed");
    assert_eq!(tx.withdrawal_transfers_due(at(100), 10).await.unwrap()[0].attempts, 1);
    assert!(tx
        .finish_withdrawal_transfer(w, WithdrawalState::Approved, Some("ALI-ORDER-1"), None, at(101))
        .await
        .unwrap());
    assert!(
        !tx.finish_withdrawal_transfer(w, WithdrawalState::Rejected, None, Some("no"), at(102)).await.unwrap(),
        "finished once"
    );
    let done = tx.withdrawal_by_id(w).await.unwrap().unwrap();
    assert_eq!(
        (done.state, done.payout_ref.as_deref(), done.decided_at, done.decided_by),
        (WithdrawalState::Approved, Some("ALI-ORDER-1"), Some(at(101)), Some(f.owner))
    );
    assert!(tx.withdrawal_transfers_due(at(1_000), 10).await.unwrap().is_empty());
    assert!(tx.acquire_job_lease("gateway_reconcile", "a", at(0), at(60_000)).await.unwrap(), "lease row");
    assert!(tx.acquire_job_lease("withdrawal_transfers", "a", at(0), at(60_000)).await.unwrap(), "lease row");
    tx.commit().await.unwrap();
}

/// A variant (面值) of the fixture's product: its own product row, not listed in the catalog by itself.
async fn add_variant(store: &dyn Store, f: &Fixture, label: &str) -> Fixture {
    let mut tx = store.begin(TxMode::Write).await.unwrap();
    let product = tx.insert_product(f.shop, &draft(&format!("variant {label}"), true), T0).await.unwrap();
    tx.set_variant_of(product, Some((f.product, label))).await.unwrap();
    tx.commit().await.unwrap();
    Fixture { owner: f.owner, shop: f.shop, product }
}

fn coupon_terms(code: &str, limit: i64, per_buyer: Option<i64>) -> kabao_core::pricing::CouponTerms {
    kabao_core::pricing::CouponTerms {
        code: code.to_string(),
        off: kabao_core::pricing::CouponOff::Amount(Money::from_fen(100)),
        product: None,
        min_order: None,
        usage_limit: limit,
        per_buyer_limit: per_buyer,
        expires_at: at(1_000_000),
    }
}

pub async fn variants_and_tiers_roundtrip(store: &dyn Store) {
    use kabao_core::pricing::Tier;
    let f = merchant_with_product(store, "facevalue").await;
    let v10 = add_variant(store, &f, "10元").await;
    let v50 = add_variant(store, &f, "50元").await;
    let mut tx = store.begin(TxMode::Write).await.unwrap();
    let variants = tx.variants_of(f.product).await.unwrap();
    assert_eq!(
        variants.iter().map(|v| (v.product_id, v.label.as_str())).collect::<Vec<_>>(),
        vec![(v10.product, "10元"), (v50.product, "50元")]
    );
    assert_eq!(tx.variant_parent(v50.product).await.unwrap(), Some((f.product, "50元".to_string())));
    assert_eq!(tx.variant_parent(f.product).await.unwrap(), None);
    let listed: Vec<ProductId> = tx.list_listed_products(100, 0).await.unwrap().iter().map(|l| l.product.id).collect();
    assert_eq!(listed, vec![f.product], "variants are not catalog entries of their own");
    assert_eq!(tx.variant_products_of_shop(f.shop).await.unwrap(), vec![v10.product, v50.product]);
    let tiers = [
        Tier { min_quantity: 10, unit_price: Money::from_fen(950) },
        Tier { min_quantity: 50, unit_price: Money::from_fen(900) },
    ];
    tx.set_tiers(v10.product, &tiers).await.unwrap();
    assert_eq!(tx.tiers_of(v10.product).await.unwrap(), tiers.to_vec());
    assert!(tx.tiers_of(v50.product).await.unwrap().is_empty(), "tiers are per variant");
    tx.set_tiers(v10.product, &tiers[1..]).await.unwrap();
    assert_eq!(tx.tiers_of(v10.product).await.unwrap(), tiers[1..].to_vec(), "a new list replaces the old");
    tx.set_variant_of(v50.product, None).await.unwrap();
    assert_eq!(tx.variants_of(f.product).await.unwrap().len(), 1);
    tx.commit().await.unwrap();
}

pub async fn coupons_codes_uses_and_order_pricing(store: &dyn Store) {
    use crate::{CouponTake, OrderPricing};
    let f = merchant_with_product(store, "couponshop").await;
    let other = merchant_with_product(store, "othershop").await;
    let mut tx = store.begin(TxMode::Write).await.unwrap();
    let id = tx.insert_coupon(f.shop, &coupon_terms("Spring-5", 3, Some(1)), T0).await.unwrap();
    tx.commit().await.unwrap();
    // A failed statement ends a PostgreSQL transaction: the conflict gets one of its own.
    let mut tx = store.begin(TxMode::Write).await.unwrap();
    assert!(
        matches!(
            tx.insert_coupon(f.shop, &coupon_terms("SPRING-5", 1, None), T0).await,
            Err(StoreError::Conflict("coupons.code"))
        ),
        "codes are unique per shop, case-insensitive"
    );
    drop(tx);
    let mut tx = store.begin(TxMode::Write).await.unwrap();
    tx.insert_coupon(other.shop, &coupon_terms("spring-5", 1, None), T0).await.unwrap();
    let c = tx.coupon_by_code(f.shop, "spring-5").await.unwrap().unwrap();
    assert_eq!((c.id, c.terms.code.as_str(), c.used, c.enabled), (id, "Spring-5", 0, true));
    assert_eq!(tx.shop_coupons(f.shop).await.unwrap().len(), 1);
    let a = tx.insert_order(&new_order(&f, "K000000000000000000000000CA", None, 1)).await.unwrap();
    let b = tx.insert_order(&new_order(&f, "K000000000000000000000000CB", None, 1)).await.unwrap();
    let c2 = tx.insert_order(&new_order(&f, "K000000000000000000000000CC", None, 1)).await.unwrap();
    assert_eq!(tx.take_coupon_use(id, a, "guest:x", Some(1), at(1)).await.unwrap(), CouponTake::Taken);
    assert_eq!(tx.take_coupon_use(id, b, "guest:x", Some(1), at(1)).await.unwrap(), CouponTake::BuyerLimit);
    assert_eq!(tx.coupon_by_id(id).await.unwrap().unwrap().used, 1, "the buyer-limit answer changes nothing");
    tx.commit().await.unwrap();
    let mut tx = store.begin(TxMode::Write).await.unwrap();
    assert!(tx.release_coupon_use(a, at(2)).await.unwrap());
    assert!(!tx.release_coupon_use(a, at(3)).await.unwrap(), "a use goes back once");
    assert_eq!(tx.coupon_by_id(id).await.unwrap().unwrap().used, 0);
    assert_eq!(tx.take_coupon_use(id, c2, "guest:x", Some(1), at(4)).await.unwrap(), CouponTake::Taken);
    assert!(tx.set_coupon_enabled(f.shop, id, false).await.unwrap());
    assert!(!tx.set_coupon_enabled(other.shop, id, true).await.unwrap(), "another shop's coupon is not found");
    let d = tx.insert_order(&new_order(&f, "K000000000000000000000000CD", None, 1)).await.unwrap();
    assert_eq!(tx.take_coupon_use(id, d, "guest:y", None, at(5)).await.unwrap(), CouponTake::Unavailable);
    assert!(tx.set_coupon_enabled(f.shop, id, true).await.unwrap());
    assert_eq!(
        tx.take_coupon_use(id, d, "guest:y", None, at(1_000_000)).await.unwrap(),
        CouponTake::Unavailable,
        "expired"
    );
    let pricing = OrderPricing {
        order_id: c2,
        list_unit_price: Money::from_fen(990),
        tier_unit_price: Money::from_fen(950),
        amount_before: Money::from_fen(950),
        coupon_id: Some(id),
        coupon_code: Some("Spring-5".into()),
        discount: Money::from_fen(100),
    };
    tx.set_order_pricing(&pricing).await.unwrap();
    assert_eq!(tx.order_by_id(c2).await.unwrap().unwrap().pricing, Some(pricing));
    assert_eq!(tx.order_by_id(d).await.unwrap().unwrap().pricing, None);
    tx.commit().await.unwrap();
}

pub async fn concurrent_checkouts_use_a_coupon_up_exactly_at_its_limit(store: &std::sync::Arc<dyn Store>) {
    use crate::CouponTake;
    const LIMIT: i64 = 7;
    const BUYERS: usize = 60;
    let f = merchant_with_product(store.as_ref(), "couponrush").await;
    let mut tx = store.begin(TxMode::Write).await.unwrap();
    let coupon = tx.insert_coupon(f.shop, &coupon_terms("RUSH", LIMIT, None), T0).await.unwrap();
    tx.commit().await.unwrap();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..BUYERS {
        let store = store.clone();
        tasks.spawn(async move {
            let mut tx = store.begin(TxMode::Write).await?;
            let order = tx.insert_order(&new_order(&f, &format!("K{i:026}"), None, 1)).await?;
            let took = tx.take_coupon_use(coupon, order, &format!("guest:{i}"), None, at(1)).await?;
            if took != CouponTake::Taken {
                return Ok(false);
            }
            tx.commit().await?;
            Ok::<_, StoreError>(true)
        });
    }
    let mut taken = 0;
    while let Some(joined) = tasks.join_next().await {
        if joined.expect("task panicked").expect("no checkout fails") {
            taken += 1;
        }
    }
    assert_eq!(taken, LIMIT, "exactly the limit's worth of checkouts got the coupon");
    let mut tx = store.begin(TxMode::Read).await.unwrap();
    assert_eq!(tx.coupon_by_id(coupon).await.unwrap().unwrap().used, LIMIT);
    assert_eq!(tx.list_shop_orders(f.shop, 1_000, 0).await.unwrap().len(), LIMIT as usize);
}

pub async fn concurrent_buyers_never_oversell_a_variant(store: &std::sync::Arc<dyn Store>) {
    const KEYS: i64 = 12;
    const BUYERS: usize = 60;
    let parent = merchant_with_product(store.as_ref(), "variantrush").await;
    import(store.as_ref(), &parent, 71, 30).await;
    let f = add_variant(store.as_ref(), &parent, "50元").await;
    import(store.as_ref(), &f, 72, KEYS as u64).await;
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..BUYERS {
        let store = store.clone();
        tasks.spawn(async move {
            let mut tx = store.begin(TxMode::Write).await?;
            let order = tx.insert_order(&new_order(&f, &format!("K{i:026}"), None, 1)).await?;
            let keys = tx.allocate_keys(f.product, order, 1).await?;
            if keys.is_empty() {
                return Ok(0);
            }
            tx.commit().await?;
            Ok::<_, StoreError>(keys.len())
        });
    }
    let mut sold = 0;
    while let Some(joined) = tasks.join_next().await {
        sold += joined.expect("task panicked").expect("no buyer fails");
    }
    assert_eq!(sold, KEYS as usize, "the variant sells exactly its own keys");
    assert_eq!(stock(store.as_ref(), f.product).await, (0, 0));
    assert_eq!(stock(store.as_ref(), parent.product).await.0, 30, "the parent's stock is its own");
}

pub async fn history_pages_by_keyset_and_shop_figures_by_day(store: &dyn Store) {
    use crate::{china_day, DayFigure};
    use kabao_core::ledger::{self, Account, TxKind};
    use kabao_core::order::OrderState as S;
    const DAY: i64 = 86_400_000;
    let f = merchant_with_product(store, "histo").await;
    let mut tx = store.begin(TxMode::Write).await.unwrap();
    let buyer = tx.insert_user(&new_user("hilda", Role::Buyer)).await.unwrap();
    let other = tx.insert_user(&new_user("otto", Role::Buyer)).await.unwrap();
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(tx.insert_order(&new_order(&f, &format!("K{i:026}"), Some(buyer), 1)).await.unwrap());
    }
    tx.insert_order(&new_order(&f, "K00000000000000000000000OT", Some(other), 1)).await.unwrap();
    // ids[1] paid today, ids[3] ten days ago (outside a one-day window).
    assert!(tx.deliver_order(ids[1], S::PendingPayment, at(1000), at(DAY)).await.unwrap());
    assert!(tx.deliver_order(ids[3], S::PendingPayment, at(-10 * DAY), at(DAY)).await.unwrap());
    tx.post_ledger(&ledger::top_up(buyer, Money::from_fen(1000)).unwrap(), None, at(10)).await.unwrap();
    tx.post_ledger(&ledger::pay_from_wallet(buyer, ids[1], Money::from_fen(990)).unwrap(), Some(ids[1]), at(20))
        .await
        .unwrap();
    tx.post_ledger(&ledger::refund_to_wallet(ids[1], buyer, Money::from_fen(500)).unwrap(), Some(ids[1]), at(30))
        .await
        .unwrap();
    tx.commit().await.unwrap();

    let mut tx = store.begin(TxMode::Read).await.unwrap();
    let page = |v: Vec<crate::Order>| v.into_iter().map(|o| o.id).collect::<Vec<_>>();
    assert_eq!(page(tx.buyer_orders_page(buyer, None, None, 2).await.unwrap()), vec![ids[4], ids[3]]);
    assert_eq!(page(tx.buyer_orders_page(buyer, None, Some(ids[3].0), 2).await.unwrap()), vec![ids[2], ids[1]]);
    assert_eq!(page(tx.buyer_orders_page(buyer, None, Some(ids[1].0), 2).await.unwrap()), vec![ids[0]]);
    assert_eq!(page(tx.buyer_orders_page(buyer, Some(S::Delivered), None, 10).await.unwrap()), vec![ids[3], ids[1]]);
    assert_eq!(page(tx.buyer_orders_page(buyer, Some(S::Delivered), Some(ids[3].0), 10).await.unwrap()), vec![ids[1]]);
    assert!(tx.buyer_orders_page(buyer, Some(S::Refunded), None, 10).await.unwrap().is_empty());

    let wallet = Account::BuyerWallet(buyer);
    let all = tx.account_movements(wallet, None, 10).await.unwrap();
    let seen: Vec<_> = all.iter().map(|m| (m.kind, m.amount.fen(), m.order_no.clone())).collect();
    let no = Some("K00000000000000000000000001".to_string());
    assert_eq!(
        seen,
        vec![(TxKind::Refund, 500, no.clone()), (TxKind::Payment, -990, no), (TxKind::TopUp, 1000, None)],
        "newest first, each with its order"
    );
    let second = tx.account_movements(wallet, Some(all[0].entry_id), 1).await.unwrap();
    assert_eq!(second, vec![all[1].clone()], "the cursor continues after the last entry seen");
    assert!(tx.account_movements(wallet, Some(all[2].entry_id), 10).await.unwrap().is_empty());
    assert!(tx.account_movements(Account::BuyerWallet(other), None, 10).await.unwrap().is_empty());

    let figures = tx.shop_figures(f.shop, at(-DAY)).await.unwrap();
    let today = china_day(at(1000));
    assert_eq!(figures.sales, vec![DayFigure { day: today, count: 1, amount: Money::from_fen(990) }]);
    assert_eq!(figures.refunds, vec![DayFigure { day: today, count: 1, amount: Money::from_fen(500) }]);
    assert!(figures.claims.is_empty() && figures.reissue_ms.is_empty());
    let wider = tx.shop_figures(f.shop, at(-30 * DAY)).await.unwrap();
    assert_eq!(wider.sales.len(), 2, "the older sale is inside a 30-day window, on its own day");
    let china_midnight = Timestamp(16 * 3_600_000);
    assert_eq!((china_day(Timestamp(china_midnight.0 - 1)), china_day(china_midnight)), (0, 1), "16:00 UTC");
}

pub async fn email_tokens_are_taken_once_and_only_before_expiry(store: &dyn Store) {
    let mut tx = store.begin(TxMode::Write).await.unwrap();
    let ivy = tx.insert_user(&new_user("ivy", Role::Buyer)).await.unwrap();
    let token = |hash: u8, purpose: EmailTokenPurpose, expires: i64| EmailToken {
        token_hash: vec![hash; 32],
        user_id: ivy,
        purpose,
        email: "ivy@example.com".into(),
        created_at: T0,
        expires_at: at(expires),
        used_at: None,
    };
    let (r1, r2, r3) = (
        token(1, EmailTokenPurpose::Reset, 1_000),
        token(2, EmailTokenPurpose::Reset, 1_000),
        token(3, EmailTokenPurpose::Verify, 1_000),
    );
    for t in [&r1, &r2, &r3] {
        tx.insert_email_token(t).await.unwrap();
    }
    tx.commit().await.unwrap();

    let mut tx = store.begin(TxMode::Write).await.unwrap();
    assert_eq!(tx.email_token(&r1.token_hash).await.unwrap(), Some(r1.clone()));
    assert!(tx.email_token(&[9; 32]).await.unwrap().is_none());
    assert!(!tx.use_email_token(&r1.token_hash, at(1_000)).await.unwrap(), "expired at expires_at");
    assert!(tx.use_email_token(&r1.token_hash, at(999)).await.unwrap());
    assert!(!tx.use_email_token(&r1.token_hash, at(999)).await.unwrap(), "taken once");
    assert_eq!(tx.email_token(&r1.token_hash).await.unwrap().unwrap().used_at, Some(at(999)));
    assert!(!tx.use_email_token(&[9; 32], T0).await.unwrap());
    assert_eq!(tx.retire_email_tokens(ivy, EmailTokenPurpose::Reset, at(10)).await.unwrap(), 1, "r2 only");
    assert!(!tx.use_email_token(&r2.token_hash, at(20)).await.unwrap(), "retired");
    assert!(tx.use_email_token(&r3.token_hash, at(20)).await.unwrap(), "other purpose untouched");
    tx.commit().await.unwrap();
}

pub async fn verified_emails_count_only_for_the_current_address(store: &dyn Store) {
    let mut tx = store.begin(TxMode::Write).await.unwrap();
    let jack = tx.insert_user(&new_user("jack", Role::Buyer)).await.unwrap();
    let kate = tx.insert_user(&new_user("kate", Role::Buyer)).await.unwrap();
    assert!(tx.email_verified(jack).await.unwrap().is_none());
    assert!(tx.users_with_verified_email("jack@example.com").await.unwrap().is_empty(), "not verified yet");
    tx.set_email_verified(jack, "jack@example.com", at(5)).await.unwrap();
    tx.set_email_verified(kate, "old@example.com", at(5)).await.unwrap();
    tx.commit().await.unwrap();

    let mut tx = store.begin(TxMode::Write).await.unwrap();
    assert_eq!(tx.email_verified(jack).await.unwrap(), Some(("jack@example.com".to_string(), at(5))));
    let found: Vec<UserId> =
        tx.users_with_verified_email("jack@example.com").await.unwrap().into_iter().map(|u| u.id).collect();
    assert_eq!(found, vec![jack]);
    assert!(tx.users_with_verified_email("old@example.com").await.unwrap().is_empty(), "kate moved on");
    tx.set_user_email(jack, Some("new@example.com")).await.unwrap();
    assert!(tx.users_with_verified_email("jack@example.com").await.unwrap().is_empty(), "old address");
    assert!(tx.users_with_verified_email("new@example.com").await.unwrap().is_empty(), "not yet proved");
    tx.set_email_verified(jack, "new@example.com", at(7)).await.unwrap();
    assert_eq!(tx.users_with_verified_email("new@example.com").await.unwrap().len(), 1);
    tx.set_user_email(kate, None).await.unwrap();
    assert_eq!(tx.user_by_id(kate).await.unwrap().unwrap().email, None);
    assert!(matches!(tx.set_user_email(UserId(kate.0 + 1000), None).await, Err(StoreError::NotFound)));
    tx.commit().await.unwrap();
}

fn listing_query(q: &str, sort: Option<&str>) -> crate::ListingQuery {
    let terms = kabao_core::search::SearchTerms::parse(q).unwrap();
    let sort = kabao_core::search::ListingSort::parse(sort, terms.is_some()).unwrap();
    crate::ListingQuery { terms, category: None, sort, after: None, limit: 50 }
}

async fn search_ids(store: &dyn Store, q: &str) -> Vec<ProductId> {
    let mut tx = store.begin(TxMode::Read).await.unwrap();
    let rows = tx.search_listings(&listing_query(q, None)).await.unwrap();
    rows.into_iter().map(|r| r.listing.product.id).collect()
}

pub async fn catalog_search_finds_chinese_by_two_characters(store: &dyn Store) {
    let f = merchant_with_product(store, "wang").await;
    let mut tx = store.begin(TxMode::Write).await.unwrap();
    let card = tx.insert_product(f.shop, &draft("网易一卡通点卡 100 元", true), at(1)).await.unwrap();
    let steam = tx.insert_product(f.shop, &draft("Steam 充值卡 50", true), at(2)).await.unwrap();
    let hidden = tx.insert_product(f.shop, &draft("隐藏的点卡", false), at(3)).await.unwrap();
    let other = tx.insert_user(&new_user("li", Role::Merchant)).await.unwrap();
    let li = NewShop { owner_id: other, name: "点卡专营店".into(), description: String::new(), opened_at: T0 };
    let li_shop = tx.insert_shop(&li).await.unwrap();
    let shop_match = tx.insert_product(li_shop, &draft("月卡 30 天", true), at(4)).await.unwrap();
    tx.commit().await.unwrap();

    assert_eq!(search_ids(store, "点卡").await, vec![card, shop_match], "two characters: title first, then shop");
    assert_eq!(search_ids(store, "卡通").await, vec![card]);
    assert_eq!(search_ids(store, "一卡通点卡").await, vec![card], "longer query, all bigrams and substring");
    assert!(search_ids(store, "点通").await.is_empty(), "bigrams must be adjacent");
    assert_eq!(search_ids(store, "STEAM").await, vec![steam], "case-insensitive");
    assert_eq!(search_ids(store, "steam 50").await, vec![steam], "every word must match");
    assert!(search_ids(store, "steam 100").await.is_empty());
    assert!(!search_ids(store, "卡").await.contains(&hidden), "unlisted never appears");
    assert_eq!(search_ids(store, "卡").await.len(), 3, "one character finds every listed 卡");

    // Renames and edits keep the index in step, in the same transaction.
    let mut tx = store.begin(TxMode::Write).await.unwrap();
    tx.update_product(card, &draft("网易一卡通 100 元", true), at(5)).await.unwrap();
    tx.update_shop(li_shop, "月卡小铺", "").await.unwrap();
    tx.commit().await.unwrap();
    assert!(search_ids(store, "点卡").await.is_empty(), "old title and old shop name no longer match");
    assert_eq!(search_ids(store, "小铺").await, vec![shop_match]);

    // A suspended shop's products never appear.
    let mut tx = store.begin(TxMode::Write).await.unwrap();
    tx.set_shop_suspended(li_shop, true, Some("review")).await.unwrap();
    tx.commit().await.unwrap();
    assert!(search_ids(store, "小铺").await.is_empty());
}

pub async fn catalog_filters_sorts_and_pages_by_cursor(store: &dyn Store) {
    use kabao_core::search::ListingSort;
    let f = merchant_with_product(store, "zhao").await;
    let mut tx = store.begin(TxMode::Write).await.unwrap();
    let mut ids = vec![f.product];
    for i in 0..9_i64 {
        let d = ProductDraft {
            price: Money::from_fen(100 * ((i * 7) % 5 + 1)),
            category: if i % 3 == 0 { Category::GiftCard } else { Category::GameCard },
            ..draft(&format!("礼品 {i}"), true)
        };
        ids.push(tx.insert_product(f.shop, &d, at(i)).await.unwrap());
    }
    tx.commit().await.unwrap();

    let mut tx = store.begin(TxMode::Read).await.unwrap();
    let q = |sort: ListingSort| crate::ListingQuery { terms: None, category: None, sort, after: None, limit: 100 };
    let all = tx.search_listings(&q(ListingSort::Newest)).await.unwrap();
    let newest: Vec<ProductId> = all.iter().map(|r| r.listing.product.id).collect();
    assert_eq!(newest, ids.iter().rev().copied().collect::<Vec<_>>(), "newest first");
    let gifts = tx
        .search_listings(&crate::ListingQuery { category: Some(Category::GiftCard), ..q(ListingSort::Newest) })
        .await
        .unwrap();
    assert_eq!(gifts.len(), 3, "category filter");
    assert!(gifts.iter().all(|r| r.listing.product.category == Category::GiftCard));
    for (sort, desc) in [(ListingSort::PriceAsc, false), (ListingSort::PriceDesc, true)] {
        let rows = tx.search_listings(&q(sort)).await.unwrap();
        let keys: Vec<(i64, i64)> =
            rows.iter().map(|r| (r.listing.product.price.fen(), r.listing.product.id.0)).collect();
        let mut sorted = keys.clone();
        sorted.sort();
        if desc {
            sorted.reverse();
        }
        assert_eq!(keys, sorted, "{sort:?}");
    }
    drop(tx);

    // Sales: counted when an order is first paid, by the database, whatever path paid it.
    let mut tx = store.begin(TxMode::Write).await.unwrap();
    let order = tx
        .insert_order(&crate::NewOrder { product_id: ids[3], ..new_order(&f, "K000000000000000000000000S1", None, 3) })
        .await
        .unwrap();
    use kabao_core::order::OrderState;
    assert!(tx.update_order_state(order, OrderState::PendingPayment, OrderState::Paid, at(10)).await.unwrap());
    assert!(tx.deliver_order(order, OrderState::Paid, at(11), at(12)).await.unwrap());
    tx.set_shop_trust_score(f.shop, 77).await.unwrap();
    tx.commit().await.unwrap();
    let mut tx = store.begin(TxMode::Read).await.unwrap();
    let by_sales = tx.search_listings(&q(ListingSort::Sales)).await.unwrap();
    assert_eq!((by_sales[0].listing.product.id, by_sales[0].sales_count), (ids[3], 3), "paid once, counted once");
    let by_trust = tx.search_listings(&q(ListingSort::Trust)).await.unwrap();
    assert_eq!(by_trust[0].sort_key, 77);
    drop(tx);

    // Keyset pages stay exact while products are added between fetches: no duplicates, no gaps.
    for sort in [ListingSort::Newest, ListingSort::PriceAsc, ListingSort::PriceDesc, ListingSort::Sales] {
        let mut seen: Vec<ProductId> = Vec::new();
        let mut after = None;
        let mut added = Vec::new();
        loop {
            let mut tx = store.begin(TxMode::Read).await.unwrap();
            let page = tx.search_listings(&crate::ListingQuery { after, limit: 3, ..q(sort) }).await.unwrap();
            drop(tx);
            seen.extend(page.iter().map(|r| r.listing.product.id));
            let Some(last) = page.last() else { break };
            after = Some(last.cursor());
            // A new product priced at the top of the range between each page.
            let mut tx = store.begin(TxMode::Write).await.unwrap();
            let d = ProductDraft { price: Money::from_fen(100), ..draft("新品", true) };
            added.push(tx.insert_product(f.shop, &d, at(20)).await.unwrap());
            tx.commit().await.unwrap();
        }
        let mut unique = seen.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), seen.len(), "{sort:?}: no duplicates");
        for id in &ids {
            assert!(seen.contains(id), "{sort:?}: {id:?} was there from the start and must be seen");
        }
        let mut tx = store.begin(TxMode::Write).await.unwrap();
        for id in added {
            let p = tx.product_by_id(id).await.unwrap().unwrap();
            tx.update_product(id, &ProductDraft { listed: false, ..draft(&p.title, false) }, at(30)).await.unwrap();
        }
        tx.commit().await.unwrap();
    }
}

/// Past the bounds that keep a page's cost flat: relevance beyond its window of newest matches, and a price sort
/// over more matches than it takes to sort (so it walks the price index). Pages stay exact (every product seen
/// once, in order) while matching products are added between pages.
pub async fn catalog_pages_stay_exact_past_the_relevance_window_and_candidate_limit(store: &dyn Store) {
    use crate::catalog_sql::{CANDIDATES, WINDOW};
    use kabao_core::search::ListingSort;
    let f = merchant_with_product(store, "many").await;
    let mut tx = store.begin(TxMode::Write).await.unwrap();
    let other = tx.insert_user(&new_user("many_other", Role::Merchant)).await.unwrap();
    let by_name = NewShop { owner_id: other, name: "点卡小铺".into(), description: String::new(), opened_at: T0 };
    let by_name = tx.insert_shop(&by_name).await.unwrap();
    // rank 2: the title starts with the query; 1: contains it; 0: only the shop's name matches.
    let mut rank_of = std::collections::HashMap::new();
    let n = CANDIDATES + 60;
    for i in 0..n {
        let (shop, title, rank) = match i % 3 {
            0 => (f.shop, format!("点卡 {i}"), 2),
            1 => (f.shop, format!("网易点卡 {i}"), 1),
            _ => (by_name, format!("月卡 {i}"), 0),
        };
        let d = ProductDraft { price: Money::from_fen(100 + (i * 37) % 500), ..draft(&title, true) };
        rank_of.insert(tx.insert_product(shop, &d, at(i)).await.unwrap(), rank);
        if i % 50 == 0 {
            tx.insert_product(f.shop, &draft(&format!("礼品 {i}"), true), at(i)).await.unwrap();
        }
    }
    tx.commit().await.unwrap();
    let originals: Vec<ProductId> = rank_of.keys().copied().collect();
    assert!(originals.len() as i64 > WINDOW && originals.len() as i64 >= CANDIDATES);

    for sort in [ListingSort::Relevance, ListingSort::PriceAsc, ListingSort::Newest, ListingSort::Sales] {
        let mut seen: Vec<(ProductId, i64)> = Vec::new();
        let mut after = None;
        let mut added = Vec::new();
        let mut pages = 0;
        loop {
            let q = crate::ListingQuery { after, limit: 70, ..listing_query("点卡", Some(sort.as_str())) };
            let mut tx = store.begin(TxMode::Read).await.unwrap();
            let page = tx.search_listings(&q).await.unwrap();
            drop(tx);
            pages += 1;
            assert!(pages < 100, "{sort:?}: pages must end");
            seen.extend(page.iter().map(|r| (r.listing.product.id, r.sort_key)));
            let Some(last) = page.last() else { break };
            after = Some(last.cursor());
            // A new best match, cheapest and newest, between each page.
            let mut tx = store.begin(TxMode::Write).await.unwrap();
            let d = ProductDraft { price: Money::from_fen(1), ..draft("点卡 新品", true) };
            added.push(tx.insert_product(f.shop, &d, at(5_000)).await.unwrap());
            tx.commit().await.unwrap();
        }
        let ids: Vec<ProductId> = seen.iter().map(|s| s.0).collect();
        let mut unique = ids.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), ids.len(), "{sort:?}: no duplicates");
        for id in &originals {
            assert!(ids.contains(id), "{sort:?}: {id:?} matched from the start and must be seen");
        }
        // Each page continues the order of the one before.
        for pair in seen.windows(2) {
            let ((a, ka), (b, kb)) = (pair[0], pair[1]);
            let in_order = match sort {
                ListingSort::PriceAsc => (ka, a) < (kb, b),
                _ => (ka, a) > (kb, b),
            };
            assert!(in_order, "{sort:?}: ({ka}, {a:?}) then ({kb}, {b:?})");
        }
        if sort == ListingSort::Relevance {
            // The window: the WINDOW newest matches, best first; then the older matches, newest first.
            let window: Vec<&(ProductId, i64)> = seen.iter().filter(|s| s.1 >= 0).collect();
            assert_eq!(window.len() as i64, WINDOW, "the window holds the newest matches");
            for (id, key) in &window {
                assert_eq!(key % 4, rank_of[id], "{id:?} ranked by where its title matches");
            }
            let newest_first: Vec<ProductId> = {
                let mut v = originals.clone();
                v.sort_by(|a, b| b.cmp(a));
                v
            };
            let mut windowed: Vec<ProductId> = window.iter().map(|s| s.0).collect();
            windowed.sort_by(|a, b| b.cmp(a));
            assert_eq!(windowed, newest_first[..WINDOW as usize].to_vec());
            assert_eq!(rank_of[&seen[0].0], 2, "the best match comes first");
            assert!(seen.iter().filter(|s| s.1 < 0).all(|s| s.0 < *windowed.last().unwrap()));
        }
        let mut tx = store.begin(TxMode::Write).await.unwrap();
        for id in added {
            tx.update_product(id, &draft("下架", false), at(6_000)).await.unwrap();
        }
        tx.commit().await.unwrap();
    }
}

/// A listing with variants is priced from its cheapest listed variant: what the price sort orders it by, kept
/// in step when a variant's price, listed flag or link changes.
pub async fn catalog_prices_a_listing_from_its_cheapest_listed_variant(store: &dyn Store) {
    use kabao_core::search::ListingSort;
    let f = merchant_with_product(store, "variants").await; // its product: ¥9.90
    let mut tx = store.begin(TxMode::Write).await.unwrap();
    let d = ProductDraft { price: Money::from_fen(700), ..draft("中间", true) };
    let middle = tx.insert_product(f.shop, &d, at(1)).await.unwrap();
    let variant = |price: i64| ProductDraft { price: Money::from_fen(price), ..draft("规格", true) };
    let cheap = tx.insert_product(f.shop, &variant(500), at(2)).await.unwrap();
    let dear = tx.insert_product(f.shop, &variant(4850), at(3)).await.unwrap();
    tx.set_variant_of(cheap, Some((f.product, "5元"))).await.unwrap();
    tx.set_variant_of(dear, Some((f.product, "50元"))).await.unwrap();
    tx.commit().await.unwrap();
    let listing = |sort: ListingSort| crate::ListingQuery { terms: None, category: None, sort, after: None, limit: 10 };
    async fn prices(store: &dyn Store) -> Vec<(ProductId, i64, Option<i64>)> {
        let q =
            crate::ListingQuery { terms: None, category: None, sort: ListingSort::PriceAsc, after: None, limit: 10 };
        let mut tx = store.begin(TxMode::Read).await.unwrap();
        let rows = tx.search_listings(&q).await.unwrap();
        rows.iter().map(|r| (r.listing.product.id, r.sort_key, r.from_price.map(|m| m.fen()))).collect()
    }
    assert_eq!(prices(store).await, vec![(f.product, 500, Some(500)), (middle, 700, None)], "variants listed once");

    let mut tx = store.begin(TxMode::Write).await.unwrap();
    tx.update_product(cheap, &ProductDraft { price: Money::from_fen(800), ..draft("规格", true) }, at(4))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(prices(store).await, vec![(middle, 700, None), (f.product, 800, Some(800))], "a price change");

    let mut tx = store.begin(TxMode::Write).await.unwrap();
    tx.update_product(cheap, &ProductDraft { listed: false, ..variant(800) }, at(5)).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(prices(store).await, vec![(middle, 700, None), (f.product, 4850, Some(4850))], "unlisted");

    let mut tx = store.begin(TxMode::Write).await.unwrap();
    tx.set_variant_of(dear, None).await.unwrap();
    tx.update_product(dear, &ProductDraft { listed: false, ..variant(4850) }, at(6)).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(prices(store).await, vec![(middle, 700, None), (f.product, 990, None)], "no variant left: own price");
    let mut tx = store.begin(TxMode::Read).await.unwrap();
    let desc = tx.search_listings(&listing(ListingSort::PriceDesc)).await.unwrap();
    assert_eq!(desc.iter().map(|r| r.listing.product.id).collect::<Vec<_>>(), vec![f.product, middle]);
}

pub async fn catalog_pictures_are_stored_once_and_ordered(store: &dyn Store) {
    let f = merchant_with_product(store, "sun").await;
    let pic = |hash: &str, w: i64| crate::Media {
        meta: crate::MediaMeta { hash: hash.into(), mime: "image/png".into(), width: w, height: 10 },
        bytes: vec![1, 2, 3],
        created_at: T0,
    };
    let mut tx = store.begin(TxMode::Write).await.unwrap();
    tx.insert_media(&pic("aa", 10)).await.unwrap();
    tx.insert_media(&pic("aa", 10)).await.unwrap();
    tx.insert_media(&pic("bb", 20)).await.unwrap();
    tx.set_product_pictures(f.product, &["bb".into(), "aa".into()]).await.unwrap();
    tx.commit().await.unwrap();
    let mut tx = store.begin(TxMode::Write).await.unwrap();
    assert_eq!(tx.media("aa").await.unwrap().map(|m| m.bytes), Some(vec![1, 2, 3]));
    assert_eq!(tx.media("cc").await.unwrap(), None);
    let hashes = |v: Vec<crate::MediaMeta>| v.into_iter().map(|m| m.hash).collect::<Vec<_>>();
    assert_eq!(hashes(tx.product_pictures(f.product).await.unwrap()), vec!["bb", "aa"]);
    let covers = tx.product_covers(&[f.product, ProductId(999_999)]).await.unwrap();
    assert_eq!(covers.len(), 1);
    assert_eq!((covers[0].0, covers[0].1.width), (f.product, 20));
    tx.set_product_pictures(f.product, &["aa".into()]).await.unwrap();
    assert_eq!(hashes(tx.product_pictures(f.product).await.unwrap()), vec!["aa"]);
    tx.commit().await.unwrap();
}

pub async fn totp_steps_recovery_codes_and_login_challenges_are_taken_once(store: &dyn Store) {
    let mut tx = store.begin(TxMode::Write).await.unwrap();
    let tom = tx.insert_user(&new_user("tom", Role::Admin)).await.unwrap();
    let uma = tx.insert_user(&new_user("uma", Role::Buyer)).await.unwrap();
    let sealed =
        |user: UserId, byte: u8| SealedTotp { user_id: user, key_version: 1, secret_sealed: vec![byte; 60], at: T0 };
    assert!(tx.totp_pending(tom).await.unwrap().is_none());
    tx.put_totp_pending(&sealed(tom, 1)).await.unwrap();
    tx.put_totp_pending(&sealed(tom, 2)).await.unwrap();
    assert_eq!(tx.totp_pending(tom).await.unwrap(), Some(sealed(tom, 2)), "a new pending secret replaces the old");
    assert!(!tx.user_by_id(tom).await.unwrap().unwrap().totp_enabled);
    let credential = TotpCredential { sealed: sealed(tom, 2), last_step: 100 };
    tx.insert_totp_credential(&credential).await.unwrap();
    assert!(tx.totp_pending(tom).await.unwrap().is_none(), "confirming drops the pending secret");
    assert_eq!(tx.totp_credential(tom).await.unwrap(), Some(credential.clone()));
    assert!(tx.totp_credential(uma).await.unwrap().is_none());
    tx.commit().await.unwrap();
    {
        // A failed statement ends a PostgreSQL transaction: this one is dropped (rolled back) after it.
        let mut tx = store.begin(TxMode::Write).await.unwrap();
        assert!(tx.insert_totp_credential(&credential).await.is_err(), "one credential per user");
    }

    let mut tx = store.begin(TxMode::Write).await.unwrap();
    assert!(tx.user_by_id(tom).await.unwrap().unwrap().totp_enabled, "users carry the flag");
    assert!(tx.user_by_username("tom").await.unwrap().unwrap().totp_enabled);
    assert!(!tx.user_by_id(uma).await.unwrap().unwrap().totp_enabled);
    assert!(!tx.advance_totp_step(tom, 100).await.unwrap(), "the same step again is a replay");
    assert!(!tx.advance_totp_step(tom, 99).await.unwrap(), "an earlier step too");
    assert!(tx.advance_totp_step(tom, 101).await.unwrap());
    assert!(!tx.advance_totp_step(uma, 500).await.unwrap(), "no credential, nothing advanced");
    assert_eq!(tx.totp_credential(tom).await.unwrap().unwrap().last_step, 101);

    let codes: Vec<Vec<u8>> = (1..=3u8).map(|i| vec![i; 32]).collect();
    tx.replace_recovery_codes(tom, &codes, T0).await.unwrap();
    assert_eq!(tx.count_unused_recovery_codes(tom).await.unwrap(), 3);
    assert!(!tx.use_recovery_code(uma, &codes[0], at(1)).await.unwrap(), "another user's code is nothing");
    assert!(tx.use_recovery_code(tom, &codes[0], at(1)).await.unwrap());
    assert!(!tx.use_recovery_code(tom, &codes[0], at(2)).await.unwrap(), "single use");
    assert_eq!(tx.count_unused_recovery_codes(tom).await.unwrap(), 2);
    tx.replace_recovery_codes(tom, &[vec![7; 32]], at(3)).await.unwrap();
    assert!(!tx.use_recovery_code(tom, &codes[1], at(4)).await.unwrap(), "renewal ends the old codes");
    assert_eq!(tx.count_unused_recovery_codes(tom).await.unwrap(), 1);

    let challenge = LoginChallenge {
        token_hash: vec![5; 32],
        user_id: tom,
        created_at: T0,
        expires_at: at(300_000),
        failures: 0,
        used_at: None,
    };
    tx.insert_login_challenge(&challenge).await.unwrap();
    assert_eq!(tx.live_login_challenge(&[5; 32], at(1)).await.unwrap(), Some(challenge.clone()));
    assert!(tx.live_login_challenge(&[5; 32], at(300_000)).await.unwrap().is_none(), "dead at expires_at");
    assert_eq!(tx.add_login_challenge_failure(&[5; 32]).await.unwrap(), 1);
    assert_eq!(tx.add_login_challenge_failure(&[5; 32]).await.unwrap(), 2);
    assert_eq!(tx.add_login_challenge_failure(&[6; 32]).await.unwrap(), 0, "no such challenge");
    assert!(tx.use_login_challenge(&[5; 32], at(2)).await.unwrap());
    assert!(!tx.use_login_challenge(&[5; 32], at(3)).await.unwrap(), "taken once");
    assert!(tx.live_login_challenge(&[5; 32], at(4)).await.unwrap().is_none());

    assert!(tx.delete_totp(tom).await.unwrap());
    assert!(!tx.delete_totp(tom).await.unwrap());
    assert!(tx.totp_credential(tom).await.unwrap().is_none());
    assert_eq!(tx.count_unused_recovery_codes(tom).await.unwrap(), 0, "turning off drops the recovery codes");
    tx.commit().await.unwrap();
    assert!(!store.begin(TxMode::Read).await.unwrap().user_by_id(tom).await.unwrap().unwrap().totp_enabled);
}

pub async fn throttle_hits_are_counted_taken_back_cleared_and_purged(store: &dyn Store) {
    let mut tx = store.begin(TxMode::Write).await.unwrap();
    tx.lock_throttle_keys(&[("login_ip", "203.0.113.7"), ("login_account", "alice")]).await.unwrap();
    for t in [10, 20, 20, 30] {
        tx.add_throttle_hit("login_ip", "203.0.113.7", at(t)).await.unwrap();
    }
    tx.add_throttle_hit("login_account", "203.0.113.7", at(40)).await.unwrap();
    assert_eq!(tx.throttle_hits("login_ip", "203.0.113.7", 3).await.unwrap(), vec![at(30), at(20), at(20)]);
    assert!(tx.remove_throttle_hit("login_ip", "203.0.113.7", at(20)).await.unwrap(), "one of the two taken back");
    assert!(!tx.remove_throttle_hit("login_ip", "203.0.113.7", at(25)).await.unwrap(), "none at that instant");
    assert_eq!(tx.throttle_hits("login_ip", "203.0.113.7", 10).await.unwrap(), vec![at(30), at(20), at(10)]);
    tx.commit().await.unwrap();

    let mut tx = store.begin(TxMode::Write).await.unwrap();
    tx.clear_throttle_hits("login_ip", "203.0.113.7").await.unwrap();
    assert!(tx.throttle_hits("login_ip", "203.0.113.7", 10).await.unwrap().is_empty());
    assert_eq!(tx.throttle_hits("login_account", "203.0.113.7", 10).await.unwrap(), vec![at(40)], "scopes apart");
    // A token is spent once until it expires.
    assert!(tx.spend_token("signup_pow", "c1", at(1000), at(0)).await.unwrap());
    assert!(!tx.spend_token("signup_pow", "c1", at(1000), at(999)).await.unwrap(), "spent");
    assert!(tx.spend_token("signup_pow", "c2", at(1000), at(999)).await.unwrap(), "another token");
    assert!(tx.spend_token("other", "c1", at(1000), at(999)).await.unwrap(), "another scope");
    tx.commit().await.unwrap();

    let mut tx = store.begin(TxMode::Write).await.unwrap();
    tx.add_throttle_hit("login_ip", "198.51.100.1", at(5000)).await.unwrap();
    // Attempts before 1 s and tokens expired by then: one attempt, three tokens.
    assert_eq!(tx.purge_throttles(at(1000), 100).await.unwrap(), 4);
    assert_eq!(tx.throttle_hits("login_ip", "198.51.100.1", 10).await.unwrap(), vec![at(5000)], "a newer one stays");
    assert!(tx.spend_token("signup_pow", "c1", at(2000), at(1000)).await.unwrap(), "purged: spendable again");
    tx.commit().await.unwrap();
}

/// Instances checking one key at once: each checks the count and adds its attempt in one transaction, holding
/// the key; exactly the allowed number pass, however the transactions interleave.
pub async fn concurrent_throttle_checks_never_overshoot(store: &std::sync::Arc<dyn Store>) {
    const ALLOWED: usize = 3;
    let mut tasks = Vec::new();
    for i in 0..12 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut tx = store.begin(TxMode::Write).await.unwrap();
            tx.lock_throttle_keys(&[("lookup_order", "K1")]).await.unwrap();
            let hits = tx.throttle_hits("lookup_order", "K1", ALLOWED as i64).await.unwrap();
            if hits.len() >= ALLOWED {
                return false;
            }
            tx.add_throttle_hit("lookup_order", "K1", at(i)).await.unwrap();
            tx.commit().await.unwrap();
            true
        }));
    }
    let mut passed = 0;
    for t in tasks {
        if t.await.unwrap() {
            passed += 1;
        }
    }
    assert_eq!(passed, ALLOWED);
    let mut tx = store.begin(TxMode::Read).await.unwrap();
    assert_eq!(tx.throttle_hits("lookup_order", "K1", 100).await.unwrap().len(), ALLOWED);
}

/// Stored trust facts: saved once computed, marked stale by an event of the shop in the same transaction, and a
/// save computed from a snapshot older than the mark never overwrites it; due shops come missing first, then
/// stale and oldest.
pub async fn stored_trust_facts_are_marked_stale_by_events_and_never_saved_over_them(store: &dyn Store) {
    let a = merchant_with_product(store, "facts_a").await;
    let b = merchant_with_product(store, "facts_b").await;
    let mut tx = store.begin(TxMode::Write).await.unwrap();
    // Nothing stored: both shops due, in key order.
    assert_eq!(tx.stored_trust_facts(a.shop).await.unwrap(), None);
    assert_eq!(tx.trust_facts_version(a.shop).await.unwrap(), 0);
    let due = tx.shops_due_trust_facts(at(1_000), 10).await.unwrap();
    let mine: Vec<ShopId> = due.iter().filter(|s| **s == a.shop || **s == b.shop).copied().collect();
    assert_eq!(mine, vec![a.shop, b.shop], "{due:?}");
    assert!(tx.save_trust_facts(a.shop, "{\"a\":1}", at(1_000), 0).await.unwrap());
    assert!(tx.save_trust_facts(b.shop, "{\"b\":1}", at(2_000), 0).await.unwrap());
    // A second first save loses: a row is there.
    assert!(!tx.save_trust_facts(a.shop, "{\"a\":0}", at(1_500), 0).await.unwrap());
    assert_eq!(tx.stored_trust_facts(a.shop).await.unwrap(), Some(("{\"a\":1}".into(), at(1_000))));
    // Older than the cut: due, oldest first; fresh ones are not.
    let due = tx.shops_due_trust_facts(at(3_000), 10).await.unwrap();
    let mine: Vec<ShopId> = due.iter().filter(|s| **s == a.shop || **s == b.shop).copied().collect();
    assert_eq!(mine, vec![a.shop, b.shop], "{due:?}");
    let due = tx.shops_due_trust_facts(at(1_500), 10).await.unwrap();
    assert!(due.contains(&a.shop) && !due.contains(&b.shop), "{due:?}");

    // A risk event of shop a marks its row stale at once (version up), and leaves b alone.
    let event = crate::RiskEvent {
        id: 0,
        kind: "chat".into(),
        shop_id: Some(a.shop),
        user_id: Some(a.owner),
        order_id: None,
        message_id: None,
        rules_json: r#"["contact.wechat"]"#.into(),
        state: "open".into(),
        review_note: None,
        reviewed_by: None,
        reviewed_at: None,
        created_at: at(4_000),
    };
    tx.insert_risk_event(&event).await.unwrap();
    assert_eq!(tx.stored_trust_facts(a.shop).await.unwrap(), None);
    assert_eq!(tx.trust_facts_version(a.shop).await.unwrap(), 1);
    assert_eq!(tx.stored_trust_facts(b.shop).await.unwrap(), Some(("{\"b\":1}".into(), at(2_000))));
    // Stale rows are due before any fresh one.
    assert_eq!(tx.shops_due_trust_facts(at(0), 10).await.unwrap().first(), Some(&a.shop));
    // Facts computed before the event (version 0 seen) are not saved over the mark; those after it are.
    assert!(!tx.save_trust_facts(a.shop, "{\"a\":2}", at(4_500), 0).await.unwrap());
    assert_eq!(tx.stored_trust_facts(a.shop).await.unwrap(), None);
    assert!(tx.save_trust_facts(a.shop, "{\"a\":3}", at(5_000), 1).await.unwrap());
    assert_eq!(tx.stored_trust_facts(a.shop).await.unwrap(), Some(("{\"a\":3}".into(), at(5_000))));
    // An admin reviewing the event marks it stale again.
    tx.review_risk_events(a.shop, "dismissed", "ok", a.owner, at(6_000)).await.unwrap();
    assert_eq!(tx.stored_trust_facts(a.shop).await.unwrap(), None);
    assert_eq!(tx.trust_facts_version(a.shop).await.unwrap(), 2);
    assert!(!tx.save_trust_facts(a.shop, "{\"a\":4}", at(6_500), 1).await.unwrap());
    tx.commit().await.unwrap();
}
