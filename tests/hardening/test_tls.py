"""TLS verification is on by default; turning it off takes an explicit, documented variable and prints a warning
(issue 8). A CA bundle is the way to trust a private CA (accepted in test_bad_inventory's local control run)."""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from test_bad_inventory import REPO, processes_under, run

WARNING = "WARNING: fraud_demo_validate_certs is false"


def test_turning_verification_off_prints_a_warning(tmp_path: Path) -> None:
    rc, output = run(tmp_path, "local", "playbooks/preflight.yml", {"fraud_demo_validate_certs": False})
    assert rc == 0, output[-4000:]
    assert WARNING in output
    assert "fraud_demo_ca_bundle" in output[output.index(WARNING):][:400], "the warning names the way to trust a CA"
    assert not processes_under(tmp_path)


def test_both_inventories_verify_by_default() -> None:
    for inventory in ("local", "openshift"):
        values = yaml.safe_load((REPO / "inventories" / inventory / "group_vars/all/main.yml").read_text())
        assert values["fraud_demo_validate_certs"] is True, inventory
        assert values["fraud_demo_ca_bundle"] == "", inventory


def test_no_role_or_playbook_turns_verification_off() -> None:
    off = re.compile(r"validate_certs:\s*(false|no)\b|verify\s*=\s*False", re.I)
    hits = [f"{path.relative_to(REPO)}:{number}"
            for top in ("roles", "playbooks", "inventories", "collections")
            for path in (REPO / top).rglob("*") if path.is_file() and path.suffix in {".yml", ".yaml", ".j2", ".py"}
            for number, line in enumerate(path.read_text(errors="replace").splitlines(), start=1)
            if off.search(line) and not line.lstrip().startswith("#")]
    assert not hits


def test_the_switch_and_the_ca_bundle_are_documented() -> None:
    readme = (REPO / "README.md").read_text()
    for needle in ("fraud_demo_validate_certs=false", "fraud_demo_ca_bundle", "WARNING"):
        assert needle in readme, needle
    assert "WARNING" in (REPO / "roles/preflight/README.md").read_text()
