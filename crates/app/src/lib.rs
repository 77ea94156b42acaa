//! The desktop app without its window: every use case the engineer has — sign in, resume,
//! sign out, the order list and screen, each step of the work, photos, printed documents —
//! as a method of [`App`], over the local store and the sync engine. The Tauri shell
//! (`src-tauri`) only adapts these to `#[tauri::command]`s and forwards [`Events`] to the
//! window, so each use case is tested here, in Rust, without a window
//! (`crates/app/tests`). No rule is decided here: rules are in `onsite-domain`, storage
//! in `onsite-store`, HTTP in `onsite-sync-client`.
//!
//! - [`session`]: what the window needs first, the language, signing in and out;
//! - [`orders`]: the order list, search, the order screen and its steps;
//! - [`documents`]: printed documents and photos;
//! - [`photos`]: importing photos, their thumbnails;
//! - [`milestones`]: milestones with their witness, training given;
//! - [`parts`], [`time`], [`worklog`]: parts and old parts, time and expenses, the log;
//! - [`requests`]: a new request registered on site (首问负责);
//! - [`bindings`]: the TypeScript types of all of it, generated into `ui/src/lib/bindings`;
//! - [`error`]: the one error every use case returns, with a code the UI translates.

pub mod bindings;
pub mod closeout;
pub mod documents;
pub mod error;
pub mod milestones;
pub mod orders;
pub mod parts;
pub mod photos;
pub mod requests;
pub mod session;
pub mod time;
pub mod worklog;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use onsite_store::{DbKey, OpenOptions, Store, StoreError};
use onsite_sync_client::{Config, Session, SharedStore, SyncEngine, SyncHandle, SyncState};
use serde::Serialize;
use ts_rs::TS;

pub use error::{AppError, ErrorCode};

/// The sync bar's content: the engine's state and when the last sync finished.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
pub struct SyncStatus {
    pub state: SyncState,
    /// Kept across restarts; `None` before the first sync on this laptop.
    pub last_synced_at: Option<chrono::DateTime<chrono::Utc>>,
    /// How far this laptop's clock runs ahead of the server's (negative: behind), when it
    /// is far enough off to tell the engineer (`hlc::clock_warning`).
    pub clock_ahead_ms: Option<i64>,
    /// Changes the server did not apply that the engineer has not read yet (each order
    /// shows its own, in words).
    pub problems: u32,
}

/// What the app tells the window without being asked. The shell sends it as an event; a
/// test collects it.
pub trait Events: Send + Sync + 'static {
    /// The sync engine moved on (the `sync-status` event).
    fn sync_status(&self, status: SyncStatus);
}

/// Where the key of the laptop's database comes from.
#[derive(Debug, Clone)]
pub enum KeySource {
    /// The system keyring (made on the first start), which also keeps the session token:
    /// what the desktop app uses.
    Keyring,
    /// A key given by the caller, the token kept in the database: tests and tools.
    Given(DbKey),
}

/// The app while it runs: the opened store, the session and the sync engine.
pub struct App {
    /// `None` once the app is shutting down.
    store: RwLock<Option<SharedStore>>,
    /// Why the store could not be opened (the app then shows this and nothing else).
    open_error: Option<AppError>,
    session: Mutex<Option<Session>>,
    /// The running engine, and the task forwarding its states to `events`.
    sync: tokio::sync::Mutex<Option<(SyncHandle, tokio::task::JoinHandle<()>)>>,
    events: Arc<dyn Events>,
    /// The folder the database lives in; printed documents go to `documents/` in it.
    dir: PathBuf,
    /// Photo thumbnails made this run, by the photo's hash (`photos`).
    thumbnails: Mutex<std::collections::HashMap<String, Vec<u8>>>,
    /// Copies to send of large photos being made (`photos`).
    photo_copies: Mutex<Vec<tokio::task::JoinHandle<()>>>,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App")
            .field("dir", &self.dir)
            .field("open_error", &self.open_error)
            .finish_non_exhaustive()
    }
}

impl App {
    /// Opens (or creates) the store `onsite.db` in `dir`. A store that cannot be opened
    /// is not a failure here: the app starts and says why ([`App::open_error`]).
    pub fn open(dir: &Path, key: KeySource, events: Arc<dyn Events>) -> App {
        let in_keyring = matches!(key, KeySource::Keyring);
        let opened = std::fs::create_dir_all(dir)
            .map_err(|e| StoreError::Io {
                path: dir.to_path_buf(),
                source: e,
            })
            .and_then(|()| match key {
                KeySource::Keyring => onsite_store::keychain::database_key(dir),
                KeySource::Given(key) => Ok(key),
            })
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
                if in_keyring {
                    // The session token with the key, in the keyring.
                    store.keep_secrets_in_keyring();
                }
                tracing::info!(path = %store.path().display(), check = store.opened_with, "store opened");
                (Some(Arc::new(Mutex::new(store))), None)
            }
            Err(e) => {
                tracing::error!(error = %e, "the local store cannot be opened");
                (None, Some(AppError::from(e)))
            }
        };
        App {
            store: RwLock::new(store),
            open_error,
            session: Mutex::new(None),
            sync: tokio::sync::Mutex::new(None),
            events,
            dir: dir.to_path_buf(),
            thumbnails: Mutex::default(),
            photo_copies: Mutex::default(),
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
        with_shared(store, f).await
    }

    /// Who is signed in, if anyone.
    pub fn session(&self) -> Option<Session> {
        self.session.lock().ok().and_then(|s| s.clone())
    }

    fn signed_in(&self) -> Result<Session, AppError> {
        self.session().ok_or_else(AppError::not_signed_in)
    }

    /// At start: a kept session signs the engineer in again, online or not, and starts
    /// syncing.
    pub async fn resume(&self) {
        let kept = self
            .with_store(|s| Session::load(s).map_err(AppError::from))
            .await;
        match kept {
            Ok(Some(session)) => {
                if let Err(e) = self.start_session(session).await {
                    tracing::error!(error = ?e, "could not resume the session");
                }
            }
            Ok(None) => {}
            Err(e) => tracing::error!(error = ?e, "could not read the kept session"),
        }
    }

    /// Keeps `session` (on disk before this returns) and (re)starts the sync engine with it.
    async fn start_session(&self, session: Session) -> Result<(), AppError> {
        let kept = session.clone();
        self.with_store(move |s| kept.save(s).map_err(AppError::from))
            .await?;
        self.stop_sync().await;
        let store = self.store()?;
        let handle = SyncEngine::start(Arc::clone(&store), &session, Config::default());
        let mut states = handle.state();
        if let Ok(mut s) = self.session.lock() {
            *s = Some(session);
        }
        // Forward every state of the engine to the window until the engine stops.
        let events = Arc::clone(&self.events);
        let forward = tokio::spawn(async move {
            loop {
                let state = states.borrow_and_update().clone();
                events.sync_status(status_of(&store, state).await);
                if states.changed().await.is_err() {
                    break;
                }
            }
        });
        *self.sync.lock().await = Some((handle, forward));
        self.resume_photo_copies().await;
        Ok(())
    }

    /// Stops the engine after the step it is in, and its forwarding of states (which
    /// holds the store too: at exit, the store must be free to close).
    async fn stop_sync(&self) {
        let running = self.sync.lock().await.take();
        if let Some((handle, forward)) = running {
            handle.stop().await;
            if let Err(e) = forward.await {
                tracing::warn!(error = %e, "the sync status forwarding ended badly");
            }
        }
    }

    /// Tells the engine something was written here (it syncs once writes pause); the
    /// sync bar's count of what waits to be sent changes now.
    async fn local_write(&self) {
        if let Some((handle, _)) = self.sync.lock().await.as_ref() {
            handle.local_write().await;
        }
    }

    /// Syncs now rather than at the engine's next turn.
    pub async fn sync_now(&self) -> Result<(), AppError> {
        match self.sync.lock().await.as_ref() {
            Some((handle, _)) => {
                handle.sync_now();
                Ok(())
            }
            None => Err(AppError::not_signed_in()),
        }
    }

    /// The sync bar's content now (`Starting` when not signed in).
    pub async fn sync_status(&self) -> SyncStatus {
        let state = match self.sync.lock().await.as_ref() {
            Some((handle, _)) => handle.state().borrow().clone(),
            None => SyncState::Starting,
        };
        match self.store() {
            Ok(store) => status_of(&store, state).await,
            Err(_) => SyncStatus {
                state,
                last_synced_at: None,
                clock_ahead_ms: None,
                problems: 0,
            },
        }
    }

    /// At exit: stops the engine after its current step and closes the store cleanly (the
    /// next start then runs the quick check only).
    pub async fn shut_down(&self) {
        self.photo_copies_done().await;
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

/// Runs `f` on `store` on a blocking thread.
async fn with_shared<T: Send + 'static>(
    store: SharedStore,
    f: impl FnOnce(&mut Store) -> Result<T, AppError> + Send + 'static,
) -> Result<T, AppError> {
    tokio::task::spawn_blocking(move || {
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

/// The sync bar's content for `state`.
async fn status_of(store: &SharedStore, state: SyncState) -> SyncStatus {
    let (last_synced_at, clock_ahead_ms, problems) = with_shared(Arc::clone(store), |s| {
        let last = onsite_sync_client::last_synced_at(s).map_err(AppError::from)?;
        let problems = u32::try_from(s.unseen_outcomes()?).unwrap_or(u32::MAX);
        Ok((
            last,
            onsite_domain::hlc::clock_warning(s.clock_offset_ms()),
            problems,
        ))
    })
    .await
    .unwrap_or((None, None, 0));
    SyncStatus {
        state,
        last_synced_at,
        clock_ahead_ms,
        problems,
    }
}
