//! Feeds arbitrary bytes to the plan loader, as `plangate validate` reads a
//! file: the loader must never panic, and every diagnostic must point inside
//! the file and render. See docs/fuzzing.md.

#![no_main]

use std::path::PathBuf;

use libfuzzer_sys::fuzz_target;
use plangate_plans::{SourceFile, parse_plan};

fuzz_target!(|data: &[u8]| {
    // `load_plan` refuses a file that is not UTF-8 before parsing it.
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let source = SourceFile::new("fuzz.yaml", text);
    let Err(diagnostics) = parse_plan(source, PathBuf::from(".")) else {
        return;
    };
    assert!(
        !diagnostics.is_empty(),
        "an invalid plan without a diagnostic"
    );
    let source = diagnostics.source();
    for diagnostic in diagnostics.items() {
        let Some(span) = diagnostic.span else {
            continue;
        };
        let line = source.line(span.line).unwrap_or_else(|| {
            panic!(
                "`{}` at line {} of {}",
                diagnostic.message,
                span.line,
                source.line_count()
            )
        });
        assert!(
            span.column >= 1 && span.column <= line.chars().count() + 1,
            "`{}` at {}:{} of a line of {} characters",
            diagnostic.message,
            span.line,
            span.column,
            line.chars().count()
        );
    }
    let _ = diagnostics.render();
});
