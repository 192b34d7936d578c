//! The second factor's rules (RFC 6238 through the `totp-rs` crate): SHA-1, 6 digits, 30-second steps, one
//! step of clock skew either way, and each time step accepted once; plus the shape of recovery codes. Pure: the
//! secret's bytes and the time come from the caller.

use subtle::ConstantTimeEq;
use totp_rs::{Algorithm, Secret, TOTP};
use zeroize::Zeroizing;

/// Digits of a code.
pub const DIGITS: usize = 6;
/// Seconds of one time step.
pub const STEP_SECONDS: i64 = 30;
/// Steps of clock skew accepted before and after the current one.
pub const SKEW_STEPS: i64 = 1;
/// Bytes of a secret: 160 bits, as RFC 4226 section 4 recommends.
pub const SECRET_BYTES: usize = 20;
/// Recovery codes made at once.
pub const RECOVERY_CODES: usize = 10;
/// Random bytes in a recovery code: 80 bits, written as 16 base32 characters.
pub const RECOVERY_CODE_BYTES: usize = 10;
/// The issuer named in authenticator apps.
pub const ISSUER: &str = "Kabao";

/// A TOTP secret (never logged: its `Debug` is redacted).
#[derive(Clone)]
pub struct TotpSecret(Zeroizing<Vec<u8>>);

impl std::fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TotpSecret(..)")
    }
}

/// A `totp-rs` TOTP whose copy of the secret is wiped when dropped (the crate's own `zeroize` feature would
/// change the `zeroize` crate's features for the whole workspace).
struct WipedTotp(TOTP);

impl Drop for WipedTotp {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.0.secret);
    }
}

/// Why a code was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeRefusal {
    /// Not six digits, or no step in the window gives it.
    Wrong,
    /// Right, but for a step already used (or earlier): a replay.
    Replayed,
}

impl TotpSecret {
    pub fn from_bytes(bytes: Vec<u8>) -> TotpSecret {
        TotpSecret(Zeroizing::new(bytes))
    }

    /// Parses the base32 form (spaces and case ignored), as a person or a test copies it from the page.
    pub fn from_base32(text: &str) -> Option<TotpSecret> {
        let clean: String =
            text.chars().filter(|c| !c.is_whitespace() && *c != '-').map(|c| c.to_ascii_uppercase()).collect();
        let bytes = base32_decode(&clean)?;
        (bytes.len() >= 16).then(|| TotpSecret::from_bytes(bytes))
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The secret in base32 (RFC 4648, no padding), as authenticator apps take it.
    pub fn base32(&self) -> Zeroizing<String> {
        Zeroizing::new(base32_encode(&self.0))
    }

    /// The base32 form in groups of four, for typing by hand.
    pub fn base32_grouped(&self) -> Zeroizing<String> {
        let b = self.base32();
        let groups: Vec<&str> = b.as_bytes().chunks(4).filter_map(|c| std::str::from_utf8(c).ok()).collect();
        Zeroizing::new(groups.join(" "))
    }

    fn totp(&self, account: &str) -> WipedTotp {
        // `new_unchecked`: the length is ours (SECRET_BYTES), and a colon in the label is replaced below.
        WipedTotp(TOTP::new_unchecked(
            Algorithm::SHA1,
            DIGITS,
            SKEW_STEPS as u8,
            STEP_SECONDS as u64,
            self.0.to_vec(),
            Some(ISSUER.to_string()),
            account.replace(':', "_"),
        ))
    }

    /// The `otpauth://totp/Kabao:<account>?secret=…&issuer=Kabao` link that authenticator apps open.
    pub fn otpauth_url(&self, account: &str) -> Zeroizing<String> {
        Zeroizing::new(self.totp(account).0.get_url())
    }

    /// The code of a time step.
    pub fn code_for_step(&self, step: i64) -> String {
        let seconds = u64::try_from(step.max(0)).unwrap_or(0) * STEP_SECONDS as u64;
        self.totp("").0.generate(seconds)
    }

    /// The code at a Unix time in seconds (what an authenticator shows then).
    pub fn code_at(&self, unix_seconds: i64) -> String {
        self.code_for_step(step_of(unix_seconds))
    }

    /// Accepts `code` at `unix_seconds` if it is the code of the current step or of one step either side, and
    /// that step is later than `last_step` (the last one accepted for this secret). Returns the step to record.
    pub fn accept(&self, code: &str, unix_seconds: i64, last_step: Option<i64>) -> Result<i64, CodeRefusal> {
        let code = normalize_code(code).ok_or(CodeRefusal::Wrong)?;
        let now = step_of(unix_seconds);
        let mut replayed = false;
        for step in (now - SKEW_STEPS)..=(now + SKEW_STEPS) {
            if bool::from(self.code_for_step(step).as_bytes().ct_eq(code.as_bytes())) {
                if last_step.is_some_and(|last| step <= last) {
                    replayed = true;
                } else {
                    return Ok(step);
                }
            }
        }
        Err(if replayed { CodeRefusal::Replayed } else { CodeRefusal::Wrong })
    }
}

/// The time step of a Unix time in seconds.
pub fn step_of(unix_seconds: i64) -> i64 {
    unix_seconds.div_euclid(STEP_SECONDS)
}

/// A typed TOTP code without the spaces people put in: exactly six ASCII digits, else `None`.
pub fn normalize_code(input: &str) -> Option<String> {
    let code: String = input.chars().filter(|c| !c.is_whitespace()).collect();
    (code.len() == DIGITS && code.bytes().all(|b| b.is_ascii_digit())).then_some(code)
}

/// Whether what someone typed is meant as a TOTP code (six digits) rather than a recovery code.
pub fn looks_like_totp_code(input: &str) -> bool {
    normalize_code(input).is_some()
}

/// A recovery code as shown once: 16 lowercase base32 characters in four groups (`abcd-efgh-ijkl-mnop`).
pub fn recovery_code_from_bytes(bytes: &[u8; RECOVERY_CODE_BYTES]) -> String {
    let text = base32_encode(bytes).to_ascii_lowercase();
    let groups: Vec<&str> = text.as_bytes().chunks(4).filter_map(|c| std::str::from_utf8(c).ok()).collect();
    groups.join("-")
}

/// A typed recovery code in the one form that is hashed (dashes, spaces and case ignored), or `None` if it
/// cannot be one.
pub fn normalize_recovery_code(input: &str) -> Option<String> {
    let code: String =
        input.chars().filter(|c| !c.is_whitespace() && *c != '-').map(|c| c.to_ascii_lowercase()).collect();
    let ok = code.len() == 16 && code.bytes().all(|b| b.is_ascii_lowercase() || (b'2'..=b'7').contains(&b));
    ok.then_some(code)
}

/// RFC 4648 base32 without padding (the alphabet authenticator apps take), through `totp-rs`.
fn base32_encode(bytes: &[u8]) -> String {
    match Secret::Raw(bytes.to_vec()).to_encoded() {
        Secret::Encoded(ref s) => s.clone(),
        Secret::Raw(_) => String::new(),
    }
}

fn base32_decode(text: &str) -> Option<Vec<u8>> {
    Secret::Encoded(text.to_string()).to_bytes().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rfc_secret() -> TotpSecret {
        // RFC 6238 appendix B's SHA-1 seed.
        TotpSecret::from_bytes(b"12345678901234567890".to_vec())
    }

    #[test]
    fn codes_are_rfc_6238_sha1_six_digits() {
        // Appendix B gives 8 digits; six digits are the last six of them.
        let s = rfc_secret();
        assert_eq!(s.code_at(59), "287082");
        assert_eq!(s.code_at(1_111_111_109), "081804");
        assert_eq!(s.code_at(2_000_000_000), "279037");
    }

    #[test]
    fn the_window_is_one_step_either_side() {
        let s = rfc_secret();
        let now = 1_111_111_109;
        let step = step_of(now);
        assert_eq!(s.accept(&s.code_for_step(step), now, None), Ok(step));
        assert_eq!(s.accept(&s.code_for_step(step - 1), now, None), Ok(step - 1));
        assert_eq!(s.accept(&s.code_for_step(step + 1), now, None), Ok(step + 1));
        assert_eq!(s.accept(&s.code_for_step(step - 2), now, None), Err(CodeRefusal::Wrong));
        assert_eq!(s.accept(&s.code_for_step(step + 2), now, None), Err(CodeRefusal::Wrong));
        assert_eq!(s.accept("12345", now, None), Err(CodeRefusal::Wrong));
        assert_eq!(s.accept("abcdef", now, None), Err(CodeRefusal::Wrong));
        let spaced = format!("{} {}", &s.code_for_step(step)[..3], &s.code_for_step(step)[3..]);
        assert_eq!(s.accept(&spaced, now, None), Ok(step), "spaces are ignored");
    }

    #[test]
    fn a_step_is_accepted_once_and_never_an_earlier_one() {
        let s = rfc_secret();
        let now = 1_111_111_109;
        let step = step_of(now);
        let code = s.code_for_step(step);
        let used = s.accept(&code, now, None).unwrap();
        assert_eq!(s.accept(&code, now, Some(used)), Err(CodeRefusal::Replayed), "the same code again");
        assert_eq!(s.accept(&s.code_for_step(step - 1), now, Some(used)), Err(CodeRefusal::Replayed), "earlier");
        assert_eq!(s.accept(&s.code_for_step(step + 1), now, Some(used)), Ok(step + 1), "a later step is fine");
    }

    #[test]
    fn base32_round_trips_and_matches_rfc_4648() {
        let s = rfc_secret();
        assert_eq!(s.base32().as_str(), "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
        assert_eq!(s.base32_grouped().as_str(), "GEZD GNBV GY3T QOJQ GEZD GNBV GY3T QOJQ");
        let back = TotpSecret::from_base32("gezd gnbv gy3t qojq gezd gnbv gy3t qojq").unwrap();
        assert_eq!(back.as_bytes(), s.as_bytes());
        assert!(TotpSecret::from_base32("GEZD").is_none(), "too short to be a secret");
        assert!(TotpSecret::from_base32("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJ1").is_none(), "1 is not base32");
        let url = s.otpauth_url("alice");
        assert_eq!(url.as_str(), "otpauth://totp/Kabao:alice?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Kabao");
        assert!(format!("{s:?}").find("GEZD").is_none(), "Debug never shows the secret");
    }

    #[test]
    fn recovery_codes_have_one_normal_form() {
        let code = recovery_code_from_bytes(&[0xAB; RECOVERY_CODE_BYTES]);
        assert_eq!(code.len(), 19);
        assert_eq!(code.matches('-').count(), 3);
        let n = normalize_recovery_code(&code).unwrap();
        assert_eq!(normalize_recovery_code(&code.to_uppercase().replace('-', " ")).as_deref(), Some(n.as_str()));
        assert!(normalize_recovery_code("123456").is_none());
        assert!(normalize_recovery_code("abcd-efgh-ijkl-mno1").is_none());
        assert!(looks_like_totp_code("123 456") && !looks_like_totp_code(&code));
    }
}
