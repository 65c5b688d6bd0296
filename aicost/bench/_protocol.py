"""What a compute-benchmark backend offers: the :class:`BenchBackend` protocol.

Every backend (``cupy``, ``numba-cuda``, ``numba``, ``numpy``) declares its capabilities as
attributes (the dtypes each kernel runs in, whether it has host-device transfers) and
implements every method; a method a backend cannot offer raises :class:`ValueError` with the
reason in :attr:`BenchBackend.unsupported`. The measurements read the declarations; they never
probe a backend with ``getattr``/``hasattr``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol, runtime_checkable

__all__ = ["BenchBackend"]


@runtime_checkable
class BenchBackend(Protocol):
    """A compute-benchmark backend.

    Attributes
    ----------
    name : str
        ``"cupy"``, ``"numba-cuda"``, ``"numba"`` or ``"numpy"``.
    device_kind : {"cuda", "cpu"}
        Where the kernels run (``"cuda"`` backends also have launch latency).
    gemm_dtypes, stream_dtypes, roofline_dtypes : tuple of str
        The dtypes each kernel family runs in (empty: not offered).
    has_transfers : bool
        Whether :meth:`transfer_fns` measures host-device copies.
    unsupported : mapping of str to str
        Why a kernel (``"gemm"``, ``"roofline"``, ``"transfer"``, ``"launch_latency"``) or a
        kernel in one dtype (``"gemm:bf16"``) is not offered, in words.
    """

    name: str
    device_kind: str
    gemm_dtypes: tuple[str, ...]
    stream_dtypes: tuple[str, ...]
    roofline_dtypes: tuple[str, ...]
    has_transfers: bool
    unsupported: Mapping[str, str]

    # ------------------------------------------------------------------ device
    def device_name(self) -> str:
        """The device's name as its driver reports it (the CPU model on CPU backends)."""

    def device_info(self) -> dict:
        """Facts about the device (memory, SM count, L2 size, library versions)."""

    def mem_free_bytes(self) -> int:
        """Free device memory [B] (available host memory on CPU backends)."""

    def sync(self) -> None:
        """Wait for all queued work."""

    def free_all(self) -> None:
        """Release cached device memory."""

    def event_clock(self) -> Any:
        """The clock that times this backend's kernels (a :class:`aicost.bench.CudaEventClock`
        on CUDA backends), or None for the timer's host clock."""

    # ------------------------------------------------------------------ arrays
    def np_dtype(self, dtype: str) -> Any:
        """The NumPy dtype of an aicost dtype name."""

    def random(self, shape: Any, dtype: str, seed: int) -> Any:
        """A standard-normal random array on the device (fresh per call)."""

    def empty(self, shape: Any, dtype: str) -> Any:
        """An uninitialized array on the device."""

    def poison(self, a: Any) -> None:
        """Fill ``a`` with NaN (integers: their minimum) so unwritten elements show."""

    def to_host(self, a: Any) -> Any:
        """``a`` as a NumPy array."""

    # ------------------------------------------------------------------ kernels
    def stream_fn(self, op: str, dtype: str, arrays: dict, scalar: float,
                  waves: int | None = None) -> tuple[Callable[[], None], str, int | None]:
        """``(fn, output key in arrays, grid)`` of a STREAM or reduction kernel."""

    def gemm_operands(self, dtype: str, m: int, n: int, k: int, seed: int) -> tuple:
        """``(a, b, c)`` device operands of ``c = a @ b``."""

    def gemm_fn(self, dtype: str, a: Any, b: Any, c: Any) -> Callable[[], None]:
        """A call computing ``c = a @ b``."""

    def mix_fn(self, dtype: str, k_fmas: int, x: Any, y: Any, a: float, c: float,
               waves: int | None = None) -> tuple[Callable[[], None], int | None]:
        """``(fn, grid)`` of the roofline kernel: ``k_fmas`` dependent FMAs per element."""

    def empty_kernel_fn(self) -> Callable[[], None]:
        """A call launching an empty kernel (launch latency)."""

    def transfer_fns(self, nbytes: int) -> dict:
        """``{(direction, host_memory): fn}`` copies of ``nbytes``; the callables hold the
        buffers (drop them to free the memory)."""

    def transfer_check(self) -> float:
        """Round-trip a random buffer host -> device -> host; the max abs difference."""
