"""The one build `./dev run` makes serves every later cargo invocation, and says where it is."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import sparkify_local as local  # noqa: E402


@pytest.mark.parametrize("package_id, name", [
    ("registry+https://github.com/rust-lang/crates.io-index#aws-sdk-s3@1.157.0", "aws-sdk-s3"),
    ("path+file:///work/main/local/redshift-local#0.1.0", "redshift-local"),
    ("path+file:///work/main/crates/analytics#sparkify-analytics@0.1.0", "sparkify-analytics"),
])
def test_a_package_id_gives_its_name(package_id, name):
    assert local._package_name(package_id) == name


@pytest.mark.parametrize("function", [*local.FUNCTIONS, "warehouse"])
def test_each_function_built_alone_finds_everything_built(built, function):
    """What `cargo lambda watch` (tools/invoke-events.sh) does at a function's first invocation
    (`cargo run --bin <function>`) compiles nothing after `./dev run`'s one build: one feature set for the whole
    workspace (crates/workspace-hack). With a feature set of its own, a function compiled the AWS
    SDK again, for minutes, inside its Task's 60 s timeout."""
    run = subprocess.run(["cargo", "build", "--locked", "--message-format=json", "--bin", function],
                         cwd=local.ROOT, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stderr[-3000:]
    artifacts = [json.loads(line) for line in run.stdout.splitlines() if line.startswith("{")]
    artifacts = [a for a in artifacts if a.get("reason") == "compiler-artifact"]
    compiled = sorted({a["target"]["name"] for a in artifacts if not a["fresh"]})
    assert artifacts and not compiled, f"--bin {function} compiled again: {compiled}"


def test_a_build_with_nothing_to_do_says_so_in_one_line(built):
    said: list[str] = []
    local.build(out=lambda line, **_: said.append(line))
    assert said == ["==> cargo build (the stand-in, the generator and the five functions)"], said
