//! The exact row counts of a backup's baseline, read while pg_dump runs instead of before it.
//!
//! The backup's repeatable-read transaction exports its snapshot and pg_dump imports it
//! (`--snapshot`, every format, with `--jobs` too, servers 9.2+): both see the same rows, so
//! the counts describe exactly what the dump holds whenever they are read inside that
//! transaction. Read before pg_dump starts they add a full scan of every table to the backup's
//! time; read on the transaction's own connection while pg_dump runs, the scan overlaps the
//! dump. So do the manifest's other facts (sequences, roles, settings, sizes): only the list of
//! tables is read before pg_dump starts. Many tables are counted in batches (one query of many `count(*)` subqueries), not one
//! round trip each: a database of 2,000 small tables pays for 20 queries, not 2,000.

use std::future::Future;

use tokio_postgres::GenericClient;
use tokio_util::sync::CancellationToken;

use crate::base::error::{Error, Result};
use crate::format::manifest::TableRows;
use crate::pg::connect::query_error;
use crate::pg::inventory::{COUNT_BATCH, Counting, count_batch};

/// Runs `dump` and, beside it on `client` (the transaction whose snapshot the dump imported),
/// first `facts` (the manifest's other facts, read in the same snapshot) and then the exact
/// `count(*)` of every table in `tables` whose `rows` is `Some` (the scope carries its rows).
/// Returns the dump's result, the facts and the counts in the order of those tables. A failure
/// of either side stops the other; a cancel stops the reads on `client` (the dump watches it
/// itself).
pub(crate) async fn beside<D, F>(
    dump: impl Future<Output = Result<D>>,
    facts: impl Future<Output = Result<F>>,
    client: &impl GenericClient,
    tables: &[TableRows],
    cancel: &CancellationToken,
) -> Result<(D, F, Vec<i64>)> {
    let in_snapshot = async {
        let work = async {
            let facts = facts.await?;
            // One process per count, not parallel workers: the scan shares the CPU with the
            // dump it runs beside, and more processes scanning would take more turns from the
            // server process that feeds pg_dump. Local to the transaction.
            client
                .batch_execute("SET LOCAL max_parallel_workers_per_gather = 0")
                .await
                .map_err(|e| query_error(&e))?;
            let counts = count_rows(client, tables).await?;
            Ok((facts, counts))
        };
        tokio::select! {
            done = work => done,
            () = cancel.cancelled() => Err(Error::Cancelled),
        }
    };
    let (dumped, (facts, counts)) = tokio::try_join!(dump, in_snapshot)?;
    Ok((dumped, facts, counts))
}

/// Puts counts from [`beside`] into the tables they were read for.
pub(crate) fn fill(tables: &mut [TableRows], counts: Vec<i64>) {
    let counted = tables.iter_mut().filter(|t| t.rows.is_some());
    for (table, rows) in counted.zip(counts) {
        table.rows = Some(rows);
    }
}

/// The exact `count(*) FROM ONLY` of each table whose rows the dump carries, in batches.
pub(crate) async fn count_rows(
    client: &impl GenericClient,
    tables: &[TableRows],
) -> Result<Vec<i64>> {
    let counted: Vec<&TableRows> = tables.iter().filter(|t| t.rows.is_some()).collect();
    let mut counts = Vec::with_capacity(counted.len());
    for batch in counted.chunks(COUNT_BATCH) {
        let named = batch.iter().map(|t| (t.schema.as_str(), t.table.as_str()));
        counts
            .extend(count_batch(client, named, Counting::Own).await.map_err(|e| query_error(&e))?);
    }
    Ok(counts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pg::inventory::count_batch_sql;

    /// One query counting `batch`, each table the same way the drill counts the restored copy.
    fn batch_sql(batch: &[&TableRows]) -> String {
        count_batch_sql(batch.iter().map(|t| (t.schema.as_str(), t.table.as_str())), Counting::Own)
    }

    fn table(schema: &str, table: &str, counted: bool) -> TableRows {
        TableRows {
            schema: schema.into(),
            table: table.into(),
            rows: counted.then_some(0),
            roles_in_data: Vec::new(),
        }
    }

    #[test]
    fn a_batch_counts_each_table_on_its_own_quoted() {
        let a = table("public", "a", true);
        let b = table("odd \"schema\"", "we ird", true);
        assert_eq!(
            batch_sql(&[&a, &b]),
            "SELECT (SELECT count(*) FROM ONLY \"public\".\"a\"), \
             (SELECT count(*) FROM ONLY \"odd \"\"schema\"\"\".\"we ird\")"
        );
    }

    #[test]
    fn counts_go_to_the_tables_they_were_read_for() {
        let mut tables = vec![table("s", "a", true), table("s", "b", false), table("s", "c", true)];
        fill(&mut tables, vec![7, 9]);
        let rows: Vec<Option<i64>> = tables.iter().map(|t| t.rows).collect();
        assert_eq!(rows, vec![Some(7), None, Some(9)]);
    }
}
