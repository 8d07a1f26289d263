"""boursier2025.three_point: Boursier & Flammarion's three-point example (Thm. 2, §5, §6)."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

import relu1d as r1
from relu1d.experiments import get
from relu1d.experiments.boursier2025 import THREE_POINT_DATA, ThreePointSpec, least_squares_line

X = np.array([-0.75, -0.5, 0.125])
Y = np.array([1.1, 0.1, 0.8])


def _polyfit_line():
    """The OLS line and its misfit ½Σρ², computed independently of the experiment."""
    slope, intercept = np.polyfit(X, Y, 1)
    misfit = 0.5 * float(np.sum((Y - (slope * X + intercept)) ** 2))
    return slope, intercept, misfit


def _assert_judged_from_disk(res, spec, path):
    """The registered judge recomputes the claims from the dataset alone, after a round
    trip through netCDF."""
    import xarray as xr

    from relu1d._storage import write_netcdf

    write_netcdf(res.data, path)
    with xr.open_dataset(path, engine="h5netcdf") as stored:
        judged = get("boursier2025.three_point").judge(stored.load(), spec)
    assert [repr(c) for c in judged] == [repr(c) for c in res.claims]   # repr: NaN == NaN


@pytest.fixture(scope="module")
def quick():
    exp = get("boursier2025.three_point")
    return exp.run(exp.preset("quick"))


def test_data_and_least_squares_line_match_polyfit():
    np.testing.assert_array_equal(THREE_POINT_DATA.x, X)
    np.testing.assert_array_equal(THREE_POINT_DATA.y, Y)
    slope, intercept, misfit = _polyfit_line()
    got = least_squares_line(THREE_POINT_DATA)
    np.testing.assert_allclose(got, (slope, intercept, misfit), rtol=1e-12)
    # the middle point lies below the line, the outer ones above (their §5 description)
    residual = Y - (slope * X + intercept)
    assert residual[0] > 0 and residual[1] < 0 and residual[2] > 0
    assert 0.26 < misfit < 0.27


def test_quick_verdicts_all_hold(quick):
    assert quick.verdicts() == {
        "dominated_stalls_at_least_squares": "holds", "dominated_fits_ols": "holds",
        "dominated_signs_preserved": "holds", "balanced_stalls_at_least_squares": "holds",
        "unbalanced_interpolates": "holds", "independent_interpolates": "holds",
        "unbalanced_signs_change": "holds", "dominated_large_scale_escapes": "holds"}
    for claim in quick.claims:
        assert claim.seeds >= 3


def test_stalled_runs_sit_exactly_at_the_least_squares_misfit(quick):
    ds = quick.data
    slope, intercept, misfit = _polyfit_line()
    assert ds.attrs["ls_misfit"] == pytest.approx(misfit, rel=1e-12)
    for family in ("dominated", "balanced"):
        final = ds["final_loss"].sel(init_family=family).values
        np.testing.assert_allclose(final, misfit, rtol=1e-9)
        # certified: loss on a plateau, vanishing gradient, and no knot separating the samples
        assert np.all(ds["plateau"].sel(init_family=family).values < 1e-9)
        assert np.all(ds["grad_norm"].sel(init_family=family).values < 1e-8)
        np.testing.assert_allclose(
            ds["affine_bound"].sel(init_family=family).values, misfit, rtol=1e-9
        )
        # so f is the OLS line on the data hull, not merely at the samples
        hull = (ds.x >= X[0]) & (ds.x <= X[-1])
        f = ds["function"].sel(init_family=family).values[:, hull.values]
        line = slope * ds.x.values[hull.values] + intercept
        np.testing.assert_allclose(f, np.broadcast_to(line, f.shape), atol=1e-7)
    gap = quick.claim("dominated_stalls_at_least_squares").measured
    assert 0 <= gap < 1e-9
    assert quick.claim("dominated_fits_ols").measured < 1e-9
    lo, hi = quick.claim("dominated_stalls_at_least_squares").interval
    assert lo <= hi and abs(lo) < 1e-9 and abs(hi) < 1e-9


def test_unbalanced_and_independent_inits_interpolate(quick):
    ds = quick.data
    for family in ("unbalanced", "independent"):
        final = ds["final_loss"].sel(init_family=family).values
        assert np.all(final < 1e-12)
        # the loss passes the least-squares misfit on its way down (the same early plateau)
        loss = ds["loss"].sel(init_family=family).values
        slope, intercept, misfit = _polyfit_line()
        assert np.all(np.max(loss, axis=1) > 0.9 * misfit)
    assert quick.claim("unbalanced_interpolates").measured < 1e-12
    assert quick.claim("independent_interpolates").measured < 1e-12


def test_signs_of_c(quick):
    ds = quick.data
    assert np.all(ds["sign_changes"].sel(init_family="dominated").values == 0)
    assert np.all(ds["sign_changes"].sel(init_family="balanced").values == 0)
    changed = quick.claim("unbalanced_signs_change").measured
    assert 0.02 < changed < 0.5
    # independently: a dominated init has δ > 0 for every neuron, an unbalanced one δ < 0
    m, lam = 1000, 1e-3
    kw = dict(alpha="one", ab_scale=lam / math.sqrt(m), c_scale=lam, seed=0)
    assert np.all(r1.init_network(m, "gaussian", balance="dominated", **kw).invariants() > 0)
    assert np.all(r1.init_network(m, "gaussian", balance="unbalanced", **kw).invariants() < 0)


def test_large_scale_escape_and_readings(quick):
    claim = quick.claim("dominated_large_scale_escapes")
    assert claim.measured < 1e-12
    assert quick.data["scan_final_loss"].sel(scan_scale=1.0).values.max() < 1e-12
    for cid in ("dominated_stalls_at_least_squares", "unbalanced_interpolates"):
        readings = quick.claim(cid).readings
        assert len(readings) == 2 and all(r.holds for r in readings)
    assert quick.data["reading_final_loss"].shape == (2, 3)


def test_loss_curves_start_at_the_zero_function_and_end_at_the_final_loss(quick):
    ds = quick.data
    # λ = 1e-3: f₀ ≈ 0, so the loss starts at ½Σy² (relu1d's sum convention, not their mean)
    np.testing.assert_allclose(ds["loss"].isel(time=0).values, 0.5 * np.sum(Y ** 2), rtol=1e-3)
    np.testing.assert_allclose(
        ds["loss"].isel(time=-1).values, ds["final_loss"].values, rtol=1e-9, atol=1e-20
    )


def test_dataset_dims_and_figures(quick):
    ds = quick.data
    assert ds["final_loss"].dims == ("init_family", "seed")
    assert ds["loss"].dims == ("init_family", "seed", "time")
    assert list(ds.init_family.values) == ["dominated", "balanced", "unbalanced", "independent"]
    assert ds.sizes["seed"] == 3
    np.testing.assert_allclose(ds["time"].values, ds["step"].values * ds.attrs["lr"])
    assert ds["time"].values[-1] == pytest.approx(ds.attrs["time"])
    assert set(quick.figures) == {"loss_curves", "final_functions"}
    ax = quick.figures["loss_curves"].axes[0]
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    assert len(quick.figures["final_functions"].axes) == 4


def test_quick_claims_judged_from_stored_dataset(quick, tmp_path):
    _assert_judged_from_disk(quick, get("boursier2025.three_point").quick, tmp_path / "data.nc")


def test_claims_can_fail(tmp_path):
    """Outside the theorem's regime the stall claim fails (λ = 1 escapes) and a run cut short
    does not interpolate: verdicts setting-dependent, never holds."""
    exp = get("boursier2025.three_point")
    spec = dataclasses.replace(exp.preset("quick"), m=200, lr=0.1, time=300.0, scale=1.0,
                               families=("dominated",), readings=(), scan_scales=())
    res = exp.run(spec)
    _assert_judged_from_disk(res, spec, tmp_path / "data.nc")     # no readings, no scan
    claim = res.claim("dominated_stalls_at_least_squares")
    assert claim.verdict == "setting-dependent" and claim.measured == pytest.approx(1.0, abs=1e-6)
    spec = dataclasses.replace(spec, scale=1e-3, time=20.0, families=("unbalanced",))
    res = exp.run(spec)
    assert res.claim("unbalanced_interpolates").verdict == "setting-dependent"
    assert res.claim("unbalanced_interpolates").measured > 0.2


def test_presets_and_spec_validation():
    exp = get("boursier2025.three_point")
    assert len(exp.full.seeds) >= 10 and len(exp.quick.seeds) >= 3
    with pytest.raises(ValueError, match="families must be one of"):
        ThreePointSpec(families=("lopsided",))
    with pytest.raises(ValueError, match="reading key must be one of"):
        ThreePointSpec(readings=(("dominated", "width", 3),))
    with pytest.raises(ValueError, match="lr must be > 0"):
        ThreePointSpec(lr=0.0)
    with pytest.raises(ValueError, match="seeds must be distinct"):
        ThreePointSpec(seeds=(1, 1))


@pytest.mark.slow
def test_full_preset():
    """The full preset: 10 seeds, m = 2000, lr = 0.01, readings at their lr (10⁻³), m = 20 000,
    other ratios κ, scale and scheme; the scale scan up to λ = 1."""
    exp = get("boursier2025.three_point")
    res = exp.run(exp.preset("full"))
    slope, intercept, misfit = _polyfit_line()
    assert all(c.seeds >= 10 for c in res.claims)
    for cid in (
        "dominated_stalls_at_least_squares",
        "balanced_stalls_at_least_squares",
        "dominated_fits_ols",
        "dominated_signs_preserved",
        "unbalanced_interpolates",
        "unbalanced_signs_change",
    ):
        assert res.claim(cid).verdict == "holds", res.claim(cid)
    np.testing.assert_allclose(
        res.data["final_loss"].sel(init_family="dominated").values, misfit, rtol=1e-9
    )
    assert np.all(res.data["final_loss"].sel(init_family="unbalanced").values < 1e-12)
