//! The reference engine's prefix cache, modelled on vLLM's block cache: a prompt's tokens are
//! cut into full blocks, each block named by a hash of itself and every block before it, and
//! a request reuses the longest run of leading blocks already cached. At least one prompt
//! token is always computed (as vLLM does), so a prompt that is cached whole still reports
//! one block less. Blocks live in an LRU of a fixed number of tokens. Prefill costs only
//! the tokens that were not cached.

use std::collections::{BTreeMap, HashMap};
use std::hash::{Hash, Hasher};

/// An LRU of prompt blocks.
pub struct PrefixCache {
    block: usize,
    capacity: usize,
    /// Block hash -> last use.
    used: HashMap<u64, u64>,
    /// Last use -> block hash (eviction order).
    order: BTreeMap<u64, u64>,
    tick: u64,
}

impl PrefixCache {
    /// A cache of `capacity_tokens` in blocks of `block` tokens (at least one block).
    pub fn new(block: usize, capacity_tokens: usize) -> Self {
        let block = block.max(1);
        Self {
            block,
            capacity: (capacity_tokens / block).max(1),
            used: HashMap::new(),
            order: BTreeMap::new(),
            tick: 0,
        }
    }

    /// Look `tokens` up and cache its full blocks; returns how many leading tokens were cached.
    pub fn admit(&mut self, tokens: &[u8]) -> u64 {
        if tokens.is_empty() {
            return 0;
        }
        let mut h = std::collections::hash_map::DefaultHasher::new();
        let mut hit = true;
        let mut cached = 0usize;
        // The last token is always computed: only blocks that end before it can be reused.
        let reusable = (tokens.len() - 1) / self.block;
        for (i, chunk) in tokens.chunks_exact(self.block).enumerate() {
            chunk.hash(&mut h);
            let key = h.finish();
            if hit && i < reusable && self.used.contains_key(&key) {
                cached += self.block;
            } else {
                hit = false;
            }
            self.touch(key);
        }
        cached as u64
    }

    fn touch(&mut self, key: u64) {
        self.tick += 1;
        if let Some(old) = self.used.insert(key, self.tick) {
            self.order.remove(&old);
        }
        self.order.insert(self.tick, key);
        while self.used.len() > self.capacity {
            let Some((_, victim)) = self.order.pop_first() else {
                break;
            };
            self.used.remove(&victim);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reuses_leading_full_blocks_only() {
        let mut c = PrefixCache::new(4, 1024);
        assert_eq!(c.admit(b"abcdefghij"), 0);
        // Same first two blocks, then different: 8 tokens cached.
        assert_eq!(c.admit(b"abcdefghXYZ"), 8);
        // The same prompt again: its last token is computed, so one block less than whole.
        assert_eq!(c.admit(b"abcdefgh"), 4);
        // A different first block: nothing, even though later blocks match.
        assert_eq!(c.admit(b"Xbcdefghij"), 0);
        assert_eq!(c.admit(b""), 0);
    }

    #[test]
    fn least_recently_used_blocks_are_evicted() {
        let mut c = PrefixCache::new(2, 4); // two blocks
        c.admit(b"aabbX");
        c.admit(b"ccddX"); // evicts aa and bb
        assert_eq!(c.admit(b"aabbX"), 0);
        assert_eq!(c.admit(b"aabbX"), 4);
    }
}
