#!/usr/bin/env python3
"""Independent numpy reference forward pass for tlmbench golden logits.

Reads a GGUF file with gguf.GGUFReader, dequantizes every tensor with
gguf.quants.dequantize and runs a float64 forward pass (weights are the exact
fp32 dequantized values, activations are kept in fp64).  No KV cache, no
fused kernels: the whole token sequence is processed at once with an explicit
causal (and sliding-window) mask, so the result is a straightforward
"textbook" evaluation of the quantized model.

Supported architectures (facts verified against llama.cpp dc02e1f83):

gemma3 (Gemma 3, e.g. 270M)
  * x0 = token_embd[ids] * sqrt(n_embd)
  * per layer: RMSNorm(attn_norm) -> q,k,v -> per-head RMSNorm(attn_q_norm /
    attn_k_norm) -> RoPE NEOX (rotate halves, dims i and i + d/2) ->
    q *= 1/sqrt(key_length) -> causal GQA softmax attention -> attn_output ->
    RMSNorm(post_attention_norm) -> residual; RMSNorm(ffn_norm) ->
    gelu_tanh(gate) * up -> down -> RMSNorm(post_ffw_norm) -> residual.
  * layer il is global iff il % pattern == pattern-1 (pattern =
    gemma3.attention.sliding_window_pattern, default 6); other layers are
    sliding-window: key k visible to query q iff 0 <= q - k < sliding_window.
  * RoPE base: gemma3.rope.freq_base (1e6) for global layers,
    gemma3.rope.freq_base_swa (default 10000) for sliding layers.
  * norm weights: llama.cpp's converter already adds Gemma's "+1" to every
    *norm.weight when writing the GGUF (conversion/gemma.py norm_shift), and
    llama.cpp multiplies by the stored weight as-is.  So we use w, not (1+w).
  * final RMSNorm(output_norm), output = token_embd (tied) unless
    output.weight exists; optional final_logit_softcapping.

llama (e.g. SmolLM2)
  * RMSNorm, GQA, RoPE NORMAL (adjacent pairs 2i, 2i+1) with
    llama.rope.freq_base, scale 1/sqrt(head_dim), SwiGLU (silu(gate)*up),
    tied output if output.weight absent.  Q/K weights in the GGUF are already
    permuted by the converter for the NORMAL rope, used as stored.

Usage:
  reference_forward.py info   --model M.gguf
  reference_forward.py logits --model M.gguf --ids 1,2,3 [--top 5]
  reference_forward.py greedy --model M.gguf --ids 1,2,3 --n 32
  reference_forward.py golden --model M.gguf --tokens tokens.json --out out.json
       [--greedy-ids 1,2,3 --greedy-n 32] [--command "..."]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import sys
import time

import numpy as np
import gguf
from gguf import GGUFReader
from gguf.quants import dequantize

SCRIPT_VERSION = "1.0.0"
N_SAMPLE_IDS = 512
SAMPLE_SEED = 20240611
TOPK = 16
FULL_MAX = 256     # prompts up to this many tokens store every position
LONG_TAIL = 128    # longer prompts: the last LONG_TAIL positions + every 32nd
DTYPE = np.float64


# --------------------------------------------------------------------------
# GGUF loading
# --------------------------------------------------------------------------

def _field(reader: GGUFReader, key: str, default=None):
    f = reader.fields.get(key)
    if f is None:
        return default
    return f.contents()


class Model:
    def __init__(self, path: str):
        self.path = path
        self.reader = GGUFReader(path)
        r = self.reader
        self.arch = _field(r, "general.architecture")
        a = self.arch
        self.n_embd = int(_field(r, f"{a}.embedding_length"))
        self.n_layer = int(_field(r, f"{a}.block_count"))
        self.n_head = int(_field(r, f"{a}.attention.head_count"))
        self.n_head_kv = int(_field(r, f"{a}.attention.head_count_kv", self.n_head))
        self.head_dim_k = int(_field(r, f"{a}.attention.key_length", self.n_embd // self.n_head))
        self.head_dim_v = int(_field(r, f"{a}.attention.value_length", self.head_dim_k))
        self.n_rot = int(_field(r, f"{a}.rope.dimension_count", self.head_dim_k))
        self.eps = float(_field(r, f"{a}.attention.layer_norm_rms_epsilon"))
        self.rope_base = float(_field(r, f"{a}.rope.freq_base", 10000.0))
        self.tokens = [t for t in _field(r, "tokenizer.ggml.tokens")]
        self.token_type = _field(r, "tokenizer.ggml.token_type")
        self.tok_model = _field(r, "tokenizer.ggml.model")
        self.bos_id = _field(r, "tokenizer.ggml.bos_token_id")
        self.eos_id = _field(r, "tokenizer.ggml.eos_token_id")
        self.softcap = float(_field(r, f"{a}.final_logit_softcapping", 0.0) or 0.0)

        if a == "gemma3":
            self.n_swa = int(_field(r, f"{a}.attention.sliding_window", 0) or 0)
            pat = _field(r, f"{a}.attention.sliding_window_pattern", 6)
            if isinstance(pat, list):  # per-layer bool array variant
                self.is_swa = [bool(x) for x in pat]
            else:
                pat = int(pat)
                self.is_swa = [self.n_swa > 0 and (pat == 0 or il % pat < pat - 1)
                               for il in range(self.n_layer)]
            self.rope_base_swa = float(_field(r, f"{a}.rope.freq_base_swa", 10000.0))
            self.attn_scale = 1.0 / math.sqrt(self.head_dim_k)
            if self.n_layer == 62:  # 27B uses n_embd/n_head (query_pre_attn_scalar)
                self.attn_scale = 1.0 / math.sqrt(self.n_embd / self.n_head)
            self.rope_neox = True
        elif a == "llama":
            self.n_swa = 0
            self.is_swa = [False] * self.n_layer
            self.rope_base_swa = self.rope_base
            self.attn_scale = 1.0 / math.sqrt(self.head_dim_k)
            self.rope_neox = False
        else:
            raise SystemExit(f"unsupported architecture {a!r}")

        self._tensors = {t.name: t for t in r.tensors}
        self._cache: dict[str, np.ndarray] = {}
        self.n_vocab = int(self._tensors["token_embd.weight"].shape[1])

    def has(self, name: str) -> bool:
        return name in self._tensors

    def w(self, name: str) -> np.ndarray:
        """Dequantized tensor in numpy (row-major) layout: [ne1, ne0]."""
        if name not in self._cache:
            t = self._tensors[name]
            arr = dequantize(t.data, t.tensor_type)
            arr = np.asarray(arr, dtype=np.float32)  # exact dequantized fp32 values
            self._cache[name] = arr.astype(DTYPE)
        return self._cache[name]


# --------------------------------------------------------------------------
# math helpers
# --------------------------------------------------------------------------

def rms_norm(x: np.ndarray, w: np.ndarray | None, eps: float) -> np.ndarray:
    y = x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps)
    return y * w if w is not None else y


def gelu_tanh(x: np.ndarray) -> np.ndarray:
    return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))


def silu(x: np.ndarray) -> np.ndarray:
    return x / (1.0 + np.exp(-x))


def rope(x: np.ndarray, pos: np.ndarray, n_rot: int, base: float, neox: bool) -> np.ndarray:
    """x: [T, H, D]. Rotates the first n_rot dims of every head.

    theta_i = pos * base^(-2i/n_rot), i in [0, n_rot/2).
    NORMAL: pairs (2i, 2i+1).  NEOX: pairs (i, i + n_rot/2).
    """
    half = n_rot // 2
    inv = base ** (-np.arange(half, dtype=DTYPE) * 2.0 / n_rot)
    ang = pos.astype(DTYPE)[:, None] * inv[None, :]          # [T, half]
    c = np.cos(ang)[:, None, :]
    s = np.sin(ang)[:, None, :]
    out = x.copy()
    if neox:
        x0 = x[..., :half]
        x1 = x[..., half:n_rot]
        out[..., :half] = x0 * c - x1 * s
        out[..., half:n_rot] = x0 * s + x1 * c
    else:
        x0 = x[..., 0:n_rot:2]
        x1 = x[..., 1:n_rot:2]
        out[..., 0:n_rot:2] = x0 * c - x1 * s
        out[..., 1:n_rot:2] = x0 * s + x1 * c
    return out


def attention(q, k, v, scale, n_swa):
    """q: [T, H, D], k/v: [T, Hkv, D] -> [T, H*Dv]; causal (+ sliding window)."""
    T, H, _ = q.shape
    Hkv = k.shape[1]
    g = H // Hkv
    qp = np.arange(T)[:, None]
    kp = np.arange(T)[None, :]
    diff = qp - kp
    visible = diff >= 0
    if n_swa > 0:
        visible &= diff < n_swa
    out = np.empty((T, H, v.shape[2]), dtype=DTYPE)
    for h in range(H):
        kh = k[:, h // g, :]
        vh = v[:, h // g, :]
        s = (q[:, h, :] * scale) @ kh.T                         # [T, T]
        s = np.where(visible, s, -np.inf)
        s = s - s.max(axis=-1, keepdims=True)
        p = np.exp(s)
        p /= p.sum(axis=-1, keepdims=True)
        out[:, h, :] = p @ vh
    return out.reshape(T, H * v.shape[2])


# --------------------------------------------------------------------------
# forward
# --------------------------------------------------------------------------

def forward(m: Model, ids: list[int], last_only: bool = False) -> np.ndarray:
    """Returns logits [T, n_vocab] (or [1, n_vocab] if last_only) as float64."""
    ids_a = np.asarray(ids, dtype=np.int64)
    T = len(ids_a)
    pos = np.arange(T)
    emb = m.w("token_embd.weight")
    x = emb[ids_a].copy()
    if m.arch == "gemma3":
        x *= np.float32(math.sqrt(m.n_embd))  # llama.cpp: ggml_scale(sqrtf(n_embd))

    for il in range(m.n_layer):
        p = f"blk.{il}."
        h = rms_norm(x, m.w(p + "attn_norm.weight"), m.eps)
        q = (h @ m.w(p + "attn_q.weight").T).reshape(T, m.n_head, m.head_dim_k)
        k = (h @ m.w(p + "attn_k.weight").T).reshape(T, m.n_head_kv, m.head_dim_k)
        v = (h @ m.w(p + "attn_v.weight").T).reshape(T, m.n_head_kv, m.head_dim_v)
        if m.arch == "gemma3":
            q = rms_norm(q, m.w(p + "attn_q_norm.weight"), m.eps)
            k = rms_norm(k, m.w(p + "attn_k_norm.weight"), m.eps)
        swa = m.is_swa[il]
        base = m.rope_base_swa if swa else m.rope_base
        q = rope(q, pos, m.n_rot, base, m.rope_neox)
        k = rope(k, pos, m.n_rot, base, m.rope_neox)
        a = attention(q, k, v, m.attn_scale, m.n_swa if swa else 0)
        a = a @ m.w(p + "attn_output.weight").T
        if m.arch == "gemma3":
            a = rms_norm(a, m.w(p + "post_attention_norm.weight"), m.eps)
        x = x + a

        h = rms_norm(x, m.w(p + "ffn_norm.weight"), m.eps)
        gate = h @ m.w(p + "ffn_gate.weight").T
        up = h @ m.w(p + "ffn_up.weight").T
        act = gelu_tanh(gate) if m.arch == "gemma3" else silu(gate)
        f = (act * up) @ m.w(p + "ffn_down.weight").T
        if m.arch == "gemma3":
            f = rms_norm(f, m.w(p + "post_ffw_norm.weight"), m.eps)
        x = x + f

    if last_only:
        x = x[-1:]
    x = rms_norm(x, m.w("output_norm.weight"), m.eps)
    out_w = m.w("output.weight") if m.has("output.weight") else emb
    logits = x @ out_w.T
    if m.softcap:
        logits = np.tanh(logits / m.softcap) * m.softcap
    return logits


def greedy(m: Model, ids: list[int], n: int, stop_eos: bool = False):
    ids = list(ids)
    out = []
    margins = []
    for _ in range(n):
        lg = forward(m, ids, last_only=True)[0]
        order = np.argsort(-lg, kind="stable")[:2]
        nxt = int(order[0])
        margins.append(float(lg[order[0]] - lg[order[1]]))
        out.append(nxt)
        ids.append(nxt)
        if stop_eos and nxt == m.eos_id:
            break
    return out, margins


# --------------------------------------------------------------------------
# detokenizer (for human-readable text only)
# --------------------------------------------------------------------------

def _bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + \
        list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {chr(c): b for b, c in zip(bs, cs)}


def detokenize(m: Model, ids: list[int]) -> str:
    buf = bytearray()
    if m.tok_model == "gpt2":
        dec = _bytes_to_unicode()
        for i in ids:
            piece = m.tokens[i]
            if m.token_type[i] in (3, 4):  # control / user-defined: literal text
                buf += piece.encode("utf-8")
            else:
                buf += bytes(dec[ch] for ch in piece)
    else:  # SentencePiece ("llama")
        for i in ids:
            piece = m.tokens[i]
            if m.token_type[i] == 6 and piece.startswith("<0x") and piece.endswith(">"):
                buf.append(int(piece[3:-1], 16))
            else:
                buf += piece.replace("\u2581", " ").encode("utf-8")
    return buf.decode("utf-8", errors="replace")


# --------------------------------------------------------------------------
# golden data
# --------------------------------------------------------------------------

def r5(x: float) -> float:
    return float(f"{float(np.float32(x)):.5g}")


def sha256_file(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def stored_positions(T: int) -> list[int]:
    """Positions whose logits are stored.  Prompts up to FULL_MAX tokens: all of
    them.  Longer prompts (they exist to cover sliding-window attention and
    large RoPE positions): every 32nd position plus the last LONG_TAIL ones."""
    if T <= FULL_MAX:
        return list(range(T))
    tail = T - LONG_TAIL
    return [t for t in range(tail) if t % 32 == 31] + list(range(tail, T))


def sample_ids(n_vocab: int) -> list[int]:
    rng = np.random.default_rng(SAMPLE_SEED)
    return sorted(int(i) for i in rng.choice(n_vocab, size=N_SAMPLE_IDS, replace=False))


def golden(args):
    m = Model(args.model)
    with open(args.tokens) as f:
        prompts = json.load(f)  # [{"name":..., "text":..., "ids":[...]}]
    sids = sample_ids(m.n_vocab)
    sids_a = np.asarray(sids)
    out_prompts = []
    for p in prompts:
        t0 = time.time()
        lg = forward(m, p["ids"])
        positions = []
        for t in stored_positions(lg.shape[0]):
            row = lg[t]
            top = np.argsort(-row, kind="stable")[:TOPK]
            positions.append({
                "pos": int(t),
                "top1": int(top[0]),
                "top_ids": [int(i) for i in top],
                "top_logits": [r5(row[i]) for i in top],
                "sample_logits": [r5(v) for v in row[sids_a]],
            })
        nxt = p["ids"][1:]
        agree = sum(int(a == b) for a, b in zip(lg.argmax(-1)[:-1], nxt))
        print(f"[{m.arch}] {p['name']}: T={len(p['ids'])} forward {time.time()-t0:.1f}s, "
              f"argmax==next-input {agree}/{len(nxt)}, stored {len(positions)} positions",
              file=sys.stderr)
        out_prompts.append({
            "name": p["name"],
            "text": p["text"],
            "ids": [int(i) for i in p["ids"]],
            "positions": positions,
        })

    doc = {
        "format": "tlmbench-golden-logits",
        "format_version": 1,
        "model_file": os.path.basename(args.model),
        "model_sha256": sha256_file(args.model),
        "arch": m.arch,
        "n_vocab": m.n_vocab,
        "generator": {
            "script": "scripts/golden/reference_forward.py",
            "script_version": SCRIPT_VERSION,
            "gguf_version": getattr(gguf, "__version__", None) or _pkg_version("gguf"),
            "numpy_version": np.__version__,
            "precision": "fp64 activations, fp32 dequantized weights (gguf.quants.dequantize)",
            "command": args.command or " ".join(sys.argv),
            "tokenizer": "llama.cpp llama-tokenize -f PROMPT --ids --log-disable --no-escape",
        },
        "hparams": {
            "n_layer": m.n_layer, "n_embd": m.n_embd, "n_head": m.n_head,
            "n_head_kv": m.n_head_kv, "head_dim": m.head_dim_k, "n_rot": m.n_rot,
            "rope_neox": m.rope_neox, "rope_freq_base": m.rope_base,
            "rope_freq_base_swa": m.rope_base_swa, "n_swa": m.n_swa,
            "swa_layers": [il for il in range(m.n_layer) if m.is_swa[il]],
            "attn_scale": m.attn_scale, "rms_eps": m.eps,
            "norm_weights_plus_one_baked": True if m.arch == "gemma3" else None,
        },
        "topk": TOPK,
        "logit_rounding": "float32 value rounded to 5 significant digits",
        "sample_seed": SAMPLE_SEED,
        "sample_ids": sids,
        "prompts": out_prompts,
    }
    if args.greedy_ids:
        gids = [int(x) for x in args.greedy_ids.split(",")]
        gen, margins = greedy(m, gids, args.greedy_n)
        doc["greedy"] = {
            "prompt_text": (open(args.greedy_text_file, encoding="utf-8").read()
                            if args.greedy_text_file else detokenize(m, gids)),
            "prompt_ids": gids,
            "n": args.greedy_n,
            "ids": gen,
            "text": detokenize(m, gen),
            "top1_margins": [r5(x) for x in margins],
        }
        print(f"[{m.arch}] greedy: {gen}\n  {detokenize(m, gen)!r}", file=sys.stderr)
    if args.llamacpp_check:
        with open(args.llamacpp_check) as f:
            doc["llamacpp_check"] = json.load(f)
        lc_ids = doc["llamacpp_check"].get("greedy_llama_cpp_ids")
        if lc_ids is not None and "greedy" in doc:
            g = doc["greedy"]["ids"]
            doc["llamacpp_check"]["greedy_identical"] = lc_ids == g
            print(f"[{m.arch}] llama.cpp greedy identical: {lc_ids == g}", file=sys.stderr)
    with open(args.out, "w") as f:
        json.dump(doc, f, separators=(",", ":"))
        f.write("\n")
    print(f"wrote {args.out} ({os.path.getsize(args.out)} bytes)", file=sys.stderr)


def _pkg_version(name):
    try:
        from importlib.metadata import version
        return version(name)
    except Exception:
        return None


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("info")
    s.add_argument("--model", required=True)
    s = sub.add_parser("logits")
    s.add_argument("--model", required=True)
    s.add_argument("--ids", required=True)
    s.add_argument("--top", type=int, default=5)
    s.add_argument("--npy", help="save full float32 logits [T, n_vocab] here")
    s = sub.add_parser("greedy")
    s.add_argument("--model", required=True)
    s.add_argument("--ids", required=True)
    s.add_argument("--n", type=int, default=32)
    s = sub.add_parser("golden")
    s.add_argument("--model", required=True)
    s.add_argument("--tokens", required=True, help="JSON list of {name,text,ids}")
    s.add_argument("--out", required=True)
    s.add_argument("--greedy-ids")
    s.add_argument("--greedy-text-file", help="prompt text of --greedy-ids (for the record)")
    s.add_argument("--greedy-n", type=int, default=32)
    s.add_argument("--llamacpp-check", help="JSON file with llama.cpp cross-check results to embed")
    s.add_argument("--command", help="command line to record in the output")
    args = ap.parse_args()

    if args.cmd == "golden":
        return golden(args)
    m = Model(args.model)
    if args.cmd == "info":
        print(json.dumps({
            "arch": m.arch, "n_vocab": m.n_vocab, "n_layer": m.n_layer, "n_embd": m.n_embd,
            "n_head": m.n_head, "n_head_kv": m.n_head_kv, "head_dim": m.head_dim_k,
            "n_rot": m.n_rot, "rope_freq_base": m.rope_base, "rope_freq_base_swa": m.rope_base_swa,
            "n_swa": m.n_swa, "swa_layers": [i for i in range(m.n_layer) if m.is_swa[i]],
            "attn_scale": m.attn_scale, "eps": m.eps,
            "attn_norm_mean": [float(m.w(f"blk.{i}.attn_norm.weight").mean()) for i in range(m.n_layer)],
        }, indent=1))
        return
    ids = [int(x) for x in args.ids.split(",")]
    if args.cmd == "logits":
        lg = forward(m, ids)
        if args.npy:
            np.save(args.npy, lg.astype(np.float32))
        for t in range(lg.shape[0]):
            top = np.argsort(-lg[t])[:args.top]
            print(t, ids[t], " ".join(f"{int(i)}:{lg[t, i]:.4f}" for i in top))
    elif args.cmd == "greedy":
        gen, margins = greedy(m, ids, args.n)
        print(",".join(map(str, gen)))
        print(repr(detokenize(m, gen)))
        print("min margin", min(margins))


if __name__ == "__main__":
    main()
