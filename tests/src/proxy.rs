//! A TCP proxy on loopback between clients and the server that can misbehave on purpose:
//! refuse connections, cut a request or a response after some bytes, or delay. The mode
//! is read when a connection is accepted, so a fresh client sees the new mode.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// How the proxy treats the next connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Pass everything through.
    None,
    /// Accept, then close at once: a connection that dies before any byte.
    Refuse,
    /// Forward only the first `n` bytes of the request, then cut both ways.
    CutRequest(usize),
    /// Forward the request, and only the first `n` bytes of the response, then cut.
    CutResponse(usize),
    /// A link that works, then drops: requests and answers pass until the client has
    /// sent `n` bytes on the connection, then it is cut both ways (mid-request, usually).
    DropAfter(usize),
    /// Wait this long before forwarding anything.
    Delay(Duration),
}

/// The proxy, in its own thread and runtime.
#[derive(Debug)]
pub struct FaultProxy {
    pub addr: SocketAddr,
    fault: Arc<Mutex<Fault>>,
    /// Where connections go: the server moves to another port when its own is taken
    /// while it is down (see `ServerProcess::try_restart`).
    upstream: Arc<Mutex<SocketAddr>>,
    stop: Option<std::sync::mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

async fn pipe(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    limit: Option<usize>,
) {
    let mut buf = vec![0u8; 16 * 1024];
    let mut sent = 0usize;
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let n = limit.map_or(n, |l| n.min(l.saturating_sub(sent)));
        if n > 0 && to.write_all(&buf[..n]).await.is_err() {
            break;
        }
        sent += n;
        if limit.is_some_and(|l| sent >= l) {
            break;
        }
    }
    let _ = to.shutdown().await;
}

async fn serve(client: TcpStream, upstream: SocketAddr, fault: Fault) {
    let (request_limit, response_limit) = match fault {
        Fault::Refuse => return,
        Fault::CutRequest(n) => (Some(n), Some(0)),
        Fault::CutResponse(n) => (None, Some(n)),
        Fault::DropAfter(n) => (Some(n), None),
        Fault::Delay(d) => {
            tokio::time::sleep(d).await;
            (None, None)
        }
        Fault::None => (None, None),
    };
    let Ok(server) = TcpStream::connect(upstream).await else {
        return;
    };
    let (cr, cw) = client.into_split();
    let (sr, sw) = server.into_split();
    let up = tokio::spawn(pipe(cr, sw, request_limit));
    let down = tokio::spawn(pipe(sr, cw, response_limit));
    // When either direction is cut, the connection is over for both.
    tokio::select! {
        _ = up, if request_limit.is_some() => {}
        _ = down => {}
    }
}

impl FaultProxy {
    /// A proxy on a free loopback port in front of `upstream`.
    pub fn start(upstream: SocketAddr) -> FaultProxy {
        let fault = Arc::new(Mutex::new(Fault::None));
        let shared = Arc::clone(&fault);
        let upstream = Arc::new(Mutex::new(upstream));
        let target = Arc::clone(&upstream);
        let (stop_tx, stop_rx) = std::sync::mpsc::channel::<()>();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<SocketAddr>();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .expect("runtime");
            runtime.spawn(async move {
                let listener = TcpListener::bind("127.0.0.1:0").await.expect("binds");
                let _ = ready_tx.send(listener.local_addr().expect("address"));
                while let Ok((conn, _)) = listener.accept().await {
                    let mode = *shared.lock().expect("fault lock");
                    let to = *target.lock().expect("upstream lock");
                    tokio::spawn(serve(conn, to, mode));
                }
            });
            let _ = stop_rx.recv();
            runtime.shutdown_background();
        });
        let addr = ready_rx.recv().expect("proxy starts");
        FaultProxy {
            addr,
            fault,
            upstream,
            stop: Some(stop_tx),
            thread: Some(thread),
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Sends the next connections to `upstream` (the server's address after a restart).
    pub fn set_upstream(&self, upstream: SocketAddr) {
        *self.upstream.lock().expect("upstream lock") = upstream;
    }

    /// Sets how the next connections are treated.
    pub fn set(&self, fault: Fault) {
        *self.fault.lock().expect("fault lock") = fault;
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
