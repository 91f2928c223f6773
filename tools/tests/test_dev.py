"""`./dev`'s own behaviour that a new user meets first: the data set `./dev test` needs, where it
is looked for (DATA), and what it says when it is missing (docs/testing.md#the-data-set)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import sparkify_local as local  # noqa: E402

PARTS = ["log_json_path.json", "log_data/", "song_data/A/"]


def dev(*args: str, data: Path | None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("DATA", "SPARKIFY_DATA")}
    if data is not None:
        env["DATA"] = str(data)
    return subprocess.run(["./dev", *args], cwd=local.ROOT, env=env, capture_output=True,
                          text=True, timeout=120)


def test_a_missing_data_set_is_named_part_by_part_with_the_commands_that_get_it(tmp_path):
    run = dev("data", data=tmp_path / "nowhere")
    assert run.returncode != 0
    bucket = tmp_path / "nowhere" / "udacity-dend"
    for part in ["", "log_json_path.json", "log_data/", "song_data/A/"]:
        assert f"missing: {bucket}/{part}" in run.stderr, run.stderr
    for part in PARTS:
        source = f"s3://udacity-dend/{part}"
        assert source in run.stderr and "--no-sign-request" in run.stderr, run.stderr
    assert "DATA=DIR ./dev test" in run.stderr


def test_only_what_is_missing_is_named(tmp_path):
    bucket = tmp_path / "udacity-dend"
    (bucket / "log_data" / "2018" / "11").mkdir(parents=True)
    (bucket / "log_data" / "2018" / "11" / "2018-11-01-events.json").symlink_to(
        local.DATA_SET / "log_data" / "2018" / "11" / "2018-11-01-events.json")
    (bucket / "log_json_path.json").symlink_to(local.DATA_SET / "log_json_path.json")
    run = dev("data", data=tmp_path)
    assert run.returncode != 0
    missing = [line.strip() for line in run.stderr.splitlines() if "missing:" in line]
    assert missing == [f"missing: {bucket}/song_data/A/?/?/*.json (the 14,896 song files)"], \
        run.stderr


def test_the_data_set_is_found_wherever_data_names_it(tmp_path):
    elsewhere = tmp_path / "somewhere" / "else"
    elsewhere.mkdir(parents=True)
    (elsewhere / "udacity-dend").symlink_to(local.DATA_SET, target_is_directory=True)
    run = dev("data", data=elsewhere)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == f"the Sparkify data set: {elsewhere}/udacity-dend"


def test_dev_test_without_the_data_set_fails_before_any_check(tmp_path):
    """The first thing `./dev test` (and so CI) does: a missing data set fails the run at once,
    saying what is missing, instead of failing three checks twenty minutes later."""
    run = dev("test", data=tmp_path)
    assert run.returncode != 0
    assert f"missing: {tmp_path}/udacity-dend/" in run.stderr, run.stderr
    assert "==>" not in run.stdout, run.stdout[-2000:]
