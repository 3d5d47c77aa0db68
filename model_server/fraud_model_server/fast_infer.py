"""The hot path of ``POST /v2/models/<name>/infer``: the same V2 answer as MLServer's, with a fraction of the work.

Profiling MLServer's REST path for one single-row request showed most of its time outside inference: FastAPI
dependency solving, pydantic validation of the request and the response, the data plane's metrics and
middlewares. This ASGI layer parses the JSON with orjson, decodes and checks the tensors with the runtime's own
`decode` (so the rules are the same), runs the session and writes the response with orjson, numpy arrays
included. It also speaks the KServe V2 binary tensor data extension, which MLServer's REST app does not: inputs
with ``parameters.binary_data_size`` carry their values as raw little-endian bytes after a JSON header (whose
length the ``Inference-Header-Content-Length`` header gives), and outputs asked for with ``binary_data`` (or the
request's ``binary_data_output``) come back the same way, so a 1,000-row batch is neither parsed from nor written as
text. For plain JSON requests, anything this layer does not fully understand, and every request that fails a
check, goes on unchanged to MLServer's app, which answers it as before (the same 4xx and message): errors are rare
and their cost does not matter, while a successful inference never pays for the framework.
"""

import uuid
from typing import Any, NamedTuple

import numpy as np
import orjson
from mlserver.cloudevents import CloudEventsMiddleware, CloudEventsTypes
from mlserver.errors import InferenceError
from mlserver.settings import Settings

from .guards import ASGIApp, Receive, Scope, Send, error_response, replay_body
from .runtime import OnnxRuntimeModel
from .tensors import BINARY_DTYPES

BINARY_HEADER = b"inference-header-content-length"

_REQUEST_KEYS = frozenset({"id", "parameters", "inputs", "outputs"})
_INPUT_KEYS = frozenset({"name", "shape", "datatype", "data", "parameters"})
_OUTPUT_KEYS = frozenset({"name", "parameters"})
_ORJSON_ARRAYS = frozenset({"f4", "f8", "i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8", "b1"})


class Output(NamedTuple):
    """A requested output: its name and whether it comes back as binary data."""

    name: str
    binary: bool


def _parameters_ok(item: dict[str, Any]) -> bool:
    """Parameters are optional and, when given, an object (their content does not change the answer)."""
    return isinstance(item.get("parameters", {}), dict)


def _header_safe(request_id: Any) -> bool:
    """An id that can be echoed in the ce-id header as it is (printable ASCII)."""
    return isinstance(request_id, str) and request_id.isascii() and request_id.isprintable()


def unsafe_id_message(request: Any) -> str | None:
    """Why the request's ``id`` cannot be answered, or None. The id is echoed in the ce-id and ce-requestid
    headers: MLServer turned a non-ASCII one into a 500 and dropped the connection on one holding CR/LF."""
    request_id = request.get("id") if isinstance(request, dict) else None
    if isinstance(request_id, str) and not _header_safe(request_id):
        return (f"the request id must be printable ASCII (it is echoed in the ce-id header), got "
                f"{ascii(request_id[:64])}{'...' if len(request_id) > 64 else ''}")
    return None


def _shape_ok(shape: Any) -> bool:
    """A list of plain integers (no bools, floats or strings that pydantic might coerce)."""
    return isinstance(shape, list) and all(type(dim) is int for dim in shape)


def _binary_flag(item: dict[str, Any], key: str) -> bool:
    """A binary-extension switch in ``parameters``: only a JSON ``true`` turns it on."""
    return item.get("parameters", {}).get(key) is True


def _plain_request(
    request: Any,
) -> tuple[str | None, list[tuple[str, str, list[int], Any]], list[Output], bool] | None:
    """(id, input tensors, requested outputs, every output binary) of a request in the V2 JSON form, else None."""
    if not isinstance(request, dict) or not request.keys() <= _REQUEST_KEYS or not _parameters_ok(request):
        return None
    request_id, inputs, outputs = request.get("id"), request.get("inputs"), request.get("outputs") or []
    if not (request_id is None or _header_safe(request_id)) or not isinstance(inputs, list):
        return None
    tensors = []
    for item in inputs:
        if not (isinstance(item, dict) and item.keys() <= _INPUT_KEYS and _parameters_ok(item)):
            return None
        name, datatype, shape = item.get("name"), item.get("datatype"), item.get("shape")
        if not (isinstance(name, str) and isinstance(datatype, str) and _shape_ok(shape) and "data" in item):
            return None
        tensors.append((name, datatype, shape, item["data"]))
    if not isinstance(outputs, list):
        return None
    all_binary = _binary_flag(request, "binary_data_output")
    requested = []
    for item in outputs:
        if not (isinstance(item, dict) and item.keys() <= _OUTPUT_KEYS and _parameters_ok(item)):
            return None
        if not isinstance(item.get("name"), str):
            return None
        requested.append(Output(item["name"], _binary_flag(item, "binary_data")))
    return request_id, tensors, requested, all_binary


def attach_binary(request: Any, binary: bytes) -> None:
    """Give each input with ``parameters.binary_data_size`` its slice of ``binary`` as ``data`` (an array)."""
    inputs = request.get("inputs") if isinstance(request, dict) else None
    if not isinstance(inputs, list):
        raise InferenceError("binary request: the JSON header must be an inference request with a list of inputs")
    offset = 0
    for item in inputs:
        size = item.get("parameters", {}).get("binary_data_size") if isinstance(item, dict) else None
        if size is None:
            continue
        dtype = BINARY_DTYPES.get(item.get("datatype"))
        if type(size) is not int or size < 0 or dtype is None or size % dtype.itemsize:
            raise InferenceError(
                f"binary request: input {item.get('name')!r} needs a datatype of {sorted(BINARY_DTYPES)} and a "
                f"binary_data_size that is a multiple of its item size, got {item.get('datatype')!r} and {size!r}"
            )
        if offset + size > len(binary) or "data" in item:
            raise InferenceError(
                f"binary request: input {item.get('name')!r} declares {size} bytes at offset {offset}, but the body "
                f"has {len(binary)} bytes of binary data (and binary inputs carry no JSON data)"
            )
        item["data"] = np.frombuffer(binary, dtype=dtype, count=size // dtype.itemsize, offset=offset)
        offset += size
    if offset != len(binary):
        raise InferenceError(f"binary request: {len(binary) - offset} bytes of binary data belong to no input")


def _json_data(values: np.ndarray) -> Any:
    """Flat row-major data: the array itself when orjson writes its dtype natively, else a list."""
    flat = values.ravel()
    return flat if f"{flat.dtype.kind}{flat.dtype.itemsize}" in _ORJSON_ARRAYS else flat.tolist()


class FastInfer:
    """ASGI layer in front of MLServer's app that answers well-formed inference requests for ``model`` itself."""

    def __init__(self, app: ASGIApp, model: OnnxRuntimeModel, settings: Settings) -> None:
        self._app = app
        self._model = model
        self._path = f"/v2/models/{model.name}/infer"
        # The CloudEvents headers MLServer's data plane adds to every answer (ce-id comes per request).
        headers = CloudEventsMiddleware(settings)._get_headers(CloudEventsTypes.Response, model.settings, None)
        self._headers = [(key.lower().encode(), value.encode()) for key, value in headers.items()]

    @property
    def model(self) -> OnnxRuntimeModel:
        """The model answered with."""
        return self._model

    @model.setter
    def model(self, model: OnnxRuntimeModel) -> None:
        """Answer with ``model`` from the next request on (a rollout: same name, same inputs and outputs)."""
        self._model = model

    def answer(self, request: Any) -> tuple[str, bytes, int | None] | None:
        """(id, response body, length of its JSON header when binary data follows) for a parsed request, None
        when it is not in the plain V2 form.

        Raises InferenceError when the model's checks reject it.
        """
        plain = _plain_request(request)
        if plain is None:
            return None
        request_id, tensors, requested, all_binary = plain
        feeds = self._model.decode(tensors)
        names = self._model.output_names([output.name for output in requested])
        binary = set(names) if all_binary else {output.name for output in requested if output.binary}
        results = self._model.run(names, feeds)
        specs = self._model.output_specs
        outputs, blobs = [], []
        for name, result in zip(names, results, strict=True):
            output = {"name": name, "shape": list(result.shape), "datatype": specs[name].datatype}
            if name in binary:
                blob = np.ascontiguousarray(result, dtype=result.dtype.newbyteorder("<")).tobytes()
                output["parameters"] = {"binary_data_size": len(blob)}
                blobs.append(blob)
            else:
                output["data"] = _json_data(result)
            outputs.append(output)
        request_id = request_id if request_id is not None else str(uuid.uuid4())
        response = {"model_name": self._model.name, "id": request_id, "parameters": {}, "outputs": outputs}
        if self._model.version:
            response["model_version"] = self._model.version
        header = orjson.dumps(response, option=orjson.OPT_SERIALIZE_NUMPY)
        if not blobs:
            return request_id, header, None
        return request_id, b"".join([header, *blobs]), len(header)

    def _answer_json(self, body: bytes) -> tuple[str, bytes, int | None] | bytes | None:
        """Answer a JSON request (an unsafe id: the body of a 400), None to leave it (and any error message) to
        MLServer."""
        try:
            request = orjson.loads(body)
        except orjson.JSONDecodeError:
            return None
        unsafe = unsafe_id_message(request)
        if unsafe:
            return error_response(400, unsafe).body
        try:
            return self.answer(request)
        except InferenceError:
            return None

    def _answer_binary(self, body: bytes, header_length: bytes) -> tuple[str, bytes, int | None] | bytes:
        """Answer a request with binary tensor data; on failure the body of a 400 (MLServer cannot read these)."""
        try:
            if not header_length.strip().isdigit() or int(header_length) > len(body):
                raise InferenceError(
                    f"Inference-Header-Content-Length is {header_length.decode(errors='replace')!r}; expected the "
                    f"byte length of the JSON header, at most the body's {len(body)} bytes"
                )
            length = int(header_length)
            try:
                request = orjson.loads(body[:length])
            except orjson.JSONDecodeError as error:
                raise InferenceError(f"binary request: the JSON header is not valid JSON ({error})") from None
            unsafe = unsafe_id_message(request)
            if unsafe:
                raise InferenceError(unsafe)
            attach_binary(request, body[length:])
            answered = self.answer(request)
            if answered is None:
                raise InferenceError("binary request: the JSON header is not a V2 inference request")
            return answered
        except InferenceError as error:
            return error_response(400, str(error)).body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer POSTs to the model's infer path when possible; hand everything else to MLServer."""
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] != self._path:
            await self._app(scope, receive, send)
            return
        chunks = []
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        body = b"".join(chunks)
        header_length = next((value for key, value in scope["headers"] if key.lower() == BINARY_HEADER), None)
        answered = self._answer_json(body) if header_length is None else self._answer_binary(body, header_length)
        if answered is None:
            await self._app(scope, replay_body(body, receive), send)
            return
        if isinstance(answered, bytes):
            await _send(send, 400, [(b"content-type", b"application/json")], answered)
            return
        request_id, response, json_length = answered
        event_id = request_id.encode()
        headers = [*self._headers, (b"ce-id", event_id), (b"ce-requestid", event_id)]
        if json_length is None:
            headers.append((b"content-type", b"application/json"))
        else:  # the JSON header, then the binary outputs
            headers += [(b"content-type", b"application/octet-stream"), (BINARY_HEADER, str(json_length).encode())]
        await _send(send, 200, headers, response)


async def _send(send: Send, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
    """Send a complete response with its Content-Length."""
    headers = [*headers, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})

