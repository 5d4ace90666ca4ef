//! The archive store. For now it holds the exchange log: every handshake and request the
//! endpoint sees, accepted or not, with the reasons. Documents, versions and registers join
//! it in the same SQLite file (one transaction per accepted request).

mod exchange_log;
mod store;

pub use exchange_log::{ExchangeKind, ExchangeLog, ExchangeRecord, LogError, StoredExchange};
pub use store::{ArchiveStore, StoreError, StoredDocument};

use crate::validate::ArchivedDocument;

/// What the archive needs from a document store. SQLite ([`ArchiveStore`]) is the embedded
/// default; a shared PostgreSQL store for multi-instance test environments can implement the
/// same trait.
pub trait DocumentStore: Send + Sync {
    /// Stores a document with its message in one transaction; refuses a replayed message id
    /// or an already archived document version.
    fn archive(
        &self,
        message: (&str, &str),
        sender: &str,
        raw: &[u8],
        doc: &ArchivedDocument,
        at: time::OffsetDateTime,
    ) -> Result<(), StoreError>;
    /// The newest version of a document.
    fn get(&self, document_oid: &str) -> Result<Option<StoredDocument>, StoreError>;
    /// How many documents are archived.
    fn count(&self) -> Result<u64, StoreError>;
}

impl DocumentStore for ArchiveStore {
    fn archive(
        &self,
        message: (&str, &str),
        sender: &str,
        raw: &[u8],
        doc: &ArchivedDocument,
        at: time::OffsetDateTime,
    ) -> Result<(), StoreError> {
        ArchiveStore::archive(self, message, sender, raw, doc, at)
    }
    fn get(&self, document_oid: &str) -> Result<Option<StoredDocument>, StoreError> {
        ArchiveStore::get(self, document_oid)
    }
    fn count(&self) -> Result<u64, StoreError> {
        ArchiveStore::count(self)
    }
}
