import Foundation
import XCTest
@testable import Tokenizers

/// Paths of the reference data the tests read, and tokenizers loaded once for all tests.
enum TestData {
    /// The repository root (this file is Tests/TokenizersTests/TestData.swift).
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// `../shared/datasets/<relative>` if it exists; otherwise prints why and returns nil.
    static func shared(_ relative: String, test: String = #function) -> String? {
        let path = root.deletingLastPathComponent().appendingPathComponent("shared/datasets/\(relative)").path
        if FileManager.default.fileExists(atPath: path) { return path }
        print("\(test): \(path) is absent (no ../shared/datasets here); skipping the part that needs it")
        return nil
    }

    /// GPT-2 from ../shared/datasets/tokenizers/gpt2, loaded once; nil when absent.
    static let gpt2: BPETokenizer? = {
        guard let dir = shared("tokenizers/gpt2", test: "GPT-2 tokenizer") else { return nil }
        return try? BPETokenizer(vocabJSON: dir + "/vocab.json", mergesTXT: dir + "/merges.txt")
    }()

    static func requireGPT2() throws -> BPETokenizer {
        // Skipped only where ../shared (reference data kept outside the repository) is absent; team machines and CI have it.
        guard let tok = gpt2 else { throw XCTSkip("../shared/datasets/tokenizers/gpt2 is absent") }
        return tok
    }

    /// Every instruction, context, response and message text of the shared instruct datasets.
    static func sharedInstructTexts() -> [String]? {
        guard let dir = shared("instruct") else { return nil }
        var texts: [String] = []
        for name in ["dolly-151.jsonl", "dolly-12.original.jsonl", "oasst-en-564.messages.jsonl"] {
            guard let data = FileManager.default.contents(atPath: dir + "/" + name) else { continue }
            for line in String(decoding: data, as: UTF8.self).split(separator: "\n") {
                guard let obj = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else { continue }
                for key in ["instruction", "context", "response"] {
                    if let t = obj[key] as? String, !t.isEmpty { texts.append(t) }
                }
                for m in obj["messages"] as? [[String: Any]] ?? [] {
                    if let t = m["content"] as? String { texts.append(t) }
                }
            }
        }
        return texts
    }

    /// The committed HF reference ids for our own edge cases.
    struct ReferenceCase: Decodable {
        let text: String
        let ids: [Int32]
        let ids_no_special: [Int32]
    }

    static func referenceCases() throws -> [ReferenceCase] {
        struct File: Decodable { let cases: [ReferenceCase] }
        let url = try XCTUnwrap(Bundle.module.url(forResource: "gpt2_reference", withExtension: "json",
                                                  subdirectory: "Fixtures"))
        return try JSONDecoder().decode(File.self, from: Data(contentsOf: url)).cases
    }

    /// A fresh temporary directory.
    static func temporaryDirectory() throws -> String {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("tokenizers-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url.path
    }

    /// A small English corpus for training tests (no shared data needed).
    static let smallCorpus: String = {
        let sentences = [
            "The quick brown fox jumps over the lazy dog.", "A stitch in time saves nine.",
            "To be or not to be, that is the question.", "All that glitters is not gold.",
            "The rain in Spain stays mainly in the plain.", "Numbers like 123 and 4567 appear too.",
            "She sells sea shells by the sea shore.", "It's the end of the world as we know it.",
        ]
        var text = ""
        for i in 0..<200 { text += sentences[i % sentences.count] + (i % 3 == 0 ? "\n" : " ") }
        return text
    }()
}
