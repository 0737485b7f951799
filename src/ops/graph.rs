//! `graph`: the spec's resources and their dependencies, as Graphviz DOT or Mermaid. An edge
//! goes from a resource to one it depends on (as Terraform draws it); apply creates the
//! target of an edge first.

use std::process::ExitCode;

use crate::engine::Model;
use crate::ops::options::GlobalOptions;
use crate::ops::session::load;
use crate::ops::Failure;
use crate::shell::Shell;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Dot,
    Mermaid,
}

pub fn graph(g: &GlobalOptions, format: Format, sh: &Shell) -> Result<ExitCode, Failure> {
    let model = load(g)?;
    sh.out(&match format {
        Format::Dot => dot(&model),
        Format::Mermaid => mermaid(&model),
    });
    Ok(ExitCode::SUCCESS)
}

/// Two names: (address, identity) of a node, (from, to) of an edge.
type Pairs<'a> = Vec<(&'a str, &'a str)>;

/// (address, identity) of every node and (from, to) of every edge, in apply order.
fn parts(m: &Model) -> (Pairs<'_>, Pairs<'_>) {
    let nodes = m
        .graph
        .order
        .iter()
        .map(|&i| (m.decls[i].address.as_str(), m.decls[i].identity.as_str()))
        .collect();
    let mut edges = Vec::new();
    for &i in &m.graph.order {
        for &j in &m.graph.deps[i] {
            edges.push((m.decls[i].address.as_str(), m.decls[j].address.as_str()));
        }
    }
    (nodes, edges)
}

fn dot(m: &Model) -> String {
    let (nodes, edges) = parts(m);
    let q = |s: &str| s.replace('\\', "\\\\").replace('"', "\\\"");
    let mut s = format!(
        "digraph \"{}\" {{\n  rankdir = \"RL\";\n  node [shape = box];\n",
        q(&m.spec.spec.environment)
    );
    for (addr, identity) in nodes {
        s.push_str(&format!(
            "  \"{}\" [label = \"{}\\n{}\"];\n",
            q(addr),
            q(addr),
            q(identity)
        ));
    }
    for (from, to) in edges {
        s.push_str(&format!("  \"{}\" -> \"{}\";\n", q(from), q(to)));
    }
    s.push_str("}\n");
    s
}

fn mermaid(m: &Model) -> String {
    let (nodes, edges) = parts(m);
    // Mermaid ids are plain words; the address is the label.
    let id = |addr: &str| {
        addr.chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect::<String>()
    };
    let label = |s: &str| s.replace('"', "#quot;");
    let mut s = String::from("flowchart RL\n");
    for (addr, identity) in nodes {
        s.push_str(&format!(
            "  {}[\"{}<br/>{}\"]\n",
            id(addr),
            label(addr),
            label(identity)
        ));
    }
    for (from, to) in edges {
        s.push_str(&format!("  {} --> {}\n", id(from), id(to)));
    }
    s
}
