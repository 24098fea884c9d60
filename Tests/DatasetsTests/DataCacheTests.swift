import Foundation
import XCTest
@testable import Datasets

final class DataCacheTests: XCTestCase {
    func setUpData(_ dir: TempDir) -> (String, DataConfig) {
        let p = dir.write("a.jsonl", (0..<30).map { #"{"prompt":"q\#($0)","completion":"answer \#($0)"}"# }.joined(separator: "\n"))
        return (p, DataConfig(datasets: [DatasetSpec(path: p, validationFraction: 0.1)], seqLen: 64, cacheDirectory: dir.path + "/cache"))
    }

    func test_secondRun_readsTheCache_withIdenticalRows() throws {
        let dir = TempDir()
        let (_, config) = setUpData(dir)
        let a = try DataPipeline.prepare(config, tokenizer: ByteTokenizer())
        XCTAssertFalse(a.datasets[0].cacheHit)
        let b = try DataPipeline.prepare(config, tokenizer: ByteTokenizer())
        XCTAssertTrue(b.datasets[0].cacheHit)
        XCTAssertEqual(a.datasets[0].train, b.datasets[0].train)
        XCTAssertEqual(a.datasets[0].validation, b.datasets[0].validation)
        XCTAssertEqual(a.datasets[0].trainPlan, b.datasets[0].trainPlan)
        XCTAssertEqual(a.report, b.report)
        XCTAssertEqual(a.fingerprint, b.fingerprint)
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path + "/cache")
        XCTAssertEqual(files.count, 1, "no temp files left: \(files)")
        let bytes = try Data(contentsOf: URL(fileURLWithPath: dir.path + "/cache/" + files[0]))
        XCTAssertEqual(Array(bytes.prefix(8)), Array("IKDSCACH".utf8))
    }

    func assertRebuilds(_ change: (inout DataConfig, inout ByteTokenizer, String) -> Void, _ what: String) throws {
        let dir = TempDir()
        let (p, config) = setUpData(dir)
        var tok = ByteTokenizer()
        _ = try DataPipeline.prepare(config, tokenizer: tok)
        var changed = config
        change(&changed, &tok, p)
        XCTAssertFalse(try DataPipeline.prepare(changed, tokenizer: tok).datasets[0].cacheHit, "\(what) must rebuild the cache")
        XCTAssertTrue(try DataPipeline.prepare(changed, tokenizer: tok).datasets[0].cacheHit)
    }

    func test_changeInData_rebuilds() throws {
        try assertRebuilds({ _, _, p in
            let h = FileHandle(forWritingAtPath: p)!
            h.seekToEndOfFile()
            h.write(Data("\n{\"prompt\":\"new\",\"completion\":\"row\"}".utf8))
            h.closeFile()
        }, "a changed data file")
    }

    func test_changeInTokenizer_rebuilds() throws {
        try assertRebuilds({ _, tok, _ in tok = ByteTokenizer(salt: "v2") }, "a changed tokenizer")
    }

    func test_changeInTemplate_rebuilds() throws {
        try assertRebuilds({ c, _, _ in c.datasets[0].template = .chatml }, "another template")
        try assertRebuilds({ c, _, _ in
            c.datasets[0].template = .custom(CustomTemplate(user: "U {user}", assistant: "A {assistant}"))
        }, "a custom template")
    }

    func test_changeInOptions_rebuilds() throws {
        try assertRebuilds({ c, _, _ in c.seqLen = 128 }, "seq_len")
        try assertRebuilds({ c, _, _ in c.trainOnInput = true }, "train_on_input")
        try assertRebuilds({ c, _, _ in c.packing = .pad }, "packing")
        try assertRebuilds({ c, _, _ in c.lengthPolicy = .drop }, "length policy")
        try assertRebuilds({ c, _, _ in c.seed = 99 }, "seed")
        try assertRebuilds({ c, _, _ in c.datasets[0].validationFraction = 0.2 }, "split")
        try assertRebuilds({ c, _, _ in c.datasets[0].columns = ColumnMapping(["x": "y"]) }, "columns")
    }

    func test_corruptCacheFile_isRebuilt_notFatal() throws {
        let dir = TempDir()
        let (_, config) = setUpData(dir)
        let a = try DataPipeline.prepare(config, tokenizer: ByteTokenizer())
        let file = dir.path + "/cache/" + (try FileManager.default.contentsOfDirectory(atPath: dir.path + "/cache"))[0]
        let bytes = try Data(contentsOf: URL(fileURLWithPath: file))
        // Replaced, not cut in place: `a`'s stores map the old file (the pipeline itself only
        // ever renames whole files into place, so a mapping never sees its file change).
        try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: file), options: .atomic)
        XCTAssertThrowsError(try DataCache.read(path: file, fingerprint: a.datasets[0].fingerprint, seqLen: 64)) { error in
            XCTAssertEqual(error as? DatasetError, .corruptCache(path: file, reason: "file is truncated"))
        }
        let b = try DataPipeline.prepare(config, tokenizer: ByteTokenizer())
        XCTAssertFalse(b.datasets[0].cacheHit)
        XCTAssertEqual(a.datasets[0].train, b.datasets[0].train)
        XCTAssertTrue(try DataPipeline.prepare(config, tokenizer: ByteTokenizer()).datasets[0].cacheHit)
    }
}
