//! Reading input files safely: the spec and every template file it names.
//!
//! Every file novactl reads as input must be a regular file (not a directory, device, FIFO or
//! socket: `/dev/zero` as a policy path must fail at once, not fill memory), at most
//! [`MAX_FILE_BYTES`] long, and UTF-8 text. A file is read through a bounded reader, so a file
//! that grows while it is read cannot exceed the limit either.

use std::io::Read;
use std::path::Path;

/// Largest spec or template file novactl reads (1 MiB). Real specs and templates are a few
/// kilobytes; the largest document AWS takes from a template (a dashboard body) is 1 MB.
pub const MAX_FILE_BYTES: u64 = 1024 * 1024;

/// Deepest nesting of mappings and sequences a spec may have. The contract's deepest key is 5
/// levels down (`sagemaker.endpoints.<n>.autoscaling.min`); `vars` may nest further.
pub const MAX_DEPTH: usize = 64;

/// At most this many errors are printed for one run (in file order); the rest are counted.
pub const MAX_ERRORS: usize = 25;

/// Why an input file could not be read; `line`/`col` locate invalid UTF-8.
#[derive(Debug, Clone)]
pub struct ReadError {
    pub message: String,
    pub line: Option<usize>,
    pub col: Option<usize>,
}

impl ReadError {
    fn plain(message: String) -> ReadError {
        ReadError {
            message,
            line: None,
            col: None,
        }
    }
}

/// Reads `path` as UTF-8 text, refusing what is not a regular file, what is larger than
/// [`MAX_FILE_BYTES`], and invalid UTF-8 (located at the first bad byte).
pub fn read_text(path: &Path) -> Result<String, ReadError> {
    decode(path, read_bytes(path)?)
}

/// Reads the spec from standard input (`-e -`), with the same limits as a file.
pub fn read_stdin() -> Result<String, ReadError> {
    let shown = Path::new("<stdin>");
    let mut bytes = Vec::new();
    std::io::stdin()
        .lock()
        .take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| ReadError::plain(format!("cannot read the spec from stdin: {e}")))?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(too_large(shown, bytes.len() as u64));
    }
    decode(shown, bytes)
}

fn decode(path: &Path, mut bytes: Vec<u8>) -> Result<String, ReadError> {
    // A UTF-8 byte-order mark (some Windows editors write one) is no part of the text.
    if bytes.starts_with(b"\xef\xbb\xbf") {
        bytes.drain(..3);
    }
    String::from_utf8(bytes).map_err(|e| {
        let bytes = e.as_bytes();
        let at = e.utf8_error().valid_up_to();
        let before = &bytes[..at];
        let line = before.iter().filter(|b| **b == b'\n').count() + 1;
        let line_start = before
            .iter()
            .rposition(|b| *b == b'\n')
            .map_or(0, |i| i + 1);
        let col = String::from_utf8_lossy(&before[line_start..])
            .chars()
            .count()
            + 1;
        ReadError {
            message: format!(
                "{} is not UTF-8 text: byte 0x{:02x} at line {line}, column {col} is not valid \
                 UTF-8 (save the file as UTF-8)",
                path.display(),
                bytes[at]
            ),
            line: Some(line),
            col: Some(col),
        }
    })
}

/// Reads at most [`MAX_FILE_BYTES`] of a regular file.
pub fn read_bytes(path: &Path) -> Result<Vec<u8>, ReadError> {
    // Checked before opening: opening a FIFO for reading blocks until a writer comes.
    let meta = std::fs::metadata(path)
        .map_err(|e| ReadError::plain(format!("cannot read {}: {e}", path.display())))?;
    if !meta.is_file() {
        let what = if meta.is_dir() {
            "a directory"
        } else {
            "not a regular file (a device, FIFO or socket)"
        };
        return Err(ReadError::plain(format!(
            "{} is {what}; novactl reads specs and templates only from regular files",
            path.display()
        )));
    }
    if meta.len() > MAX_FILE_BYTES {
        return Err(too_large(path, meta.len()));
    }
    let file = std::fs::File::open(path)
        .map_err(|e| ReadError::plain(format!("cannot read {}: {e}", path.display())))?;
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| ReadError::plain(format!("cannot read {}: {e}", path.display())))?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(too_large(path, bytes.len() as u64));
    }
    Ok(bytes)
}

fn too_large(path: &Path, len: u64) -> ReadError {
    ReadError::plain(format!(
        "{} is larger than {} bytes ({len} bytes or more); novactl reads specs and templates of \
         at most 1 MiB",
        path.display(),
        MAX_FILE_BYTES
    ))
}

/// Is this plain (unquoted) YAML scalar a number that is not finite: `.nan`, `.inf`, `-.inf`
/// (any case YAML allows), or a literal too large for a double (`1e999`)?
pub fn non_finite(plain: &str) -> bool {
    let unsigned = plain.strip_prefix(['+', '-']).unwrap_or(plain);
    if matches!(
        unsigned,
        ".nan" | ".NaN" | ".NAN" | ".inf" | ".Inf" | ".INF"
    ) {
        return true;
    }
    let numeric = unsigned.starts_with(|c: char| c.is_ascii_digit() || c == '.')
        && unsigned
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '+' | '-' | '_'));
    numeric && plain.parse::<f64>().is_ok_and(|f| !f.is_finite())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_finite_numbers_are_recognised() {
        for s in [".nan", ".NaN", ".inf", "-.inf", "+.INF", "1e999", "-1e400"] {
            assert!(non_finite(s), "{s}");
        }
        for s in [
            "nan", "inf", "1.5", "1e10", "0.05", "-3", "infinity", "text", "",
        ] {
            assert!(!non_finite(s), "{s}");
        }
    }

    #[test]
    fn devices_directories_and_large_files_are_refused() {
        let e = read_text(Path::new("/dev/zero")).unwrap_err();
        assert!(e.message.contains("not a regular file"), "{}", e.message);
        let e = read_text(Path::new("/tmp")).unwrap_err();
        assert!(e.message.contains("a directory"), "{}", e.message);
        let dir = tempfile::tempdir().unwrap();
        let big = dir.path().join("big.yaml");
        std::fs::write(&big, vec![b'#'; MAX_FILE_BYTES as usize + 1]).unwrap();
        let e = read_text(&big).unwrap_err();
        assert!(e.message.contains("larger than"), "{}", e.message);
    }

    #[test]
    fn invalid_utf8_is_located() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("bad.yaml");
        std::fs::write(&f, b"environment: prod\nregion: us-\xffeast-1\n").unwrap();
        let e = read_text(&f).unwrap_err();
        assert_eq!((e.line, e.col), (Some(2), Some(12)), "{}", e.message);
        assert!(e.message.contains("0xff"), "{}", e.message);
    }
}
