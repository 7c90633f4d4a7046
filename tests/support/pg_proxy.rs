//! A TCP proxy in front of the test cluster's unix socket that speaks just enough of the
//! PostgreSQL wire protocol to lose an answer on purpose.
//!
//! Frontend messages are framed as a 1-byte type and an i32 length (the startup packet has no
//! type byte; an SSLRequest or GSSENCRequest is answered 'N' by the proxy itself). Backend
//! messages use the same framing. A [`Rule`] is armed on a connection once a frontend message
//! contains `arm_on`; the next message containing `trigger` then meets the fault:
//! - [`Fault::LoseAnswer`]: the message is forwarded, the server's answer is read up to its
//!   ReadyForQuery and thrown away, and the client connection is closed — the client never
//!   learns that, say, its COMMIT succeeded.
//! - [`Fault::Drop`]: the message is never forwarded; both connections are closed at once (the
//!   server rolls back the open transaction).
//!
//! Each rule fires a limited number of times, so the client's follow-up connections (e.g. the
//! question "did it commit?") pass untouched.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UnixStream};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    LoseAnswer,
    Drop,
}

#[derive(Clone, Debug)]
pub struct Rule {
    pub arm_on: String,
    pub trigger: String,
    pub fault: Fault,
    pub remaining: u32,
}

#[derive(Default)]
struct State {
    rules: Vec<Rule>,
    fired: u32,
}

pub struct PgProxy {
    pub port: u16,
    state: Arc<Mutex<State>>,
}

const SSL_REQUEST: i32 = 80_877_103;
const GSSENC_REQUEST: i32 = 80_877_104;

impl PgProxy {
    /// Starts the proxy on 127.0.0.1 in front of the test cluster (on the current runtime).
    pub async fn start() -> Self {
        let c = super::pg::cluster();
        let socket = c
            .cluster
            .socket_dir
            .join(format!(".s.PGSQL.{}", c.cluster.port));
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let port = listener.local_addr().expect("addr").port();
        let state = Arc::new(Mutex::new(State::default()));
        let st = state.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let st = st.clone();
                let socket = socket.clone();
                tokio::spawn(async move {
                    let _ = serve(client, socket, st).await;
                });
            }
        });
        Self { port, state }
    }

    /// A URL for database `db` through the proxy (TCP, no TLS).
    pub fn url(&self, db: &str) -> String {
        format!(
            "postgres://postgres@127.0.0.1:{}/{db}?sslmode=disable",
            self.port
        )
    }

    /// Adds a rule that fires once.
    pub fn once(&self, arm_on: &str, trigger: &str, fault: Fault) {
        self.state.lock().expect("state").rules.push(Rule {
            arm_on: arm_on.into(),
            trigger: trigger.into(),
            fault,
            remaining: 1,
        });
    }

    /// How many times a rule fired.
    pub fn fired(&self) -> u32 {
        self.state.lock().expect("state").fired
    }
}

fn contains(hay: &[u8], needle: &str) -> bool {
    let n = needle.as_bytes();
    !n.is_empty() && hay.windows(n.len()).any(|w| w == n)
}

async fn read_frame<R: AsyncRead + Unpin>(r: &mut R) -> std::io::Result<(u8, Vec<u8>)> {
    let ty = r.read_u8().await?;
    let len = r.read_i32().await?;
    let mut body = vec![0u8; (len.max(4) - 4) as usize];
    r.read_exact(&mut body).await?;
    Ok((ty, body))
}

async fn write_frame<W: AsyncWrite + Unpin>(w: &mut W, ty: u8, body: &[u8]) -> std::io::Result<()> {
    let mut buf = Vec::with_capacity(body.len() + 5);
    buf.push(ty);
    buf.extend_from_slice(&(body.len() as i32 + 4).to_be_bytes());
    buf.extend_from_slice(body);
    w.write_all(&buf).await?;
    w.flush().await
}

async fn serve(
    mut client: TcpStream,
    socket: PathBuf,
    state: Arc<Mutex<State>>,
) -> std::io::Result<()> {
    // Startup: answer SSL/GSS requests with 'N' until the real startup packet arrives.
    let startup = loop {
        let len = client.read_i32().await?;
        let mut body = vec![0u8; (len.max(4) - 4) as usize];
        client.read_exact(&mut body).await?;
        let code = i32::from_be_bytes(body[..4].try_into().expect("code"));
        if code == SSL_REQUEST || code == GSSENC_REQUEST {
            client.write_all(b"N").await?;
            continue;
        }
        let mut packet = len.to_be_bytes().to_vec();
        packet.extend_from_slice(&body);
        break packet;
    };
    let mut upstream = UnixStream::connect(&socket).await?;
    upstream.write_all(&startup).await?;
    let (mut cr, mut cw) = client.into_split();
    let (mut ur, mut uw) = upstream.into_split();

    let swallow = Arc::new(AtomicBool::new(false));
    let sw = swallow.clone();
    // Server → client: relays frames; once told to swallow, reads up to ReadyForQuery, throws
    // it all away and closes the client side.
    let back = tokio::spawn(async move {
        loop {
            let Ok((ty, body)) = read_frame(&mut ur).await else {
                return;
            };
            if sw.load(Ordering::SeqCst) {
                if ty == b'Z' {
                    let _ = cw.shutdown().await;
                    return;
                }
                continue;
            }
            if write_frame(&mut cw, ty, &body).await.is_err() {
                return;
            }
        }
    });

    let mut armed: Vec<bool> = Vec::new();
    loop {
        let (ty, body) = match read_frame(&mut cr).await {
            Ok(f) => f,
            Err(_) => break,
        };
        let mut fault = None;
        {
            let mut st = state.lock().expect("state");
            armed.resize(st.rules.len(), false);
            for (i, rule) in st.rules.iter_mut().enumerate() {
                if rule.remaining == 0 {
                    continue;
                }
                if armed[i] && contains(&body, &rule.trigger) {
                    rule.remaining -= 1;
                    fault = Some(rule.fault);
                    break;
                }
                if contains(&body, &rule.arm_on) {
                    armed[i] = true;
                }
            }
            if fault.is_some() {
                st.fired += 1;
            }
        }
        match fault {
            Some(Fault::Drop) => {
                back.abort();
                return Ok(());
            }
            Some(Fault::LoseAnswer) => {
                swallow.store(true, Ordering::SeqCst);
                write_frame(&mut uw, ty, &body).await?;
                // The server's whole answer is read (so it did the work) and thrown away.
                let _ = back.await;
                return Ok(());
            }
            None => write_frame(&mut uw, ty, &body).await?,
        }
    }
    back.abort();
    Ok(())
}
