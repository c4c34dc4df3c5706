//! The dashboard's routes and the query string, parsed without a browser.

/// A page of the dashboard, from the address bar's path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Route {
    /// `/`: sends the user on to the fleet.
    Home,
    Connect,
    Fleet,
    /// `/agents/{sekuire_id}`, the id percent-decoded.
    Agent(String),
    Audit,
    NotFound,
}

impl Route {
    /// The route for a path; a trailing slash is ignored.
    pub fn from_path(path: &str) -> Route {
        let path = match path.strip_suffix('/') {
            Some(trimmed) if !trimmed.is_empty() => trimmed,
            _ => path,
        };
        match path {
            "" | "/" => Route::Home,
            "/connect" => Route::Connect,
            "/agents" => Route::Fleet,
            "/audit" => Route::Audit,
            _ => match path.strip_prefix("/agents/") {
                Some(id) if !id.is_empty() && !id.contains('/') => {
                    Route::Agent(decode_component(id))
                }
                _ => Route::NotFound,
            },
        }
    }
}

/// Whether a link's `href` is a page of this dashboard: a path on this origin, not the API.
pub fn is_dashboard_href(href: &str) -> bool {
    href.starts_with('/') && !href.starts_with("//") && href != "/api" && !href.starts_with("/api/")
}

/// A parsed query string: `get` answers the first value of a key, decoded.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Query(Vec<(String, String)>);

impl Query {
    /// Parses `?a=1&b=x%20y` (the leading `?` is optional; `+` is a space).
    pub fn parse(search: &str) -> Query {
        let search = search.strip_prefix('?').unwrap_or(search);
        Query(
            search
                .split('&')
                .filter(|pair| !pair.is_empty())
                .map(|pair| {
                    let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
                    (decode_component(key), decode_component(value))
                })
                .collect(),
        )
    }

    pub fn get(&self, key: &str) -> Option<String> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
    }
}

/// Reverses percent-encoding (and `+` for a space); a malformed escape is kept as it is.
pub fn decode_component(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = bytes
            .get(i + 1..i + 3)
            .filter(|_| bytes[i] == b'%')
            .and_then(|hex| std::str::from_utf8(hex).ok())
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match (bytes[i], escaped) {
            (_, Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (b'+', None) => {
                out.push(b' ');
                i += 1;
            }
            (byte, None) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::encode_component;

    #[test]
    fn paths_map_to_routes() {
        assert_eq!(Route::from_path("/"), Route::Home);
        assert_eq!(Route::from_path("/agents"), Route::Fleet);
        assert_eq!(Route::from_path("/agents/"), Route::Fleet);
        assert_eq!(Route::from_path("/audit"), Route::Audit);
        assert_eq!(Route::from_path("/connect"), Route::Connect);
        assert_eq!(
            Route::from_path("/agents/sk_1%202"),
            Route::Agent("sk_1 2".into())
        );
        assert_eq!(Route::from_path("/agents/a/b"), Route::NotFound);
        assert_eq!(Route::from_path("/nowhere"), Route::NotFound);
    }

    #[test]
    fn only_links_to_dashboard_pages_are_handled_in_the_app() {
        assert!(is_dashboard_href("/agents?q=x"));
        assert!(is_dashboard_href("/agents/ab12"));
        assert!(!is_dashboard_href("/api/v1/openapi.json"));
        assert!(!is_dashboard_href("//elsewhere.example/agents"));
        assert!(!is_dashboard_href("https://sekuire.ai"));
        assert!(!is_dashboard_href("#main"));
    }

    #[test]
    fn queries_decode_what_encode_component_wrote() {
        let text = "triage bot & co/é+1";
        let query = Query::parse(&format!("?q={}&sort=name&flag", encode_component(text)));
        assert_eq!(query.get("q").as_deref(), Some(text));
        assert_eq!(query.get("sort").as_deref(), Some("name"));
        assert_eq!(query.get("flag").as_deref(), Some(""));
        assert_eq!(query.get("missing"), None);
        assert_eq!(Query::parse("a=x+y").get("a").as_deref(), Some("x y"));
    }

    #[test]
    fn malformed_escapes_are_kept() {
        assert_eq!(decode_component("100%"), "100%");
        assert_eq!(decode_component("%zz%4"), "%zz%4");
        assert_eq!(decode_component("%E2%9C%93"), "✓");
    }
}
