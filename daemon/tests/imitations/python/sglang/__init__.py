"""Imitation of the sglang package: only `python3 -m sglang.launch_server` (see launch_server)."""
__version__ = "0.5.15"
