"""The float policy of every verifier and attack run: IEEE float32, never TF32.

On Ampere and later GPUs PyTorch may compute float32 convolutions (cuDNN, on by default) and
matmuls in TF32, which keeps 10 mantissa bits: a bound that is -3e-5 in float32 can come out
+3e-5, and a margin that a sound verifier must call "not certified" flips to "certified". So
every verification and benchmark runs inside :func:`strict_float32`, which turns TF32 off for
cuBLAS and cuDNN and asks for the highest float32 matmul precision, and restores the process's
previous settings afterwards (they are process-global; a library caller keeps its own).

Plugins compute in float32 unless they document float64 (e.g. an exact solve); CPU and CUDA
then agree up to float32 rounding, which ``tests/hardening/test_trust_gpu.py`` checks where CUDA exists.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


def float_policy() -> dict[str, Any]:
    """The settings that decide float32 precision, as they are now."""
    import torch

    return {"cuda_matmul_allow_tf32": bool(torch.backends.cuda.matmul.allow_tf32),
            "cudnn_allow_tf32": bool(torch.backends.cudnn.allow_tf32),
            "float32_matmul_precision": torch.get_float32_matmul_precision()}


def _apply(policy: dict[str, Any]) -> None:
    import torch

    torch.backends.cuda.matmul.allow_tf32 = policy["cuda_matmul_allow_tf32"]
    torch.backends.cudnn.allow_tf32 = policy["cudnn_allow_tf32"]
    torch.set_float32_matmul_precision(policy["float32_matmul_precision"])


STRICT = {"cuda_matmul_allow_tf32": False, "cudnn_allow_tf32": False, "float32_matmul_precision": "highest"}


@contextlib.contextmanager
def strict_float32() -> Iterator[None]:
    """IEEE float32 for cuBLAS and cuDNN inside the block; the previous settings after it."""
    before = float_policy()
    _apply(STRICT)
    try:
        yield
    finally:
        _apply(before)


def with_strict_float32(fn: F) -> F:
    """Decorator form of :func:`strict_float32` for the pipelines' entry points."""
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with strict_float32():
            return fn(*args, **kwargs)

    return wrapper  # type: ignore[return-value]
