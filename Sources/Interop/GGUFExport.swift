import Autograd
import Checkpoints
import Foundation
import Models
import NN

/// A Llama as a GGUF file llama.cpp and ollama load: `general.*` and `llama.*` metadata, the
/// tensors under llama.cpp's names (q/k permuted into its adjacent-pair RoPE layout, the
/// inverse of `GGUFImport`), in F32, F16 or Q8_0 (norm weights stay F32, as llama.cpp's
/// converter keeps 1-D tensors). The tokenizer and chat template are added by
/// `GGUFExport+Tokenizer.swift`.
public enum GGUFExport {
    /// The tensor types `--format gguf` writes.
    public enum TensorType: String, CaseIterable, Sendable {
        case f32, f16, q8_0

        var gguf: GGUFTensorType {
            switch self {
            case .f32: return .f32
            case .f16: return .f16
            case .q8_0: return .q8_0
            }
        }
    }

    /// A writer holding `parameters` of a Llama with `config`, and its architecture metadata.
    /// Throws for a GPT-2 (llama.cpp's GPT-2 layout is not written here).
    public static func modelWriter(config: ModelConfig, parameters: Parameters, type: TensorType, name: String) throws -> GGUFWriter {
        guard config.family == .llama else {
            throw InteropError.unsupported(path: name, key: "model.family", reason: "gpt2: GGUF export writes Llama models only; export GPT-2 with --format hf")
        }
        var w = GGUFWriter()
        let arch = "llama"
        try w.add("general.architecture", .string(arch))
        try w.add("general.name", .string(name))
        try w.add("general.file_type", .uint32(type == .f32 ? 0 : type == .f16 ? 1 : 7))
        try w.add("\(arch).context_length", .uint32(UInt32(config.contextLength)))
        try w.add("\(arch).embedding_length", .uint32(UInt32(config.dim)))
        try w.add("\(arch).block_count", .uint32(UInt32(config.layers)))
        try w.add("\(arch).feed_forward_length", .uint32(UInt32(config.ffnDim)))
        try w.add("\(arch).attention.head_count", .uint32(UInt32(config.heads)))
        try w.add("\(arch).attention.head_count_kv", .uint32(UInt32(config.kvHeads)))
        try w.add("\(arch).rope.freq_base", .float32(config.ropeTheta))
        try w.add("\(arch).attention.layer_norm_rms_epsilon", .float32(config.normEps))
        try w.add("\(arch).rope.dimension_count", .uint32(UInt32(config.headDim)))
        try w.add("\(arch).vocab_size", .uint32(UInt32(config.vocabSize)))
        let model = try CheckpointWeights.decoder(config, lora: nil, file: name)
        for (hfName, shape) in model.parameterShapes {
            guard let ggufName = GGUFImport.ggufName(of: hfName), let tensor = parameters.tensor(named: hfName) else {
                throw InteropError.invalid(path: name, reason: "has no tensor '\(hfName)'")
            }
            precondition(tensor.shape == shape, "GGUFExport: '\(hfName)' is \(tensor.shape), the model wants \(shape)")
            var t = tensor
            if hfName.hasSuffix("q_proj.weight") { t = halvesToPairs(t, heads: config.heads, headDim: config.headDim) }
            if hfName.hasSuffix("k_proj.weight") { t = halvesToPairs(t, heads: config.kvHeads, headDim: config.headDim) }
            // 1-D tensors (norms) and rows too short for a Q8_0 block stay F32, as llama.cpp's converter does.
            let tensorType: GGUFTensorType = shape.count == 1 || (type == .q8_0 && shape.last! % 32 != 0) ? .f32 : type.gguf
            try w.addTensor(ggufName, t, as: tensorType)
        }
        return w
    }

    /// llama.cpp's q/k layout from the rotate-half one: within each head, row `s * D/2 + j`
    /// moves to `2j + s` (the inverse of `Llama2c.pairsToHalves`).
    public static func halvesToPairs(_ w: Tensor, heads: Int, headDim d: Int) -> Tensor {
        precondition(w.shape.count == 2 && w.shape[0] == heads * d && d % 2 == 0,
                     "GGUFExport.halvesToPairs: shape \(w.shape) is not [\(heads) * \(d), C] with even D")
        let cols = w.shape[1], half = d / 2
        var out = [Float](repeating: 0, count: w.count)
        w.withUnsafeBufferPointer { src in
            for h in 0..<heads {
                for s in 0..<2 {
                    for j in 0..<half {
                        let from = (h * d + s * half + j) * cols, to = (h * d + 2 * j + s) * cols
                        for c in 0..<cols { out[to + c] = src[from + c] }
                    }
                }
            }
        }
        return Tensor(shape: w.shape, scalars: out)
    }
}
