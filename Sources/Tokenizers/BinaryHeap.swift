/// An element of a `BinaryHeap`: `before(a, b)` is true when `a` must come out first.
protocol HeapOrdered {
    static func before(_ a: Self, _ b: Self) -> Bool
}

/// A binary heap whose `pop` returns the element that comes `before` all others. Used by
/// the BPE trainer (most frequent pair next) and the llama2.c encoder (best-scoring merge
/// next). Generic over the ordering type, so comparisons are static calls, not closures.
struct BinaryHeap<Element: HeapOrdered> {
    private var items: [Element] = []

    var isEmpty: Bool { items.isEmpty }

    mutating func push(_ e: Element) {
        items.append(e)
        var i = items.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            guard Element.before(items[i], items[parent]) else { break }
            items.swapAt(i, parent)
            i = parent
        }
    }

    mutating func pop() -> Element? {
        guard let first = items.first else { return nil }
        let last = items.removeLast()
        if !items.isEmpty {
            items[0] = last
            var i = 0
            while true {
                let l = 2 * i + 1
                let r = l + 1
                var best = i
                if l < items.count && Element.before(items[l], items[best]) { best = l }
                if r < items.count && Element.before(items[r], items[best]) { best = r }
                if best == i { break }
                items.swapAt(i, best)
                i = best
            }
        }
        return first
    }
}
