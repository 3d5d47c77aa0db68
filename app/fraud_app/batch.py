"""Batch scoring: read a CSV of transactions, check its columns and values, score it, write the result."""

from __future__ import annotations

import csv
import re
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from fraud_app.client import V2Client
from fraud_app.features import FEATURE_NAMES, FEATURES, FLOAT32_MAX

MAX_ROWS = 100_000
PROBABILITY_COLUMN = "fraud_probability"
LABEL_COLUMN = "prediction"
FRAUD = "Fraud"
NOT_FRAUD = "Not fraud"
_SHOWN_LINES = 5
_KEEP_RESULTS_S = 3600.0
# A text cell starting with one of these is a formula to a spreadsheet (OWASP "CSV Injection"): the download
# prefixes it with a single quote, so it opens as text.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


class BatchError(ValueError):
    """The uploaded file cannot be scored; the message names the bad columns or lines."""


@dataclass(frozen=True)
class BatchResult:
    """The scored table (label, probability, then the uploaded columns) and what the scoring took."""

    table: pd.DataFrame
    n_fraud: int
    round_trip_s: float


def read_transactions(path: str | Path) -> pd.DataFrame:
    """Read a CSV with a header naming the seven feature columns (other columns are kept as they are).

    Distances and the price ratio must be numbers >= 0 within the model's float32 range, the four flags 0 or
    1. Raises BatchError naming the
    missing columns, or the column and CSV line numbers of bad values.
    """
    try:
        frame = pd.read_csv(path, skipinitialspace=True, dtype=str, keep_default_na=False)
    except pd.errors.EmptyDataError:
        raise BatchError("The file is empty: it needs a header line with the columns "
                         f"{', '.join(FEATURE_NAMES)}.") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as error:
        raise BatchError(f"The file is not a readable CSV: {error}".strip()) from None
    frame.columns = [str(column).strip() for column in frame.columns]
    missing = [name for name in FEATURE_NAMES if name not in frame.columns]
    if missing:
        found = ", ".join(frame.columns) or "none"
        raise BatchError(f"Missing column(s): {', '.join(missing)}. The CSV needs the columns "
                         f"{', '.join(FEATURE_NAMES)}; found: {found}.")
    if frame.empty:
        raise BatchError("The CSV has a header but no transactions.")
    if len(frame) > MAX_ROWS:
        raise BatchError(f"The CSV has {len(frame):,} transactions; at most {MAX_ROWS:,} are scored at once.")
    for feature in FEATURES:
        values = pd.to_numeric(frame[feature.name].str.strip(), errors="coerce")
        good = values.isin((0, 1)) if feature.is_flag else values.ge(0) & values.le(FLOAT32_MAX)
        if not good.all():
            expected = "0 or 1" if feature.is_flag else f"a number from 0 to {FLOAT32_MAX:.4g}"
            raise BatchError(f"Column {feature.name} must hold {expected}; bad values on CSV line(s) "
                             f"{_lines(good)}.")
        frame[feature.name] = values.astype(float)
    return frame


def score(client: V2Client, frame: pd.DataFrame, threshold: float) -> BatchResult:
    """Score every row of a frame from `read_transactions` and label it against `threshold`.

    The result starts with the label and the probability, followed by the uploaded columns.
    """
    prediction = client.predict(frame[list(FEATURE_NAMES)].to_numpy(dtype=float).tolist())
    probabilities = pd.Series(prediction.probabilities, index=frame.index)
    is_fraud = probabilities >= threshold
    results = pd.DataFrame({LABEL_COLUMN: is_fraud.map({True: FRAUD, False: NOT_FRAUD}),
                            PROBABILITY_COLUMN: probabilities})
    inputs = frame.drop(columns=[LABEL_COLUMN, PROBABILITY_COLUMN], errors="ignore")
    return BatchResult(pd.concat([results, inputs], axis=1), int(is_fraud.sum()), prediction.round_trip_s)


def neutralise(text: str) -> str:
    """``text`` as a spreadsheet shows it as text: a leading formula character gets a single quote before it (a
    plain signed number such as -5 stays as it is)."""
    if text.startswith(FORMULA_STARTS) and not _PLAIN_NUMBER.fullmatch(text):
        return "'" + text
    return text


def write_result(table: pd.DataFrame, directory: Path) -> Path:
    """Write the scored table as CSV into `directory` (removing results older than an hour) and return it.

    Text cells and column names that a spreadsheet would run as formulas (the uploaded extra columns carry what
    anyone put there) are neutralised and every text cell is quoted, as OWASP recommends; numbers stay numbers.
    """
    now = time.time()
    for old in directory.glob("fraud-scores-*.csv"):
        if now - old.stat().st_mtime > _KEEP_RESULTS_S:
            old.unlink(missing_ok=True)
    safe = table.rename(columns=lambda name: neutralise(str(name)))
    for column in safe.columns:
        if not pd.api.types.is_numeric_dtype(safe[column]):
            safe[column] = safe[column].map(lambda value: neutralise(str(value)))
    path = directory / f"fraud-scores-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:8]}.csv"
    safe.to_csv(path, index=False, quoting=csv.QUOTE_NONNUMERIC)
    return path


def _lines(good: pd.Series) -> str:
    """CSV line numbers (the header is line 1) of the first failing rows."""
    bad = [str(position + 2) for position in (~good).to_numpy().nonzero()[0][:_SHOWN_LINES]]
    more = int((~good).sum()) - len(bad)
    return ", ".join(bad) + (f" and {more} more" if more > 0 else "")
