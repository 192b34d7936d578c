//! Kabao's storage: one [`Store`] trait with SQLite (embedded default) and PostgreSQL backends.
//! The store has no rules about content: `kabao-core` decides, the server orchestrates, the store persists.
//! Every unit of work runs in a [`Tx`]; nothing is written unless the transaction commits.

pub mod commerce;
#[cfg(any(test, feature = "conformance"))]
pub mod conformance;
mod errors;
pub mod lite;
pub mod models;
pub mod postgres;
mod rows;
mod sql_tx;
pub mod sqlite;
pub mod trust;

use async_trait::async_trait;
pub use commerce::*;
use kabao_core::catalog::{CertificationLevel, ProductDraft};
use kabao_core::ledger::OrderId;
use kabao_core::order::OrderState;
use kabao_core::user::Role;
use kabao_core::vault::Fingerprint;
use kabao_core::{ApiTokenId, Timestamp};
use kabao_core::{BatchId, CardKeyId, ProductId, ShopId, UserId};
pub use models::*;
pub use trust::*;

/// Which database a store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Whether a transaction will write. On SQLite a write transaction starts with `BEGIN IMMEDIATE`, so it takes
/// the single writer lock up front (waiting up to the busy timeout) instead of failing when it upgrades.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TxMode {
    Read,
    Write,
}

/// Storage errors. Messages never contain bound values, so a card key cannot leak through one.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A uniqueness rule was violated; the value names the rule, e.g. `"users.username"`.
    #[error("already exists: {0}")]
    Conflict(&'static str),
    /// The row to change does not exist.
    #[error("not found")]
    NotFound,
    #[error("database error: {0}")]
    Database(String),
    #[error("migration failed: {0}")]
    Migration(String),
    /// A ledger transaction was refused by the rules (e.g. a wallet would go negative); nothing was written.
    #[error("ledger: {0}")]
    Ledger(#[from] kabao_core::ledger::LedgerError),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// A database holding Kabao's data.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    fn backend(&self) -> Backend;
    /// Applies pending migrations. Idempotent.
    async fn migrate(&self) -> StoreResult<()>;
    /// Starts a transaction. Dropping it without [`Tx::commit`] rolls it back.
    async fn begin(&self, mode: TxMode) -> StoreResult<Box<dyn Tx>>;
    /// Cheap liveness check for `/healthz`.
    async fn ping(&self) -> StoreResult<()>;
    /// Closes the pool (waits for connections to return).
    async fn close(&self);
}

/// One transaction. All reads see one snapshot; all writes land together on commit.
#[async_trait]
pub trait Tx: Send {
    async fn commit(self: Box<Self>) -> StoreResult<()>;

    // ---- users ----
    /// Conflict `"users.username"` when taken.
    async fn insert_user(&mut self, user: &NewUser) -> StoreResult<UserId>;
    async fn user_by_id(&mut self, id: UserId) -> StoreResult<Option<User>>;
    /// Exact match on the stored (trimmed) username.
    async fn user_by_username(&mut self, username: &str) -> StoreResult<Option<User>>;
    /// Newest first.
    async fn list_users(&mut self, limit: i64, offset: i64) -> StoreResult<Vec<User>>;
    async fn count_users_with_role(&mut self, role: Role) -> StoreResult<i64>;
    /// NotFound if no such user.
    async fn set_user_role(&mut self, id: UserId, role: Role) -> StoreResult<()>;
    async fn set_password_hash(&mut self, id: UserId, password_hash: &str) -> StoreResult<()>;

    // ---- sessions (token stored as SHA-256 only) ----
    async fn insert_session(&mut self, session: &Session) -> StoreResult<()>;
    /// The session and its user, if the session exists and `expires_at > now`.
    async fn session_with_user(&mut self, token_hash: &[u8], now: Timestamp) -> StoreResult<Option<(Session, User)>>;
    async fn delete_session(&mut self, token_hash: &[u8]) -> StoreResult<()>;
    /// Deletes every session of a user (password change, role change).
    async fn delete_user_sessions(&mut self, user: UserId) -> StoreResult<u64>;
    async fn delete_expired_sessions(&mut self, now: Timestamp) -> StoreResult<u64>;

    // ---- merchant API tokens (stored as SHA-256 only) ----
    async fn insert_api_token(&mut self, token: &NewApiToken) -> StoreResult<ApiTokenId>;
    /// Tokens of a user, newest first, revoked ones included.
    async fn list_api_tokens(&mut self, user: UserId) -> StoreResult<Vec<ApiToken>>;
    /// Sets `revoked_at` if the token belongs to `user` and is not revoked yet; false otherwise.
    async fn revoke_api_token(&mut self, user: UserId, id: ApiTokenId, now: Timestamp) -> StoreResult<bool>;
    /// A live (not revoked) token and its user.
    async fn api_token_with_user(&mut self, token_hash: &[u8]) -> StoreResult<Option<(ApiToken, User)>>;

    // ---- shops ----
    /// Conflict `"shops.owner"` if the user has a shop; `"shops.name"` if the name is taken.
    async fn insert_shop(&mut self, shop: &NewShop) -> StoreResult<ShopId>;
    async fn shop_by_id(&mut self, id: ShopId) -> StoreResult<Option<Shop>>;
    async fn shop_by_owner(&mut self, owner: UserId) -> StoreResult<Option<Shop>>;
    /// Oldest first.
    async fn list_shops(&mut self, limit: i64, offset: i64) -> StoreResult<Vec<Shop>>;
    /// Conflict `"shops.name"`; NotFound.
    async fn update_shop(&mut self, id: ShopId, name: &str, description: &str) -> StoreResult<()>;
    async fn set_shop_certification(&mut self, id: ShopId, level: CertificationLevel) -> StoreResult<()>;
    /// `reason` is kept while suspended and cleared on reinstatement.
    async fn set_shop_suspended(&mut self, id: ShopId, suspended: bool, reason: Option<&str>) -> StoreResult<()>;

    // ---- products ----
    async fn insert_product(&mut self, shop: ShopId, draft: &ProductDraft, now: Timestamp) -> StoreResult<ProductId>;
    /// NotFound if the product does not exist.
    async fn update_product(&mut self, id: ProductId, draft: &ProductDraft, now: Timestamp) -> StoreResult<()>;
    async fn product_by_id(&mut self, id: ProductId) -> StoreResult<Option<Product>>;
    /// A shop's products, newest first, listed or not.
    async fn list_shop_products(&mut self, shop: ShopId) -> StoreResult<Vec<Product>>;
    /// Listed products of shops that are not suspended, with their shop, newest first.
    async fn list_listed_products(&mut self, limit: i64, offset: i64) -> StoreResult<Vec<Listing>>;

    // ---- card-key inventory ----
    /// Which of `fingerprints` the shop already holds (in any state: a voided key stays a duplicate).
    async fn existing_fingerprints(
        &mut self,
        shop: ShopId,
        fingerprints: &[Fingerprint],
    ) -> StoreResult<Vec<Fingerprint>>;
    async fn insert_batch(&mut self, batch: &NewBatch) -> StoreResult<BatchId>;
    /// Inserts keys as `available` and adds their number to the product's stock counter, in this transaction.
    /// Conflict `"card_keys.fingerprint"` if any fingerprint exists in the shop (the caller checked first;
    /// the UNIQUE constraint is the backstop). Must be fast: a million rows in a few seconds on SQLite.
    async fn insert_card_keys(&mut self, keys: &[NewCardKey]) -> StoreResult<()>;
    /// Batches of a product, newest first, with their counts by state.
    async fn list_batches(&mut self, product: ProductId) -> StoreResult<Vec<Batch>>;
    async fn batch_by_id(&mut self, id: BatchId) -> StoreResult<Option<Batch>>;
    /// Marks every `available` key of the batch `voided`, sets the batch's `voided_at`, lowers the stock
    /// counter; returns how many keys were voided.
    async fn void_batch(&mut self, id: BatchId, now: Timestamp) -> StoreResult<u64>;
    /// Keys of a product, oldest first, optionally of one state.
    async fn list_card_keys(
        &mut self,
        product: ProductId,
        state: Option<KeyState>,
        limit: i64,
        offset: i64,
    ) -> StoreResult<Vec<CardKey>>;
    async fn card_key_by_id(&mut self, id: CardKeyId) -> StoreResult<Option<CardKey>>;
    /// Exact count by scanning keys (for checks); pages read `Product::stock_available` instead.
    async fn count_card_keys(&mut self, product: ProductId, state: KeyState) -> StoreResult<i64>;

    // ---- orders ----
    /// Conflict `"orders.order_no"` if the number exists.
    async fn insert_order(&mut self, order: &NewOrder) -> StoreResult<OrderId>;
    async fn order_by_id(&mut self, id: OrderId) -> StoreResult<Option<Order>>;
    async fn order_by_no(&mut self, order_no: &str) -> StoreResult<Option<Order>>;
    /// Compare-and-set: moves the order from `from` to `to` and stamps the matching time column
    /// (`paid` → paid_at, `delivered` → delivered_at (and paid_at if unset), `settled` → settled_at). A delivery
    /// that starts the claim window goes through [`Tx::deliver_order`] instead.
    /// Returns false (and changes nothing) if the order is not in `from`.
    async fn update_order_state(
        &mut self,
        id: OrderId,
        from: OrderState,
        to: OrderState,
        at: Timestamp,
    ) -> StoreResult<bool>;
    /// Compare-and-set to delivered, starting the claim window in the same statement: moves the order from `from`
    /// to `delivered`, stamps delivered_at (and paid_at if unset) with `at`, and sets `settle_after`, the moment
    /// the escrow may settle. Returns false (and changes nothing) if the order is not in `from`.
    async fn deliver_order(
        &mut self,
        id: OrderId,
        from: OrderState,
        at: Timestamp,
        settle_after: Timestamp,
    ) -> StoreResult<bool>;
    /// Delivered orders whose `settle_after <= now` and that no unresolved claim holds, oldest first.
    async fn orders_due_for_settlement(&mut self, now: Timestamp, limit: i64) -> StoreResult<Vec<Order>>;
    /// Pending orders whose `expires_at <= now`, oldest first.
    async fn orders_past_expiry(&mut self, now: Timestamp, limit: i64) -> StoreResult<Vec<Order>>;
    /// A buyer's orders, newest first.
    async fn list_buyer_orders(&mut self, buyer: UserId, limit: i64, offset: i64) -> StoreResult<Vec<Order>>;
    /// A shop's orders, newest first.
    async fn list_shop_orders(&mut self, shop: ShopId, limit: i64, offset: i64) -> StoreResult<Vec<Order>>;
    async fn set_delivery_deadline(&mut self, id: OrderId, at: Timestamp) -> StoreResult<()>;
    /// Paid (awaiting manual delivery) orders whose delivery deadline `<= now`, oldest deadline first.
    async fn orders_past_delivery_deadline(&mut self, now: Timestamp, limit: i64) -> StoreResult<Vec<Order>>;
    /// A shop's paid orders awaiting manual delivery, nearest deadline first.
    async fn shop_orders_awaiting_delivery(&mut self, shop: ShopId, limit: i64) -> StoreResult<Vec<Order>>;
    /// Stores the text a merchant delivered by hand (sealed by the caller).
    async fn set_manual_delivery(&mut self, id: OrderId, ciphertext: &[u8], key_version: i32) -> StoreResult<()>;
    /// The sealed manual delivery of an order and its key version, if delivered.
    async fn manual_delivery(&mut self, id: OrderId) -> StoreResult<Option<(Vec<u8>, i32)>>;

    // ---- allocation and delivery ----
    /// Assigns `n` available keys of the product to the order, oldest first: marks them `sold`, links them in
    /// `order_keys` (UNIQUE on the key: a key can never be delivered twice), lowers the stock counter.
    /// Returns the keys' ids, or an empty vector and no change if fewer than `n` are available.
    /// SQLite runs it inside the single writer; PostgreSQL locks the chosen rows (`FOR UPDATE SKIP LOCKED`).
    async fn allocate_keys(&mut self, product: ProductId, order: OrderId, n: i64) -> StoreResult<Vec<CardKeyId>>;
    /// The keys delivered with an order, in allocation order.
    async fn order_keys(&mut self, order: OrderId) -> StoreResult<Vec<DeliveredKey>>;
    /// Records one reveal and stamps `first_revealed_at` on the order's keys that have none.
    async fn record_reveal(&mut self, reveal: &Reveal) -> StoreResult<()>;
    async fn list_reveals(&mut self, order: OrderId) -> StoreResult<Vec<Reveal>>;

    // ---- ledger ----
    /// Writes a balanced transaction after checking it against the current balances (locking them on
    /// PostgreSQL); refuses with `StoreError::Ledger` and writes nothing if a guarded account would go negative.
    /// Returns the transaction id.
    async fn post_ledger(
        &mut self,
        tx: &kabao_core::ledger::LedgerTx,
        order: Option<OrderId>,
        at: Timestamp,
    ) -> StoreResult<i64>;
    /// The stored running balance of an account (zero if it never moved).
    async fn balance(&mut self, account: kabao_core::ledger::Account) -> StoreResult<kabao_core::Money>;
    /// Every stored running balance, for verification.
    async fn all_balances(&mut self) -> StoreResult<Vec<(kabao_core::ledger::Account, kabao_core::Money)>>;
    /// Every entry, in transaction order, for verification.
    async fn all_ledger_entries(&mut self) -> StoreResult<Vec<LedgerEntry>>;
    /// The entries of transactions recorded for an order.
    async fn order_ledger_entries(&mut self, order: OrderId) -> StoreResult<Vec<LedgerEntry>>;
    /// Entries touching one account, newest first (a merchant's statement).
    async fn account_entries(
        &mut self,
        account: kabao_core::ledger::Account,
        limit: i64,
        offset: i64,
    ) -> StoreResult<Vec<LedgerEntry>>;

    // ---- audit chain ----
    /// Appends an event; Conflict `"order_events.seq"` if that sequence number exists (a concurrent append).
    async fn append_event(&mut self, order: OrderId, event: &kabao_core::audit::ChainedEvent) -> StoreResult<()>;
    async fn last_event(&mut self, order: OrderId) -> StoreResult<Option<kabao_core::audit::ChainedEvent>>;
    async fn order_events(&mut self, order: OrderId) -> StoreResult<Vec<kabao_core::audit::ChainedEvent>>;
    /// Every order that has events, ascending.
    async fn orders_with_events(&mut self) -> StoreResult<Vec<OrderId>>;

    // ---- idempotency (one record per caller scope and `Idempotency-Key`) ----
    /// The record of a key within a scope, running or done.
    async fn idempotency_record(&mut self, scope: &str, key: &str) -> StoreResult<Option<IdempotencyRecord>>;
    /// Reserves a key for a request about to run. Conflict `"idempotency.key"` if the scope holds the key.
    async fn idempotency_reserve(&mut self, new: &NewIdempotency<'_>) -> StoreResult<()>;
    /// Hands a running record whose lease ended before `now` to `runner` until `lease_until`; false if the
    /// record is done, still leased, or gone.
    async fn idempotency_take_over(
        &mut self,
        scope: &str,
        key: &str,
        runner: &[u8],
        now: Timestamp,
        lease_until: Timestamp,
    ) -> StoreResult<bool>;
    /// Stores the response of `runner`'s request, in the transaction of its effect; false if the record is done
    /// or no longer this runner's (taken over), and then the caller must not commit its effect.
    async fn idempotency_complete(
        &mut self,
        scope: &str,
        key: &str,
        runner: &[u8],
        response: &StoredResponse,
        at: Timestamp,
    ) -> StoreResult<bool>;
    /// Deletes `runner`'s running record (its request failed and changed nothing); false if it was not.
    async fn idempotency_release(&mut self, scope: &str, key: &str, runner: &[u8]) -> StoreResult<bool>;
    /// Deletes at most `limit` records created before `before` (the retention); returns how many.
    async fn idempotency_purge(&mut self, before: Timestamp, limit: i64) -> StoreResult<u64>;

    // ---- payments and gateway notifications ----
    /// Conflict `"payments.trade_no"` if the trade number exists.
    async fn insert_payment(&mut self, payment: &NewPayment) -> StoreResult<i64>;
    async fn payment_by_trade_no(&mut self, trade_no: &str) -> StoreResult<Option<Payment>>;
    /// Compare-and-set pending → paid; false if it was not pending (a duplicate notification).
    async fn mark_payment_paid(&mut self, id: i64, gateway_trade_no: &str, at: Timestamp) -> StoreResult<bool>;
    /// Remembers a notification id; Conflict `"notifications.id"` if seen before (a replay).
    async fn insert_notification(&mut self, gateway: &str, notification_id: &str, at: Timestamp) -> StoreResult<()>;
    /// A gateway's payments still pending, started at or before `started_by`, for orders still awaiting
    /// payment and not expired at `now`; by id, after `after_id`, at most `limit` (for reconciliation polling).
    async fn pending_order_payments(
        &mut self,
        gateway: &str,
        started_by: Timestamp,
        now: Timestamp,
        after_id: i64,
        limit: i64,
    ) -> StoreResult<Vec<Payment>>;

    // ---- payees and withdrawals ----
    async fn insert_payee(&mut self, shop: ShopId, payee: &PayeeSnapshot, at: Timestamp) -> StoreResult<i64>;
    /// A payee, disabled or not, of any shop (callers check the shop).
    async fn payee_by_id(&mut self, id: i64) -> StoreResult<Option<PayeeRecord>>;
    /// A shop's payees that are not disabled, newest first.
    async fn list_shop_payees(&mut self, shop: ShopId, limit: i64) -> StoreResult<Vec<PayeeRecord>>;
    /// Compare-and-set: disables the payee if it belongs to `shop` and is not disabled; false otherwise.
    async fn disable_payee(&mut self, shop: ShopId, id: i64, at: Timestamp) -> StoreResult<bool>;
    async fn insert_withdrawal(&mut self, withdrawal: &NewWithdrawal) -> StoreResult<i64>;
    async fn withdrawal_by_id(&mut self, id: i64) -> StoreResult<Option<Withdrawal>>;
    /// A shop's withdrawals, newest first.
    async fn list_shop_withdrawals(&mut self, shop: ShopId, limit: i64) -> StoreResult<Vec<Withdrawal>>;
    /// Pending withdrawals of all shops, oldest first.
    async fn list_pending_withdrawals(&mut self, limit: i64) -> StoreResult<Vec<Withdrawal>>;
    /// The sum of a shop's pending withdrawals that hold nothing in the ledger (requested before the
    /// pending-withdrawal account existed).
    async fn unheld_pending_withdrawals(&mut self, shop: ShopId) -> StoreResult<kabao_core::Money>;
    /// Compare-and-set pending → `to`, recording the payout reference of an approval; false if it was decided
    /// already. Conflict `"withdrawals.payout_ref"` if another withdrawal has that reference.
    async fn decide_withdrawal(
        &mut self,
        id: i64,
        to: WithdrawalState,
        by: UserId,
        note: Option<&str>,
        payout_ref: Option<&str>,
        at: Timestamp,
    ) -> StoreResult<bool>;

    // ---- shared secrets (循环卡密) ----
    /// Sets a product's shared secret (sealed) and its stock count. NotFound if no such product.
    async fn set_shared_secret(
        &mut self,
        product: ProductId,
        ciphertext: &[u8],
        key_version: i32,
        stock: i64,
    ) -> StoreResult<()>;
    /// The sealed shared secret of a product and its key version, if one is set.
    async fn shared_secret(&mut self, product: ProductId) -> StoreResult<Option<(Vec<u8>, i32)>>;
    /// Takes `n` from the stock counter of a product sold by count (a shared secret that is set, or custom goods
    /// whose fields are set) if at least `n` remain; false (and no change) otherwise.
    async fn take_counted_stock(&mut self, product: ProductId, n: i64) -> StoreResult<bool>;
    /// Gives `n` back to such a product's counter (an order refunded before delivery).
    async fn return_counted_stock(&mut self, product: ProductId, n: i64) -> StoreResult<()>;

    // ---- warranty policies (补单规则) ----
    /// Adds a new version of a product's policy (the next version number) and makes it the current one.
    async fn insert_policy_version(
        &mut self,
        product: ProductId,
        policy: &str,
        sha256: &[u8],
        at: Timestamp,
    ) -> StoreResult<PolicyVersion>;
    /// Makes the product's policy "none" (无质保) from now on; earlier versions stay for the orders sold under them.
    async fn clear_policy(&mut self, product: ProductId) -> StoreResult<()>;
    /// The product's current policy version, if it has one.
    async fn current_policy(&mut self, product: ProductId) -> StoreResult<Option<PolicyVersion>>;
    /// Every version of a product's policy, oldest first.
    async fn policy_versions(&mut self, product: ProductId) -> StoreResult<Vec<PolicyVersion>>;

    // ---- claims (售后 / 补单申请) ----
    /// Inserts a claim (its `id` is ignored) and returns its id. Conflict `"claims.claim_no"`.
    async fn insert_claim(&mut self, claim: &ClaimRecord) -> StoreResult<i64>;
    async fn claim_by_no(&mut self, claim_no: &str) -> StoreResult<Option<ClaimRecord>>;
    /// An order's claims, oldest first.
    async fn order_claims(&mut self, order: OrderId) -> StoreResult<Vec<ClaimRecord>>;
    /// A shop's claims waiting for the merchant (open or awaiting evidence), nearest deadline first, paused
    /// deadlines last.
    async fn shop_pending_claims(&mut self, shop: ShopId, limit: i64) -> StoreResult<Vec<ClaimRecord>>;
    /// A shop's claims in any state, newest first.
    async fn shop_claims(&mut self, shop: ShopId, limit: i64) -> StoreResult<Vec<ClaimRecord>>;
    /// Open claims whose merchant deadline `<= now`, oldest deadline first.
    async fn claims_past_deadline(&mut self, now: Timestamp, limit: i64) -> StoreResult<Vec<ClaimRecord>>;
    /// Compare-and-set: writes the claim's state, deadline, request and decision fields, and its eligibility
    /// with reasons (re-evaluated when the buyer adds evidence), if its state is still `from`; false (and no
    /// change) otherwise.
    async fn update_claim(&mut self, claim: &ClaimRecord, from: kabao_core::claim::ClaimState) -> StoreResult<bool>;
    /// Stores a file under its SHA-256 (the caller hashed it), unless that content is stored already.
    async fn put_evidence_file(&mut self, sha256: &[u8], mime: &str, content: &[u8], at: Timestamp) -> StoreResult<()>;
    /// A stored file's type and content.
    async fn evidence_file(&mut self, sha256: &[u8]) -> StoreResult<Option<(String, Vec<u8>)>>;
    /// Adds a piece of evidence to a claim (its `id`, `mime` and `size_bytes` are ignored: the file is stored
    /// first with [`Tx::put_evidence_file`]).
    async fn insert_claim_evidence(&mut self, evidence: &EvidenceRecord) -> StoreResult<i64>;
    /// A claim's evidence, oldest first.
    async fn claim_evidence(&mut self, claim: i64) -> StoreResult<Vec<EvidenceRecord>>;
    /// Re-issues an item: voids its current key (the card key becomes `voided`, its `order_keys` row is
    /// stamped), delivers the product's oldest available key for the same item and lowers the stock counter.
    /// Returns the new key, or `None` and no change when no key is available. NotFound if the item has no live key.
    async fn reissue_key(
        &mut self,
        order: OrderId,
        item: i32,
        product: ProductId,
        at: Timestamp,
    ) -> StoreResult<Option<CardKeyId>>;

    /// Rejected claims or claims whose remedy failed, decided at or before `decided_by`, not escalated and not yet
    /// reminded about escalation; oldest first.
    async fn claims_to_remind(&mut self, decided_by: Timestamp, limit: i64) -> StoreResult<Vec<ClaimRecord>>;
    /// Stamps that the buyer was reminded about escalating a claim.
    async fn mark_escalation_reminded(&mut self, claim: i64, at: Timestamp) -> StoreResult<()>;

    // ---- disputes (平台介入) and the compensation fund ----
    /// Opens the dispute of a claim. Conflict `"disputes.claim"` if the claim was escalated before.
    async fn insert_dispute(&mut self, claim: &ClaimRecord, at: Timestamp) -> StoreResult<i64>;
    async fn dispute_of_claim(&mut self, claim: i64) -> StoreResult<Option<DisputeRecord>>;
    /// Open disputes, oldest first.
    async fn open_disputes(&mut self, limit: i64) -> StoreResult<Vec<DisputeRecord>>;
    /// Recently decided disputes, newest first.
    async fn decided_disputes(&mut self, limit: i64) -> StoreResult<Vec<DisputeRecord>>;
    /// Compare-and-set open → decided with the ruling; false if it was decided already.
    async fn decide_dispute(
        &mut self,
        id: i64,
        ruling: &str,
        refund: Option<kabao_core::Money>,
        reason: &str,
        by: UserId,
        at: Timestamp,
    ) -> StoreResult<bool>;
    async fn insert_statement(&mut self, dispute: i64, statement: &Statement) -> StoreResult<()>;
    /// A dispute's statements, oldest first.
    async fn dispute_statements(&mut self, dispute: i64) -> StoreResult<Vec<Statement>>;
    /// Records a shop's joining the fund; Conflict `"fund_members.shop"` if it is a member already.
    async fn insert_fund_member(&mut self, shop: ShopId, at: Timestamp) -> StoreResult<()>;
    async fn fund_member_since(&mut self, shop: ShopId) -> StoreResult<Option<Timestamp>>;
    async fn count_fund_members(&mut self) -> StoreResult<i64>;
    /// Every shop's `FundReceivable` balance (negative: what it owes the fund), read by key range, not by scan.
    async fn fund_receivables(&mut self) -> StoreResult<Vec<(ShopId, kabao_core::Money)>>;
    /// The fund's advances (debits of `FundReceivable` accounts), newest first.
    async fn fund_advances(&mut self, limit: i64) -> StoreResult<Vec<LedgerEntry>>;

    // ---- trust and risk ----
    /// Stores a review; Conflict `"reviews.order"` if the order has one.
    async fn insert_review(&mut self, review: &ReviewRecord) -> StoreResult<i64>;
    async fn review_of_order(&mut self, order: OrderId) -> StoreResult<Option<ReviewRecord>>;
    async fn review_by_id(&mut self, id: i64) -> StoreResult<Option<ReviewRecord>>;
    /// A shop's reviews, newest first.
    async fn shop_reviews(&mut self, shop: ShopId, limit: i64) -> StoreResult<Vec<ReviewRecord>>;
    /// A product's reviews, newest first.
    async fn product_reviews(&mut self, product: ProductId, limit: i64) -> StoreResult<Vec<ReviewRecord>>;
    /// Writes the merchant's one reply; false (and no change) if the review has a reply already.
    async fn set_review_reply(&mut self, review: i64, reply: &str, at: Timestamp) -> StoreResult<bool>;
    /// The aggregates a shop's trust score needs: everything since `since`, recent disputes since `recent`.
    async fn shop_trust_facts(
        &mut self,
        shop: ShopId,
        since: Timestamp,
        recent: Timestamp,
    ) -> StoreResult<ShopTrustFacts>;

    /// Stores an application; Conflict `"certification_applications.pending"` if the shop has one pending.
    async fn insert_certification_application(&mut self, app: &CertificationApplication) -> StoreResult<i64>;
    async fn certification_application(&mut self, id: i64) -> StoreResult<Option<CertificationApplication>>;
    /// A shop's applications, newest first.
    async fn shop_certification_applications(&mut self, shop: ShopId) -> StoreResult<Vec<CertificationApplication>>;
    /// Pending applications, oldest first.
    async fn pending_certification_applications(&mut self, limit: i64) -> StoreResult<Vec<CertificationApplication>>;
    /// Other shops whose applications carry this id fingerprint.
    async fn shops_with_id_fingerprint(&mut self, fingerprint: &[u8], except: ShopId) -> StoreResult<Vec<ShopId>>;
    /// Compare-and-set pending → `state` (approved / rejected); false if it was decided already.
    async fn decide_certification_application(
        &mut self,
        id: i64,
        state: &str,
        reason: &str,
        by: UserId,
        at: Timestamp,
    ) -> StoreResult<bool>;

    async fn insert_chat_message(&mut self, message: &ChatMessage) -> StoreResult<i64>;
    /// An order's chat, oldest first.
    async fn order_chat(&mut self, order: OrderId, limit: i64) -> StoreResult<Vec<ChatMessage>>;
    /// One chat message by its id (the message a risk event points to).
    async fn chat_message(&mut self, id: i64) -> StoreResult<Option<ChatMessage>>;
    /// Messages one party sent on an order since `since` (for flood limits).
    async fn count_chat_messages_since(
        &mut self,
        order: OrderId,
        sender: ChatParty,
        since: Timestamp,
    ) -> StoreResult<i64>;
    async fn insert_risk_event(&mut self, event: &RiskEvent) -> StoreResult<i64>;
    /// A shop's risk events, newest first.
    async fn shop_risk_events(&mut self, shop: ShopId, limit: i64) -> StoreResult<Vec<RiskEvent>>;
    /// Shops with at least `min_open` open risk events, most first: the admin's review queue.
    async fn risk_review_queue(&mut self, min_open: i64, limit: i64) -> StoreResult<Vec<(ShopId, i64)>>;
    /// Marks every open event of a shop confirmed or dismissed; returns how many.
    async fn review_risk_events(
        &mut self,
        shop: ShopId,
        state: &str,
        note: &str,
        by: UserId,
        at: Timestamp,
    ) -> StoreResult<u64>;

    /// Records a security event; returns its id.
    async fn insert_security_event(&mut self, event: &SecurityEvent) -> StoreResult<i64>;
    /// Security events, newest first.
    async fn security_events(&mut self, limit: i64, offset: i64) -> StoreResult<Vec<SecurityEvent>>;

    /// Marks an order as a buyer's trial order at its shop (`key` names shop and buyer); Conflict
    /// `"orders.trial"` if the buyer has a live one there already.
    async fn set_order_trial_key(&mut self, order: OrderId, key: &str) -> StoreResult<()>;
    /// Records the device cookie an order was placed from.
    async fn set_order_device(&mut self, order: OrderId, device: &str) -> StoreResult<()>;
    /// Records the payer account a gateway reported for a payment.
    async fn set_payment_payer(&mut self, trade_no: &str, payer: &str) -> StoreResult<()>;
    /// The numbers behind the abuse signals of a claim; category figures since `since`.
    async fn buyer_facts(&mut self, claim: &ClaimRecord, since: Timestamp) -> StoreResult<kabao_core::signals::Facts>;
    /// A buyer's orders from a shop (newest first), for "your record with this shop".
    async fn buyer_orders_at_shop(&mut self, buyer: UserId, shop: ShopId, limit: i64) -> StoreResult<Vec<Order>>;
    /// Whether a buyer (account, or guest email) has a live (pending or paid) order of a trial product at a shop.
    async fn has_trial_order(
        &mut self,
        shop: ShopId,
        buyer: Option<UserId>,
        guest_email: Option<&str>,
    ) -> StoreResult<bool>;

    // ---- custom goods (人工交付) ----
    /// Sets a custom product's buyer fields (JSON array of labels), delivery deadline and stock count.
    async fn set_custom_spec(
        &mut self,
        product: ProductId,
        fields_json: &str,
        delivery_hours: i64,
        stock: i64,
    ) -> StoreResult<()>;
    /// A product's buyer fields (JSON) and delivery hours, if set.
    async fn custom_spec(&mut self, product: ProductId) -> StoreResult<Option<(String, i64)>>;

    // ---- job leases ----
    /// Takes (or renews) the lease of a job until `until` if it is free, expired, or already `owner`'s.
    /// Returns whether `owner` now holds it (false for an unknown job).
    async fn acquire_job_lease(
        &mut self,
        job: &str,
        owner: &str,
        now: Timestamp,
        until: Timestamp,
    ) -> StoreResult<bool>;
    /// Gives the lease up (if `owner` holds it) and records the run.
    async fn release_job_lease(&mut self, job: &str, owner: &str, now: Timestamp) -> StoreResult<()>;

    // ---- data keys (wrapped by the master key) ----
    async fn data_keys(&mut self) -> StoreResult<Vec<DataKeyRecord>>;
    /// Conflict `"data_keys.version"` if (purpose, version) exists.
    async fn insert_data_key(&mut self, key: &DataKeyRecord) -> StoreResult<()>;
}

/// Opens the store a URL names: `sqlite://PATH` or `postgres://...`, and applies migrations.
pub async fn open(url: &str) -> StoreResult<std::sync::Arc<dyn Store>> {
    let store: std::sync::Arc<dyn Store> = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        std::sync::Arc::new(postgres::PgStore::connect(url).await?)
    } else {
        let path = url.strip_prefix("sqlite://").unwrap_or(url);
        std::sync::Arc::new(sqlite::SqliteStore::open(std::path::Path::new(path)).await?)
    };
    store.migrate().await?;
    Ok(store)
}
