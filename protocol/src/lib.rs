//! Wire types and lifecycle rules of the Sekuire registry API.
//!
//! Both the registry and the dashboard depend on this crate, so the rule that decides
//! which buttons the dashboard shows is the same rule the registry uses to accept or
//! refuse a request. Serde only: it compiles for native and for wasm32.

mod installations;
mod lifecycle;
mod onboarding;
mod sort;
mod whole_number;
mod wire;

pub use installations::*;
pub use lifecycle::*;
pub use onboarding::*;
pub use sort::*;
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

/// Longest search text (`q`) of the fleet list, in characters.
pub const MAX_SEARCH_CHARS: usize = 200;

/// True for a character a reason may not hold because it can make the text read other
/// than it is, on screen or in a spreadsheet: control characters other than the line feed
/// and the tab, and Unicode's bidirectional formatting characters (embeddings, overrides,
/// isolates and marks).
pub fn is_disguising_char(c: char) -> bool {
    (c.is_control() && c != '\n' && c != '\t')
        || matches!(
            c,
            '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'
        )
}

/// True when `id` is a well-formed Sekuire ID: 1–64 lowercase hex characters.
pub fn is_valid_sekuire_id(id: &str) -> bool {
    (1..=64).contains(&id.len()) && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bidi_controls_and_control_characters_disguise_text_but_line_breaks_do_not() {
        for c in [
            '\u{202E}', '\u{2066}', '\u{200F}', '\u{0000}', '\r', '\u{1B}', '\u{85}',
        ] {
            assert!(is_disguising_char(c), "{:?}", c);
        }
        for c in ['a', '\n', '\t', 'é', '東', '\u{05D0}', ' '] {
            assert!(!is_disguising_char(c), "{:?}", c);
        }
    }

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
