"""Jinja filter that reads the demo's KEY=VALUE secrets files: `content | b64decode | fraud_demo.mlops.env_file`."""

from __future__ import annotations

import re

DOCUMENTATION = r"""
name: env_file
short_description: The variables of an environment file (KEY=VALUE lines) as a dictionary
description:
  - Reads the files the roles write for supervisord's C(--env-file) and for clients to source (the object store's
    keys, MLflow's login): every line C(NAME=value) whose NAME is upper-case letters, digits and C(_). Other lines
    (comments, blank lines) are ignored; the value is everything after the first C(=); a later line wins.
positional: _input, names
options:
  _input:
    description: The file's text.
    type: str
    required: true
  names:
    description: A regular expression the whole variable name must match (default every name).
    type: str
"""

EXAMPLES = r"""
- ansible.builtin.set_fact:
    login: "{{ raw.content | b64decode | fraud_demo.mlops.env_file('MLFLOW_TRACKING_(USERNAME|PASSWORD)') }}"
"""

RETURN = r"""
_value:
  description: Variable name to value.
  type: dict
"""

LINE = re.compile(r"([A-Z_0-9]+)=(.*)")


def env_file(text: str, names: str | None = None) -> dict[str, str]:
    """The ``NAME=value`` lines of ``text`` (names matching ``names`` when given) as a dictionary."""
    wanted = re.compile(names) if names else None
    variables = {}
    for line in str(text).splitlines():
        match = LINE.match(line)
        if match and (wanted is None or wanted.fullmatch(match.group(1))):
            variables[match.group(1)] = match.group(2)
    return variables


class FilterModule:
    """The collection's filters."""

    def filters(self) -> dict[str, object]:
        return {"env_file": env_file}
