import Foundation
import TestSupport
import Testing

@testable import ReluMIP
@testable import ReluMIPCommands

/// Fixtures for `relumip vnnlib`, written into a temporary folder: a `.nnet` network with two
/// inputs and three outputs that on the box [0, 1]² computes, with s = x₀ + x₁ ∈ [0, 2],
/// Y = (2s, −s, s); and properties over it.
struct VNNLibFixtures {
  let directory: URL
  let network: Network
  let model: String

  init() throws {
    directory = try TemporaryFiles.makeDirectory("relumip-vnnlib")
    let hidden = try AffineLayer(
      inputSize: 2, outputSize: 2, weights: [1, 1, -1, -1], bias: [0, 0], activation: .relu)
    let output = try AffineLayer(
      inputSize: 2, outputSize: 3, weights: [2, -1, -1, 1, 1, -1], bias: [0, 0, 0],
      activation: .identity)
    network = try Network(layers: [hidden, output])
    let url = directory.appendingPathComponent("sum.nnet")
    try NNetWriter.write(network, to: url)
    model = url.path
  }

  static let box = """
    (declare-const X_0 Real)
    (declare-const X_1 Real)
    (declare-const Y_0 Real)
    (declare-const Y_1 Real)
    (declare-const Y_2 Real)
    (assert (>= X_0 0))
    (assert (<= X_0 1))
    (assert (>= X_1 0))
    (assert (<= X_1 1))

    """

  /// Sat: 2s ≥ 3 and s ≤ 1.8 holds for s ∈ [1.5, 1.8].
  static let sat = box + "(assert (>= Y_0 3))\n(assert (<= Y_2 1.8))\n(assert (>= Y_0 Y_2))\n"
  /// Unsat: −s ≥ 0.5 and 2s ≥ 4.1 are both impossible.
  static let unsat = box + "(assert (or (>= Y_1 0.5) (>= Y_0 4.1)))\n"

  /// Writes `text` to a file of the folder and returns its path.
  func file(_ name: String, _ text: String) throws -> String {
    let url = directory.appendingPathComponent(name)
    try text.write(to: url, atomically: true, encoding: .utf8)
    return url.path
  }

  func remove() { try? FileManager.default.removeItem(at: directory) }
}

/// The competition's result text: the first line, and after `sat` the `(X_i v)` and `(Y_j v)`
/// values, each index once, in order.
struct CompetitionResult {
  var word: String
  var inputs: [Double] = []
  var outputs: [Double] = []

  init(_ text: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
    let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    word = lines[0]
    guard word == "sat" else {
      #expect(
        lines.count == 2 && lines[1].isEmpty, "one word and a newline: \(text)",
        sourceLocation: sourceLocation)
      return
    }
    let body = lines.dropFirst().filter { !$0.isEmpty }
    try #require(body.first?.hasPrefix("((X_0 ") == true, "\(text)", sourceLocation: sourceLocation)
    try #require(body.last?.hasSuffix("))") == true, "\(text)", sourceLocation: sourceLocation)
    for line in body {
      // "((X_0 v)", " (X_1 v)", " (Y_2 v))": one pair per line.
      let trimmed = line.trimmingCharacters(in: CharacterSet(charactersIn: " ()"))
      let parts = trimmed.split(separator: " ")
      try #require(parts.count == 2, "line '\(line)'", sourceLocation: sourceLocation)
      let name = parts[0]
      let value = try #require(Double(parts[1]), "line '\(line)'", sourceLocation: sourceLocation)
      if name == "X_\(inputs.count)" && outputs.isEmpty {
        inputs.append(value)
      } else if name == "Y_\(outputs.count)" {
        outputs.append(value)
      } else {
        Issue.record("unexpected '\(name)' in line '\(line)'", sourceLocation: sourceLocation)
      }
    }
  }
}

@Suite("relumip vnnlib")
struct VNNLibCommandTests {
  @Test func satWritesTheCounterexample() throws {
    let fixtures = try VNNLibFixtures()
    defer { fixtures.remove() }
    let property = try fixtures.file("sat.vnnlib", VNNLibFixtures.sat)
    let resultFile = fixtures.directory.appendingPathComponent("result.txt").path
    let run = try Relumip.run(["vnnlib", fixtures.model, property, "--result-file", resultFile])
    #expect(run.status == VerificationExitCode.counterexample, "stderr: \(run.stderr)")
    let text = try String(contentsOfFile: resultFile, encoding: .utf8)
    #expect(run.stdout == text, "the printed result is the file's")
    let result = try CompetitionResult(text)
    #expect(result.word == "sat")
    try #require(result.inputs.count == 2 && result.outputs.count == 3, "\(text)")
    // The written outputs are the network's at the written inputs, and they are unsafe.
    #expect(fixtures.network.evaluate(result.inputs) == result.outputs)
    let parsed = try VNNLibReader.read(path: property)
    #expect(
      UnsafeSet.caseReached(by: result.inputs, outputs: result.outputs, in: parsed) == 0,
      "\(result.inputs) → \(result.outputs)")
    let s = result.inputs[0] + result.inputs[1]
    #expect(s >= 1.5 && s <= 1.8)
  }

  @Test func satOfAnONNXModelAsJSON() throws {
    // tiny_mlp.onnx has two outputs, so one of them is always at least the other.
    let fixtures = try VNNLibFixtures()
    defer { fixtures.remove() }
    let model = Fixtures.url("onnx/tiny_mlp.onnx").path
    let property = try fixtures.file(
      "either.vnnlib",
      """
      (declare-const X_0 Real)
      (declare-const X_1 Real)
      (declare-const Y_0 Real)
      (declare-const Y_1 Real)
      (assert (<= 0 X_0 1))
      (assert (<= 0 X_1 1))
      (assert (or (>= Y_0 Y_1) (>= Y_1 Y_0)))
      """)
    let run = try Relumip.run(["vnnlib", model, property, "--json"])
    #expect(run.status == VerificationExitCode.counterexample, "stderr: \(run.stderr)")
    let object = try #require(
      try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any],
      "not JSON: \(run.stdout)")
    #expect(object["result"] as? String == "sat")
    let point = try #require(object["counterexample"] as? [Double])
    let outputs = try #require(object["outputs"] as? [Double])
    #expect(try ModelLoader.load(path: model).evaluate(point) == outputs)
    #expect(object["model"] as? String == model)
  }

  @Test func unsat() throws {
    let fixtures = try VNNLibFixtures()
    defer { fixtures.remove() }
    let property = try fixtures.file("unsat.vnnlib", VNNLibFixtures.unsat)
    let resultFile = fixtures.directory.appendingPathComponent("result.txt").path
    let run = try Relumip.run(["vnnlib", fixtures.model, property, "--result-file", resultFile])
    #expect(run.status == VerificationExitCode.robust, "stderr: \(run.stderr)")
    #expect(try String(contentsOfFile: resultFile, encoding: .utf8) == "unsat\n")
    #expect(run.stdout == "unsat\n")
  }

  @Test func timeoutBeforeTheSearch() throws {
    // The limit counts from the start of the process, so 1 ns is over before the search starts;
    // the attack cannot answer an unsat property.
    let fixtures = try VNNLibFixtures()
    defer { fixtures.remove() }
    let property = try fixtures.file("unsat.vnnlib", VNNLibFixtures.unsat)
    let resultFile = fixtures.directory.appendingPathComponent("result.txt").path
    let run = try Relumip.run([
      "vnnlib", fixtures.model, property, "--result-file", resultFile, "--timeout", "1e-9",
    ])
    #expect(run.status == VerificationExitCode.unknown, "stderr: \(run.stderr)")
    #expect(try String(contentsOfFile: resultFile, encoding: .utf8) == "timeout\n")
  }

  /// Inputs the command cannot use: the property's text, and words the message must hold.
  static let errors: [(String, String, [String])] = [
    (
      "unclosed", VNNLibFixtures.box + "(assert (>= Y_0 3)\n",
      ["unclosed.vnnlib:10:1", "never closed"]
    ),
    (
      "three-inputs",
      "(declare-const X_0 Real)\n(declare-const X_1 Real)\n(declare-const X_2 Real)\n"
        + "(declare-const Y_0 Real)\n(declare-const Y_1 Real)\n(declare-const Y_2 Real)\n"
        + "(assert (<= 0 X_0 1))\n(assert (<= 0 X_1 1))\n(assert (<= 0 X_2 1))\n(assert (>= Y_0 1))\n",
      ["3 inputs", "network has 2"]
    ),
    (
      "four-outputs", VNNLibFixtures.box + "(declare-const Y_3 Real)\n(assert (>= Y_3 1))\n",
      ["4 outputs", "network has 3"]
    ),
    ("mixed", VNNLibFixtures.box + "(assert (<= X_0 Y_0))\n", ["mixed.vnnlib:10:9"]),
  ]

  @Test(arguments: errors)
  func badInputsExitOneAndWriteError(name: String, text: String, words: [String]) throws {
    let fixtures = try VNNLibFixtures()
    defer { fixtures.remove() }
    let property = try fixtures.file("\(name).vnnlib", text)
    let resultFile = fixtures.directory.appendingPathComponent("result.txt").path
    // A stale result must not survive.
    try "unsat\n".write(toFile: resultFile, atomically: true, encoding: .utf8)
    let run = try Relumip.run(["vnnlib", fixtures.model, property, "--result-file", resultFile])
    #expect(run.status == VerificationExitCode.error, "exit \(run.status): \(run.stderr)")
    #expect(try String(contentsOfFile: resultFile, encoding: .utf8) == "error\n")
    for word in words {
      #expect(run.stderr.contains(word), "stderr '\(run.stderr)' lacks '\(word)'")
    }
    #expect(!run.stdout.contains("sat"))
  }

  @Test func missingModelExitsOneAndWritesError() throws {
    let fixtures = try VNNLibFixtures()
    defer { fixtures.remove() }
    let property = try fixtures.file("sat.vnnlib", VNNLibFixtures.sat)
    let missing = fixtures.directory.appendingPathComponent("absent.onnx").path
    let resultFile = fixtures.directory.appendingPathComponent("result.txt").path
    let (code, message) = exitCode(["vnnlib", missing, property, "--result-file", resultFile])
    #expect(code == VerificationExitCode.error)
    #expect(message.contains(missing), "\(message)")
    #expect(try String(contentsOfFile: resultFile, encoding: .utf8) == "error\n")
  }

  @Test(arguments: ["0", "-1", "nan", "inf", "soon"])
  func badTimeoutIsAUsageError(timeout: String) throws {
    let fixtures = try VNNLibFixtures()
    defer { fixtures.remove() }
    let property = try fixtures.file("sat.vnnlib", VNNLibFixtures.sat)
    let resultFile = fixtures.directory.appendingPathComponent("result.txt").path
    let (code, message) = exitCode([
      "vnnlib", fixtures.model, property, "--timeout=\(timeout)", "--result-file", resultFile,
    ])
    #expect(code == VerificationExitCode.usage, "\(timeout): exit \(code), \(message)")
    #expect(message.contains("timeout"), "\(message)")
    // Nothing ran, so no result was written.
    #expect(!FileManager.default.fileExists(atPath: resultFile))
  }

  @Test func helpDocumentsTheExitCodes() throws {
    let run = try Relumip.run(["vnnlib", "--help"])
    #expect(run.status == 0)
    let text = run.stdout.split(whereSeparator: \.isWhitespace).joined(separator: " ")
    #expect(text.contains("0 unsat, 10 sat, 20 timeout or unknown, 1 error, 64 usage error"))
  }
}
