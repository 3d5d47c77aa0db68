"""OpenShift's oauth-proxy (`openshift/oauth-proxy`, the `oauth-proxy` ImageStream of namespace `openshift`) for what a
sidecar in front of a web service does with bearer tokens: `python -m tests.cluster.runtimes.oauth_proxy --flag=...`.

As upstream (openshift/oauth-proxy master, read 2026-12: main.go, options.go, oauthproxy.go,
providers/openshift/provider.go):
- flags are Go `flag` flags (`-name=value` or `--name=value`, a value may follow as the next word); an unknown one
  ends the program with status 2 ("flag provided but not defined: -name"); Validate() then refuses a configuration
  without upstream, cookie secret (`--cookie-secret` or `--cookie-secret-file`) or client id/secret ("Invalid
  configuration:" and one line per problem, status 1). With `--provider=openshift` the client id is
  `system:serviceaccount:<namespace>:<--openshift-service-account>` and the secret the service account token, both
  read from /var/run/secrets/kubernetes.io/serviceaccount/;
- `--https-address` (default `:443`) serves TLS (minimum TLS 1.3 unless `--tls-min-version`) with `--tls-cert` and
  `--tls-key`; `--http-address` (default 127.0.0.1:4180, empty = none) serves plain HTTP;
- `<proxy-prefix>/healthz` (prefix default /oauth2) answers 200 "OK" and /robots.txt "Disallow: /" without a login;
  paths matching `--skip-auth-regex` go to the upstream unauthenticated;
- `--openshift-delegate-urls` (JSON: path prefix -> SubjectAccessReview ResourceAttributes, verb default "proxy",
  longest prefix first): a request on such a path with `Authorization: Bearer <token>` is authenticated with a
  TokenReview and authorized with a SubjectAccessReview for that user, through the API server the pod's service
  account reaches (it needs system:auth-delegator; answers cached 10 s, transient failures retried, see `review`);
  allowed -> proxied to `--upstream`;
- anything else without a session cookie is answered 403 with the "Log in with OpenShift" page (the browser flow's
  OAuth server is not part of this control plane, so `<prefix>/start` answers 500 as upstream does when OAuth
  discovery fails);
- to the upstream: the Host header as received (`--pass-host-header`, default true), `Authorization: Basic <user>:`
  (`--pass-basic-auth`, default true), `X-Forwarded-User`/`X-Forwarded-Email` (`--pass-user-headers`, default true).
"""

from __future__ import annotations

import base64
import http.client
import http.server
import json
import logging
import os
import random
import re
import ssl
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .http_body import read_body

log = logging.getLogger("oauthproxy")
SERVICE_ACCOUNT = Path("/var/run/secrets/kubernetes.io/serviceaccount")
BOOLEANS = {
    "cookie-secure": True, "cookie-httponly": True, "pass-basic-auth": True, "pass-user-headers": True,
    "pass-access-token": False, "pass-user-bearer-token": False, "pass-host-header": True,
    "skip-provider-button": False, "ssl-insecure-skip-verify": False, "set-xauthrequest": False,
    "skip-auth-preflight": False, "request-logging": True, "proxy-websockets": True, "display-htpasswd-form": True,
}
LISTS = {"upstream", "skip-auth-regex", "email-domain", "openshift-ca", "upstream-ca", "bypass-auth-for", "bypass-auth-except-for"}
STRINGS = {
    "proxy-prefix": "/oauth2", "http-address": "127.0.0.1:4180", "https-address": ":443", "provider": "",
    "tls-cert": "", "tls-key": "", "tls-min-version": "", "client-id": "", "client-secret": "", "client-secret-file": "",
    "cookie-secret": "", "cookie-secret-file": "", "cookie-name": "_oauth2_proxy", "cookie-expire": "168h0m0s",
    "cookie-refresh": "0s", "cookie-domain": "", "cookie-samesite": "", "openshift-service-account": "",
    "openshift-sar": "", "openshift-sar-by-host": "", "openshift-delegate-urls": "", "openshift-review-url": "",
    "redirect-url": "", "upstream-timeout": "30s", "htpasswd-file": "", "login-url": "", "redeem-url": "",
    "validate-url": "", "scope": "", "tls-client-ca": "", "footer": "", "logout-url": "", "signature-key": "",
    "upstream-flush": "5ms", "debug-address": "", "custom-templates-dir": "", "authenticated-emails-file": "",
    "approval-prompt": "force", "basic-auth-password": "", "profile-url": "",
}
SIGN_IN = (
    "<!DOCTYPE html><html><head><title>Log In</title></head><body><div class=\"signin\">"
    "<form method=\"GET\" action=\"{prefix}/start\"><input type=\"hidden\" name=\"rd\" value=\"{redirect}\">"
    "<button type=\"submit\">Log in with OpenShift</button></form></div></body></html>\n"
)


class FlagError(ValueError):
    """A command line Go's flag package refuses (exit status 2)."""


Options = dict[str, Any]
"""Every flag's value by its name (defaults filled in)."""


def parse_flags(argv: list[str]) -> Options:
    values: dict[str, Any] = {**STRINGS, **BOOLEANS, **{name: [] for name in LISTS}}
    words = list(argv)
    while words:
        word = words.pop(0)
        if not word.startswith("-") or word in ("-", "--"):
            break  # Go's flag stops at the first non-flag argument
        name, has_value, value = word.lstrip("-").partition("=")
        if name not in values:
            raise FlagError(f"flag provided but not defined: -{name}")
        if name in BOOLEANS:
            if has_value and value.lower() not in ("1", "0", "t", "f", "true", "false"):
                raise FlagError(f'invalid boolean value "{value}" for -{name}: parse error')
            values[name] = value.lower() in ("1", "t", "true") if has_value else True
            continue
        if not has_value:
            if not words:
                raise FlagError(f"flag needs an argument: -{name}")
            value = words.pop(0)
        if name in LISTS:
            values[name].append(value)
        else:
            values[name] = value
    return values


@dataclass
class Delegate:
    path: str
    attributes: dict[str, str]


@dataclass
class Config:
    options: Options
    upstream: Any
    delegates: list[Delegate]
    skip: list[re.Pattern[str]]
    client_id: str
    api: str
    api_context: ssl.SSLContext
    own_token: str


def validate(options: Options) -> Config:
    """options.go Validate() and the OpenShift provider's LoadDefaults/Complete, for the flags above."""
    problems: list[str] = []
    if options["provider"] != "openshift":
        problems.append(f"invalid setting: provider={options['provider']!r} (only openshift is run here)")
    client_id, client_secret = options["client-id"], options["client-secret"]
    account = options["openshift-service-account"]
    if account and (SERVICE_ACCOUNT / "namespace").exists() and not client_id:
        client_id = f"system:serviceaccount:{(SERVICE_ACCOUNT / 'namespace').read_text().strip()}:{account}"
        log.info("Defaulting client-id to %s", client_id)
    own_token = (SERVICE_ACCOUNT / "token").read_text().strip() if (SERVICE_ACCOUNT / "token").exists() else ""
    if account and own_token and not client_secret:
        client_secret = own_token
        log.info("Defaulting client-secret to service account token %s", SERVICE_ACCOUNT / "token")
    cookie_secret = options["cookie-secret"]
    if options["cookie-secret-file"]:
        try:
            cookie_secret = Path(options["cookie-secret-file"]).read_text()
        except OSError as error:
            problems.append(f"cannot read cookie-secret-file: {error}")
    if options["client-secret-file"]:
        try:
            client_secret = Path(options["client-secret-file"]).read_text()
        except OSError as error:
            problems.append(f"cannot read client-secret-file: {error}")
    if not options["upstream"]:
        problems.append("missing setting: upstream")
    if not cookie_secret:
        problems.append("missing setting: cookie-secret")
    if not client_id:
        problems.append("missing setting: client-id")
    if not client_secret:
        problems.append("missing setting: client-secret")
    delegates: list[Delegate] = []
    if options["openshift-delegate-urls"]:
        try:
            mapping = json.loads(options["openshift-delegate-urls"])
            delegates = [Delegate(path, {"verb": "proxy", **attrs}) for path, attrs in mapping.items()]
        except (ValueError, AttributeError) as error:
            raise SystemExit(f"resources must be a JSON map of paths to authorizationv1beta1.ResourceAttributes: {error}") from None
        delegates.sort(key=lambda d: (-len(d.path), d.path))
    skip = []
    for pattern in options["skip-auth-regex"]:
        try:
            skip.append(re.compile(pattern))
        except re.error as error:
            problems.append(f'error compiling regex="{pattern}" {error}')
    if options["https-address"] and not (options["tls-cert"] and options["tls-key"]):
        problems.append("https-address requires tls-cert and tls-key")
    if problems:
        raise SystemExit("Invalid configuration:\n  " + "\n  ".join(problems))
    host, port = os.environ.get("KUBERNETES_SERVICE_HOST", ""), os.environ.get("KUBERNETES_SERVICE_PORT", "443")
    context = ssl.create_default_context(cafile=str(SERVICE_ACCOUNT / "ca.crt")) if (SERVICE_ACCOUNT / "ca.crt").exists() else ssl.create_default_context()
    if delegates:
        log.info("Delegation of authentication and authorization to OpenShift is enabled for bearer tokens and client certificates.")
    return Config(options, urlsplit(options["upstream"][0]), delegates, skip, client_id, f"https://{host}:{port}", context, own_token)


# providers/openshift/authentication.go and authorization.go: the delegated reviews as k8s.io/apiserver makes them -
# answers cached 10 s (authentication: both outcomes; authorization: allowed and denied), a transient failure retried
# with DefaultAuthWebhookRetryBackoff (500 ms, factor 1.5, jitter 0.2, 5 steps) when webhook.DefaultShouldRetry says so
# (connection reset, 500, 504, 429 or a Retry-After), and no time limit of their own (TokenAccessReviewTimeout unset,
# rest.InClusterConfig without Timeout): a slow API server makes the request slow, it does not turn it into a 403.
CACHE_TTL_S = 10.0
RETRY_STEPS, RETRY_FIRST_S, RETRY_FACTOR, RETRY_JITTER = 5, 0.5, 1.5, 0.2
RETRIED_STATUS = {429, 500, 504}
_cache: dict[str, tuple[float, dict[str, Any]]] = {}
_cache_lock = threading.Lock()


def _retriable(error: Exception) -> bool:
    if isinstance(error, urllib.error.HTTPError):
        return error.code in RETRIED_STATUS or error.headers.get("Retry-After") is not None
    return isinstance(error, (ConnectionResetError, http.client.RemoteDisconnected, BrokenPipeError))


def review(config: Config, path: str, body: dict[str, Any]) -> dict[str, Any]:
    """POST a review to the API server as the pod's service account; the review's status (cached, retried)."""
    key = path + json.dumps(body["spec"], sort_keys=True)
    with _cache_lock:
        cached = _cache.get(key)
        if cached and cached[0] > time.monotonic():
            return cached[1]
    delay = RETRY_FIRST_S
    for step in range(1, RETRY_STEPS + 1):
        request = urllib.request.Request(  # noqa: S310 - the in-cluster API server
            config.api + path, data=json.dumps(body).encode(), method="POST",
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {config.own_token}"},
        )
        try:
            with urllib.request.urlopen(request, context=config.api_context) as response:  # noqa: S310
                status = json.loads(response.read()).get("status") or {}
            break
        except (OSError, urllib.error.URLError) as error:
            if step == RETRY_STEPS or not _retriable(error):
                raise
            log.warning("requestauth: %s (retrying)", error)
            time.sleep(delay * (1 + RETRY_JITTER * random.random()))  # noqa: S311 - jitter, not a secret
            delay *= RETRY_FACTOR
    with _cache_lock:
        _cache[key] = (time.monotonic() + CACHE_TTL_S, status)
    return status


def authorize(config: Config, path: str, authorization: str) -> str | None:
    """The user a delegated bearer token belongs to when the SubjectAccessReview allows it, else None."""
    delegate = next((d for d in config.delegates if path.startswith(d.path)), None)
    scheme, _, token = authorization.partition(" ")
    if delegate is None or scheme != "Bearer" or not token:
        return None
    try:
        status = review(config, "/apis/authentication.k8s.io/v1/tokenreviews",
                        {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": {"token": token.strip()}})
        if not status.get("authenticated"):
            return None
        user = status.get("user") or {}
        attributes = {k: v for k, v in delegate.attributes.items() if k in ("namespace", "verb", "group", "version", "resource", "subresource", "name")}
        spec = {"user": user.get("username", ""), "groups": user.get("groups") or [], "uid": user.get("uid", ""),
                "extra": user.get("extra") or {}, "resourceAttributes": attributes}
        decision = review(config, "/apis/authorization.k8s.io/v1/subjectaccessreviews",
                          {"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview", "spec": spec})
    except (OSError, urllib.error.URLError, ValueError) as error:
        log.warning("requestauth: %s", error)
        return None
    return user.get("username", "") if decision.get("allowed") else None


class Handler(http.server.BaseHTTPRequestHandler):
    config: Config
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's signature
        if self.config.options["request-logging"]:
            log.info("%s %s", self.client_address[0], format % args)

    def _answer(self, status: int, body: bytes, content_type: str = "text/plain; charset=utf-8") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _body(self) -> bytes:
        return read_body(self)

    def _route(self) -> None:
        options, path = self.config.options, urlsplit(self.path).path
        prefix = options["proxy-prefix"]
        if path == "/robots.txt":
            return self._answer(200, b"User-agent: *\nDisallow: /")
        if path == f"{prefix}/healthz":
            return self._answer(200, b"OK")
        if any(p.search(path) for p in self.config.skip):
            return self._proxy(None)
        if path == f"{prefix}/start":
            log.info("Performing OAuth discovery against %s/.well-known/oauth-authorization-server", self.config.api)
            return self._answer(500, b"500 Internal Error", "text/html; charset=utf-8")
        user = authorize(self.config, path, self.headers.get("Authorization", ""))
        if user is None:
            page = SIGN_IN.format(prefix=prefix, redirect=self.path.replace('"', "&quot;"))
            return self._answer(403, page.encode(), "text/html; charset=utf-8")
        return self._proxy(user)

    def _proxy(self, user: str | None) -> None:
        options, upstream = self.config.options, self.config.upstream
        body = self._body()
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("connection", "transfer-encoding", "content-length", "keep-alive")}
        if not options["pass-host-header"]:
            headers["Host"] = upstream.netloc
        if user is not None and options["pass-basic-auth"]:
            headers["Authorization"] = "Basic " + base64.b64encode(f"{user}:{options['basic-auth-password']}".encode()).decode()
        if user is not None and options["pass-user-headers"]:
            headers["X-Forwarded-User"] = user
            headers["X-Forwarded-Email"] = f"{user}@cluster.local"
        connection_class = http.client.HTTPSConnection if upstream.scheme == "https" else http.client.HTTPConnection
        connection = connection_class(upstream.hostname, upstream.port or (443 if upstream.scheme == "https" else 80), timeout=30)
        try:
            connection.request(self.command, self.path, body=body or None, headers=headers)
            answer = connection.getresponse()
            data = answer.read()
        except OSError as error:
            log.warning("http: proxy error: %s", error)
            return self._answer(502, b"")
        finally:
            connection.close()
        self.send_response(answer.status)
        for key, value in answer.getheaders():
            if key.lower() not in ("connection", "transfer-encoding", "content-length", "keep-alive"):
                self.send_header(key, value)
        self.send_header("GAP-Upstream-Address", upstream.netloc)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _route


def _address(value: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    return host or "0.0.0.0", int(port)  # noqa: S104 - Go's ":8443" listens on every address


def main(argv: list[str]) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    try:
        options = parse_flags(argv)
    except FlagError as error:
        print(error, file=sys.stderr)
        return 2
    try:
        config = validate(options)
    except SystemExit as error:
        print(error, file=sys.stderr)
        return 1
    log.info("mapping path \"/\" => upstream %r", options["upstream"][0])
    handler = type("ConfiguredHandler", (Handler,), {"config": config})
    servers = []
    if options["http-address"]:
        servers.append(http.server.ThreadingHTTPServer(_address(options["http-address"]), handler))
        log.info("HTTP: listening on %s", options["http-address"])
    if options["https-address"]:
        tls = http.server.ThreadingHTTPServer(_address(options["https-address"]), handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = {"VersionTLS12": ssl.TLSVersion.TLSv1_2}.get(options["tls-min-version"], ssl.TLSVersion.TLSv1_3)
        context.load_cert_chain(options["tls-cert"], options["tls-key"])
        # the handshake happens in the request's thread, so a silent client holds up only itself
        tls.socket = context.wrap_socket(tls.socket, server_side=True, do_handshake_on_connect=False)
        servers.append(tls)
        log.info("HTTPS: listening on %s", options["https-address"])
    if not servers:
        print("Invalid configuration:\n  no http-address or https-address to listen on", file=sys.stderr)
        return 1
    for server in servers[1:]:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    servers[0].serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
