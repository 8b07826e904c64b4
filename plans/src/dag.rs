//! The task graph: cycles, topological order and critical paths (petgraph).
//!
//! Edges point from a task to the tasks it needs. Because `needs` may only
//! point at the same or an earlier phase, the global order is phase by phase,
//! and inside a phase Kahn's algorithm picks the earliest-declared ready task,
//! so the order is stable and follows the author's listing where it can.

use std::{
    cmp::Reverse,
    collections::{BinaryHeap, HashSet},
    time::Duration,
};

use petgraph::{algo::tarjan_scc, graph::DiGraph, visit::EdgeRef};

use crate::model::Plan;

fn graph(needs: &[Vec<usize>]) -> DiGraph<usize, ()> {
    let mut graph = DiGraph::with_capacity(needs.len(), needs.len());
    let nodes: Vec<_> = (0..needs.len()).map(|i| graph.add_node(i)).collect();
    for (index, list) in needs.iter().enumerate() {
        for &need in list {
            graph.add_edge(nodes[index], nodes[need], ());
        }
    }
    graph
}

/// Every dependency cycle, each as task indexes in `needs` order starting from
/// its earliest-declared task (`[a, b, c]` means `a` needs `b` needs `c` needs `a`).
pub fn find_cycles(needs: &[Vec<usize>]) -> Vec<Vec<usize>> {
    let graph = graph(needs);
    let mut cycles = Vec::new();
    for component in tarjan_scc(&graph) {
        let members: HashSet<usize> = component.iter().map(|n| graph[*n]).collect();
        let start = *members
            .iter()
            .min()
            .expect("a strongly connected component is never empty");
        let self_loop = needs[start].contains(&start);
        if members.len() == 1 && !self_loop {
            continue;
        }
        if let Some(cycle) = cycle_through(needs, start, &members) {
            cycles.push(cycle);
        }
    }
    cycles.sort();
    cycles
}

/// A path `start -> ... -> start` inside `members`, preferring earlier-declared needs.
fn cycle_through(
    needs: &[Vec<usize>],
    start: usize,
    members: &HashSet<usize>,
) -> Option<Vec<usize>> {
    let mut path = vec![start];
    let mut visited = HashSet::from([start]);
    let mut stack: Vec<std::vec::IntoIter<usize>> = vec![sorted_needs(needs, start, members)];
    while let Some(frontier) = stack.last_mut() {
        match frontier.next() {
            Some(next) if next == start => return Some(path),
            Some(next) if visited.insert(next) => {
                path.push(next);
                stack.push(sorted_needs(needs, next, members));
            }
            Some(_) => {}
            None => {
                stack.pop();
                path.pop();
            }
        }
    }
    None
}

fn sorted_needs(
    needs: &[Vec<usize>],
    task: usize,
    members: &HashSet<usize>,
) -> std::vec::IntoIter<usize> {
    let mut needs: Vec<usize> = needs[task]
        .iter()
        .copied()
        .filter(|n| members.contains(n))
        .collect();
    needs.sort_unstable();
    needs.into_iter()
}

/// Task indexes in run order: phase by phase, dependencies first, ties broken
/// by declaration order.
pub fn topological_order(plan: &Plan) -> Vec<usize> {
    let mut order = Vec::with_capacity(plan.tasks.len());
    for phase in &plan.phases {
        order.extend(phase_order(plan, &phase.tasks));
    }
    order
}

/// Kahn's algorithm over `members` (edges to tasks outside are already satisfied).
pub fn phase_order(plan: &Plan, members: &[usize]) -> Vec<usize> {
    let set: HashSet<usize> = members.iter().copied().collect();
    let mut waiting: Vec<usize> = vec![0; plan.tasks.len()];
    let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); plan.tasks.len()];
    for &task in members {
        for &need in &plan.tasks[task].needs {
            if set.contains(&need) {
                waiting[task] += 1;
                dependents[need].push(task);
            }
        }
    }
    let mut ready: BinaryHeap<Reverse<usize>> = members
        .iter()
        .copied()
        .filter(|&t| waiting[t] == 0)
        .map(Reverse)
        .collect();
    let mut order = Vec::with_capacity(members.len());
    while let Some(Reverse(task)) = ready.pop() {
        order.push(task);
        for &dependent in &dependents[task] {
            waiting[dependent] -= 1;
            if waiting[dependent] == 0 {
                ready.push(Reverse(dependent));
            }
        }
    }
    order
}

/// The longest chain of estimates through `members` (in topological order),
/// counting only edges between members.
pub fn critical_path(
    plan: &Plan,
    ordered_members: &[usize],
    estimate: impl Fn(usize) -> Duration,
) -> Duration {
    let set: HashSet<usize> = ordered_members.iter().copied().collect();
    let mut finish = vec![Duration::ZERO; plan.tasks.len()];
    let mut longest = Duration::ZERO;
    for &task in ordered_members {
        let start = plan.tasks[task]
            .needs
            .iter()
            .filter(|n| set.contains(n))
            .map(|&n| finish[n])
            .max()
            .unwrap_or_default();
        finish[task] = start + estimate(task);
        longest = longest.max(finish[task]);
    }
    longest
}

/// The edges of the graph as `(task, needed task)` index pairs, for renderers.
pub fn edges(plan: &Plan) -> Vec<(usize, usize)> {
    let needs: Vec<Vec<usize>> = plan.tasks.iter().map(|t| t.needs.clone()).collect();
    let graph = graph(&needs);
    graph
        .edge_references()
        .map(|edge| (graph[edge.source()], graph[edge.target()]))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{load::parse_plan, source::SourceFile};
    use proptest::prelude::*;

    fn plan(text: &str) -> Plan {
        parse_plan(SourceFile::new("t.yaml", text), ".".into()).expect("valid test plan")
    }

    fn chain_plan(needs: &[Vec<usize>]) -> String {
        let mut text = String::from(
            "version: 1\nname: p\npolicy: {require_rollback: none}\nphases:\n  - id: one\n    tasks:\n",
        );
        for (i, list) in needs.iter().enumerate() {
            let list: Vec<String> = list.iter().map(|n| format!("t{n}")).collect();
            text.push_str(&format!(
                "      - {{id: t{i}, risk: low, estimate: {}s, needs: [{}], run: {{shell: [\"true\"]}}}}\n",
                i + 1,
                list.join(", ")
            ));
        }
        text
    }

    #[test]
    fn order_is_stable_and_respects_needs() {
        let p = plan(&chain_plan(&[vec![2], vec![], vec![1]]));
        let ids: Vec<&str> = topological_order(&p)
            .iter()
            .map(|&i| p.tasks[i].id.as_str())
            .collect();
        assert_eq!(ids, ["t1", "t2", "t0"]);
        let order = topological_order(&p);
        let path = critical_path(&p, &order, |i| p.tasks[i].estimate.unwrap_or_default());
        assert_eq!(path, Duration::from_secs(2 + 3 + 1));
    }

    proptest! {
        // Random DAGs (each task needs only earlier ones): the order contains
        // every task once, and every edge points backwards in it.
        #[test]
        fn every_edge_respects_the_order(needs in proptest::collection::vec(proptest::collection::vec(0usize..40, 0..4), 1..40)) {
            let needs: Vec<Vec<usize>> = needs
                .iter()
                .enumerate()
                .map(|(i, list)| {
                    let mut list: Vec<usize> = list.iter().filter(|_| i > 0).map(|n| n % i.max(1)).collect();
                    list.sort_unstable();
                    list.dedup();
                    list
                })
                .collect();
            let p = plan(&chain_plan(&needs));
            let order = topological_order(&p);
            prop_assert_eq!(order.len(), p.tasks.len());
            let position: Vec<usize> = {
                let mut position = vec![0; order.len()];
                for (at, &task) in order.iter().enumerate() { position[task] = at; }
                position
            };
            for (task, need) in edges(&p) {
                prop_assert!(position[need] < position[task]);
            }
            // Rollback order is the reverse: every dependent is undone before what it needs.
            let rollback: Vec<usize> = order.iter().rev().copied().collect();
            for (task, need) in edges(&p) {
                let at = |t: usize| rollback.iter().position(|&x| x == t).expect("every task is in the order");
                prop_assert!(at(task) < at(need));
            }
        }
    }
}
