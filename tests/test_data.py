import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import relu1d as r1
from relu1d import Dataset


def test_sorted_and_read_only():
    d = Dataset([0.5, -1.0, 0.2], [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(d.x, [-1.0, 0.2, 0.5])
    np.testing.assert_array_equal(d.y, [2.0, 3.0, 1.0])
    assert len(d) == d.s == 3
    with pytest.raises(ValueError):
        d.x[0] = 3.0


def test_duplicates_merged_or_refused():
    d = Dataset([1.0, 0.0, 1.0], [2.0, 5.0, 2.0])
    np.testing.assert_array_equal(d.x, [0.0, 1.0])
    np.testing.assert_array_equal(d.y, [5.0, 2.0])
    with pytest.raises(ValueError, match="different y"):
        Dataset([1.0, 1.0], [2.0, 3.0])


@settings(max_examples=50, deadline=None)
@given(
    st.lists(
        st.tuples(st.floats(-5, 5), st.floats(-5, 5)),
        min_size=1,
        max_size=30,
        unique_by=lambda t: t[0],
    )
)
def test_property_sorted_permutation(pairs):
    x, y = map(np.array, zip(*pairs))
    d = Dataset(x, y)
    assert np.all(np.diff(d.x) > 0)
    assert sorted(zip(d.x, d.y)) == sorted(zip(x, y))


@pytest.mark.parametrize("x, y, error, match", [
    ([1.0, 2.0], [1.0], ValueError, "same length"),
    ([], [], ValueError, "at least 1"),
    ([np.nan], [1.0], ValueError, "x must be finite"),
    ([1.0], [np.inf], ValueError, "y must be finite"),
    ([[1.0, 2.0]], [[1.0, 2.0]], ValueError, "1-dimensional"),
    (["a"], [1.0], TypeError, "real numbers"),
])
def test_bad_input(x, y, error, match):
    with pytest.raises(error, match=match):
        Dataset(x, y)


def test_csv_round_trip_and_errors(tmp_path):
    d = r1.datasets.sinusoid(7, seed=3)
    path = d.to_csv(tmp_path / "d.csv")
    back = Dataset.from_csv(path)
    np.testing.assert_array_equal(back.x, d.x)
    np.testing.assert_array_equal(back.y, d.y)
    (tmp_path / "plain.csv").write_text("0.5,1\n-1,2\n")
    np.testing.assert_array_equal(Dataset.from_csv(tmp_path / "plain.csv").x, [-1.0, 0.5])
    (tmp_path / "three.csv").write_text("1,2,3\n4,5,6\n")
    with pytest.raises(ValueError, match="3 columns"):
        Dataset.from_csv(tmp_path / "three.csv")
    (tmp_path / "bad.csv").write_text("x,y\n1,abc\n")
    with pytest.raises(ValueError, match="not a CSV"):
        Dataset.from_csv(tmp_path / "bad.csv")
    with pytest.raises(ValueError, match="not a file"):
        Dataset.from_csv(tmp_path / "missing.csv")


def test_csv_whose_first_row_is_not_finite_is_refused_not_taken_for_a_header(tmp_path):
    # "nan,1" and "inf,2" are numbers: the row is data (and refused), never silently skipped
    for first in ("nan,1", "inf,2"):
        (tmp_path / "d.csv").write_text(f"{first}\n0.5,3\n")
        with pytest.raises(ValueError, match="finite"):
            Dataset.from_csv(tmp_path / "d.csv")
    (tmp_path / "h.csv").write_text("position,value\n1e-3,2\n")  # a header with e's in it
    np.testing.assert_array_equal(Dataset.from_csv(tmp_path / "h.csv").x, [1e-3])


def test_builtin_targets():
    sq = r1.datasets.square_wave(10, seed=0)
    assert len(sq) == 10 and np.all(np.abs(sq.x) <= 1)
    np.testing.assert_array_equal(sq.y, np.where(np.sin(2 * np.pi * sq.x) >= 0, 1.0, -1.0))
    assert set(np.unique(sq.y)) == {-1.0, 1.0}
    sn = r1.datasets.sinusoid(12, seed=1)
    np.testing.assert_allclose(sn.y, np.sin(np.pi * sn.x))
    assert np.min(np.diff(sn.x)) > 0.5 * 2 / 11  # jitter keeps samples apart
    rnd = r1.datasets.random(20, seed=2)
    assert len(rnd) == 20 and np.all(np.abs(rnd.y) <= 1)
    np.testing.assert_array_equal(r1.datasets.random(20, seed=2).x, rnd.x)
    assert not np.array_equal(r1.datasets.random(20, seed=3).x, rnd.x)
    with pytest.raises(ValueError, match="s must be >= 1"):
        r1.datasets.square_wave(0)
    with pytest.raises(TypeError, match="seed"):
        r1.datasets.sinusoid(5, seed="x")


# ----------------------------------------------------------------------------- issue 14
@pytest.mark.parametrize("content, message", [
    (b"", r"holds no samples \(it is empty\)"),
    (b"\n\n", r"holds no samples"),
    (b"x,y\n", r"holds no samples \(only the header line 'x,y'\)"),
    (b"x,y\n1,2\n\xff\xfe,3\n", r"is not UTF-8 text \(byte 8 is 0xff\)"),
    (b"1,2\n3,4,5\n", r"has 3 columns in line 2"),
    (b"x,y\n1,2\n\n3,abc\n", r"is not a CSV of two numeric columns x,y: line 4 is '3,abc'"),
])
def test_bad_csv_files_are_one_clear_error_naming_the_file(tmp_path, content, message):
    import warnings

    path = tmp_path / "d.csv"
    path.write_bytes(content)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no numpy warning on the way
        with pytest.raises(ValueError, match=rf"'{path}' {message}"):
            Dataset.from_csv(path)


def test_csv_with_comments_blank_lines_and_a_bom_reads(tmp_path):
    path = tmp_path / "d.csv"
    path.write_bytes("\ufeffx,y\n# a comment\n0.5, 1\n\n-1,2\n".encode())
    d = Dataset.from_csv(path)
    np.testing.assert_array_equal(d.x, [-1.0, 0.5])
    np.testing.assert_array_equal(d.y, [2.0, 1.0])


def test_dataset_pickles_and_stays_read_only():
    import copy
    import pickle

    d = r1.datasets.random(7, seed=4)
    for back in (pickle.loads(pickle.dumps(d)), copy.deepcopy(d)):
        np.testing.assert_array_equal(back.x, d.x)
        np.testing.assert_array_equal(back.y, d.y)
        assert not back.x.flags.writeable
