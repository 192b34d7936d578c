//! Signed HTTP bodies: the signature Kabao puts on what it sends to other people's servers (merchant webhooks,
//! verifier requests), and the check the receiver runs.
//!
//! The header is `Kabao-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>`, where the MAC is taken with the
//! endpoint's secret over the bytes `"<t>."` followed by the exact body. A receiver recomputes it, compares in
//! constant time and refuses a timestamp more than [`REPLAY_WINDOW_SECONDS`] away from its own clock, so a
//! captured delivery cannot be replayed later. Several `v1=` values may appear (one per secret while a secret is
//! being rotated); one match is enough.

use crate::payments::sandbox_sign;
use subtle::ConstantTimeEq;

/// The header that carries the signature.
pub const HEADER: &str = "Kabao-Signature";
/// How far (either way) a signed timestamp may be from the receiver's clock.
pub const REPLAY_WINDOW_SECONDS: i64 = 300;

/// The header value for `body` sent at `timestamp` (unix seconds). The MAC is the sandbox gateway's
/// (hex HMAC-SHA256 over `"{timestamp}.{body}"`), so there is one implementation of it.
pub fn sign(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    format!("t={timestamp},v1={}", sandbox_sign(secret, timestamp, body))
}

/// Why a signature was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the signature header is malformed")]
    Malformed,
    #[error("the signed timestamp is outside the replay window")]
    Stale,
    #[error("the signature does not match the body")]
    Mismatch,
}

/// Checks a header value against `body` at the receiver's time `now` (unix seconds).
pub fn verify(secret: &[u8], header: &str, body: &[u8], now: i64) -> Result<(), SignatureError> {
    let mut timestamp = None;
    let mut tags = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", t)) => timestamp = Some(t.parse::<i64>().map_err(|_| SignatureError::Malformed)?),
            Some(("v1", v)) if !v.is_empty() && v.bytes().all(|b| b.is_ascii_hexdigit()) => {
                tags.push(v.to_ascii_lowercase())
            }
            Some(("v1", _)) => return Err(SignatureError::Malformed),
            Some(_) => {}
            None => return Err(SignatureError::Malformed),
        }
    }
    let timestamp = timestamp.ok_or(SignatureError::Malformed)?;
    if tags.is_empty() {
        return Err(SignatureError::Malformed);
    }
    if now.abs_diff(timestamp) > REPLAY_WINDOW_SECONDS.unsigned_abs() {
        return Err(SignatureError::Stale);
    }
    let expected = sandbox_sign(secret, timestamp, body);
    // Every tag is compared (constant time each), so the time taken does not say which one matched.
    let matched = tags.iter().fold(0u8, |any, tag| any | expected.as_bytes().ct_eq(tag.as_bytes()).unwrap_u8());
    if matched == 1 {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_known_vector() {
        // Computed independently: printf '1700000000.{"a":1}' | openssl dgst -sha256 -hmac whsec_test
        let header = sign(b"whsec_test", 1_700_000_000, br#"{"a":1}"#);
        assert_eq!(header, "t=1700000000,v1=38877139021993b830af32feea6e18a8da83eb2f6e49ee50bd9e4cf4ca4d3789");
        assert_eq!(verify(b"whsec_test", &header, br#"{"a":1}"#, 1_700_000_000), Ok(()));
    }

    #[test]
    fn a_changed_body_a_wrong_secret_or_a_stale_time_is_refused() {
        let header = sign(b"s", 100, b"body");
        assert_eq!(verify(b"s", &header, b"bodY", 100), Err(SignatureError::Mismatch));
        assert_eq!(verify(b"t", &header, b"body", 100), Err(SignatureError::Mismatch));
        assert_eq!(verify(b"s", &header, b"body", 100 + REPLAY_WINDOW_SECONDS), Ok(()));
        assert_eq!(verify(b"s", &header, b"body", 101 + REPLAY_WINDOW_SECONDS), Err(SignatureError::Stale));
        assert_eq!(verify(b"s", &header, b"body", 99 - REPLAY_WINDOW_SECONDS), Err(SignatureError::Stale));
    }

    #[test]
    fn malformed_headers_are_refused() {
        for h in ["", "t=1", "v1=00", "t=x,v1=00", "t=1,v1=zz", "garbage"] {
            assert_eq!(verify(b"s", h, b"", 1), Err(SignatureError::Malformed), "{h}");
        }
    }

    #[test]
    fn one_matching_tag_among_several_is_enough() {
        let good = sign(b"new", 5, b"x");
        let old = sign(b"old", 5, b"x");
        let both = format!("{},{}", old, good.trim_start_matches("t=5,"));
        assert_eq!(verify(b"new", &both, b"x", 5), Ok(()));
    }

    proptest! {
        #[test]
        fn what_is_signed_verifies(secret in proptest::collection::vec(any::<u8>(), 0..64),
                                   body in proptest::collection::vec(any::<u8>(), 0..256),
                                   t in 0i64..4_000_000_000) {
            let header = sign(&secret, t, &body);
            prop_assert_eq!(verify(&secret, &header, &body, t), Ok(()));
        }
    }
}
