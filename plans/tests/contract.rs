//! `docs/plan-format.md` is a copy of the shared contract (`plan-format.md`,
//! which outside checks and users rely on). Where the shared file sits
//! beside the checkout (`../shared/plan-format.md`, as in CI), the two must
//! be the same; a clone without it has nothing to compare.

use std::path::Path;

#[test]
fn docs_plan_format_is_the_shared_contract() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the plans crate sits in the workspace");
    let shared = root.join("../shared/plan-format.md");
    let Ok(contract) = std::fs::read_to_string(&shared) else {
        return;
    };
    let copy = std::fs::read_to_string(root.join("docs/plan-format.md"))
        .expect("docs/plan-format.md is in the repository");
    assert!(
        copy == contract,
        "docs/plan-format.md differs from {}: copy the shared contract over it (and adapt the code to what changed)",
        shared.display()
    );
}
