"""Williams et al. 2019, kernel regime: Fig. 3, Theorem 5 (uniform), App. A.3 (Gaussian),
finite width and finite time. Quick presets in the default run, the paper's under -m slow."""

import numpy as np
import pytest

import relu1d as r1
from relu1d.experiments._registry import REGISTRY
from relu1d.experiments.williams2019 import kernel_regime as kr

NAMES = ("williams2019.fig3", "williams2019.theorem5_uniform", "williams2019.appendix_a3_gaussian",
         "williams2019.finite_width_time")
# Claims that restate the paper's print and are false as measured (see each claim's note).
PAPER_PRINT_FALSE = "The paper's Fig. 3 caption"


def _check(result, name):
    assert result.claims, name
    for claim in result.claims:
        expected = not claim.note.startswith(PAPER_PRINT_FALSE)
        assert claim.holds is expected, (name, claim)
    assert result.data.sizes and result.figures
    for fig in result.figures.values():
        assert hasattr(fig, "savefig")


@pytest.mark.parametrize("name", NAMES)
def test_quick_preset_claims(name):
    exp = REGISTRY[name]
    _check(exp.run(exp.quick), name)


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_full_preset_claims(name):
    exp = REGISTRY[name]
    _check(exp.run(exp.full), name)


def test_presets_are_the_papers_settings():
    full = REGISTRY["williams2019.fig3"].full
    assert full.widths == (100, 1000, 10_000) and full.s == 10
    assert REGISTRY["williams2019.theorem5_uniform"].full.s == 10


def test_converged_c_only_flow_is_the_minimum_norm_solution():
    # independent: the minimum-‖c‖ interpolant of eq. (15) by lstsq
    data = r1.datasets.square_wave(10, seed=0)
    net0 = r1.init_network(300, "uniform", alpha="sqrt", c_scale=0.0, seed=1)
    net, _ = kr._c_only_flow(net0, data, np.inf)
    phi = np.maximum(np.outer(data.x, net0.a) - net0.b, 0.0)
    c = net0.alpha * np.linalg.lstsq(phi, data.y, rcond=None)[0]
    np.testing.assert_allclose(net.c, c, atol=1e-6 * np.abs(c).max())


def test_finite_time_c_only_flow_matches_the_finite_width_kernel_flow():
    # f(X, t) = (I − e^{−Gt}) y with G = ΦΦᵀ/α², by a dense matrix exponential
    from scipy.linalg import expm

    data = r1.datasets.square_wave(10, seed=0)
    net0 = r1.init_network(200, "uniform", alpha="sqrt", c_scale=0.0, seed=2)
    G = kr._gram(net0, data)
    for t in (0.5, 20.0):
        net, _ = kr._c_only_flow(net0, data, t)
        np.testing.assert_allclose(net(data.x), (np.eye(data.s) - expm(-G * t)) @ data.y, atol=1e-8)


def test_gram_of_a_wide_network_approaches_the_kernel():
    data = r1.datasets.square_wave(10, seed=0)
    K = r1.kernel.rf_kernel(data.x, data.x)
    errors = [np.abs(kr._gram(r1.init_network(m, "uniform", alpha="sqrt", seed=0), data) - K).max()
              for m in (1_000, 100_000)]
    assert errors[1] < errors[0] / 3  # Monte-Carlo rate m^(-1/2): factor 10 expected


def test_fit_rate_recovers_a_power_law():
    widths = np.array([10, 100, 1000])
    assert kr._fit_rate(widths, 3.0 * widths ** -0.5) == pytest.approx(-0.5)
