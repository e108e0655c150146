#!/usr/bin/env python3
"""Build a Hugging Face `tokenizer.json` + `tokenizer_config.json` for the real Qwen2 tokenizer
from llama.cpp's vocab-only GGUF (`models/ggml-vocab-qwen2.gguf`), laid out like the files of
Qwen2.5-Instruct (byte-level BPE, NFC, the Qwen2 split regex, ChatML chat template), then check
it against llama.cpp's test vectors (`VOCAB_GGUF.inp` / `VOCAB_GGUF.out`) with the `tokenizers`
package. Exits non-zero on any mismatch.

usage: qwen2_tokenizer.py VOCAB_GGUF OUTDIR

Token ids: 0..151642 are BPE tokens; 151643..151645 are <|endoftext|>, <|im_start|>,
<|im_end|>; 151646..151664, which the GGUF names [PADn], get their Qwen2.5 names (<tool_call>,
<|fim_prefix|>, ...) as added tokens, as in Qwen2.5's own tokenizer.json; the remaining [PADn]
ids up to the model's vocab size (151935) stay plain vocab entries (never produced by encoding,
but decodable, since a random-weights model can sample them). So encoding matches Qwen2.5's
tokenizer; it differs from llama.cpp's view of the same GGUF only for text that contains the
literal Qwen2.5 names of 151646..151664 (llama.cpp only knows them as [PADn]). The file uses only what the Rust
`tokenizers` crate reads without onig (fancy-regex handles the look-ahead in the regex).
Needs the PyPI packages `gguf` and `tokenizers` (the latter only for the check).
"""
import json
import os
import sys
import tempfile

from gguf import GGUFReader

# Qwen2's pre-tokenizer split (tokenizer.json of Qwen2/Qwen2.5; llama.cpp's "qwen2" pre-type)
QWEN2_SPLIT_REGEX = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+"
)

# Qwen2.5 names for ids 151646.. (llama.cpp's 2024 Qwen2 vocab has [PADn] there) and whether
# Qwen2.5's tokenizer_config.json marks them special.
QWEN25_ADDED = [
    ("<|object_ref_start|>", True), ("<|object_ref_end|>", True), ("<|box_start|>", True),
    ("<|box_end|>", True), ("<|quad_start|>", True), ("<|quad_end|>", True),
    ("<|vision_start|>", True), ("<|vision_end|>", True), ("<|vision_pad|>", True),
    ("<|image_pad|>", True), ("<|video_pad|>", True), ("<tool_call>", False),
    ("</tool_call>", False), ("<|fim_prefix|>", False), ("<|fim_middle|>", False),
    ("<|fim_suffix|>", False), ("<|fim_pad|>", False), ("<|repo_name|>", False),
    ("<|file_sep|>", False),
]
FIRST_QWEN25_ADDED = 151646

# The chat template of Qwen2.5-Instruct (tokenizer_config.json), tool calls included.
QWEN25_CHAT_TEMPLATE = r"""{%- if tools %}
    {{- '<|im_start|>system\n' }}
    {%- if messages[0]['role'] == 'system' %}
        {{- messages[0]['content'] }}
    {%- else %}
        {{- 'You are Qwen, created by Alibaba Cloud. You are a helpful assistant.' }}
    {%- endif %}
    {{- "\n\n# Tools\n\nYou may call one or more functions to assist with the user query.\n\nYou are provided with function signatures within <tools></tools> XML tags:\n<tools>" }}
    {%- for tool in tools %}
        {{- "\n" }}
        {{- tool | tojson }}
    {%- endfor %}
    {{- "\n</tools>\n\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\n<tool_call>\n{\"name\": <function-name>, \"arguments\": <args-json-object>}\n</tool_call><|im_end|>\n" }}
{%- else %}
    {%- if messages[0]['role'] == 'system' %}
        {{- '<|im_start|>system\n' + messages[0]['content'] + '<|im_end|>\n' }}
    {%- else %}
        {{- '<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n' }}
    {%- endif %}
{%- endif %}
{%- for message in messages %}
    {%- if (message.role == "user") or (message.role == "system" and not loop.first) or (message.role == "assistant" and not message.tool_calls) %}
        {{- '<|im_start|>' + message.role + '\n' + message.content + '<|im_end|>' + '\n' }}
    {%- elif message.role == "assistant" %}
        {{- '<|im_start|>' + message.role }}
        {%- if message.content %}
            {{- '\n' + message.content }}
        {%- endif %}
        {%- for tool_call in message.tool_calls %}
            {%- if tool_call.function is defined %}
                {%- set tool_call = tool_call.function %}
            {%- endif %}
            {{- '\n<tool_call>\n{"name": "' }}
            {{- tool_call.name }}
            {{- '", "arguments": ' }}
            {{- tool_call.arguments | tojson }}
            {{- '}\n</tool_call>' }}
        {%- endfor %}
        {{- '<|im_end|>\n' }}
    {%- elif message.role == "tool" %}
        {%- if (loop.index0 == 0) or (messages[loop.index0 - 1].role != "tool") %}
            {{- '<|im_start|>user' }}
        {%- endif %}
        {{- '\n<tool_response>\n' }}
        {{- message.content }}
        {{- '\n</tool_response>' }}
        {%- if loop.last or (messages[loop.index0 + 1].role != "tool") %}
            {{- '<|im_end|>\n' }}
        {%- endif %}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|im_start|>assistant\n' }}
{%- endif %}
"""

# llama.cpp token types (llama_token_type)
TT_NORMAL, TT_CONTROL, TT_USER_DEFINED = 1, 3, 4


def die(msg):
    print(f"qwen2_tokenizer: ERROR: {msg}", file=sys.stderr, flush=True)
    sys.exit(1)


def log(msg):
    print(f"qwen2_tokenizer: {msg}", file=sys.stderr, flush=True)


def field(reader, key):
    f = reader.fields.get(key)
    if f is None:
        die(f"{key} missing from the vocab GGUF")
    return f


def read_vocab(path):
    r = GGUFReader(path)
    model = bytes(field(r, "tokenizer.ggml.model").parts[-1]).decode()
    pre = bytes(field(r, "tokenizer.ggml.pre").parts[-1]).decode()
    if model != "gpt2" or pre != "qwen2":
        die(f"expected tokenizer model gpt2 / pre qwen2, got {model} / {pre}")
    f = field(r, "tokenizer.ggml.tokens")
    tokens = [bytes(f.parts[i]).decode("utf-8") for i in f.data]
    f = field(r, "tokenizer.ggml.token_type")
    types = [int(f.parts[i][0]) for i in f.data]
    f = field(r, "tokenizer.ggml.merges")
    merges = [bytes(f.parts[i]).decode("utf-8") for i in f.data]
    if len(types) != len(tokens):
        die("token and token_type arrays differ in length")
    return tokens, types, merges


def build(tokens, types, merges):
    # The model vocab holds every id 0..n-1, added tokens included: `tokenizers` gives an
    # added token that is missing from the model vocab the id model_vocab_size + k, whatever
    # id the file says, so the ids must be dense for the file's ids to be the real ones.
    vocab = {}
    added = []
    for tid, (tok, tt) in enumerate(zip(tokens, types)):
        if FIRST_QWEN25_ADDED <= tid < FIRST_QWEN25_ADDED + len(QWEN25_ADDED):
            if tok != f"[PAD{tid}]" or tt != TT_USER_DEFINED:
                die(f"id {tid}: expected user-defined [PAD{tid}], got {tok!r} type {tt}")
            tok, special = QWEN25_ADDED[tid - FIRST_QWEN25_ADDED]
            added.append((tid, tok, special))
        elif tt == TT_CONTROL:
            added.append((tid, tok, True))
        elif not (tt == TT_NORMAL or (tt == TT_USER_DEFINED and tok == f"[PAD{tid}]")):
            die(f"id {tid}: unexpected token type {tt} for {tok!r}")
        if tok in vocab:
            die(f"duplicate token {tok!r} (ids {vocab[tok]} and {tid})")
        vocab[tok] = tid
    names = [a[1] for a in added]
    if [a[0] for a in added[:3]] != [151643, 151644, 151645] or \
            names[:3] != ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]:
        die(f"unexpected control tokens: {added[:3]}")
    for m in merges:
        parts = m.split(" ")
        if len(parts) != 2 or parts[0] + parts[1] not in vocab:
            die(f"bad merge {m!r}")

    byte_level = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False,
                  "use_regex": False}
    tj = {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [
            {"id": tid, "content": name, "single_word": False, "lstrip": False,
             "rstrip": False, "normalized": False, "special": special}
            for tid, name, special in added
        ],
        "normalizer": {"type": "NFC"},
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": QWEN2_SPLIT_REGEX},
             "behavior": "Isolated", "invert": False},
            byte_level,
        ]},
        "post_processor": dict(byte_level),
        "decoder": dict(byte_level),
        "model": {
            "type": "BPE", "dropout": None, "unk_token": None,
            "continuing_subword_prefix": "", "end_of_word_suffix": "",
            "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
            "vocab": vocab,
            "merges": merges,
        },
    }
    tc = {
        "add_bos_token": False,
        "add_prefix_space": False,
        "added_tokens_decoder": {
            str(tid): {"content": name, "lstrip": False, "normalized": False,
                       "rstrip": False, "single_word": False, "special": special}
            for tid, name, special in added
        },
        "additional_special_tokens": [n for _, n, s in added if s and n != "<|endoftext|>"],
        "bos_token": None,
        "chat_template": QWEN25_CHAT_TEMPLATE,
        "clean_up_tokenization_spaces": False,
        "eos_token": "<|im_end|>",
        "errors": "replace",
        "model_max_length": 131072,
        "pad_token": "<|endoftext|>",
        "split_special_tokens": False,
        "tokenizer_class": "Qwen2Tokenizer",
        "unk_token": None,
    }
    return tj, tc


def read_test_vectors(gguf_path):
    """Same parsing as llama.cpp's tests/test-tokenizer-0.cpp."""
    sep = "\n__ggml_vocab_test__\n"
    with open(gguf_path + ".inp", encoding="utf-8", newline="") as f:
        raw = f.read()
    inputs, pos = [], 0
    while pos < len(raw):
        nxt = raw.find(sep, pos)
        if nxt < 0:
            inputs.append(raw[pos:])
            break
        inputs.append(raw[pos:nxt])
        pos = nxt + len(sep)
    with open(gguf_path + ".out", encoding="utf-8", newline="") as f:
        outputs = [[int(x) for x in line.split()] for line in f.read().split("\n")[:len(inputs)]]
    if len(inputs) != len(outputs) or not inputs:
        die(f"test vectors: {len(inputs)} inputs but {len(outputs)} outputs")
    return list(zip(inputs, outputs))


def verify(tj_path, gguf_path, n_vocab):
    try:
        from tokenizers import Tokenizer
    except ImportError:
        die("the `tokenizers` package is needed to check the result")
    tok = Tokenizer.from_file(tj_path)
    bad = 0
    vectors = read_test_vectors(gguf_path)
    for text, want in vectors:
        got = tok.encode(text, add_special_tokens=False).ids
        if got != want:
            bad += 1
            log(f"MISMATCH {text[:60]!r}: got {got[:16]} want {want[:16]}")
    log(f"test vectors: {len(vectors) - bad} ok, {bad} mismatched")
    if bad:
        die(f"{bad} of {len(vectors)} test vectors mismatched")
    checks = [
        ("<|im_start|>user\nhi<|im_end|>\n", [151644, 872, 198, 6023, 151645, 198]),
        ("<tool_call>x", [151657, 87]),
        ("<|endoftext|>", [151643]),
    ]
    for text, want in checks:
        got = tok.encode(text, add_special_tokens=False).ids
        if got != want:
            die(f"special-token check {text!r}: got {got}, want {want}")
    if tok.get_vocab_size(with_added_tokens=True) != n_vocab:
        die(f"vocab size {tok.get_vocab_size(with_added_tokens=True)} != {n_vocab}")
    sample = "Hello world! 12345 héllo 🦙 \n\n  x"
    if tok.decode(tok.encode(sample).ids, skip_special_tokens=False) != sample:
        die("decode(encode(x)) != x")
    log(f"checks ok: specials, vocab size {n_vocab}, round trip; "
        f"'hello world' -> {tok.encode('hello world', add_special_tokens=False).ids}")


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    gguf_path, outdir = sys.argv[1], sys.argv[2]
    tokens, types, merges = read_vocab(gguf_path)
    tj, tc = build(tokens, types, merges)
    os.makedirs(outdir, exist_ok=True)
    # write to temp names, check, then rename: a half-written file never has the final name
    paths = {}
    for name, obj in (("tokenizer.json", tj), ("tokenizer_config.json", tc)):
        fd, tmp = tempfile.mkstemp(prefix=name + ".", suffix=".tmp", dir=outdir)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(obj, f, ensure_ascii=False, indent=2)
            f.write("\n")
        os.chmod(tmp, 0o644)
        paths[name] = tmp
    try:
        verify(paths["tokenizer.json"], gguf_path, len(tokens))
        for name, tmp in paths.items():
            os.replace(tmp, os.path.join(outdir, name))
    finally:
        for tmp in paths.values():
            if os.path.exists(tmp):
                os.unlink(tmp)
    log(f"wrote {outdir}/tokenizer.json ({len(tj['model']['vocab'])} vocab entries, "
        f"{len(tj['added_tokens'])} of them added tokens, {len(merges)} merges) "
        f"and tokenizer_config.json")


if __name__ == "__main__":
    main()
