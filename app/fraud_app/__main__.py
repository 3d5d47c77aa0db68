"""`python -m fraud_app`: read the configuration, report the model's status, serve the page."""

from __future__ import annotations

import logging
import signal
import sys
import tempfile
from pathlib import Path
from types import FrameType

from fraud_app.client import V2Client
from fraud_app.config import ConfigError, load_config

LOG = logging.getLogger("fraud_app")
MAX_UPLOAD = "50mb"
CONCURRENCY = 4


def main() -> int:
    """Start the app; returns the process exit status (2 for a configuration error)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one INFO line per inference request otherwise
    try:
        config = load_config()
    except ConfigError as error:
        print(f"fraud-app: configuration error: {error}", file=sys.stderr)
        return 2
    from fraud_app.health import DriftReports, MetricsScraper
    from fraud_app.health_tab import HealthTab
    from fraud_app.ui import CSS, FraudApp  # gradio takes seconds to import: only once the config is good

    signal.signal(signal.SIGTERM, _stop)
    with V2Client(config.base_url, config.model_name, model_version=config.model_version, token=config.token,
                  verify_tls=config.verify_tls, ca_bundle=config.ca_bundle, timeout_s=config.timeout_s) as client, \
            tempfile.TemporaryDirectory(prefix="fraud-app-") as results_dir:
        status = client.status()
        LOG.info("model endpoint %s/infer: %s", client.endpoint, status.message)
        if not config.verify_tls:
            LOG.warning("TLS certificate verification of the model endpoint is off (INFERENCE_TLS_VERIFY=false)")
        scraper = (MetricsScraper(config.metrics_url, client.client_for(config.metrics_url), model=config.model_name)
                   if config.metrics_url else None)
        if scraper is not None:
            scraper.start()
        reports = (DriftReports(config.drift_report, client.client_for(config.drift_report))
                   if config.drift_report else None)
        health = HealthTab(scraper, reports, config.model_label)
        page = FraudApp(client, config.threshold, Path(results_dir), model_label=config.model_label,
                        health=health).build(status)
        try:
            page.queue(default_concurrency_limit=CONCURRENCY).launch(
                server_name=config.server_name, server_port=config.server_port, css=CSS, max_file_size=MAX_UPLOAD,
                show_error=False, footer_links=[])
        except KeyboardInterrupt:  # SIGINT, or SIGTERM through _stop: Gradio has closed its server
            LOG.info("stopped")
        finally:
            if scraper is not None:
                scraper.stop()
    return 0


def _stop(_signum: int, _frame: FrameType | None) -> None:
    """Turn SIGTERM (supervisor, Kubernetes) into the KeyboardInterrupt that makes Gradio close cleanly."""
    raise KeyboardInterrupt


if __name__ == "__main__":
    sys.exit(main())
