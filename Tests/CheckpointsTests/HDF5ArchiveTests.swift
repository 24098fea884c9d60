import Autograd
@testable import Checkpoints
import Foundation
import TestSupport
import XCTest

final class HDF5ArchiveTests: XCTestCase {
    func test_writeThenRead_roundTrip_sameOrderValuesAndAttributes() throws {
        let dir = try makeTemporaryDirectory(self)
        let url = dir.appendingPathComponent("model.h5")
        let original = sampleTensors()
        let tokenizer = String(repeating: "{\"vocab\": \"ü\"}", count: 20_000)  // 300 KB: beyond compact attribute storage
        try HDF5Writer.write(original, attributes: ["tokenizer": tokenizer], to: url)
        let back = try HDF5Reader.read(contentsOf: url)
        assertSameTensors(original, back)
        XCTAssertEqual(back.metadata["config"], original.metadata["config"])
        XCTAssertEqual(back.metadata["note"], original.metadata["note"])
        XCTAssertEqual(back.metadata["tokenizer"], tokenizer)
        XCTAssertEqual(back.metadata[HDF5Archive.layoutAttribute], HDF5Archive.layoutVersion)
    }

    func test_write_overwritesExistingFile() throws {
        let dir = try makeTemporaryDirectory(self)
        let url = dir.appendingPathComponent("model.h5")
        try HDF5Writer.write(sampleTensors(), to: url)
        let small = NamedTensors([("a.b", Tensor(shape: [2], scalars: [1, 2]))])
        try HDF5Writer.write(small, to: url)
        assertSameTensors(try HDF5Reader.read(contentsOf: url), small)
    }

    func test_write_replacesAtomically_noTemporaryFileLeft_badDirectoryThrowsIO() throws {
        let dir = try makeTemporaryDirectory(self)
        let url = dir.appendingPathComponent("model.h5")
        try HDF5Writer.write(sampleTensors(), to: url)
        try HDF5Writer.write(sampleTensors(seed: 9), to: url)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), ["model.h5"])
        assertSameTensors(try HDF5Reader.read(contentsOf: url), sampleTensors(seed: 9))
        let missing = dir.appendingPathComponent("no-such-dir/model.h5")
        XCTAssertNotNil(expectCheckpointError { try HDF5Writer.write(sampleTensors(), to: missing) })
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), ["model.h5"])
    }

    func test_write_namesThatAreNotCleanPaths_throwInvalidTensorName() throws {
        let dir = try makeTemporaryDirectory(self)
        let url = dir.appendingPathComponent("bad.h5")
        for names in [["a..b"], [".a"], ["a."], ["a/b"], ["a.b", "a.b.c"], ["a.b.c", "a.b"]] {
            let t = NamedTensors(names.map { ($0, Tensor(1)) })
            guard case .invalidTensorName? = expectCheckpointError({ try HDF5Writer.write(t, to: url) }) else {
                return XCTFail("\(names) should be rejected")
            }
        }
    }

    func test_read_notHDF5_throwsHDF5Error() throws {
        let dir = try makeTemporaryDirectory(self)
        let url = dir.appendingPathComponent("x.h5")
        try Data("not an hdf5 file at all".utf8).write(to: url)
        guard case .hdf5(let path, _, _)? = expectCheckpointError({ _ = try HDF5Reader.read(contentsOf: url) }) else { return XCTFail() }
        XCTAssertEqual(path, url.path)
        guard case .io? = expectCheckpointError({ _ = try HDF5Reader.read(contentsOf: dir.appendingPathComponent("missing.h5")) }) else { return XCTFail() }
    }

    func test_write_stories260KImport_readsBackIdentically() throws {
        let bin = Llama2cImportTests.stories260K
        guard FileManager.default.fileExists(atPath: bin.path) else {
            print("SKIP test_write_stories260KImport: \(bin.path) not found (../shared is absent)")
            return
        }
        let model = try Llama2c.read(contentsOf: bin)
        let dir = try makeTemporaryDirectory(self)
        let url = dir.appendingPathComponent("stories260K.h5")
        try HDF5Writer.write(model.tensors, attributes: ["config": Llama2c.configJSON(model.config)], to: url)
        let back = try HDF5Reader.read(contentsOf: url)
        assertSameTensors(model.tensors, back)
    }
}
