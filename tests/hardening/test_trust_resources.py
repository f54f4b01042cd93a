"""Resource caps: a submission must not be able to make curator allocate, compute or recurse without
bound. Every input here is an attacker's choice; each case ends in a clear error (or a capped
result) instead of gigabytes, hours or a crash. Work is bounded by construction and, where a
regression would hang, by a subprocess timeout as a backstop (never a wall-clock assertion)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from onnx import TensorProto, helper, numpy_helper
from safetensors.torch import save_file
from torch import nn

from curator.api import Architecture, hookimpl
from curator.api.registry import PluginHost
from curator.ci.shards import reverify_matrix
from curator.cli import main
from curator.core.errors import CuratorError
from curator.verify.models import load_model

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture(scope="module")
def registry():
    host = PluginHost()
    host.load_entry_points()
    host.add_plugin(DeepPlugin(), "deep-chain", version="0.0.1")
    return host.registry


class DeepChain(Architecture):
    """A third-party architecture whose depth is a kwarg (as any plugin's could be)."""
    name = "deep-chain"
    version = "0.0.1"
    kwargs_schema = {"type": "object", "properties": {"depth": {"type": "integer", "minimum": 1}},
                     "required": ["depth"], "additionalProperties": False}

    def build(self, depth: int):
        layers: list[nn.Module] = [nn.Flatten()]
        for _ in range(depth):
            layers += [nn.Linear(4, 4), nn.ReLU()]
        return nn.Sequential(*layers, nn.Linear(4, 2))


class DeepPlugin:
    @staticmethod
    @hookimpl
    def register_architectures(register):
        register(DeepChain())


def tiny_weights(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.safetensors"
    save_file({"0.weight": torch.zeros(8, 16)}, str(path))
    assert path.stat().st_size < 1024
    return path


# ---------------------------------------------------------------- (a) size before allocation


def test_huge_fc_kwargs_with_a_1kb_weights_file_are_refused_before_building(tmp_path, registry):
    from curator.verify.model_budget import ModelBudgetError

    block = {"format": "safetensors", "architecture": {"name": "fc", "kwargs": {
        "input_shape": [1, 64, 64], "hidden": [4096, 4096], "num_classes": 10}}, "input_shape": [1, 64, 64],
        "num_classes": 10}
    with pytest.raises(ModelBudgetError, match=r"holds 128 values, architecture 'fc' needs 33,603,594"):
        load_model(block, tiny_weights(tmp_path), registry)


def test_parameter_and_depth_caps_are_measured_on_the_meta_device(tmp_path, registry):
    from curator.verify.model_budget import MAX_PARAMETERS, ModelBudgetError, check_model_budget, meta_shapes

    # 64 hidden layers of 65,536 units: 2.7e11 parameters (over a terabyte) if it were built for real.
    huge = {"format": "safetensors", "architecture": {"name": "fc", "kwargs": {
        "input_shape": [1, 8, 8], "hidden": [65536] * 64, "num_classes": 10}}, "input_shape": [1, 8, 8],
        "num_classes": 10}
    net = meta_shapes(registry, "fc", huge["architecture"]["kwargs"])
    assert all(p.device.type == "meta" for p in net.parameters())
    with pytest.raises(ModelBudgetError, match=f"over curator's limit of {MAX_PARAMETERS:,}"):
        check_model_budget(huge, tiny_weights(tmp_path), registry)
    deep = {"format": "safetensors", "architecture": {"name": "deep-chain", "kwargs": {"depth": 200}}}
    with pytest.raises(ModelBudgetError, match="201 weight layers"):
        check_model_budget(deep, tiny_weights(tmp_path), registry)


def test_a_fitting_network_passes_the_budget_and_loads(registry):
    from curator.verify.model_budget import check_model_budget

    entry = json.loads((EXAMPLES / "digits-smoothing.json").read_text())
    sizes = check_model_budget(entry["model"], EXAMPLES / "digits-mlp.safetensors", registry)
    assert sizes["parameters"] == sizes["file_values"] == 8192 + 128 + 16384 + 128 + 1280 + 10
    assert load_model(entry["model"], EXAMPLES / "digits-mlp.safetensors", registry) is not None


# ---------------------------------------------------------------- (b) ONNX depth


def onnx_chain(depth: int) -> bytes:
    nodes, inits, cur = [], {}, "x"
    for i in range(depth):
        inits[f"w{i}"], inits[f"b{i}"] = np.eye(4, dtype=np.float32), np.zeros(4, dtype=np.float32)
        nodes.append(helper.make_node("Gemm", [cur, f"w{i}", f"b{i}"], [f"g{i}"]))
        nodes.append(helper.make_node("Relu", [f"g{i}"], [f"r{i}"]))
        cur = f"r{i}"
    graph = helper.make_graph(nodes, "chain", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
                              [helper.make_tensor_value_info(cur, TensorProto.FLOAT, [1, 4])],
                              [numpy_helper.from_array(v, k) for k, v in inits.items()])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]).SerializeToString()


def test_a_200_deep_onnx_chain_is_refused_with_a_clear_error():
    from curator.engines.onnx import OnnxImportError, onnx_to_torch

    assert len(onnx_to_torch(onnx_chain(8))) == 16
    with pytest.raises(OnnxImportError, match=r"200 weight layers .*over curator's limit of 128"):
        onnx_to_torch(onnx_chain(200))


# ---------------------------------------------------------------- (c) LaTeX cells in linear time

LATEX_BACKSTOP = textwrap.dedent(r"""
    import sys
    from curator.papers.latex_tables import MAX_CELL_CHARS, clean_cell, find_tables
    cases = [
        "\\ell_" + " " * 200_000,                      # nested \s* around _ : quadratic before
        "{" * 8192, "}" * 8192, "\\" * 8192, "\\{" * 4096,
        "\\textbf{" * 1000 + "x" + "}" * 10, "\\cite[" * 1400, "\\frac{" * 1300,
        "\\textcolor[" * 800 + "{", "L" + " " * 8000 + "_" + " " * 8000 + "{" + " " * 8000,
        "$\\ell_\\infty$ " * 600,
    ]
    for text in cases:
        out = clean_cell(text)
        assert len(out) <= MAX_CELL_CHARS, len(out)
        src = "\\begin{table}\\begin{tabular}{cc} a & " + text + " \\\\ \\end{tabular}\\end{table}"
        find_tables(src, "hostile.tex")
    print("done", len(cases))
""")


def test_hostile_latex_cells_are_cleaned_within_a_bounded_budget():
    proc = subprocess.run([sys.executable, "-c", LATEX_BACKSTOP], capture_output=True, text=True, timeout=20)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "done 11"


def test_clean_cell_still_reads_the_table_idioms():
    from curator.papers.latex_tables import clean_cell

    assert clean_cell(r"\textbf{97.95} $\pm$ 0.05") == "97.95 ± 0.05"
    assert clean_cell(r"$\epsilon=\frac{8}{255}$ \cite[p.~3]{x}") == "ε=8/255"
    assert clean_cell(r"\textcolor{red}{\textbf{\underline{61.2}}}\textsuperscript{*}") == "61.2 *"
    assert clean_cell(r"$L_\infty$ / $\ell_{2}$ / $l_1$") == "ℓ∞ / ℓ2 / ℓ1"


# ---------------------------------------------------------------- (d) vnnlib nesting


def test_two_million_nested_parentheses_are_a_clean_error_naming_the_file(tmp_path):
    from curator.engines.vnnlib import VnnlibError, read_vnnlib

    path = tmp_path / "deep.vnnlib"
    path.write_text("(declare-const X_0 Real)\n" + "(" * 2_000_000 + ")" * 2_000_000 + "\n")
    with pytest.raises(VnnlibError, match=r"deep\.vnnlib: parentheses nest deeper than 64"):
        read_vnnlib(path)


# ---------------------------------------------------------------- (e) compute budget per claim


def smoothing_claim(tmp_path: Path, **params) -> Path:
    entry = json.loads((EXAMPLES / "digits-smoothing.json").read_text())
    entry["certification"]["params"].update(params)
    (tmp_path / "submissions").mkdir(exist_ok=True)
    shutil.copy(EXAMPLES / "digits-mlp.safetensors", tmp_path / "submissions" / "digits-mlp.safetensors")
    path = tmp_path / "submissions" / "digits-smoothing.json"
    path.write_text(json.dumps(entry))
    return path


def test_smoothing_n_of_1e8_does_not_validate(tmp_path):
    path = smoothing_claim(tmp_path, n=100_000_000)
    result = CliRunner().invoke(main, ["validate", str(path), "--format", "json"])
    assert result.exit_code != 0
    assert "/certification/params/n" in result.output


def test_plan_refuses_a_claim_over_the_compute_budget_before_any_job(tmp_path):
    path = smoothing_claim(tmp_path, n=1_000_000)  # schema-valid ...
    entry = json.loads(path.read_text())
    entry["setting"]["dataset"] = "imagenet"  # ... but on all 50,000 ImageNet images: 5·10^10 passes
    entry["result"].pop("sample_selection")
    path.write_text(json.dumps(entry))
    with pytest.raises(CuratorError, match=r"50,000 images × 1,000,100 per image.*over curator's limit"):
        reverify_matrix(tmp_path, 4)
    result = CliRunner().invoke(main, ["ci", "plan", "--entries-dir", str(tmp_path), "--shards", "2"])
    assert result.exit_code != 0 and "forward passes" in result.output


def test_plan_accepts_the_bundled_claims(tmp_path):
    smoothing_claim(tmp_path)
    assert len(reverify_matrix(tmp_path, 2)["include"]) == 2
