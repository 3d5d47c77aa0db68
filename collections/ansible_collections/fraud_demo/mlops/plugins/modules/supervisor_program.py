#!/usr/bin/python
# Copyright: fraud_demo contributors
# Apache License 2.0 (see the collection's galaxy.yml)
"""Ansible module: one supervisord program configured, running and healthy, in one step."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: supervisor_program
short_description: Keep one supervisord program configured, running and healthy
version_added: "1.1.0"
description:
  - Writes the program's configuration file (C(<conf_dir>/<name>.conf), mode C(0600)) when its content differs.
  - Talks to a running supervisord over its unix socket (XML-RPC). When the configuration changed, the program is
    stopped, removed and added again, so that it runs with the new configuration; a program supervisord does not
    know yet is added; a known program that is not running is started.
  - Optionally waits until O(health_url) answers HTTP 200; on timeout it fails with the end of O(log_file).
  - A program that is already running with the same configuration is left alone and the task reports
    RV(ignore:changed=false), so a rerun with nothing to do costs one module run per program.
  - Check mode reports what would change and shows the configuration diff, without writing or asking
    supervisord to do anything.
  - supervisord itself must run (the role C(process_supervisor) starts it) and include O(conf_dir).
author:
  - fraud_demo contributors
options:
  name:
    description:
      - The program's name, as in C([program:<name>]).
    type: str
    required: true
  config:
    description:
      - The whole content of the program's configuration file, C([program:<name>]) section included.
    type: str
    required: true
  conf_dir:
    description:
      - Directory that supervisord's C([include]) section reads C(*.conf) files from.
    type: path
    required: true
  socket:
    description:
      - supervisord's unix socket (C([unix_http_server] file=)).
    type: path
    required: true
  directory:
    description:
      - The program's working directory (its C(directory=)), created with mode C(0700) when missing, since
        supervisord cannot start a program without it. Not managed when empty.
    type: path
  health_url:
    description:
      - URL that answers HTTP 200 once the program is ready. Not checked when empty.
    type: str
    default: ""
  health_timeout:
    description:
      - Seconds to wait for O(health_url).
    type: int
    default: 120
  log_file:
    description:
      - The program's log; its last 40 lines go into the failure message when the program does not become healthy.
    type: path
  validate_certs:
    description:
      - Verify the TLS certificate of an C(https://) O(health_url).
    type: bool
    default: true
  ca_path:
    description:
      - PEM CA bundle for an C(https://) O(health_url).
    type: path
"""

EXAMPLES = r"""
- name: Run the model server under supervisord
  fraud_demo.mlops.supervisor_program:
    name: model-server
    config: "{{ lookup('ansible.builtin.template', 'program.conf.j2') }}"
    conf_dir: "{{ state_dir }}/supervisor/conf.d"
    socket: "{{ state_dir }}/supervisor/supervisor.sock"
    health_url: http://127.0.0.1:8008/v2/health/ready
    log_file: "{{ state_dir }}/logs/model-server.log"
"""

RETURN = r"""
config_changed:
  description: Whether the configuration file was (or, in check mode, would be) written.
  returned: always
  type: bool
operation:
  description: What was done with the program in supervisord.
  returned: always
  type: str
  choices: [none, added, restarted, started]
  sample: none
state:
  description: The program's supervisord state at the end (in check mode, before).
  returned: always
  type: str
  sample: RUNNING
"""

import os
import time
import xmlrpc.client

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.urls import open_url

from ansible_collections.fraud_demo.mlops.plugins.module_utils.supervisor_rpc import (
    ALREADY_ADDED,
    ALREADY_STARTED,
    BAD_NAME,
    NOT_RUNNING,
    ignoring,
    log_tail,
    process_state,
    supervisor_proxy,
    write_file,
)

ARGUMENT_SPEC = {
    "name": {"type": "str", "required": True},
    "config": {"type": "str", "required": True},
    "conf_dir": {"type": "path", "required": True},
    "socket": {"type": "path", "required": True},
    "directory": {"type": "path"},
    "health_url": {"type": "str", "default": ""},
    "health_timeout": {"type": "int", "default": 120},
    "log_file": {"type": "path"},
    "validate_certs": {"type": "bool", "default": True},
    "ca_path": {"type": "path"},
}


def _read(path):
    """The file's text, or None when it does not exist."""
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except FileNotFoundError:
        return None


def _wait_healthy(module, params, supervisor):
    """Poll the health URL until it answers 200; fail with the program's state and log after the timeout."""
    deadline = time.monotonic() + params["health_timeout"]
    last = "no answer yet"
    while True:
        try:
            response = open_url(params["health_url"], method="GET", timeout=5,
                                validate_certs=params["validate_certs"], ca_path=params["ca_path"])
            if response.status == 200:
                return
            last = "HTTP %s" % response.status
        except Exception as error:  # noqa: BLE001 - every failure is "not healthy yet"; the last one is reported
            last = str(error)
        if time.monotonic() >= deadline:
            module.fail_json(
                msg="%s did not answer 200 at %s within %ss (last: %s; supervisord state: %s). Last lines of %s:\n%s"
                % (params["name"], params["health_url"], params["health_timeout"], last,
                   process_state(supervisor, params["name"]), params["log_file"], log_tail(params["log_file"])),
                state=process_state(supervisor, params["name"]),
            )
        time.sleep(1)


def _wait_started(module, params, supervisor, result):
    """The program's state once supervisord is done starting it (RUNNING); fail with its log otherwise."""
    deadline = time.monotonic() + params["health_timeout"]
    state = process_state(supervisor, params["name"])
    while state in ("STARTING", "BACKOFF") and time.monotonic() < deadline:
        time.sleep(0.2)
        state = process_state(supervisor, params["name"])
    if state != "RUNNING":
        module.fail_json(msg="%s is %s in supervisord, not RUNNING. Last lines of %s:\n%s"
                         % (params["name"], state, params["log_file"], log_tail(params["log_file"])),
                         state=state, **result)
    return state


def ensure_program(module, params):
    """Bring the program to its configuration and a running state; return the module result."""
    name = params["name"]
    conf_file = os.path.join(params["conf_dir"], "%s.conf" % name)
    before = _read(conf_file)
    config_changed = before != params["config"]
    supervisor = supervisor_proxy(params["socket"])
    try:
        state = process_state(supervisor, name)
    except OSError:
        if not module.check_mode:
            raise
        state = None  # check mode before supervisord was ever started: it would be added
    if config_changed:
        action = "restarted" if state is not None else "added"
    elif state is None:
        action = "added"
    elif state in ("RUNNING", "STARTING", "BACKOFF"):
        action = "none"  # STARTING/BACKOFF: supervisord is already bringing it up; the health check waits
    else:
        action = "started"
    directory = params["directory"]
    make_directory = bool(directory) and not os.path.isdir(directory)
    result = {"changed": config_changed or make_directory or action != "none", "config_changed": config_changed,
              "operation": action}
    if config_changed and module._diff:
        result["diff"] = {"before": before or "", "after": params["config"], "before_header": conf_file,
                          "after_header": conf_file}
    if module.check_mode:
        return dict(result, state=state or "UNKNOWN")
    if make_directory:
        os.makedirs(directory, mode=0o700, exist_ok=True)
        os.chmod(directory, 0o700)
    if config_changed:
        write_file(module, conf_file, params["config"], 0o600)
    if action == "restarted":
        ignoring(lambda: supervisor.stopProcess(name, True), NOT_RUNNING, BAD_NAME)
        ignoring(lambda: supervisor.removeProcessGroup(name), BAD_NAME)
    if action in ("restarted", "added"):
        supervisor.reloadConfig()
        ignoring(lambda: supervisor.addProcessGroup(name), ALREADY_ADDED)
    if action != "none":
        # Added programs start on their own (autostart); starting them here waits until they are RUNNING.
        try:
            ignoring(lambda: supervisor.startProcess(name, True), ALREADY_STARTED)
        except xmlrpc.client.Fault as fault:
            module.fail_json(msg="supervisord could not start %s: %s. Last lines of %s:\n%s"
                             % (name, fault.faultString, params["log_file"], log_tail(params["log_file"])),
                             state=process_state(supervisor, name), **result)
    state = _wait_started(module, params, supervisor, result)
    if params["health_url"]:
        _wait_healthy(module, params, supervisor)
    return dict(result, state=state)


def main():
    """Validate the arguments, then configure, run and check the program."""
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    params = module.params
    if not params["name"] or "/" in params["name"] or params["name"].startswith("."):
        module.fail_json(msg="name must be a plain program name, got %r" % params["name"])
    if "[program:%s]" % params["name"] not in params["config"]:
        module.fail_json(msg="config must contain the section [program:%s]" % params["name"])
    if params["health_timeout"] < 1:
        module.fail_json(msg="health_timeout must be at least 1 second, got %r" % params["health_timeout"])
    if not os.path.isdir(params["conf_dir"]) and not module.check_mode:
        module.fail_json(msg="conf_dir %s is not a directory (is supervisord set up?)" % params["conf_dir"])
    try:
        result = ensure_program(module, params)
    except (OSError, xmlrpc.client.Error) as error:
        module.fail_json(msg="supervisord at %s: %s (program %s)" % (params["socket"], error, params["name"]))
    module.exit_json(**result)


if __name__ == "__main__":
    main()
