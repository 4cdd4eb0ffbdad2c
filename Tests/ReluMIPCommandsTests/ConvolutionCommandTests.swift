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

  /// Two random colour images, (2, 3, 8, 8) float64; or the same images channels last, as
  /// (2, 8, 8, 3) or flattened to (2, 192).
  static func images(in directory: URL, layout: String = "nchw") throws -> String {
    var generator = SplitMix64(seed: 15)
    let values = (0..<(2 * 3 * 8 * 8)).map { _ in generator.uniform(0, 1) }
    var stored = values
    if layout != "nchw" {
      for n in 0..<2 {
        for c in 0..<3 {
          for pixel in 0..<64 {
            stored[n * 192 + pixel * 3 + c] = values[n * 192 + c * 64 + pixel]
          }
        }
      }
    }
    let shape = ["nchw": [2, 3, 8, 8], "nhwc": [2, 8, 8, 3], "flat": [2, 192]][layout]!
    let payload = stored.flatMap { value in
      withUnsafeBytes(of: value.bitPattern.littleEndian) { Array($0) }
    }
    let url = directory.appendingPathComponent("images-\(layout).npy")
    try NPYWriter.file(descriptor: "<f8", shape: shape, payload: payload).write(to: url)
    return url.path
  }

  /// Channels-last examples are verified as the same images: (N, H, W, C) arrays by their
  /// shape, flat ones with --channels-last; without the flag a flat file is read as it is.
  @Test func channelsLastExamplesAreMovedChannelsFirst() throws {
    let directory = try TemporaryFiles.makeDirectory()
    defer { try? FileManager.default.removeItem(at: directory) }
    func run(_ layout: String, _ extra: [String] = []) throws -> Relumip.Run {
      try Relumip.run(
        [
          "verify", Self.model, "--images", try Self.images(in: directory, layout: layout),
          "--example", "1", "--norm", "linf", "--delta", "0.0001", "--json",
        ] + extra)
    }
    /// What must not depend on the layout: the verdict, the label and the proven bound.
    func answer(_ run: Relumip.Run) throws -> [String] {
      let object = try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any]
      let fields = try #require(object, "\(run.stdout) \(run.stderr)")
      return ["result", "label", "bound"].map { "\(fields[$0] ?? "none")" }
    }
    let reference = try answer(run("nchw"))
    #expect(reference[0] == "robust", "\(reference)")
    #expect(try answer(run("nhwc")) == reference)
    #expect(try answer(run("flat", ["--channels-last"])) == reference)
    #expect(try answer(run("flat")) != reference)
    let dense = try Relumip.run(
      [
        "verify", "Tests/ReluMIPTests/Fixtures/onnx/tiny_mlp.onnx", "--images",
        try Self.images(in: directory, layout: "flat"), "--norm", "linf", "--delta", "0.1",
        "--channels-last",
      ])
    #expect(dense.status != 0 && dense.stderr.contains("--channels-last needs"), "\(dense.stderr)")
  }

  /// `batch --mean/--std` verifies in pixel units and records the normalisation; resuming the
  /// file without it (or with other values) is refused, and the file is left as it was.
  @Test func batchRecordsItsNormalisation() throws {
    let directory = try TemporaryFiles.makeDirectory()
    defer { try? FileManager.default.removeItem(at: directory) }
    let out = directory.appendingPathComponent("results.jsonl").path
    let base = [
      "batch", Self.model, "--images", try Self.images(in: directory), "--examples", "0..1",
      "--norm", "linf", "--delta", "0.0001", "--out", out, "--quiet",
    ]
    let normalised = ["--mean", "0.485,0.456,0.406", "--std", "0.229,0.224,0.225"]
    let first = try Relumip.run(base + normalised)
    #expect(first.status == 0, "\(first.stderr)")
    let written = try String(contentsOfFile: out, encoding: .utf8)
    let lines = written.split(separator: "\n")
    #expect(lines.count == 2)
    #expect(
      lines.allSatisfy {
        $0.contains("\"normalization\":\"--mean 0.485,0.456,0.406 --std 0.229,0.224,0.225\"")
      }, "\(written)")
    for other in [[], ["--mean", "0.5,0.5,0.5", "--std", "0.229,0.224,0.225"]] {
      let refused = try Relumip.run(base + other + ["--resume"])
      #expect(
        refused.status != 0 && refused.stderr.contains("holds results of another run"),
        "\(refused.stderr)")
      #expect(try String(contentsOfFile: out, encoding: .utf8) == written)
    }
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
