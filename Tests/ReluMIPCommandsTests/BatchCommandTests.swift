import ArgumentParser
import Foundation
import TestSupport
import Testing

@testable import ReluMIP
@testable import ReluMIPCommands

/// The shipped network and images, and the built `relumip` executable for subprocess runs.
enum BatchFixtures {
  static let model = RepositoryFiles.model("fashion_mlp_50x50.onnx").path
  static let images = RepositoryFiles.model("fashion_test100_images.npy").path
  static let labels = RepositoryFiles.model("fashion_test100_labels.npy").path

  /// `relumip` beside the test runner: SwiftPM puts both in `<scratch>/<configuration>/`,
  /// whatever the scratch path. Also tried: beside the test bundle, and the configuration
  /// folder of the bundle's path when the runner is a helper elsewhere.
  static let executable: URL? = {
    var candidates: [URL] = []
    let runner = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
    candidates.append(runner.deletingLastPathComponent().appendingPathComponent("relumip"))
    if let main = Bundle.main.executableURL?.resolvingSymlinksInPath() {
      candidates.append(main.deletingLastPathComponent().appendingPathComponent("relumip"))
    }
    for bundle in Bundle.allBundles where bundle.bundlePath.hasSuffix(".xctest") {
      candidates.append(
        bundle.bundleURL.deletingLastPathComponent().appendingPathComponent("relumip"))
    }
    return candidates.first { FileManager.default.isExecutableFile(atPath: $0.path) }
  }()

  static func requireExecutable() throws -> URL {
    try #require(
      executable,
      "the relumip executable was not found beside the test runner; build it first with `swift build --build-tests`"
    )
  }

  /// Starts `relumip` with stdout and stderr going to files in `directory`.
  static func start(_ arguments: [String], in directory: URL, log: String) throws -> Process {
    let process = Process()
    process.executableURL = try requireExecutable()
    process.arguments = arguments
    process.currentDirectoryURL = directory
    let out = directory.appendingPathComponent("\(log).stdout")
    let err = directory.appendingPathComponent("\(log).stderr")
    _ = FileManager.default.createFile(atPath: out.path, contents: nil)
    _ = FileManager.default.createFile(atPath: err.path, contents: nil)
    process.standardOutput = try FileHandle(forWritingTo: out)
    process.standardError = try FileHandle(forWritingTo: err)
    process.standardInput = FileHandle.nullDevice
    try process.run()
    return process
  }

  /// Runs `relumip` to the end; returns the exit status and stderr.
  static func run(_ arguments: [String], in directory: URL, log: String) throws -> (
    status: Int32, stderr: String
  ) {
    let process = try start(arguments, in: directory, log: log)
    process.waitUntilExit()
    let stderr =
      (try? String(
        contentsOf: directory.appendingPathComponent("\(log).stderr"), encoding: .utf8)) ?? ""
    return (process.terminationStatus, stderr)
  }
}

/// Parses and runs a command in process; returns its exit code and message.
func batchExitCode(_ arguments: [String]) -> (code: Int32, message: String) {
  do {
    var command = try ReluMIPCommand.parseAsRoot(arguments)
    try command.run()
    return (0, "")
  } catch {
    return (ReluMIPCommand.exitCode(for: error).rawValue, ReluMIPCommand.message(for: error))
  }
}

@Suite("batch and summarize: options (in process)")
struct BatchOptionTests {
  static func base(out: String = "/nonexistent-dir/results.jsonl") -> [String] {
    ["batch", BatchFixtures.model, "--images", BatchFixtures.images, "--norm", "l1", "--out", out]
  }

  @Test(arguments: [
    ["--examples", "3..1", "--delta", "1"], ["--examples", "x", "--delta", "1"],
    ["--examples", "0..2", "--delta", "1,,2"], ["--examples", "0..2", "--delta=-1"],
    ["--examples", "0..2", "--delta", "nan"], ["--examples", "0..2"],
    ["--delta", "1"], ["--examples", "0", "--delta", "1", "--jobs", "0"],
    ["--examples", "0", "--delta", "1", "--time-limit", "0"],
    ["--examples", "0", "--delta", "1", "--target", "second"],
    ["--examples", "0", "--delta", "1", "--threads", "0"],
  ])
  func usageErrors(_ extra: [String]) {
    let (code, message) = batchExitCode(Self.base() + extra)
    #expect(code == VerificationExitCode.usage, "\(extra): exit \(code), \(message)")
    #expect(!message.isEmpty)
  }

  /// `--jobs` × `--threads` never exceeds the cores: given both, a product above them is refused
  /// before any work; given one, the other takes the cores left.
  @Test func jobsTimesThreadsNeverOversubscribes() throws {
    let cores = ProcessInfo.processInfo.activeProcessorCount
    let (code, message) = batchExitCode(
      Self.base() + ["--examples", "0", "--delta", "1", "--jobs", "\(cores)", "--threads", "2"])
    #expect(code == VerificationExitCode.usage, "exit \(code), \(message)")
    #expect(message.contains("--threads"), "\(message)")

    let vnnlib = try #require(
      try ReluMIPCommand.parseAsRoot(["vnnlib", "m.onnx", "p.vnnlib"]) as? VNNLibCommand)
    #expect(vnnlib.engine.verificationOptions(verbose: false).threads == cores)
    let single = try #require(
      try ReluMIPCommand.parseAsRoot(["vnnlib", "m.onnx", "p.vnnlib", "--threads", "1"])
        as? VNNLibCommand)
    #expect(single.engine.verificationOptions(verbose: false).threads == 1)
  }

  @Test func badExampleListMessageSaysWhy() {
    let (code, message) = batchExitCode(Self.base() + ["--examples", "5..2", "--delta", "1"])
    #expect(code == 64)
    #expect(message.contains("backwards"), "\(message)")
  }

  @Test func parsesListsAndDefaults() throws {
    let command = try #require(
      try ReluMIPCommand.parseAsRoot(
        Self.base() + ["--examples", "0..4,9", "--delta", "0.5,1,2"]) as? BatchCommand)
    #expect(command.examples == .indices([0, 1, 2, 3, 4, 9]))
    #expect(command.property.delta == [0.5, 1, 2])
    #expect(command.property.search.targetChoice(default: BatchCommand.defaultTarget) == .all)
    #expect(command.property.search.box?.0 == 0 && command.property.search.box?.1 == 1)
    #expect(command.jobs == nil && !command.resume && !command.quiet)
  }

  @Test func engineOptionsReachTheVerifier() throws {
    let defaults = try #require(
      try ReluMIPCommand.parseAsRoot(Self.base() + ["--examples", "0", "--delta", "1"])
        as? BatchCommand)
    let standard = defaults.property.search.verificationOptions()
    #expect(standard.boundMethod == .automatic)
    #expect(standard.attack && standard.linearRegionSearch)
    #expect(standard.memoryLimit == 4096 << 20)

    let command = try #require(
      try ReluMIPCommand.parseAsRoot(
        Self.base() + [
          "--examples", "0", "--delta", "1", "--bounds", "lp", "--no-attack", "--no-region-search",
          "--memory-limit", "64",
        ]) as? BatchCommand)
    let options = command.property.search.verificationOptions()
    #expect(options.boundMethod == .lp)
    #expect(!options.attack && !options.linearRegionSearch)
    #expect(options.memoryLimit == 64 << 20)

    let vnnlib = try #require(
      try ReluMIPCommand.parseAsRoot([
        "vnnlib", "m.onnx", "p.vnnlib", "--no-region-search", "--bounds", "interval",
      ]) as? VNNLibCommand)
    let vnnlibOptions = vnnlib.engine.verificationOptions(verbose: false)
    #expect(vnnlibOptions.attack && !vnnlibOptions.linearRegionSearch)
    #expect(vnnlibOptions.boundMethod == .interval)
  }

  @Test func clipAndTarget() throws {
    let command = try #require(
      try ReluMIPCommand.parseAsRoot(
        Self.base() + [
          "--examples", "all", "--delta", "1", "--clip", "none", "--target", "all", "--jobs", "3",
        ]) as? BatchCommand)
    #expect(command.examples == .all)
    #expect(command.property.search.box == nil)
    #expect(command.property.search.targetChoice() == .all)
    #expect(command.property.search.verificationOptions().target == .all)
    #expect(command.jobs == 3)
  }

  @Test func helpSaysRangesAreInclusive() {
    let help = BatchCommand.helpMessage()
    #expect(help.contains("both included"), "\(help)")
    #expect(help.contains("--resume") && help.contains("--jobs"))
  }

  @Test func existingResultsAreNotOverwritten() throws {
    let directory = try TemporaryFiles.makeDirectory("relumip-batch-cmd")
    defer { try? FileManager.default.removeItem(at: directory) }
    let out = directory.appendingPathComponent("results.jsonl").path
    try "{}\n".write(toFile: out, atomically: true, encoding: .utf8)
    let (code, message) = batchExitCode(Self.base(out: out) + ["--examples", "0", "--delta", "1"])
    #expect(code == VerificationExitCode.usage)
    #expect(message.contains("--resume"), "\(message)")
    #expect(try String(contentsOfFile: out, encoding: .utf8) == "{}\n")
  }

  @Test func resumingAnotherRunIsRefused() throws {
    let directory = try TemporaryFiles.makeDirectory("relumip-batch-cmd")
    defer { try? FileManager.default.removeItem(at: directory) }
    let out = directory.appendingPathComponent("results.jsonl").path
    let store = try ResultStore(path: out, resume: false)
    try store.append(
      BatchRecord(
        key: BatchKey(example: 0, norm: "l1", delta: 1, targetChoice: "runner-up"),
        result: .robust, model: "another_model.onnx", images: "fashion_test100_images.npy"))
    store.close()
    let (code, message) = batchExitCode(
      Self.base(out: out) + ["--examples", "0", "--delta", "1", "--resume", "--quiet"])
    #expect(code == VerificationExitCode.usage)
    #expect(message.contains("another_model.onnx"), "\(message)")
  }

  @Test func summarizeOfAMissingFileNamesIt() {
    let missing = "/nonexistent/results-\(UUID().uuidString).jsonl"
    let (code, message) = batchExitCode(["summarize", missing])
    #expect(code == VerificationExitCode.error)
    #expect(message.contains(missing), "\(message)")
  }

  @Test func exampleBeyondTheFileIsAnError() throws {
    let directory = try TemporaryFiles.makeDirectory("relumip-batch-cmd")
    defer { try? FileManager.default.removeItem(at: directory) }
    let out = directory.appendingPathComponent("results.jsonl").path
    let (code, message) = batchExitCode(
      Self.base(out: out) + ["--examples", "95..100", "--delta", "1", "--quiet"])
    #expect(code == VerificationExitCode.error)
    #expect(message.contains("100"), "\(message)")
  }

  /// A batch line holds every field `verify --json` prints.
  @Test func recordsCarryEveryVerifyField() throws {
    let result = VerificationResult(
      verdict: .counterexample, label: 1, target: 2, targetsSearched: [2],
      counterexample: Counterexample(
        input: [0.5], outputs: [0, 1, 2], predictedLabel: 2, distance: 0.1),
      objective: 1, bound: nil, nodes: 3, binaries: 4, settledBy: .heuristic,
      timings: Timings(bounds: 0.1, solve: 0.2, total: 0.3),
      statistics: [
        LayerStatistics(
          name: "dense 1 + relu", outputSize: 1, variables: 2, constraints: 3, binaries: 1,
          stableActive: 0, stableInactive: 0, unstable: 1)
      ], reason: nil)
    let report = VerifyReport(
      model: "m.onnx", images: "x.npy", example: 0, norm: .l1, delta: 1, result: result)
    var record = BatchRecord(
      key: BatchKey(example: 0, norm: "l1", delta: 1, targetChoice: "runner-up"),
      result: .error, model: "m.onnx", images: "x.npy")
    record.fill(from: result)
    func object(_ data: Data) throws -> [String: Any] {
      try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }
    let verify = try object(Data(try report.jsonString().utf8))
    let batch = try object(try record.jsonLine())
    let missing = Set(verify.keys).subtracting(batch.keys)
    #expect(missing.isEmpty, "batch lines lack \(missing.sorted())")
    for key in verify.keys where !["layers"].contains(key) {
      #expect(
        String(describing: verify[key]!) == String(describing: batch[key] ?? "absent"),
        "field \(key)")
    }
    let verifyLayers = try #require(verify["layers"] as? [[String: Any]])
    let batchLayers = try #require(batch["layers"] as? [[String: Any]])
    #expect(Set(verifyLayers[0].keys) == Set(batchLayers[0].keys))
  }

  @Test func verifySavesThePicture() throws {
    let directory = try TemporaryFiles.makeDirectory("relumip-batch-cmd")
    defer { try? FileManager.default.removeItem(at: directory) }
    let png = directory.appendingPathComponent("cex.png").path
    // Example 4 at L∞ 0.02 falls to the attack at once.
    let run = try BatchFixtures.run(
      [
        "verify", BatchFixtures.model, "--images", BatchFixtures.images, "--example", "4",
        "--norm", "linf", "--delta", "0.02", "--json", "--save-image", png,
      ], in: directory, log: "verify")
    #expect(run.status == VerificationExitCode.counterexample, "\(run.stderr)")
    let data = try #require(FileManager.default.contents(atPath: png))
    #expect(Array(data.prefix(8)) == PNGImage.signature)
    // Captioned: taller than the three 28×28 panels at scale 4 with their margins (IHDR's
    // height, big-endian after the signature, the chunk length and type, and the width).
    let height = Array(data)[20..<24].reduce(0) { $0 << 8 | Int($1) }
    #expect(height > 28 * 4 + 2 * 8, "\(height)")
    let files = try FileManager.default.contentsOfDirectory(atPath: directory.path)
    #expect(files.filter { !$0.hasPrefix("verify.") } == ["cex.png"], "no temporary file left")
  }

  /// `--minimize-distance` draws the closest counterexample it found (it wrote nothing before).
  @Test func minimizeDistanceSavesThePicture() throws {
    let directory = try TemporaryFiles.makeDirectory("relumip-batch-cmd")
    defer { try? FileManager.default.removeItem(at: directory) }
    let png = directory.appendingPathComponent("closest.png").path
    let run = try BatchFixtures.run(
      [
        "verify", BatchFixtures.model, "--images", BatchFixtures.images, "--example", "4",
        "--norm", "linf", "--delta", "0.02", "--minimize-distance", "--json", "--save-image",
        png,
      ], in: directory, log: "verify")
    #expect(run.status == VerificationExitCode.counterexample, "\(run.stderr)")
    let data = try #require(FileManager.default.contents(atPath: png), "\(run.stderr)")
    #expect(Array(data.prefix(8)) == PNGImage.signature)
  }
}

@Suite("batch end to end: kill -9, resume, compare (subprocesses)")
struct BatchEndToEndTests {
  /// Robust, counterexample (example 4 at 0.02) and misclassified (example 12) instances, a few
  /// seconds in all in a debug build.
  static let arguments = [
    "batch", BatchFixtures.model, "--images", BatchFixtures.images, "--examples", "3..5,12",
    "--norm", "linf", "--delta", "0.003,0.02", "--labels", BatchFixtures.labels,
  ]
  static let instanceCount = 8

  static func lineCount(_ path: String) -> Int {
    (FileManager.default.contents(atPath: path) ?? Data()).reduce(0) { $0 + ($1 == 0x0A ? 1 : 0) }
  }

  static func verdicts(_ path: String) throws -> [BatchKey: BatchOutcome] {
    let contents = try ResultStore.read(path: path)
    #expect(contents.tornLine == nil, "\(path) ends with a torn line")
    #expect(contents.duplicateCount == 0, "\(path) records an instance twice")
    return Dictionary(contents.records.map { ($0.key, $0.result) }, uniquingKeysWith: { a, _ in a })
  }

  @Test func anInstanceThatFailsIsRecordedAndTheRunGoesOn() throws {
    let directory = try TemporaryFiles.makeDirectory("relumip-batch-e2e")
    defer { try? FileManager.default.removeItem(at: directory) }
    // Example 2 is labelled 1, so target 1 is no wrong label for it; example 4 (label 6) is fine.
    let run = try BatchFixtures.run(
      [
        "batch", BatchFixtures.model, "--images", BatchFixtures.images, "--examples", "2,4",
        "--norm", "linf", "--delta", "0.003", "--target", "1", "--out", "results.jsonl",
      ], in: directory, log: "errors")
    #expect(run.status == VerificationExitCode.error, "\(run.stderr)")
    #expect(run.stderr.contains("1 of 2 instances failed"), "\(run.stderr)")
    let records = try ResultStore.read(path: directory.appendingPathComponent("results.jsonl").path)
      .records
    try #require(records.count == 2)
    let failed = try #require(records.first { $0.example == 2 })
    #expect(failed.result == .error)
    #expect(failed.reason?.contains("target label 1") == true, "\(failed.reason ?? "")")
    #expect(failed.targetChoice == "1")
    #expect(records.first { $0.example == 4 }?.result == .robust)
  }

  @Test func killedRunResumesToTheSameResults() throws {
    _ = try BatchFixtures.requireExecutable()
    let directory = try TemporaryFiles.makeDirectory("relumip-batch-e2e")
    defer { try? FileManager.default.removeItem(at: directory) }

    // The reference: one uninterrupted run on one worker, with pictures.
    let reference = try BatchFixtures.run(
      Self.arguments + ["--out", "reference.jsonl", "--jobs", "1", "--images-dir", "pictures"],
      in: directory, log: "reference")
    try #require(reference.status == 0, "reference run: \(reference.stderr)")
    let expected = try Self.verdicts(directory.appendingPathComponent("reference.jsonl").path)
    #expect(expected.count == Self.instanceCount)
    #expect(Set(expected.values) == [.robust, .counterexample, .misclassified], "\(expected)")
    let pictures = try FileManager.default.contentsOfDirectory(
      atPath: directory.appendingPathComponent("pictures").path)
    #expect(pictures.count == expected.values.filter { $0 == .counterexample }.count)
    #expect(pictures.contains("example-4_linf_delta-0.02.png"), "\(pictures)")

    // The same batch on two workers, killed with SIGKILL once its first line is on disk.
    let out = directory.appendingPathComponent("results.jsonl").path
    let victim = try BatchFixtures.start(
      Self.arguments + ["--out", "results.jsonl", "--jobs", "2"], in: directory, log: "killed")
    let deadline = Date().addingTimeInterval(300)
    while Self.lineCount(out) == 0 && victim.isRunning && Date() < deadline {
      Thread.sleep(forTimeInterval: 0.002)
    }
    let wasRunning = victim.isRunning
    kill(victim.processIdentifier, SIGKILL)
    victim.waitUntilExit()
    let linesAtKill = Self.lineCount(out)
    #expect(linesAtKill >= 1)
    if wasRunning {
      #expect(victim.terminationReason == .uncaughtSignal)
      #expect(linesAtKill < Self.instanceCount, "the run had finished before the kill")
    }
    // Simulate a crash in the middle of a write as well: half a line at the end.
    let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: out))
    try handle.seekToEnd()
    try handle.write(contentsOf: Data(#"{"example":5,"norm":"linf","delta":0.0"#.utf8))
    try handle.close()

    // Without --resume the file is left alone.
    let refused = try BatchFixtures.run(
      Self.arguments + ["--out", "results.jsonl"], in: directory, log: "refused")
    #expect(refused.status == VerificationExitCode.usage, "\(refused.stderr)")

    let resumed = try BatchFixtures.run(
      Self.arguments + ["--out", "results.jsonl", "--jobs", "2", "--resume"], in: directory,
      log: "resumed")
    #expect(resumed.status == 0, "\(resumed.stderr)")
    #expect(resumed.stderr.contains("torn"), "\(resumed.stderr)")
    #expect(try Self.verdicts(out) == expected)
    #expect(Self.lineCount(out) == Self.instanceCount)

    // A finished run resumed again does nothing; a new radius adds only its own instances.
    let again = try BatchFixtures.run(
      Self.arguments + ["--out", "results.jsonl", "--resume"], in: directory, log: "again")
    #expect(again.status == 0)
    #expect(again.stderr.contains("8 of 8 instances already recorded, 0 to do"), "\(again.stderr)")
    var widened = Self.arguments
    widened[widened.firstIndex(of: "0.003,0.02")!] = "0.003,0.02,0.001"
    let more = try BatchFixtures.run(
      widened + ["--out", "results.jsonl", "--resume", "--quiet"], in: directory, log: "more")
    #expect(more.status == 0, "\(more.stderr)")
    let all = try Self.verdicts(out)
    #expect(all.count == Self.instanceCount + 4)
    #expect(all.filter { $0.key.delta != 0.001 } == expected)

    // summarize reads it back.
    let csv = directory.appendingPathComponent("summary.csv").path
    let (code, message) = batchExitCode(["summarize", out, "--csv", csv])
    #expect(code == 0, "\(message)")
    let rows = try String(contentsOfFile: csv, encoding: .utf8).split(separator: "\n")
    #expect(rows.count == 4, "\(rows)")
    #expect(rows.contains { $0.hasPrefix("linf,all,0.02,4,") })
  }
}
