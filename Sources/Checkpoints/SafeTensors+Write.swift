import Autograd
import Foundation

extension SafeTensors {
    /// Writes `tensors` as Float32 safetensors to `url` (names in order, metadata in
    /// `__metadata__` plus `"format": "pt"` when the metadata has no `format` key: Hugging Face
    /// transformers refuses files whose metadata lacks it), streaming each tensor's bytes, and
    /// fsyncs the file. The file is replaced atomically (temporary sibling, then rename): a
    /// failure leaves any previous file at `url` untouched.
    /// Throws `invalidTensorName` for an empty name or `__metadata__`.
    public static func write(_ tensors: NamedTensors, to url: URL) throws {
        let header = try encodeHeader(tensors, path: url.path)
        try replaceFileAtomically(path: url.path) { tmp in
            try writeFileDurably(path: tmp) { write in
                try header.withUnsafeBytes { try write($0) }
                for e in tensors.entries {
                    try e.tensor.withUnsafeBufferPointer { try write(UnsafeRawBufferPointer($0)) }
                }
            }
        }
    }

    /// The complete safetensors file for `tensors`, in memory.
    public static func encode(_ tensors: NamedTensors) throws -> Data {
        var data = try encodeHeader(tensors, path: "<memory>")
        data.reserveCapacity(data.count + tensors.totalElements * 4)
        for e in tensors.entries {
            e.tensor.withUnsafeBufferPointer { data.append(contentsOf: UnsafeRawBufferPointer($0)) }
        }
        return data
    }

    /// The 8-byte size prefix and the space-padded JSON header (8 + N a multiple of 8).
    static func encodeHeader(_ tensors: NamedTensors, path: String) throws -> Data {
        #if _endian(big)
        preconditionFailure("SafeTensors: writing on a big-endian host is not supported")
        #endif
        var json = "{"
        var metadata = tensors.metadata
        if metadata["format"] == nil { metadata["format"] = "pt" }
        json += "\"__metadata__\":{"
        json += metadata.keys.sorted().map { k in
            jsonString(k) + ":" + jsonString(metadata[k] ?? "")
        }.joined(separator: ",")
        json += "}"
        var offset = 0
        for e in tensors.entries {
            guard !e.name.isEmpty, e.name != "__metadata__" else {
                throw CheckpointError.invalidTensorName(path: path, tensor: e.name, reason: "is reserved or empty")
            }
            let bytes = e.tensor.count * 4
            json += "," + jsonString(e.name) + ":{\"dtype\":\"F32\",\"shape\":["
            json += e.tensor.shape.map(String.init).joined(separator: ",")
            json += "],\"data_offsets\":[\(offset),\(offset + bytes)]}"
            offset += bytes
        }
        json += "}"
        var body = Array(json.utf8)
        while (8 + body.count) % 8 != 0 { body.append(UInt8(ascii: " ")) }
        var data = Data(capacity: 8 + body.count)
        var n = UInt64(body.count).littleEndian
        withUnsafeBytes(of: &n) { data.append(contentsOf: $0) }
        data.append(contentsOf: body)
        return data
    }

    /// A JSON string literal for `s` (Foundation's escaping: the header is small).
    static func jsonString(_ s: String) -> String {
        // A single string always serialises as a JSON fragment; the fallback is unreachable.
        let data = (try? JSONSerialization.data(withJSONObject: s, options: [.fragmentsAllowed, .withoutEscapingSlashes])) ?? Data("\"\"".utf8)
        return String(decoding: data, as: UTF8.self)
    }
}
