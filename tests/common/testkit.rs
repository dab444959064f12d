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

/// One refused setting from `tests/data/config/` or `tests/data/relays/`: a file per case, a
/// header of `key: value` lines, a blank line, then the setting's text exactly as given (less
/// one final newline):
///
/// - `why:` what is wrong with it, in words;
/// - `path:` and `problem:` the `SettingError` it must be refused with;
/// - `marker:` (when the bad value can be told apart from the message's own words) a piece of
///   the text that must not come back in the error, in any case.
pub struct SettingCase {
    pub file: String,
    pub why: String,
    pub path: String,
    pub problem: String,
    pub marker: Option<String>,
    pub text: String,
}

/// Every case under `tests/data/<folder>/`, by file name; `skip` names files that are not cases.
pub fn setting_cases(folder: &str, skip: &[&str]) -> Vec<SettingCase> {
    data_files(folder, skip)
        .into_iter()
        .map(|(file, content)| setting_case(file, &content))
        .collect()
}

fn setting_case(file: String, content: &str) -> SettingCase {
    let known = ["why", "path", "problem", "marker"];
    let (values, text) = header(content, &known).unwrap_or_else(|e| panic!("{file}:{e}"));
    let need = |key: &str| {
        needed(&values, key)
            .unwrap_or_else(|e| panic!("{file}:{e}"))
            .to_owned()
    };
    SettingCase {
        why: need("why"),
        path: need("path"),
        problem: need("problem"),
        marker: values.get("marker").map(|m| (*m).to_owned()),
        text: text.strip_suffix('\n').unwrap_or(text).to_owned(),
        file,
    }
}

/// What is wrong with `case`'s outcome, if anything: accepted, another path or problem, shown
/// otherwise than `setting <path>: <problem>`, or the marker repeated in the error.
pub fn setting_misses<T>(
    case: &SettingCase,
    outcome: Result<T, gather_seal::SettingError>,
) -> Option<String> {
    let e = match outcome {
        Ok(_) => return Some("accepted".to_owned()),
        Err(e) => e,
    };
    let shown = e.to_string();
    if (e.setting.as_str(), e.problem) != (case.path.as_str(), case.problem.as_str()) {
        return Some(format!(
            "got {:?} / {:?}, expected {:?} / {:?}",
            e.setting, e.problem, case.path, case.problem
        ));
    }
    if shown != format!("setting {}: {}", case.path, case.problem) {
        return Some(format!("shown as {shown:?}"));
    }
    let marker = case.marker.as_deref()?;
    (super::leaks(&shown, marker, 5) || super::leaks(&format!("{e:?}"), marker, 5))
        .then(|| format!("{shown:?} repeats {marker:?}"))
}
