"""Imitation of the tensorrt_llm package: what importing it prints, and its version."""
__version__ = "1.2.1"
print(f"[TensorRT-LLM] TensorRT-LLM version: {__version__}")
