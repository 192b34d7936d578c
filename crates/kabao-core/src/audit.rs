//! The audit trail: every state change of an order is an event, and an order's events form a SHA-256 hash
//! chain — `hash = SHA-256(prev_hash ‖ canonical JSON)` — so an edited, removed or reordered event is detected.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The hash before an order's first event.
pub const GENESIS: [u8; 32] = [0; 32];

/// One recorded event, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainedEvent {
    /// 1, 2, 3… within the order.
    pub seq: i64,
    /// What happened: the text of a [`crate::events::EventKind`] (one written by a newer version may be unknown).
    pub kind: String,
    /// Unix milliseconds, from the server's clock.
    pub at_ms: i64,
    /// The event's data as canonical JSON (keys sorted, no whitespace).
    pub body: String,
    pub prev_hash: [u8; 32],
    pub hash: [u8; 32],
}

/// JSON with object keys sorted and no insignificant whitespace, so the same data always hashes the same.
pub fn canonical_json(value: &serde_json::Value) -> String {
    let mut out = Vec::new();
    write_canonical(&mut out, value);
    // Only serde_json's own (UTF-8) output and ASCII punctuation were written.
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// Appends `value` as canonical JSON, straight from the tree: no sorted copy of it is built (this runs for every
/// event, with the single database writer held). Object keys are sorted here, explicitly: serde_json keeps
/// insertion order if any crate in the build enables `preserve_order`. Strings and numbers are written by
/// serde_json itself, so escapes and number formats are exactly serde_json's compact output.
fn write_canonical(out: &mut Vec<u8>, value: &serde_json::Value) {
    match value {
        serde_json::Value::Object(map) => {
            let mut entries: Vec<(&String, &serde_json::Value)> = map.iter().collect();
            entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
            out.push(b'{');
            for (i, (k, v)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_scalar(out, k);
                out.push(b':');
                write_canonical(out, v);
            }
            out.push(b'}');
        }
        serde_json::Value::Array(items) => {
            out.push(b'[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_canonical(out, v);
            }
            out.push(b']');
        }
        scalar => write_scalar(out, scalar),
    }
}

/// A string, number, boolean or null as serde_json writes it.
fn write_scalar<T: Serialize + ?Sized>(out: &mut Vec<u8>, value: &T) {
    // Writing a scalar into memory cannot fail (non-finite floats become null, as in serde_json's Value).
    let _ = serde_json::to_writer(&mut *out, value);
}

/// The hash of an event given its predecessor's: SHA-256 of `prev_hash` and the canonical JSON of
/// `{"at_ms", "body", "kind", "seq"}` (written in that sorted order without building the object).
pub fn link(prev_hash: &[u8; 32], seq: i64, kind: &str, at_ms: i64, body: &str) -> [u8; 32] {
    let mut envelope = Vec::with_capacity(body.len() + kind.len() + 64);
    envelope.extend_from_slice(b"{\"at_ms\":");
    write_scalar(&mut envelope, &at_ms);
    envelope.extend_from_slice(b",\"body\":");
    write_scalar(&mut envelope, body);
    envelope.extend_from_slice(b",\"kind\":");
    write_scalar(&mut envelope, kind);
    envelope.extend_from_slice(b",\"seq\":");
    write_scalar(&mut envelope, &seq);
    envelope.push(b'}');
    let mut h = Sha256::new();
    h.update(prev_hash);
    h.update(&envelope);
    h.finalize().into()
}

/// Builds the next event of a chain whose last event is `last` (or none).
pub fn next_event(last: Option<&ChainedEvent>, kind: &str, at_ms: i64, body: &serde_json::Value) -> ChainedEvent {
    let (seq, prev_hash) = match last {
        Some(e) => (e.seq + 1, e.hash),
        None => (1, GENESIS),
    };
    let body = canonical_json(body);
    let hash = link(&prev_hash, seq, kind, at_ms, &body);
    ChainedEvent { seq, kind: kind.to_string(), at_ms, body, prev_hash, hash }
}

/// Where a chain breaks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainError {
    #[error("event {seq}: sequence gap (expected {expected})")]
    Gap { seq: i64, expected: i64 },
    #[error("event {seq}: prev_hash does not match the previous event's hash")]
    BrokenLink { seq: i64 },
    #[error("event {seq}: hash does not match its content (edited?)")]
    BadHash { seq: i64 },
}

/// Re-checks a chain from its first event; the first break is reported.
pub fn verify_chain(events: &[ChainedEvent]) -> Result<(), ChainError> {
    let mut prev = GENESIS;
    for (i, e) in events.iter().enumerate() {
        let expected = i as i64 + 1;
        if e.seq != expected {
            return Err(ChainError::Gap { seq: e.seq, expected });
        }
        if e.prev_hash != prev {
            return Err(ChainError::BrokenLink { seq: e.seq });
        }
        if link(&e.prev_hash, e.seq, &e.kind, e.at_ms, &e.body) != e.hash {
            return Err(ChainError::BadHash { seq: e.seq });
        }
        prev = e.hash;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::EventKind;
    use proptest::prelude::*;
    use serde_json::json;

    /// The first implementation, kept as the definition the fast one must match byte for byte: a sorted copy
    /// of the tree, printed by serde_json, and the envelope built as a JSON object.
    fn reference_canonical(value: &serde_json::Value) -> String {
        fn sorted(v: &serde_json::Value) -> serde_json::Value {
            match v {
                serde_json::Value::Object(map) => {
                    let mut keys: Vec<&String> = map.keys().collect();
                    keys.sort();
                    let mut out = serde_json::Map::new();
                    for k in keys {
                        out.insert(k.clone(), sorted(&map[k]));
                    }
                    serde_json::Value::Object(out)
                }
                serde_json::Value::Array(items) => serde_json::Value::Array(items.iter().map(sorted).collect()),
                other => other.clone(),
            }
        }
        sorted(value).to_string()
    }

    fn reference_link(prev_hash: &[u8; 32], seq: i64, kind: &str, at_ms: i64, body: &str) -> [u8; 32] {
        let envelope = json!({ "seq": seq, "kind": kind, "at_ms": at_ms, "body": body });
        let mut h = Sha256::new();
        h.update(prev_hash);
        h.update(reference_canonical(&envelope).as_bytes());
        h.finalize().into()
    }

    fn any_json() -> impl Strategy<Value = serde_json::Value> {
        let leaf = prop_oneof![
            Just(serde_json::Value::Null),
            any::<bool>().prop_map(serde_json::Value::from),
            any::<i64>().prop_map(serde_json::Value::from),
            any::<u64>().prop_map(serde_json::Value::from),
            any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(serde_json::Value::from),
            ".*".prop_map(serde_json::Value::from),
        ];
        leaf.prop_recursive(4, 48, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::Array),
                prop::collection::btree_map(".*", inner, 0..6)
                    .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        /// Stored chains were hashed with the reference: the fast writer must never change a byte.
        #[test]
        fn canonical_json_and_links_match_the_reference(
            value in any_json(), kind in ".*", seq in any::<i64>(), at_ms in any::<i64>(), prev in any::<[u8; 32]>()
        ) {
            let body = canonical_json(&value);
            prop_assert_eq!(&body, &reference_canonical(&value));
            prop_assert_eq!(link(&prev, seq, &kind, at_ms, &body), reference_link(&prev, seq, &kind, at_ms, &body));
        }
    }

    fn chain() -> Vec<ChainedEvent> {
        let mut v: Vec<ChainedEvent> = Vec::new();
        for (kind, body) in [
            (EventKind::OrderCreated, json!({"qty": 2, "amount_fen": 1200})),
            (EventKind::OrderPaid, json!({"via": "wallet"})),
            (EventKind::KeysRevealed, json!({"by": 5})),
        ] {
            let e = next_event(v.last(), kind.as_str(), 1_000 + v.len() as i64, &body);
            v.push(e);
        }
        v
    }

    #[test]
    fn an_intact_chain_verifies() {
        assert_eq!(verify_chain(&chain()), Ok(()));
    }

    #[test]
    fn edits_removals_and_reorders_are_detected() {
        let mut edited = chain();
        edited[1].body = json!({"via": "gateway"}).to_string();
        assert_eq!(verify_chain(&edited), Err(ChainError::BadHash { seq: 2 }));
        let mut removed = chain();
        removed.remove(1);
        assert_eq!(verify_chain(&removed), Err(ChainError::Gap { seq: 3, expected: 2 }));
        let mut relinked = chain();
        relinked.remove(1);
        relinked[1].seq = 2;
        assert_eq!(verify_chain(&relinked), Err(ChainError::BrokenLink { seq: 2 }));
    }

    #[test]
    fn canonical_json_sorts_keys() {
        assert_eq!(canonical_json(&json!({"b": 1, "a": [2, {"d": 1, "c": 0}]})), r#"{"a":[2,{"c":0,"d":1}],"b":1}"#);
    }
}
