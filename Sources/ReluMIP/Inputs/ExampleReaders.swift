import Foundation

/// A stack of examples: `count` rows of `shape.reduce(1, *)` values each, row-major.
public struct ExampleSet: Sendable, Equatable {
  /// The shape of one example (without the leading count).
  public var shape: [Int]
  /// Every example's values, one example after another.
  public var values: [Double]

  /// Examples of the given shape, from their values in row-major order.
  public init(shape: [Int], values: [Double]) {
    self.shape = shape
    self.values = values
  }

  /// The number of values in one example.
  public var exampleSize: Int { shape.reduce(1, *) }

  /// Whether the product of `dims`' nonzero entries (so of every subset of them, such as the
  /// shape of one example) overflows `Int`. A file may claim such dimensions if another is 0.
  static func overflows(_ dims: [Int]) -> Bool {
    var product = 1
    for dim in dims where dim != 0 {
      let (next, overflow) = product.multipliedReportingOverflow(by: dim)
      if overflow { return true }
      product = next
    }
    return false
  }

  /// The examples in the order of a network that takes `(C, H, W)` images (`inputShape`, with
  /// or without a leading batch dimension of 1): examples of shape `(H, W, C)`, as Keras and
  /// most image files store them, are moved channels first; with `channelsLast`, so are flat
  /// examples of `H·W·C` values. Also says what it did (nil when nothing).
  public func channelsFirst(for inputShape: [Int], channelsLast: Bool) throws -> (
    examples: ExampleSet, note: String?
  ) {
    let image =
      inputShape.count == 4 && inputShape[0] == 1 ? Array(inputShape.dropFirst()) : inputShape
    guard image.count == 3 else {
      if channelsLast {
        throw InputFileError.malformed(
          "--channels-last needs a network that takes (C, H, W) images, not \(inputShape)")
      }
      return (self, nil)
    }
    let (c, h, w) = (image[0], image[1], image[2])
    let shapedChannelsLast = shape == [h, w, c] && shape != image
    guard channelsLast || shapedChannelsLast else { return (self, nil) }
    guard exampleSize == c * h * w else {
      throw InputFileError.malformed(
        "each example has \(exampleSize) values, not the \(c * h * w) of a \(h)×\(w)×\(c) image")
    }
    var moved = [Double](repeating: 0, count: values.count)
    for n in 0..<count {
      let base = n * exampleSize
      for y in 0..<h {
        for x in 0..<w {
          for channel in 0..<c {
            moved[base + (channel * h + y) * w + x] = values[base + (y * w + x) * c + channel]
          }
        }
      }
    }
    return (
      ExampleSet(shape: image, values: moved),
      "examples read as (H, W, C) = (\(h), \(w), \(c)) and moved channels first"
    )
  }

  /// The number of examples.
  public var count: Int { exampleSize == 0 ? 0 : values.count / exampleSize }

  /// The values of example `index` (from 0), flattened in row-major order.
  public func example(_ index: Int) throws -> [Double] {
    guard index >= 0, index < count else { throw InputFileError.noSuchExample(index, count: count) }
    return Array(values[(index * exampleSize)..<((index + 1) * exampleSize)])
  }

  /// The examples as whole-number labels (for label files).
  public func labels() throws -> [Int] {
    try values.enumerated().map { index, value in
      guard value.isFinite, value == value.rounded(), abs(value) < 1e9 else {
        throw InputFileError.malformed("entry \(index) is \(value), not a label")
      }
      return Int(value)
    }
  }
}

/// An examples file that cannot be read, or an example it does not hold.
public enum InputFileError: Error, Equatable, CustomStringConvertible {
  case unreadable(String)
  case malformed(String)
  case unsupported(String)
  case noSuchExample(Int, count: Int)
  indirect case inFile(String, InputFileError)

  public var description: String {
    switch self {
    case .unreadable(let message): return message
    case .malformed(let message): return "malformed: \(message)"
    case .unsupported(let message): return "unsupported: \(message)"
    case .noSuchExample(let index, let count):
      return "example \(index) does not exist: the file holds \(count) (0..<\(count))"
    case .inFile(let path, let error): return "\(path): \(error)"
    }
  }
}

/// Reads examples from `.npy`, IDX (optionally gzipped) or CSV files, chosen by content and name.
public enum ExampleReader {
  /// Files larger than this are refused before they are read into memory.
  public static let maximumFileSize = 2 << 30

  /// Reads the examples file at `path`; errors name the file.
  public static func read(path: String) throws -> ExampleSet {
    do {
      return try parse(try load(path), path: path)
    } catch let error as InputFileError {
      throw InputFileError.inFile(path, error)
    }
  }

  /// Reads examples from the bytes of a file: gzip, `.npy` and IDX by content, CSV by the name
  /// `path` ends in (`.csv`, `.txt`, `.csv.gz`).
  public static func parse(_ data: Data, path: String) throws -> ExampleSet {
    var data = data
    if data.starts(with: [0x1f, 0x8b]) { data = try Gzip.decompress(data) }
    if data.starts(with: [0x93] + Array("NUMPY".utf8)) { return try NPY.parse(data) }
    if data.count >= 4, data[data.startIndex] == 0, data[data.startIndex + 1] == 0,
      [0x08, 0x09, 0x0B, 0x0C, 0x0D, 0x0E].contains(data[data.startIndex + 2])
    {
      return try IDX.parse(data)
    }
    if path.lowercased().hasSuffix(".csv") || path.lowercased().hasSuffix(".txt")
      || path.lowercased().hasSuffix(".csv.gz")
    {
      return try CSV.parse(data)
    }
    throw InputFileError.unsupported(
      "not a .npy, IDX or CSV file (CSV files must end in .csv or .txt)")
  }

  static func load(_ path: String, limit: Int = maximumFileSize) throws -> Data {
    let attributes: [FileAttributeKey: Any]
    do {
      attributes = try FileManager.default.attributesOfItem(atPath: path)
    } catch {
      throw InputFileError.unreadable("cannot open: no such file or no permission")
    }
    if let size = attributes[.size] as? Int, size > limit {
      throw InputFileError.unsupported("the file is \(size) bytes, over the limit of \(limit)")
    }
    guard let data = FileManager.default.contents(atPath: path) else {
      throw InputFileError.unreadable("cannot read the file")
    }
    return data
  }
}

// MARK: NumPy

enum NPY {
  /// Parses NumPy's `.npy` format (versions 1–3): C-order float32/float64, integer and uint8
  /// arrays. uint8 arrays are images: they are scaled from 0…255 to [0, 1].
  static func parse(_ data: Data) throws -> ExampleSet {
    let bytes = [UInt8](data)
    guard bytes.count >= 10 else { throw InputFileError.malformed("truncated .npy header") }
    let major = bytes[6]
    let headerLength: Int
    let headerStart: Int
    switch major {
    case 1:
      headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
      headerStart = 10
    case 2, 3:
      guard bytes.count >= 12 else { throw InputFileError.malformed("truncated .npy header") }
      headerLength = (0..<4).reduce(0) { $0 | Int(bytes[8 + $1]) << (8 * $1) }
      headerStart = 12
    default:
      throw InputFileError.unsupported(".npy format version \(major)")
    }
    guard headerStart + headerLength <= bytes.count else {
      throw InputFileError.malformed("the .npy header runs past the end of the file")
    }
    let header = String(decoding: bytes[headerStart..<(headerStart + headerLength)], as: UTF8.self)
    guard let descr = field("descr", in: header), let shapeText = field("shape", in: header),
      let fortran = field("fortran_order", in: header)
    else {
      throw InputFileError.malformed("the .npy header lacks descr, fortran_order or shape")
    }
    guard fortran == "False" else {
      throw InputFileError.unsupported("Fortran-order arrays (save with C order)")
    }
    let dims = try shapeText.trimmingCharacters(in: CharacterSet(charactersIn: "()"))
      .split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
      .filter { !$0.isEmpty }
      .map { text -> Int in
        guard let value = Int(text), value >= 0 else {
          throw InputFileError.malformed("shape entry '\(text)'")
        }
        return value
      }
    let (count, overflow) = dims.reduce((1, false)) { partial, dim in
      let (product, over) = partial.0.multipliedReportingOverflow(by: dim)
      return (product, partial.1 || over)
    }
    guard !ExampleSet.overflows(dims) else {
      throw InputFileError.malformed("the shape \(dims) is too large to count")
    }
    let descriptor = descr.trimmingCharacters(in: CharacterSet(charactersIn: "'\""))
    let (width, decode) = try decoder(for: descriptor)
    let payloadStart = headerStart + headerLength
    guard !overflow, count <= (bytes.count - payloadStart) / max(width, 1),
      bytes.count - payloadStart >= count * width
    else {
      throw InputFileError.malformed(
        "the header promises \(dims) values of \(width) bytes but the file is shorter")
    }
    var values = [Double](repeating: 0, count: count)
    for index in 0..<count {
      values[index] = decode(bytes, payloadStart + index * width)
    }
    if descriptor == "|u1" || descriptor == "<u1" { values = values.map { $0 / 255 } }
    let shape: [Int]
    switch dims.count {
    case 0: shape = [1]
    case 1: shape = dims  // a single example
    default: shape = Array(dims.dropFirst())
    }
    return ExampleSet(shape: shape, values: values)
  }

  private static func field(_ name: String, in header: String) -> String? {
    guard let range = header.range(of: "'\(name)'") else { return nil }
    var rest = header[range.upperBound...].drop { $0 == " " || $0 == ":" }
    if rest.first == "(" {
      guard let close = rest.firstIndex(of: ")") else { return nil }
      return String(rest[...close])
    }
    rest = rest.prefix { $0 != "," && $0 != "}" }
    return rest.trimmingCharacters(in: .whitespaces)
  }

  private static func decoder(for descriptor: String) throws -> (
    Int, ([UInt8], Int) -> Double
  ) {
    func little(_ bytes: [UInt8], _ offset: Int, _ width: Int) -> UInt64 {
      (0..<width).reduce(UInt64(0)) { $0 | UInt64(bytes[offset + $1]) << (8 * UInt64($1)) }
    }
    switch descriptor {
    case "<f8": return (8, { Double(bitPattern: little($0, $1, 8)) })
    case "<f4": return (4, { Double(Float(bitPattern: UInt32(little($0, $1, 4)))) })
    case "|u1", "<u1": return (1, { Double($0[$1]) })
    case "|i1", "<i1": return (1, { Double(Int8(bitPattern: $0[$1])) })
    case "<i4": return (4, { Double(Int32(bitPattern: UInt32(little($0, $1, 4)))) })
    case "<i8": return (8, { Double(Int64(bitPattern: little($0, $1, 8))) })
    case "<u4": return (4, { Double(UInt32(little($0, $1, 4))) })
    default:
      throw InputFileError.unsupported(
        "NumPy dtype '\(descriptor)' (supported: float64, float32, uint8, int8, int32, int64)")
    }
  }
}

// MARK: IDX

enum IDX {
  /// Parses the IDX format of MNIST: a magic number naming the type and the rank, big-endian
  /// dimensions, then the data. uint8 data (images) are scaled to [0, 1].
  static func parse(_ data: Data) throws -> ExampleSet {
    let bytes = [UInt8](data)
    let type = bytes[2]
    let rank = Int(bytes[3])
    guard rank >= 1, bytes.count >= 4 + 4 * rank else {
      throw InputFileError.malformed("truncated IDX header")
    }
    var dims: [Int] = []
    for d in 0..<rank {
      let offset = 4 + 4 * d
      dims.append((0..<4).reduce(0) { $0 << 8 | Int(bytes[offset + $1]) })
    }
    guard !ExampleSet.overflows(dims) else {
      throw InputFileError.malformed("the dimensions \(dims) are too large to count")
    }
    let width: Int
    switch type {
    case 0x08, 0x09: width = 1
    case 0x0B: width = 2
    case 0x0C, 0x0D: width = 4
    default: width = 8
    }
    let payload = 4 + 4 * rank
    var count = 1
    for dim in dims {
      let (product, overflow) = count.multipliedReportingOverflow(by: dim)
      guard !overflow, product <= (bytes.count - payload) / width else {
        throw InputFileError.malformed(
          "the header promises \(dims) values but the file holds fewer")
      }
      count = product
    }
    var values = [Double](repeating: 0, count: count)
    for index in 0..<count {
      let offset = payload + index * width
      let raw = (0..<width).reduce(UInt64(0)) { $0 << 8 | UInt64(bytes[offset + $1]) }
      switch type {
      case 0x08: values[index] = rank == 1 ? Double(raw) : Double(raw) / 255
      case 0x09: values[index] = Double(Int8(bitPattern: UInt8(raw)))
      case 0x0B: values[index] = Double(Int16(bitPattern: UInt16(raw)))
      case 0x0C: values[index] = Double(Int32(bitPattern: UInt32(raw)))
      case 0x0D: values[index] = Double(Float(bitPattern: UInt32(raw)))
      default: values[index] = Double(bitPattern: raw)
      }
    }
    return ExampleSet(shape: rank == 1 ? [1] : Array(dims.dropFirst()), values: values)
  }
}

// MARK: CSV

enum CSV {
  /// One example per line, values separated by commas (or whitespace); a first line that is not
  /// numeric is taken as a header and skipped.
  static func parse(_ data: Data) throws -> ExampleSet {
    let text = String(decoding: data, as: UTF8.self)
    var rows: [[Double]] = []
    var skippedHeader = false
    // Keep empty lines, so that `number` is the line's true position in the file.
    let lines = text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline)
    for (number, line) in lines.enumerated() {
      let trimmed = line.trimmingCharacters(in: .whitespaces)
      if trimmed.isEmpty || trimmed.hasPrefix("#") { continue }
      let fields = trimmed.split(whereSeparator: { $0 == "," || $0 == " " || $0 == "\t" })
      let values = fields.map { Double($0) }
      if values.contains(nil) {
        // The first line that is not blank or a comment may be a header.
        if rows.isEmpty && !skippedHeader {
          skippedHeader = true
          continue
        }
        throw InputFileError.malformed("line \(number + 1) has a field that is not a number")
      }
      let row = values.compactMap { $0 }
      if let first = rows.first, first.count != row.count {
        throw InputFileError.malformed(
          "line \(number + 1) has \(row.count) values where earlier lines have \(first.count)")
      }
      rows.append(row)
    }
    guard let first = rows.first else { throw InputFileError.malformed("no data rows") }
    return ExampleSet(shape: [first.count], values: rows.flatMap { $0 })
  }
}
