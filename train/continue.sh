#!/usr/bin/env bash
# Trains the shipped models further: train/run.sh with each training starting from its checkpoint in
# models/ and a fresh warmup + cosine schedule (1200 steps, lr 1e-3 -> 5e-5), results copied back to
# models/. This is how the earlier, CPU-trained checkpoints got their last 1200 steps
# (train/README.md, Results).
#
#   bash train/continue.sh [--key=value ...]     (e.g. --max_steps=600 --lr=5e-4; later values win)
set -euo pipefail
cd "$(dirname "$0")/.."
FROM=models exec bash train/run.sh --max_steps=1200 --lr=1e-3 --min_lr=5e-5 --warmup_steps=20 "$@"
