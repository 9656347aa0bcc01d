import RocksDB
import YidangModel

/// Writes the log's own indexes (the subject index and the idempotency keys) again from the
/// log: what a bulk load that held them (``HeldLogIndexes``) and stopped before its end
/// never wrote.
///
/// The rebuild of the projection runs it first when it finds a load's marker (the indexes
/// were held, or a group's indexes were ingested without its log entries: see
/// `Keys.loadMarkerHeldIndexes`): the replay's refolds read the subject index, and the
/// marker stays until that rebuild completes, so a process that stops meanwhile leaves it to
/// the next one. Running it twice leaves the same indexes.
enum LogIndexRebuild {
    /// Deletes both indexes and writes one entry per event of the log (a run per stretch of
    /// one subject's consecutive events), `batchSize` events a batch, the last one synced.
    /// - Throws: ``RocksDBError`` when the log cannot be read or a batch written;
    ///   ``BinaryDecodingError`` for an event that does not decode.
    static func rebuild(database: Database, configuration: Configuration, batchSize: Int = 20_000) throws {
        let clear = WriteBatch()
        clear.deleteRange(from: [Keys.subjectIndex], to: [Keys.idempotency + 1])
        try database.write(clear, sync: false)
        let reader = StoreReader(database: database, configuration: configuration)
        var batch = WriteBatch()
        var inBatch = 0
        var run: SubjectRun?
        try reader.forEachEvent(payload: false) { event in
            if let done = SubjectRun.add(event.subject, event.position, to: &run) { batch.put(done.key, done.value) }
            batch.put(Keys.idempotencyKey(source: event.source, id: event.id), Keys.be(event.position))
            inBatch += 1
            if inBatch == batchSize {
                // Unsynced: the last batch's sync makes every earlier one durable with it.
                try database.write(batch, sync: false)
                batch = WriteBatch()
                inBatch = 0
            }
        }
        if let done = run { batch.put(done.key, done.value) }
        try database.write(batch, sync: true)
    }
}
