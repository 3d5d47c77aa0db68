"""The app in a real browser (Debian's Chromium through Playwright), as a real process in front of the real
local V2 model server: form, examples, verdicts, CSV batch scoring, a readable error when the server is down,
and the "Model health" tab. Leaves screenshots in test-artifacts/app/."""

import io
import re
import threading
from pathlib import Path

import numpy as np
import pytest
from fraud_app.client import V2Client
from fraud_app.features import FEATURE_NAMES
from PIL import Image
from playwright.sync_api import Locator, Page, expect
from support.drift_reports import write_drift_report
from support.model_server import V2ModelServer
from support.onnx_models import expected_probabilities

TIMEOUT_MS = 30_000
expect.set_options(timeout=TIMEOUT_MS)
# The served model's own threshold, as the roles pass it (FRAUD_THRESHOLD): neither 0.5 nor the demo's old 0.995.
APP_THRESHOLD = 0.7
# Two transactions the served (logistic) model scores between 0.5 and 0.995, one on each side of APP_THRESHOLD.
BELOW = {"distance_from_home": 10.0, "distance_from_last_transaction": 2.0, "ratio_to_median_purchase_price": 3.5}
ABOVE = {**BELOW, "ratio_to_median_purchase_price": 5.0}
CARD_NOT_PRESENT = {"repeat_retailer": "No", "used_chip": "No", "used_pin_number": "No", "online_order": "Yes"}


@pytest.fixture(scope="module")
def app_url(start_app, v2_infer_url: str) -> str:
    """The app, started against the real model server with the model's threshold."""
    return start_app(v2_infer_url, APP_THRESHOLD)


def _probability(numbers: dict[str, float]) -> float:
    row = [*numbers.values(), 0.0, 0.0, 0.0, 1.0]  # CARD_NOT_PRESENT, in FEATURE_NAMES order
    return float(expected_probabilities(np.array([row]))[0, 0])


def _fill_transaction(page: Page, numbers: dict[str, float], flags: dict[str, str]) -> None:
    for name, value in numbers.items():
        page.locator(f"#{name} input").fill(str(value))
    for name, choice in flags.items():
        page.locator(f"#{name}").get_by_label(choice, exact=True).check()


def test_check_transactions_and_score_a_csv(page: Page, app_url: str, tmp_path: Path, artifacts_dir: Path) -> None:
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(app_url)
    expect(page.locator("#model-status")).to_contain_text("Ready")
    expect(page.locator("#model-status")).to_contain_text("dense_input FP32")

    page.get_by_text("Clearly fraudulent", exact=True).click()
    expect(page.locator("#online_order").get_by_label("Yes", exact=True)).to_be_checked()
    page.locator("#check").click()
    verdict = page.locator("#verdict .fraud-verdict")
    expect(verdict).to_have_text("Fraud")
    expect(page.locator("#verdict")).to_contain_text(f"threshold {APP_THRESHOLD:g}")
    expect(page.locator("#verdict")).to_contain_text("round trip")
    page.screenshot(path=artifacts_dir / "fraud-verdict.png", full_page=True)

    _fill_transaction(
        page,
        {"distance_from_home": 3.5, "distance_from_last_transaction": 0.4, "ratio_to_median_purchase_price": 0.8},
        {"repeat_retailer": "Yes", "used_chip": "Yes", "used_pin_number": "Yes", "online_order": "No"},
    )
    page.locator("#check").click()
    expect(verdict).to_have_text("Not fraud")
    page.screenshot(path=artifacts_dir / "one-transaction.png", full_page=True)

    # Between 0.5 and 0.995 the verdict follows the model's threshold, not a fixed one.
    assert 0.5 < _probability(BELOW) < APP_THRESHOLD < _probability(ABOVE) < 0.995
    for numbers, expected in ((BELOW, "Not fraud"), (ABOVE, "Fraud")):
        _fill_transaction(page, numbers, CARD_NOT_PRESENT)
        page.locator("#check").click()
        expect(page.locator("#verdict")).to_contain_text(f"Fraud probability {_probability(numbers):.6f}"[:-4])
        expect(verdict).to_have_text(expected)

    page.locator("#distance_from_home input").fill("")
    page.locator("#check").click()
    expect(page.locator("#verdict")).to_contain_text("Distance from home is required.")

    page.get_by_role("tab", name="Batch scoring (CSV)").click()
    scored = _upload_and_score(page, tmp_path / "transactions.csv", ",".join([*FEATURE_NAMES, "card"]), [
        "480,350,9.0,0,0,0,1,A", "3.5,0.4,0.8,1,1,1,0,B", "120,15,6.5,0,0,0,1,=1+1",
    ])
    expect(scored).to_contain_text("Scored 3 transaction(s): 2 flagged as fraud")
    table = page.locator("#batch-table")
    expect(table).to_contain_text("fraud_probability")
    expect(table).to_contain_text("Not fraud")
    expect(page.locator("#batch-download")).to_contain_text(".csv")
    with page.expect_download() as download:
        page.locator("#batch-download a").first.click()
    downloaded = Path(download.value.path()).read_text()
    assert '"\'=1+1"' in downloaded and "=1+1\n" not in downloaded, downloaded  # opens as text in a spreadsheet
    page.screenshot(path=artifacts_dir / "batch-scoring.png", full_page=True)

    page.locator("#csv-upload").get_by_role("button", name="Clear").click()
    bad_header = ",".join(FEATURE_NAMES).replace("used_chip", "chip")
    message = _upload_and_score(page, tmp_path / "bad.csv", bad_header, ["1,2,3,1,0,0,1"])
    expect(message).to_contain_text("Missing column(s): used_chip.")


def _upload_and_score(page: Page, path: Path, header: str, rows: list[str]) -> Locator:
    """Upload a CSV made of `header` and `rows`, press "Score file", and return the summary element."""
    path.write_text("\n".join([header, *rows]) + "\n")
    page.locator("#csv-upload input[type=file]").set_input_files(path)
    expect(page.locator("#csv-upload")).to_contain_text(path.stem)
    page.locator("#score").click()
    summary = page.locator("#batch-summary")
    expect(summary).not_to_be_empty()
    return summary


def test_model_server_down_is_shown_in_the_page(page: Page, start_app, closed_port_url: str,
                                                artifacts_dir: Path) -> None:
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(start_app(f"{closed_port_url}/v2/models/credit-card-fraud/infer", APP_THRESHOLD))
    expect(page.locator("#model-status")).to_contain_text("Not ready")
    expect(page.locator("#model-status")).to_contain_text("Cannot reach the model server")
    page.get_by_text("Clearly normal", exact=True).click()
    expect(page.locator("#used_pin_number").get_by_label("Yes", exact=True)).to_be_checked()
    page.locator("#check").click()
    expect(page.locator("#verdict")).to_contain_text("Could not check the transaction. Cannot reach the model server")
    expect(page.locator("#verdict")).not_to_contain_text("Traceback")
    page.screenshot(path=artifacts_dir / "server-down.png", full_page=True)
    page.locator("#check").click()  # the app keeps serving after the failure
    expect(page.locator("#verdict")).to_contain_text("Could not check the transaction.")


def test_model_health_shows_rates_latency_flagged_share_and_the_drift_verdict(
        page: Page, start_app, v2_model_server: V2ModelServer, tmp_path: Path, artifacts_dir: Path) -> None:
    report = write_drift_report(tmp_path / "report.json", shift=1.0)
    url = start_app(v2_model_server.infer_url, APP_THRESHOLD, MODEL_METRICS_URL=f"{v2_model_server.base_url}/metrics",
                    FRAUD_DRIFT_REPORT=str(report))
    stop = threading.Event()
    traffic = threading.Thread(target=_send_traffic, args=(v2_model_server, stop), daemon=True)
    traffic.start()
    try:
        page.set_default_timeout(TIMEOUT_MS)
        page.goto(url)
        page.get_by_role("tab", name="Model health").click()
        summary = page.locator("#health-summary")
        expect(summary).to_contain_text("requests/s")  # two scrapes (5 s apart) have been taken
        expect(summary).to_contain_text("threshold")
        expect(summary).to_contain_text(re.compile(r"p99 \d+\.\d ms"))
        expect(summary).not_to_contain_text(re.compile(r" 0\.00 requests/s"))
        drift_verdict = page.locator("#health-drift")
        expect(drift_verdict).to_contain_text("Last drift verdict: drift")
        expect(drift_verdict).to_contain_text("online_order")
        page.wait_for_timeout(6_000)  # one more tick: every line has points
        for plot in ("#health-rate", "#health-latency", "#health-flagged", "#health-drift-plot"):
            image = Image.open(io.BytesIO(page.locator(plot).screenshot()))
            assert _coloured_pixels(image) > 100, f"{plot} draws no data"  # axes and text are grey
        page.screenshot(path=artifacts_dir / "model-health.png", full_page=True)
    finally:
        stop.set()
        traffic.join(timeout=10)


def _coloured_pixels(image: Image.Image) -> int:
    """Pixels of a saturated colour (the plots' lines and bars; not the white, grey or black of axes and text)."""
    hsv = np.asarray(image.convert("RGB").convert("HSV"))
    return int(((hsv[..., 1] > 100) & (hsv[..., 2] > 80)).sum())


def _send_traffic(server: V2ModelServer, stop: threading.Event) -> None:
    """A few requests a second of one card-present and one card-not-present transaction, until `stop`."""
    rows = [[10.0, 2.0, 5.0, 0.0, 0.0, 0.0, 1.0], [3.5, 0.4, 0.8, 1.0, 1.0, 1.0, 0.0]]
    with V2Client(server.base_url, server.model_name) as client:
        while not stop.wait(0.1):
            client.predict(rows)
