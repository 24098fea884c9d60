/// The parsed and validated header of a GGUF file (see `GGUFFile` for the layout and checks).
struct GGUFHeader {
    var version: UInt32
    var metadata: [(key: String, value: GGUFValue)]
    var metadataIndex: [String: Int]
    var tensorInfos: [GGUFTensorInfo]
    var tensorIndex: [String: Int]
    var alignment: Int
    var dataOffset: Int

    /// The alignment when the file has no `general.alignment`.
    static let defaultAlignment = 32
    /// The deepest nesting of arrays accepted (arrays of arrays of ...). gguf-py writes nested
    /// arrays, llama.cpp reads none; the limit keeps a hostile file from exhausting the stack.
    static let maxArrayNesting = 16
    /// The most dimensions a tensor may have. ggml has 4 (GGML_MAX_DIMS); a little room is
    /// left for other writers, and the limit bounds what a hostile count can make us read.
    static let maxDimensions = 8
    /// Fewest bytes one metadata entry takes: an empty key (8), a type (4), a 1-byte value.
    static let minimumEntryBytes = 13
    /// Fewest bytes one tensor info takes: an empty name (8), n_dims (4), type (4), offset (8).
    static let minimumTensorInfoBytes = 24

    /// Parses and validates the header of GGUF `bytes`. `path` names the file in errors.
    static func parse(_ bytes: UnsafeRawBufferPointer, path: String) throws -> GGUFHeader {
        var c = GGUFCursor(bytes: bytes, path: path)
        try c.need(4, "the magic number")
        let magic = [bytes[0], bytes[1], bytes[2], bytes[3]]
        guard magic == Array("GGUF".utf8) else { throw GGUFError.notGGUF(path: path, foundMagic: magic) }
        c.offset = 4
        let version = try c.u32("the version")
        if (1...3).contains(version.byteSwapped) {
            // "GGUF" reads the same in both byte orders; the version does not.
            throw GGUFError.bigEndian(path: path, version: version.byteSwapped)
        }
        guard version == 2 || version == 3 else { throw GGUFError.unsupportedVersion(path: path, version: version) }

        let countsOffset = c.offset
        let tensorCount = try c.u64("the tensor count")
        let kvCount = try c.u64("the metadata key/value count")
        try c.needCount(kvCount, of: minimumEntryBytes, at: countsOffset + 8, "the \(kvCount) metadata entries the header announces")
        try c.needCount(tensorCount, of: minimumTensorInfoBytes, at: countsOffset, "the \(tensorCount) tensor infos the header announces")

        // Metadata.
        var metadata: [(key: String, value: GGUFValue)] = []
        var metadataIndex: [String: Int] = [:]
        var entryOffsets: [Int] = []
        metadata.reserveCapacity(Int(kvCount))
        for i in 0..<Int(kvCount) {
            let entryOffset = c.offset
            let key = try c.string("the key of metadata entry \(i) of \(kvCount)") { reason in
                GGUFError.invalidMetadata(path: path, key: "#\(i)", offset: entryOffset, reason: "the key is not valid UTF-8 (\(reason))")
            }
            guard metadataIndex[key] == nil else {
                throw GGUFError.invalidMetadata(path: path, key: key, offset: entryOffset, reason: "the key appears twice")
            }
            let typeOffset = c.offset
            let code = try c.u32("the value type of key '\(key)'")
            guard let type = GGUFValueType(rawValue: code) else {
                throw GGUFError.invalidMetadata(path: path, key: key, offset: typeOffset,
                    reason: "unknown value type code \(code) (known: 0...12)")
            }
            let value = try c.value(type, key: key, depth: 0)
            metadataIndex[key] = metadata.count
            metadata.append((key, value))
            entryOffsets.append(entryOffset)
        }

        var alignment = defaultAlignment
        if let i = metadataIndex["general.alignment"] {
            guard case let .uint32(a) = metadata[i].value else {
                throw GGUFError.invalidMetadata(path: path, key: "general.alignment", offset: entryOffsets[i],
                    reason: "it holds \(metadata[i].value.typeDescription), expected UINT32")
            }
            guard a != 0, a & (a - 1) == 0 else {
                throw GGUFError.invalidMetadata(path: path, key: "general.alignment", offset: entryOffsets[i],
                    reason: "alignment \(a) is not a power of two")
            }
            alignment = Int(a)
        }

        // Tensor infos.
        try c.needCount(tensorCount, of: minimumTensorInfoBytes, at: c.offset, "the \(tensorCount) tensor infos the header announces")
        var raw: [(name: String, dims: [Int], type: GGUFTensorType, offset: Int, elements: Int, bytes: Int, infoOffset: Int)] = []
        raw.reserveCapacity(Int(tensorCount))
        var tensorIndex: [String: Int] = [:]
        for i in 0..<Int(tensorCount) {
            let infoOffset = c.offset
            let name = try c.string("the name of tensor \(i) of \(tensorCount)") { reason in
                GGUFError.invalidTensorInfo(path: path, tensor: "#\(i)", offset: infoOffset, reason: "the name is not valid UTF-8 (\(reason))")
            }
            func bad(_ reason: String) -> GGUFError {
                GGUFError.invalidTensorInfo(path: path, tensor: name, offset: infoOffset, reason: reason)
            }
            guard tensorIndex[name] == nil else { throw bad("the name appears twice (tensor names must be unique)") }
            let nDims = try c.u32("the dimension count of tensor '\(name)'")
            guard nDims <= maxDimensions else { throw bad("it has \(nDims) dimensions; at most \(maxDimensions) are accepted (ggml uses 4)") }
            var dims: [Int] = []
            var elements = 1
            for d in 0..<Int(nDims) {
                let ne = try c.u64("dimension \(d) of tensor '\(name)'")
                guard ne >= 1, ne <= UInt64(Int.max) else { throw bad("dimension \(d) is \(ne); each must be at least 1 and at most \(Int.max)") }
                let (product, overflow) = elements.multipliedReportingOverflow(by: Int(ne))
                guard !overflow else { throw bad("its dimensions \(dims + [Int(clamping: ne)]) overflow the element count") }
                dims.append(Int(ne))
                elements = product
            }
            let typeCode = try c.u32("the type of tensor '\(name)'")
            guard let type = GGUFTensorType(rawValue: typeCode) else {
                throw GGUFError.unknownTensorType(path: path, tensor: name, offset: infoOffset, typeCode: typeCode)
            }
            let offset64 = try c.u64("the data offset of tensor '\(name)'")
            guard offset64 <= UInt64(Int.max) else { throw bad("data offset \(offset64) is beyond any file") }
            let offset = Int(offset64)
            guard offset % alignment == 0 else {
                throw bad("data offset \(offset) is not a multiple of the alignment \(alignment)")
            }
            let ne0 = dims.first ?? 1
            guard ne0 % type.blockSize == 0 else {
                throw bad("its first dimension ne0 = \(ne0) is not a multiple of the \(type.name) block size \(type.blockSize)")
            }
            // elements / blockSize * typeSize cannot overflow unless elements is near Int.max.
            let (byteCount, overflow) = (elements / type.blockSize).multipliedReportingOverflow(by: type.typeSize)
            guard !overflow else { throw bad("its \(elements) elements of \(type.name) need more bytes than any file holds") }
            tensorIndex[name] = raw.count
            raw.append((name, dims, type, offset, elements, byteCount, infoOffset))
        }

        // The data section starts at the next multiple of the alignment.
        let headerEnd = c.offset
        let dataOffset = headerEnd + (alignment - headerEnd % alignment) % alignment
        var infos: [GGUFTensorInfo] = []
        infos.reserveCapacity(raw.count)
        for r in raw {
            let (start, o1) = dataOffset.addingReportingOverflow(r.offset)
            let (end, o2) = start.addingReportingOverflow(r.bytes)
            guard !o1, !o2, end <= bytes.count else {
                let available = o1 ? 0 : max(0, bytes.count - start)
                throw GGUFError.truncated(path: path, offset: o1 ? Int.max : start,
                    reading: "the \(r.bytes) bytes of tensor '\(r.name)' (\(r.type.name) \(r.dims), data offset \(r.offset) + data section \(dataOffset))",
                    neededBytes: r.bytes, availableBytes: available)
            }
            infos.append(GGUFTensorInfo(name: r.name, dimensions: r.dims, type: r.type, offset: r.offset, fileOffset: start,
                                        elementCount: r.elements, byteCount: r.bytes, infoOffset: r.infoOffset))
        }
        // No two tensors may share bytes.
        let byStart = infos.indices.sorted { infos[$0].offset < infos[$1].offset }
        for (a, b) in zip(byStart, byStart.dropFirst()) where infos[a].offset + infos[a].byteCount > infos[b].offset {
            throw GGUFError.invalidTensorInfo(path: path, tensor: infos[b].name, offset: infos[b].infoOffset,
                reason: "its data at offset \(infos[b].offset) overlaps tensor '\(infos[a].name)' (offset \(infos[a].offset), \(infos[a].byteCount) bytes)")
        }
        return GGUFHeader(version: version, metadata: metadata, metadataIndex: metadataIndex, tensorInfos: infos,
                          tensorIndex: tensorIndex, alignment: alignment, dataOffset: dataOffset)
    }
}

/// A bounds-checked little-endian reader over the file's bytes. Every read checks the bytes
/// left first and throws `GGUFError.truncated` naming what it was reading; descriptions are
/// autoclosures so that the common, successful path builds no strings.
struct GGUFCursor {
    let bytes: UnsafeRawBufferPointer
    let path: String
    var offset = 0

    init(bytes: UnsafeRawBufferPointer, path: String) {
        self.bytes = bytes
        self.path = path
    }

    var remaining: Int { bytes.count - offset }

    func need(_ n: Int, _ what: @autoclosure () -> String) throws {
        guard n <= remaining else {
            throw GGUFError.truncated(path: path, offset: offset, reading: what(), neededBytes: n, availableBytes: remaining)
        }
    }

    /// Checks that `count` items of at least `minimum` bytes each fit in the bytes left, before
    /// anything is allocated for them; `at` is where the count was read.
    func needCount(_ count: UInt64, of minimum: Int, at: Int, _ what: @autoclosure () -> String) throws {
        guard count <= UInt64(remaining / minimum) else {
            let (needed, overflow) = count.multipliedReportingOverflow(by: UInt64(minimum))
            throw GGUFError.truncated(path: path, offset: at, reading: "\(what()) (at least \(minimum) bytes each)",
                                      neededBytes: overflow ? Int.max : Int(clamping: needed), availableBytes: remaining)
        }
    }

    mutating func integer<T: FixedWidthInteger>(_: T.Type, _ what: @autoclosure () -> String) throws -> T {
        try need(MemoryLayout<T>.size, what())
        let v = T(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: T.self))
        offset += MemoryLayout<T>.size
        return v
    }

    mutating func u32(_ what: @autoclosure () -> String) throws -> UInt32 { try integer(UInt32.self, what()) }
    mutating func u64(_ what: @autoclosure () -> String) throws -> UInt64 { try integer(UInt64.self, what()) }

    /// A GGUF string: a uint64 length (checked against the bytes left before anything is
    /// read or allocated) and that many bytes of UTF-8. `invalid` makes the error for bad UTF-8.
    mutating func string(_ what: @autoclosure () -> String, invalid: (String) -> GGUFError) throws -> String {
        let start = offset
        let length = try u64("the length of \(what())")
        guard length <= UInt64(remaining) else {
            throw GGUFError.truncated(path: path, offset: start, reading: "\(what()) (a string of \(length) bytes)",
                                      neededBytes: Int(clamping: length), availableBytes: remaining)
        }
        let n = Int(length)
        let slice = UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + n)])
        guard let s = String(validating: slice, as: UTF8.self) else {
            throw invalid("\(n) bytes at offset \(offset)")
        }
        offset += n
        return s
    }

    /// One metadata value of `type` for `key`; arrays recurse up to `GGUFHeader.maxArrayNesting`.
    mutating func value(_ type: GGUFValueType, key: String, depth: Int) throws -> GGUFValue {
        // A function, so that the autoclosures below build the description only on failure.
        func what() -> String { "the value of key '\(key)'" }
        switch type {
        case .uint8: return .uint8(try integer(UInt8.self, what()))
        case .int8: return .int8(try integer(Int8.self, what()))
        case .uint16: return .uint16(try integer(UInt16.self, what()))
        case .int16: return .int16(try integer(Int16.self, what()))
        case .uint32: return .uint32(try integer(UInt32.self, what()))
        case .int32: return .int32(try integer(Int32.self, what()))
        case .uint64: return .uint64(try integer(UInt64.self, what()))
        case .int64: return .int64(try integer(Int64.self, what()))
        case .float32: return .float32(Float(bitPattern: try integer(UInt32.self, what())))
        case .float64: return .float64(Double(bitPattern: try integer(UInt64.self, what())))
        case .bool:
            let at = offset
            let b = try integer(UInt8.self, what())
            guard b <= 1 else {
                throw GGUFError.invalidMetadata(path: path, key: key, offset: at, reason: "a BOOL must be 0 or 1, found \(b)")
            }
            return .bool(b == 1)
        case .string:
            let at = offset, path = self.path
            return .string(try string(what()) { reason in
                GGUFError.invalidMetadata(path: path, key: key, offset: at, reason: "the string is not valid UTF-8 (\(reason))")
            })
        case .array:
            let at = offset
            let code = try u32("the element type of array '\(key)'")
            guard let elementType = GGUFValueType(rawValue: code) else {
                throw GGUFError.invalidMetadata(path: path, key: key, offset: at, reason: "unknown array element type code \(code) (known: 0...12)")
            }
            if elementType == .array && depth + 1 >= GGUFHeader.maxArrayNesting {
                throw GGUFError.invalidMetadata(path: path, key: key, offset: at,
                    reason: "arrays are nested more than \(GGUFHeader.maxArrayNesting) deep")
            }
            let count = try u64("the element count of array '\(key)'")
            try needCount(count, of: elementType.minimumEncodedSize, at: at,
                          "the \(count) \(elementType.name) elements of array '\(key)'")
            var elements: [GGUFValue] = []
            elements.reserveCapacity(Int(count))
            for _ in 0..<Int(count) { elements.append(try value(elementType, key: key, depth: depth + 1)) }
            return .array(elementType, elements)
        }
    }
}
