#!/usr/bin/python
# Copyright: fraud_demo contributors
# Apache License 2.0 (see the collection's galaxy.yml)
"""Ansible module: point a registered model's alias at a version and set tags on it (a rollout, a rollback)."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: mlflow_model_version
short_description: Point an MLflow registered model's alias at a version, and tag the version
version_added: "1.4.0"
description:
  - Moves O(alias) of registered model O(name) to O(version) (the serving side follows the alias), and sets
    O(tags) on that version, through the REST API of an MLflow tracking server.
  - Reads first and changes only what differs, so a repeated run reports RV(ignore:changed=false); check mode
    reads and reports what would change.
  - Used to roll back (the alias back on the version that served before) and to roll out a named version.
extends_documentation_fragment:
  - fraud_demo.mlops.mlflow_connection
author:
  - fraud_demo contributors
options:
  name:
    description:
      - Name of the registered model.
    type: str
    required: true
  version:
    description:
      - Version number the alias is moved to and the tags are set on; it must exist.
    type: str
    required: true
  alias:
    description:
      - Alias to point at O(version). Omitted, only O(tags) are set.
    type: str
  tags:
    description:
      - Tags to set on O(version) (values are written as strings).
    type: dict
    default: {}
attributes:
  check_mode:
    support: full
    description: Reads the alias and the tags and reports what would change, changing nothing.
  diff_mode:
    support: full
    description: The alias's version and the tags before and after.
"""

EXAMPLES = r"""
- name: Roll back - the alias that serving follows back on version 3
  fraud_demo.mlops.mlflow_model_version:
    tracking_uri: http://127.0.0.1:5000
    name: DNN-credit-card-fraud
    version: "3"
    alias: champion
    tags: {rollout: "restored: version 4 failed its smoke check"}
"""

RETURN = r"""
previous_version:
  description: The version the alias pointed at before (null when it pointed nowhere, or no alias was given).
  returned: success
  type: str
  sample: "4"
version:
  description: The version the alias points at now.
  returned: success
  type: str
  sample: "3"
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.fraud_demo.mlops.plugins.module_utils.mlflow_api import (
    CONNECTION_ARGUMENT_SPEC,
    CONNECTION_MUTUALLY_EXCLUSIVE,
    CONNECTION_REQUIRED_TOGETHER,
    MlflowClient,
    MlflowError,
    connection_from_params,
)

ARGUMENT_SPEC = dict(
    CONNECTION_ARGUMENT_SPEC,
    name=dict(type="str", required=True),
    version=dict(type="str", required=True),
    alias=dict(type="str"),
    tags=dict(type="dict", default={}),
)


def _alias_holder(client: MlflowClient, name: str, alias: str):
    """The version ``alias`` points at, or None (from the registered model's aliases: asking for an alias that
    points nowhere is an error in MLflow's API)."""
    registered = client.get("registered-models/get", {"name": name}, "registered_model")
    holders = [str(entry["version"]) for entry in registered.get("aliases", []) if entry.get("alias") == alias]
    return holders[0] if holders else None


def main() -> None:
    """Read, change what differs, report."""
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, mutually_exclusive=CONNECTION_MUTUALLY_EXCLUSIVE,
                           required_together=CONNECTION_REQUIRED_TOGETHER, supports_check_mode=True)
    params = module.params
    name, version, alias = params["name"], params["version"], params["alias"]
    if params["timeout"] <= 0:
        module.fail_json(msg="timeout must be more than 0 seconds, got %r" % params["timeout"])
    if not version.isdigit():
        module.fail_json(msg="version must be a registered version number, got %r" % version)
    client = MlflowClient(connection_from_params(params))
    wanted_tags = {str(key): str(value) for key, value in params["tags"].items()}
    try:
        described = client.get("model-versions/get", {"name": name, "version": version}, "model_version")
        tags = {tag["key"]: tag.get("value", "") for tag in described.get("tags", [])}
        previous = _alias_holder(client, name, alias) if alias else None
        move = bool(alias) and previous != version
        changed_tags = {key: value for key, value in wanted_tags.items() if tags.get(key) != value}
        if not module.check_mode:
            for key, value in changed_tags.items():
                client.post("model-versions/set-tag", {"name": name, "version": version, "key": key, "value": value})
            if move:
                client.post("registered-models/alias", {"name": name, "alias": alias, "version": version})
    except (ValueError, MlflowError) as error:
        module.fail_json(msg="%s version %s: %s" % (name, version, error))
    diff = {"before": {"alias": {alias: previous} if alias else {}, "tags": {k: tags.get(k) for k in changed_tags}},
            "after": {"alias": {alias: version} if alias else {}, "tags": changed_tags}}
    module.exit_json(changed=move or bool(changed_tags), previous_version=previous,
                     version=version if alias else None, diff=diff)


if __name__ == "__main__":
    main()
