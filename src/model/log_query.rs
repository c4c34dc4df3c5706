//! The Logs tab's filters: event type, severity, a day range, and the page (by offset,
//! as Sekuire's log API pages).

use super::{is_date, query_string};
use fleet_protocol::Severity;

/// Log lines one page shows.
pub const LOG_PAGE_SIZE: u32 = 50;

/// What the Logs tab shows.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LogQuery {
    /// Exact event type, e.g. `lifecycle`; empty for all.
    pub event_type: String,
    pub severity: Option<Severity>,
    /// `YYYY-MM-DD`, inclusive, UTC.
    pub since: String,
    /// `YYYY-MM-DD`, inclusive, UTC.
    pub until: String,
    pub offset: u64,
}

impl LogQuery {
    /// `/api/v1/agents/{id}/logs?…` for this view.
    pub fn to_api_path(&self, sekuire_id: &str) -> String {
        let day = |d: &str, time: &str| {
            if is_date(d) {
                format!("{d}T{time}Z")
            } else {
                String::new()
            }
        };
        let query = query_string(&[
            ("limit", LOG_PAGE_SIZE.to_string()),
            ("offset", self.offset.to_string()),
            ("event_type", self.event_type.trim().to_owned()),
            (
                "severity",
                self.severity
                    .map(|s| s.as_str().to_owned())
                    .unwrap_or_default(),
            ),
            ("start_time", day(&self.since, "00:00:00")),
            ("end_time", day(&self.until, "23:59:59")),
        ]);
        format!("/api/v1/agents/{sekuire_id}/logs{query}")
    }

    /// The same filters on the next page, when `total` lines match.
    pub fn next_page(&self, total: u64) -> Option<LogQuery> {
        let offset = self.offset + u64::from(LOG_PAGE_SIZE);
        (offset < total).then(|| LogQuery {
            offset,
            ..self.clone()
        })
    }

    /// The same filters on the previous page.
    pub fn previous_page(&self) -> Option<LogQuery> {
        (self.offset > 0).then(|| LogQuery {
            offset: self.offset.saturating_sub(u64::from(LOG_PAGE_SIZE)),
            ..self.clone()
        })
    }

    /// "51–100 of 240", or "No log lines match." for an empty page.
    pub fn range_text(&self, shown: usize, total: u64) -> String {
        if shown == 0 {
            return "No log lines match.".to_owned();
        }
        format!(
            "{}–{} of {total}",
            self.offset + 1,
            self.offset + shown as u64
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_become_sekuires_log_query_and_days_cover_whole_days() {
        let query = LogQuery {
            event_type: " lifecycle ".into(),
            severity: Some(Severity::Warn),
            since: "2026-11-01".into(),
            until: "2026-11-02".into(),
            offset: 50,
        };
        assert_eq!(
            query.to_api_path("abc"),
            "/api/v1/agents/abc/logs?limit=50&offset=50&event_type=lifecycle&severity=warn\
             &start_time=2026-11-01T00%3A00%3A00Z&end_time=2026-11-02T23%3A59%3A59Z"
        );
        let bad_day = LogQuery {
            since: "yesterday".into(),
            ..LogQuery::default()
        };
        assert_eq!(
            bad_day.to_api_path("abc"),
            "/api/v1/agents/abc/logs?limit=50&offset=0"
        );
    }

    #[test]
    fn pages_move_by_fifty_and_stop_at_the_ends() {
        let first = LogQuery::default();
        assert_eq!(first.previous_page(), None);
        let second = first.next_page(120).expect("more lines");
        assert_eq!(second.offset, 50);
        assert_eq!(second.range_text(50, 120), "51–100 of 120");
        let third = second.next_page(120).expect("more lines");
        assert_eq!(third.next_page(120), None);
        assert_eq!(third.previous_page().map(|q| q.offset), Some(50));
        assert_eq!(first.range_text(0, 0), "No log lines match.");
    }
}
