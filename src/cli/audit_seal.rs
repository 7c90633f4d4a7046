//! `hubdeck audit seal|verify|seal-key` — the sealed audit trail.

use super::audit::AuditCmd;
use super::mandates::print_table;
use super::{Context, Output, print_json};
use crate::domain::DisplayText;
use crate::service::seal::{SealKey, public_key};

pub const VERIFY_HELP: &str = "\
Exit codes (verify):
  0  every seal and every sealed row is intact (unsealed rows are counted, not an error)
  1  a failure (database unavailable, ...)
  2  no public key (--public-key or audit.seal_public_key), or not a valid one
  5  tampering found: the report names each seal and row";

/// Runs `cmd` when it is one of these and returns its exit code; None for the other commands.
pub async fn run(ctx: &Context, cmd: &AuditCmd) -> anyhow::Result<Option<i32>> {
    let code = match cmd {
        AuditCmd::SealKey { out } => {
            let public = SealKey::generate(out)?;
            match ctx.output {
                Output::Json => print_json(&serde_json::json!({
                    "key_file": out.display().to_string(),
                    "public_key": public,
                }))?,
                Output::Table => {
                    println!("{public}");
                    eprintln!(
                        "key written to {} (0600); put the line above in audit.seal_public_key \
                         wherever the trail is verified",
                        DisplayText::new(&out.display().to_string())
                    );
                }
            }
            0
        }
        AuditCmd::Seal { key_file } => {
            let key = SealKey::load(key_file)?;
            let svc = ctx.services().await?;
            let actor = ctx.actor(&svc.db).await?;
            let report = svc.seal_audit(&actor, &key).await?;
            match ctx.output {
                Output::Json => print_json(&report)?,
                Output::Table => println!(
                    "sealed {} rows in {} seals (newest seal: {})",
                    report.rows_sealed,
                    report.seals_written,
                    report
                        .last_seq
                        .map_or_else(|| "none".into(), |s| s.to_string())
                ),
            }
            0
        }
        AuditCmd::Verify { public_key: given } => {
            let text = given
                .clone()
                .unwrap_or_else(|| ctx.settings.audit.seal_public_key.clone());
            if text.trim().is_empty() {
                return Err(crate::service::ServiceError::Invalid(
                    crate::domain::ValidationError::Invalid {
                        field: "audit.seal_public_key",
                        message: "no public key: pass --public-key or set audit.seal_public_key"
                            .into(),
                    },
                )
                .into());
            }
            let trusted = public_key(&text)?;
            let svc = ctx.services().await?;
            let actor = ctx.actor(&svc.db).await?;
            let report = svc.verify_audit(&actor, &trusted).await?;
            match ctx.output {
                Output::Json => print_json(&report)?,
                Output::Table => {
                    let rows: Vec<Vec<String>> = report
                        .seals
                        .iter()
                        .map(|s| {
                            let mut what: Vec<String> = s.seal_problems.clone();
                            what.extend(s.rows_changed.iter().cloned());
                            vec![
                                s.seq.to_string(),
                                s.sealed_at.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
                                s.rows.to_string(),
                                if what.is_empty() {
                                    "intact".into()
                                } else {
                                    what.join("; ")
                                },
                            ]
                        })
                        .collect();
                    print_table(&["SEAL", "SEALED AT", "ROWS", "VERDICT"], &rows)?;
                    println!(
                        "{} seals, {}; {} rows not sealed yet",
                        report.seals.len(),
                        if report.intact() {
                            "all intact"
                        } else {
                            "TAMPERING FOUND"
                        },
                        report.unsealed_rows
                    );
                }
            }
            if report.intact() { 0 } else { 5 }
        }
        _ => return Ok(None),
    };
    Ok(Some(code))
}
