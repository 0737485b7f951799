//! "Did you mean ...?" for every place novactl names a valid choice: a suggestion is offered
//! only when it is close (a typo, a case slip), never the least-bad of unrelated words.

/// How alike two words must be (Jaro-Winkler, case-insensitive) for one to be suggested.
const CLOSE: f64 = 0.8;

/// The candidate closest to `value`, when it is close enough to be a likely typo.
pub fn nearest<'a>(value: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let v = value.to_lowercase();
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(&v, &c.to_lowercase()), c))
        .filter(|(score, _)| *score >= CLOSE)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

/// ` (did you mean `x`?)` or nothing.
pub fn did_you_mean<'a>(value: &str, candidates: impl IntoIterator<Item = &'a str>) -> String {
    nearest(value, candidates)
        .map(|n| format!(" (did you mean `{n}`?)"))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATS: [&str; 5] = ["SampleCount", "Average", "Sum", "Minimum", "Maximum"];

    #[test]
    fn close_words_are_suggested_far_ones_are_not() {
        let cases: &[(&str, Option<&str>, &str)] = &[
            ("p99", None, "a percentile is nothing like SampleCount"),
            ("xyz", None, "unrelated"),
            ("Maximun", Some("Maximum"), "one letter wrong"),
            ("average", Some("Average"), "case slip"),
            ("sampelcount", Some("SampleCount"), "swapped letters"),
            ("Max", Some("Maximum"), "a prefix"),
        ];
        for (value, want, reason) in cases {
            assert_eq!(nearest(value, STATS), *want, "{value}: {reason}");
        }
        assert_eq!(
            nearest("kms_kye", ["name", "kms_key", "tags"]),
            Some("kms_key")
        );
        assert_eq!(nearest("bucket_name", ["name", "kms_key", "tags"]), None);
        assert_eq!(did_you_mean("p99", STATS), "");
    }
}
