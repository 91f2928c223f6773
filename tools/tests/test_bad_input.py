"""The bad-input corpus (tests/fixtures/bad-input/): every case ends either with its good rows
loaded and its rejects reported in the run's output (file, line or row count, reason), or with a
named error and nothing of it loaded. Keys with quotes, semicolons, SQL, spaces and unicode load as
any other key: the ledger records them byte for byte and no table is touched by their text.

The cases that load are placed in the bucket beside the sample and loaded by one nightly run; each
case's rows, plays and rejects are told apart by its object key. A case whose content fails COPY
gets a new-file execution of its own, which ends FAILED as ObjectsQuarantined with the object in
quarantine and every other table as it was.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import sparkify_local as local  # noqa: E402
from helpers import SCHEDULED, object_created, succeeded  # noqa: E402

CORPUS = local.ROOT / "tests" / "fixtures" / "bad-input"
CASES = sorted(p for p in CORPUS.iterdir() if p.is_dir())


def load_case(folder: Path) -> tuple[dict, bytes]:
    expected = json.loads((folder / "expected.json").read_text())
    body = (folder / "object.json").read_bytes()
    if "inflate" in expected:
        # A >4 MB line is written here rather than committed.
        spec = expected["inflate"]
        lines = body.split(b"\n")
        event = json.loads(lines[spec["line"] - 1])
        event[spec["field"]] = "x" * spec["bytes"]
        lines[spec["line"] - 1] = json.dumps(event).encode()
        body = b"\n".join(lines)
    return expected, body


def put(bucket: Path, key: str, body: bytes) -> None:
    path = bucket / key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(body)


def test_the_corpus_covers_every_kind_of_bad_input_the_issue_names():
    names = {p.name.split("-", 1)[1] for p in CASES}
    assert {
        "malformed-json-line", "truncated-file", "empty-file", "text-in-ts", "float-user-id",
        "oversize-strings", "invalid-utf8", "missing-fields", "duplicate-events", "very-long-line",
        "key-with-quotes", "key-with-semicolons", "key-with-sql", "key-with-spaces",
        "key-with-unicode", "too-many-bad-lines", "bad-lines-under-maxerror",
        "zero-padded-user-id",
    } <= names
    statuses = {json.loads((p / "expected.json").read_text())["status"] for p in CASES}
    assert statuses == {"SUCCEEDED", "FAILED"}


def test_each_bad_input_ends_loaded_with_its_rejects_reported_or_with_a_named_error(sample, tmp_path):
    cases = {folder.name: load_case(folder) for folder in CASES}
    loading = {n: c for n, c in cases.items() if c[0]["status"] == "SUCCEEDED"}
    failing = {n: c for n, c in cases.items() if c[0]["status"] == "FAILED"}
    for expected, body in loading.values():
        put(sample, expected["key"], body)

    with local.LocalPipeline(sample, tmp_path / "logs") as pipeline:
        nightly = pipeline.execute(SCHEDULED)
        succeeded(nightly)
        report = nightly.report
        ledger = pipeline.ledger()
        plays = pipeline.query("SELECT source_key, LENGTH(location) FROM songplays")
        play_users = pipeline.query("SELECT source_key, user_id FROM songplays")
        users = dict(pipeline.query("SELECT user_id, COUNT(*) FROM users GROUP BY user_id"))
        tables = {row[0] for row in pipeline.query(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'")}
        assert {"songplays", "users", "songs", "artists", "time", "load_ledger"} <= tables

        reported_files = set()
        for name, (expected, body) in loading.items():
            key, uri = expected["key"], f"s3://udacity-dend/{expected['key']}"
            # The key is in the ledger byte for byte, with the rows COPY loaded from it.
            assert key in ledger, name
            assert ledger[key]["rows_loaded"] == expected["staged"], name
            assert ledger[key]["size_bytes"] == len(body), name
            rejects = [[r["line"], r["code"], r["column"]]
                       for r in report["rejects"] if r["file"] == uri and r["line"] is not None]
            assert rejects == expected["rejects"], name
            refused = sorted([r["column"], r["rows"]]
                             for r in report["rejects"] if r["file"] == uri and r["line"] is None)
            assert refused == sorted(expected["refused"]), name
            for r in report["rejects"]:
                if r["file"] == uri:
                    assert r["reason"], name
                    reported_files.add(name)
            case_plays = [length for source, length in plays if source == key]
            assert len(case_plays) == expected["songplays"], name
            for column, limit in expected.get("truncated", {}).items():
                assert column == "location" and case_plays == [limit], name
            for user, rows in expected.get("users", {}).items():
                # One user however its id is spelled: one users row, its plays under the number.
                assert users.get(int(user), 0) == rows, (name, user)
                assert [s for s, u in play_users if u == int(user)] == [key] * len(case_plays), name
        # Every reject and refusal is one of the corpus's, and the total adds them up.
        corpus_uris = {f"s3://udacity-dend/{c[0]['key']}" for c in loading.values()}
        assert {r["file"] for r in report["rejects"]} <= corpus_uris
        assert report["rejected_rows"] == sum(
            len(e["rejects"]) + sum(rows for _, rows in e["refused"]) for e, _ in loading.values())
        assert reported_files == {n for n, (e, _) in loading.items() if e["rejects"] or e["refused"]}
        # The run's own staging is gone, as after any run: its lines are published.
        assert pipeline.query("SELECT COUNT(*) FROM staging_events WHERE NOT published")[0][0] == 0
        assert pipeline.query("SELECT COUNT(*) FROM staging_files")[0][0] == 0

        for name, (expected, body) in failing.items():
            before = pipeline.checksums()
            put(sample, expected["key"], body)
            run = pipeline.execute(object_created(expected["key"]))
            assert run.status == "FAILED", name
            assert run.error == expected["error"], (name, run.error, run.cause)
            assert expected["cause"] in (run.cause or ""), (name, run.cause)
            assert expected["key"] in (run.cause or ""), (name, run.cause)
            # Nothing of it is loaded, staged or recorded: every table is as it was, and the
            # object is in quarantine with its ETag, size and Redshift's error.
            assert expected["key"] not in pipeline.ledger(), name
            assert pipeline.checksums() == before, name
            [(etag, size, error, runs)] = pipeline.query(
                "SELECT etag, size_bytes, error, runs FROM load_quarantine WHERE object_key = "
                + "'" + expected["key"].replace("'", "''") + "'")
            assert (size, runs) == (len(body), 1), name
            # Redshift's error as the warehouse gave it: a load failure, or (a JSON object over
            # 4 MB, which Redshift words nowhere in its guides) the stand-in's own words.
            assert ("Load into table" in error or "4 MB" in error) and etag, name


def test_trailing_blanks_give_redshifts_answer(sample, tmp_path):
    """Redshift compares VARCHAR values ignoring trailing blanks ("Character types"), PostgreSQL
    does not: the pipeline keeps ids and pages without them, so both give Redshift's answer, and
    refuses a key that ends in one (the ledger could not tell it from the key without it)."""
    songs = sorted((sample / "song_data").rglob("*.json"))
    song = json.loads(songs[0].read_text())
    folder = sample / "song_data" / "Z" / "Z" / "X"
    folder.mkdir(parents=True)
    # One song in two objects, its id once with a trailing blank: one song on Redshift.
    (folder / "TRZZZX01.json").write_text(json.dumps(dict(song, song_id="SOTRAILING12AB00 ")))
    (folder / "TRZZZX02.json").write_text(json.dumps(dict(song, song_id="SOTRAILING12AB00")))
    # A play whose page ends in a blank: a play on Redshift.
    play = next(json.loads(line)
                for day in sorted((sample / "log_data").rglob("*.json"))
                for line in day.read_text().splitlines()
                if json.loads(line)["page"] == "NextSong")
    play.update(page="NextSong ", sessionId=977_001)
    put(sample, "log_data/2018/11/trailing-page.json", (json.dumps(play) + "\n").encode())
    put(sample, "log_data/2018/11/trailing-key.json ", (json.dumps(play) + "\n").encode())

    with local.LocalPipeline(sample, tmp_path / "logs") as pipeline:
        nightly = pipeline.execute(SCHEDULED)
        succeeded(nightly)
        assert pipeline.query(
            "SELECT song_id, COUNT(*) FROM songs WHERE song_id LIKE 'SOTRAILING%' GROUP BY song_id"
        ) == [["SOTRAILING12AB00", 1]]
        assert pipeline.query(
            "SELECT COUNT(*) FROM songplays WHERE session_id = 977001") == [[1]]
        ledger = pipeline.ledger()
        assert "log_data/2018/11/trailing-page.json" in ledger
        assert "log_data/2018/11/trailing-key.json " not in ledger
        skipped = {s["key"]: s["reason"]
                   for s in nightly.output["copy_staging"]["listing"]["skipped"]}
        assert "ends in a space" in skipped["log_data/2018/11/trailing-key.json "], skipped
