"""Loading and validating CSV data (local, http, s3) and the stratified split; every bad-data case by name."""

import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from train_job import synthetic
from train_job.data import DataError, TransactionData, check_fits, load, read_csv, split
from train_job.schema import COLUMNS, FEATURE_COLUMNS, LABEL_COLUMN
from train_job.sources import redact

GOOD_ROWS = [
    "57.87,0.31,1.94,1,1,0,0,0",
    "15.69,175.98,0.85,1,0,0,1,1",
    "2.1,0.5,0.9,1,1,1,0,0",
    "480.0,350.0,9.0,0,0,0,1,1",
]


def write_csv(path: Path, rows: list[str], header: str = ",".join(COLUMNS)) -> Path:
    """Write a CSV with ``header`` and ``rows``; return its path."""
    path.write_text("\n".join([header, *rows]) + "\n")
    return path


def synthetic_frame(rows: int, seed: int) -> pd.DataFrame:
    """Generated rows as a DataFrame in the public file's column order."""
    features, labels = synthetic.generate(rows, seed)
    frame = pd.DataFrame(features, columns=list(FEATURE_COLUMNS))
    frame[LABEL_COLUMN] = labels
    return frame


def test_reads_a_local_csv_in_chunks(tmp_path: Path) -> None:
    """Chunks are joined in order; columns may come in any order; values arrive as float32 / int8."""
    frame = synthetic_frame(2_500, seed=3)
    shuffled_columns = list(reversed(COLUMNS))
    frame[shuffled_columns].to_csv(tmp_path / "data.csv", index=False)
    data = read_csv(str(tmp_path / "data.csv"), chunk_rows=1_000)
    np.testing.assert_allclose(data.features, frame[list(FEATURE_COLUMNS)].to_numpy(np.float32), rtol=1e-6)
    np.testing.assert_array_equal(data.labels, frame[LABEL_COLUMN].to_numpy())
    assert data.features.dtype == np.float32 and data.labels.dtype == np.int8
    assert data.rows == 2_500 and data.source == str(tmp_path / "data.csv")


@pytest.mark.parametrize(
    ("header", "rows", "message"),
    [
        (",".join(COLUMNS[:-1]), [row.rsplit(",", 1)[0] for row in GOOD_ROWS],
         "missing column(s) fraud (expected exactly: distance_from_home,"),
        (",".join(COLUMNS) + ",customer_id", [row + ",17" for row in GOOD_ROWS], "unexpected column(s) customer_id"),
        (",".join(c for c in COLUMNS if c != "used_chip") + ",chip_used", GOOD_ROWS,
         "missing column(s) used_chip; unexpected column(s) chip_used"),
        (None, [*GOOD_ROWS[:2], "12.5,abc,1.0,1,0,0,1,0", *GOOD_ROWS[2:]],
         "column 'distance_from_last_transaction' has a non-numeric value ('abc') at data row 3 (line 4)"),
        (None, [*GOOD_ROWS, "1.0,2.0,1.0,True,0,0,1,0"], "column 'repeat_retailer' has a non-numeric value"),
        (None, [*GOOD_ROWS, "1.0,2.0,nan,1,0,0,1,0"],
         "column 'ratio_to_median_purchase_price' has an empty, NaN or infinite value (nan) at data row 5"),
        (None, [*GOOD_ROWS, ",2.0,1.0,1,0,0,1,0"], "column 'distance_from_home' has an empty, NaN or infinite value"),
        (None, [*GOOD_ROWS, "inf,2.0,1.0,1,0,0,1,0"],
         "column 'distance_from_home' has an empty, NaN or infinite value (inf) at data row 5"),
        (None, ["-3.5,2.0,1.0,1,0,0,1,0", *GOOD_ROWS],
         "column 'distance_from_home' has a negative value (-3.5) at data row 1 (line 2)"),
        (None, [*GOOD_ROWS, "1.0,2.0,1.0,1,0,0,1,2"], "column 'fraud' has a value other than 0 or 1 (2) at data row 5"),
        (None, [*GOOD_ROWS, "1e39,2.0,1.0,1,0,0,1,0"],
         "column 'distance_from_home' has a value beyond the model's float32 range (+-3.403e+38) (1e+39) at data "
         "row 5"),
        (None, [*GOOD_ROWS, "1.0,2.0,1.0,1,0,0,1,0.5"], "column 'fraud' has a value other than 0 or 1 (0.5)"),
        (None, [*GOOD_ROWS, "1.0,2.0,1.0,1,3,0,1,0"], "column 'used_chip' has a value other than 0 or 1 (3)"),
        (None, [], "the file has a header but no data rows"),
        (None, [row[:-1] + "0" for row in GOOD_ROWS], "column 'fraud' holds a single class (0 in all 4 rows)"),
    ],
    ids=["missing", "extra", "renamed", "non-numeric", "boolean", "nan", "empty-cell", "inf", "negative",
         "label-2", "beyond-float32", "label-fraction", "flag-3", "header-only", "single-class"],
)
def test_bad_csv_is_rejected_by_name(tmp_path: Path, header: str | None, rows: list[str], message: str) -> None:
    """Each kind of bad data stops loading with a message naming the file, the column, the row and the value."""
    path = write_csv(tmp_path / "bad.csv", rows, header or ",".join(COLUMNS))
    with pytest.raises(DataError) as caught:
        load(str(path), rows=0, seed=0)
    assert str(caught.value).startswith(f"{path}: ")
    assert message in str(caught.value)


def test_a_gzipped_csv_is_read_whatever_its_name(tmp_path: Path) -> None:
    """The public data set often comes as creditcard.csv.gz: unpacked as it streams (sniffed, not by name)."""
    frame = synthetic_frame(2_000, seed=6)
    frame.to_csv(tmp_path / "data.csv.gz", index=False, compression="gzip")
    (tmp_path / "data.bin").write_bytes((tmp_path / "data.csv.gz").read_bytes())
    for name in ("data.csv.gz", "data.bin"):
        data = read_csv(str(tmp_path / name), chunk_rows=500)
        np.testing.assert_allclose(data.features, frame[list(FEATURE_COLUMNS)].to_numpy(np.float32), rtol=1e-6)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ((",".join(COLUMNS) + "\n1.0,2.0,1.0,1,0,0,1,0\n# caf\xe9\n").encode("latin-1"),
         "not UTF-8 text (byte 0xe9 after 0 data rows): save it as UTF-8"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "a NUL byte at byte 8: a binary file, not CSV text"),
        (b"\x1f\x8b\x08\x00garbage", "not a readable gzip file"),
        (b"a" * (3 << 20), "a line longer than 1,048,576 bytes"),
        ((",".join(COLUMNS) + "\n" + "1" * (2 << 20)).encode(), "a line longer than 1,048,576 bytes"),
    ],
    ids=["latin-1", "binary", "broken-gzip", "no-newline", "long-row"],
)
def test_a_file_that_is_not_csv_text_is_refused_by_name(tmp_path: Path, content: bytes, message: str) -> None:
    """No UnicodeDecodeError traceback: the file and what it holds instead are named, before anything is logged."""
    path = tmp_path / "data.csv"
    path.write_bytes(content)
    with pytest.raises(DataError) as caught:
        read_csv(str(path))
    assert str(caught.value).startswith(f"{path}: ")
    assert message in str(caught.value)


def test_gigabytes_of_nul_bytes_are_refused_at_once_in_bounded_memory(tmp_path: Path) -> None:
    """A 2 GB sparse file of NUL bytes (it drove the loader past 14 GB) stops at its first chunk."""
    path = tmp_path / "zeros.csv"
    with path.open("wb") as sparse:
        sparse.truncate(2 << 30)
    with pytest.raises(DataError, match="a NUL byte at byte 0: a binary file"):
        read_csv(str(path))


def test_rows_that_cannot_fit_in_memory_are_refused_with_the_figures() -> None:
    with pytest.raises(DataError, match=r"--rows 1_000_000_000_000 needs about 110,000.0 GB of memory .* this "
                                        r"process can use 8.0 GB"):
        check_fits(10**12, available=8 * 10**9)
    check_fits(1_000_000, available=8 * 10**9)
    with pytest.raises(DataError, match="needs about"):
        load("synthetic", rows=10**12, seed=0)


def test_empty_file_is_rejected(tmp_path: Path) -> None:
    """A zero-byte file is named as empty."""
    (tmp_path / "empty.csv").write_bytes(b"")
    with pytest.raises(DataError, match=r"empty.csv: the file is empty \(no header, no rows\)"):
        read_csv(str(tmp_path / "empty.csv"))


def test_bad_value_in_a_later_chunk_reports_its_row(tmp_path: Path) -> None:
    """Row numbers count across chunks."""
    frame = synthetic_frame(3_000, seed=4)
    frame.loc[2_345, "distance_from_home"] = -1.0
    frame.to_csv(tmp_path / "data.csv", index=False)
    with pytest.raises(DataError, match=r"negative value \(-1.0\) at data row 2346 \(line 2347\); 1 bad value\(s\) "
                                        r"in rows 2001-3000"):
        read_csv(str(tmp_path / "data.csv"), chunk_rows=1_000)


def test_missing_file_and_unknown_scheme(tmp_path: Path) -> None:
    """Sources that cannot be opened are named."""
    with pytest.raises(DataError, match="is not a readable file"):
        read_csv(str(tmp_path / "absent.csv"))
    with pytest.raises(DataError, match="unsupported scheme 'ftp'"):
        read_csv("ftp://example.org/data.csv")


@pytest.fixture
def http_root(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A real HTTP server on a free loopback port serving ``tmp_path``; yields (base URL, directory)."""
    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, directory=str(tmp_path), **kwargs)  # type: ignore[arg-type]

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            """Keep the test output quiet."""

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", tmp_path
    finally:
        server.shutdown()
        server.server_close()


def test_reads_csv_over_http(http_root: tuple[str, Path]) -> None:
    """http(s) sources stream; the query string (a presigned signature, say) is not recorded."""
    base, directory = http_root
    synthetic_frame(1_500, seed=5).to_csv(directory / "data.csv", index=False)
    data = load(f"{base}/data.csv?X-Amz-Signature=secret", rows=0, seed=0)
    assert data.rows == 1_500
    assert data.source == f"{base}/data.csv"
    with pytest.raises(DataError, match=f"data source '{base}/absent.csv' answered HTTP 404"):
        load(f"{base}/absent.csv", rows=0, seed=0)


def test_reads_csv_from_s3(s3_server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """s3:// sources use the data-connection variables; s3:///key falls back to AWS_S3_BUCKET."""
    frame = synthetic_frame(1_200, seed=6)
    s3_server.client().put_object(Bucket=s3_server.bucket, Key="datasets/card_transdata.csv",
                                  Body=frame.to_csv(index=False).encode())
    for name, value in s3_server.env.items():
        monkeypatch.setenv(name, value)
    data = load(f"s3://{s3_server.bucket}/datasets/card_transdata.csv", rows=0, seed=0)
    np.testing.assert_array_equal(data.labels, frame[LABEL_COLUMN].to_numpy())
    assert load("s3:///datasets/card_transdata.csv", rows=0, seed=0).rows == 1_200
    with pytest.raises(DataError, match=f"s3://{s3_server.bucket}/datasets/absent.csv cannot be read: NoSuchKey"):
        load(f"s3://{s3_server.bucket}/datasets/absent.csv", rows=0, seed=0)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wrong-secret")
    with pytest.raises(DataError, match="cannot be read: SignatureDoesNotMatch"):
        load(f"s3://{s3_server.bucket}/datasets/card_transdata.csv", rows=0, seed=0)
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    with pytest.raises(DataError, match="needs the data-connection variables AWS_ACCESS_KEY_ID"):
        load(f"s3://{s3_server.bucket}/datasets/card_transdata.csv", rows=0, seed=0)


@pytest.mark.parametrize(
    ("source", "recorded"),
    [
        ("https://user:pa55@example.org:8443/d/card.csv?token=abc#frag", "https://example.org:8443/d/card.csv"),
        ("s3://bucket/key.csv", "s3://bucket/key.csv"),
        ("/data/card.csv", "/data/card.csv"),
    ],
)
def test_redact_drops_credentials_and_query(source: str, recorded: str) -> None:
    """Recorded sources never carry credentials or signatures."""
    assert redact(source) == recorded


def test_split_is_stratified_disjoint_and_seeded() -> None:
    """Every row lands in exactly one part, each part keeps the fraud rate, the same seed gives the same split."""
    features, labels = synthetic.generate(20_000, seed=9)
    features[:, 0] = np.arange(20_000)  # a row id to follow the rows
    data = TransactionData(features, labels, "test")
    parts = split(data, validation_fraction=0.1, test_fraction=0.2, seed=1)
    ids = [part.features[:, 0] for part in (parts.train, parts.validation, parts.test)]
    assert sorted(np.concatenate(ids).tolist()) == list(range(20_000))
    assert [part.rows for part in (parts.train, parts.validation, parts.test)] == pytest.approx([14_000, 2_000, 4_000],
                                                                                               abs=2)
    for part in (parts.train, parts.validation, parts.test):
        assert part.labels.mean() == pytest.approx(labels.mean(), abs=0.001)
        np.testing.assert_array_equal(part.labels, labels[part.features[:, 0].astype(int)])
    again = split(data, validation_fraction=0.1, test_fraction=0.2, seed=1)
    np.testing.assert_array_equal(again.test.features, parts.test.features)
    other = split(data, validation_fraction=0.1, test_fraction=0.2, seed=2)
    assert not np.array_equal(other.test.features, parts.test.features)


def test_split_needs_enough_rows_of_each_class() -> None:
    """Too few fraud rows to share between the three parts is a clear error."""
    features = np.ones((50, 7), dtype=np.float32)
    labels = np.array([1, 1] + [0] * 48, dtype=np.int8)
    with pytest.raises(DataError, match="only 2 row\\(s\\) with fraud=1; too few to split"):
        split(TransactionData(features, labels, "tiny"), validation_fraction=0.1, test_fraction=0.1, seed=0)


def test_extra_ca_is_trusted_besides_the_system_cas(tmp_path: Path) -> None:
    """TRAIN_CA_BUNDLE adds a CA (the cluster's service CA for the ODF bucket) without dropping the system's, so
    public https sources still verify in the same Job."""
    import ssl

    from train_job.sources import with_system_cas

    extra = tmp_path / "service-ca.crt"
    extra.write_text("-----BEGIN CERTIFICATE-----\nTEST\n-----END CERTIFICATE-----\n")
    combined = Path(with_system_cas(str(extra), directory=str(tmp_path)) or "")
    system = Path(ssl.get_default_verify_paths().cafile or "")
    text = combined.read_text()
    assert text.startswith(system.read_text()) and text.rstrip().endswith(extra.read_text().rstrip())
    assert with_system_cas(None) is None


def test_drift_is_for_the_generator_and_label_noise_only_flips_training_labels(tmp_path: Path) -> None:
    from train_job.data import with_label_noise

    csv = tmp_path / "data.csv"
    csv.write_text("x\n")
    with pytest.raises(DataError, match=r"--drift 0.5 shifts the synthetic generator; .*data.csv is a CSV"):
        load(str(csv), rows=1000, seed=1, drift=0.5)
    drifted = load("synthetic", rows=20_000, seed=3, drift=1.0)
    assert drifted.source == "synthetic:rows=20000,seed=3,drift=1"
    # more online purchases, as the generator documents (0.65 -> 0.85)
    assert 0.83 < drifted.features[:, 6].mean() < 0.87
    noisy = with_label_noise(drifted, 0.2, seed=3)
    assert 0.18 < (noisy.labels != drifted.labels).mean() < 0.22
    assert (noisy.features == drifted.features).all() and noisy.source.endswith(",label_noise=0.2")
    assert with_label_noise(drifted, 0.0, seed=3) is drifted
