/// A layer's weights, `rows × columns`: dense and row-major, or sparse by compressed rows where
/// most entries are zero (a convolution's matrix, a pooling's, the merge of a normalisation).
///
/// Every pass over a layer goes through `forEachEntry(inRow:)`, `multiply` and
/// `addTransposedRow`, so a convolution costs time and memory in proportion to its weights, never
/// to `rows × columns`.
public struct WeightMatrix: Sendable, Equatable {
  public let rows: Int
  public let columns: Int
  let storage: Storage

  enum Storage: Sendable, Equatable {
    /// `values[i * columns + j]`.
    case dense([Double])
    /// Row `i` holds `values[k]` at column `columnIndices[k]` for `k` in
    /// `rowStarts[i]..<rowStarts[i + 1]`, columns increasing within a row.
    case sparse(rowStarts: [Int], columnIndices: [Int], values: [Double])
  }

  /// A dense matrix from its row-major values (`rows · columns` of them).
  public init(rows: Int, columns: Int, denseValues: [Double]) {
    precondition(denseValues.count == rows * columns, "dense weights need rows × columns values")
    self.rows = rows
    self.columns = columns
    storage = .dense(denseValues)
  }

  /// A sparse matrix from its rows' entries; within a row, columns must increase.
  public init(rows: Int, columns: Int, rowStarts: [Int], columnIndices: [Int], values: [Double]) {
    precondition(rowStarts.count == rows + 1 && rowStarts.first == 0)
    precondition(rowStarts.last == values.count && columnIndices.count == values.count)
    self.rows = rows
    self.columns = columns
    storage = .sparse(rowStarts: rowStarts, columnIndices: columnIndices, values: values)
  }

  /// One row being built: a zeroed scratch row that remembers which columns were written, so
  /// that emitting it costs its entries, not the row's width (a MaxPool tree's or a Transpose's
  /// rows hold one to three entries over tens of thousands of columns).
  struct RowAccumulator {
    fileprivate var values: [Double]
    fileprivate var written: [Bool]
    fileprivate var columns: [Int] = []

    fileprivate init(width: Int) {
      values = [Double](repeating: 0, count: width)
      written = [Bool](repeating: false, count: width)
    }

    /// Adds `w` to column `j`.
    @inline(__always)
    mutating func add(_ j: Int, _ w: Double) {
      if !written[j] {
        written[j] = true
        columns.append(j)
      }
      values[j] += w
    }

    /// `self += g · (row i of matrix)`.
    mutating func add(row i: Int, of matrix: WeightMatrix, times g: Double) {
      matrix.forEachEntry(inRow: i) { j, w in add(j, g * w) }
    }

    /// Appends the non-zero entries, columns increasing, and clears the row for the next one.
    fileprivate mutating func flush(into columnIndices: inout [Int], _ entries: inout [Double]) {
      columns.sort()
      for j in columns {
        if values[j] != 0 {
          columnIndices.append(j)
          entries.append(values[j])
        }
        values[j] = 0
        written[j] = false
      }
      columns.removeAll(keepingCapacity: true)
    }
  }

  /// Builds a matrix row by row: `fill(i, &row)` adds row `i`'s entries. The result is sparse
  /// when at most a quarter of the entries are non-zero.
  static func build(rows: Int, columns: Int, fill: (Int, inout RowAccumulator) -> Void)
    -> WeightMatrix
  {
    var row = RowAccumulator(width: columns)
    var rowStarts = [0]
    var columnIndices: [Int] = []
    var values: [Double] = []
    rowStarts.reserveCapacity(rows + 1)
    for i in 0..<rows {
      fill(i, &row)
      row.flush(into: &columnIndices, &values)
      rowStarts.append(values.count)
    }
    let sparse = WeightMatrix(
      rows: rows, columns: columns, rowStarts: rowStarts, columnIndices: columnIndices,
      values: values)
    return values.count * 4 <= rows * columns ? sparse : sparse.densified()
  }

  /// The diagonal matrix of `values`, stored sparse.
  static func diagonal(_ values: [Double]) -> WeightMatrix {
    WeightMatrix(
      rows: values.count, columns: values.count, rowStarts: Array(0...values.count),
      columnIndices: Array(0..<values.count), values: values)
  }

  /// The identity, stored sparse.
  static func identity(_ size: Int) -> WeightMatrix {
    diagonal([Double](repeating: 1, count: size))
  }

  /// The same matrix stored dense.
  func densified() -> WeightMatrix {
    WeightMatrix(rows: rows, columns: columns, denseValues: denseValues)
  }

  /// Whether the matrix is stored by compressed rows.
  public var isSparse: Bool {
    if case .sparse = storage { return true }
    return false
  }

  /// The values held: every entry of a dense matrix, the stored entries of a sparse one.
  public var storedValues: [Double] {
    switch storage {
    case .dense(let values): return values
    case .sparse(_, _, let values): return values
    }
  }

  /// All `rows · columns` entries, row-major (for small matrices: tests, `.nnet` round trips).
  public var denseValues: [Double] {
    switch storage {
    case .dense(let values): return values
    case .sparse(let rowStarts, let columnIndices, let values):
      var dense = [Double](repeating: 0, count: rows * columns)
      for i in 0..<rows {
        for k in rowStarts[i]..<rowStarts[i + 1] {
          dense[i * columns + columnIndices[k]] = values[k]
        }
      }
      return dense
    }
  }

  /// Calls `body(j, w)` for every non-zero entry `w` of row `i`, columns increasing.
  @inline(__always)
  func forEachEntry(inRow i: Int, _ body: (Int, Double) -> Void) {
    switch storage {
    case .dense(let values):
      values.withUnsafeBufferPointer { w in
        let base = i * columns
        for j in 0..<columns where w[base + j] != 0 { body(j, w[base + j]) }
      }
    case .sparse(let rowStarts, let columnIndices, let values):
      columnIndices.withUnsafeBufferPointer { c in
        values.withUnsafeBufferPointer { w in
          for k in rowStarts[i]..<rowStarts[i + 1] { body(c[k], w[k]) }
        }
      }
    }
  }

  /// Row `i` as `columns` values.
  func row(_ i: Int) -> [Double] {
    var result = [Double](repeating: 0, count: columns)
    forEachEntry(inRow: i) { j, w in result[j] = w }
    return result
  }

  /// The number of non-zero entries of row `i`.
  func entryCount(inRow i: Int) -> Int {
    switch storage {
    case .dense:
      var count = 0
      forEachEntry(inRow: i) { _, _ in count += 1 }
      return count
    case .sparse(let rowStarts, _, _): return rowStarts[i + 1] - rowStarts[i]
    }
  }

  /// `W x + shift`, each row summed in column order.
  func multiply(_ x: [Double], adding shift: [Double]) -> [Double] {
    precondition(x.count == columns && shift.count == rows, "matrix product of the wrong size")
    var result = shift
    x.withUnsafeBufferPointer { x in
      switch storage {
      case .dense(let values):
        values.withUnsafeBufferPointer { w in
          for i in 0..<rows {
            var sum = 0.0
            let base = i * columns
            for j in 0..<columns { sum += w[base + j] * x[j] }
            result[i] += sum
          }
        }
      case .sparse(let rowStarts, let columnIndices, let values):
        columnIndices.withUnsafeBufferPointer { c in
          values.withUnsafeBufferPointer { w in
            for i in 0..<rows {
              var sum = 0.0
              for k in rowStarts[i]..<rowStarts[i + 1] { sum += w[k] * x[c[k]] }
              result[i] += sum
            }
          }
        }
      }
    }
    return result
  }

  /// `self · x + shift` with each dense row's sum taken in four interleaved partial sums, which
  /// vector registers hold: faster than `multiply`, and rounded differently. Only for values that
  /// steer a search (the optimiser's gradients), never for a bound or a verdict.
  /// With `onlyRows`, the rows where it is false are left at `shift` (a dense matrix's; a
  /// sparse one computes every row).
  func multiplyReordered(_ x: [Double], adding shift: [Double], onlyRows: [Bool]? = nil)
    -> [Double]
  {
    guard case .dense(let values) = storage, columns > 0 else { return multiply(x, adding: shift) }
    precondition(x.count == columns && shift.count == rows, "matrix product of the wrong size")
    precondition(onlyRows.map { $0.count == rows } ?? true, "row mask of the wrong size")
    var result = shift
    x.withUnsafeBufferPointer { x in
      values.withUnsafeBufferPointer { w in
        let input = UnsafeRawPointer(x.baseAddress!)
        for i in 0..<rows {
          if let onlyRows, !onlyRows[i] { continue }
          let row = w.baseAddress! + i * columns
          var partial = SIMD4<Double>.zero
          var j = 0
          while j + 4 <= columns {
            partial +=
              UnsafeRawPointer(row + j).loadUnaligned(as: SIMD4<Double>.self)
              * input.loadUnaligned(fromByteOffset: 8 * j, as: SIMD4<Double>.self)
            j += 4
          }
          var sum = partial.sum()
          while j < columns {
            sum += row[j] * x[j]
            j += 1
          }
          result[i] += sum
        }
      }
    }
    return result
  }

  /// `self · x + shift` for an `x` that differs from `base` in few coordinates, given
  /// `atBase = self · base + shift`: the columns of those coordinates, times the differences,
  /// added to `atBase`. Rounded differently from `multiply`, so, like `multiplyReordered`, only
  /// for values that steer a search. nil for sparse storage, or when more than a quarter of
  /// the coordinates differ (the full product is then as cheap).
  func multiply(_ x: [Double], near base: [Double], atBase: [Double]) -> [Double]? {
    guard case .dense(let values) = storage else { return nil }
    precondition(
      x.count == columns && base.count == columns && atBase.count == rows,
      "matrix product of the wrong size")
    var changed: [(column: Int, difference: Double)] = []
    for j in 0..<columns where x[j] != base[j] {
      changed.append((j, x[j] - base[j]))
      if 4 * changed.count > columns { return nil }
    }
    var result = atBase
    values.withUnsafeBufferPointer { w in
      result.withUnsafeMutableBufferPointer { result in
        for (j, difference) in changed {
          for i in 0..<rows { result[i] += w[i * columns + j] * difference }
        }
      }
    }
    return result
  }

  /// `target += g · (row i)`, the transposed product one row at a time (gradients,
  /// back-substitution).
  ///
  /// Written out per storage rather than through `forEachEntry`: this is the inner loop of
  /// back-substitution, and a closure per entry is slow where the optimiser does not inline it
  /// (debug builds, the test suite's).
  @inline(__always)
  func addRow(_ i: Int, times g: Double, into target: UnsafeMutableBufferPointer<Double>) {
    switch storage {
    case .dense(let values):
      values.withUnsafeBufferPointer { w in
        guard columns > 0 else { return }
        let (row, sum) = (w.baseAddress! + i * columns, target.baseAddress!)
        let factor = SIMD4(repeating: g)
        var j = 0
        while j + 4 <= columns {
          Self.add(
            factor * UnsafeRawPointer(row + j).loadUnaligned(as: SIMD4<Double>.self), at: sum + j)
          j += 4
        }
        while j < columns {
          sum[j] += g * row[j]
          j += 1
        }
      }
    case .sparse(let rowStarts, let columnIndices, let values):
      columnIndices.withUnsafeBufferPointer { c in
        values.withUnsafeBufferPointer { w in
          for k in rowStarts[i]..<rowStarts[i + 1] { target[c[k]] += g * w[k] }
        }
      }
    }
  }

  /// `target[r·stride + k] += g[r] · (row i)[k]` for the four rows `r` of `target` at once: the
  /// same sums as four `addRow` calls, in the same order, so the same rounding. Back-substitution
  /// of many rows reads each weight row once per four of them instead of once each: a dense first
  /// layer of MNIST (1.6 MB in doubles) no longer streams from the shared cache for every row.
  @inline(__always)
  func addRow(
    _ i: Int, times g: SIMD4<Double>, into target: UnsafeMutablePointer<Double>, stride: Int
  ) {
    let (t0, t1, t2, t3) = (target, target + stride, target + 2 * stride, target + 3 * stride)
    switch storage {
    case .dense(let values):
      values.withUnsafeBufferPointer { w in
        let row = w.baseAddress! + i * columns
        // Four columns per step in vector registers: the compiler cannot prove that the four
        // target rows do not overlap, and would otherwise go one scalar at a time.
        let (g0, g1, g2, g3) = (
          SIMD4(repeating: g[0]), SIMD4(repeating: g[1]), SIMD4(repeating: g[2]),
          SIMD4(repeating: g[3])
        )
        var k = 0
        while k + 4 <= columns {
          let weight = UnsafeRawPointer(row + k).loadUnaligned(as: SIMD4<Double>.self)
          Self.add(g0 * weight, at: t0 + k)
          Self.add(g1 * weight, at: t1 + k)
          Self.add(g2 * weight, at: t2 + k)
          Self.add(g3 * weight, at: t3 + k)
          k += 4
        }
        while k < columns {
          let weight = row[k]
          t0[k] += g[0] * weight
          t1[k] += g[1] * weight
          t2[k] += g[2] * weight
          t3[k] += g[3] * weight
          k += 1
        }
      }
    case .sparse(let rowStarts, let columnIndices, let values):
      columnIndices.withUnsafeBufferPointer { c in
        values.withUnsafeBufferPointer { w in
          for k in rowStarts[i]..<rowStarts[i + 1] {
            let (column, weight) = (c[k], w[k])
            t0[column] += g[0] * weight
            t1[column] += g[1] * weight
            t2[column] += g[2] * weight
            t3[column] += g[3] * weight
          }
        }
      }
    }
  }

  /// `target[r·stride + k] = Σₜ g[t][r] · (row rowIndices[t])[k]` for the four rows `r` of
  /// `target`, summed over `t` in order: the same sums in the same order as
  /// `addRow(_:times:into:stride:)` called for each `rowIndices[t]` in turn on a zeroed target,
  /// so the same rounding. Here each entry of `target` is summed in registers and stored once,
  /// where those calls load and store it once per weight row: back-substitution's inner loop
  /// was bound by those stores. False, with nothing written, for sparse storage.
  func sumRows(
    _ rowIndices: UnsafeBufferPointer<Int>, times g: UnsafeBufferPointer<SIMD4<Double>>,
    into target: UnsafeMutablePointer<Double>, stride: Int
  ) -> Bool {
    guard case .dense(let values) = storage else { return false }
    let (t0, t1, t2, t3) = (target, target + stride, target + 2 * stride, target + 3 * stride)
    values.withUnsafeBufferPointer { w in
      guard let base = w.baseAddress else { return }
      var k = 0
      while k + 4 <= columns {
        var (a0, a1, a2, a3) = (
          SIMD4<Double>.zero, SIMD4<Double>.zero, SIMD4<Double>.zero, SIMD4<Double>.zero
        )
        for t in 0..<rowIndices.count {
          let weight = UnsafeRawPointer(base + rowIndices[t] * columns + k).loadUnaligned(
            as: SIMD4<Double>.self)
          let factor = g[t]
          a0 += SIMD4(repeating: factor[0]) * weight
          a1 += SIMD4(repeating: factor[1]) * weight
          a2 += SIMD4(repeating: factor[2]) * weight
          a3 += SIMD4(repeating: factor[3]) * weight
        }
        UnsafeMutableRawPointer(t0 + k).storeBytes(of: a0, as: SIMD4<Double>.self)
        UnsafeMutableRawPointer(t1 + k).storeBytes(of: a1, as: SIMD4<Double>.self)
        UnsafeMutableRawPointer(t2 + k).storeBytes(of: a2, as: SIMD4<Double>.self)
        UnsafeMutableRawPointer(t3 + k).storeBytes(of: a3, as: SIMD4<Double>.self)
        k += 4
      }
      while k < columns {
        var sum = SIMD4<Double>.zero
        for t in 0..<rowIndices.count { sum += g[t] * base[rowIndices[t] * columns + k] }
        (t0[k], t1[k], t2[k], t3[k]) = (sum[0], sum[1], sum[2], sum[3])
        k += 1
      }
    }
    return true
  }

  /// `*target += increment`, four doubles at an address of any alignment.
  @inline(__always)
  private static func add(_ increment: SIMD4<Double>, at target: UnsafeMutablePointer<Double>) {
    let raw = UnsafeMutableRawPointer(target)
    raw.storeBytes(
      of: raw.loadUnaligned(as: SIMD4<Double>.self) + increment, as: SIMD4<Double>.self)
  }

  /// The matrix with every entry and `shift` checked finite; the first bad entry otherwise.
  func firstNonFinite() -> (row: Int, column: Int, value: Double)? {
    for i in 0..<rows {
      var bad: (Int, Double)?
      switch storage {
      case .dense(let values):
        for j in 0..<columns where !values[i * columns + j].isFinite {
          bad = (j, values[i * columns + j])
          break
        }
      case .sparse(let rowStarts, let columnIndices, let values):
        for k in rowStarts[i]..<rowStarts[i + 1] where !values[k].isFinite {
          bad = (columnIndices[k], values[k])
          break
        }
      }
      if let bad { return (i, bad.0, bad.1) }
    }
    return nil
  }

  /// `self · inner`: the product of two matrices, `rows × inner.columns`, built row by row.
  func composed(after inner: WeightMatrix) -> WeightMatrix {
    precondition(inner.rows == columns, "composed matrices do not chain")
    return WeightMatrix.build(rows: rows, columns: inner.columns) { i, row in
      forEachEntry(inRow: i) { k, w in row.add(row: k, of: inner, times: w) }
    }
  }
}
