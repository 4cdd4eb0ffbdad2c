import Foundation
import TestSupport
import Testing

@testable import ReluMIP

/// `minimizeDistortion` on tiny networks, checked against a dense grid of the search region: the
/// counterexample it reports re-checks, no grid point closer than its lower bound changes the
/// label toward the target, and the lower bound never exceeds the distance found.
@Suite("Minimal distortion")
struct MinimalDistortionTests {
  @Test(arguments: 0..<6)
  func agreesWithGrid(batch: Int) throws {
    var counterexamples = 0
    for seed in UInt64(batch * 20 + 7000)..<UInt64(batch * 20 + 7020) {
      let tiny = try TinyCase(seed: seed)
      let verifier = try Verifier(network: tiny.network)
      let (label, targets) = try verifier.targets(for: tiny.region, choice: .runnerUp)
      let target = targets[0]
      let result = try verifier.minimizeDistortion(region: tiny.region, relativePrecision: 1e-3)
      // Bisection stops early only where GLPK's tolerances cannot tell the margin from zero.
      let atResolutionLimit = result.reason?.contains("solver tolerance") == true
      #expect(result.complete || atResolutionLimit, "seed \(seed): \(result.reason ?? "")")
      #expect(result.lowerBound >= 0 && result.lowerBound <= tiny.region.radius)
      if let found = result.counterexample {
        counterexamples += 1
        let outputs = tiny.network.evaluate(found.input)
        #expect(outputs[target] > outputs[label], "seed \(seed): the point does not re-check")
        #expect(tiny.region.contains(found.input), "seed \(seed): the point leaves the region")
        #expect(result.lowerBound <= found.distance, "seed \(seed)")
        #expect(
          atResolutionLimit || found.distance - result.lowerBound <= 1e-3 * found.distance + 1e-12,
          "seed \(seed): gap \(found.distance - result.lowerBound) left open")
      }
      // Nothing strictly inside the proven radius reaches the target.
      for point in tiny.gridPoints where tiny.region.distance(point) < result.lowerBound - 1e-9 {
        let outputs = tiny.network.evaluate(point)
        let distance = tiny.region.distance(point)
        #expect(
          !(outputs[target] > outputs[label]),
          "seed \(seed): \(point) at \(distance) is below the lower bound \(result.lowerBound)")
      }
      // The lower bound is a radius the verifier proves robust.
      if result.lowerBound > 0 {
        let inside = try InputRegion(
          center: tiny.region.center, norm: tiny.region.norm, radius: result.lowerBound)
        #expect(try verifier.verify(region: inside).verdict == .robust, "seed \(seed)")
      }
    }
    #expect(counterexamples >= 3, "too few counterexamples for the test to mean much")
  }
}

/// `verify` with `maximize` on tiny networks: the maximum margin it proves bounds every grid
/// point's margin, and the margin it reports at a re-checked point is within the solver's
/// tolerance of that bound.
@Suite("Maximum margin")
struct MaximumMarginTests {
  @Test(arguments: 0..<4)
  func boundsTheGrid(batch: Int) throws {
    for seed in UInt64(batch * 20 + 9000)..<UInt64(batch * 20 + 9020) {
      let tiny = try TinyCase(seed: seed)
      let verifier = try Verifier(network: tiny.network)
      let (label, targets) = try verifier.targets(for: tiny.region, choice: .runnerUp)
      var options = VerificationOptions()
      options.maximize = true
      let result = try verifier.verify(region: tiny.region, options: options)
      #expect(result.verdict != .unknown, "seed \(seed): \(result.reason ?? "")")
      let bound = try #require(result.bound, "seed \(seed): no bound")
      let objective = try #require(result.objective, "seed \(seed): no margin")
      let gridBest =
        tiny.gridPoints.map { point -> Double in
          let outputs = tiny.network.evaluate(point)
          return outputs[targets[0]] - outputs[label]
        }.max() ?? -.infinity
      #expect(bound >= gridBest - 1e-6, "seed \(seed): bound \(bound) below grid \(gridBest)")
      #expect(objective <= bound + 1e-6, "seed \(seed): margin \(objective) above \(bound)")
      #expect(objective >= bound - 1e-5, "seed \(seed): margin \(objective), bound \(bound)")
      #expect((result.verdict == .counterexample) == (objective > 0), "seed \(seed)")
    }
  }
}
