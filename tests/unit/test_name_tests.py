"""The collection's name tests (plugins/test/names.py): what a registered model or experiment may be called."""

import pytest
from ansible_collections.fraud_demo.mlops.plugins.test import names
from ansible_collections.fraud_demo.mlops.plugins.test.names import mlflow_name


@pytest.mark.parametrize("name", ["DNN-credit-card-fraud", "fraud.v2", "my_model", "a", "9lives", "x" * 256])
def test_names_the_demo_takes(name: str) -> None:
    assert mlflow_name(name)


@pytest.mark.parametrize("name", ["", " ", "my model", "fraud?", "fraud#1", "a/b", "-leading", ".hidden", "x" * 257,
                                  "caf\u00e9", "trailing\n", None, 42, ["DNN"]])
def test_names_refused(name: object) -> None:
    assert not mlflow_name(name)


def test_registered_as_a_jinja_test() -> None:
    assert names.TestModule().tests()["mlflow_name"] is mlflow_name
