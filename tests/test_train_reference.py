"""The numpy reference of the training engine: gradients against central finite
differences, and one update against the formula written out."""

import numpy as np
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from relu1d.train import _reference as ref

H = 1e-6


def central_difference(fun, params, k, i):
    plus = [p.copy() for p in params]
    minus = [p.copy() for p in params]
    plus[k][i] += H
    minus[k][i] -= H
    return (fun(*plus) - fun(*minus)) / (2 * H)


@st.composite
def problems(draw):
    m = draw(st.integers(1, 8))
    s = draw(st.integers(1, 8))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    a, b, c = rng.normal(size=(3, m))
    x = np.sort(rng.uniform(-2, 2, s))
    y = rng.normal(size=s)
    alpha = float(draw(st.sampled_from([1.0, np.sqrt(m), float(m), 2.5])))
    return a, b, c, alpha, x, y


@settings(max_examples=60, deadline=None)
@given(problems())
def test_full_gradient_matches_central_differences_away_from_kinks(problem):
    a, b, c, alpha, x, y = problem
    # a finite difference across a kink is not a derivative: keep every knot 1e-3 away
    assume(np.min(np.abs(np.multiply.outer(x, a) - b)) > 1e-3)
    loss, *grads = ref.loss_and_grad(a, b, c, alpha, x, y)

    def fun(a_, b_, c_):
        return ref.loss_and_grad(a_, b_, c_, alpha, x, y)[0]

    assert np.isclose(
        loss, 0.5 * np.sum((np.maximum(np.multiply.outer(x, a) - b, 0) @ c / alpha - y) ** 2)
    )
    for k, grad in enumerate(grads):
        fd = np.array([central_difference(fun, [a, b, c], k, i) for i in range(a.size)])
        np.testing.assert_allclose(grad, fd, rtol=1e-6, atol=1e-7 * (1 + abs(loss)))


@settings(max_examples=60, deadline=None)
@given(problems())
def test_canonical_gradient_matches_central_differences_away_from_kinks(problem):
    a, b, c, alpha, x, y = problem
    r = c * np.hypot(a, b) * 3.0
    theta = np.arctan2(-b, a)
    assume(np.min(np.abs(np.multiply.outer(x, np.cos(theta)) + np.sin(theta))) > 1e-3)
    loss, *grads = ref.canonical_loss_and_grad(r, theta, x, y)
    for k, grad in enumerate(grads):
        fd = np.array(
            [
                central_difference(
                    lambda r_, t_: ref.canonical_loss_and_grad(r_, t_, x, y)[0], [r, theta], k, i
                )
                for i in range(r.size)
            ]
        )
        np.testing.assert_allclose(grad, fd, rtol=1e-6, atol=1e-7 * (1 + abs(loss)))


def test_one_reference_update_is_the_written_formula():
    rng = np.random.default_rng(3)
    a, b, c = rng.normal(size=(3, 6))
    x = np.sort(rng.uniform(-1, 1, 5))
    y = rng.normal(size=5)
    lr, lam, scale = 0.01, 0.3, 0.2
    noise = rng.normal(size=(1, 2, 6))
    _, ga, gb, gc = ref.loss_and_grad(a, b, c, 2.0, x, y)
    expected = (
        a - lr * (ga + lam * a) + scale * noise[0, 0],
        b,
        c - lr * (gc + lam * c) + scale * noise[0, 1],
    )
    state = [a.copy(), b.copy(), c.copy()]
    bad, last = ref.advance_full(
        *state, 2.0, x, y, (True, False, True), lam, lr, scale, False, None, None, noise, 1
    )
    assert bad == -1
    for got, want in zip(state, expected):
        np.testing.assert_allclose(got, want, rtol=1e-15, atol=1e-15)


def test_reference_reports_the_first_non_finite_state():
    def fresh():
        return np.array([1.0]), np.array([0.0]), np.array([1.0])

    x = np.array([1.0])
    # a non-finite loss at the start: state 0 is bad
    with np.errstate(over="ignore", invalid="ignore"):
        _check_bad_states(fresh, x)


def _check_bad_states(fresh, x):
    bad, last = ref.advance_full(
        *fresh(),
        1.0,
        x,
        np.array([1e308]),
        (True, True, True),
        0.0,
        1e-3,
        0.0,
        False,
        None,
        None,
        None,
        5,
    )
    assert bad == 0 and np.isnan(last)
    # ∂L/∂a = 11, so lr = 1e308 overflows a in the first update: state 1 is bad
    a, b, c = fresh()
    bad, last = ref.advance_full(
        a,
        b,
        c,
        1.0,
        x,
        np.array([-10.0]),
        (True, True, True),
        0.0,
        1e308,
        0.0,
        False,
        None,
        None,
        None,
        5,
    )
    assert bad == 1 and last == 0.5 * 11.0 ** 2 and not np.isfinite(a[0])
