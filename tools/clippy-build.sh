#!/usr/bin/env bash
# Runs a cargo command that builds (`tools/clippy-build.sh cargo test ...`) with `cargo clippy`'s
# lints on the workspace's own crates, as errors: what `./dev test` lints and tests with.
#
# `cargo clippy` is `cargo check` with clippy-driver (rustc with the lints added) compiling the
# workspace's crates: cargo-clippy sets RUSTC_WORKSPACE_WRAPPER to the driver and passes its
# arguments in CLIPPY_ARGS, each followed by __CLIPPY_HACKERY__. Check mode keeps artifacts of its
# own, so after a first `./dev run`, which leaves only the debug build, it compiled every
# dependency a second time (293 s on two cores: docs/performance.md, "Lints on the test build")
# to lint our crates alone. Given the same two variables, a build compiles the workspace's crates
# with the driver, linting each as it compiles it, and takes every dependency from the debug
# build.
# Both variables are in cargo's fingerprint of those crates: a build with them and one without
# keep separate artifacts and do not rebuild each other's.
set -euo pipefail
driver="$(rustc --print sysroot)/bin/clippy-driver"
[[ -x "$driver" ]] || { echo "no clippy-driver at $driver: rustup component add clippy" >&2; exit 1; }
export RUSTC_WORKSPACE_WRAPPER="$driver"
export CLIPPY_ARGS="-D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__"
exec "$@"
