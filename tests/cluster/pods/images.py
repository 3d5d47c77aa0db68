"""Images the test kubelet can run, and the local runtime each one maps to.

There is no container runtime here, so an image is run as a local process in a sandbox (pods/sandbox.py) with a
local Python environment standing in for what the image's `RUN` lines installed. Two kinds are runnable:

**Built here.** The simulated build (simulator/openshift.py) builds a Docker-strategy Build for real from what it
was given (the inline Dockerfile and the source ConfigMaps of `image_build_source: local`): it applies the
Dockerfile's COPY lines to a file tree, keeps LABEL, ENV, USER, WORKDIR, ENTRYPOINT and CMD as the image config,
and stores both under the image's content digest, which is what the ImageStream tag and the Build report. RUN
lines are not executed: the Dockerfile's `LABEL name` picks the environment that holds what they install (the
pinned locks of those images are compiled against the controller's lock, `make lock`).

**Platform images.** The platform's own containers, which the roles never build, are mapped to programs that do
what upstream's do with the same upstream code where it is on PyPI (tests/cluster/runtimes/).

| image | runs as | environment |
|---|---|---|
| built, `LABEL name="train-job"` (train_job/Containerfile) | its ENTRYPOINT/CMD, files and ENV | `.venv/` |
| built, `LABEL name="mlflow-server"` (images/mlflow-server/) | same | `.venv/` (mlflow, psycopg2-binary, boto3) |
| built, `LABEL name="fraud-app"` (app/Containerfile) | same | `.venv/` |
| OpenVINO Model Server (`*/openvino_model_server*`, `*/model_server`, `*openvino-model-server*`) | runtimes/ovms.py: the real OpenVINO runtime (`openvino`) behind OVMS's REST API | `.venv/platform/` |
| KServe storage initializer (`*storage-initializer*`) | the real `kserve-storage` download | `.venv/platform/` |
| KServe agent (`*kserve-agent*`), the inference logger sidecar | runtimes/kserve_agent.py: upstream's flags, the proxy to the component, CloudEvents to the log URL, probes | `.venv/platform/` |
| ModelMesh's `modelmesh`, `rest-proxy` and `modelmesh-runtime-adapter` | runtimes/modelmesh.py: the load request, REST -> OVMS, the puller that reads only `storage-config` | `.venv/platform/` |
| `*/postgresql-*` (sclorg / RHEL) | runtimes/postgresql.py: Debian's PostgreSQL server with the image's POSTGRESQL_* contract | system |
| OpenShift's oauth-proxy (`*oauth-proxy*`) | runtimes/oauth_proxy.py: TLS, delegated bearer tokens (TokenReview + SubjectAccessReview), the upstream | `.venv/platform/` |

Any other image (the workbench's notebook images, the kube-rbac-proxy of 3.x token authentication) is
not run: its pod gets the
status a kubelet would write (simulator/workloads.py), and so does a tag of the internal registry (an ImageStream
tag, such as the notebook images OpenShift AI imports). A digest of the internal registry that no build here
produced cannot be pulled (ErrImagePull), as on a cluster.
"""

from __future__ import annotations

import base64
import fnmatch
import hashlib
import json
import shlex
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[3]
MAIN_ENV = Path(sys.prefix)
PLATFORM_ENV = MAIN_ENV / "platform"
INTERNAL_REGISTRY = "image-registry.openshift-image-registry.svc:5000"
# The base image of every Containerfile here (UBI 9 Python 3.12): what it puts in the environment.
UBI_PYTHON_ENV = {"HOME": "/opt/app-root/src", "APP_ROOT": "/opt/app-root", "PLATFORM": "el9", "PYTHONUNBUFFERED": "1"}
BUILT_RUNTIMES = {"train-job": MAIN_ENV, "mlflow-server": MAIN_ENV, "fraud-app": MAIN_ENV}


class ImageError(RuntimeError):
    """The image cannot be run here; `reason` is the kubelet's waiting reason (ErrImagePull, ...)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class Image:
    """What the sandbox needs to start a container of this image."""

    reference: str
    entrypoint: list[str]
    cmd: list[str]
    env: dict[str, str]
    workdir: str
    environment: Path
    rootfs: Path | None = None
    image_id: str = ""
    # Programs of a platform image (its entrypoint, probe scripts) -> the stand-in's command for them.
    commands: dict[str, list[str]] = field(default_factory=dict)

    def path_env(self) -> str:
        """PATH inside the container: the environment's bin first (the image's /opt/app-root/bin)."""
        return ":".join([str(self.environment / "bin"), "/usr/local/bin", "/usr/bin", "/bin"])


# Repository patterns (fnmatch) of platform images -> the stand-in module (tests/cluster/runtimes/<module>.py) and
# the image's own programs that a pod spec may name (command, exec probes) -> the stand-in's arguments.
# A stand-in module may serve several images: the image's entrypoint arguments say which part it plays.
PLATFORM_IMAGES: list[tuple[str, list[str], dict[str, list[str]]]] = [
    ("*openvino_model_server*", ["ovms"], {"/ovms/bin/ovms": []}),
    ("*openvino-model-server*", ["ovms"], {"/ovms/bin/ovms": []}),
    ("*/model_server", ["ovms"], {"/ovms/bin/ovms": []}),
    ("*storage-initializer*", ["storage_initializer"], {"/storage-initializer/scripts/initializer-entrypoint": []}),
    ("*kserve-agent*", ["kserve_agent"], {}),
    ("*/modelmesh", ["modelmesh", "mm"], {}),
    ("*rest-proxy*", ["modelmesh", "rest-proxy"], {}),
    ("*modelmesh-runtime-adapter*", ["modelmesh", "adapter"], {}),
    ("*oauth-proxy*", ["oauth_proxy"], {}),
    ("*/postgresql-*", ["postgresql"], {"run-postgresql": [], "/usr/bin/run-postgresql": [], "/usr/libexec/check-container": ["check"]}),
]


def repository(reference: str) -> str:
    """`registry/path` of an image reference, without tag or digest."""
    name = reference.split("@", 1)[0]
    last = name.rsplit("/", 1)
    if ":" in last[-1]:
        name = name[: name.rindex(":")]
    return name


class Registry:
    """The images built in this control plane (content digest -> config and files), kept under `root`."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)

    def build(self, dockerfile: str, files: dict[str, bytes]) -> tuple[str, dict[str, Any]]:
        """Build an image from a Dockerfile and its context (path -> bytes); return (digest, config).

        Raises ValueError with Docker's kind of message for what cannot be built (a COPY source missing)."""
        digest = hashlib.sha256()
        digest.update(dockerfile.encode())
        for path in sorted(files):
            digest.update(path.encode() + b"\0" + hashlib.sha256(files[path]).digest())
        name = "sha256:" + digest.hexdigest()
        target = self.root / name.replace(":", "-")
        config = parse_dockerfile(dockerfile)
        if not (target / "config.json").exists():
            staging = target.with_name(target.name + ".tmp")
            shutil.rmtree(staging, ignore_errors=True)
            _apply_copies(config, files, staging / "rootfs")
            (staging / "config.json").write_text(json.dumps(config))
            shutil.rmtree(target, ignore_errors=True)
            staging.rename(target)
        return name, config

    def built(self, digest: str) -> tuple[dict[str, Any], Path] | None:
        """Config and rootfs of a digest built here, or None."""
        target = self.root / digest.replace(":", "-")
        if not (target / "config.json").exists():
            return None
        return json.loads((target / "config.json").read_text()), target / "rootfs"

    def resolve(self, reference: str) -> Image | None:
        """The runnable image behind `reference`; None when it is not run here (status only).

        Raises ImageError for an internal-registry image that was not built here, or one built without a runtime."""
        repo = repository(reference)
        if repo.startswith(INTERNAL_REGISTRY + "/"):
            digest = reference.split("@", 1)[1] if "@" in reference else ""
            if not digest:
                return None  # a tag of an ImageStream, e.g. imported from a vendor's registry: not ours to run
            found = self.built(digest)
            if found is None:
                raise ImageError(
                    "ErrImagePull",
                    f'rpc error: code = Unknown desc = reading manifest {digest or "latest"} in {repo}: manifest unknown',
                )
            config, rootfs = found
            label = config["labels"].get("name", "")
            environment = BUILT_RUNTIMES.get(label)
            if environment is None:
                raise ImageError("ErrImagePull", f"{reference}: no local runtime for images built with LABEL name={label!r}")
            return Image(
                reference=reference,
                entrypoint=config["entrypoint"],
                cmd=config["cmd"],
                env={**UBI_PYTHON_ENV, **config["env"]},
                workdir=config["workdir"] or "/",
                environment=environment,
                rootfs=rootfs,
                image_id=f"{repo}@{digest}",
            )
        for pattern, (module, *part), programs in PLATFORM_IMAGES:
            if fnmatch.fnmatch(repo, pattern):
                entrypoint = [str(PLATFORM_ENV / "bin" / "python"), "-m", f"tests.cluster.runtimes.{module}", *part]
                return Image(
                    reference=reference,
                    entrypoint=entrypoint,
                    cmd=[],
                    env={"PYTHONPATH": str(REPO), "HOME": "/tmp", "PYTHONUNBUFFERED": "1"},
                    workdir="/",
                    environment=PLATFORM_ENV,
                    image_id=reference,
                    commands={path: [*entrypoint, *args] for path, args in programs.items()},
                )
        return None


def platform_command(image: Image, command: list[str]) -> list[str]:
    """A command that names one of the platform image's own programs runs its stand-in instead."""
    if command and command[0] in image.commands:
        return [*image.commands[command[0]], *command[1:]]
    return command


# --- the Dockerfile subset this project's Containerfiles use ---------------------------------------------------


def _logical_lines(text: str) -> list[str]:
    lines, current = [], ""
    for raw in text.splitlines():
        stripped = raw.strip()
        if not current and (not stripped or stripped.startswith("#")):
            continue
        if stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        lines.append(current + stripped)
        current = ""
    if current:
        lines.append(current)
    return lines


def _words(value: str) -> list[str]:
    """An exec-form JSON array, or the shell form run by /bin/sh -c."""
    value = value.strip()
    if value.startswith("["):
        return [str(v) for v in json.loads(value)]
    return ["/bin/sh", "-c", value]


def _pairs(value: str) -> dict[str, str]:
    words = shlex.split(value)
    if words and "=" not in words[0]:  # legacy `ENV key value`
        return {words[0]: value.split(None, 1)[1] if len(words) > 1 else ""}
    return dict(word.split("=", 1) for word in words)


def parse_dockerfile(text: str) -> dict[str, Any]:
    """The image config and COPY steps of a Dockerfile (FROM, LABEL, USER, WORKDIR, COPY, ENV, ENTRYPOINT, CMD;
    RUN, EXPOSE and ARG are kept only as the fact that they exist)."""
    config: dict[str, Any] = {"from": "", "labels": {}, "env": {}, "user": "", "workdir": "", "entrypoint": [], "cmd": [], "copies": [], "runs": 0}
    for line in _logical_lines(text):
        instruction, _, value = line.partition(" ")
        instruction = instruction.upper()
        if instruction == "FROM":
            config["from"] = value.split()[0]
        elif instruction == "LABEL":
            config["labels"].update(_pairs(value))
        elif instruction == "ENV":
            config["env"].update(_pairs(value))
        elif instruction == "USER":
            config["user"] = value.strip()
        elif instruction == "WORKDIR":
            config["workdir"] = str(Path(config["workdir"] or "/", value.strip()))
        elif instruction == "COPY":
            words = [w for w in shlex.split(value) if not w.startswith("--")]
            config["copies"].append({"sources": words[:-1], "target": words[-1], "workdir": config["workdir"] or "/"})
        elif instruction == "ENTRYPOINT":
            config["entrypoint"] = _words(value)
            config["cmd"] = []
        elif instruction == "CMD":
            config["cmd"] = _words(value)
        elif instruction == "RUN":
            config["runs"] += 1
    return config


def _apply_copies(config: dict[str, Any], files: dict[str, bytes], rootfs: Path) -> None:
    rootfs.mkdir(parents=True, exist_ok=True)
    for step in config["copies"]:
        target = step["target"]
        into_dir = target.endswith("/") or len(step["sources"]) > 1
        destination = Path(step["workdir"], target)
        for source in step["sources"]:
            source = source.rstrip("/").removeprefix("./") or "."
            matched = {p: d for p, d in files.items() if source == "." or p == source or p.startswith(source + "/")}
            if not matched:
                raise ValueError(f'COPY failed: file not found in build context: stat {source}: file does not exist')
            for path, data in matched.items():
                if path == source and not into_dir:
                    out = destination
                elif path == source:
                    out = destination / Path(path).name
                else:
                    out = destination / (path[len(source) + 1 :] if source != "." else path)
                out = rootfs / str(out).lstrip("/")
                out.parent.mkdir(parents=True, exist_ok=True)
                out.write_bytes(data)


def context_files(build_spec: dict[str, Any], config_maps: dict[str, dict[str, Any]]) -> dict[str, bytes]:
    """The build context of a Build's `source.configMaps` (path inside the context -> bytes)."""
    files: dict[str, bytes] = {}
    for ref in (build_spec.get("source") or {}).get("configMaps") or []:
        config_map = config_maps.get(ref["configMap"]["name"]) or {}
        folder = (ref.get("destinationDir") or "").strip("/")
        for key, value in (config_map.get("binaryData") or {}).items():
            files[f"{folder}/{key}" if folder else key] = base64.b64decode(value)
        for key, value in (config_map.get("data") or {}).items():
            files[f"{folder}/{key}" if folder else key] = value.encode()
    return files

