//! Encryption of card keys at rest: XChaCha20-Poly1305 under data keys wrapped by a master key.
//! Each ciphertext is bound to its row (shop, product, fingerprint, key version) as associated data,
//! so a ciphertext copied to another row fails to open. Nonces come from the caller's CSPRNG.

use crate::ids::{ProductId, ShopId};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

/// Bytes of a random nonce for XChaCha20-Poly1305.
pub const NONCE_LEN: usize = 24;
/// Bytes of a key (master or data).
pub const KEY_LEN: usize = 32;

/// Keyed fingerprint of a card key within a shop: HMAC-SHA256, so equal keys are found without decrypting,
/// and the fingerprint reveals nothing to whoever reads the database without the key.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Fingerprint(pub [u8; 32]);

impl std::fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Fingerprint({})", hex::encode(&self.0[..6]))
    }
}

/// Why the vault could not do its work. Messages never contain key material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VaultError {
    #[error("master key must be 64 hexadecimal characters (32 bytes)")]
    MasterKeyFormat,
    #[error("a wrapped data key did not open: wrong master key, or the key store was altered")]
    UnwrapFailed,
    #[error("a card key did not open: wrong key, or the ciphertext was altered or moved")]
    OpenFailed,
    #[error("no data key with version {0}")]
    UnknownVersion(i32),
}

/// The master key. It only wraps and unwraps data keys.
pub struct MasterKey(Zeroizing<[u8; KEY_LEN]>);

impl MasterKey {
    pub fn from_bytes(bytes: [u8; KEY_LEN]) -> MasterKey {
        MasterKey(Zeroizing::new(bytes))
    }

    /// Parses 64 hex characters (surrounding whitespace ignored, as in a key file).
    pub fn from_hex(text: &str) -> Result<MasterKey, VaultError> {
        let bytes = Zeroizing::new(hex::decode(text.trim()).map_err(|_| VaultError::MasterKeyFormat)?);
        let arr: [u8; KEY_LEN] = bytes.as_slice().try_into().map_err(|_| VaultError::MasterKeyFormat)?;
        Ok(MasterKey::from_bytes(arr))
    }

    fn aead(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new((&*self.0).into())
    }

    /// Wraps fresh data-key material for storage. `purpose` and `version` are bound as associated data.
    pub fn wrap(&self, purpose: &str, version: i32, material: &[u8; KEY_LEN], nonce: [u8; NONCE_LEN]) -> Vec<u8> {
        seal_with(&self.aead(), wrap_aad(purpose, version).as_bytes(), material, nonce)
    }

    /// Unwraps a stored data key.
    pub fn unwrap_key(
        &self,
        purpose: &str,
        version: i32,
        wrapped: &[u8],
    ) -> Result<Zeroizing<[u8; KEY_LEN]>, VaultError> {
        let plain = open_with(&self.aead(), wrap_aad(purpose, version).as_bytes(), wrapped)
            .map_err(|_| VaultError::UnwrapFailed)?;
        let arr: [u8; KEY_LEN] = plain.as_slice().try_into().map_err(|_| VaultError::UnwrapFailed)?;
        Ok(Zeroizing::new(arr))
    }
}

fn wrap_aad(purpose: &str, version: i32) -> String {
    format!("kabao.data_key.v1|{purpose}|{version}")
}

fn seal_with(aead: &XChaCha20Poly1305, aad: &[u8], plaintext: &[u8], nonce: [u8; NONCE_LEN]) -> Vec<u8> {
    let n = XNonce::from(nonce);
    // Encryption with a valid key and in-memory buffers cannot fail; an empty result would fail to open later.
    let ct = aead.encrypt(&n, Payload { msg: plaintext, aad }).unwrap_or_default();
    let mut out = Vec::with_capacity(NONCE_LEN + ct.len());
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&ct);
    out
}

fn open_with(aead: &XChaCha20Poly1305, aad: &[u8], sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, VaultError> {
    if sealed.len() < NONCE_LEN + 16 {
        return Err(VaultError::OpenFailed);
    }
    let (nonce, ct) = sealed.split_at(NONCE_LEN);
    let n = XNonce::from_slice(nonce);
    aead.decrypt(n, Payload { msg: ct, aad }).map(Zeroizing::new).map_err(|_| VaultError::OpenFailed)
}

/// Purposes of data keys in the key store.
pub const PURPOSE_CARD_KEY: &str = "card_key";
pub const PURPOSE_FINGERPRINT: &str = "fingerprint";

/// Which row a card-key ciphertext belongs to.
#[derive(Debug, Clone, Copy)]
pub struct CardKeyAad<'a> {
    pub shop: ShopId,
    pub product: ProductId,
    pub fingerprint: &'a Fingerprint,
    pub key_version: i32,
}

impl CardKeyAad<'_> {
    fn bytes(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(96);
        v.extend_from_slice(b"kabao.card_key.v1|");
        v.extend_from_slice(&self.shop.0.to_be_bytes());
        v.extend_from_slice(&self.product.0.to_be_bytes());
        v.extend_from_slice(&self.fingerprint.0);
        v.extend_from_slice(&self.key_version.to_be_bytes());
        v
    }
}

fn record_aad(context: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(context.len() + 16);
    v.extend_from_slice(b"kabao.record.v1|");
    v.extend_from_slice(context);
    v
}

/// The unwrapped data keys in use: one fingerprint key (never rotated, so duplicates stay detectable)
/// and the card-key encryption key of the current version.
pub struct Keyring {
    fingerprint_key: Zeroizing<[u8; KEY_LEN]>,
    card_keys: Vec<(i32, XChaCha20Poly1305)>,
}

impl Keyring {
    /// Builds a keyring from unwrapped material. `card_keys` lists every version; the highest is current.
    pub fn new(fingerprint_key: Zeroizing<[u8; KEY_LEN]>, card_keys: Vec<(i32, Zeroizing<[u8; KEY_LEN]>)>) -> Keyring {
        let mut card_keys: Vec<(i32, XChaCha20Poly1305)> =
            card_keys.into_iter().map(|(v, k)| (v, XChaCha20Poly1305::new((&*k).into()))).collect();
        card_keys.sort_by_key(|(v, _)| *v);
        Keyring { fingerprint_key, card_keys }
    }

    /// The version new keys are sealed under.
    pub fn current_version(&self) -> Option<i32> {
        self.card_keys.last().map(|(v, _)| *v)
    }

    /// A 256-bit key for `purpose` (signing sign-up challenges, …), derived from the fingerprint key, so it is
    /// the same on every instance and after every restart without being stored.
    pub fn derived_key(&self, purpose: &str) -> Zeroizing<[u8; KEY_LEN]> {
        let mut out = Zeroizing::new([0u8; KEY_LEN]);
        if let Ok(mut mac) = <Hmac<Sha256> as Mac>::new_from_slice(&*self.fingerprint_key) {
            mac.update(b"kabao.derive.v1|");
            mac.update(purpose.as_bytes());
            out.copy_from_slice(&mac.finalize().into_bytes());
        }
        out
    }

    /// Fingerprint of a key's canonical text within a shop.
    pub fn fingerprint(&self, shop: ShopId, canonical: &str) -> Fingerprint {
        // HMAC accepts keys of any length, so construction cannot fail.
        let Ok(mut mac) = <Hmac<Sha256> as Mac>::new_from_slice(&*self.fingerprint_key) else {
            return Fingerprint([0; 32]);
        };
        mac.update(&shop.0.to_be_bytes());
        mac.update(canonical.as_bytes());
        Fingerprint(mac.finalize().into_bytes().into())
    }

    /// Seals a key's canonical text under the current version. Returns `(version, nonce ‖ ciphertext)`.
    pub fn seal(
        &self,
        shop: ShopId,
        product: ProductId,
        fingerprint: &Fingerprint,
        canonical: &str,
        nonce: [u8; NONCE_LEN],
    ) -> Result<(i32, Vec<u8>), VaultError> {
        let Some((version, aead)) = self.card_keys.last() else {
            return Err(VaultError::UnknownVersion(0));
        };
        let aad = CardKeyAad { shop, product, fingerprint, key_version: *version }.bytes();
        Ok((*version, seal_with(aead, &aad, canonical.as_bytes(), nonce)))
    }

    /// Opens a stored key for its owner. Fails if any part of the row's identity differs from sealing time.
    pub fn open(&self, aad: CardKeyAad<'_>, sealed: &[u8]) -> Result<Zeroizing<String>, VaultError> {
        let aead = self
            .card_keys
            .iter()
            .find(|(v, _)| *v == aad.key_version)
            .map(|(_, a)| a)
            .ok_or(VaultError::UnknownVersion(aad.key_version))?;
        let plain = open_with(aead, &aad.bytes(), sealed)?;
        String::from_utf8(plain.to_vec()).map(Zeroizing::new).map_err(|_| VaultError::OpenFailed)
    }

    /// Seals a stored record that may carry a key in clear (an idempotent request's response), under the current
    /// card-key data key. `context` names the record (its table and identity) and is the associated data, so a
    /// sealed record copied to another row does not open; the `kabao.record.v1|` prefix keeps it apart from keys.
    pub fn seal_record(
        &self,
        context: &[u8],
        plain: &[u8],
        nonce: [u8; NONCE_LEN],
    ) -> Result<(i32, Vec<u8>), VaultError> {
        let Some((version, aead)) = self.card_keys.last() else {
            return Err(VaultError::UnknownVersion(0));
        };
        Ok((*version, seal_with(aead, &record_aad(context), plain, nonce)))
    }

    /// Opens a record sealed by [`Keyring::seal_record`] with the same context.
    pub fn open_record(&self, version: i32, context: &[u8], sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, VaultError> {
        let aead = self
            .card_keys
            .iter()
            .find(|(v, _)| *v == version)
            .map(|(_, a)| a)
            .ok_or(VaultError::UnknownVersion(version))?;
        open_with(aead, &record_aad(context), sealed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keyring() -> Keyring {
        Keyring::new(Zeroizing::new([7; 32]), vec![(1, Zeroizing::new([9; 32]))])
    }

    #[test]
    fn sealed_records_open_only_under_their_own_context() {
        let k = keyring();
        let (v, sealed) = k.seal_record(b"idempotency|user:1|k", b"{\"new_key\":\"K\"}", [3; NONCE_LEN]).unwrap();
        assert_eq!(k.open_record(v, b"idempotency|user:1|k", &sealed).unwrap().as_slice(), b"{\"new_key\":\"K\"}");
        assert!(k.open_record(v, b"idempotency|user:2|k", &sealed).is_err(), "another row's context");
        assert!(k.open_record(v + 1, b"idempotency|user:1|k", &sealed).is_err(), "unknown version");
    }

    #[test]
    fn seal_then_open_round_trips() {
        let k = keyring();
        let fp = k.fingerprint(ShopId(1), "ABC-123");
        let (v, sealed) =
            k.seal(ShopId(1), ProductId(2), &fp, "ABC-123", [1; 24]).map_err(|e| e.to_string()).unwrap_or_default();
        assert_eq!(v, 1);
        assert!(!sealed.windows(7).any(|w| w == b"ABC-123"), "ciphertext must not contain the key");
        let opened =
            k.open(CardKeyAad { shop: ShopId(1), product: ProductId(2), fingerprint: &fp, key_version: 1 }, &sealed);
        assert_eq!(opened.map(|s| s.to_string()), Ok("ABC-123".to_string()));
    }

    #[test]
    fn ciphertext_moved_to_another_row_fails() {
        let k = keyring();
        let fp = k.fingerprint(ShopId(1), "ABC-123");
        let (_, sealed) =
            k.seal(ShopId(1), ProductId(2), &fp, "ABC-123", [1; 24]).map_err(|e| e.to_string()).unwrap_or_default();
        let other_product = CardKeyAad { shop: ShopId(1), product: ProductId(3), fingerprint: &fp, key_version: 1 };
        assert_eq!(k.open(other_product, &sealed), Err(VaultError::OpenFailed));
        let mut tampered = sealed.clone();
        if let Some(b) = tampered.last_mut() {
            *b ^= 1;
        }
        let aad = CardKeyAad { shop: ShopId(1), product: ProductId(2), fingerprint: &fp, key_version: 1 };
        assert_eq!(k.open(aad, &tampered), Err(VaultError::OpenFailed));
    }

    #[test]
    fn fingerprints_are_per_shop_and_keyed() {
        let k = keyring();
        assert_eq!(k.fingerprint(ShopId(1), "X"), k.fingerprint(ShopId(1), "X"));
        assert_ne!(k.fingerprint(ShopId(1), "X"), k.fingerprint(ShopId(2), "X"));
        let other = Keyring::new(Zeroizing::new([8; 32]), vec![]);
        assert_ne!(k.fingerprint(ShopId(1), "X"), other.fingerprint(ShopId(1), "X"));
    }

    #[test]
    fn master_key_wraps_data_keys() {
        let m = MasterKey::from_hex(&"ab".repeat(32)).map_err(|e| e.to_string());
        let Ok(m) = m else { panic!("valid hex") };
        let wrapped = m.wrap(PURPOSE_CARD_KEY, 1, &[5; 32], [2; 24]);
        assert_eq!(m.unwrap_key(PURPOSE_CARD_KEY, 1, &wrapped).map(|k| *k), Ok([5; 32]));
        assert_eq!(m.unwrap_key(PURPOSE_CARD_KEY, 2, &wrapped).map(|k| *k), Err(VaultError::UnwrapFailed));
        let Ok(wrong) = MasterKey::from_hex(&"cd".repeat(32)) else { panic!("valid hex") };
        assert!(wrong.unwrap_key(PURPOSE_CARD_KEY, 1, &wrapped).is_err());
        assert!(MasterKey::from_hex("abc").is_err());
    }
}
