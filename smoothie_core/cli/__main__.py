import sys

from smoothie_core.cli import main

sys.exit(main())
