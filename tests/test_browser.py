"""The report opens in a browser without a server: headless Chromium loads every figure.

Marked ``browser`` (not in the default run): ``pytest -m browser``. Needs Debian's
``chromium`` package (``apt-get install chromium``); skipped with the reason otherwise.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass

import numpy as np
import pytest
import xarray as xr

from relu1d.experiments import Claim, ExperimentResult, _registry, register
from relu1d.plot import new_figure
from relu1d.report import reproduce

pytestmark = pytest.mark.browser

_CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")

# Appended to a copy of the report (the report itself has no script): once every image
# has settled, write each image's natural size into an attribute that --dump-dom prints.
_PROBE = """<script>
window.addEventListener('load', function () {
  var imgs = Array.prototype.slice.call(document.images);
  document.body.setAttribute('data-probe', JSON.stringify(imgs.map(function (i) {
    return {alt: i.alt, complete: i.complete, w: i.naturalWidth, h: i.naturalHeight};
  })));
});
</script>"""


def _chromium() -> str | None:
    for name in _CHROMIUM_NAMES:
        path = shutil.which(name)
        if path:
            return path
    return "/usr/bin/chromium" if os.path.exists("/usr/bin/chromium") else None


@dataclass(frozen=True)
class WaveSpec:
    k: int = 3


def run_wave(spec: WaveSpec) -> ExperimentResult:
    x = np.linspace(0, 1, 200)
    figures = {}
    for j in range(1, spec.k + 1):
        fig, axes = new_figure()
        axes[0, 0].plot(x, np.sin(2 * np.pi * j * x))
        figures[f"mode {j}"] = fig
    energy = float(np.trapezoid(np.sin(2 * np.pi * x) ** 2, x))
    return ExperimentResult(xr.Dataset({"x": x}), figures,
                            [Claim.close("sin2_mean", "∫ sin² over a period is 1/2", "calculus", energy, 0.5, 1e-4),
                             Claim.above("failing_visible", "a failing claim stays visible", "test", energy, 1.0)])


def test_report_renders_with_every_image_loaded(tmp_path, monkeypatch):
    chromium = _chromium()
    if chromium is None:
        if os.environ.get("RELU1D_REQUIRE_BROWSER"):  # set by .ci/run, which installs Chromium
            pytest.fail("RELU1D_REQUIRE_BROWSER is set but no Chromium was found; apt-get install chromium")
        pytest.skip("no Chromium found (looked for " + ", ".join(_CHROMIUM_NAMES)
                    + "); install Debian's package: apt-get install chromium")
    monkeypatch.setattr(_registry, "REGISTRY", {})
    monkeypatch.setattr(_registry, "_load_all", lambda: None)
    register("toy.wave", "Sine modes.", quick=WaveSpec(), full=WaveSpec(5))(run_wave)
    register("toy.wave2", "More sine modes.", quick=WaveSpec(2), full=WaveSpec(5))(run_wave)
    reproduce(None, tmp_path, progress=False)
    page = (tmp_path / "report.html").read_text()
    n_images = page.count("<img ")
    assert n_images == 5

    probe = tmp_path / "probe.html"
    probe.write_text(page.replace("</body>", _PROBE + "</body>"))
    cmd = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
           "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=10000",
           "--dump-dom", probe.as_uri()]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    match = re.search(r'data-probe="([^"]*)"', done.stdout)
    assert match, "the probe did not run: " + done.stdout[:500] + done.stderr[-1000:]
    images = json.loads(match.group(1).replace("&quot;", '"').replace("&amp;", "&"))
    assert len(images) == n_images
    for image in images:
        assert image["complete"] and image["w"] > 0 and image["h"] > 0, image
    assert sorted(i["alt"] for i in images) == ["mode 1", "mode 1", "mode 2", "mode 2", "mode 3"]

    shot = tmp_path / "shot.png"
    done = subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                           f"--user-data-dir={tmp_path / 'profile2'}", "--window-size=1200,900",
                           f"--screenshot={shot}", (tmp_path / "report.html").as_uri()],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
