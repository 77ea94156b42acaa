//! What the app holds while it runs: the opened store, the session and the sync engine.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use onsite_store::{OpenOptions, Store, StoreError};
use onsite_sync_client::{Config, Session, SharedStore, SyncEngine, SyncHandle, SyncState};
use serde::Serialize;
use tauri::{AppHandle, Emitter};
use ts_rs::TS;

use crate::error::{AppError, ErrorCode};

/// The event the sync bar listens to.
pub const SYNC_EVENT: &str = "sync-status";

/// The sync bar's content: the engine's state and when the last sync finished.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
pub struct SyncStatus {
    pub state: SyncState,
    /// Kept across restarts; `None` before the first sync on this laptop.
    pub last_synced_at: Option<chrono::DateTime<chrono::Utc>>,
    /// How far this laptop's clock runs ahead of the server's (negative: behind), when it
    /// is far enough off to tell the engineer (`hlc::clock_warning`).
    pub clock_ahead_ms: Option<i64>,
}

/// The app's state, managed by Tauri.
#[derive(Debug)]
pub struct AppState {
    /// `None` once the app is shutting down.
    store: RwLock<Option<SharedStore>>,
    /// Why the store could not be opened (the app then shows this and nothing else).
    open_error: Option<AppError>,
    session: Mutex<Option<Session>>,
    sync: tokio::sync::Mutex<Option<SyncHandle>>,
    /// The folder the database lives in; printed documents go to `documents/` in it.
    dir: PathBuf,
}

impl AppState {
    /// Opens (or creates) the store in `dir`.
    pub fn open(dir: &Path) -> AppState {
        let opened = std::fs::create_dir_all(dir)
            .map_err(|e| StoreError::Io {
                path: dir.to_path_buf(),
                source: e,
            })
            // The data is encrypted with a key kept in the system keyring.
            .and_then(|()| onsite_store::keychain::database_key(dir))
            .and_then(|key| {
                Store::open(
                    dir.join("onsite.db"),
                    &OpenOptions {
                        // Used on the first open only; the store keeps its device id.
                        device_id: uuid::Uuid::now_v7().to_string(),
                        key: Some(key),
                    },
                )
            });
        let (store, open_error) = match opened {
            Ok(mut store) => {
                // The session token with the key, in the keyring.
                store.keep_secrets_in_keyring();
                tracing::info!(path = %store.path().display(), check = store.opened_with, "store opened");
                (Some(Arc::new(Mutex::new(store))), None)
            }
            Err(e) => {
                tracing::error!(error = %e, "the local store cannot be opened");
                (None, Some(AppError::from(e)))
            }
        };
        AppState {
            store: RwLock::new(store),
            open_error,
            session: Mutex::new(None),
            sync: tokio::sync::Mutex::new(None),
            dir: dir.to_path_buf(),
        }
    }

    /// Where documents opened for printing are kept.
    pub fn documents_dir(&self) -> PathBuf {
        self.dir.join("documents")
    }

    /// The store, or why there is none.
    pub fn store(&self) -> Result<SharedStore, AppError> {
        if let Some(e) = &self.open_error {
            return Err(e.clone());
        }
        self.store
            .read()
            .ok()
            .and_then(|s| s.clone())
            .ok_or_else(|| AppError::new(ErrorCode::Storage, "the app is closing"))
    }

    pub fn open_error(&self) -> Option<&AppError> {
        self.open_error.as_ref()
    }

    /// Runs `f` on the store on a blocking thread (SQLite is synchronous).
    pub async fn with_store<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Store) -> Result<T, AppError> + Send + 'static,
    ) -> Result<T, AppError> {
        let store = self.store()?;
        tauri::async_runtime::spawn_blocking(move || {
            let mut guard = store.lock().map_err(|_| {
                AppError::new(
                    ErrorCode::Storage,
                    "the local store lock was poisoned: restart Onsite",
                )
            })?;
            f(&mut guard)
        })
        .await
        .map_err(|e| AppError::new(ErrorCode::Storage, format!("a store task failed: {e}")))?
    }

    pub fn session(&self) -> Option<Session> {
        self.session.lock().ok().and_then(|s| s.clone())
    }

    /// At start: a kept session signs the engineer in again, online or not, and starts
    /// syncing.
    pub async fn resume(&self, app: &AppHandle) {
        let kept = self
            .with_store(|s| Session::load(s).map_err(AppError::from))
            .await;
        match kept {
            Ok(Some(session)) => {
                if let Err(e) = self.start_session(app, session).await {
                    tracing::error!(error = ?e, "could not resume the session");
                }
            }
            Ok(None) => {}
            Err(e) => tracing::error!(error = ?e, "could not read the kept session"),
        }
    }

    /// Keeps `session` (on disk before this returns) and (re)starts the sync engine with it.
    pub async fn start_session(&self, app: &AppHandle, session: Session) -> Result<(), AppError> {
        let kept = session.clone();
        self.with_store(move |s| kept.save(s).map_err(AppError::from))
            .await?;
        self.stop_sync().await;
        let store = self.store()?;
        let config = Config {
            department: session.user.department.clone(),
            ..Config::default()
        };
        let handle = SyncEngine::start(store, &session, config);
        let mut states = handle.state();
        if let Ok(mut s) = self.session.lock() {
            *s = Some(session);
        }
        *self.sync.lock().await = Some(handle);
        // Forward every state of the engine to the UI until the engine stops.
        let app = app.clone();
        tauri::async_runtime::spawn(async move {
            loop {
                let state = states.borrow_and_update().clone();
                let status = status_of(&app, state).await;
                if let Err(e) = app.emit(SYNC_EVENT, status) {
                    tracing::warn!(error = %e, "could not send the sync status to the window");
                }
                if states.changed().await.is_err() {
                    break;
                }
            }
        });
        Ok(())
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

    async fn stop_sync(&self) {
        if let Some(handle) = self.sync.lock().await.take() {
            handle.stop().await;
        }
    }

    /// Tells the engine something was written here (it syncs once writes pause).
    pub async fn local_write(&self) {
        if let Some(handle) = self.sync.lock().await.as_ref() {
            handle.local_write();
        }
    }

    pub async fn sync_now(&self) -> Result<(), AppError> {
        match self.sync.lock().await.as_ref() {
            Some(handle) => {
                handle.sync_now();
                Ok(())
            }
            None => Err(AppError::not_signed_in()),
        }
    }

    /// The engine's state now (`Starting` when not signed in).
    pub async fn sync_state(&self) -> SyncState {
        match self.sync.lock().await.as_ref() {
            Some(handle) => handle.state().borrow().clone(),
            None => SyncState::Starting,
        }
    }

    /// At exit: stops the engine after its current step and closes the store cleanly (the
    /// next start then runs the quick check only).
    pub async fn shut_down(&self) {
        self.stop_sync().await;
        let store = self.store.write().ok().and_then(|mut s| s.take());
        if let Some(store) = store {
            match Arc::try_unwrap(store) {
                Ok(mutex) => {
                    // A panic elsewhere does not stop a clean close of the database.
                    let store = mutex.into_inner().unwrap_or_else(|p| p.into_inner());
                    if let Err(e) = store.close() {
                        tracing::warn!(error = %e, "the store did not close cleanly");
                    }
                }
                Err(_) => tracing::warn!(
                    "the store is still in use at exit; the next start checks it fully"
                ),
            }
        }
    }
}

/// The sync bar's content for `state`.
pub async fn status_of(app: &AppHandle, state: SyncState) -> SyncStatus {
    use tauri::Manager;
    let (last_synced_at, clock_ahead_ms) = match app.try_state::<AppState>() {
        Some(s) => s
            .with_store(|s| {
                let last = onsite_sync_client::last_synced_at(s).map_err(AppError::from)?;
                Ok((last, onsite_domain::hlc::clock_warning(s.clock_offset_ms())))
            })
            .await
            .unwrap_or((None, None)),
        None => (None, None),
    };
    SyncStatus {
        state,
        last_synced_at,
        clock_ahead_ms,
    }
}
