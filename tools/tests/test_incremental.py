"""Incremental equals from scratch, as a property over arrival orders.

A generated bucket (sparkify-gen, its own seed) arrives in batches picked from a seed: song files
before or after the plays that need them, new-file windows through the rule, queue and Pipe,
nightly runs, backfills of days that arrived, a log object rewritten (a corrected day), a song
object rewritten (same song id, another title or artist name), the same file announced twice, the
same lines under a second key, objects deleted after they loaded, a window that overlaps a nightly
run, and runs held to one round each by the load budget (LOAD_BUDGET_SECONDS=0), which hand the rest
to continuations. Once the runs have caught up (a last nightly run, and every continuation), every
star table, the event store, the song catalogue and the ledger must have the checksums a
from-scratch load of the same bucket gives, under both isolation levels (a workgroup runs SNAPSHOT,
a cluster SERIALIZABLE).

What a deleted object means (docs/exactly-once.md): its rows stay. The oracle's bucket is the final
bucket with the last loaded version of every deleted object put back.

`./dev test` runs a few sequences (`--sequences 2`, each under both isolation levels); run more with
`python -m pytest tools/tests/test_incremental.py --sequences 50`, or one again with `--seed S`.
A failure names its seed, and the batches it took.
"""

from __future__ import annotations

import hashlib
import json
import random
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import sparkify_local as local  # noqa: E402
from helpers import SCHEDULED, STAR, new_days, succeeded  # noqa: E402

# The tables compared, beside the star schema: the event store, the catalogue and the ledger.
COMPARED = STAR + ["staging_events", "staging_songs", "load_ledger"]
# Seeds of the default sequences: sequence n uses FIRST_SEED + n.
FIRST_SEED = 1000
# Batches a sequence takes before everything left arrives for the last nightly run.
STEPS = 8


def pytest_generate_tests(metafunc):
    if "seed" in metafunc.fixturenames:
        chosen = metafunc.config.getoption("seed")
        count = metafunc.config.getoption("sequences")
        seeds = [chosen] if chosen is not None else [FIRST_SEED + n for n in range(count)]
        metafunc.parametrize("seed", seeds, ids=[f"seed-{s}" for s in seeds])


class Arrivals:
    """The served bucket, filled from the generated one as the sequence says, and the runs that
    load it."""

    def __init__(self, rng: random.Random, generated: Path, served: Path, attic: Path,
                 pipeline: local.LocalPipeline):
        self.rng = rng
        self.generated = generated
        self.served = served
        self.attic = attic  # the last loaded version of each deleted object
        self.pipeline = pipeline
        self.logs = sorted(str(p.relative_to(generated)) for p in (generated / "log_data").rglob("*.json"))
        self.songs = sorted(str(p.relative_to(generated)) for p in (generated / "song_data").rglob("*.json"))
        rng.shuffle(self.logs)
        rng.shuffle(self.songs)
        self.steps: list[str] = []
        self.copies = 0

    # -- the bucket ------------------------------------------------------------------------------

    def arrive(self, keys: list[str]) -> list[str]:
        for key in keys:
            (self.served / key).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(self.generated / key, self.served / key)
        return keys

    def take(self, pending: list[str], most: int) -> list[str]:
        count = self.rng.randint(1, max(1, min(most, len(pending)))) if pending else 0
        taken, pending[:] = pending[:count], pending[count:]
        return self.arrive(taken)

    def arrived(self, prefix: str) -> list[str]:
        return sorted(str(p.relative_to(self.served)) for p in (self.served / prefix).rglob("*.json"))

    def loaded(self) -> list[str]:
        """Objects whose version now in the bucket is the one the ledger holds."""
        ledger = self.pipeline.ledger()
        out = []
        for key in self.arrived("log_data") + self.arrived("song_data"):
            body = (self.served / key).read_bytes()
            if ledger.get(key, {}).get("etag") == hashlib.md5(body).hexdigest():
                out.append(key)
        return out

    # -- the runs --------------------------------------------------------------------------------

    def finish(self, execution: local.Execution) -> None:
        """The run and every continuation it started succeeded."""
        for run in [execution, *self.pipeline.continuations(execution)]:
            assert run.status == "SUCCEEDED", (run.name, run.error, run.cause, self.steps)
            assert run.report["passed"], (run.name, run.report["checks"], self.steps)

    def night(self) -> None:
        self.finish(self.pipeline.execute(SCHEDULED))

    def window(self, keys: list[str]) -> None:
        if keys:
            self.finish(self.pipeline.load_new_files(*keys))

    # -- the arrivals ----------------------------------------------------------------------------

    def step(self) -> None:
        rng = self.rng
        choices = ["songs", "window", "night", "backfill", "correct_day", "rewrite_song",
                   "twice", "copy_log", "delete", "overlap"]
        name = rng.choice(choices)
        if name == "songs":
            self.steps.append(f"songs {len(self.take(self.songs, 150))}")
            if rng.random() < 0.5:
                self.night()
        elif name == "window":
            keys = self.take(self.logs, 5)
            self.steps.append(f"window {keys}")
            self.window(keys)
        elif name == "night":
            logs, songs = self.take(self.logs, 8), self.take(self.songs, 100)
            self.steps.append(f"night with {len(logs)} logs, {len(songs)} songs new")
            self.night()
        elif name == "backfill":
            days = sorted(local_day(key) for key in self.arrived("log_data"))
            if not days:
                return
            first = rng.randrange(len(days))
            span = days[first:first + rng.randint(1, 4)]
            self.steps.append(f"backfill {span[0]}..{span[-1]}")
            self.finish(self.pipeline.execute({"backfill": {"from": span[0], "to": span[-1]}}))
        elif name == "correct_day":
            arrived = self.arrived("log_data")
            if not arrived:
                return
            key = rng.choice(arrived)
            lines = (self.served / key).read_text().splitlines()
            kept = [line for n, line in enumerate(lines) if n % 3 != 1]
            for n, line in enumerate(kept):
                event = json.loads(line)
                if event.get("page") == "NextSong" and rng.random() < 0.2:
                    event["level"] = "paid" if event.get("level") == "free" else "free"
                    kept[n] = json.dumps(event)
            (self.served / key).write_text("\n".join(kept) + "\n")
            announced = rng.random() < 0.5
            self.steps.append(f"correct {key} ({'announced' if announced else 'for the night'})")
            if announced:
                self.window([key])
        elif name == "rewrite_song":
            arrived = self.arrived("song_data")
            if not arrived:
                return
            key = rng.choice(arrived)
            song = json.loads((self.served / key).read_text())
            # Another title: either one a logged play names (a play finds it), or a new one (the
            # plays of the old title lose it).
            play = rng.choice(self.plays()) if rng.random() < 0.6 else None
            if play:
                song["title"], song["artist_name"] = play["song"], play["artist"]
            else:
                song["title"] = f"{song['title']} (Live)"
            # Sometimes credited to another artist of the catalogue too: the old artist may lose
            # its last song, the new one gains one.
            others = [k for k in arrived if k != key]
            moved = ""
            if others and rng.random() < 0.3:
                song["artist_id"] = json.loads((self.served / rng.choice(others)).read_text())["artist_id"]
                moved = f", to artist {song['artist_id']}"
            (self.served / key).write_text(json.dumps(song))
            self.steps.append(f"rewrite {key} ({'to a played song' if play else 'away'}{moved})")
        elif name == "twice":
            loaded = [key for key in self.loaded() if key.startswith("log_data")]
            if loaded:
                key = rng.choice(loaded)
                self.steps.append(f"announce {key} again")
                self.window([key])
        elif name == "copy_log":
            arrived = self.arrived("log_data")
            if not arrived:
                return
            key = rng.choice(arrived)
            self.copies += 1
            copy = key.replace(".json", f"-copy{self.copies}.json")
            shutil.copyfile(self.served / key, self.served / copy)
            self.steps.append(f"copy {key} to {copy}")
            self.window([copy])
        elif name == "delete":
            loaded = self.loaded()
            if not loaded:
                return
            key = rng.choice(loaded)
            (self.attic / key).parent.mkdir(parents=True, exist_ok=True)
            shutil.move(self.served / key, self.attic / key)
            self.steps.append(f"delete {key}")
        elif name == "overlap":
            night_logs = self.take(self.logs, 4)
            window_logs = self.take(self.logs, 3)
            self.steps.append(f"night with {len(night_logs)} logs overlapping window {window_logs}")
            nightly = self.pipeline.start(SCHEDULED)
            self.window(window_logs)
            self.finish(self.pipeline.wait(nightly))

    def plays(self) -> list[dict]:
        found = []
        for key in self.arrived("log_data"):
            for line in (self.served / key).read_text().splitlines():
                event = json.loads(line)
                if event.get("page") == "NextSong" and event.get("song") and event.get("artist"):
                    found.append(event)
        return found or [{"song": "Nothing", "artist": "Nobody"}]


def local_day(key: str) -> str:
    return Path(key).name[:10]


@pytest.mark.parametrize("target", ["workgroup", "cluster"])
def test_incremental_runs_in_any_arrival_order_end_where_a_load_from_scratch_does(
        seed, target, built, tmp_path):
    rng = random.Random(seed)
    budget = rng.choice([None, "0"])
    subprocess.run([str(local.TARGET / "debug" / "sparkify-gen"), "--out", str(tmp_path / "gen"),
                    "--seed", str(seed)], check=True, stdout=subprocess.DEVNULL)
    generated = tmp_path / "gen" / "udacity-dend"
    served = tmp_path / "served" / "udacity-dend"
    attic = tmp_path / "attic"
    (served / "log_data").mkdir(parents=True)
    (served / "song_data").mkdir(parents=True)
    shutil.copyfile(generated / "log_json_path.json", served / "log_json_path.json")
    env = {"LOAD_BUDGET_SECONDS": budget} if budget else {}
    said = f"seed {seed}, {target}, load budget {budget or 'default'}"
    with local.LocalPipeline(served, tmp_path / "logs", target=target, function_env=env,
                             new_file_window_seconds=0.5) as pipeline:
        arrivals = Arrivals(rng, generated, served, attic, pipeline)
        for _ in range(STEPS):
            arrivals.step()
        # Caught up: the songs and anything announced by no event load with the night.
        arrivals.arrive(arrivals.logs + arrivals.songs)
        arrivals.steps.append("night (catching up)")
        arrivals.night()
        incremental = pipeline.checksums()
    # The oracle: the final bucket, with the last loaded version of each deleted object.
    scratch = tmp_path / "scratch" / "udacity-dend"
    shutil.copytree(served, scratch)
    if attic.exists():
        shutil.copytree(attic, scratch, dirs_exist_ok=True)
    with local.LocalPipeline(scratch, tmp_path / "logs-scratch", target=target) as pipeline:
        succeeded(pipeline.execute(SCHEDULED))
        expected = pipeline.checksums()
    differing = [table for table in COMPARED if incremental[table] != expected[table]]
    assert not differing, (f"{said}: {differing} differ from a load from scratch after "
                           f"{arrivals.steps}")


def test_a_backlog_larger_than_a_run_loads_over_successive_runs_each_within_its_budget(
        sample, tmp_path):
    """With a load budget of nothing, a run takes one round and hands the rest to a continuation,
    which the state machine starts as the run ends: the nightly first load (the songs' round and
    two rounds of log objects), a backfill of every day (two rounds) and a window of 25 new files
    (two rounds) each end as one load of the same objects does."""
    scratch = tmp_path / "scratch" / "udacity-dend"
    shutil.copytree(sample, scratch)
    with local.LocalPipeline(sample, tmp_path / "logs",
                             function_env={"LOAD_BUDGET_SECONDS": "0"}) as pipeline:
        first = pipeline.execute(SCHEDULED)
        chain = [first, *pipeline.continuations(first)]
        assert len(chain) == 3, [run.name for run in chain]
        for run in chain:
            succeeded(run)
        # Each run took one round, its budget spent when that round committed: the songs, then
        # 18 log objects, then the last 12.
        objects = [{f["what"]: f["count"] for f in run.output["copy_staging"]["staged"]}
                   for run in chain]
        assert [(o.get("song objects", 0), o.get("log objects", 0)) for o in objects] == [
            (300, 0), (0, 18), (0, 12)]
        assert [run.output["copy_staging"]["backlog"] for run in chain] == [True, True, False]
        assert chain[1].name == chain[0].continuation and chain[1].input == {
            "continue": {"after": chain[0].name}}
        # The first run published what it staged: the songs, before any log object loaded.
        assert {c["table"]: c["rows"] for c in chain[0].report["counts"]}["songs"] == 300
        after_night = pipeline.checksums()
        backfill = pipeline.execute({"backfill": {"from": "2018-11-01", "to": "2018-11-30"}})
        assert len([backfill, *pipeline.continuations(backfill)]) == 2
        assert pipeline.checksums() == after_night
        window = new_days(sample, 1, 25)
        loaded = pipeline.load_new_files(*window)
        runs = [loaded, *pipeline.continuations(loaded)]
        assert [len(run.output["copy_staging"]["planned"]["log_objects"]) for run in runs] == [18, 7]
        incremental = pipeline.checksums()
    shutil.copytree(sample, scratch, dirs_exist_ok=True)
    with local.LocalPipeline(scratch, tmp_path / "logs-scratch") as pipeline:
        succeeded(pipeline.execute(SCHEDULED))
        expected = pipeline.checksums()
    for table in COMPARED:
        assert incremental[table] == expected[table], table
