//! QR codes for short links, as SVG or PNG.
//!
//! The symbol comes from `qrcode` with its default features off: its own renderers go
//! through the `image` crate, a large tree we would build for nothing else. Both formats
//! are drawn here from the module matrix instead, so they share one geometry ([`Layout`])
//! and one set of tests. The PNG is a minimal 1-bit indexed encoder: a QR code has two
//! colours, so one bit per pixel and a palette of two is the smallest lossless form, in
//! whichever colours the caller chose (see [`Style`]).

use std::fmt::Write as _;
use std::io::Write as _;

use flate2::Compression;
use flate2::write::ZlibEncoder;
use qrcode::{Color, EcLevel, QrCode};

/// Requested sizes are clamped to this range: below 64 px a phone camera struggles, and
/// above 2048 px the image only costs bandwidth.
pub const MIN_SIZE: u32 = 64;
pub const MAX_SIZE: u32 = 2048;

/// Light modules around the symbol on each side; ISO/IEC 18004 requires at least 4.
const QUIET_ZONE: u32 = 4;

/// How much damage a code survives, at the cost of a denser symbol (ISO/IEC 18004).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ErrorCorrection {
    /// About 7% of the symbol can be lost.
    Low,
    /// About 15%: enough for print and screens without making the symbol much denser.
    #[default]
    Medium,
    /// About 25%.
    Quartile,
    /// About 30%: for codes printed small, outdoors, or with a logo laid over them.
    High,
}

impl ErrorCorrection {
    /// `L`, `M`, `Q` or `H`, as the standard and every QR tool name them.
    pub fn parse(letter: &str) -> Result<Self, String> {
        match letter {
            "L" | "l" => Ok(Self::Low),
            "M" | "m" => Ok(Self::Medium),
            "Q" | "q" => Ok(Self::Quartile),
            "H" | "h" => Ok(Self::High),
            _ => Err("must be L, M, Q or H".into()),
        }
    }

    fn level(self) -> EcLevel {
        match self {
            Self::Low => EcLevel::L,
            Self::Medium => EcLevel::M,
            Self::Quartile => EcLevel::Q,
            Self::High => EcLevel::H,
        }
    }
}

/// A colour, `#rrggbb` in the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rgb(pub [u8; 3]);

impl Rgb {
    pub const BLACK: Self = Self([0, 0, 0]);
    pub const WHITE: Self = Self([0xff, 0xff, 0xff]);

    /// Six hex digits, with or without the leading `#` (which a query string must
    /// otherwise encode as `%23`).
    pub fn parse(hex: &str) -> Result<Self, String> {
        let digits = hex.strip_prefix('#').unwrap_or(hex);
        let channel = |i: usize| {
            digits
                .get(i..i + 2)
                .filter(|pair| pair.bytes().all(|b| b.is_ascii_hexdigit()))
                .and_then(|pair| u8::from_str_radix(pair, 16).ok())
        };
        match (digits.len(), channel(0), channel(2), channel(4)) {
            (6, Some(r), Some(g), Some(b)) => Ok(Self([r, g, b])),
            _ => Err("must be a colour as six hex digits, such as 1a2b3c or #1a2b3c".into()),
        }
    }

    /// Relative luminance, 0 (black) to 1 (white), as WCAG 2 defines it.
    fn luminance(self) -> f64 {
        let linear = |c: u8| {
            let c = f64::from(c) / 255.0;
            if c <= 0.04045 {
                c / 12.92
            } else {
                ((c + 0.055) / 1.055).powf(2.4)
            }
        };
        let [r, g, b] = self.0.map(linear);
        0.2126 * r + 0.7152 * g + 0.0722 * b
    }

    /// The WCAG contrast ratio of two colours: 1 (the same) to 21 (black and white).
    pub fn contrast(self, other: Self) -> f64 {
        let (a, b) = (self.luminance(), other.luminance());
        (a.max(b) + 0.05) / (a.min(b) + 0.05)
    }
}

impl std::fmt::Display for Rgb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let [r, g, b] = self.0;
        write!(f, "#{r:02x}{g:02x}{b:02x}")
    }
}

/// How a code looks: its error correction and its colours. The default is a black code on
/// white at level M.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Style {
    pub error_correction: ErrorCorrection,
    /// The dark modules.
    pub color: Rgb,
    /// The light modules and the quiet zone.
    pub background: Rgb,
}

impl Default for Style {
    fn default() -> Self {
        Self {
            error_correction: ErrorCorrection::default(),
            color: Rgb::BLACK,
            background: Rgb::WHITE,
        }
    }
}

impl Style {
    /// Below this contrast between its colours a phone camera may not tell the modules
    /// apart (WCAG's minimum for graphics, 3:1).
    pub const MIN_CONTRAST: f64 = 3.0;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Svg,
    Png,
}

impl Format {
    /// The `Content-Type` of what [`render`] returns in this format.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Svg => "image/svg+xml",
            Format::Png => "image/png",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum QrError {
    /// More than a version 40 symbol holds at the chosen error correction: at level M,
    /// 2331 bytes of general text (more when it is all digits or upper-case letters).
    #[error("{len} bytes is too long for a QR code")]
    DataTooLong { len: usize },
    /// The symbol plus its quiet zone has more modules than the image has pixels, so not
    /// even one pixel per module fits. Only very long data at small sizes gets here.
    #[error("a QR code of {modules} modules (with quiet zone) does not fit in {size} pixels")]
    TooDense { modules: u32, size: u32 },
    /// Any other refusal of the encoder; not expected for text in byte mode.
    #[error("QR encoding failed: {0}")]
    Encode(String),
}

/// Renders `data` as a square QR code in `style`.
///
/// `size` is the requested image width in pixels, clamped to
/// [`MIN_SIZE`]`..=`[`MAX_SIZE`]. Each module is the largest whole number of pixels such
/// that the symbol and a 4-module quiet zone on every side fit in `size`. The image is
/// **exactly `size` (after clamping) wide and high**: pixels left over after whole modules
/// widen the quiet zone (split evenly, the odd pixel going right/bottom), so callers can
/// lay the image out by the size they asked for.
///
/// Errors if `data` exceeds QR capacity ([`QrError::DataTooLong`]) or the symbol is too
/// dense for one pixel per module at this size ([`QrError::TooDense`]).
pub fn render(data: &str, format: Format, size: u32, style: Style) -> Result<Vec<u8>, QrError> {
    let modules = Modules::encode(data, style.error_correction)?;
    let layout = Layout::fit(modules.width, size)?;
    Ok(match format {
        Format::Svg => svg(&modules, layout, style).into_bytes(),
        Format::Png => png(&modules, layout, style),
    })
}

/// The symbol without quiet zone: `width` x `width` modules, row-major, `true` = dark.
struct Modules {
    width: u32,
    dark: Vec<bool>,
}

impl Modules {
    fn encode(data: &str, error_correction: ErrorCorrection) -> Result<Self, QrError> {
        let level = error_correction.level();
        let code =
            QrCode::with_error_correction_level(data.as_bytes(), level).map_err(|e| match e {
                qrcode::types::QrError::DataTooLong => QrError::DataTooLong { len: data.len() },
                other => QrError::Encode(other.to_string()),
            })?;
        // At most 177 (version 40), so the cast cannot truncate.
        let width = code.width() as u32;
        let dark = code
            .into_colors()
            .into_iter()
            .map(|c| c == Color::Dark)
            .collect();
        Ok(Self { width, dark })
    }

    fn row(&self, y: u32) -> &[bool] {
        let w = self.width as usize;
        &self.dark[y as usize * w..][..w]
    }

    /// `(start, len)` of each run of dark modules in row `y`.
    fn dark_runs(&self, y: u32) -> impl Iterator<Item = (u32, u32)> + '_ {
        let row = self.row(y);
        let mut x = 0;
        std::iter::from_fn(move || {
            while x < row.len() && !row[x] {
                x += 1;
            }
            let start = x;
            while x < row.len() && row[x] {
                x += 1;
            }
            (x > start).then(|| (start as u32, (x - start) as u32))
        })
    }
}

/// Where the symbol sits in the square image, in pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Layout {
    /// Image width and height.
    size: u32,
    /// Width and height of one module.
    module: u32,
    /// Distance from the image's left/top edge to the symbol: at least 4 modules.
    offset: u32,
}

impl Layout {
    fn fit(width: u32, requested: u32) -> Result<Self, QrError> {
        let size = requested.clamp(MIN_SIZE, MAX_SIZE);
        let modules = width + 2 * QUIET_ZONE;
        let module = size / modules;
        if module == 0 {
            return Err(QrError::TooDense { modules, size });
        }
        // `module * modules <= size`, so each half of the spare pixels is >= 4 modules.
        let offset = (size - module * width) / 2;
        Ok(Self {
            size,
            module,
            offset,
        })
    }
}

/// One `<path>` in module units, scaled and moved into place by a transform, so the path
/// data stays short integers: `M x y h n v1 h-n z` per horizontal run of dark modules.
/// `crispEdges` stops anti-aliasing from blurring neighbouring modules into grey seams.
fn svg(modules: &Modules, layout: Layout, style: Style) -> String {
    let Layout {
        size,
        module,
        offset,
    } = layout;
    let Style {
        color, background, ..
    } = style;
    let mut svg = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{size}" height="{size}" viewBox="0 0 {size} {size}" shape-rendering="crispEdges"><rect width="{size}" height="{size}" fill="{background}"/><path transform="translate({offset} {offset}) scale({module})" fill="{color}" d=""#
    );
    for y in 0..modules.width {
        for (x, n) in modules.dark_runs(y) {
            // Writing to a String cannot fail.
            _ = write!(svg, "M{x} {y}h{n}v1h-{n}z");
        }
    }
    svg.push_str(r#""/></svg>"#);
    svg
}

/// PNG layout: the 8-byte signature, then chunks, each `length (u32 BE, data only) |
/// type (4 ASCII bytes) | data | CRC-32 (u32 BE) of type and data`:
/// - `IHDR`: width, height (u32 BE), bit depth 1, colour type 3 (indexed), compression
///   0 (zlib deflate), filter method 0, interlace 0 (none).
/// - `PLTE`: the two colours as RGB, the code's colour (index 0) then its background (1).
/// - `IDAT`: the zlib stream of all scanlines, each a filter-type byte (0 = none: the
///   image is long runs of identical bytes, which deflate handles without filtering)
///   followed by pixels packed 8 to a byte, most significant bit first, 1 = background.
/// - `IEND`: empty, marks the end.
fn png(modules: &Modules, layout: Layout, style: Style) -> Vec<u8> {
    const SIGNATURE: [u8; 8] = [0x89, b'P', b'N', b'G', b'\r', b'\n', 0x1a, b'\n'];
    let Layout {
        size,
        module,
        offset,
    } = layout;
    let stride = 1 + (size as usize).div_ceil(8);

    // A scanline is the same for every pixel row of one module row, so build it once and
    // repeat it; rows outside the symbol are all background.
    let background = {
        let mut row = vec![0xff; stride];
        row[0] = 0; // filter type: none
        row
    };
    let mut raw = Vec::with_capacity(stride * size as usize);
    for _ in 0..offset {
        raw.extend_from_slice(&background);
    }
    for y in 0..modules.width {
        let mut row = background.clone();
        for (x, n) in modules.dark_runs(y) {
            let start = offset + x * module;
            for px in start..start + n * module {
                row[1 + px as usize / 8] &= !(0x80 >> (px % 8));
            }
        }
        for _ in 0..module {
            raw.extend_from_slice(&row);
        }
    }
    while raw.len() < stride * size as usize {
        raw.extend_from_slice(&background);
    }

    let mut zlib = ZlibEncoder::new(Vec::new(), Compression::default());
    zlib.write_all(&raw).expect("writing to a Vec cannot fail");
    let idat = zlib.finish().expect("writing to a Vec cannot fail");

    let mut ihdr = [0; 13];
    ihdr[..4].copy_from_slice(&size.to_be_bytes());
    ihdr[4..8].copy_from_slice(&size.to_be_bytes());
    ihdr[8..].copy_from_slice(&[1, 3, 0, 0, 0]);
    let palette = [style.color.0, style.background.0].concat();

    let mut png =
        Vec::with_capacity(SIGNATURE.len() + 4 * 12 + ihdr.len() + palette.len() + idat.len());
    png.extend_from_slice(&SIGNATURE);
    chunk(&mut png, b"IHDR", &ihdr);
    chunk(&mut png, b"PLTE", &palette);
    chunk(&mut png, b"IDAT", &idat);
    chunk(&mut png, b"IEND", &[]);
    png
}

fn chunk(png: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    // A 2048 px 1-bit image is ~0.5 MB raw, far below the 2^31 - 1 bytes a chunk may hold.
    let len = u32::try_from(data.len()).expect("PNG chunk under 4 GiB");
    png.extend_from_slice(&len.to_be_bytes());
    let crc_start = png.len();
    png.extend_from_slice(kind);
    png.extend_from_slice(data);
    let crc = crc32fast::hash(&png[crc_start..]);
    png.extend_from_slice(&crc.to_be_bytes());
}

#[cfg(test)]
mod tests {
    use std::io::Read as _;

    use super::*;

    const URLS: &[&str] = &[
        "https://cap.st/a",
        "https://capstone.example/r/Zx81-qQ_9",
        "https://links.capstone.example/very/long/path?utm_source=newsletter&utm_medium=email&utm_campaign=spring-2025#section-3",
    ];

    /// A decoded image: `size` x `size` pixels, row-major, `true` = the code's colour.
    struct Bitmap {
        size: u32,
        dark: Vec<bool>,
    }

    fn render(data: &str, format: Format, size: u32) -> Result<Vec<u8>, QrError> {
        super::render(data, format, size, Style::default())
    }

    impl Bitmap {
        fn at(&self, x: u32, y: u32) -> bool {
            self.dark[(y * self.size + x) as usize]
        }

        /// Runs the bitmap through an independent QR reader, returning the text and rqrr's
        /// error correction level (the raw format bits, where M is 0).
        fn read_qr(&self) -> (String, u16) {
            let w = self.size as usize;
            let mut img =
                rqrr::PreparedImage::prepare_from_bitmap(w, w, |x, y| self.dark[y * w + x]);
            let grids = img.detect_grids();
            assert_eq!(grids.len(), 1, "expected exactly one QR code");
            let (meta, text) = grids[0].decode().expect("QR code decodes");
            (text, meta.ecc_level)
        }
    }

    struct Chunk<'a> {
        kind: &'a [u8],
        data: &'a [u8],
    }

    /// Splits a PNG into chunks, checking the signature, every CRC and that IEND ends it.
    fn chunks(png: &[u8]) -> Vec<Chunk<'_>> {
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "PNG signature");
        let mut rest = &png[8..];
        let mut chunks = Vec::new();
        while !rest.is_empty() {
            let len = u32::from_be_bytes(rest[..4].try_into().unwrap()) as usize;
            let (kind, data) = (&rest[4..8], &rest[8..8 + len]);
            let crc = u32::from_be_bytes(rest[8 + len..12 + len].try_into().unwrap());
            assert_eq!(crc, crc32fast::hash(&rest[4..8 + len]), "CRC of {kind:?}");
            chunks.push(Chunk { kind, data });
            rest = &rest[12 + len..];
        }
        let kinds: Vec<_> = chunks.iter().map(|c| c.kind).collect();
        assert_eq!(kinds.first(), Some(&&b"IHDR"[..]));
        assert_eq!(kinds.last(), Some(&&b"IEND"[..]));
        assert!(chunks.last().unwrap().data.is_empty());
        chunks
    }

    /// `(width, height)` from IHDR, after checking it says 1-bit indexed, not interlaced.
    fn ihdr(png: &[u8]) -> (u32, u32) {
        let chunks = chunks(png);
        let ihdr = chunks[0].data;
        assert_eq!(ihdr.len(), 13);
        assert_eq!(&ihdr[8..], &[1, 3, 0, 0, 0], "depth, colour type, methods");
        let be = |b: &[u8]| u32::from_be_bytes(b.try_into().unwrap());
        (be(&ihdr[..4]), be(&ihdr[4..8]))
    }

    /// The two colours of the PLTE chunk: the code's, then the background's.
    fn palette(png: &[u8]) -> [Rgb; 2] {
        let plte: Vec<_> = chunks(png)
            .into_iter()
            .filter(|c| c.kind == b"PLTE")
            .collect();
        assert_eq!(plte.len(), 1, "one PLTE chunk");
        let data = plte[0].data;
        assert_eq!(data.len(), 6, "two entries");
        let rgb = |i: usize| Rgb(data[i..i + 3].try_into().unwrap());
        [rgb(0), rgb(3)]
    }

    /// A test-only PNG reader for exactly what `png` writes: inflate the IDAT stream and
    /// unpack each unfiltered scanline (index 0 of the palette is the code's colour).
    fn decode_png(png: &[u8]) -> Bitmap {
        let (width, height) = ihdr(png);
        assert_eq!(width, height, "square image");
        let zlib: Vec<u8> = chunks(png)
            .iter()
            .filter(|c| c.kind == b"IDAT")
            .flat_map(|c| c.data.iter().copied())
            .collect();
        let mut raw = Vec::new();
        flate2::read::ZlibDecoder::new(&zlib[..])
            .read_to_end(&mut raw)
            .expect("IDAT inflates");
        let stride = 1 + (width as usize).div_ceil(8);
        assert_eq!(raw.len(), stride * height as usize, "scanline bytes");
        let mut dark = Vec::with_capacity((width * height) as usize);
        for line in raw.chunks(stride) {
            assert_eq!(line[0], 0, "filter type none");
            for x in 0..width as usize {
                dark.push(line[1 + x / 8] & (0x80 >> (x % 8)) == 0);
            }
        }
        Bitmap { size: width, dark }
    }

    /// Rasterises the SVG from its own markup (size, transform and path runs), so the test
    /// reads what a browser would draw rather than the matrix it was made from.
    fn rasterise_svg(svg: &str) -> Bitmap {
        let attr = |name: &str| {
            let start = svg.find(&format!(" {name}=\"")).expect(name) + name.len() + 3;
            &svg[start..start + svg[start..].find('"').unwrap()]
        };
        let size: u32 = attr("width").parse().unwrap();
        let transform = attr("transform");
        let nums = |s: &str| -> Vec<u32> {
            s.split(|c: char| !c.is_ascii_digit())
                .filter(|n| !n.is_empty())
                .map(|n| n.parse().unwrap())
                .collect()
        };
        let [offset, offset_y, module] = nums(transform)[..] else {
            panic!("transform {transform:?}");
        };
        assert_eq!(offset, offset_y);
        let mut dark = vec![false; (size * size) as usize];
        for run in attr("d").split('M').filter(|r| !r.is_empty()) {
            let [x, y, n, one, n2] = nums(run)[..] else {
                panic!("path run {run:?}");
            };
            assert_eq!(
                (one, n2),
                (1, n),
                "run {run:?} is a closed 1-module-high box"
            );
            for py in offset + y * module..offset + (y + 1) * module {
                for px in offset + x * module..offset + (x + n) * module {
                    dark[(py * size + px) as usize] = true;
                }
            }
        }
        Bitmap { size, dark }
    }

    #[test]
    fn png_has_signature_valid_chunks_and_a_one_bit_two_colour_header() {
        let png = render(URLS[0], Format::Png, 256).unwrap();
        assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"));
        let kinds: Vec<_> = chunks(&png).iter().map(|c| c.kind.to_vec()).collect();
        assert_eq!(
            kinds,
            [
                b"IHDR".to_vec(),
                b"PLTE".to_vec(),
                b"IDAT".to_vec(),
                b"IEND".to_vec()
            ]
        );
        assert_eq!(ihdr(&png), (256, 256));
        assert_eq!(palette(&png), [Rgb::BLACK, Rgb::WHITE]);
    }

    #[test]
    fn every_error_correction_level_decodes_back_in_the_chosen_colours() {
        // rqrr reports the format bits: M 0, L 1, H 2, Q 3.
        for (level, bits) in [
            (ErrorCorrection::Low, 1),
            (ErrorCorrection::Medium, 0),
            (ErrorCorrection::Quartile, 3),
            (ErrorCorrection::High, 2),
        ] {
            let style = Style {
                error_correction: level,
                color: Rgb([0x1a, 0x23, 0x7e]),
                background: Rgb([0xff, 0xf8, 0xe1]),
            };
            let png = super::render(URLS[2], Format::Png, 400, style).unwrap();
            assert_eq!(palette(&png), [style.color, style.background]);
            assert_eq!(decode_png(&png).read_qr(), (URLS[2].to_owned(), bits));

            let svg = super::render(URLS[2], Format::Svg, 400, style).unwrap();
            let svg = String::from_utf8(svg).unwrap();
            assert!(svg.contains(r##"<rect width="400" height="400" fill="#fff8e1"/>"##));
            assert!(svg.contains(r##"fill="#1a237e" d="M"##), "{svg:.400}");
            assert_eq!(rasterise_svg(&svg).read_qr(), (URLS[2].to_owned(), bits));
        }
    }

    #[test]
    fn more_error_correction_makes_a_denser_symbol() {
        let width = |level| Modules::encode(URLS[2], level).unwrap().width;
        assert!(width(ErrorCorrection::Low) < width(ErrorCorrection::High));
    }

    #[test]
    fn colours_parse_from_hex_and_their_contrast_is_wcags() {
        assert_eq!(Rgb::parse("#1A2b3c"), Ok(Rgb([0x1a, 0x2b, 0x3c])));
        assert_eq!(Rgb::parse("ffffff"), Ok(Rgb::WHITE));
        for bad in [
            "", "#", "fff", "#12345", "1234567", "12345g", "+12345", "#ééé",
        ] {
            assert!(Rgb::parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(Rgb([0x1a, 0x2b, 0x3c]).to_string(), "#1a2b3c");
        assert!((Rgb::BLACK.contrast(Rgb::WHITE) - 21.0).abs() < 1e-9);
        assert!((Rgb::WHITE.contrast(Rgb::WHITE) - 1.0).abs() < 1e-9);
        // Yellow on white is unreadable; navy on cream is fine.
        assert!(Rgb([0xff, 0xeb, 0x3b]).contrast(Rgb::WHITE) < Style::MIN_CONTRAST);
        assert!(Rgb([0x1a, 0x23, 0x7e]).contrast(Rgb([0xff, 0xf8, 0xe1])) > Style::MIN_CONTRAST);
    }

    #[test]
    fn image_is_exactly_the_clamped_requested_size() {
        for (requested, expected) in [
            (0, 64),
            (63, 64),
            (64, 64),
            (100, 100),
            (299, 299),
            (300, 300),
            (1000, 1000),
            (2048, 2048),
            (5000, 2048),
        ] {
            let png = render(URLS[1], Format::Png, requested).unwrap();
            assert_eq!(ihdr(&png), (expected, expected), "requested {requested}");
            assert_eq!(decode_png(&png).size, expected);

            let svg = String::from_utf8(render(URLS[1], Format::Svg, requested).unwrap()).unwrap();
            let dims = format!(r#"width="{expected}" height="{expected}""#);
            assert!(svg.contains(&dims), "requested {requested}: {svg:.120}");
            assert!(svg.contains(&format!(r#"viewBox="0 0 {expected} {expected}""#)));
        }
    }

    #[test]
    fn module_is_the_largest_whole_size_with_a_four_module_quiet_zone() {
        // Widths of versions 1, 2, 4, 10 and 40.
        for width in [21, 25, 33, 57, 177] {
            for requested in [64, 100, 250, 300, 301, 999, 2048] {
                let Ok(l) = Layout::fit(width, requested) else {
                    assert!(width + 8 > requested, "{width} modules fit in {requested}");
                    continue;
                };
                let modules = width + 2 * QUIET_ZONE;
                assert_eq!(l.size, requested);
                assert!(l.module * modules <= l.size, "fits");
                assert!((l.module + 1) * modules > l.size, "largest");
                let right = l.size - l.offset - l.module * width;
                assert!(l.offset >= 4 * l.module && right >= 4 * l.module);
                assert!(right - l.offset <= 1, "centred");
            }
        }
    }

    #[test]
    fn png_decodes_back_to_the_url_at_level_m() {
        for url in URLS {
            for size in [64, 173, 300, 1024] {
                // Even the longest URL here (version 7, 45 + 8 modules) fits 64 px at 1 px/module.
                let png = render(url, Format::Png, size).unwrap();
                let (text, ecc) = decode_png(&png).read_qr();
                assert_eq!(text, *url, "size {size}");
                assert_eq!(ecc, 0, "error correction level M");
            }
        }
    }

    #[test]
    fn png_pixels_are_the_module_matrix_in_place() {
        let url = URLS[1];
        let modules = Modules::encode(url, ErrorCorrection::Medium).unwrap();
        let layout = Layout::fit(modules.width, 301).unwrap();
        let img = decode_png(&render(url, Format::Png, 301).unwrap());
        let symbol = layout.offset..layout.offset + modules.width * layout.module;
        for y in 0..img.size {
            for x in 0..img.size {
                let expected = symbol.contains(&x) && symbol.contains(&y) && {
                    let (mx, my) = (
                        (x - layout.offset) / layout.module,
                        (y - layout.offset) / layout.module,
                    );
                    modules.row(my)[mx as usize]
                };
                assert_eq!(img.at(x, y), expected, "pixel ({x}, {y})");
            }
        }
    }

    #[test]
    fn svg_is_well_formed_and_decodes_back() {
        for url in URLS {
            let svg = String::from_utf8(render(url, Format::Svg, 300).unwrap()).unwrap();
            assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
            assert!(svg.ends_with("</svg>"));
            assert!(svg.contains(r#"viewBox="0 0 300 300""#));
            assert!(svg.contains(r#"shape-rendering="crispEdges""#));
            assert_eq!(svg.matches("<path").count(), 1);
            let (text, ecc) = rasterise_svg(&svg).read_qr();
            assert_eq!(text, *url);
            assert_eq!(ecc, 0);
        }
    }

    #[test]
    fn svg_and_png_draw_the_same_pixels() {
        let svg = String::from_utf8(render(URLS[2], Format::Svg, 333).unwrap()).unwrap();
        let png = render(URLS[2], Format::Png, 333).unwrap();
        assert!(rasterise_svg(&svg).dark == decode_png(&png).dark);
    }

    #[test]
    fn data_beyond_capacity_is_an_error() {
        // 2331 bytes is the byte-mode capacity of version 40 at level M.
        let max = "a".repeat(2331);
        assert!(render(&max, Format::Png, MAX_SIZE).is_ok());
        let over = "a".repeat(2332);
        assert!(matches!(
            render(&over, Format::Png, MAX_SIZE),
            Err(QrError::DataTooLong { len: 2332 })
        ));
        assert!(matches!(
            render(&over, Format::Svg, MAX_SIZE),
            Err(QrError::DataTooLong { .. })
        ));
    }

    #[test]
    fn symbol_too_dense_for_the_size_is_an_error() {
        let max = "a".repeat(2331);
        assert!(matches!(
            render(&max, Format::Svg, 100),
            Err(QrError::TooDense {
                modules: 185,
                size: 100
            })
        ));
    }

    #[test]
    fn content_types() {
        assert_eq!(Format::Svg.content_type(), "image/svg+xml");
        assert_eq!(Format::Png.content_type(), "image/png");
    }
}
