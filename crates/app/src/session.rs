//! What the window needs first, the language it speaks, signing in and out.

use chrono::{DateTime, Utc};
use onsite_domain::records::User;
use onsite_sync_client::{Client, Session};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use ts_rs::TS;

use crate::{App, AppError, ErrorCode};

/// The languages the app speaks; zh-CN is the default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, TS)]
pub enum Language {
    #[default]
    #[serde(rename = "zh-CN")]
    ZhCn,
    #[serde(rename = "en")]
    En,
}

impl Language {
    /// The tag the window and the server's documents use (`zh-CN`, `en`).
    pub fn as_str(self) -> &'static str {
        match self {
            Language::ZhCn => "zh-CN",
            Language::En => "en",
        }
    }
}

const LANGUAGE_KEY: &str = "language";

/// Who is signed in, where.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
pub struct SessionInfo {
    pub server: String,
    pub user: User,
    pub expires_at: DateTime<Utc>,
}

impl From<&Session> for SessionInfo {
    fn from(s: &Session) -> SessionInfo {
        SessionInfo {
            server: s.server.clone(),
            user: s.user.clone(),
            expires_at: s.expires_at,
        }
    }
}

/// What the window needs first.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
pub struct AppInfo {
    pub session: Option<SessionInfo>,
    pub language: Language,
    /// Offered in the sign-in form (`ONSITE_SERVER`, else the last server used).
    pub default_server: String,
    pub version: String,
    /// Set when the local database cannot be used; the app shows it and what to do.
    pub open_error: Option<AppError>,
    /// The demo's logins, shown on the sign-in form when the app was started by
    /// `cargo xtask run` (`ONSITE_DEMO_LOGINS`, `ONSITE_DEMO_PASSWORD`).
    pub demo: Option<DemoHint>,
}

/// Demo logins to offer on the sign-in form.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
pub struct DemoHint {
    pub logins: Vec<String>,
    pub password: String,
}

fn demo_hint() -> Option<DemoHint> {
    let logins = std::env::var("ONSITE_DEMO_LOGINS").ok()?;
    let password = std::env::var("ONSITE_DEMO_PASSWORD").ok()?;
    let logins: Vec<String> = logins
        .split(',')
        .map(|l| l.trim().to_owned())
        .filter(|l| !l.is_empty())
        .collect();
    (!logins.is_empty()).then_some(DemoHint { logins, password })
}

/// The name the server shows for this laptop in the engineer's list of devices.
fn device_name() -> String {
    std::env::var("HOSTNAME").unwrap_or_else(|_| "Onsite desktop".into())
}

impl App {
    /// What the window shows first: who is signed in (a kept session is resumed at start),
    /// the language, the server to offer, or why the local data cannot be used.
    pub async fn app_info(&self) -> Result<AppInfo, AppError> {
        let version = env!("CARGO_PKG_VERSION").to_owned();
        if let Some(e) = self.open_error() {
            return Ok(AppInfo {
                session: None,
                language: Language::default(),
                default_server: String::new(),
                version,
                open_error: Some(e.clone()),
                demo: None,
            });
        }
        let language = self
            .with_store(|s| Ok(s.setting(LANGUAGE_KEY)?))
            .await?
            .and_then(|l| serde_json::from_value(Value::String(l)).ok())
            .unwrap_or_default();
        let session = self.session();
        let default_server = std::env::var("ONSITE_SERVER")
            .ok()
            .or_else(|| session.as_ref().map(|s| s.server.clone()))
            .unwrap_or_else(|| "http://127.0.0.1:8787".into());
        Ok(AppInfo {
            session: session.as_ref().map(SessionInfo::from),
            language,
            default_server,
            version,
            open_error: None,
            demo: demo_hint(),
        })
    }

    /// Keeps the language for the next start.
    pub async fn set_language(&self, language: Language) -> Result<(), AppError> {
        self.with_store(move |s| Ok(s.set_setting(LANGUAGE_KEY, language.as_str())?))
            .await
    }

    /// Signs in at `server` (this needs the network once), keeps the session on disk and
    /// starts syncing.
    pub async fn sign_in(
        &self,
        server: &str,
        username: &str,
        password: &str,
    ) -> Result<SessionInfo, AppError> {
        if username.trim().is_empty() || password.is_empty() {
            return Err(AppError::new(
                ErrorCode::Invalid,
                "enter your user name and password",
            ));
        }
        let device_id = self.with_store(|s| Ok(s.device_id().to_owned())).await?;
        let session = Client::login(
            server,
            username.trim(),
            password,
            &device_id,
            &device_name(),
        )
        .await
        .map_err(AppError::from_sign_in)?;
        let info = SessionInfo::from(&session);
        self.start_session(session).await?;
        Ok(info)
    }

    /// Signs out: stops syncing, forgets the session and revokes its token on the server
    /// (now, or at the next sync when offline). The work stays on the laptop and is sent
    /// after the next sign-in.
    pub async fn sign_out(&self) -> Result<(), AppError> {
        self.stop_sync().await;
        let session = self.session.lock().ok().and_then(|mut s| s.take());
        onsite_sync_client::sign_out(&self.store()?, session)
            .await
            .map_err(AppError::from)
    }
}
