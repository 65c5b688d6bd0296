"""aicost.network TCP measurement: real loopback runs, port in use, bounds, iperf3 comparison."""

from __future__ import annotations

import json
import socket
import sys
import time
from pathlib import Path

import pytest
from conftest import requires_iperf3

from aicost.network import NetworkResult, PortInUseError, measure_tcp, quick_check, results_frame


def test_loopback_measurement():
    t0 = time.monotonic()
    r = measure_tcp(streams=2, duration_s=0.5, omit_s=0.2)
    elapsed = time.monotonic() - t0
    assert isinstance(r, NetworkResult)
    assert r.bits_per_s > 1e8  # loopback moves far more than 100 Mbit/s
    assert r.bytes_per_s == pytest.approx(r.bits_per_s / 8)
    assert r.bytes_received == pytest.approx(r.bytes_per_s * r.duration_s, rel=1e-6)
    # what was sent in the window and what arrived in it agree within the socket buffers
    assert r.sender_bits_per_s == pytest.approx(r.bits_per_s, rel=0.3)
    assert len(r.per_stream_bits_per_s) == 2 and all(x > 0 for x in r.per_stream_bits_per_s)
    assert r.port > 0 and r.host == "127.0.0.1" and not r.bind_all
    assert elapsed < 0.7 + 15  # bounded: run time plus process start-up
    assert "Gbit/s" in str(r)


def test_bind_all_listens_on_every_interface():
    r = measure_tcp(streams=1, duration_s=0.3, omit_s=0.1, bind_all=True)
    assert r.bind_all and r.bits_per_s > 0


def test_port_in_use_is_a_clear_error():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        port = s.getsockname()[1]
        with pytest.raises(PortInUseError, match=f"port {port} .* already in use"):
            measure_tcp(port=port, duration_s=0.2, omit_s=0)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"streams": 0}, "streams"), ({"duration_s": 0}, "duration"), ({"omit_s": -1}, "omit"),
     ({"port": 70000}, "port"), ({"buffer_bytes": 10}, "buffer")],
)
def test_bad_parameters(kwargs, match):
    with pytest.raises(ValueError, match=match):
        measure_tcp(**kwargs)


def test_results_frame_and_store(tmp_path):
    from aicost.network import save_results
    from aicost.store import Store

    r = quick_check(duration_s=0.3, streams=2)
    row = results_frame([r]).iloc[0]
    assert row["kind"] == "network" and row["unit"] == "bit/s" and row["device"] == "loopback"
    store = Store(tmp_path / "r.duckdb")
    run_id = save_results(r, store=store)
    got = store.results(run_id=run_id)
    assert got.iloc[0]["value"] == pytest.approx(r.bits_per_s)


def test_cli_bench_network(tmp_path, capsys):
    from aicost.cli import main

    out = tmp_path / "n.json"
    rc = main(["bench", "network", "--streams", "2", "--duration", "0.3", "--omit", "0.1",
               "--json", str(out), "--no-store"])
    assert rc == 0
    rec = json.loads(out.read_text())[0]
    assert rec["streams"] == 2 and rec["bits_per_s"] > 0
    assert "Gbit/s" in capsys.readouterr().out
    rc = main(["bench", "network", "--nccl", "--no-store"])
    err = capsys.readouterr().err
    if rc != 0:  # one GPU or none here: a clear message, exit status 2
        assert rc == 2 and "needs two GPUs" in err


@requires_iperf3
def test_close_to_iperf3_on_loopback():
    """aicost vs iperf3 on loopback, short runs alternated, best of 2 each.

    The full comparison (scripts/bench_network_vs_iperf3.py, 5 s runs) targets >= 0.8; here the
    runs last 1 s on a shared 2-core machine, so the bound is 0.5: it still fails if the
    client or server becomes GIL-bound or single-stream.
    """
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
    try:
        import bench_network_vs_iperf3 as bench
    finally:
        sys.path.pop(0)
    res = bench.compare(streams=4, duration_s=1.0, omit_s=0.5, repeats=2, verbose=False)
    assert res["ratio"] >= 0.5, res


def test_works_from_a_script_without_a_main_guard(tmp_path):
    """The server is a plain subprocess, so scripts need no ``if __name__ == "__main__"``."""
    import subprocess

    script = tmp_path / "plain.py"
    script.write_text("from aicost.network import measure_tcp\n"
                      "r = measure_tcp(streams=1, duration_s=0.3, omit_s=0.1)\n"
                      "print('ok', r.bits_per_s > 0)\n")
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok True"


def test_receiver_and_sender_on_two_ends():
    """TcpReceiver + send_tcp (the two-host form fleet.bench(network=True) uses): the receiver's
    window count agrees with what the sender handed over in its window."""
    import threading

    from aicost.network import MeasurementError, TcpReceiver, send_tcp

    r = TcpReceiver("127.0.0.1", streams=2, omit_s=0.2, duration_s=0.8)
    box = {}
    t = threading.Thread(target=lambda: box.update(sent=send_tcp("127.0.0.1", r.port, 2, 0.2, 0.8)))
    t.start()
    res = r.result()
    t.join(30)
    assert res.port == r.port and res.streams == 2 and res.bits_per_s > 1e8
    assert res.bits_per_s == pytest.approx(box["sent"], rel=0.25)
    with pytest.raises(ValueError, match="every interface"):
        TcpReceiver("0.0.0.0")
    with pytest.raises(ValueError, match="streams"):
        TcpReceiver("127.0.0.1", streams=0)
    assert issubclass(MeasurementError, RuntimeError)
