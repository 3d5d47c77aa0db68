"""The Gradio page: one-transaction check, batch scoring of a CSV, the model's status and its health (health_tab.py).
It only renders; the model is reached through `fraud_app.client.V2Client`."""

from __future__ import annotations

import html
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gradio as gr
import pandas as pd

from fraud_app import batch
from fraud_app.client import InferenceError, ModelStatus, V2Client
from fraud_app.health_tab import HealthTab
from fraud_app.features import EXAMPLES, FEATURE_NAMES, FEATURES, NO, YES, FeatureError, transaction_row

LOG = logging.getLogger(__name__)
PREVIEW_ROWS = 200
CSS = """
.fraud-verdict { font-size: 1.6em; font-weight: 700; margin: 0.2em 0; }
.fraud-verdict.fraud { color: #c9190b; }
.fraud-verdict.not-fraud { color: #3e8635; }
.fraud-message.error { color: #c9190b; font-weight: 600; }
.fraud-status.ready { color: #3e8635; }
.fraud-status.not-ready { color: #c58c00; }
.fraud-drift.drift b { color: #c9190b; }
.fraud-drift.no-drift b { color: #3e8635; }
"""


class FraudApp:
    """The page's handlers, bound to one V2 client, a threshold and a directory for scored CSV files."""

    def __init__(self, client: V2Client, threshold: float, results_dir: Path, model_label: str | None = None,
                 health: HealthTab | None = None) -> None:
        """Keep what the handlers need; nothing is contacted here."""
        self.client = client
        self.health = health or HealthTab(None, None)
        self.threshold = threshold
        self.model_label = model_label
        self.results_dir = results_dir

    def check_transaction(self, *values: Any) -> tuple[str, str | Any]:
        """Score one transaction given as the form's seven values; returns the result HTML and the status."""
        try:
            row = transaction_row(dict(zip(FEATURE_NAMES, values, strict=True)))
            prediction = self.client.predict([row])
        except FeatureError as error:
            return _message(str(error)), gr.skip()
        except InferenceError as error:
            return _message(f"Could not check the transaction. {error}"), self.status_html()
        probability = prediction.probabilities[0]
        return _verdict_html(probability, self.threshold, prediction.round_trip_s, prediction.model_version), gr.skip()

    def score_csv(self, path: str | None) -> tuple[str, pd.DataFrame | None, str | None, str | Any]:
        """Score an uploaded CSV; returns a summary, a preview table, the scored file and the status."""
        if not path:
            return _message("Choose a CSV file first."), None, None, gr.skip()
        try:
            result = batch.score(self.client, batch.read_transactions(path), self.threshold)
        except batch.BatchError as error:
            return _message(str(error)), None, None, gr.skip()
        except InferenceError as error:
            return _message(f"Could not score the file. {error}"), None, None, self.status_html()
        scored = batch.write_result(result.table, self.results_dir)
        rows = len(result.table)
        summary = (f"Scored {rows:,} transaction(s): <b>{result.n_fraud:,} flagged as fraud</b> at threshold "
                   f"{self.threshold:g}, in {result.round_trip_s * 1000:.1f} ms of model round trips."
                   + (f" The table shows the first {PREVIEW_ROWS}; the download has all." if rows > PREVIEW_ROWS
                      else ""))
        preview = result.table.head(PREVIEW_ROWS).round({batch.PROBABILITY_COLUMN: 6})
        return f'<p class="fraud-message">{summary}</p>', preview, str(scored), gr.skip()

    def status_html(self) -> str:
        """Ask the server for the model's status and render it."""
        return render_status(self.client.status(), self.client.endpoint)

    def build(self, initial_status: ModelStatus) -> gr.Blocks:
        """Lay out the page."""
        page = gr.Blocks(title="Credit card fraud check", analytics_enabled=False, delete_cache=(3600, 3600))
        with page:
            model = f"**{html.escape(self.model_label)}**, " if self.model_label else ""
            gr.Markdown("# Credit card fraud check\nScore card transactions with the fraud model "
                        f"{model}served over KServe V2. A probability at or above **{self.threshold:g}** "
                        "is reported as fraud.", elem_id="intro")
            with gr.Row():
                status = gr.HTML(render_status(initial_status, self.client.endpoint), elem_id="model-status")
                refresh = gr.Button("Refresh model status", size="sm", scale=0, min_width=180)
            with gr.Tab("One transaction"):
                inputs = _feature_inputs()
                check = gr.Button("Check transaction", variant="primary", elem_id="check")
                verdict = gr.HTML(elem_id="verdict")
                gr.Examples([_example_values(example.values) for example in EXAMPLES], inputs,
                            example_labels=[example.title for example in EXAMPLES], label="Examples")
            with gr.Tab("Batch scoring (CSV)"):
                gr.Markdown(f"Upload a CSV with a header and the columns `{'`, `'.join(FEATURE_NAMES)}` "
                            f"(flags as 0/1; other columns are kept). At most {batch.MAX_ROWS:,} rows.")
                upload = gr.File(label="Transactions (CSV)", file_types=[".csv"], elem_id="csv-upload")
                score = gr.Button("Score file", variant="primary", elem_id="score")
                summary = gr.HTML(elem_id="batch-summary")
                table = gr.Dataframe(label="Scored transactions", interactive=False, elem_id="batch-table")
                download = gr.File(label="Download scored CSV", interactive=False, elem_id="batch-download")
            with gr.Tab("Model health"):
                self.health.build()
            check.click(_guarded(self.check_transaction, 2), inputs, [verdict, status],
                        api_name="check_transaction")  # demo_verify calls it
            score.click(_guarded(self.score_csv, 4), upload, [summary, table, download, status])
            refresh.click(self.status_html, None, status)
            page.load(self.status_html, None, status)
        return page


def render_status(status: ModelStatus, endpoint: str) -> str:
    """The status line: ready or not, and the learned input or the reason it is not ready."""
    css = "ready" if status.ready else "not-ready"
    mark = "Ready" if status.ready else "Not ready"
    return (f'<div class="fraud-status {css}"><b>{mark}</b> &middot; {html.escape(status.message)}'
            f'<br><small>Endpoint: {html.escape(endpoint)}/infer</small></div>')


def _verdict_html(probability: float, threshold: float, round_trip_s: float, model_version: str | None = None) -> str:
    is_fraud = probability >= threshold
    css, label = ("fraud", batch.FRAUD) if is_fraud else ("not-fraud", batch.NOT_FRAUD)
    answered = f" &middot; model version {html.escape(model_version)}" if model_version else ""
    return (f'<div class="fraud-verdict {css}">{label}</div>'
            f'<div class="fraud-details">Fraud probability <b>{probability:.6f}</b> &middot; threshold '
            f'{threshold:g} &middot; round trip {round_trip_s * 1000:.1f} ms{answered}</div>')


def _message(text: str) -> str:
    return f'<p class="fraud-message error" role="alert">{html.escape(text)}</p>'


def _feature_inputs() -> list[gr.components.Component]:
    """One widget per feature: numbers >= 0 on the left, Yes/No choices on the right; in model order."""
    widgets: dict[str, gr.components.Component] = {}
    with gr.Row():
        with gr.Column():
            for feature in (f for f in FEATURES if not f.is_flag):
                widgets[feature.name] = gr.Number(label=feature.label, info=feature.help, minimum=0,
                                                  elem_id=feature.name)
        with gr.Column():
            for feature in (f for f in FEATURES if f.is_flag):
                widgets[feature.name] = gr.Radio([YES, NO], label=feature.label, info=feature.help,
                                                 elem_id=feature.name)
    return [widgets[name] for name in FEATURE_NAMES]


def _example_values(values: tuple[float, ...]) -> list[float | str]:
    pairs = zip(FEATURES, values, strict=True)
    return [(YES if value else NO) if feature.is_flag else value for feature, value in pairs]


def _guarded(handler: Callable[..., tuple[Any, ...]], n_outputs: int) -> Callable[..., tuple[Any, ...]]:
    """Wrap a handler so that an unexpected error is logged with its traceback and shown as one line."""
    def run(*args: Any) -> tuple[Any, ...]:
        try:
            return handler(*args)
        except Exception as error:  # the page must keep serving whatever a handler hits
            LOG.exception("unexpected error in %s", handler.__name__)
            text = f"Unexpected error ({type(error).__name__}); the app's log has the details."
            return (_message(text), *(gr.skip() for _ in range(n_outputs - 1)))
    run.__name__ = handler.__name__
    return run
