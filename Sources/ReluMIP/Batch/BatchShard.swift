import Foundation

/// The instance list of a batch run as a set: every example at every radius, both ascending.
///
/// The order in which `--examples` and `--delta` name them does not matter: `0..9` and `9,0..8`
/// give the same plan, so the same shards.
public struct BatchPlan: Sendable, Hashable {
  /// Ascending, each once.
  public let examples: [Int]
  /// Ascending, each once.
  public let deltas: [Double]

  public init(examples: [Int], deltas: [Double]) {
    self.examples = Array(Set(examples)).sorted()
    self.deltas = Array(Set(deltas)).sorted()
  }

  public var count: Int { examples.count * deltas.count }

  /// The instances in the order shards are dealt from: by radius, then by example.
  public var instances: [BatchInstance] {
    deltas.flatMap { delta in examples.map { BatchInstance(example: $0, delta: delta) } }
  }

  /// The 1-based shard of `count` shards that runs `instance`, or nil if it is not in the plan.
  ///
  /// The instances, by radius and then by example, are dealt round-robin: the i-th (from 0)
  /// goes to shard i mod count + 1. So the shards differ in size by at most one instance, and
  /// also at each radius (where the hard instances cluster) by at most one.
  public func shard(of instance: BatchInstance, count: Int) -> Int? {
    precondition(count >= 1, "a run has at least one shard")
    guard let exampleRank = Self.rank(of: instance.example, in: examples),
      let deltaRank = Self.rank(of: instance.delta, in: deltas)
    else { return nil }
    return (deltaRank * examples.count + exampleRank) % count + 1
  }

  public func contains(_ instance: BatchInstance) -> Bool {
    Self.rank(of: instance.example, in: examples) != nil
      && Self.rank(of: instance.delta, in: deltas) != nil
  }

  /// The instances of one shard, in dealing order.
  public func instances(in shard: BatchShard) -> [BatchInstance] {
    guard !examples.isEmpty else { return [] }
    return stride(from: shard.index - 1, to: count, by: shard.count).map { position in
      BatchInstance(
        example: examples[position % examples.count], delta: deltas[position / examples.count])
    }
  }

  private static func rank<T: Comparable>(of value: T, in sorted: [T]) -> Int? {
    var low = 0
    var high = sorted.count
    while low < high {
      let middle = (low + high) / 2
      if sorted[middle] < value { low = middle + 1 } else { high = middle }
    }
    return low < sorted.count && sorted[low] == value ? low : nil
  }
}

/// The K-th of N slices of a batch run (`--shard K/N`): K counts from 1, as Slurm's array task
/// ids do with `--array=1-N`.
public struct BatchShard: Sendable, Hashable, CustomStringConvertible {
  /// 1…count.
  public let index: Int
  public let count: Int

  public init(index: Int, count: Int) throws {
    guard count >= 1 else {
      throw BatchSpecError("the shard count must be at least 1, not \(count)")
    }
    guard (1...count).contains(index) else {
      throw BatchSpecError(
        "shard \(index)/\(count) does not exist: K in K/N counts from 1 to N (\(count))")
    }
    self.index = index
    self.count = count
  }

  /// Parses `K/N`, e.g. `3/8`.
  public init(parsing text: String) throws {
    let parts = text.trimmingCharacters(in: .whitespaces).split(
      separator: "/", omittingEmptySubsequences: false)
    func number(_ part: Substring) -> Int? {
      guard !part.isEmpty, part.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
      return Int(part)
    }
    guard parts.count == 2, let index = number(parts[0]), let count = number(parts[1]) else {
      throw BatchSpecError(
        "'\(text)' is not a shard K/N (whole numbers, 1 ≤ K ≤ N: the K-th of N slices, e.g. 3/8)")
    }
    try self.init(index: index, count: count)
  }

  public var description: String { "\(index)/\(count)" }
}

/// What every record of a sharded run carries: its shard and the whole instance list the shards
/// split, so that `merge` can tell which instances the shards together must hold, even those of
/// a shard whose file is missing. (The norm and target choice are the record's own.)
public struct BatchShardSpec: Sendable, Hashable, Codable, CustomStringConvertible {
  /// 1…count.
  public var index: Int
  public var count: Int
  /// The plan's examples as ascending indices and ranges, e.g. `0..19` (as `--examples` takes).
  public var examples: String
  /// The plan's radii, ascending.
  public var deltas: [Double]

  public init(shard: BatchShard, plan: BatchPlan) {
    index = shard.index
    count = shard.count
    examples = ExampleSelection.compactDescription(plan.examples)
    deltas = plan.deltas
  }

  /// The plan the shards split; throws if the recorded example list is malformed.
  public func plan() throws -> BatchPlan {
    guard case .indices(let indices) = try ExampleSelection(parsing: examples) else {
      throw BatchSpecError("a shard's example list must list its indices, not '\(examples)'")
    }
    return BatchPlan(examples: indices, deltas: deltas)
  }

  public var shard: BatchShard? { try? BatchShard(index: index, count: count) }

  /// The same run, without the shard index.
  package func sameRun(as other: BatchShardSpec) -> Bool {
    count == other.count && examples == other.examples && deltas == other.deltas
  }

  /// E.g. `shard 2/4 of examples 0..19 at radii 0.5, 1.0`.
  public var description: String {
    "shard \(index)/\(count) of \(runDescription)"
  }

  /// E.g. `examples 0..19 at radii 0.5, 1.0`.
  package var runDescription: String {
    "examples \(examples) at radii \(deltas.map { "\($0)" }.joined(separator: ", "))"
  }
}
