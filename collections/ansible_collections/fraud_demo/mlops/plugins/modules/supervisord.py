#!/usr/bin/python
# Copyright: fraud_demo contributors
# Apache License 2.0 (see the collection's galaxy.yml)
"""Ansible module: a supervisord of our own, with its directories and files, running, in one step."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: supervisord
short_description: Keep a private supervisord set up and running
version_added: "1.1.0"
description:
  - Creates O(dir), C(<dir>/conf.d) and O(log_dir) (mode C(0700)), writes C(<dir>/supervisord.conf) from
    O(config) and the files in O(files) (each with its mode) when their content differs.
  - Starts C(supervisord -c <dir>/supervisord.conf) when it is not running, and restarts it (every program with
    it) when its own configuration changed; then waits until it answers on O(socket).
  - A running supervisord with the same files is left alone and the task reports RV(ignore:changed=false).
  - Check mode reports what would change, without writing or starting anything.
author:
  - fraud_demo contributors
options:
  dir:
    description:
      - supervisord's directory (configuration, C(conf.d/), socket, pid file).
    type: path
    required: true
  log_dir:
    description:
      - Directory for supervisord's and the programs' logs.
    type: path
    required: true
  config:
    description:
      - Content of C(<dir>/supervisord.conf).
    type: str
    required: true
  socket:
    description:
      - The unix socket that O(config) makes supervisord listen on.
    type: path
    required: true
  files:
    description:
      - Further files under O(dir), by file name, each with C(content) and C(mode) (for example a launcher).
    type: dict
    default: {}
  executable:
    description:
      - The C(supervisord) program to start.
    type: path
    required: true
  start_timeout:
    description:
      - Seconds to wait for supervisord to answer after a start or restart.
    type: int
    default: 30
"""

EXAMPLES = r"""
- name: Run supervisord under the state directory
  fraud_demo.mlops.supervisord:
    dir: "{{ state_dir }}/supervisor"
    log_dir: "{{ state_dir }}/logs"
    config: "{{ lookup('ansible.builtin.template', 'supervisord.conf.j2') }}"
    socket: "{{ state_dir }}/supervisor/supervisor.sock"
    files:
      run-program: {content: "{{ lookup('ansible.builtin.file', 'run-program') }}\n", mode: "0644"}
    executable: "{{ venv }}/bin/supervisord"
"""

RETURN = r"""
operation:
  description: What was done with supervisord.
  returned: always
  type: str
  choices: [none, started, restarted]
pid:
  description: supervisord's process id (0 in check mode when it does not run).
  returned: always
  type: int
written:
  description: The files written (or, in check mode, that would be).
  returned: always
  type: list
  elements: str
"""

import os
import time
import xmlrpc.client

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.fraud_demo.mlops.plugins.module_utils.supervisor_rpc import (
    log_tail,
    supervisor_proxy,
    write_file,
)

ARGUMENT_SPEC = {
    "dir": {"type": "path", "required": True},
    "log_dir": {"type": "path", "required": True},
    "config": {"type": "str", "required": True},
    "socket": {"type": "path", "required": True},
    "files": {"type": "dict", "default": {}},
    "executable": {"type": "path", "required": True},
    "start_timeout": {"type": "int", "default": 30},
}
CONFIG_FILE = "supervisord.conf"


def _running_pid(socket_path):
    """supervisord's pid when it answers on the socket, else None."""
    if not os.path.exists(socket_path):
        return None
    try:
        return supervisor_proxy(socket_path, timeout=5).getPID()
    except (OSError, xmlrpc.client.Error):
        return None


def _differs(path, content, mode):
    """Whether ``path`` is missing, or has other content or mode."""
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read() != content or (os.stat(path).st_mode & 0o7777) != mode
    except FileNotFoundError:
        return True


def _wanted_files(module, params):
    """(path, content, mode) of every file to keep under ``dir``, supervisord.conf first."""
    wanted = [(os.path.join(params["dir"], CONFIG_FILE), params["config"], 0o600)]
    for name, spec in sorted(params["files"].items()):
        if not isinstance(spec, dict) or "content" not in spec or "/" in name or name in (CONFIG_FILE, "conf.d"):
            module.fail_json(msg="files.%s must be a plain file name with content (and mode), got %r" % (name, spec))
        try:
            mode = int(str(spec.get("mode", "0600")), 8)
        except ValueError:
            module.fail_json(msg="files.%s.mode must be an octal mode such as 0755, got %r" % (name, spec.get("mode")))
        wanted.append((os.path.join(params["dir"], name), str(spec["content"]), mode))
    return wanted


def _wait_answering(module, params):
    """supervisord's pid once it answers; fail after start_timeout with the end of its log."""
    deadline = time.monotonic() + params["start_timeout"]
    while True:
        pid = _running_pid(params["socket"])
        if pid:
            return pid
        if time.monotonic() >= deadline:
            log = os.path.join(params["log_dir"], "supervisord.log")
            module.fail_json(msg="supervisord did not answer on %s within %ss. Last lines of %s:\n%s"
                             % (params["socket"], params["start_timeout"], log, log_tail(log, 20)))
        time.sleep(0.2)


def _wait_exited(module, pid, timeout):
    """Wait until process ``pid`` (a supervisord told to shut down, which stops its programs first) is gone."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        if time.monotonic() >= deadline:
            module.fail_json(msg="supervisord (pid %s) did not exit within %ss of shutdown" % (pid, timeout))
        time.sleep(0.2)


def main():
    """Create what is missing, start or restart supervisord as needed, wait until it answers."""
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    params = module.params
    if params["start_timeout"] < 1:
        module.fail_json(msg="start_timeout must be at least 1 second, got %r" % params["start_timeout"])
    if not os.access(params["executable"], os.X_OK):
        module.fail_json(msg="executable %s is not an executable file" % params["executable"])
    directories = [params["dir"], os.path.join(params["dir"], "conf.d"), params["log_dir"]]
    missing = [path for path in directories if not os.path.isdir(path)]
    changed_files = [(path, content, mode) for path, content, mode in _wanted_files(module, params)
                     if _differs(path, content, mode)]
    config_changed = any(path.endswith("/" + CONFIG_FILE) for path, _, _ in changed_files)
    pid = _running_pid(params["socket"])
    action = "started" if not pid else ("restarted" if config_changed else "none")
    result = {"changed": bool(missing or changed_files) or action != "none", "operation": action,
              "written": [path for path, _, _ in changed_files]}
    if module.check_mode:
        module.exit_json(pid=pid or 0, **result)
    for path in missing:
        os.makedirs(path, mode=0o700, exist_ok=True)
        os.chmod(path, 0o700)
    for path, content, mode in changed_files:
        write_file(module, path, content, mode)
    if action == "restarted":  # stopped for good, then started like a new one: no half-restarted daemon
        supervisor_proxy(params["socket"]).shutdown()
        _wait_exited(module, pid, params["start_timeout"])
    if action != "none":
        config_file = os.path.join(params["dir"], CONFIG_FILE)
        rc, out, err = module.run_command([params["executable"], "-c", config_file])
        if rc != 0:
            module.fail_json(msg="supervisord -c %s exited %s: %s" % (config_file, rc, (err or out).strip()), **result)
    module.exit_json(pid=_wait_answering(module, params), **result)


if __name__ == "__main__":
    main()
