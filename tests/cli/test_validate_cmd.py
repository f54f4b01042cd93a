"""``curator validate``: exit codes 0/1/2, text lines and --format json, through the real CLI."""

import json
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from curator.cli import main
from factories import make_entry, write_entry


def run(*args):
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_valid_exit_0(tmp_path):
    write_entry(tmp_path, make_entry())
    code, out, err = run("validate", str(tmp_path))
    assert code == 0, out + err
    assert "1 file(s): valid" in err


def test_warnings_only_still_exit_0(tmp_path):
    write_entry(tmp_path, make_entry(result={"certified_accuracy": 0.4}))
    code, out, _ = run("validate", str(tmp_path))
    assert code == 0 and out.startswith("warning: ") and "/result/certified_accuracy" in out


def test_invalid_exit_1_lists_every_problem(tmp_path):
    entry = make_entry(extra=1)
    del entry["paper"]["url"]
    path = write_entry(tmp_path, entry)
    code, out, _ = run("validate", str(path))
    assert code == 1
    lines = out.splitlines()
    assert f"{path}: /extra: unknown field 'extra'" in lines[0] or any(line.startswith(f"{path}: /extra: unknown field") for line in lines)
    assert f"{path}: /paper/url: required field is missing" in lines


def test_usage_error_exit_2(tmp_path):
    code, _, err = run("validate", str(tmp_path / "missing.json"))
    assert code == 2 and "no such file or folder" in err
    code, _, _ = run("validate")
    assert code == 2


def test_format_json(tmp_path):
    write_entry(tmp_path, make_entry())
    (tmp_path / "bad.json").write_bytes(b"\xff\xfe{")
    code, out, _ = run("validate", "--format", "json", str(tmp_path))
    doc = json.loads(out)
    assert code == 1 and doc["ok"] is False and doc["files"] == 2
    assert doc["problems"] == [{"file": str(tmp_path / "bad.json"), "pointer": "/", "message": "not UTF-8 text (byte 0)",
                                "severity": "error"}]


def test_no_traceback_from_the_installed_command(tmp_path):
    (tmp_path / "deep.json").write_text("[" * 100000 + "]" * 100000, encoding="utf-8")
    proc = subprocess.run([str(Path(sys.executable).parent / "curator"), "validate", str(tmp_path)], capture_output=True, text=True)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr + proc.stdout
    assert "deep.json: /: JSON nested too deeply" in proc.stdout


def test_the_submission_examples_validate_offline_against_the_store(repo):
    assert (repo / "submissions" / "README.md").is_file()
    example = repo / "examples" / "mnist-linf-0-1-wong-kolter-2018-crown.json"
    entry = json.loads(example.read_text())
    assert entry["model"]["url"].startswith("https://raw.githubusercontent.com/locuslab/convex_adversarial/2cd8149249b9e9")
    code, out, _ = run("validate", str(example), "--store", str(repo / "leaderboard"), "--format", "json")
    assert code == 0 and json.loads(out)["errors"] == 0
    code, _, _ = run("validate", str(repo / "examples" / "digits-smoothing.json"))
    assert code == 0
