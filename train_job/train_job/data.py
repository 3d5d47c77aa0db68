"""Training data: load (synthetic or CSV), validate, and split into train / validation / test.

Every check runs before anything is logged to MLflow; a failure raises `DataError` with a message that names
the source, the column, the row and the value.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from . import synthetic
from .csv_stream import StreamError, checked
from .schema import BINARY_COLUMNS, COLUMNS, DISTANCE_COLUMNS, FEATURE_COLUMNS, LABEL_COLUMN
from .sources import SourceError, open_source, redact

SYNTHETIC = "synthetic"
"""The ``--data`` value that selects the generator."""

CHUNK_ROWS = 200_000
"""CSV rows parsed and checked at a time: memory holds one text chunk plus the float32 result."""

BYTES_PER_ROW = 110
"""Peak memory per synthetic row to generate and split it (measured: 109 at 1M and 5M rows); training needs more."""

FLOAT32_MAX = float(np.finfo(np.float32).max)


class DataError(ValueError):
    """The training data is unusable; the message says what is wrong and where."""


@dataclass(frozen=True)
class TransactionData:
    """Validated transactions: float32 features in `FEATURE_COLUMNS` order and int8 0/1 labels."""

    features: np.ndarray
    labels: np.ndarray
    source: str
    """Where the rows came from, without credentials (recorded in MLflow)."""

    @property
    def rows(self) -> int:
        """Number of transactions."""
        return int(self.labels.shape[0])


@dataclass(frozen=True)
class Split:
    """A seeded, stratified train / validation / test split."""

    train: TransactionData
    validation: TransactionData
    test: TransactionData


def load(source: str, *, rows: int, seed: int, ca_bundle: str | None = None, drift: float = 0.0) -> TransactionData:
    """Return validated data: ``rows`` synthetic transactions at ``drift`` for ``synthetic``, else the CSV at
    ``source`` (where ``drift`` must be 0: a CSV is what it is)."""
    if source == SYNTHETIC:
        check_fits(rows)
        features, labels = synthetic.generate(rows, seed, drift)
        suffix = f",drift={drift:g}" if drift else ""
        data = TransactionData(features, labels, f"{SYNTHETIC}:rows={rows},seed={seed}{suffix}")
    elif drift:
        raise DataError(f"--drift {drift:g} shifts the synthetic generator; {redact(source)} is a CSV (use --drift 0)")
    else:
        data = read_csv(source, ca_bundle=ca_bundle)
    check_classes(data)
    return data


def read_csv(source: str, *, ca_bundle: str | None = None, chunk_rows: int = CHUNK_ROWS) -> TransactionData:
    """Stream the CSV at ``source`` (path, http(s) URL or s3://bucket/key) in chunks, validating each one."""
    name = redact(source)
    feature_parts: list[np.ndarray] = []
    label_parts: list[np.ndarray] = []
    seen = 0
    try:
        with open_source(source, ca_bundle=ca_bundle) as raw, checked(raw, name) as stream:
            with pd.read_csv(stream, chunksize=chunk_rows, skipinitialspace=True, encoding="utf-8") as reader:
                for frame in reader:
                    if seen == 0:
                        check_columns(list(frame.columns), name)
                    validate_frame(frame, name, first_row=seen + 1)
                    feature_parts.append(frame[list(FEATURE_COLUMNS)].to_numpy(np.float32))
                    label_parts.append(frame[LABEL_COLUMN].to_numpy(np.int8))
                    seen += len(frame)
    except pd.errors.EmptyDataError:
        raise DataError(f"{name}: the file is empty (no header, no rows)") from None
    except pd.errors.ParserError as error:
        raise DataError(f"{name}: not a well-formed CSV file: {error}") from None
    except (SourceError, StreamError) as error:
        raise DataError(str(error)) from None
    except UnicodeDecodeError as error:
        raise DataError(f"{name}: not UTF-8 text (byte {error.object[error.start]:#04x} after {seen} data rows): save "
                        "it as UTF-8 (or ASCII), optionally gzipped") from None
    if seen == 0:
        raise DataError(f"{name}: the file has a header but no data rows")
    return TransactionData(np.concatenate(feature_parts), np.concatenate(label_parts), name)


def check_columns(columns: list[str], source: str) -> None:
    """Raise `DataError` naming every missing and every unexpected column."""
    missing = [column for column in COLUMNS if column not in columns]
    extra = [column for column in columns if column not in COLUMNS]
    problems = []
    if missing:
        problems.append(f"missing column(s) {', '.join(missing)}")
    if extra:
        problems.append(f"unexpected column(s) {', '.join(map(str, extra))}")
    if problems:
        raise DataError(f"{source}: {'; '.join(problems)} (expected exactly: {', '.join(COLUMNS)})")


def validate_frame(frame: pd.DataFrame, source: str, *, first_row: int = 1) -> None:
    """Raise `DataError` for the first bad value of ``frame``, whose first row is data row ``first_row``.

    Checks, per column: numeric, finite (no empty cell, NaN or inf) also as the model's float32, distances >= 0,
    flags and label 0 or 1.
    """
    for column in COLUMNS:
        values = frame[column]
        if pd.api.types.is_bool_dtype(values):
            _fail_first(frame, values.notna(), column, "a non-numeric value", source, first_row)
        if not pd.api.types.is_numeric_dtype(values):
            numbers = pd.to_numeric(values, errors="coerce")
            _fail_first(frame, values.notna() & numbers.isna(), column, "a non-numeric value", source, first_row)
            values = numbers
        numbers = values.to_numpy(np.float64, na_value=np.nan)
        _fail_first(frame, ~np.isfinite(numbers), column, "an empty, NaN or infinite value", source, first_row)
        _fail_first(frame, np.abs(numbers) > FLOAT32_MAX, column,
                    f"a value beyond the model's float32 range (+-{FLOAT32_MAX:.4g})", source, first_row)
        if column in DISTANCE_COLUMNS:
            _fail_first(frame, numbers < 0, column, "a negative value", source, first_row)
        if column in BINARY_COLUMNS:
            _fail_first(frame, (numbers != 0) & (numbers != 1), column, "a value other than 0 or 1", source,
                        first_row)


def _fail_first(frame: pd.DataFrame, bad: object, column: str, problem: str, source: str, first_row: int) -> None:
    mask = np.asarray(bad, dtype=bool)
    if not mask.any():
        return
    position = int(np.argmax(mask))
    value = frame[column].iloc[position]
    value = value.item() if isinstance(value, np.generic) else value
    raise DataError(f"{source}: column {column!r} has {problem} ({value!r}) at data row {first_row + position} "
                    f"(line {first_row + position + 1}); {int(mask.sum())} bad value(s) in rows "
                    f"{first_row}-{first_row + len(frame) - 1}")


def available_memory() -> int | None:
    """Bytes this process can still use: MemAvailable, capped by its cgroup's limit (a container's); None if unknown."""
    candidates = []
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    candidates.append(int(line.split()[1]) * 1024)
    except OSError:
        pass
    v1 = "/sys/fs/cgroup/memory/memory."
    for limit, usage in (("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
                         (v1 + "limit_in_bytes", v1 + "usage_in_bytes")):
        try:
            with open(limit) as max_file, open(usage) as used_file:
                text = max_file.read().strip()
                if text != "max" and int(text) < 1 << 60:
                    candidates.append(int(text) - int(used_file.read().strip()))
        except (OSError, ValueError):
            continue
        break
    return min(candidates) if candidates else None


def check_fits(rows: int, available: int | None = None) -> None:
    """Raise `DataError` when ``rows`` synthetic rows cannot fit in the memory this process can use."""
    available = available_memory() if available is None else available
    needed = rows * BYTES_PER_ROW
    if available is not None and needed > available:
        raise DataError(f"--rows {rows:_} needs about {needed / 1e9:,.1f} GB of memory to generate and split "
                        f"({BYTES_PER_ROW} bytes per row) and more to train; this process can use "
                        f"{available / 1e9:,.1f} GB: ask for fewer rows")


def check_classes(data: TransactionData) -> None:
    """Raise `DataError` unless the labels hold both classes."""
    counts = np.bincount(data.labels, minlength=2)
    if counts.min() == 0:
        present = int(np.argmax(counts))
        raise DataError(f"{data.source}: column {LABEL_COLUMN!r} holds a single class ({present} in all "
                        f"{data.rows} rows); training needs both 0 and 1")


def split(data: TransactionData, *, validation_fraction: float, test_fraction: float, seed: int) -> Split:
    """Split ``data`` into train / validation / test, stratified on the label and shuffled with ``seed``."""
    rng = np.random.default_rng(seed)
    parts: tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray]] = ([], [], [])
    for label in (0, 1):
        indices = rng.permutation(np.flatnonzero(data.labels == label))
        n_validation = int(round(len(indices) * validation_fraction))
        n_test = int(round(len(indices) * test_fraction))
        if min(n_validation, n_test, len(indices) - n_validation - n_test) < 1:
            raise DataError(f"{data.source}: only {len(indices)} row(s) with {LABEL_COLUMN}={label}; too few to "
                            f"split into train / validation ({validation_fraction}) / test ({test_fraction})")
        parts[0].append(indices[n_validation + n_test:])
        parts[1].append(indices[:n_validation])
        parts[2].append(indices[n_validation:n_validation + n_test])
    train, validation, test = (_subset(data, rng.permutation(np.concatenate(part)), name)
                               for part, name in zip(parts, ("train", "validation", "test")))
    return Split(train, validation, test)


def with_label_noise(data: TransactionData, share: float, seed: int) -> TransactionData:
    """``data`` with the labels of ``share`` of its rows (chosen with ``seed``) flipped, as a broken labelling
    feed would deliver them: for the training split of a run meant to lose the gate (the holdout stays clean)."""
    if not share:
        return data
    rng = np.random.default_rng([seed, 1])
    flipped = rng.random(data.rows) < share
    labels = np.where(flipped, 1 - data.labels, data.labels).astype(data.labels.dtype)
    return TransactionData(data.features, labels, f"{data.source},label_noise={share:g}")


def _subset(data: TransactionData, indices: np.ndarray, name: str) -> TransactionData:
    return TransactionData(data.features[indices], data.labels[indices], f"{data.source}[{name}]")
