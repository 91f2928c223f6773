"""New log files load in a run per batch, through the path the template deploys: S3's Object
Created event -> the EventBridge rule -> the new-file queue -> the Pipe's batching window (the local
stand-in for EventBridge Pipes, with the template's BatchSize, up to five batches at once) -> the
starter -> one ETL execution per batch, named after its first event's time and a digest of its
event ids. Redelivered events
load nothing twice, and a window that
overlaps the nightly run ends with exact totals.

The oracle is a second warehouse loaded once, from scratch, with the bucket as it ends up.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import sparkify_local as local  # noqa: E402
from helpers import SCHEDULED, copied_objects, from_scratch, new_days, succeeded  # noqa: E402

WINDOW_SECONDS = 3.0


def wait_for_batches(pipeline: local.LocalPipeline, count: int, timeout: float = 120) -> list[dict]:
    """The Pipe's batches once there are `count`, each with its starter's outcome."""
    until = time.monotonic() + timeout
    while len(pipeline.pipe_batches) < count:
        assert time.monotonic() < until, f"{len(pipeline.pipe_batches)} batches of {count}"
        time.sleep(0.2)
    return pipeline.pipe_batches


def run_of(pipeline: local.LocalPipeline, batch: dict) -> local.Execution:
    assert batch["status"] == "SUCCEEDED", batch
    return pipeline.wait(batch["output"]["etl_execution"])


def test_files_load_in_one_run_per_window_once_each_whatever_is_redelivered(sample, tmp_path):
    with local.LocalPipeline(sample, tmp_path / "logs",
                             new_file_window_seconds=WINDOW_SECONDS) as pipeline:
        succeeded(pipeline.execute(SCHEDULED))

        # 25 files in one window: one batch, one run, named after the window's first event.
        window = new_days(sample, 1, 25)
        events = pipeline.new_files(*window)
        [batch] = wait_for_batches(pipeline, 1)
        assert len(batch["records"]) == 25
        run = run_of(pipeline, batch)
        succeeded(run)
        first = json.loads(batch["records"][0]["body"])
        ids = json.dumps([json.loads(r["body"])["id"] for r in batch["records"]], separators=(",", ":"))
        digest = hashlib.sha1(ids.encode()).hexdigest()
        assert run.name == f"new-files-{first['time'].replace(':', '')}-{digest}"
        assert run.input["detail-type"] == "New log files" and len(run.input["events"]) == 25
        assert sorted(copied_objects(run)) == window
        assert len(pipeline.etl_executions()) == 2
        assert {json.loads(r["body"])["detail"]["object"]["key"] for r in batch["records"]} == {
            json.loads(e["Detail"])["object"]["key"] for e in events}

        # Files across two windows: two runs.
        pipeline.new_files(*new_days(sample, 26, 2))
        time.sleep(WINDOW_SECONDS + 3)
        pipeline.new_files(*new_days(sample, 28, 2))
        batches = wait_for_batches(pipeline, 3)
        assert [len(b["records"]) for b in batches[1:]] == [2, 2]
        for later in batches[1:]:
            assert len(copied_objects(succeeded_run := run_of(pipeline, later))) == 2
            succeeded(succeeded_run)
        assert len(pipeline.etl_executions()) == 4

        # The Pipe delivers the first batch again (say its answer was lost): same name, same
        # input, and the run has ended, so the starter starts nothing.
        same = pipeline.deliver(batch["records"])
        assert same.status == "SUCCEEDED" and "etl_execution" not in same.output, same.output
        assert "ExecutionAlreadyExists" in json.dumps(same.output)
        assert len(pipeline.etl_executions()) == 4
        # SQS delivers the first window's first event again, alone: another batch, another name,
        # a run that finds the object in the ledger and loads nothing.
        pipeline.redeliver(batch["records"][0]["body"])
        again = wait_for_batches(pipeline, 4)[3]
        rerun = run_of(pipeline, again)
        succeeded(rerun)
        assert copied_objects(rerun) == []
        assert len(pipeline.etl_executions()) == 5

        # A window that overlaps the nightly run: both end, and every object is loaded once.
        overlap = new_days(sample, 30, 2)
        nightly = pipeline.start(SCHEDULED)
        pipeline.new_files(*overlap)
        night = pipeline.wait(nightly)
        succeeded(night)
        succeeded(run_of(pipeline, wait_for_batches(pipeline, 5)[4]))
        assert len(pipeline.etl_executions()) == 7
        ledger = pipeline.ledger()
        for key in window + overlap:
            assert key in ledger, key
        loaded = pipeline.checksums()

    assert loaded == from_scratch(sample, tmp_path / "oracle-logs")


def test_keys_load_however_their_events_spell_them(sample, tmp_path):
    """S3 URL-encodes keys in its event notifications; for its EventBridge events the guides do
    not say. Keys with spaces, +, =, %, letters beyond ASCII and a long path load whether their
    event spells them raw or encoded; a key no object answers to is reported and the rest load; a
    key that cannot be loaded safely (a backslash) is reported and skipped, the run going on."""
    from urllib.parse import quote, quote_plus

    odd = [
        "log_data/2018/12/a b+c=d%e 2018-12-01.json",
        "log_data/2018/12/été à Zürich 2018-12-02.json",
        "log_data/" + "deep dir/" * 100 + "2018-12-03.json",
        "log_data/2018/12/plain-2018-12-04.json",
    ]
    gone = "log_data/2018/12/gone 2018-12-05.json"
    unsafe = "log_data/2018/12/back\\slash-2018-12-06.json"
    assert len(odd[2].encode()) > 900
    spelled = {
        odd[0]: quote_plus(odd[0], safe="/"),    # as S3's event notifications spell it
        odd[1]: quote(odd[1], safe="/"),         # percent-encoded, spaces as %20
        odd[2]: odd[2],                          # raw
        odd[3]: odd[3],
        gone: quote_plus(gone, safe="/"),
        unsafe: unsafe,
    }
    assert "+" in spelled[odd[0]] and "%3D" in spelled[odd[0]] and "%25" in spelled[odd[0]]
    with local.LocalPipeline(sample, tmp_path / "logs", new_file_window_seconds=WINDOW_SECONDS) as pipeline:
        succeeded(pipeline.execute(SCHEDULED))
        # The new days land after the night.
        written = odd + [unsafe]
        new_days(sample, 1, len(written), key=lambda day: written[day - 1])
        source = (sample / odd[3]).read_text().splitlines()
        metrics_from = local.functions_log_size(tmp_path / "logs")
        run = pipeline.load_new_files(*odd, gone, unsafe, spelled=spelled)
        counts = succeeded(run)
        ledger = pipeline.ledger()
    assert sorted(copied_objects(run)) == sorted(odd), run.output["copy_staging"]["listing"]
    for key in odd:
        assert ledger[key]["run_id"] == run.name, key
    assert unsafe not in ledger and gone not in ledger
    assert counts["staging_events"] == 4 * len(source)
    listing = run.output["copy_staging"]["listing"]
    assert listing["not_found"] == 1
    reasons = {s["key"]: s["reason"] for s in listing["skipped"]}
    assert reasons[spelled[gone]].startswith("not found"), reasons
    assert reasons[unsafe].startswith("cannot be loaded safely"), reasons
    # The step's progress line (`./dev run`, the local pipeline) says how many and which.
    line = local._done_summary("CopyStaging", run.output["copy_staging"])
    assert "; 1 named by events not found; 1 skipped (" in line, line
    assert spelled[gone] in line and unsafe in line, line
    # And its metric, as CloudWatch reads it from copy-staging's log line.
    emitted = local.emitted_metrics(tmp_path / "logs" / "functions.log", metrics_from)
    assert [d["values"]["MissingObjects"][0] for d in emitted if "MissingObjects" in d["values"]] == [1]
    # The newest log object's age is that of the newest object the events named and HeadObject
    # found (its LastModified: the stand-in's file time), at the end of copy-staging.
    [age] = [d["values"]["NewestLogObjectAgeHours"][0] for d in emitted
             if "NewestLogObjectAgeHours" in d["values"]]
    newest = max((sample / key).stat().st_mtime for key in odd)
    copied = dt.datetime.fromisoformat(run.output["copy_staging"]["finished_at"]).timestamp()
    assert abs(age * 3600 - (copied - newest)) < 1.5, (age, copied, newest)
    # One HEAD per reading of each key, and no LIST.
    assert run.requests["s3_by"]["callers"].get("LIST", 0) == 0


def test_compressed_log_objects_load_like_plain_ones_and_one_that_does_not_inflate_is_quarantined(
        sample, tmp_path):
    """A day written by Firehose (GZIP, `.gz`) and one as BZIP2 (`.bz2`) load as their plain
    twins would, COPY told the codec by the object's name; a `.gz` object whose bytes are not
    GZIP fails its COPY as Redshift fails a load it cannot inflate, and is quarantined, named,
    while the rest of the window loads."""
    import bz2
    import gzip

    with local.LocalPipeline(sample, tmp_path / "logs", new_file_window_seconds=WINDOW_SECONDS) as pipeline:
        succeeded(pipeline.execute(SCHEDULED))
        plain = new_days(sample, 1, 3)
        gz_key, bz2_key = plain[0] + ".gz", plain[1].replace(".json", ".json.bz2")
        (sample / gz_key).write_bytes(gzip.compress((sample / plain[0]).read_bytes()))
        (sample / bz2_key).write_bytes(bz2.compress((sample / plain[1]).read_bytes()))
        lines = len((sample / plain[0]).read_text().splitlines())
        (sample / plain[0]).unlink()
        (sample / plain[1]).unlink()
        not_gzip = plain[2] + ".gz"
        (sample / plain[2]).rename(sample / not_gzip)
        run = pipeline.load_new_files(gz_key, bz2_key, not_gzip)
        ledger = pipeline.ledger()
        quarantined = pipeline.query("SELECT object_key, reason FROM load_quarantine")
    assert run.status == "FAILED" and run.error == "ObjectsQuarantined", (run.error, run.cause)
    assert not_gzip in run.cause and "does not decompress" in run.cause
    assert quarantined == [[not_gzip, quarantined[0][1]]]
    assert "does not decompress" in quarantined[0][1]
    for key in (gz_key, bz2_key):
        assert ledger[key]["rows_loaded"] == lines, key
    assert not_gzip not in ledger


def test_a_run_of_new_log_files_checks_the_rows_it_wrote_and_a_nightly_run_whole_tables(sample, tmp_path):
    """A new file's run checks its own plays and the users, songs, artists and start times they
    name (what it does follows the file, not the warehouse); the nightly run checks whole tables.
    A row broken outside the run does not fail it, one of the run's own does, by name; the next
    nightly run finds both."""
    with local.LocalPipeline(sample, tmp_path / "logs", new_file_window_seconds=WINDOW_SECONDS) as pipeline:
        succeeded(pipeline.execute(SCHEDULED))
        # An old play twice: a whole-table check fails on it, no run of a new file wrote it.
        pipeline.query("INSERT INTO songplays SELECT * FROM songplays"
                       " WHERE songplay_id = (SELECT MIN(songplay_id) FROM songplays)")
        first, second = new_days(sample, 1, 2)
        succeeded(pipeline.load_new_files(first))

        broken = []

        def break_a_play_of_the_run(function: str, payload: dict) -> bool:
            if function == "verify-counts" and payload.get("statement_id") is None and not broken:
                # One of this run's plays now names a user that is not in users.
                pipeline.query("UPDATE songplays SET user_id = -1 WHERE songplay_id = (SELECT"
                               f" MIN(songplay_id) FROM songplays WHERE source_key = '{second}')")
                broken.extend(pipeline.query("SELECT source_key FROM songplays WHERE user_id = -1"))
            return False

        pipeline.before_calls(break_a_play_of_the_run)
        try:
            run = pipeline.load_new_files(second)
        finally:
            pipeline.before_calls(None)
        assert broken == [[second]], broken
        nightly = pipeline.execute(SCHEDULED)
    assert run.status == "FAILED" and run.error == "DataQualityFailed", (run.error, run.cause)
    assert "songplays_user_in_users (1)" in run.cause and "songplays_key_unique" not in run.cause
    assert nightly.status == "FAILED" and nightly.error == "DataQualityFailed", nightly.error
    assert "songplays_user_in_users (1)" in nightly.cause and "songplays_key_unique (1)" in nightly.cause


class HeldStarter:
    """The Pipe's Step Functions client, whose StartExecution of the starter holds each delivery
    until `together` deliveries are in flight at once or `seconds` have passed, and counts the
    most in flight: a Pipe that delivers batches together shows it however slowly this machine
    gathers them (moto's SQS takes a while per receive), while one that delivers a batch at a time
    never has a second in flight. Without `sfn`, the starter always succeeds at once and names an
    execution of its own; otherwise everything else is `sfn`'s."""

    def __init__(self, sfn=None, *, together: int, seconds: float):
        self._sfn, self._together, self._seconds = sfn, together, seconds
        self._changed = threading.Condition()
        self.in_flight = 0
        self.most_in_flight = 0
        self.inputs: list[list[dict]] = []

    def start_execution(self, **request):
        with self._changed:
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
            self._changed.notify_all()
            self._changed.wait_for(lambda: self.most_in_flight >= self._together, self._seconds)
        try:
            if self._sfn is not None:
                return self._sfn.start_execution(**request)
            self.inputs.append(json.loads(request["input"]))
            return {"executionArn": f"{request['stateMachineArn']}:{request['name']}"}
        finally:
            with self._changed:
                self.in_flight -= 1

    def describe_execution(self, *, executionArn):
        if self._sfn is not None:
            return self._sfn.describe_execution(executionArn=executionArn)
        return {"status": "SUCCEEDED", "output": json.dumps({"etl_execution": executionArn})}

    def __getattr__(self, name):
        return getattr(self._sfn, name)


def template_batch_size() -> int:
    template = (local.ROOT / "template.yaml").read_text()
    pipe = template[template.index("  NewFilePipe:\n"):]
    return int(re.search(r"BatchSize: (\d+)", pipe).group(1))


def burst_key(day: int) -> str:
    return f"log_data/2018/12/burst/{day:03d}-events.json"


def test_a_burst_of_more_files_than_a_batch_starts_runs_at_once_each_loading_its_batch_once(
        sample, tmp_path):
    """EventBridge Pipes reads up to five batches of an SQS queue at once (Pipes guide, "Amazon SQS
    queue as a source", scaling), and a pipe has no setting that makes it read one at a time. So
    a burst of more new files than a batch holds is delivered to the starter in batches at once,
    each starting its run: the runs go on together, each loads exactly the files its batch names,
    every file loads once, and the star tables end as a load from scratch of the bucket."""
    batch_size = template_batch_size()
    with local.LocalPipeline(sample, tmp_path / "logs",
                             new_file_window_seconds=WINDOW_SECONDS) as pipeline:
        succeeded(pipeline.execute(SCHEDULED))
        starter = HeldStarter(pipeline._pipe.sfn, together=2, seconds=10)
        pipeline._pipe.sfn = starter
        burst = new_days(sample, 1, 2 * batch_size + 10, key=burst_key)
        pipeline.new_files(*burst)
        # At least three batches: two full ones and the rest.
        until = time.monotonic() + 300
        while sum(len(b["records"]) for b in pipeline.pipe_batches) < len(burst):
            assert time.monotonic() < until, [len(b["records"]) for b in pipeline.pipe_batches]
            time.sleep(0.2)
        batches = pipeline.pipe_batches
        assert 2 <= starter.most_in_flight <= 5, (
            f"the Pipe delivered at most {starter.most_in_flight} batch(es) at once")
        assert len(batches) >= 3 and all(len(b["records"]) <= batch_size for b in batches), [
            len(b["records"]) for b in batches]
        named = [json.loads(r["body"])["detail"]["object"]["key"]
                 for b in batches for r in b["records"]]
        assert sorted(named) == sorted(burst), "every event in exactly one batch"
        runs = [run_of(pipeline, batch) for batch in batches]
        for run, batch in zip(runs, batches):
            succeeded(run)
            assert sorted(copied_objects(run)) == sorted(
                json.loads(r["body"])["detail"]["object"]["key"] for r in batch["records"])
        # The runs went on together: two of them were running at the same time.
        spans = {e["name"]: (e["startDate"], e["stopDate"]) for e in pipeline.etl_executions()}
        ours = sorted(spans[run.name] for run in runs)
        assert any(later[0] < earlier[1] for earlier, later in zip(ours, ours[1:])), ours
        ledger = pipeline.ledger()
        for run, batch in zip(runs, batches):
            for record in batch["records"]:
                key = json.loads(record["body"])["detail"]["object"]["key"]
                assert ledger[key]["run_id"] == run.name, key
        loaded = pipeline.checksums()

    assert loaded == from_scratch(sample, tmp_path / "oracle-logs")


def test_the_local_pipe_reads_up_to_five_batches_at_once_and_each_record_once(tmp_path):
    """The local Pipe alone on moto's SQS: a queue holding six batches' worth of records is read
    five batches at a time (the Pipes guide: "reads up to five batches"), never more, and each
    record is delivered once and then deleted."""
    import boto3
    from moto import mock_aws

    batch_size = template_batch_size()
    with mock_aws():
        sqs = boto3.client("sqs", region_name=local.REGION)
        url = sqs.create_queue(QueueName="new-files", Attributes={"VisibilityTimeout": "1800"})[
            "QueueUrl"]
        bodies = [json.dumps({"id": str(n)}) for n in range(6 * batch_size)]
        for start in range(0, len(bodies), 10):
            sqs.send_message_batch(QueueUrl=url, Entries=[
                {"Id": str(n), "MessageBody": body}
                for n, body in enumerate(bodies[start:start + 10])])
        starter = HeldStarter(together=6, seconds=8)
        pipe = local.LocalPipe(sqs, url, starter, "arn:aws:states:us-west-2:123456789012:"
                               "stateMachine:start", window_seconds=1.0)
        pipe.start()
        try:
            until = time.monotonic() + 120
            while sum(len(b["records"]) for b in pipe.batches) < len(bodies):
                assert time.monotonic() < until, [len(b["records"]) for b in pipe.batches]
                time.sleep(0.1)
        finally:
            pipe.stop()
        left = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert starter.most_in_flight == 5, starter.most_in_flight
    delivered = sorted(r["body"] for batch in starter.inputs for r in batch)
    assert delivered == sorted(bodies)
    assert all(len(batch) <= batch_size for batch in starter.inputs)
    assert (left["ApproximateNumberOfMessages"], left["ApproximateNumberOfMessagesNotVisible"]) == (
        "0", "0")
