internal import CZlib
import Foundation

/// gzip decompression through zlib, for `.gz` example files.
enum Gzip {
  /// Output beyond this is refused rather than allocated (a corrupt or hostile header can claim
  /// any size).
  static let maximumOutput = 2 << 30

  static func decompress(_ data: Data) throws -> Data {
    var stream = z_stream()
    // 16 + MAX_WBITS: expect a gzip header and trailer.
    guard
      inflateInit2_(&stream, 16 + MAX_WBITS, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size))
        == Z_OK
    else {
      throw InputFileError.unreadable("zlib could not start")
    }
    defer { inflateEnd(&stream) }
    var output = Data()
    let chunkSize = 1 << 20
    var chunk = [UInt8](repeating: 0, count: chunkSize)
    var input = [UInt8](data)
    var status: Int32 = Z_OK
    try input.withUnsafeMutableBufferPointer { source in
      stream.next_in = source.baseAddress
      stream.avail_in = uInt(source.count)
      repeat {
        try chunk.withUnsafeMutableBufferPointer { target in
          stream.next_out = target.baseAddress
          stream.avail_out = uInt(chunkSize)
          status = inflate(&stream, Z_NO_FLUSH)
          guard status == Z_OK || status == Z_STREAM_END else {
            throw InputFileError.malformed("gzip data is corrupt (zlib status \(status))")
          }
          output.append(target.baseAddress!, count: chunkSize - Int(stream.avail_out))
        }
        guard output.count <= maximumOutput else {
          throw InputFileError.unsupported("decompressed data exceeds \(maximumOutput) bytes")
        }
        if status != Z_STREAM_END && stream.avail_in == 0 && stream.avail_out != 0 {
          throw InputFileError.malformed("gzip data is truncated")
        }
      } while status != Z_STREAM_END
    }
    return output
  }
}

/// zlib's deflate and CRC-32, for the PNG files ReluMIP writes.
enum Zlib {
  /// `bytes` compressed in the zlib format (RFC 1950), as a PNG's IDAT chunks hold them; nil if
  /// zlib fails (out of memory).
  static func compress(_ bytes: [UInt8], level: Int32 = Z_BEST_COMPRESSION) -> [UInt8]? {
    var length = compressBound(uLong(bytes.count))
    var output = [UInt8](repeating: 0, count: Int(length))
    let status = output.withUnsafeMutableBufferPointer { target in
      bytes.withUnsafeBufferPointer { source in
        compress2(target.baseAddress, &length, source.baseAddress, uLong(source.count), level)
      }
    }
    guard status == Z_OK else { return nil }
    output.removeSubrange(Int(length)...)
    return output
  }

  /// The CRC-32 of `bytes` (ISO 3309, as PNG chunks carry it), continuing from `crc`.
  static func crc32(_ bytes: [UInt8], continuing crc: UInt32 = 0) -> UInt32 {
    bytes.withUnsafeBufferPointer { buffer in
      UInt32(CZlib.crc32(uLong(crc), buffer.baseAddress, uInt(buffer.count)))
    }
  }
}
