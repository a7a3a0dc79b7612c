//! `env_file`: the dotenv files a service's environment is read from, and their syntax.
//!
//! The syntax is what docker compose and systemd's `EnvironmentFile=` both accept, without
//! expansion: `KEY=VALUE` per line, an optional `export ` before the key, blank lines and
//! lines starting with `#` ignored. A value may be unquoted (trimmed, ending at ` #`),
//! `'single quoted'` (literal) or `"double quoted"` (with `\n`, `\t`, `\"`, `\\` and `\$`).
//! Nothing is expanded: `$HOME` is the five characters. Written by hand: the crates for
//! it expand variables or accept more than this, and a file ward refuses must say where.

use std::path::Path;

/// A problem in a dotenv file, at its line (from 1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DotenvError {
    /// The line.
    pub line: usize,
    /// What is wrong there.
    pub message: String,
}

/// Reads `KEY=VALUE` lines.
pub fn parse(text: &str) -> Result<Vec<(String, String)>, DotenvError> {
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let err = |message: String| DotenvError { line, message };
        let trimmed = raw.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let body = trimmed
            .strip_prefix("export ")
            .unwrap_or(trimmed)
            .trim_start();
        let Some((key, rest)) = body.split_once('=') else {
            return Err(err(format!(
                "`{}` is not KEY=VALUE",
                super::tables::shorten(trimmed)
            )));
        };
        let key = key.trim_end();
        if !crate::expand::is_name(key) {
            return Err(err(format!(
                "invalid environment variable name `{}`",
                super::tables::shorten(key)
            )));
        }
        if super::tables::RESERVED_ENV.contains(&key) {
            return Err(err(format!(
                "`{key}` is set by ward and cannot be overridden"
            )));
        }
        let value = value(rest.trim_start()).map_err(err)?;
        out.push((key.to_string(), value));
    }
    Ok(out)
}

fn value(rest: &str) -> Result<String, String> {
    if let Some(inner) = rest.strip_prefix('\'') {
        let Some(end) = inner.find('\'') else {
            return Err("unterminated single quote".into());
        };
        trailing(&inner[end + 1..])?;
        return Ok(inner[..end].to_string());
    }
    if let Some(inner) = rest.strip_prefix('"') {
        let mut out = String::new();
        let mut chars = inner.char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '"' => {
                    trailing(&inner[i + 1..])?;
                    return Ok(out);
                }
                '\\' => match chars.next() {
                    Some((_, 'n')) => out.push('\n'),
                    Some((_, 't')) => out.push('\t'),
                    Some((_, c @ ('"' | '\\' | '$'))) => out.push(c),
                    Some((_, c)) => {
                        out.push('\\');
                        out.push(c);
                    }
                    None => break,
                },
                c => out.push(c),
            }
        }
        return Err("unterminated double quote".into());
    }
    let end = rest.find(" #").unwrap_or(rest.len());
    Ok(rest[..end].trim_end().to_string())
}

/// After a closing quote: only blanks or a comment.
fn trailing(after: &str) -> Result<(), String> {
    let after = after.trim_start();
    if after.is_empty() || after.starts_with('#') {
        Ok(())
    } else {
        // The text is part of a value, which may be a secret: it is not repeated.
        Err("text after the closing quote; quote the whole value".into())
    }
}

/// A service's environment with its `env_file`s read in: the files in order (a later one
/// wins), then `env` over them. `read` is the caller's way to the file system.
pub fn merge(
    files: &[std::path::PathBuf],
    env: &std::collections::BTreeMap<String, String>,
    mut read: impl FnMut(&Path) -> Result<String, String>,
) -> Result<std::collections::BTreeMap<String, String>, String> {
    let mut out = std::collections::BTreeMap::new();
    for file in files {
        let text = read(file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
        let pairs =
            parse(&text).map_err(|e| format!("{}:{}: {}", file.display(), e.line, e.message))?;
        out.extend(pairs);
    }
    out.extend(env.iter().map(|(k, v)| (k.clone(), v.clone())));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_compose_and_systemd_read() {
        let text = "# a comment\n\nA=1\nexport B = two words \nC='lit $HOME # not a comment'\n\
                    D=\"x\\ny \\\"q\\\" \\$Z\"\nE=plain # a comment\nF=\n";
        let got = parse(text).unwrap();
        let want: Vec<(String, String)> = [
            ("A", "1"),
            ("B", "two words"),
            ("C", "lit $HOME # not a comment"),
            ("D", "x\ny \"q\" $Z"),
            ("E", "plain"),
            ("F", ""),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn errors_name_the_line() {
        let e = |t: &str| parse(t).unwrap_err();
        assert_eq!(e("A=1\nnot a pair\n").line, 2);
        assert!(e("A=1\nnot a pair\n").message.contains("is not KEY=VALUE"));
        assert!(
            e("1A=x")
                .message
                .contains("invalid environment variable name")
        );
        assert!(e("A='x").message.contains("unterminated single quote"));
        assert!(e("A=\"x").message.contains("unterminated double quote"));
        assert!(e("A='x' y").message.contains("after the closing quote"));
        assert!(e("WARD_UNIT=x").message.contains("is set by ward"));
    }

    #[test]
    fn env_wins_over_files_and_later_files_over_earlier() {
        let files = ["/a".into(), "/b".into()];
        let env = [("K".to_string(), "config".to_string())].into();
        let merged = merge(&files, &env, |p| {
            Ok(if p == Path::new("/a") {
                "K=a\nX=a\nY=a\n".into()
            } else {
                "X=b\n".into()
            })
        })
        .unwrap();
        assert_eq!(merged["K"], "config");
        assert_eq!(merged["X"], "b");
        assert_eq!(merged["Y"], "a");
        let bad = merge(&files, &env, |_| Ok("oops\n".into())).unwrap_err();
        assert_eq!(bad, "/a:1: `oops` is not KEY=VALUE");
    }
}
