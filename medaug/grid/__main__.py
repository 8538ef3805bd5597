"""``python -m medaug.grid run ...``, the same as ``medaug grid run ...``."""

import sys

from medaug.grid.cli import main

sys.exit(main())
