"""Complete robustness verification of a ReLU network over an input box by mixed-integer
programming (Tjeng, Xiao & Tedrake, ICLR 2019), solved with HiGHS through ``scipy.optimize.milp``.

Encoding, per hidden neuron with sound pre-activation bounds ``l <= z <= u``:

- ``u <= 0`` (stably inactive): the neuron is removed (its column vanishes from the next layer);
- ``l >= 0`` (stably active): one continuous variable ``a = z``, no binary;
- otherwise one continuous ``a`` in ``[0, u]`` and one binary ``d`` with the exact big-M form
  ``a >= z``, ``a <= z - l (1 - d)``, ``a <= u d``.

For each class ``j != y`` the margin ``m_j = f_y - f_j`` is minimised subject to the cut-off
``m_j <= 0``. HiGHS then either proves the cut-off problem infeasible — its dual bound is +inf,
so ``min m_j > 0`` on the whole box (up to the solver's feasibility tolerance, 1e-7 by default)
— or returns a point with ``m_j <= 0``: a counterexample candidate that is replayed through the
float32 torch model and accepted only if its margin there is ``<= replay_tolerance`` (1e-4, the
VNN-COMP rule). A best objective at a non-zero gap is never taken as a proof.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.optimize import Bounds, LinearConstraint, milp

from .network import AffineReluNet, MarginBound, margin_bound, margin_matrix, preactivation_bounds

INFEASIBLE = 2  # scipy.optimize.milp status codes
TIME_LIMIT = 1
OPTIMAL = 0


@dataclass
class TargetResult:
    target: int
    outcome: str  # "crown" | "proved" | "counterexample" | "timeout" | "error"
    seconds: float = 0.0
    crown_lower: float | None = None
    dual_bound: float | None = None  # HiGHS's proven lower bound on min m_j (inf when the cut-off is infeasible)
    objective: float | None = None  # best m_j found (<= 0 when there is one)
    message: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v not in (None, "")}


@dataclass
class BoxResult:
    """Verdict on "``label`` stays the argmax on the box": ``certified`` (proved),
    ``not_certified`` (a witness that replays), ``timeout`` or ``error``."""

    status: str
    seconds: float
    label: int
    targets: list[TargetResult] = field(default_factory=list)
    witness: np.ndarray | None = None  # float32, flat, inside the box
    witness_margin: float | None = None  # min_j f_label - f_j of the witness, replayed in torch
    witness_class: int | None = None
    unstable: int = 0
    message: str = ""
    certified_by: str | None = None  # "crown" when no MILP was needed, else "milp"


def _inside_float32(x: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """``x`` rounded to float32 and nudged so that every coordinate lies in ``[lo, hi]`` exactly."""
    w = np.clip(x, lo, hi).astype(np.float32)
    below = w.astype(np.float64) < lo
    w[below] = np.nextafter(w[below], np.float32(np.inf))
    above = w.astype(np.float64) > hi
    w[above] = np.nextafter(w[above], np.float32(-np.inf))
    return w


@dataclass
class _LayerColumns:
    """Where one layer's constraints read and write: its weights over the previous layer's kept
    outputs (columns ``prev_cols``), and the columns of its ``a`` and ``d`` variables (-1: none)."""

    weights: sp.csr_matrix
    prev_cols: np.ndarray
    a_col: np.ndarray
    d_col: np.ndarray


class MilpProblem:
    """The shared part of the encoding (variables, ReLU constraints) for one box."""

    def __init__(self, net: AffineReluNet, lo: np.ndarray, hi: np.ndarray,
                 bounds: list[tuple[np.ndarray, np.ndarray]],
                 l1_ball: tuple[np.ndarray, float] | None = None):
        self.net = net
        self.n_in = n_in = lo.size
        self.n_vars, self.n_rows, self.unstable = n_in, 0, 0
        self._var_lo: list[np.ndarray] = [lo.astype(np.float64)]
        self._var_hi: list[np.ndarray] = [hi.astype(np.float64)]
        self._integrality: list[np.ndarray] = [np.zeros(n_in)]
        self._trip_r: list[np.ndarray] = []
        self._trip_c: list[np.ndarray] = []
        self._trip_v: list[np.ndarray] = []
        self.row_lo: list[np.ndarray] = []
        self.row_hi: list[np.ndarray] = []
        prev_cols = np.arange(n_in)  # columns of the previous layer's kept outputs
        prev_keep = np.ones(n_in, dtype=bool)
        for i, (lower, upper) in enumerate(bounds):
            prev_cols, prev_keep = self._add_layer(i, lower, upper, prev_cols, prev_keep)
        if l1_ball is not None:
            self._add_l1_ball(l1_ball)
        self.last_cols = prev_cols
        self.last_keep = np.flatnonzero(prev_keep)
        self._assemble()

    def _add_layer(self, i: int, lower: np.ndarray, upper: np.ndarray, prev_cols: np.ndarray,
                   prev_keep: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Hidden layer ``i``'s variables and ReLU constraints; returns its kept outputs' columns
        and mask, which the next layer reads."""
        b = self.net.biases[i]
        active = lower >= 0
        unstable = (lower < 0) & (upper > 0)
        keep = active | unstable
        k_act, k_uns = np.flatnonzero(active), np.flatnonzero(unstable)
        n_keep, n_uns = int(keep.sum()), k_uns.size
        self.unstable += n_uns
        cols = _LayerColumns(self.net.weights[i][:, np.flatnonzero(prev_keep)].tocsr(), prev_cols,
                             np.full(lower.size, -1), np.full(lower.size, -1))
        cols.a_col[keep] = self.n_vars + np.arange(n_keep)
        cols.d_col[unstable] = self.n_vars + n_keep + np.arange(n_uns)
        self._var_lo.append(np.concatenate([np.maximum(lower[keep], 0.0), np.zeros(n_uns)]))
        self._var_hi.append(np.concatenate([upper[keep], np.ones(n_uns)]))
        self._integrality.append(np.concatenate([np.zeros(n_keep), np.ones(n_uns)]))
        if k_act.size:  # stably active: a - W prev = b
            self._add_rows(cols, k_act, None, -1.0, b[k_act], b[k_act])
        if n_uns:
            lu, uu, bu = lower[k_uns], upper[k_uns], b[k_uns]
            none, free = np.full(n_uns, -np.inf), np.full(n_uns, np.inf)
            self._add_rows(cols, k_uns, None, -1.0, bu, free)  # a - W prev >= b
            self._add_rows(cols, k_uns, -lu, -1.0, none, bu - lu)  # a - W prev - l d <= b - l
            self._add_rows(cols, k_uns, -uu, 0.0, none, np.zeros(n_uns))  # a - u d <= 0
        kept_cols = self.n_vars + np.arange(n_keep)
        self.n_vars += n_keep + n_uns
        return kept_cols, keep

    def _add_rows(self, cols: _LayerColumns, neurons: np.ndarray, d_coef: np.ndarray | None, w_sign: float,
                  row_lo: np.ndarray, row_hi: np.ndarray) -> None:
        """Rows ``row_lo <= w_sign * W[neurons] @ prev + a[neurons] + d_coef * d[neurons] <= row_hi``."""
        r0 = self.n_rows
        wp = (cols.weights[neurons] * w_sign).tocoo()
        k = np.arange(neurons.size)
        parts = [(k, cols.a_col[neurons], np.ones(neurons.size))]
        if w_sign != 0.0:
            parts.append((wp.row, cols.prev_cols[wp.col], wp.data))
        if d_coef is not None:
            parts.append((k, cols.d_col[neurons], d_coef))
        for r, c, v in parts:
            self._trip_r.append(r + r0)
            self._trip_c.append(c)
            self._trip_v.append(v)
        self.n_rows += neurons.size
        self.row_lo.append(row_lo)
        self.row_hi.append(row_hi)

    def _add_l1_ball(self, l1_ball: tuple[np.ndarray, float]) -> None:
        """``t_i >= |x_i - c_i|`` and ``sum t_i <= eps``: the exact ℓ1 ball, with ``t`` appended last."""
        n_in = self.n_in
        centre, eps = np.asarray(l1_ball[0], dtype=np.float64).ravel(), float(l1_ball[1])
        t = self.n_vars + np.arange(n_in)
        xs = np.arange(n_in)
        r0 = self.n_rows
        k = np.arange(n_in)
        for sign in (1.0, -1.0):  # t - sign * x >= -sign * c
            self._trip_r += [r0 + k, r0 + k]
            self._trip_c += [t, xs]
            self._trip_v += [np.ones(n_in), np.full(n_in, -sign)]
            self.row_lo.append(-sign * centre)
            self.row_hi.append(np.full(n_in, np.inf))
            r0 += n_in
        self._trip_r.append(np.full(n_in, r0))
        self._trip_c.append(t)
        self._trip_v.append(np.ones(n_in))
        self.row_lo.append(np.array([-np.inf]))
        self.row_hi.append(np.array([eps]))
        self.n_rows = r0 + 1
        self._var_lo.append(np.zeros(n_in))
        self._var_hi.append(np.full(n_in, eps))
        self._integrality.append(np.zeros(n_in))
        self.n_vars += n_in

    def _assemble(self) -> None:
        self.var_lo = np.concatenate(self._var_lo)
        self.var_hi = np.concatenate(self._var_hi)
        self.integrality = np.concatenate(self._integrality)
        empty = [np.zeros(0)]
        self.matrix = sp.csr_matrix(
            (np.concatenate(self._trip_v or empty), (np.concatenate(self._trip_r or empty).astype(np.int64),
                                                     np.concatenate(self._trip_c or empty).astype(np.int64))),
            shape=(self.n_rows, self.n_vars))

    def solve_target(self, coeff: np.ndarray, const: float, time_limit: float,
                     first_solution: bool) -> tuple[Any, float]:
        """Minimise ``coeff @ a_last + const`` subject to it being <= 0."""
        c = np.zeros(self.n_vars)
        c[self.last_cols] = coeff[self.last_keep]
        cut = sp.csr_matrix(c[None, :])
        constraints = [LinearConstraint(sp.vstack([self.matrix, cut], format="csr"),
                                        np.concatenate(self.row_lo + [np.array([-np.inf])]),
                                        np.concatenate(self.row_hi + [np.array([-const])]))]
        options = {"time_limit": max(time_limit, 0.01), "disp": False, "presolve": True}
        if first_solution:
            # Any point of the cut-off problem is a counterexample: stop at the first one.
            options["mip_rel_gap"] = 1e9
        start = time.perf_counter()
        res = milp(c, constraints=constraints, integrality=self.integrality,
                   bounds=Bounds(self.var_lo, self.var_hi), options=options)
        return res, time.perf_counter() - start


def _toward_centre_float32(x: np.ndarray, centre: np.ndarray, eps: float) -> np.ndarray:
    """``x`` (in the ℓ1 ball) as float32, each coordinate rounded towards the float32 centre so the
    rounded point stays in the ball; scaled in first if the solver's tolerance left it outside."""
    d = x - centre
    norm = np.abs(d).sum()
    if norm > eps:
        d *= eps / norm
    w = (centre + d).astype(np.float32)
    back = np.abs(w.astype(np.float64) - centre) > np.abs(d)
    w[back] = np.nextafter(w[back], centre[back].astype(np.float32))
    return w


def verify_box(net: AffineReluNet, lo: np.ndarray, hi: np.ndarray, label: int,
               replay: Callable[[np.ndarray], np.ndarray], time_limit: float = 60.0,
               bound_method: str = "crown", replay_tolerance: float = 1e-4,
               num_classes: int | None = None,
               l1_ball: tuple[np.ndarray, float] | None = None) -> BoxResult:
    """Decide whether ``label`` stays the argmax of ``net`` on ``[lo, hi]`` (flat float64 arrays
    with ``0 <= lo <= hi <= 1``), intersected with the ℓ1 ball ``l1_ball = (centre, eps)`` when given
    (the centre must be float32 values and the box must contain the ball ∩ [0, 1]).

    ``replay(x32)`` runs the real (float32 torch) model on a flat float32 point and returns its
    logits; every counterexample is checked with it before it is reported. The steps, cheapest
    first: replay the centre; CROWN's margin bounds; (ℓ∞) replay CROWN's worst vertices; one MILP
    per class CROWN left open.
    """
    search = _BoxSearch(net, lo, hi, label, replay, replay_tolerance, num_classes, l1_ball)
    centre = (search.lo + search.hi) / 2.0 if l1_ball is None else np.asarray(l1_ball[0], dtype=np.float64)
    if search.replays(centre):
        return search.finish("not_certified", message="the centre of the box is misclassified")
    open_targets, margins = search.bound_margins(bound_method)
    if not open_targets:
        return search.finish("certified", certified_by="crown")
    if l1_ball is None and search.vertex_counterexample(margins, [j for _, j in open_targets]):
        return search.finish("not_certified", message="counterexample at a vertex of CROWN's bound")
    bounds = preactivation_bounds(net, search.lo, search.hi, bound_method, search.l1)
    return search.solve_milps(MilpProblem(net, search.lo, search.hi, bounds, l1_ball), open_targets, time_limit)


class _BoxSearch:
    """The state of one :func:`verify_box` call: the box, the replay check, the result so far."""

    def __init__(self, net: AffineReluNet, lo, hi, label: int, replay: Callable[[np.ndarray], np.ndarray],
                 replay_tolerance: float, num_classes: int | None, l1_ball: tuple[np.ndarray, float] | None):
        self.start = time.perf_counter()
        self.net, self.label, self.replay, self.tolerance, self.l1_ball = net, label, replay, replay_tolerance, l1_ball
        self.lo = np.asarray(lo, dtype=np.float64).ravel()
        self.hi = np.asarray(hi, dtype=np.float64).ravel()
        self.l1 = None if l1_ball is None else (np.asarray(l1_ball[0], dtype=np.float64).ravel(), float(l1_ball[1]))
        n_out = net.weights[-1].shape[0] if num_classes is None else num_classes
        self.targets = [j for j in range(n_out) if j != label]
        self.result = BoxResult(status="error", seconds=0.0, label=label)

    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    def finish(self, status: str, **kw: Any) -> BoxResult:
        self.result.status = status
        for k, v in kw.items():
            setattr(self.result, k, v)
        self.result.seconds = self.elapsed()
        return self.result

    def replays(self, x: np.ndarray) -> bool:
        """Whether ``x``, rounded to a float32 point of the input set, is a counterexample in the
        real model (the witness is then recorded)."""
        if self.l1_ball is not None:
            w = _toward_centre_float32(np.clip(x, self.lo, self.hi), self.l1_ball[0].astype(np.float64), self.l1_ball[1])
        else:
            w = _inside_float32(x, self.lo, self.hi)
        logits = np.asarray(self.replay(w), dtype=np.float64)
        margins = logits[self.label] - np.delete(logits, self.label)
        worst = int(np.argmin(margins))
        if margins[worst] <= self.tolerance:
            self.result.witness, self.result.witness_margin = w, float(margins[worst])
            self.result.witness_class = self.targets[worst]
            return True
        return False

    def bound_margins(self, bound_method: str) -> tuple[list[tuple[float, int]], MarginBound]:
        """CROWN's margin bounds; the classes it proves are recorded, the open ones returned as
        ``(lower bound, class)``, weakest first."""
        margins = margin_bound(self.net, self.lo, self.hi, self.label, self.targets, bound_method, self.l1)
        open_targets = []
        for j, lb in zip(self.targets, margins.lower, strict=True):
            if lb > 0:
                self.result.targets.append(TargetResult(j, "crown", crown_lower=float(lb)))
            else:
                open_targets.append((float(lb), j))
        return sorted(open_targets), margins

    def vertex_counterexample(self, margins: MarginBound, order: list[int]) -> bool:
        """CROWN's own worst vertices, replayed: finds easy counterexamples for free."""
        vertices = margins.minimisers(self.lo, self.hi)
        return any(self.replays(vertices[self.targets.index(j)]) for j in order)

    def solve_milps(self, problem: MilpProblem, open_targets: list[tuple[float, int]], time_limit: float) -> BoxResult:
        self.result.unstable = problem.unstable
        coeffs, consts = margin_matrix(self.net, self.label, [j for _, j in open_targets])
        timed_out = False
        for (lb, j), coeff, const in zip(open_targets, coeffs, consts, strict=True):
            remaining = time_limit - self.elapsed()
            tr = TargetResult(j, "timeout" if remaining <= 0 else "error", crown_lower=lb)
            self.result.targets.append(tr)
            if remaining <= 0:
                timed_out = True
                continue
            verdict = self._solve_target(problem, tr, coeff, float(const), remaining, time_limit)
            if isinstance(verdict, BoxResult):
                return verdict
            timed_out |= verdict
        if timed_out:
            return self.finish("timeout", message=f"time limit {time_limit:g} s reached")
        return self.finish("certified", certified_by="milp")

    def _solve_target(self, problem: MilpProblem, tr: TargetResult, coeff: np.ndarray, const: float,
                      remaining: float, time_limit: float) -> BoxResult | bool:
        """One class's cut-off MILP: the finished result when it decides the box (a counterexample,
        an error), else whether it ran out of time (False: proved)."""
        res, tr.seconds = problem.solve_target(coeff, const, remaining, first_solution=True)
        tr.dual_bound = _dual_bound(res, const)
        if res.x is not None:
            tr.objective = float(res.fun + const)
            if self.replays(res.x[: problem.n_in]):
                tr.outcome = "counterexample"
                return self.finish("not_certified", certified_by=None)
            return self._best_candidate(problem, tr, coeff, const, time_limit)
        if res.status == INFEASIBLE:
            tr.outcome = "proved"
            return False
        if res.status == TIME_LIMIT:
            tr.outcome = "timeout"
            return True
        tr.message = str(res.message)
        return self.finish("error", message=f"class {tr.target}: HiGHS: {res.message}")

    def _best_candidate(self, problem: MilpProblem, tr: TargetResult, coeff: np.ndarray, const: float,
                        time_limit: float) -> BoxResult | bool:
        """The first point HiGHS found sits too close to the cut-off to replay; the most violating
        point is the best candidate left."""
        res, secs = problem.solve_target(coeff, const, time_limit - self.elapsed(), first_solution=False)
        tr.seconds += secs
        if res.x is not None:
            tr.objective = float(res.fun + const)
            if self.replays(res.x[: problem.n_in]):
                tr.outcome = "counterexample"
                return self.finish("not_certified")
        if res.status == INFEASIBLE or (res.x is not None and res.status == OPTIMAL):
            tr.outcome = "error"
            tr.message = (f"MILP optimum {tr.objective!r} <= 0 does not replay in torch "
                          f"(margin above {self.tolerance})")
            return self.finish("error", message=f"class {tr.target}: {tr.message}")
        tr.outcome = "timeout"
        return True


def _dual_bound(res: Any, const: float) -> float | None:
    if res.status == INFEASIBLE:
        return float("inf")
    bound = getattr(res, "mip_dual_bound", None)
    if bound is None or not np.isfinite(bound):
        return None
    return float(bound + const)
