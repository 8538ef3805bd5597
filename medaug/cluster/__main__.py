"""``python -m medaug.cluster run ...``, the same as ``medaug cluster run ...``."""

import sys

from medaug.cluster.cli import main

sys.exit(main())
