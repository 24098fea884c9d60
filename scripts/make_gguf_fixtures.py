#!/usr/bin/env python3
"""GGUF reference fixtures for Tests/CheckpointsTests (GGUF*Tests.swift), made with gguf-py.

Writes into Tests/CheckpointsTests/Fixtures/gguf/:

  types.gguf, types.expected.json, types.expected.f32
      One small tensor of each type the Swift reader converts. F32/F16/BF16 and the legacy
      block types (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0) are quantized from random float32 data by
      gguf-py's `quants.quantize`; the K-quants (Q2_K ... Q6_K, Q8_K), which gguf-py cannot
      quantize, are random but valid raw blocks (finite f16 scales, including a subnormal, a
      zero and the largest half) written with `raw_dtype`. The file is read back with gguf-py's
      GGUFReader and every tensor de-quantized with `quants.dequantize`; the floats go, in file
      order, into types.expected.f32 (little-endian float32) and the JSON lists name, type,
      dims, shape and where each tensor's floats start. gguf-py has no Q8_K de-quantizer: its
      expected values are numpy's d * q, ggml's `dequantize_row_q8_K` formula.

  writer_input.f32, writer.gguf, writer.expected.json
      Float32 inputs and the GGUF v3 file gguf-py's GGUFWriter makes of them: metadata of every
      value type (nested arrays included, `general.alignment` = 64) and tensors stored as F32,
      F16, BF16 and Q8_0 (with round-half cases that tell ties-away-from-zero from numpy's
      ties-to-even). The Swift writer must produce this file byte for byte from the same input.

  smollm2.expected.json   (only when models/SmolLM2-135M-Instruct.Q4_1.gguf is present)
      Metadata values, tensor counts and types, and for a few tensors the SHA-256, sum and some
      values of gguf-py's de-quantized float32, for the test on the real model.

Regenerate (in the reference venv, scripts/reference-venv.sh; needs numpy and gguf):
    .venv/bin/python scripts/make_gguf_fixtures.py

Check a GGUF file written by InstructKit (see docs/gguf.md):
    .venv/bin/python scripts/make_gguf_fixtures.py --check FILE.gguf [--against OTHER.gguf]
"""
import argparse
import hashlib
import json
import math
import os
import sys

import numpy as np
import gguf
from gguf import GGMLQuantizationType as T, GGUFValueType as V
from gguf import quants

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
OUT = os.path.join(ROOT, "Tests", "CheckpointsTests", "Fixtures", "gguf")
MODEL = os.path.join(ROOT, "models", "SmolLM2-135M-Instruct.Q4_1.gguf")


def f16_bytes(values):
    """The IEEE half bytes of `values` (finite by construction)."""
    out = np.asarray(values, dtype=np.float32).astype(np.float16)
    assert np.all(np.isfinite(out))
    return out.view(np.uint8)


def random_k_blocks(qtype, rng, n_blocks):
    """n_blocks random but valid raw blocks of a K-quant: random bytes, with the f16 (or f32)
    scale fields replaced by finite values: random ones, then a subnormal, zero and 65504."""
    block_size, type_size = gguf.GGML_QUANT_SIZES[qtype]
    blocks = rng.integers(0, 256, size=(n_blocks, type_size), dtype=np.uint8)
    # Byte offsets of the scale fields inside one block (ggml-common.h's block_q*_K).
    fields = {T.Q2_K: [80, 82], T.Q3_K: [108], T.Q4_K: [0, 2], T.Q5_K: [0, 2], T.Q6_K: [208]}
    special = [None, None, 6.0e-7, 0.0, 65504.0, -2.5e-3]
    for b in range(n_blocks):
        if qtype == T.Q8_K:
            d = np.float32(rng.uniform(-0.05, 0.05) if special[b % len(special)] is None else special[b % len(special)] / 1000)
            blocks[b, 0:4] = np.array([d], dtype=np.float32).view(np.uint8)
            continue
        for k, off in enumerate(fields[qtype]):
            s = special[b % len(special)]
            v = rng.uniform(-0.05, 0.05) if s is None else (s if k == 0 else rng.uniform(-0.01, 0.01))
            blocks[b, off:off + 2] = f16_bytes([v])
    return blocks


def float_rows(rng, rows, cols):
    """Test inputs: normal rows of different scales, an all-zero row and a tiny one."""
    x = rng.standard_normal((rows, cols)).astype(np.float32)
    x[1] *= 100
    if rows > 2:
        x[2] = 0
    if rows > 3:
        x[3] *= 1e-3
    return x


def make_types(rng):
    path = os.path.join(OUT, "types.gguf")
    w = gguf.GGUFWriter(path, arch="test")
    w.add_uint32("test.answer", 42)
    w.add_string("test.note", "tensors of every converted type")
    plan = []
    plan.append(("plain.f32", T.F32, rng.standard_normal((3, 8)).astype(np.float32)))
    plan.append(("plain.f32.vector", T.F32, rng.standard_normal(5).astype(np.float32)))
    f16_in = rng.standard_normal((2, 16)).astype(np.float32)
    f16_in[0, :4] = [65504.0, -6.1e-5, 3e-8, -0.0]  # largest half, smallest normal, a subnormal, -0
    plan.append(("plain.f16", T.F16, f16_in))
    plan.append(("plain.bf16", T.BF16, rng.standard_normal((2, 16)).astype(np.float32)))
    for name, qtype in [("q4_0", T.Q4_0), ("q4_1", T.Q4_1), ("q5_0", T.Q5_0), ("q5_1", T.Q5_1), ("q8_0", T.Q8_0)]:
        plan.append((f"legacy.{name}", qtype, float_rows(rng, 4, 64)))
    plan.append(("legacy.q8_0.3d", T.Q8_0, rng.standard_normal((2, 3, 32)).astype(np.float32)))
    for name, qtype in [("q2_K", T.Q2_K), ("q3_K", T.Q3_K), ("q4_K", T.Q4_K), ("q5_K", T.Q5_K),
                        ("q6_K", T.Q6_K), ("q8_K", T.Q8_K)]:
        plan.append((f"kquant.{name}", qtype, None))
    for name, qtype, data in plan:
        if data is None:
            raw = random_k_blocks(qtype, rng, 6).reshape(3, -1)  # 3 rows of 2 blocks (512 values)
            w.add_tensor(name, raw, raw_dtype=qtype)
        elif qtype == T.F32:
            w.add_tensor(name, data)
        else:
            q = quants.quantize(data, qtype)
            w.add_tensor(name, q, raw_dtype=qtype)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()

    # Read back with gguf-py and de-quantize: the expected floats.
    r = gguf.GGUFReader(path)
    entries, chunks, start = [], [], 0
    for t in r.tensors:
        if t.tensor_type == T.Q8_K:
            blocks = np.asarray(t.data, dtype=np.uint8).reshape(-1, 292)
            d = blocks[:, 0:4].copy().view(np.float32)
            q = blocks[:, 4:260].copy().view(np.int8).astype(np.float32)
            values = (d * q).reshape(-1)
        else:
            values = quants.dequantize(t.data, t.tensor_type).astype(np.float32, copy=False).reshape(-1)
        assert values.size == t.n_elements
        entries.append({"name": t.name, "type": t.tensor_type.name, "type_code": int(t.tensor_type),
                        "dims": [int(d) for d in t.shape], "shape": [int(d) for d in reversed(t.shape.tolist())],
                        "first_value": start, "count": int(values.size), "file_offset": int(t.data_offset)})
        chunks.append(values)
        start += values.size
    np.concatenate(chunks).astype("<f4").tofile(os.path.join(OUT, "types.expected.f32"))
    meta = {"version": 3, "alignment": int(r.alignment), "data_offset": int(r.data_offset),
            "metadata": {"general.architecture": "test", "test.answer": 42, "test.note": "tensors of every converted type"},
            "tensors": entries}
    with open(os.path.join(OUT, "types.expected.json"), "w") as f:
        json.dump(meta, f, indent=1)
        f.write("\n")
    print(f"types.gguf: {len(entries)} tensors, {start} expected floats, {os.path.getsize(path)} bytes")


# Metadata for writer.gguf, in order: (key, type, value, sub_type). gguf-py adds
# general.architecture first. Nested arrays get their element type from their first element.
WRITER_METADATA = [
    ("general.alignment", V.UINT32, 64, None),
    ("test.u8", V.UINT8, 255, None),
    ("test.i8", V.INT8, -128, None),
    ("test.u16", V.UINT16, 65535, None),
    ("test.i16", V.INT16, -32768, None),
    ("test.u32", V.UINT32, 4294967295, None),
    ("test.i32", V.INT32, -2147483648, None),
    ("test.f32", V.FLOAT32, 1.0e-5, None),
    ("test.u64", V.UINT64, 18446744073709551615, None),
    ("test.i64", V.INT64, -9223372036854775808, None),
    ("test.f64", V.FLOAT64, math.pi, None),
    ("test.bool.true", V.BOOL, True, None),
    ("test.bool.false", V.BOOL, False, None),
    ("test.string", V.STRING, "héllo \"wörld\"\n\t✓ {{ bos_token }}", None),
    ("test.string.empty", V.STRING, "", None),
    ("test.array.u8", V.ARRAY, [0, 1, 255], V.UINT8),
    ("test.array.i32", V.ARRAY, [-1, 0, 7, 2147483647], V.INT32),
    ("test.array.f32", V.ARRAY, [0.5, -1.25, 3.0e38], V.FLOAT32),
    ("test.array.f64", V.ARRAY, [1.0 / 3.0], V.FLOAT64),
    ("test.array.bool", V.ARRAY, [True, False, True], V.BOOL),
    ("test.array.string", V.ARRAY, ["a", "", "Ġthe", "<|im_start|>", "ü"], V.STRING),
    ("test.array.nested", V.ARRAY, [[1, 2, 3], [4], [5, 6]], V.ARRAY),
    ("test.array.nested.strings", V.ARRAY, [["x", "y"], ["z"]], V.ARRAY),
]


def writer_inputs(rng):
    """(name, qtype, float32 data) for writer.gguf, with the edge cases of each conversion."""
    f32 = rng.standard_normal((3, 40)).astype(np.float32)
    f16 = rng.standard_normal((4, 10)).astype(np.float32) * 10
    # Ties and limits of float -> half: 1 + 2^-11 (tie, to even = 1), 1 + 3 * 2^-11 (tie, up),
    # 65504, 65519 (-> 65504), 65520 (-> inf), 1e6 (-> inf), 2^-24 (smallest subnormal),
    # 2^-25 (tie -> 0), 3 * 2^-26 (-> 2^-24), -0.0.
    f16[0] = [1 + 2 ** -11, 1 + 3 * 2 ** -11, 65504, 65519, 65520, -1e6, 2 ** -24, 2 ** -25, 3 * 2 ** -26, -0.0]
    bf16 = rng.standard_normal((2, 16)).astype(np.float32)
    # bf16 ties: 1 + 2^-8 (tie, to even = 1), 1 + 3 * 2^-8 (tie, up), the largest float, -inf, NaN.
    bf16[0, :5] = [1 + 2 ** -8, 1 + 3 * 2 ** -8, np.finfo(np.float32).max, -np.inf, np.nan]
    q8 = rng.standard_normal((5, 64)).astype(np.float32)
    # Block 0 of row 0: max 127 makes d = 1 and id = 1, so x * id keeps the .5 ties:
    # away from zero gives 3, -3, 1, -1, 2, -2; numpy's np.round would give 2, -2, 0, -0, 2, -2.
    q8[0, :32] = 0
    q8[0, :8] = [127, 2.5, -2.5, 0.5, -0.5, 1.5, -1.5, -127]
    q8[1, :32] = 0  # a zero block: d = 0
    q8[2] *= 1000
    q8[3] *= 1e-4
    q8[4, 32:] = -q8[4, 32:] ** 2  # a block whose largest magnitude is negative
    q8_3d = rng.standard_normal((2, 2, 32)).astype(np.float32)
    return [("w.f32", T.F32, f32), ("w.f16", T.F16, f16), ("w.bf16", T.BF16, bf16),
            ("w.q8_0", T.Q8_0, q8), ("w.q8_0.3d", T.Q8_0, q8_3d)]


def value_json(vtype, value, sub_type=None):
    """A metadata value as {"type", "value"}: integers as decimal strings, floats as their bit
    patterns in hex (exact), arrays as lists of such objects with "element_type"."""
    if vtype == V.ARRAY:
        et = sub_type
        if et == V.ARRAY:
            items = [value_json(V.ARRAY, v, V.STRING if isinstance(v[0], str) else V.INT32) for v in value]
        else:
            items = [value_json(et, v) for v in value]
        return {"type": "ARRAY", "element_type": et.name, "value": items}
    if vtype == V.FLOAT32:
        return {"type": "FLOAT32", "value": "%08x" % np.array([value], dtype=np.float32).view(np.uint32)[0]}
    if vtype == V.FLOAT64:
        return {"type": "FLOAT64", "value": "%016x" % np.array([value], dtype=np.float64).view(np.uint64)[0]}
    if vtype == V.BOOL:
        return {"type": "BOOL", "value": bool(value)}
    if vtype == V.STRING:
        return {"type": "STRING", "value": value}
    return {"type": vtype.name, "value": str(int(value))}


def make_writer(rng):
    path = os.path.join(OUT, "writer.gguf")
    inputs = writer_inputs(rng)
    w = gguf.GGUFWriter(path, arch="test")
    for key, vtype, value, sub_type in WRITER_METADATA:
        if key == "general.alignment":
            w.add_custom_alignment(value)
        elif vtype == V.STRING and value == "":
            w.add_key_value(key, value, vtype)  # add_string skips empty strings
        else:
            w.add_key_value(key, value, vtype, sub_type=None if sub_type == V.ARRAY else sub_type)
    flat, entries, start = [], [], 0
    for name, qtype, data in inputs:
        stored = data if qtype == T.F32 else quants.quantize(data, qtype)
        w.add_tensor(name, stored, raw_dtype=None if qtype == T.F32 else qtype)
        entries.append({"name": name, "type": qtype.name, "shape": list(data.shape),
                        "first_value": start, "count": int(data.size)})
        flat.append(data.reshape(-1))
        start += data.size
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    np.concatenate(flat).astype("<f4").tofile(os.path.join(OUT, "writer_input.f32"))
    metadata = [{"key": "general.architecture", **value_json(V.STRING, "test")}]
    metadata += [{"key": k, **value_json(t, v, s)} for k, t, v, s in WRITER_METADATA]
    with open(os.path.join(OUT, "writer.expected.json"), "w") as f:
        json.dump({"metadata": metadata, "tensors": entries}, f, indent=1, ensure_ascii=False)
        f.write("\n")
    # gguf-py reads back what it wrote (its reader flattens nested arrays).
    r = gguf.GGUFReader(path)
    assert r.alignment == 64 and r.fields["test.u64"].contents() == 18446744073709551615
    assert r.fields["test.array.string"].contents() == ["a", "", "Ġthe", "<|im_start|>", "ü"]
    tie = quants.dequantize(r.tensors[3].data, T.Q8_0)[0, :8]
    assert tie.tolist() == [127, 3, -3, 1, -1, 2, -2, -127], tie
    print(f"writer.gguf: {len(entries)} tensors, {len(metadata)} keys, {os.path.getsize(path)} bytes")


def tensor_summary(reader, name):
    t = next(t for t in reader.tensors if t.name == name)
    x = quants.dequantize(t.data, t.tensor_type).astype("<f4", copy=False).reshape(-1)
    x64 = x.astype(np.float64)
    picks = sorted({0, 1, 2, 31, 32, 33, x.size // 2, x.size - 1})
    return {"name": name, "type": t.tensor_type.name, "dims": [int(d) for d in t.shape],
            "shape": [int(d) for d in reversed(t.shape.tolist())], "count": int(x.size),
            "sha256": hashlib.sha256(x.tobytes()).hexdigest(),
            "sum": math.fsum(x64.tolist()), "sum_abs": math.fsum(np.abs(x64).tolist()),
            "values": {str(i): "%08x" % x[i:i + 1].view(np.uint32)[0] for i in picks}}


def make_smollm2():
    if not os.path.exists(MODEL):
        print(f"{MODEL} is absent (scripts/fetch-smollm2.sh fetches it); smollm2.expected.json left as it is")
        return
    r = gguf.GGUFReader(MODEL)
    f = r.fields
    counts = {}
    for t in r.tensors:
        counts[t.tensor_type.name] = counts.get(t.tensor_type.name, 0) + 1
    template = f["tokenizer.chat_template"].contents()
    tokens = f["tokenizer.ggml.tokens"].contents()
    merges = f["tokenizer.ggml.merges"].contents()
    out = {
        "file_bytes": os.path.getsize(MODEL),
        "version": int(f["GGUF.version"].contents()),
        "tensor_count": len(r.tensors), "metadata_count": len(f) - 3,
        "alignment": int(r.alignment), "data_offset": int(r.data_offset),
        "type_counts": counts,
        "first_keys": [k for k in f.keys() if not k.startswith("GGUF.")][:6],
        "strings": {k: f[k].contents() for k in ["general.architecture", "general.name", "tokenizer.ggml.model", "tokenizer.ggml.pre"]},
        "ints": {k: int(f[k].contents()) for k in [
            "llama.block_count", "llama.context_length", "llama.embedding_length", "llama.feed_forward_length",
            "llama.attention.head_count", "llama.attention.head_count_kv", "llama.vocab_size",
            "llama.rope.dimension_count", "tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id",
            "tokenizer.ggml.padding_token_id", "general.file_type"]},
        "floats": {k: "%08x" % np.array([f[k].contents()], dtype=np.float32).view(np.uint32)[0]
                   for k in ["llama.rope.freq_base", "llama.attention.layer_norm_rms_epsilon"]},
        "bools": {k: bool(f[k].contents()) for k in ["tokenizer.ggml.add_bos_token", "tokenizer.ggml.add_space_prefix"]},
        "tokens": {"count": len(tokens), "first": tokens[:5], "last": tokens[-1], "sha256_joined": hashlib.sha256("\n".join(tokens).encode()).hexdigest()},
        "merges": {"count": len(merges), "first": merges[:3]},
        "token_type": {"count": len(f["tokenizer.ggml.token_type"].data), "first": f["tokenizer.ggml.token_type"].contents()[:20]},
        "chat_template": {"sha256": hashlib.sha256(template.encode()).hexdigest(), "prefix": template[:60]},
        "tensor_infos": [{"name": t.name, "type": t.tensor_type.name, "dims": [int(d) for d in t.shape],
                          "file_offset": int(t.data_offset)} for t in r.tensors[:4]],
        "tensors": [tensor_summary(r, n) for n in ["token_embd.weight", "blk.0.attn_q.weight", "blk.29.ffn_down.weight",
                                                   "blk.0.attn_norm.weight", "output_norm.weight"]],
    }
    with open(os.path.join(OUT, "smollm2.expected.json"), "w") as fp:
        json.dump(out, fp, indent=1, ensure_ascii=False)
        fp.write("\n")
    print(f"smollm2.expected.json: {len(r.tensors)} tensors {counts}")


def check(path, against):
    """Reads `path` with gguf-py, de-quantizes every tensor and, with `against`, compares the
    metadata (types and values), tensor infos, raw bytes and de-quantized values."""
    r = gguf.GGUFReader(path)
    print(f"{path}: GGUF v{r.fields['GGUF.version'].contents()}, {len(r.fields) - 3} keys, "
          f"{len(r.tensors)} tensors, alignment {r.alignment}, data at {r.data_offset}")
    for t in r.tensors:
        x = quants.dequantize(t.data, t.tensor_type) if t.tensor_type != T.Q8_K else None
        desc = "" if x is None else f" sum {float(np.sum(x, dtype=np.float64)):.6g}"
        print(f"  {t.name}: {t.tensor_type.name} {t.shape.tolist()}{desc}")
    if against is None:
        return 0
    o = gguf.GGUFReader(against)
    problems = []
    if list(r.fields) != list(o.fields):
        problems.append(f"keys differ: {list(r.fields)} vs {list(o.fields)}")
    for k in r.fields:
        if k in o.fields and (r.fields[k].types != o.fields[k].types or r.fields[k].contents() != o.fields[k].contents()):
            problems.append(f"key {k} differs")
    for a, b in zip(r.tensors, o.tensors):
        if (a.name, a.tensor_type, a.shape.tolist()) != (b.name, b.tensor_type, b.shape.tolist()):
            problems.append(f"tensor info {a.name} differs from {b.name}")
        elif np.asarray(a.data).tobytes() != np.asarray(b.data).tobytes():
            problems.append(f"tensor {a.name}: bytes differ")
    if len(r.tensors) != len(o.tensors):
        problems.append(f"{len(r.tensors)} tensors vs {len(o.tensors)}")
    with open(path, "rb") as fa, open(against, "rb") as fb:
        same = fa.read() == fb.read()
    print(("identical bytes" if same else "bytes differ") + f" to {against}")
    for p in problems:
        print("  PROBLEM:", p)
    return 1 if problems else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--check", metavar="FILE", help="read FILE with gguf-py instead of writing fixtures")
    ap.add_argument("--against", metavar="GGUF", help="with --check: compare with this GGUF file")
    args = ap.parse_args()
    if args.check:
        sys.exit(check(args.check, args.against))
    os.makedirs(OUT, exist_ok=True)
    make_types(np.random.default_rng(20240611))
    make_writer(np.random.default_rng(7))
    make_smollm2()


if __name__ == "__main__":
    main()
