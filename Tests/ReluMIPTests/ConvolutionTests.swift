import Foundation
import TestSupport
import Testing

@testable import ReluMIP

/// Small random convolutional networks, built as ONNX graphs so that the reader's lowering is
/// under test too: Conv (2×2, asymmetric padding) → Relu → MaxPool or AveragePool (2×2, stride
/// 1 or 2) → Flatten → Gemm → 3 outputs, on a 1- or 2-channel image of 3×3 to 4×4 pixels.
enum RandomConvNets {
  /// `small`: one channel of 3×3 pixels and no padding, 8 ReLUs before the pooling: few enough
  /// for an exact region enumeration.
  static func make(seed: UInt64, pool: String, small: Bool = false) throws -> Network {
    var generator = SplitMix64(seed: seed)
    let channels = small ? 1 : 1 + Int(generator.next() % 2)
    let height = small ? 3 : 3 + Int(generator.next() % 2)
    let width = channels == 2 || small ? 3 : 3 + Int(generator.next() % 2)
    let outChannels = 2
    var builder = GraphBuilder(input: [1, channels, height, width])
    let convWeights = (0..<(outChannels * channels * 4)).map { _ in generator.uniform(-1, 1) }
    builder.constant("W", shape: [outChannels, channels, 2, 2], convWeights)
    builder.constant(
      "B", shape: [outChannels], [generator.uniform(-0.5, 0.5), generator.uniform(-0.5, 0.5)])
    // Top and right padding only: asymmetric.
    let pad = small ? 0 : Int(generator.next() % 2)
    builder.node("Conv", ["x", "W", "B"], "c", ints: ["pads": [pad, 0, 0, pad]])
    builder.node("Relu", ["c"], "r")
    let (convHeight, convWidth) = (height + pad - 1, width + pad - 1)
    let stride = convHeight >= 4 && convWidth >= 4 && generator.next() % 2 == 0 ? 2 : 1
    builder.node(pool, ["r"], "p", ints: ["kernel_shape": [2, 2], "strides": [stride, stride]])
    let pooled = outChannels * ((convHeight - 2) / stride + 1) * ((convWidth - 2) / stride + 1)
    builder.node("Flatten", ["p"], "f")
    builder.constant(
      "G", shape: [3, pooled], (0..<(3 * pooled)).map { _ in generator.uniform(-1, 1) })
    builder.constant("C", shape: [3], (0..<3).map { _ in generator.uniform(-0.5, 0.5) })
    builder.node("Gemm", ["f", "G", "C"], "y", int: ["transB": 1])
    return try builder.network()
  }

  /// An L∞ ball in [0, 1]ⁿ around a random image.
  static func region(_ network: Network, seed: UInt64, maximumRadius: Double) throws -> InputRegion
  {
    var generator = SplitMix64(seed: seed ^ 0x5EED)
    let center = RandomNetworks.point(network.inputSize, using: &generator)
    return try InputRegion(
      center: center, norm: .linf, radius: generator.uniform(0.01, maximumRadius))
  }
}

@Suite("Convolutional networks", .tags(.property))
struct ConvolutionTests {
  static let pools = ["MaxPool", "AveragePool"]

  /// The searches' network (MaxPool as a tree of ReLU maxima) computes the reference model's
  /// function (a true maximum), and its interval and symbolic bounds contain every sampled
  /// activation.
  @Test(arguments: pools)
  func boundsContainSampledActivations(pool: String) throws {
    var unstable = 0
    for seed in UInt64(0)..<60 {
      let network = try RandomConvNets.make(seed: seed, pool: pool)
      let normalized = try network.normalizedForEncoding()
      let region = try RandomConvNets.region(network, seed: seed, maximumRadius: 0.4)
      let what = "\(pool) seed \(seed), radius \(region.radius)"
      let interval = IntervalBounds.compute(network: normalized, region: region)
      let symbolic = SymbolicBounds.compute(network: normalized, region: region)
      #expect(checkWithin(symbolic.bounds, interval, what: what).violations == 0)
      unstable += symbolic.bounds.unstableCount
      var generator = SplitMix64(seed: seed)
      var violations = 0
      for point in samplePoints(region, count: 200, using: &generator) {
        let reference = network.reference.evaluate(point)
        let searched = normalized.evaluate(point)
        let difference = zip(reference, searched).map { abs($0 - $1) }.max() ?? 0
        #expect(difference < 1e-9, "\(what): reference \(reference), searched \(searched)")
        violations += checkContained(normalized, symbolic.bounds, at: point, what: what)
        violations += checkContained(normalized, interval, at: point, what: "interval, \(what)")
        if violations > 0 { break }
      }
    }
    // Not vacuous: the balls leave many neurons unstable.
    #expect(unstable > 100, "\(unstable) unstable neurons in all")
  }

  /// The MILP's maximum margin (of the runner-up over the label) equals the exact maximum of the
  /// searched network found by enumerating its activation regions, and is never below the margin
  /// of the reference model (MaxPool as a maximum) at sampled points.
  @Test(arguments: pools)
  func milpMaximumEqualsTheExactOne(pool: String) throws {
    var decided = (robust: 0, counterexample: 0)
    for seed in UInt64(100)..<120 {
      let network = try RandomConvNets.make(seed: seed, pool: pool, small: true)
      // MaxPool's tree multiplies the regions to enumerate: smaller balls for it.
      let region = try RandomConvNets.region(
        network, seed: seed, maximumRadius: pool == "MaxPool" ? 0.12 : 0.25)
      let what = "\(pool) seed \(seed), radius \(region.radius)"
      let verifier = try Verifier(network: network)
      let (label, targets) = try verifier.targets(for: region, choice: .runnerUp)
      var options = VerificationOptions()
      options.maximize = true
      let result = try verifier.verify(region: region, options: options)
      let exact = try ActivationRegionOracle.maximumMargins(
        network: verifier.network, region: region, label: label)[targets[0]]
      let objective = try #require(result.objective, "\(what): no margin")
      let bound = try #require(result.bound, "\(what): no bound")
      #expect(abs(objective - exact) <= 1e-6, "\(what): MILP \(objective), exact \(exact)")
      #expect(bound >= exact - 1e-6, "\(what): bound \(bound) below the exact \(exact)")
      var generator = SplitMix64(seed: seed)
      let sampled =
        samplePoints(region, count: 300, using: &generator).map { point -> Double in
          let outputs = network.reference.evaluate(point)
          return outputs[targets[0]] - outputs[label]
        }.max() ?? -.infinity
      #expect(sampled <= exact + 1e-9, "\(what): a sample's margin \(sampled) > exact \(exact)")
      switch result.verdict {
      case .robust: decided.robust += 1
      case .counterexample: decided.counterexample += 1
      default: Issue.record("\(what): \(result.verdict)")
      }
      #expect((result.verdict == .counterexample) == (exact > 0), "\(what): \(result.verdict)")
    }
    // Both verdicts occur.
    #expect(decided.robust > 2 && decided.counterexample > 2, "\(decided)")
  }
}
