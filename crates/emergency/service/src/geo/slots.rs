//! Dense `u32` slots for keys (volunteer or AED ids): the spatial index stores slots only.

use std::collections::HashMap;

/// Dense `u32` slots for volunteer ids.
#[derive(Debug, Default)]
pub struct SlotMap<K: std::hash::Hash + Eq + Clone> {
    by_key: HashMap<K, u32>,
    keys: Vec<K>,
}

impl<K: std::hash::Hash + Eq + Clone> SlotMap<K> {
    pub fn new() -> Self {
        SlotMap {
            by_key: HashMap::new(),
            keys: Vec::new(),
        }
    }
    /// The slot of `k`, assigned on first sight.
    pub fn slot<Q>(&mut self, k: &Q) -> u32
    where
        K: std::borrow::Borrow<Q>,
        Q: std::hash::Hash + Eq + ToOwned<Owned = K> + ?Sized,
    {
        if let Some(&s) = self.by_key.get(k) {
            return s;
        }
        let s = self.keys.len() as u32;
        self.keys.push(k.to_owned());
        self.by_key.insert(k.to_owned(), s);
        s
    }
    pub fn get<Q>(&self, k: &Q) -> Option<u32>
    where
        K: std::borrow::Borrow<Q>,
        Q: std::hash::Hash + Eq + ?Sized,
    {
        self.by_key.get(k).copied()
    }
    pub fn key(&self, slot: u32) -> Option<&K> {
        self.keys.get(slot as usize)
    }
    pub fn len(&self) -> usize {
        self.keys.len()
    }
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slot_map() {
        let mut m: SlotMap<String> = SlotMap::new();
        assert_eq!(m.slot(&"a".to_string()), 0);
        assert_eq!(m.slot(&"b".to_string()), 1);
        assert_eq!(m.slot(&"a".to_string()), 0);
        assert_eq!(m.key(1).map(String::as_str), Some("b"));
        assert_eq!(m.get(&"c".to_string()), None);
        assert_eq!(m.len(), 2);
    }
}
