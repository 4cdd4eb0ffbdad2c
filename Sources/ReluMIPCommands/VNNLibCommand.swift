import ArgumentParser
import Foundation
import ReluMIP

/// `relumip vnnlib MODEL PROPERTY`: one VNN-COMP instance, answered in the competition's format.
struct VNNLibCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "vnnlib",
    abstract: "Decide a VNN-LIB property of a network and print the competition's result.",
    discussion: """
      Prints (and with --result-file writes) sat, unsat, timeout, unknown or error on the first \
      line; after sat, the counterexample as ((X_0 v) … (Y_0 v) …), re-checked by an exact \
      forward pass to lie in the unsafe set.

      Exit status: 0 unsat, 10 sat, 20 timeout or unknown, 1 error, 64 usage error.
      """
  )

  @Argument(help: "The network: an ONNX or .nnet file.")
  var model: String

  @Argument(help: "The property: a VNN-LIB file.")
  var property: String

  // Unconditional, so that `--timeout -5` reaches validate() (see SearchOptions).
  @Option(
    parsing: .unconditional, help: "Wall-clock limit in seconds; past it the answer is timeout.")
  var timeout: Double?

  @Option(help: "Also write the result to this file (replaced whole, never left half-written).")
  var resultFile: String?

  @OptionGroup var engine: EngineOptions

  @Flag(help: "Print one JSON object (result, time, counterexample) instead of the result text.")
  var json = false

  @Flag(help: "Show what each stage settled, GLPK's output and a summary on stderr.")
  var verbose = false

  func validate() throws {
    if let timeout, !(timeout.isFinite && timeout > 0) {
      throw ValidationError("--timeout must be a positive number of seconds")
    }
  }

  func run() throws {
    let clock = ContinuousClock()
    let start = clock.now
    let result: PropertyResult
    do {
      let network = try ModelLoader.load(path: model)
      let parsed = try VNNLibReader.read(path: property)
      let verifier = try Verifier(network: network)
      try verifier.validate(parsed)
      let line = ProgressLine.make(json: json, verbose: verbose)
      defer { line?.clear() }
      var options = engine.verificationOptions(verbose: verbose).reporting(to: line)
      // The limit counts from process start, as the competition measures it.
      options.timeLimit = timeout.map { $0 - seconds(clock.now - start) }
      result = try verifier.verify(property: parsed, options: options)
    } catch {
      try? writeResult("error\n")
      throw error
    }
    let text = VNNLibReport.resultText(result)
    try writeResult(text)
    if json {
      print(
        try VNNLibReport.json(
          model: model, property: property, result: result, time: seconds(clock.now - start)))
    } else {
      print(text, terminator: "")
    }
    if verbose {
      let summary =
        "\(result.competitionResult) in \(String(format: "%.3f", seconds(clock.now - start))) s"
        + " (settled by \(result.settledBy.rawValue), \(result.nodes) nodes)"
        + (result.reason.map { ": \($0)" } ?? "") + "\n"
      FileHandle.standardError.write(Data(summary.utf8))
    }
    throw ExitCode(VerificationExitCode.of(result.verdict))
  }

  private func writeResult(_ text: String) throws {
    guard let resultFile else { return }
    do {
      try AtomicFile.write(Data(text.utf8), to: resultFile)
    } catch {
      throw ValidationError("cannot write the result file \(resultFile): \(error)")
    }
  }
}

private func seconds(_ duration: Duration) -> Double {
  let (whole, attoseconds) = duration.components
  return Double(whole) + Double(attoseconds) * 1e-18
}

/// The competition's result text and a JSON summary of a property run.
enum VNNLibReport {
  /// `sat` and the counterexample, or one word.
  static func resultText(_ result: PropertyResult) -> String {
    guard result.verdict == .counterexample, let found = result.counterexample else {
      return result.competitionResult + "\n"
    }
    let inputs = found.input.enumerated().map { "(X_\($0.offset) \($0.element))" }
    let outputs = found.outputs.enumerated().map { "(Y_\($0.offset) \($0.element))" }
    return "sat\n(" + (inputs + outputs).joined(separator: "\n ") + ")\n"
  }

  static func json(model: String, property: String, result: PropertyResult, time: Double) throws
    -> String
  {
    var object: [String: Any] = [
      "model": model, "property": property, "result": result.competitionResult,
      "time_s": time, "settled_by": result.settledBy.rawValue, "nodes": result.nodes,
      "binaries": result.binaries, "cases_searched": result.casesSearched,
    ]
    if let found = result.counterexample {
      object["counterexample"] = found.input
      object["outputs"] = found.outputs
    }
    if let caseIndex = result.caseIndex { object["case"] = caseIndex }
    if let reason = result.reason { object["reason"] = reason }
    let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
    return String(decoding: data, as: UTF8.self)
  }
}
