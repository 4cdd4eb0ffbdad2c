import Foundation
import TestSupport
import Testing

@testable import ReluMIP

// Inputs that crashed a reader under Scripts/fuzz.sh (or in reviewing the code the fuzzer
// exercises), kept so that each stays an error with a reason rather than a trap, a stack overflow
// or an allocation of whatever size the file claims.

/// A file's bytes as libFuzzer wrote them (its `Base64:` line), with a name for the test list.
struct FuzzInput: CustomTestStringConvertible, Sendable {
  var name: String
  var base64: String

  var data: Data { Data(base64Encoded: base64)! }
  var testDescription: String { name }
}

@Suite("Readers: inputs found by fuzzing")
struct ReaderFuzzRegressionTests {
  /// IDX headers whose dimensions start with 0, so the file holds no values, but whose other
  /// dimensions multiply past Int.max: the example size overflowed when the examples were used.
  static let idxOverflowingDimensions = [
    FuzzInput(name: "fuzz-npy crash, rank 3", base64: "AAAIAwAAAAD7AAIA7gD7AA=="),
    FuzzInput(name: "fuzz-idx crash, rank 4", base64: "AAAIBAAAAAAAAAX+/////f//v4D/gA=="),
    FuzzInput(
      name: "fuzz-npy crash, rank 16",
      base64:
        "AAAIEAAAAAAAAACQcic6IEZhbHNlLCAnc2hhYf8O2TlkZXInOiBGYWxzZSwgJ2hzYXBlJzogICAgICAgICAg"
        + "//////8gH///AAD/+Q=="),
    FuzzInput(
      name: "fuzz-csv crash, int16 rank 11",
      base64:
        "AAALCwAAAAAAAAQsYWIsYwowCjEAAAAAAAAzCjIwCjEKMwoyCgAAAAAAMgozCgAAAAAAAAAAMzMACgoxCjMK"
        + "Q29semxlAAAAAAAAY3Rp//8kMSwyLDMK"),
  ]

  @Test(arguments: idxOverflowingDimensions)
  func idxDimensionsThatOverflowBehindAZeroAreMalformed(_ input: FuzzInput) {
    expectInputError(["malformed", "too large to count"]) {
      let examples = try ExampleReader.parse(input.data, path: "fuzz.csv")
      _ = try examples.example(0)
    }
  }

  @Test func npyShapeThatOverflowsBehindAZeroIsMalformed() {
    let data = NPYWriter.file(descriptor: "<f8", shape: [0, 1 << 40, 1 << 40], payload: [])
    expectInputError(["malformed", "too large to count"]) {
      _ = try ExampleReader.parse(data, path: "zero.npy").count
    }
    // The same shape with the 0 last was refused before, and still is.
    let last = NPYWriter.file(descriptor: "<f8", shape: [1 << 40, 1 << 40, 0], payload: [])
    expectInputError(["malformed"]) { _ = try ExampleReader.parse(last, path: "last.npy") }
  }

  @Test func vnnlibNestingIsBoundedInsteadOfOverflowingTheStack() throws {
    let deep = 30_000
    let text =
      "(declare-const X_0 Real)\n(assert " + String(repeating: "(and ", count: deep)
      + String(repeating: ")", count: deep + 1)
    let error = try #require(throws: VNNLibError.self) { try VNNLibReader.parse(text) }
    #expect(error.reason.contains("nested more than \(VNNLibReader.maximumNesting) deep"))
    #expect(error.line == 2)

    // Nesting well inside the limit still reads.
    let nested = 100
    let shallow = """
      (declare-const X_0 Real)
      (declare-const Y_0 Real)
      (assert \(String(repeating: "(and ", count: nested))(>= X_0 0) (<= X_0 1) (>= Y_0 0)\
      \(String(repeating: ")", count: nested + 1))
      """
    let property = try VNNLibReader.parse(shallow)
    #expect(property.cases.count == 1)
    #expect(property.cases.first?.lower == [0])
  }

  /// Five assertions that each offer ten output conditions: 10⁵ cases from 700 bytes.
  static func fiveOrsOfTen(_ condition: (Int) -> String) -> String {
    (0..<5).map { i in
      "(assert (or " + (0..<10).map { condition(10 * i + $0) }.joined(separator: " ") + "))\n"
    }.joined()
  }

  @Test func vnnlibThatMultipliesOutPastTheLimitIsRefusedBeforeItIsBuilt() throws {
    // A chain of 12,000 comparisons in every one of 10⁵ cases: 1.2 × 10⁹ comparisons, which ran
    // out of memory (libFuzzer: out-of-memory on a 25 kB file).
    let text =
      "(declare-const X_0 Real)\n(declare-const Y_0 Real)\n(assert (<= 0 X_0 "
      + String(repeating: "1 ", count: 12_000) + "))\n" + Self.fiveOrsOfTen { _ in "(>= Y_0 0)" }
    let error = try #require(throws: VNNLibError.self) { try VNNLibReader.parse(text) }
    #expect(
      error.reason.contains("more than \(VNNLibReader.maximumComparisons) comparisons"),
      "\(error)")
  }

  @Test func vnnlibWithManyDistinctGoalsReadsWithoutComparingEveryPair() throws {
    // 10⁵ distinct goals on one box: dropping repeats by comparing each with all before it took
    // minutes (libFuzzer: timeout on a 737-byte file).
    let text =
      "(declare-const X_0 Real)\n(declare-const Y_0 Real)\n(assert (<= 0 X_0 1))\n"
      + Self.fiveOrsOfTen { "(>= Y_0 \($0))" }
    let property = try VNNLibReader.parse(text)
    #expect(property.cases.count == 1)
    #expect(property.cases.first?.goals.count == 100_000)
  }
}

@Suite("Readers: hostile ONNX graphs")
struct ONNXHostileGraphTests {
  /// The reason of the ModelError the graph gives (failing the test if it reads).
  func reason(_ builder: GraphBuilder, sourceLocation: SourceLocation = #_sourceLocation) throws
    -> String
  {
    try builder.error(sourceLocation: sourceLocation)?.reason ?? ""
  }

  @Test func unsqueezeWithARepeatedAxisIsRefused() throws {
    var builder = GraphBuilder(input: [1, 2])
    builder.node("Unsqueeze", ["x"], "y", ints: ["axes": [0, 0]])
    #expect(try reason(builder).contains("cannot unsqueeze axes [0, 0]"))
  }

  @Test func squeezeAxesThatAreNotWholeNumbersAreRefused() throws {
    for axes in [[1e30], [0.5]] {
      var builder = GraphBuilder(input: [1, 2])
      builder.constant("axes", shape: [1], axes)
      builder.node("Squeeze", ["x", "axes"], "y")
      #expect(try reason(builder).contains("not whole numbers"), "axes \(axes)")
    }
  }

  @Test func hugeDeclaredInputsAreRefusedBeforeAllocating() throws {
    // What a file without weights may hold.
    let budget = ONNXReader.valueBudget(weightValues: 0)
    // 2⁴⁰ values, and a shape whose size overflows Int.
    for shape in [[1, 1 << 40], [1 << 40, 1 << 40, 1 << 40]] {
      var builder = GraphBuilder(input: shape)
      builder.node("Relu", ["x"], "y")
      #expect(try reason(builder).contains("more than the \(budget) values allowed"))
    }
    // Small enough to hold; the ReLU's diagonal stays sparse (it was once made dense: 2²⁸
    // values, past the budget).
    var wide = GraphBuilder(input: [1, 1 << 14])
    wide.node("Relu", ["x"], "y")
    let layer = try #require(try wide.network().layers.first)
    #expect(layer.matrix.isSparse && layer.matrix.storedValues.count == 1 << 14)
  }

  @Test func reshapeTargetsThatOverflowOrAreNotWholeAreRefused() throws {
    for target in [[Double(1 << 40), Double(1 << 40), 0], [1e30, -1], [2.5, -1]] {
      var builder = GraphBuilder(input: [1, 4])
      builder.constant("shape", shape: [target.count], target)
      builder.node("Reshape", ["x", "shape"], "y", int: ["allowzero": 1])
      #expect(try reason(builder).contains("shape"), "target \(target)")
    }
  }

  @Test func denseOpsThatWouldNeedHugeMatricesAreRefused() throws {
    // (2¹², 2³) @ (2³, 2): the matrix on the flattened data would hold 2¹³ × 2¹⁵ entries.
    var builder = GraphBuilder(input: [1 << 12, 1 << 3])
    builder.constant("W", shape: [1 << 3, 2], [Double](repeating: 1, count: 1 << 4))
    builder.node("MatMul", ["x", "W"], "y")
    #expect(try reason(builder).contains("would need more than"))
  }

  @Test func emptyDataIsRefusedBeforeItReachesAMatMul() throws {
    // A Gemm with no output columns gave data of shape (1, 0); the MatMul after it divided by 0.
    var builder = GraphBuilder(input: [1, 2])
    builder.constant("B", shape: [2, 0], [])
    builder.constant("W", shape: [0, 3], [])
    builder.node("Gemm", ["x", "B"], "z")
    builder.node("MatMul", ["z", "W"], "y")
    #expect(try reason(builder).contains("empty"))
  }
}
