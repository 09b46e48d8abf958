"""Test-session settings: the suite never reaches the network, so the Hugging Face hub is off
(the README's bare `python -m pytest` then behaves as CI's run with these variables set)."""

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
