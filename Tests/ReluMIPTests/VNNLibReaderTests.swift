import Foundation
import TestSupport
import Testing

@testable import ReluMIP

/// `(declare-const X_i Real)` for each input and `(declare-const Y_j Real)` for each output, one
/// per line.
func vnnlibDeclarations(inputs: Int, outputs: Int) -> String {
  ((0..<inputs).map { "(declare-const X_\($0) Real)\n" }
    + (0..<outputs).map { "(declare-const Y_\($0) Real)\n" }).joined()
}

/// `Σ weight·Y_output + constant ≥ 0`, terms given as `(output, weight)`.
func condition(_ terms: [(Int, Double)], _ constant: Double) -> OutputCondition {
  OutputCondition(
    terms: terms.map { OutputCondition.Term(output: $0.0, weight: $0.1) }, constant: constant)
}

@Suite("VNN-LIB reader")
struct VNNLibReaderTests {
  @Test func theSubset() throws {
    let text = """
      ; a comment line
      (set-logic QF_LRA) ; ignored, as check-sat would be
      (declare-const X_0 Real) ; a trailing comment
      (declare-const X_1 Real)
      (declare-const Y_0 Real)
      (declare-const Y_1 Real)
      (declare-const Y_2 Real)
      (assert (<= -1 X_0 1))
      (assert (and (> X_1 0.25) (< X_1 0.75)))
      (assert (>= (+ Y_0 (* 2 Y_1) (- Y_2)) 3))
      (assert (<= (- Y_0 Y_1) (* 0.5 4)))
      (assert (= Y_2 (- 1)))
      (assert (<= 1 2))
      (check-sat)
      """
    let property = try VNNLibReader.parse(text)
    #expect(property.inputCount == 2)
    #expect(property.outputCount == 3)
    try #require(property.cases.count == 1)
    let only = property.cases[0]
    // Strict bounds on inputs exclude their end: x > 0.25 is x ≥ the next double above 0.25.
    #expect(only.lower == [-1, 0.25.nextUp])
    #expect(only.upper == [1, 0.75.nextDown])
    try #require(only.goals.count == 1)
    #expect(only.goals[0].acceptance == .allConditionsHold)
    #expect(
      only.goals[0].conditions == [
        condition([(0, 1), (1, 2), (2, -1)], -3),  // Y_0 + 2·Y_1 − Y_2 − 3 ≥ 0
        condition([(0, -1), (1, 1)], 2),  // 2 − (Y_0 − Y_1) ≥ 0
        condition([(2, -1)], -1),  // Y_2 ≤ −1
        condition([(2, 1)], 1),  // Y_2 ≥ −1
      ])
    // The goal reads the outputs as written.
    let goal = only.goals[0]
    #expect(!goal.isReached([4, 0, -1]))  // 4 + 0 + 1 − 3 ≥ 0, but 2 − (4 − 0) < 0
    #expect(goal.isReached([1, 1.5, -1]))  // 1 + 3 + 1 − 3 = 2, 2 − (−0.5) ≥ 0, Y_2 = −1
    #expect(goal.margin([1, 1.5, -1]) == 0)  // the equality's two sides are both 0
  }

  @Test func scaledInputBoundsRoundOutward() throws {
    let text =
      vnnlibDeclarations(inputs: 2, outputs: 1) + """
        (assert (<= (* 2 X_0) 1))
        (assert (>= (* 4 X_0) -1))
        (assert (>= (- X_1) -0.5))
        (assert (<= (- X_1) 0.5))
        (assert (>= Y_0 0))
        """
    let property = try VNNLibReader.parse(text)
    let box = try #require(property.cases.first)
    // 2·x ≤ 1 and 4·x ≥ −1: the quotients are exact here, and the bounds may be one ulp wider.
    #expect(box.upper[0] >= 0.5 && box.upper[0] <= 0.5.nextUp)
    #expect(box.lower[0] <= -0.25 && box.lower[0] >= (-0.25).nextDown)
    // −x ≥ −0.5 and −x ≤ 0.5: a coefficient of −1 divides exactly.
    #expect(box.lower[1] == -0.5 && box.upper[1] == 0.5)
  }

  @Test func disjunctionsOverInputBoxesAndOutputs() throws {
    // As ACAS Xu property 6: two input boxes, each with the same disjunction of outputs.
    let text =
      vnnlibDeclarations(inputs: 2, outputs: 3) + """
        (assert (or
            (and (>= X_0 0) (<= X_0 1) (>= X_1 0) (<= X_1 1))
            (and (>= X_0 2) (<= X_0 3) (>= X_1 0) (<= X_1 1))
        ))
        (assert (or
            (and (<= Y_1 Y_0))
            (and (<= Y_2 Y_0) (>= Y_0 1))
            (<= Y_1 Y_0)
        ))
        """
    let property = try VNNLibReader.parse(text)
    try #require(property.cases.count == 2, "\(property.cases)")
    #expect(property.cases[0].lower == [0, 0] && property.cases[0].upper == [1, 1])
    #expect(property.cases[1].lower == [2, 0] && property.cases[1].upper == [3, 1])
    let goals = [
      OutputGoal(conditions: [condition([(0, 1), (1, -1)], 0)]),
      OutputGoal(conditions: [condition([(0, 1), (2, -1)], 0), condition([(0, 1)], -1)]),
    ]
    // The repeated disjunct is kept once.
    for both in property.cases { #expect(both.goals == goals) }
  }

  @Test func outputDisjunctionAsMNISTFC() throws {
    // As the MNIST-FC properties: one box, "some other label reaches label 2".
    let text =
      vnnlibDeclarations(inputs: 1, outputs: 4) + """
        (assert (<= X_0 0.5))
        (assert (>= X_0 0.25))
        (assert (or
            (and (>= Y_0 Y_2))
            (and (>= Y_1 Y_2))
            (and (>= Y_3 Y_2))
        ))
        """
    let property = try VNNLibReader.parse(text)
    try #require(property.cases.count == 1)
    let expected = [0, 1, 3].map { [condition([($0, 1), (2, -1)], 0)] }
    #expect(property.cases[0].goals.map(\.conditions) == expected)
  }

  @Test func casesGroupByBoxAcrossNestedFormulas() throws {
    // (A or B) and (C or D): four conjunctions, two boxes with two goals each, in order.
    let text =
      vnnlibDeclarations(inputs: 1, outputs: 2) + """
        (assert (and
            (or (and (>= X_0 0) (<= X_0 1)) (and (>= X_0 5) (<= X_0 6)))
            (or (>= Y_0 1) (>= Y_1 1))))
        """
    let property = try VNNLibReader.parse(text)
    try #require(property.cases.count == 2)
    #expect(property.cases.map(\.lower) == [[0], [5]])
    #expect(property.cases.map(\.upper) == [[1], [6]])
    for both in property.cases {
      #expect(
        both.goals.map(\.conditions) == [[condition([(0, 1)], -1)], [condition([(1, 1)], -1)]])
    }
    // Different goals in different boxes stay with their box.
    let separate =
      vnnlibDeclarations(inputs: 1, outputs: 1) + """
        (assert (or
            (and (>= X_0 0) (<= X_0 1) (>= Y_0 1))
            (and (>= X_0 2) (<= X_0 3) (<= Y_0 0))))
        """
    let split = try VNNLibReader.parse(separate)
    try #require(split.cases.count == 2)
    #expect(split.cases[0].goals.map(\.conditions) == [[condition([(0, 1)], -1)]])
    #expect(split.cases[1].goals.map(\.conditions) == [[condition([(0, -1)], 0)]])
  }

  @Test(arguments: [true, false])
  func aDisjunctWithoutOutputConditionMakesTheBoxUnsafe(unconditionalFirst: Bool) throws {
    // X_0 ≤ 2 leaves the box [0, 1] as it is, so that disjunct is the whole box, unconditionally.
    let disjuncts = unconditionalFirst ? "(<= X_0 2) (>= Y_0 5)" : "(>= Y_0 5) (<= X_0 2)"
    let text =
      vnnlibDeclarations(inputs: 1, outputs: 1) + """
        (assert (>= X_0 0))
        (assert (<= X_0 1))
        (assert (or \(disjuncts)))
        """
    let property = try VNNLibReader.parse(text)
    try #require(property.cases.count == 1)
    #expect(property.cases[0].goals.isEmpty)
    // Every input of the box is a counterexample: the verifier reports one at once.
    var generator = SplitMix64(seed: 11)
    let network = RandomNetworks.make(inputs: 1, hidden: [3], outputs: 1, using: &generator)
    let result = try Verifier(network: network).verify(property: property)
    #expect(result.verdict == .counterexample)
    #expect(result.competitionResult == "sat")
    let point = try #require(result.counterexample?.input)
    #expect(point.count == 1 && point[0] >= 0 && point[0] <= 1)
  }

  @Test func emptyBoxesAreDropped() throws {
    let text =
      vnnlibDeclarations(inputs: 1, outputs: 1) + """
        (assert (or
            (and (>= X_0 1) (<= X_0 0) (>= Y_0 0))
            (and (>= X_0 0) (<= X_0 1) (<= 2 1))
            (and (>= X_0 0) (<= X_0 1) (>= Y_0 3))))
        """
    let property = try VNNLibReader.parse(text)
    try #require(property.cases.count == 1)
    #expect(property.cases[0].lower == [0] && property.cases[0].upper == [1])
    #expect(property.cases[0].goals.map(\.conditions) == [[condition([(0, 1)], -3)]])

    // With every box empty, nothing is unsafe: unsat.
    let empty =
      vnnlibDeclarations(inputs: 1, outputs: 1) + """
        (assert (>= X_0 1))
        (assert (<= X_0 0))
        (assert (>= Y_0 0))
        """
    let none = try VNNLibReader.parse(empty)
    #expect(none.cases.isEmpty)
    #expect(none.inputCount == 1 && none.outputCount == 1)
    var generator = SplitMix64(seed: 12)
    let network = RandomNetworks.make(inputs: 1, hidden: [2], outputs: 1, using: &generator)
    let result = try Verifier(network: network).verify(property: none)
    #expect(result.verdict == .robust)
    #expect(result.competitionResult == "unsat")
    #expect(result.casesSearched == 0)
  }

  @Test func tooManyCasesAreRefused() throws {
    // 17 binary disjunctions multiply out to 2^17 > 100,000 conjunctions.
    let factors = (0..<17).map { _ in "(or (>= Y_0 0) (>= Y_0 1))" }.joined(separator: " ")
    let text =
      vnnlibDeclarations(inputs: 1, outputs: 1) + """
        (assert (>= X_0 0))
        (assert (<= X_0 1))
        (assert (and \(factors)))
        """
    let error = try #require(throws: VNNLibError.self) { try VNNLibReader.parse(text) }
    #expect(error.reason.contains("100000 cases"), "\(error)")
  }

  /// The cases where the reader must refuse the text: the text, the line and column of the
  /// offending token, and words the reason must contain.
  struct Refusal: CustomTestStringConvertible, Sendable {
    var name: String
    var text: String
    var line: Int?
    var column: Int?
    var words: [String]
    var testDescription: String { name }
  }

  static let header = vnnlibDeclarations(inputs: 2, outputs: 2)  // lines 1–4
  static let box = "(assert (<= 0 X_0 1))\n(assert (<= 0 X_1 1))\n"  // lines 5–6

  static let refusals: [Refusal] = [
    Refusal(
      name: "unclosed parenthesis", text: header + box + "(assert (>= Y_0 0)\n",
      line: 7, column: 1, words: ["never closed"]),
    Refusal(
      name: "unclosed inner parenthesis", text: header + box + "(assert (and (>= Y_0 0)",
      line: 7, column: 9, words: ["never closed"]),
    Refusal(
      name: "extra closing parenthesis", text: header + box + "(assert (>= Y_0 0)))\n",
      line: 7, column: 20, words: ["unexpected ')'"]),
    Refusal(
      name: "unknown command", text: header + box + "  (push 1)\n",
      line: 7, column: 3, words: ["unsupported command", "push"]),
    Refusal(
      name: "a bare atom as a command", text: header + "assert\n",
      line: 5, column: 1, words: ["expected a command"]),
    Refusal(
      name: "undeclared output", text: header + box + "(assert (>= Y_2 0))\n",
      line: 7, column: 13, words: ["Y_2", "never declared"]),
    Refusal(
      name: "undeclared input", text: header + box + "(assert (<= X_7 1))\n",
      line: 7, column: 13, words: ["X_7", "never declared"]),
    Refusal(
      name: "product of two outputs", text: header + box + "(assert (>= (* Y_0 Y_1) 0))\n",
      line: 7, column: 13, words: ["product", "not linear"]),
    Refusal(
      name: "input compared with an output", text: header + box + "(assert (<= X_0 Y_0))\n",
      line: 7, column: 9, words: ["mixes"]),
    Refusal(
      name: "two inputs in one comparison",
      text: header + box + "(assert (>= Y_0 0))\n(assert (or (>= Y_1 0)\n  (<= (+ X_0 X_1) 1)))\n",
      line: 9, column: 3, words: ["mixes"]),
    Refusal(
      name: "input without a lower bound",
      text: header + "(assert (<= X_0 1))\n(assert (>= X_0 0))\n(assert (<= X_1 1))\n"
        + "(assert (>= Y_0 0))\n",
      // The error points at the input's declaration.
      line: 2, column: 16, words: ["X_1", "no lower bound"]),
    Refusal(
      name: "input without an upper bound",
      text: header + "(assert (<= -1 X_0))\n(assert (<= -1 X_1 1))\n(assert (>= Y_0 0))\n",
      line: 1, column: 16, words: ["X_0", "no upper bound"]),
    Refusal(
      name: "lower-case variable", text: "(declare-const X_0 Real)\n  (declare-const y_0 Real)\n",
      line: 2, column: 18, words: ["y_0", "X_<index>"]),
    Refusal(
      name: "index with a leading zero", text: "(declare-const X_01 Real)\n",
      line: 1, column: 16, words: ["'X_01'"]),
    Refusal(
      name: "index with a sign", text: "(declare-const X_+1 Real)\n",
      line: 1, column: 16, words: ["'X_+1'"]),
    Refusal(
      name: "variable without an index", text: "(declare-const X_ Real)\n",
      line: 1, column: 16, words: ["'X_'"]),
    Refusal(
      name: "variable with a letter index",
      text: "(declare-const X_0 Real)(declare-const Y_a Real)",
      line: 1, column: 40, words: ["Y_a"]),
    Refusal(
      name: "sort other than Real", text: "(declare-const X_0 Int)\n",
      line: 1, column: 20, words: ["Real", "Int"]),
    Refusal(
      name: "declared twice", text: header + "(declare-const Y_1 Real)\n",
      line: 5, column: 16, words: ["Y_1", "twice"]),
    Refusal(
      name: "unsupported formula", text: header + box + "(assert (not (>= Y_0 0)))\n",
      line: 7, column: 9, words: ["not"]),
    Refusal(
      name: "unsupported term", text: header + box + "(assert (>= (/ Y_0 2) 0))\n",
      line: 7, column: 13, words: ["'/'"]),
    Refusal(
      name: "a comparison with one term", text: header + box + "(assert (>= Y_0))\n",
      line: 7, column: 9, words: ["two terms"]),
    Refusal(
      name: "assert without a formula", text: header + box + "(assert)\n",
      line: 7, column: 1, words: ["one formula"]),
    Refusal(
      name: "an atom that is not a number", text: header + box + "(assert (>= Y_0 1.5.2))\n",
      line: 7, column: 17, words: ["1.5.2"]),
    Refusal(
      name: "infinite constant", text: header + box + "(assert (>= Y_0 inf))\n",
      line: 7, column: 17, words: ["inf"]),
    Refusal(
      name: "a gap in the inputs",
      text: "(declare-const X_0 Real)(declare-const X_2 Real)"
        + "(declare-const Y_0 Real)", line: nil, column: nil, words: ["X_1 is not declared"]),
    Refusal(
      name: "no outputs", text: "(declare-const X_0 Real)(assert (<= 0 X_0 1))",
      line: nil, column: nil, words: ["no output"]),
  ]

  @Test(arguments: refusals)
  func refusesWithLineAndColumn(refusal: Refusal) throws {
    let error = try #require(throws: VNNLibError.self) {
      try VNNLibReader.parse(refusal.text, file: "p.vnnlib")
    }
    #expect(error.file == "p.vnnlib")
    #expect(
      error.line == refusal.line && error.column == refusal.column,
      "at \(error.line.map(String.init) ?? "-"):\(error.column.map(String.init) ?? "-"): \(error)")
    for word in refusal.words {
      #expect(error.reason.contains(word), "'\(error.reason)' lacks '\(word)'")
    }
    if let line = refusal.line, let column = refusal.column {
      #expect(error.description.hasPrefix("p.vnnlib:\(line):\(column): "), "\(error)")
    }
  }

  @Test func readNamesTheFile() throws {
    let directory = try TemporaryFiles.makeDirectory()
    defer { try? FileManager.default.removeItem(at: directory) }
    let url = directory.appendingPathComponent("broken.vnnlib")
    try "(declare-const X_0 Real)\n(assert (<= X_0 1)\n".write(
      to: url, atomically: true, encoding: .utf8)
    let error = try #require(throws: VNNLibError.self) { try VNNLibReader.read(path: url.path) }
    #expect(error.description.hasPrefix("\(url.path):2:1: "), "\(error)")
    let missing = directory.appendingPathComponent("absent.vnnlib").path
    let absent = try #require(throws: VNNLibError.self) { try VNNLibReader.read(path: missing) }
    #expect(absent.file == missing)
    let binary = directory.appendingPathComponent("binary.vnnlib")
    try Data([0xFF, 0xFE, 0x28]).write(to: binary)
    let notText = try #require(throws: VNNLibError.self) {
      try VNNLibReader.read(path: binary.path)
    }
    #expect(notText.reason.contains("UTF-8"))
  }
}

@Suite("VNN-LIB benchmark properties", .tags(.shared), .sharedData)
struct VNNLibBenchmarkFileTests {
  static var files: [String] {
    ["acasxu", "mnistfc", "tiny"].flatMap { folder -> [String] in
      let url = SharedData.root.appendingPathComponent("bench/\(folder)")
      let names = (try? FileManager.default.contentsOfDirectory(atPath: url.path)) ?? []
      return names.filter { $0.hasSuffix(".vnnlib") }.sorted().map { "bench/\(folder)/\($0)" }
    }
  }

  @Test func everyPropertyParses() throws {
    let files = Self.files
    // 10 ACAS Xu properties, 30 MNIST-FC properties, 4 tiny ones.
    #expect(files.count == 44, "found \(files.count) .vnnlib files under ../shared/bench")
    for file in files {
      let property = try VNNLibReader.read(path: SharedData.url(file).path)
      #expect(!property.cases.isEmpty, "\(file)")
      for each in property.cases {
        #expect(each.lower.count == property.inputCount && each.upper.count == property.inputCount)
        #expect(zip(each.lower, each.upper).allSatisfy { $0.isFinite && $1.isFinite && $0 <= $1 })
        #expect(!each.goals.isEmpty, "\(file)")
        for goal in each.goals {
          #expect(
            goal.conditions.allSatisfy { $0.terms.allSatisfy { $0.output < property.outputCount } })
        }
      }
      if file.hasPrefix("bench/acasxu/") {
        #expect(property.inputCount == 5 && property.outputCount == 5, "\(file)")
      }
      if file.hasPrefix("bench/mnistfc/") {
        #expect(property.inputCount == 784 && property.outputCount == 10, "\(file)")
        // One box inside [0, 1] and "some other label reaches the label": 9 single conditions.
        try #require(property.cases.count == 1, "\(file)")
        let only = property.cases[0]
        #expect(only.lower.allSatisfy { $0 >= 0 } && only.upper.allSatisfy { $0 <= 1 })
        #expect(only.goals.count == 9, "\(file)")
        let labels = Set(
          only.goals.flatMap { $0.conditions.flatMap { $0.terms.filter { $0.weight == -1 } } }.map(
            \.output))
        #expect(labels.count == 1, "\(file): \(labels)")
      }
    }
  }

  /// Per ACAS Xu property: cases, goals per case, conditions per goal.
  @Test(arguments: [
    (1, 1, 1, 1), (2, 1, 1, 4), (3, 1, 1, 4), (4, 1, 1, 4), (5, 1, 4, 1), (6, 2, 4, 1),
    (7, 1, 2, 3), (8, 1, 3, 2), (9, 1, 4, 1), (10, 1, 4, 1),
  ])
  func acasXuShapes(number: Int, cases: Int, goals: Int, conditions: Int) throws {
    let property = try VNNLibReader.read(
      path: SharedData.url("bench/acasxu/prop_\(number).vnnlib").path)
    #expect(property.cases.count == cases)
    for each in property.cases {
      #expect(each.goals.count == goals)
      #expect(each.goals.allSatisfy { $0.conditions.count == conditions })
    }
  }

  @Test func acasXuPropertyOneAndSix() throws {
    let one = try VNNLibReader.read(path: SharedData.url("bench/acasxu/prop_1.vnnlib").path)
    #expect(one.cases[0].lower == [0.6, -0.5, -0.5, 0.45, -0.5])
    #expect(one.cases[0].upper == [0.679857769, 0.5, 0.5, 0.5, -0.45])
    #expect(
      one.cases[0].goals == [OutputGoal(conditions: [condition([(0, 1)], -3.991125645861615)])])
    let six = try VNNLibReader.read(path: SharedData.url("bench/acasxu/prop_6.vnnlib").path)
    #expect(six.cases.map { $0.lower[1] } == [0.11140846, -0.499999896])
    #expect(six.cases.map { $0.upper[1] } == [0.499999896, -0.11140846])
    // "Clear of conflict is not minimal": Y_0 ≥ Y_j for some j.
    #expect(
      six.cases[1].goals.map(\.conditions) == (1...4).map { [condition([(0, 1), ($0, -1)], 0)] })
  }
}
