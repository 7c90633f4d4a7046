//! The work a screen hands the console: reads ([`Job`], a page [`ListSource`]) and mutations
//! ([`Operation`]). No use case is named here. A read is asked with [`ask`]: its answer,
//! success or failure, becomes a variant of the asking screen's own reply enum, so the screen
//! matches it exhaustively. The loop's messages are in `tui/msg.rs`.

mod read;

use std::any::Any;
use std::sync::Arc;

use futures::future::BoxFuture;

use crate::directory::{MfaChallenge, NewPasswordChallenge};
use crate::domain::{DisplayText, Page, PageQuery, Secret};
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

pub use read::{
    Anonymous, AnonymousJob, Answer, Ask, Lift, Load, LoadBox, Purpose, Runs, ask, ask_page,
};

/// The future of one job.
pub type JobFuture<T> = BoxFuture<'static, anyhow::Result<T>>;

/// A read a screen (or its form) asks for: a detail, a usage summary, the choices of a roles
/// form. Its answer is typed ([`Job::Out`]); [`ask`] says what the answer becomes for whoever
/// asked (a variant of that screen's own reply enum).
pub trait Job: Send + std::fmt::Debug + AsAny {
    type Out: Send + 'static;
    fn run(self, services: Services, actor: Actor) -> JobFuture<Self::Out>;
}

/// A list's data source: one page of typed rows and the values of a column's filter menu.
/// Each screen's `data.rs` implements it over its service calls.
pub trait ListSource<T>: Send + Sync + std::fmt::Debug {
    fn page(&self, services: Services, actor: Actor, query: PageQuery) -> JobFuture<Page<T>>;
    fn filter_values(
        &self,
        services: Services,
        actor: Actor,
        column: String,
        query: PageQuery,
    ) -> JobFuture<Vec<String>>;
}

/// The filter-menu half of a [`ListSource`], without its row type (the table widget asks it).
pub trait FilterSource: Send + Sync + std::fmt::Debug {
    fn filter_values(
        &self,
        services: Services,
        actor: Actor,
        column: String,
        query: PageQuery,
    ) -> JobFuture<Vec<String>>;
}

/// A [`ListSource`] seen only for its filter values.
pub struct Filters<T>(pub Arc<dyn ListSource<T>>);

impl<T> std::fmt::Debug for Filters<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl<T: 'static> FilterSource for Filters<T> {
    fn filter_values(
        &self,
        services: Services,
        actor: Actor,
        column: String,
        query: PageQuery,
    ) -> JobFuture<Vec<String>> {
        self.0.filter_values(services, actor, column, query)
    }
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

/// A mutation a screen starts (each runs as a background task; its reply comes back as
/// `Msg::OpDone` and is always handled).
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
#[derive(Clone, Default)]
pub struct Progress {
    to: Option<Arc<dyn Fn(u64) + Send + Sync>>,
}

impl std::fmt::Debug for Progress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Progress").finish_non_exhaustive()
    }
}

impl Progress {
    /// Reports through `to` (the console's loop sends it to the operation's footer entry).
    pub fn to(to: impl Fn(u64) + Send + Sync + 'static) -> Self {
        Self {
            to: Some(Arc::new(to)),
        }
    }
    /// Reports nowhere (tests, the CLI).
    pub fn none() -> Self {
        Self::default()
    }
    pub fn report(&self, done: u64) {
        if let Some(to) = &self.to {
            to(done);
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

/// Parses an id a screen holds as text (kept for ids chosen in the user picker).
pub fn parse_id<T: std::str::FromStr<Err = crate::domain::ValidationError>>(
    s: &str,
) -> anyhow::Result<T> {
    Ok(s.parse::<T>()?)
}
