"""comment.yml's github-script, run in Node against a recording stand-in for GitHub's REST client.

The script is taken from the workflow file itself and run the way actions/github-script runs it
(an async function of require, github, context, core). Only GitHub is replaced; the artifact
folder is real files. Skipped where Node is not installed.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
WORKFLOW = REPO / ".github" / "workflows" / "comment.yml"
NODE = shutil.which("node") or shutil.which("nodejs")

pytestmark = pytest.mark.skipif(NODE is None, reason="node is not installed")

HARNESS = r"""
const fs = require('fs');
const [scenarioPath, scriptPath, outPath] = process.argv.slice(2);
const scenario = JSON.parse(fs.readFileSync(scenarioPath, 'utf8'));
const calls = [];
const core = { setFailed: (m) => { calls.push(['setFailed', m]); } };
const github = {
  rest: {
    pulls: {
      get: async (p) => { calls.push(['pulls.get', p]); return { data: scenario.pull }; },
      listFiles: async () => { throw new Error('use paginate'); },
    },
    issues: {
      listComments: async () => { throw new Error('use paginate'); },
      updateComment: async (p) => { calls.push(['updateComment', p]); return {}; },
      createComment: async (p) => { calls.push(['createComment', p]); return {}; },
    },
  },
  paginate: async (fn, p) => {
    if (fn === github.rest.pulls.listFiles) {
      if (p.pull_number !== scenario.pull.number) throw new Error('files of another PR');
      return scenario.files || [];
    }
    if (fn !== github.rest.issues.listComments) throw new Error('unexpected paginate');
    calls.push(['paginate', p]);
    return scenario.comments;
  },
};
const context = { payload: scenario.payload, repo: { owner: 'board', repo: 'curator' } };
const AsyncFunction = Object.getPrototypeOf(async function () {}).constructor;
const run = new AsyncFunction('require', 'github', 'context', 'core', fs.readFileSync(scriptPath, 'utf8'));
run(require, github, context, core)
  .then(() => fs.writeFileSync(outPath, JSON.stringify(calls)))
  .catch((e) => { console.error(e); process.exit(2); });
"""

SUBMISSION_RUN = {"path": ".github/workflows/submission.yml", "event": "pull_request", "head_sha": "b" * 40,
                  "head_branch": "contributor-branch", "html_url": "https://github.test/run/1"}
REVERIFY_RUN = {"path": ".github/workflows/reverify.yml", "event": "workflow_dispatch", "head_sha": "c" * 40,
                "head_branch": "main", "html_url": "https://github.test/run/2"}


def script_text() -> str:
    doc = yaml.safe_load(WORKFLOW.read_text())
    steps = doc["jobs"]["comment"]["steps"]
    return next(s for s in steps if "github-script" in s.get("uses", ""))["with"]["script"]


def play(tmp_path: Path, run: dict, *, pr_text="7\n", body="## check\nall good\n", head="b" * 40, comments=(),
         files=({"filename": "submissions/demo-net.json"},)):
    artifact = tmp_path / "artifact"
    artifact.mkdir(exist_ok=True)
    (artifact / "pr-number.txt").write_text(pr_text)
    (artifact / "comment.md").write_text(body)
    scenario = {"payload": {"workflow_run": run, "repository": {"default_branch": "main"}},
                "pull": {"number": 7, "head": {"sha": head}}, "comments": list(comments), "files": list(files)}
    (tmp_path / "scenario.json").write_text(json.dumps(scenario))
    (tmp_path / "script.js").write_text(script_text())
    (tmp_path / "harness.js").write_text(HARNESS)
    out = tmp_path / "calls.json"
    proc = subprocess.run([NODE, str(tmp_path / "harness.js"), str(tmp_path / "scenario.json"),
                           str(tmp_path / "script.js"), str(out)], capture_output=True, text=True,
                          env={"COMMENT_DIR": str(artifact), "PATH": "/usr/bin:/bin"}, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return json.loads(out.read_text())


def kinds(calls):
    return [c[0] for c in calls]


def test_first_check_creates_one_marked_comment(tmp_path):
    calls = play(tmp_path, SUBMISSION_RUN)
    assert kinds(calls) == ["pulls.get", "paginate", "createComment"]
    created = calls[-1][1]
    assert created["issue_number"] == 7
    assert created["body"].startswith("<!-- curator:submission-check -->\n## check")


def test_a_later_check_edits_the_bot_comment_with_its_marker(tmp_path):
    comments = [{"id": 1, "user": {"type": "User"}, "body": "<!-- curator:submission-check --> spoofed by a person"},
                {"id": 2, "user": {"type": "Bot"}, "body": "<!-- curator:reverify -->\nverdict"},
                {"id": 3, "user": {"type": "Bot"}, "body": "<!-- curator:submission-check -->\nold"}]
    calls = play(tmp_path, SUBMISSION_RUN, comments=comments)
    assert kinds(calls)[-1] == "updateComment"
    assert calls[-1][1]["comment_id"] == 3


def test_reverify_verdict_gets_its_own_marker(tmp_path):
    calls = play(tmp_path, REVERIFY_RUN, head="d" * 40)  # the PR head need not be main's sha
    assert kinds(calls)[-1] == "createComment"
    assert calls[-1][1]["body"].startswith("<!-- curator:reverify -->")


@pytest.mark.parametrize("pr_text", ["7; rm -rf /", "0", "12345678901", "7\n8"])
def test_a_bad_pr_number_posts_nothing(tmp_path, pr_text):
    calls = play(tmp_path, SUBMISSION_RUN, pr_text=pr_text)
    assert kinds(calls) == ["setFailed"]


def test_a_check_of_another_commit_posts_nothing(tmp_path):
    calls = play(tmp_path, SUBMISSION_RUN, head="e" * 40)
    assert kinds(calls) == ["pulls.get", "setFailed"]


@pytest.mark.parametrize("run", [
    {**SUBMISSION_RUN, "path": ".github/workflows/evil.yml"},
    {**REVERIFY_RUN, "event": "pull_request"},  # a PR's own workflow calling itself reverify
    {**REVERIFY_RUN, "head_branch": "contributor-branch"},
])
def test_runs_that_are_not_ours_post_nothing(tmp_path, run):
    calls = play(tmp_path, run)
    assert kinds(calls) == ["setFailed"]


def test_the_body_is_capped(tmp_path):
    calls = play(tmp_path, SUBMISSION_RUN, body="x" * 200_000)
    assert len(calls[-1][1]["body"]) < 65_536


def test_files_beyond_the_claim_are_listed_from_the_default_branch_and_fail_the_run(tmp_path):
    # The PR edited submission.yml so that its own check says all good; comment.yml (default
    # branch) lists what GitHub says the PR changes, escaped, and fails its run.
    files = [{"filename": "submissions/demo-net.json"}, {"filename": ".github/workflows/submission.yml"},
             {"filename": "curator/site/templates/<b>x</b>.html", "previous_filename": "curator/site/templates/x.html"}]
    calls = play(tmp_path, SUBMISSION_RUN, body="## ✅ curator submission check\nall good\n", files=files)
    assert kinds(calls) == ["pulls.get", "paginate", "createComment", "setFailed"]
    body = calls[2][1]["body"]
    assert body.startswith("<!-- curator:submission-check -->\n> [!CAUTION]")
    assert "changes 3 file(s) besides" in body and ".github/workflows/submission.yml" in body
    assert "&lt;b&gt;x&lt;/b&gt;.html" in body and "<b>x</b>" not in body
    assert "submissions/demo-net.json" not in body.split("</pre>")[0]
    assert "3 file(s)" in calls[3][1]


def test_a_reverify_verdict_does_not_list_files(tmp_path):
    calls = play(tmp_path, REVERIFY_RUN, head="d" * 40, files=[{"filename": "curator/ci/jobs.py"}])
    assert kinds(calls)[-1] == "createComment" and "CAUTION" not in calls[-1][1]["body"]
