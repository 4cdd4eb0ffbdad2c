import Foundation
import ReluMIP

// Shared helpers of the test targets: where files are, a seeded random generator, random networks
// and small file writers. Everything is located relative to this file (#filePath), so the
// repository can be cloned anywhere.

/// The repository's own files.
public enum RepositoryFiles {
  /// The package root: `Tests/TestSupport/Support.swift` → three levels up.
  public static let root: URL = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent()  // TestSupport
    .deletingLastPathComponent()  // Tests
    .deletingLastPathComponent()  // package root

  /// `Models/`, the networks and data shipped with the package.
  public static let models = root.appendingPathComponent("Models", isDirectory: true)

  public static func model(_ name: String) -> URL { models.appendingPathComponent(name) }
}

/// Test fixtures under `Tests/ReluMIPTests/Fixtures/`.
public enum Fixtures {
  public static let root = RepositoryFiles.root
    .appendingPathComponent("Tests/ReluMIPTests/Fixtures", isDirectory: true)

  /// A fixture, e.g. `Fixtures.url("onnx/tiny_mlp.onnx")`.
  public static func url(_ relativePath: String) -> URL {
    root.appendingPathComponent(relativePath)
  }
}

/// The data shared between the project's working copies (`../shared` beside the repository):
/// present on the team's machines and in CI, absent in a user's clone.
///
/// Suites that need it are enabled with
/// `.enabled(if: SharedData.isEnabled, Comment(rawValue: SharedData.skipMessage))` (each test
/// target wraps it as the trait `.sharedData`): they are skipped, visibly, when
/// the folder is missing, except under `CI=true`, where they run and fail on the missing files.
public enum SharedData {
  public static let root = RepositoryFiles.root
    .deletingLastPathComponent()
    .appendingPathComponent("shared", isDirectory: true)

  /// Whether `../shared` exists (as a folder holding `seed/`).
  public static var isAvailable: Bool {
    var isDirectory: ObjCBool = false
    return FileManager.default.fileExists(
      atPath: root.appendingPathComponent("seed").path, isDirectory: &isDirectory)
      && isDirectory.boolValue
  }

  /// Whether a missing shared folder is an error (in CI) rather than a reason to skip.
  public static var isRequired: Bool {
    ProcessInfo.processInfo.environment["CI"]?.lowercased() == "true"
  }

  /// Run shared-data suites when the data is there, or when it must be (CI).
  public static var isEnabled: Bool { isAvailable || isRequired }

  public static let skipMessage =
    "needs the shared data folder ../shared beside the repository, absent here (with CI=true its absence is an error)"

  /// A file in the shared folder; throws (with a message saying what is missing) if it is absent.
  public static func url(_ relativePath: String) throws -> URL {
    let url = root.appendingPathComponent(relativePath)
    guard FileManager.default.fileExists(atPath: url.path) else {
      throw MissingSharedData(path: url.path, required: isRequired)
    }
    return url
  }

  public struct MissingSharedData: Error, CustomStringConvertible {
    public var path: String
    public var required: Bool
    public var description: String {
      "shared data file \(path) is missing"
        + (required ? " (CI=true: the shared folder ../shared must be present in CI)" : "")
    }
  }
}

// MARK: Random numbers

/// SplitMix64 (Steele, Lea and Flood): a tiny, fast, seedable generator, so random test cases
/// can be reproduced from their seed.
public struct SplitMix64: RandomNumberGenerator, Sendable {
  public private(set) var state: UInt64

  public init(seed: UInt64) {
    state = seed
  }

  public mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }

  /// A uniform value in `[lower, upper)`.
  public mutating func uniform(_ lower: Double, _ upper: Double) -> Double {
    Double.random(in: lower..<upper, using: &self)
  }
}

/// Random networks for property tests.
public enum RandomNetworks {
  /// A fully connected ReLU network `inputs → hidden… → outputs` (affine output layer), with
  /// weights uniform in [−1, 1] and biases uniform in [−0.5, 0.5].
  public static func make(
    inputs: Int, hidden: [Int], outputs: Int, using generator: inout SplitMix64,
    weightScale: Double = 1, biasScale: Double = 0.5
  ) -> Network {
    var layers: [AffineLayer] = []
    var previous = inputs
    for (index, size) in (hidden + [outputs]).enumerated() {
      let weights = (0..<(size * previous)).map { _ in
        generator.uniform(-weightScale, weightScale)
      }
      let bias = (0..<size).map { _ in generator.uniform(-biasScale, biasScale) }
      let activation: Activation = index < hidden.count ? .relu : .identity
      // The sizes match by construction and every value is finite.
      layers.append(
        try! AffineLayer(
          inputSize: previous, outputSize: size, weights: weights, bias: bias,
          activation: activation))
      previous = size
    }
    return try! Network(layers: layers)
  }

  /// A point uniform in the box `[0, 1]^dimension`.
  public static func point(_ dimension: Int, using generator: inout SplitMix64) -> [Double] {
    (0..<dimension).map { _ in generator.uniform(0, 1) }
  }
}

// MARK: Sampling regions

public enum RegionSampling {
  /// A random point of `region` (which must have a finite box or radius): for L∞ uniform in
  /// the per-coordinate range; for L1 a sparse random move scaled into the ball, then clipped
  /// to the box (clipping only moves a coordinate toward the center, so it stays in the ball).
  /// Some samples are pushed to the region's corners and edges, where bounds are tight.
  public static func sample(_ region: InputRegion, using generator: inout SplitMix64) -> [Double] {
    let n = region.dimension
    switch region.norm {
    case .linf:
      return (0..<n).map { j in
        let (low, high) = (region.lowest(j), region.highest(j))
        switch generator.next() % 4 {
        case 0: return low
        case 1: return high
        default: return low + (high - low) * generator.uniform(0, 1)
        }
      }
    case .l1:
      let moved = max(1, min(n, Int(generator.next() % UInt64(min(n, 8))) + 1))
      var direction = [Double](repeating: 0, count: n)
      for _ in 0..<moved {
        let j = Int(generator.next() % UInt64(n))
        direction[j] += generator.uniform(-1, 1)
      }
      let size = direction.reduce(0) { $0 + abs($1) }
      // On the sphere half the time, strictly inside otherwise.
      let radius =
        generator.next() % 2 == 0 ? region.radius : region.radius * generator.uniform(0, 1)
      let scale = size > 0 ? radius / size : 0
      return (0..<n).map { j in
        let value = region.center[j] + direction[j] * scale
        return min(max(value, region.boxLower[j]), region.boxUpper[j])
      }
    }
  }
}

// MARK: Files

/// Temporary directories that tests write into.
public enum TemporaryFiles {
  /// A new, empty directory under the system's temporary directory.
  public static func makeDirectory(_ prefix: String = "relumip-tests") throws -> URL {
    let url = FileManager.default.temporaryDirectory
      .appendingPathComponent("\(prefix)-\(UUID().uuidString)", isDirectory: true)
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
  }
}

/// Writes NumPy `.npy` files (format version 1.0 unless asked otherwise), for reader tests.
public enum NPYWriter {
  /// The bytes of a `.npy` file with the given dtype descriptor (e.g. `<f8`), shape and raw
  /// little-endian payload. `padTo` is the alignment of the header (64 in NumPy ≥ 1.something,
  /// 16 in old versions).
  public static func file(
    descriptor: String, shape: [Int], payload: [UInt8], version: UInt8 = 1,
    fortranOrder: Bool = false, padTo alignment: Int = 64
  ) -> Data {
    let shapeText: String
    switch shape.count {
    case 0: shapeText = "()"
    case 1: shapeText = "(\(shape[0]),)"
    default: shapeText = "(" + shape.map(String.init).joined(separator: ", ") + ")"
    }
    var header =
      "{'descr': '\(descriptor)', 'fortran_order': \(fortranOrder ? "True" : "False"), 'shape': \(shapeText), }"
    let prefixLength = version == 1 ? 10 : 12
    let total = prefixLength + header.utf8.count + 1
    let padded = (total + alignment - 1) / alignment * alignment
    header += String(repeating: " ", count: padded - total) + "\n"
    var bytes: [UInt8] = [0x93] + Array("NUMPY".utf8) + [version, 0]
    let length = header.utf8.count
    if version == 1 {
      bytes += [UInt8(length & 0xFF), UInt8(length >> 8)]
    } else {
      bytes += (0..<4).map { UInt8((length >> (8 * $0)) & 0xFF) }
    }
    bytes += Array(header.utf8)
    bytes += payload
    return Data(bytes)
  }

  public static func float64(_ values: [Double], shape: [Int]) -> Data {
    file(descriptor: "<f8", shape: shape, payload: values.flatMap { littleEndian($0.bitPattern) })
  }

  public static func float32(_ values: [Float], shape: [Int]) -> Data {
    file(
      descriptor: "<f4", shape: shape,
      payload: values.flatMap { littleEndian(UInt64($0.bitPattern), width: 4) })
  }

  public static func uint8(_ values: [UInt8], shape: [Int]) -> Data {
    file(descriptor: "|u1", shape: shape, payload: values)
  }

  public static func int64(_ values: [Int64], shape: [Int]) -> Data {
    file(
      descriptor: "<i8", shape: shape,
      payload: values.flatMap { littleEndian(UInt64(bitPattern: $0)) })
  }

  public static func littleEndian(_ value: UInt64, width: Int = 8) -> [UInt8] {
    (0..<width).map { UInt8((value >> (8 * UInt64($0))) & 0xFF) }
  }
}

/// Writes IDX files (the MNIST format), for reader tests.
public enum IDXWriter {
  /// An unsigned-byte IDX file (type 0x08) with the given dimensions.
  public static func uint8(_ values: [UInt8], dimensions: [Int]) -> Data {
    var bytes: [UInt8] = [0, 0, 0x08, UInt8(dimensions.count)]
    for dim in dimensions {
      bytes += (0..<4).reversed().map { UInt8((dim >> (8 * $0)) & 0xFF) }
    }
    return Data(bytes + values)
  }
}

// MARK: Comparisons

public enum Compare {
  /// The largest absolute difference of two arrays of the same length; nil if the lengths differ
  /// (never a silently truncated comparison).
  public static func maxAbsoluteDifference(_ a: [Double], _ b: [Double]) -> Double? {
    guard a.count == b.count else { return nil }
    return zip(a, b).reduce(0) { max($0, abs($1.0 - $1.1)) }
  }
}

/// How many times more cases the property tests run: `RELUMIP_PROPERTY_SCALE` (default 1), set by
/// `Scripts/property_tests_long.sh` for the long version.
public enum PropertyTestScale {
  public static let factor: UInt64 = {
    guard let text = ProcessInfo.processInfo.environment["RELUMIP_PROPERTY_SCALE"],
      let value = UInt64(text), value >= 1
    else { return 1 }
    return value
  }()
}
