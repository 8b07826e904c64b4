//! Small text helpers shared by messages: ticked lists, plurals, suggestions.

/// `` `a` ``, `` `a` and `b` ``, `` `a`, `b` and `c` ``; long lists end in `and N more`.
pub fn and_ticked<I, S>(items: I) -> String
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    const SHOWN: usize = 16;
    let items: Vec<String> = items
        .into_iter()
        .map(|item| format!("`{}`", item.as_ref()))
        .collect();
    match items.len() {
        0 => String::new(),
        1 => items[0].clone(),
        n if n > SHOWN => format!("{} and {} more", items[..SHOWN].join(", "), n - SHOWN),
        n => format!("{} and {}", items[..n - 1].join(", "), items[n - 1]),
    }
}

/// `1 task`, `2 tasks`.
pub fn plural(count: usize, singular: &str, plural: &str) -> String {
    if count == 1 {
        format!("{count} {singular}")
    } else {
        format!("{count} {plural}")
    }
}

/// The candidate closest to `word` by edit distance, when it is close enough to be a typo.
pub fn did_you_mean<'a, I>(word: &str, candidates: I) -> Option<&'a str>
where
    I: IntoIterator<Item = &'a str>,
{
    candidates
        .into_iter()
        .map(|candidate| (levenshtein(word, candidate), candidate))
        .filter(|(distance, candidate)| {
            *distance <= (word.chars().count().max(candidate.chars().count()) / 3).max(1)
        })
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| candidate)
}

fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != *cb);
            current[j + 1] = substitution.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        previous = current;
    }
    previous[b.len()]
}

/// Quotes one argument for display the way a POSIX shell would read it back.
pub fn shell_quote(argument: &str) -> String {
    let safe = !argument.is_empty()
        && argument
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=@%+,".contains(c));
    if safe {
        argument.to_owned()
    } else {
        format!("'{}'", argument.replace('\'', "'\\''"))
    }
}

/// Quotes and joins an argv for display.
pub fn shell_join<S: AsRef<str>>(argv: &[S]) -> String {
    argv.iter()
        .map(|a| shell_quote(a.as_ref()))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_read_naturally() {
        assert_eq!(and_ticked(["a"]), "`a`");
        assert_eq!(and_ticked(["a", "b", "c"]), "`a`, `b` and `c`");
        assert_eq!(plural(1, "task", "tasks"), "1 task");
        assert_eq!(plural(3, "task", "tasks"), "3 tasks");
    }

    #[test]
    fn quotes_like_a_shell() {
        assert_eq!(
            shell_join(&["echo", "a b", "it's", "", "x=1"]),
            r"echo 'a b' 'it'\''s' '' x=1"
        );
    }

    #[test]
    fn suggests_close_words_only() {
        assert_eq!(
            did_you_mean("retires", ["retries", "rollback"]),
            Some("retries")
        );
        assert_eq!(did_you_mean("zzz", ["retries", "rollback"]), None);
    }
}
