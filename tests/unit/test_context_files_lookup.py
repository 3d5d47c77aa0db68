"""The context_files lookup (image_build's upload of a build context): every regular file once, sorted, binary-safe."""

import base64
import os

import pytest
from ansible.errors import AnsibleLookupError

from ansible_collections.fraud_demo.mlops.plugins.lookup.context_files import context_files

EXCLUDE = r"(^|/)(__pycache__|[^/]*\.egg-info|\.[^/]*)(/|$)|\.py[co]$"  # image_build_exclude_regex's default


def test_reads_every_file_sorted_with_base64_content(tmp_path):
    """Files of all depths, relative paths sorted, dir/name split, bytes exact (also non-UTF-8)."""
    (tmp_path / "pkg" / "sub").mkdir(parents=True)
    (tmp_path / "Containerfile").write_text("FROM scratch\n")
    (tmp_path / "pkg" / "a.py").write_text("x = 1\n")
    (tmp_path / "pkg" / "sub" / "blob.bin").write_bytes(b"\x00\xff\xfe")
    items = context_files(str(tmp_path))
    assert [item["path"] for item in items] == ["Containerfile", "pkg/a.py", "pkg/sub/blob.bin"]
    assert [(item["dir"], item["name"]) for item in items] == [("", "Containerfile"), ("pkg", "a.py"), ("pkg/sub", "blob.bin")]
    assert base64.b64decode(items[2]["content"]) == b"\x00\xff\xfe"
    assert base64.b64decode(items[0]["content"]) == b"FROM scratch\n"


def test_leaves_out_excluded_paths_and_symlinks(tmp_path):
    """Caches, egg-info, hidden entries and compiled files match the role's default; links are not followed."""
    (tmp_path / "__pycache__").mkdir()
    (tmp_path / "__pycache__" / "m.cpython-312.pyc").write_bytes(b"c")
    (tmp_path / "x.egg-info").mkdir()
    (tmp_path / "x.egg-info" / "PKG-INFO").write_text("p")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "HEAD").write_text("h")
    (tmp_path / ".env").write_text("SECRET=1")
    (tmp_path / "m.pyc").write_bytes(b"c")
    (tmp_path / "main.py").write_text("print()\n")
    os.symlink(tmp_path / "main.py", tmp_path / "link.py")
    assert [item["path"] for item in context_files(str(tmp_path), EXCLUDE)] == ["main.py"]


def test_refuses_a_missing_folder(tmp_path):
    """A wrong context folder is an error, not an empty upload."""
    with pytest.raises(AnsibleLookupError, match="is not a folder"):
        context_files(str(tmp_path / "missing"))
