"""``python -m jepa_lab`` (and ``accelerate launch -m jepa_lab``): the command line."""

import sys

from jepa_lab.cli import main

sys.exit(main())
