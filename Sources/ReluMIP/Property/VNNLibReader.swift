import Foundation

/// A VNN-LIB file that cannot be used, with where and why.
public struct VNNLibError: Error, Equatable, CustomStringConvertible {
  public var file: String
  /// 1-based line and column of the offending token, if the problem has one place.
  public var line: Int?
  public var column: Int?
  public var reason: String

  public init(file: String, line: Int? = nil, column: Int? = nil, reason: String) {
    self.file = file
    self.line = line
    self.column = column
    self.reason = reason
  }

  public var description: String {
    if let line, let column { return "\(file):\(line):\(column): \(reason)" }
    return "\(file): \(reason)"
  }
}

/// A property in the VNN-LIB subset the competitions use, as the set of unsafe inputs: a
/// disjunction of cases, each an input box with output goals, any one of which reached at an
/// input of the box makes that input a counterexample.
public struct VNNLibProperty: Sendable, Equatable {
  public var inputCount: Int
  public var outputCount: Int
  public var cases: [Case]

  /// One conjunction of the unsafe set: an input box and the output goals within it.
  public struct Case: Sendable, Equatable {
    public var lower: [Double]
    public var upper: [Double]
    /// Each goal is a conjunction of output conditions; reaching any one is enough. Empty when
    /// the case has no output condition at all, so that every input of the box is unsafe.
    public var goals: [OutputGoal]
  }
}

/// Reads VNN-LIB: `declare-const` of `X_i` and `Y_j` (sort Real), and `assert` of `and`, `or`,
/// and comparisons (`<=`, `>=`, `<`, `>`, `=`; a witness must satisfy strict ones strictly) between linear
/// terms (`+`, `-`, `*` by a constant). Each conjunction of the unsafe set's disjunctive normal
/// form must bound every input by constants and may constrain outputs by any linear conditions;
/// anything else is refused with its line and column.
public enum VNNLibReader {
  /// The most conjunctions the disjunctive normal form may have.
  public static let maximumCases = 100_000
  /// The most comparisons the disjunctive normal form may hold in all its cases, and the most
  /// input bounds its distinct boxes may: a few lines of `or` multiply out to any size, so larger
  /// properties are refused before they are built. An MNIST robustness property (784 inputs
  /// bounded on both sides, 9 cases) needs about 14,000.
  public static let maximumComparisons = 1 << 20
  public static let maximumFileSize = 1 << 28
  /// The deepest nesting of parentheses read (the competitions' files nest a few levels); deeper
  /// text is refused rather than recursed into until the stack overflows.
  public static let maximumNesting = 1000

  public static func read(path: String) throws -> VNNLibProperty {
    let data: Data
    do {
      data = try ExampleReader.load(path, limit: maximumFileSize)
    } catch let error as InputFileError {
      throw VNNLibError(file: path, reason: error.description)
    }
    guard let text = String(data: data, encoding: .utf8) else {
      throw VNNLibError(file: path, reason: "not UTF-8 text")
    }
    return try parse(text, file: path)
  }

  public static func parse(_ text: String, file: String = "<vnnlib>") throws -> VNNLibProperty {
    var parser = Parser(file: file, text: text)
    return try parser.property()
  }
}

// MARK: - Tokens and S-expressions

private struct Position {
  var line: Int
  var column: Int
}

private indirect enum Expression {
  case atom(String, Position)
  case list([Expression], Position)

  var position: Position {
    switch self {
    case .atom(_, let position), .list(_, let position): return position
    }
  }
}

/// `Σ coefficient·variable + constant`, variables keyed by `Variable`.
private struct LinearTerm {
  var coefficients: [Variable: Double] = [:]
  var constant = 0.0

  static func + (a: LinearTerm, b: LinearTerm) -> LinearTerm {
    var result = a
    for (variable, c) in b.coefficients { result.coefficients[variable, default: 0] += c }
    result.constant += b.constant
    return result
  }

  func scaled(_ factor: Double) -> LinearTerm {
    LinearTerm(coefficients: coefficients.mapValues { $0 * factor }, constant: constant * factor)
  }

  var isConstant: Bool { coefficients.values.allSatisfy { $0 == 0 } }
}

private enum Variable: Hashable {
  case input(Int)
  case output(Int)
}

/// A comparison read as `term ≥ 0`.
/// `term ≥ 0`, or `term > 0` when `strict`.
private struct Atom {
  var term: LinearTerm
  var position: Position
  var strict = false
}

private struct Parser {
  let file: String
  let scalars: [Unicode.Scalar]
  var index = 0
  /// Parentheses open at `index`.
  var depth = 0
  var line = 1
  var column = 1
  var inputs: [Int: Position] = [:]
  var outputs: [Int: Position] = [:]

  init(file: String, text: String) {
    self.file = file
    self.scalars = Array(text.unicodeScalars)
  }

  func error(_ reason: String, at position: Position? = nil) -> VNNLibError {
    VNNLibError(file: file, line: position?.line, column: position?.column, reason: reason)
  }

  // MARK: Reading

  mutating func advance() {
    if scalars[index] == "\n" {
      line += 1
      column = 1
    } else {
      column += 1
    }
    index += 1
  }

  mutating func skipSpaceAndComments() {
    while index < scalars.count {
      let c = scalars[index]
      if c == ";" {
        while index < scalars.count && scalars[index] != "\n" { advance() }
      } else if c.properties.isWhitespace {
        advance()
      } else {
        return
      }
    }
  }

  /// The next expression, or nil at the end of the text.
  mutating func expression() throws -> Expression? {
    skipSpaceAndComments()
    guard index < scalars.count else { return nil }
    let start = Position(line: line, column: column)
    if scalars[index] == "(" {
      guard depth < VNNLibReader.maximumNesting else {
        throw error(
          "parentheses nested more than \(VNNLibReader.maximumNesting) deep", at: start)
      }
      depth += 1
      defer { depth -= 1 }
      advance()
      var items: [Expression] = []
      while true {
        skipSpaceAndComments()
        guard index < scalars.count else {
          throw error("this parenthesis is never closed", at: start)
        }
        if scalars[index] == ")" {
          advance()
          return .list(items, start)
        }
        guard items.count < 10_000_000, let item = try expression() else {
          throw error("this parenthesis is never closed", at: start)
        }
        items.append(item)
      }
    }
    if scalars[index] == ")" { throw error("unexpected ')'", at: start) }
    var name = ""
    while index < scalars.count {
      let c = scalars[index]
      if c == "(" || c == ")" || c == ";" || c.properties.isWhitespace { break }
      name.unicodeScalars.append(c)
      advance()
    }
    return .atom(name, start)
  }

  // MARK: Commands

  mutating func property() throws -> VNNLibProperty {
    var assertions: [Expression] = []
    while let command = try expression() {
      guard case .list(let items, let position) = command, case .atom(let head, _)? = items.first
      else {
        throw error(
          "expected a command such as (declare-const …) or (assert …)", at: command.position)
      }
      switch head {
      case "declare-const":
        try declare(items, at: position)
      case "assert":
        guard items.count == 2 else { throw error("assert takes one formula", at: position) }
        assertions.append(items[1])
      case "set-logic", "set-info", "set-option", "check-sat", "get-model", "exit":
        continue
      default:
        throw error("unsupported command '\(head)'", at: position)
      }
    }
    guard !inputs.isEmpty else { throw error("no input X_i is declared") }
    guard !outputs.isEmpty else { throw error("no output Y_j is declared") }
    let inputCount = try contiguousCount(inputs, prefix: "X")
    let outputCount = try contiguousCount(outputs, prefix: "Y")

    // The disjunctive normal form of all assertions together.
    var conjunctions: [[Atom]] = [[]]
    for assertion in assertions {
      conjunctions = try product(conjunctions, try normalForm(assertion))
    }
    var cases: [VNNLibProperty.Case] = []
    var caseIndex: [[Double]: Int] = [:]
    // Cases without output conditions: every input of their box is unsafe.
    var unconditional: Set<Int> = []
    // The goals of each case so far, to drop repeats without comparing every pair.
    var goalsSeen: [Set<[OutputCondition]>] = []
    for conjunction in conjunctions {
      guard let (lower, upper, conditions) = try split(conjunction, inputCount: inputCount) else {
        continue
      }
      let key = lower + upper
      let index: Int
      if let existing = caseIndex[key] {
        index = existing
      } else {
        guard (cases.count + 1) * inputCount <= VNNLibReader.maximumComparisons else {
          throw error(
            "the property's input boxes hold more than \(VNNLibReader.maximumComparisons) bounds")
        }
        index = cases.count
        caseIndex[key] = index
        cases.append(VNNLibProperty.Case(lower: lower, upper: upper, goals: []))
        goalsSeen.append([])
      }
      if conditions.isEmpty {
        unconditional.insert(index)
        cases[index].goals = []
      } else if !unconditional.contains(index) {
        if goalsSeen[index].insert(conditions).inserted {
          cases[index].goals.append(OutputGoal(conditions: conditions))
        }
      }
    }
    return VNNLibProperty(inputCount: inputCount, outputCount: outputCount, cases: cases)
  }

  mutating func declare(_ items: [Expression], at position: Position) throws {
    guard items.count == 3, case .atom(let name, let namePosition) = items[1],
      case .atom(let sort, let sortPosition) = items[2]
    else {
      throw error("expected (declare-const NAME Real)", at: position)
    }
    guard sort == "Real" else {
      throw error("only sort Real is supported, not '\(sort)'", at: sortPosition)
    }
    guard let variable = Self.variable(name) else {
      throw error(
        "variables must be named X_<index> (inputs) or Y_<index> (outputs), not '\(name)'",
        at: namePosition)
    }
    switch variable {
    case .input(let i):
      guard inputs[i] == nil else { throw error("'\(name)' is declared twice", at: namePosition) }
      inputs[i] = namePosition
    case .output(let j):
      guard outputs[j] == nil else { throw error("'\(name)' is declared twice", at: namePosition) }
      outputs[j] = namePosition
    }
  }

  static func variable(_ name: String) -> Variable? {
    let digits = name.dropFirst(2)
    guard name.count >= 3, name.dropFirst().first == "_",
      digits.allSatisfy({ $0.isASCII && $0.isNumber }), digits == "0" || digits.first != "0",
      let index = Int(digits), index < 1 << 24
    else { return nil }
    switch name.first {
    case "X": return .input(index)
    case "Y": return .output(index)
    default: return nil
    }
  }

  func contiguousCount(_ declared: [Int: Position], prefix: String) throws -> Int {
    let count = declared.count
    if let gap = (0..<count).first(where: { declared[$0] == nil }) {
      throw error("\(prefix)_\(gap) is not declared, but \(prefix)_\(declared.keys.max()!) is")
    }
    return count
  }

  // MARK: Formulas

  /// The formula as a disjunction of conjunctions of atoms.
  func normalForm(_ formula: Expression) throws -> [[Atom]] {
    guard case .list(let items, let position) = formula, case .atom(let head, _)? = items.first
    else {
      throw error("expected a formula such as (<= X_0 1), (and …) or (or …)", at: formula.position)
    }
    let arguments = Array(items.dropFirst())
    switch head {
    case "and":
      var result: [[Atom]] = [[]]
      for argument in arguments { result = try product(result, try normalForm(argument)) }
      return result
    case "or":
      var result: [[Atom]] = []
      var comparisons = 0
      for argument in arguments {
        let cases = try normalForm(argument)
        comparisons += Self.comparisons(in: cases)
        result += cases
        guard result.count <= VNNLibReader.maximumCases else {
          throw error(
            "the property has more than \(VNNLibReader.maximumCases) cases", at: position)
        }
        guard comparisons <= VNNLibReader.maximumComparisons else {
          throw error(
            "the property has more than \(VNNLibReader.maximumComparisons) comparisons in all its"
              + " cases", at: position)
        }
      }
      return result
    case "<=", ">=", "<", ">", "=":
      guard arguments.count >= 2 else {
        throw error("'\(head)' needs two terms", at: position)
      }
      let terms = try arguments.map { try term($0) }
      var atoms: [Atom] = []
      // SMT-LIB chains: (<= a b c) means a ≤ b and b ≤ c.
      for (left, right) in zip(terms, terms.dropFirst()) {
        let rightMinusLeft = right + left.scaled(-1)
        switch head {
        case "<=", "<":
          atoms.append(Atom(term: rightMinusLeft, position: position, strict: head == "<"))
        case ">=", ">":
          atoms.append(
            Atom(term: rightMinusLeft.scaled(-1), position: position, strict: head == ">"))
        default:
          atoms.append(Atom(term: rightMinusLeft, position: position))
          atoms.append(Atom(term: rightMinusLeft.scaled(-1), position: position))
        }
      }
      return [atoms]
    default:
      throw error(
        "unsupported formula '\(head)' (supported: and, or, <=, >=, <, >, =)", at: position)
    }
  }

  func product(_ a: [[Atom]], _ b: [[Atom]]) throws -> [[Atom]] {
    guard a.count * b.count <= VNNLibReader.maximumCases else {
      throw error("the property has more than \(VNNLibReader.maximumCases) cases")
    }
    // Each case of `a` is repeated once per case of `b`, and the other way round.
    guard
      Self.comparisons(in: a) * b.count + Self.comparisons(in: b) * a.count
        <= VNNLibReader.maximumComparisons
    else {
      throw error(
        "the property has more than \(VNNLibReader.maximumComparisons) comparisons in all its"
          + " cases")
    }
    return a.flatMap { left in b.map { left + $0 } }
  }

  static func comparisons(in cases: [[Atom]]) -> Int {
    cases.reduce(0) { $0 + $1.count }
  }

  func term(_ expression: Expression) throws -> LinearTerm {
    switch expression {
    case .atom(let name, let position):
      if let value = Double(name), value.isFinite, name.first != "+" || name.count > 1 {
        return LinearTerm(constant: value)
      }
      guard let variable = Self.variable(name) else {
        throw error("'\(name)' is neither a number nor a variable X_i or Y_j", at: position)
      }
      switch variable {
      case .input(let i) where inputs[i] == nil,
        .output(let i) where outputs[i] == nil:
        throw error("'\(name)' is used but never declared", at: position)
      default:
        return LinearTerm(coefficients: [variable: 1])
      }
    case .list(let items, let position):
      guard case .atom(let head, _)? = items.first, items.count >= 2 else {
        throw error("expected a term such as (+ X_0 X_1)", at: position)
      }
      let arguments = try items.dropFirst().map { try term($0) }
      switch head {
      case "+":
        return arguments.dropFirst().reduce(arguments[0], +)
      case "-":
        if arguments.count == 1 { return arguments[0].scaled(-1) }
        return arguments.dropFirst().reduce(arguments[0]) { $0 + $1.scaled(-1) }
      case "*":
        var product = LinearTerm(constant: 1)
        for argument in arguments {
          if argument.isConstant {
            product = product.scaled(argument.constant)
          } else if product.isConstant {
            product = argument.scaled(product.constant)
          } else {
            throw error("a product of two variables is not linear", at: position)
          }
        }
        return product
      default:
        throw error("unsupported term '\(head)' (supported: +, -, *)", at: position)
      }
    }
  }

  // MARK: Cases

  /// A conjunction as an input box and output conditions; nil when it is empty (an input's
  /// bounds cross, or a comparison of constants fails).
  func split(_ atoms: [Atom], inputCount: Int) throws -> (
    [Double], [Double], [OutputCondition]
  )? {
    var lower = [Double](repeating: -.infinity, count: inputCount)
    var upper = [Double](repeating: .infinity, count: inputCount)
    var conditions: [OutputCondition] = []
    var conditionsSeen: Set<OutputCondition> = []
    for atom in atoms {
      let used = atom.term.coefficients.filter { $0.value != 0 }
      let inputTerms = used.filter { if case .input = $0.key { true } else { false } }
      if used.isEmpty {
        guard atom.strict ? atom.term.constant > 0 : atom.term.constant >= 0 else { return nil }
      } else if inputTerms.isEmpty {
        let terms = used.compactMap { variable, weight -> OutputCondition.Term? in
          guard case .output(let j) = variable else { return nil }
          return OutputCondition.Term(output: j, weight: weight)
        }
        let condition = OutputCondition(
          terms: terms, constant: atom.term.constant, strict: atom.strict)
        if conditionsSeen.insert(condition).inserted { conditions.append(condition) }
      } else if inputTerms.count == 1 && used.count == 1,
        case .input(let i) = inputTerms.first!.key
      {
        // c·x + k ≥ 0: a bound on x. Dividing by c ≠ ±1 rounds; one ulp outward covers it.
        // A strict bound x > b with b exact is x ≥ the next double above b (inputs are
        // doubles), so no witness sits on the excluded end; after a rounded division the box
        // keeps the end (it must never lose an input of the property).
        let c = inputTerms.first!.value
        let bound = -atom.term.constant / c
        if c > 0 {
          let exact = c == 1 ? (atom.strict ? bound.nextUp : bound) : bound.nextDown
          lower[i] = max(lower[i], exact)
        } else {
          let exact = c == -1 ? (atom.strict ? bound.nextDown : bound) : bound.nextUp
          upper[i] = min(upper[i], exact)
        }
      } else {
        throw error(
          "only bounds on single inputs (such as (<= X_0 1)) and linear conditions on outputs are"
            + " supported, not a condition that mixes several inputs or inputs and outputs",
          at: atom.position)
      }
    }
    for i in 0..<inputCount where lower[i] > upper[i] { return nil }
    if let i = (0..<inputCount).first(where: { !lower[$0].isFinite || !upper[$0].isFinite }) {
      let side = lower[i].isFinite ? "upper" : "lower"
      throw error(
        "input X_\(i) (declared here) has no \(side) bound in one of the property's cases; every"
          + " input needs a finite box", at: inputs[i])
    }
    return (lower, upper, conditions)
  }
}
