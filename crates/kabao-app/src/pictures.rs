//! Product pictures: a merchant's upload is checked by decoding it (PNG, JPEG or WebP; at most 5 MB and 4096 px a
//! side), re-encoded (which drops EXIF and every other metadata), shrunk to fit [`MAX_SIDE_PX`], and stored in the
//! database under the SHA-256 of the stored bytes, so every instance serves it and one picture is stored once.

use crate::products::ProductError;
use crate::App;
use image::{DynamicImage, ImageFormat, ImageReader};
use kabao_core::{Lang, Localized, ProductId};
use kabao_store::{Media, MediaMeta, StoreError, TxMode, User};
use sha2::{Digest, Sha256};
use std::io::Cursor;

/// Largest upload accepted.
pub const MAX_UPLOAD_BYTES: usize = 5 * 1024 * 1024;
/// Largest side of an upload, checked from the header before decoding.
pub const MAX_INPUT_SIDE_PX: u32 = 4096;
/// Largest side of what is stored (a phone screen's width twice over is plenty).
pub const MAX_SIDE_PX: u32 = 1200;
/// Pictures a product may have.
pub const MAX_PER_PRODUCT: usize = 5;

/// Why a picture was refused.
#[derive(Debug, thiserror::Error)]
pub enum PictureError {
    #[error("not a PNG, JPEG or WebP picture")]
    NotImage,
    #[error("picture larger than 5 MB")]
    TooLarge,
    #[error("picture wider or taller than 4096 px")]
    TooManyPixels,
    #[error("a product has at most 5 pictures")]
    TooMany,
    /// The new order names a picture the product does not have.
    #[error("unknown picture")]
    Unknown,
    #[error(transparent)]
    Product(#[from] ProductError),
    #[error("could not encode the picture")]
    Encode,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Localized for PictureError {
    fn code(&self) -> &'static str {
        match self {
            PictureError::NotImage => "picture.type",
            PictureError::TooLarge => "picture.too_large",
            PictureError::TooManyPixels => "picture.dimensions",
            PictureError::TooMany => "picture.too_many",
            PictureError::Unknown => "picture.unknown",
            PictureError::Product(e) => e.code(),
            PictureError::Encode | PictureError::Store(_) => "internal",
        }
    }
    fn field(&self) -> Option<&'static str> {
        match self {
            PictureError::NotImage | PictureError::TooLarge | PictureError::TooManyPixels | PictureError::TooMany => {
                Some("picture")
            }
            PictureError::Unknown => Some("hashes"),
            PictureError::Product(e) => e.field(),
            PictureError::Encode | PictureError::Store(_) => None,
        }
    }
    fn message(&self, lang: Lang) -> String {
        match self {
            PictureError::NotImage => {
                lang.pick("图片需为 PNG、JPEG 或 WebP 格式", "The picture must be PNG, JPEG or WebP")
            }
            PictureError::TooLarge => lang.pick("图片不能超过 5 MB", "The picture must be at most 5 MB"),
            PictureError::TooManyPixels => {
                lang.pick("图片宽高都不能超过 4096 像素", "The picture must be at most 4096 px on each side")
            }
            PictureError::TooMany => lang.pick("每个商品最多 5 张图片", "A product has at most 5 pictures"),
            PictureError::Unknown => lang.pick("图片不属于该商品", "That picture is not one of this product's"),
            PictureError::Product(e) => return e.message(lang),
            PictureError::Encode | PictureError::Store(_) => return crate::error::internal_message(lang),
        }
        .to_string()
    }
}

/// A picture as it is stored: re-encoded bytes, their type and size, and their hash.
#[derive(Debug, Clone)]
pub struct Processed {
    pub meta: MediaMeta,
    pub bytes: Vec<u8>,
}

/// Checks an upload by decoding it and re-encodes it: PNG when it has transparency, JPEG otherwise.
pub fn process(upload: &[u8]) -> Result<Processed, PictureError> {
    if upload.len() > MAX_UPLOAD_BYTES {
        return Err(PictureError::TooLarge);
    }
    let format = image::guess_format(upload).map_err(|_| PictureError::NotImage)?;
    if !matches!(format, ImageFormat::Png | ImageFormat::Jpeg | ImageFormat::WebP) {
        return Err(PictureError::NotImage);
    }
    // The header's size first: a small file may claim a huge canvas (a decompression bomb).
    let (w, h) =
        ImageReader::with_format(Cursor::new(upload), format).into_dimensions().map_err(|_| PictureError::NotImage)?;
    if w > MAX_INPUT_SIDE_PX || h > MAX_INPUT_SIDE_PX {
        return Err(PictureError::TooManyPixels);
    }
    let mut reader = ImageReader::with_format(Cursor::new(upload), format);
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(MAX_INPUT_SIDE_PX);
    limits.max_image_height = Some(MAX_INPUT_SIDE_PX);
    reader.limits(limits);
    let decoded = reader.decode().map_err(|_| PictureError::NotImage)?;
    let img = if decoded.width() > MAX_SIDE_PX || decoded.height() > MAX_SIDE_PX {
        decoded.resize(MAX_SIDE_PX, MAX_SIDE_PX, image::imageops::FilterType::Lanczos3)
    } else {
        decoded
    };
    let mut bytes = Vec::new();
    let mime = if img.color().has_alpha() {
        img.write_to(&mut Cursor::new(&mut bytes), ImageFormat::Png).map_err(|_| PictureError::Encode)?;
        "image/png"
    } else {
        let rgb = DynamicImage::ImageRgb8(img.to_rgb8());
        let encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut bytes, 85);
        rgb.write_with_encoder(encoder).map_err(|_| PictureError::Encode)?;
        "image/jpeg"
    };
    let hash = hex::encode(Sha256::digest(&bytes));
    let meta = MediaMeta { hash, mime: mime.into(), width: i64::from(img.width()), height: i64::from(img.height()) };
    Ok(Processed { meta, bytes })
}

/// Adds a picture to the end of a product of the merchant's shop; returns the product's pictures.
pub async fn upload(
    state: &App,
    merchant: &User,
    product: ProductId,
    bytes: &[u8],
) -> Result<Vec<MediaMeta>, PictureError> {
    crate::products::owned(state, merchant, product).await?;
    let p = process(bytes)?;
    let mut tx = state.store.begin(TxMode::Write).await?;
    let mut hashes: Vec<String> = tx.product_pictures(product).await?.into_iter().map(|m| m.hash).collect();
    if hashes.len() >= MAX_PER_PRODUCT {
        return Err(PictureError::TooMany);
    }
    tx.insert_media(&Media { meta: p.meta.clone(), bytes: p.bytes, created_at: state.now() }).await?;
    if !hashes.contains(&p.meta.hash) {
        hashes.push(p.meta.hash.clone());
    }
    tx.set_product_pictures(product, &hashes).await?;
    let out = tx.product_pictures(product).await?;
    tx.commit().await?;
    tracing::info!(product = %product, hash = %p.meta.hash, "product picture added");
    Ok(out)
}

/// Puts a product's pictures in this order, leaving out those not named (removed); each named picture must be
/// one of the product's.
pub async fn arrange(
    state: &App,
    merchant: &User,
    product: ProductId,
    order: &[String],
) -> Result<Vec<MediaMeta>, PictureError> {
    crate::products::owned(state, merchant, product).await?;
    let mut tx = state.store.begin(TxMode::Write).await?;
    let have: Vec<String> = tx.product_pictures(product).await?.into_iter().map(|m| m.hash).collect();
    let mut kept: Vec<String> = Vec::new();
    for h in order {
        if !have.contains(h) {
            return Err(PictureError::Unknown);
        }
        if !kept.contains(h) {
            kept.push(h.clone());
        }
    }
    tx.set_product_pictures(product, &kept).await?;
    let out = tx.product_pictures(product).await?;
    tx.commit().await?;
    Ok(out)
}

/// A product's pictures in order (visibility of the product is the caller's check).
pub async fn of_product(state: &App, product: ProductId) -> Result<Vec<MediaMeta>, StoreError> {
    let mut tx = state.store.begin(TxMode::Read).await?;
    tx.product_pictures(product).await
}

/// A stored picture by the hex hash in its address.
pub async fn media(state: &App, hash: &str) -> Result<Option<Media>, StoreError> {
    if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()) {
        return Ok(None);
    }
    let mut tx = state.store.begin(TxMode::Read).await?;
    tx.media(hash).await
}
