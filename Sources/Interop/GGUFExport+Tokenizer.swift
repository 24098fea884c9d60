import Checkpoints
import Datasets
import Foundation
import Tokenizers

extension GGUFExport {
    /// The pre-tokenizer names llama.cpp knows, tried in this order to name a tokenizer.json's.
    static let preTokenizers = ["gpt2", "smollm", "llama-bpe", "qwen2"]

    /// Adds `tokenizer.ggml.*` for a byte-level BPE tokenizer.json (model `gpt2`: tokens by id,
    /// token types, merges, the pre-tokenizer's llama.cpp name, BOS/EOS/padding ids,
    /// `add_bos_token`) and `tokenizer.chat_template` for `template` (a model's Jinja template,
    /// or the Jinja text of the built-in chatml and llama3). SentencePiece-style tokenizers
    /// (byte fallback) and pre-tokenizers llama.cpp has no name for are refused naming them.
    static func addTokenizer(_ w: inout GGUFWriter, tokenizerJSON data: Data, card: ModelCard, path: String) throws {
        guard let root = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let model = root["model"] as? [String: Any], let vocab = model["vocab"] as? [String: Any] else {
            throw InteropError.invalid(path: path, reason: "tokenizer.json is not a BPE tokenizer with a `model.vocab` object")
        }
        if (model["type"] as? String).map({ $0 != "BPE" }) ?? false || (model["byte_fallback"] as? Bool) == true {
            throw InteropError.unsupported(path: path, key: "model.byte_fallback",
                                           reason: "GGUF export writes byte-level BPE tokenizers (llama.cpp's \"gpt2\" model); SentencePiece-style ones are not implemented: export with --format hf")
        }
        let pre = try preTokenizerName(root, path: path)
        var byID: [Int: String] = [:]
        for (token, id) in vocab { if let id = (id as? NSNumber)?.intValue { byID[id] = token } }
        var types: [Int: Int32] = [:]
        for entry in root["added_tokens"] as? [[String: Any]] ?? [] {
            guard let id = (entry["id"] as? NSNumber)?.intValue, let content = entry["content"] as? String else { continue }
            byID[id] = content
            types[id] = (entry["special"] as? Bool) == true ? 3 : 4
        }
        let count = max(card.config.vocabSize, (byID.keys.max() ?? -1) + 1)
        var tokens: [GGUFValue] = [], tokenTypes: [GGUFValue] = []
        for id in 0..<count {
            if let t = byID[id] {
                tokens.append(.string(t))
                tokenTypes.append(.int32(types[id] ?? 1))
            } else {
                tokens.append(.string("[PAD\(id)]"))  // llama.cpp's name for ids the vocabulary leaves empty
                tokenTypes.append(.int32(5))
            }
        }
        let merges: [GGUFValue] = (model["merges"] as? [Any] ?? []).compactMap { m in
            if let s = m as? String { return .string(s) }
            if let p = m as? [String], p.count == 2 { return .string(p[0] + " " + p[1]) }
            return nil
        }
        try w.add("tokenizer.ggml.model", .string("gpt2"))
        try w.add("tokenizer.ggml.pre", .string(pre))
        try w.add("tokenizer.ggml.tokens", .array(.string, tokens))
        try w.add("tokenizer.ggml.token_type", .array(.int32, tokenTypes))
        try w.add("tokenizer.ggml.merges", .array(.string, merges))
        let tokenizer = try BPETokenizer(tokenizerJSONText: String(decoding: data, as: UTF8.self), source: path)
        if let bos = card.bosTokenID { try w.add("tokenizer.ggml.bos_token_id", .uint32(UInt32(bos))) }
        let stops = Self.eosFirst(card, tokenizer: tokenizer)
        if let eos = stops.first {
            try w.add("tokenizer.ggml.eos_token_id", .uint32(UInt32(eos)))
            try w.add("tokenizer.ggml.padding_token_id", .uint32(UInt32(eos)))
        }
        if stops.count > 1 { try w.add("tokenizer.ggml.eot_token_id", .uint32(UInt32(stops[1]))) }
        try w.add("tokenizer.ggml.add_bos_token", .bool(tokenizer.addsBOS))
        try w.add("tokenizer.ggml.add_eos_token", .bool(false))
        if let template = chatTemplate(card.template) { try w.add("tokenizer.chat_template", .string(template)) }
    }

    /// The card's stop ids with the chat template's end of turn first. transformers reads only
    /// `eos_token_id` from a GGUF as its stop id, and a chat model ends each answer with its
    /// end-of-turn token (`<|im_end|>` for ChatML), not the tokenizer's end of text; llama.cpp
    /// stops at `eos_token_id` and `eot_token_id` alike. SmolLM2's own GGUF names `<|im_end|>`
    /// as its EOS the same way (and transformers' tokenizer_config does).
    static func eosFirst(_ card: ModelCard, tokenizer: BPETokenizer) -> [Int32] {
        // A model's own (Jinja) template names its end of turn as the template's `eos_token`.
        var end = card.template.endOfTurn
        if case let .jinja(template) = card.template { end = template.eosToken }
        guard let end, let id = tokenizer.specialTokenID(end),
              card.stopTokenIDs.contains(id) else { return card.stopTokenIDs }
        return [id] + card.stopTokenIDs.filter { $0 != id }
    }

    /// llama.cpp's name for the tokenizer.json's normalizer and pre-tokenizer: the one of
    /// `preTokenizers` whose tokenizer.json (as `BPETokenizer.fromGGUF` writes it) has the same.
    static func preTokenizerName(_ root: [String: Any], path: String) throws -> String {
        let bytes = (0..<256).map { ByteLevel.encode([UInt8($0)]) }
        for name in preTokenizers {
            let text = try BPETokenizer.tokenizerJSON(fromGGUF: GGUFTokenizerMetadata(model: "gpt2", pre: name, tokens: bytes, merges: []))
            guard let candidate = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] else { continue }
            let same = ["normalizer", "pre_tokenizer"].allSatisfy { key in
                NSDictionary(dictionary: ["v": candidate[key] ?? NSNull()]).isEqual(to: ["v": root[key] ?? NSNull()])
            }
            if same { return name }
        }
        throw InteropError.unsupported(path: path, key: "pre_tokenizer",
                                       reason: "llama.cpp has no name for this normalizer and pre-tokenizer (GGUF export knows GPT-2's, SmolLM's, Llama 3's and Qwen2's); export with --format hf")
    }

    /// The Jinja text of `template` for other tools, or nil for templates that have none
    /// (plain, alpaca, custom).
    public static func chatTemplate(_ template: TemplateKind) -> String? {
        switch template {
        case let .jinja(t): return t.source
        case .chatml:
            return "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}"
                + "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
        case .llama3:
            return "{{ bos_token }}{% for message in messages %}{{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' + message['content'] + '<|eot_id|>' }}{% endfor %}"
                + "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}"
        default: return nil
        }
    }

    /// Writes a checkpoint as a GGUF file: the weights (merged for LoRA) in `type`, the Llama
    /// metadata, the tokenizer and the chat template. Written to a temporary file and renamed.
    public static func write(_ checkpoint: Checkpoint, card: ModelCard, type: TensorType, to url: URL) throws -> URL {
        let (_, parameters) = try CheckpointWeights.load(checkpoint, card: card)
        var w = try modelWriter(config: card.config, parameters: parameters, type: type, name: checkpoint.directory.path)
        guard card.tokenizer == "tokenizer.json", checkpoint.contains("tokenizer.json") else {
            throw InteropError.unsupported(path: checkpoint.directory.path, key: "tokenizer",
                                           reason: "GGUF needs the tokenizer in the file; this checkpoint's is \(card.tokenizer.isEmpty ? "missing" : card.tokenizer), not a tokenizer.json")
        }
        try addTokenizer(&w, tokenizerJSON: try checkpoint.data("tokenizer.json"), card: card, path: checkpoint.directory.path)
        try w.write(to: url)
        return url
    }
}
