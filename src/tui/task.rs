//! Runs one [`Request`] as a task and turns its result into the [`Msg`] that goes back into
//! the loop. Nothing here knows a feature: every read carries its own job and what its answer
//! becomes (see `action::ask`), every mutation its own [`Operation`](super::action::Operation).

use super::action::{ErrorReport, Progress};
use super::msg::{Msg, Request};
use crate::service::{Actor, Operator, Services};

/// Runs one request to completion and returns its message.
pub async fn execute(
    services: Services,
    operator: Option<Operator>,
    req: Request,
    progress_to: Option<tokio::sync::mpsc::UnboundedSender<Msg>>,
) -> Msg {
    let actor = operator.map(Actor::Operator);
    match req {
        Request::Page { id, load, .. }
        | Request::FilterValues { id, load, .. }
        | Request::Load { id, load } => Msg::Reply {
            id,
            answer: load.run(services, actor).await,
        },
        Request::Op { id, op } => {
            let progress = match progress_to {
                Some(tx) => Progress::to(move |done| {
                    let _ = tx.send(Msg::Progress { id, done });
                }),
                None => Progress::none(),
            };
            let result = match actor {
                Some(a) => {
                    op.0.run(services, a, progress)
                        .await
                        .map_err(|e| ErrorReport::from_anyhow(&e))
                }
                None => Err(ErrorReport::msg("not signed in")),
            };
            Msg::OpDone { id, result }
        }
        // The loop connects environments and aborts tasks itself; never sent here.
        Request::SwitchEnv { id, .. } => Msg::EnvSwitched {
            id,
            result: Err(ErrorReport::msg(
                "environment switches are handled by the console loop",
            )),
        },
        Request::Cancel { id } => Msg::OpDone {
            id,
            result: Err(ErrorReport::msg("cancelled")),
        },
        Request::Health => {
            let p = services.probe().await;
            let approvals = match &actor {
                Some(a) if p.db => services.count_proposed_changes(a).await.ok(),
                _ => None,
            };
            Msg::Health {
                db: p.db,
                directory: p.directory,
                latency: p.latency,
                approvals,
            }
        }
    }
}
