//! The one font of every document, shipped inside the binary (see `fonts/README.md`),
//! parsed once per process, and the measure of text set in it.

use std::sync::OnceLock;

use printpdf::ParsedFont;

use crate::ReceiptError;

/// Noto Sans CJK SC Regular, cut to Latin, Greek, punctuation and the 20,992 URO
/// ideographs.
const FONT: &[u8] = include_bytes!("../fonts/NotoSansSC-Regular-subset.otf");

static PARSED: OnceLock<Option<Face>> = OnceLock::new();

/// The parsed font with what layout needs at hand.
#[derive(Debug)]
pub(crate) struct Face {
    pub parsed: ParsedFont,
    units_per_em: f32,
}

/// The shared face, parsed on first use (a few milliseconds, once per process).
pub(crate) fn face() -> Result<&'static Face, ReceiptError> {
    PARSED
        .get_or_init(|| {
            let parsed = ParsedFont::from_bytes(FONT, 0, &mut Vec::new())?;
            let units_per_em = f32::from(parsed.font_metrics.units_per_em.max(1));
            Some(Face {
                parsed,
                units_per_em,
            })
        })
        .as_ref()
        .ok_or(ReceiptError::Font)
}

impl Face {
    /// Whether the font can draw `c`.
    pub fn has(&self, c: char) -> bool {
        self.parsed.lookup_glyph_index(u32::from(c)).is_some()
    }

    /// The advance of `c` at `size` points, in points; a character the font lacks is
    /// measured as the `[U+XXXX]` marker drawn in its place.
    pub fn advance(&self, c: char, size: f32) -> f32 {
        match self.parsed.lookup_glyph_index(u32::from(c)) {
            Some(gid) => {
                f32::from(self.parsed.get_horizontal_advance(gid)) * size / self.units_per_em
            }
            None => missing_marker(c)
                .chars()
                .map(|m| self.advance(m, size))
                .sum(),
        }
    }

    /// The width of `text` at `size` points, in points.
    pub fn width(&self, text: &str, size: f32) -> f32 {
        text.chars().map(|c| self.advance(c, size)).sum()
    }
}

/// What is printed instead of a character the font lacks: visible, and searchable.
pub(crate) fn missing_marker(c: char) -> String {
    format!("[U+{:04X}]", u32::from(c))
}
