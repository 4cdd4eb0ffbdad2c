import Foundation
import ReluMIP
import TestSupport
import Testing

extension Tag {
  /// Runs for minutes rather than seconds (the seed verdict table).
  @Tag static var slow: Self
  /// Reads the shared data folder ../shared.
  @Tag static var shared: Self
  /// Many seeded random cases compared against brute force.
  @Tag static var property: Self
}

extension Trait where Self == ConditionTrait {
  /// Enables a test that reads ../shared: skipped with a message when the folder is absent,
  /// run (and failing on the missing files) when CI=true.
  static var sharedData: Self {
    .enabled(if: SharedData.isEnabled, Comment(rawValue: SharedData.skipMessage))
  }
}

/// Reads an example file through the library's reader, failing the test with the file's name.
func readExamples(_ url: URL) throws -> ExampleSet {
  try ExampleReader.read(path: url.path)
}

/// Rows of a 2-D example set, after checking the expected count.
func rows(of set: ExampleSet, expectedCount: Int) throws -> [[Double]] {
  try #require(set.count == expectedCount, "expected \(expectedCount) rows, found \(set.count)")
  return try (0..<set.count).map { try set.example($0) }
}
