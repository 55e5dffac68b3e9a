"""hf-audit: poll a Hugging Face organization's audit-log export for Fluent Bit's exec input."""

# The one place the version is written (pyproject.toml reads it); a literal, because looking it up
# in the installed metadata costs 30 ms of every poll's start.
__version__ = "0.1.0"
