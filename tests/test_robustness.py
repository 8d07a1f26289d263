"""Robustness of sweeps against real processes and signals (issue 14, items 3, 5, 9, 10),
and pickling of every public result type.

The process tests start real ``relu1d sweep`` / ``run_sweep`` processes in their own
session and send real signals: SIGINT to the whole process group (what a terminal's
Ctrl-C does), SIGKILL and SIGTERM to the main process only. Their points are cheap
(a module written to tmp_path sleeps, so that a point is "running" for a known time).
"""

from __future__ import annotations

import copy
import os
import pickle
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

import relu1d as r1
from relu1d.train import TrainingDiverged

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals and process groups")

PYTHON = sys.executable
SRC = str(Path(r1.__file__).resolve().parents[1])

POINT_MODULE = textwrap.dedent('''
    import os, time
    import numpy as np
    import xarray as xr

    def point(spec):
        """Sleeps init.m centiseconds, then returns; records the worker's pid."""
        time.sleep(spec.init.m / 100)
        return xr.Dataset({"value": ((), float(spec.init.m)), "pid": ((), os.getpid()),
                           "curve": ("k", np.arange(spec.init.m, dtype=float))},
                          coords={"k": np.arange(spec.init.m)})
''')

DRIVER = textwrap.dedent('''
    import sys
    from relu1d.sweep import Sweep, TrainSpec, run_sweep
    import slowpoint

    if __name__ == "__main__":
        values = [int(v) for v in sys.argv[2].split(",")]
        sweep = Sweep(TrainSpec(), {"init.m": values})
        run_sweep(sweep, sys.argv[1], workers=int(sys.argv[3]), progress=False,
                  point_fn=slowpoint.point)
        print("merged")
''')


@pytest.fixture
def driver(tmp_path):
    (tmp_path / "slowpoint.py").write_text(POINT_MODULE)
    (tmp_path / "driver.py").write_text(DRIVER)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), SRC])}

    def start(out, values, workers=2):
        log = open(tmp_path / f"{Path(out).name}.log", "w")
        proc = subprocess.Popen(
            [
                PYTHON,
                str(tmp_path / "driver.py"),
                str(out),
                ",".join(map(str, values)),
                str(workers),
            ],
            cwd=tmp_path,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        proc.log_path = tmp_path / f"{Path(out).name}.log"
        return proc

    return start


def _kill_group(proc) -> None:
    """Leave nothing behind, whatever the test found: the whole session started for it."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    if proc.poll() is None:
        proc.wait(timeout=10)


def _children() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            kids.setdefault(ppid, []).append(int(entry))
    return kids


def descendants(pid: int) -> list[int]:
    kids, out, stack = _children(), [], [pid]
    while stack:
        for k in kids.get(stack.pop(), []):
            out.append(k)
            stack.append(k)
    return out


def running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        return False


def wait_for(condition, timeout: float, what: str):
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def finished_points(out: Path) -> list[Path]:
    return sorted((out / "points").glob("*.nc")) if (out / "points").is_dir() else []


needs_proc = pytest.mark.skipif(
    not os.path.isdir("/proc/self"), reason="needs /proc to find the workers"
)


# ----------------------------------------------------------------------------- Ctrl-C
def test_ctrl_c_to_the_process_group_of_relu1d_sweep_stops_it_and_stores_only_complete_points(
    tmp_path,
):
    # a real `relu1d sweep` of training runs: Ctrl-C reaches the main process and the
    # workers alike; every stored point must be a complete run, the exit code 130, the
    # message "N of M done", no sweep.nc; a rerun completes exactly the missing ones
    (tmp_path / "s.toml").write_text(textwrap.dedent('''
        [base.init]
        m = 30
        [base.training]
        lr = 0.001
        steps = 3000000
        record_every = 100000
        [grid]
        "init.seed" = [0, 1, 2, 3, 4, 5, 6, 7]
    '''))
    out = tmp_path / "out"
    cmd = [
        PYTHON,
        "-m",
        "relu1d.cli",
        "sweep",
        str(tmp_path / "s.toml"),
        "--out",
        str(out),
        "--workers",
        "2",
        "--no-progress",
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True, cwd=tmp_path)
    try:
        wait_for(lambda: finished_points(out), 60, "a first finished point")
        os.killpg(proc.pid, signal.SIGINT)
        t0 = time.monotonic()
        output, _ = proc.communicate(timeout=30)
        stop_s = time.monotonic() - t0
    finally:
        _kill_group(proc)
    assert proc.returncode == 130, output
    saved = finished_points(out)
    assert f"{len(saved)} of 8 points done" in output and "rerun" in output, output
    assert "Traceback" not in output
    assert 1 <= len(saved) < 8 and not (out / "sweep.nc").exists()
    assert stop_s < 10  # stopped, not waited for the remaining points
    for path in saved:  # no truncated run under a final name
        ds = r1._storage.read_netcdf(path)
        assert int(ds["step"].values[-1]) == 3000000 and str(ds["status"].values) == "ok"
    assert not list((out / "points").glob(".*.tmp"))
    rerun = subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert rerun.returncode == 0, rerun.stderr
    assert len(finished_points(out)) == 8 and (out / "sweep.nc").is_file()


@needs_proc
def test_ctrl_c_sent_to_a_worker_alone_does_not_truncate_its_point(tmp_path, driver):
    out = tmp_path / "out"
    proc = driver(out, [150, 151], workers=2)
    try:
        workers = wait_for(
            lambda: (
                [p for p in descendants(proc.pid) if _is_worker(p)][:2]
                if len([p for p in descendants(proc.pid) if _is_worker(p)]) >= 2
                else None
            ),
            30,
            "two workers",
        )
        time.sleep(0.3)
        for pid in workers:
            os.kill(pid, signal.SIGINT)
        assert proc.wait(timeout=30) == 0, proc.log_path.read_text()
    finally:
        _kill_group(proc)
    ds = r1._storage.read_netcdf(out / "sweep.nc")
    np.testing.assert_array_equal(ds["value"].values, [150.0, 151.0])


def _is_worker(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            cmd = fh.read()
    except OSError:
        return False
    # forkserver children run "from multiprocessing.forkserver import main" only in the
    # server itself; workers carry the server's command line too, so tell them by parent
    return (
        b"forkserver" in cmd
        and _parent(pid) is not None
        and b"forkserver" in _cmdline(_parent(pid))
    )


def _parent(pid: int):
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return int(fh.read().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError):
        return None


def _cmdline(pid: int) -> bytes:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return fh.read()
    except OSError:
        return b""


# ----------------------------------------------------------------------------- parent death
@needs_proc
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_no_worker_survives_the_death_of_the_main_process(tmp_path, driver, sig):
    out = tmp_path / "out"
    # 20 s points: they would outlive the test
    proc = driver(out, [2000, 2001, 2002, 2003], workers=2)
    try:
        wait_for(lambda: sum(_is_worker(p) for p in descendants(proc.pid)) >= 2, 30, "two workers")
        tree = descendants(proc.pid)  # forkserver, workers, resource tracker
        os.kill(proc.pid, sig)
        proc.wait(timeout=10)
        # within a few seconds every process the sweep started is gone
        wait_for(lambda: not any(running(p) for p in tree), 8,
                 f"the sweep's processes {[p for p in tree if running(p)]} to exit")
    finally:
        _kill_group(proc)
    assert not finished_points(out)


# ----------------------------------------------------------------------------- one sweep per folder
@needs_proc
def test_a_second_sweep_on_the_same_folder_is_refused_and_deletes_nothing(tmp_path, driver):
    out = tmp_path / "out"
    first = driver(out, [300, 301], workers=2)
    try:
        wait_for(
            lambda: (
                (out / ".lock").is_file()
                and sum(_is_worker(p) for p in descendants(first.pid)) >= 1
            ),
            30,
            "the first sweep to start",
        )
        # a temporary file of a live writer (this test process) and one of a dead writer
        live = out / "points" / f".x.nc.{os.getpid()}.abcd1234.tmp"
        live.write_text("being written")
        dead_pid = _a_dead_pid()
        dead = out / "points" / f".y.nc.{dead_pid}.abcd1234.tmp"
        dead.write_text("left by a killed writer")
        second = driver(tmp_path / "out", [300, 301], workers=1)
        assert second.wait(timeout=30) != 0
        message = second.log_path.read_text()
        assert f"in use by another relu1d sweep (pid {first.pid})" in message, message
        assert live.exists() and dead.exists()  # the refused sweep touched nothing
        assert first.wait(timeout=60) == 0, first.log_path.read_text()
    finally:
        _kill_group(first)
    assert (out / "sweep.nc").is_file()
    # the next sweep on the folder clears the dead writer's temporary, never a live one's
    rerun = driver(out, [300, 301], workers=1)
    assert rerun.wait(timeout=60) == 0, rerun.log_path.read_text()
    assert live.exists() and not dead.exists()


def _a_dead_pid() -> int:
    proc = subprocess.Popen([PYTHON, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_relu1d_sweep_refuses_a_locked_folder_with_one_line(tmp_path):
    import fcntl

    (tmp_path / "s.toml").write_text('[grid]\n"init.m" = [3]\n')
    out = tmp_path / "out"
    out.mkdir()
    with open(out / ".lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        fh.write("4242\n")
        fh.flush()
        res = subprocess.run(
            [
                PYTHON,
                "-m",
                "relu1d.cli",
                "sweep",
                str(tmp_path / "s.toml"),
                "--out",
                str(out),
                "--no-progress",
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert res.returncode == 1
    assert (
        "in use by another relu1d sweep (pid 4242)" in res.stderr and "Traceback" not in res.stderr
    )


# ----------------------------------------------------------------------------- pickling
def _diverged() -> TrainingDiverged:
    net, data = r1.init_network(20, seed=0), r1.datasets.square_wave(10, seed=0)
    with pytest.raises(TrainingDiverged) as info:
        r1.train(net, data, lr=5.0, steps=1000, trainable="c", record_every=7, progress=False)
    return info.value


def _same_arrays(x, y, names):
    for name in names:
        np.testing.assert_array_equal(getattr(x, name), getattr(y, name))


@pytest.mark.parametrize("how", ["pickle", "deepcopy"])
def test_every_public_result_type_survives_pickling(how):
    roundtrip = (lambda obj: pickle.loads(pickle.dumps(obj))) if how == "pickle" else copy.deepcopy
    net = r1.init_network(7, seed=1, delta=0.5)
    back = roundtrip(net)
    _same_arrays(net, back, "abc")
    assert back.alpha == net.alpha and dict(back.provenance) == dict(net.provenance)
    assert not back.a.flags.writeable  # still immutable
    with pytest.raises(TypeError):
        back.provenance["x"] = 1

    spline = net.to_spline()
    back = roundtrip(spline)
    _same_arrays(spline, back, ("breakpoints", "values", "slopes"))
    assert not back.values.flags.writeable

    data = r1.datasets.sinusoid(9, seed=2)
    back = roundtrip(data)
    _same_arrays(data, back, "xy")
    assert not back.x.flags.writeable

    traj = r1.train(
        net, data, lr=1e-2, steps=30, record_every=10, progress=False, parameterization="canonical"
    )
    back = roundtrip(traj)
    _same_arrays(traj, back, ("steps", "loss", "data_loss", "delta"))
    _same_arrays(traj.snapshots, back.snapshots, ("a", "r", "theta"))
    _same_arrays(traj.network, back.network, "abc")
    assert back.options == traj.options and back.parameterization == "canonical"

    err = _diverged()
    back = roundtrip(err)
    assert type(back) is TrainingDiverged and str(back) == str(err)
    assert (back.step, back.last_loss, back.lr) == (err.step, err.last_loss, err.lr)
    np.testing.assert_array_equal(back.trajectory.loss, err.trajectory.loss)


def test_claims_results_and_splines_pickle():
    import xarray as xr

    from relu1d.experiments import Claim, ExperimentResult
    from relu1d.splines import linear, natural_cubic

    claim = Claim.close("mean_near_zero", "the mean is near 0", "toy", 0.01, 0.0, 0.1)
    res = ExperimentResult(data=xr.Dataset({"v": ("i", np.arange(3.0))}), claims=[claim])
    back = pickle.loads(pickle.dumps(res))
    assert back.claim("mean_near_zero").verdict == claim.verdict == "holds"
    assert back.claim("mean_near_zero").measured == 0.01
    np.testing.assert_array_equal(back.data["v"].values, [0.0, 1.0, 2.0])
    data = r1.datasets.sinusoid(8, seed=4)
    x = np.linspace(-1.5, 1.5, 41)
    for spline in (natural_cubic(data), linear(data, outside="constant")):
        back = pickle.loads(pickle.dumps(spline))
        np.testing.assert_array_equal(back(x), spline(x))
        assert back.outside == spline.outside


# ----------------------------------------------------------------------------- damaged files
def test_loading_a_damaged_trajectory_is_one_clear_error(tmp_path):
    import xarray as xr

    net, data = r1.init_network(6, seed=0), r1.datasets.square_wave(6, seed=0)
    good = r1.train(net, data, lr=1e-2, steps=20, record_every=5, progress=False).save(
        tmp_path / "t.nc"
    )
    whole = good.read_bytes()
    cases = {"empty.nc": b"", "text.nc": b"step,loss\n0,1\n", "cut.nc": whole[: len(whole) // 2]}
    for name, content in cases.items():
        (tmp_path / name).write_bytes(content)
        with pytest.raises(ValueError, match=rf"'{tmp_path / name}' is not a readable NetCDF file"):
            r1.Trajectory.load(tmp_path / name)
    ds = r1._storage.read_netcdf(good)
    bad_json = ds.assign_attrs(options="{not json")
    bad_json.to_netcdf(tmp_path / "json.nc", engine="h5netcdf")
    with pytest.raises(
        ValueError, match=rf"'{tmp_path / 'json.nc'}' has a damaged attribute \(not JSON"
    ):
        r1.Trajectory.load(tmp_path / "json.nc")
    no_alpha = ds.copy()
    del no_alpha.attrs["alpha"]
    no_alpha.to_netcdf(tmp_path / "alpha.nc", engine="h5netcdf")
    with pytest.raises(
        ValueError, match=r"is damaged or not written by Trajectory.save \(KeyError: 'alpha'\)"
    ):
        r1.Trajectory.load(tmp_path / "alpha.nc")
    xr.Dataset({"a": ("i", [1.0])}).to_netcdf(tmp_path / "other.nc", engine="h5netcdf")
    with pytest.raises(ValueError, match=r"lacks \['b', 'c', 'data_loss', 'loss'\]"):
        r1.Trajectory.load(tmp_path / "other.nc")
    np.testing.assert_array_equal(r1.Trajectory.load(good).loss, r1.Trajectory.load(good).loss)


def test_a_write_clears_what_a_killed_writer_of_the_same_file_left_and_nothing_else(tmp_path):
    # kill -9 mid-write leaves `.NAME.PID.XXXXXXXX.tmp` beside NAME; the next write of NAME
    # removes it once PID is dead, and never touches anything else
    from relu1d import _storage

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = tmp_path / f".movie.gif.{dead.pid}.ab_cd123.tmp"
    live = tmp_path / f".movie.gif.{os.getppid()}.ab_cd123.tmp"      # a running writer
    other = tmp_path / f".other.gif.{dead.pid}.ab_cd123.tmp"          # another file's
    users = [tmp_path / ".movie.gif.notes.tmp", tmp_path / ".movie.gif.tmp"]
    for f in (stale, live, other, *users):
        f.write_text("x")
    _storage.write_text(tmp_path / "movie.gif", "done")
    assert (tmp_path / "movie.gif").read_text() == "done"
    assert not stale.exists()
    assert live.exists() and other.exists() and all(f.exists() for f in users)
