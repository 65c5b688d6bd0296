"""Numba CUDA kernels under the CUDA simulator (correctness only), in a subprocess.

NUMBA_ENABLE_CUDASIM must be set before Numba is imported, so the check runs in a fresh
interpreter. The simulator runs every GPU thread as a Python thread: tiny sizes only.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.cudasim

SCRIPT = textwrap.dedent("""
    import os
    assert os.environ["NUMBA_ENABLE_CUDASIM"] == "1"
    try:
        from numba import cuda  # noqa: F401
    except Exception as exc:  # neither numba's own CUDA target nor numba-cuda is installed
        print("SKIP", type(exc).__name__, exc)
        raise SystemExit(0)
    from aicost.bench import backend_status, check_stream
    from aicost.bench._kernels_numba_cuda import NumbaCudaBackend

    st = backend_status("numba-cuda")
    assert not st.available and "simulator" in st.reason, st
    be = NumbaCudaBackend(threads=16)
    be.sm_count, be.max_threads_per_sm = 1, 32   # 2 blocks of 16 per wave: loops are exercised
    for op in ("copy", "scale", "add", "triad", "dot", "sum"):
        for waves in (1, None):
            err = check_stream(be, op, "fp32", n=203, waves=waves)
            print("ok", op, "fp32", waves, err)
    for op in ("triad", "dot"):
        err = check_stream(be, op, "fp64", n=203, waves=1)
        print("ok", op, "fp64", 1, err)
    # a wrong kernel is caught: scale by the wrong factor
    import numpy as np
    real = be.stream_fn
    be.stream_fn = lambda op, dt, arrays, s, waves=4: real(op, dt, arrays, s * 2, waves)
    try:
        check_stream(be, "scale", "fp32", n=203, waves=1)
    except AssertionError as exc:
        print("caught", exc)
    else:
        raise SystemExit("a wrong kernel passed the check")
""")


def test_numba_cuda_kernels_under_simulator():
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1")
    p = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, env=env,
                       timeout=300)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    if p.stdout.startswith("SKIP"):
        pytest.skip(f"no Numba CUDA simulator: {p.stdout.strip()}")
    lines = p.stdout.splitlines()
    assert sum(1 for x in lines if x.startswith("ok ")) == 14
    assert any(x.startswith("caught") for x in lines)
