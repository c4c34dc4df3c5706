//! The dashboard's logic that needs no browser: view state in URLs, time formatting,
//! confirmation phrases. Plain Rust, tested natively.

pub mod agent_detail;
pub mod audit_query;
pub mod capabilities;
pub mod confirm;
pub mod fleet_query;
pub mod fleet_rows;
pub mod log_query;
pub mod route;
pub mod time;

/// True for a `YYYY-MM-DD` day, as date inputs give them.
pub fn is_date(s: &str) -> bool {
    s.len() == 10 && time::parse_timestamp_ms(&format!("{s}T00:00:00Z")).is_some()
}

/// Percent-encodes a query value (RFC 3986 unreserved characters stay as they are).
pub fn encode_component(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(byte as char)
            }
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

/// Joins `key=value` pairs into a query string with a leading `?`, or `""` when empty.
pub fn query_string(pairs: &[(&str, String)]) -> String {
    let parts: Vec<String> = pairs
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| format!("{k}={}", encode_component(v)))
        .collect();
    if parts.is_empty() {
        String::new()
    } else {
        format!("?{}", parts.join("&"))
    }
}

/// Parses a comma list of wire names, skipping unknown ones (a hand-edited URL must not
/// break the page).
pub fn parse_list<T: std::str::FromStr>(value: Option<String>) -> Vec<T> {
    value
        .unwrap_or_default()
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect()
}

/// Joins wire names with commas.
pub fn join_list<T: std::fmt::Display>(items: &[T]) -> String {
    items
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;
    use fleet_protocol::RuntimeStatus;

    #[test]
    fn components_are_percent_encoded() {
        assert_eq!(encode_component("a b&c=d/é"), "a%20b%26c%3Dd%2F%C3%A9");
        assert_eq!(encode_component("safe-_.~"), "safe-_.~");
    }

    #[test]
    fn empty_values_are_left_out_of_query_strings() {
        assert_eq!(query_string(&[("q", String::new())]), "");
        assert_eq!(
            query_string(&[("q", "x y".into()), ("sort", "name".into())]),
            "?q=x%20y&sort=name"
        );
    }

    #[test]
    fn lists_skip_unknown_values() {
        let parsed: Vec<RuntimeStatus> = parse_list(Some("active,bogus,paused".into()));
        assert_eq!(parsed, vec![RuntimeStatus::Active, RuntimeStatus::Paused]);
        assert_eq!(join_list(&parsed), "active,paused");
    }
}
