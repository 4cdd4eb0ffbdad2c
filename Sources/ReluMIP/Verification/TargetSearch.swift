import GLPK

/// The search for one goal (one target label): root LP, LP-point heuristic, then GLPK's branch-and-cut with
/// a callback that stops on a re-checked counterexample or a proven bound.
final class TargetSearch {
  struct Outcome {
    var verdict: Verdict
    var settledBy: SettledBy
    var counterexample: Counterexample?
    var objective: Double?
    var bound: Double?
    var nodes = 0
    var reason: String?
    var cause: UnknownCause?
    /// The model the last stage solved (after bound tightening under the objective cut).
    var statistics: [LayerStatistics]
    var binaries: Int
    /// Time spent tightening bounds under the objective cut.
    var boundsTime: Double
  }

  private(set) var encoding: MILPEncoding
  let network: Network
  let region: InputRegion
  let goal: OutputGoal
  let options: VerificationOptions
  let deadline: ContinuousClock.Instant?

  /// Asked at every callback: true ends the search with `unknown` and `stoppedByCaller` set (the
  /// caller has its answer elsewhere, e.g. another goal's counterexample).
  var shouldStop: (() -> Bool)?
  /// Whether `shouldStop` ended the search.
  private(set) var stoppedByCaller = false

  private var counterexample: Counterexample?
  private var bestObjective: Double?
  private var provenBound: Double?
  private var lastIncumbent = -Double.infinity
  private var rejectedIncumbent = false
  private var stoppedOnBound = false
  private var memoryExceeded = false
  private var timedOut = false
  /// When the root's cut rounds must end: a share of the time left when branch-and-cut starts.
  private var cutDeadline: ContinuousClock.Instant?
  /// When the tree that runs before the bounds are tightened under the cut must stop, and
  /// whether it did.
  private var probeDeadline: ContinuousClock.Instant?
  private var probeExpired = false
  private var nodes = 0
  /// Nodes of the trees searched before the current one.
  private var earlierTreesNodes = 0
  private var boundsTime = 0.0
  private var cutRounds = 0
  /// What the callback has learnt about the cost of the work GLPK does without calling back.
  private var glpkCosts = GLPKCosts()

  init(
    encoding: MILPEncoding, network: Network, region: InputRegion, goal: OutputGoal,
    options: VerificationOptions, deadline: ContinuousClock.Instant?
  ) {
    self.encoding = encoding
    self.network = network
    self.region = region
    self.goal = goal
    self.options = options
    self.deadline = deadline
  }

  private var tolerance: Double { options.robustTolerance }

  private var remainingTime: Double? {
    deadline.map { seconds($0 - ContinuousClock.now) }
  }

  private func outcome(
    _ verdict: Verdict, _ settledBy: SettledBy, reason: String? = nil,
    cause: UnknownCause? = nil
  ) -> Outcome {
    Outcome(
      verdict: verdict, settledBy: settledBy, counterexample: counterexample,
      objective: bestObjective,
      bound: verdict == .robust || options.maximize ? provenBound : nil, nodes: nodes,
      reason: reason, cause: verdict == .unknown ? (cause ?? .solver) : nil,
      statistics: encoding.statistics, binaries: encoding.binaryCount,
      boundsTime: boundsTime)
  }

  /// GLPK's branch-and-cut settings, chosen by measurement on the seed network: pseudocost
  /// branching, best-bound node selection, preprocessing at the root only.
  private func branchAndCutOptions() -> IntegerOptions {
    var integerOptions = IntegerOptions()
    integerOptions.branching = .pseudocost
    integerOptions.backtracking = .bestLocalBound
    integerOptions.preprocessing = .root
    integerOptions.timeLimit = remainingTime
    integerOptions.output = options.solverOutput
    integerOptions.messageLevel = options.solverOutput == nil ? .off : .normal
    return integerOptions
  }

  private func memoryOut() -> Outcome {
    let limit = options.memoryLimit ?? 0
    return outcome(
      .unknown, .none,
      reason: "memory limit reached (GLPK's tree held more than \(limit >> 20) MiB)",
      cause: .memoryLimit)
  }

  private func timeOut() -> Outcome {
    outcome(.unknown, .none, reason: "time limit reached", cause: .timeLimit)
  }

  func run() throws -> Outcome {
    try encoding.setGoal(goal)
    if options.maximize { return try runToOptimality() }
    let outputBounds = encoding.bounds.layers[network.layers.count - 1]
    let intervalBound = goal.marginUpperBound(lower: outputBounds.lower, upper: outputBounds.upper)
    if intervalBound <= -tolerance {
      provenBound = intervalBound
      return outcome(.robust, .bounds)
    }

    // The root LP, without the objective cut, gives a safe bound on the margin.
    if let remaining = remainingTime, remaining <= 0 { return timeOut() }
    var lpOptions = SimplexOptions()
    lpOptions.method = .dualThenPrimal
    lpOptions.timeLimit = remainingTime
    let rootLPStart = ContinuousClock.now
    let termination = try encoding.solveRelaxation(lpOptions)
    let rootLPSeconds = seconds(ContinuousClock.now - rootLPStart)
    if termination == .timeLimit { return timeOut() }
    guard termination == .solved, encoding.relaxationStatus == .optimal else {
      return outcome(
        .unknown, .none, reason: "the root LP ended as \(encoding.relaxationStatus)")
    }
    let rootBound = encoding.safeBound(of: [(encoding.marginColumn!, 1)], maximize: true)
    provenBound = rootBound
    if rootBound <= -tolerance { return outcome(.robust, .bounds) }
    if consider(encoding.inputPoint(from: encoding.relaxationValues)) {
      return outcome(.counterexample, .heuristic)
    }
    let initialBounds = encoding.bounds

    // The objective cut: subproblems whose bound falls below −tolerance become infeasible.
    if options.boundMethod == .lp {
      // Tightening under the cut costs two LPs per unstable ReLU whatever the goal, while many
      // goals need only tens of nodes without it. So the tree first gets about half that cost
      // (estimated from the root LP, which the tightening's LPs re-solve warm), and the
      // tightening comes only if the tree has not settled the goal by then. Measured on MNIST-FC
      // 256x4 at 300 s: prop_13_0.03 took 95 s with the tightening first and 32 s with the
      // probe (every goal settled by it); prop_5_0.03 needs the tightening for seven of its nine
      // goals, 102 s with it first and 104 s with the probe; prop_0_0.03 137 s either way.
      if let probed = try probeBeforeTightening(rootBound: rootBound, rootLPSeconds: rootLPSeconds)
      {
        return probed
      }
      // Bounds under the cut: often far tighter, since they need hold only for inputs that could
      // be counterexamples.
      let cutStart = ContinuousClock.now
      defer { boundsTime += seconds(ContinuousClock.now - cutStart) }
      let cutOutcome = try LPBoundTightening.tightenUnderCut(
        network: network, region: region, bounds: encoding.bounds, goal: goal,
        tolerance: tolerance, dropThreshold: options.dropThreshold,
        rounds: options.cutTighteningRounds, deadline: deadline)
      guard case .bounds(let tightened) = cutOutcome else {
        // Proven (a safe bound or crossing safe bounds), not GLPK's word alone.
        provenBound = -tolerance
        return outcome(.robust, .bounds)
      }
      var encodingOptions = MILPEncoding.Options()
      encodingOptions.dropThreshold = options.dropThreshold
      encodingOptions.marginLowerBound = -tolerance
      encoding = try MILPEncoding(
        network: network, region: region, bounds: tightened, options: encodingOptions)
      try encoding.setGoal(goal)
    } else {
      try encoding.setMarginCut(lower: -tolerance, upper: max(-tolerance, rootBound))
    }
    let withCut = try searchTree()
    guard withCut.rootInfeasible else { return withCut.outcome }

    // GLPK found the root LP infeasible under the cut. That is a proof only if a safe bound says
    // so; otherwise the tree searches again without the cut, stopping on its bound.
    if let bound = try encoding.safeMarginBoundWithoutCut(timeLimit: remainingTime),
      bound <= -tolerance
    {
      // Bounds tightened under the cut hold only for inputs with a margin ≥ −tolerance, so
      // their LP bounds the margin of those inputs alone; the others are below −tolerance.
      provenBound = options.boundMethod == .lp ? -tolerance : bound
      return outcome(.robust, .bounds)
    }
    if let remaining = remainingTime, remaining <= 0 { return timeOut() }
    // The encoding of the `lp` method holds bounds valid only under the cut; without the cut it
    // is the symbolic bounds' encoding that contains every input.
    if options.boundMethod == .lp {
      var encodingOptions = MILPEncoding.Options()
      encodingOptions.dropThreshold = options.dropThreshold
      encoding = try MILPEncoding(
        network: network, region: region, bounds: initialBounds, options: encodingOptions)
      try encoding.setGoal(goal)
    }
    let withoutCut = try searchTree()
    if withoutCut.rootInfeasible {
      return outcome(
        .unknown, .none,
        reason: "GLPK declared the LP relaxation infeasible, which its safe bound does not confirm")
    }
    return withoutCut.outcome
  }

  /// Branch-and-cut under the objective cut on the encoding as it stands, stopped once it has
  /// run for `probeShare` of the estimated cost of tightening the bounds under the cut (two
  /// warm-started LPs per unstable ReLU, each taken as a fifth of the root LP's time, at least
  /// a second in all; on MNIST-FC 256x4 that is about half the true cost) or for
  /// `options.lpProbeSeconds` if set. The outcome if that settled the goal or the time limit
  /// passed; nil to go on with the tightening.
  private func probeBeforeTightening(rootBound: Double, rootLPSeconds: Double) throws -> Outcome? {
    let tightening = 2 * Double(encoding.binaryCount) * rootLPSeconds / 5
    let budget = options.lpProbeSeconds ?? max(1, Self.probeShare * tightening)
    probeDeadline = ContinuousClock.now + .seconds(budget)
    defer {
      probeDeadline = nil
      probeExpired = false
    }
    try encoding.setMarginCut(lower: -tolerance, upper: max(-tolerance, rootBound))
    let probe = try searchTree()
    if probe.rootInfeasible {
      // GLPK's word alone proves nothing; a safe bound may.
      if let bound = try encoding.safeMarginBoundWithoutCut(timeLimit: remainingTime),
        bound <= -tolerance
      {
        provenBound = bound
        return outcome(.robust, .bounds)
      }
      return nil
    }
    if probeExpired { return nil }
    return probe.outcome
  }

  /// The share of the estimated tightening cost that the tree gets first (`probeBeforeTightening`).
  static let probeShare = 1.0

  /// GLPK's branch-and-cut on the encoding as it stands, with the callback. `rootInfeasible`:
  /// GLPK ended at the root declaring its LP infeasible, which the caller must check.
  private func searchTree() throws -> (outcome: Outcome, rootInfeasible: Bool) {
    let integerOptions = branchAndCutOptions()
    if let remaining = integerOptions.timeLimit, remaining <= 0 { return (timeOut(), false) }
    // Each tree is a new problem to GLPK (after the probe, the tightened encoding; after a root
    // GLPK called infeasible under the cut, the encoding without it): its root gets its own cut
    // rounds, GLPK's costs are measured on it again, its incumbents are new, and its nodes add
    // to the earlier trees'.
    earlierTreesNodes = nodes
    cutRounds = 0
    cutDeadline = nil
    glpkCosts = GLPKCosts()
    lastIncumbent = -.infinity
    let nodesBefore = nodes
    let end = try encoding.branchAndCut(integerOptions) { tree in
      try self.monitor(tree)
    }
    // Nothing branched: the root alone gave GLPK's verdict.
    let atRoot = nodes - nodesBefore <= 1
    switch end {
    case .stoppedByCallback:
      if counterexample != nil { return (outcome(.counterexample, .branchAndCut), false) }
      if stoppedByCaller {
        return (outcome(.unknown, .none, reason: "stopped: the answer came from elsewhere"), false)
      }
      if stoppedOnBound { return (outcome(.robust, .branchAndCut), false) }
      if memoryExceeded { return (memoryOut(), false) }
      if probeExpired { return (outcome(.unknown, .none, reason: "probe ended"), false) }
      if timedOut { return (timeOut(), false) }
      return (outcome(.unknown, .none, reason: "search stopped without an answer"), false)
    case .timeLimit:
      return (timeOut(), false)
    case .noPrimalFeasibleSolution:
      return (outcome(.unknown, .none), true)
    case .noDualFeasibleSolution, .relativeGapReached, .relaxationUnsolved:
      return (
        outcome(.unknown, .none, reason: "branch-and-cut ended early (\(end))"), false
      )
    case .solved:
      break
    }
    switch encoding.integerStatus {
    case .noFeasibleSolution:
      // A tree that branched showed every leaf's LP infeasible under the cut, as it shows every
      // bound; the root's LP alone is checked by the caller.
      if atRoot { return (outcome(.unknown, .none), true) }
      provenBound = max(-tolerance, bestObjective ?? -.infinity)
      if let best = bestObjective, best > -tolerance {
        return (
          outcome(
            .unknown, .none, reason: unprovenOptimumReason(best), cause: unprovenOptimumCause(best)),
          false
        )
      }
      return (outcome(.robust, .branchAndCut), false)
    case .optimal, .feasible:
      let optimum = encoding.integerObjective
      if consider(encoding.inputPoint(from: encoding.integerValues)) {
        return (outcome(.counterexample, .branchAndCut), false)
      }
      // GLPK's optimum carries its tolerances (about 1e-7), so only one clearly below zero
      // proves the goal unreachable, and only if no re-checked point came closer.
      let largest = max(optimum, bestObjective ?? -.infinity)
      if largest <= -tolerance && !rejectedIncumbent {
        provenBound = largest
        return (outcome(.robust, .branchAndCut), false)
      }
      return (
        outcome(
          .unknown, .none, reason: unprovenOptimumReason(largest),
          cause: unprovenOptimumCause(largest)), false
      )
    default:
      return (outcome(.unknown, .none, reason: "branch-and-cut ended without a status"), false)
    }
  }

  /// Branch-and-cut on the margin without the objective cut and without stopping early: the
  /// maximum margin over the region, with GLPK's optimum as the bound.
  private func runToOptimality() throws -> Outcome {
    let integerOptions = branchAndCutOptions()
    if let remaining = integerOptions.timeLimit, remaining <= 0 { return timeOut() }
    let end = try encoding.branchAndCut(integerOptions) { tree in
      try self.monitor(tree)
    }
    if memoryExceeded { return memoryOut() }
    if timedOut { return timeOut() }
    guard end == .solved, encoding.integerStatus == .optimal else {
      provenBound = nil
      return outcome(
        .unknown, .none,
        reason: end == .timeLimit ? "time limit reached" : "branch-and-cut ended as \(end)",
        cause: end == .timeLimit ? .timeLimit : .solver)
    }
    let optimum = encoding.integerObjective
    provenBound = optimum
    _ = consider(encoding.inputPoint(from: encoding.integerValues))
    if counterexample != nil { return outcome(.counterexample, .branchAndCut) }
    if optimum <= -tolerance && !rejectedIncumbent { return outcome(.robust, .branchAndCut) }
    return outcome(
      .unknown, .none, reason: unprovenOptimumReason(optimum), cause: unprovenOptimumCause(optimum))
  }

  private func unprovenOptimumCause(_ optimum: Double) -> UnknownCause {
    optimum > 0 || rejectedIncumbent ? .unconfirmedCounterexample : .withinTolerance
  }

  private func unprovenOptimumReason(_ optimum: Double) -> String {
    if optimum > 0 || rejectedIncumbent {
      return "the MILP optimum \(optimum) did not re-check as a counterexample"
    }
    return "the MILP optimum \(optimum) is within the tolerance \(tolerance) of zero"
  }

  /// The callback: checks every new incumbent, tries the LP point of each node as a heuristic,
  /// and stops once the best bound of the open nodes proves the target unreachable.
  private func monitor(_ tree: SearchTree) throws {
    nodes = max(nodes, earlierTreesNodes + tree.size.total)
    if let shouldStop, shouldStop() {
      stoppedByCaller = true
      tree.terminate()
      return
    }
    // GLPK checks its own time limit only between nodes; a root with many dense cuts, or its
    // pseudocost initialisation, could run well past it (MNIST-FC 256x2: 13 s over 60).
    if let deadline, ContinuousClock.now >= deadline {
      timedOut = true
      tree.terminate()
      return
    }
    if let probeDeadline, ContinuousClock.now >= probeDeadline {
      probeExpired = true
      tree.terminate()
      return
    }
    if let limit = options.memoryLimit, GLPKMemory.bytesInUse > limit {
      memoryExceeded = true
      tree.terminate()
      return
    }
    if let incumbent = tree.incumbentObjective, incumbent > lastIncumbent {
      lastIncumbent = incumbent
      if consider(encoding.inputPoint(from: tree.incumbentColumnValues())) && !options.maximize {
        tree.terminate()
        return
      }
      if incumbent > 0 { rejectedIncumbent = true }
    }
    // Ideal-formulation cuts at the root only: there they tighten every node's bound; deeper in
    // the tree each cut round cost more time than the nodes it saved (measured on the seed's hard
    // robust cases). Under a time limit the rounds stop after a quarter of the time left, since
    // on wide layers each round's dense rows make the root LP slower.
    if tree.reason == .cutGeneration && tree.currentLPIsOptimal && tree.currentLevel == 0 {
      cutRounds += 1
      if cutRounds == 1, let remaining = remainingTime {
        cutDeadline = ContinuousClock.now + .seconds(remaining / 4)
      }
      let cutTimeLeft = cutDeadline.map { ContinuousClock.now < $0 } ?? true
      if cutRounds <= options.rootCutRounds && cutTimeLeft && cutRoundFitsBeforeDeadline(tree) {
        let cuts = encoding.violatedIdealCuts(at: tree.currentLPColumnValues())
          .sorted { $0.violation > $1.violation }
          .prefix(options.cutsPerRound)
        for cut in cuts {
          try tree.addCut(
            columns: cut.columns, coefficients: cut.coefficients, upperBound: cut.upperBound)
        }
      }
    }
    if tree.reason == .heuristic && tree.currentLPIsOptimal {
      let point = region.project(encoding.inputPoint(from: tree.currentLPColumnValues()))
      if consider(point) && !options.maximize {
        tree.terminate()
        return
      }
      if let values = encoding.milpPoint(forInput: point),
        let margin = encoding.marginColumn,
        values[margin] > max(lastIncumbent, -tolerance)
      {
        try tree.offerSolution(values)
      }
    }
    if let bound = tree.bestActiveBound {
      // Nodes pruned under the objective cut only show that their maximum is below −tolerance,
      // not below the open nodes' bound, so the proven bound is never below −tolerance then.
      let cutFloor = options.maximize ? -Double.infinity : -tolerance
      provenBound = min(
        provenBound ?? .infinity,
        max(bound, tree.incumbentObjective ?? -.infinity, bestObjective ?? -.infinity, cutFloor))
      if !options.maximize
        && Self.treeProvesUnreachable(
          bestOpenBound: bound, incumbent: tree.incumbentObjective, bestMargin: bestObjective,
          rejectedIncumbent: rejectedIncumbent, tolerance: tolerance)
      {
        stoppedOnBound = true
        tree.terminate()
      }
    }
    try chooseBranchIfDeadlineAtRisk(tree)
  }

  private struct GLPKCosts {
    /// Seconds one of GLPK's trial LPs (`SearchTree.trialObjective`) takes here, once measured,
    /// and the rows the problem had then.
    var trialSeconds: Double?
    var trialRows = 0
    /// Binaries whose pseudocosts GLPK has initialised, as far as the clock tells.
    var initialised: Set<Int> = []
    /// GLPK's rule chose at the last branching call: when that call returned, and the binaries
    /// it had to initialise.
    var pending: (returned: ContinuousClock.Instant, binaries: [Int])?
    /// Nodes where the callback chose the branching binary itself.
    var ownChoices = 0
  }

  private lazy var binaryNeurons = encoding.binaryNeurons

  /// GLPK's pseudocost branching first initialises the pseudocosts of every fractional binary it
  /// knows none for, with two trial LPs each (a copy of the problem and up to 30 dual simplex
  /// iterations), without looking at the clock or calling back (`ios_pcost_branch`, glpios09.c):
  /// on MNIST-FC 256x6 `prop_2_0.05` that took about 95 s for 760 binaries, and a 60 s limit
  /// ended after 131 s. So under a time limit this times one such trial LP and, when the
  /// initialisation would not finish well before the deadline, branches on the binary whose ReLU
  /// the LP point violates most; GLPK then runs no rule of its own for the node (`ios_driver`,
  /// glpios03.c). Without a limit, or with time to spare, GLPK's rule is left alone. Which binary
  /// is branched on never affects soundness.
  private func chooseBranchIfDeadlineAtRisk(_ tree: SearchTree) throws {
    let now = ContinuousClock.now
    if let pending = glpkCosts.pending {
      // The time GLPK's choice took. Much less than expected means it may have stopped early
      // (it does at a candidate with an infeasible side), so the rest may be uninitialised.
      glpkCosts.pending = nil
      let perTrial = seconds(now - pending.returned) / Double(2 * pending.binaries.count)
      if perTrial >= (glpkCosts.trialSeconds ?? 0) / 2 {
        glpkCosts.initialised.formUnion(pending.binaries)
        glpkCosts.trialSeconds = max(glpkCosts.trialSeconds ?? 0, perTrial)
      }
    }
    guard tree.reason == .branching, !stoppedOnBound, let deadline else { return }
    let candidates = binaryNeurons.filter { tree.canBranch(on: $0.a) }
    let unknown = candidates.filter { !glpkCosts.initialised.contains($0.a) }
    guard !unknown.isEmpty else { return }
    let initialisation = 2 * Double(unknown.count) * trialSeconds(tree, column: unknown[0].a)
    // Twice the estimate, and half a second for the node after it.
    if 2 * initialisation + 0.5 < seconds(deadline - ContinuousClock.now) {
      glpkCosts.pending = (ContinuousClock.now, unknown.map(\.a))
      return
    }
    let values = tree.currentLPColumnValues()
    // The binary whose ReLU the LP point violates most (y above max(z, 0)): both children cut
    // that point off. Ties go to the largest possible violation at the binary's value.
    func score(_ neuron: MILPEncoding.BinaryNeuron) -> (Double, Double) {
      let a = values[neuron.a]
      let gap = values[neuron.y] - max(values[neuron.z], 0)
      let scale = max(1, neuron.upper - neuron.lower)
      return (gap > 1e-9 * scale ? gap : 0, min(neuron.upper * a, -neuron.lower * (1 - a)))
    }
    guard let chosen = candidates.max(by: { score($0) < score($1) }) else { return }
    try tree.branch(on: chosen.a, upFirst: values[chosen.a] >= 0.5)
    glpkCosts.ownChoices += 1
    if glpkCosts.ownChoices == 1 {
      options.solverOutput?(
        "relumip: choosing branching binaries while GLPK's pseudocost initialisation ("
          + "\(unknown.count) binaries, about \(Int(initialisation.rounded(.up))) s) would not"
          + " finish before the deadline\n")
    }
  }

  /// Seconds one of GLPK's trial LPs takes on this problem (a copy, then up to 30 dual simplex
  /// iterations with `column`, a fractional binary, fixed). Timed again once the root's cuts
  /// have added a quarter more rows: on MNIST-FC 256x4 16 rounds of them made a trial LP several
  /// times slower.
  private func trialSeconds(_ tree: SearchTree, column: Int) -> Double {
    let rows = tree.numberOfRows
    if let measured = glpkCosts.trialSeconds, 4 * rows <= 5 * glpkCosts.trialRows {
      return measured
    }
    let start = ContinuousClock.now
    _ = tree.trialObjective(fixing: column, at: 0)
    _ = tree.trialObjective(fixing: column, at: 1)
    let measured = seconds(ContinuousClock.now - start) / 2
    glpkCosts.trialSeconds = measured
    glpkCosts.trialRows = rows
    return measured
  }

  /// After the cut callback GLPK prices every new cut against the basis (`ios_process_cuts`,
  /// glpios11.c: a row of the simplex table each) before it looks at the clock again: on
  /// MNIST-FC 256x6 a round of 100 cuts took 1.1 s there, about 20 of its trial LPs, and a round
  /// begun 0.5 s before the deadline ended 1.6 s past it. So under a time limit a round runs only
  /// while twice a generous estimate (a trial LP per cut) fits in the time left.
  private func cutRoundFitsBeforeDeadline(_ tree: SearchTree) -> Bool {
    guard let deadline else { return true }
    let values = tree.currentLPColumnValues()
    let fractional = binaryNeurons.first { values[$0.a] > 1e-6 && values[$0.a] < 1 - 1e-6 }
    // Without a fractional binary no cut is violated, so the round adds nothing.
    guard let fractional else { return true }
    let processing = Double(options.cutsPerRound) * trialSeconds(tree, column: fractional.a)
    return 2 * processing + 0.5 < seconds(deadline - ContinuousClock.now)
  }

  /// Whether the tree's state proves that no input reaches the goal.
  ///
  /// The best open node's bound covers only the nodes still open. GLPK prunes a node once its
  /// bound is at most the incumbent (plus its tolerances), so an incumbent in (−tolerance, 0]
  /// leaves pruned nodes whose maximum can be up to that incumbent; and a re-checked point's
  /// margin is a true value of the maximum's lower side. So all three must be ≤ −tolerance. An
  /// incumbent that failed its re-check could hide a true counterexample nearby: no proof then.
  static func treeProvesUnreachable(
    bestOpenBound: Double, incumbent: Double?, bestMargin: Double?, rejectedIncumbent: Bool,
    tolerance: Double
  ) -> Bool {
    guard !rejectedIncumbent else { return false }
    let largest = max(bestOpenBound, incumbent ?? -.infinity, bestMargin ?? -.infinity)
    return largest <= -tolerance
  }

  /// Re-checks a candidate (`Counterexample.check`); records and returns whether it is a
  /// counterexample.
  private func consider(_ candidate: [Double]) -> Bool {
    let (found, margin) = Counterexample.check(
      candidate, network: network, region: region, goal: goal)
    if margin > -.infinity { bestObjective = max(bestObjective ?? -.infinity, margin) }
    guard let found else { return false }
    counterexample = found
    return true
  }
}
