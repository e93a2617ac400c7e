"""`fastdci report` end to end through a subprocess: evaluating, or reusing a stored result."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from PIL import Image

from tests.cli.test_evaluate_cli import FAST, cli, files  # noqa: F401  (files is a fixture)


def _links(page: str) -> list[str]:
    return re.findall(r'(?:src|href)="([^"]+)"', page)


def _relative_and_present(page: str, out) -> None:
    links = _links(page)
    assert links
    for s in links:
        assert not s.startswith(("/", "file:", "http:", "https:")) and str(out) not in s, s
        assert (out / s).is_file(), s


def test_report_writes_pngs_and_html(files, tmp_path):  # noqa: F811
    out = (tmp_path / "report").resolve()  # an absolute --out: the page must not carry it
    r = cli("report", files / "m0.h5", "--out", out, "--metrics", "mig,dci", *FAST)
    assert r.returncode == 0, r.stderr
    page = (out / "index.html").read_text()
    _relative_and_present(page, out)
    pngs = sorted(out.glob("*.png"))
    assert {p.name for p in pngs} == {"dci_importance.png", "mutual_information.png", "latent_histograms.png"}
    for p in pngs:
        img = np.asarray(Image.open(p).convert("L"), dtype=float)
        assert img.shape[0] > 200 and img.shape[1] > 200
        assert img.std() > 10, f"{p.name} looks blank"
    assert "mig" in page and "dci" in page
    # the settings behind each number, DCI's regressor among them
    assert "Settings behind each number" in page
    assert "max_depth=1" in page and "n_rounds=5" in page and "n_bins=" in page


def test_report_from_an_evaluate_result_does_not_recompute(files, tmp_path):  # noqa: F811
    res = tmp_path / "res"
    r = cli("evaluate", files / "m0.h5", "--metrics", "mig,dci", "--out", res, "--no-progress", *FAST)
    assert r.returncode == 0, r.stderr
    (stored,) = res.glob("*.json")
    doc = json.loads(stored.read_text())
    assert "request" in doc  # evaluate's per-file document: the report plus its request block
    doc["results"]["mig"]["mig"] = 0.654321  # a number only the stored file holds
    stored.write_text(json.dumps(doc))

    out = tmp_path / "rep"
    r = cli("report", "--from", stored, "--out", out)
    assert r.returncode == 0, r.stderr
    page = (out / "index.html").read_text()
    assert "0.6543" in page and "0.6543" in r.stdout  # the stored result, not a new evaluation
    assert json.loads((out / "report.json").read_text())["scores"]["mig.mig"] == 0.654321
    assert (out / "latent_histograms.png").exists()  # the latents file is found from the result
    _relative_and_present(page, out)

    # the evaluate folder and the latents file name the same result
    out2 = tmp_path / "rep2"
    r = cli("report", files / "m0.h5", "--from", res, "--out", out2, "--metrics", "mig")
    assert r.returncode == 0, r.stderr
    assert set(json.loads((out2 / "report.json").read_text())["scores"]) == {"mig.mig"}


@pytest.mark.parametrize("args,pattern", [
    (["{m1}", "--from", "{stored}"], "holds the result of"),
    (["--from", "{stored}", "--set", "dci.n_rounds=3"], "drop --set"),
    (["--from", "{stored}", "--metrics", "sap"], "the stored result has no sap"),
    (["--from", "{res}"], "is a folder: name the latents file too"),
    (["{m1}", "--from", "{res}"], "holds no result for"),
    (["--from", "{missing}"], "no such file"),
    (["--from", "{notjson}"], "is not a fastdci result"),
    ([], "name a latents file"),
])
def test_report_from_refuses_with_one_line(files, tmp_path, args, pattern):  # noqa: F811
    res = tmp_path / "res"
    r = cli("evaluate", files / "m0.h5", "--metrics", "mig", "--out", res, "--no-progress")
    assert r.returncode == 0, r.stderr
    (stored,) = res.glob("*.json")
    notjson = tmp_path / "x.json"
    notjson.write_text("[1, 2]")
    subs = {"m1": files / "m1.h5", "stored": stored, "res": res, "missing": tmp_path / "none.json",
            "notjson": notjson}
    r = cli("report", *[a.format(**subs) for a in args], "--out", tmp_path / "rep")
    assert r.returncode != 0 and pattern in r.stderr, r.stderr
    assert r.stderr.count("\n") == 1, r.stderr
