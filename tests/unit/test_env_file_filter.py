"""fraud_demo.mlops.env_file: the secrets files the roles write, read back as the roles expect."""

from ansible_collections.fraud_demo.mlops.plugins.filter.env_file import FilterModule, env_file

TEXT = "# managed by ansible\n\nAWS_ACCESS_KEY_ID=fraudABC\nAWS_SECRET_ACCESS_KEY=a=b=c\nlower=x\nWEED_JWT_SIGNING_KEY=k1\n"


def test_every_upper_case_variable_with_its_whole_value() -> None:
    assert env_file(TEXT) == {"AWS_ACCESS_KEY_ID": "fraudABC", "AWS_SECRET_ACCESS_KEY": "a=b=c", "WEED_JWT_SIGNING_KEY": "k1"}


def test_names_selects_whole_names_only() -> None:
    assert env_file(TEXT, "WEED_JWT_[A-Z_]+") == {"WEED_JWT_SIGNING_KEY": "k1"}
    assert env_file(TEXT, "AWS_ACCESS") == {}


def test_empty_text_and_a_later_line_winning() -> None:
    assert env_file("") == {}
    assert env_file("A=1\nA=2\n") == {"A": "2"}


def test_registered_for_jinja() -> None:
    assert FilterModule().filters()["env_file"] is env_file
