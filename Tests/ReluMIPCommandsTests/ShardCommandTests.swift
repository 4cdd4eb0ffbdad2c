import ArgumentParser
import Foundation
import TestSupport
import Testing

@testable import ReluMIP
@testable import ReluMIPCommands

@Suite("batch --shard and merge: options (in process)")
struct ShardOptionTests {
  static let base = BatchOptionTests.base() + ["--examples", "0..9", "--delta", "1"]

  @Test(arguments: ["0/4", "5/4", "1/0", "4", "a/b", "-1/4", "1/4/2", "", "2/2/"])
  func badShardIsAUsageError(_ value: String) {
    let (code, message) = batchExitCode(Self.base + ["--shard", value])
    #expect(code == VerificationExitCode.usage, "'\(value)': exit \(code), \(message)")
    #expect(message.contains("--shard"), "\(message)")
  }

  @Test func theMessageSaysWhatKAndNMayBe() {
    let (_, message) = batchExitCode(Self.base + ["--shard", "5/4"])
    #expect(message.contains("counts from 1 to N"), "\(message)")
  }

  @Test func parsesAShard() throws {
    let command = try #require(
      try ReluMIPCommand.parseAsRoot(Self.base + ["--shard", "3/8", "--resume"]) as? BatchCommand)
    #expect(command.shard == (try BatchShard(index: 3, count: 8)))
    #expect(command.resume)
    #expect(BatchCommand.helpMessage().contains("--shard <K/N>"))
  }

  @Test func resumingAShardFileNeedsTheSameShard() throws {
    let directory = try TemporaryFiles.makeDirectory("relumip-shard-cmd")
    defer { try? FileManager.default.removeItem(at: directory) }
    let out = directory.appendingPathComponent("shard-1-of-2.jsonl").path
    let plan = BatchPlan(examples: [0, 1, 2, 3], deltas: [1])
    let store = try ResultStore(path: out, resume: false)
    var record = BatchRecord(
      key: BatchKey(example: 0, norm: "l1", delta: 1, targetChoice: "all"),
      result: .robust, model: BatchFixtures.model, images: BatchFixtures.images)
    record.clip = "0.0,1.0"
    record.boundMethod = VerificationOptions().boundMethod.rawValue
    record.shard = BatchShardSpec(shard: try BatchShard(index: 1, count: 2), plan: plan)
    try store.append(record)
    store.close()
    let common = [
      "batch", BatchFixtures.model, "--images", BatchFixtures.images, "--norm", "l1", "--out", out,
      "--resume", "--quiet",
    ]
    for wrong in [
      ["--examples", "0..3", "--delta", "1", "--shard", "2/2"],
      ["--examples", "0..3", "--delta", "1,2", "--shard", "1/2"],
      ["--examples", "0..4", "--delta", "1", "--shard", "1/2"],
      ["--examples", "0..3", "--delta", "1", "--shard", "1/2", "--target", "runner-up"],
      ["--examples", "0..3", "--delta", "1"],
    ] {
      let (code, message) = batchExitCode(common + wrong)
      #expect(code == VerificationExitCode.usage, "\(wrong): exit \(code), \(message)")
      #expect(message.contains("shard 1/2"), "\(wrong): \(message)")
    }
    #expect(try ResultStore.read(path: out).records == [record], "the file is left alone")
  }

  @Test(arguments: [
    ["merge"],
    ["merge", "OUT"],
    ["merge", "OUT", "a.jsonl", "--examples", "0..9"],
    ["merge", "OUT", "a.jsonl", "--delta", "1"],
    ["merge", "OUT", "a.jsonl", "--examples", "all", "--delta", "1"],
    ["merge", "OUT", "a.jsonl", "--norm", "l1"],
    ["merge", "OUT", "a.jsonl", "--examples", "0..9", "--delta", "1", "--target", "all"],
    ["merge", "OUT", "a.jsonl", "--examples", "0..9", "--delta", "-1"],
    ["merge", "OUT", "a.jsonl", "./a.jsonl"],
  ])
  func mergeUsageErrors(_ arguments: [String]) throws {
    let directory = try TemporaryFiles.makeDirectory("relumip-merge-cmd")
    defer { try? FileManager.default.removeItem(at: directory) }
    let (code, message) = batchExitCode(
      arguments.map {
        $0 == "OUT" || $0.hasSuffix(".jsonl") ? directory.appendingPathComponent($0).path : $0
      })
    #expect(code == VerificationExitCode.usage, "\(arguments): exit \(code), \(message)")
    #expect(!message.isEmpty)
  }
}

@Suite("merge: shard files in, one file out (in process)")
struct MergeCommandTests {
  let directory: URL
  init() throws { directory = try TemporaryFiles.makeDirectory("relumip-merge-cmd") }

  func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

  /// Four shard files of 10 examples at 2 radii, as `batch --shard k/4` writes them.
  func writeShards() throws -> [String] {
    let plan = BatchPlan(examples: Array(0..<10), deltas: [1, 2])
    return try (1...4).map { index in
      let file = path("shard-\(index)-of-4.jsonl")
      let store = try ResultStore(path: file, resume: false)
      let shard = try BatchShard(index: index, count: 4)
      for instance in plan.instances(in: shard) {
        var record = BatchRecord(
          key: BatchKey(
            example: instance.example, norm: "linf", delta: instance.delta,
            targetChoice: "all"),
          result: instance.delta > 1 ? .counterexample : .robust, model: "m.onnx",
          images: "x.npy")
        record.shard = BatchShardSpec(shard: shard, plan: plan)
        try store.append(record)
      }
      store.close()
      return file
    }
  }

  @Test func mergesCompleteShards() throws {
    defer { try? FileManager.default.removeItem(at: directory) }
    let shards = try writeShards()
    let out = path("merged.jsonl")
    let (code, message) = batchExitCode(["merge", out] + shards)
    #expect(code == 0, "\(message)")
    let merged = try ResultStore.read(path: out)
    #expect(merged.records.count == 20 && merged.duplicateCount == 0)
    // Never overwritten.
    let again = batchExitCode(["merge", out] + shards)
    #expect(again.code == VerificationExitCode.usage)
    #expect(again.message.contains("exists"), "\(again.message)")
    #expect(try ResultStore.read(path: out).records == merged.records)
    // summarize reads the merged file.
    #expect(batchExitCode(["summarize", out]).code == 0)
  }

  @Test func aRemovedShardFileFailsTheMergeAndWritesNothing() throws {
    defer { try? FileManager.default.removeItem(at: directory) }
    var shards = try writeShards()
    try FileManager.default.removeItem(atPath: shards.remove(at: 2))
    let out = path("merged.jsonl")
    let (code, message) = batchExitCode(["merge", out] + shards)
    #expect(code == VerificationExitCode.error)
    #expect(message.contains("5 of 20 instances missing"), "\(message)")
    #expect(message.contains("not written"), "\(message)")
    #expect(!FileManager.default.fileExists(atPath: out))
    #expect(
      try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted() == [
        "shard-1-of-4.jsonl", "shard-2-of-4.jsonl", "shard-4-of-4.jsonl",
      ], "no temporary file left")

    let partial = batchExitCode(["merge", out, "--partial"] + shards)
    #expect(partial.code == VerificationExitCode.error, "still a failure")
    #expect(try ResultStore.read(path: out).records.count == 15)
  }

  @Test func aMissingInputFileIsNamed() throws {
    defer { try? FileManager.default.removeItem(at: directory) }
    let shards = try writeShards()
    let absent = path("shard-9-of-4.jsonl")
    let (code, message) = batchExitCode(["merge", path("merged.jsonl")] + shards + [absent])
    #expect(code == VerificationExitCode.error)
    #expect(message.contains(absent), "\(message)")
  }
}

@Suite("batch --shard end to end: shards merge to the unsharded run (in process)")
struct ShardEndToEndTests {
  @Test func threeShardsMergeToTheSameVerdicts() throws {
    let directory = try TemporaryFiles.makeDirectory("relumip-shard-e2e")
    defer { try? FileManager.default.removeItem(at: directory) }
    func path(_ name: String) -> String { directory.appendingPathComponent(name).path }
    let arguments = BatchEndToEndTests.arguments + ["--quiet", "--jobs", "1"]

    let whole = batchExitCode(arguments + ["--out", path("whole.jsonl")])
    try #require(whole.code == 0, "\(whole.message)")
    var shards: [String] = []
    for index in 1...3 {
      let file = path("shard-\(index)-of-3.jsonl")
      let run = batchExitCode(arguments + ["--out", file, "--shard", "\(index)/3"])
      #expect(run.code == 0, "\(run.message)")
      let records = try ResultStore.read(path: file).records
      #expect([2, 3].contains(records.count), "shard \(index): \(records.count) instances")
      #expect(records.allSatisfy { $0.shard?.index == index && $0.shard?.count == 3 })
      shards.append(file)
    }
    // Resuming a finished shard does nothing.
    let again = batchExitCode(arguments + ["--out", shards[0], "--shard", "1/3", "--resume"])
    #expect(again.code == 0, "\(again.message)")

    let merged = path("merged.jsonl")
    let merge = batchExitCode(["merge", merged] + shards)
    #expect(merge.code == 0, "\(merge.message)")
    func verdicts(_ file: String) throws -> [BatchKey: BatchOutcome] {
      let contents = try ResultStore.read(path: file)
      #expect(contents.duplicateCount == 0)
      return Dictionary(uniqueKeysWithValues: contents.records.map { ($0.key, $0.result) })
    }
    let expected = try verdicts(path("whole.jsonl"))
    #expect(expected.count == BatchEndToEndTests.instanceCount)
    #expect(try verdicts(merged) == expected)
  }
}
