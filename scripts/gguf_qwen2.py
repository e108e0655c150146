#!/usr/bin/env python3
"""Write a GGUF of architecture `qwen2` with seeded random weights.

The tokenizer is the real Qwen2 one: every `tokenizer.*` key is copied byte for byte from a
vocab-only GGUF (llama.cpp ships `models/ggml-vocab-qwen2.gguf`). Norms and biases are f32,
matrices f16, embeddings tied (no `output.weight`). Tensors are generated and written one at a
time, so even the Qwen2.5-3B shape (about 6 GB) needs only about one tensor's worth of RAM.

usage:
  gguf_qwen2.py VOCAB_GGUF OUT.gguf [--layers 2 --hidden 128 --heads 4 --kv-heads 2
                                     --ffn 384 --ctx 32768 --seed 0] [--dry-run]

Qwen2.5-3B-Instruct shape: --layers 36 --hidden 2048 --heads 16 --kv-heads 2 --ffn 11008.
Needs the PyPI packages `gguf` and `numpy`.
"""
import argparse
import os
import sys
import time

import numpy as np
from gguf import GGUFReader, GGUFValueType, GGUFWriter

ARCH = "qwen2"
WEIGHT_STD = 0.02  # like the usual init; keeps activations and logits small and finite
BIAS_STD = 0.02


def log(msg):
    print(f"gguf_qwen2: {msg}", file=sys.stderr, flush=True)


def read_tokenizer_kv(vocab_path):
    """All tokenizer.* keys of the vocab GGUF as (key, value, type, sub_type), raw bytes for
    strings so that the copy is verbatim."""
    reader = GGUFReader(vocab_path)
    out = []
    n_vocab = None
    for key, field in reader.fields.items():
        if not key.startswith("tokenizer."):
            continue
        vtype = field.types[0]
        if vtype == GGUFValueType.ARRAY:
            sub = field.types[-1]
            if len(field.types) != 2:
                raise SystemExit(f"{key}: nested arrays are not supported")
            if sub == GGUFValueType.STRING:
                val = [bytes(field.parts[i]) for i in field.data]
            else:
                val = [field.parts[i].tolist()[0] for i in field.data]
            if key == "tokenizer.ggml.tokens":
                n_vocab = len(val)
            out.append((key, val, vtype, sub))
        elif vtype == GGUFValueType.STRING:
            out.append((key, bytes(field.parts[field.data[0]]), vtype, None))
        else:
            out.append((key, field.parts[field.data[0]].tolist()[0], vtype, None))
    if n_vocab is None:
        raise SystemExit(f"{vocab_path}: no tokenizer.ggml.tokens")
    return out, n_vocab


def tensor_plan(a, n_vocab):
    """(name, numpy shape, dtype, kind) in file order. numpy shapes are ggml's reversed:
    a matrix that maps hidden -> kv_dim is (kv_dim, hidden)."""
    head_dim = a.hidden // a.heads
    q_dim = a.heads * head_dim
    kv_dim = a.kv_heads * head_dim
    f16, f32 = np.float16, np.float32
    plan = [("token_embd.weight", (n_vocab, a.hidden), f16, "w")]
    for i in range(a.layers):
        b = f"blk.{i}."
        plan += [
            (b + "attn_norm.weight", (a.hidden,), f32, "norm"),
            (b + "attn_q.weight", (q_dim, a.hidden), f16, "w"),
            (b + "attn_q.bias", (q_dim,), f32, "bias"),
            (b + "attn_k.weight", (kv_dim, a.hidden), f16, "w"),
            (b + "attn_k.bias", (kv_dim,), f32, "bias"),
            (b + "attn_v.weight", (kv_dim, a.hidden), f16, "w"),
            (b + "attn_v.bias", (kv_dim,), f32, "bias"),
            (b + "attn_output.weight", (a.hidden, q_dim), f16, "w"),
            (b + "ffn_norm.weight", (a.hidden,), f32, "norm"),
            (b + "ffn_gate.weight", (a.ffn, a.hidden), f16, "w"),
            (b + "ffn_up.weight", (a.ffn, a.hidden), f16, "w"),
            (b + "ffn_down.weight", (a.hidden, a.ffn), f16, "w"),
        ]
    plan.append(("output_norm.weight", (a.hidden,), f32, "norm"))
    return plan


def make_tensor(rng, shape, dtype, kind):
    if kind == "norm":
        return np.ones(shape, dtype=dtype)
    std = WEIGHT_STD if kind == "w" else BIAS_STD
    # generate row blocks so that the f32 temporary of a big matrix stays bounded
    out = np.empty(shape, dtype=dtype)
    flat = out.reshape(-1)
    step = 1 << 24
    for lo in range(0, flat.size, step):
        hi = min(flat.size, lo + step)
        chunk = rng.standard_normal(hi - lo, dtype=np.float32)
        chunk *= std
        flat[lo:hi] = chunk
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("vocab_gguf")
    p.add_argument("out_gguf")
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--hidden", type=int, default=128)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--kv-heads", type=int, default=2)
    p.add_argument("--ffn", type=int, default=384)
    p.add_argument("--ctx", type=int, default=32768)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--rope-theta", type=float, default=1e6)
    p.add_argument("--rms-eps", type=float, default=1e-6)
    p.add_argument("--name", default=None, help="general.name (default: from the shape)")
    p.add_argument("--dry-run", action="store_true",
                   help="print the tensor plan and size, write nothing")
    a = p.parse_args()

    if a.hidden % a.heads or a.heads % a.kv_heads:
        raise SystemExit("hidden must be a multiple of heads, heads a multiple of kv-heads")
    for k in ("layers", "hidden", "heads", "kv_heads", "ffn", "ctx"):
        if getattr(a, k) <= 0:
            raise SystemExit(f"--{k.replace('_', '-')} must be positive")

    t0 = time.monotonic()
    tok_kv, n_vocab = read_tokenizer_kv(a.vocab_gguf)
    plan = tensor_plan(a, n_vocab)
    n_params = sum(int(np.prod(s)) for _, s, _, _ in plan)
    n_bytes = sum(int(np.prod(s)) * np.dtype(d).itemsize for _, s, d, _ in plan)
    name = a.name or f"qwen2-random-{a.layers}l-{a.hidden}h"
    log(f"{name}: vocab {n_vocab}, {a.layers} layers, hidden {a.hidden}, heads {a.heads}/"
        f"{a.kv_heads} (head_dim {a.hidden // a.heads}), ffn {a.ffn}: {len(plan)} tensors, "
        f"{n_params / 1e6:.1f} M params, {n_bytes / 1e6:.1f} MB of tensor data")
    if a.dry_run:
        for tname, shape, dtype, _ in plan[:14] + plan[-1:]:
            print(f"{tname:28s} {str(shape):18s} {np.dtype(dtype).name}")
        return

    tmp = a.out_gguf + f".tmp.{os.getpid()}"
    try:
        w = GGUFWriter(tmp, ARCH)
        w.add_name(name)
        w.add_file_type(1)  # LLAMA_FTYPE_MOSTLY_F16
        w.add_context_length(a.ctx)
        w.add_embedding_length(a.hidden)
        w.add_block_count(a.layers)
        w.add_feed_forward_length(a.ffn)
        w.add_head_count(a.heads)
        w.add_head_count_kv(a.kv_heads)
        w.add_rope_freq_base(a.rope_theta)
        w.add_layer_norm_rms_eps(a.rms_eps)
        for key, val, vtype, sub in tok_kv:
            w.add_key_value(key, val, vtype, sub_type=sub)
        w.add_quantization_version(2)

        for tname, shape, dtype, _ in plan:
            nbytes = int(np.prod(shape)) * np.dtype(dtype).itemsize
            w.add_tensor_info(tname, shape, np.dtype(dtype), nbytes)
        w.write_header_to_file()
        w.write_kv_data_to_file()
        w.write_ti_data_to_file()
        rng = np.random.default_rng(a.seed)
        for tname, shape, dtype, kind in plan:
            t = make_tensor(rng, shape, dtype, kind)
            if not np.isfinite(t).all():
                raise SystemExit(f"{tname}: non-finite values")
            w.write_tensor_data(t)
        w.close()
        os.replace(tmp, a.out_gguf)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    log(f"wrote {a.out_gguf} ({os.path.getsize(a.out_gguf) / 1e6:.1f} MB) "
        f"in {time.monotonic() - t0:.1f} s")


if __name__ == "__main__":
    main()
