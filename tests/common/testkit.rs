//! What the data-file harnesses share (tests/data/README.md says the formats): reading a
//! folder of case files, and each file's header of `key: value` lines, ended by a blank line.

use std::collections::HashMap;
use std::path::Path;

/// The files of `tests/data/<folder>/`, sorted by name, as (file name, text); `skip` names
/// files that are not cases.
pub fn data_files(folder: &str, skip: &[&str]) -> Vec<(String, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(folder);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.map(|e| e.path()).unwrap_or_else(|e| panic!("{e}")))
        .filter(|path| {
            path.file_name()
                .is_some_and(|n| !skip.iter().any(|s| n == *s))
        })
        .collect();
    files.sort();
    files
        .iter()
        .map(|path| {
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let text =
                std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            (name, text)
        })
        .collect()
}

/// A case file's header and what follows its blank line. Each header line is `key: value`, the
/// key one of `known` and given once. `Err` says what is wrong and on which line (`3: …`).
pub fn header<'a>(
    text: &'a str,
    known: &[&str],
) -> Result<(HashMap<&'a str, &'a str>, &'a str), String> {
    let (head, rest) = text
        .split_once("\n\n")
        .ok_or("1: no blank line after the header")?;
    let mut values = HashMap::new();
    for (index, line) in head.lines().enumerate() {
        let at = index + 1;
        let (key, value) = line
            .split_once(": ")
            .ok_or_else(|| format!("{at}: header line {line:?} is not `key: value`"))?;
        if !known.contains(&key) {
            return Err(format!("{at}: unknown header key {key:?}"));
        }
        if values.insert(key, value).is_some() {
            return Err(format!("{at}: {key} given twice"));
        }
    }
    Ok((values, rest))
}

/// The header's `key`, which must be there.
pub fn needed<'a>(values: &HashMap<&str, &'a str>, key: &str) -> Result<&'a str, String> {
    values
        .get(key)
        .copied()
        .ok_or_else(|| format!("1: the header has no {key}"))
}
