#!/usr/bin/env bash
# The GPU check in one run, for a machine with an NVIDIA GPU, nvcc, CMake and Python with
# PyTorch + transformers (no Node needed): builds gpu_driver with the CUDA backend, makes random
# Qwen2/Llama checkpoints, checks parity and measures speed, and writes report.md + results.json.
#
#   scripts/gpu-check.sh [OUT_DIR]             OUT_DIR defaults to $OUT, else docs/gpu-check
#   scripts/gpu-check.sh --dry-run [OUT_DIR]   no GPU: CPU backend, tiny models (PYTHON=/usr/bin/python3 here)
set -euo pipefail
cd "$(dirname "$0")/.."

dry=0
if [ "${1:-}" = "--dry-run" ]; then
  dry=1
  shift
fi
out=${1:-${OUT:-docs/gpu-check}}
python=${PYTHON:-python3}
generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
start=$(date +%s)

if [ $dry = 1 ]; then
  build=build-gpu-dry
  cmake -S . -B $build "${generator[@]}" -DMULTIVERSE_ADDON=OFF -DMULTIVERSE_DRIVER=ON >/dev/null
else
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
  build=build-gpu
  cmake -S . -B $build "${generator[@]}" -DMULTIVERSE_ADDON=OFF -DMULTIVERSE_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90 >/dev/null
fi
cmake --build $build -j "$(nproc)" >/dev/null
echo "built $build/gpu_driver in $(( $(date +%s) - start )) s"

flags=()
[ $dry = 1 ] && flags=(--dry-run)
PYTHONUNBUFFERED=1 "$python" scripts/gpu/check.py --driver "$build/gpu_driver" --out "$out" "${flags[@]}"
echo "gpu-check done in $(( $(date +%s) - start )) s; report in $out/report.md"
