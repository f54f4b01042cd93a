"""The sok-board importer against the real board (../shared/data/sok/board.yml)."""

import re
from fractions import Fraction

import pytest
import yaml

from curator.api.registry import PluginHost
from curator.core.schemas import ENTRY_SCHEMA_ID, validate
from curator_plugins.sok_board import (
    SokBoardImporter,
    method_from_comment,
    parse_score,
    parse_setting,
    split_venue,
    title_slug,
    year_from_arxiv,
)


@pytest.fixture(scope="module")
def board_file(shared):
    return shared / "data" / "sok" / "board.yml"


@pytest.fixture(scope="module")
def batch(board_file):
    return SokBoardImporter().read(board_file)


def test_151_entries_in_18_settings_all_schema_valid(batch):
    assert len(batch.entries) == 151
    settings = {(e["setting"]["dataset"], e["setting"]["norm"], e["setting"]["radius_text"]) for e in batch.entries}
    assert len(settings) == 18
    assert {d for d, _, _ in settings} == {"mnist", "cifar10", "tinyimagenet", "imagenet64", "imagenet"}
    for e in batch.entries:
        assert validate(e, ENTRY_SCHEMA_ID) == [], e["id"]
        assert e["status"] == "legacy"
    assert len({e["id"] for e in batch.entries}) == 151


def test_every_number_equals_the_board(board_file, batch):
    board = yaml.safe_load(board_file.read_text(encoding="utf-8"))
    records = [(s["setting"], r) for s in board for r in s["records"]]
    assert len(records) == len(batch.entries)
    for (setting, record), entry in zip(records, batch.entries, strict=True):
        published = record["score"].strip().rstrip("%")
        assert Fraction(published) == Fraction(str(entry["result"]["certified_accuracy"])), entry["id"]
        assert entry["certification"]["type"] == ("probabilistic" if record["prob"] else "deterministic")
        assert entry["paper"]["url"] == record["link"].strip()
        assert entry["paper"]["title"] == " ".join(record["title"].split())
        eps = re.search(r"epsilon=([0-9./]+)", setting).group(1)
        assert entry["setting"]["radius_text"] == eps
        num, _, den = eps.partition("/")
        assert entry["setting"]["radius"] == float(Fraction(num) / Fraction(den or 1))
        venue = record.get("venue")
        if venue:
            assert str(entry["paper"]["year"]) in venue
            assert entry["paper"]["venue"] == " ".join(venue.replace(str(entry["paper"]["year"]), "").split())
        assert "comment" not in str(entry["paper"])
        assert set(entry) <= {"schema_version", "id", "paper", "setting", "result", "certification", "training", "provenance",
                              "status"}
        if "training" in entry:
            assert record["comment"].startswith("Approach name:")


def test_facts_of_known_records(batch):
    by_id = {e["id"]: e for e in batch.entries}
    e = by_id["mnist-linf-0-1-expressive-losses-for-verified-robustness-via"]
    assert e["result"]["certified_accuracy"] == 98.43
    assert e["paper"]["openreview"] == "mzyZ4wzKlM" and e["paper"]["venue"] == "ICLR" and e["paper"]["year"] == 2024
    assert e["training"] == {"method": "CC-IBP"}
    e = by_id["cifar10-linf-8-255-certified-training-small-boxes-are-all-you-need"]
    assert e["setting"]["radius"] == 8 / 255 and e["paper"]["arxiv"] == "2210.04871" and e["training"]["method"] == "SABR"
    # MixTrain has no venue: the year comes from its new-style arXiv id 1811.02625.
    mix = [e for e in batch.entries if e["paper"].get("arxiv") == "1811.02625"]
    assert mix and all(m["paper"]["year"] == 2018 and "venue" not in m["paper"] for m in mix)
    # No venue and no arXiv id → year unknown (null), not guessed.
    orv = [e for e in batch.entries if e["paper"].get("openreview") == "H1lQIgrFDS"]
    assert orv and all(m["paper"]["year"] is None for m in orv)
    assert {e["setting"]["dataset"] for e in batch.entries
            if "64x64" in e["provenance"]["source"] or e["setting"]["dataset"] == "imagenet64"} == {"imagenet64"}


def test_quirks_are_warned(batch):
    text = "\n".join(batch.warnings)
    assert "one paper under several spellings or links" in text and "2002.12920" in text
    assert "tie at 97.95%" in text
    assert "'Randomized smoothing of all shapes and sizes'" in text and "copied from another record?" in text


def test_reimport_is_identical(board_file, batch):
    again = SokBoardImporter().read(board_file)
    assert again.entries == batch.entries and again.warnings == batch.warnings


def test_order_contradiction_and_bad_input(tmp_path):
    board = tmp_path / "board.yml"
    board.write_text(
        '- setting: "CIFAR-10,&nbsp; \\\\(\\\\ell_2\\\\), &nbsp; \\\\(\\\\epsilon=0.5\\\\)"\n'
        "  records:\n"
        "  - {score: '40% ', title: A, link: 'https://arxiv.org/abs/2001.00001', prob: true}\n"
        "  - {score: '41.5%', title: B, link: 'https://arxiv.org/abs/2001.00002', prob: true}\n",
        encoding="utf-8",
    )
    batch = SokBoardImporter().read(board)
    assert [e["result"]["certified_accuracy"] for e in batch.entries] == [40, 41.5]
    assert any("contradicts its scores" in w for w in batch.warnings)
    board.write_text("- setting: 'CIFAR-10, \\(\\ell_2\\), \\(\\epsilon=0.5\\)'\n  records:\n"
                     "  - {score: 'lots', title: A, link: 'https://x.org'}\n", encoding="utf-8")
    with pytest.raises(Exception, match=r"/0/records/0/score: score 'lots' is not a percentage"):
        SokBoardImporter().read(board)
    board.write_text("- setting: [unclosed\n", encoding="utf-8")
    with pytest.raises(Exception, match="malformed YAML"):
        SokBoardImporter().read(board)


def test_helpers():
    assert parse_setting("ImageNet 64x64,&nbsp; \\(\\ell_\\infty\\),&nbsp; \\(\\epsilon=1/255\\)") == ("imagenet64", "linf", "1/255")
    assert parse_setting("MNIST,&nbsp; \\(\\ell_2\\), &nbsp; \\(\\epsilon=1.58\\)") == ("mnist", "l2", "1.58")
    with pytest.raises(ValueError):
        parse_setting("SVHN, \\(\\ell_2\\), \\(\\epsilon=1\\)")
    assert parse_score("98.43% ") == 98.43 and parse_score("16%") == 16 and isinstance(parse_score("16%"), int)
    with pytest.raises(ValueError):
        parse_score("0.98")
    assert split_venue("ICLR 2024") == ("ICLR", 2024)
    assert split_venue("ICML 2022 Workshop on Formal Verification of Machine Learning") == (
        "ICML Workshop on Formal Verification of Machine Learning", 2022)
    assert split_venue(None) == (None, None)
    assert year_from_arxiv("2210.04871") == 2022 and year_from_arxiv("cs/0112017") is None
    assert method_from_comment("Approach name: CC-IBP") == "CC-IBP" and method_from_comment("SortNet") is None
    assert len(title_slug("Rethinking Lipschitz Neural Networks and Certified Robustness: A Boolean Function Perspective")) <= 48


def test_registered_through_the_entry_point():
    host = PluginHost()
    host.load_entry_points(only={"sok-board"}, strict=True)
    assert host.registry.importer("sok-board").version
