//! The archive store. For now it holds the exchange log: every handshake and request the
//! endpoint sees, accepted or not, with the reasons. Documents, versions and registers join
//! it in the same SQLite file (one transaction per accepted request).

mod exchange_log;
mod store;

pub use exchange_log::{ExchangeKind, ExchangeLog, ExchangeRecord, LogError, StoredExchange};
pub use store::{ArchiveStore, StoreError, StoredDocument};
