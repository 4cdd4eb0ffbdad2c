import Foundation
import GLPK
import TestSupport
import Testing

@testable import ReluMIP

/// A random network and region, reproducible from its seed.
struct RandomCase: CustomStringConvertible {
  var seed: UInt64
  var network: Network
  var region: InputRegion

  var description: String {
    "seed \(seed): layers \(network.layers.map { "\($0.inputSize)→\($0.outputSize)" }), "
      + "\(region.norm.symbol) radius \(region.radius), center \(region.center)"
  }

  /// Inputs 2–8, 1–3 hidden layers of 2–8 ReLUs, 2–4 outputs; a center in [0, 1]ⁿ and a radius
  /// up to 0.5 (L∞) or 2 (L1), with the box [0, 1].
  static func bounds(seed: UInt64, norm: PerturbationNorm) throws -> RandomCase {
    var generator = SplitMix64(seed: seed)
    let inputs = Int(2 + generator.next() % 7)
    let hidden = (0..<Int(1 + generator.next() % 3)).map { _ in Int(2 + generator.next() % 7) }
    let outputs = Int(2 + generator.next() % 3)
    let network = RandomNetworks.make(
      inputs: inputs, hidden: hidden, outputs: outputs, using: &generator)
    let center = RandomNetworks.point(inputs, using: &generator)
    let radius = norm == .linf ? generator.uniform(0, 0.5) : generator.uniform(0, 2)
    let region = try InputRegion(center: center, norm: norm, radius: radius)
    return RandomCase(seed: seed, network: network, region: region)
  }
}

/// Checks that every layer's pre-activations at `point` lie within `bounds`; returns the number
/// of violations (each also recorded as an issue).
@discardableResult
func checkContained(
  _ network: Network, _ bounds: NetworkBounds, at point: [Double], what: String,
  sourceLocation: SourceLocation = #_sourceLocation
) -> Int {
  let values = network.preActivations(point)
  guard values.count == bounds.layers.count else {
    Issue.record(
      "\(what): \(values.count) layers but \(bounds.layers.count) bound sets",
      sourceLocation: sourceLocation)
    return 1
  }
  var violations = 0
  for (k, (layerValues, layerBounds)) in zip(values, bounds.layers).enumerated() {
    guard layerValues.count == layerBounds.count else {
      Issue.record(
        "\(what): layer \(k) size differs from its bounds", sourceLocation: sourceLocation)
      return violations + 1
    }
    for i in layerValues.indices {
      let z = layerValues[i]
      if !(z >= layerBounds.lower[i] && z <= layerBounds.upper[i]) {
        violations += 1
        if violations <= 3 {
          Issue.record(
            "\(what): layer \(k) neuron \(i) is \(z), outside [\(layerBounds.lower[i]), \(layerBounds.upper[i])] at \(point)",
            sourceLocation: sourceLocation)
        }
      }
    }
  }
  return violations
}

@Suite("Bounds are sound", .tags(.property))
struct BoundsSoundnessTests {
  static let seeds: [UInt64] = Array(1...40)

  @Test(arguments: [PerturbationNorm.linf, .l1])
  func randomNetworks(norm: PerturbationNorm) throws {
    for seed in Self.seeds {
      let random = try RandomCase.bounds(seed: seed &* 7919 &+ (norm == .l1 ? 1 : 0), norm: norm)
      let network = random.network
      let region = random.region
      let interval = IntervalBounds.compute(network: network, region: region)
      let tightened = try LPBoundTightening.tighten(
        network: network, region: region, bounds: interval, dropThreshold: 1e-9, deadline: nil)
      try #require(interval.layers.count == network.layers.count, "\(random)")
      try #require(tightened.layers.count == network.layers.count, "\(random)")
      // Tightening never loosens and never crosses.
      for (k, (a, b)) in zip(interval.layers, tightened.layers).enumerated() {
        for i in 0..<a.count {
          #expect(
            b.lower[i] >= a.lower[i] && b.upper[i] <= a.upper[i],
            "\(random): layer \(k) neuron \(i) loosened")
          #expect(b.lower[i] <= b.upper[i], "\(random): layer \(k) neuron \(i) empty")
        }
      }
      var generator = SplitMix64(seed: seed ^ 0xABCDEF)
      var violations = 0
      var points = [region.center]
      for _ in 0..<300 { points.append(RegionSampling.sample(region, using: &generator)) }
      for point in points {
        #expect(region.contains(point), "\(random): sample \(point) outside the region")
        violations += checkContained(network, interval, at: point, what: "interval, \(random)")
        violations += checkContained(network, tightened, at: point, what: "LP, \(random)")
        if violations > 0 { break }
      }
    }
  }

  /// LP tightening as `auto` runs it on deep networks: from symbolic bounds, each layer bounded
  /// again by back-substitution before its LPs, which two threads share. Its bounds contain
  /// sampled activations, are never looser than the symbolic bounds they start from, and are
  /// as tight as one thread's (a neuron's LP optimum does not depend on which thread solves it,
  /// so a share left out or merged wrongly would show).
  @Test(arguments: [PerturbationNorm.linf, .l1])
  func sharedTighteningIsSoundAndLosesNothing(norm: PerturbationNorm) throws {
    var tightenedNeurons = 0
    for seed in Self.seeds {
      let random = try RandomCase.bounds(seed: seed &* 6151 &+ (norm == .l1 ? 1 : 0), norm: norm)
      let network = random.network
      let region = random.region
      let symbolic = SymbolicBounds.compute(network: network, region: region)
      let tightened = try [1, 2].map { threads in
        try LPBoundTightening.tighten(
          network: network, region: region, bounds: symbolic.bounds,
          magnitudes: symbolic.magnitudes, dropThreshold: 1e-9, threads: threads, deadline: nil)
      }
      for (k, start) in symbolic.bounds.layers.enumerated() {
        let (one, two) = (tightened[0].layers[k], tightened[1].layers[k])
        for i in 0..<start.count {
          #expect(
            two.lower[i] >= start.lower[i] && two.upper[i] <= start.upper[i],
            "\(random): layer \(k) neuron \(i) loosened")
          #expect(two.lower[i] <= two.upper[i], "\(random): layer \(k) neuron \(i) empty")
          let scale = 1e-7 * (1 + abs(one.lower[i]) + abs(one.upper[i]))
          #expect(
            abs(two.lower[i] - one.lower[i]) <= scale && abs(two.upper[i] - one.upper[i]) <= scale,
            "\(random): layer \(k) neuron \(i): two threads [\(two.lower[i]), \(two.upper[i])], one [\(one.lower[i]), \(one.upper[i])]"
          )
          if two.upper[i] < start.upper[i] - 1e-6 || two.lower[i] > start.lower[i] + 1e-6 {
            tightenedNeurons += 1
          }
        }
      }
      var generator = SplitMix64(seed: seed ^ 0x7E57)
      var points = [region.center]
      for _ in 0..<200 { points.append(RegionSampling.sample(region, using: &generator)) }
      for point in points
      where checkContained(network, tightened[1], at: point, what: "shared LP, \(random)") > 0 {
        break
      }
    }
    // The LPs had something to do.
    #expect(tightenedNeurons >= 10, "\(tightenedNeurons) neurons tightened")
  }

  /// The safe bound holds for any multipliers, not only GLPK's duals: with random ones, and
  /// with GLPK's duals given tiny values that point at one-sided rows' missing ends, it stays
  /// at or above the LP optimum. Those tiny values (GLPK's own duals carry such signs within
  /// its tolerance) leave it finite and next to the bound from GLPK's duals, where counting
  /// them made it infinite.
  @Test(arguments: [PerturbationNorm.linf, .l1])
  func safeBoundHoldsForAnyMultipliers(norm: PerturbationNorm) throws {
    var nudgedRows = 0
    for seed in Self.seeds {
      let random = try RandomCase.bounds(seed: seed &* 104_729 &+ (norm == .l1 ? 1 : 0), norm: norm)
      let network = random.network
      let interval = IntervalBounds.compute(network: network, region: random.region)
      let encoding = try MILPEncoding(network: network, region: random.region, bounds: interval)
      let output = network.layers[network.layers.count - 1]
      let (kept, _) = encoding.split(
        encoding.expression(layer: output, neuron: 0, inputs: encoding.layerInputs))
      var generator = SplitMix64(seed: seed ^ 0x5AFE)
      for maximize in [true, false] {
        guard try encoding.solvesRelaxation(of: kept, maximize: maximize) else { continue }
        let optimum = encoding.relaxationObjective
        let slack = 1e-9 * (1 + abs(optimum))
        func holds(_ bound: Double) -> Bool {
          maximize ? bound >= optimum - slack : bound <= optimum + slack
        }
        let duals = encoding.rowDuals
        let fromDuals = encoding.safeBound(of: kept, maximize: maximize)
        #expect(fromDuals.isFinite && holds(fromDuals), "\(random): \(fromDuals) vs \(optimum)")
        var nudged = duals
        // Rows GLPK gave no dual (inactive ones) get a tiny one of the sign it must not have.
        for row in 0..<encoding.rowCount where duals[row] == 0 {
          let (lower, upper) = encoding.recordedRowBounds(row)
          // The sign whose extreme lies at the missing end.
          if upper.isInfinite && lower.isFinite {
            nudged[row] = maximize ? 1e-12 : -1e-12
          } else if lower.isInfinite && upper.isFinite {
            nudged[row] = maximize ? -1e-12 : 1e-12
          } else {
            continue
          }
          nudgedRows += 1
        }
        let fromNudged = encoding.safeBound(of: kept, maximize: maximize, multipliers: nudged)
        #expect(
          fromNudged.isFinite && holds(fromNudged)
            && abs(fromNudged - fromDuals) <= 1e-6 * (1 + abs(fromDuals)),
          "\(random): nudged duals give \(fromNudged), GLPK's \(fromDuals)")
        for _ in 0..<5 {
          let multipliers = (0..<encoding.rowCount).map { _ in generator.uniform(-2, 2) }
          let bound = encoding.safeBound(of: kept, maximize: maximize, multipliers: multipliers)
          #expect(holds(bound), "\(random): random multipliers give \(bound) vs \(optimum)")
        }
      }
    }
    #expect(nudgedRows > 100, "only \(nudgedRows) one-sided rows were nudged")
  }

  @Test(arguments: [PerturbationNorm.linf, .l1])
  func firstLayerIsExactAtRadiusZero(norm: PerturbationNorm) throws {
    var generator = SplitMix64(seed: 2024)
    for _ in 0..<20 {
      let network = RandomNetworks.make(inputs: 5, hidden: [4], outputs: 3, using: &generator)
      let center = RandomNetworks.point(5, using: &generator)
      let region = try InputRegion(center: center, norm: norm, radius: 0)
      let bounds = IntervalBounds.compute(network: network, region: region)
      let values = network.preActivations(center)
      for (k, layer) in bounds.layers.enumerated() {
        for i in 0..<layer.count {
          #expect(layer.lower[i] <= values[k][i] && values[k][i] <= layer.upper[i])
          #expect(
            layer.upper[i] - layer.lower[i] < 1e-9,
            "layer \(k) neuron \(i) has width \(layer.upper[i] - layer.lower[i])")
        }
      }
    }
  }

  @Test func l1FirstLayerBoundIsAttained() throws {
    // One neuron, w = (3, −1, 0.5), b = 0, center (0.5, 0.5, 0.5) where it is 1.25, L1 radius 0.8,
    // box [0, 1]: the maximum spends 0.5 raising x₀ (to the box) and 0.3 lowering x₁:
    // 1.25 + 1.5 + 0.3 = 3.05.
    let layer = try AffineLayer(
      inputSize: 3, outputSize: 1, weights: [3, -1, 0.5], bias: [0], activation: .relu)
    let output = try AffineLayer(
      inputSize: 1, outputSize: 2, weights: [1, -1], bias: [0, 0], activation: .identity)
    let network = try Network(layers: [layer, output])
    let region = try InputRegion(center: [0.5, 0.5, 0.5], norm: .l1, radius: 0.8)
    let bounds = IntervalBounds.compute(network: network, region: region)
    #expect(abs(bounds.layers[0].upper[0] - 3.05) < 1e-9)
    // The minimum lowers x₀ to 0 (−1.5) and raises x₁ by 0.3: 1.25 − 1.5 − 0.3 = −0.55.
    #expect(abs(bounds.layers[0].lower[0] + 0.55) < 1e-9)
    #expect(abs(network.preActivations([1, 0.2, 0.5])[0][0] - 3.05) < 1e-12)
    #expect(bounds.layers[0].isUnstable(0))
    #expect(bounds.unstableCount == 1)
    // L∞ of the same radius: the box clips every coordinate to [0, 1]: [0 − 1 + 0, 3 − 0 + 0.5].
    let box = try InputRegion(center: [0.5, 0.5, 0.5], norm: .linf, radius: 0.8)
    let boxBounds = IntervalBounds.compute(network: network, region: box)
    #expect(abs(boxBounds.layers[0].upper[0] - 3.5) < 1e-9)
    #expect(abs(boxBounds.layers[0].lower[0] + 1) < 1e-9)
  }

  @Test func layerBoundCounts() {
    let bounds = LayerBounds(lower: [-1, 0, 1, -2, -1], upper: [1, 2, 3, 0, -0.5])
    #expect(bounds.unstableCount == 1)
    #expect(bounds.activeCount == 2)
    #expect(bounds.inactiveCount == 2)
  }
}

@Suite("Bounds on the seed network", .tags(.shared, .property), .sharedData)
struct SeedBoundsTests {
  @Test(arguments: [(PerturbationNorm.l1, 5.0), (.linf, 0.02)])
  func samplesStayWithinBounds(norm: PerturbationNorm, radius: Double) throws {
    let network = try Verifier(
      network: try ModelLoader.load(path: SharedData.url("seed/mnist_mlp_50x50.onnx").path)
    ).network
    let images = try readExamples(SharedData.url("seed/mnist_first100_images.npy"))
    let center = try images.example(26)
    let region = try InputRegion(center: center, norm: norm, radius: radius)
    let interval = IntervalBounds.compute(network: network, region: region)
    let tightened = try LPBoundTightening.tighten(
      network: network, region: region, bounds: interval, dropThreshold: 1e-9, deadline: nil)
    // Tightening has something to do here: the second layer has unstable neurons.
    #expect(interval.layers[1].unstableCount > 0)
    #expect(tightened.layers[1].unstableCount <= interval.layers[1].unstableCount)
    var generator = SplitMix64(seed: 26)
    var violations = 0
    for _ in 0..<300 {
      let point = RegionSampling.sample(region, using: &generator)
      try #require(region.contains(point))
      violations += checkContained(
        network, interval, at: point, what: "seed interval \(norm.symbol) \(radius)")
      violations += checkContained(
        network, tightened, at: point, what: "seed LP \(norm.symbol) \(radius)")
      if violations > 0 { break }
    }
  }
}

@Suite("Input regions")
struct InputRegionTests {
  @Test(arguments: [PerturbationNorm.linf, .l1])
  func projectLandsInside(norm: PerturbationNorm) throws {
    var generator = SplitMix64(seed: 5)
    for trial in 0..<300 {
      let n = Int(1 + generator.next() % 10)
      let center = RandomNetworks.point(n, using: &generator)
      let radius = trial % 10 == 0 ? 0 : generator.uniform(0, norm == .l1 ? 3 : 0.6)
      let box: (Double, Double)? = trial % 7 == 0 ? nil : (0, 1)
      let region = try InputRegion(center: center, norm: norm, radius: radius, box: box)
      // Points far outside, near the boundary and inside.
      let spread = [0.01, 0.5, 5, 1e6][trial % 4]
      let point = (0..<n).map { center[$0] + generator.uniform(-spread, spread) }
      let projected = region.project(point)
      #expect(projected.count == n)
      #expect(region.contains(projected), "trial \(trial): \(point) → \(projected)")
      // L1 projection shaves rounding excess exactly; L∞ clipping to center ± radius can be an
      // ulp over the radius (c + r − c ≠ r in floating point).
      let slack = norm == .l1 ? 0 : 1e-12
      #expect(
        region.distance(projected) <= radius + slack, "trial \(trial): \(point) → \(projected)")
      // Projecting twice changes nothing.
      #expect(region.project(projected) == projected, "trial \(trial)")
    }
  }

  @Test func projectKeepsInteriorPoints() throws {
    let region = try InputRegion(center: [0.5, 0.5, 0.5], norm: .l1, radius: 0.3)
    let inside = [0.6, 0.45, 0.55]
    #expect(region.contains(inside))
    #expect(region.project(inside) == inside)
    let box = try InputRegion(center: [0.5, 0.5], norm: .linf, radius: 0.1)
    #expect(box.project([0.55, 0.42]) == [0.55, 0.42])
    let clipped = box.project([0.9, -3])
    #expect(Compare.maxAbsoluteDifference(clipped, [0.6, 0.4]).map { $0 < 1e-15 } == true)
  }

  @Test func distances() throws {
    let l1 = try InputRegion(center: [0.5, 0.5, 0.5], norm: .l1, radius: 1)
    let linf = try InputRegion(center: [0.5, 0.5, 0.5], norm: .linf, radius: 1)
    let point = [0.75, 0.25, 0.0]
    #expect(abs(l1.distance(point) - 1.0) < 1e-15)
    #expect(abs(linf.distance(point) - 0.5) < 1e-15)
    #expect(l1.distance(l1.center) == 0)
    #expect(l1.contains(point))
    #expect(!l1.contains([0.9, 0.1, 0.0]))  // distance 1.3
    #expect(!l1.contains([1.5, 0.5, 0.5]))  // outside the box
    #expect(!l1.contains([0.5, 0.5]))  // wrong size
    #expect(!l1.contains([.nan, 0.5, 0.5]))
  }

  @Test func coordinateRanges() throws {
    let region = try InputRegion(center: [0.1, 0.9, 0.5], norm: .linf, radius: 0.25)
    func near(_ a: Double, _ b: Double) -> Bool { abs(a - b) < 1e-15 }
    #expect(region.lowest(0) == 0 && near(region.highest(0), 0.35))
    #expect(near(region.lowest(1), 0.65) && region.highest(1) == 1)
    #expect(near(region.downRoom(0), 0.1) && near(region.upRoom(1), 0.1))
    #expect(near(region.upRoom(0), 0.25) && near(region.downRoom(1), 0.25))
    #expect(region.dimension == 3)
    let free = try InputRegion(center: [5, -5], norm: .l1, radius: 1, box: nil)
    #expect(free.lowest(0) == 4 && free.highest(1) == -4)
  }

  @Test func invalidRegionsAreRefused() throws {
    #expect(throws: PropertyError.invalidRadius(-1)) {
      try InputRegion(center: [0.5], norm: .l1, radius: -1)
    }
    #expect(throws: PropertyError.self) { try InputRegion(center: [0.5], norm: .l1, radius: .nan) }
    #expect(throws: PropertyError.invalidRadius(.infinity)) {
      try InputRegion(center: [0.5], norm: .linf, radius: .infinity)
    }
    #expect(throws: PropertyError.nonFiniteCenter(index: 1)) {
      try InputRegion(center: [0.5, .nan], norm: .linf, radius: 0.1)
    }
    #expect(throws: PropertyError.centerOutsideBox(index: 2, value: 1.5, lower: 0, upper: 1)) {
      try InputRegion(center: [0.5, 0.5, 1.5], norm: .linf, radius: 0.1)
    }
    #expect(throws: PropertyError.self) {
      try InputRegion(center: [0.5, 0.5], norm: .l1, radius: 1, boxLower: [0], boxUpper: [1, 1])
    }
    #expect(throws: PropertyError.self) {
      try InputRegion(center: [0.5], norm: .l1, radius: 1, box: (1, 0))
    }
    #expect(throws: PropertyError.self) {
      try InputRegion(center: [0.5], norm: .l1, radius: 1, boxLower: [.nan], boxUpper: [1])
    }
    #expect(throws: PropertyError.self) {
      try InputRegion(
        center: [0.5], norm: .l1, radius: 1, boxLower: [.infinity], boxUpper: [.infinity])
    }
    let message = PropertyError.centerOutsideBox(index: 2, value: 1.5, lower: 0, upper: 1)
      .description
    #expect(message.contains("input 2") && message.contains("1.5"))
  }

  @Test func verifierChecksTheProperty() throws {
    var generator = SplitMix64(seed: 1)
    let network = RandomNetworks.make(inputs: 3, hidden: [4], outputs: 3, using: &generator)
    let verifier = try Verifier(network: network)
    let center = [0.2, 0.4, 0.6]
    let label = network.predictedLabel(center)
    let region = try InputRegion(center: center, norm: .linf, radius: 0.1)
    #expect(throws: PropertyError.centerSizeMismatch(expected: 3, found: 2)) {
      try verifier.verify(region: InputRegion(center: [0.1, 0.2], norm: .linf, radius: 0.1))
    }
    var options = VerificationOptions()
    options.target = .label(3)
    #expect(throws: PropertyError.unknownLabel(3, outputs: 3)) {
      try verifier.verify(region: region, options: options)
    }
    options.target = .label(-1)
    #expect(throws: PropertyError.unknownLabel(-1, outputs: 3)) {
      try verifier.verify(region: region, options: options)
    }
    options.target = .label(label)
    #expect(throws: PropertyError.targetEqualsLabel(label)) {
      try verifier.verify(region: region, options: options)
    }
    let single = RandomNetworks.make(inputs: 3, hidden: [4], outputs: 1, using: &generator)
    #expect(throws: PropertyError.tooFewOutputs(1)) {
      try Verifier(network: single).verify(region: region)
    }
    // The runner-up is the second-highest output; `all` lists every other label by output.
    let outputs = network.evaluate(center)
    let (found, others) = verifier.labels(at: center)
    #expect(found == label)
    #expect(others.count == 2)
    #expect(!others.contains(label))
    #expect(outputs[others[0]] >= outputs[others[1]])
    #expect(try verifier.targets(for: region, choice: .runnerUp).targets == [others[0]])
    #expect(try verifier.targets(for: region, choice: .all).targets == others)
  }
}
