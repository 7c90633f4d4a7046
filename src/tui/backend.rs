//! The only place the console calls services. Each list has a data source — a boxed async fn
//! from `PageQuery` to `Page<Row>` of sanitized display strings — and each [`Request`] becomes
//! one task whose result comes back as a [`Msg`] carrying the request id.

use std::time::{Duration, Instant};

use futures::future::BoxFuture;

use super::action::{ErrorReport, ListKey, Msg, Op, OpOutcome, Request, Row, SignInReply};
use crate::domain::{DisplayText, Page, PageQuery};
use crate::service::session::SignInOutcome;
use crate::service::{Actor, Operator, Services};

/// A list's data source.
pub type Source =
    Box<dyn Fn(PageQuery) -> BoxFuture<'static, anyhow::Result<Page<Row>>> + Send + Sync>;

/// Filter values of one column, honouring the other active filters.
pub type FilterSource =
    Box<dyn Fn(String, PageQuery) -> BoxFuture<'static, anyhow::Result<Vec<String>>> + Send + Sync>;

fn not_in_build(what: &'static str) -> anyhow::Error {
    anyhow::anyhow!("the {what} service is not part of this build yet")
}

/// The data source of a list for this actor.
pub fn source(_services: &Services, _actor: &Actor, list: &ListKey) -> Source {
    let what = list.name();
    Box::new(move |_q| Box::pin(async move { Err(not_in_build(what)) }))
}

/// The filter-value source of a list.
pub fn filter_source(_services: &Services, _actor: &Actor, list: &ListKey) -> FilterSource {
    let what = list.name();
    Box::new(move |_c, _q| Box::pin(async move { Err(not_in_build(what)) }))
}

fn err(e: impl Into<anyhow::Error>) -> ErrorReport {
    ErrorReport::from_anyhow(&e.into())
}

/// Runs one request to completion and returns its message.
pub async fn execute(services: Services, operator: Option<Operator>, req: Request) -> Msg {
    let actor = operator.clone().map(Actor::Operator);
    let need_actor = || {
        actor
            .clone()
            .ok_or_else(|| ErrorReport::msg("not signed in"))
    };
    match req {
        Request::Page { id, list, query } => {
            let result = match need_actor() {
                Ok(a) => source(&services, &a, &list)(query).await.map_err(err),
                Err(e) => Err(e),
            };
            Msg::Page { id, list, result }
        }
        Request::FilterValues {
            id,
            list,
            column,
            query,
        } => {
            let result = match need_actor() {
                Ok(a) => filter_source(&services, &a, &list)(column, query)
                    .await
                    .map_err(err),
                Err(e) => Err(e),
            };
            Msg::FilterValues { id, result }
        }
        Request::PickUsers { id, search } => {
            let q = PageQuery::new(1, 5).search(search);
            let result = match need_actor() {
                Ok(a) => source(&services, &a, &ListKey::Users)(q)
                    .await
                    .map(|p| {
                        p.items
                            .into_iter()
                            .map(|r| Row::new(r.id.clone(), r.cells.into_iter().take(2)))
                            .collect()
                    })
                    .map_err(err),
                Err(e) => Err(e),
            };
            Msg::PickUsers { id, result }
        }
        Request::Detail { id, row_id, .. } => {
            let _ = row_id;
            Msg::Detail {
                id,
                result: Err(err(not_in_build("users"))),
            }
        }
        Request::KitSummary { id } => Msg::KitSummary {
            id,
            result: Err(err(not_in_build("kit slots"))),
        },
        Request::SignIn {
            id,
            email,
            password,
        } => {
            let result = match services.sign_in(&email, &password).await {
                Ok(SignInOutcome::SignedIn(op)) => Ok(SignInReply::SignedIn(op)),
                Ok(SignInOutcome::NewPasswordRequired(ch)) => {
                    Ok(SignInReply::NewPasswordRequired(ch))
                }
                Err(e) => Err(err(e)),
            };
            Msg::SignIn { id, result }
        }
        Request::NewPassword {
            id,
            challenge,
            password,
        } => {
            let result = services
                .complete_new_password(&challenge, &password)
                .await
                .map(SignInReply::SignedIn)
                .map_err(err);
            Msg::SignIn { id, result }
        }
        Request::Op { id, op } => {
            let result = match need_actor() {
                Ok(a) => run_op(&services, &a, op).await.map_err(err),
                Err(e) => Err(e),
            };
            Msg::OpDone { id, result }
        }
        Request::Health => {
            let started = Instant::now();
            let db = tokio::time::timeout(Duration::from_secs(3), crate::store::ping(&services.db))
                .await
                .is_ok_and(|r| r.is_ok());
            let directory =
                tokio::time::timeout(Duration::from_secs(3), services.directory.health())
                    .await
                    .is_ok_and(|r| r.is_ok());
            Msg::Health {
                db,
                directory,
                latency: started.elapsed(),
            }
        }
    }
}

/// Runs one mutation through the services.
async fn run_op(_services: &Services, _actor: &Actor, op: Op) -> anyhow::Result<OpOutcome> {
    let _ = DisplayText::new("");
    Err(anyhow::anyhow!(
        "{} is not part of this build yet",
        op.describe()
    ))
}
