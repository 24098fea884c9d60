import XCTest
@testable import Tokenizers

final class BPETrainerTests: XCTestCase {
    func test_train_sameCorpusTwice_sameFile() throws {
        let a = try BPETrainer.train(text: TestData.smallCorpus, vocabularySize: 320, specialTokens: ["<|endoftext|>"])
        let b = try BPETrainer.train(text: TestData.smallCorpus, vocabularySize: 320, specialTokens: ["<|endoftext|>"])
        XCTAssertEqual(a.tokenizerJSON(), b.tokenizerJSON())
        XCTAssertEqual(a.vocabularySize, 320)
        XCTAssertEqual(a.merges.count, 320 - 257)
    }

    func test_train_moreMerges_fewerTokens() throws {
        let small = try BPETrainer.train(text: TestData.smallCorpus, vocabularySize: 256)
        let medium = try BPETrainer.train(text: TestData.smallCorpus, vocabularySize: 300)
        let large = try BPETrainer.train(text: TestData.smallCorpus, vocabularySize: 400)
        let n0 = small.encode(TestData.smallCorpus, allowSpecial: false).count
        let n1 = medium.encode(TestData.smallCorpus, allowSpecial: false).count
        let n2 = large.encode(TestData.smallCorpus, allowSpecial: false).count
        XCTAssertEqual(n0, TestData.smallCorpus.utf8.count, "no merges: one token per byte")
        XCTAssertLessThan(n1, n0)
        XCTAssertLessThan(n2, n1)
        XCTAssertEqual(large.decode(large.encode(TestData.smallCorpus, allowSpecial: false)), TestData.smallCorpus)
    }

    func test_train_tiedCounts_smallerPairOfIdsFirst() throws {
        // Pieces "ab" and " cd": pairs (a,b), (space,c), (c,d) each occur once; space (32) has the smallest id.
        let tok = try BPETrainer.train(text: "ab cd", vocabularySize: 257)
        XCTAssertEqual(tok.merges.count, 1)
        XCTAssertEqual(tok.merges[0].0, 32)
        XCTAssertEqual(tok.merges[0].1, 99)
        // The most frequent pair wins over smaller ids.
        let freq = try BPETrainer.train(text: "ab cd cd cd", vocabularySize: 257)
        XCTAssertEqual(freq.merges[0].0, 32)
        XCTAssertEqual(freq.merges[0].1, 99)
        // Pieces "xy", " xy", " xy", " ab": (x,y) occurs 3 times, (space,x) twice.
        let freq2 = try BPETrainer.train(text: "xy xy xy ab", vocabularySize: 258)
        XCTAssertEqual(freq2.merges.map { [$0.0, $0.1] }, [[120, 121], [32, 258 - 2]])
    }

    func test_train_specialTokens_firstIdsAndNeverLearned() throws {
        let corpus = String(repeating: "hello<|endoftext|>world ", count: 50)
        let tok = try BPETrainer.train(text: corpus, vocabularySize: 400, specialTokens: ["<|endoftext|>", "<|im_end|>"])
        XCTAssertEqual(tok.specialTokenID("<|endoftext|>"), 0)
        XCTAssertEqual(tok.specialTokenID("<|im_end|>"), 1)
        XCTAssertEqual(tok.eosTokenID, 0)
        XCTAssertFalse(tok.tokenStrings.dropFirst(2).contains { $0.contains("endoftext") })
        XCTAssertEqual(tok.encode("hello<|endoftext|>", allowSpecial: true).last, 0)
        XCTAssertFalse(tok.encode("hello<|endoftext|>", allowSpecial: false).contains(0))
    }

    func test_train_vocabularyTooSmall_throws() {
        XCTAssertThrowsError(try BPETrainer.train(text: "abc", vocabularySize: 256, specialTokens: ["<s>"])) { error in
            guard case .invalidTrainingOptions? = error as? TokenizerError else { return XCTFail("\(error)") }
        }
    }

    func test_train_incrementalCounts_sameMergesAsNaiveRecount() throws {
        let corpus = TestData.smallCorpus + " naïve café 日本語 😀😀 'S 42 4242\t\t end"
        let fast = try BPETrainer.train(text: corpus, vocabularySize: 360)
        XCTAssertEqual(fast.merges.map { [$0.0, $0.1] }, naiveMerges(corpus, count: 360 - 256))
    }

    /// The textbook trainer: recount every pair of every piece before each merge.
    private func naiveMerges(_ text: String, count: Int) -> [[Int32]] {
        var text = text
        var words: [[Int32]] = text.withUTF8 { buf in
            var scanner = PreTokenScanner(buf)
            var out: [[Int32]] = []
            while let r = scanner.next() { out.append(buf[r].map { Int32($0) }) }
            return out
        }
        var merges: [[Int32]] = []
        var next: Int32 = 256
        while merges.count < count {
            var counts: [[Int32]: Int] = [:]
            for w in words where w.count >= 2 {
                for k in 0..<(w.count - 1) { counts[[w[k], w[k + 1]], default: 0] += 1 }
            }
            guard let best = counts.max(by: { a, b in
                a.value != b.value ? a.value < b.value : (a.key[0], a.key[1]) > (b.key[0], b.key[1])
            }) else { break }
            merges.append(best.key)
            words = words.map { w in
                var out: [Int32] = []
                var i = 0
                while i < w.count {
                    if i + 1 < w.count && w[i] == best.key[0] && w[i + 1] == best.key[1] {
                        out.append(next)
                        i += 2
                    } else {
                        out.append(w[i])
                        i += 1
                    }
                }
                return out
            }
            next += 1
        }
        return merges
    }
}
