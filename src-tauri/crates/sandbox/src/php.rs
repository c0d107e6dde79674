//! PHP `http_build_query` / `parse_str` syntax: `fields[TITLE]=x&select[]=ID&filter[%3Eid]=5`.
//!
//! Keys and values are URL-decoded PHP-style (`+` is a space, `%2B` is a plus) before the
//! brackets are split. The result is a JSON value whose leaves are strings.

use serde_json::{Map, Value};

/// Decodes one `application/x-www-form-urlencoded` component the way PHP's `urldecode` does.
pub fn url_decode(s: &str) -> String {
    let replaced = s.replace('+', " ");
    percent_encoding::percent_decode_str(&replaced)
        .decode_utf8_lossy()
        .into_owned()
}

/// Parses a whole query string into a JSON object.
pub fn parse_query(q: &str) -> Value {
    let mut root = Value::Object(Map::new());
    for pair in q.split('&') {
        if pair.is_empty() {
            continue;
        }
        let (k, v) = match pair.split_once('=') {
            Some((k, v)) => (url_decode(k), url_decode(v)),
            None => (url_decode(pair), String::new()),
        };
        insert(&mut root, &k, Value::String(v));
    }
    root
}

/// Splits `a[b][][c]` into `["a", "b", "", "c"]`. Text after an unclosed bracket stays in the key.
fn split_key(key: &str) -> Vec<String> {
    let Some(open) = key.find('[') else {
        return vec![key.to_string()];
    };
    if open == 0 {
        return vec![key.to_string()];
    }
    let mut parts = vec![key[..open].to_string()];
    let mut rest = &key[open..];
    while let Some(stripped) = rest.strip_prefix('[') {
        let Some(close) = stripped.find(']') else {
            break;
        };
        parts.push(stripped[..close].to_string());
        rest = &stripped[close + 1..];
    }
    parts
}

fn insert(root: &mut Value, key: &str, value: Value) {
    let parts = split_key(key);
    let mut cur = root;
    for (i, part) in parts.iter().enumerate() {
        let last = i + 1 == parts.len();
        if !cur.is_object() {
            *cur = Value::Object(Map::new());
        }
        let Value::Object(map) = cur else {
            return; // just made it an object
        };
        let name = if part.is_empty() {
            next_index(map).to_string()
        } else {
            part.clone()
        };
        if last {
            map.insert(name, value);
            return;
        }
        cur = map.entry(name).or_insert_with(|| Value::Object(Map::new()));
    }
}

fn next_index(map: &Map<String, Value>) -> usize {
    map.keys()
        .filter_map(|k| k.parse::<usize>().ok())
        .map(|n| n + 1)
        .max()
        .unwrap_or(0)
}

/// Turns objects whose keys are exactly `0..n` into arrays, recursively (PHP lists).
pub fn listify(v: Value) -> Value {
    match v {
        Value::Object(map) => {
            let is_list = !map.is_empty()
                && map
                    .keys()
                    .enumerate()
                    .all(|(i, k)| k.parse::<usize>().ok() == Some(i));
            if is_list {
                Value::Array(map.into_iter().map(|(_, v)| listify(v)).collect())
            } else {
                Value::Object(map.into_iter().map(|(k, v)| (k, listify(v))).collect())
            }
        }
        Value::Array(a) => Value::Array(a.into_iter().map(listify).collect()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn brackets_build_nested_objects_and_lists() {
        let v = listify(parse_query(
            "entityTypeId=2&select[]=id&select[]=title&filter[%3Eid]=5&order[id]=ASC",
        ));
        assert_eq!(
            v,
            json!({"entityTypeId":"2","select":["id","title"],"filter":{">id":"5"},"order":{"id":"ASC"}})
        );
    }

    #[test]
    fn encoded_plus_is_plus_and_raw_plus_is_space() {
        let v = parse_query("a=%2B7%20999&b=+7+999");
        assert_eq!(v, json!({"a":"+7 999","b":" 7 999"}));
    }

    #[test]
    fn fully_encoded_brackets_are_the_same_key() {
        let a = parse_query("filter%5B%3Eid%5D=1");
        let b = parse_query("filter[>id]=1");
        assert_eq!(a, b);
    }

    #[test]
    fn deep_multifield_keys_parse() {
        let v = listify(parse_query(
            "fields[fm][n0][typeId]=PHONE&fields[fm][n0][value]=%2B71234",
        ));
        assert_eq!(
            v,
            json!({"fields":{"fm":{"n0":{"typeId":"PHONE","value":"+71234"}}}})
        );
    }

    #[test]
    fn indexed_lists_become_arrays() {
        let v = listify(parse_query("select[0]=id&select[1]=updatedTime"));
        assert_eq!(v, json!({"select":["id","updatedTime"]}));
    }
}
