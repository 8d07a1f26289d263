"""The experiment registry, and specs: TOML round trips and every refusal."""

from __future__ import annotations

import dataclasses
import math
import tomllib
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from relu1d._specs import (
    DataSpec,
    InitSpec,
    OptimSpec,
    TrainSpec,
    load_spec,
    spec_from_dict,
    spec_keys,
    spec_replace,
    spec_seeds,
    spec_to_dict,
    spec_to_toml,
)
from relu1d.experiments import (
    Claim,
    ExperimentResult,
    Reading,
    _registry,
    format_counts,
    get,
    names,
    register,
    verdict_counts,
)


# --------------------------------------------------------------------------- registry
@dataclass(frozen=True)
class _Spec:
    n: int = 3
    seed: int = 0


@pytest.fixture
def empty_registry(monkeypatch):
    """An empty registry that does not import the paper modules; restored afterwards."""
    monkeypatch.setattr(_registry, "REGISTRY", {})
    monkeypatch.setattr(_registry, "_load_all", lambda: None)
    return _registry.REGISTRY


def _run(spec):
    return ExperimentResult(data=None, claims=[Claim.close("n_is_n", "n is n", "nowhere", spec.n,
                                                           spec.n, 0.0)])


def test_register_get_names_and_presets(empty_registry):
    register("toy.b", "second", quick=_Spec(1), full=_Spec(100))(_run)
    register("toy.a", "first", quick=_Spec(2), full=_Spec(200))(_run)
    assert names() == ["toy.a", "toy.b"]
    exp = get("toy.b")
    assert exp.description == "second" and exp.run is _run
    assert exp.spec_type is _Spec
    assert exp.preset("quick") == _Spec(1) and exp.preset("full") == _Spec(100)
    assert exp.run(exp.quick).all_hold


def test_register_refusals(empty_registry):
    @dataclass
    class Mutable:
        n: int = 1

    @dataclass(frozen=True)
    class Other:
        n: int = 1

    with pytest.raises(TypeError, match="quick preset of 'x.mut' must be a frozen dataclass"):
        register("x.mut", "d", quick=Mutable(), full=Mutable())
    with pytest.raises(TypeError, match="full preset of 'x.dict' must be a frozen dataclass"):
        register("x.dict", "d", quick=_Spec(), full={"n": 1})
    with pytest.raises(TypeError, match="must be the same spec type"):
        register("x.mixed", "d", quick=_Spec(), full=Other())
    register("x.once", "d", quick=_Spec(), full=_Spec())(_run)
    with pytest.raises(ValueError, match="registered twice"):
        register("x.once", "d", quick=_Spec(), full=_Spec())(_run)
    with pytest.raises(ValueError, match="unknown experiment 'x.nope'; known: x.once"):
        get("x.nope")
    with pytest.raises(ValueError, match="preset must be 'quick' or 'full'"):
        get("x.once").preset("medium")


def test_claim_constructors_decide_holds():
    assert Claim.close("c", "s", "r", 1.05, 1.0, 0.1).holds
    assert not Claim.close("c", "s", "r", 1.2, 1.0, 0.1).holds
    assert Claim.close("c", "s", "r", 10.5, 10.0, 0.1, relative=True).holds  # bound 1.0
    assert not Claim.close("c", "s", "r", float("nan"), 1.0, 1e9).holds
    assert Claim.below("c", "s", "r", 0.5, 1.0).holds and not Claim.below("c", "s", "r", 1.0,
                                                                          1.0).holds
    assert Claim.above("c", "s", "r", 2.0, 1.0).holds and not Claim.above("c", "s", "r", 1.0,
                                                                          1.0).holds


_EVIDENCE = dict(seeds=3, interval=(1.1, 1.3),
                 readings=[Reading("lr = 0.1", 1.2, False), ("lr = 0.01", 1.25)],
                 certificate="exact computation", mechanism="a known effect (Author 2020)")


def test_a_failure_is_contradicted_only_with_complete_evidence():
    full = Claim.close("c", "s", "r", 1.2, 1.0, 0.1, **_EVIDENCE)
    assert full.verdict == "contradicted" and not full.holds
    assert full.readings == (Reading("lr = 0.1", 1.2, False), Reading("lr = 0.01", 1.25, None))
    assert full.interval == (1.1, 1.3)
    # each missing piece of evidence turns the failure into "inconclusive", and the note says which
    for key, empty, words in [("seeds", 2, "seeds ≥ 3 (has 2)"), ("readings", (), "readings"),
                              ("certificate", "", "certificate"), ("mechanism", "", "mechanism")]:
        claim = Claim.close("c", "s", "r", 1.2, 1.0, 0.1, **{**_EVIDENCE, key: empty})
        assert claim.verdict == "inconclusive" and words in claim.note, (key, claim)
    # a check that passes holds whatever the evidence
    assert Claim.below("c", "s", "r", 0.5, 1.0, **_EVIDENCE).verdict == "holds"
    # the verdict on failure is the caller's choice, and must say why
    sd = Claim.above("c", "s", "r", 0.5, 1.0, on_fail="setting-dependent", note="lr changes it")
    assert sd.verdict == "setting-dependent" and sd.note == "lr changes it"
    assert Claim.above("c", "s", "r", 0.5, 1.0, on_fail="inconclusive").note  # a default reason
    with pytest.raises(ValueError, match="on_fail must be one of"):
        Claim.above("c", "s", "r", 0.5, 1.0, on_fail="holds")


def test_claim_construction_refusals():
    args = ("s", "r", 1.0, "1", "±0")
    with pytest.raises(ValueError, match="marked contradicted without its evidence: seeds"):
        Claim("c", *args, verdict="contradicted")
    with pytest.raises(ValueError, match="verdict must be one of"):
        Claim("c", *args, verdict="false")
    with pytest.raises(ValueError, match="say why"):
        Claim("c", *args, verdict="inconclusive")
    for bad in ("", "Has Caps", "with space", "-lead", 3):
        with pytest.raises(ValueError, match="claim id must be"):
            Claim(bad, *args, verdict="holds")
    assert Claim("c", *args, verdict="contradicted", **_EVIDENCE).verdict == "contradicted"


def test_results_look_claims_up_by_unique_id():
    a = Claim.close("a", "s", "r", 1.0, 1.0, 0.1)
    b = Claim.close("b.two", "s", "r", 2.0, 1.0, 0.1, on_fail="inconclusive")
    result = ExperimentResult(data=None, claims=[a, b])
    assert result.claim("b.two") is b and result.verdicts() == {"a": "holds",
                                                                "b.two": "inconclusive"}
    with pytest.raises(KeyError, match="no claim 'c'; ids: a, b.two"):
        result.claim("c")
    with pytest.raises(ValueError, match="claim id 'a' appears twice"):
        ExperimentResult(data=None, claims=[a, a])
    assert verdict_counts(["holds", "holds", "inconclusive"]) == {
        "holds": 2, "contradicted": 0, "setting-dependent": 0, "inconclusive": 1}
    assert format_counts(verdict_counts(["holds"] * 97 + ["contradicted"] * 2)) == (
        "97 hold · 2 contradicted · 0 setting-dependent · 0 inconclusive")


def test_paper_experiments_follow_the_contract():
    """Whatever the paper modules register: presets of one frozen type, a description,
    and a name 'paper.item'. (Runs on whatever exists; nothing to check if none yet.)"""
    for name in names():
        exp = get(name)
        assert "." in name and exp.description.strip()
        assert type(exp.quick) is type(exp.full)
        assert dataclasses.is_dataclass(exp.quick) and type(exp.quick).__dataclass_params__.frozen


# --------------------------------------------------------------------------- specs
def test_defaults_match_the_train_signature():
    """OptimSpec's defaults are relu1d.train's defaults, and its fields are train's arguments."""
    import inspect

    import relu1d

    params = inspect.signature(relu1d.train).parameters
    for f in dataclasses.fields(OptimSpec):
        assert f.name in params, f.name
        assert params[f.name].default == f.default, f.name
    init_params = inspect.signature(relu1d.init_network).parameters
    for f in dataclasses.fields(InitSpec):
        if f.name != "m":  # init_network has no default width
            assert init_params[f.name].default == f.default, f.name


def test_toml_round_trip_of_a_full_spec():
    spec = TrainSpec(InitSpec(m=7, scheme="he", alpha=2.5, ab_scale=0.5, c_scale=0.0, seed=3,
                              delta=-0.25),
                     DataSpec(name="sinusoid", s=13, seed=4),
                     OptimSpec(method="sgd", lr=0.125, steps=77, trainable="t", weight_decay=1e-3,
                               temperature=0.0, batch_size=4, record_every=7, seed=9,
                               parameterization="canonical"))
    text = spec_to_toml(spec, header="a comment\nover two lines")
    assert text.startswith("# a comment\n# over two lines\n")
    assert spec_from_dict(TrainSpec, tomllib.loads(text)) == spec
    assert spec_from_dict(TrainSpec, spec_to_dict(spec)) == spec


@settings(max_examples=60, deadline=None)
@given(m=st.integers(1, 10**6), alpha=st.one_of(st.sampled_from(["one", "sqrt", "m"]),
                                                 st.floats(1e-300, 1e300)),
       delta=st.one_of(st.none(), st.floats(-1e300, 1e300)),
       lr=st.floats(1e-300, 1e300), steps=st.integers(1, 10**9),
       trainable=st.sampled_from(["a", "b", "c", "ab", "ca", "abc", "cba"]),
       batch=st.one_of(st.none(), st.integers(1, 10)),
       name=st.sampled_from(["square_wave", "random"]))
def test_toml_round_trip_property(m, alpha, delta, lr, steps, trainable, batch, name):
    spec = TrainSpec(InitSpec(m=m, alpha=alpha, delta=delta), DataSpec(name=name),
                     OptimSpec(method="sgd", lr=lr, steps=steps, trainable=trainable,
                               batch_size=batch))
    assert spec_from_dict(TrainSpec, tomllib.loads(spec_to_toml(spec))) == spec


def test_missing_keys_take_defaults_and_ints_are_normalised():
    assert spec_from_dict(TrainSpec, {}) == TrainSpec()
    spec = spec_from_dict(TrainSpec, {"init": {"m": 5}, "training": {"lr": 1}})
    assert spec.init.m == 5 and spec.training.lr == 1.0 and isinstance(spec.training.lr, float)
    assert InitSpec(m=5.0) == InitSpec(m=5) and isinstance(InitSpec(m=5.0).m, int)


@pytest.mark.parametrize("table, error, message", [
    ({"init": {"mm": 3}}, ValueError,
     r"unknown key 'init.mm' in \[init\]; accepted keys: m, scheme, alpha"),
    ({"optim": {}}, ValueError,
     r"unknown key 'optim' in the top level; accepted keys: init, data, training"),
    ({"init": 3}, TypeError, r"init must be a table \(InitSpec\); got 3"),
    ({"init": {"m": 2.5}}, TypeError, r"init.m must be an integer; got 2.5"),
    ({"init": {"m": True}}, TypeError, r"init.m must be an integer; got True"),
    ({"init": {"m": "5"}}, TypeError, r"init.m must be an integer; got '5'"),
    ({"init": {"m": 0}}, ValueError, r"init.m must be >= 1, got 0"),
    ({"init": {"scheme": "kaiming"}}, ValueError,
     r"init.scheme must be one of 'uniform', 'gaussian'"),
    ({"init": {"alpha": "half"}}, ValueError,
     r"init.alpha must be one of 'one', 'sqrt', 'm' or a number > 0"),
    ({"init": {"alpha": -2.0}}, ValueError,
     r"init.alpha must be one of 'one', 'sqrt', 'm' or a number > 0"),
    ({"init": {"alpha": [1.0]}}, TypeError, r"init.alpha must be a string or a number"),
    ({"init": {"ab_scale": -1.0}}, ValueError, r"init.ab_scale must be >= 0"),
    ({"init": {"c_scale": float("inf")}}, ValueError, r"init.c_scale must be finite"),
    ({"init": {"seed": -1}}, ValueError, r"init.seed must be >= 0"),
    ({"init": {"delta": float("nan")}}, ValueError, r"init.delta must be finite"),
    ({"init": {"delta": "1"}}, TypeError, r"init.delta must be a number or nothing"),
    ({"data": {"name": "triangle"}}, ValueError,
     r"data.name must be one of 'square_wave', 'sinusoid', "
                                                 r"'random' or the path of a .csv file"),
    ({"data": {"s": 0}}, ValueError, r"data.s must be >= 1"),
    ({"data": {"seed": 1.5}}, TypeError, r"data.seed must be an integer"),
    ({"training": {"method": "adam"}}, ValueError,
     r"training.method must be one of 'gd', 'flow', 'sgd', 'langevin'"),
    ({"training": {"lr": 0.0}}, ValueError, r"training.lr must be > 0"),
    ({"training": {"lr": "fast"}}, TypeError, r"training.lr must be a number; got 'fast'"),
    ({"training": {"steps": -1}}, ValueError, r"training.steps must be >= 0"),
    ({"training": {"trainable": "abd"}}, ValueError,
     r"training.trainable must be a non-empty subset of 'abc'"),
    ({"training": {"trainable": "aa"}}, ValueError,
     r"training.trainable must be a non-empty subset of 'abc'"),
    ({"training": {"trainable": ""}}, ValueError,
     r"training.trainable must be a non-empty subset of 'abc'"),
    ({"training": {"weight_decay": -0.1}}, ValueError, r"training.weight_decay must be >= 0"),
    ({"training": {"temperature": -1.0}}, ValueError, r"training.temperature must be >= 0"),
    ({"training": {"batch_size": 0}}, ValueError, r"training.batch_size must be >= 1"),
    ({"training": {"record_every": 0}}, ValueError, r"training.record_every must be >= 1"),
    ({"training": {"seed": -3}}, ValueError, r"training.seed must be a non-negative int"),
    ({"training": {"parameterization": "polar"}}, ValueError,
     r"training.parameterization must be one of 'full', 'canonical'"),
    ({"training": {"method": 1}}, TypeError,
     r"training.method must be a string or a table with kind = "
     r"\"gd\" or \"flow\" or \"sgd\" or \"langevin\"; got 1"),
])
def test_every_refusal_names_the_key(table, error, message):
    with pytest.raises(error, match=message):
        spec_from_dict(TrainSpec, table)


def test_load_spec_from_file_and_bad_files(tmp_path):
    path = tmp_path / "run.toml"
    path.write_text('[init]\nm = 12\n[training]\nlr = 0.5\nmethod = "flow"\n')
    assert load_spec(TrainSpec, path) == TrainSpec(InitSpec(m=12), DataSpec(),
                                                   OptimSpec(lr=0.5, method="flow"))
    (tmp_path / "bad.toml").write_text("[init\nm = 1\n")
    with pytest.raises(ValueError, match="bad.toml' is not valid TOML"):
        load_spec(TrainSpec, tmp_path / "bad.toml")
    with pytest.raises(ValueError, match="does not exist"):
        load_spec(TrainSpec, tmp_path / "missing.toml")


def test_spec_building_blocks_make_what_they_say(tmp_path):
    import relu1d

    spec = TrainSpec(InitSpec(m=9, scheme="gaussian", alpha="m", seed=4, delta=0.5),
                     DataSpec("sinusoid", 7, 2))
    net = spec.init.network()
    direct = relu1d.init_network(9, scheme="gaussian", alpha="m", seed=4, delta=0.5)
    np.testing.assert_array_equal(net.a, direct.a)
    np.testing.assert_array_equal(net.c, direct.c)
    np.testing.assert_allclose(net.invariants(), 0.5, atol=1e-12)
    data = spec.data.dataset()
    np.testing.assert_array_equal(data.x, relu1d.datasets.sinusoid(7, seed=2).x)
    relu1d.datasets.random(5, seed=1).to_csv(tmp_path / "pts.csv")
    from_csv = DataSpec(name="pts.csv").dataset(tmp_path)
    np.testing.assert_allclose(from_csv.y, relu1d.datasets.random(5, seed=1).y)


def test_dotted_keys_replace_and_seeds():
    spec = TrainSpec()
    assert "init.m" in spec_keys(spec) and "training.parameterization" in spec_keys(spec)
    # init: + antisymmetric, balance; training: every option of train
    assert len(spec_keys(spec)) == 9 + 3 + 18
    changed = spec_replace(spec, {"init.m": 11, "training.lr": 0.25})
    assert changed.init.m == 11 and changed.training.lr == 0.25 and changed.data == spec.data
    with pytest.raises(ValueError, match="init.m must be >= 1"):
        spec_replace(spec, {"init.m": 0})
    with pytest.raises(ValueError, match="unknown key 'init.width' for TrainSpec"):
        spec_replace(spec, {"init.width": 3})
    assert spec_seeds(TrainSpec(InitSpec(seed=1), DataSpec(seed=2), OptimSpec(seed=3))) == {
        "init.seed": 1, "data.seed": 2, "training.seed": 3}


def test_generic_specs_with_tuples_literals_and_nesting():
    @dataclass(frozen=True)
    class Inner:
        widths: tuple[int, ...] = (10, 100)
        kind: Literal["a", "b"] = "a"

    @dataclass(frozen=True)
    class Outer:
        inner: Inner = dataclasses.field(default_factory=Inner)
        scale: float = 1.0
        flag: bool = False

    globals().update(Inner=Inner)  # get_type_hints resolves annotations in module globals
    spec = Outer(Inner((1, 2, 3), "b"), 2.0, True)
    assert spec_from_dict(Outer, tomllib.loads(spec_to_toml(spec))) == spec
    with pytest.raises(TypeError, match=r"inner.widths must be a list of an integer"):
        spec_from_dict(Outer, {"inner": {"widths": [1.5]}})
    with pytest.raises(TypeError, match=r"inner.kind must be one of 'a', 'b'"):
        spec_from_dict(Outer, {"inner": {"kind": "c"}})
    with pytest.raises(TypeError, match=r"flag must be true or false; got 1"):
        spec_from_dict(Outer, {"flag": 1})
    assert math.isinf(spec_from_dict(Outer, tomllib.loads("scale = inf")).scale)
