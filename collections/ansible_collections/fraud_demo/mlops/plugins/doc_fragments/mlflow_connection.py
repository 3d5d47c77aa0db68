# Copyright: fraud_demo contributors
# Apache License 2.0 (see the collection's galaxy.yml)
"""The connection options of the modules that talk to MLflow's REST API (mlflow_api.MlflowConnection)."""

from __future__ import annotations


class ModuleDocFragment:
    """``extends_documentation_fragment: fraud_demo.mlops.mlflow_connection``."""

    DOCUMENTATION = r"""
options:
  tracking_uri:
    description:
      - Base URL of the MLflow tracking server, C(http://) or C(https://), without C(/api/...).
    type: str
    required: true
  token:
    description:
      - Bearer token sent as C(Authorization) header, for servers behind an authenticating proxy or route.
      - Mutually exclusive with O(username).
    type: str
  username:
    description:
      - User name of MLflow's basic-auth app (C(mlflow server --app-name basic-auth)), sent with O(password) as
        HTTP basic authentication (as MLflow's clients do with C(MLFLOW_TRACKING_USERNAME)).
    type: str
  password:
    description:
      - Password of O(username).
    type: str
  validate_certs:
    description:
      - Verify the server's TLS certificate. Turn off only for throw-away test servers.
    type: bool
    default: true
  ca_path:
    description:
      - PEM file with the CA bundle that signed the server certificate (for example a cluster's ingress CA).
    type: path
  timeout:
    description:
      - Seconds to wait for each HTTP request.
    type: float
    default: 30
notes:
  - The token and the password are never logged (C(no_log)).
"""
