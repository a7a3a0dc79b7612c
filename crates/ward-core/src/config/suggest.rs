//! "Did you mean …?" for misspelt keys and values.

/// The candidate closest to `word`, if it is close enough to be a likely typo.
///
/// Comparison ignores ASCII case and treats `-` and `_` alike, so `Always` suggests `always`
/// and `stop-signal` suggests `stop_signal`. Short words allow one edit, longer ones two.
pub(crate) fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let word = normalize(word);
    let limit = if word.len() <= 3 { 1 } else { 2 };
    candidates
        .into_iter()
        .map(|c| (distance(&word, &normalize(c)), c))
        .filter(|&(d, _)| d <= limit)
        .min_by_key(|&(d, _)| d)
        .map(|(_, c)| c)
}

/// A hint naming the closest candidate, or else listing them all.
pub(crate) fn hint_for(word: &str, candidates: &[&str]) -> String {
    match did_you_mean(word, candidates.iter().copied()) {
        Some(best) => format!("did you mean `{best}`?"),
        None => format!("expected one of {}", list(candidates)),
    }
}

/// `` `a`, `b`, `c` `` for messages.
pub(crate) fn list(items: &[&str]) -> String {
    items
        .iter()
        .map(|i| format!("`{i}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn normalize(s: &str) -> Vec<char> {
    s.chars()
        .map(|c| match c.to_ascii_lowercase() {
            '-' => '_',
            c => c,
        })
        .collect()
}

/// Optimal string alignment distance: Levenshtein plus swaps of adjacent characters.
fn distance(a: &[char], b: &[char]) -> usize {
    let width = b.len() + 1;
    let mut d = vec![0usize; (a.len() + 1) * width];
    for i in 0..=a.len() {
        d[i * width] = i;
    }
    for (j, cell) in d.iter_mut().enumerate().take(width) {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[(i - 1) * width + j] + 1)
                .min(d[i * width + j - 1] + 1)
                .min(d[(i - 1) * width + j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[(i - 2) * width + j - 2] + 1);
            }
            d[i * width + j] = best;
        }
    }
    d[a.len() * width + b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dist(a: &str, b: &str) -> usize {
        distance(&normalize(a), &normalize(b))
    }

    #[test]
    fn distances() {
        assert_eq!(dist("", ""), 0);
        assert_eq!(dist("abc", ""), 3);
        assert_eq!(dist("comand", "command"), 1);
        assert_eq!(dist("evn", "env"), 1);
        assert_eq!(dist("kitten", "sitting"), 3);
        assert_eq!(dist("Stop-Signal", "stop_signal"), 0);
    }

    #[test]
    fn suggests_close_words_only() {
        let keys = ["command", "cwd", "env", "restart"];
        assert_eq!(did_you_mean("comand", keys), Some("command"));
        assert_eq!(did_you_mean("commnd", keys), Some("command"));
        assert_eq!(did_you_mean("evn", keys), Some("env"));
        assert_eq!(did_you_mean("restat", keys), Some("restart"));
        assert_eq!(did_you_mean("xyz", keys), None);
        assert_eq!(did_you_mean("sometimes", ["always", "on-failure"]), None);
        assert_eq!(did_you_mean("Always", ["always", "never"]), Some("always"));
    }

    #[test]
    fn hints() {
        assert_eq!(
            hint_for("nevr", &["always", "never"]),
            "did you mean `never`?"
        );
        assert_eq!(
            hint_for("zzz", &["always", "never"]),
            "expected one of `always`, `never`"
        );
    }
}
