import ArgumentParser
import Foundation
import Tokenizers

/// `instruct tokenizer ...`: encode, decode and train tokenizers from the command line.
struct TokenizerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenizer",
        abstract: "Encode, decode or train a tokenizer.",
        discussion: """
            Examples:
              echo "Hello world" | instruct tokenizer encode \\
                  --tokenizer ../shared/datasets/tokenizers/gpt2
              echo "15496 995" | instruct tokenizer decode \\
                  --tokenizer ../shared/datasets/tokenizers/gpt2
              instruct tokenizer convert --tokenizer ../shared/datasets/tokenizers/gpt2 \\
                  --out gpt2-tokenizer.json
              instruct tokenizer train --data corpus.txt --vocab-size 2000 \\
                  --special-tokens "<|endoftext|>" --out tok.json
            """,
        subcommands: [TokenizerEncode.self, TokenizerDecode.self, TokenizerTrain.self, TokenizerConvert.self])
}

/// Reads all of `path` (or stdin when nil) as lines without their trailing "\n".
/// A final empty line (the text ended with "\n") is not counted.
func readInputLines(_ path: String?) throws -> [String] {
    let data: Data
    if let path {
        guard let d = FileManager.default.contents(atPath: path) else {
            throw CommandFailure("\(path): cannot read the file; check the path.")
        }
        data = d
    } else {
        data = FileHandle.standardInput.readDataToEndOfFile()
    }
    let text = String(decoding: data, as: UTF8.self)
    var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    if lines.last == "" { lines.removeLast() }
    return lines
}

/// Writes text to stdout in one call.
func writeStdout(_ text: String) {
    FileHandle.standardOutput.write(Data(text.utf8))
}

/// A failure that is not a usage mistake: printed as "Error: <message>", exit status 1, no usage text.
struct CommandFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Loads a tokenizer; a `TokenizerError` propagates and prints its own description.
func loadTokenizerForCLI(_ path: String) throws -> any TextTokenizer {
    try loadTokenizer(from: path)
}

/// Decodes one input line given as a JSON string literal.
func parseJSONStringLine(_ line: String, number: Int) throws -> String {
    guard let value = try? JSONSerialization.jsonObject(with: Data(line.utf8), options: [.fragmentsAllowed]),
          let text = value as? String
    else { throw CommandFailure("line \(number): not a JSON string literal (with --json each line is one, e.g. \"a\\nb\")") }
    return text
}

/// Writes `text` as a JSON string literal.
func jsonStringLiteral(_ text: String) -> String {
    guard let data = try? JSONSerialization.data(withJSONObject: [text], options: [.fragmentsAllowed]),
          let array = String(data: data, encoding: .utf8)
    else { return "\"\"" }
    return String(array.dropFirst().dropLast())
}

struct TokenizerEncode: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "encode",
        abstract: "Encode each input line (stdin or --file) to one line of space-separated token ids.")

    @Option(help: "tokenizer.json, a directory with tokenizer.json or vocab.json + merges.txt, or a llama2.c .bin")
    var tokenizer: String

    @Option(help: "Read lines from this file instead of stdin.")
    var file: String?

    @Flag(help: "Each input line is a JSON string literal (so texts may hold newlines).")
    var json = false

    @Flag(inversion: .prefixedNo, help: "Match special and added tokens in the text whole (as HF does).")
    var special = true

    @Option(help: "Threads to encode on (ids do not depend on it).")
    var threads = 1

    func validate() throws {
        try validateThreads(threads)
    }

    func run() throws {
        let tok = try loadTokenizerForCLI(tokenizer)
        var texts = try readInputLines(file)
        if json { texts = try texts.enumerated().map { try parseJSONStringLine($0.element, number: $0.offset + 1) } }
        let encoded = encodeTexts(texts, with: tok, allowSpecial: special, threads: threads)
        var out = ""
        out.reserveCapacity(encoded.count * 64)
        for ids in encoded {
            out += ids.map(String.init).joined(separator: " ")
            out += "\n"
        }
        writeStdout(out)
    }
}

struct TokenizerDecode: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "decode",
        abstract: "Decode each input line of space-separated token ids back to text.")

    @Option(help: "tokenizer.json, a directory with tokenizer.json or vocab.json + merges.txt, or a llama2.c .bin")
    var tokenizer: String

    @Option(help: "Read lines from this file instead of stdin.")
    var file: String?

    @Flag(help: "Write each decoded text as a JSON string literal (so texts may hold newlines).")
    var json = false

    func run() throws {
        let tok = try loadTokenizerForCLI(tokenizer)
        var out = ""
        for (number, line) in try readInputLines(file).enumerated() {
            var ids: [Int32] = []
            for field in line.split(separator: " ") {
                guard let id = Int32(field), id >= 0, Int(id) < tok.vocabularySize else {
                    throw CommandFailure("line \(number + 1): '\(field)' is not a token id in 0..<\(tok.vocabularySize)")
                }
                ids.append(id)
            }
            let text = tok.decode(ids)
            out += json ? jsonStringLiteral(text) : text
            out += "\n"
        }
        writeStdout(out)
    }
}

struct TokenizerTrain: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a byte-level BPE tokenizer on a text file and save it as tokenizer.json.",
        discussion: """
            Deterministic: the same file and options give the same tokenizer.json byte for byte
            (ties between equally frequent pairs go to the smaller pair of ids).
            """)

    @Option(help: "UTF-8 text file to learn from.")
    var data: String

    @Option(help: "Vocabulary size, special tokens and the 256 bytes included.")
    var vocabSize: Int

    @Option(parsing: .upToNextOption, help: "Special tokens (ids 0, 1, ... in this order), e.g. \"<|endoftext|>\" \"<|im_start|>\".")
    var specialTokens: [String] = []

    @Option(help: "Where to write tokenizer.json.")
    var out: String

    func run() throws {
        guard let bytes = FileManager.default.contents(atPath: data) else {
            throw CommandFailure("\(data): cannot read the file; check the path.")
        }
        let text = String(decoding: bytes, as: UTF8.self)
        let start = DispatchTime.now().uptimeNanoseconds
        let tok = try BPETrainer.train(text: text, vocabularySize: vocabSize, specialTokens: specialTokens)
        try tok.save(to: out)
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        writeStdout("trained \(tok.vocabularySize) tokens (\(tok.merges.count) merges) on \(bytes.count) bytes in "
            + String(format: "%.2f", seconds) + " s -> \(out)\n")
    }
}

struct TokenizerConvert: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "convert",
        abstract: "Write a byte-level BPE tokenizer (e.g. GPT-2's vocab.json + merges.txt) as one tokenizer.json.")

    @Option(help: "tokenizer.json or a directory with tokenizer.json or vocab.json + merges.txt")
    var tokenizer: String

    @Option(help: "Where to write tokenizer.json.")
    var out: String

    func run() throws {
        guard let bpe = try loadTokenizerForCLI(tokenizer) as? BPETokenizer else {
            throw CommandFailure("\(tokenizer): only byte-level BPE tokenizers can be written as tokenizer.json")
        }
        try bpe.save(to: out)
        writeStdout("wrote \(bpe.vocabularySize) tokens, \(bpe.merges.count) merges -> \(out)\n")
    }
}
