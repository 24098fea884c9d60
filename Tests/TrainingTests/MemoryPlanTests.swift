import Autograd
import Models
import NN
import Training
import XCTest

/// The memory plan's parts follow what a run trains and holds. Its accuracy against measured
/// peaks is tested through the binary on shipped recipes (instructTests, MemoryCommandLineTests).
final class MemoryPlanTests: XCTestCase {
    static let smol = ModelConfig(family: .llama, vocabSize: 49152, contextLength: 8192, dim: 576, layers: 30, heads: 9,
                                  kvHeads: 3, ffnDim: 1536, tiedEmbeddings: true)

    func test_plan_fullFineTuning_momentsAndGradientsForEveryWeight() {
        let p = MemoryPlan(config: Self.smol, lora: nil, batch: 4, seqLen: 512, baseline: 100 << 20)
        let weights = 4 * Self.smol.parameterScalars
        let tiedEmbedding = 4 * 2 * 49152.0 * 576
        XCTAssertEqual(p.weights, weights)
        XCTAssertEqual(p.optimizer, 2 * weights)
        XCTAssertEqual(p.gradients, weights, "one gradient per weight")
        let blockGradients: Double = 2048 * (3 * 1536 + 3 * 576)
        XCTAssertEqual(p.inFlight, tiedEmbedding, "the tied embedding's two partial gradients at its end (more than a block's)")
        let lora = MemoryPlan(config: Self.smol, lora: LoRAConfig(rank: 8, alpha: 16, targets: [.q, .v]), batch: 4, seqLen: 512,
                              baseline: 0)
        XCTAssertEqual(lora.inFlight, 4 * blockGradients * 1.06, accuracy: 1,
                       "a block's gradients in the middle of the backward pass; the fused head has no logits' gradient")
        XCTAssertEqual(p.checkpoint, 2 * weights, "the moments' file, read back at a save")
        XCTAssertEqual(p.baseline, Double(100 << 20))
        XCTAssertEqual(p.peak, p.baseline + p.weights + p.optimizer + max(p.gradients + p.activations + p.inFlight, p.checkpoint),
                       "a save empties the pool first: its read-back and the step's buffers are not resident together")
        let accumulating = MemoryPlan(config: Self.smol, lora: nil, batch: 4, seqLen: 512, gradientAccumulation: 4, baseline: 0)
        XCTAssertEqual(accumulating.gradients, 2 * weights, "the sum so far and this micro-batch's")
    }

    func test_plan_lora_momentsAndGradientsOnlyForAdapters() {
        let lora = LoRAConfig(rank: 8, alpha: 16, targets: [.q, .k, .v, .o, .gate, .up, .down])
        let p = MemoryPlan(config: Self.smol, lora: lora, batch: 4, seqLen: 512, baseline: 0)
        let adapters = 4 * lora.adapterScalars(for: Self.smol)
        XCTAssertEqual(p.weights, 4 * Self.smol.parameterScalars + adapters)
        XCTAssertEqual(p.optimizer, 2 * adapters)
        XCTAssertEqual(p.gradients, adapters, "the frozen embedding gets no gradient")
        XCTAssertEqual(p.checkpoint, 2 * adapters)
        let full = MemoryPlan(config: Self.smol, lora: nil, batch: 4, seqLen: 512, baseline: 0)
        XCTAssertLessThan(p.peak, full.peak)
    }

    func test_plan_activations_growWithBatchAndTrainedRows() {
        let a = MemoryPlan(config: Self.smol, lora: nil, batch: 2, seqLen: 256, baseline: 0)
        let b = MemoryPlan(config: Self.smol, lora: nil, batch: 4, seqLen: 256, baseline: 0)
        // Everything but the head's one chunk of logits (the same for both) doubles.
        XCTAssertEqual(b.activations - b.logits, 2 * (a.activations - a.logits), accuracy: 1)
        XCTAssertEqual(b.logits - a.logits, 1.06 * 4 * 512 * (3 * 576 + 1), accuracy: 1)
        let fewer = MemoryPlan(config: Self.smol, lora: nil, batch: 4, seqLen: 256, headRows: 100, baseline: 0)
        XCTAssertLessThan(fewer.logits, b.logits)
        // One chunk of logits, not one row of V logits per trained row.
        XCTAssertLessThan(b.logits, 4 * 1024 * 49152 / 4)
    }

    /// Long packed rows: the estimate grows linearly in T (attention keeps no [T, T] tensor),
    /// so 1 x 2048 costs what 4 x 512 does and 4x what 1 x 512 does.
    func test_plan_seqLen2048_linearInT() {
        let long = MemoryPlan(config: Self.smol, lora: nil, batch: 1, seqLen: 2048, baseline: 0)
        let four = MemoryPlan(config: Self.smol, lora: nil, batch: 4, seqLen: 512, baseline: 0)
        let short = MemoryPlan(config: Self.smol, lora: nil, batch: 1, seqLen: 512, baseline: 0)
        XCTAssertEqual(long.activations, four.activations, accuracy: 1)
        XCTAssertEqual(long.activations - long.logits, 4 * (short.activations - short.logits), accuracy: 1)
        XCTAssertLessThan(long.stepBuffers, 4.5 * short.stepBuffers)
    }

    /// With activation checkpointing the blocks' activations are their inputs (L x N x C) and
    /// one block's tensors; weights, moments, gradients, in-flight and the head's part stay.
    func test_plan_activationCheckpointing_blockInputsPlusOneBlock() {
        let full = MemoryPlan(config: Self.smol, lora: nil, batch: 4, seqLen: 512, baseline: 0)
        let ckpt = MemoryPlan(config: Self.smol, lora: nil, batch: 4, seqLen: 512, activationCheckpointing: true, baseline: 0)
        XCTAssertEqual(ckpt.weights, full.weights)
        XCTAssertEqual(ckpt.optimizer, full.optimizer)
        XCTAssertEqual(ckpt.gradients, full.gradients)
        XCTAssertEqual(ckpt.inFlight, full.inFlight)
        XCTAssertEqual(ckpt.logits, full.logits)
        let n = 2048.0, c = 576.0, layers = 30.0
        let perBlock = (full.activations - full.logits) / 1.06 / 4 / n / layers  // scalars per token of one block (about)
        let expected = 4 * 1.06 * (layers * n * c + n * (perBlock - c))
        XCTAssertEqual(ckpt.activations - ckpt.logits, expected, accuracy: 0.01 * expected)
        XCTAssertLessThan(ckpt.activations - ckpt.logits, (full.activations - full.logits) / 4)
        XCTAssertLessThan(ckpt.peak, full.peak)
    }

    /// The estimate is never below what the process has already used.
    func test_plan_peakSoFarAboveTheSum_isThePeak() {
        let p = MemoryPlan(config: Self.smol, lora: nil, batch: 1, seqLen: 8, baseline: 0, peakSoFar: 1 << 40)
        XCTAssertEqual(p.peak, Double(1 << 40))
    }

    func test_plan_absurdBatch_doesNotFitAndNamesItsParts() {
        let machine = MemoryStats.MachineMemory(bytes: 24 << 30, source: "test")
        let p = MemoryPlan(config: Self.smol, lora: nil, batch: 100_000_000, seqLen: 256, baseline: 50 << 20)
        XCTAssertFalse(p.fits(in: machine))
        XCTAssertTrue(p.peak.isFinite)
        XCTAssertEqual(p.parts.first?.name, "activations", "\(p.parts)")
        XCTAssertTrue(p.summary.hasPrefix("estimated peak ") && p.summary.contains("weights"), p.summary)
        let small = MemoryPlan(config: Self.smol, lora: nil, batch: 1, seqLen: 64, baseline: 50 << 20)
        XCTAssertTrue(small.fits(in: machine))
    }

    /// The peak is this program's own (VmHWM on Linux), at least what is resident now.
    func test_peakResidentBytes_atLeastResident() {
        let resident = MemoryStats.residentBytes(), peak = MemoryStats.peakResidentBytes()
        XCTAssertGreaterThanOrEqual(peak, resident / 2, "peak \(peak), resident \(resident)")
        XCTAssertGreaterThan(peak, 1 << 20)
    }

    func test_machineMemory_linux_readsMemTotalOrCgroup() {
        let m = MemoryStats.machineMemory()
        XCTAssertGreaterThan(m.bytes, 64 << 20)
        #if os(Linux)
        XCTAssertTrue(m.source.contains("/proc/meminfo") || m.source.contains("cgroup"), m.source)
        #endif
        XCTAssertTrue(m.description.contains(m.source))
    }
}
