// swift-tools-version: 6.1
import PackageDescription

let package = Package(
  name: "ReluMIP",
  products: [
    .executable(name: "relumip", targets: ["relumip"]),
    .library(name: "ReluMIP", targets: ["ReluMIP"]),
    .library(name: "GLPK", targets: ["GLPK"]),
  ],
  dependencies: [
    .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
    .package(url: "https://github.com/apple/swift-numerics", from: "1.1.0"),
    .package(url: "https://github.com/apple/swift-collections", from: "1.1.0"),
    // `swift package generate-documentation --target ReluMIP` (the DocC catalog in
    // Sources/ReluMIP/ReluMIP.docc); a plugin only, nothing of it is linked.
    .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.5.0"),
  ],
  targets: [
    // GLPK 5.0's C API. Debian ships no pkg-config file for it, so the modulemap links it by name.
    .systemLibrary(name: "CGLPK", providers: [.apt(["libglpk-dev"])]),
    // zlib, for gzipped IDX files (the format MNIST and Fashion-MNIST are distributed in).
    .systemLibrary(name: "CZlib", providers: [.apt(["zlib1g-dev"])]),
    // The only Swift code that touches GLPK's C pointers.
    .target(name: "GLPK", dependencies: ["CGLPK"]),
    .target(
      name: "ReluMIP",
      dependencies: [
        "GLPK", "CZlib",
        .product(name: "SwiftProtobuf", package: "swift-protobuf"),
        .product(name: "HeapModule", package: "swift-collections"),
      ],
      exclude: ["ModelReaders/ONNX/onnx.proto"]
    ),
    .target(
      name: "ReluMIPCommands",
      dependencies: [
        "ReluMIP",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ]
    ),
    .executableTarget(name: "relumip", dependencies: ["ReluMIPCommands"]),
    // The getting-started article's code, compiled: `swift run verify-one-example`.
    .executableTarget(
      name: "verify-one-example",
      dependencies: ["ReluMIP"],
      path: "Examples/VerifyOneExample"
    ),
    .target(
      name: "TestSupport",
      dependencies: ["ReluMIP", "GLPK"],
      path: "Tests/TestSupport"
    ),
    .testTarget(
      name: "GLPKTests",
      dependencies: ["GLPK"]
    ),
    .testTarget(
      name: "ReluMIPTests",
      dependencies: [
        "ReluMIP", "TestSupport",
        .product(name: "Numerics", package: "swift-numerics"),
      ],
      exclude: ["Fixtures"]
    ),
    .testTarget(
      name: "ReluMIPCommandsTests",
      dependencies: ["ReluMIPCommands", "ReluMIP", "TestSupport"]
    ),
  ],
  swiftLanguageModes: [.v6]
)
