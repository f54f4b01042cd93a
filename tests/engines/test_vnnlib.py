"""VNN-LIB reading: the 30 mnist_fc properties and malformed files."""

from __future__ import annotations

import csv
import gzip

import numpy as np
import pytest
import torch

from curator.engines.onnx import onnx_to_torch
from curator.engines.vnnlib import VnnlibError, parse_vnnlib, read_vnnlib


def test_every_mnist_fc_property(shared):
    base = shared / "artifacts" / "vnncomp2022-mnist_fc"
    model = onnx_to_torch(base / "onnx" / "mnist-net_256x2.onnx.gz", input_shape=(784,))
    files = sorted((base / "vnnlib").glob("prop_*.vnnlib.gz"))
    assert len(files) == 30
    for f in files:
        prop = read_vnnlib(f)
        eps = float(f.name.split("_")[2].removesuffix(".vnnlib.gz"))
        assert prop.lower.shape == (784,) and prop.num_outputs == 10
        assert 0 <= prop.label < 10
        assert np.all(prop.lower >= 0) and np.all(prop.upper <= 1) and np.all(prop.lower <= prop.upper)
        assert np.all(prop.upper - prop.lower <= 2 * eps + 1e-6)
        first = gzip.decompress(f.read_bytes()).decode().splitlines()[0]
        assert first.endswith(f"label: {prop.label}.")  # the file's own comment names the class
        centre, radius = prop.linf_ball()
        assert radius == pytest.approx(eps, abs=1e-6)
        with torch.no_grad():
            logits = model(torch.tensor(centre, dtype=torch.float32)[None])
        # prop_12 is the one image the nets misclassify (its instances are 'sat' at the centre)
        if not f.name.startswith("prop_12_"):
            assert int(logits.argmax()) == prop.label
    # instances.csv names exactly these files
    names = {row[1].split("/")[-1] for row in csv.reader(open(base / "instances.csv"))}
    assert names == {f.name.removesuffix(".gz") for f in files}


BOX = "(declare-const X_0 Real)\n(declare-const X_1 Real)\n(declare-const Y_0 Real)\n(declare-const Y_1 Real)\n" \
      "(declare-const Y_2 Real)\n(assert (<= X_0 0.5))\n(assert (>= X_0 0.25)) ; comment\n" \
      "(assert (<= X_1 1))\n(assert (>= X_1 0.75))\n"


def test_parse_small_property_and_errors():
    prop = parse_vnnlib(BOX + "(assert (or (and (>= Y_0 Y_1)) (and (>= Y_2 Y_1))))")
    assert prop.label == 1 and prop.lower.tolist() == [0.25, 0.75] and prop.upper.tolist() == [0.5, 1.0]
    assert parse_vnnlib(BOX + "(assert (or (<= Y_0 Y_2) (<= Y_0 Y_1)))").label == 0
    with pytest.raises(VnnlibError, match="every class"):
        parse_vnnlib(BOX + "(assert (or (and (>= Y_0 Y_1))))")
    with pytest.raises(VnnlibError, match="several classes"):
        parse_vnnlib(BOX + "(assert (or (and (>= Y_0 Y_1)) (and (>= Y_1 Y_2))))")
    with pytest.raises(VnnlibError, match="comparison of two outputs"):
        parse_vnnlib(BOX + "(assert (or (and (>= Y_0 0.3))))")
    with pytest.raises(VnnlibError, match="X_1"):
        parse_vnnlib(BOX.replace("(assert (>= X_1 0.75))", "") + "(assert (>= Y_0 Y_1))")
    with pytest.raises(VnnlibError, match="unbalanced"):
        parse_vnnlib(BOX + "(assert (or (>= Y_0 Y_1)")
    with pytest.raises(VnnlibError, match="not an l-inf ball"):
        # half-widths 0.125 and 0.4 with no clipping on X_0's side: not one ball
        parse_vnnlib(BOX.replace("0.75", "0.2") + "(assert (or (>= Y_0 Y_1) (>= Y_2 Y_1)))").linf_ball()


def test_oversized_gzip_is_refused(tmp_path, monkeypatch):
    import curator.engines.vnnlib as vnnlib

    monkeypatch.setattr(vnnlib, "MAX_VNNLIB_BYTES", 1000)
    bomb = tmp_path / "bomb.vnnlib.gz"
    bomb.write_bytes(gzip.compress(b"; " + b"x" * 100_000))
    assert bomb.stat().st_size < 1000
    with pytest.raises(VnnlibError, match="larger than 1000 bytes once decompressed"):
        read_vnnlib(bomb)
    with pytest.raises(VnnlibError, match="broken gzip"):
        (tmp_path / "cut.vnnlib.gz").write_bytes(gzip.compress(b"(declare-const X_0 Real)")[:12])
        read_vnnlib(tmp_path / "cut.vnnlib.gz")
