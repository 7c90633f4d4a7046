//! A list's definition as data: its whitelisted columns, each with its kind and whether it
//! sorts or filters, and its default order. `store::query` maps each column to SQL; a column a
//! user names is looked up here and never reaches SQL text.

use serde::{Deserialize, Serialize};

use super::page::SortDir;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ColumnKind {
    Text,
    Bool,
    Uuid,
    Int,
    Timestamp,
}

impl ColumnKind {
    /// The values a filter on a column of this kind can take when the kind alone says them —
    /// a boolean is true or false, whatever the rows hold — or `None` when they come from the
    /// rows.
    pub fn fixed_values(self) -> Option<&'static [&'static str]> {
        match self {
            ColumnKind::Bool => Some(&["true", "false"]),
            ColumnKind::Text | ColumnKind::Uuid | ColumnKind::Int | ColumnKind::Timestamp => None,
        }
    }
}

/// One whitelisted column of a list.
#[derive(Clone, Copy, Debug)]
pub struct ColumnSpec {
    pub name: &'static str,
    pub kind: ColumnKind,
    pub sortable: bool,
    pub filterable: bool,
}

impl ColumnSpec {
    pub const fn new(name: &'static str, kind: ColumnKind) -> Self {
        Self {
            name,
            kind,
            sortable: true,
            filterable: true,
        }
    }
    pub const fn sort_only(name: &'static str, kind: ColumnKind) -> Self {
        Self {
            name,
            kind,
            sortable: true,
            filterable: false,
        }
    }
    pub const fn filter_only(name: &'static str, kind: ColumnKind) -> Self {
        Self {
            name,
            kind,
            sortable: false,
            filterable: true,
        }
    }
}

/// The whitelist of one list (mandates, members, users, trusts, audit, ...).
#[derive(Clone, Copy, Debug)]
pub struct ListSpec {
    pub name: &'static str,
    pub columns: &'static [ColumnSpec],
    /// Applied when the query has no sort; a unique tie-breaker is always appended by the store.
    pub default_sort: &'static [(&'static str, SortDir)],
}

impl ListSpec {
    pub fn column(&self, name: &str) -> Option<&'static ColumnSpec> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// The filter values of `column` when its kind alone says them (see
    /// [`ColumnKind::fixed_values`]); `None` for a column that is not filterable or whose values
    /// come from the rows.
    pub fn fixed_filter_values(&self, column: &str) -> Option<Vec<String>> {
        let c = self.column(column).filter(|c| c.filterable)?;
        let values = c.kind.fixed_values()?;
        Some(values.iter().map(|v| (*v).to_string()).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::page::parse_bool;

    #[test]
    fn a_boolean_filter_offers_true_and_false_from_its_kind() {
        static SPEC: ListSpec = ListSpec {
            name: "t",
            columns: &[
                ColumnSpec::filter_only("free", ColumnKind::Bool),
                ColumnSpec::sort_only("enabled", ColumnKind::Bool),
                ColumnSpec::new("name", ColumnKind::Text),
            ],
            default_sort: &[],
        };
        assert_eq!(
            SPEC.fixed_filter_values("free"),
            Some(vec!["true".to_string(), "false".to_string()])
        );
        // Every offered value is one the filter accepts.
        for v in SPEC.fixed_filter_values("free").unwrap() {
            assert!(parse_bool(&v).is_some(), "{v}");
        }
        assert_eq!(SPEC.fixed_filter_values("enabled"), None, "not filterable");
        assert_eq!(
            SPEC.fixed_filter_values("name"),
            None,
            "values from the rows"
        );
        assert_eq!(SPEC.fixed_filter_values("nope"), None);
    }
}
