"""Run one container of a pod: `python -m tests.cluster.pods.sandbox SPEC.json`, already inside the pod's network
namespace and new mount, UTS and PID namespaces (the kubelet starts it under `nsenter --net` and `unshare`).

As root it builds the container's file system view under `root` (SPEC): a copy-on-write overlay of the host's
root file system (writes land in a tmpfs and vanish with the container), its own /proc, /dev, /tmp and /run, the
pod's /etc/hosts, /etc/resolv.conf and /etc/hostname, the image's files at its working directory, every
volume at its mountPath (read-only where asked), and the termination-message file at terminationMessagePath.
Then it drops to the pod's user (OpenShift's restricted SCC: a UID of the namespace, group 0, no supplementary
groups, no capabilities), changes into that view and starts the container's command as its only child; it stays
PID 1 of the namespace, forwards SIGTERM/SIGINT/SIGHUP to the child, reaps orphans and exits with the child's
status, so the kernel ends whatever the container left behind.

SPEC (JSON): root, argv, env, workdir, uid, gid, etc (file name -> text), image_root (the image's files as a tree
from /, or null), mounts ([{source, target, readonly}]), termination_log (host file) and termination_path.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import json
import os
import shutil
import signal
import socket
import sys
from pathlib import Path
from typing import Any

MS_RDONLY, MS_NOSUID, MS_NODEV, MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 1, 2, 4, 32, 4096, 16384, 1 << 18
DEVICES = ("null", "zero", "full", "random", "urandom", "tty")
_PR_SET_PDEATHSIG = 1
_libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)


def mount(source: str, target: Path, fstype: str | None, flags: int = 0, data: str | None = None) -> None:
    """mount(2), raising OSError with the target in the message."""
    result = _libc.mount(
        source.encode(), str(target).encode(), fstype.encode() if fstype else None, flags, data.encode() if data else None
    )
    if result != 0:
        error = ctypes.get_errno()
        raise OSError(error, f"mount {source} on {target}: {os.strerror(error)}")


def bind(source: Path, target: Path, readonly: bool) -> None:
    """Bind `source` (file or folder) at `target`, creating the mount point; read-only with a remount."""
    if source.is_dir():
        target.mkdir(parents=True, exist_ok=True)
    else:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.touch(exist_ok=True)
    mount(str(source), target, None, MS_BIND | MS_REC)
    if readonly:
        mount("none", target, None, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)


def inside(root: Path, path: str) -> Path:
    """`path` of the container as a path under `root`, its symbolic links followed inside `root` (the host's
    /var/run is a link to /run: a mountPath under /var/run must not land on the host's /run)."""
    current = root
    for part in Path("/", path).parts[1:]:
        candidate, hops = current / part, 0
        while candidate.is_symlink() and hops < 40:
            link = os.readlink(candidate)
            candidate = root / link.lstrip("/") if link.startswith("/") else candidate.parent / link
            candidate = Path(os.path.normpath(candidate))
            if candidate != root and root not in candidate.parents:
                candidate = root
            hops += 1
        current = candidate
    return current


def build_root(spec: dict[str, Any]) -> Path:
    """Assemble the container's file system view under spec["root"] (see the module docstring)."""
    root = Path(spec["root"])
    layer = root.with_name("layer")
    for folder in (root, layer):
        folder.mkdir(parents=True, exist_ok=True)
    mount("none", Path("/"), None, MS_REC | MS_PRIVATE)
    mount("tmpfs", layer, "tmpfs", MS_NOSUID, "mode=0755")
    (layer / "upper").mkdir()
    (layer / "work").mkdir()
    mount("overlay", root, "overlay", 0, f"lowerdir=/,upperdir={layer / 'upper'},workdir={layer / 'work'}")
    mount("proc", root / "proc", "proc", MS_NOSUID | MS_NODEV)
    bind(Path("/sys"), root / "sys", readonly=True)
    dev = root / "dev"
    mount("tmpfs", dev, "tmpfs", MS_NOSUID, "mode=0755")
    for device in DEVICES:
        bind(Path("/dev") / device, dev / device, readonly=False)
    (dev / "shm").mkdir()
    mount("tmpfs", dev / "shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777")
    for name, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1"), ("stderr", "/proc/self/fd/2")):
        (dev / name).symlink_to(target)
    for folder, mode in (("tmp", "1777"), ("run", "0755")):
        mount("tmpfs", root / folder, "tmpfs", MS_NOSUID | MS_NODEV, f"mode={mode}")
    for name, text in spec["etc"].items():
        (root / "etc" / name).unlink(missing_ok=True)  # it may be a symlink into the host's /run
        (root / "etc" / name).write_text(text)
    # Only the folder's mode, in the overlay: the runtime's Python may live under /root (pyenv).
    if (root / "root").is_dir():
        (root / "root").chmod(0o755)
    if spec.get("image_root"):
        shutil.copytree(spec["image_root"], root, dirs_exist_ok=True, symlinks=True)
    workdir = inside(root, spec["workdir"])
    workdir.mkdir(parents=True, exist_ok=True)
    # The image's own folder belongs to the pod's user, as fix-permissions makes it group-writable for it.
    for folder, _dirs, files in os.walk(workdir) if spec.get("image_root") and spec["workdir"] != "/" else ():
        os.chown(folder, spec["uid"], spec["gid"])
        for name in files:
            os.chown(os.path.join(folder, name), spec["uid"], spec["gid"])
    for item in spec["mounts"]:
        bind(Path(item["source"]), inside(root, item["target"]), item["readonly"])
    bind(Path(spec["termination_log"]), inside(root, spec["termination_path"]), readonly=False)
    return root


def run(spec: dict[str, Any]) -> int:
    """Start the container's command as the pod's user inside its view; return its exit status."""
    root = build_root(spec)
    if spec.get("hostname"):
        socket.sethostname(spec["hostname"])  # the pod's own UTS namespace
    child = os.fork()
    if child == 0:
        try:
            os.chroot(root)
            os.chdir(spec["workdir"])
            os.setgroups([])
            os.setgid(spec["gid"])
            os.setuid(spec["uid"])
            os.execvpe(spec["argv"][0], spec["argv"], spec["env"])
        except OSError as error:
            # The kubelet's message for a command that cannot start (as runc reports it).
            sys.stderr.write(f'exec: "{spec["argv"][0]}": {error.strerror}\n')
            os._exit(127 if isinstance(error, FileNotFoundError) else 126)
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, lambda number, _frame: os.kill(child, number))
    while True:
        pid, status = os.wait()
        if pid == child:
            return os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status)


def main() -> None:
    spec = json.loads(Path(sys.argv[1]).read_text())
    sys.stdout.flush()
    os._exit(run(spec))


if __name__ == "__main__":
    main()
