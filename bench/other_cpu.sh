#!/usr/bin/env bash
# Run a command as if on an x86-64 processor without AVX-512 (an AVX2 machine): numpy, OpenCV,
# PyTorch (ATen and oneDNN), MKL and OpenBLAS then take the code paths such a machine takes, with
# its rounding. For measuring what changes between machines (bench/machines.py).
#
#   bash bench/other_cpu.sh dvc repro
set -euo pipefail
export NPY_DISABLE_CPU_FEATURES="X86_V4 AVX512_ICL AVX512_SPR"
export OPENCV_CPU_DISABLE="AVX512F"
export ATEN_CPU_CAPABILITY="avx2"
export DNNL_MAX_CPU_ISA="AVX2"
export MKL_ENABLE_INSTRUCTIONS="AVX2"
export OPENBLAS_CORETYPE="Haswell"
exec "$@"
