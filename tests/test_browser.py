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
    return ExperimentResult(
        xr.Dataset({"x": x}),
        figures,
        [
            Claim.close("sin2_mean", "∫ sin² over a period is 1/2", "calculus", energy, 0.5, 1e-4),
            Claim.above("failing_visible", "a failing claim stays visible", "test", energy, 1.0),
        ],
    )


def test_report_renders_with_every_image_loaded(tmp_path, monkeypatch):
    chromium = _chromium()
    if chromium is None:
        if os.environ.get("RELU1D_REQUIRE_BROWSER"):  # set by .ci/run, which installs Chromium
            pytest.fail(
                "RELU1D_REQUIRE_BROWSER is set but no Chromium was found; apt-get install chromium"
            )
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
    cmd = [
        chromium,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--virtual-time-budget=10000",
        "--dump-dom",
        probe.as_uri(),
    ]
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
    done = subprocess.run(
        [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            f"--user-data-dir={tmp_path / 'profile2'}",
            "--window-size=1200,900",
            f"--screenshot={shot}",
            (tmp_path / "report.html").as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0 and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# --------------------------------------------------------------------------- the interactive viewer
class _DevTools:
    """A minimal client of Chromium's DevTools protocol over a WebSocket (RFC 6455), with
    the standard library only: enough to drive the page with real input events and to
    see every request, console message and exception."""

    def __init__(self, url: str, timeout: float = 60.0):
        import base64
        import socket
        import urllib.parse

        u = urllib.parse.urlparse(url)
        self.sock = socket.create_connection((u.hostname, u.port), timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(
            (
                f"GET {u.path} HTTP/1.1\r\nHost: {u.hostname}:{u.port}\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                "Sec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )
        buf = b""
        while b"\r\n\r\n" not in buf:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise ConnectionError("DevTools closed the connection during the handshake")
            buf += chunk
        head, self.buf = buf.split(b"\r\n\r\n", 1)
        if b" 101 " not in head.split(b"\r\n")[0]:
            raise ConnectionError(head.decode(errors="replace"))
        self.next_id = 0
        self.events: list[dict] = []

    def _exact(self, n: int) -> bytes:
        while len(self.buf) < n:
            chunk = self.sock.recv(1 << 16)
            if not chunk:
                raise ConnectionError("DevTools closed the connection")
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def _send(self, text: str) -> None:
        payload = text.encode()
        n, mask = len(payload), os.urandom(4)
        if n < 126:
            head = bytes([0x81, 0x80 | n])
        elif n < 1 << 16:
            head = bytes([0x81, 0x80 | 126]) + n.to_bytes(2, "big")
        else:
            head = bytes([0x81, 0x80 | 127]) + n.to_bytes(8, "big")
        body = (
            np.frombuffer(payload, np.uint8) ^ np.resize(np.frombuffer(mask, np.uint8), n)
        ).tobytes()
        self.sock.sendall(head + mask + body)

    def _receive(self) -> dict:
        message = b""
        while True:
            b0, b1 = self._exact(2)
            n = b1 & 0x7F
            if n == 126:
                n = int.from_bytes(self._exact(2), "big")
            elif n == 127:
                n = int.from_bytes(self._exact(8), "big")
            if b1 & 0x80:
                raise ConnectionError("a server frame must not be masked")
            data = self._exact(n)
            opcode = b0 & 0x0F
            if opcode == 8:
                raise ConnectionError("DevTools closed the connection")
            if opcode in (9, 10):  # ping, pong
                continue
            message += data
            if b0 & 0x80:
                return json.loads(message)

    def call(self, method: str, **params):
        self.next_id += 1
        self._send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            msg = self._receive()
            if msg.get("id") == self.next_id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            self.events.append(msg)

    def wait_for(self, method: str, timeout: float = 60.0) -> dict:
        import time

        end = time.monotonic() + timeout
        while True:
            for event in self.events:
                if event.get("method") == method:
                    return event
            if time.monotonic() > end:
                raise TimeoutError(f"no {method} within {timeout} s")
            self.events.append(self._receive())

    def evaluate(self, expression: str):
        res = self.call(
            "Runtime.evaluate", expression=expression, awaitPromise=True, returnByValue=True
        )
        if "exceptionDetails" in res:
            raise RuntimeError(json.dumps(res["exceptionDetails"])[:2000])
        return res["result"].get("value")

    def click(self, x: float, y: float) -> None:
        for kind in ("mouseMoved", "mousePressed", "mouseReleased"):
            self.call("Input.dispatchMouseEvent", type=kind, x=x, y=y, button="left", clickCount=1)

    def hover(self, x: float, y: float) -> None:
        self.call("Input.dispatchMouseEvent", type="mouseMoved", x=x, y=y)


def _launch_devtools(chromium: str, profile):
    import time
    import urllib.request

    proc = subprocess.Popen(
        [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--remote-debugging-port=0",
            f"--user-data-dir={profile}",
            "--window-size=1300,900",
            "about:blank",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    port_file = profile / "DevToolsActivePort"
    end = time.monotonic() + 60
    while not (port_file.is_file() and port_file.read_text().strip()):
        if proc.poll() is not None or time.monotonic() > end:
            proc.kill()
            raise RuntimeError(
                "Chromium did not start: " + proc.stderr.read().decode(errors="replace")[-2000:]
            )
        time.sleep(0.1)
    port = int(port_file.read_text().split()[0])
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=30) as answer:
        page = next(t for t in json.load(answer) if t.get("type") == "page")
    return proc, _DevTools(page["webSocketDebuggerUrl"])


_READ_VIEW = """(() => { const views = Array.from(document.querySelectorAll('.plotly-graph-div'));
  return views.map(g => { const s = g.querySelector('.slider-group > text.slider-label'),
                                t = g.querySelector('.gtitle');
                          return {slider: s && s.textContent,
                                  title: t && t.textContent}; }); })()"""


def _box(dt: _DevTools, selector: str, index: int = 0) -> dict:
    dt.evaluate(
        f"document.querySelectorAll({json.dumps(selector)})[{index}]"
        ".scrollIntoView({block: 'center'}); 1"
    )
    return dt.evaluate(f"""(() => {{
        const r = document.querySelectorAll({json.dumps(selector)})[{index}]
        .getBoundingClientRect(); return {{x: r.left, y: r.top, w: r.width, h: r.height}}; }})()""")


def _settle(dt: _DevTools, ms: int = 400) -> None:
    dt.evaluate(f"new Promise(done => setTimeout(done, {ms}))")


def test_viewer_page_plays_offline_in_chromium(tmp_path):
    """The viewer page (two runs, plotly.js once) loads with no console error, the slider
    and the play button move the displayed step under real (DevTools) mouse input, a hover
    shows a neuron's parameters, and no request other than the page itself is made."""
    chromium = _chromium()
    if chromium is None:
        if os.environ.get("RELU1D_REQUIRE_BROWSER"):
            pytest.fail(
                "RELU1D_REQUIRE_BROWSER is set but no Chromium was found; apt-get install chromium"
            )
        pytest.skip("no Chromium found; install Debian's package: apt-get install chromium")
    pytest.importorskip("plotly")
    from relu1d import init_network, train
    from relu1d.data import sinusoid
    from relu1d.viewer import write_viewer

    data = sinusoid(6, seed=0)
    traj = train(
        init_network(60, alpha="sqrt", seed=1),
        data,
        lr=0.05,
        steps=600,
        record="log",
        progress=False,
    )
    page = write_viewer(
        {"first": (traj, data), "second": (traj, None)}, tmp_path / "view.html", max_frames=20
    )
    steps = [str(s) for s in traj.snapshots.steps]

    proc, dt = _launch_devtools(chromium, tmp_path / "profile")
    try:
        for domain in ("Page", "Runtime", "Network", "Log"):
            dt.call(f"{domain}.enable")
        dt.call("Page.navigate", url=page.as_uri())
        dt.wait_for("Page.loadEventFired")
        _settle(dt)
        start = dt.evaluate(_READ_VIEW)
        assert [v["slider"] for v in start] == ["step 0", "step 0"], start
        assert start[0]["title"].startswith("step 0 ")

        # the slider: press near the right end of the first viewer's rail
        box = _box(dt, ".slider-rail-touch-rect", 0)
        dt.click(box["x"] + box["w"] - 2, box["y"] + box["h"] / 2)
        _settle(dt)
        slid = dt.evaluate(_READ_VIEW)
        assert slid[0]["slider"] == f"step {steps[-1]}", slid
        assert slid[0]["title"].startswith(f"step {steps[-1]} ")
        assert slid[1] == start[1]  # the other viewer did not move

        # play on the second viewer: the step advances by itself
        box = _box(dt, ".updatemenu-button", 2)  # two buttons per viewer: play, pause
        assert "play" in dt.evaluate(
            "document.querySelectorAll('.updatemenu-button')[2].textContent"
        )
        dt.click(box["x"] + box["w"] / 2, box["y"] + box["h"] / 2)
        _settle(dt, 1500)
        played = dt.evaluate(_READ_VIEW)
        assert (
            played[1]["slider"] != "step 0" and played[1]["slider"].removeprefix("step ") in steps
        ), played

        # hover a particle of the first viewer: its neuron's parameters
        point = dt.evaluate("""(() => { const g = document.querySelectorAll('.plotly-graph-div')[0];
            const pts = g.querySelectorAll('.scatterlayer .traceparticles-pos path.point, '
                                           + '.scatterlayer .traceparticles-neg path.point');
            pts[0].scrollIntoView({block: 'center'});
            const r = pts[0].getBoundingClientRect();
            return {x: r.left + r.width / 2, y: r.top + r.height / 2}; })()""")
        dt.hover(point["x"], point["y"])
        _settle(dt)
        hover = dt.evaluate(
            "Array.from(document.querySelectorAll('.hoverlayer .hovertext'))"
            ".map(h => h.textContent)"
        )
        assert any("δ =" in h and "knot e =" in h and "θ =" in h for h in hover), hover
    finally:
        try:
            dt.sock.close()
        finally:
            proc.kill()
            proc.wait()

    requests = [
        e["params"]["request"]["url"]
        for e in dt.events
        if e.get("method") == "Network.requestWillBeSent"
    ]
    assert requests == [page.as_uri()], requests
    errors = [
        e["params"]
        for e in dt.events
        if e.get("method") == "Runtime.exceptionThrown"
        or (
            e.get("method") == "Runtime.consoleAPICalled"
            and e["params"].get("type") in ("error", "assert")
        )
        or (e.get("method") == "Log.entryAdded" and e["params"]["entry"].get("level") == "error")
    ]
    assert errors == [], errors
