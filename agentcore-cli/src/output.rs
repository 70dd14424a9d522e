//! Printing data: JSON, tables and tab-separated text; times; what the terminal allows.

use std::io::{IsTerminal, Write};
use std::time::SystemTime;

use crate::cli::OutputFormat;
use crate::error::Result;

/// Rows of data with a header, printed as a table or as tab-separated text.
#[derive(Debug, Default)]
pub struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these column names.
    pub fn new(header: &[&str]) -> Self {
        Self {
            header: header.iter().map(|h| (*h).to_owned()).collect(),
            rows: Vec::new(),
        }
    }

    /// Adds a row.
    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    /// The table as text: aligned columns under an upper-case header (`table`), or
    /// tab-separated rows without one (`text`).
    pub fn render(&self, format: OutputFormat) -> String {
        let mut out = String::new();
        if format == OutputFormat::Text {
            for row in &self.rows {
                out.push_str(&row.join("\t"));
                out.push('\n');
            }
            return out;
        }
        let mut widths: Vec<usize> = self.header.iter().map(|h| h.chars().count()).collect();
        for row in &self.rows {
            for (i, cell) in row.iter().enumerate() {
                let n = cell.chars().count();
                match widths.get_mut(i) {
                    Some(w) => *w = (*w).max(n),
                    None => widths.push(n),
                }
            }
        }
        let line = |cells: &[String], out: &mut String| {
            let mut s = String::new();
            for (i, cell) in cells.iter().enumerate() {
                let last = i + 1 == cells.len();
                if last {
                    s.push_str(cell);
                } else {
                    let w = widths.get(i).copied().unwrap_or(0);
                    s.push_str(&format!("{cell:<w$}  "));
                }
            }
            out.push_str(s.trim_end());
            out.push('\n');
        };
        let header: Vec<String> = self.header.iter().map(|h| h.to_uppercase()).collect();
        line(&header, &mut out);
        for row in &self.rows {
            line(row, &mut out);
        }
        out
    }
}

/// Key–value pairs of one object, printed as two columns (`table`), `key\tvalue` lines
/// (`text`).
pub fn fields(pairs: &[(&str, String)], format: OutputFormat) -> String {
    let mut out = String::new();
    let width = pairs.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    for (k, v) in pairs {
        if format == OutputFormat::Text {
            out.push_str(&format!("{k}\t{v}\n"));
        } else {
            out.push_str(&format!("{k:<width$}  {v}\n"));
        }
    }
    out
}

/// Prints `value` as pretty JSON on stdout.
pub fn print_json(value: &impl serde::Serialize) -> Result<()> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| crate::error::CliError::new(format!("cannot print JSON: {e}")))?;
    print_stdout(&format!("{text}\n"))
}

/// Writes to stdout; a closed pipe (`| head`) is not an error.
pub fn print_stdout(text: &str) -> Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}

/// The exit code when stdout was closed by its reader (`| head`): what a shell reports for a
/// program killed by SIGPIPE (128 + 13), without a message.
pub const EXIT_STDOUT_CLOSED: u8 = 141;

/// Writes streamed output and flushes it. `Ok(false)`: the reader closed the pipe (stop, as
/// a program killed by SIGPIPE would); any other failure (a full disk) is an error, so no
/// output is lost without a word.
pub fn stream(out: &mut impl Write, bytes: &[u8]) -> Result<bool> {
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(false),
        Err(e) => Err(crate::error::CliError::from(e).context("writing the output")),
    }
}

/// A time as RFC 3339, seconds precision, UTC.
pub fn time(t: SystemTime) -> String {
    humantime::format_rfc3339_seconds(t).to_string()
}

/// Whether colour may be used on stdout: a terminal, `NO_COLOR` unset, `TERM` not `dumb`.
pub fn color_on_stdout() -> bool {
    std::io::stdout().is_terminal() && decorations_allowed()
}

/// Whether progress bars and live boards may be drawn (on stderr): a terminal, `NO_COLOR`
/// unset, `TERM` not `dumb`.
pub fn progress_allowed() -> bool {
    std::io::stderr().is_terminal() && decorations_allowed()
}

/// Whether colour may be used on stderr (logs): a terminal, `NO_COLOR` unset, `TERM` not
/// `dumb`.
pub fn decorations_allowed_on_stderr() -> bool {
    std::io::stderr().is_terminal() && decorations_allowed()
}

fn decorations_allowed() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        && std::env::var("TERM").map_or(true, |t| t != "dumb")
}

/// A status word, green when it is good and red when it failed, when colour is allowed.
pub fn status_word(status: &str, color: bool) -> String {
    if !color {
        return status.to_owned();
    }
    let code = if status.ends_with("FAILED") {
        "31"
    } else if status == "READY" || status == "COMPLETED" {
        "32"
    } else {
        "33"
    };
    format!("\x1b[{code}m{status}\x1b[0m")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_and_text_is_tab_separated() {
        let mut t = Table::new(&["name", "status"]);
        t.row(vec!["coder".into(), "READY".into()]);
        t.row(vec!["a_longer_name".into(), "CREATING".into()]);
        assert_eq!(
            t.render(OutputFormat::Table),
            "NAME           STATUS\ncoder          READY\na_longer_name  CREATING\n"
        );
        assert_eq!(
            t.render(OutputFormat::Text),
            "coder\tREADY\na_longer_name\tCREATING\n"
        );
    }

    #[test]
    fn colour_only_when_asked() {
        assert_eq!(status_word("READY", false), "READY");
        assert!(status_word("CREATE_FAILED", true).contains("31m"));
    }
}
