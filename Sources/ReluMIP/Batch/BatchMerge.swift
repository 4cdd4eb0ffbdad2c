import Foundation

/// One input of a merge: a result file's name and what it holds.
public struct MergeInput: Sendable {
  public var path: String
  public var contents: ResultFileContents

  public init(path: String, contents: ResultFileContents) {
    self.path = path
    self.contents = contents
  }
}

/// A run whose instances a merge expects: every example of `plan` at every radius, for one norm
/// and target choice, split into `shardCount` shards when it was sharded.
public struct MergeRun: Sendable, Hashable, CustomStringConvertible {
  public var norm: String
  public var targetChoice: String
  public var plan: BatchPlan
  /// The number of shards, or nil when the instance list came from the command line and no
  /// record names the run's shards.
  public var shardCount: Int?

  public init(norm: String, targetChoice: String, plan: BatchPlan, shardCount: Int?) {
    self.norm = norm
    self.targetChoice = targetChoice
    self.plan = plan
    self.shardCount = shardCount
  }

  public var keys: [BatchKey] {
    plan.instances.map {
      BatchKey(example: $0.example, norm: norm, delta: $0.delta, targetChoice: targetChoice)
    }
  }

  public func contains(_ key: BatchKey) -> Bool {
    key.norm == norm && key.targetChoice == targetChoice
      && plan.contains(BatchInstance(example: key.example, delta: key.delta))
  }

  /// E.g. `l1, target runner-up, examples 0..19 at radii 0.5, 1.0, in 4 shards`.
  public var description: String {
    let radii = plan.deltas.map { "\($0)" }.joined(separator: ", ")
    let shards = shardCount.map { $0 == 1 ? ", in 1 shard" : ", in \($0) shards" } ?? ""
    return
      "\(norm), target \(targetChoice), examples \(ExampleSelection.compactDescription(plan.examples)) at radii \(radii)\(shards)"
  }
}

/// Which instances a merge must hold.
public enum MergeExpectation: Sendable {
  /// Those of the runs named by the records' `shard` fields (`batch --shard` writes them).
  case recorded
  /// Every example of the plan at every radius, for each norm and target choice given, or, if
  /// none is given, for each the records hold.
  case plan(BatchPlan, variants: [(norm: String, targetChoice: String)])
}

/// Result files that cannot be merged: what is wrong with them, by file.
public enum BatchMergeError: Error, Equatable, CustomStringConvertible {
  /// No record carries the instance list of its run, and none was given.
  case noInstanceList([String])
  /// An instance list was given, but neither a norm nor any record to take it from.
  case noNorm
  /// Two files hold results of different runs (another model, images, box or bound method).
  case mixedSettings(first: String, second: String, differences: [String])
  /// A record's shard field cannot be read back as an instance list.
  case badShardField(path: String, problem: String)

  public var description: String {
    switch self {
    case .noInstanceList(let paths):
      return
        "\(paths.joined(separator: ", ")) record no instance list (they were not written by batch --shard): give the expected instances with --examples and --delta"
    case .noNorm:
      return "the input files hold no records: give the --norm (and --target) of the run"
    case .mixedSettings(let first, let second, let differences):
      return
        "\(first) and \(second) hold results of different runs (\(differences.joined(separator: "; "))): merge only the shards of one run"
    case .badShardField(let path, let problem):
      return "\(path): a record's shard field is malformed (\(problem))"
    }
  }
}

/// The shard result files of a run combined into one set of records, with what is wrong:
/// instances missing from every file, instances in several files (with the same verdict, or
/// conflicting ones), instances outside the expected list.
///
/// Within one file, the last line of an instance counts (as for `summarize`); across files, an
/// instance is a duplicate, and the first file's record is kept if the verdicts agree. An
/// instance whose verdicts differ is a conflict and is left out of `records`.
public struct BatchMerge: Sendable {
  /// An instance recorded by more than one file: each file and the verdict it records.
  public struct Duplicate: Sendable {
    public var key: BatchKey
    public var sources: [(path: String, result: BatchOutcome)]
  }

  /// Missing instances of one shard (or of a run without known shards).
  public struct MissingGroup: Sendable {
    public var run: MergeRun?
    /// 1-based, when the run's shards are known.
    public var shard: Int?
    /// The instances of the shard (or run) in all.
    public var expected: Int
    /// The missing ones, by key.
    public var keys: [BatchKey]
    /// The files holding records of the shard (empty: a whole shard file is missing).
    public var files: [String]
  }

  public var inputs: [String]
  /// One record per instance, sorted by key; conflicting instances left out.
  public var records: [BatchRecord]
  /// The runs whose instances are expected.
  public var runs: [MergeRun]
  public var expectedCount: Int
  /// Distinct instances found in the inputs.
  public var foundCount: Int
  /// Expected instances no input records, sorted.
  public var missing: [BatchKey]
  /// The missing instances by run and shard.
  public var missingGroups: [MissingGroup]
  /// Instances in several files, all with the same verdict.
  public var duplicates: [Duplicate]
  /// Instances in several files with different verdicts.
  public var conflicts: [Duplicate]
  /// Recorded instances outside the expected runs, sorted (they are kept).
  public var unexpected: [BatchKey]
  /// Per file: a torn last line (ignored) and how many lines repeat an earlier instance.
  public var tornLines: [(path: String, line: Int, problem: String)]
  public var repeatedLines: [(path: String, count: Int)]

  /// Every expected instance exactly once, and no conflicting verdicts.
  public var isComplete: Bool { missing.isEmpty && conflicts.isEmpty }

  public init(inputs: [MergeInput], expecting expectation: MergeExpectation = .recorded) throws {
    self.inputs = inputs.map(\.path)
    try Self.checkSettings(inputs)

    // Every file's latest record of each instance, and where each instance is found.
    var sources: [BatchKey: [(path: String, record: BatchRecord)]] = [:]
    tornLines = []
    repeatedLines = []
    for input in inputs {
      if let torn = input.contents.tornLine {
        tornLines.append((input.path, torn.number, torn.problem))
      }
      if input.contents.duplicateCount > 0 {
        repeatedLines.append((input.path, input.contents.duplicateCount))
      }
      for record in input.contents.latest {
        sources[record.key, default: []].append((input.path, record))
      }
    }
    foundCount = sources.count

    // The runs the records name, and which files hold records of each of their shards.
    var recordedRuns: [RunIdentity: MergeRun] = [:]
    var shardFiles: [ShardIdentity: [String]] = [:]
    for input in inputs {
      for record in input.contents.latest {
        guard let spec = record.shard else { continue }
        let identity = RunIdentity(record: record, spec: spec)
        if recordedRuns[identity] == nil {
          do {
            recordedRuns[identity] = MergeRun(
              norm: record.norm, targetChoice: record.targetChoice, plan: try spec.plan(),
              shardCount: spec.count)
          } catch {
            throw BatchMergeError.badShardField(path: input.path, problem: "\(error)")
          }
        }
        let shard = ShardIdentity(run: identity, index: spec.index)
        if shardFiles[shard]?.last != input.path {
          shardFiles[shard, default: []].append(input.path)
        }
      }
    }
    let recordedInOrder = recordedRuns.sorted { $0.key < $1.key }

    switch expectation {
    case .recorded:
      guard !recordedRuns.isEmpty else { throw BatchMergeError.noInstanceList(self.inputs) }
      runs = recordedInOrder.map(\.value)
    case .plan(let plan, let given):
      var variants = given.map { [$0.norm, $0.targetChoice] }
      if variants.isEmpty {
        for key in sources.keys.sorted() where !variants.contains([key.norm, key.targetChoice]) {
          variants.append([key.norm, key.targetChoice])
        }
      }
      guard !variants.isEmpty else { throw BatchMergeError.noNorm }
      runs = variants.map { variant in
        // The shards are known if the records name this very run.
        let counts = Set(
          recordedRuns.values.filter {
            $0.norm == variant[0] && $0.targetChoice == variant[1] && $0.plan == plan
          }.compactMap(\.shardCount))
        return MergeRun(
          norm: variant[0], targetChoice: variant[1], plan: plan,
          shardCount: counts.count == 1 ? counts.first : nil)
      }
    }

    var expected = Set<BatchKey>()
    for run in runs { expected.formUnion(run.keys) }
    expectedCount = expected.count
    missing = expected.subtracting(sources.keys).sorted()
    unexpected = Set(sources.keys).subtracting(expected).sorted()

    // Duplicates and conflicts; the merged records.
    var merged: [BatchRecord] = []
    duplicates = []
    conflicts = []
    for key in sources.keys.sorted() {
      let found = sources[key]!
      if found.count > 1 {
        let duplicate = Duplicate(key: key, sources: found.map { ($0.path, $0.record.result) })
        if Set(found.map(\.record.result)).count > 1 {
          conflicts.append(duplicate)
          continue
        }
        duplicates.append(duplicate)
      }
      merged.append(found[0].record)
    }
    records = merged

    // The missing instances by run and shard, each instance under the first run that has it.
    var groups: [MissingGroup] = []
    var groupIndex: [String: Int] = [:]
    for key in missing {
      let instance = BatchInstance(example: key.example, delta: key.delta)
      guard let run = runs.first(where: { $0.contains(key) }) else { continue }
      let shard = run.shardCount.flatMap { run.plan.shard(of: instance, count: $0) }
      let label = "\(run)|\(shard ?? 0)"
      if let index = groupIndex[label] {
        groups[index].keys.append(key)
        continue
      }
      var files: [String] = []
      var expectedInGroup = run.plan.count
      if let shard, let count = run.shardCount {
        expectedInGroup = run.plan.count / count + (shard <= run.plan.count % count ? 1 : 0)
        let identity = RunIdentity(run: run, count: count)
        files = shardFiles[ShardIdentity(run: identity, index: shard)] ?? []
      }
      groupIndex[label] = groups.count
      groups.append(
        MissingGroup(run: run, shard: shard, expected: expectedInGroup, keys: [key], files: files))
    }
    missingGroups = groups
  }

  /// All records must come from runs with the same model and images files (by name), box and
  /// bound method, as for `batch --resume`.
  private static func checkSettings(_ inputs: [MergeInput]) throws {
    func name(_ path: String) -> String { (path as NSString).lastPathComponent }
    var reference: (path: String, record: BatchRecord)?
    for input in inputs {
      for record in input.contents.records {
        guard let (firstPath, first) = reference else {
          reference = (input.path, record)
          continue
        }
        var differences: [String] = []
        if name(record.model) != name(first.model) {
          differences.append("model \(first.model) vs \(record.model)")
        }
        if name(record.images) != name(first.images) {
          differences.append("images \(first.images) vs \(record.images)")
        }
        if let a = first.clip, let b = record.clip, a != b {
          differences.append("--clip \(a) vs \(b)")
        }
        if let a = first.boundMethod, let b = record.boundMethod, a != b {
          differences.append("--bounds \(a) vs \(b)")
        }
        if first.normalization != record.normalization {
          differences.append(
            "normalisation \(first.normalization ?? "none") vs \(record.normalization ?? "none")")
        }
        if !differences.isEmpty {
          throw BatchMergeError.mixedSettings(
            first: firstPath, second: input.path, differences: differences)
        }
      }
    }
  }

  /// The report `relumip merge` prints: what was merged and what is wrong, one line each, with
  /// the instances named (examples as ranges per radius), long lists cut at `listLimit` items.
  public func report(listLimit: Int = 20) -> [String] {
    var lines: [String] = []
    let files = inputs.count == 1 ? "1 file" : "\(inputs.count) files"
    lines.append("\(files): \(foundCount) distinct instances")
    lines.append(
      "expected: \(expectedCount) instances of \(runs.count == 1 ? "the run" : "\(runs.count) runs")"
    )
    for run in runs { lines.append("  \(run)") }
    let byVariant = Dictionary(grouping: runs, by: { "\($0.norm), target \($0.targetChoice)" })
    for (variant, variantRuns) in byVariant.sorted(by: { $0.key < $1.key })
    where variantRuns.count > 1 {
      lines.append(
        "note: the files record \(variantRuns.count) different instance lists for \(variant): their union is expected"
      )
    }
    for torn in tornLines {
      lines.append(
        "note: \(torn.path): line \(torn.line) is torn (\(torn.problem)); ignored, its instance counts as missing unless another file has it"
      )
    }
    for repeated in repeatedLines {
      lines.append(
        "note: \(repeated.path): \(repeated.count) lines repeat an earlier instance of the same file; the last counts"
      )
    }

    if missing.isEmpty {
      lines.append("missing: none")
    } else {
      lines.append("missing: \(missing.count) of \(expectedCount) instances")
      for group in missingGroups {
        var head = "  "
        if let shard = group.shard, let run = group.run, let count = run.shardCount {
          head += "shard \(shard)/\(count) of \(run.norm), target \(run.targetChoice): "
        } else if let run = group.run {
          head += "\(run.norm), target \(run.targetChoice): "
        }
        head +=
          group.keys.count == group.expected
          ? "all \(group.expected) of its instances"
          : "\(group.keys.count) of its \(group.expected) instances"
        if group.shard != nil {
          head +=
            group.files.isEmpty
            ? ", and no file holds any record of this shard: is its result file missing?"
            : " (its records are in \(group.files.joined(separator: ", ")))"
        }
        lines.append(head)
        let byDelta = Dictionary(grouping: group.keys, by: \.delta)
        for delta in byDelta.keys.sorted() {
          let examples = byDelta[delta]!.map(\.example)
          lines.append(
            "    delta \(delta): \(examples.count == 1 ? "example" : "examples") \(ExampleSelection.compactDescription(examples))"
          )
        }
      }
    }

    func listed(_ items: [String]) -> [String] {
      var result = items.prefix(listLimit).map { "  \($0)" }
      if items.count > listLimit { result.append("  … and \(items.count - listLimit) more") }
      return result
    }
    func sources(_ duplicate: Duplicate) -> String {
      duplicate.sources.map { "\($0.result.rawValue) in \($0.path)" }.joined(separator: ", ")
    }
    if !conflicts.isEmpty {
      lines.append(
        "conflicting verdicts: \(conflicts.count) \(conflicts.count == 1 ? "instance" : "instances") recorded differently by different files (left out)"
      )
      lines += listed(conflicts.map { "\($0.key): \(sources($0))" })
    }
    if !duplicates.isEmpty {
      lines.append(
        "duplicates: \(duplicates.count) \(duplicates.count == 1 ? "instance" : "instances") recorded by several files with the same verdict (the first file's record kept)"
      )
      lines += listed(duplicates.map { "\($0.key): \(sources($0))" })
    }
    if !unexpected.isEmpty {
      lines.append(
        "outside the expected instances: \(unexpected.count) (kept)")
      lines += listed(unexpected.map(\.description))
    }
    return lines
  }
}

/// A sharded run as its records name it: norm, target choice, instance list and shard count.
private struct RunIdentity: Hashable, Comparable {
  var norm: String
  var targetChoice: String
  var examples: String
  var deltas: [Double]
  var count: Int

  init(record: BatchRecord, spec: BatchShardSpec) {
    norm = record.norm
    targetChoice = record.targetChoice
    examples = spec.examples
    deltas = spec.deltas
    count = spec.count
  }

  init(run: MergeRun, count: Int) {
    norm = run.norm
    targetChoice = run.targetChoice
    examples = ExampleSelection.compactDescription(run.plan.examples)
    deltas = run.plan.deltas
    self.count = count
  }

  private var order: (String, String, String, Int) { (norm, targetChoice, examples, count) }

  static func < (a: RunIdentity, b: RunIdentity) -> Bool {
    a.order != b.order ? a.order < b.order : a.deltas.lexicographicallyPrecedes(b.deltas)
  }
}

private struct ShardIdentity: Hashable {
  var run: RunIdentity
  var index: Int
}
