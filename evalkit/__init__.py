"""evalkit: an evaluation harness for summarizers."""

__version__ = "0.1.0"
