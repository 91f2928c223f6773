//! The COPY statement as the stand-in reads it: which table, from where (a prefix or a
//! manifest), how JSON maps to columns (`'auto'`, `'auto ignorecase'` or a JSONPaths file), how
//! the objects are compressed, and the options the pipeline uses. Anything else is refused with
//! Redshift-style text: "If the load returns the error_count number of errors or greater, the load
//! fails" (MAXERROR; its default 0 and 1 both fail at the first reject), and MAXERROR is at most
//! 100000: a larger one is refused (the documentation states the limit and not what happens above
//! it; refusing is the strict reading).

use crate::dialect::LocalRedshift;
use sqlparser::keywords::Keyword;
use sqlparser::parser::Parser;
use sqlparser::tokenizer::Token;

/// MAXERROR's documented limit.
pub const MAX_MAXERROR: u64 = 100_000;

/// How JSON fields map to columns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JsonMapping {
    /// Keys equal column names (`'auto'`), or equal ignoring case (`'auto ignorecase'`).
    Auto { ignore_case: bool },
    /// A JSONPaths file: its n-th path fills the n-th column.
    Paths(String),
}

/// A parsed COPY statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyCommand {
    pub table: String,
    pub columns: Option<Vec<String>>,
    pub from: String,
    pub manifest: bool,
    pub mapping: JsonMapping,
    pub max_errors: u64,
    pub truncate_columns: bool,
    pub blanks_as_null: bool,
    pub empty_as_null: bool,
    pub compression: Compression,
    pub time_format: Option<String>,
    pub date_format: Option<String>,
    /// REGION: where the data, the manifest and the JSONPaths file are (None: the warehouse's).
    pub region: Option<String>,
    /// IAM_ROLE 'arn' (None: `IAM_ROLE default`, or CREDENTIALS).
    pub iam_role: Option<String>,
}

/// How the objects of a COPY are compressed ("File compression parameters": BZIP2, GZIP, LZOP,
/// ZSTD; "ZSTD is supported only with COPY from Amazon S3"). Every object of one COPY is read with
/// the one codec it names; none means plain. LZOP is refused: the stand-in has no reader for it,
/// and the product never asks for it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Compression {
    #[default]
    None,
    Gzip,
    Bzip2,
    Zstd,
}

/// Parses `sql` if it is a COPY; `Ok(None)` for any other statement.
pub fn parse(sql: &str) -> Result<Option<CopyCommand>, String> {
    let dialect = LocalRedshift::default();
    let syntax = |err: sqlparser::parser::ParserError| format!("ERROR: syntax error: {err}");
    let mut parser = Parser::new(&dialect).try_with_sql(sql).map_err(syntax)?;
    if !parser.parse_keyword(Keyword::COPY) {
        return Ok(None);
    }
    // PostgreSQL's COPY of a query's rows, and COPY TO / FROM PROGRAM / FROM STDIN / FROM a file,
    // are not Redshift's: refused naming the construct ([`crate::unsupported`]).
    if parser.peek_token().token == Token::LParen {
        return Err(crate::unsupported::copy_refused("COPY (query) TO"));
    }
    let table = parser.parse_object_name(false).map_err(syntax)?.to_string();
    let columns = if parser.consume_token(&Token::LParen) {
        let names = parser
            .parse_comma_separated(|p| p.parse_identifier())
            .map_err(syntax)?;
        parser.expect_token(&Token::RParen).map_err(syntax)?;
        Some(names.into_iter().map(|ident| ident.value).collect())
    } else {
        None
    };
    if parser.parse_keyword(Keyword::TO) {
        return Err(crate::unsupported::copy_refused("COPY ... TO"));
    }
    parser.expect_keyword(Keyword::FROM).map_err(syntax)?;
    if let Token::Word(word) = &parser.peek_token().token
        && ["PROGRAM", "STDIN", "STDOUT"].contains(&word.value.to_ascii_uppercase().as_str())
    {
        return Err(crate::unsupported::copy_refused(&format!(
            "COPY ... FROM {}",
            word.value.to_ascii_uppercase()
        )));
    }
    let from = parser.parse_literal_string().map_err(syntax)?;
    crate::unsupported::copy_source(&from)?;
    let mut command = CopyCommand {
        table,
        columns,
        from,
        manifest: false,
        mapping: JsonMapping::Auto { ignore_case: false },
        max_errors: 0,
        truncate_columns: false,
        blanks_as_null: false,
        empty_as_null: false,
        compression: Compression::None,
        time_format: None,
        date_format: None,
        region: None,
        iam_role: None,
    };
    let mut format_seen = false;
    loop {
        let token = parser.next_token().token;
        let word = match &token {
            Token::EOF => break,
            Token::SemiColon => {
                if parser.peek_token().token != Token::EOF {
                    return Err("ERROR: expected one statement".into());
                }
                break;
            }
            Token::Word(word) => word.value.to_ascii_uppercase(),
            other => return Err(format!("ERROR: syntax error at or near \"{other}\"")),
        };
        match word.as_str() {
            "WITH" => {}
            "IAM_ROLE" => {
                if !parser.parse_keyword(Keyword::DEFAULT) {
                    command.iam_role = Some(parser.parse_literal_string().map_err(syntax)?);
                }
            }
            "REGION" => {
                skip_as(&mut parser);
                let region = parser.parse_literal_string().map_err(syntax)?;
                if !is_region_name(&region) {
                    return Err(format!(
                        "ERROR: REGION '{region}' is not an AWS Region (redshift-local's words: Redshift documents no text for this)"
                    ));
                }
                command.region = Some(region);
            }
            "CREDENTIALS" | "ACCESS_KEY_ID" | "SECRET_ACCESS_KEY" | "SESSION_TOKEN" => {
                skip_as(&mut parser);
                parser.parse_literal_string().map_err(syntax)?;
            }
            "FORMAT" => skip_as(&mut parser),
            "JSON" => {
                skip_as(&mut parser);
                format_seen = true;
                let spec = parser.parse_literal_string().map_err(syntax)?;
                command.mapping = match spec.as_str() {
                    "auto" => JsonMapping::Auto { ignore_case: false },
                    "auto ignorecase" => JsonMapping::Auto { ignore_case: true },
                    path if path.starts_with("s3://") => JsonMapping::Paths(path.to_owned()),
                    other => {
                        return Err(format!(
                            "ERROR: JSON option '{other}' is not supported: use 'auto', 'auto ignorecase' or a JSONPaths file"
                        ));
                    }
                };
            }
            "MANIFEST" => command.manifest = true,
            "MAXERROR" => {
                skip_as(&mut parser);
                command.max_errors = match parser.next_token().token {
                    Token::Number(n, _) => n
                        .parse()
                        .map_err(|_| format!("ERROR: MAXERROR must be a whole number, got {n}"))?,
                    other => {
                        return Err(format!(
                            "ERROR: MAXERROR must be a whole number, got {other}"
                        ));
                    }
                };
                if command.max_errors > MAX_MAXERROR {
                    return Err(format!(
                        "ERROR: MAXERROR {} is above its limit of {MAX_MAXERROR}",
                        command.max_errors
                    ));
                }
            }
            "TRUNCATECOLUMNS" => command.truncate_columns = true,
            "BLANKSASNULL" => command.blanks_as_null = true,
            "EMPTYASNULL" => command.empty_as_null = true,
            "GZIP" | "BZIP2" | "ZSTD" => {
                if command.compression != Compression::None {
                    return Err("ERROR: a COPY takes one compression option".into());
                }
                command.compression = match word.as_str() {
                    "GZIP" => Compression::Gzip,
                    "BZIP2" => Compression::Bzip2,
                    _ => Compression::Zstd,
                };
            }
            "LZOP" => {
                return Err(
                    "ERROR: LZOP is not supported by the local stand-in: use GZIP, BZIP2 or ZSTD"
                        .into(),
                );
            }
            "TIMEFORMAT" | "DATEFORMAT" => {
                skip_as(&mut parser);
                let format = parser.parse_literal_string().map_err(syntax)?;
                if word == "TIMEFORMAT" {
                    command.time_format = Some(format);
                } else {
                    command.date_format = Some(format);
                }
            }
            "COMPUPDATE" | "STATUPDATE" => {
                // Compression and statistics updates: nothing to do here. The optional setting
                // is ON, OFF, TRUE, FALSE or (COMPUPDATE) PRESET.
                if let Token::Word(setting) = &parser.peek_token().token
                    && ["ON", "OFF", "TRUE", "FALSE", "PRESET"]
                        .contains(&setting.value.to_ascii_uppercase().as_str())
                {
                    parser.next_token();
                }
            }
            "CSV" | "DELIMITER" | "FIXEDWIDTH" | "AVRO" | "PARQUET" | "ORC" | "SHAPEFILE" => {
                return Err(format!(
                    "ERROR: COPY format {word} is not supported by the local stand-in: use FORMAT AS JSON"
                ));
            }
            _ => return Err(format!("ERROR: syntax error at or near \"{token}\"")),
        }
    }
    if !format_seen {
        return Err(
            "ERROR: the local stand-in loads JSON only: add FORMAT AS JSON 'auto' or a JSONPaths file"
                .into(),
        );
    }
    Ok(Some(command))
}

/// Skips the optional `AS` that Redshift allows after most COPY options.
fn skip_as(parser: &mut Parser) {
    let _ = parser.parse_keyword(Keyword::AS);
}

/// Whether `name` has an AWS Region's form (`us-west-2`, `ap-southeast-1`, `us-gov-west-1`):
/// COPY's REGION "Specifies the AWS Region where the source data is located", and the SDK an
/// endpoint elsewhere is read with refuses any other ("Invalid region"), so the stand-in refuses
/// it before reading anything, on both of its ways of reading S3.
fn is_region_name(name: &str) -> bool {
    let parts: Vec<&str> = name.split('-').collect();
    parts.len() >= 3
        && parts[0].len() == 2
        && parts[..parts.len() - 1]
            .iter()
            .all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_lowercase()))
        && parts[parts.len() - 1].bytes().all(|b| b.is_ascii_digit())
        && !parts[parts.len() - 1].is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(sql: &str) -> CopyCommand {
        parse(sql).unwrap().expect("a COPY")
    }

    #[test]
    fn parses_the_pipelines_copy_statements() {
        let events = parsed(
            "COPY staging_events FROM 's3://udacity-dend/log_data/' IAM_ROLE 'arn:aws:iam::1:role/r' \
             REGION 'us-west-2' FORMAT AS JSON 's3://udacity-dend/log_json_path.json' MAXERROR 10 \
             TRUNCATECOLUMNS BLANKSASNULL EMPTYASNULL COMPUPDATE OFF STATUPDATE OFF;",
        );
        assert_eq!(events.table, "staging_events");
        assert_eq!(events.from, "s3://udacity-dend/log_data/");
        assert_eq!(
            events.mapping,
            JsonMapping::Paths("s3://udacity-dend/log_json_path.json".into())
        );
        assert_eq!(events.max_errors, 10);
        assert!(events.truncate_columns && events.blanks_as_null && events.empty_as_null);
        let songs = parsed(
            "copy staging_songs (song_id, title) from 's3://b/song_data/' credentials 'aws_iam_role=x' json 'auto ignorecase' gzip manifest maxerror as 3 timeformat 'epochmillisecs'",
        );
        assert_eq!(songs.columns, Some(vec!["song_id".into(), "title".into()]));
        assert_eq!(songs.mapping, JsonMapping::Auto { ignore_case: true });
        assert!(songs.compression == Compression::Gzip && songs.manifest);
        assert_eq!(songs.time_format.as_deref(), Some("epochmillisecs"));
        assert_eq!(parse("SELECT 1").unwrap(), None);
    }

    #[test]
    fn unknown_options_and_formats_are_redshift_style_errors() {
        let unknown = parse("COPY t FROM 's3://b/k' JSON 'auto' EXPLODE").unwrap_err();
        assert!(
            unknown.starts_with("ERROR: syntax error at or near"),
            "{unknown}"
        );
        let csv = parse("COPY t FROM 's3://b/k' CSV").unwrap_err();
        assert!(csv.contains("not supported"), "{csv}");
        let no_format = parse("COPY t FROM 's3://b/k' IAM_ROLE default").unwrap_err();
        assert!(no_format.contains("JSON"), "{no_format}");
    }

    #[test]
    fn maxerror_above_its_limit_is_refused() {
        assert!(parse("COPY t FROM 's3://b/k' JSON 'auto' MAXERROR 100000").is_ok());
        let error = parse("COPY t FROM 's3://b/k' JSON 'auto' MAXERROR 100001").unwrap_err();
        assert!(error.contains("limit of 100000"), "{error}");
    }

    #[test]
    fn region_is_kept_for_reading_s3() {
        assert_eq!(
            parsed("COPY t FROM 's3://b/k' REGION 'eu-west-1' JSON 'auto'")
                .region
                .as_deref(),
            Some("eu-west-1")
        );
        assert_eq!(parsed("COPY t FROM 's3://b/k' JSON 'auto'").region, None);
        for region in ["us-gov-west-1", "ap-southeast-1", "cn-north-1"] {
            let sql = format!("COPY t FROM 's3://b/k' REGION '{region}' JSON 'auto'");
            assert_eq!(parsed(&sql).region.as_deref(), Some(region));
        }
        for wrong in [
            "us-east-2!",
            "US-EAST-1",
            "useast1",
            "us-east-",
            "-east-1",
            "",
        ] {
            let sql = format!("COPY t FROM 's3://b/k' REGION '{wrong}' JSON 'auto'");
            let error = parse(&sql).unwrap_err();
            assert!(error.contains("is not an AWS Region"), "{wrong}: {error}");
        }
    }

    #[test]
    fn each_compression_keyword_names_its_codec_and_lzop_is_refused() {
        for (keyword, codec) in [
            ("GZIP", Compression::Gzip),
            ("bzip2", Compression::Bzip2),
            ("ZSTD", Compression::Zstd),
        ] {
            let sql = format!("COPY t FROM 's3://b/k' JSON 'auto' {keyword}");
            assert_eq!(parsed(&sql).compression, codec, "{keyword}");
        }
        assert_eq!(
            parsed("COPY t FROM 's3://b/k' JSON 'auto'").compression,
            Compression::None
        );
        let lzop = parse("COPY t FROM 's3://b/k' JSON 'auto' LZOP").unwrap_err();
        assert!(lzop.contains("LZOP"), "{lzop}");
        let two = parse("COPY t FROM 's3://b/k' JSON 'auto' GZIP ZSTD").unwrap_err();
        assert!(two.contains("one compression"), "{two}");
    }
}
