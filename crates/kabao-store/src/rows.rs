//! Row shapes as both backends return them (plain tuples, so one decoder serves SQLite and PostgreSQL),
//! the column lists that produce them, and their conversion into the models of [`crate::models`].

use crate::errors::corrupt;
use crate::models::*;
use crate::StoreResult;
use kabao_core::catalog::{Category, CertificationLevel, GoodsKind};
use kabao_core::user::Role;
use kabao_core::vault::Fingerprint;
use kabao_core::{ApiTokenId, BatchId, CardKeyId, Money, ProductId, ShopId, Timestamp, UserId};
use sqlx::Postgres;

pub(crate) const USER_COLS: &str = "u.id, u.username, u.email, u.password_hash, u.role, u.created_at, \
     EXISTS (SELECT 1 FROM totp_credentials tc WHERE tc.user_id = u.id)";
pub(crate) type UserRow = (i64, String, Option<String>, String, String, i64, bool);

pub(crate) fn user(r: UserRow) -> StoreResult<User> {
    Ok(User {
        id: UserId(r.0),
        username: r.1,
        email: r.2,
        password_hash: r.3,
        role: Role::parse(&r.4).ok_or_else(|| corrupt("users.role"))?,
        created_at: Timestamp(r.5),
        totp_enabled: r.6,
    })
}

pub(crate) const SESSION_COLS: &str =
    "s.token_hash, s.user_id, s.created_at, s.expires_at, s.ip, s.user_agent, s.last_seen_at";
pub(crate) type SessionRow = (Vec<u8>, i64, i64, i64, Option<String>, Option<String>, i64);

pub(crate) fn session(r: SessionRow) -> Session {
    Session {
        token_hash: r.0,
        user_id: UserId(r.1),
        created_at: Timestamp(r.2),
        expires_at: Timestamp(r.3),
        ip: r.4,
        user_agent: r.5,
        last_seen_at: Timestamp(r.6),
    }
}

pub(crate) const TOKEN_COLS: &str = "t.id, t.user_id, t.name, t.prefix, t.created_at, t.revoked_at";
pub(crate) type TokenRow = (i64, i64, String, String, i64, Option<i64>);

pub(crate) fn token(r: TokenRow) -> ApiToken {
    ApiToken {
        id: ApiTokenId(r.0),
        user_id: UserId(r.1),
        name: r.2,
        prefix: r.3,
        created_at: Timestamp(r.4),
        revoked_at: r.5.map(Timestamp),
    }
}

pub(crate) const SHOP_COLS: &str =
    "sh.id, sh.owner_id, sh.name, sh.description, sh.opened_at, sh.certification, sh.suspended, sh.suspended_reason, \
     sh.held_rules";
pub(crate) type ShopRow = (i64, i64, String, String, i64, String, bool, Option<String>, Option<String>);

pub(crate) fn shop(r: ShopRow) -> StoreResult<Shop> {
    Ok(Shop {
        id: ShopId(r.0),
        owner_id: UserId(r.1),
        name: r.2,
        description: r.3,
        opened_at: Timestamp(r.4),
        certification: certification(&r.5)?,
        suspended: r.6,
        suspended_reason: r.7,
        held_rules: held_rules(r.8.as_deref(), "shops.held_rules")?,
    })
}

pub(crate) fn certification(s: &str) -> StoreResult<CertificationLevel> {
    CertificationLevel::parse(s).ok_or_else(|| corrupt("shops.certification"))
}

/// The product's columns, then its current policy (a lookup by primary key, so lists stay one query).
pub(crate) const PRODUCT_COLS: &str = "p.id, p.shop_id, p.title, p.description, p.category, p.kind, p.price_fen, \
     p.max_per_order, p.trial, p.listed, p.stock_available, p.created_at, p.updated_at, \
     (SELECT w.policy FROM warranty_policies w WHERE w.id = p.warranty_policy_id), p.held_rules";
pub(crate) type ProductRow =
    (i64, i64, String, String, String, String, i64, i64, bool, bool, i64, i64, i64, Option<String>, Option<String>);

pub(crate) fn product(r: ProductRow) -> StoreResult<Product> {
    Ok(Product {
        id: ProductId(r.0),
        shop_id: ShopId(r.1),
        title: r.2,
        description: r.3,
        category: Category::parse(&r.4).ok_or_else(|| corrupt("products.category"))?,
        kind: GoodsKind::parse(&r.5).ok_or_else(|| corrupt("products.kind"))?,
        price: Money::from_fen(r.6),
        max_per_order: r.7,
        trial: r.8,
        listed: r.9,
        stock_available: r.10,
        created_at: Timestamp(r.11),
        updated_at: Timestamp(r.12),
        warranty: warranty_summary(r.13.as_deref())?,
        held_rules: held_rules(r.14.as_deref(), "products.held_rules")?,
    })
}

/// The rule ids a listing is held under (a JSON array; NULL: not held).
fn held_rules(json: Option<&str>, column: &'static str) -> StoreResult<Vec<String>> {
    json.map_or(Ok(Vec::new()), |j| serde_json::from_str(j).map_err(|_| corrupt(column)))
}

/// The summary of a stored policy (JSON of `kabao_core::warranty::WarrantyPolicy`).
fn warranty_summary(policy: Option<&str>) -> StoreResult<Option<kabao_core::warranty::WarrantySummary>> {
    policy
        .map(|json| {
            serde_json::from_str::<kabao_core::warranty::WarrantyPolicy>(json)
                .map(|p| p.summary())
                .map_err(|_| corrupt("warranty_policies.policy"))
        })
        .transpose()
}

/// A listing has more columns than a tuple decodes (the product's 15, then the shop's name, certification and
/// opening time), so it is read by index from any backend's row.
pub(crate) fn listing_from_row<R: ColumnAt>(r: &R) -> StoreResult<Listing> {
    let product = product((
        r.at(0)?,
        r.at(1)?,
        r.at(2)?,
        r.at(3)?,
        r.at(4)?,
        r.at(5)?,
        r.at(6)?,
        r.at(7)?,
        r.at(8)?,
        r.at(9)?,
        r.at(10)?,
        r.at(11)?,
        r.at(12)?,
        r.at(13)?,
        r.at(14)?,
    ))?;
    let certification_text: String = r.at(16)?;
    Ok(Listing {
        product,
        shop_name: r.at(15)?,
        shop_certification: certification(&certification_text)?,
        shop_opened_at: Timestamp(r.at(17)?),
    })
}

/// The counts are the batch's stored ones (`keys_*`, kept in step by every statement that changes a key), so a
/// batch row costs the same whatever the batch holds.
pub(crate) const BATCH_COLS: &str =
    "b.id, b.shop_id, b.product_id, b.created_by, b.created_at, b.source, b.voided_at, \
     b.keys_available, b.keys_sold, b.keys_voided";
pub(crate) type BatchRow = (i64, i64, i64, i64, i64, String, Option<i64>, i64, i64, i64);

pub(crate) fn batch(r: BatchRow) -> Batch {
    Batch {
        id: BatchId(r.0),
        shop_id: ShopId(r.1),
        product_id: ProductId(r.2),
        created_by: UserId(r.3),
        created_at: Timestamp(r.4),
        source: r.5,
        voided_at: r.6.map(Timestamp),
        available: r.7,
        sold: r.8,
        voided: r.9,
    }
}

pub(crate) const KEY_COLS: &str =
    "k.id, k.shop_id, k.product_id, k.batch_id, k.fingerprint, k.ciphertext, k.key_version, k.state, k.created_at";
pub(crate) type KeyRow = (i64, i64, i64, i64, Vec<u8>, Vec<u8>, i32, String, i64);

pub(crate) fn card_key(r: KeyRow) -> StoreResult<CardKey> {
    Ok(CardKey {
        id: CardKeyId(r.0),
        shop_id: ShopId(r.1),
        product_id: ProductId(r.2),
        batch_id: BatchId(r.3),
        fingerprint: fingerprint(&r.4)?,
        ciphertext: r.5,
        key_version: r.6,
        state: KeyState::parse(&r.7).ok_or_else(|| corrupt("card_keys.state"))?,
        created_at: Timestamp(r.8),
    })
}

pub(crate) fn fingerprint(bytes: &[u8]) -> StoreResult<Fingerprint> {
    <[u8; 32]>::try_from(bytes).map(Fingerprint).map_err(|_| corrupt("card_keys.fingerprint"))
}

pub(crate) type DataKeyRow = (String, i32, Vec<u8>, i64);

pub(crate) fn data_key(r: DataKeyRow) -> DataKeyRecord {
    DataKeyRecord { purpose: r.0, version: r.1, wrapped: r.2, created_at: Timestamp(r.3) }
}

pub(crate) const ORDER_COLS: &str =
    "id, order_no, buyer_id, guest_email, guest_query_hash, shop_id, product_id, quantity, \
     unit_price_fen, amount_fen, state, warranty_snapshot, warranty_sha256, warranty_ack, created_at, expires_at, \
     paid_at, delivered_at, settle_after, settled_at, custom_answers, delivery_deadline, \
     list_unit_price_fen, tier_unit_price_fen, amount_before_fen, coupon_id, coupon_code, discount_fen";

/// Reads a column by index from either backend's row.
pub(crate) trait ColumnAt {
    fn at<T: Column>(&self, i: usize) -> StoreResult<T>;
}

/// The column types orders are made of.
pub(crate) trait Column:
    crate::lite::Decode + for<'r> sqlx::Decode<'r, Postgres> + sqlx::Type<Postgres>
{
}

impl<T> Column for T where T: crate::lite::Decode + for<'r> sqlx::Decode<'r, Postgres> + sqlx::Type<Postgres> {}

impl ColumnAt for sqlx::postgres::PgRow {
    fn at<T: Column>(&self, i: usize) -> StoreResult<T> {
        sqlx::Row::try_get(self, i).map_err(crate::errors::map_sqlx)
    }
}

impl ColumnAt for crate::lite::Row {
    fn at<T: Column>(&self, i: usize) -> StoreResult<T> {
        crate::lite::RowExt::try_get(self, i).map_err(crate::errors::map_sqlx)
    }
}

/// Orders have more columns than a tuple decodes, so they are read by index from any backend's row.
pub(crate) fn order_from_row<R: ColumnAt>(r: &R) -> StoreResult<crate::commerce::Order> {
    let ts = |v: Option<i64>| v.map(Timestamp);
    let state: String = r.at(10)?;
    Ok(crate::commerce::Order {
        id: kabao_core::ledger::OrderId(r.at(0)?),
        order_no: r.at(1)?,
        buyer_id: r.at::<Option<i64>>(2)?.map(UserId),
        guest_email: r.at(3)?,
        guest_query_hash: r.at(4)?,
        shop_id: ShopId(r.at(5)?),
        product_id: ProductId(r.at(6)?),
        quantity: r.at(7)?,
        unit_price: Money::from_fen(r.at(8)?),
        amount: Money::from_fen(r.at(9)?),
        state: kabao_core::order::OrderState::parse(&state).ok_or_else(|| corrupt("orders.state"))?,
        warranty_snapshot: r.at(11)?,
        warranty_sha256: r.at(12)?,
        warranty_ack: r.at(13)?,
        created_at: Timestamp(r.at(14)?),
        expires_at: Timestamp(r.at(15)?),
        paid_at: ts(r.at(16)?),
        delivered_at: ts(r.at(17)?),
        settle_after: ts(r.at(18)?),
        settled_at: ts(r.at(19)?),
        custom_answers: r.at(20)?,
        delivery_deadline: ts(r.at(21)?),
        pricing: order_pricing(r)?,
    })
}

/// The pricing columns of an order (22..=27); `None` when the order predates them.
fn order_pricing<R: ColumnAt>(r: &R) -> StoreResult<Option<crate::OrderPricing>> {
    let (Some(list), Some(tier), Some(before)) =
        (r.at::<Option<i64>>(22)?, r.at::<Option<i64>>(23)?, r.at::<Option<i64>>(24)?)
    else {
        return Ok(None);
    };
    Ok(Some(crate::OrderPricing {
        order_id: kabao_core::ledger::OrderId(r.at(0)?),
        list_unit_price: Money::from_fen(list),
        tier_unit_price: Money::from_fen(tier),
        amount_before: Money::from_fen(before),
        coupon_id: r.at(25)?,
        coupon_code: r.at(26)?,
        discount: Money::from_fen(r.at::<Option<i64>>(27)?.unwrap_or(0)),
    }))
}

// The ledger queries share one SELECT, spelled out whole so each stays a `&'static str`.
pub(crate) const LEDGER_SELECT_ALL: &str = "SELECT e.tx_id, t.kind, t.order_id, e.account, e.amount_fen, t.created_at \
         FROM ledger_entries e JOIN ledger_txs t ON t.id = e.tx_id ORDER BY e.tx_id, e.id";
pub(crate) const LEDGER_SELECT_ORDER: &str =
    "SELECT e.tx_id, t.kind, t.order_id, e.account, e.amount_fen, t.created_at \
         FROM ledger_entries e JOIN ledger_txs t ON t.id = e.tx_id WHERE t.order_id = $1 ORDER BY e.tx_id, e.id";
pub(crate) const LEDGER_SELECT_ACCOUNT: &str =
    "SELECT e.tx_id, t.kind, t.order_id, e.account, e.amount_fen, t.created_at \
         FROM ledger_entries e JOIN ledger_txs t ON t.id = e.tx_id WHERE e.account = $1 \
         ORDER BY e.id DESC LIMIT $2 OFFSET $3";

/// The ledger in (account, entry id) order from a position, a page at a time (`ledger verify`).
pub(crate) const LEDGER_SELECT_BY_ACCOUNT: &str =
    "SELECT e.id, e.tx_id, t.kind, t.order_id, e.account, e.amount_fen, t.created_at \
         FROM ledger_entries e JOIN ledger_txs t ON t.id = e.tx_id WHERE (e.account, e.id) > ($1, $2) \
         ORDER BY e.account, e.id LIMIT $3";
pub(crate) const LEDGER_UNBALANCED: &str = "SELECT tx_id, CAST(SUM(amount_fen) AS BIGINT) FROM ledger_entries \
         GROUP BY tx_id HAVING SUM(amount_fen) <> 0 ORDER BY tx_id LIMIT $1";
pub(crate) const BALANCE_MISMATCHES: &str = "SELECT COALESCE(c.account, b.account), COALESCE(b.balance_fen, 0), \
         COALESCE(c.fen, 0) FROM (SELECT account, CAST(SUM(amount_fen) AS BIGINT) AS fen FROM ledger_entries \
         GROUP BY account) c FULL OUTER JOIN account_balances b ON b.account = c.account \
         WHERE COALESCE(c.fen, 0) <> COALESCE(b.balance_fen, 0) ORDER BY 1 LIMIT $1";
pub(crate) const NEGATIVE_BALANCES: &str =
    "SELECT account, balance_fen FROM account_balances WHERE balance_fen < 0 ORDER BY account LIMIT $1";

pub(crate) type LedgerPageRow = (i64, i64, String, Option<i64>, String, i64, i64);

pub(crate) fn ledger_page_entry(r: LedgerPageRow) -> StoreResult<(i64, crate::commerce::LedgerEntry)> {
    Ok((r.0, ledger_entry((r.1, r.2, r.3, r.4, r.5, r.6))?))
}

/// `FundReceivable` keys are `fund_receivable:<shop>`; `;` sorts right after `:`, so the range holds exactly them.
pub(crate) const FUND_RECEIVABLE_FROM: &str = "fund_receivable:";
pub(crate) const FUND_RECEIVABLE_UNTIL: &str = "fund_receivable;";
pub(crate) const LEDGER_SELECT_FUND_ADVANCES: &str =
    "SELECT e.tx_id, t.kind, t.order_id, e.account, e.amount_fen, t.created_at \
         FROM ledger_entries e JOIN ledger_txs t ON t.id = e.tx_id \
         WHERE e.account >= $1 AND e.account < $2 AND e.amount_fen < 0 ORDER BY e.id DESC LIMIT $3";

pub(crate) type LedgerRow = (i64, String, Option<i64>, String, i64, i64);

pub(crate) fn ledger_entry(r: LedgerRow) -> StoreResult<crate::commerce::LedgerEntry> {
    Ok(crate::commerce::LedgerEntry {
        tx_id: r.0,
        kind: kabao_core::ledger::TxKind::parse(&r.1).ok_or_else(|| corrupt("ledger_txs.kind"))?,
        order_id: r.2.map(kabao_core::ledger::OrderId),
        account: kabao_core::ledger::Account::parse_key(&r.3).ok_or_else(|| corrupt("ledger_entries.account"))?,
        amount: Money::from_fen(r.4),
        created_at: Timestamp(r.5),
    })
}

pub(crate) type EventRow = (i64, String, i64, String, Vec<u8>, Vec<u8>);

pub(crate) fn chained_event(r: EventRow) -> StoreResult<kabao_core::audit::ChainedEvent> {
    let hash32 = |v: &[u8], what: &'static str| -> StoreResult<[u8; 32]> { v.try_into().map_err(|_| corrupt(what)) };
    Ok(kabao_core::audit::ChainedEvent {
        seq: r.0,
        kind: r.1,
        at_ms: r.2,
        body: r.3,
        prev_hash: hash32(&r.4, "order_events.prev_hash")?,
        hash: hash32(&r.5, "order_events.hash")?,
    })
}

/// The columns of a [`PaymentRow`], in order.
pub(crate) const PAYMENT_COLS: &str =
    "id, gateway, trade_no, purpose_kind, order_id, user_id, amount_fen, state, gateway_trade_no, created_at, paid_at";

pub(crate) type PaymentRow =
    (i64, String, String, String, Option<i64>, Option<i64>, i64, String, Option<String>, i64, Option<i64>);

pub(crate) fn payment(r: PaymentRow) -> StoreResult<crate::commerce::Payment> {
    use crate::commerce::{PaymentPurpose, PaymentState};
    let purpose = match (r.3.as_str(), r.4, r.5) {
        ("order", Some(o), _) => PaymentPurpose::Order(kabao_core::ledger::OrderId(o)),
        ("top_up", _, Some(u)) => PaymentPurpose::TopUp(UserId(u)),
        _ => return Err(corrupt("payments.purpose")),
    };
    let state = match r.7.as_str() {
        "pending" => PaymentState::Pending,
        "paid" => PaymentState::Paid,
        _ => return Err(corrupt("payments.state")),
    };
    Ok(crate::commerce::Payment {
        id: r.0,
        gateway: r.1,
        trade_no: r.2,
        purpose,
        amount: Money::from_fen(r.6),
        state,
        gateway_trade_no: r.8,
        created_at: Timestamp(r.9),
        paid_at: r.10.map(Timestamp),
    })
}

pub(crate) const WITHDRAWAL_COLS: &str = "id, shop_id, amount_fen, state, requested_at, decided_at, decided_by, note, \
     fee_fen, payee_id, payee_kind, payee_account, payee_name, payee_bank, hold_tx_id, payout_ref";

pub(crate) type WithdrawalRow = (
    i64,
    i64,
    i64,
    String,
    i64,
    Option<i64>,
    Option<i64>,
    Option<String>,
    i64,
    Option<i64>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<i64>,
    Option<String>,
);

pub(crate) fn withdrawal(r: WithdrawalRow) -> StoreResult<crate::commerce::Withdrawal> {
    let payee = match (r.10, r.11, r.12) {
        (Some(kind), Some(account), Some(holder_name)) => Some(crate::commerce::PayeeSnapshot {
            kind: kabao_core::payee::PayeeKind::parse(&kind).ok_or_else(|| corrupt("withdrawals.payee_kind"))?,
            account,
            holder_name,
            bank_name: r.13,
        }),
        _ => None,
    };
    Ok(crate::commerce::Withdrawal {
        id: r.0,
        shop_id: ShopId(r.1),
        amount: Money::from_fen(r.2),
        state: crate::commerce::WithdrawalState::parse(&r.3).ok_or_else(|| corrupt("withdrawals.state"))?,
        requested_at: Timestamp(r.4),
        decided_at: r.5.map(Timestamp),
        decided_by: r.6.map(UserId),
        note: r.7,
        fee: Money::from_fen(r.8),
        payee_id: r.9,
        payee,
        hold_tx_id: r.14,
        payout_ref: r.15,
    })
}

pub(crate) const PAYEE_COLS: &str = "id, shop_id, kind, account, holder_name, bank_name, created_at, disabled_at";

pub(crate) type PayeeRow = (i64, i64, String, String, String, Option<String>, i64, Option<i64>);

pub(crate) fn payee(r: PayeeRow) -> StoreResult<crate::commerce::PayeeRecord> {
    Ok(crate::commerce::PayeeRecord {
        id: r.0,
        shop_id: ShopId(r.1),
        details: crate::commerce::PayeeSnapshot {
            kind: kabao_core::payee::PayeeKind::parse(&r.2).ok_or_else(|| corrupt("payees.kind"))?,
            account: r.3,
            holder_name: r.4,
            bank_name: r.5,
        },
        created_at: Timestamp(r.6),
        disabled_at: r.7.map(Timestamp),
    })
}

pub(crate) fn policy_version(r: (i64, i64, i32, String, Vec<u8>, i64)) -> crate::models::PolicyVersion {
    crate::models::PolicyVersion {
        id: r.0,
        product_id: ProductId(r.1),
        version: r.2,
        policy: r.3,
        sha256: r.4,
        created_at: Timestamp(r.5),
    }
}

pub(crate) const CLAIM_COLS: &str = "id, claim_no, order_id, item, shop_id, defect, description, activated, eligible, \
     reasons, state, due_at, paused_remaining_ms, evidence_requested, request_note, decision_reason, decided_by, \
     decided_at, created_at, auto_remedied";

pub(crate) fn claim_from_row<R: ColumnAt>(r: &R) -> StoreResult<crate::commerce::ClaimRecord> {
    let ts = |v: Option<i64>| v.map(Timestamp);
    let defect: String = r.at(5)?;
    let state: String = r.at(10)?;
    Ok(crate::commerce::ClaimRecord {
        id: r.at(0)?,
        claim_no: r.at(1)?,
        order_id: kabao_core::ledger::OrderId(r.at(2)?),
        item: r.at(3)?,
        shop_id: ShopId(r.at(4)?),
        defect: kabao_core::warranty::Defect::parse(&defect).ok_or_else(|| corrupt("claims.defect"))?,
        description: r.at(6)?,
        activated: r.at(7)?,
        eligible: r.at(8)?,
        reasons: r.at(9)?,
        state: kabao_core::claim::ClaimState::parse(&state).ok_or_else(|| corrupt("claims.state"))?,
        due_at: ts(r.at(11)?),
        paused_remaining_ms: r.at(12)?,
        evidence_requested: r.at(13)?,
        request_note: r.at(14)?,
        decision_reason: r.at(15)?,
        decided_by: r.at::<Option<i64>>(16)?.map(UserId),
        decided_at: ts(r.at(17)?),
        created_at: Timestamp(r.at(18)?),
        auto_remedied: r.at(19)?,
    })
}

pub(crate) const EVIDENCE_SELECT: &str =
    "SELECT e.id, e.claim_id, e.sha256, e.kind, e.file_name, f.mime, f.size_bytes, \
     e.added_by, e.binding, e.binding_sha256, e.created_at FROM claim_evidence e \
     JOIN evidence_files f ON f.sha256 = e.sha256 WHERE e.claim_id = $1 ORDER BY e.id";

pub(crate) fn evidence_from_row<R: ColumnAt>(r: &R) -> StoreResult<crate::commerce::EvidenceRecord> {
    let kind: String = r.at(3)?;
    let by: String = r.at(7)?;
    Ok(crate::commerce::EvidenceRecord {
        id: r.at(0)?,
        claim_id: r.at(1)?,
        sha256: r.at(2)?,
        kind: kabao_core::warranty::EvidenceKind::parse(&kind).ok_or_else(|| corrupt("claim_evidence.kind"))?,
        file_name: r.at(4)?,
        mime: r.at(5)?,
        size_bytes: r.at(6)?,
        added_by: crate::commerce::EvidenceParty::parse(&by).ok_or_else(|| corrupt("claim_evidence.added_by"))?,
        binding: r.at(8)?,
        binding_sha256: r.at(9)?,
        created_at: Timestamp(r.at(10)?),
    })
}

pub(crate) const DISPUTE_COLS: &str =
    "id, claim_id, order_id, shop_id, state, opened_at, ruling, refund_fen, reason, decided_by, decided_at";

pub(crate) fn dispute_from_row<R: ColumnAt>(r: &R) -> StoreResult<crate::commerce::DisputeRecord> {
    let ts = |v: Option<i64>| v.map(Timestamp);
    let state: String = r.at(4)?;
    Ok(crate::commerce::DisputeRecord {
        id: r.at(0)?,
        claim_id: r.at(1)?,
        order_id: kabao_core::ledger::OrderId(r.at(2)?),
        shop_id: ShopId(r.at(3)?),
        decided: match state.as_str() {
            "open" => false,
            "decided" => true,
            _ => return Err(corrupt("disputes.state")),
        },
        opened_at: Timestamp(r.at(5)?),
        ruling: r.at(6)?,
        refund: r.at::<Option<i64>>(7)?.map(Money::from_fen),
        reason: r.at(8)?,
        decided_by: r.at::<Option<i64>>(9)?.map(UserId),
        decided_at: ts(r.at(10)?),
    })
}

pub(crate) const REVIEW_COLS: &str =
    "id, order_id, shop_id, product_id, buyer_id, category, described, service, delivery, \
     tags, body, reissue, reply, replied_at, created_at";

pub(crate) fn review_from_row<R: ColumnAt>(r: &R) -> StoreResult<crate::trust::ReviewRecord> {
    let category: String = r.at(5)?;
    Ok(crate::trust::ReviewRecord {
        id: r.at(0)?,
        order_id: kabao_core::ledger::OrderId(r.at(1)?),
        shop_id: ShopId(r.at(2)?),
        product_id: ProductId(r.at(3)?),
        buyer_id: UserId(r.at(4)?),
        category: Category::parse(&category).ok_or_else(|| corrupt("reviews.category"))?,
        described: r.at(6)?,
        service: r.at(7)?,
        delivery: r.at(8)?,
        tags_json: r.at(9)?,
        body: r.at(10)?,
        reissue: r.at(11)?,
        reply: r.at(12)?,
        replied_at: r.at::<Option<i64>>(13)?.map(Timestamp),
        created_at: Timestamp(r.at(14)?),
    })
}

pub(crate) const CERT_APP_COLS: &str =
    "id, shop_id, level, details, id_masked, id_fingerprint, state, reason, decided_by, \
     decided_at, created_at";

pub(crate) fn cert_app_from_row<R: ColumnAt>(r: &R) -> StoreResult<crate::trust::CertificationApplication> {
    let level: String = r.at(2)?;
    Ok(crate::trust::CertificationApplication {
        id: r.at(0)?,
        shop_id: ShopId(r.at(1)?),
        level: CertificationLevel::parse(&level).ok_or_else(|| corrupt("certification_applications.level"))?,
        details_json: r.at(3)?,
        id_masked: r.at(4)?,
        id_fingerprint: r.at(5)?,
        state: r.at(6)?,
        reason: r.at(7)?,
        decided_by: r.at::<Option<i64>>(8)?.map(UserId),
        decided_at: r.at::<Option<i64>>(9)?.map(Timestamp),
        created_at: Timestamp(r.at(10)?),
    })
}

pub(crate) const CHAT_COLS: &str = "id, order_id, sender, sender_id, body, hits, created_at";

pub(crate) fn chat_from_row<R: ColumnAt>(r: &R) -> StoreResult<crate::trust::ChatMessage> {
    let sender: String = r.at(2)?;
    Ok(crate::trust::ChatMessage {
        id: r.at(0)?,
        order_id: kabao_core::ledger::OrderId(r.at(1)?),
        sender: crate::trust::ChatParty::parse(&sender).ok_or_else(|| corrupt("order_messages.sender"))?,
        sender_id: r.at::<Option<i64>>(3)?.map(UserId),
        body: r.at(4)?,
        hits_json: r.at(5)?,
        created_at: Timestamp(r.at(6)?),
    })
}

pub(crate) const RISK_COLS: &str = "id, kind, shop_id, user_id, order_id, message_id, rules, state, review_note, \
     reviewed_by, reviewed_at, created_at";

pub(crate) fn risk_from_row<R: ColumnAt>(r: &R) -> StoreResult<crate::trust::RiskEvent> {
    Ok(crate::trust::RiskEvent {
        id: r.at(0)?,
        kind: r.at(1)?,
        shop_id: r.at::<Option<i64>>(2)?.map(ShopId),
        user_id: r.at::<Option<i64>>(3)?.map(UserId),
        order_id: r.at::<Option<i64>>(4)?.map(kabao_core::ledger::OrderId),
        message_id: r.at(5)?,
        rules_json: r.at(6)?,
        state: r.at(7)?,
        review_note: r.at(8)?,
        reviewed_by: r.at::<Option<i64>>(9)?.map(UserId),
        reviewed_at: r.at::<Option<i64>>(10)?.map(Timestamp),
        created_at: Timestamp(r.at(11)?),
    })
}

/// Ratings summed per category, as `SELECT category, SUM(described), SUM(service), SUM(delivery), COUNT(*)`
/// returns them.
pub(crate) type RatingSumsRow = (String, i64, i64, i64, i64);

pub(crate) fn rating_sums(r: RatingSumsRow) -> crate::trust::RatingSums {
    crate::trust::RatingSums { category: r.0, described: r.1, service: r.2, delivery: r.3, count: r.4 }
}

pub(crate) const IDEMPOTENCY_COLS: &str =
    "scope, key, fingerprint, runner, lease_until, status, body, key_version, created_at, completed_at";

pub(crate) fn idempotency_from_row<R: ColumnAt>(r: &R) -> StoreResult<crate::commerce::IdempotencyRecord> {
    let status: Option<i32> = r.at(5)?;
    let body: Option<Vec<u8>> = r.at(6)?;
    let key_version: Option<i32> = r.at(7)?;
    let response = match (status, body, key_version) {
        (Some(status), Some(body), Some(key_version)) => Some(crate::commerce::StoredResponse {
            status: u16::try_from(status).map_err(|_| corrupt("idempotency_records.status"))?,
            body,
            key_version,
        }),
        (None, None, None) => None,
        _ => return Err(corrupt("idempotency_records.response")),
    };
    Ok(crate::commerce::IdempotencyRecord {
        scope: r.at(0)?,
        key: r.at(1)?,
        fingerprint: r.at(2)?,
        runner: r.at(3)?,
        lease_until: Timestamp(r.at(4)?),
        response,
        created_at: Timestamp(r.at(8)?),
        completed_at: r.at::<Option<i64>>(9)?.map(Timestamp),
    })
}

pub(crate) const SECURITY_COLS: &str = "id, kind, order_id, detail, created_at";

pub(crate) fn security_from_row<R: ColumnAt>(r: &R) -> StoreResult<crate::trust::SecurityEvent> {
    Ok(crate::trust::SecurityEvent {
        id: r.at(0)?,
        kind: r.at(1)?,
        order_id: r.at::<Option<i64>>(2)?.map(kabao_core::ledger::OrderId),
        detail_json: r.at(3)?,
        created_at: Timestamp(r.at(4)?),
    })
}

// ---- webhooks ----

pub(crate) const WEBHOOK_ENDPOINT_COLS: &str =
    "id, shop_id, url, events, secret_sealed, secret_version, created_at, disabled_at";

pub(crate) type WebhookEndpointRow = (i64, i64, String, String, Vec<u8>, i32, i64, Option<i64>);

/// Event kinds as stored: their names, comma-separated.
pub(crate) fn webhook_events_text(events: &[kabao_core::webhook::EventKind]) -> String {
    events.iter().map(|k| k.as_str()).collect::<Vec<_>>().join(",")
}

pub(crate) fn webhook_endpoint(r: WebhookEndpointRow) -> StoreResult<crate::WebhookEndpointRecord> {
    let events =
        r.3.split(',')
            .map(|s| kabao_core::webhook::EventKind::parse(s).ok_or_else(|| corrupt("webhook_endpoints.events")))
            .collect::<StoreResult<Vec<_>>>()?;
    Ok(crate::WebhookEndpointRecord {
        id: r.0,
        shop_id: ShopId(r.1),
        url: r.2,
        events,
        secret_sealed: r.4,
        secret_version: r.5,
        created_at: Timestamp(r.6),
        disabled_at: r.7.map(Timestamp),
    })
}

pub(crate) const WEBHOOK_DELIVERY_COLS: &str =
    "id, endpoint_id, shop_id, event_id, kind, subject, body, state, attempts, next_attempt_at, last_attempt_at, \
     last_status, last_response, last_error, created_at";

pub(crate) type WebhookDeliveryRow = (
    i64,
    i64,
    i64,
    String,
    String,
    Option<String>,
    String,
    String,
    i32,
    i64,
    Option<i64>,
    Option<i32>,
    Option<String>,
    Option<String>,
    i64,
);

pub(crate) fn webhook_delivery(r: WebhookDeliveryRow) -> StoreResult<crate::WebhookDeliveryRecord> {
    Ok(crate::WebhookDeliveryRecord {
        id: r.0,
        endpoint_id: r.1,
        shop_id: ShopId(r.2),
        event_id: r.3,
        kind: kabao_core::webhook::EventKind::parse(&r.4).ok_or_else(|| corrupt("webhook_deliveries.kind"))?,
        subject: r.5,
        body: r.6,
        state: crate::DeliveryState::parse(&r.7).ok_or_else(|| corrupt("webhook_deliveries.state"))?,
        attempts: r.8,
        next_attempt_at: Timestamp(r.9),
        last_attempt_at: r.10.map(Timestamp),
        last_status: r.11,
        last_response: r.12,
        last_error: r.13,
        created_at: Timestamp(r.14),
    })
}

pub(crate) const GATEWAY_REFUND_COLS: &str =
    "id, refund_no, order_id, payment_id, gateway, amount_fen, reason, state, \
     attempts, next_attempt_at, last_error, gateway_refund_no, outcome_note, created_at, decided_at";

#[allow(clippy::type_complexity)]
pub(crate) type GatewayRefundRow = (
    i64,
    String,
    i64,
    i64,
    String,
    i64,
    String,
    String,
    i64,
    i64,
    Option<String>,
    Option<String>,
    Option<String>,
    i64,
    Option<i64>,
);

pub(crate) fn gateway_refund(r: GatewayRefundRow) -> StoreResult<crate::GatewayRefund> {
    Ok(crate::GatewayRefund {
        id: r.0,
        refund_no: r.1,
        order_id: kabao_core::ledger::OrderId(r.2),
        payment_id: r.3,
        gateway: r.4,
        amount: kabao_core::Money::from_fen(r.5),
        reason: r.6,
        state: crate::GatewayRefundState::parse(&r.7).ok_or_else(|| corrupt("gateway_refunds.state"))?,
        attempts: r.8,
        next_attempt_at: kabao_core::Timestamp(r.9),
        last_error: r.10,
        gateway_refund_no: r.11,
        outcome_note: r.12,
        created_at: kabao_core::Timestamp(r.13),
        decided_at: r.14.map(kabao_core::Timestamp),
    })
}
