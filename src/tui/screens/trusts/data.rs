//! The trusts screen's data: typed trust rows, the list source and the operations (register
//! with its one-time keys, rotate the key, delete), over service functions.

use chrono::{DateTime, Utc};

use crate::domain::{DisplayText, Page, PageQuery, TrustId};
use crate::service::versions::Version;
use crate::service::{Actor, Services};
use crate::tui::action::{
    JobFuture, ListSource, OpBox, OpOutcome, Operation, Progress, RevealKeys,
};
use crate::tui::screens::{opt, when};
use crate::tui::widgets::table::TableRow;

/// One trust as the list shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct TrustRow {
    pub id: TrustId,
    pub name: String,
    pub code: String,
    pub region: Option<String>,
    pub slot_name: Option<String>,
    pub created_at: DateTime<Utc>,
    /// The last heartbeat the trust's node sent (None: never).
    pub last_heartbeat: Option<DateTime<Utc>>,
    /// When the current keys were set (registration or the last rotation).
    pub key_set_at: DateTime<Utc>,
    /// Set while nobody is known to have received the current keys.
    pub keys_unconfirmed_since: Option<DateTime<Utc>>,
    /// The row's version (a rotate or delete confirmed from this row is conditional on it).
    pub version: i64,
}

impl TableRow for TrustRow {
    fn key(&self) -> Option<String> {
        Some(self.id.to_string())
    }

    fn cells(&self) -> Vec<DisplayText> {
        vec![
            DisplayText::new(&self.name),
            DisplayText::new(&self.code),
            opt(&self.region),
            opt(&self.slot_name),
            self.last_heartbeat
                .as_ref()
                .map_or_else(|| DisplayText::new("never"), when),
            match self.keys_unconfirmed_since {
                // The hand-over never completed: more urgent than when the keys were set.
                Some(_) => DisplayText::new("not confirmed"),
                None => when(&self.key_set_at),
            },
        ]
    }
}

/// The trusts list.
#[derive(Debug)]
pub struct Trusts;

impl ListSource<TrustRow> for Trusts {
    fn page(&self, s: Services, a: Actor, q: PageQuery) -> JobFuture<Page<TrustRow>> {
        Box::pin(async move {
            let page = s.list_trusts(&a, &q).await?;
            Ok(page.map(|t| TrustRow {
                id: t.id,
                name: t.name,
                code: t.code,
                region: t.region,
                slot_name: t.slot_name,
                created_at: t.created_at,
                last_heartbeat: t.last_heartbeat,
                // The trust row changes only when its keys are set (register, rotate).
                key_set_at: t.updated_at,
                keys_unconfirmed_since: t.keys_unconfirmed_since,
                version: t.version,
            }))
        })
    }
    fn filter_values(
        &self,
        s: Services,
        a: Actor,
        column: String,
        q: PageQuery,
    ) -> JobFuture<Vec<String>> {
        Box::pin(async move { Ok(s.trust_filter_values(&a, &column, &q).await?) })
    }
}

/// What the trusts screen changes.
#[derive(Clone, Debug)]
pub enum TrustOp {
    Register {
        name: String,
        code: String,
        region: Option<String>,
    },
    RotateKey {
        id: TrustId,
        /// Rotate the internal-service key too.
        internal: bool,
        /// The trust's version the confirmation showed (a change since refuses).
        version: Version,
    },
    Delete {
        id: TrustId,
        name: String,
        version: Version,
    },
    /// The operator acknowledged the keys minted at `minted_at`: record the hand-over.
    ConfirmKeys {
        id: TrustId,
        minted_at: DateTime<Utc>,
    },
}

impl Operation for TrustOp {
    fn describe(&self) -> &'static str {
        match self {
            TrustOp::Register { .. } => "register trust",
            TrustOp::RotateKey { .. } => "rotate trust key",
            TrustOp::Delete { .. } => "delete trust",
            TrustOp::ConfirmKeys { .. } => crate::tui::action::RECORD_HAND_OVER,
        }
    }

    fn subject(&self) -> Option<String> {
        match self {
            // Recording a hand-over never waits for (nor blocks) another change of the trust.
            TrustOp::Register { .. } | TrustOp::ConfirmKeys { .. } => None,
            TrustOp::RotateKey { id, .. } | TrustOp::Delete { id, .. } => Some(id.to_string()),
        }
    }

    fn run(self: Box<Self>, s: Services, a: Actor, _progress: Progress) -> JobFuture<OpOutcome> {
        Box::pin(async move {
            Ok(match *self {
                TrustOp::Register { name, code, region } => {
                    let r = s
                        .register_trust(&a, &name, &code, region.as_deref())
                        .await?;
                    let label = format!("{} ({})", r.trust.name, r.trust.code);
                    let toast = format!(
                        "trust {} registered",
                        DisplayText::with_max(&r.trust.name, 60)
                    );
                    let details = vec![
                        (
                            "Trust id".to_string(),
                            DisplayText::new(&r.trust.id.to_string()),
                        ),
                        (
                            "Kit slot".to_string(),
                            DisplayText::new(&format!(
                                "{} (#{})",
                                r.fl_kit_slot, r.fl_kit_slot_number
                            )),
                        ),
                        ("Region".to_string(), opt(&r.trust.region)),
                    ];
                    let id = r.trust.id;
                    revealed(&s, &a, id, &r.trust.name, r.keys_minted_at).await;
                    let crate::domain::trust::RegisteredTrust {
                        api_key,
                        internal_service_key,
                        keys_minted_at,
                        ..
                    } = r;
                    OpOutcome {
                        toast,
                        reveal: Some(RevealKeys {
                            title: "Trust registered — its keys".into(),
                            trust: DisplayText::new(&label),
                            details,
                            api_key,
                            internal_key: Some(internal_service_key),
                            on_acknowledged: Some(OpBox::new(TrustOp::ConfirmKeys {
                                id,
                                minted_at: keys_minted_at,
                            })),
                        }),
                    }
                }
                TrustOp::RotateKey {
                    id,
                    internal,
                    version,
                } => {
                    let r = s.rotate_trust_keys(&a, id, internal, Some(version)).await?;
                    let toast = format!(
                        "{} of {} rotated",
                        if internal {
                            "API key and internal-service key"
                        } else {
                            "API key"
                        },
                        DisplayText::with_max(&r.trust_name, 60)
                    );
                    let title = if internal {
                        "Keys rotated — the new keys"
                    } else {
                        "API key rotated — the new key"
                    };
                    OpOutcome {
                        toast,
                        reveal: Some(reveal_rotated(&s, &a, r, title).await),
                    }
                }
                TrustOp::ConfirmKeys { id, minted_at } => {
                    s.trusts()
                        .confirm_keys_handed_over(&a, id, minted_at, "reveal")
                        .await?;
                    OpOutcome::default()
                }
                TrustOp::Delete { id, version, .. } => {
                    let d = s.delete_trust(&a, id, Some(version)).await?;
                    OpOutcome::toast(format!(
                        "trust {} deleted{}",
                        DisplayText::with_max(&d.trust_name, 60),
                        d.freed_slot
                            .map(|s| format!("; slot {} freed", DisplayText::new(&s)))
                            .unwrap_or_default()
                    ))
                }
            })
        })
    }
}

/// Audits that minted keys go on screen. A failure to record it does not hold the keys back
/// (they exist only in memory): the trust stays marked "keys not confirmed" either way.
/// The one-time panel for freshly rotated keys; the reveal is audited first (never the keys)
/// and the panel's acknowledgement records the hand-over. Shared by a rotation and by the
/// completion of an approved one.
pub async fn reveal_rotated(
    s: &Services,
    a: &Actor,
    r: crate::domain::trust::RotatedKeys,
    title: &str,
) -> RevealKeys {
    let crate::domain::trust::RotatedKeys {
        trust_id,
        trust_name,
        api_key,
        internal_service_key,
        keys_minted_at,
    } = r;
    revealed(s, a, trust_id, &trust_name, keys_minted_at).await;
    RevealKeys {
        title: title.into(),
        trust: DisplayText::new(&trust_name),
        details: Vec::new(),
        api_key,
        internal_key: internal_service_key,
        on_acknowledged: Some(OpBox::new(TrustOp::ConfirmKeys {
            id: trust_id,
            minted_at: keys_minted_at,
        })),
    }
}

async fn revealed(
    s: &Services,
    a: &Actor,
    id: crate::domain::TrustId,
    name: &str,
    minted_at: chrono::DateTime<chrono::Utc>,
) {
    if let Err(e) = s
        .trusts()
        .record_keys_revealed(a, id, name, minted_at)
        .await
    {
        tracing::warn!(trust_id = %id, "recording the reveal of new keys failed: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_rows_render_the_cells_the_list_showed() {
        let t = TrustRow {
            id: TrustId(uuid::Uuid::from_u128(1)),
            name: "Leeds Teaching".into(),
            code: "LEEDS".into(),
            region: None,
            slot_name: Some("Trust_001".into()),
            created_at: "2026-11-05T12:00:00Z".parse().unwrap(),
            last_heartbeat: None,
            key_set_at: "2026-11-20T09:30:00Z".parse().unwrap(),
            keys_unconfirmed_since: None,
            version: 1,
        };
        assert_eq!(
            t.texts(),
            [
                "Leeds Teaching",
                "LEEDS",
                "",
                "Trust_001",
                "never",
                "2026-11-20 09:30"
            ]
        );
    }
}
