#!/usr/bin/env bash
# Trains both arithmetic models from scratch: exports the data, trains the Multiverse model and its
# autoregressive twin side by side (same architecture, hyperparameters and steps; one core each),
# and copies the Hugging Face checkpoints to models/multiverse-arith and models/ar-arith.
#
#   bash train/run.sh [--key=value ...]     (overrides go to both trainings, e.g. --max_steps=600)
#
# Environment: PROBLEMS (training problems, default 60000), PY (the Python with PyTorch, default
# Debian's /usr/bin/python3). The export is skipped when train/out/data already holds one of that size,
# so a machine without Node (a GPU box) can train on data exported elsewhere.
# Needs the TypeScript build (npm run build, or npx tsc -p tsconfig.json) and Debian's PyTorch:
#   apt-get install -y --no-install-recommends python3-torch libopenblas0-pthread
# To train the shipped models further instead, see train/continue.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=train/out
PY=${PY:-/usr/bin/python3}
PROBLEMS=${PROBLEMS:-60000}

exported=$("$PY" -c "import json,sys; print(json.load(open(sys.argv[1]))['sizes']['train'])" "$OUT/data/meta.json" 2>/dev/null || echo 0)
if [ "$exported" != "$PROBLEMS" ]; then
  node dist/scripts/export-arith-data.js "$OUT/data" --train "$PROBLEMS" --validation 500 --test 1000
fi
"$PY" train/train.py --data_dir="$OUT/data" --format=multiverse --out_dir="$OUT/mv" --threads=1 "$@" > "$OUT/mv.log" 2>&1 &
MV=$!
"$PY" train/train.py --data_dir="$OUT/data" --format=sequential --out_dir="$OUT/ar" --threads=1 "$@" > "$OUT/ar.log" 2>&1 &
AR=$!
wait "$MV"
wait "$AR"
for pair in mv:multiverse-arith ar:ar-arith; do
  mkdir -p "models/${pair#*:}"
  cp "$OUT/${pair%%:*}"/hf/* "models/${pair#*:}/"
  echo "${pair#*:}: $(tr -d '\n ' < "$OUT/${pair%%:*}/result.json")"
done
