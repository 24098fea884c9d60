import CKernels
import Foundation
/// A matrix [rows, columns] in llama.cpp's Q8_0 format, for inference products
/// (`Tensor.inferenceProduct`).
///
/// Each row is cut into blocks of 32 consecutive values; a block is 34 bytes:
///
///     bytes 0..<2    d, the scale: IEEE half precision, little-endian
///     bytes 2..<34   q[0..<32], signed 8-bit integers; value i is d * q[i]
///
/// Rows follow each other with no padding, so the bytes are exactly those of a GGUF tensor of
/// type Q8_0 with the same shape (llama.cpp's `block_q8_0`). 34 bytes per 32 weights: 3.76x
/// fewer than float32.
///
/// Quantizing follows llama.cpp's reference (`quantize_row_q8_0_ref`): d = max|x| / 127,
/// q[i] = round(x[i] / d) (half away from zero), d stored rounded to half precision. The
/// error of one value is at most d/2 plus 127 times the half-precision rounding of d, so
/// |x - d q| <= max|x| (1/254 + 2^-11) within a block whose d is a normal half
/// (max|x| >= 127 * 2^-14, about 0.0078); below that d is subnormal and rounds to a multiple
/// of 2^-24, adding up to 127 * 2^-25 (llama.cpp's format has the same limits).
public struct Q8_0Matrix: Sendable {
    /// Values per block.
    public static let blockSize = 32
    /// Bytes per block: a half-precision scale and 32 int8 values.
    public static let blockBytes = 34
    /// True when the C kernels (AVX2, FMA, F16C) decode blocks; else the Swift loops do.
    /// `INSTRUCTKIT_Q8_0_SWIFT=1` forces the Swift loops (for comparing the two).
    static let intrinsicsKernels = instructkit_q8_0_kernels_available() != 0
        && ProcessInfo.processInfo.environment["INSTRUCTKIT_Q8_0_SWIFT"] == nil

    /// Output features (rows of the [out, in] weight).
    public let rows: Int
    /// Input features; a multiple of 32.
    public let columns: Int
    /// rows * columns / 32 blocks of 34 bytes, row-major; immutable once made, so the
    /// kernels may read it from several threads.
    let storage: Q8_0Storage

    /// Blocks per row.
    public var blocksPerRow: Int { columns / Self.blockSize }

    /// Bytes held (34 per 32 weights).
    public var byteCount: Int { storage.count }

    /// The blocks as GGUF stores them (a copy).
    public var bytes: [UInt8] { Array(UnsafeRawBufferPointer(start: storage.base, count: storage.count)) }

    /// Wraps Q8_0 bytes as they appear in a GGUF file (rows * columns / 32 blocks).
    /// A wrong size or a column count that is not a multiple of 32 is a programmer error (traps):
    /// callers check GGUF shapes before.
    public init(rows: Int, columns: Int, bytes: [UInt8]) {
        precondition(rows >= 1 && columns >= Self.blockSize && columns % Self.blockSize == 0,
                     "Q8_0Matrix: need rows >= 1 and columns a positive multiple of 32; got [\(rows), \(columns)]")
        precondition(bytes.count == rows * columns / Self.blockSize * Self.blockBytes,
                     "Q8_0Matrix: [\(rows), \(columns)] needs \(rows * columns / Self.blockSize * Self.blockBytes) bytes, got \(bytes.count)")
        self.rows = rows
        self.columns = columns
        storage = Q8_0Storage(count: bytes.count)
        bytes.withUnsafeBytes { storage.base.copyMemory(from: $0.baseAddress!, byteCount: bytes.count) }  // count >= 34
    }

    /// A matrix over `storage`, already filled.
    private init(rows: Int, columns: Int, storage: Q8_0Storage) {
        self.rows = rows
        self.columns = columns
        self.storage = storage
    }

    /// Whether a [rows, columns] float matrix can be held in Q8_0 (columns a multiple of 32).
    public static func canQuantize(shape: [Int]) -> Bool {
        shape.count == 2 && shape[0] >= 1 && shape[1] >= blockSize && shape[1] % blockSize == 0
    }

    /// Quantizes a 2-D tensor [rows, columns] (columns a multiple of 32; see `canQuantize`),
    /// block by block as llama.cpp does. Rows are quantized in parallel; the result does not
    /// depend on the thread count.
    public init(quantizing w: Tensor) {
        precondition(Self.canQuantize(shape: w.shape), "Q8_0Matrix(quantizing:): need [rows, columns] with columns a multiple of 32, got \(w.shape)")
        let rows = w.shape[0], columns = w.shape[1]
        let blocks = rows * columns / Self.blockSize
        let out = Q8_0Storage(count: blocks * Self.blockBytes)
        let s = w.storage.pointer, d = out.base.assumingMemoryBound(to: UInt8.self)
        withExtendedLifetime(w) {
            Parallel.forRanges(blocks, costPerElement: 3 * Self.blockSize) { range in
                for b in range { Self.quantizeBlock(s + b * Self.blockSize, d + b * Self.blockBytes) }
            }
        }
        self.init(rows: rows, columns: columns, storage: out)
    }

    /// One block: 32 floats at `x` into 34 bytes at `o` (llama.cpp's rounding).
    @inline(__always)
    static func quantizeBlock(_ x: UnsafePointer<Float>, _ o: UnsafeMutablePointer<UInt8>) {
        var amax: Float = 0
        for i in 0..<blockSize { amax = Swift.max(amax, Swift.abs(x[i])) }
        let d = amax / 127
        let inverse: Float = d != 0 ? 1 / d : 0
        let bits = Float16(d).bitPattern
        o[0] = UInt8(truncatingIfNeeded: bits)
        o[1] = UInt8(truncatingIfNeeded: bits >> 8)
        for i in 0..<blockSize {
            // For a normal d, |x * inverse| <= 127 up to a few ulps, so q is in -127...127; the
            // clamp (and NaN to 0) only keeps the conversion from trapping on degenerate
            // blocks (NaN or infinite values, a subnormal d), as the GGUF writer does.
            let q = (x[i] * inverse).rounded(.toNearestOrAwayFromZero)
            o[2 + i] = UInt8(bitPattern: Int8(q.isNaN ? 0 : Swift.max(-128, Swift.min(127, q))))
        }
    }

    /// The float32 values [rows, columns] (d * q, exact in float32).
    public func dequantized() -> Tensor {
        let storage = TensorStorage(uninitializedCount: rows * columns)
        dequantizeRows(0..<rows, into: storage.pointer)
        return Tensor(shape: [rows, columns], storage: storage)
    }

    /// The de-quantized rows `indices` (each in 0..<rows): [indices.count, columns]. An
    /// embedding lookup.
    public func dequantizedRows(_ indices: [Int32]) -> Tensor {
        let storage = TensorStorage(uninitializedCount: indices.count * columns)
        for (k, r) in indices.enumerated() {
            precondition(r >= 0 && Int(r) < rows, "Q8_0Matrix.dequantizedRows: row \(r) is outside 0..<\(rows)")
            dequantizeRows(Int(r)..<Int(r) + 1, into: storage.pointer + k * columns)
        }
        return Tensor(shape: [indices.count, columns], storage: storage)
    }

    /// Rows `range` de-quantized into `out` [range.count, columns].
    func dequantizeRows(_ range: Range<Int>, into out: UnsafeMutablePointer<Float>) {
        if Self.intrinsicsKernels {
            withExtendedLifetime(storage) {
                instructkit_q8_0_dequantize_rows(UnsafeRawPointer(storage.base), range.lowerBound, range.upperBound, columns, out)
            }
            return
        }
        let nb = blocksPerRow, base = UnsafeRawPointer(storage.base)
        withExtendedLifetime(storage) {
            for (k, r) in range.enumerated() {
                for b in 0..<nb {
                    let block = base + (r * nb + b) * Self.blockBytes
                    let d = SIMD8<Float>(repeating: Float(Float16(bitPattern: block.loadUnaligned(as: UInt16.self))))
                    let o = UnsafeMutableRawPointer(out + k * columns + b * Self.blockSize)
                    for c in 0..<4 {
                        let q = SIMD8<Float>(SIMD8<Int32>(truncatingIfNeeded: block.loadUnaligned(fromByteOffset: 2 + 8 * c, as: SIMD8<Int8>.self)))
                        o.storeBytes(of: q * d, toByteOffset: 32 * c, as: SIMD8<Float>.self)
                    }
                }
            }
        }
    }
}

/// The bytes of a `Q8_0Matrix`: one 64-byte-aligned allocation, written once when made and
/// only read afterwards (hence safe to share across threads).
final class Q8_0Storage: @unchecked Sendable {
    let base: UnsafeMutableRawPointer
    let count: Int

    init(count: Int) {
        self.count = count
        base = UnsafeMutableRawPointer.allocate(byteCount: Swift.max(count, 1), alignment: 64)
    }

    deinit { base.deallocate() }
}
