import sys

from initreg.cli import main

sys.exit(main())
