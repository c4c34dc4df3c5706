//! Each agent's place in name order on SQLite: `name_rank`, the rowid of its name in the
//! trigram index (migration 0011), so a search reads its matches in name order.
//!
//! Ranks follow `agents_by_name`: name, then Sekuire ID, bytewise. They are sparse, so a
//! new name takes the midpoint of its neighbours' ranks and moves nothing. When the two
//! neighbours' ranks are adjacent, [`spread`] spaces out the ranks of the names around the
//! new one again, over a range wide enough to take many more (the classic answer to
//! keeping order labels, as in Bender et al., "Two simplified algorithms for maintaining
//! order in a list"). Each rank moved rewrites one row of the trigram index, so a name
//! usually costs none, and a run of names inserted at one place costs a few moves each.
//!
//! Writers are serialized (SQLite has one), so placing a name and writing it in the same
//! transaction cannot race another placement.

use crate::error::{AppError, AppResult};
use sqlx::SqliteConnection;

/// The rank of the first name in an empty fleet: the middle of the range.
const FIRST: i64 = 1 << 62;

/// How far past the last (or before the first) name a new last (or first) name goes:
/// names that arrive in order (`agent-0001`, `agent-0002`, …) then never need a spread.
const STEP: i64 = 1 << 32;

/// The gap a spread leaves between ranks at least: room for 20 more names in each.
const SPREAD_GAP: i64 = 1 << 20;

/// How many names on each side of the new one a spread first moves; it reaches four times
/// as far each time the range they hold is too narrow.
const FIRST_REACH: usize = 16;

/// A rank no name holds, where [`park`] keeps a renamed agent's row while its new place
/// is found. Ranks are positive.
const PARKED: i64 = -1;

/// One side of a name's place in the order.
#[derive(Clone, Copy)]
enum Side {
    Before,
    After,
}

/// The rank for a name `name` of agent `sekuire_id` that is not yet in the order: a new
/// agent, or a renamed one after [`park`]. Moves other ranks when it must.
pub(super) async fn place(
    conn: &mut SqliteConnection,
    name: &str,
    sekuire_id: &str,
) -> AppResult<i64> {
    match place_sorted(conn, &[(name, sekuire_id)]).await?[..] {
        [Some(rank)] => Ok(rank),
        _ => spread(conn, name, sekuire_id).await,
    }
}

/// Ranks for many new names at once, given sorted by (name, Sekuire ID): one read of the
/// names around them, then the names that fall between the same two neighbours share
/// that gap evenly. `None` for a name whose gap is too narrow for all that fall in it;
/// the caller writes the others, then places those one by one ([`place`] spreads). A
/// name's own agent (a renamed one, parked) is not its neighbour.
pub(super) async fn place_sorted(
    conn: &mut SqliteConnection,
    names: &[(&str, &str)],
) -> AppResult<Vec<Option<i64>>> {
    let around: Vec<(Option<i64>, Option<i64>)> = sqlx::query_as(
        "SELECT (SELECT name_rank FROM agents INDEXED BY agents_by_name \
             WHERE (name, sekuire_id) < (j.value ->> 0, j.value ->> 1) \
             AND sekuire_id <> j.value ->> 1 ORDER BY name DESC, sekuire_id DESC LIMIT 1), \
         (SELECT name_rank FROM agents INDEXED BY agents_by_name \
             WHERE (name, sekuire_id) > (j.value ->> 0, j.value ->> 1) \
             AND sekuire_id <> j.value ->> 1 ORDER BY name ASC, sekuire_id ASC LIMIT 1) \
         FROM json_each(?) AS j ORDER BY j.key",
    )
    .bind(serde_json::to_string(names).map_err(|e| AppError::Internal(e.into()))?)
    .fetch_all(conn)
    .await?;
    let mut ranks = Vec::with_capacity(names.len());
    for run in around.chunk_by(|a, b| a == b) {
        let (prev, next) = run[0];
        let places = run.len() as i64 + 1;
        // The rank of the `k`th name of the run, counting from 1, or None if it is taken.
        let step = match (prev, next) {
            (None, None) => STEP,
            (Some(prev), None) => STEP.min((i64::MAX - prev) / places),
            (None, Some(next)) => STEP.min(next / places),
            (Some(prev), Some(next)) => (next - prev) / places,
        };
        let first = match (prev, next) {
            (None, None) => FIRST,
            (Some(prev), _) => prev + step,
            (None, Some(next)) => next - (places - 1) * step,
        };
        ranks.extend((0..run.len() as i64).map(|k| (step > 0).then_some(first + k * step)));
    }
    Ok(ranks)
}

/// Takes a renamed agent's row out of the order, so that [`place`] can find its new place
/// and move the ranks around it freely. Its rank is written again with its new name.
pub(super) async fn park(conn: &mut SqliteConnection, sekuire_id: &str) -> AppResult<()> {
    sqlx::query("UPDATE agents SET name_rank = ? WHERE sekuire_id = ?")
        .bind(PARKED)
        .bind(sekuire_id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Up to `limit` names next to `name` on `side`, nearest first, as (Sekuire ID, rank);
/// `sekuire_id`'s own row is not one of them.
async fn neighbours(
    conn: &mut SqliteConnection,
    name: &str,
    sekuire_id: &str,
    side: Side,
    limit: usize,
) -> AppResult<Vec<(String, i64)>> {
    let (cmp, dir) = match side {
        Side::Before => ("<", "DESC"),
        Side::After => (">", "ASC"),
    };
    Ok(sqlx::query_as(&format!(
        "SELECT sekuire_id, name_rank FROM agents INDEXED BY agents_by_name \
         WHERE (name, sekuire_id) {cmp} (?1, ?2) AND sekuire_id <> ?2 \
         ORDER BY name {dir}, sekuire_id {dir} LIMIT ?3"
    ))
    .bind(name)
    .bind(sekuire_id)
    .bind(limit as i64)
    .fetch_all(conn)
    .await?)
}

/// Spaces out the ranks of the names around a new one, and returns the new one's rank.
///
/// The names within `reach` on each side are given evenly spaced ranks between the ranks
/// of the next names out, which stay; `reach` grows until that range leaves
/// [`SPREAD_GAP`] between ranks, or holds the whole fleet.
async fn spread(conn: &mut SqliteConnection, name: &str, sekuire_id: &str) -> AppResult<i64> {
    let mut reach = FIRST_REACH;
    loop {
        let before = neighbours(conn, name, sekuire_id, Side::Before, reach + 1).await?;
        let after = neighbours(conn, name, sekuire_id, Side::After, reach + 1).await?;
        // The next name out on each side keeps its rank; without one, the range's end.
        let low = before.get(reach).map_or(0, |n| n.1);
        let high = after.get(reach).map_or(i64::MAX, |n| n.1);
        // In name order: the names before (nearest last), the new one, the names after.
        let moved: Vec<(Option<&str>, i64)> = before
            .iter()
            .take(reach)
            .rev()
            .map(|(id, rank)| (Some(id.as_str()), *rank))
            .chain([(None, 0)])
            .chain(
                after
                    .iter()
                    .take(reach)
                    .map(|(id, rank)| (Some(id.as_str()), *rank)),
            )
            .collect();
        let gap = (high - low) / (moved.len() as i64 + 1);
        let whole_fleet = before.len() <= reach && after.len() <= reach;
        if gap < SPREAD_GAP && !whole_fleet {
            reach *= 4;
            continue;
        }
        if gap == 0 {
            return Err(AppError::Internal(anyhow::anyhow!(
                "no rank left between two names: the fleet is past 2^62 agents"
            )));
        }
        let ranks: Vec<i64> = (1..=moved.len() as i64).map(|i| low + i * gap).collect();
        reassign(conn, &moved, &ranks).await?;
        let new = before.len().min(reach);
        return Ok(ranks[new]);
    }
}

/// Gives each of `moved` (in name order; `None` is the name being placed) its rank in
/// `ranks`, in an order in which no rank is ever held twice: the trigram index's rowids
/// are unique. Ranks that fall are written first, lowest first, then ranks that rise,
/// highest first; each goes to a place that no unwritten rank still holds.
async fn reassign(
    conn: &mut SqliteConnection,
    moved: &[(Option<&str>, i64)],
    ranks: &[i64],
) -> AppResult<()> {
    let falls = (0..moved.len()).filter(|&i| ranks[i] < moved[i].1);
    let rises = (0..moved.len()).rev().filter(|&i| ranks[i] > moved[i].1);
    for i in falls.chain(rises) {
        let Some(id) = moved[i].0 else { continue };
        sqlx::query("UPDATE agents SET name_rank = ? WHERE sekuire_id = ?")
            .bind(ranks[i])
            .bind(id)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::agents::NewAgent;
    use super::super::sqlite::SqliteStore;
    use super::*;

    fn agent(name: &str, id: usize) -> NewAgent {
        NewAgent::active(format!("{id:064x}"), name, 0)
    }

    /// Every agent's rank, in name order, and the trigram index's rows, in rowid order.
    async fn ranks_and_index(store: &SqliteStore) -> (Vec<(i64, String)>, Vec<(i64, String)>) {
        let ranks =
            sqlx::query_as("SELECT name_rank, sekuire_id FROM agents ORDER BY name, sekuire_id")
                .fetch_all(&store.read)
                .await
                .unwrap();
        let index =
            sqlx::query_as("SELECT rowid, sekuire_id FROM agents_name_trigrams ORDER BY rowid")
                .fetch_all(&store.read)
                .await
                .unwrap();
        (ranks, index)
    }

    #[tokio::test]
    async fn ranks_follow_name_order_however_names_arrive() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("r.db")).await.unwrap();
        let mut id = 0;
        let mut one_at_a_time = |names: Vec<String>| {
            names
                .into_iter()
                .map(|name| {
                    id += 1;
                    agent(&name, id)
                })
                .collect::<Vec<_>>()
        };
        // Names in order, at the end; then before the first, in reverse; then a run of
        // 200 into one gap, each just after the last, which halves the gap each time and
        // so needs spreads (a gap of 2^32 takes 32 halvings); then the same name 50 times,
        // ordered by ID; then a batch in no order.
        let arrivals = [
            one_at_a_time((0..100).map(|i| format!("m-{i:03}")).collect()),
            one_at_a_time((0..100).rev().map(|i| format!("a-{i:03}")).collect()),
            one_at_a_time((0..200).map(|i| format!("m-000-{i:03}")).collect()),
            one_at_a_time((0..50).map(|_| "same".to_owned()).collect()),
        ];
        for agents in &arrivals {
            for agent in agents {
                store
                    .insert_agents(std::slice::from_ref(agent))
                    .await
                    .unwrap();
            }
        }
        let batch: Vec<NewAgent> = (0..500)
            .map(|i| agent(&format!("m-{:03}", (i * 7919) % 1000), 10_000 + i))
            .collect();
        store.insert_agents(&batch).await.unwrap();

        let (ranks, index) = ranks_and_index(&store).await;
        assert_eq!(ranks.len(), 950);
        assert!(
            ranks.windows(2).all(|w| w[0].0 < w[1].0),
            "ranks rise with (name, Sekuire ID)"
        );
        assert!(ranks.iter().all(|(rank, _)| *rank > 0));
        assert_eq!(
            index, ranks,
            "the index is keyed by rank, and in name order"
        );
    }

    #[tokio::test]
    async fn a_spread_moves_the_names_around_a_full_gap_and_keeps_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("r.db")).await.unwrap();
        let fleet: Vec<NewAgent> = (0..100).map(|i| agent(&format!("n-{i:03}"), i)).collect();
        store.insert_agents(&fleet).await.unwrap();
        // Make n-050 and n-051 adjacent, as 32 halvings of their gap would.
        sqlx::query(
            "UPDATE agents SET name_rank = \
             (SELECT name_rank + 1 FROM agents WHERE name = 'n-050') WHERE name = 'n-051'",
        )
        .execute(&store.write)
        .await
        .unwrap();
        let (before, _) = ranks_and_index(&store).await;
        let mut conn = store.write.acquire().await.unwrap();
        let rank = place(&mut conn, "n-050-x", &format!("{:064x}", 1_000))
            .await
            .unwrap();
        drop(conn);
        let (after, index) = ranks_and_index(&store).await;
        assert_eq!(index, after);
        let (n050, n051) = (after[50].0, after[51].0);
        assert!(n050 < rank && rank < n051, "{n050} < {rank} < {n051}");
        assert!(
            rank - n050 >= SPREAD_GAP && n051 - rank >= SPREAD_GAP,
            "room on both sides"
        );
        // The 16 names on each side moved; the rest kept their ranks.
        let moved: Vec<usize> = (0..100).filter(|&i| after[i] != before[i]).collect();
        assert!(moved.iter().all(|&i| (35..=66).contains(&i)), "{moved:?}");
        assert!(moved.contains(&51));
    }

    #[tokio::test]
    async fn the_database_refuses_a_name_without_its_rank() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("r.db")).await.unwrap();
        store.insert_agents(&[agent("kept", 1)]).await.unwrap();
        let unranked = sqlx::query(
            "INSERT INTO agents (sekuire_id, name, version, runtime_status, \
             verification_status, reputation_score, created_at, updated_at) \
             VALUES ('ab', 'unranked', '1', 'active', 'verified', 50, 0, 0)",
        )
        .execute(&store.write)
        .await;
        let renamed = sqlx::query("UPDATE agents SET name = 'zzz' WHERE name = 'kept'")
            .execute(&store.write)
            .await;
        for refused in [unranked, renamed] {
            let message = refused.unwrap_err().to_string();
            assert!(message.contains("rank in name order"), "{message}");
        }
    }

    #[tokio::test]
    async fn a_batch_into_a_full_gap_is_placed_one_by_one() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("r.db")).await.unwrap();
        store
            .insert_agents(&[agent("b", 1), agent("d", 2)])
            .await
            .unwrap();
        sqlx::query(
            "UPDATE agents SET name_rank = (SELECT name_rank + 3 FROM agents WHERE name = 'b') \
             WHERE name = 'd'",
        )
        .execute(&store.write)
        .await
        .unwrap();
        // 20 names between "b" and "d", whose ranks leave room for 2; and 3 after "d".
        let batch: Vec<NewAgent> = (0..20)
            .map(|i| agent(&format!("c-{i:02}"), 10 + i))
            .chain((0..3).map(|i| agent(&format!("e-{i}"), 100 + i)))
            .collect();
        store.insert_agents(&batch).await.unwrap();
        let (ranks, index) = ranks_and_index(&store).await;
        assert_eq!(ranks.len(), 25);
        assert!(ranks.windows(2).all(|w| w[0].0 < w[1].0));
        assert_eq!(index, ranks);
    }
}
