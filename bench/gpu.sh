#!/usr/bin/env bash
# The GPU measurements in one prepared call (bench/gpu.py), under 8 minutes on one GPU:
#   torch-tvl1 pairs/s and endpoint error by batch size (compiled, eager), the pipeline's flow
#   stage on the GPU, training samples/s per stream at the paper's size (gpu_decode on/off,
#   bf16), scoring videos/s. Prints the table, writes it to $OUT/gpu.md (or bench/gpu.md) and
#   appends it to bench/RESULTS.md (copy it back from a borrowed machine).
#
#   bash bench/gpu.sh                 # on the GPU machine, from the repository root
#   bash bench/gpu.sh --budget 300    # any bench/gpu.py option
#
# Needs torch with CUDA, numpy, pandas, scikit-learn, pyyaml, tqdm and OpenCV (no contrib, no dvc:
# nothing the measured code does not import). Wheels of anything missing can sit in .whl/.
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONUNBUFFERED=1 TWOSTREAM_LOG=WARNING TQDM_DISABLE=1
nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv,noheader || true
if compgen -G ".whl/*.whl" > /dev/null; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
  export PYTHONPATH="/tmp/site${PYTHONPATH:+:$PYTHONPATH}"
fi
out="${OUT:-bench}"
timeout 475 python3 bench/gpu.py --budget 440 --out "$out" "$@"
