// swift-tools-version:6.2
// An application that fine-tunes with InstructKit's library products, not the `instruct`
// binary. Built (and run for a few steps) by .ci/run. In your own package, depend on a
// released version instead of the path:
//     .package(url: "https://github.com/OWNER/InstructKit", from: "0.1.0")
import PackageDescription

let package = Package(
    name: "FineTuneExample",
    platforms: [.macOS(.v13)],
    dependencies: [
        .package(name: "InstructKit", path: "../.."),
    ],
    targets: [
        .executableTarget(
            name: "finetune-example",
            dependencies: [
                .product(name: "Recipes", package: "InstructKit"),
                .product(name: "Training", package: "InstructKit"),
                .product(name: "Inference", package: "InstructKit"),
                .product(name: "Datasets", package: "InstructKit"),
            ],
            path: "Sources/FineTuneExample"),
    ]
)
