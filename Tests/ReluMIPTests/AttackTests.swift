import Testing

@testable import ReluMIP

/// The gradient attack's step schedules on an L∞ ball.
@Suite("Gradient attack")
struct AttackTests {
  /// Twenty inputs whose mean `s` drives a margin with a local maximum at `s = 0.2` and its
  /// counterexamples only past `s = 2/3`: `relu(s) − 2·relu(s − 0.2) + 4·relu(s − 0.6) − 0.9`.
  /// Short steps from the center (s = 0.05) climb to the local maximum and circle it; random
  /// starts have `s` near 0.05 too (a mean of twenty), so only a long step reaches the corner.
  static func trapNetwork() throws -> (Network, InputRegion, OutputGoal) {
    let inputs = 20
    let hidden = try AffineLayer(
      inputSize: inputs, outputSize: 3,
      weights: [Double](repeating: 1.0 / Double(inputs), count: 3 * inputs),
      bias: [0, -0.2, -0.6], activation: .relu)
    let output = try AffineLayer(
      inputSize: 3, outputSize: 1, weights: [1, -2, 4], bias: [-0.9], activation: .identity)
    let network = try Network(layers: [hidden, output])
    let region = try InputRegion(
      center: [Double](repeating: 0.05, count: inputs), norm: .linf, radius: 1, box: (-1, 1))
    let goal = OutputGoal(conditions: [
      OutputCondition(terms: [OutputCondition.Term(output: 0, weight: 1)], constant: 0)
    ])
    return (network, region, goal)
  }

  @Test func longStepsReachTheCornerThatShortStepsMiss() throws {
    let (network, region, goal) = try Self.trapNetwork()
    let (point, margin) = GradientAttack(network: network, region: region).run(goal: goal)
    #expect(margin > 0)
    #expect(goal.isReached(network.evaluate(point)))
    #expect(region.contains(point))

    // The short steps alone (the first run) stop at the local maximum, margin 0.2 − 0.9.
    let short = GradientAttack(network: network, region: region, steps: 40, restarts: 1)
    let (_, shortMargin) = short.run(goal: goal)
    #expect(shortMargin < -0.6)
  }
}
