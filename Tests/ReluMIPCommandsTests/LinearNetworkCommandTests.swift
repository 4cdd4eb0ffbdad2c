import Foundation
import TestSupport
import Testing

@testable import ReluMIP

/// Networks without a hidden layer (a Gemm-only ONNX file, a one-layer `.nnet`) in every command.
/// Input splitting used to crash on them (back-substitution through layer −1), and `vnnlib` left
/// no result file.
@Suite("Linear networks in every command")
struct LinearNetworkCommandTests {
  static let onnx = Fixtures.url("onnx/gemm_only.onnx").path

  /// 2 inputs, 2 outputs, no hidden layer: out0 = x0 − x1, out1 = 0.
  static let nnet = """
    // a linear classifier
    1,2,2,2,
    2,2,
    0,
    0,0,
    1,1,
    0,0,0,
    1,1,1,
    1,-1,
    0,0,
    0,
    0,
    """

  static func property(x0: (Double, Double), x1: (Double, Double)) -> String {
    """
    (declare-const X_0 Real)
    (declare-const X_1 Real)
    (declare-const Y_0 Real)
    (declare-const Y_1 Real)
    (assert (>= X_0 \(x0.0)))
    (assert (<= X_0 \(x0.1)))
    (assert (>= X_1 \(x1.0)))
    (assert (<= X_1 \(x1.1)))
    (assert (>= Y_0 Y_1))
    """
  }

  @Test func vnnlibAnswersAndWritesTheResultFile() throws {
    let folder = try TemporaryFiles.makeDirectory()
    let model = folder.appendingPathComponent("linear.nnet").path
    try Self.nnet.write(toFile: model, atomically: true, encoding: .utf8)
    // Y_0 − Y_1 = x0 − x1 ≥ 0 somewhere in the box: sat at x0 = 1, x1 = 0.
    let sat = folder.appendingPathComponent("sat.vnnlib").path
    try Self.property(x0: (0, 1), x1: (0, 1)).write(toFile: sat, atomically: true, encoding: .utf8)
    // x0 ≤ 0.4 < 0.5 ≤ x1: never; the largest margin is −0.1.
    let unsat = folder.appendingPathComponent("unsat.vnnlib").path
    try Self.property(x0: (0, 0.4), x1: (0.5, 1)).write(
      toFile: unsat, atomically: true, encoding: .utf8)
    for strategy in ["auto", "milp", "split"] {
      let resultFile = folder.appendingPathComponent("result-\(strategy).txt").path
      let satRun = try Relumip.run([
        "vnnlib", model, sat, "--result-file", resultFile, "--search", strategy,
      ])
      #expect(satRun.status == 10, "\(strategy): \(satRun.stderr)")
      let satText = try String(contentsOfFile: resultFile, encoding: .utf8)
      #expect(satText.hasPrefix("sat\n"), "\(strategy): \(satText)")
      let unsatRun = try Relumip.run([
        "vnnlib", model, unsat, "--result-file", resultFile, "--search", strategy,
        "--no-attack",
      ])
      #expect(unsatRun.status == 0, "\(strategy): \(unsatRun.stderr)")
      #expect(try String(contentsOfFile: resultFile, encoding: .utf8) == "unsat\n")
    }
  }

  @Test func verifyBatchAndInfoRunOnAGemmOnlyModel() throws {
    let folder = try TemporaryFiles.makeDirectory()
    let images = folder.appendingPathComponent("images.npy")
    try NPYWriter.float64([0.2, 0.9, 0.4, 0.1, 0.8, 0.3, 0.5, 0.6], shape: [2, 4])
      .write(to: images)
    let info = try Relumip.run(["info", Self.onnx])
    #expect(info.status == 0, "\(info.stderr)")
    for norm in ["linf", "l1"] {
      let verify = try Relumip.run([
        "verify", Self.onnx, "--images", images.path, "--example", "0", "--norm", norm,
        "--delta", "0.05", "--target", "all",
      ])
      #expect([0, 10].contains(verify.status), "verify \(norm): \(verify.stderr)")
      #expect(verify.stdout.contains("ROBUST") || verify.stdout.contains("COUNTEREXAMPLE"))
    }
    let out = folder.appendingPathComponent("batch.jsonl").path
    let batch = try Relumip.run([
      "batch", Self.onnx, "--images", images.path, "--examples", "0..1", "--norm", "linf",
      "--delta", "0.01,1", "--out", out, "--quiet",
    ])
    #expect(batch.status == 0, "\(batch.stderr)")
    let lines = try String(contentsOfFile: out, encoding: .utf8).split(separator: "\n")
    #expect(lines.count == 4)
    #expect(!lines.contains { $0.contains("\"error\"") }, "\(lines)")
  }

  /// Against the exact answer: a linear network's largest margin over a box is a sum of
  /// per-coordinate extremes, which every search must reproduce.
  @Test(arguments: [SearchStrategy.milp, .split])
  func searchesAgreeWithTheExactMaximum(strategy: SearchStrategy) throws {
    let network = try ModelLoader.load(path: Self.onnx)
    let verifier = try Verifier(network: network)
    let layer = verifier.network.layers[0]
    var generator = SplitMix64(seed: 14)
    for _ in 0..<20 {
      let center = RandomNetworks.point(4, using: &generator)
      let radius = generator.uniform(0.01, 0.6)
      let region = try InputRegion(center: center, norm: .linf, radius: radius)
      let label = Network.argmax(network.evaluate(center))
      for target in 0..<3 where target != label {
        var exact = layer.bias[target] - layer.bias[label]
        for j in 0..<4 {
          let w = layer.weights[target * 4 + j] - layer.weights[label * 4 + j]
          exact += max(w * region.lowest(j), w * region.highest(j))
        }
        var options = VerificationOptions()
        options.target = .label(target)
        options.searchStrategy = strategy
        options.attack = false
        let result = try verifier.verify(region: region, options: options)
        if exact > 1e-4 {
          #expect(result.verdict == .counterexample, "exact maximum \(exact)")
        } else if exact < -1e-4 {
          #expect(result.verdict == .robust, "exact maximum \(exact)")
        }
      }
    }
  }
}
