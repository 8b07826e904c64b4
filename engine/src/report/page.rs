//! What the two HTML reports share: escaping, plangate's sentences as HTML,
//! the page frame with its inline style sheet (screen and print), budget
//! gauges and collapsible evidence.
//!
//! The pages are self-contained: no scripts, no fonts, no images or style
//! sheets from elsewhere, so a report opens the same offline, in a review
//! tool's sandbox or on paper.

use std::fmt::Write as _;

use plangate_plans::format_duration;

use super::schema::FORMAT_VERSION;

/// Escapes text for HTML element content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// plangate's own sentences in HTML: escaped, with each `code` span (the
/// Markdown convention of every message) in a `<code>` element. An unpaired
/// backtick stays as it is.
pub(crate) fn prose(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find('`') {
        let Some(length) = rest[start + 1..].find('`') else {
            break;
        };
        out.push_str(&escape(&rest[..start]));
        out.push_str("<code>");
        out.push_str(&escape(&rest[start + 1..start + 1 + length]));
        out.push_str("</code>");
        rest = &rest[start + length + 2..];
    }
    out.push_str(&escape(rest));
    out
}

/// Whole seconds as `1h30m`.
pub(crate) fn duration(seconds: u64) -> String {
    format_duration(std::time::Duration::from_secs(seconds))
}

/// A budget, or `none`.
pub(crate) fn optional_duration(seconds: Option<u64>) -> String {
    seconds.map_or_else(|| "none".to_owned(), duration)
}

const STYLE: &str = r#"
:root{--ink:#1f2933;--muted:#5f6b7a;--line:#d9dee5;--panel:#f7f8fa;--low:#2e8b57;--low-bg:#e4f4ea;--medium:#b7791f;--medium-bg:#fff3d6;--high:#c53030;--high-bg:#fde2e2;--accent:#2b6cb0}
*{box-sizing:border-box}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--ink);margin:0;background:#fff}
header.top{background:#1f2933;color:#fff;padding:1.2rem 2rem 1rem}
header.top h1{margin:0 0 .3rem;font-size:1.5rem;font-weight:650}
header.top p{margin:.2rem 0;color:#d5dbe3}
header.top code{background:#334155;color:#fff}
main{padding:0 2rem 2rem}
section{margin:1.4rem 0}
h2{font-size:1.15rem;margin:1.6rem 0 .6rem;padding-bottom:.25rem;border-bottom:2px solid var(--line)}
h3{font-size:1rem;margin:1rem 0 .4rem}
code{font:12.5px ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;background:#eef1f5;padding:0 .25rem;border-radius:3px;overflow-wrap:anywhere}
pre{font:12px/1.4 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;background:#f3f5f8;border:1px solid var(--line);border-radius:4px;padding:.5rem .7rem;white-space:pre-wrap;overflow-wrap:anywhere;margin:.4rem 0}
table{border-collapse:collapse;margin:.5rem 0 1rem;font-size:13px}
th,td{border-bottom:1px solid var(--line);padding:.35rem .6rem;text-align:left;vertical-align:top}
th{background:var(--panel);font-weight:600;white-space:nowrap}
td.num,th.num{text-align:right;white-space:nowrap}
.cards{display:flex;flex-wrap:wrap;gap:.8rem;margin:1rem 0}
.card{border:1px solid var(--line);border-radius:8px;padding:.6rem .9rem;min-width:7.5rem;background:var(--panel)}
.card b{display:block;font-size:1.45rem;line-height:1.2}
.card span{color:var(--muted);font-size:12px}
.card.low{border-left:5px solid var(--low)}.card.medium{border-left:5px solid var(--medium)}.card.high{border-left:5px solid var(--high)}
.facts{display:grid;grid-template-columns:max-content 1fr;gap:.15rem 1rem;margin:.6rem 0}
.facts dt{color:var(--muted)}.facts dd{margin:0}
.gauges{display:grid;grid-template-columns:repeat(auto-fill,minmax(300px,1fr));gap:.6rem 1.4rem}
.gauge{padding:.3rem 0}
.gauge .label{font-size:13px}
.gauge .label span{display:block;color:var(--muted);font-size:12px}
.gauge svg{display:block;width:100%;height:14px;margin-top:.2rem}
.gauge .track{fill:#e8ebf0}.gauge .fill{fill:var(--accent)}.gauge.over .fill{fill:var(--high)}.gauge.near .fill{fill:var(--medium)}.gauge.none .fill{fill:#9aa5b1}
.gauge .mark{stroke:var(--ink);stroke-width:2}
.scroll{overflow-x:auto;border:1px solid var(--line);border-radius:8px;background:#fcfcfd;padding:.4rem}
.legend{display:flex;flex-wrap:wrap;gap:.9rem;color:var(--muted);font-size:12px;margin:.3rem 0}
.legend i{display:inline-block;width:.9rem;height:.9rem;border-radius:3px;vertical-align:-2px;margin-right:.3rem;border:1.5px solid}
.legend i.low{background:var(--low-bg);border-color:var(--low)}.legend i.medium{background:var(--medium-bg);border-color:var(--medium)}.legend i.high{background:var(--high-bg);border-color:var(--high)}
.legend i.run{background:#4a78c2;border-color:#4a78c2}.legend i.verify{background:#2e8b57;border-color:#2e8b57}.legend i.rollback{background:#805ad5;border-color:#805ad5}.legend i.failed{background:#c53030;border-color:#c53030}.legend i.wait{background:#f0e0c0;border-color:#e0c890}.legend i.approval{background:#b7791f;border-color:#b7791f;transform:rotate(45deg) scale(.8)}
svg text{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
.dag .phase-band rect{fill:#f1f4f8;stroke:#dfe4ea}
.dag .phase-band text{font-size:12px;font-weight:600;fill:var(--muted)}
.dag .edges path{fill:none;stroke:#7a869a;stroke-width:1.3;opacity:.75}
.dag .node rect{stroke-width:1.6}
.dag .node .label{font:600 12px ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;fill:var(--ink)}
.dag .node .badge{font-size:10.5px;fill:var(--muted)}
.dag .risk-low rect{fill:var(--low-bg);stroke:var(--low)}.dag .risk-medium rect{fill:var(--medium-bg);stroke:var(--medium)}.dag .risk-high rect{fill:var(--high-bg);stroke:var(--high)}
.dag .inactive{opacity:.55}.dag .inactive rect{stroke-dasharray:5 3}
.dag .badge-needs-approval rect,.dag .badge-paused rect{stroke-width:3}
.dag .badge-blocked rect,.dag .badge-failed rect,.dag .badge-timed-out rect,.dag .badge-rollback-failed rect{stroke-width:3;stroke:var(--high)}
.dag .badge-rolled-back rect{stroke:#805ad5;stroke-width:3}
.dag .badge-needs-approval .badge,.dag .badge-deferred .badge{fill:var(--medium);font-weight:600}
.dag .badge-blocked .badge,.dag .badge-failed .badge,.dag .badge-timed-out .badge,.dag .badge-rollback-failed .badge{fill:var(--high);font-weight:600}
.dag .badge-succeeded .badge,.dag .badge-run .badge{fill:var(--low);font-weight:600}
.dag .badge-rolled-back .badge{fill:#805ad5;font-weight:600}
.gantt .grid line{stroke:#e5e8ed}.gantt .grid text,.gantt .axis text{font-size:11px;fill:var(--muted)}
.gantt .row-label{font:12px ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;fill:var(--ink)}
.gantt .phase-label{font-size:12px;font-weight:600;fill:var(--muted)}
.gantt .budget{fill:#2b6cb0;opacity:.07}.gantt .budget-end{stroke:#2b6cb0;stroke-dasharray:4 3;stroke-width:1.5}
.gantt .budget-label{font-size:10.5px;fill:#2b6cb0}
.gantt .bar{rx:2}.gantt .role-run{fill:#4a78c2}.gantt .role-verify{fill:#2e8b57}.gantt .role-rollback{fill:#805ad5}
.gantt .outcome-failed,.gantt .outcome-timed-out,.gantt .outcome-interrupted{fill:#c53030}
.gantt .approval{fill:#b7791f}.gantt .wait{fill:#b7791f;opacity:.22}.gantt .approval-line{stroke:#b7791f;stroke-dasharray:3 3}
.pill{display:inline-block;border-radius:999px;padding:0 .5rem;font-size:12px;font-weight:600;border:1px solid currentColor;white-space:nowrap}
.s-succeeded,.s-run,.s-yes{color:var(--low)}.s-failed,.s-timed-out,.s-blocked,.s-rollback-failed,.s-no,.s-interrupted{color:var(--high)}
.s-needs-approval,.s-paused,.s-deferred,.s-incomplete{color:var(--medium)}.s-excluded,.s-pending,.s-superseded{color:var(--muted)}.s-rolled-back{color:#805ad5}.s-running{color:var(--accent)}
.risk{font-weight:600}.risk.low{color:var(--low)}.risk.medium{color:var(--medium)}.risk.high{color:var(--high)}
details{border:1px solid var(--line);border-radius:6px;margin:.35rem 0;background:#fff}
details>summary{cursor:pointer;padding:.4rem .7rem;background:var(--panel);border-radius:6px}
details[open]>summary{border-bottom:1px solid var(--line);border-radius:6px 6px 0 0}
details>div{padding:.4rem .8rem .6rem}
.warning{color:#9c4221}
.error{color:var(--high)}
.muted{color:var(--muted)}
footer{color:var(--muted);font-size:12px;border-top:1px solid var(--line);padding:.8rem 2rem}
@media print{
 body{font-size:11px}
 header.top{background:none;color:var(--ink);padding:0 0 .5rem;border-bottom:2px solid var(--ink)}
 header.top p{color:var(--ink)}header.top code{background:#eef1f5;color:var(--ink)}
 main{padding:0}
 .scroll{overflow:visible;border:none;padding:0}
 .scroll svg{max-width:100%;height:auto}
 details{break-inside:avoid}
 details::details-content{content-visibility:visible;display:block}
 section,tr,.gauge{break-inside:avoid}
 footer{padding:.5rem 0}
}
"#;

/// The start of a page, up to and including the header band.
pub(crate) fn open(out: &mut String, title: &str, lines: &[String]) {
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><title>{}</title><style>{STYLE}</style></head><body>\n<header class=\"top\"><h1>{}</h1>\n",
        escape(title),
        escape(title)
    );
    for line in lines {
        let _ = writeln!(out, "<p>{line}</p>");
    }
    let _ = writeln!(out, "</header>\n<main>");
}

/// The end of a page: the footer names the JSON document's format version.
pub(crate) fn close(out: &mut String, what: &str) {
    let _ = writeln!(
        out,
        "</main>\n<footer>{} · rendered by plangate from the same model as <code>--format json</code> (format version {FORMAT_VERSION}) and <code>--format markdown</code></footer>\n</body></html>",
        prose(what)
    );
}

/// What a gauge measures.
pub(crate) struct Gauge<'a> {
    /// `Plan`, or the phase's name.
    pub(crate) title: &'a str,
    /// `forecast` or `used`.
    pub(crate) measure: &'a str,
    /// Seconds measured.
    pub(crate) value_s: u64,
    /// The budget, if any.
    pub(crate) budget_s: Option<u64>,
    /// A second figure drawn as a tick, e.g. the forecast on a used gauge.
    pub(crate) mark: Option<(&'a str, u64)>,
}

/// A budget gauge: a bar of `value` against `budget`, red when over it.
pub(crate) fn gauge(out: &mut String, gauge: &Gauge<'_>) {
    let Gauge {
        title,
        measure,
        value_s,
        budget_s,
        mark,
    } = *gauge;
    let mark_text = mark
        .map(|(label, s)| format!(", {label} {}", duration(s)))
        .unwrap_or_default();
    let (class, text, scale) = match budget_s {
        Some(budget) => {
            // A zero budget has no percentage: anything spent is over it.
            let percent = (budget > 0).then(|| value_s.saturating_mul(100).div_ceil(budget));
            let class = if value_s > budget {
                "over"
            } else if percent.is_some_and(|p| p >= 80) {
                "near"
            } else {
                "ok"
            };
            let over = if value_s > budget {
                " — over budget"
            } else {
                ""
            };
            (
                class,
                format!(
                    "{measure} {} of {} budget{}{mark_text}{over}",
                    duration(value_s),
                    duration(budget),
                    percent.map(|p| format!(" ({p}%)")).unwrap_or_default(),
                ),
                budget.max(value_s).max(mark.map_or(0, |(_, s)| s)),
            )
        }
        None => (
            "none",
            format!("{measure} {}, no budget{mark_text}", duration(value_s)),
            value_s.max(mark.map_or(0, |(_, s)| s)),
        ),
    };
    let width = |s: u64| {
        if scale == 0 {
            0.0
        } else {
            300.0 * float(s) / float(scale)
        }
    };
    let _ = write!(
        out,
        "<div class=\"gauge {class}\"><div class=\"label\"><strong>{}</strong><span>{}</span></div><svg viewBox=\"0 0 300 14\" preserveAspectRatio=\"none\" role=\"img\" aria-label=\"{}\"><rect class=\"track\" width=\"{:.1}\" height=\"14\" rx=\"3\"/><rect class=\"fill\" width=\"{:.1}\" height=\"14\" rx=\"3\"/>",
        escape(title),
        escape(&text),
        escape(&text),
        budget_s.map_or(300.0, width),
        width(value_s),
    );
    if let Some((_, s)) = mark {
        let x = width(s).clamp(1.0, 299.0);
        let _ = write!(
            out,
            "<line class=\"mark\" x1=\"{x:.1}\" x2=\"{x:.1}\" y1=\"0\" y2=\"14\"/>"
        );
    }
    let _ = writeln!(out, "</svg></div>");
}

/// A count or a number of milliseconds as a drawing coordinate.
#[expect(
    clippy::cast_precision_loss,
    reason = "coordinates: counts and spans in milliseconds stay far below 2^52, and a pixel is not exact anyway"
)]
pub(crate) fn float(n: impl Into<u64>) -> f64 {
    n.into() as f64
}

/// [`float`] for a `usize`.
pub(crate) fn float_usize(n: usize) -> f64 {
    float(u64::try_from(n).unwrap_or(u64::MAX))
}

/// A state or decision as a coloured pill.
pub(crate) fn pill(state: &str) -> String {
    format!(
        "<span class=\"pill s-{}\">{}</span>",
        escape(state),
        escape(state)
    )
}

/// A risk, coloured.
pub(crate) fn risk(risk: &str) -> String {
    format!(
        "<span class=\"risk {}\">{}</span>",
        escape(risk),
        escape(risk)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_spans_become_code_elements() {
        assert_eq!(
            prose("task `a<b>` needs `c` & more"),
            "task <code>a&lt;b&gt;</code> needs <code>c</code> &amp; more"
        );
        assert_eq!(prose("one ` alone"), "one ` alone");
        assert_eq!(prose("``"), "<code></code>");
    }

    #[test]
    fn a_gauge_over_its_budget_says_so() {
        let mut out = String::new();
        gauge(
            &mut out,
            &Gauge {
                title: "Plan",
                measure: "used",
                value_s: 150,
                budget_s: Some(120),
                mark: None,
            },
        );
        assert!(out.contains("class=\"gauge over\""), "{out}");
        assert!(
            out.contains("used 2m30s of 2m budget (125%) — over budget"),
            "{out}"
        );
    }
}
