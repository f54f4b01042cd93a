"""curator.ci.commands: the command lines CI runs."""

from __future__ import annotations

from curator.ci.commands import Ran, validate_argv, verify_argv


def test_command_lines_are_the_documented_ones():
    assert verify_argv("e.json", "1/2", "o.json", samples=5)[3:] == [
        "verify", "e.json", "--shard", "1/2", "--out", "o.json", "--format", "json", "--quiet", "--samples", "5"]
    ran = Ran(validate_argv(["a b.json"]), 0, "", "")
    assert ran.shown == "curator validate 'a b.json' --format json"
