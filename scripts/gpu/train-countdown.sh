#!/usr/bin/env bash
# Trains the Countdown pair on one GPU in one run, the way the arithmetic pair was trained
# (models/README.md): the Multiverse model and its autoregressive twin side by side on the one GPU,
# same recipe, same data, identical schedules (a fixed step count, no time budget). The GPU machine
# has python3 with PyTorch but no Node, so the data is exported on the CPU machine and carried:
#
#   here:   npm run build && bash scripts/gpu/train-countdown.sh --prepare
#           (exports 40 000 training problems and packs them into train/out-countdown/data.tgz, 29 MB)
#   device: bash scripts/gpu/train-countdown.sh        carrying train/out-countdown/data.tgz;
#           $OUT gets models/{multiverse,ar}-countdown, the logs and result.json of both runs.
#   back here: copy $OUT/models/* to models/, then `multiverse eval --task countdown --out docs/eval-countdown.md`.
#
# STEPS (default 4000) and extra --key=value arguments go to both trainings; PROBLEMS (default
# 40000) and PY (default python3) as in train/run.sh; LIMIT_S (default 540) is a safety stop. At 65 536 padded tokens a step, 4000 steps are
# ~12 epochs of the 40 000 problems' Multiverse text; checkpoints are written every 1000 steps, so a
# run cut short still leaves one, which the script exports (then it has not finished its schedule).
set -euo pipefail
cd "$(dirname "$0")/../.."
WORK=train/out-countdown
PROBLEMS=${PROBLEMS:-40000}

if [ "${1:-}" = "--prepare" ]; then
  node dist/scripts/export-task-data.js "$WORK/data" --task countdown --train "$PROBLEMS" --validation 500 --test 1000
  tar czf "$WORK/data.tgz" -C "$WORK" data
  ls -l "$WORK/data.tgz"
  exit 0
fi

RESULTS=${OUT:-$WORK/results}
mkdir -p "$RESULTS"
[ -f "$WORK/data/meta.json" ] || tar xzf "$WORK/data.tgz" -C "$WORK"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
"${PY:-python3}" -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())"
start=$(date +%s)
rm -rf "$WORK/mv" "$WORK/ar"   # no stale checkpoint or result from an earlier run
# run.sh's OUT is its work folder; the device's OUT (what comes back) only gets the results.
status=0
# LIMIT_S stops both trainings (their whole process group) before the device's own limit would stop
# this script, so that the results below still come back.
OUT=$WORK TASK=countdown PROBLEMS=$PROBLEMS PY=${PY:-python3} MODELS="$RESULTS/models" timeout "${LIMIT_S:-540}" bash train/run.sh \
  --batch_tokens=65536 --max_steps="${STEPS:-4000}" --warmup_steps=200 --lr=3e-3 --min_lr=3e-5 \
  --eval_interval=1000 --eval_problems=48 --final_eval_problems=200 --max_new_tokens=1024 --log_interval=200 "$@" || status=$?
for entry in mv:multiverse-countdown ar:ar-countdown; do
  IFS=: read -r run model <<< "$entry"
  mkdir -p "$RESULTS/$run"
  cp "$WORK/$run.log" "$RESULTS/$run/" 2>/dev/null || true
  cp "$WORK/$run/result.json" "$RESULTS/$run/" 2>/dev/null || true
  # A run stopped early (the device's time limit) still leaves its last checkpoint: export that.
  if [ ! -f "$RESULTS/models/$model/config.json" ] && [ -f "$WORK/$run/ckpt.pt" ]; then
    "${PY:-python3}" train/export_hf.py "$WORK/$run" "$RESULTS/models/$model" && echo "$model: exported from the last checkpoint"
  fi
done
echo "train-countdown: exit $status after $(( $(date +%s) - start )) s; results in $RESULTS"
exit $status
