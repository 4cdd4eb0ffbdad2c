import Foundation

/// An 8-bit grayscale or RGB image, and its encoding as a PNG file (no interlacing, filter type
/// 0 on every row, zlib-compressed IDAT).
public struct PNGImage: Sendable, Equatable {
  /// Gray (one byte per pixel) or RGB (three).
  public enum ColorType: UInt8, Sendable {
    case grayscale = 0
    case rgb = 2

    public var channels: Int { self == .grayscale ? 1 : 3 }
  }

  public let width: Int
  public let height: Int
  public let colorType: ColorType
  /// Row-major samples, `channels` per pixel.
  public private(set) var pixels: [UInt8]

  public init(width: Int, height: Int, colorType: ColorType, pixels: [UInt8]) {
    precondition(width > 0 && height > 0, "a PNG image has at least one pixel")
    precondition(width <= Int(Int32.max) && height <= Int(Int32.max), "PNG sizes are 31-bit")
    precondition(pixels.count == width * height * colorType.channels, "pixel buffer size")
    self.width = width
    self.height = height
    self.colorType = colorType
    self.pixels = pixels
  }

  /// A blank image of one colour (`fill` has `channels` samples).
  public init(width: Int, height: Int, colorType: ColorType, fill: [UInt8]) {
    precondition(fill.count == colorType.channels, "fill colour size")
    var pixels: [UInt8] = []
    pixels.reserveCapacity(width * height * fill.count)
    for _ in 0..<(width * height) { pixels.append(contentsOf: fill) }
    self.init(width: width, height: height, colorType: colorType, pixels: pixels)
  }

  /// The samples of pixel (`x`, `y`).
  public subscript(x: Int, y: Int) -> [UInt8] {
    get {
      precondition(x >= 0 && x < width && y >= 0 && y < height, "pixel out of range")
      let start = (y * width + x) * colorType.channels
      return Array(pixels[start..<(start + colorType.channels)])
    }
    set {
      precondition(x >= 0 && x < width && y >= 0 && y < height, "pixel out of range")
      precondition(newValue.count == colorType.channels, "pixel size")
      let start = (y * width + x) * colorType.channels
      pixels.replaceSubrange(start..<(start + colorType.channels), with: newValue)
    }
  }

  public static let signature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]

  /// The PNG file's bytes.
  public func encoded() throws -> Data {
    var header: [UInt8] = []
    header += Self.bigEndian(UInt32(width))
    header += Self.bigEndian(UInt32(height))
    // Bit depth 8, colour type, compression 0 (deflate), filter method 0, no interlace.
    header += [8, colorType.rawValue, 0, 0, 0]

    let rowLength = width * colorType.channels
    var scanlines: [UInt8] = []
    scanlines.reserveCapacity(height * (rowLength + 1))
    for row in 0..<height {
      scanlines.append(0)  // filter type None
      scanlines += pixels[(row * rowLength)..<((row + 1) * rowLength)]
    }
    guard let compressed = Zlib.compress(scanlines) else { throw PNGError.compressionFailed }

    var file = Self.signature
    file += Self.chunk("IHDR", header)
    file += Self.chunk("IDAT", compressed)
    file += Self.chunk("IEND", [])
    return Data(file)
  }

  /// Writes the PNG file: to a temporary file beside `path`, then renamed over it, so a reader
  /// (or a crash) never sees a partial image.
  public func write(to path: String) throws {
    try AtomicFile.write(try encoded(), to: path)
  }

  static func chunk(_ type: String, _ data: [UInt8]) -> [UInt8] {
    let typeBytes = Array(type.utf8)
    precondition(typeBytes.count == 4, "chunk types have four letters")
    return Self.bigEndian(UInt32(data.count)) + typeBytes + data
      + Self.bigEndian(Zlib.crc32(typeBytes + data))
  }

  static func bigEndian(_ value: UInt32) -> [UInt8] {
    [
      UInt8(value >> 24), UInt8((value >> 16) & 0xFF), UInt8((value >> 8) & 0xFF),
      UInt8(value & 0xFF),
    ]
  }
}

/// A picture that cannot be made or written.
public enum PNGError: Error, Equatable, CustomStringConvertible {
  case compressionFailed
  case notImageShaped(count: Int)

  public var description: String {
    switch self {
    case .compressionFailed: return "zlib could not compress the image"
    case .notImageShaped(let count):
      return "the input (\(count) values) is not image-shaped: no picture written"
    }
  }
}
