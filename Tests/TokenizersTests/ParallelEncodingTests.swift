import Foundation
import XCTest
@testable import Tokenizers

final class ParallelEncodingTests: XCTestCase {
    func test_encodeTexts_twoThreads_sameAsOneByOne() throws {
        let tok = try BPETrainer.train(text: TestData.smallCorpus, vocabularySize: 350, specialTokens: ["<|endoftext|>"])
        let texts = TestData.smallCorpus.split(separator: "\n").map(String.init) + ["", "<|endoftext|>x"]
        let one = texts.map { tok.encode($0, allowSpecial: true) }
        XCTAssertEqual(encodeTexts(texts, with: tok, allowSpecial: true, threads: 1), one)
        XCTAssertEqual(encodeTexts(texts, with: tok, allowSpecial: true, threads: 2), one)
        XCTAssertEqual(encodeTexts(texts, with: tok, allowSpecial: true, threads: 64), one)
        XCTAssertEqual(encodeTexts([], with: tok, allowSpecial: true, threads: 2), [])
    }
}

final class ConcurrentEncodeTests: XCTestCase {
    func test_encode_calledFromManyThreadsAtOnce_sameIdsAsSerial() throws {
        let tok = try BPETrainer.train(text: TestData.smallCorpus, vocabularySize: 350)
        let texts = (0..<64).map { "\($0) " + TestData.smallCorpus.prefix(200 + $0 * 7) }
        let serial = texts.map { tok.encode($0, allowSpecial: false) }
        let lock = NSLock()
        var parallel = [[Int32]](repeating: [], count: texts.count)
        DispatchQueue.concurrentPerform(iterations: texts.count) { i in
            let ids = tok.encode(texts[i], allowSpecial: false)  // shares the tokenizer's cache pool
            lock.lock()
            parallel[i] = ids
            lock.unlock()
        }
        XCTAssertEqual(parallel, serial)
    }
}
