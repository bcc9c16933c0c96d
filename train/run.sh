#!/usr/bin/env bash
# Trains a task's two models: exports the data, trains the Multiverse model and its autoregressive
# twin side by side (same architecture, hyperparameters and steps; one core each), and copies the
# Hugging Face checkpoints to models/multiverse-$TASK and models/ar-$TASK.
#
#   bash train/run.sh [--key=value ...]     (overrides go to both trainings, e.g. --max_steps=600)
#
# Environment: TASK (arith or countdown, default arith), PROBLEMS (training problems, default 60000), PY (the Python with PyTorch, default
# Debian's /usr/bin/python3), FROM (a folder holding multiverse-arith/ and ar-arith/: each training
# starts from those weights instead of random ones, as train/continue.sh does with models/), DATA (a
# data folder to train on instead of the arithmetic export, e.g. one `multiverse curate --data-dir`
# wrote; see docs/curator.md), MODELS (where the checkpoints go, default models) and OUT (the work
# folder, default train/out, or train/out-$TASK for a task other than arith). The export is skipped when $OUT/data already holds one of that size,
# so a machine without Node (a GPU box) can train on data exported elsewhere.
# Needs the TypeScript build (npm run build, or npx tsc -p tsconfig.json) and Debian's PyTorch:
#   apt-get install -y --no-install-recommends python3-torch libopenblas0-pthread
set -euo pipefail
cd "$(dirname "$0")/.."
TASK=${TASK:-arith}
if [ "$TASK" = arith ]; then OUT=${OUT:-train/out}; else OUT=${OUT:-train/out-$TASK}; fi
PY=${PY:-/usr/bin/python3}
PROBLEMS=${PROBLEMS:-60000}

MODELS=${MODELS:-models}

if [ -n "${DATA:-}" ]; then
  DATA_DIR=$DATA
else
  DATA_DIR=$OUT/data
  exported=$("$PY" -c "import json,sys; m=json.load(open(sys.argv[1])); print(m.get('task', 'arith'), m['sizes']['train'])" "$DATA_DIR/meta.json" 2>/dev/null || echo none)
  if [ "$exported" != "$TASK $PROBLEMS" ]; then
    node dist/scripts/export-task-data.js "$DATA_DIR" --task "$TASK" --train "$PROBLEMS" --validation 500 --test 1000
  fi
fi
RUNS=(mv:multiverse:multiverse-$TASK ar:sequential:ar-$TASK)
PIDS=()
mkdir -p "$OUT"
for entry in "${RUNS[@]}"; do
  IFS=: read -r name format model <<< "$entry"
  init=()
  if [ -n "${FROM:-}" ]; then init=(--init_from="$FROM/$model"); fi
  "$PY" train/train.py --data_dir="$DATA_DIR" --format="$format" --out_dir="$OUT/$name" --threads=1 "${init[@]}" "$@" > "$OUT/$name.log" 2>&1 &
  PIDS+=($!)
done
for pid in "${PIDS[@]}"; do wait "$pid"; done
for entry in "${RUNS[@]}"; do
  IFS=: read -r name _ model <<< "$entry"
  mkdir -p "$MODELS/$model"
  cp "$OUT/$name"/hf/* "$MODELS/$model/"
  echo "$model: $(tr -d '\n ' < "$OUT/$name/result.json")"
done
