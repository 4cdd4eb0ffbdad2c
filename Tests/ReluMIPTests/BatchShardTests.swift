import Foundation
import TestSupport
import Testing

@testable import ReluMIP

// MARK: Shards

@Suite("Batch: shards K/N")
struct BatchShardTests {
  struct Scenario: Sendable, CustomTestStringConvertible {
    var examples: [Int]
    var deltas: [Double]
    var shards: Int
    var testDescription: String { "\(examples.count) examples × \(deltas.count) radii / \(shards)" }
  }

  static let scenarios = [
    Scenario(examples: Array(0..<20), deltas: [0.5, 1, 2, 5], shards: 4),
    Scenario(examples: Array(0..<20), deltas: [0.5, 1, 2, 5], shards: 3),
    Scenario(examples: Array(0..<7), deltas: [1], shards: 7),
    Scenario(examples: Array(0..<5), deltas: [1, 2], shards: 16),
    Scenario(examples: [3, 99, 42, 7, 8, 9, 10], deltas: [0.1, 0, 3], shards: 1),
    Scenario(examples: Array(0..<100), deltas: [0.25, 0.5, 1, 2, 4], shards: 8),
    Scenario(examples: [5], deltas: [1], shards: 2),
  ]

  @Test(arguments: scenarios)
  func everyInstanceInExactlyOneBalancedShard(_ scenario: Scenario) throws {
    let plan = BatchPlan(examples: scenario.examples, deltas: scenario.deltas)
    let all = BatchRunner.plan(examples: scenario.examples, deltas: scenario.deltas)
    try #require(plan.count == all.count)
    var seen: [BatchInstance: Int] = [:]
    var sizes: [Int] = []
    for index in 1...scenario.shards {
      let shard = try BatchShard(index: index, count: scenario.shards)
      let instances = plan.instances(in: shard)
      sizes.append(instances.count)
      for instance in instances {
        #expect(seen[instance] == nil, "\(instance) is in shards \(seen[instance]!) and \(index)")
        seen[instance] = index
        #expect(plan.shard(of: instance, count: scenario.shards) == index)
      }
      // Balanced at each radius as well.
      let perRadius = scenario.deltas.map { delta in instances.filter { $0.delta == delta }.count }
      #expect(perRadius.max()! - perRadius.min()! <= 1, "shard \(index): \(perRadius)")
    }
    #expect(Set(seen.keys) == Set(all), "the shards cover the run")
    #expect(sizes.reduce(0, +) == all.count)
    #expect(sizes.max()! - sizes.min()! <= 1, "sizes \(sizes)")
    #expect(plan.shard(of: BatchInstance(example: 1_000_000, delta: 1), count: 2) == nil)
  }

  @Test func sameRunSameShardsWhateverTheOrderGiven() throws {
    let a = BatchPlan(examples: Array(0..<10), deltas: [0.5, 1, 2])
    let b = BatchPlan(examples: [9, 0, 1, 2, 3, 4, 5, 6, 7, 8, 3], deltas: [2, 0.5, 1, 2])
    #expect(a == b)
    for index in 1...4 {
      let shard = try BatchShard(index: index, count: 4)
      #expect(a.instances(in: shard) == b.instances(in: shard))
    }
    // Fixed for good: result files and running jobs depend on it.
    let second = a.instances(in: try BatchShard(index: 2, count: 4))
    #expect(
      second.prefix(4).map { [Double($0.example), $0.delta] } == [
        [1, 0.5], [5, 0.5], [9, 0.5], [3, 1],
      ])
  }

  @Test(arguments: [("3/8", 3, 8), ("1/1", 1, 1), (" 4/4 ", 4, 4), ("10/12", 10, 12)])
  func parses(_ text: String, _ index: Int, _ count: Int) throws {
    let shard = try BatchShard(parsing: text)
    #expect(shard.index == index && shard.count == count)
    #expect(shard.description == "\(index)/\(count)")
  }

  @Test(arguments: [
    "0/4", "5/4", "1/0", "0/0", "-1/4", "1/-4", "4", "/4", "1/", "a/b", "1/4/2", "1.5/4", "1 / 4",
    "", "+1/4", "1//4", "99999999999999999999/2",
  ])
  func rejects(_ text: String) {
    #expect(throws: BatchSpecError.self, "'\(text)'") { try BatchShard(parsing: text) }
  }

  @Test func badShardSaysKCountsFromOne() {
    #expect(throws: BatchSpecError.self) { try BatchShard(parsing: "0/4") }
    do {
      _ = try BatchShard(parsing: "0/4")
    } catch {
      #expect("\(error)".contains("counts from 1"), "\(error)")
    }
  }

  @Test(arguments: [
    ([0, 1, 2, 3, 4, 9], "0..4,9"), ([9, 0, 1, 2, 3, 4], "0..4,9"), ([7], "7"), ([1, 3], "1,3"),
    ([4, 3, 4], "3..4"), ([0, 2, 3, 5, 6, 7, 10], "0,2..3,5..7,10"),
  ])
  func compactExampleLists(_ indices: [Int], _ text: String) throws {
    #expect(ExampleSelection.compactDescription(indices) == text)
    #expect(try ExampleSelection(parsing: text) == .indices(Array(Set(indices)).sorted()))
  }

  @Test func recordsCarryTheirShardThroughJSON() throws {
    var record = batchRecord(3, delta: 0.5)
    let plan = BatchPlan(examples: Array(0..<20), deltas: [1, 0.5])
    record.shard = BatchShardSpec(shard: try BatchShard(index: 2, count: 4), plan: plan)
    let line = try record.jsonLine()
    #expect(
      String(decoding: line, as: UTF8.self).contains(
        #""shard":{"count":4,"deltas":[0.5,1],"examples":"0..19","index":2}"#))
    let decoded = try JSONDecoder().decode(BatchRecord.self, from: line)
    #expect(decoded == record)
    #expect(try decoded.shard?.plan() == plan)
    // Lines without one (unsharded runs, older files) read as before.
    #expect(
      try JSONDecoder().decode(BatchRecord.self, from: batchRecord(3).jsonLine()).shard == nil)
  }
}

// MARK: Creating a file whole

@Suite("Batch: creating a result file all or nothing")
struct ResultFileCreationTests {
  @Test func createsAndNeverOverwrites() throws {
    let directory = try TemporaryFiles.makeDirectory("relumip-create")
    defer { try? FileManager.default.removeItem(at: directory) }
    let path = directory.appendingPathComponent("merged.jsonl").path
    let records = [batchRecord(0), batchRecord(1, .counterexample)]
    try ResultStore.create(path: path, records: records)
    #expect(try ResultStore.read(path: path).records == records)
    #expect(throws: ResultStoreError.outputExists(path)) {
      try ResultStore.create(path: path, records: [batchRecord(5)])
    }
    #expect(try ResultStore.read(path: path).records == records, "left as it was")
    #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path) == ["merged.jsonl"])
  }

  @Test func aFailedCreateLeavesNothing() throws {
    let missing = "/nonexistent-\(UUID().uuidString)/merged.jsonl"
    #expect(throws: FileWriteError.self) {
      try ResultStore.create(path: missing, records: [batchRecord(0)])
    }
    #expect(!FileManager.default.fileExists(atPath: missing))
  }
}

// MARK: Merging

/// The records of one shard of a sharded run, as `batch --shard` writes them; `result` gives
/// each instance's verdict.
func shardRecords(
  _ index: Int, of count: Int, plan: BatchPlan, norm: String = "l1",
  result: (BatchInstance) -> BatchOutcome = { $0.delta > 1 ? .counterexample : .robust }
) throws -> [BatchRecord] {
  let shard = try BatchShard(index: index, count: count)
  let spec = BatchShardSpec(shard: shard, plan: plan)
  return plan.instances(in: shard).map { instance in
    var record = batchRecord(instance.example, delta: instance.delta, result(instance), norm: norm)
    record.shard = spec
    return record
  }
}

func mergeInput(_ path: String, _ records: [BatchRecord]) -> MergeInput {
  MergeInput(
    path: path,
    contents: ResultFileContents(records: records, validLength: 0, tornLine: nil))
}

@Suite("Batch: merging shard files")
struct BatchMergeTests {
  static let plan = BatchPlan(examples: Array(0..<20), deltas: [0.5, 1, 2, 5])

  static func shardFiles(count: Int = 4) throws -> [MergeInput] {
    try (1...count).map {
      mergeInput("shard-\($0)-of-\(count).jsonl", try shardRecords($0, of: count, plan: plan))
    }
  }

  @Test func allShardsMergeIntoEveryInstanceOnce() throws {
    let merge = try BatchMerge(inputs: try Self.shardFiles())
    #expect(merge.isComplete)
    #expect(merge.expectedCount == 80 && merge.foundCount == 80 && merge.records.count == 80)
    #expect(Set(merge.records.map(\.key)).count == 80)
    #expect(merge.missing.isEmpty && merge.duplicates.isEmpty && merge.conflicts.isEmpty)
    #expect(merge.unexpected.isEmpty)
    #expect(merge.runs.count == 1 && merge.runs[0].shardCount == 4)
    #expect(merge.records == merge.records.sorted { $0.key < $1.key })
    #expect(merge.report().contains("missing: none"), "\(merge.report())")
  }

  /// The issue's acceptance test: a shard file deliberately left out is reported as missing
  /// instances, named by shard, radius and example.
  @Test(arguments: 1...4)
  func aRemovedShardFileIsReportedAsMissingInstances(_ removed: Int) throws {
    var files = try Self.shardFiles()
    files.remove(at: removed - 1)
    let merge = try BatchMerge(inputs: files)
    #expect(!merge.isComplete)
    let expectedMissing = Self.plan.instances(in: try BatchShard(index: removed, count: 4)).map {
      BatchKey(example: $0.example, norm: "l1", delta: $0.delta, targetChoice: "runner-up")
    }
    #expect(merge.missing == expectedMissing.sorted())
    #expect(merge.missing.count == 20)
    try #require(merge.missingGroups.count == 1)
    let group = merge.missingGroups[0]
    #expect(group.shard == removed && group.files.isEmpty && group.expected == 20)
    let report = merge.report().joined(separator: "\n")
    #expect(report.contains("missing: 20 of 80 instances"), "\(report)")
    #expect(report.contains("shard \(removed)/4 of l1, target runner-up: all 20 of its instances"))
    #expect(report.contains("is its result file missing?"), "\(report)")
    // Example by radius: shard 1/4 holds examples 0, 4, 8, 12, 16 at each radius.
    if removed == 1 {
      #expect(report.contains("delta 0.5: examples 0,4,8,12,16"), "\(report)")
    }
  }

  @Test func aShardCutShortIsReportedWithItsFile() throws {
    var files = try Self.shardFiles()
    files[2].contents.records.removeLast(3)
    let merge = try BatchMerge(inputs: files)
    #expect(merge.missing.count == 3)
    let group = try #require(merge.missingGroups.first)
    #expect(group.shard == 3 && group.files == ["shard-3-of-4.jsonl"])
    #expect(
      merge.report().contains {
        $0.contains("3 of its 20 instances (its records are in shard-3-of-4.jsonl)")
      })
  }

  @Test func everyShardMissingButOne() throws {
    let files = Array(try Self.shardFiles(count: 8).prefix(1))
    let merge = try BatchMerge(inputs: files)
    #expect(merge.missing.count == 70)
    #expect(merge.missingGroups.map(\.shard) == [2, 3, 4, 5, 6, 7, 8])
  }

  @Test func duplicatesWithTheSameVerdictAreKeptOnce() throws {
    var files = try Self.shardFiles()
    let copied = Array(files[0].contents.records.prefix(2))
    files[1].contents.records += copied
    let merge = try BatchMerge(inputs: files)
    #expect(merge.isComplete)
    #expect(merge.records.count == 80)
    #expect(merge.duplicates.map(\.key) == copied.map(\.key).sorted())
    #expect(
      merge.duplicates[0].sources.map(\.path) == ["shard-1-of-4.jsonl", "shard-2-of-4.jsonl"])
    #expect(merge.report().contains { $0.hasPrefix("duplicates: 2 instances") })
  }

  @Test func conflictingVerdictsAreNamedAndLeftOut() throws {
    var files = try Self.shardFiles()
    var contradicting = files[0].contents.records[0]
    contradicting.result = contradicting.result == .robust ? .counterexample : .robust
    files[3].contents.records.append(contradicting)
    let merge = try BatchMerge(inputs: files)
    #expect(!merge.isComplete)
    #expect(merge.missing.isEmpty)
    #expect(merge.conflicts.map(\.key) == [contradicting.key])
    #expect(merge.records.count == 79)
    let line = try #require(merge.report().first { $0.contains(contradicting.key.description) })
    #expect(line.contains("robust in shard-1-of-4.jsonl"), "\(line)")
    #expect(line.contains("counterexample in shard-4-of-4.jsonl"), "\(line)")
  }

  @Test func withinAFileTheLastLineCounts() throws {
    var files = try Self.shardFiles()
    var redone = files[0].contents.records[0]
    redone.result = .unknown
    files[0].contents.records.insert(redone, at: 0)  // an earlier line, superseded
    let merge = try BatchMerge(inputs: files)
    #expect(merge.isComplete && merge.conflicts.isEmpty)
    #expect(merge.repeatedLines.map(\.count) == [1])
  }

  @Test func aTornLineCountsAsMissing() throws {
    var files = try Self.shardFiles()
    let lost = files[1].contents.records.removeLast()
    files[1].contents.tornLine = (21, "it has no newline at its end")
    let merge = try BatchMerge(inputs: files)
    #expect(merge.missing == [lost.key])
    #expect(merge.report().contains { $0.contains("line 21 is torn") })
  }

  @Test func anExplicitInstanceListChecksUnshardedFiles() throws {
    let records = (0..<10).filter { $0 != 4 }.map { batchRecord($0, delta: 1) }
    let input = mergeInput("results.jsonl", records + [batchRecord(50, delta: 1)])
    #expect(throws: BatchMergeError.noInstanceList(["results.jsonl"])) {
      try BatchMerge(inputs: [input])
    }
    let merge = try BatchMerge(
      inputs: [input],
      expecting: .plan(BatchPlan(examples: Array(0..<10), deltas: [1]), variants: []))
    #expect(merge.missing.map(\.example) == [4])
    #expect(merge.unexpected.map(\.example) == [50])
    #expect(merge.records.count == 10, "instances outside the list are kept")
    #expect(merge.report().contains("    delta 1.0: example 4"), "\(merge.report())")
    // A norm the files do not hold: all of it is missing.
    let linf = try BatchMerge(
      inputs: [input],
      expecting: .plan(
        BatchPlan(examples: Array(0..<10), deltas: [1]),
        variants: [(norm: "linf", targetChoice: "runner-up")]))
    #expect(linf.missing.count == 10)
  }

  @Test func theGivenListKnowsTheShardsOfTheSameRun() throws {
    var files = try Self.shardFiles()
    files.remove(at: 1)
    let merge = try BatchMerge(
      inputs: files,
      expecting: .plan(Self.plan, variants: [(norm: "l1", targetChoice: "runner-up")]))
    #expect(merge.missingGroups.map(\.shard) == [2])
  }

  @Test func severalRunsAreAllExpected() throws {
    let linfPlan = BatchPlan(examples: Array(0..<6), deltas: [0.01])
    let linf = try (1...2).map {
      mergeInput("linf-\($0).jsonl", try shardRecords($0, of: 2, plan: linfPlan, norm: "linf"))
    }
    let merge = try BatchMerge(inputs: try Self.shardFiles() + [linf[0]])
    #expect(merge.runs.count == 2)
    #expect(merge.expectedCount == 86)
    #expect(merge.missing.count == 3 && merge.missing.allSatisfy { $0.norm == "linf" })
    #expect(merge.missingGroups.map(\.shard) == [2])
  }

  @Test func filesOfAnotherModelAreRefused() throws {
    var files = try Self.shardFiles()
    files[2].contents.records[0].model = "/elsewhere/other.onnx"
    #expect(throws: BatchMergeError.self) { try BatchMerge(inputs: files) }
    do {
      _ = try BatchMerge(inputs: files)
    } catch {
      #expect("\(error)".contains("shard-3-of-4.jsonl") && "\(error)".contains("other.onnx"))
    }
    // The same file name in another folder (each task's working directory) is the same model.
    files[2].contents.records[0].model = "/elsewhere/m.onnx"
    #expect(try BatchMerge(inputs: files).isComplete)
  }
}
