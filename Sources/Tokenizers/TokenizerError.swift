/// Everything that can go wrong while loading, saving or training a tokenizer.
///
/// Each case names the file (or `"<memory>"` when there is none) and what failed, and its
/// `description` says what to do next. Libraries throw these; only `instruct` prints them.
public enum TokenizerError: Error, Equatable, CustomStringConvertible {
    /// The file or directory does not exist or cannot be read.
    case fileNotFound(path: String)
    /// A directory holds neither `tokenizer.json` nor `vocab.json` + `merges.txt`.
    case noTokenizerInDirectory(path: String)
    /// The file is not valid JSON (or not UTF-8). `detail` is the parser's message.
    case malformedJSON(path: String, detail: String)
    /// A required JSON key is missing or has the wrong type.
    case missingKey(path: String, key: String, expected: String)
    /// A JSON value has a type or content we do not support (e.g. a WordPiece model).
    case unsupported(path: String, key: String, found: String)
    /// A normalizer, pre-tokenizer, decoder or other component of a type we do not implement.
    /// `key` is its JSON path (`pre_tokenizer.pretokenizers[2]`); `supported` lists the types we do.
    case unsupportedComponent(path: String, key: String, type: String, supported: [String])
    /// A regular expression in the file (at JSON path `key`) that the regex engine cannot compile.
    case invalidPattern(path: String, key: String, pattern: String, detail: String)
    /// A byte-level vocabulary has no token for `byte`, a byte of ordinary text (see
    /// `BPETokenizer.isCommonTextByte`), and no `unk_token`: text holding it could not be encoded.
    case missingByteToken(path: String, byte: UInt8)
    /// GGUF tokenizer metadata (`tokenizer.ggml.<key>`) is missing, inconsistent or of a kind we do not know.
    case invalidGGUFTokenizer(key: String, detail: String)
    /// A merge (line `line`, 1-based, or index in the `merges` array) names a token that is not in the vocabulary.
    case unknownTokenInMerge(path: String, line: Int, token: String)
    /// A merge line or entry is not two tokens.
    case malformedMerge(path: String, line: Int, text: String)
    /// Two tokens share an id, or an id is negative or absurdly large (>= 2^24).
    case badTokenID(path: String, token: String, id: Int)
    /// A binary file ends early or holds an impossible value at `offset`.
    case truncatedBinary(path: String, offset: Int, detail: String)
    /// Training input or options are unusable.
    case invalidTrainingOptions(detail: String)
    /// Writing the file failed.
    case writeFailed(path: String, detail: String)

    public var description: String {
        switch self {
        case .fileNotFound(let path):
            return "\(path): no such file or directory. Check the path; a tokenizer is a tokenizer.json, "
                + "a directory with tokenizer.json or vocab.json + merges.txt, or a llama2.c .bin file."
        case .noTokenizerInDirectory(let path):
            return "\(path): directory holds neither tokenizer.json nor vocab.json + merges.txt. "
                + "Point at the file itself or put one of those in the directory."
        case .malformedJSON(let path, let detail):
            return "\(path): not valid JSON (\(detail)). Re-download or re-save the file."
        case .missingKey(let path, let key, let expected):
            return "\(path): key '\(key)' is missing or is not \(expected). "
                + "Is this a Hugging Face tokenizer.json / GPT-2 vocab.json?"
        case .unsupported(let path, let key, let found):
            return "\(path): '\(key)' is \(found), which InstructKit does not support "
                + "(BPE tokenizer.json files, GPT-2 vocab.json + merges.txt and llama2.c .bin tokenizers; "
                + "docs/tokenizers.md lists the options). Use a supported tokenizer or convert this one."
        case .unsupportedComponent(let path, let key, let type, let supported):
            return "\(path): \(key): type \"\(type)\" is not supported; supported: "
                + supported.joined(separator: ", ") + ". A tokenizer with it would give other ids than Hugging Face."
        case .invalidPattern(let path, let key, let pattern, let detail):
            return "\(path): \(key): the regular expression \(JSONText.quoted(pattern)) does not compile (\(detail))."
        case .missingByteToken(let path, let byte):
            let hex = String(byte, radix: 16, uppercase: true)
            return "\(path): the byte-level vocabulary has no token for byte 0x\(hex.count == 1 ? "0" + hex : hex) "
                + "and no unk_token, so text holding that byte could not be encoded. The vocabulary is incomplete: "
                + "a byte-level BPE needs a token for every byte of ordinary text (tab, newlines, printable ASCII, "
                + "0x80-0xF0); use the tokenizer.json the vocabulary came with."
        case .invalidGGUFTokenizer(let key, let detail):
            return "GGUF metadata tokenizer.ggml.\(key): \(detail)"
        case .unknownTokenInMerge(let path, let line, let token):
            return "\(path): merge \(line) uses token '\(token)', which is not in the vocabulary. "
                + "The vocabulary and merges come from different tokenizers; use a matching pair."
        case .malformedMerge(let path, let line, let text):
            return "\(path): merge \(line) ('\(text)') is not two tokens separated by one space "
                + "(or a two-element array). Fix or regenerate the merges."
        case .badTokenID(let path, let token, let id):
            return "\(path): token '\(token)' has id \(id), which is negative, too large or already used. "
                + "Ids must be unique, non-negative and below 2^24; regenerate the vocabulary."
        case .truncatedBinary(let path, let offset, let detail):
            return "\(path): corrupt or truncated at byte \(offset) (\(detail)). "
                + "Re-download the file; a llama2.c tokenizer is int32 max length then (float32 score, int32 length, bytes) per token."
        case .invalidTrainingOptions(let detail):
            return "tokenizer training: \(detail)"
        case .writeFailed(let path, let detail):
            return "\(path): could not write (\(detail)). Check that the directory exists and is writable."
        }
    }
}
