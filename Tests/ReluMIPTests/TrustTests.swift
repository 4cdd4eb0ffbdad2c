import Foundation
import TestSupport
import Testing

@testable import ReluMIP

/// The edges where a model, a property or GLPK could change what a verdict means without the
/// checks noticing (issue 14). Each test names the case that used to be answered wrongly.

/// `out0 = x`, `out1 = 0.5` over x ∈ [0, 0.5]: at the center (x = 0) the label is 1; the largest
/// margin out0 − out1 is exactly 0, a tie, at x = 0.5.
private func tieNetwork() throws -> Network {
  try Network(layers: [
    AffineLayer(
      inputSize: 1, outputSize: 2, weights: [1, 0], bias: [0, 0.5], activation: .identity)
  ])
}

@Suite("Trust: the re-check")
struct RecheckTests {
  /// A float32 model whose margin is positive only in double: x = 1 + 2⁻³⁰ rounds to 1 in
  /// float32, where out0 = x ties with out1 = 1.
  @Test func witnessThatHoldsOnlyInDoubleIsRejected() throws {
    let layer = try AffineLayer(
      inputSize: 1, outputSize: 2, weights: [1, 0], bias: [0, 1], activation: .identity)
    let reference = ReferenceModel(
      operations: [
        .linear(WeightMatrix(rows: 2, columns: 1, denseValues: [1, 0]), shift: [0, 1])
      ],
      precision: .float32)
    let network = try Network(layers: [layer], reference: reference)
    let point = [1 + 0x1p-30]
    let region = try InputRegion(center: point, norm: .linf, radius: 0, box: nil)
    let goal = OutputGoal.labelChange(label: 1, target: 0)
    #expect(network.evaluate(point)[0] > network.evaluate(point)[1])
    let (found, margin) = Counterexample.check(point, network: network, region: region, goal: goal)
    #expect(found == nil)
    #expect(margin <= 0)
    // The same model read as double precision accepts it.
    let double = try Network(
      layers: [layer],
      reference: ReferenceModel(operations: reference.operations, precision: .float64))
    #expect(
      Counterexample.check(point, network: double, region: region, goal: goal).counterexample
        != nil)
  }

  /// The re-check runs the operations as read, not the merged layers the search uses: a merged
  /// network that disagrees with its file gets no counterexample from the disagreement.
  @Test func recheckRunsTheModelAsRead() throws {
    let merged = try AffineLayer(
      inputSize: 1, outputSize: 2, weights: [1, 0], bias: [0, 0], activation: .identity)
    // As read: out0 = x / 4 − 1, out1 = 0 (a Div and a Sub the merge would fold).
    let reference = ReferenceModel(
      operations: [
        .divide([4]), .subtract([1]),
        .linear(WeightMatrix(rows: 2, columns: 1, denseValues: [1, 0]), shift: [0, 0]),
      ], precision: .float64)
    let network = try Network(layers: [merged], reference: reference)
    let region = try InputRegion(center: [2], norm: .linf, radius: 0, box: nil)
    let goal = OutputGoal.labelChange(label: 1, target: 0)
    let (found, margin) = Counterexample.check([2], network: network, region: region, goal: goal)
    #expect(found == nil)
    #expect(margin == -0.5)
  }

  /// Every fixture's reference model reproduces onnxruntime: the logits in double and, for
  /// float32 models, in float32 arithmetic to float32's precision.
  @Test(arguments: ONNXFixture.validNames)
  func referenceModelReproducesOnnxruntime(name: String) throws {
    let fixture = try #require(ONNXFixture.table[name])
    let network = try ModelLoader.load(
      path: ONNXFixture.folder.appendingPathComponent(name).path)
    let inputs = try #require(fixture.inputs)
    let outputs = try #require(fixture.outputs)
    let tolerance = try #require(fixture.tolerance)
    for (input, expected) in zip(inputs, outputs) {
      let logits = network.reference.evaluate(input)
      try #require(logits.count == expected.count)
      for (a, e) in zip(logits, expected) {
        #expect(abs(a - e) <= tolerance * max(1, abs(e)), "\(name): \(a) vs \(e)")
      }
      if let single = network.reference.evaluateFloat32(input) {
        for (a, e) in zip(single, expected) {
          #expect(abs(a - e) <= 1e-5 * max(1, abs(e)), "\(name) in float32: \(a) vs \(e)")
        }
      }
    }
    if let graphOutputs = fixture.graphOutputs {
      for (input, expected) in zip(inputs, graphOutputs) {
        let model = network.reference.modelOutputs(logits: network.reference.evaluate(input))
        for (a, e) in zip(model, expected) {
          #expect(abs(a - e) <= tolerance * max(1, abs(e)), "\(name) after the transform")
        }
      }
    }
  }
}

@Suite("Trust: ties and strict comparisons")
struct TieTests {
  @Test func aTieIsNeverALabelChange() {
    for anyLabel in [false, true] {
      let goal = OutputGoal.labelChange(label: 1, target: 0, anyLabel: anyLabel)
      // argmax breaks the tie to 0, but out0 does not beat out1.
      #expect(!goal.isReached([1, 1]), "anyLabel \(anyLabel)")
      #expect(goal.isReached([1.5, 1]), "anyLabel \(anyLabel)")
    }
    let all = OutputGoal.labelChange(label: 2, target: 0, anyLabel: true)
    #expect(!all.isReached([3, 3, 3]))
    #expect(all.isReached([3, 3.5, 3]))
  }

  /// Target `all` and target `t` answer alike on a maximum margin of exactly 0.
  @Test(arguments: [TargetChoice.all, .label(0)])
  func aTieAtTheMaximumIsNoCounterexample(target: TargetChoice) throws {
    let verifier = try Verifier(network: tieNetwork())
    let region = try InputRegion(center: [0], norm: .linf, radius: 0.5, box: (0, 0.5))
    for attack in [true, false] {
      var options = VerificationOptions()
      options.target = target
      options.attack = attack
      options.searchStrategy = .milp
      let result = try verifier.verify(region: region, options: options)
      #expect(result.label == 1)
      #expect(result.verdict == .unknown, "attack \(attack): \(result.verdict)")
    }
  }

  @Test func strictComparisonsAreReadAndHeldStrictly() throws {
    let property = try VNNLibReader.parse(
      """
      (declare-const X_0 Real)
      (declare-const Y_0 Real)
      (declare-const Y_1 Real)
      (assert (>= X_0 0))
      (assert (<= X_0 0.5))
      (assert (> Y_0 Y_1))
      """)
    let goal = try #require(property.cases.first?.goals.first)
    #expect(goal.conditions.allSatisfy { $0.strict })
    #expect(!goal.isReached([0.5, 0.5]))
    #expect(goal.isReached([0.5, 0.25]))
    // The network reaches Y_0 = Y_1 at X_0 = 0.5 and never Y_0 > Y_1: not sat.
    let result = try Verifier(network: tieNetwork()).verify(property: property)
    #expect(result.verdict != .counterexample)
  }
}

@Suite("Trust: models that end in Softmax")
struct SoftmaxModelTests {
  static let model = ONNXFixture.folder.appendingPathComponent("reshape_identity.onnx").path

  static func property(_ condition: String) -> String {
    """
    (declare-const X_0 Real)
    (declare-const X_1 Real)
    (declare-const X_2 Real)
    (declare-const X_3 Real)
    (declare-const Y_0 Real)
    (declare-const Y_1 Real)
    (declare-const Y_2 Real)
    (assert (and (>= X_0 -1) (<= X_0 1) (>= X_1 -1) (<= X_1 1)))
    (assert (and (>= X_2 -1) (<= X_2 1) (>= X_3 -1) (<= X_3 1)))
    (assert \(condition))
    """
  }

  /// `Y_0 ≥ 0.9` on probabilities means something else on the logits: refused, naming the file
  /// and the Softmax node.
  @Test(arguments: ["(>= Y_0 0.9)", "(<= (+ Y_0 Y_1) 0.5)", "(>= Y_0 0)", "(>= Y_0 (* 2 Y_1))"])
  func conditionsOnProbabilitiesAreRefused(condition: String) throws {
    let verifier = try Verifier(network: ModelLoader.load(path: Self.model))
    let property = try VNNLibReader.parse(Self.property(condition))
    do {
      try verifier.validate(property)
      Issue.record("\(condition) was accepted on a Softmax model")
    } catch let error as ModelError {
      #expect(error.file == Self.model)
      #expect(error.description.contains("Softmax"), "\(error)")
    }
    #expect(throws: ModelError.self) { try verifier.verify(property: property) }
  }

  /// A comparison of two outputs means the same on either side of Softmax; the witness shows
  /// the model's outputs (probabilities), not the logits.
  @Test func comparisonsOfTwoOutputsAreDecidedAndShowProbabilities() throws {
    let verifier = try Verifier(network: ModelLoader.load(path: Self.model))
    let property = try VNNLibReader.parse(Self.property("(>= Y_0 Y_1)"))
    try verifier.validate(property)
    let result = try verifier.verify(property: property)
    #expect(result.verdict == .counterexample)
    let outputs = try #require(result.counterexample?.outputs)
    #expect(outputs.allSatisfy { $0 >= 0 && $0 <= 1 })
    #expect(abs(outputs.reduce(0, +) - 1) < 1e-12)
    #expect(outputs[0] >= outputs[1])
  }
}

@Suite("Trust: no silent fallbacks")
struct SilentFallbackTests {
  @Test(arguments: [0.0, -1e-6, .nan, .infinity])
  func robustToleranceMustBePositive(tolerance: Double) throws {
    var generator = SplitMix64(seed: 3)
    let verifier = try Verifier(
      network: RandomNetworks.make(inputs: 2, hidden: [3], outputs: 2, using: &generator))
    let region = try InputRegion(center: [0.5, 0.5], norm: .linf, radius: 0.1)
    var options = VerificationOptions()
    options.robustTolerance = tolerance
    #expect(throws: PropertyError.self) { try verifier.verify(region: region, options: options) }
  }

  /// Merging two affine layers whose product overflows must be refused, not encoded with
  /// infinite weights.
  @Test func mergedWeightsThatOverflowAreRefused() throws {
    let big = try AffineLayer(
      inputSize: 1, outputSize: 1, weights: [1e200], bias: [0], activation: .identity)
    let out = try AffineLayer(
      inputSize: 1, outputSize: 2, weights: [1e200, 1], bias: [0, 0], activation: .identity)
    let network = try Network(layers: [big, out])
    #expect(throws: NetworkError.self) { try network.normalizedForEncoding() }
    #expect(throws: NetworkError.self) { try Verifier(network: network) }
  }
}

@Suite("Trust: the tree's early stop")
struct EarlyStopRuleTests {
  struct Case: Sendable, CustomTestStringConvertible {
    var name: String
    var bound: Double
    var incumbent: Double?
    var best: Double?
    var rejected = false
    var stops: Bool
    var testDescription: String { name }
  }

  static let cases: [Case] = [
    Case(name: "open nodes below, nothing else", bound: -1, stops: true),
    Case(name: "open nodes at the tolerance", bound: -1e-6, stops: true),
    Case(name: "open nodes just above", bound: -0.9e-6, stops: false),
    // GLPK pruned nodes against this incumbent: their maximum may be up to −0.5e-6.
    Case(name: "incumbent inside the band", bound: -1, incumbent: -0.5e-6, stops: false),
    Case(name: "incumbent below the band", bound: -1, incumbent: -2e-6, stops: true),
    Case(name: "re-checked margin inside the band", bound: -1, best: -0.5e-6, stops: false),
    Case(name: "re-checked margin below", bound: -1, incumbent: -3e-6, best: -2e-6, stops: true),
    Case(name: "a rejected incumbent", bound: -1, rejected: true, stops: false),
  ]

  @Test(arguments: cases)
  func stopsOnlyWhenEverythingIsBelowTheTolerance(_ c: Case) {
    #expect(
      TargetSearch.treeProvesUnreachable(
        bestOpenBound: c.bound, incumbent: c.incumbent, bestMargin: c.best,
        rejectedIncumbent: c.rejected, tolerance: 1e-6) == c.stops)
  }
}

@Suite("Trust: rounding margins scaled to what is summed")
struct RoundingMarginTests {
  /// A bias of 1e6 and an input term of −1e6 cancel; the 2⁻³⁴ between them is lost in the
  /// computed constant (1e6 + 2⁻³⁴ rounds to 1e6). The row must still contain the exact value:
  /// its widening must follow the terms' magnitude (2e6), not the result's (0).
  @Test func cancellingBiasesKeepTheExactValueInTheRow() throws {
    let hidden = try AffineLayer(
      inputSize: 2, outputSize: 1, weights: [1, 1], bias: [1e6], activation: .relu)
    let output = try AffineLayer(
      inputSize: 1, outputSize: 2, weights: [1, -1], bias: [0, 0], activation: .identity)
    let network = try Network(layers: [hidden, output])
    let region = try InputRegion(center: [0x1p-34, -1e6], norm: .linf, radius: 1, box: nil)
    #expect(1e6 + 0x1p-34 - 1e6 == 0, "the constant must lose the 2⁻³⁴ for this test")
    let bounds = IntervalBounds.compute(network: network, region: region)
    let encoding = try MILPEncoding(network: network, region: region, bounds: bounds)
    // Row 0 defines the neuron: Σ w·d − z ∈ [low, high], and exactly Σ w·d − z = −2⁻³⁴.
    let (low, high) = encoding.recordedRowBounds(0)
    #expect(low <= -0x1p-34 && -0x1p-34 <= high, "row [\(low), \(high)]")
    #expect(high - low < 1e-6, "the widening stays small: [\(low), \(high)]")
    // The interval bounds contain the exact pre-activation range [2⁻³⁴ − 2, 2⁻³⁴ + 2].
    #expect(bounds.layers[0].lower[0] <= 0x1p-34 - 2 && bounds.layers[0].upper[0] >= 0x1p-34 + 2)
  }

  /// 20,000 terms of 2⁻²⁰ added to 2³³ each round away (half an ulp, to even): the computed sum
  /// stays 2³³ while the exact one is 2³³ + 0.019. A margin of 1e-12 of the magnitude (0.0086)
  /// does not cover that; n·u of it does.
  @Test func longSumsGetAMarginThatGrowsWithTheirLength() throws {
    let n = 20_000
    let layer = try AffineLayer(
      inputSize: n, outputSize: 1, weights: [Double](repeating: 1, count: n), bias: [0x1p33],
      activation: .relu)
    let inputs = [Double](repeating: 0x1p-20, count: n)
    let exact = 0x1p33 + Double(n) * 0x1p-20
    #expect(exact != 0x1p33)
    let bounds = IntervalBounds.propagate(layer, inputLower: inputs, inputUpper: inputs)
    #expect(bounds.lower[0] <= exact && exact <= bounds.upper[0], "\(bounds) vs \(exact)")
  }
}

@Suite("Trust: the tolerance band")
struct ToleranceBandTests {
  /// `out0 = x + offset`, `out1 = 0.5` over x ∈ [0, 0.5]: the largest margin is exactly `offset`.
  /// Inside (−10⁻⁶, 0] neither answer can be given: no proof reaches −10⁻⁶ and no point beats
  /// the label; below it the answer is robust, above 0 a counterexample.
  @Test(arguments: [
    (-0.5e-6, Verdict.unknown), (0, .unknown), (-2e-6, .robust), (0.5e-6, .counterexample),
  ])
  func verdictFollowsTheExactMaximum(offset: Double, expected: Verdict) throws {
    let network = try Network(layers: [
      AffineLayer(
        inputSize: 1, outputSize: 2, weights: [1, 0], bias: [offset, 0.5], activation: .identity)
    ])
    let verifier = try Verifier(network: network)
    let region = try InputRegion(center: [0], norm: .linf, radius: 0.5, box: (0, 0.5))
    for strategy in [SearchStrategy.milp, .split] {
      for attack in [true, false] {
        var options = VerificationOptions()
        options.target = .label(0)
        options.searchStrategy = strategy
        options.attack = attack
        let result = try verifier.verify(region: region, options: options)
        #expect(
          result.verdict == expected,
          "offset \(offset), \(strategy), attack \(attack): \(result.verdict) \(result.reason ?? "")"
        )
        if let bound = result.bound { #expect(bound >= offset - 1e-12) }
      }
    }
  }
}

@Suite("Trust: unknown causes are values")
struct UnknownCauseTests {
  /// The tolerance band gives `withinTolerance`, which minimal-distortion bisection acts on
  /// (it used to look for words in the reason text).
  @Test func theToleranceBandIsACause() throws {
    let network = try Network(layers: [
      AffineLayer(
        inputSize: 1, outputSize: 2, weights: [1, 0], bias: [-0.5e-6, 0.5], activation: .identity)
    ])
    let region = try InputRegion(center: [0], norm: .linf, radius: 0.5, box: (0, 0.5))
    var options = VerificationOptions()
    options.target = .label(0)
    options.searchStrategy = .milp
    let result = try Verifier(network: network).verify(region: region, options: options)
    #expect(result.verdict == .unknown)
    #expect(result.cause == .withinTolerance, "\(result.reason ?? "")")
  }

  @Test func combinedCausesPreferTheLimits() {
    #expect(UnknownCause.combined([.withinTolerance, .timeLimit]) == .timeLimit)
    #expect(UnknownCause.combined([.solver, .memoryLimit]) == .memoryLimit)
    #expect(UnknownCause.combined([.withinTolerance, .solver]) == .withinTolerance)
    #expect(UnknownCause.combined([]) == nil)
  }
}
