import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// Reads the tensors an ONNX file keeps in another file (`data_location = EXTERNAL`, as PyTorch
/// 2's exporter saves weights in `MODEL.onnx.data`) into their raw_data, so they are decoded,
/// checked and counted in the reader's budget exactly as tensors stored inline.
///
/// A tensor's `external_data` entries name the file (`location`, relative to the model's folder)
/// and its bytes there (`offset`, default 0; `length`, default the rest of the file). `checksum`
/// is not checked, and keys ONNX does not define are ignored, as onnx's own loader does. The file
/// must stay inside the model's folder: an absolute location, a `..` component and a path that
/// leaves the folder through a symbolic link are refused before anything is opened. The bytes must
/// be exactly what the tensor's dims and type need, and only they are read.
struct ExternalTensorData {
  /// The model file as named, for errors.
  let file: String
  /// The folder the model file is in; nil when the model was given as bytes.
  let folder: URL?
  /// The bytes read so far, for all tensors together: they are held to the limit of a model
  /// file (`ONNXReader.maximumFileSize`), checked from each tensor's dims before it is read.
  var bytesRead = 0
  /// `folder` with its symbolic links resolved, once a tensor needs it.
  var resolvedFolder: String?

  init(file: String, folder: URL?) {
    self.file = file
    self.folder = folder
  }

  /// Whether `tensor` says its data is in another file.
  static func isExternal(_ tensor: Onnx_TensorProto) -> Bool {
    tensor.dataLocation == .external || !tensor.externalData.isEmpty
  }

  /// Reads the external data of `graph`'s initializers and Constant nodes' tensors (the tensors
  /// the reader decodes) into their raw_data.
  mutating func load(into graph: inout Onnx_GraphProto) throws {
    for index in graph.initializer.indices where Self.isExternal(graph.initializer[index]) {
      let what = "initializer '\(graph.initializer[index].name)'"
      try load(&graph.initializer[index], what: what)
    }
    for index in graph.node.indices where graph.node[index].opType == "Constant" {
      let what = "node '\(graph.node[index].name)' value"
      for attribute in graph.node[index].attribute.indices
      where Self.isExternal(graph.node[index].attribute[attribute].t) {
        try load(&graph.node[index].attribute[attribute].t, what: what)
      }
    }
  }

  /// Reads `tensor`'s external data into its raw_data; `what` names it in errors.
  mutating func load(_ tensor: inout Onnx_TensorProto, what: String) throws {
    let file = self.file  // not self: `fail` is passed to the mutating `resolveFolder`
    func fail(_ reason: String) -> ModelError {
      ModelError(file: file, location: what, reason: reason)
    }
    guard tensor.dataLocation == .external else {
      throw fail("has external_data entries, but its data_location is not EXTERNAL")
    }
    var entries: [String: String] = [:]
    for entry in tensor.externalData {
      guard entries.updateValue(entry.value, forKey: entry.key) == nil else {
        throw fail("external_data gives '\(entry.key)' twice")
      }
    }
    guard let location = entries["location"], !location.isEmpty else {
      throw fail("its data_location is EXTERNAL, but external_data gives no location")
    }
    let named = "external data file '\(location)'"
    guard let folder else {
      throw fail(
        "its data is in the \(named), found relative to the model file's folder, but the model"
          + " was given as bytes, with no folder: read it from its file")
    }
    guard
      !tensor.hasRawData && tensor.floatData.isEmpty && tensor.doubleData.isEmpty
        && tensor.int32Data.isEmpty && tensor.int64Data.isEmpty
    else {
      throw fail("holds data inline as well as in the \(named)")
    }

    // What the dims claim, checked before any file is touched.
    guard let stored = ONNXReader.storedValues(tensor) else {
      throw fail(ONNXReader.unsupportedType(tensor.dataType))
    }
    guard tensor.dims.allSatisfy({ $0 >= 0 }) else {
      throw fail("invalid dimensions \(tensor.dims)")
    }
    let shape = tensor.dims.map { Int($0) }
    let limit = ONNXReader.maximumFileSize - bytesRead
    guard let count = checkedProduct(shape), let needed = checkedProduct([count, stored.width]),
      needed <= limit
    else {
      throw fail(
        "dims \(shape) of \(stored.width)-byte values need more than the \(limit) bytes left of"
          + " the \(ONNXReader.maximumFileSize) a model's external data may hold")
    }

    // Where the file is: relative, and inside the model's folder.
    guard !location.contains("\0") else { throw fail("the \(named) holds a NUL character") }
    guard !location.hasPrefix("/") else {
      throw fail(
        "the \(named) is an absolute path; it must be relative to the model's folder")
    }
    guard !location.split(separator: "/").contains("..") else {
      throw fail(
        "the \(named) has a '..' component; it must name a file inside the model's folder")
    }
    let offset = try Self.number("offset", entries, fail) ?? 0
    let length = try Self.number("length", entries, fail)
    let folderPath = try resolveFolder(folder, fail)
    let path = folder.appendingPathComponent(location).path
    let resolved: String
    switch Self.realPath(path) {
    case .success(let real): resolved = real
    case .failure(let error) where error.code == ENOENT || error.code == ENOTDIR:
      throw fail("the \(named) does not exist (looked for \(path))")
    case .failure(let error):
      throw fail("the \(named) cannot be opened: \(error)")
    }
    guard resolved.hasPrefix(folderPath.hasSuffix("/") ? folderPath : folderPath + "/") else {
      throw fail(
        "the \(named) resolves (through a symbolic link) to \(resolved), outside the model's"
          + " folder \(folderPath)")
    }

    // Which bytes: exactly the dims' worth, inside the file.
    let descriptor = open(resolved, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK)
    guard descriptor >= 0 else {
      throw fail("the \(named) cannot be opened: \(SystemError(code: errno))")
    }
    defer { close(descriptor) }
    var status = stat()
    guard fstat(descriptor, &status) == 0, status.st_mode & mode_t(S_IFMT) == mode_t(S_IFREG)
    else {
      throw fail("the \(named) is not a regular file")
    }
    let size = Int(status.st_size)
    guard offset <= size else {
      throw fail("external_data offset \(offset) is past the end of the \(named) (\(size) bytes)")
    }
    let available = size - offset
    let claim = "dims \(shape) of \(stored.width)-byte values need \(needed) bytes"
    if let length {
      guard length == needed else {
        throw fail("external_data length \(length) does not match the tensor: \(claim)")
      }
      guard length <= available else {
        throw fail(
          "the \(named) is \(size) bytes: offset \(offset) + length \(length) runs past its end"
            + " (is the file truncated?)")
      }
    } else {
      guard available == needed else {
        throw fail(
          "the \(named) holds \(available) bytes from offset \(offset) to its end (no length"
            + " given), but \(claim)")
      }
    }
    var bytes = Data(count: needed)
    let got = bytes.withUnsafeMutableBytes { Self.read(descriptor, into: $0, at: offset) }
    switch got {
    case .success(let count) where count == needed: break
    case .success(let count):
      throw fail("the \(named) ended after \(count) of the \(needed) bytes from offset \(offset)")
    case .failure(let error):
      throw fail("the \(named) cannot be read: \(error)")
    }
    tensor.rawData = bytes
    tensor.dataLocation = .default
    tensor.externalData = []
    bytesRead += needed
  }

  /// `key`'s entry as a byte count: decimal digits only; nil if absent.
  static func number(
    _ key: String, _ entries: [String: String], _ fail: (String) -> ModelError
  ) throws -> Int? {
    guard let text = entries[key] else { return nil }
    let digits = { (text: Substring) in
      !text.isEmpty && text.utf8.allSatisfy { $0 >= 48 && $0 <= 57 }
    }
    if text.hasPrefix("-"), digits(text.dropFirst()) {
      throw fail("external_data \(key) \(text) is negative")
    }
    guard digits(text[...]) else {
      throw fail("external_data \(key) '\(text)' is not a whole number")
    }
    guard let value = Int(text) else { throw fail("external_data \(key) \(text) is too large") }
    return value
  }

  /// The model's folder with its symbolic links resolved, worked out once.
  mutating func resolveFolder(_ folder: URL, _ fail: (String) -> ModelError) throws -> String {
    if let resolvedFolder { return resolvedFolder }
    switch Self.realPath(folder.path) {
    case .success(let real):
      resolvedFolder = real
      return real
    case .failure(let error):
      throw fail("the model's folder \(folder.path) cannot be resolved: \(error)")
    }
  }

  /// The errno of a failed system call, described by strerror(3).
  struct SystemError: Error, CustomStringConvertible {
    var code: Int32
    var description: String { String(cString: strerror(code)) }
  }

  /// `path` made absolute with every symbolic link, `.` and `..` resolved (realpath(3)), or the
  /// errno of the failure.
  static func realPath(_ path: String) -> Result<String, SystemError> {
    guard let real = realpath(path, nil) else { return .failure(SystemError(code: errno)) }
    defer { free(real) }
    return .success(String(cString: real))
  }

  /// Reads into `buffer` from `offset`, retrying short and interrupted reads, until it is full or
  /// the file ends: the bytes read, or the errno of a failure.
  static func read(_ descriptor: Int32, into buffer: UnsafeMutableRawBufferPointer, at offset: Int)
    -> Result<Int, SystemError>
  {
    var done = 0
    while done < buffer.count {
      let count = pread(
        descriptor, buffer.baseAddress! + done, buffer.count - done, off_t(offset + done))
      if count < 0 {
        if errno == EINTR { continue }
        return .failure(SystemError(code: errno))
      }
      if count == 0 { break }
      done += count
    }
    return .success(done)
  }
}
