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
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import scipy.sparse as sp
from scipy.optimize import Bounds, LinearConstraint, milp

from .network import AffineReluNet, crown_minimisers, margin_lower_bounds, margin_matrix, preactivation_bounds

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


class MilpProblem:
    """The shared part of the encoding (variables, ReLU constraints) for one box."""

    def __init__(self, net: AffineReluNet, lo: np.ndarray, hi: np.ndarray,
                 bounds: list[tuple[np.ndarray, np.ndarray]],
                 l1_ball: tuple[np.ndarray, float] | None = None):
        self.net = net
        n_in = lo.size
        var_lo: list[np.ndarray] = [lo.astype(np.float64)]
        var_hi: list[np.ndarray] = [hi.astype(np.float64)]
        integrality: list[np.ndarray] = [np.zeros(n_in)]
        trip_r: list[np.ndarray] = []
        trip_c: list[np.ndarray] = []
        trip_v: list[np.ndarray] = []
        self.n_rows = 0
        row_lo: list[np.ndarray] = []
        row_hi: list[np.ndarray] = []
        n_vars = n_in
        prev_cols = np.arange(n_in)  # columns of the previous layer's kept outputs
        prev_keep = np.ones(n_in, dtype=bool)
        self.unstable = 0
        for i, (l, u) in enumerate(bounds):
            w = net.weights[i][:, np.flatnonzero(prev_keep)].tocsr()
            b = net.biases[i]
            active = l >= 0
            unstable = (l < 0) & (u > 0)
            keep = active | unstable
            k_act, k_uns = np.flatnonzero(active), np.flatnonzero(unstable)
            n_keep = int(keep.sum())
            n_uns = k_uns.size
            self.unstable += n_uns
            a_col = np.full(l.size, -1)
            a_col[keep] = n_vars + np.arange(n_keep)
            d_col = np.full(l.size, -1)
            d_col[unstable] = n_vars + n_keep + np.arange(n_uns)
            var_lo.append(np.concatenate([np.maximum(l[keep], 0.0), np.zeros(n_uns)]))
            var_hi.append(np.concatenate([u[keep], np.ones(n_uns)]))
            integrality.append(np.concatenate([np.zeros(n_keep), np.ones(n_uns)]))
            n_new = n_keep + n_uns

            def block(neurons: np.ndarray, d_coef: np.ndarray | None, w_sign: float) -> None:
                # rows: w_sign * W[neurons] @ prev + a[neurons] + d_coef * d[neurons]
                r0 = self.n_rows
                wp = (w[neurons] * w_sign).tocoo()
                k = np.arange(neurons.size)
                parts = [(k, a_col[neurons], np.ones(neurons.size))]
                if w_sign != 0.0:
                    parts.append((wp.row, prev_cols[wp.col], wp.data))
                if d_coef is not None:
                    parts.append((k, d_col[neurons], d_coef))
                for r, c, v in parts:
                    trip_r.append(r + r0); trip_c.append(c); trip_v.append(v)
                self.n_rows += neurons.size

            # stably active: a - W prev = b
            if k_act.size:
                block(k_act, None, -1.0)
                row_lo.append(b[k_act]); row_hi.append(b[k_act])
            if n_uns:
                lu, uu, bu = l[k_uns], u[k_uns], b[k_uns]
                block(k_uns, None, -1.0)  # a - W prev >= b
                row_lo.append(bu); row_hi.append(np.full(n_uns, np.inf))
                block(k_uns, -lu, -1.0)  # a - W prev - l d <= b - l
                row_lo.append(np.full(n_uns, -np.inf)); row_hi.append(bu - lu)
                block(k_uns, -uu, 0.0)  # a - u d <= 0
                row_lo.append(np.full(n_uns, -np.inf)); row_hi.append(np.zeros(n_uns))
            prev_cols = n_vars + np.arange(n_keep)
            prev_keep = keep
            n_vars += n_new
        if l1_ball is not None:
            # t_i >= |x_i - c_i| and sum t_i <= eps: the exact ℓ1 ball, with t appended last.
            centre, eps = np.asarray(l1_ball[0], dtype=np.float64).ravel(), float(l1_ball[1])
            t = n_vars + np.arange(n_in)
            xs = np.arange(n_in)
            r0 = self.n_rows
            k = np.arange(n_in)
            for sign in (1.0, -1.0):  # t - sign * x >= -sign * c
                trip_r += [r0 + k, r0 + k]; trip_c += [t, xs]; trip_v += [np.ones(n_in), np.full(n_in, -sign)]
                row_lo.append(-sign * centre); row_hi.append(np.full(n_in, np.inf))
                r0 += n_in
            trip_r.append(np.full(n_in, r0)); trip_c.append(t); trip_v.append(np.ones(n_in))
            row_lo.append(np.array([-np.inf])); row_hi.append(np.array([eps]))
            self.n_rows = r0 + 1
            var_lo.append(np.zeros(n_in)); var_hi.append(np.full(n_in, eps))
            integrality.append(np.zeros(n_in))
            n_vars += n_in
        self.n_vars = n_vars
        self.last_cols = prev_cols
        self.last_keep = np.flatnonzero(prev_keep)
        self.var_lo = np.concatenate(var_lo)
        self.var_hi = np.concatenate(var_hi)
        self.integrality = np.concatenate(integrality)
        empty = [np.zeros(0)]
        self.matrix = sp.csr_matrix(
            (np.concatenate(trip_v or empty), (np.concatenate(trip_r or empty).astype(np.int64),
                                               np.concatenate(trip_c or empty).astype(np.int64))),
            shape=(self.n_rows, n_vars))
        self.row_lo, self.row_hi = row_lo, row_hi
        self.n_in = n_in

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
    """Decide whether ``label`` stays the argmax of ``net`` on ``[lo, hi]`` (flat float64 arrays),
    intersected with the ℓ1 ball ``l1_ball = (centre, eps)`` when given (the centre must be float32
    values and the box must contain the ball ∩ [0, 1]).

    ``replay(x32)`` runs the real (float32 torch) model on a flat float32 point and returns its
    logits; every counterexample is checked with it before it is reported.
    """
    start = time.perf_counter()
    lo = np.asarray(lo, dtype=np.float64).ravel()
    hi = np.asarray(hi, dtype=np.float64).ravel()
    n_out = net.weights[-1].shape[0] if num_classes is None else num_classes
    targets = [j for j in range(n_out) if j != label]
    result = BoxResult(status="error", seconds=0.0, label=label)

    def finish(status: str, **kw: Any) -> BoxResult:
        result.status = status
        for k, v in kw.items():
            setattr(result, k, v)
        result.seconds = time.perf_counter() - start
        return result

    def check_witness(x: np.ndarray) -> bool:
        if l1_ball is not None:
            w = _toward_centre_float32(np.clip(x, lo, hi), l1_ball[0].astype(np.float64), l1_ball[1])
        else:
            w = _inside_float32(x, lo, hi)
        logits = np.asarray(replay(w), dtype=np.float64)
        margins = logits[label] - np.delete(logits, label)
        worst = int(np.argmin(margins))
        if margins[worst] <= replay_tolerance:
            result.witness, result.witness_margin = w, float(margins[worst])
            result.witness_class = targets[worst]
            return True
        return False

    # Quick refutation: the box centre and the clean point may already be counterexamples.
    if check_witness((lo + hi) / 2.0 if l1_ball is None else np.asarray(l1_ball[0], dtype=np.float64)):
        return finish("not_certified", message="the centre of the box is misclassified")

    l1 = None if l1_ball is None else (np.asarray(l1_ball[0], dtype=np.float64).ravel(), float(l1_ball[1]))
    bounds = preactivation_bounds(net, lo, hi, bound_method, l1)
    crown = margin_lower_bounds(net, lo, hi, label, targets, bounds, l1)
    open_targets = []
    for j, lb in zip(targets, crown):
        if lb > 0:
            result.targets.append(TargetResult(j, "crown", crown_lower=float(lb)))
        else:
            open_targets.append((float(lb), j))
    if not open_targets:
        return finish("certified", certified_by="crown")

    if l1_ball is None:  # CROWN's own worst vertices, replayed: finds easy counterexamples for free
        order = [j for _, j in sorted(open_targets)]
        for vertex in crown_minimisers(net, lo, hi, label, order, bounds):
            if check_witness(vertex):
                return finish("not_certified", message="counterexample at a vertex of CROWN's bound")
    problem = MilpProblem(net, lo, hi, bounds, l1_ball)
    result.unstable = problem.unstable
    coeffs, consts = margin_matrix(net, label, [j for _, j in sorted(open_targets)])
    timed_out = False
    for (lb, j), coeff, const in zip(sorted(open_targets), coeffs, consts):
        remaining = time_limit - (time.perf_counter() - start)
        if remaining <= 0:
            result.targets.append(TargetResult(j, "timeout", crown_lower=lb))
            timed_out = True
            continue
        tr = TargetResult(j, "error", crown_lower=lb)
        result.targets.append(tr)
        res, secs = problem.solve_target(coeff, float(const), remaining, first_solution=True)
        tr.seconds = secs
        tr.dual_bound = _dual_bound(res, const)
        if res.x is not None:
            tr.objective = float(res.fun + const)
            if check_witness(res.x[: problem.n_in]):
                tr.outcome = "counterexample"
                return finish("not_certified", certified_by=None)
            # The first point HiGHS found sits too close to the cut-off to replay; the most
            # violating point is the best candidate left.
            remaining = time_limit - (time.perf_counter() - start)
            res2, secs2 = problem.solve_target(coeff, float(const), remaining, first_solution=False)
            tr.seconds += secs2
            if res2.x is not None:
                tr.objective = float(res2.fun + const)
                if check_witness(res2.x[: problem.n_in]):
                    tr.outcome = "counterexample"
                    return finish("not_certified")
            if res2.status == INFEASIBLE or (res2.x is not None and res2.status == OPTIMAL):
                tr.outcome = "error"
                tr.message = (f"MILP optimum {tr.objective!r} <= 0 does not replay in torch "
                              f"(margin above {replay_tolerance})")
                return finish("error", message=f"class {j}: {tr.message}")
            tr.outcome = "timeout"
            timed_out = True
            continue
        if res.status == INFEASIBLE:
            tr.outcome = "proved"
        elif res.status == TIME_LIMIT:
            tr.outcome = "timeout"
            timed_out = True
        else:
            tr.message = str(res.message)
            return finish("error", message=f"class {j}: HiGHS: {res.message}")
    if timed_out:
        return finish("timeout", message=f"time limit {time_limit:g} s reached")
    return finish("certified", certified_by="milp")


def _dual_bound(res: Any, const: float) -> float | None:
    if res.status == INFEASIBLE:
        return float("inf")
    bound = getattr(res, "mip_dual_bound", None)
    if bound is None or not np.isfinite(bound):
        return None
    return float(bound + const)
