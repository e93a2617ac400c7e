"""``fastdci encode --model module:attr``: a module instance, a class and a function from a file on
the import path encode dSprites into a latents file; a bad ``module:attr`` is one line with the fix."""

from __future__ import annotations

import json
import re
import sys

import numpy as np
import pytest
import torch

from fastdci.cli import main
from fastdci.data import DSprites
from fastdci.encode import select_rows
from fastdci.io import open_latents

pytestmark = pytest.mark.usefixtures("torch_one_thread")

MODULE = "fastdci_test_tiny_encoders"
SOURCE = '''
import torch


class Tiny(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = torch.nn.Linear(64 * 64, 3)
        with torch.no_grad():
            g = torch.Generator().manual_seed(0)
            self.lin.weight.copy_(torch.randn(3, 64 * 64, generator=g) / 64)
            self.lin.bias.zero_()

    def forward(self, x):
        return self.lin(x.flatten(1))


tiny = Tiny()


def mean_pixels(x):
    return torch.stack([x.mean(dim=(1, 2, 3)), x[:, 0, 32].mean(dim=1)], dim=1)


def one_column(x):
    return x.mean(dim=(1, 2, 3))


class NeedsArgs(torch.nn.Module):
    def __init__(self, width):
        super().__init__()


class Holder:
    inner = tiny


not_a_model = 3
'''


@pytest.fixture
def tiny(tmp_path, monkeypatch):
    """The module file in a fresh folder that is the working directory (not on sys.path)."""
    folder = tmp_path / "models"
    folder.mkdir()
    (folder / f"{MODULE}.py").write_text(SOURCE)
    (folder / "fastdci_test_broken.py").write_text("raise RuntimeError('needs a GPU cluster')\n")
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", ".")])
    monkeypatch.chdir(folder)
    yield folder
    for name in (MODULE, "fastdci_test_broken"):
        sys.modules.pop(name, None)


def _run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _encode(capsys, spec, path, *extra):
    return _run(capsys, "encode", "--model", spec, "--out", str(path), "--rows", "300", "--device", "cpu",
                "--batch-size", "128", "--format", "json", *extra)


def test_instance_class_and_function(capsys, tiny, tmp_path):
    idx, _ = select_rows(len(DSprites()), 300, seed=0)
    images = DSprites().images_torch(idx)
    code, out, err = _encode(capsys, f"{MODULE}:tiny", tmp_path / "a.h5")
    assert code == 0, err
    info = json.loads(out)
    assert info["rows"] == info["rows_this_call"] == 300 and info["file"] == str(tmp_path / "a.h5")
    module = sys.modules[MODULE]
    with open_latents(tmp_path / "a.h5") as r:
        got = r.read(fields=["mean", "classes", "index"])
        assert r.complete and r.latent_dim == 3 and r.factor_names == DSprites.factor_names
        assert r.model == {"kind": "module", "method": "forward", "class": f"{MODULE}.Tiny", "latent_dim": 3}
        assert not r.has_logvar and r.has_values and r.dataset["selection"] == {"rows": "random", "n": 300, "seed": 0}
    np.testing.assert_array_equal(got.index, idx)
    np.testing.assert_array_equal(got.classes, DSprites().classes(idx))
    with torch.inference_mode():
        np.testing.assert_allclose(got.mean, module.tiny(images).numpy(), rtol=1e-5, atol=1e-6)
    # the class, constructed without arguments (the same seeded weights), and a dotted attribute
    for spec in (f"{MODULE}:Tiny", f"{MODULE}:Holder.inner"):
        code, out, err = _encode(capsys, spec, tmp_path / "a.h5", "--overwrite")
        assert code == 0, err
        with open_latents(tmp_path / "a.h5") as r:
            np.testing.assert_allclose(r.read(fields=["mean"]).mean, got.mean, rtol=1e-6)
    code, out, err = _encode(capsys, f"{MODULE}:mean_pixels", tmp_path / "b.h5")
    assert code == 0, err
    with open_latents(tmp_path / "b.h5") as r:
        assert r.model["kind"] == "function" and r.model["function"] == f"{MODULE}.mean_pixels"
        np.testing.assert_allclose(r.read(fields=["mean"]).mean, module.mean_pixels(images).numpy(), rtol=1e-6)


@pytest.mark.parametrize("argv, pattern", [
    (["--model", MODULE], r"--model must be 'module:attr' \(e\.g\. mypackage\.models:encoder\); got "),
    (["--model", "fastdci_test_nosuch:net"], r"no module named 'fastdci_test_nosuch'; run from the folder that "
                                             r"holds it or add that folder to PYTHONPATH"),
    (["--model", "fastdci_test_broken:net"], r"importing fastdci_test_broken raised RuntimeError: needs a GPU cluster"),
    (["--model", f"{MODULE}:tiyn"], rf"{MODULE} has no attribute 'tiyn'\. Did you mean 'tiny'\?"),
    (["--model", f"{MODULE}:Holder.outer"], rf"{MODULE}:Holder has no attribute 'outer'"),
    (["--model", f"{MODULE}:NeedsArgs"], r"is a class that cannot be constructed without arguments \(TypeError: "),
    (["--model", f"{MODULE}:not_a_model"], r"is a int, not a torch module, a class or a function images -> means"),
    (["--model", f"{MODULE}:one_column"], r"one_column returned shape \(128,\) for a batch of 128 images \(one value"),
    (["--model", f"{MODULE}:tiny", "--resume"], r"--resume finishes a training run's file; with --model encode again"),
    (["run", "--model", f"{MODULE}:tiny"], r"give a training run directory or --model module:attr \(one of them\)"),
    ([], r"give a training run directory or --model module:attr"),
])
def test_bad_model_is_one_line(capsys, tiny, tmp_path, argv, pattern):
    path = tmp_path / "x.h5"
    code, out, err = _run(capsys, "encode", *argv, "--out", str(path), "--rows", "300", "--batch-size", "128",
                          "--device", "cpu")
    assert code == 1 and out == ""
    assert err.startswith("error: ") and err.count("\n") == 1, err
    assert re.search(pattern, err), err
    assert not path.exists()


def test_existing_output_needs_overwrite(capsys, tiny, tmp_path):
    path = tmp_path / "keep.h5"
    path.write_bytes(b"precious")
    code, out, err = _encode(capsys, f"{MODULE}:tiny", path)
    assert code == 1 and "already exists; pass overwrite=True (--overwrite)" in err
    assert path.read_bytes() == b"precious"
