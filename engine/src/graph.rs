//! The plan's DAG as Graphviz dot or Mermaid: phases as clusters, risk as
//! colour, and tasks that will not run (excluded, blocked...) drawn dashed.

use std::fmt::Write as _;

use plangate_plans::{Decision, DryRun, Plan, Risk, dag};

/// Output format of [`render_graph`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GraphFormat {
    /// Graphviz dot.
    Dot,
    /// Mermaid flowchart.
    Mermaid,
}

fn fill(risk: Risk) -> &'static str {
    match risk {
        Risk::Low => "#c8e6c9",
        Risk::Medium => "#ffe082",
        Risk::High => "#ef9a9a",
    }
}

fn quote(text: &str) -> String {
    text.replace('\\', "\\\\").replace('"', "\\\"")
}

fn mermaid_text(text: &str) -> String {
    text.replace('"', "#quot;")
}

/// Renders the plan's graph; edges point from a needed task to its dependent.
pub fn render_graph(plan: &Plan, dry_run: &DryRun, format: GraphFormat) -> String {
    let mut edges = dag::edges(plan);
    edges.sort_unstable();
    match format {
        GraphFormat::Dot => dot(plan, dry_run, &edges),
        GraphFormat::Mermaid => mermaid(plan, dry_run, &edges),
    }
}

fn label(plan: &Plan, dry_run: &DryRun, task: usize) -> String {
    let t = &plan.tasks[task];
    let decision = dry_run.decisions[task].decision;
    let mut label = format!("{}\\n{} risk", t.display_name(), t.risk);
    if decision != Decision::Run {
        let _ = write!(label, "\\n({decision})");
    }
    label
}

fn dot(plan: &Plan, dry_run: &DryRun, edges: &[(usize, usize)]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "digraph \"{}\" {{", quote(plan.name.as_str()));
    let _ = writeln!(
        out,
        "  rankdir=LR;\n  node [shape=box, style=\"rounded,filled\", fontname=\"Helvetica\"];"
    );
    for (i, phase) in plan.phases.iter().enumerate() {
        let _ = writeln!(
            out,
            "  subgraph \"cluster_{}\" {{",
            quote(phase.id.as_str())
        );
        let _ = writeln!(
            out,
            "    label=\"{}. {}{}\";",
            i + 1,
            quote(phase.display_name()),
            phase
                .budget
                .map(|b| format!(" ({})", plangate_plans::format_duration(b)))
                .unwrap_or_default()
        );
        for &task in &phase.tasks {
            let t = &plan.tasks[task];
            let style = if dry_run.decisions[task].decision == Decision::Run {
                "rounded,filled"
            } else {
                "rounded,filled,dashed"
            };
            let _ = writeln!(
                out,
                "    \"{}\" [label=\"{}\", fillcolor=\"{}\", style=\"{style}\"];",
                t.id,
                quote(&label(plan, dry_run, task)).replace("\\\\n", "\\n"),
                fill(t.risk)
            );
        }
        let _ = writeln!(out, "  }}");
    }
    for &(task, need) in edges {
        let _ = writeln!(
            out,
            "  \"{}\" -> \"{}\";",
            plan.tasks[need].id, plan.tasks[task].id
        );
    }
    let _ = writeln!(out, "}}");
    out
}

fn mermaid(plan: &Plan, dry_run: &DryRun, edges: &[(usize, usize)]) -> String {
    let mut out = String::from("flowchart LR\n");
    for (i, phase) in plan.phases.iter().enumerate() {
        let _ = writeln!(
            out,
            "  subgraph phase_{}[\"{}. {}\"]",
            phase.id.as_str().replace('-', "_"),
            i + 1,
            mermaid_text(phase.display_name())
        );
        for &task in &phase.tasks {
            let t = &plan.tasks[task];
            let text = label(plan, dry_run, task).replace("\\n", "<br/>");
            let _ = writeln!(out, "    {}[\"{}\"]", t.id, mermaid_text(&text));
        }
        let _ = writeln!(out, "  end");
    }
    for &(task, need) in edges {
        let _ = writeln!(out, "  {} --> {}", plan.tasks[need].id, plan.tasks[task].id);
    }
    for risk in Risk::ALL {
        let _ = writeln!(out, "  classDef {risk} fill:{},stroke:#555", fill(risk));
    }
    let _ = writeln!(out, "  classDef notrun stroke-dasharray: 5 5,opacity:0.7");
    for risk in Risk::ALL {
        let ids: Vec<&str> = plan
            .tasks
            .iter()
            .filter(|t| t.risk == risk)
            .map(|t| t.id.as_str())
            .collect();
        if !ids.is_empty() {
            let _ = writeln!(out, "  class {} {risk}", ids.join(","));
        }
    }
    let not_run: Vec<&str> = plan
        .tasks
        .iter()
        .zip(&dry_run.decisions)
        .filter(|(_, d)| d.decision != Decision::Run)
        .map(|(t, _)| t.id.as_str())
        .collect();
    if !not_run.is_empty() {
        let _ = writeln!(out, "  class {} notrun", not_run.join(","));
    }
    out
}
