"""Every command line CI runs, and running them: the one place that holds them.

Each is ``curator …`` run by this very interpreter, so the workflow's venv and the test's run the
same curator; the output is captured and the command echoed, so CI logs show exactly what ran.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from curator.ci.errors import CiError


def curator_argv(*args: str) -> list[str]:
    """``curator …`` as run by this very interpreter (the workflow's and the test's venv alike)."""
    return [sys.executable, "-m", "curator", *args]


def validate_argv(paths: Sequence[str], store: Path | None = None) -> list[str]:
    """``curator validate``; with the board's store, a ``supersedes`` id it lacks is an error."""
    extra = ["--store", str(store)] if store is not None else []
    return curator_argv("validate", *paths, *extra, "--format", "json")


def diff_argv(base: str, head: str) -> list[str]:
    return curator_argv("diff", f"{base}..{head}", "--format", "markdown")


def verify_argv(entry: str, shard: str, out: str, *, samples: int | None = None, device: str | None = None,
                seed: int | None = None) -> list[str]:
    argv = curator_argv("verify", entry, "--shard", shard, "--out", out, "--format", "json", "--quiet")
    if samples is not None:
        argv += ["--samples", str(samples)]
    if device:
        argv += ["--device", device]
    if seed is not None:
        argv += ["--seed", str(seed)]
    return argv


def merge_reports_argv(reports: Sequence[str], out: str) -> list[str]:
    return curator_argv("merge-reports", *reports, "--out", out)


def approve_argv(entry: str, report: str, pr: int | None, record: bool = False) -> list[str]:
    """``curator approve --publish`` for a confirmed claim; ``--record`` keeps a run that did not confirm."""
    mode = "--record" if record else "--publish"
    argv = curator_argv("approve", entry, "--report", report, mode, "--format", "json")
    if pr is not None:
        argv += ["--pr", str(pr)]
    return argv


def render_check_argv() -> list[str]:
    return curator_argv("render", "--check")


def site_argv(out: str) -> list[str]:
    return curator_argv("site", "--out", out)


@dataclass
class Ran:
    argv: list[str]
    returncode: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    @property
    def shown(self) -> str:
        """The command line as a person would type it (``curator …``)."""
        if self.argv[1:3] == ["-m", "curator"]:
            return "curator " + shlex.join(self.argv[3:])
        return shlex.join(self.argv)

    def failure(self, what: str) -> CiError:
        """The error saying ``what`` failed, with the last line it printed."""
        detail = (self.stderr or self.stdout).strip().splitlines()
        return CiError(f"{what} failed (exit {self.returncode}): {detail[-1] if detail else 'no output'}")


def run(argv: list[str], cwd: Path, *, echo: bool = True, timeout: float | None = None) -> Ran:
    """Run one command, echo it (CI logs show exactly what ran) and capture its output."""
    # PYTHONSAFEPATH: ``python -m curator`` must import the installed curator, never a ``curator/``
    # folder that happens to lie in the working directory (a pull request can add one).
    env = {**os.environ, "PYTHONSAFEPATH": "1"}
    proc = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env)
    ran = Ran(argv, proc.returncode, proc.stdout, proc.stderr)
    if echo:
        print(f"$ {ran.shown}  -> exit {ran.returncode}", file=sys.stderr)
        if proc.stderr.strip():
            print(proc.stderr.rstrip(), file=sys.stderr)
    return ran


def run_checked(argv: list[str], cwd: Path, what: str) -> Ran:
    """Run a command that must succeed."""
    ran = run(argv, cwd)
    if not ran.ok:
        raise ran.failure(what)
    return ran


def run_for_report(argv: list[str], repo: Path, out: Path, what: str) -> Ran:
    """Run a command that writes a report to ``out``. Exit 1 with a fresh report is a verdict (refuted,
    unconfirmed …), not a failure: the merge and the comment still need it."""
    out.unlink(missing_ok=True)
    ran = run(argv, repo)
    if ran.ok or (ran.returncode == 1 and out.is_file()):
        return ran
    raise ran.failure(what)
