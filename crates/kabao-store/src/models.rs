//! Rows as the store returns them and inputs as it takes them. Plain data; the rules live in `kabao-core`.

use kabao_core::catalog::{Category, CertificationLevel, GoodsKind};
use kabao_core::user::Role;
use kabao_core::vault::Fingerprint;
use kabao_core::{ApiTokenId, BatchId, CardKeyId, Money, ProductId, ShopId, Timestamp, UserId};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUser {
    pub username: String,
    pub email: Option<String>,
    pub password_hash: String,
    pub role: Role,
    pub created_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: UserId,
    pub username: String,
    pub email: Option<String>,
    pub password_hash: String,
    pub role: Role,
    pub created_at: Timestamp,
    /// The account has a confirmed TOTP second factor (a row in `totp_credentials`).
    pub totp_enabled: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// SHA-256 of the cookie value; the value itself is never stored.
    pub token_hash: Vec<u8>,
    pub user_id: UserId,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    /// The client's address when the session began, if known.
    pub ip: Option<String>,
    /// The browser's `User-Agent` when the session began (at most 200 characters), if sent.
    pub user_agent: Option<String>,
    /// When a request last used the session (updated at most every few minutes).
    pub last_seen_at: Timestamp,
}

/// A TOTP secret sealed by the keyring (`key_version` names the data key), confirmed or pending.
#[derive(Clone, PartialEq, Eq)]
pub struct SealedTotp {
    pub user_id: UserId,
    pub key_version: i32,
    pub secret_sealed: Vec<u8>,
    /// Confirmed: when it was turned on; pending: when enrolment began.
    pub at: Timestamp,
}

impl std::fmt::Debug for SealedTotp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SealedTotp(user {}, v{}, {} bytes)", self.user_id, self.key_version, self.secret_sealed.len())
    }
}

/// A confirmed second factor: the sealed secret and the last time step a code was accepted for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TotpCredential {
    pub sealed: SealedTotp,
    pub last_step: i64,
}

/// The pending second step of a login (only the token's SHA-256 is stored).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginChallenge {
    pub token_hash: Vec<u8>,
    pub user_id: UserId,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    /// Wrong codes given so far.
    pub failures: i32,
    pub used_at: Option<Timestamp>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewApiToken {
    pub user_id: UserId,
    pub name: String,
    /// First characters of the token, shown in lists so a merchant can tell tokens apart.
    pub prefix: String,
    pub token_hash: Vec<u8>,
    pub created_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiToken {
    pub id: ApiTokenId,
    pub user_id: UserId,
    pub name: String,
    pub prefix: String,
    pub created_at: Timestamp,
    pub revoked_at: Option<Timestamp>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewShop {
    pub owner_id: UserId,
    pub name: String,
    pub description: String,
    pub opened_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shop {
    pub id: ShopId,
    pub owner_id: UserId,
    pub name: String,
    pub description: String,
    pub opened_at: Timestamp,
    pub certification: CertificationLevel,
    pub suspended: bool,
    pub suspended_reason: Option<String>,
    /// The risk rules (ids such as `contact.wechat`) its name or description is held for review under; empty
    /// when it is not held. A held shop's products are out of the catalog until an admin dismisses the events.
    pub held_rules: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Product {
    pub id: ProductId,
    pub shop_id: ShopId,
    pub title: String,
    pub description: String,
    pub category: Category,
    pub kind: GoodsKind,
    pub price: Money,
    pub max_per_order: i64,
    pub trial: bool,
    pub listed: bool,
    /// Keys in state `available`, kept exact by the store in the same transaction as every change.
    pub stock_available: i64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// The summary of the product's current warranty policy (`None`: 无质保), read in the same query as the
    /// product, so a listing of many products stays one query.
    pub warranty: Option<kabao_core::warranty::WarrantySummary>,
    /// The risk rules its texts are held for review under (not listed though its merchant listed it); empty
    /// when it is not held.
    pub held_rules: Vec<String>,
}

/// A listed product with what a buyer sees of its shop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listing {
    pub product: Product,
    pub shop_name: String,
    pub shop_certification: CertificationLevel,
    pub shop_opened_at: Timestamp,
}

/// What a catalog page asks for: an optional search and category, a sort, where the page starts, how many.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListingQuery {
    pub terms: Option<kabao_core::search::SearchTerms>,
    pub category: Option<kabao_core::catalog::Category>,
    pub sort: kabao_core::search::ListingSort,
    pub after: Option<kabao_core::search::Cursor>,
    pub limit: i64,
}

/// A listing in a catalog page, with its units sold and the key of its sort (a cursor is this key and its id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogRow {
    pub listing: Listing,
    pub sales_count: i64,
    pub sort_key: i64,
    /// For a listing with listed variants, the lowest of their prices ("¥x 起"): what the price sort orders it
    /// by. None for a product sold as it is (its own price).
    pub from_price: Option<kabao_core::Money>,
}

impl CatalogRow {
    pub fn cursor(&self) -> kabao_core::search::Cursor {
        kabao_core::search::Cursor { key: self.sort_key, id: self.listing.product.id.0 }
    }
}

/// What a page needs to show a stored picture: its address parts and size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaMeta {
    /// Hex SHA-256 of the stored (re-encoded) bytes.
    pub hash: String,
    pub mime: String,
    pub width: i64,
    pub height: i64,
}

impl MediaMeta {
    /// The file extension its address ends with.
    pub fn ext(&self) -> &'static str {
        match self.mime.as_str() {
            "image/png" => "png",
            "image/webp" => "webp",
            _ => "jpg",
        }
    }
}

/// A stored picture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Media {
    pub meta: MediaMeta,
    pub bytes: Vec<u8>,
    pub created_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewBatch {
    pub shop_id: ShopId,
    pub product_id: ProductId,
    pub created_by: UserId,
    pub created_at: Timestamp,
    /// Where the batch came from: `"upload"`, `"api"` or `"cli"`.
    pub source: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch {
    pub id: BatchId,
    pub shop_id: ShopId,
    pub product_id: ProductId,
    pub created_by: UserId,
    pub created_at: Timestamp,
    pub source: String,
    pub voided_at: Option<Timestamp>,
    pub available: i64,
    pub sold: i64,
    pub voided: i64,
}

/// State of a card key: `available → sold → voided`, or `available → voided`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyState {
    Available,
    Sold,
    Voided,
}

impl KeyState {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyState::Available => "available",
            KeyState::Sold => "sold",
            KeyState::Voided => "voided",
        }
    }
    pub fn parse(s: &str) -> Option<KeyState> {
        match s {
            "available" => Some(KeyState::Available),
            "sold" => Some(KeyState::Sold),
            "voided" => Some(KeyState::Voided),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCardKey {
    pub shop_id: ShopId,
    pub product_id: ProductId,
    pub batch_id: BatchId,
    pub fingerprint: Fingerprint,
    /// `nonce ‖ ciphertext` from [`kabao_core::vault::Keyring::seal`].
    pub ciphertext: Vec<u8>,
    pub key_version: i32,
    pub created_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardKey {
    pub id: CardKeyId,
    pub shop_id: ShopId,
    pub product_id: ProductId,
    pub batch_id: BatchId,
    pub fingerprint: Fingerprint,
    pub ciphertext: Vec<u8>,
    pub key_version: i32,
    pub state: KeyState,
    pub created_at: Timestamp,
}

/// A data key wrapped by the master key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataKeyRecord {
    pub purpose: String,
    pub version: i32,
    pub wrapped: Vec<u8>,
    pub created_at: Timestamp,
}

/// One version of a product's warranty policy (补单规则), immutable once written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyVersion {
    pub id: i64,
    pub product_id: ProductId,
    pub version: i32,
    /// `kabao_core::warranty::WarrantyPolicy` as JSON.
    pub policy: String,
    pub sha256: Vec<u8>,
    pub created_at: Timestamp,
}
