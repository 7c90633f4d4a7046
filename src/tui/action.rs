//! The messages of the event loop: what the UI asks for ([`Request`]) and what comes back
//! ([`Msg`]). No use case is named here: a screen hands the loop its own job (a page
//! [`ListSource`], a [`Job`] or an [`Operation`]), and the reply goes back to the screen that
//! asked (see `App::pending`, the one place where stale replies are dropped).

use std::any::Any;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;

use crate::directory::{MfaChallenge, NewPasswordChallenge};
use crate::domain::{DisplayText, PageQuery, Secret};
use crate::service::mfa::MfaSetup;
use crate::service::{Actor, Operator, Services};

/// A display row of sanitized cells and the id a choice returns (the user picker's results).
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    pub id: String,
    pub cells: Vec<DisplayText>,
}

impl Row {
    pub fn new(id: impl Into<String>, cells: impl IntoIterator<Item = DisplayText>) -> Self {
        Self {
            id: id.into(),
            cells: cells.into_iter().collect(),
        }
    }

    /// Cell `i` as text (empty when absent).
    pub fn cell(&self, i: usize) -> &str {
        self.cells.get(i).map(DisplayText::as_str).unwrap_or("")
    }
}

/// A failure as the operator sees it: the top message and the whole cause chain (`{:#}`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ErrorReport {
    pub chain: Vec<String>,
    /// The service refused because the operator's own authority was revoked (disabled,
    /// deleted, grant removed): the console signs them out.
    pub revoked: bool,
    /// The database could not be reached (the connection broke or could not be opened): for a
    /// change already sent, its outcome is unknown — never reported as "failed".
    pub connection_lost: bool,
}

impl ErrorReport {
    /// The cause chain, each message through the sanitizer (errors may quote database text).
    pub fn from_anyhow(e: &anyhow::Error) -> Self {
        Self {
            chain: e
                .chain()
                .map(|c| DisplayText::with_max(&c.to_string(), 1000).into_string())
                .collect(),
            revoked: e.chain().any(|c| {
                matches!(
                    c.downcast_ref::<crate::service::ServiceError>(),
                    Some(crate::service::ServiceError::OperatorRevoked(_))
                )
            }),
            connection_lost: crate::service::outage::is_connection_loss(e),
        }
    }

    pub fn msg(s: impl Into<String>) -> Self {
        Self {
            chain: vec![DisplayText::with_max(&s.into(), 1000).into_string()],
            revoked: false,
            connection_lost: false,
        }
    }

    /// The operator's authority is gone (see [`ErrorReport::revoked`]).
    pub fn revoked(s: impl Into<String>) -> Self {
        Self {
            revoked: true,
            ..Self::msg(s)
        }
    }

    /// The `{:#}` form: causes joined by ": ".
    pub fn joined(&self) -> String {
        self.chain.join(": ")
    }
}

/// A typed reply for the screen that asked (a `Page<T>` of its rows, its detail, …); the
/// screen downcasts it to the type its own request produces.
pub type Reply = Box<dyn Any + Send>;

/// The future of one job.
pub type JobFuture<T> = BoxFuture<'static, anyhow::Result<T>>;

/// A list's data source: one page of typed rows (as a [`Reply`] holding `Page<T>`) and the
/// values of a column's filter menu. Each screen's `data.rs` implements it over its service
/// calls.
pub trait ListSource: Send + Sync + std::fmt::Debug {
    fn page(&self, services: Services, actor: Actor, query: PageQuery) -> JobFuture<Reply>;
    fn filter_values(
        &self,
        services: Services,
        actor: Actor,
        column: String,
        query: PageQuery,
    ) -> JobFuture<Vec<String>>;
}

/// The concrete value behind a trait object (tests inspect jobs and operations by type).
pub trait AsAny: Any {
    fn as_any(&self) -> &dyn Any;
}

impl<T: Any> AsAny for T {
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// A read a screen (or its form) asks for besides its pages: a detail, a usage summary, the
/// choices of a roles form. Tests inspect it with [`Request::job`].
pub trait Job: Send + std::fmt::Debug + AsAny {
    fn run(self: Box<Self>, services: Services, actor: Actor) -> JobFuture<Reply>;
}

/// A mutation a screen starts (each runs as a background task; its reply comes back as
/// [`Msg::OpDone`] and is always handled).
pub trait Operation: Send + Sync + std::fmt::Debug + AsAny + OperationClone {
    /// Short description for logs and the spinner (no secrets, no untrusted text).
    fn describe(&self) -> &'static str;
    /// The record the mutation changes (a second change to it waits for this one); `None`
    /// for creations and exports.
    fn subject(&self) -> Option<String> {
        None
    }
    /// The user whose global roles this sets (a save that removes the operator's own admin
    /// role asks for a typed confirmation).
    fn sets_roles_of(&self) -> Option<&crate::domain::UserSub> {
        None
    }
    /// Long work that may be abandoned half way without leaving anything inconsistent (the
    /// footer offers a key to cancel it).
    fn cancellable(&self) -> bool {
        false
    }
    /// Runs the change; long work reports how far it got through `progress`.
    fn run(
        self: Box<Self>,
        services: Services,
        actor: Actor,
        progress: Progress,
    ) -> JobFuture<OpOutcome>;
}

/// How a running operation tells the console how far it got (rows written so far); the
/// footer shows it next to the task.
#[derive(Clone, Debug, Default)]
pub struct Progress {
    to: Option<(u64, tokio::sync::mpsc::UnboundedSender<Msg>)>,
}

impl Progress {
    /// Reports for the operation of request `id` into the loop.
    pub fn to(id: u64, tx: tokio::sync::mpsc::UnboundedSender<Msg>) -> Self {
        Self { to: Some((id, tx)) }
    }
    /// Reports nowhere (tests, the CLI).
    pub fn none() -> Self {
        Self::default()
    }
    pub fn report(&self, done: u64) {
        if let Some((id, tx)) = &self.to {
            let _ = tx.send(Msg::Progress { id: *id, done });
        }
    }
}

/// Cloning a boxed [`Operation`] (dialogs hand a copy to the loop).
pub trait OperationClone {
    fn clone_box(&self) -> Box<dyn Operation>;
}

impl<T: Operation + Clone> OperationClone for T {
    fn clone_box(&self) -> Box<dyn Operation> {
        Box::new(self.clone())
    }
}

/// A boxed [`Operation`].
#[derive(Debug)]
pub struct OpBox(pub Box<dyn Operation>);

impl OpBox {
    pub fn new(op: impl Operation) -> Self {
        Self(Box::new(op))
    }
    /// The operation as its concrete type (tests; the roles confirmation).
    pub fn downcast_ref<T: Operation>(&self) -> Option<&T> {
        // The boxed value, not the box (a `Box<dyn Operation>` is itself `Any`).
        AsAny::as_any(&*self.0).downcast_ref::<T>()
    }
    pub fn is<T: Operation>(&self) -> bool {
        self.downcast_ref::<T>().is_some()
    }
}

impl Clone for OpBox {
    fn clone(&self) -> Self {
        Self(self.0.clone_box())
    }
}

impl std::ops::Deref for OpBox {
    type Target = dyn Operation;
    fn deref(&self) -> &Self::Target {
        self.0.as_ref()
    }
}

/// What the operation recording an acknowledged reveal describes itself as: quitting waits
/// for it without asking (quitting first would leave keys the operator holds marked "not
/// confirmed").
pub const RECORD_HAND_OVER: &str = "record the keys handed over";

/// Keys minted by trust registration or rotation, held only as [`Secret`]s.
#[derive(Debug)]
pub struct RevealKeys {
    pub title: String,
    pub trust: DisplayText,
    pub details: Vec<(String, DisplayText)>,
    pub api_key: Secret,
    pub internal_key: Option<Secret>,
    /// Run once the operator acknowledged the keys: records the hand-over (until then the
    /// trust stays marked "keys not confirmed", e.g. when the session ends first).
    pub on_acknowledged: Option<OpBox>,
}

/// What a successful mutation asks the UI to do.
#[derive(Debug, Default)]
pub struct OpOutcome {
    pub toast: String,
    pub reveal: Option<RevealKeys>,
}

impl OpOutcome {
    pub fn toast(s: impl Into<String>) -> Self {
        Self {
            toast: s.into(),
            reveal: None,
        }
    }
}

/// Results of the sign-in request.
#[derive(Debug)]
pub enum SignInReply {
    SignedIn(Operator),
    NewPasswordRequired(NewPasswordChallenge),
    /// SOFTWARE_TOKEN_MFA: ask for the authenticator app's code.
    MfaCodeRequired(MfaChallenge),
    /// MFA_SETUP: a software token is being enrolled (secret, URI and QR code, all
    /// zeroize-on-drop); ask for a code from the newly set-up app.
    MfaSetup(Arc<MfaSetup>),
}

/// Work for a background task.
#[derive(Debug)]
pub enum Request {
    /// One page of a list (`query.want` says rows, an estimate or the capped count).
    Page {
        id: u64,
        list: &'static str,
        query: PageQuery,
        source: Arc<dyn ListSource>,
    },
    FilterValues {
        id: u64,
        list: &'static str,
        column: String,
        query: PageQuery,
        source: Arc<dyn ListSource>,
    },
    /// Any other read a screen or form asks for.
    Load {
        id: u64,
        job: Box<dyn Job>,
    },
    SignIn {
        id: u64,
        email: String,
        password: Secret,
    },
    NewPassword {
        id: u64,
        challenge: NewPasswordChallenge,
        password: Secret,
    },
    /// The authenticator code for a SOFTWARE_TOKEN_MFA challenge.
    MfaCode {
        id: u64,
        challenge: MfaChallenge,
        code: Secret,
    },
    /// A code from the app just set up (MFA_SETUP).
    MfaSetupCode {
        id: u64,
        setup: Arc<MfaSetup>,
        code: Secret,
    },
    Op {
        id: u64,
        op: OpBox,
    },
    Health,
    /// `:env NAME`: connect to another environment (the loop swaps the services).
    SwitchEnv {
        id: u64,
        name: String,
    },
    /// Abort the task of request `id` (a cancellable operation).
    Cancel {
        id: u64,
    },
}

impl Request {
    /// The job of a [`Request::Load`] as its concrete type (tests answer by type).
    pub fn job<T: Job>(&self) -> Option<&T> {
        match self {
            // The boxed value, not the box (a `Box<dyn Job>` is itself `Any`).
            Request::Load { job, .. } => AsAny::as_any(&**job).downcast_ref::<T>(),
            _ => None,
        }
    }
}

/// What comes back into the loop.
#[derive(Debug)]
pub enum Msg {
    /// Periodic tick (spinner, debounce, toasts, health pings).
    Tick,
    Key(crossterm::event::KeyEvent),
    Paste(String),
    Resize(u16, u16),
    /// The terminal gained (true) or lost (false) focus, where it reports focus.
    Focus(bool),
    /// The answer to a [`Request::Page`], [`Request::FilterValues`] or [`Request::Load`],
    /// routed to whoever asked.
    Reply {
        id: u64,
        result: Result<Reply, ErrorReport>,
    },
    SignIn {
        id: u64,
        result: Result<SignInReply, ErrorReport>,
    },
    OpDone {
        id: u64,
        result: Result<OpOutcome, ErrorReport>,
    },
    /// How far a running operation got (rows so far).
    Progress {
        id: u64,
        done: u64,
    },
    Health {
        db: bool,
        directory: bool,
        latency: Duration,
        /// Changes waiting for a second operator (None: not readable by this operator).
        approvals: Option<i64>,
    },
    /// The loop now talks to the new environment (its settings for the top bar), or why not.
    EnvSwitched {
        id: u64,
        result: Result<super::app::AppConfig, ErrorReport>,
    },
}

impl Msg {
    /// A successful reply carrying `value` (tests, and the tasks).
    pub fn reply<T: Any + Send>(id: u64, value: T) -> Self {
        Msg::Reply {
            id,
            result: Ok(Box::new(value)),
        }
    }
}

/// Parses an id a screen holds as text (kept for ids chosen in the user picker).
pub fn parse_id<T: std::str::FromStr<Err = crate::domain::ValidationError>>(
    s: &str,
) -> anyhow::Result<T> {
    Ok(s.parse::<T>()?)
}
