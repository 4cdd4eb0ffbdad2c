import Foundation
import TestSupport
import Testing

@testable import ReluMIP

/// A tiny verification case: 2 inputs, 1–2 hidden layers of 2–6 ReLUs, 2–3 outputs, a center in
/// [0, 1]² and a radius (L∞ 0.05–0.6, L1 0.1–1.2), with the box [0, 1].
struct TinyCase: CustomStringConvertible {
  var seed: UInt64
  var network: Network
  var region: InputRegion

  var description: String {
    "seed \(seed) (\(region.norm.symbol) radius \(region.radius), center \(region.center), "
      + "layers \(network.layers.map { "\($0.inputSize)→\($0.outputSize)" }))"
  }

  /// - Parameter hiddenLayers: the number of hidden layers, if not the seed's 1–2.
  init(seed: UInt64, hiddenLayers: Int? = nil) throws {
    var generator = SplitMix64(seed: seed)
    let depth = Int(1 + generator.next() % 2)
    let hidden = (0..<(hiddenLayers ?? depth)).map { _ in Int(2 + generator.next() % 5) }
    let outputs = Int(2 + generator.next() % 2)
    network = RandomNetworks.make(inputs: 2, hidden: hidden, outputs: outputs, using: &generator)
    let center = RandomNetworks.point(2, using: &generator)
    let norm: PerturbationNorm = seed % 2 == 0 ? .linf : .l1
    let radius = norm == .linf ? generator.uniform(0.05, 0.6) : generator.uniform(0.1, 1.2)
    region = try InputRegion(center: center, norm: norm, radius: radius)
    self.seed = seed
  }

  /// Points of the region: a 81 × 81 grid over the per-coordinate ranges (filtered by the ball
  /// for L1), plus, for L1, points along the ball's boundary clipped into the box.
  var gridPoints: [[Double]] {
    let steps = 80
    var points: [[Double]] = [region.center]
    points.reserveCapacity((steps + 1) * (steps + 1) + 1601)
    let (x0, x1) = (region.lowest(0), region.highest(0))
    let (y0, y1) = (region.lowest(1), region.highest(1))
    for i in 0...steps {
      for j in 0...steps {
        let point = [
          x0 + (x1 - x0) * Double(i) / Double(steps), y0 + (y1 - y0) * Double(j) / Double(steps),
        ]
        if region.contains(point, distanceTolerance: 0) { points.append(point) }
      }
    }
    if region.norm == .l1 {
      for (sx, sy) in [(1.0, 1.0), (1, -1), (-1, 1), (-1, -1)] {
        for k in 0...400 {
          let t = Double(k) / 400
          let raw = [
            region.center[0] + sx * t * region.radius,
            region.center[1] + sy * (1 - t) * region.radius,
          ]
          let point = [min(max(raw[0], 0), 1), min(max(raw[1], 0), 1)]
          if region.contains(point, distanceTolerance: 0) { points.append(point) }
        }
      }
    }
    return points
  }

  /// For every output `t`, the exact largest `output[t] − output[label]` over the region
  /// (`ActivationRegionOracle`), after checking that no grid point exceeds it (which would show
  /// the oracle wrong).
  func exactMargins(label: Int, sourceLocation: SourceLocation = #_sourceLocation) throws
    -> [Double]
  {
    let exact = try ActivationRegionOracle.maximumMargins(
      network: network, region: region, label: label)
    let grid = bruteForceMargins(label: label)
    for t in exact.indices {
      #expect(
        grid[t] <= exact[t] + 1e-9, "grid \(grid[t]) above the exact \(exact[t]) — \(self)",
        sourceLocation: sourceLocation)
    }
    return exact
  }

  /// For every output `t`, the largest `output[t] − output[label]` over the grid.
  func bruteForceMargins(label: Int) -> [Double] {
    var best = [Double](repeating: -.infinity, count: network.outputSize)
    for point in gridPoints {
      let outputs = network.evaluate(point)
      for t in outputs.indices { best[t] = max(best[t], outputs[t] - outputs[label]) }
    }
    return best
  }
}

/// Checks one result against the brute-force margins; returns the verdict.
@discardableResult
func checkResult(
  _ result: VerificationResult, case tiny: TinyCase, targets: [Int], margins: [Double],
  what: String, anyLabel: Bool = false, sourceLocation: SourceLocation = #_sourceLocation
) -> Verdict {
  let context = "\(what), \(tiny)"
  #expect(
    result.verdict != .unknown, "unknown: \(result.reason ?? "") — \(context)",
    sourceLocation: sourceLocation)
  // The exact maxima carry the LP's tolerances (about 1e-9 here).
  let reachable = targets.contains { margins[$0] > 1e-7 }
  switch result.verdict {
  case .robust:
    #expect(
      !reachable,
      "robust, but the exact maxima are \(targets.map { margins[$0] }) — \(context)",
      sourceLocation: sourceLocation)
    #expect(result.counterexample == nil, sourceLocation: sourceLocation)
    if let bound = result.bound {
      let best = targets.map { margins[$0] }.max() ?? -.infinity
      #expect(
        bound >= best - 1e-7, "bound \(bound) below the exact maximum \(best) — \(context)",
        sourceLocation: sourceLocation)
    }
  case .counterexample:
    guard let counterexample = result.counterexample, let target = result.target else {
      Issue.record(
        "counterexample verdict without a point or target — \(context)",
        sourceLocation: sourceLocation)
      return result.verdict
    }
    let point = counterexample.input
    #expect(point.count == 2, sourceLocation: sourceLocation)
    #expect(
      tiny.region.distance(point) <= tiny.region.radius + 1e-9,
      "distance \(tiny.region.distance(point)) — \(context)", sourceLocation: sourceLocation)
    #expect(
      point.allSatisfy { $0 >= 0 && $0 <= 1 }, "\(point) outside the box — \(context)",
      sourceLocation: sourceLocation)
    #expect(
      targets.contains(target), "target \(target) not among \(targets) — \(context)",
      sourceLocation: sourceLocation)
    let outputs = tiny.network.evaluate(point)
    #expect(
      Network.argmax(outputs) != result.label, "label unchanged at \(point) — \(context)",
      sourceLocation: sourceLocation)
    if anyLabel {
      // With target `all`, the result names the label the point reaches.
      #expect(
        target == Network.argmax(outputs), "\(outputs) at \(point) — \(context)",
        sourceLocation: sourceLocation)
    }
    #expect(
      outputs[target] > outputs[result.label], "\(outputs) at \(point) — \(context)",
      sourceLocation: sourceLocation)
    #expect(
      counterexample.predictedLabel == Network.argmax(outputs), sourceLocation: sourceLocation)
    #expect(
      Compare.maxAbsoluteDifference(counterexample.outputs, outputs) == 0,
      sourceLocation: sourceLocation)
    #expect(
      abs(counterexample.distance - tiny.region.distance(point)) < 1e-12,
      sourceLocation: sourceLocation)
  case .unknown:
    break
  }
  return result.verdict
}

@Suite("Verifier against brute force on tiny networks", .tags(.property))
struct VerifierPropertyTests {
  /// 300 seeded cases, in batches so that a failure names its batch and seed.
  static let batches = Array(0..<12)
  static let batchSize: UInt64 = 25 * PropertyTestScale.factor

  @Test(arguments: batches)
  func runnerUpAgreesWithBruteForce(batch: Int) throws {
    var verdicts: [Verdict: Int] = [:]
    for offset in 0..<Self.batchSize {
      let tiny = try TinyCase(seed: UInt64(batch) * Self.batchSize + offset + 1)
      let verifier = try Verifier(network: tiny.network)
      let (label, others) = verifier.labels(at: tiny.region.center)
      let margins = try tiny.exactMargins(label: label)
      #expect(margins[label] == 0)
      var byMethod: [BoundMethod: Verdict] = [:]
      for method in BoundMethod.allCases {
        var options = VerificationOptions()
        options.boundMethod = method
        options.timeLimit = 60
        // The bounds matter to the MILP only: L∞ cases would go to input splitting, and the
        // attack would settle most counterexamples before any bound is computed.
        options.searchStrategy = .milp
        options.attack = offset % 2 == 0
        let result = try verifier.verify(region: tiny.region, options: options)
        #expect(result.label == label)
        #expect(result.targetsSearched == [others[0]])
        byMethod[method] = checkResult(
          result, case: tiny, targets: [others[0]], margins: margins,
          what: "runner-up, \(method) bounds")
      }
      #expect(
        Set(byMethod.values).count == 1,
        "the bound methods disagree: \(byMethod) — \(tiny)")
      verdicts[byMethod[.lp]!, default: 0] += 1

      // `lp` with the tree stopped at once, so that the goal's bounds are always tightened
      // under the cut and searched by a second tree (the default probe settles these tiny
      // cases by itself).
      var tightening = VerificationOptions()
      tightening.boundMethod = .lp
      tightening.lpProbeSeconds = offset % 3 == 0 ? 0.002 : 0
      tightening.timeLimit = 60
      tightening.searchStrategy = .milp
      tightening.attack = false
      let tightened = try verifier.verify(region: tiny.region, options: tightening)
      #expect(
        checkResult(
          tightened, case: tiny, targets: [others[0]], margins: margins,
          what: "runner-up, lp bounds tightened after a stopped tree") == byMethod[.lp])
    }
    // Both answers occur in every batch, so neither check above is vacuous.
    #expect(verdicts[.robust, default: 0] >= 3, "verdicts \(verdicts)")
    #expect(verdicts[.counterexample, default: 0] >= 3, "verdicts \(verdicts)")
  }

  /// Two threads share one goal's MILP (`Verifier.sharedTreeDepth`: split once on a ReLU phase,
  /// GLPK's branch-and-cut on each side). Its verdicts are exact enumeration's and one thread's,
  /// and the subtrees themselves decide robust and counterexample cases alike (no attack, no
  /// walk, no optimised goal bounds to settle them first).
  @Test func sharedTreeAgreesWithOneTree() throws {
    var decidedInSubtrees: [Verdict: Int] = [:]
    for seed in UInt64(40_000)..<UInt64(40_000 + 450 * PropertyTestScale.factor) {
      let tiny = try TinyCase(seed: seed, hiddenLayers: 2 + Int(seed / 2 % 2))
      let verifier = try Verifier(network: tiny.network)
      let (label, others) = verifier.labels(at: tiny.region.center)
      let margins = try tiny.exactMargins(label: label)
      var options = VerificationOptions()
      options.boundMethod = .symbolic
      options.searchStrategy = .milp
      options.attack = false
      options.linearRegionSearch = false
      options.boundOptimizationSteps = 0
      options.timeLimit = 60
      var verdicts: [Verdict] = []
      for threads in [1, 2] {
        options.threads = threads
        let result = try verifier.verify(region: tiny.region, options: options)
        verdicts.append(
          checkResult(
            result, case: tiny, targets: [others[0]], margins: margins,
            what: "runner-up, \(threads) thread(s)"))
        if threads == 2 && result.settledBy == .branchAndCut {
          decidedInSubtrees[result.verdict, default: 0] += 1
        }
      }
      #expect(verdicts[0] == verdicts[1], "one thread and two disagree — \(tiny)")
    }
    #expect(decidedInSubtrees[.robust, default: 0] >= 2, "\(decidedInSubtrees)")
    #expect(decidedInSubtrees[.counterexample, default: 0] >= 5, "\(decidedInSubtrees)")
  }

  /// The automatic search branches on ReLU phases over an L1 ball on a fully connected network
  /// (and past 300 binaries anywhere), and keeps GLPK's tree over an L∞ ball on a narrow one, on
  /// a convolution's sparse layers, with nothing unstable, when asked for the MILP, and when
  /// maximising. End to end, an L1 case of the automatic search is never settled by GLPK's tree.
  @Test func automaticSearchFollowsTheNormAndTheLayers() throws {
    var phaseSearches = 0
    for seed in UInt64(0)..<UInt64(24) {
      let tiny = try TinyCase(seed: 31_000 + seed)
      let verifier = try Verifier(network: tiny.network)
      let l1 = try InputRegion(center: tiny.region.center, norm: .l1, radius: 0.8)
      let linf = try InputRegion(center: tiny.region.center, norm: .linf, radius: 0.3)
      var options = VerificationOptions()
      #expect(verifier.searchesReLUPhases(options: options, binaries: 4, region: l1))
      #expect(!verifier.searchesReLUPhases(options: options, binaries: 4, region: linf))
      #expect(verifier.searchesReLUPhases(options: options, binaries: 301, region: linf))
      #expect(!verifier.searchesReLUPhases(options: options, binaries: 0, region: l1))
      let convolutional = try Verifier(network: verifier.network.withSparseFirstLayer())
      #expect(!convolutional.searchesReLUPhases(options: options, binaries: 4, region: l1))
      options.searchStrategy = .milp
      #expect(!verifier.searchesReLUPhases(options: options, binaries: 4, region: l1))
      options.searchStrategy = .automatic
      options.maximize = true
      #expect(!verifier.searchesReLUPhases(options: options, binaries: 4, region: l1))

      options = VerificationOptions()
      options.attack = false
      options.linearRegionSearch = false
      let wide = try InputRegion(center: tiny.region.center, norm: .l1, radius: 1.5)
      let result = try verifier.verify(region: wide, options: options)
      #expect(result.settledBy != .branchAndCut, "\(result.settledBy) — \(tiny)")
      if result.settledBy == .reluSplit || result.settledBy == .heuristic { phaseSearches += 1 }
    }
    #expect(phaseSearches >= 3, "\(phaseSearches) cases searched by ReLU phases")
  }

  /// `auto` bounds are `lp` on three dense hidden layers or more (unless a MILP is asked for
  /// with more than 300 unstable ReLUs), `symbolic` otherwise; either way the verdicts on these two- and three-layer networks
  /// are those of exact enumeration.
  @Test func automaticBoundsFollowDepthAndUnstableCount() throws {
    var resolved: [BoundMethod: Int] = [:]
    for seed in UInt64(20_000)..<UInt64(20_000 + 20 * PropertyTestScale.factor) {
      let tiny = try TinyCase(seed: seed, hiddenLayers: seed % 4 == 0 ? 2 : 3)
      let verifier = try Verifier(network: tiny.network)
      let symbolic = SymbolicBounds.compute(network: verifier.network, region: tiny.region).bounds
      let method = verifier.resolvedBoundMethod(.automatic, bounds: symbolic)
      #expect(method == (verifier.network.layers.count >= 4 ? .lp : .symbolic), "\(tiny)")
      resolved[method, default: 0] += 1
      for explicit in [BoundMethod.interval, .symbolic, .lp] {
        #expect(verifier.resolvedBoundMethod(explicit, bounds: symbolic) == explicit)
      }
      // A hidden layer stored sparse (a convolution's) keeps symbolic bounds.
      let convolutional = try Verifier(network: verifier.network.withSparseFirstLayer())
      #expect(convolutional.resolvedBoundMethod(.automatic, bounds: symbolic) == .symbolic)
      // Past 300 unstable ReLUs GLPK's tree would not get far whatever its big-M constants; the
      // ReLU-phase search, which the automatic search runs there, still gains from the LPs.
      var wide = symbolic
      wide.layers[0] = LayerBounds(
        lower: [Double](repeating: -1, count: 301), upper: [Double](repeating: 1, count: 301))
      let deep = verifier.network.layers.count >= 4
      #expect(
        verifier.resolvedBoundMethod(.automatic, bounds: wide, searchStrategy: .milp) == .symbolic)
      #expect(
        verifier.resolvedBoundMethod(.automatic, bounds: wide, searchStrategy: .automatic)
          == (deep ? .lp : .symbolic))
      #expect(
        verifier.resolvedBoundMethod(.automatic, bounds: symbolic, searchStrategy: .milp)
          == (deep ? .lp : .symbolic))

      let (label, others) = verifier.labels(at: tiny.region.center)
      let margins = try tiny.exactMargins(label: label)
      var options = VerificationOptions()
      options.timeLimit = 60
      options.searchStrategy = .milp
      options.attack = false
      options.lpProbeSeconds = seed % 2 == 0 ? 0 : nil
      let result = try verifier.verify(region: tiny.region, options: options)
      _ = checkResult(
        result, case: tiny, targets: [others[0]], margins: margins, what: "runner-up, auto bounds")
    }
    #expect(resolved[.lp, default: 0] >= 10 && resolved[.symbolic, default: 0] >= 3, "\(resolved)")
  }

  @Test(arguments: batches)
  func everyTargetAgreesWithBruteForce(batch: Int) throws {
    for offset in 0..<Self.batchSize {
      let tiny = try TinyCase(seed: 10_000 + UInt64(batch) * Self.batchSize + offset)
      let verifier = try Verifier(network: tiny.network)
      let (label, others) = verifier.labels(at: tiny.region.center)
      let margins = try tiny.exactMargins(label: label)
      var options = VerificationOptions()
      options.timeLimit = 60
      options.target = .all
      let all = try verifier.verify(region: tiny.region, options: options)
      #expect(Set(all.targetsSearched).isSubset(of: Set(others)))
      let allVerdict = checkResult(
        all, case: tiny, targets: others, margins: margins, what: "target all", anyLabel: true)
      if allVerdict == .robust {
        #expect(all.targetsSearched == others, "robust for all must search every label — \(tiny)")
        // With two outputs, `all` is the single other label.
        #expect(all.target == (others.count == 1 ? others[0] : nil))
      }
      var singleCounterexamples = 0
      for target in others {
        options.target = .label(target)
        options.boundMethod = target % 2 == 0 ? .lp : .interval
        let single = try verifier.verify(region: tiny.region, options: options)
        #expect(single.targetsSearched == [target])
        #expect(single.target == target)
        if checkResult(
          single, case: tiny, targets: [target], margins: margins, what: "target \(target)")
          == .counterexample
        {
          singleCounterexamples += 1
        }
      }
      #expect(
        (allVerdict == .counterexample) == (singleCounterexamples > 0),
        "target all says \(allVerdict), \(singleCounterexamples) single targets reached — \(tiny)")
    }
  }

  @Test func radiusZeroIsRobust() throws {
    var generator = SplitMix64(seed: 77)
    for _ in 0..<20 {
      let network = RandomNetworks.make(inputs: 3, hidden: [5, 4], outputs: 3, using: &generator)
      let center = RandomNetworks.point(3, using: &generator)
      for norm in PerturbationNorm.allCases {
        let result = try Verifier(network: network).verify(
          region: InputRegion(center: center, norm: norm, radius: 0))
        #expect(result.verdict == .robust)
        #expect(result.settledBy == .bounds)
        if let bound = result.bound {
          let outputs = network.evaluate(center)
          let label = Network.argmax(outputs)
          #expect(bound >= outputs[result.target!] - outputs[label] - 1e-9)
        }
      }
    }
  }

  @Test func statisticsDescribeTheEncoding() throws {
    let tiny = try TinyCase(seed: 3)
    var options = VerificationOptions()
    options.boundMethod = .interval
    let result = try Verifier(network: tiny.network).verify(region: tiny.region, options: options)
    let hidden = tiny.network.hiddenLayerSizes
    try #require(result.statistics.count == hidden.count + 1, "input row plus one per hidden layer")
    #expect(result.statistics[0].outputSize == 2)
    for (row, size) in zip(result.statistics.dropFirst(), hidden) {
      #expect(row.outputSize == size)
      #expect(row.stableActive + row.stableInactive + row.unstable == size)
      #expect(row.binaries == row.unstable)
    }
    #expect(result.binaries == result.statistics.reduce(0) { $0 + ($1.binaries ?? 0) })
    #expect(result.timings.total >= result.timings.bounds)
  }

  /// `--verbose`'s stage lines: the bounds' line first, naming how many goals they left open,
  /// then, with the attack and the walk off, one line per goal searched with its verdict.
  @Test(arguments: Array(1...12) as [UInt64])
  func stageLinesSayWhatEachStageSettled(seed: UInt64) throws {
    let tiny = try TinyCase(seed: seed)
    let output = CollectedOutput()
    var options = VerificationOptions()
    options.target = .all
    options.attack = false
    options.linearRegionSearch = false
    options.searchStrategy = .milp
    options.threads = Int(seed % 2) + 1
    options.solverOutput = { output.append($0) }
    let result = try Verifier(network: tiny.network).verify(region: tiny.region, options: options)
    let stages = output.text.split(separator: "\n").filter { $0.hasPrefix("relumip: ") }
    let labels = tiny.network.outputSize - 1
    let first = try #require(stages.first, "no stage line — \(tiny)")
    #expect(first.hasPrefix("relumip: bounds (symbolic, "), "\(first) — \(tiny)")
    let open = try #require(
      first.firstMatch(of: /: (\d+) of (\d+) goals left open/), "\(first) — \(tiny)")
    #expect(Int(open.2) == labels, "\(first) — \(tiny)")
    let goalLines = stages.dropFirst().filter { $0.hasPrefix("relumip: target ") }
    // Every open goal is searched unless a counterexample ends the search first.
    if result.verdict == .counterexample {
      #expect(goalLines.count <= Int(open.1)!, "\(stages) — \(tiny)")
      #expect(goalLines.contains { $0.contains(": counterexample (") }, "\(stages) — \(tiny)")
    } else {
      #expect(goalLines.count == Int(open.1)!, "\(stages) — \(tiny)")
      let verdicts = Set(goalLines.map { $0.contains(": robust (") ? "robust" : "other" })
      #expect(
        result.verdict == .robust ? verdicts.isSubset(of: ["robust"]) : verdicts.contains("other"),
        "\(result.verdict): \(stages) — \(tiny)")
    }
  }

  /// With LP bounds and the ReLU-phase search, the first short pass over the goals runs on the
  /// symbolic bounds before any LP: a counterexample it finds ends the run with no LP
  /// tightening, and when it leaves goals open the LPs come after it. Either way the verdict is
  /// the one the symbolic bounds alone give.
  @Test func firstPassOverTheGoalsComesBeforeTheLPs() throws {
    var foundFirst = 0
    var tightenedAfter = 0
    for seed in UInt64(0)..<UInt64(300) {
      let tiny = try TinyCase(seed: 7_100 + seed, hiddenLayers: 3)
      guard tiny.network.outputSize == 3 else { continue }
      let verifier = try Verifier(network: tiny.network)
      let output = CollectedOutput()
      var options = VerificationOptions()
      options.target = .all
      options.attack = false
      options.linearRegionSearch = false
      options.searchStrategy = .reluSplit
      options.threads = 1
      options.boundMethod = .lp
      options.solverOutput = { output.append($0) }
      let withLP = try verifier.verify(region: tiny.region, options: options)
      options.boundMethod = .symbolic
      options.solverOutput = nil
      let symbolic = try verifier.verify(region: tiny.region, options: options)
      #expect(
        withLP.verdict == symbolic.verdict, "\(withLP.verdict) ≠ \(symbolic.verdict) — \(tiny)")
      let stages = output.text.split(separator: "\n")
      let firstPass = stages.indices.filter {
        stages[$0].contains("in the first pass over the goals")
      }
      let lp = stages.firstIndex { $0.contains("bounds tightened by LP") }
      if stages.contains(where: { $0.contains(": counterexample in the first pass") }) {
        foundFirst += 1
        #expect(lp == nil, "LPs after the first pass's counterexample: \(stages) — \(tiny)")
        #expect(withLP.verdict == .counterexample, "\(stages) — \(tiny)")
      }
      if let lp {
        tightenedAfter += 1
        #expect(firstPass.allSatisfy { $0 < lp }, "\(stages) — \(tiny)")
      }
    }
    // Both paths ran, so neither check is vacuous.
    #expect(foundFirst >= 3, "\(foundFirst) counterexamples in the first pass")
    #expect(tightenedAfter >= 3, "\(tightenedAfter) runs tightened by LP")
  }

  /// The table a report shows for a run that built no MILP counts what the MILP would have
  /// started from: the same bounds give the same stable and unstable neurons.
  @Test(arguments: [1, 2, 3, 4] as [UInt64])
  func layerStatisticsFromBoundsMatchTheEncodings(seed: UInt64) throws {
    let tiny = try TinyCase(seed: seed)
    var options = VerificationOptions()
    options.boundMethod = .interval
    options.attack = false
    options.linearRegionSearch = false
    options.searchStrategy = .milp
    let verifier = try Verifier(network: tiny.network)
    let result = try verifier.verify(region: tiny.region, options: options)
    let fromBounds = try verifier.layerStatistics(region: tiny.region, boundMethod: .interval)
    try #require(fromBounds.map(\.name) == result.statistics.map(\.name), "\(tiny)")
    for (row, encoded) in zip(fromBounds, result.statistics) {
      #expect(row.outputSize == encoded.outputSize, "\(row.name)")
      #expect(row.stableActive == encoded.stableActive, "\(row.name)")
      #expect(row.stableInactive == encoded.stableInactive, "\(row.name)")
      #expect(row.unstable == encoded.unstable, "\(row.name)")
      #expect(row.variables == nil && row.constraints == nil && row.binaries == nil)
    }
  }
}

/// Text a handler receives, possibly from several threads.
final class CollectedOutput: @unchecked Sendable {
  private let lock = NSLock()
  private var collected = ""

  func append(_ text: String) { lock.withLock { collected += text } }
  var text: String { lock.withLock { collected } }
}

extension Network {
  /// The same network with its first layer replaced by one stored sparse, as a convolution's
  /// is: the automatic choices treat such a network as not fully connected.
  func withSparseFirstLayer() throws -> Network {
    var layers = self.layers
    layers[0] = try AffineLayer(
      matrix: WeightMatrix(
        rows: layers[0].outputSize, columns: layers[0].inputSize,
        rowStarts: Array(0...layers[0].outputSize),
        columnIndices: (0..<layers[0].outputSize).map { $0 % layers[0].inputSize },
        values: [Double](repeating: 1, count: layers[0].outputSize)),
      bias: layers[0].bias, activation: .relu)
    return try Network(layers: layers)
  }
}
