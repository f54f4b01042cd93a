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
- ``milp`` returned a counterexample (replayed by curator) that the model does not classify as p, or
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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from curator.engines.numerics import with_strict_float32
from curator.api import Attack, SampleResult, Verifier, VerifyTask, params_with_defaults
from curator.benchmark.result import RESULT_VERSION, summarize_result
from curator.core.errors import CuratorError
from curator.core.jsonio import canonical_bytes, read_json, sha256_bytes
from curator.core.radius import parse_radius
from curator.verify.report import environment, now_iso, sample_arrays
from curator.core.schemas import SUITE_SCHEMA_ID, validate, validate_with, validator_for_schema
from curator.core.stats import DEFAULT_CONFIDENCE
from curator.verify.pipeline import replay_prediction

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
    if data.get("attack") and not isinstance(registry.verifier(data["attack"]["name"]), Attack):
        raise BenchmarkError(f"{path}: /attack: {data['attack']['name']} is a verifier, not an attack")
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


def run_method(plugin: Verifier, params: dict[str, Any], ctx: Ctx, radius: float, rows: list[int] | None = None,
               progress: Callable[[int], None] | None = None,
               radii: list[float] | None = None) -> list[SampleResult]:
    """Run one verifier/attack on the rows (all by default) at one radius; one result per row, in
    order. A plugin exception becomes ``error`` results for its batch, never a number.

    ``radii`` (one per row) replaces ``radius``: a verifier with ``per_sample_radius`` gets them
    in its tasks as ``VerifyTask.radii``; any other is called once per distinct radius."""
    import torch

    rows = list(range(len(ctx.indices))) if rows is None else rows
    if radii is not None:
        if len(radii) != len(rows):
            raise ValueError(f"{len(radii)} radii for {len(rows)} rows")
        if not plugin.per_sample_radius:
            groups: dict[float, list[int]] = {}
            for row, r in zip(rows, radii):
                groups.setdefault(float(r), []).append(row)
            by_row: dict[int, SampleResult] = {}
            for r, group in groups.items():
                by_row.update(zip(group, run_method(plugin, params, ctx, r, rows=group, progress=progress)))
            return [by_row[row] for row in rows]
    out: list[SampleResult] = []
    for start in range(0, len(rows), ctx.batch_size):
        chunk = rows[start:start + ctx.batch_size]
        idx = [ctx.indices[r] for r in chunk]
        chunk_radii = None if radii is None else torch.tensor(radii[start:start + ctx.batch_size], dtype=torch.float64)
        at = float(radius) if chunk_radii is None else float(chunk_radii.max())
        task = VerifyTask(model=ctx.model, inputs=ctx.x[chunk], labels=ctx.y[chunk], indices=idx, norm=ctx.norm,
                          radius=at, params=params, num_classes=ctx.num_classes, device=ctx.device,
                          seed=ctx.seed, time_limit=ctx.time_limit, progress=progress, radii=chunk_radii)
        where = (f"radius {at:g}" if chunk_radii is None
                 else f"radii {float(chunk_radii.min()):g}..{at:g}")
        t0 = time.monotonic()
        try:
            got = plugin.verify(task)
        except Exception as exc:  # noqa: BLE001 - a plugin failure is recorded, never a number
            per = (time.monotonic() - t0) / max(1, len(chunk))
            ctx.notes.append(f"{plugin.name} failed at {where} on samples {idx[0]}..{idx[-1]}: "
                             f"{type(exc).__name__}: {exc}"[:400])
            got = [SampleResult(i, int(ctx.y[r]), -1, "error", per) for i, r in zip(idx, chunk)]
        by_index = {r.index: r for r in got}
        for i, r in zip(idx, chunk):
            res = by_index.get(i)
            if res is None:
                res = SampleResult(i, int(ctx.y[r]), -1, "error", 0.0)
                ctx.notes.append(f"{plugin.name} returned no result for sample {i} at {where}")
            out.append(res)
    return out


def replayed_class(model, x, witness, norm: str, radius: float) -> int | None:
    """The model's class at ``witness`` when the witness lies in the threat set, else None: a
    witness that does not replay is no evidence (:func:`curator.verify.pipeline.replay_prediction`)."""
    return None if witness is None else replay_prediction(model, x, witness, norm, radius)[0]


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
        for k, mid, res, sec in zip(active, mids, results, own):
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


# --------------------------------------------------------------------------- the run


def _method_block(kind: str, plugin: Verifier | None, label: str, params: dict[str, Any] | None) -> dict[str, Any]:
    if plugin is None:
        return {"kind": kind, "name": label, "label": label}
    return {"kind": kind, "name": plugin.name, "label": label, "version": plugin.version,
            "certification": plugin.certification, "params": params or {}}


@with_strict_float32  # no TF32 in any verifier or attack (curator/engines/numerics.py)
def run_suite(suite_path: str | Path, opts: BenchOptions | None = None, host: Any = None,
              on_progress: ProgressFactory | None = None) -> dict[str, Any]:
    """Run (one shard of) a suite and return the benchmark result (schema-valid, summaries
    recomputed). ``on_progress(total, desc)`` may return a callback taking samples finished."""
    import torch

    from curator.verify.artifacts import default_cache_dir, fetch
    from curator.verify.models import load_model, resolve_device
    from curator.api.registry import get_host
    from curator.core.sampling import indices_sha256, shard

    opts = opts or BenchOptions()
    host = host or get_host()
    registry = host.registry
    t_start = time.monotonic()
    suite = load_suite(suite_path, registry, opts.shared)
    s = suite.data
    device = resolve_device(opts.device)
    cache = Path(opts.cache_dir) if opts.cache_dir else default_cache_dir()
    seed = int(s.get("seed", 0))
    notes: list[str] = []
    attack_spec = s.get("attack", {"name": "pgd"}) if "attack" in s else {"name": "pgd"}
    attack: Attack | None = None
    attack_params: dict[str, Any] = {}
    if attack_spec:
        if attack_spec["name"] in registry.names("verifier"):
            attack = registry.verifier(attack_spec["name"])
            attack_params = params_with_defaults(attack.params_schema, attack_spec.get("params"))
        else:
            notes.append(f"attack {attack_spec['name']!r} is not installed: no upper-bound row, no attack cross-check")
    for kind, wanted, known in (("model", opts.models, [m["id"] for m in s["models"]]),
                                ("verifier", opts.verifiers, [m.get("label") or m["name"] for m in s["verifiers"]])):
        unknown = [w for w in wanted if w not in known]
        if unknown:
            raise BenchmarkError(f"{suite.path}: no {kind} {unknown[0]!r} in the suite (known: {', '.join(known)})")
    verifiers = [(m.get("label") or m["name"], registry.verifier(m["name"]),
                  params_with_defaults(registry.verifier(m["name"]).params_schema, m.get("params")))
                 for m in s["verifiers"] if not opts.verifiers or (m.get("label") or m["name"]) in opts.verifiers]
    rs = {"enabled": True, "low": 0.0, "high": 0.5, "tolerance": 0.001, "max_iterations": 12, "attack_check": True,
          **(s.get("radius_search") or {})}
    rs.setdefault("time_limit", 2 * float(s["time_limit"]))
    if any(v.certification == "probabilistic" for _, v, _ in verifiers):
        notes.append("smoothing certificates concern the smoothed classifier: attacks on the base network do not "
                     "contradict them, so they are left out of the soundness cross-check")

    splits: dict[tuple, Any] = {}
    models_out, cells, radius_rows, soundness = [], [], [], []
    timings = {"load": 0.0, "attack": 0.0, "verify": 0.0, "radius": 0.0}
    shard_i, shard_n = opts.shard

    raw_urls = {m["id"]: m["model"]["url"] for m in suite.raw["models"]}  # as written: no machine paths
    for spec in s["models"]:
        if opts.models and spec["id"] not in opts.models:
            continue
        t0 = time.monotonic()
        mid = spec["id"]
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
        path = fetch(block["url"], block["sha256"], cache, progress=opts.progress)
        model = load_model(block, path, registry, device)
        n_total = len(split)
        selection = ds.get("selection") or {"kind": "all"}
        all_idx = select(selection, n_total, opts.samples)
        idx = shard(all_idx, shard_i, shard_n)
        x, y = split.take(idx) if idx else (None, None)
        time_limit = float(spec.get("time_limit", s["time_limit"]))
        models_out.append({
            "id": mid, **({"title": spec["title"]} if spec.get("title") else {}),
            **({"source": spec["source"]} if spec.get("source") else {}),
            "dataset": ds["name"], "norm": spec["norm"],
            "model": {"sha256": block["sha256"], "format": block["format"], "architecture": (block.get("architecture") or {}).get("name", block["format"]),
                      "url": raw_urls[mid]},
            "selection": {**selection, **({"limit": opts.samples} if opts.samples else {})},
            "n_total": n_total, "indices_sha256": indices_sha256(all_idx), "time_limit": time_limit,
            **({"references": spec["references"]} if spec.get("references") else {}),
        })
        timings["load"] += time.monotonic() - t0
        if not idx:
            notes.append(f"{mid}: shard {shard_i + 1}/{shard_n} holds no sample")
            # Still emit empty rows so shards merge row by row.
        x = x.to(device) if x is not None else torch.zeros((0, *block["input_shape"]), device=device)
        y = y.to(device) if y is not None else torch.zeros((0,), dtype=torch.long, device=device)
        ctx = Ctx(model, x, y, list(idx), spec["norm"], int(block["num_classes"]), device, seed, time_limit,
                  opts.batch_size, notes)
        dataset_name, norm = ds["name"], spec["norm"]

        # ---- clean reference row (ε-independent; stored at radius 0)
        t_c = time.perf_counter()
        with torch.no_grad():
            pred = model(x).argmax(1).cpu().tolist() if len(idx) else []
        per = (time.perf_counter() - t_c) / max(1, len(idx))
        clean = [SampleResult(i, int(lbl), int(p), "correct" if p == int(lbl) else "misclassified", per)
                 for i, lbl, p in zip(idx, y.cpu().tolist(), pred)]
        cells.append(_cell(mid, dataset_name, norm, 0.0, "0", _method_block("clean", None, "clean", None), clean))

        wanted = spec.get("verifiers")
        model_verifiers = [(lab, v, p) for lab, v, p in verifiers if not wanted or lab in wanted]
        grid = parse_epsilons(spec["epsilons"])
        per_sample_grid: dict[str, list[tuple[float, SampleResult]]] = {lab: [] for lab, _, _ in model_verifiers}
        for radius, radius_text in grid:
            # ---- attack: the upper-bound row, and witnesses for the cross-check
            witnesses: dict[int, int] = {}  # row -> replayed class of a witness
            if attack is not None and norm in attack.norms:
                t_a = time.monotonic()
                bar = on_progress(len(idx), f"{mid} ε={radius_text} {attack.name}") if on_progress else None
                res = run_method(attack, attack_params, ctx, radius, progress=bar)
                fixed = []
                for row, r in enumerate(res):
                    if r.status == "broken":
                        cls = replayed_class(model, x[row], r.extra.get("witness"), norm, radius)
                        if cls is None or cls == int(y[row]):
                            notes.append(f"{mid} ε={radius_text}: {attack.name} witness for sample {r.index} does not "
                                         "replay; counted as error")
                            r = SampleResult(r.index, r.label, r.predicted, "error", r.seconds)
                        else:
                            witnesses[row] = cls
                    fixed.append(r)
                cells.append(_cell(mid, dataset_name, norm, radius, radius_text,
                                   _method_block("attack", attack, attack.name, attack_params), fixed))
                timings["attack"] += time.monotonic() - t_a
            # ---- verifiers
            t_v = time.monotonic()
            by_label: dict[str, list[SampleResult]] = {}
            note_text = None
            for label, plugin, params in model_verifiers:
                if norm not in plugin.norms:
                    notes.append(f"{label} does not handle {norm}: skipped on {mid}")
                    continue
                bar = on_progress(len(idx), f"{mid} ε={radius_text} {label}") if on_progress else None
                res = run_method(plugin, params, ctx, radius, progress=bar)
                by_label[label] = res
                per_sample_grid[label].append((radius, res))  # type: ignore[arg-type]
                cell = _cell(mid, dataset_name, norm, radius, radius_text,
                             _method_block("verifier", plugin, label, params), res)
                note_text = plugin.threat_note(norm, radius, tuple(block["input_shape"]), params)
                if note_text:
                    cell["threat_note"] = note_text
                cells.append(cell)
            timings["verify"] += time.monotonic() - t_v
            # ---- soundness cross-check at this ε
            milp_cex: dict[int, int] = {}
            for label, plugin, _ in model_verifiers:
                if plugin.name == "milp" and label in by_label:
                    for row, r in enumerate(by_label[label]):
                        if r.status == "not_certified" and r.extra.get("witness") is not None:
                            cls = replayed_class(model, x[row], r.extra["witness"], norm, radius)
                            if cls is not None and cls != r.predicted:
                                milp_cex[row] = cls
            for label, plugin, _ in model_verifiers:
                if plugin.certification == "probabilistic" or label not in by_label:
                    continue
                for row, r in enumerate(by_label[label]):
                    if r.status != "certified":
                        continue
                    for evidence, found in ((attack.name if attack else "attack", witnesses), ("milp", milp_cex)):
                        if row in found and found[row] != r.predicted:
                            soundness.append({
                                "model": mid, "radius": radius, "radius_text": radius_text, "index": r.index,
                                "verifier": label, "evidence": evidence,
                                "detail": f"{label} certified class {r.predicted}; a replayed {evidence} witness "
                                          f"inside the threat set is classified {found[row]}"})

        # ---- certified radius per sample
        t_r = time.monotonic()
        if rs["enabled"] and (rs.get("models") is None or mid in rs["models"]):
            wanted_r = rs.get("verifiers")
            for label, plugin, params in model_verifiers:
                if norm not in plugin.norms or not per_sample_grid.get(label):
                    continue
                if plugin.certification == "probabilistic":
                    radius_rows.append(_direct_radius_row(mid, dataset_name, norm, label, plugin, params,
                                                          per_sample_grid[label]))
                    continue
                if wanted_r is not None and label not in wanted_r:
                    continue
                row_out = {"index": [], "label": [], "predicted": [], "radius": [], "iterations": [], "seconds": [],
                           "timed_out": []}
                bar = on_progress(len(idx), f"{mid} radius {label}") if on_progress else None
                proven, refuted = [0.0] * len(idx), [None] * len(idx)
                for radius, res in per_sample_grid[label]:
                    for row, r in enumerate(res):  # type: ignore[arg-type]
                        if r.status == "certified" and r.predicted == int(y[row]):
                            proven[row] = max(proven[row], radius)
                        elif r.status == "not_certified" and (refuted[row] is None or radius < refuted[row]):
                            refuted[row] = radius
                found = {}
                correct = [row for row in range(len(idx)) if int(pred[row]) == int(y[row])]
                if bar and len(correct) < len(idx):
                    bar(len(idx) - len(correct))
                if correct:
                    found = dict(zip(correct, search_radii(
                        plugin, params, ctx, correct, float(rs["low"]), float(rs["high"]), float(rs["tolerance"]),
                        int(rs["max_iterations"]), float(rs["time_limit"]),
                        [proven[row] for row in correct], [refuted[row] for row in correct], on_done=bar)))
                for row in range(len(idx)):
                    rad, its, secs, tout = found.get(row, (0.0, 0, 0.0, False))
                    row_out["index"].append(int(idx[row]))
                    row_out["label"].append(int(y[row]))
                    row_out["predicted"].append(int(pred[row]))
                    row_out["radius"].append(float(rad))
                    row_out["iterations"].append(int(its))
                    row_out["seconds"].append(round(secs, 6))
                    row_out["timed_out"].append(bool(tout))
                    if attack is not None and rs["attack_check"] and rad > 0 and norm in attack.norms:
                        a = run_method(attack, attack_params, ctx, rad, rows=[row])[0]
                        if a.status == "broken":
                            cls = replayed_class(model, x[row], a.extra.get("witness"), norm, rad)
                            if cls is not None and cls != int(pred[row]):
                                soundness.append({
                                    "model": mid, "radius": rad, "index": int(idx[row]), "verifier": label,
                                    "evidence": f"{attack.name} at the certified radius",
                                    "detail": f"bisection radius {rad:g}; a replayed witness inside it is "
                                              f"classified {cls}"})
                radius_rows.append({
                    "model": mid, "dataset": dataset_name, "norm": norm,
                    "method": _method_block("verifier", plugin, label, params),
                    "search": {"kind": "bisection", "low": float(rs["low"]), "high": float(rs["high"]),
                               "tolerance": float(rs["tolerance"]), "max_iterations": int(rs["max_iterations"]),
                               "time_limit": float(rs["time_limit"]),
                               "attack_check": bool(rs["attack_check"] and attack is not None)},
                    "samples": row_out, "summary": {},
                })
        timings["radius"] += time.monotonic() - t_r

    t_end = time.monotonic()
    timings["total"] = t_end - t_start
    suite_block = {"name": s["name"], "sha256": suite.sha256, "time_limit": float(s["time_limit"]),
                   "attack": ({"name": attack.name, "version": attack.version, "params": attack_params}
                              if attack is not None else None),
                   "radius_search": rs if rs["enabled"] else None}
    if suite.raw.get("description"):
        suite_block["description"] = suite.raw["description"]  # as written: no machine paths
    if opts.models or opts.verifiers:
        suite_block["only"] = {"models": list(opts.models), "verifiers": list(opts.verifiers)}
    ver_map = {name: info.version for name, info in host.plugins.items()}
    run_id = sha256_bytes(canonical_bytes({"suite": suite.sha256, "seed": seed, "shards": shard_n,
                                           "samples": opts.samples, "only": [list(opts.models), list(opts.verifiers)],
                                           "models": [m["indices_sha256"] for m in models_out]}))[:16]
    result = {
        "result_version": RESULT_VERSION, "suite": suite_block, "seed": seed, "confidence": opts.confidence,
        "environment": environment(device, ver_map), "models": models_out, "cells": cells, "radius": radius_rows,
        "soundness": soundness, "totals": {}, "timings": {k: round(v, 6) for k, v in timings.items()},
        "shard": {"index": shard_i, "count": shard_n, "run_id": run_id},
        "created_at": now_iso(), "notes": list(dict.fromkeys(notes)),
    }
    return summarize_result(result)


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
