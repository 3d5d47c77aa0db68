"""The HTTP floor of the serving benchmark: an ASGI app on uvicorn (the same HTTP stack and settings as our model
server) that reads the request body and answers a fixed body of a given size, with no model and no parsing. What
it costs per request is what any Python V2 server on this machine pays for the transport alone.

Usage: .venv/serving/bin/python bench/http_floor_app.py <port> <response bytes>
"""

import sys

import uvicorn


def app_answering(body: bytes):  # noqa: ANN201 - an ASGI callable
    """An ASGI app that drains the request and sends ``body``."""
    headers = [(b"content-type", b"application/octet-stream"), (b"content-length", str(len(body)).encode())]

    async def app(scope, receive, send) -> None:  # noqa: ANN001
        if scope["type"] != "http":
            return
        more = True
        while more:
            more = (await receive()).get("more_body", False)
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return app


if __name__ == "__main__":
    port, size = int(sys.argv[1]), int(sys.argv[2])
    uvicorn.run(app_answering(b'{"outputs":[]}'.ljust(size, b" ")), host="127.0.0.1", port=port, http="httptools",
                loop="uvloop", lifespan="off", access_log=False, log_config=None, server_header=False,
                proxy_headers=False)
