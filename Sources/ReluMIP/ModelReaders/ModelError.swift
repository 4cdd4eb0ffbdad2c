/// A model file that cannot be read, with where and why.
public struct ModelError: Error, Equatable, CustomStringConvertible {
  /// The model file, as named when it was read.
  public var file: String
  /// The node (name and op type) or tensor the problem is in, if any.
  public var location: String?
  /// What is wrong.
  public var reason: String

  public init(file: String, location: String? = nil, reason: String) {
    self.file = file
    self.location = location
    self.reason = reason
  }

  public var description: String {
    if let location { return "\(file): \(location): \(reason)" }
    return "\(file): \(reason)"
  }
}

/// Reads a network from a file, choosing the reader by the file's extension.
public enum ModelLoader {
  /// The file name extensions ``load(path:)`` knows.
  public static let supportedExtensions = ["onnx", "nnet"]

  /// Reads an `.onnx` file with ``ONNXReader`` or an `.nnet` file with ``NNetReader``.
  public static func load(path: String) throws -> Network {
    let lowered = path.lowercased()
    if lowered.hasSuffix(".onnx") { return try ONNXReader.read(path: path) }
    if lowered.hasSuffix(".nnet") { return try NNetReader.read(path: path) }
    throw ModelError(
      file: path,
      reason:
        "unknown model format (supported: \(supportedExtensions.map { "." + $0 }.joined(separator: ", ")))"
    )
  }
}
