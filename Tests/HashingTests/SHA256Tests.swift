import Foundation
import Hashing
import XCTest

/// SHA-256 against FIPS 180-4's examples (NIST CSRC "SHA256.pdf", "SHA2_Additional.pdf") and
/// a longer message whose digest Python's hashlib gave:
/// `hashlib.sha256(bytes((i * 31 + 7) % 256 for i in range((1 << 20) + 13))).hexdigest()`.
final class SHA256Tests: XCTestCase {
    func hex(_ s: String) -> String { SHA256.hex(SHA256.hash(Array(s.utf8))) }

    func test_fipsExamples_matchPublishedDigests() {
        XCTAssertEqual(hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        XCTAssertEqual(hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        XCTAssertEqual(hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
                       "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        XCTAssertEqual(
            hex("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu"),
            "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1")
        XCTAssertEqual(SHA256.hex(SHA256.hash([UInt8](repeating: UInt8(ascii: "a"), count: 1_000_000))),
                       "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    func test_longMessage_matchesHashlib() {
        let count: Int = (1 << 20) + 13
        let bytes: [UInt8] = (0..<count).map { (i: Int) -> UInt8 in UInt8(truncatingIfNeeded: i &* 31 &+ 7) }
        XCTAssertEqual(SHA256.hex(SHA256.hash(bytes)), "78943c02dd1b4ee1e6790aafaf42fef70eee83b7c94db610b92dd1249a1aa40f")
        XCTAssertEqual(SHA256.hex(SHA256.hash(Data(bytes))), "78943c02dd1b4ee1e6790aafaf42fef70eee83b7c94db610b92dd1249a1aa40f")
    }

    func test_updatesInPieces_equalOneUpdate_atEveryBlockBoundary() {
        let bytes: [UInt8] = (0..<200).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 3) }
        let whole = SHA256.hash(bytes)
        for cut in 0...bytes.count {
            var h = SHA256()
            h.update(bytes[..<cut])
            h.update(bytes[cut...])
            XCTAssertEqual(h.finalize(), whole, "cut at \(cut)")
        }
    }

    func test_copy_continuesIndependently_andFinalizeLeavesTheHasherUsable() {
        var a = SHA256()
        a.update(Array("ab".utf8))
        var b = a
        a.update(Array("c".utf8))
        b.update(Array("x".utf8))
        XCTAssertEqual(SHA256.hex(a.finalize()), hex("abc"))
        XCTAssertEqual(SHA256.hex(b.finalize()), hex("abx"))
        XCTAssertEqual(SHA256.hex(a.finalize()), hex("abc"), "finalize twice gives the same digest")
        a.update(Array("d".utf8))
        XCTAssertEqual(SHA256.hex(a.finalize()), hex("abcd"), "bytes after finalize extend the message")
    }

    func test_emptyBuffer_changesNothing() {
        var h = SHA256()
        h.update(UnsafeRawBufferPointer(start: nil, count: 0))
        h.update([UInt8]())
        XCTAssertEqual(SHA256.hex(h.finalize()), hex(""))
    }

    func test_hex_isLowerCaseTwoDigitsPerByte() {
        XCTAssertEqual(SHA256.hex([0, 1, 0xAB, 0xFF]), "0001abff")
        XCTAssertEqual(SHA256.hex([]), "")
    }
}
