import Foundation
import GLPK

/// How ``Verifier`` searches: the target, the limits, the bounds and the stages to run. The
/// defaults suit most uses; ``validate()`` refuses settings under which a verdict would not mean
/// what it says.
public struct VerificationOptions: Sendable {
  /// The wrong label to reach: the runner-up (default), any other label, or a given one.
  public var target: TargetChoice = .runnerUp
  /// Wall-clock limit in seconds for the whole run (bounds and search); nil for none.
  public var timeLimit: Double?
  /// `auto` by default: symbolic bounds, and LP tightening for the MILP of deeper networks
  /// (`Verifier.resolvedBoundMethod`). Symbolic alone did better on shallow ones: on the seed
  /// network's 80 benchmark instances it answered in 73 s where `lp` took 94 s (same verdicts;
  /// LP tightening stabilised about one more ReLU per case but cost 1-3 s).
  public var boundMethod: BoundMethod = .automatic
  /// Run a gradient attack before building any LP; a re-checked counterexample settles the case.
  public var attack = true
  /// Walk the network's linear regions from the attack's best point and from the root LP's point
  /// (`LinearRegionSearch`) before tightening bounds or branching.
  public var linearRegionSearch = true
  /// Search for the maximum margin instead of stopping at the first counterexample or proof:
  /// no objective cut, no early stop; `objective` is the best re-checked margin and `bound`
  /// GLPK's optimum.
  public var maximize = false
  /// LP coefficients smaller than this are dropped, their worst case moved into the row bounds.
  public var dropThreshold = 1e-9
  /// A proven bound must be at most −robustTolerance for `robust`: GLPK's LP bounds carry
  /// tolerances of about 1e-7, and this keeps a margin above them.
  public var robustTolerance = 1e-6
  /// Rounds of bound tightening over the whole-network LP with the objective cut (each costs two
  /// LPs per unstable neuron); 0 to skip. Used with `boundMethod == .lp`.
  public var cutTighteningRounds = 1
  /// With `lp` bounds, how long GLPK's tree runs on a goal before its bounds are tightened under
  /// the objective cut; nil (the default) for an estimate of half that tightening's cost. For
  /// tests that force the tightening after a probe of a given length.
  var lpProbeSeconds: Double?
  /// Subproblems of the first, short ReLU-phase search of every open goal, before any goal is
  /// searched to the end; 0 to search the goals one after another at once. Measured on MNIST-FC
  /// 256x6 `prop_3_0.05`: seven of its nine goals have a counterexample at the optimised bound's
  /// maximiser within their first 31 subproblems (one within 508), while its first goal, searched
  /// first, ran out the 300 s with every subproblem open.
  var phaseProbeSubproblems = 64
  /// Rounds of ideal-formulation ReLU cuts at the root of the branch-and-cut tree.
  public var rootCutRounds = 20
  /// The most violated cuts added per round.
  public var cutsPerRound = 100
  /// MILP over the whole region, or branch and bound over the input box first.
  public var searchStrategy: SearchStrategy = .automatic
  /// Projected-gradient steps on the lower slopes of each open goal's bound after the symbolic
  /// bounds (`OptimizedBound`); 0 to skip. Also the root's steps in the ReLU-phase search.
  public var boundOptimizationSteps = 60
  /// Slope-optimisation steps on each box's open goals in input splitting; 0 (the default) to
  /// skip. Measured on ACAS Xu: 20 steps cut the boxes of 1_1/prop_5 from 2,675 to 1,607
  /// (8.1 s → 6.5 s) but cost time on prop_1 and prop_10 (6.8 → 7.3 s, 5.1 → 7.0 s), whose
  /// boxes need tighter intermediate bounds, not a tighter last step.
  public var splitBoundOptimizationSteps = 0
  /// Input splitting hands a box to the MILP once at most this many ReLUs are unstable in it.
  public var splitMILPThreshold = 8
  /// The same threshold for boxes whose open goals include a conjunction (several conditions,
  /// such as ACAS Xu property 2's "Y_0 is the largest"), once `splitMILPWarmUpBoxes` boxes have
  /// been searched. A box's bounds rule out one condition at a time, while the MILP's LP holds
  /// them all at once, so such boxes are worth the larger MILP: on ACAS Xu 4_2/property 2, 48
  /// instead of 8 turned a timeout past 227,000 boxes into 1,400 boxes and 8 s.
  public var splitConjunctionMILPThreshold = 48
  /// Boxes searched before `splitConjunctionMILPThreshold` applies: an easy instance ends sooner
  /// on cheap bounds alone (ACAS Xu 1_5/property 2: 0.2 s with 8, 3.2 s with 48).
  public var splitMILPWarmUpBoxes = 300
  /// The most memory GLPK's branch-and-cut tree may hold (bytes, on this thread); past it the
  /// search stops with `unknown` instead of growing until the process is killed. nil for none.
  public var memoryLimit: Int? = 4 << 30
  /// GLPK's terminal output, if wanted, and a line (starting "relumip:") for what each stage of
  /// the search settled: the bounds, the attack, the walk, each goal's search.
  public var solverOutput: OutputHandler?
  /// Threads that share one search: the boxes of input splitting and the subproblems of the
  /// ReLU-phase search are taken from one frontier, each thread with its own GLPK problems (GLPK
  /// keeps its state per thread); on the MILP path the goals are searched side by side, and a
  /// single goal's MILP is split into subtrees (`sharedTreeDepth`). The library's default is one;
  /// the command line's is the cores.
  public var threads = 1
  /// Called about twice a second during a branch and bound (input splitting, the ReLU-phase
  /// search), from whichever thread is working: for a live progress line. nil for none.
  public var progress: (@Sendable (SearchProgress) -> Void)?

  /// The default options.
  public init() {}
}

/// Where a long search stands, for ``VerificationOptions/progress``.
public struct SearchProgress: Sendable {
  /// What is being searched: "boxes" (input splitting) or "subproblems" (ReLU phases).
  public var unit: String
  /// Seconds since the search began.
  public var elapsed: Double
  public var searched: Int
  public var open: Int
  /// A bound on the margin over the region: the smallest, so far in this search, of the largest
  /// bound among the open nodes' parents. Each of those was a true bound when reported (every
  /// input not yet ruled out lay in an open node), so the smallest is one too, and the line never
  /// rises: a child's own bound can come out above its parent's, and the open nodes' largest
  /// with it (MNIST-FC 256x4 `prop_10_0.05` showed 0.73 and then 1.26). The search proves the
  /// goal unreachable once it is below zero. nil before the first split.
  public var bestBound: Double?
  /// The largest margin found at a re-checked point (a counterexample once it is above zero).
  public var bestMargin: Double?
}

/// Reports a search's progress at most every half second; safe to call from every worker.
final class ProgressThrottle: @unchecked Sendable {
  private let report: (@Sendable (SearchProgress) -> Void)?
  private let interval: Duration
  private let lock = NSLock()
  private let start = ContinuousClock.now
  private var last: ContinuousClock.Instant
  /// The smallest bound reported so far (`SearchProgress.bestBound`).
  private var lowestBound: Double?

  init(_ report: (@Sendable (SearchProgress) -> Void)?, interval: Duration = .milliseconds(500)) {
    self.report = report
    self.interval = interval
    last = start
  }

  /// Calls the handler with `progress()` if `interval` has passed since the last call, its bound
  /// the smallest one yet.
  func tick(_ progress: () -> SearchProgress) {
    guard let report else { return }
    let now = ContinuousClock.now
    let due = lock.withLock {
      guard now - last >= interval else { return false }
      last = now
      return true
    }
    guard due else { return }
    var value = progress()
    value.elapsed = seconds(now - start)
    if let bound = value.bestBound {
      value.bestBound = lock.withLock {
        let lowest = min(lowestBound ?? bound, bound)
        lowestBound = lowest
        return lowest
      }
    }
    report(value)
  }
}

/// How the region is searched after the attack.
public enum SearchStrategy: String, Sendable, CaseIterable, Codable {
  /// Input splitting for L∞ regions over at most 16 inputs, else the MILP, or the ReLU-phase
  /// search past 300 binaries or on fully connected networks of 512 hidden neurons or more.
  case automatic = "auto"
  /// The MILP over the whole region.
  case milp
  /// Branch and bound over the input box (L∞ regions), the MILP for nearly stable boxes.
  case split
  /// Branch and bound over ReLU phases with optimised bounds, an LP for each subproblem whose
  /// phases are all known.
  case reluSplit = "relu-split"
}

/// Ties the pipeline together: bounds → encoding → LP → heuristics → branch-and-cut → re-check.
public struct Verifier: Sendable {
  /// The network as encoded: ReLU hidden layers and an affine output layer.
  public let network: Network

  /// Throws if merging the network's affine layers overflows (weights past ±1.8e308).
  public init(network: Network) throws {
    self.network = try network.normalizedForEncoding()
  }

  /// The label the network gives `input`, and the order of the other labels by output, from the
  /// model as read (`Network.reference`), which also re-checks every counterexample.
  public func labels(at input: [Double]) -> (label: Int, others: [Int]) {
    let outputs = network.reference.evaluate(input)
    let label = Network.argmax(outputs)
    let others = outputs.indices.filter { $0 != label }.sorted { outputs[$0] > outputs[$1] }
    return (label, others)
  }

  /// The layer table of `region` without a MILP: the input and each hidden layer, with its
  /// neurons counted as stably active, stably inactive or unstable by `boundMethod`'s bounds over
  /// the region, and no MILP counts (nil). For the report of a run that built no MILP (the
  /// attack or input splitting settled it), which would otherwise show no layers at all;
  /// interval and symbolic bounds take milliseconds, LP tightening seconds.
  public func layerStatistics(region: InputRegion, boundMethod: BoundMethod) throws
    -> [LayerStatistics]
  {
    guard region.dimension == network.inputSize else {
      throw PropertyError.centerSizeMismatch(expected: network.inputSize, found: region.dimension)
    }
    let symbolic =
      boundMethod == .interval ? nil : SymbolicBounds.compute(network: network, region: region)
    var bounds = symbolic?.bounds ?? IntervalBounds.compute(network: network, region: region)
    if resolvedBoundMethod(boundMethod, bounds: bounds) == .lp {
      bounds = try LPBoundTightening.tighten(
        network: network, region: region, bounds: bounds, magnitudes: symbolic?.magnitudes,
        dropThreshold: VerificationOptions().dropThreshold,
        threads: ProcessInfo.processInfo.activeProcessorCount, deadline: nil)
    }
    var rows = [
      LayerStatistics(
        name: "input", outputSize: network.inputSize, variables: nil, constraints: nil,
        binaries: nil, stableActive: 0, stableInactive: 0, unstable: 0)
    ]
    for k in network.layers.indices where network.layers[k].activation == .relu {
      let layer = bounds.layers[k]
      rows.append(
        LayerStatistics(
          name: LayerStatistics.hiddenLayerName(k), outputSize: layer.count, variables: nil,
          constraints: nil, binaries: nil, stableActive: layer.activeCount,
          stableInactive: layer.inactiveCount, unstable: layer.unstableCount))
    }
    return rows
  }

  /// Checks the property's inputs before any work: sizes, the label and the target.
  public func targets(for region: InputRegion, choice: TargetChoice) throws -> (
    label: Int, targets: [Int]
  ) {
    guard region.dimension == network.inputSize else {
      throw PropertyError.centerSizeMismatch(expected: network.inputSize, found: region.dimension)
    }
    guard network.outputSize >= 2 else { throw PropertyError.tooFewOutputs(network.outputSize) }
    let (label, others) = labels(at: region.center)
    switch choice {
    case .runnerUp: return (label, [others[0]])
    case .all: return (label, others)
    case .label(let target):
      guard target >= 0, target < network.outputSize else {
        throw PropertyError.unknownLabel(target, outputs: network.outputSize)
      }
      guard target != label else { throw PropertyError.targetEqualsLabel(target) }
      return (label, [target])
    }
  }

  /// Decides whether an input of the region gets another label than the center's (the target
  /// of `options.target`).
  public func verify(region: InputRegion, options: VerificationOptions = VerificationOptions())
    throws -> VerificationResult
  {
    let (label, targets) = try targets(for: region, choice: options.target)
    let anyLabel = options.target == .all
    let goals = targets.map { OutputGoal.labelChange(label: label, target: $0, anyLabel: anyLabel) }
    let found = try search(region: region, goals: goals, options: options)
    var target = targets.count == 1 ? targets[0] : nil
    if let reached = found.reachedGoal {
      // With target `all` the point may reach another label than the one searched.
      target = anyLabel ? found.counterexample?.predictedLabel : targets[reached]
    }
    return VerificationResult(
      verdict: found.verdict, label: label, target: target,
      targetsSearched: found.goalsSearched.map { targets[$0] },
      counterexample: found.counterexample,
      objective: found.objective, bound: found.bound, nodes: found.nodes, binaries: found.binaries,
      settledBy: found.settledBy, timings: found.timings, statistics: found.statistics,
      reason: found.reason, cause: found.cause)
  }

  /// Decides whether any input of the region reaches any of the goals: bounds computed once for
  /// the region (which may rule every goal out), then the attack, the linear-region walk and the
  /// search on each goal they leave open in turn, stopping at the first re-checked counterexample.
  public func search(
    region: InputRegion, goals: [OutputGoal], options: VerificationOptions = VerificationOptions()
  ) throws -> GoalSearchResult {
    try search(region: region, goals: goals, options: options, attackPoints: nil)
  }

  /// What `auto` bounds mean for a search over the whole region: `lp` (LP tightening; on the
  /// MILP path also tightening under each goal's cut after a first look by the tree) on networks
  /// of three fully connected hidden layers or more (dense weight matrices), where
  /// back-substitution's looseness compounds; `symbolic` otherwise, and for a MILP (`--search
  /// milp`) whose symbolic bounds leave more than 300 ReLUs unstable, where GLPK's tree would not
  /// get far whatever its big-M constants.
  ///
  /// Measured on MNIST-FC 256x4 at 300 s: prop_0_0.03 unsat in 52 s with `lp` (a timeout with
  /// `symbolic`), prop_5_0.03 92 s (217 s), prop_13_0.03 12 s (33 s); prop_10_0.05 (324
  /// unstable with `symbolic`, 182 after the LPs) 29 s against 101 s. On 256x6, prop_5_0.03
  /// (926 unstable, 781 after 94 s of LPs on two threads) was proven in 261 s, where with
  /// `symbolic` its first goal's bound stayed above 340 with every subproblem open. On two
  /// hidden layers `symbolic` did better (the seed network's 80 benchmark cases: 73 s against
  /// 94 s with `lp`), and on oval21's convolutional networks the LPs stabilised one ReLU of 366
  /// in the two cases they applied to, costing 2-4 s.
  func resolvedBoundMethod(
    _ method: BoundMethod, bounds: NetworkBounds, searchStrategy: SearchStrategy = .automatic
  ) -> BoundMethod {
    guard method == .automatic else { return method }
    guard network.isDeepAndFullyConnected else { return .symbolic }
    return searchStrategy != .milp || bounds.unstableCount <= 300 ? .lp : .symbolic
  }

  /// How deep one goal's MILP is split on ReLU phases so that `options.threads` threads share
  /// it, each running GLPK's branch-and-cut on its own subtrees: ⌈log₂ threads⌉ splits, so two
  /// threads get two subtrees. Only where GLPK's one tree would otherwise leave the other threads
  /// idle: one open goal (several are searched side by side already), symbolic bounds (`lp`
  /// bounds are tightened again under each goal's cut, which every subtree would repeat), a MILP
  /// with binaries to split on, and not maximising. nil otherwise.
  ///
  /// Measured on the seed network's hardest robust cases: the two subtrees together take longer
  /// than the one tree (each GLPK root repeats its cut rounds and pseudocost initialisation), so
  /// the gain is the slower subtree's time against the whole tree's.
  static func sharedTreeDepth(options: VerificationOptions, openGoals: Int, binaries: Int) -> Int? {
    guard options.threads > 1, openGoals == 1, !options.maximize, binaries > 0,
      options.boundMethod == .symbolic, options.searchStrategy != .split
    else { return nil }
    var depth = 0
    while 1 << depth < options.threads { depth += 1 }
    return depth
  }

  /// One goal's MILP shared among threads (`sharedTreeDepth`). Should a subtree end `unknown` for
  /// a reason other than a limit (GLPK's word that a subtree's LP is infeasible goes unconfirmed),
  /// GLPK's one tree gets the time left, so sharing never loses a verdict that tree would give.
  private func searchSharedTree(
    goal: OutputGoal, region: InputRegion, encoding: MILPEncoding, magnitudes: [[Double]],
    depth: Int, options: VerificationOptions, deadline: ContinuousClock.Instant?
  ) throws -> TargetSearch.Outcome {
    let shared = NeuronSplittingSearch(
      network: network, region: region, goal: goal, rootBounds: encoding.bounds,
      magnitudes: magnitudes, options: options.sharingMemoryLimit(among: options.threads),
      deadline: deadline,
      statistics: encoding.statistics, binaries: encoding.binaryCount)
    shared.branchAndCutDepth = depth
    let outcome = try shared.run()
    guard outcome.verdict == .unknown, outcome.cause != .timeLimit,
      outcome.cause != .memoryLimit
    else { return outcome }
    logStage(
      options,
      "\(goal.name): the shared tree ended unknown (\(outcome.reason ?? "no reason")); "
        + "GLPK's one tree searches again")
    let search = TargetSearch(
      encoding: encoding, network: network, region: region, goal: goal, options: options,
      deadline: deadline)
    return try search.run()
  }

  /// Whether a goal's search branches on ReLU phases (`NeuronSplittingSearch`) rather than
  /// running GLPK's branch-and-cut on the whole MILP: when asked, or, automatically, when the
  /// MILP has more binaries than GLPK's tree handles well, or the network is fully connected
  /// with 512 hidden neurons or more, where GLPK's node LPs (a dense 784×256 first layer alone is
  /// 200,000 nonzeros) cost far more than a subproblem's back-substitution.
  ///
  /// Measured at 120 s on MNIST-FC 256x2 (512 hidden neurons, at most 172 binaries): prop_1_0.03
  /// 23.3 s against GLPK's 81.9 s, prop_3_0.03 2.7 s against 76.3 s, all 30 in 35 s against
  /// 178 s.
  ///
  /// Also for any fully connected network over an L1 ball, since its extremes no longer sort
  /// every input: on the seed network (100 hidden neurons) at δ 5, two threads, one run after
  /// the other on the same machine, examples 1, 7, 9, 10, 13 took 7.7, 0.16, 4.3, 0.65, 4.9 s
  /// against GLPK's 15.1, 2.4, 6.3, 2.5, 4.4 s, and the seven searched at δ 2 0.08–0.45 s
  /// against 0.15–1.4 s, same verdicts. (On one thread the two are even on the hardest: 12.8
  /// against 13.7 s on example 1, 6.8 against 5.3 s on example 9.) Its subproblems share both
  /// threads, where GLPK's tree is one thread's or a lopsided split.
  func searchesReLUPhases(options: VerificationOptions, binaries: Int, region: InputRegion)
    -> Bool
  {
    guard !options.maximize else { return false }
    switch options.searchStrategy {
    case .reluSplit: return true
    case .automatic:
      return binaries > 300
        || (binaries > 0
          && (isWideAndFullyConnected || (region.norm == .l1 && network.hiddenLayersAreDense)))
    case .milp, .split: return false
    }
  }

  /// Fully connected (dense weight matrices) with at least 512 neurons in the hidden layers.
  var isWideAndFullyConnected: Bool {
    network.hiddenLayersAreDense && network.hiddenNeuronCount >= 512
  }

  /// `search`, where `attackPoints` (one per goal, or nil) are the attack's best points from a
  /// caller that ran the attack itself (with `options.attack` off).
  func search(
    region: InputRegion, goals: [OutputGoal], options: VerificationOptions,
    attackPoints: [[Double]?]?
  ) throws -> GoalSearchResult {
    let clock = ContinuousClock()
    let start = clock.now
    let deadline = options.timeLimit.map { start + .seconds($0) }
    guard region.dimension == network.inputSize else {
      throw PropertyError.centerSizeMismatch(expected: network.inputSize, found: region.dimension)
    }
    for goal in goals where goal.largestOutput >= network.outputSize {
      throw PropertyError.unknownLabel(goal.largestOutput, outputs: network.outputSize)
    }
    try options.validate()
    try checkGoalsReadLogits(goals)
    var timings = Timings()

    // Bounds first: they take milliseconds, and a goal whose margin they put below −tolerance
    // needs no attack, walk or LP. At small radii that is every goal of most instances, which the
    // attack (tens of milliseconds a goal) would otherwise run on first.
    let boundsStart = clock.now
    let cheapBounds: NetworkBounds
    var magnitudes: [[Double]]?
    var goalBounds: [Double]
    if options.boundMethod == .interval {
      cheapBounds = IntervalBounds.compute(network: network, region: region)
      let outputs = cheapBounds.layers[network.layers.count - 1]
      goalBounds = goals.map { $0.marginUpperBound(lower: outputs.lower, upper: outputs.upper) }
    } else {
      let symbolic = SymbolicBounds.compute(network: network, region: region, deadline: deadline)
      cheapBounds = symbolic.bounds
      magnitudes = symbolic.magnitudes
      goalBounds = goals.map {
        SymbolicBounds.marginUpperBound(
          of: $0, network: network, outputBounds: symbolic.bounds.layers[network.layers.count - 1],
          relaxations: symbolic.relaxations, magnitudes: symbolic.magnitudes, region: region
        ).bound
      }
    }
    // Optimised slopes for the goals these bounds leave open: tens of steps, each two passes over
    // the weights, often settle what would otherwise take thousands of branch-and-bound nodes.
    if let magnitudes, options.boundOptimizationSteps > 0 {
      for index in goals.indices where goalBounds[index] > -options.robustTolerance {
        goalBounds[index] = min(
          goalBounds[index],
          OptimizedBound.marginUpperBound(
            of: goals[index], network: network, region: region, bounds: cheapBounds,
            magnitudes: magnitudes, iterations: options.boundOptimizationSteps,
            target: -options.robustTolerance, deadline: deadline))
      }
    }
    timings.bounds = seconds(clock.now - boundsStart)
    let openGoals =
      options.maximize
      ? Array(goals.indices) : goals.indices.filter { goalBounds[$0] > -options.robustTolerance }
    logStage(
      options,
      "bounds (\(options.boundMethod == .interval ? "interval" : "symbolic"), "
        + "\(format(timings.bounds)) s, \(cheapBounds.unstableCount) "
        + "unstable ReLUs): \(openGoals.count) of \(goals.count) goals left open, largest margin "
        + "bound \(format(goalBounds.max() ?? -.infinity))")
    var encodingOptions = MILPEncoding.Options()
    encodingOptions.dropThreshold = options.dropThreshold
    if openGoals.isEmpty {
      // The encoding is built for its statistics only (the layer table of the model proven).
      let encoding = try MILPEncoding(
        network: network, region: region, bounds: cheapBounds, options: encodingOptions)
      timings.total = seconds(clock.now - start)
      return GoalSearchResult(
        verdict: .robust, reachedGoal: nil, goalsSearched: Array(goals.indices),
        counterexample: nil, objective: nil, bound: goalBounds.max(), nodes: 0,
        binaries: encoding.binaryCount, settledBy: .bounds, timings: timings,
        statistics: encoding.statistics, reason: nil)
    }

    // The attack's best point for each goal, where the linear-region walk starts later.
    var startPoints = attackPoints ?? Array(repeating: nil, count: goals.count)
    if options.attack && !options.maximize {
      let attackStart = clock.now
      let attack = attack(region: region, goals: goals, only: openGoals, deadline: deadline)
      startPoints = attack.points
      logStage(
        options,
        "attack (\(format(seconds(clock.now - attackStart))) s): "
          + (attack.found.map {
            "counterexample for \(goals[$0.goal].name), margin \(format($0.margin))"
          }
            ?? "no counterexample"))
      if let (index, found, margin) = attack.found {
        timings.total = seconds(clock.now - start)
        timings.solve = timings.total - timings.bounds
        return GoalSearchResult(
          verdict: .counterexample, reachedGoal: index, goalsSearched: [index],
          counterexample: found, objective: margin, bound: nil, nodes: 0, binaries: 0,
          settledBy: .attack, timings: timings, statistics: [], reason: nil)
      }
    }

    if InputSplittingSearch.applies(to: region, options: options) && !options.maximize {
      let splitting = InputSplittingSearch(
        network: network, region: region, goals: goals, options: options, deadline: deadline)
      var result = try splitting.run()
      logStage(
        options,
        "input splitting: \(result.verdict) after \(result.nodes) boxes"
          + (result.reason.map { " (\($0))" } ?? ""))
      timings.total = seconds(clock.now - start)
      timings.solve = timings.total - timings.bounds
      result.timings = timings
      return result
    }

    var encoding = try MILPEncoding(
      network: network, region: region, bounds: cheapBounds, options: encodingOptions)

    // Counterexamples the attack missed are often a few linear regions away from its best point
    // or from the LP's; walking there costs a few LPs, far less than tightening the bounds.
    if options.linearRegionSearch && !options.maximize {
      let walkStart = clock.now
      let found = try walkLinearRegions(
        encoding: encoding, region: region, goals: goals, only: openGoals, starts: startPoints,
        deadline: deadline)
      logStage(
        options,
        "linear-region walk (\(format(seconds(clock.now - walkStart))) s): "
          + (found.map { "counterexample for \(goals[$0.goal].name)" } ?? "no counterexample"))
      if let (index, counterexample, margin) = found {
        timings.total = seconds(clock.now - start)
        timings.solve = seconds(clock.now - walkStart)
        return GoalSearchResult(
          verdict: .counterexample, reachedGoal: index, goalsSearched: [index],
          counterexample: counterexample, objective: margin, bound: nil, nodes: 0,
          binaries: encoding.binaryCount, settledBy: .heuristic, timings: timings,
          statistics: encoding.statistics, reason: nil)
      }
    }

    // `auto` settles here, for the search over the whole region only: input splitting has
    // returned, and its boxes' MILPs keep symbolic bounds.
    var searchOptions = options
    searchOptions.boundMethod = resolvedBoundMethod(
      options.boundMethod, bounds: cheapBounds, searchStrategy: options.searchStrategy)

    /// One goal's ReLU-phase search over this encoding, stopping at `end`.
    func phaseSearch(
      _ goal: OutputGoal, magnitudes: [[Double]], until end: ContinuousClock.Instant?
    ) -> NeuronSplittingSearch {
      NeuronSplittingSearch(
        network: network, region: region, goal: goal, rootBounds: encoding.bounds,
        magnitudes: magnitudes, options: searchOptions, deadline: end,
        statistics: encoding.statistics, binaries: encoding.binaryCount)
    }
    // The ReLU-phase search on one goal can run out the clock while another goal's search
    // would find a counterexample in its first subproblems (at its optimised bound's maximiser).
    // So every open goal first gets a short search (a few subproblems, and at most a quarter of
    // the time left over all goals); the goals it leaves open are then searched to the end, one
    // after another. The pass runs on the symbolic bounds, before any LP tightening: a goal with
    // a counterexample near its bound's maximiser needs no tighter bounds (MNIST-FC 256x6
    // `prop_3_0.05`: 10.7 s with the pass first, 143.7 s after 130 s of LPs).
    var probed: [Int: TargetSearch.Outcome] = [:]
    var probeNodes = 0
    if let magnitudes, !options.maximize, openGoals.count > 1, options.phaseProbeSubproblems > 0,
      searchesReLUPhases(options: options, binaries: encoding.binaryCount, region: region)
    {
      let limit = deadline.map {
        (end: $0, share: max(0, seconds($0 - clock.now)) / Double(4 * openGoals.count))
      }
      for index in openGoals {
        let search = phaseSearch(
          goals[index], magnitudes: magnitudes,
          until: limit.map { min(clock.now + .seconds($0.share), $0.end) })
        search.subproblemLimit = options.phaseProbeSubproblems
        let outcome = try search.run()
        guard outcome.verdict != .unknown else {
          // Searched again below; the subproblems spent here count all the same.
          probeNodes += outcome.nodes
          continue
        }
        probed[index] = outcome
        logStage(
          options,
          "\(goals[index].name): \(outcome.verdict) in the first pass over the goals "
            + "(\(outcome.nodes) subproblems)")
        if outcome.verdict == .counterexample { break }
      }
    }
    // Goals the first pass left open: none once it found a counterexample.
    let unsettledGoals =
      probed.values.contains { $0.verdict == .counterexample }
      ? [] : openGoals.filter { probed[$0] == nil }
    if searchOptions.boundMethod == .lp && !unsettledGoals.isEmpty {
      let tighteningStart = clock.now
      // At most half the time left, so the search gets the rest: past it the layers not yet
      // tightened keep their symbolic bounds.
      let tighteningDeadline = deadline.map { tighteningStart + (($0 - tighteningStart) / 2) }
      let bounds = try LPBoundTightening.tighten(
        network: network, region: region, bounds: cheapBounds, magnitudes: magnitudes,
        dropThreshold: options.dropThreshold, threads: options.threads,
        deadline: tighteningDeadline)
      encoding = try MILPEncoding(
        network: network, region: region, bounds: bounds, options: encodingOptions)
      timings.bounds += seconds(clock.now - tighteningStart)
      logStage(
        options,
        "bounds tightened by LP (\(format(seconds(clock.now - tighteningStart))) s): "
          + "\(bounds.unstableCount) unstable ReLUs")
    }

    var result = GoalSearchResult(
      verdict: .robust, reachedGoal: nil, goalsSearched: [], counterexample: nil, objective: nil,
      bound: nil, nodes: probeNodes, binaries: encoding.binaryCount, settledBy: .bounds,
      timings: timings, statistics: encoding.statistics, reason: nil)
    var unknownReasons: [String] = []
    var unknownCauses: [UnknownCause] = []
    var cutBoundsTime = 0.0
    let solveStart = clock.now
    let searchesPhases =
      magnitudes != nil
      && searchesReLUPhases(options: options, binaries: encoding.binaryCount, region: region)
    // GLPK's branch-and-cut runs on one thread; with several goals open the other threads take
    // the other goals. (Maximising searches every goal to the end, so it stays sequential.)
    var concurrentOutcomes: [Int: TargetSearch.Outcome]?
    if !searchesPhases && !options.maximize && options.threads > 1 && unsettledGoals.count > 1 {
      concurrentOutcomes = try searchGoalsConcurrently(
        unsettledGoals, goals: goals, goalBounds: goalBounds, region: region,
        bounds: encoding.bounds,
        encodingOptions: encodingOptions, options: searchOptions, deadline: deadline)
    }
    let counterexampleProbed = probed.values.contains { $0.verdict == .counterexample }
    for (index, goal) in goals.enumerated() {
      if !openGoals.contains(index) {
        result.goalsSearched.append(index)
        result.bound = max(result.bound ?? -.infinity, goalBounds[index])
        continue
      }
      let outcome: TargetSearch.Outcome
      if let settled = probed[index] {
        outcome = settled
      } else if let concurrentOutcomes {
        // Left out: stopped by, or never started before, another goal's counterexample.
        guard let finished = concurrentOutcomes[index] else { continue }
        outcome = finished
      } else if counterexampleProbed {
        // Another goal's counterexample from the first pass settles the property.
        continue
      } else if let magnitudes, searchesPhases {
        var phases = try phaseSearch(goal, magnitudes: magnitudes, until: deadline).run()
        // The automatic choice of the ReLU-phase search over an L1 ball is for speed alone, so
        // where it ends without an answer for another reason than the limits (GLPK calling a
        // subproblem's LP infeasible where the bounds could not confirm it), GLPK's tree on the
        // whole MILP, which the automatic search ran there before, gets the time left.
        if phases.verdict == .unknown, phases.cause != .timeLimit, phases.cause != .memoryLimit,
          options.searchStrategy == .automatic, region.norm == .l1, encoding.binaryCount <= 300
        {
          let search = TargetSearch(
            encoding: encoding, network: network, region: region, goal: goal,
            options: searchOptions, deadline: deadline)
          let nodes = phases.nodes
          phases = try search.run()
          phases.nodes += nodes
        }
        outcome = phases
      } else if let magnitudes,
        let depth = Self.sharedTreeDepth(
          options: searchOptions, openGoals: openGoals.count, binaries: encoding.binaryCount)
      {
        outcome = try searchSharedTree(
          goal: goal, region: region, encoding: encoding, magnitudes: magnitudes, depth: depth,
          options: searchOptions, deadline: deadline)
      } else {
        let search = TargetSearch(
          encoding: encoding, network: network, region: region, goal: goal, options: searchOptions,
          deadline: deadline)
        outcome = try search.run()
      }
      result.goalsSearched.append(index)
      logStage(
        options,
        "\(goal.name): \(outcome.verdict) (\(outcome.settledBy.rawValue), \(outcome.nodes) nodes"
          + (outcome.bound.map { ", bound \(format($0))" } ?? "")
          + (outcome.boundsTime > 0
            ? ", \(format(outcome.boundsTime)) s tightening bounds under the cut" : "")
          + (outcome.reason.map { "; \($0)" } ?? "") + ")")
      result.nodes += outcome.nodes
      result.statistics = outcome.statistics
      result.binaries = outcome.binaries
      cutBoundsTime += outcome.boundsTime
      if let objective = outcome.objective {
        result.objective = max(result.objective ?? -.infinity, objective)
      }
      if let bound = outcome.bound { result.bound = max(result.bound ?? -.infinity, bound) }
      switch outcome.verdict {
      case .counterexample:
        result.verdict = .counterexample
        result.reachedGoal = index
        result.counterexample = outcome.counterexample
        result.settledBy = outcome.settledBy
        unknownReasons.removeAll()
        unknownCauses.removeAll()
      case .robust:
        if outcome.settledBy == .branchAndCut || outcome.settledBy == .reluSplit {
          result.settledBy = outcome.settledBy
        }
      case .unknown:
        unknownReasons.append("\(goal.name): \(outcome.reason ?? "no answer")")
        unknownCauses.append(outcome.cause ?? .solver)
        result.settledBy = .none
      }
      if result.verdict == .counterexample { break }
    }
    if result.verdict != .counterexample && !unknownReasons.isEmpty {
      result.verdict = .unknown
      result.bound = nil
      result.reason = unknownReasons.joined(separator: "; ")
      result.cause = UnknownCause.combined(unknownCauses)
    }
    if result.verdict == .counterexample, goals.count > 1 { result.bound = nil }
    timings.bounds += cutBoundsTime
    // With goals searched at once their bound-tightening times overlap.
    timings.solve = max(0, seconds(clock.now - solveStart) - cutBoundsTime)
    timings.total = seconds(clock.now - start)
    result.timings = timings
    return result
  }
}

/// A stage's line for `--verbose` (`VerificationOptions.solverOutput`).
func logStage(_ options: VerificationOptions, _ message: @autoclosure () -> String) {
  options.solverOutput?("relumip: \(message())\n")
}

/// A number for a log line: four significant digits.
private func format(_ value: Double) -> String {
  value.isFinite ? String(format: "%.4g", value) : "\(value)"
}

extension Verifier {
  /// One open goal, ordered by its bound: the goals most likely reachable are searched first.
  private struct GoalNode: FrontierNode {
    var index: Int
    var parentBound: Double

    static func < (a: GoalNode, b: GoalNode) -> Bool { a.parentBound < b.parentBound }
    static func == (a: GoalNode, b: GoalNode) -> Bool { a.parentBound == b.parentBound }
  }

  /// GLPK's branch-and-cut on several goals at once, a goal per thread at a time, each on an
  /// encoding of its own (GLPK keeps its state per thread); the first re-checked counterexample
  /// stops the others. The outcomes by goal index; a goal stopped that way, or never started, is
  /// left out.
  func searchGoalsConcurrently(
    _ indices: [Int], goals: [OutputGoal], goalBounds: [Double], region: InputRegion,
    bounds: NetworkBounds, encodingOptions: MILPEncoding.Options, options: VerificationOptions,
    deadline: ContinuousClock.Instant?
  ) throws -> [Int: TargetSearch.Outcome] {
    let frontier = SharedFrontier(
      indices.map { GoalNode(index: $0, parentBound: goalBounds[$0]) })
    let outcomes = GoalOutcomes()
    let threads = min(options.threads, indices.count)
    let goalOptions = options.sharingMemoryLimit(among: threads)
    try frontier.search(
      threads: threads, name: "relumip-goals",
      expand: { node in
        let encoding = try MILPEncoding(
          network: network, region: region, bounds: bounds, options: encodingOptions)
        let search = TargetSearch(
          encoding: encoding, network: network, region: region, goal: goals[node.index],
          options: goalOptions, deadline: deadline)
        search.shouldStop = { frontier.isStopped }
        let outcome = try search.run()
        if search.stoppedByCaller { return [] }
        outcomes.record(outcome, for: node.index)
        if outcome.verdict == .counterexample { frontier.stop() }
        return []
      }, afterEach: {})
    return outcomes.all
  }
}

/// The outcomes of goals searched on several threads.
private final class GoalOutcomes: @unchecked Sendable {
  private let lock = NSLock()
  private var outcomes: [Int: TargetSearch.Outcome] = [:]

  func record(_ outcome: TargetSearch.Outcome, for index: Int) {
    lock.withLock { outcomes[index] = outcome }
  }

  var all: [Int: TargetSearch.Outcome] { lock.withLock { outcomes } }
}

extension VerificationOptions {
  /// These options for one of `threads` threads running GLPK side by side: GLPK counts memory
  /// per thread, and the limit holds for the verification as a whole.
  func sharingMemoryLimit(among threads: Int) -> VerificationOptions {
    var perThread = self
    perThread.memoryLimit = memoryLimit.map { $0 / threads }
    return perThread
  }

  /// Refuses settings under which a verdict would not mean what it says.
  public func validate() throws {
    guard robustTolerance.isFinite, robustTolerance > 0 else {
      // With 0, a bound that GLPK's tolerances put at −1e-9 over a true maximum of +1e-9 would
      // read as a proof.
      throw PropertyError.invalidOption(
        name: "robustTolerance", reason: "must be a finite number > 0, not \(robustTolerance)")
    }
    guard dropThreshold.isFinite, dropThreshold >= 0 else {
      throw PropertyError.invalidOption(
        name: "dropThreshold", reason: "must be a finite number ≥ 0, not \(dropThreshold)")
    }
    guard splitMILPThreshold >= 0, splitConjunctionMILPThreshold >= 0, splitMILPWarmUpBoxes >= 0
    else {
      throw PropertyError.invalidOption(
        name: "splitMILPThreshold",
        reason:
          "the MILP thresholds and warm-up must be ≥ 0, not \(splitMILPThreshold), "
          + "\(splitConjunctionMILPThreshold) and \(splitMILPWarmUpBoxes)")
    }
    guard splitBoundOptimizationSteps >= 0 else {
      throw PropertyError.invalidOption(
        name: "splitBoundOptimizationSteps",
        reason: "must be ≥ 0, not \(splitBoundOptimizationSteps)")
    }
    guard boundOptimizationSteps >= 0 else {
      throw PropertyError.invalidOption(
        name: "boundOptimizationSteps", reason: "must be ≥ 0, not \(boundOptimizationSteps)")
    }
    guard threads >= 1 else {
      throw PropertyError.invalidOption(name: "threads", reason: "must be ≥ 1, not \(threads)")
    }
    if let timeLimit, timeLimit.isNaN {
      throw PropertyError.invalidOption(name: "timeLimit", reason: "is NaN")
    }
  }
}

extension Verifier {
  /// Refuses goals that would mean something else on the logits than on the model's outputs: the
  /// searches leave out a final Softmax or LogSoftmax, which keeps the order of any two outputs
  /// (so `Y_i ≥ Y_j` means the same on either side of it) and nothing else.
  func checkGoalsReadLogits(_ goals: [OutputGoal]) throws {
    guard let transform = network.reference.outputTransform else { return }
    for goal in goals {
      for condition in goal.conditions {
        let terms = condition.terms
        let comparesTwoOutputs =
          terms.count == 2 && terms[0].weight == -terms[1].weight && condition.constant == 0
        guard comparesTwoOutputs else {
          throw ModelError(
            file: transform.file, location: transform.location,
            reason:
              "the condition \(condition) is on the model's \(transform.kind.rawValue) outputs,"
              + " which the search leaves out; only comparisons between two outputs (such as"
              + " Y_0 >= Y_1), which \(transform.kind.rawValue) does not change, are supported"
              + " on such a model")
        }
      }
    }
  }

  /// The gradient attack on each goal of `only` (indices into `goals`) in turn until one reaches
  /// its goal: the best point for each goal attacked, and the first re-checked counterexample.
  func attack(
    region: InputRegion, goals: [OutputGoal], only: [Int], deadline: ContinuousClock.Instant?
  ) -> (
    points: [[Double]?], found: (goal: Int, counterexample: Counterexample, margin: Double)?
  ) {
    var points: [[Double]?] = Array(repeating: nil, count: goals.count)
    for index in only {
      let goal = goals[index]
      var attack = GradientAttack(network: network, region: region)
      attack.deadline = deadline
      let (point, _) = attack.run(goal: goal)
      points[index] = point
      let (found, margin) = Counterexample.check(
        point, network: network, region: region, goal: goal)
      if let found { return (points, (index, found, margin)) }
    }
    return (points, nil)
  }

  /// For each goal in turn: the root LP, then a linear-region walk from the LP's point and from
  /// the goal's start point (the attack's best). Returns the first re-checked counterexample.
  func walkLinearRegions(
    encoding: MILPEncoding, region: InputRegion, goals: [OutputGoal], only: [Int],
    starts: [[Double]?], deadline: ContinuousClock.Instant?
  ) throws -> (goal: Int, counterexample: Counterexample, margin: Double)? {
    var lpOptions = SimplexOptions()
    lpOptions.method = .dualThenPrimal
    // A heuristic: at most a twentieth of the time left, and 10 s, so that a walk that finds
    // nothing leaves the time to the searches that can prove or find more. The walks that found
    // a counterexample in the benchmarks did so within 2 s (MNIST-FC 256x2 `prop_0_0.05` and
    // `prop_9_0.05`); on MNIST-FC 256x6 (over 1,000 unstable ReLUs, slow LPs) the walk took
    // 27-30 s of the 30 s it was allowed on every instance seen and found nothing, while the
    // ReLU-phase search's first pass then found `prop_3_0.05`'s counterexample within a second.
    let now = ContinuousClock.now
    let budget = deadline.map { min(seconds($0 - now) / 20, 10) } ?? 10
    let walkDeadline = now + .seconds(max(0, budget))
    for index in only {
      let goal = goals[index]
      if ContinuousClock.now >= walkDeadline { return nil }
      try encoding.setGoal(goal)
      lpOptions.timeLimit = max(0, seconds(walkDeadline - ContinuousClock.now))
      guard try encoding.solveRelaxation(lpOptions) == .solved,
        encoding.relaxationStatus == .optimal
      else {
        continue
      }
      // A goal the relaxation already rules out has no region to walk to.
      if encoding.relaxationObjective < 0 { continue }
      var points = [encoding.inputPoint(from: encoding.relaxationValues)]
      if let start = starts[index] { points.append(start) }
      var walk = LinearRegionSearch(
        encoding: encoding, network: network, region: region, goal: goal)
      walk.deadline = walkDeadline
      for point in points {
        let outcome = try walk.run(from: point)
        if let found = outcome.counterexample { return (index, found, outcome.bestMargin) }
      }
    }
    return nil
  }
}

/// The answer of `Verifier.search`: whether any input of the region reaches any of the goals.
public struct GoalSearchResult: Sendable, Equatable {
  public var verdict: Verdict
  /// The index of the goal the counterexample reaches.
  public var reachedGoal: Int?
  /// The indices of the goals searched, in order.
  public var goalsSearched: [Int]
  public var counterexample: Counterexample?
  /// The best margin found at a re-checked point.
  public var objective: Double?
  /// A proven upper bound on the margin over the region (the largest over the goals searched).
  public var bound: Double?
  public var nodes: Int
  public var binaries: Int
  public var settledBy: SettledBy
  public var timings: Timings
  public var statistics: [LayerStatistics]
  /// Why the verdict is `unknown`.
  public var reason: String?
  /// Why the verdict is `unknown`, as a value.
  public var cause: UnknownCause? = nil
}

/// Seconds left until `deadline` (0 once past it), or nil without one: a solver's time limit.
func timeLeft(_ deadline: ContinuousClock.Instant?) -> Double? {
  deadline.map { max(0, seconds($0 - ContinuousClock.now)) }
}

func seconds(_ duration: Duration) -> Double {
  let (whole, attoseconds) = duration.components
  return Double(whole) + Double(attoseconds) * 1e-18
}
