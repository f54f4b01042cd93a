"""A ReLU network as a list of exact float64 affine maps, with sound pre-activation bounds.

The MILP is stated in float64 over the network's own float32 weights (exactly representable), so
its bounds are computed here in float64 on the same maps: interval arithmetic (IBP) and backward
linear relaxation (CROWN, Zhang et al. 2018, adaptive lower slopes), intersected layer by layer.
Every bound is widened by a small relative pad to absorb float64 rounding; a wider bound only
costs the MILP a binary, never soundness.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import torch
from torch import nn

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

    ``weights[i]`` is a CSR matrix ``[out_i, in_i]`` (float64), ``biases[i]`` float64 ``[out_i]``.
    """

    weights: list[sp.csr_matrix]
    biases: list[np.ndarray]
    input_shape: tuple[int, ...]

    @property
    def num_hidden(self) -> int:
        return len(self.weights) - 1

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Logits for flat inputs ``[n_in]`` or ``[B, n_in]`` in float64."""
        h = np.atleast_2d(x).T
        for i, (w, b) in enumerate(zip(self.weights, self.biases)):
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
    return AffineReluNet(weights, biases, tuple(input_shape))


def _pad(lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    slack = BOUND_PAD * (1.0 + np.maximum(np.abs(lo), np.abs(hi)))
    return lo - slack, hi + slack


def _dense(m) -> np.ndarray:
    return m.toarray() if sp.issparse(m) else np.asarray(m)


def _backward(net: AffineReluNet, coeff: np.ndarray, const: np.ndarray, layer: int,
              bounds: list[tuple[np.ndarray, np.ndarray]], lo: np.ndarray, hi: np.ndarray,
              upper: bool, l1: tuple[np.ndarray, float] | None = None,
              want_coeff: bool = False):
    """Lower (or, with ``upper``, upper) bound of ``coeff @ z_layer + const`` over the box, where
    ``z_layer`` is the pre-activation of hidden layer ``layer`` (0-based) or, for
    ``layer == num_hidden``, the logits: CROWN's backward pass through the relaxed ReLUs."""
    sign = -1.0 if upper else 1.0
    a = sign * coeff  # bound the lower bound of sign * expression
    c = sign * const
    for i in range(layer, -1, -1):
        w = net.weights[i]
        c = c + a @ net.biases[i]
        a = np.asarray((w.T @ a.T).T) if sp.issparse(w) else a @ w
        if i == 0:
            break
        l, u = bounds[i - 1]
        unstable = (l < 0) & (u > 0)
        active = l >= 0
        slope_up = np.where(unstable, u / np.where(unstable, u - l, 1.0), active.astype(float))
        icpt_up = np.where(unstable, -slope_up * l, 0.0)
        slope_lo = np.where(unstable, (u > -l).astype(float), active.astype(float))
        pos, neg = np.maximum(a, 0.0), np.minimum(a, 0.0)
        c = c + neg @ icpt_up  # negative coefficients take the upper line for a lower bound
        a = pos * slope_lo + neg * slope_up
    value = c + np.maximum(a, 0.0) @ lo + np.minimum(a, 0.0) @ hi
    if l1 is not None:  # min of a.x over the ℓ1 ball: a.x0 - eps * ||a||_inf (the dual norm)
        value = np.maximum(value, c + a @ l1[0] - l1[1] * np.abs(a).max(axis=1))
    if want_coeff:
        return sign * value, sign * a
    return sign * value


def preactivation_bounds(net: AffineReluNet, lo: np.ndarray, hi: np.ndarray, method: str = "crown",
                         l1: tuple[np.ndarray, float] | None = None) -> list[tuple[np.ndarray, np.ndarray]]:
    """Sound (l, u) for every hidden layer's pre-activations over the box ``[lo, hi]`` (intersected
    with the ℓ1 ball ``l1 = (centre, eps)`` when given).

    ``method="ibp"``: interval arithmetic only; ``"crown"``: CROWN intersected with IBP."""
    bounds: list[tuple[np.ndarray, np.ndarray]] = []
    ilo, ihi = lo.astype(np.float64), hi.astype(np.float64)
    for i in range(net.num_hidden):
        w = net.weights[i]
        wp, wn = w.maximum(0), w.minimum(0)
        zl = wp @ ilo + wn @ ihi + net.biases[i]
        zu = wp @ ihi + wn @ ilo + net.biases[i]
        if method == "crown" and (i > 0 or l1 is not None):
            eye = np.eye(w.shape[0])
            zero = np.zeros(w.shape[0])
            cl = _backward(net, eye, zero, i, bounds, lo, hi, upper=False, l1=l1)
            cu = _backward(net, eye, zero, i, bounds, lo, hi, upper=True, l1=l1)
            zl, zu = np.maximum(zl, cl), np.minimum(zu, cu)
        elif method not in ("crown", "ibp"):
            raise ValueError(f"unknown bound method {method!r}")
        zl, zu = _pad(zl, zu)
        bounds.append((zl, zu))
        ilo, ihi = np.maximum(zl, 0.0), np.maximum(zu, 0.0)
    return bounds


def margin_matrix(net: AffineReluNet, label: int, targets: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """``(C, d)`` with ``C @ a_last + d = f_label - f_j`` for each ``j`` in ``targets``."""
    w = _dense(net.weights[-1])
    b = net.biases[-1]
    return w[label][None, :] - w[targets], b[label] - b[targets]


def margin_lower_bounds(net: AffineReluNet, lo: np.ndarray, hi: np.ndarray, label: int, targets: list[int],
                        bounds: list[tuple[np.ndarray, np.ndarray]],
                        l1: tuple[np.ndarray, float] | None = None) -> np.ndarray:
    """CROWN lower bounds of ``f_label - f_j`` over the box (padded down for float64 rounding)."""
    n_out = net.weights[-1].shape[0]
    coeff = np.zeros((len(targets), n_out))
    coeff[:, label] = 1.0
    coeff[np.arange(len(targets)), targets] -= 1.0
    value = _backward(net, coeff, np.zeros(len(targets)), net.num_hidden, bounds, lo, hi, upper=False, l1=l1)
    return _pad(value, value)[0]


def crown_minimisers(net: AffineReluNet, lo: np.ndarray, hi: np.ndarray, label: int, targets: list[int],
                     bounds: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """For each target, the box vertex minimising CROWN's linear lower bound of ``f_label - f_j``
    (``lo`` where the coefficient is positive, ``hi`` elsewhere): a gradient-free guess at a
    counterexample, checked in the real network before any MILP is built."""
    n_out = net.weights[-1].shape[0]
    coeff = np.zeros((len(targets), n_out))
    coeff[:, label] = 1.0
    coeff[np.arange(len(targets)), targets] -= 1.0
    _, a = _backward(net, coeff, np.zeros(len(targets)), net.num_hidden, bounds, lo, hi, upper=False,
                     want_coeff=True)
    return np.where(a > 0, lo[None, :], hi[None, :])
