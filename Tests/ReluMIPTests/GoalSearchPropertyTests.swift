import Foundation
import TestSupport
import Testing

@testable import ReluMIP

/// A random goal search over two inputs: a network (half of them hostile), a box or an L∞ ball
/// clipped to [0, 1]², and one or two goals of one to three linear output conditions each, every
/// condition anchored near its value at a random point so that both answers occur.
struct GoalSearchCase: CustomStringConvertible {
  var seed: UInt64
  var network: Network
  var region: InputRegion
  var goals: [OutputGoal]

  var description: String {
    "seed \(seed): layers \(network.layers.map { "\($0.inputSize)→\($0.outputSize)" }), "
      + "box [\(region.lowest(0)), \(region.highest(0))] × [\(region.lowest(1)), \(region.highest(1))], "
      + "goals \(goals.map(\.description))"
  }

  init(seed: UInt64) throws {
    self.seed = seed
    var generator = SplitMix64(seed: seed)
    let hidden = (0..<Int(1 + generator.next() % 2)).map { _ in Int(2 + generator.next() % 5) }
    let outputs = Int(2 + generator.next() % 3)
    network =
      seed % 2 == 0
      ? HostileNetworks.make(inputs: 2, hidden: hidden, outputs: outputs, using: &generator)
      : RandomNetworks.make(inputs: 2, hidden: hidden, outputs: outputs, using: &generator)
    let region: InputRegion
    if seed % 3 == 0 {
      region = try InputRegion(
        center: RandomNetworks.point(2, using: &generator), norm: .linf,
        radius: generator.uniform(0.05, 0.6))
    } else {
      let lower = (0..<2).map { _ in generator.uniform(-1, 0.8) }
      let upper = lower.map { $0 + generator.uniform(0.05, 1.2) }
      region = try InputRegion(boxLower: lower, boxUpper: upper)
    }
    var goals: [OutputGoal] = []
    for _ in 0..<Int(1 + generator.next() % 2) {
      var conditions: [OutputCondition] = []
      for _ in 0..<Int(1 + generator.next() % 3) {
        let first = Int(generator.next() % UInt64(outputs))
        var terms = [OutputCondition.Term(output: first, weight: generator.uniform(0.5, 2))]
        if generator.next() % 3 != 0 {
          let second = (first + 1 + Int(generator.next() % UInt64(outputs - 1))) % outputs
          terms.append(OutputCondition.Term(output: second, weight: -generator.uniform(0.5, 2)))
        }
        if generator.next() % 2 == 0 { terms[0].weight.negate() }
        let anchor = (0..<2).map {
          region.lowest($0) + (region.highest($0) - region.lowest($0)) * generator.uniform(0, 1)
        }
        let atAnchor = OutputCondition(terms: terms, constant: 0).value(network.evaluate(anchor))
        conditions.append(
          OutputCondition(terms: terms, constant: -atAnchor + generator.uniform(-0.3, 0.1)))
      }
      goals.append(OutputGoal(conditions: conditions))
    }
    self.region = region
    self.goals = goals
  }

  /// The largest margin (smallest condition) of any goal over a 61 × 61 grid of the region.
  var gridBest: Double {
    let steps = 60
    var best = -Double.infinity
    for i in 0...steps {
      for j in 0...steps {
        let point = [
          region.lowest(0) + (region.highest(0) - region.lowest(0)) * Double(i) / Double(steps),
          region.lowest(1) + (region.highest(1) - region.lowest(1)) * Double(j) / Double(steps),
        ]
        let outputs = network.evaluate(point)
        for goal in goals { best = max(best, goal.margin(outputs)) }
      }
    }
    return best
  }
}

@Suite("Goal search against brute force", .tags(.property))
struct GoalSearchPropertyTests {
  /// 240 seeded cases, each searched by input splitting (on one thread and on two, and with
  /// other MILP thresholds), by the MILP alone (on one thread and on two) and by the ReLU-phase
  /// search (on two threads, and on one with a one-subproblem first pass over the goals).
  static let batches = Array(0..<8)
  static let batchSize: UInt64 = 30 * PropertyTestScale.factor

  @Test(arguments: batches)
  func splittingAndMILPAgreeWithTheExactMaximum(batch: Int) throws {
    var verdicts: [Verdict: Int] = [:]
    for offset in 0..<Self.batchSize {
      let tiny = try GoalSearchCase(seed: 50_000 + UInt64(batch) * Self.batchSize + offset)
      let verifier = try Verifier(network: tiny.network)
      let best =
        try ActivationRegionOracle.maximumMargins(
          network: tiny.network, region: tiny.region, goals: tiny.goals
        ).max() ?? -.infinity
      #expect(tiny.gridBest <= best + 1e-9, "a grid point beats the exact maximum — \(tiny)")
      var byStrategy: [String: Verdict] = [:]
      // Input splitting on one thread and on two sharing its boxes, and once more with the MILP
      // kept for conjunctions alone (threshold 0 for single conditions, 4 for conjunctions from
      // the first box: these networks have at most 12 ReLUs, so the defaults send most boxes to
      // the MILP whatever their goals); the MILP on one thread and on two (two goals at once);
      // the ReLU-phase search on two threads sharing its subproblems, and on one thread with a
      // first pass over the goals so short (one subproblem) that most goals it leaves open are
      // searched again in the second.
      let searches: [(SearchStrategy, threads: Int, milpThresholds: (Int, Int)?, probe: Int?)] = [
        (.split, 1, nil, nil), (.split, 2, nil, nil), (.split, 1, (0, 4), nil),
        (.milp, 1, nil, nil),
        (.milp, 2, nil, nil), (.reluSplit, 2, nil, nil), (.reluSplit, 1, nil, 1),
      ]
      for (strategy, threads, milpThresholds, probe) in searches {
        var options = VerificationOptions()
        options.searchStrategy = strategy
        options.threads = threads
        options.timeLimit = 60
        var name = "\(strategy) × \(threads)"
        if let (single, conjunction) = milpThresholds {
          options.splitMILPThreshold = single
          options.splitConjunctionMILPThreshold = conjunction
          options.splitMILPWarmUpBoxes = 0
          name += " (MILP at \(single)/\(conjunction) unstable)"
        }
        if let probe {
          options.phaseProbeSubproblems = probe
          name += " (first pass \(probe) subproblem)"
        }
        // Most cases without the attack, so that the search itself must find the point (and
        // robust cases stay quick: the attack's restarts cost more than the search here).
        options.attack = tiny.seed % 4 == 0
        let context =
          "\(name), attack \(options.attack), exact best \(best) — \(tiny)"
        let result = try verifier.search(region: tiny.region, goals: tiny.goals, options: options)
        byStrategy[name] = result.verdict
        switch result.verdict {
        case .counterexample:
          let found = try #require(result.counterexample, "no point — \(context)")
          let index = try #require(result.reachedGoal, "no goal index — \(context)")
          let point = found.input
          #expect(tiny.region.contains(point), "\(point) outside the region — \(context)")
          #expect(
            (0..<2).allSatisfy {
              point[$0] >= tiny.region.boxLower[$0] && point[$0] <= tiny.region.boxUpper[$0]
            }, "\(point) outside the box — \(context)")
          let outputs = tiny.network.evaluate(point)
          #expect(found.outputs == outputs, "reported outputs differ — \(context)")
          let values = tiny.goals[index].conditions.map { $0.value(outputs) }
          #expect(values.allSatisfy { $0 >= 0 }, "conditions \(values) at \(point) — \(context)")
        case .robust:
          // Robust means a proven margin bound ≤ −1e-6, which the exact maximum (up to the LP's
          // tolerances) may not beat.
          #expect(best < -1e-6 + 1e-8, "robust, but the maximum is \(best) — \(context)")
          #expect(result.counterexample == nil)
        case .unknown:
          Issue.record("unknown: \(result.reason ?? "") — \(context)")
        }
        if best > 1e-7 {
          #expect(result.verdict == .counterexample, "the maximum is \(best) — \(context)")
        }
      }
      let answers = Set(byStrategy.values)
      #expect(
        !(answers.contains(.robust) && answers.contains(.counterexample)),
        "the strategies contradict each other: \(byStrategy) — \(tiny)")
      #expect(
        byStrategy["split × 1"] == byStrategy["split × 2"]
          && byStrategy["milp × 1"] == byStrategy["milp × 2"],
        "two threads answered otherwise than one: \(byStrategy) — \(tiny)")
      verdicts[byStrategy["split × 1"]!, default: 0] += 1
    }
    // Both answers occur in every batch, so neither check is vacuous.
    #expect(verdicts[.robust, default: 0] >= 5, "verdicts \(verdicts)")
    #expect(verdicts[.counterexample, default: 0] >= 5, "verdicts \(verdicts)")
  }
}
