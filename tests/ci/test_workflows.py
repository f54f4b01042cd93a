"""The GitHub workflows: linted by actionlint and zizmor, and held to the project's security policy.

The policy (docs/maintainers.md): least-privilege permissions everywhere; write access only where
the bot commits or deploys; no secret and no write token in any job that reads submitted files;
actions pinned by commit sha; no credentials left in checkouts; no expression pasted into a shell.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import click
import pytest
import yaml

from curator.cli import main as cli_main
from workflowkit import FILES, PIN_RE, REPO, SUBMISSION_TOUCHING_COMMANDS, WORKFLOWS, WRITE_ALLOWED, jobs, load, steps


def _tool(name: str) -> str | None:
    here = Path(sys.executable).parent / name
    return str(here) if here.exists() else shutil.which(name)


def test_the_five_workflows_exist():
    names = {p.name for p in FILES}
    assert {"submission.yml", "comment.yml", "reverify.yml", "publish.yml", "ci.yml"} <= names


def test_actionlint_has_no_findings():
    actionlint = _tool("actionlint")
    if actionlint is None:
        pytest.skip("actionlint is not installed (pip install -e '.[test]')")
    env = dict(os.environ)
    # actionlint runs shellcheck over every run: script when it finds it on PATH.
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    proc = subprocess.run([actionlint, "-no-color"], cwd=REPO, capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    if _tool("shellcheck") is None:
        pytest.skip("shellcheck not installed: run: scripts were not checked")


@pytest.mark.parametrize("persona", ["regular", "auditor"])
def test_zizmor_has_no_findings(persona):
    """Default severity, and the strictest persona too: every finding is fixed or explained inline."""
    zizmor = _tool("zizmor")
    if zizmor is None:
        pytest.skip("zizmor is not installed (pip install -e '.[test]')")
    env = {k: v for k, v in os.environ.items() if k not in ("GH_TOKEN", "GITHUB_TOKEN", "ZIZMOR_GITHUB_TOKEN")}
    proc = subprocess.run([zizmor, "--offline", "--no-progress", f"--persona={persona}", str(WORKFLOWS)],
                          cwd=REPO, capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "No findings" in proc.stdout + proc.stderr


def test_every_zizmor_ignore_says_why():
    for path in FILES:
        for line in path.read_text(encoding="utf-8").splitlines():
            if "zizmor: ignore" in line:
                reason = line.split("zizmor: ignore", 1)[1].split("]", 1)[1].strip()
                assert len(reason) > 20, f"{path.name}: an ignore without its reason: {line.strip()}"


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_top_level_and_job_permissions_are_explicit(path):
    doc = load(path)
    assert "permissions" in doc, f"{path.name}: no top-level permissions"
    top = doc["permissions"]
    assert top == {} or all(v in ("read", "none") for v in top.values()), f"{path.name}: top-level grants write"
    for name, job in jobs(path):
        assert "permissions" in job, f"{path.name}: job {name} has no permissions"
        assert "timeout-minutes" in job, f"{path.name}: job {name} has no timeout"
        granted = {k for k, v in (job["permissions"] or {}).items() if v == "write"}
        allowed = WRITE_ALLOWED.get((path.name, name), set())
        assert granted <= allowed, f"{path.name}: job {name} writes {granted - allowed}"


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_actions_are_pinned_by_sha_with_the_version_in_a_comment(path):
    lines = path.read_text(encoding="utf-8").splitlines()
    uses_lines = [line for line in lines if re.match(r"^\s*(-\s+)?uses:", line)]
    for line in uses_lines:
        ref = line.split("uses:", 1)[1].split("#", 1)[0].strip()
        assert PIN_RE.match(ref), f"{path.name}: {ref} is not pinned to a full commit sha"
        assert re.search(r"#\s*v\d", line), f"{path.name}: {ref} lacks its version tag comment"
    for name, job in jobs(path):
        for step in steps(job):
            if "uses" in step and step["uses"].startswith("actions/checkout@"):
                assert (step.get("with") or {}).get("persist-credentials") is False, \
                    f"{path.name}: job {name} keeps git credentials in its checkout"


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_no_expression_is_pasted_into_a_shell(path):
    for name, job in jobs(path):
        for step in steps(job):
            assert "${{" not in step.get("run", ""), f"{path.name}: job {name}: pass values through env:"


def _runs(job: dict) -> str:
    return "\n".join(step.get("run", "") for step in steps(job))


def test_jobs_that_read_submissions_hold_no_secret_and_no_write_token():
    touching = 0
    for path in FILES:
        for name, job in jobs(path):
            script = _runs(job)
            if not any(f"curator ci {cmd}" in script for cmd in SUBMISSION_TOUCHING_COMMANDS):
                continue
            touching += 1
            text = yaml.safe_dump(job)
            assert "secrets." not in text, f"{path.name}: job {name} reads submissions and uses a secret"
            assert "github.token" not in text, f"{path.name}: job {name} reads submissions and uses the token"
            assert all(v in ("read", "none") for v in (job["permissions"] or {}).values()), \
                f"{path.name}: job {name} reads submissions with write permissions"
    assert touching >= 4  # submission check, reverify prepare/verify/merge


def test_comment_workflow_never_checks_out_or_runs_code():
    for _name, job in jobs(WORKFLOWS / "comment.yml"):
        for step in steps(job):
            assert "run" not in step
            assert not step.get("uses", "").startswith("actions/checkout@")


def test_pull_request_target_only_dispatches():
    for path in FILES:
        triggers = load(path)["on"]
        if "pull_request_target" not in (triggers if isinstance(triggers, dict) else [triggers]):
            continue
        assert path.name == "reverify-label.yml"
        for _name, job in jobs(path):
            for step in steps(job):
                assert "uses" not in step, "the label dispatcher must not check out or run actions"
                assert step["run"].startswith("gh workflow run reverify.yml")


def test_reverify_runs_shards_on_gpu_runners_in_one_group_per_pr():
    doc = load(WORKFLOWS / "reverify.yml")
    assert "inputs.pr" in doc["concurrency"]["group"]
    assert set(doc["on"]) == {"workflow_dispatch"}
    verify = doc["jobs"]["verify"]
    assert verify["runs-on"] == ["self-hosted", "gpu"]
    assert "matrix" in verify["strategy"]
    assert doc["jobs"]["merge"]["needs"] == "verify"


def test_pages_deploy_uses_oidc_in_the_deploy_job_only():
    doc = load(WORKFLOWS / "publish.yml")
    deploy = doc["jobs"]["deploy"]
    assert deploy["permissions"] == {"pages": "write", "id-token": "write"}
    assert deploy["environment"]["name"] == "github-pages"
    for name, job in doc["jobs"].items():
        if name != "deploy":
            assert "id-token" not in (job["permissions"] or {})


def _ci_invocations():
    for path in FILES:
        for name, job in jobs(path):
            script = _runs(job).replace("\\\n", " ")
            for line in script.splitlines():
                if "curator ci " in line:
                    yield path.name, name, line[line.index("curator ci "):]


def test_every_curator_ci_call_in_the_yaml_is_a_real_command_with_real_options():
    group = cli_main.commands["ci"]
    seen = set()
    for fname, job, call in _ci_invocations():
        argv = shlex.split(call.split(">>")[0].split(")")[0])
        sub = argv[2]
        assert sub in group.commands, f"{fname}/{job}: curator ci {sub} does not exist"
        seen.add(sub)
        command: click.Command = group.commands[sub]
        known = {opt for p in command.params for opt in getattr(p, "opts", [])}
        for arg in argv[3:]:
            if arg.startswith("--"):
                assert arg in known, f"{fname}/{job}: curator ci {sub} has no option {arg}"
    assert {"check-submission", "changed-entries", "plan", "reverify-shard", "merge", "publish",
            "fetch-reports"} <= seen
