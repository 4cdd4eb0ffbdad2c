import Foundation
import GLPK

/// Which bounds the MILP's big-M constants come from.
public enum BoundMethod: String, Sendable, CaseIterable, Codable {
  /// Interval arithmetic, with the first layer exact over the region.
  case interval
  /// Linear bounds by back-substitution to the input (DeepPoly / CROWN), kept where tighter than
  /// interval arithmetic.
  case symbolic
  /// Symbolic bounds, then each unstable neuron of layers 2… maximised and minimised over the LP
  /// relaxation of the layers before it.
  case lp
  /// `lp` for the search over the whole region of a network with three fully connected hidden
  /// layers or more (unless it is a MILP whose symbolic bounds leave more than 300 ReLUs
  /// unstable); `symbolic` otherwise (`Verifier.resolvedBoundMethod`).
  case automatic = "auto"
}

enum LPBoundTightening {
  /// Tightens `bounds` layer by layer. Each layer's LP (the triangle relaxation of the layers
  /// before it, from the bounds tightened so far) is built once and re-solved per neuron with a
  /// warm-started primal simplex; each result is turned into a safe bound by `safeBound`, so an
  /// inaccurate LP solve can only loosen it. Stops early at `deadline`, keeping what it has; one
  /// LP of a wide network can take seconds, so each LP stops at the deadline too (an LP that
  /// stops early leaves its neuron's bounds as they were).
  ///
  /// - Parameters:
  ///   - magnitudes: `SymbolicBounds.outputMagnitudes` of the hidden layers, or nil. With them,
  ///     each layer is first bounded again by back-substitution through the layers before it as
  ///     the LPs left them (cheap next to its LPs, and the neurons it stabilises need none).
  ///   - threads: threads sharing each layer's LPs, each on an LP of its own (GLPK keeps its
  ///     state per thread).
  static func tighten(
    network: Network, region: InputRegion, bounds initial: NetworkBounds,
    magnitudes: [[Double]]? = nil, dropThreshold: Double, threads: Int = 1,
    deadline: ContinuousClock.Instant?
  ) throws -> NetworkBounds {
    var bounds = initial
    let hiddenCount = network.layers.count - 1
    // The first hidden layer's bounds are exact already, and the output layer needs no big-M
    // (its bounds only bound the margin, which the MILP's own LP bounds better).
    guard hiddenCount >= 2 else { return bounds }
    for k in 1..<hiddenCount {
      let layer = network.layers[k]
      if let magnitudes {
        SymbolicBounds.tighten(
          &bounds.layers[k],
          neurons: (0..<layer.outputSize).filter { bounds.layers[k].isUnstable($0) },
          ofLayer: k, network: network,
          relaxations: (0..<k).map { SymbolicBounds.Relaxation(bounds.layers[$0]) },
          magnitudes: magnitudes, region: region)
      }
      let candidates = (0..<layer.outputSize).filter { bounds.layers[k].isUnstable($0) }
      let tightened = try tightenNeurons(
        candidates, ofLayer: k, network: network, region: region, bounds: bounds,
        dropThreshold: dropThreshold, threads: min(threads, candidates.count),
        deadline: deadline)
      bounds.layers[k] = tightened
      if let deadline, ContinuousClock.now >= deadline { return bounds }
      // Re-propagate the layers after k from the tightened ones.
      var previous = tightened.outputBounds(layer.activation)
      for later in (k + 1)..<network.layers.count {
        let propagated = IntervalBounds.propagate(
          network.layers[later], inputLower: previous.lower, inputUpper: previous.upper)
        bounds.layers[later] = bounds.layers[later].intersected(with: propagated)
        previous = bounds.layers[later].outputBounds(network.layers[later].activation)
      }
    }
    return bounds
  }

  /// Layer `k`'s bounds with each of `neurons` maximised and minimised over the LP relaxation of
  /// the layers before it. With several threads, each takes every `threads`-th neuron (nearby
  /// neurons' LPs warm-start each other as well as any) on an LP of its own.
  private static func tightenNeurons(
    _ neurons: [Int], ofLayer k: Int, network: Network, region: InputRegion,
    bounds: NetworkBounds, dropThreshold: Double, threads: Int,
    deadline: ContinuousClock.Instant?
  ) throws -> LayerBounds {
    guard !neurons.isEmpty else { return bounds.layers[k] }
    let threads = max(1, threads)
    let results = ThreadResults<LayerBounds>(count: threads)
    runOnThreads(threads, name: "relumip-lp-bounds") { worker in
      results.record(worker) {
        let share = stride(from: worker, to: neurons.count, by: threads).map { neurons[$0] }
        return try tightenShare(
          share, ofLayer: k, network: network, region: region, bounds: bounds,
          dropThreshold: dropThreshold, deadline: deadline)
      }
    }
    var layerBounds = bounds.layers[k]
    for shareBounds in try results.values() {
      for i in neurons {
        layerBounds.lower[i] = max(layerBounds.lower[i], shareBounds.lower[i])
        layerBounds.upper[i] = min(layerBounds.upper[i], shareBounds.upper[i])
      }
    }
    return layerBounds
  }

  /// One thread's share of `tightenNeurons`, on an LP of its own.
  private static func tightenShare(
    _ neurons: [Int], ofLayer k: Int, network: Network, region: InputRegion,
    bounds: NetworkBounds, dropThreshold: Double, deadline: ContinuousClock.Instant?
  ) throws -> LayerBounds {
    let layer = network.layers[k]
    var current = bounds.layers[k]
    var lpOptions = SimplexOptions()
    lpOptions.method = .primal
    var options = MILPEncoding.Options()
    options.dropThreshold = dropThreshold
    options.encodedLayers = k
    let encoding = try MILPEncoding(
      network: network, region: region, bounds: bounds, options: options)
    for i in neurons {
      if let deadline, ContinuousClock.now >= deadline { break }
      let expression = encoding.expression(layer: layer, neuron: i, inputs: encoding.layerInputs)
      let (kept, slack) = encoding.split(expression)
      for maximize in [true, false] {
        // Skip a side that another solve already proved stable.
        if maximize ? current.upper[i] <= 0 : current.lower[i] >= 0 { continue }
        try encoding.setObjective(kept, maximize: maximize)
        lpOptions.timeLimit = timeLeft(deadline)
        guard try encoding.solveRelaxation(lpOptions) == .solved,
          encoding.relaxationStatus == .optimal
        else {
          encoding.resetBasis()
          continue
        }
        let value = encoding.safeBound(of: kept, maximize: maximize)
        if maximize {
          current.upper[i] = min(current.upper[i], value + expression.constant + slack)
        } else {
          current.lower[i] = max(current.lower[i], value + expression.constant - slack)
        }
      }
    }
    return current
  }

  enum CutOutcome {
    /// Bounds valid for every input of the region whose margin is at least −tolerance.
    case bounds(NetworkBounds)
    /// No input of the region has a margin of at least −tolerance: proven by a safe bound on the
    /// margin or by safe bounds on a neuron that cross, never by GLPK's word alone.
    case infeasible
  }

  /// Tightens every unstable neuron's bounds over the whole-network LP relaxation with the extra
  /// constraint `goal margin ≥ −tolerance` (the objective cut). The bounds
  /// hold only for inputs that could be counterexamples, which is all the MILP with the same cut
  /// needs; they are often far tighter, and robust cases often become LP-infeasible here.
  /// Repeats for up to `rounds` rounds, rebuilding the LP from the tighter bounds each time.
  static func tightenUnderCut(
    network: Network, region: InputRegion, bounds initial: NetworkBounds, goal: OutputGoal,
    tolerance: Double, dropThreshold: Double, rounds: Int, deadline: ContinuousClock.Instant?
  ) throws -> CutOutcome {
    var bounds = initial
    var lpOptions = SimplexOptions()
    lpOptions.method = .primal
    let hiddenCount = network.layers.count - 1
    for _ in 0..<rounds {
      var options = MILPEncoding.Options()
      options.dropThreshold = dropThreshold
      options.marginLowerBound = -tolerance
      let encoding = try MILPEncoding(
        network: network, region: region, bounds: bounds, options: options)
      try encoding.setGoal(goal)
      let unstableBefore = bounds.unstableCount
      var improvement = 0.0
      for k in 0..<hiddenCount {
        var current = bounds.layers[k]
        for i in 0..<current.count {
          guard case .unstable(let z, _, _) = encoding.neurons[k][i], current.isUnstable(i) else {
            continue
          }
          if let deadline, ContinuousClock.now >= deadline { return .bounds(bounds) }

          for maximize in [true, false] {
            if maximize ? current.upper[i] <= 0 : current.lower[i] >= 0 { continue }
            try encoding.setObjective([(z, 1)], maximize: maximize)
            lpOptions.timeLimit = timeLeft(deadline)
            let end = try encoding.solveRelaxation(lpOptions)
            if end == .noPrimalFeasibleSolution || encoding.relaxationStatus == .noFeasibleSolution
            {
              // GLPK's tolerances can call a badly scaled LP infeasible; the margin's safe bound
              // without the cut decides. If it does not confirm, stop tightening on this LP and
              // keep the bounds so far (each of them safe).
              let bound = try encoding.safeMarginBoundWithoutCut(
                timeLimit: timeLeft(deadline))
              if let bound, bound <= -tolerance { return .infeasible }
              return .bounds(bounds)
            }
            guard end == .solved, encoding.relaxationStatus == .optimal else {
              encoding.resetBasis()
              continue
            }
            let value = encoding.safeBound(of: [(z, 1)], maximize: maximize)
            if maximize, value < current.upper[i] {
              improvement += current.upper[i] - value
              current.upper[i] = value
            } else if !maximize, value > current.lower[i] {
              improvement += value - current.lower[i]
              current.lower[i] = value
            }
          }
          // Bounds that cross leave no input with a margin ≥ −tolerance.
          if current.lower[i] > current.upper[i] { return .infeasible }
          try encoding.narrowColumn(z, lower: current.lower[i], upper: current.upper[i])
        }
        bounds.layers[k] = current
        var previous = current.outputBounds(network.layers[k].activation)
        for later in (k + 1)..<network.layers.count {
          let propagated = IntervalBounds.propagate(
            network.layers[later], inputLower: previous.lower, inputUpper: previous.upper)
          bounds.layers[later] = bounds.layers[later].intersected(with: propagated)
          previous = bounds.layers[later].outputBounds(network.layers[later].activation)
        }
      }
      // Another round pays only when this one stabilised neurons or moved bounds noticeably.
      if bounds.unstableCount == unstableBefore
        && improvement < 1e-3 * Double(max(unstableBefore, 1))
      {
        break
      }
    }
    return .bounds(bounds)
  }
}

/// What each of several threads computed (or the error it threw), by worker index.
final class ThreadResults<Value>: @unchecked Sendable {
  private let lock = NSLock()
  private var results: [Result<Value, any Error>?]

  init(count: Int) { results = Array(repeating: nil, count: count) }

  func record(_ worker: Int, _ work: () throws -> Value) {
    let result = Result { try work() }
    lock.withLock { results[worker] = result }
  }

  /// Every worker's value, in worker order; rethrows the first worker's error.
  func values() throws -> [Value] {
    try lock.withLock { results }.compactMap { try $0?.get() }
  }
}
