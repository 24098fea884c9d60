/// Benchmark cases for the composite and fused kernels at training shapes.
extension OpsBenchmark {
    static func fusedKernelResults(reps: Int) -> [OpResult] {
        var rng = RNG(seed: 3)
        var out: [OpResult] = []
        let x = Tensor.randomUniform([2048, 384], low: -1, high: 1, rng: &rng)
        out.append(forwardBackward(name: "gelu", shape: "[2048, 1536]",
                                   inputs: [Tensor.randomUniform([2048, 1536], low: -3, high: 3, rng: &rng)], reps: reps) {
            $0[0].gelu()
        })
        out.append(forwardBackward(name: "add + bias (broadcast)", shape: "[2048, 384] + [384]",
                                   inputs: [x, Tensor.randomUniform([384], rng: &rng)], reps: reps) {
            $0[0] + $0[1]
        })
        return out
    }
}
