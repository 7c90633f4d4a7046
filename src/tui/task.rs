//! Runs one [`Request`] as a task and turns its result into the [`Msg`] that goes back into
//! the loop. Nothing here knows a feature: pages, loads and operations carry their own job
//! (written in each screen's `data.rs`, over the service functions); sign-in is the sign-in
//! screen's (`screens/signin/data.rs`).

use super::action::{ErrorReport, Msg, Progress, Request};
use super::screens::signin::data as signin;
use crate::service::{Actor, Operator, Services};

fn err(e: impl Into<anyhow::Error>) -> ErrorReport {
    ErrorReport::from_anyhow(&e.into())
}

/// Runs one request to completion and returns its message.
pub async fn execute(
    services: Services,
    operator: Option<Operator>,
    req: Request,
    progress_to: Option<tokio::sync::mpsc::UnboundedSender<Msg>>,
) -> Msg {
    let actor = operator.map(Actor::Operator);
    let need_actor = || {
        actor
            .clone()
            .ok_or_else(|| ErrorReport::msg("not signed in"))
    };
    match req {
        Request::Page {
            id, query, source, ..
        } => {
            let result = match need_actor() {
                Ok(a) => source.page(services, a, query).await.map_err(err),
                Err(e) => Err(e),
            };
            Msg::Reply { id, result }
        }
        Request::FilterValues {
            id,
            column,
            query,
            source,
            ..
        } => {
            let result = match need_actor() {
                Ok(a) => source
                    .filter_values(services, a, column, query)
                    .await
                    .map(|v| Box::new(v) as super::action::Reply)
                    .map_err(err),
                Err(e) => Err(e),
            };
            Msg::Reply { id, result }
        }
        Request::Load { id, job } => {
            let result = match need_actor() {
                Ok(a) => job.run(services, a).await.map_err(err),
                Err(e) => Err(e),
            };
            Msg::Reply { id, result }
        }
        Request::Op { id, op } => {
            let progress = match progress_to {
                Some(tx) => Progress::to(id, tx),
                None => Progress::none(),
            };
            let result = match need_actor() {
                Ok(a) => op.0.run(services, a, progress).await.map_err(err),
                Err(e) => Err(e),
            };
            Msg::OpDone { id, result }
        }
        Request::SignIn {
            id,
            email,
            password,
        } => {
            let result = signin::sign_in(&services, &email, &password).await;
            Msg::SignIn { id, result }
        }
        Request::NewPassword {
            id,
            challenge,
            password,
        } => {
            let result = signin::new_password(&services, &challenge, &password).await;
            Msg::SignIn { id, result }
        }
        Request::MfaCode {
            id,
            challenge,
            code,
        } => {
            let result = signin::mfa_code(&services, &challenge, &code).await;
            Msg::SignIn { id, result }
        }
        Request::MfaSetupCode { id, setup, code } => {
            let result = signin::mfa_setup_code(&services, &setup, &code).await;
            Msg::SignIn { id, result }
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
