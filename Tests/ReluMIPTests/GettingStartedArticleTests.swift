import Foundation
import TestSupport
import Testing

/// The getting-started article (`Sources/ReluMIP/ReluMIP.docc/GettingStarted.md`) shows the code
/// of the `verify-one-example` target (`Examples/VerifyOneExample/main.swift`), which Scripts/test.sh
/// builds and runs. These tests keep the two in step: the article's listings are the target's code.
@Suite struct GettingStartedArticleTests {
  static let article = RepositoryFiles.root.appendingPathComponent(
    "Sources/ReluMIP/ReluMIP.docc/GettingStarted.md")
  static let program = RepositoryFiles.root.appendingPathComponent(
    "Examples/VerifyOneExample/main.swift")

  /// The article's Swift listings, each as its lines, less the `Package.swift` one.
  static func listings() throws -> [[String]] {
    let text = try String(contentsOf: article, encoding: .utf8)
    var listings: [[String]] = []
    var current: [String]?
    for line in text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) {
      if current == nil {
        if line == "```swift" { current = [] }
      } else if line == "```" {
        listings.append(current!)
        current = nil
      } else {
        current!.append(line)
      }
    }
    return listings.filter { $0.first?.hasPrefix("// swift-tools-version") != true }
  }

  /// The program's lines from its first `import` on (the comment above it is not shown).
  static func programLines() throws -> [String] {
    let lines = try String(contentsOf: program, encoding: .utf8)
      .split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    let start = try #require(lines.firstIndex { $0.hasPrefix("import ") })
    return Array(lines[start...].reversed().drop { $0.isEmpty }.reversed())
  }

  @Test func theWholeProgramListingIsTheExampleTarget() throws {
    let whole = try #require(
      try Self.listings().first { $0.first == "import Foundation" },
      "the article has no listing of the whole program")
    #expect(whole == (try Self.programLines()))
  }

  @Test func everyStepListingIsPartOfTheExampleTarget() throws {
    let program = try Self.programLines().map { $0.trimmingCharacters(in: .whitespaces) }
    let steps = try Self.listings().filter { $0.first != "import Foundation" }
    #expect(steps.count >= 4, "expected the listings of the steps, found \(steps.count)")
    for step in steps {
      // Inside the program's `do` block each line is indented one level more.
      let lines = step.map { $0.trimmingCharacters(in: .whitespaces) }
      let found = program.indices.contains { start in
        start + lines.count <= program.count
          && Array(program[start..<(start + lines.count)]) == lines
      }
      #expect(
        found, "this listing of the article is not in main.swift:\n\(step.joined(separator: "\n"))")
    }
  }
}
