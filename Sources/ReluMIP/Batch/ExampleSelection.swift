import Foundation

/// Which examples of an images file a batch run covers: `all`, or a comma-separated list of
/// indices and inclusive ranges such as `0..99`, `0,5,7` or `0..4,9`.
public enum ExampleSelection: Sendable, Equatable, CustomStringConvertible {
  /// Every example of the file.
  case all
  /// These indices, in the order given, each once.
  case indices([Int])

  /// The most indices one specification may name (a guard against `0..999999999999`).
  public static let maximumCount = 10_000_000

  /// Parses a specification; throws `BatchSpecError` with a message naming the bad part.
  public init(parsing text: String) throws {
    let trimmed = text.trimmingCharacters(in: .whitespaces)
    if trimmed.lowercased() == "all" {
      self = .all
      return
    }
    guard !trimmed.isEmpty else { throw BatchSpecError("the example list is empty") }
    var indices: [Int] = []
    var seen = Set<Int>()
    for rawItem in trimmed.split(separator: ",", omittingEmptySubsequences: false) {
      let item = rawItem.trimmingCharacters(in: .whitespaces)
      guard !item.isEmpty else {
        throw BatchSpecError("'\(text)' has an empty item (two commas, or one at an end)")
      }
      if item.lowercased() == "all" {
        throw BatchSpecError("'all' cannot be combined with other items")
      }
      let range: ClosedRange<Int>
      if let separator = item.range(of: "..") {
        let lowerText = item[..<separator.lowerBound].trimmingCharacters(in: .whitespaces)
        let upperText = item[separator.upperBound...].trimmingCharacters(in: .whitespaces)
        guard let lower = Self.index(lowerText), let upper = Self.index(upperText) else {
          throw BatchSpecError(
            "'\(item)' is not a range FIRST..LAST of whole numbers ≥ 0 (both ends included)")
        }
        guard lower <= upper else {
          throw BatchSpecError(
            "the range '\(item)' runs backwards: its first end is above its last")
        }
        range = lower...upper
      } else {
        guard let index = Self.index(item) else {
          throw BatchSpecError(
            "'\(item)' is not an example index (a whole number ≥ 0) or a range FIRST..LAST")
        }
        range = index...index
      }
      guard range.count <= Self.maximumCount - indices.count else {
        throw BatchSpecError("'\(text)' names more than \(Self.maximumCount) examples")
      }
      for index in range where seen.insert(index).inserted {
        indices.append(index)
      }
    }
    self = .indices(indices)
  }

  private static func index(_ text: String) -> Int? {
    guard !text.isEmpty, text.allSatisfy(\.isASCII), text.allSatisfy(\.isNumber),
      let value = Int(text)
    else { return nil }
    return value
  }

  /// The indices for a file holding `count` examples; throws if one is past its end.
  public func resolve(count: Int) throws -> [Int] {
    switch self {
    case .all:
      return Array(0..<count)
    case .indices(let indices):
      if let bad = indices.first(where: { $0 >= count }) {
        throw InputFileError.noSuchExample(bad, count: count)
      }
      return indices
    }
  }

  public var description: String {
    switch self {
    case .all: return "all"
    case .indices(let indices): return indices.map(String.init).joined(separator: ",")
    }
  }

  /// Indices as a specification that parses back to them ascending: runs of consecutive
  /// indices as ranges, e.g. `[9, 0, 1, 2, 3, 4]` → `0..4,9`.
  package static func compactDescription(_ indices: [Int]) -> String {
    let sorted = Array(Set(indices)).sorted()
    var items: [String] = []
    var start = 0
    while start < sorted.count {
      var end = start
      while end + 1 < sorted.count && sorted[end + 1] == sorted[end] + 1 { end += 1 }
      items.append(end == start ? "\(sorted[start])" : "\(sorted[start])..\(sorted[end])")
      start = end + 1
    }
    return items.joined(separator: ",")
  }
}

/// The radii of a batch run: `0.5,1,2,5`, each finite and ≥ 0, in the order given, each once.
public enum RadiusList {
  public static func parse(_ text: String) throws -> [Double] {
    let items = text.split(separator: ",", omittingEmptySubsequences: false)
      .map { $0.trimmingCharacters(in: .whitespaces) }
    guard !(items.count == 1 && items[0].isEmpty) else {
      throw BatchSpecError("the radius list is empty")
    }
    var radii: [Double] = []
    for item in items {
      guard !item.isEmpty else {
        throw BatchSpecError("'\(text)' has an empty item (two commas, or one at an end)")
      }
      guard let value = Double(item), value.isFinite, value >= 0 else {
        throw BatchSpecError("'\(item)' is not a radius: each must be a finite number ≥ 0")
      }
      if !radii.contains(value) { radii.append(value) }
    }
    return radii
  }
}

/// A malformed example list or radius list; the message says which part is wrong.
public struct BatchSpecError: Error, Equatable, CustomStringConvertible {
  public var message: String
  public init(_ message: String) { self.message = message }
  public var description: String { message }
}
