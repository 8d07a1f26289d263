"""Training data: a validated, sorted set of samples (xⱼ, yⱼ), and the papers' targets."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ._storage import atomic_write
from ._validation import as_float_array, as_int, as_real, as_rng

__all__ = ["Dataset", "square_wave", "sinusoid", "random"]


@dataclass(frozen=True, eq=False)
class Dataset:
    """Samples (xⱼ, yⱼ), j = 1..s, sorted by x on construction.

    Parameters
    ----------
    x, y : array_like, shape (s,)
        Finite real numbers, s >= 1. A repeated x with equal y is merged into one
        sample; a repeated x with different y is refused (no function fits it).

    Examples
    --------
    >>> import relu1d
    >>> data = relu1d.Dataset([1.0, -1.0, 0.0], [0.0, 1.0, 0.5])
    >>> data
    Dataset(s=3, x in [-1, 1])
    >>> data.x, data.y
    (array([-1.,  0.,  1.]), array([1. , 0.5, 0. ]))
    >>> relu1d.Dataset([0.0, 0.0], [1.0, 2.0])
    Traceback (most recent call last):
        ...
    ValueError: x = 0.0 appears with different y (1.0 and 2.0); a function cannot fit both: ...
    """

    x: np.ndarray
    y: np.ndarray

    def __post_init__(self):
        x = as_float_array(self.x, "x", min_size=1)
        y = as_float_array(self.y, "y", min_size=1)
        if x.size != y.size:
            raise ValueError(f"x and y must have the same length; got {x.size} and {y.size}")
        order = np.lexsort((y, x))
        x, y = x[order], y[order]
        same_x = np.diff(x) == 0
        if np.any(same_x & (np.diff(y) != 0)):
            j = int(np.flatnonzero(same_x & (np.diff(y) != 0))[0])
            raise ValueError(f"x = {x[j]} appears with different y ({y[j]} and {y[j + 1]}); "
                             "a function cannot fit both: remove one sample")
        keep = np.concatenate(([True], ~same_x))
        x, y = x[keep], y[keep]
        for name, arr in (("x", x), ("y", y)):
            arr.flags.writeable = False
            object.__setattr__(self, name, arr)

    def __reduce__(self):
        # rebuilt through __init__, so that the arrays are read-only again after unpickling
        return (type(self), (np.array(self.x), np.array(self.y)))

    def __len__(self) -> int:
        return int(self.x.size)

    def __repr__(self) -> str:
        return f"Dataset(s={len(self)}, x in [{self.x[0]:g}, {self.x[-1]:g}])"

    @property
    def s(self) -> int:
        """Number of samples."""
        return len(self)

    def to_csv(self, path) -> Path:
        """Write ``x,y`` with a header line.

        Examples
        --------
        >>> import tempfile, pathlib
        >>> import relu1d
        >>> data = relu1d.Dataset([0.0, 1.0], [2.0, 3.0])
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     path = data.to_csv(pathlib.Path(tmp) / "data.csv")
        ...     print(path.read_text(), end="")
        ...     back = relu1d.Dataset.from_csv(path)
        x,y
        0,2
        1,3
        >>> back.y
        array([2., 3.])
        """
        return atomic_write(
            path,
            lambda tmp: np.savetxt(
                tmp,
                np.column_stack((self.x, self.y)),
                delimiter=",",
                header="x,y",
                comments="",
                fmt="%.17g",
            ),
        )

    @classmethod
    def from_csv(cls, path) -> Dataset:
        """Read two comma-separated columns x, y (an optional header line is skipped).

        Raises
        ------
        ValueError
            Naming the file and what is wrong: missing, unreadable, not UTF-8 text,
            without samples, not two numeric columns, or invalid samples.
        """
        path = Path(path)
        if not path.is_file():
            raise ValueError(f"path {str(path)!r} is not a file; expected a CSV with columns x,y")
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise ValueError(f"cannot read {str(path)!r}: {exc.strerror or exc}") from None
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise ValueError(
                f"{str(path)!r} is not UTF-8 text (byte {exc.start} is 0x{raw[exc.start]:02x}); "
                "expected a CSV with columns x,y"
            ) from None
        numbered = [(k, line) for k, line in enumerate(text.splitlines(), start=1)
                    if line.strip() and not line.lstrip().startswith("#")]
        lines = [line for _, line in numbered]
        if not lines:
            raise ValueError(
                f"{str(path)!r} holds no samples (it is empty); expected a CSV with columns x,y"
            )
        try:  # a header is a first line that is not numbers ("nan,1" is data, and refused below)
            [float(v) for v in lines[0].split(",")]
            has_header = False
        except ValueError:
            has_header = True
        numbered = numbered[1:] if has_header else numbered
        rows = [line for _, line in numbered]
        if not rows:
            raise ValueError(
                f"{str(path)!r} holds no samples (only the header line {lines[0].strip()!r}); "
                "expected rows x,y"
            )
        try:
            table = np.loadtxt(rows, delimiter=",", ndmin=2, dtype=np.float64)
        except ValueError:
            table = None
        if table is None or table.shape[1] != 2:  # find the first bad line, for the message
            for number, line in numbered:
                fields = line.split(",")
                if len(fields) != 2:
                    raise ValueError(f"{str(path)!r} has {len(fields)} columns in line {number} "
                                     f"({line.strip()!r}); expected two, x and y")
                try:
                    [float(v) for v in fields]
                except ValueError:
                    raise ValueError(
                        f"{str(path)!r} is not a CSV of two numeric columns x,y: line {number} "
                        f"is {line.strip()!r}"
                    ) from None
            raise ValueError(f"{str(path)!r} is not a CSV of two numeric columns x,y")
        try:
            return cls(table[:, 0], table[:, 1])
        except (ValueError, TypeError) as exc:
            raise ValueError(f"{str(path)!r}: {exc}") from None


def _spread_points(s: int, seed, low: float = -1.0, high: float = 1.0) -> np.ndarray:
    """s points on [low, high]: an even grid, each point jittered by up to a quarter of
    the spacing, so that no two samples crowd together."""
    s = as_int(s, "s", minimum=1)
    rng = as_rng(seed)
    if s == 1:
        return np.array([(low + high) / 2])
    grid = np.linspace(low, high, s)
    spacing = (high - low) / (s - 1)
    return np.clip(grid + rng.uniform(-0.25, 0.25, s) * spacing, low, high)


def square_wave(s: int = 10, seed=0, period: float = 1.0) -> Dataset:
    """Samples of a ±1 square wave on [−1, 1] (Williams et al., Fig. 3).

    x is an even grid on [−1, 1] with each point jittered by up to a quarter spacing
    (from ``seed``); y = +1 where sin(2πx/period) >= 0, else −1.

    Examples
    --------
    >>> from relu1d import datasets
    >>> data = datasets.square_wave(6, seed=0)
    >>> data.x.round(3)
    array([-0.973, -0.646, -0.292,  0.103,  0.663,  1.   ])
    >>> data.y
    array([ 1.,  1., -1.,  1., -1., -1.])
    """
    period = as_real(period, "period", positive=True)
    x = _spread_points(s, seed)
    return Dataset(x, np.where(np.sin(2 * np.pi * x / period) >= 0, 1.0, -1.0))


def sinusoid(s: int = 10, seed=0, frequency: float = 1.0) -> Dataset:
    """Samples of y = sin(π·frequency·x) on [−1, 1] (Williams et al., Fig. 4), x
    jittered about an even grid as in :func:`square_wave`.

    Examples
    --------
    >>> import numpy as np
    >>> from relu1d import datasets
    >>> data = datasets.sinusoid(5, seed=1)
    >>> bool(np.allclose(data.y, np.sin(np.pi * data.x)))
    True
    """
    frequency = as_real(frequency, "frequency", positive=True)
    x = _spread_points(s, seed)
    return Dataset(x, np.sin(np.pi * frequency * x))


def random(s: int, seed=0) -> Dataset:
    """s samples with x ~ U(−1, 1) and y ~ U(−1, 1), independent.

    Examples
    --------
    >>> from relu1d import datasets
    >>> data = datasets.random(4, seed=2)
    >>> data
    Dataset(s=4, x in [-0.816168, 0.628451])
    >>> bool(((data.y >= -1) & (data.y <= 1)).all())
    True
    """
    s = as_int(s, "s", minimum=1)
    rng = as_rng(seed)
    return Dataset(rng.uniform(-1, 1, s), rng.uniform(-1, 1, s))
