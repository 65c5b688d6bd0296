#!/usr/bin/env bash
# Fetch, HERE (a machine with PyPI), the wheels the GPU device check's fleet section needs and
# the device image lacks: Dask distributed (+ the deps the image does not have) and duckdb (the
# fleet analysis). They land in .whl/ (git-ignored); name .whl in the device call's `carry`.
# The image already has click, cloudpickle, fsspec, jinja2, msgpack, packaging, psutil, pyyaml,
# sortedcontainers, toolz, tqdm, nvidia-ml-py, cupy, numba (/work/.library/device/KINDS.md).
# dask-cuda is left out on purpose (it pulls RAPIDS pins): without it the check runs a
# LocalCluster whose worker measures each GPU pinned in a child process.
#
# Usage:  bash scripts/device_wheels.sh          (about 30 MB)
# Then the device call, e.g. (carry: [".whl"], timeout_s: 480):
#   python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
#       --target /tmp/site .whl/*.whl && export PYTHONPATH=/tmp/site || exit; \
#   PYTHONUNBUFFERED=1 python3 scripts/device_check.py --out $OUT
set -euo pipefail
cd "$(dirname "$0")/.."
PKGS=(dask==2026.8.0 distributed==2026.8.0 duckdb==2.0.1 partd==1.4.2 locket==1.0.0
      tblib==3.2.2 tornado==6.6.1 zict==3.0.0)
mkdir -p .whl
for p in "${PKGS[@]}"; do
  python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
    --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 \
    --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    --platform manylinux1_x86_64 --platform any -d .whl "$p"
done
ls -la .whl
