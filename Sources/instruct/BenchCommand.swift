import ArgumentParser
import Autograd
import Foundation

/// `instruct bench`: speed measurements, always side by side with a reference in one run.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure speed, side by side with a reference in the same run.",
        subcommands: [BenchOps.self, BenchTokenizer.self, BenchGenerate.self, BenchTrain.self, BenchServe.self])
}

/// `instruct bench ops`: tensor kernels vs raw BLAS and plain loops.
struct BenchOps: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ops",
        abstract: "Tensor matmul vs raw cblas_sgemm (and bf16 products), fused kernels, elementwise throughput.",
        discussion: """
            Each matmul case alternates raw sgemm and Tensor.matmul and reports medians,
            so machine noise hits both sides alike. Ratios are the figure to compare.

            Examples:
              instruct bench ops
              instruct bench ops --threads 1 --quick
              instruct bench ops --json > ops.json
            """)

    @Option(help: "Threads for BLAS (our own kernels split work by size, not by this).")
    var threads: Int = ProcessInfo.processInfo.activeProcessorCount

    @Flag(help: "Fewer repetitions (noisier, about 3x faster).")
    var quick = false

    @Flag(help: "Print the report as one JSON object.")
    var json = false

    func validate() throws {
        try validateThreads(threads)
    }

    func run() throws {
        let report = OpsBenchmark.run(threads: threads, quick: quick)
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            print(String(decoding: try encoder.encode(report), as: UTF8.self))
            return
        }
        print("instruct bench ops: \(report.threads) BLAS thread(s), OpenBLAS core \(report.blasCore); medians, raw and ours alternated\n")
        print("matmul (GFLOP/s; bf16: the same product with bfloat16 operands, float32 accumulation\(BLAS.bf16MissingFeature.map { ", not on this CPU: it lacks \($0)" } ?? ""))")
        print(pad("case", 20) + pad("M x N x K", 20) + lpad("raw sgemm", 11) + lpad("Tensor", 10) + lpad("ratio", 8)
              + lpad("bf16", 9) + lpad("bf16/raw", 10))
        for r in report.matmul {
            print(pad(r.name, 20) + pad("\(r.m) x \(r.n) x \(r.k)", 20) + lpad(f1(r.rawGflops), 11)
                  + lpad(f1(r.tensorGflops), 10) + lpad(f2(r.ratio), 8)
                  + lpad(r.bf16Gflops.map(f1) ?? "-", 9) + lpad(r.bf16Ratio.map(f2) ?? "-", 10))
        }
        print("\nkernels (forward and backward, ms)")
        print(pad("op", 26) + pad("shape", 30) + lpad("fwd", 9) + lpad("bwd", 9) + lpad("GFLOP/s", 10))
        for r in report.ops {
            print(pad(r.name, 26) + pad(r.shape, 30) + lpad(f2(r.forwardMs), 9)
                  + lpad(r.backwardMs.map(f2) ?? "-", 9) + lpad(r.gflops.map(f1) ?? "-", 10))
        }
        print("\nelementwise (GB/s of input and output; add is memory-bound, gelu compute-bound)")
        print(pad("op", 6) + pad("elements", 12) + lpad("1-thread loop", 15) + lpad("Tensor", 10) + lpad("speedup", 9))
        for r in report.elementwise {
            print(pad(r.op, 6) + pad("\(r.elements)", 12) + lpad(f1(r.serialGBs), 15) + lpad(f1(r.tensorGBs), 10) + lpad(f2(r.speedup), 9))
        }
    }
}

func pad(_ s: String, _ n: Int) -> String { s.count >= n ? s + " " : s + String(repeating: " ", count: n - s.count) }
func lpad(_ s: String, _ n: Int) -> String { s.count >= n ? " " + s : String(repeating: " ", count: n - s.count) + s }
func f1(_ x: Double) -> String { String(format: "%.1f", x) }
func f2(_ x: Double) -> String { String(format: "%.2f", x) }
