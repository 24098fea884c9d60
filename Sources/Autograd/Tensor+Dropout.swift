/// Dropout with an explicit random generator.

extension Tensor {
    /// Zeroes each element with probability `p` and scales the rest by 1/(1-p), drawing
    /// from `rng` (one uniform Float per element, in row-major order, so the mask is
    /// reproducible from the generator's state). `p == 0` returns the input unchanged
    /// and draws nothing.
    public func dropout(_ p: Float, rng: inout RNG) -> Tensor {
        precondition(p >= 0 && p < 1, "dropout: probability must be in [0, 1), got \(p)")
        if p == 0 { return self }
        let mask = Tensor.uninitialized(shape)
        let pm = mask.storage.pointer
        let scale = 1 / (1 - p)
        for i in 0..<count { pm[i] = rng.nextFloat() < p ? 0 : scale }
        return self * mask
    }
}
