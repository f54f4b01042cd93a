"""``curator approve`` in its default text mode (CI uses --format json; people read this one)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from boardkit import git, init_board_repo, make_entry, make_report, write


def test_text_output_after_a_commit(tmp_path):
    board = init_board_repo(tmp_path / "board")
    entry = make_entry()
    sub = write(tmp_path / "sub" / f"{entry['id']}.json", entry)
    rep = write(tmp_path / "sub" / "report.json", make_report(entry))
    env = dict(os.environ, CURATOR_PLUGINS="no-plugin-loaded")
    cmd = [str(Path(sys.executable).parent / "curator"), "approve", str(sub), "--report", str(rep),
           "--store", "leaderboard", "--pr", "3"]
    proc = subprocess.run(cmd, cwd=board, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr and "error:" not in proc.stderr
    head = git(board, "rev-parse", "HEAD").strip()
    assert proc.stdout.splitlines() == [git(board, "log", "-1", "--format=%s").strip(), f"commit {head}"]
