import Checkpoints
import Foundation
import Tokenizers

extension GGUFImport {
    /// The tokenizer of `file`'s `tokenizer.ggml.*` metadata as a tokenizer.json (built by
    /// `BPETokenizer.fromGGUF`, which refuses a model or pre-tokenizer it does not know), the
    /// BOS id, the EOS and end-of-turn ids (`eos_token_id`, `eot_token_id`, `eom_token_id`),
    /// and `tokenizer.chat_template` with the BOS/EOS texts it sees.
    static func addTokenizer(_ file: GGUFFile, to imported: inout ModelImport.Imported) throws {
        func id(_ key: String) throws -> Int32? { file.contains(key: key) ? Int32(try file.int(key)) : nil }
        func bool(_ key: String) throws -> Bool? { file.contains(key: key) ? try file.bool(key) : nil }
        imported.bos = try id("tokenizer.ggml.bos_token_id")
        for key in ["tokenizer.ggml.eos_token_id", "tokenizer.ggml.eot_token_id", "tokenizer.ggml.eom_token_id"] {
            if let id = try id(key), !imported.stopTokenIDs.contains(id) { imported.stopTokenIDs.append(id) }
        }
        if file.contains(key: "tokenizer.chat_template") { imported.chatTemplate = try file.string("tokenizer.chat_template") }
        guard file.contains(key: "tokenizer.ggml.model") else { return }
        let tokens = try file.stringArray("tokenizer.ggml.tokens")
        let metadata = GGUFTokenizerMetadata(
            model: try file.string("tokenizer.ggml.model"),
            pre: file.contains(key: "tokenizer.ggml.pre") ? try file.string("tokenizer.ggml.pre") : nil,
            tokens: tokens,
            tokenTypes: file.contains(key: "tokenizer.ggml.token_type") ? try file.intArray("tokenizer.ggml.token_type").map { Int32(clamping: $0) } : nil,
            scores: file.contains(key: "tokenizer.ggml.scores") ? try file.floatArray("tokenizer.ggml.scores").map(Float.init) : nil,
            merges: file.contains(key: "tokenizer.ggml.merges") ? try file.stringArray("tokenizer.ggml.merges") : nil,
            bosTokenID: imported.bos, eosTokenID: try id("tokenizer.ggml.eos_token_id"),
            unknownTokenID: try id("tokenizer.ggml.unknown_token_id"), paddingTokenID: try id("tokenizer.ggml.padding_token_id"),
            addBOSToken: try bool("tokenizer.ggml.add_bos_token"), addSpacePrefix: try bool("tokenizer.ggml.add_space_prefix"))
        let json: String
        do {
            json = try BPETokenizer.fromGGUF(metadata).tokenizerJSON
        } catch let e as TokenizerError {
            throw InteropError.unsupported(path: file.path, key: "tokenizer.ggml", reason: "\(e)")
        }
        imported.tokenizerJSON = Data(json.utf8)
        func text(_ id: Int32?) -> String? { id.flatMap { tokens.indices.contains(Int($0)) ? tokens[Int($0)] : nil } }
        imported.bosToken = text(imported.bos)
        imported.eosToken = text(metadata.eosTokenID)
    }
}
