import Foundation
import TestSupport
import Testing

@testable import ReluMIP

/// A small random network (half of them hostile), a region and three random output conditions.
private struct RandomObjectiveCase {
  var network: Network
  var region: InputRegion
  var conditions: [OutputCondition]
  var what: String

  init(index: Int, kind: RegionKind, generator: inout SplitMix64) throws {
    let inputs = Int(2 + generator.next() % 5)
    let hidden = (0..<Int(generator.next() % 4)).map { _ in Int(1 + generator.next() % 8) }
    let outputs = Int(1 + generator.next() % 4)
    network =
      index % 2 == 0
      ? HostileNetworks.make(inputs: inputs, hidden: hidden, outputs: outputs, using: &generator)
      : RandomNetworks.make(inputs: inputs, hidden: hidden, outputs: outputs, using: &generator)
    region = try kind.region(dimension: inputs, using: &generator)
    conditions = (0..<3).map { _ in
      OutputCondition(
        terms: (0..<outputs).compactMap { j in
          generator.next() % 3 == 0
            ? nil : OutputCondition.Term(output: j, weight: generator.uniform(-2, 2))
        }, constant: generator.uniform(-1, 1))
    }
    what =
      "\(kind.rawValue) case \(index): layers \(network.layers.map { "\($0.inputSize)→\($0.outputSize)" }), radius \(region.radius)"
  }

  func objective(
    _ condition: OutputCondition,
    symbolic: (
      bounds: NetworkBounds, relaxations: [SymbolicBounds.Relaxation], magnitudes: [[Double]]
    )
  ) -> OptimizedBound {
    let (row, constant) = condition.composed(with: network.layers[network.layers.count - 1])
    return OptimizedBound(
      network: network, region: region, rootBounds: symbolic.bounds,
      magnitudes: symbolic.magnitudes, row: row, constant: constant)
  }
}

/// Whether the network's pre-activations at `point` have the phases the splits fix.
private func satisfies(_ splits: [NeuronSplit], _ preActivations: [[Double]]) -> Bool {
  splits.allSatisfy { split in
    let z = preActivations[split.layer][split.neuron]
    return split.active ? z >= 0 : z <= 0
  }
}

@Suite("Optimised bounds and the ReLU-phase search", .tags(.property))
struct OptimizedBoundsTests {
  /// Every slope in [0, 1] gives a true bound: the optimised one, and random ones, hold at every
  /// sample; optimising never loosens the bound it starts from (the symbolic bounds' slopes), and
  /// it tightens it on many cases (so the check is not vacuous).
  @Test(arguments: RegionKind.allCases)
  func optimisedSlopesBoundEverySampleAndNeverLoosen(kind: RegionKind) throws {
    var tightened = 0
    for index in 0..<100 {
      var generator = SplitMix64(seed: UInt64(index) &* 0x51ED &+ UInt64(kind.rawValue.count))
      let random = try RandomObjectiveCase(index: index, kind: kind, generator: &generator)
      let symbolic = SymbolicBounds.compute(network: random.network, region: random.region)
      let hidden = Array(symbolic.bounds.layers.dropLast())
      let points = samplePoints(random.region, count: 150, using: &generator)
      let outputs = points.map { random.network.evaluate($0) }
      for condition in random.conditions {
        let objective = random.objective(condition, symbolic: symbolic)
        let start = objective.initialParameters(rootBounds: symbolic.bounds)
        let initial = objective.evaluate(bounds: hidden, splits: [], parameters: start).value
        let (_, optimised) = objective.optimize(
          bounds: hidden, splits: [], start: start, iterations: 40, target: -.infinity,
          deadline: nil)
        #expect(
          optimised.value <= initial,
          "optimising loosened \(initial) to \(optimised.value), \(random.what)")
        if optimised.value < initial - 1e-9 { tightened += 1 }
        var randomSlopes = start
        for i in randomSlopes.lowerSlopes.indices {
          randomSlopes.lowerSlopes[i] = generator.uniform(0, 1)
        }
        let other = objective.evaluate(bounds: hidden, splits: [], parameters: randomSlopes).value
        let largest = outputs.map { condition.value($0) }.max()!
        #expect(
          largest <= optimised.value,
          "sample \(largest) above optimised \(optimised.value), \(random.what)")
        #expect(
          largest <= other, "sample \(largest) above a random-slope bound \(other), \(random.what)")
        #expect(random.region.contains(optimised.point, distanceTolerance: 1e-9))
      }
    }
    #expect(tightened > 10, "optimisation tightened only \(tightened) bounds")
  }

  /// A split's multiplier gradient is its sign times the split neuron's pre-activation at the
  /// bound's maximiser, also for an inactive split, whose neuron the forward pass otherwise skips
  /// as off. Checked on first-layer splits, whose pre-activation is `W₀x + b₀` whatever the
  /// relaxation.
  @Test(arguments: RegionKind.allCases)
  func multiplierGradientsReadTheSplitNeuronsPreActivation(kind: RegionKind) throws {
    var checked = (active: 0, inactive: 0)
    for index in 0..<80 {
      var generator = SplitMix64(seed: UInt64(index) &* 0x6A2D &+ UInt64(kind.rawValue.count))
      let random = try RandomObjectiveCase(index: index, kind: kind, generator: &generator)
      let network = random.network
      guard network.layers.count > 1 else { continue }
      let symbolic = SymbolicBounds.compute(network: network, region: random.region)
      let hidden = Array(symbolic.bounds.layers.dropLast())
      let splits = (0..<hidden[0].count).filter { hidden[0].isUnstable($0) }.map {
        NeuronSplit(layer: 0, neuron: $0, active: generator.next() % 2 == 0)
      }
      guard !splits.isEmpty,
        let refined = SymbolicBounds.refine(
          network: network, region: random.region, bounds: hidden, splits: splits,
          magnitudes: symbolic.magnitudes, recomputeLayers: true)
      else { continue }
      let objective = random.objective(random.conditions[0], symbolic: symbolic)
      var parameters = objective.initialParameters(
        rootBounds: symbolic.bounds, splits: splits.count)
      for i in parameters.multipliers.indices {
        parameters.multipliers[i] = generator.uniform(0, 1)
      }
      let evaluation = objective.evaluate(bounds: refined, splits: splits, parameters: parameters)
      let first = network.layers[0]
      let z = first.matrix.multiply(evaluation.point, adding: first.bias)
      for (s, split) in splits.enumerated() {
        let expected = (split.active ? 1.0 : -1.0) * z[split.neuron]
        #expect(
          abs(evaluation.multiplierGradient[s] - expected) <= 1e-9 * (1 + abs(expected)),
          "split \(split), \(random.what)")
        if split.active { checked.active += 1 } else { checked.inactive += 1 }
      }
    }
    #expect(checked.active >= 20 && checked.inactive >= 20, "\(checked)")
  }

  /// Under random splits with random multipliers, the refined bounds hold at every sample with
  /// the splits' phases, and so does the objective's bound; a subproblem the refinement calls
  /// empty has no such sample.
  @Test(arguments: RegionKind.allCases)
  func boundsUnderSplitsHoldWhereThePhasesHold(kind: RegionKind) throws {
    var checkedSamples = 0
    var emptyCases = 0
    for index in 0..<150 {
      var generator = SplitMix64(seed: UInt64(index) &* 0xB5AD &+ UInt64(kind.rawValue.count))
      let random = try RandomObjectiveCase(index: index, kind: kind, generator: &generator)
      let network = random.network
      guard network.layers.count > 1 else { continue }
      let symbolic = SymbolicBounds.compute(network: network, region: random.region)
      let hidden = Array(symbolic.bounds.layers.dropLast())
      var splits: [NeuronSplit] = []
      for _ in 0..<Int(1 + generator.next() % 3) {
        let layer = Int(generator.next() % UInt64(hidden.count))
        let neuron = Int(generator.next() % UInt64(hidden[layer].count))
        if splits.contains(where: { $0.layer == layer && $0.neuron == neuron }) { continue }
        splits.append(NeuronSplit(layer: layer, neuron: neuron, active: generator.next() % 2 == 0))
      }
      let points = samplePoints(random.region, count: 300, using: &generator)
      let inside = points.filter { satisfies(splits, network.preActivations($0)) }
      // Clamped only; later layers bounded again from the root's bounds; and the search's way,
      // one split at a time from the bounds the previous splits left (`newSplits: 1`).
      for mode in ["clamped", "recomputed", "incremental"] {
        var refinedOrNil: [LayerBounds]?
        if mode == "incremental" {
          refinedOrNil = hidden
          for count in splits.indices {
            guard let parent = refinedOrNil else { break }
            refinedOrNil = SymbolicBounds.refine(
              network: network, region: random.region, bounds: parent,
              splits: Array(splits[...count]), newSplits: 1, magnitudes: symbolic.magnitudes,
              recomputeLayers: true)
          }
        } else {
          refinedOrNil = SymbolicBounds.refine(
            network: network, region: random.region, bounds: hidden, splits: splits,
            magnitudes: symbolic.magnitudes, recomputeLayers: mode == "recomputed")
        }
        guard let refined = refinedOrNil else {
          emptyCases += 1
          #expect(
            inside.isEmpty,
            "\(mode) refinement called a subproblem with \(inside.count) samples empty, \(random.what)"
          )
          continue
        }
        let full = NetworkBounds(layers: refined + [symbolic.bounds.layers[hidden.count]])
        for condition in random.conditions {
          let objective = random.objective(condition, symbolic: symbolic)
          var parameters = objective.initialParameters(
            rootBounds: symbolic.bounds, splits: splits.count)
          for i in parameters.lowerSlopes.indices {
            parameters.lowerSlopes[i] = generator.uniform(0, 1)
          }
          for i in parameters.multipliers.indices {
            parameters.multipliers[i] = generator.uniform(0, 2)
          }
          let value = objective.evaluate(bounds: refined, splits: splits, parameters: parameters)
            .value
          let (_, optimised) = objective.optimize(
            bounds: refined, splits: splits, start: parameters, iterations: 15,
            target: -.infinity, deadline: nil)
          for point in inside {
            let margin = condition.value(network.evaluate(point))
            #expect(
              margin <= value, "sample \(margin) above \(value) under \(splits), \(random.what)")
            #expect(margin <= optimised.value, "sample above optimised, \(random.what)")
          }
        }
        for point in inside {
          #expect(
            checkContained(network, full, at: point, what: "\(mode), \(random.what)") == 0)
          checkedSamples += 1
        }
      }
    }
    #expect(checkedSamples > 1000, "only \(checkedSamples) samples had the splits' phases")
    #expect(emptyCases > 0, "no subproblem was found empty, so that path went untested")
  }

  /// The ReLU-phase search's verdicts equal the exact maxima (activation-region enumeration) on
  /// 320 small networks, with the optimisation off or short so that subproblems split deep and
  /// many end in GLPK's LP; half of them on two threads.
  @Test(arguments: [PerturbationNorm.linf, .l1])
  func phaseSearchMatchesExactMaxima(norm: PerturbationNorm) throws {
    var verdicts: [Verdict: Int] = [:]
    var deepSearches = 0
    var searchesWithLeaves = 0
    for index in 0..<160 {
      var generator = SplitMix64(seed: UInt64(index) &* 0x7F4A &+ (norm == .l1 ? 1 : 0))
      let inputs = Int(2 + generator.next() % 3)
      let hidden = (0..<Int(1 + generator.next() % 3)).map { _ in Int(3 + generator.next() % 5) }
      let network = RandomNetworks.make(
        inputs: inputs, hidden: hidden, outputs: 3, using: &generator)
      let center = RandomNetworks.point(inputs, using: &generator)
      let radius = norm == .l1 ? generator.uniform(0.05, 1.5) : generator.uniform(0.05, 1)
      let region = try InputRegion(center: center, norm: norm, radius: radius)
      let label = network.predictedLabel(center)
      let exact = try ActivationRegionOracle.maximumMargins(
        network: network, region: region, label: label)
      let symbolic = SymbolicBounds.compute(network: network, region: region)
      for target in 0..<3 where target != label {
        guard abs(exact[target]) > 1e-4 else { continue }
        let goal = OutputGoal.labelChange(label: label, target: target)
        var options = VerificationOptions()
        options.boundOptimizationSteps = index % 3 == 0 ? 0 : 20
        // Half the searches share their subproblems between two threads.
        options.threads = 1 + index % 2
        let search = NeuronSplittingSearch(
          network: network, region: region, goal: goal, rootBounds: symbolic.bounds,
          magnitudes: symbolic.magnitudes, options: options, deadline: nil, statistics: [],
          binaries: 0)
        search.nodeIterations = Int(generator.next() % 3)
        let outcome = try search.run()
        verdicts[outcome.verdict, default: 0] += 1
        if search.subproblems > 8 { deepSearches += 1 }
        if search.linearPrograms > 0 { searchesWithLeaves += 1 }
        let what = "case \(index) target \(target): exact maximum \(exact[target])"
        if exact[target] > 0 {
          #expect(outcome.verdict == .counterexample, "\(what), verdict \(outcome.verdict)")
          if let found = outcome.counterexample {
            #expect(region.contains(found.input))
            #expect(goal.margin(network.evaluate(found.input)) > 0, "\(what)")
          }
        } else {
          #expect(
            outcome.verdict == .robust,
            "\(what), verdict \(outcome.verdict) \(outcome.reason ?? "")")
          if let bound = outcome.bound { #expect(bound >= exact[target] - 1e-9, "\(what)") }
          // A proof that needed subproblems says so (`settled_by: relu-split`).
          #expect(outcome.settledBy == (search.subproblems > 1 ? .reluSplit : .bounds), "\(what)")
        }
      }
    }
    #expect((verdicts[.robust] ?? 0) > 20 && (verdicts[.counterexample] ?? 0) > 20, "\(verdicts)")
    #expect(deepSearches > 10, "only \(deepSearches) searches went past eight subproblems")
    #expect(searchesWithLeaves > 10, "only \(searchesWithLeaves) searches reached a leaf's LP")
  }

  /// What a subproblem learns under its splits stays in its subtree: the layer bounds that the
  /// search bounds each subproblem with (refined from its parent's, which its sibling shares)
  /// hold at every sample that has the subproblem's phases. Bounds refined under a sibling's
  /// phase, or another subtree's, would exclude some of those samples. Half the searches run on
  /// two threads, which bound subproblems of different subtrees side by side.
  @Test(arguments: [PerturbationNorm.linf, .l1])
  func subproblemBoundsStayInTheirSubtree(norm: PerturbationNorm) throws {
    final class Observed: @unchecked Sendable {
      let lock = NSLock()
      var subproblems: [(splits: [NeuronSplit], bounds: [LayerBounds])] = []
    }
    var deepSubproblemsChecked = 0
    var samplesChecked = 0
    for index in 0..<40 {
      var generator = SplitMix64(seed: UInt64(index) &* 0x2B7E &+ (norm == .l1 ? 3 : 0))
      let hidden = index % 3 == 0 ? [5, 5, 5] : [6, 6]
      let network = RandomNetworks.make(inputs: 3, hidden: hidden, outputs: 3, using: &generator)
      let center = RandomNetworks.point(3, using: &generator)
      let radius = norm == .l1 ? generator.uniform(0.3, 1.5) : generator.uniform(0.2, 1)
      let region = try InputRegion(center: center, norm: norm, radius: radius)
      let label = network.predictedLabel(center)
      let symbolic = SymbolicBounds.compute(network: network, region: region)
      let points = samplePoints(region, count: 400, using: &generator)
      let preActivations = points.map { network.preActivations($0) }
      for target in 0..<3 where target != label {
        var options = VerificationOptions()
        options.boundOptimizationSteps = 0
        options.threads = 1 + index % 2
        let search = NeuronSplittingSearch(
          network: network, region: region,
          goal: OutputGoal.labelChange(label: label, target: target),
          rootBounds: symbolic.bounds, magnitudes: symbolic.magnitudes, options: options,
          deadline: nil, statistics: [], binaries: 0)
        // No optimisation: subproblems split deep before their bounds settle them.
        search.nodeIterations = 0
        let observed = Observed()
        search.subproblemObserver = { splits, bounds in
          observed.lock.withLock { observed.subproblems.append((splits, bounds)) }
        }
        _ = try search.run()
        // `checkContained` records each sample outside a subproblem's bounds; the first three of
        // a search tell the story.
        var failures = 0
        for (splits, bounds) in observed.subproblems where failures < 3 {
          let full = NetworkBounds(layers: bounds + [symbolic.bounds.layers[bounds.count]])
          let inside = points.indices.filter { satisfies(splits, preActivations[$0]) }
          for i in inside where failures < 3 {
            let what = "case \(index) target \(target), subproblem \(splits)"
            failures += checkContained(network, full, at: points[i], what: what)
          }
          samplesChecked += inside.count
          if splits.count >= 2 && !inside.isEmpty { deepSubproblemsChecked += 1 }
        }
      }
    }
    #expect(
      deepSubproblemsChecked > 100 && samplesChecked > 10_000,
      "\(deepSubproblemsChecked) subproblems two splits deep or more, \(samplesChecked) samples")
  }

  /// Splits in earlier layers weigh more only on fully connected networks of three hidden layers
  /// or more (measured to pay there, and to cost on two hidden layers).
  @Test func earlierLayersWeighMoreOnDeepDenseNetworks() throws {
    var generator = SplitMix64(seed: 0xEA21)
    for (hidden, weight) in [([4, 4], 1.0), ([4, 4, 4], 4.0), ([3, 5, 4, 6], 4.0), ([5], 1.0)] {
      let network = RandomNetworks.make(inputs: 3, hidden: hidden, outputs: 3, using: &generator)
      let center = RandomNetworks.point(3, using: &generator)
      let region = try InputRegion(center: center, norm: .linf, radius: 0.5)
      let symbolic = SymbolicBounds.compute(network: network, region: region)
      let label = network.predictedLabel(center)
      let search = NeuronSplittingSearch(
        network: network, region: region,
        goal: OutputGoal.labelChange(label: label, target: (label + 1) % 3),
        rootBounds: symbolic.bounds, magnitudes: symbolic.magnitudes,
        options: VerificationOptions(), deadline: nil, statistics: [], binaries: 0)
      #expect(search.earlierLayerWeight == weight, "hidden layers \(hidden)")
    }
  }

  /// A search capped at k subproblems either settles within them, as the uncapped search does,
  /// or stops without a verdict and says so; it never answers otherwise. (On one thread, so the
  /// two searches take the same subproblems in the same order.)
  @Test func subproblemLimitStopsWithoutAVerdict() throws {
    var capped = 0
    var settledWithin = 0
    for index in 0..<60 {
      var generator = SplitMix64(seed: UInt64(index) &* 0x51F1 &+ 7)
      let network = RandomNetworks.make(
        inputs: 3, hidden: [6, 6], outputs: 3, using: &generator)
      let center = RandomNetworks.point(3, using: &generator)
      let region = try InputRegion(center: center, norm: .linf, radius: generator.uniform(0.1, 1))
      let label = network.predictedLabel(center)
      let symbolic = SymbolicBounds.compute(network: network, region: region)
      for target in 0..<3 where target != label {
        let goal = OutputGoal.labelChange(label: label, target: target)
        func search(limit: Int?) throws -> (NeuronSplittingSearch, TargetSearch.Outcome) {
          let search = NeuronSplittingSearch(
            network: network, region: region, goal: goal, rootBounds: symbolic.bounds,
            magnitudes: symbolic.magnitudes, options: VerificationOptions(), deadline: nil,
            statistics: [], binaries: 0)
          search.subproblemLimit = limit
          return (search, try search.run())
        }
        let (full, whole) = try search(limit: nil)
        let limit = 3
        let (limited, outcome) = try search(limit: limit)
        let what = "case \(index) target \(target): \(full.subproblems) subproblems uncapped"
        if full.subproblems <= limit {
          settledWithin += 1
          #expect(outcome.verdict == whole.verdict, "\(what)")
          #expect(!limited.probeEnded, "\(what)")
        } else {
          // One thread takes the subproblems in the same order either way, so the capped search
          // reaches the one past its cap before any verdict.
          capped += 1
          #expect(outcome.verdict == .unknown, "\(what): \(outcome.verdict)")
          #expect(limited.probeEnded, "\(what)")
        }
      }
    }
    #expect(capped > 5 && settledWithin > 5, "capped \(capped), settled within \(settledWithin)")
  }
}
