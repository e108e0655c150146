"""Imitation of `python3 -m vllm.entrypoints.cli.main`: the same as the `vllm` console script."""
import os
import runpy
import sys

if __name__ == "__main__":
    sys.argv = ["vllm"] + sys.argv[1:]
    here = os.path.dirname(os.path.abspath(__file__))
    runpy.run_path(os.path.join(here, "..", "..", "..", "..", "bin", "vllm"), run_name="__main__")
