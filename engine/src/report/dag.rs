//! The task graph as an inline SVG, laid out by plangate itself.
//!
//! A layered (Sugiyama-style) drawing: phases are bands of columns, left to
//! right in run order; inside a phase a task sits one column after the last
//! of the tasks it needs (longest-path layering). An edge that spans more
//! than one column runs through a chain of invisible waypoints, one per
//! column it crosses, so it is routed between nodes instead of through them.
//! The order of the nodes in each column comes from barycentre sweeps (each
//! node moves towards the mean position of its neighbours in the column
//! before, then after), which removes most needless crossings.
//!
//! Both reports draw through [`render`]: the impact report colours by risk
//! and badges the decision, the run report badges the final state.

use std::fmt::Write as _;

use super::page::{escape, float_usize};

/// One task to draw.
pub(crate) struct Node<'a> {
    /// Task id (the label and the `data-task` attribute).
    pub(crate) id: &'a str,
    /// Display name, shown as the node's tooltip.
    pub(crate) name: Option<&'a str>,
    /// Index of the task's phase in [`Graph::phases`].
    pub(crate) phase: usize,
    /// `low`, `medium` or `high`: the fill.
    pub(crate) risk: &'a str,
    /// The decision or the final state: the badge, and a CSS class.
    pub(crate) badge: &'a str,
    /// Whether the task does (or did) no work: drawn dashed and faded.
    pub(crate) inactive: bool,
    /// Indices of the tasks it needs.
    pub(crate) needs: Vec<usize>,
}

/// What [`render`] draws.
pub(crate) struct Graph<'a> {
    /// Phase labels, in run order.
    pub(crate) phases: Vec<String>,
    /// Tasks, in run order (every task after the tasks it needs).
    pub(crate) nodes: Vec<Node<'a>>,
}

/// Above this many tasks the drawing is left out: it would be too large to
/// read or to open (`plangate graph` draws any size).
pub(crate) const MAX_NODES: usize = 400;

const NODE_WIDTH: f64 = 188.0;
const NODE_HEIGHT: f64 = 40.0;
const WAYPOINT_HEIGHT: f64 = 10.0;
const ROW_GAP: f64 = 12.0;
const COLUMN_GAP: f64 = 48.0;
const PHASE_GAP: f64 = 28.0;
const HEADER: f64 = 34.0;
const MARGIN: f64 = 12.0;
const SWEEPS: usize = 8;
const STRAIGHTEN_PASSES: usize = 12;

/// A slot in a column: a task or a waypoint of a long edge.
#[derive(Clone, Copy)]
enum Slot {
    Task(usize),
    Waypoint,
}

struct Layout {
    /// Column of each slot.
    column: Vec<usize>,
    kind: Vec<Slot>,
    /// Slots in each column, top to bottom.
    columns: Vec<Vec<usize>>,
    /// Edges between slots of adjacent columns: (left, right).
    segments: Vec<(usize, usize)>,
    /// Each edge of the graph as the chain of slots it runs through.
    edges: Vec<Vec<usize>>,
    /// First and last column of each phase.
    phase_columns: Vec<(usize, usize)>,
}

fn layout(graph: &Graph<'_>) -> Layout {
    let count = graph.nodes.len();
    // Longest-path layering, phase by phase: a phase starts one column after
    // the last column of the phase before it.
    let mut column = vec![0usize; count];
    let mut phase_columns = Vec::with_capacity(graph.phases.len());
    let mut next_start = 0usize;
    for phase in 0..graph.phases.len() {
        let start = next_start;
        let mut end = start;
        for (index, node) in graph.nodes.iter().enumerate() {
            if node.phase != phase {
                continue;
            }
            let after = node
                .needs
                .iter()
                .filter(|&&need| need < index)
                .map(|&need| column[need] + 1)
                .max()
                .unwrap_or(start);
            column[index] = after.max(start);
            end = end.max(column[index]);
        }
        phase_columns.push((start, end));
        next_start = end + 1;
    }
    let width = next_start.max(1);
    let mut kind: Vec<Slot> = (0..count).map(Slot::Task).collect();
    let mut columns: Vec<Vec<usize>> = vec![Vec::new(); width];
    for (index, &c) in column.iter().enumerate() {
        columns[c].push(index);
    }
    let mut segments = Vec::new();
    let mut edges = Vec::new();
    for (index, node) in graph.nodes.iter().enumerate() {
        for &need in &node.needs {
            if need >= count || column[need] >= column[index] {
                continue;
            }
            let mut chain = vec![need];
            let (from, to) = (column[need] + 1, column[index]);
            for (c, waiting) in columns.iter_mut().enumerate().take(to).skip(from) {
                let slot = kind.len();
                kind.push(Slot::Waypoint);
                column.push(c);
                waiting.push(slot);
                chain.push(slot);
            }
            chain.push(index);
            segments.extend(chain.windows(2).map(|pair| (pair[0], pair[1])));
            edges.push(chain);
        }
    }
    let mut layout = Layout {
        column,
        kind,
        columns,
        segments,
        edges,
        phase_columns,
    };
    order(&mut layout);
    layout
}

/// Barycentre sweeps, left to right then right to left.
fn order(layout: &mut Layout) {
    let slots = layout.kind.len();
    let mut left: Vec<Vec<usize>> = vec![Vec::new(); slots];
    let mut right: Vec<Vec<usize>> = vec![Vec::new(); slots];
    for &(a, b) in &layout.segments {
        right[a].push(b);
        left[b].push(a);
    }
    let mut position = vec![0.0f64; slots];
    let place = |columns: &[Vec<usize>], position: &mut [f64]| {
        for column in columns {
            for (rank, &slot) in column.iter().enumerate() {
                position[slot] = float_usize(rank);
            }
        }
    };
    place(&layout.columns, &mut position);
    for sweep in 0..SWEEPS {
        let forward = sweep % 2 == 0;
        let indices: Vec<usize> = if forward {
            (1..layout.columns.len()).collect()
        } else {
            (0..layout.columns.len().saturating_sub(1)).rev().collect()
        };
        for c in indices {
            let neighbours = if forward { &left } else { &right };
            let mut keyed: Vec<(f64, f64, usize)> = layout.columns[c]
                .iter()
                .map(|&slot| {
                    let around = &neighbours[slot];
                    let key = if around.is_empty() {
                        position[slot]
                    } else {
                        around.iter().map(|&n| position[n]).sum::<f64>() / float_usize(around.len())
                    };
                    (key, position[slot], slot)
                })
                .collect();
            keyed.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
            layout.columns[c] = keyed.into_iter().map(|(_, _, slot)| slot).collect();
            for (rank, &slot) in layout.columns[c].iter().enumerate() {
                position[slot] = float_usize(rank);
            }
        }
    }
}

fn slot_height(slot: Slot) -> f64 {
    match slot {
        Slot::Task(_) => NODE_HEIGHT,
        Slot::Waypoint => WAYPOINT_HEIGHT,
    }
}

/// The vertical middle of every slot: columns centred on the tallest, then
/// straightened.
fn heights(layout: &Layout) -> Vec<f64> {
    let column_height = |column: &[usize]| {
        column
            .iter()
            .map(|&slot| slot_height(layout.kind[slot]) + ROW_GAP)
            .sum::<f64>()
    };
    let tallest = layout
        .columns
        .iter()
        .map(|c| column_height(c))
        .fold(0.0, f64::max);
    let mut y = vec![0.0f64; layout.kind.len()];
    for column in &layout.columns {
        let mut top = HEADER + MARGIN + (tallest - column_height(column)) / 2.0;
        for &slot in column {
            y[slot] = top + slot_height(layout.kind[slot]) / 2.0;
            top += slot_height(layout.kind[slot]) + ROW_GAP;
        }
    }
    straighten(layout, &mut y, HEADER + MARGIN);
    y
}

/// Moves the slots of each column towards the mean height of their
/// neighbours, keeping their order and spacing and staying below `top`, so
/// that an edge's chain of waypoints runs straight instead of zigzagging
/// from one column's centre to the next.
fn straighten(layout: &Layout, y: &mut [f64], top: f64) {
    let mut neighbours: Vec<Vec<usize>> = vec![Vec::new(); layout.kind.len()];
    for &(a, b) in &layout.segments {
        neighbours[a].push(b);
        neighbours[b].push(a);
    }
    let height = |slot: usize| slot_height(layout.kind[slot]);
    for _ in 0..STRAIGHTEN_PASSES {
        for column in layout.columns.iter().filter(|c| !c.is_empty()) {
            let wanted: Vec<f64> = column
                .iter()
                .map(|&slot| {
                    let around = &neighbours[slot];
                    if around.is_empty() {
                        y[slot]
                    } else {
                        around.iter().map(|&n| y[n]).sum::<f64>() / float_usize(around.len())
                    }
                })
                .collect();
            let mut placed = wanted.clone();
            for i in 1..column.len() {
                let least = placed[i - 1]
                    + f64::midpoint(height(column[i - 1]), height(column[i]))
                    + ROW_GAP;
                placed[i] = placed[i].max(least);
            }
            // Pushing down only would drift the column: shift it back up by
            // its mean overshoot, but never above the top.
            let overshoot = placed.iter().zip(&wanted).map(|(p, w)| p - w).sum::<f64>()
                / float_usize(column.len());
            let first_top = placed[0] - overshoot - height(column[0]) / 2.0;
            let shift = overshoot - (top - first_top).max(0.0);
            for (&slot, &at) in column.iter().zip(&placed) {
                y[slot] = at - shift;
            }
        }
    }
}

/// Renders the graph; `None` when it has more than [`MAX_NODES`] tasks.
pub(crate) fn render(graph: &Graph<'_>) -> Option<String> {
    if graph.nodes.len() > MAX_NODES || graph.nodes.is_empty() {
        return None;
    }
    let layout = layout(graph);
    let phase_of_column = |c: usize| {
        layout
            .phase_columns
            .iter()
            .position(|&(start, end)| (start..=end).contains(&c))
            .unwrap_or(0)
    };
    let x_of = |c: usize| {
        MARGIN
            + float_usize(c) * (NODE_WIDTH + COLUMN_GAP)
            + float_usize(phase_of_column(c)) * PHASE_GAP
    };
    let y = heights(&layout);
    let last_column = layout.columns.len().saturating_sub(1);
    let width = x_of(last_column) + NODE_WIDTH + MARGIN;
    let height = layout
        .kind
        .iter()
        .zip(&y)
        .map(|(&kind, &middle)| middle + slot_height(kind) / 2.0)
        .fold(HEADER + MARGIN, f64::max)
        + MARGIN;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "<svg class=\"dag\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{width:.0}\" height=\"{height:.0}\" viewBox=\"0 0 {width:.0} {height:.0}\" role=\"img\" aria-label=\"task graph\">"
    );
    let _ = writeln!(
        out,
        "<defs><marker id=\"arrow\" viewBox=\"0 0 8 8\" refX=\"8\" refY=\"4\" markerWidth=\"7\" markerHeight=\"7\" orient=\"auto\"><path d=\"M0,0L8,4L0,8z\" fill=\"#7a869a\"/></marker></defs>"
    );
    for (phase, &(start, end)) in layout.phase_columns.iter().enumerate() {
        let left = x_of(start) - PHASE_GAP / 2.0 + 4.0;
        let right = x_of(end) + NODE_WIDTH + PHASE_GAP / 2.0 - 4.0;
        let label = graph.phases.get(phase).map_or("", String::as_str);
        let _ = writeln!(
            out,
            "<g class=\"phase-band\"><rect x=\"{left:.1}\" y=\"4\" width=\"{:.1}\" height=\"{:.1}\" rx=\"8\"/><text x=\"{:.1}\" y=\"24\">{}</text></g>",
            right - left,
            height - 8.0,
            left + 10.0,
            escape(label)
        );
    }
    let _ = writeln!(out, "<g class=\"edges\">");
    for chain in &layout.edges {
        let points: Vec<(f64, f64)> = chain
            .iter()
            .enumerate()
            .map(|(i, &slot)| {
                let x = x_of(layout.column[slot]);
                let x = match (i, layout.kind[slot]) {
                    (0, _) => x + NODE_WIDTH,
                    (_, Slot::Waypoint) => x + NODE_WIDTH / 2.0,
                    _ => x,
                };
                (x, y[slot])
            })
            .collect();
        let mut d = format!("M{:.1},{:.1}", points[0].0, points[0].1);
        for pair in points.windows(2) {
            let ((x1, y1), (x2, y2)) = (pair[0], pair[1]);
            let bend = (x2 - x1) / 2.0;
            let _ = write!(
                d,
                " C{:.1},{y1:.1} {:.1},{y2:.1} {x2:.1},{y2:.1}",
                x1 + bend,
                x2 - bend
            );
        }
        let _ = writeln!(out, "<path d=\"{d}\" marker-end=\"url(#arrow)\"/>");
    }
    let _ = writeln!(out, "</g>");
    for (slot, kind) in layout.kind.iter().enumerate() {
        let Slot::Task(index) = *kind else {
            continue;
        };
        let node = &graph.nodes[index];
        let x = x_of(layout.column[slot]);
        let top = y[slot] - NODE_HEIGHT / 2.0;
        let tooltip = match node.name {
            Some(name) => format!("{} ({}): {}, {} risk", node.id, name, node.badge, node.risk),
            None => format!("{}: {}, {} risk", node.id, node.badge, node.risk),
        };
        let _ = writeln!(
            out,
            "<g class=\"node risk-{risk} badge-{badge}{inactive}\" data-task=\"{id}\"><title>{tooltip}</title><rect x=\"{x:.1}\" y=\"{top:.1}\" width=\"{NODE_WIDTH}\" height=\"{NODE_HEIGHT}\" rx=\"6\"/><text class=\"label\" x=\"{:.1}\" y=\"{:.1}\">{label}</text><text class=\"badge\" x=\"{:.1}\" y=\"{:.1}\">{badge_text}</text></g>",
            x + 9.0,
            top + 16.0,
            x + 9.0,
            top + 32.0,
            risk = escape(node.risk),
            badge = escape(node.badge),
            inactive = if node.inactive { " inactive" } else { "" },
            id = escape(node.id),
            tooltip = escape(&tooltip),
            label = escape(&shorten(node.id, 24)),
            badge_text = escape(&format!("{} · {}", node.badge, node.risk)),
        );
    }
    let _ = writeln!(out, "</svg>");
    Some(out)
}

/// `text`, cut to `max` characters with an ellipsis (the tooltip keeps the
/// whole id).
fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(max - 1).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(id: &str, phase: usize, needs: Vec<usize>) -> Node<'_> {
        Node {
            id,
            name: None,
            phase,
            risk: "low",
            badge: "run",
            inactive: false,
            needs,
        }
    }

    #[test]
    fn tasks_sit_after_what_they_need_and_phases_do_not_share_columns() {
        let graph = Graph {
            phases: vec!["a".to_owned(), "b".to_owned()],
            nodes: vec![
                node("one", 0, vec![]),
                node("two", 0, vec![0]),
                node("three", 0, vec![]),
                node("four", 1, vec![0]),
            ],
        };
        let layout = layout(&graph);
        assert_eq!(&layout.column[..4], &[0, 1, 0, 2]);
        assert_eq!(layout.phase_columns, vec![(0, 1), (2, 2)]);
        // `one` -> `four` skips column 1: one waypoint there.
        assert_eq!(layout.edges[1].len(), 3);
        assert!(matches!(layout.kind[layout.edges[1][1]], Slot::Waypoint));
    }

    #[test]
    fn barycentre_sweeps_uncross_a_swapped_pair() {
        // a -> d and b -> c, with c listed before d: drawn in input order the
        // two edges cross; after the sweeps they do not.
        let graph = Graph {
            phases: vec!["p".to_owned()],
            nodes: vec![
                node("a", 0, vec![]),
                node("b", 0, vec![]),
                node("c", 0, vec![1]),
                node("d", 0, vec![0]),
            ],
        };
        let layout = layout(&graph);
        let rank = |slot: usize| {
            layout.columns[layout.column[slot]]
                .iter()
                .position(|&s| s == slot)
                .expect("placed")
        };
        assert_eq!(rank(0) < rank(1), rank(3) < rank(2));
    }

    #[test]
    fn straightening_keeps_order_and_spacing_and_lines_up_chains() {
        // `root` feeds four tasks in the next phase and one two phases on:
        // that edge runs through a waypoint, and the last stretch of it, from
        // the waypoint to `far`, runs level instead of zigzagging.
        let graph = Graph {
            phases: vec!["a".to_owned(), "b".to_owned(), "c".to_owned()],
            nodes: vec![
                node("root", 0, vec![]),
                node("b1", 1, vec![0]),
                node("b2", 1, vec![0]),
                node("b3", 1, vec![0]),
                node("b4", 1, vec![0]),
                node("far", 2, vec![0]),
            ],
        };
        let layout = layout(&graph);
        let y = heights(&layout);
        for column in &layout.columns {
            for pair in column.windows(2) {
                let gap = y[pair[1]]
                    - y[pair[0]]
                    - f64::midpoint(
                        slot_height(layout.kind[pair[0]]),
                        slot_height(layout.kind[pair[1]]),
                    );
                assert!(gap >= ROW_GAP - 1e-9, "order and spacing kept: {gap}");
            }
            for &slot in column {
                assert!(y[slot] - slot_height(layout.kind[slot]) / 2.0 >= HEADER + MARGIN - 1e-9);
            }
        }
        let chain = layout.edges.last().expect("root -> far");
        assert_eq!(chain.len(), 3);
        let (waypoint, far) = (y[chain[1]], y[chain[2]]);
        assert!((far - waypoint).abs() < 1.0, "{waypoint} {far}");
    }

    #[test]
    fn markup_in_ids_is_escaped() {
        let graph = Graph {
            phases: vec!["<b>".to_owned()],
            nodes: vec![node("<script>alert(1)</script>", 0, vec![])],
        };
        let svg = render(&graph).expect("drawn");
        assert!(!svg.contains("<script>"), "{svg}");
        assert!(svg.contains("&lt;script&gt;"), "{svg}");
    }

    #[test]
    fn large_graphs_are_left_out() {
        let ids: Vec<String> = (0..=MAX_NODES).map(|i| format!("t{i}")).collect();
        let graph = Graph {
            phases: vec!["p".to_owned()],
            nodes: ids.iter().map(|id| node(id, 0, vec![])).collect(),
        };
        assert!(render(&graph).is_none());
    }
}
