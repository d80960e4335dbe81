#!/bin/sh
# `tlmbench qualify --agent` against real agents on loopback: vnpu from the agent's plugin folder passes
# (table, JUnit and dataset rows written on the host), a crashing plugin fails on performance.latency, a
# plugin outside the agent's folder is refused (exit 2), an agent killed mid-run and an unreachable agent are
# exit 2 with a message.
# Usage: qualify_remote_cli.sh TLMBENCH PLUGIN_DIR TEST_PLUGIN_DIR WORK_DIR. Exit 77 (skip) where the
# plugins were not built (the ASan run of scripts/test builds tlmbench without them).
set -eu
tlmbench=$1 plugins=$2 test_plugins=$3 work=$4
[ -f "$plugins/tlm_npu_vnpu.so" ] && [ -f "$test_plugins/tlm_npu_broken_crash.so" ] && [ -f "$test_plugins/tlm_npu_broken_hang.so" ] || exit 77
rm -rf "$work" && mkdir -p "$work/models"
pids=""
cleanup() { for p in $pids; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
start_agent() {  # name plugin_dir -> sets $addr
  "$tlmbench" agent --listen 127.0.0.1:0 --name "$1" --models-dir "$work/models" --plugin-dir "$2" \
    --port-file "$work/$1.port" >"$work/$1.log" 2>&1 &
  pids="$pids $!"
  i=0
  while [ ! -s "$work/$1.port" ]; do
    i=$((i + 1)); [ $i -lt 300 ] || { echo "agent $1 did not start"; cat "$work/$1.log"; exit 1; }
    sleep 0.1
  done
  addr=127.0.0.1:$(cat "$work/$1.port")
}
expect() {  # what rc_expected rc file pattern
  [ "$3" -eq "$2" ] || { echo "$1: expected exit $2, got $3"; cat "$4" "$4.err"; exit 1; }
  grep -q -- "$5" "$4" "$4.err" || { echo "$1: no '$5' in the output"; cat "$4" "$4.err"; exit 1; }
}

start_agent good "$plugins"
good=$addr
set +e
"$tlmbench" qualify --agent "$good" --plugin vnpu --soc vnpu-small --no-model --junit "$work/good.xml" \
  --dataset "$work/good.sqlite" >"$work/good.out" 2>"$work/good.out.err"
rc=$?
set -e
cat "$work/good.out.err"
grep '^verdict' "$work/good.out"
expect "vnpu on the agent" 0 $rc "$work/good.out" '^verdict: PASS (17 passed, 0 failed, 1 skipped)'
grep -q '^\[qualify\] 18/18 model.end_to_end: skip' "$work/good.out.err" || { echo "no progress"; exit 1; }
grep -q '^abi.load  *PASS .*tlmbench vnpu 1.0.0' "$work/good.out" || { echo "no abi.load row"; exit 1; }
grep -q 'tests="18" failures="0" skipped="1"' "$work/good.xml" || { echo "bad JUnit"; cat "$work/good.xml"; exit 1; }
[ -s "$work/good.sqlite" ] || { echo "no dataset"; exit 1; }

start_agent broken "$test_plugins"
broken=$addr
set +e
"$tlmbench" qualify --agent "$broken" --plugin broken_crash --soc vnpu-small --only abi.out --only performance \
  >"$work/crash.out" 2>"$work/crash.out.err"
rc=$?
set -e
grep '^verdict' "$work/crash.out"
expect "broken_crash on the agent" 1 $rc "$work/crash.out" 'FAILED performance.latency: crashed with signal 11 (SIGSEGV'

set +e
"$tlmbench" qualify --agent "$broken" --plugin vnpu --soc vnpu-small --no-model >"$work/refused.out" 2>"$work/refused.out.err"
rc=$?
set -e
cat "$work/refused.out.err"
expect "a plugin outside the agent's folder" 2 $rc "$work/refused.out" \
  "REFUSED: plugin 'vnpu' (tlm_npu_vnpu.so) is not in this agent's plugin folder"

# The agent killed (-9) in the middle of a hanging check: the host says it lost the agent, exit 2, and the
# hung check's process goes with the agent's worker.
"$tlmbench" qualify --agent "$broken" --plugin broken_hang --soc vnpu-small --only performance --timeout 120 \
  >"$work/lost.out" 2>"$work/lost.out.err" &
host=$!
i=0
until grep -q '1/2 abi.load' "$work/lost.out.err"; do
  i=$((i + 1)); [ $i -lt 300 ] || { echo "no progress from broken_hang"; cat "$work/lost.out.err"; exit 1; }
  sleep 0.1
done
broken_pid=$(echo $pids | cut -d' ' -f2)
worker=$(pgrep -P "$broken_pid" | head -n1)
check=""
i=0
while [ -z "$check" ]; do  # the worker's forked process of performance.latency, hanging in invoke
  i=$((i + 1)); [ $i -lt 300 ] || { echo "no check process under the worker"; exit 1; }
  sleep 0.1
  check=$(pgrep -P "$worker" | head -n1)
done
kill -9 "$broken_pid"
set +e
wait $host
rc=$?
set -e
cat "$work/lost.out.err"
expect "the agent lost mid-run" 2 $rc "$work/lost.out" "error: lost the agent at $broken before the qualification finished"
i=0
while kill -0 "$worker" 2>/dev/null || kill -0 "$check" 2>/dev/null; do
  i=$((i + 1)); [ $i -lt 50 ] || { echo "the worker ($worker) or its hung check ($check) outlived the agent"; exit 1; }
  sleep 0.1
done

cleanup
for p in $pids; do wait "$p" 2>/dev/null || true; done
pids=""
set +e
"$tlmbench" qualify --agent "$good" --plugin vnpu --soc vnpu-small --no-model >"$work/gone.out" 2>"$work/gone.out.err"
rc=$?
set -e
cat "$work/gone.out.err"
expect "an unreachable agent" 2 $rc "$work/gone.out" "error: cannot reach the agent at $good"
echo "qualify --agent CLI: ok"
