//! A fault-injecting HTTP/1.1 proxy between the SDK and moto. It matches the operation by the
//! `X-Amz-Target: AWSCognitoIdentityProviderService.<Op>` header and, for the next N requests of
//! a chosen operation, answers with a status/body, forwards slowly, hangs, drops the
//! connection, forwards and then holds the answer past the client's timeout ("late answer": the
//! request took effect, the answer never arrives), or forwards and then resets the connection.
//! It counts the attempts it saw per operation, records request bodies, can stop listening so
//! connections are refused, and forwards everything else to the upstream.
//!
//! Minimal by design: requests carry a Content-Length (the SDK always sends one); each
//! forwarded request uses its own upstream connection (`Connection: close`); the client side
//! stays keep-alive and every response is re-framed with a Content-Length.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What the proxy does with one request.
#[derive(Clone, Debug)]
pub enum Mode {
    /// Answer with this status (never forwarded).
    Answer(u16),
    /// Forward (after `delay`) and relay the answer.
    Forward,
    /// Never forward; hold the connection for the duration, then close it (a timeout).
    Hang(Duration),
    /// Never forward; close the connection at once (an I/O failure, nothing took effect).
    Drop,
    /// Forward (the request takes effect), then hold the answer for the duration and close
    /// the connection without it — the client's attempt timeout fires first.
    Late(Duration),
    /// Forward (the request takes effect), then reset the connection (RST) instead of
    /// answering.
    ResetAfterForward,
}

/// One injected fault.
#[derive(Clone, Debug)]
pub struct Fault {
    pub mode: Mode,
    pub content_type: &'static str,
    pub body: String,
    pub delay: Duration,
}

impl Fault {
    pub fn status(status: u16, body: &str) -> Self {
        Self {
            mode: Mode::Answer(status),
            content_type: "application/x-amz-json-1.1",
            body: body.to_string(),
            delay: Duration::ZERO,
        }
    }

    /// A modelled Cognito error, e.g. `("TooManyRequestsException", 400)`.
    pub fn aws_error(code: &str, status: u16) -> Self {
        Self::status(
            status,
            &format!(r#"{{"__type":"{code}","message":"injected {code}"}}"#),
        )
    }

    pub fn html(status: u16) -> Self {
        Self {
            content_type: "text/html",
            ..Self::status(status, "<html><body><h1>Not Found</h1></body></html>")
        }
    }

    fn mode(mode: Mode) -> Self {
        Self {
            mode,
            content_type: "",
            body: String::new(),
            delay: Duration::ZERO,
        }
    }

    /// Forwards, but only after `delay`.
    pub fn slow(delay: Duration) -> Self {
        Self {
            delay,
            ..Self::mode(Mode::Forward)
        }
    }

    /// Holds the request without forwarding, then drops the connection (client times out).
    pub fn hang(d: Duration) -> Self {
        Self::mode(Mode::Hang(d))
    }

    /// Drops the connection without forwarding or answering.
    pub fn drop_connection() -> Self {
        Self::mode(Mode::Drop)
    }

    /// Forwards (takes effect) and holds the answer for `hold`, then closes without it.
    pub fn late(hold: Duration) -> Self {
        Self::mode(Mode::Late(hold))
    }

    /// Forwards (takes effect), then resets the connection instead of answering.
    pub fn reset_after_forward() -> Self {
        Self::mode(Mode::ResetAfterForward)
    }
}

#[derive(Default)]
struct State {
    faults: HashMap<String, VecDeque<Fault>>,
    attempts: HashMap<String, usize>,
    bodies: Vec<(String, String)>,
    /// After this many more answers the proxy stops listening: later connections are REFUSED.
    refuse_after: Option<usize>,
    answers: usize,
    accept_task: Option<tokio::task::AbortHandle>,
}

pub struct FaultProxy {
    pub endpoint: String,
    addr: std::net::SocketAddr,
    upstream: String,
    state: Arc<Mutex<State>>,
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        if let Some(t) = self.state.lock().expect("proxy state").accept_task.take() {
            t.abort();
        }
    }
}

const TARGET_PREFIX: &str = "AWSCognitoIdentityProviderService.";

impl FaultProxy {
    /// Starts a proxy on 127.0.0.1:0 forwarding to `upstream` (`http://host:port`).
    pub async fn start(upstream: &str) -> Self {
        let upstream = upstream
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_string();
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let addr = listener.local_addr().expect("proxy addr");
        let p = Self {
            endpoint: format!("http://{addr}"),
            addr,
            upstream,
            state: Arc::new(Mutex::new(State::default())),
        };
        p.listen(listener);
        p
    }

    fn listen(&self, listener: TcpListener) {
        let (st, upstream) = (self.state.clone(), self.upstream.clone());
        let task = tokio::spawn(async move {
            while let Ok((sock, _)) = listener.accept().await {
                let (st, upstream) = (st.clone(), upstream.clone());
                tokio::spawn(async move {
                    let _ = serve(sock, &upstream, st).await;
                });
            }
        });
        self.state.lock().expect("proxy state").accept_task = Some(task.abort_handle());
    }

    /// Connections are refused (ECONNREFUSED) once the proxy has answered `n` more requests
    /// (0: at once); the n-th answer carries `Connection: close` so the client must reconnect.
    pub fn refuse_after(&self, n: usize) {
        let mut s = self.state.lock().expect("proxy state");
        s.answers = 0;
        if n == 0 {
            if let Some(t) = s.accept_task.take() {
                t.abort();
            }
        } else {
            s.refuse_after = Some(n);
        }
    }

    /// Listens again on the same port (after `refuse_after`).
    pub async fn reopen(&self) {
        let stopped = {
            let mut s = self.state.lock().expect("proxy state");
            s.refuse_after = None;
            s.accept_task.take().map(|t| t.abort()).is_some()
        };
        if stopped {
            tokio::task::yield_now().await;
        }
        let listener = TcpListener::bind(self.addr)
            .await
            .expect("rebind proxy port");
        self.listen(listener);
    }

    /// Forgets every pending fault and listens again.
    pub async fn clear(&self) {
        self.state.lock().expect("proxy state").faults.clear();
        self.reopen().await;
    }

    /// Answers the next `times` requests for `op` (e.g. "ListUsers") with `fault`.
    pub fn inject(&self, op: &str, fault: Fault, times: usize) {
        let mut s = self.state.lock().expect("proxy state");
        let q = s.faults.entry(op.to_string()).or_default();
        for _ in 0..times {
            q.push_back(fault.clone());
        }
    }

    /// How many requests for `op` reached the proxy.
    pub fn attempts(&self, op: &str) -> usize {
        let s = self.state.lock().expect("proxy state");
        s.attempts.get(op).copied().unwrap_or(0)
    }

    /// Requests of every operation that reached the proxy.
    pub fn total_attempts(&self) -> usize {
        let s = self.state.lock().expect("proxy state");
        s.attempts.values().sum()
    }

    /// Request bodies (JSON) of `op`, in order.
    pub fn bodies(&self, op: &str) -> Vec<String> {
        let s = self.state.lock().expect("proxy state");
        s.bodies
            .iter()
            .filter(|(o, _)| o == op)
            .map(|(_, b)| b.clone())
            .collect()
    }

    pub fn reset_counts(&self) {
        let mut s = self.state.lock().expect("proxy state");
        s.attempts.clear();
        s.bodies.clear();
    }
}

/// An endpoint where nothing listens: bind a port, then drop the listener.
pub fn refused_endpoint() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = l.local_addr().expect("addr").port();
    drop(l);
    format!("http://127.0.0.1:{port}")
}

struct Message {
    head: String,
    body: Vec<u8>,
}

fn find_head_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n").map(|p| p + 4)
}

fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().skip(1).find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// Reads one request (head + Content-Length body). `Ok(None)` at a clean EOF.
async fn read_request<R: AsyncRead + Unpin>(
    r: &mut R,
    buf: &mut Vec<u8>,
) -> std::io::Result<Option<Message>> {
    loop {
        if let Some(end) = find_head_end(buf) {
            let head = String::from_utf8_lossy(&buf[..end]).to_string();
            let len: usize = header(&head, "content-length")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            while buf.len() < end + len {
                let mut chunk = [0u8; 8192];
                let n = r.read(&mut chunk).await?;
                if n == 0 {
                    return Err(std::io::ErrorKind::UnexpectedEof.into());
                }
                buf.extend_from_slice(&chunk[..n]);
            }
            let body = buf[end..end + len].to_vec();
            buf.drain(..end + len);
            return Ok(Some(Message { head, body }));
        }
        let mut chunk = [0u8; 8192];
        let n = r.read(&mut chunk).await?;
        if n == 0 {
            return Ok(None);
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

fn dechunk(mut raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = raw.windows(2).position(|w| w == b"\r\n") {
        let size_txt = String::from_utf8_lossy(&raw[..eol]).to_string();
        let size = usize::from_str_radix(size_txt.split(';').next().unwrap_or("0").trim(), 16)
            .unwrap_or(0);
        raw = &raw[eol + 2..];
        if size == 0 || raw.len() < size {
            break;
        }
        out.extend_from_slice(&raw[..size]);
        raw = &raw[(size + 2).min(raw.len())..];
    }
    out
}

async fn forward(upstream: &str, req: &Message) -> std::io::Result<(String, Vec<u8>)> {
    let mut up = TcpStream::connect(upstream).await?;
    let mut head = String::new();
    for (i, line) in req.head.trim_end().lines().enumerate() {
        if i > 0 {
            let name = line.split(':').next().unwrap_or("").trim();
            if name.eq_ignore_ascii_case("connection") {
                continue;
            }
        }
        head.push_str(line);
        head.push_str("\r\n");
    }
    head.push_str("Connection: close\r\n\r\n");
    up.write_all(head.as_bytes()).await?;
    up.write_all(&req.body).await?;
    let mut raw = Vec::new();
    up.read_to_end(&mut raw).await?;
    let end = find_head_end(&raw).ok_or(std::io::ErrorKind::InvalidData)?;
    let resp_head = String::from_utf8_lossy(&raw[..end]).to_string();
    let rest = &raw[end..];
    let body = if header(&resp_head, "transfer-encoding")
        .is_some_and(|v| v.eq_ignore_ascii_case("chunked"))
    {
        dechunk(rest)
    } else if let Some(len) = header(&resp_head, "content-length").and_then(|v| v.parse().ok()) {
        rest[..rest.len().min(len)].to_vec()
    } else {
        rest.to_vec()
    };
    Ok((resp_head, body))
}

fn reframe(resp_head: &str, body: &[u8]) -> Vec<u8> {
    let mut out = String::new();
    for (i, line) in resp_head.trim_end().lines().enumerate() {
        if i > 0 {
            let name = line.split(':').next().unwrap_or("").trim();
            if ["connection", "content-length", "transfer-encoding"]
                .iter()
                .any(|h| name.eq_ignore_ascii_case(h))
            {
                continue;
            }
        }
        out.push_str(line);
        out.push_str("\r\n");
    }
    out.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

/// Counts one answer; true when it is the last before refusing (close the connection after it).
fn answered(st: &Mutex<State>) -> bool {
    let mut s = st.lock().expect("proxy state");
    s.answers += 1;
    if s.refuse_after.is_some_and(|n| s.answers >= n) {
        s.refuse_after = None;
        if let Some(t) = s.accept_task.take() {
            t.abort();
        }
        return true;
    }
    false
}

fn with_close(mut response: Vec<u8>, close: bool) -> Vec<u8> {
    if close && let Some(eol) = response.windows(2).position(|w| w == b"\r\n") {
        let tail = response.split_off(eol + 2);
        response.extend_from_slice(b"Connection: close\r\n");
        response.extend_from_slice(&tail);
    }
    response
}

async fn serve(mut sock: TcpStream, upstream: &str, st: Arc<Mutex<State>>) -> std::io::Result<()> {
    let mut buf = Vec::new();
    while let Some(req) = read_request(&mut sock, &mut buf).await? {
        let op = header(&req.head, "x-amz-target")
            .map(|t| t.trim_start_matches(TARGET_PREFIX).to_string())
            .unwrap_or_default();
        let fault = {
            let mut s = st.lock().expect("proxy state");
            *s.attempts.entry(op.clone()).or_default() += 1;
            s.bodies
                .push((op.clone(), String::from_utf8_lossy(&req.body).to_string()));
            s.faults.get_mut(&op).and_then(|q| q.pop_front())
        };
        let response = match fault {
            None => {
                let (h, b) = forward(upstream, &req).await?;
                reframe(&h, &b)
            }
            Some(f) => {
                tokio::time::sleep(f.delay).await;
                match f.mode {
                    Mode::Answer(status) => {
                        let mut head = format!("HTTP/1.1 {status} Injected\r\n");
                        if !f.body.is_empty() {
                            head.push_str(&format!("Content-Type: {}\r\n", f.content_type));
                        }
                        head.push_str("x-amzn-requestid: injected\r\n\r\n");
                        reframe(&head, f.body.as_bytes())
                    }
                    Mode::Forward => {
                        let (h, b) = forward(upstream, &req).await?;
                        reframe(&h, &b)
                    }
                    Mode::Hang(d) => {
                        tokio::time::sleep(d).await;
                        return Ok(());
                    }
                    Mode::Drop => return Ok(()),
                    Mode::Late(hold) => {
                        let _ = forward(upstream, &req).await?;
                        answered(&st);
                        tokio::time::sleep(hold).await;
                        return Ok(());
                    }
                    Mode::ResetAfterForward => {
                        let _ = forward(upstream, &req).await?;
                        answered(&st);
                        // SO_LINGER 0: closing sends RST instead of FIN.
                        sock.set_zero_linger()?;
                        return Ok(());
                    }
                }
            }
        };
        let last = answered(&st);
        sock.write_all(&with_close(response, last)).await?;
        if last {
            return Ok(());
        }
    }
    Ok(())
}
