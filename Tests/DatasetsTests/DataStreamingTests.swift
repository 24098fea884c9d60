import Foundation
import Tokenizers
import XCTest
@testable import Datasets

/// Preparing data a record at a time into a mapped cache file: same rows as encoding the
/// records directly, the plain text format's tokens, and cache files that are damaged.
final class DataStreamingTests: XCTestCase {
    let tok = ByteTokenizer()

    func test_fileOfSeveralChunks_preparesTheSameExamplesAsEncodingEachRecord() throws {
        let dir = TempDir()
        let n = 2_000  // about 2.6 MB: read in three chunks
        let text = (0..<n).map { #"{"prompt":"Say \#($0)","completion":"\#($0): \#(String(repeating: "lorem ipsum ", count: 100 + $0 % 13))"}"# }
            .joined(separator: "\n")
        let path = dir.write("big.jsonl", text)
        for cache in [dir.path + "/cache", nil] {
            let config = DataConfig(datasets: [DatasetSpec(path: path, validationFraction: 0.05)], seqLen: 2048, seed: 3, cacheDirectory: cache)
            let data = try DataPipeline.prepare(config, tokenizer: tok)
            let d = data.datasets[0]
            XCTAssertEqual(d.train.count + d.validation.count, n)
            let encoder = try ExampleEncoder(tokenizer: tok, template: .plain)
            let records = try RecordReader.read(path: path).records
            var expected = Set(records.map { try! encoder.encode($0.content).tokens })  // encode cannot throw for built-in plain
            var strangers = 0
            for store in [d.train, d.validation] {
                for i in 0..<store.count where expected.remove(store[i].tokens) == nil { strangers += 1 }
            }
            XCTAssertEqual(strangers, 0, "examples that are no record's encoding")
            XCTAssertTrue(expected.isEmpty)
            XCTAssertEqual(data.report.truncated, 0)
            XCTAssertEqual(data.report.tokens, d.train.tokenCount + d.validation.tokenCount)
            // Every row can be built and holds at most seq_len tokens of whole examples.
            for r in 0..<d.trainPlan.rows.count { XCTAssertLessThanOrEqual(d.trainPlan.row(r, from: d.train, padID: 0).usedTokens, 2048) }
        }
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path + "/cache")
        XCTAssertEqual(files.count, 1, "one cache file, no temporary files: \(files)")
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: NSTemporaryDirectory())
            .filter { $0.contains(".ikds.tmp-\(ProcessInfo.processInfo.processIdentifier)-") }
        XCTAssertTrue(leftovers.isEmpty, "the cache-less run deletes its temporary file: \(leftovers)")
    }

    func test_textRecords_trainOnEveryToken_withEOSOnce() throws {
        let enc = try ExampleEncoder(tokenizer: ByteTokenizer(hasBOS: true), template: .chatml)
        let e = try enc.encode(.text("ab"))
        XCTAssertEqual(e.tokens, [257, 97, 98, 256])
        XCTAssertEqual(e.trained, [false, true, true, true], "BOS is context; every text token and EOS are targets")
        let ended = try enc.encode(.text("ab<|endoftext|>"))
        XCTAssertEqual(ended.tokens, [257, 97, 98, 256], "a text that ends with EOS gets no second one")
        let chat = try enc.encode(.text("<|im_start|>user\nhi<|im_end|>"))
        XCTAssertEqual(chat.tokens.prefix(2), [257, 258], "special-token texts in a text record are parsed")
        let noEOS = try ExampleEncoder(tokenizer: ByteTokenizer(hasEOS: false), template: .chatml).encode(.text("ab"))
        XCTAssertEqual(noEOS.tokens, [97, 98])
        XCTAssertEqual(try enc.promptTokens(.text("ab")), [257], "a text record has no prompt")
    }

    func test_textDataset_prepares_andInstructionTemplatesDoNotApply() throws {
        let dir = TempDir()
        let p = dir.write("t.jsonl", #"{"text":"hello world"}"# + "\n" + #"{"text":"bye"}"#)
        let data = try DataPipeline.prepare(DataConfig(datasets: [DatasetSpec(path: p, template: .alpaca)], seqLen: 32), tokenizer: tok)
        XCTAssertEqual(data.report.examples, 2)
        XCTAssertEqual(data.report.tokens, 12 + 4)
        XCTAssertEqual(data.report.trainedTokens, 11 + 3, "every token but each example's first is a target")
    }

    // MARK: Damaged cache files

    func cacheFile(_ dir: TempDir) throws -> (path: String, fingerprint: [UInt8], bytes: [UInt8]) {
        let p = dir.write("a.jsonl", (0..<40).map { #"{"prompt":"q\#($0)","completion":"answer \#($0)"}"# }.joined(separator: "\n"))
        let config = DataConfig(datasets: [DatasetSpec(path: p, validationFraction: 0.2)], seqLen: 64, cacheDirectory: dir.path + "/cache")
        let d = try DataPipeline.prepare(config, tokenizer: tok).datasets[0]
        let file = dir.path + "/cache/" + (try FileManager.default.contentsOfDirectory(atPath: dir.path + "/cache"))[0]
        return (file, d.fingerprint, [UInt8](try Data(contentsOf: URL(fileURLWithPath: file))))
    }

    func test_cacheOfAnotherVersion_orWithHugeCounts_isRefusedWithoutAllocating() throws {
        let dir = TempDir()
        let (file, fingerprint, bytes) = try cacheFile(dir)
        var old = bytes
        old[8] = 1
        try Data(old).write(to: URL(fileURLWithPath: file), options: .atomic)
        XCTAssertThrowsError(try DataCache.read(path: file, fingerprint: fingerprint, seqLen: 64)) {
            XCTAssertEqual($0 as? DatasetError, .corruptCache(path: file, reason: "version 1, expected 2"))
        }
        // The example count at the start of the tables set to 2^62.
        var huge = bytes
        let tables = Int(bytes[(bytes.count - 16)..<(bytes.count - 8)].reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) })
        for k in 0..<8 { huge[tables + k] = k == 7 ? 0x40 : 0 }
        try Data(huge).write(to: URL(fileURLWithPath: file), options: .atomic)
        XCTAssertThrowsError(try DataCache.read(path: file, fingerprint: fingerprint, seqLen: 64)) {
            XCTAssertTrue("\($0)".contains("is larger than the file"), "\($0)")
        }
    }

    func test_cacheWithRandomDamage_throwsOrReadsSafely_neverCrashes() throws {
        let dir = TempDir()
        let (file, fingerprint, bytes) = try cacheFile(dir)
        var rng = SplitMix64(seed: 11)
        var refused = 0
        for round in 0..<500 {
            var damaged = bytes
            // Damage the header, the tables or the footer mostly (example bytes are data).
            for _ in 0..<(1 + Int(rng.next() % 3)) {
                let region = rng.next() % 4
                let at: Int
                switch region {
                case 0: at = Int(rng.next() % 64)
                case 1: at = bytes.count - 1 - Int(rng.next() % 16)
                default: at = bytes.count / 2 + Int(rng.next() % UInt64(bytes.count / 2))
                }
                damaged[at] = UInt8(truncatingIfNeeded: rng.next())
            }
            if round % 10 == 0 { damaged = Array(damaged.prefix(Int(rng.next() % UInt64(bytes.count)))) }
            try Data(damaged).write(to: URL(fileURLWithPath: file), options: .atomic)
            do {
                let c = try DataCache.read(path: file, fingerprint: fingerprint, seqLen: 64)
                // Whatever was accepted is within bounds: build every row.
                for (plan, store) in [(c.trainPlan, c.train), (c.validationPlan, c.validation)] {
                    for r in 0..<plan.rows.count { _ = plan.row(r, from: store, padID: 0) }
                }
            } catch let e as DatasetError {
                guard case .corruptCache = e else { return XCTFail("round \(round): \(e)") }
                refused += 1
            }
        }
        XCTAssertGreaterThan(refused, 300)
    }

    func test_mappedStore_equalsTheSameExamplesInMemory() throws {
        let dir = TempDir()
        let (_, _, _) = try cacheFile(dir)
        let p = dir.path + "/a.jsonl"
        let config = DataConfig(datasets: [DatasetSpec(path: p, validationFraction: 0.2)], seqLen: 64, cacheDirectory: dir.path + "/cache")
        let mapped = try DataPipeline.prepare(config, tokenizer: tok).datasets[0]
        XCTAssertTrue(mapped.cacheHit)
        var memory = ExampleStore()
        for i in 0..<mapped.train.count { memory.append(mapped.train[i]) }
        XCTAssertEqual(memory, mapped.train)
        for r in 0..<mapped.trainPlan.rows.count {
            XCTAssertEqual(mapped.trainPlan.row(r, from: memory, padID: 0), mapped.trainPlan.row(r, from: mapped.train, padID: 0))
        }
        var grown = mapped.train
        grown.append(TokenizedExample(tokens: [1, 2], trained: [false, true]))
        XCTAssertEqual(grown.count, mapped.train.count + 1, "appending to a mapped store copies it into memory first")
        XCTAssertEqual(grown[grown.count - 1].tokens, [1, 2])
    }
}
