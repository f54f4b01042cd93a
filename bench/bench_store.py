"""What the store's guarantees cost: ``approve`` and ``curator site`` on the real imported board.

approve — baseline measured in the same process on the same kind of change: write the entry and
the report with plain ``open().write``, re-render the README, ``git add`` + ``git commit``. The
ratio is what the checks, the snapshot, the private-index commit and the lock cost on top.

site — baseline: ``render_markdown`` of the same entries (the README). The ratio is what HTML
pages and 18+ SVG plots cost.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from boardkit import make_entry, make_report, write  # noqa: E402
from curator.api.registry import Registry  # noqa: E402
from curator.board import store  # noqa: E402
from curator.board.approve import approve  # noqa: E402
from curator.board.render import render_markdown, write_readme  # noqa: E402
from curator.core.jsonio import dumps  # noqa: E402
from curator.site import build_site  # noqa: E402

ROUNDS = int(sys.argv[1]) if len(sys.argv) > 1 else 5


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), "-c", "user.name=b", "-c", "user.email=b@b", *args], check=True,
                   capture_output=True)


def board(tmp: Path, name: str) -> Path:
    work = tmp / name
    shutil.copytree(REPO / "leaderboard", work / "leaderboard")
    git(work, "init", "-q", "-b", "main")
    git(work, "add", "-A")
    git(work, "commit", "-q", "-m", "board")
    return work


def main() -> None:
    with tempfile.TemporaryDirectory() as t:
        tmp = Path(t)
        a, b = board(tmp, "approve"), board(tmp, "plain")
        t_approve = t_plain = 0.0
        for i in range(ROUNDS):
            e = make_entry(f"bench-net-{i}", certified=50.0 + i)
            sub = write(tmp / "sub" / f"{e['id']}.json", e)
            rep = write(tmp / "sub" / f"r{i}.json", make_report(e, n=500))
            t0 = time.perf_counter()
            approve(sub, rep, store_root=a / "leaderboard", registry=Registry())
            t_approve += time.perf_counter() - t0

            t0 = time.perf_counter()
            e2 = dict(e, status="verified")
            p = store.entry_path(b / "leaderboard", e2)
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(dumps(e2))
            r = b / "leaderboard" / "reports" / e["id"] / "x.json"
            r.parent.mkdir(parents=True, exist_ok=True)
            r.write_text(dumps(make_report(e, n=500)))
            write_readme(b / "leaderboard")
            git(b, "add", "-A")
            git(b, "commit", "-q", "-m", f"plain {i}")
            t_plain += time.perf_counter() - t0
        print(f"approve: {t_approve / ROUNDS * 1000:.0f} ms per approval, plain write+render+commit "
              f"{t_plain / ROUNDS * 1000:.0f} ms → ratio {t_approve / t_plain:.2f}x ({ROUNDS} rounds, "
              f"151-entry board)")

        entries = [e for _, e in store.load_entries(a / "leaderboard")]
        t0 = time.perf_counter()
        render_markdown(entries)
        t_md = time.perf_counter() - t0
        t0 = time.perf_counter()
        s = build_site(a / "leaderboard", tmp / "site")
        t_site = time.perf_counter() - t0
        print(f"site: {t_site:.2f} s for {len(s.pages)} pages, {s.settings} settings, {s.entries} entries, "
              f"{s.verified} reports; render_markdown {t_md * 1000:.0f} ms → ratio {t_site / t_md:.0f}x")


if __name__ == "__main__":
    main()
