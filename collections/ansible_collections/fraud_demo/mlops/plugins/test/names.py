"""Jinja tests for the names the demo passes on: `value is fraud_demo.mlops.mlflow_name`."""

from __future__ import annotations

import re

DOCUMENTATION = r"""
name: mlflow_name
short_description: Whether a value is a safe MLflow experiment or registered model name
description:
  - True for 1 to 256 characters that are letters, digits, C(.), C(_) or C(-), starting with a letter or digit.
  - MLflow itself takes more (spaces, C(?), C(#)), but such a name breaks the C(models:/<name>@<alias>) URIs, the
    REST paths and the UI links the demo builds from it, so the demo refuses it before anything changes.
positional: _input
options:
  _input:
    description: The name.
    type: raw
    required: true
"""

EXAMPLES = r"""
- ansible.builtin.assert:
    that: training_registered_model is fraud_demo.mlops.mlflow_name
"""

RETURN = r"""
_value:
  description: Whether the value is such a name.
  type: bool
"""

MLFLOW_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,255}")


def mlflow_name(value: object) -> bool:
    """True when `value` is a string MLflow and the URIs built from it take as it is."""
    return isinstance(value, str) and MLFLOW_NAME.fullmatch(value) is not None


class TestModule:
    """Ansible's entry point for test plugins."""

    def tests(self) -> dict[str, object]:
        return {"mlflow_name": mlflow_name}
