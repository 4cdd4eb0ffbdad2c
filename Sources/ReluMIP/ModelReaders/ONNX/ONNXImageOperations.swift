/// The operations of convolutional networks on NCHW tensors: Conv, AveragePool, MaxPool,
/// GlobalAveragePool, BatchNormalization, Pad and Transpose.
///
/// Each linear one becomes a sparse matrix on the flattened (C-order) tensor, composed into the
/// pending affine map like a Gemm, so a convolution costs its weights × output positions, never
/// outputs × inputs. MaxPool becomes ReLU layers: `max(a, b) = b + ReLU(a − b)`, applied pairwise
/// in a tree over each window, so every pass that knows ReLUs (bounds, the walk, the MILP) knows
/// MaxPool too, and a window whose largest input the bounds already know needs no binary.
extension GraphInterpreter {
  /// The geometry of a sliding window over the two spatial axes of an NCHW tensor.
  struct Window2D: CustomStringConvertible {
    var kernel: (Int, Int)
    var strides: (Int, Int)
    var dilations: (Int, Int)
    /// Begin (top, left) and end (bottom, right) padding.
    var padBegin: (Int, Int)
    var padEnd: (Int, Int)
    var input: (Int, Int)
    var output: (Int, Int)

    /// The input rows (or columns) that output row `o` covers along `axis`, padding included:
    /// positions may be negative or past the input.
    func taps(_ o: Int, axis: Int) -> [Int] {
      let (stride, pad, dilation, size) =
        axis == 0
        ? (strides.0, padBegin.0, dilations.0, kernel.0)
        : (strides.1, padBegin.1, dilations.1, kernel.1)
      return (0..<size).map { o * stride - pad + $0 * dilation }
    }

    var description: String {
      var parts = ["kernel \(kernel.0)×\(kernel.1)", "stride \(strides.0)×\(strides.1)"]
      if padBegin != (0, 0) || padEnd != (0, 0) {
        parts.append("pads \(padBegin.0),\(padBegin.1),\(padEnd.0),\(padEnd.1)")
      }
      if dilations != (1, 1) { parts.append("dilation \(dilations.0)×\(dilations.1)") }
      return parts.joined(separator: ", ")
    }
  }

  func integers(_ name: String, of node: Onnx_NodeProto) -> [Int]? {
    attribute(name, of: node).map { $0.ints.map { Int($0) } }
  }

  /// The (N, C, H, W) of the data, which must be one image.
  func imageShape(_ path: DataPath, node: Onnx_NodeProto, index: Int) throws -> (
    channels: Int, height: Int, width: Int
  ) {
    guard path.shape.count == 4, path.shape[0] == 1 else {
      throw error(
        "needs data of shape (1, C, H, W), not \(path.shape)", node: node, index: index)
    }
    return (path.shape[1], path.shape[2], path.shape[3])
  }

  /// Reads kernel, strides, dilations, pads, auto_pad and ceil_mode and works out the output
  /// size, refusing what does not make a window.
  func window(
    kernel: [Int], _ node: Onnx_NodeProto, index: Int, height: Int, width: Int,
    ceilModeAllowed: Bool
  ) throws -> Window2D {
    guard kernel.count == 2 else {
      throw error(
        "kernel of \(kernel.count) spatial dimensions; only 2-D is supported", node: node,
        index: index)
    }
    guard kernel.allSatisfy({ $0 > 0 }) else {
      throw error("kernel_shape \(kernel) has a dimension below 1", node: node, index: index)
    }
    let strides = integers("strides", of: node) ?? [1, 1]
    let dilations = integers("dilations", of: node) ?? [1, 1]
    guard strides.count == 2, strides.allSatisfy({ $0 > 0 }) else {
      throw error("strides \(strides) must be two numbers ≥ 1", node: node, index: index)
    }
    guard dilations.count == 2, dilations.allSatisfy({ $0 > 0 }) else {
      throw error("dilations \(dilations) must be two numbers ≥ 1", node: node, index: index)
    }
    let ceilMode = (attribute("ceil_mode", of: node)?.i ?? 0) != 0
    guard !ceilMode || ceilModeAllowed else {
      throw error("ceil_mode is not defined for this operation", node: node, index: index)
    }
    let input = [height, width]
    let span = (0..<2).map { dilations[$0] * (kernel[$0] - 1) + 1 }
    var pads = integers("pads", of: node) ?? [0, 0, 0, 0]
    let autoPad = attribute("auto_pad", of: node).map { String(decoding: $0.s, as: UTF8.self) }
    switch autoPad ?? "NOTSET" {
    case "NOTSET", "":
      guard pads.count == 4, pads.allSatisfy({ $0 >= 0 }) else {
        throw error("pads \(pads) must be four numbers ≥ 0", node: node, index: index)
      }
    case "VALID":
      pads = [0, 0, 0, 0]
    case "SAME_UPPER", "SAME_LOWER":
      // Output = ceil(input / stride); the padding that takes, the odd one at the end (upper)
      // or the beginning (lower).
      for axis in 0..<2 {
        let out = (input[axis] + strides[axis] - 1) / strides[axis]
        let total = max(0, (out - 1) * strides[axis] + span[axis] - input[axis])
        let small = total / 2
        let large = total - small
        let upper = autoPad == "SAME_UPPER"
        pads[axis] = upper ? small : large
        pads[axis + 2] = upper ? large : small
      }
    default:
      throw error(
        "auto_pad '\(autoPad ?? "")' is not one of NOTSET, VALID, SAME_UPPER, SAME_LOWER",
        node: node, index: index)
    }
    var output = [0, 0]
    for axis in 0..<2 {
      let padded = input[axis] + pads[axis] + pads[axis + 2]
      guard padded >= span[axis] else {
        throw error(
          "kernel \(kernel) (spanning \(span) with dilations) is larger than the padded input"
            + " \(height + pads[0] + pads[2])×\(width + pads[1] + pads[3])", node: node,
          index: index)
      }
      var count = (padded - span[axis]) / strides[axis] + 1
      if ceilMode, (padded - span[axis]) % strides[axis] != 0 {
        count += 1
        // A last window that would start past the input and its begin padding is dropped.
        if (count - 1) * strides[axis] >= input[axis] + pads[axis] { count -= 1 }
      }
      output[axis] = count
    }
    return Window2D(
      kernel: (kernel[0], kernel[1]), strides: (strides[0], strides[1]),
      dilations: (dilations[0], dilations[1]), padBegin: (pads[0], pads[1]),
      padEnd: (pads[2], pads[3]), input: (height, width), output: (output[0], output[1]))
  }

  func conv(_ path: DataPath, node: Onnx_NodeProto, index: Int, dataName: String) throws
    -> DataPath
  {
    guard node.input.count >= 2, node.input[0] == dataName else {
      throw error("the data must be the first input (X)", node: node, index: index)
    }
    let (channels, height, width) = try imageShape(path, node: node, index: index)
    let weights = try constantInput(node, 1, index: index)
    guard weights.shape.count == 4 else {
      throw error(
        "weights of shape \(weights.shape); only 2-D convolutions (M, C/group, kH, kW) are supported",
        node: node, index: index)
    }
    let (outChannels, groupChannels) = (weights.shape[0], weights.shape[1])
    let group = Int(attribute("group", of: node)?.i ?? 1)
    guard group >= 1, outChannels % group == 0, groupChannels * group == channels else {
      throw error(
        "channel mismatch: the data has \(channels) channels but the weights \(weights.shape) with"
          + " group \(group) take \(groupChannels * max(group, 1))", node: node, index: index)
    }
    if let declared = integers("kernel_shape", of: node),
      declared != Array(weights.shape[2...])
    {
      throw error(
        "kernel_shape \(declared) does not match the weights' \(Array(weights.shape[2...]))",
        node: node, index: index)
    }
    let window = try window(
      kernel: Array(weights.shape[2...]), node, index: index, height: height, width: width,
      ceilModeAllowed: false)
    var bias = [Double](repeating: 0, count: outChannels)
    if node.input.count > 2, !node.input[2].isEmpty {
      let b = try constantInput(node, 2, index: index)
      guard b.values.count == outChannels else {
        throw error(
          "bias of \(b.values.count) values for \(outChannels) output channels", node: node,
          index: index)
      }
      bias = b.values
    }
    let (outHeight, outWidth) = window.output
    let rows = outChannels * outHeight * outWidth
    try requireEntries(
      rows * groupChannels * window.kernel.0 * window.kernel.1, path, node: node, index: index)
    let perGroup = outChannels / group
    var rowStarts = [0]
    var columnIndices: [Int] = []
    var values: [Double] = []
    rowStarts.reserveCapacity(rows + 1)
    var shift: [Double] = []
    shift.reserveCapacity(rows)
    for m in 0..<outChannels {
      let firstChannel = (m / perGroup) * groupChannels
      for oh in 0..<outHeight {
        let taps0 = window.taps(oh, axis: 0)
        for ow in 0..<outWidth {
          let taps1 = window.taps(ow, axis: 1)
          for c in 0..<groupChannels {
            for (kh, ih) in taps0.enumerated() where ih >= 0 && ih < height {
              for (kw, iw) in taps1.enumerated() where iw >= 0 && iw < width {
                let w = weights.values[
                  ((m * groupChannels + c) * window.kernel.0 + kh) * window.kernel.1 + kw]
                if w == 0 { continue }
                columnIndices.append(((firstChannel + c) * height + ih) * width + iw)
                values.append(w)
              }
            }
          }
          rowStarts.append(values.count)
          shift.append(bias[m])
        }
      }
    }
    let matrix = WeightMatrix(
      rows: rows, columns: channels * height * width, rowStarts: rowStarts,
      columnIndices: columnIndices, values: values)
    var result = path
    result.pending = path.pending.linear(matrix, shift: shift)
    result.operations.append(.linear(matrix, shift: shift))
    result.shape = [1, outChannels, outHeight, outWidth]
    result.knownNonnegative = false
    result.structure.append(
      "Conv \(channels)→\(outChannels)\(group > 1 ? " (group \(group))" : ""), \(window)")
    return result
  }

  /// The kernel of a pooling node: its `kernel_shape`, which must be there.
  func poolKernel(_ node: Onnx_NodeProto, index: Int) throws -> [Int] {
    guard let kernel = integers("kernel_shape", of: node) else {
      throw error("kernel_shape is missing", node: node, index: index)
    }
    return kernel
  }

  func averagePool(_ path: DataPath, node: Onnx_NodeProto, index: Int) throws -> DataPath {
    let (channels, height, width) = try imageShape(path, node: node, index: index)
    let global = node.opType == "GlobalAveragePool"
    let window =
      global
      ? try self.window(
        kernel: [height, width], node, index: index, height: height, width: width,
        ceilModeAllowed: false)
      : try self.window(
        kernel: try poolKernel(node, index: index), node, index: index, height: height,
        width: width, ceilModeAllowed: true)
    let includePad = (attribute("count_include_pad", of: node)?.i ?? 0) != 0
    let (outHeight, outWidth) = window.output
    let rows = channels * outHeight * outWidth
    var rowStarts = [0]
    var columnIndices: [Int] = []
    var values: [Double] = []
    for c in 0..<channels {
      for oh in 0..<outHeight {
        let taps0 = window.taps(oh, axis: 0)
        let inside0 = taps0.filter { $0 >= 0 && $0 < height }
        // With count_include_pad the padding counts, but not what a ceil-mode window hangs past
        // the padding.
        let counted0 =
          includePad ? taps0.filter { $0 < height + window.padEnd.0 }.count : inside0.count
        for ow in 0..<outWidth {
          let taps1 = window.taps(ow, axis: 1)
          let inside1 = taps1.filter { $0 >= 0 && $0 < width }
          let counted1 =
            includePad ? taps1.filter { $0 < width + window.padEnd.1 }.count : inside1.count
          let divisor = Double(counted0 * counted1)
          if divisor > 0 {
            for ih in inside0 {
              for iw in inside1 {
                columnIndices.append((c * height + ih) * width + iw)
                values.append(1 / divisor)
              }
            }
          }
          rowStarts.append(values.count)
        }
      }
    }
    let matrix = WeightMatrix(
      rows: rows, columns: channels * height * width, rowStarts: rowStarts,
      columnIndices: columnIndices, values: values)
    let shift = [Double](repeating: 0, count: rows)
    var result = path
    result.pending = path.pending.linear(matrix, shift: shift)
    result.operations.append(.linear(matrix, shift: shift))
    result.shape = [1, channels, outHeight, outWidth]
    result.structure.append(
      global ? "GlobalAveragePool \(height)×\(width)" : "AveragePool, \(window)")
    return result
  }

  mutating func maxPool(_ path: DataPath, node: Onnx_NodeProto, index: Int) throws -> DataPath {
    guard node.output.count == 1 || node.output[1...].allSatisfy(\.isEmpty) else {
      throw error("the Indices output is not supported", node: node, index: index)
    }
    let (channels, height, width) = try imageShape(path, node: node, index: index)
    let window = try window(
      kernel: try poolKernel(node, index: index), node, index: index, height: height,
      width: width, ceilModeAllowed: true)
    let (outHeight, outWidth) = window.output
    var windows: [[Int]] = []
    windows.reserveCapacity(channels * outHeight * outWidth)
    for c in 0..<channels {
      for oh in 0..<outHeight {
        let rows = window.taps(oh, axis: 0).filter { $0 >= 0 && $0 < height }
        for ow in 0..<outWidth {
          let columns = window.taps(ow, axis: 1).filter { $0 >= 0 && $0 < width }
          let inputs = rows.flatMap { ih in columns.map { (c * height + ih) * width + $0 } }
          guard !inputs.isEmpty else {
            throw error(
              "window (\(oh), \(ow)) covers only padding", node: node, index: index)
          }
          windows.append(inputs)
        }
      }
    }
    var result = path
    try appendMaximumTree(windows, to: &result, node: node, index: index)
    result.operations.append(.maximum(windows: windows))
    result.shape = [1, channels, outHeight, outWidth]
    result.structure.append("MaxPool, \(window)")
    return result
  }

  /// The maximum over each window as ReLU layers: each level pairs the window's values `(a, b)`
  /// into `ReLU(a − b)` and `ReLU(b)` (and `ReLU(−b)` where `b` may be negative), whose sum
  /// (less the last) is `max(a, b)`; an unpaired value passes through the same way. After
  /// ⌈log₂ k⌉ levels each window holds one value, an affine function of the last layer, which
  /// becomes the pending map.
  mutating func appendMaximumTree(
    _ windows: [[Int]], to path: inout DataPath, node: Onnx_NodeProto, index: Int
  ) throws {
    // Each window's current values, as rows of `pending`'s output.
    var current = windows
    let signed = !path.knownNonnegative
    while current.contains(where: { $0.count > 1 }) {
      // The ReLU layer's rows over the pending output, and for each window the rows of that
      // layer (with signs) that sum to each of its next values.
      var layerRows: [[(Int, Double)]] = []
      var next: [[[(Int, Double)]]] = []
      for values in current {
        var sums: [[(Int, Double)]] = []
        var position = 0
        while position < values.count {
          var terms: [(Int, Double)] = []
          let b = values[position + (position + 1 < values.count ? 1 : 0)]
          if position + 1 < values.count {
            terms.append((layerRows.count, 1))
            layerRows.append([(values[position], 1), (b, -1)])
          }
          terms.append((layerRows.count, 1))
          layerRows.append([(b, 1)])
          if signed {
            terms.append((layerRows.count, -1))
            layerRows.append([(b, -1)])
          }
          sums.append(terms)
          position += 2
        }
        next.append(sums)
      }
      let matrix = WeightMatrix.build(rows: layerRows.count, columns: path.size) { r, row in
        for (column, weight) in layerRows[r] { row.add(column, weight) }
      }
      path.pending = path.pending.linear(
        matrix, shift: [Double](repeating: 0, count: layerRows.count))
      path.layers.append(try layer(path.pending, .relu, node: node, index: index))
      // The values of the next level: rows of a pending map over the new ReLU layer.
      var valueRows: [[(Int, Double)]] = []
      current = next.map { sums in
        sums.map { terms in
          valueRows.append(terms)
          return valueRows.count - 1
        }
      }
      let valueMatrix = WeightMatrix.build(rows: valueRows.count, columns: layerRows.count) {
        r, row in
        for (column, weight) in valueRows[r] { row.add(column, weight) }
      }
      path.pending = PendingAffine.identity(layerRows.count).linear(
        valueMatrix, shift: [Double](repeating: 0, count: valueRows.count))
      path.shape = [valueRows.count]
    }
    // One value per window, in window order: select them.
    let selection = WeightMatrix.build(rows: current.count, columns: path.pending.outputSize) {
      r, row in row.add(current[r][0], 1)
    }
    path.pending = path.pending.linear(
      selection, shift: [Double](repeating: 0, count: current.count))
  }

  func batchNormalization(_ path: DataPath, node: Onnx_NodeProto, index: Int, dataName: String)
    throws -> DataPath
  {
    guard node.input.count == 5, node.input[0] == dataName else {
      throw error(
        "expects the data and four constants (scale, B, mean, var)", node: node, index: index)
    }
    guard (attribute("training_mode", of: node)?.i ?? 0) == 0,
      node.output.count == 1 || node.output[1...].allSatisfy(\.isEmpty)
    else {
      throw error(
        "only the inference form (one output, no training mode) is supported", node: node,
        index: index)
    }
    guard path.shape.count >= 2, path.shape[0] == 1 else {
      throw error("needs data of shape (1, C, …), not \(path.shape)", node: node, index: index)
    }
    let channels = path.shape[1]
    let parameters = try (1...4).map { try constantInput(node, $0, index: index) }
    for (name, tensor) in zip(["scale", "B", "mean", "var"], parameters)
    where tensor.values.count != channels {
      throw error(
        "\(name) holds \(tensor.values.count) values for \(channels) channels", node: node,
        index: index)
    }
    let epsilon = Double(attribute("epsilon", of: node)?.f ?? 1e-5)
    var channelScale = [Double](repeating: 0, count: channels)
    var channelShift = [Double](repeating: 0, count: channels)
    for c in 0..<channels {
      let variance = parameters[3].values[c] + epsilon
      guard variance > 0 else {
        throw error(
          "var + epsilon of channel \(c) is \(variance), not positive", node: node, index: index)
      }
      channelScale[c] = parameters[0].values[c] / variance.squareRoot()
      channelShift[c] = parameters[1].values[c] - parameters[2].values[c] * channelScale[c]
    }
    let perChannel = path.size / channels
    let scale = (0..<path.size).map { channelScale[$0 / perChannel] }
    let shift = (0..<path.size).map { channelShift[$0 / perChannel] }
    var result = path
    result.pending = path.pending.elementwise(scale: scale, shift: shift)
    result.operations.append(.multiply(scale))
    result.operations.append(.add(shift))
    result.knownNonnegative = false
    result.structure.append("BatchNormalization (folded), \(channels) channels")
    return result
  }

  /// A reordering or zero-padding of the data: `source[i]` is the input position of output `i`,
  /// nil for a zero.
  func gather(_ path: DataPath, _ source: [Int?], shape: [Int], what: String) -> DataPath {
    let matrix = WeightMatrix.build(rows: source.count, columns: path.size) { r, row in
      if let column = source[r] { row.add(column, 1) }
    }
    var result = path
    result.pending = path.pending.linear(
      matrix, shift: [Double](repeating: 0, count: source.count))
    result.operations.append(.gather(source))
    result.shape = shape
    result.structure.append(what)
    return result
  }

  /// The C-order strides of `shape`.
  func strides(_ shape: [Int]) -> [Int] {
    var result = [Int](repeating: 1, count: shape.count)
    for axis in shape.indices.dropLast().reversed() {
      result[axis] = result[axis + 1] * shape[axis + 1]
    }
    return result
  }

  func transpose(_ path: DataPath, node: Onnx_NodeProto, index: Int) throws -> DataPath {
    let rank = path.shape.count
    let permutation = integers("perm", of: node) ?? Array((0..<rank).reversed())
    guard permutation.sorted() == Array(0..<rank) else {
      throw error(
        "perm \(permutation) is not a permutation of the \(rank) axes", node: node, index: index)
    }
    let shape = permutation.map { path.shape[$0] }
    let inputStrides = strides(path.shape)
    let outputStrides = strides(shape)
    let source: [Int?] = (0..<path.size).map { flat in
      var position = 0
      for axis in 0..<rank {
        let coordinate = (flat / outputStrides[axis]) % shape[axis]
        position += coordinate * inputStrides[permutation[axis]]
      }
      return position
    }
    return gather(path, source, shape: shape, what: "Transpose \(permutation)")
  }

  func pad(_ path: DataPath, node: Onnx_NodeProto, index: Int) throws -> DataPath {
    let mode =
      attribute("mode", of: node).map { String(decoding: $0.s, as: UTF8.self) } ?? "constant"
    guard mode == "constant" else {
      throw error(
        "mode '\(mode)' is not supported; only constant (zero) padding is", node: node, index: index
      )
    }
    let rank = path.shape.count
    var pads = integers("pads", of: node)
    var value = Double(attribute("value", of: node)?.f ?? 0)
    if pads == nil {
      let tensor = try constantInput(node, 1, index: index)
      guard tensor.values.allSatisfy({ Int(exactly: $0) != nil }) else {
        throw error("pads \(tensor.values) are not whole numbers", node: node, index: index)
      }
      pads = tensor.values.map { Int($0) }
    }
    if node.input.count > 2, !node.input[2].isEmpty {
      let constant = try constantInput(node, 2, index: index)
      value = constant.values.first ?? 0
    }
    guard value == 0 else {
      throw error(
        "constant_value \(value): only zero padding is supported", node: node, index: index)
    }
    var axes = Array(0..<rank)
    if node.input.count > 3, !node.input[3].isEmpty {
      let tensor = try constantInput(node, 3, index: index)
      axes = tensor.values.map { Int($0) < 0 ? Int($0) + rank : Int($0) }
    }
    guard var pads, pads.count == 2 * axes.count, axes.allSatisfy({ $0 >= 0 && $0 < rank }) else {
      throw error(
        "pads \(pads ?? []) do not give a begin and an end for each of \(axes.count) axes",
        node: node, index: index)
    }
    var begin = [Int](repeating: 0, count: rank)
    var end = [Int](repeating: 0, count: rank)
    for (k, axis) in axes.enumerated() {
      begin[axis] = pads[k]
      end[axis] = pads[k + axes.count]
    }
    pads = begin + end
    let shape = (0..<rank).map { path.shape[$0] + begin[$0] + end[$0] }
    guard shape.allSatisfy({ $0 > 0 }) else {
      throw error("pads \(pads) leave no data of shape \(path.shape)", node: node, index: index)
    }
    guard let size = checkedProduct(shape), size <= budget else {
      throw error(
        "gives data of shape \(shape), more than \(budgetDescription)", node: node, index: index)
    }
    let inputStrides = strides(path.shape)
    let outputStrides = strides(shape)
    let source: [Int?] = (0..<size).map { flat in
      var position = 0
      for axis in 0..<rank {
        let coordinate = (flat / outputStrides[axis]) % shape[axis] - begin[axis]
        guard coordinate >= 0, coordinate < path.shape[axis] else { return nil }
        position += coordinate * inputStrides[axis]
      }
      return position
    }
    var result = gather(path, source, shape: shape, what: "Pad \(pads)")
    result.knownNonnegative = path.knownNonnegative
    return result
  }

  /// Refuses an op whose matrix would hold `entries` values past the budget, with the layers
  /// and the pending map held already.
  func requireEntries(_ entries: Int, _ path: DataPath, node: Onnx_NodeProto, index: Int) throws {
    let held = layerValues + path.pending.storedCount
    guard entries <= budget - held else {
      throw error(
        "\(entries) weights on data of shape \(path.shape) would need more than \(budgetDescription)",
        node: node, index: index)
    }
  }
}
