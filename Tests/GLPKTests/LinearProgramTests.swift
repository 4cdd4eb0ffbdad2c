import Foundation
import GLPK
import Testing

/// Builds a problem from dense rows, for small hand-checked LPs.
func makeProblem(
  direction: OptimizationDirection, objective: [Double], rows: [[Double]],
  rowBounds: [VariableBounds], columnBounds: VariableBounds = .lower(0),
  kind: VariableKind = .continuous
) throws -> LinearProblem {
  precondition(rows.count == rowBounds.count)
  let problem = LinearProblem(name: "test")
  problem.direction = direction
  try problem.addColumns(objective.count, bounds: columnBounds, kind: kind)
  try problem.addRows(rows.count)
  var entries: [MatrixEntry] = []
  for (i, row) in rows.enumerated() {
    precondition(row.count == objective.count)
    try problem.setRowBounds(i, rowBounds[i])
    for (j, value) in row.enumerated() where value != 0 {
      entries.append(MatrixEntry(row: i, column: j, value: value))
    }
  }
  try problem.loadMatrix(entries)
  try problem.setObjective(columns: Array(objective.indices), coefficients: objective)
  return problem
}

func close(_ a: Double, _ b: Double, _ tolerance: Double = 1e-9) -> Bool {
  abs(a - b) <= tolerance * max(1, abs(a), abs(b))
}

@Suite("Linear programs with known optima")
struct LinearProgramTests {
  /// The Wyndor Glass problem (Hillier & Lieberman): max 3x + 5y, x ≤ 4, 2y ≤ 12, 3x + 2y ≤ 18.
  /// Optimum 36 at (2, 6); duals (0, 1.5, 1).
  func wyndor() throws -> LinearProblem {
    try makeProblem(
      direction: .maximize, objective: [3, 5], rows: [[1, 0], [0, 2], [3, 2]],
      rowBounds: [.upper(4), .upper(12), .upper(18)])
  }

  @Test func maximisation() throws {
    let problem = try wyndor()
    #expect(try problem.simplex() == .solved)
    #expect(problem.status == .optimal)
    #expect(close(problem.objectiveValue, 36))
    #expect(close(problem.columnValue(0), 2))
    #expect(close(problem.columnValue(1), 6))
    #expect(problem.columnValues.count == 2)
    #expect(close(problem.rowValue(2), 18))
    #expect(close(problem.rowValue(0), 2))
  }

  @Test func rowDualsOfWyndor() throws {
    let problem = try wyndor()
    #expect(try problem.simplex() == .solved)
    let duals = problem.rowDuals
    try #require(duals.count == 3)
    #expect(close(duals[0], 0))
    #expect(close(duals[1], 1.5))
    #expect(close(duals[2], 1))
    #expect(close(problem.rowDual(1), 1.5))
    // Strong duality: Σ π_i b_i equals the optimum (every column sits at a zero lower bound or is
    // basic with a zero reduced cost).
    let rhs = [4.0, 12, 18]
    #expect(close(zip(duals, rhs).map { $0 * $1 }.reduce(0, +), problem.objectiveValue))
    // Reduced costs c − Aᵀπ vanish on the basic columns.
    let a = [[1.0, 0], [0, 2], [3, 2]]
    let objective = [3.0, 5]
    for j in 0..<2 {
      let reduced = objective[j] - (0..<3).map { a[$0][j] * duals[$0] }.reduce(0, +)
      #expect(close(reduced, 0), "reduced cost of basic column \(j)")
    }
  }

  @Test func minimisationWithLowerBoundedRows() throws {
    // min 2x + 3y, x + y ≥ 4, x + 3y ≥ 6: optimum 9 at (3, 1).
    let problem = try makeProblem(
      direction: .minimize, objective: [2, 3], rows: [[1, 1], [1, 3]],
      rowBounds: [.lower(4), .lower(6)])
    #expect(problem.direction == .minimize)
    #expect(try problem.simplex() == .solved)
    #expect(problem.status == .optimal)
    #expect(close(problem.objectiveValue, 9))
    #expect(close(problem.columnValue(0), 3))
    #expect(close(problem.columnValue(1), 1))
  }

  @Test func equalityAndRangeRows() throws {
    // min x + y, x − y = 1, 2 ≤ x + 2y ≤ 5: y = 1/3, x = 4/3, optimum 5/3.
    let problem = try makeProblem(
      direction: .minimize, objective: [1, 1], rows: [[1, -1], [1, 2]],
      rowBounds: [.fixed(1), .range(2, 5)])
    #expect(try problem.rowBounds(0) == .fixed(1))
    #expect(try problem.rowBounds(1) == .range(2, 5))
    #expect(try problem.simplex() == .solved)
    #expect(problem.status == .optimal)
    #expect(close(problem.objectiveValue, 5.0 / 3))
    #expect(close(problem.columnValue(0), 4.0 / 3))
    #expect(close(problem.columnValue(1), 1.0 / 3))
    // Maximising instead hits the range's upper end: y = 4/3, x = 7/3.
    problem.direction = .maximize
    #expect(try problem.simplex() == .solved)
    #expect(close(problem.objectiveValue, 11.0 / 3))
    #expect(close(problem.rowValue(1), 5))
  }

  @Test func fixedColumnsAndObjectiveConstant() throws {
    // max x + y + 10 with x fixed at 2.5 and x + y ≤ 4: y = 1.5, optimum 14.
    let problem = LinearProblem()
    problem.direction = .maximize
    try problem.addColumns(2)
    try problem.setColumnBounds(0, .fixed(2.5))
    try problem.addRows(1, bounds: .upper(4))
    try problem.setRow(0, columns: [0, 1], values: [1, 1])
    try problem.setObjective(columns: [0, 1], coefficients: [1, 1], constant: 10)
    #expect(try problem.columnBounds(0) == .fixed(2.5))
    #expect(try problem.columnBounds(1) == .lower(0))
    #expect(try problem.simplex() == .solved)
    #expect(close(problem.columnValue(0), 2.5))
    #expect(close(problem.columnValue(1), 1.5))
    #expect(close(problem.objectiveValue, 14))
  }

  @Test func rangeWithEqualEndsIsFixed() throws {
    let problem = LinearProblem()
    try problem.addColumns(1, bounds: .range(3, 3))
    #expect(try problem.columnBounds(0) == .fixed(3))
    try problem.setColumnBounds(0, .between(-.infinity, .infinity))
    #expect(try problem.columnBounds(0) == .free)
    try problem.setColumnBounds(0, .between(-1, .infinity))
    #expect(try problem.columnBounds(0) == .lower(-1))
    try problem.setColumnBounds(0, .between(-.infinity, 2))
    #expect(try problem.columnBounds(0) == .upper(2))
    try problem.setColumnBounds(0, .between(-1, 2))
    #expect(try problem.columnBounds(0) == .range(-1, 2))
  }

  @Test func betweenGivesTheSameInterval() {
    let cases: [(Double, Double)] = [
      (-.infinity, .infinity), (0, .infinity), (-.infinity, 1), (2, 2), (-3, 4),
    ]
    for (lower, upper) in cases {
      let interval = VariableBounds.between(lower, upper).interval
      #expect(interval.lower == lower && interval.upper == upper, "[\(lower), \(upper)]")
    }
  }

  @Test func infeasibleLP() throws {
    // x + y ≤ 1 and x + y ≥ 3.
    let problem = try makeProblem(
      direction: .maximize, objective: [1, 1], rows: [[1, 1], [1, 1]],
      rowBounds: [.upper(1), .lower(3)])
    #expect(try problem.simplex() == .solved)
    #expect(problem.status == .noFeasibleSolution)
    #expect(!problem.status.hasFeasibleSolution)
  }

  @Test func infeasibleLPWithPresolver() throws {
    let problem = try makeProblem(
      direction: .maximize, objective: [1, 1], rows: [[1, 1], [1, 1]],
      rowBounds: [.upper(1), .lower(3)])
    var options = SimplexOptions()
    options.presolve = true
    #expect(try problem.simplex(options) == .noPrimalFeasibleSolution)
  }

  @Test func unboundedLP() throws {
    // max x + y with x − y ≤ 1 only.
    let problem = try makeProblem(
      direction: .maximize, objective: [1, 1], rows: [[1, -1]], rowBounds: [.upper(1)])
    #expect(try problem.simplex() == .solved)
    #expect(problem.status == .unbounded)
  }

  @Test func iterationLimitStopsTheSimplex() throws {
    let problem = try wyndor()
    var options = SimplexOptions()
    options.iterationLimit = 0
    #expect(try problem.simplex(options) == .iterationLimit)
    #expect(problem.status != .optimal)
  }

  @Test(arguments: [SimplexOptions.Method.primal, .dual, .dualThenPrimal])
  func methodsAgree(method: SimplexOptions.Method) throws {
    let problem = try wyndor()
    var options = SimplexOptions()
    options.method = method
    #expect(try problem.simplex(options) == .solved)
    #expect(problem.status == .optimal)
    #expect(close(problem.objectiveValue, 36))
  }

  @Test func warmStartAfterChangingABound() throws {
    let problem = try wyndor()
    #expect(try problem.simplex() == .solved)
    // Tighten 3x + 2y ≤ 18 to ≤ 12: optimum 5·6 + 0 = 30 at (0, 6).
    try problem.setRowBounds(2, .upper(12))
    #expect(try problem.simplex() == .solved)
    #expect(close(problem.objectiveValue, 30))
    problem.resetBasis()
    #expect(try problem.simplex() == .solved)
    #expect(close(problem.objectiveValue, 30))
  }

  @Test func solverOutputReachesTheHandler() throws {
    final class Collected: @unchecked Sendable {
      let lock = NSLock()
      var text = ""
      func append(_ chunk: String) { lock.withLock { text += chunk } }
    }
    let collected = Collected()
    let problem = try wyndor()
    var options = SimplexOptions()
    options.messageLevel = .all
    options.output = { collected.append($0) }
    #expect(try problem.simplex(options) == .solved)
    #expect(collected.text.contains("OPTIMAL"), "GLPK's output: \(collected.text)")
  }

  @Test func writesCPLEXLPFormat() throws {
    let problem = try wyndor()
    let url = FileManager.default.temporaryDirectory
      .appendingPathComponent("relumip-glpk-\(UUID().uuidString).lp")
    defer { try? FileManager.default.removeItem(at: url) }
    try problem.writeCPLEXLP(to: url.path)
    let text = try String(contentsOf: url, encoding: .utf8)
    #expect(text.contains("Maximize"))
    #expect(text.contains("Subject To"))
  }
}

@Suite("Problem structure")
struct ProblemStructureTests {
  @Test func rowAndColumnCounts() throws {
    let problem = LinearProblem()
    #expect(problem.numberOfRows == 0)
    #expect(problem.numberOfColumns == 0)
    #expect(try problem.addColumns(3) == 0..<3)
    #expect(try problem.addColumns(2, bounds: .range(0, 1), kind: .binary) == 3..<5)
    #expect(try problem.addColumns(1, bounds: .range(0, 10), kind: .integer) == 5..<6)
    #expect(try problem.addColumns(0) == 6..<6)
    #expect(try problem.addRows(4) == 0..<4)
    #expect(problem.numberOfColumns == 6)
    #expect(problem.numberOfRows == 4)
    #expect(problem.numberOfBinaries == 2)
    // GLPK counts binaries among the integer columns.
    #expect(problem.numberOfIntegers == 3)
    #expect(problem.numberOfNonzeros == 0)
    try problem.setRow(1, columns: [0, 2, 5], values: [1, -2, 3])
    #expect(problem.numberOfNonzeros == 3)
    try problem.setColumnKind(0, .integer)
    #expect(problem.numberOfIntegers == 4)
    try problem.setColumnKind(3, .continuous)
    #expect(problem.numberOfBinaries == 1)
    try problem.setColumnName(0, "x")
    try problem.setRowName(0, String(repeating: "r", count: 1000))  // truncated to GLPK's limit
  }

  @Test func loadMatrixReplacesTheMatrix() throws {
    // Wyndor built with setRow, then the same matrix loaded in one call, then a different one.
    let problem = LinearProblem()
    problem.direction = .maximize
    try problem.addColumns(2)
    try problem.addRows(3)
    try problem.setRowBounds(0, .upper(4))
    try problem.setRowBounds(1, .upper(12))
    try problem.setRowBounds(2, .upper(18))
    try problem.setRow(0, columns: [0], values: [1])
    try problem.setRow(1, columns: [1], values: [2])
    try problem.setRow(2, columns: [1, 0], values: [2, 3])
    try problem.setObjective(columns: [0, 1], coefficients: [3, 5])
    #expect(try problem.simplex() == .solved)
    #expect(close(problem.objectiveValue, 36))
    #expect(problem.numberOfNonzeros == 4)

    try problem.loadMatrix([
      MatrixEntry(row: 0, column: 0, value: 1), MatrixEntry(row: 1, column: 1, value: 2),
      MatrixEntry(row: 2, column: 0, value: 3), MatrixEntry(row: 2, column: 1, value: 2),
    ])
    #expect(problem.numberOfNonzeros == 4)
    problem.resetBasis()
    #expect(try problem.simplex() == .solved)
    #expect(close(problem.objectiveValue, 36))

    // Replace: only x ≤ 4 and y ≤ 6 (as 2y ≤ 12) remain: optimum 3·4 + 5·6 = 42.
    try problem.loadMatrix([
      MatrixEntry(row: 0, column: 0, value: 1), MatrixEntry(row: 1, column: 1, value: 2),
    ])
    #expect(problem.numberOfNonzeros == 2)
    problem.resetBasis()
    #expect(try problem.simplex() == .solved)
    #expect(close(problem.objectiveValue, 42))
  }

  @Test func deleteRowsRenumbersTheRest() throws {
    let problem = try makeProblem(
      direction: .maximize, objective: [3, 5], rows: [[1, 0], [0, 2], [3, 2]],
      rowBounds: [.upper(4), .upper(12), .upper(18)])
    #expect(try problem.simplex() == .solved)
    #expect(close(problem.objectiveValue, 36))
    // Deleting 2y ≤ 12 leaves x ≤ 4 and 3x + 2y ≤ 18: optimum 45 at (0, 9).
    try problem.deleteRows([1])
    #expect(problem.numberOfRows == 2)
    #expect(try problem.rowBounds(0) == .upper(4))
    #expect(try problem.rowBounds(1) == .upper(18))
    #expect(problem.numberOfNonzeros == 3)
    problem.resetBasis()
    #expect(try problem.simplex() == .solved)
    #expect(close(problem.objectiveValue, 45))
    #expect(close(problem.columnValue(1), 9))
    try problem.deleteRows([])  // a no-op
    #expect(problem.numberOfRows == 2)
    try problem.deleteRows([0, 1])
    #expect(problem.numberOfRows == 0)
  }

  @Test func setObjectiveClearsOtherCoefficients() throws {
    let problem = try makeProblem(
      direction: .maximize, objective: [3, 5], rows: [[1, 0], [0, 2], [3, 2]],
      rowBounds: [.upper(4), .upper(12), .upper(18)])
    try problem.setObjective(columns: [0], coefficients: [1], constant: 0.5)
    #expect(try problem.simplex() == .solved)
    #expect(close(problem.objectiveValue, 4.5))
  }
}

@Suite("Invalid arguments are refused before they reach GLPK")
struct InvalidArgumentTests {
  func smallProblem() throws -> LinearProblem {
    let problem = LinearProblem()
    try problem.addColumns(2)
    try problem.addRows(2)
    return problem
  }

  /// Runs `body` and checks it throws `GLPKError.invalidArgument` whose message contains `words`.
  func expectInvalid(
    _ words: String, sourceLocation: SourceLocation = #_sourceLocation,
    _ body: () throws -> Void
  ) {
    do {
      try body()
      Issue.record("expected GLPKError.invalidArgument", sourceLocation: sourceLocation)
    } catch let error as GLPKError {
      guard case .invalidArgument(let message) = error else {
        Issue.record("expected invalidArgument, got \(error)", sourceLocation: sourceLocation)
        return
      }
      #expect(
        message.contains(words), "message '\(message)' lacks '\(words)'",
        sourceLocation: sourceLocation)
      #expect(error.description.contains("invalid argument"), sourceLocation: sourceLocation)
    } catch {
      Issue.record("expected GLPKError, got \(error)", sourceLocation: sourceLocation)
    }
  }

  @Test func columnOutOfRange() throws {
    let problem = try smallProblem()
    expectInvalid("column index 2") { try problem.setColumnBounds(2, .lower(0)) }
    expectInvalid("column index -1") { try problem.setObjectiveCoefficient(-1, 1) }
    expectInvalid("column index 5") { try problem.setRow(0, columns: [5], values: [1]) }
    expectInvalid("column index 2") { try problem.setColumnKind(2, .binary) }
    expectInvalid("column index 2") { _ = try problem.columnBounds(2) }
    expectInvalid("outside") {
      try problem.loadMatrix([MatrixEntry(row: 0, column: 2, value: 1)])
    }
  }

  @Test func rowOutOfRange() throws {
    let problem = try smallProblem()
    expectInvalid("row index 2") { try problem.setRowBounds(2, .upper(1)) }
    expectInvalid("row index -1") { try problem.setRow(-1, columns: [0], values: [1]) }
    expectInvalid("row index 3") { try problem.deleteRows([3]) }
    expectInvalid("outside") {
      try problem.loadMatrix([MatrixEntry(row: 2, column: 0, value: 1)])
    }
    #expect(problem.numberOfRows == 2)
  }

  @Test func nonFiniteCoefficients() throws {
    let problem = try smallProblem()
    expectInvalid("nan") { try problem.setObjectiveCoefficient(0, .nan) }
    expectInvalid("inf") { try problem.setObjectiveCoefficient(1, .infinity) }
    expectInvalid("nan") { try problem.setRow(0, columns: [0, 1], values: [1, .nan]) }
    expectInvalid("nan") {
      try problem.loadMatrix([MatrixEntry(row: 0, column: 0, value: .nan)])
    }
    expectInvalid("constant") {
      try problem.setObjective(columns: [], coefficients: [], constant: .nan)
    }
    expectInvalid("must be finite") { try problem.setColumnBounds(0, .lower(.nan)) }
    expectInvalid("must be finite") { try problem.setRowBounds(0, .range(0, .infinity)) }
    expectInvalid("must be finite") { try problem.setColumnBounds(0, .fixed(-.infinity)) }
  }

  @Test func lowerAboveUpper() throws {
    let problem = try smallProblem()
    expectInvalid("exceeds") { try problem.setColumnBounds(0, .range(2, 1)) }
    expectInvalid("exceeds") { try problem.setRowBounds(1, .range(0, -1)) }
    expectInvalid("exceeds") { try problem.addColumns(1, bounds: .range(1, 0)) }
    // The refused bounds left the old ones in place.
    #expect(try problem.columnBounds(0) == .lower(0))
  }

  @Test func refusedColumnsAreNotAdded() throws {
    let problem = try smallProblem()
    expectInvalid("exceeds") { try problem.addColumns(2, bounds: .range(1, 0)) }
    expectInvalid("must be finite") { try problem.addRows(1, bounds: .upper(.nan)) }
    // A refused call leaves the problem as it was.
    #expect(problem.numberOfColumns == 2)
    #expect(problem.numberOfRows == 2)
  }

  @Test func duplicateEntries() throws {
    let problem = try smallProblem()
    expectInvalid("given twice") {
      try problem.loadMatrix([
        MatrixEntry(row: 1, column: 0, value: 1), MatrixEntry(row: 1, column: 0, value: 2),
      ])
    }
    expectInvalid("twice") { try problem.setRow(0, columns: [1, 1], values: [1, 2]) }
    expectInvalid("duplicates") { try problem.deleteRows([0, 0]) }
    #expect(problem.numberOfNonzeros == 0)
  }

  @Test func mismatchedCounts() throws {
    let problem = try smallProblem()
    expectInvalid("values") { try problem.setRow(0, columns: [0, 1], values: [1]) }
    expectInvalid("counts differ") { try problem.setObjective(columns: [0], coefficients: []) }
    expectInvalid("cannot add -1") { try problem.addColumns(-1) }
    expectInvalid("cannot add -3") { try problem.addRows(-3) }
  }

  @Test func errorsCompareAndDescribe() {
    let failed = GLPKError.solverFailed(routine: "glp_simplex", code: 5, meaning: "solver failed")
    #expect(failed.description.contains("glp_simplex"))
    #expect(failed.description.contains("5"))
    #expect(failed != GLPKError.invalidArgument("x"))
  }
}
