"""Make our collection importable as ``ansible_collections.fraud_demo.mlops`` for the pure unit tests."""

import sys
from pathlib import Path

COLLECTIONS_DIR = Path(__file__).resolve().parents[2] / "collections"

if str(COLLECTIONS_DIR) not in sys.path:
    sys.path.insert(0, str(COLLECTIONS_DIR))
