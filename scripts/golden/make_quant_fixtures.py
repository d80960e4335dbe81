#!/usr/bin/env python3
"""Writes the quantization fixtures under tests/data/quant/ from gguf-py, an implementation
of the ggml block formats independent of ours.

dequant_<type>.bin: random block bytes (with sane fp16 scales) and gguf.quants.dequantize of
them, for every type the engine supports. quant_<type>.bin: random floats and
gguf.quants.quantize of them, for the types whose gguf-py quantizer is ggml's reference one.

Layout (little endian): 8-byte magic, then u32 type id, u32 element count, u32 byte count,
u32 zero, then for TLMQDQ01 the block bytes followed by the floats, for TLMQQ001 the floats
followed by the block bytes.

Usage: ~/.cache/tlmbench/venv/bin/python scripts/golden/make_quant_fixtures.py [out_dir]
"""
import struct
import sys
from pathlib import Path

import numpy as np
from gguf import GGMLQuantizationType as T
from gguf.constants import GGML_QUANT_SIZES
from gguf import quants

SEED = 20240611
QK_K = 256


def half_bytes(values):
    return np.asarray(values, dtype=np.float16).view(np.uint8)


def random_scales(rng, count, positive=False):
    """fp16 scales spread over several decades, with the edge cases a loader meets in practice:
    zero and an fp16 subnormal."""
    mags = 10.0 ** rng.uniform(-4, 0.5, size=count)
    signs = np.ones(count) if positive else rng.choice([-1.0, 1.0], size=count)
    s = (mags * signs).astype(np.float16)
    if count >= 3:
        s[1] = np.float16(0.0)
        s[2] = np.frombuffer(np.uint16(0x0123).tobytes(), dtype=np.float16)[0]  # subnormal
    return s


def random_blocks(rng, qtype, n_blocks):
    """Block bytes: uniform random quant bits, scale fields replaced by sane fp16 values."""
    block_elems, block_bytes = GGML_QUANT_SIZES[qtype]
    raw = rng.integers(0, 256, size=(n_blocks, block_bytes), dtype=np.uint8)
    d = random_scales(rng, n_blocks)
    dmin = random_scales(rng, n_blocks, positive=True)
    # Offsets of the fp16 fields, from ggml-common.h.
    if qtype in (T.Q4_0, T.Q5_0, T.Q8_0):
        raw[:, 0:2] = half_bytes(d).reshape(n_blocks, 2)
    elif qtype in (T.Q4_1, T.Q5_1):
        raw[:, 0:2] = half_bytes(d).reshape(n_blocks, 2)
        raw[:, 2:4] = half_bytes(-dmin).reshape(n_blocks, 2)  # the min, usually negative
    elif qtype == T.Q2_K:
        raw[:, 80:82] = half_bytes(np.abs(d)).reshape(n_blocks, 2)
        raw[:, 82:84] = half_bytes(dmin).reshape(n_blocks, 2)
    elif qtype == T.Q3_K:
        raw[:, 108:110] = half_bytes(d).reshape(n_blocks, 2)
    elif qtype in (T.Q4_K, T.Q5_K):
        raw[:, 0:2] = half_bytes(np.abs(d)).reshape(n_blocks, 2)
        raw[:, 2:4] = half_bytes(dmin).reshape(n_blocks, 2)
    elif qtype == T.Q6_K:
        raw[:, 208:210] = half_bytes(d).reshape(n_blocks, 2)
    else:
        raise ValueError(qtype)
    return raw


def special_f16_bits():
    return np.array([0x0000, 0x8000, 0x0001, 0x8001, 0x03ff, 0x0400, 0x7bff, 0xfbff, 0x7c00,
                     0xfc00, 0x7e00, 0x7c01, 0xfe00, 0x3c00, 0x3555, 0x0200], dtype=np.uint16)


def special_bf16_bits():
    return np.array([0x0000, 0x8000, 0x0001, 0x8001, 0x007f, 0x0080, 0x7f7f, 0xff7f, 0x7f80,
                     0xff80, 0x7fc0, 0x7f81, 0xffc0, 0x3f80, 0x3eab, 0x0040], dtype=np.uint16)


def write(path, magic, qtype, n_elems, first, second):
    first = np.ascontiguousarray(first)
    second = np.ascontiguousarray(second)
    block_bytes = first.nbytes if magic == b"TLMQDQ01" else second.nbytes
    with open(path, "wb") as f:
        f.write(magic)
        f.write(struct.pack("<IIII", int(qtype), n_elems, block_bytes, 0))
        f.write(first.tobytes())
        f.write(second.tobytes())
    return path.stat().st_size


def dequant_fixture(rng, qtype):
    block_elems, _ = GGML_QUANT_SIZES[qtype]
    if qtype == T.F32:
        values = rng.standard_normal(256).astype(np.float32)
        values[:4] = [0.0, -0.0, np.inf, -np.inf]
        raw = values.view(np.uint8)
    elif qtype in (T.F16, T.BF16):
        bits = rng.integers(0, 1 << 16, size=256 - 16, dtype=np.uint16)
        specials = special_f16_bits() if qtype == T.F16 else special_bf16_bits()
        raw = np.concatenate([specials, bits]).view(np.uint8)
    else:
        n_blocks = 9 if block_elems == 32 else 4
        raw = random_blocks(rng, qtype, n_blocks).reshape(-1)
    expected = quants.dequantize(raw.reshape(1, -1), qtype).reshape(-1).astype(np.float32)
    return raw, expected


def quant_fixture(rng, qtype):
    n_blocks = 8
    x = (rng.standard_normal((n_blocks, 32)) * (10.0 ** rng.uniform(-3, 1, size=(n_blocks, 1))))
    x = x.astype(np.float32)
    x[1, :] = 0.0                      # all zero: scale 0
    x[2, :] = 0.75                     # constant
    x[3, :] = np.linspace(-1, 1, 32)   # exact ties on several grids
    x[4, 7] = 0.0
    x[4, 9] = -x[4].max() * 1.5        # negative extreme
    if qtype in (T.F16, T.BF16):
        # halfway cases and the fp16 range edges
        x[5, :8] = [65504.0, 65519.0, 65520.0, 1e-8, 2.0**-24, 2.0**-25, 3 * 2.0**-26, -6e-5]
        x[6, :4] = [1.0 + 2.0**-11, 1.0 + 3 * 2.0**-11, 1.0 + 2.0**-8, 1.0 + 3 * 2.0**-8]
    x = x.reshape(-1)
    with np.errstate(over="ignore"):  # 65520 rounds to fp16 Inf on purpose
        q = quants.quantize(x.reshape(1, -1), qtype).reshape(-1).view(np.uint8)
    return x, q


def main():
    out = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).resolve().parents[2] / "tests/data/quant")
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(SEED)
    total = 0
    # Every engine-supported type; gguf-py dequantizes all of them.
    for qtype in (T.F32, T.F16, T.BF16, T.Q4_0, T.Q4_1, T.Q5_0, T.Q5_1, T.Q8_0,
                  T.Q2_K, T.Q3_K, T.Q4_K, T.Q5_K, T.Q6_K):
        raw, expected = dequant_fixture(rng, qtype)
        total += write(out / f"dequant_{qtype.name.lower()}.bin", b"TLMQDQ01", qtype,
                       expected.size, raw, expected)
    # gguf-py quantizes these exactly as ggml's reference; it has no K-quant quantizers.
    for qtype in (T.F16, T.BF16, T.Q4_0, T.Q4_1, T.Q5_0, T.Q5_1, T.Q8_0):
        x, q = quant_fixture(rng, qtype)
        total += write(out / f"quant_{qtype.name.lower()}.bin", b"TLMQQ001", qtype, x.size, x, q)
    print(f"wrote {out}: {total} bytes")


if __name__ == "__main__":
    main()
