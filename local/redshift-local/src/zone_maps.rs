//! Redshift's zone maps on a table's sort key, as a BRIN index.
//!
//! "Amazon Redshift stores columnar data in 1 MB disk blocks. The min and max values for each
//! block are stored as part of the metadata. If a query uses a range-restricted predicate, the
//! query processor can use the min and max values to rapidly skip over large numbers of blocks
//! during table scans" ("Sort keys",
//! <https://docs.aws.amazon.com/redshift/latest/dg/t_Sorting_data.html>). PostgreSQL's BRIN index
//! is the same structure: the least and greatest value of each range of blocks, read to skip the
//! ranges a condition cannot match. So a `CREATE TABLE` with a `SORTKEY` gets one BRIN index over
//! its sort-key columns ([`crate::dialect`] asks for it), and a statement that bounds a sort-key
//! column by constants reads the blocks whose range can hold them, here as on Redshift, while a
//! condition a zone map cannot use (a join on a key, a hash of it) still reads the whole table.
//!
//! Kept differences, none of which lets a statement match other rows (an index only chooses
//! which blocks are read):
//! - Redshift keeps a zone map for every column; the stand-in indexes only the sort key, the
//!   columns whose zone maps the sort order makes narrow. A bound on another column reads the
//!   whole table here.
//! - A BRIN range is 128 PostgreSQL pages (1 MiB of rows, all columns), where a Redshift block is
//!   1 MB of one column: finer here for wide rows.
//! - The stand-in summarises the blocks a commit added after it ([`crate::maintenance`]), unless
//!   another session is writing the table then, or the session's user does not own it; blocks
//!   not summarised yet are read by every scan until a later commit summarises them.
//! - Whether PostgreSQL's planner reads through the index is its cost estimate's choice, which
//!   counts on the column's physical order ([`crate::maintenance`]'s ANALYZE gives it).

use sqlparser::ast::{CreateTable, DataType, Expr};

/// The most columns a PostgreSQL index takes (`INDEX_MAX_KEYS`); a Redshift compound sort key
/// may have up to 400, whose first are the ones its order makes useful.
const MAX_COLUMNS: usize = 32;

/// The index that stands for `table`'s zone maps, when it declares a `SORTKEY` whose columns the
/// BRIN min-max classes order (numbers, dates and times, character strings); None otherwise,
/// and for a temporary table (a session's scratch, small and short-lived).
pub fn index_for(table: &CreateTable) -> Option<String> {
    if table.temporary {
        return None;
    }
    let columns: Vec<String> = table
        .sortkey
        .as_ref()?
        .iter()
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
        .filter(|column| has_min_max(&column.data_type))
        .map(|column| column.name.to_string())
        .take(MAX_COLUMNS)
        .collect();
    if columns.is_empty() {
        return None;
    }
    let name = table.name.0.last()?.to_string();
    let bare = name.trim_matches('"');
    let index: String = format!("{bare}_zone_maps").chars().take(63).collect();
    Some(format!(
        "CREATE INDEX IF NOT EXISTS \"{index}\" ON {} USING brin ({})",
        table.name,
        columns.join(", ")
    ))
}

/// The types a BRIN min-max operator class orders: PostgreSQL's own, and Redshift's VARCHAR's
/// local type ([`crate::varchar`]).
fn has_min_max(data_type: &DataType) -> bool {
    crate::varchar::varchar_bytes(data_type).is_some()
        || matches!(
            data_type,
            DataType::SmallInt(_)
                | DataType::Int2(_)
                | DataType::Int(_)
                | DataType::Integer(_)
                | DataType::Int4(_)
                | DataType::BigInt(_)
                | DataType::Int8(_)
                | DataType::Decimal(_)
                | DataType::Numeric(_)
                | DataType::Dec(_)
                | DataType::Real
                | DataType::Float4
                | DataType::Float8
                | DataType::Double(_)
                | DataType::DoublePrecision
                | DataType::Float(_)
                | DataType::Date
                | DataType::Timestamp(_, _)
                | DataType::Time(_, _)
                | DataType::Char(_)
                | DataType::Character(_)
        )
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
    fn a_sort_key_gets_one_brin_index_over_its_columns() {
        assert_eq!(
            index(
                "CREATE TABLE IF NOT EXISTS load_listing (run_id VARCHAR(80) NOT NULL, \
                 kind VARCHAR(8), object_key VARCHAR(1024), listed BOOLEAN) \
                 DISTSTYLE EVEN SORTKEY (run_id, kind, object_key)"
            )
            .as_deref(),
            Some(
                "CREATE INDEX IF NOT EXISTS \"load_listing_zone_maps\" ON load_listing \
                 USING brin (run_id, kind, object_key)"
            )
        );
        assert_eq!(
            index("CREATE TABLE public.time (start_time TIMESTAMP NOT NULL, hour INT) SORTKEY (start_time)")
                .as_deref(),
            Some("CREATE INDEX IF NOT EXISTS \"time_zone_maps\" ON public.time USING brin (start_time)")
        );
    }

    #[test]
    fn no_sort_key_a_temporary_table_or_an_unordered_type_gets_none() {
        assert_eq!(index("CREATE TABLE t (a INT)"), None);
        assert_eq!(index("CREATE TEMP TABLE t (a INT) SORTKEY (a)"), None);
        assert_eq!(index("CREATE TABLE t (a BOOLEAN) SORTKEY (a)"), None);
        assert_eq!(
            index("CREATE TABLE t (a BOOLEAN, b BIGINT) SORTKEY (a, b)").as_deref(),
            Some("CREATE INDEX IF NOT EXISTS \"t_zone_maps\" ON t USING brin (b)")
        );
    }
}
