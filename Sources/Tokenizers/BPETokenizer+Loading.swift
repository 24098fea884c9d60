import Foundation

extension BPETokenizer {
    /// Loads a Hugging Face `tokenizer.json` whose model is byte-level BPE.
    ///
    /// Accepted: `model.type` "BPE" with `vocab` and `merges` (as `"a b"` strings or `["a", "b"]`
    /// pairs), `added_tokens` (special or not), a `ByteLevel` pre-tokenizer (alone or in a
    /// `Sequence`), no normalizer, no `byte_fallback`, `ignore_merges` or `dropout`. Added tokens' `lstrip`/`rstrip` are honoured; `single_word` is refused. Anything else throws `TokenizerError.unsupported` rather than
    /// tokenizing differently from HF. Post-processors are ignored: encode never adds BOS/EOS.
    public convenience init(tokenizerJSON path: String) throws {
        let root = try readJSONObject(path)
        guard let model = root["model"] as? [String: Any] else {
            throw TokenizerError.missingKey(path: path, key: "model", expected: "an object")
        }
        if let type = model["type"] as? String, type != "BPE" {
            throw TokenizerError.unsupported(path: path, key: "model.type", found: "\"\(type)\"")
        }
        for flag in ["byte_fallback", "ignore_merges"] {
            if let value = model[flag] as? Bool, value {
                throw TokenizerError.unsupported(path: path, key: "model.\(flag)", found: "true")
            }
        }
        if let dropout = model["dropout"], !(dropout is NSNull), (dropout as? NSNumber)?.doubleValue != 0 {
            throw TokenizerError.unsupported(path: path, key: "model.dropout", found: "\(dropout)")
        }
        for key in ["continuing_subword_prefix", "end_of_word_suffix"] {
            if let s = model[key] as? String, !s.isEmpty {
                throw TokenizerError.unsupported(path: path, key: "model.\(key)", found: "\"\(s)\"")
            }
        }
        if let normalizer = root["normalizer"], !(normalizer is NSNull) {
            throw TokenizerError.unsupported(path: path, key: "normalizer", found: describeType(normalizer))
        }
        let addPrefixSpace = try byteLevelPrefixSpace(root["pre_tokenizer"], path: path)
        let vocab = try parseVocab(model["vocab"], path: path, key: "model.vocab")
        guard let rawMerges = model["merges"] as? [Any] else {
            throw TokenizerError.missingKey(path: path, key: "model.merges", expected: "an array")
        }
        var merges: [(String, String)] = []
        merges.reserveCapacity(rawMerges.count)
        for (index, entry) in rawMerges.enumerated() {
            if let s = entry as? String {
                let parts = s.split(separator: " ", omittingEmptySubsequences: false)
                guard parts.count == 2 else { throw TokenizerError.malformedMerge(path: path, line: index + 1, text: s) }
                merges.append((String(parts[0]), String(parts[1])))
            } else if let pair = entry as? [Any], pair.count == 2, let a = pair[0] as? String, let b = pair[1] as? String {
                merges.append((a, b))
            } else {
                throw TokenizerError.malformedMerge(path: path, line: index + 1, text: "\(entry)")
            }
        }
        var added: [AddedToken] = []
        if let rawAdded = root["added_tokens"], !(rawAdded is NSNull) {
            guard let list = rawAdded as? [Any] else {
                throw TokenizerError.missingKey(path: path, key: "added_tokens", expected: "an array")
            }
            for (index, item) in list.enumerated() {
                guard let obj = item as? [String: Any], let id = (obj["id"] as? NSNumber)?.intValue,
                      let content = obj["content"] as? String
                else {
                    throw TokenizerError.missingKey(
                        path: path, key: "added_tokens[\(index)]", expected: "an object with 'id' and 'content'")
                }
                let special = (obj["special"] as? Bool) ?? false
                if let singleWord = obj["single_word"] as? Bool, singleWord {
                    throw TokenizerError.unsupported(path: path, key: "added_tokens[\(index)].single_word", found: "true")
                }
                added.append(AddedToken(id: Int32(clamping: id), content: content, special: special,
                                        lstrip: (obj["lstrip"] as? Bool) ?? false, rstrip: (obj["rstrip"] as? Bool) ?? false))
            }
        }
        let unk = model["unk_token"] as? String
        try self.init(vocab: vocab, merges: merges, addedTokens: added, addPrefixSpace: addPrefixSpace,
                      unknownToken: unk, bosToken: BPETokenizer.defaultBOS(added), eosToken: BPETokenizer.defaultEOS(added),
                      source: path)
    }

    /// Loads GPT-2's `vocab.json` + `merges.txt` (a leading `#version` line is optional).
    /// `<|endoftext|>`, when in the vocabulary, becomes a special token and the EOS id.
    public convenience init(vocabJSON vocabPath: String, mergesTXT mergesPath: String) throws {
        let root = try readJSONAny(vocabPath)
        let vocab = try parseVocab(root, path: vocabPath, key: "(top level)")
        guard FileManager.default.isReadableFile(atPath: mergesPath),
              let data = FileManager.default.contents(atPath: mergesPath)
        else { throw TokenizerError.fileNotFound(path: mergesPath) }
        guard let text = String(data: data, encoding: .utf8) else {
            throw TokenizerError.malformedMerge(path: mergesPath, line: 0, text: "file is not UTF-8")
        }
        var merges: [(String, String)] = []
        for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            var line = Substring(line)
            if line.hasSuffix("\r") { line = line.dropLast() }
            if line.isEmpty || (index == 0 && line.hasPrefix("#version")) { continue }
            let parts = line.split(separator: " ", omittingEmptySubsequences: false)
            guard parts.count == 2 else {
                throw TokenizerError.malformedMerge(path: mergesPath, line: index + 1, text: String(line))
            }
            let (a, b) = (String(parts[0]), String(parts[1]))
            // Checked here too so the error names the file's line, not the merge's rank.
            for token in [a, b, a + b] where vocab[token] == nil {
                throw TokenizerError.unknownTokenInMerge(path: mergesPath, line: index + 1, token: token)
            }
            merges.append((a, b))
        }
        var added: [AddedToken] = []
        let eot = "<|endoftext|>"
        if let id = vocab[eot] { added.append(AddedToken(id: id, content: eot, special: true)) }
        try self.init(vocab: vocab, merges: merges, addedTokens: added,
                      bosToken: nil, eosToken: BPETokenizer.defaultEOS(added), source: mergesPath)
    }

    /// BOS by convention: the first special token among `<s>`, `<|begin_of_text|>`, `<bos>`.
    static func defaultBOS(_ added: [AddedToken]) -> String? {
        ["<s>", "<|begin_of_text|>", "<bos>"].first { t in added.contains { $0.special && $0.content == t } }
    }

    /// EOS by convention: the first special token among `<|endoftext|>`, `</s>`, `<|end_of_text|>`, `<eos>`.
    static func defaultEOS(_ added: [AddedToken]) -> String? {
        ["<|endoftext|>", "</s>", "<|end_of_text|>", "<eos>"].first { t in added.contains { $0.special && $0.content == t } }
    }
}

func readJSONAny(_ path: String) throws -> Any {
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue,
          let data = FileManager.default.contents(atPath: path)
    else { throw TokenizerError.fileNotFound(path: path) }
    do {
        return try JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])
    } catch {
        let ns = error as NSError
        let detail = (ns.userInfo[NSDebugDescriptionErrorKey] as? String) ?? ns.localizedDescription
        throw TokenizerError.malformedJSON(path: path, detail: detail)
    }
}

func readJSONObject(_ path: String) throws -> [String: Any] {
    guard let obj = try readJSONAny(path) as? [String: Any] else {
        throw TokenizerError.missingKey(path: path, key: "(top level)", expected: "a JSON object")
    }
    return obj
}

private func describeType(_ value: Any) -> String {
    if let obj = value as? [String: Any], let type = obj["type"] as? String { return "type \"\(type)\"" }
    return "\(value)"
}

private func parseVocab(_ value: Any?, path: String, key: String) throws -> [String: Int32] {
    guard let dict = value as? [String: Any] else {
        throw TokenizerError.missingKey(path: path, key: key, expected: "an object of token -> id")
    }
    var vocab: [String: Int32] = [:]
    vocab.reserveCapacity(dict.count)
    for (token, rawID) in dict {
        guard let number = rawID as? NSNumber else {
            throw TokenizerError.missingKey(path: path, key: "\(key)[\"\(token)\"]", expected: "an integer id")
        }
        vocab[token] = Int32(clamping: number.intValue)
    }
    return vocab
}

/// `add_prefix_space` of the ByteLevel pre-tokenizer; throws if there is none or others too.
private func byteLevelPrefixSpace(_ value: Any?, path: String) throws -> Bool {
    guard let obj = value as? [String: Any], let type = obj["type"] as? String else {
        throw TokenizerError.unsupported(path: path, key: "pre_tokenizer", found: value.map { "\($0)" } ?? "missing")
    }
    switch type {
    case "ByteLevel":
        if let useRegex = obj["use_regex"] as? Bool, !useRegex {
            throw TokenizerError.unsupported(path: path, key: "pre_tokenizer.use_regex", found: "false")
        }
        return (obj["add_prefix_space"] as? Bool) ?? false
    case "Sequence":
        guard let list = obj["pretokenizers"] as? [Any], list.count == 1 else {
            throw TokenizerError.unsupported(path: path, key: "pre_tokenizer", found: "a Sequence other than [ByteLevel]")
        }
        return try byteLevelPrefixSpace(list[0], path: path)
    default:
        throw TokenizerError.unsupported(path: path, key: "pre_tokenizer.type", found: "\"\(type)\"")
    }
}
