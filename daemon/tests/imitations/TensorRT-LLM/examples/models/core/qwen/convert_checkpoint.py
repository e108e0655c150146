"""Imitation of TensorRT-LLM's examples/models/core/qwen/convert_checkpoint.py (1.2.x,
ENGINES.md 4.6): an HF checkpoint dir in, config.json + rank{N}.safetensors out."""
import argparse
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.realpath(__file__)), *[".."] * 5, "python"))
import llms_imitation as im  # noqa: E402

p = argparse.ArgumentParser(prog="convert_checkpoint.py")
p.add_argument("--model_dir", required=True)
p.add_argument("--output_dir", default="tllm_checkpoint")
p.add_argument("--dtype", choices=["auto", "float16", "bfloat16", "float32"], default="auto")
p.add_argument("--tp_size", type=im.positive, default=1)
p.add_argument("--pp_size", type=im.positive, default=1)
p.add_argument("--workers", type=im.positive, default=1)
a = p.parse_args()
im.record("convert_checkpoint.py", sys.argv[1:])
hf = json.load(open(os.path.join(im.hf_dir(a.model_dir), "config.json")))
world = a.tp_size * a.pp_size
os.makedirs(a.output_dir, exist_ok=True)
for r in range(world):
    with open(os.path.join(a.output_dir, f"rank{r}.safetensors"), "wb") as f:
        f.write(b"imitation weights\n")
    print(f"converted rank {r} of {world}", flush=True)
with open(os.path.join(a.output_dir, "config.json"), "w") as f:
    json.dump({"architecture": hf.get("architectures", ["Qwen2ForCausalLM"])[0], "dtype": a.dtype,
               "mapping": {"world_size": world, "tp_size": a.tp_size, "pp_size": a.pp_size}}, f)
print(f"Total time of converting checkpoints: 00:00:00", flush=True)
