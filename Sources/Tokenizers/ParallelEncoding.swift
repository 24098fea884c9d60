import Dispatch

/// Encodes many texts, optionally on several threads, with results identical to encoding
/// them one by one in order.
///
/// The texts are cut into `threads` contiguous blocks of (nearly) equal count; block `k` runs
/// on thread `k` and writes only its own slots, so the output does not depend on scheduling.
/// A `BPETokenizer` gets one private word cache per block (no locking while encoding).
/// `threads` is clamped to `1...texts.count`.
public func encodeTexts(_ texts: [String], with tokenizer: any TextTokenizer, allowSpecial: Bool,
                        threads: Int = 1) -> [[Int32]] {
    let blocks = max(1, min(threads, texts.count))
    var results = [[Int32]](repeating: [], count: texts.count)
    let bpe = tokenizer as? BPETokenizer
    func run(_ block: Int, _ out: UnsafeMutableBufferPointer<[Int32]>) {
        let start = texts.count * block / blocks
        let end = texts.count * (block + 1) / blocks
        if let bpe {
            var cache = BPEWordCache()
            for i in start..<end { out[i] = bpe.encode(texts[i], allowSpecial: allowSpecial, cache: &cache) }
        } else {
            for i in start..<end { out[i] = tokenizer.encode(texts[i], allowSpecial: allowSpecial) }
        }
    }
    results.withUnsafeMutableBufferPointer { out in
        if blocks == 1 {
            run(0, out)
        } else {
            let shared = UncheckedBox(out)
            DispatchQueue.concurrentPerform(iterations: blocks) { block in run(block, shared.value) }
        }
    }
    return results
}

/// Carries a buffer into concurrent blocks that each write disjoint slots.
private struct UncheckedBox<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}
