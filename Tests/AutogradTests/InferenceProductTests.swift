import XCTest
@testable import Autograd
import TestSupport

final class InferenceProductTests: XCTestCase {
    /// A [rows, columns] matrix whose blocks have very different magnitudes (1e-3 to 1e2) and
    /// a few exact zeros, the cases the per-block scale is for.
    func weights(_ rows: Int, _ columns: Int, seed: UInt64) -> Tensor {
        var rng = RNG(seed: seed)
        var values = [Float](repeating: 0, count: rows * columns)
        for b in 0..<(rows * columns / 32) {
            let scale = Float([1e-3, 0.02, 1, 100][b % 4])
            for i in 0..<32 { values[b * 32 + i] = b % 7 == 3 ? 0 : (rng.nextFloat() * 2 - 1) * scale }
        }
        return Tensor(shape: [rows, columns], scalars: values)
    }

    /// The value a Q8_0 block byte pattern stands for, decoded here independently of the kernels.
    func reference(_ m: Q8_0Matrix) -> [Double] {
        let bytes = m.bytes
        var out: [Double] = []
        for b in 0..<(m.rows * m.columns / 32) {
            let bits = UInt16(bytes[b * 34]) | UInt16(bytes[b * 34 + 1]) << 8
            let d = Double(Float(Float16(bitPattern: bits)))
            for i in 0..<32 { out.append(d * Double(Int8(bitPattern: bytes[b * 34 + 2 + i]))) }
        }
        return out
    }

    func testQ8_0Quantize_oneBlock_followsLlamaCppRounding() {
        // x[i] = (i - 16) / 2: max |x| = 8, d = 8/127, q[i] = round(x[i] * 127 / 8), halves away from zero.
        let x = (0..<32).map { Float($0 - 16) / 2 }
        let m = Q8_0Matrix(quantizing: Tensor(shape: [1, 32], scalars: x))
        let bytes = m.bytes
        XCTAssertEqual(bytes.count, 34)
        XCTAssertEqual(UInt16(bytes[0]) | UInt16(bytes[1]) << 8, Float16(Float(8) / 127).bitPattern)
        for i in 0..<32 {
            let expected = Int8((Double(x[i]) * Double(Float(1) / (Float(8) / 127))).rounded(.toNearestOrAwayFromZero))
            XCTAssertEqual(Int8(bitPattern: bytes[2 + i]), expected, "value \(i)")
        }
        XCTAssertEqual(Int8(bitPattern: bytes[2]), -127)
        // An all-zero block: scale 0, values 0.
        let zero = Q8_0Matrix(quantizing: Tensor.zeros([1, 32])).bytes
        XCTAssertEqual(zero, [UInt8](repeating: 0, count: 34))
    }

    func testQ8_0Quantize_randomBlocks_errorWithinHalfAStep() {
        let w = weights(7, 96, seed: 1)
        let m = Q8_0Matrix(quantizing: w)
        let back = m.dequantized()
        let ref = reference(m)
        w.withUnsafeBufferPointer { x in
            back.withUnsafeBufferPointer { y in
                for b in 0..<(7 * 96 / 32) {
                    let amax = (0..<32).map { abs(x[b * 32 + $0]) }.max()!
                    for i in (b * 32)..<(b * 32 + 32) {
                        XCTAssertEqual(Double(y[i]), ref[i], "dequantized() is d * q exactly")
                        // Half a step, plus 127 times the half-precision rounding of d: relative
                        // 2^-11 for a normal d, absolute 2^-25 for a subnormal one (max|x| < 0.0078).
                        let d = Double(amax) / 127
                        let dError = max(d / 2048, 0x1p-25)
                        XCTAssertLessThanOrEqual(Double(abs(x[i] - y[i])), Double(amax) / 254 + 127 * dError + 1e-12, "element \(i)")
                    }
                }
            }
        }
    }

    func testQ8_0Matrix_ggufBytes_roundTripAndRequantizeExactly() {
        let m = Q8_0Matrix(quantizing: weights(3, 64, seed: 2))
        let again = Q8_0Matrix(rows: 3, columns: 64, bytes: m.bytes)
        XCTAssertEqual(again.bytes, m.bytes)
        // De-quantized Q8_0 quantizes to the same blocks (a Q8_0 GGUF imported as float32 and
        // quantized at load gives llama.cpp's own blocks back).
        XCTAssertEqual(Q8_0Matrix(quantizing: m.dequantized()).bytes, m.bytes)
    }

    func testInferenceProduct_q8_0RandomBlocks_matchesFloat64Reference() {
        let rows = 45, columns = 160
        let m = Q8_0Matrix(quantizing: weights(rows, columns, seed: 3))
        let w = reference(m)
        // 1 and 3 rows: streaming kernel (single and grouped); 5: a group of 4 and one;
        // 11: above streamingRowLimit, the de-quantized tiles and sgemm.
        for n in [1, 3, 5, 11] {
            let x = testTensor([n, columns], seed: UInt64(10 + n))
            let y = Tensor.inferenceProduct(x, .q8_0(m))
            XCTAssertEqual(y.shape, [n, rows])
            x.withUnsafeBufferPointer { xs in
                y.withUnsafeBufferPointer { ys in
                    for r in 0..<n {
                        for j in 0..<rows {
                            var s = 0.0, mag = 0.0
                            for i in 0..<columns {
                                s += w[j * columns + i] * Double(xs[r * columns + i])
                                mag += abs(w[j * columns + i] * Double(xs[r * columns + i]))
                            }
                            // Float32 accumulation of `columns` terms: relative to the sum of magnitudes.
                            XCTAssertEqual(Double(ys[r * rows + j]), s, accuracy: 1e-5 * mag + 1e-12, "n \(n) row \(r) output \(j)")
                        }
                    }
                }
            }
        }
    }

    func testInferenceProduct_f32_matchesMatmul() {
        for (n, columns) in [(1, 96), (2, 100), (4, 64), (7, 37), (12, 96)] {
            let w = testTensor([33, columns], seed: 4), x = testTensor([n, columns], seed: 5)
            let y = Tensor.inferenceProduct(x, .float32(w))
            assertClose(y, Tensor.matmul(x, w, transposeB: true), atol: 1e-5, rtol: 1e-5)
        }
    }

    func testInferenceProducts_severalWeights_equalOneByOne() {
        let x = testTensor([1, 128], seed: 6)
        let ws: [InferenceWeight] = [.float32(testTensor([300, 128], seed: 7)), .q8_0(Q8_0Matrix(quantizing: weights(64, 128, seed: 8))),
                                     .float32(testTensor([5, 128], seed: 9))]
        let together = Tensor.inferenceProducts(x, ws)
        for (w, y) in zip(ws, together) {
            XCTAssertEqual(y.shape, [1, w.rows])
            XCTAssertEqual(y.withUnsafeBufferPointer(Array.init), Tensor.inferenceProduct(x, w).withUnsafeBufferPointer(Array.init))
        }
    }

    func testInferenceProduct_largeMatrix_sameResultOnOneThreadAndMany() {
        // Split across cores (rows in fixed chunks): each output is one thread's sum in a fixed order.
        let m = Q8_0Matrix(quantizing: weights(1000, 256, seed: 10)), x = testTensor([1, 256], seed: 11)
        let parallel = Tensor.inferenceProduct(x, .q8_0(m)).withUnsafeBufferPointer(Array.init)
        var serial = [Float](repeating: 0, count: 1000)
        serial.withUnsafeMutableBufferPointer { y in
            x.withUnsafeBufferPointer { xs in
                Tensor.streamQ8_0(UnsafeRawPointer(m.storage.base), xs.baseAddress!, y.baseAddress!, rows: 0..<1000, columns: 256, n: 1, ldy: 1000)
            }
        }
        XCTAssertEqual(parallel, serial)
    }

    func testQ8_0_intrinsicsKernel_matchesSwiftLoop_everyGroupSize() throws {
        // Skips only on a CPU without AVX2/FMA/F16C (then the Swift loop is the only kernel and
        // the other Q8_0 tests check it); every x86-64 CPU since 2013, CI's included, runs it.
        try XCTSkipUnless(Q8_0Matrix.intrinsicsKernels, "this CPU lacks AVX2/FMA/F16C: only the Swift loop runs here")
        // Same products, summed in a different lane order: equal to float32 rounding. Then the
        // de-quantized rows, which involve one product per weight: equal bit for bit.
        let rows = 70, columns = 160
        let m = Q8_0Matrix(quantizing: weights(rows, columns, seed: 12))
        let dense = m.dequantized().withUnsafeBufferPointer(Array.init)
        for n in 1...9 {
            let x = testTensor([n, columns], seed: UInt64(20 + n)), xv = x.withUnsafeBufferPointer(Array.init)
            var fast = [Float](repeating: 0, count: n * rows), slow = fast
            x.withUnsafeBufferPointer { xs in
                fast.withUnsafeMutableBufferPointer { y in
                    Tensor.streamQ8_0(UnsafeRawPointer(m.storage.base), xs.baseAddress!, y.baseAddress!, rows: 3..<rows, columns: columns, n: n, ldy: rows)
                }
                slow.withUnsafeMutableBufferPointer { y in
                    Tensor.streamQ8_0Swift(UnsafeRawPointer(m.storage.base), xs.baseAddress!, y.baseAddress!, rows: 3..<rows, columns: columns, n: n, ldy: rows)
                }
            }
            for r in 0..<n {
                XCTAssertEqual(fast[r * rows + 0], 0, "rows below the range are not written")
                for j in 3..<rows {
                    // Float32 accumulation: relative to the sum of the terms' magnitudes.
                    var mag: Float = 0
                    for i in 0..<columns { mag += abs(dense[j * columns + i] * xv[r * columns + i]) }
                    XCTAssertEqual(fast[r * rows + j], slow[r * rows + j], accuracy: 1e-5 * mag, "n \(n) row \(r) output \(j)")
                }
            }
            // One input row alone gives what it gives inside a group of four (serving batches rely on it).
            if n >= 2 {
                var single = [Float](repeating: 0, count: rows)
                x.withUnsafeBufferPointer { xs in
                    single.withUnsafeMutableBufferPointer { y in
                        Tensor.streamQ8_0(UnsafeRawPointer(m.storage.base), xs.baseAddress! + columns, y.baseAddress!, rows: 3..<rows, columns: columns, n: 1, ldy: rows)
                    }
                }
                XCTAssertEqual(Array(single[3...]), Array(fast[(rows + 3)..<(2 * rows)]), "n \(n): row 1 alone vs in its group")
            }
        }
        var tile = [Float](repeating: 0, count: 5 * columns)
        tile.withUnsafeMutableBufferPointer { m.dequantizeRows(10..<15, into: $0.baseAddress!) }
        // Scalar decoding of the same blocks: d * q, exact in float32.
        let base = UnsafeRawPointer(m.storage.base), nb = columns / 32
        var expected = [Float]()
        for r in 10..<15 {
            for b in 0..<nb {
                let block = base + (r * nb + b) * 34
                let d = Float(Float16(bitPattern: block.loadUnaligned(as: UInt16.self)))
                for i in 0..<32 { expected.append(d * Float(block.load(fromByteOffset: 2 + i, as: Int8.self))) }
            }
        }
        XCTAssertEqual(tile, expected)
    }

    func testMemoryBandwidth_measure_reportsPositiveRates() {
        let r = MemoryBandwidth.measure(threads: 2, bufferBytes: 8 << 20, passes: 2)
        XCTAssertGreaterThan(r.readBytesPerSecond, 1e8)
        XCTAssertGreaterThan(r.copyBytesPerSecond, 1e8)
        XCTAssertEqual(r.bufferBytes, 8 << 20)
    }
}
