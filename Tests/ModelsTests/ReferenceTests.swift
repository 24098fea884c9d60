import Foundation
import XCTest
import Autograd
import NN
import Models
import TestSupport

/// Logits of small random GPT-2 and Llama models against Hugging Face transformers on
/// the same weights. Fixtures come from scripts/make_model_fixtures.py (committed, so
/// these tests need no Python).
final class ReferenceTests: XCTestCase {
    struct Fixture: Decodable {
        struct Weight: Decodable { var shape: [Int]; var data: [Float] }
        var config: [String: JSONValue]
        var tokens: [Int32]
        var batch: Int
        var time: Int
        var logits: [Float]
        var loss: Double
        var weights: [String: Weight]
    }
    enum JSONValue: Decodable {
        case number(Double), string(String), bool(Bool)
        init(from decoder: Decoder) throws {
            let c = try decoder.singleValueContainer()
            if let b = try? c.decode(Bool.self) { self = .bool(b) }
            else if let d = try? c.decode(Double.self) { self = .number(d) }
            else { self = .string(try c.decode(String.self)) }
        }
        var int: Int { if case let .number(d) = self { return Int(d) }; return 0 }
        var float: Float { if case let .number(d) = self { return Float(d) }; return 0 }
        var bool: Bool { if case let .bool(b) = self { return b }; return false }
    }

    func load(_ name: String) throws -> (DecoderModel, Parameters, Fixture) {
        let url = try XCTUnwrap(Bundle.module.url(forResource: name, withExtension: "json", subdirectory: "Fixtures"),
                                "fixture \(name).json missing: run scripts/make_model_fixtures.py")
        let f = try JSONDecoder().decode(Fixture.self, from: Data(contentsOf: url))
        let c = f.config
        let family = ModelFamily(rawValue: { if case let .string(s) = c["family"]! { return s }; return "" }())!
        let config = ModelConfig(family: family, vocabSize: c["vocab_size"]!.int, contextLength: c["context_length"]!.int,
                                 dim: c["dim"]!.int, layers: c["layers"]!.int, heads: c["heads"]!.int,
                                 kvHeads: c["kv_heads"]!.int, ffnDim: c["ffn_dim"]!.int, normEps: c["norm_eps"]!.float,
                                 ropeTheta: c["rope_theta"]?.float ?? 10000, tiedEmbeddings: c["tied"]?.bool ?? true)
        let model = try DecoderModel(config)
        var p = Parameters()
        for (name, _) in model.parameterShapes {
            let w = try XCTUnwrap(f.weights[name], "fixture has no tensor \(name)")
            p[name] = Tensor(shape: w.shape, scalars: w.data)
        }
        try model.validate(p)
        XCTAssertEqual(p.count, f.weights.count, "every fixture tensor is used")
        return (model, p, f)
    }

    func check(_ name: String) throws {
        let (model, p, f) = try load(name)
        let positions = (0..<f.batch).flatMap { _ in (0..<f.time).map { Int32($0) } }
        let segments = (0..<f.batch).flatMap { b in [Int32](repeating: Int32(b), count: f.time) }
        let logits = model.logits(ModelInput(tokens: f.tokens, positions: positions, segmentIDs: segments, batch: f.batch, time: f.time), parameters: p)
        assertClose(logits, Tensor(shape: logits.shape, scalars: f.logits), atol: 1e-4, rtol: 0, name)
        var targets = [Int32]()
        for b in 0..<f.batch { for t in 0..<f.time {
            targets.append(t + 1 < f.time ? f.tokens[b * f.time + t + 1] : -100)
        } }
        let (sum, count) = Tensor.crossEntropy(logits: logits, targets: targets)
        XCTAssertEqual(Double(sum.scalar) / Double(count), f.loss, accuracy: 1e-4)
    }

    func test_gpt2_logitsAndLoss_matchTransformers() throws { try check("gpt2_tiny") }
    func test_llama_gqa_logitsAndLoss_matchTransformers() throws { try check("llama_tiny") }
}
