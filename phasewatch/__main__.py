import sys

from phasewatch.cli import main

sys.exit(main())
