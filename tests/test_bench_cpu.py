"""CPU backends for real at small sizes: correctness checks, rows, errors, suites, JSON, CLI."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from aicost import bench
from aicost._errors import BackendUnavailableError, InfeasibleError, UnknownNameError

# max_time_s generous: on a loaded 2-core machine 3 samples of a parallel kernel can take > 0.5 s
FAST = {"min_samples": 3, "min_time_s": 0.0, "max_time_s": 5.0}


@pytest.fixture(scope="module", params=["numpy", "numba"])
def be(request):
    return bench.get_backend(request.param)


def test_backend_status_one_line_reasons():
    df = bench.available_backends()
    assert list(df["name"]) == list(bench.BACKENDS)
    assert df.set_index("name").loc["numpy", "available"]
    for reason in df["reason"]:
        assert reason and "\n" not in reason
    st = bench.backend_status("cupy")
    if not st.available:
        assert st.reason.startswith(("import cupy failed", "no CUDA", "CUDA device"))


def test_unknown_backend_lists_all_with_status():
    with pytest.raises(UnknownNameError) as ei:
        bench.get_backend("cuppy")
    msg = str(ei.value)
    assert "cupy" in msg and "numpy: available" in msg


def test_unavailable_backend_says_why():
    if bench.backend_status("cupy").available:
        pytest.skip("CuPy can run here")
    with pytest.raises(BackendUnavailableError, match="cannot run here: .*Available: "):
        bench.get_backend("cupy")


@pytest.mark.parametrize("op", ["copy", "scale", "add", "triad", "dot", "sum"])
@pytest.mark.parametrize("dtype", ["fp32", "fp64"])
def test_stream_kernels_correct(be, op, dtype):
    err = bench.check_stream(be, op, dtype, n=10_007)
    assert err <= (1e-5 if dtype == "fp32" else 1e-12)


def test_check_detects_a_wrong_kernel(be, monkeypatch):
    real = be.stream_fn

    def broken(op, dtype, arrays, scalar, waves=None):
        fn, key, grid = real(op, dtype, arrays, scalar * 1.01, waves)
        return fn, key, grid

    monkeypatch.setattr(be, "stream_fn", broken)
    with pytest.raises(AssertionError, match="relative error"):
        bench.check_stream(be, "triad", "fp32", n=1000)


def test_check_detects_unwritten_output(be, monkeypatch):
    real = be.stream_fn

    def lazy(op, dtype, arrays, scalar, waves=None):
        _, key, grid = real(op, dtype, arrays, scalar, waves)
        a, c = arrays["a"], arrays["c"]

        def copy_all_but_last():  # a kernel with an off-by-one bound
            c[:-1] = a[:-1]
        return copy_all_but_last, key, grid

    monkeypatch.setattr(be, "stream_fn", lazy)
    # the output was poisoned with NaN, so the one element never written fails the check
    with pytest.raises(AssertionError, match="relative error inf"):
        bench.check_stream(be, "copy", "fp32", n=1000)


def test_stream_rows_and_byte_counts(be):
    df = bench.stream(n=1 << 16, dtype="fp32", backend=be, timer=FAST)
    assert list(df.columns) == bench.COLUMNS
    assert list(df["name"]) == ["copy", "scale", "add", "triad", "dot"]
    per = {"copy": 2, "scale": 2, "add": 3, "triad": 3, "dot": 2}
    for _, row in df.iterrows():
        assert row["bytes_moved"] == per[row["name"]] * 4 * (1 << 16)
        assert row["unit"] == "B/s"
        assert row["value"] == pytest.approx(row["bytes_moved"] / row["median_s"])
        assert row["n_samples"] >= 3 and len(row["samples_s"]) == row["n_samples"]
        assert row["min_s"] <= row["median_s"]
        assert row["peak"] is None or np.isnan(row["peak"])  # CPUs have no catalog row
        assert row["params"]["checked"] is True


def test_gemm_cpu_correct_and_counted(be):
    assert bench.check_gemm(be, "fp64", (64, 48, 32)) < 1e-12
    assert bench.check_gemm(be, "fp32", (64, 48, 32)) < 1e-5
    df = bench.gemm(["fp32", "fp64"], [(64, 48, 32), 96], backend=be, timer=FAST)
    assert list(df["shape"]) == ["64x48x32", "96x96x96"] * 2
    row = df.iloc[0]
    assert row["flops"] == 2 * 64 * 48 * 32
    assert row["bytes_moved"] == (64 * 32 + 32 * 48 + 64 * 48) * 4
    assert row["unit"] == "FLOP/s"
    assert row["value"] == pytest.approx(row["flops"] / row["median_s"])


def test_gemm_layer_shape_names():
    df = bench.gemm("fp32", "llama-3.1-8b.o@4096", backend="numpy", check=False,
                    timer={"min_samples": 1, "max_samples": 1, "min_time_s": 0.0})
    assert df["shape"][0] == "4096x4096x4096"
    assert df["params"][0]["layer"] == "llama-3.1-8b.o@4096"
    assert bench.GEMM_SHAPES["llama-3.1-70b.qkv@8192"] == (8192, 10240, 8192)


def test_unsupported_dtype_error_lists_what_is_available(be):
    with pytest.raises(ValueError) as ei:
        bench.gemm("bf16", 64, backend=be)
    msg = str(ei.value)
    assert "fp64, fp32" in msg and "cupy:" in msg
    with pytest.raises(ValueError, match="unknown dtype"):
        bench.gemm("fp13", 64, backend=be)


def test_size_refused_before_allocating(be, monkeypatch):
    monkeypatch.setattr(be, "mem_free_bytes", lambda: 1_000_000)
    with pytest.raises(InfeasibleError, match="needs .* free"):
        bench.stream(n=1_000_000, backend=be, check=False)


def test_roofline_sweep_numba():
    be = bench.get_backend("numba")
    assert bench.check_roofline(be, "fp32") < 1e-4
    df = bench.roofline_sweep("fp32", fmas=(0, 4, 16), n=1 << 14, backend=be, timer=FAST)
    assert list(df["params"].map(lambda p: p["fmas_per_element"])) == [0, 4, 16]
    oi = list(df["params"].map(lambda p: p["intensity_flop_per_byte"]))
    assert oi == [0.0, 1.0, 4.0]  # 2K FLOP per 8 bytes (fp32 read + write)
    with pytest.raises(ValueError, match="numba"):
        bench.roofline_sweep("fp32", backend="numpy")


def test_latency_and_transfer_need_gpu():
    with pytest.raises(ValueError, match="GPU"):
        bench.launch_latency("numpy")
    with pytest.raises(ValueError, match="cupy"):
        bench.transfer(1024, backend="numpy")


def test_memory_capacity_row():
    df = bench.memory_capacity("numpy")
    assert df["unit"][0] == "B" and df["value"][0] > 0


def test_quick_suite_runs_and_saves_partial_on_interrupt(monkeypatch):
    from aicost.bench import _suite

    calls = {"n": 0}
    real_tasks = _suite._suite_tasks

    def tasks(be, suite):
        out = real_tasks(be, suite)[:2]

        def boom():
            raise KeyboardInterrupt
        return [*out, ("interrupt", boom), ("never", lambda: calls.__setitem__("n", 1))]

    monkeypatch.setattr(_suite, "_suite_tasks", tasks)
    saved = {}

    class FakeStore:
        def save_run(self, df, context, kind, partial):
            saved.update(df=df, context=context, kind=kind, partial=partial)
            return "run-1"

    with pytest.warns(UserWarning, match="interrupted"):
        r = bench.run("quick", backend="numpy", store=FakeStore(), progress=False)
    assert r.partial and r.run_id == "run-1" and calls["n"] == 0
    assert saved["partial"] is True and saved["kind"] == "compute"
    assert len(saved["df"]) == len(r.df) > 0
    assert saved["context"]["suite"] == "quick" and saved["context"]["backend"] == "numpy"


def test_run_records_task_errors_and_goes_on(monkeypatch):
    from aicost.bench import _suite

    def tasks(be, suite):
        def bad():
            raise RuntimeError("kernel exploded")
        return [("bad", bad), ("memory", lambda: _suite.memory_capacity(be))]

    monkeypatch.setattr(_suite, "_suite_tasks", tasks)
    r = bench.run("quick", backend="numpy", store=False, progress=False)
    assert r.errors == [("bad", "RuntimeError: kernel exploded")]
    assert list(r.df["name"]) == ["memory_capacity"]
    assert "kernel exploded" in repr(r) and "kernel exploded" in r._repr_html_()
    with pytest.raises(ValueError, match="unknown suite"):
        bench.run("medium", backend="numpy", store=False)


def test_json_records_schema_and_roundtrip(tmp_path, monkeypatch):
    from aicost.bench import _suite

    monkeypatch.setattr(_suite, "_suite_tasks", lambda be, suite: [
        ("stream", lambda: _suite.stream(("triad",), n=4096, backend=be, timer=FAST)),
        ("gemm", lambda: _suite.gemm("fp64", 32, backend=be, timer=FAST))])
    r = bench.run("quick", backend="numpy", store=False, progress=False)
    recs = json.loads(json.dumps(r.to_records()))
    assert len(recs) == 2
    for rec in recs:
        for key in bench.JSON_FIELDS:
            assert key in rec, key
        assert isinstance(rec["median_s"], float) and rec["median_s"] > 0
        assert isinstance(rec["n_samples"], int) and isinstance(rec["samples_s"], list)
    assert recs[0]["kernel"] == "triad" and recs[1]["kernel"] == "gemm"
    path = tmp_path / "run.json"
    r.to_json(path)
    back = bench.load_results(path)
    assert list(back.df["name"]) == ["triad", "gemm"]
    assert back.df["value"].tolist() == pytest.approx(r.df["value"].tolist())
    assert back.context["backend"] == "numpy"
    # the multi-run layout written by scripts/device_check.py
    multi = tmp_path / "multi.json"
    doc = json.loads(r.to_json())
    multi.write_text(json.dumps({"context": {"device": "X"}, "runs": [doc, doc]}))
    both = bench.load_results(multi)
    assert len(both.df) == 4 and both.context["device"] == "X"
    assert isinstance(both.df, pd.DataFrame)


def test_cli_bench_compute(tmp_path, monkeypatch, capsys):
    from aicost import cli
    from aicost.bench import _suite

    monkeypatch.setattr(_suite, "_suite_tasks", lambda be, suite: [
        ("gemm", lambda: _suite.gemm("fp32", 32, backend=be, timer=FAST))])
    out = tmp_path / "r.json"
    rc = cli.main(["bench", "compute", "--backend", "numpy", "--json", str(out), "--no-store",
                   "--no-progress"])
    assert rc == 0
    recs = json.loads(out.read_text())
    assert recs[0]["kernel"] == "gemm" and recs[0]["backend"] == "numpy"
    assert "gemm" in capsys.readouterr().out
    rc = cli.main(["bench", "compute", "--list-backends", "--format", "csv"])
    assert rc == 0
    assert "numba-cuda" in capsys.readouterr().out
    assert cli.main(["bench", "compute", "--backend", "nope", "--no-store"]) == 2
