//! Layout on A4: text that wraps inside its cell (never drawn past it, never cut), ruled
//! tables whose rows move to the next page whole, and images scaled into a box.
//!
//! Positions are millimetres from the top-left corner of the page; PDF's points from the
//! bottom-left are computed only when an operation is written.

use std::collections::{BTreeMap, BTreeSet};

use onsite_domain::signature::sha256_hex;

use printpdf::{
    Color, FontId, Line, LinePoint, Op, PaintMode, PdfFontHandle, Point, Pt, RawImage, Rect, Rgb,
    TextItem, TextRenderingMode, XObjectId, XObjectTransform,
};

use crate::ReceiptError;
use crate::font::{Face, face, missing_marker};

pub(crate) const PAGE_W: f32 = 210.0;
pub(crate) const PAGE_H: f32 = 297.0;
pub(crate) const MARGIN: f32 = 14.0;
pub(crate) const CONTENT_W: f32 = PAGE_W - 2.0 * MARGIN;
const BOTTOM: f32 = PAGE_H - 14.0;

/// Padding inside a table cell, mm.
const PAD_X: f32 = 1.4;
const PAD_Y: f32 = 0.8;

pub(crate) fn pt(mm: f32) -> Pt {
    Pt(mm * 72.0 / 25.4)
}

fn mm(pt: f32) -> f32 {
    pt * 25.4 / 72.0
}

/// Line height for a font size in points, mm.
pub(crate) fn line_height(size: f32) -> f32 {
    mm(size * 1.25)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Align {
    Left,
    Center,
    Right,
}

/// One table cell.
#[derive(Debug, Clone)]
pub(crate) struct Cell {
    pub text: String,
    pub align: Align,
    /// A label cell: shaded background.
    pub label: bool,
    pub bold: bool,
    /// Printed in red (bold): what the reader must not miss.
    pub warn: bool,
}

impl Cell {
    pub fn new(text: impl Into<String>) -> Cell {
        Cell {
            text: text.into(),
            align: Align::Left,
            label: false,
            bold: false,
            warn: false,
        }
    }
    pub fn label(text: impl Into<String>) -> Cell {
        Cell {
            label: true,
            ..Cell::new(text)
        }
    }
    pub fn right(text: impl Into<String>) -> Cell {
        Cell {
            align: Align::Right,
            ..Cell::new(text)
        }
    }
    pub fn center(text: impl Into<String>) -> Cell {
        Cell {
            align: Align::Center,
            ..Cell::new(text)
        }
    }
    pub fn bold(mut self) -> Cell {
        self.bold = true;
        self
    }
    /// In red when `warn`.
    pub fn warn_if(mut self, warn: bool) -> Cell {
        self.warn = warn;
        self
    }
}

/// What is repeated at the top of every page of a document.
#[derive(Debug, Clone)]
pub(crate) struct Head {
    pub company: String,
    pub company_line: String,
    pub title: String,
    pub number: String,
    /// `第一联 存根`… on the repair record's copies.
    pub copy: Option<String>,
    /// `（续）` / `(continued)`.
    pub continued: String,
}

/// A laid-out document: the pages' operations, the characters the font lacked, and the
/// images the pages use.
#[derive(Debug)]
pub(crate) struct Finished {
    pub pages: Vec<Vec<Op>>,
    pub missing: BTreeSet<char>,
    pub images: Vec<(XObjectId, RawImage)>,
}

/// A document being laid out: finished pages, the page being drawn, and where.
#[derive(Debug)]
pub(crate) struct Canvas {
    face: &'static Face,
    font: FontId,
    pub pages: Vec<Vec<Op>>,
    ops: Vec<Op>,
    /// The next free line, mm from the top.
    pub y: f32,
    pub missing: BTreeSet<char>,
    pub images: Vec<(XObjectId, RawImage)>,
    image_ids: BTreeMap<String, (XObjectId, f32, f32)>,
    head: Option<Head>,
    /// Pages of the current part (a copy of the repair record restarts at 1).
    part_pages: usize,
}

impl Canvas {
    pub fn new(font: FontId) -> Result<Canvas, ReceiptError> {
        Ok(Canvas {
            face: face()?,
            font,
            pages: Vec::new(),
            ops: Vec::new(),
            y: MARGIN,
            missing: BTreeSet::new(),
            images: Vec::new(),
            image_ids: BTreeMap::new(),
            head: None,
            part_pages: 0,
        })
    }

    /// Starts a new part (a document, or one copy of it) on a fresh page.
    pub fn start(&mut self, head: Head) {
        self.flush();
        self.head = Some(head);
        self.part_pages = 0;
        self.new_page();
    }

    fn flush(&mut self) {
        if !self.ops.is_empty() {
            self.pages.push(std::mem::take(&mut self.ops));
        }
    }

    /// Closes the page being drawn and starts the next with the document's head.
    pub fn new_page(&mut self) {
        self.flush();
        self.y = MARGIN;
        self.part_pages += 1;
        self.ops.push(Op::SetOutlineColor {
            col: Color::Rgb(Rgb::new(0.0, 0.0, 0.0, None)),
        });
        if let Some(head) = self.head.clone() {
            self.draw_head(&head);
        }
    }

    fn draw_head(&mut self, h: &Head) {
        let top = self.y;
        // The company name stays clear of the copy label: smaller type when it is long.
        let label_w = h
            .copy
            .as_ref()
            .map_or(0.0, |c| mm(self.face.width(c, 10.0)) + 6.0);
        let room = CONTENT_W - 2.0 * label_w;
        let mut size = 14.0;
        while size > 8.0 && self.width(&h.company, size) > room {
            size -= 0.5;
        }
        self.text_centered(PAGE_W / 2.0, top + 5.0, size, &h.company, true);
        if !h.company_line.is_empty() {
            self.text_centered(PAGE_W / 2.0, top + 9.5, 7.5, &h.company_line, false);
        }
        let mut title = h.title.clone();
        if self.part_pages > 1 {
            title.push_str(&h.continued);
        }
        self.text_centered(PAGE_W / 2.0, top + 16.5, 13.0, &title, true);
        if let Some(copy) = &h.copy {
            // The copy label in a box at the top right: what tells the three pages apart.
            let w = mm(self.face.width(copy, 10.0)) + 4.0;
            let x = PAGE_W - MARGIN - w;
            self.rect(x, top, w, 7.0, false);
            self.text(x + 2.0, top + 5.0, 10.0, copy, true);
        }
        let number = &h.number;
        let w = mm(self.face.width(number, 9.0));
        self.text(PAGE_W - MARGIN - w, top + 21.0, 9.0, number, false);
        self.hline(MARGIN, PAGE_W - MARGIN, top + 22.5, 0.8);
        self.y = top + 24.5;
    }

    /// Room left on this page, mm.
    pub fn room(&self) -> f32 {
        BOTTOM - self.y
    }

    /// Moves to a new page unless `height` mm still fit on this one.
    pub fn ensure(&mut self, height: f32) {
        if height > self.room() {
            self.new_page();
        }
    }

    /// The finished pages (the one being drawn included).
    pub fn finish(mut self) -> Finished {
        self.flush();
        Finished {
            pages: self.pages,
            missing: self.missing,
            images: self.images,
        }
    }

    // --- text -------------------------------------------------------------------------

    pub fn width(&self, text: &str, size: f32) -> f32 {
        mm(self.face.width(text, size))
    }

    /// Draws one line of text with its baseline at `y`; characters the font lacks come out
    /// as a red `[U+XXXX]`.
    pub fn text(&mut self, x: f32, y: f32, size: f32, text: &str, bold: bool) {
        if text.is_empty() {
            return;
        }
        let mut x = x;
        let mut run = String::new();
        for c in text.chars() {
            if self.face.has(c) || c == '\n' {
                run.push(c);
            } else {
                self.missing.insert(c);
                x = self.run(x, y, size, &std::mem::take(&mut run), bold, false);
                x = self.run(x, y, size, &missing_marker(c), bold, true);
            }
        }
        self.run(x, y, size, &run, bold, false);
    }

    fn run(&mut self, x: f32, y: f32, size: f32, text: &str, bold: bool, red: bool) -> f32 {
        if text.is_empty() {
            return x;
        }
        if red {
            self.ops.push(Op::SetFillColor {
                col: Color::Rgb(Rgb::new(0.8, 0.0, 0.0, None)),
            });
        }
        self.ops.push(Op::StartTextSection);
        if bold {
            // The font has one weight: headings are filled and stroked thinly.
            self.ops.push(Op::SetTextRenderingMode {
                mode: TextRenderingMode::FillStroke,
            });
            self.ops.push(Op::SetOutlineThickness { pt: Pt(0.35) });
        }
        self.ops.push(Op::SetFont {
            font: PdfFontHandle::External(self.font.clone()),
            size: Pt(size),
        });
        self.ops.push(Op::SetTextCursor {
            pos: Point {
                x: pt(x),
                y: pt(PAGE_H - y),
            },
        });
        self.ops.push(Op::ShowText {
            items: vec![TextItem::Text(text.to_owned())],
        });
        if bold {
            self.ops.push(Op::SetTextRenderingMode {
                mode: TextRenderingMode::Fill,
            });
        }
        self.ops.push(Op::EndTextSection);
        if red {
            self.ops.push(Op::SetFillColor {
                col: Color::Rgb(Rgb::new(0.0, 0.0, 0.0, None)),
            });
        }
        x + mm(self.face.width(text, size))
    }

    /// Text in red: what the reader must not miss (a signature that no longer counts, a
    /// measurement out of its limits). Bold is drawn with an outline: red too, or the
    /// black outline of small text hides the red fill.
    pub fn warn(&mut self, x: f32, y: f32, size: f32, text: &str) {
        let red = Color::Rgb(Rgb::new(0.8, 0.0, 0.0, None));
        let black = Color::Rgb(Rgb::new(0.0, 0.0, 0.0, None));
        self.ops.push(Op::SetFillColor { col: red.clone() });
        self.ops.push(Op::SetOutlineColor { col: red });
        self.text(x, y, size, text, true);
        self.ops.push(Op::SetFillColor { col: black.clone() });
        self.ops.push(Op::SetOutlineColor { col: black });
    }

    pub fn text_centered(&mut self, cx: f32, y: f32, size: f32, text: &str, bold: bool) {
        let w = self.width(text, size);
        self.text(cx - w / 2.0, y, size, text, bold);
    }

    /// Breaks `text` into lines no wider than `width` mm: Chinese between any two
    /// characters, Latin at spaces (a word longer than the line is broken), closing
    /// punctuation never at the start of a line, `\n` always.
    pub fn wrap(&self, text: &str, width: f32, size: f32) -> Vec<String> {
        let limit = width.max(1.0) * 72.0 / 25.4;
        let mut lines = Vec::new();
        for para in text.split('\n') {
            let mut line = String::new();
            let mut line_w = 0.0;
            for token in tokens(para) {
                let w = self.face.width(&token, size);
                if line_w + w <= limit || line.is_empty() && w <= limit {
                    line_w += w;
                    line.push_str(&token);
                    continue;
                }
                if is_closing(&token) && !line.is_empty() {
                    // Hang the punctuation mark rather than start a line with it; the cell
                    // padding takes the fraction of a character.
                    line.push_str(&token);
                    lines.push(std::mem::take(&mut line));
                    line_w = 0.0;
                    continue;
                }
                if !line.is_empty() {
                    lines.push(std::mem::take(&mut line).trim_end().to_owned());
                    line_w = 0.0;
                }
                if token.trim().is_empty() {
                    continue;
                }
                if w <= limit {
                    line_w = w;
                    line = token;
                } else {
                    // A word wider than the line: break it by characters.
                    for c in token.chars() {
                        let cw = self.face.advance(c, size);
                        if line_w + cw > limit && !line.is_empty() {
                            lines.push(std::mem::take(&mut line));
                            line_w = 0.0;
                        }
                        line.push(c);
                        line_w += cw;
                    }
                }
            }
            lines.push(line.trim_end().to_owned());
        }
        lines
    }

    /// A section heading.
    pub fn heading(&mut self, text: &str) {
        self.ensure(6.0 + 10.0);
        self.y += 4.6;
        self.text(MARGIN, self.y, 9.5, text, true);
        self.y += 1.2;
    }

    pub fn gap(&mut self, mm: f32) {
        self.y += mm;
    }

    // --- lines and tables ----------------------------------------------------------------

    pub fn hline(&mut self, x0: f32, x1: f32, y: f32, thickness: f32) {
        self.ops.push(Op::SetOutlineThickness { pt: Pt(thickness) });
        self.ops.push(Op::DrawLine {
            line: Line {
                points: vec![
                    LinePoint {
                        p: Point {
                            x: pt(x0),
                            y: pt(PAGE_H - y),
                        },
                        bezier: false,
                    },
                    LinePoint {
                        p: Point {
                            x: pt(x1),
                            y: pt(PAGE_H - y),
                        },
                        bezier: false,
                    },
                ],
                is_closed: false,
            },
        });
    }

    pub fn rect(&mut self, x: f32, y: f32, w: f32, h: f32, shaded: bool) {
        if shaded {
            self.ops.push(Op::SetFillColor {
                col: Color::Rgb(Rgb::new(0.93, 0.94, 0.96, None)),
            });
            self.ops.push(Op::DrawRectangle {
                rectangle: Rect {
                    x: pt(x),
                    y: pt(PAGE_H - y - h),
                    width: pt(w),
                    height: pt(h),
                    mode: Some(PaintMode::Fill),
                    winding_order: None,
                },
            });
            self.ops.push(Op::SetFillColor {
                col: Color::Rgb(Rgb::new(0.0, 0.0, 0.0, None)),
            });
        }
        self.ops.push(Op::SetOutlineThickness { pt: Pt(0.5) });
        self.ops.push(Op::DrawRectangle {
            rectangle: Rect {
                x: pt(x),
                y: pt(PAGE_H - y - h),
                width: pt(w),
                height: pt(h),
                mode: Some(PaintMode::Stroke),
                winding_order: None,
            },
        });
    }

    /// The height a row of cells needs, mm.
    pub fn row_height(&self, widths: &[f32], cells: &[Cell], size: f32) -> f32 {
        let lines = widths
            .iter()
            .zip(cells)
            .map(|(w, c)| self.wrap(&c.text, w - 2.0 * PAD_X, size).len())
            .max()
            .unwrap_or(1)
            .max(1);
        lines as f32 * line_height(size) + 2.0 * PAD_Y
    }

    /// Draws one ruled row at the current line (which the caller made room for).
    pub fn row(&mut self, widths: &[f32], cells: &[Cell], size: f32) {
        self.row_at(0.0, widths, cells, size);
    }

    /// A row starting `dx` mm right of the margin.
    pub fn row_at(&mut self, dx: f32, widths: &[f32], cells: &[Cell], size: f32) {
        let h = self.row_height(widths, cells, size);
        let lh = line_height(size);
        let mut x = MARGIN + dx;
        let top = self.y;
        for (w, cell) in widths.iter().zip(cells) {
            self.rect(x, top, *w, h, cell.label);
            for (i, line) in self
                .wrap(&cell.text, w - 2.0 * PAD_X, size)
                .iter()
                .enumerate()
            {
                let lw = self.width(line, size);
                let lx = match cell.align {
                    Align::Left => x + PAD_X,
                    Align::Center => x + (w - lw) / 2.0,
                    Align::Right => x + w - PAD_X - lw,
                };
                let baseline = top + PAD_Y + lh * (i as f32 + 1.0) - lh * 0.27;
                if cell.warn {
                    self.warn(lx, baseline, size, line);
                } else {
                    self.text(lx, baseline, size, line, cell.bold);
                }
            }
            x += w;
        }
        self.y = top + h;
    }

    /// A table: the header row, then the rows; a row that does not fit on the page goes
    /// whole to the next one, under the header again.
    pub fn table(&mut self, widths: &[f32], header: &[Cell], rows: &[Vec<Cell>], size: f32) {
        let hh = self.row_height(widths, header, size);
        let first = rows
            .first()
            .map_or(0.0, |r| self.row_height(widths, r, size));
        self.ensure(hh + first);
        self.row(widths, header, size);
        for r in rows {
            let h = self.row_height(widths, r, size);
            if h > self.room() {
                self.new_page();
                self.row(widths, header, size);
            }
            self.row(widths, r, size);
        }
    }

    /// Rows of label/value pairs with no header; each row may split the width its own way.
    pub fn grid(&mut self, rows: &[(Vec<f32>, Vec<Cell>)], size: f32) {
        self.grid_at(0.0, rows, size);
    }

    /// A grid starting `dx` mm right of the margin.
    pub fn grid_at(&mut self, dx: f32, rows: &[(Vec<f32>, Vec<Cell>)], size: f32) {
        for (widths, cells) in rows {
            let h = self.row_height(widths, cells, size);
            self.ensure(h);
            self.row_at(dx, widths, cells, size);
        }
    }

    // --- images ---------------------------------------------------------------------------

    /// Draws a PNG scaled to fit the box at (`x`, `y`) of `w`×`h` mm, kept in proportion,
    /// centred vertically and left-aligned.
    pub fn image(
        &mut self,
        png: &[u8],
        x: f32,
        y: f32,
        w: f32,
        h: f32,
    ) -> Result<(), ReceiptError> {
        // The same image on several pages (the three copies) is embedded once.
        let key = sha256_hex(png);
        let (id, pw, ph) = match self.image_ids.get(&key) {
            Some(known) => known.clone(),
            None => {
                let raw = RawImage::decode_from_bytes(png, &mut Vec::new())
                    .map_err(|e| ReceiptError::Image(e.to_string()))?;
                if raw.width == 0 || raw.height == 0 {
                    return Err(ReceiptError::Image("the image is empty".into()));
                }
                let id = XObjectId(format!("Img{}", self.images.len() + 1));
                // At 72 dpi one pixel is one point.
                let known = (id.clone(), raw.width as f32, raw.height as f32);
                self.images.push((id, raw));
                self.image_ids.insert(key, known.clone());
                known
            }
        };
        let scale = (pt(w).0 / pw).min(pt(h).0 / ph);
        let drawn_h = mm(ph * scale);
        self.ops.push(Op::UseXobject {
            id,
            transform: XObjectTransform {
                translate_x: Some(pt(x)),
                translate_y: Some(pt(PAGE_H - y - h + (h - drawn_h) / 2.0)),
                scale_x: Some(scale),
                scale_y: Some(scale),
                dpi: Some(72.0),
                ..XObjectTransform::default()
            },
        });
        Ok(())
    }
}

/// Splits text into what may not be broken: a Latin word (letters, digits and the
/// punctuation that sticks to them), a run of spaces, or one other character.
fn tokens(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut word = String::new();
    for c in text.chars() {
        let latin = c.is_ascii_alphanumeric() || (c.is_ascii_punctuation() && !word.is_empty());
        if latin {
            word.push(c);
            continue;
        }
        if !word.is_empty() {
            out.push(std::mem::take(&mut word));
        }
        out.push(c.to_string());
    }
    if !word.is_empty() {
        out.push(word);
    }
    out
}

fn is_closing(token: &str) -> bool {
    let mut chars = token.chars();
    matches!(
        (chars.next(), chars.next()),
        (
            Some(
                '，' | '。'
                    | '、'
                    | '；'
                    | '：'
                    | '？'
                    | '！'
                    | '）'
                    | '」'
                    | '』'
                    | '》'
                    | '”'
                    | ','
                    | '.'
                    | ';'
                    | ':'
                    | ')'
            ),
            None
        )
    )
}
