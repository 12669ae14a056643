#!/usr/bin/env bash
# Compiles the CUDA kernels (agent/src/main/cuda/*.cu) to PTX, committed as a resource so that no build
# needs nvcc. The output is byte-identical for the same nvcc: run it, then `git diff --exit-code`.
#
#   scripts/build-kernels.sh [--check]     (--check: fail if the committed PTX is not what nvcc makes now)
set -euo pipefail
repo=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)
src="$repo/agent/src/main/cuda/kernels.cu"
out="$repo/agent/src/main/resources/io/diem/agent/engine/cuda/kernels.ptx"
command -v nvcc >/dev/null || { echo "error: nvcc not found (CUDA toolkit 12.x or 13.x)" >&2; exit 1; }
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
# compute_80 PTX runs on Ampere and newer (A100, H100, H200); the driver JIT-compiles it for the GPU.
nvcc -ptx -arch=compute_80 -O3 -o "$tmp" "$src"
if [ "${1:-}" = "--check" ]; then
    cmp -s "$tmp" "$out" || { echo "kernels.ptx is stale: run scripts/build-kernels.sh" >&2; exit 1; }
    echo "kernels.ptx is up to date ($(nvcc --version | tail -1))"
else
    cp "$tmp" "$out"
    echo "wrote $out ($(wc -c < "$out") bytes, $(nvcc --version | tail -1))"
fi
