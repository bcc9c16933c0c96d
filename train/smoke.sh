#!/usr/bin/env bash
# CI smoke test of the training recipe (well under a minute on two cores): exports a tiny data set,
# trains a tiny model for a few steps with periodic evaluation, writes its Hugging Face checkpoint,
# then runs selftest.py (layout twin, cached decoding against the full masked forward, safetensors
# read-back). Prints PASS or FAIL: and exits 0 or 1.
#
#   bash train/smoke.sh      (needs the TypeScript build and Debian's python3-torch)
set -uo pipefail
cd "$(dirname "$0")/.."
DIR=$(mktemp -d)
trap 'rm -rf "$DIR"' EXIT
fail() { echo "FAIL: $1"; exit 1; }

[ -f dist/scripts/export-task-data.js ] || fail "dist/scripts/export-task-data.js missing: build the TypeScript first (npm run build)"
node dist/scripts/export-task-data.js "$DIR/data" --train 300 --validation 16 --test 16 > /dev/null || fail "data export"
/usr/bin/python3 train/train.py --data_dir="$DIR/data" --out_dir="$DIR/run" --hidden_size=32 --intermediate_size=64 \
  --num_hidden_layers=2 --batch_tokens=2048 --max_steps=30 --warmup_steps=5 --eval_interval=15 --eval_problems=4 \
  --final_eval_problems=8 --max_new_tokens=64 --log_interval=10 > "$DIR/train.log" 2>&1 || { cat "$DIR/train.log"; fail "training"; }
/usr/bin/python3 train/selftest.py "$DIR/data" "$DIR/run" || fail "selftest"
# From ln(512) = 6.2 at the start, a few steps of learning must bring the loss well down.
/usr/bin/python3 -c "import json,sys; r=json.load(open('$DIR/run/result.json')); sys.exit(0 if r['val_loss'] < 4.0 else 1)" \
  || { cat "$DIR/train.log"; fail "validation loss did not go down"; }
echo PASS
