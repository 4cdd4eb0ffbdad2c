import Foundation
import TestSupport
import Testing

@testable import ReluMIP

/// `memoryLimit` stops GLPK's tree with `unknown`, and only the runs that reach the tree.
@Suite("Resource limits")
struct ResourceLimitTests {
  @Test func memoryLimitStopsBranchAndCut() throws {
    var treeRuns = 0
    for seed in UInt64(1)...UInt64(240) where seed % 2 == 1 {  // L1 cases: the MILP path
      let tiny = try TinyCase(seed: seed)
      let verifier = try Verifier(network: tiny.network)
      var options = VerificationOptions()
      options.attack = false
      let free = try verifier.verify(region: tiny.region, options: options)
      options.memoryLimit = 1
      let limited = try verifier.verify(region: tiny.region, options: options)
      if free.settledBy == .branchAndCut && free.nodes > 0 {
        treeRuns += 1
        // The same stages run up to the tree, whose first callback finds the limit passed.
        #expect(limited.verdict == .unknown, "\(tiny): \(limited.verdict)")
        #expect(
          limited.reason?.contains("memory limit") == true, "\(tiny): \(limited.reason ?? "")")
      } else {
        // Settled before the tree: the limit changes nothing.
        #expect(limited.verdict == free.verdict, "\(tiny)")
      }
    }
    #expect(treeRuns >= 1, "no case reached branch-and-cut, so the limit was never tested")
  }

  @Test func memoryLimitStopsInputSplitting() throws {
    // A box over two inputs that needs splitting: every open box then exceeds a 1-byte limit.
    var stopped = 0
    for seed in UInt64(1)...UInt64(60) {
      var generator = SplitMix64(seed: seed)
      let network = RandomNetworks.make(inputs: 2, hidden: [6, 6], outputs: 2, using: &generator)
      let region = try InputRegion(boxLower: [0, 0], boxUpper: [1, 1])
      let goal = OutputGoal(conditions: [.difference(1, minus: 0)])
      var options = VerificationOptions()
      options.attack = false
      options.searchStrategy = .split
      options.memoryLimit = 1
      let result = try Verifier(network: network).search(
        region: region, goals: [goal], options: options)
      if result.verdict == .unknown {
        #expect(result.reason?.contains("memory limit") == true, "seed \(seed)")
        stopped += 1
      }
    }
    #expect(stopped >= 1, "no case needed a second box")
  }
}
