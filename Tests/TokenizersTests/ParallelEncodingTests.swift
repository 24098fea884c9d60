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
