//! An in-memory store, for tests and one-shot runs.

use std::sync::Mutex;

use super::{Error, Record, Store};

/// Records kept in memory, in insertion order.
#[derive(Debug, Default)]
pub struct MemoryStore {
    records: Mutex<Vec<Record>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Every record, oldest first.
    pub fn all(&self) -> Vec<Record> {
        self.records
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

impl Store for MemoryStore {
    fn record(&self, r: &Record) -> Result<(), Error> {
        r.validate()?;
        self.records
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(r.clone());
        Ok(())
    }

    fn find(&self, id: &str) -> Result<Vec<Record>, Error> {
        Ok(self
            .records
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .filter(|r| r.matches(id))
            .cloned()
            .collect())
    }
}
