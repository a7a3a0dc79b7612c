//! The query of a `GET` that reads (`/v1/why?name=web&run=2`): decoded with the URL
//! standard's form encoding, each parameter checked, and every mistake answered `400`
//! with the parameter named.

use crate::requests::ApiError;

/// A request's query, decoded.
pub(crate) struct Query {
    endpoint: &'static str,
    pairs: Vec<(String, String)>,
}

impl Query {
    /// Decodes `query` for `GET /v1/ENDPOINT`, which takes the parameters in `known`.
    pub fn parse(query: &str, endpoint: &'static str, known: &[&str]) -> Result<Query, ApiError> {
        let pairs: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        if let Some((unknown, _)) = pairs.iter().find(|(k, _)| !known.contains(&k.as_str())) {
            return Err(ApiError::new(
                400,
                format!("unknown parameter `{unknown}` in the query of GET /v1/{endpoint}"),
                Some(format!("the parameters are: {}", known.join(", "))),
            ));
        }
        Ok(Query { endpoint, pairs })
    }

    /// The parameter's value, when given.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// `name`, which must be given.
    pub fn name(&self) -> Result<String, ApiError> {
        match self.get("name") {
            Some(n) if !n.is_empty() => Ok(n.to_string()),
            _ => Err(ApiError::new(
                400,
                format!("GET /v1/{} needs `name` in its query", self.endpoint),
                Some(format!("ask for GET /v1/{}?name=UNIT", self.endpoint)),
            )),
        }
    }

    /// A whole number parameter within `min..=max`, when given.
    pub fn number(&self, key: &str, min: u32, max: u32) -> Result<Option<u32>, ApiError> {
        let Some(text) = self.get(key) else {
            return Ok(None);
        };
        match text.parse::<u32>() {
            Ok(n) if (min..=max).contains(&n) => Ok(Some(n)),
            _ => Err(ApiError::new(
                400,
                format!(
                    "`{key}={text}` in the query of GET /v1/{}: not a whole number from {min} to {max}",
                    self.endpoint
                ),
                None,
            )),
        }
    }

    /// A yes-or-no parameter: `true`, `1`, `false`, `0`; absent is no.
    pub fn flag(&self, key: &str) -> Result<bool, ApiError> {
        match self.get(key) {
            None | Some("false" | "0") => Ok(false),
            Some("true" | "1" | "") => Ok(true),
            Some(other) => Err(ApiError::new(
                400,
                format!(
                    "`{key}={other}` in the query of GET /v1/{}: say true or false",
                    self.endpoint
                ),
                None,
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_are_decoded_and_checked_by_name() {
        let q = Query::parse(
            "name=web%2E1&run=2&follow",
            "why",
            &["name", "run", "follow"],
        )
        .unwrap();
        assert_eq!(q.name().unwrap(), "web.1");
        assert_eq!(q.number("run", 1, 9).unwrap(), Some(2));
        assert!(q.flag("follow").unwrap());
        assert_eq!(q.number("limit", 1, 9).unwrap(), None);
        let bad = Query::parse("nmae=web", "why", &["name"]).err().unwrap();
        assert!(bad.body.error.contains("unknown parameter `nmae`"));
        let q = Query::parse("run=0&name=", "why", &["name", "run"]).unwrap();
        assert!(q.name().unwrap_err().body.error.contains("needs `name`"));
        assert!(
            q.number("run", 1, 9)
                .unwrap_err()
                .body
                .error
                .contains("`run=0`")
        );
        let q = Query::parse("follow=maybe", "logs", &["follow"]).unwrap();
        assert!(q.flag("follow").is_err());
    }
}
