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
