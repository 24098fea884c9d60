import Checkpoints
import Foundation

extension GGUFImport {
    /// The special ids and the chat template of `file`'s `tokenizer.*` metadata: BOS, the EOS
    /// and end-of-turn ids (`tokenizer.ggml.eos_token_id`, `eot_token_id`, `eom_token_id`),
    /// and `tokenizer.chat_template`.
    static func addTokenizer(_ file: GGUFFile, to imported: inout ModelImport.Imported) throws {
        if file.contains(key: "tokenizer.ggml.bos_token_id") { imported.bos = Int32(try file.int("tokenizer.ggml.bos_token_id")) }
        for key in ["tokenizer.ggml.eos_token_id", "tokenizer.ggml.eot_token_id", "tokenizer.ggml.eom_token_id"]
        where file.contains(key: key) {
            let id = Int32(try file.int(key))
            if !imported.stopTokenIDs.contains(id) { imported.stopTokenIDs.append(id) }
        }
        if file.contains(key: "tokenizer.chat_template") { imported.chatTemplate = try file.string("tokenizer.chat_template") }
    }
}
