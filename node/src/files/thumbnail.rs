//! Image facts and thumbnails, made at upload with the `image` crate: dimensions after the EXIF orientation,
//! and a small preview. The pixel count is checked from the header before anything is decoded, and decoding
//! runs under an allocation limit, so a decompression bomb (a tiny file declaring a gigapixel image) is refused
//! instead of exhausting the node's memory.

use std::io::Cursor;

use image::{DynamicImage, ImageDecoder, ImageReader, Limits};

/// Longest side of a thumbnail, in pixels.
pub const THUMBNAIL_SIDE: u32 = 320;
/// Largest image file (bytes) that is decoded for its thumbnail; larger images are stored without one.
pub const MAX_DECODE_BYTES: usize = 32 * 1024 * 1024;

/// What an image upload yields.
#[derive(Debug)]
pub struct ImageFacts {
    /// Width as displayed (after the EXIF orientation).
    pub width: u32,
    /// Height as displayed.
    pub height: u32,
    /// The thumbnail's bytes and type (`image/jpeg`, or `image/png` for images with transparency).
    pub thumbnail: (Vec<u8>, &'static str),
}

/// Why an image was refused.
#[derive(Debug)]
pub enum ImageRefusal {
    /// More pixels than the limit: a decompression bomb or simply too large.
    TooManyPixels {
        /// Declared width.
        width: u32,
        /// Declared height.
        height: u32,
        /// The limit.
        limit: u64,
    },
    /// Not decodable although its first bytes looked like an image.
    Undecodable(String),
}

impl std::fmt::Display for ImageRefusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ImageRefusal::TooManyPixels { width, height, limit } => write!(
                f,
                "the image declares {width}x{height} pixels, more than the limit of {limit}; scale it down or send it as a file in an archive"
            ),
            ImageRefusal::Undecodable(why) => write!(
                f,
                "the image cannot be decoded ({why}); send it as a file (application/octet-stream) if it is not an image"
            ),
        }
    }
}

/// Reads the dimensions, refuses more than `max_pixels`, decodes, applies the EXIF orientation and makes a
/// thumbnail. CPU-heavy: call it from `spawn_blocking`.
pub fn inspect(bytes: &[u8], max_pixels: u64) -> Result<ImageFacts, ImageRefusal> {
    let undecodable = |e: image::ImageError| ImageRefusal::Undecodable(e.to_string());
    let reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| ImageRefusal::Undecodable(e.to_string()))?;
    let (width, height) = reader.into_dimensions().map_err(undecodable)?;
    if u64::from(width) * u64::from(height) > max_pixels {
        return Err(ImageRefusal::TooManyPixels {
            width,
            height,
            limit: max_pixels,
        });
    }
    let mut reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| ImageRefusal::Undecodable(e.to_string()))?;
    let mut limits = Limits::default();
    limits.max_alloc = Some(max_pixels.saturating_mul(8).saturating_add(64 << 20));
    reader.limits(limits);
    let mut decoder = reader.into_decoder().map_err(undecodable)?;
    let orientation = decoder
        .orientation()
        .unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut image = DynamicImage::from_decoder(decoder).map_err(undecodable)?;
    image.apply_orientation(orientation);
    let thumb = image.thumbnail(THUMBNAIL_SIDE, THUMBNAIL_SIDE);
    let mut out = Cursor::new(Vec::new());
    let mime = if thumb.color().has_alpha() {
        thumb
            .write_to(&mut out, image::ImageFormat::Png)
            .map_err(undecodable)?;
        "image/png"
    } else {
        DynamicImage::ImageRgb8(thumb.to_rgb8())
            .write_to(&mut out, image::ImageFormat::Jpeg)
            .map_err(undecodable)?;
        "image/jpeg"
    };
    Ok(ImageFacts {
        width: image.width(),
        height: image.height(),
        thumbnail: (out.into_inner(), mime),
    })
}
