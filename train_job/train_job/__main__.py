"""``python -m train_job``: quiet TensorFlow's C++ start-up notices, then run the command line."""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from .task import main  # noqa: E402  (the variable must be set before TensorFlow loads)

sys.exit(main())
