"""register(..., judge=...): the optional judge stored on Experiment."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from relu1d.experiments import Claim, ExperimentResult, _registry, get, register


@dataclass(frozen=True)
class _Spec:
    n: int = 3


@pytest.fixture
def empty_registry(monkeypatch):
    monkeypatch.setattr(_registry, "REGISTRY", {})
    monkeypatch.setattr(_registry, "_load_all", lambda: None)
    return _registry.REGISTRY


def _judge(ds, spec):
    return (Claim.close("n_matches", "n matches", "nowhere", ds["n"], spec.n, 0.0),)


def _run(spec):
    ds = {"n": spec.n}
    return ExperimentResult(ds, {}, _judge(ds, spec))


def test_judge_is_stored_and_recomputes_the_claims(empty_registry):
    register("toy.j", "with judge", quick=_Spec(1), full=_Spec(5), judge=_judge)(_run)
    exp = get("toy.j")
    assert exp.judge is _judge
    res = exp.run(exp.quick)
    assert exp.judge(res.data, exp.quick) == res.claims
    # judging other data can disagree: the judge reads the data, not the spec alone
    assert not exp.judge({"n": 2}, exp.quick)[0].holds


def test_judge_defaults_to_none(empty_registry):
    register("toy.nj", "no judge", quick=_Spec(), full=_Spec())(_run)
    assert get("toy.nj").judge is None


def test_judge_must_be_callable(empty_registry):
    with pytest.raises(TypeError, match="judge of 'toy.bad' must be a function"):
        register("toy.bad", "d", quick=_Spec(), full=_Spec(), judge="judge_toy")
    assert "toy.bad" not in _registry.REGISTRY
