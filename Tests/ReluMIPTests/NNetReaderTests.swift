import Foundation
import TestSupport
import Testing

@testable import ReluMIP

/// A hand-written `.nnet` file: 2 inputs, 3 ReLUs, 1 output, with comments, the header line
/// numbers below counted from 1.
let handWrittenNNet = """
  // A network for the tests
  // W1 = [[1, -2], [0.5, 0.25], [-1, 1]], b1 = [0.5, -1, 0]; W2 = [[1, 2, -3]], b2 = [0.25]
  2,2,1,3,
  2,3,1,
  0,
  -1,-1,
  1,1,
  0,0,0,
  1,1,1,
  1.0,-2.0,
  0.5,0.25,
  -1,1,
  0.5,
  -1.0,
  0,
  1,2,-3,
  0.25,

  """

/// The lines of `handWrittenNNet`, for building broken variants of it.
let handWrittenLines = handWrittenNNet.split(separator: "\n", omittingEmptySubsequences: false)
  .map(String.init)

/// `handWrittenNNet` with line `number` (1-based) replaced.
func handWritten(replacingLine number: Int, with text: String) -> String {
  var lines = handWrittenLines
  lines[number - 1] = text
  return lines.joined(separator: "\n")
}

@Suite("The .nnet reader")
struct NNetReaderTests {
  @Test func handWrittenValues() throws {
    let network = try NNetReader.parse(handWrittenNNet)
    try #require(network.layers.count == 2)
    #expect(network.inputShape == [2])
    #expect(network.layers[0].weights == [1, -2, 0.5, 0.25, -1, 1])
    #expect(network.layers[0].bias == [0.5, -1, 0])
    #expect(network.layers[0].activation == .relu)
    #expect(network.layers[1].weights == [1, 2, -3])
    #expect(network.layers[1].bias == [0.25])
    #expect(network.layers[1].activation == .identity)
    // (1, 0.5): z = (0.5, −0.375, −0.5), so y = 0.5 + 0.25.
    #expect(network.evaluate([1, 0.5]) == [0.75])
    // (−1, 2): z = (−4.5, −1, 3), so y = −9 + 0.25.
    #expect(network.evaluate([-1, 2]) == [-8.75])
    // The normalization is recorded, not applied.
    #expect(network.notes.contains { $0.contains("normalized") })
    #expect(network.notes.contains { $0.contains("output mean 0.0, range 1.0") })
  }

  @Test func windowsLineEndingsAndSpaces() throws {
    let spaced = handWrittenNNet.replacingOccurrences(of: ",", with: ", ")
    #expect(try NNetReader.parse(spaced) == NNetReader.parse(handWrittenNNet))
    let crlf = handWrittenNNet.replacingOccurrences(of: "\n", with: "\r\n")
    #expect(try NNetReader.parse(crlf).evaluate([1, 0.5]) == [0.75])
    // Without the trailing commas.
    let bare = handWrittenNNet.replacingOccurrences(of: ",\n", with: "\n")
    #expect(try NNetReader.parse(bare).evaluate([-1, 2]) == [-8.75])
  }

  @Test func randomNetworksRoundTrip() throws {
    var generator = SplitMix64(seed: 4242)
    for trial in 0..<20 {
      let hidden = (0..<Int(generator.next() % 4)).map { _ in Int(1 + generator.next() % 9) }
      let network = RandomNetworks.make(
        inputs: Int(1 + generator.next() % 6), hidden: hidden,
        outputs: Int(1 + generator.next() % 5), using: &generator,
        weightScale: [1, 1e-8, 1e5][trial % 3])
      let read = try NNetReader.parse(NNetWriter.text(network))
      // Every value is written in its shortest round-trip form, so nothing changes.
      #expect(read.layers == network.layers, "trial \(trial)")
    }
  }

  /// A malformed variant of the hand-written file, the line the error must name (nil when it
  /// names none) and words of the reason.
  struct Malformed: CustomTestStringConvertible, Sendable {
    var name: String
    var text: String
    var line: Int?
    var words: [String]
    var testDescription: String { name }
  }

  static let malformed: [Malformed] = [
    Malformed(
      name: "truncated in the last layer",
      text: handWrittenLines.prefix(16).joined(separator: "\n"), line: nil,
      words: ["ends before", "bias 0 of layer 2"]),
    Malformed(
      name: "truncated in the header",
      text: handWrittenLines.prefix(6).joined(separator: "\n"), line: nil,
      words: ["ends before", "maximums"]),
    Malformed(name: "empty", text: "// nothing but a comment\n", line: nil, words: ["ends before"]),
    Malformed(
      name: "a weight row too long", text: handWritten(replacingLine: 11, with: "0.5,0.25,7,"),
      line: 11, words: ["weight row 1 of layer 1", "3 values, expected 2"]),
    Malformed(
      name: "a weight row too short", text: handWritten(replacingLine: 16, with: "1,2,"),
      line: 16, words: ["weight row 0 of layer 2", "2 values, expected 3"]),
    Malformed(
      name: "two biases on a line", text: handWritten(replacingLine: 14, with: "-1.0,2,"),
      line: 14, words: ["bias 1 of layer 1", "2 values"]),
    Malformed(
      name: "not a number", text: handWritten(replacingLine: 12, with: "-1,one,"),
      line: 12, words: ["weight row 2 of layer 1", "'one'"]),
    Malformed(
      name: "NaN weight", text: handWritten(replacingLine: 10, with: "nan,1,"),
      line: 10, words: ["'nan'", "finite"]),
    Malformed(
      name: "infinite bias", text: handWritten(replacingLine: 17, with: "inf,"),
      line: 17, words: ["'inf'"]),
    Malformed(
      name: "header of zero layers", text: handWritten(replacingLine: 3, with: "0,2,1,3,"),
      line: 3, words: ["positive whole numbers"]),
    Malformed(
      name: "fractional header", text: handWritten(replacingLine: 3, with: "2,2.5,1,3,"),
      line: 3, words: ["positive whole numbers"]),
    Malformed(
      name: "too few layer sizes", text: handWritten(replacingLine: 4, with: "2,3,"),
      line: 4, words: ["expected 3 layer sizes, found 2"]),
    Malformed(
      name: "sizes disagree with the header", text: handWritten(replacingLine: 4, with: "3,3,1,"),
      line: 4, words: ["header says 2 inputs"]),
    Malformed(
      name: "a layer size of zero", text: handWritten(replacingLine: 4, with: "2,0,1,"),
      line: 4, words: ["layer size 0"]),
    Malformed(
      name: "a layer size beyond what is read",
      text: handWritten(replacingLine: 4, with: "2,1000000000,1,"),
      line: 4, words: ["layer size 1000000000"]),
    Malformed(
      name: "data after the last layer", text: handWrittenNNet + "1,\n",
      line: 18, words: ["unexpected data after the last layer"]),
  ]

  @Test(arguments: malformed)
  func malformedFilesNameTheLine(malformed: Malformed) throws {
    let error = try #require(throws: ModelError.self) {
      try NNetReader.parse(malformed.text, file: "net.nnet")
    }
    #expect(error.file == "net.nnet")
    #expect(error.location == malformed.line.map { "line \($0)" }, "\(error)")
    for word in malformed.words {
      #expect(error.reason.contains(word), "'\(error.reason)' lacks '\(word)'")
    }
    #expect(error.description.hasPrefix("net.nnet: "))
  }

  @Test func hugeDeclaredSizesAreRefusedBeforeReading() throws {
    // 100,000 × 100,000 weights (80 GB) declared by a file of a few bytes.
    let huge = "1,100000,100000,100000,\n100000,100000,\n0,\n0,\n0,\n0,\n0,\n"
    let clock = ContinuousClock()
    let start = clock.now
    let error = try #require(throws: ModelError.self) {
      try NNetReader.parse(huge, file: "huge.nnet")
    }
    #expect(error.reason.contains("too many"), "\(error)")
    #expect(error.reason.contains("100000 × 100000"), "\(error)")
    // The largest layer allowed, declared by a file that holds none of it, fails at once.
    let largest = "1,16384,16384,16384,\n16384,16384,\n0,\n0,\n0,\n0,\n0,\n1,\n"
    let truncated = try #require(throws: ModelError.self) {
      try NNetReader.parse(largest, file: "largest.nnet")
    }
    #expect(truncated.reason.contains("weight row 0 of layer 1"), "\(truncated)")
    #expect(clock.now - start < .seconds(5))
  }

  @Test func readNamesTheFile() throws {
    let directory = try TemporaryFiles.makeDirectory()
    defer { try? FileManager.default.removeItem(at: directory) }
    let good = directory.appendingPathComponent("good.NNET")
    try handWrittenNNet.write(to: good, atomically: true, encoding: .utf8)
    // The loader picks the reader by the extension, in any case.
    #expect(try ModelLoader.load(path: good.path).evaluate([1, 0.5]) == [0.75])
    let bad = directory.appendingPathComponent("bad.nnet")
    try handWritten(replacingLine: 12, with: "-1,x,").write(
      to: bad, atomically: true, encoding: .utf8)
    let error = try #require(throws: ModelError.self) { try ModelLoader.load(path: bad.path) }
    #expect(error.description.hasPrefix("\(bad.path): line 12: "), "\(error)")
    let missing = directory.appendingPathComponent("absent.nnet").path
    let absent = try #require(throws: ModelError.self) { try ModelLoader.load(path: missing) }
    #expect(absent.file == missing)
    let unknown = try #require(throws: ModelError.self) {
      try ModelLoader.load(path: directory.appendingPathComponent("model.h5").path)
    }
    #expect(unknown.reason.contains(".onnx, .nnet"), "\(unknown)")
  }
}

@Suite("The .nnet benchmark networks", .tags(.shared), .sharedData)
struct NNetBenchmarkTests {
  /// The box every ACAS Xu property's inputs lie in (the union of their cases): the normalized
  /// inputs the networks are verified on.
  static func acasXuInputBox() throws -> (lower: [Double], upper: [Double]) {
    var lower = [Double](repeating: .infinity, count: 5)
    var upper = [Double](repeating: -.infinity, count: 5)
    for number in 1...10 {
      let property = try VNNLibReader.read(
        path: SharedData.url("bench/acasxu/prop_\(number).vnnlib").path)
      for each in property.cases {
        for j in 0..<5 {
          lower[j] = min(lower[j], each.lower[j])
          upper[j] = max(upper[j], each.upper[j])
        }
      }
    }
    return (lower, upper)
  }

  static let acasXuPairs: [String] = (1...5).flatMap { a in (1...9).map { b in "\(a)_\(b)" } }

  @Test func acasXuPropertiesStayWithinHalfAUnit() throws {
    // The properties' normalized inputs: within [−0.5, 0.5] except distance ρ, up to 0.7.
    let (lower, upper) = try Self.acasXuInputBox()
    #expect(lower.allSatisfy { $0 >= -0.5 } && upper.dropFirst().allSatisfy { $0 <= 0.5 })
    #expect(upper[0] > 0.5 && upper[0] < 0.71)
  }

  @Test(arguments: acasXuPairs)
  func acasXuMatchesItsONNXTwin(pair: String) throws {
    let nnet = try NNetReader.read(
      path: SharedData.url("bench/nnet/ACASXU_experimental_v2a_\(pair).nnet").path)
    let onnx = try ModelLoader.load(
      path: SharedData.url("bench/acasxu/ACASXU_run2a_\(pair)_batch_2000.onnx").path)
    #expect(nnet.inputSize == 5 && nnet.outputSize == 5)
    #expect(nnet.hiddenLayerSizes == Array(repeating: 50, count: 6))
    #expect(onnx.inputSize == 5 && onnx.outputSize == 5)
    let (lower, upper) = try Self.acasXuInputBox()
    // One seed per network, from its name, so a failure can be repeated alone.
    let seed = UInt64(pair.unicodeScalars.reduce(0) { $0 * 31 + Int($1.value) })
    var generator = SplitMix64(seed: seed)
    var worst = 0.0
    for sample in 0..<100 {
      let input = (0..<5).map { lower[$0] + (upper[$0] - lower[$0]) * generator.uniform(0, 1) }
      let a = nnet.evaluate(input)
      let b = onnx.evaluate(input)
      let difference = try #require(Compare.maxAbsoluteDifference(a, b), "output counts differ")
      worst = max(worst, difference)
      #expect(difference <= 1e-6, "sample \(sample) (seed \(seed)) at \(input): \(a) vs \(b)")
      if difference > 1e-6 { break }
    }
    // The twins are float32 and decimal copies of the same weights: close, not identical.
    #expect(worst > 0, "suspiciously identical: is the same file read twice?")
  }

  @Test(arguments: [
    ("mnist10x10", 10, 10), ("mnist10x20", 10, 20), ("mnist20x20", 20, 20), ("mnist20x40", 20, 40),
  ])
  func mnistNetworksLoad(name: String, layers: Int, width: Int) throws {
    let network = try ModelLoader.load(path: SharedData.url("bench/nnet/\(name).nnet").path)
    #expect(network.inputSize == 784 && network.outputSize == 10)
    #expect(network.hiddenLayerSizes == Array(repeating: width, count: layers))
    var generator = SplitMix64(seed: 784)
    let outputs = network.evaluate(RandomNetworks.point(784, using: &generator))
    #expect(outputs.count == 10 && outputs.allSatisfy(\.isFinite))
  }

  @Test func marabouExample() throws {
    // fc_2-2-3: W1 = [[1, 1], [−1, −1]], W2 = [[2, −1], [−1, 1], [1, −1]], no biases.
    let network = try ModelLoader.load(path: SharedData.url("bench/nnet/fc_2-2-3.nnet").path)
    #expect(network.evaluate([1, 2]) == [6, -3, 3])
    #expect(network.evaluate([-1, -2]) == [-3, 3, -3])
  }
}
