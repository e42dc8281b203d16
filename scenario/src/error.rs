//! What went wrong in a scenario file, and where: `file:line:column: message`.
//!
//! The reader collects every problem it can find (not just the first), each
//! with the byte offset it points at; this module turns offsets into
//! 1-based line and column numbers (columns count characters, not bytes).

use std::fmt;
use std::path::PathBuf;

/// One problem at one place in a scenario file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// 1-based line; 0 for a problem that is not in the file but in a
    /// `--set` override (the message names it).
    pub line: usize,
    /// 1-based column, in characters; on line 0, the override's 1-based
    /// position among the `--set`s.
    pub column: usize,
    /// What was found and what was expected.
    pub message: String,
}

/// Why a scenario could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// The file could not be read at all.
    #[error("{}: cannot read the scenario file: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The file was read but is not a valid scenario; every problem found,
    /// in file order.
    #[error("{}", Problems { file, problems })]
    Invalid {
        file: String,
        problems: Vec<Problem>,
    },
}

impl ScenarioError {
    /// The problems of an invalid file (empty for a read error).
    pub fn problems(&self) -> &[Problem] {
        match self {
            ScenarioError::Read { .. } => &[],
            ScenarioError::Invalid { problems, .. } => problems,
        }
    }
}

/// Displays problems one per line, as compilers do, so editors can jump to
/// them.
struct Problems<'a> {
    file: &'a str,
    problems: &'a [Problem],
}

impl fmt::Display for Problems<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.problems.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            if p.line == 0 {
                write!(f, "{}: {}", self.file, p.message)?;
            } else {
                write!(f, "{}:{}:{}: {}", self.file, p.line, p.column, p.message)?;
            }
        }
        if self.problems.len() > 1 {
            write!(f, "\n{}: {} problems", self.file, self.problems.len())?;
        }
        Ok(())
    }
}

/// 1-based line and column (in characters) of byte `offset` in `text`.
/// Offsets past the end or inside a character are clamped to a valid place.
pub fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_become_lines_and_columns() {
        let text = "a = 1\nbé = 2\n";
        assert_eq!(line_column(text, 0), (1, 1));
        assert_eq!(line_column(text, 4), (1, 5));
        assert_eq!(line_column(text, 6), (2, 1));
        // 'é' is two bytes but one column.
        assert_eq!(line_column(text, 9), (2, 3));
        // Inside a character and past the end are clamped.
        assert_eq!(line_column(text, 8), (2, 2));
        assert_eq!(line_column(text, 999), (3, 1));
    }

    #[test]
    fn display_names_file_line_and_column() {
        let e = ScenarioError::Invalid {
            file: "x.toml".into(),
            problems: vec![
                Problem {
                    line: 12,
                    column: 9,
                    message: "bad".into(),
                },
                Problem {
                    line: 13,
                    column: 1,
                    message: "worse".into(),
                },
            ],
        };
        assert_eq!(
            e.to_string(),
            "x.toml:12:9: bad\nx.toml:13:1: worse\nx.toml: 2 problems"
        );
    }
}
