//! Redshift's zone maps, as a BRIN index.
//!
//! "Amazon Redshift stores columnar data in 1 MB disk blocks. The min and max values for each
//! block are stored as part of the metadata. If a query uses a range-restricted predicate, the
//! query processor can use the min and max values to rapidly skip over large numbers of blocks
//! during table scans" ("Sort keys",
//! <https://docs.aws.amazon.com/redshift/latest/dg/t_Sorting_data.html>). The blocks are each
//! column's, so every column has its zone maps; the sort order makes the sort key's narrow, and a
//! column whose values arrive together (the rows one load wrote, a run's id on them) has narrow
//! ones too, since new rows go to new blocks. PostgreSQL's BRIN index is the same structure: the
//! least and greatest value of each range of blocks, read to skip the ranges a condition cannot
//! match; a multi-column BRIN index keeps each column's apart and serves a condition on any of
//! them. So a `CREATE TABLE` gets one BRIN index ([`crate::dialect`] asks for it) over its
//! sort-key columns and then its other columns, narrowest first, within [`INDEX_BYTES`], and a
//! statement that bounds one of them by constants reads the blocks whose range can hold them,
//! here as on Redshift, while a condition a zone map cannot use (a join on a key, a hash of it)
//! still reads the whole table.
//!
//! Kept differences, none of which lets a statement match other rows (an index only chooses
//! which blocks are read):
//! - A column is in the index while the index's widest possible entry (each column's least and
//!   greatest value at its declared width) stays within [`INDEX_BYTES`], half a PostgreSQL page
//!   (an entry must fit one); wide free text (a 512-byte user agent) and `BOOLEAN` (PostgreSQL
//!   has no min-max class for it) have no zone maps here. A bound on such a column reads the
//!   whole table.
//! - A BRIN range is 128 PostgreSQL pages (1 MiB of rows, all columns), where a Redshift block is
//!   1 MB of one column: finer here for wide rows.
//! - The stand-in summarises the blocks a commit added after it ([`crate::maintenance`]), unless
//!   another session is writing the table then, or the session's user does not own it; blocks
//!   not summarised yet are read by every scan until a later commit summarises them. A row that
//!   an UPDATE or a load puts in an older block's free space widens that block's range for good,
//!   where Redshift writes it to a new block.
//! - Whether PostgreSQL's planner reads through the index is its cost estimate's choice, which
//!   counts on the column's physical order ([`crate::maintenance`]'s ANALYZE gives it).

use sqlparser::ast::{CharacterLength, ColumnDef, CreateTable, DataType, ExactNumberInfo, Expr};

/// The most columns a PostgreSQL index takes (`INDEX_MAX_KEYS`); a Redshift compound sort key
/// may have up to 400, whose first are the ones its order makes useful.
const MAX_COLUMNS: usize = 32;

/// The widest an index entry may be: each of its columns' least and greatest value at their
/// declared widths, added up. A BRIN entry must fit one 8 KiB page, or the write that widens it
/// fails; half a page leaves room for the entry's own headers.
pub const INDEX_BYTES: u64 = 4096;

/// The index that stands for `table`'s zone maps: its sort-key columns, then its other columns,
/// narrowest first, of the types BRIN min-max classes order (numbers, dates and times, character
/// strings), while the entry's widest stays within [`INDEX_BYTES`]; None for a temporary table (a
/// session's scratch, small and short-lived) or when no column fits.
pub fn index_for(table: &CreateTable) -> Option<String> {
    if table.temporary {
        return None;
    }
    let sort_key: Vec<&ColumnDef> = table
        .sortkey
        .iter()
        .flatten()
        .filter_map(|key| match key {
            Expr::Identifier(ident) => Some(ident),
            _ => None,
        })
        .filter_map(|key| {
            table
                .columns
                .iter()
                .find(|column| column.name.value.eq_ignore_ascii_case(&key.value))
        })
        .collect();
    let mut others: Vec<&ColumnDef> = table
        .columns
        .iter()
        .filter(|column| !sort_key.iter().any(|key| key.name == column.name))
        .collect();
    others.sort_by_key(|column| width(&column.data_type));
    let mut left = INDEX_BYTES;
    let mut columns: Vec<String> = Vec::new();
    for column in sort_key.into_iter().chain(others) {
        let Some(bytes) = width(&column.data_type) else {
            continue;
        };
        if columns.len() == MAX_COLUMNS || 2 * bytes > left {
            continue;
        }
        left -= 2 * bytes;
        columns.push(column.name.to_string());
    }
    if columns.is_empty() {
        return None;
    }
    Some(format!(
        "CREATE INDEX IF NOT EXISTS \"{}\" ON {} USING brin ({})",
        index_name(table)?.replace('"', "\"\""),
        table.name,
        columns.join(", ")
    ))
}

/// The index's name: the table's, then a control character and `zone_maps`, within PostgreSQL's
/// 63 bytes. No Redshift table can have it ("Identifiers must consist of only UTF-8 printable
/// characters", "Names and identifiers",
/// <https://docs.aws.amazon.com/redshift/latest/dg/r_names.html>), so no table a user makes or
/// drops meets it. Two tables whose names share their first 53 characters share the
/// name, and the second has no zone maps.
fn index_name(table: &CreateTable) -> Option<String> {
    let name = table.name.0.last()?.to_string();
    let bare = name.trim_matches('"');
    let mut index = String::new();
    for c in bare.chars() {
        if index.len() + c.len_utf8() > 63 - SUFFIX.len() {
            break;
        }
        index.push(c);
    }
    index.push_str(SUFFIX);
    Some(index)
}

const SUFFIX: &str = "\u{1}zone_maps";

/// The widest value of a type a BRIN min-max operator class orders, in bytes: PostgreSQL's own
/// types, and Redshift's VARCHAR's local type ([`crate::varchar`]) at its declared bytes (a column
/// without a length is [`crate::varchar::COLUMN_BYTES`]); None for any other type.
fn width(data_type: &DataType) -> Option<u64> {
    if let Some(declared) = crate::varchar::varchar_bytes(data_type) {
        return Some(declared.unwrap_or(crate::varchar::COLUMN_BYTES));
    }
    Some(match data_type {
        DataType::SmallInt(_) | DataType::Int2(_) => 2,
        DataType::Int(_)
        | DataType::Integer(_)
        | DataType::Int4(_)
        | DataType::Real
        | DataType::Float4
        | DataType::Date => 4,
        DataType::BigInt(_)
        | DataType::Int8(_)
        | DataType::Float8
        | DataType::Double(_)
        | DataType::DoublePrecision
        | DataType::Float(_)
        | DataType::Timestamp(_, _)
        | DataType::Time(_, _) => 8,
        // At most 38 digits (Redshift's greatest precision): PostgreSQL's base-10000 digits and
        // their header. A NUMERIC without a precision is PostgreSQL's unbounded one here.
        DataType::Decimal(digits) | DataType::Numeric(digits) | DataType::Dec(digits) => {
            match digits {
                ExactNumberInfo::Precision(p) | ExactNumberInfo::PrecisionAndScale(p, _)
                    if *p <= 38 =>
                {
                    32
                }
                _ => return None,
            }
        }
        DataType::Char(length) | DataType::Character(length) => match length {
            Some(CharacterLength::IntegerLength { length, .. }) => *length,
            Some(CharacterLength::Max) => 4096,
            None => 1,
        },
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlparser::ast::Statement;

    fn index(sql: &str) -> Option<String> {
        let statement =
            sqlparser::parser::Parser::parse_sql(&crate::dialect::LocalRedshift::default(), sql)
                .unwrap()
                .remove(0);
        match statement {
            Statement::CreateTable(table) => index_for(&table),
            other => panic!("not a CREATE TABLE: {other}"),
        }
    }

    #[test]
    fn the_sort_key_comes_first_then_the_other_columns_narrowest_first() {
        assert_eq!(
            index(
                "CREATE TABLE IF NOT EXISTS load_listing (run_id VARCHAR(80) NOT NULL, \
                 kind VARCHAR(8), object_key VARCHAR(1024), listed BOOLEAN, size_bytes BIGINT) \
                 DISTSTYLE EVEN SORTKEY (run_id, kind, object_key)"
            )
            .as_deref(),
            Some(
                "CREATE INDEX IF NOT EXISTS \"load_listing\u{1}zone_maps\" ON load_listing \
                 USING brin (run_id, kind, object_key, size_bytes)"
            )
        );
        assert_eq!(
            index("CREATE TABLE public.time (start_time TIMESTAMP NOT NULL, hour INT) SORTKEY (start_time)")
                .as_deref(),
            Some("CREATE INDEX IF NOT EXISTS \"time\u{1}zone_maps\" ON public.time USING brin (start_time, hour)")
        );
        // Without a sort key too: every column has its zone maps.
        assert_eq!(
            index("CREATE TABLE t (note VARCHAR, a INT, code CHAR(2), d DECIMAL(18,2))").as_deref(),
            Some(
                "CREATE INDEX IF NOT EXISTS \"t\u{1}zone_maps\" ON t USING brin (code, a, d, note)"
            )
        );
    }

    #[test]
    fn columns_past_the_entrys_bytes_a_temporary_table_or_an_unordered_type_get_none() {
        assert_eq!(index("CREATE TEMP TABLE t (a INT) SORTKEY (a)"), None);
        assert_eq!(index("CREATE TABLE t (a BOOLEAN) SORTKEY (a)"), None);
        assert_eq!(index("CREATE TABLE t (a VARCHAR(MAX))"), None);
        // A NUMERIC of a precision Redshift has is one of at most 38 digits; one without is
        // PostgreSQL's unbounded one here, of any width.
        assert_eq!(index("CREATE TABLE t (a NUMERIC, b DECIMAL(39, 2))"), None);
        assert_eq!(
            index("CREATE TABLE t (a NUMERIC, b DECIMAL(38, 2))").as_deref(),
            Some("CREATE INDEX IF NOT EXISTS \"t\u{1}zone_maps\" ON t USING brin (b)")
        );
        // The name keeps within PostgreSQL's 63 bytes, whole characters, and no Redshift table
        // can take it.
        let long = format!("CREATE TABLE \"{}\" (a INT)", "é".repeat(40));
        let named = index(&long).unwrap();
        let name = &named["CREATE INDEX IF NOT EXISTS \"".len()..named.find("\" ON").unwrap()];
        assert_eq!(name, format!("{}\u{1}zone_maps", "é".repeat(26)));
        assert_eq!(
            index("CREATE TABLE t (a BOOLEAN, b BIGINT) SORTKEY (a, b)").as_deref(),
            Some("CREATE INDEX IF NOT EXISTS \"t\u{1}zone_maps\" ON t USING brin (b)")
        );
        // 2 x (1024 + 8 + 64 + 512) bytes: the other 512-byte column would pass 4,096.
        assert_eq!(
            index(
                "CREATE TABLE t (agent VARCHAR(512), key VARCHAR(1024), other VARCHAR(512), \
                 ts BIGINT, user_id VARCHAR(64)) SORTKEY (key)"
            )
            .as_deref(),
            Some(
                "CREATE INDEX IF NOT EXISTS \"t\u{1}zone_maps\" ON t USING brin (key, ts, user_id, agent)"
            )
        );
        // 2 x (1024 + 64 + 512) bytes; the next 512-byte column would pass 4,096.
        assert_eq!(
            index(
                "CREATE TABLE t (key VARCHAR(1024), a VARCHAR(512), b VARCHAR(512), d VARCHAR(64)) \
                 SORTKEY (key)"
            )
            .as_deref(),
            Some("CREATE INDEX IF NOT EXISTS \"t\u{1}zone_maps\" ON t USING brin (key, d, a)")
        );
    }
}
