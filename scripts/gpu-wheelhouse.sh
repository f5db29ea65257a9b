#!/usr/bin/env bash
# Download into .whl/ the wheels a GPU host needs to run cnn-search and has not got.
#
# The GPU hosts (see docs/backends-and-gpus.md) carry Python 3.12, JAX and PyTorch but no
# TensorFlow, and reach no network: what cnn-search needs beyond their image travels as wheels.
# Run this here, where pip reaches PyPI:
#   1. pip resolves pyproject.toml's dependencies minus TensorFlow (.ci/requirements-without-tensorflow.py)
#      for that host's Python and platform (metadata only, nothing installed);
#   2. every resolved package the host already has (scripts/gpu-host-packages.txt) is dropped;
#   3. the rest is downloaded, one version each, with --no-deps, into .whl/.
# On the host, scripts/gpu-bench.sh installs them with pip --no-index --target and runs the benchmarks.
# Options (environment): GPU_PYTHON (default 3.12), WHEELHOUSE (default .whl).
set -euo pipefail
cd "$(dirname "$0")/.."
py_version="${GPU_PYTHON:-3.12}"
out="${WHEELHOUSE:-.whl}"
platforms=()
for p in manylinux_2_39 manylinux_2_35 manylinux_2_34 manylinux_2_31 manylinux_2_28 manylinux_2_27 \
         manylinux_2_24 manylinux_2_17 manylinux2014 manylinux1; do
    platforms+=(--platform "${p}_x86_64")
done
target=(--only-binary=:all: --python-version "$py_version" --implementation cp "${platforms[@]}")
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

python3 .ci/requirements-without-tensorflow.py > "$tmp/requirements.txt"
python3 -m pip install -q --dry-run --ignore-installed --target "$tmp/site" --report "$tmp/report.json" \
    "${target[@]}" -r "$tmp/requirements.txt"
python3 - "$tmp/report.json" scripts/gpu-host-packages.txt > "$tmp/missing.txt" <<'EOF'
import json, re, sys
norm = lambda name: re.sub(r"[-_.]+", "-", name).lower()
have = {norm(line.strip()) for line in open(sys.argv[2]) if line.strip() and not line.startswith("#")}
for item in json.load(open(sys.argv[1]))["install"]:
    meta = item["metadata"]
    if norm(meta["name"]) not in have:
        print(f"{meta['name']}=={meta['version']}")
EOF
mkdir -p "$out"
rm -f "$out"/*.whl  # one version of each: two stop the install on the host
python3 -m pip download -q --no-deps "${target[@]}" -d "$out" -r "$tmp/missing.txt"
echo "$(ls "$out"/*.whl | wc -l) wheels, $(du -sh "$out" | cut -f1), in $out/ for Python $py_version x86-64:"
tr '\n' ' ' < "$tmp/missing.txt"; echo
