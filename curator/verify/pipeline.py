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
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from curator.api import Attack, SampleResult, Verifier, VerifyTask, params_with_defaults
from curator.board.publication import protocol_floor
from curator.core.digest import claim_digest, same_protocol
from curator.core.errors import CuratorError
from curator.core.jsonio import read_json
from curator.core.stats import DEFAULT_CONFIDENCE, publishable_minimum
from curator.engines.numerics import with_strict_float32
from curator.verify.batch import replay_attack, run_batch
from curator.verify.report import (
    MAX_WITNESS_VALUES,
    REPORT_VERSION,
    attack_counts,
    environment,
    now_iso,
    run_id,
    sample_arrays,
    summarize,
)

DEFAULT_ATTACK = "pgd"


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


# --------------------------------------------------------------------------- batches


def task_for(loaded: Loaded, chunk: list[int], norm: str, radius: float, params: dict[str, Any], opts: VerifyOptions,
             bar: Callable[[int], None] | None) -> VerifyTask:
    return VerifyTask(model=loaded.model, inputs=loaded.split.inputs[chunk].to(loaded.device),
                      labels=loaded.split.labels[chunk].to(loaded.device), indices=list(chunk), norm=norm,
                      radius=radius, params=params, num_classes=int(loaded.entry["model"]["num_classes"]),
                      device=loaded.device, seed=opts.seed, time_limit=opts.time_limit, progress=bar)


def chunks(indices: list[int], size: int) -> list[list[int]]:
    return [indices[start:start + size] for start in range(0, len(indices), size)]


# --------------------------------------------------------------------------- attack


def run_attack(attack: Attack, loaded: Loaded, indices: list[int], norm: str, radius: float, params: dict[str, Any],
               opts: VerifyOptions, bar: Callable[[int], None] | None) -> tuple[dict[str, Any], dict[int, dict]]:
    """Attack every sample; returns the report's ``attack`` block and the replayed witnesses by index."""
    import torch

    statuses: list[str] = []
    witnesses: dict[int, dict[str, Any]] = {}
    notes: list[str] = []
    for chunk in chunks(indices, opts.batch_size):
        task = task_for(loaded, chunk, norm, radius, params, opts, bar)
        results, replayed = replay_attack(attack, loaded.model, task.inputs, run_batch(attack, task, notes),
                                          norm, radius, notes)
        for row, r in enumerate(results):
            if row in replayed:
                witnesses[r.index] = {"index": r.index, "label": r.label, "status": r.status,
                                      "replay": replayed[row].why,
                                      "margin": float(r.extra["margin"]) if "margin" in r.extra else None,
                                      "_values": torch.as_tensor(replayed[row].witness).detach().cpu().flatten().tolist()}
            statuses.append(r.status)
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
    if not name or name not in registry.names("verifier"):
        return None
    try:
        return registry.attack(name)
    except CuratorError as exc:
        raise VerifyError(f"--attack {name}: {exc}") from None


# --------------------------------------------------------------------------- seeds


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


# --------------------------------------------------------------------------- the run, stage by stage


@dataclass
class Claim:
    """A valid entry and the verifier that re-verifies it, with its params (defaults filled in)."""

    path: Path
    entry: dict[str, Any]
    verifier: Verifier
    params: dict[str, Any]

    @property
    def norm(self) -> str:
        return self.entry["setting"]["norm"]

    @property
    def radius(self) -> float:
        return float(self.entry["setting"]["radius"])


@dataclass
class Samples:
    """Which test samples this run (this shard) verifies, and how they relate to the claim's own."""

    selection: dict[str, Any]  # as the report records it
    all_indices: list[int]  # every shard's
    indices: list[int]  # this shard's
    n_total: int
    smoke: bool  # not the claim's own selection
    same_as_claim: bool  # the claim states a selection, and it is exactly these samples


@dataclass
class AttackStage:
    attack: Attack | None = None
    block: dict[str, Any] | None = None  # the report's "attack"
    witnesses: dict[int, dict] = field(default_factory=dict)  # replayed witnesses by index
    early_refuted: bool = False


def load_claim(entry_path: Path, registry: Any) -> Claim:
    """The entry, valid, and a verifier that certifies (not an attack) in the entry's norm."""
    entry = load_entry(entry_path, registry)
    cert = entry["certification"]
    try:
        verifier = registry.certifier(cert["verifier"])
    except CuratorError as exc:
        raise VerifyError(f"{entry_path}: /certification/verifier: {exc}") from None
    claim = Claim(entry_path, entry, verifier, params_with_defaults(verifier.params_schema, cert.get("params") or {}))
    if claim.norm not in verifier.norms:
        raise VerifyError(f"{entry_path}: /setting/norm: verifier {verifier.name} does not handle {claim.norm}")
    return claim


def choose_samples(claim: Claim, loaded: Loaded, opts: VerifyOptions) -> Samples:
    from curator.core.sampling import select_indices, shard

    n_total = int(loaded.split.inputs.shape[0])
    base = claim.path.parent
    selection = selection_for(claim.entry, opts)
    all_indices = select_indices(selection, n_total, n=opts.samples, base_dir=base)
    if opts.samples is not None:
        selection = {**selection, "limit": opts.samples}
    claim_selection = claim.entry["result"].get("sample_selection")
    claims_own = select_indices(claim_selection or {"kind": "all"}, n_total, base_dir=base)
    return Samples(selection, all_indices, shard(all_indices, *opts.shard), n_total,
                   smoke=all_indices != claims_own,
                   same_as_claim=claim_selection is not None and all_indices == claims_own)


def attack_stage(claim: Claim, loaded: Loaded, samples: Samples, opts: VerifyOptions, registry: Any,
                 on_progress: Callable | None, notes: list[str]) -> AttackStage:
    """The attack pre-pass, when it can bound the claim, and whether it refutes the claim outright."""
    from curator.engines.cascade import is_cascade

    stage = AttackStage(find_attack(registry, opts.attack))
    attack = stage.attack
    probabilistic = claim.verifier.certification == "probabilistic" or claim.entry["certification"]["type"] == "probabilistic"
    if attack is None:
        if opts.attack:
            notes.append(f"no attack plugin {opts.attack!r} is installed: the claim was not attacked and "
                         "certificates were not cross-checked for soundness")
        return stage
    if probabilistic:
        notes.append(f"attack {attack.name} not run: the claim certifies a smoothed classifier, whose robustness an "
                     "attack on the base network does not bound")
        return stage
    if is_cascade(loaded.model):
        notes.append(f"attack {attack.name} not run: a cascade's output on a perturbed input depends on its router, "
                     "so an attack on one stage does not bound the cascade's robust accuracy")
        return stage
    params = params_with_defaults(attack.params_schema, {})
    bar = on_progress(len(samples.indices), f"attack {attack.name}") if on_progress else None
    stage.block, stage.witnesses = run_attack(attack, loaded, samples.indices, claim.norm, claim.radius, params, opts,
                                              bar)
    notes.extend(stage.block.pop("notes", []))
    if opts.shard[1] == 1:
        attacked = attack_counts(stage.block)
        claimed = float(claim.entry["result"]["certified_accuracy"])
        stage.early_refuted = attacked is not None and attacked.n > 0 and claimed > attacked.upper
        stage.block["early_stop"] = stage.early_refuted
        if stage.early_refuted:
            notes.append("the attack refuted the claim before certification: the verifier was not run")
    return stage


def run_verifier(claim: Claim, loaded: Loaded, indices: list[int], opts: VerifyOptions,
                 on_progress: Callable | None, notes: list[str]) -> list[SampleResult]:
    verifier = claim.verifier
    bar = on_progress(len(indices), f"{verifier.name}") if on_progress else None
    results: list[SampleResult] = []
    for chunk in chunks(indices, opts.batch_size):
        task = task_for(loaded, chunk, claim.norm, claim.radius, claim.params, opts, bar)
        results.extend(run_batch(verifier, task, notes))
    return results


def soundness_failures(results: list[SampleResult], claim: Claim, stage: AttackStage) -> list[dict[str, Any]]:
    """Samples the verifier certified that the attack broke with a witness curator replayed."""
    out = []
    for r in results:
        w = stage.witnesses.get(r.index)
        if r.status == "certified" and w is not None and w["status"] == "broken":
            out.append({"index": r.index, "verifier": claim.verifier.name,
                        "attack": stage.attack.name if stage.attack else "", "label": r.label,
                        "certified_prediction": r.predicted, "replay": w["replay"], "values": w["_values"]})
    return out


def build_report(claim: Claim, loaded: Loaded, samples: Samples, stage: AttackStage, results: list[SampleResult],
                 soundness: list[dict[str, Any]], opts: VerifyOptions, host: Any, timings: dict[str, float],
                 notes: list[str]) -> dict[str, Any]:
    """The report, its numbers recomputed from the samples by :func:`summarize`."""
    from curator.core.sampling import indices_sha256

    entry, setting, m = claim.entry, claim.entry["setting"], claim.entry["model"]
    entry_sha = claim_digest(entry)
    verifier_block = {"name": claim.verifier.name, "version": claim.verifier.version, "params": claim.params}
    threat = {"norm": claim.norm, "radius": claim.radius, "radius_text": setting["radius_text"]}
    note = claim.verifier.threat_note(claim.norm, claim.radius, tuple(m["input_shape"]), claim.params)
    if note:
        threat["note"] = note
    selection_sha = indices_sha256(samples.all_indices)
    shard_i, shard_n = opts.shard
    report: dict[str, Any] = {
        "report_version": REPORT_VERSION,
        "entry": {"id": entry["id"], "sha256": entry_sha,
                  "claimed_certified_accuracy": float(entry["result"]["certified_accuracy"]),
                  "verifier": entry["certification"]["verifier"], "same_protocol": same_protocol(entry)},
        "model": {"sha256": m["sha256"], "format": m["format"],
                  "architecture": (m.get("architecture") or {}).get("name", m["format"]), "url": m["url"]},
        "dataset": {"name": setting["dataset"], "n_total": samples.n_total, "selection": samples.selection,
                    "indices_sha256": selection_sha, "source": loaded.split.source or ""},
        "threat": threat,
        "verifier": verifier_block,
        "attack": stage.block,
        "seed": int(opts.seed),
        "environment": environment(loaded.device, {name: info.version for name, info in host.plugins.items()}),
        "samples": sample_arrays(results),
        "soundness": soundness,
        "certified_accuracy": {"confidence": opts.confidence},
        "timings": {**{k: round(v, 6) for k, v in loaded.timings.items()},
                    **{k: round(v, 6) for k, v in timings.items()}},
        "shard": {"index": shard_i, "count": shard_n,
                  "run_id": run_id(entry_sha, m["sha256"], selection_sha, verifier_block, opts.seed, shard_n)},
        "created_at": now_iso(),
        "notes": notes,
        "smoke_run": samples.smoke,
        "minimum_n": publishable_minimum(samples.n_total),
        "protocol_floor": protocol_floor(claim.verifier, claim.params),
    }
    if "clean_accuracy" in entry["result"]:
        report["entry"]["claimed_clean_accuracy"] = float(entry["result"]["clean_accuracy"])
    # A claim measured on other samples than this run's is itself a binomial measurement: the
    # same-protocol refutation then compares two samples (docs/verdicts.md, rule 4).
    if "n_samples" in entry["result"] and not samples.same_as_claim:
        report["entry"]["claimed_n_samples"] = int(entry["result"]["n_samples"])
    return summarize(report, opts.confidence)


@with_strict_float32  # no TF32 in any verifier or attack (curator/engines/numerics.py)
def verify_entry(entry_path: str | Path, opts: VerifyOptions | None = None, host: Any = None,
                 on_progress: Callable[[int, int, str], Callable[[int], None] | None] | None = None) -> dict[str, Any]:
    """Run the whole pipeline and return the report (schema-valid, numbers from :func:`summarize`).

    ``on_progress(total, desc)`` may return a callback taking the number of samples just finished
    (the CLI's tqdm bar); None shows nothing.
    """
    from curator.api.registry import get_host

    opts = with_seed(opts or VerifyOptions())
    host = host or get_host()
    t_start = time.monotonic()
    claim = load_claim(Path(entry_path), host.registry)
    loaded = load_everything(claim.path, claim.entry, host.registry, opts)
    samples = choose_samples(claim, loaded, opts)
    notes: list[str] = []
    t_attack = time.monotonic()
    stage = attack_stage(claim, loaded, samples, opts, host.registry, on_progress, notes)
    t_verify = time.monotonic()
    results = [] if stage.early_refuted else run_verifier(claim, loaded, samples.indices, opts, on_progress, notes)
    soundness = soundness_failures(results, claim, stage)
    t_end = time.monotonic()
    timings = {"attack": t_verify - t_attack, "verify": t_end - t_verify, "total": t_end - t_start}
    return build_report(claim, loaded, samples, stage, results, soundness, opts, host, timings, notes)
