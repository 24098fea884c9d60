import XCTest
@testable import Tokenizers

final class BPETokenizerTests: XCTestCase {
    func test_gpt2_knownStrings_giveHFIds() throws {
        let gpt2 = try TestData.requireGPT2()
        XCTAssertEqual(gpt2.encode("Hello world", allowSpecial: true), [15496, 995])
        XCTAssertEqual(gpt2.encode(" Hello world", allowSpecial: true), [18435, 995])
        XCTAssertEqual(gpt2.encode("IT'S", allowSpecial: true), [2043, 6, 50])
        XCTAssertEqual(gpt2.encode("a\n\nb", allowSpecial: true), [64, 198, 198, 65])
        XCTAssertEqual(gpt2.encode("日本語のテキスト", allowSpecial: true),
                       [33768, 98, 17312, 105, 45739, 252, 5641, 24336, 25084, 43302])
        XCTAssertEqual(gpt2.encode("", allowSpecial: true), [])
        XCTAssertEqual(gpt2.vocabularySize, 50257)
        XCTAssertEqual(gpt2.eosTokenID, 50256)
        XCTAssertNil(gpt2.bosTokenID)
        XCTAssertEqual(gpt2.specialTokenID("<|endoftext|>"), 50256)
        XCTAssertNil(gpt2.specialTokenID("<|im_start|>"))
    }

    func test_gpt2_ownEdgeCases_matchCommittedHFIds() throws {
        let gpt2 = try TestData.requireGPT2()
        let cases = try TestData.referenceCases()
        XCTAssertGreaterThan(cases.count, 700)
        var mismatches = 0
        for c in cases {
            let ids = gpt2.encode(c.text, allowSpecial: true)
            let plain = gpt2.encode(c.text, allowSpecial: false)
            if ids != c.ids || plain != c.ids_no_special {
                mismatches += 1
                if mismatches <= 5 {
                    XCTFail("\(c.text.debugDescription): ours \(ids) / \(plain), HF \(c.ids) / \(c.ids_no_special)")
                }
            }
        }
        XCTAssertEqual(mismatches, 0, "texts whose ids differ from HF tokenizers")
    }

    func test_gpt2_specialToken_matchedWholeOnlyWhenAllowed() throws {
        let gpt2 = try TestData.requireGPT2()
        XCTAssertEqual(gpt2.encode("Hello<|endoftext|>world", allowSpecial: true), [15496, 50256, 6894])
        let plain = gpt2.encode("Hello<|endoftext|>world", allowSpecial: false)
        XCTAssertEqual(plain, [15496, 27, 91, 437, 1659, 5239, 91, 29, 6894])
        XCTAssertFalse(plain.contains(50256), "user text must not inject <|endoftext|>")
        XCTAssertEqual(gpt2.decode(plain), "Hello<|endoftext|>world")
        XCTAssertEqual(gpt2.decode([15496, 50256, 6894]), "Hello<|endoftext|>world")
    }

    func test_gpt2_roundTrip_ownCasesAndSharedTexts() throws {
        let gpt2 = try TestData.requireGPT2()
        var texts = try TestData.referenceCases().map(\.text)
        if let shared = TestData.sharedInstructTexts() {
            print("round-trip: \(shared.count) shared instruct texts")
            texts += shared
        }
        for text in texts {
            for allow in [true, false] {
                XCTAssertEqual(gpt2.decode(gpt2.encode(text, allowSpecial: allow)), text)
            }
        }
    }

    func test_gpt2_cacheWarm_givesSameIdsAsCold() throws {
        let gpt2 = try TestData.requireGPT2()
        let text = "The same words, the same words, and the same words again."
        let first = gpt2.encode(text, allowSpecial: false)
        XCTAssertEqual(gpt2.encode(text, allowSpecial: false), first)
        var cold = BPEWordCache()
        XCTAssertEqual(gpt2.encode(text, allowSpecial: false, cache: &cold), first)
    }

    func test_cache_growsAndClears_idsUnchanged() throws {
        let gpt2 = try TestData.requireGPT2()
        // Distinct words (a number, then 1...20 letters chosen by a fixed LCG), many more than the capacity.
        let alphabet = Array("abcxyzé日😀")
        var state: UInt64 = 12345
        func next(_ n: Int) -> Int {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Int(state >> 33) % n
        }
        var words: [String] = []
        for i in 0..<3000 {
            words.append(String(i) + String((0...next(20)).map { _ in alphabet[next(alphabet.count)] }))
        }
        let text = words.joined(separator: " ")
        var tiny = BPEWordCache()
        tiny.capacity = 100
        let cached = gpt2.encode(text + " " + text, allowSpecial: false, cache: &tiny)
        let uncached = (words + words).enumerated().flatMap { i, w -> [Int32] in
            var fresh = BPEWordCache()
            return gpt2.encode(i == 0 ? w : " " + w, allowSpecial: false, cache: &fresh)
        }
        XCTAssertEqual(cached, uncached)
    }

    func test_decode_partialMultibyteCharacter_givesReplacementCharacter() throws {
        let gpt2 = try TestData.requireGPT2()
        let ids = gpt2.encode("😀", allowSpecial: false)
        XCTAssertGreaterThan(ids.count, 1)
        XCTAssertEqual(gpt2.decode(Array(ids.prefix(1))), "\u{FFFD}")
        XCTAssertEqual(gpt2.decode(ids + [-1, 999_999]), "😀", "out-of-range ids are skipped")
    }

    func test_addedTokens_leftmostLongestAndNotSplit() throws {
        let tok = try TinyTokenizer.make()
        let imStart = try XCTUnwrap(tok.specialTokenID("<|im_start|>"))
        let im = try XCTUnwrap(tok.specialTokenID("<|im"))
        let ids = tok.encode("<|im_start|>user", allowSpecial: true)
        XCTAssertEqual(ids.first, imStart, "the longest added token wins")
        XCTAssertFalse(ids.dropFirst().contains(im))
        XCTAssertEqual(tok.encode("x<|im", allowSpecial: true).last, im)
        XCTAssertFalse(tok.encode("<|im_start|>user", allowSpecial: false).contains(imStart))
        XCTAssertEqual(tok.decode(ids), "<|im_start|>user")
    }

    func test_addedTokens_lstripRstrip_swallowAdjacentWhitespace() throws {
        var vocab: [String: Int32] = [:]
        for b in 0..<256 { vocab[ByteLevel.encode([UInt8(b)])] = Int32(b) }
        let tok = try BPETokenizer(vocab: vocab, merges: [], addedTokens: [
            AddedToken(id: 256, content: "<mask>", special: true, lstrip: true),
            AddedToken(id: 257, content: "<end>", special: true, rstrip: true),
        ])
        // Checked against HF tokenizers 0.23.3 with the same flags (see scripts/tokenizer_reference.py).
        XCTAssertEqual(tok.encode("a \t\u{3000}<mask> b", allowSpecial: true), [97, 256, 32, 98])
        XCTAssertEqual(tok.encode("a<end> \n\u{A0}b ", allowSpecial: true), [97, 257, 98, 32])
        XCTAssertEqual(tok.encode("<end> <mask>", allowSpecial: true), [257, 256])
        XCTAssertEqual(tok.encode("a <mask>", allowSpecial: false).count, 8)
        let path = try TestData.temporaryDirectory() + "/t.json"
        try tok.save(to: path)
        XCTAssertEqual(try BPETokenizer(tokenizerJSON: path).addedTokens, tok.addedTokens)
    }

    func test_fingerprint_changesWithMerges() throws {
        let a = try TinyTokenizer.make()
        let b = try TinyTokenizer.make(merges: [("a", "b")])
        XCTAssertEqual(a.fingerprintBytes(), try TinyTokenizer.make().fingerprintBytes())
        XCTAssertNotEqual(a.fingerprintBytes(), b.fingerprintBytes())
    }
}

/// A tiny byte-level BPE built in code: the 256 bytes, a few merges and added tokens.
enum TinyTokenizer {
    static func make(merges: [(String, String)] = [("a", "b"), ("ab", "c"), ("Ġ", "ab")]) throws -> BPETokenizer {
        var vocab: [String: Int32] = [:]
        for b in 0..<256 { vocab[ByteLevel.encode([UInt8(b)])] = Int32(b) }
        for (l, r) in merges where vocab[l + r] == nil { vocab[l + r] = Int32(vocab.count) }
        let added = [
            AddedToken(id: Int32(vocab.count), content: "<|im_start|>", special: true),
            AddedToken(id: Int32(vocab.count + 1), content: "<|im", special: false),
        ]
        return try BPETokenizer(vocab: vocab, merges: merges, addedTokens: added)
    }
}
