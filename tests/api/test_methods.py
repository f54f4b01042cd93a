"""Verifiers and attacks share a base (curator.api.Method) but are not each other: an attack is
never taken where a certificate is needed, nor a verifier where an upper bound is."""

import pytest

from curator.api import Attack, Verifier
from curator.api.registry import get_registry
from curator.core.errors import CuratorError


def test_an_attack_is_not_a_verifier():
    pgd = get_registry().verifier("pgd")  # both kinds come through register_verifiers
    assert isinstance(pgd, Attack) and not isinstance(pgd, Verifier)
    assert not isinstance(get_registry().verifier("crown"), Attack)


def test_typed_lookups_refuse_the_other_kind():
    reg = get_registry()
    assert reg.certifier("crown").name == "crown" and reg.attack("pgd").name == "pgd"
    with pytest.raises(CuratorError, match="pgd is an attack; it certifies nothing"):
        reg.certifier("pgd")
    with pytest.raises(CuratorError, match="crown is a verifier, not an attack"):
        reg.attack("crown")


def test_attacks_and_verifiers_describe_themselves_alike():
    reg = get_registry()
    keys = ["name", "version", "description", "certification", "norms", "params_schema", "per_sample_radius",
            "publication_floor"]
    assert list(reg.verifier("pgd").describe()) == keys == list(reg.verifier("crown").describe())
    assert reg.verifier("pgd").describe()["certification"] == "attack"
