"""`python -m hf_audit` is `hf-audit-poll` (poll slot included)."""

import sys

from .launch import main

sys.exit(main())
