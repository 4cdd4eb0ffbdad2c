import Foundation
import TestSupport
import Testing

@testable import ReluMIP

/// A temporary folder for one test, removed at the end.
final class Scratch {
  let url: URL

  init() throws {
    url = try TemporaryFiles.makeDirectory("relumip-readers")
  }

  deinit {
    try? FileManager.default.removeItem(at: url)
  }

  func write(_ data: Data, _ name: String) throws -> String {
    let file = url.appendingPathComponent(name)
    try data.write(to: file)
    return file.path
  }

  func write(_ text: String, _ name: String) throws -> String {
    try write(Data(text.utf8), name)
  }

  /// Gzips `data` with the system's gzip into `name`.
  func gzip(_ data: Data, _ name: String) throws -> String {
    let plain = try write(data, name + ".plain")
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/gzip")
    process.arguments = ["-c", "-n", plain]
    let pipe = Pipe()
    process.standardOutput = pipe
    try process.run()
    let compressed = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    try #require(process.terminationStatus == 0, "gzip failed")
    return try write(compressed, name)
  }
}

/// Checks that `body` throws an `InputFileError` whose description contains every word.
func expectInputError(
  _ words: [String], sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> Void
) {
  do {
    try body()
    Issue.record("expected an InputFileError containing \(words)", sourceLocation: sourceLocation)
  } catch let error as InputFileError {
    for word in words {
      #expect(
        error.description.contains(word), "'\(error)' lacks '\(word)'",
        sourceLocation: sourceLocation)
    }
  } catch {
    Issue.record("expected an InputFileError, got \(error)", sourceLocation: sourceLocation)
  }
}

@Suite("Example readers: .npy")
struct NPYReaderTests {
  @Test func float64Matrix() throws {
    let scratch = try Scratch()
    let values = (0..<12).map { Double($0) * 0.25 - 1 }
    let path = try scratch.write(NPYWriter.float64(values, shape: [3, 4]), "a.npy")
    let set = try ExampleReader.read(path: path)
    #expect(set.shape == [4])
    #expect(set.count == 3)
    #expect(set.values == values)
    #expect(try set.example(1) == Array(values[4..<8]))
  }

  @Test func float32Values() throws {
    let scratch = try Scratch()
    let values: [Float] = [0.1, -2.5, 3.25, 1e-3, 0, 1]
    let path = try scratch.write(NPYWriter.float32(values, shape: [2, 3]), "f.npy")
    let set = try ExampleReader.read(path: path)
    #expect(set.shape == [3])
    #expect(set.values == values.map(Double.init))
  }

  @Test func uint8ImagesAreScaled() throws {
    let scratch = try Scratch()
    let bytes: [UInt8] = [0, 51, 255, 128, 1, 254, 7, 0]
    let path = try scratch.write(NPYWriter.uint8(bytes, shape: [2, 2, 2]), "u8.npy")
    let set = try ExampleReader.read(path: path)
    #expect(set.shape == [2, 2])
    #expect(set.count == 2)
    #expect(set.values == bytes.map { Double($0) / 255 })
    #expect(set.values.allSatisfy { $0 >= 0 && $0 <= 1 })
  }

  @Test func int64Labels() throws {
    let scratch = try Scratch()
    let labels: [Int64] = [7, 2, 1, 0, 4, 9, -1]
    let path = try scratch.write(NPYWriter.int64(labels, shape: [labels.count]), "labels.npy")
    let set = try ExampleReader.read(path: path)
    #expect(set.values == labels.map(Double.init))
    #expect(try set.labels() == labels.map(Int.init))
  }

  @Test func headerVersions() throws {
    let scratch = try Scratch()
    let payload = [1.5, -2.0].flatMap { NPYWriter.littleEndian($0.bitPattern) }
    // Version 1.0 with NumPy's old 16-byte alignment, and version 2.0 with a 4-byte length.
    for (version, alignment) in [(UInt8(1), 16), (1, 64), (2, 64), (3, 64)] {
      let data = NPYWriter.file(
        descriptor: "<f8", shape: [1, 2], payload: payload, version: version, padTo: alignment)
      let path = try scratch.write(data, "v\(version)-\(alignment).npy")
      let set = try ExampleReader.read(path: path)
      #expect(set.values == [1.5, -2], "version \(version)")
      #expect(set.shape == [2])
    }
  }

  @Test func otherIntegerTypes() throws {
    let scratch = try Scratch()
    let int8 = NPYWriter.file(descriptor: "|i1", shape: [3], payload: [0xFF, 0x7F, 0x80])
    #expect(try ExampleReader.read(path: scratch.write(int8, "i1.npy")).values == [-1, 127, -128])
    let int32 = NPYWriter.file(
      descriptor: "<i4", shape: [2], payload: [0xFE, 0xFF, 0xFF, 0xFF, 0x10, 0x00, 0x00, 0x00])
    #expect(try ExampleReader.read(path: scratch.write(int32, "i4.npy")).values == [-2, 16])
  }

  @Test func truncatedPayloadIsAnError() throws {
    let scratch = try Scratch()
    let full = NPYWriter.float64((0..<20).map(Double.init), shape: [4, 5])
    for cut in [1, 8, 9, 100] {
      let path = try scratch.write(full.prefix(full.count - cut), "cut\(cut).npy")
      expectInputError(["malformed", "cut\(cut).npy"]) { _ = try ExampleReader.read(path: path) }
    }
  }

  @Test func truncatedHeaderIsAnError() throws {
    let scratch = try Scratch()
    let full = NPYWriter.float64([1, 2], shape: [2])
    for keep in [6, 9, 11, 40] {
      let path = try scratch.write(full.prefix(keep), "head\(keep).npy")
      expectInputError(["head\(keep).npy"]) { _ = try ExampleReader.read(path: path) }
    }
  }

  @Test func hugeShapeIsRefusedBeforeAllocating() throws {
    let scratch = try Scratch()
    // 10¹¹ × 784 doubles would be ~600 TB; the overflowing shape would wrap around.
    let huge = NPYWriter.file(
      descriptor: "<f8", shape: [100_000_000_000, 784], payload: Array(repeating: 0, count: 64))
    expectInputError(["shorter"]) {
      _ = try ExampleReader.read(path: scratch.write(huge, "huge.npy"))
    }
    let overflow = NPYWriter.file(
      descriptor: "<f8", shape: [1 << 40, 1 << 40, 1 << 40], payload: Array(repeating: 0, count: 8))
    expectInputError(["malformed"]) {
      _ = try ExampleReader.read(path: scratch.write(overflow, "overflow.npy"))
    }
  }

  @Test func unsupportedLayouts() throws {
    let scratch = try Scratch()
    let fortran = NPYWriter.file(
      descriptor: "<f8", shape: [1, 1], payload: NPYWriter.littleEndian(1.0.bitPattern),
      fortranOrder: true)
    expectInputError(["Fortran"]) {
      _ = try ExampleReader.read(path: scratch.write(fortran, "fortran.npy"))
    }
    let bigEndian = NPYWriter.file(
      descriptor: ">f8", shape: [1], payload: NPYWriter.littleEndian(1.0.bitPattern))
    expectInputError(["dtype", ">f8"]) {
      _ = try ExampleReader.read(path: scratch.write(bigEndian, "big.npy"))
    }
    let complex = NPYWriter.file(
      descriptor: "<c16", shape: [1], payload: Array(repeating: 0, count: 16))
    expectInputError(["unsupported"]) {
      _ = try ExampleReader.read(path: scratch.write(complex, "complex.npy"))
    }
  }

  @Test func negativeShapeEntryIsMalformed() throws {
    let scratch = try Scratch()
    let data = NPYWriter.file(descriptor: "<f8", shape: [-1, 2], payload: [])
    expectInputError(["malformed"]) {
      _ = try ExampleReader.read(path: scratch.write(data, "neg.npy"))
    }
  }

  @Test func gzippedNPY() throws {
    let scratch = try Scratch()
    let values = [0.5, 0.25, 0.125]
    let path = try scratch.gzip(NPYWriter.float64(values, shape: [1, 3]), "a.npy.gz")
    #expect(try ExampleReader.read(path: path).values == values)
  }
}

@Suite("Example readers: IDX, CSV and errors")
struct IDXAndCSVReaderTests {
  static let pixels: [UInt8] = [0, 255, 128, 64, 32, 16, 8, 1, 2, 3, 4, 5]

  @Test func idxImagesAreScaled() throws {
    let scratch = try Scratch()
    let path = try scratch.write(
      IDXWriter.uint8(Self.pixels, dimensions: [3, 2, 2]), "images-idx3-ubyte")
    let set = try ExampleReader.read(path: path)
    #expect(set.shape == [2, 2])
    #expect(set.count == 3)
    #expect(set.values == Self.pixels.map { Double($0) / 255 })
    #expect(try set.example(2) == [2, 3, 4, 5].map { $0 / 255 })
  }

  @Test func idxLabelsAreNotScaled() throws {
    let scratch = try Scratch()
    let labels: [UInt8] = [5, 0, 4, 1, 9]
    let path = try scratch.write(IDXWriter.uint8(labels, dimensions: [5]), "labels-idx1-ubyte")
    let set = try ExampleReader.read(path: path)
    #expect(try set.labels() == [5, 0, 4, 1, 9])
  }

  @Test func gzippedIDX() throws {
    let scratch = try Scratch()
    let images = try scratch.gzip(
      IDXWriter.uint8(Self.pixels, dimensions: [3, 4]), "t10k-images-idx3-ubyte.gz")
    let set = try ExampleReader.read(path: images)
    #expect(set.shape == [4])
    #expect(set.values == Self.pixels.map { Double($0) / 255 })
    let labels = try scratch.gzip(
      IDXWriter.uint8([3, 1, 4], dimensions: [3]), "t10k-labels-idx1-ubyte.gz")
    #expect(try ExampleReader.read(path: labels).labels() == [3, 1, 4])
  }

  @Test func truncatedIDXIsAnError() throws {
    let scratch = try Scratch()
    let full = IDXWriter.uint8(Self.pixels, dimensions: [3, 2, 2])
    let short = try scratch.write(full.prefix(full.count - 1), "short-idx3")
    expectInputError(["malformed", "short-idx3"]) { _ = try ExampleReader.read(path: short) }
    let header = try scratch.write(full.prefix(9), "header-idx3")
    expectInputError(["malformed"]) { _ = try ExampleReader.read(path: header) }
    // A header promising 2³¹ × 2³¹ pixels in a file of twelve.
    var huge = IDXWriter.uint8(Self.pixels, dimensions: [Int(Int32.max), Int(Int32.max)])
    huge.append(contentsOf: [0, 0])
    expectInputError(["malformed"]) {
      _ = try ExampleReader.read(path: scratch.write(huge, "huge-idx"))
    }
  }

  @Test func corruptOrTruncatedGzipIsAnError() throws {
    let scratch = try Scratch()
    let good = try Data(
      contentsOf: URL(
        fileURLWithPath: scratch.gzip(
          NPYWriter.float64((0..<100).map(Double.init), shape: [10, 10]), "x.npy.gz")))
    let truncated = try scratch.write(good.prefix(good.count / 2), "truncated.npy.gz")
    expectInputError(["truncated.npy.gz"]) { _ = try ExampleReader.read(path: truncated) }
    var corrupt = good
    for index in 12..<min(40, corrupt.count) { corrupt[index] ^= 0x5A }
    let bad = try scratch.write(corrupt, "corrupt.npy.gz")
    expectInputError(["corrupt.npy.gz"]) { _ = try ExampleReader.read(path: bad) }
  }

  @Test func csvWithHeader() throws {
    let scratch = try Scratch()
    let path = try scratch.write("a,b,c\n0.1,0.2,0.3\n1, 2, 3\n\n4\t5\t6\r\n", "x.csv")
    let set = try ExampleReader.read(path: path)
    #expect(set.shape == [3])
    #expect(set.count == 3)
    #expect(set.values == [0.1, 0.2, 0.3, 1, 2, 3, 4, 5, 6])
  }

  @Test func csvWithoutHeaderAndWithComments() throws {
    let scratch = try Scratch()
    let path = try scratch.write("# pixels\n0.5 0.25\n0 1\n", "x.txt")
    #expect(try ExampleReader.read(path: path).values == [0.5, 0.25, 0, 1])
  }

  @Test func csvHeaderAfterAComment() throws {
    let scratch = try Scratch()
    let path = try scratch.write("# exported by a script\nx0,x1\n0.5,0.25\n", "commented.csv")
    #expect(try ExampleReader.read(path: path).values == [0.5, 0.25])
  }

  @Test func raggedCSVIsAnError() throws {
    let scratch = try Scratch()
    let path = try scratch.write("a,b,c\n1,2,3\n4,5\n", "ragged.csv")
    expectInputError(["line 3", "2 values", "3", "ragged.csv"]) {
      _ = try ExampleReader.read(path: path)
    }
  }

  @Test func csvLineNumbersCountBlankLines() throws {
    let scratch = try Scratch()
    let path = try scratch.write("a,b,c\n\n1,2,3\n\n4,5\n", "gaps.csv")
    expectInputError(["line 5", "gaps.csv"]) { _ = try ExampleReader.read(path: path) }
  }

  @Test func nonNumericCSVFieldIsAnError() throws {
    let scratch = try Scratch()
    let path = try scratch.write("1,2\n3,x\n", "bad.csv")
    expectInputError(["line 2", "not a number"]) { _ = try ExampleReader.read(path: path) }
    let empty = try scratch.write("a,b\n", "empty.csv")
    expectInputError(["no data"]) { _ = try ExampleReader.read(path: empty) }
  }

  @Test func exampleIndexOutOfRange() throws {
    let set = ExampleSet(shape: [2], values: [1, 2, 3, 4])
    #expect(set.count == 2)
    #expect(throws: InputFileError.noSuchExample(2, count: 2)) { try set.example(2) }
    #expect(throws: InputFileError.noSuchExample(-1, count: 2)) { try set.example(-1) }
    expectInputError(["example 5", "0..<2"]) { _ = try set.example(5) }
  }

  @Test func nonIntegerLabelsAreRefused() {
    expectInputError(["entry 1"]) { _ = try ExampleSet(shape: [1], values: [1, 2.5]).labels() }
    expectInputError(["entry 0"]) { _ = try ExampleSet(shape: [1], values: [.nan]).labels() }
  }

  @Test func missingAndUnknownFiles() throws {
    let scratch = try Scratch()
    let missing = scratch.url.appendingPathComponent("nothing.npy").path
    expectInputError(["nothing.npy", "cannot open"]) { _ = try ExampleReader.read(path: missing) }
    let text = try scratch.write("1,2,3\n", "numbers.dat")
    expectInputError(["numbers.dat", "unsupported"]) { _ = try ExampleReader.read(path: text) }
    let empty = try scratch.write(Data(), "empty.npy")
    expectInputError(["empty.npy"]) { _ = try ExampleReader.read(path: empty) }
  }
}
