//! The Cognito emulator (moto server from the pinned virtualenv).

use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::{Duration, Instant};

use std::os::unix::process::CommandExt;

pub struct Moto {
    pub port: u16,
    pub endpoint: String,
}

static MOTO: OnceLock<Moto> = OnceLock::new();
static MOTO_PID: AtomicI32 = AtomicI32::new(0);

extern "C" fn kill_moto() {
    let pid = MOTO_PID.load(Ordering::SeqCst);
    if pid > 0 {
        // SAFETY: plain syscalls on a child pid we started.
        unsafe {
            libc::kill(pid, libc::SIGKILL);
            let mut st = 0;
            libc::waitpid(pid, &mut st, 0);
        }
    }
}

/// `HUBDECK_MOTO_SERVER`, else `.venv/bin/moto_server` in the repository.
pub fn moto_binary() -> PathBuf {
    if let Some(p) = std::env::var_os("HUBDECK_MOTO_SERVER").filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/moto_server")
}

/// Starts moto once per test process.
pub fn moto() -> &'static Moto {
    MOTO.get_or_init(|| {
        let bin = moto_binary();
        if !bin.exists() {
            super::fail_missing(
                "the Cognito emulator (moto_server)",
                &format!("expected {} (python3 -m venv .venv && .venv/bin/pip install 'moto[server,cognitoidp]==5.2.5'), or set HUBDECK_MOTO_SERVER", bin.display()),
            );
        }
        let port = hubdeck::localpg::free_port().expect("free port");
        let child = super::on_keeper(move || {
            let mut c = Command::new(&bin);
            c.args(["-H", "127.0.0.1", "-p", &port.to_string()])
                // moto checks TOTP codes (SOFTWARE_TOKEN_MFA, VerifySoftwareToken) only with this.
                .env("MOTO_COGNITO_IDP_USER_POOL_ENABLE_TOTP", "true")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null());
            // SAFETY: prctl is async-signal-safe.
            unsafe {
                c.pre_exec(|| {
                    libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                    Ok(())
                });
            }
            c.spawn()
        })
        .unwrap_or_else(|e| panic!("start moto_server: {e}"));
        MOTO_PID.store(child.id() as i32, Ordering::SeqCst);
        std::mem::forget(child);
        // SAFETY: registering a plain extern "C" fn.
        unsafe {
            libc::atexit(kill_moto);
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "moto_server did not listen on {port} within 30 s");
            std::thread::sleep(Duration::from_millis(50));
        }
        Moto { port, endpoint: format!("http://127.0.0.1:{port}") }
    })
}

/// Directory settings aimed at `endpoint` (moto or a fault proxy in front of it).
pub fn directory_settings(
    endpoint: &str,
    user_pool_id: &str,
    client_id: &str,
) -> hubdeck::config::DirectorySettings {
    // moto does not check signatures; any static credentials will do.
    // SAFETY (edition 2024 set_var): tests set the same constant values from any thread.
    unsafe {
        std::env::set_var("AWS_ACCESS_KEY_ID", "testing");
        std::env::set_var("AWS_SECRET_ACCESS_KEY", "testing");
    }
    hubdeck::config::DirectorySettings {
        kind: hubdeck::config::DirectoryKind::Cognito,
        region: "eu-west-2".into(),
        user_pool_id: user_pool_id.into(),
        client_id: client_id.into(),
        endpoint_url: endpoint.into(),
        initial_backoff_ms: 50,
        ..Default::default()
    }
}

/// A fresh user pool (and an app client allowing ADMIN_USER_PASSWORD_AUTH) for one test:
/// tests are isolated by pool, so they can run in parallel on one emulator.
pub async fn fresh_pool(client: &aws_sdk_cognitoidentityprovider::Client) -> (String, String) {
    let name = format!("hubdeck-test-{}", uuid::Uuid::new_v4());
    let pool = client
        .create_user_pool()
        .pool_name(name)
        .send()
        .await
        .expect("create pool");
    let pool_id = pool
        .user_pool()
        .and_then(|p| p.id())
        .expect("pool id")
        .to_string();
    let app = client
        .create_user_pool_client()
        .user_pool_id(&pool_id)
        .client_name("hubdeck")
        .explicit_auth_flows(aws_sdk_cognitoidentityprovider::types::ExplicitAuthFlowsType::AllowAdminUserPasswordAuth)
        .explicit_auth_flows(aws_sdk_cognitoidentityprovider::types::ExplicitAuthFlowsType::AllowRefreshTokenAuth)
        .send()
        .await
        .expect("create app client");
    let client_id = app
        .user_pool_client()
        .and_then(|c| c.client_id())
        .expect("client id")
        .to_string();
    (pool_id, client_id)
}
