#!/usr/bin/env bash
# Issue 19's GPU benchmarks in one command, from the repo root (bench/gpu/README.md):
#   bash bench/gpu/run-all.sh [bench/gpu/run-all.mjs flags: --models, --rounds, --budget-s, --preset, …]
# With .carry/ made here by bench/gpu/build.sh (the GPU machine), tools/device/run-on-device.sh first
# unpacks the carried Node, node_modules and dist and sets up Vulkan; without it (this machine:
# lavapipe), the node on PATH and this checkout's dist run it.
#
# DETACH=1: a device command may run 10 minutes at most, so for a longer budget the run goes on in
# its own session (setsid: a command's leftover processes are killed when it returns, except those)
# under $BENCH_WORK/job, and each call waits up to WAIT_S seconds (default 560), copies what is there
# so far into $OUT and says whether to call again. Call the same command again within the machine's
# 30 s warm window; a fresh machine starts over.
set -uo pipefail
cd "$(dirname "$0")/../.."

run() {
  # run-on-device.sh refuses a node_modules it did not unpack, i.e. anywhere but the device copy.
  if [ -e .carry/node.xz ] && { [ ! -e node_modules ] || [ -e node_modules/.arbor-device-bundle ]; }; then
    exec tools/device/run-on-device.sh bench/gpu/run-all.mjs "$@"
  fi
  exec node bench/gpu/run-all.mjs "$@"
}
[ "${DETACH:-0}" = 1 ] || run "$@"

job=${BENCH_WORK:-/tmp/arbor-gpu-bench}/job
mkdir -p "$job/out"
if [ ! -e "$job/started" ]; then
  date -u +%FT%TZ >"$job/started"
  DETACH=0 OUT="$job/out" setsid bash -c 'bash bench/gpu/run-all.sh "$@" >"$0/console.log" 2>&1 </dev/null; echo $? >"$0/exit"' "$job" "$@" &
  echo "run-all: started in the background ($job); this call waits ${WAIT_S:-560} s at most"
fi
limit=$(($(date +%s) + ${WAIT_S:-560}))
while [ ! -e "$job/exit" ] && [ "$(date +%s)" -lt "$limit" ]; do sleep 5; done
tail -n 40 "$job/console.log" 2>/dev/null
if [ -n "${OUT:-}" ]; then mkdir -p "$OUT" && cp "$job"/out/* "$job/console.log" "$OUT"/ 2>/dev/null; fi
if [ -e "$job/exit" ]; then
  echo "run-all: finished, exit $(cat "$job/exit")"
  exit "$(cat "$job/exit")"
fi
echo "run-all: still running: call the same command again (within 30 s) for the rest"
