"""Fixtures of the CI tests: a minimal board repository, and one holding the project's imported board."""

from __future__ import annotations

import shutil

import pytest

from cikit import commit, git


@pytest.fixture
def board(tmp_path):
    repo = tmp_path / "board"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    commit(repo, {"leaderboard/entries/mnist/linf/old.json": '{"id": "old"}\n', "README.md": "board\n"}, "init")
    return repo


@pytest.fixture
def real_board(tmp_path, repo):
    """A git repository holding a copy of the project's imported board."""
    board = tmp_path / "real"
    board.mkdir()
    git(board, "init", "-q", "-b", "main")
    shutil.copytree(repo / "leaderboard", board / "leaderboard")
    git(board, "add", "leaderboard")
    git(board, "commit", "-qm", "board")
    git(board, "checkout", "-qb", "pr")
    return board
