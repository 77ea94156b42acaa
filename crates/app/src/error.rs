//! The one error every command returns: a stable code the UI translates (zh-CN / en) and
//! the crate's own English message, shown as the detail.

use onsite_domain::DomainError;
use onsite_store::StoreError;
use onsite_sync_client::SyncError;
use serde::Serialize;
use ts_rs::TS;

/// What went wrong, in words the UI has a translation for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The server cannot be reached; nothing is lost, it is sent later.
    Offline,
    /// Wrong user name or password.
    BadCredentials,
    /// Too many failed sign-ins: wait, then try again.
    Throttled,
    /// The server address cannot be used.
    BadAddress,
    /// The session ended: sign in again.
    SessionExpired,
    /// This needs a signed-in engineer.
    NotSignedIn,
    /// The record is not on this laptop.
    NotFound,
    /// A photo is neither on this laptop nor reachable on the server now.
    PhotoNotHere,
    /// The lifecycle does not allow this step (now, or for an engineer).
    NotAllowed,
    /// Input or a rule of the domain refused the change.
    Invalid,
    /// The local database cannot be used (damaged, newer, disk).
    Storage,
    /// The laptop's disk is full: free some space; everything saved is kept.
    DiskFull,
    /// Another Onsite window has this laptop's data open.
    InUse,
    /// The system keyring, which holds the key of the laptop's data, cannot be used.
    Keyring,
    /// The server refused or answered something unexpected.
    Server,
    /// The document has nothing to print yet (no quote, no settlement).
    NothingToPrint,
    /// The settlement differs from the approved quote: it may not be printed.
    SettlementDiffers,
    /// The document could not be made or written (font, image, disk).
    PrintFailed,
    /// The system has no viewer for PDF files: the file is saved (the message is its path).
    CannotOpen,
}

/// A command's failure. Nothing was changed when a command returns one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct AppError {
    pub code: ErrorCode,
    /// The detail, from the crate that refused (English).
    pub message: String,
}

impl AppError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> AppError {
        AppError {
            code,
            message: message.into(),
        }
    }

    pub fn not_signed_in() -> AppError {
        AppError::new(ErrorCode::NotSignedIn, "sign in first")
    }

    /// A sign-in attempt's failure: here `Unauthorized` means a wrong password.
    pub fn from_sign_in(e: SyncError) -> AppError {
        match e {
            SyncError::Unauthorized => AppError::new(
                ErrorCode::BadCredentials,
                "the user name or the password is wrong",
            ),
            other => other.into(),
        }
    }
}

impl From<onsite_receipt::ReceiptError> for AppError {
    fn from(e: onsite_receipt::ReceiptError) -> AppError {
        use onsite_receipt::ReceiptError as R;
        let code = match e {
            R::NoQuote | R::NoSettlement => ErrorCode::NothingToPrint,
            R::SettlementDiffers(_) => ErrorCode::SettlementDiffers,
            R::NoOrder(_) => ErrorCode::NotFound,
            R::UnknownDocument(_) | R::UnknownLang(_) => ErrorCode::Invalid,
            R::Record { .. } | R::Font | R::Image(_) => ErrorCode::PrintFailed,
        };
        AppError::new(code, e.to_string())
    }
}

impl From<DomainError> for AppError {
    fn from(e: DomainError) -> AppError {
        let code = match e {
            DomainError::TransitionNotAllowed { .. }
            | DomainError::TransitionNotYours { .. }
            | DomainError::NotYours { .. }
            | DomainError::NotNow { .. } => ErrorCode::NotAllowed,
            _ => ErrorCode::Invalid,
        };
        AppError::new(code, e.to_string())
    }
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> AppError {
        match e {
            StoreError::Rule(rule) => rule.into(),
            StoreError::NotFound { .. } => AppError::new(ErrorCode::NotFound, e.to_string()),
            StoreError::AlreadyExists { .. } => AppError::new(ErrorCode::Invalid, e.to_string()),
            StoreError::Corrupt { .. }
            | StoreError::TooNew { .. }
            | StoreError::BadData { .. }
            | StoreError::Sql(_)
            | StoreError::Io { .. } => AppError::new(ErrorCode::Storage, e.to_string()),
            StoreError::InUse { .. } => AppError::new(ErrorCode::InUse, e.to_string()),
            StoreError::DiskFull => AppError::new(ErrorCode::DiskFull, e.to_string()),
            StoreError::Keyring(_) | StoreError::WrongKey { .. } => {
                AppError::new(ErrorCode::Keyring, e.to_string())
            }
        }
    }
}

impl From<SyncError> for AppError {
    fn from(e: SyncError) -> AppError {
        let code = match &e {
            SyncError::Offline(_) => ErrorCode::Offline,
            SyncError::BadAddress(_) => ErrorCode::BadAddress,
            SyncError::Unauthorized => ErrorCode::SessionExpired,
            SyncError::Server { status: 429, .. } => ErrorCode::Throttled,
            SyncError::Server { .. } | SyncError::Protocol(_) | SyncError::ResyncRequired(_) => {
                ErrorCode::Server
            }
            SyncError::Store(_) => ErrorCode::Storage,
        };
        match e {
            SyncError::Store(s) => s.into(),
            other => AppError::new(code, other.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use onsite_domain::Status;

    #[test]
    fn a_wrong_password_at_sign_in_is_not_an_expired_session() {
        assert_eq!(
            AppError::from_sign_in(SyncError::Unauthorized).code,
            ErrorCode::BadCredentials
        );
        assert_eq!(
            AppError::from(SyncError::Unauthorized).code,
            ErrorCode::SessionExpired
        );
    }

    #[test]
    fn a_step_the_lifecycle_forbids_is_not_allowed_and_keeps_the_crates_words() {
        let e = AppError::from(StoreError::Rule(DomainError::TransitionNotAllowed {
            from: Status::Assigned,
            to: Status::Completed,
        }));
        assert_eq!(e.code, ErrorCode::NotAllowed);
        assert!(e.message.contains("cannot go from"), "{}", e.message);
    }

    #[test]
    fn a_second_window_on_the_same_data_gets_its_own_code() {
        let e = AppError::from(StoreError::InUse {
            path: "/home/wang/.local/share/onsite/onsite.db".into(),
        });
        assert_eq!(e.code, ErrorCode::InUse);
    }
}
