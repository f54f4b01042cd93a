"""``curator benchmark``: every installed verifier on a fixed model zoo, side by side.

A *suite* (schema ``suite/v1``) names models (the entry's ``model`` block: artifact URL + sha256,
format, architecture, normalisation, input shape, classes), a dataset and sample selection, an ε
grid per model, the verifiers with their params and a per-instance time limit. Running it gives,
for every (model, ε, verifier), per-sample outcomes from which certified accuracy, mean time per
instance and timeouts are recomputed; the reference rows clean accuracy and attacked accuracy
(the PGD upper bound); and per-sample certified radii (see :func:`search_radii`).

Soundness is cross-checked between methods on the same samples. A sample is flagged when a
verifier certified it (prediction p constant on the threat set) and

- the attack produced a witness inside the same threat set that curator replays and that the
  model does not classify as p, or
- another verifier answered ``not_certified`` with a counterexample (``extra["witness"]``, replayed
  by curator) that the model does not classify as p — whichever verifier it is, bundled or not, or
- the attack, run at the sample's bisection radius, found such a witness inside that radius.

Smoothing certificates are about the smoothed classifier, so attack witnesses on the base network
do not contradict them: smoothing is excluded from the cross-check (noted in the result).

Suite strings may use ``${CURATOR_SHARED}`` (from ``--shared`` or the environment) and
``${SUITE_DIR}`` (the folder of the suite file); ``file://`` URLs are then absolute. Suites are
written by maintainers, not submitters: their files may point anywhere on the machine, unlike a
claim's model URL (see :func:`curator.verify.pipeline.resolve_model_url`).
"""

from __future__ import annotations

import os
import re
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from curator.api import Attack, Method, SampleResult, Verifier, VerifyTask, params_with_defaults
from curator.benchmark.result import RESULT_VERSION, summarize_result
from curator.core.errors import CuratorError
from curator.core.jsonio import canonical_bytes, read_json, sha256_bytes
from curator.core.radius import parse_radius
from curator.core.schemas import SUITE_SCHEMA_ID, validate, validate_with, validator_for_schema
from curator.core.stats import DEFAULT_CONFIDENCE
from curator.engines.numerics import with_strict_float32
from curator.engines.witness import replayed_class
from curator.verify.batch import replay_attack, run_batch
from curator.verify.report import environment, now_iso, sample_arrays

_VAR = re.compile(r"\$\{([A-Z_]+)\}")
ProgressFactory = Callable[[int, str], "Callable[[int], None] | None"]


class BenchmarkError(CuratorError):
    pass


@dataclass
class BenchOptions:
    shard: tuple[int, int] = (0, 1)  # 0-based index, count
    shared: Path | None = None  # value of ${CURATOR_SHARED}
    device: str = "auto"
    cache_dir: Path | None = None
    samples: int | None = None  # keep only the first N selected samples of every model
    batch_size: int = 64
    models: tuple[str, ...] = ()  # run only these model ids (empty: all)
    verifiers: tuple[str, ...] = ()  # run only these verifier labels (empty: all)
    progress: bool = True
    confidence: float = DEFAULT_CONFIDENCE


@dataclass
class Suite:
    path: Path
    raw: dict[str, Any]  # as written (hashed)
    data: dict[str, Any]  # ${…} expanded
    sha256: str
    notes: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------- the suite file


def _expand(value: Any, variables: dict[str, str | None], file: Path, where: str = "") -> Any:
    if isinstance(value, str):
        def sub(m: re.Match) -> str:
            name = m.group(1)
            if name not in variables:
                raise BenchmarkError(f"{file}: {where or '/'}: unknown variable ${{{name}}} (known: CURATOR_SHARED, SUITE_DIR)")
            got = variables[name]
            if got is None:
                raise BenchmarkError(f"{file}: {where or '/'}: ${{{name}}} is used but not set (pass --shared DIR or set {name})")
            return got
        return _VAR.sub(sub, value)
    if isinstance(value, dict):
        return {k: _expand(v, variables, file, f"{where}/{k}") for k, v in value.items()}
    if isinstance(value, list):
        return [_expand(v, variables, file, f"{where}/{i}") for i, v in enumerate(value)]
    return value


def load_suite(path: str | Path, registry: Any, shared: Path | None = None) -> Suite:
    """The suite, schema-valid, variables expanded, every verifier installed and its params valid."""
    path = Path(path)
    raw = read_json(path)
    problems = validate(raw, SUITE_SCHEMA_ID)
    if problems:
        lines = "\n  ".join(f"{path}: {ptr or '/'}: {msg}" for ptr, msg in problems[:20])
        raise BenchmarkError(f"{path} is not a valid suite:\n  {lines}")
    shared_value = str(shared) if shared is not None else os.environ.get("CURATOR_SHARED")
    # The value lands inside file:// URLs, which have no notion of a working directory.
    shared_value = str(Path(shared_value).resolve()) if shared_value else None
    variables = {"CURATOR_SHARED": shared_value,
                 "SUITE_DIR": str(path.resolve().parent)}
    data = _expand(raw, variables, path)
    installed = set(registry.names("verifier"))
    methods = list(data["verifiers"]) + ([data["attack"]] if data.get("attack") else [])
    labels: set[str] = set()
    for i, m in enumerate(data["verifiers"]):
        label = m.get("label") or m["name"]
        if label in labels:
            raise BenchmarkError(f"{path}: /verifiers/{i}: label {label!r} is used twice")
        labels.add(label)
    for m in methods:
        if m["name"] not in installed:
            raise BenchmarkError(f"{path}: verifier {m['name']!r} is not installed (installed: "
                                 f"{', '.join(sorted(installed))})")
        plugin = registry.verifier(m["name"])
        errs = validate_with(validator_for_schema(plugin.params_schema), m.get("params") or {})
        if errs:
            detail = "; ".join(f"{p or '/'}: {msg}" for p, msg in errs[:5])
            raise BenchmarkError(f"{path}: params of {m['name']}: {detail}")
    # Each list takes its own kind: an attack's answers are no certificates, a verifier's no upper bound.
    lookups = [(f"/verifiers/{i}", registry.certifier, m["name"]) for i, m in enumerate(data["verifiers"])]
    lookups += [("/attack", registry.attack, data["attack"]["name"])] if data.get("attack") else []
    for where, lookup, name in lookups:
        try:
            lookup(name)
        except CuratorError as exc:
            raise BenchmarkError(f"{path}: {where}: {exc}") from None
    for i, m in enumerate(data["models"]):
        for j, eps in enumerate(m["epsilons"]):
            try:
                parse_radius(eps) if isinstance(eps, str) else float(eps)
            except ValueError as exc:
                raise BenchmarkError(f"{path}: /models/{i}/epsilons/{j}: {exc}") from None
        for name in m.get("verifiers") or []:
            if name not in labels:
                raise BenchmarkError(f"{path}: /models/{i}/verifiers: {name!r} is not one of the suite's verifiers")
    return Suite(path, raw, data, sha256_bytes(canonical_bytes(raw)))


def model_url(url: str) -> str:
    """Suite URLs: http(s) as they are; ``file://`` absolute after expansion (``file://./X`` is X
    relative to the working directory)."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme in ("http", "https"):
        return url
    if parts.scheme != "file":
        raise BenchmarkError(f"model url {url!r}: unsupported scheme (use http, https or file)")
    raw = urllib.parse.unquote(parts.netloc + parts.path) if parts.netloc not in ("", ".") else \
        urllib.parse.unquote(parts.path.lstrip("/") if parts.netloc == "." else parts.path)
    if parts.netloc and parts.netloc != "." and not raw.startswith("/"):
        raw = "/" + raw
    return "file://" + urllib.request.pathname2url(str(Path(raw).resolve()))


def parse_epsilons(values: list[Any]) -> list[tuple[float, str]]:
    out = []
    for v in values:
        if isinstance(v, str):
            out.append((parse_radius(v), v.replace(" ", "")))
        else:
            out.append((float(v), f"{float(v):g}"))
    return out


def select(selection: dict[str, Any] | None, n_total: int, limit: int | None) -> list[int]:
    from curator.core.sampling import select_indices

    selection = dict(selection or {"kind": "all"})
    if selection.get("kind") == "indices":
        idx = [int(i) for i in selection["indices"]]
        bad = [i for i in idx if not 0 <= i < n_total]
        if bad:
            raise BenchmarkError(f"selection index {bad[0]} is outside the {n_total}-image test set")
        return idx[:limit] if limit else idx
    return select_indices(selection, n_total, n=limit)


# --------------------------------------------------------------------------- running methods


@dataclass
class Ctx:
    model: Any
    x: Any  # [B, ...] on device
    y: Any  # [B]
    indices: list[int]
    norm: str
    num_classes: int
    device: str
    seed: int
    time_limit: float
    batch_size: int
    notes: list[str]


def run_method(plugin: Method, params: dict[str, Any], ctx: Ctx, radius: float, rows: list[int] | None = None,
               progress: Callable[[int], None] | None = None,
               radii: list[float] | None = None) -> list[SampleResult]:
    """Run one verifier/attack on the rows (all by default) at one radius; one result per row, in
    order, through :func:`curator.verify.batch.run_batch` (a plugin's failure is ``error``
    results, never a number).

    ``radii`` (one per row) replaces ``radius``: a verifier with ``per_sample_radius`` gets them
    in its tasks as ``VerifyTask.radii``; any other is called once per distinct radius."""
    import torch

    rows = list(range(len(ctx.indices))) if rows is None else rows
    if radii is not None:
        if len(radii) != len(rows):
            raise ValueError(f"{len(radii)} radii for {len(rows)} rows")
        if not plugin.per_sample_radius:
            groups: dict[float, list[int]] = {}
            for row, r in zip(rows, radii, strict=True):
                groups.setdefault(float(r), []).append(row)
            by_row: dict[int, SampleResult] = {}
            for r, group in groups.items():
                by_row.update(zip(group, run_method(plugin, params, ctx, r, rows=group, progress=progress), strict=True))
            return [by_row[row] for row in rows]
    out: list[SampleResult] = []
    for start in range(0, len(rows), ctx.batch_size):
        chunk = rows[start:start + ctx.batch_size]
        chunk_radii = None if radii is None else torch.tensor(radii[start:start + ctx.batch_size], dtype=torch.float64)
        at = float(radius) if chunk_radii is None else float(chunk_radii.max())
        task = VerifyTask(model=ctx.model, inputs=ctx.x[chunk], labels=ctx.y[chunk],
                          indices=[ctx.indices[r] for r in chunk], norm=ctx.norm, radius=at, params=params,
                          num_classes=ctx.num_classes, device=ctx.device, seed=ctx.seed, time_limit=ctx.time_limit,
                          progress=progress, radii=chunk_radii)
        where = f" at radius {at:g}" if chunk_radii is None else f" at radii {float(chunk_radii.min()):g}..{at:g}"
        out.extend(run_batch(plugin, task, ctx.notes, where))
    return out


def _cell(model_id: str, dataset: str, norm: str, radius: float, radius_text: str, method: dict[str, Any],
          results: list[SampleResult]) -> dict[str, Any]:
    # The result schema keeps no per-sample extras (witnesses and bounds stay in verify reports).
    samples = {k: v for k, v in sample_arrays(results).items() if k != "extra"}
    return {"model": model_id, "dataset": dataset, "norm": norm, "radius": radius, "radius_text": radius_text,
            "method": method, "samples": samples, "summary": {}}


def search_radii(plugin: Verifier, params: dict[str, Any], ctx: Ctx, rows: list[int], low: float, high: float,
                 tolerance: float, max_iterations: int, time_limit: float,
                 proven: list[float], refuted: list[float | None],
                 on_done: Callable[[int], None] | None = None) -> list[tuple[float, int, float, bool]]:
    """Bisection, per row, for the largest radius at which ``plugin`` certifies the row's sample
    correctly; one ``(radius, iterations, seconds, timed_out)`` per row.

    The returned radius is always one at which the verifier *did* certify the sample's correct
    class (or 0) — sound whatever the verifier's monotonicity. The search assumes monotonicity
    only to decide where to look: row k starts from ``[max(low, proven[k]), min(high, refuted[k])]``
    (``proven``: the largest grid ε already certified; ``refuted``: the smallest grid ε not
    certified) and halves its interval until it is at most ``tolerance`` wide, ``max_iterations``
    verifier calls were made, or ``time_limit`` seconds were spent on it. A timeout of one call
    counts as "not certified" at that radius.

    The rows advance in lockstep: each round is one :func:`run_method` call over every row still
    searching, each at its own mid-point, so a ``per_sample_radius`` verifier bounds them in
    batches. A row's seconds are its own verifier seconds plus an equal share of the round's
    overhead. ``on_done(k)`` is called as k rows finish.
    """
    n = len(rows)
    lo = [max(low, p) for p in proven]
    best = [float(p) for p in proven]
    hi = [high if r is None else min(high, r) for r in refuted]
    iterations, seconds, timed_out = [0] * n, [0.0] * n, [False] * n
    searching = list(range(n))
    while True:
        active, finished = [], 0
        for k in searching:
            if hi[k] - lo[k] <= tolerance or iterations[k] >= max_iterations:
                finished += 1
            elif seconds[k] > time_limit:
                timed_out[k] = True
                finished += 1
            else:
                active.append(k)
        if on_done and finished:
            on_done(finished)
        if not active:
            break
        searching = active
        mids = [(lo[k] + hi[k]) / 2 for k in active]
        t0 = time.monotonic()
        results = run_method(plugin, params, ctx, max(mids), rows=[rows[k] for k in active], radii=mids)
        wall = time.monotonic() - t0
        own = [max(0.0, float(r.seconds)) for r in results]
        overhead = max(0.0, wall - sum(own)) / len(active)
        for k, mid, res, sec in zip(active, mids, results, own, strict=True):
            iterations[k] += 1
            seconds[k] += sec + overhead
            if res.status == "certified" and res.predicted == int(ctx.y[rows[k]]):
                lo[k] = best[k] = mid
            else:
                hi[k] = mid
    return [(best[k], iterations[k], seconds[k], timed_out[k]) for k in range(n)]


def search_radius(plugin: Verifier, params: dict[str, Any], ctx: Ctx, row: int, low: float, high: float,
                  tolerance: float, max_iterations: int, time_limit: float,
                  proven: float, refuted: float | None) -> tuple[float, int, float, bool]:
    """:func:`search_radii` for one row: ``(radius, iterations, seconds, timed_out)``."""
    return search_radii(plugin, params, ctx, [row], low, high, tolerance, max_iterations, time_limit,
                        [proven], [refuted])[0]


# --------------------------------------------------------------------------- the run, stage by stage


def _method_block(kind: str, plugin: Method | None, label: str, params: dict[str, Any] | None) -> dict[str, Any]:
    if plugin is None:
        return {"kind": kind, "name": label, "label": label}
    return {"kind": kind, "name": plugin.name, "label": label, "version": plugin.version,
            "certification": plugin.certification, "params": params or {}}


@dataclass
class Plan:
    """The suite resolved against the installed plugins: what every model is run with."""

    suite: Suite
    attack: Attack | None
    attack_params: dict[str, Any]
    verifiers: list[tuple[str, Verifier, dict[str, Any]]]  # (label, verifier, params with defaults)
    radius_search: dict[str, Any]  # the suite's settings over the defaults
    seed: int
    notes: list[str]


@dataclass
class ModelRun:
    """One model of the suite, loaded, with this shard's samples and its clean predictions."""

    mid: str
    dataset: str
    block: dict[str, Any]  # the suite's model block, URL expanded
    ctx: Ctx
    pred: list[int]
    verifiers: list[tuple[str, Verifier, dict[str, Any]]]  # the plan's verifiers this model runs

    @property
    def n(self) -> int:
        return len(self.ctx.indices)


@dataclass
class Output:
    """What the run collects, model by model."""

    models: list[dict[str, Any]] = field(default_factory=list)
    cells: list[dict[str, Any]] = field(default_factory=list)
    radius_rows: list[dict[str, Any]] = field(default_factory=list)
    soundness: list[dict[str, Any]] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=lambda: {"load": 0.0, "attack": 0.0, "verify": 0.0,
                                                               "radius": 0.0})


def plan_run(suite: Suite, registry: Any, opts: BenchOptions) -> Plan:
    s = suite.data
    notes: list[str] = []
    attack_spec = s.get("attack", {"name": "pgd"}) if "attack" in s else {"name": "pgd"}
    attack: Attack | None = None
    attack_params: dict[str, Any] = {}
    if attack_spec:
        if attack_spec["name"] in registry.names("verifier"):
            attack = registry.attack(attack_spec["name"])
            attack_params = params_with_defaults(attack.params_schema, attack_spec.get("params"))
        else:
            notes.append(f"attack {attack_spec['name']!r} is not installed: no upper-bound row, no attack cross-check")
    for kind, wanted, known in (("model", opts.models, [m["id"] for m in s["models"]]),
                                ("verifier", opts.verifiers, [m.get("label") or m["name"] for m in s["verifiers"]])):
        unknown = [w for w in wanted if w not in known]
        if unknown:
            raise BenchmarkError(f"{suite.path}: no {kind} {unknown[0]!r} in the suite (known: {', '.join(known)})")
    verifiers = []
    for m in s["verifiers"]:
        label, plugin = m.get("label") or m["name"], registry.certifier(m["name"])
        if not opts.verifiers or label in opts.verifiers:
            verifiers.append((label, plugin, params_with_defaults(plugin.params_schema, m.get("params"))))
    rs = {"enabled": True, "low": 0.0, "high": 0.5, "tolerance": 0.001, "max_iterations": 12, "attack_check": True,
          **(s.get("radius_search") or {})}
    rs.setdefault("time_limit", 2 * float(s["time_limit"]))
    if any(v.certification == "probabilistic" for _, v, _ in verifiers):
        notes.append("smoothing certificates concern the smoothed classifier: attacks on the base network do not "
                     "contradict them, so they are left out of the soundness cross-check")
    return Plan(suite, attack, attack_params, verifiers, rs, int(s.get("seed", 0)), notes)


def load_model_run(spec: dict[str, Any], plan: Plan, registry: Any, opts: BenchOptions, device: str, cache: Path,
                   splits: dict[tuple, Any], out: Output) -> ModelRun:
    """Load one model and its shard of samples, record the model's block and its clean row."""
    import torch

    from curator.core.sampling import indices_sha256, shard
    from curator.verify.artifacts import fetch
    from curator.verify.models import load_model

    t0 = time.monotonic()
    s, mid = plan.suite.data, spec["id"]
    ds = {**s["dataset"], **(spec.get("dataset") or {})}
    if spec.get("dataset") and "selection" not in spec["dataset"]:
        ds["selection"] = s["dataset"].get("selection", {"kind": "all"})
    key = (ds["name"], ds.get("data_dir"))
    if key not in splits:
        data_dir = Path(ds["data_dir"]) if ds.get("data_dir") else None
        splits[key] = registry.dataset(ds["name"]).load(data_dir, cache, progress=opts.progress)
    split = splits[key]
    block = dict(spec["model"])
    block["url"] = model_url(block["url"])
    model = load_model(block, fetch(block["url"], block["sha256"], cache, progress=opts.progress), registry, device)
    selection = ds.get("selection") or {"kind": "all"}
    all_idx = select(selection, len(split), opts.samples)
    idx = shard(all_idx, *opts.shard)
    x, y = split.take(idx) if idx else (None, None)
    time_limit = float(spec.get("time_limit", s["time_limit"]))
    raw_url = next(m["model"]["url"] for m in plan.suite.raw["models"] if m["id"] == mid)  # as written: no paths
    out.models.append({
        "id": mid, **({"title": spec["title"]} if spec.get("title") else {}),
        **({"source": spec["source"]} if spec.get("source") else {}),
        "dataset": ds["name"], "norm": spec["norm"],
        "model": {"sha256": block["sha256"], "format": block["format"],
                  "architecture": (block.get("architecture") or {}).get("name", block["format"]), "url": raw_url},
        "selection": {**selection, **({"limit": opts.samples} if opts.samples else {})},
        "n_total": len(split), "indices_sha256": indices_sha256(all_idx), "time_limit": time_limit,
        **({"references": spec["references"]} if spec.get("references") else {}),
    })
    out.timings["load"] += time.monotonic() - t0
    if not idx:
        plan.notes.append(f"{mid}: shard {opts.shard[0] + 1}/{opts.shard[1]} holds no sample")
        # Still emit empty rows so shards merge row by row.
    x = x.to(device) if x is not None else torch.zeros((0, *block["input_shape"]), device=device)
    y = y.to(device) if y is not None else torch.zeros((0,), dtype=torch.long, device=device)
    ctx = Ctx(model, x, y, list(idx), spec["norm"], int(block["num_classes"]), device, plan.seed, time_limit,
              opts.batch_size, plan.notes)
    wanted = spec.get("verifiers")
    run = ModelRun(mid, ds["name"], block, ctx, [], [v for v in plan.verifiers if not wanted or v[0] in wanted])
    out.cells.append(clean_cell(run))
    return run


def clean_cell(run: ModelRun) -> dict[str, Any]:
    """The clean reference row (ε-independent; stored at radius 0); sets the run's predictions."""
    import torch

    ctx = run.ctx
    t_c = time.perf_counter()
    with torch.no_grad():
        run.pred = ctx.model(ctx.x).argmax(1).cpu().tolist() if run.n else []
    per = (time.perf_counter() - t_c) / max(1, run.n)
    clean = [SampleResult(i, int(lbl), int(p), "correct" if p == int(lbl) else "misclassified", per)
             for i, lbl, p in zip(ctx.indices, ctx.y.cpu().tolist(), run.pred, strict=True)]
    return _cell(run.mid, run.dataset, ctx.norm, 0.0, "0", _method_block("clean", None, "clean", None), clean)


def attack_cell(run: ModelRun, plan: Plan, radius: float, radius_text: str, on_progress: ProgressFactory | None,
                out: Output) -> dict[int, int]:
    """The attack's upper-bound row at one ε; returns the rows whose witness curator replayed, with
    the class the model gives it."""
    attack, ctx = plan.attack, run.ctx
    if attack is None or ctx.norm not in attack.norms:
        return {}
    t_a = time.monotonic()
    bar = on_progress(run.n, f"{run.mid} ε={radius_text} {attack.name}") if on_progress else None
    results, replayed = replay_attack(attack, ctx.model, ctx.x, run_method(attack, plan.attack_params, ctx, radius,
                                                                           progress=bar),
                                      ctx.norm, radius, ctx.notes, f" on {run.mid} ε={radius_text}")
    out.cells.append(_cell(run.mid, run.dataset, ctx.norm, radius, radius_text,
                           _method_block("attack", attack, attack.name, plan.attack_params), results))
    out.timings["attack"] += time.monotonic() - t_a
    return {row: w.predicted for row, w in replayed.items()}


def verifier_cells(run: ModelRun, radius: float, radius_text: str, on_progress: ProgressFactory | None,
                   out: Output) -> dict[str, list[SampleResult]]:
    """Every verifier of the model at one ε, by label (those that handle the model's norm)."""
    t_v = time.monotonic()
    by_label: dict[str, list[SampleResult]] = {}
    for label, plugin, params in run.verifiers:
        if run.ctx.norm not in plugin.norms:
            run.ctx.notes.append(f"{label} does not handle {run.ctx.norm}: skipped on {run.mid}")
            continue
        bar = on_progress(run.n, f"{run.mid} ε={radius_text} {label}") if on_progress else None
        by_label[label] = run_method(plugin, params, run.ctx, radius, progress=bar)
        cell = _cell(run.mid, run.dataset, run.ctx.norm, radius, radius_text,
                     _method_block("verifier", plugin, label, params), by_label[label])
        note_text = plugin.threat_note(run.ctx.norm, radius, tuple(run.block["input_shape"]), params)
        if note_text:
            cell["threat_note"] = note_text
        out.cells.append(cell)
    out.timings["verify"] += time.monotonic() - t_v
    return by_label


def counterexamples(run: ModelRun, results: list[SampleResult], radius: float) -> dict[int, int]:
    """Rows where a verifier answered ``not_certified`` with a witness that curator replays to
    another class than the verifier's prediction, with that class: evidence against any other
    method's certificate, whoever produced it."""
    found: dict[int, int] = {}
    for row, r in enumerate(results):
        if r.status == "not_certified" and r.extra.get("witness") is not None:
            cls = replayed_class(run.ctx.model, run.ctx.x[row], r.extra["witness"], run.ctx.norm, radius)
            if cls is not None and cls != r.predicted:
                found[row] = cls
    return found


def cross_check(run: ModelRun, plan: Plan, radius: float, radius_text: str, attack_found: dict[int, int],
                by_label: dict[str, list[SampleResult]], out: Output) -> None:
    """Flag every deterministic certificate at this ε that a replayed witness contradicts."""
    evidence = [(plan.attack.name if plan.attack else "attack", attack_found)]
    evidence += [(label, counterexamples(run, res, radius)) for label, res in by_label.items()]
    for label, plugin, _ in run.verifiers:
        if plugin.certification == "probabilistic" or label not in by_label:
            continue
        for row, r in enumerate(by_label[label]):
            if r.status != "certified":
                continue
            for name, found in evidence:
                if row in found and found[row] != r.predicted:
                    out.soundness.append({
                        "model": run.mid, "radius": radius, "radius_text": radius_text, "index": r.index,
                        "verifier": label, "evidence": name,
                        "detail": f"{label} certified class {r.predicted}; a replayed {name} witness "
                                  f"inside the threat set is classified {found[row]}"})


def run_epsilon(run: ModelRun, plan: Plan, radius: float, radius_text: str, on_progress: ProgressFactory | None,
                out: Output) -> dict[str, list[SampleResult]]:
    """The attack row, the verifier rows and the soundness cross-check at one ε."""
    attack_found = attack_cell(run, plan, radius, radius_text, on_progress, out)
    by_label = verifier_cells(run, radius, radius_text, on_progress, out)
    cross_check(run, plan, radius, radius_text, attack_found, by_label, out)
    return by_label


def grid_bounds(run: ModelRun, grid: list[tuple[float, list[SampleResult]]]) -> tuple[list[float], list[float | None]]:
    """Per row, the largest grid ε certified correctly and the smallest one not certified."""
    proven: list[float] = [0.0] * run.n
    refuted: list[float | None] = [None] * run.n
    for radius, res in grid:
        for row, r in enumerate(res):
            if r.status == "certified" and r.predicted == int(run.ctx.y[row]):
                proven[row] = max(proven[row], radius)
            elif r.status == "not_certified" and (refuted[row] is None or radius < refuted[row]):
                refuted[row] = radius
    return proven, refuted


def attack_at_radius(run: ModelRun, plan: Plan, label: str, row: int, rad: float, out: Output) -> None:
    """Attack one sample at its bisection radius: a replayed witness inside it is a soundness flag."""
    attack = plan.attack
    answer = run_method(attack, plan.attack_params, run.ctx, rad, rows=[row])
    _, replayed = replay_attack(attack, run.ctx.model, run.ctx.x[row:row + 1], answer, run.ctx.norm, rad,
                                run.ctx.notes, f" on {run.mid} at bisection radius {rad:g}")
    cls = replayed[0].predicted if 0 in replayed else None
    if cls is not None and cls != int(run.pred[row]):
        out.soundness.append({
            "model": run.mid, "radius": rad, "index": int(run.ctx.indices[row]), "verifier": label,
            "evidence": f"{attack.name} at the certified radius",
            "detail": f"bisection radius {rad:g}; a replayed witness inside it is classified {cls}"})


def bisection_row(run: ModelRun, plan: Plan, label: str, plugin: Verifier, params: dict[str, Any],
                  grid: list[tuple[float, list[SampleResult]]], on_progress: ProgressFactory | None,
                  out: Output) -> dict[str, Any]:
    """Every sample's certified radius by bisection (:func:`search_radii`), attack-checked."""
    rs, ctx = plan.radius_search, run.ctx
    bar = on_progress(run.n, f"{run.mid} radius {label}") if on_progress else None
    proven, refuted = grid_bounds(run, grid)
    correct = [row for row in range(run.n) if int(run.pred[row]) == int(ctx.y[row])]
    if bar and len(correct) < run.n:
        bar(run.n - len(correct))
    found = {}
    if correct:
        found = dict(zip(correct, search_radii(
            plugin, params, ctx, correct, float(rs["low"]), float(rs["high"]), float(rs["tolerance"]),
            int(rs["max_iterations"]), float(rs["time_limit"]),
            [proven[row] for row in correct], [refuted[row] for row in correct], on_done=bar), strict=True))
    check = plan.attack is not None and rs["attack_check"] and ctx.norm in plan.attack.norms
    samples: dict[str, list] = {k: [] for k in ("index", "label", "predicted", "radius", "iterations", "seconds",
                                                "timed_out")}
    for row in range(run.n):
        rad, its, secs, tout = found.get(row, (0.0, 0, 0.0, False))
        for key, value in (("index", int(ctx.indices[row])), ("label", int(ctx.y[row])),
                           ("predicted", int(run.pred[row])), ("radius", float(rad)), ("iterations", int(its)),
                           ("seconds", round(secs, 6)), ("timed_out", bool(tout))):
            samples[key].append(value)
        if check and rad > 0:
            attack_at_radius(run, plan, label, row, rad, out)
    return {
        "model": run.mid, "dataset": run.dataset, "norm": ctx.norm,
        "method": _method_block("verifier", plugin, label, params),
        "search": {"kind": "bisection", "low": float(rs["low"]), "high": float(rs["high"]),
                   "tolerance": float(rs["tolerance"]), "max_iterations": int(rs["max_iterations"]),
                   "time_limit": float(rs["time_limit"]),
                   "attack_check": bool(rs["attack_check"] and plan.attack is not None)},
        "samples": samples, "summary": {},
    }


def radius_rows(run: ModelRun, plan: Plan, per_sample_grid: dict[str, list[tuple[float, list[SampleResult]]]],
                on_progress: ProgressFactory | None, out: Output) -> None:
    """The certified radius per sample, for every verifier the suite's radius search covers."""
    rs = plan.radius_search
    t_r = time.monotonic()
    if rs["enabled"] and (rs.get("models") is None or run.mid in rs["models"]):
        wanted = rs.get("verifiers")
        for label, plugin, params in run.verifiers:
            if run.ctx.norm not in plugin.norms or not per_sample_grid.get(label):
                continue
            if plugin.certification == "probabilistic":
                out.radius_rows.append(_direct_radius_row(run.mid, run.dataset, run.ctx.norm, label, plugin, params,
                                                          per_sample_grid[label]))
            elif wanted is None or label in wanted:
                out.radius_rows.append(bisection_row(run, plan, label, plugin, params, per_sample_grid[label],
                                                     on_progress, out))
    out.timings["radius"] += time.monotonic() - t_r


def run_model(run: ModelRun, plan: Plan, spec: dict[str, Any], on_progress: ProgressFactory | None,
              out: Output) -> None:
    per_sample_grid: dict[str, list[tuple[float, list[SampleResult]]]] = {lab: [] for lab, _, _ in run.verifiers}
    for radius, radius_text in parse_epsilons(spec["epsilons"]):
        for label, res in run_epsilon(run, plan, radius, radius_text, on_progress, out).items():
            per_sample_grid[label].append((radius, res))
    radius_rows(run, plan, per_sample_grid, on_progress, out)


def result_document(plan: Plan, opts: BenchOptions, host: Any, device: str, out: Output) -> dict[str, Any]:
    """The benchmark result, its summaries recomputed."""
    suite, s, attack = plan.suite, plan.suite.data, plan.attack
    rs = plan.radius_search
    suite_block = {"name": s["name"], "sha256": suite.sha256, "time_limit": float(s["time_limit"]),
                   "attack": ({"name": attack.name, "version": attack.version, "params": plan.attack_params}
                              if attack is not None else None),
                   "radius_search": rs if rs["enabled"] else None}
    if suite.raw.get("description"):
        suite_block["description"] = suite.raw["description"]  # as written: no machine paths
    if opts.models or opts.verifiers:
        suite_block["only"] = {"models": list(opts.models), "verifiers": list(opts.verifiers)}
    ver_map = {name: info.version for name, info in host.plugins.items()}
    shard_i, shard_n = opts.shard
    run_id = sha256_bytes(canonical_bytes({"suite": suite.sha256, "seed": plan.seed, "shards": shard_n,
                                           "samples": opts.samples, "only": [list(opts.models), list(opts.verifiers)],
                                           "models": [m["indices_sha256"] for m in out.models]}))[:16]
    result = {
        "result_version": RESULT_VERSION, "suite": suite_block, "seed": plan.seed, "confidence": opts.confidence,
        "environment": environment(device, ver_map), "models": out.models, "cells": out.cells,
        "radius": out.radius_rows, "soundness": out.soundness, "totals": {},
        "timings": {k: round(v, 6) for k, v in out.timings.items()},
        "shard": {"index": shard_i, "count": shard_n, "run_id": run_id},
        "created_at": now_iso(), "notes": list(dict.fromkeys(plan.notes)),
    }
    return summarize_result(result)


@with_strict_float32  # no TF32 in any verifier or attack (curator/engines/numerics.py)
def run_suite(suite_path: str | Path, opts: BenchOptions | None = None, host: Any = None,
              on_progress: ProgressFactory | None = None) -> dict[str, Any]:
    """Run (one shard of) a suite and return the benchmark result (schema-valid, summaries
    recomputed). ``on_progress(total, desc)`` may return a callback taking samples finished."""
    from curator.api.registry import get_host
    from curator.verify.artifacts import default_cache_dir
    from curator.verify.models import resolve_device

    opts = opts or BenchOptions()
    host = host or get_host()
    t_start = time.monotonic()
    plan = plan_run(load_suite(suite_path, host.registry, opts.shared), host.registry, opts)
    device = resolve_device(opts.device)
    cache = Path(opts.cache_dir) if opts.cache_dir else default_cache_dir()
    splits: dict[tuple, Any] = {}
    out = Output()
    for spec in plan.suite.data["models"]:
        if opts.models and spec["id"] not in opts.models:
            continue
        run = load_model_run(spec, plan, host.registry, opts, device, cache, splits, out)
        run_model(run, plan, spec, on_progress, out)
    out.timings["total"] = time.monotonic() - t_start
    return result_document(plan, opts, host, device, out)


def _direct_radius_row(mid: str, dataset: str, norm: str, label: str, plugin: Verifier, params: dict[str, Any],
                       grid: list[tuple[float, list[SampleResult]]]) -> dict[str, Any]:
    """Smoothing computes each sample's certified radius itself (CERTIFY: σ·Φ⁻¹(p_A lower bound),
    valid with probability ≥ 1−α, whether or not it reaches ε): take it from the run at the first
    ε; abstentions, timeouts and errors count 0."""
    _, res = grid[0]
    return {
        "model": mid, "dataset": dataset, "norm": norm, "method": _method_block("verifier", plugin, label, params),
        "search": {"kind": "direct", "from_radius": grid[0][0]},
        "samples": {
            "index": [int(r.index) for r in res], "label": [int(r.label) for r in res],
            "predicted": [int(r.predicted) for r in res],
            "radius": [max(0.0, float(r.radius)) if (r.status in ("certified", "not_certified") and r.radius is not None)
                       else 0.0 for r in res],
            "iterations": [0 for _ in res], "seconds": [round(max(0.0, float(r.seconds)), 6) for r in res],
            "timed_out": [r.status == "timeout" for r in res],
        },
        "summary": {},
    }


def result_filename(result: dict[str, Any]) -> str:
    sh = result["shard"]
    name = result["suite"]["name"]
    if sh["count"] == 1 or len(sh.get("merged_from", [])) == sh["count"]:
        return f"{name}.json"
    return f"{name}.shard-{sh['index'] + 1}-of-{sh['count']}.json"
