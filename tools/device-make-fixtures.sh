#!/usr/bin/env bash
# The command that made test/fixtures, as run on the GPU machine from the repo root (CPU float64).
# Here afterwards: tar xzf fixtures.tgz && cp -r fx/. test/fixtures/
mkdir -p "$OUT"
(PYTHONUNBUFFERED=1 python3 tools/make_fixtures.py --out "$OUT/fx" 2>&1; echo "EXIT $?") | tee "$OUT/log.txt"
cd "$OUT" && tar czf fixtures.tgz fx && rm -rf fx
