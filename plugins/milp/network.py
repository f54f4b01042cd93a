"""A ReLU network as a list of exact float64 affine maps (what the MILP states), and its sound
bounds from curator's bound engine.

The MILP is stated in float64 over the network's own float32 weights (exactly representable), so
its bounds come from :mod:`curator.engines.bounds` run in float64 on the same network: IBP, or CROWN
intersected with IBP layer by layer (Zhang et al. 2018, adaptive lower slopes). Every bound is
widened by a small relative pad to absorb float64 rounding (the engine composes the layers one by
one, the MILP uses each block's probed matrix); a wider bound only costs the MILP a binary, never
soundness.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import torch
from torch import nn

from curator.engines.bounds import BoundedNetwork, UnsupportedLayerError, concretize_lower, from_module
from curator.engines.layers import Normalize

# Layers whose composition between two ReLUs is affine; anything else is refused by name.
AFFINE_LAYERS = (nn.Linear, nn.Conv2d, nn.Flatten, nn.Unflatten, nn.Identity, nn.Dropout, Normalize,
                 nn.BatchNorm1d, nn.BatchNorm2d, nn.AvgPool2d)
PROBE_CHUNK = 1024
BOUND_PAD = 1e-9


class UnsupportedNetwork(ValueError):
    """The model is not a chain of affine layers and ReLUs the MILP encoder can state."""


@dataclass
class AffineReluNet:
    """``z_1 = W_0 x + b_0, a_i = relu(z_i), z_{i+1} = W_i a_i + b_i``; the last map gives logits.

    ``weights[i]`` is a CSR matrix ``[out_i, in_i]`` (float64), ``biases[i]`` float64 ``[out_i]``;
    ``bounded`` is the same network in the bound engine, in float64.
    """

    weights: list[sp.csr_matrix]
    biases: list[np.ndarray]
    input_shape: tuple[int, ...]
    bounded: BoundedNetwork

    @property
    def num_hidden(self) -> int:
        return len(self.weights) - 1

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Logits for flat inputs ``[n_in]`` or ``[B, n_in]`` in float64."""
        h = np.atleast_2d(x).T
        for i, (w, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            h = w @ h + b[:, None]
            if i < self.num_hidden:
                h = np.maximum(h, 0.0)
        return h.T if np.ndim(x) == 2 else h[:, 0]


def _flatten_modules(model: nn.Module) -> list[nn.Module]:
    if isinstance(model, nn.Sequential):
        out: list[nn.Module] = []
        for m in model:
            out.extend(_flatten_modules(m))
        return out
    return [model]


def _affine_of(block: list[nn.Module], in_shape: tuple[int, ...]) -> tuple[sp.csr_matrix, np.ndarray, tuple[int, ...]]:
    """The exact matrix of an affine block, read off by probing it with the unit vectors in
    float64 (the block is verified affine by type, so probing is exact up to float64 rounding)."""
    seq = copy.deepcopy(nn.Sequential(*block)).double().eval()
    n_in = int(np.prod(in_shape))
    with torch.no_grad():
        zero = torch.zeros((1,) + in_shape, dtype=torch.float64)
        b = seq(zero)
        out_shape = tuple(b.shape[1:])
        b = b.reshape(-1)
        cols = []
        for start in range(0, n_in, PROBE_CHUNK):
            stop = min(n_in, start + PROBE_CHUNK)
            eye = torch.zeros((stop - start, n_in), dtype=torch.float64)
            eye[torch.arange(stop - start), torch.arange(start, stop)] = 1.0
            resp = seq(eye.reshape((stop - start,) + in_shape)).reshape(stop - start, -1) - b
            cols.append(sp.csr_matrix(resp.numpy().T))
    return sp.hstack(cols, format="csr"), b.numpy().copy(), out_shape


def extract(model: nn.Module, input_shape: tuple[int, ...]) -> AffineReluNet:
    """Split ``model`` into affine blocks at its ReLUs (see :data:`AFFINE_LAYERS`)."""
    blocks: list[list[nn.Module]] = [[]]
    for m in _flatten_modules(model):
        if isinstance(m, nn.ReLU):
            blocks.append([])
        elif isinstance(m, AFFINE_LAYERS):
            if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)) and m.training:
                raise UnsupportedNetwork("BatchNorm in training mode")
            blocks[-1].append(m)
        else:
            raise UnsupportedNetwork(f"layer {type(m).__name__} is not supported by the MILP encoder "
                                     "(chains of Linear/Conv2d/Flatten/Normalize/BatchNorm/AvgPool2d and ReLU only)")
    if not blocks[-1]:
        raise UnsupportedNetwork("the model ends with a ReLU; the MILP needs logits from an affine layer")
    weights, biases = [], []
    shape = tuple(input_shape)
    for block in blocks:
        if not block:
            block = [nn.Identity()]
        w, b, shape = _affine_of(block, shape)
        weights.append(w)
        biases.append(b)
    try:
        bounded = from_module(model, tuple(input_shape), dtype=torch.float64)
    except UnsupportedLayerError as exc:
        raise UnsupportedNetwork(str(exc)) from None
    bounded.bound_stable = True  # the MILP states every kept neuron's range: tighter ones help HiGHS
    return AffineReluNet(weights, biases, tuple(input_shape), bounded)


def _pad(lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    slack = BOUND_PAD * (1.0 + np.maximum(np.abs(lo), np.abs(hi)))
    return lo - slack, hi + slack


def _dense(m) -> np.ndarray:
    return m.toarray() if sp.issparse(m) else np.asarray(m)


@dataclass
class InputSet:
    """The engine's description of the MILP's input set: the ``norm`` ball of radius ``eps`` around
    ``centre`` (flat float64), intersected with [0, 1]; it contains the box the MILP is stated on."""

    centre: np.ndarray
    norm: str
    eps: float

    @classmethod
    def enclosing(cls, lo: np.ndarray, hi: np.ndarray, l1: tuple[np.ndarray, float] | None = None) -> InputSet:
        """The ℓ1 ball ``l1 = (centre, eps)`` when given (the box then contains ball ∩ [0, 1]), else
        an ℓ∞ ball whose intersection with [0, 1] is the box ``[lo, hi]`` — exactly for a clipped
        ball, the box the verifier builds, and otherwise the smallest such ball around it."""
        if l1 is not None:
            return cls(np.asarray(l1[0], dtype=np.float64).ravel(), "l1", float(l1[1]))
        if not (np.all(lo <= hi) and np.all(lo >= 0.0) and np.all(hi <= 1.0)):
            raise ValueError("the input box must satisfy 0 <= lo <= hi <= 1")
        eps = float(((hi - lo) / 2.0).max(initial=0.0))
        centre = (lo + hi) / 2.0
        # A clipped side tells nothing of the radius: place the centre from the unclipped one.
        centre = np.where((lo <= 0.0) & (hi < 1.0), hi - eps, centre)
        centre = np.where((hi >= 1.0) & (lo > 0.0), lo + eps, centre)
        centre = np.clip(centre, 0.0, 1.0)
        for _ in range(8):  # rounding may leave a coordinate an ulp outside: widen by an ulp of 1
            if np.all(np.maximum(centre - eps, 0.0) <= lo) and np.all(np.minimum(centre + eps, 1.0) >= hi):
                return cls(centre, "linf", eps)
            eps += float(np.spacing(1.0))
        raise ValueError("no l-inf ball around the box was found")  # unreachable for 0 <= lo <= hi <= 1

    def tensor(self, shape: tuple[int, ...]) -> torch.Tensor:
        return torch.from_numpy(self.centre).reshape((1,) + tuple(shape))


def preactivation_bounds(net: AffineReluNet, lo: np.ndarray, hi: np.ndarray, method: str = "crown",
                         l1: tuple[np.ndarray, float] | None = None) -> list[tuple[np.ndarray, np.ndarray]]:
    """Sound (l, u) for every hidden layer's pre-activations over the box ``[lo, hi]`` (intersected
    with the ℓ1 ball ``l1 = (centre, eps)`` when given), flat and padded for rounding.

    ``method="ibp"``: interval arithmetic only; ``"crown"``: CROWN intersected with IBP."""
    if method not in ("crown", "ibp"):
        raise ValueError(f"unknown bound method {method!r}")
    where = InputSet.enclosing(lo, hi, l1)
    with torch.no_grad():
        layers = net.bounded.crown_intermediate(where.tensor(net.input_shape), where.norm, where.eps, intermediate=method)
    return [_pad(lower.reshape(-1).numpy(), upper.reshape(-1).numpy()) for lower, upper in layers]


@dataclass
class MarginBound:
    """CROWN's lower bounds of ``f_label - f_j`` for each target ``j`` (padded down for rounding), and
    the input coefficients of the linear functions they bound (``[targets, n_in]``)."""

    lower: np.ndarray
    input_coeff: np.ndarray

    def minimisers(self, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        """For each target, the box vertex minimising its linear lower bound (``lo`` where the
        coefficient is positive, ``hi`` elsewhere): a gradient-free guess at a counterexample,
        checked in the real network before any MILP is built."""
        return np.where(self.input_coeff > 0, lo[None, :], hi[None, :])


def margin_bound(net: AffineReluNet, lo: np.ndarray, hi: np.ndarray, label: int, targets: list[int],
                 method: str = "crown", l1: tuple[np.ndarray, float] | None = None) -> MarginBound:
    """CROWN's bound of the margins ``f_label - f_j`` over the box (∩ the ℓ1 ball), over ``method``'s
    pre-activation bounds."""
    where = InputSet.enclosing(lo, hi, l1)
    x = where.tensor(net.input_shape)
    n_out = net.weights[-1].shape[0]
    spec = torch.zeros(1, len(targets), n_out, dtype=torch.float64)
    spec[0, :, label] = 1.0
    spec[0, torch.arange(len(targets)), targets] -= 1.0
    with torch.no_grad():
        A, b = net.bounded.linear_lower_bound(x, spec, where.norm, where.eps, intermediate=method)
        value = (concretize_lower(A, x, where.norm, where.eps) + b)[0].numpy()
    return MarginBound(_pad(value, value)[0], A[0].reshape(len(targets), -1).numpy())


def margin_matrix(net: AffineReluNet, label: int, targets: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """``(C, d)`` with ``C @ a_last + d = f_label - f_j`` for each ``j`` in ``targets``."""
    w = _dense(net.weights[-1])
    b = net.biases[-1]
    return w[label][None, :] - w[targets], b[label] - b[targets]
