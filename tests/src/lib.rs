//! Test support for cross-crate tests: a real sync server on loopback that can be stopped
//! and started again on the same address and database, and helpers to seed it.

pub mod desktop;
pub mod disk;
pub mod process;
pub mod proxy;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use onsite_domain::demo::{DemoData, DemoSize, generate};
use onsite_domain::protocol::Entity;
use onsite_domain::{Role, Status};
use onsite_store::{OpenOptions, Store};
use onsite_sync_client::{Client, SharedStore};
use onsite_sync_server::auth::hash_password;
use onsite_sync_server::sqlite::SqliteStorage;
use onsite_sync_server::storage::{NewUser, Storage};
use serde_json::{Map, Value};
use uuid::Uuid;

pub const PASSWORD: &str = "correct horse";

/// A sync server in its own thread and runtime: stopping it drops every connection.
#[derive(Debug)]
pub struct TestServer {
    pub db: PathBuf,
    pub addr: SocketAddr,
    stop: Option<std::sync::mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl TestServer {
    /// Starts a server on a free loopback port over the database at `db`.
    pub fn start(db: &Path) -> TestServer {
        Self::start_on(db, "127.0.0.1:0".parse().expect("address"))
    }

    pub fn start_on(db: &Path, addr: SocketAddr) -> TestServer {
        let storage: Arc<dyn Storage> =
            Arc::new(SqliteStorage::open(db).expect("server database opens"));
        let (stop_tx, stop_rx) = std::sync::mpsc::channel::<()>();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<SocketAddr>();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("runtime");
            runtime.spawn(async move {
                let listener = tokio::net::TcpListener::bind(addr).await.expect("binds");
                let _ = ready_tx.send(listener.local_addr().expect("address"));
                let app = onsite_sync_server::router(storage)
                    .into_make_service_with_connect_info::<std::net::SocketAddr>();
                let _ = axum::serve(listener, app).await;
            });
            let _ = stop_rx.recv();
            // Every task and blocking call ends before `stop` returns, so that the storage
            // and its connections are gone (a test may then replace the database file).
            runtime.shutdown_timeout(std::time::Duration::from_secs(10));
        });
        let addr = ready_rx.recv().expect("server starts");
        TestServer {
            db: db.to_path_buf(),
            addr,
            stop: Some(stop_tx),
            thread: Some(thread),
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops the server: the port is closed and every connection dropped.
    pub fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }

    /// Starts it again, same address, same database.
    pub fn restart(&mut self) {
        self.stop();
        *self = TestServer::start_on(&self.db.clone(), self.addr);
    }

    /// The server's storage, opened beside it (SQLite allows it), for setting up and
    /// checking.
    pub fn storage(&self) -> SqliteStorage {
        SqliteStorage::open(&self.db).expect("opens")
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Adds users with [`PASSWORD`]; returns their ids in order.
pub fn add_users(storage: &dyn Storage, users: &[(&str, Role)]) -> Vec<uuid::Uuid> {
    let hash = hash_password(PASSWORD).expect("hashes");
    users
        .iter()
        .map(|(name, role)| {
            storage
                .create_user(
                    NewUser {
                        username: (*name).into(),
                        name: (*name).into(),
                        role: *role,
                        department: Some("SC".into()),
                        password_hash: hash.clone(),
                    },
                    chrono::Utc::now(),
                )
                .expect("user")
                .id
        })
        .collect()
}

/// A record as the JSON object the storage takes.
pub fn object<T: serde::Serialize>(v: &T) -> Map<String, Value> {
    match serde_json::to_value(v) {
        Ok(Value::Object(m)) => m,
        _ => panic!("an object"),
    }
}

/// Puts demo data on the server as the dispatcher: customers, equipment, and every order
/// in `status`, unassigned, with its checklist. Returns the orders' ids; assigning them is
/// the caller's.
pub fn put_demo(
    storage: &dyn Storage,
    data: &DemoData,
    status: Status,
    now: chrono::DateTime<chrono::Utc>,
) -> Vec<Uuid> {
    for c in &data.customers {
        storage
            .admin_put(Entity::Customer, object(c), now)
            .expect("customer");
    }
    for e in &data.equipment {
        storage
            .admin_put(Entity::Equipment, object(e), now)
            .expect("equipment");
    }
    let mut ids = Vec::new();
    for o in &data.orders {
        let mut o = o.clone();
        o.status = status;
        o.assignees = Vec::new();
        storage
            .admin_put(Entity::WorkOrder, object(&o), now)
            .expect("order");
        for item in data
            .checklist_items
            .iter()
            .filter(|i| i.work_order_id == o.id)
        {
            storage
                .admin_put(Entity::ChecklistItem, object(item), now)
                .expect("item");
        }
        ids.push(o.id);
    }
    ids
}

/// A server with a dispatcher, an engineer and `orders` orders assigned to the engineer.
pub fn seeded(dir: &tempfile::TempDir, orders: usize) -> (TestServer, Uuid, Vec<Uuid>) {
    let server = TestServer::start(&dir.path().join("server.db"));
    let storage = server.storage();
    let ids = add_users(
        &storage,
        &[("dispatch", Role::Dispatcher), ("wang", Role::Engineer)],
    );
    let engineer = ids[1];
    let now = chrono::Utc::now();
    let data = generate(
        3,
        DemoSize {
            customers: 3,
            equipment: 5,
            orders,
            checklist_items_per_order: 4,
            part_usages_per_order: 1,
        },
        engineer,
        now,
    );
    let order_ids = put_demo(&storage, &data, Status::Assigned, now);
    for o in &order_ids {
        storage.assign(*o, &[engineer], None, now).expect("assign");
    }
    (server, engineer, order_ids)
}

/// The database key of a test laptop, the same at every open of it (an app reads it from
/// the system keyring): test laptops are encrypted like real ones.
pub fn laptop_key(device: &str) -> onsite_store::DbKey {
    let mut bytes = [0x5au8; 32];
    for (b, d) in bytes.iter_mut().zip(device.bytes().cycle()) {
        *b ^= d;
    }
    onsite_store::DbKey::from_bytes(bytes)
}

/// A laptop: its own store in `dir`, signed in to `server` as the engineer `wang`.
pub async fn laptop(
    dir: &tempfile::TempDir,
    server: &TestServer,
    device: &str,
) -> (SharedStore, Client, onsite_sync_client::Session) {
    let store = Store::open(
        dir.path().join(format!("{device}.db")),
        &OpenOptions {
            device_id: device.into(),
            key: Some(laptop_key(device)),
        },
    )
    .expect("store");
    let session = Client::login(&server.url(), "wang", PASSWORD, device, "ThinkPad")
        .await
        .expect("signs in");
    let client = Client::new(&session);
    (Arc::new(Mutex::new(store)), client, session)
}
