import Foundation
import XCTest
@testable import Tokenizers

/// Reads the `tokenizer.ggml.*` metadata of a GGUF file, for tests only: `Tokenizers` has no GGUF
/// reader (Interop owns the real one), but the SmolLM2 parity test needs the arrays of the real
/// model. GGUF v2/v3: magic "GGUF", version, tensor count, key-value count, then the key-values
/// (key string, value type, value); little-endian, strings as u64 length + bytes.
enum GGUFMetadataReader {
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    enum Value {
        case int(Int64), float(Double), bool(Bool), string(String), array([Value])
    }

    static func read(_ path: String) throws -> [String: Value] {
        let data = try Data(contentsOf: URL(fileURLWithPath: path), options: .alwaysMapped)
        return try data.withUnsafeBytes { raw -> [String: Value] in
            var offset = 0
            func take(_ n: Int) throws -> UnsafeRawBufferPointer {
                guard n >= 0, offset + n <= raw.count else { throw Failure(description: "\(path): truncated at \(offset)") }
                defer { offset += n }
                return UnsafeRawBufferPointer(rebasing: raw[offset..<(offset + n)])
            }
            func u32() throws -> UInt32 { try take(4).loadUnaligned(as: UInt32.self).littleEndian }
            func u64() throws -> UInt64 { try take(8).loadUnaligned(as: UInt64.self).littleEndian }
            func string() throws -> String {
                let n = try u64()
                guard n < 1 << 30 else { throw Failure(description: "\(path): string of \(n) bytes at \(offset)") }
                return String(decoding: try take(Int(n)), as: UTF8.self)
            }
            func value(_ type: UInt32) throws -> Value {
                switch type {
                case 0: return .int(Int64(try take(1)[0]))
                case 1: return .int(Int64(Int8(bitPattern: try take(1)[0])))
                case 2: return .int(Int64(try take(2).loadUnaligned(as: UInt16.self).littleEndian))
                case 3: return .int(Int64(try take(2).loadUnaligned(as: Int16.self).littleEndian))
                case 4: return .int(Int64(try u32()))
                case 5: return .int(Int64(Int32(bitPattern: try u32())))
                case 6: return .float(Double(Float(bitPattern: try u32())))
                case 7: return .bool(try take(1)[0] != 0)
                case 8: return .string(try string())
                case 9:
                    let elementType = try u32()
                    let count = try u64()
                    guard count < 1 << 26 else { throw Failure(description: "\(path): array of \(count) at \(offset)") }
                    var items: [Value] = []
                    items.reserveCapacity(Int(count))
                    for _ in 0..<count { items.append(try value(elementType)) }
                    return .array(items)
                case 10: return .int(Int64(bitPattern: try u64()))
                case 11: return .int(Int64(bitPattern: try u64()))
                case 12: return .float(Double(bitPattern: try u64()))
                default: throw Failure(description: "\(path): value type \(type) at \(offset)")
                }
            }
            guard try u32() == 0x4655_4747 else { throw Failure(description: "\(path): not a GGUF file") }
            let version = try u32()
            guard version == 2 || version == 3 else { throw Failure(description: "\(path): GGUF version \(version)") }
            _ = try u64()
            let count = try u64()
            var out: [String: Value] = [:]
            for _ in 0..<count {
                let key = try string()
                out[key] = try value(try u32())
            }
            return out
        }
    }

    /// The tokenizer metadata of the file as `GGUFTokenizerMetadata`.
    static func tokenizerMetadata(_ path: String) throws -> GGUFTokenizerMetadata {
        let kv = try read(path)
        func string(_ key: String) -> String? { if case .string(let s)? = kv["tokenizer.ggml." + key] { return s }; return nil }
        func int(_ key: String) -> Int32? { if case .int(let v)? = kv["tokenizer.ggml." + key] { return Int32(v) }; return nil }
        func bool(_ key: String) -> Bool? { if case .bool(let v)? = kv["tokenizer.ggml." + key] { return v }; return nil }
        func array(_ key: String) -> [Value]? { if case .array(let v)? = kv["tokenizer.ggml." + key] { return v }; return nil }
        let tokens = array("tokens")?.compactMap { v -> String? in if case .string(let s) = v { return s }; return nil } ?? []
        return GGUFTokenizerMetadata(
            model: string("model") ?? "", pre: string("pre"), tokens: tokens,
            tokenTypes: array("token_type")?.compactMap { if case .int(let v) = $0 { return Int32(v) }; return nil },
            scores: array("scores")?.compactMap { if case .float(let v) = $0 { return Float(v) }; return nil },
            merges: array("merges")?.compactMap { if case .string(let s) = $0 { return s }; return nil },
            bosTokenID: int("bos_token_id"), eosTokenID: int("eos_token_id"), unknownTokenID: int("unknown_token_id"),
            paddingTokenID: int("padding_token_id"), addBOSToken: bool("add_bos_token"), addSpacePrefix: bool("add_space_prefix"))
    }
}
