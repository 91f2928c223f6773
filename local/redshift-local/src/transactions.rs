//! Transactions as Redshift runs them: the isolation level of the target, the table lock every
//! write takes first, and the statements that need a transaction block here.
//!
//! - Isolation: a provisioned cluster runs SERIALIZABLE, a Serverless workgroup SNAPSHOT (each
//!   database's default; `--isolation` overrides both). PostgreSQL's REPEATABLE READ is snapshot
//!   isolation: a transaction reads the snapshot of its first statement, and of two concurrent
//!   writers of the same rows the later one fails.
//! - Locks (STV_LOCKS): reads take AccessShareLock, COPY, INSERT, UPDATE and DELETE take
//!   ShareRowExclusiveLock on their table before they run, LOCK takes AccessExclusiveLock. So
//!   writers of one table queue behind each other (PostgreSQL's own row locks would let them run
//!   side by side), and two transactions writing two tables in opposite orders deadlock; one of
//!   them fails with Redshift's `deadlock detected`.

use crate::backend::{self, ConflictWords};
use crate::identity::{self, DbUser};

/// The isolation level a statement's transaction runs at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Isolation {
    Serializable,
    Snapshot,
}

impl Isolation {
    /// The level of a target: a workgroup's SNAPSHOT or a cluster's SERIALIZABLE, unless the
    /// stand-in was told one level for both.
    pub fn of_target(is_workgroup: bool, forced: Option<Isolation>) -> Self {
        forced.unwrap_or(if is_workgroup {
            Isolation::Snapshot
        } else {
            Isolation::Serializable
        })
    }

    /// `serializable` or `snapshot`, as Redshift's `ISOLATION LEVEL` clause names them.
    pub fn parse(text: &str) -> Option<Self> {
        match text.to_ascii_lowercase().as_str() {
            "serializable" => Some(Isolation::Serializable),
            "snapshot" => Some(Isolation::Snapshot),
            _ => None,
        }
    }

    pub fn begin(self) -> &'static str {
        match self {
            Isolation::Serializable => "BEGIN ISOLATION LEVEL SERIALIZABLE",
            Isolation::Snapshot => "BEGIN ISOLATION LEVEL REPEATABLE READ",
        }
    }

    /// How a lost conflict is worded at this level.
    pub fn conflict_words(self) -> ConflictWords {
        match self {
            Isolation::Serializable => ConflictWords::Serializable,
            Isolation::Snapshot => ConflictWords::Snapshot,
        }
    }
}

/// The lock a write takes on its table first, in PostgreSQL's words.
pub fn write_lock(table: &str) -> String {
    format!("LOCK TABLE {table} IN SHARE ROW EXCLUSIVE MODE")
}

/// Whether `table` exists, as the warehouse's admin sees it.
pub async fn exists(client: &tokio_postgres::Client, table: &str) -> Result<bool, String> {
    let row = client
        .query_one("SELECT to_regclass($1) IS NOT NULL", &[&table])
        .await
        .map_err(|err| err.to_string())?;
    Ok(row.get(0))
}

/// Takes the write lock on `table` inside the open transaction, for `user`. The lock is taken as
/// the admin: PostgreSQL's LOCK TABLE in this mode asks for UPDATE, DELETE or TRUNCATE privilege,
/// while Redshift takes it for any write the user may make (INSERT alone included); the write
/// itself is then checked as the user.
pub async fn lock_for_write(
    client: &tokio_postgres::Client,
    table: &str,
    user: &DbUser,
    isolation: Isolation,
) -> Result<(), String> {
    let lock = write_lock(table);
    let sql = match user {
        DbUser::Admin => lock,
        DbUser::User(name) => format!("RESET ROLE; {lock}; SET ROLE {}", identity::quoted(name)),
    };
    client
        .batch_execute(&sql)
        .await
        .map_err(|err| backend::error_text_at(&err, isolation.conflict_words()))
}
