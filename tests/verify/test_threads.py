"""curator.verify.threads: the thread count is chosen deliberately (--threads > CURATOR_THREADS >
OMP_NUM_THREADS > idle CPUs clamped to [1, 4]) and applied to torch."""

import os
import subprocess
import sys

import pytest
import torch
from click.testing import CliRunner

from curator.cli import main
from curator.verify import threads


@pytest.fixture
def keep_torch_threads():
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def test_precedence(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    monkeypatch.setenv(threads.ENV, "2")
    assert threads.choose(5) == 5
    assert threads.choose(None) == 2
    monkeypatch.delenv(threads.ENV)
    assert threads.choose(None) is None  # the user's OMP_NUM_THREADS is left alone
    monkeypatch.delenv("OMP_NUM_THREADS")
    assert 1 <= threads.choose(None) <= threads.MAX_DEFAULT


def test_default_counts_idle_cpus(monkeypatch):
    monkeypatch.setattr(threads, "available_cpus", lambda: 2)
    monkeypatch.setattr(os, "getloadavg", lambda: (2.7, 0.0, 0.0))
    assert threads.default_threads() == 1  # a busy 2-core machine: one thread
    monkeypatch.setattr(threads, "available_cpus", lambda: 16)
    monkeypatch.setattr(os, "getloadavg", lambda: (0.1, 0.0, 0.0))
    assert threads.default_threads() == threads.MAX_DEFAULT
    monkeypatch.setattr(os, "getloadavg", lambda: (13.5, 0.0, 0.0))
    assert threads.default_threads() == 2


@pytest.mark.parametrize("bad", ["0", "-1", "two"])
def test_bad_env_value_is_a_clear_error(monkeypatch, bad):
    monkeypatch.setenv(threads.ENV, bad)
    result = CliRunner().invoke(main, ["plugins"])
    assert result.exit_code != 0 and threads.ENV in result.output


def test_cli_option_sets_torch_threads(monkeypatch, keep_torch_threads):
    monkeypatch.delenv(threads.ENV, raising=False)
    torch.set_num_threads(1)
    result = CliRunner().invoke(main, ["--threads", "2", "verify", "--help"])
    assert result.exit_code == 0, result.output
    assert torch.get_num_threads() == 2
    # the command's own option, given after the group's, wins (a missing entry file stops the
    # command after its options are parsed, before anything runs)
    CliRunner().invoke(main, ["--threads", "2", "verify", "--threads", "1", "missing.json"])
    assert torch.get_num_threads() == 1
    # an explicit group option is not undone by the command's default
    CliRunner().invoke(main, ["--threads", "2", "verify", "missing.json"])
    assert torch.get_num_threads() == 2


def test_before_torch_is_imported_the_environment_carries_it():
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    env[threads.ENV] = "1"
    code = ("import sys; from curator.verify import threads; assert 'torch' not in sys.modules; threads.configure(); "
            "import torch; print(torch.get_num_threads())")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "1"
