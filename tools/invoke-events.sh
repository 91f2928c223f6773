#!/usr/bin/env bash
# Invokes every function with each of its events/ files through `cargo lambda watch`, as a user
# would, and checks the named error each must end in. The Data API and S3 endpoints are a closed
# loopback port, so a well-formed event gets through input parsing and configuration and stops at
# the first Data API call with DataApiUnavailable (copy-staging's first calls list S3 first: at
# the first S3 call, with S3Unavailable); a watch with no configuration answers ConfigError.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source tools/functions-env.sh
project_tools

PORT_CONFIGURED=${INVOKE_PORT:-9311}
PORT_UNCONFIGURED=$((PORT_CONFIGURED + 1))
CLOSED_PORT=9   # discard: nothing listens on it here
WORK="$(mktemp -d)"
WATCH_PIDS=()
cleanup() {
  for pid in "${WATCH_PIDS[@]}"; do kill -- -"$pid" 2>/dev/null || kill "$pid" 2>/dev/null; done
  wait 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

functions_env "$WORK/configured.env" "http://127.0.0.1:$CLOSED_PORT" "http://127.0.0.1:$CLOSED_PORT"
echo "AWS_MAX_ATTEMPTS=1" >> "$WORK/configured.env"
grep -E '^AWS_' "$WORK/configured.env" > "$WORK/unconfigured.env"

start_watch() { # port env-file log
  setsid cargo lambda watch --invoke-address 127.0.0.1 --invoke-port "$1" --env-file "$2" >"$3" 2>&1 &
  WATCH_PIDS+=("$!")
}
wait_for_port() { # port log
  for _ in $(seq 1 240); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.5
  done
  echo "cargo lambda watch did not listen on $1 within 120 s:"; cat "$2"; return 1
}
start_watch "$PORT_CONFIGURED" "$WORK/configured.env" "$WORK/watch-configured.log"
start_watch "$PORT_UNCONFIGURED" "$WORK/unconfigured.env" "$WORK/watch-unconfigured.log"
wait_for_port "$PORT_CONFIGURED" "$WORK/watch-configured.log" || exit 1
wait_for_port "$PORT_UNCONFIGURED" "$WORK/watch-unconfigured.log" || exit 1

passed=0 failed=0
expect() { # port function expected-error invoke-args...
  local port="$1" fn="$2" want="$3"; shift 3
  local out
  # Bounded: a function the watch fails to compile leaves the invoke waiting for ever.
  out="$(timeout 300 cargo lambda invoke "$fn" --invoke-address 127.0.0.1 --invoke-port "$port" "$@" 2>&1)"
  if grep -q "Error: $want\$" <<<"$out"; then
    passed=$((passed + 1)); echo "ok   $fn $* -> $want"
  else
    failed=$((failed + 1)); echo "FAIL $fn $* -> wanted $want, got:"; sed 's/^/     /' <<<"$out"
  fi
}

for fn in create-tables copy-staging load-facts load-dimensions verify-counts; do
  for event in events/"$fn"/*.json; do
    want=DataApiUnavailable
    [[ "$event" == events/copy-staging/first-call-* ]] && want=S3Unavailable
    expect "$PORT_CONFIGURED" "$fn" "$want" --data-file "$event"
  done
done
# The teardown helper, its S3 and CloudFormation's response URL both on the closed port: it
# cannot list the bucket (on Delete), answers, and cannot deliver the answer: S3Unavailable.
for event in events/empty-manifests/*.json; do
  local_event="$WORK/$(basename "$event")"
  sed "s#https://cloudformation-custom-resource-response[^\"]*#http://127.0.0.1:$CLOSED_PORT/response#" \
    "$event" > "$local_event"
  expect "$PORT_CONFIGURED" empty-manifests S3Unavailable --data-file "$local_event"
done
# The warehouse function on the default target, a workgroup: it answers at once, calling nothing.
for event in events/warehouse/*.json; do
  out="$(timeout 300 cargo lambda invoke warehouse --invoke-address 127.0.0.1 --invoke-port "$PORT_CONFIGURED" --data-file "$event" 2>&1)"
  if grep -q '"ready":true' <<<"$out" && grep -q '"status":"serverless"' <<<"$out"; then
    passed=$((passed + 1)); echo "ok   warehouse --data-file $event -> ready (serverless)"
  else
    failed=$((failed + 1)); echo "FAIL warehouse --data-file $event -> wanted ready, got:"; sed 's/^/     /' <<<"$out"
  fi
done
expect "$PORT_CONFIGURED" warehouse InvalidInput --data-ascii '{"action": "reboot"}'
expect "$PORT_CONFIGURED" empty-manifests InvalidInput --data-ascii '{"RequestType": "Delete"}'
expect "$PORT_CONFIGURED" load-facts InvalidInput --data-ascii '{"statement_id": 5}'
expect "$PORT_CONFIGURED" copy-staging InvalidInput --data-file events/create-tables/first-call.json
expect "$PORT_UNCONFIGURED" verify-counts ConfigError --data-file events/verify-counts/first-call.json

echo "invoke-events: $passed passed, $failed failed"
((failed == 0))
