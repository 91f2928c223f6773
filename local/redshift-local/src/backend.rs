//! The PostgreSQL behind the stand-in: a few connections to one server (external, or the embedded
//! one), statements run through them, and results typed as the Data API returns them.

use crate::dialect::Translated;
use serde::Serialize;
use serde_json::{Value, json};
use std::sync::Mutex;
use tokio::sync::{Semaphore, SemaphorePermit};
use tokio_postgres::types::{FromSql, Type};
use tokio_postgres::{Client, GenericClient, NoTls};

/// A fixed number of connections to one PostgreSQL server, opened on demand and reopened when
/// one breaks.
pub struct Pool {
    url: String,
    idle: Mutex<Vec<Client>>,
    permits: Semaphore,
}

/// A connection taken from the pool; it goes back when dropped (unless it broke).
pub struct Conn<'a> {
    pool: &'a Pool,
    client: Option<Client>,
    _permit: SemaphorePermit<'a>,
}

impl Pool {
    /// Checks that the server answers, then keeps up to `size` connections to it.
    pub async fn connect(url: &str, size: usize) -> Result<Self, String> {
        let pool = Pool {
            url: url.to_owned(),
            idle: Mutex::new(Vec::new()),
            permits: Semaphore::new(size.max(1)),
        };
        let first = pool.open().await?;
        pool.idle.lock().expect("pool lock").push(first);
        Ok(pool)
    }

    async fn open(&self) -> Result<Client, String> {
        let (client, connection) = tokio_postgres::connect(&self.url, NoTls)
            .await
            .map_err(|err| format!("ERROR: connection to the database failed: {err}"))?;
        tokio::spawn(async move {
            if let Err(err) = connection.await {
                tracing::warn!(error = %err, "database connection closed");
            }
        });
        // Redshift joins tables by hash or merge (it has no indexes; a nested loop is what it
        // falls back to without an equality condition, and flags). PostgreSQL, without
        // statistics on freshly loaded tables, picks nested loops for the anti-joins of
        // copy-staging's plans, which makes them quadratic: at 238,336 songs one took minutes.
        // It still nests a loop where nothing else can join.
        client
            .batch_execute("SET enable_nestloop = off")
            .await
            .map_err(|err| error_text(&err))?;
        Ok(client)
    }

    /// Ends `client`'s session from another connection, as a restarting warehouse node would;
    /// the pool replaces the connection once it is given back.
    pub async fn terminate(&self, client: &Client) -> Result<(), String> {
        let pid: i32 = client
            .query_one("SELECT pg_backend_pid()", &[])
            .await
            .map_err(|err| error_text(&err))?
            .get(0);
        let killer = self.open().await?;
        killer
            .execute("SELECT pg_terminate_backend($1)", &[&pid])
            .await
            .map_err(|err| error_text(&err))?;
        // The session is gone once the server has removed it.
        for _ in 0..100 {
            if client.is_closed() || client.simple_query("SELECT 1").await.is_err() {
                return Ok(());
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        Err(format!("session {pid} outlived pg_terminate_backend"))
    }

    /// Waits for a free connection.
    pub async fn get(&self) -> Result<Conn<'_>, String> {
        let permit = self
            .permits
            .acquire()
            .await
            .expect("the pool is never closed");
        let reusable = {
            let mut idle = self.idle.lock().expect("pool lock");
            std::iter::from_fn(|| idle.pop()).find(|client| !client.is_closed())
        };
        let client = match reusable {
            Some(client) => client,
            None => self.open().await?,
        };
        Ok(Conn {
            pool: self,
            client: Some(client),
            _permit: permit,
        })
    }
}

impl Conn<'_> {
    pub fn client(&mut self) -> &mut Client {
        self.client.as_mut().expect("present until dropped")
    }

    /// Ends the session instead of giving the connection back to the pool.
    pub fn close(&mut self) {
        self.client = None;
    }
}

impl Drop for Conn<'_> {
    fn drop(&mut self) {
        if let Some(client) = self.client.take()
            && !client.is_closed()
        {
            self.pool.idle.lock().expect("pool lock").push(client);
        }
    }
}

/// One column of a result, as the Data API's `ColumnMetadata`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ColumnMetadata {
    pub name: String,
    pub label: String,
    pub type_name: String,
    pub nullable: i32,
    pub is_signed: bool,
    pub is_case_sensitive: bool,
    pub is_currency: bool,
    pub precision: i32,
    pub scale: i32,
    pub length: i32,
    pub schema_name: String,
    pub table_name: String,
}

/// The rows of a finished statement: Data API `Field`s (`{"longValue": 3}`, `{"isNull": true}`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ResultSet {
    pub columns: Vec<ColumnMetadata>,
    pub rows: Vec<Vec<Value>>,
}

/// The Data API's limits on a result set, as the Redshift Management Guide states them: "The Data
/// API size limit is 64 KB per row in the result set returned by the database", and 100 MB in all
/// (the guide's 2023 text; the current page says 500 MB: the stricter figure holds here).
pub const MAX_RESULT_ROW_BYTES: usize = 64 * 1024;
pub const MAX_RESULT_BYTES: usize = 100 * 1024 * 1024;

impl ResultSet {
    /// The result's size in bytes, its records as GetStatementResult returns them; an error in
    /// Redshift's words if a row or the whole is over the Data API's limits.
    pub fn within_limits(&self) -> Result<usize, String> {
        let mut total = 0;
        for row in &self.rows {
            let bytes = serde_json::to_vec(row).map_or(0, |json| json.len());
            if bytes > MAX_RESULT_ROW_BYTES {
                return Err(format!(
                    "ERROR: a result row of {bytes} bytes: the Data API size limit is 64 KB per row in the result set returned by the database"
                ));
            }
            total += bytes;
            if total > MAX_RESULT_BYTES {
                return Err(format!(
                    "ERROR: a result set of more than {total} bytes: the Data API limit is 100 MB in the result set returned by the database"
                ));
            }
        }
        Ok(total)
    }
}

/// What running one statement gave.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// Rows returned (queries) or affected (DML); -1 when PostgreSQL reports none (DDL).
    pub rows: i64,
    pub result: Option<ResultSet>,
}

/// Runs one translated statement; errors come back as Redshift-style text.
pub async fn run(client: &impl GenericClient, statement: &Translated) -> Result<Outcome, String> {
    run_at(client, statement, ConflictWords::Serializable).await
}

/// [`run`], with a lost conflict worded as `words` says.
pub async fn run_at(
    client: &impl GenericClient,
    statement: &Translated,
    words: ConflictWords,
) -> Result<Outcome, String> {
    let error_text = |err: &tokio_postgres::Error| error_text_at(err, words);
    let is_dml = statement.is_dml;
    let statement = client
        .prepare(&statement.sql)
        .await
        .map_err(|err| error_text(&err))?;
    if statement.columns().is_empty() {
        let affected = client
            .execute(&statement, &[])
            .await
            .map_err(|err| error_text(&err))?;
        return Ok(Outcome {
            rows: if is_dml { affected as i64 } else { -1 },
            result: None,
        });
    }
    let columns: Vec<ColumnMetadata> = statement
        .columns()
        .iter()
        .map(|column| column_metadata(column.name(), column.type_()))
        .collect();
    let rows = client
        .query(&statement, &[])
        .await
        .map_err(|err| error_text(&err))?;
    let mut out = Vec::with_capacity(rows.len());
    for row in &rows {
        let mut fields = Vec::with_capacity(columns.len());
        for index in 0..columns.len() {
            let cell: Cell = row.try_get(index).map_err(|err| format!("ERROR: {err}"))?;
            fields.push(cell.0);
        }
        out.push(fields);
    }
    Ok(Outcome {
        rows: out.len() as i64,
        result: Some(ResultSet { columns, rows: out }),
    })
}

/// The error of a batch that a `conflict` fault makes lose, worded as Redshift's error 1023.
pub const SERIALIZATION_CONFLICT_INJECTED: &str = "ERROR: 1023 DETAIL: Serializable isolation violation on table - 0, transactions forming the cycle are: (a conflict injected by a fault switch)";

/// How a transaction that lost a concurrent-write conflict is told so, by isolation level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConflictWords {
    /// Redshift's error 1023 (documented: "Serializable isolation violation on table - [table_id],
    /// transactions forming the cycle are: ...").
    Serializable,
    /// SNAPSHOT isolation: AWS documents no text for a lost write-write conflict, so the stand-in
    /// keeps PostgreSQL's ("could not serialize access due to concurrent update"), which is not
    /// error 1023: a caller that recognises only 1023 fails here as it could on Redshift.
    Snapshot,
}

/// `ERROR: <message>` from a database error, as Redshift words it; the whole error otherwise.
/// A serialization failure reads as Redshift's error 1023, which names the conflict the same way.
pub fn error_text(err: &tokio_postgres::Error) -> String {
    error_text_at(err, ConflictWords::Serializable)
}

/// [`error_text`], with a lost conflict worded as the transaction's isolation level words it. A
/// deadlock keeps PostgreSQL's text (`deadlock detected`, the processes and the locks they wait
/// for), which is the form Redshift, a PostgreSQL derivative, reports; AWS documents none.
pub fn error_text_at(err: &tokio_postgres::Error, words: ConflictWords) -> String {
    use tokio_postgres::error::SqlState;
    match err.as_db_error() {
        Some(db) if db.code() == &SqlState::T_R_SERIALIZATION_FAILURE => match words {
            ConflictWords::Serializable => format!(
                "ERROR: 1023 DETAIL: Serializable isolation violation on table - 0, transactions forming the cycle are: {} ({})",
                db.message(),
                db.detail().unwrap_or("no detail")
            ),
            ConflictWords::Snapshot => format!("ERROR: {}", db.message()),
        },
        Some(db) if db.code() == &SqlState::T_R_DEADLOCK_DETECTED => format!(
            "ERROR: deadlock detected DETAIL: {}",
            db.detail().unwrap_or("no detail").replace('\n', " ")
        ),
        Some(db) => format!("ERROR: {}", db.message()),
        None => format!("ERROR: {err}"),
    }
}

/// True when the error is PostgreSQL's "canceling statement due to user request".
pub fn is_cancellation(err: &str) -> bool {
    err.contains("canceling statement due to user request")
}

fn column_metadata(name: &str, ty: &Type) -> ColumnMetadata {
    let is_signed = [
        Type::INT2,
        Type::INT4,
        Type::INT8,
        Type::FLOAT4,
        Type::FLOAT8,
        Type::NUMERIC,
    ]
    .contains(ty);
    let is_text = [Type::TEXT, Type::VARCHAR, Type::BPCHAR, Type::NAME].contains(ty)
        || crate::varchar::is_varchar(ty);
    ColumnMetadata {
        name: name.to_owned(),
        label: name.to_owned(),
        type_name: ty.name().to_owned(),
        nullable: 1,
        is_signed,
        is_case_sensitive: is_text,
        is_currency: false,
        precision: 0,
        scale: 0,
        length: 0,
        schema_name: String::new(),
        table_name: String::new(),
    }
}

/// One value as a Data API `Field`, decoded from PostgreSQL's binary format by column type.
struct Cell(Value);

impl<'a> FromSql<'a> for Cell {
    fn from_sql(
        ty: &Type,
        raw: &'a [u8],
    ) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        let field = match *ty {
            Type::BOOL => json!({ "booleanValue": bool::from_sql(ty, raw)? }),
            Type::INT2 => json!({ "longValue": i16::from_sql(ty, raw)? }),
            Type::INT4 => json!({ "longValue": i32::from_sql(ty, raw)? }),
            Type::INT8 => json!({ "longValue": i64::from_sql(ty, raw)? }),
            Type::OID => json!({ "longValue": u32::from_sql(ty, raw)? }),
            Type::FLOAT4 => json!({ "doubleValue": f32::from_sql(ty, raw)? }),
            Type::FLOAT8 => json!({ "doubleValue": f64::from_sql(ty, raw)? }),
            Type::NUMERIC => json!({ "stringValue": numeric_text(raw)? }),
            Type::TIMESTAMP | Type::TIMESTAMPTZ => {
                json!({ "stringValue": timestamp_text(i64::from_sql(&Type::INT8, raw)?) })
            }
            Type::DATE => json!({ "stringValue": date_text(i32::from_sql(&Type::INT4, raw)?) }),
            _ => json!({ "stringValue": String::from_utf8_lossy(raw) }),
        };
        Ok(Cell(field))
    }

    fn from_sql_null(_: &Type) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(Cell(json!({ "isNull": true })))
    }

    fn accepts(ty: &Type) -> bool {
        // Types without a decoder above are read as their bytes, which is their text for the
        // character types; anything binary-only is refused rather than shown wrongly.
        !matches!(
            *ty,
            Type::BYTEA | Type::INTERVAL | Type::TIME | Type::TIMETZ | Type::UUID | Type::JSONB
        )
    }
}

const POSTGRES_EPOCH_DAYS: i64 = 10_957; // 1970-01-01 to 2000-01-01

/// `YYYY-MM-DD HH:MM:SS[.ffffff]` from microseconds since 2000-01-01, as Redshift prints timestamps.
fn timestamp_text(micros_since_2000: i64) -> String {
    let micros = micros_since_2000 + POSTGRES_EPOCH_DAYS * 86_400_000_000;
    let days = micros.div_euclid(86_400_000_000);
    let of_day = micros.rem_euclid(86_400_000_000);
    let (h, m, s, us) = (
        of_day / 3_600_000_000,
        of_day / 60_000_000 % 60,
        of_day / 1_000_000 % 60,
        of_day % 1_000_000,
    );
    let date = civil_from_days(days);
    if us == 0 {
        format!("{date} {h:02}:{m:02}:{s:02}")
    } else {
        let fraction = format!("{us:06}");
        format!(
            "{date} {h:02}:{m:02}:{s:02}.{}",
            fraction.trim_end_matches('0')
        )
    }
}

/// A timestamp given in microseconds since 1970-01-01 UTC, as text.
pub(crate) fn unix_micros_text(micros: i64) -> String {
    timestamp_text(micros - POSTGRES_EPOCH_DAYS * 86_400_000_000)
}

fn date_text(days_since_2000: i32) -> String {
    civil_from_days(i64::from(days_since_2000) + POSTGRES_EPOCH_DAYS)
}

/// `YYYY-MM-DD` of a day count since 1970-01-01 (Howard Hinnant's civil-from-days).
fn civil_from_days(days: i64) -> String {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

/// PostgreSQL's binary NUMERIC as decimal text.
fn numeric_text(raw: &[u8]) -> Result<String, Box<dyn std::error::Error + Sync + Send>> {
    let word = |i: usize| -> Result<i16, Box<dyn std::error::Error + Sync + Send>> {
        raw.get(i * 2..i * 2 + 2)
            .map(|b| i16::from_be_bytes([b[0], b[1]]))
            .ok_or_else(|| "truncated numeric".into())
    };
    let (ndigits, weight, sign, dscale) = (word(0)? as usize, word(1)?, word(2)? as u16, word(3)?);
    if sign == 0xC000 {
        return Ok("NaN".into());
    }
    let digits = (0..ndigits)
        .map(|i| word(4 + i))
        .collect::<Result<Vec<_>, _>>()?;
    let mut int_part = String::new();
    for i in 0..=weight.max(-1) {
        let digit = digits.get(i as usize).copied().unwrap_or(0);
        if int_part.is_empty() {
            int_part = digit.to_string();
        } else {
            int_part.push_str(&format!("{digit:04}"));
        }
    }
    if int_part.is_empty() {
        int_part.push('0');
    }
    let mut frac = String::new();
    for i in 0..(dscale as i32 + 3) / 4 {
        let index = weight as i32 + 1 + i;
        let digit = if index < 0 {
            0
        } else {
            digits.get(index as usize).copied().unwrap_or(0)
        };
        frac.push_str(&format!("{digit:04}"));
    }
    frac.truncate(dscale.max(0) as usize);
    let sign = if sign == 0x4000 { "-" } else { "" };
    Ok(if frac.is_empty() {
        format!("{sign}{int_part}")
    } else {
        format!("{sign}{int_part}.{frac}")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_print_as_redshift_does() {
        // 2018-11-01 21:01:46.796 UTC, one of the Sparkify events.
        let micros_since_1970 = 1_541_106_106_796_000_i64;
        let since_2000 = micros_since_1970 - POSTGRES_EPOCH_DAYS * 86_400_000_000;
        assert_eq!(timestamp_text(since_2000), "2018-11-01 21:01:46.796");
        assert_eq!(timestamp_text(0), "2000-01-01 00:00:00");
        assert_eq!(date_text(-1), "1999-12-31");
    }

    #[test]
    fn numeric_binary_decodes_to_text() {
        // 12345.678: ndigits 3, weight 1, positive, dscale 3, digits [1, 2345, 6780]
        let raw: Vec<u8> = [3i16, 1, 0, 3, 1, 2345, 6780]
            .iter()
            .flat_map(|w| w.to_be_bytes())
            .collect();
        assert_eq!(numeric_text(&raw).unwrap(), "12345.678");
        let negative_small: Vec<u8> = [1i16, -1, 0x4000, 2, 500]
            .iter()
            .flat_map(|w| w.to_be_bytes())
            .collect();
        assert_eq!(numeric_text(&negative_small).unwrap(), "-0.05");
    }
}
