"""The GitHub REST calls of the publish workflow: which pull request a pushed commit merged, and
the re-verification report that reverify.yml uploaded for it.

Only artifacts from runs of ``.github/workflows/reverify.yml`` started by ``workflow_dispatch``
on the default branch count: a pull request can run its own workflows and upload artifacts with
any name, so the artifact's name alone proves nothing. ``curator approve`` then checks that the
report belongs to exactly the merged claim (entry and model digests) and says ``confirmed``.
"""

from __future__ import annotations

import io
import os
import re
import zipfile
from pathlib import Path
from typing import Any

import requests

from curator.ci.errors import CiError
from curator.ci.layout import SLUG
from curator.ci.shards import SMOKE_TAG
from curator.core.jsonio import MAX_JSON_BYTES, write_bytes_atomic

REVERIFY_WORKFLOW = ".github/workflows/reverify.yml"
MAX_ARTIFACT_BYTES = 64 * 1024 * 1024
TIMEOUT = (10, 60)


def artifact_name(pr: int) -> str:
    return f"curator-reverify-pr-{pr}"


def run_name(pr: int, smoke: bool = False) -> str:
    """The ``run-name`` reverify.yml gives a run: which PR it verified, and whether it was a smoke run."""
    return f"reverify PR #{pr}" + (" (smoke run)" if smoke else "")


class GitHub:
    def __init__(self, repo: str, token: str | None, api_url: str | None = None):
        if not re.fullmatch(r"[\w.-]+/[\w.-]+", repo or ""):
            raise CiError(f"not an owner/name repository: {repo!r}")
        self.repo = repo
        self.api = (api_url or os.environ.get("GITHUB_API_URL") or "https://api.github.com").rstrip("/")
        self.session = requests.Session()
        self.session.headers.update({"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"})
        if token:
            self.session.headers["Authorization"] = f"Bearer {token}"

    def get(self, path: str, **params: Any) -> Any:
        url = f"{self.api}/repos/{self.repo}/{path}"
        resp = self.session.get(url, params=params or None, timeout=TIMEOUT)
        if resp.status_code != 200:
            raise CiError(f"GitHub API GET {url}: HTTP {resp.status_code} {resp.text[:200]}")
        return resp.json()

    def merged_pull_request(self, sha: str) -> int:
        """The pull request whose merge produced ``sha`` (GitHub links merge commits to their PR)."""
        if not re.fullmatch(r"[0-9a-f]{40}", sha or ""):
            raise CiError(f"not a commit sha: {sha!r}")
        pulls = self.get(f"commits/{sha}/pulls")
        merged = [p for p in pulls if p.get("merged_at")]
        exact = [p for p in merged if p.get("merge_commit_sha") == sha]
        chosen = (exact or merged)
        if not chosen:
            raise CiError(f"commit {sha[:12]} is not the merge of a pull request; "
                          "submissions reach main through reviewed, re-verified pull requests")
        return int(chosen[0]["number"])

    def trusted_run(self, run_id: int, default_branch: str) -> bool:
        run = self.get(f"actions/runs/{int(run_id)}")
        path = str(run.get("path", "")).split("@", 1)[0]
        return (path == REVERIFY_WORKFLOW and run.get("event") == "workflow_dispatch"
                and run.get("head_branch") == default_branch)

    def newest_reverify_run(self, pr: int, default_branch: str) -> dict[str, Any]:
        """The newest trusted reverify run for PR ``pr`` (its run name says which PR, see reverify.yml)."""
        names = (run_name(pr), run_name(pr, smoke=True))
        runs = self.get(f"actions/workflows/{Path(REVERIFY_WORKFLOW).name}/runs", event="workflow_dispatch",
                        branch=default_branch, per_page=100).get("workflow_runs", [])
        mine = [r for r in runs if r.get("display_title") in names and r.get("event") == "workflow_dispatch"
                and r.get("head_branch") == default_branch]
        if not mine:
            raise CiError(f"no re-verification report for PR #{pr} (no {REVERIFY_WORKFLOW} run on {default_branch} "
                          "for it); run reverify before merging")
        return max(mine, key=lambda r: (r.get("created_at", ""), int(r.get("id", 0))))

    def report_artifact(self, pr: int, default_branch: str) -> dict[str, Any]:
        """The ``curator-reverify-pr-N`` artifact of the *newest* trusted reverify run for the PR.

        Never an older run's: when the newest run left no report (it failed, was cancelled, or was
        a smoke run whose reports cannot publish), this fails instead of falling back to a report the
        maintainers have since re-run."""
        newest = self.newest_reverify_run(pr, default_branch)
        rid, when = newest.get("id"), newest.get("created_at", "?")
        if newest.get("display_title") == run_name(pr, smoke=True):
            raise CiError(f"the newest reverify run for PR #{pr} (run {rid}, {when}) was a smoke run (samples > 0): "
                          "its reports cannot publish; run reverify with samples 0 before merging")
        if newest.get("status", "completed") != "completed":
            raise CiError(f"the newest reverify run for PR #{pr} (run {rid}, {when}) has not finished")
        if not self.trusted_run(int(rid), default_branch):
            raise CiError(f"reverify run {rid} is not a {REVERIFY_WORKFLOW} run dispatched on {default_branch}")
        found = self.get("actions/artifacts", name=artifact_name(pr), per_page=100).get("artifacts", [])
        for art in found:
            if (art.get("name") == artifact_name(pr) and not art.get("expired")
                    and (art.get("workflow_run") or {}).get("id") == rid):
                return art
        raise CiError(f"the newest reverify run for PR #{pr} (run {rid}, {when}) left no report (artifact "
                      f"{artifact_name(pr)}); older runs' reports are not used: re-run reverify before merging")

    def download(self, artifact: dict[str, Any]) -> bytes:
        url = f"{self.api}/repos/{self.repo}/actions/artifacts/{int(artifact['id'])}/zip"
        # GitHub answers with a redirect to short-lived storage; requests drops the Authorization
        # header when the redirect leaves the API host.
        with self.session.get(url, stream=True, timeout=TIMEOUT) as resp:
            if resp.status_code != 200:
                raise CiError(f"GitHub API GET {url}: HTTP {resp.status_code}")
            buf = io.BytesIO()
            for chunk in resp.iter_content(1 << 16):
                buf.write(chunk)
                if buf.tell() > MAX_ARTIFACT_BYTES:
                    raise CiError(f"artifact {artifact.get('name')} is over {MAX_ARTIFACT_BYTES} bytes")
        return buf.getvalue()


def extract_reports(zip_bytes: bytes, out_dir: Path) -> list[Path]:
    """Write the ``<id>.json`` members of the artifact; any other member name is refused."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(zip_bytes))
    except zipfile.BadZipFile as exc:
        raise CiError(f"the report artifact is not a zip archive: {exc}") from None
    members = [m for m in archive.infolist() if not m.is_dir()]
    for member in members:
        if re.fullmatch(rf"{SLUG}{re.escape(SMOKE_TAG)}\.json", member.filename):
            raise CiError(f"{member.filename} in the report artifact is a smoke-run report: it cannot publish")
        if not re.fullmatch(rf"{SLUG}\.json", member.filename):
            raise CiError(f"unexpected file {member.filename!r} in the report artifact")
        if member.file_size > MAX_JSON_BYTES:
            raise CiError(f"{member.filename} in the report artifact is {member.file_size} bytes, too big")
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for member in members:
        data = archive.read(member)[: MAX_JSON_BYTES + 1]
        if len(data) > MAX_JSON_BYTES:
            raise CiError(f"{member.filename} in the report artifact is too big")
        target = out_dir / member.filename
        write_bytes_atomic(target, data)
        written.append(target)
    if not written:
        raise CiError("the report artifact is empty")
    return written


def fetch_reports(gh: GitHub, commit: str, out_dir: Path, default_branch: str = "main") -> tuple[int, list[Path]]:
    pr = gh.merged_pull_request(commit)
    artifact = gh.report_artifact(pr, default_branch)
    return pr, extract_reports(gh.download(artifact), out_dir)
