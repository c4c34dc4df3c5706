//! Text search on SQLite: the trigram index that finds a search's candidates, LIKE that
//! decides, and the reads that take a search's matches from the index in name order.

use super::fleet_query::{id_prefix_range, push_facets, AgentFilter, Cursor, HealthClock};
use super::like_escape;
use super::list_plan::push_id_range;
use super::sqlite::SqliteStore;
use crate::error::AppResult;
use fleet_protocol::{AgentSort, SortKey};
use sqlx::{QueryBuilder, Sqlite};

/// Below this many candidates a search is sparse: its matches are read by collecting the
/// candidates the trigram index names; walking a sort index would pass mostly
/// non-matches. The fleet list uses the same bound for filters without a search.
pub(super) const FEW_MATCHES: i64 = 5_000;

/// `filter` as ` AND …` terms: its text search (`search`, as [`SqliteStore::search`] planned
/// it), then its states, health and reputation bounds.
pub(super) fn push_filter(
    qb: &mut QueryBuilder<'_, Sqlite>,
    filter: &AgentFilter,
    search: Option<Search<'_>>,
    clock: HealthClock,
) {
    if let Some(search) = search {
        push_search(qb, search);
    }
    push_facets(qb, filter, clock);
}

/// Searches of this many characters or more are a phrase of the trigram index
/// (`agents_name_trigrams`, migrations 0006 and 0009): a trigram is three characters.
const TRIGRAM: usize = 3;

/// Where a text search finds the agents whose names may hold it, before LIKE decides.
#[derive(Clone, Copy, PartialEq)]
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
pub(super) struct Search<'a> {
    text: &'a str,
    /// Few candidates, names the index gives and IDs the search starts: collecting them
    /// beats reading every name. A search with many candidates matches densely, and
    /// walking a sort index with LIKE finds a page sooner than collecting (and counting
    /// through) tens of thousands of candidates. `None` also for a short search that is
    /// not ASCII, which the index cannot serve, and for a search by name without facets,
    /// which is read from the index in name order ([`SqliteStore::search`]).
    indexed: Option<Candidates>,
}

/// `text` as a substring of the name, or as a prefix of the Sekuire ID. The name test is
/// LIKE, case-insensitive for ASCII only, `%` and `_` literal; for a sparse search the
/// trigram index, and the range of IDs the search starts, name the candidates first, so a
/// search that matches nothing no longer reads every name (figures in BENCHMARKS.md). IDs
/// are lowercase hex, so an ID prefix is a range of the primary key.
fn push_search(qb: &mut QueryBuilder<'_, Sqlite>, search: Search<'_>) {
    let q = search.text;
    let id_range = id_prefix_range(q);
    qb.push(" AND ");
    if let Some(candidates) = search.indexed {
        // The candidates by name and by ID as one list of keys, which SQLite reads and
        // nothing else. With the ID range only as the second term of the OR below, it
        // chose a facet's index instead and tested every row in it (`ab`, active, by
        // reputation at 1M agents: 690 ms, where reading the list took 6 ms).
        qb.push("sekuire_id IN (");
        candidates.push_ids(qb, q);
        if let Some(range) = &id_range {
            push_id_candidates(qb, range);
        }
        qb.push(") AND ");
    }
    qb.push("(name LIKE ")
        .push_bind(format!("%{}%", like_escape(q)))
        .push(" ESCAPE '\\'");
    if let Some(range) = &id_range {
        qb.push(" OR ");
        push_id_range(qb, range);
    }
    qb.push(")");
}

/// ` UNION ALL` the Sekuire IDs in `range`, after a query of candidates by name.
fn push_id_candidates(qb: &mut QueryBuilder<'_, Sqlite>, range: &(String, String)) {
    qb.push(" UNION ALL SELECT sekuire_id FROM agents WHERE ");
    push_id_range(qb, range);
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

impl Search<'_> {
    /// Whether the trigram index (with the IDs the search starts) names the search's
    /// candidates: there are few of them.
    pub(super) fn is_indexed(self) -> bool {
        self.indexed.is_some()
    }

    /// Whether the trigram index alone can list this search's matches: a phrase (three
    /// characters or more), or two ASCII characters, the phrases of the trigrams that start
    /// with them ([`Search::push_match`]), that cannot also start a Sekuire ID, which
    /// matches by ID instead of by name. Its rows are keyed by each agent's place in name
    /// order (`name_rank`, migration 0011), so it lists them in name order too.
    ///
    /// Decision: not one character, whose trigrams are many: listing the terms that
    /// start with `e` took 60 ms at 1M agents, as the term table counts each term's rows.
    pub(super) fn in_name_order(self) -> bool {
        let listed = match Candidates::of(self.text) {
            Some(Candidates::Phrase) => true,
            Some(Candidates::TrigramPrefix) => self.text.chars().count() == TRIGRAM - 1,
            None => false,
        };
        listed && id_prefix_range(self.text).is_none()
    }

    /// Whether this search's count is read from the index in name order too: a phrase
    /// only. Two characters are counted in key order, where their matches are spread
    /// evenly and a dense search soon reaches the cap, as listing their trigrams costs
    /// more (10-40 ms at 1M agents for the commonest pairs) than a count that stops early.
    pub(super) fn counted_in_name_order(self) -> bool {
        self.in_name_order() && Candidates::of(self.text) == Some(Candidates::Phrase)
    }

    /// Pushes ` MATCH …` for [`Search::in_name_order`]: the search as a phrase, or, for two
    /// characters, the phrases of the trigrams in the index's term list that start with
    /// them, joined by OR (`""`, which matches nothing, when there are none).
    fn push_match(self, qb: &mut QueryBuilder<'_, Sqlite>) {
        qb.push(" MATCH ");
        if Candidates::of(self.text) == Some(Candidates::Phrase) {
            qb.push_bind(trigram_phrase(self.text));
        } else {
            qb.push(
                "(SELECT IFNULL(group_concat('\"' || replace(term, '\"', '\"\"') || '\"', \
                 ' OR '), '\"\"') FROM agents_name_trigram_terms WHERE ",
            );
            push_term_range(qb, self.text);
            qb.push(")");
        }
    }

    /// Pushes a query of the Sekuire IDs of `filter`'s matches, in the index's order: each
    /// row the phrase matches, kept when its agent passes LIKE and the facets. The index
    /// gives its rows lazily, so a `LIMIT` after this reads only as far as it needs.
    fn push_ranked_matches(
        self,
        qb: &mut QueryBuilder<'_, Sqlite>,
        filter: &AgentFilter,
        clock: HealthClock,
    ) {
        qb.push(
            "SELECT agents_name_trigrams.sekuire_id FROM agents_name_trigrams \
             WHERE agents_name_trigrams",
        );
        self.push_match(qb);
        qb.push(
            " AND EXISTS (SELECT 1 FROM agents \
             WHERE agents.sekuire_id = agents_name_trigrams.sekuire_id",
        );
        let unindexed = Search {
            indexed: None,
            ..self
        };
        push_filter(qb, filter, Some(unindexed), clock);
        qb.push(")");
    }

    /// Pushes a count of `filter`'s matches that stops at `limit`: the first `limit`
    /// matches the index gives, where counting through LIKE alone read every name before
    /// them (`security` at 1M agents: 223 ms → see BENCHMARKS.md).
    pub(super) fn push_ranked_count(
        self,
        qb: &mut QueryBuilder<'_, Sqlite>,
        filter: &AgentFilter,
        clock: HealthClock,
        limit: i64,
    ) {
        qb.push("SELECT COUNT(*) FROM (");
        self.push_ranked_matches(qb, filter, clock);
        qb.push(" LIMIT ").push_bind(limit).push(")");
    }

    /// Pushes a query of the Sekuire IDs of a page of `filter`'s matches by name: the
    /// index's rows after the cursor's rank, `limit` of them and one more.
    pub(super) fn push_ranked_page(
        self,
        qb: &mut QueryBuilder<'_, Sqlite>,
        filter: &AgentFilter,
        clock: HealthClock,
        sort: AgentSort,
        cursor: Option<&Cursor>,
        limit: u32,
    ) {
        self.push_ranked_matches(qb, filter, clock);
        let dir = if sort.descending { "DESC" } else { "ASC" };
        if let Some(cursor) = cursor {
            // Ranks follow (name, Sekuire ID), so the rows past the cursor are the ranks past
            // that of the nearest agent at the cursor or on its near side (before it, or
            // after it for a descending page): the same rows as the keyset comparison of
            // the other plans, should the cursor's agent be renamed or gone.
            let (cmp, at_or_before, nearest, unbounded) = if sort.descending {
                ("<", ">=", "ASC", i64::MAX)
            } else {
                (">", "<=", "DESC", 0)
            };
            qb.push(format!(
                " AND agents_name_trigrams.rowid {cmp} IFNULL((SELECT name_rank \
                 FROM agents INDEXED BY agents_by_name WHERE 1 = 1"
            ));
            cursor.push_bound(qb, "name", at_or_before);
            qb.push(format!(
                " ORDER BY name {nearest}, sekuire_id {nearest} LIMIT 1), {unbounded})"
            ));
        }
        qb.push(format!(" ORDER BY agents_name_trigrams.rowid {dir} LIMIT "))
            .push_bind(i64::from(limit) + 1);
    }
}

impl SqliteStore {
    /// `filter`'s text search, read through the trigram index when it has few candidates
    /// (counting them stops at [`FEW_MATCHES`]: one small index read). A phrase without
    /// facets sorted by name is read and counted from the index in name order whatever
    /// its candidates, so they are not counted.
    pub(super) async fn search<'a>(
        &self,
        filter: &'a AgentFilter,
        sort: AgentSort,
    ) -> AppResult<Option<Search<'a>>> {
        let Some(text) = filter.search_text() else {
            return Ok(None);
        };
        let unplanned = Search {
            text,
            indexed: None,
        };
        if unplanned.counted_in_name_order() && sort.key == SortKey::Name && !filter.has_facets() {
            return Ok(Some(unplanned));
        }
        let indexed = match Candidates::of(text) {
            Some(candidates) => {
                let mut count = QueryBuilder::<Sqlite>::new("SELECT COUNT(*) FROM (");
                candidates.push_probe(&mut count, text);
                if let Some(range) = id_prefix_range(text) {
                    push_id_candidates(&mut count, &range);
                }
                count.push(" LIMIT ").push_bind(FEW_MATCHES).push(")");
                let found: i64 = count.build_query_scalar().fetch_one(&self.read).await?;
                (found < FEW_MATCHES).then_some(candidates)
            }
            None => None,
        };
        Ok(Some(Search { text, indexed }))
    }
}
