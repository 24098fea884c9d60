import Foundation

extension BPETokenizer {
    /// This tokenizer as a Hugging Face `tokenizer.json` (format version 1.0) that
    /// `tokenizers.Tokenizer.from_file` loads and that gives the same ids: a BPE model with
    /// the vocabulary in id order, merges in rank order (`"a b"` strings, or `["a", "b"]` pairs
    /// when a token holds a space), the added tokens, and ByteLevel pre-tokenizer and decoder.
    /// The text is deterministic: the same tokenizer always gives the same bytes. A tokenizer
    /// loaded from a tokenizer.json with other components (a normalizer, another pre-tokenizer,
    /// byte fallback, a post-processor...) or built from GGUF metadata gives that text back unchanged.
    public func tokenizerJSON() -> String {
        if let sourceJSON { return sourceJSON }
        var out = Self.headerJSON(addedTokens)
        out += "  \"normalizer\": null,\n"
        out += "  \"pre_tokenizer\": {\"type\": \"ByteLevel\", \"add_prefix_space\": \(addPrefixSpace), "
        out += "\"trim_offsets\": true, \"use_regex\": true},\n"
        out += "  \"post_processor\": null,\n"
        out += "  \"decoder\": {\"type\": \"ByteLevel\", \"add_prefix_space\": true, \"trim_offsets\": true, \"use_regex\": true},\n"
        out += "  \"model\": {\n    \"type\": \"BPE\",\n    \"dropout\": null,\n"
        out += "    \"unk_token\": \(unknownTokenID.map { JSONText.quoted(tokenStrings[Int($0)]) } ?? "null"),\n"
        out += "    \"continuing_subword_prefix\": null,\n    \"end_of_word_suffix\": null,\n"
        out += "    \"fuse_unk\": false,\n    \"byte_fallback\": false,\n    \"ignore_merges\": false,\n"
        out += "    \"vocab\": {"
        var first = true
        for id in 0..<tokenStrings.count where inModelVocabulary[id] {
            out += first ? "\n      " : ",\n      "
            first = false
            out += "\(JSONText.quoted(tokenStrings[id])): \(id)"
        }
        out += "\n    },\n    \"merges\": ["
        let pairs = merges.contains { tokenStrings[Int($0.0)].contains(" ") || tokenStrings[Int($0.1)].contains(" ") }
        for (i, (a, b)) in merges.enumerated() {
            out += i == 0 ? "\n      " : ",\n      "
            let sa = tokenStrings[Int(a)], sb = tokenStrings[Int(b)]
            out += pairs ? "[\(JSONText.quoted(sa)), \(JSONText.quoted(sb))]" : JSONText.quoted(sa + " " + sb)
        }
        out += merges.isEmpty ? "]\n  }\n}\n" : "\n    ]\n  }\n}\n"
        return out
    }

    /// Writes `tokenizerJSON()` to `path` (through a temporary file, then a rename).
    public func save(to path: String) throws {
        let temporary = path + ".tmp"
        do {
            try Data(tokenizerJSON().utf8).write(to: URL(fileURLWithPath: temporary))
            if FileManager.default.fileExists(atPath: path) { try FileManager.default.removeItem(atPath: path) }
            try FileManager.default.moveItem(atPath: temporary, toPath: path)
        } catch {
            throw TokenizerError.writeFailed(path: path, detail: "\(error.localizedDescription)")
        }
    }

    /// The start of a tokenizer.json: version, no truncation or padding, and `added_tokens`.
    static func headerJSON(_ added: [AddedToken]) -> String {
        var out = "{\n  \"version\": \"1.0\",\n  \"truncation\": null,\n  \"padding\": null,\n  \"added_tokens\": ["
        for (i, t) in added.enumerated() {
            out += i == 0 ? "\n" : ",\n"
            out += "    {\"id\": \(t.id), \"content\": \(JSONText.quoted(t.content)), \"single_word\": false, "
            out += "\"lstrip\": \(t.lstrip), \"rstrip\": \(t.rstrip), \"normalized\": \(t.normalized), \"special\": \(t.special)}"
        }
        return out + (added.isEmpty ? "],\n" : "\n  ],\n")
    }
}
