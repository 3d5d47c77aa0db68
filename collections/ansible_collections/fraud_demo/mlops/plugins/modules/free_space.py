#!/usr/bin/python
# Copyright: fraud_demo contributors
# Apache License 2.0 (see the collection's galaxy.yml)
"""Ansible module: check that the file system a directory is (or will be) on has the free space a run needs."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: free_space
short_description: Check the free space of the file system a directory is or will be on
version_added: "1.2.0"
description:
  - Finds O(path) or, when it does not exist yet, its nearest existing parent, and reads the space its file system
    has free for this user (C(statvfs)).
  - Fails when less than O(min_free_mb) MiB are free, naming the path, the figures and O(variable), so a full disk
    is reported before anything starts instead of as a failing upload minutes later.
  - Reads only; runs the same in check mode.
author:
  - fraud_demo contributors
options:
  path:
    description:
      - The directory the run writes to.
    type: path
    required: true
  min_free_mb:
    description:
      - MiB that must be free.
    type: int
    required: true
  variable:
    description:
      - The variable that sets O(min_free_mb) (for the message).
    type: str
    required: true
  purpose:
    description:
      - What the space is for (for the message).
    type: str
    default: the run
"""

EXAMPLES = r"""
- name: Check the state directory's file system has room for the demo
  fraud_demo.mlops.free_space:
    path: "{{ fraud_demo_state_dir }}"
    min_free_mb: "{{ preflight_local_min_free_mb }}"
    variable: preflight_local_min_free_mb
"""

RETURN = r"""
checked:
  description: The existing directory whose file system was measured.
  returned: always
  type: str
free_mb:
  description: MiB free for this user.
  returned: always
  type: int
"""

import os

from ansible.module_utils.basic import AnsibleModule


def nearest_existing(path: str) -> str:
    current = os.path.abspath(path)
    while not os.path.isdir(current):
        parent = os.path.dirname(current)
        if parent == current:
            break
        current = parent
    return current


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "path": {"type": "path", "required": True},
            "min_free_mb": {"type": "int", "required": True},
            "variable": {"type": "str", "required": True},
            "purpose": {"type": "str", "default": "the run"},
        },
        supports_check_mode=True,
    )
    path, needed = module.params["path"], module.params["min_free_mb"]
    checked = nearest_existing(path)
    try:
        stats = os.statvfs(checked)
    except OSError as error:
        module.fail_json(msg="Cannot read the free space of %s: %s." % (checked, error.strerror), checked=checked)
    free_mb = stats.f_bavail * stats.f_frsize // (1024 * 1024)
    if free_mb < needed:
        where = path if checked == path else "%s (checked at %s, where it will be made)" % (path, checked)
        module.fail_json(
            msg="%s has %d MiB free; %s needs at least %d MiB (%s): free some space, or choose a directory on "
                "another file system (fraud_demo_state_dir, or FRAUD_DEMO_STATE_DIR)." % (
                    where, free_mb, module.params["purpose"], needed, module.params["variable"]),
            checked=checked, free_mb=free_mb)
    module.exit_json(changed=False, checked=checked, free_mb=free_mb)


if __name__ == "__main__":
    main()
