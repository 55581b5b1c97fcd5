"""`python -m keras_quadreg_cli ...` runs the `quadreg` command."""

import sys

from keras_quadreg_cli import main

sys.exit(main())
