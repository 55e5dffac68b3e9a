"""hf-audit: poll a Hugging Face organization's audit-log export for Fluent Bit's exec input."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("hf-audit")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+source"
