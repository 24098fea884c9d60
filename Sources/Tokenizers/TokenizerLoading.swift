import Foundation

/// Loads a tokenizer from `path`, choosing the format from what is there:
/// - a Hugging Face `tokenizer.json` (byte-level BPE) -> `BPETokenizer`;
/// - a directory with `tokenizer.json`, or else `vocab.json` + `merges.txt` -> `BPETokenizer`;
/// - a llama2.c tokenizer `.bin` file (e.g. `tok512.bin`) -> `Llama2cTokenizer`.
/// Throws `TokenizerError` naming the file and what failed.
public func loadTokenizer(from path: String) throws -> any TextTokenizer {
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
        throw TokenizerError.fileNotFound(path: path)
    }
    if isDirectory.boolValue {
        let dir = URL(fileURLWithPath: path)
        let json = dir.appendingPathComponent("tokenizer.json").path
        if FileManager.default.fileExists(atPath: json) { return try BPETokenizer(tokenizerJSON: json) }
        let vocab = dir.appendingPathComponent("vocab.json").path
        let merges = dir.appendingPathComponent("merges.txt").path
        if FileManager.default.fileExists(atPath: vocab) && FileManager.default.fileExists(atPath: merges) {
            return try BPETokenizer(vocabJSON: vocab, mergesTXT: merges)
        }
        throw TokenizerError.noTokenizerInDirectory(path: path)
    }
    if path.hasSuffix(".bin") { return try Llama2cTokenizer(path: path) }
    return try BPETokenizer(tokenizerJSON: path)
}
