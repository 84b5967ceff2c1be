#!/usr/bin/env bash
# The command that trained models/arbor-tiny, as run on the GPU machine (one H100) from the repo
# root, with .corpus/ (made here by `python3 tools/corpus.py --out .corpus`) carried along.
# It writes to $OUT: smoke.log, train.log and model.tar.part-* (split to pass the 16 MiB file limit).
# Here afterwards: cat model.tar.part-* | tar xf - -C /tmp/m && cp /tmp/m/arbor-tiny/* models/arbor-tiny/
set -o pipefail
D=$(( $(date +%s) + 565 ))
export PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name --format=csv,noheader
python3 tools/train_tiny.py --smoke --corpus .corpus --out /tmp/smoke 2>&1 | tee "$OUT/smoke.log" || exit 3
python3 tools/train_tiny.py --corpus .corpus --out /tmp/m/arbor-tiny --minutes 7 --deadline $D 2>&1 | tee "$OUT/train.log"
cd /tmp/m && tar cf - arbor-tiny | split -b 15m - "$OUT/model.tar.part-"
ls -la "$OUT"
