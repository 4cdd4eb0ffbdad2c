import CZlib
import Foundation
import TestSupport
import Testing

@testable import ReluMIP

// MARK: Example lists and radii

@Suite("Batch: example lists and radius lists")
struct ExampleSelectionTests {
  struct Valid: Sendable, CustomTestStringConvertible {
    var text: String
    var indices: [Int]
    var testDescription: String { "'\(text)'" }
  }

  @Test(arguments: [
    Valid(text: "0..4", indices: [0, 1, 2, 3, 4]),
    Valid(text: "7", indices: [7]),
    Valid(text: "0,5,7", indices: [0, 5, 7]),
    Valid(text: "0..2,9", indices: [0, 1, 2, 9]),
    Valid(text: " 3 , 1..2 ", indices: [3, 1, 2]),
    Valid(text: "5..5", indices: [5]),
    Valid(text: "2,0..3,2", indices: [2, 0, 1, 3]),
  ])
  func validLists(_ valid: Valid) throws {
    #expect(try ExampleSelection(parsing: valid.text) == .indices(valid.indices))
  }

  @Test(arguments: ["all", "ALL", " all "])
  func all(_ text: String) throws {
    let selection = try ExampleSelection(parsing: text)
    #expect(selection == .all)
    #expect(try selection.resolve(count: 3) == [0, 1, 2])
  }

  @Test(arguments: [
    "", " ", "1,,2", ",1", "1,", "-1", "abc", "3..1", "1..", "..5", "1...5", "1.5", "all,1",
    "0..99999999999", "1-5", "١", "+3",
  ])
  func invalidLists(_ text: String) {
    #expect(throws: BatchSpecError.self, "'\(text)'") { try ExampleSelection(parsing: text) }
  }

  @Test func rangesAreInclusiveAndChecked() throws {
    let selection = try ExampleSelection(parsing: "0..99")
    #expect(try selection.resolve(count: 100).count == 100)
    #expect(throws: InputFileError.noSuchExample(100, count: 100)) {
      try ExampleSelection(parsing: "98..100").resolve(count: 100)
    }
  }

  @Test func radii() throws {
    #expect(try RadiusList.parse("0.5,1,2,5") == [0.5, 1, 2, 5])
    #expect(try RadiusList.parse("2, 0 ,2") == [2, 0])
    #expect(try RadiusList.parse("1e-3") == [0.001])
    for bad in ["", "1,,2", "-1", "nan", "inf", "a", "1,", "0.5;1"] {
      #expect(throws: BatchSpecError.self, "'\(bad)'") { try RadiusList.parse(bad) }
    }
  }
}

// MARK: The result store

/// A record with the fields a test cares about.
func batchRecord(
  _ example: Int, delta: Double = 1, _ result: BatchOutcome = .robust, time: Double? = 1,
  norm: String = "l1", target: String = "runner-up"
) -> BatchRecord {
  var record = BatchRecord(
    key: BatchKey(example: example, norm: norm, delta: delta, targetChoice: target),
    result: result, model: "m.onnx", images: "x.npy")
  record.timeS = time
  record.label = 3
  if result == .counterexample {
    record.counterexample = [0, 0.25, 1]
    record.predictedLabel = 5
  }
  return record
}

@Suite("Batch: the JSON Lines result store")
struct ResultStoreTests {
  let directory: URL

  init() throws { directory = try TemporaryFiles.makeDirectory("relumip-batch") }

  func path(_ name: String = "results.jsonl") -> String {
    directory.appendingPathComponent(name).path
  }

  func text(_ path: String) throws -> String { try String(contentsOfFile: path, encoding: .utf8) }

  @Test func appendWritesOneCompleteLinePerRecord() throws {
    let file = path()
    let records = [batchRecord(0), batchRecord(1, .counterexample), batchRecord(2, .error)]
    do {
      let store = try ResultStore(path: file, resume: false)
      for record in records { try store.append(record) }
      store.close()
    }
    let content = try text(file)
    #expect(content.hasSuffix("\n"))
    let lines = content.split(separator: "\n", omittingEmptySubsequences: false)
    #expect(lines.count == 4 && lines.last == "")
    let read = try ResultStore.read(path: file)
    #expect(read.records == records)
    #expect(read.tornLine == nil)
    #expect(read.validLength == content.utf8.count)
  }

  @Test func refusesToOverwriteWithoutResume() throws {
    let file = path()
    try "x\n".write(toFile: file, atomically: true, encoding: .utf8)
    #expect(throws: ResultStoreError.exists(file)) { try ResultStore(path: file, resume: false) }
    #expect(try text(file) == "x\n")
    // An empty file is fine.
    let empty = path("empty.jsonl")
    _ = FileManager.default.createFile(atPath: empty, contents: Data())
    _ = try ResultStore(path: empty, resume: false)
  }

  @Test func resumeReadsWhatIsRecordedAndAppendsAfterIt() throws {
    let file = path()
    do {
      let store = try ResultStore(path: file, resume: false)
      try store.append(batchRecord(0))
      try store.append(batchRecord(1))
    }
    let resumed = try ResultStore(path: file, resume: true)
    #expect(Set(resumed.existing.records.map(\.key)) == [batchRecord(0).key, batchRecord(1).key])
    #expect(resumed.existing.tornLine == nil)
    try resumed.append(batchRecord(2))
    resumed.close()
    #expect(try ResultStore.read(path: file).records.map(\.example) == [0, 1, 2])
  }

  struct Torn: Sendable, CustomTestStringConvertible {
    var name: String
    var tail: String
    var testDescription: String { name }
  }

  @Test(arguments: [
    Torn(name: "no newline", tail: #"{"example":2,"delta":1,"norm":"l1","res"#),
    Torn(name: "invalid JSON with a newline", tail: "{\"example\":2,\"de\u{0}\u{0}\n"),
    Torn(name: "valid JSON, not a record", tail: "{\"example\":2}\n"),
    Torn(name: "a complete record without its newline", tail: "COMPLETE"),
  ])
  func tornLastLineIsCutOffAndRedone(_ torn: Torn) throws {
    let file = path()
    do {
      let store = try ResultStore(path: file, resume: false)
      try store.append(batchRecord(0))
      try store.append(batchRecord(1))
    }
    let good = try Data(contentsOf: URL(fileURLWithPath: file))
    var tail = Data(torn.tail.utf8)
    if torn.tail == "COMPLETE" { tail = try batchRecord(2).jsonLine() }
    let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: file))
    try handle.seekToEnd()
    try handle.write(contentsOf: tail)
    try handle.close()

    let read = try ResultStore.read(path: file)
    #expect(read.tornLine?.number == 3)
    #expect(read.records.count == 2)
    #expect(read.validLength == good.count)

    let store = try ResultStore(path: file, resume: true)
    #expect(store.existing.tornLine?.number == 3)
    #expect(try Data(contentsOf: URL(fileURLWithPath: file)) == good, "the torn line was cut off")
    // The instance of the torn line is not recorded, so a resumed run redoes it.
    #expect(!store.existing.records.contains { $0.example == 2 })
    try store.append(batchRecord(2))
    store.close()
    let after = try ResultStore.read(path: file)
    #expect(after.tornLine == nil)
    #expect(after.records.map(\.example) == [0, 1, 2])
  }

  @Test func invalidLineBeforeTheLastIsAnError() throws {
    let file = path()
    let first = String(decoding: try batchRecord(0).jsonLine(), as: UTF8.self)
    let third = String(decoding: try batchRecord(2).jsonLine(), as: UTF8.self)
    try "\(first)\nnot json\n\(third)\n".write(toFile: file, atomically: true, encoding: .utf8)
    #expect(throws: ResultStoreError.self) { try ResultStore.read(path: file) }
    do {
      _ = try ResultStore.read(path: file)
    } catch let error as ResultStoreError {
      guard case .malformedLine(_, let line, _) = error else {
        Issue.record("unexpected \(error)")
        return
      }
      #expect(line == 2)
    }
    #expect(throws: ResultStoreError.self) { try ResultStore(path: file, resume: true) }
  }

  @Test func duplicatesKeepTheLastLine() throws {
    let file = path()
    do {
      let store = try ResultStore(path: file, resume: false)
      try store.append(batchRecord(0, .unknown))
      try store.append(batchRecord(1))
      try store.append(batchRecord(0, .counterexample))
      try store.append(batchRecord(0, delta: 2, .robust))
    }
    let read = try ResultStore.read(path: file)
    #expect(read.records.count == 4)
    #expect(read.duplicateCount == 1)
    let latest = read.latest
    #expect(latest.count == 3)
    #expect(latest.first { $0.key == batchRecord(0).key }?.result == .counterexample)
    #expect(BatchSummary(contents: read).duplicates == 1)
  }

  @Test func blankLinesAreSkipped() throws {
    let file = path()
    let line = String(decoding: try batchRecord(0).jsonLine(), as: UTF8.self)
    try "\n\(line)\n\n".write(toFile: file, atomically: true, encoding: .utf8)
    let read = try ResultStore.read(path: file)
    #expect(read.records.count == 1 && read.tornLine == nil)
  }

  @Test func aSecondWriterIsRefused() throws {
    let file = path()
    let store = try ResultStore(path: file, resume: false)
    try store.append(batchRecord(0))
    #expect(throws: ResultStoreError.locked(file)) { try ResultStore(path: file, resume: true) }
    store.close()
    _ = try ResultStore(path: file, resume: true)
  }

  @Test func concurrentAppendsNeverInterleave() throws {
    let file = path()
    let store = try ResultStore(path: file, resume: false)
    let group = DispatchGroup()
    for thread in 0..<4 {
      group.enter()
      Thread {
        defer { group.leave() }
        for index in 0..<25 {
          var record = batchRecord(thread * 100 + index, .counterexample)
          record.counterexample = Array(repeating: Double(index) / 7, count: 784)
          try? store.append(record)
        }
      }.start()
    }
    group.wait()
    store.close()
    let read = try ResultStore.read(path: file)
    #expect(read.tornLine == nil)
    #expect(read.records.count == 100)
    #expect(Set(read.records.map(\.example)).count == 100)
  }

  @Test func recordRoundTripKeepsEveryField() throws {
    var record = batchRecord(4, delta: 0.5, .counterexample, norm: "linf", target: "all")
    record.trueLabel = 3
    record.target = 5
    record.targetsSearched = [5, 1]
    record.objective = 0.125
    record.bound = nil
    record.distance = 0.5
    record.counterexampleOutputs = [1, 2]
    record.nodes = 12
    record.binaries = 40
    record.settledBy = "branch-and-cut"
    record.layers = [
      LayerStatistics(
        name: "dense 1 + relu", outputSize: 50, variables: 60, constraints: 70, binaries: 8,
        stableActive: 20, stableInactive: 22, unstable: 8)
    ]
    record.reason = "a \"quoted\" note"
    record.clip = "0,1"
    record.boundMethod = "lp"
    record.timeLimitS = 30
    record.image = "pics/example-4.png"
    let line = try record.jsonLine()
    #expect(!line.contains(0x0A), "one line")
    let decoded = try JSONDecoder().decode(BatchRecord.self, from: line)
    #expect(decoded == record)
    #expect(try decoded.jsonLine() == line, "encoding is deterministic")
  }
}

// MARK: Summary

@Suite("Batch: summary arithmetic")
struct BatchSummaryTests {
  /// Radius 1: robust ×3, counterexample ×2, unknown, error, misclassified ×2 (10 instances);
  /// radius 2: counterexample, robust. One duplicate line (example 9 first unknown, then robust).
  static let jsonl = """
    {"example":0,"norm":"l1","delta":1,"target_choice":"runner-up","result":"robust","time_s":1}
    {"example":1,"norm":"l1","delta":1,"target_choice":"runner-up","result":"robust","time_s":4}
    {"example":2,"norm":"l1","delta":1,"target_choice":"runner-up","result":"counterexample","time_s":2}
    {"example":3,"norm":"l1","delta":1,"target_choice":"runner-up","result":"counterexample","time_s":0.5}
    {"example":4,"norm":"l1","delta":1,"target_choice":"runner-up","result":"unknown","time_s":10}
    {"example":5,"norm":"l1","delta":1,"target_choice":"runner-up","result":"error","time_s":0.1,"reason":"x"}
    {"example":6,"norm":"l1","delta":1,"target_choice":"runner-up","result":"misclassified"}
    {"example":7,"norm":"l1","delta":1,"target_choice":"runner-up","result":"misclassified"}
    {"example":9,"norm":"l1","delta":1,"target_choice":"runner-up","result":"unknown","time_s":99}
    {"example":8,"norm":"l1","delta":1,"target_choice":"runner-up","result":"robust","time_s":3}
    {"example":9,"norm":"l1","delta":1,"target_choice":"runner-up","result":"counterexample","time_s":5}
    {"example":0,"norm":"l1","delta":2,"target_choice":"runner-up","result":"counterexample","time_s":0.25}
    {"example":1,"norm":"l1","delta":2,"target_choice":"runner-up","result":"robust","time_s":0.75}

    """

  @Test func countsAccuraciesAndTimes() throws {
    let contents = try ResultStore.parse(Data(Self.jsonl.utf8), path: "hand-made")
    #expect(contents.tornLine == nil)
    let summary = BatchSummary(contents: contents)
    #expect(summary.duplicates == 1)
    try #require(summary.rows.count == 2)
    let one = summary.rows[0]
    #expect(one.delta == 1)
    #expect(one.instances == 10)
    #expect(
      [one.robust, one.counterexample, one.unknown, one.error, one.misclassified] == [
        3, 3, 1, 1, 2,
      ] as [Int])
    #expect(one.robustShare == 0.3)
    // Robust against the runner-up only: not verified robust accuracy.
    #expect(one.verifiedRobustAccuracy == nil)
    #expect(abs(one.robustAccuracyUpperBound - 0.5) < 1e-15)  // 1 − (3 + 2)/10
    // Verified instances: times 1, 4, 2, 0.5, 10, 3, 5 (the error and misclassified have none
    // counted; the duplicate's first time, 99, is superseded).
    #expect(one.times == [0.5, 1, 2, 3, 4, 5, 10])
    #expect(one.medianTime == 3)
    #expect(one.p90Time == 10)  // ⌈0.9 · 7⌉ = 7th smallest
    #expect(one.maxTime == 10)
    let two = summary.rows[1]
    #expect(two.instances == 2 && two.robust == 1 && two.counterexample == 1)
    #expect(two.robustShare == 0.5 && two.robustAccuracyUpperBound == 0.5)
    #expect(two.medianTime == 0.5)
  }

  @Test func csv() throws {
    let summary = BatchSummary(
      contents: try ResultStore.parse(Data(Self.jsonl.utf8), path: "hand-made"))
    let lines = summary.csv().split(separator: "\n").map(String.init)
    #expect(lines.count == 3)
    #expect(lines[0] == BatchSummary.columns.joined(separator: ","))
    #expect(lines[1] == "l1,runner-up,1.0,10,3,3,1,1,2,0.3,,0.5,3.0,10.0,10.0")
    #expect(lines[2] == "l1,runner-up,2.0,2,1,1,0,0,0,0.5,,0.5,0.5,0.75,0.75")
    // With target all the robust share is the verified robust accuracy.
    let all = BatchSummary(
      contents: try ResultStore.parse(
        Data(Self.jsonl.replacingOccurrences(of: "runner-up", with: "all").utf8),
        path: "hand-made"))
    #expect(all.rows[0].verifiedRobustAccuracy == 0.3)
    #expect(
      all.csv().split(separator: "\n")[1] == "l1,all,1.0,10,3,3,1,1,2,0.3,0.3,0.5,3.0,10.0,10.0")
  }

  @Test func percentiles() {
    #expect(BatchSummary.median([]) == nil)
    #expect(BatchSummary.median([2]) == 2)
    #expect(BatchSummary.median([1, 2, 3, 10]) == 2.5)
    #expect(BatchSummary.percentile([], 0.9) == nil)
    let tens = (1...10).map(Double.init)
    #expect(BatchSummary.percentile(tens, 0.9) == 9)
    #expect(BatchSummary.percentile((1...11).map(Double.init), 0.9) == 10)
    #expect(BatchSummary.percentile([7], 0.9) == 7)
  }

  @Test func progressLine() {
    var progress = BatchProgress(total: 4)
    #expect(progress.line(elapsed: 0) == "0/4 done · robust 0, counterexample 0")
    progress.add(.robust)
    progress.add(.error)
    #expect(
      progress.line(elapsed: 1)
        == "2/4 done · robust 1, counterexample 0, error 1 · 2.0/s · 1s left")
    #expect(BatchProgress.duration(125) == "2m 05s")
    #expect(BatchProgress.duration(3720) == "1h 02m")
  }
}

// MARK: PNG

/// PNG chunks read back independently of the writer: CRC by the bitwise definition, IDAT
/// inflated by zlib's `uncompress`.
enum PNGReader {
  struct Chunk {
    var type: String
    var data: [UInt8]
    var storedCRC: UInt32
  }

  static func bitwiseCRC32(_ bytes: [UInt8]) -> UInt32 {
    var crc: UInt32 = 0xFFFF_FFFF
    for byte in bytes {
      crc ^= UInt32(byte)
      for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
    }
    return ~crc
  }

  static func bigEndian(_ bytes: ArraySlice<UInt8>) -> UInt32 {
    bytes.reduce(0) { $0 << 8 | UInt32($1) }
  }

  static func chunks(_ file: [UInt8]) throws -> [Chunk] {
    try #require(Array(file.prefix(8)) == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
    var chunks: [Chunk] = []
    var offset = 8
    while offset < file.count {
      try #require(offset + 12 <= file.count, "truncated chunk")
      let length = Int(bigEndian(file[offset..<(offset + 4)]))
      try #require(offset + 12 + length <= file.count, "chunk runs past the end")
      let type = String(decoding: file[(offset + 4)..<(offset + 8)], as: UTF8.self)
      let data = Array(file[(offset + 8)..<(offset + 8 + length)])
      let crc = bigEndian(file[(offset + 8 + length)..<(offset + 12 + length)])
      chunks.append(Chunk(type: type, data: data, storedCRC: crc))
      offset += 12 + length
    }
    return chunks
  }

  static func inflate(_ data: [UInt8], expected: Int) throws -> [UInt8] {
    var output = [UInt8](repeating: 0, count: expected + 16)
    var length = uLongf(output.count)
    let status = output.withUnsafeMutableBufferPointer { target in
      data.withUnsafeBufferPointer { source in
        uncompress(target.baseAddress, &length, source.baseAddress, uLong(source.count))
      }
    }
    try #require(status == Z_OK, "zlib status \(status)")
    return Array(output.prefix(Int(length)))
  }
}

@Suite("PNG writer")
struct PNGWriterTests {
  @Test(arguments: [PNGImage.ColorType.grayscale, .rgb])
  func roundTrip(_ colorType: PNGImage.ColorType) throws {
    let (width, height) = (7, 5)
    var generator = SplitMix64(seed: 42)
    let pixels = (0..<(width * height * colorType.channels)).map { _ in
      UInt8(truncatingIfNeeded: generator.next())
    }
    let image = PNGImage(width: width, height: height, colorType: colorType, pixels: pixels)
    let file = [UInt8](try image.encoded())
    let chunks = try PNGReader.chunks(file)
    #expect(chunks.map(\.type) == ["IHDR", "IDAT", "IEND"])
    for chunk in chunks {
      #expect(
        chunk.storedCRC == PNGReader.bitwiseCRC32(Array(chunk.type.utf8) + chunk.data),
        "CRC of \(chunk.type)")
    }
    let header = chunks[0].data
    #expect(header.count == 13)
    #expect(PNGReader.bigEndian(header[0..<4]) == UInt32(width))
    #expect(PNGReader.bigEndian(header[4..<8]) == UInt32(height))
    #expect(Array(header[8...]) == [8, colorType.rawValue, 0, 0, 0])
    #expect(chunks[2].data.isEmpty)

    let rowLength = width * colorType.channels
    let raw = try PNGReader.inflate(chunks[1].data, expected: height * (rowLength + 1))
    try #require(raw.count == height * (rowLength + 1))
    var decoded: [UInt8] = []
    for row in 0..<height {
      let start = row * (rowLength + 1)
      #expect(raw[start] == 0, "filter type of row \(row)")
      decoded += raw[(start + 1)..<(start + 1 + rowLength)]
    }
    #expect(decoded == pixels)
  }

  @Test func crcMatchesTheKnownValue() {
    // The CRC-32 check value of "123456789".
    #expect(Zlib.crc32(Array("123456789".utf8)) == 0xCBF4_3926)
    #expect(PNGReader.bitwiseCRC32(Array("123456789".utf8)) == 0xCBF4_3926)
  }

  @Test func counterexamplePictureLayout() {
    // A 2×3 image: the counterexample raises pixel 0 and lowers pixel 5.
    let original: [Double] = [0, 0.5, 1, 0.25, 0.75, 1]
    var counterexample = original
    counterexample[0] = 0.4
    counterexample[5] = 0.8
    let scale = 2
    let image = CounterexamplePicture.make(
      original: original, counterexample: counterexample, height: 2, width: 3, scale: scale)
    let gap = 2 * scale
    #expect(image.width == 3 * 3 * scale + 4 * gap)
    #expect(image.height == 2 * scale + 2 * gap)
    #expect(image.colorType == .rgb)
    #expect(image[0, 0] == CounterexamplePicture.background)
    func pixel(panel: Int, row: Int, column: Int, dx: Int = 0, dy: Int = 0) -> [UInt8] {
      image[gap + panel * (3 * scale + gap) + column * scale + dx, gap + row * scale + dy]
    }
    #expect(pixel(panel: 0, row: 0, column: 0) == [0, 0, 0])
    #expect(pixel(panel: 0, row: 0, column: 2, dx: 1, dy: 1) == [255, 255, 255])
    #expect(pixel(panel: 0, row: 0, column: 1) == [128, 128, 128])
    #expect(pixel(panel: 1, row: 0, column: 0) == [102, 102, 102])
    // The largest change (+0.4) is full red, −0.2 half blue, no change white.
    #expect(pixel(panel: 2, row: 0, column: 0) == [255, 0, 0])
    #expect(pixel(panel: 2, row: 1, column: 2) == [128, 128, 255])
    #expect(pixel(panel: 2, row: 0, column: 1) == [255, 255, 255])
  }

  @Test func writesAtomically() throws {
    let directory = try TemporaryFiles.makeDirectory("relumip-png")
    defer { try? FileManager.default.removeItem(at: directory) }
    let path = directory.appendingPathComponent("picture.png").path
    let image = PNGImage(width: 2, height: 2, colorType: .grayscale, pixels: [0, 64, 128, 255])
    try image.write(to: path)
    try image.write(to: path)  // over an existing file
    #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path) == ["picture.png"])
    #expect(FileManager.default.contents(atPath: path) == (try image.encoded()))
    let missing = directory.appendingPathComponent("no/such/folder/picture.png").path
    #expect(throws: FileWriteError.self) { try image.write(to: missing) }
    #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path) == ["picture.png"])
  }
}
