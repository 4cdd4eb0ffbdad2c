import Foundation

/// Reads the `.nnet` text format of the ACAS Xu networks (Kyle Julian, Stanford 2016): `//`
/// comment lines, then `layers, inputs, outputs, largest layer`, the layer sizes (input first), a
/// flag line, the inputs' minimums, maximums, means and ranges (the last two with one more entry
/// for the outputs), and per layer its weight rows followed by its biases, one per line. Hidden
/// layers use ReLU, the last is affine.
///
/// The network is read as it computes: on normalized inputs, giving raw outputs, the way the
/// VNN-COMP ONNX twins and their VNN-LIB properties use it. The normalization values are kept in
/// the network's notes, not applied.
public enum NNetReader {
  /// Files larger than this (in bytes) are refused before they are read.
  public static let maximumFileSize = 1 << 30
  /// The most values a layer may declare (refused before allocating).
  public static let maximumLayerValues = 1 << 28

  /// Reads the `.nnet` file at `path`.
  public static func read(path: String) throws -> Network {
    let data: Data
    do {
      data = try ExampleReader.load(path, limit: maximumFileSize)
    } catch let error as InputFileError {
      throw ModelError(file: path, reason: error.description)
    }
    guard let text = String(data: data, encoding: .utf8) else {
      throw ModelError(file: path, reason: "not UTF-8 text")
    }
    return try parse(text, file: path)
  }

  /// Reads a network from the text of a `.nnet` file; `file` names it in errors.
  public static func parse(_ text: String, file: String = "<nnet>") throws -> Network {
    var lines = NNetLines(text: text, file: file)
    let header = try lines.numbers("the header (layers, inputs, outputs, largest layer size)")
    guard header.count >= 3, let layerCount = Int(exactly: header[0]),
      let inputCount = Int(exactly: header[1]), let outputCount = Int(exactly: header[2]),
      layerCount >= 1, layerCount <= 10_000, inputCount >= 1, outputCount >= 1
    else {
      throw lines.error("the header must give positive whole numbers: layers, inputs, outputs")
    }
    let sizeValues = try lines.numbers("the layer sizes")
    guard sizeValues.count >= layerCount + 1 else {
      throw lines.error("expected \(layerCount + 1) layer sizes, found \(sizeValues.count)")
    }
    var sizes: [Int] = []
    for value in sizeValues.prefix(layerCount + 1) {
      guard let size = Int(exactly: value), size >= 1, size <= maximumLayerValues else {
        throw lines.error("layer size \(value) is not a positive whole number in range")
      }
      sizes.append(size)
    }
    guard sizes.first == inputCount, sizes.last == outputCount else {
      throw lines.error(
        "the layer sizes start with \(sizes[0]) and end with \(sizes[sizes.count - 1]), but the"
          + " header says \(inputCount) inputs and \(outputCount) outputs")
    }
    _ = try lines.numbers("the flag line")
    let minimums = try lines.numbers("the input minimums")
    let maximums = try lines.numbers("the input maximums")
    let means = try lines.numbers("the means")
    let ranges = try lines.numbers("the ranges")

    var layers: [AffineLayer] = []
    for k in 0..<layerCount {
      let (rows, columns) = (sizes[k + 1], sizes[k])
      guard rows.multipliedReportingOverflow(by: columns).partialValue <= maximumLayerValues,
        !rows.multipliedReportingOverflow(by: columns).overflow
      else {
        throw lines.error("layer \(k + 1) declares \(rows) × \(columns) weights, too many")
      }
      var weights: [Double] = []
      // Reserve no more than the text could hold (each value takes at least two characters), so
      // a header that claims huge layers allocates nothing before the rows fail to appear.
      weights.reserveCapacity(min(rows * columns, text.utf8.count / 2))
      for i in 0..<rows {
        let row = try lines.numbers("weight row \(i) of layer \(k + 1)")
        guard row.count == columns else {
          throw lines.error(
            "weight row \(i) of layer \(k + 1) has \(row.count) values, expected \(columns)")
        }
        weights += row
      }
      var bias: [Double] = []
      for i in 0..<rows {
        let value = try lines.numbers("bias \(i) of layer \(k + 1)")
        guard value.count == 1 else {
          throw lines.error("bias \(i) of layer \(k + 1) has \(value.count) values, expected 1")
        }
        bias.append(value[0])
      }
      do {
        layers.append(
          try AffineLayer(
            inputSize: columns, outputSize: rows, weights: weights, bias: bias,
            activation: k == layerCount - 1 ? .identity : .relu))
      } catch let error as NetworkError {
        throw ModelError(file: file, location: "layer \(k + 1)", reason: "\(error)")
      }
    }
    if let extra = lines.nextContentLine() {
      throw ModelError(
        file: file, location: "line \(extra)", reason: "unexpected data after the last layer")
    }
    var notes = [
      "read from .nnet: inputs are taken as normalized, outputs are raw (the normalization below"
        + " is not applied)"
    ]
    if minimums.count == inputCount, maximums.count == inputCount {
      notes.append("input minimums \(minimums), maximums \(maximums)")
    }
    if means.count == inputCount + 1, ranges.count == inputCount + 1 {
      notes.append("input means \(means.prefix(inputCount)), ranges \(ranges.prefix(inputCount))")
      notes.append("output mean \(means[inputCount]), range \(ranges[inputCount])")
    }
    do {
      return try Network(layers: layers, inputShape: [inputCount], notes: notes)
    } catch {
      throw ModelError(file: file, reason: "\(error)")
    }
  }
}

/// The content lines of a `.nnet` file, comments skipped, with line numbers for errors.
private struct NNetLines {
  let lines: [Substring]
  let file: String
  var next = 0
  /// 1-based number of the line last read.
  var current = 0

  init(text: String, file: String) {
    // By Character, "\r\n" is one newline, not a "\n": split on every kind of line end.
    self.lines = text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline)
    self.file = file
  }

  func error(_ reason: String) -> ModelError {
    ModelError(file: file, location: current > 0 ? "line \(current)" : nil, reason: reason)
  }

  /// The number of the next line that holds data, and moves past it.
  mutating func nextContentLine() -> Int? {
    while next < lines.count {
      let line = lines[next].trimmingCharacters(in: .whitespacesAndNewlines)
      next += 1
      if line.isEmpty || line.hasPrefix("//") { continue }
      current = next
      return next
    }
    return nil
  }

  /// The comma-separated numbers of the next data line (a trailing comma is allowed).
  mutating func numbers(_ what: String) throws -> [Double] {
    guard let number = nextContentLine() else {
      throw ModelError(file: file, reason: "the file ends before \(what)")
    }
    var values: [Double] = []
    for field in lines[number - 1].split(separator: ",", omittingEmptySubsequences: false) {
      let trimmed = field.trimmingCharacters(in: .whitespaces)
      if trimmed.isEmpty { continue }
      guard let value = Double(trimmed), value.isFinite else {
        throw error("\(what): '\(trimmed)' is not a finite number")
      }
      values.append(value)
    }
    return values
  }
}
