//! The page statement of each plan, position and sort shape, compared with the SQL text kept in
//! `golden/`: a change to how a page is built shows up as a reviewed diff of its SQL, not only as
//! a slower benchmark. `HUBDECK_BLESS_GOLDEN=1 cargo test --lib golden` rewrites the files.

use std::path::PathBuf;

use super::{Plan, page_statement};
use crate::domain::page::{Cursor, PageQuery, Position, SortDir};
use crate::store::mandates::MANDATES;

fn cursor(keys: &[Option<&str>]) -> Cursor {
    Cursor {
        keys: keys.iter().map(|k| k.map(str::to_string)).collect(),
        id: "00000000-0000-0000-0000-000000000001".into(),
    }
}

/// (golden file, query, plan)
fn cases() -> Vec<(&'static str, PageQuery, Plan)> {
    let searched = || PageQuery::new(1, 50).search("leeds");
    let two_keys = || {
        PageQuery::new(1, 50)
            .sort("label", SortDir::Desc)
            .sort("name", SortDir::Asc)
    };
    let after = Position::After(cursor(&[Some("Leeds Cardiology")]));
    vec![
        ("walk_first", PageQuery::new(1, 50), Plan::Walk),
        ("walk_jump_page_3", PageQuery::new(3, 50), Plan::Walk),
        (
            "walk_after_two_keys",
            two_keys().at(Position::After(cursor(&[None, Some("Barnet")]))),
            Plan::Walk,
        ),
        (
            "walk_before_two_keys",
            two_keys().at(Position::Before(cursor(&[Some("audit"), Some("York")]))),
            Plan::Walk,
        ),
        (
            "walk_last",
            PageQuery::new(1, 50).at(Position::Last),
            Plan::Walk,
        ),
        (
            "walk_filtered",
            PageQuery::new(1, 50).filter("enabled", ["false"]),
            Plan::Walk,
        ),
        ("materialize_first", searched(), Plan::Materialize),
        (
            "materialize_after",
            searched().at(after.clone()),
            Plan::Materialize,
        ),
        ("probe_first", searched(), Plan::Probe),
        ("probe_last", searched().at(Position::Last), Plan::Probe),
        ("near_after", searched().at(after), Plan::Near),
    ]
}

fn golden_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src/store/query/golden")
}

#[test]
fn golden_page_statements() {
    let bless = std::env::var_os("HUBDECK_BLESS_GOLDEN").is_some();
    let mut differ = Vec::new();
    for (name, q, plan) in cases() {
        let qb = page_statement(&MANDATES, &q, None, plan).expect("statement");
        let sql = format!("{}\n", qb.sql().as_str());
        let path = golden_dir().join(format!("{name}.sql"));
        if bless {
            std::fs::write(&path, &sql).expect("write golden");
            continue;
        }
        let want = std::fs::read_to_string(&path).unwrap_or_default();
        if want != sql {
            differ.push(format!("{name}:\n  golden: {want}\n  now:    {sql}"));
        }
    }
    assert!(
        differ.is_empty(),
        "page statements changed:\n{}",
        differ.join("\n")
    );
}
