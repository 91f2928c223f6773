//! Redshift's VARCHAR, whose trailing blanks do not count when values are compared.
//!
//! "Trailing spaces in VARCHAR and CHAR values are treated as semantically insignificant when
//! values are compared", while "Length calculations return the length of VARCHAR character
//! strings with trailing spaces included" ("Character types",
//! <https://docs.aws.amazon.com/redshift/latest/dg/r_Character_types.html>). The page's example
//! ("Examples with character types", r_Examples_with_character_types.html): `'9516 Magnolia
//! Boulevard'` and `'9516 Magnolia Boulevard '` in a VARCHAR column are both counted by
//! `WHERE address1 = '9516 Magnolia Boulevard'`, and `LENGTH` gives 23 and 25.
//!
//! PostgreSQL's `varchar` compares every byte, and its `char` (which ignores the blanks) drops
//! them wherever the value becomes text (`||`, `MD5`, `LENGTH`), where Redshift keeps them. So
//! the stand-in gives Redshift's VARCHAR a type of its own, [`QUALIFIED`], built at start from
//! PostgreSQL's own C functions:
//! - stored, sent and read as `text` (every byte kept, `typname` `varchar`, typmods as `varchar`'s,
//!   so `LENGTH`, `OCTET_LENGTH`, `||`, `MD5`, `LIKE` and regular expressions see the blanks);
//! - compared with `char`'s comparison functions (`bpchareq`, `bpcharcmp`, `hashbpchar`, ...),
//!   which ignore trailing blanks: `=`, `<>`, `<`, `<=`, `>`, `>=` against itself and against
//!   text (`=` and `<>` against `name` too, as `CURRENT_USER` is), its default B-tree and hash
//!   operator classes (and a BRIN min-max class for [`crate::zone_maps`]) and a hash family that
//!   holds text's blank-blind hash, so joins (hash,
//!   merge, full), `IN`, `NULLIF`, `GROUP BY`, `DISTINCT`, `COUNT(DISTINCT)`, `UNION`,
//!   `ORDER BY`, window partitions, `MIN` and `MAX` follow the rule as well;
//! - the string functions a VARCHAR goes through keep it a VARCHAR (`||` with a VARCHAR on
//!   either side, `LOWER`, `UPPER`, `INITCAP`, the `TRIM`s, `SUBSTRING`, `SUBSTR`, `LEFT`,
//!   `RIGHT`, `REPLACE`, `SPLIT_PART`, `TRANSLATE`, `LPAD`, `RPAD`, `REVERSE`, `MIN`, `MAX`), as on
//!   Redshift, so their results compare by the rule too.
//!
//! The translator ([`crate::dialect`]) gives every VARCHAR, CHARACTER VARYING, NVARCHAR and TEXT
//! column of a CREATE TABLE (256 bytes when it has no length, TEXT's too), and every CAST to one
//! of them, this type. The stand-in refuses ALTER TABLE, so no column gets another. Kept
//! differences:
//! - a string that never was a VARCHAR (two literals, or what `CONCAT`, `MD5`,
//!   `JSON_EXTRACT_PATH_TEXT`, `LISTAGG` and other functions not listed return) is PostgreSQL's
//!   `text`, whose blanks count when two such strings are compared;
//! - `information_schema.columns` calls these columns `USER-DEFINED`, not `character varying`.

use sqlparser::ast::{CharacterLength, DataType, Ident, ObjectName};
use std::fmt::Write;
use tokio_postgres::Client;

/// The schema of the type: every user may use it, nobody but the stand-in owns anything in it.
pub const SCHEMA: &str = "redshift_local_types";

/// The type as SQL names it.
pub const QUALIFIED: &str = "redshift_local_types.varchar";

/// The type as PostgreSQL's `format_type` prints it.
const FORMATTED: &str = "redshift_local_types.\"varchar\"";

/// Marks the type's version in the database (its comment): a database prepared by a stand-in
/// whose type differs is refused at start rather than half-used.
const VERSION: &str = "redshift-local VARCHAR 3";

/// The comparison operators: symbol, `char`'s function suffix, commutator, negator, estimators.
const COMPARISONS: [(&str, &str, &str, &str, &str); 6] = [
    ("=", "eq", "=", "<>", "RESTRICT = eqsel, JOIN = eqjoinsel"),
    (
        "<>",
        "ne",
        "<>",
        "=",
        "RESTRICT = neqsel, JOIN = neqjoinsel",
    ),
    (
        "<",
        "lt",
        ">",
        ">=",
        "RESTRICT = scalarltsel, JOIN = scalarltjoinsel",
    ),
    (
        "<=",
        "le",
        ">=",
        ">",
        "RESTRICT = scalarlesel, JOIN = scalarlejoinsel",
    ),
    (
        ">",
        "gt",
        "<",
        "<=",
        "RESTRICT = scalargtsel, JOIN = scalargtjoinsel",
    ),
    (
        ">=",
        "ge",
        "<=",
        "<",
        "RESTRICT = scalargesel, JOIN = scalargejoinsel",
    ),
];

/// The string functions that return a VARCHAR given one: name, the other arguments, PostgreSQL's
/// C function for `text`.
const FUNCTIONS: [(&str, &str, &str); 22] = [
    ("lower", "", "lower"),
    ("upper", "", "upper"),
    ("initcap", "", "initcap"),
    ("btrim", "", "btrim1"),
    ("btrim", ", text", "btrim"),
    ("ltrim", "", "ltrim1"),
    ("ltrim", ", text", "ltrim"),
    ("rtrim", "", "rtrim1"),
    ("rtrim", ", text", "rtrim"),
    ("substring", ", integer, integer", "text_substr"),
    ("substring", ", integer", "text_substr_no_len"),
    ("substring", ", text", "textregexsubstr"),
    ("substr", ", integer, integer", "text_substr"),
    ("substr", ", integer", "text_substr_no_len"),
    ("left", ", integer", "text_left"),
    ("right", ", integer", "text_right"),
    ("replace", ", text, text", "replace_text"),
    ("split_part", ", text, integer", "split_part"),
    ("translate", ", text, text", "translate"),
    ("lpad", ", integer, text", "lpad"),
    ("rpad", ", integer, text", "rpad"),
    ("reverse", "", "text_reverse"),
];

/// A VARCHAR column's bytes when it declares no length, and a TEXT column's ("A VARCHAR column
/// without a length is VARCHAR(256)", TEXT "a VARCHAR(256)": "Character types").
pub const COLUMN_BYTES: u64 = 256;

/// A declared character length in bytes (`MAX` is 65535 for VARCHAR); None when none is declared.
pub fn declared_bytes(length: &Option<CharacterLength>) -> Option<u64> {
    match length {
        Some(CharacterLength::IntegerLength { length, .. }) => Some(*length),
        Some(CharacterLength::Max) => Some(65_535),
        None => None,
    }
}

/// The declared bytes of a Redshift VARCHAR of any spelling (TEXT declares none); None for any
/// other type.
pub fn varchar_bytes(data_type: &DataType) -> Option<Option<u64>> {
    match data_type {
        DataType::Varchar(length)
        | DataType::CharacterVarying(length)
        | DataType::CharVarying(length)
        | DataType::Nvarchar(length) => Some(declared_bytes(length)),
        DataType::Text => Some(None),
        _ => None,
    }
}

/// The local type for a Redshift VARCHAR of any spelling, with its length, `default` when it
/// declares none (a column's is [`COLUMN_BYTES`]); None for any other type.
pub fn local_type(data_type: &DataType, default: Option<u64>) -> Option<DataType> {
    let length = varchar_bytes(data_type)?.or(default);
    Some(DataType::Custom(
        ObjectName::from(vec![Ident::new(SCHEMA), Ident::new("varchar")]),
        length
            .map(|length| length.to_string())
            .into_iter()
            .collect(),
    ))
}

/// A column type as `format_type` printed it, with the local VARCHAR named as PostgreSQL names
/// its own (`character varying(32)`), as the load-error views show it.
pub fn display(formatted: &str) -> String {
    formatted.replace(FORMATTED, "character varying")
}

/// Whether a result column's PostgreSQL type is the local VARCHAR (its `typname` is `varchar`,
/// like PostgreSQL's own).
pub fn is_varchar(ty: &tokio_postgres::types::Type) -> bool {
    ty.name() == "varchar" && ty.schema() == SCHEMA
}

/// Refuses a database whose strings are not ordered by their bytes. Redshift orders them so:
/// "ORDER BY expressions and functions such as MIN, MAX, and RANK return results based on binary
/// UTF8 ordering of the data that does not take locale-specific characters into account"
/// ("Collation sequences", <https://docs.aws.amazon.com/redshift/latest/dg/c_collation_sequences.html>),
/// and the product bounds keys by a prefix's range in that order (a range under a locale's
/// collation, which may skip punctuation, would leave keys out). The stand-in's own servers are
/// made so (`C`, or `C.UTF-8`); a server given by `--database-url` must be too.
pub async fn binary_order(client: &Client) -> Result<(), String> {
    let row = client
        .query_one(
            "SELECT datcollate::text, datlocprovider::text FROM pg_database \
             WHERE datname = current_database()",
            &[],
        )
        .await
        .map_err(|err| crate::backend::error_text(&err))?;
    let (collate, provider): (String, String) = (row.get(0), row.get(1));
    let binary = matches!(provider.as_str(), "c" | "b")
        && matches!(collate.as_str(), "C" | "POSIX" | "C.UTF-8" | "C.utf8");
    if binary {
        Ok(())
    } else {
        Err(format!(
            "this database orders strings by collation {collate:?} (provider {provider:?}), not by \
             their bytes as Redshift does (\"binary UTF8 ordering\"): use a database made with \
             LC_COLLATE C (createdb --locale=C --template=template0)"
        ))
    }
}

/// Creates the type, its casts, operators, operator classes, aggregates and functions, once per
/// database (at every start; nothing when this version made them), in one transaction: all or
/// none. A database whose type another version made is refused with what to do.
pub async fn install(client: &Client) -> Result<(), String> {
    let made = client
        .query_one(
            &format!(
                "SELECT to_regtype('{QUALIFIED}') IS NOT NULL, \
                 obj_description(to_regtype('{QUALIFIED}'), 'pg_type')"
            ),
            &[],
        )
        .await
        .map_err(|err| crate::backend::error_text(&err))?;
    match (made.get::<_, bool>(0), made.get::<_, Option<String>>(1)) {
        (false, _) => {}
        (true, Some(version)) if version == VERSION => return Ok(()),
        (true, version) => {
            return Err(format!(
                "this database holds Redshift's VARCHAR as another redshift-local made it ({}), \
                 not {VERSION}: start the stand-in on a new database",
                version.unwrap_or_else(|| "unmarked".to_owned())
            ));
        }
    }
    client
        .batch_execute(&format!("BEGIN;\n{}COMMIT;", install_sql()))
        .await
        .map_err(|err| {
            format!(
                "cannot create Redshift's VARCHAR: {}",
                crate::backend::error_text(&err)
            )
        })
}

/// The SQL of [`install`]. The operators, aggregates and functions are in `pg_catalog`, which
/// every search path reads, so a statement finds them whatever its `search_path`; each takes the
/// local type, so they add to PostgreSQL's and replace none of them.
fn install_sql() -> String {
    let v = QUALIFIED;
    let fns = "LANGUAGE internal IMMUTABLE STRICT PARALLEL SAFE";
    let sql_fns = "LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE";
    let mut sql = format!(
        "CREATE SCHEMA IF NOT EXISTS {SCHEMA};
GRANT USAGE ON SCHEMA {SCHEMA} TO PUBLIC;
CREATE TYPE {v};
CREATE FUNCTION {SCHEMA}.varchar_in(cstring) RETURNS {v} {fns} AS 'textin';
CREATE FUNCTION {SCHEMA}.varchar_out({v}) RETURNS cstring {fns} AS 'textout';
CREATE FUNCTION {SCHEMA}.varchar_recv(internal) RETURNS {v} LANGUAGE internal STABLE STRICT PARALLEL SAFE AS 'textrecv';
CREATE FUNCTION {SCHEMA}.varchar_send({v}) RETURNS bytea LANGUAGE internal STABLE STRICT PARALLEL SAFE AS 'textsend';
CREATE TYPE {v} (
    INPUT = {SCHEMA}.varchar_in, OUTPUT = {SCHEMA}.varchar_out,
    RECEIVE = {SCHEMA}.varchar_recv, SEND = {SCHEMA}.varchar_send,
    TYPMOD_IN = varchartypmodin, TYPMOD_OUT = varchartypmodout,
    INTERNALLENGTH = VARIABLE, STORAGE = extended, ALIGNMENT = int4,
    CATEGORY = 'S', COLLATABLE = true
);
COMMENT ON TYPE {v} IS '{VERSION}';
CREATE FUNCTION {SCHEMA}.varchar({v}, integer, boolean) RETURNS {v} {fns} AS 'varchar';
CREATE CAST ({v} AS {v}) WITH FUNCTION {SCHEMA}.varchar({v}, integer, boolean) AS IMPLICIT;
CREATE CAST ({v} AS text) WITHOUT FUNCTION AS IMPLICIT;
CREATE CAST (text AS {v}) WITHOUT FUNCTION AS ASSIGNMENT;
CREATE CAST ({v} AS varchar) WITHOUT FUNCTION AS IMPLICIT;
CREATE CAST (varchar AS {v}) WITHOUT FUNCTION AS ASSIGNMENT;
CREATE FUNCTION {SCHEMA}.varchar(bpchar) RETURNS {v} {fns} AS 'rtrim1';
CREATE CAST (bpchar AS {v}) WITH FUNCTION {SCHEMA}.varchar(bpchar) AS ASSIGNMENT;
CREATE CAST ({v} AS bpchar) WITHOUT FUNCTION AS ASSIGNMENT;
"
    );
    // Against itself and against text (a literal, or what a function returned), with char's
    // comparisons. Equality hashes (the hash family below holds text's blank-blind hash too);
    // only the same-type one merges, the B-tree family holding no text ordering.
    for (left, right) in [(v, v), (v, "text"), ("text", v)] {
        for (symbol, name, commutator, negator, estimators) in COMPARISONS {
            let joins = match (symbol, left == right) {
                ("=", true) => ", HASHES, MERGES",
                ("=", false) => ", HASHES",
                _ => "",
            };
            let _ = writeln!(
                sql,
                "CREATE FUNCTION {SCHEMA}.varchar_{name}({left}, {right}) RETURNS boolean \
                 {fns} LEAKPROOF AS 'bpchar{name}';
CREATE OPERATOR pg_catalog.{symbol} (LEFTARG = {left}, RIGHTARG = {right}, \
                 FUNCTION = {SCHEMA}.varchar_{name}, COMMUTATOR = OPERATOR(pg_catalog.{commutator}), \
                 NEGATOR = OPERATOR(pg_catalog.{negator}), {estimators}{joins});"
            );
        }
    }
    // Against `name` (CURRENT_USER, the catalogues' names): one operator, where PostgreSQL would
    // otherwise find two equally good (text = name and this type = text).
    for (symbol, name, negator) in [("=", "eq", "<>"), ("<>", "ne", "=")] {
        let _ = writeln!(
            sql,
            "CREATE FUNCTION {SCHEMA}.varchar_{name}({v}, name) RETURNS boolean {sql_fns} \
             AS 'SELECT $1 {symbol} CAST($2 AS text)';
CREATE FUNCTION {SCHEMA}.varchar_{name}(name, {v}) RETURNS boolean {sql_fns} \
             AS 'SELECT CAST($1 AS text) {symbol} $2';
CREATE OPERATOR pg_catalog.{symbol} (LEFTARG = {v}, RIGHTARG = name, \
             FUNCTION = {SCHEMA}.varchar_{name}, COMMUTATOR = OPERATOR(pg_catalog.{symbol}), \
             NEGATOR = OPERATOR(pg_catalog.{negator}));
CREATE OPERATOR pg_catalog.{symbol} (LEFTARG = name, RIGHTARG = {v}, \
             FUNCTION = {SCHEMA}.varchar_{name}, COMMUTATOR = OPERATOR(pg_catalog.{symbol}), \
             NEGATOR = OPERATOR(pg_catalog.{negator}));"
        );
    }
    let _ = writeln!(
        sql,
        "CREATE FUNCTION {SCHEMA}.varchar_cmp({v}, {v}) RETURNS integer {fns} AS 'bpcharcmp';
CREATE FUNCTION {SCHEMA}.varchar_sortsupport(internal) RETURNS void {fns} AS 'bpchar_sortsupport';
CREATE FUNCTION {SCHEMA}.varchar_hash({v}) RETURNS integer {fns} AS 'hashbpchar';
CREATE FUNCTION {SCHEMA}.varchar_hash_extended({v}, bigint) RETURNS bigint {fns} AS 'hashbpcharextended';
CREATE FUNCTION {SCHEMA}.varchar_hash(text) RETURNS integer {fns} AS 'hashbpchar';
CREATE FUNCTION {SCHEMA}.varchar_hash_extended(text, bigint) RETURNS bigint {fns} AS 'hashbpcharextended';
CREATE OPERATOR CLASS {SCHEMA}.varchar_ops DEFAULT FOR TYPE {v} USING btree AS
    OPERATOR 1 pg_catalog.<, OPERATOR 2 pg_catalog.<=, OPERATOR 3 pg_catalog.=,
    OPERATOR 4 pg_catalog.>=, OPERATOR 5 pg_catalog.>,
    FUNCTION 1 {SCHEMA}.varchar_cmp({v}, {v}), FUNCTION 2 {SCHEMA}.varchar_sortsupport(internal);
CREATE OPERATOR CLASS {SCHEMA}.varchar_ops DEFAULT FOR TYPE {v} USING hash AS
    OPERATOR 1 pg_catalog.=,
    FUNCTION 1 {SCHEMA}.varchar_hash({v}), FUNCTION 2 {SCHEMA}.varchar_hash_extended({v}, bigint);
CREATE OPERATOR CLASS {SCHEMA}.varchar_minmax_ops DEFAULT FOR TYPE {v} USING brin AS
    OPERATOR 1 pg_catalog.<, OPERATOR 2 pg_catalog.<=, OPERATOR 3 pg_catalog.=,
    OPERATOR 4 pg_catalog.>=, OPERATOR 5 pg_catalog.>,
    FUNCTION 1 brin_minmax_opcinfo(internal),
    FUNCTION 2 brin_minmax_add_value(internal, internal, internal, internal),
    FUNCTION 3 brin_minmax_consistent(internal, internal, internal),
    FUNCTION 4 brin_minmax_union(internal, internal, internal);
ALTER OPERATOR FAMILY {SCHEMA}.varchar_ops USING hash ADD
    OPERATOR 1 pg_catalog.= ({v}, text), OPERATOR 1 pg_catalog.= (text, {v}),
    FUNCTION 1 (text, text) {SCHEMA}.varchar_hash(text),
    FUNCTION 2 (text, text) {SCHEMA}.varchar_hash_extended(text, bigint);
CREATE FUNCTION {SCHEMA}.varchar_smaller({v}, {v}) RETURNS {v} {fns} AS 'bpchar_smaller';
CREATE FUNCTION {SCHEMA}.varchar_larger({v}, {v}) RETURNS {v} {fns} AS 'bpchar_larger';
CREATE AGGREGATE pg_catalog.min({v}) (SFUNC = {SCHEMA}.varchar_smaller, STYPE = {v}, \
    COMBINEFUNC = {SCHEMA}.varchar_smaller, SORTOP = OPERATOR(pg_catalog.<), PARALLEL = SAFE);
CREATE AGGREGATE pg_catalog.max({v}) (SFUNC = {SCHEMA}.varchar_larger, STYPE = {v}, \
    COMBINEFUNC = {SCHEMA}.varchar_larger, SORTOP = OPERATOR(pg_catalog.>), PARALLEL = SAFE);"
    );
    for (left, right) in [(v, v), (v, "text"), ("text", v)] {
        let _ = writeln!(
            sql,
            "CREATE FUNCTION pg_catalog.textcat({left}, {right}) RETURNS {v} {fns} AS 'textcat';
CREATE OPERATOR pg_catalog.|| (LEFTARG = {left}, RIGHTARG = {right}, FUNCTION = pg_catalog.textcat);"
        );
    }
    for (name, rest, internal) in FUNCTIONS {
        let _ = writeln!(
            sql,
            "CREATE FUNCTION pg_catalog.{name}({v}{rest}) RETURNS {v} {fns} AS '{internal}';"
        );
    }
    sql
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_spelling_of_varchar_is_the_local_type_with_its_length() {
        let parsed = |sql: &str| {
            sqlparser::parser::Parser::new(&crate::dialect::LocalRedshift::default())
                .try_with_sql(sql)
                .and_then(|mut parser| parser.parse_data_type())
                .unwrap()
        };
        // A cast keeps its length or has none; a column without one has 256 bytes.
        for (redshift, cast, column) in [
            ("VARCHAR(32)", "(32)", "(32)"),
            ("CHARACTER VARYING(8)", "(8)", "(8)"),
            ("CHAR VARYING(8)", "(8)", "(8)"),
            ("NVARCHAR", "", "(256)"),
            ("VARCHAR(MAX)", "(65535)", "(65535)"),
            ("TEXT", "", "(256)"),
        ] {
            for (default, expected) in [(None, cast), (Some(COLUMN_BYTES), column)] {
                let local_type = local_type(&parsed(redshift), default).expect(redshift);
                assert_eq!(
                    local_type.to_string(),
                    format!("redshift_local_types.varchar{expected}"),
                    "{redshift}"
                );
            }
        }
        for other in ["CHAR(32)", "INTEGER", "TIMESTAMP", "DECIMAL(10, 2)"] {
            assert_eq!(
                local_type(&parsed(other), Some(COLUMN_BYTES)),
                None,
                "{other}"
            );
        }
    }

    #[test]
    fn load_errors_name_the_type_as_postgresql_names_varchar() {
        assert_eq!(
            display("redshift_local_types.\"varchar\"(256)"),
            "character varying(256)"
        );
        assert_eq!(display("integer"), "integer");
    }
}
