"""relu1d._specs.OptimSpec against relu1d.train: one definition of the training options.

Every option ``train`` accepts (but the runtime switches progress and on_interrupt) is a
field of the spec with train's default, is checked by train's own check, can be written
to TOML and read back, and reaches train unchanged; a method is a name or a tagged table.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import tomllib

import numpy as np
import pytest

import relu1d as r1
from relu1d._specs import (
    DataSpec,
    InitSpec,
    OptimSpec,
    TrainSpec,
    spec_from_dict,
    spec_json,
    spec_keys,
    spec_replace,
    spec_to_dict,
    spec_to_toml,
)
from relu1d.sweep import Sweep
from relu1d.train import GD, SGD, Flow, Langevin

RUNTIME = {"progress", "on_interrupt"}


def _round_trip(spec: TrainSpec) -> TrainSpec:
    return spec_from_dict(TrainSpec, tomllib.loads(spec_to_toml(spec)))


def test_every_option_of_train_is_a_field_with_trains_default():
    params = {name: p for name, p in inspect.signature(r1.train).parameters.items()
              if name not in ("net", "data")}
    fields = {f.name: f for f in dataclasses.fields(OptimSpec)}
    assert set(fields) == set(params) - RUNTIME
    for name, f in fields.items():
        assert f.default == params[name].default, name
    assert OptimSpec().kwargs().keys() == set(params) - RUNTIME


# every option at a value other than its default (that train accepts together)
NON_DEFAULT = [
    dict(method="langevin", lr=0.05, steps=0, trainable="r", weight_decay=0.25, temperature=1e-4,
         batch_size=3, record_every=7, seed=11, parameterization="canonical", record="log",
         loss="mean", lr_scale="width", tv_penalty=0.5, max_snapshots=5, backend="numpy"),
    dict(method="flow", rtol=1e-9, atol=1e-12, record=(3, 7, 20), steps=20, max_snapshots="all",
         trainable="bc"),
    dict(method=Flow(rtol=1e-9), steps=20, parameterization="canonical", trainable="t"),
    dict(method=Langevin(temperature=1e-3, batch_size=2), lr_scale="width", loss="mean"),
    dict(method=SGD(batch_size=4), tv_penalty=0.1, parameterization="canonical"),
    dict(method=SGD()),
    dict(method=GD(), max_snapshots=None),
]


@pytest.mark.parametrize("options", NON_DEFAULT)
def test_every_option_round_trips_through_toml_to_the_same_train_kwargs(options):
    spec = TrainSpec(InitSpec(m=6), DataSpec("sinusoid", 9), OptimSpec(**options))
    back = _round_trip(spec)
    assert back == spec
    assert back.training.kwargs() == spec.training.kwargs()
    assert spec_from_dict(TrainSpec, spec_to_dict(spec)) == spec
    # what the file holds is what train gets (max_snapshots: "all" is train's None)
    for name, value in options.items():
        got = back.training.kwargs()[name]
        if name == "record" and not isinstance(value, str):
            assert got == tuple(value)
        elif name == "max_snapshots" and value is None:
            assert got == "all"
        else:
            assert got == value and type(got) is type(value), name


def test_the_spec_trains_exactly_as_the_call_it_stands_for():
    options = dict(method=Langevin(1e-4, 3), lr=0.02, steps=30, trainable="r", weight_decay=0.1,
                   record_every=10, seed=4, parameterization="canonical", loss="mean",
                   tv_penalty=0.2, max_snapshots=3, backend="numpy")
    spec = _round_trip(TrainSpec(InitSpec(m=8, seed=1), DataSpec("sinusoid", 7),
                                 OptimSpec(**options)))
    net, data = spec.init.network(), spec.data.dataset()
    from_spec = r1.train(net, data, progress=False, **spec.training.kwargs())
    direct = r1.train(net, data, progress=False, **options)
    np.testing.assert_array_equal(from_spec.loss, direct.loss)
    np.testing.assert_array_equal(from_spec.snapshots.r, direct.snapshots.r)
    assert len(from_spec.snapshots) == 3 and from_spec.options["loss"] == "mean"


def _refusal(call) -> str:
    try:
        call()
    except (ValueError, TypeError) as exc:
        return str(exc)
    return "accepted"


@pytest.mark.parametrize("options", [
    dict(trainable="r", parameterization="canonical"),      # refused by the spec of 0.1
    dict(steps=0),                                          # refused by the spec of 0.1
    dict(method="gd", temperature=0.1),                     # accepted by the spec of 0.1
    dict(method="sgd", rtol=1e-6),                          # silently ignored by train in 0.1
    dict(method="flow", loss="mean"),
    dict(trainable="ac", parameterization="canonical"),
    dict(tv_penalty=1.0),
    dict(record=[5, 10**9], steps=20),
    dict(max_snapshots=1),
    dict(method=GD(), temperature=0.5),
    dict(method="sgd", batch_size=11),                      # more than the s = 10 samples
    dict(method="gd", batch_size=3),
])
def test_the_spec_accepts_and_refuses_what_train_does(options):
    net, data = r1.init_network(4, seed=0), r1.datasets.square_wave(10)
    by_train = _refusal(lambda: r1.train(net, data, progress=False, **{"steps": 5, **options}))
    by_spec = _refusal(lambda: TrainSpec(training=OptimSpec(**{"steps": 5, **options})))
    if by_train == "accepted":
        assert by_spec == "accepted"
    else:
        assert by_spec.startswith("training."), by_spec  # the same message, with the TOML key
        assert by_spec == "training." + by_train


def test_drift_cases_of_0_1_now_behave_like_train():
    assert OptimSpec(trainable="r", parameterization="canonical").trainable == "r"
    assert OptimSpec(steps=0).steps == 0
    with pytest.raises(ValueError, match="training.temperature = 0.1 > 0 needs method='langevin'"):
        OptimSpec(method="gd", temperature=0.1)
    with pytest.raises(ValueError, match="training.rtol=1e-06 is an error tolerance of method"):
        spec_from_dict(TrainSpec, {"training": {"rtol": 1e-6}})


def test_specs_of_0_1_keep_their_identity():
    """New fields at their defaults are left out of spec_json (sweep point ids and report
    resume hashes) and of the TOML file: the training table of 0.1, key for key."""
    spec = TrainSpec(InitSpec(m=7, seed=3), DataSpec("sinusoid", 9, 2),
                     OptimSpec(method="langevin", lr=0.05, steps=300, trainable="bc",
                               weight_decay=0.01, temperature=1e-4, batch_size=3, record_every=10,
                               seed=5))
    # written by relu1d 0.1 for this spec
    old = ('{"batch_size":3,"lr":0.05,"method":"langevin","parameterization":"full",'
           '"record_every":10,"seed":5,"steps":300,"temperature":0.0001,"trainable":"bc",'
           '"weight_decay":0.01}')
    training = json.loads(spec_json(spec))["training"]
    assert json.dumps(training, sort_keys=True, separators=(",", ":")) == old
    assert set(tomllib.loads(spec_to_toml(spec))["training"]) == set(json.loads(old))
    moved = dataclasses.replace(spec, training=dataclasses.replace(spec.training, loss="mean"))
    assert json.loads(spec_json(moved))["training"]["loss"] == "mean"


def test_method_tables_in_toml():
    text = ('[training]\nlr = 0.01\n[training.method]\nkind = "langevin"\ntemperature = 1e-4\n'
            'batch_size = 1\n')
    spec = spec_from_dict(TrainSpec, tomllib.loads(text))
    assert spec.training.method == Langevin(temperature=1e-4, batch_size=1)
    assert spec.training.method_name == "langevin"
    assert 'kind = "langevin"' in spec_to_toml(spec) and _round_trip(spec) == spec
    # the string form of 0.1 reads as before
    old = spec_from_dict(TrainSpec, tomllib.loads('[training]\nmethod = "langevin"\n'
                                                  'temperature = 1e-4\nbatch_size = 1\n'))
    assert old.training.method == "langevin" and old.training.temperature == 1e-4
    gd = spec_from_dict(TrainSpec, {"training": {"method": {"kind": "gd"}}})
    assert gd.training.method == GD()


@pytest.mark.parametrize("table, error, message", [
    ({"method": {"temperature": 1.0}}, ValueError,
     r"\[training.method\] needs a key kind; accepted: kind = \"gd\""),
    ({"method": {"kind": "adam"}}, ValueError, r"\[training.method\] has kind = 'adam'; accepted"),
    ({"method": {"kind": "flow", "batch_size": 2}}, ValueError,
     r"unknown key 'training.method.batch_size'"),
    ({"method": {"kind": "flow", "rtol": "x"}}, TypeError,
     r"training.method.rtol must be a number"),
    ({"method": {"kind": "langevin", "temperature": -1.0}}, ValueError,
     r"\[training.method\] Langevin.temperature must be >= 0"),
    ({"method": {"kind": "sgd", "batch_size": 3}, "batch_size": 3}, ValueError,
     r"training.batch_size=3 is a keyword of the string shorthand"),
    ({"method": {"kind": "sgd", "batch_size": 30}}, ValueError,
     r"SGD.batch_size must be between 1 and the number of samples s = 10"),
    ({"max_snapshots": "many"}, ValueError,
     r"training.max_snapshots must be an integer >= 2, 'all' or None"),
    ({"record": "linear"}, ValueError, r"training.record must be one of 'log'"),
    ({"loss": "max"}, ValueError, r"training.loss must be one of 'sum', 'mean'"),
])
def test_bad_method_tables_and_new_keys_name_the_key(table, error, message):
    with pytest.raises(error, match=message):
        spec_from_dict(TrainSpec, {"training": table})


def test_dotted_keys_reach_the_method_fields_and_sweeps_resolve_them():
    base = TrainSpec(training=OptimSpec(method=Langevin(1e-3, 2), steps=10))
    keys = spec_keys(base)
    assert {"training.method", "training.method.temperature", "training.method.batch_size",
            "training.lr", "training.loss", "training.max_snapshots"} <= set(keys)
    changed = spec_replace(base, {"training.method.temperature": 0.5, "training.lr": 0.25})
    assert changed.training.method == Langevin(0.5, 2) and changed.training.lr == 0.25
    sweep = Sweep(base, {"training.method.temperature": [0.0, 1e-3],
                         "training.loss": ["sum", "mean"]})
    temps = sorted({(p.training.method.temperature, p.training.loss) for _, p in sweep.points()})
    assert temps == [(0.0, "mean"), (0.0, "sum"), (1e-3, "mean"), (1e-3, "sum")]
    assert sweep.dims == ("temperature", "loss")
    names = Sweep(TrainSpec(),
                  {"training.method": ["gd", "flow", {"kind": "sgd", "batch_size": 2}]})
    assert [p.training.method for _, p in names.points()] == ["gd", "flow", SGD(2)]
    with pytest.raises(ValueError, match="grid key 'training.method.rtol' is not a field"):
        Sweep(base, {"training.method.rtol": [1e-6]})
