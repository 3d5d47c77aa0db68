# Copyright: fraud_demo contributors
# Apache License 2.0 (see the collection's galaxy.yml)
"""Ansible lookup: the files of a build context folder on the controller, base64-encoded, in one pass."""

from __future__ import annotations

DOCUMENTATION = r"""
---
name: context_files
short_description: Read every file of a folder on the controller, base64-encoded
version_added: "1.0.0"
description:
  - Walks a folder on the controller (hidden entries included, symbolic links not followed) and returns one item
    per regular file, sorted by path, with its folder and name relative to the given folder and its content in
    base64 (binary-safe).
  - Replaces a C(find) plus one C(slurp) per file: the whole folder is read in the controller process at once.
author:
  - fraud_demo contributors
options:
  _terms:
    description: The folder to read (one).
    type: list
    elements: path
    required: true
  exclude:
    description: Regular expression (Python C(re.search)) of relative paths to leave out.
    type: str
    default: ""
"""

EXAMPLES = r"""
- name: Read the build context
  ansible.builtin.set_fact:
    files: "{{ query('fraud_demo.mlops.context_files', role_path ~ '/../../app', exclude='__pycache__') }}"
"""

RETURN = r"""
_raw:
  description: One dict per file.
  type: list
  elements: dict
  contains:
    path:
      description: Path relative to the folder (C(/)-separated).
    dir:
      description: Folder part of RV(_raw[].path), empty for files at the top.
    name:
      description: File name.
    content:
      description: The file's bytes, base64-encoded.
"""

import base64
import os
import re

from ansible.errors import AnsibleLookupError
from ansible.plugins.lookup import LookupBase


def context_files(folder: str, exclude: str = "") -> list[dict[str, str]]:
    """List the regular files under ``folder`` (sorted, ``exclude`` matches left out) with base64 contents."""
    if not os.path.isdir(folder):
        raise AnsibleLookupError(f"{folder} is not a folder")
    pattern = re.compile(exclude) if exclude else None
    relative_paths = []
    for root, dirs, files in os.walk(folder):
        dirs.sort()
        for name in files:
            full = os.path.join(root, name)
            if os.path.islink(full) or not os.path.isfile(full):
                continue
            relative_paths.append(os.path.relpath(full, folder).replace(os.sep, "/"))
    items = []
    for relative in sorted(relative_paths):
        if pattern and pattern.search(relative):
            continue
        with open(os.path.join(folder, relative), "rb") as handle:
            content = base64.b64encode(handle.read()).decode("ascii")
        items.append({"path": relative, "dir": os.path.dirname(relative), "name": os.path.basename(relative), "content": content})
    return items


class LookupModule(LookupBase):
    """``query('fraud_demo.mlops.context_files', folder, exclude=regex)``: the list of files."""

    def run(self, terms, variables=None, **kwargs):  # noqa: ANN001, ANN201 (Ansible's signature)
        self.set_options(var_options=variables, direct=kwargs)
        if len(terms) != 1:
            raise AnsibleLookupError(f"context_files takes one folder, got {len(terms)}")
        return context_files(str(terms[0]), self.get_option("exclude"))
