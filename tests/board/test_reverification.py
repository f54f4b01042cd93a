"""curator.board.reverification: a row is re-verified only when a stored report binds to exactly its claim,
covers the claim's full selection and its numbers are what its per-sample arrays give.

Every report here comes from a real ``curator verify`` run (crown + pgd on the bundled digits model)."""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path

import pytest

from curator.board import store
from curator.board.reverification import board_states, coverage, report_problems, row_state
from curator.core.digest import claim_digest
from curator.core.jsonio import dumps
from curator.verify.pipeline import VerifyOptions, verify_entry

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SELECTION = {"kind": "all"}  # the whole 360-image digits split: the publishable minimum there
N_TEST = 360


def _claim(folder: Path, eid: str, claim: float, radius: float) -> Path:
    entry = json.loads((EXAMPLES / "digits-smoothing.json").read_text())
    entry["id"] = eid
    entry["certification"] = {"type": "deterministic", "verifier": "crown", "params": {}}
    entry["setting"] = {"dataset": "digits", "norm": "linf", "radius": radius, "radius_text": str(radius)}
    entry["result"] = {"certified_accuracy": claim, "clean_accuracy": max(claim, 90.0), "n_samples": N_TEST,
                       "sample_selection": dict(SELECTION)}
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(EXAMPLES / "digits-mlp.safetensors", folder / "digits-mlp.safetensors")
    path = folder / f"{eid}.json"
    path.write_text(json.dumps(entry))
    return path


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Real reports: an honest claim on its full selection, the same claim as a 10-sample smoke run,
    and an over-claim that pgd refutes."""
    tmp = tmp_path_factory.mktemp("rv")
    honest = _claim(tmp / "honest", "digits-crown-honest", 50.0, 0.02)
    over = _claim(tmp / "over", "digits-crown-over", 99.0, 0.1)

    def run(path, **kw):
        return verify_entry(path, VerifyOptions(cache_dir=tmp / "cache", progress=False, **kw))

    # An honest claim states what the model gives: measure it once, then claim that number.
    measured = run(honest, seed=0)["certified_accuracy"]["value"]
    honest = _claim(tmp / "honest", "digits-crown-honest", round(measured, 2), 0.02)
    entry = json.loads(honest.read_text())
    out = {"entry": entry, "full": run(honest), "smoke": run(honest, samples=10),
           "over_entry": json.loads(over.read_text()), "over": run(over)}
    assert out["full"]["verdict"]["status"] == "confirmed" and out["full"]["totals"]["n"] == N_TEST
    assert out["over"]["verdict"]["status"] == "refuted"
    return out


def _store(tmp: Path, entry: dict, *reports: dict, status: str = "verified") -> Path:
    root = tmp / "leaderboard"
    stored = dict(copy.deepcopy(entry), status=status)
    store.write_entry(root, stored)
    for r in reports:
        store.write_report(root, entry["id"], r)
    return root


def test_a_report_that_binds_and_covers_makes_the_row_re_verified(runs, tmp_path):
    root = _store(tmp_path, runs["entry"], runs["full"])
    state = row_state(root, dict(runs["entry"], status="verified"))
    rep = runs["full"]
    assert report_problems(runs["entry"], rep) == []
    assert state.state == "re-verified" and state.problems == ()
    assert state.certified == {k: rep["certified_accuracy"][k] for k in ("value", "lower", "upper", "confidence")}
    assert state.certified["confidence"] == 0.99 and state.n == N_TEST
    assert state.clean == rep["clean_accuracy"]["value"]
    assert state.verifier == f"crown {rep['verifier']['version']}"
    sha = store.report_bytes(rep)[1]
    assert state.report == f"reports/{runs['entry']['id']}/{sha}.json" and (root / state.report).is_file()


def test_a_report_for_another_claim_digest_is_not_used(runs, tmp_path):
    changed = copy.deepcopy(runs["entry"])
    changed["training"]["method"] = "another method"  # the claim moved on after the run
    assert claim_digest(changed) != runs["full"]["entry"]["sha256"]
    root = _store(tmp_path, changed, runs["full"])
    state = row_state(root, dict(changed, status="verified"))
    assert state.state == "claimed" and state.certified is None and state.report is None
    assert any("digest" in p for p in state.problems)


def test_a_smoke_run_is_never_shown_as_re_verified(runs, tmp_path):
    smoke = runs["smoke"]
    assert smoke["smoke_run"] and smoke["verdict"]["status"] == "unconfirmed" and smoke["totals"]["n"] == 10
    root = _store(tmp_path, runs["entry"], smoke)
    state = row_state(root, dict(runs["entry"], status="verified"))
    assert state.state == "claimed"
    assert any("not the claim's full selection" in p for p in state.problems)
    assert any(f"n_samples = {N_TEST}" in p for p in state.problems)


def test_a_forged_verdict_is_recomputed_and_refused(runs, tmp_path):
    forged = copy.deepcopy(runs["over"])
    forged["verdict"] = {"status": "confirmed", "reason": "trust me"}
    root = _store(tmp_path, runs["over_entry"], forged)
    state = row_state(root, dict(runs["over_entry"], status="verified"))
    assert state.state == "claimed"
    assert any("its per-sample arrays give 'refuted'" in p for p in state.problems)


def test_a_summary_that_disagrees_with_its_arrays_is_refused(runs, tmp_path):
    forged = copy.deepcopy(runs["full"])
    forged["certified_accuracy"].update(value=97.5, lower=90.0, upper=99.9, successes=39)  # arrays say otherwise
    root = _store(tmp_path, runs["entry"], forged)
    state = row_state(root, dict(runs["entry"], status="verified"))
    assert state.state == "claimed" and state.certified is None
    assert any("is not what its per-sample arrays give" in p for p in state.problems)
    # the other way round: arrays edited to certify everything, summary left as verify wrote it
    arrays = copy.deepcopy(runs["full"])
    arrays["samples"]["status"] = ["certified"] * len(arrays["samples"]["status"])
    root2 = _store(tmp_path / "b", runs["entry"], arrays)
    assert row_state(root2, runs["entry"]).state == "claimed"


def test_a_report_edited_after_it_was_stored_is_ignored(runs, tmp_path):
    root = _store(tmp_path, runs["entry"], runs["full"])
    path = next((root / "reports" / runs["entry"]["id"]).glob("*.json"))
    path.write_text(dumps(dict(runs["full"], seed=1)))  # no longer the file its name hashes
    state = row_state(root, runs["entry"])
    assert state.state == "claimed" and any("sha256 is not its name" in p for p in state.problems)


def test_no_report_is_not_re_verified_whatever_the_entry_says(runs, tmp_path):
    entry = dict(runs["entry"], status="published",
                 reports=[{"path": "reports/x/" + "a" * 64 + ".json", "sha256": "a" * 64, "verdict": "confirmed",
                           "date": "2026-01-01"}])
    root = _store(tmp_path, entry)
    assert row_state(root, entry).state == "claimed"
    assert row_state(None, entry).state == "claimed"


def test_a_refuting_report_shows_refuted_and_wins_over_a_confirmation(runs, tmp_path):
    root = _store(tmp_path, runs["over_entry"], runs["over"])
    state = row_state(root, runs["over_entry"])
    # pgd refuted it before crown ran: the row shows the attack's upper bound, nothing certified
    assert state.state == "refuted" and state.report and state.certified is None
    assert state.attacked["name"] == "pgd" and state.attacked["upper"] < 99.0
    both = _store(tmp_path / "both", runs["over_entry"], runs["over"], _confirming(runs))
    assert row_state(both, runs["over_entry"]).state == "refuted"
    # a refuted status lowers the row even with no report; an annotation never raises it
    entry = dict(runs["entry"], status="refuted", reverification={"state": "pending", "reason": "x"})
    assert row_state(tmp_path / "empty", entry).state == "refuted"


def _confirming(runs):
    """The over-claim's report with arrays and numbers of a confirming full run (summarize recomputes
    them; only what is needed for the two reports to disagree changes)."""
    from curator.verify.report import summarize

    rep = copy.deepcopy(runs["over"])
    n = len(rep["attack"]["samples"]["index"])
    rep["attack"] = None
    rep["samples"] = {"index": copy.deepcopy(runs["over"]["attack"]["samples"]["index"]),
                      "label": [0] * n, "predicted": [0] * n, "status": ["certified"] * n, "radius": [None] * n,
                      "seconds": [0.0] * n, "extra": {}}
    rep["created_at"] = "2999-01-01T00:00:00Z"  # newer than the refuting one
    return summarize(rep)


def test_annotations_give_the_reason_and_are_not_part_of_the_claim(runs, tmp_path):
    note = {"state": "not-reverifiable", "reason": "no public weights"}
    entry = dict(runs["entry"], status="legacy", reverification=note)
    assert claim_digest(entry) == claim_digest(runs["entry"])
    state = row_state(tmp_path, entry)
    assert state.state == "not-reverifiable" and state.label == "not re-verifiable: no public weights"
    # a report that passes every check overrides the note
    root = _store(tmp_path, entry, runs["full"], status="legacy")
    assert row_state(root, entry).state == "re-verified"


def test_supersedes_links_the_legacy_row_only_from_a_measured_row(runs, tmp_path):
    legacy = dict(copy.deepcopy(runs["entry"]), id="digits-legacy-row", status="legacy")
    del legacy["model"]
    root = _store(tmp_path, runs["entry"], runs["full"])
    states = board_states(root, [legacy, dict(runs["entry"], status="verified")])
    assert states["digits-legacy-row"].superseded_by is None  # no supersedes field: no link
    # `supersedes` is part of the claim: the report made without it does not bind, so no link either
    new = dict(runs["entry"], supersedes="digits-legacy-row")
    states = board_states(root, [legacy, new])
    assert states[new["id"]].state == "claimed" and states["digits-legacy-row"].superseded_by is None


def test_supersedes_link_from_a_re_verified_submission(runs, tmp_path):
    from curator.core.schemas import ENTRY_SCHEMA_ID, get_schema

    if "supersedes" not in get_schema(ENTRY_SCHEMA_ID)["properties"]:
        pytest.skip("the entry schema has no `supersedes` field yet")
    path = _claim(tmp_path / "sub", "digits-crown-new", runs["entry"]["result"]["certified_accuracy"], 0.02)
    entry = json.loads(path.read_text())
    entry["supersedes"] = "digits-legacy-row"
    path.write_text(json.dumps(entry))
    report = verify_entry(path, VerifyOptions(cache_dir=tmp_path / "cache", progress=False))
    legacy = dict(copy.deepcopy(entry), id="digits-legacy-row", status="legacy")
    del legacy["model"], legacy["supersedes"]
    root = _store(tmp_path, entry, report)
    states = board_states(root, [legacy, dict(entry, status="verified")])
    assert states["digits-crown-new"].state == "re-verified"
    assert states["digits-legacy-row"].superseded_by == "digits-crown-new"


def test_coverage_line_counts_states(runs, tmp_path):
    root = _store(tmp_path, runs["entry"], runs["full"])
    legacy = dict(copy.deepcopy(runs["entry"]), id="digits-old", status="legacy",
                  reverification={"state": "not-reverifiable", "reason": "no public weights"})
    states = board_states(root, [runs["entry"], legacy])
    cov = coverage(states.values())
    assert cov.line() == "1 of 2 rows re-verified (1 not re-verifiable)"
    assert cov.as_dict()["re-verified"] == 1


def test_markdown_shows_the_measured_number_beside_the_claim(runs, tmp_path):
    from curator.board.render import render_markdown

    root = _store(tmp_path, runs["entry"], runs["full"])
    entries = [dict(runs["entry"], status="verified")]
    md = render_markdown(entries, board_states(root, entries))
    ca = runs["full"]["certified_accuracy"]
    sha = store.report_bytes(runs["full"])[1]
    assert f"| {ca['value']:.2f} [{ca['lower']:.2f}, {ca['upper']:.2f}] |" in md
    assert f"[re-verified](reports/digits-crown-honest/{sha}.json) · crown " in md
    assert "**1 of 1 row re-verified.**" in md
    # the same board without the store's reports: nothing measured, nothing re-verified
    assert "re-verified](" not in render_markdown(entries)


def test_a_pending_row_whose_weights_were_re_run_shows_the_re_run(runs, tmp_path):
    legacy = dict(copy.deepcopy(runs["entry"]), id="digits-pending-row", status="legacy",
                  reverification={"state": "pending", "reason": "public weights: examples/digits-mlp"})
    del legacy["model"]
    path = _claim(tmp_path / "sub", "digits-crown-rerun", runs["entry"]["result"]["certified_accuracy"], 0.02)
    entry = dict(json.loads(path.read_text()), supersedes="digits-pending-row")
    path.write_text(json.dumps(entry))
    report = verify_entry(path, VerifyOptions(cache_dir=tmp_path / "cache", progress=False))
    root = _store(tmp_path, entry, report)
    states = board_states(root, [legacy, dict(entry, status="verified")])
    old = states["digits-pending-row"]
    assert old.state == "superseded" and old.superseded_by == "digits-crown-rerun"
    assert old.reason == "re-verified" and coverage(states.values()).counts == {"re-verified": 1, "superseded": 1}
