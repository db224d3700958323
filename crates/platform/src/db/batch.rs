//! Multi-row statements in a few fixed shapes.

/// `rows` cut into chunks of `max` rows, then of the powers of two that make up the rest
/// (1,000 then 512, 64, 8, 1 for 1,585 rows, say).
///
/// Both databases cache a prepared statement per SQL text. A batch cut into `max`-row
/// chunks ends with a chunk of any size, a new text every time: prepared once, used once,
/// and kept in the cache; for a statement with thousands of parameters that costs a
/// parse and real memory per batch. With these chunks a statement has at most a dozen
/// shapes, each prepared once per connection and reused.
pub fn fixed_chunks<T>(rows: &[T], max: usize) -> impl Iterator<Item = &[T]> {
    let max = max.max(1);
    let mut rest = rows;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let size = if rest.len() >= max {
            max
        } else {
            1 << rest.len().ilog2()
        };
        let (chunk, tail) = rest.split_at(size);
        rest = tail;
        Some(chunk)
    })
}

#[cfg(test)]
mod tests {
    use super::fixed_chunks;

    #[test]
    fn a_batch_is_cut_into_full_chunks_then_powers_of_two() {
        let rows: Vec<u32> = (0..1_585).collect();
        let sizes: Vec<usize> = fixed_chunks(&rows, 1_000).map(<[u32]>::len).collect();
        assert_eq!(sizes, [1_000, 512, 64, 8, 1]);
        let rejoined: Vec<u32> = fixed_chunks(&rows, 1_000).flatten().copied().collect();
        assert_eq!(rejoined, rows);
        assert_eq!(fixed_chunks(&rows[..0], 1_000).count(), 0);
        let even: Vec<u32> = (0..2_000).collect();
        assert_eq!(
            fixed_chunks(&even, 1_000)
                .map(<[u32]>::len)
                .collect::<Vec<_>>(),
            [1_000, 1_000]
        );
    }
}
