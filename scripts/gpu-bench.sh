#!/usr/bin/env bash
# The GPU benchmark suite on a GPU host with JAX and no network, from a checkout of this repository:
#   scripts/gpu-bench.sh                                   # all four, at their GPU sizes
#   BENCHES="workers comparison" scripts/gpu-bench.sh      # some of them
#   scripts/gpu-bench.sh --subset 200 --epochs 1 --test-subset 100 --seconds 0.2 --worker-trials 2  # tiny
# Arguments are passed to every benchmark after its own sizes, so they win.
#
# Before: scripts/gpu-wheelhouse.sh here (wheels into .whl/) and the four Fashion-MNIST .gz files in
# .data/fashion-mnist/ (or CNN_SEARCH_DATA set); both travel with the checkout. The wheels are installed
# with --no-index into a target folder put on PYTHONPATH, as the host cannot reach a registry. Rows are
# appended to results/bench/<benchmark>.csv with the device and backend (KERAS_BACKEND, default jax):
#   throughput  images/s per zoo variant in training and inference
#   workers     the same study with K = 1, 2, 4, 8 trials sharing GPU 0, each capped to 1/K of its memory
#   options     [training] settings against the defaults (XLA, mixed_float16 where a GPU is visible)
#   comparison  seed 003's spaces/variants.toml: 5 models, 48,000 images, 25 epochs, one seed
set -euo pipefail
cd "$(dirname "$0")/.."
python="${PYTHON:-python3}"
site="${GPU_SITE:-/tmp/cnn-search-site}"
if compgen -G ".whl/*.whl" >/dev/null; then
    "$python" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$site" .whl/*.whl
    export PYTHONPATH="$site${PYTHONPATH:+:$PYTHONPATH}"
fi
if [ -z "${CNN_SEARCH_DATA:-}" ] && [ -d .data/fashion-mnist ]; then
    export CNN_SEARCH_DATA="$PWD/.data/fashion-mnist"
fi
export KERAS_BACKEND="${KERAS_BACKEND:-jax}" PYTHONUNBUFFERED=1
command -v nvidia-smi >/dev/null && nvidia-smi -L || echo "no nvidia-smi: the benchmarks run on the CPU"

bench() { "$python" -m search.bench "$@"; }           # cnn-search bench: this machine's figures
harness() { "$python" -m "benchmarks.$1" "${@:2}"; }  # the checkout's development harness (benchmarks/)
for name in ${BENCHES:-throughput workers options comparison}; do
    case "$name" in
        throughput) bench throughput --subset 10000 --seconds 3 "$@" ;;
        workers) bench workers --trials-per-gpu 1,2,4,8 --subset 10000 --epochs 3 --worker-trials 8 "$@" ;;
        options) harness options --subset 10000 --epochs 3 "$@" ;;
        comparison) bench comparison --subset 60000 --epochs 25 --seeds 1 "$@" ;;
        *) echo "gpu-bench.sh: unknown benchmark '$name' (throughput, workers, options, comparison)" >&2; exit 2 ;;
    esac
done
