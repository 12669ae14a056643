#!/usr/bin/env python3
"""Export a diem test model (F32 safetensors, Llama layout) to llama2.c's legacy checkpoint format.

For benchmarks only: llama2.c's run.c then runs the same shapes and the same number of FLOPs per
token. The RoPE layouts differ (Hugging Face rotates halves, run.c interleaves pairs), so the two
programs do not produce the same tokens; speed is what is compared. Needs numpy.

    export-llama2c.py MODEL_DIR OUT_DIR   ->  OUT_DIR/model.bin, OUT_DIR/tokenizer.bin
"""
import json
import struct
import sys
from pathlib import Path

import numpy as np


def read_safetensors(path):
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    base = 8 + n
    tensors = {}
    for name, meta in header.items():
        if name == "__metadata__":
            continue
        if meta["dtype"] != "F32":
            sys.exit(f"{path}: tensor {name} is {meta['dtype']}; export needs F32 (make-test --preset small)")
        begin, end = meta["data_offsets"]
        tensors[name] = np.frombuffer(raw, dtype="<f4", count=(end - begin) // 4, offset=base + begin).reshape(meta["shape"])
    return tensors


def main(model_dir, out_dir):
    model_dir, out_dir = Path(model_dir), Path(out_dir)
    cfg = json.loads((model_dir / "config.json").read_text())
    t = read_safetensors(model_dir / "model.safetensors")
    dim, hidden, layers = cfg["hidden_size"], cfg["intermediate_size"], cfg["num_hidden_layers"]
    heads, kv_heads, vocab = cfg["num_attention_heads"], cfg["num_key_value_heads"], cfg["vocab_size"]
    seq_len = cfg["max_position_embeddings"]
    head_size = dim // heads
    shared = cfg.get("tie_word_embeddings", False)
    out_dir.mkdir(parents=True, exist_ok=True)
    L = lambda i, n: t[f"model.layers.{i}.{n}"]
    with open(out_dir / "model.bin", "wb") as f:
        f.write(struct.pack("<7i", dim, hidden, layers, heads, kv_heads, vocab if shared else -vocab, seq_len))
        parts = [t["model.embed_tokens.weight"]]
        parts += [L(i, "input_layernorm.weight") for i in range(layers)]
        for name in ("q_proj", "k_proj", "v_proj", "o_proj"):
            parts += [L(i, f"self_attn.{name}.weight") for i in range(layers)]
        parts += [L(i, "post_attention_layernorm.weight") for i in range(layers)]
        # run.c: w1 = gate, w2 = down, w3 = up
        parts += [L(i, "mlp.gate_proj.weight") for i in range(layers)]
        parts += [L(i, "mlp.down_proj.weight") for i in range(layers)]
        parts += [L(i, "mlp.up_proj.weight") for i in range(layers)]
        parts.append(t["model.norm.weight"])
        parts.append(np.zeros(seq_len * head_size, dtype="<f4"))  # the unused freq_cis tables
        if not shared:
            parts.append(t["lm_head.weight"])
        for p in parts:
            f.write(np.ascontiguousarray(p, dtype="<f4").tobytes())
    tok = json.loads((model_dir / "tokenizer.json").read_text())
    pieces = [b"?"] * vocab
    for token, i in tok["model"]["vocab"].items():
        pieces[i] = token.encode("utf-8") or b"?"
    for added in tok.get("added_tokens", []):
        pieces[added["id"]] = added["content"].encode("utf-8")
    with open(out_dir / "tokenizer.bin", "wb") as f:
        f.write(struct.pack("<i", max(len(p) for p in pieces)))
        for p in pieces:
            f.write(struct.pack("<fi", 0.0, len(p)))
            f.write(p)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
