import Foundation
import TestSupport
import Testing

@testable import ReluMIP

/// Rows of a CSV file without quoting (the benchmark CSVs have none), as dictionaries keyed by the
/// header when there is one.
func csvRows(_ url: URL) throws -> [[String]] {
  let text = try String(contentsOf: url, encoding: .utf8)
  return text.split(whereSeparator: \.isNewline).map {
    $0.split(separator: ",", omittingEmptySubsequences: false).map {
      $0.trimmingCharacters(in: .whitespaces)
    }
  }
}

/// One VNN-COMP instance and its answer.
struct BenchmarkInstance: CustomTestStringConvertible, Sendable {
  var model: String
  var property: String
  var expected: String
  var testDescription: String { "\(model) \(property)" }
}

/// Verifies `instance` and checks the answer: the exact verdict, and for `sat` a counterexample
/// that lies in the unsafe set when the network is run again.
func checkInstance(_ instance: BenchmarkInstance, timeLimit: Double) throws {
  let network = try ModelLoader.load(path: SharedData.url(instance.model).path)
  let property = try VNNLibReader.read(path: SharedData.url(instance.property).path)
  var options = VerificationOptions()
  options.timeLimit = timeLimit
  let result = try Verifier(network: network).verify(property: property, options: options)
  #expect(
    result.competitionResult == instance.expected,
    "\(instance.testDescription): \(result.competitionResult) (\(result.reason ?? "")), expected \(instance.expected)"
  )
  guard result.verdict == .counterexample else {
    #expect(result.counterexample == nil)
    return
  }
  let found = try #require(result.counterexample)
  let outputs = network.evaluate(found.input)
  #expect(found.outputs == outputs)
  let reached = UnsafeSet.caseReached(by: found.input, outputs: outputs, in: property)
  #expect(reached != nil, "\(found.input) → \(outputs) is not in the unsafe set")
  #expect(reached == result.caseIndex, "reported case \(String(describing: result.caseIndex))")
}

@Suite("Benchmark instances end to end", .tags(.shared), .sharedData)
struct BenchmarkPropertyTests {
  /// `tiny/test_instances.csv` joined with `ground_truth/test_2021.csv`.
  static func tinyInstances() throws -> [BenchmarkInstance] {
    let instances = try csvRows(SharedData.url("bench/tiny/test_instances.csv"))
    let truth = try csvRows(SharedData.url("bench/ground_truth/test_2021.csv"))
    let header = try #require(truth.first)
    let (onnx, vnnlib, answer) = try (
      #require(header.firstIndex(of: "onnx")), #require(header.firstIndex(of: "vnnlib")),
      #require(header.firstIndex(of: "ground_truth"))
    )
    var expected: [String: String] = [:]
    for row in truth.dropFirst() { expected[row[onnx] + " " + row[vnnlib]] = row[answer] }
    return try instances.map { row in
      let answer = try #require(expected[row[0] + " " + row[1]], "no ground truth for \(row)")
      return BenchmarkInstance(
        model: "bench/tiny/" + row[0], property: "bench/tiny/" + row[1], expected: answer)
    }
  }

  @Test func tinySuiteIsAnsweredCorrectly() throws {
    let instances = try Self.tinyInstances()
    #expect(instances.count == 5)
    // Both answers are there, so a verifier answering one word for everything fails.
    #expect(Set(instances.map(\.expected)) == ["sat", "unsat"])
    for instance in instances { try checkInstance(instance, timeLimit: 60) }
  }

  /// Quick ACAS Xu instances (well under a second each in a release build).
  @Test(arguments: [
    BenchmarkInstance(
      model: "bench/acasxu/ACASXU_run2a_1_1_batch_2000.onnx",
      property: "bench/acasxu/prop_1.vnnlib", expected: "unsat"),
    BenchmarkInstance(
      model: "bench/acasxu/ACASXU_run2a_1_2_batch_2000.onnx",
      property: "bench/acasxu/prop_4.vnnlib", expected: "unsat"),
    BenchmarkInstance(
      model: "bench/acasxu/ACASXU_run2a_1_2_batch_2000.onnx",
      property: "bench/acasxu/prop_2.vnnlib", expected: "sat"),
    // Two that input splitting never finished while it bisected along the bound's linear
    // coefficients (an input that the chords cancelled out was never split); with the gradient's
    // bound (ReluVal's smear) they take a few hundred boxes.
    BenchmarkInstance(
      model: "bench/acasxu/ACASXU_run2a_1_4_batch_2000.onnx",
      property: "bench/acasxu/prop_1.vnnlib", expected: "unsat"),
    BenchmarkInstance(
      model: "bench/acasxu/ACASXU_run2a_2_2_batch_2000.onnx",
      property: "bench/acasxu/prop_1.vnnlib", expected: "unsat"),
  ])
  func acasXuInstance(instance: BenchmarkInstance) throws {
    // The verdicts are those of ground_truth/acasxu.csv.
    let truth = try csvRows(SharedData.url("bench/ground_truth/acasxu.csv"))
    let header = try #require(truth.first)
    let (onnx, vnnlib, answer) = try (
      #require(header.firstIndex(of: "onnx")), #require(header.firstIndex(of: "vnnlib")),
      #require(header.firstIndex(of: "ground_truth"))
    )
    let row = truth.first {
      instance.model.hasSuffix($0[onnx]) && instance.property.hasSuffix("/" + $0[vnnlib])
    }
    #expect(row?[answer] == instance.expected, "ground truth row \(String(describing: row))")
    try checkInstance(instance, timeLimit: 120)
  }
}
