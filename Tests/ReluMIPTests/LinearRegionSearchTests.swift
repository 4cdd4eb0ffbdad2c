import GLPK
import TestSupport
import Testing

@testable import ReluMIP

/// The linear-region walk on the random two-input goal searches of `GoalSearchCase`: its points
/// are true points of the region with true margins, it solves each linear region exactly, it
/// gives the binaries their bounds back, and it finds most of the counterexamples a grid shows.
@Suite("Linear-region walk", .tags(.property))
struct LinearRegionSearchTests {
  static let seeds = UInt64(70_000)..<UInt64(70_000 + 150 * PropertyTestScale.factor)

  /// The activation pattern of every hidden ReLU at `point`.
  static func pattern(_ network: Network, at point: [Double]) -> [Bool] {
    network.preActivations(point).dropLast().flatMap { $0.map { $0 > 0 } }
  }

  @Test func walksStayInTheRegionAndSolveEachRegionExactly() throws {
    var walks = 0
    var walksWithRegions = 0
    var samplesCompared = 0
    for seed in Self.seeds {
      let tiny = try GoalSearchCase(seed: seed)
      let network = try Verifier(network: tiny.network).network
      let region = tiny.region
      let encoding = try MILPEncoding(
        network: network, region: region,
        bounds: IntervalBounds.compute(network: network, region: region))
      var generator = SplitMix64(seed: seed)
      for goal in tiny.goals {
        try encoding.setGoal(goal)
        let start = RegionSampling.sample(region, using: &generator)
        let walk = LinearRegionSearch(
          encoding: encoding, network: network, region: region, goal: goal)
        let outcome = try walk.run(from: start)
        walks += 1
        if outcome.regions > 0 { walksWithRegions += 1 }
        let context = "goal \(goal) — \(tiny)"

        // The best point is a point of the region and its margin is the network's.
        #expect(region.contains(outcome.bestPoint, distanceTolerance: 1e-9), "\(context)")
        let margin = goal.margin(network.evaluate(outcome.bestPoint))
        #expect(margin == outcome.bestMargin, "reported \(outcome.bestMargin), true \(margin)")
        // Never worse than where it started.
        let startMargin = goal.margin(network.evaluate(region.project(start)))
        #expect(outcome.bestMargin >= startMargin, "start \(startMargin) — \(context)")
        if let found = outcome.counterexample {
          #expect(goal.isReached(network.evaluate(found.input)), "\(context)")
        }
        // The first region's LP is that region's exact maximum: no sampled point sharing the
        // start's activation pattern has a better margin than the walk's best.
        if outcome.regions > 0 {
          let startPattern = Self.pattern(network, at: region.project(start))
          for _ in 0..<200 {
            let sample = RegionSampling.sample(region, using: &generator)
            guard Self.pattern(network, at: sample) == startPattern else { continue }
            samplesCompared += 1
            let sampled = goal.margin(network.evaluate(sample))
            #expect(
              sampled <= outcome.bestMargin + 1e-6 * max(1, abs(sampled)),
              "sample \(sample) has margin \(sampled) > \(outcome.bestMargin) — \(context)")
          }
        }
        // Every binary is free again for the search that follows.
        for layer in encoding.neurons {
          for case .unstable(_, _, let a) in layer {
            #expect(try encoding.columnBoundsInLP(a) == .range(0, 1), "\(context)")
          }
        }
      }
    }
    // Most walks solve at least one region's LP (the others start at a counterexample or
    // have no unstable neuron), and the exactness check compares many samples.
    #expect(walksWithRegions * 2 >= walks, "\(walksWithRegions) of \(walks) walks solved an LP")
    #expect(samplesCompared >= 1000, "only \(samplesCompared) samples shared a start's region")
  }

  /// With the attack off, the walks from the root LP's point alone (what `Verifier.search` does
  /// first) find most of the counterexamples that a 61 × 61 grid shows clearly exist.
  @Test func walksFindMostClearCounterexamples() throws {
    var clear = 0
    var found = 0
    for seed in Self.seeds {
      let tiny = try GoalSearchCase(seed: seed)
      guard tiny.gridBest > 0.05 else { continue }
      clear += 1
      let verifier = try Verifier(network: tiny.network)
      let network = verifier.network
      let encoding = try MILPEncoding(
        network: network, region: tiny.region,
        bounds: SymbolicBounds.compute(network: network, region: tiny.region).bounds)
      let result = try verifier.walkLinearRegions(
        encoding: encoding, region: tiny.region, goals: tiny.goals,
        only: Array(tiny.goals.indices), starts: Array(repeating: nil, count: tiny.goals.count),
        deadline: nil)
      guard let (index, counterexample, _) = result else { continue }
      found += 1
      let outputs = network.evaluate(counterexample.input)
      #expect(tiny.goals[index].isReached(outputs), "\(tiny)")
      #expect(tiny.region.contains(counterexample.input), "\(tiny)")
    }
    #expect(clear >= 20, "only \(clear) clear counterexample cases")
    #expect(Double(found) >= 0.9 * Double(clear), "found \(found) of \(clear)")
  }
}
