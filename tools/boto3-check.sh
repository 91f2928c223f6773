#!/usr/bin/env bash
# Starts redshift-local on the project fixtures and runs tools/boto3-data-api.py against it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source tools/functions-env.sh
project_tools
API_PORT=${BOTO3_API_PORT:-9430}
S3_PORT=$((API_PORT + 1))
LOG="$(mktemp)"
cargo build --quiet --locked -p redshift-local
setsid "${CARGO_TARGET_DIR:-target}/debug/redshift-local" --s3-root tests/fixtures/sparkify-mini \
  --data-api-port "$API_PORT" --s3-port "$S3_PORT" \
  --cluster local --cluster-role arn:aws:iam::123456789012:role/sparkify-copy \
  --pause-seconds 0.5 --resume-seconds 0.5 >"$LOG" 2>&1 &
PID=$!
trap 'kill -TERM -- -$PID 2>/dev/null; wait $PID 2>/dev/null; rm -f "$LOG"' EXIT INT TERM
for _ in $(seq 1 600); do (exec 3<>"/dev/tcp/127.0.0.1/$API_PORT") 2>/dev/null && break; sleep 0.5; done
python tools/boto3-data-api.py "http://127.0.0.1:$API_PORT" "http://127.0.0.1:$S3_PORT" || { cat "$LOG"; exit 1; }
