"""The oauth-proxy runtime's delegated reviews as k8s.io/apiserver makes them (runtimes/oauth_proxy.py `review`): a
transient API server failure is retried with backoff instead of becoming the sign-in page, a refusal is not retried,
and an answer is reused for 10 s. Against a real HTTP server standing in for the API server's review endpoints."""

from __future__ import annotations

import http.server
import json
import ssl
import threading
import urllib.error
from collections.abc import Iterator

import pytest

from .runtimes import oauth_proxy

PATH = "/apis/authentication.k8s.io/v1/tokenreviews"


class Reviews(http.server.BaseHTTPRequestHandler):
    """Answers each POST with the next status of `script` (the last one repeats); counts the requests."""

    script: list[int] = []
    seen: list[str] = []

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        self.rfile.read(int(self.headers["Content-Length"]))
        self.seen.append(self.headers["Authorization"])
        code = self.script[min(len(self.seen) - 1, len(self.script) - 1)]
        body = json.dumps({"status": {"authenticated": True, "user": {"username": "someone"}}} if code == 200 else {"code": code}).encode()
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[type[Reviews], oauth_proxy.Config]]:
    handler = type("Scripted", (Reviews,), {"script": [200], "seen": []})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setattr(oauth_proxy, "RETRY_FIRST_S", 0.01)
    monkeypatch.setattr(oauth_proxy, "_cache", {})
    config = oauth_proxy.Config({}, None, [], [], "", f"http://127.0.0.1:{server.server_address[1]}", ssl.create_default_context(), "own-token")
    yield handler, config
    server.shutdown()


def body(token: str) -> dict[str, object]:
    return {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": {"token": token}}


def test_a_transient_failure_is_retried_with_the_pods_own_token(api: tuple[type[Reviews], oauth_proxy.Config]) -> None:
    handler, config = api
    handler.script = [500, 429, 504, 200]
    assert oauth_proxy.review(config, PATH, body("a"))["authenticated"] is True
    assert handler.seen == ["Bearer own-token"] * 4


def test_a_refusal_is_not_retried_and_five_failures_give_up(api: tuple[type[Reviews], oauth_proxy.Config]) -> None:
    handler, config = api
    handler.script = [403]
    with pytest.raises(urllib.error.HTTPError, match="403"):
        oauth_proxy.review(config, PATH, body("b"))
    assert len(handler.seen) == 1
    handler.script, handler.seen[:] = [500], []
    with pytest.raises(urllib.error.HTTPError, match="500"):
        oauth_proxy.review(config, PATH, body("c"))
    assert len(handler.seen) == oauth_proxy.RETRY_STEPS


def test_an_answer_is_reused_for_its_ttl_per_token(api: tuple[type[Reviews], oauth_proxy.Config], monkeypatch: pytest.MonkeyPatch) -> None:
    handler, config = api
    for _ in range(3):
        oauth_proxy.review(config, PATH, body("d"))
    assert len(handler.seen) == 1
    oauth_proxy.review(config, PATH, body("e"))
    assert len(handler.seen) == 2  # another token is reviewed by itself
    monkeypatch.setattr(oauth_proxy, "CACHE_TTL_S", 0.0)
    monkeypatch.setattr(oauth_proxy, "_cache", {})
    oauth_proxy.review(config, PATH, body("d"))
    oauth_proxy.review(config, PATH, body("d"))
    assert len(handler.seen) == 4
