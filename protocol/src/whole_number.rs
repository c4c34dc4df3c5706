//! Whole numbers as JSON spells them: `60` or `60.0`.

use serde::{Deserialize, Deserializer};

/// Reads an optional whole number however JSON spells it, `60` or `60.0`: JSON Schema's
/// `integer` admits both, so the registry does too. A fraction, or a number outside the
/// 64-bit range, is an error.
pub fn optional_whole_number<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<i64>, D::Error> {
    const LIMIT: f64 = 9_223_372_036_854_775_808.0; // 2^63
    let Some(number) = Option::<serde_json::Number>::deserialize(deserializer)? else {
        return Ok(None);
    };
    number
        .as_i64()
        .or_else(|| {
            number
                .as_f64()
                .filter(|f| f.fract() == 0.0 && (-LIMIT..LIMIT).contains(f))
                .map(|f| f as i64)
        })
        .map(Some)
        .ok_or_else(|| serde::de::Error::custom(format!("{number} is not a whole number")))
}

#[cfg(test)]
mod tests {
    use crate::LeaseRequest;

    fn interval(json: &str) -> Result<Option<i64>, serde_json::Error> {
        serde_json::from_str::<LeaseRequest>(json).map(|r| r.heartbeat_interval_seconds)
    }

    #[test]
    fn whole_numbers_read_however_json_spells_them() {
        assert_eq!(
            interval(r#"{"heartbeat_interval_seconds": 60}"#).ok(),
            Some(Some(60))
        );
        assert_eq!(
            interval(r#"{"heartbeat_interval_seconds": 60.0}"#).ok(),
            Some(Some(60))
        );
        assert_eq!(
            interval(r#"{"heartbeat_interval_seconds": null}"#).ok(),
            Some(None)
        );
        assert_eq!(interval("{}").ok(), Some(None));
        assert!(interval(r#"{"heartbeat_interval_seconds": 60.5}"#).is_err());
        assert!(interval(r#"{"heartbeat_interval_seconds": 9223372036854775808}"#).is_err());
        assert!(interval(r#"{"heartbeat_interval_seconds": "60"}"#).is_err());
    }
}
