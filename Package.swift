// swift-tools-version:6.2
// InstructKit: instruction tuning of small decoder-only language models on CPUs.
// Targets and the direction of imports are documented in docs/ARCHITECTURE.md.
import Foundation
import PackageDescription

// The numeric targets are compiled for x86-64 CPUs with AVX2 and FMA (Haswell, 2013, and
// later; every AMD Zen): SIMD8<Float> kernels then use one 256-bit register instead of two
// 128-bit SSE halves (docs/performance.md). CPUCheck stops the binary with a clear message
// on an older CPU. INSTRUCTKIT_PORTABLE=1 at build time keeps the generic x86-64 target.
// The flag is an unsafe flag: SwiftPM refuses unsafe flags in a versioned dependency whose
// manifest is below tools version 6.2, and accepts them from 6.2 on; hence 6.2 above, so the
// library products keep the AVX2 speed when another package depends on a released version
// (Examples/FineTune; docs/ARCHITECTURE.md).
#if arch(x86_64)
let portable = ProcessInfo.processInfo.environment["INSTRUCTKIT_PORTABLE"] != nil
#else
let portable = true
#endif
let numericFlags: [SwiftSetting] = portable ? [] : [.unsafeFlags(["-target-cpu", "haswell"])]
let cpuCheckDefines: [CSetting] = portable ? [] : [.define("INSTRUCTKIT_NEEDS_AVX2")]

let package = Package(
    name: "InstructKit",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "instruct", targets: ["instruct"]),
        .library(name: "Autograd", targets: ["Autograd"]),
        .library(name: "Tokenizers", targets: ["Tokenizers"]),
        .library(name: "Datasets", targets: ["Datasets"]),
        // Fine-tuning from Swift code (Examples/FineTune): models, checkpoints, the trainer,
        // recipes and generation.
        .library(name: "Models", targets: ["Models"]),
        .library(name: "Checkpoints", targets: ["Checkpoints"]),
        .library(name: "Training", targets: ["Training"]),
        .library(name: "Recipes", targets: ["Recipes"]),
        .library(name: "Inference", targets: ["Inference"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
    ],
    targets: [
        // C libraries from Debian's -dev packages, found through pkg-config.
        .systemLibrary(
            name: "CBLAS", pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev"]), .brew(["openblas"])]),
        .systemLibrary(
            name: "CHDF5", pkgConfig: "hdf5",
            providers: [.apt(["libhdf5-dev"]), .brew(["hdf5"])]),
        // OpenSSL's libcrypto for SHA-256 on Linux (macOS uses CryptoKit). Only Hashing imports it.
        .systemLibrary(
            name: "CCrypto", pkgConfig: "libcrypto",
            providers: [.apt(["libssl-dev"]), .brew(["openssl@3"])]),
        // Open MPI, loaded with dlopen() only under mpirun: the binary does not link libmpi
        // (docs/distributed.md). Its own C code, so it builds without MPI installed.
        .target(name: "CMPI", linkerSettings: [.linkedLibrary("dl")]),

        // Libraries, lowest first. Arrows point down only (docs/ARCHITECTURE.md).
        .target(name: "CPUCheck", cSettings: cpuCheckDefines),
        // C kernels written with x86 intrinsics, each function compiled for its instruction set
        // by a target attribute and used only when cpuid says the CPU has it: Q8_0 decoding
        // (AVX2/FMA/F16C) and the bf16 matrix product (AVX512_BF16; docs/performance.md).
        .target(name: "CKernels"),
        .target(name: "Autograd", dependencies: ["CBLAS", "CPUCheck", "CKernels"], swiftSettings: numericFlags),
        .target(name: "NN", dependencies: ["Autograd"], swiftSettings: numericFlags),
        .target(name: "Models", dependencies: ["NN", "Autograd"], swiftSettings: numericFlags),
        .target(name: "Hashing", dependencies: [.target(name: "CCrypto", condition: .when(platforms: [.linux]))]),
        .target(name: "Tokenizers"),
        .target(name: "Templating"),
        .target(name: "Datasets", dependencies: ["Tokenizers", "Templating", "Hashing"]),
        .target(name: "Synth", dependencies: ["Datasets", "Tokenizers", "Hashing"]),
        .target(name: "Checkpoints", dependencies: ["Autograd", "CHDF5", "Hashing"]),
        .target(name: "Interop", dependencies: ["Models", "NN", "Autograd", "Checkpoints", "Tokenizers", "Datasets"]),
        .target(name: "Inference", dependencies: ["Interop", "Models", "NN", "Autograd", "Checkpoints", "Tokenizers", "Datasets"]),
        .target(name: "Training", dependencies: ["Models", "NN", "Autograd", "Datasets", "Tokenizers", "Checkpoints", "CMPI"]),
        // The OpenAI-compatible server (`instruct serve`) on Hummingbird; only it and the binary link SwiftNIO.
        .target(name: "Serving", dependencies: ["Inference", "Autograd", "Datasets", .product(name: "Hummingbird", package: "hummingbird")]),
        .target(
            name: "Evaluation",
            dependencies: ["Inference", "Interop", "Training", "Synth", "Datasets", "Models", "NN", "Autograd", "Tokenizers"]),
        .target(
            name: "Recipes",
            dependencies: [
                "Training", "Evaluation", "Inference", "Interop", "Synth", "Checkpoints", "Models", "NN", "Autograd", "Datasets",
                "Tokenizers", .product(name: "Yams", package: "Yams"),
            ]),

        // The command line: parsing and printing only.
        .executableTarget(
            name: "instruct",
            dependencies: [
                "Autograd", "NN", "Models", "Tokenizers", "Datasets", "Synth", "Checkpoints", "Interop", "Inference", "Training",
                "Evaluation", "Recipes", "Serving", .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),

        // Tests: one target per library target.
        .target(name: "TestSupport", dependencies: ["Autograd", "Datasets", "Tokenizers", "Models"], exclude: ["README.md"]),
        .testTarget(name: "AutogradTests", dependencies: ["Autograd", "TestSupport"]),
        .testTarget(name: "NNTests", dependencies: ["NN", "Autograd", "TestSupport"]),
        .testTarget(name: "ModelsTests", dependencies: ["Models", "NN", "Autograd", "TestSupport"], resources: [.copy("Fixtures")]),
        .testTarget(name: "HashingTests", dependencies: ["Hashing"]),
        .testTarget(name: "TokenizersTests", dependencies: ["Tokenizers"], resources: [.copy("Fixtures")]),
        .testTarget(name: "TemplatingTests", dependencies: ["Templating"], resources: [.copy("Fixtures")]),
        .testTarget(name: "DatasetsTests", dependencies: ["Datasets", "Tokenizers"], resources: [.copy("Fixtures")]),
        .testTarget(name: "SynthTests", dependencies: ["Synth", "Datasets"]),
        .testTarget(name: "CheckpointsTests", dependencies: ["Checkpoints", "Autograd", "TestSupport"], resources: [.copy("Fixtures")]),
        .testTarget(
            name: "InteropTests",
            dependencies: ["Interop", "Inference", "Training", "Datasets", "Checkpoints", "Models", "NN", "Autograd", "Tokenizers", "TestSupport"],
            resources: [.copy("Fixtures")]),
        .testTarget(name: "InferenceTests", dependencies: ["Inference", "Interop", "Models", "NN", "Autograd", "Tokenizers", "Datasets", "TestSupport"]),
        .testTarget(
            name: "TrainingTests", dependencies: ["Training", "Checkpoints", "Models", "NN", "Autograd", "Datasets", "Tokenizers", "TestSupport"],
            resources: [.copy("Fixtures")]),
        .testTarget(
            name: "EvaluationTests", dependencies: ["Evaluation", "Inference", "Synth", "Datasets", "Tokenizers"],
            resources: [.copy("Fixtures")]),
        .testTarget(
            name: "RecipesTests",
            dependencies: ["Recipes", "Training", "Evaluation", "Inference", "Interop", "Datasets", "Tokenizers", "Models", "NN", "Checkpoints"]),
        .testTarget(name: "ServingTests", dependencies: ["Serving", "Inference", "Recipes", "Datasets", "Autograd"]),
        .testTarget(name: "instructTests", dependencies: ["instruct", "Recipes", "Inference", "Interop", "Training", "Datasets", "Checkpoints", "Models", "Autograd", "Serving"]),
    ],
    swiftLanguageModes: [.v5]
)
