/// The picture of a counterexample: the original, the counterexample and their difference side
/// by side, each pixel scaled up to a `scale`×`scale` block, on a grey background.
///
/// The two images share one grey scale: black at min(0, smallest value), white at
/// max(1, largest value), so inputs in [0, 1] keep their usual look. The difference
/// (counterexample − original) uses a diverging map symmetric about zero: white for no change,
/// red for increases, blue for decreases, full colour at the largest absolute change.
public enum CounterexamplePicture {
  public static let background: [UInt8] = [128, 128, 128]

  public static func make(
    original: [Double], counterexample: [Double], height: Int, width: Int, scale: Int = 4
  ) -> PNGImage {
    precondition(
      original.count == height * width && counterexample.count == height * width,
      "both images have height × width values")
    precondition(scale >= 1, "scale ≥ 1")
    let gap = 2 * scale
    let panelWidth = width * scale
    let panelHeight = height * scale
    var image = PNGImage(
      width: 3 * panelWidth + 4 * gap, height: panelHeight + 2 * gap, colorType: .rgb,
      fill: background)

    let all = original + counterexample
    let lower = min(0, all.min() ?? 0)
    let upper = max(1, all.max() ?? 1)
    func gray(_ value: Double) -> [UInt8] {
      let level = byte((value - lower) / (upper - lower))
      return [level, level, level]
    }
    let difference = zip(counterexample, original).map { $0 - $1 }
    let extent = difference.map(abs).max() ?? 0
    func diverging(_ value: Double) -> [UInt8] {
      let t = extent > 0 ? value / extent : 0
      let fade = byte(1 - abs(t))
      return t >= 0 ? [255, fade, fade] : [fade, fade, 255]
    }

    let panels: [(values: [Double], color: (Double) -> [UInt8])] = [
      (original, gray), (counterexample, gray), (difference, diverging),
    ]
    for (index, panel) in panels.enumerated() {
      let left = gap + index * (panelWidth + gap)
      for row in 0..<height {
        for column in 0..<width {
          let color = panel.color(panel.values[row * width + column])
          for dy in 0..<scale {
            for dx in 0..<scale {
              image[left + column * scale + dx, gap + row * scale + dy] = color
            }
          }
        }
      }
    }
    return image
  }

  /// `value` in [0, 1] as a byte, clamped, rounded.
  static func byte(_ value: Double) -> UInt8 {
    guard value.isFinite else { return 0 }
    return UInt8((min(max(value, 0), 1) * 255).rounded())
  }
}
