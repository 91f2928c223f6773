"""Exactly once per S3 object, through the deployable state machine executed locally: the ledger,
new-file and nightly loads, changed objects, backfills and reruns.

The oracle is a second warehouse loaded once, from scratch, with the bucket as it ends up: after any
sequence of incremental runs, every table must have the same checksum as there.
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from pathlib import Path


sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import sparkify_local as local  # noqa: E402
from helpers import (  # noqa: E402
    SCHEDULED, STAR, copied_objects, from_scratch, new_days, object_created, succeeded)


def test_each_object_loads_once_and_incremental_runs_end_where_one_full_load_does(sample, tmp_path):
    log_keys = sorted(str(p.relative_to(sample)) for p in (sample / "log_data").rglob("*.json"))
    song_count = len(list((sample / "song_data").rglob("*.json")))
    with local.LocalPipeline(sample, tmp_path / "logs") as pipeline:
        # 1. The first nightly run loads every object and records each in the ledger.
        first = pipeline.execute(SCHEDULED)
        counts = succeeded(first)
        assert sorted(copied_objects(first)) == log_keys
        ledger = pipeline.ledger()
        assert len(ledger) == len(log_keys) + song_count
        for key in log_keys:
            lines = len((sample / key).read_text().splitlines())
            assert ledger[key]["rows_loaded"] == lines, key
            assert ledger[key]["kind"] == "events" and ledger[key]["run_id"] == first.name
        assert counts["staging_events"] == sum(ledger[k]["rows_loaded"] for k in log_keys)
        after_first = pipeline.checksums()

        # 2. The next nightly run finds nothing new: it stages nothing and changes nothing.
        second = pipeline.execute(SCHEDULED)
        assert succeeded(second)["staging_events"] == 0
        assert copied_objects(second) == []
        assert pipeline.checksums() == after_first

        # 3. A new object's event loads that object only.
        [new_key] = new_days(sample, 1, 1)
        new_file = pipeline.execute(object_created(new_key))
        assert copied_objects(new_file) == [new_key]
        assert succeeded(new_file)["staging_events"] == len((sample / new_key).read_text().splitlines())
        assert pipeline.ledger()[new_key]["run_id"] == new_file.name
        # ... and the same event again (S3 delivers at least once) loads nothing.
        again = pipeline.execute(object_created(new_key))
        assert copied_objects(again) == []

        # 4. A changed object (new ETag) is reloaded by the nightly run, replacing its rows: plays
        #    of the lines it lost are gone.
        changed = sample / log_keys[3]
        kept = changed.read_text().splitlines()[::2]
        changed.write_text("\n".join(kept) + "\n")
        reload = pipeline.execute(SCHEDULED)
        assert copied_objects(reload) == [log_keys[3]]
        assert succeeded(reload)["staging_events"] == len(kept)
        assert pipeline.ledger()[log_keys[3]]["rows_loaded"] == len(kept)
        incremental = pipeline.checksums()

    # The oracle: one nightly run over the bucket as it is now.
    scratch_copy = tmp_path / "scratch" / "udacity-dend"
    shutil.copytree(sample, scratch_copy)
    expected = from_scratch(scratch_copy, tmp_path / "logs-scratch")
    for table in STAR + ["staging_events", "staging_songs", "load_ledger"]:
        assert incremental[table] == expected[table], table
    assert incremental["staging_files"].endswith("/0")


def test_a_backfill_reloads_its_days_and_leaves_every_table_as_it_was(sample, tmp_path):
    with local.LocalPipeline(sample, tmp_path / "logs") as pipeline:
        succeeded(pipeline.execute(SCHEDULED))
        before = pipeline.checksums()
        backfill = pipeline.execute({"backfill": {"from": "2018-11-05", "to": "2018-11-07"}})
        counts = succeeded(backfill)
        days = copied_objects(backfill)
        assert [Path(k).name for k in days] == [
            "2018-11-05-events.json", "2018-11-06-events.json", "2018-11-07-events.json"
        ]
        assert counts["staging_events"] == sum(
            len((sample / k).read_text().splitlines()) for k in days
        )
        ledger = pipeline.ledger()
        assert {k for k, v in ledger.items() if v["run_id"] == backfill.name} == set(days)
        assert pipeline.checksums() == before


def test_a_backfill_of_old_days_never_brings_back_an_older_level(sample, tmp_path):
    """users keeps the level of each user's latest event across loads: reloading the first day
    after the last must not undo a level change seen later."""
    log_keys = sorted(str(p.relative_to(sample)) for p in (sample / "log_data").rglob("*.json"))
    with local.LocalPipeline(sample, tmp_path / "logs") as pipeline:
        succeeded(pipeline.execute(SCHEDULED))
        users = pipeline.query("SELECT user_id, level, last_event_at FROM users ORDER BY user_id")
        first_day = Path(log_keys[0]).name[:10]
        succeeded(pipeline.execute({"backfill": {"from": first_day, "to": first_day}}))
        assert pipeline.query("SELECT user_id, level, last_event_at FROM users ORDER BY user_id") == users


def test_three_reruns_leave_every_table_as_one_run_did(sample, tmp_path):
    with local.LocalPipeline(sample, tmp_path / "logs") as pipeline:
        succeeded(pipeline.execute(SCHEDULED))
        once = pipeline.checksums()
        for _ in range(3):
            succeeded(pipeline.execute(SCHEDULED))
        assert pipeline.checksums() == once


def plays_in(data: Path, keys: list[str]) -> int:
    """The plays the log objects `keys` hold: NextSong events with a whole-number user id, a time,
    a session and an item, each natural key once."""
    found = set()
    for key in keys:
        for line in (data / key).read_text().splitlines():
            event = json.loads(line)
            user = event.get("userId") or ""
            if (event.get("page") == "NextSong" and user.isdigit() and len(user) <= 9
                    and None not in (event.get("ts"), event.get("sessionId"),
                                     event.get("itemInSession"))):
                found.add((event["sessionId"], event["itemInSession"], int(user)))
    return len(found)


def test_plays_that_arrive_before_their_songs_become_songplays_when_the_songs_do(sample, tmp_path):
    """Logs first, songs a night later: the plays wait (reported, in no star table), then load
    once, and the warehouse ends where one load of the whole bucket does."""
    log_keys = sorted(str(p.relative_to(sample)) for p in (sample / "log_data").rglob("*.json"))
    held = tmp_path / "held" / "song_data"
    shutil.move(sample / "song_data", held)
    (sample / "song_data").mkdir()
    with local.LocalPipeline(sample, tmp_path / "logs") as pipeline:
        logs_first = pipeline.execute(SCHEDULED)
        counts = succeeded(logs_first)
        assert (counts["songplays"], counts["songs"], counts["time"]) == (0, 0, 0)
        assert counts["users"] > 0
        assert logs_first.report["waiting_plays"] == plays_in(sample, log_keys)
        assert logs_first.report["oldest_waiting"].startswith("2018-11-01")
        shutil.rmtree(sample / "song_data")
        shutil.move(held, sample / "song_data")
        songs_later = pipeline.execute(SCHEDULED)
        succeeded(songs_later)
        # Nothing new among the logs: the plays come from the event store, matched to the songs.
        assert copied_objects(songs_later) == []
        incremental = pipeline.checksums()
        waiting = songs_later.report["waiting_plays"]
        # Exactly once: another night changes nothing.
        again = pipeline.execute(SCHEDULED)
        succeeded(again)
        assert pipeline.checksums() == incremental
        assert again.report["waiting_plays"] == waiting
    scratch_copy = tmp_path / "scratch" / "udacity-dend"
    shutil.copytree(sample, scratch_copy)
    with local.LocalPipeline(scratch_copy, tmp_path / "logs-scratch") as pipeline:
        from_scratch_run = pipeline.execute(SCHEDULED)
        succeeded(from_scratch_run)
        expected = pipeline.checksums()
    for table in STAR + ["staging_events", "staging_songs", "load_ledger"]:
        assert incremental[table] == expected[table], table
    assert waiting == from_scratch_run.report["waiting_plays"]


def test_a_warehouse_loaded_by_an_older_version_fails_by_name_until_reset(sample, tmp_path):
    """A warehouse made before the event store has a staging_events without its bookkeeping:
    create-tables fails at its shape check, naming the column, before anything is loaded."""
    with local.LocalPipeline(sample, tmp_path / "logs", target="cluster") as pipeline:
        # Made as that version made it: by the pipeline's own database user.
        older = pipeline.redshift.execute_statement(
            ClusterIdentifier="sparkify", Database="dev", DbUser=local.TARGETS["cluster"]["REDSHIFT_DB_USER"],
            Sql="CREATE TABLE staging_events (artist VARCHAR(512), auth VARCHAR(32), song VARCHAR(512), "
                "ts BIGINT, user_id VARCHAR(32), run_id VARCHAR(80), object_key VARCHAR(1024))")
        until = time.monotonic() + 60
        while (status := pipeline.redshift.describe_statement(Id=older["Id"])["Status"]) != "FINISHED":
            assert status not in ("FAILED", "ABORTED") and time.monotonic() < until, status
            time.sleep(0.1)
        run = pipeline.execute(SCHEDULED)
        assert (run.status, run.error) == ("FAILED", "StatementFailed")
        assert 'column \\"published\\" does not exist' in run.cause, run.cause
        # The whole batch rolled back: not one table of this version was made.
        assert pipeline.query("SELECT COUNT(*) FROM information_schema.tables "
                              "WHERE table_name IN ('load_ledger', 'changed_users')")[0][0] == 0
        # What a reset does to it (create-tables with "reset": true drops every table).
        pipeline.query("DROP TABLE staging_events")
        succeeded(pipeline.execute(SCHEDULED))


def test_a_song_record_without_a_song_id_is_no_song_and_is_not_kept(sample, tmp_path):
    """A song object whose record has no song_id loads nothing into the catalogue, however often
    it is rewritten and loaded again; the tables stay those of one load of the final bucket."""
    nameless = sample / "song_data" / "Z" / "Z" / "Z" / "TRZZZNOSONGID.json"
    nameless.parent.mkdir(parents=True, exist_ok=True)
    record = {"num_songs": 1, "artist_id": "ARZZZNOSONGID", "artist_latitude": None,
              "artist_longitude": None, "artist_location": "", "artist_name": "Nobody",
              "song_id": None, "title": "Nameless", "duration": 100.0, "year": 0}
    with local.LocalPipeline(sample, tmp_path / "logs") as pipeline:
        nameless.write_text(json.dumps(record))
        succeeded(pipeline.execute(SCHEDULED))
        for title in ("Nameless (Live)", "Nameless (Remix)"):
            nameless.write_text(json.dumps({**record, "title": title}))
            succeeded(pipeline.execute(SCHEDULED))
        kept = pipeline.query("SELECT COUNT(*) FROM staging_songs WHERE song_id IS NULL")
        incremental = pipeline.checksums()
    assert kept == [[0]]
    assert incremental == from_scratch(sample, tmp_path / "oracle")


def test_the_oracles_memo_is_keyed_by_every_object_s3_serves_through_links_too(tmp_path):
    """from_scratch answers again for a bucket it has loaded only when every key and byte is the
    same, objects under a linked folder included (the local S3 follows links)."""
    from helpers import bucket_digest

    songs_a, songs_b = tmp_path / "songs-a", tmp_path / "songs-b"
    for folder, title in ((songs_a, "A"), (songs_b, "B")):
        folder.mkdir()
        (folder / "x.json").write_text(f'{{"title": "{title}"}}')
    bucket = tmp_path / "bucket"
    (bucket / "log_data").mkdir(parents=True)
    (bucket / "log_data" / "a.json").write_text("{}\n")
    (bucket / "song_data").symlink_to(songs_a)
    first = bucket_digest(bucket)
    (bucket / "song_data").unlink()
    (bucket / "song_data").symlink_to(songs_b)
    assert bucket_digest(bucket) != first
    (bucket / "song_data").unlink()
    (bucket / "song_data").symlink_to(songs_a)
    assert bucket_digest(bucket) == first
    (bucket / "log_data" / "a.json").write_text("{} \n")
    assert bucket_digest(bucket) != first
