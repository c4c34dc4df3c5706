//! A search's first matches in name order, gathered from the words of the names
//! (migration 0013) when it is letters and digits, or else from `agent_names`.
//!
//! A search of letters and digits lies inside one run of letters and digits of each name
//! it matches, so its matches are the names of the vocabulary's words that hold it.
//! `name_words` keeps each word's names in name order, so the first `n` matches after a
//! cursor are among the first `n` names of each such word: a page of `se` at a million
//! agents reads 51 names from each of three words (0.3 ms), where the gather read and
//! sorted all 150,000 matches (98 ms). A search that many words hold (a digit, in a fleet
//! numbered into the thousands) is gathered this way from [`MAX_WORDS`] words at most,
//! and from `agent_names` past that, as a search with any other character is.

use super::fleet_list::push_search;
use super::PostgresStore;
use crate::error::AppResult;
use crate::store::fleet_query::{following, id_prefix_range, order_by, Cursor};
use crate::store::list_plan::push_id_range;
use fleet_protocol::AgentSort;
use sqlx::{Postgres, QueryBuilder};

/// The most words of the vocabulary a search is gathered through; each is one index
/// range of `name_words`.
const MAX_WORDS: i64 = 64;

/// Where a search's first matches in name order are gathered from.
pub(super) enum Gathering {
    /// The words of the vocabulary that hold the search, lowercased.
    Words(Vec<String>),
    /// `agent_names`, through its trigram index or a scan.
    Names,
}

impl Gathering {
    /// Whether a search by name tests the first names in order before it gathers: not
    /// when it is gathered through the vocabulary, which reads no more than its page,
    /// unless it is one or two hex digits, as the agents whose IDs start with it are
    /// gathered too (one in 16 or 256 of the fleet) and most of the first names hold it.
    pub(super) fn walks_first(&self, q: &str) -> bool {
        match self {
            Gathering::Names => true,
            Gathering::Words(_) => q.len() < 3 && id_prefix_range(q).is_some(),
        }
    }
}

impl PostgresStore {
    /// Where the matches of the search `q` are gathered from: the vocabulary's words that
    /// hold it, when `q` is ASCII letters and digits and at most [`MAX_WORDS`] words do.
    pub(super) async fn gathering(&self, q: &str) -> AppResult<Gathering> {
        if q.is_empty() || !q.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Ok(Gathering::Names);
        }
        // One or two characters have no trigram: the index of pieces holds them.
        let q = q.to_ascii_lowercase();
        let mut words = QueryBuilder::<Postgres>::new("SELECT word FROM name_vocabulary WHERE ");
        if q.len() <= 2 {
            words
                .push("agent_name_pieces(word) @> ARRAY[")
                .push_bind(q.clone())
                .push("]::text[] AND ");
        }
        words
            .push("word LIKE ")
            .push_bind(format!("%{q}%"))
            .push(" LIMIT ")
            .push_bind(MAX_WORDS + 1);
        let words: Vec<String> = words
            .build_query_scalar()
            .persistent(false)
            .fetch_all(&self.pool)
            .await?;
        Ok(if words.len() as i64 > MAX_WORDS {
            Gathering::Names
        } else {
            Gathering::Words(words)
        })
    }
}

/// `(…) AS {alias}`: the Sekuire IDs and names of the first `round` matches of the search
/// `q` in `sort` after `after`, an order by name, gathered as `gathering` says.
pub(super) fn push_first_matches(
    qb: &mut QueryBuilder<'_, Postgres>,
    q: &str,
    gathering: &Gathering,
    after: Option<&Cursor>,
    sort: AgentSort,
    round: i64,
    alias: &str,
) {
    let order = order_by("name", sort);
    match gathering {
        Gathering::Names => {
            qb.push("(SELECT sekuire_id, name FROM agent_names WHERE ");
            push_search(qb, q, None);
            push_after(qb, after, sort);
        }
        Gathering::Words(words) => {
            // A name with two of the words comes once; so does an agent whose ID also
            // starts with the search.
            qb.push(
                "(SELECT DISTINCT sekuire_id, name FROM (SELECT held.sekuire_id, held.name \
                 FROM unnest(",
            )
            .push_bind(words.clone())
            .push(
                "::text[]) AS vocabulary (word), LATERAL (SELECT sekuire_id, name \
                 FROM name_words WHERE name_words.word = vocabulary.word",
            );
            push_after(qb, after, sort);
            qb.push(&order)
                .push(" LIMIT ")
                .push_bind(round)
                .push(") AS held");
            if let Some(range) = id_prefix_range(q) {
                qb.push(" UNION ALL SELECT sekuire_id, name FROM agent_names WHERE ");
                push_id_range(qb, &range);
                push_after(qb, after, sort);
            }
            qb.push(") AS matches WHERE TRUE");
        }
    }
    qb.push(&order)
        .push(" LIMIT ")
        .push_bind(round)
        .push(format!(") AS {alias}"));
}

/// ` AND (name, sekuire_id)` past `after`, when there is a cursor, in `sort`.
pub(super) fn push_after(
    qb: &mut QueryBuilder<'_, Postgres>,
    after: Option<&Cursor>,
    sort: AgentSort,
) {
    if let Some(after) = after {
        after.push_bound(qb, "name", following(sort));
    }
}
