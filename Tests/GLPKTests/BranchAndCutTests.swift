import Foundation
import GLPK
import Testing

/// A 0-1 knapsack: maximise Σ value·x subject to Σ weight·x ≤ capacity.
struct Knapsack: CustomStringConvertible {
  var values: [Double]
  var weights: [Double]
  var capacity: Double

  var description: String { "knapsack values \(values) weights \(weights) capacity \(capacity)" }

  /// The optimum by enumerating every subset.
  var bruteForceOptimum: Double {
    precondition(values.count == weights.count && values.count <= 20)
    var best = 0.0
    for mask in 0..<(1 << values.count) {
      var value = 0.0
      var weight = 0.0
      for item in values.indices where mask & (1 << item) != 0 {
        value += values[item]
        weight += weights[item]
      }
      if weight <= capacity { best = max(best, value) }
    }
    return best
  }

  func problem() throws -> LinearProblem {
    let problem = LinearProblem(name: "knapsack")
    problem.direction = .maximize
    try problem.addColumns(values.count, bounds: .range(0, 1), kind: .binary)
    try problem.addRows(1, bounds: .upper(capacity))
    try problem.setRow(0, columns: Array(values.indices), values: weights)
    try problem.setObjective(columns: Array(values.indices), coefficients: values)
    return problem
  }

  /// A random instance with integer values and weights, where the LP relaxation is fractional
  /// often enough to need branching.
  static func random(items: Int, seed: UInt64) -> Knapsack {
    var state = seed
    func next() -> UInt64 {
      // SplitMix64, inlined: GLPKTests depends on GLPK only.
      state &+= 0x9E37_79B9_7F4A_7C15
      var z = state
      z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
      z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
      return z ^ (z >> 31)
    }
    let weights = (0..<items).map { _ in Double(10 + next() % 90) }
    let values = weights.map { $0 + Double(next() % 20) }
    return Knapsack(
      values: values, weights: weights, capacity: (weights.reduce(0, +) / 2).rounded())
  }
}

struct CallbackFailure: Error, Equatable {
  var message: String
}

@Suite("Branch-and-cut")
struct BranchAndCutTests {
  static let textbook = Knapsack(values: [60, 100, 120], weights: [10, 20, 30], capacity: 50)

  @Test func textbookKnapsack() throws {
    #expect(Self.textbook.bruteForceOptimum == 220)
    let problem = try Self.textbook.problem()
    #expect(problem.numberOfBinaries == 3)
    #expect(try problem.branchAndCut() == .solved)
    #expect(problem.integerStatus == .optimal)
    #expect(close(problem.integerObjectiveValue, 220))
    let x = problem.integerColumnValues
    try #require(x.count == 3)
    #expect(close(x[0], 0) && close(x[1], 1) && close(x[2], 1), "solution \(x)")
    #expect(close(problem.integerColumnValue(2), 1))
  }

  @Test(arguments: [1, 2, 3, 4, 5, 6, 7, 8] as [UInt64])
  func randomKnapsacksMatchBruteForce(seed: UInt64) throws {
    let knapsack = Knapsack.random(items: 12, seed: seed)
    let problem = try knapsack.problem()
    var options = IntegerOptions()
    options.branching = .mostFractional
    options.backtracking = .depthFirst
    #expect(try problem.branchAndCut(options) == .solved)
    #expect(problem.integerStatus == .optimal)
    #expect(
      close(problem.integerObjectiveValue, knapsack.bruteForceOptimum), "\(knapsack)")
    // The solution is 0-1 and respects the capacity.
    let x = problem.integerColumnValues
    try #require(x.count == knapsack.weights.count)
    #expect(x.allSatisfy { close($0, 0) || close($0, 1) })
    #expect(zip(x, knapsack.weights).map { $0 * $1 }.reduce(0, +) <= knapsack.capacity + 1e-9)
  }

  @Test func integerProgramWithGeneralIntegers() throws {
    // max x + y, 2x + 2y ≤ 7, x, y integer in [0, 10]: LP optimum 3.5, integer optimum 3.
    let problem = LinearProblem()
    problem.direction = .maximize
    try problem.addColumns(2, bounds: .range(0, 10), kind: .integer)
    try problem.addRows(1, bounds: .upper(7))
    try problem.setRow(0, columns: [0, 1], values: [2, 2])
    try problem.setObjective(columns: [0, 1], coefficients: [1, 1])
    #expect(try problem.simplex() == .solved)
    #expect(close(problem.objectiveValue, 3.5))
    #expect(try problem.branchAndCut() == .solved)
    #expect(close(problem.integerObjectiveValue, 3))
  }

  @Test func infeasibleIntegerProgram() throws {
    // 2x = 1 with x integer: the LP relaxation is feasible, the integer program is not.
    let problem = LinearProblem()
    try problem.addColumns(1, bounds: .range(0, 5), kind: .integer)
    try problem.addRows(1, bounds: .fixed(1))
    try problem.setRow(0, columns: [0], values: [2])
    try problem.setObjective(columns: [0], coefficients: [1])
    #expect(try problem.branchAndCut() == .solved)
    #expect(problem.integerStatus == .noFeasibleSolution)
  }

  @Test func infeasibleRelaxation() throws {
    let problem = LinearProblem()
    try problem.addColumns(2, bounds: .range(0, 1), kind: .binary)
    try problem.addRows(1, bounds: .lower(3))
    try problem.setRow(0, columns: [0, 1], values: [1, 1])
    #expect(try problem.branchAndCut() == .noPrimalFeasibleSolution)
  }

  @Test func stopOnTheFirstIncumbent() throws {
    let knapsack = Knapsack.random(items: 16, seed: 42)
    let optimum = knapsack.bruteForceOptimum
    let problem = try knapsack.problem()
    var options = IntegerOptions()
    options.simpleRounding = false
    var calls = 0
    var stoppedAt: Double?
    let end = try problem.branchAndCut(options) { tree in
      calls += 1
      if let incumbent = tree.incumbentObjective {
        stoppedAt = incumbent
        #expect(tree.incumbentColumnValues().count == knapsack.values.count)
        tree.terminate()
      }
    }
    #expect(calls > 0)
    #expect(end == .stoppedByCallback)
    let incumbent = try #require(stoppedAt)
    #expect(problem.integerStatus == .feasible || problem.integerStatus == .optimal)
    #expect(close(problem.integerObjectiveValue, incumbent))
    #expect(incumbent <= optimum + 1e-9)
    // The incumbent is a real 0-1 solution within the capacity.
    let x = problem.integerColumnValues
    try #require(x.count == knapsack.weights.count)
    #expect(x.allSatisfy { close($0, 0) || close($0, 1) })
    #expect(zip(x, knapsack.weights).map { $0 * $1 }.reduce(0, +) <= knapsack.capacity + 1e-9)
    #expect(close(zip(x, knapsack.values).map { $0 * $1 }.reduce(0, +), incumbent))
  }

  @Test func stopOnTheBound() throws {
    // The objective is integral, so once the best open bound is below incumbent + 1 the
    // incumbent is optimal and the search can stop.
    let knapsack = Knapsack.random(items: 18, seed: 7)
    let optimum = knapsack.bruteForceOptimum
    let problem = try knapsack.problem()
    #expect(try problem.simplex() == .solved)
    let rootBound = problem.objectiveValue
    var options = IntegerOptions()
    options.backtracking = .bestLocalBound
    var observations = 0
    var stoppedOnBound = false
    let end = try problem.branchAndCut(options) { tree in
      // GLPK reports ±DBL_MAX for a node whose LP has not been solved yet (the root before its
      // first LP): no bound yet.
      guard let bound = tree.bestActiveBound, abs(bound) < .greatestFiniteMagnitude else { return }
      observations += 1
      // Every open bound lies below the root relaxation, and together with the incumbent it
      // never cuts off the true optimum.
      #expect(bound <= rootBound + 1e-6)
      #expect(max(bound, tree.incumbentObjective ?? -.infinity) >= optimum - 1e-6)
      #expect(tree.currentLevel.map { $0 >= 0 } ?? true)
      if let incumbent = tree.incumbentObjective, bound < incumbent + 1 {
        stoppedOnBound = true
        tree.terminate()
      }
    }
    #expect(observations > 0)
    // This instance needs a tree: the bound closes the gap while nodes are still open.
    #expect(stoppedOnBound)
    #expect(end == .stoppedByCallback)
    #expect(close(problem.integerObjectiveValue, optimum), "\(knapsack)")
  }

  @Test func callbackErrorIsRethrown() throws {
    let problem = try Knapsack.random(items: 10, seed: 3).problem()
    var calls = 0
    #expect(throws: CallbackFailure(message: "stop here")) {
      _ = try problem.branchAndCut { _ in
        calls += 1
        throw CallbackFailure(message: "stop here")
      }
    }
    // The first error stops the search: the callback is not called again.
    #expect(calls == 1)
    // The problem is still usable afterwards.
    #expect(try problem.branchAndCut() == .solved)
    #expect(problem.integerStatus == .optimal)
  }

  @Test func offeringASolutionOutsideTheHeuristicCallIsRefused() throws {
    let problem = try Self.textbook.problem()
    var refusals = 0
    var accepted = false
    _ = try problem.branchAndCut { tree in
      if tree.reason != .heuristic {
        do {
          try tree.offerSolution([0, 0, 0])
        } catch GLPKError.invalidArgument {
          refusals += 1
        }
      } else if !accepted {
        // A feasible (not optimal) solution, offered at the right time, with a wrong length first.
        #expect(throws: GLPKError.self) { try tree.offerSolution([1, 1]) }
        #expect(throws: GLPKError.self) { try tree.offerSolution([1, .nan, 0]) }
        accepted = (try? tree.offerSolution([1, 1, 0])) ?? false
      }
    }
    #expect(refusals > 0)
    #expect(close(problem.integerObjectiveValue, 220))
  }

  @Test func branchingCallbackChoosesTheColumn() throws {
    let knapsack = Knapsack.random(items: 10, seed: 11)
    let problem = try knapsack.problem()
    var branched = 0
    let end = try problem.branchAndCut { tree in
      guard tree.reason == .branching else { return }
      #expect(!tree.canBranch(on: -1))
      #expect(!tree.canBranch(on: knapsack.values.count))
      if let column = (0..<knapsack.values.count).first(where: { tree.canBranch(on: $0) }) {
        try tree.branch(on: column, upFirst: true)
        branched += 1
      }
    }
    #expect(end == .solved)
    #expect(close(problem.integerObjectiveValue, knapsack.bruteForceOptimum))
    // Not a requirement on GLPK (the root may be integral), but this instance needs branching.
    #expect(branched > 0)
  }

  @Test func trialObjectiveAtTheRootMatchesTheLPWithTheColumnFixed() throws {
    let knapsack = Knapsack.random(items: 10, seed: 11)
    let problem = try knapsack.problem()
    var checked = 0
    // Without preprocessing the root's LP is the problem's own relaxation.
    var options = IntegerOptions()
    options.preprocessing = .none
    _ = try problem.branchAndCut(options) { tree in
      guard tree.reason == .branching, tree.currentLevel == 0 else { return }
      #expect(tree.numberOfRows == 1)
      #expect(tree.trialObjective(fixing: -1, at: 0) == nil)
      #expect(tree.trialObjective(fixing: 0, at: .nan) == nil)
      for column in knapsack.values.indices where tree.canBranch(on: column) {
        for value in [0.0, 1.0] {
          let trial = try #require(tree.trialObjective(fixing: column, at: value))
          // The relaxation with the column fixed, solved from scratch.
          let fixed = try knapsack.problem()
          try fixed.setColumnBounds(column, .fixed(value))
          #expect(try fixed.simplex() == .solved)
          let expected = fixed.status == .optimal ? fixed.objectiveValue : -.infinity
          #expect(trial <= tree.currentLPObjective + 1e-9)
          #expect(trial == expected || close(trial, expected), "column \(column) at \(value)")
          checked += 1
        }
      }
    }
    #expect(checked > 0)
  }

  @Test func treeSizeGrowsDuringTheSearch() throws {
    let problem = try Knapsack.random(items: 18, seed: 5).problem()
    var largest = 0
    var levels: Set<Int> = []
    _ = try problem.branchAndCut { tree in
      largest = max(largest, tree.size.total)
      if let level = tree.currentLevel { levels.insert(level) }
      #expect(tree.size.active <= tree.size.current)
    }
    #expect(largest >= 1)
    #expect(levels.contains(0))
  }
}
