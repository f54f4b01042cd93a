"""How many CPU threads curator's torch work uses: chosen on purpose, not left to torch's default.

torch starts one intra-op thread per physical core. On a shared or small machine that
oversubscribes the CPU: on a 2-core machine with other jobs running, CROWN on the Wong-Kolter net
ran at 40 samples/s with 1 thread and 10 samples/s with 2 (docs/benchmarks.md, ## threads).

Order of precedence: ``--threads N`` (a global ``curator`` option) > ``CURATOR_THREADS`` >
``OMP_NUM_THREADS`` (respected as the user set it) > the default: the number of CPUs this process
may use that are idle (available CPUs minus the 1-minute load average), at least 1 and at most 4
— so 1 on a busy machine, up to 4 on an idle one (CROWN gains little past 4 threads).
"""

from __future__ import annotations

import os
import sys

ENV = "CURATOR_THREADS"
MAX_DEFAULT = 4


def available_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        return os.cpu_count() or 1


def default_threads() -> int:
    """Idle CPUs of this process, clamped to [1, MAX_DEFAULT]."""
    cpus = available_cpus()
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):
        load = 0.0
    return max(1, min(MAX_DEFAULT, int(cpus - load)))


def parse(value: str | int | None, source: str) -> int | None:
    if value is None or value == "":
        return None
    try:
        n = int(value)
    except (TypeError, ValueError):
        n = 0
    if n < 1:
        raise ValueError(f"{source} must be a positive integer, got {value!r}")
    return n


def choose(requested: int | None = None) -> int | None:
    """The thread count to use, or ``None`` to leave torch as ``OMP_NUM_THREADS`` configured it."""
    if requested is not None:
        return parse(requested, "--threads")
    from_env = parse(os.environ.get(ENV), ENV)
    if from_env is not None:
        return from_env
    if os.environ.get("OMP_NUM_THREADS"):
        return None
    return default_threads()


def configure(requested: int | None = None) -> int | None:
    """Apply :func:`choose`: before torch is imported through the environment (OpenMP/MKL read it at
    start-up, so numpy and scipy follow too), after that with ``torch.set_num_threads``. Returns the
    count applied (``None``: left to ``OMP_NUM_THREADS``)."""
    n = choose(requested)
    if n is None:
        return None
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(n)
    else:
        os.environ["OMP_NUM_THREADS"] = str(n)
        os.environ.setdefault("MKL_NUM_THREADS", str(n))
    return n
