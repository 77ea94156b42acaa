//! Signatures 签名 and the content hash of what was signed.
//!
//! A signature is immutable and records the SHA-256 of the document content it signed.
//! When the document changes afterwards its hash changes, and the signature no longer
//! counts: the app shows it struck through and asks for a new one.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::DomainError;

/// Who signs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum SignerRole {
    Customer,
    Engineer,
    /// A customer or third-party witness of a milestone (见证).
    Witness,
}

/// The documents that can be signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum DocumentKind {
    /// 报价单
    Quote,
    /// 售后服务维修记录单
    RepairRecord,
    /// 外出服务记录表
    FieldServiceRecord,
    /// 结算单
    Settlement,
    /// 服务回执单
    ServiceReceipt,
    Milestone,
}

/// A signature record (entity `signature`, append-only).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Signature {
    pub id: Uuid,
    pub work_order_id: Uuid,
    pub document: DocumentKind,
    /// The quote or milestone signed, when the document is one record among several.
    #[serde(default)]
    pub document_id: Option<Uuid>,
    /// SHA-256 (hex) of the document content at signing time.
    pub document_hash: String,
    pub signer_name: String,
    pub signer_role: SignerRole,
    pub signed_at: DateTime<Utc>,
    /// SHA-256 of the PNG image blob.
    pub sha256: String,
    /// The pen strokes as captured (signature_pad's point groups), kept for evidence.
    #[serde(default)]
    pub strokes: serde_json::Value,
}

/// Whether a signature still covers its document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum SignatureState {
    Valid,
    /// The document changed after signing: sign again.
    Invalidated,
}

impl Signature {
    pub fn state_for(&self, current_document_hash: &str) -> SignatureState {
        if self.document_hash == current_document_hash {
            SignatureState::Valid
        } else {
            SignatureState::Invalidated
        }
    }

    pub fn validate(&self) -> Result<(), DomainError> {
        if self.signer_name.trim().is_empty() {
            return Err(DomainError::Invalid {
                field: "signer_name",
                message: "write the signer's name".into(),
            });
        }
        check_sha256(&self.sha256)?;
        check_sha256(&self.document_hash)
    }
}

/// SHA-256 of `bytes`, lower-case hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let mut s = String::with_capacity(64);
    for b in digest {
        s.push(char::from(HEX[usize::from(b >> 4)]));
        s.push(char::from(HEX[usize::from(b & 0xf)]));
    }
    s
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// The hash of a document's content: SHA-256 of its canonical JSON (fields in declaration
/// order, maps sorted by key — serde_json's default).
pub fn content_hash<T: Serialize>(content: &T) -> Result<String, DomainError> {
    let bytes = serde_json::to_vec(content).map_err(|e| DomainError::Invalid {
        field: "document",
        message: e.to_string(),
    })?;
    Ok(sha256_hex(&bytes))
}

/// Checks a content address: 64 lower-case hex digits.
pub fn check_sha256(s: &str) -> Result<(), DomainError> {
    if s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        Ok(())
    } else {
        Err(DomainError::Invalid {
            field: "sha256",
            message: format!("{s:?} is not a SHA-256 in lower-case hex"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_of_abc_is_the_standard_vector() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn a_document_changed_after_signing_is_no_longer_signed() {
        #[derive(Serialize)]
        #[cfg_attr(feature = "ts", derive(ts_rs::TS))]
        struct Doc<'a> {
            result: &'a str,
        }
        let signed = content_hash(&Doc {
            result: "更换接触器，试机正常",
        })
        .expect("hashes");
        let sig = Signature {
            id: Uuid::nil(),
            work_order_id: Uuid::nil(),
            document: DocumentKind::RepairRecord,
            document_id: None,
            document_hash: signed.clone(),
            signer_name: "李明".into(),
            signer_role: SignerRole::Customer,
            signed_at: DateTime::<Utc>::UNIX_EPOCH,
            sha256: sha256_hex(b"png"),
            strokes: serde_json::Value::Null,
        };
        assert_eq!(sig.state_for(&signed), SignatureState::Valid);
        let edited = content_hash(&Doc {
            result: "更换接触器",
        })
        .expect("hashes");
        assert_eq!(sig.state_for(&edited), SignatureState::Invalidated);
        assert!(sig.validate().is_ok());
    }
}
