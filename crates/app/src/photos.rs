//! Photos imported on site: a picture file chosen on the laptop (site, nameplate, drawing
//! …) with a caption. It is on disk before the screen says so, sent home with the next
//! sync; one too large to send (`records::photo_send_size`) is sent resized to JPEG while
//! its original stays on this laptop. Thumbnails for the order screen are made from the
//! kept bytes and held in memory.

use std::io::Cursor;
use std::sync::Arc;

use image::codecs::jpeg::JpegEncoder;
use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader};
use onsite_domain::checklist::Answer;
use onsite_domain::protocol::Entity;
use onsite_domain::records::{self, Attachment, AttachmentKind, MAX_PHOTO_BYTES};
use onsite_sync_client::SharedStore;
use serde::Deserialize;
use ts_rs::TS;
use uuid::Uuid;

use crate::orders::{OrderScreen, order_id, trimmed};
use crate::{App, AppError, ErrorCode};

/// A photo to import; its bytes come beside it (the window sends the file as raw bytes).
#[derive(Debug, Clone, PartialEq, Deserialize, TS)]
pub struct PhotoInput {
    pub order_id: String,
    pub kind: AttachmentKind,
    pub caption: Option<String>,
}

/// A thumbnail's long edge, in pixels.
pub const THUMBNAIL_EDGE: u32 = 320;
/// Thumbnails held in memory (about 20 KB each).
const THUMBNAILS_KEPT: usize = 500;

/// The picture as it will be sent: a resized copy (`None`: the file itself), its type and
/// its size in pixels.
struct Sent {
    copy: Option<Vec<u8>>,
    mime: &'static str,
    width: u32,
    height: u32,
}

fn invalid(message: impl Into<String>) -> AppError {
    AppError::new(ErrorCode::Invalid, message)
}

/// Reads the picture's type and size without decoding it; JPEG and PNG only.
fn inspect(bytes: &[u8]) -> Result<(ImageFormat, u32, u32), AppError> {
    let not_a_photo = || invalid("this file is not a JPEG or PNG picture: choose a photo");
    let reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|_| not_a_photo())?;
    let format = reader
        .format()
        .filter(|f| matches!(f, ImageFormat::Jpeg | ImageFormat::Png))
        .ok_or_else(not_a_photo)?;
    let (w, h) = reader.into_dimensions().map_err(|_| not_a_photo())?;
    Ok((format, w, h))
}

/// Decodes a picture upright (a phone's EXIF orientation applied).
fn decode(bytes: &[u8], format: ImageFormat) -> Result<DynamicImage, AppError> {
    let broken = |e: image::ImageError| invalid(format!("the picture cannot be read ({e})"));
    let mut decoder = ImageReader::with_format(Cursor::new(bytes), format)
        .into_decoder()
        .map_err(broken)?;
    let orientation = decoder.orientation().map_err(broken)?;
    let mut picture = DynamicImage::from_decoder(decoder).map_err(broken)?;
    picture.apply_orientation(orientation);
    Ok(picture)
}

fn jpeg(picture: &DynamicImage, quality: u8) -> Result<Vec<u8>, AppError> {
    let mut out = Vec::new();
    JpegEncoder::new_with_quality(&mut out, quality)
        .encode_image(&picture.to_rgb8())
        .map_err(|e| invalid(format!("the picture cannot be converted ({e})")))?;
    Ok(out)
}

/// What is sent for `bytes`: the file itself when small enough, else a resized JPEG.
fn to_send(bytes: &[u8]) -> Result<Sent, AppError> {
    let (format, width, height) = inspect(bytes)?;
    if records::photo_send_size(width, height, bytes.len()).is_none() {
        return Ok(Sent {
            copy: None,
            mime: format.to_mime_type(),
            width,
            height,
        });
    }
    // Turned upright first: the size to send is the upright picture's.
    let picture = decode(bytes, format)?;
    let (w, h) = records::photo_send_size(picture.width(), picture.height(), usize::MAX)
        .unwrap_or((picture.width(), picture.height()));
    Ok(Sent {
        copy: Some(jpeg(&picture.thumbnail_exact(w, h), 85)?),
        mime: "image/jpeg",
        width: w,
        height: h,
    })
}

impl App {
    /// Imports a photo for an order: checked to be a JPEG or PNG picture (≤ 40 MB), kept
    /// here and its record appended — on disk before this returns. A photo too large to
    /// send is held back while a task of its own makes the copy to send and appends the
    /// correction naming it ([`App::photo_copies_done`] waits for those).
    pub async fn import_photo(
        &self,
        input: PhotoInput,
        bytes: Vec<u8>,
    ) -> Result<OrderScreen, AppError> {
        self.signed_in()?;
        let order = order_id(&input.order_id)?;
        if bytes.is_empty() {
            return Err(invalid("the file is empty: choose the photo again"));
        }
        if bytes.len() > MAX_PHOTO_BYTES {
            return Err(invalid(format!(
                "the file is {:.1} MB; a photo can be at most {} MB",
                bytes.len() as f64 / 1_048_576.0,
                MAX_PHOTO_BYTES / 1_048_576
            )));
        }
        let caption = trimmed(input.caption);
        if caption
            .as_deref()
            .is_some_and(|c| c.chars().count() > records::MAX_CAPTION_CHARS)
        {
            return Err(invalid(format!(
                "a caption has at most {} characters",
                records::MAX_CAPTION_CHARS
            )));
        }
        let (format, width, height) = inspect(&bytes)?;
        let to_copy = records::photo_send_size(width, height, bytes.len()).is_some();
        let kind = input.kind;
        let (shown, (photo, bytes)) = self
            .write_and_show_then(order, move |s| {
                let photo = Attachment {
                    id: Uuid::now_v7(),
                    work_order_id: order,
                    sha256: s.put_blob(&bytes)?,
                    kind: Some(kind),
                    mime: Some(format.to_mime_type().to_owned()),
                    size: u64::try_from(bytes.len()).ok(),
                    caption,
                    voids: None,
                    width: Some(width),
                    height: Some(height),
                    original_sha256: None,
                };
                // Held before the record exists: the full-size bytes are never sent.
                if to_copy {
                    s.hold_blob(&photo.sha256, photo.id)?;
                }
                s.append(Entity::Attachment, &photo, chrono::Utc::now())?;
                Ok((photo, bytes))
            })
            .await?;
        if to_copy {
            self.copy_to_send(photo, Some(bytes)).await;
        }
        Ok(shown)
    }

    /// Starts making the copy to send of `photo` (its bytes, or read from the store).
    async fn copy_to_send(&self, photo: Attachment, bytes: Option<Vec<u8>>) {
        let Ok(store) = self.store() else { return };
        let notify = self
            .sync
            .lock()
            .await
            .as_ref()
            .map(|(handle, _)| handle.notifier());
        let task = tokio::spawn(async move {
            let id = photo.id;
            if let Err(e) = make_copy_to_send(store, photo, bytes).await {
                // The hold stays when the store could not be written: the next start
                // tries again.
                tracing::warn!(photo = %id, error = ?e, "the copy of a photo to send was not made");
            }
            if let Some(notify) = notify {
                notify.local_write().await;
            }
        });
        if let Ok(mut tasks) = self.photo_copies.lock() {
            tasks.retain(|t| !t.is_finished());
            tasks.push(task);
        }
    }

    /// Makes the copies to send that a stop interrupted (photos still held back).
    pub(crate) async fn resume_photo_copies(&self) {
        let held = self
            .with_store(|s| {
                let mut photos = Vec::new();
                for (sha, id) in s.held_blobs()? {
                    let record = s
                        .record_json(Entity::Attachment, id)?
                        .and_then(|m| serde_json::from_value::<Attachment>(m.into()).ok());
                    match record {
                        Some(photo) if photo.sha256 == sha => photos.push(photo),
                        // The record was never written, or is not the photo held.
                        _ => s.release_blob(&sha)?,
                    }
                }
                Ok(photos)
            })
            .await;
        match held {
            Ok(photos) => {
                for photo in photos {
                    self.copy_to_send(photo, None).await;
                }
            }
            Err(e) => tracing::warn!(error = ?e, "could not read the photos waiting for a copy"),
        }
    }

    /// Waits until the copies to send of imported photos are made.
    pub async fn photo_copies_done(&self) {
        let tasks = self
            .photo_copies
            .lock()
            .map(|mut t| std::mem::take(&mut *t))
            .unwrap_or_default();
        for task in tasks {
            if let Err(e) = task.await {
                tracing::warn!(error = %e, "a photo copy task ended badly");
            }
        }
    }

    /// A small JPEG of a photo (long edge [`THUMBNAIL_EDGE`]) for the order screen, made
    /// from its bytes here (or fetched from the server) and then held in memory.
    pub async fn photo_thumbnail(&self, sha256: String) -> Result<Vec<u8>, AppError> {
        if let Some(kept) = self
            .thumbnails
            .lock()
            .ok()
            .and_then(|t| t.get(&sha256).cloned())
        {
            return Ok(kept);
        }
        let bytes = self.photo(sha256.clone()).await?;
        let small = tokio::task::spawn_blocking(move || {
            let (format, _, _) = inspect(&bytes)?;
            let picture = decode(&bytes, format)?;
            jpeg(&picture.thumbnail(THUMBNAIL_EDGE, THUMBNAIL_EDGE), 80)
        })
        .await
        .map_err(|e| AppError::new(ErrorCode::Storage, format!("making a thumbnail: {e}")))??;
        if let Ok(mut kept) = self.thumbnails.lock() {
            if kept.len() >= THUMBNAILS_KEPT {
                kept.clear();
            }
            kept.insert(sha256, small.clone());
        }
        Ok(small)
    }
}

/// Makes the copy to send of a held photo and appends the correction naming it, then lets
/// the original go (it is no longer sent: a voided record's bytes are not). A picture
/// that cannot be decoded is let go as it is, to be sent whole.
async fn make_copy_to_send(
    store: SharedStore,
    photo: Attachment,
    bytes: Option<Vec<u8>>,
) -> Result<(), AppError> {
    let bytes = match bytes {
        Some(b) => b,
        None => {
            let sha = photo.sha256.clone();
            crate::with_shared(Arc::clone(&store), move |s| Ok(s.blob(&sha)?))
                .await?
                .ok_or_else(|| AppError::new(ErrorCode::NotFound, "the photo's bytes are gone"))?
        }
    };
    let sent = tokio::task::spawn_blocking(move || to_send(&bytes))
        .await
        .map_err(|e| AppError::new(ErrorCode::Storage, format!("copying the photo: {e}")))?;
    crate::with_shared(store, move |s| {
        match sent {
            Ok(Sent {
                copy: Some(copy),
                mime,
                width,
                height,
            }) => {
                let copy_of = Attachment {
                    id: Uuid::now_v7(),
                    sha256: s.put_blob(&copy)?,
                    mime: Some(mime.to_owned()),
                    size: u64::try_from(copy.len()).ok(),
                    voids: Some(photo.id),
                    width: Some(width),
                    height: Some(height),
                    original_sha256: Some(photo.sha256.clone()),
                    ..photo.clone()
                };
                s.append(Entity::Attachment, &copy_of, chrono::Utc::now())?;
                // A checklist item answered with the photo before its copy was made names
                // bytes that are never sent: it names the copy from now on.
                let detail = s.work_order(photo.work_order_id)?;
                for item in detail.checklist.iter().filter(|i| {
                    matches!(&i.answer, Some(Answer::Photo(sha)) if *sha == photo.sha256)
                }) {
                    let fields = serde_json::Map::from_iter([(
                        "answer".to_owned(),
                        serde_json::json!(Answer::Photo(copy_of.sha256.clone())),
                    )]);
                    s.update(Entity::ChecklistItem, item.id, fields, chrono::Utc::now())?;
                }
            }
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(photo = %photo.id, error = ?e, "a photo that cannot be copied is sent as it is");
            }
        }
        s.release_blob(&photo.sha256)?;
        Ok(())
    })
    .await
}
