"""iperf3-like TCP stream throughput between a server process and a client.

The server runs in its own process (a ``python`` subprocess), accepts ``streams``
connections and drains each with ``recv_into`` into a preallocated buffer in its own thread;
each drain thread keeps its own cumulative byte count with monotonic timestamps (thinned to one
sample per few milliseconds), so a window edge is located per stream however many streams
compete for the GIL. The client tells the server the window (system-wide monotonic clock) when it
has finished sending; the server interpolates each stream's count at both edges and reports the
sum together with its uncertainty (the bytes between the samples around each edge). A window
whose edges are not resolved (too short a run, a receiver starved of CPU) is refused with
:class:`MeasurementError` instead of being reported. The client sends from a large ``memoryview`` with ``socket.sendall`` in one
thread per stream (both calls release the GIL). The first ``omit_s`` seconds are run but not
counted (iperf3 ``-O``); the result is the bytes the *receiver* got in the window, in bits per
second summed over streams, as iperf3's ``sum_received``. Everything is bounded in time: the
server and the client sockets time out, and the server process is killed if it outlives
its deadline.
"""

from __future__ import annotations

import errno
import math
import os
import socket
import threading
import time
from dataclasses import asdict, dataclass
from typing import Any

from .._errors import AicostError

__all__ = [
    "DEFAULT_BUFFER_BYTES",
    "MAX_STREAMS",
    "MeasurementError",
    "NetworkResult",
    "PortInUseError",
    "TcpReceiver",
    "measure_tcp",
    "quick_check",
    "results_frame",
    "save_results",
    "send_tcp",
]

#: bytes per send/recv call; iperf3 uses 128 KiB for TCP, larger calls cost fewer syscalls
DEFAULT_BUFFER_BYTES = 1 << 20
#: most parallel streams (iperf3 allows 128; each stream holds a socket in each process)
MAX_STREAMS = 4096
#: finest spacing of a drain thread's byte-count samples [s]
_SAMPLE_PERIOD_S = 0.001
#: most samples a drain thread keeps (the spacing grows for long runs) [1]
_MAX_SAMPLES_PER_STREAM = 4000
#: largest uncertainty (two standard deviations) of the window's byte count, as a share of it
_MAX_EDGE_UNCERTAINTY = 0.10
#: seconds to wait for the server to start and for connections to be accepted
_SETUP_TIMEOUT_S = 30.0
#: socket timeout while streaming [s]
_IO_TIMEOUT_S = 10.0


class PortInUseError(AicostError, OSError):
    """The TCP port asked for is already taken."""


class MeasurementError(AicostError, RuntimeError):
    """A measurement ran but its result would not mean anything (nothing is reported or saved)."""


@dataclass(frozen=True)
class NetworkResult:
    """One TCP throughput measurement.

    Attributes
    ----------
    host : str
        Address the client connected to.
    port : int
    streams : int
        Parallel TCP connections.
    duration_s : float
        Measured window, warm-up omitted [s].
    omit_s : float
        Warm-up not counted [s].
    bits_per_s : float
        Received throughput summed over streams [bit/s] (iperf3 ``sum_received``).
    bytes_per_s : float
        The same in bytes [B/s].
    sender_bits_per_s : float
        What the client handed to the kernel in the window [bit/s] (iperf3 ``sum_sent``).
    bytes_received : int
        Bytes received in the window [B].
    per_stream_bits_per_s : tuple of float
        Received throughput of each stream over its whole run [bit/s].
    buffer_bytes : int
        Bytes per send/recv call.
    bind_all : bool
        True when the server listened on all interfaces.
    """

    host: str
    port: int
    streams: int
    duration_s: float
    omit_s: float
    bits_per_s: float
    bytes_per_s: float
    sender_bits_per_s: float
    bytes_received: int
    per_stream_bits_per_s: tuple[float, ...]
    buffer_bytes: int
    bind_all: bool

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_frame(self):
        """Return one result row in the store's columns (``kind="network"``, value in bit/s)."""
        return results_frame([self])

    def __str__(self) -> str:
        return (f"TCP {self.host}:{self.port}, {self.streams} streams: "
                f"{self.bits_per_s / 1e9:,.2f} Gbit/s received "
                f"({self.sender_bits_per_s / 1e9:,.2f} sent) over {self.duration_s:.2f} s "
                f"after {self.omit_s:g} s warm-up")

    def _repr_html_(self) -> str:
        return f"<p><b>aicost network</b>: {self}</p>"


def results_frame(results):
    """Return network results as a DataFrame in the store's result columns."""
    import pandas as pd

    rows = []
    for r in results:
        rows.append({
            "kind": "network", "name": "tcp", "backend": "aicost-tcp",
            "device": "loopback" if r.host in ("127.0.0.1", "::1", "localhost") else r.host,
            "size_bytes": float(r.buffer_bytes), "bytes_moved": float(r.bytes_received),
            "value": r.bits_per_s, "unit": "bit/s",
            "params": {"host": r.host, "port": r.port, "streams": r.streams,
                       "duration_s": r.duration_s, "omit_s": r.omit_s,
                       "sender_bits_per_s": r.sender_bits_per_s,
                       "per_stream_bits_per_s": list(r.per_stream_bits_per_s),
                       "bind_all": r.bind_all},
        })
    return pd.DataFrame(rows)


def save_results(results, *, store=None, context: dict | None = None) -> str:
    """Save network results to the results store as one run of kind ``network``; return its id."""
    from ..store import Store, current_context

    if isinstance(results, NetworkResult):
        results = [results]
    ctx = {**current_context(), "backend": "aicost-tcp", **(context or {})}
    return (store or Store()).save_run(results_frame(list(results)), context=ctx, kind="network")


# ----------------------------------------------------------------------------- server process
def _server_main(conn, bind_host: str, port: int, streams: int, deadline_s: float,
                 buffer_bytes: int, window_source=lambda: None) -> None:
    """Child process: accept ``streams`` connections, drain them, count the window's bytes.

    ``window_source()`` returns the client's measurement window ``(start, end)`` [monotonic s]
    once the client has sent it, or None when the client went away.
    """
    family = socket.AF_INET6 if ":" in bind_host else socket.AF_INET
    try:
        ls = socket.socket(family, socket.SOCK_STREAM)
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # TIME_WAIT only, not LISTEN
        ls.bind((bind_host, port))
        ls.listen(max(streams, 8))
    except OSError as exc:
        conn.send(("error", exc.errno, str(exc)))
        return
    deadline = time.monotonic() + deadline_s
    conn.send(("ready", ls.getsockname()[1]))
    counts = [0] * streams
    first = [0.0] * streams
    last = [0.0] * streams
    errors: list[str] = []
    socks = []
    try:
        ls.settimeout(_SETUP_TIMEOUT_S)
        for _ in range(streams):
            s, _addr = ls.accept()
            s.settimeout(_IO_TIMEOUT_S)
            socks.append(s)
    except OSError as exc:
        conn.send(("error", getattr(exc, "errno", None), f"accepting connections: {exc}"))
        for s in socks:
            s.close()
        ls.close()
        return
    ls.close()
    from array import array

    # each stream keeps its own (time, cumulative bytes) samples: no shared sampler whose first
    # sample waits for every thread to start, nothing to interpolate across other streams' stalls
    run_s = max(deadline_s - _SETUP_TIMEOUT_S - 2 * _IO_TIMEOUT_S, 0.0)  # omit + duration
    period = max(_SAMPLE_PERIOD_S, run_s / _MAX_SAMPLES_PER_STREAM)
    times = [array("d") for _ in range(streams)]
    totals = [array("d") for _ in range(streams)]

    def drain(i: int, s: socket.socket) -> None:
        buf = bytearray(buffer_bytes)
        view = memoryview(buf)
        ts, cs = times[i], totals[i]
        count = 0
        now = time.monotonic()
        ts.append(now)  # nothing read before this thread ran: the count is 0 up to here
        cs.append(0.0)
        next_sample = now + period
        try:
            while now < deadline:
                n = s.recv_into(view)
                now = time.monotonic()
                if n == 0:
                    break
                if not count:
                    first[i] = now
                count += n
                last[i] = now
                if now >= next_sample:
                    ts.append(now)
                    cs.append(float(count))
                    next_sample = now + period
        except OSError as exc:
            errors.append(f"stream {i}: {exc}")
        finally:
            counts[i] = count
            ts.append(now)
            cs.append(float(count))
            s.close()

    threads = [threading.Thread(target=drain, args=(i, s), daemon=True) for i, s in enumerate(socks)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
    per_stream = [c * 8 / (b - a) if b > a else 0.0 for c, a, b in zip(counts, first, last)]
    got_any = [a for a, c in zip(first, counts) if c]
    conn.send(("drained", errors, min(got_any) if got_any else None))  # + first byte [monotonic s]
    window = window_source()  # (start, end) on the monotonic clock, from the client
    if window is None:
        return
    got, uncertain = _window_bytes(times, totals, *window)  # uncertain: one std. dev. [B]
    conn.send(("done", got, uncertain, per_stream, errors))


def _window_bytes(times, totals, start: float, end: float) -> tuple[float, float]:
    """Bytes received between ``start`` and ``end`` summed over streams, and their uncertainty.

    Each stream's cumulative count is interpolated linearly at both edges. An edge that falls
    between two samples ``b`` bytes apart is off by up to ``b``; taking each such error as
    uniform and independent (the edge falls at a random phase of each stream's reads) gives a
    standard deviation of ``sqrt(sum(b**2) / 12)`` [B], which is returned with the count. A
    stream whose two edges fall between the same two samples (no read inside the window) is
    pure interpolation and counts ``(b / 2)**2``.
    """
    import numpy as np

    got = 0.0
    var = 0.0
    for ts, cs in zip(times, totals):
        t = np.frombuffer(ts, dtype=float)
        c = np.frombuffer(cs, dtype=float)
        if t.size == 0:
            continue
        got += float(np.interp(end, t, c) - np.interp(start, t, c))
        k0, k1 = (int(k) for k in np.searchsorted(t, [start, end]))
        widths = [float(c[k] - c[k - 1]) for k in (k0, k1) if 0 < k < t.size]
        if k0 == k1 and widths:
            var += (widths[0] / 2) ** 2
        else:
            var += sum(w * w for w in widths) / 12
    return got, var ** 0.5


class _StdoutConn:
    """``conn.send`` for the server subprocess: one JSON line per message on stdout."""

    def __init__(self, stream) -> None:
        self.stream = stream

    def send(self, msg) -> None:
        import json

        self.stream.write(json.dumps(msg) + "\n")
        self.stream.flush()


def _server_stdio(argv) -> None:
    """Entry point of the server subprocess (``python -c``): arguments in argv, JSON on stdout."""
    import sys

    bind_host, port, streams, deadline_s, buffer_bytes = argv

    def window():
        import json

        line = sys.stdin.readline()  # the client writes it when done sending; EOF: it went away
        try:
            start, end = json.loads(line)
        except ValueError:
            return None
        return float(start), float(end)

    _server_main(_StdoutConn(sys.stdout), bind_host, int(port), int(streams), float(deadline_s),
                 int(buffer_bytes), window)


class _ServerProcess:
    """The server as a plain subprocess (no ``multiprocessing``: works from any script, with or
    without an ``if __name__ == "__main__"`` guard); its JSON messages arrive on a queue."""

    def __init__(self, bind_host, port, streams, deadline_s, buffer_bytes) -> None:
        import queue
        import subprocess
        import sys
        from pathlib import Path

        pkg_root = str(Path(__file__).resolve().parents[2])
        env = dict(os.environ)
        env["PYTHONPATH"] = pkg_root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        code = "import sys; from aicost.network._tcp import _server_stdio; _server_stdio(sys.argv[1:])"
        self.proc = subprocess.Popen(
            [sys.executable, "-c", code, bind_host, str(port), str(streams), repr(deadline_s),
             str(buffer_bytes)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.PIPE, text=True,
            env=env)
        self.messages: queue.Queue = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        import json

        for line in self.proc.stdout:
            try:
                self.messages.put(json.loads(line))
            except ValueError:
                continue
        self.messages.put(None)  # end of output

    def recv(self, timeout: float):
        """Next message, or raise TimeoutError / RuntimeError (server died)."""
        import queue

        try:
            msg = self.messages.get(timeout=timeout)
        except queue.Empty:
            raise TimeoutError(f"the TCP server sent nothing for {timeout:g} s") from None
        if msg is None:
            err = self.proc.stderr.read().strip().splitlines()
            raise MeasurementError("the TCP server exited early"
                                   + (f": {err[-1]}" if err else ""))
        return msg

    def send_window(self, start: float, end: float) -> None:
        """Tell the server the measurement window [monotonic s]."""
        import json

        try:
            self.proc.stdin.write(json.dumps([start, end]) + "\n")
            self.proc.stdin.flush()
        except OSError:  # the server is gone; recv() says why
            pass

    def close(self) -> None:
        try:
            if self.proc.stdin is not None:
                self.proc.stdin.close()
        except OSError:
            pass
        import subprocess

        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
        for f in (self.proc.stdout, self.proc.stderr):
            if f is not None:
                f.close()


# ----------------------------------------------------------------------------- client
def _check_host(host, bind_all: bool) -> str:
    """Return ``host`` as an address to listen on and connect to, or raise ValueError.

    An empty host, ``0``, ``0.0.0.0`` or ``::`` would make the server listen on every
    interface (an unset shell variable is enough): only ``bind_all=True`` may do that.
    """
    import ipaddress

    if not isinstance(host, str):
        raise ValueError(f"host must be an address such as 127.0.0.1, got {host!r}")
    text = host.strip()
    fix = ("give the address the client connects to, such as 127.0.0.1 (bind_all already "
           "listens on every interface)" if bind_all else
           "give an address such as 127.0.0.1, or bind_all=True (--bind-all) to listen on all "
           "interfaces on purpose")
    if not text:
        raise ValueError(f"host is empty (an unset shell variable?), which would mean every "
                         f"interface; {fix}")
    try:
        infos = socket.getaddrinfo(text, None, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError):
        raise ValueError(f"host {host!r} is not an address this machine can resolve; give an "
                         "address such as 127.0.0.1 or ::1") from None
    addr = str(infos[0][4][0]).split("%")[0]
    if ipaddress.ip_address(addr).is_unspecified:
        raise ValueError(f"host {host!r} means every interface ({addr}); {fix}")
    return addr


def measure_tcp(
    host: str = "127.0.0.1",
    port: int = 0,
    streams: int = 4,
    duration_s: float = 5.0,
    omit_s: float = 1.0,
    bind_all: bool = False,
    buffer_bytes: int = DEFAULT_BUFFER_BYTES,
) -> NetworkResult:
    """Measure TCP stream throughput between a server process and this process, like iperf3.

    Parameters
    ----------
    host : str
        Address the server listens on and the client connects to (default loopback). Use
        an address of this host's network interface to measure its TCP stack there.
    port : int
        TCP port; 0 picks a free one.
    streams : int
        Parallel connections (iperf3 ``-P``).
    duration_s : float [s]
        Measured time after the warm-up (iperf3 ``-t``).
    omit_s : float [s]
        Warm-up run but not counted (iperf3 ``-O``).
    bind_all : bool
        Listen on all interfaces (``0.0.0.0``) instead of ``host`` only. Off by default: the
        server is then reachable from this host only when ``host`` is loopback.
    buffer_bytes : int [B]
        Bytes per send/recv call.

    Returns
    -------
    NetworkResult

    Raises
    ------
    ValueError
        Bad parameters.
    PortInUseError
        ``port`` is taken.
    TimeoutError
        The server did not start or the run did not finish in time.
    """
    if isinstance(streams, bool) or not isinstance(streams, int) or not 1 <= streams <= MAX_STREAMS:
        raise ValueError(f"streams must be a whole number in 1..{MAX_STREAMS}, got {streams!r}")
    if not 0 < duration_s <= 3600:
        raise ValueError(f"duration_s must be in (0, 3600] seconds, got {duration_s!r}")
    if not 0 <= omit_s <= 600:
        raise ValueError(f"omit_s must be in [0, 600] seconds, got {omit_s!r}")
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        raise ValueError(f"port must be 0..65535 (0: any free port), got {port!r}")
    if buffer_bytes < 1024:
        raise ValueError(f"buffer_bytes must be >= 1024, got {buffer_bytes!r}")
    host = _check_host(host, bind_all)
    bind_host = ("::" if ":" in host else "0.0.0.0") if bind_all else host
    total_s = omit_s + duration_s
    server_deadline_s = total_s + _SETUP_TIMEOUT_S + 2 * _IO_TIMEOUT_S

    server = _ServerProcess(bind_host, port, streams, server_deadline_s, buffer_bytes)
    socks: list[socket.socket] = []
    try:
        msg = server.recv(_SETUP_TIMEOUT_S)
        if msg[0] == "error":
            _, err, text = msg
            if err == errno.EADDRINUSE:
                raise PortInUseError(
                    errno.EADDRINUSE,
                    f"port {port} on {bind_host} is already in use (another iperf3 or aicost "
                    "server?); pick another port, or port 0 for any free one")
            raise OSError(err, f"the TCP server could not listen on {bind_host}:{port}: {text}")
        actual_port = int(msg[1])
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        for _ in range(streams):
            s = socket.socket(family, socket.SOCK_STREAM)
            s.settimeout(_IO_TIMEOUT_S)
            s.connect((host, actual_port))
            socks.append(s)
        payload = memoryview(bytearray(os.urandom(buffer_bytes)))
        sent = [0] * streams
        sent_in_window = [0] * streams
        errors: list[BaseException] = []
        stop = threading.Event()
        start = time.monotonic()
        window_start = start + omit_s
        window_end = window_start + duration_s

        def pump(i: int, s: socket.socket) -> None:
            try:
                while not stop.is_set():
                    s.sendall(payload)
                    now = time.monotonic()
                    sent[i] += buffer_bytes
                    if now >= window_start:
                        sent_in_window[i] += buffer_bytes
                    if now >= window_end:
                        break
            except BaseException as exc:
                errors.append(exc)
                stop.set()
            finally:
                try:
                    s.shutdown(socket.SHUT_WR)
                except OSError:
                    pass

        threads = [threading.Thread(target=pump, args=(i, s), daemon=True)
                   for i, s in enumerate(socks)]
        for t in threads:
            t.start()
        try:
            for t in threads:
                while t.is_alive():
                    t.join(0.05)
        except BaseException:
            stop.set()
            raise
        if errors:
            raise OSError(f"sending failed: {errors[0]}") from errors[0]
        msg = server.recv(_IO_TIMEOUT_S + 5)
        if msg[0] == "error":
            raise OSError(msg[1], f"the TCP server failed: {msg[2]}")
        server.send_window(window_start, window_end)
        msg = server.recv(_IO_TIMEOUT_S + 5)
        _, got, uncertain, per_stream, server_errors = msg
        if server_errors:
            raise OSError(f"the TCP server failed: {server_errors[0]}")
        if got <= 0 or 2 * uncertain > _MAX_EDGE_UNCERTAINTY * got:
            why = (f"the receiver's byte counts around its edges leave +-{2 * uncertain / got:.0%}"
                   f" of the bytes uncertain (at most {_MAX_EDGE_UNCERTAINTY:.0%} allowed)"
                   if got > 0 else "the receiver counted no bytes in it")
            raise MeasurementError(
                f"the {duration_s:g} s window with {streams} streams is too short to measure: "
                f"{why}; nothing was reported or saved. Measure longer (--duration), or with "
                "fewer streams")
        bps = got * 8 / duration_s
        return NetworkResult(
            host=host, port=actual_port, streams=streams, duration_s=float(duration_s),
            omit_s=float(omit_s), bits_per_s=bps, bytes_per_s=bps / 8,
            sender_bits_per_s=sum(sent_in_window) * 8 / duration_s, bytes_received=int(got),
            per_stream_bits_per_s=tuple(float(x) for x in per_stream),
            buffer_bytes=int(buffer_bytes), bind_all=bool(bind_all))
    finally:
        for s in socks:
            s.close()
        server.close()


class TcpReceiver:
    """The receiving end of a TCP measurement between two hosts (``measure_tcp`` runs both ends
    on one host): a server process listening on ``host``; :func:`send_tcp` on another host
    sends to it; :meth:`result` then counts the bytes received in the window that starts
    ``omit_s`` after the first byte arrived, on this host's clock (the two hosts' clocks are
    never compared). ``aicost.fleet.bench(network=True)`` measures pairs of workers this way.

    Parameters
    ----------
    host : str
        Address of this host's interface to listen on (not a wildcard).
    streams : int
        Connections the sender will open.
    omit_s, duration_s : float [s]
        Warm-up not counted and measured window, as the sender's.
    port : int
        0: any free port (see :attr:`port`).
    buffer_bytes : int [B]
        Bytes per recv call.
    """

    def __init__(self, host: str, streams: int = 4, omit_s: float = 1.0, duration_s: float = 5.0,
                 port: int = 0, buffer_bytes: int = DEFAULT_BUFFER_BYTES) -> None:
        if isinstance(streams, bool) or not isinstance(streams, int) or not 1 <= streams <= MAX_STREAMS:
            raise ValueError(f"streams must be a whole number in 1..{MAX_STREAMS}, got {streams!r}")
        if not 0 < duration_s <= 3600 or not 0 <= omit_s <= 600:
            raise ValueError(f"duration_s must be in (0, 3600] and omit_s in [0, 600] seconds, got "
                             f"{duration_s!r}, {omit_s!r}")
        self.host = _check_host(host, False)
        self.streams, self.omit_s, self.duration_s = int(streams), float(omit_s), float(duration_s)
        self.buffer_bytes = int(buffer_bytes)
        deadline = omit_s + duration_s + _SETUP_TIMEOUT_S + 2 * _IO_TIMEOUT_S
        self._server = _ServerProcess(self.host, port, self.streams, deadline, self.buffer_bytes)
        msg = self._server.recv(_SETUP_TIMEOUT_S)
        if msg[0] == "error":
            self._server.close()
            raise OSError(msg[1], f"the TCP receiver could not listen on {self.host}:{port}: {msg[2]}")
        self.port = int(msg[1])

    def result(self) -> NetworkResult:
        """Wait for the sender to finish; the received throughput in the window (raises
        :class:`MeasurementError` when the window is not resolved, ``TimeoutError`` when no
        sender came)."""
        try:
            msg = self._server.recv(_SETUP_TIMEOUT_S + self.omit_s + self.duration_s + 2 * _IO_TIMEOUT_S)
            if msg[0] == "error":
                raise OSError(msg[1], f"the TCP receiver failed: {msg[2]}")
            first = msg[2] if len(msg) > 2 else None
            if first is None:
                raise MeasurementError("the TCP receiver got no bytes; nothing was reported")
            start = float(first) + self.omit_s
            self._server.send_window(start, start + self.duration_s)
            _, got, uncertain, per_stream, errors = self._server.recv(_IO_TIMEOUT_S + 5)
        finally:
            self._server.close()
        if errors:
            raise OSError(f"the TCP receiver failed: {errors[0]}")
        if got <= 0 or 2 * uncertain > _MAX_EDGE_UNCERTAINTY * got:
            raise MeasurementError(f"the {self.duration_s:g} s window is not resolved by the "
                                   "receiver's byte counts; measure longer")
        bps = got * 8 / self.duration_s
        return NetworkResult(
            host=self.host, port=self.port, streams=self.streams, duration_s=self.duration_s,
            omit_s=self.omit_s, bits_per_s=bps, bytes_per_s=bps / 8, sender_bits_per_s=math.nan,
            bytes_received=int(got), per_stream_bits_per_s=tuple(float(x) for x in per_stream),
            buffer_bytes=self.buffer_bytes, bind_all=False)

    def close(self) -> None:
        """Stop the server process (also after an error)."""
        self._server.close()


def send_tcp(host: str, port: int, streams: int = 4, omit_s: float = 1.0, duration_s: float = 5.0,
             buffer_bytes: int = DEFAULT_BUFFER_BYTES) -> float:
    """Send to a :class:`TcpReceiver` for ``omit_s + duration_s`` [s] over ``streams``
    connections; return what this end handed to the kernel after ``omit_s`` [bit/s]."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    socks = []
    try:
        for _ in range(int(streams)):
            s = socket.socket(family, socket.SOCK_STREAM)
            s.settimeout(_IO_TIMEOUT_S)
            s.connect((host, int(port)))
            socks.append(s)
        payload = memoryview(bytearray(os.urandom(int(buffer_bytes))))
        sent = [0] * len(socks)
        errors: list[BaseException] = []
        start = time.monotonic()
        window_start, window_end = start + omit_s, start + omit_s + duration_s

        def pump(i: int, s: socket.socket) -> None:
            try:
                while True:
                    s.sendall(payload)
                    now = time.monotonic()
                    if now >= window_start:
                        sent[i] += len(payload)
                    if now >= window_end:
                        break
            except OSError as exc:
                errors.append(exc)
            finally:
                try:
                    s.shutdown(socket.SHUT_WR)
                except OSError:
                    pass

        threads = [threading.Thread(target=pump, args=(i, s), daemon=True) for i, s in enumerate(socks)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if errors:
            raise OSError(f"sending to {host}:{port} failed: {errors[0]}") from errors[0]
        return sum(sent) * 8 / duration_s
    finally:
        for s in socks:
            s.close()


def quick_check(*, duration_s: float = 1.5, streams: int = 4) -> NetworkResult:
    """Run a short (~2-3 s) loopback TCP measurement for ``aicost demo``."""
    return measure_tcp("127.0.0.1", 0, streams=streams, duration_s=duration_s, omit_s=0.5)
