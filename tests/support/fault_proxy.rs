//! A fault-injecting HTTP/1.1 proxy between the SDK and moto. It matches the operation by the
//! `X-Amz-Target: AWSCognitoIdentityProviderService.<Op>` header, answers chosen operations with
//! a status/body (optionally after a delay) for the next N requests, counts the attempts it saw
//! per operation, records request bodies, and forwards everything else to the upstream.
//!
//! Minimal by design: requests carry a Content-Length (the SDK always sends one); each
//! forwarded request uses its own upstream connection (`Connection: close`); the client side
//! stays keep-alive and every response is re-framed with a Content-Length.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// One injected answer.
#[derive(Clone, Debug)]
pub struct Fault {
    /// `None`: forward to the upstream after `delay` (a slow response).
    pub status: Option<u16>,
    pub content_type: &'static str,
    pub body: String,
    pub delay: Duration,
}

impl Fault {
    pub fn status(status: u16, body: &str) -> Self {
        Self {
            status: Some(status),
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

    /// Forwards, but only after `delay`.
    pub fn slow(delay: Duration) -> Self {
        Self {
            status: None,
            content_type: "",
            body: String::new(),
            delay,
        }
    }
}

#[derive(Default)]
struct State {
    faults: HashMap<String, VecDeque<Fault>>,
    attempts: HashMap<String, usize>,
    bodies: Vec<(String, String)>,
}

pub struct FaultProxy {
    pub endpoint: String,
    state: Arc<Mutex<State>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
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
        let port = listener.local_addr().expect("proxy addr").port();
        let state = Arc::new(Mutex::new(State::default()));
        let st = state.clone();
        let task = tokio::spawn(async move {
            while let Ok((sock, _)) = listener.accept().await {
                let st = st.clone();
                let upstream = upstream.clone();
                tokio::spawn(async move {
                    let _ = serve(sock, &upstream, st).await;
                });
            }
        });
        Self {
            endpoint: format!("http://127.0.0.1:{port}"),
            state,
            task,
        }
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
            Some(f) => {
                tokio::time::sleep(f.delay).await;
                match f.status {
                    Some(status) => {
                        let mut head = format!("HTTP/1.1 {status} Injected\r\n");
                        if !f.body.is_empty() {
                            head.push_str(&format!("Content-Type: {}\r\n", f.content_type));
                        }
                        head.push_str("x-amzn-requestid: injected\r\n\r\n");
                        reframe(&head, f.body.as_bytes())
                    }
                    None => {
                        let (h, b) = forward(upstream, &req).await?;
                        reframe(&h, &b)
                    }
                }
            }
            None => {
                let (h, b) = forward(upstream, &req).await?;
                reframe(&h, &b)
            }
        };
        sock.write_all(&response).await?;
    }
    Ok(())
}
