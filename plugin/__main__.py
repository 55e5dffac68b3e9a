"""`python -m hf_audit` is `hf-audit-poll`."""

import sys

from .cli import main

sys.exit(main())
