//! Stage 2: resources and their dependencies as a graph, in a dependency-respecting order.

use std::collections::HashMap;

use petgraph::algo::toposort;
use petgraph::graph::{DiGraph, NodeIndex};

use crate::resources::Decl;
use crate::spec::{LoadedSpec, SpecError};

#[derive(Debug, Clone)]
pub struct Graph {
    /// Decl indices, dependencies first.
    pub order: Vec<usize>,
    /// For each decl index, the indices it depends on.
    pub deps: Vec<Vec<usize>>,
    pub index: HashMap<String, usize>,
}

impl Graph {
    pub fn build(spec: &LoadedSpec, decls: &[Decl]) -> Result<Graph, SpecError> {
        let index: HashMap<String, usize> = decls
            .iter()
            .enumerate()
            .map(|(i, d)| (d.address.clone(), i))
            .collect();
        let mut g: DiGraph<usize, ()> = DiGraph::new();
        let nodes: Vec<NodeIndex> = (0..decls.len()).map(|i| g.add_node(i)).collect();
        let mut deps = vec![Vec::new(); decls.len()];
        for (i, d) in decls.iter().enumerate() {
            for dep in &d.deps {
                let Some(&j) = index.get(dep) else {
                    return Err(spec.error(
                        &d.spec_path,
                        format!("refers to `{dep}`, which the spec does not define"),
                    ));
                };
                if j != i && !deps[i].contains(&j) {
                    deps[i].push(j);
                    g.add_edge(nodes[j], nodes[i], ());
                }
            }
        }
        let order = toposort(&g, None).map_err(|cycle| {
            let d = &decls[g[cycle.node_id()]];
            spec.error(
                &d.spec_path,
                format!("{} is part of a reference cycle", d.address),
            )
        })?;
        Ok(Graph {
            order: order.into_iter().map(|n| g[n]).collect(),
            deps,
            index,
        })
    }

    /// `targets` and everything they depend on, transitively.
    pub fn with_dependencies(&self, targets: &[usize]) -> Vec<usize> {
        let mut seen = vec![false; self.deps.len()];
        let mut stack: Vec<usize> = targets.to_vec();
        while let Some(i) = stack.pop() {
            if !std::mem::replace(&mut seen[i], true) {
                stack.extend(&self.deps[i]);
            }
        }
        (0..seen.len()).filter(|&i| seen[i]).collect()
    }
}

/// The reference cycles among `decls`: for each strongly connected group of more than one
/// resource, one cycle through it, as decl indices in reference order (each refers to the
/// next, the last to the first).
pub fn cycles(decls: &[Decl]) -> Vec<Vec<usize>> {
    let index: HashMap<&str, usize> = decls
        .iter()
        .enumerate()
        .map(|(i, d)| (d.address.as_str(), i))
        .collect();
    let refs: Vec<Vec<usize>> = decls
        .iter()
        .enumerate()
        .map(|(i, d)| {
            d.deps
                .iter()
                .filter_map(|dep| index.get(dep.as_str()).copied())
                .filter(|&j| j != i)
                .collect()
        })
        .collect();
    let mut g: DiGraph<usize, ()> = DiGraph::new();
    let nodes: Vec<NodeIndex> = (0..decls.len()).map(|i| g.add_node(i)).collect();
    for (i, rs) in refs.iter().enumerate() {
        for &j in rs {
            g.add_edge(nodes[i], nodes[j], ());
        }
    }
    let mut out = Vec::new();
    for scc in petgraph::algo::tarjan_scc(&g) {
        if scc.len() < 2 {
            continue;
        }
        let members: Vec<usize> = scc.iter().map(|n| g[*n]).collect();
        let start = *members.iter().min().expect("non-empty");
        // Depth-first inside the group from `start` until a reference leads back to it.
        let mut path = vec![start];
        let mut seen = vec![start];
        while let Some(&last) = path.last() {
            if path.len() > 1 && refs[last].contains(&start) {
                break;
            }
            match refs[last]
                .iter()
                .find(|j| members.contains(j) && !seen.contains(j))
            {
                Some(&next) => {
                    seen.push(next);
                    path.push(next);
                }
                None => {
                    path.pop();
                }
            }
        }
        if path.is_empty() {
            path = members;
        }
        out.push(path);
    }
    out
}
