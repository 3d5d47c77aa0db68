"""Fixtures for the fraud check app: the app as a real subprocess, an unused port, a silent socket, Chromium."""

import ssl
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from browser_log import BrowserLog
from playwright.sync_api import Page
from self_signed import ServerCertificate, write_server_certificate
from silent_server import SilentServer
from support.model_server import V2ModelServer
from support.ports import LOOPBACK, free_port
from support.processes import child_env, start_logged, stop_process_tree, wait_until_ready

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS_DIR = Path(__file__).resolve().parents[2] / "test-artifacts" / "app"


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    """Launch Debian's Chromium (Playwright's own browser download is not reachable here)."""
    if not CHROMIUM.is_file():
        pytest.fail(f"{CHROMIUM} is missing: run `make browser` (apt-installs Debian's chromium)")
    return {**browser_type_launch_args, "executable_path": str(CHROMIUM), "args": ["--no-sandbox"]}


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Keep each phase's report on the test, so that the `page` fixture knows whether the test failed."""
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"report_{report.when}", report)


@pytest.fixture
def page(page: Page, request: pytest.FixtureRequest, artifacts_dir: Path) -> Iterator[Page]:
    """pytest-playwright's page; when the test fails, the report shows what the browser saw and a screenshot
    of the page is left in test-artifacts/app/."""
    log = BrowserLog(page)
    yield page
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        screenshot = artifacts_dir / f"failed-{request.node.name}.png"
        page.screenshot(path=screenshot, full_page=True)
        report.sections.append(("browser", f"{log.report()}\nscreenshot: {screenshot}"))


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    """`test-artifacts/app/` in the repository (gitignored): screenshots the tests leave behind."""
    ARTIFACTS_DIR.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS_DIR


@pytest.fixture
def closed_port_url() -> str:
    """An http:// base URL on a loopback port nothing listens on (connections are refused)."""
    return f"http://{LOOPBACK}:{free_port()}"


@pytest.fixture
def silent_server() -> Iterator[SilentServer]:
    """A socket that takes requests and never answers (for timeouts), with the request heads it received."""
    server = SilentServer()
    yield server
    server.close()


@pytest.fixture(scope="session")
def server_certificate(tmp_path_factory: pytest.TempPathFactory) -> ServerCertificate:
    """A throw-away CA and a certificate for 127.0.0.1 signed by it."""
    return write_server_certificate(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def silent_tls_server(server_certificate: ServerCertificate) -> Iterator[SilentServer]:
    """Like `silent_server`, behind TLS with `server_certificate`: the handshake completes, no answer comes."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(server_certificate.cert, server_certificate.key)
    server = SilentServer(tls=context)
    yield server
    server.close()


AppStarter = Callable[..., str]


@pytest.fixture(scope="module")
def start_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppStarter]:
    """Start `python -m fraud_app` for an INFERENCE_ENDPOINT and a FRAUD_THRESHOLD (and any other variables) on a
    free port; returns the page URL."""
    started = []

    def start(endpoint: str, threshold: float, **extra_env: str) -> str:
        port = free_port()
        log_file = tmp_path_factory.mktemp("fraud-app") / "app.log"
        env = child_env({
            "INFERENCE_ENDPOINT": endpoint, "FRAUD_THRESHOLD": str(threshold),
            "GRADIO_SERVER_NAME": LOOPBACK, "GRADIO_SERVER_PORT": str(port),
            "GRADIO_ANALYTICS_ENABLED": "False", "INFERENCE_TIMEOUT": "5",
            "GRADIO_TEMP_DIR": str(log_file.parent / "gradio"), **extra_env,
        })
        process = start_logged([sys.executable, "-m", "fraud_app"], log_file, env)
        started.append(process)
        url = f"http://{LOOPBACK}:{port}"
        wait_until_ready(process, lambda: _serves(url), "fraud app", log_file, timeout_s=90)
        return url

    yield start
    for process in started:
        stop_process_tree(process)


def _serves(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False



@pytest.fixture(scope="module")
def v2_infer_url(v2_model_server: V2ModelServer) -> str:
    """The real local model server's `.../v2/models/<name>/infer` URL, as INFERENCE_ENDPOINT takes it."""
    return v2_model_server.infer_url
