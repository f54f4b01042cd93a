"""curator.board.store helpers (the store's commands are tested in test_approve and test_transition)."""

import pytest

from curator.board.store import StorePathError, check_slug, slugify


def test_slugify_gives_slugs_that_check_slug_accepts():
    assert slugify("Wong & Kolter 2018 — MNIST!") == "wong-kolter-2018-mnist"
    assert slugify("cifar10-linf-8/255") == "cifar10-linf-8-255"
    assert slugify("--") == ""
    assert check_slug(slugify("  Salman et al. (2019)  "), "id") == "salman-et-al-2019"
    with pytest.raises(StorePathError):
        check_slug("Not A Slug", "id")
