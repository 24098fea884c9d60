/// Benchmark cases for the fused kernels at training shapes (GPT-2 small-ish: B 8, T 256,
/// C 384, 6 heads of 64, vocabulary 8192).
extension OpsBenchmark {
    static func fusedKernelResults(reps: Int) -> [OpResult] {
        var rng = RNG(seed: 3)
        var out: [OpResult] = []
        let b = 8, t = 256, h = 6, d = 64, c = 384, v = 8192
        let q = Tensor.randomUniform([b, t, h, d], low: -1, high: 1, rng: &rng)
        let k = Tensor.randomUniform([b, t, h, d], low: -1, high: 1, rng: &rng)
        let val = Tensor.randomUniform([b, t, h, d], low: -1, high: 1, rng: &rng)
        // Causal attention FLOPs: QKᵀ and PV over the lower triangle, forward 2 products,
        // backward 4 (dV, dP, dQ, dK) plus the recompute of P: 7 half-triangle products.
        let one = [Int32](repeating: 1, count: b * t)
        let triangle = Double(b * h) * Double(t * (t + 1) / 2) * Double(d) * 2
        out.append(forwardBackward(name: "attention, 1 segment/row", shape: "[8, 256, 6, 64]", inputs: [q, k, val],
                                   flops: 7 * triangle, reps: reps) {
            Tensor.causalAttention($0[0], $0[1], $0[2], segmentIDs: one)
        })
        let four = (0..<(b * t)).map { Int32(($0 % t) / 64) }
        out.append(forwardBackward(name: "attention, 4 segments/row", shape: "[8, 256, 6, 64]", inputs: [q, k, val],
                                   flops: 7 * triangle / 4, reps: reps) {
            Tensor.causalAttention($0[0], $0[1], $0[2], segmentIDs: four)
        })
        let logits = Tensor.randomUniform([b * t, v], low: -4, high: 4, rng: &rng)
        let targets = (0..<(b * t)).map { i -> Int32 in i % 2 == 0 ? Int32((i * 7919) % v) : -100 }
        out.append(forwardBackward(name: "cross-entropy (half masked)", shape: "[2048, 8192]", inputs: [logits], reps: reps) {
            Tensor.crossEntropy(logits: $0[0], targets: targets).sum
        })
        let x = Tensor.randomUniform([b * t, c], low: -1, high: 1, rng: &rng)
        let w = Tensor.randomUniform([c], low: 0.5, high: 1.5, rng: &rng), bias = Tensor.randomUniform([c], rng: &rng)
        out.append(forwardBackward(name: "layernorm", shape: "[2048, 384]", inputs: [x, w, bias], reps: reps) {
            Tensor.layerNorm($0[0], $0[1], $0[2])
        })
        out.append(forwardBackward(name: "rmsnorm", shape: "[2048, 384]", inputs: [x, w], reps: reps) {
            Tensor.rmsNorm($0[0], $0[1])
        })
        out.append(forwardBackward(name: "gelu", shape: "[2048, 1536]",
                                   inputs: [Tensor.randomUniform([b * t, 4 * c], low: -3, high: 3, rng: &rng)], reps: reps) {
            $0[0].gelu()
        })
        out.append(forwardBackward(name: "add + bias (broadcast)", shape: "[2048, 384] + [384]",
                                   inputs: [x, bias], reps: reps) {
            $0[0] + $0[1]
        })
        return out
    }
}
