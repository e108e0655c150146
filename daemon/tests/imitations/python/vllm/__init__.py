"""Imitation of the vllm package: its version, and `python3 -m vllm.entrypoints.cli.main serve`
(see bin/vllm, which does the work)."""
__version__ = "0.20.1"
