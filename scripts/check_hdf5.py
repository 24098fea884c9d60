#!/usr/bin/env python3
"""Checks that an HDF5 file written by InstructKit (HDF5Writer) is readable by h5py and holds
exactly the tensors of a safetensors file (read with the official `safetensors` package):
same names (dots <-> groups), shapes, float32 dtype and bit-identical values, and that the
safetensors metadata appears as string attributes on the HDF5 root.

    instruct checkpoint convert stories260K.bin --out model.safetensors
    instruct checkpoint convert model.safetensors --out model.h5
    python3 scripts/check_hdf5.py model.h5 model.safetensors

Exits 0 and prints a summary when everything matches, 1 with the first differences otherwise.
Needs: pip install h5py numpy safetensors
"""
import sys

import h5py
import numpy as np
from safetensors import safe_open


def main(h5_path, st_path):
    problems = []
    with safe_open(st_path, framework="numpy") as st:
        st_names = list(st.keys())
        st_meta = st.metadata() or {}
        tensors = {name: st.get_tensor(name) for name in st_names}

    datasets = {}
    with h5py.File(h5_path, "r") as f:
        def visit(name, obj):
            if isinstance(obj, h5py.Dataset):
                datasets[name.replace("/", ".")] = (obj.dtype, obj[()])
        f.visititems(visit)
        attrs = {k: (v.decode() if isinstance(v, bytes) else str(v)) for k, v in f.attrs.items()}

    missing = sorted(set(tensors) - set(datasets))
    extra = sorted(set(datasets) - set(tensors))
    if missing:
        problems.append(f"in safetensors but not in HDF5: {missing[:5]}")
    if extra:
        problems.append(f"in HDF5 but not in safetensors: {extra[:5]}")
    params = 0
    for name in st_names:
        if name not in datasets:
            continue
        dtype, value = datasets[name]
        ref = tensors[name]
        params += ref.size
        if dtype != np.float32:
            problems.append(f"{name}: HDF5 dtype {dtype}, expected float32")
        value = np.asarray(value)
        if value.shape != ref.shape:
            problems.append(f"{name}: HDF5 shape {value.shape}, safetensors {ref.shape}")
        elif not np.array_equal(value.view(np.uint32), ref.astype(np.float32).view(np.uint32)):
            diff = np.max(np.abs(value - ref))
            problems.append(f"{name}: values differ (max abs diff {diff})")
    for key, value in st_meta.items():
        if attrs.get(key) != value:
            problems.append(f"metadata '{key}': HDF5 root attribute {attrs.get(key)!r:.60} != {value!r:.60}")

    if problems:
        print(f"FAIL {h5_path} vs {st_path}:")
        for p in problems[:20]:
            print("  " + p)
        return 1
    print(f"OK {h5_path} vs {st_path}: {len(st_names)} tensors, {params:,} float32 values bit-identical; "
          f"{len(st_meta)} metadata entries match root attributes; h5py {h5py.__version__}, HDF5 {h5py.version.hdf5_version}")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        print(__doc__)
        sys.exit(2)
    sys.exit(main(sys.argv[1], sys.argv[2]))
