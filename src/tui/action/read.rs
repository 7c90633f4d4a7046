//! Reads on their way: [`ask`] pairs a job with what its answer becomes (a variant of the
//! asking screen's own reply enum), [`Load`] is that pair as the loop runs it, and
//! [`Purpose`] is how the console's inbox tells a newer read from one it supersedes.

use std::any::{Any, TypeId};

use futures::future::BoxFuture;

use super::{AsAny, ErrorReport, Job, JobFuture};
use crate::domain::page::Want;
use crate::service::{Actor, Services};

/// Which of its owner's requests a read is: a newer request of the same owner and purpose
/// supersedes an older one (the one stale-reply rule, kept by the console's inbox). The
/// purpose is what the answer becomes — the reply variant it is wrapped in — plus, for a
/// page, what the page asks for (rows, an estimate, a count).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Purpose {
    of: TypeId,
    want: Option<Want>,
    /// For logs only.
    pub name: &'static str,
}

impl Purpose {
    /// The purpose of an answer wrapped by `F`.
    pub fn of<F: 'static>(want: Option<Want>) -> Self {
        Self {
            of: TypeId::of::<F>(),
            want,
            name: std::any::type_name::<F>(),
        }
    }
}

/// What a finished read sends back: the typed reply, and whether it failed because the
/// database could not be reached (the outage banner is raised whoever asked).
#[derive(Debug)]
pub struct Answer<R> {
    pub reply: R,
    pub connection_lost: bool,
}

/// A read on its way: it runs in a task and its answer — success or failure — becomes an `R`
/// (a screen's reply enum, or the console's). Built by [`ask`] or [`Typed::load`]
/// (crate::tui::widgets::table::Typed).
pub trait Load<R>: Send + std::fmt::Debug {
    fn purpose(&self) -> Purpose;
    fn run(
        self: Box<Self>,
        services: Services,
        actor: Option<Actor>,
    ) -> BoxFuture<'static, Answer<R>>;
    /// The job, for tests that answer requests by its type.
    fn job(&self) -> &dyn Any;
}

/// A read that runs before anyone signed in (sign-in and its challenges).
pub trait AnonymousJob: Send + std::fmt::Debug + AsAny {
    type Out: Send + 'static;
    fn run(self, services: Services) -> JobFuture<Self::Out>;
}

/// What [`Ask`] runs: a [`Job`] (as the signed-in operator) or an [`AnonymousJob`].
pub trait Runs: Send + std::fmt::Debug + 'static {
    type Out: Send + 'static;
    fn run_as(self, services: Services, actor: Option<Actor>) -> JobFuture<Self::Out>;
    fn any(&self) -> &dyn Any;
}

impl<J: Job + 'static> Runs for J {
    type Out = J::Out;
    fn run_as(self, services: Services, actor: Option<Actor>) -> JobFuture<J::Out> {
        match actor {
            Some(a) => self.run(services, a),
            None => Box::pin(async { anyhow::bail!("not signed in") }),
        }
    }
    fn any(&self) -> &dyn Any {
        self.as_any()
    }
}

/// An [`AnonymousJob`] as something [`Ask`] runs.
#[derive(Debug)]
pub struct Anonymous<J>(pub J);

impl<J: AnonymousJob + 'static> Runs for Anonymous<J> {
    type Out = J::Out;
    fn run_as(self, services: Services, _actor: Option<Actor>) -> JobFuture<J::Out> {
        self.0.run(services)
    }
    fn any(&self) -> &dyn Any {
        self.0.as_any()
    }
}

/// A job and what its answer becomes.
pub struct Ask<J, F> {
    job: J,
    wrap: F,
    want: Option<Want>,
}

impl<J: std::fmt::Debug, F> std::fmt::Debug for Ask<J, F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.job.fmt(f)
    }
}

/// Asks `job`; its answer (or failure) becomes `wrap(result)`, e.g. `Reply::Detail`.
pub fn ask<J, R, F>(job: J, wrap: F) -> LoadBox<R>
where
    J: Runs,
    R: 'static,
    F: FnOnce(Result<J::Out, ErrorReport>) -> R + Send + 'static,
{
    Box::new(Ask {
        job,
        wrap,
        want: None,
    })
}

/// Like [`ask`], for a page of a list: `want` tells an estimate or a count from rows.
pub fn ask_page<J, R, F>(job: J, want: Want, wrap: F) -> LoadBox<R>
where
    J: Runs,
    R: 'static,
    F: FnOnce(Result<J::Out, ErrorReport>) -> R + Send + 'static,
{
    Box::new(Ask {
        job,
        wrap,
        want: Some(want),
    })
}

impl<J, R, F> Load<R> for Ask<J, F>
where
    J: Runs,
    R: 'static,
    F: FnOnce(Result<J::Out, ErrorReport>) -> R + Send + 'static,
{
    fn purpose(&self) -> Purpose {
        Purpose::of::<F>(self.want)
    }
    fn run(
        self: Box<Self>,
        services: Services,
        actor: Option<Actor>,
    ) -> BoxFuture<'static, Answer<R>> {
        let Ask { job, wrap, .. } = *self;
        Box::pin(async move {
            let result = job
                .run_as(services, actor)
                .await
                .map_err(|e| ErrorReport::from_anyhow(&e));
            let connection_lost = matches!(&result, Err(e) if e.connection_lost);
            Answer {
                reply: wrap(result),
                connection_lost,
            }
        })
    }
    fn job(&self) -> &dyn Any {
        self.job.any()
    }
}

/// A read whose answer is wrapped once more on its way up (a screen's reply into the
/// console's).
pub struct Lift<R>(pub Box<dyn Load<R>>);

impl<R> std::fmt::Debug for Lift<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl<R: Send + 'static, T: From<R> + 'static> Load<T> for Lift<R> {
    fn purpose(&self) -> Purpose {
        self.0.purpose()
    }
    fn run(
        self: Box<Self>,
        services: Services,
        actor: Option<Actor>,
    ) -> BoxFuture<'static, Answer<T>> {
        let inner = self.0.run(services, actor);
        Box::pin(async move {
            let a = inner.await;
            Answer {
                reply: T::from(a.reply),
                connection_lost: a.connection_lost,
            }
        })
    }
    fn job(&self) -> &dyn Any {
        self.0.job()
    }
}

/// A read boxed for whoever asked.
pub type LoadBox<R> = Box<dyn Load<R>>;
