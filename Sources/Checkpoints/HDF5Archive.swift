import Autograd
import CHDF5
import Foundation

// Constants that hdf5.h defines as macros with casts, which Swift does not import.
let h5Default: hid_t = 0        // H5P_DEFAULT, H5S_ALL, H5E_DEFAULT
let h5AccTrunc: UInt32 = 0x0002 // H5F_ACC_TRUNC
let h5AccReadOnly: UInt32 = 0   // H5F_ACC_RDONLY
let h5Variable = -1             // H5T_VARIABLE: (size_t)(-1)

/// The HDF5 layout of a named-tensor archive:
///
/// ```
/// /                               root group; string attributes: metadata (config, tokenizer, ...)
/// /transformer/h/0/attn/c_attn/weight   float32 dataset (little-endian IEEE), the tensor's shape
/// ```
///
/// Each tensor name is a dotted module path; every dot starts a group, so
/// `transformer.h.0.attn.c_attn.weight` is the dataset `weight` in group
/// `/transformer/h/0/attn/c_attn`. Groups track link creation order, so the reader returns
/// tensors in the order they were written. Files use the HDF5 1.8+ object format
/// (checksummed metadata), readable by h5py, h5dump and HDF5 >= 1.8.
///
/// libhdf5 is not thread-safe in its default (serial) build: call these from one thread at a time.
public enum HDF5Archive {
    /// Root attribute naming this layout.
    public static let layoutAttribute = "instructkit_layout"
    /// Its value for this version.
    public static let layoutVersion = "named-tensors/1 (dotted names become groups)"
}

/// Writes named tensors to HDF5 in `HDF5Archive`'s layout.
public enum HDF5Writer {
    /// Writes `tensors` to `url` (replacing it): one float32 dataset per tensor under groups
    /// from its dotted name, and `tensors.metadata` merged with `attributes` (which win) as
    /// fixed-length UTF-8 string attributes on the root group.
    /// Throws `invalidTensorName` for a name that cannot be a clean path (empty component,
    /// `/`, or a name that is also a group of another name), `hdf5` when libhdf5 fails.
    /// The file is written to a temporary sibling, fsync'ed and renamed over `url`, so a failure
    /// leaves any previous file untouched.
    public static func write(_ tensors: NamedTensors, attributes: [String: String] = [:], to url: URL) throws {
        try validateNames(tensors.names, path: url.path)
        try replaceFileAtomically(path: url.path) { tmp in
            try write(tensors, attributes: attributes, temporaryPath: tmp, reportedPath: url.path)
            try fsyncFile(tmp)
        }
    }

    private static func write(_ tensors: NamedTensors, attributes: [String: String], temporaryPath: String,
                              reportedPath path: String) throws {
        _ = H5open()
        H5Eset_auto2(h5Default, nil, nil)  // libhdf5 would print its error stack; we throw instead.
        let h5 = HDF5Handles(path: path)
        defer { h5.closeAll() }

        let fcpl = try h5.check(H5Pcreate(H5P_CLS_FILE_CREATE_ID_g), "create file property list", "/")
        h5.plists.append(fcpl)
        try h5.check(H5Pset_link_creation_order(fcpl, UInt32(H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED)), "set link creation order", "/")
        let fapl = try h5.check(H5Pcreate(H5P_CLS_FILE_ACCESS_ID_g), "create file access property list", "/")
        h5.plists.append(fapl)
        try h5.check(H5Pset_libver_bounds(fapl, H5F_LIBVER_V18, H5F_LIBVER_V18), "set format version bounds", "/")
        let gcpl = try h5.check(H5Pcreate(H5P_CLS_GROUP_CREATE_ID_g), "create group property list", "/")
        h5.plists.append(gcpl)
        try h5.check(H5Pset_link_creation_order(gcpl, UInt32(H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED)), "set link creation order", "/")
        let file = try h5.check(H5Fcreate(temporaryPath, h5AccTrunc, fcpl, fapl), "create file", temporaryPath)
        h5.files.append(file)

        var attrs = tensors.metadata
        attrs.merge(attributes) { _, new in new }
        attrs[HDF5Archive.layoutAttribute] = HDF5Archive.layoutVersion
        for key in attrs.keys.sorted() {
            try writeStringAttribute(file, name: key, value: attrs[key] ?? "", h5: h5)
        }

        var groups: [String: hid_t] = ["": file]
        for e in tensors.entries {
            var components = e.name.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
            let leaf = components.removeLast()
            var parentPath = ""
            var parent = file
            for c in components {
                let p = parentPath.isEmpty ? c : parentPath + "/" + c
                if let g = groups[p] {
                    parent = g
                } else {
                    let g = try h5.check(H5Gcreate2(parent, c, h5Default, gcpl, h5Default), "create group", "/" + p)
                    h5.groups.append(g)
                    groups[p] = g
                    parent = g
                }
                parentPath = p
            }
            let objectPath = "/" + e.name.replacingOccurrences(of: ".", with: "/")
            let dims = e.tensor.shape.map { hsize_t($0) }
            let space = try h5.check(e.tensor.rank == 0 ? H5Screate(H5S_SCALAR)
                                        : H5Screate_simple(Int32(dims.count), dims, nil), "create dataspace", objectPath)
            h5.spaces.append(space)
            let ds = try h5.check(H5Dcreate2(parent, leaf, H5T_IEEE_F32LE_g, space, h5Default, h5Default, h5Default),
                                  "create dataset", objectPath)
            h5.datasets.append(ds)
            if e.tensor.count > 0 {
                try e.tensor.withUnsafeBufferPointer { buf in
                    try h5.check(H5Dwrite(ds, H5T_NATIVE_FLOAT_g, h5Default, h5Default, h5Default, buf.baseAddress), "write dataset", objectPath)
                }
            }
        }
        try h5.check(H5Fflush(file, H5F_SCOPE_GLOBAL), "flush file", path)
        try h5.closeAllChecked()
    }

    /// Names must be unique dotted paths with non-empty components, no `/`, and no name may be
    /// a prefix path of another (a dataset cannot also be a group).
    static func validateNames(_ names: [String], path: String) throws {
        var datasets = Set<String>()
        var groups = Set<String>()
        for name in names {
            let parts = name.split(separator: ".", omittingEmptySubsequences: false)
            guard !name.isEmpty, !parts.contains(where: { $0.isEmpty }) else {
                throw CheckpointError.invalidTensorName(path: path, tensor: name, reason: "has an empty component (HDF5 groups need non-empty names between dots)")
            }
            guard !name.contains("/"), !name.contains("\0") else {
                throw CheckpointError.invalidTensorName(path: path, tensor: name, reason: "contains '/' or NUL, which HDF5 paths cannot hold")
            }
            guard datasets.insert(name).inserted else {
                throw CheckpointError.invalidTensorName(path: path, tensor: name, reason: "appears twice")
            }
            var prefix = ""
            for p in parts.dropLast() {
                prefix = prefix.isEmpty ? String(p) : prefix + "." + p
                groups.insert(prefix)
            }
        }
        if let clash = datasets.first(where: { groups.contains($0) }) {
            throw CheckpointError.invalidTensorName(path: path, tensor: clash, reason: "is both a tensor and the group of another tensor's path")
        }
    }

    /// A fixed-length UTF-8 string attribute (NUL-padded; an empty string is one NUL byte).
    /// Fixed length rather than variable length on purpose: variable-length strings live in the
    /// global heap, which has no checksum, and libhdf5 1.10 can loop forever reading a corrupt
    /// one; fixed-length values live in checksummed object headers or dense attribute storage.
    private static func writeStringAttribute(_ loc: hid_t, name: String, value: String, h5: HDF5Handles) throws {
        let bytes = Array(value.utf8)
        let type = try h5.check(H5Tcopy(H5T_C_S1_g), "copy string type", name)
        h5.types.append(type)
        try h5.check(H5Tset_size(type, max(1, bytes.count)), "set string size", name)
        try h5.check(H5Tset_strpad(type, H5T_STR_NULLPAD), "set string padding", name)
        try h5.check(H5Tset_cset(type, H5T_CSET_UTF8), "set string charset", name)
        let space = try h5.check(H5Screate(H5S_SCALAR), "create dataspace", name)
        h5.spaces.append(space)
        let attr = try h5.check(H5Acreate2(loc, name, type, space, h5Default, h5Default), "create attribute", name)
        h5.attributes.append(attr)
        let buffer = bytes.isEmpty ? [UInt8(0)] : bytes
        try buffer.withUnsafeBufferPointer { p in
            try h5.check(H5Awrite(attr, type, p.baseAddress), "write attribute", name)
        }
    }
}

/// Every HDF5 identifier opened during one read or write, closed in reverse order at the end,
/// so no path (error or success) leaks a handle.
final class HDF5Handles {
    let path: String
    var files: [hid_t] = []
    var groups: [hid_t] = []
    var datasets: [hid_t] = []
    var spaces: [hid_t] = []
    var types: [hid_t] = []
    var attributes: [hid_t] = []
    var objects: [hid_t] = []
    var plists: [hid_t] = []

    init(path: String) { self.path = path }

    /// Returns a non-negative identifier or throws naming the operation and object.
    @discardableResult
    func check(_ id: hid_t, _ operation: String, _ object: String) throws -> hid_t {
        guard id >= 0 else { throw CheckpointError.hdf5(path: path, operation: operation, object: object) }
        return id
    }

    /// Throws when a herr_t/htri_t status is negative.
    func check(_ status: Int32, _ operation: String, _ object: String) throws {
        guard status >= 0 else { throw CheckpointError.hdf5(path: path, operation: operation, object: object) }
    }

    /// Closes everything, throwing if libhdf5 reports a failure (a failed close of a file being
    /// written means data may not be on disk).
    func closeAllChecked() throws {
        guard closeAll() else { throw CheckpointError.hdf5(path: path, operation: "close", object: path) }
    }

    /// Closes everything; returns false when any close failed.
    @discardableResult
    func closeAll() -> Bool {
        var ok = true
        for a in attributes { ok = H5Aclose(a) >= 0 && ok }
        for d in datasets { ok = H5Dclose(d) >= 0 && ok }
        for s in spaces { ok = H5Sclose(s) >= 0 && ok }
        for t in types { ok = H5Tclose(t) >= 0 && ok }
        for o in objects { ok = H5Oclose(o) >= 0 && ok }
        for g in groups.reversed() { ok = H5Gclose(g) >= 0 && ok }
        for p in plists { ok = H5Pclose(p) >= 0 && ok }
        for f in files { ok = H5Fclose(f) >= 0 && ok }
        attributes = []; datasets = []; spaces = []; types = []; objects = []; groups = []; plists = []; files = []
        return ok
    }
}
