"""A log object whose content fails COPY never blocks the night: it is tried alone, put in
quarantine and left out, the rest of the run loads, and the run ends FAILED as ObjectsQuarantined
(after everything else committed) with the failure notice naming it. The next night leaves it out
and succeeds; once fixed (another ETag) it loads and leaves quarantine.

The oracle is a second warehouse loaded once, from scratch, from the bucket without the bad object
(and, at the end, with the fixed one).
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import sparkify_local as local  # noqa: E402
from helpers import SCHEDULED, copied_objects, from_scratch, succeeded  # noqa: E402

POISON = "log_data/2018/11/2018-11-15-late-upload.json"


def good_lines(sample: Path, count: int) -> list[str]:
    """The sample's first `count` events in sessions of their own, so they are new plays."""
    days = sorted((sample / "log_data").rglob("*.json"))
    lines = []
    for line in [line for day in days[:3] for line in day.read_text().splitlines()][:count]:
        event = json.loads(line)
        event["sessionId"] += 500_000
        lines.append(json.dumps(event))
    assert len(lines) == count
    return lines


def copy_staging_calls(execution: local.Execution) -> list[dict]:
    """copy-staging's state after each of its calls, in order."""
    return [json.loads(e["stateExitedEventDetails"]["output"])["steps"]["copy_staging"]
            for e in execution.history
            if e["type"] == "TaskStateExited"
            and e["stateExitedEventDetails"]["name"] == "CopyStaging"]


def left_in_quarantine(execution: local.Execution) -> set[str]:
    return {key for call in copy_staging_calls(execution)
            for key in (call.get("planned") or {}).get("in_quarantine", [])}


def quarantine(pipeline: local.LocalPipeline) -> dict[str, dict]:
    rows = pipeline.query(
        "SELECT object_key, etag, size_bytes, reason, error, runs FROM load_quarantine")
    return {r[0]: dict(zip(["etag", "size_bytes", "reason", "error", "runs"], r[1:])) for r in rows}


def test_a_poison_object_is_quarantined_the_night_loads_the_rest_and_a_fixed_object_loads(sample, tmp_path):
    good = sorted(str(p.relative_to(sample)) for p in (sample / "log_data").rglob("*.json"))
    assert len(good) == 30
    clean = tmp_path / "clean" / sample.name
    shutil.copytree(sample, clean)
    expected = from_scratch(clean, tmp_path / "oracle-logs")

    # 20 lines that are not JSON among 50 good ones: 20 rejects reach MAXERROR 10.
    body = "\n".join(good_lines(sample, 50) + ["<html>not json</html>"] * 20) + "\n"
    (sample / POISON).write_text(body)

    with local.LocalPipeline(sample, tmp_path / "logs") as pipeline:
        first = pipeline.execute(SCHEDULED)
        assert first.status == "FAILED", (first.error, first.cause)
        assert first.error == "ObjectsQuarantined", first.cause
        emitted = local.emitted_metrics(tmp_path / "logs" / "functions.log")
        assert [d["values"]["QuarantinedObjects"][0] for d in emitted
                if "QuarantinedObjects" in d["values"]] == [1]
        assert POISON in first.cause and "MAXERROR 10" in first.cause
        copy = copy_staging_calls(first)[-1]
        assert copy["done"] and copy["quarantined_count"] == 1
        assert [q["key"] for q in copy["quarantined"]] == [POISON]
        # Everything else committed and was verified before the run ended.
        assert "VerifyCounts" in first.states_entered("Task")
        assert "DescribeQuarantine" in first.states_entered("Pass")
        ledger = pipeline.ledger()
        assert sorted(k for k in ledger if k.startswith("log_data/")) == good
        assert POISON not in ledger
        assert pipeline.checksums() == expected
        [notice] = [n for n in first.notifications if n["message"]["error"] == "ObjectsQuarantined"]
        assert POISON in notice["message"]["cause"]
        assert [q["key"] for q in notice["message"]["quarantined"]] == [POISON]
        held = quarantine(pipeline)
        assert list(held) == [POISON]
        assert held[POISON]["size_bytes"] == len(body.encode())
        assert held[POISON]["runs"] == 1
        assert "Load into table" in held[POISON]["error"]
        # It was tried alone before it was quarantined: a round of that one object failed too.
        alone = [s for s in pipeline.statements()
                 if s.get("StatementName") == "sparkify-copy-staging" and s["Status"] == "FAILED"]
        assert len(alone) == 2, [s["Id"] for s in alone]

        # The next night leaves it out and succeeds, loading nothing new.
        second = pipeline.execute(SCHEDULED)
        succeeded(second)
        assert left_in_quarantine(second) == {POISON}
        assert copied_objects(second) == []
        assert pipeline.checksums() == expected
        assert quarantine(pipeline)[POISON]["runs"] == 1

        # Rewritten and still bad: tried again, quarantined again under its new ETag, one more run.
        first_seen = pipeline.query(
            f"SELECT first_seen FROM load_quarantine WHERE object_key = '{POISON}'")[0][0]
        still_bad = "\n".join(good_lines(sample, 30) + ["{not json"] * 15) + "\n"
        (sample / POISON).write_text(still_bad)
        again = pipeline.execute(SCHEDULED)
        assert (again.status, again.error) == ("FAILED", "ObjectsQuarantined"), again.cause
        held_again = quarantine(pipeline)
        assert held_again[POISON]["runs"] == 2
        assert held_again[POISON]["etag"] != held[POISON]["etag"]
        assert held_again[POISON]["size_bytes"] == len(still_bad.encode())
        assert pipeline.query(
            f"SELECT first_seen FROM load_quarantine WHERE object_key = '{POISON}'")[0][0] == first_seen
        assert pipeline.checksums() == expected

        # Fixed: another ETag, tried again, loaded, and out of quarantine.
        fixed = "\n".join(good_lines(sample, 50)) + "\n"
        (sample / POISON).write_text(fixed)
        third = pipeline.execute(SCHEDULED)
        succeeded(third)
        assert copied_objects(third) == [POISON]
        assert left_in_quarantine(third) == set()
        assert pipeline.ledger()[POISON]["rows_loaded"] == 50
        assert quarantine(pipeline) == {}
        loaded = pipeline.checksums()

    (clean / POISON).write_text(fixed)
    assert loaded == from_scratch(clean, tmp_path / "oracle-fixed-logs")


POISON_SONG = "song_data/Z/Z/Z/TRZZZZZ12903CB0000.json"


def ledger_writes(pipeline: local.LocalPipeline, sql_file: str) -> list[int]:
    """The rows each committed batch's `sql_file` statement wrote, oldest batch first."""
    text = (local.ROOT / "sql" / sql_file).read_text()
    head = text[:text.index("{{")]
    rows = []
    for statement in reversed(pipeline.statements()):
        if statement["Status"] != "FINISHED" or not statement.get("IsBatchStatement"):
            continue
        described = pipeline.functions_redshift.describe_statement(Id=statement["Id"])
        rows += [sub["ResultRows"] for sub in described["SubStatements"]
                 if sub["QueryString"].startswith(head)]
    return rows


def test_a_poison_song_object_is_narrowed_down_quarantined_and_a_fixed_one_loads(sample, tmp_path):
    """Song objects share one COPY per round, whose failure does not name its object: the rounds
    after it take half as many song objects until the one that fails alone is put in quarantine;
    every other song and play loads as from scratch without it, and a fixed object loads and
    leaves quarantine."""
    clean = tmp_path / "clean" / sample.name
    shutil.copytree(sample, clean)
    expected = from_scratch(clean, tmp_path / "oracle-logs")
    songs = sorted((sample / "song_data").rglob("*.json"))
    good_song = json.loads(songs[0].read_text())
    # 20 lines that are not JSON reach MAXERROR 10 in whatever round holds the object.
    poison = sample / POISON_SONG
    poison.parent.mkdir(parents=True)
    poison.write_text("<html>not json</html>\n" * 20)

    with local.LocalPipeline(sample, tmp_path / "logs") as pipeline:
        first = pipeline.execute(SCHEDULED)
        assert (first.status, first.error) == ("FAILED", "ObjectsQuarantined"), first.cause
        assert POISON_SONG in first.cause and "MAXERROR 10" in first.cause
        held = quarantine(pipeline)
        assert list(held) == [POISON_SONG]
        assert "Load into table 'songs_load'" in held[POISON_SONG]["error"]
        assert POISON_SONG not in pipeline.ledger()
        assert pipeline.checksums() == expected
        # Narrowed down from a round of every song object: about twice the logarithm of the
        # rounds' sizes failed, each the songs COPY of a round holding the object.
        failed = [s for s in pipeline.statements()
                  if s.get("StatementName") == "sparkify-copy-staging" and s["Status"] == "FAILED"]
        assert 2 <= len(failed) <= 2 * (len(songs) + 1).bit_length(), len(failed)
        # Each committed round recorded its own song objects in the ledger, once: not again
        # every object of the rounds before it (sql/copy/songs_ledger_*.sql), which a first load
        # of a million song objects in 50 rounds made 25 million ledger writes.
        recorded = ledger_writes(pipeline, "copy/songs_ledger_insert.sql")
        assert sum(recorded) == len(songs), recorded
        assert len(recorded) > 1 and ledger_writes(pipeline, "copy/songs_ledger_replace.sql") == [0] * len(recorded)

        # The next night leaves it out and succeeds.
        second = pipeline.execute(SCHEDULED)
        succeeded(second)
        assert left_in_quarantine(second) == {POISON_SONG}
        assert pipeline.checksums() == expected

        # Fixed: another ETag, loaded in a song round, out of quarantine.
        fixed = dict(good_song, song_id="SOFIXED12AB0000000", title="Fixed at last")
        poison.write_text(json.dumps(fixed))
        third = pipeline.execute(SCHEDULED)
        succeeded(third)
        assert quarantine(pipeline) == {}
        assert POISON_SONG in pipeline.ledger()
        loaded = pipeline.checksums()

    fixed_path = clean / POISON_SONG
    fixed_path.parent.mkdir(parents=True)
    fixed_path.write_text(json.dumps(fixed))
    assert loaded == from_scratch(clean, tmp_path / "oracle-fixed")


def test_songs_the_songs_table_refuses_are_reported_until_their_object_is_fixed(sample, tmp_path):
    """A song object whose song has no title, or no artist id, loads into the catalogue but not
    into songs (both NOT NULL, which Redshift enforces): the night succeeds with the rest loaded
    and every run's report names the refused songs until the object is fixed."""
    songs = sorted((sample / "song_data").rglob("*.json"))
    template = json.loads(songs[0].read_text())
    folder = sample / "song_data" / "Z" / "Z" / "Y"
    folder.mkdir(parents=True)
    untitled = dict(template, song_id="SOUNTITLED12AB000", title="")
    no_artist = dict(template, song_id="SONOARTIST12AB000")
    no_artist.pop("artist_id")
    (folder / "TRZZZY01.json").write_text(json.dumps(untitled))
    (folder / "TRZZZY02.json").write_text(json.dumps(no_artist))

    with local.LocalPipeline(sample, tmp_path / "logs") as pipeline:
        first = pipeline.execute(SCHEDULED)
        succeeded(first)
        assert first.report["refused_songs"] == 2
        assert [(s["song_id"], s["column"]) for s in first.report["refused_song_ids"]] == [
            ("SONOARTIST12AB000", "artist_id"), ("SOUNTITLED12AB000", "title")]
        assert pipeline.counts()["songs"] == len(songs)
        # Reported on every run until fixed, not only by the run that loaded it.
        second = pipeline.execute(SCHEDULED)
        succeeded(second)
        assert second.report["refused_songs"] == 2
        # Fixed: the next round replaces the song, which the songs table takes.
        (folder / "TRZZZY01.json").write_text(json.dumps(dict(untitled, title="Named at last")))
        third = pipeline.execute(SCHEDULED)
        succeeded(third)
        assert third.report["refused_songs"] == 1
        assert pipeline.counts()["songs"] == len(songs) + 1
        assert pipeline.query(
            "SELECT title FROM songs WHERE song_id = 'SOUNTITLED12AB000'") == [["Named at last"]]
