/// The answer to "how far from the center is the nearest input with another label?", within a
/// search radius, as MIPVerify.jl computes it.
public struct DistortionResult: Sendable, Codable, Equatable {
  public var label: Int
  public var targetsSearched: [Int]
  /// The nearest re-checked counterexample found, if any.
  public var counterexample: Counterexample?
  /// Proven: no input closer than this (or at this distance) reaches a searched target: the
  /// verifier answered `robust` at this radius. `searchRadius` when none exists within it.
  public var lowerBound: Double
  public var searchRadius: Double
  /// Whether the search met its precision (else the time limit or an unknown stopped it).
  public var complete: Bool
  /// The decision runs made: radius and verdict, in order.
  public var steps: [DistortionStep]
  public var nodes: Int
  public var timings: Timings
  public var reason: String?

  /// The distance of the counterexample found.
  public var distance: Double? { counterexample?.distance }
}

/// One decision run of the bisection: the radius tried, the verdict there and its time.
public struct DistortionStep: Sendable, Codable, Equatable {
  public var radius: Double
  public var verdict: Verdict
  public var time: Double
}

extension Verifier {
  /// Bisects the radius with decision runs of `verify`: a counterexample at radius r caps the
  /// answer at its own distance (≤ r), a robust answer at r proves that nothing at distance ≤ r
  /// exists. Stops when the gap between the two is at most `relativePrecision` of the distance,
  /// or at the time limit, or at an `unknown`.
  ///
  /// Both ends are therefore as sound as the verifier's verdicts: the lower bound is a radius
  /// proven robust, and the counterexample is re-checked.
  public func minimizeDistortion(
    region: InputRegion, options: VerificationOptions = VerificationOptions(),
    relativePrecision: Double = 1e-3
  ) throws -> DistortionResult {
    let clock = ContinuousClock()
    let start = clock.now
    let deadline = options.timeLimit.map { start + .seconds($0) }
    let (label, targets) = try targets(for: region, choice: options.target)
    var result = DistortionResult(
      label: label, targetsSearched: targets, counterexample: nil, lowerBound: 0,
      searchRadius: region.radius, complete: true, steps: [], nodes: 0, timings: Timings(),
      reason: nil)
    var upper = region.radius
    var radius = region.radius
    while true {
      if let deadline, clock.now >= deadline {
        result.complete = false
        result.reason = "time limit reached"
        break
      }
      var stepOptions = options
      stepOptions.timeLimit = deadline.map { seconds($0 - clock.now) }
      let ball = try InputRegion(
        center: region.center, norm: region.norm, radius: radius, boxLower: region.boxLower,
        boxUpper: region.boxUpper)
      let step = try verify(region: ball, options: stepOptions)
      result.nodes += step.nodes
      result.timings.bounds += step.timings.bounds
      result.steps.append(
        DistortionStep(radius: radius, verdict: step.verdict, time: step.timings.total))
      switch step.verdict {
      case .counterexample:
        if let found = step.counterexample,
          found.distance < (result.counterexample?.distance ?? .infinity)
        {
          result.counterexample = found
          upper = min(upper, found.distance)
        } else {
          upper = min(upper, radius)
        }
      case .robust:
        result.lowerBound = max(result.lowerBound, radius)
      case .unknown:
        result.complete = false
        if step.cause == .withinTolerance {
          result.reason =
            "at radius \(radius) the largest margin is within the solver tolerance of zero, so"
            + " the bisection cannot narrow the gap further: \(step.reason ?? "")"
        } else {
          result.reason =
            "the decision run at radius \(radius) answered unknown: \(step.reason ?? "")"
        }
      }
      if !result.complete { break }
      if result.counterexample == nil && result.lowerBound >= region.radius { break }
      if upper - result.lowerBound <= relativePrecision * upper { break }
      radius = (result.lowerBound + upper) / 2
    }
    result.timings.total = seconds(clock.now - start)
    result.timings.solve = result.timings.total - result.timings.bounds
    return result
  }
}
