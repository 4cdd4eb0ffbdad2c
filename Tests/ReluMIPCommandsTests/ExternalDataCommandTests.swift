import Foundation
import ReluMIPCommands
import TestSupport
import Testing

/// `relumip info` and `verify` on an ONNX model whose weights are in `MODEL.onnx.data`, named
/// relative to the working directory (the repository root), as a user types it.
@Suite("relumip on an ONNX model with external data")
struct ExternalDataCommandTests {
  static let model = "Tests/ReluMIPTests/Fixtures/onnx/external_data.onnx"

  @Test func infoShowsTheLayers() throws {
    let run = try Relumip.run(["info", Self.model])
    #expect(run.status == 0, "stderr: \(run.stderr)")
    let layers = run.stdout.split(separator: "\n").map { $0.split(separator: " ").map(String.init) }
      .filter { $0.count > 1 && $0[1] == "dense" }
    try #require(layers.count == 3, "\(run.stdout)")
    // K  dense  inputs  outputs  activation  parameters  small weights
    #expect(
      layers.map { Array($0[2...4]) } == [
        ["6", "8", "relu"], ["8", "5", "relu"], ["5", "3", "identity"],
      ])
  }

  @Test func verifyProvesASmallBallAndFindsACounterexampleInALargeOne() throws {
    let directory = try TemporaryFiles.makeDirectory()
    defer { try? FileManager.default.removeItem(at: directory) }
    let images = directory.appendingPathComponent("center.csv")
    try "0.5,0.5,0.5,0.5,0.5,0.5\n".write(to: images, atomically: true, encoding: .utf8)
    let base = ["verify", Self.model, "--images", images.path, "--example", "0", "--norm", "linf"]
    let robust = try Relumip.run(base + ["--delta", "0.001"])
    #expect(robust.status == VerificationExitCode.robust, "stderr: \(robust.stderr)")
    #expect(robust.stdout.contains("ROBUST"), "\(robust.stdout)")
    let found = try Relumip.run(base + ["--delta", "1"])
    #expect(found.status == VerificationExitCode.counterexample, "stderr: \(found.stderr)")
    #expect(found.stdout.contains("COUNTEREXAMPLE"), "\(found.stdout)")
  }

  @Test func aMissingDataFileIsAnErrorNamingTheModelAndTheFile() throws {
    let directory = try TemporaryFiles.makeDirectory()
    defer { try? FileManager.default.removeItem(at: directory) }
    let model = directory.appendingPathComponent("lonely.onnx")
    try FileManager.default.copyItem(
      at: RepositoryFiles.root.appendingPathComponent(Self.model), to: model)
    let run = try Relumip.run(["info", model.path])
    #expect(run.status == VerificationExitCode.error, "stderr: \(run.stderr)")
    #expect(run.stderr.contains("lonely.onnx"), "\(run.stderr)")
    #expect(run.stderr.contains("'external_data.onnx.data' does not exist"), "\(run.stderr)")
    #expect(run.stdout.isEmpty)
  }
}
