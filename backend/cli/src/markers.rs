//! The markers a measured command prints on its standard output to mark the
//! steady state (`docs/measuring.md`): a line `jouleprint:begin` opens the
//! energy window, a line `jouleprint:end steps=N` closes it, `N` being the
//! steps run inside it. `tools/jouleprint_markers.py` prints them.
//!
//! Rules:
//! - A marker is a whole line (surrounding spaces and `\r` ignored) whose
//!   first word is `jouleprint:begin` or `jouleprint:end`; every other line,
//!   `jouleprint: ...` included, is the command's own output.
//! - `jouleprint:end` needs `steps=N`, a whole number of at least 1.
//! - Several windows (begin, end, begin, end, ...) are summed: their steps,
//!   their seconds and their energy, each window measured on its own. What
//!   runs between them (evaluation, checkpoints) is left out.
//! - An end before a begin, a begin inside an open window, a window the
//!   command never closes: errors; nothing is measured.
//! - No marker at all: the whole command is measured (start-up included) and
//!   the run is flagged `whole_command`.

/// Opens the window.
pub const BEGIN: &str = "jouleprint:begin";
/// Closes it: `jouleprint:end steps=N`.
pub const END: &str = "jouleprint:end";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Marker {
    Begin,
    End { steps: u64 },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MarkerError {
    #[error("line {line}: `jouleprint:end` needs the steps run inside the window: `jouleprint:end steps=N`")]
    MissingSteps { line: usize },
    #[error("line {line}: `{text}` is not a number of steps: `jouleprint:end steps=N` with N a whole number of at least 1")]
    BadSteps { line: usize, text: String },
    #[error(
        "line {line}: `{text}` is not a marker: use `jouleprint:begin` or `jouleprint:end steps=N`"
    )]
    Unknown { line: usize, text: String },
    #[error("line {line}: `jouleprint:end` before any `jouleprint:begin`")]
    EndBeforeBegin { line: usize },
    #[error("line {line}: `jouleprint:begin` inside the window opened on line {open}: close it with `jouleprint:end steps=N` first")]
    BeginInsideWindow { line: usize, open: usize },
    #[error("the command ended inside the window opened on line {open}: print `jouleprint:end steps=N` when the measured steps are done")]
    Unclosed { open: usize },
}

/// The marker on `line` (counted from 1), if it holds one.
pub fn parse_line(line: &str, n: usize) -> Option<Result<Marker, MarkerError>> {
    let mut words = line.split_whitespace();
    let first = words.next()?;
    if first == BEGIN {
        return Some(match words.next() {
            None => Ok(Marker::Begin),
            Some(w) => Err(MarkerError::Unknown {
                line: n,
                text: format!("{BEGIN} {w}"),
            }),
        });
    }
    if first != END {
        return None;
    }
    let Some(arg) = words.next() else {
        return Some(Err(MarkerError::MissingSteps { line: n }));
    };
    let Some(v) = arg.strip_prefix("steps=") else {
        return Some(Err(MarkerError::MissingSteps { line: n }));
    };
    Some(match v.parse::<u64>() {
        Ok(steps) if steps >= 1 && words.next().is_none() => Ok(Marker::End { steps }),
        _ => Err(MarkerError::BadSteps {
            line: n,
            text: v.to_string(),
        }),
    })
}

/// What a marker does to the windows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Open,
    Close { steps: u64 },
}

/// The windows' state as markers arrive.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Windows {
    /// The line of the open window's begin.
    open: Option<usize>,
    /// Steps of each closed window.
    pub closed: Vec<u64>,
}

impl Windows {
    /// Take the marker of line `n`.
    pub fn feed(&mut self, n: usize, m: Marker) -> Result<Step, MarkerError> {
        match (m, self.open) {
            (Marker::Begin, None) => {
                self.open = Some(n);
                Ok(Step::Open)
            }
            (Marker::Begin, Some(open)) => Err(MarkerError::BeginInsideWindow { line: n, open }),
            (Marker::End { .. }, None) => Err(MarkerError::EndBeforeBegin { line: n }),
            (Marker::End { steps }, Some(_)) => {
                self.open = None;
                self.closed.push(steps);
                Ok(Step::Close { steps })
            }
        }
    }

    /// The command has ended: the steps of every window (empty: no markers).
    pub fn finish(&self) -> Result<&[u64], MarkerError> {
        match self.open {
            Some(open) => Err(MarkerError::Unclosed { open }),
            None => Ok(&self.closed),
        }
    }
}

/// The windows a whole output marks: the steps of each (empty: no markers).
pub fn windows_of(text: &str) -> Result<Vec<u64>, MarkerError> {
    let mut w = Windows::default();
    for (i, line) in text.lines().enumerate() {
        if let Some(m) = parse_line(line, i + 1) {
            w.feed(i + 1, m?)?;
        }
    }
    w.finish().map(<[u64]>::to_vec)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn begin_and_end() {
        let out = "loading\nwarm-up\njouleprint:begin\nstep 1\nstep 2\njouleprint:end steps=200\nsaving\n";
        assert_eq!(windows_of(out), Ok(vec![200]));
        // Spaces and a carriage return around a marker are ignored.
        assert_eq!(
            windows_of("  jouleprint:begin\r\n\tjouleprint:end   steps=3 \r\n"),
            Ok(vec![3])
        );
    }

    #[test]
    fn steps_missing_or_wrong() {
        assert_eq!(
            windows_of("jouleprint:begin\njouleprint:end\n"),
            Err(MarkerError::MissingSteps { line: 2 })
        );
        assert_eq!(
            windows_of("jouleprint:begin\njouleprint:end 200\n"),
            Err(MarkerError::MissingSteps { line: 2 })
        );
        for bad in ["0", "-3", "2.5", "many", ""] {
            assert_eq!(
                windows_of(&format!("jouleprint:begin\njouleprint:end steps={bad}\n")),
                Err(MarkerError::BadSteps {
                    line: 2,
                    text: bad.into()
                }),
                "{bad}"
            );
        }
        assert!(matches!(
            windows_of("jouleprint:begin now\n"),
            Err(MarkerError::Unknown { line: 1, .. })
        ));
    }

    #[test]
    fn end_before_begin_and_unbalanced_windows() {
        assert_eq!(
            windows_of("x\njouleprint:end steps=5\njouleprint:begin\n"),
            Err(MarkerError::EndBeforeBegin { line: 2 })
        );
        assert_eq!(
            windows_of("jouleprint:begin\njouleprint:begin\n"),
            Err(MarkerError::BeginInsideWindow { line: 2, open: 1 })
        );
        assert_eq!(
            windows_of("a\njouleprint:begin\nstep\n"),
            Err(MarkerError::Unclosed { open: 2 })
        );
    }

    #[test]
    fn several_windows_are_summed_by_the_caller() {
        let out = "jouleprint:begin\njouleprint:end steps=100\neval\njouleprint:begin\njouleprint:end steps=50\n";
        assert_eq!(windows_of(out), Ok(vec![100, 50]));
    }

    #[test]
    fn no_markers_and_lookalikes() {
        assert_eq!(windows_of("epoch 1\nloss 2.3\n"), Ok(vec![]));
        assert_eq!(windows_of(""), Ok(vec![]));
        // Only the two exact words are markers.
        let out = "jouleprint: estimating\nrun jouleprint:begin later\njouleprint:beginning\n";
        assert_eq!(windows_of(out), Ok(vec![]));
    }
}
