/// A 5×7 pixel font for the words on ReluMIP's pictures: digits, letters of both cases and the
/// punctuation captions use, each glyph in a cell 5 pixels wide and 8 high (7 rows above the
/// baseline, one below it for the tails of g, j, p, q, y and the comma).
///
/// The glyphs are drawn below as sheets, `#` for ink and `.` for paper, one glyph after another
/// with a space between, so that a reader sees (and can fix) the letters themselves.
enum BitmapFont {
  static let glyphWidth = 5
  static let glyphHeight = 8
  /// From one glyph's left edge to the next one's: the glyph and a column of space.
  static let advance = glyphWidth + 1
  /// Drawn for a character the font lacks, so that a missing glyph shows instead of vanishing.
  static let replacement: Character = "?"

  /// Each glyph's rows, top to bottom; bit 4 of a row is its leftmost pixel.
  static let glyphs: [Character: [UInt8]] = {
    var glyphs: [Character: [UInt8]] = [:]
    for sheet in sheets {
      let lines = sheet.pictures.split(separator: "\n").map { $0.split(separator: " ") }
      precondition(lines.count == glyphHeight, "a sheet of \(sheet.characters) has 8 lines")
      for (index, character) in sheet.characters.enumerated() {
        glyphs[character] = lines.map { line in
          precondition(
            line.count == sheet.characters.count, "a glyph of \(sheet.characters) is missing")
          let row = line[index]
          precondition(row.count == glyphWidth, "'\(character)' is 5 pixels wide")
          return row.reduce(0) { bits, pixel in bits << 1 | (pixel == "#" ? 1 : 0) }
        }
      }
    }
    return glyphs
  }()

  /// The rows of `character`'s glyph, or of the replacement's if the font lacks it.
  static func glyph(_ character: Character) -> [UInt8] {
    glyphs[character] ?? glyphs[replacement]!
  }

  /// The width in pixels of `text` drawn at `scale` (no space after the last glyph).
  static func width(of text: String, scale: Int) -> Int {
    text.isEmpty ? 0 : (text.count * advance - 1) * scale
  }

  /// The height in pixels of a line of text at `scale`, descender row included.
  static func height(scale: Int) -> Int { glyphHeight * scale }

  /// Draws `text` with its cell's top left corner at (`x`, `y`), each font pixel a
  /// `scale`×`scale` block of `color`; what falls outside the image is left out.
  static func draw(
    _ text: String, into image: inout PNGImage, x: Int, y: Int, scale: Int, color: [UInt8]
  ) {
    for (index, character) in text.enumerated() {
      let left = x + index * advance * scale
      for (row, bits) in glyph(character).enumerated() {
        for column in 0..<glyphWidth where bits & (1 << (glyphWidth - 1 - column)) != 0 {
          for dy in 0..<scale {
            for dx in 0..<scale {
              let (px, py) = (left + column * scale + dx, y + row * scale + dy)
              if px >= 0 && px < image.width && py >= 0 && py < image.height {
                image[px, py] = color
              }
            }
          }
        }
      }
    }
  }

  private static let sheets: [(characters: String, pictures: String)] = [
    (
      "0123456789",
      """
      .###. ..#.. .###. ##### ...#. ##### ..##. ##### .###. .###.
      #...# .##.. #...# ...#. ..##. #.... .#... ....# #...# #...#
      #..## ..#.. ....# ..#.. .#.#. ####. #.... ...#. #...# #...#
      #.#.# ..#.. ...#. ...#. #..#. ....# ####. ..#.. .###. .####
      ##..# ..#.. ..#.. ....# ##### ....# #...# .#... #...# ....#
      #...# ..#.. .#... #...# ...#. #...# #...# .#... #...# ...#.
      .###. .###. ##### .###. ...#. .###. .###. .#... .###. .##..
      ..... ..... ..... ..... ..... ..... ..... ..... ..... .....
      """
    ),
    (
      "ABCDEFGHIJKLM",
      """
      .###. ####. .###. ###.. ##### ##### .###. #...# .###. ..### #...# #.... #...#
      #...# #...# #...# #..#. #.... #.... #...# #...# ..#.. ...#. #..#. #.... ##.##
      #...# #...# #.... #...# #.... #.... #.... #...# ..#.. ...#. #.#.. #.... #.#.#
      ##### ####. #.... #...# ####. ####. #.### ##### ..#.. ...#. ##... #.... #.#.#
      #...# #...# #.... #...# #.... #.... #...# #...# ..#.. ...#. #.#.. #.... #...#
      #...# #...# #...# #..#. #.... #.... #...# #...# ..#.. #..#. #..#. #.... #...#
      #...# ####. .###. ###.. ##### #.... .#### #...# .###. .##.. #...# ##### #...#
      ..... ..... ..... ..... ..... ..... ..... ..... ..... ..... ..... ..... .....
      """
    ),
    (
      "NOPQRSTUVWXYZ",
      """
      #...# .###. ####. .###. ####. .#### ##### #...# #...# #...# #...# #...# #####
      #...# #...# #...# #...# #...# #.... ..#.. #...# #...# #...# #...# #...# ....#
      ##..# #...# #...# #...# #...# #.... ..#.. #...# #...# #...# .#.#. .#.#. ...#.
      #.#.# #...# ####. #...# ####. .###. ..#.. #...# #...# #.#.# ..#.. ..#.. ..#..
      #..## #...# #.... #.#.# #.#.. ....# ..#.. #...# #...# #.#.# .#.#. ..#.. .#...
      #...# #...# #.... #..#. #..#. ....# ..#.. #...# .#.#. #.#.# #...# ..#.. #....
      #...# .###. #.... .##.# #...# ####. ..#.. .###. ..#.. .#.#. #...# ..#.. #####
      ..... ..... ..... ..... ..... ..... ..... ..... ..... ..... ..... ..... .....
      """
    ),
    (
      "abcdefghijklm",
      """
      ..... #.... ..... ....# ..... ..##. ..... #.... ..#.. ...#. #.... .##.. .....
      ..... #.... ..... ....# ..... .#..# ..... #.... ..... ..... #.... ..#.. .....
      .###. #.##. .###. .##.# .###. .#... .#### #.##. .##.. ..##. #..#. ..#.. ##.#.
      ....# ##..# #.... #..## #...# ###.. #...# ##..# ..#.. ...#. #.#.. ..#.. #.#.#
      .#### #...# #.... #...# ##### .#... #...# #...# ..#.. ...#. ##... ..#.. #.#.#
      #...# #...# #...# #...# #.... .#... .#### #...# ..#.. ...#. #.#.. ..#.. #...#
      .#### ####. .###. .#### .###. .#... ....# #...# .###. #..#. #..#. .###. #...#
      ..... ..... ..... ..... ..... ..... .###. ..... ..... .##.. ..... ..... .....
      """
    ),
    (
      "nopqrstuvwxyz",
      """
      ..... ..... ..... ..... ..... ..... .#... ..... ..... ..... ..... ..... .....
      ..... ..... ..... ..... ..... ..... .#... ..... ..... ..... ..... ..... .....
      #.##. .###. ####. .#### #.##. .#### ###.. #...# #...# #...# #...# #...# #####
      ##..# #...# #...# #...# ##..# #.... .#... #...# #...# #...# .#.#. #...# ...#.
      #...# #...# #...# #...# #.... .###. .#... #...# #...# #.#.# ..#.. #...# ..#..
      #...# #...# ####. .#### #.... ....# .#..# #..## .#.#. #.#.# .#.#. .#### .#...
      #...# .###. #.... ....# #.... ####. ..##. .##.# ..#.. .#.#. #...# ....# #####
      ..... ..... #.... ....# ..... ..... ..... ..... ..... ..... ..... .###. .....
      """
    ),
    (
      " .,-+=:/()|?<>",
      """
      ..... ..... ..... ..... ..... ..... ..... ..... ...#. .#... ..#.. .###. ...#. .#...
      ..... ..... ..... ..... ..#.. ..... .##.. ....# ..#.. ..#.. ..#.. #...# ..#.. ..#..
      ..... ..... ..... ..... ..#.. ##### .##.. ...#. .#... ...#. ..#.. ....# .#... ...#.
      ..... ..... ..... ##### ##### ..... ..... ..#.. .#... ...#. ..#.. ...#. #.... ....#
      ..... ..... ..... ..... ..#.. ##### .##.. .#... .#... ...#. ..#.. ..#.. .#... ...#.
      ..... .##.. .##.. ..... ..#.. ..... .##.. #.... ..#.. ..#.. ..#.. ..... ..#.. ..#..
      ..... .##.. ..#.. ..... ..... ..... ..... ..... ...#. .#... ..#.. ..#.. ...#. .#...
      ..... ..... .#... ..... ..... ..... ..... ..... ..... ..... ..... ..... ..... .....
      """
    ),
  ]
}
