"""Re-verification on GPU runners: the job matrix (claims × shards) and one shard's run.

A shard is named ``i/n`` as on the command line: 1-based, ``1/4`` … ``4/4``
(:func:`curator.core.sampling.parse_shard`). Its report is ``<id>.shard-<i>-of-<n>.json`` with
the same 1-based ``i``; a ``--samples`` smoke run's name carries :data:`SMOKE_TAG`.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from curator.ci.commands import Ran, run_for_report, verify_argv
from curator.ci.errors import CiError
from curator.ci.layout import SLUG, classify
from curator.core.errors import UsageError
from curator.core.jsonio import JsonFileError, read_json
from curator.core.sampling import parse_shard
from curator.verify.compute_budget import BudgetError, check_budget

MAX_SHARDS = 64
SMOKE_TAG = ".smoke"  # in the file name of every report of a --samples run: it can never publish
# <id>[.smoke].shard-<i>-of-<n>.json; group 1 is the claim's id with its smoke tag
SHARD_REPORT_RE = re.compile(rf"({SLUG}(?:{re.escape(SMOKE_TAG)})?)\.shard-([0-9]+)-of-([0-9]+)\.json")


def reverify_matrix(entries_dir: Path, shards: int) -> dict[str, Any]:
    """The job matrix: every extracted claim × every shard (names are slugs, safe in job names).

    Every claim's compute is estimated first (curator.verify.compute_budget); one over the limit fails
    the plan, so no runner is started for a protocol curator would never finish.

    Each claim's run gets one fresh random seed, the same for all its shards (they merge only when
    their seeds agree); nobody knows it before the run, so no model can be trained on its noise."""
    from curator.verify.pipeline import fresh_seed

    if not 1 <= shards <= MAX_SHARDS:
        raise UsageError(f"--shards must be between 1 and {MAX_SHARDS}")
    include, over = [], []
    for path in sorted(entries_dir.rglob("*.json")):
        rel = path.relative_to(entries_dir).as_posix()
        kind, eid = classify(rel)
        if kind not in ("submission", "entry"):
            continue
        try:
            entry = read_json(path)
            check_budget(entry if isinstance(entry, dict) else {}, rel)
        except (BudgetError, JsonFileError) as exc:
            over.append(str(exc))
            continue
        seed = fresh_seed()
        for i in range(1, shards + 1):
            include.append({"entry": rel, "id": eid, "shard": f"{i}/{shards}", "index": i, "seed": seed})
    if over:
        raise CiError("refused before any GPU job starts:\n" + "\n".join(over))
    if not include:
        raise CiError(f"no claim files under {entries_dir}")
    return {"include": include}


def shard_report_name(entry_id: str, shard: str, smoke: bool = False) -> str:
    """``<id>[.smoke].shard-<i>-of-<n>.json`` for the 1-based shard ``i/n``."""
    index, count = parse_shard(shard)
    return f"{entry_id}{SMOKE_TAG if smoke else ''}.shard-{index + 1}-of-{count}.json"


def reverify_shard(repo: Path, entry: Path, shard: str, out: Path, *, samples: int | None = None,
                   device: str | None = None, seed: int | None = None) -> Ran:
    """``curator verify`` on shard ``i/n`` (1-based) of the claim; its report goes to ``out``."""
    parse_shard(shard)
    out.parent.mkdir(parents=True, exist_ok=True)
    return run_for_report(verify_argv(str(entry), shard, str(out), samples=samples, device=device, seed=seed),
                          repo, out, "curator verify")
