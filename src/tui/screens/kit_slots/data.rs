//! The kit-slot screen's data: typed slot rows, the list source and the usage summary, over
//! service functions.

use chrono::{DateTime, Utc};

use crate::domain::{DisplayText, Page, PageQuery};
use crate::service::trusts::KIT_SLOTS_SPEC;
use crate::service::{Actor, Services};
use crate::tui::action::{Job, JobFuture, ListSource};
use crate::tui::screens::{when, yes_no};
use crate::tui::widgets::table::TableRow;

/// One FL kit slot as the list shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct KitSlotRow {
    pub slot_name: String,
    pub slot_number: i32,
    pub free: bool,
    /// "Name (CODE)" of the trust holding it (empty when free).
    pub trust: String,
    pub assigned_at: Option<DateTime<Utc>>,
}

impl TableRow for KitSlotRow {
    fn cells(&self) -> Vec<DisplayText> {
        vec![
            DisplayText::new(&self.slot_name),
            DisplayText::new(&self.slot_number.to_string()),
            yes_no(self.free),
            DisplayText::new(&self.trust),
            self.assigned_at.as_ref().map(when).unwrap_or_default(),
        ]
    }
}

/// The kit-slot pool.
#[derive(Debug)]
pub struct KitSlots;

impl ListSource<KitSlotRow> for KitSlots {
    fn page(&self, s: Services, a: Actor, q: PageQuery) -> JobFuture<Page<KitSlotRow>> {
        Box::pin(async move {
            let page = s.list_kit_slots(&a, &q).await?;
            Ok(page.map(|k| KitSlotRow {
                trust: match (&k.trust_name, &k.trust_code) {
                    (Some(n), Some(c)) => format!("{n} ({c})"),
                    (Some(n), None) => n.clone(),
                    _ => String::new(),
                },
                free: k.assigned_to_trust_id.is_none(),
                slot_name: k.slot_name,
                slot_number: k.slot_number,
                assigned_at: k.assigned_at,
            }))
        })
    }
    fn filter_values(
        &self,
        _s: Services,
        _a: Actor,
        column: String,
        _q: PageQuery,
    ) -> JobFuture<Vec<String>> {
        Box::pin(async move {
            KIT_SLOTS_SPEC
                .fixed_filter_values(&column)
                .ok_or_else(|| anyhow::anyhow!("kit slots cannot be filtered by {column}"))
        })
    }
}

/// Slots used and in the pool.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Usage {
    pub used: u64,
    pub total: u64,
}

/// Reads the pool's [`Usage`].
#[derive(Debug)]
pub struct LoadUsage;

impl Job for LoadUsage {
    type Out = Usage;
    fn run(self, s: Services, a: Actor) -> JobFuture<Usage> {
        Box::pin(async move {
            let u = s.kit_usage(&a).await?;
            Ok(Usage {
                used: u.used,
                total: u.total,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_rows_render_the_cells_the_list_showed() {
        let k = KitSlotRow {
            slot_name: "Trust_001".into(),
            slot_number: 1,
            free: false,
            trust: "Leeds Teaching (LEEDS)".into(),
            assigned_at: Some("2026-11-05T12:00:00Z".parse().unwrap()),
        };
        assert_eq!(
            k.texts(),
            [
                "Trust_001",
                "1",
                "no",
                "Leeds Teaching (LEEDS)",
                "2026-11-05 12:00"
            ]
        );
    }
}
