"""``python -m mgdn_edge.cli``: the ``mgdn-edge`` command."""

import sys

from mgdn_edge.cli import main

sys.exit(main())
