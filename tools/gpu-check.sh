#!/usr/bin/env bash
# bash gpu-check.sh OUTDIR [--device cpu]
# The GPU check of forget-conformance on a machine without network access. Installs the
# wheels next to this script (Chainer 7.8.1 and forget-conformance) into a private target
# directory with the python3 on PATH (offline, system packages untouched), then runs
# python3 -m forget_conformance.gpu_check: both implementations on CPU and GPU, the
# cross-device fuzz suite and forget-bench on the GPU; reports and a summary in OUTDIR.
# --device cpu is the dry run for a machine without a GPU. Exit 0 when every run passed,
# 1 when one did not, 2 on bad usage or a failed install.
set -euo pipefail
usage="usage: bash gpu-check.sh OUTDIR [--device cpu]"
if [[ $# -lt 1 || $# -gt 3 || "$1" == -* ]]; then echo "gpu-check: $usage" >&2; exit 2; fi
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
target=$(mktemp -d "${TMPDIR:-/tmp}/forget-gpu-check.XXXXXX")
trap 'rm -rf "$target"' EXIT
python3 -m pip install --quiet --no-index --no-deps --no-compile --disable-pip-version-check \
    --target "$target" "$here"/wheels/*.whl || { echo "gpu-check: offline install failed" >&2; exit 2; }
export PYTHONPATH="$target${PYTHONPATH:+:$PYTHONPATH}"
# What the wheels need from the machine (Chainer's and this project's dependencies).
missing=$(python3 - <<'PY'
import importlib.util
names = ["numpy", "six", "typing_extensions", "filelock", "google.protobuf", "pytest",
         "hypothesis", "pytest_timeout", "xdist", "pytest_benchmark", "matplotlib"]
print(" ".join(n for n in names if importlib.util.find_spec(n) is None))
PY
)
if [[ -n "$missing" ]]; then echo "gpu-check: python3 lacks: $missing" >&2; exit 2; fi
out=$(mkdir -p "$1" && cd "$1" && pwd)
shift
# From the target directory: a forget_conformance/ in the caller's directory (a checkout)
# must not shadow the installed one.
cd "$target"
python3 -m forget_conformance.gpu_check "$out" "$@"
