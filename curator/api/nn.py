"""Network building blocks for architecture and verifier plugins.

- :class:`Normalize` (per-channel ``(x - mean) / std`` as a layer, so a model's input is in [0, 1]
  pixel space) and :class:`Residual` (``body(x) + shortcut(x)``): the layers beyond ``torch.nn`` that
  curator's bound engines convert — build with them and IBP/CROWN/Lipschitz bounds apply;
- :class:`Cascade` (the stages of a cascade of classifiers, which every deterministic verifier
  certifies by curator's sound rule, see docs/verifiers.md);
- :func:`build_architecture` (``registry``, ``name``, ``kwargs``) → the ``nn.Module`` of a registered
  architecture, with its kwargs checked against its schema; pass
  :func:`curator.api.registry.get_registry` ``()`` for the installed plugins.

Every name here is torch code, imported on first use, so ``import curator.api.nn`` at a plugin's top
level keeps ``curator plugins`` torch-free. For the bound and attack engines themselves (IBP,
CROWN, Lipschitz, PGD, ONNX, VNN-LIB) import :mod:`curator.engines` directly.

Stability: the names in ``__all__`` are plugin API; a change to them is made together with
docs/plugins.md and the bundled plugins.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from curator.api._lazy import lazy_names

if TYPE_CHECKING:  # pragma: no cover
    from curator.engines.cascade import Cascade
    from curator.engines.layers import Normalize, Residual
    from curator.verify.models import build_architecture

_SOURCES = {
    "Normalize": "curator.engines.layers",
    "Residual": "curator.engines.layers",
    "Cascade": "curator.engines.cascade",
    "build_architecture": "curator.verify.models",
}

__all__ = list(_SOURCES)

__getattr__ = lazy_names(__name__, _SOURCES)
