#!/usr/bin/env bash
# Runs the pipeline the way a user can by hand: the local Data API and S3 (`redshift-local`) serve
# DATA_ROOT, `cargo lambda watch` serves the five functions pointed at them, and
# `cargo lambda invoke` calls each function in pipeline order with its events/ file, then again
# with the returned statement id until the step is done. Prints verify-counts' report and checks
# it against the expected counts.
#
# usage: tools/invoke-pipeline.sh DATA_ROOT 'staging_events=8056,staging_songs=14896,...'
#   DATA_ROOT holds one folder per bucket (the bucket here is udacity-dend).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source tools/functions-env.sh
project_tools
DATA_ROOT="$(cd "$1" && pwd)"
EXPECTED="$2"

API_PORT=${INVOKE_API_PORT:-9420}
S3_PORT=$((API_PORT + 1))
LAMBDA_PORT=$((API_PORT + 2))
WORK="$(mktemp -d)"
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill -TERM -- -"$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  done
  rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

wait_for_port() { # port log pid
  for _ in $(seq 1 600); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    kill -0 "$3" 2>/dev/null || { echo "the server for port $1 exited:"; cat "$2"; return 1; }
    sleep 0.5
  done
  echo "nothing listens on $1 after 300 s:"; cat "$2"; return 1
}

cargo build --quiet --locked -p redshift-local
# The manifest bucket (MANIFEST_BUCKET in local/functions.env) is a scratch folder beside the data.
mkdir -p "$WORK/s3/sparkify-work"
setsid "${CARGO_TARGET_DIR:-target}/debug/redshift-local" --s3-root "$DATA_ROOT:$WORK/s3" \
  --data-api-port "$API_PORT" --s3-port "$S3_PORT" >"$WORK/redshift-local.log" 2>&1 &
PIDS+=("$!")
wait_for_port "$API_PORT" "$WORK/redshift-local.log" "$!"

functions_env "$WORK/functions.env" "http://127.0.0.1:$API_PORT" "http://127.0.0.1:$S3_PORT"
setsid cargo lambda watch --invoke-address 127.0.0.1 --invoke-port "$LAMBDA_PORT" \
  --env-file "$WORK/functions.env" >"$WORK/watch.log" 2>&1 &
PIDS+=("$!")
wait_for_port "$LAMBDA_PORT" "$WORK/watch.log" "$!"

# invoke FUNCTION JSON-PAYLOAD: prints the function's JSON answer, fails on a function error.
invoke() {
  cargo lambda invoke "$1" --invoke-address 127.0.0.1 --invoke-port "$LAMBDA_PORT" --data-ascii "$2"
}

# step FUNCTION EVENT-FILE: first call with the file, then with the statement id until done.
step() {
  local fn="$1" event="$2" started=$SECONDS answer payload
  answer="$(cargo lambda invoke "$fn" --invoke-address 127.0.0.1 --invoke-port "$LAMBDA_PORT" --data-file "$event")"
  while [[ "$(python3 -c 'import json,sys; print(json.load(sys.stdin)["done"])' <<<"$answer")" != True ]]; do
    sleep 0.2
    # The next call carries what this one returned (the statement id, and copy-staging's round).
    payload="$(python3 -c 'import json,sys; e=json.load(open(sys.argv[1])); e.update(json.load(sys.stdin)); print(json.dumps(e))' "$event" <<<"$answer")"
    answer="$(invoke "$fn" "$payload")"
  done
  printf '%-16s %4ds  rows %s\n' "$fn" $((SECONDS - started)) \
    "$(python3 -c 'import json,sys; print(json.load(sys.stdin)["rows_affected"])' <<<"$answer")"
  LAST="$answer"
}

step create-tables events/create-tables/first-call.json
step copy-staging events/copy-staging/first-call-nightly.json
step load-facts events/load-facts/first-call.json
step load-dimensions events/load-dimensions/first-call.json
step verify-counts events/verify-counts/first-call.json

LAST="$LAST" python3 - "$EXPECTED" <<'PY'
import json, os, sys
report = json.loads(os.environ["LAST"])["report"]
counts = {c["table"]: c["rows"] for c in report["counts"]}
expected = {k: int(v) for k, v in (pair.split("=") for pair in sys.argv[1].split(","))}
for table, rows in counts.items():
    print(f"  {table:<15} {rows:>7,}")
failed = [c["check"] for c in report["checks"] if not c["passed"]]
print(f"  checks: {len(report['checks']) - len(failed)} passed, {len(failed)} failed")
if counts != expected or failed or not report["passed"]:
    print(f"expected {expected}; failed checks {failed}")
    sys.exit(1)
PY
