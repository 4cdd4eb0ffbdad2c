import ArgumentParser
import Foundation
import TestSupport
import Testing

@testable import ReluMIP
@testable import ReluMIPCommands

/// The `relumip` executable built beside this test bundle, run as a child process.
enum Relumip {
  /// `<scratch>/<triple>/debug/relumip`: the test runner (`…PackageTests.xctest`) lives in the
  /// same folder, whatever the scratch path.
  static let executable: URL? = {
    var candidates: [URL] = []
    let runner = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
    candidates.append(runner.deletingLastPathComponent().appendingPathComponent("relumip"))
    if let main = Bundle.main.executableURL {
      candidates.append(main.deletingLastPathComponent().appendingPathComponent("relumip"))
    }
    candidates.append(
      Bundle.main.bundleURL.deletingLastPathComponent().appendingPathComponent("relumip"))
    return candidates.first { FileManager.default.isExecutableFile(atPath: $0.path) }
  }()

  struct Run {
    var status: Int32
    var stdout: String
    var stderr: String
  }

  static func run(_ arguments: [String]) throws -> Run {
    let executable = try #require(
      executable,
      "the relumip executable was not found beside the test bundle; build it with `swift build --build-tests`"
    )
    let process = Process()
    process.executableURL = executable
    process.arguments = arguments
    process.currentDirectoryURL = RepositoryFiles.root
    let output = Pipe()
    let errors = Pipe()
    process.standardOutput = output
    process.standardError = errors
    try process.run()
    // Read both pipes while the process runs, so that neither can fill up and block it.
    let stderrData = LockedData()
    let done = DispatchSemaphore(value: 0)
    let reader = Thread {
      stderrData.set(errors.fileHandleForReading.readDataToEndOfFile())
      done.signal()
    }
    reader.start()
    let stdoutData = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    done.wait()
    return Run(
      status: process.terminationStatus, stdout: String(decoding: stdoutData, as: UTF8.self),
      stderr: String(decoding: stderrData.value, as: UTF8.self))
  }

  final class LockedData: @unchecked Sendable {
    private let lock = NSLock()
    private var data = Data()
    func set(_ value: Data) { lock.withLock { data = value } }
    var value: Data { lock.withLock { data } }
  }
}

enum Shipped {
  static let model = RepositoryFiles.model("fashion_mlp_50x50.onnx").path
  static let images = RepositoryFiles.model("fashion_test100_images.npy").path
}

/// Runs a command in process and returns the exit code it ends with (0 when `run` returns).
func exitCode(_ arguments: [String]) -> (code: Int32, message: String) {
  do {
    var command = try ReluMIPCommand.parseAsRoot(arguments)
    try command.run()
    return (0, "")
  } catch {
    return (ReluMIPCommand.exitCode(for: error).rawValue, ReluMIPCommand.message(for: error))
  }
}

@Suite("Command-line parsing and errors (in process)")
struct CommandParsingTests {
  static let base = ["verify", Shipped.model, "--images", Shipped.images, "--norm", "l1"]

  @Test(arguments: [
    ["--delta=-1"], ["--delta", "nan"], ["--delta", "inf"], ["--delta", "abc"],
    ["--delta", "1", "--time-limit", "0"], ["--delta", "1", "--time-limit=-5"],
    ["--delta", "1", "--example=-1"], ["--delta", "1", "--target", "second"],
    ["--delta", "1", "--clip", "1,0"], ["--delta", "1", "--bounds", "exact"],
  ])
  func usageErrors(extra: [String]) {
    let (code, message) = exitCode(Self.base + extra)
    #expect(code == VerificationExitCode.usage, "\(extra): exit \(code), \(message)")
    #expect(!message.isEmpty)
  }

  /// A negative number given as its own argument, the way people type it.
  struct NegativeValue: Sendable, CustomTestStringConvertible {
    var arguments: [String]
    var message: String
    var testDescription: String { arguments.joined(separator: " ") }
  }

  static let missingFile = "/nonexistent/relumip-\(UUID().uuidString)"
  static let batchBase = [
    "batch", Shipped.model, "--images", Shipped.images, "--examples", "0", "--norm", "linf",
    "--out", missingFile + ".jsonl",
  ]

  /// Argument-parser reads "-1" after an option as another option by default and reports a
  /// missing value; these options take it as their value, so the user reads what is wrong with
  /// it.
  @Test(arguments: [
    NegativeValue(
      arguments: base + ["--delta", "-1"], message: "--delta must be a finite number ≥ 0"),
    NegativeValue(
      arguments: base + ["--delta", "1", "--time-limit", "-5"], message: "--time-limit must be"),
    NegativeValue(
      arguments: base + ["--delta", "1", "--example", "-1"], message: "--example must be"),
    NegativeValue(
      arguments: base + ["--delta", "1", "--memory-limit", "-5"], message: "--memory-limit must be"),
    NegativeValue(arguments: batchBase + ["--delta", "-1"], message: "'-1' is not a radius"),
    NegativeValue(arguments: batchBase + ["--delta", "0.5,-1"], message: "'-1' is not a radius"),
    NegativeValue(
      arguments: batchBase + ["--delta", "1", "--jobs", "-2"], message: "--jobs must be"),
    NegativeValue(
      arguments: ["vnnlib", Shipped.model, missingFile + ".vnnlib", "--timeout", "-5"],
      message: "--timeout must be"),
    NegativeValue(
      arguments: [
        "merge", missingFile + ".jsonl", missingFile + "-1.jsonl", "--examples", "0", "--delta",
        "-1",
      ], message: "'-1' is not a radius"),
  ])
  func negativeNumbersReachValidation(_ value: NegativeValue) {
    let (code, message) = exitCode(value.arguments)
    #expect(code == VerificationExitCode.usage, "exit \(code), \(message)")
    #expect(message.contains(value.message), "\(message)")
    #expect(!message.contains("Missing value"), "\(message)")
  }

  @Test func aBoxBelowZeroParses() throws {
    let parsed = try ReluMIPCommand.parseAsRoot(Self.base + ["--delta", "1", "--clip", "-1,1"])
    let command = try #require(parsed as? VerifyCommand)
    let box = try #require(command.property.search.box)
    #expect(box.0 == -1 && box.1 == 1)
  }

  @Test func labelNamesMustNameEveryLabel() {
    let (code, message) = exitCode(
      Self.base + ["--delta", "0.001", "--label-names", "a,b,c"])
    #expect(code == VerificationExitCode.usage, "\(message)")
    #expect(message.contains("3 names") && message.contains("10 outputs"), "\(message)")
  }

  @Test func badNormIsAUsageError() {
    let (code, message) = exitCode([
      "verify", Shipped.model, "--images", Shipped.images, "--norm", "l2", "--delta", "1",
    ])
    #expect(code == VerificationExitCode.usage)
    #expect(message.contains("l2") || message.contains("norm"), "\(message)")
  }

  @Test func negativeDeltaMessageNamesTheOption() {
    let (code, message) = exitCode(Self.base + ["--delta=-0.5"])
    #expect(code == 64)
    #expect(message.contains("--delta"), "\(message)")
  }

  @Test func missingModelNamesTheFile() {
    let missing = "/nonexistent/relumip-missing-\(UUID().uuidString).onnx"
    let (code, message) = exitCode([
      "verify", missing, "--images", Shipped.images, "--norm", "l1", "--delta", "1",
    ])
    #expect(code == VerificationExitCode.error)
    #expect(message.contains(missing), "\(message)")
  }

  @Test func missingImagesNameTheFile() {
    let missing = "/nonexistent/images-\(UUID().uuidString).npy"
    let (code, message) = exitCode([
      "verify", Shipped.model, "--images", missing, "--norm", "l1", "--delta", "1",
    ])
    #expect(code == VerificationExitCode.error)
    #expect(message.contains(missing), "\(message)")
  }

  @Test func unknownTargetLabel() {
    let (code, message) = exitCode(Self.base + ["--delta", "1", "--target", "12"])
    #expect(code == VerificationExitCode.error)
    #expect(message.contains("12"), "\(message)")
  }

  @Test func exampleOutOfRange() {
    let (code, message) = exitCode(Self.base + ["--delta", "1", "--example", "100"])
    #expect(code == VerificationExitCode.error)
    #expect(message.contains("100"), "\(message)")
  }

  @Test func imagesOfTheWrongWidth() throws {
    let directory = try TemporaryFiles.makeDirectory()
    defer { try? FileManager.default.removeItem(at: directory) }
    let csv = directory.appendingPathComponent("narrow.csv")
    try "0.1,0.2,0.3\n0.4,0.5,0.6\n".write(to: csv, atomically: true, encoding: .utf8)
    let (code, message) = exitCode([
      "verify", Shipped.model, "--images", csv.path, "--norm", "linf", "--delta", "0.1",
    ])
    #expect(code == VerificationExitCode.error)
    #expect(message.contains("3") && message.contains("784"), "\(message)")
  }

  @Test func exitCodesAreDistinct() {
    let codes = [
      VerificationExitCode.robust, VerificationExitCode.counterexample,
      VerificationExitCode.unknown,
      VerificationExitCode.error, VerificationExitCode.usage,
    ]
    #expect(codes == [0, 10, 20, 1, 64])
    #expect(ReluMIPCommand.exitCode(for: ExitCode(10)).rawValue == 10)
  }

  @Test func argumentTypes() {
    #expect(TargetArgument(argument: "runner-up")?.choice == .runnerUp)
    #expect(TargetArgument(argument: "ALL")?.choice == .all)
    #expect(TargetArgument(argument: "3")?.choice == .label(3))
    #expect(TargetArgument(argument: "three") == nil)
    #expect(ClipArgument(argument: "none")?.box == nil)
    let clip = ClipArgument(argument: "-1, 2")?.box
    #expect(clip?.0 == -1 && clip?.1 == 2)
    #expect(ClipArgument(argument: "2,1") == nil)
    #expect(ClipArgument(argument: "nan,1") == nil)
    #expect(ClipArgument(argument: "1") == nil)
  }

  @Test func infoTableListsTheLayers() throws {
    let network = try ModelLoader.load(path: Shipped.model)
    let text = InfoCommand.describe(network, path: Shipped.model)
    #expect(text.contains("784"))
    let layerRows = text.split(separator: "\n").filter { $0.contains(" dense ") }
    #expect(layerRows.count == 3, "\(text)")
    #expect(text.contains("relu") && text.contains("identity"))
    // 784·50 + 50 parameters in the first layer.
    #expect(text.contains("39250"))
    #expect(text.contains("Operations in the file:"))
  }

  @Test func infoListsConvolutionAndPoolingWithTheirShapes() throws {
    let path = Fixtures.url("onnx/conv_maxpool.onnx").path
    let text = InfoCommand.describe(try ModelLoader.load(path: path), path: path)
    let operations = text.split(separator: "\n").filter { $0.hasPrefix("  ") && $0.contains(". ") }
    #expect(operations.count >= 4, "\(text)")
    #expect(operations.first?.contains("Conv 3→") == true, "\(text)")
    #expect(operations.first?.contains("→ [1, ") == true, "\(text)")
    #expect(text.contains("MaxPool, kernel 2×2, stride 2×2"), "\(text)")
    #expect(text.contains("sparse"))
    #expect(text.contains("tree of pairwise maxima"))
  }
}

@Suite("The verify report")
struct ReportTests {
  func result(_ verdict: Verdict) -> VerificationResult {
    var result = VerificationResult(
      verdict: verdict, label: 3, target: 5, targetsSearched: [5], counterexample: nil,
      objective: -0.5, bound: -.infinity, nodes: 7, binaries: 12, settledBy: .bounds,
      timings: Timings(bounds: 0.25, solve: 0.5, total: 0.75), statistics: [], reason: nil)
    if verdict == .counterexample {
      result.counterexample = Counterexample(
        input: [0.25, 0.5], outputs: [0, 1, 2, 1, 0, 3], predictedLabel: 5, distance: 0.125)
      result.objective = 2
      result.bound = nil
      result.settledBy = .heuristic
    }
    if verdict == .unknown { result.reason = "time limit reached" }
    return result
  }

  func decode(_ report: VerifyReport) throws -> [String: Any] {
    let text = try report.jsonString()
    #expect(!text.contains("\n"), "one line")
    let object = try JSONSerialization.jsonObject(with: Data(text.utf8))
    return try #require(object as? [String: Any])
  }

  @Test(arguments: [(Verdict.robust, Int32(0)), (.counterexample, 10), (.unknown, 20)])
  func jsonAndExitCode(verdict: Verdict, code: Int32) throws {
    let report = VerifyReport(
      model: "m.onnx", images: "i.npy", example: 2, norm: .l1, delta: 1.5, result: result(verdict))
    #expect(report.exitCode == code)
    let json = try decode(report)
    for key in ExecutableTests.jsonKeys + [
      "model", "images", "example", "norm", "delta", "layers", "reason",
    ] {
      #expect(json.keys.contains(key), "missing \(key)")
    }
    #expect(json["result"] as? String == verdict.rawValue)
    #expect(json["label"] as? Int == 3)
    #expect(json["target"] as? Int == 5)
    #expect(json["nodes"] as? Int == 7)
    #expect(json["binaries"] as? Int == 12)
    #expect(json["time_s"] as? Double == 0.75)
    #expect(json["norm"] as? String == "l1")
    // An infinite bound cannot be written as JSON: it is null.
    #expect(json["bound"] is NSNull)
    switch verdict {
    case .counterexample:
      #expect(json["settled_by"] as? String == "heuristic")
      #expect(json["distance"] as? Double == 0.125)
      #expect(json["predicted_label"] as? Int == 5)
      #expect((json["counterexample"] as? [Any])?.count == 2)
    case .unknown:
      #expect(json["reason"] as? String == "time limit reached")
      #expect(json["distance"] is NSNull)
    case .robust:
      #expect(json["objective"] as? Double == -0.5)
      #expect(json["counterexample"] is NSNull)
    }
  }

  @Test func humanReportOfACounterexample() throws {
    let report = VerifyReport(
      model: "m.onnx", images: "i.npy", example: 2, norm: .linf, delta: 0.1,
      result: result(.counterexample))
    let text = HumanReport.render(
      report: report,
      network: try Network(layers: [
        AffineLayer(
          inputSize: 2, outputSize: 6, weights: Array(repeating: 0, count: 12),
          bias: Array(repeating: 0, count: 6), activation: .identity)
      ]), center: [0.25, 0.25], imageShape: [2])
    #expect(text.contains("COUNTEREXAMPLE"))
    #expect(text.contains("new label:       5"))
    #expect(text.contains("L∞"))
  }

  @Test func numberFormatting() {
    #expect(HumanReport.format(.nan) == "n/a")
    #expect(HumanReport.format(0) == "0")
    #expect(HumanReport.format(1.5) == "1.5000")
    #expect(HumanReport.format(1e-7) == "1.000e-07")
    #expect(HumanReport.imageSize([1, 28, 28], count: 784)! == (28, 28))
    #expect(HumanReport.imageSize([784], count: 784)! == (28, 28))
    #expect(HumanReport.imageSize([5], count: 5) == nil)
  }
}

@Suite("The relumip executable")
struct ExecutableTests {
  static let jsonKeys = [
    "result", "label", "target", "objective", "bound", "distance", "time_s", "nodes", "binaries",
    "settled_by",
  ]

  /// The `--json` report, the fields the tests read.
  struct Report: Decodable {
    var result: String
    var label: Int
    var target: Int?
    var predictedLabel: Int?
    var counterexample: [Double]?
    var bound: Double?
    var distance: Double?
    var settledBy: String
    var nodes: Int
    var binaries: Int
    var delta: Double
    var norm: String
    var reason: String?

    enum CodingKeys: String, CodingKey {
      case result, label, target, counterexample, bound, distance, nodes, binaries, delta, norm,
        reason
      case predictedLabel = "predicted_label"
      case settledBy = "settled_by"
    }
  }

  /// The last line of `text` as a report, after checking that it holds every documented key.
  func report(_ text: String) throws -> Report {
    let line = try #require(text.split(separator: "\n").last, "no output")
    let data = Data(line.utf8)
    let object = try #require(
      try JSONSerialization.jsonObject(with: data) as? [String: Any], "not a JSON object: \(line)")
    for key in Self.jsonKeys {
      #expect(object.keys.contains(key), "missing key \(key) in \(object.keys.sorted())")
    }
    return try JSONDecoder().decode(Report.self, from: data)
  }

  @Test func robustCaseExitsZeroWithJSON() throws {
    let run = try Relumip.run([
      "verify", Shipped.model, "--images", Shipped.images, "--example", "0", "--norm", "linf",
      "--delta", "0.001", "--json",
    ])
    #expect(run.status == VerificationExitCode.robust, "stderr: \(run.stderr)")
    let report = try report(run.stdout)
    #expect(report.result == "robust")
    #expect(report.distance == nil)
    #expect(report.counterexample == nil)
    let network = try ModelLoader.load(path: Shipped.model)
    let image = try ExampleReader.read(path: Shipped.images).example(0)
    #expect(report.label == network.predictedLabel(image))
    #expect(try report.target == Verifier(network: network).labels(at: image).others.first)
    if let bound = report.bound { #expect(bound < 0) }
    #expect(["bounds", "heuristic", "branch-and-cut"].contains(report.settledBy))
    #expect(report.nodes >= 0 && report.binaries >= 0)
    #expect(report.delta == 0.001)
    #expect(report.norm == "linf")
  }

  @Test func counterexampleExitsTen() throws {
    let run = try Relumip.run([
      "verify", Shipped.model, "--images", Shipped.images, "--example", "0", "--norm", "linf",
      "--delta", "0.2", "--json",
    ])
    #expect(run.status == VerificationExitCode.counterexample, "stderr: \(run.stderr)")
    let report = try report(run.stdout)
    #expect(report.result == "counterexample")
    let point = try #require(report.counterexample)
    try #require(point.count == 784)
    let image = try ExampleReader.read(path: Shipped.images).example(0)
    let distance = try #require(Compare.maxAbsoluteDifference(point, image))
    #expect(distance <= 0.2 + 1e-9)
    #expect(report.distance.map { abs($0 - distance) < 1e-12 } == true)
    #expect(point.allSatisfy { $0 >= 0 && $0 <= 1 })
    let network = try ModelLoader.load(path: Shipped.model)
    let predicted = network.predictedLabel(point)
    #expect(predicted != report.label)
    #expect(report.predictedLabel == predicted)
  }

  @Test func humanReportShowsTheVerdict() throws {
    let run = try Relumip.run([
      "verify", Shipped.model, "--images", Shipped.images, "--example", "0", "--norm", "linf",
      "--delta", "0.2",
    ])
    #expect(run.status == VerificationExitCode.counterexample)
    #expect(run.stdout.contains("COUNTEREXAMPLE"))
    #expect(run.stdout.contains("difference"))  // the image panels
  }

  @Test func aRunTheAttackSettlesStillShowsTheLayers() throws {
    let run = try Relumip.run([
      "verify", Shipped.model, "--images", Shipped.images, "--example", "0", "--norm", "linf",
      "--delta", "0.2",
    ])
    #expect(run.status == VerificationExitCode.counterexample, "stderr: \(run.stderr)")
    try #require(run.stdout.contains("settled by:      attack"), "\(run.stdout)")
    let lines = run.stdout.split(separator: "\n").map(String.init)
    #expect(lines.contains { $0.hasPrefix("input") && $0.contains("(784)") }, "\(run.stdout)")
    let layers = lines.filter { $0.hasPrefix("dense") }
    try #require(layers.count == 2, "\(run.stdout)")
    for layer in layers {
      let fields = layer.split(separator: " ")
      // dense K + relu (50) - - - ACTIVE INACTIVE UNSTABLE: no MILP, neurons from bounds.
      try #require(fields.count == 11, "\(layer)")
      #expect(fields[4] == "(50)" && fields[5...7].allSatisfy { $0 == "-" }, "\(layer)")
      #expect(fields[8...].compactMap { Int($0) }.reduce(0, +) == 50, "\(layer)")
    }
    #expect(run.stdout.contains("symbolic bounds"), "\(run.stdout)")
  }

  @Test func timeLimitGivesUnknown() throws {
    // Example 0 is robust at L1 radius 2, but only branch-and-cut proves it (about 15 s in a
    // debug build): with a 1 ms limit no attack can answer and no proof fits, so the answer is
    // unknown.
    let run = try Relumip.run([
      "verify", Shipped.model, "--images", Shipped.images, "--example", "0", "--norm", "l1",
      "--delta", "2", "--time-limit", "0.001", "--json",
    ])
    try #require(
      run.status != VerificationExitCode.error && run.status != VerificationExitCode.usage,
      "stderr: \(run.stderr)")
    let report = try report(run.stdout)
    #expect(run.status == VerificationExitCode.unknown, "result \(report.result)")
    #expect(report.result == "unknown")
    #expect(report.reason != nil)
  }

  @Test func errorsExitOneAndNameTheFile() throws {
    let directory = try TemporaryFiles.makeDirectory()
    defer { try? FileManager.default.removeItem(at: directory) }
    let malformed = directory.appendingPathComponent("broken.onnx")
    try Data([0x08, 0x07, 0x12, 0xFF, 0xFF, 0x01]).write(to: malformed)
    let missing = directory.appendingPathComponent("absent.onnx")
    let narrow = directory.appendingPathComponent("narrow.csv")
    try "0.1,0.2,0.3\n".write(to: narrow, atomically: true, encoding: .utf8)
    let cases: [([String], String)] = [
      (
        ["verify", missing.path, "--images", Shipped.images, "--norm", "l1", "--delta", "1"],
        "absent.onnx"
      ),
      (
        ["verify", malformed.path, "--images", Shipped.images, "--norm", "l1", "--delta", "1"],
        "broken.onnx"
      ),
      (["verify", Shipped.model, "--images", narrow.path, "--norm", "l1", "--delta", "1"], "784"),
      (
        [
          "verify", Shipped.model, "--images", Shipped.images, "--norm", "l1", "--delta", "1",
          "--target", "10",
        ], "10"
      ),
      (["info", malformed.path], "broken.onnx"),
    ]
    for (arguments, words) in cases {
      let run = try Relumip.run(arguments)
      #expect(
        run.status == VerificationExitCode.error, "\(arguments): exit \(run.status), \(run.stderr)")
      #expect(run.stderr.contains(words), "\(arguments): stderr '\(run.stderr)' lacks '\(words)'")
      #expect(run.stdout.isEmpty)
    }
  }

  @Test func usageErrorsExitSixtyFour() throws {
    let cases = [
      ["verify", Shipped.model, "--images", Shipped.images, "--norm", "l1", "--delta=-1"],
      ["verify", Shipped.model, "--images", Shipped.images, "--norm", "l1", "--delta", "nan"],
      ["verify", Shipped.model, "--images", Shipped.images, "--norm", "l3", "--delta", "1"],
      ["verify", Shipped.model, "--norm", "l1", "--delta", "1"],
      ["frobnicate"],
    ]
    for arguments in cases {
      let run = try Relumip.run(arguments)
      #expect(
        run.status == VerificationExitCode.usage, "\(arguments): exit \(run.status), \(run.stderr)")
      #expect(!run.stderr.isEmpty)
    }
  }

  @Test func infoPrintsTheLayerTable() throws {
    let run = try Relumip.run(["info", Shipped.model])
    #expect(run.status == 0, "stderr: \(run.stderr)")
    let lines = run.stdout.split(separator: "\n").map(String.init)
    #expect(lines.contains { $0.hasPrefix("Layer") && $0.contains("Activation") })
    let layers = lines.filter { $0.split(separator: " ").dropFirst().first == "dense" }
    try #require(layers.count == 3, "\(run.stdout)")
    #expect(layers[0].contains("784") && layers[0].contains("50") && layers[0].contains("relu"))
    #expect(layers[1].contains("relu"))
    #expect(layers[2].contains("10") && layers[2].contains("identity"))
  }

  @Test func helpDocumentsTheExitCodes() throws {
    let run = try Relumip.run(["verify", "--help"])
    #expect(run.status == 0)
    // The help is wrapped to the terminal's width: compare with whitespace collapsed.
    let text = run.stdout.split(whereSeparator: \.isWhitespace).joined(separator: " ")
    #expect(text.contains("0 robust, 10 counterexample, 20 unknown"), "\(run.stdout)")
    let version = try Relumip.run(["--version"])
    #expect(version.status == 0)
    #expect(version.stdout.contains("0.1.0"))
  }
}
