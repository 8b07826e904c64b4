//! `plangate graph`: dot and Mermaid renderings of the DAG.

use crate::common::PlangateCli;

const PLAN: &str = "\
version: 1
name: small
policy: {require_rollback: none}
phases:
  - id: first
    name: First phase
    tasks:
      - {id: a, risk: low, run: {shell: [\"true\"]}}
      - {id: b, risk: medium, needs: [a], run: {shell: [\"true\"]}}
  - id: second
    tasks:
      - {id: c, risk: high, needs: [b], run: {shell: [\"true\"]}}
";

#[test]
fn dot_has_clusters_colours_and_edges() {
    let finished = PlangateCli::new()
        .plan(PLAN)
        .args(["graph", "plan.yaml"])
        .run();
    finished.assert_code(0);
    insta::assert_snapshot!("graph_dot", finished.stdout);
}

#[test]
fn mermaid_marks_excluded_tasks() {
    let finished = PlangateCli::new()
        .plan(PLAN)
        .args(["graph", "plan.yaml", "--format", "mermaid"])
        .run();
    finished.assert_code(0);
    insta::assert_snapshot!("graph_mermaid", finished.stdout);
}
