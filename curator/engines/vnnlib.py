"""Read VNN-LIB robustness properties (the VNN-COMP format, plain or ``.vnnlib.gz``).

Curator understands the shape every classification-robustness instance uses: a box on the inputs
(``(assert (<= X_i c))`` / ``(assert (>= X_i c))``) and one output assertion that is the
*negation* of "class y stays the argmax":

    (assert (or (and (>= Y_0 Y_y)) (and (>= Y_1 Y_y)) ...))   ; one disjunct per j != y

A model satisfying the file is a counterexample, so "unsat" means robust. Anything else (other
output constraints, several boxes, non-constant input bounds) is refused with an error naming the
file, rather than read approximately.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from curator.api import CuratorError
from curator.api.files import read_capped

MAX_VNNLIB_BYTES = 64 * 1024 * 1024

__all__ = ["VnnlibError", "RobustnessProperty", "read_vnnlib", "parse_vnnlib"]


class VnnlibError(CuratorError):
    """The VNN-LIB file is malformed or states a property curator does not handle."""


@dataclass
class RobustnessProperty:
    """Input box ``lower <= x <= upper`` (flat, in the order of ``X_0, X_1, …``) and the class
    ``label`` that must stay the argmax of the ``num_outputs`` outputs."""

    lower: np.ndarray  # float64 [n_inputs], exactly the decimal constants of the file
    upper: np.ndarray
    label: int
    num_outputs: int

    def linf_ball(self) -> tuple[np.ndarray, float]:
        """A centre and radius whose ℓ∞ ball ∩ [0, 1] is this box (up to float rounding), when the
        box is one: the radius is the largest half-width; clipped coordinates are recovered from
        the unclipped side. Raises :class:`VnnlibError` when the box is not such a ball."""
        half = (self.upper - self.lower) / 2.0
        eps = float(half.max())
        centre = (self.lower + self.upper) / 2.0
        low_clip = self.lower <= 0.0
        high_clip = self.upper >= 1.0
        centre = np.where(low_clip & ~high_clip, self.upper - eps, centre)
        centre = np.where(high_clip & ~low_clip, self.lower + eps, centre)
        centre = np.clip(centre, 0.0, 1.0)
        rebuilt_lo = np.maximum(centre - eps, 0.0)
        rebuilt_hi = np.minimum(centre + eps, 1.0)
        if not (np.allclose(rebuilt_lo, self.lower, atol=1e-6) and np.allclose(rebuilt_hi, self.upper, atol=1e-6)):
            raise VnnlibError("the input box is not an l-inf ball clipped to [0, 1]")
        return centre, eps


_TOKEN = re.compile(r"\(|\)|[^\s()]+")
# Real properties nest a handful of levels ((assert (or (and (>= Y_1 Y_0))))); a deeper file is
# refused while parsing, before anything (repr, error messages) could recurse through it.
MAX_SEXPR_DEPTH = 64


def _show(expr) -> str:
    text = repr(expr)
    return text if len(text) <= 200 else text[:200] + "…"


def _parse_sexprs(text: str, name: str) -> list:
    text = "\n".join(line.split(";", 1)[0] for line in text.splitlines())
    stack: list[list] = [[]]
    for tok in _TOKEN.findall(text):
        if tok == "(":
            if len(stack) > MAX_SEXPR_DEPTH:
                raise VnnlibError(f"{name}: parentheses nest deeper than {MAX_SEXPR_DEPTH} levels "
                                  "(no VNN-LIB property needs that)")
            stack.append([])
        elif tok == ")":
            if len(stack) == 1:
                raise VnnlibError(f"{name}: unbalanced ')'")
            done = stack.pop()
            stack[-1].append(done)
        else:
            stack[-1].append(tok)
    if len(stack) != 1:
        raise VnnlibError(f"{name}: unbalanced '('")
    return stack[0]


def _var(tok, prefix: str) -> int | None:
    if isinstance(tok, str) and tok.startswith(prefix) and tok[len(prefix):].isdigit():
        return int(tok[len(prefix):])
    return None


def _number(tok, name: str) -> float:
    try:
        return float(tok)
    except (TypeError, ValueError):
        raise VnnlibError(f"{name}: expected a number, got {_show(tok)}") from None


def parse_vnnlib(text: str, name: str = "<vnnlib>") -> RobustnessProperty:
    """Parse VNN-LIB text; see the module docstring for the accepted shape."""
    exprs = _parse_sexprs(text, name)
    n_x = n_y = 0
    bounds: dict[int, list[float]] = {}
    output_expr = None
    for e in exprs:
        if not isinstance(e, list) or not e:
            raise VnnlibError(f"{name}: unexpected top-level token {_show(e)}")
        if e[0] == "declare-const":
            if len(e) != 3 or e[2] != "Real":
                raise VnnlibError(f"{name}: unsupported declaration {_show(e)}")
            if (i := _var(e[1], "X_")) is not None:
                n_x = max(n_x, i + 1)
            elif (i := _var(e[1], "Y_")) is not None:
                n_y = max(n_y, i + 1)
            else:
                raise VnnlibError(f"{name}: variable {_show(e[1])} is neither X_i nor Y_i")
        elif e[0] == "assert":
            if len(e) != 2:
                raise VnnlibError(f"{name}: malformed assert {_show(e)}")
            body = e[1]
            if isinstance(body, list) and len(body) == 3 and body[0] in ("<=", ">="):
                i = _var(body[1], "X_")
                if i is not None and _var(body[2], "X_") is None and _var(body[2], "Y_") is None:
                    slot = bounds.setdefault(i, [-np.inf, np.inf])
                    value = _number(body[2], name)
                    if body[0] == "<=":
                        slot[1] = min(slot[1], value)
                    else:
                        slot[0] = max(slot[0], value)
                    continue
            if output_expr is not None:
                raise VnnlibError(f"{name}: more than one output assertion")
            output_expr = body
        else:
            raise VnnlibError(f"{name}: unsupported command {_show(e[0])}")

    if n_x == 0 or n_y < 2:
        raise VnnlibError(f"{name}: needs input variables X_i and at least two outputs Y_i")
    missing = [i for i in range(n_x) if i not in bounds or not np.all(np.isfinite(bounds[i]))]
    if missing:
        raise VnnlibError(f"{name}: inputs without both bounds: X_{missing[0]} (and {len(missing) - 1} more)")
    lower = np.array([bounds[i][0] for i in range(n_x)], dtype=np.float64)
    upper = np.array([bounds[i][1] for i in range(n_x)], dtype=np.float64)
    if np.any(lower > upper):
        raise VnnlibError(f"{name}: empty input box (a lower bound exceeds its upper bound)")
    label = _robustness_label(output_expr, n_y, name)
    return RobustnessProperty(lower=lower, upper=upper, label=label, num_outputs=n_y)


def _robustness_label(expr, n_y: int, name: str) -> int:
    """y from ``(or (and (>= Y_j Y_y)) …)`` over all j != y (a lone ``(>= Y_j Y_y)`` for 2 classes)."""
    if expr is None:
        raise VnnlibError(f"{name}: no output assertion")
    disjuncts = expr[1:] if isinstance(expr, list) and expr and expr[0] == "or" else [expr]
    pairs = []
    for d in disjuncts:
        if isinstance(d, list) and len(d) == 2 and d[0] == "and":
            d = d[1]
        ok = isinstance(d, list) and len(d) == 3 and d[0] in (">=", "<=")
        a, b = (_var(d[1], "Y_"), _var(d[2], "Y_")) if ok else (None, None)
        if a is None or b is None:
            raise VnnlibError(f"{name}: output constraint {_show(d)} is not a comparison of two outputs; only "
                              "'true class stays the argmax' properties are supported")
        other, true = (a, b) if d[0] == ">=" else (b, a)
        pairs.append((other, true))
    trues = {t for _, t in pairs}
    if len(trues) != 1:
        raise VnnlibError(f"{name}: output constraints compare against several classes {sorted(trues)}")
    label = trues.pop()
    others = sorted(o for o, _ in pairs)
    if others != [j for j in range(n_y) if j != label]:
        raise VnnlibError(f"{name}: output constraints do not cover every class other than {label}")
    return label


def read_vnnlib(path: str | Path) -> RobustnessProperty:
    """Read a ``.vnnlib`` or ``.vnnlib.gz`` file (size-capped)."""
    raw, name = read_capped(path, MAX_VNNLIB_BYTES, VnnlibError, "vnnlib text")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise VnnlibError(f"{name}: not UTF-8 text") from exc
    return parse_vnnlib(text, name)
