import Foundation
import XCTest
@testable import Tokenizers

/// Normalizers, pre-tokenizer steps, decoders and the merge order, each against outputs of HF
/// `tokenizers` 0.23.3 written down here (the whole pipelines are checked in PipelineParityTests).
final class PipelineComponentTests: XCTestCase {
    private func pieces(_ steps: [PreTokenizerStep], _ text: String, atTextStart: Bool = true) -> [String] {
        let list = PreTokenizerPipeline(steps: steps).pieces(of: Array(text.utf8), atTextStart: atTextStart)
        return list.ranges.map { String(decoding: list.bytes[$0], as: UTF8.self) }
    }

    func test_split_eachBehaviorAndInvert_asHF() {
        let comma = SplitPattern.literal(Array(",".utf8))
        let expected: [(SplitBehavior, [String], [String])] = [
            (.removed, ["a", "b", "c"], [",", ",", ","]),
            (.isolated, ["a", ",", "b", ",", ",", "c"], ["a", ",", "b", ",", ",", "c"]),
            (.mergedWithPrevious, ["a,", "b,", ",", "c"], ["a", ",b", ",", ",c"]),
            (.mergedWithNext, ["a", ",b", ",", ",c"], ["a,", "b,", ",", "c"]),
            (.contiguous, ["a", ",", "b", ",,", "c"], ["a", ",", "b", ",,", "c"]),
        ]
        for (behavior, plain, inverted) in expected {
            XCTAssertEqual(pieces([.split(comma, behavior, invert: false)], "a,b,,c"), plain, "\(behavior)")
            XCTAssertEqual(pieces([.split(comma, behavior, invert: true)], "a,b,,c"), inverted, "\(behavior) inverted")
        }
    }

    func test_metaspace_prependSchemesAndSplit_asHF() {
        XCTAssertEqual(pieces([.metaspace(replacement: "▁", prependScheme: .first, split: true)], "hi there  x"),
                       ["▁hi", "▁there", "▁", "▁x"])
        XCTAssertEqual(pieces([.metaspace(replacement: "▁", prependScheme: .always, split: false)], "hi there"), ["▁hi▁there"])
        XCTAssertEqual(pieces([.metaspace(replacement: "▁", prependScheme: .first, split: false)], "hi", atTextStart: false), ["hi"],
                       "first: only the piece at the very start of the text")
        XCTAssertEqual(pieces([.metaspace(replacement: "▁", prependScheme: .always, split: false)], "hi", atTextStart: false), ["▁hi"])
    }

    func test_whitespacePunctuationDigits_asHF() {
        XCTAssertEqual(pieces([.whitespace], "Hello, wörld! x_y 12.5"), ["Hello", ",", "wörld", "!", "x_y", "12", ".", "5"])
        XCTAssertEqual(pieces([.split(.character(.punctuation), .isolated, invert: false)], "a,b!?c"), ["a", ",", "b", "!", "?", "c"])
        XCTAssertEqual(pieces([.split(.character(.numeric), .contiguous, invert: false)], "ab123c4"), ["ab", "123", "c", "4"])
        XCTAssertEqual(pieces([.split(.character(.numeric), .isolated, invert: false)], "x١٢"), ["x", "١", "٢"])
        XCTAssertEqual(pieces([.split(.character(.whitespace), .removed, invert: false)], " a\u{3000}b  "), ["a", "b"])
    }

    func test_byteLevelPrefixSpace_appliesToEveryPiece_asHF() {
        // HF: Sequence[Digits(individual), ByteLevel(add_prefix_space)] on "ab12 cd" -> Ġab Ġ1 Ġ2 Ġcd.
        let steps: [PreTokenizerStep] = [.split(.character(.numeric), .isolated, invert: false),
                                        .byteLevel(addPrefixSpace: true, useRegex: true)]
        XCTAssertEqual(pieces(steps, "ab12 cd"), [" ab", " 1", " 2", " cd"])
    }

    func test_llama3Scanner_alternatives() {
        let llama3: [PreTokenizerStep] = [.split(.llama3(maxDigits: 3), .isolated, invert: false)]
        XCTAssertEqual(pieces(llama3, "I'M he'S 'sup"), ["I", "'M", " he", "'S", " '", "sup"])
        XCTAssertEqual(pieces(llama3, "1234567 x"), ["123", "456", "7", " x"])
        XCTAssertEqual(pieces(llama3, "a...\n\nb  \n c"), ["a", "...\n\n", "b", "  \n", " c"])
        XCTAssertEqual(pieces(llama3, "\tword 'quote' end  "), ["\tword", " '", "quote", "'", " end", "  "])
        let qwen2: [PreTokenizerStep] = [.split(.llama3(maxDigits: 1), .isolated, invert: false)]
        XCTAssertEqual(pieces(qwen2, "x 123"), ["x", " ", "1", "2", "3"])
    }

    func test_normalizers_asHF() throws {
        let n = Normalizer(steps: [.nfkc, .lowercase, .strip(left: true, right: true),
                                   .replace(.regex(try CompiledRegex(#"\s+"#)), content: " ")])
        XCTAssertEqual(n.apply("  ﬁ  ΣΑΣ\tİ  "), "fi σασ i\u{307}")
        XCTAssertEqual(NormalizerStep.prepend("▁").apply(""), "", "nothing is prepended to empty text")
        XCTAssertEqual(NormalizerStep.prepend("▁").apply("a b"), "▁a b")
        XCTAssertEqual(NormalizerStep.replace(.literal(Array(" ".utf8)), content: "▁").apply(" a  b"), "▁a▁▁b")
        XCTAssertEqual(NormalizerStep.nfc.apply("e\u{301}"), "\u{E9}")
        XCTAssertEqual(NormalizerStep.nfd.apply("\u{E9}").unicodeScalars.count, 2)
        XCTAssertEqual(NormalizerStep.strip(left: false, right: true).apply(" a "), " a")
        // HF's tables are Unicode 9.0's: U+1DF8 (10.0, class 228) is not reordered before U+0485
        // (class 230), U+11446 (9.0, class 7) is; U+32FF (12.1) has no compatibility mapping there.
        XCTAssertEqual(Array(NormalizerStep.nfc.apply("a\u{485}\u{1DF8}").unicodeScalars), Array("a\u{485}\u{1DF8}".unicodeScalars))
        XCTAssertEqual(Array(NormalizerStep.nfd.apply("a\u{301}\u{11446}").unicodeScalars), Array("a\u{11446}\u{301}".unicodeScalars))
        XCTAssertEqual(NormalizerStep.nfkc.apply("\u{32FF}\u{FB01}"), "\u{32FF}fi")
    }

    func test_decoders_asHF() {
        let llama: [DecoderStep] = [.replace(.literal(Array("▁".utf8)), content: " "), .byteFallback, .fuse,
                                    .strip(content: " ", start: 1, stop: 0)]
        let decoder = TokenDecoderPipeline(steps: llama)
        XCTAssertEqual(decoder.decode(["▁Hi", "<0xE2>", "<0x82>", "<0xAC>", "▁", "<0xFF>", "x"]), "Hi€ \u{FFFD}x")
        XCTAssertEqual(TokenDecoderPipeline(steps: [.byteFallback, .fuse]).decode(["<0xE2>", "<0x82>", "a"]), "\u{FFFD}\u{FFFD}a",
                       "an invalid run gives one U+FFFD per byte")
        XCTAssertEqual(TokenDecoderPipeline(steps: [.metaspace(replacement: "▁", prependScheme: .always)])
            .decode(["▁▁hi", "▁there", "▁"]), "hi there ")
        XCTAssertEqual(TokenDecoderPipeline(steps: nil).decode(["ab", "Ġc"]), "ab Ġc", "no decoder: HF joins with spaces")
        XCTAssertEqual(TokenDecoderPipeline(steps: [.byteLevel]).decode(["ab", "<x y>", "Ġé"]), "ab<x y> \u{FFFD}",
                       "a token with a character outside the byte alphabet is kept as its UTF-8")
    }

    /// Long pieces merge with the heap (the all-occurrences loop is O(n) per rank used); both
    /// give the same ids on long words, and hostile one-piece inputs finish quickly.
    func test_longPieces_heapEqualsAllByRank_andHostileInputIsFast() throws {
        let gpt2 = try TestData.requireGPT2()
        var state: UInt64 = 7
        func next(_ n: Int) -> Int {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Int(state >> 33) % n
        }
        let alphabet = Array("aabcdeeilmnorsttu")
        for _ in 0..<200 {
            let word = Array(String((0..<(65 + next(300))).map { _ in alphabet[next(alphabet.count)] }).utf8)
            var symbols = word.map { gpt2.byteIDs[Int($0)] }
            let heap = gpt2.mergeOneAtATime(symbols)
            gpt2.mergeAllByRank(&symbols)
            XCTAssertEqual(heap, symbols)
        }
        let llama2 = try loadTokenizer(from: try PipelineParityTests.fixturePath("llama2-stories260k.tokenizer.json"))
        let start = Date()
        let long = String(repeating: "ab", count: 200_000)
        XCTAssertEqual(llama2.decode(llama2.encode(long, allowSpecial: false)), long)
        XCTAssertEqual(gpt2.decode(gpt2.encode(String(repeating: "a", count: 1_000_000), allowSpecial: false)).count, 1_000_000)
        let seconds = Date().timeIntervalSince(start)
        XCTAssertLessThan(seconds, 10, "one 400 KB piece (Llama 2 layout) and one 1 MB word (GPT-2) took \(seconds) s")
    }

    /// Merging every occurrence of the best pair at once equals HF's one-at-a-time order when the
    /// merges are in rank order (GPT-2's are).
    func test_mergeAllByRank_equalsOneAtATime_onGPT2() throws {
        let gpt2 = try TestData.requireGPT2()
        XCTAssertTrue(gpt2.mergesInRankOrder)
        XCTAssertTrue(gpt2.fastPath)
        var state: UInt64 = 99
        func next(_ n: Int) -> Int {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Int(state >> 33) % n
        }
        let alphabet = Array("aaabbbeeeelnorst th ing ed  ")
        for _ in 0..<2000 {
            let word = Array(String((0...next(24)).map { _ in alphabet[next(alphabet.count)] }).utf8)
            let initial = word.map { gpt2.byteIDs[Int($0)] }
            word.withUnsafeBufferPointer { w in
                XCTAssertEqual(gpt2.bpe(w.baseAddress!, w.count), gpt2.mergeOneAtATime(initial))  // non-empty word
            }
        }
    }
}
