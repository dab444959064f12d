//! The log's outcome words are an operator API: README's "Log outcomes" table lists exactly
//! the words of `Outcome::ALL`, in order, and each word is spelled once.

use gather_seal::outcome::Outcome;

/// The first column of the table under README's "## Log outcomes".
fn readme_outcomes() -> Vec<String> {
    let readme = include_str!("../README.md");
    let section = readme
        .split("\n## Log outcomes\n")
        .nth(1)
        .expect("README has a Log outcomes section");
    let section = section.split("\n## ").next().unwrap_or(section);
    let table = section
        .split("| outcome | what happened |")
        .nth(1)
        .expect("the section has the outcome table");
    table
        .lines()
        .skip(2)
        .take_while(|line| line.starts_with('|'))
        .map(|line| {
            let first = line.split('|').nth(1).unwrap_or("").trim();
            first.trim_matches('`').to_owned()
        })
        .collect()
}

#[test]
fn readme_lists_exactly_the_outcomes_the_worker_logs() {
    let words: Vec<&str> = Outcome::ALL.iter().map(|o| o.as_str()).collect();
    assert_eq!(readme_outcomes(), words);
}

#[test]
fn each_outcome_is_its_own_word() {
    let mut words: Vec<&str> = Outcome::ALL.iter().map(|o| o.as_str()).collect();
    assert!(words
        .iter()
        .all(|w| !w.is_empty() && w.bytes().all(|b| b.is_ascii_lowercase() || b == b'-')));
    words.sort_unstable();
    words.dedup();
    assert_eq!(words.len(), Outcome::ALL.len(), "a word is spelled twice");
}
