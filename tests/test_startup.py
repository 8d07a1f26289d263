"""Start-up cost: ``import relu1d``, ``import relu1d.cli`` and ``relu1d list`` load none of
the heavy libraries (each costs 0.2–1 s); the namespaces are imported on first use; the
numba compilation notice is printed once. Deterministic (checks ``sys.modules``), no
timings."""

from __future__ import annotations

import json
import subprocess
import sys
import types

import pytest

import relu1d

HEAVY = (
    "scipy",
    "xarray",
    "matplotlib",
    "numba",
    "h5netcdf",
    "h5py",
    "pandas",
    "dask",
    "tqdm",
    "plotly",
)


def _run(code: str) -> str:
    """Run ``code`` in a fresh interpreter (it must succeed); its stdout."""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def _loaded_after(code: str) -> list[str]:
    """Run ``code`` in a fresh interpreter; the HEAVY top-level modules it left in sys.modules."""
    probe = (
        f"import sys\n{code}\nimport json\n"
        "print(json.dumps(sorted({n.partition('.')[0] for n in sys.modules} & "
        f"set({list(HEAVY)!r}))))"
    )
    return json.loads(_run(probe).strip().splitlines()[-1])


@pytest.mark.parametrize("code", ["import relu1d", "import relu1d.cli"])
def test_import_loads_no_heavy_library(code):
    loaded = _loaded_after(code)
    assert loaded == [], (
        f"`{code}` imports {loaded}: import heavy libraries inside the functions that use "
        "them (or through relu1d._lazy.lazy_module), not at module level"
    )


def test_listing_experiments_loads_no_heavy_library():
    # what `relu1d list` does: import every experiment module and read the registry
    loaded = _loaded_after("import relu1d.cli\nfrom relu1d.experiments import get, names\n"
                           "assert len(names()) > 0\n[get(n).description for n in names()]")
    assert loaded == [], (
        f"`relu1d list` imports {loaded}: an experiment module (or a module it imports) "
        "imports a heavy library at module level; import it inside the function that uses "
        "it, or use relu1d._lazy.lazy_module"
    )


def test_namespaces_are_imported_on_first_use():
    code = (
        "import sys, relu1d\n"
        "before = [n for n in ('kernel', 'splines', 'meanfield') if 'relu1d.' + n in sys.modules]\n"
        "assert before == [], before\n"
        "from relu1d import kernel\n"
        "assert kernel is sys.modules['relu1d.kernel']\n"
        "assert relu1d.splines is sys.modules['relu1d.splines']\n"
        "assert 'relu1d.meanfield' not in sys.modules"
    )
    # kernel and splines themselves import scipy only inside the functions that need it
    assert _loaded_after(code) == []


@pytest.mark.parametrize(
    "name",
    [
        "kernel",
        "splines",
        "knots",
        "meanfield",
        "hessian",
        "splineview",
        "endpoints",
        "plot",
        "animate",
        "viewer",
        "experiments",
        "report",
        "sweep",
    ],
)
def test_lazy_namespace_attribute(name):
    module = getattr(relu1d, name)
    assert isinstance(module, types.ModuleType) and module.__name__ == f"relu1d.{name}"
    assert sys.modules[f"relu1d.{name}"] is module
    assert name in dir(relu1d)


def test_all_and_dir_and_star_import():
    assert set(relu1d.__all__) <= set(dir(relu1d))
    namespace: dict = {}
    exec("from relu1d import *", namespace)
    assert {n for n in namespace if n != "__builtins__"} == set(relu1d.__all__)
    assert namespace["kernel"] is relu1d.kernel
    with pytest.raises(AttributeError, match="no attribute 'no_such_name'"):
        relu1d.no_such_name  # noqa: B018


def test_train_stays_the_function_after_submodule_imports():
    import relu1d.train._api  # noqa: F401  (would rebind relu1d.train if the subpackage were loaded late)
    import relu1d.train._kernels  # noqa: F401

    assert callable(relu1d.train) and relu1d.train.__name__ == "train"
    assert relu1d.train is sys.modules["relu1d.train"].train


def test_lazy_module_defers_the_import():
    code = ("import sys\nfrom relu1d._lazy import lazy_module\n"
            "st = lazy_module('scipy.stats')\n"
            "assert 'scipy.stats' not in sys.modules\n"
            "assert abs(st.norm.cdf(0.0) - 0.5) < 1e-15\n"
            "assert 'scipy.stats' in sys.modules and st.norm is sys.modules['scipy.stats'].norm\n"
            "print('ok')")
    assert _run(code).strip() == "ok"


def test_lazy_module_rejects_bad_names():
    from relu1d._lazy import lazy_module

    with pytest.raises(ValueError, match="absolute module name"):
        lazy_module(".stats")
    with pytest.raises(ValueError, match="absolute module name"):
        lazy_module(3)
    with pytest.raises(ModuleNotFoundError, match="no_such_top_level_pkg"):
        lazy_module("no_such_top_level_pkg.sub")


def test_compile_notice_printed_once_for_relu1d_functions(monkeypatch, capsys):
    numba = pytest.importorskip("numba")
    from numba.core import event

    from relu1d.train import _compile_notice

    _compile_notice.install()
    listeners = len(event._registered["numba:compile"])
    _compile_notice.install()
    assert len(event._registered["numba:compile"]) == listeners  # installed once per process
    monkeypatch.setitem(_compile_notice._state, "announced", False)

    def outside(x):
        return x + 1.0

    outside.__module__ = "someone_else"
    assert numba.njit(outside)(1.0) == 2.0  # compiles, but not relu1d's: no notice
    assert _compile_notice.MESSAGE not in capsys.readouterr().err

    def ours(x):
        return x * 2.0

    def ours_too(x):
        return x * 3.0

    ours.__module__ = ours_too.__module__ = "relu1d.train._fake"
    assert numba.njit(ours)(1.0) == 2.0
    assert numba.njit(ours_too)(1.0) == 3.0
    err = capsys.readouterr().err
    assert err.count(_compile_notice.MESSAGE) == 1, err


def test_the_command_line_leaves_an_installed_dask_unimported(tmp_path):
    # xarray imports dask.array and dask.distributed whenever dask is installed (0.5 s);
    # `relu1d train` never needs it, while the library leaves a user's dask alone
    pytest.importorskip("dask")
    out = tmp_path / "run"
    code = (
        "import sys\nfrom relu1d.cli import main\n"
        f"sys.argv = ['relu1d', 'train', '--m', '5', '--steps', '10', '--no-progress', "
        f"'--no-figures', '--out', {str(out)!r}]\n"
        "try:\n    main()\nexcept SystemExit as exc:\n    assert not exc.code, exc.code\n"
        "import json\n"
        "print(json.dumps(sorted(n for n in sys.modules if n.partition('.')[0] == 'dask' "
        "and sys.modules[n] is not None)))"
    )
    assert json.loads(_run(code).strip().splitlines()[-1]) == []
    assert json.loads((out / "meta.json").read_text())["status"] == "ok"
    library = ("import relu1d, dask.array\n"
               "relu1d.train(relu1d.init_network(5), relu1d.datasets.square_wave(4), steps=2, "
               "lr=0.01, progress=False)\nprint(dask.array.ones(3).sum().compute())")
    assert _run(library).strip().splitlines()[-1] == "3.0"


def test_hiding_dask_is_undone_and_keeps_an_imported_dask():
    pytest.importorskip("dask")
    code = (
        "import sys\nfrom relu1d._lazy import hide_unused_dask, unhide_dask\n"
        "hide_unused_dask()\n"
        "try:\n    import dask\nexcept ImportError:\n    print('hidden')\n"
        "unhide_dask()\nimport dask\nhide_unused_dask()\n"
        "import dask.array\nprint('kept', sys.modules['dask'] is dask)"
    )
    assert _run(code).split() == ["hidden", "kept", "True"]
