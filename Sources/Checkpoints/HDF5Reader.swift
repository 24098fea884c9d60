import Autograd
import CHDF5
import Foundation

/// Reads HDF5 files back into named tensors: every dataset, at any depth, becomes a tensor whose
/// name is its path with `/` replaced by `.`; string attributes of the root group become the
/// metadata. Datasets of any float or integer type are converted to Float32 by libhdf5.
///
/// Order: creation order where the file tracks it (files from `HDF5Writer` do), otherwise
/// name order. Limits that keep a corrupt file from exhausting memory or recursing forever:
/// group depth <= 64, at most 1,000,000 objects visited, and no dataset may claim more than
/// 64 x (file size) + 64 MiB of Float32 data.
public enum HDF5Reader {
    /// Reads every dataset and root string attribute of the file at `url`.
    public static func read(contentsOf url: URL) throws -> NamedTensors {
        let path = url.path
        let fileSize: Int
        do {
            let attrs = try FileManager.default.attributesOfItem(atPath: path)
            fileSize = (attrs[.size] as? NSNumber)?.intValue ?? 0
        } catch {
            throw CheckpointError.io(path: path, operation: "stat", reason: error.localizedDescription)
        }
        _ = H5open()
        H5Eset_auto2(h5Default, nil, nil)  // libhdf5 would print its error stack; we throw instead.
        guard H5Fis_hdf5(path) > 0 else {
            throw CheckpointError.hdf5(path: path, operation: "open (not an HDF5 file)", object: path)
        }
        let h5 = HDF5Handles(path: path)
        defer { h5.closeAll() }
        let file = try h5.check(H5Fopen(path, h5AccReadOnly, h5Default), "open file", path)
        h5.files.append(file)

        var out = NamedTensors()
        out.metadata = try readStringAttributes(file, h5: h5)
        var visited = 0
        let maxElements = (64 * fileSize + (64 << 20)) / 4
        try readGroup(file, prefix: "", depth: 0, visited: &visited, maxElements: maxElements, into: &out, h5: h5)
        try h5.closeAllChecked()
        return out
    }

    private static func readGroup(_ group: hid_t, prefix: String, depth: Int, visited: inout Int,
                                  maxElements: Int, into out: inout NamedTensors, h5: HDF5Handles) throws {
        guard depth <= 64 else {
            throw CheckpointError.hdf5(path: h5.path, operation: "walk groups (nested deeper than 64: a cycle?)", object: "/" + prefix)
        }
        for name in try linkNames(group, h5: h5, object: "/" + prefix) {
            visited += 1
            guard visited <= 1_000_000 else {
                throw CheckpointError.hdf5(path: h5.path, operation: "walk groups (more than 1,000,000 objects: a cycle?)", object: "/" + prefix)
            }
            let full = prefix.isEmpty ? name : prefix + "/" + name
            // Soft and external links that do not resolve are skipped, not errors.
            guard H5Oexists_by_name(group, name, h5Default) > 0 else { continue }
            let obj = H5Oopen(group, name, h5Default)
            guard obj >= 0 else { throw CheckpointError.hdf5(path: h5.path, operation: "open object", object: "/" + full) }
            defer { H5Oclose(obj) }
            switch H5Iget_type(obj) {
            case H5I_GROUP:
                try readGroup(obj, prefix: full, depth: depth + 1, visited: &visited, maxElements: maxElements, into: &out, h5: h5)
            case H5I_DATASET:
                let tensor = try readDataset(obj, object: "/" + full, maxElements: maxElements, h5: h5)
                try out.appendChecked(full.replacingOccurrences(of: "/", with: "."), tensor, path: h5.path)
            default:
                continue  // named datatypes and anything else carry no tensor
            }
        }
    }

    /// The link names of a group, in creation order when tracked, else in name order.
    private static func linkNames(_ group: hid_t, h5: HDF5Handles, object: String) throws -> [String] {
        final class Box { var names: [String] = [] }
        let callback: H5L_iterate_t = { _, name, _, op in
            guard let name, let op else { return -1 }
            Unmanaged<Box>.fromOpaque(op).takeUnretainedValue().names.append(String(cString: name))
            return 0
        }
        for index in [H5_INDEX_CRT_ORDER, H5_INDEX_NAME] {
            let box = Box()
            var idx: hsize_t = 0
            let status = withExtendedLifetime(box) {
                H5Literate(group, index, H5_ITER_INC, &idx, callback, Unmanaged.passUnretained(box).toOpaque())
            }
            if status >= 0 { return box.names }
        }
        throw CheckpointError.hdf5(path: h5.path, operation: "list group members", object: object)
    }

    private static func readDataset(_ ds: hid_t, object: String, maxElements: Int, h5: HDF5Handles) throws -> Tensor {
        let type = try h5.check(H5Dget_type(ds), "get datatype", object)
        defer { H5Tclose(type) }
        let cls = H5Tget_class(type)
        guard cls == H5T_FLOAT || cls == H5T_INTEGER else {
            throw CheckpointError.unsupportedDType(path: h5.path, tensor: object, dtype: "HDF5 class \(cls.rawValue) (only float and integer datasets convert to Float32)")
        }
        let space = try h5.check(H5Dget_space(ds), "get dataspace", object)
        defer { H5Sclose(space) }
        let spaceClass = H5Sget_simple_extent_type(space)
        guard spaceClass == H5S_SIMPLE || spaceClass == H5S_SCALAR else {
            throw CheckpointError.invalidTensor(path: h5.path, tensor: object, reason: "its dataspace is empty (null) or unknown")
        }
        let rank = Int(H5Sget_simple_extent_ndims(space))
        guard rank >= 0, rank <= 32 else {
            throw CheckpointError.invalidTensor(path: h5.path, tensor: object, reason: "rank \(rank) is out of range")
        }
        var dims = [hsize_t](repeating: 0, count: max(rank, 1))
        if rank > 0 {
            try h5.check(H5Sget_simple_extent_dims(space, &dims, nil), "get dimensions", object)
        }
        var shape: [Int] = []
        var elements = 1
        for d in dims.prefix(rank) {
            guard d <= hsize_t(Int.max) else {
                throw CheckpointError.invalidTensor(path: h5.path, tensor: object, reason: "dimension \(d) is too large")
            }
            let (p, o) = elements.multipliedReportingOverflow(by: Int(d))
            guard !o, p <= maxElements else {
                throw CheckpointError.invalidTensor(path: h5.path, tensor: object,
                    reason: "shape \(dims.prefix(rank).map { $0 }) is larger than the file can hold")
            }
            shape.append(Int(d))
            elements = p
        }
        let storage = TensorStorage(uninitializedCount: elements)
        if elements > 0 {
            try h5.check(H5Dread(ds, H5T_NATIVE_FLOAT_g, h5Default, h5Default, h5Default, storage.pointer), "read dataset", object)
        }
        return Tensor(shape: shape, storage: storage)
    }

    /// The string-valued, single-element attributes of `loc`; other attributes are skipped.
    private static func readStringAttributes(_ loc: hid_t, h5: HDF5Handles) throws -> [String: String] {
        final class Box { var names: [String] = [] }
        let callback: H5A_operator2_t = { _, name, _, op in
            guard let name, let op else { return -1 }
            Unmanaged<Box>.fromOpaque(op).takeUnretainedValue().names.append(String(cString: name))
            return 0
        }
        let box = Box()
        var idx: hsize_t = 0
        let status = withExtendedLifetime(box) {
            H5Aiterate2(loc, H5_INDEX_NAME, H5_ITER_INC, &idx, callback, Unmanaged.passUnretained(box).toOpaque())
        }
        try h5.check(status, "list attributes", "/")
        var out: [String: String] = [:]
        for name in box.names {
            if let value = try readStringAttribute(loc, name: name, h5: h5) { out[name] = value }
        }
        return out
    }

    private static func readStringAttribute(_ loc: hid_t, name: String, h5: HDF5Handles) throws -> String? {
        let attr = try h5.check(H5Aopen(loc, name, h5Default), "open attribute", name)
        defer { H5Aclose(attr) }
        let type = try h5.check(H5Aget_type(attr), "get attribute type", name)
        defer { H5Tclose(type) }
        guard H5Tget_class(type) == H5T_STRING else { return nil }
        let space = try h5.check(H5Aget_space(attr), "get attribute dataspace", name)
        defer { H5Sclose(space) }
        guard H5Sget_simple_extent_npoints(space) == 1 else { return nil }
        let isVariable = H5Tis_variable_str(type)
        try h5.check(isVariable, "inspect attribute type", name)
        let memType = try h5.check(H5Tcopy(H5T_C_S1_g), "copy string type", name)
        defer { H5Tclose(memType) }
        try h5.check(H5Tset_cset(memType, H5Tget_cset(type) == H5T_CSET_UTF8 ? H5T_CSET_UTF8 : H5T_CSET_ASCII), "set charset", name)
        if isVariable > 0 {
            try h5.check(H5Tset_size(memType, h5Variable), "set string size", name)
            var ptr: UnsafeMutablePointer<CChar>? = nil
            try h5.check(H5Aread(attr, memType, &ptr), "read attribute", name)
            guard let p = ptr else { return "" }
            defer { H5free_memory(p) }
            return String(decoding: UnsafeRawBufferPointer(start: p, count: strlen(p)), as: UTF8.self)
        }
        let size = H5Tget_size(type)
        guard size > 0, size <= 1 << 28 else {
            throw CheckpointError.hdf5(path: h5.path, operation: "read attribute (bad string size \(size))", object: name)
        }
        try h5.check(H5Tset_size(memType, size), "set string size", name)
        try h5.check(H5Tset_strpad(memType, H5T_STR_NULLPAD), "set string padding", name)
        var buffer = [UInt8](repeating: 0, count: size + 1)
        try h5.check(H5Aread(attr, memType, &buffer), "read attribute", name)
        let bytes = buffer.prefix { $0 != 0 }
        return String(decoding: bytes, as: UTF8.self)
    }
}
