"""The benchmark timer: statistics and adaptive stopping, driven by a deterministic fake clock."""

from __future__ import annotations

import math
import statistics

import numpy as np
import pytest

from aicost.bench import BenchResult, FakeClock, benchmark, median_rse, summarize


def test_summarize_matches_numpy():
    xs = [3.0, 1.0, 2.0, 10.0, 4.0]
    s = summarize(xs)
    assert s["median_s"] == 3.0
    assert s["min_s"] == 1.0
    assert s["mean_s"] == pytest.approx(4.0)
    assert s["stdev_s"] == pytest.approx(statistics.stdev(xs))
    q75, q25 = np.percentile(xs, [75, 25])
    assert s["iqr_s"] == pytest.approx(q75 - q25)
    assert s["n_samples"] == 5
    with pytest.raises(ValueError):
        summarize([])


def test_median_rse_robust_and_scaled():
    assert median_rse([1.0]) == math.inf
    assert median_rse([1.0] * 20) == 0.0
    rng = np.random.default_rng(0)
    noisy = list(1.0 + 0.01 * rng.standard_normal(400))
    # sigma 1 %: SE of the median ~ 1.2533 * 0.01 / sqrt(400) = 0.063 %
    assert median_rse(noisy) == pytest.approx(1.2533 * 0.01 / 20, rel=0.2)
    # an outlier moves the MAD-based estimate little
    assert median_rse([*noisy, 1000.0]) < 2 * median_rse(noisy)


def test_converges_at_min_samples_on_steady_clock():
    calls = []
    clk = FakeClock([1e-3])
    r = benchmark(lambda: calls.append(1), clock=clk, warmup=2, min_samples=10, min_time_s=0.0)
    assert isinstance(r, BenchResult)
    # converged once the RSE has stayed under target for 3 samples past the minimum of 10
    assert r.n_samples == 12 and r.stop_reason == "converged"
    assert len(calls) == 14  # warm-up calls are made but not timed
    assert r.median_s == r.min_s == r.mean_s == 1e-3
    assert r.stdev_s == 0.0 and r.iqr_s == 0.0
    assert r.samples_s == (1e-3,) * 12
    assert r.flags == ()


def test_min_time_keeps_sampling():
    clk = FakeClock([1e-3])
    r = benchmark(lambda: None, clock=clk, warmup=0, min_samples=10, min_time_s=0.05)
    assert 50 <= r.n_samples <= 53  # 50 x 1 ms reach the 50 ms minimum, then 3 to confirm
    assert sum(r.samples_s) >= 0.05 - 1e-12


def test_noise_samples_until_rse_target():
    rng = np.random.default_rng(1)
    durs = list(1e-3 * (1 + 0.02 * rng.standard_normal(5000)))
    r = benchmark(lambda: None, clock=FakeClock(durs), warmup=0, min_samples=10,
                  min_time_s=0.0, max_time_s=100.0, rsd_target=0.002)
    assert r.stop_reason == "converged"
    assert r.rse < 0.002
    # 2 % noise needs about (1.2533 * 0.02 / 0.002)^2 ~ 157 samples
    assert 60 < r.n_samples < 600, r.n_samples


def test_plateau_stops_when_rse_stops_improving():
    # alternating 1 ms / 2 ms: the MAD stays at half the spread, so the RSE falls only as 1/sqrt(n)
    # and a target of 1e-9 is never reached; growing noise (a drifting clock) stops improving
    durs = [1e-3 * (1 + 0.001 * i) for i in range(2000)]
    r = benchmark(lambda: None, clock=FakeClock(durs), warmup=0, min_samples=10,
                  min_time_s=0.0, max_time_s=1e9, rsd_target=1e-9)
    assert r.stop_reason == "plateau"
    assert r.n_samples < 2000
    assert any("noisy" in f for f in r.flags)


def test_hard_timeout_and_max_samples():
    rng = np.random.default_rng(2)
    durs = list(0.1 * (1 + 0.5 * rng.random(100)))
    r = benchmark(lambda: None, clock=FakeClock(durs), warmup=0, min_samples=50,
                  min_time_s=0.0, max_time_s=1.0, rsd_target=1e-6)
    assert r.stop_reason == "timeout"
    assert r.n_samples < 50
    assert any(f.startswith("timeout") for f in r.flags)
    r2 = benchmark(lambda: None, clock=FakeClock(durs), warmup=0, min_samples=5, max_samples=7,
                   min_time_s=0.0, max_time_s=1e9, rsd_target=1e-9)
    assert r2.stop_reason == "max_samples" and r2.n_samples == 7


def test_flusher_called_outside_timed_region():
    events = []
    clk = FakeClock([1e-3])
    benchmark(lambda: events.append("fn"), clock=clk, warmup=1, min_samples=3, max_samples=3,
              min_time_s=0.0, flusher=lambda: events.append("flush"))
    assert events == ["fn", "flush", "fn", "flush", "fn", "flush", "fn"]


def test_bad_arguments_raise_valueerror():
    with pytest.raises(ValueError, match="callable"):
        benchmark(42)
    with pytest.raises(ValueError, match="min_samples"):
        benchmark(lambda: None, min_samples=0)
    with pytest.raises(ValueError, match="max_samples"):
        benchmark(lambda: None, min_samples=10, max_samples=5)
    with pytest.raises(ValueError, match="rsd_target"):
        benchmark(lambda: None, rsd_target=0)
    with pytest.raises(ValueError, match="device"):
        benchmark(lambda: None, device="tpu")


def test_real_cpu_clock_times_sleep():
    import time

    r = benchmark(time.sleep, 0.002, warmup=1, min_samples=5, max_samples=5, min_time_s=0.0,
                  flush_l2=False)
    assert r.device == "cpu" and r.n_samples == 5
    assert 0.0019 < r.median_s < 0.05
    assert r.rate(1.0) == pytest.approx(1.0 / r.median_s)


def test_kwargs_and_args_are_passed():
    seen = []
    benchmark(lambda a, b=0: seen.append((a, b)), 1, kwargs={"b": 2}, clock=FakeClock([1.0]),
              warmup=0, min_samples=1, max_samples=1, min_time_s=0.0)
    assert seen == [(1, 2)]


class _BatchClock(FakeClock):
    """A fake GPU clock: samples come in batches, as CudaEventClock takes them."""

    def __init__(self, durations):
        super().__init__(durations)
        self.batches = []

    def measure_batch(self, fn, args, kwargs, count, flush=None):
        self.batches.append(count)
        out = []
        for _ in range(count):
            if flush is not None:
                flush()
            out.append(self.measure(fn, args, kwargs))
        return out


def test_batched_sampling_applies_the_rule_per_sample():
    rng = np.random.default_rng(3)
    durs = list(1e-3 * (1 + 0.02 * rng.standard_normal(5000)))
    clk = _BatchClock(durs)
    r = benchmark(lambda: None, clock=clk, warmup=0, min_samples=10, min_time_s=0.0,
                  max_time_s=100.0, rsd_target=0.002)
    ref = benchmark(lambda: None, clock=FakeClock(durs), warmup=0, min_samples=10,
                    min_time_s=0.0, max_time_s=100.0, rsd_target=0.002)
    # same samples, same stopping point as one-by-one sampling; extra queued samples dropped
    assert r.samples_s == ref.samples_s and r.stop_reason == ref.stop_reason
    assert clk.batches[0] == 10 and len(clk.batches) > 1
    assert sum(clk.batches) >= r.n_samples
    assert all(b <= 256 for b in clk.batches)


# ----------------------------------------------------------------------------- the split pieces
def test_stopping_rule_alone_matches_benchmark():
    from aicost.bench import StoppingRule

    rng = np.random.default_rng(4)
    durs = list(1e-3 * (1 + 0.02 * rng.standard_normal(3000)))
    rule = StoppingRule(min_samples=10, min_time_s=0.0, max_time_s=100.0, rsd_target=0.002)
    samples, reason = [], None
    for d in durs:
        samples.append(d)
        reason = rule.after(samples, elapsed_s=sum(samples))
        if reason:
            break
    ref = benchmark(lambda: None, clock=FakeClock(durs), warmup=0, min_samples=10,
                    min_time_s=0.0, max_time_s=100.0, rsd_target=0.002)
    assert reason == ref.stop_reason == "converged"
    assert tuple(samples) == ref.samples_s


def test_stopping_rule_limits_and_validation():
    from aicost.bench import StoppingRule

    rule = StoppingRule(min_samples=2, max_samples=3, min_time_s=0.0, max_time_s=10.0,
                        rsd_target=1e-12)
    xs = []
    reasons = []
    for d in (1.0, 2.0, 3.0):
        xs.append(d)
        reasons.append(rule.after(xs, elapsed_s=0.0))
    assert reasons == [None, None, "max_samples"]
    rule = StoppingRule(min_samples=5, max_time_s=1.0)
    assert rule.after([0.1], elapsed_s=1.0) == "timeout"
    for bad, match in [({"min_samples": 0}, "min_samples"),
                       ({"min_samples": 5, "max_samples": 4}, "max_samples"),
                       ({"max_time_s": 0.0}, "max_time_s"), ({"rsd_target": -1.0}, "rsd_target")]:
        with pytest.raises(ValueError, match=match):
            StoppingRule(**bad)


def test_batch_size_grows_with_the_samples():
    from aicost.bench._timer import _BATCH_MAX, StoppingRule, _batch_size

    rule = StoppingRule(min_samples=10, max_samples=1000)
    assert _batch_size([], rule) == 10
    assert _batch_size([1e-3] * 40, rule) == 20  # half the samples so far
    assert _batch_size([1e-6] * 4000, StoppingRule(max_samples=10_000)) == _BATCH_MAX
    assert _batch_size([1.0] * 40, rule) == 1  # 0.1 s of GPU time per batch at most
    assert _batch_size([1e-3] * 999, rule) == 1  # never past max_samples


def test_warm_up_counts_calls_and_times_the_first():
    from aicost.bench._timer import _warm_up

    calls = []
    n, first = _warm_up(lambda: calls.append(1), (), {}, FakeClock([1.0]), warmup=4,
                        warmup_s=0.0)
    assert n == 4 and len(calls) == 4 and first >= 0.0


def test_flush_choice():
    from aicost.bench import CpuClock
    from aicost.bench._timer import _choose_flush

    mine = lambda: None  # noqa: E731
    assert _choose_flush(FakeClock([1.0]), True, None) is None  # a fake clock flushes nothing
    assert _choose_flush(FakeClock([1.0]), True, mine) is mine
    assert _choose_flush(CpuClock(), False, mine) is None
    assert callable(_choose_flush(CpuClock(), True, None))


def test_timer_imports_no_backend_module():
    import ast
    from pathlib import Path

    import aicost.bench._timer as timer

    tree = ast.parse(Path(timer.__file__).read_text())
    names = [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    names += [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    assert not [m for m in names if "_kernels" in m or "_backends" in m], names


@pytest.mark.parametrize("path", ["aicost.bench._kernels_cpu:NumpyBackend",
                                  "aicost.bench._kernels_cpu:NumbaCpuBackend",
                                  "aicost.bench._kernels_cupy:CupyBackend",
                                  "aicost.bench._kernels_numba_cuda:NumbaCudaBackend"])
def test_every_backend_declares_the_protocol(path):
    import importlib

    from aicost.bench import BenchBackend

    mod, cls = path.split(":")
    backend = getattr(importlib.import_module(mod), cls)
    members = set(BenchBackend.__annotations__) | {
        n for n in vars(BenchBackend) if not n.startswith("_") and callable(vars(BenchBackend)[n])}
    missing = sorted(m for m in members if not hasattr(backend, m))
    assert not missing, f"{cls} lacks {missing}"
    for attr in ("gemm_dtypes", "stream_dtypes", "roofline_dtypes"):
        assert isinstance(getattr(backend, attr), tuple)
    assert isinstance(backend.has_transfers, bool)


def test_cpu_backends_refuse_what_they_do_not_offer():
    from aicost.bench import BenchBackend, get_backend

    be = get_backend("numpy")
    assert isinstance(be, BenchBackend) and be.event_clock() is None
    with pytest.raises(ValueError, match="transfer.*GPU backend"):
        be.transfer_fns(1024)
    with pytest.raises(ValueError, match="roofline"):
        be.mix_fn("fp32", 1, None, None, 1.0, 0.0)


# ----------------------------------------------------------------------------- sustained GEMMs
class _FakeGpuTime:
    """A host clock that a fake GEMM advances (``time`` as the timer module sees it)."""

    def __init__(self):
        self.now = 0.0

    def perf_counter(self):
        return self.now


def _fake_cuda_backend(host, gemm_s):
    """A CUDA-looking backend whose clock is a CudaEventClock with every CUDA call mocked: each
    GEMM call takes ``gemm_s`` of (fake) GPU and host time."""
    from aicost.bench import CudaEventClock

    class FakeEvents(CudaEventClock):
        def __init__(self):  # no CUDA: nothing of the real clock's state is needed
            self.batches, self.flushes = [], 0

        def l2_flusher(self):
            def flush():
                self.flushes += 1
            return flush

        def measure(self, fn, args, kwargs):
            return self.measure_batch(fn, args, kwargs, 1)[0]

        def measure_batch(self, fn, args, kwargs, count, flush=None):
            self.batches.append(count)
            out = []
            for _ in range(count):
                if flush is not None:
                    flush()
                fn(*args, **kwargs)
                out.append(gemm_s)
            return out

        def wall(self):
            return host.now

        def sync(self):
            return None

    clock = FakeEvents()
    calls = []

    class Backend:
        name, device_kind = "fake-cuda", "cuda"
        gemm_dtypes, stream_dtypes, roofline_dtypes = ("bf16",), (), ()
        has_transfers, unsupported = False, {}

        def device_name(self):
            return "Fake GPU (not in the catalog)"

        def mem_free_bytes(self):
            return 1 << 40

        def free_all(self):
            return None

        def event_clock(self):
            return clock

        def gemm_operands(self, dtype, m, n, k, seed):
            return object(), object(), object()

        def gemm_fn(self, dtype, a, b, c):
            def fn():
                calls.append(host.now)
                host.now += gemm_s
            return fn

    return Backend(), clock, calls


def test_gpu_gemm_samples_at_least_100_ms_after_warm_up(monkeypatch):
    """A GPU GEMM is sampled for >= GPU_GEMM_MIN_TIME_S of measured time after >= GPU_WARMUP_S
    of warm-up, even when the suite asks for 20 ms (the quick suite's setting)."""
    import aicost.bench._timer as timer_mod
    from aicost.bench import GPU_GEMM_MIN_TIME_S, GPU_WARMUP_S, gemm

    assert GPU_GEMM_MIN_TIME_S >= 0.1 and GPU_WARMUP_S >= 0.1
    host = _FakeGpuTime()
    monkeypatch.setattr(timer_mod, "time", host)  # the warm-up loop reads this clock
    monkeypatch.setattr("aicost.bench._measure.peak_flops", lambda be, dt: None)  # no catalog
    gemm_s = 1.5e-3  # a steady 1.5 ms GEMM: the RSE converges at once, only min_time_s holds it
    be, clock, calls = _fake_cuda_backend(host, gemm_s)
    df = gemm("bf16", [(8192, 8192, 8192)], be, False,
              {"min_samples": 10, "min_time_s": 0.02, "max_time_s": 1.0})
    row = df.iloc[0]
    samples = list(row["samples_s"])
    assert sum(samples) >= GPU_GEMM_MIN_TIME_S - 1e-12
    assert row["n_samples"] == len(samples) >= math.ceil(GPU_GEMM_MIN_TIME_S / gemm_s)
    assert row["params"]["stop_reason"] == "converged"
    n_warm = len(calls) - sum(clock.batches)
    assert n_warm * gemm_s >= GPU_WARMUP_S - 1e-12  # the warm-up ran 100 ms before sampling
    assert clock.flushes >= len(samples)  # a flush before every sample (outside the timing)
    assert row["value"] == pytest.approx(2 * 8192**3 / gemm_s)


def test_cpu_gemm_keeps_the_suites_min_time():
    from aicost.bench._measure import gemm_timer_kwargs

    quick = {"min_samples": 10, "min_time_s": 0.02, "max_time_s": 1.0}
    assert gemm_timer_kwargs(quick, gpu=False)["min_time_s"] == 0.02
    kw = gemm_timer_kwargs(quick, gpu=True)
    assert kw["min_time_s"] == 0.1 and kw["max_time_s"] >= 0.3
    assert gemm_timer_kwargs({"min_time_s": 0.5, "max_time_s": 9.0}, gpu=True)["min_time_s"] == 0.5
