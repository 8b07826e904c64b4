//! Resource groups (`exclusive:` on a task, `exclusive: true` on an
//! executor instance): tasks of one group never overlap under concurrency
//! 4, tasks of different groups still run together, and a resumed run keeps
//! to its groups; the dry run and `explain` show the groups.
//!
//! Every grouped task runs `task.sh GROUP ID`, which takes the group's lock
//! with `mkdir` (atomic: it fails when the directory exists), notes an
//! overlap in `overlaps` when it cannot, and appends `start`/`end` lines to
//! `log` (appends of one short line are atomic). Nothing is timed: a run
//! that lets two tasks of a group overlap leaves either an overlap or two
//! `start` lines in a row of that group.

use std::collections::BTreeMap;

use crate::common::Workspace;

const TASK_SCRIPT: &str = r#"#!/bin/sh
group=$1
id=$2
mkdir "lock-$group" 2>/dev/null || echo "$id overlaps in $group" >> overlaps
echo "start $group $id" >> log
if [ "$id" = fail-once ] && [ ! -f fixed ]; then
  echo "end $group $id" >> log
  rmdir "lock-$group"
  exit 1
fi
i=0
while [ $i -lt 300 ]; do i=$((i + 1)); done
echo "end $group $id" >> log
rmdir "lock-$group"
"#;

fn grouped(id: &str, group: &str) -> String {
    format!(
        "      - {{id: {id}, risk: low, estimate: 1m, exclusive: [{group}], run: {{shell: [sh, task.sh, {group}, {id}]}}}}\n"
    )
}

fn through_instance(id: &str) -> String {
    format!(
        "      - {{id: {id}, risk: low, estimate: 1m, run: {{executor: cluster, with: [sh, task.sh, cluster, {id}]}}}}\n"
    )
}

/// Two tasks in different groups that each wait for the other to have
/// started: the run ends only if they run together.
fn rendezvous(id: &str, group: &str, other: &str) -> String {
    format!(
        "      - {{id: {id}, risk: low, estimate: 1m, timeout: 60s, exclusive: [{group}], run: {{shell: [sh, -c, 'touch {id}-up; while [ ! -f {other}-up ]; do sleep 0.01; done']}}}}\n"
    )
}

const HEAD: &str = "version: 1\nname: exclusive\npolicy: {concurrency: 4, on_failure: stop}\nexecutors:\n  cluster: {kind: shell, exclusive: true}\nphases:\n  - id: one\n    tasks:\n";

/// The `start`/`end` lines of `log`, by group, in order.
fn by_group(log: &str) -> BTreeMap<String, Vec<(String, String)>> {
    let mut groups: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    for line in log.lines() {
        let mut words = line.split(' ');
        let (Some(what), Some(group), Some(id)) = (words.next(), words.next(), words.next()) else {
            panic!("a log line has three words: {line:?}");
        };
        groups
            .entry(group.to_owned())
            .or_default()
            .push((what.to_owned(), id.to_owned()));
    }
    groups
}

/// Each group's lines are `start X`, `end X`, `start Y`, `end Y`, ...: no
/// task of a group started while another was running.
#[track_caller]
fn assert_one_at_a_time(workspace: &Workspace) {
    assert_eq!(
        workspace.read("overlaps"),
        "",
        "no task found its group's lock taken"
    );
    for (group, lines) in by_group(&workspace.read("log")) {
        for pair in lines.chunks(2) {
            assert!(
                matches!(pair, [(start, a), (end, b)] if start == "start" && end == "end" && a == b),
                "group `{group}` ran tasks together: {lines:?}"
            );
        }
    }
}

#[test]
fn tasks_of_a_group_never_overlap_and_other_groups_run_together() {
    let workspace = Workspace::new();
    workspace.write("task.sh", TASK_SCRIPT);
    let plan = format!(
        "{HEAD}{}{}{}{}{}{}{}{}",
        grouped("db1", "db"),
        grouped("db2", "db"),
        grouped("db3", "db"),
        grouped("db4", "db"),
        through_instance("k1"),
        through_instance("k2"),
        rendezvous("r1", "ingress", "r2"),
        rendezvous("r2", "dns", "r1"),
    );
    workspace.write("plan.yaml", &plan);
    workspace.run(["run", "plan.yaml"]).assert_code(0);
    assert_one_at_a_time(&workspace);
    let groups = by_group(&workspace.read("log"));
    assert_eq!(groups["db"].len(), 8, "four db tasks ran");
    assert_eq!(
        groups["cluster"].len(),
        4,
        "two tasks ran through `cluster`"
    );
    assert!(
        workspace
            .states()
            .values()
            .all(|state| state == "succeeded")
    );
}

#[test]
fn a_resumed_run_keeps_its_groups() {
    let workspace = Workspace::new();
    workspace.write("task.sh", TASK_SCRIPT);
    let plan = format!(
        "{HEAD}{}{}{}{}{}{}",
        grouped("a", "db"),
        grouped("b", "db"),
        grouped("fail-once", "db"),
        grouped("d", "db"),
        grouped("e", "db"),
        grouped("f", "db"),
    );
    workspace.write("plan.yaml", &plan);
    workspace.run(["run", "plan.yaml"]).assert_code(1);
    let first = by_group(&workspace.read("log"))["db"].len();
    assert!(
        first < 12,
        "the failure stopped the run before every task ran"
    );
    workspace.write("fixed", "");
    workspace.run(["resume"]).assert_code(0);
    assert_one_at_a_time(&workspace);
    let states = workspace.states();
    assert!(
        states.values().all(|state| state == "succeeded"),
        "{states:?}"
    );
    // Every task once, and `fail-once` twice.
    assert_eq!(by_group(&workspace.read("log"))["db"].len(), 14);
}

#[test]
fn the_dry_run_and_explain_show_the_groups_and_their_serialisation() {
    let workspace = Workspace::new();
    let plan = format!(
        "{HEAD}{}{}{}{}",
        grouped("db1", "db"),
        grouped("db2", "db"),
        grouped("db3", "db"),
        through_instance("k1"),
    );
    workspace.write("plan.yaml", &plan);
    let finished = workspace.run(["plan", "plan.yaml", "--format", "json"]);
    finished.assert_code(0);
    let report = finished.json();
    let phase = &report["phases"][0];
    // Concurrency 4 and no `needs`, but db's three 1m tasks take 3m in a row.
    assert_eq!(phase["critical_path_s"], 180);
    assert_eq!(phase["forecast_s"], 180);
    assert_eq!(
        phase["serialised"],
        serde_json::json!([{"group": "db", "tasks": ["db1", "db2", "db3"], "estimate_s": 180}])
    );
    assert_eq!(phase["tasks"][0]["exclusive"], serde_json::json!(["db"]));
    assert_eq!(
        phase["tasks"][3]["exclusive"],
        serde_json::json!(["executor/cluster"])
    );
    assert_eq!(phase["tasks"][2]["forecast_start_s"], 120);

    let markdown = workspace.run(["plan", "plan.yaml"]);
    markdown.assert_code(0);
    assert!(
        markdown.stdout.contains(
            "- Serialised by `db`: `db1`, `db2`, `db3` run one at a time, whatever the concurrency (3m of estimates in a row)"
        ),
        "{}",
        markdown.stdout
    );
    assert!(markdown.stdout.contains("`k1` in `executor/cluster`"));

    let explained = workspace.run(["explain", "plan.yaml", "k1", "--format", "json"]);
    explained.assert_code(0);
    let setting = explained.json()["settings"]
        .as_array()
        .expect("settings")
        .iter()
        .find(|s| s["key"] == "exclusive")
        .cloned()
        .expect("an `exclusive` setting");
    assert_eq!(setting["value"], "executor/cluster");
    assert_eq!(setting["from"], "executor `cluster` (`exclusive: true`)");
}
