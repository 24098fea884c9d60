import Autograd
@testable import Checkpoints
import Foundation
import TestSupport
import XCTest

/// Mutation fuzzing of every reader: valid files are damaged (bit flips, truncation, header
/// edits, inserted/deleted bytes, random bytes) and each reader must either succeed or throw a
/// `CheckpointError`; a crash fails the whole run. Seeds are fixed, so a failure reproduces.
final class FuzzTests: XCTestCase {
    private struct Mutator {
        var rng: RNG
        /// Characters that keep JSON almost valid, so header edits reach the deeper checks.
        let jsonish = Array("{}[]\":,0123456789-+.eE FfBI_abcdtxyz\\".utf8)

        mutating func int(_ bound: Int) -> Int { bound <= 0 ? 0 : rng.nextInt(below: bound) }

        /// One random mutation of `base`; `headerEnd` bounds the header region for header edits.
        mutating func mutate(_ base: [UInt8], headerEnd: Int) -> [UInt8] {
            var b = base
            switch int(8) {
            case 0:  // flip 1-8 random bits
                for _ in 0...int(8) where !b.isEmpty { b[int(b.count)] ^= UInt8(1) << UInt8(int(8)) }
            case 1:  // truncate
                b = Array(b.prefix(int(b.count)))
            case 2:  // edit 1-4 header characters with JSON-ish ones
                for _ in 0...int(4) where headerEnd > 8 { b[8 + int(headerEnd - 8)] = jsonish[int(jsonish.count)] }
            case 3:  // rewrite the size prefix / leading integers
                for i in 0..<min(8, b.count) where int(3) == 0 { b[i] = UInt8(truncatingIfNeeded: rng.nextUInt64()) }
            case 4:  // insert random bytes
                let at = int(b.count + 1)
                b.insert(contentsOf: (0..<(1 + int(16))).map { _ in UInt8(truncatingIfNeeded: rng.nextUInt64()) }, at: at)
            case 5:  // delete a range
                if !b.isEmpty {
                    let at = int(b.count)
                    b.removeSubrange(at..<min(b.count, at + 1 + int(16)))
                }
            case 6:  // overwrite a run with random bytes
                if !b.isEmpty {
                    let at = int(b.count)
                    for i in at..<min(b.count, at + 1 + int(32)) { b[i] = UInt8(truncatingIfNeeded: rng.nextUInt64()) }
                }
            default:  // entirely random bytes
                b = (0..<int(200)).map { _ in UInt8(truncatingIfNeeded: rng.nextUInt64()) }
            }
            return b
        }
    }

    private func smallTensors() -> NamedTensors {
        var t = NamedTensors(metadata: ["config": #"{"n_layer":1}"#])
        t.append("a.w", testTensor([3, 2], seed: 1))
        t.append("a.b", testTensor([2], seed: 2))
        t.append("c.d.e", Tensor(0.25))
        return t
    }

    /// Runs `body`, counting outcomes; anything but success or CheckpointError fails the test.
    private func expectSuccessOrCheckpointError(_ label: String, _ body: () throws -> Void,
                                                accepted: inout Int, rejected: inout Int) {
        do {
            try body()
            accepted += 1
        } catch is CheckpointError {
            rejected += 1
        } catch {
            XCTFail("\(label): threw a non-CheckpointError: \(error)")
        }
    }

    func test_fuzz_safetensorsReader_6000Mutations_neverCrash() throws {
        let base = [UInt8](try SafeTensors.encode(smallTensors()))
        let headerEnd = 8 + Int(base[0]) + Int(base[1]) << 8
        var m = Mutator(rng: RNG(seed: 2024))
        var (accepted, rejected) = (0, 0)
        for i in 0..<6000 {
            let bytes = m.mutate(base, headerEnd: headerEnd)
            expectSuccessOrCheckpointError("safetensors case \(i)", {
                _ = try bytes.withUnsafeBytes { try SafeTensors.decode($0, path: "fuzz-\(i).safetensors") }
            }, accepted: &accepted, rejected: &rejected)
        }
        print("fuzz safetensors: 6000 cases, \(accepted) read, \(rejected) rejected with CheckpointError")
        XCTAssertGreaterThan(rejected, 3000)
    }

    func test_fuzz_manifestAndTrainerState_3000Mutations_neverCrash() throws {
        // A trainer-state-like JSON file inside a real checkpoint, and the manifest itself.
        let run = try makeTemporaryDirectory(self)
        let state = #"{"step":120,"epoch":1,"data_cursor":{"shard":3,"offset":4096},"rng":{"state":[1,2,3,4]},"lr":0.0003}"#
        let dir = try CheckpointWriter.save(step: 120, in: run, files: [
            "trainer_state.json": .bytes(Data(state.utf8)),
            "model.safetensors": .tensors(smallTensors()),
        ])
        let manifestURL = dir.appendingPathComponent("manifest.json")
        let manifest = [UInt8](try Data(contentsOf: manifestURL))
        var m = Mutator(rng: RNG(seed: 77))
        var (accepted, rejected) = (0, 0)
        // In memory: the manifest parser.
        for i in 0..<2500 {
            let bytes = m.mutate(manifest, headerEnd: manifest.count)
            expectSuccessOrCheckpointError("manifest case \(i)", {
                _ = try CheckpointManifest.decode(Data(bytes), path: "manifest.json")
            }, accepted: &accepted, rejected: &rejected)
        }
        // On disk: a damaged trainer_state.json must be caught by verification, never read silently.
        let stateURL = dir.appendingPathComponent("trainer_state.json")
        let stateBytes = Array(state.utf8)
        var caught = 0
        for i in 0..<500 {
            let bytes = m.mutate(stateBytes, headerEnd: stateBytes.count)
            try Data(bytes).write(to: stateURL)
            do {
                _ = try CheckpointReader.open(dir)
                XCTAssertEqual(bytes, stateBytes, "case \(i): a changed trainer_state.json passed verification")
            } catch let CheckpointError.checksumMismatch(_, file, _) {
                XCTAssertEqual(file, "trainer_state.json")
                caught += 1
            } catch {
                XCTFail("trainer state case \(i): unexpected \(error)")
            }
        }
        print("fuzz manifest: 2500 cases, \(accepted) parsed, \(rejected) rejected; trainer_state: 500 cases, \(caught) caught by checksum")
    }

    func test_fuzz_hdf5Reader_2500Mutations_neverCrash() throws {
        // Two bases: small attributes (compact, in the object header) and a 100 KB one (dense
        // attribute storage: fractal heap and v2 B-tree), so mutations reach both code paths.
        let dir = try makeTemporaryDirectory(self)
        let small = dir.appendingPathComponent("small.h5")
        try HDF5Writer.write(smallTensors(), attributes: ["tokenizer": #"{"model":"bpe"}"#], to: small)
        let large = dir.appendingPathComponent("large.h5")
        try HDF5Writer.write(smallTensors(), attributes: ["tokenizer": String(repeating: "{\"merges\":[]}", count: 8000)], to: large)
        var m = Mutator(rng: RNG(seed: 5))
        var (accepted, rejected) = (0, 0)
        let url = dir.appendingPathComponent("fuzz.h5")
        // Set FUZZ_TRACE=1 to print each case before it runs (to find a hang in libhdf5).
        let trace = ProcessInfo.processInfo.environment["FUZZ_TRACE"] != nil
        for (base, cases) in [([UInt8](try Data(contentsOf: small)), 2000), ([UInt8](try Data(contentsOf: large)), 500)] {
            for i in 0..<cases {
                let bytes = m.mutate(base, headerEnd: min(base.count, 512))
                try Data(bytes).write(to: url)
                if trace { FileHandle.standardError.write(Data("hdf5 case \(i) of \(base.count)-byte base\n".utf8)) }
                expectSuccessOrCheckpointError("hdf5 case \(i)", {
                    _ = try HDF5Reader.read(contentsOf: url)
                }, accepted: &accepted, rejected: &rejected)
            }
        }
        print("fuzz hdf5: 2500 cases, \(accepted) read, \(rejected) rejected with CheckpointError")
    }

    func test_fuzz_llama2cReader_1000Mutations_neverCrash() throws {
        // dim 8, hidden 6, 1 layer, 2 heads, 1 kv head, vocab 5, seq_len 3, tied.
        var base: [UInt8] = []
        for v: Int32 in [8, 6, 1, 2, 1, 5, 3] { withUnsafeBytes(of: v.littleEndian) { base += $0 } }
        let floats = 5 * 8 + (2 * 8 + 2 * 64 + 2 * 8 * 4 + 3 * 8 * 6) + 8 + 3 * 4
        for i in 0..<floats { withUnsafeBytes(of: Float(i).bitPattern.littleEndian) { base += $0 } }
        XCTAssertNoThrow(try base.withUnsafeBytes { try Llama2c.decode($0, path: "base.bin") })
        var m = Mutator(rng: RNG(seed: 9))
        var (accepted, rejected) = (0, 0)
        for i in 0..<1000 {
            let bytes = m.mutate(base, headerEnd: 28)
            expectSuccessOrCheckpointError("llama2c case \(i)", {
                _ = try bytes.withUnsafeBytes { try Llama2c.decode($0, path: "fuzz.bin") }
            }, accepted: &accepted, rejected: &rejected)
        }
        print("fuzz llama2c: 1000 cases, \(accepted) read, \(rejected) rejected with CheckpointError")
    }
}
