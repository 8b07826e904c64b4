//! Unified diffs for previews: reading `kubectl diff`'s output object by
//! object, and computing one between two renderings of an object (Helm
//! revisions, dry-run results), with Secret values masked.

use std::collections::BTreeMap;

use serde_json::Value;

use super::object::restorable;

/// Lines of context around each change.
const CONTEXT: usize = 3;

/// Above this many cells, the line-matching table would be too large: the
/// diff then replaces every old line by every new one.
const MAX_TABLE_CELLS: usize = 4_000_000;

/// The output of `kubectl diff` run with `KUBECTL_EXTERNAL_DIFF="diff -u -N"`,
/// one unified diff per object, keyed by the name kubectl gives the object's
/// file (see [`ObjectRef::diff_file_name`](super::ObjectRef::diff_file_name)).
///
/// The temporary folders and timestamps of the file headers are replaced by
/// `live/NAME` and `merged/NAME`, so a diff reads the same on every run.
pub(crate) fn parse_kubectl_diff(output: &str) -> BTreeMap<String, String> {
    let mut diffs = BTreeMap::new();
    let mut current: Option<(String, String)> = None;
    for line in output.lines() {
        if let Some(header) = line.strip_prefix("diff ") {
            if let Some((name, text)) = current.take() {
                diffs.insert(name, text);
            }
            let name = header
                .rsplit('/')
                .next()
                .unwrap_or(header)
                .trim()
                .to_owned();
            current = Some((name, String::new()));
            continue;
        }
        let Some((name, text)) = current.as_mut() else {
            continue;
        };
        if line.starts_with("--- ") && text.is_empty() {
            text.push_str(&format!("--- live/{name}\n"));
        } else if line.starts_with("+++ ") && text.lines().count() == 1 {
            text.push_str(&format!("+++ merged/{name}\n"));
        } else {
            text.push_str(line);
            text.push('\n');
        }
    }
    if let Some((name, text)) = current {
        diffs.insert(name, text);
    }
    diffs
}

/// A unified diff from `old` to `new` with three lines of context, or
/// `None` when they are equal.
pub(crate) fn unified_diff(old: &str, new: &str, old_name: &str, new_name: &str) -> Option<String> {
    if old == new {
        return None;
    }
    let old_lines: Vec<&str> = old.lines().collect();
    let new_lines: Vec<&str> = new.lines().collect();
    let opcodes = opcodes(&old_lines, &new_lines);
    let mut out = format!("--- {old_name}\n+++ {new_name}\n");
    for group in grouped(opcodes) {
        let (first, last) = (group[0], group[group.len() - 1]);
        out.push_str(&format!(
            "@@ -{} +{} @@\n",
            range(first.old.0, last.old.1),
            range(first.new.0, last.new.1)
        ));
        for code in group {
            match code.tag {
                Tag::Equal => {
                    for line in &old_lines[code.old.0..code.old.1] {
                        out.push_str(&format!(" {line}\n"));
                    }
                }
                Tag::Change => {
                    for line in &old_lines[code.old.0..code.old.1] {
                        out.push_str(&format!("-{line}\n"));
                    }
                    for line in &new_lines[code.new.0..code.new.1] {
                        out.push_str(&format!("+{line}\n"));
                    }
                }
            }
        }
    }
    Some(out)
}

/// `START,COUNT` of a hunk, in the unified format's conventions.
fn range(start: usize, stop: usize) -> String {
    match stop - start {
        0 => format!("{start},0"),
        1 => format!("{}", start + 1),
        length => format!("{},{length}", start + 1),
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tag {
    Equal,
    Change,
}

/// A run of equal lines, or of old lines replaced by new ones (either side
/// may be empty).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Opcode {
    tag: Tag,
    old: (usize, usize),
    new: (usize, usize),
}

/// The runs turning `old` into `new`, from a longest common subsequence of
/// lines.
fn opcodes(old: &[&str], new: &[&str]) -> Vec<Opcode> {
    let matches = matching_lines(old, new);
    let mut codes = Vec::new();
    let (mut i, mut j) = (0, 0);
    let mut index = 0;
    while index < matches.len() {
        let (mi, mj) = matches[index];
        if mi > i || mj > j {
            codes.push(Opcode {
                tag: Tag::Change,
                old: (i, mi),
                new: (j, mj),
            });
        }
        let mut length = 1;
        while index + length < matches.len()
            && matches[index + length] == (mi + length, mj + length)
        {
            length += 1;
        }
        codes.push(Opcode {
            tag: Tag::Equal,
            old: (mi, mi + length),
            new: (mj, mj + length),
        });
        i = mi + length;
        j = mj + length;
        index += length;
    }
    if i < old.len() || j < new.len() {
        codes.push(Opcode {
            tag: Tag::Change,
            old: (i, old.len()),
            new: (j, new.len()),
        });
    }
    codes
}

/// Pairs of equal lines `(old index, new index)` of a longest common
/// subsequence, in order; none when the table would be too large.
fn matching_lines(old: &[&str], new: &[&str]) -> Vec<(usize, usize)> {
    let (n, m) = (old.len(), new.len());
    if n.saturating_mul(m) > MAX_TABLE_CELLS {
        return Vec::new();
    }
    // lengths[i][j]: the longest common subsequence of old[i..] and new[j..].
    let width = m + 1;
    let mut lengths = vec![0_u32; (n + 1) * width];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lengths[i * width + j] = if old[i] == new[j] {
                lengths[(i + 1) * width + j + 1] + 1
            } else {
                lengths[(i + 1) * width + j].max(lengths[i * width + j + 1])
            };
        }
    }
    let mut pairs = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < n && j < m {
        if old[i] == new[j] {
            pairs.push((i, j));
            i += 1;
            j += 1;
        } else if lengths[(i + 1) * width + j] >= lengths[i * width + j + 1] {
            i += 1;
        } else {
            j += 1;
        }
    }
    pairs
}

/// The opcodes cut into hunks with [`CONTEXT`] lines of context around each
/// change (Python's `difflib.get_grouped_opcodes`).
fn grouped(mut codes: Vec<Opcode>) -> Vec<Vec<Opcode>> {
    let n = CONTEXT;
    if let Some(first) = codes.first_mut().filter(|code| code.tag == Tag::Equal) {
        first.old.0 = first.old.0.max(first.old.1.saturating_sub(n));
        first.new.0 = first.new.0.max(first.new.1.saturating_sub(n));
    }
    if let Some(last) = codes.last_mut().filter(|code| code.tag == Tag::Equal) {
        last.old.1 = last.old.1.min(last.old.0 + n);
        last.new.1 = last.new.1.min(last.new.0 + n);
    }
    let mut groups = Vec::new();
    let mut group = Vec::new();
    for mut code in codes {
        if code.tag == Tag::Equal && code.old.1 - code.old.0 > 2 * n {
            group.push(Opcode {
                tag: Tag::Equal,
                old: (code.old.0, code.old.1.min(code.old.0 + n)),
                new: (code.new.0, code.new.1.min(code.new.0 + n)),
            });
            groups.push(std::mem::take(&mut group));
            code.old.0 = code.old.0.max(code.old.1 - n);
            code.new.0 = code.new.0.max(code.new.1 - n);
        }
        group.push(code);
    }
    if !(group.is_empty() || group.len() == 1 && group[0].tag == Tag::Equal) {
        groups.push(group);
    }
    groups.retain(|group| group.iter().any(|code| code.tag == Tag::Change));
    groups
}

/// Replaces the values of a Secret's `data` and `stringData` in both
/// versions, as `kubectl diff` does: `***` where they are equal, `*** (before)`
/// and `*** (after)` where they differ. Other kinds are left alone.
pub(crate) fn mask_secret_data(before: &mut Value, after: &mut Value) {
    let is_secret = |object: &Value| object["kind"] == "Secret";
    if !is_secret(before) && !is_secret(after) {
        return;
    }
    for field in ["data", "stringData"] {
        let old = before.get(field).cloned().unwrap_or(Value::Null);
        let new = after.get(field).cloned().unwrap_or(Value::Null);
        for (object, other, marker) in [
            (&mut *before, &new, "*** (before)"),
            (&mut *after, &old, "*** (after)"),
        ] {
            if let Some(map) = object.get_mut(field).and_then(Value::as_object_mut) {
                for (key, value) in map.iter_mut() {
                    let changed = other.get(key) != Some(&*value);
                    *value = Value::String(if changed { marker } else { "***" }.to_owned());
                }
            }
        }
    }
}

/// A unified diff of two versions of an object, rendered as YAML, without
/// what the server owns and with Secret values masked; `None` when equal.
/// `Value::Null` stands for an absent object.
pub(crate) fn object_diff(
    before: &Value,
    after: &Value,
    old_name: &str,
    new_name: &str,
) -> Option<String> {
    let mut before = restorable(before);
    let mut after = restorable(after);
    mask_secret_data(&mut before, &mut after);
    let render = |value: &Value| match value {
        Value::Null => String::new(),
        value => serde_yaml::to_string(value).unwrap_or_else(|_| value.to_string()),
    };
    unified_diff(&render(&before), &render(&after), old_name, new_name)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn equal_texts_have_no_diff() {
        assert_eq!(unified_diff("a\nb\n", "a\nb\n", "old", "new"), None);
    }

    #[test]
    fn a_change_in_the_middle_gets_three_lines_of_context() {
        let old = "1\n2\n3\n4\n5\n6\n7\n8\n9\n";
        let new = "1\n2\n3\n4\nfive\n6\n7\n8\n9\n";
        assert_eq!(
            unified_diff(old, new, "live/x", "merged/x").expect("differs"),
            "--- live/x\n+++ merged/x\n@@ -2,7 +2,7 @@\n 2\n 3\n 4\n-5\n+five\n 6\n 7\n 8\n"
        );
    }

    #[test]
    fn far_apart_changes_make_two_hunks_and_creation_one() {
        let old = (1..=20)
            .map(|i| i.to_string())
            .collect::<Vec<_>>()
            .join("\n")
            + "\n";
        let new: String = old
            .lines()
            .map(|line| match line {
                "2" => "two\n".to_owned(),
                "19" => "nineteen\n".to_owned(),
                other => format!("{other}\n"),
            })
            .collect();
        let diff = unified_diff(&old, &new, "a", "b").expect("differs");
        assert_eq!(diff.matches("@@ -").count(), 2, "{diff}");
        assert!(
            diff.contains("@@ -1,5 +1,5 @@\n 1\n-2\n+two\n 3\n"),
            "{diff}"
        );
        assert!(diff.contains("-19\n+nineteen\n 20\n"), "{diff}");
        assert_eq!(
            unified_diff("", "a\nb\n", "a", "b").expect("differs"),
            "--- a\n+++ b\n@@ -0,0 +1,2 @@\n+a\n+b\n"
        );
        assert_eq!(
            unified_diff("a\n", "", "a", "b").expect("differs"),
            "--- a\n+++ b\n@@ -1 +0,0 @@\n-a\n"
        );
    }

    #[test]
    fn kubectl_diff_output_is_split_by_object() {
        let output = "\
diff -u -N /tmp/LIVE-1/apps.v1.Deployment.demo.web /tmp/MERGED-2/apps.v1.Deployment.demo.web
--- /tmp/LIVE-1/apps.v1.Deployment.demo.web\t2026-01-01 00:00:00.0 +0000
+++ /tmp/MERGED-2/apps.v1.Deployment.demo.web\t2026-01-01 00:00:00.0 +0000
@@ -0,0 +1,2 @@
+apiVersion: apps/v1
+kind: Deployment
diff -u -N /tmp/LIVE-1/v1.ConfigMap.demo.web-config /tmp/MERGED-2/v1.ConfigMap.demo.web-config
--- /tmp/LIVE-1/v1.ConfigMap.demo.web-config\t2026-01-01 00:00:00.0 +0000
+++ /tmp/MERGED-2/v1.ConfigMap.demo.web-config\t2026-01-01 00:00:00.0 +0000
@@ -1,3 +1,3 @@
 data:
-  A: x
+  A: y
";
        let diffs = parse_kubectl_diff(output);
        assert_eq!(
            diffs.keys().collect::<Vec<_>>(),
            [
                "apps.v1.Deployment.demo.web",
                "v1.ConfigMap.demo.web-config"
            ]
        );
        assert_eq!(
            diffs["v1.ConfigMap.demo.web-config"],
            "--- live/v1.ConfigMap.demo.web-config\n+++ merged/v1.ConfigMap.demo.web-config\n@@ -1,3 +1,3 @@\n data:\n-  A: x\n+  A: y\n"
        );
        assert!(parse_kubectl_diff("").is_empty());
    }

    #[test]
    fn secret_values_are_masked() {
        let mut before = json!({"kind": "Secret", "data": {"same": "YQ==", "changed": "Yg=="}});
        let mut after =
            json!({"kind": "Secret", "data": {"same": "YQ==", "changed": "Yw==", "new": "ZA=="}});
        mask_secret_data(&mut before, &mut after);
        assert_eq!(
            before,
            json!({"kind": "Secret", "data": {"same": "***", "changed": "*** (before)"}})
        );
        assert_eq!(
            after,
            json!({"kind": "Secret", "data": {"same": "***", "changed": "*** (after)", "new": "*** (after)"}})
        );
        let mut config = json!({"kind": "ConfigMap", "data": {"a": "b"}});
        let mut other = config.clone();
        mask_secret_data(&mut config, &mut other);
        assert_eq!(config, json!({"kind": "ConfigMap", "data": {"a": "b"}}));
    }
}
