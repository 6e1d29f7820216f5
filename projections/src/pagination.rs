//! Cursor pagination for every list: stable opaque cursors made of the
//! list's sort key (base64url of its bytes), a clamped page size, and Relay
//! style page information.

/// Page size when the caller gives none.
pub const DEFAULT_PAGE_SIZE: usize = 50;
/// The largest page a caller can ask for (larger `first` values are clamped).
pub const MAX_PAGE_SIZE: usize = 500;

/// What page the caller asks for: up to `first` items after the `after` cursor.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PageRequest {
    /// How many items (default [`DEFAULT_PAGE_SIZE`], clamped to `1..=MAX_PAGE_SIZE`).
    pub first: Option<usize>,
    /// The cursor of the last item already seen.
    pub after: Option<String>,
}

impl PageRequest {
    /// The first `n` items.
    pub fn first(n: usize) -> Self {
        PageRequest {
            first: Some(n),
            after: None,
        }
    }

    /// The next `n` items after `cursor`.
    pub fn after(n: usize, cursor: impl Into<String>) -> Self {
        PageRequest {
            first: Some(n),
            after: Some(cursor.into()),
        }
    }

    /// The page size after defaulting and clamping.
    pub fn limit(&self) -> usize {
        self.first
            .unwrap_or(DEFAULT_PAGE_SIZE)
            .clamp(1, MAX_PAGE_SIZE)
    }
}

/// One item of a page with its cursor.
#[derive(Clone, Debug, PartialEq)]
pub struct Edge<T> {
    /// Opaque cursor of this item: pass it as `after` to continue behind it.
    pub cursor: String,
    /// The item.
    pub node: T,
}

/// One page of a list.
#[derive(Clone, Debug, PartialEq)]
pub struct Page<T> {
    /// The items, in list order.
    pub edges: Vec<Edge<T>>,
    /// Whether more items follow the last one.
    pub has_next_page: bool,
    /// Whether items precede the first one (true when `after` was given).
    pub has_previous_page: bool,
    /// How many items the whole filtered list holds, when known cheaply.
    pub total_count: Option<u64>,
}

impl<T> Page<T> {
    /// The cursor of the last item, if any.
    pub fn end_cursor(&self) -> Option<&str> {
        self.edges.last().map(|e| e.cursor.as_str())
    }

    /// The cursor of the first item, if any.
    pub fn start_cursor(&self) -> Option<&str> {
        self.edges.first().map(|e| e.cursor.as_str())
    }

    /// The items without their cursors.
    pub fn nodes(&self) -> impl Iterator<Item = &T> {
        self.edges.iter().map(|e| &e.node)
    }

    /// Maps every item, keeping the cursors.
    pub fn map<U>(self, mut f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            edges: self
                .edges
                .into_iter()
                .map(|e| Edge {
                    cursor: e.cursor,
                    node: f(e.node),
                })
                .collect(),
            has_next_page: self.has_next_page,
            has_previous_page: self.has_previous_page,
            total_count: self.total_count,
        }
    }
}

/// A cursor that is not one this list produced.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid cursor")]
pub struct InvalidCursor;

/// A sort key that can travel inside a cursor.
pub trait CursorKey: Ord + Sized {
    /// Appends the key's bytes.
    fn write_bytes(&self, out: &mut Vec<u8>);
    /// Reads a key from the front of `bytes`, returning the rest.
    fn read_bytes(bytes: &[u8]) -> Option<(Self, &[u8])>;
}

macro_rules! int_cursor_key {
    ($($t:ty),*) => {$(
        impl CursorKey for $t {
            fn write_bytes(&self, out: &mut Vec<u8>) {
                out.extend_from_slice(&self.to_be_bytes());
            }
            fn read_bytes(bytes: &[u8]) -> Option<(Self, &[u8])> {
                const N: usize = std::mem::size_of::<$t>();
                let head: [u8; N] = bytes.get(..N)?.try_into().ok()?;
                Some((<$t>::from_be_bytes(head), &bytes[N..]))
            }
        }
    )*};
}
int_cursor_key!(u8, u32, u64, i64, u128);

impl CursorKey for String {
    fn write_bytes(&self, out: &mut Vec<u8>) {
        (self.len() as u32).write_bytes(out);
        out.extend_from_slice(self.as_bytes());
    }
    fn read_bytes(bytes: &[u8]) -> Option<(Self, &[u8])> {
        let (len, rest) = u32::read_bytes(bytes)?;
        let len = usize::try_from(len).ok()?;
        let s = std::str::from_utf8(rest.get(..len)?).ok()?;
        Some((s.to_owned(), &rest[len..]))
    }
}

impl<A: CursorKey, B: CursorKey> CursorKey for (A, B) {
    fn write_bytes(&self, out: &mut Vec<u8>) {
        self.0.write_bytes(out);
        self.1.write_bytes(out);
    }
    fn read_bytes(bytes: &[u8]) -> Option<(Self, &[u8])> {
        let (a, rest) = A::read_bytes(bytes)?;
        let (b, rest) = B::read_bytes(rest)?;
        Some(((a, b), rest))
    }
}

impl<A: CursorKey, B: CursorKey, C: CursorKey> CursorKey for (A, B, C) {
    fn write_bytes(&self, out: &mut Vec<u8>) {
        self.0.write_bytes(out);
        self.1.write_bytes(out);
        self.2.write_bytes(out);
    }
    fn read_bytes(bytes: &[u8]) -> Option<(Self, &[u8])> {
        let (a, rest) = A::read_bytes(bytes)?;
        let (b, rest) = B::read_bytes(rest)?;
        let (c, rest) = C::read_bytes(rest)?;
        Some(((a, b, c), rest))
    }
}

/// Tags every cursor so a random string is rejected rather than misread.
const CURSOR_TAG: u8 = 0xC1;

/// Encodes a sort key into an opaque cursor.
pub fn encode_cursor<K: CursorKey>(key: &K) -> String {
    let mut bytes = vec![CURSOR_TAG];
    key.write_bytes(&mut bytes);
    base64url::encode(&bytes)
}

/// Decodes a cursor made by [`encode_cursor`] for the same key type.
pub fn decode_cursor<K: CursorKey>(cursor: &str) -> Result<K, InvalidCursor> {
    let bytes = base64url::decode(cursor).ok_or(InvalidCursor)?;
    match bytes.split_first() {
        Some((&CURSOR_TAG, rest)) => match K::read_bytes(rest) {
            Some((key, [])) => Ok(key),
            _ => Err(InvalidCursor),
        },
        _ => Err(InvalidCursor),
    }
}

/// Pages through `items`, which must be sorted by `key` in list order
/// (ascending, or descending with `descending = true`) and already filtered.
/// Items at or before the `after` cursor are skipped.
pub fn paginate<T, K: CursorKey>(
    items: impl IntoIterator<Item = T>,
    key: impl Fn(&T) -> K,
    descending: bool,
    request: &PageRequest,
) -> Result<Page<T>, InvalidCursor> {
    let after: Option<K> = request.after.as_deref().map(decode_cursor).transpose()?;
    let limit = request.limit();
    let mut edges = Vec::with_capacity(limit.min(64));
    let mut has_next_page = false;
    let mut total = 0u64;
    for item in items {
        total += 1;
        let k = key(&item);
        let behind = match &after {
            Some(a) if descending => k >= *a,
            Some(a) => k <= *a,
            None => false,
        };
        if behind {
            continue;
        }
        if edges.len() == limit {
            has_next_page = true;
            continue;
        }
        edges.push(Edge {
            cursor: encode_cursor(&k),
            node: item,
        });
    }
    Ok(Page {
        edges,
        has_next_page,
        has_previous_page: after.is_some(),
        total_count: Some(total),
    })
}

/// A minimal URL-safe base64 without padding (cursors only).
mod base64url {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

    pub fn encode(bytes: &[u8]) -> String {
        let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
        for chunk in bytes.chunks(3) {
            let b = [
                chunk[0],
                chunk.get(1).copied().unwrap_or(0),
                chunk.get(2).copied().unwrap_or(0),
            ];
            let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
            for i in 0..=chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            }
        }
        out
    }

    fn value(c: u8) -> Option<u32> {
        ALPHABET.iter().position(|&a| a == c).map(|p| p as u32)
    }

    pub fn decode(text: &str) -> Option<Vec<u8>> {
        let mut out = Vec::with_capacity(text.len() * 3 / 4);
        for chunk in text.as_bytes().chunks(4) {
            if chunk.len() == 1 {
                return None;
            }
            let mut n = 0u32;
            for (i, &c) in chunk.iter().enumerate() {
                n |= value(c)? << (18 - 6 * i);
            }
            for i in 0..chunk.len() - 1 {
                out.push((n >> (16 - 8 * i)) as u8);
            }
        }
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trips_composite_keys() {
        let key = (-5i64, 42u128, "web".to_string());
        let cursor = encode_cursor(&key);
        assert_eq!(decode_cursor::<(i64, u128, String)>(&cursor), Ok(key));
    }

    #[test]
    fn foreign_or_damaged_cursor_is_rejected() {
        assert_eq!(decode_cursor::<u64>("not a cursor!"), Err(InvalidCursor));
        let other = encode_cursor(&(1u64, 2u64));
        assert_eq!(decode_cursor::<u64>(&other), Err(InvalidCursor));
        assert_eq!(decode_cursor::<u64>(""), Err(InvalidCursor));
    }

    #[test]
    fn pages_walk_the_list_without_gaps_or_repeats() {
        let items: Vec<u64> = (0..7).collect();
        let p1 = paginate(items.clone(), |x| *x, false, &PageRequest::first(3)).unwrap();
        assert_eq!(p1.nodes().copied().collect::<Vec<_>>(), vec![0, 1, 2]);
        assert!(p1.has_next_page);
        assert!(!p1.has_previous_page);
        assert_eq!(p1.total_count, Some(7));
        let c = p1.end_cursor().unwrap().to_string();
        let p2 = paginate(items.clone(), |x| *x, false, &PageRequest::after(3, c)).unwrap();
        assert_eq!(p2.nodes().copied().collect::<Vec<_>>(), vec![3, 4, 5]);
        let c = p2.end_cursor().unwrap().to_string();
        let p3 = paginate(items, |x| *x, false, &PageRequest::after(3, c)).unwrap();
        assert_eq!(p3.nodes().copied().collect::<Vec<_>>(), vec![6]);
        assert!(!p3.has_next_page);
        assert!(p3.has_previous_page);
    }

    #[test]
    fn descending_lists_continue_below_the_cursor() {
        let items: Vec<u64> = (0..5).rev().collect();
        let p1 = paginate(items.clone(), |x| *x, true, &PageRequest::first(2)).unwrap();
        let c = p1.end_cursor().unwrap().to_string();
        let p2 = paginate(items, |x| *x, true, &PageRequest::after(2, c)).unwrap();
        assert_eq!(p2.nodes().copied().collect::<Vec<_>>(), vec![2, 1]);
    }

    #[test]
    fn page_size_is_defaulted_and_clamped() {
        assert_eq!(PageRequest::default().limit(), DEFAULT_PAGE_SIZE);
        assert_eq!(PageRequest::first(0).limit(), 1);
        assert_eq!(PageRequest::first(10_000).limit(), MAX_PAGE_SIZE);
    }

    #[test]
    fn base64url_round_trips_every_length() {
        for len in 0..10u8 {
            let bytes: Vec<u8> = (0..len).map(|i| i.wrapping_mul(97)).collect();
            assert_eq!(base64url::decode(&base64url::encode(&bytes)), Some(bytes));
        }
    }
}
