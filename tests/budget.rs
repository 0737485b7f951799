//! The apply-from-empty call budget: the shipped stack (`environments/local.yaml` rendered, its
//! DR stack included) applied to an empty account may make at most today's reads and writes per
//! kind, so that calls cannot creep back in unnoticed (issue 21: calls are time, and with real
//! round trips they are most of it). Counts, never timings (those are in bench/).
//!
//! The counts come from `apply -v`'s "AWS calls by kind" table (the call counter in src/aws/,
//! attributed to kinds by the session). A kind that lowers its count should lower its budget
//! here in the same change; a kind that needs more must say why in docs/performance.md
//! ("Calls per kind") and raise it here.

mod common;

use common::{local_spec, novactl, Emulator, Project};
use std::collections::BTreeMap;

/// (kind, reads, writes) allowed for an apply of the shipped stack from empty.
const BUDGET: &[(&str, usize, usize)] = &[
    ("kms", 2, 6),
    ("s3", 15, 74),
    ("iam", 2, 4),
    ("network", 11, 78),
    ("security_group", 6, 6),
    ("sagemaker_model", 3, 2),
    ("sagemaker_endpoint", 4, 6),
    ("sns", 1, 1),
    ("cloudwatch_alarm", 1, 17),
    ("cloudwatch_dashboard", 1, 1),
    ("log_group", 1, 19),
    ("cloudtrail", 1, 3),
    ("discovery", 2, 0),
    ("session", 1, 0),
];
/// All calls of that apply (reads + writes).
const TOTAL: usize = 268;

/// (reads, writes) of one row.
type Calls = (usize, usize);

/// The rows of the "AWS calls by kind" table: kind -> (reads, writes), the total row apart.
fn by_kind(stderr: &str) -> (BTreeMap<String, Calls>, Option<Calls>) {
    let mut rows = BTreeMap::new();
    let mut total = None;
    let mut lines = stderr
        .lines()
        .skip_while(|l| !l.starts_with("AWS calls by kind"))
        .skip(2);
    for line in lines.by_ref() {
        let cols: Vec<&str> = line.split_whitespace().collect();
        if !line.starts_with("  ") || cols.len() < 4 {
            break;
        }
        let (Ok(reads), Ok(writes)) = (cols[2].parse(), cols[3].parse()) else {
            panic!("unreadable row {line:?} in\n{stderr}");
        };
        if cols[0] == "total" {
            total = Some((reads, writes));
            break;
        }
        rows.insert(cols[0].to_string(), (reads, writes));
    }
    (rows, total)
}

#[test]
fn apply_from_empty_stays_within_the_call_budget_of_each_kind() {
    let emu = Emulator::start();
    let p = Project::new(&local_spec());
    let r = novactl(
        Some(&emu),
        &[
            "apply",
            "-e",
            p.spec.to_str().unwrap(),
            "--auto-approve",
            "-v",
        ],
    )
    .expect_code(0);
    let (rows, total) = by_kind(&r.stderr);
    let table: String = r
        .stderr
        .lines()
        .skip_while(|l| !l.contains("AWS calls ("))
        .take(rows.len() + 4)
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        rows.len() >= 10 && rows.contains_key("s3") && rows.contains_key("network"),
        "no calls-by-kind table for the whole stack:\n{}",
        r.stderr
    );

    let budget: BTreeMap<&str, Calls> = BUDGET.iter().map(|(k, r, w)| (*k, (*r, *w))).collect();
    let mut over = Vec::new();
    for (kind, &(reads, writes)) in &rows {
        match budget.get(kind.as_str()) {
            None => over.push(format!(
                "{kind}: {reads} reads, {writes} writes and no budget (add it to BUDGET)"
            )),
            Some(&(max_r, max_w)) if reads > max_r || writes > max_w => over.push(format!(
                "{kind}: {reads} reads, {writes} writes > budget {max_r} reads, {max_w} writes"
            )),
            Some(_) => {}
        }
    }
    let (reads, writes) = total.unwrap_or_else(|| panic!("no total row:\n{table}"));
    assert_eq!(
        reads + writes,
        rows.values().map(|(r, w)| r + w).sum::<usize>(),
        "the total row is the sum of the kinds:\n{table}"
    );
    if reads + writes > TOTAL {
        over.push(format!("total: {} calls > budget {TOTAL}", reads + writes));
    }
    assert!(
        over.is_empty(),
        "apply from empty went over its call budget:\n  {}\n\n{table}",
        over.join("\n  ")
    );
}

#[test]
fn the_table_reader_finds_rows_and_total() {
    let stderr = "x\n10 AWS calls (4 reads, 6 writes) in 1.00s\nAWS calls by kind:\n  kind  \
                  resources reads writes reads/resource\n  kms 2 2 6 1.00\n  session - 2 0 \n  \
                  total 2 4 6 2.00\nApply complete\n";
    let (rows, total) = by_kind(stderr);
    assert_eq!(rows.get("kms"), Some(&(2, 6)));
    assert_eq!(rows.get("session"), Some(&(2, 0)));
    assert_eq!(total, Some((4, 6)));
}
