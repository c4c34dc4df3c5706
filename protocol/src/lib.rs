//! Wire types and lifecycle rules of the Sekuire registry API.
//!
//! Both the registry and the dashboard depend on this crate, so the rule that decides
//! which buttons the dashboard shows is the same rule the registry uses to accept or
//! refuse a request. Serde only: it compiles for native and for wasm32.

mod lifecycle;
mod wire;

pub use lifecycle::*;
pub use wire::*;

/// Longest reason accepted with a lifecycle command, in characters.
pub const MAX_REASON_CHARS: usize = 1_000;
/// Largest request body the registry reads, in bytes.
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// Most ids one bulk request may name.
pub const MAX_BULK_IDS: usize = 500;
/// Heartbeat interval assumed when an installation never said otherwise, in seconds.
pub const DEFAULT_HEARTBEAT_INTERVAL_SECS: i64 = 60;
/// Page size of list endpoints when the client does not ask for one.
pub const DEFAULT_PAGE_LIMIT: u32 = 50;
/// Largest page a list endpoint returns.
pub const MAX_PAGE_LIMIT: u32 = 500;

/// True when `id` is a well-formed Sekuire ID: 1–64 lowercase hex characters.
pub fn is_valid_sekuire_id(id: &str) -> bool {
    (1..=64).contains(&id.len()) && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sekuire_ids_are_short_or_long_lowercase_hex() {
        assert!(is_valid_sekuire_id("7f8a9b3c2d1e"));
        assert!(is_valid_sekuire_id(&"a".repeat(64)));
        assert!(!is_valid_sekuire_id(""));
        assert!(!is_valid_sekuire_id(&"a".repeat(65)));
        assert!(!is_valid_sekuire_id("7F8A"));
        assert!(!is_valid_sekuire_id("xyz"));
        assert!(!is_valid_sekuire_id("../etc"));
    }
}
