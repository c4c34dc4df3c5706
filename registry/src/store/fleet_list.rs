//! The fleet list and summary on SQLite: the plan that decides how a page is read (walk a
//! sort index, or collect few matches and sort), and the trigram search.

use super::agents::{AgentRow, AGENT_COLUMNS};
use super::fleet_query::{
    agent_page, health_counts_sql, id_prefix_range, kept_facets, order_by, push_facets,
    push_page_order, sort_sql, AgentFilter, Cursor, Total,
};
use super::like_escape;
use super::sqlite::SqliteStore;
use crate::clock::now_ms;
use crate::error::AppResult;
use fleet_protocol::{AgentList, AgentSort, RuntimeStatus, SortKey};
use sqlx::{QueryBuilder, Row, Sqlite};

/// Below this many matches a page is read by collecting the matches and sorting them;
/// walking the sort index would pass mostly non-matches.
const FEW_MATCHES: i64 = 5_000;

fn push_filter(
    qb: &mut QueryBuilder<'_, Sqlite>,
    filter: &AgentFilter,
    search: Option<Search<'_>>,
    now: i64,
) {
    if let Some(search) = search {
        push_search(qb, search);
    }
    push_facets(qb, filter, now);
}

/// The narrow index that covers every facet filter: the one that starts with the health
/// deadline when the filter names a health (each health is a range of it), else the one
/// that starts with the runtime state (migrations 0008 and 0010).
fn facet_index(filter: &AgentFilter) -> &'static str {
    if filter.health.is_empty() {
        "agents_facets"
    } else {
        "agents_by_health"
    }
}

/// The index whose order is `key`'s (migration 0001). A page of many matches walks it and
/// stops after one page, instead of collecting every match through a filter index and
/// sorting them all: 50 ms → 7 ms for `active` by reputation at 100,000 agents, and
/// 23.5 ms → 1.7 ms for `paused,terminated` by state at 1M, where the facet index also
/// starts with the state. The walk names it (`INDEXED BY`), whatever the filter.
fn sort_index(key: SortKey) -> &'static str {
    match key {
        SortKey::Name => "agents_by_name",
        SortKey::ReputationScore => "agents_by_reputation",
        SortKey::LastHeartbeatAt => "agents_by_heartbeat",
        SortKey::RuntimeStatus => "agents_by_status",
        SortKey::UpdatedAt => "agents_by_updated",
    }
}

/// `filter` for a read of its [`facet_index`]: without a health or a runtime state, it
/// names every runtime state (the CHECK constraint allows only those), so SQLite seeks
/// each state's range of `agents_facets`, which starts with the state, and reads only the
/// verification and reputation asked for within it, instead of scanning the whole index
/// (`verified`, reputation ≥ 50 at 1M agents: 68 ms → 2 ms).
fn seekable(filter: &AgentFilter) -> AgentFilter {
    let mut seekable = filter.clone();
    if filter.health.is_empty() && filter.runtime_status.is_empty() {
        seekable.runtime_status = RuntimeStatus::ALL.to_vec();
    }
    seekable
}

/// Searches of this many characters or more are a phrase of the trigram index
/// (`agents_name_trigrams`, migrations 0006 and 0009): a trigram is three characters.
const TRIGRAM: usize = 3;

/// Where a text search finds the agents whose names may hold it, before LIKE decides.
#[derive(Clone, Copy)]
enum Candidates {
    /// Three characters or more: the search as a phrase of the trigram index.
    Phrase,
    /// One or two ASCII characters: the rows of every trigram that starts with them. The
    /// index pads each name with two characters past its end (migration 0009), so every
    /// place the text occurs starts a trigram. The term list folds case as the index does;
    /// an ASCII search lowercased finds its terms.
    TrigramPrefix,
}

impl Candidates {
    /// Pushes a query of the candidates' Sekuire IDs for the search `text`.
    fn push_ids(self, qb: &mut QueryBuilder<'_, Sqlite>, text: &str) {
        match self {
            Candidates::Phrase => {
                qb.push(
                    "SELECT sekuire_id FROM agents_name_trigrams \
                     WHERE agents_name_trigrams MATCH ",
                )
                .push_bind(trigram_phrase(text));
            }
            Candidates::TrigramPrefix => {
                qb.push(
                    "SELECT sekuire_id FROM agents_name_trigrams WHERE rowid IN \
                     (SELECT doc FROM agents_name_trigram_instances WHERE ",
                );
                push_term_range(qb, text);
                qb.push(")");
            }
        }
    }

    /// Pushes a query with a row per candidate, or more: for a short search, one per
    /// occurrence, which the term list gives without gathering its rows. Counting it up to
    /// a bound tells a sparse search from a dense one.
    fn push_probe(self, qb: &mut QueryBuilder<'_, Sqlite>, text: &str) {
        match self {
            Candidates::Phrase => self.push_ids(qb, text),
            Candidates::TrigramPrefix => {
                qb.push("SELECT doc FROM agents_name_trigram_instances WHERE ");
                push_term_range(qb, text);
            }
        }
    }

    fn of(text: &str) -> Option<Candidates> {
        if text.chars().count() >= TRIGRAM {
            Some(Candidates::Phrase)
        } else if text.is_ascii() {
            Some(Candidates::TrigramPrefix)
        } else {
            None
        }
    }
}

/// A text search, and whether it is read through the trigram index.
#[derive(Clone, Copy)]
struct Search<'a> {
    text: &'a str,
    /// Few candidates: collecting them beats reading every name. A search with many
    /// candidates matches densely, and walking a sort index with LIKE finds a page
    /// sooner than collecting (and counting through) tens of thousands of candidates.
    /// `None` also for a short search that is not ASCII, which the index cannot serve.
    indexed: Option<Candidates>,
}

/// `text` as a substring of the name, or as a prefix of the Sekuire ID. The name test is
/// LIKE, case-insensitive for ASCII only, `%` and `_` literal; for a sparse search the
/// trigram index names the candidates first, so a search that matches nothing no longer
/// reads every name (figures in BENCHMARKS.md). IDs are lowercase hex, so an ID prefix is
/// a range of the primary key.
fn push_search(qb: &mut QueryBuilder<'_, Sqlite>, search: Search<'_>) {
    let q = search.text;
    qb.push(" AND ((");
    if let Some(candidates) = search.indexed {
        qb.push("sekuire_id IN (");
        candidates.push_ids(qb, q);
        qb.push(") AND ");
    }
    qb.push("name LIKE ")
        .push_bind(format!("%{}%", like_escape(q)))
        .push(" ESCAPE '\\')");
    if let Some((id, end)) = id_prefix_range(q) {
        qb.push(" OR (sekuire_id >= ")
            .push_bind(id)
            .push(" AND sekuire_id < ")
            .push_bind(end)
            .push(")");
    }
    qb.push(")");
}

/// `q` as an FTS5 phrase: the trigram tokenizer matches it as a substring.
fn trigram_phrase(q: &str) -> String {
    format!("\"{}\"", q.replace('"', "\"\""))
}

/// `term >= … AND term < …`: the trigrams that start with the ASCII text `q`, lowercased
/// as the index folds them, from `q` up to `q` with its last character raised by one.
fn push_term_range(qb: &mut QueryBuilder<'_, Sqlite>, q: &str) {
    let from = q.to_ascii_lowercase();
    let mut to = from.clone();
    let last = to.pop().map_or(0, u32::from);
    to.extend(char::from_u32(last + 1));
    qb.push("term >= ")
        .push_bind(from)
        .push(" AND term < ")
        .push_bind(to);
}

impl SqliteStore {
    /// `filter`'s text search, read through the trigram index when it has few candidates
    /// (counting them stops at [`FEW_MATCHES`]: one small index read).
    async fn search<'a>(&self, filter: &'a AgentFilter) -> AppResult<Option<Search<'a>>> {
        let Some(text) = filter.search_text() else {
            return Ok(None);
        };
        let indexed = match Candidates::of(text) {
            Some(candidates) => {
                let mut count = QueryBuilder::<Sqlite>::new("SELECT COUNT(*) FROM (");
                candidates.push_probe(&mut count, text);
                count.push(" LIMIT ").push_bind(FEW_MATCHES).push(")");
                let found: i64 = count.build_query_scalar().fetch_one(&self.read).await?;
                (found < FEW_MATCHES).then_some(candidates)
            }
            None => None,
        };
        Ok(Some(Search { text, indexed }))
    }

    /// One page of the fleet, and the number of agents matching the filter.
    pub async fn list_agents(
        &self,
        filter: &AgentFilter,
        sort: AgentSort,
        limit: u32,
        cursor: Option<&str>,
    ) -> AppResult<AgentList> {
        let now = now_ms();
        let cursor = cursor.map(|c| Cursor::decode(c, sort)).transpose()?;

        let search = self.search(filter).await?;
        let text_search = search.is_some();
        let total = match kept_facets(filter) {
            Some(facets) => Total::kept(self.kept_total(&facets).await?),
            None => {
                // Without a text search every filter column is in a narrow facet index, so
                // the count reads that instead of the wide rows (87 ms → see
                // BENCHMARKS.md); it stops one past the cap.
                let mut count = QueryBuilder::<Sqlite>::new(if text_search {
                    "SELECT COUNT(*) FROM (SELECT 1 FROM agents WHERE 1 = 1".to_owned()
                } else {
                    format!(
                        "SELECT COUNT(*) FROM (SELECT 1 FROM agents INDEXED BY {} WHERE 1 = 1",
                        facet_index(filter)
                    )
                });
                let counted = if text_search {
                    filter.clone()
                } else {
                    seekable(filter)
                };
                push_filter(&mut count, &counted, search, now);
                count.push(format!(" LIMIT {})", Total::count_limit(filter)));
                Total::capped(
                    filter,
                    count.build_query_scalar().fetch_one(&self.read).await?,
                )
            }
        };

        // The page's ids first, then their rows. The table has no rowid, so SQLite reads a
        // row as soon as a walk reaches its index entry; a walk on an index that covers the
        // filter (the name index for a search) passes tens of thousands of non-matches
        // without reading them (`triage` by name at 1M agents: 167 ms → see BENCHMARKS.md).
        let sort_expr = sort_sql(sort.key);
        let mut page = QueryBuilder::<Sqlite>::new(format!(
            "SELECT {AGENT_COLUMNS} FROM agents WHERE sekuire_id IN (SELECT sekuire_id FROM agents"
        ));
        if total.count >= FEW_MATCHES || text_search {
            if total.count >= FEW_MATCHES {
                page.push(format!(" INDEXED BY {}", sort_index(sort.key)));
            }
            page.push(" WHERE 1 = 1");
            push_filter(&mut page, filter, search, now);
            push_page_order(&mut page, sort_expr, sort, cursor.as_ref(), limit);
            page.push(")").push(order_by(sort_expr, sort));
        } else {
            // Few matches: find them in a narrow index, then read and sort only them.
            page.push(format!(" INDEXED BY {} WHERE 1 = 1", facet_index(filter)));
            push_filter(&mut page, &seekable(filter), search, now);
            page.push(")");
            push_page_order(&mut page, sort_expr, sort, cursor.as_ref(), limit);
        }
        let rows: Vec<AgentRow> = page.build_query_as().fetch_all(&self.read).await?;
        agent_page(rows, total, limit, sort, now)
    }

    /// Counts by runtime state, health and verification, and a reputation histogram, in one
    /// pass over the narrow facet index (no grouping sort).
    /// The sum of the kept counts of `facets`.
    async fn kept_total(&self, facets: &[String]) -> AppResult<i64> {
        let mut sum = QueryBuilder::<Sqlite>::new(
            "SELECT IFNULL(SUM(agents), 0) FROM fleet_counts WHERE facet IN (",
        );
        let mut list = sum.separated(", ");
        for facet in facets {
            list.push_bind(facet);
        }
        sum.push(")");
        Ok(sum.build_query_scalar().fetch_one(&self.read).await?)
    }

    pub async fn fleet_counts(&self) -> AppResult<Vec<(String, i64)>> {
        Ok(sqlx::query_as("SELECT facet, agents FROM fleet_counts")
            .fetch_all(&self.read)
            .await?)
    }

    pub async fn health_counts(&self) -> AppResult<Vec<u64>> {
        // One pass over `agents_by_health`, the narrow index that holds both heartbeat
        // columns; SUM over no rows is NULL.
        let sql = health_counts_sql(now_ms(), |c| format!("SUM({c})"));
        let row = sqlx::query(&sql).fetch_one(&self.read).await?;
        Ok((0..row.len())
            .map(|i| {
                row.try_get::<Option<i64>, _>(i)
                    .map(|v| v.unwrap_or(0).max(0) as u64)
            })
            .collect::<Result<_, _>>()?)
    }
}
