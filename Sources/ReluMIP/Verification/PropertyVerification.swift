/// The answer to a VNN-LIB property.
public struct PropertyResult: Sendable, Equatable {
  /// `counterexample` (the property is violated: "sat"), `robust` (it holds: "unsat"), or
  /// `unknown`.
  public var verdict: Verdict
  /// Whether `unknown` came from the time limit.
  public var timedOut: Bool
  /// A re-checked input of the unsafe set, with the network's outputs there.
  public var counterexample: Counterexample?
  /// The case (input box) and the goal within it that the counterexample reaches.
  public var caseIndex: Int?
  public var goalIndex: Int?
  public var casesSearched: Int
  public var nodes: Int
  /// The most binaries of any case's MILP.
  public var binaries: Int
  public var settledBy: SettledBy
  public var timings: Timings
  public var reason: String?
  /// Why the verdict is `unknown`, as a value.
  public var cause: UnknownCause? = nil

  /// The competition's word for the verdict: sat, unsat, timeout or unknown.
  public var competitionResult: String {
    switch verdict {
    case .counterexample: return "sat"
    case .robust: return "unsat"
    case .unknown: return timedOut ? "timeout" : "unknown"
    }
  }
}

extension Verifier {
  /// Checks the property's sizes against the network before any work.
  public func validate(_ property: VNNLibProperty) throws {
    guard property.inputCount == network.inputSize else {
      throw PropertyError.propertySizeMismatch(
        what: "inputs", property: property.inputCount, network: network.inputSize)
    }
    guard property.outputCount == network.outputSize else {
      throw PropertyError.propertySizeMismatch(
        what: "outputs", property: property.outputCount, network: network.outputSize)
    }
    try checkGoalsReadLogits(property.cases.flatMap(\.goals))
  }

  /// Decides a VNN-LIB property: is there an input in any case's box that reaches one of the
  /// case's goals? The attack runs on every case first (counterexamples are often found in
  /// milliseconds); then each case is searched in turn, stopping at the first re-checked
  /// counterexample. `unsat` needs every case proven.
  public func verify(property: VNNLibProperty, options: VerificationOptions = VerificationOptions())
    throws -> PropertyResult
  {
    try validate(property)
    try options.validate()
    let clock = ContinuousClock()
    let start = clock.now
    let deadline = options.timeLimit.map { start + .seconds($0) }
    var result = PropertyResult(
      verdict: .robust, timedOut: false, counterexample: nil, caseIndex: nil, goalIndex: nil,
      casesSearched: 0, nodes: 0, binaries: 0, settledBy: .bounds, timings: Timings(), reason: nil)
    func finish(_ result: PropertyResult) -> PropertyResult {
      var result = result
      result.timings.total = seconds(clock.now - start)
      result.timings.solve = result.timings.total - result.timings.bounds
      return result
    }
    let regions = try property.cases.map {
      try InputRegion(boxLower: $0.lower, boxUpper: $0.upper)
    }

    // A case without output conditions makes every input of its box unsafe.
    for (index, region) in regions.enumerated() where property.cases[index].goals.isEmpty {
      let logits = network.reference.evaluate(region.center)
      result.verdict = .counterexample
      result.counterexample = Counterexample(
        input: region.center, outputs: network.reference.modelOutputs(logits: logits),
        predictedLabel: Network.argmax(logits), distance: 0)
      result.caseIndex = index
      result.settledBy = .attack
      return finish(result)
    }

    var attackPoints: [[[Double]?]?] = Array(repeating: nil, count: regions.count)
    if options.attack && !options.maximize {
      for (index, region) in regions.enumerated() {
        let goals = property.cases[index].goals
        let attack = attack(
          region: region, goals: goals, only: Array(goals.indices), deadline: deadline)
        attackPoints[index] = attack.points
        guard let (goalIndex, found, _) = attack.found else { continue }
        result.verdict = .counterexample
        result.counterexample = found
        result.caseIndex = index
        result.goalIndex = goalIndex
        result.settledBy = .attack
        return finish(result)
      }
    }

    var searchOptions = options
    searchOptions.attack = false
    var unknownReasons: [String] = []
    var unknownCauses: [UnknownCause] = []
    for (index, region) in regions.enumerated() {
      if let deadline {
        let remaining = seconds(deadline - clock.now)
        if remaining <= 0 {
          result.verdict = .unknown
          result.timedOut = true
          unknownReasons.append("time limit reached before case \(index)")
          unknownCauses.append(.timeLimit)
          break
        }
        searchOptions.timeLimit = remaining
      }
      let found = try search(
        region: region, goals: property.cases[index].goals, options: searchOptions,
        attackPoints: attackPoints[index])
      result.casesSearched += 1
      result.nodes += found.nodes
      result.binaries = max(result.binaries, found.binaries)
      result.timings.bounds += found.timings.bounds
      switch found.verdict {
      case .counterexample:
        result.verdict = .counterexample
        result.counterexample = found.counterexample
        result.caseIndex = index
        result.goalIndex = found.reachedGoal
        result.settledBy = found.settledBy
        result.reason = nil
        return finish(result)
      case .robust:
        if found.settledBy == .branchAndCut || found.settledBy == .reluSplit {
          result.settledBy = found.settledBy
        }
      case .unknown:
        result.verdict = .unknown
        result.settledBy = .none
        let label = regions.count > 1 ? "case \(index): " : ""
        unknownReasons.append(label + (found.reason ?? "no answer"))
        unknownCauses.append(found.cause ?? .solver)
        if let deadline, clock.now >= deadline { result.timedOut = true }
      }
    }
    if result.verdict == .unknown {
      result.reason = unknownReasons.joined(separator: "; ")
      result.cause = UnknownCause.combined(unknownCauses)
    }
    return finish(result)
  }
}
