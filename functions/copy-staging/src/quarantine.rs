//! An object whose COPY fails because of its content (more rejected lines than MaxLoadErrors,
//! a JSON object over 4 MB, no JSON at all) must not hold up the night. When a round's batch fails
//! at a log object's COPY with a load failure, copy-staging tries that object again in a round of
//! its own; if it fails there too, it records the object in `load_quarantine` (`sql/copy/
//! quarantine_*.sql`) and plans the rest again. Song objects share one COPY per round, whose
//! failure does not say which object failed: the rounds that follow take half as many song
//! objects until one fails alone, and that one is recorded the same way. Later runs leave a
//! quarantined object out while its ETag is the one that failed; a changed object is tried again,
//! and leaves quarantine once it loads (load-facts for a log object, its song round for a song
//! object).
//!
//! Two failures count as content: Redshift's documented load failure, "Load into table '<table>'
//! failed. Check '<view>' system table for details." (MAXERROR reached; lines that are not JSON
//! count as rejects), and a compressed object that does not decompress, which Redshift reports as
//! "failed to inflate with <codec>: ..." (error 9001, as reported of LZOP in snowplow/snowplow#1265;
//! the guides give no text for it). Any other failure of a COPY (S3 access, the COPY role, a
//! missing manifest) is not the object's fault and fails the run by name, as before: quarantining
//! a good object would leave it out of every later load.

use crate::round::round_layout;
use crate::{At, Carried, Output, Phase, SKIPPED_SHOWN, STEP};
use serde::{Deserialize, Serialize};
use sparkify::EtlError;
use sparkify::sql::{Codec, Literal, RunId, S3Key, SqlFile, catalogue, render};

/// How Redshift words a COPY that failed on its data.
pub const LOAD_FAILED: &str = "Load into table '";

/// How Redshift words a COPY that could not decompress an object.
pub const INFLATE_FAILED: &str = "failed to inflate with ";

/// Error text a state keeps of each quarantined object (the table keeps up to 1,000 bytes).
const ERROR_SHOWN_BYTES: usize = 300;

/// Log objects one run puts in quarantine at most. More failing for their content in one run
/// points at the configuration (the JSONPaths file, MaxLoadErrors, the table) rather than at the
/// files, and quarantining the whole bucket one object at a time would only hide it: the next
/// failure fails the run by name instead.
pub const MAX_PER_RUN: usize = 5;

/// A log object of a round as the state machine carries it: enough to quarantine it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoundObject {
    pub key: String,
    pub etag: String,
    pub size: i64,
}

/// A log object this run put in quarantine, as its output reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quarantined {
    pub key: String,
    pub etag: String,
    pub size: i64,
    pub reason: String,
    /// Redshift's error, cut to [`ERROR_SHOWN_BYTES`].
    pub error: String,
}

/// The statement of round `layout` that `err` says failed (the Data API's sub-statement `<id>:N`),
/// and Redshift's text.
fn failed_statement<'l, T>(
    layout: &'l [(SqlFile, Option<T>)],
    err: &'l EtlError,
) -> Option<(&'l (SqlFile, Option<T>), &'l String)> {
    let EtlError::StatementFailed {
        sub_statement: Some(n),
        error,
        ..
    } = err
    else {
        return None;
    };
    let index = usize::try_from(*n).ok()?.checked_sub(1)?;
    Some((layout.get(index)?, error))
}

/// What failed in a round, if it was one log object's content: the object, and Redshift's text.
/// `layout` is the round's statements in batch order, with the log object each COPY loads.
pub fn poison<'a>(
    layout: &[(SqlFile, Option<&'a RoundObject>)],
    err: &EtlError,
) -> Option<(&'a RoundObject, String)> {
    let (statement, error) = failed_statement(layout, err)?;
    match statement {
        (file, Some(object))
            if *file == catalogue::COPY_STAGING_EVENTS
                && (is_load_failure(error) || may_be_too_large(object, error)) =>
        {
            Some((object, error.clone()))
        }
        _ => None,
    }
}

/// The most one JSON object may have: "The maximum size of a single JSON object or array ... is
/// 4 MB" (COPY's data format parameters).
pub const MAX_JSON_OBJECT_BYTES: i64 = 4 * 1024 * 1024;

/// Whether a log object's failed COPY may be a JSON object over 4 MB, told without Redshift's
/// wording, which is documented nowhere ("the COPY command fails"): the object can hold one (it
/// is larger than 4 MB, or compressed), and the error names none of the causes that are not the
/// object's (S3, the COPY role, the manifest, the region, a conflict or a lost session). Such an
/// object is tried alone like any other, and quarantined only if it fails alone too.
pub fn may_be_too_large(object: &RoundObject, error: &str) -> bool {
    let can_hold_one = object.size > MAX_JSON_OBJECT_BYTES
        || S3Key::parse(&object.key).is_ok_and(|key| Codec::of(&key) != Codec::Plain);
    let lower = error.to_lowercase();
    let not_the_objects = [
        "s3serviceexception",
        "not authorized",
        "access denied",
        "accessdenied",
        "manifest",
        "permanentredirect",
        "region",
        "nosuchkey",
        "nosuchbucket",
        "credentials",
        "iam role",
        "deadlock",
        "serializ",
        "terminat",
        "connection",
        "cancel",
    ];
    can_hold_one && !not_the_objects.iter().any(|cause| lower.contains(cause))
}

/// Redshift's text, if round `layout` failed at its songs COPY for the song objects' content.
/// The COPY reads every song object of the round through one manifest and its text does not say
/// which object failed: the round is narrowed down instead ([`At::after_poison`]).
pub fn songs_poison<T>(layout: &[(SqlFile, Option<T>)], err: &EtlError) -> Option<String> {
    let (statement, error) = failed_statement(layout, err)?;
    match statement {
        (file, _) if *file == catalogue::COPY_STAGING_SONGS && is_load_failure(error) => {
            Some(error.clone())
        }
        _ => None,
    }
}

pub fn is_load_failure(error: &str) -> bool {
    (error.contains(LOAD_FAILED) && error.contains("' failed.")) || error.contains(INFLATE_FAILED)
}

/// The failure in words, for people reading the quarantine.
/// Redshift's top-level text says only that the load failed (the rejects are in
/// `sys_load_error_detail`), so unless it names the 4 MB limit, the reason names both causes.
pub fn reason(error: &str, max_load_errors: u32) -> String {
    if error.contains(INFLATE_FAILED) {
        "its bytes are not compressed as its name says (.gz GZIP, .bz2 BZIP2, .zst ZSTD): it does not decompress".to_owned()
    } else if error.contains("4 MB") || error.contains("4194304") {
        "a JSON object larger than 4 MB".to_owned()
    } else if !is_load_failure(error) {
        "its COPY failed alone with an error that names no S3, role or manifest cause, and it can hold a JSON object over 4 MB (it is larger, or compressed): most likely one is over COPY's 4 MB limit".to_owned()
    } else {
        format!(
            "its COPY failed on its data: rejected lines reached MAXERROR {max_load_errors} (lines that are not JSON, or values the columns cannot take), or a JSON object is over 4 MB; its rejects are in sys_load_error_detail"
        )
    }
}

/// The failure a run ends with when a log object fails for its content after [`MAX_PER_RUN`]
/// were quarantined: the batch's own failure, saying why it was not quarantined.
pub fn too_many(err: &EtlError) -> EtlError {
    match err {
        EtlError::StatementFailed {
            statement_id,
            sub_statement,
            error,
        } => EtlError::StatementFailed {
            statement_id: statement_id.clone(),
            sub_statement: *sub_statement,
            error: format!(
                "{MAX_PER_RUN} objects were already quarantined in this run, so this one is not: so many failing for their content points at the configuration (JSONPaths, MaxLoadErrors, the tables). {error}"
            ),
        },
        other => other.clone(),
    }
}

impl Quarantined {
    pub fn new(object: &RoundObject, error: &str, max_load_errors: u32) -> Self {
        let cut = Literal::text(error, ERROR_SHOWN_BYTES);
        let shown = cut.as_sql();
        Self {
            key: object.key.clone(),
            etag: object.etag.clone(),
            size: object.size,
            reason: reason(error, max_load_errors),
            error: shown[1..shown.len() - 1].replace("''", "'"),
        }
    }
}

/// The failure a run that put objects in quarantine ends with, in words; None if it put none.
pub(crate) fn cause(carried: &Carried) -> Option<String> {
    (carried.quarantined_count > 0).then(|| {
        EtlError::ObjectsQuarantined {
            count: carried.quarantined_count,
            keys: carried
                .quarantined
                .iter()
                .map(|q| format!("{} ({})", q.key, q.reason))
                .collect(),
        }
        .to_string()
    })
}

impl At<'_> {
    /// After round `current` failed with `err`: if the failure is one log object's content, that
    /// object is tried again in a round of its own, or, if it was alone already, put in
    /// quarantine. If it is the songs COPY's content, the next rounds take half as many song
    /// objects (`song_limit`), down to a round of one, whose object is then put in quarantine;
    /// the limit stays while the rounds before the failing object load, so finding it takes
    /// about twice the logarithm of a round's objects in failed rounds. Anything else is not
    /// handled here (None).
    pub(crate) async fn after_poison(
        &self,
        current: &Output,
        err: &EtlError,
    ) -> Result<Option<Output>, EtlError> {
        let objects = &current.round_objects;
        let logs: Vec<&RoundObject> = objects.logs.iter().collect();
        let layout = round_layout(&logs, objects.song_objects > 0);
        let layout: Vec<(SqlFile, Option<&RoundObject>)> = layout
            .into_iter()
            .map(|(file, object)| (file, object.copied()))
            .collect();
        let next = current.round + 1;
        let (staged, mut carried) = (current.staged.clone(), current.carried.clone());
        let (object, error) = match (poison(&layout, err), songs_poison(&layout, err)) {
            (Some(found), _) => found,
            (None, Some(error)) if objects.song_objects > 1 => {
                let half = objects.song_objects / 2;
                tracing::warn!(step = STEP, round = current.round, song_objects = objects.song_objects, next_round_takes = half, error = %error, "the song objects' COPY failed for their content; narrowing the round down");
                carried.song_limit = Some(half);
                return self.next_round(next, staged, carried).await.map(Some);
            }
            (None, Some(error)) => match &objects.song {
                Some(object) => (object, error),
                None => return Ok(None),
            },
            (None, None) => return Ok(None),
        };
        if current.carried.quarantined_count >= MAX_PER_RUN {
            tracing::error!(step = STEP, key = %object.key, "an object failed for its content after the run's quarantine limit");
            return Err(too_many(err));
        }
        let source = &self.deps.config.source;
        if objects.logs.len() > 1 {
            tracing::warn!(step = STEP, round = current.round, key = %object.key, error = %error, "a log object's COPY failed for its content; trying it alone");
            let alone = crate::plan::Round::alone(object)?;
            return self
                .submit_round(next, alone, (staged, carried))
                .await
                .map(Some);
        }
        // Found: the rounds after it take as many song objects as ever.
        carried.song_limit = None;
        let reason = reason(&error, source.max_load_errors);
        tracing::warn!(step = STEP, round = current.round, key = %object.key, reason = %reason, error = %error, "an object's COPY failed alone for its content; putting it in quarantine");
        let sqls = statements(object, &reason, &error, &self.run)?;
        let token = self.step.client_token(&format!("{STEP}/quarantine/{next}"));
        let id = self
            .deps
            .data_api
            .submit(sqls, &token, &format!("sparkify-{STEP}-quarantine"))
            .await?;
        let mut out = self.submitted(&id, Phase::Quarantine, next, staged, carried);
        out.carried.quarantined_count += 1;
        if out.carried.quarantined.len() < SKIPPED_SHOWN {
            out.carried
                .quarantined
                .push(Quarantined::new(object, &error, source.max_load_errors));
        }
        Ok(Some(out))
    }

    /// After the quarantine batch committed: the rest is planned again, which leaves the object
    /// out.
    pub(crate) async fn quarantine_recorded(&self, current: Output) -> Result<Output, EtlError> {
        tracing::info!(
            step = STEP,
            round = current.round,
            "quarantine recorded; planning the rest again"
        );
        self.next_round(current.round + 1, current.staged, current.carried)
            .await
    }
}

/// The batch that records `object` in quarantine (its row anew, from the row it had if any, which
/// then goes), under the table's lock. Neither an UPDATE nor an INSERT of a SELECT without FROM:
/// an insert of an aggregate over the table, and a delete of the older row. Nothing in it depends on
/// when it is built (the warehouse dates the row), so a retried call sends the same SQL under the
/// same client token.
pub fn statements(
    object: &RoundObject,
    reason: &str,
    error: &str,
    run: &RunId,
) -> Result<Vec<String>, EtlError> {
    let key = S3Key::parse(&object.key)
        .map_err(|why| EtlError::InvalidInput(format!("round_objects: {why}")))?;
    let values = || {
        vec![
            ("object_key", Literal::key(&key)),
            ("etag", Literal::text(&object.etag, 64)),
            ("size_bytes", Literal::integer(object.size)),
            ("reason", Literal::text(reason, 256)),
            ("error", Literal::text(error, 1000)),
            ("run", Literal::run(run)),
        ]
    };
    let [lock, insert, replace] = catalogue::QUARANTINE;
    Ok(vec![
        render(&lock, &[])?,
        render(&insert, &values())?,
        render(&replace, &[("object_key", Literal::key(&key))])?,
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object() -> RoundObject {
        RoundObject {
            key: "log_data/2018/11/it's-bad.json".into(),
            etag: "e1".into(),
            size: 70,
        }
    }

    fn failed(sub: u32, error: &str) -> EtlError {
        EtlError::StatementFailed {
            statement_id: "s".into(),
            sub_statement: Some(sub),
            error: error.into(),
        }
    }

    const MAXERROR: &str = "ERROR: Load into table 'events_load' failed. Check 'sys_load_error_detail' system table for details.";

    #[test]
    fn only_a_load_failure_of_a_log_objects_copy_is_its_content() {
        let bad = object();
        let layout = vec![
            (catalogue::LOCK_ROUND, None),
            (catalogue::COPY_STAGING_FILES, None),
            (catalogue::EVENTS_LOAD_CREATE, None),
            (catalogue::COPY_STAGING_EVENTS, Some(&bad)),
            (catalogue::EVENTS_LOAD_TAG, Some(&bad)),
        ];
        let (found, error) = poison(&layout, &failed(4, MAXERROR)).unwrap();
        assert_eq!(found, &bad);
        assert_eq!(error, MAXERROR);
        // The same text at another statement, another failure of the COPY, a conflict: not content.
        assert!(poison(&layout, &failed(2, MAXERROR)).is_none());
        assert!(poison(&layout, &failed(5, MAXERROR)).is_none());
        let denied = "ERROR: S3ServiceException:Access Denied,Status 403";
        assert!(poison(&layout, &failed(4, denied)).is_none());
        let role = "ERROR: User arn:aws:redshift:... is not authorized to assume IAM Role";
        assert!(poison(&layout, &failed(4, role)).is_none());
        assert!(poison(&layout, &failed(9, MAXERROR)).is_none());
        assert!(poison(&layout, &failed(0, MAXERROR)).is_none());
        assert!(poison(&layout, &EtlError::Throttled("x".into())).is_none());
        // A compressed object that does not decompress is its content too.
        let inflate = "ERROR: failed to inflate with gzip: invalid gzip header DETAIL: code: 9001";
        assert!(poison(&layout, &failed(4, inflate)).is_some());
        assert!(reason(inflate, 10).contains("does not decompress"));
    }

    /// Redshift documents no text for a JSON object over 4 MB: an object that can hold one (over
    /// 4 MB, or compressed) whose COPY fails with an error naming no other cause is its content,
    /// whatever the words; a small plain object's unknown error, or any object's S3, role or
    /// conflict error, is not.
    #[test]
    fn a_failure_of_an_object_that_can_hold_a_4_mb_json_object_is_its_content_whatever_the_words() {
        let unknown = "ERROR: something Redshift words its own way";
        fn layout_of(object: &RoundObject) -> Vec<(SqlFile, Option<&RoundObject>)> {
            vec![
                (catalogue::LOCK_ROUND, None),
                (catalogue::COPY_STAGING_FILES, None),
                (catalogue::EVENTS_LOAD_CREATE, None),
                (catalogue::COPY_STAGING_EVENTS, Some(object)),
            ]
        }
        let small = object();
        assert!(poison(&layout_of(&small), &failed(4, unknown)).is_none());
        let big = RoundObject {
            size: MAX_JSON_OBJECT_BYTES + 1,
            ..object()
        };
        assert!(poison(&layout_of(&big), &failed(4, unknown)).is_some());
        assert!(reason(unknown, 10).contains("most likely one is over COPY's 4 MB limit"));
        let compressed = RoundObject {
            key: "log_data/2018/11/day.json.gz".into(),
            ..object()
        };
        assert!(poison(&layout_of(&compressed), &failed(4, unknown)).is_some());
        for not_its_own in [
            "ERROR: S3ServiceException:Access Denied,Status 403",
            "ERROR: deadlock detected",
            "ERROR: Problem reading manifest file",
            "ERROR: terminating connection due to administrator command",
        ] {
            assert!(
                poison(&layout_of(&big), &failed(4, not_its_own)).is_none(),
                "{not_its_own}"
            );
        }
    }

    #[test]
    fn the_reason_tells_an_oversized_object_from_too_many_rejects() {
        assert!(reason(MAXERROR, 10).contains("MAXERROR 10"));
        assert!(reason(MAXERROR, 10).contains("or a JSON object is over 4 MB"));
        let big = "ERROR: Load into table 'events_load' failed. The JSON object at line 2 of s3://b/k is 4500321 bytes; the maximum size of a single JSON object is 4 MB.";
        assert_eq!(reason(big, 10), "a JSON object larger than 4 MB");
    }

    #[test]
    fn the_quarantine_batch_locks_first_and_quotes_every_value() {
        let run = RunId::from_execution("nightly-1").unwrap();
        let sqls = statements(&object(), "r", "it's \\ bad\n", &run).unwrap();
        assert_eq!(sqls.len(), 3);
        assert!(sqls[0].trim_end().ends_with("LOCK load_quarantine;"));
        assert!(sqls[1].contains("WHERE object_key = 'log_data/2018/11/it''s-bad.json'"));
        assert!(sqls[1].contains("'it''s / bad '"));
        assert!(sqls[1].contains("70, 'r'"));
        // Dated by the warehouse: the same call retried sends the same SQL under its token.
        assert!(
            sqls[1].contains("GETDATE()), GETDATE(), COALESCE"),
            "{}",
            sqls[1]
        );
        assert!(sqls[2].contains("DELETE FROM load_quarantine"));
    }

    #[test]
    fn the_cause_of_a_run_that_quarantined_names_the_objects_and_their_reasons() {
        let mut carried = Carried::default();
        assert_eq!(cause(&carried), None);
        carried.quarantined_count = 1;
        carried.quarantined.push(Quarantined {
            key: "log_data/x.json".into(),
            etag: "e".into(),
            size: 1,
            reason: "a JSON object larger than 4 MB".into(),
            error: "e".into(),
        });
        let cause = cause(&carried).unwrap();
        assert!(
            cause.starts_with("1 object(s) failed COPY for their content"),
            "{cause}"
        );
        assert!(
            cause.contains("log_data/x.json (a JSON object larger than 4 MB)"),
            "{cause}"
        );
    }

    #[test]
    fn a_quarantined_objects_error_is_cut_for_the_state() {
        let long = format!("{MAXERROR} {}", "x".repeat(2000));
        let q = Quarantined::new(&object(), &long, 10);
        assert!(q.error.len() <= ERROR_SHOWN_BYTES);
        assert!(
            q.error
                .starts_with("ERROR: Load into table 'events_load' failed.")
        );
    }
}
