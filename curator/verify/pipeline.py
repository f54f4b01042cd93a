"""The re-verification pipeline behind ``curator verify``: a claim goes in, a report comes out.

entry file → schema + semantic validation → artifact fetch (sha256-pinned) → model load →
test set → sample selection → shard → attack pre-pass (deterministic claims, when an attack
plugin is installed) → verifier in batches → soundness cross-check → report.

The attack (an upper bound on robust accuracy) matters twice. Before any certification it can
refute a claim at once: if the claim is above the upper end of the attacked accuracy's interval
the claim is false whatever a verifier says. After certification, a sample the verifier
certified that the attack broke (with a witness that curator itself replays) is a soundness
failure: the run's verdict is ``error``. Neither applies to smoothed (probabilistic) claims: the
attack targets the base network, while the certificate is about the smoothed classifier, whose
robustness the base network's adversarial examples do not bound.
"""

from __future__ import annotations

import dataclasses
import secrets
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from curator.engines.numerics import with_strict_float32
from curator.api import Attack, SampleResult, Verifier, VerifyTask, params_with_defaults
from curator.core.digest import claim_digest, same_protocol
from curator.core.errors import CuratorError
from curator.core.jsonio import read_json
from curator.verify.report import (
    ATTACK_REFUTES, MAX_WITNESS_VALUES, REPORT_VERSION, attack_counts, environment, now_iso, run_id, sample_arrays,
    summarize,
)
from curator.board.publication import protocol_floor
from curator.core.stats import DEFAULT_CONFIDENCE, publishable_minimum

DEFAULT_ATTACK = "pgd"
REPLAY_TOLERANCE = 1e-5  # relative slack on the radius when replaying a witness (float32 arithmetic)


class VerifyError(CuratorError):
    pass


@dataclass
class VerifyOptions:
    samples: int | None = None  # the first N of the claim's selection
    all: bool = False  # the whole test set, whatever the claim's selection
    device: str = "auto"
    shard: tuple[int, int] = (0, 1)  # 0-based index, count
    seed: int | None = None  # None: a fresh random seed per run (recorded in the report for replay)
    data_dir: Path | None = None
    cache_dir: Path | None = None
    attack: str | None = DEFAULT_ATTACK  # an attack plugin's name; None: no attack
    batch_size: int = 64  # samples per verifier call
    time_limit: float | None = None  # seconds per sample
    confidence: float = DEFAULT_CONFIDENCE
    progress: bool = True


@dataclass
class Loaded:
    entry: dict[str, Any]
    model: Any
    model_path: Path
    split: Any
    device: str
    timings: dict[str, float] = field(default_factory=dict)


# --------------------------------------------------------------------------- entry and artifact


def load_entry(path: Path, registry: Any) -> dict[str, Any]:
    """The entry, schema- and semantically valid (curator.core.validate), with a model to re-verify."""
    from curator.verify.claim_checks import validate_claims

    result = validate_claims([path], registry)
    if result.errors:
        lines = "\n  ".join(str(p) for p in result.errors[:20])
        raise VerifyError(f"{path} is not a valid entry:\n  {lines}")
    entry = read_json(path)
    if "model" not in entry:
        raise VerifyError(f"{path}: /model: the entry names no model artifact: there is nothing to re-verify")
    return entry


def resolve_model_url(url: str, entry_path: Path) -> str:
    """http(s) URLs as they are; ``file:`` URLs only inside the entry file's folder.

    ``file://./NAME`` (and ``file:NAME``) is NAME relative to the folder that holds the entry —
    how a bundled example points at the model beside it; ``file:///ABS`` is accepted only when
    ABS is inside that folder too. After resolving ``..`` and symlinks the file must still be
    inside the folder: a submission never reads a file of the verifying machine outside it.
    """
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError as exc:  # "http://[" and other unsplittable URLs
        raise VerifyError(f"model.url {url!r}: not a URL ({exc})") from None
    if parts.scheme in ("http", "https"):
        return url
    if parts.scheme != "file":
        raise VerifyError(f"model.url {url!r}: unsupported scheme (use http, https or file)")
    folder = entry_path.resolve().parent
    raw = urllib.parse.unquote(parts.path)
    if parts.netloc in (".", ""):
        rel = raw.lstrip("/") if parts.netloc == "." else raw
        candidate = Path(rel) if Path(rel).is_absolute() else folder / rel
    else:
        raise VerifyError(f"model.url {url!r}: file URLs name no host (use file://./NAME beside the entry)")
    target = candidate.resolve()
    if target != folder and folder not in target.parents:
        raise VerifyError(f"model.url {url!r} resolves to {target}, outside the entry's folder {folder}: refused")
    return "file://" + urllib.request.pathname2url(str(target))


def load_everything(entry_path: Path, entry: dict[str, Any], registry: Any, opts: VerifyOptions) -> Loaded:
    from curator.verify.artifacts import default_cache_dir, fetch
    from curator.verify.datasets import data_dir_from_env
    from curator.verify.models import load_model, resolve_device

    t0 = time.monotonic()
    device = resolve_device(opts.device)
    cache = Path(opts.cache_dir) if opts.cache_dir else default_cache_dir()
    m = entry["model"]
    url = resolve_model_url(m["url"], entry_path)
    path = fetch(url, m["sha256"], cache, progress=opts.progress)
    model = load_model(m, path, registry, device)
    t1 = time.monotonic()
    data_dir = data_dir_from_env(opts.data_dir)
    split = registry.dataset(entry["setting"]["dataset"]).load(data_dir, cache, progress=opts.progress)
    t2 = time.monotonic()
    shape = tuple(int(s) for s in m["input_shape"])
    if tuple(split.inputs.shape[1:]) != shape:
        raise VerifyError(f"{entry_path}: /model/input_shape: {list(shape)} but the {entry['setting']['dataset']} "
                          f"test set has inputs {list(split.inputs.shape[1:])}")
    return Loaded(entry, model, path, split, device, {"load_model": t1 - t0, "load_data": t2 - t1})


def selection_for(entry: dict[str, Any], opts: VerifyOptions) -> dict[str, Any]:
    if opts.all:
        return {"kind": "all"}
    return dict(entry.get("result", {}).get("sample_selection") or {"kind": "all"})


# --------------------------------------------------------------------------- attack


def _norm(delta, norm: str):
    flat = delta.flatten()
    return {"l1": flat.abs().sum(), "l2": flat.pow(2).sum().sqrt(), "linf": flat.abs().max()}[norm]


def replay_prediction(model, x, witness, norm: str, radius: float) -> tuple[int | None, str]:
    """The model's class at ``witness`` when the witness lies in the threat set (ball ∩ box, with
    float32 slack), else ``None`` and why; the second item is a sentence for the report."""
    import torch

    w = torch.as_tensor(witness, dtype=x.dtype, device=x.device).reshape(x.shape)
    if not bool(torch.isfinite(w).all()):
        return None, "witness has non-finite values"
    if float(w.min()) < -1e-6 or float(w.max()) > 1 + 1e-6:
        return None, "witness leaves the [0, 1] box"
    dist = float(_norm(w - x, norm))
    if dist > radius * (1 + REPLAY_TOLERANCE) + 1e-7:
        return None, f"witness is at {norm} distance {dist:.6g} > radius {radius:g}"
    with torch.no_grad():
        pred = int(model(w.unsqueeze(0)).argmax(dim=1))
    return pred, f"predicted {pred} at {norm} distance {dist:.6g}"


def replay_witness(model, x, label: int, witness, norm: str, radius: float) -> tuple[bool, str]:
    """Re-execute an attack's witness in curator's own code: inside the threat set (ball ∩ box)
    and misclassified by the model. A witness that does not replay is not evidence."""
    pred, why = replay_prediction(model, x, witness, norm, radius)
    if pred is None:
        return False, why
    if pred == label:
        return False, "the model classifies the witness correctly"
    return True, why


def run_attack(attack: Attack, loaded: Loaded, indices: list[int], norm: str, radius: float, params: dict[str, Any],
               opts: VerifyOptions, bar: Callable[[int], None] | None) -> tuple[dict[str, Any], dict[int, dict]]:
    """Attack every sample; returns the report's ``attack`` block and the replayed witnesses by index."""
    import torch

    statuses: list[str] = []
    witnesses: dict[int, dict[str, Any]] = {}
    notes: list[str] = []
    for start in range(0, len(indices), opts.batch_size):
        chunk = indices[start:start + opts.batch_size]
        x = loaded.split.inputs[chunk].to(loaded.device)
        y = loaded.split.labels[chunk].to(loaded.device)
        task = VerifyTask(model=loaded.model, inputs=x, labels=y, indices=chunk, norm=norm, radius=radius,
                          params=params, num_classes=int(loaded.entry["model"]["num_classes"]), device=loaded.device,
                          seed=opts.seed, time_limit=opts.time_limit, progress=bar)
        results = attack.verify(task)
        by_index = {r.index: r for r in results}
        for row, idx in enumerate(chunk):
            r = by_index.get(idx)
            if r is None:
                statuses.append("error")
                notes.append(f"sample {idx}: the attack returned no result")
                continue
            status = r.status
            label = int(y[row])
            if status == "misclassified":
                ok, why = replay_witness(loaded.model, x[row], label, x[row], norm, radius)
                wit = x[row]
            elif status == "broken":
                wit = r.extra.get("witness")
                ok, why = (False, "no witness") if wit is None else replay_witness(loaded.model, x[row], label, wit, norm, radius)
            else:
                ok, why, wit = True, "", None
            if status in ATTACK_REFUTES:
                if not ok:
                    notes.append(f"sample {idx}: the attack said {status} but its witness does not replay ({why})")
                    status = "error"
                else:
                    witnesses[idx] = {"index": idx, "label": label, "status": status, "replay": why,
                                      "margin": float(r.extra["margin"]) if "margin" in r.extra else None,
                                      "_values": torch.as_tensor(wit).detach().cpu().flatten().tolist()}
            statuses.append(status)
    block: dict[str, Any] = {
        "name": attack.name, "version": attack.version, "params": params, "confidence": opts.confidence,
        "refutes": True, "samples": {"index": list(indices), "status": statuses},
    }
    block["witnesses"] = _public_witnesses(witnesses)
    if notes:
        block["notes"] = notes[:50]
    return block, witnesses


def _public_witnesses(witnesses: dict[int, dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for i, (_, w) in enumerate(sorted(witnesses.items())):
        d = {k: v for k, v in w.items() if not k.startswith("_") and v is not None}
        if i < MAX_WITNESS_VALUES:
            d["values"] = w["_values"]  # the full input, so anyone can replay it
        out.append(d)
    return out


def find_attack(registry: Any, name: str | None) -> Attack | None:
    if not name:
        return None
    if name not in registry.names("verifier"):
        return None
    obj = registry.verifier(name)
    if not isinstance(obj, Attack):
        raise VerifyError(f"--attack {name}: {name} is a verifier, not an attack")
    return obj


# --------------------------------------------------------------------------- the run


def fresh_seed() -> int:
    """A seed nobody knows before the run: a network trained on the noise of a public fixed seed
    would pass that seed's certificates (docs/verdicts.md, "Seeds")."""
    return secrets.randbits(62)


def with_seed(opts: VerifyOptions) -> VerifyOptions:
    """``opts`` with a seed: the given one (a replay, or the one ``ci plan`` chose for all shards of a
    run), else a fresh one. Shards of one run must share it, so a sharded run needs it given."""
    if opts.seed is not None:
        return opts
    if opts.shard[1] > 1:
        raise VerifyError(f"--shard {opts.shard[0] + 1}/{opts.shard[1]}: the shards of one run must share a seed; "
                          "pass --seed (curator ci plan picks one fresh seed per run)")
    return dataclasses.replace(opts, seed=fresh_seed())


@with_strict_float32  # no TF32 in any verifier or attack (curator/engines/numerics.py)
def verify_entry(entry_path: str | Path, opts: VerifyOptions | None = None, host: Any = None,
                 on_progress: Callable[[int, int, str], Callable[[int], None] | None] | None = None) -> dict[str, Any]:
    """Run the whole pipeline and return the report (schema-valid, numbers from :func:`summarize`).

    ``on_progress(total, desc)`` may return a callback taking the number of samples just finished
    (the CLI's tqdm bar); None shows nothing.
    """
    from curator.api.registry import get_host
    from curator.core.sampling import indices_sha256, select_indices, shard
    from curator.engines.cascade import is_cascade, verify_task

    opts = with_seed(opts or VerifyOptions())
    host = host or get_host()
    registry = host.registry
    entry_path = Path(entry_path)
    t_start = time.monotonic()
    entry = load_entry(entry_path, registry)
    cert = entry["certification"]
    verifier: Verifier = registry.verifier(cert["verifier"])
    if isinstance(verifier, Attack):
        raise VerifyError(f"{entry_path}: /certification/verifier: {verifier.name} is an attack; it certifies nothing")
    setting = entry["setting"]
    norm, radius = setting["norm"], float(setting["radius"])
    if norm not in verifier.norms:
        raise VerifyError(f"{entry_path}: /setting/norm: verifier {verifier.name} does not handle {norm}")
    params = params_with_defaults(verifier.params_schema, cert.get("params") or {})
    loaded = load_everything(entry_path, entry, registry, opts)

    selection = selection_for(entry, opts)
    all_indices = select_indices(selection, int(loaded.split.inputs.shape[0]), n=opts.samples,
                                 base_dir=entry_path.parent)
    if opts.samples is not None:
        selection = {**selection, "limit": opts.samples}
    n_total = int(loaded.split.inputs.shape[0])
    claim_selection = entry["result"].get("sample_selection")
    smoke = all_indices != select_indices(claim_selection or {"kind": "all"}, n_total, base_dir=entry_path.parent)
    shard_i, shard_n = opts.shard
    indices = shard(all_indices, shard_i, shard_n)
    num_classes = int(entry["model"]["num_classes"])
    notes: list[str] = []

    # ---- attack pre-pass
    attack_block: dict[str, Any] | None = None
    witnesses: dict[int, dict] = {}
    probabilistic = verifier.certification == "probabilistic" or cert["type"] == "probabilistic"
    attack = find_attack(registry, opts.attack)
    t_attack = time.monotonic()
    if attack is None:
        if opts.attack:
            notes.append(f"no attack plugin {opts.attack!r} is installed: the claim was not attacked and "
                         "certificates were not cross-checked for soundness")
    elif probabilistic:
        notes.append(f"attack {attack.name} not run: the claim certifies a smoothed classifier, whose robustness an "
                     "attack on the base network does not bound")
    elif is_cascade(loaded.model):
        notes.append(f"attack {attack.name} not run: a cascade's output on a perturbed input depends on its router, "
                     "so an attack on one stage does not bound the cascade's robust accuracy")
    else:
        attack_params = params_with_defaults(attack.params_schema, {})
        cb = on_progress(len(indices), f"attack {attack.name}") if on_progress else None
        attack_block, witnesses = run_attack(attack, loaded, indices, norm, radius, attack_params, opts, cb)
        notes.extend(attack_block.pop("notes", []))
    t_verify = time.monotonic()

    claimed = float(entry["result"]["certified_accuracy"])
    early_refuted = False
    if attack_block is not None and shard_n == 1:
        attacked = attack_counts(attack_block)
        early_refuted = attacked is not None and attacked.n > 0 and claimed > attacked.upper
        attack_block["early_stop"] = early_refuted
        if early_refuted:
            notes.append("the attack refuted the claim before certification: the verifier was not run")

    # ---- verifier
    results: list[SampleResult] = []
    if not early_refuted:
        cb = on_progress(len(indices), f"{verifier.name}") if on_progress else None
        for start in range(0, len(indices), opts.batch_size):
            chunk = indices[start:start + opts.batch_size]
            task = VerifyTask(
                model=loaded.model, inputs=loaded.split.inputs[chunk].to(loaded.device),
                labels=loaded.split.labels[chunk].to(loaded.device), indices=list(chunk), norm=norm, radius=radius,
                params=params, num_classes=num_classes, device=loaded.device, seed=opts.seed,
                time_limit=opts.time_limit, progress=cb,
            )
            t0 = time.monotonic()
            try:
                got = verify_task(verifier, task)
            except Exception as exc:  # a plugin failure becomes per-sample errors, never a wrong number
                msg = f"{type(exc).__name__}: {exc}"
                per = (time.monotonic() - t0) / max(1, len(chunk))
                got = [SampleResult(i, int(loaded.split.labels[i]), -1, "error", per, extra={}) for i in chunk]
                notes.append(f"verifier {verifier.name} failed on samples {chunk[0]}..{chunk[-1]}: {msg}"[:500])
            by_index = {r.index: r for r in got}
            for i in chunk:
                r = by_index.get(i)
                if r is None or r.status not in ("certified", "not_certified", "abstain", "timeout", "error"):
                    r = SampleResult(i, int(loaded.split.labels[i]), -1, "error", 0.0)
                    notes.append(f"verifier {verifier.name} returned no valid result for sample {i}")
                results.append(r)

    # ---- soundness: a certified sample that the attack broke
    soundness = []
    for r in results:
        if r.status == "certified" and r.index in witnesses and witnesses[r.index]["status"] == "broken":
            w = witnesses[r.index]
            soundness.append({"index": r.index, "verifier": verifier.name, "attack": attack.name if attack else "",
                              "label": r.label, "certified_prediction": r.predicted, "replay": w["replay"],
                              "values": w["_values"]})
    t_end = time.monotonic()

    entry_sha = claim_digest(entry)
    verifier_block = {"name": verifier.name, "version": verifier.version, "params": params}
    ver_map = {name: info.version for name, info in host.plugins.items()}
    threat = {"norm": norm, "radius": radius, "radius_text": setting["radius_text"]}
    note = verifier.threat_note(norm, radius, tuple(entry["model"]["input_shape"]), params)
    if note:
        threat["note"] = note
    m = entry["model"]
    selection_sha = indices_sha256(all_indices)
    report: dict[str, Any] = {
        "report_version": REPORT_VERSION,
        "entry": {"id": entry["id"], "sha256": entry_sha, "claimed_certified_accuracy": claimed,
                  "verifier": cert["verifier"], "same_protocol": same_protocol(entry)},
        "model": {"sha256": m["sha256"], "format": m["format"], "architecture": (m.get("architecture") or {}).get("name", m["format"]),
                  "url": m["url"]},
        "dataset": {"name": setting["dataset"], "n_total": n_total, "selection": selection,
                    "indices_sha256": selection_sha, "source": loaded.split.source or ""},
        "threat": threat,
        "verifier": verifier_block,
        "attack": attack_block,
        "seed": int(opts.seed),
        "environment": environment(loaded.device, ver_map),
        "samples": sample_arrays(results),
        "soundness": soundness,
        "certified_accuracy": {"confidence": opts.confidence},
        "timings": {**{k: round(v, 6) for k, v in loaded.timings.items()},
                    "attack": round(t_verify - t_attack, 6), "verify": round(t_end - t_verify, 6),
                    "total": round(t_end - t_start, 6)},
        "shard": {"index": shard_i, "count": shard_n,
                  "run_id": run_id(entry_sha, m["sha256"], selection_sha, verifier_block, opts.seed, shard_n)},
        "created_at": now_iso(),
        "notes": notes,
        "smoke_run": smoke,
        "minimum_n": publishable_minimum(n_total),
        "protocol_floor": protocol_floor(verifier, params),
    }
    if "clean_accuracy" in entry["result"]:
        report["entry"]["claimed_clean_accuracy"] = float(entry["result"]["clean_accuracy"])
    # A claim measured on other samples than this run's is itself a binomial measurement: the
    # same-protocol refutation then compares two samples (docs/verdicts.md, rule 4).
    same_samples = claim_selection is not None and all_indices == select_indices(claim_selection, n_total,
                                                                                   base_dir=entry_path.parent)
    if "n_samples" in entry["result"] and not same_samples:
        report["entry"]["claimed_n_samples"] = int(entry["result"]["n_samples"])
    return summarize(report, opts.confidence)
