// swift-tools-version: 6.1
// libFuzzer targets for ReluMIP's readers, kept out of the main package so that its build and CI
// are untouched. Build and run them with Scripts/fuzz.sh, which passes -sanitize=fuzzer,address.
// Each target's main hands its `LLVMFuzzerTestOneInput` to libFuzzer's `LLVMFuzzerRunDriver`
// (SwiftPM links an executable's entry point under its own name, so libFuzzer's `main` is unused).
import Foundation
import PackageDescription

// A path dependency's identity is its folder's name, whatever the checkout is called.
let mainPackage = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
  .deletingLastPathComponent().lastPathComponent

let readers = ["onnx", "nnet", "vnnlib", "npy", "idx", "csv"]

let package = Package(
  name: "ReluMIPFuzz",
  dependencies: [.package(path: "..")],
  targets: [.systemLibrary(name: "CLibFuzzer")]
    + readers.map { reader in
      .executableTarget(
        name: "fuzz-\(reader)",
        dependencies: ["CLibFuzzer", .product(name: "ReluMIP", package: mainPackage)],
        path: "Sources/\(reader)"
      )
    },
  swiftLanguageModes: [.v6]
)
