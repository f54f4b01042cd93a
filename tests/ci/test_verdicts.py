"""curator.ci.verdicts: shard reports merged per claim."""

from __future__ import annotations

import pytest

from curator.ci.errors import CiError
from curator.ci.verdicts import merge_shard_reports


def test_merge_needs_shard_reports(tmp_path):
    (tmp_path / "r").mkdir()
    with pytest.raises(CiError, match="no shard reports"):
        merge_shard_reports(tmp_path, tmp_path / "r", tmp_path / "out")
