//! Runs one [`Request`] as a task and turns its result into the [`Msg`] that goes back into
//! the loop. Nothing here knows a feature: pages, loads and operations carry their own job
//! (written in each screen's `data.rs`, over the service functions).

use super::action::{ErrorReport, Msg, Request, SignInReply};
use crate::service::mfa::SignInStep;
use crate::service::{Actor, Operator, Services};

fn err(e: impl Into<anyhow::Error>) -> ErrorReport {
    ErrorReport::from_anyhow(&e.into())
}

/// A sign-in step as the sign-in screen's reply; an MFA_SETUP challenge starts the software
/// token's enrolment at once (the screen then shows its secret and QR code).
async fn step(
    services: &Services,
    r: crate::service::ServiceResult<SignInStep>,
) -> Result<SignInReply, ErrorReport> {
    match r {
        Ok(SignInStep::SignedIn(op)) => Ok(SignInReply::SignedIn(op)),
        Ok(SignInStep::NewPasswordRequired(ch)) => Ok(SignInReply::NewPasswordRequired(ch)),
        Ok(SignInStep::MfaCodeRequired(ch)) => Ok(SignInReply::MfaCodeRequired(ch)),
        Ok(SignInStep::MfaSetupRequired(ch)) => services
            .start_mfa_setup(&ch)
            .await
            .map(|s| SignInReply::MfaSetup(std::sync::Arc::new(s)))
            .map_err(err),
        Err(e) => Err(err(e)),
    }
}

/// Runs one request to completion and returns its message.
pub async fn execute(services: Services, operator: Option<Operator>, req: Request) -> Msg {
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
            let result = match need_actor() {
                Ok(a) => op.0.run(services, a).await.map_err(err),
                Err(e) => Err(e),
            };
            Msg::OpDone { id, result }
        }
        Request::SignIn {
            id,
            email,
            password,
        } => {
            let result = step(&services, services.begin_sign_in(&email, &password).await).await;
            Msg::SignIn { id, result }
        }
        Request::NewPassword {
            id,
            challenge,
            password,
        } => {
            let r = services.answer_new_password(&challenge, &password).await;
            Msg::SignIn {
                id,
                result: step(&services, r).await,
            }
        }
        Request::MfaCode {
            id,
            challenge,
            code,
        } => {
            let r = services.answer_mfa_code(&challenge, code.expose()).await;
            Msg::SignIn {
                id,
                result: step(&services, r).await,
            }
        }
        Request::MfaSetupCode { id, setup, code } => {
            let r = services.finish_mfa_setup(&setup, code.expose()).await;
            Msg::SignIn {
                id,
                result: step(&services, r).await,
            }
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
            Msg::Health {
                db: p.db,
                directory: p.directory,
                latency: p.latency,
            }
        }
    }
}
