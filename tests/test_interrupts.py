"""Ctrl-C and partial results (issue 14, items 1, 2, 7 and train_many / method="flow").

The rule: an interrupted computation is never stored under a final name or with status
"ok". Two tests send a real SIGINT to the process group of a ``relu1d`` child (as a
terminal's Ctrl-C does); the child is instrumented by a ``sitecustomize`` module on its
PYTHONPATH that touches a file once the first chunk of training steps has run (so the
signal lands inside ``train``) and, for ``reproduce``, registers two toy experiments.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

import relu1d as r1
from relu1d import _storage
from relu1d.experiments import Claim, ExperimentResult, _registry, register
from relu1d.report import ReproduceInterrupted, reproduce, run_experiment
from relu1d.train import TrainingInterrupted, _api, _flow, interrupt_policy

RELU1D = Path(sys.executable).parent / "relu1d"

SITECUSTOMIZE = textwrap.dedent('''
    import os

    _ready = os.environ.get("RELU1D_TEST_READY")
    _armed = {"on": not os.environ.get("RELU1D_TEST_TOYS")}  # with the toys: toy.slow only
    if _ready:
        from relu1d.train import _api

        _advance = _api._Engine.advance

        def advance(self, *args):
            result = _advance(self, *args)
            if _armed["on"] and not os.path.exists(_ready):
                open(_ready, "w").close()
            return result

        _api._Engine.advance = advance

    if os.environ.get("RELU1D_TEST_TOYS"):
        from dataclasses import dataclass

        import relu1d
        from relu1d.experiments import Claim, ExperimentResult, register

        @dataclass(frozen=True)
        class ToySpec:
            steps: int = 10
            seed: int = 0

        def run_toy(spec):
            net = relu1d.init_network(20, seed=spec.seed)
            data = relu1d.datasets.square_wave(10, seed=spec.seed)
            _armed["on"] = spec.steps > 10 ** 6
            traj = relu1d.train(net, data, lr=1e-3, steps=spec.steps, record_every=10 ** 5,
                                progress=False)
            return ExperimentResult(None, {}, [Claim.below("loss_drops", "training lowers the loss",
                                                           "toy", float(traj.loss[-1]),
                                                           float(traj.loss[0]))])

        register("toy.fast", "A short training.", quick=ToySpec(), full=ToySpec())(run_toy)
        register("toy.slow", "A training far too long to finish.", quick=ToySpec(steps=10 ** 9),
                 full=ToySpec(steps=10 ** 9))(run_toy)
''')


def _interrupt_child(tmp_path, args, toys=False, timeout=60.0):
    """Run ``relu1d ARGS`` in a new session, send SIGINT to its process group once the
    first chunk of training has run, and return (returncode, stderr, seconds from the
    signal to the exit)."""
    site = tmp_path / "site"
    site.mkdir(exist_ok=True)
    (site / "sitecustomize.py").write_text(SITECUSTOMIZE)
    ready = tmp_path / "ready"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")])),
        "RELU1D_TEST_READY": str(ready),
    }
    if toys:
        env["RELU1D_TEST_TOYS"] = "1"
    proc = subprocess.Popen([str(RELU1D), *args], env=env, cwd=tmp_path, start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + timeout
        while not ready.exists():
            if proc.poll() is not None:
                out, err = proc.communicate()
                pytest.fail(
                    f"the child exited ({proc.returncode}) before training began:\n{out}\n{err}"
                )
            if time.monotonic() > deadline:
                pytest.fail("the child did not begin training in time")
            time.sleep(0.02)
        time.sleep(0.2)
        os.killpg(proc.pid, signal.SIGINT)
        t_signal = time.monotonic()
        out, err = proc.communicate(timeout=timeout)
        return proc.returncode, out + err, time.monotonic() - t_signal
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@pytest.mark.skipif(
    not RELU1D.is_file(), reason="the relu1d script is not installed beside this Python"
)
def test_ctrl_c_on_relu1d_train_keeps_an_explicitly_partial_record(tmp_path):
    out = tmp_path / "run"
    steps = 10 ** 9  # minutes
    rc, text, latency = _interrupt_child(
        tmp_path,
        [
            "train",
            "--m",
            "20",
            "--s",
            "10",
            "--steps",
            str(steps),
            "--record-every",
            "10000",
            "--out",
            str(out),
            "--no-progress",
        ],
    )
    assert rc == 130, text
    assert (
        "interrupted at step" in text
        and "PARTIAL" in text
        and "spec.toml" in text
        and "Traceback" not in text
    )
    meta = json.loads((out / "meta.json").read_text())
    assert meta["status"] == "interrupted" and meta["steps_planned"] == steps
    assert 0 <= meta["steps_done"] < steps and meta["steps_done"] % 10000 == 0
    ds = _storage.read_netcdf(out / "data.nc")
    assert ds.attrs["status"] == "interrupted" and ds.attrs["interrupted"] == 1
    assert int(ds["record_step"].values[-1]) == meta["steps_done"]
    assert "PARTIAL" in (out / "spec.toml").read_text().splitlines()[0]
    assert latency < 30  # stops within a chunk, then saves (the machine may be loaded)


@pytest.mark.skipif(
    not RELU1D.is_file(), reason="the relu1d script is not installed beside this Python"
)
def test_ctrl_c_on_relu1d_reproduce_stops_and_keeps_the_finished_experiments(tmp_path):
    out = tmp_path / "rep"
    rc, text, latency = _interrupt_child(
        tmp_path,
        ["reproduce", "toy.fast", "toy.slow", "--quick", "--out", str(out), "--no-progress"],
        toys=True,
    )
    assert rc == 130, text
    assert (
        "1 of 2 experiment(s) done" in text
        and "rerun to resume" in text
        and "Traceback" not in text
    )
    assert json.loads((out / "toy.fast" / "meta.json").read_text())["status"] == "ok"
    slow = json.loads((out / "toy.slow" / "meta.json").read_text())
    assert slow["status"] == "interrupted" and slow["claims"] == []  # never "ok"
    assert not (out / "toy.slow" / "claims.json").exists()
    page = (out / "report.html").read_text()
    assert "toy.fast" in page
    assert latency < 30


# --------------------------------------------------------------------------- in process
@dataclass(frozen=True)
class TrainToySpec:
    steps: int = 100
    seed: int = 0


def _run_train_toy(spec: TrainToySpec) -> ExperimentResult:
    net, data = r1.init_network(10, seed=spec.seed), r1.datasets.square_wave(8, seed=spec.seed)
    traj = r1.train(net, data, lr=1e-2, steps=spec.steps, record_every=10, progress=False)
    return ExperimentResult(None, {}, [Claim.below("loss_drops", "training lowers the loss", "toy",
                                                   float(traj.loss[-1]), float(traj.loss[0]))])


@pytest.fixture
def train_toys(monkeypatch):
    monkeypatch.setattr(_registry, "REGISTRY", {})
    monkeypatch.setattr(_registry, "_load_all", lambda: None)
    register("toy.a", "A short training.", quick=TrainToySpec(), full=TrainToySpec(seed=1))(
        _run_train_toy
    )
    register("toy.b", "Another.", quick=TrainToySpec(seed=2), full=TrainToySpec(seed=3))(
        _run_train_toy
    )


def _ctrl_c_on_call(monkeypatch, n, skip=0):
    """Make the n-th call of the engine's advance (after ``skip`` calls) raise KeyboardInterrupt."""
    calls = {"n": 0}
    original = _api._Engine.advance

    def advance(self, *args):
        calls["n"] += 1
        if calls["n"] == skip + n:
            raise KeyboardInterrupt
        return original(self, *args)

    monkeypatch.setattr(_api._Engine, "advance", advance)


def test_an_interrupted_training_inside_an_experiment_is_never_recorded_as_ok(
    tmp_path, train_toys, monkeypatch
):
    # toy.a runs 10 chunks (100 steps, record every 10); Ctrl-C arrives in toy.b's third
    _ctrl_c_on_call(monkeypatch, 3, skip=10)
    with pytest.raises(ReproduceInterrupted) as info:
        reproduce(["toy.a", "toy.b"], tmp_path, progress=False)
    err = info.value
    assert isinstance(err, KeyboardInterrupt)
    assert (
        [r["name"] for r in err.records] == ["toy.a"]
        and err.total == 2
        and err.interrupted == "toy.b"
    )
    assert json.loads((tmp_path / "toy.a" / "meta.json").read_text())["status"] == "ok"
    assert json.loads((tmp_path / "toy.b" / "meta.json").read_text())["status"] == "interrupted"
    assert "toy.a" in (tmp_path / "report.html").read_text()


def test_an_interrupt_keeps_a_previous_complete_record(tmp_path, train_toys, monkeypatch):
    first = run_experiment("toy.a", tmp_path)
    _ctrl_c_on_call(monkeypatch, 2)
    with pytest.raises(KeyboardInterrupt):
        run_experiment("toy.a", tmp_path, spec=TrainToySpec(steps=50))
    kept = json.loads((tmp_path / "toy.a" / "meta.json").read_text())
    assert (
        kept["status"] == "ok"
        and kept["finished_utc"] == first["finished_utc"]
        and kept["spec"]["steps"] == 100
    )


def test_interrupt_policy_and_on_interrupt(monkeypatch):
    net, data = r1.init_network(10, seed=0), r1.datasets.square_wave(8, seed=0)
    _ctrl_c_on_call(monkeypatch, 3)
    with pytest.raises(TrainingInterrupted) as info:
        r1.train(
            net, data, lr=1e-2, steps=100, record_every=10, progress=False, on_interrupt="raise"
        )
    assert list(info.value.trajectory.steps) == [0, 10, 20] and info.value.trajectory.interrupted
    _ctrl_c_on_call(monkeypatch, 2)
    with interrupt_policy("raise"), pytest.raises(TrainingInterrupted):
        r1.train(net, data, lr=1e-2, steps=100, record_every=10, progress=False)
    _ctrl_c_on_call(monkeypatch, 2)
    # the argument wins
    with (interrupt_policy("raise"), pytest.warns(RuntimeWarning, match="interrupted")):
        traj = r1.train(
            net, data, lr=1e-2, steps=100, record_every=10, progress=False, on_interrupt="return"
        )
    assert traj.interrupted and list(traj.steps) == [0, 10]
    with pytest.raises(ValueError, match="on_interrupt must be one of"):
        r1.train(net, data, steps=10, progress=False, on_interrupt="ignore")
    with pytest.raises(ValueError, match="mode must be one of"):
        with interrupt_policy("later"):
            pass


def _interrupt_main_after(seconds: float) -> threading.Timer:
    """A real SIGINT to the main thread (as Ctrl-C delivers it) after ``seconds``."""
    main = threading.main_thread().ident
    timer = threading.Timer(seconds, signal.pthread_kill, (main, signal.SIGINT))
    timer.start()
    return timer


@pytest.mark.parametrize("on_interrupt", ["return", "raise"])
def test_train_many_stops_promptly_and_keeps_every_partial_run(on_interrupt):
    data = r1.datasets.square_wave(10, seed=0)
    nets = [r1.init_network(20, seed=k) for k in range(3)]
    steps = 10 ** 9  # minutes: only a prompt stop ends this test in seconds
    kwargs = dict(lr=1e-3, steps=steps, record_every=10 ** 4, workers=2, on_interrupt=on_interrupt)
    t0 = time.monotonic()
    timer = _interrupt_main_after(1.0)
    try:
        if on_interrupt == "return":
            with pytest.warns(RuntimeWarning, match="train_many interrupted"):
                trajs = r1.train_many(nets, data, **kwargs)
        else:
            with pytest.raises(TrainingInterrupted) as info:
                r1.train_many(nets, data, **kwargs)
            trajs = info.value.trajectories
    finally:
        timer.cancel()
    elapsed = time.monotonic() - t0
    assert elapsed < 8, elapsed
    assert len(trajs) == 3 and all(t.interrupted for t in trajs)
    # the two running ones kept their steps
    assert trajs[0].steps[-1] > 0 and trajs[1].steps[-1] > 0
    assert list(trajs[2].steps) == [0]  # the third had not started: its initial state only
    for _net, traj in zip(nets, trajs):
        # each partial trajectory is consistent: its loss is that of its own final network
        f = traj.network(data.x)
        np.testing.assert_allclose(traj.data_loss[-1], 0.5 * np.sum((f - data.y) ** 2), rtol=1e-10)
        assert traj.steps[-1] < steps
    np.testing.assert_array_equal(trajs[2].network.a, nets[2].a)


def test_train_many_without_interrupt_is_unchanged():
    data = r1.datasets.square_wave(8, seed=0)
    nets = [r1.init_network(10, seed=k) for k in range(3)]
    trajs = r1.train_many(nets, data, lr=1e-2, steps=50, record_every=10, workers=2, seed=[0, 1, 2])
    for net, traj in zip(nets, trajs):
        alone = r1.train(net, data, lr=1e-2, steps=50, record_every=10, progress=False)
        assert not traj.interrupted
        np.testing.assert_allclose(traj.loss, alone.loss, rtol=1e-12)


def test_flow_interrupt_returns_the_partial_trajectory(monkeypatch):
    net, data = r1.init_network(8, seed=1), r1.datasets.square_wave(6, seed=1)
    calls = {"n": 0}

    advance = _flow._advance

    def interrupted_advance(*args):  # the compiled solver: one batch of steps per call
        calls["n"] += 1
        if calls["n"] == 6:
            raise KeyboardInterrupt
        return advance(*args)

    monkeypatch.setattr(_flow, "_advance", interrupted_advance)
    with pytest.warns(RuntimeWarning, match="interrupted"):
        traj = r1.train(
            net, data, method="flow", lr=0.05, steps=2000, record_every=20, progress=False
        )
    assert calls["n"] == 6 and traj.interrupted
    assert 1 <= traj.steps.size < 101 and traj.steps[0] == 0 and np.all(np.diff(traj.steps) == 20)
    np.testing.assert_array_equal(traj.network.a, traj.snapshots.a[-1])
    f = traj.network(data.x)
    np.testing.assert_allclose(traj.data_loss[-1], 0.5 * np.sum((f - data.y) ** 2), rtol=1e-10)
    # the states reached are those of an uninterrupted flow, up to the solver's tolerance
    monkeypatch.undo()
    full = r1.train(net, data, method="flow", lr=0.05, steps=2000, record_every=20, progress=False)
    k = traj.steps.size
    np.testing.assert_allclose(traj.loss, full.loss[:k], rtol=1e-6)
    assert not full.interrupted and full.steps.size == 101


def _system_error_from_ctrl_c() -> SystemError:
    """What CPython raised when a real Ctrl-C landed in numba's ``_numba_unpickle`` inside
    the compiled flow (see relu1d._common.interrupt_from_kernel): two SystemErrors
    ("returned a result with an exception set"), the inner one caused by the
    KeyboardInterrupt."""
    try:
        try:
            try:
                raise KeyboardInterrupt
            except KeyboardInterrupt as ctrl_c:
                raise SystemError("<function _numba_unpickle> returned a result with an "
                                  "exception set") from ctrl_c
        except SystemError as inner:
            raise SystemError("CPUDispatcher(<function _advance>) returned a result with an "
                              "exception set") from inner
    except SystemError as exc:
        return exc


def test_ctrl_c_inside_a_compiled_call_is_an_interrupt_not_an_error(monkeypatch):
    net, data = r1.init_network(8, seed=1), r1.datasets.square_wave(6, seed=1)
    calls = {"n": 0}
    original = _api._Engine.advance

    def advance(self, *args):
        calls["n"] += 1
        if calls["n"] == 3:
            raise _system_error_from_ctrl_c()
        return original(self, *args)

    monkeypatch.setattr(_api._Engine, "advance", advance)
    with pytest.warns(RuntimeWarning, match="interrupted"):
        traj = r1.train(net, data, lr=1e-2, steps=100, record_every=10, progress=False)
    assert traj.interrupted and traj.steps[-1] == 20  # two chunks of 10 steps were done
    calls["n"] = 0
    with pytest.raises(r1.TrainingInterrupted):
        r1.train(net, data, lr=1e-2, steps=100, record_every=10, progress=False,
                 on_interrupt="raise")
    # any other SystemError is an error
    monkeypatch.setattr(_api._Engine, "advance",
                        lambda self, *args: (_ for _ in ()).throw(SystemError("broken")))
    with pytest.raises(SystemError, match="broken"):
        r1.train(net, data, lr=1e-2, steps=100, record_every=10, progress=False)


def test_ctrl_c_inside_the_compiled_flow_is_an_interrupt_not_an_error(monkeypatch):
    net, data = r1.init_network(8, seed=1), r1.datasets.square_wave(6, seed=1)
    calls = {"n": 0}
    advance = _flow._advance

    def interrupted_advance(*args):
        calls["n"] += 1
        if calls["n"] == 6:
            raise _system_error_from_ctrl_c()
        return advance(*args)

    monkeypatch.setattr(_flow, "_advance", interrupted_advance)
    with pytest.warns(RuntimeWarning, match="interrupted"):
        traj = r1.train(
            net, data, method="flow", lr=0.05, steps=2000, record_every=20, progress=False
        )
    assert calls["n"] == 6 and traj.interrupted and 1 <= traj.steps.size < 101
