import Foundation
import ReluMIP
import ReluMIPCommands
import TestSupport
import Testing

/// `relumip verify` on a convolutional network (Conv → Relu → MaxPool → Gemm, 3×8×8 colour
/// inputs) with examples in a `.npy` of shape (N, C, H, W), as an image user runs it.
@Suite("relumip on a convolutional network")
struct ConvolutionCommandTests {
  static let model = "Tests/ReluMIPTests/Fixtures/onnx/conv_maxpool.onnx"

  /// Two random colour images, (2, 3, 8, 8) float64.
  static func images(in directory: URL) throws -> String {
    var generator = SplitMix64(seed: 15)
    let values = (0..<(2 * 3 * 8 * 8)).map { _ in generator.uniform(0, 1) }
    let payload = values.flatMap { value in
      withUnsafeBytes(of: value.bitPattern.littleEndian) { Array($0) }
    }
    let url = directory.appendingPathComponent("images.npy")
    try NPYWriter.file(descriptor: "<f8", shape: [2, 3, 8, 8], payload: payload).write(to: url)
    return url.path
  }

  @Test func verifyPrintsTheLayersTheVerdictAndAColourPicture() throws {
    let directory = try TemporaryFiles.makeDirectory()
    defer { try? FileManager.default.removeItem(at: directory) }
    let images = try Self.images(in: directory)
    let base = ["verify", Self.model, "--images", images, "--example", "1", "--norm", "linf"]
    let robust = try Relumip.run(base + ["--delta", "0.0001"])
    #expect(robust.status == VerificationExitCode.robust, "stderr: \(robust.stderr)")
    #expect(
      robust.stdout.contains("ROBUST") && robust.stdout.contains("Unstable"), "\(robust.stdout)")

    let picture = directory.appendingPathComponent("found.png").path
    let found = try Relumip.run(base + ["--delta", "1", "--save-image", picture])
    #expect(found.status == VerificationExitCode.counterexample, "stderr: \(found.stderr)")
    #expect(found.stdout.contains("COUNTEREXAMPLE"), "\(found.stdout)")
    let png = try #require(FileManager.default.contents(atPath: picture), "no picture")
    // An RGB PNG (colour type 2) at least three 8-pixel panels of 4× scale wide.
    #expect(png.count > 33 && png[25] == 2, "not an RGB PNG")
    let width = png[16..<20].reduce(0) { $0 << 8 | Int($1) }
    #expect(width >= 3 * 8 * 4, "picture width \(width)")
  }

  @Test func meanAndStdPutTheNormalisationInFront() throws {
    let network = try ModelLoader.load(path: Self.model)
    let mean = [0.485, 0.456, 0.406]
    let std = [0.229, 0.224, 0.225]
    let pixels = try network.prependingNormalization(mean: mean, std: std)
    var generator = SplitMix64(seed: 3)
    for _ in 0..<20 {
      let x = (0..<network.inputSize).map { _ in generator.uniform(0, 1) }
      let normalised = x.indices.map { (x[$0] - mean[$0 / 64]) / std[$0 / 64] }
      let expected = network.evaluate(normalised)
      for (a, b) in zip(pixels.evaluate(x), expected) {
        #expect(abs(a - b) <= 1e-9 * max(1, abs(b)), "\(a) vs \(b)")
      }
      for (a, b) in zip(pixels.reference.evaluate(x), expected) {
        #expect(abs(a - b) <= 1e-9 * max(1, abs(b)), "reference \(a) vs \(b)")
      }
    }
    #expect(pixels.notes.contains { $0.contains("normalised per channel") })

    let directory = try TemporaryFiles.makeDirectory()
    defer { try? FileManager.default.removeItem(at: directory) }
    let images = try Self.images(in: directory)
    let base = ["verify", Self.model, "--images", images, "--norm", "linf", "--delta", "0.0001"]
    let run = try Relumip.run(base + ["--mean", "0.485,0.456,0.406", "--std", "0.229,0.224,0.225"])
    #expect(
      [VerificationExitCode.robust, VerificationExitCode.counterexample].contains(run.status),
      "stderr: \(run.stderr)")
    for (arguments, message) in [
      (["--mean", "0.5,0.5,0.5"], "--mean and --std go together"),
      (["--mean", "0.5,0.5,0.5", "--std", "0.2,0,0.2"], "--std values must be > 0"),
      (
        ["--mean", "0.5,0.5", "--std", "0.2,0.2"],
        "2 channel values for an input of shape [3, 8, 8]"
      ),
      (["--mean", "0.5", "--std", "0.2,0.2"], "--mean has 1 values and --std 2"),
    ] {
      let refused = try Relumip.run(base + arguments)
      #expect(
        refused.status != 0 && refused.stderr.contains(message), "\(arguments): \(refused.stderr)")
      #expect(refused.stdout.isEmpty)
    }
  }
}
