import sys

from nvr_edge.cli import main

sys.exit(main())
