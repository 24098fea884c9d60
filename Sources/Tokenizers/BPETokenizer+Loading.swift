import Foundation

extension BPETokenizer {
    /// Loads a Hugging Face `tokenizer.json` with a BPE model.
    ///
    /// Accepted: `model.type` "BPE" with `vocab` and `merges` (as `"a b"` strings or `["a", "b"]`
    /// pairs), `byte_fallback`, `fuse_unk`, `ignore_merges`, `unk_token`; `added_tokens` with
    /// `special`, `normalized`, `lstrip`, `rstrip`; the normalizers, pre-tokenizers and decoders
    /// listed in `TokenizerJSONReader` (docs/tokenizers.md). Refused, with the JSON path: any other
    /// component type, `dropout` other than 0, `continuing_subword_prefix`/`end_of_word_suffix`,
    /// `single_word` added tokens, and a byte-level vocabulary missing a byte token without an
    /// `unk_token`. Post-processors are not run (encode never adds BOS/EOS); `addsBOS` records
    /// whether HF's would put one in front.
    public convenience init(tokenizerJSON path: String) throws {
        let data = try readFile(path)
        let root = try parseJSONObject(data, path: path)
        try self.init(tokenizerJSONObject: root, text: String(decoding: data, as: UTF8.self), source: path)
    }

    /// Loads tokenizer.json text already in memory (`source` names it in errors).
    public convenience init(tokenizerJSONText text: String, source: String = "<memory>") throws {
        let root = try parseJSONObject(Data(text.utf8), path: source)
        try self.init(tokenizerJSONObject: root, text: text, source: source)
    }

    convenience init(tokenizerJSONObject root: [String: Any], text: String, source path: String,
                     bosID: Int32? = nil, eosID: Int32? = nil) throws {
        let reader = TokenizerJSONReader(path: path)
        guard let model = root["model"] as? [String: Any] else {
            throw TokenizerError.missingKey(path: path, key: "model", expected: "an object")
        }
        if let type = model["type"] as? String, type != "BPE" {
            throw TokenizerError.unsupported(path: path, key: "model.type", found: "\"\(type)\"")
        }
        if let dropout = model["dropout"], !(dropout is NSNull), (dropout as? NSNumber)?.doubleValue != 0 {
            throw TokenizerError.unsupported(path: path, key: "model.dropout", found: "\(dropout)")
        }
        for key in ["continuing_subword_prefix", "end_of_word_suffix"] {
            if let s = model[key] as? String, !s.isEmpty {
                throw TokenizerError.unsupported(path: path, key: "model.\(key)", found: "\"\(s)\"")
            }
        }
        let normalizer = try reader.normalizer(root["normalizer"])
        let preTokenizer = try reader.preTokenizer(root["pre_tokenizer"])
        let decoder = try reader.decoder(root["decoder"])
        let (addsBOS, leadingToken) = try reader.leadingSpecialToken(root["post_processor"])
        var options = BPEModelOptions()
        options.byteLevel = preTokenizer.steps.contains { if case .byteLevel = $0 { return true } else { return false } }
        options.byteFallback = try reader.bool(model, "byte_fallback", "model", default: false)
        options.fuseUnknown = try reader.bool(model, "fuse_unk", "model", default: false)
        options.ignoreMerges = try reader.bool(model, "ignore_merges", "model", default: false)

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
                let key = "added_tokens[\(index)]"
                guard let obj = item as? [String: Any], let idNumber = obj["id"] as? NSNumber,
                      let content = obj["content"] as? String
                else {
                    throw TokenizerError.missingKey(path: path, key: key, expected: "an object with 'id' and 'content'")
                }
                guard let id = exactTokenID(idNumber) else {
                    throw TokenizerError.missingKey(path: path, key: key + ".id", expected: "an integer id (found \(idNumber))")
                }
                guard id >= 0, id < Int(BPETokenizer.maximumID) else {
                    throw TokenizerError.badTokenID(path: path, token: content, id: id)
                }
                if try reader.bool(obj, "single_word", key, default: false) {
                    throw TokenizerError.unsupported(path: path, key: key + ".single_word", found: "true")
                }
                let special = try reader.bool(obj, "special", key, default: false)
                added.append(AddedToken(id: Int32(id), content: content, special: special,
                                        lstrip: try reader.bool(obj, "lstrip", key, default: false),
                                        rstrip: try reader.bool(obj, "rstrip", key, default: false),
                                        normalized: try reader.bool(obj, "normalized", key, default: !special)))
            }
        }
        let unk = model["unk_token"] as? String
        let pipeline = TokenizerPipeline(normalizer: normalizer, preTokenizer: preTokenizer, decoder: decoder, addsBOS: addsBOS)
        var plain = normalizer == nil && options == BPEModelOptions() && !addsBOS
            && added.allSatisfy { $0.normalized == !$0.special }
        if case .byteLevel(_, true)? = preTokenizer.steps.first, preTokenizer.steps.count == 1 {} else { plain = false }
        if let steps = decoder.steps, steps.count == 1, case .byteLevel = steps[0] {} else { plain = false }
        let bos = BPETokenizer.defaultBOS(added) ?? (addsBOS ? leadingToken : nil)
        try self.init(vocab: vocab, merges: merges, addedTokens: added, unknownToken: unk, options: options,
                      pipeline: pipeline, bosToken: bos, eosToken: BPETokenizer.defaultEOS(added),
                      bosID: bosID, eosID: eosID, sourceJSON: plain ? nil : text, source: path)
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

func readFile(_ path: String) throws -> Data {
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue,
          let data = FileManager.default.contents(atPath: path)
    else { throw TokenizerError.fileNotFound(path: path) }
    return data
}

func parseJSON(_ data: Data, path: String) throws -> Any {
    do {
        return try JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])
    } catch {
        let ns = error as NSError
        let detail = (ns.userInfo[NSDebugDescriptionErrorKey] as? String) ?? ns.localizedDescription
        throw TokenizerError.malformedJSON(path: path, detail: detail)
    }
}

func parseJSONObject(_ data: Data, path: String) throws -> [String: Any] {
    guard let obj = try parseJSON(data, path: path) as? [String: Any] else {
        throw TokenizerError.missingKey(path: path, key: "(top level)", expected: "a JSON object")
    }
    return obj
}

func readJSONAny(_ path: String) throws -> Any {
    try parseJSON(try readFile(path), path: path)
}

private func parseVocab(_ value: Any?, path: String, key: String) throws -> [String: Int32] {
    guard let dict = value as? [String: Any] else {
        throw TokenizerError.missingKey(path: path, key: key, expected: "an object of token -> id")
    }
    var vocab: [String: Int32] = [:]
    vocab.reserveCapacity(dict.count)
    for (token, rawID) in dict {
        guard let number = rawID as? NSNumber, let id = exactTokenID(number) else {
            throw TokenizerError.missingKey(path: path, key: "\(key)[\"\(token)\"]", expected: "an integer id (found \(rawID))")
        }
        // An out-of-range id is reported as written (clamped to Int32, 2^40 read as 2147483647).
        guard id >= 0, id < Int(BPETokenizer.maximumID) else {
            throw TokenizerError.badTokenID(path: path, token: token, id: id)
        }
        vocab[token] = Int32(id)
    }
    return vocab
}

/// The integer a JSON number holds, or nil when it has a fraction (`1.5`). Integers beyond
/// Int's range read as Int.max or Int.min (they are out of any id range anyway).
func exactTokenID(_ number: NSNumber) -> Int? {
    let d = number.doubleValue
    guard d.isFinite, d.rounded(.towardZero) == d else { return nil }
    if abs(d) < 9.0e15 { return Int(d) }  // exact in a Double: no precision question
    if abs(d) >= 9.2e18 { return d > 0 ? Int.max : Int.min }
    return Int(number.int64Value)
}
