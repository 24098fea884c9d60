import Autograd
@testable import Checkpoints
import Foundation
import TestSupport
import XCTest

/// A fresh temporary directory, removed when the test ends.
func makeTemporaryDirectory(_ test: XCTestCase, file: StaticString = #filePath, line: UInt = #line) throws -> URL {
    let url = FileManager.default.temporaryDirectory
        .appendingPathComponent("instructkit-ckpt-tests-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    test.addTeardownBlock { try? FileManager.default.removeItem(at: url) }
    return url
}

/// A small GPT-2-like set of named tensors with distinct values, metadata included.
func sampleTensors(seed: UInt64 = 7) -> NamedTensors {
    var t = NamedTensors(metadata: ["config": #"{"n_layer":1,"n_embd":4}"#, "note": "quote \" backslash \\ newline \n é"])
    t.append("transformer.wte.weight", testTensor([10, 4], seed: seed))
    t.append("transformer.h.0.attn.c_attn.weight", testTensor([4, 12], seed: seed + 1))
    t.append("transformer.h.0.attn.c_attn.bias", testTensor([12], seed: seed + 2))
    t.append("transformer.h.0.ln_1.weight", testTensor([4], seed: seed + 3))
    t.append("transformer.h.10.mlp.c_fc.weight", testTensor([4, 3, 2], seed: seed + 4))
    t.append("transformer.ln_f.bias", testTensor([4], seed: seed + 5))
    t.append("scalar.value", Tensor(3.5))
    t.append("empty.rows", Tensor(shape: [0, 4], scalars: []))
    return t
}

/// Asserts same names in the same order and bit-identical values and shapes.
func assertSameTensors(_ a: NamedTensors, _ b: NamedTensors, file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(a.names, b.names, file: file, line: line)
    for e in a.entries {
        guard let other = b[e.name] else { XCTFail("missing \(e.name)", file: file, line: line); continue }
        XCTAssertEqual(e.tensor.shape, other.shape, e.name, file: file, line: line)
        XCTAssertEqual(e.tensor.scalars.map { $0.bitPattern }, other.scalars.map { $0.bitPattern }, e.name, file: file, line: line)
    }
}

/// Builds a safetensors file by hand from a JSON header and a data buffer (for reader tests).
func rawSafetensors(header: String, data: [UInt8]) -> Data {
    var out = Data()
    var n = UInt64(header.utf8.count).littleEndian
    withUnsafeBytes(of: &n) { out.append(contentsOf: $0) }
    out.append(contentsOf: Array(header.utf8))
    out.append(contentsOf: data)
    return out
}

/// Runs `body` and returns the CheckpointError it throws, failing if it throws anything else or nothing.
func expectCheckpointError(_ body: () throws -> Void, file: StaticString = #filePath, line: UInt = #line) -> CheckpointError? {
    do {
        try body()
        XCTFail("expected a CheckpointError, nothing was thrown", file: file, line: line)
    } catch let e as CheckpointError {
        return e
    } catch {
        XCTFail("expected a CheckpointError, got \(error)", file: file, line: line)
    }
    return nil
}
