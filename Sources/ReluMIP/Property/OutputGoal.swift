/// One linear condition on the network's outputs: `Σ weight·output[index] + constant ≥ 0`, or
/// `> 0` when `strict`.
///
/// The searches maximise the left side either way (a bound ≤ −tolerance rules out both forms);
/// strictness matters to the re-check: a point where a strict condition's left side is 0 does not
/// reach it.
public struct OutputCondition: Sendable, Equatable, Hashable, CustomStringConvertible {
  /// `(output index, weight)` pairs, each index at most once.
  public var terms: [Term]
  public var constant: Double
  public var strict: Bool

  /// `weight · output[output]`.
  public struct Term: Sendable, Equatable, Hashable {
    public var output: Int
    public var weight: Double

    public init(output: Int, weight: Double) {
      self.output = output
      self.weight = weight
    }
  }

  public init(terms: [Term], constant: Double, strict: Bool = false) {
    var merged: [Int: Double] = [:]
    for term in terms { merged[term.output, default: 0] += term.weight }
    self.terms = merged.sorted { $0.key < $1.key }.filter { $0.value != 0 }.map {
      Term(output: $0.key, weight: $0.value)
    }
    self.constant = constant
    self.strict = strict
  }

  /// Whether `value` (the left side) satisfies the condition.
  public func holds(at value: Double) -> Bool {
    strict ? value > 0 : value >= 0
  }

  /// `output[target] − output[label] ≥ 0`.
  public static func difference(_ target: Int, minus label: Int) -> OutputCondition {
    OutputCondition(
      terms: [Term(output: target, weight: 1), Term(output: label, weight: -1)], constant: 0)
  }

  /// The left side at `outputs`.
  public func value(_ outputs: [Double]) -> Double {
    terms.reduce(constant) { $0 + $1.weight * outputs[$1.output] }
  }

  /// The left side as an affine function of an output layer's inputs: `weights · a + bias`.
  func composed(with layer: AffineLayer) -> (weights: [Double], bias: Double) {
    var weights = [Double](repeating: 0, count: layer.inputSize)
    var bias = constant
    for term in terms {
      layer.matrix.forEachEntry(inRow: term.output) { j, w in weights[j] += term.weight * w }
      bias += term.weight * layer.bias[term.output]
    }
    return (weights, bias)
  }

  /// The largest (or smallest) left side over the box `[lower, upper]` of the outputs.
  func extreme(lower: [Double], upper: [Double], maximize: Bool) -> Double {
    terms.reduce(constant) { sum, term in
      let end = (term.weight > 0) == maximize ? upper[term.output] : lower[term.output]
      return sum + term.weight * end
    }
  }

  public var description: String {
    var text = ""
    for term in terms {
      let sign = term.weight < 0 ? (text.isEmpty ? "−" : " − ") : (text.isEmpty ? "" : " + ")
      let magnitude = abs(term.weight)
      text += sign + (magnitude == 1 ? "" : "\(magnitude)·") + "Y_\(term.output)"
    }
    if constant != 0 || text.isEmpty {
      text += constant < 0 ? " − \(-constant)" : (text.isEmpty ? "\(constant)" : " + \(constant)")
    }
    return text + (strict ? " > 0" : " ≥ 0")
  }
}

/// What a counterexample must reach on the outputs, and the margin the search maximises.
///
/// The margin is the smallest left side of the conditions, so "margin ≥ 0" means every
/// condition holds. The MILP maximises it with a column `m ≤ each condition`; a proven bound
/// below zero rules the goal out over the whole region.
public struct OutputGoal: Sendable, Equatable, CustomStringConvertible {
  /// The rule an input's exact outputs must pass to count as reaching the goal.
  public enum Acceptance: Sendable, Equatable {
    /// The network's label moves away from `label`: `output[target] > output[label]`, strictly
    /// (with `anyLabel`, some output other than `label`'s is strictly larger than it). A tie is
    /// never a counterexample, whichever way argmax would break it. The single condition is
    /// `output[target] − output[label] ≥ 0`.
    case labelChange(label: Int, target: Int, anyLabel: Bool)
    /// Every condition holds (strict ones strictly), as a VNN-LIB unsafe set is read.
    case allConditionsHold
  }

  public var conditions: [OutputCondition]
  public var acceptance: Acceptance

  public init(conditions: [OutputCondition], acceptance: Acceptance = .allConditionsHold) {
    precondition(!conditions.isEmpty, "a goal needs at least one condition")
    self.conditions = conditions
    self.acceptance = acceptance
  }

  /// The classification goal: `target` beats `label`.
  public static func labelChange(label: Int, target: Int, anyLabel: Bool = false) -> OutputGoal {
    OutputGoal(
      conditions: [.difference(target, minus: label)],
      acceptance: .labelChange(label: label, target: target, anyLabel: anyLabel))
  }

  /// The smallest condition value at `outputs`.
  public func margin(_ outputs: [Double]) -> Double {
    conditions.reduce(Double.infinity) { min($0, $1.value(outputs)) }
  }

  /// The condition with the smallest value at `outputs` (the one the margin's gradient follows).
  func activeCondition(_ outputs: [Double]) -> OutputCondition {
    conditions.min { $0.value(outputs) < $1.value(outputs) }!
  }

  /// Whether exact outputs reach the goal (the rule every reported counterexample passes).
  public func isReached(_ outputs: [Double]) -> Bool {
    switch acceptance {
    case .labelChange(let label, let target, let anyLabel):
      guard anyLabel else { return outputs[target] > outputs[label] }
      return outputs.indices.contains { $0 != label && outputs[$0] > outputs[label] }
    case .allConditionsHold:
      return conditions.allSatisfy { $0.holds(at: $0.value(outputs)) }
    }
  }

  /// The largest margin any outputs inside `[lower, upper]` can have.
  func marginUpperBound(lower: [Double], upper: [Double]) -> Double {
    conditions.map { $0.extreme(lower: lower, upper: upper, maximize: true) }.min()!
  }

  /// The smallest margin any outputs inside `[lower, upper]` can have.
  func marginLowerBound(lower: [Double], upper: [Double]) -> Double {
    conditions.map { $0.extreme(lower: lower, upper: upper, maximize: false) }.min()!
  }

  /// A number that depends only on the conditions (unlike `hashValue`, which changes from run to
  /// run), so that attacks repeat.
  var stableSeed: UInt64 {
    var seed: UInt64 = 0xCBF2_9CE4_8422_2325
    for condition in conditions {
      for value in condition.terms.flatMap({ [UInt64($0.output), $0.weight.bitPattern] })
        + [condition.constant.bitPattern]
      {
        seed = (seed ^ value) &* 0x100_0000_01B3
      }
    }
    return seed
  }

  /// The largest output index the goal reads.
  var largestOutput: Int { conditions.flatMap(\.terms).map(\.output).max() ?? -1 }

  public var description: String {
    conditions.map(\.description).joined(separator: " and ")
  }

  /// How reports name the goal: "target 3" for a label change, else the conditions.
  public var name: String {
    if case .labelChange(_, let target, _) = acceptance { return "target \(target)" }
    return description
  }
}
