// What the scheduler writes to its replicated log: Aurora 0.22's storage.thrift, restated with our comments.
//
// Field ids and types follow Aurora's, so an entry reads the same way in both; names are Aurora's so that
// readers find what they know. Never renumber or retype a field; retire an id instead of reusing it. Ids
// Aurora retired before 0.22 (Op 3/4/11/12/13, Snapshot 2/7/9/11/12, the lock structs) stay unused here.
// Additions of ours, at id 100 and up so they never meet an id of Aurora's: Snapshot.schemaVersion (100), so a
// snapshot says which schema wrote it as a Transaction does; SaveCronJob.lastRunMs and StoredCronJob.lastRunMs
// (100), the cron run the leader handled last (docs/scheduler.md "Cron"). Older readers skip them like any
// unknown field.
//
// Python code is generated from this file by `make gen` into scheduler/storage/gen (never edit it).

include "../../thermos_executor/aurora_api/aurora.thrift"

namespace py scheduler.storage.gen

// ---------------------------------------------------------------- ops: one storage mutation each

struct SaveFrameworkId {
  1: string id
}

/** Creates or replaces the cron job of jobConfig.key. */
struct SaveCronJob {
  2: aurora.JobConfiguration jobConfig
  /**
   * Ours: epoch ms of the latest cron run handled (fired, or skipped by CANCEL_NEW), or of the moment the
   * schedule was saved; runs due after it are still to fire. Written in the same transaction as the tasks a
   * run creates, so a new leader neither repeats nor skips a run. Unset (Aurora's entries): counted from
   * the leader's promotion.
   */
  100: optional i64 lastRunMs
}

/** Deletes the cron job of jobKey. */
struct RemoveJob {
  2: aurora.JobKey jobKey
}

/** Creates or replaces tasks, by assignedTask.taskId. */
struct SaveTasks {
  1: set<aurora.ScheduledTask> tasks
}

struct RemoveTasks {
  1: set<string> taskIds
}

struct SaveQuota {
  1: string role
  2: aurora.ResourceAggregate quota
}

struct RemoveQuota {
  1: string role
}

/** Creates or replaces the attributes of hostAttributes.host (an unset mode keeps the stored one). */
struct SaveHostAttributes {
  1: aurora.HostAttributes hostAttributes
}

/** Creates or replaces a job update's definition (its events are kept). */
struct SaveJobUpdate {
  1: aurora.JobUpdate jobUpdate
}

/** A job update with its history, as a snapshot carries it. */
struct StoredJobUpdateDetails {
  1: aurora.JobUpdateDetails details
}

struct SaveJobUpdateEvent {
  1: aurora.JobUpdateEvent event
  3: aurora.JobUpdateKey key
}

struct SaveJobInstanceUpdateEvent {
  1: aurora.JobInstanceUpdateEvent event
  3: aurora.JobUpdateKey key
}

/** Written by Aurora's update pruner before removeJobUpdate existed; replay ignores it. */
struct PruneJobUpdateHistory {
  1: i32 perJobRetainCount
  2: i64 historyPruneThresholdMs
}

struct RemoveJobUpdates {
  2: set<aurora.JobUpdateKey> keys
}

struct SaveHostMaintenanceRequest {
  1: aurora.HostMaintenanceRequest hostMaintenanceRequest
}

struct RemoveHostMaintenanceRequest {
  1: string host
}

/** Exactly one field is set. */
union Op {
  1: SaveFrameworkId saveFrameworkId
  2: SaveCronJob saveCronJob
  5: RemoveJob removeJob
  6: SaveTasks saveTasks
  7: RemoveTasks removeTasks
  8: SaveQuota saveQuota
  9: RemoveQuota removeQuota
  10: SaveHostAttributes saveHostAttributes
  14: SaveJobUpdate saveJobUpdate
  15: SaveJobUpdateEvent saveJobUpdateEvent
  16: SaveJobInstanceUpdateEvent saveJobInstanceUpdateEvent
  17: PruneJobUpdateHistory pruneJobUpdateHistory
  18: RemoveJobUpdates removeJobUpdate
  19: SaveHostMaintenanceRequest saveHostMaintenanceRequest
  20: RemoveHostMaintenanceRequest removeHostMaintenanceRequest
}

/**
 * The schema this code writes. Raise it on any change a older reader would get wrong (not for a new
 * optional field such readers may skip); a reader refuses entries of a newer version.
 */
const i32 CURRENT_SCHEMA_VERSION = 1

/** Mutations applied together or not at all: one log entry per storage write. */
struct Transaction {
  1: list<Op> ops
  2: i32 schemaVersion
}

// ---------------------------------------------------------------- snapshots

struct StoredCronJob {
  3: aurora.JobConfiguration jobConfiguration
  /** Ours: as SaveCronJob.lastRunMs. */
  100: optional i64 lastRunMs
}

struct SchedulerMetadata {
  1: string frameworkId
  /** Free-form facts about the scheduler that wrote the snapshot (version, ...). */
  8: map<string, string> details
}

struct QuotaConfiguration {
  1: string role
  2: aurora.ResourceAggregate quota
}

/** The whole stored state at one moment: replay deletes everything, then loads this. */
struct Snapshot {
  /** When it was taken, epoch ms. */
  1: i64 timestamp
  3: set<aurora.HostAttributes> hostAttributes
  4: set<aurora.ScheduledTask> tasks
  5: set<StoredCronJob> cronJobs
  6: SchedulerMetadata schedulerMetadata
  8: set<QuotaConfiguration> quotaConfigurations
  10: set<StoredJobUpdateDetails> jobUpdateDetails
  13: set<aurora.HostMaintenanceRequest> hostMaintenanceRequests
  /** Ours (see the top of this file). */
  100: i32 schemaVersion
}

/** A ScheduledTask whose assignedTask.task is left out and named by index into taskConfigs instead. */
struct DeduplicatedScheduledTask {
  1: aurora.ScheduledTask partialScheduledTask
  2: i32 taskConfigId
}

/**
 * A Snapshot with each distinct TaskConfig stored once: partialSnapshot has no tasks; they are
 * partialTasks with their configs put back from taskConfigs.
 */
struct DeduplicatedSnapshot {
  1: Snapshot partialSnapshot
  2: list<DeduplicatedScheduledTask> partialTasks
  3: list<aurora.TaskConfig> taskConfigs
}

// ---------------------------------------------------------------- framing

/** Starts a framed entry: chunkCount chunks follow whose data, joined, has this MD5 digest. */
struct FrameHeader {
  1: i32 chunkCount
  2: binary checksum
}

struct FrameChunk {
  2: binary data
}

/**
 * An entry too big for one log entry is written as a header and its chunks, in one append. A header
 * followed by fewer chunks than it announces is an append that failed part way: readers skip it.
 */
union Frame {
  1: FrameHeader header
  2: FrameChunk chunk
}

// ---------------------------------------------------------------- the log entry

union LogEntry {
  1: Snapshot snapshot
  2: Transaction transaction
  /** Skipped by readers, whatever its value. */
  3: bool noop
  4: Frame frame
  /** A LogEntry, Thrift-binary then deflated (zlib); never a frame inside. */
  5: binary deflatedEntry
  6: DeduplicatedSnapshot deduplicatedSnapshot
}
