import XCTest
@testable import Inference

/// `TextStream`: what streaming generation prints, piece by piece.
final class TextStreamTests: XCTestCase {
    /// A toy decoder: id i is the i-th string of `pieces`; id 9 is half of a UTF-8 character
    /// that id 8 completes (decoded as U+FFFD until then).
    let pieces = ["Hel", "lo", " wor", "ld", "<|im", "_end|>", "!", "", "", ""]
    func decode(_ ids: [Int32]) -> String {
        var bytes: [UInt8] = []
        for id in ids {
            switch id {
            case 9: bytes += [0xC3]
            case 8: bytes += [0xA9]
            default: bytes += Array(pieces[Int(id)].utf8)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    func test_textStream_noStops_concatenationEqualsDecoding() {
        var s = TextStream(decode: decode)
        var out = ""
        for id: Int32 in [0, 1, 2, 3, 6] { out += s.append(id) }
        out += s.finish()
        XCTAssertEqual(out, "Hello world!")
        XCTAssertEqual(s.text, "Hello world!")
        XCTAssertFalse(s.stopped)
    }

    func test_textStream_splitCharacter_heldUntilComplete() {
        var s = TextStream(decode: decode)
        XCTAssertEqual(s.append(0), "Hel")
        XCTAssertEqual(s.append(9), "", "half a character must not be printed as U+FFFD")
        XCTAssertEqual(s.append(8), "é")
        XCTAssertEqual(s.finish(), "")
    }

    func test_textStream_stopStringAcrossTokens_cutAndNeverPrinted() {
        var s = TextStream(decode: decode, stopStrings: ["<|im_end|>"])
        var out = ""
        out += s.append(0)
        out += s.append(1)
        let held = s.append(4)    // "<|im" could begin the stop string: held back
        XCTAssertEqual(held, "")
        out += held
        out += s.append(5)        // completes it
        XCTAssertTrue(s.stopped)
        XCTAssertEqual(s.append(6), "", "nothing after a stop")
        out += s.finish()
        XCTAssertEqual(out, "Hello")
        XCTAssertEqual(s.text, "Hello")
    }

    func test_textStream_prefixOfStopThatNeverCompletes_releasedByFinish() {
        var s = TextStream(decode: decode, stopStrings: ["<|im_end|>"])
        var out = s.append(0) + s.append(4)
        XCTAssertEqual(out, "Hel")
        out += s.finish()
        XCTAssertEqual(out, "Hel<|im")
        XCTAssertFalse(s.stopped)
    }

    func test_textStream_emptyStopString_ignored() {
        var s = TextStream(decode: decode, stopStrings: [""])
        XCTAssertEqual(s.append(0), "Hel")
        XCTAssertFalse(s.stopped)
    }
}
