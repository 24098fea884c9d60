import Autograd
@testable import Checkpoints
import Foundation
import TestSupport
import XCTest

final class Llama2cImportTests: XCTestCase {
    /// ../shared/datasets/models/stories260K/stories260K.bin relative to the package root.
    static var stories260K: URL {
        URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("../shared/datasets/models/stories260K/stories260K.bin").standardizedFileURL
    }

    /// A llama2.c file whose every float is its own index among the weights (0, 1, 2, ...),
    /// so the test can tell where each value ended up.
    private func syntheticFile(dim: Int, hidden: Int, layers: Int, heads: Int, kvHeads: Int, vocab: Int, seqLen: Int,
                               tied: Bool) -> Data {
        let d = dim / heads
        let perLayer = 2 * dim + 2 * dim * dim + 2 * dim * kvHeads * d + 3 * dim * hidden
        let count = vocab * dim + layers * perLayer + dim + seqLen * d + (tied ? 0 : vocab * dim)
        var data = Data()
        for v in [dim, hidden, layers, heads, kvHeads, tied ? vocab : -vocab, seqLen] {
            withUnsafeBytes(of: Int32(v).littleEndian) { data.append(contentsOf: $0) }
        }
        for i in 0..<count { withUnsafeBytes(of: Float(i).bitPattern.littleEndian) { data.append(contentsOf: $0) } }
        return data
    }

    func test_decode_synthetic_namesShapesAndPlacement() throws {
        // C=8, H=2, D=4, Hkv=1, F=6, L=2, V=5, T=3, untied.
        let data = syntheticFile(dim: 8, hidden: 6, layers: 2, heads: 2, kvHeads: 1, vocab: 5, seqLen: 3, tied: false)
        let model = try data.withUnsafeBytes { try Llama2c.decode($0, path: "tiny.bin") }
        XCTAssertEqual(model.config, Llama2c.Config(dim: 8, hiddenDim: 6, layers: 2, heads: 2, kvHeads: 1,
                                                   vocabSize: 5, seqLen: 3, tiedEmbeddings: false))
        let t = model.tensors
        XCTAssertEqual(t.count, 1 + 2 * 9 + 1 + 1)
        XCTAssertEqual(t.names.prefix(4), ["model.embed_tokens.weight", "model.layers.0.input_layernorm.weight",
                                           "model.layers.0.self_attn.q_proj.weight", "model.layers.0.self_attn.k_proj.weight"])
        XCTAssertEqual(t["model.embed_tokens.weight"]?.shape, [5, 8])
        XCTAssertEqual(t["model.layers.1.self_attn.k_proj.weight"]?.shape, [4, 8])
        XCTAssertEqual(t["model.layers.1.mlp.down_proj.weight"]?.shape, [8, 6])
        XCTAssertEqual(t["model.layers.1.mlp.gate_proj.weight"]?.shape, [6, 8])
        XCTAssertEqual(t["lm_head.weight"]?.shape, [5, 8])
        // Offsets (in floats) of each block: emb 0, rms_att 40, wq 56, wk 184, wv 248, wo 312,
        // rms_ffn 440, w1 456, w2 552, w3 648, rms_final 744, freq 752..<764, wcls 764.
        XCTAssertEqual(t["model.layers.1.input_layernorm.weight"]?.scalars.first, 48)
        XCTAssertEqual(t["model.layers.0.self_attn.v_proj.weight"]?.scalars.first, 248)
        XCTAssertEqual(t["model.layers.1.self_attn.o_proj.weight"]?.scalars.first, 312 + 64)
        XCTAssertEqual(t["model.layers.0.mlp.gate_proj.weight"]?.scalars.first, 456)  // w1
        XCTAssertEqual(t["model.layers.0.mlp.down_proj.weight"]?.scalars.first, 552)  // w2
        XCTAssertEqual(t["model.layers.0.mlp.up_proj.weight"]?.scalars.first, 648)    // w3
        XCTAssertEqual(t["model.norm.weight"]?.scalars, (744..<752).map(Float.init))
        XCTAssertEqual(t["lm_head.weight"]?.scalars.first, 764)
        // q_proj rows per head (D = 4): HF row i <- llama2.c row 2i, HF row i + 2 <- row 2i + 1.
        let q = try XCTUnwrap(t["model.layers.0.self_attn.q_proj.weight"]).scalars
        let firstColumnRows = stride(from: 0, to: 64, by: 8).map { Int(q[$0] - 56) / 8 }
        XCTAssertEqual(firstColumnRows, [0, 2, 1, 3, 4, 6, 5, 7])
        let k = try XCTUnwrap(t["model.layers.1.self_attn.k_proj.weight"]).scalars
        XCTAssertEqual(stride(from: 0, to: 32, by: 8).map { Int(k[$0] - 184 - 32) / 8 }, [0, 2, 1, 3])
        // v_proj is not permuted.
        let v = try XCTUnwrap(t["model.layers.0.self_attn.v_proj.weight"]).scalars
        XCTAssertEqual(v, (248..<280).map(Float.init))
    }

    func test_pairsToHalves_matchesHFPermuteFormula() {
        // HF: w.view(H, D/2, 2, C).transpose(1, 2).reshape(H*D, C): out[h, j, i] = w[h, i, j].
        let (h, d, c) = (3, 6, 2)
        let w = testTensor([h * d, c], seed: 3)
        let out = Llama2c.pairsToHalves(w, heads: h, headDim: d).scalars
        let src = w.scalars
        for head in 0..<h { for j in 0..<2 { for i in 0..<(d / 2) { for col in 0..<c {
            XCTAssertEqual(out[((head * 2 + j) * (d / 2) + i) * c + col], src[((head * (d / 2) + i) * 2 + j) * c + col])
        } } } }
    }

    func test_decode_badHeaderOrSize_throwsInvalidLlama2c() {
        var data = syntheticFile(dim: 8, hidden: 6, layers: 1, heads: 2, kvHeads: 1, vocab: 5, seqLen: 3, tied: true)
        let good = data
        data.removeLast(4)
        guard case .invalidLlama2c? = expectCheckpointError({ _ = try data.withUnsafeBytes { try Llama2c.decode($0, path: "x") } })
        else { return XCTFail("truncated") }
        var bad = good
        bad.replaceSubrange(8..<12, with: [0xFF, 0xFF, 0xFF, 0x7F])  // n_layers = 2^31 - 1
        guard case .invalidLlama2c? = expectCheckpointError({ _ = try bad.withUnsafeBytes { try Llama2c.decode($0, path: "x") } })
        else { return XCTFail("huge layers") }
        var heads = good
        heads.replaceSubrange(12..<16, with: [3, 0, 0, 0])  // 8 % 3 != 0
        guard case .invalidLlama2c? = expectCheckpointError({ _ = try heads.withUnsafeBytes { try Llama2c.decode($0, path: "x") } })
        else { return XCTFail("heads") }
        XCTAssertNotNil(expectCheckpointError { _ = try Data([1, 2]).withUnsafeBytes { try Llama2c.decode($0, path: "x") } })
    }

    func test_read_stories260K_configShapesTiedAndValues() throws {
        let url = Self.stories260K
        guard FileManager.default.fileExists(atPath: url.path) else {
            print("SKIP test_read_stories260K: \(url.path) not found (../shared is absent)")
            return
        }
        let model = try Llama2c.read(contentsOf: url)
        XCTAssertEqual(model.config, Llama2c.Config(dim: 64, hiddenDim: 172, layers: 5, heads: 8, kvHeads: 4,
                                                   vocabSize: 512, seqLen: 512, tiedEmbeddings: true))
        let t = model.tensors
        XCTAssertNil(t["lm_head.weight"], "tied: no separate classifier")
        XCTAssertEqual(t.count, 1 + 5 * 9 + 1)
        // 264,128 floats in the file minus the two 512 x 4 RoPE tables.
        XCTAssertEqual(t.totalElements, 264_128 - 2 * 512 * 4)
        XCTAssertEqual(t["model.layers.4.self_attn.q_proj.weight"]?.shape, [64, 64])
        XCTAssertEqual(t["model.layers.4.self_attn.k_proj.weight"]?.shape, [32, 64])
        XCTAssertEqual(t["model.layers.4.self_attn.v_proj.weight"]?.shape, [32, 64])
        XCTAssertEqual(t["model.layers.4.mlp.down_proj.weight"]?.shape, [64, 172])
        // Values computed independently with NumPy from the raw file (HF permute for q/k).
        let emb = try XCTUnwrap(t["model.embed_tokens.weight"]).scalars
        XCTAssertEqual(Array(emb[403 * 64..<403 * 64 + 3]), [Float(0.003543718019500375), Float(-0.17016193270683289), Float(0.031364064663648605)])
        XCTAssertEqual(t["model.layers.0.input_layernorm.weight"]?.scalars.prefix(2).map { $0 }, [Float(0.9722429513931274), Float(0.6754933595657349)])
        let q0 = try XCTUnwrap(t["model.layers.0.self_attn.q_proj.weight"]).scalars
        XCTAssertEqual(Array(q0[64..<66]), [Float(0.055401116609573364), Float(0.08100877702236176)])   // HF row 1 = llama2.c row 2
        XCTAssertEqual(Array(q0[256..<258]), [Float(0.22455421090126038), Float(0.12866616249084473)])  // HF row 4 = llama2.c row 1
        let k2 = try XCTUnwrap(t["model.layers.2.self_attn.k_proj.weight"]).scalars
        XCTAssertEqual(Array(k2[13 * 64..<13 * 64 + 2]), [Float(0.21300199627876282), Float(-0.1527320146560669)])
        XCTAssertEqual(t["model.norm.weight"]?.scalars.last, Float(1.7077769041061401))
        XCTAssertEqual(t["model.layers.4.mlp.down_proj.weight"]?.scalars.last, Float(-0.0035068716388195753))
        XCTAssertEqual(t["model.layers.1.mlp.up_proj.weight"]?.scalars.first, Float(-0.07878930121660233))
        XCTAssertTrue(model.tensors.metadata["config"]?.contains("\"tie_word_embeddings\":true") ?? false)
    }
}
