//! Secrets in a service's environment: which variables hold one, and the masking of their
//! values wherever ward would show what a service wrote (its log lines, its `STATUS=`
//! text, the argv in the audit trail). ward itself never shows an environment value; this
//! keeps a service from leaking its own through ward.

use std::borrow::Cow;

/// The shortest value that is masked: a shorter one would mask ordinary text everywhere
/// (a `PORT_KEY = "1"` would blank every `1` of the log) and hides next to nothing.
pub const MIN_LEN: usize = 4;

/// Whether variable `name` holds a secret: its name ends in `_TOKEN` or `_KEY`, holds
/// `PASSWORD`, `PASSWD` or `SECRET` (in any case), or `secret_env` names it.
pub fn is_secret(name: &str, secret_env: &[String]) -> bool {
    let upper = name.to_ascii_uppercase();
    upper.ends_with("_TOKEN")
        || upper.ends_with("_KEY")
        || upper.contains("PASSWORD")
        || upper.contains("PASSWD")
        || upper.contains("SECRET")
        || secret_env.iter().any(|s| s == name)
}

/// Masks the values of one environment's secrets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Redactor {
    /// The values and their masks, longest value first, so a secret that contains
    /// another is masked whole.
    secrets: Vec<(Vec<u8>, Vec<u8>)>,
}

impl Redactor {
    /// The redactor of `env`; `None` when it holds no secret long enough to mask.
    pub fn of<'a>(
        env: impl IntoIterator<Item = (&'a str, &'a str)>,
        secret_env: &[String],
    ) -> Option<Redactor> {
        let mut secrets: Vec<(Vec<u8>, Vec<u8>)> = env
            .into_iter()
            .filter(|(k, v)| v.len() >= MIN_LEN && is_secret(k, secret_env))
            .map(|(k, v)| {
                (
                    v.as_bytes().to_vec(),
                    format!("[redacted {k}]").into_bytes(),
                )
            })
            .collect();
        if secrets.is_empty() {
            return None;
        }
        secrets.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then_with(|| a.0.cmp(&b.0)));
        secrets.dedup_by(|a, b| a.0 == b.0);
        Some(Redactor { secrets })
    }

    /// `bytes` with every secret value replaced by `[redacted NAME]`; borrowed when it
    /// holds none.
    pub fn bytes<'b>(&self, bytes: &'b [u8]) -> Cow<'b, [u8]> {
        let mut text: Cow<'b, [u8]> = Cow::Borrowed(bytes);
        for (value, mask) in &self.secrets {
            if memchr::memmem::find(&text, value).is_none() {
                continue;
            }
            let mut out = Vec::with_capacity(text.len());
            let mut rest: &[u8] = &text;
            while let Some(at) = memchr::memmem::find(rest, value) {
                out.extend_from_slice(&rest[..at]);
                out.extend_from_slice(mask);
                rest = &rest[at + value.len()..];
            }
            out.extend_from_slice(rest);
            text = Cow::Owned(out);
        }
        text
    }

    /// An argv with every secret value masked in each word.
    pub fn args(&self, argv: &[String]) -> Vec<String> {
        argv.iter().map(|a| self.text(a).into_owned()).collect()
    }

    /// The same for text.
    pub fn text<'t>(&self, text: &'t str) -> Cow<'t, str> {
        match self.bytes(text.as_bytes()) {
            Cow::Borrowed(_) => Cow::Borrowed(text),
            // Values and masks are whole UTF-8 strings, so the result is UTF-8 too.
            Cow::Owned(b) => Cow::Owned(String::from_utf8_lossy(&b).into_owned()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_hold_secrets() {
        for name in [
            "API_TOKEN",
            "AWS_SECRET_ACCESS_KEY",
            "DB_PASSWORD",
            "pg_passwd",
            "ClientSecret",
            "STRIPE_KEY",
        ] {
            assert!(is_secret(name, &[]), "{name}");
        }
        for name in ["PATH", "KEYBOARD", "TOKENS_PER_SECOND", "PORT", "HOME"] {
            assert!(!is_secret(name, &[]), "{name}");
        }
        assert!(is_secret("DATABASE_URL", &["DATABASE_URL".into()]));
    }

    #[test]
    fn every_value_is_masked_longest_first_and_short_ones_are_left() {
        let r = Redactor::of(
            [
                ("API_TOKEN", "tok-123"),
                ("DB_PASSWORD", "tok-123-longer"),
                ("PIN_KEY", "123"),
                ("PORT", "8080"),
            ],
            &[],
        )
        .unwrap();
        assert_eq!(
            r.text("a tok-123-longer b tok-123 c tok-123 8080 123"),
            "a [redacted DB_PASSWORD] b [redacted API_TOKEN] c [redacted API_TOKEN] 8080 123"
        );
        assert!(matches!(r.text("nothing here"), Cow::Borrowed(_)));
        assert!(Redactor::of([("PORT", "8080"), ("A_KEY", "abc")], &[]).is_none());
    }
}
