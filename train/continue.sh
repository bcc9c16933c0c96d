#!/usr/bin/env bash
# Trains the shipped models further: starts each from its checkpoint in models/, runs a fresh
# warmup + cosine schedule side by side (one core each), and copies the results back to models/.
# This is how the earlier, CPU-trained checkpoints got their last 1200 steps (train/README.md, Results).
#
#   bash train/continue.sh [--key=value ...]     (e.g. --max_steps=600 --lr=5e-4)
#
# Needs what train/run.sh needs.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=train/out
PY=/usr/bin/python3

[ -f "$OUT/data/meta.json" ] || node dist/scripts/export-arith-data.js "$OUT/data" --train 60000 --validation 500 --test 1000
PIDS=()
for pair in mv:multiverse:multiverse-arith ar:sequential:ar-arith; do
  IFS=: read -r name format model <<< "$pair"
  "$PY" train/train.py --data_dir="$OUT/data" --format="$format" --out_dir="$OUT/$name-more" --threads=1 \
    --init_from="models/$model" --max_steps=1200 --lr=1e-3 --min_lr=5e-5 --warmup_steps=20 "$@" > "$OUT/$name-more.log" 2>&1 &
  PIDS+=($!)
done
for pid in "${PIDS[@]}"; do wait "$pid"; done
for pair in mv:multiverse-arith ar:ar-arith; do
  cp "$OUT/${pair%%:*}-more"/hf/* "models/${pair#*:}/"
  echo "${pair#*:}: $(tr -d '\n ' < "$OUT/${pair%%:*}-more/result.json")"
done
