import Autograd
import Checkpoints
import Foundation
@testable import Interop
import Models
import NN
import TestSupport
import XCTest

/// GGUF models as Llamas: metadata to config, llama.cpp's names and q/k layout back to
/// Hugging Face's, and refusals of what is not implemented.
final class GGUFImportTests: XCTestCase {
    static let config = ModelConfig(family: .llama, vocabSize: 48, contextLength: 64, dim: 32, layers: 2, heads: 4, kvHeads: 2,
                                    ffnDim: 64, normEps: 1e-5, ropeTheta: 100000, tiedEmbeddings: false)

    func write(_ config: ModelConfig, type: GGUFExport.TensorType = .f32, seed: UInt64 = 7,
               edit: (inout GGUFWriter) throws -> Void = { _ in }) throws -> (URL, Parameters) {
        var rng = RNG(seed: seed)
        let p = try DecoderModel(config).initialParameters(rng: &rng)
        var w = try GGUFExport.modelWriter(config: config, parameters: p, type: type, name: "test")
        try edit(&w)
        let url = try temporaryDirectory("instructkit-gguf").appendingPathComponent("m.gguf")
        try w.write(to: url)
        return (url, p)
    }

    /// F32: export then import gives the same config and the same weights, bit for bit, for a
    /// tied and an untied head (q/k go to llama.cpp's layout and back).
    func test_exportThenImport_f32_sameConfigAndWeightsBitForBit() throws {
        for tied in [false, true] {
            var config = Self.config
            config.tiedEmbeddings = tied
            let (url, p) = try write(config)
            let imported = try ModelImport.read(url)
            XCTAssertEqual(imported.config, config)
            XCTAssertEqual(imported.parameters.names, p.names)
            for name in p.names {
                XCTAssertEqual(imported.parameters[name].scalars.map(\.bitPattern), p[name].scalars.map(\.bitPattern), name)
            }
        }
    }

    /// The q/k permutation is llama.cpp's: within a head, rotate-half row s*D/2+j is pair row 2j+s.
    func test_halvesToPairs_isLlamaCppsPermute_andInvertsPairsToHalves() {
        let heads = 2, d = 4, cols = 3
        let w = Tensor(shape: [heads * d, cols], scalars: (0..<(heads * d * cols)).map(Float.init))
        let pairs = GGUFExport.halvesToPairs(w, heads: heads, headDim: d)
        // Head 0: rows [0, 1, 2, 3] (halves: x0, x1 | y0, y1) become [0, 2, 1, 3] (x0, y0, x1, y1).
        XCTAssertEqual(Array(pairs.scalars[0..<12]), [0, 1, 2, 6, 7, 8, 3, 4, 5, 9, 10, 11])
        XCTAssertEqual(Llama2c.pairsToHalves(pairs, heads: heads, headDim: d).scalars, w.scalars)
    }

    /// Q8_0 weights de-quantize close to the originals; the forward pass stays close.
    func test_q8_0_import_logitsCloseToFloat() throws {
        let (url, p) = try write(Self.config, type: .q8_0)
        let imported = try ModelImport.read(url)
        let model = try DecoderModel(Self.config)
        let input = ModelInput(sequence: [1, 5, 9, 3, 7])
        let a = model.logits(input, parameters: p).scalars, b = model.logits(input, parameters: imported.parameters).scalars
        let scale = a.map(abs).max() ?? 1
        XCTAssertLessThan(zip(a, b).map { abs($0 - $1) }.max() ?? 0, 0.05 * scale)
    }

    func test_unimplementedArchitectureOrScaling_orExtraTensor_isRefusedByName() throws {
        let cases: [(String, (inout GGUFWriter) throws -> Void)] = [
            ("llama.rope.scaling.type", { try $0.add("llama.rope.scaling.type", .string("linear")) }),
            ("llama.expert_count", { try $0.add("llama.expert_count", .uint32(8)) }),
            ("rope_freqs.weight", { try $0.addTensor("rope_freqs.weight", Tensor.ones([4])) }),
        ]
        for (key, edit) in cases {
            let (url, _) = try write(Self.config, edit: edit)
            XCTAssertThrowsError(try ModelImport.read(url), key) { error in
                guard case let .unsupported(_, k, _)? = error as? InteropError else { return XCTFail("\(key): \(error)") }
                XCTAssertEqual(k, key)
            }
        }
        var w = GGUFWriter()
        try w.add("general.architecture", .string("qwen2"))
        let url = try temporaryDirectory("instructkit-gguf").appendingPathComponent("q.gguf")
        try w.write(to: url)
        XCTAssertThrowsError(try ModelImport.read(url)) { error in
            XCTAssertTrue("\(error)".contains("qwen2") && "\(error)".contains("supported: llama"), "\(error)")
        }
    }

    func test_truncatedFile_isAClearErrorAndNothingIsWritten() throws {
        let (url, _) = try write(Self.config)
        let data = try Data(contentsOf: url)
        try data.prefix(data.count / 2).write(to: url)
        let out = url.deletingLastPathComponent().appendingPathComponent("run")
        XCTAssertThrowsError(try ModelImport.save(try ModelImport.read(url), in: out)) { error in
            XCTAssertTrue("\(error)".contains(url.path), "\(error)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: out.path))
    }
}
