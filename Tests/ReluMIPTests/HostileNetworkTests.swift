import Foundation
import TestSupport
import Testing

@testable import ReluMIP

/// Numerically hostile networks and regions. The tool may answer `unknown` here, but it never
/// reports a counterexample that fails the exact re-check, nor `robust` where a grid of the
/// region finds the target winning.
@Suite("Numerically hostile networks")
struct HostileNetworkTests {
  enum Hostility: CaseIterable, CustomStringConvertible {
    /// Weight magnitudes spread over 1e-13 … 1e4.
    case spreadWeights
    /// Hidden rows that differ by 1e-12 relative.
    case nearlyParallelRows
    /// Biases of ±1e6 that cancel in the next layer.
    case hugeBiases
    /// Two output rows equal: the logits tie everywhere.
    case tiedLogits

    var description: String {
      switch self {
      case .spreadWeights: return "weights 1e-13…1e4"
      case .nearlyParallelRows: return "nearly parallel rows"
      case .hugeBiases: return "huge cancelling biases"
      case .tiedLogits: return "tied logits"
      }
    }
  }

  static func network(_ hostility: Hostility, seed: UInt64) -> Network {
    var generator = SplitMix64(seed: seed)
    let base = RandomNetworks.make(inputs: 2, hidden: [5, 4], outputs: 3, using: &generator)
    var layers = base.layers
    func rebuilt(_ index: Int, weights: [Double]? = nil, bias: [Double]? = nil) {
      let layer = layers[index]
      layers[index] = try! AffineLayer(
        inputSize: layer.inputSize, outputSize: layer.outputSize,
        weights: weights ?? layer.weights, bias: bias ?? layer.bias, activation: layer.activation)
    }
    switch hostility {
    case .spreadWeights:
      for index in layers.indices {
        rebuilt(
          index,
          weights: layers[index].weights.map { $0 * pow(10, generator.uniform(-13, 4)) })
      }
    case .nearlyParallelRows:
      var weights = layers[0].weights
      for i in 1..<layers[0].outputSize {
        for j in 0..<2 { weights[i * 2 + j] = weights[j] * (1 + 1e-12 * Double(i * 2 + j)) }
      }
      rebuilt(0, weights: weights)
    case .hugeBiases:
      // Shift every first-layer neuron up by 1e6 (all stay active over [0, 1]²) and take the
      // shift back out in the second layer's biases.
      let shift = 1e6
      rebuilt(0, bias: layers[0].bias.map { $0 + shift })
      let second = layers[1]
      let bias = (0..<second.outputSize).map { i in
        second.bias[i] - shift * second.row(i).reduce(0, +)
      }
      rebuilt(1, bias: bias)
    case .tiedLogits:
      let last = layers.count - 1
      var weights = layers[last].weights
      var bias = layers[last].bias
      let width = layers[last].inputSize
      for j in 0..<width { weights[width + j] = weights[j] }
      bias[1] = bias[0]
      rebuilt(last, weights: weights, bias: bias)
    }
    return try! Network(layers: layers)
  }

  /// The largest margin of each output over the label on a 101 × 101 grid of the region.
  static func gridMargins(_ network: Network, region: InputRegion, label: Int) -> [Double] {
    var best = [Double](repeating: -.infinity, count: network.outputSize)
    let steps = 100
    for a in 0...steps {
      for b in 0...steps {
        let x =
          region.lowest(0) + (region.highest(0) - region.lowest(0)) * Double(a) / Double(steps)
        let y =
          region.lowest(1) + (region.highest(1) - region.lowest(1)) * Double(b) / Double(steps)
        guard region.contains([x, y], distanceTolerance: 0) else { continue }
        let outputs = network.evaluate([x, y])
        for t in outputs.indices { best[t] = max(best[t], outputs[t] - outputs[label]) }
      }
    }
    return best
  }

  /// Checks one answer: a counterexample re-checks exactly; `robust` is not contradicted.
  static func check(
    _ result: VerificationResult, network: Network, region: InputRegion, context: String
  ) {
    switch result.verdict {
    case .counterexample:
      guard let found = result.counterexample, let target = result.target else {
        Issue.record("counterexample without a point — \(context)")
        return
      }
      let outputs = network.evaluate(found.input)
      #expect(region.contains(found.input), "the point leaves the region — \(context)")
      #expect(outputs[target] > outputs[result.label], "\(outputs) — \(context)")
      #expect(Network.argmax(outputs) != result.label, "\(outputs) — \(context)")
    case .robust:
      let margins = gridMargins(network, region: region, label: result.label)
      let targets = result.targetsSearched
      // A margin well above rounding on the grid refutes `robust`.
      #expect(
        targets.allSatisfy { margins[$0] <= 1e-9 * max(1, abs(margins[$0])) },
        "robust, but the grid reaches \(targets.map { margins[$0] }) — \(context)")
    case .unknown:
      #expect(result.reason != nil, "unknown without a reason — \(context)")
    }
  }

  @Test(arguments: Hostility.allCases)
  func answersAreSoundOrUnknown(_ hostility: Hostility) throws {
    var answered = 0
    for seed in UInt64(1)...UInt64(12) {
      let network = Self.network(hostility, seed: seed)
      var generator = SplitMix64(seed: seed &* 31)
      let center = RandomNetworks.point(2, using: &generator)
      for norm in PerturbationNorm.allCases {
        for strategy in [SearchStrategy.milp, .split] where norm == .linf || strategy == .milp {
          let region = try InputRegion(center: center, norm: norm, radius: 0.3)
          var options = VerificationOptions()
          options.searchStrategy = strategy
          options.timeLimit = 20
          let verifier = try Verifier(network: network)
          let result = try verifier.verify(region: region, options: options)
          if result.verdict != .unknown { answered += 1 }
          Self.check(
            result, network: verifier.network, region: region,
            context: "\(hostility), seed \(seed), \(norm), \(strategy)")
        }
      }
    }
    // The tool may decline some of these, but not all: tied logits have no counterexample and
    // cannot be proven either, so only they may go wholly unanswered.
    if hostility != .tiedLogits { #expect(answered > 0, "\(hostility): every answer unknown") }
  }

  /// Degenerate regions: radius 0, a radius larger than the box, a center on the box's edges.
  @Test func degenerateRegions() throws {
    for seed in UInt64(1)...UInt64(10) {
      var generator = SplitMix64(seed: seed)
      let network = RandomNetworks.make(inputs: 2, hidden: [6], outputs: 3, using: &generator)
      let verifier = try Verifier(network: network)
      let corner = [Double(seed % 2), Double((seed / 2) % 2)]
      let edge = [0.0, generator.uniform(0, 1)]
      for (center, radius) in [(corner, 0.0), (edge, 0.0), (corner, 5.0), (edge, 0.25)] {
        for norm in PerturbationNorm.allCases {
          let region = try InputRegion(center: center, norm: norm, radius: radius)
          let result = try verifier.verify(region: region)
          let context = "seed \(seed), center \(center), \(norm) radius \(radius)"
          Self.check(result, network: network, region: region, context: context)
          if radius == 0 {
            // A single point keeps its own label: never a counterexample.
            #expect(result.verdict != .counterexample, "\(context)")
          }
        }
      }
    }
  }
}
