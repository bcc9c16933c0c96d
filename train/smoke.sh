#!/usr/bin/env bash
# CI smoke test of the training recipe (well under a minute on two cores), for each task (arith and
# countdown): exports a tiny data set, trains a tiny model for a few steps with periodic evaluation,
# writes its Hugging Face checkpoint, then runs selftest.py (layout twin, cached decoding against the
# full masked forward, safetensors read-back), and a countdown run in two sittings must reproduce the
# one-sitting weights; the three trainings run at once, one core each (on two cores 15-16 s, against
# 17-18 with the two sittings after the countdown run). Prints PASS or FAIL: and exits 0 or 1.
#
#   bash train/smoke.sh      (needs the TypeScript build and Debian's python3-torch)
set -uo pipefail
cd "$(dirname "$0")/.."
DIR=$(mktemp -d)
# On the way out, a job still running (another task's training, after one failed) is stopped with
# its processes before the files under it go, so nothing of it prints after the verdict.
# (Each job's children are read from /proc before the job goes, so no procps is needed.)
stop_jobs() {
  local job children
  for job in $(jobs -p); do
    children=$(cat "/proc/$job/task/$job/children" 2>/dev/null)
    kill -TERM "$job" $children 2>/dev/null
  done
  wait 2>/dev/null
}
trap 'stop_jobs; rm -rf "$DIR"' EXIT
fail() { echo "FAIL: $1"; exit 1; }

[ -f dist/scripts/export-task-data.js ] || fail "dist/scripts/export-task-data.js missing: build the TypeScript first (npm run build)"
# The tiny model, on one core: the trainings run at the same time.
TINY=(--hidden_size=32 --intermediate_size=64 --num_hidden_layers=2 --log_interval=10 --threads=1)
# export_data TASK TRAIN_PROBLEMS: the task's data set, in $DIR/TASK/data.
export_data() {
  node dist/scripts/export-task-data.js "$DIR/$1/data" --task "$1" --train "$2" --validation 16 --test 16 > /dev/null || fail "$1: data export"
}
# smoke TASK [--key=value ...]: the tiny model's schedule and evaluation.
smoke() {
  local task=$1 data="$DIR/$1/data" run="$DIR/$1/run"
  /usr/bin/python3 train/train.py --data_dir="$data" --out_dir="$run" "${TINY[@]}" "${@:2}" > "$DIR/$task.log" 2>&1 || { cat "$DIR/$task.log"; fail "$task: training"; }
  /usr/bin/python3 train/selftest.py "$data" "$run" || fail "$task: selftest"
  # From ln(512) = 6.2 at the start, a few steps of learning must bring the loss well down.
  /usr/bin/python3 -c "import json,sys; r=json.load(open('$run/result.json')); sys.exit(0 if r['val_loss'] < 4.0 else 1)" \
    || { cat "$DIR/$task.log"; fail "$task: validation loss did not go down"; }
}
# Countdown examples are ~3x longer: fewer steps at a higher rate; its decoding is checked by selftest.py.
COUNTDOWN=(--batch_tokens=2048 --max_steps=12 --warmup_steps=2 --lr=1e-2 --eval_interval=0 --final_eval_problems=1 --max_new_tokens=16)
# Resuming: the same countdown run in two sittings (stop at step 6, resume) must end with the very
# weights of the run that went through in one (compared once both are done).
SPLIT="$DIR/countdown/split"
two_sittings() {
  for sitting in --stop_at_step=6 --resume=true; do
    /usr/bin/python3 train/train.py --data_dir="$DIR/countdown/data" --out_dir="$SPLIT" "${TINY[@]}" "${COUNTDOWN[@]}" "$sitting" \
      > "$DIR/split.log" 2>&1 || { cat "$DIR/split.log"; fail "countdown: training in two sittings"; }
  done
  # A second sitting that started over would end with the same weights too.
  grep -q "resumed at step 6 from" "$DIR/split.log" || { cat "$DIR/split.log"; fail "countdown: the second sitting did not resume at step 6"; }
}
# fail() exits its background job with 1; any job failing fails the smoke test (its FAIL line is printed).
await_jobs() {
  local job
  for job in "$@"; do wait "$job" || exit 1; done
}
export_data arith 300 &
arith=$!
export_data countdown 200 &
countdown=$!
await_jobs "$arith" "$countdown"
smoke arith --batch_tokens=2048 --max_steps=30 --warmup_steps=5 --eval_interval=15 --eval_problems=4 \
  --final_eval_problems=8 --max_new_tokens=64 &
arith=$!
smoke countdown "${COUNTDOWN[@]}" &
countdown=$!
two_sittings &
split=$!
await_jobs "$arith" "$countdown" "$split"
/usr/bin/python3 -c "
import sys, torch
a, b = (torch.load(f'{d}/ckpt.pt', map_location='cpu')['model'] for d in sys.argv[1:])
sys.exit(0 if a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a) else 1)" "$DIR/countdown/run" "$SPLIT" \
  || fail "countdown: two sittings (stop_at_step, resume) did not reproduce the one-sitting weights"
echo PASS
