//! The messages of the event loop: what the console asks a task for ([`Request`]) and what
//! comes back into the loop ([`Msg`]). Every read comes back as a [`Reply`]: a screen's own
//! reply (one variant per tab, see `screens::registry`) or one of the console's own (a form's
//! role choices, a filter menu, the change feed, sign-in). Which reply is still wanted is the
//! inbox's (`app/inbox.rs`).

use std::time::Duration;

use crate::domain::PageQuery;
use crate::service::changes::ChangeBatch;
use crate::tui::action::{Answer, ErrorReport, LoadBox, OpBox, OpOutcome, Row, SignInReply};
use crate::tui::screens::TabReply;
use crate::tui::screens::roles::RoleChoices;

/// A reply for whoever asked.
#[derive(Debug)]
pub enum Reply {
    /// For a screen (its own reply enum inside).
    Tab(Box<TabReply>),
    /// The choices of the open Roles form.
    Choices(Result<RoleChoices, ErrorReport>),
    /// The open form's user-picker results.
    Picked(Result<Vec<Row>, ErrorReport>),
    /// The values of a column's filter menu.
    FilterValues {
        column: String,
        values: Result<Vec<String>, ErrorReport>,
    },
    /// A poll of the change feed (the live view).
    Changes(Result<ChangeBatch, ErrorReport>),
    /// Sign-in, a new password or an authenticator code.
    SignIn(Result<SignInReply, ErrorReport>),
}

impl<T: Into<TabReply>> From<T> for Reply {
    fn from(r: T) -> Self {
        Reply::Tab(Box::new(r.into()))
    }
}

/// Work for a background task.
#[derive(Debug)]
pub enum Request {
    /// One page of a list (`query.want` says rows, an estimate or the capped count).
    Page {
        id: u64,
        list: &'static str,
        query: PageQuery,
        load: LoadBox<Reply>,
    },
    /// The values of a column's filter menu.
    FilterValues {
        id: u64,
        list: &'static str,
        column: String,
        query: PageQuery,
        load: LoadBox<Reply>,
    },
    /// Any other read (a screen's detail, a form's choices, the change feed, sign-in).
    Load {
        id: u64,
        load: LoadBox<Reply>,
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
    /// The job of a read as its concrete type (tests answer by type).
    pub fn job<T: 'static>(&self) -> Option<&T> {
        match self {
            Request::Load { load, .. }
            | Request::Page { load, .. }
            | Request::FilterValues { load, .. } => load.job().downcast_ref::<T>(),
            _ => None,
        }
    }

    /// The id of a read.
    pub fn read_id(&self) -> Option<u64> {
        match self {
            Request::Load { id, .. }
            | Request::Page { id, .. }
            | Request::FilterValues { id, .. } => Some(*id),
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
    /// The answer to a read, for whoever asked.
    Reply {
        id: u64,
        answer: Answer<Reply>,
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
        /// Changes waiting for a second operator (None: not readable by this operator).
        approvals: Option<i64>,
        latency: Duration,
    },
    /// The loop now talks to the new environment (its settings for the top bar), or why not.
    EnvSwitched {
        id: u64,
        result: Result<AppConfig, ErrorReport>,
    },
}

impl Msg {
    /// The answer `reply` to read `id` (tests, and the tasks).
    pub fn reply(id: u64, reply: impl Into<Reply>) -> Self {
        Msg::Reply {
            id,
            answer: Answer {
                reply: reply.into(),
                connection_lost: false,
            },
        }
    }
}

/// What the settings give the console.
#[derive(Clone, Debug)]
pub struct AppConfig {
    pub environment: String,
    pub environment_color: String,
    pub read_only: bool,
    pub directory_kind: String,
    pub search_debounce_ms: u64,
    pub demo_credentials: Option<(String, String)>,
    /// Sign the operator out after this long without a key press (None: never).
    pub idle: Option<Duration>,
}

impl AppConfig {
    pub fn from_settings(s: &crate::config::Settings) -> Self {
        Self {
            environment: s.ui.environment.clone(),
            environment_color: s.ui.environment_color.clone(),
            read_only: s.ui.read_only,
            directory_kind: match s.directory.kind {
                crate::config::DirectoryKind::Cognito => "cognito".into(),
                crate::config::DirectoryKind::Local => "local".into(),
            },
            search_debounce_ms: s.ui.search_debounce_ms,
            demo_credentials: None,
            idle: idle_limit(s.console.idle_minutes),
        }
    }
}

/// The idle limit of `[console] idle_minutes` (None: never).
pub fn idle_limit(minutes: f64) -> Option<Duration> {
    (minutes.is_finite() && minutes > 0.0).then(|| Duration::from_secs_f64(minutes * 60.0))
}
