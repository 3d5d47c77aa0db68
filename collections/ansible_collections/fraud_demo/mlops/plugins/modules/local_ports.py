#!/usr/bin/python
# Copyright: fraud_demo contributors
# Apache License 2.0 (see the collection's galaxy.yml)
"""Ansible module: check that the TCP ports a local run binds are free or held by the demo's own programs."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: local_ports
short_description: Check that local TCP ports are free or held by our own programs
version_added: "1.2.0"
description:
  - Tries to bind each port of O(ports) on O(host). A port that binds is free.
  - A taken port's holder is found through C(/proc/net/tcp), C(/proc/net/tcp6) and C(/proc/<pid>/fd). A holder whose
    environment carries C(FRAUD_DEMO_PROGRAM) starting with O(ours) is one of the demo's supervised programs (the
    launcher C(run-program) marks them), running or left over from a killed run; the port counts as ours.
  - Any other holder fails the task once, naming every such port, its variable, the holder's pid and command (or
    that it is not visible to this user), and how to choose another port.
  - Reads only; runs the same in check mode.
author:
  - fraud_demo contributors
options:
  ports:
    description:
      - The ports to check.
    type: list
    elements: dict
    required: true
    suboptions:
      variable:
        description: Name of the inventory variable the port comes from (for the message).
        type: str
        required: true
      program:
        description: The program that binds it (documentation; returned with a port that is ours).
        type: str
        default: ""
      offset:
        description: The program binds the variable's value plus this (SeaweedFS's derived gRPC ports).
        type: int
        default: 0
  values:
    description:
      - The value of each variable in O(ports) (by variable name).
    type: dict
    required: true
  host:
    description:
      - Address the programs bind.
    type: str
    default: 127.0.0.1
  ours:
    description:
      - Marker prefix of the demo's programs (C(<process_supervisor_dir>/)).
    type: str
    required: true
  supervisor_pid_file:
    description:
      - The demo's supervisord pid file; a holder that descends from that supervisord is ours too (a program
        started by an earlier version of the demo, before the launcher marked them).
    type: path
"""

EXAMPLES = r"""
- name: Check every port the local demo binds
  fraud_demo.mlops.local_ports:
    ports:
      - {variable: mlflow_server_local_port}
      - {variable: object_store_local_admin_port, offset: 10000}
    values:
      mlflow_server_local_port: "{{ mlflow_server_local_port }}"
      object_store_local_admin_port: "{{ object_store_local_admin_port }}"
    ours: "{{ fraud_demo_state_dir }}/supervisor/"
"""

RETURN = r"""
free:
  description: The variables whose port is free.
  returned: always
  type: list
  elements: str
ours:
  description: The variables whose port a program of the demo holds, with its pid.
  returned: always
  type: list
  elements: dict
"""

import errno
import os
import socket

from ansible.module_utils.basic import AnsibleModule

MARKER = b"FRAUD_DEMO_PROGRAM="
LISTEN = "0A"


def bind_error(host: str, port: int) -> int:
    """0 when ``host:port`` binds, else the errno."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            return error.errno or -1
    return 0


def listening_inodes(port: int) -> set[str]:
    """Socket inodes listening on ``port`` (any address, IPv4 or IPv6)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table, encoding="ascii") as handle:
                next(handle, None)
                for line in handle:
                    fields = line.split()
                    if len(fields) > 9 and fields[3] == LISTEN and int(fields[1].rsplit(":", 1)[1], 16) == port:
                        inodes.add(fields[9])
        except OSError:
            continue
    return inodes


def holders(inodes: set[str]) -> list[int]:
    """Pids with one of the socket ``inodes`` open (those this user may look into)."""
    wanted = {"socket:[%s]" % inode for inode in inodes}
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            fds = os.listdir("/proc/%s/fd" % name)
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink("/proc/%s/fd/%s" % (name, fd)) in wanted:
                    found.append(int(name))
                    break
            except OSError:
                continue
    return sorted(found)


def marker_of(pid: int) -> str:
    try:
        with open("/proc/%d/environ" % pid, "rb") as handle:
            for entry in handle.read().split(b"\0"):
                if entry.startswith(MARKER):
                    return entry[len(MARKER):].decode("utf-8", "replace")
    except OSError:
        pass
    return ""


def command_of(pid: int) -> str:
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as handle:
            command = handle.read().replace(b"\0", b" ").decode("utf-8", "replace").strip()
    except OSError:
        return "?"
    return command if len(command) <= 120 else command[:117] + "..."


def parent_of(pid: int) -> int:
    try:
        with open("/proc/%d/stat" % pid, encoding="ascii", errors="replace") as handle:
            return int(handle.read().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return 0


def descends_from(pid: int, ancestor: int) -> bool:
    seen = set()
    while pid > 1 and pid not in seen:
        if pid == ancestor:
            return True
        seen.add(pid)
        pid = parent_of(pid)
    return False


def supervisord_pid(pid_file: str | None) -> int:
    """The running supervisord's pid from ``pid_file``, 0 when there is none."""
    if not pid_file:
        return 0
    try:
        with open(pid_file, encoding="ascii") as handle:
            pid = int(handle.read().strip())
        with open("/proc/%d/cmdline" % pid, "rb") as handle:
            return pid if b"supervisord" in handle.read() else 0
    except (OSError, ValueError):
        return 0


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "ports": {"type": "list", "elements": "dict", "required": True,
                      "options": {"variable": {"type": "str", "required": True},
                                  "program": {"type": "str", "default": ""},
                                  "offset": {"type": "int", "default": 0}}},
            "values": {"type": "dict", "required": True},
            "host": {"type": "str", "default": "127.0.0.1"},
            "ours": {"type": "str", "required": True},
            "supervisor_pid_file": {"type": "path"},
        },
        supports_check_mode=True,
    )
    host, ours_prefix = module.params["host"], module.params["ours"]
    supervisor = supervisord_pid(module.params["supervisor_pid_file"])
    free, ours, taken = [], [], []
    for entry in module.params["ports"]:
        port = int(module.params["values"][entry["variable"]]) + entry["offset"]
        named = entry["variable"] + (" + %d" % entry["offset"] if entry["offset"] else "")
        error = bind_error(host, port)
        if not error:
            free.append(named)
            continue
        if error != errno.EADDRINUSE:
            taken.append("Port %d (%s) on %s cannot be bound: %s." % (port, named, host, os.strerror(error)))
            continue
        pids = holders(listening_inodes(port))
        mine = [pid for pid in pids
                if marker_of(pid).startswith(ours_prefix) or (supervisor and descends_from(pid, supervisor))]
        if pids and len(mine) == len(pids):
            ours.append({"variable": named, "port": port, "pids": mine, "program": entry["program"],
                         "marker": marker_of(mine[0])})
            continue
        if pids:
            who = "; ".join("pid %d: %s" % (pid, command_of(pid)) for pid in pids if pid not in mine)
        else:
            who = "a process this user cannot see"
        taken.append("Port %d (%s) on %s is in use by another process (%s): stop it or choose another port with "
                     "-e %s=PORT." % (port, named, host, who, entry["variable"]))
    if taken:
        module.fail_json(msg=" ".join(taken), free=free, ours=ours)
    module.exit_json(changed=False, free=free, ours=ours)


if __name__ == "__main__":
    main()
