import Autograd
import Models
import NN
import XCTest

/// The model's sizes from its shape alone (`DecoderModel+Memory.swift`) agree with the tensor
/// lists they stand in for, and stay cheap and finite for absurd shapes.
final class ModelMemoryTests: XCTestCase {
    static let configs: [ModelConfig] = [
        ModelConfig(family: .llama, vocabSize: 40, contextLength: 32, dim: 16, layers: 2, heads: 4, kvHeads: 2, ffnDim: 40),
        ModelConfig(family: .llama, vocabSize: 49152, contextLength: 8192, dim: 576, layers: 30, heads: 9, kvHeads: 3,
                    ffnDim: 1536, tiedEmbeddings: true),  // SmolLM2-135M's shape
        ModelConfig(family: .llama, vocabSize: 512, contextLength: 256, dim: 128, layers: 4, heads: 4, kvHeads: 2,
                    tiedEmbeddings: false),
        ModelConfig(family: .gpt2, vocabSize: 50257, contextLength: 512, dim: 256, layers: 4, heads: 4),
        ModelConfig(family: .gpt2, vocabSize: 61, contextLength: 16, dim: 24, layers: 2, heads: 3, ffnDim: 50),
    ]

    func test_parameterScalars_everyFamilyAndShape_equalTheTensorList() throws {
        for config in Self.configs {
            let model = try DecoderModel(config)
            XCTAssertEqual(config.parameterScalars, Double(model.parameterCount), "\(config)")
            XCTAssertEqual(config.parameterTensorCount, Double(model.parameterShapes.count), "\(config)")
        }
    }

    func test_adapterScalars_everyTargetSet_equalTheAdapterShapes() throws {
        let sets: [ModelFamily: [[LoRATarget]]] = [.llama: [[.q, .v], [.q, .k, .v, .o, .gate, .up, .down], [.down]],
                                                   .gpt2: [[.qkv], [.qkv, .o, .up, .down]]]
        for config in Self.configs {
            for targets in sets[config.family]! {
                let lora = LoRAConfig(rank: 4, alpha: 8, targets: targets)
                let model = try DecoderModel(config, lora: lora)
                let listed = model.adapterShapes.reduce(0) { $0 + Tensor.elementCount($1.shape) }
                XCTAssertEqual(lora.adapterScalars(for: config), Double(listed), "\(targets) on \(config)")
            }
        }
    }

    /// A billion layers of width a million: a finite, huge count in no time, and no list.
    func test_sizes_absurdShape_finiteAndHugeWithoutListingTensors() {
        let config = ModelConfig(family: .llama, vocabSize: 1 << 30, contextLength: 1 << 30, dim: 1 << 20, layers: 1_000_000_000,
                                 heads: 1 << 10)
        let start = Date()
        XCTAssertGreaterThan(config.parameterScalars, 1e20)
        XCTAssertTrue(config.parameterScalars.isFinite)
        XCTAssertEqual(config.parameterTensorCount, 9e9 + 2)
        let saved = config.savedActivationScalars(tokens: 100_000_000 * 256, headRows: 100_000_000 * 256)
        XCTAssertTrue(saved.blocks.isFinite && saved.blocks > 1e25)
        XCTAssertLessThan(Date().timeIntervalSince(start), 0.1)
    }

    /// The saved activations grow with the tokens, and the head's only with the trained rows.
    func test_savedActivations_headRowsShrinkOnlyTheHeadAndLastBlock() {
        let c = Self.configs[1]
        let all = c.savedActivationScalars(tokens: 1024, headRows: 1024)
        let some = c.savedActivationScalars(tokens: 1024, headRows: 256)
        // The head keeps R x (3C + 1) and one chunk of logits, never R x V.
        let chunk = Double(Tensor.linearCrossEntropyChunkRows(vocabulary: c.vocabSize))
        XCTAssertEqual(all.head - some.head, (1024 - 256) * Double(3 * c.dim + 1), accuracy: 1e-6)
        XCTAssertEqual(some.head, 256 * Double(3 * c.dim + 1) + chunk * Double(c.vocabSize), accuracy: 1e-6)
        XCTAssertLessThan(all.head, 1024 * Double(c.vocabSize) / 4)
        XCTAssertLessThan(some.blocks, all.blocks)
        XCTAssertGreaterThan(some.blocks, all.blocks * Double(c.layers - 1) / Double(c.layers))
        let double = c.savedActivationScalars(tokens: 2048, headRows: 2048)
        XCTAssertEqual(double.blocks, 2 * all.blocks, accuracy: 1e-6)
        let lora = c.savedActivationScalars(tokens: 1024, headRows: 1024,
                                            lora: LoRAConfig(rank: 8, alpha: 16, dropout: 0.05, targets: [.q, .v]))
        // Dropout on the adapters' input keeps a mask and a dropped copy of h per target.
        XCTAssertEqual(lora.blocks - all.blocks, Double(c.layers) * 1024 * 2 * (8 + 2 * 576), accuracy: 1e-6)
    }
}
