import Foundation
import Tokenizers

/// A test-only tokenizer: one id per UTF-8 byte (0...255) plus a few special tokens.
/// Decoding is exact, so tests can read masks back as text.
struct ByteTokenizer: TextTokenizer {
    static let specials = ["<|endoftext|>", "<s>", "<|im_start|>", "<|im_end|>",
                           "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"]
    let hasBOS: Bool
    let hasEOS: Bool
    /// Changes `fingerprintBytes()` without changing ids (stands for a changed vocabulary).
    let salt: String

    init(hasBOS: Bool = false, hasEOS: Bool = true, salt: String = "") {
        self.hasBOS = hasBOS
        self.hasEOS = hasEOS
        self.salt = salt
    }

    var vocabularySize: Int { 256 + Self.specials.count }

    func encode(_ text: String, allowSpecial: Bool) -> [Int32] {
        guard allowSpecial else { return Array(text.utf8).map { Int32($0) } }
        var ids: [Int32] = []
        var rest = Substring(text)
        outer: while !rest.isEmpty {
            for (i, s) in Self.specials.enumerated() where rest.hasPrefix(s) {
                ids.append(Int32(256 + i))
                rest = rest.dropFirst(s.count)
                continue outer
            }
            ids += Array(String(rest.first!).utf8).map { Int32($0) }
            rest = rest.dropFirst()
        }
        return ids
    }

    func decode(_ ids: [Int32]) -> String {
        var bytes: [UInt8] = []
        var out = ""
        for id in ids {
            if id < 256 { bytes.append(UInt8(id)); continue }
            out += String(decoding: bytes, as: UTF8.self)
            bytes = []
            out += Self.specials[Int(id) - 256]
        }
        return out + String(decoding: bytes, as: UTF8.self)
    }

    func specialTokenID(_ token: String) -> Int32? {
        Self.specials.firstIndex(of: token).map { Int32(256 + $0) }
    }

    var bosTokenID: Int32? { hasBOS ? 257 : nil }
    var eosTokenID: Int32? { hasEOS ? 256 : nil }

    func fingerprintBytes() -> [UInt8] { Array(("byte-tokenizer" + salt).utf8) }
}

/// A scratch directory removed at deinit.
final class TempDir {
    let path: String
    init() {
        path = NSTemporaryDirectory() + "/ik-datasets-\(UUID().uuidString)"
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    deinit { try? FileManager.default.removeItem(atPath: path) }

    /// Writes `text` (or raw `bytes`) to `name` and returns the path.
    @discardableResult
    func write(_ name: String, _ text: String) -> String { write(name, bytes: Array(text.utf8)) }
    @discardableResult
    func write(_ name: String, bytes: [UInt8]) -> String {
        let p = path + "/" + name
        _ = FileManager.default.createFile(atPath: p, contents: Data(bytes))
        return p
    }
}

/// The shared reference data folder, or nil (with the reason printed by the caller's skip).
func sharedDataset(_ name: String) -> String? {
    let here = URL(fileURLWithPath: #filePath)
    let repo = here.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    let p = repo.deletingLastPathComponent().appendingPathComponent("shared/datasets/instruct/\(name)").path
    return FileManager.default.fileExists(atPath: p) ? p : nil
}
