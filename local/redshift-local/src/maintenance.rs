//! Redshift's automatic table maintenance, which the embedded PostgreSQL does not do by itself
//! (it runs no background workers, so no autovacuum):
//! - **vacuum delete**: "Amazon Redshift automatically runs a VACUUM DELETE operation in the
//!   background based on the number of deleted rows in database tables" ("Vacuuming tables").
//!   Without it every row an UPDATE or DELETE replaced stayed in its table's pages and every later
//!   scan read it again: a million-song first load left its ledger at 4.5 GiB for 1 M live rows,
//!   and a scan of it at a second.
//! - **analyze**: "Amazon Redshift continuously monitors your database and automatically performs
//!   analyze operations in the background" ("Analyzing tables", Automatic analyze). Without
//!   statistics PostgreSQL plans a freshly loaded table by its size alone, and hashed a million
//!   catalogue songs to join a few hundred new plays to them.
//!
//! After a transaction commits, the rows its statements wrote are added to their tables' counts;
//! a table whose deleted and updated rows pass PostgreSQL's own autovacuum threshold (50 plus a
//! fifth of its rows as the catalogue last counted them) is vacuumed, and one whose written rows
//! pass its analyze threshold (50 plus a tenth) is analyzed; AWS gives no numbers. **Known
//! difference**: Redshift does both later, in the background; here they run before the statement
//! reads as finished, so their time shows in the statement that crossed the threshold. A
//! maintenance command that fails is only logged: it changes no row.
//!
//! After every commit, each table it wrote also has its zone maps ([`crate::zone_maps`]) brought
//! up to date, as Redshift's are with every block it writes.

use std::collections::HashMap;
use std::sync::Mutex;

/// Summarises the blocks `table`'s zone maps ([`crate::zone_maps`]) do not cover yet, the last
/// partly filled range included; nothing for a table without them, or one the session's user
/// does not own (PostgreSQL lets only its owner summarise an index: a later commit of its
/// owner's does). In a transaction of its own that waits at most 100 ms for the table's lock.
fn summarize_zone_maps(table: &str) -> String {
    format!(
        "BEGIN; SET LOCAL lock_timeout = '100ms'; \
         SELECT brin_summarize_new_values(i.indexrelid) \
         FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid \
         JOIN pg_am am ON am.oid = c.relam AND am.amname = 'brin' \
         JOIN pg_class t ON t.oid = i.indrelid \
         WHERE i.indrelid = to_regclass('{}') AND pg_has_role(t.relowner, 'USAGE'); COMMIT;",
        table.replace('\'', "''")
    )
}

/// What one statement of a transaction wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    /// The table, as the statement names it.
    pub table: String,
    /// The rows it inserted, updated, deleted or loaded.
    pub rows: i64,
    /// An UPDATE or DELETE: the rows it replaced or removed stay until a vacuum.
    pub leaves_dead_rows: bool,
}

/// Rows written to each table since its last vacuum and its last analyze.
#[derive(Debug, Default, Clone, Copy)]
struct Pending {
    dead: i64,
    changed: i64,
}

/// The tables' counts, for one stand-in.
#[derive(Debug, Default)]
pub struct Maintenance {
    tables: Mutex<HashMap<String, Pending>>,
}

impl Maintenance {
    /// Adds a committed transaction's writes, then vacuums and analyzes what passed its threshold.
    pub async fn after_commit(&self, client: &tokio_postgres::Client, written: &[Written]) {
        let mut due: Vec<(String, Pending)> = Vec::new();
        {
            let mut tables = self.tables.lock().expect("maintenance lock");
            for write in written {
                let pending = tables.entry(write.table.clone()).or_default();
                pending.changed += write.rows.max(0);
                if write.leaves_dead_rows {
                    pending.dead += write.rows.max(0);
                }
            }
            for write in written {
                if !due.iter().any(|(table, _)| *table == write.table) {
                    due.push((write.table.clone(), tables[&write.table]));
                }
            }
        }
        for (table, pending) in due {
            let live = client
                .query_opt(
                    "SELECT GREATEST(reltuples, 0)::BIGINT, relpersistence = 't' \
                     FROM pg_class WHERE oid = to_regclass($1)",
                    &[&table],
                )
                .await;
            let live: i64 = match live {
                Ok(Some(row)) if !row.get::<_, bool>(1) => row.get(0),
                // A temporary table goes with its session (or has gone): nothing to keep.
                Ok(_) => {
                    self.tables.lock().expect("maintenance lock").remove(&table);
                    continue;
                }
                Err(err) => {
                    let error = crate::backend::error_text(&err);
                    tracing::warn!(table, %error, "could not count the table's rows");
                    continue;
                }
            };
            // Redshift writes a block's zone map with the block; a BRIN index leaves the blocks
            // added since its last summary unsummarised, read by every scan, until told. The
            // summary waits for no other writer of the table (its lock conflicts with theirs): a
            // table busy now is summarised after a later commit, and its new blocks are read
            // whole until then, which changes no result.
            if let Err(err) = client.batch_execute(&summarize_zone_maps(&table)).await {
                let _ = client.batch_execute("ROLLBACK").await;
                let error = crate::backend::error_text(&err);
                tracing::info!(table, %error, "zone maps left for a later commit");
            }
            let vacuum = pending.dead > 50 + live / 5;
            let analyze = pending.changed > 50 + live / 10;
            let command = match (vacuum, analyze) {
                (true, true) => format!("VACUUM (ANALYZE) {table}"),
                (true, false) => format!("VACUUM {table}"),
                (false, true) => format!("ANALYZE {table}"),
                (false, false) => continue,
            };
            let started = std::time::Instant::now();
            match client.batch_execute(&command).await {
                Ok(()) => {
                    let mut tables = self.tables.lock().expect("maintenance lock");
                    let counts = tables.entry(table.clone()).or_default();
                    if vacuum {
                        counts.dead = 0;
                    }
                    if analyze {
                        counts.changed = 0;
                    }
                    tracing::info!(
                        table,
                        vacuum,
                        analyze,
                        dead = pending.dead,
                        changed = pending.changed,
                        live,
                        millis = started.elapsed().as_millis() as u64,
                        "automatic table maintenance"
                    );
                }
                Err(err) => {
                    let error = crate::backend::error_text(&err);
                    tracing::warn!(table, %error, command, "automatic table maintenance failed")
                }
            }
        }
    }
}
