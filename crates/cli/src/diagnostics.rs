//! Renders scenario diagnostics with miette: file, line, column, a pointer at
//! the text, and a hint.

use std::fmt;
use std::io::IsTerminal;

use chokepoint_scenario::{Diagnostic, Severity, line_col};
use miette::{GraphicalReportHandler, GraphicalTheme, LabeledSpan, NamedSource};

#[derive(Debug)]
struct Rendered<'a> {
    diagnostic: &'a Diagnostic,
    source: NamedSource<String>,
    location: Option<String>,
}

impl fmt::Display for Rendered<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.location {
            Some(at) => write!(f, "{at}: {}", self.diagnostic.message),
            None => write!(f, "{}", self.diagnostic.message),
        }
    }
}

impl std::error::Error for Rendered<'_> {}

impl miette::Diagnostic for Rendered<'_> {
    fn severity(&self) -> Option<miette::Severity> {
        Some(match self.diagnostic.severity {
            Severity::Error => miette::Severity::Error,
            Severity::Warning => miette::Severity::Warning,
        })
    }

    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.diagnostic
            .help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        self.diagnostic
            .span
            .as_ref()
            .map(|_| &self.source as &dyn miette::SourceCode)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        let span = self.diagnostic.span.clone()?;
        let label = LabeledSpan::new(
            Some(
                self.diagnostic
                    .label
                    .clone()
                    .unwrap_or_else(|| "here".into()),
            ),
            span.start,
            span.len(),
        );
        Some(Box::new(std::iter::once(label)))
    }
}

/// Renders every diagnostic, in order, as text for stderr. Colours only when
/// stderr is a terminal and `NO_COLOR` is not set.
pub fn render(path: &str, source: &str, diagnostics: &[Diagnostic]) -> String {
    let colour = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let theme = if colour {
        GraphicalTheme::unicode()
    } else {
        GraphicalTheme::unicode_nocolor()
    };
    let handler = GraphicalReportHandler::new_themed(theme).with_width(100);
    let mut out = String::new();
    for d in diagnostics {
        let location = d.span.as_ref().map(|s| {
            let (line, col) = line_col(source, s.start);
            format!("{path}:{line}:{col}")
        });
        let rendered = Rendered {
            diagnostic: d,
            source: NamedSource::new(path, source.to_owned()),
            location,
        };
        if handler.render_report(&mut out, &rendered).is_err() {
            out.push_str(&format!("{rendered}\n"));
        }
        out.push('\n');
    }
    let errors = diagnostics.iter().filter(|d| d.is_error()).count();
    let warnings = diagnostics.len() - errors;
    if errors > 0 {
        out.push_str(&format!(
            "{path}: {errors} error(s), {warnings} warning(s)\n"
        ));
    }
    out
}
