"""The one build `./dev run` makes serves every later cargo invocation, and says where it is."""

from __future__ import annotations

import json
import os
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


@pytest.mark.parametrize("function", [*local.FUNCTIONS, "warehouse", "empty-manifests", "bootstrap"])
def test_each_function_built_alone_finds_everything_built(built, function):
    """What `cargo lambda watch` (tools/invoke-events.sh) does at a function's first invocation
    (`cargo run --bin <function>`), and what `sam build` builds (the bootstrap, alone), compiles
    nothing after `./dev run`'s one build: one feature set for the whole workspace
    (crates/workspace-hack). With a feature set of its own, a function compiled the AWS SDK again,
    for minutes, inside its Task's 60 s timeout."""
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


def test_clippy_build_fails_a_build_on_a_lint_and_passes_it_without(tmp_path):
    """`./dev test`'s lint check is a build through tools/clippy-build.sh, which hands clippy-driver
    its arguments the way cargo-clippy does (CLIPPY_ARGS). Were that hand-over to stop working (a
    toolchain that spells it otherwise), the build would pass with clippy's lints off: so a crate
    with one lint must fail, by the lint's name, and the same crate without it must pass."""
    crate = tmp_path / "linted"
    (crate / "src").mkdir(parents=True)
    (crate / "Cargo.toml").write_text(
        '[package]\nname = "linted"\nversion = "0.1.0"\nedition = "2021"\n\n[workspace]\n')
    env = {k: v for k, v in os.environ.items() if not k.startswith("CARGO_TARGET")}
    env["CARGO_TARGET_DIR"] = str(tmp_path / "target")

    def build(main: str) -> subprocess.CompletedProcess:
        (crate / "src" / "main.rs").write_text(main)
        return subprocess.run([str(local.ROOT / "tools" / "clippy-build.sh"), "cargo", "build"],
                              cwd=crate, env=env, capture_output=True, text=True, timeout=300)

    args = "    let args: Vec<String> = std::env::args().collect();\n"
    linted = build(f'fn main() {{\n{args}    println!("{{}}", args.len() == 0);\n}}\n')
    assert linted.returncode != 0, linted.stderr[-3000:]
    assert "clippy::len_zero" in linted.stderr and "error: length comparison to zero" in \
        linted.stderr, linted.stderr[-3000:]
    clean = build(f'fn main() {{\n{args}    println!("{{}}", args.is_empty());\n}}\n')
    assert clean.returncode == 0, clean.stderr[-3000:]
