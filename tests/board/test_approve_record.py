"""`curator approve --record` and `ci publish` keep full-protocol runs that did not confirm, and the
verdict rules for claims that name their own certifier (`certification.claimed_with`)."""

from __future__ import annotations

import pytest

from boardkit import _claim_indices, git, init_board_repo, make_entry, make_report, write
from curator.api.registry import Registry
from curator.board.approve import ApprovalRefused, approve
from curator.board.reverification import row_state
from curator.ci.publish import publish
from curator.core.jsonio import read_json
from curator.core.stats import decide, proportion

NO_PLUGINS = Registry()


@pytest.fixture
def board(tmp_path):
    return init_board_repo(tmp_path / "board")


def _claim(eid="paper-net", certified=60.0, **kw):
    entry = make_entry(eid, certified=certified, **kw)
    entry["certification"]["claimed_with"] = "the paper's own certifier"
    return entry


def _arrays_certifying(entry, share):
    """Full-selection radii certifying ``share`` of the claim's samples."""
    n = len(_claim_indices(entry))
    r = entry["setting"]["radius"]
    k = round(share * n)
    return [round(r + 0.1, 4) if i < k else None for i in range(n)]


def _record(board, tmp_path, entry, report, **kw):
    sub = write(tmp_path / "sub" / f"{entry['id']}.json", entry)
    rep = write(tmp_path / "sub" / "report.json", report)
    return approve(sub, rep, store_root=board / "leaderboard", registry=NO_PLUGINS, record=True, **kw)


def test_an_unconfirmed_full_run_is_recorded_as_submitted_with_its_report(board, tmp_path):
    entry = _claim(certified=60.0)
    report = make_report(entry, radii=_arrays_certifying(entry, 0.30))
    assert report["verdict"]["status"] == "unconfirmed"  # another verifier certified less: no refutation

    result = _record(board, tmp_path, entry, report, pr=7)

    assert result.action == "record" and result.status == "submitted"
    stored = read_json(result.entry_path)
    assert stored["status"] == "submitted" and stored["reports"][0]["verdict"] == "unconfirmed"
    assert git(board, "log", "-1", "--format=%s").startswith("leaderboard: record the re-verification of paper-net")
    state = row_state(board / "leaderboard", stored)
    assert state.state == "unconfirmed", state.problems
    assert state.certified["value"] == pytest.approx(30.0, abs=0.5)


@pytest.mark.parametrize("case", ["confirmed", "smoke", "forged-verdict", "flag"])
def test_record_refuses_what_is_not_a_full_honest_run(board, tmp_path, case):
    entry = _claim(certified=60.0)
    if case == "confirmed":
        report = make_report(entry)  # inside the interval: approve it, do not record it
    elif case == "smoke":
        report = make_report(entry, radii=_arrays_certifying(entry, 0.30)[:100])
    elif case == "forged-verdict":
        report = make_report(entry, verdict="unconfirmed")  # its arrays confirm
    else:  # the report hides that the claim names its own certifier, to turn refuted into unconfirmed
        report = make_report(entry, radii=_arrays_certifying(entry, 0.30))
        report["entry"]["same_protocol"] = True
    head = git(board, "rev-parse", "HEAD").strip()
    with pytest.raises(ApprovalRefused):
        _record(board, tmp_path, entry, report)
    assert git(board, "rev-parse", "HEAD").strip() == head
    assert git(board, "status", "--porcelain").strip() == ""


def test_record_never_publishes(board, tmp_path):
    entry = _claim(certified=60.0)
    report = make_report(entry, radii=_arrays_certifying(entry, 0.30))
    with pytest.raises(ApprovalRefused, match="without --publish"):
        _record(board, tmp_path, entry, report, publish=True)


def test_a_claim_naming_its_own_certifier_is_confirmed_below_the_interval_and_never_refuted_by_protocol():
    measured = proportion(900, 1000)  # 90% [87.3%, 92.3%]
    below, above = 80.0, 97.0
    assert decide(below, measured, same_protocol=False, verifier="crown", min_n=500).status == "confirmed"
    assert decide(below, measured, same_protocol=True, verifier="crown", min_n=500).status == "unconfirmed"
    assert decide(above, measured, same_protocol=False, verifier="crown", min_n=500).status == "unconfirmed"
    assert decide(above, measured, same_protocol=True, verifier="crown", min_n=500).status == "refuted"
    small = proportion(9, 10)
    assert decide(10.0, small, same_protocol=False, verifier="crown", min_n=500).status == "unconfirmed"


def test_ci_publish_records_an_unconfirmed_report_and_publishes_nothing(board, tmp_path):
    entry = _claim("recorded-net", certified=60.0)
    # the approve subprocess checks the entry against the installed plugins: a real architecture
    entry["model"]["architecture"] = {"name": "fc", "kwargs": {"input_shape": [3, 32, 32], "hidden": [16],
                                                               "num_classes": 10}}
    report = make_report(entry, radii=_arrays_certifying(entry, 0.30))
    before = git(board, "rev-parse", "HEAD").strip()
    write(board / "submissions" / "recorded-net.json", entry)
    git(board, "add", "-A")
    git(board, "commit", "-q", "-m", "merge PR")
    after = git(board, "rev-parse", "HEAD").strip()
    reports = tmp_path / "reports"
    write(reports / "recorded-net.json", report)
    published = publish(board, before, after, reports)
    assert [(p.entry_id, p.action) for p in published] == [("recorded-net", "recorded")]
    stored = read_json(board / "leaderboard/entries/cifar10/l2/recorded-net.json")
    assert stored["status"] == "submitted" and stored["reports"][0]["verdict"] == "unconfirmed"
    assert git(board, "status", "--porcelain").strip() == ""
