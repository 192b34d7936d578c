//! Sign-up proof of work (issue 21): a stateless challenge the server signs, which a client answers by finding
//! a nonce such that SHA-256(challenge ‖ nonce) starts with `difficulty` zero bits. Pure: the caller supplies
//! the key, the clock and the randomness.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Challenges are valid this long after they are issued.
pub const CHALLENGE_TTL_S: i64 = 600;
/// No client is asked for more than this many leading zero bits (≈ 2^24 hashes, tens of seconds in a browser).
pub const MAX_DIFFICULTY: u8 = 24;

/// Why an answer to a challenge was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PowError {
    /// Not a challenge this server signed (or altered since).
    Malformed,
    Expired,
    /// Signed for another client address.
    WrongClient,
    /// The hash of challenge and nonce does not have enough leading zero bits.
    NotSolved,
}

/// A challenge as issued: the text the client hashes, its difficulty and expiry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    pub text: String,
    pub difficulty: u8,
    pub expires_at_ms: i64,
}

fn mac(key: &[u8; 32], body: &str) -> Vec<u8> {
    // HMAC accepts keys of any length, so construction cannot fail.
    match <Hmac<Sha256> as Mac>::new_from_slice(key) {
        Ok(mut m) => {
            m.update(b"kabao.pow.v1|");
            m.update(body.as_bytes());
            m.finalize().into_bytes().to_vec()
        }
        Err(_) => Vec::new(),
    }
}

/// The client address as written into a challenge (`-` when unknown).
fn client_label(client: Option<&str>) -> String {
    client.unwrap_or("-").replace('_', "")
}

/// Issues a challenge for `client` (its IP address as text), valid until `now_ms + CHALLENGE_TTL_S`.
pub fn issue(key: &[u8; 32], client: Option<&str>, now_ms: i64, difficulty: u8, salt: [u8; 16]) -> Challenge {
    let difficulty = difficulty.min(MAX_DIFFICULTY);
    let expires_at_ms = now_ms + CHALLENGE_TTL_S * 1000;
    let body = format!("{expires_at_ms}_{difficulty}_{}_{}", hex::encode(salt), client_label(client));
    let text = format!("{body}_{}", hex::encode(mac(key, &body)));
    Challenge { text, difficulty, expires_at_ms }
}

/// How many leading zero bits a digest has.
pub fn leading_zero_bits(digest: &[u8]) -> u32 {
    let mut n = 0;
    for b in digest {
        if *b == 0 {
            n += 8;
        } else {
            return n + b.leading_zeros();
        }
    }
    n
}

/// SHA-256 of the challenge text followed by the nonce text.
pub fn digest(challenge: &str, nonce: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(challenge.as_bytes());
    h.update(nonce.as_bytes());
    h.finalize().into()
}

/// Checks an answer: the challenge is ours, unexpired, for this client, and the nonce solves it. Returns the
/// challenge's expiry (to remember it as used until then).
pub fn verify(
    key: &[u8; 32],
    text: &str,
    nonce: &str,
    client: Option<&str>,
    now_ms: i64,
) -> Result<Challenge, PowError> {
    let (body, tag) = text.rsplit_once('_').ok_or(PowError::Malformed)?;
    let tag = hex::decode(tag).map_err(|_| PowError::Malformed)?;
    if !bool::from(mac(key, body).as_slice().ct_eq(tag.as_slice())) || nonce.len() > 64 {
        return Err(PowError::Malformed);
    }
    let mut parts = body.splitn(4, '_');
    let expires_at_ms: i64 = parts.next().and_then(|p| p.parse().ok()).ok_or(PowError::Malformed)?;
    let difficulty: u8 = parts.next().and_then(|p| p.parse().ok()).ok_or(PowError::Malformed)?;
    let _salt = parts.next().ok_or(PowError::Malformed)?;
    let who = parts.next().ok_or(PowError::Malformed)?;
    if now_ms >= expires_at_ms {
        return Err(PowError::Expired);
    }
    if who != client_label(client) {
        return Err(PowError::WrongClient);
    }
    if leading_zero_bits(&digest(text, nonce)) < u32::from(difficulty) {
        return Err(PowError::NotSolved);
    }
    Ok(Challenge { text: text.to_string(), difficulty, expires_at_ms })
}

/// Finds a nonce (decimal) for a challenge: what `/static/pow.js` does in the browser, for tests and tools.
pub fn solve(text: &str, difficulty: u8) -> String {
    let mut n: u64 = 0;
    loop {
        let nonce = n.to_string();
        if leading_zero_bits(&digest(text, &nonce)) >= u32::from(difficulty) {
            return nonce;
        }
        n += 1;
    }
}

/// The difficulty for a client that signed up `recent` times in the last hour: `base` bits, `step` more for
/// each recent sign-up (one bit doubles the expected work), at most [`MAX_DIFFICULTY`].
pub fn difficulty_for(base: u8, step: u8, recent: u32) -> u8 {
    let extra = recent.saturating_mul(u32::from(step)).min(u32::from(MAX_DIFFICULTY));
    u8::try_from((u32::from(base) + extra).min(u32::from(MAX_DIFFICULTY))).unwrap_or(MAX_DIFFICULTY)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: [u8; 32] = [5; 32];

    #[test]
    fn leading_zero_bits_counts_across_bytes() {
        assert_eq!(leading_zero_bits(&[0, 0, 0x80]), 16);
        assert_eq!(leading_zero_bits(&[0, 0x0f]), 12);
        assert_eq!(leading_zero_bits(&[0xff]), 0);
        assert_eq!(leading_zero_bits(&[0, 0]), 16);
    }

    #[test]
    fn a_solved_challenge_verifies_only_for_its_client_and_before_expiry() {
        let c = issue(&KEY, Some("203.0.113.9"), 1_000, 8, [1; 16]);
        let nonce = solve(&c.text, c.difficulty);
        assert!(leading_zero_bits(&digest(&c.text, &nonce)) >= 8);
        assert_eq!(verify(&KEY, &c.text, &nonce, Some("203.0.113.9"), 2_000).map(|c| c.difficulty), Ok(8));
        assert_eq!(verify(&KEY, &c.text, &nonce, Some("203.0.113.10"), 2_000), Err(PowError::WrongClient));
        assert_eq!(verify(&KEY, &c.text, &nonce, Some("203.0.113.9"), c.expires_at_ms), Err(PowError::Expired));
        assert_eq!(verify(&[6; 32], &c.text, &nonce, Some("203.0.113.9"), 2_000), Err(PowError::Malformed));
        let easier = c.text.replacen("_8_", "_1_", 1);
        assert_eq!(verify(&KEY, &easier, &nonce, Some("203.0.113.9"), 2_000), Err(PowError::Malformed));
        let wrong = (0..).map(|n: u32| n.to_string()).find(|n| leading_zero_bits(&digest(&c.text, n)) < 8).unwrap();
        assert_eq!(verify(&KEY, &c.text, &wrong, Some("203.0.113.9"), 2_000), Err(PowError::NotSolved));
        assert_eq!(verify(&KEY, "garbage", "1", None, 0), Err(PowError::Malformed));
    }

    #[test]
    fn difficulty_grows_with_recent_sign_ups_up_to_the_cap() {
        assert_eq!(difficulty_for(12, 2, 0), 12);
        assert_eq!(difficulty_for(12, 2, 3), 18);
        assert_eq!(difficulty_for(12, 1, 3), 15);
        assert_eq!(difficulty_for(12, 2, 100), MAX_DIFFICULTY);
        assert_eq!(difficulty_for(30, 1, 0), MAX_DIFFICULTY);
    }
}
