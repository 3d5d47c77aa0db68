"""Entry point: ``python -m fraud_model_server``."""

from .cli import main

raise SystemExit(main())
