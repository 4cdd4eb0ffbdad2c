import Foundation

/// The picture of a counterexample: the original, the counterexample and their difference side
/// by side, each pixel scaled up to a `scale`×`scale` block, on a grey background.
///
/// The two images share one grey scale: black at min(0, smallest value), white at
/// max(1, largest value), so inputs in [0, 1] keep their usual look. The difference
/// (counterexample − original) uses a diverging map symmetric about zero: white for no change,
/// red for increases, blue for decreases, full colour at the largest absolute change.
///
/// With a caption, each panel has its words above it (the label and its probability, or the
/// distance) and the difference a colour bar below it, labelled with the values its ends stand
/// for, so that the picture explains itself away from the report it came with.
public enum CounterexamplePicture {
  public static let background: [UInt8] = [128, 128, 128]
  /// The colour of the words: black reads better than white on the mid-grey background.
  public static let ink: [UInt8] = [0, 0, 0]

  /// What the words on the picture say. The caller supplies the labels and confidences, so the
  /// picture needs no network: a confidence is the probability the model gives the label (the
  /// softmax of its logits).
  public struct Caption: Sendable, Equatable {
    public var originalLabel: Int
    public var originalConfidence: Double
    public var counterexampleLabel: Int
    public var counterexampleConfidence: Double
    /// The norm as the caption writes it, e.g. "L1" or "Linf".
    public var normName: String
    /// The counterexample's distance from the original in that norm.
    public var distance: Double
    /// The name of each label, indexed by label, shown after its number when known.
    public var labelNames: [String]?

    public init(
      originalLabel: Int, originalConfidence: Double, counterexampleLabel: Int,
      counterexampleConfidence: Double, normName: String, distance: Double,
      labelNames: [String]? = nil
    ) {
      self.originalLabel = originalLabel
      self.originalConfidence = originalConfidence
      self.counterexampleLabel = counterexampleLabel
      self.counterexampleConfidence = counterexampleConfidence
      self.normName = normName
      self.distance = distance
      self.labelNames = labelNames
    }

    /// The words above each panel: original, counterexample, difference.
    public var texts: [String] { segments.map { $0.joined(separator: " ") } }

    /// The words above each panel in the pieces a line may break between: a class name such as
    /// "(Ankle boot)" stays on one line.
    var segments: [[String]] {
      [
        describe(originalLabel, originalConfidence),
        describe(counterexampleLabel, counterexampleConfidence),
        ["diff,", "\(normName)=\(String(format: "%.3g", distance))"],
      ]
    }

    /// "label 3", "(Pullover)", "p=0.97".
    func describe(_ label: Int, _ confidence: Double) -> [String] {
      var pieces = ["label \(label)"]
      if let labelNames, labelNames.indices.contains(label), !labelNames[label].isEmpty {
        pieces.append("(\(labelNames[label]))")
      }
      return pieces + ["p" + Self.probability(confidence)]
    }

    /// "=0.97"; ">0.99" and "<0.01" for what two decimals would show as certainty ("=1.00",
    /// "=0.00") but is not.
    static func probability(_ value: Double) -> String {
      let rounded = String(format: "%.2f", value)
      if rounded == "1.00" && value < 1 { return ">0.99" }
      if rounded == "0.00" && value > 0 { return "<0.01" }
      return "=" + rounded
    }
  }

  /// The picture; with a caption, words above the panels and a colour bar under the difference.
  ///
  /// With 3 `channels` (values in C, H, W order, as image networks take them) the images are in
  /// colour, each channel on the shared scale, and the difference panel shows, per pixel, the
  /// channel change of the largest magnitude.
  public static func make(
    original: [Double], counterexample: [Double], height: Int, width: Int, channels: Int = 1,
    caption: Caption? = nil, scale: Int = 4
  ) -> PNGImage {
    precondition(channels == 1 || channels == 3, "grey (1 channel) or colour (3 channels)")
    precondition(
      original.count == channels * height * width
        && counterexample.count == channels * height * width,
      "both images have channels × height × width values")
    precondition(scale >= 1, "scale ≥ 1")
    let all = original + counterexample
    let lower = min(0, all.min() ?? 0)
    let upper = max(1, all.max() ?? 1)
    func gray(_ value: Double) -> [UInt8] {
      let level = byte((value - lower) / (upper - lower))
      return [level, level, level]
    }
    let change = zip(counterexample, original).map { $0 - $1 }
    let plane = height * width
    var difference = [Double](repeating: 0, count: plane)
    for pixel in 0..<plane {
      for channel in 0..<channels
      where abs(change[channel * plane + pixel]) > abs(difference[pixel]) {
        difference[pixel] = change[channel * plane + pixel]
      }
    }
    let extent = difference.map(abs).max() ?? 0
    func diverging(_ value: Double) -> [UInt8] {
      let t = extent > 0 ? value / extent : 0
      let fade = byte(1 - abs(t))
      return t >= 0 ? [255, fade, fade] : [fade, fade, 255]
    }

    // Each panel gives a pixel's colour from its index in the plane.
    func image(_ values: [Double]) -> (Int) -> [UInt8] {
      guard channels == 3 else { return { gray(values[$0]) } }
      return { pixel in
        (0..<3).map { byte((values[$0 * plane + pixel] - lower) / (upper - lower)) }
      }
    }
    let panels: [(Int) -> [UInt8]] = [
      image(original), image(counterexample), { diverging(difference[$0]) },
    ]
    let layout = Layout(
      height: height, width: width, scale: scale, caption: caption, extent: extent)
    var image = PNGImage(
      width: layout.imageWidth, height: layout.imageHeight, colorType: .rgb, fill: background)
    for (index, panel) in panels.enumerated() {
      let left = layout.panelLeft(index)
      for row in 0..<height {
        for column in 0..<width {
          let color = panel(row * width + column)
          for dy in 0..<scale {
            for dx in 0..<scale {
              image[left + column * scale + dx, layout.panelTop + row * scale + dy] = color
            }
          }
        }
      }
    }
    guard caption != nil else { return image }

    for (index, lines) in layout.captionLines.enumerated() {
      for (number, line) in lines.enumerated() {
        let lineWidth = BitmapFont.width(of: line, scale: layout.textScale)
        BitmapFont.draw(
          line, into: &image,
          x: layout.columnLeft(index) + (layout.columnWidths[index] - lineWidth) / 2,
          y: layout.gap + number * layout.lineHeight, scale: layout.textScale, color: ink)
      }
    }

    // The bar runs from −extent (full blue) through 0 (white) to +extent (full red): the
    // difference map's whole range, its ends exactly the colours of the largest changes.
    let barLeft = layout.barLeft
    for x in 0..<layout.barWidth {
      let t = layout.barWidth > 1 ? 2 * Double(x) / Double(layout.barWidth - 1) - 1 : 0
      let color = diverging(t * extent)
      for y in layout.barTop..<(layout.barTop + layout.barHeight) {
        image[barLeft + x, y] = color
      }
    }
    let ticks = layout.ticks
    let tickTop = layout.barTop + layout.barHeight + layout.tickSpace
    let tickScale = Layout.tickScale
    BitmapFont.draw(ticks.low, into: &image, x: barLeft, y: tickTop, scale: tickScale, color: ink)
    BitmapFont.draw(
      ticks.zero, into: &image,
      x: barLeft + (layout.barWidth - BitmapFont.width(of: ticks.zero, scale: tickScale)) / 2,
      y: tickTop, scale: tickScale, color: ink)
    BitmapFont.draw(
      ticks.high, into: &image,
      x: barLeft + layout.barWidth - BitmapFont.width(of: ticks.high, scale: tickScale),
      y: tickTop, scale: tickScale, color: ink)
    return image
  }

  /// The words at the colour bar's ends and middle: "-0.02", "0", "+0.02".
  static func scaleLabels(extent: Double) -> (low: String, zero: String, high: String) {
    let magnitude = String(format: "%.2g", extent)
    return ("-" + magnitude, "0", "+" + magnitude)
  }

  /// Where everything goes. Without a caption: the panels alone, `gap` apart and around. With
  /// one: each panel centred in a column wide enough for its caption's widest piece (the caption
  /// wraps between pieces to the column), the captions above, the colour bar and its labels below
  /// the difference.
  struct Layout {
    /// Small print for the colour bar's labels, which must fit three to a panel's width.
    static let tickScale = 1

    let scale: Int
    let gap: Int
    let panelWidth: Int
    let panelHeight: Int
    /// Captions at twice the font's size once the panels are large enough to match them.
    let textScale: Int
    let lineHeight: Int
    let captionLines: [[String]]
    let columnWidths: [Int]
    let panelTop: Int
    let barWidth: Int
    let barTop: Int
    let barHeight: Int
    let tickSpace: Int
    let ticks: (low: String, zero: String, high: String)
    let imageWidth: Int
    let imageHeight: Int

    init(height: Int, width: Int, scale: Int, caption: Caption?, extent: Double) {
      self.scale = scale
      gap = 2 * scale
      panelWidth = width * scale
      panelHeight = height * scale
      textScale = scale >= 4 ? 2 : 1
      lineHeight = (BitmapFont.glyphHeight + 1) * textScale
      barHeight = 2 * scale
      tickSpace = max(1, scale / 2)
      ticks = scaleLabels(extent: extent)
      guard let caption else {
        captionLines = []
        columnWidths = Array(repeating: panelWidth, count: 3)
        panelTop = gap
        barWidth = 0
        barTop = 0
        imageWidth = 3 * panelWidth + 4 * gap
        imageHeight = panelHeight + 2 * gap
        return
      }
      // Locals: the closures below may not capture a half-initialised self.
      let (textScale, panelWidth) = (textScale, panelWidth)
      let segments = caption.segments
      let segmentWidths = segments.map { pieces in
        pieces.map { BitmapFont.width(of: $0, scale: textScale) }.max() ?? 0
      }
      // Room for the three scale labels with two glyphs' space between them.
      let tickWidths = [ticks.low, ticks.zero, ticks.high].map {
        BitmapFont.width(of: $0, scale: Self.tickScale)
      }
      let roomy = max(
        panelWidth, tickWidths.reduce(0, +) + 4 * BitmapFont.advance * Self.tickScale)
      // An odd width, so that the middle pixel, under the "0", is exactly no change (white).
      let barWidth = roomy.isMultiple(of: 2) ? roomy - 1 : roomy
      self.barWidth = barWidth
      let widths = (0..<3).map { index in
        max(panelWidth, segmentWidths[index], index == 2 ? barWidth : 0)
      }
      columnWidths = widths
      captionLines = zip(segments, widths).map { pieces, width in
        Self.wrap(pieces, width: width, scale: textScale)
      }
      let captionHeight = (captionLines.map(\.count).max() ?? 0) * lineHeight
      panelTop = gap + captionHeight + scale
      barTop = panelTop + panelHeight + scale
      imageWidth = widths.reduce(0, +) + 4 * gap
      imageHeight =
        barTop + barHeight + tickSpace + BitmapFont.height(scale: Self.tickScale) + gap
    }

    func columnLeft(_ index: Int) -> Int {
      gap + columnWidths[..<index].reduce(0, +) + index * gap
    }

    func panelLeft(_ index: Int) -> Int {
      columnLeft(index) + (columnWidths[index] - panelWidth) / 2
    }

    var barLeft: Int { columnLeft(2) + (columnWidths[2] - barWidth) / 2 }

    /// `pieces` joined by spaces into lines at most `width` pixels wide (a wider piece alone).
    static func wrap(_ pieces: [String], width: Int, scale: Int) -> [String] {
      var lines: [String] = []
      for piece in pieces {
        if let last = lines.last, BitmapFont.width(of: last + " " + piece, scale: scale) <= width {
          lines[lines.count - 1] = last + " " + piece
        } else {
          lines.append(piece)
        }
      }
      return lines
    }
  }

  /// `value` in [0, 1] as a byte, clamped, rounded.
  static func byte(_ value: Double) -> UInt8 {
    guard value.isFinite else { return 0 }
    return UInt8((min(max(value, 0), 1) * 255).rounded())
  }
}
